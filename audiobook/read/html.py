"""An HTML download: AO3's, FanFicFare's, or any other page (read as a plain book)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..models import Document
from .ao3 import is_ao3, read_ao3
from .fanficfare import is_fanficfare, metadata, read_fanficfare_html
from .generic import read_generic_html
from .markup import local, parse_html
from .sidecar import apply_sidecar, title_from_name

MIN_PAGE_WORDS = 20     # fewer words of text than this in a page that is no download: not a work


def read_html(path: Path, data: bytes) -> Document:
    root = parse_html(data, path)
    check_page(root, path)
    title = title_from_name(path)
    if is_ao3([root]):
        build, meta = read_ao3([root], path, "html", title)
        minimum = 1
    elif is_fanficfare([root]):
        build, found = read_fanficfare_html(root)
        meta, minimum = metadata(found, title), 1
    else:
        build, found = read_generic_html(root)
        meta, minimum = metadata(found, title), MIN_PAGE_WORDS
    return build.document(path, apply_sidecar(meta, path), "html", minimum_words=minimum)


def check_page(root, path) -> None:
    """A saved login or error page is not a work: say so rather than read its menus."""
    for el in root.iter():
        if local(el.tag) == "input" and (el.get("type") or "").lower() == "password":
            raise InputError("a login page, not a work; log in in your browser and download the work (HTML or EPUB)", path)


__all__ = ["read_html", "check_page"]
