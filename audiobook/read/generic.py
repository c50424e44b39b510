"""Any other HTML page or EPUB, read as a plain book: readable text per paragraph, headings
as chapters, never markup, scripts, styles or navigation.

HTML: the content is the page's <main> or its one <article>, else its body without
<header>, <footer>, <aside> and navigation. The heading level used for more than one
heading (h1, else h2, else h3) marks chapters; a lone h1 is the title; smaller headings
are section titles. Short lines before the first heading (a byline, a date) are notes.
EPUB: each document of the reading order is a chapter; its first heading is the chapter's
title. Documents that are only links (a table of contents) are left out, and so are short
documents before the first long one (cover, title page, copyright).
"""

from __future__ import annotations

from collections import Counter

from .markup import Builder, local, paragraphs, text_of

_AROUND = frozenset({"header", "footer", "aside"})
FRONT_MATTER_WORDS = 60     # a document this short before the story starts is front matter
FRONT_LINE_WORDS = 20       # ... and so is a line this short before a page's first heading


def _content(root):
    mains = [el for el in root.iter() if local(el.tag) == "main"]
    if len(mains) == 1:
        return mains[0], None
    articles = [el for el in root.iter() if local(el.tag) == "article"]
    if len(articles) == 1:
        return articles[0], None
    body = next((el for el in root.iter() if local(el.tag) == "body"), root)
    return body, (lambda el: local(el.tag) in _AROUND)


def read_generic_html(root) -> tuple[Builder, dict]:
    content, skip = _content(root)
    paras = paragraphs(content, skip)
    meta: dict[str, object] = {}
    levels = Counter(p.level for p in paras if p.kind == "heading")
    chapter_level = next((lvl for lvl in (1, 2, 3) if levels.get(lvl, 0) > 1), None)
    title_el = next((el for el in root.iter() if local(el.tag) == "title"), None)
    h1 = [p for p in paras if p.kind == "heading" and p.level == 1]
    if len(h1) == 1 and chapter_level != 1:
        meta["title"] = h1[0].text
    elif title_el is not None and text_of(title_el):
        meta["title"] = text_of(title_el)
    for el in root.iter():
        if local(el.tag) == "meta" and (el.get("name") or "").lower() == "author" and el.get("content"):
            meta.setdefault("authors", (el.get("content").strip(),))
    lang = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    if lang:
        meta["language"] = lang.strip()
    build = Builder()
    # Short lines before the first heading (when one follows) or long paragraph: a byline, a date.
    started = not any(p.kind == "heading" and p.text != meta.get("title") for p in paras)
    for p in paras:
        if p.kind == "heading" and p.level == 1 and meta.get("title") == p.text and chapter_level != 1:
            continue                                   # the title, said in the episode's header
        started = started or p.kind == "heading" or len(p.text.split()) >= FRONT_LINE_WORDS
        if p.kind == "heading":
            build.add("heading" if p.level == chapter_level else "section", p.text)
        elif p.kind == "scene_break":
            build.add("scene_break", p.text)
        else:
            build.add("text" if started else "note", p.text)
    return build, meta


def _only_links(body) -> bool:
    total = len(text_of(body))
    linked = sum(len(text_of(a)) for a in body.iter() if local(a.tag) == "a")
    return total > 0 and linked >= 0.8 * total


def read_generic_epub(roots) -> Builder:
    build = Builder()
    started = False
    for root in roots:
        body = next((el for el in root.iter() if local(el.tag) == "body"), None)
        if body is None or _only_links(body):
            continue
        paras = paragraphs(body)
        words = sum(len(p.text.split()) for p in paras if p.kind == "text")
        if not started and words < FRONT_MATTER_WORDS:
            continue
        started = True
        first = True
        for p in paras:
            if p.kind == "heading":
                build.add("heading" if first else "section", p.text)
                first = False
            else:
                build.add("scene_break" if p.kind == "scene_break" else "text", p.text)
                first = first and p.kind != "text"
    return build

