"""Real media for tests: short MP3s made by ffmpeg, tagged episodes with sidecars, ffprobe."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import imageio_ffmpeg

from audiobook.models import Chapter, Episode
from tests.audio_checks import ffprobe  # noqa: F401 - the independent reader, shared



@functools.lru_cache(maxsize=None)
def _sine_mp3_bytes(seconds: float, frequency: int) -> bytes:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    result = subprocess.run(
        [
            ffmpeg, "-v", "error", "-nostdin",
            "-f", "lavfi", "-i", f"sine=f={frequency}:d={seconds}",
            "-ac", "1", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k",
            "-f", "mp3", "-",
        ],
        check=True,
        capture_output=True,
    )
    return result.stdout


def make_mp3(path: Path, seconds: float = 5, frequency: int = 440) -> Path:
    """An untagged CBR mono 44.1 kHz MP3 of a sine tone (made once per length, then copied)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_sine_mp3_bytes(seconds, frequency))
    return path


def make_jpeg(path: Path, size=(600, 400), colour=(200, 40, 90)) -> Path:
    from PIL import Image

    Image.new("RGB", size, colour).save(path, "JPEG")
    return path


def make_episode(
    folder: Path,
    stem: str,
    *,
    title: str,
    author: str = "Some Author",
    album: str = "",
    track: int | None = None,
    summary: str = "",
    url: str = "",
    seconds: float = 3,
    chapters: tuple[str, ...] = ("Opening", "Story"),
    sidecars: bool = True,
    cover: bool = False,
) -> Path:
    """A tagged MP3 `<folder>/<stem>.mp3`, plus .vtt/.chapters.json (and .jpg) sidecars."""
    from audiobook.tag import write_tags

    mp3 = make_mp3(folder / f"{stem}.mp3", seconds=seconds)
    length = int(seconds * 1000)
    marks = []
    if chapters:
        step = length // len(chapters)
        for i, name in enumerate(chapters):
            end = length if i == len(chapters) - 1 else (i + 1) * step
            marks.append(Chapter(name, i * step, end))
    cover_path = None
    if cover:
        cover_path = make_jpeg(folder / f"{stem}.jpg")
    episode = Episode(
        path=mp3, title=title, author=author, album=album, track=track, summary=summary,
        url=url, chapters=tuple(marks), cover=cover_path,
    )
    write_tags(mp3, episode)
    if sidecars:
        (folder / f"{stem}.vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello\n", encoding="utf-8")
        data = {"version": "1.2.0", "chapters": [{"startTime": m.start_ms / 1000, "title": m.title} for m in marks]}
        (folder / f"{stem}.chapters.json").write_text(json.dumps(data), encoding="utf-8")
    return mp3
