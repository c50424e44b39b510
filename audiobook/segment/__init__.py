"""Stage 2, segment: Document -> Script (ordered segments with roles, songs and chapters).

One linear pass per step, so a 100,000-word work stays fast:

1. blocks.py   cut the text into units: paragraphs (how a newline is read is decided from
               the text's own layout), and lines of a special shape: scene breaks,
               chapter headings, section titles, header labels, playlists and songs,
               stanzas of verse, a letter's salutation and signature lines, asides.
               A download's marked paragraphs (Document.blocks) arrive with their kinds.
   contents.py a table of contents: its entries are silent, the lines repeating them headings.
2.             chapter headings cut the work into parts (`Segment.part`); section titles do not.
3. notes.py    authors' notes per part: from the markup, or by what they say (register.py).
   header.py   header labels ("Rating: T", "Chapter Text") are silent notes; those in the
               notes before the story fill the metadata no sidecar or download gave.
4. lyrics.py   stanzas and italic verses in the story are lyrics, with the song named.
5. letters.py  salutation / body / closing / signature / narration.
6. chapters.py chapter titles for chapter marks.
7. dialogue.py story paragraphs cut into spans (narration, speech, thought, message),
               each speech with its speaker where the text tells it.

Every character of the text is in exactly one segment, in order (the songs of one playlist
line share it); each segment's `speech` is what the engine is asked to say ("" when
nothing is: scene breaks, silent labels).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from ..errors import InputError
from ..models import Document, Script, Segment, Span
from ..speech import Lexicon, load_lexicon, song_announcement
from ..speech import to_speech as speech_of
from ..speech.language import detect as detect_language
from .blocks import cut
from .chapters import title_headed, title_unheaded
from .contents import mark_contents
from .dialogue import Piece, mark_dialogue
from .header import fill_metadata
from .letters import mark_letters
from .lines import clean_title, parse_song_line, split_song_titles
from .lyrics import mark_lyrics
from .notes import mark_notes
from .units import Unit

__all__ = ["segment", "parse_song_line", "split_song_titles"]


def segment(doc: Document, lexicon: Mapping[str, str] | Lexicon | None = None) -> Script:
    """Cut a document into ordered segments with roles, songs, chapters and speech.

    `lexicon` (word -> how to say it) defaults to voices/lexicon.toml merged with the
    work's own sidecar entries (see speech.load_lexicon). The Script's document carries
    the metadata a header block in the text adds.
    """
    lex = lexicon if isinstance(lexicon, Lexicon) else Lexicon(
        load_lexicon(doc.meta.lexicon) if lexicon is None else lexicon
    )
    if not any(ch.isalnum() for ch in doc.text):
        raise InputError("nothing to say: the text has no letters or digits (only symbols or emoji); check it is the right file", doc.path)
    units = _bounded(cut(doc.text, doc.blocks), doc.text)
    mark_contents(units)

    # Parts: the units before the first chapter heading, then one per heading.
    parts: list[tuple[Unit | None, list[Unit]]] = [(None, [])]
    for u in units:
        if u.kind == "heading":
            u.role = "heading"
            parts.append((u, []))
        else:
            parts[-1][1].append(u)
    headed = len(parts) > 1

    for number, (heading, body) in enumerate(parts):
        part_no = max(1, number)
        if heading is not None:
            heading.part = part_no
            heading.chapter = clean_title(heading.text)
        for u in body:
            u.part = part_no
        mark_notes(body, first=number == 0, title=doc.meta.title if "title" in doc.meta.given else None, headed=headed)
    mark_lyrics(units)
    letters = 0
    for number, (_heading, body) in enumerate(parts):
        found = mark_letters(body, 0)
        if number == 0:
            letters = found

    title_unheaded(parts[0][1], letters, before_headings=headed)
    for number, (heading, body) in enumerate(parts[1:], start=1):
        title_headed(body, heading.chapter, last=number == len(parts) - 1)

    meta = fill_metadata(doc.meta, [u.label for u in units if u.kind == "label" and u.region == "front"]).bounded()
    if "language" not in meta.given and (found := detect_language(doc.text)):
        # No source says: the script the text is written in does (a Cyrillic text is read
        # in Russian, not spelt out letter by letter by the English voice).
        meta = replace(meta, language=found)
    document = doc if meta is doc.meta else replace(doc, meta=meta)
    dialogue, characters = mark_dialogue(units, meta.characters)
    segments = _segments(units, lex, meta.language, dialogue)
    return Script(document=document, segments=tuple(segments), characters=characters)


MAX_PARAGRAPH_CHARS = 8000    # about 10 minutes of speech: one clip, one cache entry


def _bounded(units: list[Unit], text: str) -> list[Unit]:
    """Units no longer than MAX_PARAGRAPH_CHARS, and no run of scene breaks.

    A paragraph longer than that (a wall of text, a whole chapter without a line break) is
    cut at sentence ends into pieces of one paragraph, read with the pause of a sentence:
    each piece is one utterance, so nothing grows with the paragraph (memory, temporary
    audio, what an edit re-speaks). Breaks in a row ("***" ten thousand times) are one pause."""
    out: list[Unit] = []
    for u in units:
        if u.kind == "scene_break" and out and out[-1].kind == "scene_break":
            run = out[-1]        # one break, spanning the run (so no character of it is lost)
            out[-1] = replace(run, end=u.end, text=text[run.start:u.end])
            continue
        if len(u.text) <= MAX_PARAGRAPH_CHARS or u.kind in ("song", "label"):
            out.append(u)
            continue
        start = 0
        for end in _cuts(u.text, MAX_PARAGRAPH_CHARS):
            piece = u.text[start:end]
            lead, trail = len(piece) - len(piece.lstrip()), len(piece) - len(piece.rstrip())
            out.append(replace(u, start=u.start + start + lead, end=u.start + end - trail, text=piece.strip(), songs=list(u.songs)))
            start = end
    return out


_SENTENCE_END = re.compile(r"[.!?…][\"”’')\]]*\s+")


def _cuts(text: str, limit: int) -> list[int]:
    """Where to cut `text` into pieces of at most `limit` characters: after the last
    sentence end that fits, else the last space, else anywhere."""
    cuts, start = [], 0
    while len(text) - start > limit:
        window = text[start:start + limit]
        ends = [m.end() for m in _SENTENCE_END.finditer(window)]
        at = ends[-1] if ends and ends[-1] > limit // 4 else (window.rfind(" ") + 1 or limit)
        start += at
        cuts.append(start)
    return cuts + [len(text)]


def _segments(units: list[Unit], lex: Lexicon, language: str, dialogue: dict[int, list[Piece]]) -> list[Segment]:
    said: dict[tuple[str, str, bool], str] = {}

    def to_speech(text: str, role: str, lex: Lexicon, language: str, end_pause: bool = False) -> str:
        # The same words are often said again ("he said.", "she asked."): say them once.
        key = (text, role, end_pause)
        if key not in said:
            said[key] = speech_of(text, role, lex, language=language, end_pause=end_pause)
        return said[key]

    segments: list[Segment] = []
    for i, u in enumerate(units):
        if u.kind == "song":
            for song in u.songs:
                segments.append(Segment(
                    index=len(segments), role="song", text=u.text,
                    speech=song_announcement(song, lex, language=language), chapter=f"Interlude: {song.title}",
                    part=u.part, song=song, span=(u.start, u.end),
                ))
            continue
        role = {"section": "heading", "scene_break": "scene_break", "playlist": "playlist"}.get(u.kind, u.role)
        text = u.label.value if u.kind == "label" else u.text[1:-1] if u.kind == "aside" else u.text
        if u.wrapped:
            text = text.replace("\n", " ")     # a hard-wrapped paragraph: its line ends are not pauses
        spans = tuple(_span(u, p, role, lex, language, to_speech) for p in dialogue.get(i, ()))
        if spans:       # a paragraph of dialogue says what its spans say, in order
            speech = " ".join(sp.speech for sp in spans if sp.speech)
        else:
            speech = "" if u.silent else to_speech(text, role, lex, language)
        segments.append(Segment(
            index=len(segments), role=role, text=u.text, speech=speech,
            chapter=u.chapter, part=u.part, song=u.song, span=(u.start, u.end), spans=spans,
        ))
    return segments


_QUOTE_MARKS = "\"“”„«»'‘’"


def _span(u: Unit, piece: Piece, role: str, lex: Lexicon, language: str, to_speech) -> Span:
    said = u.text[piece.start:piece.end]
    if piece.kind == "speech":
        said = said.strip(_QUOTE_MARKS + " ")       # the quote marks are not said
    if u.wrapped:
        said = said.replace("\n", " ")
    speech = to_speech(said, role, lex, language, end_pause=True)   # '"Come home,"' keeps its comma
    if piece.kind == "narration" and not any(ch.isalnum() for ch in speech):
        speech = ""                                  # ", " between two quotes: a pause, not a word
    return Span(piece.kind, piece.start, piece.end, speech, piece.speaker)
