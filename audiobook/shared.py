"""Renders whose cache or output is a store (`--cache-dir s3://...`, `-o s3://...`).

The pipeline only ever works in local folders (store.py says why). `Places` stands between
a render and its stores:
- the cache: a local mirror of the store (`<local cache>/mirrors/<hash of the URL>`). Before
  a work is laid out, the clips it needs that the mirror lacks come down from the store; the
  clips a render speaks go up as soon as they are spoken (on a cluster, by the task that
  spoke them), each under its content key, kept if another render put it first. Encoded
  stretches go the same way (Mirror: a stretch the mirror lacks is looked for in the store
  before it is encoded, and one encoded is put there). Loudness measurements and covers stay
  in each machine's mirror: they are remade in moments.
- the output: a local staging folder; each finished file of an episode is copied up under its
  final name, whole, and only then does the render report it.
Without a URL, Places is the folders themselves, and nothing is copied.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from . import paths
from .models import Episode, Utterance
from .store import Store, is_url, local, mirror_dir
from .synth import cached_clip, clip_keys


class Remote(str):
    """A file in a store, shown as its URL: what an episode's paths become when -o is a URL."""

    @property
    def suffix(self) -> str:
        return PurePosixPath(self).suffix

    @property
    def name(self) -> str:
        return PurePosixPath(self).name


def cache_spec(explicit: Path | str | None) -> Path | str:
    """--cache-dir, else $AUDIOFIC_CACHE, else the user's cache folder: a local folder or a URL."""
    value = explicit if explicit is not None else os.environ.get("AUDIOFIC_CACHE")
    if value is None or not str(value):
        return paths.cache_dir(None)
    return str(value) if is_url(str(value)) else local(value)


@dataclasses.dataclass
class Places:
    """Where a render keeps clips and episodes: local folders, each maybe mirroring a store."""

    cache: Path                     # the local cache folder (a store's mirror when cache_store is set)
    out: Path                       # the local output folder (staging when out_store is set)
    cache_store: Store | None = None
    out_store: Store | None = None
    _known: set[str] | None = None  # clip keys the cache store held when listed

    @property
    def remote(self) -> bool:
        return self.cache_store is not None or self.out_store is not None

    # ---- clips ----------------------------------------------------------------------------

    def stored_clips(self) -> set[str]:
        """The keys of the clips the cache store holds (one listing, remembered)."""
        if self.cache_store is None:
            return set()
        if self._known is None:
            self._known = {PurePosixPath(name).stem for name in self.cache_store.names("clips")
                           if name.endswith(".wav") and not PurePosixPath(name).name.startswith(".")}
        return self._known

    def pull_clips(self, keys: Iterable[str]) -> list[str]:
        """Bring the clips `keys` that the mirror lacks from the store, where it holds them;
        the keys of those it lacks too (the render speaks them: push_clips them after)."""
        if self.cache_store is None:
            return []
        wanted = {_clip_name(key): cached_clip(self.cache, key) for key in dict.fromkeys(keys) if not cached_clip(self.cache, key).exists()}
        got = self.cache_store.fetch(list(wanted.items()))
        return [PurePosixPath(name).stem for name in wanted if name not in got]

    def push_clips(self, keys: Iterable[str]) -> int:
        """Put the mirror's clips `keys` into the store, each kept if the store has it already
        (another render spoke it at the same time); how many were put."""
        if self.cache_store is None:
            return 0
        pairs = [(cached_clip(self.cache, key), _clip_name(key)) for key in dict.fromkeys(keys) if cached_clip(self.cache, key).is_file()]
        return self.cache_store.put_many(pairs, keep=True)

    def mirror(self) -> Mirror | None:
        """What lets the encoder share stretches through the cache store (None: no store)."""
        return Mirror(self.cache_store, self.cache) if self.cache_store is not None else None

    # ---- episodes ---------------------------------------------------------------------------

    def pull_namesakes(self, stems: Iterable[str]) -> bool:
        """Bring the store's episodes named like `stems` into staging, so that naming sees them
        (two works whose titles make one name never overwrite each other). Whether any came."""
        if self.out_store is None:
            return False
        wanted = [(f"{stem}.mp3", self.out / f"{stem}.mp3") for stem in stems if not (self.out / f"{stem}.mp3").exists()]
        return bool(self.out_store.fetch(wanted))

    def push_episode(self, episode: Episode) -> Episode:
        """Copy an episode's files up (the audio last: a feed that lists it finds its
        transcript and chapters there), and name them by their URLs."""
        if self.out_store is None:
            return episode
        moved = {}
        for field in ("cover", "transcript", "chapters_json", "path"):
            path = getattr(episode, field)
            if path is not None and Path(path).is_file():
                self.out_store.put(Path(path), Path(path).name, keep=False)
                moved[field] = Remote(self.out_store.url_of(Path(path).name))
                Path(path).unlink()   # staging holds one work at a time, not the whole batch
        return dataclasses.replace(episode, **moved)


class Mirror:
    """Files of a local mirror, fetched from and shared with its store under the same relative
    names (the encoder's stretches: master.StretchEncoder's `shared`)."""

    def __init__(self, store: Store, root: Path):
        self.store, self.root = store, root

    def _name(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def fetch(self, files: list[Path]) -> None:
        self.store.fetch([(self._name(path), path) for path in files])

    def share(self, files: list[Path]) -> None:
        self.store.put_many([(path, self._name(path)) for path in files if path.is_file()], keep=True)


def _clip_name(key: str) -> str:
    return f"clips/{key[:2]}/{key}.wav"


@contextlib.contextmanager
def places(cache: Path | str | None, out: Path | str | None = None, use_cache: bool = True) -> Iterator[Places]:
    """The render's Places for --cache-dir `cache` and -o `out`; a store is checked first (one
    line if it cannot be listed), a staging folder removed at the end."""
    cache = cache_spec(cache)
    cache_store = Store(cache, "--cache-dir") if use_cache and is_url(cache) else None
    out_store = Store(str(out), "-o") if out is not None and is_url(str(out)) else None
    for store in (cache_store, out_store):
        if store is not None:
            store.check()
    own = paths.cache_dir(None)   # this machine's ($AUDIOFIC_CACHE unless that is a URL, else the user's)
    local_cache = mirror_dir(cache_store.url, own) if cache_store else (own if is_url(cache) else cache)
    staging = tempfile.mkdtemp(prefix="audiofic-out-") if out_store else None
    try:
        yield Places(local_cache, Path(staging) if staging else local(out if out is not None else "."), cache_store, out_store)
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)


def utterance_keys(utterances: list[Utterance], engine: str | None) -> list[str]:
    """The cache keys of a work's clips, as synth keys them."""
    return clip_keys(utterances, [engine or utt.profile.engine for utt in utterances])
