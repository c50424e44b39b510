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
import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from . import __version__
from .cover import check_artwork, make_show_art
from .errors import FeedError
from .models import Episode, clean_text
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
PUBDATE_STEP = timedelta(seconds=1)   # the least gap between two episodes' pubDates (RFC 822 counts seconds)
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
    split_shows: bool | None = None     # also one feed per work (feed-<work>.xml); default False


@dataclass(frozen=True)
class FeedResult:
    path: Path          # the feed.xml written
    url: str            # where it will be served (base_url + /feed.xml)
    episodes: int
    guid: str           # podcast:guid of the channel
    image: Path         # the show artwork in the folder
    shows: tuple[Path, ...] = ()   # one feed per show (--split-shows, or a work's `show`)
    dates: dict[str, str] = field(default_factory=dict)   # episode file name -> its pubDate (ISO)


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
        self._explicit: bool | None = None

    def extend_rss(self, item):
        if self._explicit is not None:
            xml_elem(f"{{{ITUNES_NS}}}explicit", item).text = "true" if self._explicit else "false"
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

    def explicit(self, value: bool) -> None:
        self._explicit = value

    def transcript(self, url: str, language: str | None = None) -> None:
        attrs = {"url": url, "type": TRANSCRIPT_TYPE}
        if language:
            attrs["language"] = language
        self._transcripts.append(attrs)


# --- options ------------------------------------------------------------------------------

_BOOL_KEYS = {"explicit", "public", "split_shows"}


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


def check_options(folder: Path, options: FeedOptions) -> FeedOptions:
    """The options merged with show.toml, with the base URL checked: so a caller that
    renders first (`audiofic update`) fails before hours of work, not after."""
    resolved = resolve_options(Path(folder), options)
    _check_base_url(resolved.base_url, Path(folder))
    return resolved


def _check_base_url(base_url: str | None, folder: Path) -> str:
    """The base URL, checked: every enclosure and link is built from it, so it must be a
    plain http(s) address of a folder. Messages never repeat a password given in it."""
    if not base_url or not base_url.strip():
        raise FeedError(
            "no base URL: give --base-url (or base_url in show.toml), the web address the folder will be served from",
            folder,
        )
    url = base_url.strip()
    shown = re.sub(r"//[^/@]*@", "//***@", url)[:200]
    if re.search(r"[\s\x00-\x1f\x7f\"'<>\\^`{|}]", url):
        raise FeedError(f"base URL {shown!r} holds spaces, quotes or brackets; give a plain https:// address", folder)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise FeedError(f"base URL {shown!r} is not a valid address; check the host (and [brackets] of an IPv6 address)", folder) from None
    if parts.scheme not in ("http", "https") or not host:
        raise FeedError(f"base URL {shown!r} must start with https:// (or http://) and name a host", folder)
    if "@" in parts.netloc:
        raise FeedError(f"base URL {shown!r} must not hold a user name or password: they would be published in every link", folder)
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise FeedError(f"base URL {shown!r} must not have a ?query or #fragment; give the folder's address", folder)
    return url.rstrip("/")


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
    episodes = _in_order([_clean(read_episode(p)) for p in mp3s], folder / FEED_NAME)
    try:
        image = _show_image(folder, options.image, _show_title(options, episodes), _show_author(options, episodes))
    except OSError as exc:
        raise FeedError(f"cannot write the show artwork ({exc.strerror or exc}); check the folder's permissions", folder) from None
    path, url, guid = _write_feed(folder, FEED_NAME, episodes, options, base_url, image)
    shows: dict[str, list[tuple[Episode, datetime]]] = {}
    for episode, date in episodes:
        show = episode.show or (_slug(episode.work_title or episode.album or episode.title) if options.split_shows else "")
        if show:
            shows.setdefault(show, []).append((episode, date))
    written = []
    for show, members in shows.items():
        name = f"feed-{_slug(show)}.xml"
        titled = replace(options, title=None) if len(shows) > 1 else options
        written.append(_write_feed(folder, name, members, titled, base_url, image)[0])
    dates = {Path(e.path).name: date.isoformat() for e, date in episodes}
    return FeedResult(path=path, url=url, episodes=len(episodes), guid=guid, image=image, shows=tuple(written), dates=dates)


_TEXT_FIELDS = ("title", "author", "album", "summary", "comment", "language", "work", "work_title", "part_title", "rating", "show")


