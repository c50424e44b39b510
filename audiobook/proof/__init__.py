"""Stage: proof. Episode -> report: a speech recogniser listens to the episode, and what it
heard is set against what the episode meant to say (its transcript sidecar, `<name>.vtt`).

    report = proof(Path("output/work.mp3"), ProofOptions())
    report.wer, report.chapters, report.misheard, report.missing

The report gives the word error rate (overall and per chapter: ID3 chapters, else
`<name>.chapters.json`), the words heard wrong grouped by word (names first, with the times
they are said), and the stretches of text that are missing from the audio. The recogniser
is an independent listener, not an oracle: a small model mishears some clear speech too,
so compare numbers between renders and voices rather than reading them as absolutes.

Modules: `listen` (faster-whisper, the model, decoding), `words` (the transcript and the
spoken form both sides are compared in), `align` (jiwer). Needs `pip install
'audiofic[proof]'`; without it `proof` raises ProofError saying so.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import AudioficError
from ..models import Chapter
from .align import AlignerMissing, align, check
from .listen import Hearing, ListenError, Recogniser, find_model
from .words import Line, TranscriptError, Word, read_vtt, runs, spoken, words_of

__all__ = ["ProofError", "ProofOptions", "ProofReport", "compare", "expected_lines", "proof"]

Progress = Callable[[str, int, int], None]   # (stage, done, total): "listen", ms heard, ms in all

# A run of at least this many expected words with nothing heard is reported as missing
# (shorter runs are within what a small recogniser drops in clear speech).
MIN_MISSING = 5


class ProofError(AudioficError):
    """The episode cannot be proofed: not an MP3, no transcript, no model, no extra."""


@dataclass(frozen=True)
class ProofOptions:
    model: str | None = None       # a model folder or name; None: the bundled model
    download: bool = False         # let a model name be fetched from the Hugging Face Hub
    threads: int | None = None     # recogniser threads; None: one per core
    beam_size: int = 5             # 1 (greedy) is about 1.5x faster and mishears more (see listen)
    min_missing: int = MIN_MISSING


@dataclass(frozen=True)
class Heard:
    """One expected word heard as something else (`heard` is "" when nothing was heard)."""

    heard: str
    time_ms: int


@dataclass(frozen=True)
class Misheard:
    word: str                      # as the text says it (spoken form), e.g. "Magnus"
    name: bool                     # capitalised where it does not start a sentence
    wrong: int                     # times heard wrong
    said: int                      # times the episode says it
    heard: tuple[Heard, ...]       # each time it was heard wrong


@dataclass(frozen=True)
class Missing:
    start_ms: int
    end_ms: int
    words: int
    text: str                      # the text that was not heard (spoken form)
    chapter: str


@dataclass(frozen=True)
class Extra:
    """Heard, though the text does not say it."""

    word: str
    time_ms: int


@dataclass(frozen=True)
class ChapterScore:
    title: str
    start_ms: int
    end_ms: int
    words: int                     # expected words
    substitutions: int
    deletions: int
    insertions: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float | None:
        return self.errors / self.words if self.words else None


@dataclass(frozen=True)
class ProofReport:
    episode: Path
    transcript: Path
    model: str
    duration_ms: int
    listen_seconds: float          # decoding and recognition, wall time
    load_seconds: float            # loading the model
    words: int                     # expected words in all
    heard_words: int
    substitutions: int
    deletions: int
    insertions: int
    chapters: tuple[ChapterScore, ...]
    misheard: tuple[Misheard, ...]
    missing: tuple[Missing, ...]
    extra: tuple[Extra, ...] = field(default=())

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0

    @property
    def speed(self) -> float:
        """Seconds of audio recognised per second of wall time."""
        return self.duration_ms / 1000 / self.listen_seconds if self.listen_seconds > 0 else 0.0

    def as_dict(self) -> dict:
        """The report as plain data (what `audiofic proof --json` prints)."""
        return {
            "episode": str(self.episode),
            "transcript": str(self.transcript),
            "model": self.model,
            "duration_s": round(self.duration_ms / 1000, 3),
            "listen_s": round(self.listen_seconds, 2),
            "load_s": round(self.load_seconds, 2),
            "speed_x_realtime": round(self.speed, 2),
            "words": self.words,
            "heard_words": self.heard_words,
            "wer": round(self.wer, 4),
            "substitutions": self.substitutions,
            "deletions": self.deletions,
            "insertions": self.insertions,
            "chapters": [
                {"title": c.title, "start_s": c.start_ms / 1000, "end_s": c.end_ms / 1000, "words": c.words,
                 "wer": None if c.wer is None else round(c.wer, 4), "substitutions": c.substitutions,
                 "deletions": c.deletions, "insertions": c.insertions}
                for c in self.chapters
            ],
            "misheard": [
                {"word": m.word, "name": m.name, "wrong": m.wrong, "said": m.said,
                 "heard": [{"as": h.heard, "time_s": h.time_ms / 1000} for h in m.heard]}
                for m in self.misheard
            ],
            "missing": [
                {"start_s": m.start_ms / 1000, "end_s": m.end_ms / 1000, "words": m.words, "text": m.text, "chapter": m.chapter}
                for m in self.missing
            ],
            "extra": [{"word": e.word, "time_s": e.time_ms / 1000} for e in self.extra],
        }


# ---- reading the episode ---------------------------------------------------------------------


def _episode(mp3: Path):
    from ..errors import FeedError
    from ..tag import read_episode

    if not mp3.exists():
        raise ProofError("no such file; give the path of an episode MP3", mp3)
    if not mp3.is_file():
        raise ProofError("not a file; give the path of an episode MP3", mp3)
    try:
        return read_episode(mp3)
    except FeedError:
        raise ProofError("not a readable MP3; give an episode written by audiofic render, or re-render it", mp3) from None


def expected_lines(transcript: Path) -> list[Line]:
    """The transcript's text, joined back into the clips it was cut from."""
    try:
        cues = read_vtt(transcript)
    except OSError as exc:
        raise ProofError(f"cannot read the transcript ({exc.strerror or exc}); re-render the episode", transcript) from None
    except TranscriptError as exc:
        raise ProofError(f"{exc}; re-render the episode to write its transcript again", transcript) from None
    lines = runs(cues)
    if not lines:
        raise ProofError("the transcript has no text to compare with; re-render the episode", transcript)
    return lines


