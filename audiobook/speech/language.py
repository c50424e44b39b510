"""The work's language: the few words the rules put into the speech themselves, and the
language a text is written in when nothing says (`detect`).

A rule that replaces a mark with a word ("Alec/Magnus" -> "Alec and Magnus") must say that
word in the work's language: an English "and" in a French reading is a wrong word, said
with a French accent. Languages listed here get their own words; any other language gets
a comma (a pause) where a conjunction would go, and nothing where a label would go, so a
work in a language we have no words for never hears English.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    """What the rules say, in one language ("" = say nothing there)."""

    code: str               # the primary language subtag: "en", "fr", ...
    and_: str = ""          # Alec/Magnus, Simon & Garfunkel
    or_: str = ""           # his/her
    to: str = ""            # 1990–1995
    number: str = ""        # #1
    authors_note: str = ""  # A/N
    interlude: str = ""     # a song's announcement: "Interlude: Title, by Artist."
    by: str = ""

    @property
    def english(self) -> bool:
        return self.code == "en"


_WORDS = {
    "en": Words("en", "and", "or", "to", "number", "Author's note", "Interlude", "by"),
    "fr": Words("fr", "et", "ou", "à", "", "", "Interlude", "de"),
    "de": Words("de", "und", "oder", "bis", "", "", "Zwischenspiel", "von"),
    "es": Words("es", "y", "o", "a", "", "", "Interludio", "de"),
    "it": Words("it", "e", "o", "a", "", "", "Interludio", "di"),
    "pt": Words("pt", "e", "ou", "a", "", "", "Interlúdio", "de"),
    "nl": Words("nl", "en", "of", "tot", "", "", "Intermezzo", "van"),
}

_SUBTAG = re.compile(r"[-_.@]")


def primary(language: str | None) -> str:
    """The primary subtag of a language tag: "en-US" -> "en", "pt_BR" -> "pt"; "" -> "en"."""
    return _SUBTAG.split((language or "").strip().lower(), maxsplit=1)[0] or "en"


@functools.lru_cache(maxsize=64)
def words(language: str | None) -> Words:
    """The rules' words for a language tag (an unknown language: conjunctions become pauses)."""
    code = primary(language)
    return _WORDS.get(code) or Words(code)


# --------------------------------------------------------------------------- the text's own language

# A script most letters of a text are written in -> the language it most likely is (a
# language tag, as a sidecar would say it). Latin is absent on purpose: a Latin-script text
# keeps the default (English) unless its metadata says otherwise; telling French from
# English needs words, not letters, and a guess would be wrong often enough to hurt.
SCRIPT_LANGUAGES = {
    "CYRILLIC": "ru", "CJK": "zh", "ARABIC": "ar", "GREEK": "el", "HEBREW": "he",
    "DEVANAGARI": "hi", "HANGUL": "ko", "HIRAGANA": "ja", "KATAKANA": "ja", "THAI": "th",
}
# Han, kana and Hangul write a syllable a character; Latin and Cyrillic take two or three
# letters for one. Counting a syllable character twice compares the two by what is said.
_SYLLABIC = frozenset({"CJK", "HIRAGANA", "KATAKANA", "HANGUL"})
_UKRAINIAN = frozenset("іїєґІЇЄҐ")     # Cyrillic letters Russian does not use
DETECT_LETTERS = 20000                   # a work's language shows in its first pages

# Names said in messages ("no voice speaks Russian (ru)").
NAMES = {
    "en": "English", "ru": "Russian", "uk": "Ukrainian", "zh": "Mandarin Chinese", "cmn": "Mandarin Chinese",
    "yue": "Cantonese", "ar": "Arabic", "el": "Greek", "he": "Hebrew", "hi": "Hindi", "ko": "Korean",
    "ja": "Japanese", "th": "Thai", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "vi": "Vietnamese",
}


def name(language: str | None) -> str:
    """"ru" -> "Russian (ru)"; a language we have no name for: its tag."""
    tag = (language or "").strip() or "en"
    known = NAMES.get(primary(tag))
    return f"{known} ({tag})" if known else repr(tag)


def _script(ch: str) -> str:
    if ch < "\u0250":
        return "LATIN"          # ASCII and Latin-1/Extended-A/B: no name lookup for most letters
    script = unicodedata.name(ch, "").split(" ", 1)[0]
    return "CJK" if script.startswith("CJK") else script


def detect(text: str) -> str | None:
    """The language of a text by the script most of its letters are in ("ru" for a mostly
    Cyrillic text, "zh" for Han, "ja" when kana stand among the Han); None for a Latin
    script text, or one in a script not listed (the caller keeps its default)."""
    counts: Counter[str] = Counter()
    seen = ukrainian = 0
    for ch in text:
        if not ch.isalpha():
            continue
        script = _script(ch)
        counts[script] += 2 if script in _SYLLABIC else 1
        ukrainian += ch in _UKRAINIAN
        seen += 1
        if seen >= DETECT_LETTERS:
            break
    if not counts:
        return None
    kana = counts["HIRAGANA"] + counts["KATAKANA"]
    if kana and counts["CJK"] + kana >= max(counts.values()):
        return "ja"                        # Japanese mixes kana with Han; Chinese has no kana
    script = counts.most_common(1)[0][0]
    if script == "CYRILLIC" and ukrainian * 50 >= counts[script]:
        return "uk"
    return SCRIPT_LANGUAGES.get(script)
