"""`audiofic render --cluster ADDRESS`: a collection rendered by a Dask cluster, one shared cache.

The only module that imports dask/distributed (the `[cluster]` extra), and only when --cluster
is given: a local render never loads it.

The task graph follows the pipeline. The client plans every work (read, segment, cast, file
names: render.plan_work) and works out, with synth's own cache keys and batching, which clips
are missing. Each batch of missing clips is one task: a worker speaks it into the shared cache
(synth.speak_batch: one fresh speech process, each clip published atomically; an entry
already there is reused). Each work is then one task that runs the local render
(render.render_work) of the planned work, fed by the speech tasks instead of speaking: it
starts when the first of its batches is done, secedes from its worker's thread, and lays out
and encodes each batch's clips as that batch finishes, as a local render encodes while it
speaks (a task that depended on all its batches would encode only after the last one). The
cache and the output are folders every machine sees under the same paths, or stores named
by URL (shared.py).

Faults: a worker that dies costs only the tasks it held (the scheduler reschedules them, up
to distributed.scheduler.allowed-failures times); a task that raises something unforeseen is
run again (RETRIES); a user's error (a voice, the disk) comes back as a value and fails that
work in one line, as locally, and the batch goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from . import shared
from .errors import DEBUG_ENV, AudioficError, ClusterError, RenderError, unexpected
from .models import Episode, Utterance
from .render import Progress, RenderOptions, RenderReport, WorkPlan, gather, plan_in, prepare_out_dir, render_work
from .store import is_url
from .synth import SpeakStats, batches, cached_clip, clip_keys, release_pools, speak, speak_batch, usable

INSTALL = "pip install 'audiofic[cluster]'"
CLUSTER_ENV = "AUDIOFIC_CLUSTER"
CONNECT_TIMEOUT_S = 5     # a scheduler that does not answer in this long is not there
WORKERS_TIMEOUT_S = 60    # a scheduler with no worker after this long would wait forever
RETRIES = 2               # reruns of a task that raised something unforeseen (a worker's NFS hiccup)


def _distributed():
    """The distributed package, or one line saying how to get it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--cluster needs Dask's distributed scheduler: {INSTALL}") from None
    return distributed


@contextlib.contextmanager
def connect(address: str, on_dashboard: Callable[[str], None] | None = None) -> Iterator:
    """A Client of the scheduler at `address` (tcp://host:port), or of a LocalCluster of N
    single-threaded workers in this process for `local:N`, closed (and the local cluster
    stopped) at the end.

    `local:N` runs its workers as threads, not processes: each speaks in a speech process of
    its own anyway, and MP3 encoding releases the GIL, so processes bought nothing on one
    machine but their cost (starting, imports, Dask's traffic between them): 1.26x a local
    render's time with processes, 1.04x with threads, on the cluster bench."""
    distributed = _distributed()
    import dask

    # Speech runs in a child process of each worker (eSpeak keeps state between texts, so every
    # batch gets a fresh one): workers must not be daemonic processes, which may have no children.
    settings = {"distributed.worker.daemon": False}
    with contextlib.ExitStack() as stack:
        if address.startswith("local"):
            count = address.partition(":")[2] or str(os.cpu_count() or 1)
            if not count.isdigit() or int(count) < 1:
                raise ClusterError(f"--cluster {address}: say how many workers, e.g. local:4")
            stack.enter_context(dask.config.set(settings))
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=int(count), threads_per_worker=1, processes=False,
                dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL,   # (any free port: never another's 8787)
            ))
            client = stack.enter_context(distributed.Client(cluster, set_as_default=False))
        else:
            if "://" not in address:
                raise ClusterError(f"--cluster {address}: give the scheduler's address as tcp://HOST:PORT, or local:N")
            try:
                client = stack.enter_context(distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False))
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT_S} s ({_first_line(exc)}); "
                                   "is `dask scheduler` running there and the port open?") from None
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except (TimeoutError, OSError):
            raise ClusterError(f"the Dask scheduler at {address} has no workers after {WORKERS_TIMEOUT_S} s; start some with `dask worker {address}`") from None
        link = _dashboard(client)
        if link and on_dashboard is not None:
            on_dashboard(link)
        try:
            yield client
        except BaseException:
            # Stopped: a local cluster's tasks are threads of this process, which Python would
            # wait for at exit (an episode would go on encoding): they stop at their next step.
            _STOPPED.set()
            with contextlib.suppress(Exception):
                client.run(release_pools, True)
            raise
        finally:
            # The workers' speech processes end with the render, not with the worker: they
            # would linger between renders, and a worker that still has them takes seconds
            # to stop (4 s of a 27 s render of four works on a local cluster).
            with contextlib.suppress(Exception):
                client.run(release_pools)