def _clean(episode: Episode) -> Episode:
    """An episode's texts fit for the feed: tags of an MP3 from elsewhere may hold control
    characters (invalid in XML) or bidi overrides (which make a title display as another)."""
    changes = {}
    for name in _TEXT_FIELDS:
        value = getattr(episode, name)
        cleaned = clean_text(value, multiline=name in ("summary", "comment"))
        if cleaned != value:
            changes[name] = cleaned
    return replace(episode, **changes) if changes else episode


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()).strip("-")[:60] or "show"


def _work_of(episode: Episode) -> str:
    return episode.work or episode.album or episode.title


def _show_title(options: FeedOptions, episodes: list[tuple[Episode, datetime]]) -> str:
    return options.title or _most_common([e.album or e.work_title or e.title for e, _ in episodes])


def _show_author(options: FeedOptions, episodes: list[tuple[Episode, datetime]]) -> str:
    return options.author or _most_common([e.author for e, _ in episodes]) or "Anonymous"


def _published(episode: Episode) -> datetime | None:
    """The source's date for the episode (an ISO date, at noon UTC), or None."""
    try:
        when = datetime.fromisoformat(episode.published.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc) + (timedelta(hours=12) if len(episode.published.strip()) <= 10 else timedelta())
    return when


def _in_order(episodes: list[Episode], old_feed: Path) -> list[tuple[Episode, datetime]]:
    """Every episode with its pubDate, in pubDate order: each work's chapters by number,
    works where their dates put them, and no two dates alike, so a date-sorting app
    (gPodder) shows the feed's order and never sees a tie.

    An episode keeps the date an earlier feed gave it, so a rebuild moves nothing. Else it
    takes the date its source gives; else, after a dated chapter, it comes just after that
    one; else it takes its file's time."""
    old = _old_pub_dates(old_feed)
    works: dict[str, list[Episode]] = {}
    for e in episodes:
        works.setdefault(_work_of(e), []).append(e)
    dated: list[tuple[datetime, int, Episode, bool]] = []   # (date, work rank, episode, date may move)
    for rank, (_, chapters) in enumerate(sorted(works.items())):
        previous: datetime | None = None
        known = False                     # was the previous chapter's date given, not a file time?
        for e in sorted(chapters, key=_order_key):
            date = old.get(episode_guid(e)) or _published(e)
            movable = date is None
            if date is not None:
                known = True
            elif previous is not None and known:
                date = previous + PUBDATE_STEP
            else:
                date = datetime.fromtimestamp(Path(e.path).stat().st_mtime, timezone.utc)   # to the µs: who came first
                known = False
            if previous is not None and date <= previous:   # chapter N+1 is never older than chapter N
                date, movable = previous + PUBDATE_STEP, True
            dated.append((date, rank, e, movable))
            previous = date
    dated.sort(key=lambda item: (item[0], item[1], _order_key(item[2])))
    dates = _distinct([d.replace(microsecond=0) for d, *_ in dated])   # RFC 822 dates count whole seconds
    # Files made in the same second were pushed a second apart, perhaps into the future,
    # where some apps hide an episode until its date: pull them back, keeping the order.
    limit = datetime.now(timezone.utc).replace(microsecond=0)
    for i in reversed(range(len(dates))):
        if dated[i][3] and dates[i] > limit:
            dates[i] = limit
        limit = min(limit, dates[i]) - PUBDATE_STEP
    dates = _distinct(dates)     # (only if a fixed date stood in the way)
    return [(e, date) for (_, _, e, _), date in zip(dated, dates)]


def _distinct(dates: list[datetime]) -> list[datetime]:
    """Each date later than the one before (by PUBDATE_STEP at least)."""
    out: list[datetime] = []
    for date in dates:
        out.append(out[-1] + PUBDATE_STEP if out and date <= out[-1] else date)
    return out


_EXPLICIT = re.compile(r"(?i)\b(?:explicit|mature|nc-?17|adult|r|m|ma)\b")
_CLEAN = re.compile(r"(?i)\b(?:general|teen|g|pg|pg-?13|k\+?|t|all ages)\b")


def _explicit(rating: str) -> bool | None:
    """Whether a work's rating makes an episode explicit (None: the rating does not say)."""
    if _EXPLICIT.search(rating or ""):
        return True
    return False if _CLEAN.search(rating or "") else None


