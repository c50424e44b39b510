"""Languages (issue 18, section 5): the voice follows the work's language.

The language comes from the sidecar or the download's metadata, else from the script most
of the text's letters are in; the engine's voice for that language reads it (each role
keeping its own rate, pitch and variant), or, when the engine has none, one line names the
language before anything is spoken. English expansions (numbers said as English words,
English abbreviations, the English header and credits) stay out of other languages.

The texts are our own, a few sentences each. Logic runs with the test engine (it has a
Russian, a Mandarin and an Arabic voice); one test speaks Russian with eSpeak NG itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from audiobook.cli import main

from .audio_checks import ffprobe, needs_ffprobe

RUSSIAN = (
    "Вечером Анна вышла к реке. Вода была тёмной и тихой, а над лесом медленно поднималась луна.\n\n"
    "Она думала о брате, который уехал в город в 2019 году. Ему тогда было 17 лет.\n\n"
    "Ветер принёс запах дождя, и где-то далеко залаяла собака. Анна улыбнулась и пошла домой.\n"
)
MANDARIN = (
    "傍晚，小林沿着河边慢慢地走。天空是淡淡的橙色，远处的山已经看不清了。\n\n"
    "她想起了小时候和奶奶一起种花的日子。那时候院子里有一棵很老的桂花树。\n\n"
    "风吹过树叶，好像在回答她。她笑了笑，转身回家。\n"
)
ARABIC = (
    "في المساء خرجت ليلى إلى الحديقة. كان الهواء باردا والسماء صافية.\n\n"
    "جلست تحت شجرة الزيتون القديمة وفتحت كتابها. تذكرت جدتها التي كانت تحكي لها القصص كل ليلة.\n\n"
    "ثم ابتسمت وبدأت تقرأ بصوت هادئ.\n"
)
# Mostly Russian, with an English sign read out in it.
MIXED = (
    "Гарри посмотрел на часы и тяжело вздохнул. До поезда оставалось совсем немного времени.\n\n"
    "На платформе висела старая табличка: Platform nine and three quarters. Он прочитал её дважды.\n\n"
    "Рон догнал его у двери вагона, и они вместе нашли свободное купе в самом конце поезда.\n"
)
ENGLISH = (
    "The lighthouse keeper climbed the stairs at dusk, as he had done every evening since 1998.\n\n"
    "Dr. Marsh had warned him about his knees, but he counted the 112 steps anyway.\n\n"
    "At the top, the lamp was warm and the sea was quiet.\n"
)
ENGLISH_FILLER = re.compile(r"\b(by|Read|Rated|Warnings|listening|Anonymous|Chapter|nineteen|seventeen|Doctor)\b")


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write(tmp_path: Path, name: str, text: str, sidecar: str | None = None) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    if sidecar is not None:
        path.with_suffix(".toml").write_text(sidecar, encoding="utf-8")
    return path


def render(tmp_path: Path, *inputs: Path, engine: str = "test", extra: tuple = ()):
    return cli("render", *inputs, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache",
               "--engine", engine, "-j", "1", "--json", "-q", *extra)


def outputs(result) -> dict[str, dict]:
    assert "Traceback" not in result.output
    return {Path(o["input"]).stem: o for o in json.loads(result.stdout)["outputs"]}


def errors(result) -> list[str]:
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert all(line.startswith("Error: ") for line in lines), lines
    return lines


def spoken_cues(out: dict) -> str:
    """The transcript's text: what the episode says, header and credits included."""
    return Path(out["transcript"]).read_text(encoding="utf-8")


@pytest.mark.parametrize(("text", "language", "voice"), [
    (RUSSIAN, "ru", "test/ru"),
    (MANDARIN, "zh", "test/cmn"),       # eSpeak NG (and so the test engine) calls Mandarin "cmn"
    (ARABIC, "ar", "test/ar"),
    (MIXED, "ru", "test/ru"),           # mixed: the main language, and its voice for everything
], ids=["russian", "mandarin", "arabic", "mixed"])
def test_the_script_tells_the_language_and_its_voice_reads_everything(tmp_path, text, language, voice):
    work = write(tmp_path, "story", text)
    result = render(tmp_path, work)
    assert result.exit_code == 0, result.output
    out = outputs(result)["story"]
    assert out["language"] == language
    assert out["voices"] and all(v.split("+")[0] == voice for v in out["voices"]), out["voices"]
    # The header and credits say the title (and no English filler) in that voice.
    said = spoken_cues(out)
    assert not ENGLISH_FILLER.search(said), said


def test_plan_shows_the_language_and_the_profiles_speak_it_keeping_their_own_settings(tmp_path):
    work = write(tmp_path, "story", RUSSIAN)
    result = cli("plan", "--json", work)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert (plan["language"], plan["language_from"]) == ("ru", "script")
    assert plan["profiles"]["narrator"] == {"engine": "pyttsx3", "language": "ru"}
    # Digits are left to the engine (eSpeak says them in Russian), never English words.
    speech = " ".join(s["speech"] for s in plan["segments"])
    assert "2019" in speech and "17" in speech
    assert not re.search(r"[A-Za-z]", speech), speech


