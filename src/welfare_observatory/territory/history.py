"""Succession events between municipality codes and the look-ups that follow them."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from enum import StrEnum
from typing import Any

import pyarrow as pa

from welfare_observatory.model.common import Frozen

__all__ = ["EventKind", "History", "TerritoryEvent"]


class EventKind(StrEnum):
    CODE_CHANGE = "code_change"
    """Same comune (same Belfiore code), new Istat code in the same province."""
    PROVINCE_CHANGE = "province_change"
    """Same comune moved to another province, hence a new Istat code."""
    MERGER = "merger"
    """The old comune ceased and became part of a comune created that day (fusione)."""
    INCORPORATION = "incorporation"
    """The old comune ceased and became part of an existing comune (incorporazione)."""
    SPLIT_OFF = "split_off"
    """A new comune was carved out of ``old``, which goes on; no apportioning key exists."""
    UNRESOLVED = "unresolved"
    """The comune ceased; its successor could not be inferred (``new`` is a candidate or null)."""


# Kinds that carry a ceased code to its successor.
_FORWARD = frozenset(
    {EventKind.CODE_CHANGE, EventKind.PROVINCE_CHANGE, EventKind.MERGER, EventKind.INCORPORATION}
)


class TerritoryEvent(Frozen):
    """``old`` became (part of) ``new`` on ``date`` (the first day of the new state).

    ``evidence`` says how the event was inferred from the ANPR archive: ``belfiore``,
    ``name``, ``sole_candidate``, ``elimination``, ``re_establishment``, ``history``,
    ``candidate``, ``none``; ``declared`` marks a post-2000 merger attributed from Istat's
    published lists and checked against the archive; ``list_difference`` marks changes seen
    only as differences between the ANPR snapshot and the newer Istat list (``date_bound``:
    the date is the latest possible one, not the legal one).
    """

    old: str | None
    new: str | None
    date: date
    kind: EventKind
    evidence: str


class History:
    """Events indexed by old and new code; built once from the events table."""

    def __init__(self, events: pa.Table, intervals: pa.Table) -> None:
        columns = {
            name: (
                column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
            ).to_pylist()
            for name, column in zip(events.column_names, events.columns, strict=True)
        }
        # Equal values (codes, dates, evidence) one object each, and one field set for all
        # events (each sets the same fields; the model is frozen): a third less memory, here
        # and in the start-up cache's pickle, which keeps both shared.
        shared: dict[object, object] = {}

        def one(value: object) -> Any:
            return value if value is None else shared.setdefault(value, value)

        self.events = [
            TerritoryEvent(old=one(o), new=one(n), date=one(d), kind=EventKind(k), evidence=one(e))
            for o, n, d, k, e in zip(
                columns["old"],
                columns["new"],
                columns["date"],
                columns["kind"],
                columns["evidence"],
                strict=True,
            )
        ]
        if self.events:
            fields_set = self.events[0].model_fields_set
            for event in self.events:
                object.__setattr__(event, "__pydantic_fields_set__", fields_set)
        self._from: dict[str, list[TerritoryEvent]] = defaultdict(list)
        self._to: dict[str, list[TerritoryEvent]] = defaultdict(list)
        for event in self.events:
            if event.old:
                self._from[event.old].append(event)
            if event.new:
                self._to[event.new].append(event)
        spans = {
            name: (
                column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
            ).to_pylist()
            for name, column in zip(
                ["code", "valid_from", "valid_to"],
                intervals.select(["code", "valid_from", "valid_to"]).columns,
                strict=True,
            )
        }
        self._spans: dict[str, list[tuple[date, date]]] = defaultdict(list)
        for code, start, end in zip(
            spans["code"], spans["valid_from"], spans["valid_to"], strict=True
        ):
            self._spans[code].append((one(start), one(end)))

    def valid(self, code: str, at: date) -> bool:
        """Whether the municipality code was in force on ``at``."""
        return any(start <= at <= end for start, end in self._spans.get(code, ()))

    def involving(self, code: str) -> list[TerritoryEvent]:
        """Every event where ``code`` is the old or the new code, oldest first."""
        found = {id(e): e for e in (*self._from.get(code, ()), *self._to.get(code, ()))}
        return sorted(found.values(), key=lambda e: (e.date, e.old or "", e.new or ""))

    def successors(self, code: str, at: date) -> list[str]:
        """Codes in force on ``at`` that cover what ``code`` last stood for before ``at``.

        A code in force on ``at`` maps to itself. Otherwise the latest forward event of the
        code on or before ``at`` is followed, transitively. Empty when the successor was not
        inferred (see :meth:`involving` for the candidates).
        """
        out: list[str] = []
        seen: set[str] = set()
        stack = [(code, date.min)]
        while stack:
            current, since = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            if self.valid(current, at):
                out.append(current)
                continue
            # the latest cessation decides; an unresolved one ends the trail (an earlier
            # merger of the same code, later undone, must not answer for it)
            ceased = [
                e
                for e in self._from.get(current, ())
                if (e.kind in _FORWARD or e.kind == EventKind.UNRESOLVED) and since <= e.date <= at
            ]
            if not ceased:
                continue
            last = max(e.date for e in ceased)
            stack.extend(
                (e.new, last)
                for e in ceased
                if e.date == last and e.kind in _FORWARD and e.new is not None
            )
        return sorted(set(out))

    def predecessors(self, code: str, at: date | None = None) -> list[str]:
        """Codes that became (part of) ``code``, transitively, up to ``at`` (default: all)."""
        out: set[str] = set()
        stack = [code]
        while stack:
            current = stack.pop()
            for event in self._to.get(current, ()):
                if event.kind not in _FORWARD and event.kind != EventKind.SPLIT_OFF:
                    continue
                if at is not None and event.date > at:
                    continue
                if event.old and event.old not in out and event.old != code:
                    out.add(event.old)
                    if event.kind != EventKind.SPLIT_OFF:
                        stack.append(event.old)
        return sorted(out)
