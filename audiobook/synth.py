"""Stage 4, speak: utterances -> WAV clips, cached by content and rendered in parallel.

Cache: a clip's key is a sha256 over its speech text, the resolved voice id, rate, pitch,
volume, and the engine's name and version. Clips live at
`<cache>/clips/<key[:2]>/<key>.wav`, written to a temporary file in the same folder and
moved into place with os.replace (a crash never leaves a half-written entry under the
final name). A cached entry is checked before use (decodes, whole, plausible duration);
a damaged one is deleted and synthesized again.

With use_cache=False nothing is read from or kept in the cache: clips are written to
`workdir` if given, else to a new folder `<cache>/tmp/speak-XXXX`; that folder belongs to the
caller, who deletes it when done with the clips (e.g. `shutil.rmtree(clips[0].path.parent)`).

Work runs in worker processes (one engine each: eSpeak is global to a process), biggest
texts first. Identical utterances are synthesized once. Output does not depend on `jobs`:
eSpeak NG keeps state between texts (pitch flutter, waveform phase) that nothing resets, so
for it every batch of texts (grouped by size, never by `jobs`) runs in a fresh process forked
from a clean fork server, and a failed clip is retried alone in a fresh process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
import weakref
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from . import paths
from .engines.espeak import loaded_here as espeak_loaded_here
from .engines import RETRIES, check_clip, failed, get_engine, render, render_once
from .errors import EngineError, RenderError, VoiceError
from .master import clip_steps
from .models import Clip, Utterance, VoiceProfile

# A stateful engine's batch (one fresh process) holds texts up to about an eighth of the
# work, within these bounds (two to eight minutes of speech): enough batches to keep every
# worker busy, few enough that the ~50 ms of starting each process stays a small cost.
BATCH_CHARS = (2500, 10000)
SMALL_WORK_CHARS = 8000   # about ten minutes of speech, one second of synthesis
CACHE_FORMAT = 1   # bump when the way clips are made changes without a new engine version

Progress = Callable[[int, int, str], None]
PRELOAD = {"piper": ("audiobook.engines.piper", "piper", "onnxruntime")}   # modules worth importing once


@dataclass
class SpeakStats:
    """What one speak() call did (pass one in to have it filled)."""

    utterances: int = 0
    synthesized: int = 0     # clips the engine made
    cached: int = 0          # clips taken from the cache
    duplicates: int = 0      # utterances identical to an earlier one in the same call
    repaired: int = 0        # damaged cache entries deleted and made again
    audio_ms: int = 0        # total duration of the returned clips


def clip_key(text: str, voice_id: str, profile: VoiceProfile, engine_name: str, engine_version: str) -> str:
    payload = json.dumps(
        {
            "format": CACHE_FORMAT,
            "text": text,
            "voice": voice_id,
            "rate": int(profile.rate),
            "pitch": int(profile.pitch),
            "volume": round(float(profile.volume), 4),
            "engine": engine_name,
            "version": engine_version,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def clip_keys(utterances: Sequence[Utterance], names: Sequence[str]) -> list[str]:
    """Each utterance's cache key, spoken by the engine named beside it (its voice resolved
    by this process's engine: raises VoiceError when no installed voice fits)."""
    keys = []
    for utt, name in zip(utterances, names):
        eng = get_engine(name)
        keys.append(clip_key(utt.text, eng.resolve(utt.profile), utt.profile, eng.name, eng.version))
    return keys


def cached_clip(root: Path, key: str) -> Path:
    """Where the cache under `root` keeps the clip `key`."""
    return root / "clips" / key[:2] / f"{key}.wav"


def usable(path: Path, utterance: Utterance) -> bool:
    """Whether a cache entry is there and whole; a damaged one is deleted (it is made again)."""
    if not path.exists():
        return False
    try:
        check_clip(path, utterance.text, utterance.profile.rate)
        return True
    except EngineError:
        with contextlib.suppress(OSError):
            path.unlink()
        return False


def batches(todo: list[tuple[str, Utterance]], stateful: bool) -> list[list[tuple[str, Utterance]]]:
    """The batches speak() would run for `todo` ((key, utterance) pairs not cached, in
    utterance order): a Dask client cuts a work into the same tasks (cluster.py)."""
    return _batches(todo, stateful)


