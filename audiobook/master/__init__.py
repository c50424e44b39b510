"""Stage 6, master: a Program's samples -> loudness-normalised, limited, CBR MP3.

Loudness is measured here, in numpy, on the samples we already stream (ITU-R BS.1770-4
K-weighting and gating, as ffmpeg's ebur128 does), because ffmpeg's loudnorm filter
resamples to 192 kHz and is slow. K-weighting is applied in the frequency domain (numpy
alone: scipy.signal would add most of a second of start-up).
Limiting (numpy), resampling (soxr) and MP3 encoding (LAME, through lameenc) run in this
process, chunk by chunk, so memory does not grow with the length of the work. ffmpeg is
left to decode: the loudness sample's round trip, and songs (assemble.py).
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import wave
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RenderError
from ..paths import publish, sweep_stale_temps

OUTPUT_RATE = 44100         # Apple Podcasts' minimum; every phone plays it
MONO_TARGET_LUFS = -19.0    # same perceived level as -16 LUFS stereo
# Sample-peak ceiling of the limiter. Resampling and MP3 encoding overshoot by up to
# about 1 dB, so -2 dBFS here keeps the true peak of the written file at or below -1 dBTP.
LIMIT_DBFS = -2.0
ENCODE_VERSION = 4          # bump when encoding changes in a way cached stretches must not survive
LAME_QUALITY = 7            # LAME -q: 7 encodes speech about 2x faster than the default at the same bitrate


def ffmpeg_exe() -> str:
    """The ffmpeg binary: $AUDIOFIC_FFMPEG, else the one bundled by imageio-ffmpeg."""
    explicit = os.environ.get("AUDIOFIC_FFMPEG")
    if explicit:
        if not Path(explicit).is_file():
            raise RenderError("ffmpeg not found at $AUDIOFIC_FFMPEG; fix the path or unset it", explicit)
        return explicit
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # the wheel is missing or has no binary for this platform
        raise RenderError(f"ffmpeg is not available ({exc}); reinstall audiofic or set $AUDIOFIC_FFMPEG") from None


def _k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """BS.1770 pre-filter (high shelf) and RLB high-pass as biquads for any sample rate."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0])
    shelf_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return [(shelf_b, shelf_a), (hp_b, hp_a)]


