"""Marks: scene-break lines, URLs, emoticons, slashes, dashes and the final tidy-up.

The rules these patterns implement are listed in the package docstring (`audiobook.speech`).
"""

from __future__ import annotations

import re

from .language import Words

# --- scene breaks ---------------------------------------------------------------------

_SINGLE_GLYPHS = "#*§◇◆❖✦✧★☆※⁂•~+"
_KISSES = re.compile(r"(?i)^(?:x+o+)+x*$|^o+(?:x+o+)*x+$|^x{1,4}$|^o{1,3}$")
_BREAK_LETTERS = set("oOxX0")


def is_scene_break(line: str) -> bool:
    """A line that is only decoration: ~*~*~, ***, oooooooo, xXxXx, -o-o-o-, <><><>, ===,
    +++, a centred §, a row of emoji. Never a word, a sign-off ("xoxo", "xxx") or a face."""
    s = "".join(line.split())
    if not s or "\n" in line.strip() or len(s) > 80:
        return False
    letters = [ch for ch in s if ch.isalnum()]
    if not letters:
        if any(ch in "\"“”'‘’" for ch in s):
            return False                                  # "..." said aloud is a silence, not a break
        if len(s) == 1:
            return s in _SINGLE_GLYPHS or s in ".…"       # FanFiction.net's spacer paragraph: "."
        if re.fullmatch(r"[:;=xX]-?[)(DPp3/\\|*]|</?3+|[!?]+", s):
            return False                                  # a face, a heart, !!!
        return True
    if not set(letters) <= _BREAK_LETTERS:
        return False
    if len(letters) == len(s):                            # letters alone: a pattern, not a word
        if _KISSES.match(s) and not (any(c.isupper() for c in s) and any(c.islower() for c in s)):
            return False
        return len(s) >= 3 and (len(set(s)) > 1 or len(s) >= 4)
    return len(letters) >= 1 and len(s) >= 3


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
# A host's labels are bounded (63 characters, 10 labels): unbounded, a run like "1.1.1.1..."
# or "a-a-a-..." was scanned to its end from each of its word starts (16 KB: 8 s).
_URL = re.compile(
    r"""(?:https?://|www\.)[^\s<>"'“”]+            # with a scheme or www.
      | \b(?:[a-z0-9-]{1,63}\.){1,10}(?:com|org|net|io|be|gg|me|co|uk)/[^\s<>"'“”]*  # bare host/path
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

# One character class first, then each face checks (looking back) which character began it:
# the regex engine then skips at once over every character that cannot begin a face. The
# same faces as alternatives that begin with a look-behind were tried at every character
# of the text: ten times slower, the largest cost of `to_speech`.
_EMOTICON = re.compile(
    r"""[:;=xX<^T>oO-]
    (?:
        (?<=[:;=])(?<!\d[:;=])[-'^o]?[)(\]\[DPpO/\\|*3]+(?!\w)  # :) :-) :( ;) :D :P :/ :'( :3 :*
      | (?<=[xX])(?<!\w[xX])[dD]+(?!\w)                        # xD XD xDD
      | (?<=<)/?3+                                             # <3 </3 <333
      | (?<=\^)_*\^                                            # ^_^
      | (?<=-)(?<!\w-)_-(?!\w)                                 # -_-
      | (?<=T)(?<!\wT)_T(?!\w)                                 # T_T
      | (?<=>)_< | (?<=>)\.<                                   # >_< >.<
      | (?<=[oO])(?<!\w[oO])\.[oO](?!\w)                       # o.O
    )""",
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
# Emphasis between slashes: "I /was/ there", "/so very/ tired". The opening slash follows the
# start, a space or opening punctuation and touches a letter; the closing one touches the
# last word and is followed by a space, punctuation or the end. Ships ("Alec/Magnus"),
# "his/her", "24/7", dates and fractions have a word or digit before their slash; "Alec /
# Magnus" has a space after it. At most six words, no line break: a stray slash never
# swallows a paragraph.
_SLASH_EMPHASIS = re.compile(
    r"(?:^|(?<=[\s(\[{\"'“‘«*_~—–-]))/(?P<words>[^\W\d_][\w'’-]*(?:[ ][\w'’-]+){0,5})/"
    r"(?=[\s.,!?;:…)\]}\"'”’»*_~—–-]|$)",
    re.MULTILINE,
)
_LINE_LEAD = re.compile(r"^[ \t]*(?:[-–—~•·*>]+|\d{1,3}[.)](?=\s))[ \t]*", re.MULTILINE)
_NUMBER_SIGN = re.compile(r"#(?=\d)")
_RANGE = re.compile(r"(?<=\d)\s*[–—]\s*(?=\d)")
_DASH_PAUSE = re.compile(r"\s*(?:—|–|-{2,})\s*|\s+-\s+|(?<=\w)-(?=\s|$)")
_DROP = re.compile(r"[*~_<>|\\^{}\[\]=@#/]")
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S \n]")  # runs of spaces, tabs...: one space (a lone " " stays)
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[.,!?;:…)\]])")
_COMMAS = re.compile(r",(?:\s*,)+")
_COMMA_BEFORE_STOP = re.compile(r",\s*(?=[.!?;:…])")
_EMPTY_PARENS = re.compile(r"\(\s*[,.;:]?\s*\)")
_LEADING_JUNK = re.compile(r"^[\s,;:)\]]+")
_LINE_END_PAUSE = re.compile(r"[.!?,;:…][\"”’')\]]*$")
_URL_HINT = re.compile(r"/|[wW]{3}\.")  # every URL _URL finds has one of these
_HAS_WORD = re.compile(r"[^\W_]")


def strip_emoticons(text: str) -> str:
    """Remove emoticons, hearts and emoji (what `to_speech` never says)."""
    return _SYMBOLS.sub("", _EMOTICON.sub(" ", text))


def _slash(match: re.Match[str], words: Words) -> str:
    text = match.string
    start, end = match.span()
    left = re.search(r"[\w'’.-]+$", text[max(0, start - 64):start])  # a bounded look back
    right = re.match(r"[\w'’.-]+", text[end:])
    lw = left.group(0) if left else ""
    rw = right.group(0) if right else ""
    if lw[:1].isdigit() and rw[:1].isdigit():
        return " "                       # dates and fractions: 12/05 -> "12 05"
    if lw[:1].isupper() or rw[:1].isupper() or lw[:1].isdigit() or rw[:1].isdigit():
        word = words.and_                # ships and artists: Alec/Magnus, Wicked/Idina Menzel
    else:
        word = words.or_                 # his/her, he/him
    return f" {word} " if word else ", "   # a language we have no words for: a pause


def slashes(s: str, words: Words) -> str:
    """Emphasis slashes dropped, then ships, "his/her", "and/or" and "24/7" said (see the
    package notes); any other slash becomes a space."""
    if "/" not in s:
        return s
    s = _SLASH_EMPHASIS.sub(r"\g<words>", s)
    if words.english:
        s = _SLASH_AND_OR.sub("and or", s)
        s = _SLASH_247.sub("twenty-four seven", s)
    return _SLASH.sub(lambda m: _slash(m, words), s)


def ampersands(s: str, words: Words) -> str:
    """'R&R' -> "read and review" (English), '&' -> "and" in the work's language."""
    if "&" not in s:
        return s
    if words.english:
        s = _RR.sub("read and review", s)
    return _AMP.sub(f" {words.and_} " if words.and_ else ", ", s)


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


def _rstrip_pauses(s: str) -> str:
    """`s` without trailing spaces, commas and semicolons (a regex `[\\s,;]+$` would be
    tried at every space of the text)."""
    end = len(s)
    while end and (s[end - 1].isspace() or s[end - 1] in ",;"):
        end -= 1
    return s[:end]


def _tidy(s: str, end_pause: bool = False) -> str:
    s = _SPACES.sub(" ", s)
    s = _EMPTY_PARENS.sub("", s)
    s = _SPACE_BEFORE_PUNCT.sub("", s)
    s = _COMMAS.sub(",", s)
    s = _COMMA_BEFORE_STOP.sub("", s)
    s = _LEADING_JUNK.sub("", s)
    s = _SPACES.sub(" ", s).strip()
    if not end_pause:
        s = _rstrip_pauses(s)
    return s if _HAS_WORD.search(s) else ""
