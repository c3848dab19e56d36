"""Derive findings kept per indicator, so that any set of indicators' findings can be
summed again exactly.

A finding that summarises many rows (``4800 aggregates cover less than 100%...``, with the
worst one as example) is the sum of its indicators' own counts and the least of their
examples. Each producer in :mod:`welfare_observatory.derive` records its findings as
*parts*, one per indicator, and :func:`combine` makes the findings from them: the whole
build's parts give the whole build's findings, and a rebuild that derives only the
indicator groups whose sources changed combines their fresh parts with the kept parts of
the others into the very findings a full derive gives.

``slot`` orders the findings as derive makes them (a tuple: the stage, then the place
within it); parts of one slot are one finding (``sum``: counts summed, the least example;
``least``: counts summed, the least territory, indicator and period each; ``tally``:
counts summed and a second count, ``order[0]``, summed too), one finding each in
indicator order (``item``, optionally ``cap``-ped as the producer caps its list; ``items``:
an indicator's list of them in one part, each finding made only when it is listed) or one
finding whatever the indicators (``once``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from welfare_observatory.model.finding import Finding, Severity

__all__ = [
    "COUNT",
    "LISTED",
    "MEMBERS",
    "TALLY",
    "FindingPart",
    "combine",
    "firsts",
    "indicator_runs",
    "nested",
    "null_last",
    "parts_from_lines",
    "parts_to_lines",
    "sum_parts",
]

COUNT = "\x00count\x00"
"""Where a ``sum`` or ``least`` part's message template takes the summed count."""

MEMBERS = "\x00members\x00"
"""Where a ``sum`` part's message template takes the number of distinct ``members``."""

TALLY = "\x00tally\x00"
"""Where a ``tally`` part's message template takes its second count, summed."""

LISTED = "\x00listed\x00"
"""Where a ``tally`` part's message template says, when that second count is above the
part's ``cap``, that only the first ``cap`` are listed (nothing otherwise)."""


@dataclass(frozen=True)
class FindingPart:
    """One indicator's share of a derive finding (see the module docstring)."""

    slot: tuple[int, ...]
    kind: Literal["sum", "least", "tally", "item", "items", "once"]
    finding: Finding
    """The indicator's own finding (its count; for ``sum``, its least example; for
    ``items``, the first of its list)."""
    indicator: str | None = None
    order: tuple[Any, ...] = ()
    """``sum``: the example's sort key (least wins); ``item``: place within the indicator;
    ``tally``: the second count, alone."""
    template: str = ""
    """``sum``: the message with :data:`COUNT` where the count goes."""
    cap: int | None = None
    """``item``, ``items``: at most this many findings of the slot are listed."""
    members: tuple[str, ...] = ()
    """``sum``: what the finding counts distinct of (territories), for :data:`MEMBERS`."""
    # A factory, not a default: a class attribute would hide a part read back from
    # ``__getattr__``, which decodes its list when first asked for.
    listed: tuple[tuple[tuple[Any, ...], dict[str, Any]], ...] = field(default_factory=tuple)
    """``items``: the indicator's list, in order: each finding's place within the indicator
    and its fields (a :class:`Finding` is made of those :func:`combine` lists, only)."""
    saved: str | None = field(default=None, init=False, compare=False, repr=False)
    r"""The line :func:`parts_from_lines` read it from: saved again as it is (a part made
    anew, ``replace``\ d included, has none)."""

    if not TYPE_CHECKING:  # typed code sees ``finding`` as the field it is

        def __getattr__(self, name: str) -> Any:
            # Reached only for an attribute the instance lacks: the finding of a part read
            # back, decoded from its line when first asked for (a rebuild combines
            # thousands of kept parts and lists at most ``cap`` of their findings).
            saved = self.__dict__.get("saved")
            if name not in ("finding", "listed") or saved is None:
                raise AttributeError(name)
            text = saved.partition(_TAB)[2]
            if self.__dict__["kind"] != "items":
                finding = Finding.model_validate_json(text)
                object.__setattr__(self, "finding", finding)
                object.__setattr__(self, "listed", ())
                return getattr(self, name)
            import json

            entries = json.loads(text)
            if not (
                isinstance(entries, list)
                and entries
                and all(
                    isinstance(e, list)
                    and len(e) == 2
                    and isinstance(e[0], list)
                    and isinstance(e[1], dict)
                    for e in entries
                )
            ):
                raise ValueError("a saved finding part of the wrong shape")
            listed = tuple((_tupled(place), fields) for place, fields in entries)
            object.__setattr__(self, "listed", listed)
            object.__setattr__(self, "finding", Finding.model_validate(listed[0][1]))
            return getattr(self, name)


