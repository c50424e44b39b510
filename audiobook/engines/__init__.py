"""Speech engines: text + voice profile -> a mono 16-bit WAV file.

* `pyttsx3` (pyttsx3.py): the default engine (eSpeak NG on Linux).
* `piper` (piper.py): neural voices, with the optional extra `pip install 'audiofic[piper]'`.
* `test` (test.py): fast and deterministic (a tone per word), for tests of everything around speech.
* base.py: the interface, voice choice, clip checks and retries, chunking, WAV helpers;
  espeak.py: eSpeak NG itself (its library, and the phonemes it would say).

eSpeak is global to a process, so there is one engine per process: use `get_engine(name)`.
"""

from __future__ import annotations

import threading

from ..errors import VoiceError
from .base import (
    MAX_CHUNK_CHARS, PHONEME_BLOCK, RETRIES, SAMPLE_RATE, Engine, Voice, check_clip, chunk_text, count_words,
    LANGUAGE_ALIASES, duration_bounds, espeak_input, failed, join_wavs, plain_words, render, render_once, resolve_voice,
    write_wav,
)
from .pyttsx3 import Pyttsx3Engine
from .test import TestEngine

ENGINE_NAMES = ("pyttsx3", "piper", "test")

__all__ = [
    "ENGINE_NAMES", "MAX_CHUNK_CHARS", "PHONEME_BLOCK", "espeak_input", "plain_words", "RETRIES", "SAMPLE_RATE", "Engine", "Voice", "check_clip",
    "chunk_text", "count_words", "duration_bounds", "failed", "get_engine", "join_wavs", "render",
    "render_once", "resolve_voice", "write_wav", "Pyttsx3Engine", "TestEngine",
]

_ENGINES: dict[str, Engine] = {}
_FACTORY_LOCK = threading.Lock()


def get_engine(name: str = "pyttsx3") -> Engine:
    """The process's one engine of that name (created on first use)."""
    with _FACTORY_LOCK:
        if name not in _ENGINES:
            if name == "pyttsx3":
                _ENGINES[name] = Pyttsx3Engine()
            elif name == "piper":
                from .piper import PiperEngine   # imports piper-tts: only when asked for

                _ENGINES[name] = PiperEngine()
            elif name == "test":
                _ENGINES[name] = TestEngine()
            else:
                raise VoiceError(f"unknown speech engine {name!r}; available: {', '.join(ENGINE_NAMES)}")
        return _ENGINES[name]


def espeak_voice(profile) -> str:
    """The eSpeak NG voice whose phonemes the profile's engine says: pyttsx3's own voice
    (its explicit id, else its language), or a Piper model's phonemizer voice."""
    if profile.engine == "piper":
        from .piper import find_model, read_config

        return read_config(find_model(profile)).get("espeak", {}).get("voice", "en-us")
    if profile.voice:
        return profile.voice.split("+")[0]
    language = profile.language or "en"
    # (eSpeak NG knows some languages by another name: Mandarin is "cmn", never "zh")
    return LANGUAGE_ALIASES.get(language.strip().lower().replace("_", "-"), (language,))[0]
