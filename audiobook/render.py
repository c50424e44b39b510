"""`audiofic render` as a library call: texts in, tagged MP3 episodes and sidecars out.

read -> segment -> cast -> speak -> assemble -> master -> tag, for every input. Every file
is written under a temporary name and renamed into place, sidecars first and the MP3
last, so an MP3 under its final name is always a finished episode. With --format m4b or
both, a work's audiobook (<slug>.m4b, one for the whole work) is encoded from the same
stretches as they are made (master/m4b.py) and renamed into place last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from anyascii import anyascii   # transliteration for file names (ISC)

try:
    import fcntl      # locks on work folders (POSIX); elsewhere, age alone tells a stale one
except ImportError:   # pragma: no cover - Windows
    fcntl = None

from . import assemble as assembly
from . import master, paths, shared, transcript
from .errors import DEBUG_ENV, AudioficError, RenderError, VoiceError, unexpected
from .models import Chapter, Document, Episode, Piece, Program, Script, Utterance, short_text
from .read import find_inputs, read
from .segment import segment
from .speech import load_lexicon, to_speech
from .synth import SpeakStats, speak
from .master import m4b
from .tag import read_episode, write_m4b_tags, write_tags
from .speech.language import name as language_name
from .speech.language import primary as language_primary
from .speech.language import words as language_words
from .voices import cast, for_engine, load_profiles, resolve_cast, with_language

Progress = Callable[[str, int, int], None]   # (stage, done, total)


@dataclass(frozen=True)
class RenderOptions:
    out_dir: Path = Path("output")
    engine: str | None = None            # --engine: every role spoken by it (None: as the profiles say)
    cache_dir: Path | None = None
    use_cache: bool = True
    jobs: int | None = None
    voices: dict[str, str] = field(default_factory=dict)   # role -> profile (--voice)
    skip: frozenset[str] = frozenset()   # roles not read: "note" (--notes skip), "lyrics" (--lyrics skip)
    dialogue: str = "characters"         # --dialogue off | one | characters (see voices.cast)
    # For the feed's order (see _feed_fields), from `audiofic update`: the dates chapters
    # were given before (chapter number -> ISO date), and the date a new chapter takes
    # when the source gives it none.
    published: Mapping[int, str] = field(default_factory=dict)
    first_seen: str = ""
    parts: frozenset[int] | None = None  # render only these chapters (None: all)
    header: bool = True
    outro: bool = True
    split: str = "none"              # "none": one episode per text; "chapters": one per chapter heading
    placement: str | None = None     # interludes: "inline" / "spread" (default: the sidecar's, else inline)
    bitrate: int = 64
    format: str = "mp3"              # "mp3": episodes; "m4b": one audiobook a work; "both"


@dataclass(frozen=True)
class RenderReport:
    outputs: tuple[Episode, ...]
    failures: tuple[tuple[str, str], ...]   # (input, one-line error)
    speech: SpeakStats                       # clips synthesized vs taken from the cache


def slugify(title: str, fallback: str = "episode") -> str:
    """A safe file name stem: ASCII letters, digits and dashes, no dots or separators.
    Other scripts are transliterated ("Привет мир" -> "privet-mir"); a title with nothing
    to transliterate (emoji) gets a short hash of itself, so two such titles never share
    a name."""
    letters = "".join(ch for ch in title if not unicodedata.category(ch).startswith("S"))   # no emoji names
    slug = re.sub(r"[^a-z0-9]+", "-", anyascii(letters).lower()).strip("-")[:80].strip("-")
    if slug:
        return slug
    return f"{fallback}-{hashlib.sha256(title.encode('utf-8')).hexdigest()[:8]}" if title.strip() else fallback


def render(sources: list[Path | str], options: RenderOptions, progress: Progress | None = None) -> RenderReport:
    """Render every work (folders expand to their works; URLs are fetched); a bad file
    or URL does not stop the rest. The cache and the output may be stores (shared.py)."""
    outputs: list[Episode] = []
    inputs, failures = gather(sources)
    taken: set[str] = set()
    stats = SpeakStats()
    if not inputs:
        return RenderReport((), tuple(failures), stats)
    with shared.places(options.cache_dir, options.out_dir, options.use_cache) as where:
        prepare_out_dir(where.out)   # (not before: bad inputs alone write nothing)
        here = dataclasses.replace(options, cache_dir=where.cache, out_dir=where.out)
        for path in inputs:
            try:
                if where.remote:
                    plan = plan_in(where, path, here, taken)
                    outputs.extend(render_in(where, plan, here, progress, stats))
                else:
                    outputs.extend(render_work(path, here, progress, taken, stats))
            except AudioficError as exc:
                failures.append((exc.path or str(path), exc.message))
            except Exception as exc:   # a fault of ours or a library's: this work fails, the batch goes on
                if os.environ.get(DEBUG_ENV):
                    raise
                failures.append((str(path), unexpected(exc)))
    return RenderReport(tuple(outputs), tuple(failures), stats)


def plan_in(where: shared.Places, source: Path | str, options: RenderOptions, taken: set[str]) -> WorkPlan:
    """plan_work, naming the episodes against what an output store already holds: a store's
    episodes named like this work's are brought into staging (rarely any) and it is named again."""
    before = set(taken)
    plan = plan_work(source, options, taken)
    if where.pull_namesakes(plan.stems):
        taken.clear()
        taken.update(before)
        plan = plan_work(source, options, taken)
    return plan


