"""Speech engines: text + voice profile -> a mono 16-bit WAV file.

* `pyttsx3` (pyttsx3.py): the real engine (eSpeak NG on Linux).
* `test` (test.py): fast and deterministic (a tone per word), for tests of everything around speech.
* base.py: the interface, voice choice, clip checks and retries, chunking, WAV helpers.

eSpeak is global to a process, so there is one engine per process: use `get_engine(name)`.
"""

from __future__ import annotations

import threading

from ..errors import VoiceError
from .base import (
    MAX_CHUNK_CHARS, RETRIES, SAMPLE_RATE, Engine, Voice, check_clip, chunk_text, count_words,
    duration_bounds, failed, join_wavs, render, render_once, resolve_voice, write_wav,
)
from .pyttsx3 import Pyttsx3Engine
from .test import TestEngine

ENGINE_NAMES = ("pyttsx3", "test")

__all__ = [
    "ENGINE_NAMES", "MAX_CHUNK_CHARS", "RETRIES", "SAMPLE_RATE", "Engine", "Voice", "check_clip",
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
            elif name == "test":
                _ENGINES[name] = TestEngine()
            else:
                raise VoiceError(f"unknown speech engine {name!r}; available: {', '.join(ENGINE_NAMES)}")
        return _ENGINES[name]
