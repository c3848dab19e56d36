"""The executor interface and the local executor.

An executor maps a picklable function over items and returns the results in the items'
order. The build hands it the sources to run (``run_sources``); the local executor calls
the pipeline's own ``run_source`` in this process, remote executors send
:class:`~welfare_observatory.build.strategies.tasks.SourceTask` (paths and ids, never live
objects) and the worker reloads the observatory. Results are Arrow tables and pydantic
models, so nothing in them depends on where they were computed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from welfare_observatory.errors import ConfigError, WelfareObservatoryError

if TYPE_CHECKING:
    from welfare_observatory.build.sources import BuildContext, SourceOutput

__all__ = ["Executor", "ExecutorError", "LocalExecutor", "executor_for", "running"]

T = TypeVar("T")
R = TypeVar("R")

NAMES = ("local", "dask")


class ExecutorError(WelfareObservatoryError, RuntimeError):
    """The executor could not run the work: a cluster unreachable, workers lost for good,
    a worker running another library version or seeing other files."""


class Executor(ABC):
    """Runs independent pieces of work; a context manager that owns what it starts."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self._started = False

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        """Acquire what the executor needs (a cluster, a client). Idempotent."""
        self._started = True

    def close(self) -> None:
        """Release what ``start`` acquired. Idempotent."""
        self._started = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def map(
        self, fn: Callable[[T], R], items: Sequence[T], *, names: Sequence[str] | None = None
    ) -> list[R]:
        """``[fn(item) for item in items]``, possibly in parallel; order is kept.

        ``fn`` must be a module-level function and ``items`` picklable for a remote
        executor; ``names`` label the tasks (dashboards, logs).
        """

    def run_sources(self, context: BuildContext, source_ids: Sequence[str]) -> list[SourceOutput]:
        """fetch -> parse -> harmonize -> validate of each source, in ``source_ids`` order.

        Remote executors send one :class:`SourceTask` per source; the worker loads the
        observatory from its folder and runs the pipeline's ``run_source``.
        """
        from welfare_observatory.build.strategies.tasks import run_source_task, source_tasks

        tasks = source_tasks(context, source_ids)
        results = self.map(run_source_task, tasks, names=[f"source-{s}" for s in source_ids])
        outputs = []
        for result in results:
            for stage, seconds in result.timings.items():
                context.timings[stage] = context.timings.get(stage, 0.0) + seconds
            context.say(f"{result.output.report.id}: {result.output.report.status}")
            outputs.append(result.output)
        return outputs


class LocalExecutor(Executor):
    """Everything in this process, in order: the plain build."""

    name = "local"

    def map(
        self, fn: Callable[[T], R], items: Sequence[T], *, names: Sequence[str] | None = None
    ) -> list[R]:
        return [fn(item) for item in items]

    def run_sources(self, context: BuildContext, source_ids: Sequence[str]) -> list[SourceOutput]:
        from welfare_observatory.build.sources import run_sources

        return run_sources(source_ids, context)


def executor_for(name: str, *, scheduler: str | None = None, **options: Any) -> Executor:
    """An executor by name: ``local`` or ``dask`` (``scheduler`` is a Dask address)."""
    if name == "local":
        if scheduler is not None:
            raise ConfigError(
                "a scheduler address needs the dask executor",
                hint="use --executor dask --scheduler ADDRESS",
            )
        return LocalExecutor()
    if name == "dask":
        from welfare_observatory.build.strategies.dask_cluster import DaskExecutor

        return DaskExecutor(scheduler, **options)
    from welfare_observatory.errors import UnknownIdError

    raise UnknownIdError(name, candidates=NAMES, message=f"no executor {name!r}")


@contextmanager
def running(executor: Executor | str | None) -> Iterator[Executor]:
    """The executor to use, started: one already started is used as it is (its owner
    closes it); one made or started here is closed on the way out."""
    if executor is None:
        executor = LocalExecutor()
    elif isinstance(executor, str):
        executor = executor_for(executor)
    if executor.started:
        yield executor
        return
    with executor:
        yield executor
