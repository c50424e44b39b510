"""Speech engines: text + voice profile -> a mono 16-bit WAV file.

Every engine has the same small interface (`Engine`): a name, a version string (part of the
clip cache key), the voices it has installed, `resolve(profile)` (a profile's language and
gender preference -> one concrete voice id) and `synthesize(text, profile, wav_path)`.

* `pyttsx3`: the real engine. On Linux it drives eSpeak NG, taken from the `espeakng-loader`
  wheel so that a plain `pip install` is enough (else a system libespeak-ng, or the library
  named by $AUDIOFIC_ESPEAK_LIBRARY). On macOS and Windows it uses pyttsx3's own drivers.
* `test`: fast and deterministic (a tone per word), for tests of everything around speech.

`render()` wraps `synthesize()` with the checks that make a clip trustworthy (it exists,
decodes, and lasts about as long as its words take at the profile's rate) and retries.

eSpeak is global to a process, so there is one engine per process: use `get_engine(name)`.
This is the only module that imports pyttsx3.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import re
import sys
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import EngineError, VoiceError
from .models import Utterance, VoiceProfile

SAMPLE_RATE = 22050          # what eSpeak NG produces; the test engine matches it
MAX_CHUNK_CHARS = 1200       # longest text handed to the engine in one call
ESPEAK_SEED = 20250101       # fixed seed for eSpeak's noise generator
RETRIES = 2                  # a failed clip is tried 1 + RETRIES times
ENGINE_NAMES = ("pyttsx3", "test")

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Voice:
    """An installed engine voice."""

    id: str
    name: str
    languages: tuple[str, ...] = ()
    gender: str | None = None    # "male" / "female" / None


class Engine:
    """What every engine provides. Subclasses set `name` and `version`."""

    name: str = ""
    version: str = ""
    # True when the engine's output depends on what it said before in the same process
    # (eSpeak NG keeps pitch-flutter and waveform phase in C statics that nothing resets):
    # speak() then gives every clip a fresh process so that a text always sounds the same.
    stateful: bool = False
    spoken: bool = False    # has this process's engine said anything yet (then it is not fresh)

    def voices(self) -> list[Voice]:
        raise NotImplementedError

    def resolve(self, profile: VoiceProfile) -> str:
        """The concrete voice id a profile speaks with. Raises VoiceError if none fits."""
        return resolve_voice(self.voices(), profile, variants=self._variants())

    def synthesize(self, text: str, profile: VoiceProfile, wav_path: Path) -> None:
        """Write `text` spoken with `profile` to `wav_path` (mono, 16-bit PCM WAV)."""
        raise NotImplementedError

    def _variants(self) -> tuple[str, ...]:
        """Voice modifiers that can follow a voice id after '+' (eSpeak's variants)."""
        return ()


# --------------------------------------------------------------------------- voice choice


def _norm_lang(lang: str) -> str:
    return lang.strip().lower().replace("_", "-")


def resolve_voice(voices: list[Voice], profile: VoiceProfile, variants: tuple[str, ...] = ()) -> str:
    """Pick a voice: an explicit id must exist; else best language match, then gender.

    Gender is a preference: when no voice of the wanted gender speaks the language and the
    engine has variants (eSpeak), the variant `f3` / `m3` gives the voice that gender.
    """
    by_id = {v.id.lower(): v for v in voices}
    if profile.voice:
        wanted = profile.voice.strip().lower()
        base, _, variant = wanted.partition("+")
        variant = variant or (profile.variant or "").lower()
        if base in by_id and (not variant or not variants or variant in variants):
            return by_id[base].id + (f"+{variant}" if variant else "")
        listing = ", ".join(sorted(v.id for v in voices)) or "none"
        raise VoiceError(
            f"profile {profile.name!r}: unknown voice {profile.voice!r}; installed voices: {listing}"
        )
    lang = _norm_lang(profile.language or "en")
    scored: list[tuple[int, int, str, Voice]] = []
    for v in voices:
        names = [_norm_lang(code) for code in v.languages]
        names.append(_norm_lang(v.id.rsplit("/", 1)[-1]))
        score = 0
        for code in names:
            if code == lang:
                score = max(score, 3)
            elif lang.startswith(code + "-"):
                score = max(score, 2)
            elif code.startswith(lang + "-"):
                score = max(score, 1)
        if score:
            gender_ok = int(bool(profile.gender) and v.gender == profile.gender)
            scored.append((-score, -gender_ok, v.id, v))
    if not scored:
        langs = sorted({_norm_lang(c) for v in voices for c in v.languages})
        raise VoiceError(
            f"profile {profile.name!r}: no installed voice speaks {profile.language!r}; "
            f"languages available: {', '.join(langs) or 'none'}"
        )
    scored.sort(key=lambda item: item[:3])
    best = scored[0][3]
    if profile.variant and profile.variant.lower() in variants:
        return f"{best.id}+{profile.variant.lower()}"     # a character's timbre
    if profile.gender and best.gender != profile.gender:
        variant = {"female": "f3", "male": "m3"}.get(profile.gender)
        if variant and variant in variants:
            return f"{best.id}+{variant}"
    return best.id


# --------------------------------------------------------------------------- text chunks

_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+|\n+")
_CLAUSE_END = re.compile(r"(?<=[,;:\u2014])\s+")


def chunk_text(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Split text into pieces of at most `limit` characters, at sentence ends if possible,
    else at clause punctuation, else at spaces, else anywhere. Joined, the pieces hold every
    word of the text in order."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[str] = []
    for sentence in _split_keep(text, _SENTENCE_END):
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        for clause in _split_keep(sentence, _CLAUSE_END):
            if len(clause) <= limit:
                pieces.append(clause)
                continue
            pieces.extend(_split_words(clause, limit))
    return _pack(pieces, limit)


def _pack(pieces: list[str], limit: int) -> list[str]:
    """Join pieces with spaces, greedily, into chunks of at most `limit` characters."""
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > limit:
            chunks.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def _split_keep(text: str, pattern: re.Pattern[str]) -> list[str]:
    out, start = [], 0
    for m in pattern.finditer(text):
        part = text[start : m.start()].strip()
        if part:
            out.append(part)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _split_words(text: str, limit: int) -> list[str]:
    # a "word" longer than a chunk is cut
    words = [word[i:i + limit] for word in text.split() for i in range(0, len(word), limit)]
    return _pack(words, limit)


# --------------------------------------------------------------------------- clip checks


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def duration_bounds(text: str, rate: int) -> tuple[float, float]:
    """Plausible (min, max) seconds for `text` spoken at `rate` words per minute.

    At least 40% of the nominal time (eSpeak runs about 25% faster than its nominal rate);
    at most three times a generous estimate (numbers and symbols expand into several words)
    plus five seconds."""
    rate = max(int(rate), 1)
    words = count_words(text)
    nominal = words * 60.0 / rate
    generous = max(words, len(re.sub(r"\s", "", text)) / 3.0) * 60.0 / rate
    return 0.4 * nominal, 3.0 * generous + 5.0


def check_clip(path: Path, text: str, rate: int) -> tuple[int, int]:
    """(duration_ms, sample_rate) of a WAV clip that is whole and plausible for its text.

    Raises EngineError if the file is missing, does not decode, is truncated, or lasts
    implausibly long or short for its words at `rate`."""
    try:
        size = path.stat().st_size
        with wave.open(str(path), "rb") as w:
            channels, width, rate_hz, frames = (
                w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            )
    except FileNotFoundError:
        raise EngineError("no audio file was written") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise EngineError(f"audio file does not decode ({exc})") from None
    if channels != 1 or width != 2 or rate_hz <= 0:
        raise EngineError(f"audio is not mono 16-bit PCM ({channels} ch, {8 * width} bit)")
    data = frames * channels * width
    if size < data + 44 or size > data + 44 + 4096:
        raise EngineError(f"audio file is truncated or damaged ({size} bytes for {frames} samples)")
    seconds = frames / rate_hz
    low, high = duration_bounds(text, rate)
    if not (low <= seconds <= high):
        raise EngineError(
            f"audio lasts {seconds:.1f} s, implausible for {count_words(text)} words at "
            f"{rate} wpm (expected {low:.1f}-{high:.1f} s)"
        )
    return round(seconds * 1000), rate_hz


def render_once(engine: Engine, utterance: Utterance, wav_path: Path) -> tuple[int, int]:
    """One attempt: synthesize to `wav_path` and check the clip. Returns (duration_ms,
    sample_rate); raises VoiceError for a profile problem, anything else for a bad clip
    (the file is then removed)."""
    try:
        if utterance.text.strip():
            engine.synthesize(utterance.text, utterance.profile, wav_path)
        else:
            write_wav(wav_path, b"\0\0" * (SAMPLE_RATE // 10), SAMPLE_RATE)
        return check_clip(wav_path, utterance.text, utterance.profile.rate)
    except BaseException:
        with contextlib.suppress(OSError):
            wav_path.unlink()
        raise


def failed(engine_name: str, utterance: Utterance, attempts: int, last: BaseException) -> EngineError:
    reason = last.message if isinstance(last, EngineError) else f"{type(last).__name__}: {last}"
    return EngineError(
        f"{utterance.label}: speech engine {engine_name!r} failed after {attempts} "
        f"attempt{'s' if attempts != 1 else ''}: {reason}"
    )


def render(engine: Engine, utterance: Utterance, wav_path: Path, retries: int = RETRIES) -> tuple[int, int]:
    """Synthesize one utterance to `wav_path`, check it, retry on failure.

    Returns (duration_ms, sample_rate). Raises EngineError naming the utterance's label
    after 1 + `retries` failed attempts; VoiceError (a profile problem) is not retried."""
    last: BaseException | None = None
    for _attempt in range(retries + 1):
        try:
            return render_once(engine, utterance, wav_path)
        except VoiceError:
            raise
        except Exception as exc:  # noqa: BLE001 - every engine failure gets a retry
            last = exc
    assert last is not None
    raise failed(engine.name, utterance, retries + 1, last)


# --------------------------------------------------------------------------- WAV helpers


def write_wav(path: Path, frames: bytes, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(frames)


def join_wavs(parts: list[Path], out: Path) -> None:
    """Concatenate mono 16-bit WAVs of one sample rate into `out`."""
    with wave.open(str(out), "wb") as dst:
        for i, part in enumerate(parts):
            with wave.open(str(part), "rb") as src:
                if i == 0:
                    dst.setnchannels(1)
                    dst.setsampwidth(2)
                    dst.setframerate(src.getframerate())
                elif src.getframerate() != dst.getframerate():
                    raise EngineError("engine changed sample rate between chunks")
                dst.writeframes(src.readframes(src.getnframes()))


# --------------------------------------------------------------------------- pyttsx3


class _FastPoll:
    """`time` for pyttsx3's driver module, with sleeps of at most a millisecond."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.001))


def _quiet(*_args, **_kwargs) -> None:
    """Stands in for print() inside pyttsx3's drivers (the espeak one prints on every save)."""


def _load_espeak() -> tuple[ctypes.CDLL, str, str | None]:
    """Load libespeak-ng globally so pyttsx3's own `LoadLibrary("libespeak-ng.so.1")` finds
    it. Order: $AUDIOFIC_ESPEAK_LIBRARY, the espeakng-loader wheel, the system library.
    Returns (library, its path, the data folder used or None)."""
    mode = getattr(ctypes, "RTLD_GLOBAL", 0)
    explicit = os.environ.get("AUDIOFIC_ESPEAK_LIBRARY")
    if explicit:
        try:
            return ctypes.CDLL(explicit, mode=mode), explicit, os.environ.get("ESPEAK_DATA_PATH")
        except OSError as exc:
            raise EngineError(f"AUDIOFIC_ESPEAK_LIBRARY={explicit}: cannot load it ({exc})") from None
    try:
        import espeakng_loader
    except ImportError:
        espeakng_loader = None
    if espeakng_loader is not None:
        folder = Path(espeakng_loader.get_library_path()).parent
        for name in ("libespeak-ng.so.1", "libespeak-ng.so"):
            if (folder / name).exists():
                data = str(Path(espeakng_loader.get_data_path()).parent)
                os.environ["ESPEAK_DATA_PATH"] = data   # the folder holding espeak-ng-data
                return ctypes.CDLL(str(folder / name), mode=mode), str(folder / name), data
    for name in ("libespeak-ng.so.1", ctypes.util.find_library("espeak-ng")):
        if name:
            with contextlib.suppress(OSError):
                return ctypes.CDLL(name, mode=mode), name, os.environ.get("ESPEAK_DATA_PATH")
    raise EngineError(
        "eSpeak NG not found: `pip install espeakng-loader`, install the espeak-ng package, "
        "or set AUDIOFIC_ESPEAK_LIBRARY to libespeak-ng's path"
    )


def _installed_version(module) -> str:
    """A package's version from its dist-info folder's name, beside it: importlib.metadata
    says the same but its import costs ~15 ms, a twentieth of a warm re-render."""
    name = module.__name__
    for info in Path(module.__file__).parent.parent.glob(f"{name}-*.dist-info"):
        return info.name[len(name) + 1:-len(".dist-info")]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


class Pyttsx3Engine(Engine):
    """pyttsx3, made reliable.

    pyttsx3 2.99's eSpeak driver returns from runAndWait() before eSpeak (which works in its
    own thread) has finished, and it collects samples with a quadratic `bytes +=` that
    crashes on very long texts. So: texts go to the engine in chunks of at most
    MAX_CHUNK_CHARS characters cut at sentence ends; after each chunk we wait for pyttsx3's
    'finished-utterance' event (with a timeout) and then until eSpeak is idle again; the
    chunk files are joined into one WAV."""

    name = "pyttsx3"
    stateful = True

    def __init__(self) -> None:
        self._lib: ctypes.CDLL | None = None
        self._seed = None
        lib_desc = ""
        if sys.platform.startswith("linux"):
            self._lib, lib_path, data = _load_espeak()
            self._lib.espeak_Info.restype = ctypes.c_char_p
            self._lib.espeak_Info.argtypes = [ctypes.c_void_p]
            self._lib.espeak_IsPlaying.restype = ctypes.c_int
            self._seed = getattr(self._lib, "espeak_ng_SetRandSeed", None)
            if self._seed is not None:
                self._seed.argtypes = [ctypes.c_long]
                self._seed.restype = None
            espeak_version = (self._lib.espeak_Info(None) or b"?").decode("ascii", "replace")
            lib_desc = f"; espeak-ng {espeak_version} ({lib_path})"
            self._data = data
        try:
            import pyttsx3
        except Exception as exc:  # noqa: BLE001 - an import-time RuntimeError when eSpeak is missing
            raise EngineError(f"cannot load pyttsx3: {exc}") from None
        pyttsx3_version = _installed_version(pyttsx3)
        driver = "espeak" if self._lib is not None else None
        try:
            self._tts = pyttsx3.init(driver)
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"cannot start the pyttsx3 speech engine: {exc}") from None
        self._driver = self._tts.driver_name
        # The library never prints: silence print() in the driver module.
        module = sys.modules.get(f"pyttsx3.drivers.{self._driver}")
        if module is not None:
            module.print = _quiet
            # Its run loop polls every 10 ms for the end of an utterance: on short
            # paragraphs that wait was a third of the time. Poll every millisecond.
            if hasattr(module, "time"):
                module.time = _FastPoll()
        self.version = f"pyttsx3 {pyttsx3_version} ({self._driver}){lib_desc}"
        self._done = threading.Event()
        self._completed = False
        self._tts.connect("finished-utterance", self._on_finished)
        if self._lib is not None:
            self._lib.espeak_GetParameter.restype = ctypes.c_int
            self._lib.espeak_GetParameter.argtypes = [ctypes.c_int, ctypes.c_int]
            # The driver has just queued rate 200 and volume 100 in eSpeak; if they are still
            # running when runAndWait() below calls stop(), the driver keeps a stale "stop"
            # flag that cancels the first real text. Let them finish first.
            with contextlib.suppress(EngineError):
                self._wait_params({"rate": 200, "volume": 100}, timeout=2.0)
        # pyttsx3 queues commands until its first run loop; run an empty one now so that
        # from here on setProperty() takes effect at once (no text is queued yet, so this
        # says nothing).
        self._tts.runAndWait()
        self._voice: str | None = None
        if self._lib is not None:
            # Flush what the driver queued while starting: a value nobody uses, then wait
            # for it (eSpeak's queue is in order, so everything before it is done too).
            self._tts.setProperty("rate", 161)
            self._wait_params({"rate": 161})
        self._voices: list[Voice] | None = None
        self._resolved: dict[VoiceProfile, str] = {}
        self._lock = threading.Lock()

    def _on_finished(self, name=None, completed=True, **_kw) -> None:
        self._completed = bool(completed)
        self._done.set()

    def _variants(self) -> tuple[str, ...]:
        if self._lib is None:
            return ()
        data = getattr(self, "_data", None)
        folder = Path(data) / "espeak-ng-data" / "voices" / "!v" if data else None
        if folder is not None and folder.is_dir():
            return tuple(sorted(p.name.lower() for p in folder.iterdir()))
        return ("f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7")

    def voices(self) -> list[Voice]:
        if self._voices is None:
            found = []
            for v in self._tts.getProperty("voices"):
                gender = (v.gender or "").lower() or None
                found.append(Voice(str(v.id), str(v.name or v.id), tuple(v.languages or ()), gender))
            self._voices = found
        return list(self._voices)

    def resolve(self, profile: VoiceProfile) -> str:
        if profile not in self._resolved:
            self._resolved[profile] = super().resolve(profile)
        return self._resolved[profile]

    def synthesize(self, text: str, profile: VoiceProfile, wav_path: Path) -> None:
        voice = self.resolve(profile)
        self.spoken = True
        chunks = chunk_text(text) or [text]
        wav_path = Path(wav_path)
        with self._lock:
            if len(chunks) == 1:
                self._say(chunks[0], voice, profile, wav_path)
                self._normalise(wav_path)
                return
            parts = [wav_path.with_name(f"{wav_path.name}.part{i}.wav") for i in range(len(chunks))]
            try:
                for chunk, part in zip(chunks, parts):
                    self._say(chunk, voice, profile, part)
                    self._normalise(part)
                join_wavs(parts, wav_path)
            finally:
                for part in parts:
                    with contextlib.suppress(OSError):
                        part.unlink()

    def _say(self, text: str, voice: str, profile: VoiceProfile, path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()
        tts = self._tts
        self._apply(voice, profile)
        # eSpeak NG seeds its noise generator from the clock: seed it per chunk so that a
        # text always sounds the same (parallel output equals sequential output).
        if self._seed is not None:
            self._seed(ESPEAK_SEED)
        self._done.clear()
        self._completed = False
        tts.save_to_file(text, str(path))
        tts.runAndWait()        # may return before eSpeak is done: wait for the event
        timeout = 30.0 + len(text) * 0.05
        finished = self._done.wait(timeout)
        if not finished:
            with contextlib.suppress(Exception):
                tts.stop()
        self._wait_idle(10.0)
        if not finished:
            raise EngineError(f"no speech after {timeout:.0f} s")
        if not self._completed:
            raise EngineError("speech was cancelled")
        if not path.exists():
            raise EngineError("the engine wrote no file")

    def _apply(self, voice: str, profile: VoiceProfile) -> None:
        """Set voice, rate, volume and pitch, and return only once eSpeak has applied them.

        eSpeak applies parameters asynchronously, through the queue its speech goes through,
        and espeak_IsPlaying() does not see queued commands, only a running one. pyttsx3's
        runAndWait() cancels whatever eSpeak is doing at that moment (which would cut the
        speech that follows). So a parameter is only sent when eSpeak's current value
        differs, and we wait until eSpeak reports the new value and is idle again."""
        tts = self._tts
        if voice != self._voice:
            tts.setProperty("voice", voice)     # synchronous in eSpeak
            self._voice = voice
        if self._lib is None:
            tts.setProperty("rate", int(profile.rate))
            tts.setProperty("volume", float(profile.volume))
            return
        wanted = {
            "rate": int(profile.rate),
            "volume": int(round(float(profile.volume) * 100, 2)),
            "pitch": int(profile.pitch),
        }
        for name, value in wanted.items():
            if self._current(name) != value:
                tts.setProperty(name, value if name != "volume" else value / 100)
        self._wait_params(wanted)

    _PARAMS = {"rate": 1, "volume": 2, "pitch": 3}   # espeak_PARAMETER values

    def _current(self, name: str) -> int:
        return int(self._lib.espeak_GetParameter(self._PARAMS[name], 1))

    def _wait_params(self, wanted: dict[str, int], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while any(self._current(n) != v for n, v in wanted.items()) or self._lib.espeak_IsPlaying():
            if time.monotonic() > deadline:
                raise EngineError("eSpeak did not apply the voice settings")
            time.sleep(0.0002)

    def _wait_idle(self, timeout: float) -> None:
        """Wait until eSpeak's own thread is done (the driver finishes its bookkeeping after
        the 'finished-utterance' event; starting the next chunk before would race it)."""
        if self._lib is None:
            return
        deadline = time.monotonic() + timeout
        while self._lib.espeak_IsPlaying() and time.monotonic() < deadline:
            time.sleep(0.0005)

    @staticmethod
    def _normalise(path: Path) -> None:
        """Make sure a driver's file is a mono 16-bit WAV (macOS writes AIFF)."""
        try:
            with wave.open(str(path), "rb") as w:
                if w.getnchannels() == 1 and w.getsampwidth() == 2:
                    return
        except (wave.Error, EOFError):
            pass
        import subprocess

        import imageio_ffmpeg

        tmp = path.with_name(path.name + ".conv.wav")
        result = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(path),
             "-ac", "1", "-c:a", "pcm_s16le", str(tmp)],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise EngineError(f"cannot convert the engine's audio: {result.stderr.strip()[:200]}")
        os.replace(tmp, path)


# --------------------------------------------------------------------------- test engine


class TestEngine(Engine):
    """Deterministic, fast, no eSpeak: one short tone per word.

    A word lasts exactly 60/rate seconds (80% tone, 20% silence); the tone's frequency comes
    from a stable hash of the word and the profile's pitch. `fault`, if set, is called with
    each text and may return "raise", "short", "missing" or "garbage" to simulate a broken
    engine (tests set it; it applies in the process that synthesizes)."""

    __test__ = False  # not a pytest class
    name = "test"
    version = "test-1"

    def __init__(self) -> None:
        self.fault: Callable[[str], str | None] | None = None
        self.calls = 0

    def voices(self) -> list[Voice]:
        return [
            Voice("test/en", "Test English", ("en-gb", "en"), "male"),
            Voice("test/en-us", "Test American", ("en-us",), "female"),
            Voice("test/fr", "Test French", ("fr-fr",), "male"),
        ]

    def synthesize(self, text: str, profile: VoiceProfile, wav_path: Path) -> None:
        import numpy as np

        self.calls += 1
        fault = self.fault(text) if self.fault else None
        if fault == "raise":
            raise EngineError("simulated engine failure")
        if fault == "missing":
            return
        if fault == "garbage":
            Path(wav_path).write_bytes(b"not a wav file at all")
            return
        voice = self.resolve(profile)
        words = _WORD.findall(text) or [""]
        if fault == "short":
            words = words[:1]
        per_word = round(SAMPLE_RATE * 60 / max(int(profile.rate), 1))
        tone = int(per_word * 0.8)
        t = np.arange(tone) / SAMPLE_RATE
        envelope = np.minimum(1.0, np.minimum(t, t[::-1]) * 200.0)
        amplitude = 0.3 * float(profile.volume) * 32767
        out = np.zeros(per_word * len(words), dtype=np.int16)
        for i, word in enumerate(words):
            if not word:
                continue
            h = int.from_bytes(hashlib.sha256(f"{voice}|{word.lower()}".encode()).digest()[:4], "big")
            freq = (120 + h % 240) * (0.5 + int(profile.pitch) / 100.0)
            wave_ = np.sin(2 * np.pi * freq * t) * envelope * amplitude
            out[i * per_word : i * per_word + tone] = np.round(wave_).astype(np.int16)
        write_wav(Path(wav_path), out.tobytes(), SAMPLE_RATE)


# --------------------------------------------------------------------------- factory

_ENGINES: dict[str, Engine] = {}
_FACTORY_LOCK = threading.Lock()


def get_engine(name: str = "pyttsx3") -> Engine:
    """The process's one engine of that name (created on first use)."""
    with _FACTORY_LOCK:
        if name not in _ENGINES:
            if name == "pyttsx3":
                _ENGINES[name] = Pyttsx3Engine()
            elif name == "test":
                _ENGINES[name] = TestEngine()
            else:
                raise VoiceError(f"unknown speech engine {name!r}; available: {', '.join(ENGINE_NAMES)}")
        return _ENGINES[name]
