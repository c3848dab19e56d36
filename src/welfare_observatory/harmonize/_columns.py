"""One function per canonical column: source columns in, Arrow arrays and problems out.

Each returns the canonical array plus a list of :class:`Problem` (rows that cannot be
harmonized, grouped by kind). Work is per distinct source value, joined back by index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.errors import UnitError, closest
from welfare_observatory.harmonize._arrow import as_text, map_distinct, take_results
from welfare_observatory.harmonize.codelists import translate
from welfare_observatory.harmonize.codes import CodeTable, Resolution
from welfare_observatory.harmonize.periods import PeriodError, parse_period
from welfare_observatory.harmonize.rules import (
    BreakdownRule,
    HarmonizeRule,
    IndicatorRule,
    Marker,
    PeriodRule,
    TerritoryRule,
    UnitRule,
)
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.units import conversion_factor

__all__ = ["Problem"]

_SAMPLE = 5


@dataclass
class Problem:
    """Rows that fail one rule for one reason; ``bad`` is a boolean mask over rows."""

    code: str
    column: str
    bad: pa.ChunkedArray | pa.Array
    values: list[str] = field(default_factory=list)
    hint: str | None = None
    severity: str = "error"


SHARED_ROWS = 1 << 20
"""Rows up to which :func:`constant` reads its indices off one zero-filled buffer that
every table shares (4 MiB, made once for the process); a longer array has its own."""


@cache
def _zero_buffer() -> pa.Buffer:
    # One size for every caller: the indices of SHARED_ROWS rows or a text column's offsets
    # (one more). Never replaced, so a slice taken on one thread cannot outgrow a buffer
    # another thread swapped in; the pages stay the kernel's zero page until written.
    return pa.py_buffer(np.zeros(4 * (SHARED_ROWS + 1), dtype=np.uint8))


def zeros(nbytes: int) -> pa.Buffer:
    """``nbytes`` zero bytes: a slice of the one zero-filled buffer tables share (Arrow
    buffers are immutable: no array can change what another reads), or a buffer of its
    own beyond that buffer's size."""
    shared = _zero_buffer()
    if nbytes > shared.size:
        return pa.py_buffer(np.zeros(nbytes, dtype=np.uint8))
    return shared.slice(0, nbytes)


def constant(n: int, value: str | pa.Array) -> pa.DictionaryArray:
    """A dictionary array of ``n`` copies of ``value`` (or of a one-entry dictionary)."""
    dictionary = value if isinstance(value, pa.Array) else pa.array([value])
    if n > SHARED_ROWS:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), dictionary)
    indices = pa.Array.from_buffers(pa.int32(), n, [None, zeros(4 * n)], null_count=0)
    return pa.DictionaryArray.from_arrays(indices, dictionary, safe=False)


def _bad_mask(
    results: list[object | None], indices: pa.Array, distinct: list[str | None]
) -> pa.Array:
    flags = [r is None and d is not None for r, d in zip(results, distinct, strict=True)]
    return pa.array(flags, pa.bool_()).take(indices)


def indicator(table: pa.Table, rule: IndicatorRule) -> tuple[pa.Array, list[Problem]]:
    if rule.value is not None:
        return constant(table.num_rows, rule.value), []
    assert rule.column is not None
    mapping = rule.map
    results, indices, distinct = map_distinct(
        table.column(rule.column), (lambda v: mapping.get(v.strip())) if mapping else str.strip
    )
    problems: list[Problem] = []
    unmapped = [d for r, d in zip(results, distinct, strict=True) if r is None and d is not None]
    if unmapped or None in distinct[:-1]:
        bad = pc.or_(_bad_mask(results, indices, distinct), pc.equal(indices, len(distinct) - 1))
        problems.append(
            Problem(
                "unmapped-indicator",
                rule.column,
                bad,
                sorted(unmapped)[:_SAMPLE],
                hint="add the codes to indicator.map, or set drop_unmapped: true",
                severity="info" if rule.drop_unmapped else "error",
            )
        )
    return take_results(results, indices, pa.string()), problems