def render_in(where: shared.Places, plan: WorkPlan, options: RenderOptions, progress: Progress | None = None,
              stats: SpeakStats | None = None) -> list[Episode]:
    """render_work of a planned work when the cache or the output is a store: the clips the
    store holds come down first, the new ones go up after, and then the episodes, each file
    whole."""
    missing = where.pull_clips(shared.utterance_keys(plan.utterances, options.engine))
    episodes = render_work(plan, options, progress, None, stats, mirror=where.mirror())
    where.push_clips(missing)
    return [where.push_episode(episode) for episode in episodes]


def gather(sources: list[Path | str]) -> tuple[list[Path | str], list[tuple[str, str]]]:
    """The works named (folders expanded), and a one-line error for each source that is unusable."""
    inputs: list[Path | str] = []
    failures: list[tuple[str, str]] = []
    for source in sources:
        try:
            inputs.extend(find_inputs([source]))
        except AudioficError as exc:
            failures.append((exc.path or str(source), exc.message))
    return inputs, failures


def prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise RenderError("output path is a file, not a folder; choose a folder with -o", out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RenderError(f"cannot create the output folder ({exc.strerror}); choose another with -o", out_dir) from None
    if not os.access(out_dir, os.W_OK):
        raise RenderError("output folder is not writable; choose another with -o", out_dir)


def _parts(script: Script, split: str) -> list[Script]:
    if split != "chapters":
        return [script]
    numbers = sorted({s.part for s in script.segments})
    return [dataclasses.replace(script, segments=tuple(s for s in script.segments if s.part == n)) for n in numbers]


def _header_text(script: Script, part_title: str | None) -> str:
    """What the episode says first: the title and the author, then (in English) the
    fandom, rating, warnings and that a machine reads it. A work in another language hears
    only its title, author and fandom, in its own voice: the rest would be English words
    ("Rated", "Warnings", the archive's English labels) said by, say, a Russian voice."""
    meta = script.document.meta
    own = language_words(meta.language)
    title = meta.title + (f", {part_title}" if part_title else "")
    if not own.english:
        return " ".join(filter(None, [_credit(title, meta, own.by), f"{meta.fandom}." if meta.fandom else ""]))
    words = [f"{title}, by {meta.author}."]
    if meta.fandom:
        words.append(f"{meta.fandom}.")
    if meta.rating:
        words.append(f"Rated {meta.rating}.")
    if meta.warnings:
        words.append(f"Warnings: {', '.join(meta.warnings)}.")
    words.append("Read by text-to-speech.")
    return " ".join(words)


def _outro_text(script: Script) -> str:
    """The credits at the end. In a language other than English: the title and author
    again, and the songs quoted, without English words around them."""
    meta = script.document.meta
    own = language_words(meta.language)
    quoted = script.quoted_songs
    if not own.english:
        text = _credit(meta.title, meta, own.by)
        if quoted:
            text += " " + "; ".join(_song_credit(s, f", {own.by} " if own.by else ", ") for s in quoted) + "."
        return text
    text = f"You have been listening to {meta.title}, by {meta.author}."
    if meta.url:
        text += f" The original work is at {meta.url} ."
    if quoted:
        text += " Lyrics quoted from " + "; ".join(_song_credit(s, ", by ") for s in quoted) + "."
    return text + " Thank you for listening."


def _credit(title: str, meta, by: str) -> str:
    """"Title, de Author." (the language's word for "by", where we have one), "Title. Author."
    (where we have none), or "Title." for a work with no author named: "Anonymous" is English."""
    if not meta.authors:
        return f"{title}."
    authors = ", ".join(meta.authors)       # (meta.author joins the last with an English "and")
    return f"{title}, {by} {authors}." if by else f"{title}. {authors}."


def _song_credit(song, by: str = " - ") -> str:
    return f"{song.title}{by}{song.artist}" if song.artist else song.title


def work_profiles(language: str | None, engine: str | None) -> dict:
    """The voice profiles a work is read with: spoken by `engine` (--engine) and in the
    work's language and accent."""
    return with_language(for_engine(load_profiles(), engine), language)


def _voices_for(utterances: list[Utterance], engine: str | None, meta) -> dict:
    """profile -> the engine voice id that speaks it, for every profile the utterances use.
    A profile no installed voice fits raises VoiceError; when that is for want of a voice
    in the work's language, the message names the language, where it came from and what
    to do."""
    from .engines import get_engine

    found: dict = {}
    for profile in dict.fromkeys(u.profile for u in utterances):
        name = engine or profile.engine
        try:
            found[profile] = get_engine(name).resolve(profile)
        except VoiceError as exc:
            if language_primary(profile.language) != language_primary(meta.language) or language_primary(meta.language) == "en":
                raise
            source = "its metadata says so" if "language" in meta.given else "detected from its script"
            if name == "piper":      # the engine's message names the language and what to do
                raise VoiceError(f"{exc.message} (the work's language: {source})") from None
            raise VoiceError(
                f"no {name} voice speaks {language_name(meta.language)}, the work's language ({source}); "
                f"install a voice for it, or render with another --engine, or set the work's language "
                f"in its sidecar (language = \"en\") if that is wrong"
            ) from None
    return found


def _narrated_by(profiles) -> str:
    engines = {p.engine for p in profiles}
    if engines == {"piper"}:
        models = sorted({Path(p.model).stem if p.model else "the bundled voice" for p in profiles})
        return f"a neural voice (Piper: {', '.join(models)})"
    if engines == {"pyttsx3"}:
        return "text-to-speech (eSpeak NG)"
    return "text-to-speech"


def _comment(script: Script, narrated_by: str = "text-to-speech (eSpeak NG)") -> str:
    meta = script.document.meta
    lines = [meta.summary] if meta.summary else []
    credit = f"Written by {meta.author}." + (f" Fandom: {meta.fandom}." if meta.fandom else "")
    lines.append(credit + (f" Original: {meta.url}" if meta.url else ""))
    if meta.rating or meta.warnings:
        lines.append(" ".join(filter(None, [f"Rating: {meta.rating}." if meta.rating else "", f"Warnings: {', '.join(meta.warnings)}." if meta.warnings else ""])))
    for label, items in (("Relationships", meta.relationships), ("Characters", meta.characters), ("Tags", meta.category + meta.tags)):
        if items:
            lines.append(f"{label}: {', '.join(items)}.")
    if meta.series:
        lines.append(f"Part {meta.series_part} of {meta.series}." if meta.series_part else f"Series: {meta.series}.")
    songs = script.songs
    if songs:
        lines.append("Music (the author's playlist, as interludes): " + "; ".join(_song_credit(s) for s in songs) + ".")
    if script.quoted_songs:
        lines.append("Lyrics quoted in the story: " + "; ".join(_song_credit(s) for s in script.quoted_songs) + ".")
    lines.append(f"Narrated by {narrated_by} with audiofic.")
    return "\n".join(lines)


@dataclass(frozen=True)
class WorkPlan:
    """What a work will say and where its episodes go, before anything is spoken: made once
    (by render_work here, or by a Dask client that sends it to the workers, cluster.py)."""

    script: Script
    utterances: list[Utterance]      # everything every part says, in play order
    parts: list[tuple]               # (part script, part title, {"header"/"outro": utterance}, segment -> utterance(s))
    stems: list[str]                 # the episodes' file names, one a part
    book_stem: str                   # the work's M4B name
    split: bool
    last: int | None                 # the work's last chapter number (split), for the feed's dates
    cover: bytes                     # the episodes' artwork, made (and checked) before any speech
    spoken_by: dict                  # profile -> the engine voice that speaks it (found before any speech)


def plan_work(source: Path | str | Document, options: RenderOptions, taken: set[str] | None = None) -> WorkPlan:
    """Read, segment and cast one work, and name its episodes (taking names from `taken`)."""
    taken = set() if taken is None else taken
    doc = source if isinstance(source, Document) else read(source)
    lexicon = load_lexicon(doc.meta.lexicon)
    segmented = segment(doc, lexicon)
    meta = segmented.document.meta       # with what a header block in the text adds, and its language
    profiles = work_profiles(meta.language, options.engine)
    script = cast(segmented, profiles, options.voices, options.skip, options.dialogue)
    voices = {**profiles, **script.profiles}   # with the characters' voices
    roles = resolve_cast(profiles, doc.meta.cast, options.voices)
    parts = _parts(script, options.split)
    split = options.split == "chapters"
    last = parts[-1].segments[0].part if split and parts else None
    if split and options.parts is not None:
        parts = [part for part in parts if part.segments[0].part in options.parts]
    # A text that is one chapter of a longer work (a sidecar `chapter = N`, or a work
    # folder followed by `audiofic update`) is titled like a split-off chapter.
    chapter_of_work = not split and meta.chapter is not None
    # The files the work names (cover, songs) are checked before a word is spoken: a bad one
    # fails the work in seconds, not after it has all been spoken and encoded.
    cover = _cover(meta, paths.cache_dir(options.cache_dir) / "covers" if options.use_cache else None)
    for part in parts:
        assembly.check_songs(part, options.placement)

    # Everything every part says, in one batch, so the workers stay busy across parts.
    utterances: list[Utterance] = []
    plans = []
    for part in parts:
        headings = [s.text for s in part.segments if s.role == "heading"]
        number = part.segments[0].part if split else meta.chapter
        part_title = short_text(headings[0] if headings else f"Chapter {number}") if split or chapter_of_work else None
        extra: dict[str, int] = {}
        if options.header:
            extra["header"] = len(utterances)
            utterances.append(Utterance("header", to_speech(_header_text(part, part_title), "note", lexicon, language=meta.language), profiles[roles["header"]]))
        if options.outro:
            extra["outro"] = len(utterances)
            utterances.append(Utterance("outro", to_speech(_outro_text(part), "note", lexicon, language=meta.language), profiles[roles["outro"]]))
        index: dict[int, int | tuple[int, ...]] = {}
        for seg in assembly.program_order(part, options.placement):   # spoken in play order
            if not seg.spoken:
                continue
            spans = assembly.voiced_spans(seg)
            if spans:      # dialogue in voices of its own: one utterance a span
                index[seg.index] = tuple(range(len(utterances), len(utterances) + len(spans)))
                utterances.extend(
                    Utterance(f"segment {seg.index} span {k} ({sp.kind}: {seg.text[sp.start:sp.end][:40]!r})", sp.speech, voices[sp.voice])
                    for k, sp in enumerate(spans)
                )
            else:
                index[seg.index] = len(utterances)
                utterances.append(Utterance(f"segment {seg.index} ({seg.role}: {seg.text[:40]!r})", seg.speech, voices[seg.voice]))
        plans.append((part, part_title, extra, index))

    # Every voice is found before anything is spoken or written: a work in a language the
    # engine has no voice for fails at once, in one line that names the language.
    spoken_by = _voices_for(utterances, options.engine, meta)
    numbered = split or chapter_of_work
    work = _work_key(meta)
    stems = [_unique(_own_name(options.out_dir, slugify(meta.title) + (f"-{(part.segments[0].part if split else meta.chapter):02d}" if numbered else ""), work, meta), taken)
             for part, *_ in plans]
    book_stem = stems[0] if not split else _unique(_own_name(options.out_dir, slugify(meta.title), work, meta), taken)
    return WorkPlan(script, utterances, plans, stems, book_stem, split, last, cover, spoken_by)


def render_work(
    source: Path | str | Document | WorkPlan,
    options: RenderOptions,
    progress: Progress | None = None,
    taken: set[str] | None = None,
    stats: SpeakStats | None = None,
    speaker: Callable[..., object] | None = None,
    mirror: shared.Mirror | None = None,
) -> list[Episode]:
    """Render one work (a file, a URL, a Document already read, or a work planned already)
    into one episode, or one per chapter with split="chapters". `speaker` is what hands
    over the clips, with synth.speak's arguments (default synth.speak; a Dask worker's
    waits for other workers'). `mirror`: the cache is a store's mirror, and encoded
    stretches are looked for and put there too."""
    planned = source if isinstance(source, WorkPlan) else plan_work(source, options, taken)
    script, utterances, plans, stems = planned.script, planned.utterances, planned.parts, planned.stems
    split, last, cover, spoken_by = planned.split, planned.last, planned.cover, planned.spoken_by
    meta = script.document.meta

    # Clips are laid out and encoded while later ones are still being spoken (a small work is
    # spoken in this process, in play order, so the encoder uses the other core meanwhile).
    # Without the cache, clips live in a private temporary folder until the episodes are written.
    board = _Clips()
    workers = options.jobs or os.cpu_count() or 1
    book = _audiobook(options, planned.book_stem)
    with (
        tempfile.TemporaryDirectory(prefix="audiofic-clips-") if not options.use_cache else contextlib.nullcontext() as scratch,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="audiofic-layout") as layout,
    ):
        streams = [
            _Stream(options, _stretch_seconds(sum(len(utterances[i].text) for i in (*extra.values(), *_flat(index.values())))), workers,
                    Path(scratch) if scratch else options.out_dir, options.out_dir / f"{stem}.mp3", book=book, part=k, mirror=mirror)
            for k, ((_part, _title, extra, index), stem) in enumerate(zip(plans, stems))
        ]
        try:
            laid = layout.submit(_lay_out, plans, board, streams, options.placement)
            try:
                (speaker or speak)(
                    utterances,
                    engine=options.engine,
                    cache_dir=options.cache_dir,
                    use_cache=options.use_cache,
                    jobs=options.jobs,
                    progress=(lambda done, total, label: progress("speak", done, total)) if progress else None,
                    stats=stats,
                    workdir=Path(scratch) if scratch else None,
                    on_clip=board.put,
                )
            except BaseException:
                board.abandon()   # the layout thread stops waiting for clips
                wait([laid])      # ... and is done before its encoders are closed
                raise
            programs = laid.result()
            episodes = []
            for (part, part_title, extra, index), program, stream, stem in zip(plans, programs, streams, stems):
                title = meta.title + (f" - {part_title}" if part_title else "")
                track = part.segments[0].part if split else meta.chapter
                feed = _feed_fields(meta, part_title, track if split else None, last, options)
                narrated = _narrated_by({utterances[i].profile for i in (*extra.values(), *_flat(index.values()))})
                used = tuple(sorted({spoken_by[utterances[i].profile] for i in (*extra.values(), *_flat(index.values()))}))
                if options.format != "m4b":
                    episodes.append(_write_episode(program, stream, part, stem, title, track, feed, options, progress, cover, narrated, used))
            if book is not None:
                episodes.append(_write_audiobook(book, script, programs, [part_title for _, part_title, *_ in plans], options, cover))
            return episodes
        finally:
            for stream in streams:
                stream.close()
            if book is not None:
                book.close()
                _release_work_dir(book.scratch)