def _chapters(episode, duration_ms: int) -> tuple[Chapter, ...]:
    """ID3 chapters, else the Podcasting 2.0 JSON, else the whole episode as one."""
    if episode.chapters:
        return episode.chapters
    if episode.chapters_json is not None:
        try:
            doc = json.loads(Path(episode.chapters_json).read_text(encoding="utf-8"))
            marks = [(str(c.get("title", "")), round(float(c["startTime"]) * 1000)) for c in doc.get("chapters", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            marks = []             # a damaged sidecar: the episode still gets proofed whole
        marks.sort(key=lambda m: m[1])
        if marks:
            ends = [m[1] for m in marks[1:]] + [max(duration_ms, marks[-1][1])]
            return tuple(Chapter(title, start, end) for (title, start), end in zip(marks, ends))
    return (Chapter("(whole episode)", 0, duration_ms),)


# ---- the comparison --------------------------------------------------------------------------


def _chapter_of(chapters: tuple[Chapter, ...], time_ms: int) -> int:
    for index, chapter in enumerate(chapters):
        if time_ms < chapter.end_ms:
            return index
    return len(chapters) - 1


def _is_name(occurrences: list[Word]) -> bool:
    """Capitalised every time, and at least once where a sentence does not start."""
    if all(w.said in ("I", "I'm", "I'd", "I'll", "I've") for w in occurrences):
        return False
    return all(w.said[:1].isupper() for w in occurrences) and any(not w.initial for w in occurrences)


def compare(
    lines: list[Line],
    heard: list[Line],
    chapters: tuple[Chapter, ...],
    *,
    language: str = "en",
    min_missing: int = MIN_MISSING,
) -> dict:
    """Set the words heard against the words meant: counts, per-chapter scores, misheard
    words, missing stretches and extra words (the fields of ProofReport)."""
    ref = words_of(lines, language)
    hyp = words_of(heard, language)
    ops = align([w.key for w in ref], [w.key for w in hyp])

    where = [_chapter_of(chapters, w.time_ms) for w in ref]
    per = [[0, 0, 0] for _ in chapters]       # substitutions, deletions, insertions
    status = ["ok"] * len(ref)                # per word meant: "ok", "sub" or "del"
    heard_as = [""] * len(ref)
    extra: list[Extra] = []
    for op in ops:
        if op.kind == "insert":
            # An extra word belongs to the chapter of the word meant before it: the
            # transcript's times stay right even where the audio has shifted.
            chapter = where[op.ref_start - 1] if op.ref_start > 0 else 0
            per[chapter][2] += op.hyp_end - op.hyp_start
            extra.extend(Extra(hyp[k].said, hyp[k].time_ms) for k in range(op.hyp_start, op.hyp_end))
        elif op.kind in ("substitute", "delete"):
            for offset, k in enumerate(range(op.ref_start, op.ref_end)):
                status[k] = "sub" if op.kind == "substitute" else "del"
                heard_as[k] = hyp[op.hyp_start + offset].said if op.kind == "substitute" else ""
                per[where[k]][0 if op.kind == "substitute" else 1] += 1

    # Missing stretches: runs of words meant and not heard. A recogniser that hears nothing
    # often guesses a word or two in the gap, and the alignment may pair a guess with any
    # word of the run: so two runs count as one when no more than two words heard wrong
    # stand between them, and up to two words heard wrong at either end belong to the
    # stretch. A word heard right ends a stretch.
    merged: list[list[int]] = []
    k = 0
    while k < len(ref):
        if status[k] != "del":
            k += 1
            continue
        start = k
        while k < len(ref) and status[k] == "del":
            k += 1
        if merged and start - merged[-1][1] <= 2 and all(status[j] == "sub" for j in range(merged[-1][1], start)):
            merged[-1][1] = k
        else:
            merged.append([start, k])
    missing: list[Missing] = []
    in_missing: set[int] = set()
    for start, end in merged:
        if status[start:end].count("del") < min_missing:
            continue
        for _ in range(2):
            if start > 0 and status[start - 1] == "sub" and start - 1 not in in_missing:
                start -= 1
            if end < len(ref) and status[end] == "sub":
                end += 1
        in_missing.update(range(start, end))
        first, last = ref[start], ref[end - 1]
        pieces = []
        for n in range(first.line, last.line + 1):     # the text as said, punctuation and all
            said = spoken(lines[n], language)
            pieces.append(said[first.start if n == first.line else 0:last.end if n == last.line else len(said)])
        text = " ".join(pieces)
        after = ref[end] if end < len(ref) else None
        end_ms = after.time_ms if after is not None and after.line == last.line else lines[last.line].end_ms
        missing.append(Missing(first.time_ms, max(first.time_ms, end_ms), end - start, text, chapters[where[start]].title))

    totals = Counter(w.key for w in ref)
    occurrences: dict[str, list[int]] = {}
    for k, w in enumerate(ref):
        occurrences.setdefault(w.key, []).append(k)
    misheard = []
    for key, ks in occurrences.items():
        # Words inside a missing stretch are reported by the stretch, not one by one.
        shown = [k for k in ks if status[k] != "ok" and k not in in_missing]
        if not shown:
            continue
        forms = Counter(ref[k].said for k in shown)
        misheard.append(Misheard(
            word=forms.most_common(1)[0][0],
            name=_is_name([ref[k] for k in ks]),
            wrong=len(shown),
            said=totals[key],
            heard=tuple(Heard(heard_as[k], ref[k].time_ms) for k in shown),
        ))
    misheard.sort(key=lambda m: (not m.name, -m.wrong, m.heard[0].time_ms))

    scores = tuple(
        ChapterScore(c.title, c.start_ms, c.end_ms, sum(1 for x in where if x == i), *per[i])
        for i, c in enumerate(chapters)
    )
    return {
        "words": len(ref),
        "heard_words": len(hyp),
        "substitutions": status.count("sub"),
        "deletions": status.count("del"),
        "insertions": len(extra),
        "chapters": scores,
        "misheard": tuple(misheard),
        "missing": tuple(missing),
        "extra": tuple(extra),
    }


# ---- the stage -------------------------------------------------------------------------------


def proof(
    mp3: Path,
    options: ProofOptions = ProofOptions(),
    progress: Progress | None = None,
    recogniser: Recogniser | None = None,
) -> ProofReport:
    """Listen to the episode at `mp3` and report how well it says its transcript.

    Raises ProofError (one line naming the file and what to do) for a missing or unreadable
    MP3, a missing or damaged transcript, a missing model or a missing `[proof]` extra.
    Pass `recogniser` to reuse a loaded model across episodes.
    """
    import time

    mp3 = Path(mp3)
    episode = _episode(mp3)
    transcript = mp3.with_name(mp3.stem + ".vtt")
    if episode.transcript is None:
        raise ProofError(f"no transcript {transcript.name} next to it; proof compares the audio with the "
                         "transcript audiofic render writes, so re-render the episode or put its .vtt beside it", mp3)
    lines = expected_lines(transcript)
    try:
        check()
    except AlignerMissing:
        raise ProofError("comparing what was heard needs the proof extra: pip install 'audiofic[proof]'", mp3) from None
    started = time.monotonic()
    try:
        if recogniser is None:
            recogniser = Recogniser(find_model(options.model), download=options.download, cpu_threads=options.threads)
        loaded = time.monotonic() - started
        hearing: Hearing = recogniser.listen(
            mp3, episode.language,
            None if progress is None else (lambda done, total: progress("listen", done, total)),
            expected_ms=episode.duration_ms,
            beam_size=options.beam_size,
        )
    except ListenError as exc:
        raise ProofError(str(exc), mp3) from None
    chapters = _chapters(episode, hearing.duration_ms)
    found = compare(lines, list(hearing.lines), chapters, language=episode.language, min_missing=options.min_missing)
    return ProofReport(
        episode=mp3,
        transcript=transcript,
        model=recogniser.model.label,
        duration_ms=hearing.duration_ms,
        listen_seconds=hearing.seconds,
        load_seconds=loaded,
        **found,
    )
