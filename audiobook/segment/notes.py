"""Authors' notes, per part of the work (the text before the first chapter heading, then
each chapter).

From a download's markup: the blocks the markup calls notes (summary, notes, end notes)
are notes, every paragraph of them. In the story text, only what is marked is a note: an
aside in brackets, a paragraph starting "A/N", a label.

In plain text the notes are found by what they say (register.py):

- Front notes: when a part opens with a note (a marker, a label, talk to the readers,
  a playlist), the note block goes on, over paragraphs that say nothing either way,
  until the story starts: a heading or section title, a scene break, a "Chapter Text"
  label, a salutation, a stanza, a plainly narrative paragraph, or the paragraph after a
  hand-off ("Enjoy!", "On with the story"). If nothing in the part ever starts a story,
  only the opening run of outright notes is taken: a story is never merged into a note.
- End notes: from an "End Notes" label, else from the first outright note after the last
  plainly narrative paragraph (or stanza, or letter start), to the end of the part.
- In the middle of a story, only marked notes: asides in brackets, "A/N: ...", labels,
  and the paragraph under a bare "Author's note:".

Labels are notes that are not said, except the ones whose value is meant to be heard
(a summary, a disclaimer): those are said without the label. A date line is a label only
in the front notes; anywhere else it is part of the story.
"""

from __future__ import annotations

import re

from . import lines as shapes
from .header import Label
from .register import register
from .units import Unit, words

_BOUNDARY_KINDS = ("scene_break", "section", "stanza")
HEADER_WINDOW = 12          # a header block is found among the text's first units
HEADER_MAX_WORDS = 150      # ... none of which is longer than this


def mark_notes(part: list[Unit], first: bool = False, title: str | None = None, headed: bool = False) -> None:
    """Set role "note" (and region front / end / mid) on the notes of one part.

    `first`: the part opens the text, so it may open with a header block and a title line
    (`headed`: chapter headings follow it);
    `title`: the title a sidecar or download gave (a title line must then match it to be
    taken as the title, so a story's first line is never silenced by mistake)."""
    if not part:
        return
    if any(u.hint for u in part):
        _from_markup(part)
    else:
        _from_text(part, _header(part, title, headed) if first else 0, ends_at_heading=first and headed)
    seen: list[str] = []
    for u in part:
        if u.kind == "label" and u.role == "note":
            u.silent = not u.label.said
        if u.role == "note" and u.region == "front" and not u.silent:
            key = re.sub(r"\W+", "", u.label.value if u.kind == "label" else u.text).casefold()
            # A header repeats itself ("Summary: ..." under the summary): say it once.
            if u.kind == "label" and len(key) >= 20 and any(key in said for said in seen):
                u.silent = True
            seen.append(key)


def _note(u: Unit, region: str) -> None:
    if u.kind in ("playlist", "song"):
        u.region = region
    elif u.kind not in ("scene_break", "heading", "section"):
        u.role, u.region = "note", region


def _marked_in_story(part: list[Unit]) -> None:
    """Asides, "A/N: ..." paragraphs and labels in a story, and the paragraph under a bare marker."""
    for i, u in enumerate(part):
        if u.role or u.kind in ("scene_break", "heading", "section", "playlist", "song"):
            continue
        after_marker = i > 0 and part[i - 1].role == "note" and shapes.is_bare_marker(part[i - 1].text)
        if u.kind in ("aside", "label") or shapes.is_marked(u.text) or after_marker:
            if u.kind == "label" and u.label.name == "date":
                u.kind, u.label = "", None     # a date in the story is read out
                continue
            _note(u, "mid")


def _from_markup(part: list[Unit]) -> None:
    story = [i for i, u in enumerate(part) if u.hint == "text" and u.kind not in ("heading", "section")]
    first, last = (story[0], story[-1]) if story else (len(part), -1)
    for i, u in enumerate(part):
        if u.hint == "note":
            _note(u, "front" if i < first else "end" if i > last else "mid")
    _marked_in_story(part)


