"""The segmenter's working record: one paragraph (or one line of a special shape) of the text.

Units are mutable while the stages of one segment() call fill them in (kind, then role,
region, letter, chapter); segment() turns them into frozen Segments at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import Song
from .header import Label


@dataclass
class Unit:
    start: int                           # span in Document.text
    end: int
    text: str
    # Shape, set when the text is cut: "" (prose), scene_break, heading (a chapter), section
    # (a title inside one), playlist, song, label (a header line such as "Rating: T"),
    # stanza (several short lines: verse, lyrics), aside (a note in brackets inside a
    # paragraph: "(A/N: ...)", "[EDIT: ...]").
    kind: str = ""
    songs: list[Song] = field(default_factory=list)
    label: Label | None = None           # for kind "label": which one and its value
    hint: str = ""                       # what a download's markup says it is: "text" (story) or "note"
    italic: bool = False                 # wholly in *emphasis* / _emphasis_
    wrapped: bool = False                # lines joined into one paragraph: its newlines are spaces
    role: str = ""
    region: str = ""                     # front / end / mid (notes and playlists)
    letter: int = 0                      # letter number (1-based) for letter roles
    part: int = 1
    chapter: str = ""
    song: Song | None = None             # for lyrics: the song they quote, when the text names it
    silent: bool = False                 # structure only: nothing of it is said


def words(text: str) -> int:
    return len(text.split())
