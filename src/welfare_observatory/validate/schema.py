"""Check a table against the canonical observation schema; findings, never exceptions.

All checks are column-wise (pyarrow compute and group-by); findings are grouped per kind
and per column, with a count and the first offending row, never one finding per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from welfare_observatory._arrow import decoded
from welfare_observatory.errors import closest
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.observation import (
    BASE_COLUMNS,
    KEY_COLUMNS,
    MISSING_STATUSES,
    TOTAL,
    ConfStatus,
    ObsStatus,
    breakdown_columns,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from welfare_observatory.model.indicator import Indicator

__all__ = ["validate_observations"]

_REQUIRED = ("indicator", "territory", "period", "value", "unit", "obs_status")
_TEXT_COLUMNS = (
    "indicator",
    "territory",
    "period",
    "unit",
    "obs_status",
    "conf_status",
    "source",
    "lineage",
)


def _as_table(data: pa.Table | pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    return pa.Table.from_pandas(data, preserve_index=False)


_decoded = decoded  # welfare_observatory._arrow


def _first_index(mask: pa.ChunkedArray) -> int | None:
    import pyarrow.compute as pc

    indices = pc.indices_nonzero(mask.combine_chunks())
    return int(indices[0].as_py()) if len(indices) else None


def validate_observations(
    data: pa.Table | pd.DataFrame,
    *,
    indicators: Mapping[str, Indicator] | Iterable[Indicator] | None = None,
    source: str | None = None,
) -> list[Finding]:
    """Findings for ``data`` as a canonical observation table.

    With ``indicators`` (id -> Indicator, or any iterable of indicators such as a
    :class:`~welfare_observatory.catalog.Catalog`), unknown indicator ids and breakdown
    columns an indicator does not declare are reported too. An empty list means the table
    is valid. Duplicate keys are reported together with code errors, so one run shows both.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _as_table(data)
    findings: list[Finding] = []

    def add(code: str, severity: Severity, message: str, **extra: Any) -> None:
        findings.append(
            Finding(code=code, severity=severity, message=message, source=source, **extra)
        )

    missing = [name for name in _REQUIRED if name not in table.column_names]
    for name in missing:
        add(
            "missing-column",
            Severity.ERROR,
            f"column {name!r} is missing",
            column=name,
            hint="a canonical table has the columns " + ", ".join(BASE_COLUMNS),
        )
    if missing:
        return findings

    breakdowns = breakdown_columns(table.column_names)

    for name in (*_TEXT_COLUMNS, *breakdowns):
        if name not in table.column_names:
            continue
        column = table.column(name)
        value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            add(
                "wrong-type",
                Severity.ERROR,
                f"column {name!r} must hold text codes, found {value_type}",
                column=name,
                hint="read codes as strings so that leading zeros survive ('096004')",
            )
            continue
        if name in (*KEY_COLUMNS, *breakdowns) and column.null_count:
            add(
                "null-key",
                Severity.ERROR,
                f"column {name!r} has {column.null_count} empty keys",
                column=name,
                row=_first_index(pc.is_null(column)),
                count=column.null_count,
                hint=f"use {TOTAL!r} for the total of a breakdown",
            )

    value = table.column("value")
    if not (pa.types.is_floating(value.type) or pa.types.is_integer(value.type)):
        add(
            "wrong-type",
            Severity.ERROR,
            f"column 'value' must be numeric (float64), found {value.type}",
            column="value",
            hint="map markers such as '-' or '....' to a value and a status before this stage",
        )
        return findings
    if "period_start" in table.column_names and not (
        pa.types.is_date(table.column("period_start").type)
        or pa.types.is_timestamp(table.column("period_start").type)
    ):
        add(
            "wrong-type",
            Severity.ERROR,
            f"column 'period_start' must be a date, found {table.column('period_start').type}",
            column="period_start",
        )

    keys = [*KEY_COLUMNS, *breakdowns]
    by_id = _by_id(indicators)
    findings += _check_codes(table, "obs_status", {s.value for s in ObsStatus}, source)
    if "conf_status" in table.column_names:
        findings += _check_codes(table, "conf_status", {s.value for s in ConfStatus}, source)
    if any(f.severity is Severity.ERROR for f in findings):
        # The status checks below need valid codes; duplicates and indicators do not.
        findings += _check_duplicates(table, keys, source)
        if by_id is not None:
            findings += _check_indicators(table, breakdowns, by_id, source)
        return findings

    status = _decoded(table.column("obs_status"))
    missing_status = pc.is_in(status, pa.array(sorted(s.value for s in MISSING_STATUSES)))
    has_value = pc.is_valid(value)
    value_with_missing = pc.and_(has_value, missing_status)
    if (n := pc.sum(value_with_missing).as_py() or 0) > 0:
        add(
            "value-with-missing-status",
            Severity.ERROR,
            f"{n} rows carry a value but a 'missing' status (O, M or L)",
            column="value",
            row=_first_index(value_with_missing),
            count=n,
        )
    silent_missing = pc.and_(pc.invert(has_value), pc.invert(missing_status))
    if (n := pc.sum(silent_missing).as_py() or 0) > 0:
        add(
            "silent-missing",
            Severity.ERROR,
            f"{n} rows have no value but a status that says there is one",
            column="value",
            row=_first_index(silent_missing),
            count=n,
            hint="give a missing value the status O (missing), M (cannot exist) or L",
        )
    if pa.types.is_floating(value.type):
        not_finite = pc.and_(has_value, pc.invert(pc.is_finite(value)))
        if (n := pc.sum(not_finite).as_py() or 0) > 0:
            add(
                "not-finite",
                Severity.ERROR,
                f"{n} values are infinite or NaN",
                column="value",
                row=_first_index(not_finite),
                count=n,
                hint="a division by zero upstream? store a missing value with status O instead",
            )

    findings += _check_duplicates(table, keys, source)
    if by_id is not None:
        findings += _check_indicators(table, breakdowns, by_id, source)
    return findings


