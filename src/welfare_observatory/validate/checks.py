"""The check protocol, the context checks read, and the registry plugins add checks to.

A check is any callable ``(table, context) -> list[Finding]`` over a canonical observation
table. Checks never raise for bad data: they return grouped findings (``error`` stops the
source, ``warning`` and ``info`` are reported). Plugins contribute checks through the
``register_checks(register)`` hook, where ``register`` is :meth:`CheckRegistry.register`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from welfare_observatory.errors import PluginError
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.indicator import Indicator

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "Check",
    "CheckContext",
    "CheckRegistry",
    "RegisterCheck",
    "accept_check",
    "run_checks",
]


@dataclass(frozen=True)
class CheckContext:
    """What checks may know beyond the table; every field is optional.

    ``territories``: known codes (unknown-code check); ``expected_territories`` and
    ``expected_periods``: what a complete table covers; ``hierarchy``: one row per
    municipality with a column per level (sum consistency); tolerances as fractions.
    """

    source: str | None = None
    indicators: Mapping[str, Indicator] | None = None
    territories: Collection[str] | None = None
    expected_territories: Sequence[str] | None = None
    expected_periods: Sequence[str] | None = None
    hierarchy: pa.Table | None = None
    sum_tolerance: float = 0.005
    """Relative difference allowed between a reported total and the sum of its parts."""
    outlier_z: float = 3.5
    """Robust z-score (median and MAD) above which a value is an outlier among territories."""
    max_yearly_change: float = 0.5
    """Relative year-on-year change above which a jump is reported (0.5 = +-50%)."""
    min_events: float = 20.0
    """Counts below this in either year are too small for a jump to mean anything (a
    Poisson count of 20 has a relative standard error of 22 %; see docs/methods.md)."""
    options: Mapping[str, object] = field(default_factory=dict)
    """Free options for plugin checks, namespaced by check id."""


class Check(Protocol):
    """``(table, context) -> findings``; must not raise for bad data."""

    def __call__(self, table: pa.Table, context: CheckContext, /) -> list[Finding]: ...


RegisterCheck = Callable[[str, Check], None]
"""The callback a ``register_checks`` hook implementation receives."""

_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*(\.[a-z][a-z0-9]*(-[a-z0-9]+)*)?$")


def accept_check(check_id: Any, check: Any) -> tuple[str, object]:
    """Validate what a ``register_checks`` implementation passed: ``(id, check)``.

    The collector the plugin manager uses for the hook; raises ValueError with the reason.
    """
    if not isinstance(check_id, str) or not _ID.match(check_id):
        raise ValueError(
            f"check id {check_id!r} must be kebab-case, prefixed by the plugin: 'myplugin.totals'"
        )
    if not callable(check):
        raise ValueError(f"check {check_id!r} is not callable: (table, context) -> findings")
    return check_id, check


class CheckRegistry:
    """Checks by id, in registration order. Build one per run; tests build their own."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._owners: dict[str, str] = {}

    def register(self, check_id: str, check: Check, *, owner: str = "welfare-observatory") -> None:
        """Add ``check`` under a kebab-case id (plugins: ``myplugin.my-check``)."""
        try:
            accept_check(check_id, check)
        except ValueError as exc:
            raise PluginError(str(exc), hint="see docs/harmonization.md, checks") from exc
        if check_id in self._checks:
            raise PluginError(
                f"check {check_id!r} is registered twice (by {self._owners[check_id]} and {owner})",
                hint="prefix plugin checks with the plugin name",
            )
        self._checks[check_id] = check
        self._owners[check_id] = owner

    def __iter__(self) -> Iterator[str]:
        return iter(self._checks)

    def __len__(self) -> int:
        return len(self._checks)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def owner(self, check_id: str) -> str:
        return self._owners[check_id]

    def run(
        self,
        table: pa.Table,
        context: CheckContext | None = None,
        *,
        only: Collection[str] | None = None,
    ) -> list[Finding]:
        """Findings of every check (or of ``only``), errors first."""
        return run_checks(table, context, self, only=only)

    def items(self) -> list[tuple[str, Check]]:
        return list(self._checks.items())


def run_checks(
    table: pa.Table,
    context: CheckContext | None = None,
    registry: CheckRegistry | None = None,
    *,
    only: Collection[str] | None = None,
) -> list[Finding]:
    """Run the checks of ``registry`` (the built-ins when None) over ``table``.

    A check that crashes is itself reported as an error finding (``check-failed``) so one
    faulty plugin does not hide the other checks' findings.
    """
    from welfare_observatory.validate.builtin import default_checks

    ctx = context or CheckContext()
    reg = registry if registry is not None else default_checks()
    findings: list[Finding] = []
    for check_id, check in reg.items():
        if only is not None and check_id not in only:
            continue
        try:
            findings += check(table, ctx)
        except Exception as exc:  # a plugin's bug must not hide the other checks
            findings.append(
                Finding(
                    code="check-failed",
                    severity=Severity.ERROR,
                    message=f"check {check_id!r} failed: {type(exc).__name__}: {exc}",
                    source=ctx.source,
                    hint=f"report it to the maintainers of {reg.owner(check_id)}",
                )
            )
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(findings, key=lambda f: order[f.severity])
