"""`audiofic render --cluster`: a real Dask scheduler and two workers, each its own process on
127.0.0.1, sharing the test's cache and output folders.

What must hold: a collection rendered on the cluster is the collection rendered locally (same
chapters, same transcript, same durations); a worker killed with SIGKILL mid-synthesis costs
only its tasks and the render still completes with valid episodes; a scheduler that is not
there, or --cluster without the extra, is one line, never a traceback; a local render never
imports dask.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from audiobook.cli import main

from .audio_checks import ffprobe, needs_ffprobe
from .test_reliability import assert_cache_entries_whole, assert_one_line_error, assert_valid_episode, long_work

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                       reason="Dask's distributed is not installed (the [cluster] extra): pip install -e '.[cluster]'"),
]

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "audiobook.cli"]

WORKS = {
    "harbour": ('title = "The Harbour Lights"\nauthor = "Mara Quill"\nfandom = "Original Work"\n',
                "Chapter 1\n\nThe harbour lights came on one by one, and Tessa counted them from the sea wall.\n\n"
                "\"Twelve,\" she said. \"There should be thirteen.\"\n\n"
                "Chapter 2: The Dark Lamp\n\nThe thirteenth lamp stood at the end of the pier, cold and black.\n\n"
                "She climbed the ladder with a box of matches and a very old key.\n"),
    "orchard": ('title = "Winter Orchard"\nauthor = "J. Fenwick"\n',
                "The apples had frozen on the branches, bright as glass ornaments.\n\n"
                "Owen walked the rows at dawn, listening for the crack of ice.\n\n"
                "By noon the sun had found the orchard, and the whole hillside dripped and shone.\n"),
    "letters": ('title = "Letters from the Lighthouse"\nauthor = "Ada Brenn"\n',
                "Dear Sam,\n\nThe fog came in again this morning. I kept the lamp lit until ten.\n\n"
                "The gulls have learned my name, I think, or at least my bread.\n\nYours, Ada\n"),
}


def write_works(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (sidecar, text) in WORKS.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
        (folder / f"{name}.toml").write_text(sidecar, encoding="utf-8")
    return folder


def worker_env(home: Path) -> dict:
    """The environment of every process the tests start: this tree's audiofic, temporary
    folders and caches under the test's own folder, workers that may start speech processes."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        TMPDIR=str(home), XDG_CACHE_HOME=str(home / "xdg"), AUDIOFIC_CACHE=str(home / "default-cache"),
        DASK_DISTRIBUTED__WORKER__DAEMON="False", DASK_TEMPORARY_DIRECTORY=str(home),
    )
    env.pop("AUDIOFIC_CLUSTER", None)
    return env


def stop(proc: subprocess.Popen) -> None:
    """End a process we started and everything it started (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def s3_env(endpoint: str, home: Path) -> dict:
    """moto's S3 server for every process, with made-up credentials and no user's AWS files."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials")}


def new_bucket(endpoint: str, name: str) -> object:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    return s3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, s3_server):
    """A scheduler and two single-threaded workers (with nannies, as `dask worker` starts
    them), all on 127.0.0.1, each worker with a cache folder of its own (as on two machines),
    and all able to reach moto's S3 server; stopped at the end of the module, also when a
    test failed."""
    from distributed import Client

    home = tmp_path_factory.mktemp("dask")
    env = {**worker_env(home), **s3_env(s3_server, home)}
    procs: list[subprocess.Popen] = []
    try:
        info = home / "scheduler.json"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--no-dashboard", "--scheduler-file", str(info)],
            env=env, cwd=home, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert procs[0].poll() is None, "the scheduler exited"
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for n in (1, 2):
            (home / f"w{n}").mkdir()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1",
                 "--name", f"w{n}", "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(home / f"w{n}")],
                env={**env, "AUDIOFIC_CACHE": str(home / f"w{n}" / "own-cache")}, cwd=home / f"w{n}", start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, env
    finally:
        for proc in reversed(procs):
            stop(proc)


def cli(env: dict, *args, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout)


def cues(vtt: Path) -> list[str]:
    """The transcript's text, cue by cue (times aside)."""
    return [line for line in vtt.read_text(encoding="utf-8").splitlines() if line and "-->" not in line and line != "WEBVTT"]


# ---- the same episodes --------------------------------------------------------------------


