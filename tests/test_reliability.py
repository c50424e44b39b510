"""Renders that go wrong: killed processes, a damaged cache, a failing engine or ffmpeg, a full
disk, an unusable output folder, hostile metadata and pathological texts.

What must always hold: nothing appears under a final name in the output folder unless the
episode is complete, the clip cache never holds an entry that does not decode, the user gets
one line saying what is wrong (no traceback), and running the command again finishes the job.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import unicodedata
import wave
from pathlib import Path

import feedparser
import numpy as np
import pytest
from click.testing import CliRunner
from lxml import etree
from mutagen.id3 import ID3

from audiobook.cli import main
from audiobook.engines import get_engine
from audiobook.render import WORK_PREFIX, RenderOptions, render

from .audio_checks import ffprobe, needs_ffprobe

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "input" / "like-we-used-to-letter.txt"
SHORT_LETTER = Path(__file__).resolve().parent / "fixtures" / "render" / "short-letter.txt"
FINAL_SUFFIXES = (".mp3", ".vtt", ".jpg", ".chapters.json")
CLIP_NAME = re.compile(r"^[0-9a-f]{64}\.wav$")
CLI = [sys.executable, "-m", "audiobook.cli"]


# ---- helpers ------------------------------------------------------------------------------


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def render_args(text: Path, out: Path, cache: Path, *extra) -> list[str]:
    return ["render", str(text), "-o", str(out), "--cache-dir", str(cache), *map(str, extra)]


def render_test_engine(text: Path, out: Path, cache: Path, *extra) -> dict:
    """`render --engine test` in-process; the --json document."""
    result = run_cli(*render_args(text, out, cache, "--engine", "test", "-j", "1", "--json", "-q", *extra))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_one_line_error(stderr: str, *needles: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def final_files(out: Path) -> list[str]:
    """Files under a final episode name at the top of the output folder."""
    if not out.exists():
        return []
    return sorted(p.name for p in out.iterdir() if p.name.endswith(FINAL_SUFFIXES) and not p.name.startswith("."))


def partial_folders(out: Path) -> list[Path]:
    return sorted(out.glob(f"{WORK_PREFIX}*")) if out.exists() else []


def cache_entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "clips").glob("*/*.wav") if CLIP_NAME.match(p.name))


def assert_cache_entries_whole(cache: Path) -> int:
    """Every clip under its final cache name decodes and holds as many frames as its size says."""
    entries = cache_entries(cache)
    for path in entries:
        size = path.stat().st_size
        with wave.open(str(path), "rb") as w:
            assert (w.getnchannels(), w.getsampwidth()) == (1, 2), path
            frames = w.getnframes()
            data = w.readframes(frames)
        assert frames > 0, path
        assert len(data) == frames * 2, f"{path}: header says {frames} frames, file holds {len(data) // 2}"
        assert frames * 2 + 44 <= size <= frames * 2 + 44 + 4096, f"{path}: {size} bytes for {frames} frames"
    return len(entries)


def assert_valid_episode(mp3: Path, duration_s: float | None = None) -> dict:
    probe = ffprobe(mp3)
    (audio,) = [s for s in probe["streams"] if s["codec_type"] == "audio"]
    assert (audio["codec_name"], int(audio["sample_rate"]), audio["channels"]) == ("mp3", 44100, 1)
    assert probe["chapters"], "chapter marks"
    if duration_s is not None:
        assert float(probe["format"]["duration"]) == pytest.approx(duration_s, abs=0.1)
    with open(mp3, "rb") as f:
        assert f.read(4) == b"ID3\x03"
    for suffix in FINAL_SUFFIXES[1:]:
        assert mp3.with_name(mp3.name[:-4] + suffix).is_file()
    return probe


def words(text: str) -> list[str]:
    return re.sub(r"[^\w\s]", "", text.lower()).split()


def copy_short_letter(folder: Path, name: str = "fic.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    shutil.copy(SHORT_LETTER, path)
    return path


def long_work(folder: Path) -> Path:
    """The letter's body six times over, sentences shuffled differently in each copy (so every
    paragraph is a new clip): about 6,000 words, several seconds of real synthesis."""
    text = SEED.read_text(encoding="utf-8")
    body = text[text.index("I don't really know how to start"): text.index("I will always love you")]
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    out = []
    for copy in range(6):
        rng = random.Random(copy)
        for paragraph in paragraphs:
            sentences = re.split(r"(?<=[.!?])\s+", paragraph)
            rng.shuffle(sentences)
            out.append(" ".join(sentences))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "long-work.txt"
    path.write_text("\n\n".join(out) + "\n", encoding="utf-8")
    (folder / "long-work.toml").write_text('title = "Long Work"\nauthor = "Tester"\n', encoding="utf-8")
    return path


def wait_for(condition, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the render finished (exit {proc.returncode}) before the moment to kill it")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the render never reached the moment to kill it")
        time.sleep(0.02)


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while True:   # workers and the fork server die with the group: nothing keeps writing
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            pytest.fail("processes of the killed render are still running")
        time.sleep(0.05)


# ---- SIGKILL at several moments (real engine) ----------------------------------------------


def _encoding_under_way(out: Path, cache: Path) -> bool:
    """Speech is over and the episode is being finished: its work folder exists (stretches
    are encoded from the first minute of speech on, the work folder only once all is said)."""
    return bool(partial_folders(out)) if out.exists() else False


def assert_encoded_cache_whole(cache: Path) -> None:
    """Every encoded stretch under its final cache name decodes (system ffprobe)."""
    for path in (cache / "encoded").glob("*/*.mp3"):
        if path.name.startswith("."):
            continue
        probe = ffprobe(path)
        assert probe["streams"][0]["codec_name"] == "mp3", path
        assert float(probe["format"]["duration"]) > 0, path


@pytest.mark.slow
@needs_ffprobe
@pytest.mark.parametrize("moment", ["synthesis", "encoding"])
def test_sigkill_leaves_nothing_broken_and_rerun_resumes(tmp_path, moment):
    text = long_work(tmp_path / "work")
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = CLI + render_args(text, out, cache, "-q")
    proc = subprocess.Popen(args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    if moment == "synthesis":
        time.sleep(1.0)
        wait_for(lambda: len(cache_entries(cache)) >= 3, 120, proc)   # some clips finished, not all
        assert not partial_folders(out), "still speaking"
    else:
        wait_for(lambda: _encoding_under_way(out, cache), 180, proc)
    kill_group(proc)
    assert proc.returncode == -signal.SIGKILL

    assert final_files(out) == []
    cached_before = assert_cache_entries_whole(cache)
    assert_encoded_cache_whole(cache)
    assert cached_before >= 3
    if moment == "encoding":
        assert partial_folders(out), "the killed run's work folder is left behind"

    rerun = subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    doc = json.loads(rerun.stdout)
    (episode,) = doc["outputs"]
    assert_valid_episode(Path(episode["mp3"]), episode["duration_s"])
    assert final_files(out) == sorted("long-work" + s for s in FINAL_SUFFIXES)
    assert partial_folders(out) == [], "the stale work folder of the killed run is cleaned up"
    assert doc["speech"]["cached"] >= cached_before > 0
    if moment == "encoding":
        assert doc["speech"]["synthesized"] == 0
    assert_cache_entries_whole(cache)
    assert_encoded_cache_whole(cache)


def test_temporary_files_of_killed_runs_are_swept_from_the_cache(tmp_path):
    """Stale means untouched for an hour, whoever wrote it: a PID says nothing about a render
    in another PID namespace (a container sharing the cache), so it is never trusted."""
    text = copy_short_letter(tmp_path / "work")
    cache = tmp_path / "cache"
    gone = subprocess.Popen(["true"])
    gone.wait()                                   # a pid that runs nothing here
    key = "ab" + "0" * 62
    stale = [
        cache / "clips" / "ab" / f".{key}.{gone.pid}.deadbeef.tmp.wav",
        cache / "clips" / "ab" / f".{key}.{gone.pid}.deadbeef.tmp.wav.part0.wav",
        cache / "encoded" / "ab" / f".{key}.mp3.{gone.pid}.1234.tmp",
    ]
    # Being written right now by a render whose PID means nothing here (another namespace).
    busy = [cache / "clips" / "ab" / f".{key}.{gone.pid}.cafebabe.tmp.wav",
            cache / "encoded" / "ab" / f".{key}.mp3.{gone.pid}.5678.tmp"]
    hour_ago = time.time() - 2 * 3600
    for path in [*stale, *busy]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF half written")
    for path in stale:
        os.utime(path, (hour_ago, hour_ago))
    render_test_engine(text, tmp_path / "out", cache)
    assert all(p.exists() for p in busy), "a live render's temporary file is left alone"
    assert [p for p in stale if p.exists()] == []


def test_a_partial_folder_in_use_by_another_namespace_is_left_alone(tmp_path):
    """A render elsewhere (another container: its PID is meaningless here) holds the lock on
    its work folder; a folder whose lock nobody holds is what a killed render left."""
    text = copy_short_letter(tmp_path / "work")
    out = tmp_path / "out"
    in_use, left = out / f"{WORK_PREFIX}1-inuse", out / f"{WORK_PREFIX}1-left"
    for folder in (in_use, left):
        folder.mkdir(parents=True)
        (folder / ".lock").write_text("")
        (folder / "half.mp3").write_bytes(b"half an episode")
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
                               "print('locked', flush=True); time.sleep(120)", str(in_use / ".lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        render_test_engine(text, out, tmp_path / "cache")
        assert (in_use / "half.mp3").exists(), "a running render's partial files were deleted"
        assert not left.exists()
    finally:
        holder.kill()
        holder.wait()


# ---- damaged cache entries -------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(b"\x13\x37" * (len(data) // 2))
    elif how == "header-only":
        path.write_bytes(data[:44])


@needs_ffprobe
@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "header-only"])
def test_damaged_cache_entry_is_redone(tmp_path, how):
    text = copy_short_letter(tmp_path / "work")
    out, cache = tmp_path / "out", tmp_path / "cache"
    first = render_test_engine(text, out, cache)["speech"]
    entries = cache_entries(cache)
    assert len(entries) == first["synthesized"] > 3
    victim = max(entries, key=lambda p: p.stat().st_size)   # the longest paragraph
    _damage(victim, how)
    doc = render_test_engine(text, out, cache)
    assert doc["speech"] == {"synthesized": 1, "cached": first["synthesized"] - 1}
    (episode,) = doc["outputs"]
    assert_valid_episode(Path(episode["mp3"]), episode["duration_s"])
    assert assert_cache_entries_whole(cache) == first["synthesized"]
    assert victim.stat().st_size > 44


# ---- a failing speech engine ---------------------------------------------------------------


BROKEN_PARAGRAPH = "kitchen table"


@pytest.fixture
def tone_engine(monkeypatch):
    """The in-process test engine, with its fault hook reset after the test."""
    engine = get_engine("test")
    monkeypatch.setattr(engine, "fault", None)
    return engine


@pytest.mark.parametrize("fault", ["raise", "short", "missing", "garbage"])
def test_engine_failing_on_one_segment_names_it_and_writes_nothing(tmp_path, tone_engine, monkeypatch, fault):
    monkeypatch.setattr(tone_engine, "fault", lambda text: fault if BROKEN_PARAGRAPH in text else None)
    text = copy_short_letter(tmp_path / "work")
    out = tmp_path / "out"
    report = render([text], RenderOptions(out_dir=out, engine="test", cache_dir=tmp_path / "cache", jobs=1))
    assert report.outputs == ()
    ((failed, message),) = report.failures
    assert failed == str(text)
    assert "segment 2 (body: 'I am writing this from the kitchen table" in message
    assert "failed after 3 attempts" in message
    assert final_files(out) == [] and partial_folders(out) == []
    assert_cache_entries_whole(tmp_path / "cache")   # nothing half-written was cached


def test_engine_failure_through_the_cli(tmp_path, tone_engine, monkeypatch):
    monkeypatch.setattr(tone_engine, "fault", lambda text: "raise" if BROKEN_PARAGRAPH in text else None)
    text = copy_short_letter(tmp_path / "work")
    out = tmp_path / "out"
    result = run_cli(*render_args(text, out, tmp_path / "cache", "--engine", "test", "-j", "1", "-q"))
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "fic.txt", "segment 2", "simulated engine failure")
    assert final_files(out) == []


def test_engine_failing_once_is_retried(tmp_path, tone_engine, monkeypatch):
    seen: set[str] = set()

    def flaky(text: str):
        if BROKEN_PARAGRAPH in text and text not in seen:
            seen.add(text)
            return "garbage"
        return None

    monkeypatch.setattr(tone_engine, "fault", flaky)
    text = copy_short_letter(tmp_path / "work")
    report = render([text], RenderOptions(out_dir=tmp_path / "out", engine="test", cache_dir=tmp_path / "cache", jobs=1))
    assert report.failures == ()
    assert len(report.outputs) == 1 and report.outputs[0].path.is_file()
    assert seen


# ---- ffmpeg missing or failing --------------------------------------------------------------


FAKE_FFMPEG = {
    "exit-1": "#!/bin/sh\necho 'fake ffmpeg: broken' >&2\nexit 1\n",
    "half-file": (
        "#!/bin/sh\n"
        'for last; do :; done\n'                                   # the output is the last argument
        'case "$last" in pipe:*) head -c 20000 /dev/urandom ;; *) head -c 20000 /dev/urandom > "$last" ;; esac\n'
        "echo 'fake ffmpeg: crashed halfway' >&2\n"
        "exit 1\n"
    ),
    "silent-exit-1": "#!/bin/sh\nexit 1\n",
}


@pytest.mark.parametrize("kind", ["missing", *FAKE_FFMPEG])
def test_ffmpeg_missing_or_failing(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)   # whatever a broken ffmpeg writes stays in the test's folder
    if kind == "missing":
        ffmpeg = tmp_path / "no" / "ffmpeg"
    else:
        ffmpeg = tmp_path / "fake-ffmpeg"
        ffmpeg.write_text(FAKE_FFMPEG[kind])
        ffmpeg.chmod(0o755)
    monkeypatch.setenv("AUDIOFIC_FFMPEG", str(ffmpeg))
    text = copy_short_letter(tmp_path / "work")
    out = tmp_path / "out"
    result = run_cli(*render_args(text, out, tmp_path / "cache", "--engine", "test", "-j", "1", "-q"))
    assert result.exit_code != 0
    line = assert_one_line_error(result.stderr)
    assert "ffmpeg" in line
    if kind == "missing":
        assert str(ffmpeg) in line
    elif kind != "silent-exit-1":
        assert "fake ffmpeg" in line   # ffmpeg's own last words are passed on
    assert final_files(out) == []
    assert partial_folders(out) == []


def test_ffmpeg_failure_names_the_work_not_a_temporary_folder(tmp_path, monkeypatch):
    ffmpeg = tmp_path / "fake-ffmpeg"
    ffmpeg.write_text(FAKE_FFMPEG["exit-1"])
    ffmpeg.chmod(0o755)
    monkeypatch.setenv("AUDIOFIC_FFMPEG", str(ffmpeg))
    text = copy_short_letter(tmp_path / "work")
    out = tmp_path / "out"
    result = run_cli(*render_args(text, out, tmp_path / "cache", "--engine", "test", "-j", "1", "-q"))
    line = assert_one_line_error(result.stderr, "fake ffmpeg: broken")
    assert WORK_PREFIX not in line and "audiofic-loudness" not in line
    # ffmpeg decodes the loudness sample's round trip through the encoder, early in the render
    assert line.startswith(f"Error: {text}: ")


def test_mp3_encoder_failing_midway_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    """LAME runs in our process now: its failure must still be one line and leave no episode."""
    import lameenc

    real = lameenc.Encoder

    class Failing:
        def __init__(self):
            self.lame, self.calls = real(), 0

        def __getattr__(self, name):
            return getattr(self.lame, name)

        def encode(self, pcm):
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("lame_encode_buffer failed")
            return self.lame.encode(pcm)

    monkeypatch.setattr(lameenc, "Encoder", Failing)
    text = copy_short_letter(tmp_path / "work")
    out = tmp_path / "out"
    result = run_cli(*render_args(text, out, tmp_path / "cache", "--engine", "test", "-j", "1", "-q"))
    assert result.exit_code != 0
    line = assert_one_line_error(result.stderr, "MP3 encoder failed")
    assert WORK_PREFIX not in line
    assert final_files(out) == []
    assert partial_folders(out) == []


# ---- full disk and unusable output folders ------------------------------------------------------


def _limited_render(args: list[str], limit: int, cwd: Path) -> subprocess.CompletedProcess:
    """Run the CLI with files capped at `limit` bytes (as on a nearly full disk)."""

    def cap():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # writes then fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(CLI + args, preexec_fn=cap, capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("stage", ["clip cache", "episode"])
def test_full_disk(tmp_path, stage):
    text = copy_short_letter(tmp_path / "work")
    out, cache = tmp_path / "out", tmp_path / "cache"
    if stage == "episode":   # clips are cached already: the MP3 is the first big write
        render_test_engine(text, tmp_path / "warm", cache)
    result = _limited_render(render_args(text, out, cache, "--engine", "test", "-j", "1", "-q"), 60_000, tmp_path)
    assert result.returncode != 0
    assert_one_line_error(result.stderr)
    assert final_files(out) == []
    assert partial_folders(out) == []
    assert_cache_entries_whole(cache)
    if stage == "clip cache":
        assert "File too large" in result.stderr


def test_full_disk_during_encoding_says_why(tmp_path):
    text = copy_short_letter(tmp_path / "work")
    cache = tmp_path / "cache"
    render_test_engine(text, tmp_path / "warm", cache)
    result = _limited_render(render_args(text, tmp_path / "out", cache, "--engine", "test", "-j", "1", "-q"), 60_000, tmp_path)
    line = assert_one_line_error(result.stderr)
    assert "exit code -" not in line
    assert re.search(r"SIGXFSZ|too large|size limit|space", line), line


def test_output_is_a_file(tmp_path):
    text = copy_short_letter(tmp_path / "work")
    target = tmp_path / "episodes"
    target.write_text("not a folder")
    result = run_cli(*render_args(text, target, tmp_path / "cache", "--engine", "test", "-q"))
    assert result.exit_code != 0
    assert_one_line_error(result.stderr, str(target), "-o")
    assert target.read_text() == "not a folder"


def test_output_under_a_file(tmp_path):
    text = copy_short_letter(tmp_path / "work")
    blocker = tmp_path / "episodes"
    blocker.write_text("not a folder")
    result = run_cli(*render_args(text, blocker / "sub", tmp_path / "cache", "--engine", "test", "-q"))
    assert result.exit_code != 0
    assert_one_line_error(result.stderr, str(blocker / "sub"), "-o")
    assert blocker.read_text() == "not a folder"


def test_cache_dir_under_a_file(tmp_path):
    text = copy_short_letter(tmp_path / "work")
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, render_args(text, tmp_path / "out", blocker / "sub", "--engine", "test", "-j", "1", "-q"))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code != 0
    assert_one_line_error(result.stderr, "--cache-dir")
    assert final_files(tmp_path / "out") == []


# ---- hostile input -----------------------------------------------------------------------------


# Only harmless commands: if any of it ever ran, it would leave a file behind and nothing worse.
SHELL_TITLE = "$(touch pwned); `touch pwned2` | cat && echo 'x' > out.txt"
SHELL_SUMMARY = "A <b>summary</b> & some ]]> $(id) `id` <script>alert(1)</script>"
CONTROLS = "\u0007\u001b[31m\u0000\u007f\u0008"


def _sidecar(title: str, author: str, summary: str, fandom: str = "F`id`") -> str:
    def toml(s: str) -> str:
        return json.dumps(s)   # a JSON string with \u escapes is a valid TOML basic string

    return f"title = {toml(title)}\nauthor = {toml(author)}\nsummary = {toml(summary)}\nfandom = {toml(fandom)}\n"


STRAY = {"pwned", "pwned2", "pwned3", "pwned4", "pwned5", "out.txt"}


def assert_no_stray_files(root: Path) -> None:
    """None of the commands hidden in the metadata ran (they would have made these files)."""
    for folder in (root, ROOT, Path.home()):
        assert not [p for p in folder.iterdir() if p.name in STRAY], folder
    assert not [p for p in root.rglob("*") if p.name in STRAY]


def _hostile_render(tmp_path: Path, monkeypatch, title: str, author: str, summary: str) -> tuple[Path, Path]:
    monkeypatch.chdir(tmp_path)
    name = "fic $(touch pwned3) `touch pwned4`; & |.txt"
    text = tmp_path / name
    shutil.copy(SHORT_LETTER, text)
    text.with_suffix(".toml").write_text(_sidecar(title, author, summary), encoding="utf-8")
    assert tomllib.loads(text.with_suffix(".toml").read_text(encoding="utf-8"))["title"] == title
    doc = render_test_engine(Path(name), Path("out"), Path("cache"))
    (episode,) = doc["outputs"]
    return tmp_path / "out", tmp_path / episode["mp3"]


def test_shell_metacharacters_and_controls_in_metadata_have_no_side_effects(tmp_path, monkeypatch):
    out, mp3 = _hostile_render(tmp_path, monkeypatch, SHELL_TITLE + CONTROLS + "\r\nEnd", "Mal; $(touch pwned5)" + CONTROLS, SHELL_SUMMARY + CONTROLS)
    names = final_files(out)
    assert len(names) == 4 and all(re.fullmatch(r"[a-z0-9-]+\.(mp3|vtt|jpg|chapters\.json)", n) for n in names), names
    (text,) = tmp_path.glob("fic*.txt")
    assert {p.name for p in tmp_path.iterdir()} == {"out", "cache", text.name, text.with_suffix(".toml").name}
    assert set(os.listdir(out)) == set(names)
    assert_no_stray_files(tmp_path)
    assert_valid_episode(mp3)


def test_shell_metacharacters_are_escaped_in_the_feed(tmp_path, monkeypatch):
    out, mp3 = _hostile_render(tmp_path, monkeypatch, SHELL_TITLE, "Mal; $(touch pwned5)", SHELL_SUMMARY)
    assert ID3(mp3)["TIT2"].text == [SHELL_TITLE]
    result = run_cli("feed", "out", "--base-url", "https://example.org/x")
    assert result.exit_code == 0, result.output
    raw = (out / "feed.xml").read_bytes()
    root = etree.fromstring(raw)
    assert not list(root.iter("script", "b")), "markup from the metadata stays text"
    (item,) = root.findall("./channel/item")
    assert item.findtext("title") == SHELL_TITLE
    assert "<b>summary</b> & some ]]> $(id)" in item.findtext("description")
    parsed = feedparser.parse(raw)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries[0].title == SHELL_TITLE
    assert_no_stray_files(tmp_path)


def _controls(s: str) -> list[str]:
    return [hex(ord(c)) for c in s if unicodedata.category(c) == "Cc"]


def test_control_characters_are_absent_from_tags_and_transcript(tmp_path, monkeypatch):
    out, mp3 = _hostile_render(tmp_path, monkeypatch, SHELL_TITLE + CONTROLS + "\r\nEnd", "Mal" + CONTROLS, SHELL_SUMMARY + CONTROLS)
    tags = ID3(mp3)
    title = " ".join(tags["TIT2"].text)
    assert _controls(title) == []
    assert title.startswith(SHELL_TITLE) and title.endswith("End")
    assert _controls(" ".join(tags["TPE1"].text)) == []
    assert _controls(" ".join(tags["TALB"].text)) == []
    for comm in tags.getall("COMM"):
        assert _controls(comm.text[0].replace("\n", " ")) == []
    vtt = mp3.with_suffix(".vtt").read_text(encoding="utf-8")
    assert _controls(vtt.replace("\n", " ")) == []


def test_control_characters_do_not_break_the_feed(tmp_path, monkeypatch):
    out, mp3 = _hostile_render(tmp_path, monkeypatch, SHELL_TITLE + CONTROLS, "Mal" + CONTROLS, SHELL_SUMMARY + CONTROLS)
    result = CliRunner().invoke(main, ["feed", "out", "--base-url", "https://example.org/x"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output
    raw = (out / "feed.xml").read_bytes()
    root = etree.fromstring(raw)
    title = root.findtext("./channel/item/title")
    assert title.startswith(SHELL_TITLE) and _controls(title) == []
    assert not feedparser.parse(raw).bozo


# ---- pathological sizes ---------------------------------------------------------------------


def one_long_line(path: Path, chars: int = 100_000) -> list[str]:
    """A single line of just under `chars` characters (no newline): the seed's words over and
    over, leaving out words the lexicon respells, so text and speech hold the same words."""
    lexicon = {k.lower() for k in tomllib.loads((ROOT / "voices" / "lexicon.toml").read_text())["words"]}
    pool = [w for w in re.findall(r"[A-Za-z']+", SEED.read_text(encoding="utf-8")) if w.lower().split("'")[0] not in lexicon]
    out, size, i = [], 0, 0
    while size + len(pool[i % len(pool)]) + 1 < chars:
        out.append(pool[i % len(pool)])
        size += len(out[-1]) + 1
        i += 1
    line = " ".join(out) + "."
    path.write_text(line, encoding="utf-8")
    assert chars - 20 < len(line) <= chars and "\n" not in line
    return words(line)


def test_one_100k_character_line_renders_in_bounded_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A fast reader (its own profile, 500 wpm) keeps the audio short: what is under test is that
    # reading, segmenting, chunking and laying out one huge line is not quadratic.
    (tmp_path / "voices").mkdir()
    (tmp_path / "voices" / "quick.toml").write_text('language = "en"\nrate = 500\n')
    text = tmp_path / "line.txt"
    line_words = one_long_line(text)
    started = time.monotonic()
    doc = render_test_engine(text, tmp_path / "out", tmp_path / "cache", "--voice", "note=quick", "--voice", "narration=quick", "--voice", "body=quick")
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"{elapsed:.1f} s"
    (episode,) = doc["outputs"]
    cues = Path(episode["transcript"]).read_text(encoding="utf-8")
    cue_text = " ".join(line for line in cues.splitlines()[2:] if line and "-->" not in line and not line.isdigit())
    assert all(len(line) <= 65 for line in cues.splitlines())
    cue_words = words(cue_text)
    start = cue_words.index(line_words[0])
    assert cue_words[start:start + len(line_words)] == line_words
    probe = assert_valid_episode(Path(episode["mp3"]), episode["duration_s"])
    nominal = len(line_words) * 60 / 500
    assert nominal < float(probe["format"]["duration"]) < nominal * 1.2 + 30


def test_one_100k_character_line_speech_holds_every_word(tmp_path):
    text = tmp_path / "line.txt"
    line_words = one_long_line(text)
    result = run_cli("plan", text, "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    spoken = words(" ".join(s["speech"] for s in plan["segments"]))
    assert spoken == line_words


@pytest.mark.slow
@needs_ffprobe
def test_one_100k_character_line_real_speech_is_complete(tmp_path):
    text = tmp_path / "line.txt"
    line_words = one_long_line(text)
    proc = subprocess.run(
        CLI + render_args(text, tmp_path / "out", tmp_path / "cache", "--json", "-q", "--no-header", "--no-outro"),
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    (episode,) = json.loads(proc.stdout)["outputs"]
    probe = assert_valid_episode(Path(episode["mp3"]), episode["duration_s"])
    minutes = float(probe["format"]["duration"]) / 60
    wpm = len(line_words) / minutes
    # The notes voice reads at 170 wpm nominal; eSpeak runs faster, and a line without
    # sentence ends has no pauses. A lost chunk of text would push this far up.
    assert 150 < wpm < 300, f"{len(line_words)} words in {minutes:.1f} min = {wpm:.0f} wpm"


def test_loudness_sample_of_one_long_paragraph_is_bounded(tmp_path):
    from audiobook import assemble
    from audiobook.engines import write_wav
    from audiobook.models import Piece, Program

    rate = 22050
    clip = tmp_path / "long-clip.wav"
    write_wav(clip, (np.sin(np.arange(rate * 600) * 0.05) * 8000).astype("<i2").tobytes(), rate)  # 10 minutes
    length = rate * 600
    program = Program(rate=rate, pieces=(Piece("speech", 0, length, source=clip),), chapters=(), cues=(), length=length)
    sample = assemble.speech_sample(program)
    assert 0 < sample.size <= 41 * rate, f"{sample.size / rate:.0f} s of samples for a 40 s sample"


def test_ten_megabyte_text_is_refused(tmp_path):
    text = tmp_path / "enormous-fic.txt"
    chunk = SEED.read_bytes()
    with open(text, "wb") as f:
        while f.tell() < 10 * 2**20:
            f.write(chunk)
    out = tmp_path / "out"
    started = time.monotonic()
    result = run_cli(*render_args(text, out, tmp_path / "cache", "--engine", "test", "-q"))
    assert time.monotonic() - started < 10
    assert result.exit_code != 0
    assert_one_line_error(result.stderr, "enormous-fic.txt", "MB")
    assert final_files(out) == [] and partial_folders(out) == []
    assert not (tmp_path / "cache" / "clips").exists()


@needs_ffprobe
def test_concurrent_renders_with_different_options_share_one_cache(tmp_path):
    """Two renders at once, one cache, one output folder, different options (one without the
    spoken header): entries are never replaced once published, so neither finds a clip
    changed under it, and both episodes are whole and as long as when rendered alone."""
    works = tmp_path / "works"
    works.mkdir()
    text = SEED.read_text(encoding="utf-8")
    (works / "letter.txt").write_text(text, encoding="utf-8")
    (works / "letter-copy.txt").write_text(text, encoding="utf-8")
    (works / "letter-copy.toml").write_text('title = "A Copy of the Letter"\nauthor = "Someone"\n', encoding="utf-8")
    solo = {}
    for name, extra in (("letter", []), ("letter-copy", ["--no-header"])):
        done = subprocess.run(CLI + render_args(works / f"{name}.txt", tmp_path / f"solo-{name}", tmp_path / f"cache-{name}", "-q", "--json", *extra),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        (solo[name],) = json.loads(done.stdout)["outputs"]
    for attempt in range(3):      # the race was lost about 3 times in 5
        out, cache = tmp_path / f"out{attempt}", tmp_path / f"cache{attempt}"
        procs = [
            subprocess.Popen(CLI + render_args(works / "letter.txt", out, cache, "-q", "--json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            subprocess.Popen(CLI + render_args(works / "letter-copy.txt", out, cache, "-q", "--json", "--no-header"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        ]
        for proc, name in zip(procs, ("letter", "letter-copy")):
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr
            (episode,) = json.loads(stdout)["outputs"]
            assert_valid_episode(Path(episode["mp3"]), episode["duration_s"])
            # A clip the other render spoke was spoken after other texts in its eSpeak process, and
            # eSpeak's output depends a little on what it said before (a few samples a clip):
            # the episode matches its solo render to within a quarter of a second, not byte for byte.
            assert abs(episode["duration_s"] - solo[name]["duration_s"]) < 0.25
            assert [c["title"] for c in episode["chapters"]] == [c["title"] for c in solo[name]["chapters"]]
        assert_cache_entries_whole(cache)
