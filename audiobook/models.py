"""The values that flow between pipeline stages. All frozen: a stage returns a new value."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

# Segment roles, in the order a reader meets them in a typical chapter.
ROLES = (
    "note",         # author's note, before or after the story
    "heading",      # "Chapter 2: Title"
    "salutation",   # "Dear Magnus"
    "body",         # the letter's body
    "narration",    # story prose that is not a letter
    "closing",      # "Love," / "I will always love you"
    "signature",    # "-Alec Lightwood"
    "scene_break",  # ~*~*~ : a pause, never spoken
    "playlist",     # the line introducing the songs
    "song",         # one song of the playlist: an interlude
    "lyrics",       # song lyrics quoted in the story (a songfic's stanzas)
)
SILENT_ROLES = frozenset({"scene_break"})
STORY_ROLES = frozenset({"heading", "salutation", "body", "narration", "closing", "signature"})
LETTER_ROLES = frozenset({"salutation", "body", "closing", "signature"})


@dataclass(frozen=True)
class VoiceProfile:
    name: str
    engine: str = "pyttsx3"
    voice: str | None = None     # an engine voice id; wins over language/gender
    language: str = "en"
    gender: str | None = None    # "male" / "female": a preference, not a demand
    rate: int = 160              # words per minute
    pitch: int = 50              # 0-100
    volume: float = 1.0          # 0-1
    variant: str | None = None   # an engine's voice variant (eSpeak: "m3", "f2"): a character's timbre
    model: str | None = None     # Piper: a voice by name, or the path of its .onnx (with .onnx.json beside it)
    speaker: str | None = None   # Piper: a speaker of a multi-speaker model, by name or number


@dataclass(frozen=True)
class Song:
    title: str
    artist: str = ""


@dataclass(frozen=True)
class Interludes:
    """How playlist songs become interludes (sidecar table [interludes])."""

    placement: str = "inline"          # "inline": where the author put the playlist; "spread": between sections
    sting: bool = True                 # frame announcements with a generated musical sting
    excerpt_seconds: float = 12.0      # length of a user-supplied song excerpt
    files: dict[str, Path] = field(default_factory=dict)  # song title -> audio file the user owns


@dataclass(frozen=True)
class Metadata:
    """What is known about a work: from a download's own metadata, a header block in the
    text, and the sidecar `<name>.toml` (which wins field by field); defaults without any."""

    title: str
    authors: tuple[str, ...] = ()
    fandoms: tuple[str, ...] = ()
    summary: str = ""
    rating: str = ""
    warnings: tuple[str, ...] = ()     # archive warnings
    category: tuple[str, ...] = ()     # F/M, M/M, Gen, ...
    relationships: tuple[str, ...] = ()
    characters: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()         # additional (freeform) tags
    language: str = "en"
    url: str = ""
    series: str = ""                   # album tag; defaults to the title
    show: str = ""                     # the podcast show this work goes in (a feed of its own)
    series_part: int | None = None     # this work's place in its series
    chapter: int | None = None         # this text's chapter number in a longer work (track tag)
    chapters: str = ""                 # as the archive says it: "3/10", "1/1", "5/?"
    words: int | None = None
    published: str = ""                # ISO date, YYYY-MM-DD
    updated: str = ""
    year: int | None = None
    cover: Path | None = None
    cast: dict[str, str] = field(default_factory=dict)      # role -> voice profile name
    lexicon: dict[str, str] = field(default_factory=dict)   # word -> how to say it
    interludes: Interludes = field(default_factory=Interludes)
    sidecar: Path | None = None
    # Fields a source set on purpose (sidecar or download): a header block found in the
    # text fills only the others.
    given: frozenset[str] = frozenset()

    @property
    def author(self) -> str:
        """The authors as a credit line: "A", "A and B", "A, B and C"."""
        return _and(self.authors) or "Anonymous"

    def bounded(self) -> "Metadata":
        """This metadata with every text clean (see clean_text) and no longer than
        METADATA_LIMITS allow: whatever a file says, a title is never an hour of speech
        nor a tag a megabyte. Unchanged values keep their identity (cheap to call twice)."""
        changes: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            limit, count = METADATA_LIMITS.get(f.name, (0, 0))
            if not limit:
                continue
            if isinstance(value, str):
                bounded = _cap(clean_text(value, multiline=f.name == "summary"), limit)
            elif isinstance(value, tuple):
                bounded = tuple(v for v in (_cap(clean_text(item), limit) for item in value[:count]) if v)
            else:
                continue
            if bounded != value:
                changes[f.name] = bounded
        if not changes.get("title", self.title):
            changes["title"] = "Untitled"
        return replace(self, **changes) if changes else self

    @property
    def fandom(self) -> str:
        return _and(self.fandoms)


# field -> (most characters, most items of a list). Past AO3's own limits (a title of 255
# characters, a summary of 1,250, tags of 150), with room for other archives.
METADATA_LIMITS = {
    "title": (300, 0), "summary": (6000, 0), "rating": (100, 0), "language": (35, 0), "url": (2000, 0),
    "series": (300, 0), "show": (300, 0), "chapters": (20, 0), "published": (40, 0), "updated": (40, 0),
    "authors": (100, 20), "fandoms": (200, 50), "warnings": (200, 20), "category": (50, 20),
    "relationships": (200, 100), "characters": (200, 200), "tags": (200, 300),
}

# C0 and C1 control characters and DEL: invisible, invalid in XML, mangled by ID3 readers.
# Bidirectional overrides and isolates (U+202A-E, U+2066-9): they make a name display as
# something else ("spoofing"); a right-to-left text needs none of them to show right.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Text as it may go into tags, feeds and speech: control and bidi-override characters
    become spaces, runs of spaces collapse; with multiline, line breaks are kept (summaries)."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n") if multiline else [value]
    return "\n".join(" ".join(_CONTROL.sub(" ", line).split()) for line in lines).strip()


def short_text(value: str, limit: int = 300) -> str:
    """A title as tags and feeds take it: clean (see clean_text) and at most `limit` characters."""
    return _cap(clean_text(value), limit)


def _cap(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word and marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] if " " in text[: limit - 1] else text[: limit - 1]
    return cut.rstrip() + "…"


def _and(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}" if items else ""


BLOCK_KINDS = ("text", "note", "heading", "section", "scene_break")


@dataclass(frozen=True)
class Block:
    """A paragraph whose kind a download's markup states (plain text has none: the
    segmenter tells paragraphs apart by their shape)."""

    start: int           # span in Document.text
    end: int
    kind: str            # one of BLOCK_KINDS: story text, a note (summary, notes), a chapter
                         # heading, a section title inside a chapter, a scene break


@dataclass(frozen=True)
class Document:
    path: Path
    text: str            # decoded, newlines normalised to \n; from markup: one paragraph a block
    meta: Metadata
    encoding: str        # what the bytes were decoded from (or the download's format)
    blocks: tuple[Block, ...] = ()   # from markup; empty for plain text


SPAN_KINDS = ("narration", "speech", "thought", "message")


@dataclass(frozen=True)
class Span:
    """A run of one paragraph said in one way: narration, quoted speech, an italic thought,
    a chat or text message. A paragraph's spans hold every character of its text, in order."""

    kind: str                  # one of SPAN_KINDS
    start: int                 # offsets in Segment.text
    end: int
    speech: str                # what the engine is asked to say ("" for punctuation alone)
    speaker: str | None = None  # the character speaking, thinking or writing, when it can be told
    voice: str | None = None   # voice profile name, set by voices.cast


