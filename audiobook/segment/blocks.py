"""Cut a text into units: paragraphs, and lines whose shape makes them units of their own.

How a newline is read is decided from the text itself, because copies from fanfiction.net,
LiveJournal and Dreamwidth separate paragraphs with one newline, while other texts are
hard-wrapped at a fixed width and still others break lines only for verse or letters:

- A blank line always ends a paragraph.
- A text is *hard-wrapped* when most of its line breaks fall where the next word would not
  have fit in the text's width (the 90th percentile of its line lengths, at most 120), and
  sentences run on from one line to the next. In such a text a line is joined to the next
  when it is full; a line that stops short ends its paragraph.
- Otherwise every line is a paragraph of its own (the single-newline copies), except that a
  line running on into a lower-case line is joined to it, and two or more short lines of
  verse in a row (no sentences, mostly without closing punctuation) stay together as a
  stanza.
- Whatever the layout, these lines are units of their own: scene breaks, chapter headings,
  section titles standing alone (numbered, bold, markdown or centred), header labels
  ("Rating: T", "Chapter Text"), playlists and their songs, and a letter's salutation,
  closing and signature lines.
- An aside in brackets inside a paragraph, "(A/N: ...)" or "[EDIT 9/30/21: ...]", is cut out
  of it as a unit of its own, so it can be read in the notes voice.

Downloads arrive with their paragraphs marked (Document.blocks): each block is cut the same
way inside (a <br> is a newline), and its units carry the block's kind as a hint.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ..models import Block
from . import lines as shapes
from .header import parse_label
from .units import Unit, words

MAX_WRAP_WIDTH = 120
# Words a sentence does not end on: a line that stops on one runs on.
_HANGING = frozenset(
    "and or but nor the a an of to in on at for with from by her his their my your its our that which who "
    "as into than was were is are had has have not so if when while because where whose whom".split()
)
_SENTENCE_END = re.compile(r"[.!?…][\"”’')]*$")
_SENTENCE_START = re.compile(r"[\"“‘'(]?[A-Z]")
CENTRED_INDENT = 8          # FanFicFare's text indents its chapter titles by a tab


@dataclass
class _Line:
    start: int
    end: int
    text: str
    indent: int


@dataclass
class _Layout:
    width: int | None        # hard-wrap width, or None: every newline is deliberate
    indent: int              # the text's usual indentation (a paragraph indent is more)
    dense: bool = False      # wrapped paragraphs follow each other with no blank line between


def _blocks(text: str, start: int = 0, end: int | None = None) -> list[list[_Line]]:
    """Runs of non-blank lines in text[start:end], each line with its stripped span."""
    end = len(text) if end is None else end
    blocks: list[list[_Line]] = []
    current: list[_Line] = []
    pos = start
    while pos <= end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        raw = text[pos:stop]
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            current.append(_Line(pos + lead, pos + lead + len(stripped), stripped, shapes.indent_width(raw)))
        elif current:
            blocks.append(current)
            current = []
        if nl < 0:
            break
        pos = nl + 1
    if current:
        blocks.append(current)
    return blocks


def _first_word(line: _Line) -> int:
    return len(line.text.split(None, 1)[0])


def _layout(blocks: list[list[_Line]]) -> _Layout:
    pairs = [(a, b) for lines in blocks for a, b in zip(lines, lines[1:])]
    indents = sorted(line.indent for lines in blocks for line in lines)
    base = indents[len(indents) // 2] if indents else 0
    if len(pairs) < 3:
        return _Layout(None, base)
    lengths = sorted(len(a.text) for a, _ in pairs)
    width = lengths[int(0.9 * (len(lengths) - 1))]
    if not 30 <= width <= MAX_WRAP_WIDTH:
        return _Layout(None, base)
    full = sum(1 for a, b in pairs if len(a.text) + 1 + _first_word(b) > width - 1)
    run_on = sum(1 for a, b in pairs if not shapes.TERMINAL.search(a.text) and b.text[:1].islower())
    wrapped = full >= 0.3 * len(pairs) and (run_on >= 2 or run_on >= 0.1 * len(pairs))
    short = len(pairs) - full       # lines that stop short inside a block: paragraph ends
    return _Layout(width if wrapped else None, base, dense=wrapped and short >= max(2, 0.05 * len(pairs)))


def _joined(lines: list[_Line], layout: _Layout) -> list[list[_Line]]:
    """Lines -> paragraphs (groups of lines), by the layout's rule for a newline."""
    groups: list[list[_Line]] = []
    for i, line in enumerate(lines):
        if groups and _continues(lines[i - 1], line, layout):
            groups[-1].append(line)
        else:
            groups.append([line])
    return groups


