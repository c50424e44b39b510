"""Stage 2, segment: Document -> Script (ordered segments with roles, songs and chapters).

How a chapter is cut up (one pass each, so a 100,000-word work stays linear):

1. Blocks. The text is cut at blank lines. A block is further cut by line where it holds
   a scene-break line, a chapter heading line, a playlist (the introducing line, then one
   unit per song line), a list (every line bulleted or numbered), a salutation on its first
   line ("Dear Magnus" directly above the body) or a letter's end on its last lines
   ("Love,\\nAlec", "I will always love you\\n-Alec Lightwood\\nAlexander Lightwood").
   Hard-wrapped prose stays one unit.
2. Parts. Chapter headings ("Chapter 2: Title", "Prologue", "Epilogue") cut the work into
   parts; `Segment.part` counts headings (1 before and at the first one).
3. Author's notes, per part: units carrying a note marker (A/N, Author's Note, Notes:,
   End Notes, Summary:, Disclaimer, Warnings:, ...) or note talk (thanking readers and
   reviewers, sorry for the slow update, "this story/chapter/fic", "hope you enjoy") form
   the run of notes opening the part and the run closing it; at the end, a short unit
   following a note is part of it too ("See you next time!"). Playlists and songs may sit
   in those runs. In the middle of a story only marked units are notes.
4. Letters, per part, as a small state machine over the story units: a salutation opens a
   letter; then body; a closing is a valediction ("Love,", "Yours, always,") or a short
   line directly above a signature; signatures are short name lines after the closing, or
   a line starting with a dash; a "P.S." after the signature is body. Anything after the
   letter has ended is narration, until the next salutation. A scene break ends a letter.
5. Chapter titles (for chapter marks): in a work without headings, notes before the story
   -> "Author's note", notes after it -> "End notes" (a playlist line goes with its notes),
   letters -> "The letter" (or "Letter 1", "Letter 2", ... when there are several), prose
   -> "Story", then "Story, part 2", ... each time prose resumes after a scene break, a
   letter or a note. In a work with headings every segment takes its heading's text,
   except notes before the first heading ("Author's note") and the notes closing the last
   part ("End notes"). A scene break belongs with what it follows. Each song is its own
   mark: "Interlude: <title>".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..models import Document, Script, Segment, Song
from ..speech import Lexicon, is_scene_break, load_lexicon, song_announcement, to_speech

__all__ = ["segment", "parse_song_line", "split_song_titles"]

# --- line shapes --------------------------------------------------------------------------

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    "fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty"
)
_HEADING = re.compile(
    rf"""^[#\s]*[*_~]*\s*
    (?:
        (?:chapter|ch\.|part|book)\s+(?:\d{{1,4}}|[ivxlc]{{1,7}}|(?:{_NUMBER_WORDS})(?:[\s-]+(?:{_NUMBER_WORDS}))?)
      | prologue | epilogue
    )
    (?:\s*[:.\-–—]\s*.*?|\s*\(.*?\))?\s*[*_~]*\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_MARKER = re.compile(
    r"""^[\s\[(*_~#]*(?:
        (?i:a\s?/\s?n)(?!\w)
      | AN\s*:
      | (?i:author'?s'?\s+notes?)(?!\w)
      | (?i:(?:end|chapter|beginning|story|work|final)\s+notes?)(?!\w)
      | (?i:notes?)\s*:
      | (?i:disclaimer)(?!\w)
      | (?i:summary|warnings?|rating|pairings?|fandoms?|title|author|word\s*count|characters|
            relationships?|categor(?:y|ies)|beta(?:'?d)?|prompt|dedication|tags|spoilers?)\s*:
    )""",
    re.VERBOSE,
)
_NOTE_CUE = re.compile(
    r"""
      \bthanks?\b[^.!?\n]{0,80}?\b(?:read|review|comment|kudos|follow|favou?rit|support|stick|bookmark|subscrib|wait|patien)
    | \bthank\s+you\s+(?:all|guys|everyone|so\s+much|for\s+reading)\b
    | \breview(?:s|ed|ers?|ing)?\b
    | \bkudos\b
    | \b(?:this|my|next|last|previous|latest|new|first)\s+(?:[\w'’-]+\s+){0,2}?(?:story|chapter|fic|fanfic|fanfiction|one-?shot|drabble|update|instal+ment)s?\b
    | \b(?:sorry|apologi[sz]e|apologies)\b[^\n]{0,80}?\b(?:updat|wait|late|long|delay|post)
    | \b(?:fics?|fanfics?|fanfiction|one-?shots?|drabbles?|beta'?d|unbeta'?d|ao3|wattpad)\b
    | \bhope\s+(?:you|y'?all|everyone)\s+(?:\w+\s+)?(?:enjoy|like|liked|love|loved)\b
    | ^\W*enjoy\W*$
    | \benjoy(?:ed)?\s+reading\b
    | \bi\s+(?:do\s+not|don'?t)\s+own\b
    | \b(?:read\s+and\s+review|let\s+me\s+know\s+what\s+you\s+think|leave\s+(?:a\s+)?(?:comments?|reviews?))\b
    | (?<!\w)R\s?&\s?R(?!\w)
    | \b(?:readers?|reviewers?|followers?)\b
    """,
    re.IGNORECASE | re.VERBOSE,
)
_CLOSING_WORDS = re.compile(
    r"\b(?:love|loving|lovingly|yours|sincerely|always|forever|regards|wishes|truly|faithfully|"
    r"cheers|xoxo|xx+|hugs|kisses|affectionately|respectfully|fondly|warmly|devotedly|goodbye|"
    r"farewell|good\s*night|night\s+night|bye|see\s+you|talk\s+soon|take\s+care|miss\s+you)\b",
    re.IGNORECASE,
)
_STRONG_CLOSING = re.compile(
    r"^(?:(?:with|all\s+(?:my|of\s+my)|lots\s+of|much)\s+love|love|yours|sincerely|forever\s+yours|"
    r"always(?:\s+yours)?|best(?:\s+wishes)?|(?:kind|warm|best)?\s*regards|xoxo|fondly|cheers|"
    r"until\s+(?:next\s+time|we\s+meet\s+again)|your(?:s)?\s+(?:\w+\s+){0,2}\w+|"
    r"love\s+(?:always|forever|you)|forever\s+and\s+always)\b.{0,40},$",
    re.IGNORECASE,
)
_SALUTATION = re.compile(
    r"""^[*_~]*(?:
        (?i:(?:my\s+)?(?:dear(?:est)?|darling|beloved))\s+\S.{0,50}
      | (?i:to)\s+(?:my\s+)?[A-Z].{0,40},
      | (?i:hey|hi|hello)\s+[A-Z][^\s,]*(?:\s+\S+){0,3}\s*[,!]
      | (?i:my\s+(?:love|darling|dear|sweet\w*|heart|angel|beloved))\b.{0,30}
      | [A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2},
    )[*_~]*$""",
    re.VERBOSE,
)
_DEAR_PREFIX = re.compile(r"^[*_~]*(?i:(?:my\s+)?dear(?:est)?)\s+[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?,\s+\S")
_NOT_NAMES = frozenset(
    "so well anyway anyways okay ok yes no oh but and now then still however first again finally "
    "honestly also sometimes later tonight today yesterday tomorrow sorry please thanks thank "
    "love always yours sincerely forever dear dearest to hey hi hello my the i i'm it this that "
    "ps p.s. p.s note notes a an we he she they you your".split()
)
_NAME_TOKEN = r"(?:[A-Z][\w'’.-]*|(?:of|the|de|van|von|du|da|la|le|al|bin|x{1,4})(?!\w))"
_NAME_LINE = re.compile(rf"^[-–—~]*\s*{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{0,4}}\s*[!,]?$")
_DASH_SIGNATURE = re.compile(r"^(?:[-–—~]+\s*[A-Z]|[-–—~]+(?=\w))[\w'’. -]{0,40}$")
_PS = re.compile(r"^[*_~(]*(?:p\.?\s?p?\.?\s?s\.?|post\s?script)(?:\W|$)", re.IGNORECASE)
_BULLET = re.compile(r"^(?:\d{1,3}[.):]|\(\d{1,3}\)|#\d{1,3}[.:)]?|[-*•·–—>+])\s+")
_DASH_SEP = re.compile(r"\s+(?:-{1,2}|–|—)\s+")
_QUOTED = re.compile(r"""^(?P<titles>["“].+["”])\s*,?\s*(?:(?i:by)\b|[-–—]{1,2}|:)\s*(?P<artist>\S.*)$""")
_QUOTED_TITLE = re.compile(r"""["“](.+?)["”]""")
_BY = re.compile(r"^(?P<title>.+)\s+(?i:by)\s+(?P<artist>[A-Z0-9].*)$")
_AMP_TITLES = re.compile(r"\s+&\s+")
_SONG_PREFIX = re.compile(
    r"^[\s*_~\[(]*(?i:song|chapter\s+song|theme\s+song|now\s+playing|currently\s+playing|inspired\s+by\s+the\s+song)\s*:\s*(?P<rest>\S.*)$"
)
_PLAYLIST_INTRO = re.compile(
    r"""^[\s*_~#\[(]*(?:playlist|soundtrack|tracklist|track\s*list|songs?|music|mix(?:tape)?|ost)\b[^.!?]{0,60}$
      | \b(?:playlist|soundtrack|songs?|music|tracks?|listen(?:ing|ed)?\s+to)\b.*:\W{0,6}$""",
    re.IGNORECASE | re.VERBOSE,
)
_HAS_WORD = re.compile(r"[^\W_]")
_TERMINAL = re.compile(r"[.!?…]['\"”’)]*$")
# Two sentences on one line (a period after an initial or Mr/Dr/St does not count).
_SENTENCES = re.compile(
    r"(?<![A-Z])(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bJr)(?<!\bSr)(?<!\bvs)[.?]\s+[A-Z]"
)


def _words(text: str) -> int:
    return len(text.split())


def _is_heading(line: str) -> bool:
    return len(line) <= 100 and _HEADING.match(line) is not None


def _is_marked(text: str) -> bool:
    return _MARKER.match(text) is not None


def _is_bare_marker(text: str) -> bool:
    """'Author's Note:' / 'A/N' / 'Notes:' alone: the note is the next unit."""
    return _is_marked(text) and "\n" not in text and _words(text) <= 4 and (
        text.rstrip(" *_~)]").endswith(":") or _words(text) <= 2
    )


def _is_salutation(text: str) -> bool:
    if "\n" in text or _words(text) > 8 or _TERMINAL.search(text) and not text.endswith("!"):
        return False
    if _SALUTATION.match(text) is None or _is_note_talk(text):     # "Dear readers,"
        return False
    first = text.strip("*_~ ").split()[0].rstrip(",").lower()
    if _words(text) == 1 and first in _NOT_NAMES:
        return False
    return not _STRONG_CLOSING.match(text) and not _is_marked(text)


def _is_name_line(text: str) -> bool:
    """'Alec', '-Alec Lightwood', 'Alexander Gideon Lightwood', 'Magnus Bane, xx'."""
    if "\n" in text or len(text) > 48 or not _NAME_LINE.match(text):
        return False
    first = text.lstrip("-–—~ ").split()[0].rstrip(",!").lower()
    if first in _NOT_NAMES:
        return False
    return not (text.endswith(".") and not re.search(r"\b[A-Z]\.$", text))


def _is_dash_signature(text: str) -> bool:
    return "\n" not in text and _words(text) <= 5 and _DASH_SIGNATURE.match(text) is not None and not text.endswith(".")


def _is_signature_line(text: str) -> bool:
    return _is_name_line(text) or _is_dash_signature(text)


def _is_valediction(text: str) -> bool:
    """A closing-looking line: short, with a closing word, not a full stop or question."""
    if "\n" in text or _words(text) > 7 or text.endswith((".", "?")):
        return False
    return _CLOSING_WORDS.search(text) is not None


def _is_strong_closing(text: str) -> bool:
    return "\n" not in text and _words(text) <= 7 and _STRONG_CLOSING.match(text) is not None


def _is_note_talk(text: str) -> bool:
    return _NOTE_CUE.search(text) is not None


def _could_trail_note(text: str, letter_begun: bool) -> bool:
    if _words(text) > 30 or text[:1] in "\"“'‘" or _is_salutation(text) or _PS.match(text):
        return False
    return not letter_begun or not (_is_signature_line(text) or _is_valediction(text))


def split_song_titles(titles: str) -> list[str]:
    """'Forever and Always & Last Kiss' -> two titles; 'Me & Mr Jones' stays one.

    Titles joined by '&' are split only when every piece has at least two words, so a
    title that itself holds '&' between single words is kept whole.
    """
    pieces = [p.strip() for p in _AMP_TITLES.split(titles.strip())]
    if len(pieces) > 1 and all(_words(p) >= 2 for p in pieces):
        return pieces
    return [titles.strip()]


def _clean_title(text: str) -> str:
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
    bullet = _BULLET.match(s)
    if bullet:
        s = s[bullet.end():].strip()
    if not s or _words(s) > 20 or _is_note_talk(s) or is_scene_break(s) or _is_heading(s):
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
        elif (bullet or loose) and _words(s) <= 10 and (bullet or not _TERMINAL.search(s)):
            titles, artist = split_song_titles(s), ""
        else:
            return None
    titles = [_clean_title(t) for t in titles]
    artist = artist.strip().rstrip(",;").strip()
    if not titles or not all(_HAS_WORD.search(t) for t in titles) or any(_words(t) > 12 for t in titles):
        return None
    if _words(artist) > 10 or artist and not _HAS_WORD.search(artist):
        return None
    return [Song(title=t, artist=artist) for t in titles]


def _is_playlist_intro(line: str) -> bool:
    return _words(line) <= 80 and _PLAYLIST_INTRO.search(line) is not None


# --- units --------------------------------------------------------------------------------


@dataclass
class _Line:
    start: int
    end: int
    text: str


@dataclass
class _Unit:
    start: int
    end: int
    text: str
    kind: str = ""                       # preset role: scene_break, heading, playlist, song
    songs: list[Song] = field(default_factory=list)
    role: str = ""
    region: str = ""                     # front / end / mid (notes and playlists)
    letter: int = 0                      # letter number (1-based) for letter roles
    part: int = 1
    chapter: str = ""


def _blocks(text: str) -> list[list[_Line]]:
    """Runs of non-blank lines, each line with its stripped span in `text`."""
    blocks: list[list[_Line]] = []
    current: list[_Line] = []
    pos = 0
    n = len(text)
    while pos <= n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl
        raw = text[pos:end]
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            start = pos + lead
            current.append(_Line(start, start + len(stripped), stripped))
        elif current:
            blocks.append(current)
            current = []
        if nl < 0:
            break
        pos = nl + 1
    if current:
        blocks.append(current)
    return blocks


def _unit(text: str, lines: list[_Line], kind: str = "", songs: list[Song] | None = None) -> _Unit:
    start, end = lines[0].start, lines[-1].end
    return _Unit(start=start, end=end, text=text[start:end], kind=kind, songs=list(songs or []))


def _split_prose(lines: list[_Line]) -> list[list[_Line]]:
    """Cut a run of prose lines where a letter's salutation or ending sits on its own line."""
    if not lines:
        return []
    if len(lines) == 1 or _is_marked(lines[0].text):
        return [lines]
    if all(_BULLET.match(line.text) for line in lines):
        return [[line] for line in lines]
    groups: list[list[_Line]] = []
    if _is_salutation(lines[0].text):
        groups.append([lines[0]])
        lines = lines[1:]
    k = 0
    while k < len(lines) and k < 4 and _is_signature_line(lines[-1 - k].text):
        k += 1
    if k and len(lines) > 1:
        c = len(lines) - k - 1
        if c < 0:
            groups.extend([line] for line in lines)
            return groups
        closing = lines[c].text
        if _is_valediction(closing) or _is_strong_closing(closing) or (
            _words(closing) <= 10 and not closing.endswith("?") and _is_dash_signature(lines[c + 1].text)
        ):
            if c:
                groups.append(lines[:c])
            groups.append([lines[c]])
            groups.extend([line] for line in lines[c + 1:])
            return groups
    if lines:
        groups.append(lines)
    return groups


def _units(text: str) -> list[_Unit]:
    blocks = _blocks(text)
    units: list[_Unit] = []
    in_playlist = False
    for b, lines in enumerate(blocks):
        following = blocks[b + 1][0].text if b + 1 < len(blocks) else None
        if in_playlist:
            # A playlist continues past a blank line only with a block of song lines.
            if not all(parse_song_line(line.text) for line in lines):
                in_playlist = False
        run: list[_Line] = []

        def flush() -> None:
            for group in _split_prose(run):
                units.append(_unit(text, group))
            run.clear()

        for i, line in enumerate(lines):
            t = line.text
            if in_playlist:
                songs = parse_song_line(t, loose=True)
                if songs:
                    units.append(_unit(text, [line], "song", songs))
                    continue
                in_playlist = False
            if is_scene_break(t):
                flush()
                units.append(_unit(text, [line], "scene_break"))
                continue
            if _is_heading(t):
                flush()
                units.append(_unit(text, [line], "heading"))
                continue
            prefixed = _SONG_PREFIX.match(t)
            if prefixed and (songs := parse_song_line(prefixed["rest"])):
                flush()
                units.append(_unit(text, [line], "song", songs))
                continue
            if _is_playlist_intro(t):
                nxt, loose = (lines[i + 1].text, True) if i + 1 < len(lines) else (following, False)
                if nxt is not None and parse_song_line(nxt, loose=loose):
                    flush()
                    units.append(_unit(text, [line], "playlist"))
                    in_playlist = True
                    continue
            run.append(line)
        flush()
    return units


# --- roles --------------------------------------------------------------------------------

_LETTER_ROLES = ("salutation", "body", "closing", "signature")


def _mark_notes(part: list[_Unit]) -> None:
    """Notes opening and closing a part (and marked notes in its middle)."""
    n = len(part)
    if not n:
        return
    strong = [False] * n     # a note on its own merits
    for i, u in enumerate(part):
        if u.kind in ("playlist", "song"):
            strong[i] = True
        elif not u.kind:
            strong[i] = _is_marked(u.text) or _is_note_talk(u.text) or (
                i > 0 and not part[i - 1].kind and _is_bare_marker(part[i - 1].text)
            )
    # Front run.
    front = 0
    while front < n and strong[front]:
        front += 1
    # End run: strong notes, plus up to three short units following one ("Happy holidays,
    # everyone."), as long as they do not look like dialogue or a letter's parts.
    # An author's sign-off ("Lots of love, Sam") is carried too unless a letter has begun.
    end_ok = list(strong)
    carried = 0
    letter_begun = any(not u.kind and _is_salutation(u.text) for u in part[:front + 1])
    for i in range(front + 1, n):
        u = part[i]
        if strong[i]:
            # An aside in brackets, "(A/N: ...)", is not followed by more of the note.
            carried = 3 if part[i].text[:1] in "([" else 0
        elif end_ok[i - 1] and carried < 3 and not u.kind and _could_trail_note(u.text, letter_begun):
            end_ok[i] = True
            carried += 1
        if not u.kind and not strong[i] and _is_salutation(u.text):
            letter_begun = True
    end = n
    while end > front and end_ok[end - 1]:
        end -= 1
    for i, u in enumerate(part):
        if u.kind in ("scene_break", "heading", "song"):
            if u.kind == "song":
                u.region = "front" if i < front else "end" if i >= end else "mid"
            continue
        if i < front or i >= end:
            u.region = "front" if i < front else "end"
            if u.kind != "playlist":
                u.role = "note"
        elif u.kind == "playlist":
            u.region = "mid"
        elif _is_marked(u.text) or (i > 0 and not part[i - 1].kind and _is_bare_marker(part[i - 1].text)
                                    and part[i - 1].role == "note"):
            u.role, u.region = "note", "mid"


def _mark_letters(part: list[_Unit], letters: int) -> int:
    """Salutation/body/closing/signature/narration for the story units; returns letter count."""
    state = "out"
    n = len(part)
    for i, u in enumerate(part):
        if u.kind == "scene_break":
            state = "out"
            continue
        if u.kind or u.role:
            continue
        nxt = part[i + 1] if i + 1 < n else None
        nxt_story = nxt is not None and not nxt.kind and not nxt.role
        nxt_sig = nxt_story and _is_signature_line(nxt.text)
        t = u.text
        if state == "closed":
            if _is_signature_line(t):
                u.role, state = "signature", "signed"
            elif _is_valediction(t) or _is_strong_closing(t):
                u.role = "closing"
            else:
                state = "out"
        elif state == "signed":
            if _is_signature_line(t):
                u.role = "signature"
            elif _PS.match(t):
                u.role = "body"
            else:
                state = "out"
        elif state == "in":
            if _is_salutation(t) and not re.match(r"^[A-Z][\w'’.-]*,$", t) or _DEAR_PREFIX.match(t):
                state = "out"      # a new letter begins
            elif _is_dash_signature(t) or (_is_name_line(t) and not nxt_story):
                u.role, state = "signature", "signed"
            elif _is_strong_closing(t) or (
                "\n" not in t and _words(t) <= 10 and not t.endswith(("?", ".")) and nxt_sig
                and (_is_valediction(t) or _is_dash_signature(nxt.text))
            ) or (_is_valediction(t) and t.endswith(",")):
                u.role, state = "closing", "closed"
            else:
                u.role = "body"
        if u.role:
            u.letter = letters
            continue
        # state == "out"
        if _is_salutation(t) or _DEAR_PREFIX.match(t):
            letters += 1
            u.role = "salutation" if _is_salutation(t) else "body"
            u.letter = letters
            state = "in"
        else:
            u.role = "narration"
    return letters


# --- chapters -----------------------------------------------------------------------------


def _clean_heading(text: str) -> str:
    title = re.sub(r"[#*_~]+", " ", text)
    return re.sub(r"\s+", " ", title).strip() or text.strip()


def _chapters_unheaded(units: list[_Unit], letters: int, before_headings: bool) -> None:
    current = ""
    section = 0
    prose_open = False
    pending: list[_Unit] = []      # scene breaks waiting for a chapter

    def assign(u: _Unit, title: str) -> None:
        nonlocal current
        u.chapter = title
        current = title
        for p in pending:
            p.chapter = title
        pending.clear()

    for u in units:
        if u.kind == "song":
            u.chapter = f"Interlude: {u.songs[0].title}"
            prose_open = False
        elif u.kind == "scene_break":
            prose_open = False
            if current:
                u.chapter = current
            else:
                pending.append(u)
        elif u.role == "note" or u.kind == "playlist":
            if u.region == "end" and not before_headings:
                assign(u, "End notes")
            elif u.region in ("front", "end") or u.role == "note":
                assign(u, "Author's note")
            else:
                assign(u, current or "Story")
            prose_open = False
        elif u.role in _LETTER_ROLES:
            assign(u, "The letter" if letters == 1 else f"Letter {u.letter}")
            prose_open = False
        else:  # narration
            if not prose_open:
                section += 1
                prose_open = True
            assign(u, "Story" if section == 1 else f"Story, part {section}")
    for p in pending:
        p.chapter = current or "Story"


def _chapters_headed(units: list[_Unit], heading: str, last: bool) -> None:
    current = heading
    for u in units:
        if u.kind == "song":
            u.chapter = f"Interlude: {u.songs[0].title}"
        elif last and u.region == "end" and (u.role == "note" or u.kind == "playlist"):
            u.chapter = current = "End notes"
        elif u.kind == "scene_break":
            u.chapter = current
        else:
            u.chapter = heading


# --- the stage ----------------------------------------------------------------------------


def segment(doc: Document, lexicon: Mapping[str, str] | Lexicon | None = None) -> Script:
    """Cut a document into ordered segments with roles, songs, chapters and speech.

    `lexicon` (word -> how to say it) defaults to voices/lexicon.toml merged with the
    work's own sidecar entries (see speech.load_lexicon).
    """
    lex = lexicon if isinstance(lexicon, Lexicon) else Lexicon(
        load_lexicon(doc.meta.lexicon) if lexicon is None else lexicon
    )
    units = _units(doc.text)

    # Parts: the units before the first heading, then one per heading.
    parts: list[tuple[_Unit | None, list[_Unit]]] = [(None, [])]
    for u in units:
        if u.kind == "heading":
            u.role = "heading"
            parts.append((u, []))
        else:
            parts[-1][1].append(u)
    headed = len(parts) > 1

    letters = 0
    for number, (heading, body) in enumerate(parts):
        part_no = max(1, number)
        if heading is not None:
            heading.part = part_no
            heading.chapter = _clean_heading(heading.text)
        for u in body:
            u.part = part_no
        _mark_notes(body)
        if heading is None:
            letters = _mark_letters(body, 0)
        else:
            _mark_letters(body, 0)
    # Chapter titles.
    preamble = parts[0][1]
    _chapters_unheaded(preamble, letters, before_headings=headed)
    for number, (heading, body) in enumerate(parts[1:], start=1):
        _chapters_headed(body, heading.chapter, last=number == len(parts) - 1)

    segments: list[Segment] = []
    for u in units:
        role = u.kind or u.role
        if u.kind == "song":
            for song in u.songs:
                segments.append(Segment(
                    index=len(segments), role="song", text=u.text,
                    speech=song_announcement(song, lex), chapter=f"Interlude: {song.title}",
                    part=u.part, song=song, span=(u.start, u.end),
                ))
            continue
        segments.append(Segment(
            index=len(segments), role=role, text=u.text, speech=to_speech(u.text, role, lex),
            chapter=u.chapter, part=u.part, span=(u.start, u.end),
        ))
    return Script(document=doc, segments=tuple(segments))
