"""Stage 5, assemble: Script + Clips -> Program (pauses, interludes, chapters, cues).

Layout is pure arithmetic on sample counts, so chapter marks and transcript cues are exact.
Samples are produced later, piece by piece, by `chunks()`: a long work is never held in
memory whole (pydub's AudioSegment would keep hours of PCM in RAM), so pydub is used only
for the short music pieces, where its fades and gain are the right tool.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import subprocess
import textwrap
import wave
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from .engines.base import plain_words
from .errors import InputError, RenderError
from .master import LoudnessMeter, clip_steps, ffmpeg_exe, why_ffmpeg_failed
from .models import STORY_ROLES, Chapter, Clip, Cue, Piece, Program, Script, Segment, Span
from .paths import NotRegularFile, check_regular

CUE_CHARS = 65            # WebVTT line length that reads well on a phone
MUSIC_BELOW_SPEECH = 4.0  # interludes sit this many LU under the speech
EXCERPT_OFFSET_MS = 30_000  # skip a song's intro: start the excerpt 30 s in (or at 0 if shorter)
STING_MS = 1600

# Pauses in ms, by (previous role, next role); "*" matches any role.
PAUSES: dict[tuple[str, str], int] = {
    ("header", "*"): 1500,
    ("*", "outro"): 2000,
    ("*", "heading"): 2000,
    ("heading", "*"): 1300,
    ("note", "story"): 1800,
    ("story", "note"): 1800,
    ("salutation", "body"): 900,
    ("*", "closing"): 1000,
    ("closing", "signature"): 600,
    ("signature", "signature"): 350,
    ("*", "playlist"): 1200,
    ("playlist", "song"): 900,
    ("song", "*"): 900,
    ("*", "song"): 900,
}
PARAGRAPH_PAUSE_MS = 650
WITHIN_PARAGRAPH_MS = 300   # an aside cut out of a paragraph ("... (A/N: ...) ..."), and what follows it
SPAN_GAP_MS = 120           # between a line of dialogue and its "she said": the voices take turns, no pause
SCENE_BREAK_MS = 2200
LEAD_IN_MS = 250
TAIL_MS = 1500
STING_GAP_MS = 250

HEADER_CHAPTER = "Introduction"
OUTRO_CHAPTER = "Credits"


def pause_ms(prev: str, nxt: str) -> int:
    """Silence between two spoken things, chosen by their roles."""
    def kinds(role: str) -> tuple[str, ...]:
        return (role, "story", "*") if role in STORY_ROLES else (role, "*")

    for a in kinds(prev):
        for b in kinds(nxt):
            if (a, b) in PAUSES:
                return PAUSES[(a, b)]
    return PARAGRAPH_PAUSE_MS


def _same_paragraph(text: str, before: tuple[int, int], after: tuple[int, int]) -> bool:
    """Whether two segments are pieces of one paragraph (no line break between them)."""
    return before[0] < before[1] <= after[0] < after[1] and "\n" not in text[before[1]:after[0]]


def spread_interludes(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """Move the songs out of the playlist and between the story's sections.

    Sections are the story's chapter marks (letters, scene-break parts, headed chapters);
    when there are fewer section boundaries than songs, paragraph boundaries of the story
    are used, evenly spaced. A story chapter resumed after an interlude is "(continued)".
    """
    songs = [s for s in segments if s.song is not None]
    rest = [s for s in segments if s.song is None]
    if not songs:
        return segments
    story = [i for i, s in enumerate(rest) if s.role in STORY_ROLES]
    if not story:
        return segments
    sections = [i for i in story[1:] if rest[i].chapter != rest[i - 1].chapter]
    if len(sections) >= len(songs):
        step = len(sections) / len(songs)
        points = [sections[int(k * step)] for k in range(len(songs))]
    else:
        candidates = story[1:] or story
        step = len(candidates) / (len(songs) + 1)
        points = sorted({candidates[min(len(candidates) - 1, int((k + 1) * step))] for k in range(len(songs))})
    placed: dict[int, list[Segment]] = {}
    for song, point in zip(songs, points):
        placed.setdefault(point, []).append(song)
    leftover = songs[len(points):]
    out: list[Segment] = []
    interrupted = False   # an interlude landed inside the current story chapter
    for i, seg in enumerate(rest):
        same_chapter = i > 0 and seg.chapter == rest[i - 1].chapter
        interrupted = interrupted and same_chapter
        if i in placed:
            out.extend(placed[i])
            interrupted = interrupted or same_chapter
        out.append(dataclasses.replace(seg, chapter=f"{seg.chapter} (continued)") if interrupted else seg)
    out.extend(leftover)
    return tuple(out)


def _cues(text: str, start: int, end: int, rate: int, voice: str | None = None) -> list[Cue]:
    """Split `text` into lines of at most CUE_CHARS, timed in proportion to their length."""
    # (a lexicon's phonemes show as the word they say: header, outro and songs are cued from speech)
    lines = textwrap.wrap(" ".join(plain_words(text).split()), CUE_CHARS, break_long_words=True) or []
    total = sum(len(line) for line in lines) or 1
    cues, pos = [], start
    for line in lines:
        nxt = pos + (end - start) * len(line) // total
        cues.append(Cue(line, round(pos * 1000 / rate), round(nxt * 1000 / rate), voice))
        pos = nxt
    if cues:
        cues[-1] = dataclasses.replace(cues[-1], end_ms=round(end * 1000 / rate))
    return cues


def voiced_spans(seg: Segment) -> tuple[Span, ...]:
    """The spans of a paragraph spoken one by one (each in its own voice), or () when the
    paragraph is spoken whole: all in one voice, or no dialogue at all."""
    said = tuple(sp for sp in seg.spans if sp.speech)
    return said if any(sp.voice != seg.voice for sp in said) else ()


def _song_file(script: Script, seg: Segment) -> Path | None:
    files = script.document.meta.interludes.files
    wanted = seg.song.title.casefold() if seg.song else ""
    for title, path in files.items():
        if title.casefold() == wanted:
            try:
                check_regular(path)   # ffmpeg opening a FIFO would wait for a writer forever
            except FileNotFoundError:
                raise InputError(f"interlude file for '{seg.song.title}' not found; fix [interludes.files] in the sidecar", path) from None
            except NotRegularFile as exc:
                raise InputError(f"interlude file for '{seg.song.title}' is {exc.kind}, not a song file; "
                                 "fix [interludes.files] in the sidecar", path) from None
            except OSError as exc:
                raise InputError(f"cannot read the interlude file for '{seg.song.title}' ({exc.strerror or exc}); "
                                 "fix [interludes.files] in the sidecar", path) from None
            return path
    return None


def check_songs(script: Script, placement: str | None = None) -> None:
    """Check every song file the episode plays before anything is spoken: a regular file
    that ffmpeg decodes to at least a second of audio. One second is decoded (the bundled
    ffmpeg; no ffprobe needed), so a long song costs no more than a short one."""
    checked: set[Path] = set()
    for seg in program_order(script, placement):
        if seg.song is None or not seg.spoken:
            continue
        path = _song_file(script, seg)
        if path is None or path in checked:
            continue
        checked.add(path)
        result = _decode(path, 0.0, 1.0, SONG_CHECK_RATE)
        if result.returncode != 0:
            why = why_ffmpeg_failed(result.returncode, result.stderr)
            raise InputError(f"cannot decode song file ({why}); give an MP3, M4A, OGG, FLAC or WAV", path)
        if len(result.stdout) < 2 * SONG_CHECK_RATE:
            raise InputError("song file holds less than a second of audio", path)


SONG_CHECK_RATE = 8000   # enough to tell audio from none; cheap to decode


def _decode(path: Path, offset: float, seconds: float, rate: int) -> subprocess.CompletedProcess:
    """`seconds` of the song from `offset`, as mono 16-bit samples at `rate`. -ss before -i:
    ffmpeg seeks in the file, so neither decoding time nor memory grows with the song."""
    cmd = [
        ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error",
        "-ss", f"{offset:.3f}", "-t", f"{seconds:.3f}", "-i", str(path),
        "-vn", "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1",
    ]
    return subprocess.run(cmd, capture_output=True)


def program_order(script: Script, placement: str | None = None) -> tuple[Segment, ...]:
    """The segments in the order the episode plays them (songs moved when spread)."""
    placement = placement or script.document.meta.interludes.placement
    return spread_interludes(script.segments) if placement == "spread" else script.segments


def assemble(
    script: Script,
    clips: Mapping[int, Clip | tuple[Clip, ...]],
    *,
    header: Clip | None = None,
    outro: Clip | None = None,
    placement: str | None = None,
    on_piece: Callable[[Piece, int], None] | None = None,
) -> Program:
    """Lay out the episode: every spoken segment's clip, pauses by role, interludes, chapters.

    `clips` maps segment index -> Clip and is read in play order, so it may block until a
    clip is spoken; `on_piece(piece, rate)` sees each piece as soon as its place is final (the
    encoder starts on the first stretches while later clips are still being spoken).
    """
    meta = script.document.meta
    segments = program_order(script, placement)
    spoken = [s for s in segments if s.spoken]
    first = header or (clips.get(spoken[0].index) if spoken else None) or outro
    if isinstance(first, tuple):
        first = first[0]
    rate = first.sample_rate if first else 22050   # the first clip's rate; others are resampled

    pieces: list[Piece] = []
    cues: list[Cue] = []
    marks: list[tuple[str, int]] = []   # (chapter title, start sample)
    pos = 0

    def samples(ms: float) -> int:
        return round(ms * rate / 1000)

    def add(kind: str, length: int, **kw) -> None:
        nonlocal pos
        if length > 0:
            pieces.append(Piece(kind=kind, start=pos, length=length, **kw))
            pos += length
            if on_piece is not None:
                on_piece(pieces[-1], rate)

    def speak(clip: Clip, text: str, voice: str | None = None) -> None:
        length = round(clip.duration_ms * rate / 1000) if clip.sample_rate != rate else _frames(clip)
        start = pos
        add("speech", length, source=clip.path)
        cues.extend(_cues(text, start, pos, rate, voice))

    def chapter(title: str) -> None:
        if not marks or marks[-1][0] != title:
            marks.append((title, pos if marks else 0))

    add("silence", samples(LEAD_IN_MS))
    prev = None
    prev_span: tuple[int, int] | None = None
    if header:
        chapter(HEADER_CHAPTER)
        speak(header, header.text)
        prev = "header"
    pause_taken = False   # a run of scene breaks ("~*~", ".", ".") is one pause
    for seg in segments:
        if seg.role == "scene_break":
            if not pause_taken:
                add("silence", samples(SCENE_BREAK_MS))
            pause_taken = True
            prev = None
            continue
        if not seg.spoken:
            continue
        clip = clips.get(seg.index)
        if clip is None:  # never drop text silently
            raise RenderError(f"segment {seg.index} ({seg.role}) has no audio clip; rerun the render")
        if prev is not None:
            same = prev_span is not None and seg.song is None and _same_paragraph(script.document.text, prev_span, seg.span)
            add("silence", samples(WITHIN_PARAGRAPH_MS if same else pause_ms(prev, seg.role)))
        pause_taken = False
        chapter(seg.chapter)
        if seg.song is not None:
            excerpt = _song_file(script, seg)
            if excerpt is not None:
                speak(clip, seg.speech)
                add("silence", samples(STING_GAP_MS))
                add("excerpt", samples(meta.interludes.excerpt_seconds * 1000), source=excerpt, offset_ms=EXCERPT_OFFSET_MS)
            elif meta.interludes.sting:
                add("sting", samples(STING_MS), variant=seg.index)
                add("silence", samples(STING_GAP_MS))
                speak(clip, seg.speech)
                add("silence", samples(STING_GAP_MS))
                add("sting", samples(STING_MS), variant=seg.index + 1)
            else:
                speak(clip, seg.speech)
        elif isinstance(clip, tuple):      # a paragraph of dialogue: its spans, voice after voice
            for k, (span, part) in enumerate(zip(voiced_spans(seg), clip)):
                if k:
                    add("silence", samples(SPAN_GAP_MS))
                speak(part, seg.text[span.start:span.end], span.speaker if span.kind != "narration" else None)
        else:
            speak(clip, seg.text)
        prev, prev_span = seg.role, (None if seg.song is not None else seg.span)
    if outro:
        if prev is not None:
            add("silence", samples(pause_ms(prev, "outro")))
        chapter(OUTRO_CHAPTER)
        speak(outro, outro.text)
    add("silence", samples(TAIL_MS))

    chapters = tuple(
        Chapter(title, round(start * 1000 / rate), round((marks[i + 1][1] if i + 1 < len(marks) else pos) * 1000 / rate))
        for i, (title, start) in enumerate(marks)
    )
    return Program(rate=rate, pieces=tuple(pieces), chapters=chapters, cues=tuple(cues), length=pos)


def assemble_clips(clips: list[Clip]) -> Program:
    """Clips one after another with paragraph pauses: a bare program (voice previews)."""
    rate = clips[0].sample_rate
    pieces, pos = [], 0
    for clip in clips:
        for piece in (Piece("silence", pos, round(PARAGRAPH_PAUSE_MS * rate / 1000)), Piece("speech", pos, _frames(clip), source=clip.path)):
            pieces.append(dataclasses.replace(piece, start=pos))
            pos += piece.length
    return Program(rate=rate, pieces=tuple(pieces), chapters=(), cues=(), length=pos)


def _frames(clip: Clip) -> int:
    try:
        with wave.open(str(clip.path), "rb") as w:
            return w.getnframes()
    except (OSError, EOFError, wave.Error) as exc:
        raise RenderError(f"clip is unreadable ({exc}); rerun with --no-cache", clip.path) from None


# ---- samples -------------------------------------------------------------------------

CHUNK_SECONDS = 5


def chunks(
    program: Program,
    *,
    span: tuple[int, int] | None = None,
    speech_gain: float = 1.0,
    music_lufs: float = -23.0,
) -> Iterator[np.ndarray]:
    """The program's samples (or those of `span`) as float32 chunks of a few seconds.

    Speech is scaled by `speech_gain`, music is brought to `music_lufs`. Spans cut only
    through silence: pauses, or quiet inside a clip (see Cutter), never through music.
    """
    lo, hi = span or (0, program.length)
    block = program.rate * CHUNK_SECONDS
    for piece in program.pieces:
        end = piece.start + piece.length
        if end <= lo or piece.start >= hi:
            continue
        if piece.kind == "speech":
            part = (max(lo, piece.start) - piece.start, min(hi, end) - piece.start)
            for chunk in _read_clip(piece, program.rate, block, part):
                yield chunk * speech_gain if speech_gain != 1.0 else chunk
        elif piece.kind == "silence":
            left = min(end, hi) - max(piece.start, lo)
            while left > 0:
                n = min(left, block)
                yield np.zeros(n, dtype=np.float32)
                left -= n
        elif piece.kind == "sting":
            yield _fit(_sting(piece.variant % len(_CHORDS), program.rate, music_lufs), piece.length)
        else:
            yield _fit(_normalise(_excerpt(piece, program.rate), program.rate, music_lufs), piece.length)


MIN_CUT_SILENCE_MS = 300   # a pause between pieces this long can take a cut
QUIET_STEPS = 2            # ... and so can this many quiet 100 ms steps inside a clip (a sentence's end)
QUIET_POWER = 1e-6         # K-weighted mean square of a quiet step: -60 dB


class Cutter:
    """Cuts a program, as its pieces are laid out, into stretches of about `target_seconds`,
    each cut in the middle of a pause: between pieces, or inside a clip where it is quiet
    for QUIET_STEPS loudness steps (eSpeak leaves ~350 ms between sentences), so a long
    paragraph is not one long stretch.

    Stretches are encoded separately (in parallel, and cached). Pauses between pieces are
    preferred (half the target will do, and cuts inside a clip keep half the target from its
    end), so stretches follow the clips: an edit re-encodes the stretches of the clip it
    changed, and the cuts after it land in the same places again.
    """

    def __init__(self, rate: int, target_seconds: float):
        self.rate = rate
        self.target = int(target_seconds * rate)
        self.min_silence = MIN_CUT_SILENCE_MS * rate // 1000
        self.last = 0

    def add(self, piece: Piece) -> list[int]:
        """Where to cut for this piece, if anywhere."""
        end = piece.start + piece.length
        if piece.kind == "silence" and piece.length >= self.min_silence:
            at = piece.start + piece.length // 2
            if at - self.last >= self.target // 2:
                self.last = at
                return [at]
        elif piece.kind == "speech" and end - self.last > self.target + self.target // 2:
            cuts = []
            for at in (piece.start + m for m in self._quiet_middles(piece)):
                if at - self.last >= self.target and end - at >= self.target // 2:
                    cuts.append(at)
                    self.last = at
            return cuts
        return []

    def _quiet_middles(self, piece: Piece) -> list[int]:
        """Middles of the clip's quiet runs, in samples from its start."""
        quiet = np.concatenate([[False], clip_steps(piece.source) < QUIET_POWER, [False]])
        edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
        middles = []
        for a, b in zip(edges[::2], edges[1::2]):
            at = round((a + b) / 2 * self.rate / 10)           # steps are 100 ms
            if b - a >= QUIET_STEPS and 0 < at < piece.length:
                middles.append(at)
        return middles


