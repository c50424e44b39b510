"""`audiofic render` as a library call: texts in, tagged MP3 episodes and sidecars out.

read -> segment -> cast -> speak -> assemble -> master -> tag, for every input. Every file
is written under a temporary name and renamed into place, sidecars first and the MP3
last, so an MP3 under its final name is always a finished episode.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import assemble as assembly
from . import master, paths, transcript
from .cover import make_cover
from .errors import AudioficError, RenderError, VoiceError
from .models import Episode, Script, Utterance
from .read import find_inputs, read
from .segment import segment
from .speech import load_lexicon, to_speech
from .synth import SpeakStats, speak
from .tag import write_tags
from .voices import cast, load_profiles, resolve_cast

Progress = Callable[[str, int, int], None]   # (stage, done, total)


@dataclass(frozen=True)
class RenderOptions:
    out_dir: Path = Path("output")
    engine: str = "pyttsx3"
    cache_dir: Path | None = None
    use_cache: bool = True
    jobs: int | None = None
    voices: dict[str, str] = field(default_factory=dict)   # role -> profile (--voice)
    header: bool = True
    outro: bool = True
    split: str = "none"              # "none": one episode per text; "chapters": one per chapter heading
    placement: str | None = None     # interludes: "inline" / "spread" (default: the sidecar's, else inline)
    bitrate: int = 64


@dataclass(frozen=True)
class RenderReport:
    outputs: tuple[Episode, ...]
    failures: tuple[tuple[str, str], ...]   # (input, one-line error)
    speech: SpeakStats                       # clips synthesized vs taken from the cache


def slugify(title: str, fallback: str = "episode") -> str:
    """A safe file name stem: ASCII letters, digits and dashes, no dots or separators."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-")
    return slug or fallback


def render(sources: list[Path], options: RenderOptions, progress: Progress | None = None) -> RenderReport:
    """Render every text (folders expand to their texts); a bad file does not stop the rest."""
    outputs: list[Episode] = []
    failures: list[tuple[str, str]] = []
    inputs = find_inputs(sources)
    _prepare_out_dir(options.out_dir)
    taken: set[str] = set()
    stats = SpeakStats()
    for path in inputs:
        try:
            outputs.extend(render_work(path, options, progress, taken, stats))
        except AudioficError as exc:
            failures.append((exc.path or str(path), exc.message))
    return RenderReport(tuple(outputs), tuple(failures), stats)


def _prepare_out_dir(out_dir: Path) -> None:
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
    return [Script(script.document, tuple(s for s in script.segments if s.part == n)) for n in numbers]


def _header_text(script: Script, part_title: str | None) -> str:
    meta = script.document.meta
    words = [meta.title + (f", {part_title}" if part_title else "") + f", by {meta.author}."]
    if meta.fandom:
        words.append(f"{meta.fandom}.")
    if meta.rating:
        words.append(f"Rated {meta.rating}.")
    if meta.warnings:
        words.append(f"Warnings: {', '.join(meta.warnings)}.")
    words.append("Read by text-to-speech.")
    return " ".join(words)


def _outro_text(script: Script) -> str:
    meta = script.document.meta
    text = f"You have been listening to {meta.title}, by {meta.author}."
    if meta.url:
        text += f" The original work is at {meta.url} ."
    return text + " Thank you for listening."


def _comment(script: Script) -> str:
    meta = script.document.meta
    lines = [meta.summary] if meta.summary else []
    credit = f"Written by {meta.author}." + (f" Fandom: {meta.fandom}." if meta.fandom else "")
    lines.append(credit + (f" Original: {meta.url}" if meta.url else ""))
    if meta.rating or meta.warnings:
        lines.append(" ".join(filter(None, [f"Rating: {meta.rating}." if meta.rating else "", f"Warnings: {', '.join(meta.warnings)}." if meta.warnings else ""])))
    songs = script.songs
    if songs:
        lines.append("Music (the author's playlist, as interludes): " + "; ".join(f"{s.title} - {s.artist}" if s.artist else s.title for s in songs) + ".")
    lines.append("Narrated by text-to-speech (eSpeak NG) with audiofic.")
    return "\n".join(lines)


