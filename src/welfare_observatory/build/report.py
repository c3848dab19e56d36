"""The build report: what each source delivered, what was found, what was skipped and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from welfare_observatory.model.common import Frozen
from welfare_observatory.model.finding import Finding, Severity

if TYPE_CHECKING:
    from welfare_observatory.model import Indicator

__all__ = ["BuildReport", "SkippedIndicator", "SourceReport", "why_skipped"]


class SourceReport(Frozen):
    id: str
    type: str
    status: str
    """``ok``, ``reused`` (unchanged since an earlier build), ``failed`` or ``skipped``."""
    rows_in: int = 0
    rows_out: int = 0
    indicators: tuple[str, ...] = ()
    errors: int = 0
    warnings: int = 0
    seconds: float = 0.0
    error: str | None = None
    reason: str | None = None


class SkippedIndicator(Frozen):
    """A selected indicator with no observation in the edition, and why."""

    id: str
    reason: str
    sources: tuple[str, ...] = ()
    """Sources of this observatory that would provide it (failed or skipped in this build)."""
    cause: str = "no-source"
    """``offline`` (its source was skipped by ``--offline``), ``only`` (not in ``--only``),
    ``disabled``, ``failed``, ``no-rows`` (the source ran but gave none), ``no-source``."""
    provider: str | None = None
    """Where the catalogue says the figures come from: publisher, dataset id, SDMX agency."""


class BuildReport(Frozen):
    """Human (``render``) and JSON (``model_dump_json``) summary of one build."""

    observatory: str
    edition: str
    build: str
    knowledge_base: str
    sources: tuple[SourceReport, ...] = ()
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds per stage."""
    findings: tuple[Finding, ...] = ()
    selected: int = 0
    built: tuple[str, ...] = ()
    """Selected indicators with at least one observation in the edition."""
    skipped: tuple[SkippedIndicator, ...] = ()
    observations: int = 0
    reused_steps: int = 0
    computed_steps: int = 0

    @property
    def ok(self) -> bool:
        """True when no source failed."""
        return all(s.status != "failed" for s in self.sources)

    def finding_counts(self) -> dict[str, int]:
        counts = Counter(f.severity.value for f in self.findings)
        return {s.value: counts.get(s.value, 0) for s in Severity}

    def summary(self) -> dict[str, Any]:
        return {
            "edition": self.edition,
            "build": self.build,
            "observations": self.observations,
            "indicators built": f"{len(self.built)} of {self.selected} selected",
            "findings": self.finding_counts(),
            "steps": f"{self.computed_steps} computed, {self.reused_steps} reused",
        }

    def render(self) -> None:
        """Print the report with rich (tables of sources, findings and skipped indicators).

        Text from sources and data is printed as it is, never read as rich markup.
        """
        from collections import Counter

        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(soft_wrap=False)
        sources = Table(title=f"{self.observatory}: edition {self.edition}", header_style="bold")
        for column in ("source", "type"):
            sources.add_column(column, overflow="fold")
        for column in ("status", "rows in", "rows out", "errors", "warnings"):
            sources.add_column(column)
        sources.add_column("seconds", justify="right")
        sources.add_column("note", overflow="fold")
        style = {"ok": "green", "reused": "cyan", "failed": "red", "skipped": "yellow"}
        for s in self.sources:
            sources.add_row(
                Text(s.id),
                Text(s.type),
                Text(s.status, style=style.get(s.status, "")),
                str(s.rows_in),
                str(s.rows_out),
                str(s.errors),
                str(s.warnings),
                f"{s.seconds:.2f}",
                Text(s.error or s.reason or ""),
            )
        console.print(sources)
        shown = 40
        if self.findings:
            table = Table(title="findings", header_style="bold")
            for column in ("severity", "code", "where", "message"):
                table.add_column(column, overflow="fold")
            ordered = sorted(self.findings, key=lambda f: (f.severity != Severity.ERROR, f.code))
            for f in ordered[:shown]:
                where = " ".join(
                    str(v) for v in (f.source, f.indicator, f.territory, f.period) if v
                )
                table.add_row(f.severity.value, f.code, Text(where), Text(f.message))
            console.print(table)
            if len(self.findings) > shown:
                console.print(f"... and {len(self.findings) - shown} more findings (see --json)")
        if self.skipped:
            listed = 25
            table = Table(title="selected indicators not built", header_style="bold")
            table.add_column("indicator", overflow="fold")
            table.add_column("why", overflow="fold")
            table.add_column("would come from", overflow="fold")
            for item in self.skipped[:listed]:
                where = ", ".join(item.sources) or item.provider or ""
                table.add_row(Text(item.id), Text(item.reason), Text(where))
            console.print(table)
            if len(self.skipped) > listed:
                causes = Counter(item.cause for item in self.skipped)
                by_cause = ", ".join(f"{n} {cause}" for cause, n in sorted(causes.items()))
                console.print(
                    f"... {len(self.skipped)} not built in all ({by_cause}); "
                    "every one with its reason in --json"
                )
        timing = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        for key, value in self.summary().items():
            console.print(Text.assemble((f"{key}: ", "bold"), str(value)))
        console.print(Text.assemble(("timings: ", "bold"), timing))
        console.print(Text.assemble(("knowledge base: ", "bold"), str(self.knowledge_base)))


