"""Benchmark: audiofic against the bare pipeline, warm re-renders, and long works.

    python bench/run.py [--quick] [--runs N] [--large-runs N] [--sizes 10000,30000,100000] [--keep]

1. Seed text (input/like-we-used-to-letter.txt), N runs each, interleaved:
   bare   bench/bare.py: eSpeak NG speaks the whole text, piped into ffmpeg (mono 44.1 kHz
          64 kbit/s CBR); nothing else
   cold   audiofic render TEXT --no-cache -o TMP -q
   prime  audiofic render TEXT --cache-dir C -o TMP -q        (fills the cache; reported only)
   warm   audiofic render EDITED --cache-dir C -o TMP -q      (one word changed in one middle paragraph)
2. Generated works (bench/generate.py) of 10k, 30k, 100k words, cold: seconds of audio per
   second of wall time, peak memory, and how time and memory grow with length.
3. M4B against MP3 (bench/formats.py, in its own process): encoding the seed's program to
   each format, interleaved runs, wall and CPU time; the m4b/mp3 ratio.

Every render runs through bench/measure.py in a fresh process (wall time; peak RSS of the
largest process from RUSAGE_CHILDREN with a child subreaper; peak RSS sum over the process
tree from /proc) with its own cache and output folders under one temp folder, removed at
the end unless --keep. Results: a table on stdout, all numbers in bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SEED = ROOT / "input" / "like-we-used-to-letter.txt"
sys.path.insert(0, str(BENCH))

from generate import write_work  # noqa: E402

TARGETS = {"cold/bare": 0.8, "warm/cold": 0.3, "realtime_100k": 300.0, "peak_rss_mb": 300.0, "m4b/mp3": 1.5}
# The narrator profile (voices/narrator.toml: language en, male, rate 160, pitch 50,
# volume 1.0) resolves to eSpeak voice gmw/en; bare.py speaks with the same settings.
NARRATOR = {"voice": "gmw/en", "rate": 160, "pitch": 50, "volume": 100}
SWAPS = {"really": "truly", "very": "quite", "know": "realise", "sorry": "sad", "thing": "matter", "everything": "all of it"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- commands


def audiofic_command() -> tuple[list[str], str]:
    """The installed `audiofic render` (the benchmark times the real command)."""
    exe = Path(sys.executable).with_name("audiofic")
    probe = subprocess.run([sys.executable, "-c", "import audiobook.cli"], capture_output=True, text=True, cwd=ROOT)
    if probe.returncode != 0:
        sys.exit(f"audiofic cannot start: {(probe.stderr.strip().splitlines() or ['?'])[-1]}")
    return ([str(exe)] if exe.exists() else [sys.executable, "-m", "audiobook.cli"]) + ["render"], "audiofic render"


def measure(cmd: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, str(BENCH / "measure.py"), "--", *cmd], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"measure.py failed: {proc.stderr.strip()}")
    result = json.loads(proc.stdout)
    if result["returncode"] != 0:
        raise SystemExit(f"command failed ({result['returncode']}): {' '.join(cmd)}\n{result['stderr']}")
    return result


def mp3_seconds(folder_or_file: Path) -> float:
    from mutagen.mp3 import MP3

    files = [folder_or_file] if folder_or_file.is_file() else sorted(folder_or_file.glob("*.mp3"))
    if not files:
        raise SystemExit(f"no MP3 written in {folder_or_file}")
    return sum(MP3(str(f)).info.length for f in files)


def edited_copy(src: Path, dest_dir: Path) -> tuple[Path, str]:
    """Copy text + sidecar; change one word in the middle paragraph. Returns (path, what changed)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    text = src.read_text(encoding="utf-8-sig")
    paras = text.split("\n\n")
    long = [i for i, p in enumerate(paras) if len(p.split()) >= 40]
    middle = long[len(long) // 2]
    para = paras[middle]
    for old, new in SWAPS.items():
        m = re.search(rf"\b{old}\b", para)
        if m:
            break
    else:
        m = re.search(r"\b[a-z]{5,}\b", para)
        old, new = m.group(0), "indeed"
    paras[middle] = para[: m.start()] + new + para[m.end():]
    out = dest_dir / src.name
    out.write_text("\n\n".join(paras), encoding="utf-8")
    sidecar = src.with_suffix(".toml")
    if sidecar.exists():
        shutil.copy2(sidecar, out.with_suffix(".toml"))
    return out, f"paragraph {middle + 1} of {len(paras)}: {old!r} -> {new!r}"


def words_in(path: Path) -> int:
    return len(path.read_text(encoding="utf-8-sig").split())


# --------------------------------------------------------------------------- stats


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary(runs: list[dict], key: str) -> dict:
    vals = [r[key] for r in runs]
    return {"median": round(med(vals), 3), "min": round(min(vals), 3), "max": round(max(vals), 3), "n": len(vals)}


def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "FAIL"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time audiofic against the bare eSpeak | ffmpeg pipeline.")
    parser.add_argument("--quick", action="store_true", help="10k and 30k words only, fewer runs")
    parser.add_argument("--runs", type=int, default=None, help="runs per seed measurement and per 10k/30k work [default 3; --quick 2 and 1]")
    parser.add_argument("--large-runs", type=int, default=1, help="runs of the 100k-word work [default 1: it takes minutes]")
    parser.add_argument("--sizes", default=None, help="comma-separated word counts [default 10000,30000,100000; --quick 10000,30000]")
    parser.add_argument("--jobs", type=int, default=None, help="pass -j to audiofic [default: its own, all cores]")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (outputs, caches)")
    parser.add_argument("--piper", action="store_true", help="also the Piper rows: the seed against bare_piper.py, and --piper-sizes")
    parser.add_argument("--only-piper", action="store_true", help="the Piper rows alone (no eSpeak rows)")
    parser.add_argument("--piper-sizes", default="10000,30000", help="generated works for Piper [default 10000,30000]")
    parser.add_argument("--piper-runs", type=int, default=1, help="runs per Piper measurement [default 1: they take minutes]")
    parser.add_argument("--piper-jobs", default="2", help="comma-separated -j values for the Piper seed render: "
                        "1 = one process with onnxruntime on both cores, 2 = two workers with one thread each [default 2]")
    args = parser.parse_args(argv)
    args.piper = args.piper or args.only_piper

    seed_runs = args.runs or (2 if args.quick else 3)
    gen_runs = args.runs or (1 if args.quick else 3)
    sizes = [int(s) for s in (args.sizes or ("10000,30000" if args.quick else "10000,30000,100000")).split(",")]
    render_cmd, render_desc = audiofic_command()
    jobs = ["-j", str(args.jobs)] if args.jobs else []
    # pip compiles the modules of a package it installs; an editable checkout's are compiled on
    # first import, unless PYTHONDONTWRITEBYTECODE is set (as on the shared machines), when
    # every run would compile them again. Compile once, as an install would (bench/ too).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "audiobook"), str(BENCH)], check=True)

    tmp = Path(tempfile.mkdtemp(prefix="audiofic-bench-"))
    env = dict(os.environ, AUDIOFIC_CACHE=str(tmp / "default-cache"))   # nothing touches the user's cache
    started = time.time()
    load_before = os.getloadavg()
    results: dict = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "render_command": render_desc,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), "loadavg_before": load_before},
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
               + ("+dirty" if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "audiobook"],
                                             capture_output=True, text=True, cwd=ROOT).stdout.strip() else ""),
        "memory_method": "max_rss_mb: RUSAGE_CHILDREN ru_maxrss (largest single process) of a fresh wrapper that is a child "
                         "subreaper and reaps every descendant; tree_peak_mb: peak sum of RSS over the process tree polled from /proc every 50 ms",
    }
    try:
        if args.piper:
            results["piper"] = run_piper(args, tmp, env, render_cmd)
        if args.only_piper:
            raise _PiperOnly
        # ---- 1 + 2: the seed text -----------------------------------------------------
        edited, change = edited_copy(SEED, tmp / "edited")
        seed_words = words_in(SEED)
        log(f"seed: {SEED.name}, {seed_words} words, {seed_runs} runs; edit: {change}")
        seed: dict[str, list[dict]] = {"bare": [], "cold": [], "prime": [], "warm": []}
        for i in range(seed_runs):
            d = tmp / f"seed-{i}"
            bare_mp3 = d / "bare.mp3"
            d.mkdir(parents=True)
            r = measure([sys.executable, str(BENCH / "bare.py"), str(SEED), str(bare_mp3),
                         "--voice", NARRATOR["voice"], "--rate", str(NARRATOR["rate"]),
                         "--pitch", str(NARRATOR["pitch"]), "--volume", str(NARRATOR["volume"])], env)
            info = json.loads(r["stdout"].strip().splitlines()[-1])
            r["audio_s"] = mp3_seconds(bare_mp3)
            r["pcm_audio_s"] = info["audio_s"]
            seed["bare"].append(r)
            r = measure([*render_cmd, str(SEED), "--no-cache", "--cache-dir", str(d / "cold-cache"), "-o", str(d / "cold"), "-q", *jobs], env)
            r["audio_s"] = mp3_seconds(d / "cold")
            seed["cold"].append(r)
            r = measure([*render_cmd, str(SEED), "--cache-dir", str(d / "cache"), "-o", str(d / "prime"), "-q", *jobs], env)
            r["audio_s"] = mp3_seconds(d / "prime")
            seed["prime"].append(r)
            r = measure([*render_cmd, str(edited), "--cache-dir", str(d / "cache"), "-o", str(d / "warm"), "-q", *jobs], env)
            r["audio_s"] = mp3_seconds(d / "warm")
            seed["warm"].append(r)
            log(f"  run {i + 1}: bare {seed['bare'][-1]['wall_s']:.2f}s  cold {seed['cold'][-1]['wall_s']:.2f}s  "
                f"prime {seed['prime'][-1]['wall_s']:.2f}s  warm {seed['warm'][-1]['wall_s']:.2f}s")
            shutil.rmtree(d, ignore_errors=True) if not args.keep else None

        bare_audio = med([r["audio_s"] for r in seed["bare"]])
        bare_wpm = seed_words / (bare_audio / 60)
        sane = 0.99 < bare_audio / med([r["pcm_audio_s"] for r in seed["bare"]]) < 1.01 and 120 <= bare_wpm <= 260
        med_s = {k: summary(v, "wall_s") for k, v in seed.items()}
        ratios = {
            "cold/bare": round(med_s["cold"]["median"] / med_s["bare"]["median"], 3),
            "warm/cold": round(med_s["warm"]["median"] / med_s["cold"]["median"], 3),
            "prime/cold": round(med_s["prime"]["median"] / med_s["cold"]["median"], 3),
        }
        results["seed"] = {
            "text": str(SEED.relative_to(ROOT)), "words": seed_words, "runs": seed_runs, "edit": change,
            "wall_s": med_s,
            "audio_s": {k: round(med([r["audio_s"] for r in v]), 2) for k, v in seed.items()},
            "max_rss_mb": {k: summary(v, "max_rss_mb") for k, v in seed.items()},
            "bare_check": {"mp3_s": round(bare_audio, 2), "words_per_minute": round(bare_wpm, 1), "sane": sane},
            "ratios": ratios,
            "raw": seed,
        }

        # ---- 3: generated works ----------------------------------------------------------
        gen: list[dict] = []
        for words in sizes:
            text = tmp / "works" / f"bench-{words}.txt"
            actual = write_work(text, words)
            n = args.large_runs if words >= 100_000 else gen_runs
            runs = []
            for i in range(n):
                d = tmp / f"gen-{words}-{i}"
                log(f"generated {actual} words, run {i + 1}/{n} ...")
                r = measure([*render_cmd, str(text), "--no-cache", "--cache-dir", str(d / "cache"), "-o", str(d / "out"), "-q", *jobs], env)
                r["audio_s"] = mp3_seconds(d / "out")
                r["realtime"] = r["audio_s"] / r["wall_s"]
                runs.append(r)
                log(f"  {r['wall_s']:.1f}s wall, {r['audio_s'] / 60:.1f} min audio, {r['realtime']:.0f}x realtime, "
                    f"largest process {r['max_rss_mb']:.0f} MB, tree {r['tree_peak_mb']:.0f} MB")
                shutil.rmtree(d, ignore_errors=True) if not args.keep else None
            wall = med([r["wall_s"] for r in runs])
            gen.append({
                "target_words": words, "words": actual, "runs": n,
                "wall_s": summary(runs, "wall_s"),
                "audio_s": round(med([r["audio_s"] for r in runs]), 1),
                "realtime": round(med([r["realtime"] for r in runs]), 1),
                "ms_per_word": round(1000 * wall / actual, 3),
                "cpu_s": round(med([r["cpu_s"] for r in runs]), 1),
                "max_rss_mb": round(max(r["max_rss_mb"] for r in runs), 1),
                "tree_peak_mb": round(max(r["tree_peak_mb"] for r in runs), 1),
                "raw": runs,
            })
        results["generated"] = gen

        # ---- 4: M4B against MP3, the same program -----------------------------------------
        log(f"formats: the seed's program encoded to MP3 and to M4B, {seed_runs} runs each ...")
        proc = subprocess.run([sys.executable, str(BENCH / "formats.py"), str(SEED), "--json", "--runs", str(seed_runs), *jobs],
                              capture_output=True, text=True, cwd=ROOT, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"formats.py failed: {proc.stderr.strip()}")
        results["formats"] = json.loads(proc.stdout)
    except _PiperOnly:
        pass
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")

    if args.only_piper:
        results["elapsed_s"] = round(time.time() - started, 1)
        results["machine"]["loadavg_after"] = os.getloadavg()
        out = _save(results)
        print_piper(results["piper"])
        print(f"\nJSON: {out.relative_to(ROOT)}  ({results['elapsed_s']:.0f} s)")
        return 0
    # ---- growth and verdicts ----------------------------------------------------------------
    small, large = gen[0], gen[-1]
    growth = {
        "from_words": small["words"], "to_words": large["words"],
        "time_per_word_ratio": round(large["ms_per_word"] / small["ms_per_word"], 3),
        "max_rss_ratio": round(large["max_rss_mb"] / small["max_rss_mb"], 3),
        "tree_peak_ratio": round(large["tree_peak_mb"] / small["tree_peak_mb"], 3),
    }
    results["growth"] = growth
    all_rss = [r["max_rss_mb"] for v in results["seed"]["raw"].values() for r in v] + [g["max_rss_mb"] for g in gen]
    peak_rss = max(all_rss)
    big = next((g for g in gen if g["target_words"] >= 100_000), None)
    checks = {
        "cold/bare": (ratios["cold/bare"], TARGETS["cold/bare"], "<=", verdict(ratios["cold/bare"], TARGETS["cold/bare"])),
        "warm/cold": (ratios["warm/cold"], TARGETS["warm/cold"], "<=", verdict(ratios["warm/cold"], TARGETS["warm/cold"])),
        "realtime_100k": ((big["realtime"], TARGETS["realtime_100k"], ">=", verdict(big["realtime"], TARGETS["realtime_100k"], True))
                          if big else (large["realtime"], TARGETS["realtime_100k"], ">=", f"not run ({large['words']} words: {verdict(large['realtime'], TARGETS['realtime_100k'], True)})")),
        "peak_rss_mb": (peak_rss, TARGETS["peak_rss_mb"], "<", "PASS" if peak_rss < TARGETS["peak_rss_mb"] else "FAIL"),
    }
    fmt = results["formats"]["ratio_m4b_mp3"]
    worse = max(fmt["wall"], fmt["cpu"])   # wall time and CPU time: the M4B must cost no more than 1.5x by either
    checks["m4b/mp3"] = (worse, TARGETS["m4b/mp3"], "<=", verdict(worse, TARGETS["m4b/mp3"]))
    results["targets"] = {k: {"value": v, "target": t, "op": op, "verdict": ok} for k, (v, t, op, ok) in checks.items()}
    results["machine"]["loadavg_after"] = os.getloadavg()
    results["elapsed_s"] = round(time.time() - started, 1)

    out = _save(results)
    print_table(results, out)
    if "piper" in results:
        print_piper(results["piper"])
    return 0


