"""Dialogue: quotes found, speakers attributed, voices per character.

Fixtures in tests/fixtures/dialogue are our own prose, each annotated by hand in a
<name>.expected.json: every non-narration span in order, [kind, text as written, speaker],
"?" where the text does not say who. Scored here: quote detection precision and recall
(95 % or better) and speaker accuracy on speech spans (85 % or better), per fixture."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from audiobook.cli import main
from audiobook.models import Document, Metadata
from audiobook.read import read
from audiobook.segment import segment
from audiobook.voices import cast, load_profiles

from .audio_checks import needs_ffprobe
from .test_render_wild import _decode, median_pitch

DIALOGUE = Path(__file__).resolve().parent / "fixtures" / "dialogue"
FIXTURES = sorted(p.stem for p in DIALOGUE.glob("*.txt"))
SEED = Path(__file__).resolve().parent.parent / "input" / "like-we-used-to-letter.txt"


def doc(text: str, **meta) -> Document:
    return Document(path=Path("d.txt"), text=text, meta=Metadata(title="D", **meta), encoding="utf-8")


def found(script, kinds=("speech", "thought", "message")):
    return [(sp.kind, s.text[sp.start:sp.end], sp.speaker) for s in script.segments for sp in s.spans if sp.kind in kinds]


def score(name: str) -> dict:
    expected = json.loads((DIALOGUE / f"{name}.expected.json").read_text(encoding="utf-8"))
    got = found(segment(read(DIALOGUE / f"{name}.txt")))
    out = {}
    for kind in ("speech", "thought", "message"):
        want = [t for k, t, _ in expected if k == kind]
        have = [t for k, t, _ in got if k == kind]
        hits = sum(1 for t in have if t in want)
        out[kind] = (hits / len(have) if have else 1.0, hits / len(want) if want else 1.0)
    speakers = {t: s for k, t, s in expected if k == "speech"}
    right = sum(1 for k, t, s in got if k == "speech" and t in speakers and (s == speakers[t] or speakers[t] == "?" and s is None))
    out["speaker"] = right / len(speakers)
    return out


@pytest.mark.parametrize("name", FIXTURES)
def test_quotes_and_speakers_scored_against_hand_annotation(name):
    result = score(name)
    precision, recall = result["speech"]
    assert precision >= 0.95 and recall >= 0.95, result
    assert result["speaker"] >= 0.85, result
    for kind in ("thought", "message"):
        assert result[kind] == (1.0, 1.0), (kind, result)


def test_every_fixture_is_scored():
    assert len(FIXTURES) >= 6
    assert all((DIALOGUE / f"{n}.expected.json").is_file() for n in FIXTURES)


def test_spans_keep_every_character_in_order():
    for name in FIXTURES:
        for s in segment(read(DIALOGUE / f"{name}.txt")).segments:
            if s.spans:
                assert s.spans[0].start == 0 and s.spans[-1].end == len(s.text)
                assert all(a.end == b.start for a, b in zip(s.spans, s.spans[1:]))
                assert "".join(s.text[sp.start:sp.end] for sp in s.spans) == s.text


def test_the_seed_has_no_dialogue():
    script = segment(read(SEED))
    assert all(not s.spans for s in script.segments)      # "in the middle", "mortal loveliness": not speech
    assert script.characters == {}


@pytest.mark.parametrize("text, quotes", [
    ('He called it "the thing" and left.', []),                                    # scare quotes
    ('The sign said "Closed," so they went home.', []),                            # a sign
    ('She read "Moby Dick" twice.', []),                                           # a title
    ('"Come here," Alec said.', ['"Come here,"']),
    ("'Don't,' she said. 'The Lightwoods' car is outside.'", ["'Don't,'", "'The Lightwoods' car is outside.'"]),
    ("'Rock 'n' roll,' he said.", ["'Rock 'n' roll,'"]),
])
def test_what_is_a_quotation_of_speech(text, quotes):
    script = segment(doc(text))
    assert [t for _, t, _ in found(script, ("speech",))] == quotes


def test_a_speech_over_several_paragraphs_keeps_its_speaker():
    text = ('"I have three things to say," Mara said. "First, the boat is late.\n\n'
            '"Second, the boat is also on fire.\n\n'
            '"Third, I am not getting on it."\n\nTheo laughed.')
    speakers = [sp for _, _, sp in found(segment(doc(text)))]
    assert speakers == ["Mara", "Mara", "Mara", "Mara"]


def test_character_tags_from_a_download_name_the_speakers():
    text = '"Later," said Wren.\n\n"Now," said Ottoline.\n\n"Fine."'
    script = segment(doc(text, characters=("Wren", "Ottoline Marsh")))
    assert list(script.characters) == ["Wren", "Ottoline"]
    assert [sp for _, _, sp in found(script)] == ["Wren", "Ottoline", "Wren"]


# --- voices -------------------------------------------------------------------------------

THREE = DIALOGUE / "three-speakers.txt"


def voices_of(script):
    return {sp.speaker: sp.voice for s in script.segments for sp in s.spans if sp.kind == "speech" and sp.speaker}


def test_each_character_gets_a_voice_of_their_own_and_keeps_it():
    profiles = load_profiles()
    script = cast(segment(read(THREE)), profiles)
    voices = voices_of(script)
    assert set(voices) == {"Marcus", "Priya", "Jonah"} and len(set(voices.values())) == 3
    made = [script.profiles[v] for v in voices.values()]
    assert len({(p.variant, p.pitch, p.rate) for p in made}) == 3                 # different, not renamed
    # the same work read again gives each the same voice (first to speak, first voice)
    again = cast(segment(read(THREE)), profiles)
    assert voices_of(again) == voices and again.profiles == script.profiles
    narration = [sp.voice for s in script.segments for sp in s.spans if sp.kind == "narration"]
    assert set(narration) == {"narrator"}


def test_dialogue_off_and_one():
    profiles = load_profiles()
    off = cast(segment(read(THREE)), profiles, dialogue="off")
    assert {sp.voice for s in off.segments for sp in s.spans} == {"narrator"} and off.profiles == {}
    one = cast(segment(read(THREE)), profiles, dialogue="one")
    assert {sp.voice for s in one.segments for sp in s.spans if sp.kind == "speech"} == {"dialogue"}


def test_the_sidecar_casts_a_character(tmp_path):
    (tmp_path / "w.txt").write_text(THREE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "w.toml").write_text('[cast]\nPriya = "notes"\n', encoding="utf-8")
    voices = voices_of(cast(segment(read(tmp_path / "w.txt")), load_profiles()))
    assert voices["Priya"] == "notes" and voices["Marcus"] != "notes"


def test_plan_json_shows_spans_and_speakers():
    result = CliRunner().invoke(main, ["plan", str(THREE), "--json"], catch_exceptions=False)
    doc_ = json.loads(result.stdout)
    seg = next(s for s in doc_["segments"] if s.get("spans") and "Friday," in s["text"])
    assert [(sp["kind"], sp["speaker"]) for sp in seg["spans"]] == [
        ("speech", "Jonah"), ("narration", None), ("speech", "Jonah")]
    assert all(set(sp) == {"kind", "text", "speaker", "voice"} for sp in seg["spans"])
    assert "".join(sp["text"] for sp in seg["spans"]) == seg["text"]
    text = CliRunner().invoke(main, ["plan", str(THREE)]).output
    assert re.search(r"speech +character Jonah +Jonah +\"Friday,\"", text)


def render(tmp_path, path, *args) -> dict:
    result = CliRunner().invoke(main, ["render", str(path), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"),
                                       "--engine", "test", "-j", "1", "--json", "-q", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_transcript_names_the_speakers(tmp_path):
    (episode,) = render(tmp_path, THREE)["outputs"]
    vtt = Path(episode["transcript"]).read_text(encoding="utf-8")
    assert '<v Marcus>"We\'re not ready,"' in vtt and '<v Jonah>"Friday,"' in vtt
    lines = [line for line in vtt.splitlines() if "Priya didn't look up." in line]
    assert lines and not lines[0].startswith("<v ")                          # narration has no voice tag


def test_one_changed_line_of_dialogue_speaks_only_its_paragraph_again(tmp_path):
    work = tmp_path / "w.txt"
    text = THREE.read_text(encoding="utf-8")
    work.write_text(text, encoding="utf-8")
    first = render(tmp_path, work)["speech"]
    work.write_text(text.replace('"Then play louder," Priya said.', '"Then play much louder," Priya said.'), encoding="utf-8")
    second = render(tmp_path, work)["speech"]
    # that paragraph's changed span, and the podfic header and credits, which do not change
    assert first["synthesized"] > 20 and second["synthesized"] == 1, (first, second)


@pytest.mark.slow
@needs_ffprobe
def test_three_characters_are_three_audibly_different_voices(tmp_path):
    """eSpeak NG for real; the system's ffmpeg decodes, pitch is measured per speaker from
    the transcript's <v Name> cues: every two of the three differ by a semitone or more."""
    proc = subprocess.run(
        [sys.executable, "-m", "audiobook.cli", "render", str(THREE), "-o", str(tmp_path / "out"),
         "--cache-dir", str(tmp_path / "cache"), "--json", "-q"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    (episode,) = json.loads(proc.stdout)["outputs"]
    samples = _decode(Path(episode["mp3"]))
    vtt = Path(episode["transcript"]).read_text(encoding="utf-8")
    spans: dict[str, list] = {}
    for m in re.finditer(r"(\d+):(\d+):(\d+\.\d+) --> (\d+):(\d+):(\d+\.\d+)\n<v ([^>]+)>", vtt):
        a = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        b = int(m[4]) * 3600 + int(m[5]) * 60 + float(m[6])
        spans.setdefault(m[7], []).append(samples[int(a * 16000):int(b * 16000)])
    assert set(spans) == {"Marcus", "Priya", "Jonah"}
    pitch = {who: median_pitch(np.concatenate(parts)) for who, parts in spans.items()}
    assert all(pitch.values()), pitch
    names = sorted(pitch)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert abs(12 * math.log2(pitch[a] / pitch[b])) >= 1.0, pitch
