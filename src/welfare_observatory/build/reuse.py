"""Reuse of the derive and analyze stages when nothing they read has changed.

A rebuild of an unchanged observatory reuses every source's harmonized table (keyed by its
payloads, rules and versions); this module does the same for what comes after. The key is
the digest of everything derive and analyze read: the source steps (their ids are content
digests), the observatory's configuration and overrides file, the selection and the build
environment's fingerprint (every indicator definition, units, code lists, reference date,
versions).
A saved result is a folder under ``<kb>/.steps/derived-<key>/`` written to a temporary name
and renamed into place, so a killed build never leaves one half-written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from welfare_observatory.lineage import StepRecord, digest
from welfare_observatory.model.finding import Finding

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.derive import DeriveOutput
    from welfare_observatory.build.environment import BuildEnvironment

__all__ = ["Derived", "derived_key", "drop_leftovers", "load_derived", "save_derived"]

_PREFIX = "derived-"


@dataclass(frozen=True)
class Derived:
    """The derive stage's output and the analyses over it, as one reusable unit."""

    derive: DeriveOutput
    analyses: dict[str, pa.Table]
    analysis_findings: list[Finding]


def derived_key(env: BuildEnvironment, *, source_steps: Iterable[str]) -> str:
    """The digest of every input of derive and analyze (see the module docstring)."""
    overrides = hashlib.sha256(env.overrides.read_bytes()) if env.overrides is not None else None
    return digest(
        {
            "steps": sorted(set(source_steps)),
            "config": env.config.model_dump(mode="json"),
            "overrides": overrides.hexdigest() if overrides is not None else None,
            "selection": [i.id for i in env.selection],
            "environment": env.fingerprint(),
        }
    )


def load_derived(steps_dir: Path, key: str) -> Derived | None:
    """The saved result for ``key``, or None (also when it is damaged: then it is rebuilt)."""
    import pyarrow.parquet as pq

    from welfare_observatory.build.derive import DeriveOutput

    folder = steps_dir / f"{_PREFIX}{key}"
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        observations = pq.read_table(folder / "observations.parquet")
        coverage_file = folder / "coverage.parquet"
        coverage = pq.read_table(coverage_file) if coverage_file.exists() else None
        analyses = {
            name: pq.read_table(folder / f"{name}.analysis.parquet") for name in meta["analyses"]
        }
        derive = DeriveOutput(
            observations=observations,
            findings=[Finding.model_validate(f) for f in meta["findings"]],
            steps=[StepRecord.model_validate(s) for s in meta["steps"]],
            coverage=coverage,
        )
        findings = [Finding.model_validate(f) for f in meta["analysis_findings"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Derived(derive, analyses, findings)


def save_derived(steps_dir: Path, key: str, derived: Derived, *, keep: int = 3) -> None:
    """Save ``derived`` under ``key``; only the ``keep`` most recent results are kept."""
    import pyarrow.parquet as pq

    steps_dir.mkdir(parents=True, exist_ok=True)
    target = steps_dir / f"{_PREFIX}{key}"
    if target.exists():
        return
    staging = Path(tempfile.mkdtemp(dir=steps_dir, prefix=".derived-", suffix=".tmp"))
    try:
        pq.write_table(derived.derive.observations, staging / "observations.parquet")
        if derived.derive.coverage is not None:
            pq.write_table(derived.derive.coverage, staging / "coverage.parquet")
        for name, table in derived.analyses.items():
            pq.write_table(table, staging / f"{name}.analysis.parquet")
        meta = {
            "findings": [f.model_dump(mode="json") for f in derived.derive.findings],
            "steps": [s.model_dump(mode="json") for s in derived.derive.steps],
            "analyses": sorted(derived.analyses),
            "analysis_findings": [f.model_dump(mode="json") for f in derived.analysis_findings],
        }
        (staging / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    saved = sorted(steps_dir.glob(f"{_PREFIX}*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in saved[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def drop_leftovers(steps_dir: Path) -> None:
    """Remove what a killed build left half-written: ``*.tmp`` files and staging folders
    (a finished step or result is always renamed into place, never named ``*.tmp``)."""
    if not steps_dir.is_dir():
        return
    for leftover in steps_dir.glob("*.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
