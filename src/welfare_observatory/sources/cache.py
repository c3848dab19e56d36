"""Content-addressed store of raw payloads, with an index of request -> payload.

Layout under the cache folder::

    objects/ab/ab12...ef        the bytes, named by their sha256
    index/cd/cd34...90.json     one record per (source, request key): sha256, media type,
                                url, status, fetched_at

Every write goes to a temporary file in the same folder and is renamed into place, so a
crash never leaves a partial payload or a half-written record. A record whose object is
missing or does not hash to its name is treated as absent (and fetched again).

The rule of the cache: an answer stays indexed only if it parses. Whoever parses a
payload does it through :func:`parse_or_forget`, which drops the answer (and the SDMX
structure fetched with it) from the index when parsing fails, so an HTML error page
served with status 200 is never replayed by the next build, also offline. The bytes stay
under ``objects/`` (other keys may share them) and the next fetch asks the service again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from welfare_observatory._atomic import atomic_write_chunks
from welfare_observatory._file_stamp import SETTLED_NS, file_stamp, settled
from welfare_observatory.errors import FetchError, Location, StoreError, WelfareObservatoryError
from welfare_observatory.sdk import Payload

__all__ = ["REFRESH_HINT", "Cache", "atomic_write", "parse_or_forget"]

T = TypeVar("T")

REFRESH_HINT = (
    "the answer was not kept in the cache, so the next build asks the service again "
    "(--refresh asks again for every cached answer)"
)

_CHUNK = 1 << 20
_SETTLED_NS = SETTLED_NS
"""A local file's stamp is trusted once it is older than this (:data:`SETTLED_NS`)."""


def _utcnow() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


atomic_write = atomic_write_chunks  # the package's one writer (welfare_observatory._atomic)


_PENDING: dict[Path, Future[None]] = {}
"""Index records being written by a cache's ``finisher``, by path: whoever reads or removes
one waits for it first."""
_PENDING_LOCK = threading.Lock()
"""Guards :data:`_PENDING`: a finished write must not unregister a newer one for its path."""


def _settled(index_path: Path) -> None:
    """Wait until a record being written to ``index_path`` is (its failure is reported to
    the build that wrote it, see :attr:`Cache.pending`)."""
    with _PENDING_LOCK:
        pending = _PENDING.get(index_path)
    if pending is not None:
        wait([pending])


def _register(index_path: Path, task: Future[None]) -> None:
    """Make readers of ``index_path`` wait for ``task`` until it is done."""

    def unregister(done: Future[None]) -> None:
        with _PENDING_LOCK:
            if _PENDING.get(index_path) is done:
                del _PENDING[index_path]

    with _PENDING_LOCK:
        _PENDING[index_path] = task
    task.add_done_callback(unregister)


