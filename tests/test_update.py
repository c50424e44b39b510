"""`audiofic update`: a feed that follows a growing work.

The three-step test renders real speech (eSpeak through pyttsx3) from a work folder whose
chapters grow and change, publishes to a real moto S3 server on 127.0.0.1, and reads the
feed back with feedparser and podcastparser and the episodes with ffprobe. The URL test
uses FanFicFare's offline test site, whose works come from a personal.ini.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path

import boto3
import feedparser
import podcastparser
import pytest
from click.testing import CliRunner

from audiobook import update as update_module
from audiobook.cli import main
from audiobook.feed import FeedOptions
from audiobook.render import RenderOptions
from audiobook.update import STATE_NAME, UpdateOptions, update

from .audio_checks import ffprobe, needs_ffprobe
from .test_reliability import kill_group, partial_folders, wait_for

BASE = "https://example.org/podfic"
LEGACY_PODCAST = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
CLI = [sys.executable, "-m", "audiobook.cli"]

WORK_TOML = """title = "Tide Tables"
author = "saltmarsh"
fandom = "Original Work"
rating = "General Audiences"
summary = "A harbour pilot learns the tides, one chapter a week."
"""
CHAPTERS = {
    "chapter-1.txt": "Chapter 1: Low Water\n\nThe pilot rowed out at low water, when the sandbars showed like the backs of whales.\n",
    "chapter-2.txt": "Chapter 2: Slack Tide\n\nAt slack tide the harbour held its breath.\n\n\"Now,\" said the old pilot. \"Now we go.\"\n",
    "chapter-3.txt": "Chapter 3: Spring Tide\n\nThe spring tide came over the sea wall and into the chandler's shop.\n",
}
EDIT = "\nShe counted the minutes between the swells, and wrote them down in pencil.\n"


def _parse(path: Path):
    data = path.read_bytes()
    fp = feedparser.parse(data)
    assert not fp.bozo, fp.get("bozo_exception")
    legacy = data.replace(b"https://podcastindex.org/namespace/1.0", LEGACY_PODCAST.encode())
    return fp, podcastparser.parse(f"{BASE}/feed.xml", io.BytesIO(legacy))


def _options(tmp_path: Path, engine: str = "pyttsx3", **kw) -> UpdateOptions:
    return UpdateOptions(
        feed_dir=tmp_path / "feed",
        render=RenderOptions(engine=engine, cache_dir=tmp_path / "cache", jobs=1),
        feed=FeedOptions(base_url=BASE),
        **kw,
    )


@pytest.fixture
def work(tmp_path) -> Path:
    folder = tmp_path / "tide-tables"
    folder.mkdir()
    (folder / "work.toml").write_text(WORK_TOML, encoding="utf-8")
    for name in ("chapter-1.txt", "chapter-2.txt"):
        (folder / name).write_text(CHAPTERS[name], encoding="utf-8")
    return folder


@pytest.fixture
def bucket(s3_server, monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAUDIOFICUPDATE01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "update/test/secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket="tide-tables")
    return client


@needs_ffprobe
def test_three_steps_grow_and_edit_publish_only_what_changed(work, tmp_path, s3_server, bucket):
    options = _options(tmp_path, publish_to="s3://tide-tables/pod", endpoint_url=s3_server)
    feed = tmp_path / "feed" / "feed.xml"

    # 1. Two chapters.
    first = update(work, options)
    assert (first.new, first.changed) == ((1, 2), ())
    fp, _ = _parse(feed)
    assert [e.title for e in fp.entries] == ["Low Water", "Slack Tide"]
    guids = {e.title: e.id for e in fp.entries}
    assert first.uploaded[-1] == "feed.xml" and first.skipped == ()
    assert len(first.uploaded) == 2 * 4 + 2        # two episodes with their sidecars, the show art, the feed

    # 2. A third chapter: only it is rendered and uploaded (with the feed).
    (work / "chapter-3.txt").write_text(CHAPTERS["chapter-3.txt"], encoding="utf-8")
    second = update(work, options)
    assert (second.new, second.changed) == ((3,), ())
    assert [Path(e.path).name for e in second.episodes] == ["tide-tables-03.mp3"]
    assert sorted(second.uploaded) == sorted(["tide-tables-03.mp3", "tide-tables-03.vtt", "tide-tables-03.chapters.json",
                                              "tide-tables-03.jpg", "feed.xml"])

    # 3. Chapter 2 edited: its episode is replaced under the same guid and file name.
    before = (tmp_path / "feed" / "tide-tables-02.mp3").stat().st_size
    with open(work / "chapter-2.txt", "a", encoding="utf-8") as f:
        f.write(EDIT)
    third = update(work, options)
    assert (third.new, third.changed) == ((), (2,))
    assert sorted(third.uploaded) == sorted(["tide-tables-02.mp3", "tide-tables-02.vtt", "tide-tables-02.chapters.json", "feed.xml"])

    fp, pp = _parse(feed)
    assert [e.title for e in fp.entries] == ["Low Water", "Slack Tide", "Spring Tide"]
    assert pp["type"] == "serial" and [e["number"] for e in pp["episodes"]] == [1, 2, 3]
    assert {e.title: e.id for e in fp.entries if e.title in guids} == guids            # guids kept
    dates = [parsedate_to_datetime(e.published) for e in fp.entries]
    assert len(set(dates)) == 3 and dates == sorted(dates)                              # date order = chapter order
    edited = next(e for e in fp.entries if e.title == "Slack Tide")
    after = (tmp_path / "feed" / "tide-tables-02.mp3").stat().st_size
    assert int(edited.enclosures[0].length) == after > before

    # The published copy is the local one, and the edited speech is in it (ffprobe reads it).
    listing = {o["Key"]: o["Size"] for o in bucket.list_objects_v2(Bucket="tide-tables")["Contents"]}
    assert listing["pod/tide-tables-02.mp3"] == after
    assert len([k for k in listing if k.endswith(".mp3")]) == 3
    probe = ffprobe(tmp_path / "feed" / "tide-tables-02.mp3")
    assert float(probe["format"]["duration"]) > 5
    assert probe["format"]["tags"]["title"] == "Tide Tables - Chapter 2: Slack Tide"

    # 4. Nothing new: nothing is written or uploaded.
    stamp = feed.stat().st_mtime_ns
    fourth = update(work, options)
    assert fourth.nothing_new and fourth.uploaded == () and fourth.feed is None
    assert feed.stat().st_mtime_ns == stamp


def test_nothing_new_says_so_and_bad_input_is_one_line(work, tmp_path):
    runner = CliRunner()
    args = ["update", str(work), "--feed", str(tmp_path / "feed"), "--base-url", BASE, "--engine", "test",
            "--cache-dir", str(tmp_path / "cache"), "-j", "1"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "tide-tables-01.mp3" in first.output and "(new:" in first.output
    again = runner.invoke(main, args)
    assert again.exit_code == 0
    assert again.output.strip() == f"Nothing new: all 2 chapters of {work} are in {tmp_path / 'feed'} already."

    # No base URL: refused before any rendering, in one line.
    fresh = tmp_path / "fresh"
    result = runner.invoke(main, ["update", str(work), "--feed", str(fresh), "--engine", "test"])
    assert result.exit_code == 1 and "no base URL" in result.output and "Traceback" not in result.output
    assert not fresh.exists()
    # A source that is not there, an empty work folder.
    result = runner.invoke(main, ["update", str(tmp_path / "nope"), "--feed", str(fresh), "--base-url", BASE])
    assert result.exit_code == 1 and "no such file" in result.output
    (tmp_path / "empty").mkdir()
    result = runner.invoke(main, ["update", str(tmp_path / "empty"), "--feed", str(fresh), "--base-url", BASE])
    assert result.exit_code == 1 and "no chapter files" in result.output
    # A damaged state file: one line saying what to do.
    (tmp_path / "feed" / STATE_NAME).write_text("{not json", encoding="utf-8")
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and "delete it to start over" in result.output


def test_killed_between_feed_and_state_the_next_run_finishes(work, tmp_path, monkeypatch):
    options = _options(tmp_path, engine="test")
    update(work, options)
    (work / "chapter-3.txt").write_text(CHAPTERS["chapter-3.txt"], encoding="utf-8")
    feed = tmp_path / "feed" / "feed.xml"
    state = (tmp_path / "feed" / STATE_NAME).read_bytes()

    def crash(*_):
        raise KeyboardInterrupt   # the run dies after the feed, before the state
    monkeypatch.setattr(update_module, "_save_state", crash)
    with pytest.raises(KeyboardInterrupt):
        update(work, options)
    monkeypatch.undo()
    assert (tmp_path / "feed" / STATE_NAME).read_bytes() == state
    fp, _ = _parse(feed)
    dates = {e.id: e.published for e in fp.entries}
    assert len(fp.entries) == 3

    rerun = update(work, options)
    assert rerun.new == (3,)                      # rendered again (from the cache), not twice in the feed
    fp, _ = _parse(feed)
    assert {e.id: e.published for e in fp.entries} == dates
    assert again_nothing(work, options)


def again_nothing(work, options) -> bool:
    return update(work, options).nothing_new


def test_sigkill_while_rendering_leaves_the_previous_feed(work, tmp_path):
    feed_dir, cache = tmp_path / "feed", tmp_path / "cache"
    args = CLI + ["update", str(work), "--feed", str(feed_dir), "--base-url", BASE, "--cache-dir", str(cache), "-q"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    before = (feed_dir / "feed.xml").read_bytes()
    state = (feed_dir / STATE_NAME).read_bytes()
    # A long new chapter, so the run is caught while its episode is being finished.
    (work / "chapter-3.txt").write_text("Chapter 3: Spring Tide\n\n" + "The tide came in over the wall. " * 400, encoding="utf-8")
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    wait_for(lambda: bool(partial_folders(feed_dir)), 240, proc)
    kill_group(proc)
    assert proc.returncode == -signal.SIGKILL
    assert (feed_dir / "feed.xml").read_bytes() == before            # the previous feed, whole
    assert (feed_dir / STATE_NAME).read_bytes() == state
    assert not (feed_dir / "tide-tables-03.mp3").exists()
    rerun = subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(rerun.stdout)["new"] == [3]
    fp, _ = _parse(feed_dir / "feed.xml")
    assert [e.title for e in fp.entries] == ["Low Water", "Slack Tide", "Spring Tide"]
    assert partial_folders(feed_dir) == []


TEST_SITE_INI = """[teststory:{sid}]
title:Harbour Lights
author_list:lanternfish
datePublished:2024-02-01
dateUpdated:{updated}
chaptertitles:{chapters}

