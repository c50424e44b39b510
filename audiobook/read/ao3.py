"""Archive of Our Own downloads (HTML, and the EPUB the archive converts from it).

The HTML download (otwarchive's app/views/downloads templates):

    div#preface     p.message (title, "Posted originally on the Archive of Our Own at URL")
                    div.meta > dl.tags (Rating:, Archive Warnings:, ..., Stats:), h1 title,
                    div.byline (authors), <p>Summary</p><blockquote.userstuff>, <p>Notes</p>
                    <blockquote.userstuff>, div.endnote-link, ul (related works)
    div#chapters    one chapter: h2.toc-heading (hidden) + div.userstuff;
                    several: per chapter div.meta.group (h2.heading "Chapter 1: Title",
                    <p>Chapter Summary</p>, <p>Chapter Notes</p> + blockquotes, endnote link),
                    div.userstuff (the text), div#endnotesN (<p>Chapter End Notes</p> + blockquote)
    div#afterword   div#endnotes (<p>End Notes</p> + blockquote), "Works inspired by this one", p.message

The EPUB is calibre's conversion of that page, split into files at every h1/h2: the ids and
some classes survive (tags, heading, byline, endnote-link, toc-heading), but the others are
renamed as the stylesheet pleases ("calibreN", "userstuffN", "message" on every paragraph),
and #chapters re-opens in several files. So both are read by walking the elements in
document order and keying on ids, headings and what the paragraphs say, never on calibre's
class names.
"""

from __future__ import annotations

import re

from ..models import Metadata
from .markup import Builder, classes, local, paragraphs, text_of

_NOTE_LABELS = {
    "summary": "summary", "notes": "notes", "chapter summary": "notes", "chapter notes": "notes",
    "chapter end notes": "notes", "end notes": "notes", "author's note": "notes", "author's notes": "notes",
}
_RELATED = re.compile(r"^(?:Inspired by|A translation of|Translation into|Works inspired by)", re.IGNORECASE)
_STATS = re.compile(r"(Published|Updated|Completed|Words|Chapters)\s*:\s*(\S+)", re.IGNORECASE)
_SERIES = re.compile(r"Part\s+(\d+)\s+of\s+(.+?)(?:,\s*Part\s+\d+\s+of|$)", re.IGNORECASE)
_TAG_FIELDS = {
    "rating": "rating", "ratings": "rating",
    "archive warning": "warnings", "archive warnings": "warnings",
    "category": "category", "categories": "category",
    "fandom": "fandoms", "fandoms": "fandoms",
    "relationship": "relationships", "relationships": "relationships",
    "character": "characters", "characters": "characters",
    "additional tags": "tags", "language": "language", "series": "series", "stats": "stats",
}
# The archive names languages in their own tongue; the common ones as ISO 639-1 codes.
LANGUAGES = {
    "english": "en", "español": "es", "espanol": "es", "français": "fr", "francais": "fr", "deutsch": "de",
    "italiano": "it", "português": "pt", "português brasileiro": "pt", "português europeu": "pt",
    "русский": "ru", "polski": "pl", "nederlands": "nl", "svenska": "sv", "norsk": "no", "dansk": "da",
    "suomi": "fi", "čeština": "cs", "magyar": "hu", "türkçe": "tr", "中文": "zh", "中文-普通话 國語": "zh",
    "日本語": "ja", "한국어": "ko", "bahasa indonesia": "id", "tiếng việt": "vi", "українська": "uk",
    "ελληνικά": "el", "עברית": "he", "العربية": "ar", "català": "ca", "română": "ro", "filipino": "tl",
}


def is_ao3(roots) -> bool:
    for root in roots:
        for el in root.iter():
            if el.get("id") in ("preface", "chapters", "afterword") or local(el.tag) == "p" and _is_message(el):
                return True
    return False


def language_code(name: str) -> str:
    """"English" -> "en"; a code stays itself; an unknown name -> ""."""
    name = name.strip()
    if re.fullmatch(r"[a-z]{2,3}(?:-[A-Za-z]{2,4})?", name):
        return name
    return LANGUAGES.get(name.casefold(), "")


def split_tags(dd) -> tuple[str, ...]:
    """The tags of one <dd>: its links' texts, else its text split at commas."""
    links = [text_of(a) for a in dd.iter() if local(a.tag) == "a"]
    items = links or [t for t in text_of(dd).split(",")]
    return tuple(dict.fromkeys(t.strip() for t in items if t.strip()))