_CAUSES = ("failed", "offline", "only", "disabled", "no-rows")


def why_skipped(
    selection: Sequence[Indicator],
    built: set[str],
    *,
    reports: Mapping[str, SourceReport],
    declared: Mapping[str, Iterable[str]],
    offline: bool,
    only: tuple[str, ...] | None,
) -> tuple[SkippedIndicator, ...]:
    """Why each selected indicator is not in the edition, and which source would provide it.

    A source provides an indicator when its rules name it (``declared``) or it delivered
    it; a formula indicator is provided through its operands. With no such source, the
    catalogue's provenance (publisher, dataset id, SDMX agency) says where to get it.
    """
    providers: dict[str, list[str]] = {}
    for source_id, ids in declared.items():
        for indicator_id in ids:
            providers.setdefault(indicator_id, []).append(source_id)
    for report in reports.values():
        for indicator_id in report.indicators:
            providers.setdefault(indicator_id, []).append(report.id)
    out = []
    for indicator in selection:
        if indicator.id in built:
            continue
        needs = ""
        named = list(dict.fromkeys(providers.get(indicator.id, [])))
        if indicator.formula is not None:
            operands = (indicator.formula.numerator, indicator.formula.denominator)
            missing = [o for o in operands if o not in built]
            needs = f"needs {' and '.join(missing or operands)}"
            if not named:
                named = list(dict.fromkeys(s for o in missing for s in providers.get(o, [])))
        provider = _provenance(indicator)
        if not named:
            reason = "no source of this observatory declares it"
            if offline:
                reason = "not fetched (--offline): " + reason
            if needs:
                reason += f" ({needs})"
            if provider:
                reason += f"; the catalogue names {provider}{_how(indicator)}"
            out.append(SkippedIndicator(id=indicator.id, reason=reason, provider=provider))
            continue
        notes = [_source_note(reports[s], only) for s in named if s in reports]
        causes = [cause for _, cause in notes]
        cause = next((c for c in _CAUSES if c in causes), "no-rows")
        reason = "; ".join(note for note, _ in notes)
        if needs:
            reason = f"{needs}: {reason}"
        out.append(
            SkippedIndicator(
                id=indicator.id,
                reason=reason,
                sources=tuple(named),
                cause=cause,
                provider=provider,
            )
        )
    return tuple(out)


def _source_note(report: SourceReport, only: tuple[str, ...] | None) -> tuple[str, str]:
    """One source's part of the reason, and its cause code."""
    if report.status == "failed":
        return f"source {report.id} failed: {report.error or 'see its findings'}", "failed"
    if report.status == "skipped":
        reason = report.reason or ""
        if reason.startswith("offline"):
            return f"source {report.id} skipped offline ({reason})", "offline"
        if "--only" in reason:
            chosen = ", ".join(only or ())
            return f"source {report.id} skipped: not in --only {chosen}".rstrip(), "only"
        return f"source {report.id} skipped: {reason}", "disabled"
    # Whether it ran now or was reused, the edition is the same: so is the reason.
    return f"source {report.id} ran but gave no rows for it", "no-rows"


def _provenance(indicator: Indicator) -> str | None:
    source = indicator.source
    text = source.publisher
    if source.dataset:
        text += f", dataset {source.dataset}"
    if source.agency:
        text += f" (SDMX agency {source.agency})"
    return text


def _how(indicator: Indicator) -> str:
    """How to add the source, where the shipped ``sdmx`` type can read it."""
    source = indicator.source
    if source.dataset and source.agency in ("IT1", "ESTAT"):
        return (
            f": add a source 'type: sdmx' with 'options: {{agency: {source.agency}, "
            f"dataflow: {source.dataset}}}' and rules"
        )
    if source.url:
        return f" ({source.url})"
    return ""