def test_english_stays_english(tmp_path):
    """The control: a Latin-script text keeps the default English, its expansions and header."""
    work = write(tmp_path, "story", ENGLISH)
    plan = json.loads(cli("plan", "--json", work).stdout)
    assert (plan["language"], plan["language_from"]) == ("en", "default")
    speech = " ".join(s["speech"] for s in plan["segments"])
    assert "Doctor Marsh" in speech                     # English abbreviations still said in full
    result = render(tmp_path, work)
    assert result.exit_code == 0, result.output
    out = outputs(result)["story"]
    assert out["language"] == "en" and all(v.startswith("test/en") for v in out["voices"])
    assert "Read by text-to-speech" in spoken_cues(out)


def test_metadata_wins_over_the_script(tmp_path):
    """The sidecar says Russian for a text in Latin letters (a transliterated fic); and says
    English for a Cyrillic one: the metadata decides, not the letters."""
    latin = write(tmp_path, "translit", "Vecherom Anna vyshla k reke. Voda byla tyomnoj i tikhoj.\n", 'language = "ru"\n')
    cyrillic = write(tmp_path, "cyrillic", RUSSIAN, 'language = "en"\n')
    result = render(tmp_path, latin, cyrillic)
    assert result.exit_code == 0, result.output
    out = outputs(result)
    assert out["translit"]["language"] == "ru" and {v.split("+")[0] for v in out["translit"]["voices"]} == {"test/ru"}
    assert out["cyrillic"]["language"] == "en" and all(v.startswith("test/en") for v in out["cyrillic"]["voices"])


def test_a_language_with_no_voice_is_one_line_before_any_speech_and_the_batch_goes_on(tmp_path):
    odd = write(tmp_path, "odd", "Qapla! This is written in a language nobody speaks.\n", 'language = "qx"\n')
    good = write(tmp_path, "good", ENGLISH)
    result = render(tmp_path, odd, good)
    assert result.exit_code == 1
    lines = errors(result)
    assert len(lines) == 1, lines
    assert "odd.txt" in lines[0] and "'qx'" in lines[0] and "the work's language" in lines[0], lines[0]
    assert "sidecar" in lines[0]                     # what to do
    assert list(outputs(result)) == ["good"]
    assert not list((tmp_path / "out").glob("odd*"))


def test_piper_without_a_russian_voice_says_so_in_one_line(tmp_path):
    pytest.importorskip("piper")
    russian = write(tmp_path, "russian", RUSSIAN)
    result = render(tmp_path, russian, engine="piper")
    assert result.exit_code == 1
    lines = errors(result)
    assert len(lines) == 1, lines
    line = lines[0]
    assert "russian.txt" in line and "no Piper voice speaks Russian (ru)" in line, line
    assert "--engine pyttsx3" in line and "detected from its script" in line, line
    assert not list((tmp_path / "out").glob("*.mp3"))
    assert not (tmp_path / "cache" / "clips").exists() or not any((tmp_path / "cache" / "clips").rglob("*.wav"))


@needs_ffprobe
def test_espeak_reads_russian_in_its_russian_voice(tmp_path):
    """Real speech: eSpeak NG's Russian voice (before, the English voice spelt every letter
    out, and a paragraph took three times as long)."""
    work = write(tmp_path, "story", RUSSIAN)
    result = render(tmp_path, work, engine="pyttsx3", extra=("--no-header", "--no-outro"))
    assert result.exit_code == 0, result.output
    out = outputs(result)["story"]
    assert out["language"] == "ru"
    assert {v.split("+")[0] for v in out["voices"]} == {"zle/ru"}, out["voices"]
    seconds = float(ffprobe(Path(out["mp3"]))["format"]["duration"])
    words = len(re.findall(r"\w+", RUSSIAN)) + 4        # "2019" and "17" are said as two or three words each
    nominal = words * 60 / 160                          # the narrator's 160 words a minute
    assert 0.5 * nominal <= seconds <= 1.6 * nominal + 3, (seconds, nominal)


def test_lexicon_check_hears_the_work_in_its_language(tmp_path):
    """`lexicon check` takes the language as render does (the script, when no metadata says),
    and asks eSpeak NG for its name of it ("cmn" for Mandarin: it has no voice "zh")."""
    text = write(tmp_path, "harbour", MANDARIN, '[lexicon]\n"小明" = "晓明"\n')
    result = cli("lexicon", "check", text)
    assert "Traceback" not in result.output
    assert "eSpeak NG voice cmn" in result.output.splitlines()[0], result.output
    assert re.search(r"小明.*CHANGES NOTHING", result.output)     # the same syllables: it changes nothing