class _Reader:
    def __init__(self) -> None:
        self.build = Builder()
        self.meta: dict[str, object] = {}
        self.label = ""                  # the note label just read ("Summary", "Chapter Notes")

    def visit(self, el) -> None:
        tag, cls, ident = local(el.tag), classes(el), el.get("id")
        if not tag or tag in ("script", "style", "head") or "toc-heading" in cls or "endnote-link" in cls:
            return
        if tag == "p" and _is_message(el):
            self._message(el)
            return
        if tag == "dl":
            if any(local(dt.tag) == "dt" and text_of(dt).rstrip(":").strip().lower() in _TAG_FIELDS for dt in el):
                self._tags(el)
            return                       # the tags, or "Works inspired by this one"
        if tag == "h1":
            self.meta.setdefault("title", text_of(el))
            return
        if "byline" in cls:
            if tag == "div":             # the work's; "Chapter by ..." paragraphs are left out
                names = [text_of(a) for a in el.iter() if local(a.tag) == "a"]
                self.meta.setdefault("authors", tuple(names) or (re.sub(r"^by\s+", "", text_of(el)),))
            return
        if tag == "ul" and all(_RELATED.match(text_of(li)) for li in el if local(li.tag) == "li"):
            return                       # related works: links, not prose
        if tag == "p" and text_of(el).lower() in _NOTE_LABELS:
            self.label = text_of(el).lower()
            return
        if tag == "blockquote" and (self.label or "userstuff" in cls):
            self._note(el)
            return
        if tag == "h2" and "heading" in cls:
            self.build.add("heading", text_of(el))
            return
        if ident == "chapters":
            self._chapters(el)
            return
        for child in el:
            self.visit(child)

    def _chapters(self, el) -> None:
        """#chapters: per chapter a meta group (heading, notes), the text, the end notes. Told
        apart by what they hold, since calibre renames their classes as the CSS pleases."""
        for child in el:
            if local(child.tag) != "div":
                self.visit(child)
            elif (child.get("id") or "").startswith("endnotes") or _holds_heading(child) or child.get("id") == "chapters":
                self.visit(child)
            else:
                self.build.add_all("text", paragraphs(child))

    def _note(self, el) -> None:
        paras = paragraphs(el)
        if self.label == "summary" and "summary" not in self.meta:
            self.meta["summary"] = "\n".join(p.text.replace("*", "") for p in paras)
        self.build.add_all("note", paras)
        self.label = ""

    def _message(self, el) -> None:
        for a in el.iter():
            href = a.get("href") or ""
            if local(a.tag) == "a" and re.search(r"archiveofourown\.org/works/\d+", href):
                self.meta.setdefault("url", href.replace("http://", "https://", 1))
        bold = next((b for b in el.iter() if local(b.tag) == "b"), None)
        if bold is not None:
            self.meta.setdefault("title", text_of(bold))

    def _tags(self, dl) -> None:
        label = ""
        for item in dl:
            tag = local(item.tag)
            if tag == "dt":
                label = text_of(item).rstrip(":").strip().lower()
            elif tag == "dd" and label in _TAG_FIELDS:
                field = _TAG_FIELDS[label]
                if field == "rating":
                    self.meta["rating"] = ", ".join(split_tags(item))
                elif field == "language":
                    code = language_code(text_of(item))
                    if code:
                        self.meta["language"] = code
                elif field == "series":
                    m = _SERIES.search(text_of(item))
                    if m:
                        self.meta["series"], self.meta["series_part"] = m[2].strip(), int(m[1])
                elif field == "stats":
                    self._stats(text_of(item))
                else:
                    self.meta[field] = split_tags(item)

    def _stats(self, text: str) -> None:
        for name, value in _STATS.findall(text):
            name = name.lower()
            if name == "published":
                self.meta["published"] = value
                if value[:4].isdigit():
                    self.meta["year"] = int(value[:4])
            elif name in ("updated", "completed"):
                self.meta["updated"] = value
            elif name == "words":
                digits = re.sub(r"\D", "", value)
                if digits:
                    self.meta["words"] = int(digits)
            elif name == "chapters":
                self.meta["chapters"] = value


def _is_message(el) -> bool:
    """The preface's "Posted originally on the Archive of Our Own at ..." or the afterword's
    "Please drop by the Archive and comment" (by what it says: calibre may give the class
    "message" to every paragraph)."""
    said = text_of(el)
    return "message" in classes(el) and ("Archive of Our Own" in said or "drop by the Archive" in said.replace("archive", "Archive"))


def _holds_heading(el) -> bool:
    return any(local(d.tag) == "h2" and "heading" in classes(d) for d in el.iter())


def read_ao3(roots, path, encoding: str, title: str) -> tuple[Builder, Metadata]:
    """The work in an AO3 download: its paragraphs and its metadata (all marked as given)."""
    reader = _Reader()
    for root in roots:
        reader.visit(root)
    meta = {k: v for k, v in reader.meta.items() if v not in ("", (), None)}
    meta.setdefault("title", title)
    return reader.build, Metadata(**meta, given=frozenset(meta))
