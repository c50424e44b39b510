"""Words to compare: the transcript's text and the recogniser's, in one spoken form.

The transcript (`<name>.vtt`) holds the text as written ("Dr. Smith came at 3:30"), while
the audio says what `speech.to_speech` made of it ("Doctor Smith came at three thirty"),
and the recogniser writes what it hears in its own style ("Dr. Smith came at 3.30"). So
both sides go through the same steps before they are compared:

1. `speech.to_speech` without a lexicon: abbreviations, dates, times, money, URLs and
   marks become the words the engine was asked to say (the lexicon is left out on purpose:
   it respells names for the engine, while a listener should hear the name as written);
2. words are split at spaces, hyphens and punctuation, lower-cased, curly apostrophes made
   straight;
3. numbers still in digits become words ("19" -> "nineteen", "1990s" -> "nineteen
   nineties", "3:30" -> "three thirty", "42nd" -> "forty-second"); four-digit numbers from
   1100 to 2099 (but 2000-2009) without a thousands comma are read as years, the way both a narrator and the
   recogniser treat them; "and" inside a number is dropped ("one hundred and twenty" ==
   "one hundred twenty");
4. a few spelling variants are folded on both sides (British -ise/-our/-tre, "grey",
   "ok"), since the recogniser writes American spelling whatever the text says, and so
   are common homophones ("to", "too", "two"): the listener hears the same word.

Every word keeps the time it is (expected to be) said at, its spelling as said (for the
report) and whether it starts a sentence (a capitalised word elsewhere is a name).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from ..speech import to_speech
from ..speech.language import primary
from ..speech.numbers import cardinal, ordinal, year

__all__ = ["Line", "Word", "read_vtt", "runs", "words_of"]


@dataclass(frozen=True)
class Line:
    """A stretch of text said between two times: a transcript cue, or a recognised segment."""

    text: str
    start_ms: int
    end_ms: int
    voice: str | None = None


@dataclass(frozen=True)
class Word:
    key: str              # what is compared: lower case, spoken form, canonical spelling
    said: str             # as the line says it (case kept), for the report
    time_ms: int          # when it is (expected to be) said
    initial: bool = False  # first word of a sentence (so its capital says nothing)
    line: int = 0         # which line it came from (index into the lines given)
    start: int = 0        # its span in that line's spoken text
    end: int = 0


# ---- WebVTT --------------------------------------------------------------------------------

_TIMING = re.compile(r"^\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]*)>")
_TAG = re.compile(r"</?[^>]*>")


def _ms(stamp: str) -> int:
    parts = stamp.replace(",", ".").split(":")
    seconds = float(parts[-1]) + 60 * int(parts[-2]) + (3600 * int(parts[-3]) if len(parts) > 2 else 0)
    return round(seconds * 1000)


class TranscriptError(ValueError):
    """The transcript cannot be read (the caller names the file and what to do)."""


def read_vtt(path: Path) -> list[Line]:
    """The cues of a WebVTT file, in file order, with markup and voice tags taken off.

    Raises OSError if the file cannot be read and TranscriptError if it is not WebVTT.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise TranscriptError("not UTF-8 text") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.startswith("WEBVTT"):
        raise TranscriptError("not a WebVTT file (no WEBVTT header)")
    lines: list[Line] = []
    for block in re.split(r"\n[ \t]*\n", text)[1:]:
        rows = block.strip("\n").split("\n")
        timing = next((i for i, row in enumerate(rows) if "-->" in row), None)
        if timing is None:          # NOTE, STYLE and REGION blocks, stray text
            continue
        match = _TIMING.match(rows[timing])
        if match is None:
            raise TranscriptError(f"bad cue timing {rows[timing].strip()[:40]!r}")
        said = " ".join(rows[timing + 1:])
        voice = _VOICE.search(said)
        plain = html.unescape(_TAG.sub("", said))
        lines.append(Line(" ".join(plain.split()), _ms(match.group(1)), _ms(match.group(2)),
                          " ".join(voice.group(1).split()) if voice else None))
    return lines


def runs(cues: list[Line]) -> list[Line]:
    """Cues joined into the clips they were cut from.

    The renderer cuts each spoken clip's text into cues of at most 65 characters that
    follow each other without a gap, and puts a pause between clips; joining them gives
    whole sentences back, so a date or a name split over two cues is read as one.
    """
    joined: list[Line] = []
    for cue in cues:
        if not cue.text:
            continue
        last = joined[-1] if joined else None
        if last is not None and abs(cue.start_ms - last.end_ms) <= 1 and cue.voice == last.voice:
            joined[-1] = Line(f"{last.text} {cue.text}", last.start_ms, cue.end_ms, last.voice)
        else:
            joined.append(cue)
    return joined


