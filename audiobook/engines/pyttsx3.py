"""The pyttsx3 engine: on Linux it drives eSpeak NG, taken from the `espeakng-loader` wheel
so that a plain `pip install` is enough (else a system libespeak-ng, or the library named by
$AUDIOFIC_ESPEAK_LIBRARY). On macOS and Windows it uses pyttsx3's own drivers.

eSpeak is global to a process, so there is one engine per process: use `get_engine(name)`.
This is the only module that imports pyttsx3.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
import wave
from pathlib import Path

from ..errors import EngineError
from ..models import VoiceProfile
from .base import Engine, Voice, _installed_version, chunk_text, espeak_input, join_wavs, plain_words
from .espeak import ESPEAK_PHONEMES, load_library

ESPEAK_SEED = 20250101       # fixed seed for eSpeak's noise generator


class _FastPoll:
    """`time` for pyttsx3's driver module, with sleeps of at most a millisecond."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.001))


def _quiet(*_args, **_kwargs) -> None:
    """Stands in for print() inside pyttsx3's drivers (the espeak one prints on every save)."""


class _PhonemeInput:
    """pyttsx3's `_espeak` module for its eSpeak driver, with espeakPHONEMES on every Synth."""

    def __init__(self, espeak):
        self._espeak = espeak

    def __getattr__(self, name):
        return getattr(self._espeak, name)

    def Synth(self, text, *args, flags=0, **kwargs):  # noqa: N802 - the name pyttsx3 calls
        return self._espeak.Synth(text, *args, flags=flags | ESPEAK_PHONEMES, **kwargs)


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
            self._lib, lib_path, data = load_library()
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
            # It calls espeak_Synth without espeakPHONEMES, so eSpeak would read a lexicon
            # entry's [[phonemes]] as letters: add the flag to every call. Speech text never
            # holds [[ ]] otherwise (speech.marks drops brackets before the lexicon runs), so
            # other texts sound exactly as before.
            if self._lib is not None and hasattr(module, "_espeak"):
                module._espeak = _PhonemeInput(module._espeak)
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
        # Lexicon phonemes: eSpeak reads [[ ]] (see _PhonemeInput); the system voices of
        # macOS and Windows cannot, and say the entry's respelling or word instead.
        text = espeak_input(text) if self._lib is not None else plain_words(text)
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