def _flat(indices) -> list[int]:
    """Utterance indices of a part's segments (a paragraph of dialogue has several)."""
    return [i for found in indices for i in (found if isinstance(found, tuple) else (found,))]


class _Abandoned(Exception):
    """Speech failed: the clips waited for will not come."""


class _Clips:
    """Clips by utterance index as speak() delivers them; readers wait for those not spoken yet."""

    def __init__(self):
        self._ready: dict[int, object] = {}
        self._abandoned = False
        self._cond = threading.Condition()

    def put(self, i: int, clip) -> None:
        with self._cond:
            self._ready[i] = clip
            self._cond.notify_all()

    def abandon(self) -> None:
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()

    def get(self, i: int):
        with self._cond:
            while i not in self._ready and not self._abandoned:
                self._cond.wait()
            if i not in self._ready:
                raise _Abandoned
            return self._ready[i]


class _SegmentClips(Mapping):
    """One part's clips by segment index, read from the shared _Clips."""

    def __init__(self, board: _Clips, index: dict[int, int]):
        self.board, self.index = board, index

    def __getitem__(self, seg: int):
        found = self.index[seg]
        return tuple(self.board.get(i) for i in found) if isinstance(found, tuple) else self.board.get(found)

    def __iter__(self):
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


def _lay_out(plans, board: _Clips, streams: list[_Stream], placement: str | None) -> list[Program]:
    """Lay out every part as its clips arrive, feeding each piece to the part's encoder."""
    programs = []
    for (part, _title, extra, index), stream in zip(plans, streams):
        try:
            program = assembly.assemble(
                part,
                _SegmentClips(board, index),
                header=board.get(extra["header"]) if "header" in extra else None,
                outro=board.get(extra["outro"]) if "outro" in extra else None,
                placement=placement,
                on_piece=stream.add,
            )
            stream.finish(program)
        except RenderError as exc:
            raise _naming(exc, stream.episode) from None
        programs.append(program)
    return programs


