"""Stage: feed. A folder of tagged episodes -> feed.xml (RSS 2.0 + itunes: + podcast:).

Every *.mp3 in the folder is read back with `tag.read_episode`; options come from the
caller, then from `<folder>/show.toml`, then from the episodes themselves. The feed is
built with feedgen (its `podcast` extension writes the itunes: tags) plus a small feedgen
extension of our own for the Podcasting 2.0 `podcast:` namespace.

Building twice from the same folder gives the same bytes: item guids come from the file
name and the work, pubDates from the files (and are kept from an earlier feed.xml).

feedgen lives here and nowhere else.
"""

from __future__ import annotations

import os
import tomllib
import uuid
from collections import Counter
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from . import __version__
from .cover import check_artwork, make_show_art
from .errors import FeedError
from .models import Episode
from .tag import TTS_NOTE, read_episode

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# Podcasting 2.0: podcast:guid is uuid5(this namespace, feed URL without scheme and trailing slash).
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
# Item guids: uuid5 of "<work>/<file name>" in a namespace of our own, so they never change.
EPISODE_GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://audiofic.invalid/episode")

FEED_NAME = "feed.xml"
SHOW_TOML = "show.toml"
DEFAULT_CATEGORY = "Fiction"
CHAPTERS_TYPE = "application/json+chapters"
TRANSCRIPT_TYPE = "text/vtt"


@dataclass(frozen=True)
class FeedOptions:
    """What the user says about the show. None means "not given": show.toml, then a default."""

    base_url: str | None                # where the folder will be served, e.g. https://example.org/podfic
    title: str | None = None            # default: the album common to the episodes
    author: str | None = None           # default: the episodes' author
    email: str | None = None            # itunes:owner email and podcast:locked owner
    description: str | None = None      # default: first summary + credit + text-to-speech note
    language: str | None = None         # default: the episodes' language
    category: str | None = None         # "Fiction", "Arts/Books" ("Category/Subcategory"); default Fiction
    explicit: bool | None = None        # default False
    image: Path | None = None           # show artwork; default: drawn from title and author
    public: bool | None = None          # default False: itunes:block Yes (fan works stay unlisted)


@dataclass(frozen=True)
class FeedResult:
    path: Path          # the feed.xml written
    url: str            # where it will be served (base_url + /feed.xml)
    episodes: int
    guid: str           # podcast:guid of the channel
    image: Path         # the show artwork in the folder


# --- feedgen extension for the podcast: namespace ---------------------------------------


class PodcastIndexExtension(BaseExtension):
    """Channel tags: podcast:guid, podcast:locked; plus itunes:explicit true/false and
    itunes:block Yes, which feedgen's own extension spells in older ways."""

    def __init__(self):
        self._guid: str | None = None
        self._locked: tuple[bool, str | None] | None = None
        self._explicit: bool | None = None
        self._block = False

    def extend_ns(self):
        return {"podcast": PODCAST_NS}

    def extend_rss(self, feed):
        channel = feed[0]
        if self._guid:
            xml_elem(f"{{{PODCAST_NS}}}guid", channel).text = self._guid
        if self._locked is not None:
            locked, owner = self._locked
            element = xml_elem(f"{{{PODCAST_NS}}}locked", channel)
            element.text = "yes" if locked else "no"
            if owner:
                element.attrib["owner"] = owner
        if self._explicit is not None:
            xml_elem(f"{{{ITUNES_NS}}}explicit", channel).text = "true" if self._explicit else "false"
        if self._block:
            xml_elem(f"{{{ITUNES_NS}}}block", channel).text = "Yes"
        return feed

    def extend_atom(self, feed):
        return feed

    def guid(self, value: str) -> None:
        self._guid = value

    def locked(self, value: bool, owner: str | None = None) -> None:
        self._locked = (value, owner)

    def explicit(self, value: bool) -> None:
        self._explicit = value

    def block(self, value: bool) -> None:
        self._block = value


class PodcastIndexEntryExtension(BaseEntryExtension):
    """Item tags: podcast:chapters and podcast:transcript."""

    def __init__(self):
        self._chapters: str | None = None
        self._transcripts: list[dict[str, str]] = []

    def extend_rss(self, item):
        if self._chapters:
            element = xml_elem(f"{{{PODCAST_NS}}}chapters", item)
            element.attrib["url"] = self._chapters
            element.attrib["type"] = CHAPTERS_TYPE
        for transcript in self._transcripts:
            element = xml_elem(f"{{{PODCAST_NS}}}transcript", item)
            for key, value in transcript.items():
                element.attrib[key] = value
        return item

    def extend_atom(self, item):
        return item

    def chapters(self, url: str) -> None:
        self._chapters = url

    def transcript(self, url: str, language: str | None = None) -> None:
        attrs = {"url": url, "type": TRANSCRIPT_TYPE}
        if language:
            attrs["language"] = language
        self._transcripts.append(attrs)


