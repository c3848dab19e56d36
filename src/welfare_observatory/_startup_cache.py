"""A per-user cache of what the library derives from its own package data at start-up.

The territory registry's look-ups, the harmonize code table and the parsed shipped catalogue
are the same for every build with the same package: deriving them from Parquet and YAML
costs about a second per process, unpickling them a tenth of that. Each entry is one pickle
file under :func:`cache_dir` (``<name>-<key>.pickle``, the newest few per name kept), keyed
by the digest of the files it is derived from (data and the code that derives it) and the
library, pydantic and Python versions, so an upgrade, an edited data file or an edited
module never reads a stale entry. Writes are atomic; an entry that cannot be read
(damaged, truncated, another Python) is rebuilt from the data, never trusted.

``WELFARE_OBSERVATORY_STARTUP_CACHE=off`` turns the cache off; any other value is the folder
to use (default ``$XDG_CACHE_HOME/welfare-observatory/startup``, else ``~/.cache/...``).
Deleting the folder is always safe.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import pickle
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ENV", "cache_dir", "cached", "distribution", "inputs_digest", "no_collection"]

ENV = "WELFARE_OBSERVATORY_STARTUP_CACHE"
_MAGIC = b"welfare-observatory startup cache 1\n"
T = TypeVar("T")


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is turned off."""
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() in ("off", "0", "false", "no"):
        return None
    if setting:
        return Path(setting)
    try:
        root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except RuntimeError:  # no home folder to put it in: no cache
        return None
    return Path(root) / "welfare-observatory" / "startup"


def inputs_digest(files: Iterable[Path], *extra: str) -> str:
    """Digest of the files' names and bytes, the library, pydantic (whose models are pickled)
    and Python versions, and ``extra``."""
    from pydantic.version import VERSION as PYDANTIC_VERSION

    from welfare_observatory._version import __version__

    h = hashlib.sha256()
    for part in (__version__, PYDANTIC_VERSION, sys.version, str(pickle.HIGHEST_PROTOCOL), *extra):
        h.update(part.encode() + b"\0")
    for path in files:
        h.update(path.name.encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def distribution(module: str, name: str) -> str:
    """The installed distribution ``name`` that provides ``module`` (its ``dist-info``
    folder, which names the version), without importing either: "absent" when there is
    none. For keys of entries whose content a third-party library decides."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        return f"{name}: absent"
    site = Path(spec.origin).parent.parent
    prefix = name.lower().replace("-", "_") + "-"
    try:
        found = sorted(
            entry.name
            for entry in os.scandir(site)
            if entry.name.lower().startswith(prefix) and entry.name.endswith(".dist-info")
        )
    except OSError:
        found = []
    return " ".join(found) or f"{name}: absent"


def cached(
    name: str,
    key: str,
    build: Callable[[], T],
    dump: Callable[[T], Any] = lambda value: value,
    restore: Callable[[Any], T] = lambda payload: payload,
    *,
    keep: int = 4,
) -> T:
    """``restore(payload)`` of the entry ``name`` stored under ``key``, else ``build()``
    (then ``dump`` of it is stored for the next process).

    ``key`` comes from :func:`inputs_digest`; ``keep`` entries of ``name`` (the newest)
    stay in the folder. Any failure to read or restore the entry
    falls back to ``build``; a failure to write leaves the cache as it was.
    """
    folder = cache_dir()
    if folder is None:
        return build()
    path = folder / f"{name}-{key[:20]}.pickle"
    with contextlib.suppress(Exception):
        # a damaged or foreign entry is rebuilt: nothing in it is trusted but its key
        payload = _read(path, key)
        if payload is not None:
            with no_collection():  # restoring makes many objects too, none of them garbage
                return restore(payload[0])
    value = build()
    with contextlib.suppress(Exception):
        _write(path, key, dump(value), keep)
    return value


def _trusted(path: Path) -> bool:
    """Whether the entry and its folder are this user's and no other user (nor group) can
    write them.

    Unpickling runs code: an entry that another user could have written or replaced is
    never read (it is rebuilt and written again). Where there are no POSIX owners, the
    folder's own access rules stand in.
    """
    if not hasattr(os, "getuid"):
        return True
    uid = os.getuid()
    for item in (path, path.parent):
        status = item.stat()
        if status.st_uid != uid or status.st_mode & 0o022:
            return False
    return True


def _read(path: Path, key: str) -> tuple[Any] | None:
    try:
        if not _trusted(path):
            return None
        data = path.read_bytes()
    except OSError:
        return None
    header = _MAGIC + key.encode() + b"\n"
    if not data.startswith(header):
        return None
    with no_collection():
        # the folder is the user's own and the entry names its key: what this module wrote
        return (pickle.loads(data[len(header) :]),)  # noqa: S301


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """The cyclic collector off for the block: tens of thousands of small objects made at
    once would have it scan them over and over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write(path: Path, key: str, payload: Any, keep: int) -> None:
    from welfare_observatory._atomic import atomic_path

    body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    # The user's own folder (0700 when made here), so that no other user can plant an entry.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        handle.write(_MAGIC + key.encode() + b"\n")
        handle.write(body)
    # entries of other versions (several installs may share the folder): keep the newest few
    name = path.name.rsplit("-", 1)[0]
    others = sorted(
        path.parent.glob(f"{name}-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in others[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()