def speak_batch(engine_name: str, batch: list[tuple[str, Utterance]], cache_dir: Path) -> tuple[int, int]:
    """Speak one batch into the cache under `cache_dir`, as speak() speaks a batch: in one
    fresh worker process, in order, each clip published atomically. An entry already there
    (spoken by another render, or before a worker running this batch was killed) is
    reused, never spoken again. (spoken, reused)."""
    clip_root = Path(cache_dir) / "clips"
    try:
        clip_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RenderError(f"cannot create the clip cache ({exc.strerror or exc}); choose another folder with --cache-dir", cache_dir) from None
    rest = [(key, utt) for key, utt in batch if not usable(cached_clip(Path(cache_dir), key), utt)]
    if rest:
        eng = get_engine(engine_name)
        # One pool for the life of this process: its next fresh speech process starts while
        # this one's batch is being finished, not when the next batch comes (a third of a
        # second to start one, as long again to stop a pool).
        slot = (engine_name, threading.get_ident())   # (a local cluster's workers are threads of one process)
        pool = _KEPT_POOLS.get(slot) or _KEPT_POOLS.setdefault(slot, _new_pool(engine_name, eng.stateful, 1))
        try:
            # A stateful engine speaks the batch in one fresh process (a text then sounds as it
            # would in a local render); another speaks each text on its own, in one process.
            _run_pool(engine_name, eng.stateful, [rest] if eng.stateful else [[item] for item in rest], 1,
                      lambda key: cached_clip(Path(cache_dir), key), lambda *_: None, pool=pool)
        except BaseException:
            _KEPT_POOLS.pop(slot, None)   # stopped or broken: the next batch gets a new one
            raise
    return len(rest), len(batch) - len(rest)


_KEPT_POOLS: dict[tuple[str, int], ProcessPoolExecutor] = {}   # speak_batch's pools, by engine and thread


def release_pools(kill: bool = False) -> None:
    """End the speech processes speak_batch keeps (a cluster worker, at the end of a render);
    kill: at once, mid-clip (the render was stopped)."""
    while _KEPT_POOLS:
        pool = _KEPT_POOLS.popitem()[1]
        if kill:
            _kill_pool(pool)
        else:
            pool.shutdown(wait=True, cancel_futures=True)


def _tmp_name(final: Path) -> Path:
    return final.with_name(f".{final.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.wav")


