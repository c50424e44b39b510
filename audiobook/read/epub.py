"""An EPUB: a zip holding META-INF/container.xml -> the package (OPF) -> its metadata and the
spine (the reading order) of XHTML documents. Read with the standard zipfile module and lxml
(EbookLib is AGPL; this needs little of it).

The documents are then read as AO3's (ao3.py), FanFicFare's (fanficfare.py) or any book's
(generic.py); the package's Dublin Core metadata fills what they leave open.

Hostile or broken files end in a one-line error before anything is spoken: a zip that does
not open, too many entries, a document whose unpacked size is over the limit (read no
further than the limit, whatever the zip claims), DRM (META-INF/encryption.xml covering
the text), no package or no spine, no text.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

from ..errors import InputError
from ..models import Document, Metadata
from .ao3 import is_ao3, language_code, read_ao3
from .fanficfare import is_fanficfare, metadata, read_fanficfare_epub
from .generic import read_generic_epub
from .markup import local, parse_html, parse_xml, text_of
from .sidecar import apply_sidecar, title_from_name

MAX_ENTRIES = 10_000
MAX_DOCUMENT_BYTES = 16 * 2**20      # one unpacked XHTML file
MAX_TEXT_BYTES = 64 * 2**20          # all of them together
_DC = "{http://purl.org/dc/elements/1.1/}"
_HTML_TYPES = ("application/xhtml+xml", "text/html", "application/xml", "text/x-oeb1-document")


def read_epub(path: Path | str, data: bytes | None = None) -> Document:
    """The work in the EPUB at `path` (or in `data`, an EPUB fetched from `path`, a URL)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data) if data is not None else path) as zf:
            return _read(zf, path)
    except zipfile.BadZipFile:
        raise InputError("not a valid EPUB (the zip is broken or cut short); download the work again", path) from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
        raise InputError(f"cannot unpack this EPUB ({exc}); download the work again", path) from None