def _save(results: dict) -> Path:
    out_dir = BENCH / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return out


class _PiperOnly(Exception):
    """--only-piper: the eSpeak rows are skipped."""


PIPER_TARGETS = {"cold/bare": 1.0, "realtime_30k": 15.0, "peak_rss_mb": 600.0}


def run_piper(args, tmp: Path, env: dict, render_cmd: list[str]) -> dict:
    """The Piper rows: the seed cold (--no-cache) against bare_piper.py, once per -j value
    in --piper-jobs (how to split the cores), runs interleaved; then generated works."""
    jobs_list = [int(j) for j in args.piper_jobs.split(",")]
    seed: dict[str, list[dict]] = {"bare": [], **{f"cold -j{j}": [] for j in jobs_list}}
    log(f"piper: seed {SEED.name}, {args.piper_runs} run(s), -j {jobs_list}")
    for i in range(args.piper_runs):
        d = tmp / f"piper-seed-{i}"
        d.mkdir(parents=True)
        r = measure([sys.executable, str(BENCH / "bare_piper.py"), str(SEED), str(d / "bare.mp3")], env)
        r["audio_s"] = mp3_seconds(d / "bare.mp3")
        seed["bare"].append(r)
        for j in jobs_list:
            r = measure([*render_cmd, str(SEED), "--engine", "piper", "--no-cache", "--cache-dir", str(d / "cache"),
                         "-o", str(d / f"cold{j}"), "-q", "-j", str(j)], env)
            r["audio_s"] = mp3_seconds(d / f"cold{j}")
            seed[f"cold -j{j}"].append(r)
        log("  " + "  ".join(f"{k} {v[-1]['wall_s']:.1f}s/{v[-1]['max_rss_mb']:.0f}MB" for k, v in seed.items()))
        shutil.rmtree(d, ignore_errors=True) if not args.keep else None
    bare_wall = med([r["wall_s"] for r in seed["bare"]])
    rows = {k: {"wall_s": round(med([r["wall_s"] for r in v]), 2), "audio_s": round(med([r["audio_s"] for r in v]), 1),
                "max_rss_mb": round(max(r["max_rss_mb"] for r in v), 1), "tree_peak_mb": round(max(r["tree_peak_mb"] for r in v), 1),
                "cpu_s": round(med([r["cpu_s"] for r in v]), 1), "ratio": round(med([r["wall_s"] for r in v]) / bare_wall, 3)}
            for k, v in seed.items()}
    gen = []
    for words in [int(w) for w in args.piper_sizes.split(",") if w]:
        text = tmp / "works" / f"piper-{words}.txt"
        actual = write_work(text, words)
        runs = []
        for i in range(args.piper_runs):
            d = tmp / f"piper-gen-{words}-{i}"
            log(f"piper: generated {actual} words, run {i + 1} ...")
            r = measure([*render_cmd, str(text), "--engine", "piper", "--no-cache", "--cache-dir", str(d / "cache"),
                         "-o", str(d / "out"), "-q", "-j", str(jobs_list[-1])], env)
            r["audio_s"] = mp3_seconds(d / "out")
            r["realtime"] = r["audio_s"] / r["wall_s"]
            runs.append(r)
            log(f"  {r['wall_s']:.0f}s wall, {r['audio_s'] / 60:.1f} min audio, {r['realtime']:.1f}x realtime, largest {r['max_rss_mb']:.0f} MB")
            shutil.rmtree(d, ignore_errors=True) if not args.keep else None
        wall = med([r["wall_s"] for r in runs])
        gen.append({"words": actual, "wall_s": round(wall, 1), "audio_s": round(med([r["audio_s"] for r in runs]), 1),
                    "realtime": round(med([r["realtime"] for r in runs]), 2), "ms_per_word": round(1000 * wall / actual, 2),
                    "max_rss_mb": round(max(r["max_rss_mb"] for r in runs), 1), "tree_peak_mb": round(max(r["tree_peak_mb"] for r in runs), 1)})
    return {"seed": rows, "generated": gen, "raw": seed, "jobs": jobs_list, "loadavg": os.getloadavg()}


