"""FanFicFare's HTML and EPUB output (its TXT output is plain text, read by text.py).

HTML (one file):  h1 "<a>Title</a> by <a.authorlink>Author</a>", table.full of
                  "<b>Label:</b> | value" rows, a table of contents, then per chapter
                  <a name="sectionNNNN"><h2>Chapter title</h2></a> and the chapter's HTML.
EPUB:             OEBPS/title_page.xhtml (body.fff_titlepage: h3 "Title by Author", then
                  "<b>Label:</b> value<br/>" lines), one OEBPS/fileNNNN.xhtml per chapter
                  (body.fff_chapter, h3.fff_chapter_title, the chapter's HTML).
Chapter HTML:     for archives with notes (AO3 and others) div.fff_chapter_notes.fff_head_notes
                  and .fff_foot_notes hold the notes ("<b>Author's Note:</b>", "Summary for the
                  Chapter:", "Notes for the Chapter:" over blockquotes); the rest is the text.
Labels:           Series, Category (the fandoms), Genre, Language, Characters, Relationships,
                  Status, Published, Updated, Packaged, Rating, Warnings, Chapters, Words,
                  Publisher, Summary.
"""

from __future__ import annotations

import re

from ..models import Metadata
from .ao3 import language_code
from .markup import Builder, classes, local, paragraphs, text_of

_LABELS = {
    "category": "fandoms", "genre": "tags", "language": "language", "characters": "characters",
    "relationships": "relationships", "published": "published", "updated": "updated", "rating": "rating",
    "warnings": "warnings", "chapters": "chapters", "words": "words", "summary": "summary", "series": "series",
}
_SERIES = re.compile(r"^(?P<name>.+?)\s*\[(?P<part>\d+)\]$")


def is_fanficfare(roots) -> bool:
    for root in roots:
        for el in root.iter():
            cls = classes(el)
            if cls & {"fff_titlepage", "fff_chapter", "fff_chapter_title", "fff_chapter_notes"}:
                return True
            if local(el.tag) == "a" and "authorlink" in cls:
                return True
            if local(el.tag) == "a" and (el.get("name") or "").startswith("section") and any(local(c.tag) == "h2" for c in el):
                return True
    return False


def _value(field: str, text: str, el=None) -> object | None:
    text = text.strip()
    if not text:
        return None
    if field in ("fandoms", "tags", "characters", "relationships", "warnings"):
        return tuple(t.strip() for t in text.split(",") if t.strip())
    if field == "words":
        digits = re.sub(r"\D", "", text)
        return int(digits) if digits else None
    if field == "language":
        return language_code(text) or None
    if field in ("published", "updated"):
        return text[:10]
    return text


