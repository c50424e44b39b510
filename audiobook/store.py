"""Cache and output folders named by URL (`s3://bucket/prefix`, or any fsspec filesystem).

The only module that imports fsspec (the `[cluster]` extra; `s3://` also needs s3fs, the
`[s3]` extra), and only when a URL is given: a render into folders never loads it.

The pipeline itself only ever sees local folders. A URL is a store beside them: a render
works in a local mirror of the cache (clips come down from the store before a work is laid
out, and the clips it spoke go up after) and writes its episodes to a local staging folder,
then copies each finished file up. So the same code renders locally, on a cluster, into a
folder or into a bucket.

Atomic writes: an S3 object appears whole or not at all, so a file goes straight to its
final key; cache entries use a conditional put (If-None-Match), so an entry already there
is kept and never replaced under a render reading it. On other filesystems a file is written
under a temporary name and renamed. A download lands under a temporary local name first too.

S3 settings come from the usual places: credentials from the AWS environment or config
files, a server that is not AWS from AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .errors import AudioficError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
INSTALL = "pip install 'audiofic[cluster]'"
INSTALL_S3 = "pip install 'audiofic[s3]'"
CONCURRENCY = 16          # requests in flight at once: enough to hide a store's latency


class StoreError(AudioficError):
    """A store that cannot be used: one line naming its URL."""


def is_url(value: object) -> bool:
    """Whether an -o or --cache-dir value names a store rather than a local folder
    (`file://` URLs are local folders: see local())."""
    return isinstance(value, str) and bool(_SCHEME.match(value)) and not value.startswith("file://")


def local(value: str | Path) -> Path:
    """A local folder from a path or a file:// URL."""
    text = str(value)
    return Path(text[len("file://"):]) if text.startswith("file://") else Path(text)


def mirror_dir(url: str, root: Path) -> Path:
    """The local folder under `root` (a local cache) that mirrors the store at `url`."""
    return root / "mirrors" / hashlib.sha256(url.rstrip("/").encode("utf-8")).hexdigest()[:16]


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


class Store:
    """A folder of files named by URL; names inside it are relative POSIX paths ("clips/ab/abcd.wav")."""

    def __init__(self, url: str, option: str):
        self.url, self.option = url.rstrip("/"), option
        try:
            import fsspec
        except ImportError:
            raise StoreError(f"{option} {url}: a URL needs fsspec: {INSTALL}") from None
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url)
        except ImportError as exc:   # fsspec knows the protocol, its package is missing
            hint = INSTALL_S3 if self.url.startswith(("s3://", "s3a://")) else "install the fsspec package for it"
            raise StoreError(f"{option} {url}: {_line(exc)}: {hint}") from None
        except (ValueError, TypeError) as exc:
            raise StoreError(f"{option} {url}: not a folder or a URL fsspec knows ({_line(exc)})") from None
        self.root = root.rstrip("/")
        self.s3 = "s3" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def __reduce__(self):   # shipped to cluster workers by URL: each connects for itself
        return (Store, (self.url, self.option))

    def _path(self, name: str) -> str:
        return f"{self.root}/{name}" if self.root else name

    def url_of(self, name: str) -> str:
        return f"{self.url}/{name}"

    def _fail(self, doing: str, exc: BaseException) -> StoreError:
        return StoreError(f"{self.option} {self.url}: cannot {doing} ({_line(exc)}); check the URL, "
                          "the credentials and that the bucket or folder exists")

    def check(self) -> None:
        """The store can be listed (a bucket that is not there, a server that does not answer,
        credentials refused: one line, before any work)."""
        try:
            if self.s3:
                self.fs.ls(self.root.split("/", 1)[0], detail=False)   # the bucket
            else:
                self.fs.makedirs(self.root, exist_ok=True)
                self.fs.ls(self.root, detail=False)
        except FileNotFoundError as exc:
            raise self._fail("list it", exc) from None
        except Exception as exc:  # noqa: BLE001 - botocore, aiohttp and OSError all mean the same here
            raise self._fail("reach it", exc) from None

    def names(self, prefix: str) -> set[str]:
        """Every file under `prefix`, as names relative to the store (one listing)."""
        try:
            self.fs.invalidate_cache(self._path(prefix))   # what other machines put since (s3fs remembers listings)
            found = self.fs.find(self._path(prefix))
        except FileNotFoundError:
            return set()
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"list {prefix}", exc) from None
        cut = len(self.root) + 1 if self.root else 0
        return {path[cut:] for path in found}

    def fetch(self, pairs: list[tuple[str, Path]]) -> set[str]:
        """Download each (name, local path) the store holds, each to a temporary name first,
        then renamed into place (a local file is whole or absent); the names it held.
        Several at once: a store's latency, not its bandwidth, is what a clip costs."""
        def one(pair: tuple[str, Path]) -> str | None:
            name, target = pair
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            try:
                self.fs.get_file(self._path(name), str(tmp))
                os.replace(tmp, target)
                return name
            except FileNotFoundError:
                return None
            except Exception as exc:  # noqa: BLE001
                raise self._fail(f"download {name}", exc) from None
            finally:
                tmp.unlink(missing_ok=True)

        return {name for name in self._each(one, pairs) if name}

    def _each(self, func, items: list) -> list:
        if len(items) <= 1:
            return [func(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(CONCURRENCY, len(items)), thread_name_prefix="audiofic-store") as pool:
            return list(pool.map(func, items))

    def put_many(self, pairs: list[tuple[Path, str]], *, keep: bool) -> int:
        """put() each (local file, name), several at once; how many were put."""
        return sum(self._each(lambda pair: self.put(pair[0], pair[1], keep=keep), pairs))

    def put(self, source: Path, name: str, *, keep: bool) -> bool:
        """Upload `source` as `name`, appearing whole. keep=True (a cache entry): an entry already
        there is kept, and False is returned. keep=False (an episode): it is replaced."""
        path = self._path(name)
        try:
            if self.s3:
                try:
                    self.fs.put_file(str(source), path, mode="create" if keep else "overwrite")
                except FileExistsError:
                    return False
                return True
            if keep and self.fs.exists(path):
                return False
            parent, _, base = path.rpartition("/")
            tmp = f"{parent}/.{base}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
            if parent:
                self.fs.makedirs(parent, exist_ok=True)
            self.fs.put_file(str(source), tmp)
            try:
                self.fs.mv(tmp, path)
            except BaseException:
                if self.fs.exists(tmp):
                    self.fs.rm(tmp)
                raise
            return True
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._fail(f"upload {name}", exc) from None
