"""Abbreviations (English): said in full, their period no longer a sentence end.

eSpeak NG stops for a sentence after an abbreviation it does not know ("Capt. Reed",
"Ms. Smith", "vs. Magnus", "No. 5", "Mt. Everest", "e.g. Harry": a 350 ms pause, measured)
and spells or garbles others ("Lt." -> "L T", "Jr." -> "J R", "Ave." -> "ah-vay", "Chf.",
"approx."). The engine's own chunker (`engines.chunk_text`) also cuts long paragraphs at
". ", so even a title eSpeak reads right ("Mr.", "Dr.") could end a chunk: a full word
has no period to cut at.

- titles: ``Mr.`` Mister, ``Mrs.`` Missus, ``Ms.`` Miz, ``Dr.`` Doctor, ``Lt.`` Lieutenant,
  ``Sgt.`` Sergeant, ``Capt.`` Captain, ``Prof.`` Professor, ``Chf.`` Chief; before a
  capitalised name only: ``Col.`` Colonel, ``Gen.`` General, ``Mt.`` Mount;
- ``St.`` Saint before a capitalised name ("St. Mungo's"), Street after a number or a name
  inside a sentence ("221B Baker St.", "at Baker St. Then"); ``Dr.`` Drive after a name or
  number when no name follows ("Mulberry Dr."), else Doctor;
  ``Ave.`` Avenue after a name or number; ``Jr.`` Junior and ``Sr.`` Senior after a name;
- ``No. 5`` "Number 5"; ``vs.`` versus, ``etc.`` etcetera, ``e.g.`` for example, ``i.e.``
  that is, ``approx.`` approximately.

A title's period is dropped. After a word that can end a sentence (etc., Jr., Street, ...)
the period stays when the text ends there or a capitalised word follows ("..., etc. Then").
"""

from __future__ import annotations

import re

_TITLES = {  # nothing else is written so
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz",
    "Lt": "Lieutenant", "Sgt": "Sergeant", "Capt": "Captain", "Prof": "Professor", "Chf": "Chief",
}
_BEFORE_NAME = {"Col": "Colonel", "Gen": "General", "Mt": "Mount"}  # else: a column, Genesis, ...
_AFTER_NAME = {"Jr": "Junior", "Sr": "Senior", "Ave": "Avenue"}
_WORDS = {"vs": "versus", "etc": "etcetera", "e.g": "for example", "i.e": "that is", "approx": "approximately"}
_ENDS_SENTENCE = {"etc", "approx", "Jr", "Sr", "Ave", "St", "Dr"}   # may be the sentence's last word
_ALL = {*_TITLES, *_BEFORE_NAME, *_AFTER_NAME, "Dr", "St", "No"} | {
    form for word in _WORDS for form in (word, word[0].upper() + word[1:])
}
_LENGTHS = sorted({len(a) for a in _ALL}, reverse=True)

# Found by their period: the pattern starts with "." (a fast scan) and one look-behind per
# length tells whether an abbreviation ends there. A pattern starting with the abbreviations
# ("Mr|Dr|...|etc") is tried at every "M", "D", ... "e" of the text: 60 times slower.
_ABBREVIATION = re.compile(
    r"\.(?:"
    + "|".join(
        "(?<=(?:" + "|".join(re.escape(a) for a in sorted(_ALL) if len(a) == n) + r")\.)" for n in _LENGTHS
    )
    + ")"
)
# What follows: a capitalised word (a name, or a new sentence), or the end of the text.
_NAME_NEXT = re.compile(r"[ \t]*(?:\n[ \t]*)?[\"“‘'(]?[A-Z]")
_END_NEXT = re.compile(r"[\"”’')\]\s]*$")
_DIGIT_NEXT = re.compile(r"\s?\d")
# What comes before: a capitalised word or a number ("Baker St.", "42nd St.", "Smith, Jr.").
_NAME = re.compile(r"[A-Z][\w'’-]*")
_NUMBER = re.compile(r"\d+\w*")
_SENTENCE_STARTS_AFTER = tuple(".!?:;\"“‘'([—–-")


def _word_before(text: str, start: int) -> tuple[bool, bool]:
    """(a name or number is right before `start`, it is a street's: a number, or a
    capitalised word inside its sentence). "at Baker St. Then" is a street; "Visit St.
    Mungo's" and "Dear Dr. Jones" are not: their capitalised word starts the sentence."""
    window = text[max(0, start - 60):start]
    if not window[-1:].isspace():
        return False, False
    parts = window.rsplit(None, 2)[-2:]
    if not parts:
        return False, False
    word = parts[-1].removesuffix(",")
    lead = parts[0] if len(parts) == 2 else ""
    if _NUMBER.fullmatch(word):
        return True, True
    if not _NAME.fullmatch(word):
        return False, False
    return True, not (lead == "" or lead.endswith(_SENTENCE_STARTS_AFTER))


def _say(text: str, start: int, end: int, abbreviation: str) -> str | None:
    """What to say for text[start:end] (`abbreviation` and its period); None: leave it."""
    name_next = _NAME_NEXT.match(text, end) is not None
    at_end = _END_NEXT.match(text, end) is not None
    key = abbreviation
    if key.lower() in _WORDS:
        key = key.lower()
        said = _WORDS[key]
        if abbreviation[0].isupper():
            said = said[0].upper() + said[1:]
    elif key in _TITLES:
        said = _TITLES[key]
    elif key == "No":
        if not _DIGIT_NEXT.match(text, end):
            return None
        said = "Number"
    elif key in _BEFORE_NAME:
        if not name_next:
            return None
        said = _BEFORE_NAME[key]
    else:
        name_before, street = _word_before(text, start)
        if key == "Dr":
            # A name after it wins ("told Magnus Dr. Smith was in"): a doctor read as a
            # drive is the worse mistake, so "Mulberry Dr. Then" is read "Doctor".
            said = "Drive" if name_before and not name_next else "Doctor"
        elif key == "St":
            if street or (name_before and not name_next):
                said = "Street"
            elif name_next:
                said = "Saint"
            else:
                return None
        elif name_before:
            said = _AFTER_NAME[key]
        else:
            return None
        if said in ("Doctor", "Saint"):
            key = said                  # a title: never the sentence's last word
    if at_end or (name_next and key in _ENDS_SENTENCE):
        return said + "."
    return said


def expand_abbreviations(text: str) -> str:
    """English abbreviations said in full (see the module notes)."""
    if "." not in text:
        return text
    out: list[str] = []
    done = 0
    for match in _ABBREVIATION.finditer(text):
        end = match.end()
        for n in _LENGTHS:
            start = end - 1 - n
            abbreviation = text[start:end - 1]
            if start >= done and abbreviation in _ALL:
                break
        else:
            continue
        if start and (text[start - 1].isalnum() or text[start - 1] in "._"):
            continue                    # inside a word or a dotted name ("Emr.", "x.Dr.")
        said = _say(text, start, end, abbreviation)
        if said is not None:
            out.append(text[done:start])
            out.append(said)
            if text[end:end + 1].isalnum():
                out.append(" ")         # "Mr.Smith": "Mister Smith", not "MisterSmith"
            done = end
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)