# ---- the spoken form -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\d+(?:[:.,]\d+)*(?:st|nd|rd|th|s)?(?![^\W\d_])"   # 19, 1,200, 3:30, 5.50, 42nd, 1990s
    r"|[^\W_]+(?:['’][^\W\d_]+)*"                       # words, with apostrophes inside: I'm, o'clock
)
_SENTENCE_END = re.compile(r"[.!?…:;]['\"”’)\]]*\s*$")
_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred thousand million billion oh".split()
)
# Spelling the recogniser never writes (it learnt American English), folded on both sides.
_SPELLING = (
    (re.compile(r"(?<=\w\w)is(e|es|ed|ing|ation|ations)$"), r"iz\1"),   # apologise, realisation
    (re.compile(r"(?<=\w\w)yse(s|d)?$"), r"yze\1"),                      # analyse
    (re.compile(r"(?<=\w\w)our(s|ed|ing|ite|ites|able)?$"), r"or\1"),   # colour, favourite
    (re.compile(r"(?<=\w\w[^aeiou])([tb])re(s|d)?$"), r"\1er\2"),       # centre, theatre, fibre
)
_SAME = {"ok": "okay", "grey": "gray", "greys": "grays", "till": "until", "til": "until"}
# Words that sound the same: a listener cannot tell them apart, so neither can the report
# (the recogniser picks whichever its language model likes: "too" for "to", "flower" for
# "flour"). Each group is folded to its first word, on both sides.
_HOMOPHONES = (
    "to too two", "there their they're", "your you're", "know no", "knew new", "hear here",
    "right write", "by buy bye", "for four", "one won", "flour flower", "whole hole",
    "through threw", "weather whether", "where wear", "would wood", "peace piece", "week weak",
    "see sea", "meet meat", "be bee", "ate eight", "whose who's", "allowed aloud", "passed past",
    "morning mourning", "break brake", "road rode", "sun son", "tail tale", "wait weight",
)
for _group in _HOMOPHONES:
    _first, *_rest = _group.split()
    _SAME.update(dict.fromkeys(_rest, _first))


def _canonical(word: str) -> str:
    word = word.lower().replace("’", "'")
    if word in _SAME:
        return _SAME[word]
    for pattern, replacement in _SPELLING:
        word = pattern.sub(replacement, word)
    return word


def _number_words(token: str, english: bool) -> list[str]:
    """A token holding digits, as the words a narrator says (English); else as written."""
    if not english:
        return [token]
    lower = token.lower()
    if ":" in lower:                                    # a time of day, 3:30 / 10:00
        hours, _, minutes = lower.partition(":")
        if hours.isdigit() and minutes.isdigit() and len(minutes) == 2:
            h, m = int(hours), int(minutes)
            return _split(cardinal(h)) + (["o'clock"] if m == 0 else ["oh"] + _split(cardinal(m)) if m < 10 else _split(cardinal(m)))
    digits = lower.replace(",", "")
    suffix = ""
    for end in ("st", "nd", "rd", "th", "s"):
        if digits.endswith(end) and digits[:-len(end)].replace(".", "").isdigit():
            digits, suffix = digits[:-len(end)], end
            break
    if "." in digits:                                   # 5.50 -> five point five zero
        whole, _, fraction = digits.partition(".")
        if whole.isdigit() and fraction.isdigit():
            return _split(cardinal(int(whole))) + ["point"] + [_split(cardinal(int(d)))[0] for d in fraction]
        return [token]
    if not digits.isdigit():
        return [token]
    n = int(digits)
    if suffix in ("st", "nd", "rd", "th"):
        return _split(ordinal(n))
    said = _split(year(n) if 1100 <= n <= 2099 and not 2000 <= n <= 2009 and "," not in lower else cardinal(n))
    if suffix == "s":                                   # 1990s -> nineteen nineties, 20s -> twenties
        last = said[-1]
        said[-1] = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return said


def _split(words: str) -> list[str]:
    return [w for w in re.split(r"[\s\-,]+", words.lower()) if w]


def words_of(lines: list[Line], language: str = "en") -> list[Word]:
    """Every word of `lines`, in the spoken form described above, timed in proportion to
    its place in its line (the renderer times cues in proportion to their length too)."""
    english = primary(language) == "en"
    out: list[Word] = []
    for index, line in enumerate(lines):
        said = to_speech(line.text, "narration", None, language=language)
        span = max(1, len(said))
        keys: list[tuple[str, str, str, int, int, bool]] = []
        for match in _TOKEN.finditer(said):
            token = match.group()
            initial = match.start() == 0 or bool(_SENTENCE_END.search(said[max(0, match.start() - 6):match.start()]))
            parts = _number_words(token, english) if token[0].isdigit() else [token]
            for part in parts:
                keys.append((_canonical(part), part.lower(), token, match.start(), match.end(), initial))
        for k, (key, plain, token, start, end, initial) in enumerate(keys):
            # "and" between two number words is part of the number: narrators and
            # recognisers both say or leave it ("one hundred (and) twenty").
            if plain == "and" and 0 < k < len(keys) - 1 and keys[k - 1][1] in _NUMBER_WORDS and keys[k + 1][1] in _NUMBER_WORDS:
                continue
            time = line.start_ms + (line.end_ms - line.start_ms) * start // span
            out.append(Word(key, token, time, initial, index, start, end))
    return out


def spoken(line: Line, language: str = "en") -> str:
    """The line as the engine was asked to say it (without a lexicon): for quoting a stretch."""
    return to_speech(line.text, "narration", None, language=language)
