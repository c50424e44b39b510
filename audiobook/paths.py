"""Where audiofic finds voice profiles and keeps its clip cache."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def voices_dirs() -> list[Path]:
    """Profile folders, first wins: ./voices, the installed copy, the source checkout's."""
    candidates = [Path.cwd() / "voices", PACKAGE / "voices", PACKAGE.parent / "voices"]
    seen: list[Path] = []
    for path in candidates:
        if path.is_dir() and path.resolve() not in [s.resolve() for s in seen]:
            seen.append(path)
    return seen


def cache_dir(explicit: Path | None = None) -> Path:
    """--cache-dir, else $AUDIOFIC_CACHE, else the user's cache folder."""
    if explicit is not None:
        return explicit
    env = os.environ.get("AUDIOFIC_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("audiofic"))