def _naming(exc: RenderError, episode: Path) -> RenderError:
    """The error with the episode's name in place of a temporary MP3 (a stretch, the
    loudness sample, the file being joined), gone by the time the user reads the message."""
    if exc.path is not None and (exc.path.endswith(".mp3") or exc.path.endswith(".tmp")):
        return RenderError(exc.message, episode)
    return exc


COVER_FORMAT = 2   # bump when cover.py draws differently


def _cover(meta, cache: Path | None) -> bytes:
    """The episode's cover (JPEG bytes), from the cache when the same title, author, fandom
    and image were drawn before (a re-render then never loads Pillow)."""
    key = None
    if cache is not None:
        image = Path(meta.cover) if meta.cover is not None else None
        stamp = (str(image.resolve()), image.stat().st_size, image.stat().st_mtime_ns) if image and image.is_file() else None
        key = hashlib.sha256(repr((COVER_FORMAT, meta.title, meta.author, meta.fandom, str(meta.cover), stamp)).encode()).hexdigest()
        with contextlib.suppress(OSError):
            return (cache / f"{key}.jpg").read_bytes()
    from .cover import cover_jpeg   # Pillow is imported only to draw

    data = cover_jpeg(meta)
    if key is not None:
        with contextlib.suppress(OSError):
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cache / f".{key}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, cache / f"{key}.jpg")
    return data


