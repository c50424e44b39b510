"""Tagging: ID3v2.3 on real MP3s, checked with ffprobe (independent) and raw mutagen frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers_media import ffprobe, make_jpeg, make_mp3
from mutagen.id3 import ID3, CTOCFlags

from audiobook.errors import FeedError, RenderError
from audiobook.models import Chapter, Episode
from audiobook.tag import language_code, read_episode, write_tags

TITLE = "Letters & <Lies> \"Alec\" 💌"


def _episode(mp3: Path, cover: Path | None = None, **kw) -> Episode:
    values = dict(
        path=mp3,
        title=TITLE,
        author="Jane Ø. Writer",
        album="The Long Way Home",
        track=3,
        year=2021,
        summary="Alec writes to Magnus. Ünïcode & ampersands.",
        genre="Audiobook",
        language="en",
        url="https://archiveofourown.org/works/12345/chapters/678",
        chapters=(
            Chapter("Author's note", 0, 1000),
            Chapter("Dear Magnus", 1000, 4000),
            Chapter("Playlist ♫", 4000, 5000),
        ),
        cover=cover,
        source=Path("/somewhere/000_chapter.txt"),
    )
    values.update(kw)
    return Episode(**values)


@pytest.fixture
def tagged(tmp_path):
    mp3 = make_mp3(tmp_path / "ep.mp3", seconds=5)
    cover = make_jpeg(tmp_path / "ep.jpg", size=(1400, 1400))
    episode = _episode(mp3, cover)
    write_tags(mp3, episode)
    return mp3, episode


def test_header_is_id3v23_at_file_start(tagged):
    mp3, _ = tagged
    head = mp3.read_bytes()[:10]
    assert head[:3] == b"ID3"
    assert head[3] == 3 and head[4] == 0


def test_ffprobe_reads_tags_chapters_and_cover(tagged):
    mp3, _ = tagged
    info = ffprobe(mp3)
    tags = {k.lower(): v for k, v in info["format"]["tags"].items()}
    assert tags["title"] == TITLE
    assert tags["artist"] == "Jane Ø. Writer"
    assert tags["album"] == "The Long Way Home"
    assert tags["track"] == "3"
    assert tags["genre"] == "Audiobook"
    assert tags["date"].startswith("2021")
    chapters = info["chapters"]
    assert [c["tags"]["title"] for c in chapters] == ["Author's note", "Dear Magnus", "Playlist ♫"]
    assert [float(c["start_time"]) for c in chapters] == [0.0, 1.0, 4.0]
    assert float(chapters[1]["end_time"]) == 4.0
    # Last chapter ends at the end of the file.
    assert abs(float(chapters[-1]["end_time"]) - float(info["format"]["duration"])) < 0.1
    pictures = [s for s in info["streams"] if s.get("disposition", {}).get("attached_pic")]
    assert len(pictures) == 1
    assert pictures[0]["codec_name"] == "mjpeg"
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"][0]
    assert audio["sample_rate"] == "44100" and audio["channels"] == 1


def test_raw_frames(tagged):
    mp3, episode = tagged
    raw = ID3(mp3, translate=False)
    assert raw.version == (2, 3, 0)
    assert "TYER" in raw and str(raw["TYER"]) == "2021"
    assert "TDRC" not in raw
    for key in ("TIT2", "TPE1", "TALB", "TRCK", "TCON"):
        assert raw[key].encoding == 1, key  # UTF-16 with BOM
    comm = raw.getall("COMM")[0]
    assert comm.lang == "eng"
    assert "text-to-speech" in comm.text[0] and "Jane Ø. Writer" in comm.text[0]
    apic = raw.getall("APIC")[0]
    assert apic.type == 3 and apic.mime == "image/jpeg"
    assert apic.data == episode.cover.read_bytes()
    tocs = raw.getall("CTOC")
    assert len(tocs) == 1
    toc = tocs[0]
    assert toc.element_id == "toc"
    assert toc.flags & CTOCFlags.TOP_LEVEL and toc.flags & CTOCFlags.ORDERED
    assert toc.child_element_ids == ["chp0", "chp1", "chp2"]
    assert str(toc.sub_frames["TIT2"]) == TITLE
    chaps = {c.element_id: c for c in raw.getall("CHAP")}
    assert set(chaps) == {"chp0", "chp1", "chp2"}
    assert (chaps["chp1"].start_time, chaps["chp1"].end_time) == (1000, 4000)
    assert str(chaps["chp2"].sub_frames["TIT2"]) == "Playlist ♫"


def test_round_trip(tagged, tmp_path):
    mp3, episode = tagged
    (tmp_path / "ep.vtt").write_text("WEBVTT\n", encoding="utf-8")
    (tmp_path / "ep.chapters.json").write_text("{}", encoding="utf-8")
    back = read_episode(mp3)
    assert back.title == TITLE
    assert back.author == episode.author
    assert back.album == episode.album
    assert back.track == 3
    assert back.year == 2021
    assert back.genre == "Audiobook"
    assert back.language == "en"
    assert back.url == episode.url
    assert back.summary == episode.summary
    assert back.chapters[:2] == episode.chapters[:2]
    assert back.chapters[-1].start_ms == 4000
    assert abs(back.chapters[-1].end_ms - back.duration_ms) <= 1
    assert 4900 <= back.duration_ms <= 5100
    assert back.cover == tmp_path / "ep.jpg"
    assert back.transcript == tmp_path / "ep.vtt"
    assert back.chapters_json == tmp_path / "ep.chapters.json"
    assert back.source == Path("000_chapter.txt")
    assert "text-to-speech" in back.comment


def test_chapters_ordered_by_ctoc_not_frame_order(tmp_path):
    mp3 = make_mp3(tmp_path / "many.mp3", seconds=5)
    names = [f"Part {i}" for i in range(12)]  # chp10, chp11 sort before chp2 as strings
    marks = tuple(Chapter(n, i * 400, 5000 if i == 11 else (i + 1) * 400) for i, n in enumerate(names))
    write_tags(mp3, _episode(mp3, chapters=marks, track=None, year=None, summary="", url="", source=None))
    back = read_episode(mp3)
    assert [c.title for c in back.chapters] == names
    # The frames themselves are in play order too, for readers that ignore the CTOC (ffmpeg).
    assert [c["tags"]["title"] for c in ffprobe(mp3)["chapters"]] == names
    assert back.track is None and back.year is None and back.url == "" and back.source is None


def test_retagging_replaces_old_tags(tagged):
    mp3, episode = tagged
    write_tags(mp3, _episode(mp3, title="Second", cover=None, chapters=(Chapter("All", 0, 5000),)))
    raw = ID3(mp3, translate=False)
    assert str(raw["TIT2"]) == "Second"
    assert not raw.getall("APIC")
    assert len(raw.getall("CHAP")) == 1 and len(raw.getall("CTOC")) == 1


@pytest.mark.parametrize(
    "marks, words",
    [
        ((Chapter("a", 100, 5000),), "start at 0"),
        ((Chapter("a", 0, 2000), Chapter("b", 2500, 5000)), "contiguous"),
        ((Chapter("a", 0, 2000), Chapter("b", 2000, 2000), Chapter("c", 2000, 5000)), "not after its start"),
        ((Chapter("a", 0, 2000), Chapter("b", 2000, 9000)), "end of the file"),
    ],
)
def test_bad_chapters_raise_render_error(tmp_path, marks, words):
    mp3 = make_mp3(tmp_path / "bad.mp3", seconds=5)
    with pytest.raises(RenderError, match=words) as info:
        write_tags(mp3, _episode(mp3, chapters=marks))
    assert info.value.path == str(mp3)


def test_not_an_mp3(tmp_path):
    fake = tmp_path / "fake.mp3"
    fake.write_text("this is not audio at all\n" * 20)
    with pytest.raises(FeedError) as info:
        read_episode(fake)
    assert info.value.path == str(fake)
    with pytest.raises(RenderError):
        write_tags(fake, _episode(fake))


def test_language_codes():
    assert language_code("en") == "eng"
    assert language_code("en-GB") == "eng"
    assert language_code("fr") == "fre"
    assert language_code("deu") == "deu"
    assert language_code("xx") == "und"


def test_non_english_language_round_trips(tmp_path):
    mp3 = make_mp3(tmp_path / "fr.mp3", seconds=5)
    write_tags(mp3, _episode(mp3, language="pt-BR"))
    assert ID3(mp3).getall("COMM")[0].lang == "por"
    assert read_episode(mp3).language == "pt-BR"