@functools.lru_cache(maxsize=8)
def _k_power(rate: int, n: int) -> np.ndarray:
    """Weights turning |rfft(x)|^2 of an n-sample step into its K-weighted mean square."""
    z = np.exp(-1j * 2 * np.pi * np.fft.rfftfreq(n))          # z^-1 at each bin
    power = np.ones(z.size)
    for b, a in _k_weighting(rate):
        power *= np.abs((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)) ** 2
    power[1:(n + 1) // 2] *= 2                                 # the bins rfft folds away
    return power / (n * n)


class LoudnessMeter:
    """Integrated loudness (LUFS) of a mono stream fed in chunks of any size.

    The K-weighted mean square of each 100 ms step is taken in the frequency domain: one
    batched FFT per step weighted by the filter's power response (Parseval). The filter's
    impulse response (a few ms) is short against a step, so this matches time-domain
    filtering to a few hundredths of a LU, at a third of the cost.
    """

    def __init__(self, rate: int):
        self.rate = rate
        self.step = rate // 10                 # 100 ms: gating blocks are 4 steps, 75 % overlap
        self.weights = _k_power(rate, self.step)
        self.pending = np.zeros(0, dtype=np.float32)
        self.energies: list[np.ndarray] = []   # mean square per 100 ms step

    def feed(self, samples: np.ndarray) -> None:
        y = np.concatenate([self.pending, samples]) if self.pending.size else samples
        whole = (y.size // self.step) * self.step
        steps = y[:whole].reshape(-1, self.step)
        for i in range(0, len(steps), 100):   # 10 s at a time: small arrays stay in cache
            spectrum = np.fft.rfft(steps[i:i + 100], axis=1)
            self.energies.append(np.square(np.abs(spectrum)) @ self.weights)
        self.pending = np.array(y[whole:], dtype=np.float32)

    def steps(self) -> np.ndarray:
        """K-weighted mean square per 100 ms so far (a trailing part-step is padded out)."""
        if self.pending.size:
            self.feed(np.zeros(self.step - self.pending.size, dtype=np.float32))
        return np.concatenate(self.energies) if self.energies else np.zeros(0)

    def integrated(self) -> float:
        """Gated integrated loudness; -inf for silence."""
        return integrated(np.concatenate(self.energies) if self.energies else np.zeros(0))


def integrated(steps: np.ndarray) -> float:
    """BS.1770 gated loudness from 100 ms K-weighted mean squares (400 ms blocks, 75 % overlap)."""
    if steps.size < 4:
        return -math.inf
    blocks = np.convolve(steps, np.ones(4) / 4, mode="valid")
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(blocks)
    gated = blocks[loud > -70.0]
    if not gated.size:
        return -math.inf
    relative = -0.691 + 10 * np.log10(gated.mean()) - 10.0
    gated = blocks[(loud > -70.0) & (loud > relative)]
    return float(-0.691 + 10 * np.log10(gated.mean()))


def _wav_samples(path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(path), "rb") as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0, w.getframerate()
    except (OSError, EOFError, wave.Error) as exc:
        raise RenderError(f"clip is unreadable ({exc}); rerun with --no-cache", path) from None


def steps_path(clip: Path) -> Path:
    return clip.with_suffix(".loudness.npy")


def clip_steps(clip: Path, *, store: bool = True) -> np.ndarray:
    """A clip's 100 ms loudness steps: read from beside the clip, or measured (and stored).

    Speech workers store them as they make clips, so a render measures its loudness
    without reading every clip again; gating over a clip sequence's steps gives the
    loudness of the speech with the pauses left out (they would be gated away anyway).
    """
    stored = steps_path(clip)
    if stored.is_file() and stored.stat().st_mtime_ns >= clip.stat().st_mtime_ns:
        try:
            return np.load(stored, allow_pickle=False)
        except (OSError, ValueError):
            pass   # damaged: measure again
    samples, rate = _wav_samples(clip)
    meter = LoudnessMeter(rate)
    meter.feed(samples)
    steps = meter.steps().astype(np.float32)
    if store:
        tmp = stored.with_name(f".{stored.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.save(f, steps, allow_pickle=False)
            os.replace(tmp, stored)
        except OSError:
            pass   # a read-only cache only costs time
        finally:
            tmp.unlink(missing_ok=True)
    return steps


def speech_loudness(clips: Iterable[Path]) -> float:
    """Integrated loudness of clips said one after another."""
    parts = [clip_steps(c) for c in clips]
    return integrated(np.concatenate(parts)) if parts else -math.inf


def measure(chunks: Iterable[np.ndarray], rate: int) -> float:
    meter = LoudnessMeter(rate)
    for chunk in chunks:
        meter.feed(chunk)
    return meter.integrated()


def why_ffmpeg_failed(code: int, stderr: bytes) -> str:
    """One line on why ffmpeg stopped: its last message, else what killed it."""
    message = stderr.decode("utf-8", "replace").strip().splitlines()
    if message:
        return message[-1]
    if code < 0 and -code == getattr(signal, "SIGXFSZ", None):
        return "file size limit reached (SIGXFSZ); free some space or raise the limit (ulimit -f)"
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exit code {code}"


class Limiter:
    """Look-ahead peak limiter: no sample leaves above the ceiling, and the gain glides.

    The gain is set at the edges of short blocks (~1.5 ms), at or below what the blocks on
    either side need, and moves linearly in between, so every sample of a block is scaled
    by at most its block's need. Before a peak it ramps down over a few blocks (look-ahead:
    output lags input by that much, and flush() returns the rest); after one it rises back
    at `release_db_per_s`. The gain is worked out per block, in numpy (~0.1 ms a second of speech);
    samples pass untouched where it is 0 dB.
    """

    def __init__(self, rate: int, ceiling_db: float = LIMIT_DBFS, *, block_ms: float = 1.5,
                 lookahead_blocks: int = 2, attack_db: float = 6.0, release_db_per_s: float = 150.0):
        self.ceiling_db, self.ceiling = ceiling_db, 10 ** (ceiling_db / 20)
        self.block = max(1, round(rate * block_ms / 1000))
        self.ahead = lookahead_blocks
        self.attack = attack_db                                # dB a block, down towards a peak
        self.release = release_db_per_s * self.block / rate    # dB a block, back up after one
        self.ramp = np.arange(self.block, dtype=np.float32) / self.block
        self.held = np.zeros(self.block, dtype=np.float32)    # not yet output; starts with a silent block
        self.skip = self.block                                 # ... which is not output
        self.needs = np.zeros(0)                               # dB needed by the held whole blocks
        self.edge = 0.0                                        # gain at the next edge to output, dB
        self.since = 0.0                                       # release ramp at that edge, dB
        self.taken = self.given = 0

    def process(self, chunk: np.ndarray) -> np.ndarray:
        self.taken += chunk.size
        return self._run(np.concatenate([self.held, chunk]) if self.held.size else np.asarray(chunk, dtype=np.float32))

    def flush(self) -> np.ndarray:
        """The held-back samples, limited: output length equals input length."""
        owed = self.taken - self.given      # (before _run() counts what it gives)
        pad = np.zeros((-self.held.size) % self.block + self.block * self.ahead, dtype=np.float32)
        return self._run(np.concatenate([self.held, pad]))[:owed]

    def _run(self, x: np.ndarray) -> np.ndarray:
        b = self.block
        whole = x.size // b
        fresh = x[self.needs.size * b: whole * b].reshape(-1, b)
        peaks = np.abs(fresh).max(axis=1) if fresh.size else np.zeros(0, dtype=np.float32)
        need = np.zeros(peaks.size)
        over = peaks > self.ceiling
        need[over] = self.ceiling_db - 20 * np.log10(peaks[over])
        need = np.concatenate([self.needs, need])
        n = need.size - self.ahead                 # blocks whose closing edge is now known
        if n <= 0:
            self.held, self.needs = x, need
            return np.zeros(0, dtype=np.float32)
        # closing edge of block j: within what blocks j and j+1 need, ramping towards later peaks
        attack = need[:n]
        for d in range(1, self.ahead + 1):
            attack = np.minimum(attack, need[d:d + n] + self.attack * (d - 1))
        # release: at most `release` dB a block above what any earlier block needed
        rise = np.arange(n) * self.release
        since = np.minimum(np.minimum.accumulate(need[:n] - rise), self.since) + rise
        closing = np.minimum(np.minimum(attack, since), 0.0)
        edges = np.concatenate([[self.edge], closing])
        y = x[:n * b].reshape(-1, b)
        if edges.min() < 0:
            y = y.copy()
            gain = 10 ** (edges / 20)
            hit = np.flatnonzero((edges[:-1] < 0) | (edges[1:] < 0))
            y[hit] *= gain[hit, None] + (gain[hit + 1, None] - gain[hit, None]) * self.ramp
        self.edge, self.since = float(closing[-1]), float(since[-1] + self.release)
        self.held, self.needs = x[n * b:], need[n:]
        y = y.ravel()[self.skip:]
        self.skip = 0
        self.given += y.size
        return y


def _pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def mastered(chunks: Iterable[np.ndarray], rate: int, out_rate: int = OUTPUT_RATE) -> Iterator[np.ndarray]:
    """The samples as they are encoded: through the limiter, resampled to `out_rate` (soxr),
    chunk by chunk. The MP3 (44.1 kHz) and the M4B (at the program's rate) take them from here."""
    import soxr

    limiter = Limiter(rate)
    resampler = soxr.ResampleStream(rate, out_rate, 1, dtype="float32") if rate != out_rate else None
    for chunk in chunks:
        y = limiter.process(chunk)
        yield resampler.resample_chunk(y) if resampler else y
    y = limiter.flush()
    yield resampler.resample_chunk(y, last=True) if resampler else y


def encode_frames(chunks: Iterable[np.ndarray], rate: int, write: Callable[[bytes], object], *,
                  bitrate: int = 64, quality: int = LAME_QUALITY) -> int:
    """Limit, resample to 44.1 kHz and encode float32 mono samples to CBR MP3 frames, in this
    process: LAME (lameenc) and soxr release the GIL, so encoders run in threads side by side,
    without the start-up, pipes and thread hand-offs an ffmpeg process costs (~0.3 CPU-s for
    a chapter). Returns the number of 44.1 kHz samples encoded (the LAME tag's padding
    is worked out from it)."""
    import lameenc

    lame = lameenc.Encoder()
    lame.set_bit_rate(bitrate)
    lame.set_in_sample_rate(OUTPUT_RATE)
    lame.set_channels(1)
    lame.set_quality(quality)
    count = 0
    try:
        for y in mastered(chunks, rate):
            count += y.size
            write(lame.encode(_pcm16(y)))
        write(lame.flush())
        return count
    except RuntimeError as exc:   # lameenc's only error: LAME refused the settings or the data
        raise RenderError(f"the MP3 encoder failed ({exc}); rerun with the default --bitrate, or with --no-cache") from None


def _encode_file(chunks: Iterable[np.ndarray], rate: int, path: Path, episode: Path, *, bitrate: int, quality: int) -> int:
    """encode_frames() into the file `path` (returns the samples encoded); a failed write names `episode`."""
    try:
        with open(path, "wb") as f:
            return encode_frames(chunks, rate, f.write, bitrate=bitrate, quality=quality)
    except OSError as exc:
        raise RenderError(f"cannot write the episode ({exc.strerror or exc}); check free space", episode) from None


def encoded_lufs(sample: np.ndarray, rate: int, gain_db: float, bitrate: int = 64) -> float:
    """Loudness of `sample` after gain, the limiter and MP3 encoding, as a listener gets it.

    eSpeak's peaks sit near 0 dBFS, so the limiter takes off some loudness, and LAME at
    speech bitrates drops high-frequency energy that K-weighting counts: together about
    0.6 LU for the default voices. Round-tripping a sample through the real chain lets
    the gain make up for both; ffmpeg decodes it (a few hundredths of a second).
    """
    frames: list[bytes] = []
    encode_frames([sample * np.float32(10 ** (gain_db / 20))], rate, frames.append, bitrate=bitrate)
    cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "mp3", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "pipe:1"]
    try:
        result = subprocess.run(cmd, input=b"".join(frames), capture_output=True)
    except OSError as exc:
        raise RenderError(f"cannot run ffmpeg ({exc}); reinstall audiofic or set $AUDIOFIC_FFMPEG", cmd[0]) from None
    if result.returncode != 0:
        raise RenderError(f"ffmpeg could not decode the loudness sample: {why_ffmpeg_failed(result.returncode, result.stderr)}")
    return measure([np.frombuffer(result.stdout, dtype="<f4")], OUTPUT_RATE)


def encode(chunks: Iterable[np.ndarray], rate: int, out: Path, *, bitrate: int = 64, quality: int = LAME_QUALITY) -> None:
    """Float32 mono samples -> a 44.1 kHz mono CBR MP3 at `out` with an Info header, no ID3
    tag (tag.py writes ID3v2.3)."""
    part = out.with_name(f".{out.name}.frames")
    try:
        samples = _encode_file(chunks, rate, part, out, bitrate=bitrate, quality=quality)
        frames = _frames(part, bitrate)
        _join([_Part.measure(part, samples)], frames, bitrate, out, padding=frames * FRAME - LAME_DELAY - samples, quality=quality)
    finally:
        part.unlink(missing_ok=True)


def gain_for(lufs: float, target: float = MONO_TARGET_LUFS) -> float:
    """Gain (dB) that brings speech measured at `lufs` to the target; 0 for silence."""
    return 0.0 if not math.isfinite(lufs) else target - lufs


def speech_gain_db(
    speech_lufs: float,
    sample: np.ndarray,
    rate: int,
    *,
    bitrate: int = 64,
    target: float = MONO_TARGET_LUFS,
    cache: Path | None = None,
) -> float:
    """Gain for speech measured at `speech_lufs`, plus what limiting and encoding take off `sample`."""
    gain = gain_for(speech_lufs, target)
    if not math.isfinite(speech_lufs):
        return gain
    return gain + chain_loss_db(sample, rate, gain, bitrate=bitrate, cache=cache)


def chain_loss_db(sample: np.ndarray, rate: int, gain: float, *, bitrate: int = 64, cache: Path | None = None) -> float:
    """Loudness the limiter and the encoder take off `sample` at `gain` dB (0 if unmeasurable).

    Remembered in `cache` by the sample's content, gain and settings: a re-render whose
    sample did not change skips the round trip through the encoder.
    """
    if sample.size < rate or not math.isfinite(gain):
        return 0.0
    # keyed by the gain to 0.1 dB: the loss barely moves with it, and an edit elsewhere in
    # the work (which nudges the gain) still finds it
    digest = hashlib.sha256(f"{ENCODE_VERSION}|{rate}|{bitrate}|{gain:.1f}|".encode() + sample.tobytes()).hexdigest()
    stored = cache / f"{digest}.loss" if cache else None
    try:
        loss = float(stored.read_text()) if stored else math.nan
    except (OSError, ValueError):
        loss = math.nan
    if not math.isfinite(loss):
        loss = measure([sample], rate) + gain - encoded_lufs(sample, rate, gain, bitrate)
        if stored and math.isfinite(loss):
            with contextlib.suppress(OSError):
                stored.parent.mkdir(parents=True, exist_ok=True)
                tmp = stored.with_name(f".{stored.name}.{os.getpid()}.tmp")
                tmp.write_text(repr(loss))
                os.replace(tmp, stored)
    return max(0.0, loss) if math.isfinite(loss) else 0.0


# ---- encoding in stretches -------------------------------------------------------------

FRAME = 1152                 # samples per MPEG-1 Layer III frame
LAME_DELAY = 576             # LAME's encoder delay: silent samples it puts before the first input sample
DECODER_DELAY = 529          # the decoder's own delay (filterbank): decoders drop it as well
LAME_VERSION = b"LAME3.100"  # what lameenc bundles: the LAME tag's encoder string
MIN_FRAMES = 2


def lame_frames(samples: int) -> int:
    """Frames LAME (3.100, as lameenc bundles it) makes of `samples` 44.1 kHz samples: the
    delay, the samples and at least LAME_DELAY of padding (so padding is 576..1727 samples,
    more than the decoder delay a player trims from it)."""
    return -(-samples // FRAME) + 1


@dataclass(frozen=True)
class Stretch:
    """One stretch of the program to encode on its own (cut in a pause)."""

    start: int                                    # first sample, at the program rate
    length: int                                   # samples, at the program rate
    samples: Callable[[], Iterable[np.ndarray]]   # makes the stretch's samples when needed
    key: str | None = None                        # content hash; None: never cached


@dataclass(frozen=True)
class Timeline:
    """Where program samples land in the decoded file (each stretch starts on a frame).

    The LAME tag tells decoders to drop the first stretch's encoder delay and the last
    stretch's padding, so a decoder that honours it (ffmpeg, Apple's, ExoPlayer, foobar2000)
    gives exactly `samples` samples, the first program sample first. Every join inside
    keeps its stretch's padding and the next stretch's delay: a few tens of ms of silence in
    a pause, which `ms` accounts for.
    """

    rate: int
    starts: tuple[int, ...]       # stretch starts, program samples
    offsets: tuple[int, ...]      # stretch starts, decoded (44.1 kHz) samples
    frames: int                   # audio frames in the file (the Info frame not counted)
    padding: int = 0              # samples after the last stretch's, in its last frames (LAME tag)
    delay: int = LAME_DELAY       # samples before the first stretch's (LAME tag)

    @property
    def samples(self) -> int:
        """Samples a gapless decoder gives: the frames' samples less delay and padding."""
        return self.frames * FRAME - self.delay - self.padding

    def ms(self, sample: int) -> int:
        k = max(0, bisect.bisect_right(self.starts, sample) - 1)
        out = self.offsets[k] + (sample - self.starts[k]) * OUTPUT_RATE / self.rate
        return round(min(out, self.samples) * 1000 / OUTPUT_RATE)

    @property
    def duration_ms(self) -> int:
        return round(self.samples * 1000 / OUTPUT_RATE)


BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)   # MPEG-1 Layer III, kbit/s


def _frames(path: Path, bitrate: int) -> int:
    """Frames in a CBR MP3 without tags: its size over the (average) frame size."""
    return round(path.stat().st_size / (144 * bitrate * 1000 / OUTPUT_RATE))


class StretchEncoder:
    """Encodes stretches as they are handed in, in parallel (one LAME encoder per thread, reusing
    cached ones), then joins their frames into one file.

    MP3 frames of separately encoded streams join cleanly (each stream starts with an empty
    bit reservoir); every join adds the encoder's priming, a few ms inside a pause, which
    the Timeline from join() accounts for. The joined file gets one Info header.
    """

    def __init__(
        self,
        rate: int,
        scratch: Path,
        *,
        bitrate: int = 64,
        quality: int = LAME_QUALITY,
        cache: Path | None = None,
        workers: int = 1,
        progress: Callable[[int], None] | None = None,
        shared=None,
    ):
        self.rate, self.bitrate, self.quality, self.cache, self.progress = rate, bitrate, quality, cache, progress
        # The cache mirrors a store (shared.Mirror): a stretch missing here is looked for
        # there (fetch(paths)), and one encoded here is put there (share(paths)).
        self.shared = shared
        if cache is not None and cache.is_dir():
            sweep_stale_temps(cache)   # what killed renders left half-written
        self.scratch = scratch             # stretches that are not cached go here, in their own folder
        self._tmp: Path | None = None
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.jobs: list = []
        self.done = 0
        self.lock = threading.Lock()

    def __enter__(self) -> StretchEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def _tmp_dir(self) -> Path:
        with self.lock:
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="audiofic-encode-", dir=self.scratch))
            return self._tmp

    def submit(self, stretch: Stretch) -> None:
        self.jobs.append((stretch, self.pool.submit(self._encoded, len(self.jobs), stretch)))

    def _advance(self, n: int) -> None:
        with self.lock:
            self.done += n
            total = self.done
        if self.progress:
            self.progress(total)

    def _encoded(self, i: int, stretch: Stretch) -> _Part:
        final = self.cache / stretch.key[:2] / f"{stretch.key}.mp3" if self.cache and stretch.key else self._tmp_dir() / f"{i}.mp3"
        needed = math.ceil(stretch.length * OUTPUT_RATE / self.rate / FRAME)
        kept = self.cache and stretch.key
        if kept and self.shared is not None and not final.is_file():
            self.shared.fetch([final, final.with_suffix(".crc")])
        if final.is_file() and needed <= _frames(final, self.bitrate) <= needed + 4:
            cached = _Part.of(final)
            if cached is not None:
                self._advance(stretch.length)
                return cached
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        sent = 0

        def counted():
            nonlocal sent
            for chunk in stretch.samples():
                sent += chunk.size
                self._advance(chunk.size)
                yield chunk

        try:
            samples = _encode_file(counted(), self.rate, part, part, bitrate=self.bitrate, quality=self.quality)
            if sent != stretch.length:
                raise RenderError(f"a stretch produced {sent} samples instead of {stretch.length}; rerun with --no-cache")
            if self.cache and stretch.key and not final.exists():
                publish(part, final)    # a good entry is never replaced: another render may be reading it
            else:
                os.replace(part, final)  # (a damaged entry is)
        finally:
            part.unlink(missing_ok=True)
        measured = _Part.measure(final, samples, keep=bool(kept))
        if kept and self.shared is not None:
            self.shared.share([final, final.with_suffix(".crc")])
        return measured

    def join(self, out: Path) -> Timeline:
        """Wait for every stretch and write them, back to back, to `out`."""
        parts = [job.result() for _, job in self.jobs]
        frames = [_frames(p.path, self.bitrate) for p in parts]
        padding = frames[-1] * FRAME - LAME_DELAY - parts[-1].samples   # the last stretch's, after its samples
        _join(parts, sum(frames), self.bitrate, out, padding=padding, quality=self.quality)
        offsets = [0]
        for n in frames[:-1]:
            offsets.append(offsets[-1] + n * FRAME)
        return Timeline(rate=self.rate, starts=tuple(s.start for s, _ in self.jobs), offsets=tuple(offsets),
                        frames=sum(frames), padding=padding)