def _member(zf: zipfile.ZipFile, name: str, path, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise InputError(f"the EPUB names {name!r} but does not hold it; download the work again", path) from None
    if info.file_size > limit:
        raise InputError(f"{name!r} in the EPUB unpacks to {info.file_size / 2**20:.0f} MB, over the {limit // 2**20} MB limit; is it really a fic?", path)
    with zf.open(info) as f:
        data = f.read(limit + 1)       # no further than the limit, whatever the header says
    if len(data) > limit:
        raise InputError(f"{name!r} in the EPUB unpacks past the {limit // 2**20} MB limit; is it really a fic?", path)
    return data


def _read(zf: zipfile.ZipFile, path: Path) -> Document:
    names = zf.namelist()
    if len(names) > MAX_ENTRIES:
        raise InputError(f"the EPUB holds {len(names)} files, over the {MAX_ENTRIES} limit; is it really a fic?", path)
    container = parse_xml(_member(zf, "META-INF/container.xml", path), path)
    rootfile = next((el.get("full-path") for el in container.iter() if local(el.tag) == "rootfile" and el.get("full-path")), None)
    if not rootfile:
        raise InputError("the EPUB has no package file (container.xml names none); download the work again", path)
    opf = parse_xml(_member(zf, rootfile, path), path)
    base = posixpath.dirname(rootfile)
    manifest = {
        el.get("id"): (posixpath.normpath(posixpath.join(base, unquote(el.get("href") or ""))), el.get("media-type") or "", el.get("properties") or "")
        for el in opf.iter() if local(el.tag) == "item" and el.get("id")
    }
    spine = [manifest[el.get("idref")] for el in opf.iter() if local(el.tag) == "itemref" and el.get("idref") in manifest]
    documents = [href for href, media, props in spine if media in _HTML_TYPES and "nav" not in props.split()]
    if not documents:
        raise InputError("the EPUB has no reading order (an empty spine); download the work again", path)
    _refuse_drm(zf, documents, path)

    roots, total = [], 0
    for href in documents:
        data = _member(zf, href, path)
        total += len(data)
        if total > MAX_TEXT_BYTES:
            raise InputError(f"the EPUB's text unpacks past {MAX_TEXT_BYTES // 2**20} MB; is it really a fic?", path)
        roots.append(parse_html(data, path))

    package = _package_metadata(opf)
    title = package.get("title") or title_from_name(Path(str(path)))
    if is_ao3(roots):
        build, meta = read_ao3(roots, path, "epub", title)
    elif is_fanficfare(roots):
        build, found = read_fanficfare_epub(roots)
        meta = metadata(found, title)
    else:
        build, meta = read_generic_epub(roots), Metadata(title=title)
    meta = _fill(meta, package)
    if isinstance(path, Path):
        meta = apply_sidecar(meta, path)
    return build.document(path, meta, "epub")


def _refuse_drm(zf: zipfile.ZipFile, documents: list[str], path) -> None:
    if "META-INF/encryption.xml" not in zf.namelist():
        return
    enc = parse_xml(_member(zf, "META-INF/encryption.xml", path), path)
    locked = {unquote(el.get("URI") or "") for el in enc.iter() if local(el.tag) == "cipherreference"}
    if locked & set(documents):
        raise InputError("the EPUB is DRM-protected (its text is encrypted); use a DRM-free download", path)


_SERIES_INDEX = re.compile(r"^\d+")


# Subjects that are not the work's tags: the archive's own, and FanFicFare's "Last Update:
# 2024/03/01" and status, which change with every chapter (and would re-render them all).
_NOT_A_TAG = re.compile(r"(?i)^(?:fanworks|fanfiction|last update\b.*|in-progress|completed?)$")


def _package_metadata(opf) -> dict[str, object]:
    """Dublin Core (and calibre's series) from the package, as Metadata fields."""
    found: dict[str, object] = {}
    creators, subjects = [], []
    for el in opf.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        text = " ".join((el.text or "").split())
        if tag == _DC + "title" and text:
            found.setdefault("title", text)
        elif tag == _DC + "creator" and text:
            creators.append(text)
        elif tag == _DC + "language" and text:
            found.setdefault("language", language_code(text) or text)
        elif tag == _DC + "description" and text:
            found.setdefault("summary", text_of(parse_html(text, "description")) if "<" in text else text)
        elif tag == _DC + "subject" and text and not _NOT_A_TAG.match(text):
            subjects.append(text)
        elif tag == _DC + "date" and text[:4].isdigit():
            found.setdefault("published", text[:10])
        elif tag in (_DC + "source", _DC + "identifier") and text.startswith(("http://", "https://")):
            found.setdefault("url", text)
        elif local(tag) == "meta" and el.get("name") == "calibre:series" and el.get("content"):
            found["series"] = el.get("content").strip()
        elif local(tag) == "meta" and el.get("name") == "calibre:series_index" and _SERIES_INDEX.match(el.get("content") or ""):
            found["series_part"] = int(_SERIES_INDEX.match(el.get("content")).group(0))
    if creators:
        # calibre joins several authors into one dc:creator with commas
        found["authors"] = tuple(a.strip() for c in creators for a in c.split(",") if a.strip())
    if subjects:
        found["tags"] = tuple(subjects)
    if str(found.get("published", ""))[:4].isdigit():
        found["year"] = int(str(found["published"])[:4])
    return found


def _fill(meta: Metadata, package: dict[str, object]) -> Metadata:
    """The work's own metadata, with the package's for the fields it left empty."""
    missing = {k: v for k, v in package.items() if k not in meta.given and v not in ("", (), None)}
    if "tags" in missing and meta.tags == () and meta.given & {"fandoms", "rating"}:
        del missing["tags"]      # an archive's page lists its tags by kind; the package mixes them
    return replace(meta, **missing, given=meta.given | frozenset(missing)) if missing else meta