def _from_text(part: list[Unit], header: int, ends_at_heading: bool = False) -> None:
    """`ends_at_heading`: the part is the text before the first chapter heading, so notes
    may run to its end (the heading starts the story)."""
    n = len(part)
    _values_below_labels(part)
    kinds = _Kinds(part, header)

    # Front notes.
    front = header
    if header < n and (header or kinds[0] == "note"):
        j = header
        ended = header > 0 and part[header - 1].kind == "label" and part[header - 1].label.what == "story"
        # Under a bare "Summary" / "Notes" label everything is the note (a summary may well
        # read like the story) until the label that opens the story, if one comes.
        opener = next((i for i in range(j, n) if _opens_story(part[i])), n)
        labelled = quoted = False
        while j < n and (kinds[j] in ("note", "neutral") or labelled and j < opener and kinds[j] == "story"):
            u = part[j]
            if labelled and u.kind != "label":
                # Notes quoted under their label ("> ..."): the first unquoted paragraph is the story.
                if u.text.startswith(">"):
                    quoted = True
                elif quoted:
                    ended = True
                    break
            if u.kind == "label" and u.label.what == "notes" and not u.label.value:
                labelled = True
            story_label = u.kind == "label" and u.label.what == "story"
            j += 1
            if story_label or shapes.HANDOFF.search(u.text):
                ended = True
                break
        if ended or j < n or ends_at_heading:
            front = j
        else:   # nothing starts a story: only the header and the outright notes at the start
            front = next((i for i in range(header, n) if kinds[i] != "note"), n)
    for i in range(front):
        _note(part[i], "front")
    _bylines(part[:front])

    # End notes.
    end = n
    labelled = [i for i in range(front, n) if part[i].kind == "label" and part[i].label.what == "end_notes"]
    if labelled:
        end = labelled[0]
    else:
        last_story = next((i for i in range(n - 1, front - 1, -1) if kinds[i] in ("story", "boundary")), front - 1)
        end = next((i for i in range(last_story + 1, n) if kinds[i] == "note"), n)
    for i in range(end, n):
        _note(part[i], "end")
    for i in range(front, end):
        if part[i].kind == "playlist":
            part[i].region = "mid"
        elif part[i].kind == "song":
            part[i].region = "mid"
    _marked_in_story(part[front:end])


_TITLE_LINE = re.compile(r"^[\w\"“'‘(\[][^\n]{0,99}$")


def _is_title_line(u: Unit) -> bool:
    t = u.text.strip("*_ ")
    return (
        not u.kind and _TITLE_LINE.match(t) is not None and words(t) <= 16
        and not re.search(r"[.,;:…]$", t) and t[:1] not in "\"“'‘"
        and not shapes.is_salutation(t) and not shapes.CHAT_LINE.match(t)
    )


def _same_title(a: str, b: str) -> bool:
    return re.sub(r"\W+", "", a).casefold() == re.sub(r"\W+", "", b).casefold()


def _header(part: list[Unit], title: str | None, headed: bool) -> int:
    """How many units at the start of the text form its header: a title line, labels
    ("By: ...", "Rated: ...", "Title: ..."), and the summary between them. Unlabelled
    units in it become labels: the title line a title, the first paragraph a summary."""
    if len(part) > 1 and _is_title_line(part[0]) and not part[1].kind and words(part[1].text) <= 8 and shapes.BYLINE.match(part[1].text):
        _bylines(part[:2])                 # "Title" / "by Author" (FanFicFare's text, many archives)
    last = -1
    gap = 0                 # unlabelled units in a row: one may sit between labels (a summary)
    for i, u in enumerate(part[:HEADER_WINDOW]):
        if u.kind == "label":
            gap = 0
            dated = u.label.name == "date"
            if not dated or last >= 0 or (i + 1 < len(part) and part[i + 1].kind == "label" and part[i + 1].label.name != "date"):
                last = i
            if u.label.what in ("story", "end_notes"):
                break
        elif u.kind or shapes.is_salutation(u.text) or words(u.text) > HEADER_MAX_WORDS or gap:
            break
        else:
            gap += 1
    end = last + 1
    # A title line opening the text: above its header, or alone before the first heading.
    if not part[0].kind and _is_title_line(part[0]) and (end > 0 or (len(part) == 1 and headed) or len(part) > 1 and part[1].kind in ("label", "section", "scene_break")):
        if title is None or _same_title(part[0].text, title):
            part[0].kind, part[0].label = "label", Label("title", "title", "meta", part[0].text.strip("*_ "))
            end = max(end, 1)
    _values_below_labels(part[:end])
    # FanFiction.net's header: the summary, unlabelled, between "By:" and "Rated:".
    if not any(u.kind == "label" and u.label.field == "summary" for u in part[:HEADER_WINDOW * 3]):
        for i in range(1, end - 1):
            u = part[i]
            if not u.kind and part[i - 1].kind == part[i + 1].kind == "label" and words(u.text) >= 6:
                u.kind, u.label = "label", Label("summary", "summary", "notes", u.text)
                break
    return end


