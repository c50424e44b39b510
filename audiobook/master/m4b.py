"""The audiobook file: AAC in MP4 (.m4b) with chapters, for Apple Books, BookPlayer and the like.

A work's M4B is encoded from the same stretches as its MP3 episodes, while they are made:
each stretch's samples go through the same limiter (mastered()) and, in play order, into one
ffmpeg process (the imageio-ffmpeg binary, its native AAC encoder), so memory stays flat
however long the work is. After each stretch comes the silence the MP3 has at that join (the
stretch's LAME padding and the next stretch's encoder delay), so the M4B plays on the MP3's
timeline to the sample: the same chapter times, transcript cues and duration. With
--split chapters the parts follow one another in one file.

AAC is encoded at the program's rate when that is 22.05 or 44.1 kHz (eSpeak and Piper speak
at 22.05 kHz: nothing is lost, and the encoder has half the samples to code), otherwise at
44.1 kHz from the MP3's resampled samples. ffmpeg's AAC encoder with its "fast" coder in
quality mode (-q:a) costs about what LAME does (its default coder costs ~6x: bench/formats.py).
The encoded audio is muxed again with the chapters (a QuickTime chapter track, which Apple's
players read, and a Nero `chpl` box, which others read; ffmpeg's ipod muxer writes both) and
the moov box first (+faststart). Tags and cover are tag.py's (mutagen).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from ..errors import RenderError
from ..models import Chapter
from . import (
    FRAME,
    LAME_DELAY,
    OUTPUT_RATE,
    Stretch,
    Timeline,
    _pcm16,
    ffmpeg_exe,
    lame_frames,
    mastered,
    why_ffmpeg_failed,
)

M4B_VERSION = 1           # bump when the encoded audio changes in a way cached encodes must not survive
AAC_QUALITY = 1.0          # ffmpeg aac -q:a: about 60 kbit/s for mono speech at 22.05 kHz
AAC_RATES = (22050, 44100)
BRAND = "M4B "             # the audiobook brand (the ipod muxer's default is "M4A ")


def ffmetadata(chapters: list[Chapter]) -> str:
    """Chapters as ffmpeg's metadata file: `=`, `;`, `#`, `\\` and newlines escaped."""
    def escape(text: str) -> str:
        for c in "\\=;#\n":
            text = text.replace(c, "\\" + c)
        return text

    lines = [";FFMETADATA1"]
    for c in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={c.start_ms}", f"END={c.end_ms}", f"title={escape(c.title)}"]
    return "\n".join(lines) + "\n"


class _Restart(Exception):
    """The stretches fed so far changed (a part was encoded again with another gain)."""