def _work_key(meta) -> str:
    """Which work an episode is of (the TXXX:work tag): its URL, else title and author."""
    return meta.url or f"{meta.title} by {meta.author}"


def _own_name(out: Path, stem: str, work: str, meta) -> str:
    """`stem`, unless the folder already holds an episode of another work by that name
    (two titles that make one slug): then the stem with a short hash of this work, so
    nothing of anyone's is overwritten. Re-rendering a work replaces its own episodes."""
    existing = out / f"{stem}.mp3"
    if not existing.is_file():
        return stem
    try:
        other = read_episode(existing)
        mine = other.work == work if other.work else (other.album == (meta.series or meta.title) and other.author == meta.author)
    except AudioficError:
        mine = False      # not an episode of ours: never overwritten
    return stem if mine else f"{stem}-{hashlib.sha256(work.encode('utf-8')).hexdigest()[:6]}"


def _unique(stem: str, taken: set[str]) -> str:
    candidate, n = stem, 2
    while candidate in taken:
        candidate, n = f"{stem}-{n}", n + 1
    taken.add(candidate)
    return candidate


# "Chapter 3: ", "Part IV - ", "Chapter Two, ", "12. ": the number Apple leaves to itunes:episode.
_CHAPTER_NUMBER = re.compile(
    r"^\s*(?:(?:chapter|ch\.|part)\s+(?:[\divxlc]+|(?:twenty|thirty|forty|fifty)?[- ]?(?:one|two|three|four|five|six|seven|eight|nine)"
    r"|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen|twenty|thirty|forty|fifty)\b|\d+)\s*[:.,)\-–—]*\s*",
    re.IGNORECASE,
)


