"""Speech text: what the engine is asked to say for a piece of fic text.

eSpeak NG reads many of fic's marks literally ("asterisk", "tilde", "slash", "less than
three"), so `to_speech` rewrites a segment's text into plain sayable prose:

- scene-break glyph lines (``~*~*~``, ``***``, ``oOo``) and silent roles say nothing;
- URLs become their site's name (``https://archiveofourown.org/works/1`` -> "Archive of
  Our Own"; an unknown site -> its host name, e.g. "example.org");
- ``A/N`` -> "Author's note", ``R&R`` -> "read and review", ``&`` -> "and";
- emoticons and hearts (``:)``, ``:D``, ``xD``, ``<3``, ``;)``, ``^_^``, emoji) are dropped;
- emphasis and decoration marks (``*word*``, ``_word_``, ``~``, ``#``, brackets) are dropped;
- a slash between two capitalised words (ships "Alec/Magnus", artists "Wicked/Idina
  Menzel") becomes "and"; between lower-case words ("his/her") it becomes "or";
  ``and/or`` -> "and or", ``24/7`` -> "twenty-four seven"; any other slash becomes a space;
- a dash or bullet starting a line (a signature's "-Alec") is dropped; a spaced dash or
  em dash inside a line becomes a comma (a pause); "1990–1995" -> "1990 to 1995";
- lines are joined with a space (a comma when the line has no closing punctuation and the
  next starts a new sentence);
- punctuation the engine pauses on stays as written (``...``, ``!!!``, ``?!``, ``,``, ``;``).

Lexicon (pronunciations, voices/lexicon.toml ``[words]`` plus a work's sidecar ``[lexicon]``):
whole words only; matching ignores case, but an entry whose spelling matches exactly wins
over one that matches only when case is ignored (so "Camille", "CAMILLE" and "camille" all
become "Kameel", and a lexicon may still tell "US" from "us"). The replacement is used as
written. Keys may be several words ("Magnus Bane"). One compiled regex does all entries.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping

from .errors import InputError
from .models import SILENT_ROLES, Song
from .paths import voices_dirs

__all__ = [
    "Lexicon",
    "SCENE_BREAK",
    "is_scene_break",
    "load_lexicon",
    "song_announcement",
    "strip_emoticons",
    "to_speech",
]

# --- scene breaks ---------------------------------------------------------------------

# A line made only of decoration: ~*~*~, ***, * * *, ---, ___, ===, ###, xXx, oOo, -oOo-, §.
_GLYPHS = r"~*\-_=#+•·◇◆○●§–—"
SCENE_BREAK = re.compile(
    rf"""^\s*(?:
        (?:[{_GLYPHS}]\s*){{3,}}                          # three or more glyphs
      | [#*§◇◆]                                           # one glyph alone
      | [{_GLYPHS}\s]*(?:(?:oOo|OoO|xXx|XxX)[{_GLYPHS}\s]*)+  # oOo / xXx (mixed case only)
    )\s*$""",
    re.VERBOSE,
)


def is_scene_break(line: str) -> bool:
    """Whether a (single) line is a scene-break decoration."""
    return bool(line) and "\n" not in line.strip() and SCENE_BREAK.match(line) is not None


# --- URLs -------------------------------------------------------------------------------

_SITES = {
    "archiveofourown.org": "Archive of Our Own",
    "ao3.org": "Archive of Our Own",
    "fanfiction.net": "FanFiction.net",
    "fictionpress.com": "FictionPress",
    "tumblr.com": "Tumblr",
    "youtube.com": "YouTube",
    "youtu.be": "YouTube",
    "twitter.com": "Twitter",
    "x.com": "X",
    "spotify.com": "Spotify",
    "wattpad.com": "Wattpad",
    "livejournal.com": "LiveJournal",
    "dreamwidth.org": "Dreamwidth",
    "instagram.com": "Instagram",
    "discord.gg": "Discord",
    "discord.com": "Discord",
    "patreon.com": "Patreon",
    "ko-fi.com": "Ko-fi",
    "pinterest.com": "Pinterest",
    "soundcloud.com": "SoundCloud",
}
_URL = re.compile(
    r"""(?:https?://|www\.)[^\s<>"'“”]+            # with a scheme or www.
      | \b(?:[a-z0-9-]+\.)+(?:com|org|net|io|be|gg|me|co|uk)/[^\s<>"'“”]*  # bare host/path
    """,
    re.VERBOSE | re.IGNORECASE,
)
_URL_TAIL = ".,;:!?)]}'\"”’"


def _site_name(match: re.Match[str]) -> str:
    url = match.group(0)
    tail = ""
    while url and url[-1] in _URL_TAIL:
        tail = url[-1] + tail
        url = url[:-1]
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url, flags=re.IGNORECASE)
    host = re.split(r"[/?#:]", host, maxsplit=1)[0].lower()
    if host.startswith("www."):
        host = host[4:]
    for site, name in _SITES.items():
        if host == site or host.endswith("." + site):
            return name + tail
    return (host or url) + tail


# --- emoticons and marks ---------------------------------------------------------------

_EMOTICON = re.compile(
    r"""
      (?<!\d)[:;=][-'^o]?[)(\]\[DPpO/\\|*3]+(?!\w)     # :) :-) :( ;) :D :P :/ :'( :3 :*
    | (?<!\w)[xX][dD]+(?!\w)                             # xD XD xDD
    | </?3+                                              # <3 </3 <333
    | \^_*\^ | (?<!\w)-_-(?!\w) | (?<!\w)T_T(?!\w) | >_< | >\.< | (?<!\w)[oO]\.[oO](?!\w)  # ^_^ -_- o.O
    """,
    re.VERBOSE,
)
# Emoji, dingbats, hearts, stars, arrows; joiners and variation selectors.
_SYMBOLS = re.compile(
    "[\u2190-\u21ff\u2300-\u23ff\u2500-\u27bf\u2900-\u297f\u2b00-\u2bff"
    "\U0001f000-\U0001faff\ufe0e\ufe0f\u200d\u20e3]"
)
_AN = re.compile(r"(?<![\w/])[Aa]\s?/\s?[Nn](?![\w/])|^(?=AN:)AN(?=:)", re.MULTILINE)
_RR = re.compile(r"(?<!\w)R\s?&\s?R(?!\w)")
_AMP = re.compile(r"\s*&(?:amp;)?\s*")
_SLASH_AND_OR = re.compile(r"(?<!\w)and/or(?!\w)", re.IGNORECASE)
_SLASH_247 = re.compile(r"(?<!\d)24\s?/\s?7(?!\d)")
_SLASH = re.compile(r"(?<=\w)\s*/\s*(?=\w)")
_LINE_LEAD = re.compile(r"^[ \t]*(?:[-–—~•·*>]+|\d{1,3}[.)](?=\s))[ \t]*", re.MULTILINE)
_NUMBER_SIGN = re.compile(r"#(?=\d)")
_RANGE = re.compile(r"(?<=\d)\s*[–—]\s*(?=\d)")
_DASH_PAUSE = re.compile(r"\s*(?:—|–|-{2,})\s*|\s+-\s+|(?<=\w)-(?=\s|$)")
_DROP = re.compile(r"[*~_<>|\\^{}\[\]=@#/]")
_SPACES = re.compile(r"[^\S\n]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[.,!?;:…)\]])")
_COMMAS = re.compile(r",(?:\s*,)+")
_COMMA_BEFORE_STOP = re.compile(r",\s*(?=[.!?;:…])")
_EMPTY_PARENS = re.compile(r"\(\s*[,.;:]?\s*\)")
_LEADING_JUNK = re.compile(r"^[\s,;:)\]]+")
_LINE_END_PAUSE = re.compile(r"[.!?,;:…][\"”’')\]]*$")
_TRAILING_COMMA = re.compile(r"[\s,;]+$")
_HAS_WORD = re.compile(r"[^\W_]")


def strip_emoticons(text: str) -> str:
    """Remove emoticons, hearts and emoji (what `to_speech` never says)."""
    return _SYMBOLS.sub("", _EMOTICON.sub(" ", text))


def _slash(match: re.Match[str]) -> str:
    text = match.string
    start, end = match.span()
    left = re.search(r"[\w'’.-]+$", text[max(0, start - 64):start])  # a bounded look back
    right = re.match(r"[\w'’.-]+", text[end:])
    lw = left.group(0) if left else ""
    rw = right.group(0) if right else ""
    if lw[:1].isdigit() and rw[:1].isdigit():
        return " "                       # dates and fractions: 12/05 -> "12 05"
    if lw[:1].isupper() or rw[:1].isupper() or lw[:1].isdigit() or rw[:1].isdigit():
        return " and "                   # ships and artists: Alec/Magnus, Wicked/Idina Menzel
    return " or "                        # his/her, he/him


def _join_lines(text: str) -> str:
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    out = [lines[0]]
    for line in lines[1:]:
        prev = out[-1]
        if _LINE_END_PAUSE.search(prev) or line[:1].islower():
            out.append(" " + line)
        else:
            out.append(", " + line)
    return "".join(out)


# --- lexicon ----------------------------------------------------------------------------


class Lexicon:
    """Whole-word pronunciations, compiled once into one regex (see the module notes)."""

    def __init__(self, words: Mapping[str, str] | None = None):
        self.words = {str(k).strip(): str(v) for k, v in (words or {}).items() if str(k).strip()}
        self._exact = dict(self.words)
        self._folded: dict[str, str] = {}
        for key, value in self.words.items():
            self._folded.setdefault(key.casefold(), value)
        # Single words are found by one generic word pattern and a dict lookup (fast for
        # thousands of entries); keys with spaces, apostrophes or hyphens become
        # alternatives tried first, longest first.
        special = sorted((k for k in self.words if not re.fullmatch(r"\w+", k)), key=len, reverse=True)
        alternatives = [rf"(?<!\w){re.escape(k)}(?!\w)" for k in special]
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


# --- the rewrite ------------------------------------------------------------------------


def to_speech(text: str, role: str = "narration", lexicon: Mapping[str, str] | Lexicon | None = None) -> str:
    """What the engine should say for `text` (as written) in a segment of `role`.

    Silent roles (scene_break) say "". The result never holds marks eSpeak reads aloud
    (``*``, ``~``, ``/``, ``_``, ``<3``, ``#``); it is "" only when the text holds no
    words (an emoticon alone, a decoration line).
    """
    if role in SILENT_ROLES:
        return ""
    lines = [line for line in text.split("\n") if not is_scene_break(line)]
    s = base = "\n".join(lines)
    s = _URL.sub(_site_name, s)
    s = _AN.sub("Author's note", s)
    s = _RR.sub("read and review", s)
    s = strip_emoticons(s)
    s = _AMP.sub(" and ", s)
    s = _SLASH_AND_OR.sub("and or", s)
    s = _SLASH_247.sub("twenty-four seven", s)
    s = _SLASH.sub(_slash, s)
    s = _LINE_LEAD.sub("", s)
    s = _NUMBER_SIGN.sub("number ", s)
    s = _RANGE.sub(" to ", s)
    s = _DASH_PAUSE.sub(", ", s)
    s = _DROP.sub(" ", s)
    s = _SPACES.sub(" ", s)
    s = _join_lines(s)
    lex = _as_lexicon(lexicon)
    if lex:
        s = lex.apply(s)
    s = _tidy(s)
    if not _HAS_WORD.search(s) and _HAS_WORD.search(strip_emoticons(base)):
        # Defensive: never silence words. Keep them, minus the marks eSpeak reads aloud.
        s = _tidy(_SPACES.sub(" ", _DROP.sub(" ", strip_emoticons(base).replace("\n", " "))))
    return s


def _tidy(s: str) -> str:
    s = _SPACES.sub(" ", s)
    s = _EMPTY_PARENS.sub("", s)
    s = _SPACE_BEFORE_PUNCT.sub("", s)
    s = _COMMAS.sub(",", s)
    s = _COMMA_BEFORE_STOP.sub("", s)
    s = _LEADING_JUNK.sub("", s)
    s = _SPACES.sub(" ", s).strip()
    s = _TRAILING_COMMA.sub("", s)
    return s if _HAS_WORD.search(s) else ""


def song_announcement(song: Song, lexicon: Mapping[str, str] | Lexicon | None = None) -> str:
    """'Interlude: Like We Used To, by A Rocket To The Moon.' ('Interlude: Title.' without artist)."""
    title = song.title.strip()
    artist = song.artist.strip()
    if artist:
        joint = " " if title[-1:] in ".!?…" else ", "
        line = f"Interlude: {title}{joint}by {artist}"
    else:
        line = f"Interlude: {title}"
    speech = to_speech(line, "song", lexicon)
    if speech and speech[-1] not in ".!?…":
        speech += "."
    return speech
