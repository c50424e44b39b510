"""Who is talking in a paragraph: the author to the readers, or the story's narrator.

Authors' notes talk to the readers in the first and second person, in the present tense
("I hope you like it", "sorry for the wait"); stories narrate, mostly in the past tense
and the third person, with dialogue in quotes. A paragraph is

- "note"    marked as one (A/N:, Notes:, a header label) or talking about the fic, its
            chapters, reviews, readers, updates (see lines.NOTE_CUE), with no dialogue;
- "story"   plainly narrative: dialogue in quotes, or past-tense narration with no I or
            you outside the quotes (or with I, but not talking to anyone: no "you", no
            "I hope", "I'm"), or third-person narration in the present tense, or long (notes rarely run past 100 words without one of
            the cues above);
- "neutral" anything else ("Happy holidays, everyone.", "The End", "Yours, Sam").

The note and letter stages use this to tell where notes stop and the story starts.
"""

from __future__ import annotations

import re

from .lines import is_marked, is_note_talk
from .units import words

_QUOTED = re.compile(r"[\"“][^\"“”\n]{1,2000}[\"”]")
_FIRST_SECOND = re.compile(
    r"\bI\b|\bI['’](?:m|ve|d|ll)\b|(?i:\b(?:me|my|mine|myself|we|we['’](?:re|ve|ll|d)|us|our|ours|"
    r"you|you['’](?:re|ve|ll|d)|your|yours|yourself|y['’]all|ya)\b)"
)
_PAST = re.compile(
    r"(?i)\b(?:was|were|had|did|said|asked|told|went|came|saw|took|got|made|knew|thought|felt|"
    r"left|stood|sat|ran|heard|found|began|kept|held|gave|fell|let|put|brought|bought|caught|"
    r"drew|drove|ate|woke|wrote|spoke|shook|threw|grew|[a-z]{2,}ed)\b"
)
_THIRD = re.compile(r"(?i)\b(?:he|she|they|him|her|his|hers|them|their)\b")
_OPENS_WITH_DIALOGUE = re.compile(r"^[\"“][^\"“”]+[\"”]")
# How an author talks to readers: "you", or "I" in the present tense.
_TALK = re.compile(
    r"\bI['’](?:m|ve|ll)\b|\bI\s+(?:am|have|hope|think|know|want|will|do|don['’]?t|can['’]?t|really|just|love|wish|need|promise)\b|"
    r"(?i:\b(?:you|you['’](?:re|ve|ll|d)|your|yours|yourself|y['’]all|ya|guys|everyone|everybody)\b)"
)


def register(text: str) -> str:
    """"note", "story" or "neutral" (see the module notes)."""
    if is_marked(text):
        return "note"
    dialogue = _QUOTED.search(text) is not None
    if is_note_talk(text) and not dialogue:
        return "note"
    return "story" if narrative(text, dialogue) else "neutral"


def narrative(text: str, dialogue: bool | None = None) -> bool:
    """Plainly story prose (see the module notes)."""
    if dialogue is None:
        dialogue = _QUOTED.search(text) is not None
    outside = _QUOTED.sub(" ", text)
    past = len(_PAST.findall(outside))
    n = words(text)
    if dialogue and (_OPENS_WITH_DIALOGUE.match(text) or past):
        return True
    if past and _FIRST_SECOND.search(outside) is None:
        return True
    if past >= 2 and _TALK.search(outside) is None:
        return True                      # first-person narration in the past tense
    if n >= 15 and _THIRD.search(outside) and _FIRST_SECOND.search(outside) is None:
        return True                      # third-person narration in the present tense
    return (n >= 50 and past >= 3) or n >= 100


def third_person_narrative(text: str) -> bool:
    """Narration with no I or you outside its quotes: the story, not a letter's body."""
    outside = _QUOTED.sub(" ", text)
    return _FIRST_SECOND.search(outside) is None and (_PAST.search(outside) is not None or _QUOTED.search(text) is not None)