def territory(
    table: pa.Table, rule: TerritoryRule, codes: CodeTable
) -> tuple[pa.Array, list[Problem]]:
    if rule.value is not None:
        found = codes.resolve(rule.value, scheme=rule.scheme, level=rule.level)
        if found.code is None:
            mask = pa.array([True] * table.num_rows)
            return pa.nulls(table.num_rows, pa.string()), [
                Problem(f"{found.problem}-territory", "territory", mask, [rule.value])
            ]
        return constant(table.num_rows, found.code), []
    assert rule.column is not None
    mapping: dict[tuple[str, str | None], str] = {}
    for entry in rule.mapping:
        scope = codes.province(entry.province) if entry.province else None
        mapping[(codes.normalize(entry.source), scope)] = entry.code
    fixed_province = codes.province(rule.province) if rule.province else None
    column = as_text(table.column(rule.column))
    separator = "\x1f"
    if rule.province_column is not None:
        province = pc.fill_null(as_text(table.column(rule.province_column)).cast(pa.string()), "")
        column = pc.binary_join_element_wise(column.cast(pa.string()), province, separator)
    provinces: dict[str, str | None] = {}

    def resolve(value: str) -> Resolution:
        text, _, prov_text = value.partition(separator)
        prov = fixed_province
        if prov_text:
            if prov_text not in provinces:
                provinces[prov_text] = codes.province(prov_text)
            prov = provinces[prov_text]
        return codes.resolve(
            text, scheme=rule.scheme, level=rule.level, province=prov, mapping=mapping
        )

    results, indices, distinct = map_distinct(column, resolve)
    problems: list[Problem] = []
    for kind in ("unknown", "ambiguous"):
        failed = [
            (d, r)
            for d, r in zip(distinct, results, strict=True)
            if r is not None and r.problem == kind
        ]
        if not failed:
            continue
        flags = [r is not None and r.problem == kind for r in results]
        bad = pa.array(flags, pa.bool_()).take(indices)
        shown = [
            str(d).replace(separator, " / province ")
            for d, _ in sorted(failed, key=lambda x: str(x[0]))
        ]
        first = sorted(failed, key=lambda x: str(x[0]))[0][1]
        if kind == "unknown":
            other = _better_scheme(codes, rule, [str(d).partition(separator)[0] for d, _ in failed])
            if other is not None:
                hint = (
                    f"these look like {_SCHEME_NAMES[other]}: set territory.scheme: {other} "
                    f"(or auto)"
                )
            else:
                hint = (
                    f"closest known: {', '.join(first.candidates)}; " if first.candidates else ""
                ) + "add an entry to territory.mapping for names the registry does not know"
        else:
            hint = (
                f"{shown[0]!r} could be {', '.join(first.candidates)}: give territory.province, "
                "territory.province_column or a mapping entry scoped to a province"
            )
        problems.append(Problem(f"{kind}-territory", rule.column, bad, shown[:_SAMPLE], hint))
    codes_out = [r.code if r is not None else None for r in results]
    padded = [
        d is not None
        and code is not None
        and str(d).isdigit()
        and len(code) > len(str(d))
        and code == str(d).zfill(len(code))
        for d, code in zip(distinct, codes_out, strict=True)
    ]
    if any(padded):
        shown = sorted(str(d) for d, p in zip(distinct, padded, strict=True) if p)
        problems.append(
            Problem(
                "restored-leading-zeros",
                rule.column,
                pa.array(padded, pa.bool_()).take(indices),
                shown[:_SAMPLE],
                "the Istat code of this level has a fixed width, so the zeros a spreadsheet "
                "dropped were put back (096004 for 96004); read the column as text to keep them",
                severity="info",
            )
        )
    return take_results(codes_out, indices, pa.string()), problems


_SCHEME_NAMES = {
    "istat": "Istat codes",
    "nuts": "NUTS codes",
    "belfiore": "Belfiore (cadastral) codes",
    "name": "territory names",
}


