"""The audiobook file (--format m4b|both): AAC in MP4 with chapters, tags and cover.

The seed is rendered once with the real engine (loudness is about real speech); layout,
naming, splitting and errors use the deterministic test engine. Every check reads the file
back with something other than the code that wrote it: the system's ffprobe and ffmpeg,
mutagen, and a small MP4 box walker here (which boxes hold the chapters).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Cover

from audiobook.master import m4b
from audiobook.models import Chapter

from .audio_checks import FFMPEG, ebur128, ffprobe, needs_ffprobe
from .test_render import CHAPTERED, GOLDEN_CHAPTERS, SEED, render_test_engine, run_cli, top_level_files

# ---- reading MP4 boxes -------------------------------------------------------------------------

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"tref", b"edts", b"dinf"}


def boxes(data: bytes, start: int = 0, end: int | None = None, path: str = "") -> list[tuple[str, bytes]]:
    """Every box as (path, payload), depth first: "moov/trak/tref/chap", ..."""
    end = len(data) if end is None else end
    found = []
    while start + 8 <= end:
        size, kind = int.from_bytes(data[start:start + 4], "big"), data[start + 4:start + 8]
        head = 8
        if size == 1:
            size, head = int.from_bytes(data[start + 8:start + 16], "big"), 16
        elif size == 0:
            size = end - start
        assert size >= head, f"broken box {kind!r} at {start}"
        name = f"{path}/{kind.decode('latin-1')}".lstrip("/")
        payload = data[start + head:start + size]
        found.append((name, payload))
        if kind in CONTAINERS:
            found += boxes(data, start + head, start + size, name)
        elif kind == b"meta":
            found += boxes(data, start + head + 4, start + size, name)   # a full box: version and flags first
        start += size
    return found


def chpl_chapters(payload: bytes) -> list[tuple[float, str]]:
    """Nero chapters: (start in seconds, title) from a chpl box (version 1, as ffmpeg writes it)."""
    assert payload[0] == 1
    count, at, out = payload[8], 9, []
    for _ in range(count):
        start = int.from_bytes(payload[at:at + 8], "big") / 10_000_000
        n = payload[at + 8]
        out.append((start, payload[at + 9:at + 9 + n].decode("utf-8")))
        at += 9 + n
    return out


def track_ids_and_handlers(found: list[tuple[str, bytes]]) -> dict[int, bytes]:
    """Track id (from tkhd) -> handler type (from hdlr), for every trak in file order."""
    ids, handlers = [], []
    for name, payload in found:
        if name == "moov/trak/tkhd":
            version = payload[0]
            ids.append(int.from_bytes(payload[12:16] if version == 0 else payload[20:24], "big"))
        elif name == "moov/trak/mdia/hdlr":
            handlers.append(payload[8:12])
    return dict(zip(ids, handlers))


def chapter_boxes_of(path: Path) -> dict:
    """What chapter boxes the file has: the Nero list, and the QuickTime chapter track."""
    found = boxes(path.read_bytes())
    names = [n for n, _ in found]
    tracks = track_ids_and_handlers(found)
    chap = [p for n, p in found if n == "moov/trak/tref/chap"]
    referenced = [int.from_bytes(p[i:i + 4], "big") for p in chap for i in range(0, len(p), 4)]
    return {
        "names": names,
        "brand": dict(found)["ftyp"][:4],
        "chpl": chpl_chapters(dict(found)["moov/udta/chpl"]) if "moov/udta/chpl" in names else None,
        "chapter_tracks": [tracks.get(t) for t in referenced],
        "moov_first": names.index("moov") < names.index("mdat"),
    }


def probed_chapters(path: Path) -> list[tuple[float, float, str]]:
    return [(float(c["start_time"]), float(c["end_time"]), c["tags"].get("title", "")) for c in ffprobe(path)["chapters"]]


def decoded_samples(path: Path) -> int:
    pcm = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-f", "s16le", "-"], capture_output=True, check=True).stdout
    return len(pcm) // 2


# ---- the seed, spoken for real -------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_both(tmp_path_factory):
    base = tmp_path_factory.mktemp("seed-m4b")
    out = base / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "audiobook.cli", "render", str(SEED), "-o", str(out), "--cache-dir", str(base / "cache"),
         "--format", "both", "--json", "-q"],
        capture_output=True, text=True, timeout=300, cwd=base,
    )
    assert proc.returncode == 0, proc.stderr
    episode, book = json.loads(proc.stdout)["outputs"]
    return {"out": out, "mp3": Path(episode["mp3"]), "m4b": Path(book["m4b"]), "episode": episode, "book": book}


@pytest.mark.slow
@needs_ffprobe
def test_seed_m4b_next_to_the_mp3_with_the_same_chapters_and_duration(seed_both):
    mp3, book = seed_both["mp3"], seed_both["m4b"]
    assert book == mp3.with_suffix(".m4b")
    assert not [p for p in seed_both["out"].iterdir() if p.name.startswith(".")]   # nothing half-written left
    chapters = probed_chapters(book)
    assert [t for _, _, t in chapters] == GOLDEN_CHAPTERS
    assert chapters[0][0] == 0 and all(a[1] == pytest.approx(b[0], abs=1e-6) for a, b in zip(chapters, chapters[1:]))
    # the same marks as the MP3's ID3 chapters, to the ms (the M4B plays on the MP3's timeline)
    ours = [t for c in ffprobe(mp3)["chapters"] for t in (float(c["start_time"]), float(c["end_time"]))]
    assert [t for a, b, _ in chapters for t in (a, b)] == pytest.approx(ours, abs=0.0011)
    mp3_seconds = decoded_samples(mp3) / 44100
    m4b_seconds = float(ffprobe(book)["format"]["duration"])
    assert m4b_seconds == pytest.approx(mp3_seconds, abs=0.05)
    assert m4b_seconds == pytest.approx(mp3_seconds, abs=0.001)       # in fact: the same samples
    assert chapters[-1][1] == pytest.approx(m4b_seconds, abs=0.001)
    assert seed_both["book"]["duration_s"] == seed_both["episode"]["duration_s"]


@pytest.mark.slow
@needs_ffprobe
def test_seed_m4b_loudness_on_target(seed_both):
    lufs, peak = ebur128(seed_both["m4b"])
    assert lufs == pytest.approx(-19.0, abs=0.5)
    assert peak <= -1.0


@pytest.mark.slow
@needs_ffprobe
def test_seed_m4b_is_aac_in_an_audiobook_mp4(seed_both):
    probe = ffprobe(seed_both["m4b"])
    audio = [s for s in probe["streams"] if s["codec_type"] == "audio"]
    assert [(s["codec_name"], s["channels"], int(s["sample_rate"])) for s in audio] == [("aac", 1, 22050)]
    assert probe["format"]["tags"]["major_brand"] == "M4B "
    assert 40_000 <= int(probe["format"]["bit_rate"]) <= 90_000


@pytest.mark.slow
def test_seed_m4b_tags_and_cover_with_mutagen(seed_both):
    tags = MP4(seed_both["m4b"]).tags
    assert tags["\xa9nam"] == ["A Letter to Magnus"]
    assert tags["\xa9ART"] == tags["aART"] == ["Unknown"]
    assert tags["\xa9alb"] == ["A Letter to Magnus"]
    assert tags["\xa9gen"] == ["Audiobook"] and tags["stik"] == [2]
    assert "Like We Used To" in tags["\xa9cmt"][0]
    (cover,) = tags["covr"]
    assert cover.imageformat == MP4Cover.FORMAT_JPEG
    assert bytes(cover) == seed_both["mp3"].with_suffix(".jpg").read_bytes()


@pytest.mark.slow
def test_seed_m4b_has_a_quicktime_chapter_track_and_nero_chapters(seed_both):
    found = chapter_boxes_of(seed_both["m4b"])
    assert found["brand"] == b"M4B "
    assert found["moov_first"]                                   # streams before it is all downloaded
    assert found["chapter_tracks"] == [b"text"]                  # tref/chap -> a text track (Apple Books)
    assert "moov/udta/meta/ilst" in found["names"]               # mutagen's tags beside them
    titles = [t for _, t in found["chpl"]]                       # Nero chpl (BookPlayer, players on ffmpeg)
    assert titles == GOLDEN_CHAPTERS
    starts = [s for s, _ in found["chpl"]]
    assert starts == pytest.approx([c.start_ms / 1000 for c in _chapters(seed_both["episode"])], abs=0.0011)


def _chapters(episode: dict) -> list[Chapter]:
    return [Chapter(c["title"], round(c["start_s"] * 1000), round(c["end_s"] * 1000)) for c in episode["chapters"]]


# ---- layout, naming, errors: the test engine -------------------------------------------------------


@needs_ffprobe
def test_split_work_makes_one_m4b_with_a_chapter_per_story_chapter(tmp_path):
    out = tmp_path / "out"
    doc = render_test_engine(CHAPTERED, "--split", "chapters", "--format", "both", out=out, cache=tmp_path / "cache")
    mp3s = [Path(e["mp3"]) for e in doc["outputs"] if "mp3" in e]
    (book,) = [Path(e["m4b"]) for e in doc["outputs"] if "m4b" in e]
    assert [p.name for p in mp3s] == ["the-keeper-01.mp3", "the-keeper-02.mp3"]
    assert book.name == "the-keeper.m4b"
    assert sorted(p.name for p in top_level_files(out) if p.suffix in (".mp3", ".m4b")) == ["the-keeper-01.mp3", "the-keeper-02.mp3", "the-keeper.m4b"]
    lengths = [decoded_samples(m) / 44100 for m in mp3s]
    chapters = probed_chapters(book)
    assert [t for _, _, t in chapters] == ["Chapter 1", "Chapter 2: The Missing Ship"]
    assert [a for a, _, _ in chapters] == pytest.approx([0, lengths[0]], abs=0.0011)
    assert chapters[-1][1] == pytest.approx(sum(lengths), abs=0.0011)
    assert float(ffprobe(book)["format"]["duration"]) == pytest.approx(sum(lengths), abs=0.05)
    assert [t for _, t in chapter_boxes_of(book)["chpl"]] == ["Chapter 1", "Chapter 2: The Missing Ship"]
    tags = MP4(book).tags
    assert tags["\xa9nam"] == ["The Keeper"] and tags["covr"]


@needs_ffprobe
def test_m4b_alone_writes_only_the_audiobook(tmp_path):
    out = tmp_path / "out"
    doc = render_test_engine(CHAPTERED, "--format", "m4b", out=out, cache=tmp_path / "cache")
    (book,) = doc["outputs"]
    assert [p.name for p in out.iterdir()] == ["the-keeper.m4b"]       # no MP3, sidecars or leftovers
    assert [c["title"] for c in book["chapters"]] == ["Introduction", "Chapter 1", "Chapter 2: The Missing Ship", "Credits"]
    assert [t for _, _, t in probed_chapters(Path(book["m4b"]))] == [c["title"] for c in book["chapters"]]
    # the same timeline as the MP3 it did not write
    both = render_test_engine(CHAPTERED, "--format", "both", out=tmp_path / "both", cache=tmp_path / "cache")
    assert both["outputs"][0]["chapters"] == book["chapters"] == both["outputs"][1]["chapters"]
    assert both["outputs"][0]["duration_s"] == book["duration_s"]
    # gapless: the edit list drops the AAC priming and padding. ffmpeg 6+ (the bundled one)
    # honours both ends and gives the MP3's samples exactly (at half the rate); the system's
    # older one drops the priming and plays the last frame out (less than 1024 samples more)
    from audiobook.master import ffmpeg_exe

    mp3_samples = decoded_samples(Path(both["outputs"][0]["mp3"]))
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", book["m4b"], "-f", "s16le", "-"], capture_output=True, check=True).stdout
    assert len(pcm) // 2 * 2 == mp3_samples
    assert 0 <= decoded_samples(Path(book["m4b"])) - mp3_samples // 2 < 1024


def test_ffmetadata_escapes_what_ffmpeg_reads_as_syntax():
    text = m4b.ffmetadata([Chapter("A = B; #1 \\ two\nlines", 0, 1500), Chapter("Plain", 1500, 3000)])
    assert text.splitlines() == [
        ";FFMETADATA1",
        "[CHAPTER]", "TIMEBASE=1/1000", "START=0", "END=1500", "title=A \\= B\\; \\#1 \\\\ two\\", "lines",
        "[CHAPTER]", "TIMEBASE=1/1000", "START=1500", "END=3000", "title=Plain",
    ]


@needs_ffprobe
def test_chapter_titles_with_ffmpeg_syntax_survive(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "odd.txt").write_text(
        "Chapter 1: A = B; 100% \\ slash\n\nThe first chapter is short.\n\nChapter 2: Ünïcödé ❤\n\nThe second one too.\n",
        encoding="utf-8",
    )
    doc = render_test_engine(work / "odd.txt", "--format", "m4b", "--no-header", "--no-outro", out=tmp_path / "out", cache=tmp_path / "cache")
    book = Path(doc["outputs"][0]["m4b"])
    titles = [t for _, _, t in probed_chapters(book)]
    assert titles == [c["title"] for c in doc["outputs"][0]["chapters"]]
    assert "Chapter 1: A = B; 100% \\ slash" in titles and "Chapter 2: Ünïcödé ❤" in titles


def _failing_aac(tmp_path: Path, message: str) -> Path:
    """An ffmpeg that fails like a full disk when asked to encode AAC, and is ffmpeg otherwise."""
    from audiobook.master import ffmpeg_exe

    real = ffmpeg_exe()
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *"-c:a aac"*) cat > /dev/null; echo "' + message + '" >&2; exit 1;; esac\n'
        f'exec "{real}" "$@"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return fake


def test_a_failing_aac_encoder_is_one_line_naming_the_m4b_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOFIC_FFMPEG", str(_failing_aac(tmp_path, "Error writing trailer: No space left on device")))
    out = tmp_path / "out"
    result = run_cli("render", CHAPTERED, "-o", out, "--cache-dir", tmp_path / "cache", "--engine", "test", "-j", "1", "-q", "--format", "both")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"Error: {out / 'the-keeper.m4b'}: the AAC encoder (ffmpeg) failed: Error writing trailer: No space left on device; check free space"]
    # the MP3 episode was finished before the audiobook failed; no M4B, nothing half-written
    assert sorted(p.name for p in out.iterdir()) == ["the-keeper.chapters.json", "the-keeper.jpg", "the-keeper.mp3", "the-keeper.vtt"]


@needs_ffprobe
def test_a_gain_corrected_late_re_encodes_the_m4b_too(tmp_path, monkeypatch):
    """The provisional gain is far off: every stretch is made again, and the M4B encode
    starts over with them (it neither keeps the first gain's audio nor doubles it)."""
    from .test_render import VOICES, _loud_notes_quiet_story

    text = _loud_notes_quiet_story(tmp_path, monkeypatch)
    restarts = []
    encode = m4b.Audiobook._encode

    def counted(self):
        restarts.append(1)
        return encode(self)

    monkeypatch.setattr(m4b.Audiobook, "_encode", counted)
    doc = render_test_engine(text, *VOICES, "--format", "both", out=tmp_path / "out", cache=tmp_path / "cache")
    episode, book = doc["outputs"]
    assert len(restarts) >= 2, "the audiobook was not encoded again"
    assert float(ffprobe(Path(book["m4b"]))["format"]["duration"]) == pytest.approx(decoded_samples(Path(episode["mp3"])) / 44100, abs=0.001)
    lufs, _ = ebur128(Path(book["m4b"]))
    mp3_lufs, _ = ebur128(Path(episode["mp3"]))
    assert lufs == pytest.approx(mp3_lufs, abs=0.5)


def test_m4b_chapters_are_the_mp3_chapters_in_the_json(tmp_path):
    doc = render_test_engine(CHAPTERED, "--format", "both", out=tmp_path / "out", cache=tmp_path / "cache")
    episode, book = doc["outputs"]
    assert Path(book["m4b"]).is_file() and os.path.getsize(book["m4b"]) > 10_000
    assert book["chapters"] == episode["chapters"]
    assert MP3(episode["mp3"]).info.length == pytest.approx(book["duration_s"], abs=0.0006)


def test_a_killed_render_s_audiobook_folder_is_swept_by_the_next(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".audiofic-partial-4242-x1y2"    # its lock held by nobody: the render is gone
    stale.mkdir()
    (stale / ".lock").touch()
    (stale / "the-keeper.m4b").write_bytes(b"half")
    render_test_engine(CHAPTERED, "--format", "both", out=out, cache=tmp_path / "cache")
    assert not stale.exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_re_render_takes_the_encoded_audiobook_from_the_cache(tmp_path, monkeypatch):
    used = []
    cached = m4b.Audiobook._cached

    def recorded(self, key):
        found = cached(self, key)
        used.append(found is not None)
        return found

    monkeypatch.setattr(m4b.Audiobook, "_cached", recorded)
    cache = tmp_path / "cache"
    first = render_test_engine(CHAPTERED, "--format", "m4b", out=tmp_path / "a", cache=cache)
    again = render_test_engine(CHAPTERED, "--format", "m4b", out=tmp_path / "b", cache=cache)
    assert used == [False, True]
    assert Path(again["outputs"][0]["m4b"]).read_bytes() == Path(first["outputs"][0]["m4b"]).read_bytes()
    assert list((tmp_path / "b").iterdir()) == [tmp_path / "b" / "the-keeper.m4b"]
    # another gain (or any other content) is another key
    render_test_engine(CHAPTERED, "--format", "m4b", "--no-header", out=tmp_path / "c", cache=cache)
    assert used == [False, True, False]


@needs_ffprobe
@pytest.mark.parametrize("seconds", [0.01, 2.0, 20.0])
def test_segments_encoded_side_by_side_splice_into_what_one_encode_writes(tmp_path, monkeypatch, seconds):
    """The stream is cut into segments (here of 0.5-2 s) that encoders code side by side; their
    kept frames are the frames of one long encode of the same samples: as many, nearly all
    byte for byte, and the same fidelity to the samples (no seam to hear)."""
    import numpy as np

    from audiobook.master import ffmpeg_exe

    from .test_master import speechlike

    monkeypatch.setattr(m4b, "SEGMENT_SECONDS", (0.5, 2))   # grows from 0.5 s to 2 s (36 frames at least)
    x = speechlike(seconds, seed=4) * 0.6
    book = m4b.Audiobook(tmp_path / "o.m4b", tmp_path, workers=2)
    book.aac_rate = 22050
    segments = m4b._Segments(book, tmp_path / "joined.aac")
    for i in range(0, x.size, 3001):
        segments.write(x[i:i + 3001])
    segments.close()
    spliced = m4b.adts_frames((tmp_path / "joined.aac").read_bytes())
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    whole = m4b.adts_frames(subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-f", "s16le", "-ar", "22050", "-ac", "1", "-i", "-", "-c:a", "aac",
         "-aac_coder", "fast", "-q:a", "1", "-f", "adts", "-"], input=pcm, capture_output=True, check=True).stdout)
    assert len(spliced) == len(whole) == -(-x.size // 1024) + 1          # the priming frame, and the samples
    assert sum(a != b for a, b in zip(spliced, whole)) <= max(1, len(whole) // 100)

    def snr(frames) -> float:
        y = np.frombuffer(subprocess.run([FFMPEG, "-v", "error", "-f", "aac", "-i", "-", "-f", "s16le", "-"],
                                         input=b"".join(frames), capture_output=True, check=True).stdout, dtype="<i2") / 32768
        ref = np.concatenate([np.zeros(1024), x])[:y.size]
        return 10 * np.log10(np.sum(ref ** 2) / max(1e-12, np.sum((y[:ref.size] - ref) ** 2)))

    if seconds > 1:
        assert snr(spliced) == pytest.approx(snr(whole), abs=0.05)
