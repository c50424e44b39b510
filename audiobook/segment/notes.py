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
        _from_text(part, _header(part, title, headed) if first else 0)
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


def _from_text(part: list[Unit], header: int) -> None:
    n = len(part)
    kinds = [_kind(u) for u in part]
    kinds[:header] = ["note"] * header

    # Front notes.
    front = header
    if header < n and (header or kinds[0] == "note"):
        j = header
        ended = header > 0 and part[header - 1].kind == "label" and part[header - 1].label.what == "story"
        while j < n and kinds[j] in ("note", "neutral"):
            story_label = part[j].kind == "label" and part[j].label.what == "story"
            j += 1
            if story_label or shapes.HANDOFF.search(part[j - 1].text):
                ended = True
                break
        if ended or j < n:
            front = j
        else:   # nothing starts a story: only the header and the outright notes at the start
            front = next((i for i in range(header, n) if kinds[i] != "note"), n)
    for i in range(front):
        _note(part[i], "front")
    _values_below_labels(part[:front])

    # End notes.
    end = n
    labelled = [i for i in range(front, n) if part[i].kind == "label" and part[i].label.what == "end_notes"]
    if labelled:
        end = labelled[0]
    else:
        last_story = max((i for i in range(front, n) if kinds[i] in ("story", "boundary")), default=front - 1)
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
    if _is_title_line(part[0]) and (end > 0 or (len(part) == 1 and headed) or len(part) > 1 and part[1].kind in ("label", "section", "scene_break")):
        if title is None or _same_title(part[0].text, title):
            part[0].kind, part[0].label = "label", Label("title", "title", "meta", part[0].text.strip("*_ "))
            end = max(end, 1)
    _values_below_labels(part[:end])
    if end and not any(u.kind == "label" and u.label.field == "summary" for u in part[:end]):
        for u in part[:end]:
            if not u.kind:
                u.kind, u.label = "label", Label("summary", "summary", "spoken", u.text)
                break
    return end


def _values_below_labels(front: list[Unit]) -> None:
    """A web page copied from an archive puts each value under its label ("Rating:" then
    "Mature"): the value line is the label's. A bare "Summary:" gives the summary."""
    for label, below in zip(front, front[1:]):
        if label.kind != "label" or label.label.value or below.kind or words(below.text) > 60:
            continue
        if label.label.what == "meta":
            below.kind, below.label = "label", Label(label.label.name, label.label.field, "meta", below.text)
        elif label.label.name == "summary":
            below.kind, below.label = "label", Label("summary", "summary", "notes", below.text)


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
    if shapes.is_salutation(u.text) or shapes.DEAR_PREFIX.match(u.text):
        return "boundary"
    return register(u.text)
