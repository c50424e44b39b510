"""Header labels: the "Title:", "Rating:", "Summary:" lines that archives and journals put
above a story, and the structure labels a copy from the Archive of Our Own leaves in the
text ("Work Text:", "Chapter Text", "Chapter End Notes", "See the end of the chapter for
more notes").

A label is structure, never said as a word. Its value either fills the work's metadata
(title, authors, rating, ...: the spoken podfic header says those) or is spoken as a note
(a summary, a disclaimer, a dedication), without the label in front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..models import Metadata

# label -> (metadata field or "", what it is):
#   meta       silent; the value fills the field
#   spoken     a note; the value is said (the label is not); summary also fills the field
#   story      silent; the story starts after it
#   notes      notes follow it (silent when bare, its value said when it has one)
#   end_notes  the notes after the story start with it (likewise)
#   contents   silent; a table of contents follows it (see contents.py)
#   silent     silent structure, nothing to keep
LABELS: dict[str, tuple[str, str]] = {
    "title": ("title", "meta"),
    "story title": ("title", "meta"),
    "fic title": ("title", "meta"),
    "author": ("authors", "meta"),
    "authors": ("authors", "meta"),
    "writer": ("authors", "meta"),
    "written by": ("authors", "meta"),
    "by": ("authors", "meta"),
    "creator": ("authors", "meta"),
    "fandom": ("fandoms", "meta"),
    "fandoms": ("fandoms", "meta"),
    "pairing": ("relationships", "meta"),
    "pairings": ("relationships", "meta"),
    "relationship": ("relationships", "meta"),
    "relationships": ("relationships", "meta"),
    "ship": ("relationships", "meta"),
    "ships": ("relationships", "meta"),
    "rating": ("rating", "meta"),
    "rated": ("rating", "meta"),
    "warning": ("warnings", "meta"),
    "warnings": ("warnings", "meta"),
    "archive warning": ("warnings", "meta"),
    "archive warnings": ("warnings", "meta"),
    "content warning": ("warnings", "meta"),
    "content warnings": ("warnings", "meta"),
    "trigger warning": ("warnings", "meta"),
    "trigger warnings": ("warnings", "meta"),
    "cw": ("warnings", "meta"),
    "tw": ("warnings", "meta"),
    "character": ("characters", "meta"),
    "characters": ("characters", "meta"),
    "category": ("category", "meta"),
    "categories": ("category", "meta"),
    "tags": ("tags", "meta"),
    "additional tags": ("tags", "meta"),
    "genre": ("tags", "meta"),
    "genres": ("tags", "meta"),
    "word count": ("words", "meta"),
    "wordcount": ("words", "meta"),
    "words": ("words", "meta"),
    "length": ("words", "meta"),
    "chapters": ("chapters", "meta"),
    "series": ("series", "meta"),
    "language": ("", "meta"),
    "published": ("published", "meta"),
    "posted": ("published", "meta"),
    "date": ("published", "meta"),
    "date posted": ("published", "meta"),
    "written": ("published", "meta"),
    "updated": ("updated", "meta"),
    "completed": ("updated", "meta"),
    "status": ("", "meta"),
    "url": ("url", "meta"),
    "link": ("url", "meta"),
    "story url": ("url", "meta"),
    "series url": ("", "meta"),
    "author url": ("", "meta"),
    "packaged": ("", "meta"),
    "publisher": ("", "meta"),
    "table of contents": ("", "contents"),
    "contents": ("", "contents"),
    "stats": ("", "meta"),
    "beta": ("", "meta"),
    "betas": ("", "meta"),
    "beta'd by": ("", "meta"),
    "betaed by": ("", "meta"),
    "beta reader": ("", "meta"),
    "collections": ("", "meta"),
    "bookmarks": ("", "meta"),
    "kudos": ("", "meta"),
    "hits": ("", "meta"),
    "comments": ("", "meta"),
    "summary": ("summary", "notes"),
    "chapter summary": ("", "notes"),
    "notes": ("", "notes"),
    "note": ("", "notes"),
    "author's note": ("", "notes"),
    "author's notes": ("", "notes"),
    "authors note": ("", "notes"),
    "author notes": ("", "notes"),
    "chapter notes": ("", "notes"),
    "beginning notes": ("", "notes"),
    "summary for the chapter": ("", "notes"),      # FanFicFare's note labels
    "notes for the chapter": ("", "notes"),
    "disclaimer": ("", "spoken"),
    "dedication": ("", "spoken"),
    "dedicated to": ("", "spoken"),
    "prompt": ("", "spoken"),
    "spoilers": ("", "spoken"),
    "end notes": ("", "end_notes"),
    "chapter end notes": ("", "end_notes"),
    "work text": ("", "story"),
    "chapter text": ("", "story"),
    "story": ("", "story"),
    "afterword": ("", "end_notes"),
}
# Labels that stand without a colon on a line of their own (AO3 copy-paste).
_BARE = {"work text", "chapter text", "chapter end notes", "end notes", "chapter notes", "notes",
         "summary", "chapter summary", "afterword", "author's note", "author's notes", "table of contents", "contents"}
# Lines that are only AO3's boilerplate: silent.
_BOILERPLATE = re.compile(
    r"""(?ix)^(?:
        posted\s+originally\s+on\s+the\s+archive\s+of\s+our\s+own\b.*
      | please\s+drop\s+by\s+the\s+archive\s+and\s+comment\b.*
      | works?\s+inspired\s+by\s+this\s+one:?
      | end\s+file\.?                                   # FanFicFare's last line
      | (?:previous|next)\s+chapter\W*
    )$"""
)
_SEE_THE_END = re.compile(
    r"(?i)^\(?see\s+the\s+(?:end|beginning)\s+of\s+the\s+(?:chapter|work)\s+for\s+(?:more\s+)?notes\.?\)?$"
)
# A label's shape; whether it is one is a lookup in LABELS (cheaper, to compile and to run,
# than an alternation of every label).
_LABEL = re.compile(r"^(?P<open>[\s*_~\[(]*)(?P<label>[A-Za-z][A-Za-z'’ -]{0,40}?)[\s*_~]*:[\s*_~]*(?P<value>.*?)[\s*_~]*$")
_BARE_LABEL = re.compile(r"^[\s*_~\[(]*(?P<label>[A-Za-z][A-Za-z'’ -]{0,40}?)[\s*_~\])]*$")
# AO3's stats on one line: "Published: 2012-02-15 Updated: 2012-03-01 Words: 4,012 Chapters: 3/3".
_STATS = re.compile(r"(?i)\b(published|updated|completed|words|chapters|comments|kudos|bookmarks|hits)\s*:\s*(\S+)")
_MONTHS = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    "sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE_LINE = re.compile(
    rf"""(?ix)^[\s*_~\[(]*(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?(?:
        (?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}
      | \d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\.?,?\s+\d{{4}}
      | \d{{4}}-\d{{2}}-\d{{2}}
      | \d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}
    )(?:,?\s+(?:at\s+)?\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s*(?:[ap]\.?m\.?)?)?(?:\s+\(?[A-Z]{{2,4}}\)?)?[\s*_~\])]*$"""
)


@dataclass(frozen=True)
class Label:
    name: str        # key of LABELS ("date" for a date line, "boilerplate" for AO3's, "title"
                     # for a title line, "summary" for a header's unlabelled summary)
    field: str       # Metadata field it fills, or ""
    what: str        # meta / spoken / story / notes / end_notes / silent (see LABELS)
    value: str       # what follows the colon ("" for a bare label)

    @property
    def said(self) -> bool:
        """Whether the label's value is read out (as a note, without the label)."""
        return bool(self.value) and self.what in ("spoken", "notes", "end_notes")


