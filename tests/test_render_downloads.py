"""Downloads and URLs rendered: a multi-chapter AO3 EPUB split into one episode per chapter
(each with its own notes), its metadata in the spoken header, the ID3 tags and the
description; and a FanFicFare test URL spoken for real, read back with ffprobe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3

from audiobook.cli import main

from .audio_checks import ffprobe, needs_ffprobe

DOWNLOADS = Path(__file__).resolve().parent / "fixtures" / "downloads"


def render(tmp_path, *args) -> dict:
    result = CliRunner().invoke(main, ["render", *map(str, args), "-o", str(tmp_path / "out"), "--cache-dir",
                                       str(tmp_path / "cache"), "--engine", "test", "-j", "1", "--json", "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_ao3_epub_split_into_chapters_keeps_each_chapters_notes(tmp_path):
    doc = render(tmp_path, DOWNLOADS / "ao3-multi.epub", "--split", "chapters")
    episodes = doc["outputs"]
    assert [Path(e["mp3"]).name for e in episodes] == [f"the-cartographer-s-daughter-0{n}.mp3" for n in (1, 2, 3)]
    vtt = [Path(e["transcript"]).read_text(encoding="utf-8") for e in episodes]
    assert "Wren inherits her father's maps" in vtt[0] and "drawer full of paper" in vtt[0]   # work summary, chapter summary
    assert "already written" in vtt[0] and "already written" not in vtt[1]                   # chapter 1's end notes
    assert "Northern Lights" in vtt[1] and "Follow the light along the water" in vtt[1]
    assert "Songs I wrote this to" in vtt[2] and "Thank you all for reading" in vtt[2]
    chapters = [[c["title"] for c in e["chapters"]] for e in episodes]
    assert chapters[0] == ["Introduction", "Author's note", "Chapter 1: Ink and Salt", "Credits"]
    assert chapters[2][-5:] == ["Interlude: Northern Lights", "Interlude: Salt Roads", "Interlude: Lantern Season",
                                "End notes", "Credits"]
    tags = ID3(episodes[0]["mp3"])
    assert str(tags["TRCK"]) == "1" and str(tags["TALB"]) == "Coastlines"
    assert str(tags["TPE1"]) == "inkwell_and_tide and mapmaker_b"
    assert str(tags["TIT2"]) == "The Cartographer's Daughter - Chapter 1: Ink and Salt"
    comment = str(tags.getall("COMM")[0])
    for said in ("Written by inkwell_and_tide and mapmaker_b.", "Fandom: Original Work and Maps & Margins (Web Series).",
                 "Rating: Teen And Up Audiences.", "Relationships: Wren/Ottoline, Wren & Her Father.",
                 "Tags: F/F, Gen, Letters, Slow Burn, Songfic.", "Part 3 of Coastlines.",
                 "https://archiveofourown.org/works/4401127"):
        assert said in comment, said
    said = " ".join(line for line in vtt[0].splitlines() if line and "-->" not in line and not line.isdigit())
    header = said[:said.index("Read by text-to-speech")]          # the podfic header, as spoken
    assert "by inkwell and tide and mapmaker b" in header           # both authors ("_" is not said)
    assert "Original Work and Maps and Margins (Web Series)." in header
    assert "Rated Teen And Up Audiences. Warnings: No Archive Warnings Apply." in header



@pytest.mark.slow
@needs_ffprobe
def test_a_fic_url_renders_to_an_episode(tmp_path):
    pytest.importorskip("fanficfare")
    url = "http://test1.com?sid=1001"           # FanFicFare's offline test site: no network
    proc = subprocess.run(
        [sys.executable, "-m", "audiobook.cli", "render", url, "-o", str(tmp_path / "out"),
         "--cache-dir", str(tmp_path / "cache"), "--json", "-q"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""                    # FanFicFare's own logging kept quiet
    (episode,) = json.loads(proc.stdout)["outputs"]
    assert episode["input"] == url
    probe = ffprobe(Path(episode["mp3"]))
    stream = probe["streams"][0]
    assert (stream["codec_name"], int(stream["sample_rate"]), stream["channels"]) == ("mp3", 44100, 1)
    duration = float(probe["format"]["duration"])
    assert duration == pytest.approx(episode["duration_s"], abs=0.1)
    vtt = Path(episode["transcript"]).read_text(encoding="utf-8")
    words = len(" ".join(line for line in vtt.splitlines() if line and "-->" not in line and not line.isdigit()).split())
    assert 0.6 * words / 160 * 60 < duration < 2.0 * words / 160 * 60 + 20
    assert "This is a fake adapter for testing purposes" in " ".join(vtt.split())
    assert probe["format"]["tags"]["title"] == "Test Story Title 1001"
