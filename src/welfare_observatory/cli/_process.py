"""What the console script does around a command because it owns the whole process.

Two costs of a ``build`` (``publish``, ``report``) process are not its work: the cyclic
garbage collector walking the objects start-up makes (modules, the registries, the
configuration), which are never garbage, and the interpreter's teardown, which frees a
heap of several hundred MB object by object (a quarter of a second) only for the system
to drop the pages anyway. :func:`run_command` defers collection until the command's
start-up is done and ends the process at once when the command has returned and flushed.

It also has Arrow allocate from the C library's heap (``ARROW_DEFAULT_MEMORY_POOL=system``)
rather than its own mimalloc pool, unless the variable is set already: numpy, pandas and
DuckDB allocate from that heap too, so what one frees the next reuses, where mimalloc keeps
its pages for Arrow alone (with its per-thread segments, the build's peak resident memory is
60-100 MiB higher, the time the same). And numpy's BLAS (OpenBLAS) starts no worker
threads (``OPENBLAS_NUM_THREADS=1``) unless the variable is set already: the library does no
matrix algebra worth a thread, and every process that imports numpy (pyarrow and pandas do)
pays for them, starting them and their waiting for work: a build's start-up takes about a
tenth of a second more CPU with one.

Only the console script does this (:func:`welfare_observatory.cli.main.run`);
:func:`welfare_observatory.cli.main.main`, which tests and embedding programs call, leaves
the collector and the interpreter alone.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

__all__ = [
    "ARROW_POOL",
    "BLAS_THREADS",
    "collect_again",
    "long_lived",
    "run_command",
    "set_native_defaults",
]

ARROW_POOL = "ARROW_DEFAULT_MEMORY_POOL"
"""Arrow's pool setting (read when pyarrow first allocates): the console script's default
is ``system``."""

BLAS_THREADS = "OPENBLAS_NUM_THREADS"
"""OpenBLAS's thread count (read when numpy first loads it): the console script's default
is ``1``."""

_deferred = False
"""True while :func:`run_command` holds the collector off for start-up."""


def collect_again() -> None:
    """Start-up is over: what it made moves out of the collector's generations (it lives
    as long as the process) and collection resumes. Nothing outside :func:`run_command`."""
    global _deferred
    if _deferred:
        _deferred = False
        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def long_lived(*, until_collect_again: bool = False) -> Iterator[None]:
    """Objects made so far (territory registry, configuration, modules) out of the cyclic
    collector's generations while the block runs: no full collection walks them again (a
    third of a build's collection time on 160 sources). Back in afterwards, so a caller
    running several commands in one process (tests) collects as usual.

    ``until_collect_again``: the console script's start-up goes on into the block (no
    collection) until :func:`collect_again` is called inside it, at the latest when it
    ends."""
    gc.freeze()
    if not until_collect_again:
        collect_again()
    try:
        yield
    finally:
        collect_again()
        gc.unfreeze()


def run_command(command: Callable[[], Any]) -> NoReturn:
    """Run ``command`` (the CLI) as the whole process and exit with its status; Arrow
    allocates from the C library's heap unless ``ARROW_DEFAULT_MEMORY_POOL`` says otherwise,
    OpenBLAS runs in the calling thread unless ``OPENBLAS_NUM_THREADS`` says otherwise.

    The exit status follows ``sys.exit(command())``. When the command is done the
    standard streams are flushed, the exit hooks run (temporary folders, logging,
    multiprocessing), and the process ends with ``os._exit``: the files the command wrote
    are closed by then (every writer uses a ``with`` block or closes itself) and the
    knowledge base's writer lock is released when the build returns (the system drops an
    ``flock`` with the process in any case). A thread still running that is not a daemon
    means work in flight: then the interpreter exits as usual and joins it."""
    global _deferred
    set_native_defaults()
    if gc.isenabled():
        _deferred = True
        gc.disable()
    try:
        status = _status(command())
    except SystemExit as exc:
        status = _status(exc.code)
    finally:
        # An exception other than SystemExit propagates with the collector back on.
        if _deferred:
            _deferred = False
            gc.enable()
    _exit(status)


def set_native_defaults() -> None:
    """The console script's settings of the native libraries (Arrow's pool, OpenBLAS's
    threads), where the environment has none: before any command imports pyarrow or numpy,
    which read them once."""
    os.environ.setdefault(ARROW_POOL, "system")
    os.environ.setdefault(BLAS_THREADS, "1")


def _status(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives (a message is printed, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _exit(status: int) -> NoReturn:
    if any(
        t is not threading.main_thread() and not t.daemon and t.is_alive()
        for t in threading.enumerate()
    ):
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (``| head``) or stream: nothing more can be written anyway.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
