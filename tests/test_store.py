"""-o and --cache-dir as URLs (store.py, shared.py): a render into moto's S3 server, read
back with boto3 and ffprobe; a second machine (a fresh local cache) speaks nothing; the
store's puts keep what is there; a store that cannot be used is one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from audiobook.cli import main

from .audio_checks import needs_ffprobe
from .test_reliability import assert_one_line_error, assert_valid_episode

pytest.importorskip("s3fs", reason="the [s3] extra (s3fs) is not installed")

CLI = [sys.executable, "-m", "audiobook.cli"]
TEXT = ("Chapter 1\n\nThe ferry left at six, and Iris watched the town shrink to a line of lamps.\n\n"
        "\"Tell me again why we're going,\" said Tom.\n\nChapter 2\n\nThe island had one road, one shop and one very old dog.\n")


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path, request):
    """A fresh bucket on moto's S3 server, and every process (this one and the CLI's) pointed at it."""
    import boto3

    env = {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = "store-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    client = boto3.client("s3", endpoint_url=s3_server)
    client.create_bucket(Bucket=bucket)
    return client, bucket


def keys(client, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def work(folder: Path, title: str = "The Ferry") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ferry.txt").write_text(TEXT, encoding="utf-8")
    (folder / "ferry.toml").write_text(f'title = "{title}"\nauthor = "R. Lane"\n', encoding="utf-8")
    return folder / "ferry.txt"


def render(tmp_path: Path, *args, cache_home: str = "home") -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "AUDIOFIC_CACHE": str(tmp_path / cache_home)}
    return subprocess.run(CLI + ["render", *map(str, args), "--json", "-q"], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@needs_ffprobe
def test_render_into_s3_and_a_second_machine_speaks_nothing(tmp_path, s3, monkeypatch):
    """Real speech, cache and episodes in the bucket; every file read back from it; a render
    with an empty local cache (another machine) takes every clip and every encoded stretch
    from the bucket."""
    client, bucket = s3
    source = work(tmp_path / "in")
    first = render(tmp_path, source, "-o", f"s3://{bucket}/show", "--cache-dir", f"s3://{bucket}/cache")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    (episode,) = doc["outputs"]
    assert episode["mp3"] == f"s3://{bucket}/show/the-ferry.mp3"
    stored = keys(client, bucket)
    assert [k for k in stored if k.startswith("show/")] == sorted(f"show/the-ferry{ext}" for ext in (".mp3", ".vtt", ".chapters.json", ".jpg"))
    clips = [k for k in stored if k.startswith("cache/clips/")]
    assert len(clips) == doc["speech"]["synthesized"] > 0
    assert not [k for k in stored if ".tmp" in k]
    (tmp_path / "got").mkdir()
    for key in stored:
        if key.startswith("show/"):
            client.download_file(bucket, key, str(tmp_path / "got" / key[len("show/"):]))
    assert_valid_episode(tmp_path / "got" / "the-ferry.mp3", episode["duration_s"])

    stretches = [k for k in stored if k.startswith("cache/encoded/")]
    assert {Path(k).suffix for k in stretches} == {".mp3", ".crc"}

    # Another machine (an empty local cache): every clip and every encoded stretch comes from
    # the bucket; nothing is spoken or encoded again.
    import audiobook.master as master

    encoded = []
    real_encode = master._encode_file
    monkeypatch.setattr(master, "_encode_file", lambda *a, **k: encoded.append(1) or real_encode(*a, **k))
    monkeypatch.setenv("AUDIOFIC_CACHE", str(tmp_path / "other-machine"))
    second = CliRunner().invoke(main, ["render", str(source), "-o", str(tmp_path / "local-out"), "--cache-dir", f"s3://{bucket}/cache", "--json", "-q"])
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert again["speech"] == {"synthesized": 0, "cached": doc["speech"]["synthesized"]}
    assert encoded == []
    assert again["outputs"][0]["duration_s"] == pytest.approx(episode["duration_s"], abs=0.05)
    assert keys(client, bucket) == stored          # nothing put twice, nothing left half-written


def test_a_namesake_in_the_bucket_is_never_overwritten(tmp_path, s3):
    """Two works whose titles make one file name, rendered one after the other into one
    bucket: the second gets its own name, as in a folder."""
    client, bucket = s3
    out = f"s3://{bucket}/show"
    for n, title in enumerate(("The Ferry", "The Ferry!")):
        result = CliRunner().invoke(main, ["render", str(work(tmp_path / f"in{n}", title)), "-o", out, "--engine", "test", "-q", "--json"])
        assert result.exit_code == 0, result.output
    mp3s = [k for k in keys(client, bucket) if k.endswith(".mp3")]
    assert len(mp3s) == 2 and "show/the-ferry.mp3" in mp3s, mp3s


def test_other_fsspec_filesystems_write_under_a_temporary_name(tmp_path):
    """A non-S3 store (fsspec's memory filesystem): episodes land under their names, nothing
    temporary is left, and a cache entry already there is kept."""
    import fsspec

    from audiobook.store import Store

    result = CliRunner().invoke(main, ["render", str(work(tmp_path / "in")), "-o", "memory://show", "--cache-dir", "memory://cache",
                                       "--engine", "test", "-q"])
    assert result.exit_code == 0, result.output
    fs = fsspec.filesystem("memory")
    names = [p.rsplit("/", 1)[1] for p in fs.find("/show")]
    assert sorted(names) == ["the-ferry.chapters.json", "the-ferry.jpg", "the-ferry.mp3", "the-ferry.vtt"]
    assert fs.find("/cache/clips") and not [p for p in fs.find("/") if ".tmp" in p]
    store = Store("memory://cache", "--cache-dir")
    entry = fs.find("/cache/clips")[0].split("/cache/", 1)[1]
    (tmp_path / "other.wav").write_bytes(b"not this")
    assert store.put(tmp_path / "other.wav", entry, keep=True) is False
    assert fs.cat("/cache/" + entry) != b"not this"


def test_s3_put_keeps_an_entry_already_there(tmp_path, s3):
    """The conditional put: a second writer of one cache entry leaves the first one's bytes."""
    from audiobook.store import Store

    client, bucket = s3
    store = Store(f"s3://{bucket}/cache", "--cache-dir")
    (tmp_path / "a").write_bytes(b"first")
    (tmp_path / "b").write_bytes(b"second")
    assert store.put(tmp_path / "a", "clips/ab/abc.wav", keep=True) is True
    assert store.put(tmp_path / "b", "clips/ab/abc.wav", keep=True) is False
    assert client.get_object(Bucket=bucket, Key="cache/clips/ab/abc.wav")["Body"].read() == b"first"
    assert store.put(tmp_path / "b", "show/x.mp3", keep=False) and store.put(tmp_path / "a", "show/x.mp3", keep=False)
    assert client.get_object(Bucket=bucket, Key="cache/show/x.mp3")["Body"].read() == b"first"


@pytest.mark.parametrize("url, needle", [
    ("s3://no-such-bucket-here/show", "no-such-bucket-here"),
    ("zzz://somewhere/show", "not a folder or a URL fsspec knows"),
])
def test_a_store_that_cannot_be_used_is_one_line(tmp_path, s3, url, needle):
    result = CliRunner().invoke(main, ["render", str(work(tmp_path / "in")), "-o", url, "--engine", "test", "-q"])
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, url, needle)


def test_s3_without_s3fs_says_what_to_install(tmp_path, s3, monkeypatch):
    import importlib

    monkeypatch.setitem(sys.modules, "s3fs", None)     # `import s3fs` raises ImportError
    registry = importlib.import_module("fsspec.registry")._registry
    for protocol in ("s3", "s3a"):                     # (else the class fsspec imported already is used)
        monkeypatch.delitem(registry, protocol, raising=False)
    result = CliRunner().invoke(main, ["render", str(work(tmp_path / "in")), "--cache-dir", f"s3://{s3[1]}/c", "--engine", "test", "-q"])
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "pip install 'audiofic[s3]'")
