"""The test engine: fast and deterministic (a tone per word), for tests of everything
around speech."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from ..errors import EngineError
from ..models import VoiceProfile
from .base import _WORD, SAMPLE_RATE, Engine, Voice, plain_words, write_wav


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
            # A few other languages, so that tests of which voice reads a work in which
            # language need no eSpeak ("cmn", not "zh", as eSpeak NG names Mandarin).
            Voice("test/de", "Test German", ("de",), "male"),
            Voice("test/ru", "Test Russian", ("ru",), "male"),
            Voice("test/cmn", "Test Mandarin", ("cmn",), "male"),
            Voice("test/ar", "Test Arabic", ("ar",), "male"),
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
        words = _WORD.findall(plain_words(text)) or [""]
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
