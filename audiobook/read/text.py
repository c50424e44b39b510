"""Plain text: UTF-8 (with or without BOM), UTF-16/32 with BOM, or Windows-1252; any line ends."""

from __future__ import annotations

import codecs
import re

from ..errors import InputError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")   # C0 controls but tab, newlines, form feed


def decode(data: bytes, path) -> tuple[str, str]:
    """Decode UTF-8/16/32 with a BOM, UTF-8, or legacy Windows-1252; refuse binary data.
    Newlines come back normalised to \\n."""
    text, encoding = _decode(data, path)
    return text.replace("\r\n", "\n").replace("\r", "\n"), encoding


def _decode(data: bytes, path) -> tuple[str, str]:
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
    controls = len(_CONTROLS.findall(text))
    if controls > max(8, len(text) // 100):
        raise InputError("looks like binary data (control characters), not text; give a .txt or .md file", path)
    return text, encoding
