"""Chapter titles, for chapter marks.

In a work without chapter headings: notes before the story -> "Author's note", notes after
it -> "End notes" (a playlist line goes with its notes), letters -> "The letter" (or
"Letter 1", "Letter 2", ... when there are several), prose -> "Story", then "Story, part 2",
... each time prose resumes after a scene break, a letter or a note block. A section title
("**1. Come To Me**") names what follows it until the next one. Notes in the middle of the
story (asides, marked notes) keep the chapter they fall in.

In a work with chapter headings every segment takes its heading's text (or the section
title inside it), except notes before the first heading ("Author's note") and the notes
closing the last part ("End notes"). A scene break belongs with what it follows. Each song
is its own mark: "Interlude: <title>".
"""

from __future__ import annotations

from .lines import clean_title
from .units import Unit

_LETTER_ROLES = ("salutation", "body", "closing", "signature")


def title_unheaded(units: list[Unit], letters: int, before_headings: bool) -> None:
    current = ""
    section = 0
    prose_open = False
    titled = ""                     # the last section title
    pending: list[Unit] = []        # scene breaks waiting for a chapter

    def assign(u: Unit, title: str) -> None:
        nonlocal current
        u.chapter = current = title
        for p in pending:
            p.chapter = title
        pending.clear()

    for u in units:
        if u.kind == "song":
            u.chapter = f"Interlude: {u.songs[0].title}"
            prose_open = False
        elif u.kind == "scene_break":
            prose_open = prose_open and bool(titled)
            if current:
                u.chapter = current
            else:
                pending.append(u)
        elif u.kind == "section":
            titled = clean_title(u.text)
            assign(u, titled)
            prose_open = True
        elif u.role == "note" or u.kind == "playlist":
            if u.region == "end" and not before_headings:
                assign(u, "End notes")
                titled = ""
            elif u.region == "front":
                assign(u, "Author's note")
            else:
                assign(u, current or "Story")
                continue
            prose_open = False
        elif titled:
            assign(u, titled)
        elif u.role in _LETTER_ROLES:
            assign(u, "The letter" if letters == 1 else f"Letter {u.letter}")
            prose_open = False
        else:  # narration, lyrics
            if not prose_open:
                section += 1
                prose_open = True
            assign(u, "Story" if section == 1 else f"Story, part {section}")
    for p in pending:
        p.chapter = current or "Story"


def title_headed(units: list[Unit], heading: str, last: bool) -> None:
    current = heading
    for u in units:
        if u.kind == "song":
            u.chapter = f"Interlude: {u.songs[0].title}"
        elif last and u.region == "end" and (u.role == "note" or u.kind == "playlist"):
            u.chapter = current = "End notes"
        elif u.kind == "section":
            u.chapter = current = clean_title(u.text)
        else:
            u.chapter = current
