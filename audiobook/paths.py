"""Where audiofic finds voice profiles and keeps its clip cache."""

from __future__ import annotations

import os
import time
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


# A temporary file untouched this long was left by a run that died: a clip or a stretch is
# written in seconds to minutes. Age, not the writer's PID: a render in another PID
# namespace (a container sharing the folder) has PIDs that mean nothing here.
STALE_AFTER_S = 3600


def sweep_stale_temps(root: Path) -> None:
    """Delete temporary files in `root`'s subfolders (".<name>.<pid>.<...>.tmp*", as the
    cache writes them) not written to for STALE_AFTER_S: what killed renders left behind."""
    now = time.time()
    for tmp in root.glob("*/.*.tmp*"):
        try:
            if now - tmp.stat().st_mtime > STALE_AFTER_S:
                tmp.unlink(missing_ok=True)
        except OSError:
            pass


def publish(tmp: Path, final: Path) -> bool:
    """Put `tmp` in place as the cache entry `final` unless `final` exists, atomically (a hard
    link fails if the name is taken): an entry, once published, is never replaced under a
    render that laid it out. False when another writer got there first."""
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    except OSError:          # a filesystem without hard links: replace
        os.replace(tmp, final)
        return True