def _continues(prev: _Line, line: _Line, layout: _Layout) -> bool:
    if line.indent > layout.indent + 1 and line.indent > prev.indent:
        return False                                      # an indented first line: a new paragraph
    if line.text[:1].isupper() and parse_label(line.text) is not None:
        return False                                      # "Summary: ..." starts anew
    if layout.width is not None:
        if layout.dense and _SENTENCE_END.search(prev.text) and _SENTENCE_START.match(line.text) and len(prev.text) < layout.width - 2:
            return False                                  # a paragraph ended near the margin
        return len(prev.text) + 1 + _first_word(line) > layout.width - 1
    # No wrap width: a sentence that runs on into the next line is one paragraph: into a
    # lower-case line, or from a long line left hanging on a comma or a little word.
    quoted = prev.text.startswith(">") and line.text.startswith(">")      # a quoted note, wrapped
    before = prev.text.lstrip("> ") if quoted else prev.text
    after = line.text.lstrip("> ") if quoted else line.text
    if not after or shapes.TERMINAL.search(before) or shapes.CHAT_LINE.match(after):
        return False
    if after[:1].islower() and not before.endswith((":", ",")):
        return True
    last = before.rsplit(None, 1)[-1].lower() if before.split() else ""
    return len(before) >= 50 and after[:1].isalpha() and (before.endswith(",") or last in _HANGING)


def _is_verse(line: _Line) -> bool:
    return (
        shapes.is_verse_line(line.text)
        and line.text[:1] not in "\"“'‘"                  # a line of dialogue, not of a song
        and not shapes.BULLET.match(line.text)
        and not shapes.CHAT_LINE.match(line.text)
        and parse_label(line.text) is None
    )


def _stanzas(groups: list[list[_Line]]) -> list[tuple[list[_Line], str]]:
    """Runs of two or more one-line verse paragraphs become one stanza."""
    out: list[tuple[list[_Line], str]] = []
    i = 0
    while i < len(groups):
        j = i
        while j < len(groups) and len(groups[j]) == 1 and _is_verse(groups[j][0]):
            j += 1
        run = groups[i:j]
        open_lines = sum(1 for g in run if not shapes.TERMINAL.search(g[0].text.strip("*_ \"”’")))
        if len(run) >= 2 and open_lines * 2 >= len(run):
            out.append(([g[0] for g in run], "stanza"))
            i = j
        else:
            out.append((groups[i], ""))
            i += 1
    return out


def _letter_cuts(lines: list[_Line]) -> tuple[list[_Line], list[_Line], list[_Line]]:
    """A salutation on the first line and a closing with signature lines at the end of a
    run of lines: (head, middle, tail), each line of head and tail a unit of its own."""
    head: list[_Line] = []
    if len(lines) > 1 and shapes.is_salutation(lines[0].text):
        head, lines = lines[:1], lines[1:]
    k = 0
    while k < len(lines) and k < 4 and shapes.is_signature_line(lines[-1 - k].text):
        k += 1
    if k and len(lines) > 1:
        c = len(lines) - k - 1
        if c < 0:
            return head, [], lines
        closing = lines[c].text
        if shapes.is_valediction(closing) or shapes.is_strong_closing(closing) or (
            words(closing) <= 10 and not closing.endswith("?") and shapes.is_dash_signature(lines[c + 1].text)
        ):
            return head, lines[:c], lines[c:]
    if lines and shapes.is_closing_signed(lines[-1].text):
        return head, lines[:-1], lines[-1:]
    return head, lines, []


_ASIDE = re.compile(
    r"""[(\[]\s*(?:a\s?/\s?n\b|author'?s\s+notes?\b|(?:edit(?:ed)?|update[ds]?|eta|note)\b(?=[^)\]\n]{0,40}:))"""
    r"""[^()\[\]\n]{0,3000}[)\]]""",
    re.IGNORECASE,
)


