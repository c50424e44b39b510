"""`audiofic update`: a podcast that follows a work while it is being written.

SOURCE is a work folder (one text or download per chapter, in name order, and an optional
`work.toml` with the work's metadata), a download of the whole work, or a fic URL. Each
run reads it, fingerprints every chapter (its text, and everything that changes how it
is read: metadata, sidecars, voices), and compares with the state saved beside the feed:

- new or changed chapters are rendered into the feed folder (the speech cache makes an
  unchanged paragraph free), under the same file names as before, so an edited chapter
  keeps its guid and gets a new enclosure length;
- the feed is rebuilt (earlier pubDates are kept; a new chapter is dated by its source,
  else by when this run first saw it);
- the state is saved, then the folder is published if a destination was given.

Every file is written under a temporary name and renamed, the state after the feed: a run
killed anywhere leaves the previous feed whole, and the next run redoes what is missing
(rendering it again costs only encoding). With nothing new, nothing is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import InputError, RenderError
from .feed import FEED_NAME, FeedOptions, FeedResult, build_feed, check_options
from .models import Document, Episode
from .read import INPUT_SUFFIXES, is_url, read
from .read.sidecar import apply_work_sidecar, read_sidecar, sidecar_path
from .render import Progress, RenderOptions, prepare_out_dir, render_work
from .segment import segment
from .speech import load_lexicon

STATE_NAME = ".audiofic-update.json"
STATE_VERSION = 1
WORK_TOML = "work.toml"   # a work folder's metadata, for every chapter in it

Say = Callable[[str], None]


@dataclass(frozen=True)
class UpdateOptions:
    feed_dir: Path
    render: RenderOptions = field(default_factory=RenderOptions)   # out_dir is set to feed_dir
    feed: FeedOptions = field(default_factory=lambda: FeedOptions(base_url=None))
    publish_to: str | None = None        # folder, file:// or s3:// (see publish)
    endpoint_url: str | None = None


@dataclass(frozen=True)
class UpdateResult:
    source: str
    chapters: int                       # chapters in the source now
    new: tuple[int, ...]                # chapter numbers rendered for the first time
    changed: tuple[int, ...]            # chapter numbers rendered again (edited)
    gone: tuple[int, ...]               # in an earlier run but no longer in the source (episodes kept)
    episodes: tuple[Episode, ...]       # what was rendered
    feed: FeedResult | None             # None when nothing was new
    uploaded: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def nothing_new(self) -> bool:
        return not self.new and not self.changed


@dataclass(frozen=True)
class _Chapter:
    number: int
    fingerprint: str
    path: Path | None = None            # a work folder's chapter file


def update(source: str | Path, options: UpdateOptions, progress: Progress | None = None,
           now: datetime | None = None) -> UpdateResult:
    """Bring the feed in `options.feed_dir` up to date with `source` (see the module)."""
    folder = Path(options.feed_dir)
    if folder.exists() and not folder.is_dir():
        raise RenderError("the feed folder is a file; give a folder with --feed", folder)
    check_options(folder, options.feed)
    render = dataclasses.replace(options.render, out_dir=folder)
    settings = _settings(render)

    path = None if is_url(source) else Path(source)
    if path is not None and path.is_dir():
        chapters = _folder_chapters(path, settings)
        doc = None
        key = str(path.resolve())
    else:
        doc = read(source)          # a download or a URL is read (fetched) once
        chapters = _download_chapters(doc, settings)
        # The work's address when the source names it, so a download and its URL are one work.
        key = doc.meta.url if is_url(doc.meta.url) else str(source) if path is None else str(path.resolve())

    state = _load_state(folder)
    before = state["works"].get(key, {}).get("chapters", {})
    new = tuple(c.number for c in chapters if str(c.number) not in before)
    changed = tuple(
        c.number for c in chapters
        if str(c.number) in before
        and (before[str(c.number)]["fingerprint"] != c.fingerprint or not (folder / before[str(c.number)]["episode"]).is_file())
    )
    numbers = {c.number for c in chapters}
    gone = tuple(sorted(int(n) for n in before if int(n) not in numbers))
    if not new and not changed and (folder / FEED_NAME).is_file():
        # Nothing to render; a publish that failed last time is retried (it uploads only
        # what the destination lacks, so this is nothing when all is there).
        return UpdateResult(key, len(chapters), (), (), gone, (), None, *_publish(folder, options))

    # Chapters the feed has seen keep their dates; a new one takes the source's date, else
    # this run's time -- except on the first run, when nobody knows when older chapters
    # appeared (the feed then places each just after the one before).
    seen = (now or datetime.now(timezone.utc)).replace(microsecond=0).isoformat()
    render = dataclasses.replace(
        render,
        published={int(n): entry.get("published", "") for n, entry in before.items()},
        first_seen=seen if before else "",
    )
    todo = set(new) | set(changed)
    prepare_out_dir(folder)
    episodes: list[Episode] = []
    if doc is not None and todo:
        render = dataclasses.replace(render, split="chapters", parts=frozenset(todo))
        episodes.extend(render_work(doc, render, progress))
    else:
        for chapter in chapters:
            if chapter.number in todo:
                episodes.extend(render_work(_folder_document(chapter), dataclasses.replace(render, split="none"), progress))

    entries = dict(before)
    for chapter in chapters:
        if chapter.number in todo:
            episode = next((e for e in episodes if e.track == chapter.number), None)
            if episode is None:
                raise RenderError(f"chapter {chapter.number} made no episode; run `audiofic plan` on the source to see why", key)
            old = entries.get(str(chapter.number), {}).get("episode")
            if old and old != Path(episode.path).name:     # renamed (the title changed): one episode per chapter
                _remove_episode(folder / old)
            entries[str(chapter.number)] = {
                "fingerprint": chapter.fingerprint,
                "episode": Path(episode.path).name,
                "published": episode.published,
            }
    feed = build_feed(folder, options.feed)
    for entry in entries.values():        # the date listeners saw: kept if the chapter is edited
        entry["published"] = feed.dates.get(entry["episode"]) or entry.get("published", "")
    state["works"][key] = {"chapters": dict(sorted(entries.items(), key=lambda kv: int(kv[0])))}
    _save_state(folder, state)

    return UpdateResult(key, len(chapters), new, changed, gone, tuple(episodes), feed, *_publish(folder, options))


def _publish(folder: Path, options: UpdateOptions) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(uploaded, skipped) file names; nothing without a destination."""
    if not options.publish_to:
        return (), ()
    from .publish import publish   # boto3 only when publishing to S3

    result = publish(folder, options.publish_to, endpoint_url=options.endpoint_url)
    return tuple(result.uploaded), tuple(result.skipped)


