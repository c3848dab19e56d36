"""The build report: what each source delivered, what was found, what was skipped and why."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import Field

from welfare_observatory.model.common import Frozen
from welfare_observatory.model.finding import Finding, Severity

__all__ = ["BuildReport", "SkippedIndicator", "SourceReport"]


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
    id: str
    reason: str
    sources: tuple[str, ...] = ()
    """Sources that would provide it (failed or skipped in this build)."""


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
        """Print the report with rich (tables of sources, findings and skipped indicators)."""
        from rich.console import Console
        from rich.table import Table

        console = Console(soft_wrap=False)
        sources = Table(title=f"{self.observatory}: edition {self.edition}", header_style="bold")
        for column in ("source", "type", "status", "rows in", "rows out", "errors", "warnings"):
            sources.add_column(column)
        sources.add_column("seconds", justify="right")
        sources.add_column("note", overflow="fold")
        style = {"ok": "green", "reused": "cyan", "failed": "red", "skipped": "yellow"}
        for s in self.sources:
            sources.add_row(
                s.id,
                s.type,
                f"[{style.get(s.status, '')}]{s.status}[/]",
                str(s.rows_in),
                str(s.rows_out),
                str(s.errors),
                str(s.warnings),
                f"{s.seconds:.2f}",
                s.error or s.reason or "",
            )
        console.print(sources)
        if self.findings:
            table = Table(title="findings", header_style="bold")
            for column in ("severity", "code", "where", "message"):
                table.add_column(column, overflow="fold")
            for f in sorted(self.findings, key=lambda f: (f.severity != Severity.ERROR, f.code))[
                :40
            ]:
                where = " ".join(
                    str(v) for v in (f.source, f.indicator, f.territory, f.period) if v
                )
                table.add_row(f.severity.value, f.code, where, f.message)
            console.print(table)
            if len(self.findings) > 40:
                console.print(f"... and {len(self.findings) - 40} more findings (see --json)")
        if self.skipped:
            table = Table(title="selected indicators not built", header_style="bold")
            table.add_column("indicator")
            table.add_column("reason", overflow="fold")
            for item in self.skipped[:60]:
                table.add_row(item.id, item.reason)
            console.print(table)
            if len(self.skipped) > 60:
                console.print(f"... and {len(self.skipped) - 60} more (see --json)")
        timing = ", ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        for key, value in self.summary().items():
            console.print(f"[bold]{key}:[/] {value}")
        console.print(f"[bold]timings:[/] {timing}")
        console.print(f"[bold]knowledge base:[/] {self.knowledge_base}")
