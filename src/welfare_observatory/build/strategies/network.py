"""A network of observatories built together: one task per observatory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.build.strategies.base import Executor, running
from welfare_observatory.build.strategies.tasks import (
    NetworkTask,
    build_observatory_task,
    load,
    loader_name,
)
from welfare_observatory.errors import ConfigError, Location

if TYPE_CHECKING:
    from welfare_observatory.build.environment import Loader
    from welfare_observatory.build.orchestrator import BuildResult

__all__ = ["build_network"]


def build_network(
    observatories: Sequence[str | Path],
    *,
    out: str | Path = "kb",
    executor: Executor | str | None = None,
    offline: bool = False,
    refresh: bool = False,
    cache_dir: str | Path | None = None,
    loader: Loader | None = None,
) -> list[BuildResult]:
    """Build each observatory into ``out/<observatory id>``; results in the given order.

    Each observatory is one task: with a Dask executor they build in parallel on the
    workers, which must see the folders and ``out`` at the same paths. Ids must be distinct
    (they name the knowledge base folders). ``loader`` loads an observatory from its
    folder (``load_observatory`` by default).
    """
    name = loader_name(loader)

    root = Path(out).resolve()
    tasks: list[NetworkTask] = []
    seen: dict[str, str] = {}
    for path in observatories:
        observatory = load(name, str(path))
        folder = str(observatory.folder)
        if observatory.id in seen:
            raise ConfigError(
                f"two observatories of the network have the id {observatory.id!r}",
                location=Location(file=str(observatory.config_file), field="id"),
                hint=f"the other one is in {seen[observatory.id]}; ids name the knowledge bases",
            )
        seen[observatory.id] = folder
        tasks.append(
            NetworkTask(
                observatory=folder,
                out=str(root / observatory.id),
                offline=offline,
                refresh=refresh,
                cache_dir=None if cache_dir is None else str(Path(cache_dir).resolve()),
                loader=name,
            )
        )
    with running(executor) as runner:
        return runner.map(build_observatory_task, tasks, names=[f"build-{i}" for i in seen])
