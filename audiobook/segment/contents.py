"""A table of contents in the text ("TABLE OF CONTENTS", then one chapter title a line, as
FanFicFare's text output and many books have it): the entries are silent, and the lines
further on that repeat an entry are the chapter headings they name."""

from __future__ import annotations

import re

from .header import Label
from .lines import TERMINAL
from .units import Unit, words

MAX_ENTRIES = 500


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().casefold()


def mark_contents(units: list[Unit]) -> None:
    start = next((i for i, u in enumerate(units) if u.kind == "label" and u.label.what == "contents"), None)
    if start is None:
        return
    entries: set[str] = set()
    i = start + 1
    while i < len(units) and len(entries) < MAX_ENTRIES:
        u = units[i]
        if u.kind not in ("", "section", "heading") or words(u.text) > 16 or TERMINAL.search(u.text):
            break
        key = _key(u.text)
        if key in entries:
            break                          # the first chapter itself: the contents are over
        entries.add(key)
        u.kind, u.label = "label", Label("contents entry", "", "silent", "")
        i += 1
    for u in units[i:]:
        if u.kind in ("", "section") and words(u.text) <= 16 and _key(u.text) in entries:
            u.kind = "heading"
