"""Reliability, round two: each case a hostile probe found, met through the CLI as a user
would. What must hold: one line naming the file and what to do, no traceback, a non-zero
exit, the other files of a batch still rendered, and nothing of anyone's overwritten."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3, TIT2, TPE1

from audiobook.cli import main
from tests.helpers_media import make_episode

from .audio_checks import ffprobe, needs_ffprobe

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOOD = "Title: Good\nAuthor: Me\n\nA good short story about a lighthouse.\n"
BASE = "https://example.org/podfic"
BIDI = "\u202e"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def render(*args):
    return cli("render", *args, "--engine", "test", "-j", "1", "--json", "-q")


def errors(result) -> list[str]:
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert all(line.startswith("Error: ") for line in lines), lines
    return lines


def outputs(result) -> list[str]:
    return sorted(Path(o["mp3"]).name for o in json.loads(result.stdout)["outputs"])


# ---- 2. a batch survives a bad file: every sidecar value checked --------------------------

BAD_SIDECARS = {
    "interludes-files-string": ('[interludes]\nfiles = "x"\n', "interludes.files must be a table"),
    "excerpt-inf": ("[interludes]\nexcerpt_seconds = inf\n", "excerpt_seconds must be a number of seconds from 1 to 60"),
    "excerpt-nan": ("[interludes]\nexcerpt_seconds = nan\n", "excerpt_seconds must be"),
    "excerpt-huge": ("[interludes]\nexcerpt_seconds = 1e9\n", "excerpt_seconds must be"),
    "excerpt-zero": ("[interludes]\nexcerpt_seconds = 0\n", "excerpt_seconds must be"),
    "excerpt-string": ('[interludes]\nexcerpt_seconds = "12"\n', "excerpt_seconds must be"),
    "sting-string": ('[interludes]\nsting = "no"\n', "sting must be true or false"),
    "placement-wrong": ('[interludes]\nplacement = "everywhere"\n', "placement must be"),
    "interludes-unknown": ("[interludes]\nvolume = 3\n", "unknown [interludes] key"),
    "interludes-file-number": ('[interludes.files]\n"Song" = 3\n', "must be a name"),
    "title-number": ("title = 3\n", "'title' must be a string"),
    "title-huge": ('title = "' + "x" * 200_000 + '"\n', "at most 300"),
    "summary-huge": ('summary = "' + "y " * 10_000 + '"\n', "'summary' is 20,000 characters"),
    "authors-not-strings": ("author = [1, 2]\n", "string or a list of strings"),
    "tags-too-many": ("tags = [" + ", ".join(['"t"'] * 400) + "]\n", "at most 300 items"),
    "chapter-negative": ("chapter = -1\n", "whole number from 0"),
    "chapter-float": ("chapter = 2.5\n", "whole number"),
    "chapter-bool": ("chapter = true\n", "whole number"),
    "year-huge": ("year = 99999\n", "from 1 to 9999"),
    "cast-not-table": ('cast = "narrator"\n', "must be a table"),
    "cast-number": ("[cast]\nAlec = 3\n", "must be a name"),
    "unknown-key": ("colour = \"red\"\n", "unknown sidecar key"),
    "lexicon-not-table": ('lexicon = "Magnus"\n', "'lexicon' must be a table"),
    "lexicon-number": ("[lexicon]\nMagnus = 3\n", "lexicon entry 'Magnus'"),
}


def test_every_sidecar_value_is_checked_and_the_batch_goes_on(tmp_path):
    work = tmp_path / "works"
    work.mkdir()
    (work / "good.txt").write_text(GOOD, encoding="utf-8")
    for name, (toml, _) in BAD_SIDECARS.items():
        (work / f"{name}.txt").write_text("The story, in one line.\n", encoding="utf-8")
        (work / f"{name}.toml").write_text(toml, encoding="utf-8")
    result = render(work, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 1
    assert outputs(result) == ["good.mp3"]
    lines = errors(result)
    assert len(lines) == len(BAD_SIDECARS)
    for name, (_, words) in BAD_SIDECARS.items():
        (line,) = [line for line in lines if f"/{name}.toml:" in line]
        assert words in line, line


def test_an_unexpected_error_is_one_line_and_the_batch_goes_on(tmp_path, monkeypatch):
    """A fault nobody foresaw (here Pillow refusing a cover) fails that work alone."""
    from PIL import Image

    import audiobook.render as render_module

    real = render_module._cover

    def cover(meta, cache):
        if meta.title == "Doomed":
            raise Image.DecompressionBombError("Image size (156000030 pixels) exceeds limit")
        return real(meta, cache)

    monkeypatch.setattr(render_module, "_cover", cover)
    work = tmp_path / "works"
    work.mkdir()
    (work / "a-doomed.txt").write_text("Title: Doomed\nAuthor: X\n\nIt will not end well.\n", encoding="utf-8")
    (work / "b-good.txt").write_text(GOOD, encoding="utf-8")
    result = render(work, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 1
    assert outputs(result) == ["good.mp3"]
    (line,) = errors(result)
    assert "a-doomed.txt" in line and "unexpected DecompressionBombError" in line and "AUDIOFIC_DEBUG" in line


def test_output_cut_short_by_the_reader_is_not_an_error(tmp_path):
    text = tmp_path / "long.txt"
    text.write_text("\n\n".join(f"Paragraph {i} of a long story." for i in range(3000)), encoding="utf-8")
    proc = subprocess.run(f"{sys.executable} -m audiobook.cli plan {text} | head -1", shell=True, capture_output=True, text=True)
    assert proc.stdout.startswith(str(text)) and proc.stderr == ""


# ---- 3. names: other scripts, two works with one slug --------------------------------------


def test_titles_in_other_scripts_get_names_of_their_own_across_runs(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    names = []
    for title in ("Привет мир", "Пока мир", "你好世界", "🌙✨", "💜💜"):
        text = tmp_path / "in" / f"{len(names)}.txt"
        text.parent.mkdir(exist_ok=True)
        text.write_text(f"Title: {title}\nAuthor: A\n\nOne line of story.\n", encoding="utf-8")
        result = render(text, "-o", out, "--cache-dir", cache)     # a run each: no shared name table
        assert result.exit_code == 0, result.output
        names += outputs(result)
    assert names[:3] == ["privet-mir.mp3", "poka-mir.mp3", "nihaoshijie.mp3"]
    assert len(set(names)) == 5 and all(n.startswith("episode-") for n in names[3:])
    assert len(list(out.glob("*.mp3"))) == 5


def test_an_episode_of_another_work_is_never_overwritten(tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    (tmp_path / "a.txt").write_text("Title: Hello, World!\nAuthor: Ann\n\nThe first work.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Title: Hello World\nAuthor: Bob\n\nThe second work.\n", encoding="utf-8")
    assert outputs(render(tmp_path / "a.txt", "-o", out, "--cache-dir", cache)) == ["hello-world.mp3"]
    first = (out / "hello-world.mp3").read_bytes()
    (other,) = outputs(render(tmp_path / "b.txt", "-o", out, "--cache-dir", cache))
    assert other.startswith("hello-world-") and (out / "hello-world.mp3").read_bytes() == first
    # The same work rendered again replaces its own episode, under its own name.
    assert outputs(render(tmp_path / "a.txt", "-o", out, "--cache-dir", cache)) == ["hello-world.mp3"]
    assert sorted(p.name for p in out.glob("*.mp3")) == sorted(["hello-world.mp3", other])


# ---- 4. bounded inputs --------------------------------------------------------------------


@needs_ffprobe
def test_a_run_of_scene_breaks_is_one_pause(tmp_path):
    text = tmp_path / "stars.txt"
    text.write_text("Begin.\n\n" + "***\n\n" * 10_000 + "End.\n", encoding="utf-8")
    result = render(text, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache", "--no-header", "--no-outro")
    assert result.exit_code == 0, result.output
    seconds = float(ffprobe(tmp_path / "out" / "stars.mp3")["format"]["duration"])
    assert seconds < 15, seconds          # two words and one break, not hours of silence
    plan = json.loads(cli("plan", text, "--json").stdout)
    assert [s["role"] for s in plan["segments"]].count("scene_break") == 1


def test_symbols_only_have_nothing_to_say(tmp_path):
    (tmp_path / "emoji.txt").write_text("💜💜💜 ✨✨\n\n🌙\n\n***\n", encoding="utf-8")
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    result = render(tmp_path, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 1 and outputs(result) == ["good.mp3"]
    (line,) = errors(result)
    assert "emoji.txt" in line and "nothing to say" in line


def test_a_huge_paragraph_becomes_bounded_utterances_and_nothing_is_lost(tmp_path):
    sentence = "The lamps were lit along the harbour wall, one after another. "
    text = tmp_path / "wall.txt"
    text.write_text(sentence * 6000, encoding="utf-8")      # 372,000 characters, no line break
    result = cli("plan", text, "--json")
    assert result.exit_code == 0, result.output
    work = json.loads(result.stdout)
    story = [s for s in work["segments"] if s["role"] == "narration"]
    assert len(story) > 40 and max(len(s["speech"]) for s in story) <= 8000
    said = " ".join(s["speech"] for s in story).split()
    assert said == (sentence * 6000).split()                 # every word, once, in order


def test_metadata_of_a_download_is_capped(tmp_path):
    html = (FIXTURES / "downloads" / "ao3-single.html").read_text(encoding="utf-8")
    huge = "Endless " * 125_000
    (tmp_path / "w.html").write_text(html.replace("A Small Hour", huge), encoding="utf-8")
    result = cli("plan", tmp_path / "w.html", "--json")
    assert result.exit_code == 0, result.output
    work = json.loads(result.stdout)
    assert 0 < len(work["meta"]["title"]) <= 300 and work["meta"]["title"].endswith("…")


# ---- 6. feeds and URLs ----------------------------------------------------------------------


@pytest.mark.parametrize("url, words", [
    ("https://user:hunter2@example.org/pod", "must not hold a user name or password"),
    ("https://example.org/pod?x=1", "must not have a ?query or #fragment"),
    ("https://example.org/pod#top", "must not have a ?query or #fragment"),
    ("https://example.org/pod\nX-Injected: 1", "holds spaces, quotes or brackets"),
    ("https://example.org/my pod", "holds spaces, quotes or brackets"),
    ('http://x/"><script>alert(1)</script>', "holds spaces, quotes or brackets"),
    ("http://[::1", "not a valid address"),
    ("ftp://example.org/pod", "must start with https://"),
])
def test_bad_base_urls_are_refused(tmp_path, url, words):
    folder = tmp_path / "show"
    make_episode(folder, "a", title="One", album="W", track=1)
    result = cli("feed", folder, "--base-url", url)
    assert result.exit_code == 1
    (line,) = errors(result)
    assert words in line and "hunter2" not in result.output
    assert not (folder / "feed.xml").exists()


def test_foreign_tags_with_control_and_bidi_characters_make_a_valid_feed(tmp_path):
    folder = tmp_path / "show"
    mp3 = make_episode(folder, "a", title="One", album="W", track=1)
    tags = ID3(mp3)
    tags.add(TIT2(encoding=1, text=[f"Chap\x01ter\x1b one {BIDI}gnp.exe"]))
    tags.add(TPE1(encoding=1, text=["Au\x00thor\x7f"]))
    tags.save(mp3, v2_version=3)
    result = cli("feed", folder, "--base-url", BASE)
    assert result.exit_code == 0, result.output
    data = (folder / "feed.xml").read_bytes()
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries[0].title == "Chap ter one gnp.exe"
    assert BIDI.encode() not in data and b"\x01" not in data and b"\x1b" not in data


def test_titles_lose_bidi_overrides_in_tags_and_feed(tmp_path):
    text = tmp_path / "w.txt"
    text.write_text("The story.\n", encoding="utf-8")
    text.with_suffix(".toml").write_text(f'title = "Evil{BIDI}oof.exe"\nauthor = "Mal{BIDI}lory"\n', encoding="utf-8")
    result = render(text, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    (name,) = outputs(result)
    tags = ID3(tmp_path / "out" / name)
    assert str(tags["TIT2"]) == "Evil oof.exe" and str(tags["TPE1"]) == "Mal lory"
    assert cli("feed", tmp_path / "out", "--base-url", BASE).exit_code == 0
    assert BIDI not in (tmp_path / "out" / "feed.xml").read_text(encoding="utf-8")


def test_show_artwork_that_cannot_be_written_is_one_line(tmp_path):
    folder = tmp_path / "show"
    make_episode(folder, "a", title="One", album="W", track=1)
    (folder / "show.jpg").mkdir()          # something in the way: the artwork cannot be written
    result = cli("feed", folder, "--base-url", BASE)
    assert result.exit_code == 1
    (line,) = errors(result)
    assert "cannot write the show artwork" in line


def test_a_stale_feed_naming_a_deleted_episode_is_not_published(tmp_path):
    folder = tmp_path / "show"
    make_episode(folder, "a", title="One", album="W", track=1)
    make_episode(folder, "b", title="Two", album="W", track=2)
    assert cli("feed", folder, "--base-url", BASE).exit_code == 0
    (folder / "b.mp3").unlink()
    result = cli("publish", folder, "--to", tmp_path / "site")
    assert result.exit_code == 1
    (line,) = errors(result)
    assert "b.mp3" in line and "audiofic feed" in line
    assert not (tmp_path / "site").exists() or not any((tmp_path / "site").iterdir())


def test_credentials_in_the_destination_are_never_printed(tmp_path):
    folder = tmp_path / "show"
    make_episode(folder, "a", title="One", album="W", track=1)
    assert cli("feed", folder, "--base-url", BASE).exit_code == 0
    for dest in ("s3://AKIAEXAMPLEKEY:wJalrXUtnFEMI+secret@bucket/pod", "file://user:pa55word@localhost/tmp/x"):
        result = cli("publish", folder, "--to", dest)
        assert result.exit_code == 1
        (line,) = errors(result)
        assert "wJalrXUtnFEMI" not in result.output and "pa55word" not in result.output and "AKIAEXAMPLEKEY" not in result.output
        assert "must not hold a user name or password" in line


# ---- 6. audio is told by its content, not its name ------------------------------------------

@needs_ffprobe
@pytest.mark.parametrize("codec, words", [("aac", "MP4/AAC audio"), ("libvorbis", "Ogg audio"), ("pcm_s16le", "a WAV file")])
def test_audio_of_another_kind_named_mp3_is_refused_by_its_content(tmp_path, codec, words):
    """An M4A renamed .mp3 was listed as audio/mpeg, 12 s long for 30 s of sound (mutagen
    finds false MPEG frames in AAC data). Now the feed names the file and what it holds."""
    folder = tmp_path / "show"
    make_episode(folder, "a", title="One", album="W", track=1)
    fmt = {"aac": "ipod", "libvorbis": "ogg", "pcm_s16le": "wav"}[codec]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:d=30", "-c:a", codec,
                    "-f", fmt, str(folder / "b.mp3")], check=True)
    result = cli("feed", folder, "--base-url", BASE)
    assert result.exit_code == 1
    (line,) = errors(result)
    assert "b.mp3" in line and words in line and "convert it to MP3" in line
    assert not (folder / "feed.xml").exists()
    (folder / "b.mp3").unlink()                 # the real MP3 alone makes a feed
    assert cli("feed", folder, "--base-url", BASE).exit_code == 0