@pytest.mark.slow
@needs_ffprobe
def test_cluster_render_on_s3_matches_local_render(tmp_path, cluster, s3_server):
    """Three works rendered by two workers whose cache and output are an S3 bucket (moto),
    each worker with its own local mirror: the episodes, read back from the bucket with boto3
    and ffprobe, are the local render's. A second render from a fresh client speaks nothing."""
    address, env = cluster
    works = write_works(tmp_path / "works")
    local = cli(env, "render", works, "-o", tmp_path / "local", "--cache-dir", tmp_path / "local-cache", "--json", "-q")
    assert local.returncode == 0, local.stderr
    s3 = new_bucket(s3_server, "cluster-render")
    client_env = {**env, "AUDIOFIC_CACHE": str(tmp_path / "client-cache")}
    started = time.monotonic()
    remote = cli(client_env, "render", works, "-o", "s3://cluster-render/episodes", "--cache-dir", "s3://cluster-render/cache",
                 "--json", "--cluster", address)
    took = time.monotonic() - started
    assert remote.returncode == 0, remote.stderr
    assert "Traceback" not in remote.stderr
    ours, theirs = json.loads(remote.stdout), json.loads(local.stdout)
    assert len(ours["outputs"]) == len(theirs["outputs"]) == 3
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="cluster-render")["Contents"]}
    fetched = tmp_path / "fetched"
    fetched.mkdir()
    for mine, alone in zip(ours["outputs"], theirs["outputs"]):
        name = Path(alone["mp3"]).name
        assert mine["mp3"] == f"s3://cluster-render/episodes/{name}"
        for field in ("mp3", "transcript", "chapters_json", "cover"):
            key = "episodes/" + Path(alone[field]).name
            assert key in keys
            s3.download_file("cluster-render", key, str(fetched / Path(alone[field]).name))
        assert [c["title"] for c in mine["chapters"]] == [c["title"] for c in alone["chapters"]]
        for a, b in zip(mine["chapters"], alone["chapters"]):
            assert a["start_s"] == pytest.approx(b["start_s"], abs=0.1)
        assert cues(fetched / Path(alone["transcript"]).name) == cues(Path(alone["transcript"]))
        assert mine["duration_s"] == pytest.approx(alone["duration_s"], abs=0.1)
        assert_valid_episode(fetched / name, alone["duration_s"])
    assert ours["speech"] == theirs["speech"]
    clips = sorted(k for k in keys if k.startswith("cache/clips/"))
    assert len(clips) == ours["speech"]["synthesized"]                     # every clip once, none lost or doubled
    assert not [k for k in keys if ".tmp" in k]
    # Nothing but what was asked for went into the bucket; the workers' own folders hold only their mirrors.
    assert {k.split("/")[0] for k in keys} == {"cache", "episodes"}
    again = cli({**env, "AUDIOFIC_CACHE": str(tmp_path / "client-cache-2")}, "render", works, "-o", tmp_path / "again",
                "--cache-dir", "s3://cluster-render/cache", "--json", "-q")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["speech"]["synthesized"] == 0             # a new machine speaks nothing
    print(f"cluster render of 3 works on S3: {took:.1f} s")


def test_progress_counts_clips_and_a_warm_rerun_speaks_nothing(tmp_path, cluster):
    """The progress callback hears every clip and every work; run again, every clip comes
    from the shared cache and no speech task is sent at all."""
    from audiobook.cluster import render_on_cluster
    from audiobook.render import RenderOptions

    address, _env = cluster
    works = write_works(tmp_path / "works")
    options = RenderOptions(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", engine="test")
    for run in ("cold", "warm"):
        calls: list[tuple[str, int, int]] = []
        report = render_on_cluster([works], options, address, lambda *call: calls.append(call))
        assert report.failures == ()
        assert len(report.outputs) == 3
        speak = [(done, total) for stage, done, total in calls if stage == "speak"]
        encode = [(done, total) for stage, done, total in calls if stage == "encode"]
        assert speak[-1][0] == speak[-1][1] == report.speech.utterances
        assert [d for d, _ in speak] == sorted(d for d, _ in speak)
        assert encode[-1] == (3, 3)
        assert report.speech.synthesized + report.speech.cached + report.speech.duplicates == report.speech.utterances
        if run == "cold":
            assert report.speech.synthesized > 0
        else:
            assert report.speech.synthesized == 0 and len(speak) == 1
        for episode in report.outputs:
            assert episode.path.is_file() and episode.path.parent == tmp_path / "out"


# ---- faults -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_one_line_naming_it(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"          # nobody listens there
    works = write_works(tmp_path / "works")
    started = time.monotonic()
    result = CliRunner().invoke(main, ["render", str(works), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
                                       "--engine", "test"], env={"AUDIOFIC_CLUSTER": address})
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, address, "cannot reach the Dask scheduler")
    assert not (tmp_path / "cache" / "clips").exists()


def test_cluster_without_the_extra_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)   # `import distributed` raises ImportError
    works = write_works(tmp_path / "works")
    result = CliRunner().invoke(main, ["render", str(works), "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
                                       "--engine", "test", "--cluster", "local:2"])
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "pip install 'audiofic[cluster]'")
    assert not (tmp_path / "out").exists()


def test_local_render_never_imports_dask(tmp_path):
    works = write_works(tmp_path / "works")
    code = ("import sys; from audiobook.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    done = subprocess.run([sys.executable, "-c", code, "render", str(works / "orchard.txt"), "-o", str(tmp_path / "out"),
                           "--cache-dir", str(tmp_path / "cache"), "--engine", "test", "-q"],
                          env=worker_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_worker_that_cannot_speak_a_voice_says_why():
    """What every worker is asked before the render starts: a voice it has not got is one line."""
    from audiobook.cluster import _probe
    from audiobook.voices import load_profiles

    narrator = load_profiles()["narrator"]
    assert _probe([("test", narrator)]) is None
    import dataclasses

    missing = dataclasses.replace(narrator, voice="no-such-voice-anywhere")
    answer = _probe([("pyttsx3", missing)])
    assert answer and "no-such-voice-anywhere" in answer and "\n" not in answer


