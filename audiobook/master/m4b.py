"""The audiobook file: AAC in MP4 (.m4b) with chapters, for Apple Books, BookPlayer and the like.

A work's M4B is encoded from the same stretches as its MP3 episodes, while they are made:
each stretch's samples go through the same limiter (mastered()), in play order, and after
each stretch comes the silence the MP3 has at that join (the stretch's LAME padding and the
next stretch's encoder delay), so the M4B plays on the MP3's timeline to the sample: the same
chapter times, transcript cues and duration. With --split chapters the parts follow one
another in one file.

AAC is encoded at the program's rate when that is 22.05 or 44.1 kHz (eSpeak and Piper speak
at 22.05 kHz: nothing is lost, and the encoder has half the samples to code), otherwise at
44.1 kHz from the MP3's resampled samples, by ffmpeg (the imageio-ffmpeg binary, its native
AAC encoder; the "fast" coder in quality mode costs about what LAME does, its default coder
~6x). One AAC stream is cut into segments of about a minute, encoded side by side (one ffmpeg
each, `workers` at a time): every segment starts PREROLL frames early on the stream's own
1024-sample frame grid, so from its first kept frame on it codes exactly what one long encode
would, and the kept frames splice into one stream (AAC frames carry no state between them).
Memory holds a few segments of samples, however long the work. The spliced stream is muxed to
MP4, its edit list set to drop the encoder's priming and padding (gapless: a decoder gives
exactly the samples), then muxed again with the chapters (a QuickTime chapter track, which
Apple's players read, and a Nero `chpl` box, which others read; ffmpeg's ipod muxer writes
both) and the moov box first. Tags and cover are tag.py's (mutagen).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
import subprocess
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import RenderError
from ..models import Chapter
from . import FRAME, LAME_DELAY, OUTPUT_RATE, Stretch, Timeline, ffmpeg_exe, lame_frames, mastered, why_ffmpeg_failed

M4B_VERSION = 1           # bump when the encoded audio changes in a way cached encodes must not survive
AAC_QUALITY = 1.0          # ffmpeg aac -q:a: about 60 kbit/s for mono speech at 22.05 kHz
AAC_RATES = (22050, 44100)
AAC_FRAME = 1024           # samples per AAC-LC frame; the encoder primes with one frame of silence
PRIMING = AAC_FRAME
PREROLL = 32               # frames a segment starts early, dropped: from then on it codes what one long
POSTROLL = 2               # encode does (all but a frame in hundreds byte for byte, the same SNR); frames
                           # it goes on after its last (the encoder looks ahead to choose windows), dropped
SEGMENT_SECONDS = (60, 120)   # audio a segment codes: a minute, or an eighth of the stream so far (up
                              # to 2 min): both cores busy on a chapter, fewer encoders on a long work,
                              # a few MB of samples in memory each
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


def adts_frames(data: bytes) -> list[bytes]:
    """The frames of an ADTS stream (each with its 7- or 9-byte header)."""
    frames, at = [], 0
    while at + 7 <= len(data):
        if data[at] != 0xFF or data[at + 1] & 0xF6 != 0xF0:
            raise ValueError(f"no ADTS frame at byte {at}")
        size = (data[at + 3] & 0x03) << 11 | data[at + 4] << 3 | data[at + 5] >> 5
        if size < 7 or at + size > len(data):
            raise ValueError(f"a cut ADTS frame at byte {at}")
        frames.append(data[at:at + size])
        at += size
    return frames


def _boxes(data: bytearray, start: int, end: int):
    """(type, payload start, end) of the MP4 boxes in data[start:end]."""
    while start + 8 <= end:
        size, kind, head = int.from_bytes(data[start:start + 4], "big"), bytes(data[start + 4:start + 8]), 8
        if size == 1:
            size, head = int.from_bytes(data[start + 8:start + 16], "big"), 16
        elif size == 0:
            size = end - start
        if size < head:
            raise ValueError(f"a broken {kind!r} box")
        yield kind, start + head, start + size
        start += size


def set_gapless(path: Path, samples: int, priming: int = PRIMING) -> None:
    """Make the sound track's edit list skip `priming` samples and play `samples` after them
    (and the track and movie durations say so), in place: only the moov box is read and
    written again, at its place, the same size. The file must come from ffmpeg's mp4 muxer
    with the movie timescale set to the sample rate: version 0 boxes, one edit."""
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        at, moov = 0, None
        while at + 8 <= size:
            f.seek(at)
            head = f.read(16)
            length, kind, skip = int.from_bytes(head[:4], "big"), head[4:8], 8
            if length == 1:
                length, skip = int.from_bytes(head[8:16], "big"), 16
            elif length == 0:
                length = size - at
            if length < skip:
                raise ValueError(f"a broken {kind!r} box")
            if kind == b"moov":
                moov = (at, length, skip)
                break
            at += length
        if moov is None:
            raise ValueError("no moov box")
        f.seek(moov[0])
        data = bytearray(f.read(moov[1]))
        found = False
        for kind, a, b in _boxes(data, moov[2], len(data)):
            if kind == b"mvhd" and data[a] == 0:
                data[a + 16:a + 20] = samples.to_bytes(4, "big")
            elif kind == b"trak":
                boxes = {k: (x, y) for k, x, y in _boxes(data, a, b)}
                media = {k: (x, y) for k, x, y in _boxes(data, *boxes[b"mdia"])}
                if data[media[b"hdlr"][0] + 8:media[b"hdlr"][0] + 12] != b"soun":
                    continue
                tkhd, edts = boxes[b"tkhd"][0], boxes.get(b"edts")
                elst = next(((x, y) for k, x, y in _boxes(data, *edts) if k == b"elst"), None) if edts else None
                if data[tkhd] != 0 or elst is None or elst[1] - elst[0] != 20 or data[elst[0]] != 0:
                    raise ValueError("not the one-edit sound track ffmpeg writes")
                data[tkhd + 20:tkhd + 24] = samples.to_bytes(4, "big")
                struct.pack_into(">IIIiI", data, elst[0], 0, 1, samples, priming, 0x00010000)
                found = True
        if not found:
            raise ValueError("no sound track")
        f.seek(moov[0])
        f.write(data)


class _Restart(Exception):
    """The stretches fed so far changed (a part was encoded again with another gain)."""


class Audiobook:
    """One M4B, encoded in threads of its own as stretches are handed in (in play order).

    `add(part, stretch, rate)` hands in a stretch of part `part` (parts in order, 0, 1, ...);
    `redo(part)` drops that part's stretches (its gain changed: they are handed in again), and
    starts the encode over if any of them was already encoded; `finish(chapters)` waits for
    the audio and writes the file. `timeline(part)` is where that part's samples land in the
    part's MP3 (and so, from where the part starts, in this file).
    """

    def __init__(self, out: Path, scratch: Path, *, name: Path | None = None, quality: float = AAC_QUALITY,
                 cache: Path | None = None, workers: int = 1):
        self.out = out                       # the file to write (a temporary name; render renames it)
        self.name = name or out              # what errors name
        self.scratch = scratch               # a folder of its own: close() removes it
        self.quality = quality
        self.cache = cache                   # encoded audio of whole works, by the stretches' keys
        self.workers = max(1, workers)       # segments encoded at once
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
        self.total = 0                       # samples in the stream so far
        self.audio = scratch / "audio.m4a"   # the encoded stream, without chapters
        self.thread: threading.Thread | None = None
        self.processes: set[subprocess.Popen] = set()

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
            if not self.audio.is_file():
                raise RenderError("nothing to put in the audiobook", self.name)
            audio = self.audio
            self._store(key)
        duration_ms = round(sum(self.part_samples.values()) * 1000 / self.aac_rate)
        if chapters:
            chapters = [*chapters[:-1], Chapter(chapters[-1].title, chapters[-1].start_ms, duration_ms)]
        meta = self.scratch / "chapters.txt"
        meta.write_text(ffmetadata(chapters), encoding="utf-8")
        self._ffmpeg(
            ["-i", str(audio), "-f", "ffmetadata", "-i", str(meta), "-map", "0:a", "-map_metadata", "1", "-map_chapters", "1",
             "-c", "copy", "-movie_timescale", str(self.aac_rate), "-movflags", "+faststart", "-brand", BRAND, "-f", "ipod",
             "-y", str(self.out)],
            "could not write the audiobook's chapters", encoding=False,
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
        for process in list(self.processes):
            with contextlib.suppress(OSError):
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
        if key is None:
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
        """Feed the stream, segment by segment, to encoders running side by side; splice
        their frames into one stream and mux it, gapless."""
        joined = self.scratch / "audio.aac"
        self.part_samples, self.total = {}, 0
        segments = _Segments(self, joined)
        try:
            self._feed(segments)
            segments.close()
        finally:
            segments.abandon()
        self._ffmpeg(["-f", "aac", "-i", str(joined), "-map", "0:a", "-c", "copy", "-movie_timescale", str(self.aac_rate),
                      "-f", "mp4", "-y", str(self.audio)], "could not mux the audiobook's audio")
        try:
            set_gapless(self.audio, self.total)
        except (OSError, ValueError, KeyError) as exc:
            raise RenderError(f"could not set the audiobook's edit list ({exc}); rerun with --no-cache", self.name) from None
        joined.unlink(missing_ok=True)

    def _feed(self, segments: _Segments) -> None:
        part, pending = None, 0   # the gap after the last stretch, written if its part goes on
        while (entry := self._next()) is not None:
            p, stretch = entry
            if p == part and pending:
                segments.write(np.zeros(pending, dtype=np.float32))
                self.part_samples[p] += pending
            part = p
            self.part_samples.setdefault(p, 0)
            count = 0
            for y in mastered(stretch.samples(), self.rate, self.aac_rate):
                if self.restart:
                    raise _Restart
                segments.write(y)
                count += y.size
            if count != self._out_samples(stretch.length, self.aac_rate):   # the timeline counts on it
                raise RenderError(f"a stretch gave {count} samples instead of {stretch.length}; rerun with --no-cache", self.name)
            self.part_samples[p] += count
            pending = self._gap(stretch, count)
        self.total = sum(self.part_samples.values())

    def _ffmpeg(self, args: list[str], what: str, data: bytes | None = None, *, encoding: bool = True) -> bytes:
        """Run ffmpeg; its output. While `encoding`, a stopped audiobook stops it (_Restart)."""
        if encoding and self.closed:
            raise _Restart
        cmd = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", *args]
        try:
            process = subprocess.Popen(cmd, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise RenderError(f"cannot run ffmpeg ({exc}); reinstall audiofic or set $AUDIOFIC_FFMPEG", cmd[0]) from None
        self.processes.add(process)
        try:
            out, err = process.communicate(data)
        finally:
            self.processes.discard(process)
        if encoding and self.closed:
            raise _Restart
        if process.returncode != 0:
            raise RenderError(f"{what}: {why_ffmpeg_failed(process.returncode, err)}; check free space", self.name)
        return out


class _Segments:
    """The stream cut into segments on its frame grid, each encoded by its own ffmpeg (a few at
    once), their frames spliced in order into `joined` (ADTS).

    Frame f of one long encode (its first, f = 0, is the encoder's priming) codes stream
    samples [(f - 2) * 1024, f * 1024) and plays out [(f - 1) * 1024, f * 1024). A segment that
    keeps frames [k0, k1) is given the stream from (k0 - PREROLL - 1) * 1024 (from 0 for the
    first) to (k1 + POSTROLL) * 1024 (to the end for the last): its frames k0 to k1 - 1 are then
    coded from the same samples, with the same look-ahead, after PREROLL frames in which the
    encoder's state settles, and come out as the long encode's: byte for byte but for a frame
    in hundreds, at the same SNR (tests/test_m4b.py checks it).
    """

    def __init__(self, book: Audiobook, joined: Path):
        self.book = book
        self.size = self._frames(SEGMENT_SECONDS[0])   # frames the open segment keeps
        self.first = 0                                  # first frame the open segment keeps
        self.start = 0                                  # its first stream sample
        self.buffer: list[np.ndarray] = []              # its samples so far (int16)
        self.buffered = 0
        self.pool = ThreadPoolExecutor(max_workers=book.workers, thread_name_prefix="audiofic-aac")
        self.pending: deque[tuple[Future, int, int]] = deque()   # (encode, frames to skip, frames to keep or -1: all)
        self.slots = threading.Semaphore(book.workers + 1)       # segments held in memory at once
        try:
            self.out = open(joined, "wb")
        except OSError as exc:
            raise RenderError(f"cannot write the audiobook ({exc.strerror or exc}); check free space", book.name) from None

    def write(self, samples: np.ndarray) -> None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
        end = (self.first + self.size + POSTROLL) * AAC_FRAME       # where the open segment's input ends
        while self.start + self.buffered + pcm.size >= end:
            take = end - self.start - self.buffered
            self.buffer.append(pcm[:take])
            self.buffered += take
            pcm = pcm[take:]
            self._submit(last=False)
            end = (self.first + self.size + POSTROLL) * AAC_FRAME
        if pcm.size:
            self.buffer.append(pcm)
            self.buffered += pcm.size

    def close(self) -> None:
        """The stream is complete: encode what is left, wait for every segment."""
        self._submit(last=True)
        while self.pending:
            self._drain(wait=True)
        self.out.close()

    def abandon(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.out.close()

    def _submit(self, *, last: bool) -> None:
        data = np.concatenate(self.buffer) if self.buffer else np.zeros(0, dtype="<i2")
        skip = 0 if self.first == 0 else PREROLL + 1
        keep = -1 if last else self.size
        self.slots.acquire()
        self.pending.append((self.pool.submit(self._encode, data.tobytes()), skip, keep))
        # the next segment starts PREROLL + 1 frames before the frames it keeps: it is given
        # the end of this one's samples again
        begun = self.start
        self.first += self.size
        self.start = (self.first - PREROLL - 1) * AAC_FRAME
        lo, hi = SEGMENT_SECONDS
        self.size = self._frames(min(hi, max(lo, self.first * AAC_FRAME / self.book.aac_rate / 8)))
        overlap = data[self.start - begun:].copy()    # (a view would keep the whole segment alive)
        self.buffer, self.buffered = [overlap], overlap.size
        while self.pending and self.pending[0][0].done():
            self._drain(wait=False)

    def _frames(self, seconds: float) -> int:
        return max(PREROLL + POSTROLL + 2, round(seconds * self.book.aac_rate / AAC_FRAME))

    def _encode(self, pcm: bytes) -> list[bytes]:
        try:
            book = self.book
            out = book._ffmpeg(
                ["-f", "s16le", "-ar", str(book.aac_rate), "-ac", "1", "-i", "pipe:0", "-c:a", "aac", "-aac_coder", "fast",
                 "-q:a", f"{book.quality:g}", "-f", "adts", "pipe:1"],
                "the AAC encoder (ffmpeg) failed", pcm,
            )
            try:
                return adts_frames(out)
            except ValueError as exc:
                raise RenderError(f"the AAC encoder (ffmpeg) wrote a broken stream ({exc}); rerun with --no-cache", book.name) from None
        finally:
            self.slots.release()

    def _drain(self, *, wait: bool) -> None:
        job, skip, keep = self.pending[0]
        frames = job.result() if wait or job.done() else None
        if frames is None:
            return
        self.pending.popleft()
        kept = frames[skip:] if keep < 0 else frames[skip:skip + keep]
        if keep >= 0 and len(kept) != keep:
            raise RenderError(f"the AAC encoder gave {len(frames)} frames for a segment, not {skip + keep + POSTROLL + 1}; "
                              "rerun with --no-cache", self.book.name)
        try:
            self.out.write(b"".join(kept))
        except OSError as exc:
            raise RenderError(f"cannot write the audiobook ({exc.strerror or exc}); check free space", self.book.name) from None
