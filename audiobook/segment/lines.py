"""Line shapes: what one line (or one short unit) of fic looks like on its own.

Pure functions of a stripped string; the block, note and letter stages decide from these
and from the neighbours what a unit is.
"""

from __future__ import annotations

import re
import unicodedata

from ..models import Song
from ..speech import is_scene_break
from .units import words

# --- headings and section titles ----------------------------------------------------------

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty"
)
_NUMBER = rf"(?:\d{{1,4}}|[ivxlc]{{1,7}}|(?:{_NUMBER_WORDS})(?:[\s-]+(?:{_NUMBER_WORDS}))?)"
# "Chapter 2: Title", "Part One: The Fall", "Prologue", "Mobile: Chapter 1", "Title - Chapter 3".
_HEADING = re.compile(
    rf"""^[#\s]*[*_~]*\s*
    (?:[^\n:]{{1,60}}?\s*[:|\-–—]\s*)?                    # the work's title before it
    (?:
        (?:chapter|ch\.|part|book|act)\s+{_NUMBER}
      | prologue | epilogue | interlude(?=\s*[:.\-–—]) | afterword
    )
    (?:\s*[:.\-–—]\s*.*?|\s*\(.*?\))?\s*[*_~]*\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_CHAPTER_WORD = re.compile(r"(?i)\b(?:chapter|ch\.|part|book|act|prologue|epilogue|interlude|afterword)\b")
# "**1. Come To Me**", "7. Fiction Days", "## The Return", "IV. Winter", "1 - The Fall".
_NUMBERED_TITLE = re.compile(r"^(?:\d{1,3}|[IVXLC]{1,6})\s*(?:[.):]|\s-)\s+(?P<title>\S.*)$")
_BOLD = re.compile(r"^(?:\*\*|__)(?P<title>[^*_].*?)(?:\*\*|__)$")
_MARKDOWN_HEADING = re.compile(r"^#{1,4}\s+(?P<title>\S.*?)\s*#*$")


def is_heading(line: str) -> bool:
    """A chapter heading: a new part of the work."""
    if len(line) > 100 or "\n" in line or _HEADING.match(line) is None:
        return False
    # With a title before "Chapter N", the line must still be a title, not a sentence.
    head = _CHAPTER_WORD.search(line)
    before = line[: head.start()] if head else ""
    return not before.strip(" #*_~") or (words(before) <= 8 and not re.search(r"[.!?]\s", before))


def section_title(line: str) -> bool:
    """A numbered, bold or markdown title line inside a chapter ("**1. Come To Me**")."""
    if "\n" in line or len(line) > 80 or is_heading(line):
        return False
    inner = line
    bold = _BOLD.match(inner)
    if bold:
        inner = bold["title"].strip()
    md = _MARKDOWN_HEADING.match(inner)
    if md:
        inner = md["title"]
    numbered = _NUMBERED_TITLE.match(inner)
    if numbered:
        inner = numbered["title"]
    if not (bold or md or numbered) or not re.search(r"[^\W\d_]", inner):
        return False
    if words(inner) > 10 or re.search(r"[.!?,;]\s+\S", inner) or inner.endswith((",", ";", ":")):
        return False
    if numbered and not bold and not md:
        # "7. Fiction Days": a title is capitalised and does not end like a sentence.
        return inner[:1].isupper() and not inner.endswith(".") and not _DASH_SEP.search(inner) and not _BY_ARTIST.search(inner)
    return True


SETEXT_UNDERLINE = re.compile(r"^(?:={3,}|-{3,})$")   # markdown: a title underlined with === or ---


def clean_title(text: str) -> str:
    title = text.split("\n")[0] if "\n" in text and SETEXT_UNDERLINE.match(text.split("\n")[-1].strip()) else text
    title = re.sub(r"\s*\{[#.][^}]*\}\s*$", "", title)       # pandoc's {#id .class} attributes
    title = re.sub(r"[#*_~]+", " ", title)
    return re.sub(r"\s+", " ", title).strip() or text.strip()


# --- scene breaks: see speech.marks.is_scene_break (what is never said) -----------------

# --- notes ----------------------------------------------------------------------------------

MARKER = re.compile(
    r"""^[\s\[(*_~#]*(?:
        (?i:a\s?/\s?n)(?!\w)
      | AN\s*:
      | (?i:author'?s'?\s+notes?)(?!\w)
      | (?i:(?:end|chapter|beginning|story|work|final)\s+notes?)(?!\w)
      | (?i:notes?)\s*:
      | (?i:disclaimer)(?!\w)
      | (?<=[\[(])\s*(?i:edit(?:ed)?|update[ds]?|eta|note)\b
      | (?i:summary|warnings?|rating|pairings?|fandoms?|title|author|word\s*count|characters|
            relationships?|categor(?:y|ies)|beta(?:'?d)?|prompt|dedication|tags|spoilers?)\s*:
    )""",
    re.VERBOSE,
)
NOTE_CUE = re.compile(
    r"""
      \bthanks?\b[^.!?\n]{0,80}?\b(?:read|review|comment|kudos|follow|favou?rit|support|stick|bookmark|subscrib|wait|patien)
    | \bthank\s+you\s+(?:all|guys|everyone|so\s+much|for\s+reading)\b
    | \breview(?:s|ers?)\b | \b(?:please|pls|plz)\s+review\b | \breview(?:ed|ing)?\s+(?:this|the\s+last|my)\b
    | \bkudos\b
    | \b(?:this|my|next|last|previous|latest|new|first)\s+(?:[\w'’-]+\s+){0,2}?(?:story|chapter|fic|fanfic|fanfiction|one-?shot|drabble|update|instal+ment)s?\b
    | \b(?:sorry|apologi[sz]e|apologies)\b[^\n]{0,80}?\b(?:updat|wait|late|long|delay|post)
    | \b(?:fics?|fanfics?|fanfiction|one-?shots?|drabbles?|beta'?d|unbeta'?d|ao3|wattpad|tumblr)\b
    | \bhope\s+(?:you|y'?all|everyone)\s+(?:\w+\s+)?(?:enjoy|like|liked|love|loved)\b
    | ^\W*enjoy\W*$
    | \benjoy(?:ed)?\s+reading\b
    | \bi\s+(?:do\s+not|don'?t)\s+own\b
    | \b(?:read\s+and\s+review|let\s+me\s+know\s+what\s+you\s+think|leave\s+(?:a\s+)?(?:comments?|reviews?))\b
    | (?<!\w)R\s?&\s?R(?!\w)
    | \b(?:readers|reviewers|followers)\b | \bdear\s+readers?\b
    | \b(?:updated?|updating|posted|posting)\s+(?:soon|again|next|every|weekly|this)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
# The last words of a note before the story: "Enjoy!", "On with the story", "Here we go".
HANDOFF = re.compile(
    r"""(?ix)(?:^|[.!?]\s+|\)\s*)(?:
        (?:and\s+)?(?:now\s*,?\s*)?(?:please\s+)?enjoy(?:\s+(?:the\s+(?:chapter|story|fic)|reading))?
      | (?:now\s*,?\s*)?on\s+(?:with|to)\s+the\s+(?:story|chapter|fic|show)
      | without\s+further\s+ado
      | here\s+(?:we\s+go|it\s+is|you\s+go)
      | (?:read|scroll)\s+on
    )\W*$"""
)


def is_marked(text: str) -> bool:
    return MARKER.match(text) is not None


def is_bare_marker(text: str) -> bool:
    """'Author's Note:' / 'A/N' / 'Notes:' alone: the note is the next unit."""
    return is_marked(text) and "\n" not in text and words(text) <= 4 and (
        text.rstrip(" *_~)]").endswith(":") or words(text) <= 2
    )


def is_note_talk(text: str) -> bool:
    return NOTE_CUE.search(text) is not None


# --- letters --------------------------------------------------------------------------------

CLOSING_WORDS = re.compile(
    r"\b(?:love|loving|lovingly|yours|sincerely|always|forever|regards|wishes|truly|faithfully|"
    r"cheers|xoxo|xx+|hugs|kisses|affectionately|respectfully|fondly|warmly|devotedly|goodbye|"
    r"farewell|good\s*night|night\s+night|bye|see\s+you|talk\s+soon|take\s+care|miss\s+you)\b",
    re.IGNORECASE,
)
_VALEDICTION = (
    r"(?:(?:with|all\s+(?:my|of\s+my)|lots\s+of|much)\s+love|love|yours|sincerely|forever\s+yours|"
    r"always(?:\s+yours)?|best(?:\s+wishes)?|(?:kind|warm|best)?\s*regards|xoxo|fondly|cheers|"
    r"until\s+(?:next\s+time|we\s+meet\s+again)|your(?:s)?\s+(?:\w+\s+){0,2}\w+|"
    r"love\s+(?:always|forever|you)|forever\s+and\s+always)"
)
STRONG_CLOSING = re.compile(rf"^{_VALEDICTION}\b.{{0,40}},$", re.IGNORECASE)
# "Love always, Clary <3", "Yours, Sam", "All my love, Mum xx": a closing and a signature on one line.
_CLOSING_SIGNED = re.compile(
    rf"^(?i:{_VALEDICTION}(?:\s+(?:always|forever|truly|ever))?),\s*"
    r"(?P<name>(?:[A-Z][\w'’.-]*)(?:\s+[A-Z][\w'’.-]*){0,2})"
    r"(?:\s*(?:<3+|♥|❤️?|x{1,4}|xoxo|[!.]))*\s*$"
)
SALUTATION = re.compile(
    r"""^[*_~]*(?:
        (?i:(?:my\s+)?(?:dear(?:est)?|darling|beloved))\s+\S.{0,50}
      | (?i:to)\s+(?:my\s+)?[A-Z].{0,40},
      | (?i:hey|hi|hello)\s+[A-Z][^\s,]*(?:\s+\S+){0,3}\s*[,!]
      | (?i:my\s+(?:love|darling|dear|sweet\w*|heart|angel|beloved))\b.{0,30}
      | [A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2},
    )[*_~]*$""",
    re.VERBOSE,
)
DEAR_PREFIX = re.compile(r"^[*_~]*(?i:(?:my\s+)?dear(?:est)?)\s+[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?,\s+\S")
BARE_NAME_SALUTATION = re.compile(r"^[*_~]*[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2},[*_~]*$")
NOT_NAMES = frozenset(
    "so well anyway anyways okay ok yes no oh but and now then still however first again finally "
    "honestly also sometimes later tonight today yesterday tomorrow sorry please thanks thank "
    "love always yours sincerely forever dear dearest to hey hi hello my the i i'm it this that "
    "ps p.s. p.s note notes a an we he she they you your".split()
)
_NAME_TOKEN = r"(?:[A-Z][\w'’.-]*|(?:of|the|de|van|von|du|da|la|le|al|bin|x{1,4})(?!\w))"
_NAME_LINE = re.compile(rf"^[-–—~]*\s*{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{0,4}}\s*[!,]?$")
_DASH_SIGNATURE = re.compile(r"^(?:[-–—~]+\s*[A-Z]|[-–—~]+(?=\w))[\w'’. -]{0,40}$")
PS = re.compile(r"^[*_~(]*(?:p\.?\s?p?\.?\s?s\.?|post\s?script)(?:\W|$)", re.IGNORECASE)
TERMINAL = re.compile(r"[.!?…]['\"”’)*_]*$")


def is_salutation(text: str) -> bool:
    if "\n" in text or words(text) > 8 or TERMINAL.search(text) and not text.endswith("!"):
        return False
    if SALUTATION.match(text) is None or is_note_talk(text):     # "Dear readers,"
        return False
    first = text.strip("*_~ ").split()[0].rstrip(",").lower()
    if words(text) == 1 and first in NOT_NAMES:
        return False
    return not STRONG_CLOSING.match(text) and not is_marked(text) and not is_closing_signed(text)


def is_name_line(text: str) -> bool:
    """'Alec', '-Alec Lightwood', 'Alexander Gideon Lightwood', 'Magnus Bane, xx'."""
    if "\n" in text or len(text) > 48 or not _NAME_LINE.match(text):
        return False
    first = text.lstrip("-–—~ ").split()[0].rstrip(",!").lower()
    if first in NOT_NAMES:
        return False
    return not (text.endswith(".") and not re.search(r"\b[A-Z]\.$", text))


def is_dash_signature(text: str) -> bool:
    return "\n" not in text and words(text) <= 5 and _DASH_SIGNATURE.match(text) is not None and not text.endswith(".")


def is_signature_line(text: str) -> bool:
    return is_name_line(text) or is_dash_signature(text)


def is_valediction(text: str) -> bool:
    """A closing-looking line: short, with a closing word, not a full stop or question."""
    if "\n" in text or words(text) > 7 or text.endswith((".", "?")):
        return False
    return CLOSING_WORDS.search(text) is not None


def is_strong_closing(text: str) -> bool:
    return "\n" not in text and words(text) <= 7 and STRONG_CLOSING.match(text) is not None


def is_closing_signed(text: str) -> bool:
    """'Love always, Clary <3', 'Yours, Sam': the letter's closing and signature on one line."""
    if "\n" in text or words(text) > 9:
        return False
    m = _CLOSING_SIGNED.match(text)
    return m is not None and m["name"].split()[0].lower() not in NOT_NAMES


# --- songs and playlists --------------------------------------------------------------------

BULLET = re.compile(r"^(?:\d{1,3}[.):]|\(\d{1,3}\)|#\d{1,3}[.:)]?|[-*•·–—>+])\s+")
_DASH_SEP = re.compile(r"\s+(?:-{1,2}|–|—)\s+")
_BY_ARTIST = re.compile(r"\s(?i:by)\s+[A-Z]")
_QUOTED = re.compile(r"""^(?P<titles>["“].+["”])\s*,?\s*(?:(?i:by)\b|[-–—]{1,2}|:)\s*(?P<artist>\S.*)$""")
_QUOTED_TITLE = re.compile(r"""["“](.+?)["”]""")
_BY = re.compile(r"^(?P<title>.+)\s+(?i:by)\s+(?P<artist>[A-Z0-9].*)$")
_AMP_TITLES = re.compile(r"\s+&\s+")
SONG_PREFIX = re.compile(
    r"^[\s*_~\[(]*(?i:song|chapter\s+song|theme\s+song|now\s+playing|currently\s+playing|inspired\s+by\s+the\s+song)\s*:\s*(?P<rest>\S.*)$"
)
_PLAYLIST_INTRO = re.compile(
    r"""^[\s*_~#\[(]*(?:playlist|soundtrack|tracklist|track\s*list|songs?|music|mix(?:tape)?|ost)\b[^.!?]{0,60}$
      | \b(?:playlist|soundtrack|songs?|music|tracks?|listen(?:ing|ed)?\s+to)\b.*:\W{0,6}$""",
    re.IGNORECASE | re.VERBOSE,
)
_HAS_WORD = re.compile(r"[^\W_]")
# Two sentences on one line (a period after an initial or Mr/Dr/St does not count).
_SENTENCES = re.compile(
    r"(?<![A-Z])(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bJr)(?<!\bSr)(?<!\bvs)[.?]\s+[A-Z]"
)
# A song named in prose: '"Yellow" by Coldplay', "the song Yellow by Coldplay".
NAMED_SONG = re.compile(
    r"""(?:["“‘](?P<quoted>[^"“”‘’\n]{1,60}?)[,.]?["”’]|\b(?i:the\s+song)\s+(?P<plain>[A-Z][^,.;:!?\n]{0,50}?))"""
    r"""\s*,?\s+(?i:by)\s+(?P<artist>[A-Z0-9][\w'’&.]*(?:\s+(?:[A-Z0-9&][\w'’&.]*|of|the|and|and\s+the))*)"""
)


def split_song_titles(titles: str) -> list[str]:
    """'Forever and Always & Last Kiss' -> two titles; 'Me & Mr Jones' stays one.

    Titles joined by '&' are split only when every piece has at least two words, so a
    title that itself holds '&' between single words is kept whole.
    """
    pieces = [p.strip() for p in _AMP_TITLES.split(titles.strip())]
    if len(pieces) > 1 and all(words(p) >= 2 for p in pieces):
        return pieces
    return [titles.strip()]


def _clean_song_title(text: str) -> str:
    return text.strip().strip("\"“”'‘’").strip().rstrip(",;").strip()


def parse_song_line(line: str, loose: bool = False) -> list[Song] | None:
    """The songs of one playlist line, or None if the line is not one.

    Forms: 'Title - Artist' (also en/em dash and '--'), '"Title" by Artist', 'Title by
    Artist', each optionally numbered ('1.', '2)', '#3') or bulleted ('-', '*', '•').
    Several titles: 'A & B - Artist' (see split_song_titles) or '"A" & "B" by Artist'.
    A bulleted line without an artist is a title alone; so is a short plain line when
    `loose` (the line directly below a playlist's introduction).
    """
    s = line.strip()
    if is_scene_break(s):
        return None
    bullet = BULLET.match(s)
    if bullet:
        s = s[bullet.end():].strip()
    if not s or words(s) > 20 or is_note_talk(s) or is_scene_break(s) or is_heading(s) or is_marked(s):
        return None
    if _SENTENCES.search(s):
        return None
    quoted = _QUOTED.match(s)
    if quoted:
        titles = [t for t in _QUOTED_TITLE.findall(quoted["titles"])]
        artist = quoted["artist"]
    else:
        parts = _DASH_SEP.split(s, maxsplit=1)
        by = _BY.match(s)
        if len(parts) == 2:
            titles, artist = split_song_titles(parts[0]), parts[1]
        elif by:
            titles, artist = split_song_titles(by["title"]), by["artist"]
        elif (bullet or loose) and words(s) <= 10 and (bullet or not TERMINAL.search(s)):
            titles, artist = split_song_titles(s), ""
        else:
            return None
    titles = [_clean_song_title(t) for t in titles]
    artist = artist.strip().rstrip(",;").strip()
    if not titles or not all(_HAS_WORD.search(t) for t in titles) or any(words(t) > 12 for t in titles):
        return None
    if words(artist) > 10 or artist and not _HAS_WORD.search(artist):
        return None
    return [Song(title=t, artist=artist) for t in titles]


def is_playlist_intro(line: str) -> bool:
    return words(line) <= 80 and _PLAYLIST_INTRO.search(line) is not None


def named_song(text: str) -> Song | None:
    """The first song a sentence names with its artist ('"Yellow" by Coldplay')."""
    m = NAMED_SONG.search(text)
    if m is None:
        return None
    title = (m["quoted"] or m["plain"] or "").strip()
    artist = re.split(r"(?<![A-Z])[.!?]\s", m["artist"])[0].strip().rstrip(".")   # not the next sentence
    return Song(title=title, artist=artist) if title and artist else None


# --- verse, chat and emphasis -----------------------------------------------------------------

# "Alec: where are you", "Me: ...", "[10:42] Izzy: ...": a line of a chat, a text message,
# or an author's note written as a little script.
CHAT_LINE = re.compile(r"^(?:\[?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?\]?\s*)?(?P<name>[A-Z][\w'’.-]{0,24}(?:\s[A-Z][\w'’.-]{0,24})?)\s*:\s+\S")
# "Rio 06:09 PM", "Hot MILF 06:10 PM", "[10:42] Izzy": who sent the message below, and when.
CHAT_HEADER = re.compile(r"^\[?[^\n:]{1,40}?\s+\[?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp]\.?[Mm]\.?)?\]?$|^\[\d{1,2}:\d{2}\]\s*\S.{0,40}$")
# An email or memo in the story: "From: DTWR", "To: TheGreenWitch", "Subject: ...".
EMAIL_HEADER = re.compile(r"^(?i:from|to|subject|sent|cc|bcc|re)\s*:\s*\S.{0,120}$")
BYLINE = re.compile(r"^(?i:by)\s+(?P<name>\S.{0,60})$")
_ITALIC = re.compile(r"^(?:\*(?!\*)(?P<a>[^*\n]+)\*|_(?!_)(?P<b>[^_\n]+)_|<i>.*</i>|/(?P<c>[^/\n]+)/)[.,!?]?$")


def is_italic(text: str) -> bool:
    """Wholly in emphasis: every line wrapped in *...* or _..._ (as plain-text fic marks italics)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return bool(lines) and all(_ITALIC.match(line) for line in lines)


def is_verse_line(line: str) -> bool:
    """Short and not a sentence of prose: a line of a song, a poem or an address."""
    bare = line.strip("*_ ")
    return (
        0 < len(bare) <= 60 and words(bare) <= 12 and not re.search(r"[.!?]['\"”’]?\s+[A-Z]", bare)
        and not BYLINE.match(bare)                                 # a byline under a title
        and not CHAT_HEADER.match(bare)                            # who sent a text message, when
        and not re.search(r"(?<!\w)@\w", bare)                     # a social media post's handle
    )


def indent_width(raw: str) -> int:
    """Columns of leading white space (a tab counts 8): a centred line has many."""
    width = 0
    for ch in raw:
        if ch == "\t":
            width += 8 - width % 8
        elif ch.isspace():
            width += 1
        else:
            break
    return width


def has_word(text: str) -> bool:
    return _HAS_WORD.search(text) is not None


def is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk")
