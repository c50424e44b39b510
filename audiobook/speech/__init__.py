"""Speech text: what the engine is asked to say for a piece of fic text.

eSpeak NG reads many of fic's marks literally ("asterisk", "tilde", "slash", "less than
three"), so `to_speech` rewrites a segment's text into plain sayable prose:

- scene-break glyph lines (``~*~*~``, ``***``, ``oOo``) and silent roles say nothing;
- URLs become their site's name (``https://archiveofourown.org/works/1`` -> "Archive of
  Our Own"; an unknown site -> its host name, e.g. "example.org");
- ``A/N`` -> "Author's note", ``R&R`` -> "read and review", ``&`` -> "and";
- emoticons and hearts (``:)``, ``:D``, ``xD``, ``<3``, ``;)``, ``^_^``, emoji) are dropped;
- emphasis and decoration marks (``*word*``, ``_word_``, ``/word/``, ``/a few words/``,
  ``~``, ``#``, brackets) are dropped;
- a slash between two capitalised words (ships "Alec/Magnus", artists "Wicked/Idina
  Menzel") becomes "and"; between lower-case words ("his/her") it becomes "or";
  ``and/or`` -> "and or", ``24/7`` -> "twenty-four seven"; any other slash becomes a space;
- a dash or bullet starting a line (a signature's "-Alec") is dropped; a spaced dash or
  em dash inside a line becomes a comma (a pause); "1990–1995" -> "1990 to 1995";
- lines are joined with a space (a comma when the line has no closing punctuation and the
  next starts a new sentence);
- punctuation the engine pauses on stays as written (``...``, ``!!!``, ``?!``, ``,``, ``;``);
- numbers eSpeak misreads become words: dates (``9/30/21``, ``2012-02-15``, ``Feb. 15th``
  -> "September thirtieth, twenty twenty-one"), times (``3:05`` -> "three oh five",
  ``10:00`` -> "ten o'clock"), money (``$5.50`` -> "five dollars fifty"), fractions
  (``2/3`` -> "two thirds"), ordinals of round hundreds (``1000th``); see `numbers`;
- abbreviations are said in full without a period that would end the sentence (``Capt.``
  -> "Captain", ``St.`` -> "Saint" or "Street", ``etc.`` -> "etcetera"); see `abbreviations`.

The work's language (``language="fr"``) decides the words the rules add: "and", "or", "to"
and the number rules speak it (`language`, `numbers`); where we have no words for a
language, a conjunction becomes a pause and a label is dropped, and digits, dates and
abbreviations are left for the engine, which reads them in its own language. A non-English
work never hears an English word from these rules.

Lexicon (pronunciations, voices/lexicon.toml ``[words]`` plus a work's sidecar ``[lexicon]``):
whole words only; matching ignores case, but an entry whose spelling matches exactly wins
over one that matches only when case is ignored (so "Camille", "CAMILLE" and "camille" all
become "Kameel", and a lexicon may still tell "US" from "us"). The replacement is used as
written, or, for an entry that gives eSpeak NG phonemes (`{ phonemes = "'IdrIs" }`), as
`[[phonemes|Word]]` (see `lexicon`). Keys may be several words ("Magnus Bane"). One
compiled regex does all entries.

Modules: `marks` (scene breaks, URLs, emoticons, slashes, dashes, tidying), `numbers`
(dates, times, money, fractions, ordinals; the only user of num2words), `abbreviations`,
`language` (the rules' words per language), `lexicon`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..models import SILENT_ROLES, Song
from .abbreviations import expand_abbreviations
from .language import words as language_words
from .lexicon import Lexicon, _as_lexicon, load_lexicon
from .marks import (
    _AN, _DASH_PAUSE, _DROP, _HAS_WORD, _LINE_LEAD, _NUMBER_SIGN, _RANGE, _SPACES, _URL,
    _URL_HINT, _join_lines, _site_name, _tidy, ampersands, is_scene_break, slashes,
    strip_emoticons,
)
from .numbers import say_numbers

__all__ = [
    "Lexicon",
    "is_scene_break",
    "load_lexicon",
    "song_announcement",
    "strip_emoticons",
    "to_speech",
]


# --- the rewrite ------------------------------------------------------------------------


def to_speech(
    text: str,
    role: str = "narration",
    lexicon: Mapping[str, str] | Lexicon | None = None,
    *,
    language: str = "en",
    end_pause: bool = False,
) -> str:
    """What the engine should say for `text` (as written) in a segment of `role`, in a
    work written in `language` (a language tag: "en", "en-GB", "fr", ...). `end_pause`
    keeps a comma or semicolon ending the text: a piece of a sentence that goes on (a line
    of dialogue before its "she said").

    Silent roles (scene_break) say "". The result never holds marks eSpeak reads aloud
    (``*``, ``~``, ``/``, ``_``, ``<3``, ``#``); it is "" only when the text holds no
    words (an emoticon alone, a decoration line).
    """
    if role in SILENT_ROLES:
        return ""
    words = language_words(language)
    lines = [line for line in text.split("\n") if not is_scene_break(line)]
    s = base = "\n".join(lines)
    # Each rule runs only on a text holding its mark (a substring test costs ~nothing).
    if _URL_HINT.search(s):
        s = _URL.sub(_site_name, s)
    # Numbers before the marks: dates, times and fractions are made of slashes and colons.
    s = say_numbers(s, words, language)
    if words.english:
        s = expand_abbreviations(s)
    if "/" in s or "AN:" in s:
        s = _AN.sub(words.authors_note, s)
    s = strip_emoticons(s)
    s = ampersands(s, words)
    s = slashes(s, words)
    if role != "heading":
        s = _LINE_LEAD.sub("", s)          # a bullet or "1." leading a line; a heading's number is said
    if words.number and "#" in s:
        s = _NUMBER_SIGN.sub(words.number + " ", s)
    if "–" in s or "—" in s:
        s = _RANGE.sub(f" {words.to} " if words.to else ", ", s)
    if "-" in s or "–" in s or "—" in s:
        s = _DASH_PAUSE.sub(", ", s)
    s = _DROP.sub(" ", s)
    s = _SPACES.sub(" ", s)
    s = _join_lines(s)
    lex = _as_lexicon(lexicon)
    if lex:
        s = lex.apply(s)
    s = _tidy(s, end_pause)
    if not _HAS_WORD.search(s) and _HAS_WORD.search(strip_emoticons(base)):
        # Defensive: never silence words. Keep them, minus the marks eSpeak reads aloud.
        s = _tidy(_SPACES.sub(" ", _DROP.sub(" ", strip_emoticons(base).replace("\n", " "))))
    return s


def song_announcement(
    song: Song, lexicon: Mapping[str, str] | Lexicon | None = None, *, language: str = "en"
) -> str:
    """'Interlude: Like We Used To, by A Rocket To The Moon.' ('Interlude: Title.' without
    artist), in the work's language ("Interlude: Titre, de Artiste."); in a language we have
    no words for, 'Title, Artist.'"""
    words = language_words(language)
    title = song.title.strip()
    artist = song.artist.strip()
    line = f"{words.interlude}: {title}" if words.interlude else title
    if artist:
        joint = " " if title[-1:] in ".!?…" else ", "
        line += f"{joint}{words.by} {artist}" if words.by else f", {artist}"
    speech = to_speech(line, "song", lexicon, language=language)
    if speech and speech[-1] not in ".!?…":
        speech += "."
    return speech