class _Reader:
    def __init__(self) -> None:
        self.build = Builder()
        self.meta: dict[str, object] = {}
        self.heading = ""

    def label(self, name: str, value, el=None) -> None:
        field = _LABELS.get(name.strip().rstrip(":").strip().lower())
        if field is None or field in self.meta:
            return
        if field == "summary":
            paras = paragraphs(el) if el is not None else []
            text = "\n".join(p.text.replace("*", "") for p in paras) or (value if isinstance(value, str) else "")
            if text:
                self.meta["summary"] = text
                self.build.add("note", text)
            return
        if field == "series":
            m = _SERIES.match(value)
            if m:
                self.meta["series"], self.meta["series_part"] = m["name"], int(m["part"])
            return
        found = _value(field, value)
        if found is not None:
            self.meta[field] = found
            if field == "published" and str(found)[:4].isdigit():
                self.meta["year"] = int(str(found)[:4])

    def byline(self, heading) -> None:
        """h1/h3 "<a>Title</a> by <a class=authorlink>Author</a>"."""
        links = [a for a in heading.iter() if local(a.tag) == "a"]
        if links and "title" not in self.meta:
            self.meta["title"] = text_of(links[0])
            href = links[0].get("href") or ""
            if href.startswith(("http://", "https://")):
                self.meta["url"] = href
        authors = tuple(text_of(a) for a in links if "authorlink" in classes(a))
        if authors:
            self.meta.setdefault("authors", authors)

    def title_table(self, table) -> None:
        for row in table.iter():
            if local(row.tag) != "tr":
                continue
            cells = [c for c in row if local(c.tag) in ("td", "th")]
            if len(cells) == 2:
                self.label(text_of(cells[0]), text_of(cells[1]), cells[1])

    def title_lines(self, div) -> None:
        """"<b>Label:</b> value<br/>" lines: each value is what follows its <b> up to the <br>."""
        bolds = [b for b in div if local(b.tag) == "b"]
        for b in bolds:
            pieces, el = [b.tail or ""], b.getnext()
            holder = None
            while el is not None and local(el.tag) not in ("br", "b"):
                if local(el.tag) == "div":
                    holder = el
                pieces.append(text_of(el) + (el.tail or ""))
                el = el.getnext()
            self.label(text_of(b), " ".join("".join(pieces).split()), holder)

    def chapter(self, title: str, content) -> None:
        """A chapter's heading and its HTML: notes blocks as notes, the rest as text."""
        self.build.add("heading", title)
        for child in content:
            self._chapter_part(child, title)

    def _chapter_part(self, el, title: str) -> None:
        cls = classes(el)
        tag = local(el.tag)
        if "fff_chapter_notes" in cls:
            for quote in el.iter():
                if local(quote.tag) == "blockquote":
                    self.build.add_all("note", paragraphs(quote))
            return
        if tag == "div" and "story" in cls:
            for child in el:
                self._chapter_part(child, title)
            return
        paras = paragraphs(el)
        # A chapter often repeats its title as its first heading: said once.
        if paras and paras[0].kind == "heading" and paras[0].text.strip().casefold() == title.strip().casefold():
            paras = paras[1:]
        self.build.add_all("text", paras)


def read_fanficfare_html(root) -> tuple[Builder, dict]:
    reader = _Reader()
    body = next((el for el in root.iter() if local(el.tag) == "body"), root)
    chapter_title, content = None, []

    def close() -> None:
        if chapter_title is not None:
            reader.chapter(chapter_title, content)

    for el in body:
        tag = local(el.tag)
        if tag == "h1" and chapter_title is None:
            reader.byline(el)
        elif tag == "table" and chapter_title is None:
            reader.title_table(el)
        elif tag == "a" and (el.get("name") or "") == "TOCTOP" or (chapter_title is None and tag == "p" and all(local(c.tag) in ("a", "br") for c in el)):
            continue                                   # the table of contents
        elif tag == "a" and (el.get("name") or "").startswith("section"):
            close()
            chapter_title, content = text_of(el), []
        elif chapter_title is not None:
            content.append(el)
    close()
    return reader.build, reader.meta


def read_fanficfare_epub(roots) -> tuple[Builder, dict]:
    reader = _Reader()
    for root in roots:
        body = next((el for el in root.iter() if local(el.tag) == "body"), None)
        if body is None:
            continue
        cls = classes(body)
        if "fff_titlepage" in cls:
            for el in body:
                if local(el.tag) in ("h1", "h2", "h3"):
                    reader.byline(el)
                elif local(el.tag) == "table":
                    reader.title_table(el)
                elif local(el.tag) == "div":
                    reader.title_lines(el)
        elif "fff_chapter" in cls:
            heading = next((el for el in body.iter() if "fff_chapter_title" in classes(el)), None)
            title = text_of(heading) if heading is not None else ""
            rest = [el for el in body if el is not heading]
            reader.chapter(title, rest)
    return reader.build, reader.meta


def metadata(found: dict, title: str) -> Metadata:
    meta = {k: v for k, v in found.items() if v not in ("", (), None)}
    meta.setdefault("title", title)
    return Metadata(**meta, given=frozenset(meta))
