"""Bad input through the real CLI: one line naming the file, non-zero exit, no traceback, nothing written."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from audiobook.cli import main
from audiobook.read import MAX_INPUT_BYTES

BAD_INPUTS = {
    "empty.txt": b"",
    "blank.txt": b"  \n\n \r\n\t \n",
    "nul.txt": b"Dear Magnus\x00\x00\x00\x01\x02binary",
    "undecodable.txt": b"Dear Magnus \x81\x8d\x8f\x90\x9d not cp1252 either",
    "controls.txt": bytes(range(1, 9)) * 200,
    "utf16-broken.txt": b"\xff\xfeD\x00e\x00\x00\xd8",
}


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def assert_one_line_error(result, name: str):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and name in lines[0]


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["plan", "render"])
def test_bad_file(tmp_path, name, command):
    path = tmp_path / name
    path.write_bytes(BAD_INPUTS[name])
    out = tmp_path / "out"
    args = [command, str(path)] + (["-o", str(out), "--engine", "test", "-q"] if command == "render" else [])
    result = run(*args)
    assert_one_line_error(result, name)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("command", ["plan", "render"])
def test_missing_path(tmp_path, command):
    result = run(command, str(tmp_path / "nowhere.txt"))
    assert_one_line_error(result, "nowhere.txt")
    assert "no such file" in result.stderr


@pytest.mark.parametrize("command", ["plan", "render"])
def test_folder_without_texts(tmp_path, command):
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    out = tmp_path / "out"
    result = run(command, str(tmp_path), *(["-o", str(out)] if command == "render" else []))
    assert_one_line_error(result, str(tmp_path))
    assert "no texts" in result.stderr
    assert not out.exists()


def test_huge_file_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)
    result = run("plan", str(path))
    assert_one_line_error(result, "huge.txt")
    assert "limit" in result.stderr


def test_broken_sidecar_names_the_sidecar(tmp_path):
    (tmp_path / "fic.txt").write_text("Dear Magnus,\n\nHello.\n\nLove,\nAlec\n")
    (tmp_path / "fic.toml").write_text("title = 'unterminated\n")
    result = run("plan", str(tmp_path / "fic.txt"))
    assert_one_line_error(result, "fic.toml")


def test_sidecar_with_unknown_key_is_refused(tmp_path):
    (tmp_path / "fic.txt").write_text("Hello there.\n")
    (tmp_path / "fic.toml").write_text("titel = 'typo'\n")
    result = run("plan", str(tmp_path / "fic.txt"))
    assert_one_line_error(result, "fic.toml")
    assert "titel" in result.stderr


def test_one_bad_file_does_not_stop_the_others(tmp_path):
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a-good.txt").write_text("Dear Magnus,\n\nI miss you.\n\nLove,\nAlec\n")
    (texts / "b-empty.txt").write_text("")
    out = tmp_path / "out"
    result = run("render", str(texts), "-o", str(out), "--engine", "test", "-q", "--cache-dir", str(tmp_path / "c"))
    assert result.exit_code == 1
    assert "b-empty.txt" in result.stderr and "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["a-good.chapters.json", "a-good.jpg", "a-good.mp3", "a-good.vtt"]


def test_output_path_that_is_a_file(tmp_path):
    (tmp_path / "fic.txt").write_text("Hello there.\n")
    (tmp_path / "taken").write_text("I am a file")
    result = run("render", str(tmp_path / "fic.txt"), "-o", str(tmp_path / "taken"), "--engine", "test")
    assert_one_line_error(result, "taken")
    assert (tmp_path / "taken").read_text() == "I am a file"


def test_help_explains_every_command():
    for command in ["plan", "render", "voices", "feed", "publish"]:
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output
