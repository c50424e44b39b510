"""Lexicon: whole-word pronunciations (see the package docstring for the rules)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping

from ..errors import InputError
from ..paths import voices_dirs


MAX_LISTED_WORDS = 300


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
        alternatives = [rf"(?<!\w){re.escape(k)}(?!\w)" for k in special]
        if len(single) <= MAX_LISTED_WORDS:
            alternatives.append(rf"(?<!\w)(?:{'|'.join(map(re.escape, single))})(?!\w)" if single else "(?!)")
        else:
            alternatives.append(r"\w+")
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE) if self.words else None

    def __bool__(self) -> bool:
        return bool(self.words)

    def _replace(self, match: re.Match[str]) -> str:
        word = match.group(0)
        found = self._exact.get(word)
        if found is None:
            found = self._folded.get(word.casefold())
        return word if found is None else found

    def apply(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(self._replace, text)


def _as_lexicon(lexicon: Mapping[str, str] | Lexicon | None) -> Lexicon:
    if isinstance(lexicon, Lexicon):
        return lexicon
    return Lexicon(lexicon)


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
        base = {str(k): str(v) for k, v in words.items()}
        break
    if extra:
        overridden = {str(k).casefold() for k in extra}
        base = {k: v for k, v in base.items() if k.casefold() not in overridden}
        base.update({str(k): str(v) for k, v in extra.items()})
    return base
