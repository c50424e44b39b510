"""Stopped means stopped: SIGINT or SIGTERM sent to the render's main process alone (not its
process group, as a service manager or `kill PID` does) stops every speech worker within
2 s, removes the temporary files, exits 130 or 143 with one true line; and a worker never
outlives its render, even when the render is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_reliability import cache_entries, wait_for

STOP_WITHIN_S = 2.0
LINE = "The lamps were lit along the harbour wall, one after another, and the sea was calm. "


def running(group: int) -> list[int]:
    """Processes of the group that still run (a zombie, killed and not yet reaped, runs nothing)."""
    out = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(group)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if line.strip() and not line.split()[1].startswith("Z")]


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path, Path]:
    text = tmp_path / "long.txt"
    text.write_text(LINE * 2500, encoding="utf-8")       # one long paragraph: many bounded utterances
    tmp, cache = tmp_path / "tmp", tmp_path / "cache"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    # Started with SIGINT at its default, as from a terminal: a test run in the background of
    # a script (nohup, `&`) has SIGINT ignored, and Python leaves an inherited SIG_IGN alone.
    args = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
            "os.execv(sys.executable, [sys.executable, '-m', 'audiobook.cli', *sys.argv[1:]])",
            "render", str(text), "-o", str(tmp_path / "out"), "--cache-dir", str(cache), "-q", *extra]
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=tmp_path)
    return proc, tmp, cache


def speaking(proc: subprocess.Popen, cache: Path, tmp: Path, no_cache: bool) -> None:
    """Wait until the workers are speaking: clips appear (in the cache, or with --no-cache in
    the render's private clip folder) and the worker processes run."""
    def clips() -> int:
        return len(list(tmp.glob("audiofic-clips-*/*.wav"))) if no_cache else len(cache_entries(cache))
    wait_for(lambda: clips() >= 2 and len(running(proc.pid)) >= 3, 120, proc)


@pytest.mark.parametrize("sig, code, words, extra", [
    (signal.SIGTERM, 143, "stopped (SIGTERM)", ()),
    (signal.SIGINT, 130, "interrupted", ()),
    (signal.SIGTERM, 143, "stopped (SIGTERM)", ("--no-cache",)),
    (signal.SIGINT, 130, "interrupted", ("--no-cache",)),
])
def test_a_signal_to_the_main_process_stops_everything(tmp_path, sig, code, words, extra):
    proc, tmp, cache = start(tmp_path, *extra)
    try:
        speaking(proc, cache, tmp, bool(extra))
        sent = time.monotonic()
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        while running(proc.pid) and time.monotonic() - sent < 10:
            time.sleep(0.02)
        took = time.monotonic() - sent
        assert running(proc.pid) == [], "a worker outlived the render"
        assert took <= STOP_WITHIN_S, f"stopping took {took:.1f} s"
        assert proc.returncode == code
        lines = [line for line in proc.stderr.read().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], lines
        assert list(tmp.iterdir()) == [], "temporary files left behind"      # pymp-*, audiofic-clips-*
        assert not list((cache / "tmp").glob("*")) if (cache / "tmp").exists() else True
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.mp3"))
    finally:
        with_pids = running(proc.pid)
        for pid in with_pids:
            os.kill(pid, signal.SIGKILL)


def test_workers_die_with_a_killed_render(tmp_path):
    proc, tmp, cache = start(tmp_path)
    try:
        speaking(proc, cache, tmp, False)
        os.kill(proc.pid, signal.SIGKILL)          # no handler runs: the kernel must stop the workers
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while running(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running(proc.pid) == [], "workers kept speaking for a render that is gone"
        before = len(cache_entries(cache))
        time.sleep(1.0)
        assert len(cache_entries(cache)) == before, "the cache still grows"
    finally:
        for pid in running(proc.pid):
            os.kill(pid, signal.SIGKILL)
