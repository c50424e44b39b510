"""`audiofic render` end to end: the seed spoken for real, read back by independent tools.

The seed is rendered once per module with the real engine (eSpeak NG through pyttsx3) in a
subprocess, and the episode is then checked with the system's ffprobe/ffmpeg (not the
bundled binary the tool uses), with mutagen read directly, with Pillow and by parsing the
sidecars. Everything that is about layout rather than speech (options, chapters, splitting,
file names, song excerpts, the clip cache) uses the deterministic `--engine test` in-process.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3, CTOCFlags
from mutagen.mp3 import MP3, BitrateMode
from PIL import Image

from audiobook.cli import main

from .audio_checks import FFMPEG, FFPROBE, ebur128, ffprobe, needs_ffprobe

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "input" / "like-we-used-to-letter.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "render"
CHAPTERED = FIXTURES / "two-chapters.txt"
SHORT_LETTER = FIXTURES / "short-letter.txt"

# The seed's chapter marks, in play order: the podfic header, the notes, the letter, the
# end notes, one interlude per song of the author's playlist, and the credits.
GOLDEN_CHAPTERS = [
    "Introduction",
    "Author's note",
    "The letter",
    "End notes",
    "Interlude: Like We Used To",
    "Interlude: Miserable At Best",
    "Interlude: The Memory",
    "Interlude: Forever and Always",
    "Interlude: Last Kiss",
    "Interlude: When You're Gone",
    "Interlude: Wish You Were Here",
    "Interlude: What About Me",
    "Interlude: I'm Not That Girl",
    "Interlude: Another Now",
    "Credits",
]
FINAL_SUFFIXES = (".mp3", ".vtt", ".jpg", ".chapters.json")
SAFE_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.mp3|\.vtt|\.jpg|\.chapters\.json)$")


# ---- helpers ------------------------------------------------------------------------------


def run_cli(*args: str):
    """The CLI in-process (for the test engine): returns click's Result."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def render_test_engine(*args, out: Path, cache: Path) -> dict:
    """`audiofic render ... --engine test --json` in-process; the parsed JSON document."""
    result = run_cli("render", *args, "-o", out, "--cache-dir", cache, "--engine", "test", "-j", "1", "--json", "-q")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def words(text: str) -> list[str]:
    """Lower-case words with punctuation stripped (so "-Alec" and "Alec," both give "alec")."""
    return re.sub(r"[^\w\s]", "", text.lower()).split()


def contains_run(haystack: list[str], needle: list[str]) -> bool:
    """True if `needle` occurs in `haystack` as one contiguous run."""
    n = len(needle)
    first = needle[0]
    return any(haystack[i:i + n] == needle for i, word in enumerate(haystack) if word == first)