@dataclass(frozen=True)
class Segment:
    index: int
    role: str
    text: str            # as written
    speech: str          # what the engine is asked to say ("" for silent roles)
    chapter: str         # title of the chapter mark this segment falls under
    part: int = 1        # chapter number of the work (from "Chapter N" headings)
    song: Song | None = None
    voice: str | None = None   # voice profile name, set by voices.cast
    # (start, end) offsets of `text` in Document.text; the songs of one line share it.
    span: tuple[int, int] = (0, 0)
    # Story paragraphs with dialogue, thoughts or messages: the paragraph cut into spans
    # (empty when the paragraph is all narration, or for other roles).
    spans: tuple[Span, ...] = ()

    @property
    def spoken(self) -> bool:
        return self.role not in SILENT_ROLES and bool(self.speech.strip())


@dataclass(frozen=True)
class Script:
    document: Document
    segments: tuple[Segment, ...]
    # The characters who speak, in order of first appearance: name -> "he", "she" or "".
    characters: dict[str, str] = field(default_factory=dict)
    # Voice profiles made for this script's characters (voices.cast), by name.
    profiles: dict[str, VoiceProfile] = field(default_factory=dict)

    @property
    def songs(self) -> tuple[Song, ...]:
        """The playlist's songs (the interludes), in order."""
        return tuple(s.song for s in self.segments if s.role == "song")

    @property
    def quoted_songs(self) -> tuple[Song, ...]:
        """Songs whose lyrics the story quotes (for the credits), in order, once each."""
        return tuple(dict.fromkeys(s.song for s in self.segments if s.role == "lyrics" and s.song))


