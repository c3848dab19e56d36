"""One writer at a time per knowledge base; readers never wait.

A writer (a build, ``kb publish``) holds an exclusive operating-system lock on
``<kb>/.writer.lock`` (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows) for as long
as it writes: a build holds it from the clean-up of half-written steps to the new
pointer, so pruning never removes another build's staging folder or temporary files.
The system releases the lock when the process ends, also on SIGKILL, so a crash never
leaves a stale lock. The holder's pid and start time go to ``<kb>/.writer.json`` for the
message a waiting writer shows. Readers (``KnowledgeBase``, ``kb list``, the report) take
no lock: they follow ``EDITION.json``, which only ever names a complete build.

The lock is re-entrant inside one thread, so the build can hold it while the store's
write protocol takes it again.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar

from welfare_observatory.errors import KnowledgeBaseBusyError, Location

__all__ = ["LOCK_FILE", "WAIT_SECONDS", "holds_writer_lock", "writer_lock"]

LOCK_FILE = ".writer.lock"
HOLDER_FILE = ".writer.json"
WAIT_SECONDS = 600.0
"""How long a writer waits for another one to finish before giving up (s)."""

P = ParamSpec("P")
R = TypeVar("R")


class _Held:
    """This process's hold on one knowledge base's lock."""

    def __init__(self) -> None:
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.handle: IO[bytes] | None = None
        self.pid = os.getpid()


_held: dict[str, _Held] = {}
_held_guard = threading.Lock()


def _state(root: Path) -> _Held:
    with _held_guard:
        held = _held.get(str(root))
        # A forked child does not own its parent's lock: start afresh.
        if held is None or held.pid != os.getpid():
            held = _held[str(root)] = _Held()
        return held


@contextlib.contextmanager
def writer_lock(
    kb_root: Path | str,
    *,
    timeout: float | None = None,
    say: Callable[[str], None] | None = None,
    poll: float = 0.2,
) -> Iterator[None]:
    """Hold the knowledge base's writer lock inside the block.

    Waits up to ``timeout`` seconds (default :data:`WAIT_SECONDS`; ``0``: not at all) for
    another writer, telling ``say`` once who it waits for; then raises
    KnowledgeBaseBusyError naming that writer.
    """
    timeout = WAIT_SECONDS if timeout is None else timeout
    root = Path(kb_root).resolve()
    held = _state(root)
    deadline = time.monotonic() + max(0.0, timeout)
    if not held.thread_lock.acquire(timeout=max(0.0, timeout)):
        raise _busy(root, timeout)
    try:
        if held.depth == 0:
            held.handle = _acquire(root, deadline, timeout, say, poll)
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0 and held.handle is not None:
                _release(root, held.handle)
                held.handle = None
    finally:
        held.thread_lock.release()


def holds_writer_lock(out: str = "out") -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a build function so that it runs holding the writer lock of the
    knowledge base named by its ``out`` argument (progress lines go to ``progress``)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            say = bound.arguments.get("progress")
            with writer_lock(Path(bound.arguments[out]), say=say if callable(say) else None):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def _acquire(
    root: Path,
    deadline: float,
    timeout: float,
    say: Callable[[str], None] | None,
    poll: float,
) -> IO[bytes]:
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    told = False
    while True:
        handle = (root / LOCK_FILE).open("a+b")
        try:
            if _try_lock(handle):
                if _same_file(handle, root / LOCK_FILE):
                    break
                # The holder removed the folder it had created as it let go: lock anew.
                _unlock(handle)
                handle.close()
                root.mkdir(parents=True, exist_ok=True)
                continue
            handle.close()
            if time.monotonic() >= deadline:
                raise _busy(root, timeout)
            if say is not None and not told:
                say(f"waiting for {_holder_text(root)} to finish writing to {root}")
                told = True
            time.sleep(poll)
        except BaseException:
            handle.close()
            raise
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv[:3]),
    }
    with contextlib.suppress(OSError):
        (root / HOLDER_FILE).write_text(json.dumps(holder) + "\n", encoding="utf-8")
    _created[str(root)] = created
    return handle


_created: dict[str, bool] = {}


def _same_file(handle: IO[bytes], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), path.stat())
    except OSError:
        return False


def _release(root: Path, handle: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        (root / HOLDER_FILE).unlink()
    try:
        if _created.pop(str(root), False) and {p.name for p in root.iterdir()} == {LOCK_FILE}:
            # A writer that failed before writing anything leaves no empty knowledge base
            # behind; removed while still locked, so a waiter notices and locks anew.
            (root / LOCK_FILE).unlink()
            root.rmdir()
    except OSError:
        pass
    finally:
        try:
            _unlock(handle)
        finally:
            handle.close()


def _busy(root: Path, timeout: float) -> KnowledgeBaseBusyError:
    waited = f" (waited {timeout:g} s)" if timeout > 0 else ""
    return KnowledgeBaseBusyError(
        f"{_holder_text(root)} is writing to the knowledge base {root}{waited}",
        location=Location(file=str(root / LOCK_FILE)),
        hint="let that build finish and try again; reading the knowledge base meanwhile is safe",
    )


def _holder_text(root: Path) -> str:
    try:
        holder: dict[str, Any] = json.loads((root / HOLDER_FILE).read_text(encoding="utf-8"))
        since = f", since {holder['since']}" if holder.get("since") else ""
        return f"another build (pid {holder['pid']} on {holder.get('host', '?')}{since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another build"


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: IO[bytes]) -> bool:
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