# --- options ------------------------------------------------------------------------------

_BOOL_KEYS = {"explicit", "public"}


def load_show_toml(folder: Path) -> dict:
    """The options in `<folder>/show.toml` (same keys as FeedOptions), checked; {} if absent."""
    path = folder / SHOW_TOML
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FeedError(f"not valid TOML ({exc}); fix the file or remove it", path) from None
    except OSError as exc:
        raise FeedError(f"cannot read ({exc.strerror or exc}); check permissions", path) from None
    known = {f.name for f in fields(FeedOptions)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FeedError(
            f"unknown key(s) {', '.join(unknown)}; known keys are {', '.join(sorted(known))}", path
        )
    values = {}
    for key, value in data.items():
        wanted = bool if key in _BOOL_KEYS else str
        if not isinstance(value, wanted):
            kind = "true or false" if wanted is bool else "a string"
            raise FeedError(f"{key} must be {kind}, not {value!r}", path)
        values[key] = value
    if "image" in values:
        image = Path(values["image"]).expanduser()
        values["image"] = image if image.is_absolute() else folder / image
    return values


def resolve_options(folder: Path, options: FeedOptions) -> FeedOptions:
    """Explicit options win over show.toml; what is still None stays None (defaults later)."""
    from_file = load_show_toml(folder)
    merged = {f.name: getattr(options, f.name) for f in fields(FeedOptions)}
    for key, value in from_file.items():
        if merged.get(key) is None:
            merged[key] = value
    return FeedOptions(**merged)


def _check_base_url(base_url: str | None, folder: Path) -> str:
    if not base_url:
        raise FeedError(
            "no base URL: give --base-url (or base_url in show.toml), the web address the folder will be served from",
            folder,
        )
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FeedError(f"base URL {base_url!r} must start with https:// (or http://) and name a host", folder)
    return base_url.strip().rstrip("/")


def podcast_guid(feed_url: str) -> str:
    """Podcasting 2.0 podcast:guid of a feed URL (scheme and trailing slashes removed)."""
    parts = urlsplit(feed_url)
    bare = feed_url[len(parts.scheme) + 3:] if parts.scheme else feed_url
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare.rstrip("/")))


def episode_guid(episode: Episode) -> str:
    """A guid that depends only on the work and the file name, never on dates or URLs."""
    work = episode.album or episode.title
    return str(uuid.uuid5(EPISODE_GUID_NAMESPACE, f"{work}/{Path(episode.path).name}"))


# --- building -------------------------------------------------------------------------------


def _most_common(values: list[str]) -> str:
    values = [v for v in values if v]
    return Counter(values).most_common(1)[0][0] if values else ""


def _duration(ms: int) -> str:
    seconds = int(round(ms / 1000))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _describe(episode: Episode) -> str:
    """The item description: the stored comment (or summary), with credit and link ensured."""
    text = (episode.comment or episode.summary).strip()
    if episode.author and episode.author not in text:
        text = f"{text}\n\nWritten by {episode.author}.".strip()
    if episode.url and episode.url not in text:
        text = f"{text}\n\nOriginal work: {episode.url}".strip()
    if not text:
        text = TTS_NOTE
    return text