def null_last(value: Any) -> tuple[int, Any]:
    """A sort key part ordering missing values last (as Arrow's sorts do)."""
    return (1, 0) if value is None else (0, value)


def null_last_all(values: Iterable[Any]) -> list[tuple[int, Any]]:
    """:func:`null_last` of each of ``values`` (a column's: one loop, no call per value)."""
    return [(1, 0) if value is None else (0, value) for value in values]


def items_part(
    slot: tuple[int, ...],
    indicator: str,
    places: Sequence[tuple[Any, ...]],
    listed: Sequence[dict[str, Any]],
    *,
    cap: int,
) -> FindingPart:
    """One indicator's list of findings as one ``items`` part: ``listed`` (at least one)
    are their fields (what :class:`Finding` takes, ``severity`` by value), ``places``
    their sort keys within the indicator, in order. :func:`combine` lists them as it
    lists as many ``item`` parts, making a :class:`Finding` only of those it lists."""
    if not listed or len(places) != len(listed):
        raise ValueError("an items part needs a place for each of at least one finding")
    first = Finding.model_validate(listed[0])
    entries = tuple(zip(places, listed, strict=True))
    return FindingPart(slot, "items", first, indicator, cap=cap, listed=entries)


def nested(parts: Iterable[FindingPart], prefix: int) -> list[FindingPart]:
    """``parts`` placed under the stage ``prefix`` of their caller: what ``replace`` of the
    slot gives (a part anew, without the line it was read from), made without calling
    the dataclass's ``__init__`` per part (7 us each: a derive where every indicator has
    two sources lists up to 1,000 conflicts of each)."""
    out: list[FindingPart] = []
    for part in parts:
        fields = dict(part.__dict__)
        if "finding" not in fields:  # read back, its finding not decoded yet
            fields["finding"] = part.finding
            fields["listed"] = part.listed
        fields["slot"] = (prefix, *part.slot)
        fields["saved"] = None
        moved = object.__new__(FindingPart)
        moved.__dict__.update(fields)
        out.append(moved)
    return out


def combine(parts: Sequence[FindingPart]) -> list[Finding]:
    """The findings ``parts`` stand for, in derive's order."""
    slots: dict[tuple[int, ...], list[FindingPart]] = {}
    for part in parts:
        slots.setdefault(part.slot, []).append(part)
    out: list[Finding] = []
    for slot in sorted(slots):
        group = slots[slot]
        kind = group[0].kind
        if kind == "once":
            out.append(group[0].finding)
        elif kind == "sum":
            total = sum(p.finding.count for p in group)
            least = min(group, key=lambda p: p.order)
            members = len({m for p in group for m in p.members})
            message = least.template.replace(COUNT, str(total)).replace(MEMBERS, str(members))
            out.append(least.finding.model_copy(update={"count": total, "message": message}))
        elif kind == "least":
            total = sum(p.finding.count for p in group)
            update: dict[str, Any] = {
                "count": total,
                "message": group[0].template.replace(COUNT, str(total)),
            }
            for name in ("territory", "indicator", "period"):
                values = [getattr(p.finding, name) for p in group]
                update[name] = min((v for v in values if v is not None), default=None)
            out.append(group[0].finding.model_copy(update=update))
        elif kind == "tally":
            total = sum(p.finding.count for p in group)
            second = sum(int(p.order[0]) for p in group)
            cap = group[0].cap
            listed = f" (the first {cap} are listed)" if cap is not None and second > cap else ""
            message = (
                group[0]
                .template.replace(COUNT, str(total))
                .replace(TALLY, str(second))
                .replace(LISTED, listed)
            )
            out.append(group[0].finding.model_copy(update={"count": total, "message": message}))
        else:
            out += _listed(group)
    return out