def _key(label: str) -> str:
    key = " ".join(label.lower().replace("’", "'").split())
    if key not in LABELS and key.replace("'", "") in LABELS:
        key = key.replace("'", "")
    if key not in LABELS:   # "authors note" written "author's note" without the apostrophe, etc.
        key = next((k for k in LABELS if k.replace("'", "") == key.replace("'", "")), key)
    return key


def parse_label(line: str) -> Label | None:
    """The label a line is, or None. Only single lines of a known label count."""
    if "\n" in line or len(line) > 2000 or (len(line) > 160 and ":" not in line[:80]):
        return None                      # (a long line with no early colon is prose: not worth the patterns)
    if _BOILERPLATE.match(line):
        return Label("boilerplate", "", "silent", "")
    if _SEE_THE_END.match(line):
        # The last line of an archive's notes before the text: the story starts after it.
        return Label("see the end", "", "story", "")
    stats = _STATS.findall(line)
    if len(stats) >= 2 and not _STATS.sub("", line).strip(" :*_~"):
        return Label("stats", "", "meta", line)
    m = _LABEL.match(line)
    if m:
        key = _key(m["label"])
        if key in LABELS:
            field, what = LABELS[key]
            if key == "by" and not m["value"]:
                return None
            value = m["value"].strip()
            if ("[" in m["open"] and value.endswith("]")) or ("(" in m["open"] and value.endswith(")")):
                value = value[:-1].rstrip()      # "[Rating: T]"
            return Label(key, field, what, value)
    m = _BARE_LABEL.match(line)
    if m and _key(m["label"]) in _BARE:
        key = _key(m["label"])
        field, what = LABELS[key]
        return Label(key, field, what, "")
    if _DATE_LINE.match(line):
        return Label("date", "published", "meta", line.strip(" *_~[]()"))
    return None


