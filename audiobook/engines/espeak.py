"""eSpeak NG itself, through ctypes: finding the library, and the phonemes it would say.

Both real engines speak through eSpeak NG's phonemes: pyttsx3 drives libespeak-ng (from the
`espeakng-loader` wheel) and Piper's phonemizer is eSpeak NG too. So eSpeak's own
`espeak_TextToPhonemes` tells what a lexicon entry changes (`audiofic lexicon check`), and
eSpeak parses the `[[ ]]` phoneme input that lexicon entries may give.

`[[ ]]` input is a flag of espeak_Synth (espeakPHONEMES) that eSpeak keeps in a global until
the next Synth call: TextToPhonemes has no flags of its own, so `enable_phoneme_input` sends
an empty Synth with the flag first.

This is the only module that imports espeakng_loader.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
from pathlib import Path

from ..errors import EngineError

AUDIO_OUTPUT_SYNCHRONOUS = 2
espeakCHARS_UTF8 = 1
ESPEAK_PHONEMES = 0x100        # espeak_Synth flag: text within [[ ]] is phonemes
PHONEMES_IPA = 0x02            # espeak_TextToPhonemes: IPA rather than eSpeak's ASCII names
SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


_LOADED = False


def loaded_here() -> bool:
    """Whether this process has loaded libespeak-ng (pyttsx3's engine, lexicon check). It is
    loaded globally, and its symbols then stand in for those of the eSpeak NG that Piper's
    phonemizer links in (which crashes it): Piper speaks in another process then."""
    return _LOADED


def load_library() -> tuple[ctypes.CDLL, str, str | None]:
    """Load libespeak-ng globally so pyttsx3's own `LoadLibrary("libespeak-ng.so.1")` finds
    it. Order: $AUDIOFIC_ESPEAK_LIBRARY, the espeakng-loader wheel, the system library.
    Returns (library, its path, the data folder used or None)."""
    global _LOADED
    _LOADED = True
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



class _VoiceSpec(ctypes.Structure):
    """espeak_VOICE, for espeak_SetVoiceByProperties (a language such as "en-gb", which is
    no voice's name: eSpeak picks its best voice for it, as pyttsx3's voice choice does)."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


def set_voice(lib: ctypes.CDLL, voice: str) -> bool:
    """Choose eSpeak's voice by name ("en-us", "gmw/en-US"), else by language ("en-gb")."""
    if lib.espeak_SetVoiceByName(voice.encode()) == 0:
        return True
    spec = _VoiceSpec(None, voice.lower().replace("_", "-").encode(), None, 0, 0, 0, 0, 0, None)
    return lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) == 0


def declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Give the functions used here their C signatures (on any libespeak-ng, or on a library
    that links eSpeak NG in, as Piper's phonemizer does)."""
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetSynthCallback.argtypes = [SYNTH_CALLBACK]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByProperties.restype = ctypes.c_int
    lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_VoiceSpec)]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    return lib


def _silent(_wav, _count, _events) -> int:
    return 0


_SILENT = SYNTH_CALLBACK(_silent)      # kept alive for as long as eSpeak may call it


def enable_phoneme_input(lib: ctypes.CDLL) -> None:
    """Make eSpeak read `[[ ]]` as phonemes in what TextToPhonemes translates next: an empty
    Synth with espeakPHONEMES sets the flag (nothing is spoken). Only for a library that
    does not speak through a callback of its own (ours, or Piper's phonemizer)."""
    lib.espeak_SetSynthCallback(_SILENT)
    empty = b"\0"
    lib.espeak_Synth(empty, len(empty), 0, 1, 0, espeakCHARS_UTF8 | ESPEAK_PHONEMES, None, None)


def text_to_phonemes(lib: ctypes.CDLL, text: str, ipa: bool = False) -> str:
    """The phonemes eSpeak would say for `text` with its current voice, clause by clause,
    joined by spaces (eSpeak's ASCII names, or IPA)."""
    buf = ctypes.c_char_p(text.encode("utf-8"))
    out = []
    while buf.value:
        found = lib.espeak_TextToPhonemes(ctypes.byref(buf), espeakCHARS_UTF8, PHONEMES_IPA if ipa else 0)
        if found:
            out.append(found.decode("utf-8", "replace").strip())
    return " ".join(part for part in out if part)


class Phonemizer:
    """eSpeak NG's phonemes for texts in a voice (a language name such as "en-us"), in a
    library of our own: used by `audiofic lexicon check`, never while pyttsx3 speaks in the
    same process (eSpeak is one global engine; see `phonemes`)."""

    _lock = threading.Lock()
    _lib: ctypes.CDLL | None = None

    @classmethod
    def _library(cls) -> ctypes.CDLL:
        if cls._lib is None:
            lib, _path, data = load_library()
            declare(lib)
            if lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode() if data else None, 0) <= 0:
                raise EngineError("eSpeak NG did not start (espeak_Initialize failed)")
            enable_phoneme_input(lib)
            cls._lib = lib
        return cls._lib

    @classmethod
    def phonemes(cls, texts: list[str], voice: str) -> list[str]:
        with cls._lock:
            lib = cls._library()
            if not set_voice(lib, voice):
                raise EngineError(f"eSpeak NG has no voice for {voice!r}")
            return [text_to_phonemes(lib, text) for text in texts]


def _phonemes_here(texts: list[str], voice: str) -> list[str]:
    return Phonemizer.phonemes(texts, voice)


def phonemes(texts: list[str], voice: str) -> list[str]:
    """eSpeak NG's phonemes (its ASCII names) for each text, in `voice`.

    In a process whose pyttsx3 engine already drives eSpeak, starting eSpeak again would
    reset the engine under it: the work then goes to a fresh process."""
    from . import _ENGINES

    if "pyttsx3" not in _ENGINES:
        return _phonemes_here(texts, voice)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_phonemes_here, texts, voice).result()