def render_work(
    path: Path,
    options: RenderOptions,
    progress: Progress | None = None,
    taken: set[str] | None = None,
    stats: SpeakStats | None = None,
) -> list[Episode]:
    """Render one text into one episode (or one per chapter with split="chapters")."""
    taken = set() if taken is None else taken
    doc = read(path)
    profiles = load_profiles()
    lexicon = load_lexicon(doc.meta.lexicon)
    script = cast(segment(doc, lexicon), profiles, options.voices)
    roles = resolve_cast(profiles, doc.meta.cast, options.voices)
    parts = _parts(script, options.split)
    split = options.split == "chapters"

    # Everything every part says, in one batch, so the workers stay busy across parts.
    utterances: list[Utterance] = []
    plans = []
    for part in parts:
        headings = [s.text for s in part.segments if s.role == "heading"]
        part_title = (headings[0] if headings else f"Chapter {part.segments[0].part}") if split else None
        extra: dict[str, int] = {}
        if options.header:
            extra["header"] = len(utterances)
            utterances.append(Utterance("header", to_speech(_header_text(part, part_title), "note", lexicon), profiles[roles["header"]]))
        if options.outro:
            extra["outro"] = len(utterances)
            utterances.append(Utterance("outro", to_speech(_outro_text(part), "note", lexicon), profiles[roles["outro"]]))
        index: dict[int, int] = {}
        for seg in part.segments:
            if seg.spoken:
                index[seg.index] = len(utterances)
                utterances.append(Utterance(f"segment {seg.index} ({seg.role}: {seg.text[:40]!r})", seg.speech, profiles[seg.voice]))
        plans.append((part, part_title, extra, index))

    # Without the cache, clips live in a private temporary folder until the episodes are written.
    with tempfile.TemporaryDirectory(prefix="audiofic-clips-") if not options.use_cache else contextlib.nullcontext() as scratch:
        clips = speak(
            utterances,
            engine=options.engine,
            cache_dir=options.cache_dir,
            use_cache=options.use_cache,
            jobs=options.jobs,
            progress=(lambda done, total, label: progress("speak", done, total)) if progress else None,
            stats=stats,
            workdir=Path(scratch) if scratch else None,
        )

        episodes = []
        for part, part_title, extra, index in plans:
            stem = slugify(doc.meta.title) + (f"-{part.segments[0].part:02d}" if split else "")
            stem = _unique(stem, taken)
            header = clips[extra["header"]] if "header" in extra else None
            outro = clips[extra["outro"]] if "outro" in extra else None
            program = assembly.assemble(
                part,
                {seg: clips[i] for seg, i in index.items()},
                header=header,
                outro=outro,
                placement=options.placement,
            )
            title = doc.meta.title + (f" - {part_title}" if part_title else "")
            track = part.segments[0].part if split else doc.meta.chapter
            episodes.append(_write_episode(program, part, stem, title, track, options, progress))
        return episodes


def _unique(stem: str, taken: set[str]) -> str:
    candidate, n = stem, 2
    while candidate in taken:
        candidate, n = f"{stem}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _write_episode(program, script: Script, stem: str, title: str, track: int | None, options: RenderOptions, progress: Progress | None) -> Episode:
    meta = script.document.meta
    out = options.out_dir
    final = {ext: out / f"{stem}{ext}" for ext in (".mp3", ".jpg", ".vtt", ".chapters.json")}
    work = _work_dir(out)
    temp = {ext: work / f"{stem}{ext}" for ext in final}
    try:
        program, duration_ms = _encode(program, temp[".mp3"], options, progress)
        make_cover(meta, temp[".jpg"])
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
            comment=_comment(script),
            year=meta.year,
            language=meta.language,
            url=meta.url,
            cover=temp[".jpg"],
            transcript=final[".vtt"],
            chapters_json=final[".chapters.json"],
            source=script.document.path,
        )
        write_tags(temp[".mp3"], episode)
        for ext in (".jpg", ".vtt", ".chapters.json", ".mp3"):   # the MP3 last: it marks a finished episode
            os.replace(temp[ext], final[ext])
    except RenderError as exc:
        # encode() and write_tags() name the MP3 they were writing: a temporary file (in the
        # work folder, or the loudness sample's), gone by the time the user reads the message
        if exc.path is not None and exc.path.endswith(".mp3"):
            raise RenderError(exc.message, final[".mp3"]) from None
        raise
    except OSError as exc:
        raise RenderError(f"cannot write the episode ({exc.strerror or exc}); check free space and permissions", out) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dataclasses.replace(episode, cover=final[".jpg"])