def print_piper(p: dict) -> None:
    print("\nPiper (en_US-joe-medium), seed cold against bare_piper.py (piper-tts, whole text, one process | ffmpeg)")
    print(f"  {'':10} {'wall s':>8} {'x bare':>7} {'audio s':>8} {'cpu s':>7} {'largest MB':>11} {'tree MB':>8}")
    for k, r in p["seed"].items():
        print(f"  {k:10} {r['wall_s']:8.1f} {r['ratio']:7.2f} {r['audio_s']:8.1f} {r['cpu_s']:7.1f} {r['max_rss_mb']:11.1f} {r['tree_peak_mb']:8.1f}")
    for g in p["generated"]:
        print(f"  {g['words']:>7} words: {g['wall_s']:.0f} s wall, {g['audio_s'] / 60:.1f} min audio, {g['realtime']:.1f}x realtime, "
              f"{g['ms_per_word']:.1f} ms/word, largest {g['max_rss_mb']:.0f} MB, tree {g['tree_peak_mb']:.0f} MB")
    if len(p["generated"]) > 1:
        a, b = p["generated"][0], p["generated"][-1]
        print(f"  growth {a['words']} -> {b['words']} words: time per word x{b['ms_per_word'] / a['ms_per_word']:.2f} (1.0 = linear)")
    bare = p["seed"]["bare"]
    best = min((r for k, r in p["seed"].items() if k != "bare"), key=lambda r: r["ratio"])
    big = next((g for g in reversed(p["generated"]) if g["words"] >= 29000), None)
    largest = max([r["max_rss_mb"] for k, r in p["seed"].items() if k != "bare"] + [g["max_rss_mb"] for g in p["generated"]])
    print("Piper targets")
    print(f"  cold/bare      {best['ratio']:8.2f}x  (target <= {PIPER_TARGETS['cold/bare']:g})  {verdict(best['ratio'], PIPER_TARGETS['cold/bare'])}")
    if big:
        print(f"  realtime_30k   {big['realtime']:8.1f}x  (target >= {PIPER_TARGETS['realtime_30k']:g})  {verdict(big['realtime'], PIPER_TARGETS['realtime_30k'], True)}")
    print(f"  largest proc   {largest:6.0f} MB  (target <= bare {bare['max_rss_mb']:.0f} MB and < {PIPER_TARGETS['peak_rss_mb']:g})  "
          f"{'PASS' if largest <= bare['max_rss_mb'] and largest < PIPER_TARGETS['peak_rss_mb'] else 'FAIL'}")


