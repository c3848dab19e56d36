"""Running one source: fetch -> parse -> harmonize -> validate, with reuse of its result.

A failing source is reported and the others go on. What a source produced is kept under
``<kb>/.steps`` by a key made of its payload hashes, type, options, rules, reference date and
versions, so a later build reuses it when none of those changed. The pipeline runs these per
source (on any executor); :mod:`welfare_observatory.pipeline` then derives, analyzes and
stores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from welfare_observatory.build_report import SourceReport
from welfare_observatory.errors import ConfigError, Location, OfflineError, SourceError
from welfare_observatory.lineage import StepRecord, digest
from welfare_observatory.model.finding import Finding, Severity

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.config import SourceConfig
    from welfare_observatory.harmonize import CodeTable, HarmonizeRule
    from welfare_observatory.model import Indicator
    from welfare_observatory.observatory import Observatory

__all__ = [
    "BuildContext",
    "SourceOutput",
    "declared_indicators",
    "distinct",
    "new_context",
    "run_source",
    "skipped_source",
]

Progress = Callable[[str], None]


@dataclass
class SourceOutput:
    """What one source produced: its report, its canonical table, findings and steps."""

    report: SourceReport
    table: pa.Table | None = None
    findings: list[Finding] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    payloads: tuple[str, ...] = ()
    reused: bool = False


@dataclass
class BuildContext:
    """What every source of one build shares: catalogue, codes, caches, versions, timings."""

    observatory: Observatory
    indicators: dict[str, Indicator]
    codes: CodeTable
    steps_dir: Path
    versions: dict[str, str]
    offline: bool
    refresh: bool
    cache_dir: Path
    say: Progress
    timings: dict[str, float] = field(default_factory=dict)
    defer_checks: bool = False
    """Leave the data checks to one pass over all sources (``validate.batch.check_sources``)."""

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start


def new_context(
    observatory: Observatory,
    *,
    steps_dir: Path,
    cache_dir: Path,
    offline: bool,
    refresh: bool,
    say: Progress,
) -> BuildContext:
    """What ``run_source`` needs; executors rebuild it on their workers from paths."""
    from welfare_observatory.harmonize import CodeTable
    from welfare_observatory.territory import registry

    return BuildContext(
        observatory=observatory,
        indicators={i.id: i for i in observatory.catalog},
        codes=CodeTable.from_registry(registry()),
        steps_dir=steps_dir,
        versions=_versions(observatory),
        offline=offline,
        refresh=refresh,
        cache_dir=cache_dir,
        say=say,
    )


def _versions(observatory: Observatory) -> dict[str, str]:
    from welfare_observatory import __version__

    versions = {"welfare-observatory": __version__}
    for plugin in observatory.plugins.plugins():
        if plugin.distribution and plugin.version:
            versions[plugin.distribution] = plugin.version
    return versions


def skipped_source(source_id: str, config: SourceConfig, reason: str) -> SourceOutput:
    return SourceOutput(
        SourceReport(id=source_id, type=config.type, status="skipped", reason=reason)
    )


def _rules(source_id: str, config: SourceConfig, observatory: Observatory) -> list[HarmonizeRule]:
    """The source's harmonization rules, errors pointing into observatory.yaml."""
    from welfare_observatory.harmonize import HarmonizeRule
    from welfare_observatory.yamlfile import load_yaml, validation_error

    raw = config.rules
    if raw is None:
        raise ConfigError(
            f"source {source_id!r} has no harmonization rules",
            location=Location(file=str(observatory.config_file), field=f"sources.{source_id}"),
            hint="add 'rules:' saying which columns hold the indicator, territory, period, value",
        )
    items = raw if isinstance(raw, list) else [raw]
    rules = []
    for index, item in enumerate(items):
        try:
            rules.append(HarmonizeRule.model_validate(item))
        except ValidationError as exc:
            prefix: tuple[str | int, ...] = ("sources", source_id, "rules")
            if isinstance(raw, list):
                prefix = (*prefix, index)
            document = load_yaml(observatory.config_file)
            raise validation_error(exc, document, model=HarmonizeRule, prefix=prefix) from exc
    return rules


