"""The work's language: the few words the rules put into the speech themselves.

A rule that replaces a mark with a word ("Alec/Magnus" -> "Alec and Magnus") must say that
word in the work's language: an English "and" in a French reading is a wrong word, said
with a French accent. Languages listed here get their own words; any other language gets
a comma (a pause) where a conjunction would go, and nothing where a label would go, so a
work in a language we have no words for never hears English.
"""

from __future__ import annotations

import functools
import re
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
