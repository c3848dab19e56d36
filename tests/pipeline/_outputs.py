"""What the tests of the sources' run share: a build context offline in a folder, and the
part of the sources' outputs a build keeps, to compare two ways of running them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from welfare_observatory.build.sources import BuildContext, SourceOutput, new_context


def offline_context(env: Any, kb: Path, **changes: Any) -> BuildContext:
    """A build context of ``env`` writing into ``kb`` (offline, nothing said)."""
    (kb / ".steps").mkdir(parents=True, exist_ok=True)
    context = new_context(
        env,
        steps_dir=kb / ".steps",
        cache_dir=kb / ".cache",
        offline=True,
        refresh=False,
        say=lambda _line: None,
    )
    return dataclasses.replace(context, **changes) if changes else context


def plain(outputs: list[SourceOutput], *, saving: bool = False) -> list[Any]:
    """What a build keeps of the outputs (the seconds a source took aside); ``saving``: the
    pending step write too."""
    return [
        (
            o.report.model_copy(update={"seconds": None}),
            None if o.table is None else o.table.to_pylist(),
            o.findings,
            o.steps,
            o.payloads,
            o.reused,
            *((o.saving,) if saving else ()),
        )
        for o in outputs
    ]