def _feed_fields(meta, part_title: str | None, part: int | None, last: int | None, options: RenderOptions) -> dict:
    """What the feed needs to order works and chapters (see Episode): the work, this
    chapter's own title without its number, and when it was published.

    A chapter keeps the date it was given before. Otherwise the date is the source's where
    it tells: a work's first chapter was published when the work was, its latest when the
    work was last updated, a whole work or a chapter text when its own dates say. Else it
    is when `audiofic update` first saw it, else none (the feed places it after the
    chapter before)."""
    own = _CHAPTER_NUMBER.sub("", _CHAPTER_NUMBER.sub("", part_title or "", count=1), count=1).strip()   # "3. Chapter 3"
    key = part if part is not None else meta.chapter
    if key is not None and options.published.get(key):
        published = options.published[key]
    elif part is None:
        published = meta.updated or meta.published if meta.chapter is None else meta.published
    elif part == 1:
        published = meta.published
    elif part == last:
        published = meta.updated
    else:
        published = ""
    return {
        "work": _work_key(meta),
        "work_title": meta.title,
        "series_part": meta.series_part,
        "part_title": own,
        "published": published or options.first_seen,
        "rating": meta.rating,
        "show": meta.show,
    }


def _write_episode(program, stream: _Stream, script: Script, stem: str, title: str, track: int | None, feed: dict,
                   options: RenderOptions, progress: Progress | None, cover: bytes, narrated_by: str = "text-to-speech",
                   voices: tuple[str, ...] = ()) -> Episode:
    meta = script.document.meta
    out = options.out_dir
    final = {ext: out / f"{stem}{ext}" for ext in (".mp3", ".jpg", ".vtt", ".chapters.json")}
    work = _work_dir(out)
    temp = {ext: work / f"{stem}{ext}" for ext in final}
    # Chapter titles come from the text's headings: tags and players want them clean and short.
    program = dataclasses.replace(program, chapters=tuple(dataclasses.replace(c, title=short_text(c.title)) for c in program.chapters))
    try:
        program, duration_ms = stream.write(program, temp[".mp3"], progress)
        temp[".jpg"].write_bytes(cover)
        _write_text(temp[".vtt"], transcript.vtt(program.cues))
        _write_text(temp[".chapters.json"], transcript.chapters_json(program.chapters, title))
        episode = Episode(
            path=final[".mp3"],
            title=title,
            author=meta.author,
            album=meta.series or meta.title,
            track=track,
            duration_ms=duration_ms,
            chapters=program.chapters,
            summary=meta.summary,
            comment=_comment(script, narrated_by),
            year=meta.year,
            language=meta.language,
            url=meta.url,
            cover=temp[".jpg"],
            transcript=final[".vtt"],
            chapters_json=final[".chapters.json"],
            source=script.document.path,
            voices=voices,
            **feed,
        )
        write_tags(temp[".mp3"], episode)
        for ext in (".jpg", ".vtt", ".chapters.json", ".mp3"):   # the MP3 last: it marks a finished episode
            os.replace(temp[ext], final[ext])
    except RenderError as exc:
        raise _naming(exc, final[".mp3"]) from None
    except OSError as exc:
        raise RenderError(f"cannot write the episode ({exc.strerror or exc}); check free space and permissions", out) from None
    finally:
        _release_work_dir(work)
    return dataclasses.replace(episode, cover=final[".jpg"])


# ---- the audiobook (--format m4b|both) -----------------------------------------------------

def _audiobook(options: RenderOptions, stem: str) -> m4b.Audiobook | None:
    """The work's M4B encoder, writing under a temporary name in a folder of its own."""
    if options.format not in ("m4b", "both"):
        return None
    final = options.out_dir / f"{stem}.m4b"
    scratch = _work_dir(options.out_dir)   # locked like an episode's, swept the same way when abandoned
    cache = paths.cache_dir(options.cache_dir) / "audiobooks" if options.use_cache else None
    return m4b.Audiobook(scratch / final.name, scratch, name=final, cache=cache, workers=options.jobs or os.cpu_count() or 1)


def _write_audiobook(book: m4b.Audiobook, script: Script, programs: list[Program], titles: list[str | None], options: RenderOptions,
                     cover_jpeg: bytes) -> Episode:
    """The M4B: its chapters (the episode's, or one per story chapter when the work is
    split), tags and cover; renamed into place when complete."""
    meta = script.document.meta
    final, scratch = book.name, book.scratch
    try:
        if len(programs) == 1 and titles[0] is None:
            timeline = book.timeline(0)
            chapters = list(assembly.retime(programs[0], timeline.ms, timeline.duration_ms).chapters)
        else:   # one chapter per part, where the part starts in the file
            lengths = [book.timeline(k).samples for k in range(len(programs))]
            bounds = [round(sum(lengths[:k]) * 1000 / master.OUTPUT_RATE) for k in range(len(programs) + 1)]
            chapters = [Chapter(t or f"Chapter {k + 1}", bounds[k], bounds[k + 1]) for k, t in enumerate(titles)]
        duration_ms = book.finish(chapters)
        cover = scratch / "cover.jpg"
        cover.write_bytes(cover_jpeg)
        episode = Episode(
            path=final, title=meta.title, author=meta.author, album=meta.series or meta.title, track=None,
            duration_ms=duration_ms, chapters=tuple(chapters), summary=meta.summary, comment=_comment(script),
            year=meta.year, language=meta.language, url=meta.url, cover=cover, source=script.document.path,
        )
        write_m4b_tags(book.out, episode)
        os.replace(book.out, final)
    except RenderError as exc:   # named by the file it becomes, not a temporary one
        raise (RenderError(exc.message, final) if exc.path is None or Path(exc.path).parent == scratch else exc) from None
    except OSError as exc:
        raise RenderError(f"cannot write the audiobook ({exc.strerror or exc}); check free space and permissions", final) from None
    return dataclasses.replace(episode, cover=None)


