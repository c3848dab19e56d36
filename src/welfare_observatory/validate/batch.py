"""The checks of a build, run once over every source's rows instead of once per source.

A build of 160 small sources paid each check's fixed cost (a query plan, a DuckDB
registration, a Python loop) 160 times. Here the canonical tables of the sources are put one
after the other with a column naming each row's source
(:data:`~welfare_observatory.validate.builtin.SOURCE_COLUMN`); every built-in check runs once
over that and its findings still name the source (and the row, column, indicator, territory
and period as before). Plugin checks keep their ``(table, context)`` contract: they get each
source's own rows, a zero-copy slice.

Findings of an unchanged source are reused: they are kept in ``<kb>/.steps/checks.json`` by
a key made of the source's step ids (content digests of its payloads, options, rules and
versions), the definitions of its indicators and the checks that ran. A rebuild after one
file changed checks only that file's rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from welfare_observatory.lineage import digest
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.validate.builtin import (
    SOURCE_COLUMN,
    check_coverage,
    check_outliers,
    check_range,
    check_status,
    check_sum_consistency,
    check_unknown_territories,
    close_connection,
)
from welfare_observatory.validate.checks import Check, CheckContext, CheckRegistry

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.model import Indicator
    from welfare_observatory.source_stage import BuildContext, SourceOutput

__all__ = ["BATCHED", "check_sources", "run_checks_by_source"]

BATCHED: dict[str, Check] = {
    "unknown-territory": check_unknown_territories,
    "coverage": check_coverage,
    "range": check_range,
    "sum-consistency": check_sum_consistency,
    "outliers": check_outliers,
    "status": check_status,
}
"""Built-in checks that read :data:`SOURCE_COLUMN` and name each finding's source."""

_CACHE = "checks.json"
_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def run_checks_by_source(
    tables: Mapping[str, pa.Table],
    registry: CheckRegistry,
    context: CheckContext,
    *,
    only: Iterable[str] | None = None,
) -> dict[str, list[Finding]]:
    """Findings of each source's table, as ``run_checks`` would give them one by one.

    Built-in checks of :data:`BATCHED` run once over all rows; others once per source. A
    check that crashes is reported as ``check-failed`` for the sources it was checking (a
    batched one is retried source by source, so the failure lands on the source that
    caused it).
    """
    import numpy as np
    import pyarrow as pa

    from welfare_observatory.stages import unify_breakdowns

    wanted = set(only) if only is not None else None
    ids = [s for s, t in tables.items() if t.num_rows]
    found: dict[str, list[Finding]] = {s: [] for s in tables}
    if not ids:
        return found
    combined = unify_breakdowns([tables[s] for s in ids])
    lengths = np.array([tables[s].num_rows for s in ids])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    names = pa.array(ids, pa.string())
    which = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(ids), dtype=np.int32), lengths)), names
    )
    batch = combined.append_column(SOURCE_COLUMN, which)
    own = {s: combined.slice(int(offsets[i]), int(lengths[i])) for i, s in enumerate(ids)}
    for check_id, check in registry.items():
        if wanted is not None and check_id not in wanted:
            continue
        if BATCHED.get(check_id) is check:
            try:
                for finding in check(batch, context):
                    if finding.source in found:
                        found[finding.source].append(finding)
                continue
            except Exception:  # noqa: S110 (retried per source below, which reports it)
                pass
        for source in ids:
            found[source] += _one(check_id, check, own[source], context, source, registry)
    close_connection()
    # The batch's copies are gone; let the allocator give their pages back before the
    # analyses need memory (mimalloc and jemalloc keep freed pages otherwise).
    pa.default_memory_pool().release_unused()
    for source in found:
        found[source].sort(key=lambda f: _ORDER[f.severity])
    return found


def _one(
    check_id: str,
    check: Check,
    table: pa.Table,
    context: CheckContext,
    source: str,
    registry: CheckRegistry,
) -> list[Finding]:
    ctx = dataclasses.replace(context, source=source)
    try:
        return list(check(table, ctx))
    except Exception as exc:  # a plugin's bug must not hide the other checks
        return [
            Finding(
                code="check-failed",
                severity=Severity.ERROR,
                message=f"check {check_id!r} failed: {type(exc).__name__}: {exc}",
                source=source,
                hint=f"report it to the maintainers of {registry.owner(check_id)}",
            )
        ]


def check_sources(outputs: Sequence[SourceOutput], context: BuildContext) -> list[SourceOutput]:
    """``outputs`` with the findings of the build's checks, and a source whose checks found
    an error marked failed (its table dropped), as the per-source validate did."""
    from welfare_observatory.validate.builtin import default_checks

    plugin_checks = context.observatory.plugins.registrations("check")
    registry = default_checks(
        # The check collector accepted only callables with the Check signature.
        extra={r.id: cast(Check, r.value) for r in plugin_checks},
        owners={r.id: r.distribution or r.plugin for r in plugin_checks},
    )
    # Schema problems were reported by harmonize already; the data checks run here.
    only = [check_id for check_id in registry if check_id != "schema"]
    checked = [o for o in outputs if o.table is not None and o.table.num_rows]
    common = {
        "checks": [(c, registry.owner(c)) for c in only],
        "versions": dict(sorted(context.versions.items())),
        "territory": context.observatory.config.territory.model_dump(mode="json"),
    }
    keys = {
        o.report.id: _key(o, context.indicators, common) for o in checked if o.table is not None
    }
    cache_file = context.steps_dir / _CACHE
    cached = {} if context.refresh else _load(cache_file)
    results: dict[str, list[Finding]] = {}
    todo: dict[str, pa.Table] = {}
    for output in checked:
        source = output.report.id
        if keys[source] in cached:
            results[source] = cached[keys[source]]
        else:
            assert output.table is not None
            todo[source] = output.table
    if todo:
        ctx = CheckContext(indicators=context.indicators)
        results.update(run_checks_by_source(todo, registry, ctx, only=only))
    _save(cache_file, {keys[s]: results[s] for s in keys})
    return [_with_findings(o, results.get(o.report.id, [])) for o in outputs]


def _key(output: SourceOutput, indicators: Mapping[str, Indicator], common: Any) -> str:
    used = sorted(output.report.indicators)
    return digest(
        {
            "source": output.report.id,
            "steps": [s.id for s in output.steps],
            "indicators": [indicators[i].model_dump(mode="json") for i in used if i in indicators],
            **common,
        }
    )


def _with_findings(output: SourceOutput, found: list[Finding]) -> SourceOutput:
    if not found:
        return output
    findings = [*output.findings, *found]
    errors = [f for f in findings if f.severity is Severity.ERROR]
    report = output.report.model_copy(
        update={
            "status": "failed" if errors else output.report.status,
            "rows_out": 0 if errors else output.report.rows_out,
            "errors": len(errors),
            "warnings": sum(1 for f in findings if f.severity is Severity.WARNING),
            "error": str(errors[0]) if errors else None,
        }
    )
    return dataclasses.replace(
        output, report=report, findings=findings, table=None if errors else output.table
    )


def _load(path: Path) -> dict[str, list[Finding]]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return {k: [Finding.model_validate(f) for f in v] for k, v in record.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}  # a damaged cache is rebuilt, never trusted


def _save(path: Path, results: Mapping[str, list[Finding]]) -> None:
    from welfare_observatory.store.edition import atomic_write_bytes

    record = {k: [f.model_dump(mode="json") for f in v] for k, v in sorted(results.items())}
    atomic_write_bytes(path, json.dumps(record).encode("utf-8"))