[test1.com]
# the offline test site stamps every chapter with the time it was fetched
replace_chapter_text:Timestamp:[0-9: -]+=>Timestamp
"""


def test_fic_url_new_chapter_is_the_only_one_rendered(tmp_path, monkeypatch):
    pytest.importorskip("fanficfare")
    ini = tmp_path / "personal.ini"
    monkeypatch.setenv("AUDIOFIC_FANFICFARE_INI", str(ini))
    url = "http://test1.com?sid=4242"
    ini.write_text(TEST_SITE_INI.format(sid=4242, updated="2024-03-01", chapters="Prologue,Chapter 1\\, Fog"), encoding="utf-8")
    options = _options(tmp_path, engine="test")
    first = update(url, options)
    assert first.new == (1, 2) and first.source == url
    assert update(url, options).nothing_new

    ini.write_text(TEST_SITE_INI.format(sid=4242, updated="2024-04-10", chapters="Prologue,Chapter 1\\, Fog,Chapter 2\\, Foghorn"),
                   encoding="utf-8")
    second = update(url, options)
    assert (second.new, second.changed) == ((3,), ())
    fp, pp = _parse(tmp_path / "feed" / "feed.xml")
    assert [e.title for e in fp.entries] == ["Prologue", "Fog", "Foghorn"]
    # The source's dates: first chapter published, the latest chapter updated.
    days = [parsedate_to_datetime(e.published).date().isoformat() for e in fp.entries]
    assert days == ["2024-02-01", "2024-03-01", "2024-04-10"]
    assert all(e.link == url for e in fp.entries)
    assert os.path.getsize(tmp_path / "feed" / "harbour-lights-03.mp3") > 0


def test_download_edited_chapter_is_the_only_one_rendered_again(tmp_path):
    """An AO3 download saved again after the author edited chapter 2."""
    source = Path(__file__).parent / "fixtures" / "downloads" / "ao3-multi.html"
    download = tmp_path / "The Cartographer's Daughter.html"
    download.write_bytes(source.read_bytes())
    options = _options(tmp_path, engine="test")
    first = update(download, options)
    assert first.new == (1, 2, 3) and not first.changed
    fp, _ = _parse(tmp_path / "feed" / "feed.xml")
    guids = [e.id for e in fp.entries]

    html = source.read_text(encoding="utf-8")
    edited = html.replace("“That,” said Wren, “is rather the point.”", "“That,” said Wren, “is the whole point.”")
    assert edited != html
    download.write_text(edited, encoding="utf-8")
    second = update(download, options)
    assert (second.new, second.changed) == ((), (2,))
    fp, _ = _parse(tmp_path / "feed" / "feed.xml")
    assert [e.id for e in fp.entries] == guids
    assert update(download, options).nothing_new