GAIN_STEP_DB = 0.2   # gain is rounded so a small edit keeps the other stretches' cached MP3s valid
PROVISIONAL_SPEECH_S = 60   # the gain is set from this much speech, so encoding can start
GAIN_TOLERANCE_DB = 0.5     # ... and kept if all the speech, measured at the end, agrees this well
STRETCH_SECONDS = (5, 600)   # encoded stretches: short for cheap re-encodes, long for few joins (~40 ms of pause each)
SPEECH_CHARS_PER_S = 15       # about 160 words a minute


def _stretch_seconds(chars: int) -> int:
    """Stretch length for a work of `chars` characters of speech: about 1/64 of it, so that
    both cores stay busy to the end; set by the text alone (never by --jobs), so a re-render
    cuts in the same places and finds its stretches in the cache."""
    lo, hi = STRETCH_SECONDS
    return min(hi, max(lo, 5 * round(chars / SPEECH_CHARS_PER_S / 64 / 5)))


class _Stream:
    """One episode's encoding, started while later clips are still being spoken.

    Stretches are cut as the layout grows and encoded at once, which needs the gain before
    the speech is all there: it is set from the first PROVISIONAL_SPEECH_S of speech (a TTS
    voice's loudness barely drifts) and checked against all of it when the layout is done;
    off by more than GAIN_TOLERANCE_DB, every stretch is encoded again with the right one.
    A cold render and a warm one (clips from the cache) choose the same gain by this rule,
    so the stretches they encode are the same and stay valid in the cache.
    """

    def __init__(self, options: RenderOptions, stretch_seconds: int, workers: int, scratch: Path, episode: Path,
                 *, book: m4b.Audiobook | None = None, part: int = 0, mirror: shared.Mirror | None = None):
        self.options, self.stretch_seconds, self.workers = options, stretch_seconds, workers
        self.mirror = mirror
        self.book, self.part = book, part   # the work's M4B (if one is made), and this episode's place in it
        self.mp3 = options.format != "m4b"
        self.scratch = scratch   # where stretches that are not cached are encoded
        self.episode = episode   # the MP3 this becomes: errors name it, not temporary files
        self.cache = paths.cache_dir(options.cache_dir) if options.use_cache else None
        self.music_lufs = master.MONO_TARGET_LUFS - assembly.MUSIC_BELOW_SPEECH
        self.pieces: list[Piece] = []
        self.cuts = [0]
        self.cutter: assembly.Cutter | None = None
        self.rate = 0
        self.speech = 0                    # samples of speech laid out so far
        self.gain_db: float | None = None
        self.loss_db = 0.0
        self.encoder: master.StretchEncoder | None = None
        self.submitted = 0                 # stretches handed to the encoder
        self.total = 0                     # program length, once known (for progress)
        self.progress: Progress | None = None

    def add(self, piece: Piece, rate: int) -> None:
        """A piece whose place is final (called by assemble, in the layout thread)."""
        if self.cutter is None:
            self.rate, self.cutter = rate, assembly.Cutter(rate, self.stretch_seconds)
        self.pieces.append(piece)
        if piece.kind == "speech":
            self.speech += piece.length
            if self.gain_db is None and self.speech >= PROVISIONAL_SPEECH_S * rate:
                self._set_gain(self._so_far())
        cuts = self.cutter.add(piece)
        if cuts:
            self.cuts.extend(cuts)
            self._flush()

    def finish(self, program: Program) -> None:
        """The whole layout: cut the last stretch and check the gain against all the speech."""
        self.total = program.length
        if self.cuts[-1] < program.length:
            self.cuts.append(program.length)
        self.rate = program.rate
        if self.gain_db is None:
            self._set_gain(program)
            return
        self._flush()
        final = self._rounded(master.gain_for(self._loudness(program)) + self.loss_db)
        if abs(final - self.gain_db) > GAIN_TOLERANCE_DB:
            if self.encoder is not None:
                self.encoder.close()
            if self.book is not None:
                self.book.redo(self.part)
            self.encoder, self.gain_db, self.submitted = None, final, 0
            self._flush()

    def write(self, program: Program, out: Path, progress: Progress | None) -> tuple[Program, int]:
        """Wait for the encoder, join its stretches into `out`; the program retimed to the file."""
        self.progress = progress
        if progress:
            progress("encode", min(self.encoder.done, self.total), self.total)
        timeline = self.encoder.join(out)
        return assembly.retime(program, timeline.ms, timeline.duration_ms), timeline.duration_ms

    def close(self) -> None:
        if self.encoder is not None:
            self.encoder.close()

    @staticmethod
    def _rounded(gain_db: float) -> float:
        return round(gain_db / GAIN_STEP_DB) * GAIN_STEP_DB

    @staticmethod
    def _loudness(program: Program) -> float:
        return master.speech_loudness(p.source for p in program.pieces if p.kind == "speech")

    def _so_far(self) -> Program:
        end = self.pieces[-1].start + self.pieces[-1].length
        return Program(rate=self.rate, pieces=tuple(self.pieces), chapters=(), cues=(), length=end)

    def _set_gain(self, program: Program) -> None:
        lufs = self._loudness(program)
        cache = self.cache / "loudness" if self.cache else None
        gain = master.speech_gain_db(lufs, assembly.speech_sample(program), program.rate, bitrate=self.options.bitrate, cache=cache)
        self.loss_db = gain - master.gain_for(lufs)   # kept for the check against all the speech
        self.gain_db = self._rounded(gain)
        self._flush()

    def _report(self, done: int) -> None:
        if self.progress and self.total:   # only once speaking is over: one bar at a time
            self.progress("encode", min(done, self.total), self.total)

    def _flush(self) -> None:
        """Hand every stretch cut so far to the encoder (once the gain is set)."""
        if self.gain_db is None or len(self.cuts) - 1 <= self.submitted:
            return
        if self.encoder is None and self.mp3:
            self.encoder = master.StretchEncoder(
                self.rate,
                self.scratch,
                bitrate=self.options.bitrate,
                cache=self.cache / "encoded" if self.cache else None,
                workers=self.workers,
                progress=self._report,
                shared=self.mirror,
            )
        program = self._so_far()
        settings = f"{master.ENCODE_VERSION}|{self.gain_db:.2f}|{self.music_lufs}|{self.options.bitrate}|{master.LAME_QUALITY}|{master.LIMIT_DBFS}"
        for a, b in zip(self.cuts[self.submitted:], self.cuts[self.submitted + 1:]):
            stretch = master.Stretch(
                start=a,
                length=b - a,
                samples=functools.partial(assembly.chunks, program, span=(a, b), speech_gain=10 ** (self.gain_db / 20), music_lufs=self.music_lufs),
                key=assembly.span_key(program, (a, b), settings) if self.cache else None,
            )
            if self.encoder is not None:
                self.encoder.submit(stretch)
            if self.book is not None:
                self.book.add(self.part, stretch, self.rate)
        self.submitted = len(self.cuts) - 1