def _fsync_path(path: Path) -> None:
    """Flush a file already closed to disk (reopened read-only: POSIX syncs the file, not
    the descriptor, so no handle has to stay open while the copy waits its turn)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Cache:
    """Raw payloads on disk, addressed by sha256, indexed by (source id, request key).

    ``finisher``: where a local file copied by :meth:`put_file` is finished (its copy
    fsynced, then its record written, in that order), so the caller reads the copy while
    the disk catches up; :attr:`pending` holds those tasks (a failed one raises what
    :meth:`put_file` would have raised). None: finished before :meth:`put_file` returns.
    """

    def __init__(
        self,
        root: Path,
        *,
        clock: Callable[[], str] = _utcnow,
        finisher: Executor | None = None,
    ) -> None:
        self.root = Path(root)
        self._root = os.fspath(self.root)
        self._clock = clock
        self.finisher = finisher
        self.pending: list[Future[None]] = []

    def now(self) -> str:
        """The cache's clock: when a payload was fetched (UTC, to the second)."""
        return self._clock()

    # -- objects ---------------------------------------------------------------------------
    def object_path(self, sha256: str) -> Path:
        """Where the bytes with this hash live."""
        return self.root / "objects" / sha256[:2] / sha256

    def _object_file(self, sha256: str) -> str:
        """:meth:`object_path` as a string (no ``Path`` built on the hot path)."""
        return os.path.join(self._root, "objects", sha256[:2], sha256)  # noqa: PTH118

    def _index_path(self, source: str, key: str) -> Path:
        return Path(self._index_file(source, key))

    def _index_file(self, source: str, key: str) -> str:
        digest = hashlib.sha256(f"{source}\0{key}".encode()).hexdigest()
        return os.path.join(self._root, "index", digest[:2], f"{digest}.json")  # noqa: PTH118

    def _store_bytes(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.object_path(sha)
        if not target.is_file():
            atomic_write(target, [data])
        return sha

    def _store_file(self, path: Path) -> str:
        """Copy ``path`` into the objects, fsynced; its sha256."""
        return self._copy_file(path, sync=True)

    def _copy_file(self, path: Path, *, sync: bool) -> str:
        """Copy ``path`` into the objects; the copy's sha256.

        Without ``sync`` the copy is in place (and closed) before it is on disk: until its
        record names it, a crash can only leave an object no record vouches for (an older
        record's stamp holds the inode its copy had, which the new copy replaced)."""
        digest = hashlib.sha256()
        # Folders are made when missing, not asked for on every copy (two system calls a
        # file, in a build of many small files).
        staging = os.path.join(self._root, "objects", "staging")  # noqa: PTH118
        try:
            fd, tmp = tempfile.mkstemp(dir=staging, prefix=".tmp-")
        except FileNotFoundError:
            os.makedirs(staging, exist_ok=True)  # noqa: PTH103
            fd, tmp = tempfile.mkstemp(dir=staging, prefix=".tmp-")
        out = os.fdopen(fd, "wb")
        try:
            with open(path, "rb") as src:  # noqa: PTH123
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            out.flush()
            if sync:
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            target = self._object_file(sha)
            # Replaced even when present: the bytes just hashed are right, a copy already
            # there may have been damaged (and its stamp then no longer vouches for it).
            try:
                os.replace(tmp, target)  # noqa: PTH105
            except FileNotFoundError:
                os.makedirs(os.path.dirname(target), exist_ok=True)  # noqa: PTH103, PTH120
                os.replace(tmp, target)  # noqa: PTH105
        except BaseException:
            out.close()
            Path(tmp).unlink(missing_ok=True)
            raise
        out.close()
        return sha

    # -- records ---------------------------------------------------------------------------
    def _record(
        self,
        source: str,
        key: str,
        sha: str,
        media_type: str,
        meta: Mapping[str, str],
        *,
        stamps: Mapping[str, list[int]] | None = None,
        after: Callable[[], None] | None = None,
    ) -> Payload:
        """Write the index record (``after`` first, both on the ``finisher`` if given)."""
        full_meta = {**meta, "fetched_at": meta.get("fetched_at") or self._clock()}
        record: dict[str, object] = {
            "source": source,
            "key": key,
            "sha256": sha,
            "media_type": media_type,
            "meta": dict(sorted(full_meta.items())),
        }
        if stamps:
            record["stamps"] = dict(stamps)
        index = self._index_path(source, key)

        def write() -> None:
            if after is not None:
                after()
            text = json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
            # Not fsynced: a record a crash cut short does not parse and is fetched again;
            # the object it names was fsynced before it.
            atomic_write(index, [text.encode()], sync=False)

        if self.finisher is None or after is None:
            write()
        else:
            _settled(index)
            task = self.finisher.submit(write)
            _register(index, task)
            self.pending.append(task)
        return Payload(source, key, sha, self.object_path(sha), media_type, full_meta)

    def put(
        self,
        source: str,
        key: str,
        data: bytes,
        *,
        media_type: str = "application/octet-stream",
        meta: Mapping[str, str] | None = None,
    ) -> Payload:
        """Store ``data`` as the answer to ``key`` for ``source`` and return the payload."""
        try:
            sha = self._store_bytes(data)
            return self._record(source, key, sha, media_type, meta or {})
        except OSError as exc:
            raise StoreError(
                f"cannot write to the cache: {exc}", location=Location(file=str(self.root))
            ) from exc

    def put_file(
        self,
        source: str,
        key: str,
        path: Path,
        *,
        media_type: str = "application/octet-stream",
        meta: Mapping[str, str] | None = None,
        trust_stamps: bool = True,
        status: os.stat_result | None = None,
    ) -> Payload:
        """Copy a local file into the cache (streamed, hashed on the way) as ``key``.

        A file whose stamp (size, modification and change times, inode, device) is the one
        recorded when it was last copied, and whose cached copy is untouched too, is not
        read again: its recorded sha256 is the digest of the same bytes. ``trust_stamps``
        False (a refresh) reads and hashes it anyway. ``status``: the file's ``stat`` when
        the caller has just taken it (not asked for again).
        """
        meta = dict(meta or {})
        try:
            before = status if status is not None else os.stat(path)  # noqa: PTH116
        except OSError as exc:
            raise FetchError(
                f"cannot read {path.name!r}: {exc.strerror or exc}",
                location=Location(source=source or None, file=str(path)),
            ) from exc
        if trust_stamps:
            known = self._unchanged(source, key, file_stamp(before), media_type, meta)
            if known is not None:
                return known

        def unreadable(exc: OSError) -> FetchError:
            return FetchError(
                f"cannot read {path.name!r}: {exc.strerror or exc}",
                location=Location(source=source or None, file=str(path)),
            )

        deferred = self.finisher is not None
        try:
            sha = self._copy_file(path, sync=False) if deferred else self._store_file(path)
        except OSError as exc:
            raise unreadable(exc) from exc
        after = None
        if deferred:
            copied = self.object_path(sha)

            def after() -> None:
                try:
                    _fsync_path(copied)
                except OSError as exc:
                    raise unreadable(exc) from exc

        stamps = None
        # Only a file still for a while has its stamp recorded (the "racy" case).
        if settled(before, time.time_ns(), _SETTLED_NS):
            try:
                stamps = {
                    "file": file_stamp(before),
                    "object": file_stamp(os.stat(self._object_file(sha))),  # noqa: PTH116
                }
            except OSError:
                stamps = None
        return self._record(source, key, sha, media_type, meta, stamps=stamps, after=after)

    def _unchanged(
        self,
        source: str,
        key: str,
        stamp: list[int],
        media_type: str,
        meta: Mapping[str, str],
    ) -> Payload | None:
        """The payload recorded for a local file whose stamp and cached copy are unchanged."""
        try:
            index = self._index_file(source, key)
            if _PENDING:  # none is the rule when reusing: no Path built, no lock taken
                _settled(Path(index))
            with open(index, "rb") as handle:  # noqa: PTH123
                record = json.loads(handle.read())
            stamps = record.get("stamps") or {}
            sha = str(record["sha256"])
            if stamps.get("file") != stamp or record.get("media_type") != media_type:
                return None
            kept = {str(k): str(v) for k, v in dict(record.get("meta", {})).items()}
            if {k: v for k, v in kept.items() if k != "fetched_at"} != meta:
                return None
            path = self._object_file(sha)
            if stamps.get("object") != file_stamp(os.stat(path)):  # noqa: PTH116
                return None
            return Payload(
                str(record["source"]), str(record["key"]), sha, Path(path), media_type, kept
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def lookup(self, source: str, key: str) -> Payload | None:
        """The cached answer to ``key`` for ``source``, or None (also when it is damaged)."""
        return self._load(self._index_path(source, key))

    def _load(self, index_path: Path) -> Payload | None:
        _settled(index_path)
        try:
            record = json.loads(index_path.read_text(encoding="utf-8"))
            sha = str(record["sha256"])
            path = self.object_path(sha)
            if not _hashes_to(path, sha):
                return None
            meta = {str(k): str(v) for k, v in dict(record.get("meta", {})).items()}
            return Payload(
                str(record["source"]),
                str(record["key"]),
                sha,
                path,
                str(record.get("media_type", "application/octet-stream")),
                meta,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def forget(self, source: str, key: str) -> bool:
        """Drop the answer to ``key`` for ``source`` from the index (its bytes may be shared
        by other keys and stay); the next fetch asks again. True when there was one."""
        path = self._index_path(source, key)
        _settled(path)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def discard(self, payload: Payload) -> None:
        """Forget ``payload``'s answer and the SDMX structure that came with it, if any."""
        self.forget(payload.source, payload.key)
        structure = payload.meta.get("structure")
        if structure:
            self.forget(payload.source, structure)

    def entries(self, source: str | None = None) -> Iterator[Payload]:
        """Every intact cached payload (of one source when ``source`` is given)."""
        index = self.root / "index"
        if not index.is_dir():
            return
        for path in sorted(index.glob("*/*.json")):
            payload = self._load(path)
            if payload is not None and (source is None or payload.source == source):
                yield payload


def parse_or_forget(parse: Callable[[Payload], T], payload: Payload, cache: Cache) -> T:
    """``parse(payload)``; when it raises, the answer leaves the cache index first (the
    cache keeps only answers that parse) and a library error's hint says so."""
    try:
        return parse(payload)
    except Exception as exc:
        cache.discard(payload)
        if isinstance(exc, WelfareObservatoryError) and payload.url is not None:
            exc.hint = f"{exc.hint}; {REFRESH_HINT}" if exc.hint else REFRESH_HINT
        raise


def _hashes_to(path: Path, sha: str) -> bool:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == sha
