"""Plain text as it is found in the wild: one fixture per shape real fic comes in (copies
from fanfiction.net, AO3, LiveJournal, Dreamwidth; the prose is our own), asserted in full."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobook.read import read
from audiobook.segment import segment
from audiobook.segment.blocks import cut
from audiobook.segment.lines import is_scene_break, section_title

from .test_segment import check_invariants, table

WILD = Path(__file__).resolve().parent / "fixtures" / "wild"


def wild(name: str):
    script = segment(read(WILD / name))
    check_invariants(script)
    return script


def runs(*spec):
    """[(row, count), ...] -> the rows, each repeated count times."""
    return [row for row, count in spec for _ in range(count)]


def said(script) -> list[bool]:
    return [bool(s.speech) for s in script.segments]


# 1. Single newlines between paragraphs ---------------------------------------------------------

def test_single_newline_paragraphs_with_a_fanfiction_net_header():
    script = wild("single-newlines.txt")
    note, story, end = ("note", "Author's note", 1), ("narration", "Story", 1), ("note", "End notes", 1)
    assert table(script) == runs((note, 7), (story, 9), (end, 3))
    segs = script.segments
    # every line is a paragraph of its own: nine story paragraphs, never one merged note
    assert segs[7].text.startswith("The boat left her") and segs[7].text.endswith("a smudge against the grey.")
    assert segs[14].text == '"Go," he said. "The wick."'
    # the header: title line, "By:", summary, "Rated:" line; then the multi-line A/N
    assert [s.text for s in segs[:2]] == ["The Lighthouse Keeper's Apprentice", "By: saltwater_ink"]
    assert said(script)[:7] == [False, False, True, False, True, True, True]
    assert segs[2].speech.startswith("Mira spends one winter")
    assert segs[6].text == "Enjoy!"                                # the hand-off ends the note
    meta = script.document.meta
    assert (meta.title, meta.author, meta.rating, meta.words) == ("The Lighthouse Keeper's Apprentice", "saltwater_ink", "T", 1204)
    assert meta.summary.startswith("Mira spends one winter") and meta.published == "2015-03-14"


def test_hard_wrapped_text_with_single_newlines_between_paragraphs():
    script = wild("hard-wrapped.txt")
    assert table(script) == runs((("note", "Author's note", 1), 1), (("narration", "Story", 1), 7), (("note", "End notes", 1), 1))
    segs = script.segments
    # the wrapped note is one unit, spoken without its label, lines joined
    assert segs[0].speech.startswith("This story was written for the autumn exchange over on Dreamwidth.")
    assert segs[0].speech.endswith("all mistakes are mine.")
    # wrapped lines are joined; a line that stops short ends its paragraph
    assert segs[1].speech.startswith("The cat arrived on a Tuesday")
    assert segs[1].speech.endswith("decided how this was going to end.")
    assert [s.text for s in segs[2:4]] == ['"Absolutely not," Theo told it.', "The cat blinked slowly and went on sitting there."]
    # a paragraph that ends near the margin: the sentence ends and the next line starts anew
    assert segs[4].text.endswith("at four in the afternoon.") and segs[4].text.count("\n") == 2
    assert segs[5].text.startswith("Sam came home") and segs[5].text.count("\n") == 1


def test_layout_is_decided_per_text_not_per_line():
    # The same words, hard-wrapped at 40 columns: one paragraph. Unwrapped, one line each: three.
    prose = ("The rain came down all afternoon and the street outside filled with water. "
             "Nobody went out. The cat slept on the radiator and dreamed of fish.")
    import textwrap
    wrapped = "\n".join(textwrap.wrap(prose, 40)) + "\n\n" + "\n".join(textwrap.wrap(prose, 40))
    assert [u.text.count("\n") for u in cut(wrapped)] == [wrapped.split("\n\n")[0].count("\n")] * 2
    lines = "The rain came down.\nNobody went out.\nThe cat slept on the radiator."
    assert [u.text for u in cut(lines)] == lines.split("\n")


# 2. Notes and summaries longer than one paragraph ----------------------------------------------

def test_multi_paragraph_notes_and_a_note_written_as_a_script():
    script = wild("long-notes.txt")
    note, end = ("note", "Author's note", 1), ("note", "End notes", 1)
    assert table(script) == runs(
        (note, 8), (("scene_break", "Author's note", 1), 1),
        (("narration", "Story", 1), 4), (("scene_break", "Story", 1), 1), (end, 4),
    )
    segs = script.segments
    assert [s.text for s in segs[3:7]] == ["Me: Rowan, say hello to the nice readers.", "Rowan: No.", "Me: Rowan.", "Rowan: ...hello."]
    assert all(said(script)[:8])                                     # every paragraph of the note is said
    assert segs[0].speech == "Okay, so before we start, I need to explain a few things."   # label not said
    assert segs[14].speech.startswith("And there you go!")
    assert segs[-1].text == "Until next time, lovelies!"


# 3. Header blocks and labels -------------------------------------------------------------------

def test_header_block_labels_are_structure_and_fill_the_metadata():
    script = wild("header-labels.txt")
    assert table(script) == runs(
        (("note", "Author's note", 1), 14), (("narration", "Story", 1), 4), (("note", "End notes", 1), 2),
    )
    segs = script.segments
    assert said(script) == [False] * 7 + [True, False, False, True, True, False, False] + [True] * 4 + [False, True]
    assert segs[7].speech.startswith("Every spring the children of the harbour")   # "Summary:" is not said
    assert segs[8].text == "Feb 15, 2012 06:47"
    assert [s.text for s in segs[12:14]] == ["See the end of the chapter for more notes", "Chapter Text"]
    assert segs[18].text == "Chapter End Notes"
    meta = script.document.meta
    assert meta.title == "Paper Boats" and meta.authors == ("inkwellandquill",)
    assert meta.fandoms == ("The Old Harbour (TV)",) and meta.relationships == ("Jonah/Eliza",)
    assert meta.rating == "PG-13" and meta.words == 640 and meta.published == "2012-02-15" and meta.year == 2012
    assert meta.warnings == ("brief mention of a shipwreck", "nothing graphic")
    assert meta.summary.startswith("Every spring")
    for s in segs:
        assert not s.speech.lower().startswith(("title", "author", "rating", "summary", "notes", "chapter text"))


def test_a_sidecar_wins_over_the_header(tmp_path):
    text = (WILD / "header-labels.txt").read_text(encoding="utf-8")
    (tmp_path / "work.txt").write_text(text, encoding="utf-8")
    (tmp_path / "work.toml").write_text('title = "Boats of Paper"\nrating = "Teen"\n', encoding="utf-8")
    meta = segment(read(tmp_path / "work.txt")).document.meta
    assert (meta.title, meta.rating, meta.authors) == ("Boats of Paper", "Teen", ("inkwellandquill",))


# 4. Scene breaks of any glyph ------------------------------------------------------------------

def test_scene_breaks_of_any_glyph_are_silent():
    script = wild("scene-breaks.txt")
    breaks = [s for s in script.segments if s.role == "scene_break"]
    assert [s.text for s in breaks] == [
        "oooooooooooo", "xXxXxXxXx", "-o-o-o-o-o-", "~~~", "=====", "+++", "<><><><>", "*~*~*~*", "§", "❄️❄️❄️",
    ]
    assert all(s.speech == "" for s in breaks)
    assert [s.role for s in script.segments] == ["narration", "scene_break"] * 10 + ["narration"]


@pytest.mark.parametrize("line", ["xoxo", "XOXO", "xxx", "xx", "ooo", "Oh", ":)", "<3", '"..."', "x", "Ooh!", "!!!"])
def test_sign_offs_faces_and_words_are_not_scene_breaks(line):
    assert not is_scene_break(line)


# 5. Section titles -----------------------------------------------------------------------------

def test_numbered_bold_and_centred_section_titles_are_chapter_marks():
    script = wild("section-titles.txt")
    t1, t2, t3, t4, t5 = "1. The Library", "2. The Train", "3. Fiction Days", "Part Four: The Fall", "The Last Time"
    assert table(script) == [
        ("note", "Author's note", 1),                          # the title line: the work's title
        ("heading", t1, 1), ("narration", t1, 1), ("narration", t1, 1),
        ("heading", t2, 1), ("narration", t2, 1), ("narration", t2, 1),
        ("heading", t3, 1), ("narration", t3, 1), ("narration", t3, 1),
        ("heading", t4, 1), ("narration", t4, 1),
        ("heading", t5, 1), ("narration", t5, 1),
    ]
    assert script.document.meta.title == "Five Times Nadia Almost Said It (And One Time She Did)"
    assert script.segments[1].speech == "1. The Library"


@pytest.mark.parametrize("line, title", [
    ("**1. Come To Me**", True), ("7. Fiction Days", True), ("## The Return", True), ("__Winter__", True),
    ("1. Eggs, milk, and bread.", False), ("3. Eyes Open – Taylor Swift", False), ("He left.", False),
    ("2. He said no and walked away.", False),
])
def test_section_title_shapes(line, title):
    assert section_title(line) is title


# 6. Lyrics in prose ----------------------------------------------------------------------------

def test_songfic_lyrics_in_italics_and_stanzas():
    script = wild("songfic.txt")
    story = ("narration", "Story", 1)
    assert table(script) == [
        ("note", "Author's note", 1), story, story, ("lyrics", "Story", 1), story,
        ("lyrics", "Story", 1), story, ("lyrics", "Story", 1), story,
    ]
    lyrics = [s for s in script.segments if s.role == "lyrics"]
    assert lyrics[0].speech == "We left the lanterns burning, We left the door unlocked, And every night you didn't come, I wound the broken clock"
    assert lyrics[1].speech == "You said you'd find the river"        # one italic line: lyrics, as the work names a song
    assert lyrics[2].text.startswith("And every light along the water\nWas a promise")
    assert script.quoted_songs == (type(script.quoted_songs[0])("Lanterns in the Rain", "The Paper Cranes"),)
    assert script.songs == ()                                          # no interludes: only the credit


def test_an_italic_line_without_a_song_is_a_thought_not_lyrics():
    script = segment(read_text("He stopped at the door.\n\n*I can't do this.*\n\nThen he knocked."))
    assert [s.role for s in script.segments] == ["narration"] * 3


# 7. Letters in more shapes ---------------------------------------------------------------------

def test_letters_closing_and_signature_on_one_line_and_bare_name_answers():
    script = wild("letters.txt")
    L = lambda n: f"Letter {n}"  # noqa: E731
    assert table(script) == [
        ("narration", "Story", 1),
        ("salutation", L(1), 1), ("body", L(1), 1), ("body", L(1), 1), ("closing", L(1), 1),   # Love always, Mum <3
        ("narration", "Story, part 2", 1), ("narration", "Story, part 2", 1),
        ("salutation", L(2), 1), ("body", L(2), 1), ("body", L(2), 1), ("closing", L(2), 1),   # Yours, Maggie
        ("narration", "Story, part 3", 1),
        ("salutation", L(3), 1), ("body", L(3), 1), ("closing", L(3), 1), ("signature", L(3), 1),
        ("salutation", L(4), 1), ("body", L(4), 1), ("closing", L(4), 1),                      # Sam, after Mum
        ("narration", "Story, part 4", 1),
    ]
    segs = script.segments
    assert segs[4].speech == "Love always, Mum"
    assert [segs[i].text for i in (7, 16)] == ["Mum,", "Sam,"]


def test_a_letter_inside_prose_ends_where_the_prose_resumes():
    text = (
        "Dear Tom,\n\nI miss you every day. Come home soon, and bring the dog.\n\n"
        "He folded the letter twice and put it in his coat pocket. The train was already moving."
    )
    assert [s.role for s in segment(read_text(text)).segments] == ["salutation", "body", "narration"]


# 8. What is said -------------------------------------------------------------------------------

def test_inline_author_notes_and_edit_notes_are_notes():
    script = wild("what-is-said.txt")
    assert table(script) == [
        ("note", "Author's note", 1),                                   # [EDIT 9/30/21: ...]
        ("narration", "Story", 1), ("narration", "Story", 1),
        ("narration", "Story", 1), ("note", "Story", 1), ("narration", "Story", 1),   # one paragraph, three pieces
        ("narration", "Story", 1),
    ]
    segs = script.segments
    assert segs[0].speech == "EDIT September thirtieth, twenty twenty-one: fixed some typos, thanks to everyone who pointed them out!"
    assert segs[1].speech == ("Mister Okafor had taught at Saint Brigid's for two thirds of his life, "
                              "and on the 1st of every month he still walked in at 06:47 exactly.")   # eSpeak says these right
    assert segs[2].speech == ("You were late, Lieutenant Harrow said, when Okafor finally appeared at the staff room door. "
                              "I've been waiting since February fifteenth, twenty twelve.")   # its spans, in order
    assert segs[3].speech == "Okafor laughed and handed him a coffee that had cost four dollars fifty."
    assert segs[3].text == "Okafor laughed and handed him a coffee that had cost $4.50."
    assert segs[4].text == "(A/N: yes, I know that's expensive, it's a fancy coffee shop.)"
    assert segs[4].speech.startswith("Author's note: yes, I know")
    assert segs[5].text.startswith("The two of them")


def read_text(text: str):
    from audiobook.models import Document, Metadata
    return Document(path=Path("inline.txt"), text=text, meta=Metadata(title="Inline"), encoding="utf-8")