def print_table(res: dict, out: Path) -> None:
    s = res["seed"]
    m = res["machine"]
    print(f"audiofic benchmark ({res['mode']}), git {res['git']}, {m['cpus']} CPUs, Python {m['python']}, "
          f"load {m['loadavg_before'][0]:.2f} -> {m['loadavg_after'][0]:.2f}; renders via {res['render_command']}")
    print(f"\nSeed text {s['text']} ({s['words']} words), median of {s['runs']} runs; warm edit: {s['edit']}")
    print(f"  {'':6} {'wall s':>8} {'(min-max)':>15} {'audio s':>8} {'largest proc MB':>16}")
    for k, label in (("bare", "bare"), ("cold", "cold"), ("prime", "prime"), ("warm", "warm")):
        w = s["wall_s"][k]
        print(f"  {label:6} {w['median']:8.2f} {'(' + format(w['min'], '.2f') + '-' + format(w['max'], '.2f') + ')':>15} "
              f"{s['audio_s'][k]:8.1f} {s['max_rss_mb'][k]['median']:16.1f}")
    bc = s["bare_check"]
    print(f"  bare output check: {bc['mp3_s']:.1f} s of MP3, {bc['words_per_minute']:.0f} words/min -> {'sane' if bc['sane'] else 'NOT SANE'}")
    print("  (bare = eSpeak NG whole text | ffmpeg, no pauses/header/stings; prime = cold render filling the cache)")
    print("\nGenerated works (cold, --no-cache); median wall over runs, memory = max over runs")
    print(f"  {'words':>7} {'runs':>4} {'wall s':>8} {'audio min':>9} {'realtime':>9} {'ms/word':>8} {'cpu s':>7} {'largest MB':>10} {'tree MB':>8}")
    for g in res["generated"]:
        print(f"  {g['words']:7d} {g['runs']:4d} {g['wall_s']['median']:8.1f} {g['audio_s'] / 60:9.1f} {g['realtime']:8.0f}x "
              f"{g['ms_per_word']:8.3f} {g['cpu_s']:7.1f} {g['max_rss_mb']:10.1f} {g['tree_peak_mb']:8.1f}")
    gr = res["growth"]
    print(f"  growth {gr['from_words']} -> {gr['to_words']} words: time per word x{gr['time_per_word_ratio']:.2f} "
          f"(1.0 = linear), largest-process memory x{gr['max_rss_ratio']:.2f}, tree memory x{gr['tree_peak_ratio']:.2f}")
    f = res["formats"]
    print(f"\nM4B against MP3: the seed's program ({f['audio_s']:.0f} s, {f['stretches']} stretches) encoded to each, "
          f"median of {f['runs']} runs; MP3 on {f['mp3_workers']} threads, M4B segments as many at once")
    print(f"  {'':5} {'wall s':>8} {'cpu s':>8}")
    for name in ("mp3", "m4b", "both"):
        print(f"  {name:5} {f['median'][name]['wall_s']:8.2f} {f['median'][name]['cpu_s']:8.2f}")
    print(f"  m4b/mp3: wall {f['ratio_m4b_mp3']['wall']:.2f}x, cpu {f['ratio_m4b_mp3']['cpu']:.2f}x; "
          f"both/mp3 wall {f['ratio_both_mp3_wall']:.2f}x")
    print("\nTargets")
    for name, t in res["targets"].items():
        value = t["value"]
        shown = f"{value:.0f}x" if name.startswith("realtime") else (f"{value:.0f} MB" if name.endswith("mb") else f"{value:.2f}x")
        print(f"  {name:14} {shown:>9}  (target {t['op']} {t['target']:g})  {t['verdict']}")
    print(f"\nJSON: {out.relative_to(ROOT)}  ({res['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