def run_source(source_id: str, config: SourceConfig, context: BuildContext) -> SourceOutput:
    """fetch, parse, harmonize and validate one source; errors stay inside its report."""
    started = time.perf_counter()
    context.say(f"{source_id}: fetching")
    try:
        rules = _rules(source_id, config, context.observatory)
        with context.timed("fetch"):
            source = context.observatory.plugins.create_source(
                source_id, config.type, config.options
            )
            payloads = source.fetch(_fetch_context(context, source_id))
        # A structure message read alongside an SDMX payload changes how it parses.
        hashes = tuple(
            f"{p.sha256}+{p.meta['structure_sha256']}"
            if p.meta.get("structure_sha256")
            else p.sha256
            for p in payloads
        )
        key = (
            "source-"
            + digest(
                {
                    "type": config.type,
                    "options": config.options,
                    "rules": [r.model_dump(mode="json", by_alias=True) for r in rules],
                    "payloads": hashes,
                    "reference_date": str(context.observatory.config.territory.reference_date),
                    "versions": context.versions,
                    **({"checks": "deferred"} if context.defer_checks else {}),
                }
            )[:16]
        )
        reused = _load_step(context.steps_dir, key)
        if reused is not None and not context.refresh:
            table, findings, steps, rows_in = reused
            status = "reused"
        else:
            table, findings, steps, rows_in = _parse_and_harmonize(
                source, payloads, rules, context, source_id
            )
            status = "ok"
            _save_step(context.steps_dir, key, table, findings, steps, rows_in)
    except OfflineError as exc:
        report = SourceReport(
            id=source_id,
            type=config.type,
            status="skipped",
            reason=f"offline: {exc.message}",
            seconds=round(time.perf_counter() - started, 3),
        )
        return SourceOutput(report)
    except (SourceError, ConfigError) as exc:
        context.say(f"{source_id}: failed: {exc}")
        report = SourceReport(
            id=source_id,
            type=config.type,
            status="failed",
            error=str(exc) + (f" (hint: {exc.hint})" if exc.hint else ""),
            seconds=round(time.perf_counter() - started, 3),
        )
        return SourceOutput(report)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    indicators = distinct(table, "indicator") if table is not None else ()
    report = SourceReport(
        id=source_id,
        type=config.type,
        status="failed" if errors else status,
        rows_in=rows_in,
        rows_out=0 if errors or table is None else table.num_rows,
        indicators=indicators,
        errors=len(errors),
        warnings=sum(1 for f in findings if f.severity is Severity.WARNING),
        seconds=round(time.perf_counter() - started, 3),
        error=str(errors[0]) if errors else None,
    )
    context.say(f"{source_id}: {report.status}, {report.rows_out} observations")
    return SourceOutput(
        report,
        None if errors else table,
        findings,
        steps,
        payloads=hashes,
        reused=status == "reused",
    )


def _fetch_context(context: BuildContext, source_id: str) -> Any:
    from welfare_observatory.sdk import FetchContext
    from welfare_observatory.sources.cache import Cache
    from welfare_observatory.sources.http import shared_client

    return FetchContext(
        cache=Cache(context.cache_dir),
        http=shared_client(),  # one client, so per-host rate limits hold across sources
        offline=context.offline,
        refresh=context.refresh,
        base_dir=context.observatory.folder,
        progress=context.say,
        source=source_id,
    )


