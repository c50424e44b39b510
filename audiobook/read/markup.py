"""HTML and XHTML, as the readers of downloads need it: parsed safely, flowed into paragraphs.

lxml (libxml2) parses; nothing from a file is fetched or run: the HTML parser loads no DTD,
external entity or image, and script, style and form content is never read. The XML parser
(EPUB's container and package files) resolves no entities and reaches no network.

A paragraph is the text of one block element (p, div, li, blockquote, h1-h6, ...), with
<br> as a newline and two <br> in a row as a paragraph break. Emphasis is kept the way
plain-text fic writes it, so the segmenter reads both alike: <em>/<i> as *...*, <strong>/<b>
as **...** (wrapped line by line). An <hr>, or a paragraph of images only (a divider
picture), is a scene break; so is a centred paragraph of glyphs (the segmenter sees to those).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import lxml.etree
import lxml.html

from ..errors import InputError
from ..models import Block, Document, Metadata

# Never read: code, styling, forms, embedded media, the document head, navigation.
SKIP = frozenset({
    "script", "style", "noscript", "template", "head", "title", "meta", "link", "form", "button",
    "select", "textarea", "input", "option", "svg", "math", "iframe", "object", "embed", "audio",
    "video", "canvas", "map", "nav", "menu",
})
BLOCK = frozenset({
    "p", "div", "blockquote", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "tbody",
    "thead", "tfoot", "caption", "section", "article", "main", "header", "footer", "aside", "figure",
    "figcaption", "center", "pre", "address", "details", "summary", "body", "html", "hgroup", "fieldset",
})
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
EMPHASIS = {"em": "*", "i": "*", "cite": "*", "var": "*", "strong": "**", "b": "**"}
SCENE_BREAK_TEXT = "* * *"       # what stands in the text for an <hr> or a divider image
_SPACE = re.compile(r"[ \t\r\n\f\u200b]+")
_HTML_PARSER = lxml.html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, default_doctype=False)
_XML_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)


def parse_html(data: bytes | str, source: str | Path) -> lxml.html.HtmlElement:
    """An HTML (or XHTML) document as an lxml tree; a one-line error if it is not one."""
    try:
        root = lxml.html.document_fromstring(data, parser=_HTML_PARSER)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise InputError(f"not readable HTML ({exc}); give the work's HTML or EPUB download", source) from None
    return root


def parse_xml(data: bytes, source: str | Path) -> lxml.etree._Element:
    try:
        return lxml.etree.fromstring(data, parser=_XML_PARSER)
    except lxml.etree.XMLSyntaxError as exc:
        raise InputError(f"broken XML in the EPUB ({exc.msg}); download the work again", source) from None


def local(tag) -> str:
    """A tag's name without its namespace ("{http://www.w3.org/1999/xhtml}p" -> "p")."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def classes(el) -> set[str]:
    return set((el.get("class") or "").split())


def text_of(el) -> str:
    """All the text inside an element, spaces collapsed."""
    return " ".join(_SPACE.sub(" ", "".join(el.itertext())).split())


# --- flowing elements into paragraphs -------------------------------------------------------


@dataclass
class Paragraph:
    kind: str        # "text", "heading" (h1-h6), "scene_break"
    text: str
    centred: bool = False
    level: int = 0   # a heading's: 1 for h1 ... 6 for h6