def _better_scheme(codes: CodeTable, rule: TerritoryRule, failed: list[str]) -> str | None:
    """The scheme that resolves most of a sample of the values the rule's scheme did not,
    when it resolves at least half of them (a wrong ``scheme`` more than unknown places)."""
    if rule.scheme == "auto":
        return None
    sample = sorted(failed)[:20]
    best, best_count = None, 0
    for scheme in ("istat", "nuts", "belfiore", "name"):
        if scheme == rule.scheme:
            continue
        count = sum(
            codes.resolve(v, scheme=scheme, level=rule.level).code is not None for v in sample
        )
        if count > best_count:
            best, best_count = scheme, count
    return best if best_count * 2 >= len(sample) else None


def period(table: pa.Table, rule: PeriodRule) -> tuple[pa.Array, pa.Array, list[Problem]]:
    if rule.value is not None:
        try:
            text, start = parse_period(rule.value, rule.format, rule.reference_date)
        except PeriodError as exc:
            mask = pa.array([True] * table.num_rows)
            return (
                pa.nulls(table.num_rows, pa.string()),
                pa.nulls(table.num_rows, pa.date32()),
                [Problem("invalid-period", "period", mask, [rule.value], str(exc))],
            )
        return constant(table.num_rows, text), pa.array([start] * table.num_rows, pa.date32()), []
    assert rule.column is not None
    errors: dict[str, str] = {}

    def parse(value: str) -> tuple[str, date] | None:
        try:
            return parse_period(value, rule.format, rule.reference_date)
        except PeriodError as exc:
            errors[value] = str(exc)
            return None

    results, indices, distinct = map_distinct(table.column(rule.column), parse)
    texts = take_results([r[0] if r else None for r in results], indices, pa.string())
    starts = take_results([r[1] if r else None for r in results], indices, pa.date32())
    problems: list[Problem] = []
    if errors or None in distinct[:-1]:
        bad = pc.is_null(starts)
        first = sorted(errors)[0] if errors else ""
        problems.append(
            Problem(
                "invalid-period",
                rule.column,
                bad,
                sorted(errors)[:_SAMPLE],
                f"{first!r}: {errors[first]}" if errors else "empty periods",
            )
        )
    return texts, starts, problems


