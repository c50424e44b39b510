"""Sidecars next to the MP3: a WebVTT transcript and Podcasting 2.0 chapters JSON."""

from __future__ import annotations

import json
import re

from .models import Chapter, Cue


def _timestamp(ms: int) -> str:
    hours, rest = divmod(max(0, ms), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _cue_text(text: str) -> str:
    # "-->" would end the cue timing line; & and < are markup in WebVTT; control characters
    # have no place in a caption.
    text = _CONTROL.sub(" ", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt(cues: tuple[Cue, ...] | list[Cue]) -> str:
    """WebVTT with one numbered cue per transcript line."""
    lines = ["WEBVTT", ""]
    for number, cue in enumerate(cues, 1):
        said = _cue_text(cue.text)
        if cue.voice:       # who says it: <v Alec> (the name may not hold "<", ">" or "&")
            said = f"<v {' '.join(_cue_text(cue.voice).replace('&amp;', 'and').replace('&lt;', '').replace('&gt;', '').split())}>{said}"
        lines += [str(number), f"{_timestamp(cue.start_ms)} --> {_timestamp(cue.end_ms)}", said, ""]
    return "\n".join(lines)


def chapters_json(chapters: tuple[Chapter, ...] | list[Chapter], title: str = "") -> str:
    """Podcasting 2.0 JSON chapters (version 1.2.0)."""
    doc = {
        "version": "1.2.0",
        **({"title": title} if title else {}),
        "chapters": [
            {"startTime": round(c.start_ms / 1000, 3), "endTime": round(c.end_ms / 1000, 3), "title": c.title}
            for c in chapters
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
