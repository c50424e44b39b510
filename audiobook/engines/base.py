"""Speech engines: the interface every engine has, and what all of them share.

Every engine has the same small interface (`Engine`): a name, a version string (part of the
clip cache key), the voices it has installed, `resolve(profile)` (a profile's language and
gender preference -> one concrete voice id) and `synthesize(text, profile, wav_path)`.

`render()` wraps `synthesize()` with the checks that make a clip trustworthy (it exists,
decodes, and lasts about as long as its words take at the profile's rate) and retries.
This module also holds voice choice, text chunking and WAV helpers; the engines live in
`pyttsx3.py` and `test.py` beside it, and `get_engine` (the package) makes them.
"""

from __future__ import annotations

import contextlib
import re
import wave
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineError, VoiceError
from ..models import Utterance, VoiceProfile

SAMPLE_RATE = 22050          # what eSpeak NG produces; the test engine matches it
MAX_CHUNK_CHARS = 1200       # longest text handed to the engine in one call
RETRIES = 2                  # a failed clip is tried 1 + RETRIES times

_WORD = re.compile(r"\w+")

# Lexicon entries that give phonemes reach the engine as `[[phonemes|fallback]]`: eSpeak NG's
# phoneme names (which Piper's phonemizer, eSpeak NG too, reads as well), then what an engine
# without eSpeak says instead, which is also what a transcript shows (the entry's respelling,
# else the word as written). Each engine turns the block into its own input.
PHONEME_BLOCK = re.compile(r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]")


def espeak_input(text: str) -> str:
    """`[[phonemes|fallback]]` -> `[[phonemes]]`, as eSpeak NG reads phoneme input."""
    return PHONEME_BLOCK.sub(lambda m: f"[[{m.group(1).strip()}]]", text) if "[[" in text else text


def plain_words(text: str) -> str:
    """`[[phonemes|fallback]]` -> `fallback` (the phonemes when there is none): words to show."""
    return PHONEME_BLOCK.sub(lambda m: (m.group(2) or m.group(1)).strip(), text) if "[[" in text else text



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
    workers: int | None = None   # worker processes when the caller does not say (None: one per core)
    # True when the engine cannot share a process with libespeak-ng (see espeak.loaded_here):
    # speak() then never runs it in a process that has loaded it.
    isolated: bool = False

    def set_threads(self, threads: int) -> None:
        """How many threads of its own the engine may use (it shares the cores with the
        engine's other worker processes). Engines without threads ignore it."""

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


# Language tags (as a work's metadata says them) that engines know by another name: eSpeak NG
# calls Mandarin "cmn" and Cantonese "yue", never "zh".
LANGUAGE_ALIASES = {
    "zh": ("cmn",), "zh-cn": ("cmn",), "zh-tw": ("cmn",), "zh-hans": ("cmn",), "zh-hant": ("cmn",),
    "zh-hk": ("yue",), "zh-yue": ("yue",), "iw": ("he",), "nb": ("no",),
}


def _by_language(voices: list[Voice], lang: str, gender: str | None) -> list[tuple[int, int, str, Voice]]:
    """The voices that speak `lang`, as (-match, -gender fits, id, voice): an exact match
    best, then a more general one ("en" for "en-gb"), then a more specific one."""
    scored = []
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
            gender_ok = int(bool(gender) and v.gender == gender)
            scored.append((-score, -gender_ok, v.id, v))
    return scored


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
    for wanted in (lang, *LANGUAGE_ALIASES.get(lang, ()), *LANGUAGE_ALIASES.get(lang.split("-")[0], ())):
        scored = _by_language(voices, wanted, profile.gender)
        if scored:
            break
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
    return len(_WORD.findall(plain_words(text)))


def duration_bounds(text: str, rate: int) -> tuple[float, float]:
    """Plausible (min, max) seconds for `text` spoken at `rate` words per minute.

    At least 40% of the nominal time (eSpeak runs about 25% faster than its nominal rate);
    at most three times a generous estimate (numbers and symbols expand into several words)
    plus five seconds."""
    rate = max(int(rate), 1)
    words = count_words(text)
    nominal = words * 60.0 / rate
    generous = max(words, len(re.sub(r"\s", "", plain_words(text))) / 3.0) * 60.0 / rate
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