def breakdown(
    table: pa.Table,
    name: str,
    rule: BreakdownRule,
    codelists: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[pa.Array, list[Problem]]:
    codelist = rule.codes or (name if name in ("sex", "age", "citizenship") else None)
    extra = codelists.get(codelist) if codelists and codelist else None
    if rule.value is not None:
        code = translate(rule.value, codelist, rule.map, extra) or rule.value
        return constant(table.num_rows, code), []
    assert rule.column is not None
    source_column = table.column(rule.column)
    if any(not key.strip() for key in rule.map):
        # ``map: {"": _T}``: an empty cell is a code (Open SDG's "empty = total"), so a null
        # cell must reach the map as "" instead of being skipped as null.
        source_column = pc.fill_null(as_text(source_column).cast(pa.string()), "")
    results, indices, distinct = map_distinct(
        source_column, lambda v: translate(v, codelist, rule.map, extra)
    )
    problems: list[Problem] = []
    unknown = sorted(
        str(d) for r, d in zip(results, distinct, strict=True) if r is None and d is not None
    )
    if unknown or None in distinct[:-1]:
        known = sorted({str(r) for r in results if r is not None})
        suggestions = closest(unknown[0], known) if unknown else []
        problems.append(
            Problem(
                "unknown-breakdown-code",
                rule.column,
                pc.or_(_bad_mask(results, indices, distinct), pc.equal(indices, len(distinct) - 1)),
                unknown[:_SAMPLE],
                f"add them to breakdowns.{name}.map"
                + (f" (codes in use: {', '.join(suggestions or known[:5])})" if known else ""),
            )
        )
    return take_results(results, indices, pa.string()), problems


def ceased(
    territory_codes: pa.Array | pa.ChunkedArray,
    period_start: pa.Array | pa.ChunkedArray,
    codes: CodeTable,
    column: str,
) -> list[Problem]:
    """Rows dated after their territory code ceased (a municipality merged away, a
    province abolished): kept for reconciliation, but reported, since a code that looks
    right may be a leftover of an older list."""
    text = as_text(territory_codes)
    combined = text.combine_chunks() if text.num_chunks != 1 else text.chunk(0)
    if not pa.types.is_dictionary(combined.type):
        combined = pc.dictionary_encode(combined)
    ends = [codes.valid_to.get(c) for c in combined.dictionary.to_pylist()]
    if all(end is None or end.year == 9999 for end in ends):
        return []
    valid_to = pa.array(ends, pa.date32()).take(combined.indices)
    late = pc.fill_null(pc.greater(period_start, valid_to), False)
    if not pc.any(late).as_py():
        return []
    shown = sorted({str(c) for c in pc.filter(text, late).to_pylist()})[:_SAMPLE]
    return [
        Problem(
            "ceased-territory",
            column,
            late,
            shown,
            "the code ceased before the period of these rows: the source may use an old "
            "code list; reconciliation maps them to the successors",
            severity="warning",
        )
    ]


def non_finite(value: pa.Array | pa.ChunkedArray, column: str) -> list[Problem]:
    """Rows whose value is infinite or NaN (a numeric text that overflows a float, a
    ``NaN`` cell): refused, never stored as if it were a number."""
    # ``all`` skips nulls: one pass says "every value is finite" (the usual) before the
    # mask is built.
    if value.null_count == len(value) or pc.all(pc.is_finite(value)).as_py():
        return []
    bad = pc.and_(pc.is_valid(value), pc.invert(pc.is_finite(value)))
    sample = sorted({str(v) for v in pc.filter(value, bad).to_pylist()})[:_SAMPLE]
    return [
        Problem(
            "non-finite-value",
            column,
            bad,
            sample,
            "a cell overflows a float or says NaN/inf: correct the source, or declare the "
            "sign as a marker (a missing value with its status)",
        )
    ]


def empty_keys(
    table: pa.Table,
    rule: HarmonizeRule,
    keys: Mapping[str, pa.Array | pa.ChunkedArray],
    problems: list[Problem],
) -> list[Problem]:
    """Rows whose key (indicator, territory, period, breakdown) came out null with no
    other problem explaining it: the source cell was empty."""
    columns = {
        "indicator": rule.indicator.column,
        "territory": rule.territory.column,
        "period": rule.period.column,
        **{name: b.column for name, b in rule.breakdowns.items()},
    }
    explained: pa.Array | pa.ChunkedArray | None = None
    for problem in problems:
        if problem.severity != "error" and problem.code != "unmapped-indicator":
            continue  # rows kept (information): they still need their keys
        mask = pc.fill_null(problem.bad, False)
        explained = mask if explained is None else pc.or_(explained, mask)
    found: list[Problem] = []
    for name, array in keys.items():
        if array.null_count == 0:
            continue  # no null key: nothing to report (and no pass over the rows)
        empty = pc.is_null(array)
        if explained is not None:
            empty = pc.and_(empty, pc.invert(explained))
        if not pc.any(empty).as_py():
            continue
        column = columns.get(name) or name
        hint = "fill the cell, or filter the rows out (filters: [{column: ..., not_in: [...]}])"
        if name in rule.breakdowns:
            hint = f'map the empty cell to a code: breakdowns.{name}.map: {{"": _T}}'
        found.append(Problem("empty-key", column, empty, [], hint))
        explained = empty if explained is None else pc.or_(explained, empty)
    return found


def marked(table: pa.Table, column: str, markers: Mapping[str, Marker]) -> pa.Array | None:
    """Per row, the marker the value cell holds (its text, trimmed), else null."""
    data = table.column(column)
    if not markers or not (pa.types.is_string(data.type) or pa.types.is_dictionary(data.type)):
        return None
    text = pc.utf8_trim_whitespace(as_text(data).cast(pa.string()))
    hit = pc.is_in(text, value_set=pa.array(sorted(markers), pa.string()))
    return pc.if_else(pc.fill_null(hit, False), text, pa.scalar(None, pa.string()))


def values(
    table: pa.Table,
    column: str,
    decimal: str,
    trailing_flags: bool = False,
    marker: pa.Array | None = None,
) -> tuple[pa.Array, list[Problem], pa.Array | None]:
    """``(value, problems, cell flags)``; cell flags only with ``trailing_flags``; rows
    with a ``marker`` (see :func:`marked`) have no value and are not invalid."""
    data = table.column(column)
    if pa.types.is_dictionary(data.type):
        data = data.cast(data.type.value_type)
    if pa.types.is_float64(data.type):
        return data, [], None  # a reader's numbers as they are (a cast would copy them)
    if pa.types.is_floating(data.type) or pa.types.is_integer(data.type):
        return pc.cast(data, pa.float64()), [], None
    if pa.types.is_null(data.type):
        return pa.nulls(len(data), pa.float64()), [], None
    text = pc.utf8_trim_whitespace(pc.cast(data, pa.string()))
    if marker is not None:
        text = pc.if_else(pc.is_valid(marker), pa.scalar(None, pa.string()), text)
    cell_flags = None
    if trailing_flags:
        # Eurostat cells: "175341 b" is 175341 flagged b; ":" alone is "not available".
        parts = pc.extract_regex(text, r"^(?P<v>[^\s]*)\s*(?P<f>[a-zA-Z]*)$")
        cell_flags = pc.struct_field(parts, "f")
        cell_flags = pc.if_else(pc.equal(cell_flags, ""), pa.scalar(None, pa.string()), cell_flags)
        text = pc.struct_field(parts, "v")
        text = pc.if_else(pc.equal(text, ":"), pa.scalar(None, pa.string()), text)
    written = text
    italian = None
    if decimal == ",":
        # Dots are thousands separators only in groups of three (1.234,5): "1.5" or
        # "1.2.3" would lose their dots and become 15 or 123 without a word.
        from welfare_observatory.sources.tabular_options import number_pattern

        italian = pc.match_substring_regex(text, "^" + number_pattern(",", ".") + "$")
        text = pc.replace_substring(pc.replace_substring(text, ".", ""), ",", ".")
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    number = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"
    ok = pc.fill_null(pc.match_substring_regex(text, number), True)
    if italian is not None:
        ok = pc.and_(ok, pc.or_(pc.fill_null(italian, True), pc.is_null(text)))
    bad = pc.invert(ok)
    clean = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    problems: list[Problem] = []
    if pc.any(bad).as_py():
        sample = pc.unique(written.filter(bad)).to_pylist()[:_SAMPLE]
        problems.append(
            Problem(
                "invalid-value",
                column,
                bad,
                [str(s) for s in sample],
                "map markers such as '-' or '....' to a status with value.markers "
                "(e.g. markers: {'-': M, '....': O})",
            )
        )
    return pc.cast(clean, pa.float64()), problems, cell_flags


UNIT_MULT_RANGE = range(-15, 16)
"""The powers of ten a multiplier column (SDMX ``UNIT_MULT``) may give: SDMX's code list
runs from 0 (units) to 12 (millions of millions); a few publishers use negatives. Beyond
this a value would overflow or become 0: the cell is refused, never applied."""


def _unit_mult(text: str) -> int:
    """The power of ten of a ``UNIT_MULT`` cell; ValueError when it is not a whole number
    in :data:`UNIT_MULT_RANGE`."""
    number = float(text or "0")
    if not number.is_integer() or int(number) not in UNIT_MULT_RANGE:
        raise ValueError(
            f"unit multiplier {text!r} is not a power of ten from "
            f"{UNIT_MULT_RANGE.start} to {UNIT_MULT_RANGE.stop - 1}"
        )
    return int(number)


def units(
    table: pa.Table,
    rule: UnitRule | None,
    indicator_ids: pa.Array,
    indicators: Mapping[str, Indicator] | None,
    *,
    registry: Any = None,
) -> tuple[pa.Array, pa.Array, list[Problem]]:
    """``(factor, canonical unit)`` per row: value_canonical = value_source * factor."""
    key = _unit_key(table, rule, indicator_ids)
    errors: dict[str, str] = {}

    def factor(value: str) -> tuple[float, str] | None:
        fields = value.split("\x1f")
        ind = fields[0]
        declared = indicators[ind].unit if indicators is not None and ind in indicators else None
        if rule is None:
            return (1.0, declared) if declared else None
        source_unit = rule.unit if rule.unit is not None else rule.map.get(fields[1], fields[1])
        target = rule.to or declared or source_unit
        exponent = fields[-1] if rule.multiplier_column is not None else "0"
        try:
            scale = 10.0 ** _unit_mult(exponent)
            return conversion_factor(source_unit, target, registry) * scale, target
        except (UnitError, ValueError) as exc:
            errors[value.replace("\x1f", " / ")] = getattr(exc, "message", str(exc))
            return None

    results, indices, _ = map_distinct(key, factor)
    factors = take_results([r[0] if r else None for r in results], indices, pa.float64())
    unit_text = take_results([r[1] if r else None for r in results], indices, pa.string())
    problems: list[Problem] = []
    # Rows without an indicator are already reported (unmapped-indicator).
    missing = pc.and_(pc.is_null(factors), pc.is_valid(indicator_ids))
    if pc.any(missing).as_py():
        first = sorted(errors)[0] if errors else None
        problems.append(
            Problem(
                "unit-mismatch" if errors else "missing-unit",
                rule.column or "unit" if rule is not None else "unit",
                missing,
                sorted(errors)[:_SAMPLE],
                f"{first}: {errors[first]}"
                if first
                else "give the rule a 'unit' section or pass the catalogue indicators",
            )
        )
    return factors, unit_text, problems


def _unit_key(table: pa.Table, rule: UnitRule | None, indicator_ids: pa.Array) -> pa.ChunkedArray:
    """Per row, what its unit depends on: the indicator, the unit and multiplier cells."""
    parts: list[pa.Array | pa.ChunkedArray] = [as_text(indicator_ids)]
    if rule is not None and rule.column is not None:
        parts.append(pc.fill_null(as_text(table.column(rule.column)), ""))
    if rule is not None and rule.multiplier_column is not None:
        parts.append(pc.fill_null(as_text(table.column(rule.multiplier_column)), "0"))
    if len(parts) == 1:
        # The factor depends on the indicator only: map its (dictionary) values directly.
        return as_text(indicator_ids)
    return pa.chunked_array(
        [pc.binary_join_element_wise(*[p.cast(pa.string()) for p in parts], "\x1f")]
    )


def percent_sign(
    table: pa.Table,
    rule: UnitRule | None,
    indicator_ids: pa.Array,
    indicators: Mapping[str, Indicator] | None,
    percent: pa.Array | pa.ChunkedArray,
    column: str,
    *,
    registry: Any = None,
) -> tuple[pa.Array, list[Problem]]:
    """Rows whose cell had a trailing percent sign (``percent``) but whose value is not in
    percent: the sign is unambiguous only for an indicator in percent (the rule's source
    unit, else the catalogue's), so anywhere else the value is not read. Returns that mask
    (null-free) and a warning naming the cells."""
    key = _unit_key(table, rule, indicator_ids)

    def in_percent(value: str) -> bool:
        fields = value.split("\x1f")
        ind = fields[0]
        declared = indicators[ind].unit if indicators is not None and ind in indicators else None
        if rule is None:
            unit = declared
        else:
            unit = rule.unit if rule.unit is not None else rule.map.get(fields[1], fields[1])
        if not unit:
            return False
        try:
            return conversion_factor(unit, "percent", registry) == 1.0
        except (UnitError, ValueError):
            return False

    results, indices, _ = map_distinct(key, in_percent)
    unit_ok = pc.fill_null(take_results(results, indices, pa.bool_()), False)
    bad = pc.and_(pc.fill_null(percent, False), pc.invert(unit_ok))
    if not pc.any(bad).as_py():
        return bad, []
    return bad, [
        Problem(
            "percent-sign",
            column,
            bad,
            [],
            "a value written with % is read only for an indicator in percent; give the "
            "rule the source's unit (unit: {unit: percent}) if the cells are percentages "
            "of what the catalogue measures in another unit",
            severity="warning",
        )
    ]