def span_key(program: Program, span: tuple[int, int], settings: str) -> str:
    """A content hash of what a span sounds like: same key, same encoded frames."""
    lo, hi = span
    digest = hashlib.sha256(f"{settings}|{program.rate}|{hi - lo}".encode())
    for piece in program.pieces:
        if piece.start + piece.length <= lo or piece.start >= hi:
            continue
        source = ""
        if piece.kind == "speech":
            source = piece.source.stem          # clips are named by their content hash
        elif piece.kind == "excerpt":
            stat = piece.source.stat()
            source = f"{piece.source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        start = max(piece.start, lo)
        digest.update(f"|{piece.kind}:{start - lo}:{start - piece.start}:{min(piece.start + piece.length, hi) - start}:{source}:{piece.variant}:{piece.offset_ms}".encode())
    return digest.hexdigest()


def retime(program: Program, to_ms: Callable[[int], int], duration_ms: int) -> Program:
    """Chapters and cues moved to where the encoded file really has them."""
    chapters = [
        Chapter(c.title, to_ms(round(c.start_ms * program.rate / 1000)), to_ms(round(c.end_ms * program.rate / 1000)))
        for c in program.chapters
    ]
    if chapters:   # the first starts at 0 and the last ends with the file, whatever the encoder adds
        chapters[0] = dataclasses.replace(chapters[0], start_ms=0)
        chapters[-1] = dataclasses.replace(chapters[-1], end_ms=duration_ms)
    cues = tuple(
        dataclasses.replace(c, start_ms=to_ms(round(c.start_ms * program.rate / 1000)), end_ms=min(duration_ms, to_ms(round(c.end_ms * program.rate / 1000))))
        for c in program.cues
    )
    return dataclasses.replace(program, chapters=tuple(chapters), cues=cues)


