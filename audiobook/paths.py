"""Where audiofic finds voice profiles and keeps its clip cache; and which paths are files."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import BinaryIO

from .store import is_url, local

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
    """--cache-dir, else $AUDIOFIC_CACHE, else the user's cache folder. (A URL in
    $AUDIOFIC_CACHE is a store: render reaches it through shared.py, and keeps this
    machine's own files in the user's cache folder.)"""
    if explicit is not None:
        return explicit
    env = os.environ.get("AUDIOFIC_CACHE")
    if env and not is_url(env):
        return local(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("audiofic"))


# A temporary file untouched this long was left by a run that died: a clip or a stretch is
# written in seconds to minutes. Age, not the writer's PID: a render in another PID
# namespace (a container sharing the folder) has PIDs that mean nothing here.
STALE_AFTER_S = 3600
# A folder is swept at most this often by one process: a sweep lists all of it (256
# subfolders of a big cache), and is asked for by every speech call and every episode's
# encoder, where a file must be an hour old before it is swept anyway.
SWEEP_EVERY_S = 300
_swept: dict[Path, float] = {}


def sweep_stale_temps(root: Path) -> None:
    """Delete temporary files in `root`'s subfolders (".<name>.<pid>.<...>.tmp*", as the
    cache writes them) not written to for STALE_AFTER_S: what killed renders left behind."""
    now = time.time()
    if now - _swept.get(root, -SWEEP_EVERY_S) < SWEEP_EVERY_S:
        return
    _swept[root] = now
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


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class NotRegularFile(OSError):
    """A path that is there but is no regular file; `kind` says what it is ("a FIFO (named pipe)")."""

    def __init__(self, kind: str, path: Path):
        super().__init__(f"is {kind}, not a regular file")
        self.kind, self.filename = kind, str(path)


def check_regular(path: Path) -> None:
    """Raise NotRegularFile unless `path` is a regular file (FileNotFoundError if it is not
    there). Asked of stat, before anything opens it: opening a FIFO waits for a writer that
    may never come, and a device may never end."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(_kind(mode), path)


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading if it is a regular file, else NotRegularFile. Checked with
    stat first (opening a device can act on it), then opened without blocking and checked
    again on what was opened: a FIFO put in its place in between cannot block either."""
    check_regular(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(_kind(mode), path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
