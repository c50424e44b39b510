"""Letters inside a part, as a small state machine over the story's units.

A salutation opens a letter ("Dear Magnus", "My dearest Izzy,", "Alec," above a body);
then body. A closing is a valediction ("Love,", "Yours, always,") or a short line directly
above a signature; a signature is a short name line after the closing, or a line starting
with a dash; a closing and signature may share a line ("Love always, Clary <3"). A "P.S."
after the signature is body. After the signature, a bare name with a comma above a body
("Sam,") opens the next letter. The letter ends with its signature, at a scene break, or
where plainly third-person narration resumes; what follows is narration until the next
salutation.
"""

from __future__ import annotations

import re

from . import lines as shapes
from .register import third_person_narrative
from .units import Unit, words

_BARE_NAME = re.compile(r"^[A-Z][\w'’.-]*,$")


def mark_letters(part: list[Unit], letters: int) -> int:
    """Salutation/body/closing/signature/narration for the story units; returns the letter count."""
    state = "out"
    first_person = False     # the letter so far talks as I / you (the story around it may not)
    n = len(part)
    for i, u in enumerate(part):
        if u.kind == "scene_break":
            state = "out"
            continue
        if u.kind or u.role:
            continue
        nxt = next((part[k] for k in range(i + 1, n) if part[k].kind != "label"), None)
        nxt_story = nxt is not None and not nxt.kind and not nxt.role
        nxt_sig = nxt_story and shapes.is_signature_line(nxt.text)
        t = u.text
        if state == "closed":
            if shapes.is_signature_line(t):
                u.role, state = "signature", "signed"
            elif shapes.is_valediction(t) or shapes.is_strong_closing(t):
                u.role = "closing"
            else:
                state = "out"
        elif state == "signed":
            if shapes.BARE_NAME_SALUTATION.match(t) and nxt_story and not shapes.is_signature_line(nxt.text):
                state = "out"      # "Sam," above a body: the answer begins
            elif shapes.is_signature_line(t):
                u.role = "signature"
            elif shapes.PS.match(t):
                u.role = "body"
            else:
                state = "out"
        elif state == "in":
            if shapes.is_salutation(t) and not _BARE_NAME.match(t) or shapes.DEAR_PREFIX.match(t):
                state = "out"      # a new letter begins
            elif shapes.is_closing_signed(t):
                u.role, state = "closing", "signed"
            elif shapes.is_dash_signature(t) or (shapes.is_name_line(t) and not nxt_story):
                u.role, state = "signature", "signed"
            elif shapes.is_strong_closing(t) or (
                "\n" not in t and words(t) <= 10 and not t.endswith(("?", ".")) and nxt_sig
                and (shapes.is_valediction(t) or shapes.is_dash_signature(nxt.text))
            ) or (shapes.is_valediction(t) and t.endswith(",")):
                u.role, state = "closing", "closed"
            elif first_person and third_person_narrative(t):
                state = "out"      # the story resumes around the letter
            else:
                u.role = "body"
                first_person = first_person or not third_person_narrative(t)
        if u.role:
            u.letter = letters
            continue
        # state == "out"
        if shapes.is_salutation(t) or shapes.DEAR_PREFIX.match(t):
            letters += 1
            u.role = "salutation" if shapes.is_salutation(t) else "body"
            u.letter = letters
            state = "in"
            first_person = u.role == "body" and not third_person_narrative(t)
        else:
            u.role = "narration"
    return letters