def vtt_cues(path: Path) -> list[tuple[float, float, str]]:
    """(start s, end s, text) per cue of a WebVTT file, parsed here (not with our writer)."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT")
    cues = []
    for block in re.split(r"\n\s*\n", text.strip())[1:]:
        lines = block.splitlines()
        timing = next(i for i, line in enumerate(lines) if "-->" in line)
        start, end = (_seconds(t) for t in lines[timing].split("-->"))
        body = "\n".join(lines[timing + 1:]).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append((start, end, body))
    return cues


def _seconds(stamp: str) -> float:
    h, m, s = stamp.strip().split()[0].split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def probe_chapters(mp3: Path) -> list[str]:
    return [c["tags"]["title"] for c in ffprobe(mp3)["chapters"]]


def decode_mono(path: Path, start: float, seconds: float, rate: int = 44100) -> np.ndarray:
    """A stretch of the file as float samples, decoded by the system ffmpeg."""
    raw = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-ss", f"{start:.3f}", "-t", f"{seconds:.3f}", "-i", str(path),
         "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0


def top_level_files(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if not p.name.startswith("."))


# ---- the seed, spoken for real -------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_render(tmp_path_factory):
    """Render the seed once with the real engine through the command line; share the result."""
    base = tmp_path_factory.mktemp("seed")
    out, cache = base / "out", base / "cache"
    proc = subprocess.run(
        [sys.executable, "-m", "audiobook.cli", "render", str(SEED), "-o", str(out), "--cache-dir", str(cache), "--json", "-q"],
        capture_output=True, text=True, timeout=300, cwd=base,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (episode,) = doc["outputs"]
    mp3 = Path(episode["mp3"])
    probe = ffprobe(mp3) if FFPROBE else None
    return {"doc": doc, "episode": episode, "out": out, "mp3": mp3, "probe": probe}


@pytest.mark.slow
def test_seed_writes_four_files_under_final_names(seed_render):
    out = seed_render["out"]
    stem = seed_render["mp3"].name[: -len(".mp3")]
    assert stem == "a-letter-to-magnus"
    assert [p.name for p in top_level_files(out)] == sorted(stem + s for s in FINAL_SUFFIXES)
    assert not list(out.glob(".audiofic-partial-*")), "the work folder is removed after a render"
    assert seed_render["doc"]["speech"]["synthesized"] > 0
    assert seed_render["doc"]["speech"]["cached"] == 0


@pytest.mark.slow
@needs_ffprobe
def test_seed_duration_matches_json_and_word_count(seed_render):
    duration = float(seed_render["probe"]["format"]["duration"])
    assert duration == pytest.approx(seed_render["episode"]["duration_s"], abs=0.1)
    n_words = len(words(SEED.read_text(encoding="utf-8")))
    assert 1150 <= n_words <= 1300
    nominal = n_words / 160 * 60   # ~7.5 min at 160 wpm; eSpeak runs faster, pauses and interludes add
    assert 0.6 * nominal < duration < 1.5 * nominal


@pytest.mark.slow
@needs_ffprobe
def test_seed_chapters_golden_and_contiguous(seed_render):
    probe = seed_render["probe"]
    chapters = probe["chapters"]
    assert [c["tags"]["title"] for c in chapters] == GOLDEN_CHAPTERS
    assert [c["title"] for c in seed_render["episode"]["chapters"]] == GOLDEN_CHAPTERS
    assert float(chapters[0]["start_time"]) == 0.0
    for a, b in zip(chapters, chapters[1:]):
        assert float(a["end_time"]) == pytest.approx(float(b["start_time"]), abs=0.001)
        assert float(a["end_time"]) > float(a["start_time"])
    assert float(chapters[-1]["end_time"]) == pytest.approx(float(probe["format"]["duration"]), abs=0.1)


@pytest.mark.slow
@needs_ffprobe
def test_seed_tags(seed_render):
    tags = {k.lower(): v for k, v in seed_render["probe"]["format"]["tags"].items()}
    assert tags["title"] == "A Letter to Magnus"
    assert tags["artist"] == "Unknown"
    assert tags["album"] == "A Letter to Magnus"   # no series in the sidecar: the title
    assert tags["genre"] == "Audiobook"
    assert "track" not in tags                      # the sidecar gives no chapter number
    assert "text-to-speech" in tags["comment"]
    assert "The Mortal Instruments" in tags["comment"]
    assert "Like We Used To - A Rocket To The Moon" in tags["comment"]   # music used is credited
    with open(seed_render["mp3"], "rb") as f:
        assert f.read(4) == b"ID3\x03"


@pytest.mark.slow
@needs_ffprobe
def test_seed_stream_and_cover_picture(seed_render):
    streams = seed_render["probe"]["streams"]
    (audio,) = [s for s in streams if s["codec_type"] == "audio"]
    assert audio["codec_name"] == "mp3"
    assert int(audio["sample_rate"]) == 44100
    assert audio["channels"] == 1
    assert int(audio["bit_rate"]) == 64000
    (picture,) = [s for s in streams if s["codec_type"] == "video"]
    assert picture["codec_name"] == "mjpeg"
    assert picture["disposition"]["attached_pic"] == 1
    assert (picture["width"], picture["height"]) == (1400, 1400)


@pytest.mark.slow
@needs_ffprobe
def test_seed_is_constant_bitrate(seed_render):
    mp3 = seed_render["mp3"]
    sizes = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "a", "-show_entries", "packet=size", "-of", "csv=p=0", str(mp3)],
        capture_output=True, text=True, check=True,
    ).stdout
    sizes = {int(s.strip(",")) for s in sizes.split() if s.strip(",")}
    assert sizes <= {208, 209}, sizes   # 64 kbit/s at 44.1 kHz: 208 bytes a frame, 209 with padding
    info = MP3(mp3).info                # a second reader: the LAME Info header
    assert info.bitrate_mode == BitrateMode.CBR
    # mutagen derives this from the Info frame's byte count; each stretch's encoder starts its
    # frame padding afresh, which costs a byte here and there: well under 1 bit/s
    assert abs(info.bitrate - 64000) <= 2


@pytest.mark.slow
@needs_ffprobe
def test_seed_loudness(seed_render):
    lufs, peak = ebur128(seed_render["mp3"])
    assert abs(lufs - -19.0) <= 1.0, lufs
    assert peak <= -1.0, peak


@pytest.mark.slow
def test_seed_chapters_with_mutagen(seed_render):
    tags = ID3(seed_render["mp3"])
    assert tags.version[:2] == (2, 3)
    (toc,) = tags.getall("CTOC")
    assert toc.flags & CTOCFlags.TOP_LEVEL
    assert toc.flags & CTOCFlags.ORDERED
    chaps = {c.element_id: c for c in tags.getall("CHAP")}
    assert sorted(toc.child_element_ids) == sorted(chaps)       # every CHAP is listed, once
    assert len(toc.child_element_ids) == len(set(toc.child_element_ids))
    ordered = [chaps[i] for i in toc.child_element_ids]
    assert [c.sub_frames["TIT2"].text[0] for c in ordered] == GOLDEN_CHAPTERS
    assert ordered[0].start_time == 0
    for a, b in zip(ordered, ordered[1:]):
        assert a.end_time == b.start_time
    assert ordered[-1].end_time == pytest.approx(MP3(seed_render["mp3"]).info.length * 1000, abs=100)
    (apic,) = tags.getall("APIC")
    assert apic.type == 3 and apic.mime == "image/jpeg"
    assert apic.data == seed_render["mp3"].with_suffix(".jpg").read_bytes()


@pytest.mark.slow
def test_seed_transcript_covers_the_whole_letter(seed_render):
    vtt = Path(seed_render["episode"]["transcript"])
    assert vtt == seed_render["mp3"].with_suffix(".vtt")
    cues = vtt_cues(vtt)
    source = SEED.read_text(encoding="utf-8")
    letter = source[source.index("Dear Magnus"): source.index("Alexander Lightwood") + len("Alexander Lightwood")]
    letter_words = words(letter)
    assert len(letter_words) > 1000
    assert contains_run(words(" ".join(text for _, _, text in cues)), letter_words)
    for _, _, text in cues:
        for line in text.splitlines():
            assert len(line) <= 65, line
    duration = MP3(seed_render["mp3"]).info.length
    previous_end = 0.0
    for start, end, _ in cues:
        assert previous_end <= start < end <= duration + 0.001
        previous_end = end


@pytest.mark.slow
def test_seed_chapters_json_matches_id3(seed_render):
    doc = json.loads(Path(seed_render["episode"]["chapters_json"]).read_text(encoding="utf-8"))
    assert doc["version"] == "1.2.0"
    assert [c["title"] for c in doc["chapters"]] == GOLDEN_CHAPTERS
    tags = ID3(seed_render["mp3"])
    (toc,) = tags.getall("CTOC")
    starts = [tags[f"CHAP:{i}"].start_time / 1000 for i in toc.child_element_ids]
    assert [c["startTime"] for c in doc["chapters"]] == pytest.approx(starts, abs=0.0005)


@pytest.mark.slow
def test_seed_cover_file(seed_render):
    cover = Path(seed_render["episode"]["cover"])
    assert cover == seed_render["mp3"].with_suffix(".jpg")
    assert cover.stat().st_size < 500 * 1024
    with Image.open(cover) as image:
        assert image.format == "JPEG"
        assert image.size == (1400, 1400)


# ---- options (test engine) ---------------------------------------------------------------


@needs_ffprobe
def test_no_header_no_outro(tmp_path):
    doc = render_test_engine(SEED, "--no-header", "--no-outro", out=tmp_path / "out", cache=tmp_path / "cache")
    (episode,) = doc["outputs"]
    titles = probe_chapters(Path(episode["mp3"]))
    assert titles == [t for t in GOLDEN_CHAPTERS if t not in ("Introduction", "Credits")]
    cues = vtt_cues(Path(episode["transcript"]))
    assert not any("Read by text-to-speech" in text or "You have been listening" in text for _, _, text in cues)


@needs_ffprobe
def test_interludes_spread_between_story_chapters(tmp_path):
    doc = render_test_engine(SEED, "--interludes", "spread", out=tmp_path / "out", cache=tmp_path / "cache")
    (episode,) = doc["outputs"]
    titles = probe_chapters(Path(episode["mp3"]))
    interludes = [i for i, t in enumerate(titles) if t.startswith("Interlude: ")]
    story = [i for i, t in enumerate(titles) if t.startswith("The letter")]
    # every song is still there, in the playlist's order
    assert [titles[i] for i in interludes] == [t for t in GOLDEN_CHAPTERS if t.startswith("Interlude: ")]
    # not all at the end: interludes sit between parts of the story
    assert interludes[0] < story[-1]
    assert any(story[0] < i < story[-1] for i in interludes)
    continued = [t for t in titles if t.endswith("(continued)")]
    assert continued and all(t == "The letter (continued)" for t in continued)
    for i in interludes:   # the story resumes after an interlude as "(continued)"
        nxt = titles[i + 1]
        assert nxt.startswith("Interlude: ") or nxt.endswith("(continued)") or nxt in ("End notes", "Credits")
    assert titles[0] == "Introduction" and titles[-1] == "Credits"


@needs_ffprobe
def test_chapter_headings_become_chapter_marks(tmp_path):
    out = tmp_path / "out"
    doc = render_test_engine(CHAPTERED, out=out, cache=tmp_path / "cache")
    (episode,) = doc["outputs"]
    assert [p.suffix for p in top_level_files(out) if p.suffix == ".mp3"] == [".mp3"]
    assert probe_chapters(Path(episode["mp3"])) == ["Introduction", "Chapter 1", "Chapter 2: The Missing Ship", "Credits"]


@needs_ffprobe
def test_gapless_episode_decodes_to_the_duration_it_reports_and_chapters_end_there(tmp_path):
    """The LAME tag trims the encoder's delay and padding: the system ffmpeg decodes exactly
    the samples mutagen reads from the tag, the episode reports that duration (in whole ms),
    and the last chapter ends there."""
    doc = render_test_engine(CHAPTERED, out=tmp_path / "out", cache=tmp_path / "cache")
    (episode,) = doc["outputs"]
    mp3 = Path(episode["mp3"])
    pcm = subprocess.run([FFMPEG, "-v", "error", "-i", str(mp3), "-f", "s16le", "-"], capture_output=True, check=True).stdout
    samples = len(pcm) // 2
    assert round(MP3(mp3).info.length * 44100, 6) == samples                  # to the sample
    assert round(episode["duration_s"] * 1000) == round(samples * 1000 / 44100)  # ms: residue under 0.5 ms
    chapters = ffprobe(mp3)["chapters"]
    assert float(chapters[0]["start_time"]) == 0
    assert abs(float(chapters[-1]["end_time"]) - samples / 44100) <= 0.001
    assert episode["chapters"][-1]["end_s"] == episode["duration_s"]


@needs_ffprobe
def test_split_chapters_one_episode_per_chapter(tmp_path):
    out = tmp_path / "out"
    doc = render_test_engine(CHAPTERED, "--split", "chapters", out=out, cache=tmp_path / "cache")
    mp3s = [Path(e["mp3"]) for e in doc["outputs"]]
    assert len(mp3s) == 2
    assert len({m.name for m in mp3s}) == 2
    assert sorted(mp3s) == sorted(out.glob("*.mp3"))
    for mp3 in mp3s:
        assert SAFE_NAME.match(mp3.name), mp3.name
        for suffix in FINAL_SUFFIXES[1:]:
            assert mp3.with_name(mp3.name[:-4] + suffix).is_file()
    tags = [ffprobe(m)["format"]["tags"] for m in mp3s]
    assert [t["track"] for t in tags] == ["1", "2"]
    assert [t["title"] for t in tags] == ["The Keeper - Chapter 1", "The Keeper - Chapter 2: The Missing Ship"]
    assert all(t["album"] == "The Keeper" for t in tags)
    assert "Chapter 2: The Missing Ship" in probe_chapters(mp3s[1])
    assert "Chapter 1" not in probe_chapters(mp3s[1])


def test_title_needing_slugs_gives_safe_names_inside_out(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(SHORT_LETTER, work / "fic.txt")
    (work / "fic.toml").write_text('title = "../../Evil/Name: *<3*"\n', encoding="utf-8")
    out = tmp_path / "deep" / "out"
    before = {p for p in tmp_path.rglob("*")}
    doc = render_test_engine(work / "fic.txt", out=out, cache=tmp_path / "cache")
    names = [p.name for p in top_level_files(out)]
    assert len(names) == 4
    for name in names:
        assert SAFE_NAME.match(name), name
        assert ".." not in name and "/" not in name and "\\" not in name
    (episode,) = doc["outputs"]
    for key in ("mp3", "transcript", "chapters_json", "cover"):
        assert Path(episode[key]).resolve().parent == out.resolve()
    allowed = (tmp_path / "deep", out, tmp_path / "cache")
    created = {p for p in tmp_path.rglob("*")} - before
    assert [p for p in created if p not in allowed and not any(a in p.parents for a in allowed[1:])] == []
    assert not (tmp_path / "Evil").exists() and not (tmp_path.parent / "Evil").exists()
    assert ID3(episode["mp3"])["TIT2"].text[0] == "../../Evil/Name: *<3*"   # the tag keeps the real title


@needs_ffprobe
def test_user_song_file_becomes_an_excerpt(tmp_path):
    work = tmp_path / "work"
    (work / "music").mkdir(parents=True)
    song = work / "music" / "like-we-used-to.mp3"
    subprocess.run(   # 40 s of stereo sine: 440 Hz left, 660 Hz right
        [FFMPEG, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=40",
         "-f", "lavfi", "-i", "sine=frequency=660:duration=40", "-filter_complex", "amerge=inputs=2",
         "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", str(song)],
        check=True,
    )
    assert ffprobe(song)["streams"][0]["channels"] == 2
    shutil.copy(SHORT_LETTER, work / "fic.txt")
    excerpt = 8
    (work / "fic.toml").write_text(
        f'title = "Song Test"\n[interludes]\nexcerpt_seconds = {excerpt}\n'
        '[interludes.files]\n"Like We Used To" = "music/like-we-used-to.mp3"\n',
        encoding="utf-8",
    )
    doc = render_test_engine(work / "fic.txt", out=tmp_path / "out", cache=tmp_path / "cache")
    (episode,) = doc["outputs"]
    mp3 = Path(episode["mp3"])
    chapters = {c["tags"]["title"]: (float(c["start_time"]), float(c["end_time"])) for c in ffprobe(mp3)["chapters"]}
    start, end = chapters["Interlude: Like We Used To"]
    other = chapters["Interlude: Another Now"]          # no file for this song: a sting
    # announcement (a few seconds) + gap + the excerpt + the pause before the next song
    assert excerpt < end - start < excerpt + 8
    assert end - start > (other[1] - other[0]) + 3
    # The excerpt sits at the end of the chapter (before a 0.9 s pause): decode its middle.
    middle = decode_mono(mp3, end - 0.9 - excerpt + 2, excerpt - 4)
    assert middle.size > 44100 * (excerpt - 5)
    rms_db = 20 * np.log10(np.sqrt(np.mean(middle ** 2)) + 1e-12)
    assert rms_db > -35, rms_db                          # audible
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.size)))
    freqs = np.fft.rfftfreq(middle.size, 1 / 44100)
    peak = freqs[np.argmax(spectrum)]
    assert min(abs(peak - 440), abs(peak - 660)) < 5, peak   # it is the user's song, downmixed
    assert (work / "music" / "like-we-used-to.mp3").stat().st_size > 0   # the song is left alone


def test_editing_one_paragraph_resynthesizes_only_it(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    text = SHORT_LETTER.read_text(encoding="utf-8")
    (work / "fic.txt").write_text(text, encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = render_test_engine(work / "fic.txt", out=out, cache=cache)["speech"]
    assert first["cached"] == 0 and first["synthesized"] > 5
    again = render_test_engine(work / "fic.txt", out=out, cache=cache)["speech"]
    assert again == {"synthesized": 0, "cached": first["synthesized"]}
    edited = text.replace("the cat still ignores you", "the dog still ignores you")
    assert edited != text
    (work / "fic.txt").write_text(edited, encoding="utf-8")
    doc = render_test_engine(work / "fic.txt", out=out, cache=cache)
    assert doc["speech"] == {"synthesized": 1, "cached": first["synthesized"] - 1}
    vtt = Path(doc["outputs"][0]["transcript"]).read_text(encoding="utf-8")
    assert "the dog still" in " ".join(vtt.split()) and "the cat still" not in " ".join(vtt.split())


# ---- encoding while speaking: the provisional gain ------------------------------------------


def _loud_notes_quiet_story(tmp_path: Path, monkeypatch) -> Path:
    """A work whose first two minutes (header, author's notes) are read 14 dB louder than the
    five-minute story after them: the gain set from the first minute of speech is far off."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "voices").mkdir()
    (tmp_path / "voices" / "loud.toml").write_text('language = "en"\nvolume = 1.0\n')
    (tmp_path / "voices" / "quiet.toml").write_text('language = "en"\nvolume = 0.2\n')
    sentence = "the rain kept falling on the quiet harbour town while she waited for the boat"
    notes = [f"A/N: {sentence} and this is note {i}, thank you all for reading." for i in range(8)]
    story = [f"{sentence.capitalize()}, said the story in part {i}." * 3 for i in range(40)]
    text = tmp_path / "fic.txt"
    text.write_text("\n\n".join(notes + story) + "\n", encoding="utf-8")
    return text


def _stretch_log(monkeypatch) -> list[tuple[str, int]]:
    """Record ("submit", stretch start) and ("spoken", 0) events of render() in order."""
    from audiobook import master, render

    events: list[tuple[str, int]] = []
    submit, speak = master.StretchEncoder.submit, render.speak

    def logged_submit(self, stretch):
        events.append(("submit", stretch.start))
        return submit(self, stretch)

    def logged_speak(*args, **kwargs):
        try:
            return speak(*args, **kwargs)
        finally:
            events.append(("spoken", 0))

    monkeypatch.setattr(master.StretchEncoder, "submit", logged_submit)
    monkeypatch.setattr(render, "speak", logged_speak)
    return events


VOICES = ("--voice", "header=loud", "--voice", "outro=loud", "--voice", "note=loud", "--voice", "narration=quiet")


@needs_ffprobe
def test_a_gain_set_too_early_is_corrected_by_encoding_again(tmp_path, monkeypatch):
    text = _loud_notes_quiet_story(tmp_path, monkeypatch)
    events = _stretch_log(monkeypatch)
    doc = render_test_engine(text, *VOICES, out=tmp_path / "out", cache=tmp_path / "cache")
    starts = [start for kind, start in events if kind == "submit"]
    assert events.index(("spoken", 0)) > 0, "encoding started while the story was still being spoken"
    assert len(starts) > len(set(starts)), "the stretches encoded with the first minute's gain were encoded again"
    lufs, peak = ebur128(Path(doc["outputs"][0]["mp3"]))
    assert abs(lufs - -19.0) <= 1.0, lufs   # measured by the system's ffmpeg
    assert peak <= -1.0, peak


def test_a_steady_voice_keeps_the_first_minutes_gain(tmp_path, monkeypatch):
    text = _loud_notes_quiet_story(tmp_path, monkeypatch)
    events = _stretch_log(monkeypatch)
    same = ("--voice", "header=quiet", "--voice", "outro=quiet", "--voice", "note=quiet", "--voice", "narration=quiet")
    render_test_engine(text, *same, out=tmp_path / "out", cache=tmp_path / "cache")
    starts = [start for kind, start in events if kind == "submit"]
    assert events.index(("spoken", 0)) > 0, "encoding started while the story was still being spoken"
    assert len(starts) == len(set(starts)) > 5, "every stretch encoded once"


def test_warm_re_render_equals_a_cold_render_of_the_edited_text(tmp_path, monkeypatch):
    """Cuts and gain follow from the text alone: a re-render reusing cached clips and stretches
    writes the same audio as a render of the edited text from nothing."""
    text = _loud_notes_quiet_story(tmp_path, monkeypatch)
    render_test_engine(text, out=tmp_path / "first", cache=tmp_path / "cache")
    edited = text.read_text(encoding="utf-8").replace("in part 20.", "in part twenty.")
    text.write_text(edited, encoding="utf-8")
    warm = render_test_engine(text, out=tmp_path / "warm", cache=tmp_path / "cache")
    cold = render_test_engine(text, out=tmp_path / "cold", cache=tmp_path / "fresh")
    assert warm["speech"]["synthesized"] == 1

    def audio(doc) -> bytes:
        data = Path(doc["outputs"][0]["mp3"]).read_bytes()
        return data[data.index(b"Info") - 21:]   # from the Info frame on: the audio, not the ID3 tag

    assert audio(warm) == audio(cold)


@pytest.mark.slow
@needs_ffprobe
def test_real_speech_warm_re_render_re_encodes_only_around_the_edit(tmp_path):
    """With eSpeak's own pauses between sentences, long paragraphs are cut into several
    stretches: an edit re-encodes those of its paragraph only.

    (Not byte-equal to a cold render, as with the test engine: eSpeak NG's samples for a text
    depend a little on what it spoke before in the same process, seeded or not.)"""
    sentences = [
        "The lanterns along the canal were lit one by one as the evening came down.",
        "Nobody in the house said a word about the letter on the table.",
        "She folded her hands and waited for the kettle to sing.",
        "Outside, a boat slid past with its engine turned low.",
        "It was the kind of quiet that made every small sound feel important.",
        "He came in at last, shaking the rain from his coat.",
    ]
    paragraphs = [" ".join(f"{s[:-1]} in part {p}." for s in sentences) for p in range(4)]
    text = tmp_path / "fic.txt"
    text.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")

    def render(out: str, cache: str) -> dict:
        proc = subprocess.run(
            [sys.executable, "-m", "audiobook.cli", "render", str(text), "-o", str(tmp_path / out),
             "--cache-dir", str(tmp_path / cache), "--json", "-q"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def stretches(cache: str) -> set[str]:
        return {p.name for p in (tmp_path / cache / "encoded").rglob("*.mp3")}

    render("first", "cache")
    before = stretches("cache")
    assert len(before) >= 2 * len(paragraphs)           # cut inside paragraphs, not only between
    text.write_text(text.read_text(encoding="utf-8").replace("kettle to sing in part 2", "kettle to whistle in part 2"), encoding="utf-8")
    warm = render("warm", "cache")
    assert warm["speech"]["synthesized"] == 1
    new = stretches("cache") - before
    assert 0 < len(new) <= len(before) // 2 + 1          # the edited paragraph's stretches, not the rest
    cold = render("cold", "fresh")
    durations = [float(ffprobe(Path(doc["outputs"][0]["mp3"]))["format"]["duration"]) for doc in (warm, cold)]
    assert durations[0] == pytest.approx(durations[1], abs=0.1)