# --- chapters and their fingerprints ------------------------------------------------------


def _settings(options: RenderOptions) -> str:
    """What, besides the text, decides how a chapter sounds: a change re-renders them all."""
    return json.dumps({
        "engine": options.engine, "voices": sorted(options.voices.items()), "skip": sorted(options.skip),
        "dialogue": options.dialogue, "header": options.header, "outro": options.outro,
        "placement": options.placement, "bitrate": options.bitrate,
    }, sort_keys=True)


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


# Metadata that is spoken or tagged in every chapter (the counts and dates that change with
# every new chapter are not: they would re-render the whole work each week).
_WORK_FIELDS = ("title", "authors", "fandoms", "summary", "rating", "warnings", "category", "relationships",
                "characters", "tags", "url", "series", "series_part", "language", "show")


def _download_chapters(doc: Document, settings: str) -> list[_Chapter]:
    script = segment(doc, load_lexicon(doc.meta.lexicon))
    meta = script.document.meta
    work = json.dumps({name: getattr(meta, name) for name in _WORK_FIELDS}, sort_keys=True, default=str)
    texts: dict[int, list[str]] = {}
    for seg in script.segments:
        texts.setdefault(seg.part, []).append(f"{seg.role}\t{seg.text}")
    if not texts:
        raise InputError("no chapters with text in it; check it is the work's download", doc.path)
    return [_Chapter(n, _digest(settings, work, "\n".join(lines))) for n, lines in sorted(texts.items())]


def _natural(path: Path) -> list:
    """"chapter-2" before "chapter-10"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name.lower())]


def _folder_chapters(folder: Path, settings: str) -> list[_Chapter]:
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES
                    and not p.name.startswith(".")), key=_natural)
    if not files:
        raise InputError(f"no chapter files ({', '.join(INPUT_SUFFIXES)}) in this work folder; add the first chapter", folder)
    work = _bytes(folder / WORK_TOML)
    chapters: list[_Chapter] = []
    taken: dict[int, Path] = {}
    for position, path in enumerate(files, start=1):
        number = _given_chapter(path) or position
        if number in taken:
            raise InputError(f"chapter {number} is both {taken[number].name} and {path.name}; fix the 'chapter' in their sidecars", folder)
        taken[number] = path
        chapters.append(_Chapter(number, _digest(settings, work, _bytes(path), _bytes(sidecar_path(path))), path))
    return sorted(chapters, key=lambda c: c.number)


def _given_chapter(path: Path) -> int | None:
    value = read_sidecar(path).get("chapter")
    return value if isinstance(value, int) and value > 0 else None


def _folder_document(chapter: _Chapter) -> Document:
    """A work folder's chapter file, with the work's metadata and its chapter number."""
    assert chapter.path is not None
    doc = read(chapter.path)
    meta = apply_work_sidecar(doc.meta, chapter.path.parent / WORK_TOML)
    return dataclasses.replace(doc, meta=dataclasses.replace(meta, chapter=chapter.number))


def _remove_episode(mp3: Path) -> None:
    """An episode this command wrote before, and its sidecars (the MP3 first: it marks a
    finished episode)."""
    stem = mp3.name[: -len(mp3.suffix)]
    for ext in (".mp3", ".jpg", ".vtt", ".chapters.json"):
        (mp3.parent / f"{stem}{ext}").unlink(missing_ok=True)


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes() if path.is_file() else b""
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc}); check permissions", path) from None


# --- state ----------------------------------------------------------------------------------


def _load_state(folder: Path) -> dict:
    path = folder / STATE_NAME
    if not path.is_file():
        return {"version": STATE_VERSION, "works": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RenderError(f"the update state is unreadable ({type(exc).__name__}); delete it to start over (episodes are kept)", path) from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION or not isinstance(state.get("works"), dict):
        raise RenderError("the update state is from another version; delete it to start over (episodes are kept)", path)
    return state


def _save_state(folder: Path, state: dict) -> None:
    path = folder / STATE_NAME
    tmp = folder / f".{STATE_NAME}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        tmp.write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RenderError(f"cannot save the update state ({exc.strerror or exc}); check free space and permissions", path) from None


