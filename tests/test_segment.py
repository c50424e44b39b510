"""Segmenting: the seed and each fixture asserted in full (roles, chapters, parts, songs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobook.models import ROLES, Document, Metadata, Script, Song
from audiobook.read import read
from audiobook.segment import parse_song_line, segment, split_song_titles

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED = ROOT / "input" / "like-we-used-to-letter.txt"


def doc(text: str, lexicon: dict[str, str] | None = None) -> Document:
    meta = Metadata(title="Test", lexicon=lexicon or {})
    return Document(path=Path("test.txt"), text=text, meta=meta, encoding="utf-8")


def table(script: Script) -> list[tuple[str, str, int]]:
    return [(s.role, s.chapter, s.part) for s in script.segments]


def songs(script: Script) -> list[tuple[str, str]]:
    return [(s.title, s.artist) for s in script.songs]


def check_invariants(script: Script) -> None:
    text = script.document.text
    segs = script.segments
    assert [s.index for s in segs] == list(range(len(segs)))
    previous_end = -1
    seen = set()
    for s in segs:
        assert s.role in ROLES
        start, end = s.span
        assert text[start:end] == s.text
        assert s.text == s.text.strip() and s.text
        assert s.voice is None
        assert s.role != "song" or s.song is not None
        assert s.song is None or s.role in ("song", "lyrics")   # lyrics name the song they quote
        if s.role == "scene_break":
            assert s.speech == ""
        if s.span in seen:
            assert s.role == "song"      # only the songs of one line share a span
            continue
        seen.add(s.span)
        assert start >= previous_end
        previous_end = end
    for bad in ("*", "~", "/", "<3", "_"):
        assert all(bad not in s.speech for s in segs), bad


# --- the seed -------------------------------------------------------------------------------

SEED_SONGS = [
    ("Like We Used To", "A Rocket To The Moon"),
    ("Miserable At Best", "Mayday Parade"),
    ("The Memory", "Mayday Parade"),
    ("Forever and Always", "Taylor Swift"),
    ("Last Kiss", "Taylor Swift"),
    ("When You're Gone", "Avril Lavigne"),
    ("Wish You Were Here", "Avril Lavigne"),
    ("What About Me", "Emily Osment"),
    ("I'm Not That Girl", "The 2003 cast of Wicked/Idina Menzel"),
    ("Another Now", "Kate Alexa"),
]


@pytest.fixture(scope="module")
def seed() -> Script:
    return segment(read(SEED))


def test_seed_roles_and_chapters_in_full(seed):
    expected = (
        [("note", "Author's note", 1)] * 3
        + [("salutation", "The letter", 1)]
        + [("body", "The letter", 1)] * 13
        + [("closing", "The letter", 1), ("signature", "The letter", 1), ("signature", "The letter", 1)]
        + [("note", "End notes", 1), ("playlist", "End notes", 1)]
        + [("song", f"Interlude: {title}", 1) for title, _ in SEED_SONGS]
    )
    assert table(seed) == expected
    check_invariants(seed)


def test_seed_songs(seed):
    assert songs(seed) == SEED_SONGS
    two = [s for s in seed.segments if s.role == "song" and s.song.title in ("Forever and Always", "Last Kiss")]
    assert two[0].span == two[1].span
    assert two[0].text == "Forever and Always & Last Kiss - Taylor Swift"
    assert [s.speech for s in seed.segments if s.role == "song"][0] == (
        "Interlude: Like We Used To, by A Rocket To The Moon."
    )
    wicked = next(s for s in seed.segments if s.song and s.song.title == "I'm Not That Girl")
    assert wicked.speech == "Interlude: I'm Not That Girl, by The 2003 cast of Wicked and Idina Menzel."


def test_seed_texts_and_speech(seed):
    segs = seed.segments
    assert segs[3].text == "Dear Magnus"
    assert segs[17].text == "I will always love you"
    assert [s.text for s in segs[18:20]] == ["-Alec Lightwood", "Alexander Lightwood"]
    assert segs[18].speech == "Alec Lightwood"
    assert segs[21].text.startswith("And I don't know if anyone is interested")
    assert segs[21].text.endswith("while I wrote this:")
    assert segs[0].speech.endswith("reviewed this story")           # ":)" is not read out
    assert "Camille" in segs[7].speech    # eSpeak says it right: voices/lexicon.toml has no entry
    assert all(s.span[1] <= len(seed.document.text) for s in segs)


# --- fixtures -------------------------------------------------------------------------------


def fixture(name: str) -> Script:
    script = segment(read(FIXTURES / name))
    check_invariants(script)
    return script


def test_two_letters_in_one_chapter():
    script = fixture("two-letters.txt")
    L1, L2 = "Letter 1", "Letter 2"
    assert table(script) == [
        ("note", "Author's note", 1),
        ("narration", "Story", 1),
        ("narration", "Story", 1),
        ("salutation", L1, 1),                 # My dearest Izzy,
        ("body", L1, 1), ("body", L1, 1), ("body", L1, 1),
        ("closing", L1, 1),                    # Love always,   } one block
        ("signature", L1, 1),                  # Alec           }
        ("body", L1, 1),                       # P.S. ...
        ("narration", "Story, part 2", 1),
        ("salutation", L2, 1),                 # Alec,  (a bare name)
        ("body", L2, 1), ("body", L2, 1),
        ("closing", L2, 1),                    # Yours, always,
        ("signature", L2, 1),                  # Izzy
        ("narration", "Story, part 3", 1),
        ("note", "End notes", 1),
    ]
    assert songs(script) == []
    segs = script.segments
    assert [segs[i].text for i in (3, 7, 8, 11, 14, 15)] == [
        "My dearest Izzy,", "Love always,", "Alec", "Alec,", "Yours, always,", "Izzy",
    ]
    assert segs[9].text.startswith("P.S.")
    assert "Jace yet" in segs[9].speech                      # no respelling that changes nothing


def test_no_authors_notes():
    script = fixture("no-notes.txt")
    assert table(script) == (
        [("narration", "Story", 1)] * 5
        + [("scene_break", "Story", 1)]
        + [("narration", "Story, part 2", 1)] * 2
        + [("scene_break", "Story, part 2", 1)]
        + [("narration", "Story, part 3", 1)] * 4
    )
    assert [s.text for s in script.segments if s.role == "scene_break"] == ["~*~*~", "* * *"]
    assert songs(script) == []
    # a spaced dash in prose is a pause, not a word
    assert "kerb, the same puddle" in script.segments[1].speech


def test_an_markers_and_scene_breaks():
    script = fixture("an-markers-scene-breaks.txt")
    assert table(script) == (
        [("note", "Author's note", 1)] * 2              # "Author's Note:" + the note under it
        + [("narration", "Story", 1)] * 3
        + [("scene_break", "Story", 1)]                 # oOo
        + [("narration", "Story, part 2", 1)] * 4
        + [("scene_break", "Story, part 2", 1)]         # ***
        + [("narration", "Story, part 3", 1)] * 3
        + [("scene_break", "Story, part 3", 1)]         # ~*~*~
        + [("note", "End notes", 1)] * 2                # A/N + "Happy holidays, everyone."
    )
    segs = script.segments
    assert [s.text for s in segs if s.role == "scene_break"] == ["oOo", "***", "~*~*~"]
    assert segs[-2].speech == "Author's note: And that's it! I hope you liked it, it was so much fun to write"
    assert segs[-1].text == "Happy holidays, everyone."


def test_narrative_with_numbered_and_bulleted_playlist():
    script = fixture("playlist-numbered.txt")
    interludes = [("song", f"Interlude: {t}", 1) for t in
                  ("The Hanging Tree", "Safe & Sound", "Eyes Open", "Atlas")]
    assert table(script) == (
        [("note", "Author's note", 1)]
        + [("narration", "Story", 1)] * 6
        + [("note", "End notes", 1), ("playlist", "End notes", 1)]
        + interludes
        + [("playlist", "End notes", 1)]
        + [("song", "Interlude: Yellow", 1), ("song", "Interlude: Kingdom Come", 1)]
    )
    assert songs(script) == [
        ("The Hanging Tree", "James Newton Howard"),
        ("Safe & Sound", "Taylor Swift"),          # one quoted title keeps its '&'
        ("Eyes Open", "Taylor Swift"),             # en dash
        ("Atlas", "Coldplay"),
        ("Yellow", "Coldplay"),                    # bullets
        ("Kingdom Come", "The Civil Wars"),
    ]
    segs = script.segments
    assert segs[8].text == "Soundtrack for this chapter:"
    assert segs[9].text == '1. "The Hanging Tree" by James Newton Howard'
    assert segs[10].speech == "Interlude: Safe and Sound, by Taylor Swift."


def test_windows_1252_with_crlf():
    raw = (FIXTURES / "cp1252-crlf.txt").read_bytes()
    assert b"\r\n" in raw and b"\x93" in raw and b"\x94" in raw and b"\x96" in raw
    document = read(FIXTURES / "cp1252-crlf.txt")
    assert document.encoding == "cp1252"
    assert "\r" not in document.text
    assert "Title: \u201cA Pocket Full of Stars\u201d\nRating: Teen" in document.text
    assert "war \u2013 neatly" in document.text and "You\u2019re still up" in document.text
    script = segment(document)
    check_invariants(script)
    assert table(script) == (
        [("note", "Author's note", 1)] * 2                 # the header's labels, one a line
        + [("narration", "Story", 1)] * 6
        + [("note", "End notes", 1)]
    )
    segs = script.segments
    # Labels are structure: never said; their values fill the metadata (no sidecar here).
    assert [s.text for s in segs[:2]] == ["Title: \u201cA Pocket Full of Stars\u201d", "Rating: Teen"]
    assert [s.speech for s in segs[:2]] == ["", ""]
    assert script.document.meta.title == "A Pocket Full of Stars"
    assert script.document.meta.rating == "Teen"
    assert segs[-1].speech == "I know this chapter was a bit short, the next one is longer, I promise!"
    assert songs(script) == []


def test_utf8_with_bom():
    assert (FIXTURES / "utf8-bom.txt").read_bytes().startswith(b"\xef\xbb\xbfDedication")
    document = read(FIXTURES / "utf8-bom.txt")
    assert document.encoding == "utf-8-sig" and document.text.startswith("Dedication:")
    script = segment(document)
    check_invariants(script)
    assert table(script) == [
        ("note", "Author's note", 1),
        ("salutation", "The letter", 1),       # Dear Diary,
        ("body", "The letter", 1), ("body", "The letter", 1),
        ("closing", "The letter", 1),          # Goodnight,  } one block
        ("signature", "The letter", 1),        # Cas         }
        ("body", "The letter", 1),             # P.S.
        ("scene_break", "The letter", 1),      # ---
        ("narration", "Story", 1), ("narration", "Story", 1),
    ]
    assert script.segments[-1].speech.endswith("clipped to the cover")   # the heart is dropped


def test_chapter_headings():
    script = fixture("chapters.txt")
    c1, c2 = "Chapter 1", "Chapter 2: Spin Cycle"
    assert table(script) == (
        [("note", "Author's note", 1), ("heading", c1, 1)]
        + [("narration", c1, 1)] * 4
        + [("heading", c2, 2), ("note", c2, 2)]
        + [("narration", c2, 2)] * 2
        + [("scene_break", c2, 2)]
        + [("narration", c2, 2)] * 3
        + [("heading", "Epilogue", 3), ("narration", "Epilogue", 3), ("note", "End notes", 3)]
    )
    assert [s.text for s in script.segments if s.role == "heading"] == ["Chapter 1", c2, "Epilogue"]


# --- smaller shapes -------------------------------------------------------------------------


def test_letter_parts_in_one_block_and_dash_signature_without_closing():
    text = (
        "To Jace,\nI am only writing this because Clary made me.\n\n"
        "You were right about the demon. Don't let it go to your head.\n\n"
        "— Simon\n\n"
        "He folded the note into a paper plane and threw it out of the window."
    )
    script = segment(doc(text))
    check_invariants(script)
    assert [s.role for s in script.segments] == ["salutation", "body", "body", "signature", "narration"]
    assert script.segments[0].text == "To Jace,"
    assert script.segments[3].speech == "Simon"
    assert [s.chapter for s in script.segments] == ["The letter"] * 4 + ["Story"]


def test_narration_before_and_after_a_letter():
    text = (
        "The letter came on a Tuesday.\n\n"
        "Dear Harry,\n\nThe owls are restless. Come soon.\n\nLove,\nHermione\n\n"
        "He read it twice and went to pack."
    )
    script = segment(doc(text))
    assert table(script) == [
        ("narration", "Story", 1),
        ("salutation", "The letter", 1), ("body", "The letter", 1),
        ("closing", "The letter", 1), ("signature", "The letter", 1),
        ("narration", "Story, part 2", 1),
    ]


def test_one_line_letter_start_and_authors_sign_off():
    text = (
        "Dear Magnus, I have so much to say to you and no idea where to start.\n\n"
        "Love,\nAlec\n\n"
        "A/N: Thanks for reading!\n\nLots of love, Sam"
    )
    script = segment(doc(text))
    check_invariants(script)
    assert table(script) == [
        ("body", "The letter", 1), ("closing", "The letter", 1), ("signature", "The letter", 1),
        ("note", "End notes", 1), ("note", "End notes", 1),
    ]


def test_authors_sign_off_after_a_story_without_letters():
    script = segment(doc("It rained.\n\nThanks for reading!\n\nLots of love,\nSam"))
    assert [s.role for s in script.segments] == ["narration", "note", "note", "note"]


def test_dear_readers_is_a_note_not_a_letter():
    script = segment(doc("Dear readers,\n\nSorry for the wait!\n\nThe war was over."))
    assert [s.role for s in script.segments] == ["note", "note", "narration"]


def test_playlist_with_blank_lines_between_songs_and_a_song_line():
    text = (
        "A/N: Song for this chapter below!\n\n"
        "Song: Everybody Wants to Rule the World - Tears for Fears\n\n"
        "The city burned all night.\n\n"
        "Playlist:\n\n"
        "- Hallelujah - Jeff Buckley\n\n"
        "- Skinny Love - Bon Iver\n\n"
        "Thanks for reading!"
    )
    script = segment(doc(text))
    check_invariants(script)
    assert [s.role for s in script.segments] == [
        "note", "song", "narration", "playlist", "song", "song", "note",
    ]
    assert songs(script) == [
        ("Everybody Wants to Rule the World", "Tears for Fears"),
        ("Hallelujah", "Jeff Buckley"),
        ("Skinny Love", "Bon Iver"),
    ]
    assert [s.chapter for s in script.segments] == [
        "Author's note", "Interlude: Everybody Wants to Rule the World", "Story",
        "End notes", "Interlude: Hallelujah", "Interlude: Skinny Love", "End notes",
    ]


def test_mid_story_marked_note_and_headings_after_a_preamble():
    text = (
        "Chapter One\n\nThe ship left at dawn.\n\n"
        "(A/N: this bit is based on a real storm, sorry!)\n\n"
        "The storm came at noon.\n\n"
        "Chapter Two - Landfall\n\nThey saw land on the third day."
    )
    script = segment(doc(text))
    assert table(script) == [
        ("heading", "Chapter One", 1), ("narration", "Chapter One", 1),
        ("note", "Chapter One", 1), ("narration", "Chapter One", 1),
        ("heading", "Chapter Two - Landfall", 2), ("narration", "Chapter Two - Landfall", 2),
    ]


def test_part_is_one_without_headings_and_single_paragraph():
    script = segment(doc("Just one paragraph, nothing else."))
    assert table(script) == [("narration", "Story", 1)]
    assert script.segments[0].span == (0, len("Just one paragraph, nothing else."))


def test_lexicon_argument_and_sidecar_lexicon():
    text = "Magnus smiled at Camille."
    assert segment(doc(text), lexicon={"Magnus": "Mag-nus"}).segments[0].speech == "Mag-nus smiled at Camille."
    # lexicon=None: voices/lexicon.toml, with the work's own entries winning
    script = segment(doc(text, lexicon={"camille": "Ka-meal"}))
    assert script.segments[0].speech == "Magnus smiled at Ka-meal."


@pytest.mark.parametrize(
    "line, expected",
    [
        ("Like We Used To - A Rocket To The Moon", [("Like We Used To", "A Rocket To The Moon")]),
        ("Eyes Open – Taylor Swift", [("Eyes Open", "Taylor Swift")]),
        ("Eyes Open — Taylor Swift", [("Eyes Open", "Taylor Swift")]),
        ('1. "The Hanging Tree" by James Newton Howard', [("The Hanging Tree", "James Newton Howard")]),
        ("2) \u201cYellow\u201d by Coldplay", [("Yellow", "Coldplay")]),
        ("• Stand by Me by Ben E. King", [("Stand by Me", "Ben E. King")]),
        ("* 'Mr. Brightside' - The Killers", [("Mr. Brightside", "The Killers")]),
        ('"Mine" & "Fearless" by Taylor Swift', [("Mine", "Taylor Swift"), ("Fearless", "Taylor Swift")]),
        ("Forever and Always & Last Kiss - Taylor Swift",
         [("Forever and Always", "Taylor Swift"), ("Last Kiss", "Taylor Swift")]),
        ("Forever and Always - Taylor Swift", [("Forever and Always", "Taylor Swift")]),
        ("Me & Mr Jones - Amy Winehouse", [("Me & Mr Jones", "Amy Winehouse")]),
        ("Sound of Silence - Simon & Garfunkel", [("Sound of Silence", "Simon & Garfunkel")]),
        ("- Hallelujah", [("Hallelujah", "")]),
        ("He walked home. It was late - very late.", None),
        ("Thanks for reading - see you next time!", None),
        ("Just a plain sentence about nothing", None),
    ],
)
def test_parse_song_line(line, expected):
    found = parse_song_line(line)
    assert (None if found is None else [(s.title, s.artist) for s in found]) == expected


def test_parse_song_line_loose_allows_a_bare_title():
    assert parse_song_line("Forever and Always", loose=True) == [Song("Forever and Always", "")]
    assert parse_song_line("Forever and Always") is None


def test_split_song_titles():
    assert split_song_titles("Miserable At Best & The Memory") == ["Miserable At Best", "The Memory"]
    assert split_song_titles("Forever and Always") == ["Forever and Always"]
    assert split_song_titles("Me & Mr Jones") == ["Me & Mr Jones"]


def test_every_fixture_has_a_shape_of_its_own():
    names = sorted(p.name for p in FIXTURES.glob("*.txt"))
    assert len(names) >= 6
    shapes = {tuple(s.role for s in segment(read(FIXTURES / n)).segments) for n in names}
    assert len(shapes) == len(names)
