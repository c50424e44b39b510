"""Lyrics quoted in a story (songfics).

A stanza (two or more short lines of verse, see blocks.py) in the story is lyrics; so is a
paragraph wholly in italics of two or more lines. A single italic paragraph is lyrics only
in a work that names a song (a "Song:" line, a playlist, or a song named with its artist in
the notes); elsewhere it is a thought or an emphasis, and stays narration.

Lyrics carry the song they quote when the text names one: the last song named before them
(or, failing that, the first named anywhere), for the episode's credits.
"""

from __future__ import annotations

from ..models import Song
from . import lines as shapes
from .units import Unit, words

MAX_ITALIC_LYRIC_WORDS = 60


def named_songs(units: list[Unit]) -> list[tuple[int, Song]]:
    """(unit index, song) for every song the text names: song lines, and songs named with
    their artist in notes."""
    found: list[tuple[int, Song]] = []
    for i, u in enumerate(units):
        if u.kind == "song":
            found.extend((i, s) for s in u.songs)
        elif u.role == "note":
            song = shapes.named_song(u.text)
            if song is not None:
                found.append((i, song))
    return found


def mark_lyrics(units: list[Unit]) -> None:
    """Role "lyrics" (and the song quoted) on the story's stanzas and italic verses."""
    named = named_songs(units)
    for i, u in enumerate(units):
        if u.role or u.kind not in ("stanza", ""):
            continue
        lines = u.text.count("\n") + 1
        if u.kind == "stanza" or (u.italic and lines >= 2) or (
            u.italic and named and words(u.text) <= MAX_ITALIC_LYRIC_WORDS
        ):
            u.role = "lyrics"
            before = [song for k, song in named if k < i]
            u.song = before[-1] if before else (named[0][1] if named else None)
