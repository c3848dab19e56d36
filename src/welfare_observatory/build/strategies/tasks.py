"""Picklable units of work and the functions a worker runs on them.

A task carries paths and ids only. The worker loads the observatory from its folder with
the task's ``loader`` (named ``module:function``, as entry points are, so the build layer
never imports the observatory layer that calls it), makes the build environment and checks
that it sees the same configuration and the same library and plugin versions as the client:
a mismatch would silently change lineage ids, so it is an error instead.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from welfare_observatory.build.strategies.base import ExecutorError
from welfare_observatory.lineage import digest
from welfare_observatory.model.common import Frozen

if TYPE_CHECKING:
    from welfare_observatory.build.environment import Loader, ObservatoryLike
    from welfare_observatory.build.orchestrator import BuildResult
    from welfare_observatory.build.sources import BuildContext, SourceOutput
    from welfare_observatory.config import ObservatoryConfig


class BuildEnvironmentLike(Protocol):
    @property
    def config(self) -> ObservatoryConfig: ...


DEFAULT_LOADER = "welfare_observatory.observatory:load_observatory"
"""The library's own loader (``load_observatory``), by name."""

__all__ = [
    "NetworkTask",
    "SourceResult",
    "SourceTask",
    "build_observatory_task",
    "config_digest",
    "load",
    "loader_name",
    "resolve_loader",
    "run_source_task",
    "source_tasks",
]


class SourceTask(Frozen):
    """One source of one observatory to fetch, parse, harmonize and validate."""

    observatory: str
    """Folder of the observatory (absolute), as the workers see it."""
    source: str
    steps_dir: str
    cache_dir: str
    offline: bool
    refresh: bool
    config_digest: str
    versions: dict[str, str]
    loader: str = DEFAULT_LOADER
    """``module:function`` that loads the observatory from its folder."""
    timeout: float | None = None
    defer_checks: bool = False
    """The client runs the checks once over all sources (``build.validate``)."""


@dataclass
class SourceResult:
    """What a worker sends back: the pipeline's own output and its stage timings (s)."""

    output: SourceOutput
    timings: dict[str, float] = field(default_factory=dict)


class NetworkTask(Frozen):
    """One whole observatory of a network, built into its own knowledge base."""

    observatory: str
    out: str
    offline: bool = False
    refresh: bool = False
    cache_dir: str | None = None
    loader: str = DEFAULT_LOADER


def loader_name(loader: Loader | None) -> str:
    """``module:function`` of a module-level loader (the default one when None)."""
    if loader is None:
        return DEFAULT_LOADER
    return f"{loader.__module__}:{loader.__qualname__}"


def resolve_loader(loader: str) -> Loader:
    """The function a ``module:function`` name stands for."""
    import importlib

    module, _, name = loader.partition(":")
    function: Loader = getattr(importlib.import_module(module), name)
    return function


def load(loader: str, folder: str) -> ObservatoryLike:
    """The observatory in ``folder``, loaded by the ``module:function`` ``loader``."""
    return resolve_loader(loader)(folder)


def config_digest(observatory: ObservatoryLike | BuildEnvironmentLike) -> str:
    """Digest of the loaded configuration (what the build id is made from)."""
    return digest(observatory.config.model_dump(mode="json"))


def source_tasks(context: BuildContext, source_ids: Sequence[str]) -> list[SourceTask]:
    env = context.env
    common = {
        "observatory": str(Path(env.folder).resolve()),
        "steps_dir": str(Path(context.steps_dir).resolve()),
        "cache_dir": str(Path(context.cache_dir).resolve()),
        "offline": context.offline,
        "refresh": context.refresh,
        "config_digest": config_digest(env),
        "versions": dict(context.versions),
        "loader": loader_name(env.loader),
        "timeout": context.timeout,
        "defer_checks": context.defer_checks,
    }
    return [SourceTask(source=s, **common) for s in source_ids]


def run_source_task(task: SourceTask) -> SourceResult:
    """Run one source on a worker: reload the observatory, check it, run ``run_source``."""
    import dataclasses

    from welfare_observatory.build.sources import run_source

    shared = _worker_context(task.model_copy(update={"source": ""}).model_dump_json())
    # A fresh timings dict per task; the rest (catalogue, code table) is read-only.
    context = dataclasses.replace(shared, timings={}, defer_checks=task.defer_checks)
    sources = context.env.config.sources
    output = run_source(task.source, sources[task.source], context)
    return SourceResult(output, dict(context.timings))


@functools.lru_cache(maxsize=4)
def _worker_context(key: str) -> BuildContext:
    """The loaded, checked observatory and its context, kept by the worker process for the
    other sources of the same build (loading it costs more than a small source). ``key``
    is the task without its source, as JSON (hashable)."""
    from welfare_observatory.build.environment import make_environment
    from welfare_observatory.build.sources import new_context

    task = SourceTask.model_validate_json(key)
    observatory = load(task.loader, task.observatory)
    if config_digest(observatory) != task.config_digest:
        raise ExecutorError(
            f"the worker reads another configuration from {task.observatory}",
            hint="workers must see the same observatory files as the client "
            "(a shared or identical folder at the same path)",
        )
    env = make_environment(observatory, loader=resolve_loader(task.loader))
    context = new_context(
        env,
        timeout=task.timeout,
        steps_dir=Path(task.steps_dir),
        cache_dir=Path(task.cache_dir),
        offline=task.offline,
        refresh=task.refresh,
        say=lambda _line: None,
    )
    if context.versions != task.versions:
        raise ExecutorError(
            f"the worker runs {context.versions}, the client {task.versions}",
            hint="install the same welfare-observatory and plugin versions on every worker",
        )
    return context


def build_observatory_task(task: NetworkTask) -> BuildResult:
    """Build one observatory of a network in the worker, with the local executor."""
    from welfare_observatory.build.orchestrator import build

    observatory = load(task.loader, task.observatory)
    return build(
        observatory,
        out=task.out,
        offline=task.offline,
        refresh=task.refresh,
        cache_dir=task.cache_dir,
        loader=resolve_loader(task.loader),
    )