def _render_to(engine_name: str, utterance: Utterance, final: Path, once: bool = False) -> tuple[int, int]:
    """Render into a temp file next to `final`, then move it into place atomically.
    once: a single attempt (the caller retries, in a fresh process)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(final)
    try:
        eng = get_engine(engine_name)
        result = render_once(eng, utterance, tmp) if once else render(eng, utterance, tmp)
        if not paths.publish(tmp, final):
            # Another render sharing the cache published this clip first. Entries never
            # change once published (a render may have laid out the other one by its
            # length): use theirs.
            result = check_clip(final, utterance.text, utterance.profile.rate)
        clip_steps(final)   # its loudness, measured here in parallel, saves the render a pass
        return result
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# Worker processes: the initializer creates the process's one engine.
_WORKER_ENGINE: str | None = None


def _init_worker(engine_name: str, render_pid: int, threads: int = 1) -> None:
    global _WORKER_ENGINE
    _WORKER_ENGINE = engine_name
    _die_with_render(render_pid)
    # A worker reports every failure in its results (the parent retries and names the clip);
    # what it would print itself is noise on the user's terminal (pyttsx3's "Exception
    # ignored" from eSpeak's callback when a render is stopped mid-clip).
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    get_engine(engine_name).set_threads(threads)


def _die_with_render(render_pid: int) -> None:
    """End this worker the moment the render that started it is gone, even by SIGKILL, so no
    worker ever speaks on for nobody. The render is watched itself, not this process's
    parent: a worker's parent is the fork server, which lives on for as long as any worker
    does (each holds the pipe whose end tells the server its render is gone)."""
    import select
    import threading

    def watch() -> None:
        try:
            handle = os.pidfd_open(render_pid)      # Linux 5.3+: readable once the render ends
        except (AttributeError, OSError) as exc:
            if getattr(exc, "errno", None) == 3:    # ESRCH: gone already
                os._exit(1)
            handle = None
        while True:
            if handle is not None:
                select.select([handle], [], [])
                os._exit(1)
            # Without pidfds (older kernels, macOS, Windows) ask after the render by its PID. Not
            # by this worker's parent: under a fork server that is never the render itself.
            try:
                os.kill(render_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except OSError:
                pass               # there, but not ours to signal: still running
            time.sleep(0.2)

    threading.Thread(target=watch, name="audiofic-watch-render", daemon=True).start()


def _work(batch: list[tuple[Utterance, str]], once: bool) -> list[tuple[str, object]]:
    """Render a batch in order: ("ok", (duration_ms, sample_rate)) per clip. On the first
    failure the batch stops with ("error", reason) for that clip (the caller resubmits it and
    the rest). A VoiceError (a profile problem) is raised as is."""
    assert _WORKER_ENGINE is not None
    out: list[tuple[str, object]] = []
    for utterance, final in batch:
        try:
            out.append(("ok", _render_to(_WORKER_ENGINE, utterance, Path(final), once)))
        except VoiceError:
            raise
        except EngineError as exc:
            out.append(("error", exc.message))
            break
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which retries
            out.append(("error", f"{type(exc).__name__}: {exc}"))
            break
    return out


def _batches(todo: list[tuple[str, Utterance]], stateful: bool) -> list[list[tuple[str, Utterance]]]:
    """Group the work (in utterance order). A stateful engine gets a fresh process per
    batch, so batches pack small texts together up to a size set by the work (BATCH_CHARS);
    the grouping depends only on the work itself, never on `jobs`, so output does not
    depend on `jobs` either."""
    total = sum(len(u.text) for _, u in todo)
    if stateful and total <= SMALL_WORK_CHARS:
        # A small work is one batch, in utterance order: spoken in this process, it is done
        # before a pool of workers would have started, and its first clips come first.
        return [list(todo)]
    # Longest first: the big paragraphs start early and the workers end together.
    todo = sorted(todo, key=lambda item: -len(item[1].text))
    if not stateful:
        return [[item] for item in todo]
    low, high = BATCH_CHARS
    limit = min(high, max(low, total // 8))
    batches: list[list[tuple[str, Utterance]]] = []
    size = limit
    for item in todo:
        n = len(item[1].text)
        if size + n > limit:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += n
    return batches


def _mp_context(engine_name: str = "pyttsx3"):
    # Never fork the caller: it may already run eSpeak, whose thread a forked child would
    # lack. A fork server is a clean process; children fork from it cheaply (with what it
    # preloaded: onnxruntime and piper too when the first pool is Piper's).
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["__main__", "audiobook.engines", *PRELOAD.get(engine_name, ())])
        return ctx
    return multiprocessing.get_context("spawn")


def speak(
    utterances: Sequence[Utterance],
    *,
    engine: str | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
    workdir: Path | None = None,
    stats: SpeakStats | None = None,
    on_clip: Callable[[int, Clip], None] | None = None,
) -> list[Clip]:
    """One Clip per utterance, in order.

    engine: the engine for every utterance; None: each utterance's profile names its own
    (one render may mix engines: each runs its own workers, one engine after the other).
    cache_dir: the cache root (default paths.cache_dir()). use_cache=False: see the module
    notes on where clips go. jobs: worker processes (default os.cpu_count(); 1 = in this
    process). progress(done, total, label) and on_clip(index, clip) are called in this process
    as each utterance's clip is ready (cache hits first; a work spoken in this process goes in
    utterance order, so a caller can use the first clips while later ones are spoken).
    stats, if given, is filled in. Raises EngineError naming the
    utterance that failed, VoiceError for a profile no installed voice fits."""
    stats = stats if stats is not None else SpeakStats()
    stats.utterances = len(utterances)
    names = [engine or utt.profile.engine for utt in utterances]
    engines = {name: get_engine(name) for name in dict.fromkeys(names)}
    root = paths.cache_dir(cache_dir)
    try:
        if use_cache:
            clip_root = root / "clips"
            clip_root.mkdir(parents=True, exist_ok=True)
            paths.sweep_stale_temps(clip_root)
        elif workdir is not None:
            clip_root = Path(workdir)
        else:
            (root / "tmp").mkdir(parents=True, exist_ok=True)
            clip_root = Path(tempfile.mkdtemp(prefix="speak-", dir=root / "tmp"))
    except OSError as exc:
        raise RenderError(f"cannot create the clip cache ({exc.strerror or exc}); choose another folder with --cache-dir", root) from None

    keys = clip_keys(utterances, names)

    def location(key: str) -> Path:
        return clip_root / key[:2] / f"{key}.wav" if use_cache else clip_root / f"{key}.wav"

    total = len(utterances)
    done = 0
    ready: dict[str, tuple[int, int]] = {}     # key -> (duration_ms, sample_rate)
    first: dict[str, int] = {}                 # key -> index of its first utterance
    todo: dict[str, list[tuple[str, Utterance]]] = {name: [] for name in engines}

    def report(label: str, count: int = 1) -> None:
        nonlocal done
        for _ in range(count):
            done += 1
            if progress is not None:
                progress(done, total, label)

    waiting: dict[str, list[int]] = {}         # key -> duplicates to report with it

    def clip(i: int) -> Clip:
        duration_ms, rate = ready[keys[i]]
        return Clip(key=keys[i], path=location(keys[i]), duration_ms=duration_ms, sample_rate=rate, text=utterances[i].text)

    def deliver(i: int) -> None:
        report(utterances[i].label)
        if on_clip is not None:
            on_clip(i, clip(i))

    for i, (utt, key, name) in enumerate(zip(utterances, keys, names)):
        if key in first:
            stats.duplicates += 1
            if key in ready:
                deliver(i)
            else:
                waiting[key].append(i)
            continue
        first[key] = i
        path = location(key)
        if use_cache and path.exists():
            try:
                ready[key] = check_clip(path, utt.text, utt.profile.rate)
                stats.cached += 1
                deliver(i)
                continue
            except EngineError:
                stats.repaired += 1
                with contextlib.suppress(OSError):
                    path.unlink()
        todo[name].append((key, utt))
        waiting[key] = []

    def finished(key: str, utt: Utterance, result: tuple[int, int]) -> None:
        ready[key] = result
        stats.synthesized += 1
        deliver(first[key])
        for i in waiting.get(key, ()):
            deliver(i)

    for name, work in todo.items():
        if not work:
            continue
        eng = engines[name]
        cores = os.cpu_count() or 1
        workers = max(1, min(jobs or eng.workers or cores, len(work)))
        batches = _batches(work, eng.stateful)
        # One batch, and this process's engine has said nothing yet: it is as fresh as a new
        # worker would be, so speak here and save starting a pool (most of a small re-render).
        in_process = (workers == 1 and not eng.stateful) or (len(batches) == 1 and not eng.spoken)
        in_process = in_process and not (eng.isolated and espeak_loaded_here())
        # An engine with threads of its own (onnxruntime) shares the cores among its workers.
        threads = max(1, cores // (1 if in_process else min(workers, len(batches))))
        if in_process:
            eng.set_threads(threads)
            for key, utt in work:
                finished(key, utt, _render_to(name, utt, location(key)))
        else:
            _run_pool(name, eng.stateful, batches, workers, location, finished, threads)

    clips = [clip(i) for i in range(len(utterances))]
    stats.audio_ms += sum(c.duration_ms for c in clips)
    return clips


def _kill_pool(pool: ProcessPoolExecutor, timeout: float = 2.0) -> None:
    """Stop a pool's workers at once, mid-clip. The executor has no public way to kill its
    processes, so they are taken from it. Its manager thread may be starting a replacement
    worker just then (one batch per process): the workers are killed until that thread has
    seen them die and ended, and only then is the executor shut down (shutting it down first
    pulls the process table from under that thread, which then fails with a traceback on the
    user's terminal). A clip being written is a temporary file, never a cache entry."""
    manager = getattr(pool, "_executor_manager_thread", None)
    processes = getattr(pool, "_processes", None) or {}    # the manager adds replacements to this dict
    if manager is not None:
        _silence(manager)
    deadline = time.monotonic() + timeout
    killed: list = []
    while True:
        for process in list(processes.values()):
            if process not in killed:
                with contextlib.suppress(Exception):
                    process.kill()
                killed.append(process)
        if manager is None or not manager.is_alive() or time.monotonic() > deadline:
            break
        manager.join(timeout=0.05)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in killed:
        with contextlib.suppress(Exception):
            process.join(timeout=max(0.0, deadline - time.monotonic()))
    if manager is not None and manager.is_alive():
        # Still waiting for work that will never come back: let the interpreter exit without
        # joining it (concurrent.futures joins every manager thread at exit, forever here).
        with contextlib.suppress(Exception):
            from concurrent.futures import process as futures_process

            futures_process._threads_wakeups.pop(manager, None)


# Manager threads of pools stopped by _kill_pool: whatever they raise while their pool is
# torn down is not the user's business (the render has already said why it stopped). The
# hook is installed by the first kill, so merely importing audiofic changes nothing.
_ABANDONED: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()
_previous_hook = threading.excepthook


def _quiet_abandoned(args) -> None:
    if args.thread not in _ABANDONED:
        _previous_hook(args)


def _silence(thread: threading.Thread) -> None:
    global _previous_hook
    _ABANDONED.add(thread)
    if threading.excepthook is not _quiet_abandoned:
        _previous_hook = threading.excepthook
        threading.excepthook = _quiet_abandoned


def _new_pool(engine_name: str, stateful: bool, workers: int, threads: int = 1) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_mp_context(engine_name),
        initializer=_init_worker,
        initargs=(engine_name, os.getpid(), threads),
        max_tasks_per_child=1 if stateful else None,
    )


