"""Stage 1, read: a path on disk -> Document (decoded text + sidecar metadata)."""

from __future__ import annotations

import codecs
import re
import tomllib
from dataclasses import fields
from pathlib import Path

from ..errors import InputError
from ..models import Document, Interludes, Metadata

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
# ~700,000 words, some 75 hours of audio: past that, splitting the work is kinder to everyone.
MAX_INPUT_BYTES = 4 * 1024 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def find_inputs(paths: list[Path]) -> list[Path]:
    """Expand folders into the texts they hold (sorted); check every path exists."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            texts = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
            if not texts:
                raise InputError(f"no texts ({', '.join(TEXT_SUFFIXES)}) in this folder; add a chapter file", path)
            found.extend(texts)
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise InputError("not a regular file; give a .txt or .md file or a folder", path)
        else:
            raise InputError("no such file or folder; check the path", path)
    return found


def read(path: Path) -> Document:
    """Read one text and its sidecar. Raises InputError for anything unusable."""
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(
                f"file is {size / 2**20:.1f} MB, over the {MAX_INPUT_BYTES // 2**20} MB limit; "
                "split the work into chapter files",
                path,
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file; check the path", path) from None
    except IsADirectoryError:
        raise InputError("is a folder; give a text file", path) from None
    except PermissionError:
        raise InputError("permission denied; make the file readable", path) from None
    text, encoding = decode(data, path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError("file is empty; nothing to read", path)
    return Document(path=path, text=text, meta=read_metadata(path), encoding=encoding)


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """Decode UTF-8/16/32 with a BOM, UTF-8, or legacy Windows-1252; refuse binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                raise InputError(f"starts with a {encoding} byte order mark but does not decode; re-save it as UTF-8", path) from None
    if b"\x00" in data:
        raise InputError("binary data (NUL bytes), not text; give a .txt or .md file saved as UTF-8", path)
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, encoding = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            raise InputError("not UTF-8 or Windows-1252 text; re-save it as UTF-8", path) from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > max(8, len(text) // 100):
        raise InputError("looks like binary data (control characters), not text; give a .txt or .md file", path)
    return text, encoding


# C0 and C1 control characters (and DEL): invisible, invalid in XML, mangled by ID3 readers.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Sidecar text as it may go into tags, feeds and speech: control characters become
    spaces, runs of spaces collapse; with multiline, line breaks are kept (summaries)."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n") if multiline else [value]
    return "\n".join(" ".join(_CONTROL.sub(" ", line).split()) for line in lines).strip()


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".toml")


def title_from_name(path: Path) -> str:
    words = re.sub(r"[_\-.]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else "Untitled"


def read_metadata(path: Path) -> Metadata:
    """Metadata from `<name>.toml` next to the text; defaults without one."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return Metadata(title=title_from_name(path))
    try:
        raw = tomllib.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"sidecar is not valid TOML ({exc}); fix or remove it", sidecar) from None
    base = sidecar.parent
    known = {f.name for f in fields(Metadata)}
    unknown = sorted(set(raw) - known - {"sidecar"})
    if unknown:
        raise InputError(f"unknown sidecar key(s) {', '.join(unknown)}; known: {', '.join(sorted(known - {'sidecar'}))}", sidecar)

    def text(key: str, default: str = "") -> str:
        value = raw.get(key, default)
        if not isinstance(value, str):
            raise InputError(f"'{key}' must be a string", sidecar)
        return clean_text(value, multiline=key == "summary")

    def strings(key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"'{key}' must be a list of strings", sidecar)
        return tuple(clean_text(v) for v in value if clean_text(v))

    def table(key: str) -> dict:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise InputError(f"'{key}' must be a table", sidecar)
        return value

    def number(key: str) -> int | None:
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise InputError(f"'{key}' must be a whole number", sidecar)
        return value

    inter = table("interludes")
    placement = inter.get("placement", "inline")
    if placement not in ("inline", "spread"):
        raise InputError("interludes.placement must be \"inline\" or \"spread\"", sidecar)
    files = {str(k): base / str(v) for k, v in inter.get("files", {}).items()}
    try:
        excerpt = float(inter.get("excerpt_seconds", Interludes.excerpt_seconds))
    except (TypeError, ValueError):
        raise InputError("interludes.excerpt_seconds must be a number", sidecar) from None
    cover = text("cover")
    return Metadata(
        title=text("title") or title_from_name(path),
        author=text("author") or "Anonymous",
        fandom=text("fandom"),
        summary=text("summary"),
        rating=text("rating"),
        warnings=strings("warnings"),
        relationships=strings("relationships"),
        language=text("language", "en") or "en",
        url=text("url"),
        series=text("series"),
        chapter=number("chapter"),
        year=number("year"),
        cover=(base / cover) if cover else None,
        cast={str(k): str(v) for k, v in table("cast").items()},
        lexicon={str(k): str(v) for k, v in table("lexicon").items()},
        interludes=Interludes(
            placement=placement,
            sting=bool(inter.get("sting", True)),
            excerpt_seconds=excerpt,
            files=files,
        ),
        sidecar=sidecar,
    )
