"""Public names for running a build elsewhere: executors, networks, out-of-core builds.

The implementation lives in :mod:`welfare_observatory.build.strategies`; this module is the
stable import path the documentation uses. It stays light: Dask and DuckDB are imported only
when a name that needs them is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from welfare_observatory._lazy import lazy_exports
from welfare_observatory.build.strategies import _LAZY as _BUILD_EXPORTS
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
    from welfare_observatory.build.strategies.out_of_core import (
        OutOfCoreResult,
        derive_out_of_core,
        harmonize_out_of_core,
    )
    from welfare_observatory.build.strategies.out_of_core_build import build_out_of_core
    from welfare_observatory.build.strategies.sample import population_observatory, provinces

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
    "harmonize_out_of_core",
    "population_observatory",
    "provinces",
    "running",
]

_LAZY = {
    **_BUILD_EXPORTS,  # the package's own lazy names, listed once there
    "harmonize_out_of_core": "welfare_observatory.build.strategies.out_of_core",
    "population_observatory": "welfare_observatory.build.strategies.sample",
    "provinces": "welfare_observatory.build.strategies.sample",
}


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
