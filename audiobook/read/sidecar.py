"""The sidecar `<name>.toml` next to a work: metadata the user gives, which wins field by field
over what the file itself says (a download's metadata, a header block in the text)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..models import Interludes, Metadata
from ..speech.lexicon import entries as lexicon_entries

# C0 and C1 control characters (and DEL): invisible, invalid in XML, mangled by ID3 readers.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Sidecar key -> Metadata field (the sidecar says "author" and "fandom", one or a list).
_KEYS = {
    "title": "title", "author": "authors", "authors": "authors", "fandom": "fandoms", "fandoms": "fandoms",
    "summary": "summary", "rating": "rating", "warnings": "warnings", "category": "category",
    "relationships": "relationships", "characters": "characters", "tags": "tags", "language": "language",
    "url": "url", "series": "series", "show": "show", "series_part": "series_part", "chapter": "chapter",
    "published": "published", "updated": "updated", "year": "year", "cover": "cover", "cast": "cast",
    "lexicon": "lexicon", "interludes": "interludes",
}
_LISTS = {"authors", "fandoms", "warnings", "category", "relationships", "characters", "tags"}
_NUMBERS = {"series_part", "chapter", "year"}
_TABLES = {"cast", "lexicon", "interludes"}


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Text as it may go into tags, feeds and speech: control characters become spaces,
    runs of spaces collapse; with multiline, line breaks are kept (summaries)."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n") if multiline else [value]
    return "\n".join(" ".join(_CONTROL.sub(" ", line).split()) for line in lines).strip()


def sidecar_path(path: Path) -> Path:
    return path.with_suffix(".toml")


def title_from_name(path: Path) -> str:
    words = re.sub(r"[_\-.]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else "Untitled"


def apply_sidecar(meta: Metadata, path: Path) -> Metadata:
    """`meta` with every field the sidecar next to `path` sets (and marked as given)."""
    found = read_sidecar(path)
    if not found:
        return meta
    return replace(meta, **found, sidecar=sidecar_path(path), given=meta.given | frozenset(found))


def read_sidecar(path: Path) -> dict[str, object]:
    """Metadata fields from `<name>.toml` next to `path` ({} without one)."""
    return read_toml(sidecar_path(path))


def apply_work_sidecar(meta: Metadata, sidecar: Path) -> Metadata:
    """`meta` with what a work's own sidecar (a work folder's work.toml) sets, except the
    fields the chapter's sidecar already gave: the chapter's word wins."""
    found = {k: v for k, v in read_toml(sidecar).items() if k not in meta.given}
    if not found:
        return meta
    return replace(meta, **found, given=meta.given | frozenset(found))


def read_toml(sidecar: Path) -> dict[str, object]:
    """Metadata fields from a sidecar file ({} if there is none)."""
    if not sidecar.is_file():
        return {}
    try:
        raw = tomllib.loads(sidecar.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"sidecar is not valid TOML ({exc}); fix or remove it", sidecar) from None
    except OSError as exc:
        raise InputError(f"cannot read the sidecar ({exc.strerror or exc})", sidecar) from None
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise InputError(f"unknown sidecar key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}", sidecar)
    out: dict[str, object] = {}
    for key, value in raw.items():
        field = _KEYS[key]
        if field in _LISTS:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise InputError(f"'{key}' must be a string or a list of strings", sidecar)
            out[field] = tuple(clean_text(v) for v in items if clean_text(v))
        elif field in _NUMBERS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f"'{key}' must be a whole number", sidecar)
            out[field] = value
        elif field in _TABLES:
            if not isinstance(value, dict):
                raise InputError(f"'{key}' must be a table", sidecar)
        elif not isinstance(value, str):
            raise InputError(f"'{key}' must be a string", sidecar)
        else:
            out[field] = clean_text(value, multiline=key == "summary")
    base = sidecar.parent
    if out.get("cover"):
        out["cover"] = base / str(out["cover"])
    else:
        out.pop("cover", None)
    if out.get("title") == "":
        out.pop("title")
    if "language" in out and not out["language"]:
        out.pop("language")
    if "cast" in raw:
        out["cast"] = {str(k): str(v) for k, v in raw["cast"].items()}
    if "lexicon" in raw:
        out["lexicon"] = lexicon_entries(raw["lexicon"], sidecar)
    if "interludes" in raw:
        out["interludes"] = _interludes(raw["interludes"], base, sidecar)
    return out


def _interludes(inter: dict, base: Path, sidecar: Path) -> Interludes:
    placement = inter.get("placement", "inline")
    if placement not in ("inline", "spread"):
        raise InputError("interludes.placement must be \"inline\" or \"spread\"", sidecar)
    files = {str(k): base / str(v) for k, v in inter.get("files", {}).items()}
    try:
        excerpt = float(inter.get("excerpt_seconds", Interludes.excerpt_seconds))
    except (TypeError, ValueError):
        raise InputError("interludes.excerpt_seconds must be a number", sidecar) from None
    return Interludes(placement=placement, sting=bool(inter.get("sting", True)), excerpt_seconds=excerpt, files=files)
