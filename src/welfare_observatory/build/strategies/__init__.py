"""Executors: where the independent pieces of a build run.

``LocalExecutor`` runs them in this process, one after the other (the default).
``DaskExecutor`` fans them out over a Dask cluster: a ``LocalCluster`` it starts and stops
itself, or an existing scheduler by address. Both run the same stage functions, so they
produce the same edition, lineage ids and build id. ``build_network`` builds several
observatories together; ``build_out_of_core`` builds an edition larger than memory a
partition at a time. This module stays light: Dask is imported only when a Dask executor starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports
from welfare_observatory.build.strategies.base import (
    Executor,
    ExecutorError,
    LocalExecutor,
    executor_for,
    running,
)

if TYPE_CHECKING:
    from welfare_observatory.build.strategies.dask_cluster import DaskExecutor
    from welfare_observatory.build.strategies.network import build_network
    from welfare_observatory.build.strategies.out_of_core import OutOfCoreResult, derive_out_of_core
    from welfare_observatory.build.strategies.out_of_core_build import build_out_of_core

__all__ = [
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "LocalExecutor",
    "OutOfCoreResult",
    "build_network",
    "build_out_of_core",
    "derive_out_of_core",
    "executor_for",
    "running",
]

_LAZY = {
    "DaskExecutor": "welfare_observatory.build.strategies.dask_cluster",
    "build_network": "welfare_observatory.build.strategies.network",
    "OutOfCoreResult": "welfare_observatory.build.strategies.out_of_core",
    "derive_out_of_core": "welfare_observatory.build.strategies.out_of_core",
    "build_out_of_core": "welfare_observatory.build.strategies.out_of_core_build",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
