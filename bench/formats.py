"""M4B against MP3: what encoding the same program costs in each format, in one run.

    python bench/formats.py [TEXT] [--runs N] [-j N] [--json]

Renders TEXT (default: the seed) once to fill a clip cache and records the stretches the
render hands to the MP3 encoder (their sample makers read the cached clips). Then, N times
each, interleaved, on those same stretches:

    mp3   master.encode_stretches(): limiter, soxr and LAME in the encoder threads, joined
          behind the Info frame (no stretch cache: everything is encoded)
    m4b   master.m4b.Audiobook: the same limiter, ffmpeg's AAC encoder on segments side by side
          (as many at once as the MP3 has threads), spliced and muxed with chapters (what
          --format m4b adds)
    both  the two at once, as --format both runs them

Wall time and CPU time (this process's threads plus children: ffmpeg) for each; medians.
The ratio m4b/mp3 is the target (<= 1.5). Prints a table, or JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SEED = ROOT / "input" / "like-we-used-to-letter.txt"
sys.path.insert(0, str(ROOT))

from audiobook import master, render  # noqa: E402
from audiobook.master import m4b  # noqa: E402
from audiobook.models import Chapter  # noqa: E402


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def stretches_of(text: Path, cache: Path, out: Path, jobs: int | None) -> tuple[list[master.Stretch], int]:
    """Render once (clips into `cache`) and keep the stretches the MP3 encoder was given,
    the last time for each start (a corrected gain hands them in again)."""
    seen: dict[int, master.Stretch] = {}
    rate = {}
    submit, init = master.StretchEncoder.submit, master.StretchEncoder.__init__

    def recording_init(self, r, *args, **kwargs):
        rate["rate"] = r
        seen.clear()
        return init(self, r, *args, **kwargs)

    def recording_submit(self, stretch):
        seen[stretch.start] = stretch
        return submit(self, stretch)

    master.StretchEncoder.__init__, master.StretchEncoder.submit = recording_init, recording_submit
    try:
        report = render.render([text], render.RenderOptions(out_dir=out, cache_dir=cache, jobs=jobs))
    finally:
        master.StretchEncoder.__init__, master.StretchEncoder.submit = init, submit
    if report.failures:
        raise SystemExit(f"render failed: {report.failures}")
    return [seen[k] for k in sorted(seen)], rate["rate"]


def timed(fn) -> dict:
    c, t = cpu(), time.perf_counter()
    fn()
    return {"wall_s": time.perf_counter() - t, "cpu_s": cpu() - c}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", type=Path, nargs="?", default=SEED)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-j", "--jobs", type=int, default=None, help="encoder threads for the MP3 [default: all cores]")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import os

    workers = args.jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="audiofic-formats-") as tmp:
        tmp = Path(tmp)
        stretches, rate = stretches_of(args.text, tmp / "cache", tmp / "render", args.jobs)
        seconds = sum(s.length for s in stretches) / rate

        def mp3(k: int) -> None:
            master.encode_stretches(stretches, rate, tmp / f"{k}.mp3", workers=workers)

        def book(k: int) -> None:
            scratch = tmp / f"book-{k}"
            scratch.mkdir()
            audiobook = m4b.Audiobook(scratch / "x.m4b", scratch, workers=workers)
            try:
                for s in stretches:
                    audiobook.add(0, s, rate)
                audiobook.finish([Chapter("All", 0, round(seconds * 1000))])
            finally:
                audiobook.close()

        def both(k: int) -> None:
            other = threading.Thread(target=book, args=(f"both-{k}",))
            other.start()
            mp3(f"both-{k}")
            other.join()

        runs: dict[str, list[dict]] = {"mp3": [], "m4b": [], "both": []}
        for k in range(args.runs):
            for name, fn in (("mp3", mp3), ("m4b", book), ("both", both)):
                runs[name].append(timed(lambda fn=fn: fn(k)))
    med = {name: {key: round(statistics.median(r[key] for r in rs), 3) for key in ("wall_s", "cpu_s")} for name, rs in runs.items()}
    result = {
        "text": str(args.text), "audio_s": round(seconds, 1), "stretches": len(stretches), "runs": args.runs,
        "mp3_workers": workers, "median": med,
        "ratio_m4b_mp3": {"wall": round(med["m4b"]["wall_s"] / med["mp3"]["wall_s"], 2),
                          "cpu": round(med["m4b"]["cpu_s"] / med["mp3"]["cpu_s"], 2)},
        "ratio_both_mp3_wall": round(med["both"]["wall_s"] / med["mp3"]["wall_s"], 2),
        "raw": runs,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['text']}: {seconds:.0f} s of audio in {len(stretches)} stretches; median of {args.runs} runs; MP3 on {workers} threads")
        print(f"  {'':5} {'wall s':>8} {'cpu s':>8}")
        for name in ("mp3", "m4b", "both"):
            print(f"  {name:5} {med[name]['wall_s']:8.2f} {med[name]['cpu_s']:8.2f}")
        r = result["ratio_m4b_mp3"]
        print(f"  m4b/mp3: wall {r['wall']:.2f}x, cpu {r['cpu']:.2f}x (target <= 1.5); both/mp3 wall {result['ratio_both_mp3_wall']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
