"""Stage 1, read: a path on disk or a fic URL -> Document (text, metadata, marked paragraphs).

    text.py        plain text (.txt, .md; FanFicFare's TXT too): decoding
    html.py        an HTML download              \\
    epub.py        an EPUB (zip, package, spine)  } read as one of:
      ao3.py         the Archive of Our Own's downloads
      fanficfare.py  FanFicFare's output
      generic.py     any other page or book
    markup.py      safe parsing, and HTML flowed into paragraphs (shared by the above)
    fetch.py       a fic URL, through FanFicFare (the [fetch] extra)
    sidecar.py     `<name>.toml` next to any input: metadata that wins field by field
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..models import Document, Metadata
from .sidecar import apply_sidecar, clean_text, sidecar_path, title_from_name
from .text import decode

__all__ = [
    "INPUT_SUFFIXES", "MAX_INPUT_BYTES", "clean_text", "decode", "find_inputs", "is_url", "read",
    "sidecar_path", "title_from_name",
]

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
EPUB_SUFFIXES = (".epub",)
INPUT_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + EPUB_SUFFIXES
# ~700,000 words, some 75 hours of audio: past that, splitting the work is kinder to everyone.
MAX_INPUT_BYTES = 4 * 1024 * 1024
MAX_HTML_BYTES = 16 * 1024 * 1024    # markup weighs some three times the text it holds
MAX_EPUB_BYTES = 64 * 1024 * 1024    # pictures may ride along; only the text is unpacked


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def find_inputs(sources: list[str | Path]) -> list[str | Path]:
    """Expand folders into the works they hold (sorted); check every path exists. URLs
    (http:// or https://) stay as they are."""
    found: list[str | Path] = []
    for source in sources:
        if is_url(source):
            found.append(str(source))
            continue
        path = Path(source)
        if path.is_dir():
            works = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
            if not works:
                raise InputError(f"no texts or downloads ({', '.join(INPUT_SUFFIXES)}) in this folder; add a chapter file", path)
            found.extend(works)
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise InputError("not a regular file; give a .txt, .html or .epub file or a folder", path)
        else:
            raise InputError("no such file or folder; check the path", path)
    return found


def read(source: str | Path) -> Document:
    """Read one work (a file, or a fic URL) and its sidecar. Raises InputError for anything unusable."""
    doc = _read(source)
    meta = doc.meta.bounded()     # whatever the file says, within METADATA_LIMITS
    return doc if meta is doc.meta else replace(doc, meta=meta)


def _read(source: str | Path) -> Document:
    if is_url(source):
        from .fetch import fetch   # FanFicFare is imported only for URLs

        return fetch(str(source))
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in EPUB_SUFFIXES:
        _check_file(path, MAX_EPUB_BYTES)
        from .epub import read_epub

        return read_epub(path)
    if suffix in HTML_SUFFIXES:
        data = _read_bytes(path, MAX_HTML_BYTES, "is it the work's download? split a huge one into chapters")
        from .html import read_html

        return read_html(path, data)
    data = _read_bytes(path, MAX_INPUT_BYTES, "split the work into chapter files")
    if _looks_like_html(data):
        from .html import read_html      # a download saved as .txt

        return read_html(path, data)
    text, encoding = decode(data, path)
    if not text.strip():
        raise InputError("file is empty; nothing to read", path)
    meta = apply_sidecar(Metadata(title=title_from_name(path)), path)
    return Document(path=path, text=text, meta=meta, encoding=encoding)


def _looks_like_html(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in data[:4096].lower()


def _check_file(path: Path, limit: int) -> None:
    _read_bytes(path, limit, "is it really a fic?", read=False)


def _read_bytes(path: Path, limit: int, advice: str, read: bool = True) -> bytes:
    try:
        if not path.is_file() and path.exists():
            raise InputError("not a regular file; give a file", path)
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"file is {size / 2**20:.1f} MB, over the {limit // 2**20} MB limit; {advice}", path)
        if size == 0:
            raise InputError("file is empty; nothing to read", path)
        return path.read_bytes() if read else b""
    except FileNotFoundError:
        raise InputError("no such file; check the path", path) from None
    except IsADirectoryError:
        raise InputError("is a folder; give a file", path) from None
    except PermissionError:
        raise InputError("permission denied; make the file readable", path) from None
