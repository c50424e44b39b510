"""Wild-shaped texts through the command line: what `plan` shows, what --notes/--lyrics skip
leave out, and a songfic spoken for real, its voices told apart by an independent reader
(the system's ffmpeg decodes the MP3; pitch is measured here, per transcript cue)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from audiobook.cli import main

from .audio_checks import FFMPEG, ffprobe, needs_ffprobe

WILD = Path(__file__).resolve().parent / "fixtures" / "wild"


def plan_json(*args) -> dict:
    result = CliRunner().invoke(main, ["plan", *map(str, args), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_shows_the_metadata_a_header_block_gives():
    doc = plan_json(WILD / "header-labels.txt")
    assert doc["title"] == "Paper Boats" and doc["author"] == "inkwellandquill"
    assert doc["meta"]["rating"] == "PG-13" and doc["meta"]["relationships"] == ["Jonah/Eliza"]
    assert doc["meta"]["fandoms"] == ["The Old Harbour (TV)"] and doc["meta"]["published"] == "2012-02-15"
    labels = [s for s in doc["segments"] if s["text"].split(":")[0] in ("Title", "Author", "Rating", "Pairing")]
    assert len(labels) == 4 and all(s["speech"] == "" for s in labels)
    text = CliRunner().invoke(main, ["plan", str(WILD / "header-labels.txt")]).output
    assert "rating:        PG-13" in text and "(silent) Chapter Text" in text


def test_notes_and_lyrics_can_be_skipped():
    read = plan_json(WILD / "songfic.txt")
    skipped = plan_json(WILD / "songfic.txt", "--notes", "skip", "--lyrics", "skip")
    roles = [s["role"] for s in read["segments"]]
    assert roles == [s["role"] for s in skipped["segments"]]                 # the plan keeps its shape
    for a, b in zip(read["segments"], skipped["segments"]):
        if a["role"] in ("note", "lyrics"):
            assert a["speech"] and a["voice"] in ("notes", "lyrics") and b["speech"] == "" and b["voice"] is None
        else:
            assert a == b
    assert read["quoted_songs"] == [{"title": "Lanterns in the Rain", "artist": "The Paper Cranes"}]


def test_skipped_notes_are_not_in_the_episode(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [
        "render", str(WILD / "long-notes.txt"), "-o", str(out), "--cache-dir", str(tmp_path / "c"),
        "--engine", "test", "--notes", "skip", "--json", "-q",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (episode,) = json.loads(result.stdout)["outputs"]
    vtt = Path(episode["transcript"]).read_text(encoding="utf-8")
    assert "nineteen hours" in vtt and "slow burn" not in vtt and "kudos" not in vtt
    assert [c["title"] for c in episode["chapters"]] == ["Introduction", "Story", "Credits"]


# ---- a songfic spoken for real --------------------------------------------------------------


def _decode(mp3: Path, rate: int = 16000) -> np.ndarray:
    pcm = subprocess.run(
        [FFMPEG, "-v", "error", "-nostdin", "-i", str(mp3), "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768


def median_pitch(samples: np.ndarray, rate: int = 16000) -> float:
    """Median F0 (Hz) of the voiced 40 ms frames, by autocorrelation (75-400 Hz)."""
    frame, hop = int(0.04 * rate), int(0.01 * rate)
    lo, hi = rate // 400, rate // 75
    found = []
    for start in range(0, len(samples) - frame, hop):
        x = samples[start:start + frame] - samples[start:start + frame].mean()
        if np.sqrt(np.mean(x * x)) < 0.02:
            continue
        ac = np.correlate(x, x, "full")[frame - 1:]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            found.append(rate / lag)
    return float(np.median(found)) if found else 0.0


def _cue_seconds(vtt: str) -> list[tuple[float, float, str]]:
    cues = []
    for m in re.finditer(r"(\d+):(\d+):(\d+\.\d+) --> (\d+):(\d+):(\d+\.\d+)\n(.+)", vtt):
        a = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        b = int(m[4]) * 3600 + int(m[5]) * 60 + float(m[6])
        cues.append((a, b, m[7]))
    return cues


@pytest.mark.slow
@needs_ffprobe
def test_songfic_lyrics_are_spoken_in_a_voice_of_their_own(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "audiobook.cli", "render", str(WILD / "songfic.txt"), "-o", str(out),
         "--cache-dir", str(tmp_path / "cache"), "--json", "-q"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    (episode,) = json.loads(proc.stdout)["outputs"]
    mp3 = Path(episode["mp3"])
    assert float(ffprobe(mp3)["format"]["duration"]) == pytest.approx(episode["duration_s"], abs=0.1)
    samples = _decode(mp3)
    cues = _cue_seconds(Path(episode["transcript"]).read_text(encoding="utf-8"))
    lyric_words = ("lanterns burning", "find the river", "every light along", "kept them burning")

    def pitch(select) -> float:
        parts = [samples[int(a * 16000):int(b * 16000)] for a, b, text in cues if select(text)]
        return median_pitch(np.concatenate(parts))

    lyrics = pitch(lambda t: any(w in t for w in lyric_words))
    story = pitch(lambda t: "Caleb" in t or "radio" in t or "remembered" in t)
    assert lyrics and story
    assert abs(lyrics - story) / story > 0.15, (lyrics, story)     # a different voice, not the narrator's
    assert "Lyrics quoted from Lanterns in the Rain, by The Paper Cranes" in " ".join(t for *_, t in cues)