def speech_sample(program: Program, seconds: float = 20.0) -> np.ndarray:
    """About `seconds` of speech taken evenly across the program (for the limiter estimate);
    a long clip gives only its share, so a one-paragraph work is not read whole."""
    speech = [p for p in program.pieces if p.kind == "speech"]
    budget = int(seconds * program.rate)
    if not speech or budget <= 0:
        return np.zeros(0, dtype=np.float32)
    picked = speech[:: max(1, math.ceil(sum(p.length for p in speech) / budget))]
    share = max(program.rate, budget // len(picked))
    heads = [
        chunk
        for piece in picked
        for chunk in _read_clip(dataclasses.replace(piece, length=min(piece.length, share)), program.rate, share)
    ]
    return np.concatenate(heads)[:budget]


def _read_clip(piece: Piece, rate: int, block: int, part: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """A clip's samples (those of `part`, in samples from its start) as float32, resampled if
    its rate differs; exactly as many as piece.length says."""
    lo, hi = part or (0, piece.length)
    try:
        with wave.open(str(piece.source), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise RenderError("clip is not 16-bit mono WAV; rerun with --no-cache", piece.source)
            clip_rate = w.getframerate()
            sent = lo
            if clip_rate == rate:
                if lo:
                    w.setpos(min(lo, w.getnframes()))
                while sent < hi:
                    data = np.frombuffer(w.readframes(min(block, hi - sent)), dtype="<i2")
                    if not data.size:
                        break
                    sent += data.size
                    yield data.astype(np.float32) / 32768.0
            else:  # rare (a platform voice at another rate): short clips, resample whole
                data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
                yield _fit(_resample(data, clip_rate, rate), piece.length)[lo:hi]
                sent = hi
    except (OSError, EOFError, wave.Error) as exc:
        raise RenderError(f"clip is unreadable ({exc}); rerun with --no-cache", piece.source) from None
    if sent < hi:
        raise RenderError("clip is shorter than when it was laid out; rerun with --no-cache", piece.source)


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    n = round(x.size * dst / src)
    return np.interp(np.arange(n) * (src / dst), np.arange(x.size), x).astype(np.float32)


def _fit(x: np.ndarray, length: int) -> np.ndarray:
    return x[:length] if x.size >= length else np.concatenate([x, np.zeros(length - x.size, dtype=np.float32)])


def _normalise(x: np.ndarray, rate: int, lufs: float) -> np.ndarray:
    meter = LoudnessMeter(rate)
    meter.feed(x)
    level = meter.integrated()
    return x if not math.isfinite(level) else (x * 10 ** ((lufs - level) / 20)).astype(np.float32)


def _segment_samples(seg) -> np.ndarray:
    return np.array(seg.get_array_of_samples(), dtype=np.float32) / 32768.0


# Chords (semitones above A3) for the stings: soft, major-ish, a little different each time.
_CHORDS = ((0, 4, 7, 12), (5, 9, 12, 17), (7, 11, 14, 19), (-3, 0, 4, 9), (2, 5, 9, 14))


@functools.lru_cache(maxsize=len(_CHORDS))
def _sting(variant: int, rate: int, lufs: float) -> np.ndarray:
    """A short arpeggio generated in code (no copyrighted audio): four plucked notes ringing out."""
    chord = _CHORDS[variant % len(_CHORDS)]
    n = round(STING_MS * rate / 1000)
    out = np.zeros(n, dtype=np.float64)
    for k, step in enumerate(chord):
        start = round(k * 0.18 * rate)
        t = np.arange(n - start) / rate
        freq = 220.0 * 2 ** (step / 12)
        tone = np.sin(2 * np.pi * freq * t) + 0.25 * np.sin(4 * np.pi * freq * t)
        envelope = np.minimum(1.0, t / 0.015) * np.exp(-3.0 * t)     # quick attack, soft decay
        out[start:] += tone * envelope
    fade = round(0.06 * rate)
    out[-fade:] *= np.linspace(1.0, 0.0, fade)
    sting = _normalise((out / np.abs(out).max() * 0.5).astype(np.float32), rate, lufs)
    sting.setflags(write=False)   # cached (made and measured once) and shared between interludes
    return sting


def _excerpt(piece: Piece, rate: int) -> np.ndarray:
    """A faded excerpt of a song the user owns, decoded by ffmpeg, faded with pydub."""
    seconds = piece.length / rate
    for offset in (piece.offset_ms / 1000, 0.0):
        result = _decode(piece.source, offset, seconds, rate)
        if result.returncode != 0:
            why = why_ffmpeg_failed(result.returncode, result.stderr)
            raise InputError(f"cannot decode song file ({why}); give an MP3, M4A, OGG, FLAC or WAV", piece.source)
        if len(result.stdout) >= 2 * rate:  # at least a second of music
            break
    from pydub import AudioSegment   # only songs need it: not imported for every render

    seg = AudioSegment(data=result.stdout[: len(result.stdout) // 2 * 2], sample_width=2, frame_rate=rate, channels=1)
    if len(seg) < 1000:
        raise InputError("song file holds less than a second of audio", piece.source)
    fade = min(1500, len(seg) // 3)
    return _segment_samples(seg.fade_in(fade).fade_out(fade))
