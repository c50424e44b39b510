"""Podcast feed: built from real tagged MP3s, parsed with feedparser and podcastparser."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import feedparser
import podcastparser
import pytest
from tests.helpers_media import make_episode, make_mp3
from lxml import etree
from PIL import Image

from audiobook.errors import FeedError
from audiobook.feed import FeedOptions, build_feed, episode_guid
from audiobook.tag import read_episode

BASE = "https://example.org/podfic/"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
LEGACY_PODCAST = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
WEIRD = 'Tom & Jerry <3 "quoted" it\'s 💜 <b>not bold</b>'
WORK_URL = "https://archiveofourown.org/works/1?view_adult=true&x=<1>"


@pytest.fixture
def show(tmp_path):
    """A two-chapter work, out of order on disk, one episode with cover art and sidecars."""
    folder = tmp_path / "show"
    folder.mkdir()
    make_episode(folder, "b-second", title="Chapter 2: Letters", album="The Work", track=2, sidecars=False)
    make_episode(
        folder, "a-first", title=f"Chapter 1: {WEIRD}", album="The Work", track=1,
        summary=f"Summary: {WEIRD}", url=WORK_URL, cover=True, author="Au & Thor",
    )
    return folder


def _options(**kw) -> FeedOptions:
    values = dict(base_url=BASE, email="owner@example.org")
    values.update(kw)
    return FeedOptions(**values)


def _parse(path: Path):
    data = path.read_bytes()
    fp = feedparser.parse(data)
    assert not fp.bozo, fp.get("bozo_exception")
    # podcastparser 0.6.11 knows the podcast: namespace only by its legacy URI, which the
    # Podcasting 2.0 spec declares identical to https://podcastindex.org/namespace/1.0
    # (clients must accept both); the feed uses the official one. Give podcastparser the alias.
    assert data.count(PODCAST.encode()) == 1
    legacy = data.replace(PODCAST.encode(), LEGACY_PODCAST.encode())
    pp = podcastparser.parse(BASE + "feed.xml", io.BytesIO(legacy))
    tree = etree.fromstring(data)
    return fp, pp, tree


def test_channel(show):
    result = build_feed(show, _options())
    assert result.path == show / "feed.xml"
    assert result.episodes == 2
    fp, pp, tree = _parse(result.path)
    assert tree.nsmap["itunes"] == ITUNES and tree.nsmap["podcast"] == PODCAST
    channel = tree.find("channel")

    assert pp["title"] == fp.feed.title == "The Work"
    assert pp["link"] == "https://example.org/podfic"
    assert pp["language"] == "en"
    assert pp["itunes_author"] == "Au & Thor"  # the first chapter's author wins a tie
    assert pp["itunes_owner"] == {"name": pp["itunes_author"], "email": "owner@example.org"}
    assert pp["type"] == "serial"
    assert pp["explicit"] is False
    assert channel.findtext(f"{{{ITUNES}}}explicit") == "false"
    assert pp["itunes_categories"] == [["Fiction"]]
    assert "text-to-speech" in pp["description"]

    # podcast:guid = uuid5(namespace, feed URL without scheme and trailing slash)
    expected = uuid.uuid5(uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), "example.org/podfic/feed.xml")
    assert channel.findtext(f"{{{PODCAST}}}guid") == str(expected) == result.guid
    assert fp.feed.podcast_guid == str(expected)
    assert fp.feed.itunes_type == "serial"
    locked = channel.find(f"{{{PODCAST}}}locked")
    assert locked.text == "yes" and locked.get("owner") == "owner@example.org"
    assert pp["import_prohibited"] is True

    # Unlisted by default.
    assert channel.findtext(f"{{{ITUNES}}}block") == "Yes"

    # Show artwork generated into the folder, linked under base_url, square RGB 1400-3000.
    assert pp["cover_url"] == BASE + result.image.name
    assert result.image.parent == show
    art = Image.open(result.image)
    assert art.mode == "RGB" and art.size[0] == art.size[1] and 1400 <= art.size[0] <= 3000
    assert fp.feed.image.href == pp["cover_url"]


def test_items(show):
    result = build_feed(show, _options())
    fp, pp, tree = _parse(result.path)
    episodes = pp["episodes"]
    # Play order by track, whatever the file names say.
    assert [e["number"] for e in episodes] == [1, 2]
    first, second = episodes
    assert first["title"] == f"Chapter 1: {WEIRD}"
    assert fp.entries[0].title == f"Chapter 1: {WEIRD}"

    for entry, stem in ((first, "a-first"), (second, "b-second")):
        mp3 = show / f"{stem}.mp3"
        (enclosure,) = entry["enclosures"]
        assert enclosure["url"] == BASE + f"{stem}.mp3"
        assert enclosure["file_size"] == os.path.getsize(mp3)
        assert enclosure["mime_type"] == "audio/mpeg"
        assert entry["total_time"] == round(read_episode(mp3).duration_ms / 1000) == 3
        assert entry["published"] > 0

    assert first["chapters_json_url"] == BASE + "a-first.chapters.json"
    assert first["transcript_url"] == BASE + "a-first.vtt"
    assert first["episode_art_url"] == BASE + "a-first.jpg"
    assert "chapters_json_url" not in second and "transcript_url" not in second
    assert fp.entries[0].podcast_chapters == {
        "url": BASE + "a-first.chapters.json", "type": "application/json+chapters",
    }
    assert fp.entries[0].podcast_transcript["url"] == BASE + "a-first.vtt"
    assert fp.entries[0].podcast_transcript["type"] == "text/vtt"
    assert [e.itunes_episode for e in fp.entries] == ["1", "2"]
    assert int(fp.entries[0].enclosures[0].length) == os.path.getsize(show / "a-first.mp3")
    assert second.get("episode_art_url") is None

    items = tree.findall("channel/item")
    chapters = items[0].find(f"{{{PODCAST}}}chapters")
    assert chapters.get("type") == "application/json+chapters"
    transcript = items[0].find(f"{{{PODCAST}}}transcript")
    assert transcript.get("type") == "text/vtt"
    assert items[0].find("guid").get("isPermaLink") == "false"
    assert items[0].findtext(f"{{{ITUNES}}}duration") == "3"        # whole seconds, as Apple recommends

    # Description: summary, credit to the author, link to the original work; escaped right.
    description = items[0].findtext("description")
    assert f"Summary: {WEIRD}" in description
    assert "Au & Thor" in description
    assert WORK_URL in description
    assert first["link"] == WORK_URL
    assert fp.entries[0].link == WORK_URL


def test_escaping_round_trips_through_both_parsers(tmp_path):
    folder = tmp_path / "esc"
    make_episode(folder, "ep", title=WEIRD, album=WEIRD, author='A "B" & <C> 🌈', summary=WEIRD)
    result = build_feed(folder, FeedOptions(BASE, description=f"About: {WEIRD}"))
    raw = result.path.read_bytes()
    assert b"<b>" not in raw and "💜".encode() in raw
    fp, pp, tree = _parse(result.path)
    assert tree.findtext("channel/title") == WEIRD
    assert tree.findtext("channel/item/title") == WEIRD
    assert tree.findtext(f"channel/{{{ITUNES}}}author") == 'A "B" & <C> 🌈'
    assert tree.findtext("channel/description") == f"About: {WEIRD}"
    assert pp["title"] == WEIRD
    assert pp["episodes"][0]["title"] == WEIRD
    assert fp.entries[0].title == WEIRD
    assert pp["itunes_author"] == 'A "B" & <C> 🌈'
    assert pp["type"] == "episodic"
    assert "number" not in pp["episodes"][0] or pp["episodes"][0]["number"] is None


def test_guids_and_bytes_are_stable_across_runs(show):
    first = build_feed(show, _options()).path.read_bytes()
    guids1 = [i.findtext("guid") for i in etree.fromstring(first).findall("channel/item")]
    # Touching the files (a re-render) must not change guids or pubDates.
    for mp3 in show.glob("*.mp3"):
        os.utime(mp3, (1_000_000_000, 1_000_000_000))
    second = build_feed(show, _options()).path.read_bytes()
    guids2 = [i.findtext("guid") for i in etree.fromstring(second).findall("channel/item")]
    assert guids1 == guids2 and len(set(guids1)) == 2
    assert first == second
    # Even without the old feed, the guid depends only on the work and the file name.
    (show / "feed.xml").unlink()
    third = build_feed(show, _options()).path.read_bytes()
    assert [i.findtext("guid") for i in etree.fromstring(third).findall("channel/item")] == guids1
    assert guids1[0] == episode_guid(read_episode(show / "a-first.mp3"))


def test_public_feed_is_not_blocked(show):
    fp, pp, tree = _parse(build_feed(show, _options(public=True, explicit=True)).path)
    channel = tree.find("channel")
    assert channel.find(f"{{{ITUNES}}}block") is None
    assert channel.findtext(f"{{{ITUNES}}}explicit") == "true"
    assert pp["explicit"] is True


def test_single_untracked_episode_is_episodic_without_owner(tmp_path):
    folder = tmp_path / "one"
    make_episode(folder, "solo", title="A One-Shot", sidecars=False)
    _, pp, tree = _parse(build_feed(folder, FeedOptions(BASE)).path)
    assert pp["type"] == "episodic"
    assert "itunes_owner" not in pp
    assert tree.find(f"channel/{{{PODCAST}}}locked").text == "yes"
    assert pp["title"] == "A One-Shot"


def test_show_toml_and_explicit_options(show):
    image = show.parent / "art.png"
    Image.new("RGBA", (2000, 1600), (0, 128, 255, 255)).save(image)
    (show / "show.toml").write_text(
        'base_url = "https://toml.example.net/x"\n'
        'title = "From TOML"\n'
        'author = "Toml Author"\n'
        'email = "toml@example.net"\n'
        'category = "Arts/Books"\n'
        'language = "de"\n'
        'public = true\n'
        f'image = "../{image.name}"\n',
        encoding="utf-8",
    )
    result = build_feed(show, FeedOptions(None, title="From CLI", public=False))
    _, pp, tree = _parse(result.path)
    assert pp["title"] == "From CLI"                      # explicit wins
    assert pp["itunes_author"] == "Toml Author"          # show.toml fills the rest
    assert pp["language"] == "de"
    assert pp["itunes_categories"] == [["Arts", "Books"]]
    assert tree.find(f"channel/{{{ITUNES}}}block") is not None  # public=False given explicitly
    assert result.url == "https://toml.example.net/x/feed.xml"
    assert pp["episodes"][0]["enclosures"][0]["url"].startswith("https://toml.example.net/x/")
    # The RGBA 2000x1600 PNG was fixed into square RGB artwork inside the folder.
    assert result.image.parent == show
    art = Image.open(result.image)
    assert art.mode == "RGB" and art.size == (1600, 1600)


def test_bad_show_toml(show):
    (show / "show.toml").write_text('colour = "blue"\n', encoding="utf-8")
    with pytest.raises(FeedError, match="colour") as info:
        build_feed(show, _options())
    assert info.value.path == str(show / "show.toml")
    (show / "show.toml").write_text("public = 'yes'\n", encoding="utf-8")
    with pytest.raises(FeedError, match="true or false"):
        build_feed(show, _options())
    (show / "show.toml").write_text("public = \n", encoding="utf-8")
    with pytest.raises(FeedError, match="TOML"):
        build_feed(show, _options())


def test_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(FeedError, match=r"no episodes \(\*\.mp3\)") as info:
        build_feed(tmp_path, _options())
    assert info.value.path == str(tmp_path)
    assert not (tmp_path / "feed.xml").exists()


def test_missing_or_bad_base_url(show):
    with pytest.raises(FeedError, match="base-url"):
        build_feed(show, FeedOptions(None))
    with pytest.raises(FeedError, match="https://"):
        build_feed(show, FeedOptions("example.org/podfic"))


def test_unreadable_mp3_names_the_file(show):
    bad = show / "c-broken.mp3"
    bad.write_text("not audio\n" * 50)
    with pytest.raises(FeedError) as info:
        build_feed(show, _options())
    assert info.value.path == str(bad)


def test_untagged_mp3_still_works(tmp_path):
    make_mp3(tmp_path / "raw take.mp3", seconds=2)
    _, pp, _ = _parse(build_feed(tmp_path, FeedOptions(BASE)).path)
    (episode,) = pp["episodes"]
    assert episode["title"] == "raw take"
    assert episode["enclosures"][0]["url"] == BASE + "raw%20take.mp3"