# --- metadata from labels ---------------------------------------------------------------------

# FanFiction.net's line: "Rated: Fiction T - English - Adventure - Harry P. - Chapters: 15 - Words: 61,162 - ..."
_FFN_RATED = re.compile(r"(?i)^(?:fiction\s+)?(?P<rating>K\+?|T|M|MA)\s+-\s+(?P<rest>.*)$")
_FFN_FIELD = re.compile(r"(?i)^(chapters|words|updated|published|status|reviews|favs|follows|id)\s*:\s*(.+)$")
_SPLIT = re.compile(r"\s*(?:,|;|\s&\s|\band\b)\s*")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_US = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b")
_DATE_WORDS = re.compile(rf"(?i)\b(?:(?P<m1>{_MONTHS})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{{4}})|(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m2>{_MONTHS})\.?,?\s+(?P<y2>\d{{4}}))")
_MONTH_NUMBER = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}


def _iso_date(value: str) -> str:
    """YYYY-MM-DD from the date forms headers use ("2012-02-15", "12/8/2011" month first as
    FanFiction.net writes it, "Feb 15, 2012", "15 February 2012"); "" if none."""
    if m := _DATE_ISO.search(value):
        return m.group(0)
    if m := _DATE_US.search(value):
        month, day, year = int(m[1]), int(m[2]), int(m[3])
        if month > 12:
            month, day = day, month
        year += 2000 if year < 100 else 0
        return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= month <= 12 and 1 <= day <= 31 else ""
    if m := _DATE_WORDS.search(value):
        month = _MONTH_NUMBER[(m["m1"] or m["m2"])[:3].lower()]
        day, year = int(m["d1"] or m["d2"]), int(m["y1"] or m["y2"])
        return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= day <= 31 else ""
    return ""


def _listing(value: str, field: str) -> tuple[str, ...]:
    # Relationships hold "/" and "&" inside one entry ("Alec/Magnus", "Clary & Simon").
    splitter = re.compile(r"\s*[,;]\s*") if field in ("relationships", "warnings", "tags", "characters") else _SPLIT
    return tuple(v.strip(" .\"“”") for v in splitter.split(value) if v.strip(" .\"“”"))


def fill_metadata(meta: Metadata, labels: list[Label]) -> Metadata:
    """The metadata with what the labels say, for fields no sidecar or download set; the
    first label for a field wins (a later chapter's header repeats the work's)."""
    changes: dict[str, object] = {}
    for label in labels:
        field = label.field
        value = label.value
        if label.name == "stats":
            for name, item in _STATS.findall(value):
                sub = LABELS.get(name.lower())
                if sub and sub[0]:
                    fill_metadata_item(meta, changes, sub[0], item)
            continue
        if field == "rating" and (ffn := _FFN_RATED.match(value)):
            fill_metadata_item(meta, changes, "rating", ffn["rating"])
            for piece in ffn["rest"].split(" - "):
                item = _FFN_FIELD.match(piece.strip())
                sub = LABELS.get(item[1].lower()) if item else None
                if sub and sub[0]:
                    fill_metadata_item(meta, changes, sub[0], item[2])
        elif field and value:
            fill_metadata_item(meta, changes, field, value)
    return replace(meta, **changes) if changes else meta


def fill_metadata_item(meta: Metadata, changes: dict[str, object], field: str, value: str) -> None:
    if field in meta.given or field in changes:
        return
    if field != "summary":
        value = " ".join(value.split())          # a value wrapped over lines is one line
    current = getattr(meta, field)
    if field == "title":
        changes[field] = value.strip(" \"“”'‘’")
    elif isinstance(current, tuple):
        items = _listing(value, field)
        if items:
            changes[field] = items
    elif field == "words":
        digits = re.sub(r"[,.\s]", "", value)
        if digits.isdigit():
            changes[field] = int(digits)
    elif field in ("published", "updated"):
        iso = _iso_date(value)
        changes[field] = iso or value
        if field == "published" and iso and "year" not in meta.given:
            changes.setdefault("year", int(iso[:4]))
    elif isinstance(current, str) and not current:
        changes[field] = value