def _listed(group: Sequence[FindingPart]) -> list[Finding]:
    """The findings of one slot's ``item`` and ``items`` parts: each in order of its
    indicator, then its place, the first ``cap`` of them."""
    cap = group[0].cap
    # An items part holds an indicator's places in order: its entries are taken as they
    # come, and all of them sorted only where one indicator has several parts.
    by_indicator: dict[str, list[FindingPart]] = {}
    for part in group:
        by_indicator.setdefault(part.indicator or "", []).append(part)
    out: list[Finding] = []
    for indicator in sorted(by_indicator):
        parts = by_indicator[indicator]
        entries: Sequence[tuple[Any, Finding | dict[str, Any]]]
        if len(parts) == 1 and parts[0].kind == "items":
            entries = parts[0].listed
        else:
            entries = sorted(
                (
                    entry
                    for p in parts
                    for entry in (p.listed if p.kind == "items" else [(p.order, p.finding)])
                ),
                key=lambda entry: entry[0],
            )
        for _, made in entries:
            if cap is not None and len(out) >= cap:
                return out
            out.append(made if isinstance(made, Finding) else Finding.model_validate(made))
    return out


_TAB = "\t"
"""Between a line's head and its finding: JSON text holds no raw tab (it is escaped)."""

_KINDS = ("sum", "least", "tally", "item", "items", "once")


def _line(part: FindingPart) -> str:
    """``part`` as one line: its head (slot, kind, indicator, order, template, cap,
    members) as a JSON array, a tab, its finding as a JSON object (an ``items`` part's
    list as a JSON array of [place, fields] pairs)."""
    # Tuples are JSON arrays as lists are: the head's text is the one of its lists.
    head = (
        part.slot,
        part.kind,
        part.indicator,
        part.order,
        part.template,
        part.cap,
        part.members,
    )
    if part.kind == "items":
        return _head_encoder()(head) + _TAB + _head_encoder()(part.listed)
    return _head_encoder()(head) + _TAB + part.finding.model_dump_json()