@dataclass(frozen=True)
class Utterance:
    """One thing to say: what, in which voice, and a label for progress and errors."""

    label: str           # e.g. "segment 12 (body)", "header"
    text: str
    profile: VoiceProfile


@dataclass(frozen=True)
class Clip:
    """One spoken segment (or any spoken line) as a WAV file on disk."""

    key: str             # cache key: hash of speech, resolved voice, engine
    path: Path
    duration_ms: int
    sample_rate: int
    text: str            # the speech it says (for the transcript)


@dataclass(frozen=True)
class Chapter:
    title: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Cue:
    """A transcript line: text said between start and end."""

    text: str
    start_ms: int
    end_ms: int
    voice: str | None = None      # who says it, for a line of dialogue (WebVTT's <v Name>)


@dataclass(frozen=True)
class Episode:
    """A finished MP3 and what is known about it (written by render, read back by feed)."""

    path: Path
    title: str
    author: str
    album: str = ""
    track: int | None = None
    duration_ms: int = 0
    chapters: tuple[Chapter, ...] = ()
    summary: str = ""
    comment: str = ""
    genre: str = "Audiobook"
    year: int | None = None
    language: str = "en"
    url: str = ""
    cover: Path | None = None          # JPEG next to the MP3
    transcript: Path | None = None     # <name>.vtt
    chapters_json: Path | None = None  # <name>.chapters.json
    source: Path | str | None = None   # the input text (or URL)
    # For the feed: which work this is (its URL, else title and author), the work's own
    # title and its place in a series, this chapter's title without its number, when the
    # source says the chapter was published (ISO), the work's rating, and the show it
    # belongs to when a feed folder is split into shows.
    work: str = ""
    work_title: str = ""
    series_part: int | None = None
    part_title: str = ""
    published: str = ""
    rating: str = ""
    show: str = ""
    voices: tuple[str, ...] = ()       # the engine voices that speak it (render --json); not a tag


@dataclass(frozen=True)
class Piece:
    """A stretch of the program: a spoken clip, a pause, or music. Times in samples."""

    kind: str                 # "speech" | "silence" | "sting" | "excerpt"
    start: int
    length: int
    source: Path | None = None    # the clip WAV, or the user's song file for an excerpt
    variant: int = 0              # which sting (they differ a little from song to song)
    offset_ms: int = 0            # where an excerpt starts in the song


@dataclass(frozen=True)
class Program:
    """The whole episode laid out in time, before any sample is mixed."""

    rate: int
    pieces: tuple[Piece, ...]
    chapters: tuple[Chapter, ...]
    cues: tuple[Cue, ...]
    length: int               # samples

    @property
    def duration_ms(self) -> int:
        return round(self.length * 1000 / self.rate)
