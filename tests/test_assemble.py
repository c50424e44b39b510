"""Assembly logic on fake clips (exact sample arithmetic; no speech engine needed)."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from audiobook import assemble as asm
from audiobook.errors import InputError, RenderError
from audiobook.master import ffmpeg_exe
from audiobook.models import Clip, Document, Interludes, Metadata, Piece, Program, Script, Segment, Song

RATE = 22050


def clip(tmp: Path, name: str, seconds: float, text: str = "words") -> Clip:
    path = tmp / f"{name}.wav"
    n = int(seconds * RATE)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.sin(np.arange(n) * 0.05) * 8000).astype("<i2").tobytes())
    return Clip(key=name, path=path, duration_ms=round(n * 1000 / RATE), sample_rate=RATE, text=text)


def script(segments, **meta) -> Script:
    doc = Document(path=Path("x.txt"), text="", meta=Metadata(title="T", **meta), encoding="utf-8")
    return Script(doc, tuple(segments))


def seg(i, role, chapter, text="Some words here.", song=None):
    speech = "" if role == "scene_break" else (f"Interlude: {song.title}." if song else text)
    return Segment(index=i, role=role, text=text, speech=speech, chapter=chapter, song=song)


LETTER = [
    seg(0, "note", "Author's note", "Thanks for reading!"),
    seg(1, "salutation", "The letter", "Dear Magnus"),
    seg(2, "body", "The letter", "First paragraph of the letter, " * 5),
    seg(3, "body", "The letter", "Second paragraph."),
    seg(4, "closing", "The letter", "Love,"),
    seg(5, "signature", "The letter", "Alec"),
    seg(6, "playlist", "End notes", "Songs I listened to:"),
    seg(7, "song", "Interlude: One", "One - A & Two - A", Song("One", "A")),
    seg(8, "song", "Interlude: Two", "One - A & Two - A", Song("Two", "A")),
]


@pytest.fixture
def clips(tmp_path):
    return {s.index: clip(tmp_path, f"c{s.index}", 1.0 + 0.25 * s.index, s.speech) for s in LETTER}


def test_every_spoken_segment_is_laid_out_once_with_pauses_and_contiguous_chapters(tmp_path, clips):
    header = clip(tmp_path, "header", 2.0, "T, by Anonymous.")
    program = asm.assemble(script(LETTER), clips, header=header, outro=clip(tmp_path, "outro", 1.5, "Thanks."))
    speech = [p.source for p in program.pieces if p.kind == "speech"]
    assert speech == [header.path] + [clips[i].path for i in range(9)] + [tmp_path / "outro.wav"]
    # pieces tile the program exactly
    pos = 0
    for piece in program.pieces:
        assert piece.start == pos and piece.length > 0
        pos += piece.length
    assert pos == program.length
    titles = [c.title for c in program.chapters]
    assert titles == ["Introduction", "Author's note", "The letter", "End notes", "Interlude: One", "Interlude: Two", "Credits"]
    assert program.chapters[0].start_ms == 0 and program.chapters[-1].end_ms == program.duration_ms
    for a, b in zip(program.chapters, program.chapters[1:]):
        assert a.end_ms == b.start_ms and a.start_ms < a.end_ms
    # a longer pause between the note and the letter than between two body paragraphs
    gaps = {}
    prev = None
    for piece in program.pieces:
        if piece.kind == "speech" and prev is not None and prev.kind == "silence":
            gaps[piece.source.name] = prev.length
        prev = piece
    assert gaps["c1.wav"] > gaps["c3.wav"] > 0
    # stings frame each interlude announcement
    audible = [p.source.name if p.kind == "speech" else p.kind for p in program.pieces if p.kind != "silence"]
    assert audible[-8:] == ["c6.wav", "sting", "c7.wav", "sting", "sting", "c8.wav", "sting", "outro.wav"]


def test_cues_cover_every_word_in_order_and_fit_a_phone_line(tmp_path, clips):
    program = asm.assemble(script(LETTER), clips)
    words = " ".join(c.text for c in program.cues).split()
    expected = " ".join(s.text if s.song is None else s.speech for s in LETTER).split()
    assert words == expected
    assert all(len(c.text) <= asm.CUE_CHARS for c in program.cues)
    starts = [c.start_ms for c in program.cues]
    assert starts == sorted(starts)
    assert all(c.start_ms <= c.end_ms for c in program.cues)


def test_a_missing_clip_stops_the_render_instead_of_dropping_text(clips):
    del clips[3]
    with pytest.raises(RenderError, match="segment 3"):
        asm.assemble(script(LETTER), clips)


def test_scene_breaks_are_silent_pauses(tmp_path):
    segs = [seg(0, "narration", "Story"), seg(1, "scene_break", "Story", "~*~*~"), seg(2, "narration", "Story, part 2")]
    clips = {0: clip(tmp_path, "a", 1), 2: clip(tmp_path, "b", 1)}
    program = asm.assemble(script(segs), clips)
    assert [p.kind for p in program.pieces] == ["silence", "speech", "silence", "speech", "silence"]
    assert program.pieces[2].length == round(asm.SCENE_BREAK_MS * RATE / 1000)


def test_spread_puts_interludes_between_sections():
    segs = [
        seg(0, "narration", "Story"), seg(1, "narration", "Story"),
        seg(2, "scene_break", "Story", "***"),
        seg(3, "narration", "Story, part 2"), seg(4, "narration", "Story, part 2"),
        seg(5, "scene_break", "Story, part 2", "***"),
        seg(6, "narration", "Story, part 3"),
        seg(7, "playlist", "End notes", "Playlist:"),
        seg(8, "song", "Interlude: One", "One - A", Song("One", "A")),
        seg(9, "song", "Interlude: Two", "Two - B", Song("Two", "B")),
    ]
    out = asm.spread_interludes(tuple(segs))
    assert [s.index for s in out] == [0, 1, 2, 8, 3, 4, 5, 9, 6, 7]
    assert sorted(s.index for s in out) == list(range(10))


def test_spread_within_one_letter_marks_the_rest_continued():
    out = asm.spread_interludes(tuple(LETTER))
    order = [s.index for s in out]
    assert sorted(order) == list(range(9))
    assert order.index(7) < order.index(6) or order.index(7) < 6   # songs moved into the story
    chapters = [s.chapter for s in out]
    assert "The letter (continued)" in chapters
    assert chapters[0] == "Author's note" and chapters[1] == "The letter"


def test_a_users_song_file_becomes_a_faded_excerpt(tmp_path, clips):
    song = tmp_path / "one.mp3"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=330:d=45", "-ac", "2", str(song)], check=True)
    s = script(LETTER, interludes=Interludes(files={"one": song}, excerpt_seconds=6))
    program = asm.assemble(s, clips)
    excerpts = [p for p in program.pieces if p.kind == "excerpt"]
    assert len(excerpts) == 1 and excerpts[0].length == 6 * RATE
    assert sum(p.kind == "sting" for p in program.pieces) == 2   # the other song keeps its stings
    samples = np.concatenate(list(asm.chunks(program)))
    assert samples.size == program.length
    piece = excerpts[0]
    music = samples[piece.start:piece.start + piece.length]
    assert abs(music[:50]).max() < abs(music[RATE * 2:RATE * 3]).max() / 4   # faded in
    assert abs(music[RATE * 2:RATE * 3]).max() > 0.01


def test_a_missing_song_file_names_it(tmp_path, clips):
    s = script(LETTER, interludes=Interludes(files={"One": tmp_path / "nope.mp3"}))
    with pytest.raises(InputError) as err:
        asm.assemble(s, clips)
    assert "nope.mp3" in str(err.value)


def test_chunks_stream_in_bounded_pieces_and_scale_speech(tmp_path, clips):
    program = asm.assemble(script(LETTER), clips)
    plain = list(asm.chunks(program))
    assert max(c.size for c in plain) <= RATE * asm.CHUNK_SECONDS
    loud = np.concatenate(list(asm.chunks(program, speech_gain=2.0)))
    first = program.pieces[1]
    assert first.kind == "speech"
    np.testing.assert_allclose(loud[first.start:first.start + 100], 2 * np.concatenate(plain)[first.start:first.start + 100])


def sentences_clip(tmp: Path, name: str, sentences: list[float], gap: float = 0.35) -> Path:
    """A clip like eSpeak's: sentences of tone with `gap` seconds of digital silence between."""
    parts = []
    for seconds in sentences:
        parts += [(np.sin(np.arange(int(seconds * RATE)) * 0.05) * 8000).astype("<i2"), np.zeros(int(gap * RATE), dtype="<i2")]
    x = np.concatenate(parts[:-1])
    path = tmp / f"{name}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(x.tobytes())
    return path