def _dashboard(client) -> str | None:
    """The dashboard's address, when the scheduler serves one: its web server runs without
    bokeh too (metrics, health), so the page itself is asked for."""
    with contextlib.suppress(Exception):
        link = client.dashboard_link
        with urllib.request.urlopen(link, timeout=2) as page:
            return link if page.status == 200 else None
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


# ---- what runs on the workers -------------------------------------------------------------

def _probe(checks: list[tuple[str, object]]) -> str | None:
    """On a worker: None if it can speak every (engine, profile) the render needs, else why not."""
    if multiprocessing.current_process().daemon:
        return ("its process is a daemon and cannot start speech processes: start workers with "
                "DASK_DISTRIBUTED__WORKER__DAEMON=False in their environment (or with --no-nanny)")
    try:
        clip_keys([Utterance("probe", "probe", profile) for _, profile in checks], [name for name, _ in checks])
    except AudioficError as exc:
        return exc.message
    return None


def _speak_task(engine_name: str, batch: list[tuple[str, Utterance]], cache: Path | str) -> tuple:
    """One batch of clips into the shared cache (a folder, or a store through this worker's
    mirror, each clip put there as soon as the batch is spoken): ("ok", spoken, reused) or
    ("error", message)."""
    try:
        with shared.places(cache) as where:
            spoken, reused = speak_batch(engine_name, batch, where.cache)
            where.push_clips(key for key, _ in batch)
    except AudioficError as exc:   # the same batch again would fail the same way: no retry
        return ("error", str(exc))
    return ("ok", spoken, reused)


def _episode_task(plan: WorkPlan, options: RenderOptions, waits: dict[str, list[str]], *started: tuple) -> tuple:
    """A work's episodes: ("ok", episodes, stats) or ("error", path, message).

    It lays out and encodes each clip as its speech task (`waits`: a Variable's name holding
    the task's future -> the keys of this work's clips it speaks) finishes, as a local render
    encodes while it speaks. While it waits it has seceded from the worker's thread, so the
    speech tasks run beside it there. It starts once the first of those tasks has finished
    (`started`, its result), not at once: five hundred works do not all wait on the workers."""
    from distributed import secede

    for result in started:
        if result[0] == "error":
            return ("error", None, result[1])
    secede()
    stats = SpeakStats()
    try:
        with shared.places(options.cache_dir, options.out_dir) as where:
            here = dataclasses.replace(options, cache_dir=where.cache, out_dir=where.out)
            episodes = render_work(plan, here, _unless_stopped, None, stats, speaker=_Waiting(where, waits).speak, mirror=where.mirror())
            return ("ok", [where.push_episode(episode) for episode in episodes], stats)
    except AudioficError as exc:
        return ("error", exc.path, exc.message)


_STOPPED = threading.Event()   # a render of this process was stopped (see connect)


class _Stopped(Exception):
    """The render this task belongs to was stopped."""


def _unless_stopped(*_progress) -> None:
    """A progress callback that stops an episode task of a stopped local render at its next
    step (speaking, laying out, encoding all report progress)."""
    if _STOPPED.is_set():
        raise _Stopped("the render was stopped")


class _Waiting:
    """synth.speak for an episode task: hands over the clips already in the cache, then each
    speech task's clips as it finishes (brought into the mirror first, with a store)."""

    def __init__(self, where: shared.Places, waits: dict[str, list[str]]):
        self.where, self.waits = where, waits

    def speak(self, utterances, *, engine=None, on_clip=None, **settings) -> None:
        from distributed import Variable, as_completed, get_client

        keys = shared.utterance_keys(utterances, engine)
        mine = set(keys)
        awaited = {key for batch in self.waits.values() for key in batch}

        def hand_over(chosen: set[str]) -> None:
            chosen &= mine   # (a batch of another work holds clips this one does not say)
            self.where.pull_clips(chosen)
            picked = [i for i, key in enumerate(keys) if key in chosen]
            if picked:   # from the cache (synth.speak checks each clip; one gone or damaged is spoken here)
                speak([utterances[i] for i in picked], engine=engine, **settings,
                      on_clip=(lambda j, clip: on_clip(picked[j], clip)) if on_clip else None)

        hand_over(set(keys) - awaited)
        # Each speech task's future comes through a Variable the client set: a future made
        # here from a task's key alone is never told that the task finished.
        client = get_client()
        futures = {Variable(name, client=client).get(): name for name in self.waits}
        for future in as_completed(futures):
            _unless_stopped()
            result = future.result()
            if result[0] == "error":
                raise RenderError(result[1])
            hand_over(set(self.waits[futures[future]]))


# ---- the client ---------------------------------------------------------------------------

