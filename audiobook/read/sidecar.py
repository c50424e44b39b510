"""The sidecar `<name>.toml` next to a work: metadata the user gives, which wins field by field
over what the file itself says (a download's metadata, a header block in the text)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from ..models import METADATA_LIMITS, Interludes, Metadata, clean_text
from ..paths import NotRegularFile, check_regular
from ..speech.lexicon import entries as lexicon_entries


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
    try:
        check_regular(sidecar)   # before reading: a FIFO would wait for a writer forever
    except FileNotFoundError:
        return {}
    except NotRegularFile as exc:
        raise InputError(f"sidecar is {exc.kind}, not a file; remove it or put the metadata in a file", sidecar) from None
    except OSError:
        return {}   # (as before: a path that cannot be looked at holds no sidecar)
    try:
        if sidecar.stat().st_size > MAX_SIDECAR_BYTES:
            raise InputError(f"sidecar is over {MAX_SIDECAR_BYTES // 1024} KB; is it the right file?", sidecar)
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
        limit, count = METADATA_LIMITS.get(field, (_PATH_LIMIT, 0))
        if field in _LISTS:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise InputError(f"'{key}' must be a string or a list of strings", sidecar)
            if len(items) > count or any(len(v) > limit for v in items):
                raise InputError(f"'{key}' takes at most {count} items of {limit} characters; shorten it", sidecar)
            out[field] = tuple(clean_text(v) for v in items if clean_text(v))
        elif field in _NUMBERS:
            low, high = _RANGES[field]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise InputError(f"'{key}' must be a whole number from {low} to {high}", sidecar)
            out[field] = value
        elif field in _TABLES:
            if not isinstance(value, dict):
                raise InputError(f"'{key}' must be a table, e.g. [{key}]", sidecar)
        elif not isinstance(value, str):
            raise InputError(f"'{key}' must be a string", sidecar)
        elif len(value) > limit:
            raise InputError(f"'{key}' is {len(value):,} characters long; at most {limit:,} are read", sidecar)
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
        out["cast"] = _names(raw["cast"], "cast", sidecar)
    if "lexicon" in raw:
        out["lexicon"] = lexicon_entries(raw["lexicon"], sidecar)
    if "interludes" in raw:
        out["interludes"] = _interludes(raw["interludes"], base, sidecar)
    return out


_PATH_LIMIT = 4096
MAX_SIDECAR_BYTES = 1024 * 1024
_RANGES = {"series_part": (0, 100_000), "chapter": (0, 100_000), "year": (1, 9999)}
EXCERPT_SECONDS = (1.0, 60.0)    # a song excerpt: long enough to know it, short of a whole song


def _names(table: dict, key: str, sidecar: Path) -> dict[str, str]:
    """A table of names to names ([cast], [interludes.files]): strings only, never coerced."""
    if not all(isinstance(k, str) and isinstance(v, str) and len(k) <= 300 and len(v) <= _PATH_LIMIT for k, v in table.items()):
        raise InputError(f"every entry of [{key}] must be a name = \"text\" line", sidecar)
    return dict(table)


def _interludes(inter: dict, base: Path, sidecar: Path) -> Interludes:
    unknown = sorted(set(inter) - {"placement", "sting", "excerpt_seconds", "files"})
    if unknown:
        raise InputError(f"unknown [interludes] key(s) {', '.join(unknown)}; known: excerpt_seconds, files, placement, sting", sidecar)
    placement = inter.get("placement", "inline")
    if placement not in ("inline", "spread"):
        raise InputError("interludes.placement must be \"inline\" or \"spread\"", sidecar)
    sting = inter.get("sting", True)
    if not isinstance(sting, bool):
        raise InputError(f"interludes.sting must be true or false, not {sting!r}", sidecar)
    excerpt = inter.get("excerpt_seconds", Interludes.excerpt_seconds)
    low, high = EXCERPT_SECONDS
    # (NaN fails every comparison, so it is refused too; so are inf and booleans)
    if isinstance(excerpt, bool) or not isinstance(excerpt, (int, float)) or not low <= excerpt <= high:
        raise InputError(f"interludes.excerpt_seconds must be a number of seconds from {low:g} to {high:g}, not {excerpt!r}", sidecar)
    files = inter.get("files", {})
    if not isinstance(files, dict):
        raise InputError("interludes.files must be a table: [interludes.files] then \"Song title\" = \"song.mp3\"", sidecar)
    return Interludes(placement=placement, sting=sting, excerpt_seconds=float(excerpt),
                      files={title: base / path for title, path in _names(files, "interludes.files", sidecar).items()})
