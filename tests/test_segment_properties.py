"""Properties of segmenting: no text is lost, duplicated or reordered; words are always said."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audiobook.errors import InputError
from audiobook.models import ROLES, SILENT_ROLES, Document, Metadata
from audiobook.segment import segment
from audiobook.segment.header import parse_label
from audiobook.speech import strip_emoticons

LEXICON = {"Magnus": "Magnus", "Camille": "Kameel", "Alec": "Alek"}

WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\u00e9\u00f8\u00df0123456789'\u2019",
    min_size=1,
    max_size=9,
)
MARK = st.sampled_from([
    "&", "*", "**", "~", "<3", "</3", ":)", ":D", ";)", ":(", "xD", "-", "--", "\u2013", "\u2014", "...", "!!!",
    "?!", '"', "\u201c", "\u201d", "'", "/", "A/N:", "A/N", "Dear", "Love,", "Yours,", "by", "#", "_", "(", ")",
    ",", ".", ":", "https://archiveofourown.org/works/1", "www.example.com/a", "Alec/Magnus", "*word*",
    "_word_", "~*~", "\u2665", "\u00a0",
])
TOKEN = st.one_of(WORD, WORD, WORD, MARK)
PROSE_LINE = st.lists(TOKEN, min_size=1, max_size=12).map(" ".join)
SHAPED_LINE = st.sampled_from([
    "~*~*~", "***", "* * *", "oOo", "---", "xXx", "#", "Chapter 1", "Chapter 2: The Return", "Prologue",
    "Playlist:", "Soundtrack:", "I decided to include the songs I was listening to while I wrote this:",
    "Like We Used To - A Rocket To The Moon", "Miserable At Best & The Memory - Mayday Parade",
    "I'm Not That Girl - The 2003 cast of Wicked/Idina Menzel", '1. "The Hanging Tree" by James Newton Howard',
    "\u2022 Yellow \u2013 Coldplay", "- Hallelujah", "Song: Yellow - Coldplay", "-Alec Lightwood",
    "Alexander Lightwood", "Dear Magnus", "My dearest Izzy,", "To Jace,", "Magnus,", "Love always,", "Love,",
    "I will always love you", "Yours, always,", "\u2014 Simon", "Thanks for reading!", "Author's Note:",
    "End Notes:", "Summary: things happen.", "P.S. hi", "Happy holidays, everyone.", ":)", "<3", "xD",
])
LINE = st.tuples(
    st.sampled_from(["", "", " ", "\t", "   "]),
    st.one_of(PROSE_LINE, SHAPED_LINE, SHAPED_LINE),
    st.sampled_from(["", "", " ", "\t"]),
).map("".join)
PARAGRAPH = st.lists(LINE, min_size=1, max_size=5).map("\n".join)
GAP = st.sampled_from(["\n\n", "\n\n", "\n\n\n", "\n \n", "\n\t\n", "\n"])
TEXT = st.tuples(
    st.sampled_from(["", "\n", "  \n\n"]),
    st.lists(st.tuples(PARAGRAPH, GAP), min_size=1, max_size=12),
).map(lambda t: t[0] + "".join(p + g for p, g in t[1]))

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make(text: str) -> Document:
    return Document(path=Path("generated.txt"), text=text, meta=Metadata(title="Generated"), encoding="utf-8")


def segmented(text: str):
    """The script of `text`; a text with no letter or digit at all is refused (nothing to say)."""
    if not any(ch.isalnum() for ch in text):
        with pytest.raises(InputError, match="nothing to say"):
            segment(make(text), lexicon=LEXICON)
        assume(False)
    return segment(make(text), lexicon=LEXICON)


def distinct(script):
    seen: dict[tuple[int, int], object] = {}
    for s in script.segments:
        seen.setdefault(s.span, s)
    return list(seen.values())


@SETTINGS
@given(TEXT)
def test_text_is_never_lost_duplicated_or_reordered(text):
    script = segmented(text)
    spans = [s.span for s in distinct(script)]
    # in order and not overlapping
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end <= start
    # each segment is exactly its span
    for s in script.segments:
        start, end = s.span
        assert 0 <= start < end <= len(text)
        assert text[start:end] == s.text
    # every non-whitespace character lies in exactly one distinct span
    owner = [0] * len(text)
    for start, end in spans:
        for i in range(start, end):
            owner[i] += 1
    for i, ch in enumerate(text):
        if not ch.isspace():
            assert owner[i] == 1, (i, ch)
    assert all(count <= 1 for count in owner)


@SETTINGS
@given(TEXT)
def test_segments_are_well_formed(text):
    script = segmented(text)
    segs = script.segments
    assert [s.index for s in segs] == list(range(len(segs)))
    parts = [s.part for s in segs]
    assert parts == sorted(parts) and all(p >= 1 for p in parts)
    for s in segs:
        assert s.role in ROLES
        assert s.chapter
        assert s.role != "song" or s.song is not None
        assert s.song is None or s.role in ("song", "lyrics")   # lyrics name the song they quote
        if s.role == "song":
            assert s.chapter == f"Interlude: {s.song.title}" and s.speech.startswith("Interlude:")
        if s.role in SILENT_ROLES:
            assert s.speech == ""
    # songs sharing a span come from one line, one after another
    for a, b in zip(segs, segs[1:]):
        if a.span == b.span:
            assert a.role == b.role == "song"


@SETTINGS
@given(TEXT)
def test_words_are_always_spoken_and_marks_never(text):
    script = segmented(text)
    for s in script.segments:
        if s.role in SILENT_ROLES:
            continue
        if re.search(r"[^\W_]", strip_emoticons(s.text)):
            label = parse_label(s.text)
            if label is not None and not label.said:
                assert s.role == "note" and s.speech == ""     # a header label is structure, not words
                continue
            meta = script.document.meta
            said_in_header = {re.sub(r"[\W_]", "", t).casefold() for t in (meta.title, *meta.authors)}
            bare = re.sub(r"[\W_]", "", re.sub(r"^\s*by\s+", "", s.text, flags=re.IGNORECASE)).casefold()
            if s.role == "note" and not s.speech and bare in said_in_header:
                continue                                       # the title line, the byline: the header says them
            assert s.speech.strip(), s.text
            assert s.spoken
        for mark in ("*", "~", "/", "<3", "_", "#", "<", ">"):
            assert mark not in s.speech, (mark, s.text, s.speech)


@settings(max_examples=40, deadline=None)
@given(TEXT)
def test_segmenting_is_deterministic(text):
    assert segmented(text) == segmented(text)


DIALOGUE_LINE = st.sampled_from([
    '"Come home," Arthur said.', '"Wait!" she called. "Not yet."', "'Don't,' he said. 'The Lightwoods' car.'",
    'He called it "the thing" again.', '*I can\'t do this,* she thought.', "Alec: where are you", "Rio 06:09 PM",
    '"Open quote runs on', '"Two', 'words"', "Priya and Jonah said together.", "“Curly,” said Wren.",
])
DIALOGUE_TEXT = st.lists(st.one_of(DIALOGUE_LINE, PROSE_LINE), min_size=1, max_size=10).map("\n\n".join)


@SETTINGS
@given(st.one_of(TEXT, DIALOGUE_TEXT))
def test_spans_keep_every_character_of_their_paragraph_in_order(text):
    script = segmented(text)
    for s in script.segments:
        if not s.spans:
            continue
        assert s.spans[0].start == 0 and s.spans[-1].end == len(s.text)
        assert all(a.end == b.start and a.start < a.end for a, b in zip(s.spans, s.spans[1:]))
        assert all(sp.kind in ("narration", "speech", "thought", "message") for sp in s.spans)
        for sp in s.spans:
            if re.search(r"[^\W_]", strip_emoticons(s.text[sp.start:sp.end])) and sp.kind != "narration":
                assert sp.speech.strip(), (sp, s.text)          # a line with words is said
            for mark in ("*", "~", "/", "<3", "_", "#", "<", ">"):
                assert mark not in sp.speech