def encode_stretches(
    stretches: list[Stretch],
    rate: int,
    out: Path,
    *,
    bitrate: int = 64,
    quality: int = LAME_QUALITY,
    cache: Path | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Timeline:
    """Encode stretches in parallel (reusing cached ones), then join their frames into `out`."""
    with StretchEncoder(rate, out.parent, bitrate=bitrate, quality=quality, cache=cache, workers=workers, progress=progress) as encoder:
        for stretch in stretches:
            encoder.submit(stretch)
        return encoder.join(out)


# ---- joining: the stretches' frames behind one Info frame --------------------------------

def _crc16_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ 0xA001, table >> 1)
    return table.astype(np.uint16)


_CRC16 = _crc16_table()   # CRC-16/ARC, the LAME tag's checksum


def _crc16_bytes(data: bytes, crc: int = 0) -> int:
    for byte in data:
        crc = (crc >> 8) ^ int(_CRC16[(crc ^ byte) & 0xFF])
    return crc


def _crc16_step(crc: int, shift: tuple[int, ...]) -> int:
    """Apply a linear map of CRC states, given as the images of the 16 bits."""
    out = 0
    for bit, image in enumerate(shift):
        if crc >> bit & 1:
            out ^= image
    return out


@functools.lru_cache(maxsize=1)
def _zero_shifts() -> tuple[tuple[int, ...], ...]:
    """[k]: where each bit of a CRC state goes after 2**k zero bytes (squared from one byte)."""
    shifts = [tuple(_crc16_bytes(b"\0", 1 << bit) for bit in range(16))]
    for _ in range(40):
        shifts.append(tuple(_crc16_step(image, shifts[-1]) for image in shifts[-1]))
    return tuple(shifts)


