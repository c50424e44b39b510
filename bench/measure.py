"""Run one command in a fresh process and report its wall time, CPU time and memory as JSON.

    python bench/measure.py [--out FILE.json] -- CMD [ARG...]

Memory is measured two ways, for the whole process tree (the command, its speech workers,
the multiprocessing fork server, ffmpeg):

* `max_rss_mb`: the peak resident set of the LARGEST single process in the tree, from
  getrusage(RUSAGE_CHILDREN).ru_maxrss of this wrapper. That only covers descendants that
  were waited for, and audiofic's fork server (parent of the speech workers) can outlive
  the main process and be re-parented to init. So this wrapper makes itself a child
  subreaper (prctl PR_SET_CHILD_SUBREAPER): orphans come to it, and it reaps every one
  before reading the counter. Nothing is missed.
* `tree_peak_mb`: the peak of the SUM of RSS over all live processes in the tree, polled
  from /proc every 50 ms (shared library pages count once per process, so this is an
  upper bound; spikes shorter than the poll interval can be missed).

Wall time runs from starting the command to its exit (not the reaping of stragglers).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER = 36
PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Sum of RSS (bytes) of every process descended from `root` (not counting root)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            pid = int(name)
            parents[pid] = int(fields[1])
            rss[pid] = int(fields[21]) * PAGE     # field 24 of stat: rss in pages
        except (OSError, ValueError, IndexError):
            continue
    total = 0
    for pid in rss:
        p, seen = pid, 0
        while p in parents and p != root and seen < 64:
            p, seen = parents[p], seen + 1
        if p == root and pid != root:
            total += rss[pid]
    return total


def main(argv: list[str]) -> int:
    out = None
    if argv[:1] == ["--out"]:
        out, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    subreaper = False
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    me = os.getpid()
    peak = 0
    stop = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(me))
            stop.wait(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    poller.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    stop.set()
    poller.join()
    # Reap everything that was re-parented to us (fork server, stray workers).
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "cmd": argv,
        "returncode": proc.returncode,
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),     # ru_maxrss is in KiB on Linux
        "tree_peak_mb": round(peak / 2**20, 1),
        "subreaper": subreaper,
        "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "stdout": stdout.decode("utf-8", "replace")[-4000:],
        "stderr": stderr.decode("utf-8", "replace")[-4000:],
    }
    text = json.dumps(report)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
