"""The same batch of works rendered locally and on a Dask cluster (`--cluster local:N`).

Four generated works (bench/generate.py; 4k, 5k, 6k and 7k words, every paragraph different
text) rendered cold, each run with a fresh cache and output folder: once by a local
`audiofic render`, once with `--cluster local:N` (N single-threaded workers on this
machine, the LocalCluster started and stopped inside the timed command). Prints the wall time
of each (medians of --runs), the ratio cluster/local (target <= 1.15 on one machine: the
cluster's price, what it buys is more machines) and checks that both made the same episodes
(durations within 0.1 s). Results go to bench/results/cluster-<timestamp>.json.

    python bench/cluster.py [--workers 2] [--runs 1] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from generate import write_work  # noqa: E402

WORDS = (4000, 5000, 6000, 7000)
TARGET = 1.15


def render(works: Path, out: Path, cache: Path, *extra: str) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("AUDIOFIC_CLUSTER", None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "audiobook.cli", "render", str(works), "-o", str(out), "--cache-dir", str(cache),
                           "--json", "-q", *extra], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"render failed ({' '.join(extra) or 'local'}): {done.stderr.strip()}")
    return wall, json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time a batch of works rendered locally and with --cluster local:N.")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers [default 2]")
    parser.add_argument("--runs", type=int, default=1, help="runs of each [default 1]; medians are reported")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="audiofic-bench-cluster-"))
    try:
        works = tmp / "works"
        for n, words in enumerate(WORDS, 1):
            write_work(works / f"work-{n}.txt", words, seed=n)
        times: dict[str, list[float]] = {"local": [], "cluster": []}
        outputs = {}
        for run in range(args.runs):
            # Alternated, so a load on the shared machine falls on both alike.
            for kind, extra in (("local", ()), ("cluster", ("--cluster", f"local:{args.workers}"))):
                wall, doc = render(works, tmp / f"out-{kind}-{run}", tmp / f"cache-{kind}-{run}", *extra)
                times[kind].append(wall)
                outputs[kind] = doc
                print(f"run {run + 1} {kind:8} {wall:6.1f} s", file=sys.stderr, flush=True)
        for mine, alone in zip(outputs["cluster"]["outputs"], outputs["local"]["outputs"]):
            assert abs(mine["duration_s"] - alone["duration_s"]) <= 0.1, (mine["mp3"], mine["duration_s"], alone["duration_s"])
        local, cluster = statistics.median(times["local"]), statistics.median(times["cluster"])
        audio = sum(e["duration_s"] for e in outputs["local"]["outputs"])
        ratio = cluster / local
        print(f"{sum(WORDS):,} words in {len(WORDS)} works, {audio / 60:.0f} min of audio, {os.cpu_count()} cores")
        print(f"  local render          {local:6.1f} s  ({audio / local:.0f}x real time)")
        print(f"  --cluster local:{args.workers}     {cluster:6.1f} s  ({audio / cluster:.0f}x real time)")
        print(f"  cluster/local         {ratio:6.2f}   (target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'})")
        results = BENCH / "results"
        results.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (results / f"cluster-{stamp}.json").write_text(json.dumps({
            "words": WORDS, "workers": args.workers, "cores": os.cpu_count(), "audio_s": audio,
            "local_s": times["local"], "cluster_s": times["cluster"], "ratio": ratio, "target": TARGET,
        }, indent=2) + "\n")
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
