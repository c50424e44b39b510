"""Inputs are bounded before the work starts (issue 18, section 4): the files a work names
(its cover, its song files) are checked before a word is spoken, met through the CLI as
a user would. What must hold: one line naming the file and what to do, no traceback, a
non-zero exit, nothing of the bad work spoken, the other works of the batch rendered, and
nothing that blocks (a FIFO) or swells memory (a huge image) is ever opened or decoded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import audiobook.render as render_module
from audiobook.cli import main
from audiobook.master import ffmpeg_exe
from tests.helpers_media import make_episode

ROOT = Path(__file__).resolve().parent.parent
GOOD = "Title: Good\nAuthor: Me\n\nA good short story about a lighthouse.\n"
NEVER = "A story that must never be spoken."
# A playlist of one song: "Harbour Lights" is an interlude, its file given in the sidecar.
TUNE = f"Title: Tune\nAuthor: Me\n\n{NEVER}\n\nSongs I listened to while writing this:\nHarbour Lights - The Keepers\n"


def render(*args):
    return CliRunner().invoke(main, ["render", *map(str, args), "--engine", "test", "-j", "1", "--json", "-q"])


def errors(output: str, stderr: str) -> list[str]:
    assert "Traceback" not in output and "Warning" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert all(line.startswith("Error: ") for line in lines), lines
    return lines


def outputs(stdout: str) -> list[str]:
    return sorted(Path(o["mp3"]).name for o in json.loads(stdout)["outputs"])


@pytest.fixture
def spoken(monkeypatch) -> list[str]:
    """Everything render asks the engine to say, in this process."""
    said: list[str] = []
    real = render_module.speak

    def speak(utterances, *args, **kwargs):
        said.extend(u.text for u in utterances)
        return real(utterances, *args, **kwargs)

    monkeypatch.setattr(render_module, "speak", speak)
    return said


def works(tmp_path: Path, text: str, sidecar: str) -> Path:
    """A folder with the work under test (bad.txt and its sidecar) and a good one."""
    folder = tmp_path / "works"
    folder.mkdir()
    (folder / "bad.txt").write_text(text, encoding="utf-8")
    (folder / "bad.toml").write_text(sidecar, encoding="utf-8")
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    return folder


def sine(path: Path, seconds: float = 3) -> Path:
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", f"sine=f=330:d={seconds}", str(path)], check=True)
    return path


# ---- covers --------------------------------------------------------------------------------


def test_a_fifo_or_device_cover_or_sidecar_is_one_line_and_never_blocks(tmp_path):
    """Opening a FIFO waits for a writer: before, the render hung there forever (a FIFO
    sidecar was silently taken for none). A device is refused without being read."""
    folder = works(tmp_path, "Title: Piped\nAuthor: Me\n\nA story.\n", 'cover = "cover.fifo"\n')
    os.mkfifo(folder / "cover.fifo")
    (folder / "device.txt").write_text("Title: Zeros\nAuthor: Me\n\nA story.\n", encoding="utf-8")
    (folder / "device.toml").write_text('cover = "/dev/zero"\n', encoding="utf-8")
    (folder / "piped.txt").write_text("Title: Side\nAuthor: Me\n\nA story.\n", encoding="utf-8")
    os.mkfifo(folder / "piped.toml")
    cmd = [sys.executable, "-m", "audiobook.cli", "render", str(folder), "-o", str(tmp_path / "out"),
           "--cache-dir", str(tmp_path / "cache"), "--engine", "test", "-j", "1", "--json", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1, proc.stderr
    fifo, device, sidecar = errors(proc.stdout + proc.stderr, proc.stderr)
    assert "cover.fifo: is a FIFO (named pipe), not an image file" in fifo and "bad.toml" in fifo, fifo
    assert "/dev/zero: is a device, not an image file" in device and "device.toml" in device, device
    assert "piped.toml: sidecar is a FIFO (named pipe), not a file" in sidecar, sidecar
    assert outputs(proc.stdout) == ["good.mp3"]


def test_a_fifo_show_image_is_one_line_and_never_blocks(tmp_path):
    """`audiofic feed --image`: the other way a user gives a picture."""
    folder = tmp_path / "show"
    make_episode(folder, "a", title="One", album="W", track=1)
    os.mkfifo(tmp_path / "art.fifo")
    cmd = [sys.executable, "-m", "audiobook.cli", "feed", str(folder), "--base-url", "https://example.org/pod", "--image", str(tmp_path / "art.fifo")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1, proc.stderr
    (line,) = errors(proc.stdout + proc.stderr, proc.stderr)
    assert "art.fifo: is a FIFO (named pipe), not an image file; give a square JPEG or PNG" in line, line
    assert not (folder / "feed.xml").exists()


def test_a_huge_cover_is_refused_from_its_header_before_any_speech(tmp_path, spoken):
    """13000 x 13000 pixels (a PNG of a few hundred KB) took 1.5 GB to decode, after the
    whole work was spoken; its size is in the header."""
    folder = works(tmp_path, f"Title: Huge\nAuthor: Me\n\n{NEVER}\n", 'cover = "huge.png"\n')
    Image.new("1", (13000, 13000)).save(folder / "huge.png")   # one byte a pixel here; compresses small
    assert (folder / "huge.png").stat().st_size < 1_000_000
    result = render(folder, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 1
    (line,) = errors(result.output, result.stderr)
    assert "huge.png: image is 13000x13000 px (169 megapixels; at most 40 are read); scale it down" in line, line
    assert outputs(result.stdout) == ["good.mp3"]
    assert not any(NEVER in text for text in spoken)


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("not a picture at all\n", encoding="utf-8"), "not an image Pillow can read"),
    (lambda p: p.write_bytes(_png_bytes()[:400]), "cannot read the image"),   # cut short: a damaged download
    (lambda p: p.mkdir(), "is a folder, not an image file"),
], ids=["text", "truncated", "folder"])
def test_a_bad_cover_is_one_line_before_any_speech(tmp_path, spoken, make, words):
    """Before, a bad cover failed the work only after all of it was spoken and encoded."""
    folder = works(tmp_path, f"Title: Broken\nAuthor: Me\n\n{NEVER}\n", 'cover = "cover.png"\n')
    make(folder / "cover.png")
    result = render(folder, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 1
    (line,) = errors(result.output, result.stderr)
    assert "cover.png: " + words in line and "fix the cover set in bad.toml" in line, line
    assert outputs(result.stdout) == ["good.mp3"]
    assert not any(NEVER in text for text in spoken)
    assert not (tmp_path / "out" / "broken.mp3").exists()


def _png_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.effect_noise((300, 300), 80).save(buffer, "PNG")   # noise: image data well past the header
    return buffer.getvalue()


# ---- song files ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_song(tmp_path_factory) -> Path:
    return sine(tmp_path_factory.mktemp("music") / "song.mp3", 120)


@pytest.mark.parametrize("make, words", [
    (os.mkfifo, "is a FIFO (named pipe), not a song file"),
    (lambda p: p.mkdir(), "is a folder, not a song file"),
    (lambda p: p.write_text("ID3 but not really\n" * 50, encoding="utf-8"), "cannot decode song file"),
], ids=["fifo", "folder", "text"])
def test_a_bad_song_file_is_one_line_before_any_speech(tmp_path, spoken, good_song, make, words):
    """Before, a song file was first opened while the work was being spoken and encoded
    (a FIFO was "not found"; a file that is no audio failed once the speech was done).
    The checks refuse what cannot be read, not what is merely large: in the same batch a
    work with a real song and a 12-megapixel cover with transparency renders."""
    folder = works(tmp_path, TUNE, '[interludes.files]\n"Harbour Lights" = "song.mp3"\n')
    make(folder / "song.mp3")
    (folder / "tune-too.txt").write_text(TUNE.replace("Tune", "Tune Too").replace(NEVER, "A story with a song."), encoding="utf-8")
    (folder / "tune-too.toml").write_text(f'cover = "photo.png"\n[interludes.files]\n"Harbour Lights" = "{good_song}"\n', encoding="utf-8")
    Image.new("RGBA", (3000, 4000), (200, 30, 90, 255)).save(folder / "photo.png")
    (folder / "tune-two.txt").write_text(TUNE.replace("Tune", "Tune Two").replace(NEVER, "A story with a song."), encoding="utf-8")
    result = render(folder, "-o", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 1
    (line,) = errors(result.output, result.stderr)
    assert "song.mp3: " in line and words in line, line
    assert outputs(result.stdout) == ["good.mp3", "tune-too.mp3", "tune-two.mp3"]
    assert not any(NEVER in text for text in spoken)
    tune, stings = ([o for o in json.loads(result.stdout)["outputs"] if o["mp3"].endswith(name)][0] for name in ("tune-too.mp3", "tune-two.mp3"))
    assert tune["duration_s"] - stings["duration_s"] > 6   # 12 s of the song played, where the other has two stings
    with Image.open(tune["cover"]) as cover:
        assert cover.size == (1400, 1400) and cover.getpixel((700, 700)) == pytest.approx((200, 30, 90), abs=3)
