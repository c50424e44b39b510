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


def sweep_stale_temps(root: Path) -> None:
    """Delete temporary files in `root`'s subfolders (".<name>.<pid>.<...>.tmp*", as the
    cache writes them) whose writing process is gone: what a killed render left behind."""
    for tmp in root.glob("*/.*.tmp*"):
        pid = next((int(part) for part in tmp.name.split(".")[2:] if part.isdigit()), None)
        if pid is None or pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (PermissionError, OSError):
            pass