WORK_PREFIX = ".audiofic-partial-"


def _work_dir(out: Path) -> Path:
    """A private folder for half-written files, inside the output folder so renames are atomic.

    The folder's `.lock` is held (flock) while this render uses it. Folders whose lock
    nobody holds were left by runs killed before they could clean up, and are removed: a
    lock, not a PID, so renders in other PID namespaces sharing the folder are safe.
    """
    for old in out.glob(f"{WORK_PREFIX}*"):
        if old.is_dir() and _abandoned(old):
            shutil.rmtree(old, ignore_errors=True)
    try:
        work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-", dir=out))
        _LOCKS[work] = _hold(work / LOCK_NAME)
    except OSError as exc:
        raise RenderError(f"cannot write in the output folder ({exc.strerror}); choose another with -o", out) from None
    return work


LOCK_NAME = ".lock"
_LOCKS: dict[Path, object] = {}


def _hold(path: Path):
    """An open file with an exclusive flock on it, held until closed (or the process dies)."""
    handle = open(path, "w")
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def _abandoned(folder: Path) -> bool:
    """Whether no running render holds `folder`'s lock (one without a lock file, from an
    older audiofic, counts as abandoned after a day)."""
    lock = folder / LOCK_NAME
    if not lock.exists() or fcntl is None:
        try:
            return time.time() - folder.stat().st_mtime > 86400
        except OSError:
            return False
    try:
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)   # released when closed
        return True
    except OSError:        # held: a render is using it
        return False


def _release_work_dir(work: Path) -> None:
    handle = _LOCKS.pop(work, None)
    shutil.rmtree(work, ignore_errors=True)
    if handle is not None:
        handle.close()


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def preview(text: str, profile: str, out: Path, *, engine: str | None = None, cache_dir: Path | None = None,
            model: str | None = None) -> Path:
    """Speak `text` with one voice profile into a short MP3 (for `audiofic voices --say`);
    `engine` speaks it as --engine would (None: the profile's own engine); `model`, a Piper
    voice by name or path, speaks it with that voice and the profile's rate and pitch."""
    profiles = for_engine(load_profiles(), "piper" if model else engine)
    if model and profile in profiles:
        profiles[profile] = dataclasses.replace(profiles[profile], model=model)
    if profile not in profiles:
        raise VoiceError(f"unknown voice profile {profile!r}; profiles: {', '.join(sorted(profiles))}")
    if not text.strip():
        raise VoiceError("nothing to say; give --say some text")
    (clip,) = speak([Utterance("preview", to_speech(text, "narration", load_lexicon()), profiles[profile])], cache_dir=cache_dir)
    program = assembly.assemble_clips([clip])
    out = out if out.suffix else out.with_suffix(".mp3")
    prepare_out_dir(out.parent)
    work = _work_dir(out.parent)
    try:
        gain = 10 ** (master.gain_for(master.speech_loudness([clip.path])) / 20)
        master.encode(assembly.chunks(program, speech_gain=gain), program.rate, work / out.name)
        os.replace(work / out.name, out)
    except OSError as exc:
        raise RenderError(f"cannot write the preview ({exc.strerror or exc})", out) from None
    finally:
        _release_work_dir(work)
    return out