def _item_title(episode: Episode, single_work: bool, chapters_in_work: int) -> str:
    """The title without an episode number (Apple leaves numbers to itunes:episode): the
    chapter's own title, with the work's in a feed of several works. A chapter with no title
    of its own keeps its heading ("Chapter 2"), or every episode would be called the same.
    An MP3 that does not say which work and chapter it is keeps its own title."""
    if not episode.work_title:
        return episode.title
    work = episode.work_title
    if chapters_in_work <= 1 and not episode.part_title:
        return work
    heading = episode.title[len(work) + 3:] if episode.title.startswith(f"{work} - ") else ""
    own = episode.part_title or heading or episode.title
    return own if single_work else f"{work}: {own}"


def _write_feed(folder: Path, name: str, episodes: list[tuple[Episode, datetime]], options: FeedOptions,
                base_url: str, image: Path) -> tuple[Path, str, str]:
    """One feed of these episodes (already in order, with their pubDates), written atomically."""
    title = _show_title(options, episodes)
    author = _show_author(options, episodes)
    language = options.language or _most_common([e.language for e, _ in episodes]) or "en"
    works: dict[str, list[Episode]] = {}
    for e, _ in episodes:
        works.setdefault(_work_of(e), []).append(e)
    single = len(works) == 1
    if single:
        summary = next((e.summary.strip() for e, _ in episodes if e.summary.strip()), "")
        composed = "\n\n".join(part for part in (summary, f"{title}, written by {author}.", TTS_NOTE) if part)
    else:
        listing = "; ".join(f"{eps[0].work_title or eps[0].album or eps[0].title}, by {eps[0].author}" for eps in works.values())
        composed = f"Podfic of {len(works)} works: {listing}.\n\n{TTS_NOTE}"
    description = options.description or composed
    serial = single and (len(episodes) > 1 or any(e.track is not None for e, _ in episodes))
    feed_url = f"{base_url}/{name}"
    channel_guid = podcast_guid(feed_url)
    years = sorted({d.year for _, d in episodes})

    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.register_extension("podcastindex", PodcastIndexExtension, PodcastIndexEntryExtension)
    fg.title(title)
    fg.description(description)
    fg.link(href=feed_url, rel="self")
    fg.link(href=base_url, rel="alternate")  # the last link is RSS <link>
    fg.language(language)
    owners = list(dict.fromkeys(eps[0].author for eps in works.values() if eps[0].author)) or [author]
    since = f"{years[0]} " if years else ""
    fg.copyright(f"© {since}{', '.join(owners)}. {'The works belong to their authors' if len(owners) > 1 else 'The work belongs to its author'};"
                 " read by text-to-speech with audiofic.")
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

    newest = None
    for number, (episode, published) in enumerate(episodes, start=1):
        path = Path(episode.path)
        newest = published if newest is None or published > newest else newest
        fe = fg.add_entry(order="append")
        fe.guid(episode_guid(episode), permalink=False)
        fe.title(_item_title(episode, single, len(works[_work_of(episode)])))
        fe.description(_describe(episode))
        fe.link(href=episode.url or base_url)
        fe.pubDate(published)
        fe.enclosure(_url(base_url, path.name), str(os.path.getsize(path)), "audio/mpeg")
        fe.podcast.itunes_author(episode.author)
        fe.podcast.itunes_duration(str(int(round(episode.duration_ms / 1000))))   # whole seconds, as Apple asks
        explicit = _explicit(episode.rating)
        fe.podcastindex.explicit(bool(options.explicit) if explicit is None else explicit)
        if serial:
            fe.podcast.itunes_episode(episode.track if episode.track is not None else number)
            if episode.series_part:
                fe.podcast.itunes_season(episode.series_part)
        if episode.cover is not None and episode.cover.suffix.lower() in (".jpg", ".png"):
            fe.podcast.itunes_image(_url(base_url, episode.cover.name))
        if episode.chapters_json is not None:
            fe.podcastindex.chapters(_url(base_url, episode.chapters_json.name))
        if episode.transcript is not None:
            fe.podcastindex.transcript(_url(base_url, episode.transcript.name), episode.language)
    fg.lastBuildDate(newest)

    out = folder / name
    _write_atomic(fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True), out)
    return out, feed_url, channel_guid