@pytest.mark.slow
@needs_ffprobe
def test_worker_killed_mid_synthesis_costs_only_its_tasks(tmp_path, cluster):
    """SIGKILL to the worker process running a speech task: the scheduler gives its tasks to
    the other worker (the nanny starts a new one), and every episode comes out whole."""
    from distributed import Client

    address, env = cluster
    works = write_works(tmp_path / "works")
    long = long_work(works)                # cut to ~2,000 words: six speech tasks, a short wait for the episode
    paragraphs = long.read_text(encoding="utf-8").split("\n\n")
    long.write_text("\n\n".join(paragraphs[: len(paragraphs) // 3]), encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = subprocess.Popen(CLI + ["render", str(works), "-o", str(out), "--cache-dir", str(cache), "--json", "-q", "--cluster", address],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        with Client(address, timeout=30, set_as_default=False) as client:
            pids = client.run(os.getpid)
            deadline = time.monotonic() + 120
            victim = None
            while victim is None:
                assert proc.poll() is None, "the render finished before a worker could be killed"
                assert time.monotonic() < deadline, "no speech task was ever running"
                busy = {w: keys for w, keys in client.processing().items() if any(str(k).startswith("speak-") for k in keys)}
                if busy and list(cache.glob("clips/*/*.wav")):     # speaking, some clips done, not all
                    victim = sorted(busy)[0]
                time.sleep(0.05)
            os.kill(pids[victim], signal.SIGKILL)
            stdout, stderr = proc.communicate(timeout=240)
            assert proc.returncode == 0, stderr
            assert "Traceback" not in stderr
            doc = json.loads(stdout)
            assert len(doc["outputs"]) == 4
            for episode in doc["outputs"]:
                assert_valid_episode(Path(episode["mp3"]), episode["duration_s"])
                assert ffprobe(Path(episode["mp3"]))["format"]["duration"]
            assert_cache_entries_whole(cache)
            assert list(out.glob(".audiofic-partial-*")) == []
            client.wait_for_workers(2, timeout=60)    # the nanny brought its worker back
            assert pids[victim] not in client.run(os.getpid).values()
    finally:
        if proc.poll() is None:
            stop(proc)


def test_a_local_cluster_renders_in_worker_threads(tmp_path):
    """`local:2`: a LocalCluster of two workers in this process (threads: each worker speaks in
    a speech process of its own), every episode made, and no speech process kept at the end."""
    from audiobook.cluster import render_on_cluster
    from audiobook.render import RenderOptions

    works = write_works(tmp_path / "works")
    options = RenderOptions(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", engine="test")
    report = render_on_cluster([works], options, "local:2")
    assert report.failures == ()
    assert sorted(e.path.name for e in report.outputs) == ["letters-from-the-lighthouse.mp3", "the-harbour-lights.mp3", "winter-orchard.mp3"]
    assert all(e.path.is_file() for e in report.outputs)
    assert report.speech.synthesized > 0
    from audiobook import synth

    assert synth._KEPT_POOLS == {}      # every worker's speech process ended with the render


@pytest.mark.slow
@pytest.mark.parametrize("when", ["speaking", "encoding"])
def test_ctrl_c_stops_a_local_cluster_render_at_once(tmp_path, when):
    """SIGINT to a `--cluster local:2` render, while it speaks or while it writes an episode:
    its worker threads (speech, layout, encoding) stop too, the exit is 130 within 2 s with
    one line, and no episode, half or whole, is left in the output folder."""
    works = write_works(tmp_path / "works")
    long = long_work(works)
    paragraphs = long.read_text(encoding="utf-8").split("\n\n")
    for n in (2, 3):    # two more long works, every paragraph new: seconds of encoding left at any time
        (works / f"long-{n}.txt").write_text("\n\n".join(f"On day {n} of {k}: {p}" for k, p in enumerate(paragraphs)), encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = subprocess.Popen(CLI + ["render", str(works), "-o", str(out), "--cache-dir", str(cache), "-q", "--cluster", "local:2"],
                            env=worker_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # as from a terminal
    try:
        deadline = time.monotonic() + 120
        while not (list(cache.glob("clips/*/*.wav")) if when == "speaking" else list(out.glob(".*partial*")) + list(out.glob("*.mp3"))):
            assert proc.poll() is None, f"the render finished before it was seen {when}"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGINT)
        started = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            stop(proc)
    assert took < 2.0
    assert proc.returncode == 130
    assert_one_line_error(stderr, "interrupted")
    finished = sorted(out.glob("*"))                  # works done before the signal stay
    time.sleep(0.5)
    assert sorted(out.glob("*")) == finished          # nothing goes on writing
    assert not list(out.glob(".*partial*"))           # and nothing half-written is left
    if when == "speaking":
        assert finished == []