@functools.cache
def _head_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, the encoder made
    once: ``dumps`` makes it again for every call, half the cost of a short head. For a
    part's head and an ``items`` part's list."""
    import json
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the plain call
        return functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
    scan = make(
        None,  # no check for cycles: numbers, texts, and arrays and objects of them
        json.JSONEncoder().default,
        encoder.encode_basestring,
        None,
        ":",
        ",",
        False,
        False,
        True,
    )
    return lambda value: "".join(scan(value, 0))


def parts_to_lines(parts: Iterable[FindingPart]) -> bytes:
    """``parts`` one a line (:func:`_line`): a part read by :func:`parts_from_lines` as the
    line it was (a rebuild keeps most parts: serialising thousands of them again cost a 4x
    rebuild 70 ms)."""
    lines = [p.saved if p.saved is not None else _line(p) for p in parts]
    return "\n".join(lines).encode("utf-8")


def parts_from_lines(data: bytes) -> list[FindingPart]:
    """The parts :func:`parts_to_lines` saved, each keeping its line. A head of the wrong
    shape is a ValueError here; a finding is decoded when first used (a ValueError then,
    if it is no finding)."""
    lines = data.decode("utf-8").split("\n") if data else []
    decode = _head_decoder()
    out: list[FindingPart] = []
    for line in lines:
        head, tab, finding = line.partition(_TAB)
        # A line each (never one parse of them joined): each part keeps the very line it is.
        # The decoder's own scan (half json.loads' cost a line: 4,880 lines a 4x rebuild)
        # must take the whole head, as json.loads would (heads are written without spaces).
        value: Any = None
        end = -1
        if tab and head.startswith("["):
            value, end = decode(head)
        if not (end == len(head) and len(value) == 7 and finding[:1] in ("{", "[")):
            raise ValueError("a parts file of a head and a finding a line was expected")
        slot, kind, indicator, order, template, cap, members = value
        shaped = (
            isinstance(slot, list)
            and all(type(s) is int for s in slot)
            and kind in _KINDS
            and (indicator is None or isinstance(indicator, str))
            and isinstance(order, list)
            and isinstance(template, str)
            and (cap is None or (isinstance(cap, int) and not isinstance(cap, bool)))
            and isinstance(members, list)
            and all(isinstance(m, str) for m in members)
            # An items part's findings are a list (one place each), any other's one object.
            and (finding[0] == "[") == (kind == "items")
            and (kind != "items" or order == [])
        )
        if not shaped:
            raise ValueError("a saved finding part of the wrong shape")
        # Made without its finding, which ``__getattr__`` decodes from ``saved`` when asked.
        part = object.__new__(FindingPart)
        part.__dict__.update(
            slot=tuple(slot),
            kind=kind,
            indicator=indicator,
            order=_tupled(order),
            template=template,
            cap=cap,
            members=tuple(members),
            saved=line,
        )
        out.append(part)
    return out


@functools.cache
def _head_decoder() -> Callable[[str], tuple[Any, int]]:
    """``raw_decode`` of one JSON decoder: a head's value and where it ends (a JSON
    error, a ValueError, when the text does not begin with a JSON value)."""
    import json

    return json.JSONDecoder().raw_decode


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(v) if isinstance(v, list) else v for v in value)
    return value


def firsts(table: Any, within: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
    """Per indicator of the plain Arrow ``table``, in indicator order: its number of rows
    and its first row by ``within`` (ascending, missing values last, as Arrow sorts)."""
    import pyarrow as pa

    if not table.num_rows:
        return []
    ordered = table.sort_by([("indicator", "ascending"), *((c, "ascending") for c in within)])
    bounds = indicator_runs(ordered)
    starts = bounds[:-1]
    rows = ordered.take(pa.array(starts, pa.int64())).to_pylist()
    return [(b - a, row) for a, b, row in zip(starts, bounds[1:], rows, strict=True)]


def indicator_runs(table: Any) -> list[int]:
    """Where each indicator's run of rows starts in the Arrow ``table`` (sorted by indicator
    first), then its number of rows: run ``i`` is ``bounds[i]:bounds[i + 1]``. A dictionary
    column's runs are told by its codes (the chunks' dictionaries unified), its rows never
    decoded; a text held in two slots of the dictionary is one run."""
    import numpy as np
    import pyarrow as pa

    if not table.num_rows:
        return [0]
    column = table.column("indicator")
    if not pa.types.is_dictionary(column.type):
        values = column.to_numpy(zero_copy_only=False)
        return [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist(), len(values)]
    codes = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    indices = np.asarray(codes.indices)
    starts = [0, *(np.flatnonzero(indices[1:] != indices[:-1]) + 1).tolist()]
    names = codes.dictionary.take(pa.array(indices[starts])).to_pylist()
    bounds = [a for i, a in enumerate(starts) if i == 0 or names[i] != names[i - 1]]
    return [*bounds, len(indices)]


def sum_parts(
    flagged: Any,
    slot: tuple[int, ...],
    *,
    code: str,
    severity: Severity,
    template: str | Callable[[dict[str, Any]], str],
    hint: str,
    rank: Sequence[str] = (),
    members: Callable[[str], tuple[str, ...]] | None = None,
) -> list[FindingPart]:
    """One ``sum`` part per indicator of the plain Arrow table ``flagged`` (columns
    ``indicator``, ``territory``, ``period`` and ``rank``): its count of rows and, as its
    example, its first row by ``rank``, then territory and period.

    ``template`` (or ``template(example)``) is the message with :data:`COUNT` (and
    :data:`MEMBERS`, the number of an indicator's ``members(indicator)``)."""
    parts = []
    for count, first in firsts(flagged, [*rank, "territory", "period"]):
        text = template(first) if callable(template) else template
        indicator = str(first["indicator"])
        kept = members(indicator) if members is not None else ()
        finding = Finding(
            code=code,
            severity=severity,
            message=text.replace(COUNT, str(count)).replace(MEMBERS, str(len(kept))),
            indicator=indicator,
            territory=str(first["territory"]),
            period=str(first["period"]),
            count=count,
            hint=hint,
        )
        order = tuple(null_last(first[k]) for k in (*rank, "indicator", "territory", "period"))
        parts.append(FindingPart(slot, "sum", finding, indicator, order, text, members=kept))
    return parts
