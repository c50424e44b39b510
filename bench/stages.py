"""Where the time of one render goes, stage by stage, without a profiler's overhead.

    python bench/stages.py TEXT [--cache-dir DIR] [--no-cache] [-j N] [--format mp3|m4b|both] -o OUT

Runs the real `audiobook.render.render()` once, with a clock wrapped around the stage
functions it calls (looked up by name, so this follows the code as it changes): read,
segment, cast, speak, the layout thread (which encodes stretches while speech goes on),
the loudness measurement, encode (limiter, soxr and LAME, in threads of this process), join,
cover, tagging, and with --format m4b|both the audiobook's encode (its own thread feeding
ffmpeg), chapters mux and tags; plus the time spent *producing* samples (assemble.chunks: reading clips,
generating stings, applying gain) whichever stage consumes them, and the child CPU time
(ffmpeg, which only decodes the loudness sample now). Times are inclusive (encode includes
the chunks it pulls). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

T0 = time.perf_counter()
TIMES: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def timed(name, func):
    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def gen_wrapper(*args, **kwargs):
            it = func(*args, **kwargs)
            CALLS[name] += 1
            while True:
                start = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    TIMES[name] += time.perf_counter() - start
                    return
                TIMES[name] += time.perf_counter() - start
                yield item
        return gen_wrapper

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            TIMES[name] += time.perf_counter() - start
            CALLS[name] += 1
    return wrapper


def patch(module, attr: str, name: str) -> None:
    if hasattr(module, attr):
        setattr(module, attr, timed(name, getattr(module, attr)))


def child_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("text", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("-j", "--jobs", type=int, default=None)
    parser.add_argument("--format", default="mp3", choices=["mp3", "m4b", "both"])
    args = parser.parse_args(argv)

    start = time.perf_counter()
    from audiobook import assemble, master, render, tag, cover  # noqa: F401
    TIMES["import audiobook (numpy, PIL, mutagen, pyttsx3 on first use)"] = time.perf_counter() - start

    for attr, name in (("read", "read"), ("segment", "segment"), ("cast", "cast"), ("speak", "speak (synthesis; encoding runs alongside)"),
                       ("_cover", "cover (cached by what it shows)"), ("write_tags", "tag (ID3v2.3, CHAP/CTOC, APIC)"),
                       ("_lay_out", "layout thread (waits for clips; cuts and hands stretches to the encoder)")):
        patch(render, attr, name)
    patch(assemble, "assemble", "assemble (layout)")
    patch(assemble, "chunks", "  samples produced (read clips, stings, gain)")
    patch(assemble, "_sting", "    of which stings (numpy)")
    patch(assemble, "speech_sample", "limiter estimate: speech sample")
    patch(master, "speech_loudness", "loudness (steps stored by the speech workers)")
    patch(master, "chain_loss_db", "limiter/encoder loss estimate (encode a sample, ffmpeg decodes it)")
    patch(master.StretchEncoder, "join", "after speech: wait for the last stretches + join (wall)")
    patch(master, "_join", "    join frames + Info header")
    patch(master, "encode_frames", "encode (limiter, soxr, LAME), summed over threads")
    from audiobook.master import m4b
    patch(m4b.Audiobook, "_feed", "m4b: feed ffmpeg's AAC encoder (limiter; its own thread, wall)")
    patch(m4b.Audiobook, "finish", "m4b: after the layout: wait for the AAC encode + chapters mux (wall)")
    patch(render, "write_m4b_tags", "m4b: tags and cover (mutagen)")

    options = render.RenderOptions(out_dir=args.output, cache_dir=args.cache_dir, use_cache=not args.no_cache, jobs=args.jobs, format=args.format)
    cpu0 = child_cpu()
    start = time.perf_counter()
    report = render.render([args.text], options)
    TIMES["render() total"] = time.perf_counter() - start
    if report.failures:
        print(report.failures, file=sys.stderr)
        return 1
    ep = report.outputs[0]
    print(json.dumps({
        "text": str(args.text),
        "audio_s": round(ep.duration_ms / 1000, 1),
        "stages_s": {k: round(v, 3) for k, v in TIMES.items()},
        "calls": dict(CALLS),
        "process_total_s": round(time.perf_counter() - T0, 3),
        "reaped_child_cpu_s (ffmpeg decodes; not workers)": round(child_cpu() - cpu0, 3),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
