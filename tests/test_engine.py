"""Engines: text chunking, clip checks, voice choice, retries, and real eSpeak speech."""

from __future__ import annotations

import random
import wave
from pathlib import Path

import numpy as np
import pytest

from audiobook import engines as E
from audiobook.errors import EngineError, VoiceError
from audiobook.models import Utterance, VoiceProfile

SEED = Path(__file__).resolve().parent.parent / "input" / "like-we-used-to-letter.txt"
NARRATOR = VoiceProfile("narrator", language="en", gender="male", rate=160)
NOTES = VoiceProfile("notes", language="en-us", gender="female", rate=200, pitch=70)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def seconds(path: Path) -> float:
    samples, rate = read_wav(path)
    return len(samples) / rate


def words(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    vocab = "the quick brown fox jumps over a lazy dog while Alec writes another letter to Magnus".split()
    return " ".join(rng.choice(vocab) for _ in range(n))


# --------------------------------------------------------------------------- chunking


def test_short_text_is_one_chunk():
    assert E.chunk_text("  Hello there.  ") == ["Hello there."]
    assert E.chunk_text("   ") == []


def test_chunks_cut_at_sentences_and_keep_every_word():
    text = " ".join(f"Sentence number {i} is here, and it goes on a little." for i in range(200))
    chunks = E.chunk_text(text, limit=300)
    assert len(chunks) > 5
    assert all(len(c) <= 300 for c in chunks)
    assert all(c.endswith(".") for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_line_without_punctuation_is_split_at_words():
    text = "word " * 20000            # 100,000 characters, no punctuation
    chunks = E.chunk_text(text, limit=1200)
    assert all(len(c) <= 1200 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_endless_word_is_cut():
    chunks = E.chunk_text("x" * 5000, limit=1000)
    assert [len(c) for c in chunks] == [1000] * 5


# --------------------------------------------------------------------------- clip checks


def test_check_clip_accepts_plausible_audio(tmp_path):
    path = tmp_path / "ok.wav"
    E.write_wav(path, b"\0\0" * (22050 * 3), 22050)      # 3 s for 8 words at 160 wpm
    assert E.check_clip(path, "one two three four five six seven eight", 160) == (3000, 22050)


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "too short", "too long"])
def test_check_clip_rejects_bad_audio(tmp_path, damage):
    path = tmp_path / "bad.wav"
    text = "one two three four five six seven eight"
    if damage == "garbage":
        path.write_bytes(b"RIFF but not really a wave file")
    elif damage == "truncated":
        E.write_wav(path, b"\0\0" * (22050 * 3), 22050)
        path.write_bytes(path.read_bytes()[:20000])
    elif damage == "too short":
        E.write_wav(path, b"\0\0" * 2205, 22050)
    elif damage == "too long":
        E.write_wav(path, b"\0\0" * (22050 * 60), 22050)
    with pytest.raises(EngineError):
        E.check_clip(path, text, 160)


# --------------------------------------------------------------------------- voices


def test_resolve_by_language_and_gender():
    voices = [
        E.Voice("v/en", "English", ("en-gb",), "male"),
        E.Voice("v/en-us", "American", ("en-us",), "male"),
        E.Voice("v/en-us-f", "American F", ("en-us",), "female"),
    ]
    assert E.resolve_voice(voices, VoiceProfile("a", language="en")) == "v/en"
    assert E.resolve_voice(voices, VoiceProfile("a", language="en-us", gender="female")) == "v/en-us-f"
    assert E.resolve_voice(voices, VoiceProfile("a", language="en_US", gender="male")) == "v/en-us"
    # a gender no voice has: the best language match, with a variant if the engine has them
    only_male = voices[:2]
    assert E.resolve_voice(only_male, VoiceProfile("a", language="en-us", gender="female")) == "v/en-us"
    assert (
        E.resolve_voice(only_male, VoiceProfile("a", language="en-us", gender="female"), variants=("f3",))
        == "v/en-us+f3"
    )


def test_unknown_voice_id_lists_installed_voices():
    eng = E.get_engine("test")
    with pytest.raises(VoiceError) as err:
        eng.resolve(VoiceProfile("odd", voice="klingon"))
    assert "klingon" in str(err.value) and "test/en" in str(err.value) and "test/fr" in str(err.value)


def test_unknown_language_lists_languages():
    with pytest.raises(VoiceError, match="fr-fr"):
        E.get_engine("test").resolve(VoiceProfile("odd", language="tlh"))


def test_unknown_engine():
    with pytest.raises(VoiceError, match="pyttsx3, piper, test"):
        E.get_engine("festival")


def test_one_engine_per_process():
    assert E.get_engine("test") is E.get_engine("test")


# --------------------------------------------------------------------------- test engine, retries


def test_test_engine_is_deterministic_and_timed_by_rate(tmp_path):
    eng = E.get_engine("test")
    text = words(40)
    a, b, fast = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "fast.wav"
    eng.synthesize(text, NARRATOR, a)
    eng.synthesize(text, NARRATOR, b)
    eng.synthesize(text, VoiceProfile("fast", rate=240), fast)
    assert a.read_bytes() == b.read_bytes()
    assert seconds(a) == pytest.approx(40 * 60 / 160, abs=0.01)
    assert seconds(fast) == pytest.approx(40 * 60 / 240, abs=0.01)


@pytest.fixture
def faulty(monkeypatch):
    eng = E.get_engine("test")
    monkeypatch.setattr(eng, "fault", None)
    return eng


@pytest.mark.parametrize("fault", ["raise", "short", "missing", "garbage"])
def test_failing_engine_is_retried_then_names_the_label(tmp_path, faulty, fault):
    calls = []

    def hook(text):
        calls.append(text)
        return fault

    faulty.fault = hook
    utt = Utterance("segment 7 (body)", words(30), NARRATOR)
    with pytest.raises(EngineError, match=r"segment 7 \(body\).*3 attempts"):
        E.render(faulty, utt, tmp_path / "x.wav")
    assert len(calls) == 1 + E.RETRIES
    assert not (tmp_path / "x.wav").exists()


def test_one_bad_attempt_is_retried(tmp_path, faulty):
    outcomes = iter(["short", None])
    faulty.fault = lambda text: next(outcomes)
    duration_ms, rate = E.render(faulty, Utterance("p1", words(30), NARRATOR), tmp_path / "x.wav")
    assert duration_ms == pytest.approx(30 * 60 / 160 * 1000, abs=5) and rate == 22050


def test_blank_text_gives_a_short_silence(tmp_path):
    duration_ms, _ = E.render(E.get_engine("test"), Utterance("blank", "  ", NARRATOR), tmp_path / "b.wav")
    assert duration_ms == 100


# --------------------------------------------------------------------------- real speech


def longest_seed_paragraph() -> str:
    paragraphs = [p for p in SEED.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return max(paragraphs, key=len)


def assert_plausible(path: Path, text: str, rate: int) -> float:
    """Duration within what eSpeak needs for these words (it runs ~20% faster than nominal)."""
    got = seconds(path)
    nominal = E.count_words(text) * 60 / rate
    assert 0.6 * nominal <= got <= 1.4 * nominal, (got, nominal)
    return got


@pytest.fixture(scope="module")
def espeak():
    return E.get_engine("pyttsx3")


@pytest.mark.slow
def test_real_engine_speaks_a_paragraph(espeak, tmp_path, capfd):
    text = "It all started of as her telling me that she knew of a way to make me immortal. I said no."
    path = tmp_path / "p.wav"
    duration_ms, rate = E.render(espeak, Utterance("p", text, NARRATOR), path)
    samples, hz = read_wav(path)
    assert hz == rate == 22050
    assert duration_ms == round(len(samples) / hz * 1000)
    assert_plausible(path, text, NARRATOR.rate)
    assert np.abs(samples.astype(np.int32)).max() > 1000          # not silence
    assert capfd.readouterr().out == ""                            # the driver's print is silenced


@pytest.mark.slow
def test_real_engine_version_names_espeak(espeak):
    assert espeak.version.startswith("pyttsx3 ")
    assert "espeak" in espeak.version.lower()


@pytest.mark.slow
def test_longest_seed_paragraph_is_spoken_in_full(espeak, tmp_path):
    text = longest_seed_paragraph()
    assert E.count_words(text) > 100
    path = tmp_path / "longest.wav"
    E.render(espeak, Utterance("longest", text, NARRATOR), path)
    assert_plausible(path, text, NARRATOR.rate)


@pytest.mark.slow
def test_5000_words_without_line_breaks_are_spoken_in_full(espeak, tmp_path):
    short, long = words(1000, seed=2), words(5000, seed=3)
    assert "\n" not in long and len(long) > 25000
    a, b = tmp_path / "1000.wav", tmp_path / "5000.wav"
    E.render(espeak, Utterance("1000 words", short, NARRATOR), a)
    E.render(espeak, Utterance("5000 words", long, NARRATOR), b)
    t_short = assert_plausible(a, short, NARRATOR.rate)
    t_long = assert_plausible(b, long, NARRATOR.rate)
    assert 4.5 < t_long / t_short < 5.5          # nothing truncated


def spectral_centroid(samples: np.ndarray, rate: int) -> float:
    x = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float((spectrum * freqs).sum() / spectrum.sum())


@pytest.mark.slow
def test_two_profiles_sound_different(espeak, tmp_path):
    text = longest_seed_paragraph()
    a, b = tmp_path / "narrator.wav", tmp_path / "notes.wav"
    E.render(espeak, Utterance("a", text, NARRATOR), a)
    E.render(espeak, Utterance("b", text, NOTES), b)
    (sa, rate), (sb, _) = read_wav(a), read_wav(b)
    assert espeak.resolve(NARRATOR) != espeak.resolve(NOTES)
    assert len(sb) < 0.9 * len(sa)                                  # 200 wpm vs 160 wpm
    assert spectral_centroid(sb, rate) > 1.1 * spectral_centroid(sa, rate)   # higher, female variant


@pytest.mark.slow
def test_real_engine_unknown_voice_lists_voices(espeak):
    with pytest.raises(VoiceError) as err:
        espeak.resolve(VoiceProfile("x", voice="gmw/klingon"))
    assert "gmw/en-us" in str(err.value)
    assert espeak.resolve(VoiceProfile("x", voice="gmw/en-us")) == "gmw/en-us"


@pytest.mark.slow
def test_phoneme_entry_changes_what_espeak_says(tmp_path):
    """pyttsx3's eSpeak driver reads a lexicon's [[ ]] as phonemes (espeakPHONEMES): eSpeak's
    own phonemes for "Idris" give exactly the plain text's audio, others change it."""
    from audiobook.speech import to_speech
    from audiobook.synth import speak

    text = "They met in Idris at dawn."
    profile = VoiceProfile("narrator", language="en-us", gender="male", rate=160)

    def spoken(lexicon: dict, name: str) -> np.ndarray:
        # one utterance a call: each is spoken by a fresh eSpeak (synth.speak), so eSpeak's
        # state between texts cannot make two equal texts differ
        (clip,) = speak([Utterance(name, to_speech(text, lexicon=lexicon), profile)], engine="pyttsx3",
                        use_cache=False, workdir=tmp_path / name)
        return read_wav(clip.path)[0]

    plain = spoken({}, "plain")
    same = spoken({"Idris": "[['aIdrIs]]"}, "same")       # what eSpeak says for Idris anyway
    fixed = spoken({"Idris": "[['IdrIs]]"}, "fixed")       # ID-riss
    assert np.array_equal(plain, same)
    assert not np.array_equal(plain, fixed)


def test_lexicon_check_tells_entries_that_change_nothing(tmp_path):
    from audiobook.engines.espeak import phonemes
    from audiobook.speech.lexicon import check, entries

    words = entries({"Magnus": "Magnus", "Jace": "Jayce", "Seelie": "Seely", "Camille": "Kameel",
                     "Idris": {"phonemes": "'IdrIs"}, "Isabelle": {"phonemes": ",IseIb'El"}})
    found = {c.word: c for c in check(words, lambda texts: phonemes(texts, "en-us"))}
    assert {w for w, c in found.items() if not c.changes} == {"Magnus", "Jace", "Seelie", "Isabelle"}
    assert (found["Idris"].before, found["Idris"].after) == ("'aIdrIs", "'IdrIs")
    assert found["Camille"].after == "k'ami:l"           # a change, stress and all


def test_lexicon_check_command(tmp_path):
    from click.testing import CliRunner

    from audiobook.cli import main

    work = tmp_path / "w.txt"
    work.write_text("Magnus and Idris.\n")
    (tmp_path / "w.toml").write_text('title = "W"\nlanguage = "en-GB"\n[lexicon]\nMagnus = "Magnus"\n')
    result = CliRunner().invoke(main, ["lexicon", "check", str(work), "--json"])
    assert result.exit_code == 1                      # an entry changes nothing
    report = __import__("json").loads(result.output)
    assert report["espeak_voice"] == "en-gb"          # the work's accent
    assert {e["word"]: e["changes"] for e in report["entries"]} == {"Isabelle": True, "Idris": True, "Magnus": False}
    clean = CliRunner().invoke(main, ["lexicon", "check"])
    assert clean.exit_code == 0 and "2 change what is said, 0 change nothing" in clean.output