def _by_id(
    indicators: Mapping[str, Indicator] | Iterable[Indicator] | None,
) -> Mapping[str, Indicator] | None:
    if indicators is None or isinstance(indicators, Mapping):
        return indicators
    return {indicator.id: indicator for indicator in indicators}


def _check_codes(
    table: pa.Table, name: str, allowed: set[str], source: str | None
) -> list[Finding]:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _decoded(table.column(name))
    bad = pc.invert(pc.fill_null(pc.is_in(column, pa.array(sorted(allowed))), False))
    n = pc.sum(bad).as_py() or 0
    if not n:
        return []
    found = sorted(str(v) for v in pc.unique(column.filter(bad)).to_pylist())
    suggestions = closest(found[0], allowed) if found else []
    return [
        Finding(
            code="unknown-code",
            severity=Severity.ERROR,
            message=f"{n} rows have {name} codes outside the SDMX code list: "
            + ", ".join(repr(v) for v in found[:10]),
            column=name,
            row=_first_index(bad),
            count=n,
            source=source,
            hint=("closest valid code: " + ", ".join(suggestions))
            if suggestions
            else "valid codes: " + ", ".join(sorted(allowed)),
        )
    ]


def _check_duplicates(table: pa.Table, keys: list[str], source: str | None) -> list[Finding]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if _keys_unique(table, keys):
        return []
    subset = table.select(keys)
    subset = subset.cast(pa.schema([(f.name, _plain_type(f.type)) for f in subset.schema]))
    counts = subset.group_by(keys).aggregate([([], "count_all")])
    dupes = counts.filter(pc.greater(counts.column("count_all"), 1))
    if dupes.num_rows == 0:
        return []
    # The smallest duplicated key, not the grouping's first (threads return groups in any
    # order): two builds name the same example.
    first = dupes.sort_by([(k, "ascending") for k in keys]).slice(0, 1).to_pylist()[0]
    n_rows = int(pc.sum(dupes.column("count_all")).as_py())
    return [
        Finding(
            code="duplicate-key",
            severity=Severity.ERROR,
            message=f"{dupes.num_rows} keys occur more than once ({n_rows} rows); first: "
            + ", ".join(f"{k}={first[k]}" for k in keys),
            indicator=str(first["indicator"]),
            territory=str(first["territory"]),
            period=str(first["period"]),
            count=dupes.num_rows,
            source=source,
            hint="each (indicator, territory, period, breakdowns) must appear once",
        )
    ]