def crc16_shift(crc: int, n: int) -> int:
    """The CRC state `crc` after n zero bytes, in log(n) steps. CRC-16/ARC is linear, so
    crc16(a + b) == crc16_shift(crc16(a), len(b)) ^ crc16(b)."""
    for shift in _zero_shifts():
        if not n:
            break
        if n & 1:
            crc = _crc16_step(crc, shift)
        n >>= 1
    return crc


@functools.lru_cache(maxsize=8)
def _crc_carry(block: int) -> tuple[list[int], list[int]]:
    """Where a CRC's low and high byte values land after `block` zero bytes."""
    images = np.array([crc16_shift(1 << bit, block) for bit in range(16)], dtype=np.uint16)
    values = np.arange(256)
    bits = (values[:, None] >> np.arange(8)) & 1
    low = np.bitwise_xor.reduce(np.where(bits, images[:8], 0), axis=1)
    high = np.bitwise_xor.reduce(np.where(bits, images[8:], 0), axis=1)
    return low.tolist(), high.tolist()


def crc16(data: bytes, crc: int = 0) -> int:
    """CRC-16/ARC of `data` continuing from `crc`, for megabytes in milliseconds: the CRC is
    linear, so blocks run side by side in numpy and are then folded together."""
    block = min(1024, max(64, 1 << (math.isqrt(len(data)) // 2).bit_length()))   # ~sqrt(n)/2: few numpy calls, few folds
    rows = np.frombuffer(data, dtype=np.uint8, count=len(data) // block * block).reshape(-1, block)
    crcs = np.zeros(len(rows), dtype=np.uint16)
    for column in rows.T:
        crcs = (crcs >> 8) ^ _CRC16[(crcs ^ column) & 0xFF]
    low, high = _crc_carry(block)
    for value in crcs.tolist():
        crc = low[crc & 0xFF] ^ high[crc >> 8] ^ value
    return _crc16_bytes(data[rows.size:], crc)


@dataclass(frozen=True)
class _Part:
    """An encoded stretch on disk, the CRC-16 of its bytes and the number of 44.1 kHz samples
    it encodes, taken in the worker (and kept beside a cached stretch as "size crc samples"),
    so the join only copies."""

    path: Path
    size: int
    crc: int
    samples: int

    @classmethod
    def of(cls, path: Path) -> _Part | None:
        """A cached stretch: what was kept beside it, or None when that is not known (its
        sample count cannot be read back from the frames: it is encoded again)."""
        with contextlib.suppress(OSError, ValueError):
            size, crc, samples = map(int, path.with_suffix(".crc").read_text().split())
            if size == path.stat().st_size:
                return cls(path, size, crc, samples)
        return None

    @classmethod
    def measure(cls, path: Path, samples: int, *, keep: bool = False) -> _Part:
        data = path.read_bytes()
        part = cls(path, len(data), crc16(data), samples)
        if keep:
            kept = path.with_suffix(".crc")
            with contextlib.suppress(OSError):   # a read-only cache only costs time
                tmp = kept.with_name(f".{kept.name}.{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(f"{part.size} {part.crc} {part.samples}")
                os.replace(tmp, kept)
        return part


def _frame_bytes(kbps: int, padded: bool = False) -> int:
    return 144 * kbps * 1000 // OUTPUT_RATE + padded


def _info_kbps(bitrate: int) -> int:
    """The Info frame's bitrate: the stream's, or the smallest whose frame holds the tag."""
    return next(b for b in BITRATES if b >= bitrate and _frame_bytes(b) >= 192)


def info_frame(first_header: bytes, frames: int, audio_bytes: int, music_crc: int, bitrate: int, *,
               delay: int = LAME_DELAY, padding: int = 0, quality: int = LAME_QUALITY) -> bytes:
    """The Xing "Info" frame of a CBR file with its LAME tag, as LAME writes it: frame and byte
    counts, a 100-point seek table, the quality, and the LAME tag (encoder string, CBR, the
    bitrate, the encoder delay and padding in 12 bits each, the sample rate, the music's length
    and CRC, and the tag's own CRC over every byte of the frame before it). Apps take the
    duration and seek points from it; gapless decoders drop `delay` samples at the start and
    `padding` at the end, so they give exactly the encoded samples."""
    if not (0 <= delay < 1 << 12 and 0 <= padding < 1 << 12):
        raise RenderError(f"encoder delay {delay} or padding {padding} does not fit the LAME tag; rerun with --no-cache")
    kbps = _info_kbps(bitrate)
    header = bytearray(first_header[:4])
    header[2] = (BITRATES.index(kbps) + 1) << 4 | (header[2] & 0x0C)   # bitrate index, rate; no padding
    header[3] &= 0xC0                                                   # channel mode only
    frame = bytearray(_frame_bytes(kbps))
    frame[:4] = header
    size = len(frame) + audio_bytes
    at = 4 + 17                                    # after the side information of a mono frame
    toc = bytes(min(255, 256 * (len(frame) + (i * frames // 100) * audio_bytes // max(1, frames)) // size) for i in range(100))
    scale = 100 - 10 * 4 - quality                 # LAME's quality indicator (its default VBR quality 4, -q)
    xing = b"Info" + (0x0F).to_bytes(4, "big") + frames.to_bytes(4, "big") + size.to_bytes(4, "big") + toc + scale.to_bytes(4, "big")
    frame[at:at + len(xing)] = xing
    lame = at + len(xing)
    frame[lame:lame + 9] = LAME_VERSION
    frame[lame + 9] = 0x01                         # tag revision 0, CBR
    frame[lame + 20] = min(255, bitrate)           # the (constant) bitrate, kbit/s
    frame[lame + 21:lame + 24] = (delay << 12 | padding).to_bytes(3, "big")
    frame[lame + 24] = 1 << 6                      # source sample rate 44.1 kHz; mono, no noise shaping
    frame[lame + 28:lame + 32] = size.to_bytes(4, "big")
    frame[lame + 32:lame + 34] = music_crc.to_bytes(2, "big")
    frame[lame + 34:lame + 36] = _crc16_bytes(bytes(frame[:lame + 34])).to_bytes(2, "big")
    return bytes(frame)


def _join(parts: list[_Part], frames: int, bitrate: int, out: Path, *, padding: int, quality: int = LAME_QUALITY) -> None:
    """The stretches' frames back to back behind one Info frame, written here: ffmpeg copying
    the same frames costs ~8 us a frame, a sixth of a warm re-render."""
    try:
        with open(out, "wb") as f:
            f.write(bytes(_frame_bytes(_info_kbps(bitrate))))   # the Info frame's place
            crc, first = 0, b""
            for part in parts:
                with open(part.path, "rb") as src:
                    if part is parts[0]:
                        first = src.read(4)
                        src.seek(0)
                    shutil.copyfileobj(src, f, 1 << 20)
                crc = crc16_shift(crc, part.size) ^ part.crc
            if len(first) < 4 or first[0] != 0xFF or first[1] & 0xE0 != 0xE0:
                raise RenderError("an encoded stretch does not start with an MP3 frame; rerun with --no-cache", parts[0].path)
            size = f.tell() - _frame_bytes(_info_kbps(bitrate))
            f.seek(0)
            f.write(info_frame(first, frames, size, crc, bitrate, padding=padding, quality=quality))
    except OSError as exc:
        raise RenderError(f"cannot write the episode ({exc.strerror or exc}); check free space", out) from None
