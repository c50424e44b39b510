"""Downloads read in full: AO3 (HTML, EPUB), FanFicFare (HTML, EPUB, TXT), any other page or
book. Fixtures in tests/fixtures/downloads are our own prose in the real formats' shapes
(see the README there); each is asserted to the last segment: metadata, roles, chapters,
and that nothing said holds markup or the archives' boilerplate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audiobook.models import Song
from audiobook.read import read
from audiobook.segment import segment

from .test_segment import check_invariants, table

DOWNLOADS = Path(__file__).resolve().parent / "fixtures" / "downloads"
# Never said: markup, or what the archives and FanFicFare put around a work.
NEVER_SAID = re.compile(
    r"<|>|\bdiv\b|class=|href|userstuff|Posted originally|Archive of Our Own|See the end|Chapter Text|"
    r"Chapter (?:End )?Notes|End Notes|Rating:|Archive Warning|Summary for the Chapter|Notes for the Chapter|"
    r"Table of Contents|End file|Packaged|Publisher|Please drop by|Works inspired|Preface|Afterword|https?:",
    re.IGNORECASE,
)


def script_of(name: str):
    script = segment(read(DOWNLOADS / name))
    check_invariants(script)
    for s in script.segments:
        assert not NEVER_SAID.search(s.speech), (name, s.index, s.speech)
    return script


def runs(*spec):
    return [row for row, count in spec for _ in range(count)]


# --- AO3 ------------------------------------------------------------------------------------

C1, C2, C3 = "Chapter 1: Ink and Salt", "Chapter 2", "Chapter 3: The Last Map"
AO3_MULTI = runs(
    (("note", "Author's note", 1), 4),                       # summary (2 paragraphs), notes (2)
    (("heading", C1, 1), 1), (("note", C1, 1), 3),           # chapter summary, chapter notes (2)
    (("narration", C1, 1), 3), (("scene_break", C1, 1), 1),  # <hr>
    (("salutation", C1, 1), 1), (("body", C1, 1), 1), (("closing", C1, 1), 1), (("signature", C1, 1), 1),
    (("narration", C1, 1), 1), (("scene_break", C1, 1), 1),  # a centred ~*~*~
    (("narration", C1, 1), 1), (("note", C1, 1), 1),         # chapter end notes
    (("heading", C2, 2), 1), (("narration", C2, 2), 3), (("lyrics", C2, 2), 1), (("narration", C2, 2), 1),
    (("note", C2, 2), 1),
    (("heading", C3, 3), 1), (("note", C3, 3), 1), (("narration", C3, 3), 2),
    (("heading", "Epilogue", 3), 1), (("narration", "Epilogue", 3), 1),   # a bold title: a section, not a chapter
    (("playlist", "End notes", 3), 1),
    (("song", "Interlude: Northern Lights", 3), 1), (("song", "Interlude: Salt Roads", 3), 1),
    (("song", "Interlude: Lantern Season", 3), 1),
    (("note", "End notes", 3), 1),                            # the work's end notes
)


@pytest.mark.parametrize("name", ["ao3-multi.html", "ao3-multi.epub"])
def test_ao3_multi_chapter_download(name):
    script = script_of(name)
    meta = script.document.meta
    assert meta.title == "The Cartographer's Daughter"
    assert meta.authors == ("inkwell_and_tide", "mapmaker_b") and meta.author == "inkwell_and_tide and mapmaker_b"
    assert meta.fandoms == ("Original Work", "Maps & Margins (Web Series)")
    assert meta.rating == "Teen And Up Audiences" and meta.warnings == ("No Archive Warnings Apply",)
    assert meta.category == ("F/F", "Gen")
    assert meta.relationships == ("Wren/Ottoline", "Wren & Her Father")
    assert meta.characters == ("Wren", "Ottoline", "Abel Marsh")
    assert meta.tags == ("Letters", "Slow Burn", "Songfic")
    assert (meta.series, meta.series_part, meta.language) == ("Coastlines", 3, "en")
    assert (meta.published, meta.updated, meta.year, meta.words, meta.chapters) == ("2023-05-02", "2023-06-18", 2023, 1948, "3/3")
    assert meta.url == "https://archiveofourown.org/works/4401127"
    assert meta.summary == ("Wren inherits her father's maps and the one coastline he never finished.\n"
                            "Ottoline knows where it ends, and she is not telling.")
    assert table(script) == AO3_MULTI
    segs = script.segments
    assert [s.text for s in segs if s.role == "heading"] == [C1, C2, C3, "**Epilogue**"]
    assert segs[10].text == "*He never finished the north coast,* she thought. *Of course he didn't.*"
    assert segs[10].speech == "He never finished the north coast, she thought. Of course he didn't."   # no emphasis said
    assert [segs[i].text for i in (12, 14, 15)] == ["Dear Wren,", "Love always,", "Dad"]
    assert segs[24].speech == "Follow the light along the water, Follow it until the map runs out"
    assert segs[24].song == Song("Northern Lights", "The Paper Cranes")    # named in the chapter's end notes
    assert script.songs == (Song("Northern Lights", "The Paper Cranes"), Song("Salt Roads", "Marina Ashby"),
                            Song("Lantern Season", "The Low Tides"))


def test_ao3_html_and_epub_read_alike():
    html, epub = segment(read(DOWNLOADS / "ao3-multi.html")), segment(read(DOWNLOADS / "ao3-multi.epub"))
    assert [(s.role, s.text, s.speech, s.chapter) for s in html.segments] == [(s.role, s.text, s.speech, s.chapter) for s in epub.segments]


@pytest.mark.parametrize("name", ["ao3-single.html", "ao3-single.epub"])
def test_ao3_single_chapter_download(name):
    script = script_of(name)
    meta = script.document.meta
    assert (meta.title, meta.authors, meta.rating, meta.words, meta.chapters) == (
        "A Small Hour", ("inkwell_and_tide",), "General Audiences", 98, "1/1")
    assert table(script) == [("note", "Author's note", 1)] + [("narration", "Story", 1)] * 3 + [("note", "End notes", 1)]
    assert script.segments[0].speech == "Three in the morning, a kettle, and a window."


# --- FanFicFare --------------------------------------------------------------------------------

F1, F2, F3 = "1. Ink and Salt", "2. Chapter 2", "3. The Last Map"
FFF_MULTI = runs(
    (("note", "Author's note", 1), 2),                       # the title page's summary
    (("heading", F1, 1), 1), (("note", F1, 1), 5),           # work notes (2), chapter summary, chapter notes (2)
    (("narration", F1, 1), 3), (("scene_break", F1, 1), 1),
    (("salutation", F1, 1), 1), (("body", F1, 1), 1), (("closing", F1, 1), 1), (("signature", F1, 1), 1),
    (("narration", F1, 1), 1), (("scene_break", F1, 1), 1), (("narration", F1, 1), 1), (("note", F1, 1), 1),
    (("heading", F2, 2), 1), (("narration", F2, 2), 3), (("lyrics", F2, 2), 1), (("narration", F2, 2), 1),
    (("note", F2, 2), 1),
    (("heading", F3, 3), 1), (("note", F3, 3), 1), (("narration", F3, 3), 2),
    (("heading", "Epilogue", 3), 1), (("narration", "Epilogue", 3), 1),
    (("playlist", "End notes", 3), 1),
    (("song", "Interlude: Northern Lights", 3), 1), (("song", "Interlude: Salt Roads", 3), 1),
    (("song", "Interlude: Lantern Season", 3), 1),
    (("note", "End notes", 3), 1),
)


def _fff_meta(meta):
    assert meta.title == "The Cartographer's Daughter" and meta.authors[0] == "inkwell_and_tide"
    assert meta.rating == "Teen And Up Audiences" and meta.warnings == ("No Archive Warnings Apply",)
    assert meta.relationships == ("Wren/Ottoline", "Wren & Her Father") and meta.characters == ("Wren", "Ottoline", "Abel Marsh")
    assert (meta.published, meta.updated, meta.words) == ("2023-05-02", "2023-06-18", 1948)
    assert meta.url == "https://archiveofourown.org/works/4401127"
    assert meta.summary.startswith("Wren inherits her father's maps")


@pytest.mark.parametrize("name", ["fff-multi.html", "fff-multi.epub"])
def test_fanficfare_html_and_epub(name):
    script = script_of(name)
    meta = script.document.meta
    _fff_meta(meta)
    assert meta.fandoms == ("Original Work", "Maps & Margins (Web Series)")            # FanFicFare's "Category"
    assert meta.tags == ("Letters", "Slow Burn", "Songfic", "F/F", "Gen")             # its "Genre"
    assert (meta.series, meta.series_part, meta.chapters) == ("Coastlines", 3, "3")
    assert table(script) == FFF_MULTI
    assert [s.text for s in script.segments if s.role == "heading"] == [F1, F2, F3, "**Epilogue**"]


def test_fanficfare_txt():
    script = script_of("fff-multi.txt")
    _fff_meta(script.document.meta)
    spoken = [(s.role, s.speech) for s in script.segments if s.speech]
    html = [(s.role, s.speech) for s in segment(read(DOWNLOADS / "fff-multi.html")).segments if s.speech]
    # The same words in the same roles as the HTML, but for the summary's line breaks.
    assert [r for r, _ in spoken] == [r for r, _ in html][1:]
    assert [s for _, s in spoken][1:] == [s for _, s in html][2:]
    silent = [s.text for s in script.segments if not s.speech and s.role != "scene_break"]
    assert silent[:2] == ["The Cartographer's Daughter", "by inkwell_and_tide"]
    assert "TABLE OF CONTENTS" in silent and "End file." in silent and "**Notes for the Chapter:**" in silent
    assert [s.part for s in script.segments if s.role == "heading"] == [1, 2, 3, 4]      # "**Epilogue**" in plain text


# --- any other page or book ----------------------------------------------------------------------

def test_generic_html_page():
    script = script_of("generic.html")
    meta = script.document.meta
    assert (meta.title, meta.authors, meta.language) == ("The Tidewater Letters", ("R. Marlowe",), "en-GB")
    assert table(script) == [
        ("note", "Author's note", 1),                        # "Posted on ... by ..." above the first heading
        ("heading", "Part One", 1), ("narration", "Part One", 1), ("narration", "Part One", 1),
        ("narration", "Part One", 1), ("scene_break", "Part One", 1), ("narration", "Part One", 1),
        ("heading", "Part Two", 2), ("narration", "Part Two", 2),
        ("heading", "The Reply", 2), ("narration", "The Reply", 2),   # an h3: a section of Part Two
    ]
    said = " ".join(s.speech for s in script.segments)
    for never in ("Subscribe", "tracking", "Home", "About", "comment", "Recent posts", "baked", "rights reserved", "bye", "Georgia"):
        assert never not in said


def test_generic_epub_book():
    script = script_of("generic.epub")
    meta = script.document.meta
    assert (meta.title, meta.authors, meta.language, meta.published) == ("Low Water", ("Sam Ashdown", "Priya Vale"), "en-GB", "2021-09-14")
    assert meta.summary == "A boy, a bay, and the tide that comes in faster than a horse can gallop."
    assert meta.tags == ("Coming of Age", "Seals")
    assert table(script) == [
        ("heading", "The Flats", 1)] + [("narration", "The Flats", 1)] * 4 + [
        ("heading", "The Channel", 2), ("narration", "The Channel", 2), ("scene_break", "The Channel", 2),
        ("heading", "Afterwards", 2), ("narration", "Afterwards", 2), ("narration", "Afterwards", 2),
    ]
    said = " ".join(s.speech for s in script.segments)
    assert "Contents" not in said and "Title page" not in said and "Cover" not in said   # front matter left out


# --- the sidecar wins -----------------------------------------------------------------------------

def test_a_sidecar_wins_field_by_field(tmp_path):
    (tmp_path / "work.html").write_bytes((DOWNLOADS / "ao3-multi.html").read_bytes())
    (tmp_path / "work.toml").write_text('title = "Maps"\nauthor = ["A", "B", "C"]\nrating = "Mature"\n', encoding="utf-8")
    meta = segment(read(tmp_path / "work.html")).document.meta
    assert (meta.title, meta.authors, meta.rating) == ("Maps", ("A", "B", "C"), "Mature")
    assert meta.author == "A, B and C"
    assert meta.fandoms == ("Original Work", "Maps & Margins (Web Series)")      # not in the sidecar: the download's