def _keys_unique(table: pa.Table, keys: list[str]) -> bool:
    """True when no two rows of ``table`` share their ``keys`` (text columns, plain or
    dictionary), told from integer codes: each column's distinct texts numbered, the
    numbers of a row packed into one int64, the packed keys sorted. False when they do not
    differ, and when this cannot tell (a missing key, a column not text, dictionaries that
    cannot be unified, more distinct keys than 63 bits hold): the grouping then decides,
    and names the duplicates. About a tenth of grouping the decoded texts, which every
    source's check paid. When the keys that could be are few (a source's: its territories
    by periods by breakdowns), each marks its slot in a table of them instead of being
    sorted."""
    import numpy as np
    import pyarrow as pa

    from welfare_observatory._arrow import ranked

    if table.num_rows < 2:
        return True
    packed = np.zeros(table.num_rows, dtype=np.int64)
    room = 1
    for name in keys:
        column = table.column(name)
        text = _plain_type(column.type)
        if column.null_count or not (pa.types.is_string(text) or pa.types.is_large_string(text)):
            return False
        try:
            codes, values = ranked(column)
        except pa.ArrowException:  # chunks' dictionaries Arrow cannot unify (one holds NULL)
            return False
        if codes.null_count:  # a dictionary's own NULL
            return False
        width = max(len(values), 1)
        if room * width >= 2**62:
            return False
        packed += np.asarray(codes.to_numpy(), dtype=np.int64) * room
        room *= width
    if room <= 4 * table.num_rows + 65_536:
        slots = np.zeros(room, dtype=np.bool_)
        slots[packed] = True
        return bool(int(np.count_nonzero(slots)) == table.num_rows)
    packed.sort()
    return not bool((packed[1:] == packed[:-1]).any())


def _plain_type(data_type: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    return data_type.value_type if pa.types.is_dictionary(data_type) else data_type


def _check_indicators(
    table: pa.Table,
    breakdowns: list[str],
    indicators: Mapping[str, Indicator],
    source: str | None,
) -> list[Finding]:
    import pyarrow as pa
    import pyarrow.compute as pc

    findings: list[Finding] = []
    ids = _decoded(table.column("indicator"))
    present = [str(v) for v in pc.unique(ids).to_pylist() if v is not None]
    for indicator_id in sorted(set(present) - set(indicators)):
        suggestions = closest(indicator_id, indicators)
        findings.append(
            Finding(
                code="unknown-indicator",
                severity=Severity.ERROR,
                message=f"indicator {indicator_id!r} is not in the catalogue",
                indicator=indicator_id,
                source=source,
                hint=("did you mean " + ", ".join(suggestions) + "?") if suggestions else None,
            )
        )
    for name in breakdowns:
        column = _decoded(table.column(name))
        not_total = pc.fill_null(pc.not_equal(column, pa.scalar(TOTAL)), True)
        used_by = pc.unique(ids.filter(not_total)).to_pylist()
        for indicator_id in sorted(str(v) for v in used_by if v in indicators):
            if name not in indicators[indicator_id].breakdowns:
                declared = ", ".join(indicators[indicator_id].breakdowns) or "none"
                findings.append(
                    Finding(
                        code="undeclared-breakdown",
                        severity=Severity.ERROR,
                        message=f"indicator {indicator_id!r} is broken down by {name!r}, "
                        f"which it does not declare (declared: {declared})",
                        indicator=indicator_id,
                        column=name,
                        source=source,
                        hint=f"set {name!r} to {TOTAL!r} for this indicator or declare the "
                        "breakdown in the catalogue",
                    )
                )
    return findings