def test_stretches_are_cut_between_sentences_inside_a_long_clip(tmp_path):
    """A 40 s paragraph need not be one stretch: cuts land in its sentence pauses, at least
    the target apart, never in sound; a clip with no pause gets none."""
    sentences = [4.0, 6.5, 3.0, 7.0, 5.0, 6.0, 4.5]
    path = sentences_clip(tmp_path, "para", sentences)
    with wave.open(str(path)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    speech = Piece("speech", start=RATE, length=samples.size, source=path)
    cutter = asm.Cutter(RATE, 5)
    cuts = cutter.add(Piece("silence", start=0, length=RATE))   # too early for a cut
    cuts += cutter.add(speech)
    assert len(cuts) >= 4
    assert all(b - a >= 5 * RATE for a, b in zip([0, *cuts], cuts))
    for at in cuts:   # in the middle of a pause: 100 ms of silence either side
        around = samples[at - speech.start - RATE // 10: at - speech.start + RATE // 10]
        assert np.all(around == 0)
    assert speech.start + speech.length - cuts[-1] >= 2.5 * RATE    # half the target kept from the clip's end ...
    gap = Piece("silence", start=speech.start + speech.length, length=RATE)
    assert cutter.add(gap) == [gap.start + gap.length // 2]         # ... so the paragraph's pause takes a cut
    steady = Piece("speech", start=gap.start + gap.length, length=RATE * 30, source=clip(tmp_path, "steady", 30).path)
    assert cutter.add(steady) == []


def test_spans_cut_inside_a_clip_read_back_to_the_whole_program(tmp_path):
    path = sentences_clip(tmp_path, "para", [3.0, 4.0, 2.0, 5.0])
    with wave.open(str(path)) as w:
        n = w.getnframes()
    program = Program(rate=RATE, pieces=(
        Piece("silence", 0, RATE // 2),
        Piece("speech", RATE // 2, n, source=path),
        Piece("silence", RATE // 2 + n, RATE // 2),
    ), chapters=(), cues=(), length=n + RATE)
    cutter = asm.Cutter(RATE, 3)
    cuts = [0, *(c for p in program.pieces for c in cutter.add(p)), program.length]
    assert any(program.pieces[1].start < c < program.pieces[2].start for c in cuts)
    whole = np.concatenate(list(asm.chunks(program)))
    joined = np.concatenate([np.concatenate(list(asm.chunks(program, span=s))) for s in zip(cuts, cuts[1:])])
    assert np.array_equal(joined, whole)
    keys = [asm.span_key(program, s, "x") for s in zip(cuts, cuts[1:])]
    assert len(set(keys)) == len(keys)   # parts of one clip are told apart
