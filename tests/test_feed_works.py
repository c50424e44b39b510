"""A feed folder holding several works, as a new user makes one: a one-shot and a
three-chapter work rendered by `audiofic render` into one folder, then `audiofic feed`.

Read back with feedparser and podcastparser, and ordered the way a date-sorting client
(gPodder) orders them: by pubDate.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import podcastparser
import pytest
from lxml import etree

from audiobook.feed import FeedOptions, build_feed
from audiobook.render import RenderOptions, render

BASE = "https://example.org/podfic"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
LEGACY_PODCAST = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"

ONE_SHOT = """Title: Salt and Iron
Author: tidewrack
Fandom: Original Work
Rating: Explicit
Summary: A smith, a sailor, and the one night the harbour froze.

The harbour froze on the longest night of the year, and nobody in the town had seen it happen before.

Idris walked out onto the ice at midnight because the sailor had dared him to.

"It'll hold," said the sailor. "It held the gulls."
"""

SERIAL = """Title: The Orchard Letters
Author: plumwine
Fandom: Original Work
Rating: Teen And Up Audiences
Summary: Two cousins write to each other across one very long summer.

Chapter 1: June

The orchard was loud with bees when the first letter came.

Chapter 2: July

By July the plums were hard and green and the letters came every other day.

Chapter 3: August