def _old_pub_dates(feed_path: Path) -> dict[str, datetime]:
    """pubDates by guid from an earlier feed.xml, so rebuilding never moves an episode."""
    if not feed_path.is_file():
        return {}
    try:
        from lxml import etree  # feedgen's own dependency

        root = etree.parse(str(feed_path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except Exception:  # an unreadable old feed is simply replaced
        return {}
    dates = {}
    for item in root.iterfind("channel/item"):
        guid, date = item.findtext("guid"), item.findtext("pubDate")
        if guid and date:
            try:
                dates[guid.strip()] = parsedate_to_datetime(date.strip())
            except (TypeError, ValueError):
                continue
    return dates


def _write_atomic(data: bytes, out: Path) -> None:
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise FeedError(f"cannot write the feed ({exc.strerror or exc}); check the folder's permissions", out) from None


def _order_key(episode: Episode):
    return (episode.track is None, episode.track or 0, Path(episode.path).name)


def _url(base_url: str, name: str) -> str:
    return f"{base_url}/{quote(name)}"


def _show_image(folder: Path, image: Path | None, title: str, author: str) -> Path:
    """The show artwork inside the folder (so it is published next to the feed)."""
    stem = "show" if not (folder / "show.mp3").exists() else "show-art"  # never clobber an episode's cover
    if image is None:
        return make_show_art(title, author, folder / f"{stem}.jpg")
    image = Path(image)
    checked = check_artwork(image, folder / f"{stem}.jpg")
    if checked.resolve().parent == folder.resolve():
        return checked
    target = folder / f"{stem}{'.png' if checked.suffix.lower() == '.png' else '.jpg'}"
    _write_atomic(checked.read_bytes(), target)
    return target


def build_feed(folder: Path, options: FeedOptions) -> FeedResult:
    """Write `<folder>/feed.xml` for every *.mp3 in `folder`; return what was written.

    Raises FeedError (naming the folder or file) for an empty folder, a missing or bad base
    URL, an unreadable MP3, a bad show.toml or unusable artwork.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FeedError("no such folder; give the folder that holds the rendered episodes", folder)
    options = resolve_options(folder, options)
    base_url = _check_base_url(options.base_url, folder)
    mp3s = sorted(p for p in folder.glob("*.mp3") if p.is_file() and not p.name.startswith("."))
    if not mp3s:
        raise FeedError("no episodes (*.mp3) in this folder; run `audiofic render` into it first", folder)
    episodes = sorted((read_episode(p) for p in mp3s), key=_order_key)

    title = options.title or _most_common([e.album or e.title for e in episodes])
    author = options.author or _most_common([e.author for e in episodes]) or "Anonymous"
    language = options.language or _most_common([e.language for e in episodes]) or "en"
    summary = next((e.summary.strip() for e in episodes if e.summary.strip()), "")
    description = options.description or "\n\n".join(
        part for part in (summary, f"{title}, written by {author}.", TTS_NOTE) if part
    )
    albums = Counter(e.album or e.title for e in episodes)
    serial = any(e.track is not None for e in episodes) or any(n > 1 for n in albums.values())
    all_tracks = all(e.track is not None for e in episodes)
    feed_url = f"{base_url}/{FEED_NAME}"
    channel_guid = podcast_guid(feed_url)
    image = _show_image(folder, options.image, title, author)

    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.register_extension("podcastindex", PodcastIndexExtension, PodcastIndexEntryExtension)
    fg.title(title)
    fg.description(description)
    fg.link(href=feed_url, rel="self")
    fg.link(href=base_url, rel="alternate")  # the last link is RSS <link>
    fg.language(language)
    fg.generator("audiofic", version=__version__)
    fg.podcast.itunes_author(author)
    fg.podcast.itunes_summary(description)
    fg.podcast.itunes_image(_url(base_url, image.name))
    category = options.category or DEFAULT_CATEGORY
    cat, _, sub = (part.strip() for part in category.replace(">", "/").partition("/"))
    fg.podcast.itunes_category({"cat": cat, "sub": sub} if sub else {"cat": cat})
    fg.podcast.itunes_type("serial" if serial else "episodic")
    if options.email:
        fg.podcast.itunes_owner(name=author, email=options.email)
    fg.podcastindex.guid(channel_guid)
    fg.podcastindex.locked(True, options.email)
    fg.podcastindex.explicit(bool(options.explicit))
    fg.podcastindex.block(not options.public)

    old_dates = _old_pub_dates(folder / FEED_NAME)
    newest = None
    for number, episode in enumerate(episodes, start=1):
        path = Path(episode.path)
        guid = episode_guid(episode)
        published = old_dates.get(guid) or datetime.fromtimestamp(int(path.stat().st_mtime), timezone.utc)
        newest = published if newest is None or published > newest else newest

        fe = fg.add_entry(order="append")
        fe.guid(guid, permalink=False)
        fe.title(episode.title)
        fe.description(_describe(episode))
        if episode.url:
            fe.link(href=episode.url)
        fe.pubDate(published)
        fe.enclosure(_url(base_url, path.name), str(os.path.getsize(path)), "audio/mpeg")
        fe.podcast.itunes_author(episode.author)
        fe.podcast.itunes_duration(_duration(episode.duration_ms))
        if all_tracks:
            fe.podcast.itunes_episode(episode.track)
        elif serial:
            fe.podcast.itunes_episode(number)
        if episode.cover is not None and episode.cover.suffix.lower() in (".jpg", ".png"):
            fe.podcast.itunes_image(_url(base_url, episode.cover.name))
        if episode.chapters_json is not None:
            fe.podcastindex.chapters(_url(base_url, episode.chapters_json.name))
        if episode.transcript is not None:
            fe.podcastindex.transcript(_url(base_url, episode.transcript.name), episode.language)
    fg.lastBuildDate(newest)

    out = folder / FEED_NAME
    _write_atomic(fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True), out)
    return FeedResult(path=out, url=feed_url, episodes=len(episodes), guid=channel_guid, image=image)