def _run_pool(engine_name, stateful, batches, workers, location, finished, threads=1, pool=None) -> None:
    """Run batches in worker processes; call finished(key, utterance, result) as clips come.

    A stateful engine (eSpeak keeps state between texts) gets a fresh process per batch so
    that a text always gives the same bytes, and retries a failed clip alone in a fresh
    process (a retry in the same process would start from another state).
    pool: one the caller keeps (left running when all went well); else one of its own."""
    own = pool is None
    if own:
        pool = _new_pool(engine_name, stateful, max(1, min(workers, len(batches))), threads)
    attempts: dict[str, int] = {}
    futures: dict = {}

    def submit(batch) -> None:
        for key, _utt in batch:
            attempts[key] = attempts.get(key, 0) + 1
        job = [(utt, str(location(key))) for key, utt in batch]
        futures[pool.submit(_work, job, stateful)] = batch

    try:
        for batch in batches:
            submit(batch)
        while futures:
            fut = next(as_completed(futures))
            batch = futures.pop(fut)
            results = fut.result()
            for (key, utt), (status, value) in zip(batch, results):
                if status == "ok":
                    finished(key, utt, value)
                    continue
                if not stateful or attempts[key] > RETRIES:
                    error = EngineError(str(value))
                    if not stateful:    # the worker already retried and named the label
                        raise error
                    raise failed(engine_name, utt, attempts[key], error)
                submit([(key, utt)])
            rest = batch[len(results):]
            if rest:
                for key, _utt in rest:
                    attempts[key] -= 1          # not tried yet
                submit(rest)
    except BrokenProcessPool as exc:
        # Workers re-import the caller's __main__ (spawn/forkserver): a script that calls the
        # library at import time, without an `if __name__ == "__main__":` guard, dies here.
        raise EngineError(
            f"a speech worker process died ({exc}); if you call audiofic from a script, "
            "guard the call with `if __name__ == \"__main__\":`; otherwise the machine may be out of memory"
        ) from None
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM) or failed: stop every worker now rather than wait for
        # their batches (minutes of speech). The executor has no public way to kill its
        # processes, so they are taken from it; each clip they were writing is a temp file.
        _kill_pool(pool)
        raise
    else:
        if own:
            pool.shutdown(wait=True)
