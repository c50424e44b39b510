"""Independent readers for tests: ffprobe and ffmpeg's ebur128 (system binaries, not our code)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FFPROBE = shutil.which("ffprobe")
FFMPEG = shutil.which("ffmpeg")
# Skipped on a machine without them (install ffmpeg to run these); in CI they must run.
needs_ffprobe = pytest.mark.skipif(
    not (FFPROBE and FFMPEG) and not os.environ.get("CI"),
    reason="system ffprobe/ffmpeg (the independent reader) not installed: apt-get install ffmpeg",
)


def _require_readers() -> None:
    if not (FFPROBE and FFMPEG):
        if os.environ.get("CI"):
            pytest.fail("system ffprobe/ffmpeg missing: .ci/run installs them")
        pytest.skip("system ffprobe/ffmpeg (the independent reader) not installed: apt-get install ffmpeg")


def ffprobe(path: Path) -> dict:
    _require_readers()
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-show_chapters", "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    )
    return json.loads(out.stdout)


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated loudness LUFS, true peak dBTP) as ffmpeg's ebur128 filter measures them."""
    _require_readers()
    out = subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    summary = out[out.rindex("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return lufs, peak


def median_f0(samples, rate: int) -> float:
    """Median fundamental frequency (Hz) of the voiced frames of mono speech: autocorrelation
    over 40 ms frames every 10 ms, 60-400 Hz; a frame is voiced when it is loud (a tenth of
    the loudest frame's RMS or more) and periodic (normalised autocorrelation peak >= 0.5)."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64)
    frame, hop = int(0.04 * rate), int(0.01 * rate)
    lo, hi = int(rate / 400), int(rate / 60)
    frames = [x[i:i + frame] for i in range(0, len(x) - frame, hop)]
    rms = np.array([np.sqrt(np.mean(f * f)) for f in frames])
    found = []
    for f, r in zip(frames, rms):
        if r < 0.1 * rms.max():
            continue
        f = f - f.mean()
        ac = np.correlate(f, f, "full")[frame - 1:]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] >= 0.5:
            found.append(rate / lag)
    return float(np.median(found)) if found else 0.0