@dataclasses.dataclass
class _Work:
    source: Path | str
    plan: WorkPlan
    tasks: set[str] = dataclasses.field(default_factory=set)   # its speak tasks' keys (its own and earlier works')
    unique: int = 0     # distinct clips it needs


def render_on_cluster(sources: list[Path | str], options: RenderOptions, address: str,
                      progress: Progress | None = None, on_dashboard: Callable[[str], None] | None = None) -> RenderReport:
    """What render.render does, with speech and episodes as tasks of the Dask cluster at `address`."""
    _distributed()            # before anything is read: one line if the extra is missing
    _STOPPED.clear()
    if not options.use_cache:
        raise ClusterError("--cluster passes clips between workers through the cache: drop --no-cache")
    # Workers may start in other folders: every path they are given is absolute (a URL is
    # given as it is: each worker reaches the store for itself).
    cache, out = shared.cache_spec(options.cache_dir), options.out_dir
    options = dataclasses.replace(options, cache_dir=cache if is_url(cache) else Path(cache).absolute(),
                                  out_dir=out if is_url(out) else Path(out).absolute())
    inputs, failures = gather(sources)
    if not inputs:
        return RenderReport((), tuple(failures), SpeakStats())
    with shared.places(options.cache_dir, options.out_dir) as where:
        prepare_out_dir(where.out)
        with connect(address, on_dashboard) as client:
            works = _plan(inputs, where, dataclasses.replace(options, cache_dir=where.cache, out_dir=where.out), failures)
            _check_workers(client, works, options)
            return _run(client, where, works, options, failures, progress)


def _plan(inputs: list[Path | str], where: shared.Places, options: RenderOptions, failures: list) -> list[_Work]:
    """Every work planned on the client, in order (names taken in order, as locally)."""
    works = []
    taken: set[str] = set()
    for source in inputs:
        try:
            works.append(_Work(source, plan_in(where, source, options, taken)))
        except AudioficError as exc:
            failures.append((exc.path or str(source), exc.message))
        except Exception as exc:   # as render.render: this work fails, the batch goes on
            if os.environ.get(DEBUG_ENV):
                raise
            failures.append((str(source), unexpected(exc)))
    return works


def _engine_names(plan: WorkPlan, options: RenderOptions) -> list[str]:
    return [options.engine or utt.profile.engine for utt in plan.utterances]


def _check_workers(client, works: list[_Work], options: RenderOptions) -> None:
    """Every worker can speak every voice the render needs (one line naming the first that cannot)."""
    checks = {}
    for work in works:
        for name, utt in zip(_engine_names(work.plan, options), work.plan.utterances):
            checks.setdefault((name, utt.profile), None)
    try:
        answers = client.run(_probe, list(checks), on_error="return")
    except Exception as exc:   # noqa: BLE001 - the scheduler went away, or cannot ship the check
        raise ClusterError(f"cannot check the Dask workers ({_first_line(exc)})") from None
    for worker, answer in sorted(answers.items()):
        if isinstance(answer, BaseException):
            raise ClusterError(f"Dask worker {worker} cannot run audiofic ({_first_line(answer)}); "
                               f"install the same audiofic with {INSTALL} on every worker") from None
        if answer is not None:
            raise ClusterError(f"Dask worker {worker}: {answer}")


