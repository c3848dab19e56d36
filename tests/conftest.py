"""Shared fixtures. Tests that read the real public data in ../shared/data skip without it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from hypothesis import HealthCheck, settings

try:
    import fcntl
except ImportError:  # not POSIX: no lock (run such a session with -n 0)
    fcntl = None  # type: ignore[assignment]

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("WELFARE_OBSERVATORY_SHARED", REPO.parent / "shared")) / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public data files; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not available ({SHARED_DATA} is absent)")
    return SHARED_DATA


# --- pytest-xdist: the environment is shared by the workers ---------------------------------
# A test marked ``exclusive`` changes the running environment (``pip install`` of a package into
# it): while it runs, no other test may read the installed distributions (entry points, metadata)
# half-written. Every test holds a shared lock on a file of the environment, an exclusive test
# the exclusive one, for its whole run (set-up of module and session fixtures included). The
# lock is the environment's, so concurrent sessions on one virtualenv are kept apart too. A
# second lock, the turnstile, lets a waiting exclusive test in: flock grants shared locks to
# newcomers while a writer waits, and a worker takes one per test.
_LOCKS = (
    Path(sys.prefix) / ".welfare-observatory-tests.lock",
    Path(sys.prefix) / ".welfare-observatory-tests.turnstile",
)
_lock_files: tuple[IO[str], IO[str]] | None = None


def _locks() -> tuple[IO[str], IO[str]] | None:
    """This process's open lock files; None where file locks or the files are not available."""
    global _lock_files
    if _lock_files is None and fcntl is not None:
        with contextlib.suppress(OSError):
            main = _LOCKS[0].open("a")
            try:
                _lock_files = (main, _LOCKS[1].open("a"))
            except OSError:
                main.close()
    return _lock_files


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    locks = _locks()
    if locks is None or fcntl is None:
        yield
        return
    main, turnstile = locks
    exclusive = item.get_closest_marker("exclusive") is not None
    fcntl.flock(turnstile, fcntl.LOCK_EX)
    if exclusive:
        fcntl.flock(main, fcntl.LOCK_EX)
    else:
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(main, fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(main, fcntl.LOCK_UN)
        if exclusive:
            fcntl.flock(turnstile, fcntl.LOCK_UN)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """An exclusive test in a parallel session without the lock fails (it is not run beside
    the other workers, whose installed distributions it would change under them)."""
    parallel = os.environ.get("PYTEST_XDIST_WORKER") is not None
    if item.get_closest_marker("exclusive") and parallel and _locks() is None:
        pytest.fail("this test must run alone and no file lock is available here: use -n 0")