class Audiobook:
    """One M4B, encoded in a thread of its own as stretches are handed in (in play order).

    `add(part, stretch)` hands in a stretch of part `part` (parts in order, 0, 1, ...);
    `redo(part)` drops that part's stretches (its gain changed: they are handed in again), and
    starts the encode over if any of them was already encoded; `finish(chapters)` waits for
    the audio and writes the file. `timeline(part)` is where that part's samples land in the
    part's MP3 (and so in its stretch of this file).
    """

    def __init__(self, out: Path, scratch: Path, *, name: Path | None = None, quality: float = AAC_QUALITY,
                 cache: Path | None = None):
        self.out = out                       # the file to write (a temporary name; render renames it)
        self.name = name or out              # what errors name
        self.scratch = scratch               # a folder of its own: close() removes it
        self.quality = quality
        self.cache = cache                   # encoded audio of whole works, by the stretches' keys
        self.entries: list[tuple[int, Stretch]] = []
        self.done = False                    # no more stretches will come
        self.cond = threading.Condition()
        self.restart = False
        self.closed = False
        self.fed = 0                         # entries the current encode has taken
        self.error: BaseException | None = None
        self.rate = 0                        # the program's rate
        self.aac_rate = 0
        self.part_samples: dict[int, int] = {}   # samples (at aac_rate) of each part, once encoded
        self.audio: Path | None = None
        self.thread: threading.Thread | None = None
        self.process: subprocess.Popen | None = None

    # ---- handing in ------------------------------------------------------------------

    def add(self, part: int, stretch: Stretch, rate: int) -> None:
        with self.cond:
            if self.thread is None:
                self.rate = rate
                self.aac_rate = rate if rate in AAC_RATES else OUTPUT_RATE
                self.thread = threading.Thread(target=self._run, name="audiofic-m4b", daemon=True)
                self.thread.start()
            elif rate != self.rate:
                raise RenderError(f"parts are laid out at different rates ({self.rate}, {rate} Hz); rerun with --no-cache", self.name)
            self.entries.append((part, stretch))
            self.cond.notify_all()

    def redo(self, part: int) -> None:
        with self.cond:
            first = next((i for i, (p, _) in enumerate(self.entries) if p == part), len(self.entries))
            del self.entries[first:]
            if self.fed > first:
                self.restart = True
            self.cond.notify_all()

    def timeline(self, part: int) -> Timeline:
        """Where the part's program samples land: as in its MP3, decoded gaplessly (the same
        joins, the same padding), in 44.1 kHz samples."""
        stretches = [s for p, s in self.entries if p == part]
        counts = [self._out_samples(s.length, OUTPUT_RATE) for s in stretches]
        frames = [lame_frames(n) for n in counts]
        offsets = [0]
        for f in frames[:-1]:
            offsets.append(offsets[-1] + f * FRAME)
        padding = frames[-1] * FRAME - LAME_DELAY - counts[-1] if counts else 0
        return Timeline(rate=self.rate, starts=tuple(s.start for s in stretches), offsets=tuple(offsets),
                        frames=sum(frames), padding=padding)

    def finish(self, chapters: list[Chapter]) -> int:
        """Wait for the encode (or take the same work's from the cache: the encode that ran
        meanwhile is stopped), then write the file with its chapters; its duration in ms."""
        with self.cond:
            self.done = True
            self.cond.notify_all()
        key = self._key()
        cached = self._cached(key)
        if cached is not None:
            self._stop()
            audio, self.part_samples = cached
        else:
            if self.thread is not None:
                self.thread.join()
            if self.error is not None:
                raise self.error
            if self.audio is None:
                raise RenderError("nothing to put in the audiobook", self.name)
            audio = self.audio
            self._store(key)
        total = sum(self.part_samples.values())
        duration_ms = round(total * 1000 / self.aac_rate)
        if chapters:
            chapters = [*chapters[:-1], Chapter(chapters[-1].title, chapters[-1].start_ms, duration_ms)]
        meta = self.scratch / "chapters.txt"
        meta.write_text(ffmetadata(chapters), encoding="utf-8")
        self._ffmpeg(
            ["-i", str(audio), "-f", "ffmetadata", "-i", str(meta), "-map", "0:a", "-map_metadata", "1",
             "-map_chapters", "1", "-c", "copy", "-movflags", "+faststart", "-brand", BRAND, "-f", "ipod", "-y", str(self.out)],
            "could not write the audiobook's chapters",
        )
        return duration_ms

    def close(self) -> None:
        """Stop encoding (if it still runs) and remove the scratch folder and all in it."""
        self._stop()
        shutil.rmtree(self.scratch, ignore_errors=True)   # the folder is the audiobook's own

    def _stop(self) -> None:
        with self.cond:
            self.done = self.restart = self.closed = True
            self.cond.notify_all()
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
        if self.thread is not None:
            self.thread.join()

    # ---- the cache: a re-render of the same work takes its encoded audio -------------------

    def _key(self) -> str | None:
        """What the encoded audio depends on: every stretch's content key (the MP3's, which
        holds the gain and settings), its place and the AAC settings; None if one has no key."""
        if self.cache is None or not self.entries or any(s.key is None for _, s in self.entries):
            return None
        digest = hashlib.sha256(f"{M4B_VERSION}|{self.quality:g}|{self.rate}|{self.aac_rate}".encode())
        for part, s in self.entries:
            digest.update(f"|{part}:{s.start}:{s.length}:{s.key}".encode())
        return digest.hexdigest()

    def _cached(self, key: str | None) -> tuple[Path, dict[int, int]] | None:
        if key is None:
            return None
        audio = self.cache / key[:2] / f"{key}.m4a"
        try:
            parts = json.loads(audio.with_suffix(".json").read_text(encoding="utf-8"))
            return (audio, {int(k): int(v) for k, v in parts.items()}) if audio.is_file() else None
        except (OSError, ValueError, AttributeError):
            return None

    def _store(self, key: str | None) -> None:
        if key is None or self.audio is None:
            return
        where = self.cache / key[:2]
        tag = f"{os.getpid()}.{threading.get_ident()}.tmp"
        with contextlib.suppress(OSError):   # a read-only or full cache only costs time
            where.mkdir(parents=True, exist_ok=True)
            for name, write in ((f"{key}.m4a", lambda tmp: shutil.copyfile(self.audio, tmp)),
                                (f"{key}.json", lambda tmp: tmp.write_text(json.dumps(self.part_samples), encoding="utf-8"))):
                tmp = where / f".{name}.{tag}"
                try:
                    write(tmp)
                    os.replace(tmp, where / name)
                finally:
                    tmp.unlink(missing_ok=True)

    # ---- the encoding thread ---------------------------------------------------------------

    def _out_samples(self, length: int, rate: int) -> int:
        """Samples a stretch of `length` program samples has at `rate` (soxr's stream gives
        exactly the ratio's share for 22.05 -> 44.1 kHz, and round() of it otherwise)."""
        return length if rate == self.rate else round(length * rate / self.rate)

    def _gap(self, stretch: Stretch, count: int) -> int:
        """The silence after a stretch inside a part, at aac_rate: its MP3 frames' samples
        less its own (the padding, and the next stretch's delay)."""
        n44 = count if self.aac_rate == OUTPUT_RATE else self._out_samples(stretch.length, OUTPUT_RATE)
        gap44 = lame_frames(n44) * FRAME - n44
        return gap44 if self.aac_rate == OUTPUT_RATE else gap44 * self.aac_rate // OUTPUT_RATE

    def _next(self) -> tuple[int, Stretch] | None:
        with self.cond:
            while not self.restart and self.fed >= len(self.entries) and not self.done:
                self.cond.wait()
            if self.restart:
                raise _Restart
            if self.fed >= len(self.entries):
                return None
            self.fed += 1
            return self.entries[self.fed - 1]

    def _run(self) -> None:
        try:
            while True:
                try:
                    self._encode()
                    return
                except _Restart:
                    with self.cond:
                        if self.closed:
                            return
                        self.restart, self.fed = False, 0
        except BaseException as exc:   # handed to finish(), in the render's thread
            self.error = exc

    def _encode(self) -> None:
        if self.audio is None:
            fd, name = tempfile.mkstemp(prefix=".audiofic-m4b-", suffix=".m4a", dir=self.scratch)
            os.close(fd)
            self.audio = Path(name)
        log = self.audio.with_suffix(".log")
        cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", str(self.aac_rate),
               "-ac", "1", "-i", "pipe:0", "-c:a", "aac", "-aac_coder", "fast", "-q:a", f"{self.quality:g}",
               "-f", "mp4", "-y", str(self.audio)]
        self.part_samples = {}
        broken = False
        with open(log, "wb") as errors:
            try:
                process = self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
            except OSError as exc:
                raise RenderError(f"cannot run ffmpeg ({exc}); reinstall audiofic or set $AUDIOFIC_FFMPEG", cmd[0]) from None
            try:
                try:
                    self._feed(process.stdin)
                finally:
                    with contextlib.suppress(OSError):
                        process.stdin.close()
            except _Restart:
                process.kill()
                process.wait()
                raise
            except BrokenPipeError:
                broken = True      # ffmpeg stopped reading: its exit code and last words say why
            code = process.wait()
            self.process = None
        if code != 0 or broken:
            try:
                why = why_ffmpeg_failed(code or 1, log.read_bytes())
            except OSError:
                why = f"exit code {code}"
            raise RenderError(f"the AAC encoder (ffmpeg) failed: {why}; check free space", self.name)

    def _feed(self, pipe) -> None:
        part, pending = None, 0   # the gap after the last stretch, written if its part goes on
        while (entry := self._next()) is not None:
            p, stretch = entry
            if p == part and pending:
                pipe.write(bytes(2 * pending))
                self.part_samples[p] += pending
            part = p
            self.part_samples.setdefault(p, 0)
            count = 0
            for y in mastered(stretch.samples(), self.rate, self.aac_rate):
                if self.restart:
                    raise _Restart
                pipe.write(_pcm16(y))
                count += y.size
            if count != self._out_samples(stretch.length, self.aac_rate):   # the timeline counts on it
                raise RenderError(f"a stretch gave {count} samples instead of {stretch.length}; rerun with --no-cache", self.name)
            self.part_samples[p] += count
            pending = self._gap(stretch, count)

    def _ffmpeg(self, args: list[str], what: str) -> None:
        cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", *args]
        try:
            result = subprocess.run(cmd, capture_output=True)
        except OSError as exc:
            raise RenderError(f"cannot run ffmpeg ({exc}); reinstall audiofic or set $AUDIOFIC_FFMPEG", cmd[0]) from None
        if result.returncode != 0:
            raise RenderError(f"{what}: {why_ffmpeg_failed(result.returncode, result.stderr)}; check free space", self.name)