def _asides(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    """(start, end, kind) pieces of one paragraph: asides in brackets cut out as "aside"."""
    chunk = text[start:end]
    found = list(_ASIDE.finditer(chunk))
    if not found or (len(found) == 1 and found[0].span() == (0, len(chunk))):
        return [(start, end, "")]
    pieces: list[tuple[int, int, str]] = []
    pos = 0
    for m in found:
        before = chunk[pos:m.start()]
        if before.strip():
            lead = len(before) - len(before.lstrip())
            pieces.append((start + pos + lead, start + pos + len(before.rstrip()), ""))
        pieces.append((start + m.start(), start + m.end(), "aside"))
        pos = m.end()
    rest = chunk[pos:]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        pieces.append((start + pos + lead, start + pos + len(rest.rstrip()), ""))
    # Punctuation left alone after an aside ("... (A/N: x).") stays with the aside.
    merged: list[tuple[int, int, str]] = []
    for piece in pieces:
        if merged and not shapes.has_word(text[piece[0]:piece[1]]):
            merged[-1] = (merged[-1][0], piece[1], merged[-1][2])
        else:
            merged.append(piece)
    return merged


class _Cutter:
    """One pass over the line blocks, appending units."""

    def __init__(self, text: str, layout: _Layout):
        self.text = text
        self.layout = layout
        self.units: list[Unit] = []
        self.in_playlist = False

    def unit(self, start: int, end: int, kind: str = "", hint: str = "", **kw) -> None:
        self.units.append(Unit(start=start, end=end, text=self.text[start:end], kind=kind, hint=hint, **kw))

    def line(self, line: _Line, kind: str, hint: str, **kw) -> None:
        self.unit(line.start, line.end, kind, hint, **kw)

    def prose(self, run: list[_Line], hint: str) -> None:
        if not run:
            return
        head, middle, tail = _letter_cuts(run)
        for line in head:
            self.line(line, "", hint)
        for group, kind in _stanzas(_joined(middle, self.layout)):
            start, end = group[0].start, group[-1].end
            if kind:
                self.unit(start, end, kind, hint)
                continue
            label = parse_label(group[0].text)
            if label is not None:
                # "Summary: ..." and the lines it runs on to.
                more = self.text[group[1].start:end] if len(group) > 1 else ""
                value = "\n".join(filter(None, (label.value, more)))
                self.unit(start, end, "label", hint, label=dataclasses.replace(label, value=value), wrapped=len(group) > 1)
                continue
            for a, b, piece in _asides(self.text, start, end):
                self.unit(a, b, piece, hint, wrapped=len(group) > 1)
        for line in tail:
            self.line(line, "", hint)
        run.clear()

    def block(self, lines: list[_Line], hint: str, following: str | None) -> None:
        if self.in_playlist and not all(shapes.parse_song_line(line.text) for line in lines):
            self.in_playlist = False   # a playlist goes on past a blank line only with song lines
        run: list[_Line] = []
        alone = len(lines) == 1 or self.layout.width is None
        skip = -1
        for i, line in enumerate(lines):
            t = line.text
            if i == skip:
                continue
            if (i + 1 < len(lines) and shapes.SETEXT_UNDERLINE.match(lines[i + 1].text) and words(t) <= 12
                    and shapes.has_word(t) and not shapes.is_scene_break(t)):
                self.prose(run, hint)             # "Prologue\n========": a title, underlined
                self.unit(line.start, lines[i + 1].end, "section", hint)
                skip = i + 1
                continue
            if self.in_playlist:
                songs = shapes.parse_song_line(t, loose=True)
                if songs:
                    self.prose(run, hint)
                    self.line(line, "song", hint, songs=songs)
                    continue
                self.in_playlist = False
            kind, extra = self.special(lines, i, alone, following, hint)
            if kind:
                self.prose(run, hint)
                self.line(line, kind, hint, **extra)
                continue
            run.append(line)
        self.prose(run, hint)

    def special(self, lines: list[_Line], i: int, alone: bool, following: str | None, hint: str = "") -> tuple[str, dict]:
        line = lines[i]
        t = line.text
        if shapes.is_scene_break(t):
            return "scene_break", {}
        if shapes.is_heading(t):
            return "section" if hint else "heading", {}   # a download's chapters come from its markup
        label = parse_label(t)
        if label is not None and not label.value:
            return "label", {"label": label}   # a label's value may run on to the next line: see prose()
        if alone and self._is_section(lines, i):
            return "section", {}
        prefixed = shapes.SONG_PREFIX.match(t)
        if prefixed and (songs := shapes.parse_song_line(prefixed["rest"])):
            return "song", {"songs": songs}
        if shapes.is_playlist_intro(t):
            nxt, loose = (lines[i + 1].text, True) if i + 1 < len(lines) else (following, False)
            if nxt is not None and shapes.parse_song_line(nxt, loose=loose):
                self.in_playlist = True
                return "playlist", {}
        return "", {}

    def _is_section(self, lines: list[_Line], i: int) -> bool:
        line = lines[i]
        if shapes.section_title(line.text):
            # A numbered line among numbered lines is a list item, not a title.
            numbered = shapes.BULLET.match(line.text) and not line.text.startswith(("*", "#"))
            neighbours = [lines[j].text for j in (i - 1, i + 1) if 0 <= j < len(lines)]
            return not (numbered and any(shapes.BULLET.match(n) for n in neighbours))
        centred = line.indent >= CENTRED_INDENT and line.indent > self.layout.indent + 8
        return (
            centred and words(line.text) <= 8 and not shapes.TERMINAL.search(line.text)
            and line.text.strip("*_ ").lower() not in ("the end", "fin", "end", "to be continued")
        )


def cut(text: str, blocks: tuple[Block, ...] = ()) -> list[Unit]:
    """The units of a text, in order; with `blocks` (a download's paragraphs), each block
    is cut on its own and its units carry its kind."""
    if blocks:
        grouped: list[tuple[list[_Line], str]] = []
        for block in blocks:
            for lines in _blocks(text, block.start, block.end):
                grouped.append((lines, block.kind))
        cutter = _Cutter(text, _layout([]))
    else:
        line_blocks = _blocks(text)
        grouped = [(lines, "") for lines in line_blocks]
        cutter = _Cutter(text, _layout(line_blocks))
    for b, (lines, hint) in enumerate(grouped):
        following = grouped[b + 1][0][0].text if b + 1 < len(grouped) else None
        if hint in ("heading", "section", "scene_break"):
            cutter.unit(lines[0].start, lines[-1].end, hint, "text")
            continue
        cutter.block(lines, hint, following)
    for u in cutter.units:
        u.italic = shapes.is_italic(u.text)
    return cutter.units
