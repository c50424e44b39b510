"""Lexicon: whole-word pronunciations (see the package docstring for the rules).

An entry says a word another way: a respelling (`Jace = "Jayce"`), or phonemes in eSpeak
NG's notation (`Idris = { phonemes = "'IdrIs" }`), read in the voice's own accent by eSpeak
and by Piper (whose phonemizer is eSpeak NG). Phonemes go into the speech as
`[[phonemes|Word]]` (engines.base.PHONEME_BLOCK), with the word as written: what a
transcript shows, and what an engine without eSpeak (macOS, Windows) says.

A respelling that gives eSpeak the same phonemes as the word changes nothing: `check` (the
command `audiofic lexicon check`) tells which entries change what the engine says.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..engines.base import espeak_input, plain_words
from ..errors import InputError
from ..paths import voices_dirs


MAX_LISTED_WORDS = 300
_POSSESSIVE = r"(?:['\u2019]s(?!\w))?"


def _possessive(phonemes: str) -> str:
    """The possessive's sound after a word's last phoneme (eSpeak NG's names): "I#z" after
    s, z, S, Z (and tS, dZ), "s" after the other voiceless consonants, else "z"."""
    last = phonemes.rstrip(" ',%=")[-1:]
    return "I#z" if last in ("s", "z", "S", "Z") else "s" if last in ("p", "t", "k", "f", "T") else "z"


class Lexicon:
    """Whole-word pronunciations, compiled once into one regex (see the module notes)."""

    def __init__(self, words: Mapping[str, str] | None = None):
        self.words = {str(k).strip(): str(v) for k, v in (words or {}).items() if str(k).strip()}
        self._exact = dict(self.words)
        self._folded: dict[str, str] = {}
        for key, value in self.words.items():
            self._folded.setdefault(key.casefold(), value)
        # Keys with spaces, apostrophes or hyphens are alternatives tried first, longest
        # first. Single words: a few hundred are one more alternative (a text is then
        # scanned, not every word looked up: 10x faster for a typical lexicon); more than
        # that, one generic word pattern and a dict lookup.
        special = sorted((k for k in self.words if not re.fullmatch(r"\w+", k)), key=len, reverse=True)
        single = sorted((k for k in self.words if re.fullmatch(r"\w+", k)), key=len, reverse=True)
        # A possessive ("Idris's") is matched with its word: phonemes must say it too.
        alternatives = [rf"(?<!\w){re.escape(k)}(?!\w){_POSSESSIVE}" for k in special]
        if len(single) <= MAX_LISTED_WORDS:
            alternatives.append(rf"(?<!\w)(?:{'|'.join(map(re.escape, single))})(?!\w){_POSSESSIVE}" if single else "(?!)")
        else:
            alternatives.append(rf"\w+{_POSSESSIVE}")
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE) if self.words else None

    def __bool__(self) -> bool:
        return bool(self.words)

    def _lookup(self, word: str) -> str | None:
        found = self._exact.get(word)
        return self._folded.get(word.casefold()) if found is None else found

    def _replace(self, match: re.Match[str]) -> str:
        word, suffix = match.group(0), ""
        found = self._lookup(word)
        if found is None and word[-2:] in ("'s", "\u2019s"):
            word, suffix = word[:-2], word[-2:]
            found = self._lookup(word)
        if found is None:
            return word + suffix
        if found.startswith("[[") and found.endswith("]]") and "|" not in found:
            # Phonemes, with the word as written to show. eSpeak would spell out an "'s"
            # after phonemes ("ess"): the possessive goes inside, as English says it.
            phonemes = found[2:-2] + (_possessive(found[2:-2]) if suffix else "")
            return f"[[{phonemes}|{word}{suffix}]]"
        return found + suffix

    def apply(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(self._replace, text)


def _as_lexicon(lexicon: Mapping[str, str] | Lexicon | None) -> Lexicon:
    if isinstance(lexicon, Lexicon):
        return lexicon
    return Lexicon(lexicon)


_PHONEMES_OK = re.compile(r"[^\[\]|]+")


def entries(table: Mapping[str, object], path: Path | str | None = None) -> dict[str, str]:
    """A TOML lexicon table -> word: replacement (a respelling, or `[[phonemes]]`).

    Raises InputError naming `path` for an entry that is neither a string nor a table
    holding `phonemes` alone."""
    out: dict[str, str] = {}
    for word, value in table.items():
        word = str(word)
        if isinstance(value, str):
            out[word] = value
            continue
        phonemes = value.get("phonemes") if isinstance(value, Mapping) and set(value) == {"phonemes"} else None
        if not isinstance(phonemes, str) or not _PHONEMES_OK.fullmatch(phonemes.strip()):
            raise InputError(
                f"lexicon entry {word!r}: write {word} = \"respelling\" or "
                f"{word} = {{ phonemes = \"eSpeak NG phonemes\" }} (no [, ] or | in them)",
                path,
            )
        out[word] = f"[[{phonemes.strip()}]]"
    return out


def load_lexicon(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """`[words]` of the first voices folder's lexicon.toml, then `extra` (a work's own
    entries) on top: an extra entry replaces a base entry spelled the same, ignoring case."""
    base: dict[str, str] = {}
    for folder in voices_dirs():
        path = folder / "lexicon.toml"
        if not path.is_file():
            continue
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"lexicon is not valid TOML ({exc}); fix it", path) from None
        words = raw.get("words", {})
        if not isinstance(words, dict):
            raise InputError("[words] must be a table of word = \"how to say it\"", path)
        base = entries(words, path)
        break
    if extra:
        overridden = {str(k).casefold() for k in extra}
        base = {k: v for k, v in base.items() if k.casefold() not in overridden}
        base.update({str(k): str(v) for k, v in extra.items()})
    return base


def lexicon_file() -> Path | None:
    """The lexicon.toml that load_lexicon reads (the first voices folder holding one)."""
    return next((folder / "lexicon.toml" for folder in voices_dirs() if (folder / "lexicon.toml").is_file()), None)


@dataclass(frozen=True)
class EntryCheck:
    """What one lexicon entry does to the phonemes the engine says."""

    word: str
    says: str          # the replacement as the engine gets it
    before: str        # eSpeak NG's phonemes for the word
    after: str         # ... and for the replacement
    shown: str         # the replacement as a transcript shows it

    @property
    def changes(self) -> bool:
        return self.before != self.after


def check(words: Mapping[str, str], phonemize: Callable[[list[str]], list[str]]) -> list[EntryCheck]:
    """For every entry: the word's phonemes, and those of what the lexicon makes of it.

    `phonemize(texts)` gives eSpeak NG's phonemes for each text in the engine's voice
    (engines.espeak.phonemes); `[[ ]]` in a text is read as phonemes, as the engines do."""
    lex = Lexicon(words)
    said = [espeak_input(lex.apply(word)) for word in lex.words]
    found = phonemize([*lex.words, *said])
    before, after = found[:len(said)], found[len(said):]
    return [
        EntryCheck(word, says, b, a, plain_words(lex.apply(word)))
        for word, says, b, a in zip(lex.words, said, before, after)
    ]


@dataclass(frozen=True)
class LexiconReport:
    profile: str
    engine: str
    espeak_voice: str
    files: list[str]
    checks: list[EntryCheck]


def check_work(work: Path | None = None, profile: str = "narrator", engine: str | None = None) -> LexiconReport:
    """`check` for the lexicon a work is read with (voices/lexicon.toml, plus the work's own
    [lexicon] when `work` is given), in the accent of the profile that reads it."""
    from ..engines import espeak_voice
    from ..engines.espeak import phonemes
    from ..errors import VoiceError
    from ..voices import for_engine, load_profiles, with_language

    meta = None
    language = None
    if work is not None:
        from ..read import read
        from .language import detect

        doc = read(work)
        meta = doc.meta
        # the language the work is read in, as render decides it: its metadata, else its script
        language = meta.language if "language" in meta.given else (detect(doc.text) or meta.language)
    profiles = with_language(for_engine(load_profiles(), engine), language)
    if profile not in profiles:
        raise VoiceError(f"unknown voice profile {profile!r}; profiles: {', '.join(sorted(profiles))}")
    chosen = profiles[profile]
    voice = espeak_voice(chosen)
    files = [str(path) for path in (lexicon_file(), meta.sidecar if meta and meta.lexicon else None) if path]
    words = load_lexicon(meta.lexicon if meta else None)
    return LexiconReport(profile, chosen.engine, voice, files, check(words, lambda texts: phonemes(texts, voice)))