def _bylines(front: list[Unit]) -> None:
    """"by Name" under a title in the notes before the story: the author, as a label; the
    title line above it a title label."""
    for i, u in enumerate(front):
        by = shapes.BYLINE.match(u.text) if not u.kind and words(u.text) <= 8 else None
        if by:
            u.kind, u.label = "label", Label("author", "authors", "meta", by["name"].strip())
            above = front[i - 1] if i else None
            if above is not None and _is_title_line(above):
                above.kind, above.label = "label", Label("title", "title", "meta", above.text.strip("*_ "))


def _values_below_labels(front: list[Unit]) -> None:
    """A web page copied from an archive puts each value under its label ("Rating:" then
    "Mature"): the value line is the label's. A bare "Summary:" gives the summary; the
    title and author lines follow the stats."""
    for i, (label, below) in enumerate(zip(front, front[1:])):
        if label.kind != "label" or below.kind:
            continue
        if label.label.name == "stats" and i + 3 < len(front):
            # AO3's page, copied: the stats, then the title and the author's name.
            title, name = front[i + 1], front[i + 2]
            if _is_title_line(title) and not name.kind and words(name.text) <= 4 and not re.search(r"[.!?:]$", name.text):
                title.kind, title.label = "label", Label("title", "title", "meta", title.text.strip("*_ "))
                by = shapes.BYLINE.match(name.text)
                name.kind, name.label = "label", Label("author", "authors", "meta", (by["name"] if by else name.text).strip("*_ "))
            continue
        if label.label.value or words(below.text) > 200:
            continue
        if label.label.what == "meta":
            below.kind, below.label = "label", Label(label.label.name, label.label.field, "meta", below.text)
        elif label.label.name == "summary":
            below.kind, below.label = "label", Label("summary", "summary", "notes", below.text)


class _Kinds:
    """_kind() of each unit, worked out only when asked: the notes are found from the two
    ends of a part, so a long story's middle is never weighed paragraph by paragraph."""

    def __init__(self, part: list[Unit], header: int):
        self.part, self.header = part, header
        self.known: dict[int, str] = {}

    def __getitem__(self, i: int) -> str:
        if i not in self.known:
            self.known[i] = "note" if i < self.header else _kind(self.part[i])
        return self.known[i]


def _opens_story(u: Unit) -> bool:
    return u.kind == "label" and u.label.what == "story" or u.kind in ("scene_break", "section", "heading")


def _kind(u: Unit) -> str:
    """note / story / neutral / boundary (something that starts the story)."""
    if u.kind in ("playlist", "song"):
        return "note"
    if u.kind == "label":
        return "note"
    if u.kind == "aside":
        return "note"
    if u.kind in _BOUNDARY_KINDS or u.kind == "heading":
        return "boundary"
    if shapes.is_salutation(u.text) or shapes.DEAR_PREFIX.match(u.text) or shapes.EMAIL_HEADER.match(u.text):
        return "boundary"
    return register(u.text)
