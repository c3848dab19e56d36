"""Where a build's tables live between the stages: the contract of a layout.

A layout (:class:`~welfare_observatory.build.strategies.in_memory.InMemory` or
:class:`~welfare_observatory.build.strategies.out_of_core_build.OutOfCore`) runs the
sources on the executor, then derives, analyses and stores; the orchestrator does the rest
(the environment, clean-up of half-written steps, skipped sources, the report) once for
both. An executor decides who runs the pieces; a layout decides where the data lives.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.build.sources import BuildContext, SourceOutput
    from welfare_observatory.build.strategies.base import Executor
    from welfare_observatory.model.finding import Finding

__all__ = ["WORK_PREFIX", "Layout", "Stored", "drop_half_written"]

WORK_PREFIX = ".out-of-core-"
"""Name prefix of an out-of-core build's work folder inside the knowledge base."""


@dataclass
class Stored:
    """What the store wrote: build id, observation count, indicators with rows, findings."""

    build: str
    observations: int
    built: set[str]
    findings: list[Finding] = field(default_factory=list)
    derived_reused: bool = False
    """Derive and analyze were reused from an earlier build (one reused step)."""
    derived_computed: bool = False
    """Derive and analyze ran as one reusable step (one computed step)."""


class Layout(Protocol):
    def open(self, kb_root: Path) -> None:
        """Make what the layout needs in ``kb_root`` (a work folder)."""

    def close(self) -> None:
        """Remove what ``open`` made, whatever happened in between."""

    def run_sources(
        self, runner: Executor, context: BuildContext, source_ids: Sequence[str]
    ) -> list[SourceOutput]: ...

    def derive_and_store(
        self,
        runner: Executor,
        kb_root: Path,
        env: BuildEnvironment,
        context: BuildContext,
        outputs: Sequence[SourceOutput],
    ) -> Stored:
        """Derive, analyze and store ``outputs``. The layout takes their tables: it may set
        a source's ``table`` to None once nothing it does reads it any more (the caller
        reads only their reports, findings and steps afterwards)."""
        ...


def drop_half_written(kb_root: Path) -> None:
    """Remove what a killed build left half-written in ``kb_root``: temporary step files
    and staging folders under ``.steps``, and out-of-core work folders. Finished steps are
    always renamed into place, so nothing whole is ever removed."""
    from welfare_observatory.build.reuse import drop_leftovers

    drop_leftovers(kb_root / ".steps")
    for work in kb_root.glob(f"{WORK_PREFIX}*"):
        if work.is_dir():
            shutil.rmtree(work, ignore_errors=True)
