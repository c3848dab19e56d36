"""The Dask executor: the same tasks, fanned out over a Dask cluster.

Without a scheduler address it starts a ``LocalCluster`` (worker processes on this
machine) and shuts it down on ``close``; with an address (``tcp://host:8786``) or a
cluster object (dask-kubernetes ``KubeCluster``, dask-gateway ``GatewayCluster``,
``SSHCluster``) it connects to that cluster and leaves it running. Tasks are resubmitted
``retries`` times when they raise, and the scheduler reschedules the tasks of a worker that
died; a task that keeps killing workers fails the build with :class:`ExecutorError` before
anything is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from welfare_observatory.build.strategies.base import Executor, ExecutorError

__all__ = ["DaskExecutor"]

T = TypeVar("T")
R = TypeVar("R")


def _peak_rss() -> int:
    """Peak resident memory of the calling process in bytes (Linux reports KiB)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class DaskExecutor(Executor):
    """Fan work out over Dask. Use as a context manager so a started cluster is stopped.

    ``scheduler``: an address or a cluster object; ``None`` starts a ``LocalCluster`` of
    ``n_workers`` with ``threads_per_worker`` each, as processes unless ``processes`` is
    False. ``memory_limit`` is per worker (Dask's syntax: ``"2GiB"``, ``"auto"``).
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | Any | None = None,
        *,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        processes: bool = True,
        memory_limit: str | int | None = "auto",
        retries: int = 2,
        timeout: float = 30.0,
    ) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.processes = processes
        self.memory_limit = memory_limit
        self.retries = retries
        self.timeout = timeout
        # distributed ships no type hints: its objects are Any here.
        self._cluster: Any = None
        self._client: Any = None

    def __repr__(self) -> str:
        where = self.scheduler if self.scheduler is not None else f"LocalCluster({self.n_workers})"
        return f"DaskExecutor({where!r})"

    @property
    def client(self) -> Any:
        """The Dask client (for dashboards, worker plugins, ``client.run``)."""
        if self._client is None:
            raise ExecutorError("the Dask executor is not started", hint="use it in a with block")
        return self._client

    def start(self) -> None:
        if self._client is not None:
            return
        try:
            import distributed
        except ImportError as exc:
            raise ExecutorError(
                "the dask executor needs dask.distributed",
                hint="pip install 'welfare-observatory[dask]'",
            ) from exc
        dist: Any = distributed  # untyped constructors
        try:
            if self.scheduler is None:
                self._cluster = dist.LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=self.threads_per_worker,
                    processes=self.processes,
                    memory_limit=self.memory_limit,
                    dashboard_address=None,
                )
                self._client = dist.Client(self._cluster, timeout=self.timeout)
            else:
                self._client = dist.Client(self.scheduler, timeout=self.timeout)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ExecutorError(
                f"cannot reach the Dask scheduler {self.scheduler!r}: {exc}",
                hint="check the address (tcp://host:8786) and that the scheduler is running",
            ) from exc
        super().start()

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        try:
            if client is not None:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()
            super().close()

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], *, names: Sequence[str] | None = None
    ) -> list[R]:
        from distributed import KilledWorker

        if not items:
            return []
        client = self.client
        run = uuid.uuid4().hex[:8]
        labels = names or [f"{getattr(fn, '__name__', 'task')}-{i}" for i in range(len(items))]
        keys = [f"{label}-{run}" for label in labels]
        futures = client.map(fn, list(items), key=keys, retries=self.retries, pure=False)
        try:
            results: list[R] = client.gather(futures)
        except KilledWorker as exc:
            raise ExecutorError(
                f"a task kept killing its workers and was given up: {exc}",
                hint="look at the worker logs (out of memory?); nothing was stored, the "
                "previous edition is intact",
            ) from exc
        finally:
            client.cancel(futures)
        return results

    def worker_peak_memory(self) -> dict[str, int]:
        """Peak resident memory of each worker process so far, bytes, by worker address."""
        result: dict[str, int] = self.client.run(_peak_rss)
        return result
