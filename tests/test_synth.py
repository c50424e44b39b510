"""speak(): clips per utterance, the clip cache, parallel workers."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import pytest

from audiobook import engines as E
from audiobook import synth as S
from audiobook.errors import EngineError
from audiobook.models import Utterance, VoiceProfile
from audiobook.synth import SpeakStats, speak

SEED = Path(__file__).resolve().parent.parent / "input" / "like-we-used-to-letter.txt"
NARRATOR = VoiceProfile("narrator", language="en", gender="male", rate=160)
NOTES = VoiceProfile("notes", language="en-us", gender="female", rate=170, pitch=65)


def paragraphs() -> list[str]:
    return [p for p in SEED.read_text(encoding="utf-8").split("\n\n") if p.strip()]


def utterances(texts, profile=NARRATOR) -> list[Utterance]:
    return [Utterance(f"segment {i}", t, profile) for i, t in enumerate(texts)]


TEXTS = [
    "Dear Magnus",
    "I don't really know how to start this letter and I'm not even sure if I want you to read this.",
    "The thing I should probably start by saying is that I am sorry.",
    "Love,",
    "-Alec Lightwood",
]


def run(utts, cache, **kw):
    stats = SpeakStats()
    seen = []
    clips = speak(utts, engine=kw.pop("engine", "test"), cache_dir=cache, stats=stats,
                  progress=lambda done, total, label: seen.append((done, total, label)), **kw)
    return clips, stats, seen


def test_one_clip_per_utterance_in_order(tmp_path):
    utts = utterances(TEXTS)
    clips, stats, seen = run(utts, tmp_path, jobs=1)
    assert [c.text for c in clips] == TEXTS
    for clip, utt in zip(clips, utts):
        assert clip.path.is_file() and clip.sample_rate == 22050
        assert clip.path == tmp_path / "clips" / clip.key[:2] / f"{clip.key}.wav"
        assert clip.duration_ms == pytest.approx(E.count_words(utt.text) * 60_000 / 160, abs=2)
    assert stats.synthesized == 5 and stats.cached == 0
    assert [d for d, _, _ in seen] == [1, 2, 3, 4, 5] and {t for _, t, _ in seen} == {5}
    assert sorted(label for _, _, label in seen) == sorted(u.label for u in utts)
    assert not list((tmp_path / "clips").rglob("*.tmp.wav"))            # no temp files left


def test_cache_default_comes_from_environment(_private_cache):
    clips, _, _ = run(utterances(TEXTS[:1]), None, jobs=1)
    assert clips[0].path.is_relative_to(_private_cache)


def test_second_run_synthesizes_nothing_and_an_edit_only_that_paragraph(tmp_path):
    utts = utterances(TEXTS)
    first, _, _ = run(utts, tmp_path, jobs=1)
    again, stats, seen = run(utts, tmp_path, jobs=1)
    assert stats.synthesized == 0 and stats.cached == 5 and len(seen) == 5
    assert again == first
    edited = list(utts)
    edited[2] = Utterance("segment 2", "The thing I should start by saying is that I am so sorry.", NARRATOR)
    third, stats, _ = run(edited, tmp_path, jobs=1)
    assert stats.synthesized == 1 and stats.cached == 4
    assert [c.key for c in third][:2] == [c.key for c in first][:2] and third[2].key != first[2].key


def test_key_covers_voice_settings_and_engine(tmp_path):
    base, _, _ = run(utterances(TEXTS[:1]), tmp_path, jobs=1)
    for profile in (
        VoiceProfile("n", rate=170), VoiceProfile("n", pitch=60), VoiceProfile("n", volume=0.5),
        VoiceProfile("n", language="en-us"),
    ):
        clips, stats, _ = run(utterances(TEXTS[:1], profile), tmp_path, jobs=1)
        assert clips[0].key != base[0].key and stats.synthesized == 1
    # a profile's name does not matter, only what it sounds like
    clips, stats, _ = run(utterances(TEXTS[:1], VoiceProfile("other", rate=160)), tmp_path, jobs=1)
    assert clips[0].key == base[0].key and stats.synthesized == 0


def test_identical_utterances_are_synthesized_once(tmp_path):
    utts = utterances(["Love,", "Hello there, Magnus.", "Love,", "Love,"])
    clips, stats, seen = run(utts, tmp_path, jobs=1)
    assert stats.synthesized == 2 and stats.duplicates == 2 and len(seen) == 4
    assert clips[0].path == clips[2].path == clips[3].path
    assert [c.text for c in clips] == [u.text for u in utts]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "silence"])
def test_damaged_cache_entry_is_redone(tmp_path, damage):
    utts = utterances(TEXTS)
    clips, _, _ = run(utts, tmp_path, jobs=1)
    victim = clips[1].path
    good = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        victim.write_bytes(b"\x00garbage" * 100)
    else:                                    # decodes, but far too short for its words
        E.write_wav(victim, b"\0\0" * 100, 22050)
    again, stats, _ = run(utts, tmp_path, jobs=1)
    assert stats.synthesized == 1 and stats.repaired == 1 and stats.cached == 4
    assert victim.read_bytes() == good and again == clips


def test_without_cache_clips_go_to_workdir(tmp_path):
    work = tmp_path / "work"
    clips, stats, _ = run(utterances(TEXTS), tmp_path / "cache", use_cache=False, workdir=work, jobs=1)
    assert all(c.path.parent == work for c in clips) and stats.synthesized == 5
    assert not (tmp_path / "cache" / "clips").exists()
    clips, stats, _ = run(utterances(TEXTS), tmp_path / "cache", use_cache=False, jobs=1)
    assert stats.synthesized == 5
    folder = clips[0].path.parent
    assert folder.parent == tmp_path / "cache" / "tmp" and all(c.path.parent == folder for c in clips)


def test_failing_utterance_raises_naming_its_label(tmp_path, monkeypatch):
    eng = E.get_engine("test")
    attempts = []

    def fault(text):
        if "sorry" in text:
            attempts.append(text)
            return "short"
        return None

    monkeypatch.setattr(eng, "fault", fault)
    with pytest.raises(EngineError, match=r"segment 2: .*failed after 3 attempts.*implausible"):
        run(utterances(TEXTS), tmp_path, jobs=1)
    assert len(attempts) == 3
    assert not [p for p in (tmp_path / "clips").rglob("*.wav") if "sorry" in p.name]


def digests(clips) -> list[str]:
    return [hashlib.sha256(c.path.read_bytes()).hexdigest() for c in clips]


def test_parallel_equals_sequential_test_engine(tmp_path):
    utts = utterances(paragraphs())
    seq, s1, _ = run(utts, tmp_path / "a", jobs=1)
    par, s2, seen = run(utts, tmp_path / "b", jobs=2)
    assert digests(seq) == digests(par) and [c.key for c in seq] == [c.key for c in par]
    assert s1.synthesized == s2.synthesized == len(utts) and len(seen) == len(utts)


# --------------------------------------------------------------------------- real speech


@pytest.mark.slow
def test_parallel_equals_sequential_real_engine(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "SMALL_WORK_CHARS", 0)   # several batches, even for this small work
    # this process's engine has spoken already: it is no longer fresh, so nothing may be
    # spoken in-process (its clips would differ from a fresh worker's)
    E.get_engine("pyttsx3").synthesize("Something else first.", NOTES, tmp_path / "first.wav")
    texts = paragraphs()[:8]
    utts = [Utterance(f"p{i}", t, NARRATOR if i % 2 else NOTES) for i, t in enumerate(texts)]
    seq, s1, _ = run(utts, tmp_path / "a", engine="pyttsx3", jobs=1)
    par, s2, _ = run(utts, tmp_path / "b", engine="pyttsx3", jobs=2)
    assert s1.synthesized == s2.synthesized == len(utts)
    assert digests(seq) == digests(par)
    for clip, text in zip(par, texts):
        with wave.open(str(clip.path)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        low, high = E.duration_bounds(text, 160)
        assert low <= clip.duration_ms / 1000 <= high


@pytest.mark.slow
def test_real_engine_cache_hit_and_edit(tmp_path):
    utts = [Utterance(f"p{i}", t, NARRATOR) for i, t in enumerate(TEXTS)]
    first, s1, _ = run(utts, tmp_path, engine="pyttsx3", jobs=2)
    again, s2, _ = run(utts, tmp_path, engine="pyttsx3", jobs=2)
    assert (s1.synthesized, s2.synthesized, s2.cached) == (5, 0, 5) and again == first
    utts[1] = Utterance("p1", "I don't know how to start this letter.", NARRATOR)
    _, s3, _ = run(utts, tmp_path, engine="pyttsx3", jobs=2)
    assert (s3.synthesized, s3.cached) == (1, 4)


SPEAK_ONE_BATCH = """
import hashlib, sys
from pathlib import Path
from audiobook import synth
from audiobook.models import Utterance, VoiceProfile
if __name__ == "__main__":
    synth.get_engine("pyttsx3").spoken = sys.argv[2] == "pool"   # pretend this process already spoke
    utts = [Utterance(f"u{i}", t, VoiceProfile("narrator", language="en", rate=160)) for i, t in enumerate(sys.argv[3:])]
    clips = synth.speak(utts, engine="pyttsx3", cache_dir=Path(sys.argv[1]), jobs=2)
    print(" ".join(hashlib.sha256(c.path.read_bytes()).hexdigest() for c in clips))
"""


@pytest.mark.slow
def test_a_small_batch_spoken_in_process_equals_a_fresh_worker(tmp_path):
    """A re-render of one paragraph is spoken in the render's own process (no pool start):
    its engine is as fresh as a worker's, so the clip is byte for byte what a worker makes."""
    import subprocess
    import sys

    script = tmp_path / "speak_one.py"
    script.write_text(SPEAK_ONE_BATCH)
    texts = ["I read somewhere once that if you really love someone you will put their happiness first.", "Love, Alec."]
    runs = {
        mode: subprocess.run([sys.executable, str(script), str(tmp_path / mode), mode, *texts], capture_output=True, text=True, check=True).stdout.split()
        for mode in ("here", "pool")
    }
    assert len(runs["here"]) == 2 and runs["here"] == runs["pool"]