GAIN_STEP_DB = 0.2   # gain is rounded so a small edit keeps the other stretches' cached MP3s valid
STRETCH_SECONDS = (30, 600)   # encoded stretches: short for cheap re-encodes, long for few joins


def _encode(program, out: Path, options: RenderOptions, progress: Progress | None):
    """Measure, set the gain, encode in cached stretches; the program retimed to the file."""
    cache = paths.cache_dir(options.cache_dir) if options.use_cache else None
    speech_lufs = master.speech_loudness(p.source for p in program.pieces if p.kind == "speech")
    gain_db = master.speech_gain_db(
        speech_lufs, assembly.speech_sample(program), program.rate, bitrate=options.bitrate, cache=cache / "loudness" if cache else None
    )
    gain_db = round(gain_db / GAIN_STEP_DB) * GAIN_STEP_DB
    music_lufs = master.MONO_TARGET_LUFS - assembly.MUSIC_BELOW_SPEECH
    workers = options.jobs or os.cpu_count() or 1
    lo, hi = STRETCH_SECONDS
    target = min(hi, max(lo, program.length / program.rate / (16 * workers)))
    settings = f"{master.ENCODE_VERSION}|{gain_db:.2f}|{music_lufs}|{options.bitrate}|{master.LAME_QUALITY}|{master.LIMIT_DBFS}"
    stretches = [
        master.Stretch(
            start=a,
            length=b - a,
            samples=functools.partial(assembly.chunks, program, span=(a, b), speech_gain=10 ** (gain_db / 20), music_lufs=music_lufs),
            key=assembly.span_key(program, (a, b), settings) if options.use_cache else None,
        )
        for a, b in assembly.spans(program, target)
    ]
    timeline = master.encode_stretches(
        stretches,
        program.rate,
        out,
        bitrate=options.bitrate,
        cache=cache / "encoded" if cache else None,
        workers=workers,
        progress=(lambda done: progress("encode", done, program.length)) if progress else None,
    )
    return assembly.retime(program, timeline.ms, timeline.duration_ms), timeline.duration_ms


WORK_PREFIX = ".audiofic-partial-"


def _work_dir(out: Path) -> Path:
    """A private folder for half-written files, inside the output folder so renames are atomic.

    Folders that runs killed before they could clean up (their process is gone) are removed.
    """
    for old in out.glob(f"{WORK_PREFIX}*"):
        pid = old.name[len(WORK_PREFIX):]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    work = out / f"{WORK_PREFIX}{os.getpid()}"
    try:
        work.mkdir(exist_ok=True)
    except OSError as exc:
        raise RenderError(f"cannot write in the output folder ({exc.strerror}); choose another with -o", out) from None
    return work


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def preview(text: str, profile: str, out: Path, *, engine: str = "pyttsx3", cache_dir: Path | None = None) -> Path:
    """Speak `text` with one voice profile into a short MP3 (for `audiofic voices --say`)."""
    profiles = load_profiles()
    if profile not in profiles:
        raise VoiceError(f"unknown voice profile {profile!r}; profiles: {', '.join(sorted(profiles))}")
    if not text.strip():
        raise VoiceError("nothing to say; give --say some text")
    (clip,) = speak([Utterance("preview", to_speech(text, "narration", load_lexicon()), profiles[profile])], engine=engine, cache_dir=cache_dir)
    program = assembly.assemble_clips([clip])
    out = out if out.suffix else out.with_suffix(".mp3")
    _prepare_out_dir(out.parent)
    work = _work_dir(out.parent)
    try:
        gain = 10 ** (master.gain_for(master.speech_loudness([clip.path])) / 20)
        master.encode(assembly.chunks(program, speech_gain=gain), program.rate, work / out.name)
        os.replace(work / out.name, out)
    except OSError as exc:
        raise RenderError(f"cannot write the preview ({exc.strerror or exc})", out) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out