def _run(client, where: shared.Places, works: list[_Work], options: RenderOptions, failures: list,
         progress: Progress | None) -> RenderReport:
    from distributed import Variable, as_completed

    stored = where.stored_clips()   # a store's clips, listed once (a folder's are looked at one by one)
    run = uuid.uuid4().hex[:8]     # task keys are unique per render, readable on the dashboard
    owner: dict[str, str] = {}     # clip key -> the speak task that makes it
    speak_tasks: dict[str, object] = {}
    handles: dict[str, object] = {}    # speak task -> the Variable holding its future, for the episode tasks
    sizes: dict[object, int] = {}
    total = done = 0
    planned: dict[str, tuple[str, list[tuple[str, Utterance]]]] = {}   # task -> (engine, batch)
    for work in works:
        names = _engine_names(work.plan, options)
        keys = clip_keys(work.plan.utterances, names)
        total += len(keys)
        todo: dict[str, list[tuple[str, Utterance]]] = {}
        seen: set[str] = set()
        for key, name, utt in zip(keys, names, work.plan.utterances):
            if key in seen:
                done += 1              # a duplicate: spoken once with the first
                continue
            seen.add(key)
            if key in owner:           # an earlier work speaks it (locally, it would be cached by now)
                work.tasks.add(owner[key])
                done += 1
            elif key in stored or (where.cache_store is None and usable(cached_clip(where.cache, key), utt)):
                done += 1
            else:
                todo.setdefault(name, []).append((key, utt))
        work.unique = len(seen)
        for name, items in todo.items():
            # Cut as synth cuts a stateful engine's work, whatever the engine: a task a text would
            # drown the scheduler, and a stateless engine's clips do not depend on their batch.
            for k, batch in enumerate(batches(items, stateful=True)):
                task = f"speak-{work.plan.stems[0]}-{name}-{k}-{run}"
                planned[task] = (name, batch)
                for key, _ in batch:
                    owner[key] = task
                work.tasks.add(task)
    # Biggest works are spoken first (a task's priority is the size of the biggest work that
    # needs it), so the longest encode is not the last thing left. A clip several works say
    # (a credit, a repeated line) stays in the batch of the first work that says it, as
    # locally (eSpeak's clips depend a little on their batch), and that batch takes the
    # priority of the biggest work waiting for it.
    priority = {task: 0 for task in planned}
    for work in works:
        for task in work.tasks:
            priority[task] = max(priority[task], _chars(work.plan))
    for task in sorted(planned, key=lambda t: -priority[t]):   # (the first submitted start first)
        name, batch = planned[task]
        future = client.submit(_speak_task, name, batch, options.cache_dir, key=task, retries=RETRIES, pure=False,
                               priority=priority[task])
        speak_tasks[task] = future
        sizes[future] = len(batch)
        handles[task] = Variable(f"{task}-future", client=client)
        handles[task].set(future)
    # A work's episode task starts once its first batch is done and encodes the rest as it
    # comes, beside the other works' speech (see _episode_task); the biggest works are spoken
    # first, so the longest encode is not the last thing left. (An episode task encodes with
    # all the worker's cores, as a local render does: while it is alone at the end, it has them.)
    spoken_in: dict[str, list[str]] = {task: [key for key, _ in batch] for task, (_, batch) in planned.items()}
    episodes = {
        client.submit(_episode_task, work.plan, options, {handles[task].name: spoken_in[task] for task in sorted(work.tasks)},
                      *[speak_tasks[task] for task in sorted(work.tasks, key=lambda t: -priority[t])[:1]],
                      key=f"episode-{work.plan.stems[0]}-{n}-{run}", retries=RETRIES, pure=False, priority=EPISODE_PRIORITY): n
        for n, work in enumerate(works)
    }
    if progress:
        progress("speak", done, total)
    stats = SpeakStats(utterances=total, duplicates=sum(len(w.plan.utterances) - w.unique for w in works))
    outputs: dict[int, list[Episode]] = {}
    finished = 0
    try:
        for future in as_completed([*speak_tasks.values(), *episodes], loop=client.loop):
            if future in episodes:
                n = episodes[future]
                result = _result(future, works[n].source, failures)
                if result is not None and result[0] == "ok":
                    outputs[n] = result[1]
                    stats.audio_ms += result[2].audio_ms
                elif result is not None:
                    failures.append((result[1] or str(works[n].source), result[2]))
                finished += 1
                if progress:
                    progress("encode", finished, len(episodes))
                continue
            result = _result(future, None, None)
            if result is not None and result[0] == "ok":
                stats.synthesized += result[1]
            done += sizes[future]
            if progress and done <= total:
                progress("speak", done, total)
    except BaseException:
        # Stopped or failed: the tasks not yet run are withdrawn (one running finishes its batch
        # on its worker; what it publishes is whole, and reused by the next render).
        with contextlib.suppress(Exception):
            client.cancel([*speak_tasks.values(), *episodes])
        raise
    finally:
        for handle in handles.values():   # (a long-lived scheduler keeps what is not deleted)
            with contextlib.suppress(Exception):
                handle.delete()
    stats.cached = sum(w.unique for w in works) - stats.synthesized
    ordered = [episode for n in sorted(outputs) for episode in outputs[n]]
    return RenderReport(tuple(ordered), tuple(failures), stats)


EPISODE_PRIORITY = 2**40   # above any work's size in characters (a speak task's priority)


def _chars(plan: WorkPlan) -> int:
    return sum(len(u.text) for u in plan.utterances)


def _result(future, source, failures) -> tuple | None:
    """A task's value; a task that failed for good is one line (a work's failure, when it is
    a work's task; a speak task's failure reaches its works through their episode tasks)."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    try:
        return future.result()
    except CancelledError:
        raise ClusterError("the Dask scheduler cancelled the render's tasks (did the scheduler stop?); "
                           "run the same command again to finish") from None
    except KilledWorker as exc:
        message = f"Dask workers died running it ({_first_line(exc)}); a worker may be out of memory"
    except AudioficError as exc:
        message = exc.message
    except Exception as exc:   # noqa: BLE001 - raised on a worker after its retries
        if os.environ.get(DEBUG_ENV):
            raise
        message = unexpected(exc)
    if failures is not None:
        return ("error", str(source), message)
    return ("error", message)
