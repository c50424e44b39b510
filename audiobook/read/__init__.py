"""Stage 1, read: a path on disk -> Document (decoded text, metadata, marked paragraphs).

    text.py      plain text (.txt, .md): decoding
    sidecar.py   `<name>.toml` next to any input: metadata that wins field by field
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..models import Document, Metadata
from .sidecar import apply_sidecar, clean_text, sidecar_path, title_from_name
from .text import decode

__all__ = ["INPUT_SUFFIXES", "MAX_INPUT_BYTES", "clean_text", "decode", "find_inputs", "read", "sidecar_path", "title_from_name"]

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
INPUT_SUFFIXES = TEXT_SUFFIXES
# ~700,000 words, some 75 hours of audio: past that, splitting the work is kinder to everyone.
MAX_INPUT_BYTES = 4 * 1024 * 1024


def find_inputs(paths: list[Path]) -> list[Path]:
    """Expand folders into the works they hold (sorted); check every path exists."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            texts = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
            if not texts:
                raise InputError(f"no texts or downloads ({', '.join(INPUT_SUFFIXES)}) in this folder; add a chapter file", path)
            found.extend(texts)
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise InputError("not a regular file; give a .txt or .md file or a folder", path)
        else:
            raise InputError("no such file or folder; check the path", path)
    return found


def read(path: Path) -> Document:
    """Read one work and its sidecar. Raises InputError for anything unusable."""
    data = _read_bytes(path, MAX_INPUT_BYTES, "split the work into chapter files")
    text, encoding = decode(data, path)
    if not text.strip():
        raise InputError("file is empty; nothing to read", path)
    meta = apply_sidecar(Metadata(title=title_from_name(path)), path)
    return Document(path=path, text=text, meta=meta, encoding=encoding)


def _read_bytes(path: Path, limit: int, advice: str) -> bytes:
    try:
        if not path.is_file() and path.exists():
            raise InputError("not a regular file; give a file", path)
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"file is {size / 2**20:.1f} MB, over the {limit // 2**20} MB limit; {advice}", path)
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file; check the path", path) from None
    except IsADirectoryError:
        raise InputError("is a folder; give a text file", path) from None
    except PermissionError:
        raise InputError("permission denied; make the file readable", path) from None