In August the letters stopped, and the plums fell, and nobody picked them up.
"""


def _render(folder: Path, tmp_path: Path, name: str, text: str, sidecar: str = "", split: str = "none") -> None:
    source = tmp_path / "texts" / f"{name}.txt"
    source.parent.mkdir(exist_ok=True)
    source.write_text(text, encoding="utf-8")
    if sidecar:
        source.with_suffix(".toml").write_text(sidecar, encoding="utf-8")
    report = render([source], RenderOptions(out_dir=folder, engine="test", jobs=1, split=split, cache_dir=tmp_path / "cache"))
    assert not report.failures, report.failures


@pytest.fixture
def two_works(tmp_path):
    """The fault as found: a one-shot, then a three-chapter work, in one folder, no dates."""
    folder = tmp_path / "feed"
    _render(folder, tmp_path, "salt-and-iron", ONE_SHOT, 'url = "https://archiveofourown.org/works/1001"\n')
    _render(folder, tmp_path, "orchard", SERIAL, split="chapters")
    return folder


def _parse(path: Path):
    data = path.read_bytes()
    fp = feedparser.parse(data)
    assert not fp.bozo, fp.get("bozo_exception")
    legacy = data.replace(b"https://podcastindex.org/namespace/1.0", LEGACY_PODCAST.encode())
    pp = podcastparser.parse(f"{BASE}/feed.xml", io.BytesIO(legacy))
    return fp, pp, etree.fromstring(data)


def _date_sorted_titles(fp) -> list[str]:
    """What a client that sorts by date shows, oldest first."""
    return [e.title for e in sorted(fp.entries, key=lambda e: parsedate_to_datetime(e.published))]


def test_works_in_order_with_distinct_dates(two_works):
    result = build_feed(two_works, FeedOptions(base_url=BASE))
    fp, pp, tree = _parse(result.path)
    titles = [e.title for e in fp.entries]
    # Each work's chapters by number, works by when they came; no date repeated.
    assert titles == ["Salt and Iron", "The Orchard Letters: June", "The Orchard Letters: July", "The Orchard Letters: August"]
    dates = [parsedate_to_datetime(e.published) for e in fp.entries]
    assert len(set(dates)) == 4
    assert dates == sorted(dates)
    assert _date_sorted_titles(fp) == titles
    # podcastparser sorts by date too (newest first).
    assert [e["title"] for e in reversed(pp["episodes"])] == titles
    # No date in the future: apps hide such episodes until then.
    assert max(dates) <= datetime.now(timezone.utc)


def test_several_works_make_an_episodic_show_without_episode_numbers(two_works):
    result = build_feed(two_works, FeedOptions(base_url=BASE))
    fp, pp, tree = _parse(result.path)
    assert pp["type"] == "episodic" == fp.feed.itunes_type
    assert not [e for e in tree.iter(f"{{{ITUNES}}}episode")], "episode numbers across two works mislead"


def test_show_description_is_composed_not_one_chapters_summary(two_works):
    result = build_feed(two_works, FeedOptions(base_url=BASE))
    fp, pp, _ = _parse(result.path)
    description = pp["description"]
    assert "A smith, a sailor" not in description and "Two cousins" not in description
    assert "Salt and Iron" in description and "The Orchard Letters" in description
    assert "tidewrack" in description and "plumwine" in description
    # An explicit description wins; show.toml is read the same way.
    (two_works / "show.toml").write_text('description = "Podfics by two friends."\n', encoding="utf-8")
    fp, pp, _ = _parse(build_feed(two_works, FeedOptions(base_url=BASE)).path)
    assert pp["description"] == "Podfics by two friends."


def test_apples_recommended_tags(two_works):
    result = build_feed(two_works, FeedOptions(base_url=BASE))
    fp, pp, tree = _parse(result.path)
    channel = tree.find("channel")
    copyright_ = channel.findtext("copyright")
    assert "tidewrack" in copyright_ and "plumwine" in copyright_ and "audiofic" in copyright_
    items = channel.findall("item")
    explicit = [item.findtext(f"{{{ITUNES}}}explicit") for item in items]
    assert explicit == ["true", "false", "false", "false"]      # Explicit vs Teen And Up
    links = [item.findtext("link") for item in items]
    assert links[0] == "https://archiveofourown.org/works/1001"   # the work's URL
    assert all(link == BASE for link in links[1:])                 # no URL: the show's page
    for item in items:
        assert re.fullmatch(r"\d+", item.findtext(f"{{{ITUNES}}}duration"))
        assert not re.search(r"(?i)\bchapter\s+\d", item.findtext("title"))


def test_one_multi_chapter_work_is_serial_with_episode_numbers(tmp_path):
    folder = tmp_path / "feed"
    _render(folder, tmp_path, "orchard", SERIAL, 'series = "Summer Cycle"\nseries_part = 2\n', split="chapters")
    fp, pp, tree = _parse(build_feed(folder, FeedOptions(base_url=BASE)).path)
    assert pp["type"] == "serial"
    assert [e["number"] for e in pp["episodes"]] == [1, 2, 3]      # podcastparser orders a serial show by number
    assert [e.title for e in fp.entries] == ["June", "July", "August"]   # numbers are itunes:episode's
    assert [e.itunes_season for e in fp.entries] == ["2", "2", "2"]      # its place in the series
    assert "Two cousins" in pp["description"]                            # the work's own summary


def test_source_dates_order_the_works(tmp_path):
    """Dated works: the older work first whatever order they were rendered in; its first
    chapter on the day it was published, its latest on the day it was updated."""
    folder = tmp_path / "feed"
    _render(folder, tmp_path, "orchard", SERIAL, 'published = "2019-06-01"\nupdated = "2019-08-30"\n', split="chapters")
    _render(folder, tmp_path, "salt-and-iron", ONE_SHOT, 'published = "2021-12-21"\n')
    fp, _, _ = _parse(build_feed(folder, FeedOptions(base_url=BASE)).path)
    dates = [parsedate_to_datetime(e.published) for e in fp.entries]
    assert [e.title for e in fp.entries][-1] == "Salt and Iron"
    assert [d.date().isoformat() for d in dates] == ["2019-06-01", "2019-06-01", "2019-08-30", "2021-12-21"]
    assert len(set(dates)) == 4 and dates == sorted(dates)


def test_split_shows_writes_a_feed_per_work(two_works):
    result = build_feed(two_works, FeedOptions(base_url=BASE, split_shows=True))
    assert sorted(p.name for p in result.shows) == ["feed-salt-and-iron.xml", "feed-the-orchard-letters.xml"]
    fp, pp, _ = _parse(two_works / "feed-the-orchard-letters.xml")
    assert [e.title for e in fp.entries] == ["June", "July", "August"]
    assert pp["type"] == "serial" and pp["title"] == "The Orchard Letters"
    assert fp.feed.links[0].href == f"{BASE}/feed-the-orchard-letters.xml" or any(
        link.href == f"{BASE}/feed-the-orchard-letters.xml" for link in fp.feed.links)
    fp, pp, _ = _parse(two_works / "feed-salt-and-iron.xml")
    assert [e.title for e in fp.entries] == ["Salt and Iron"]
    # The combined feed is still there, with everything.
    assert len(_parse(result.path)[0].entries) == 4


def test_show_key_in_the_sidecar_puts_a_work_in_its_own_feed(tmp_path):
    folder = tmp_path / "feed"
    _render(folder, tmp_path, "salt-and-iron", ONE_SHOT, 'show = "Winter Stories"\n')
    _render(folder, tmp_path, "orchard", SERIAL, split="chapters")
    result = build_feed(folder, FeedOptions(base_url=BASE))
    assert [p.name for p in result.shows] == ["feed-winter-stories.xml"]
    fp, _, _ = _parse(result.shows[0])
    assert [e.title for e in fp.entries] == ["Salt and Iron"]


def test_chapters_without_titles_keep_their_headings(tmp_path):
    """No chapter title of its own: the heading is the only name it has, rather than four
    episodes all called after the work."""
    folder = tmp_path / "feed"
    text = "Title: Untitled Weather\nAuthor: drizzle\n\nChapter 1\n\nIt rained.\n\nChapter 2\n\nIt rained harder.\n"
    _render(folder, tmp_path, "weather", text, split="chapters")
    fp, _, _ = _parse(build_feed(folder, FeedOptions(base_url=BASE)).path)
    assert [e.title for e in fp.entries] == ["Chapter 1", "Chapter 2"]
