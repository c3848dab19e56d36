"""The validate stage of a build: the data checks once over every source's rows.

Each source's harmonized table is checked together with the others
(:func:`welfare_observatory.validate.batch.run_checks_by_source`), with the build
environment's checks (built-in and plugins'), territories, hierarchy and reliability
settings. Findings of an unchanged source are reused: they are kept in
``<kb>/.steps/checks.json`` by a key made of the source's step ids (content digests of its
payloads, options, rules and versions), the definitions of its indicators and the checks
that ran, so a rebuild after one file changed checks only that file's rows. A source whose
checks find an error is marked failed and its table dropped.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory.lineage import digest
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.validate.batch import run_checks_by_source
from welfare_observatory.validate.checks import CheckContext

if TYPE_CHECKING:
    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.build.sources import BuildContext, SourceOutput
    from welfare_observatory.model import Indicator

__all__ = ["FindingsCache", "check_sources"]

_CACHE = "checks.json"


class FindingsCache:
    """``<kb>/.steps/checks.json``, read once and written once for a build that checks its
    sources in several calls (the out-of-core layout checks each source before it leaves
    memory): :meth:`save` writes the findings of every call, not only of the last one."""

    def __init__(self, context: BuildContext) -> None:
        self.file = context.steps_dir / _CACHE
        self.cached, self._read = ({}, {}) if context.refresh else _load(self.file)
        self.results: dict[str, list[Finding]] = {}

    def save(self) -> None:
        # A source's findings taken from the file are written back as they were read,
        # not dumped again (a rebuild takes all but one source's).
        read = {k: self._read[k] for k, v in self.results.items() if v is self.cached.get(k)}
        _save(self.file, self.results, read)


def check_sources(
    outputs: Sequence[SourceOutput],
    context: BuildContext,
    *,
    cache: FindingsCache | None = None,
) -> list[SourceOutput]:
    """``outputs`` with the findings of the build's checks, and a source whose checks found
    an error marked failed (its table dropped), as the per-source validate did.

    With ``cache`` the findings join it and its owner saves it once; without, the findings
    cache holds those of ``outputs`` and is saved here."""
    env = context.env
    registry = env.checks
    # Schema problems were reported by harmonize already; the data checks run here.
    only = [check_id for check_id in registry if check_id != "schema"]
    # A reused source's rows are read only when its findings are not cached.
    checked = [o for o in outputs if o.num_rows]
    common = {
        "checks": [(c, registry.owner(c)) for c in only],
        "versions": dict(sorted(context.versions.items())),
        "territory": env.config.territory.model_dump(mode="json"),
        "min_events": env.config.reliability.min_events,
    }
    keys = _keys(checked, env, common)
    findings = cache if cache is not None else FindingsCache(context)
    cached = findings.cached
    results: dict[str, list[Finding]] = {}
    todo: dict[str, pa.Table] = {}
    for output in checked:
        source = output.report.id
        if keys[source] in cached:
            results[source] = cached[keys[source]]
        else:
            table = output.table
            assert table is not None
            todo[source] = table
    if todo:
        ctx = CheckContext(
            indicators=env.indicators,
            territories=env.known_territories,
            hierarchy=env.hierarchy,
            min_events=env.config.reliability.min_events,
        )
        results.update(run_checks_by_source(todo, registry, ctx, only=only))
    findings.results.update({keys[s]: results[s] for s in keys})
    if cache is None:
        findings.save()
    return [_with_findings(o, results.get(o.report.id, [])) for o in outputs]


def _keys(
    outputs: Sequence[SourceOutput], env: BuildEnvironment, common: Mapping[str, Any]
) -> dict[str, str]:
    """:func:`_key` of each output, by source id: the same digests, their canonical JSON
    assembled from parts made once per build (the common part, each indicator's
    definition as ``env.fingerprint`` has it), not serialised again for every source."""
    import hashlib

    from welfare_observatory.lineage import canonical_json

    indicators = env.indicators
    if sorted(common) != ["checks", "min_events", "territory", "versions"]:
        return {o.report.id: _key(o, indicators, common) for o in outputs}
    # Sorted keys: checks, indicators, min_events, source, steps, territory, versions.
    head = '{"checks":' + canonical_json(common["checks"]) + ',"indicators":['
    middle = ',"min_events":' + canonical_json(common["min_events"]) + ',"source":'
    tail = (
        ',"territory":'
        + canonical_json(common["territory"])
        + ',"versions":'
        + canonical_json(common["versions"])
        + "}"
    )
    keys = {}
    for output in outputs:
        used = sorted(output.report.indicators)
        listed = ",".join(env._indicator_json(i) for i in used if i in indicators)
        text = (
            head
            + listed
            + "]"
            + middle
            + canonical_json(output.report.id)
            + ',"steps":'
            + canonical_json([s.id for s in output.steps])
            + tail
        )
        keys[output.report.id] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return keys


def _key(output: SourceOutput, indicators: Mapping[str, Indicator], common: Any) -> str:
    """The findings cache's key of a source's checks (what :func:`_keys` assembles)."""
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
        output, report=report, findings=findings, data=None if errors else output.data
    )


def _load(path: Path) -> tuple[dict[str, list[Finding]], dict[str, Any]]:
    """The findings in the cache file by key, and each key's JSON as read."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return {k: [Finding.model_validate(f) for f in v] for k, v in record.items()}, record
    except (OSError, ValueError, TypeError, AttributeError):
        return {}, {}  # a damaged cache is rebuilt, never trusted


def _save(
    path: Path, results: Mapping[str, list[Finding]], read: Mapping[str, Any] | None = None
) -> None:
    """Write ``results``; ``read``: the JSON of keys whose findings are those read from the
    file (they validated into them, so they dump back to it)."""
    from welfare_observatory._atomic import atomic_write_bytes

    read = read or {}
    record = {
        k: read[k] if k in read else [f.model_dump(mode="json") for f in v]
        for k, v in sorted(results.items())
    }
    # Not fsynced: a cache, read back whole or not at all (a file a crash left short or
    # zeroed is no JSON and is rebuilt; the rename keeps the old file or the new).
    atomic_write_bytes(path, json.dumps(record).encode("utf-8"), sync=False)
