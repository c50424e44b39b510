"""Voice profiles and casting roles to them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from audiobook.errors import VoiceError
from audiobook.models import Document, Metadata, Script, Segment, VoiceProfile
from audiobook.voices import (
    CAST_ROLES,
    DEFAULT_CAST,
    cast,
    load_profile,
    load_profiles,
    parse_voice_overrides,
    resolve_cast,
)

REPO_VOICES = Path(__file__).resolve().parent.parent / "voices"


def test_shipped_profiles_load():
    profiles = load_profiles([REPO_VOICES])
    assert {"narrator", "notes"} <= set(profiles)
    assert "lexicon" not in profiles
    narrator, notes = profiles["narrator"], profiles["notes"]
    assert narrator == VoiceProfile("narrator", "pyttsx3", None, "en-us", "male", 160, 50, 1.0)   # American by choice
    assert (notes.language, notes.gender, notes.rate, notes.pitch) == ("en-us", "female", 170, 65)
    assert 150 <= narrator.rate <= 170


def test_shipped_neural_profiles_and_engine_switch():
    from audiobook.voices import for_engine

    profiles = load_profiles([REPO_VOICES])
    assert profiles["narrator-piper"].engine == profiles["notes-piper"].engine == "piper"
    assert profiles["narrator-piper"].model == "en_US-joe-medium"
    switched = for_engine(profiles, "piper")
    assert switched["narrator"] == dataclasses.replace(profiles["narrator-piper"], name="narrator")
    assert switched["notes"] == dataclasses.replace(profiles["notes-piper"], name="notes")
    assert switched["dialogue"] == dataclasses.replace(profiles["dialogue"], engine="piper")   # no own: same settings
    assert for_engine(profiles, None) == profiles
    assert for_engine(profiles, "pyttsx3")["narrator"] == profiles["narrator"]


def test_work_language_sets_the_accent():
    from audiobook.voices import with_accent

    profiles = load_profiles([REPO_VOICES])
    british = with_accent(profiles, "en-GB")
    assert british["narrator"].language == british["notes"].language == "en-gb"
    assert with_accent(profiles, "en") == profiles          # no region: each profile's own accent
    assert with_accent(profiles, "fr-FR")["narrator"].language == "en-us"   # another language: not an accent


def test_profile_model_path_is_relative_to_the_profile(tmp_path):
    (tmp_path / "v.toml").write_text('engine = "piper"\nmodel = "models/x.onnx"\nspeaker = 3\n')
    profile = load_profile(tmp_path / "v.toml")
    assert profile.model == str(tmp_path / "models" / "x.onnx") and profile.speaker == "3"


def test_default_dirs_find_the_shipped_profiles():
    assert {"narrator", "notes"} <= set(load_profiles())


def test_earlier_folder_wins(tmp_path):
    (tmp_path / "narrator.toml").write_text('voice = "gmw/en-us"\nrate = 150\n')
    (tmp_path / "whisper.toml").write_text("volume = 0.4\n")
    profiles = load_profiles([tmp_path, REPO_VOICES])
    assert profiles["narrator"].voice == "gmw/en-us" and profiles["narrator"].rate == 150
    assert profiles["whisper"].volume == 0.4
    assert profiles["notes"].rate == 170


@pytest.mark.parametrize(
    "body, message",
    [
        ("rate = 'fast'", "rate"),
        ("rate = 2000", "out of range"),
        ("pitch = -1", "out of range"),
        ("volume = 1.5", "out of range"),
        ("gender = 'robot'", "gender"),
        ("colour = 'blue'", "unknown setting"),
        ("rate = ", "not valid TOML"),
    ],
)
def test_bad_profiles_are_reported(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body + "\n")
    with pytest.raises(VoiceError, match=message) as err:
        load_profile(path)
    assert err.value.path == str(path)


def test_parse_voice_overrides():
    assert parse_voice_overrides(["note=narrator", " song = notes "]) == {"note": "narrator", "song": "notes"}
    assert parse_voice_overrides(None) == {}


@pytest.mark.parametrize("spec", ["note", "note=", "=narrator", "note:narrator"])
def test_bad_override_syntax(spec):
    with pytest.raises(VoiceError, match="ROLE=PROFILE"):
        parse_voice_overrides([spec])


def test_override_of_unknown_role_lists_roles():
    with pytest.raises(VoiceError, match="unknown role 'villain'.*salutation"):
        parse_voice_overrides(["villain=narrator"])


def make_script(cast_table=None) -> Script:
    meta = Metadata(title="T", cast=dict(cast_table or {}))
    doc = Document(path=Path("x.txt"), text="", meta=meta, encoding="utf-8")
    roles = ["note", "heading", "salutation", "body", "scene_break", "closing", "signature", "playlist", "song"]
    segments = tuple(
        Segment(index=i, role=r, text=r, speech="" if r == "scene_break" else r, chapter="c")
        for i, r in enumerate(roles)
    )
    return Script(document=doc, segments=segments)


@pytest.fixture
def profiles():
    return load_profiles([REPO_VOICES])


def test_default_cast(profiles):
    script = make_script()
    out = cast(script, profiles)
    assert out is not script and all(s.voice is None for s in script.segments)   # a new value
    voices = {s.role: s.voice for s in out.segments}
    assert voices == {
        "note": "notes", "heading": "narrator", "salutation": "narrator", "body": "narrator",
        "scene_break": None, "closing": "narrator", "signature": "narrator",
        "playlist": "notes", "song": "notes",
    }
    assert set(DEFAULT_CAST) == set(CAST_ROLES)
    assert DEFAULT_CAST["lyrics"] == "lyrics"          # songfic lyrics: a voice of their own
    assert DEFAULT_CAST["header"] == DEFAULT_CAST["outro"] == "notes"


def test_precedence_override_then_sidecar_then_default(profiles):
    script = make_script({"note": "narrator", "body": "notes"})
    out = cast(script, profiles, overrides={"body": "narrator"})
    voices = {s.role: s.voice for s in out.segments}
    assert voices["note"] == "narrator"      # sidecar
    assert voices["body"] == "narrator"      # --voice beats the sidecar
    assert voices["song"] == "notes"         # default
    table = resolve_cast(profiles, {"header": "narrator"}, None)
    assert table["header"] == "narrator" and table["outro"] == "notes"


def test_unknown_profile_lists_profiles(profiles):
    with pytest.raises(VoiceError, match="unknown voice profile .robot.*narrator, narrator-piper, notes"):
        cast(make_script(), profiles, overrides={"body": "robot"})
    with pytest.raises(VoiceError, match="sidecar.*'robot'"):
        cast(make_script({"note": "robot"}), profiles)


def test_unknown_role_in_sidecar(profiles):
    # [cast] names roles and the characters who speak; "villain" is neither here.
    with pytest.raises(VoiceError, match="unknown role or character 'villain'"):
        cast(make_script({"villain": "narrator"}), profiles)


def test_missing_default_profile_is_explained(tmp_path):
    (tmp_path / "narrator.toml").write_text("rate = 160\n")
    with pytest.raises(VoiceError, match="no voice profile 'notes'.*--voice"):
        cast(make_script(), load_profiles([tmp_path]))