class _Flow:
    """Inline text of the current paragraph, with emphasis markers open across <br>s."""

    def __init__(self) -> None:
        self.out: list[Paragraph] = []
        self.pieces: list[str] = []
        self.open: list[str] = []          # emphasis markers open now
        self.images = 0
        self.centred = False

    def text(self, s: str | None, pre: bool = False) -> None:
        if s:
            self.pieces.append(s if pre else _SPACE.sub(" ", s))

    def newline(self) -> None:
        closing = "".join(reversed(self.open))
        self.pieces.append(closing + "\n" + "".join(self.open))

    def flush(self, kind: str = "text", level: int = 0) -> None:
        raw = "".join(self.pieces)
        self.pieces = []
        lines = [_tidy_line(line) for line in raw.split("\n")]
        # Two line breaks in a row (<br><br>) end a paragraph.
        chunk: list[str] = []
        for line in lines + [""]:
            if line:
                chunk.append(line)
            elif chunk:
                self.out.append(Paragraph(kind, "\n".join(chunk), self.centred, level))
                chunk = []
        if not raw.strip() and self.images:
            self.out.append(Paragraph("scene_break", SCENE_BREAK_TEXT))
        self.images = 0
        self.centred = False


def _tidy_line(line: str) -> str:
    return " ".join(line.split())


def _centred(el) -> bool:
    style = (el.get("style") or "").replace(" ", "").lower()
    return el.get("align", "").lower() == "center" or "text-align:center" in style or local(el.tag) == "center" or bool(
        classes(el) & {"center", "centered", "centre", "text-center", "aligncenter"}
    )


def paragraphs(el, skip=None) -> list[Paragraph]:
    """The paragraphs of an element's content, in order. `skip(el)` -> True leaves an
    element (and all inside it) out."""
    flow = _Flow()
    _walk(el, flow, skip, pre=False)
    flow.flush()
    return flow.out


def _walk(el, flow: _Flow, skip, pre: bool) -> None:
    tag = local(el.tag)
    if not tag or tag in SKIP or el.get("hidden") is not None or (skip is not None and skip(el)):
        flow.text(el.tail, pre)
        return
    if tag == "br":
        flow.newline()
        flow.text(el.tail, pre)
        return
    if tag == "hr":
        flow.flush()
        flow.out.append(Paragraph("scene_break", SCENE_BREAK_TEXT))
        flow.text(el.tail, pre)
        return
    if tag == "img":
        flow.images += 1           # never fetched; a paragraph of images only is a divider
        flow.text(el.tail, pre)
        return
    block = tag in BLOCK or tag in HEADINGS
    if block:
        flow.flush()
        flow.centred = _centred(el)
    mark = EMPHASIS.get(tag, "")
    if mark and not "".join(el.itertext()).strip():
        mark = ""                  # an empty <em> marks nothing
    if mark:
        flow.pieces.append(mark)
        flow.open.append(mark)
    flow.text(el.text, pre or tag == "pre")
    for child in el:
        _walk(child, flow, skip, pre or tag == "pre")
    if mark:
        flow.open.pop()
        flow.pieces.append(mark)
    if block:
        flow.flush("heading", int(tag[1])) if tag in HEADINGS else flow.flush()
    flow.text(el.tail, pre)


# --- building the Document --------------------------------------------------------------------


@dataclass
class Builder:
    """Paragraphs with their kinds -> Document.text (paragraphs joined by blank lines) and
    Document.blocks (each paragraph's span and kind)."""

    parts: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    length: int = 0

    def add(self, kind: str, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        self.parts.append(text)
        self.blocks.append(Block(self.length, self.length + len(text), kind))
        self.length += len(text)

    def add_all(self, kind: str, paras: list[Paragraph]) -> None:
        """Paragraphs of one kind of content ("text" or "note"); headings inside story text
        are section titles, <hr>s scene breaks."""
        for p in paras:
            if p.kind == "scene_break":
                self.add("scene_break", p.text)
            elif p.kind == "heading" and kind == "text":
                self.add("section", p.text)
            else:
                self.add(kind, p.text)

    def document(self, path, meta: Metadata, encoding: str, minimum_words: int = 1) -> Document:
        story = sum(len(p.split()) for p, b in zip(self.parts[::2], self.blocks) if b.kind == "text")
        if story < minimum_words:
            raise InputError(
                "no story text found in it; give the work's own download (HTML or EPUB), not a web page", path
            )
        return Document(path=path, text="".join(self.parts), meta=meta, encoding=encoding, blocks=tuple(self.blocks))