def _parse_and_harmonize(
    source: Any,
    payloads: Sequence[Any],
    rules: Sequence[HarmonizeRule],
    context: BuildContext,
    source_id: str,
) -> tuple[pa.Table | None, list[Finding], list[StepRecord], int]:
    import pyarrow as pa

    from welfare_observatory.harmonize import harmonize
    from welfare_observatory.stages import unify_breakdowns

    steps: list[StepRecord] = []
    parsed = []
    with context.timed("parse"):
        for payload in payloads:
            fetch_step = StepRecord.create(
                "fetch",
                [f"sha256:{payload.sha256}"],
                {"key": payload.key},
                versions=context.versions,
                source=source_id,
            )
            parse_step = StepRecord.create(
                "parse",
                [fetch_step.id],
                {"type": source.type, "options": source.options.model_dump(mode="json")},
                versions=context.versions,
                source=source_id,
            )
            steps += [fetch_step, parse_step]
            parsed.append((parse_step.id, source.parse(payload)))
    rows_in = sum(t.num_rows for _, t in parsed)
    if not parsed:
        return None, [], steps, 0
    with context.timed("harmonize"):
        inputs = [step for step, _ in parsed]
        table = pa.concat_tables([t for _, t in parsed], promote_options="permissive")
        findings: list[Finding] = []
        harmonized = []
        for rule in rules:
            result = harmonize(
                table,
                rule,
                codes=context.codes,
                indicators=context.indicators,
                source=source_id,
                inputs=inputs,
                versions=context.versions,
            )
            findings += result.findings
            if result.step is not None:
                steps.append(result.step)
            harmonized.append(result.table)
    with context.timed("validate"):
        combined = unify_breakdowns(harmonized)
        if not context.defer_checks:
            findings += _validate(combined, context, source_id)
    return combined, findings, steps, rows_in


def _validate(table: pa.Table, context: BuildContext, source_id: str) -> list[Finding]:
    from welfare_observatory.validate.checks import CheckContext, run_checks

    check_context = CheckContext(source=source_id, indicators=context.indicators)
    # Schema problems were reported by harmonize already; run the data checks here.
    skip = {"schema"}
    from welfare_observatory.validate.builtin import default_checks
    from welfare_observatory.validate.checks import Check

    plugin_checks = context.observatory.plugins.registrations("check")
    registry = default_checks(
        # The check collector accepted only callables with the Check signature.
        extra={r.id: cast(Check, r.value) for r in plugin_checks},
        owners={r.id: r.distribution or r.plugin for r in plugin_checks},
    )
    only = [check_id for check_id in registry if check_id not in skip]
    return run_checks(table, check_context, registry, only=only)


def distinct(table: pa.Table, column: str) -> tuple[str, ...]:
    import pyarrow as pa
    import pyarrow.compute as pc

    values = table.column(column)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return tuple(sorted(str(v) for v in pc.unique(values).to_pylist() if v is not None))


def declared_indicators(config: SourceConfig) -> list[str]:
    """Indicator ids a source's rules name (constant ids and mapping targets)."""
    raw = config.rules
    items = raw if isinstance(raw, list) else [raw] if raw else []
    ids: list[str] = []
    for item in items:
        indicator = item.get("indicator") if isinstance(item, dict) else None
        if isinstance(indicator, str):
            ids.append(indicator)
        elif isinstance(indicator, dict):
            if isinstance(indicator.get("value"), str):
                ids.append(indicator["value"])
            mapping = indicator.get("map") or indicator.get("mapping") or {}
            if isinstance(mapping, dict):
                ids += [str(v) for v in mapping.values()]
    return ids


def _load_step(
    steps_dir: Path, key: str
) -> tuple[pa.Table, list[Finding], list[StepRecord], int] | None:
    import json

    import pyarrow.parquet as pq

    data = steps_dir / f"{key}.parquet"
    meta = steps_dir / f"{key}.json"
    if not (data.exists() and meta.exists()):
        return None
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
        table = pq.read_table(data)
        findings = [Finding.model_validate(f) for f in record["findings"]]
        steps = [StepRecord.model_validate(s) for s in record["steps"]]
        return table, findings, steps, int(record["rows_in"])
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache entry is rebuilt, never trusted


def _save_step(
    steps_dir: Path,
    key: str,
    table: pa.Table | None,
    findings: list[Finding],
    steps: list[StepRecord],
    rows_in: int,
) -> None:
    import json
    import tempfile

    import pyarrow.parquet as pq

    from welfare_observatory.store.edition import atomic_write_bytes

    if table is None:
        return
    steps_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=steps_dir, suffix=".tmp", delete=False) as handle:
        tmp = Path(handle.name)
    pq.write_table(table, tmp)
    tmp.replace(steps_dir / f"{key}.parquet")
    record = {
        "findings": [f.model_dump(mode="json") for f in findings],
        "steps": [s.model_dump(mode="json") for s in steps],
        "rows_in": rows_in,
        "saved": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_bytes(steps_dir / f"{key}.json", json.dumps(record).encode("utf-8"))
