"""The range, outlier and sum-consistency checks' grouped statistics in numpy, on the integer
codes the checks hand DuckDB (:mod:`welfare_observatory.validate.builtin`).

They give the rows the checks' DuckDB queries give, value for value: medians as DuckDB
takes them (the middle value, or half the sum of the two middle values), ``arg_min`` and
``arg_max`` over ``(value, code, ...)`` with NULL above every value and rows whose result is
NULL left out, NULLs last in the order of the rows. A build of 160 sources spent about
0.35 s of CPU in those queries; here it is a few sorts of the rows the statistics read.

Only finite values no larger than :data:`FAST_LIMIT` in magnitude take this path: NaN,
infinities and sums that could overflow compare and round as DuckDB's own rules say, and
the checks leave them to DuckDB. Sums are taken here only where every order of adding
gives the same double (whole numbers whose magnitudes add up to less than 2**53): DuckDB
adds in an order of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

__all__ = [
    "FAST_LIMIT",
    "InexactError",
    "doubles",
    "fast_values",
    "outlier_rows",
    "range_rows",
    "sum_rows",
]

FAST_LIMIT = 1e300
"""Values of at most this magnitude cannot overflow a difference, a sum or a median."""

_NULL = 2**62
"""The sort key of a NULL code: after every code, as DuckDB orders NULLs last and puts a
NULL field of a struct above every value."""


def fast_values(value: pa.ChunkedArray | pa.Array) -> bool:
    """Whether every non-NULL value is finite and at most :data:`FAST_LIMIT` in magnitude."""
    import pyarrow.compute as pc

    if len(value) == value.null_count:
        return True
    if pc.all(pc.is_finite(value)).as_py() not in (True, None):
        return False
    bounds = pc.min_max(value)
    return bool(
        abs(bounds["min"].as_py() or 0.0) <= FAST_LIMIT
        and abs(bounds["max"].as_py() or 0.0) <= FAST_LIMIT
    )


class InexactError(ArithmeticError):
    """What this module cannot give as DuckDB would: a median of subnormal numbers (below
    2.2e-308 in magnitude, which DuckDB rounds its own way) or a threshold DuckDB does not
    read as a number. The check then runs its DuckDB query."""


@lru_cache(maxsize=64)
def duckdb_doubles(literals: tuple[str, ...]) -> tuple[float, ...]:
    """Numbers written into a query's text as DuckDB reads them there (a ``3.5`` is a
    DECIMAL that a comparison with a DOUBLE casts), so the thresholds are the same."""
    import duckdb

    from welfare_observatory.validate.builtin import _sql

    sql = "SELECT " + ", ".join(f"CAST({x} AS DOUBLE) AS c{i}" for i, x in enumerate(literals))
    try:
        row = _sql(sql)[0]
    except duckdb.Error as exc:  # not a number to DuckDB: its query says what is wrong
        raise InexactError(str(exc)) from exc
    return tuple(float(row[f"c{i}"]) for i in range(len(literals)))


_PLAIN_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")


def _exact_literal(text: str) -> bool:
    """Whether DuckDB reads ``text`` as an INTEGER or a DECIMAL of at most 15 digits. Its
    DOUBLE is then the digits (an integer below 2**53, exact) divided by a power of ten
    (exact up to 1e22): one correctly rounded division, as ``float`` rounds the text."""
    match = _PLAIN_NUMBER.fullmatch(text)
    return match is not None and len(match[1]) + len(match[2] or "") <= 15


def doubles(literals: tuple[str, ...]) -> tuple[float, ...]:
    """:func:`duckdb_doubles` without DuckDB for plain numbers of at most 15 digits (the
    checks' thresholds as ``str(float)`` writes them); any other text asks DuckDB."""
    if all(_exact_literal(x) for x in literals):
        # A DECIMAL zero has no sign: -0.0 is 0.0 to DuckDB.
        return tuple(float(x) + 0.0 for x in literals)
    return duckdb_doubles(literals)


def _codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """int64 codes, NULL as -1."""
    import numpy as np
    import pyarrow.compute as pc

    if column.null_count:
        column = pc.fill_null(column, -1)  # a copy of every row: only where there are NULLs
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """float64 values, NULL as NaN (no real value is NaN on this path)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    filled = pc.fill_null(column.cast(pa.float64()), float("nan"))
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.float64)


def _bools(column: pa.ChunkedArray | pa.Array, null: bool) -> np.ndarray:
    import numpy as np
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(column, null).to_numpy(zero_copy_only=False), dtype=bool)


def _key(codes: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.where(codes < 0, _NULL, codes)


def _dense(ids: np.ndarray) -> np.ndarray:
    """``ids`` renumbered ``0 ..`` (distinct ids, by hashing: no sort)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(pa.array(ids))
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _grouped_median(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """The median of ``values`` per group ``0 .. size - 1`` (NaN where a group is empty),
    as DuckDB's ``median`` gives it: the middle value, or (lo + hi) / 2. Raises
    :class:`InexactError` where that is not how DuckDB rounds (subnormal numbers).

    ``values`` are finite (:func:`fast_values`). Each group's values are sorted apart, as
    a row of a matrix padded with infinities (:func:`_sorted_by_group`), not all values
    at once: a group has tens of rows, and sorting many short rows cost a third of one
    sort of every value."""
    return _grouped_medians(groups, values, size, deviations=False)[0]


def _grouped_median_and_mad(
    groups: np.ndarray, values: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per group, :func:`_grouped_median` of ``values`` and the median of the absolute
    deviations from it (``|value - median|``, each a double as numpy takes it), the
    second sorted in the rows of the first: the values are grouped once."""
    return _grouped_medians(groups, values, size, deviations=True)


def _grouped_medians(
    groups: np.ndarray, values: np.ndarray, size: int, *, deviations: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The medians per group and, with ``deviations``, those of the absolute deviations
    (else NaN): both of :func:`_grouped_median_and_mad`."""
    import numpy as np

    counts = np.bincount(groups, minlength=size)
    medians = np.full(size, np.nan)
    spreads = np.full(size, np.nan)
    for members, rows in _sorted_by_group(groups, values, counts):
        taken = np.arange(len(members))
        count = counts[members]
        lower, upper = (count - 1) // 2, count // 2
        median = _middle(rows[taken, lower], rows[taken, upper], count)
        medians[members] = median
        if deviations:
            # The padding stays infinite, after every deviation of the row.
            spread = rows - median[:, None]
            np.abs(spread, out=spread)
            spread.sort(axis=1)
            spreads[members] = _middle(spread[taken, lower], spread[taken, upper], count)
    return medians, spreads


def _middle(low: np.ndarray, high: np.ndarray, counts: np.ndarray) -> Any:
    """The median of groups of ``counts`` rows (at least one) whose middle values are
    ``low`` and ``high``: ``low``, or (lo + hi) / 2 for an even count; InexactError where
    a number is subnormal."""
    import numpy as np

    with np.errstate(all="ignore"):
        total = low + high
        median = np.where(counts % 2 == 1, low, total / 2)
    if any(_subnormal(x) for x in (low, high, total, median)):
        raise InexactError("a median of subnormal numbers")
    return median


def _sorted_by_group(
    groups: np.ndarray, values: np.ndarray, counts: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The groups' values (finite: the padding sorts after them) sorted, a group to a row:
    ``(members, rows)`` per width class, ``rows[k]`` the sorted values of group
    ``members[k]`` followed by infinities. A class holds the groups of
    ``2**(e-1) < count <= 2**e`` rows, ``2**e`` wide: the matrices hold fewer than twice
    as many cells as there are values, however the counts spread."""
    import numpy as np

    if not len(values):
        return
    present = np.flatnonzero(counts)
    # frexp's exponent of count - 1 is its bit length: the class of 2**e >= count.
    widths = np.frexp((counts[present] - 1).astype(np.float64))[1]
    # Groups renumbered class by class: sorted by the new number, each class's rows are
    # one run, its groups one range.
    by_class = present[np.argsort(widths, kind="stable")]
    renumbered = np.empty(len(counts), dtype=np.int64)
    renumbered[by_class] = np.arange(len(by_class))
    new = renumbered[groups]
    # Numpy's stable sort of 16-bit keys is a radix sort.
    keys = new.astype(np.uint16) if len(by_class) <= 2**16 else new
    order = np.argsort(keys, kind="stable")
    new = new[order]
    ordered = values[order]
    sizes = counts[by_class]
    starts = np.cumsum(sizes) - sizes
    position = np.arange(len(values)) - starts[new]
    classes = np.sort(widths)
    edges = np.flatnonzero(np.r_[True, classes[1:] != classes[:-1], True])
    for first, end in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        begin, stop = int(starts[first]), int(starts[end - 1] + sizes[end - 1])
        rows = np.full((end - first, 1 << int(classes[first])), np.inf)
        rows[new[begin:stop] - first, position[begin:stop]] = ordered[begin:stop]
        rows.sort(axis=1)
        yield by_class[first:end], rows


def _subnormal(values: np.ndarray) -> bool:
    import numpy as np

    magnitude = np.abs(values)
    return bool(((magnitude > 0) & (magnitude < np.finfo(np.float64).tiny)).any())


def _first_per_group(keys: Sequence[np.ndarray], groups: np.ndarray) -> tuple[Any, Any]:
    """The position of the smallest and of the largest row by ``keys`` (most significant
    first) in each run of ``groups``, after sorting by ``groups`` then ``keys``."""
    import numpy as np

    order = np.lexsort([*reversed(keys), groups])
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
    return order, (sorted_groups[starts], order[starts], order[ends])


def range_rows(data: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``check_range``'s query that can give a finding (a negative value or a
    percent above 100), in its order: ``src, indicator, unit, negative, over, low, high,
    t_low, t_high`` as codes."""
    import numpy as np

    src = _codes(data.column("src"))
    indicator = _codes(data.column("indicator"))
    unit = _codes(data.column("unit"))
    territory = _codes(data.column("territory"))
    value = _floats(data.column("value"))
    percent = _bools(data.column("percent"), False)
    negative = value < 0
    over = percent & (value > 100)
    hit = negative | over
    if not hit.any():
        return []
    group = _dense(_pack3(src, indicator, unit))
    size = int(group.max()) + 1
    flagged = np.bincount(group[hit], minlength=size) > 0
    rows = np.flatnonzero(flagged[group])
    g = group[rows]
    v = value[rows]
    n_negative = np.bincount(g[negative[rows]], minlength=size)
    n_over = np.bincount(g[over[rows]], minlength=size)
    out: dict[int, dict[str, Any]] = {}
    present = np.flatnonzero(~np.isnan(v))
    _, (groups, lows, highs) = _first_per_group([v[present]], g[present])
    # min and max keep the last of equal values in the rows' order: of 0.0 and -0.0, the
    # one that comes last (the only equal doubles that print differently).
    zeros = present[v[present] == 0]
    last_zero = np.full(size, -1, dtype=np.int64)
    np.maximum.at(last_zero, g[zeros], zeros)
    for k, lo, hi in zip(groups.tolist(), lows.tolist(), highs.tolist(), strict=True):
        i = rows[present[lo]]
        j = rows[present[hi]]
        if last_zero[k] >= 0:
            i = rows[last_zero[k]] if value[i] == 0 else i
            j = rows[last_zero[k]] if value[j] == 0 else j
        out[k] = {
            "src": _decoded(src[i]),
            "indicator": _decoded(indicator[i]),
            "unit": _decoded(unit[i]),
            "negative": int(n_negative[k]),
            "over": int(n_over[k]),
            "low": float(value[i]),
            "high": float(value[j]),
            "t_low": None,
            "t_high": None,
        }
    # arg_min/arg_max(territory, (value, territory)): rows without a territory are left
    # out; a NULL value ranks above every value.
    named = np.flatnonzero(territory[rows] >= 0)
    if len(named):
        t = territory[rows[named]]
        vkey = np.where(np.isnan(v[named]), np.inf, v[named])
        _, (groups, lows, highs) = _first_per_group([vkey, t], g[named])
        for k, lo, hi in zip(groups.tolist(), lows.tolist(), highs.tolist(), strict=True):
            out[k]["t_low"] = int(t[lo])
            out[k]["t_high"] = int(t[hi])
    return sorted(
        out.values(),
        key=lambda r: tuple(_order(r[c]) for c in ("src", "indicator", "unit")),
    )


def _pack3(*columns: np.ndarray) -> np.ndarray:
    import numpy as np

    ids = np.zeros(len(columns[0]), dtype=np.int64)
    for codes in columns:
        ids = _dense(ids * (int(codes.max(initial=0)) + 2) + codes + 1)
    return ids


def _decoded(code: Any) -> int | None:
    return None if code < 0 else int(code)


def _order(code: int | None) -> tuple[bool, int]:
    return (code is None, code or 0)


def outlier_rows(
    data: pa.Table, *, outlier_z: str, max_yearly_change: str, min_events: str
) -> list[dict[str, Any]]:
    """The rows of ``check_outliers``' query (``src, kind, indicator, n, territory, period,
    size``, codes as int), in its order; the thresholds as the query's text writes them.

    Raises :class:`InexactError` where a median would be of subnormal numbers."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    z_limit, change_limit, events, factor = doubles(
        (outlier_z, max_yearly_change, min_events, "0.6745")
    )
    value = _floats(data.column("value"))
    valid = ~np.isnan(value)
    rate = _bools(data.column("rate"), False)
    # NOT count_unit and NOT (count_unit AND ...) keep no row whose count_unit is NULL.
    count_unit = _bools(data.column("count_unit"), True)
    reliable = _bools(data.column("reliable"), False)
    codes = data.select(["src", "indicator", "territory", "period"])
    found: list[dict[str, Any]] = []

    with np.errstate(all="ignore"):
        rows = np.flatnonzero(valid & rate)
        if len(rows):
            group = _dense(np.asarray(data.column("g").to_numpy(), dtype=np.int64)[rows])
            size = int(group.max()) + 1
            big = np.bincount(group, minlength=size)[group] >= 10
            rows, group = rows[big], group[big]
        if len(rows):
            v = value[rows]
            medians, deviations = _grouped_median_and_mad(group, v, size)
            med, mad = medians[group], deviations[group]
            z = np.abs(factor * (v - med) / mad)
            hit = ~count_unit[rows] & (mad != 0) & (z > z_limit)
            found += _worst("outlier", rows[hit], z[hit], codes)

        start = data.column("period_start")
        usable = _bools(pc.is_valid(start), False) & reliable
        if usable.any():
            day = _codes(start.cast(pa.int32()))  # days since 1970-01-01
            series = np.asarray(data.column("series").to_numpy(), dtype=np.int64)
            every = bool(usable.all())  # the usual case: no copy of every row
            if not every:
                rows = np.flatnonzero(usable)
                day, series = day[rows], series[rows]
            first = int(day.min())
            span = int(day.max()) - first + 1
            if (int(series.max()) + 1) * span >= 2**62:
                series = _dense(series)
            if (int(series.max()) + 1) * span < 2**62:
                key = series * span + (day - first)
                # Stable: the rows come in runs of one series by date, which a merge sort
                # takes at about a pass each; equal keys are ordered again below anyway.
                order = np.argsort(key, kind="stable")
                key = key[order]
            else:  # dates too far apart to pack with the series: sort on both
                order = np.lexsort((day, series))
                key = series[order]
            if (key[1:] == key[:-1]).any():
                # Two rows of one series on one date keep the rows' order.
                order = np.lexsort((day, series))
            rows = order if every else rows[order]
            series, day = series[order], day[order]
            cur, prev = value[rows[1:]], value[rows[:-1]]
            change = cur / prev - 1
            pair = np.flatnonzero(
                (series[1:] == series[:-1])
                & (prev > 0)
                & (np.abs(change) > change_limit)
                & ~(count_unit[rows[1:]] & (np.minimum(prev, cur) < events))
            )
            jump = pair[_year(day[pair + 1]) - _year(day[pair]) == 1]
            found += _worst("jump", rows[jump + 1], np.abs(change[jump]), codes)
    return sorted(
        found,
        key=lambda r: (_order(r["src"]), r["kind"], _order(r["indicator"])),
    )


def _year(days: np.ndarray) -> np.ndarray:
    """The calendar year of days since 1970-01-01."""
    import numpy as np

    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)


def _worst(kind: str, rows: np.ndarray, size: np.ndarray, codes: pa.Table) -> list[dict[str, Any]]:
    """Per source and indicator: the count, the largest ``size`` and the territory and
    period of ``arg_max(x, (size, territory, period))``, each among the rows where it is
    not NULL (``codes``: those four columns of every row; ``rows`` index it)."""
    import numpy as np

    if not len(rows):
        return []
    picked = codes.take(rows)
    src, indicator, territory, period = (_codes(c) for c in picked.columns)
    group = _dense(_pack3(src, indicator))
    counts = np.bincount(group)
    out: dict[int, dict[str, Any]] = {}
    _, (groups, _, highs) = _first_per_group([size], group)
    for k, hi in zip(groups.tolist(), highs.tolist(), strict=True):
        out[k] = {
            "src": _decoded(src[hi]),
            "kind": kind,
            "indicator": _decoded(indicator[hi]),
            "n": int(counts[k]),
            "territory": None,
            "period": None,
            "size": float(size[hi]),
        }
    keys = [size, _key(territory), _key(period)]
    for name, column in (("territory", territory), ("period", period)):
        named = np.flatnonzero(column >= 0)
        if len(named):
            _, (groups, _, highs) = _first_per_group([k[named] for k in keys], group[named])
            for k, hi in zip(groups.tolist(), highs.tolist(), strict=True):
                out[k][name] = int(column[named[hi]])
    return list(out.values())


_EXACT_SUM = 2.0**53
"""Whole numbers whose magnitudes add up to less than this sum to the same double in any
order (every partial sum is a whole number a double holds exactly)."""


def sum_rows(
    data: pa.Table,
    hierarchy: pa.Table,
    breakdowns: Sequence[str],
    *,
    tolerance: str,
) -> list[dict[str, Any]]:
    """The rows of ``check_sum_consistency``'s query, in its order: ``src, indicator, area,
    period, <breakdowns>, parts, reported`` (codes as int).

    ``data``: the check's table of codes with ``value`` (float64) and ``summed``;
    ``hierarchy``: ``municipality`` and one column per level, as codes of ``data``'s
    territories (NULL where the table has no such territory); ``tolerance`` as the query's
    text writes it. Raises :class:`InexactError` where a compared total is not a sum of
    whole numbers below 2**53 (DuckDB's order of adding would decide its last bits).
    """
    import numpy as np

    (tol,) = doubles((tolerance,))
    if not _is_float64(data.column("value")):
        raise InexactError("values that are not float64")
    src = _codes(data.column("src"))
    indicator = _codes(data.column("indicator"))
    territory = _codes(data.column("territory"))
    period = _codes(data.column("period"))
    parts = [_codes(data.column(x)) for x in breakdowns]
    value = _floats(data.column("value"))
    summed = _bools(data.column("summed"), False)
    n_territories = int(max(territory.max(initial=-1), _max_code(hierarchy)) + 1)
    # The hierarchy's (municipality, area) pairs, one per level and row, as the query's
    # UNION ALL has them; an area counts its members with or without a code in the table.
    municipality = _codes(hierarchy.column("municipality"))
    levels = [_codes(hierarchy.column(c)) for c in hierarchy.column_names[1:]]
    pair_m = np.concatenate([municipality[a >= 0] for a in levels] or [np.empty(0, np.int64)])
    pair_a = np.concatenate([a[a >= 0] for a in levels] or [np.empty(0, np.int64)])
    members = np.bincount(pair_a, minlength=n_territories)
    # A row without indicator, period or breakdown joins no reported total (= is never
    # true of NULL); a NULL value is neither summed nor counted.
    keyed = (indicator >= 0) & (period >= 0) & (territory >= 0) & ~np.isnan(value)
    for codes in parts:
        keyed &= codes >= 0
    rows = np.flatnonzero(keyed & summed)
    # Only areas whose every member can be in one group are joined: with one row per key
    # a group holds each municipality once, so an area with a member the rows never name
    # (most areas of a partial table) cannot reach its count. 800,000 rows joined to five
    # levels each were 4,000,000 rows to group, for no total to compare.
    possible = members > 0
    if len(rows):
        cells, _ = _pack_codes(
            [src[rows], indicator[rows], period[rows], *(c[rows] for c in parts), territory[rows]]
        )
        cells.sort()  # numpy's sort of int64 is several times faster than hashing them
        if not (cells[1:] == cells[:-1]).any():
            named = np.zeros(n_territories, dtype=bool)
            named[territory[rows]] = True
            joinable = pair_m >= 0
            reach = np.bincount(
                pair_a[joinable], weights=named[pair_m[joinable]], minlength=n_territories
            )
            possible &= reach == members
    if not possible.any():
        return []
    joined = (pair_m >= 0) & possible[pair_a]
    order = np.argsort(pair_m[joined], kind="stable")
    areas_of = pair_a[joined][order]
    per_municipality = np.bincount(pair_m[joined], minlength=n_territories)
    first = np.cumsum(per_municipality) - per_municipality
    rows = rows[per_municipality[territory[rows]] > 0]
    repeats = per_municipality[territory[rows]]
    part = np.repeat(rows, repeats)  # a municipality's row once per area it belongs to
    within = np.arange(len(part)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    area = areas_of[np.repeat(first[territory[rows]], repeats) + within]
    reported = np.flatnonzero(keyed & possible[np.maximum(territory, 0)])
    # One id per (src, indicator, territory or area, period, breakdowns) over the parts
    # and the reported rows together: a reported row meets the sum of its own key.
    columns = [
        np.concatenate([src[part], src[reported]]),
        np.concatenate([indicator[part], indicator[reported]]),
        np.concatenate([area, territory[reported]]),
        np.concatenate([period[part], period[reported]]),
        *(np.concatenate([c[part], c[reported]]) for c in parts),
    ]
    ids, size = _pack_codes(columns)
    if size > 4 * len(ids) + 4096:  # sparse: numbered 0 .. distinct - 1 for bincount
        ids = _dense(ids)
        size = len(ids) and int(ids.max()) + 1
    own, theirs = ids[: len(part)], ids[len(part) :]
    total = np.bincount(own, weights=value[part], minlength=size)
    count = np.bincount(own, minlength=size)
    magnitude = np.bincount(own, weights=np.abs(value[part]), minlength=size)
    whole = np.bincount(own, weights=value[part] != np.floor(value[part]), minlength=size) == 0
    r_area = territory[reported]
    complete = (count[theirs] > 0) & (count[theirs] == members[r_area])
    reported, theirs = reported[complete], theirs[complete]
    if not (whole[theirs].all() and (magnitude[theirs] < _EXACT_SUM).all()):
        raise InexactError("a total of numbers that are not whole, or of 2**53 and more")
    sums = total[theirs]
    value_r = value[reported]
    with np.errstate(all="ignore"):
        gap = np.abs(sums - value_r)
        scale = np.maximum(np.abs(value_r), 1.0)
        bad = gap > tol * scale
        relative = gap / scale
    reported, sums, relative = reported[bad], sums[bad], relative[bad]
    if not len(reported):
        return []
    # ORDER BY src, gap DESC, area, indicator, period, breakdowns (NULLs last); rows equal
    # in all of these (two reported rows of one key) are ordered by their value.
    keys = [
        value[reported],
        *(c[reported] for c in reversed(parts)),
        period[reported],
        indicator[reported],
        territory[reported],
        -relative,
        _key(src[reported]),
    ]
    order = np.lexsort(keys)
    out = []
    for i in order.tolist():
        r = int(reported[i])
        row: dict[str, Any] = {
            "src": _decoded(src[r]),
            "indicator": int(indicator[r]),
            "area": int(territory[r]),
            "period": int(period[r]),
        }
        for name, codes in zip(breakdowns, parts, strict=True):
            row[name] = int(codes[r])
        row["parts"] = float(sums[i])
        row["reported"] = float(value[r])
        out.append(row)
    return out


def _is_float64(column: pa.ChunkedArray | pa.Array) -> bool:
    import pyarrow as pa

    return bool(column.type == pa.float64())  # DuckDB sums other types as other types


def _max_code(table: pa.Table) -> int:
    import pyarrow.compute as pc

    highest = [pc.max(c).as_py() for c in table.columns]
    return max((int(h) for h in highest if h is not None), default=-1)


def _pack_codes(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """One id per row in ``0 .. size - 1``, equal for two rows exactly when every column's
    code is (codes ``-1`` for NULL and up), and ``size``; renumbered densely before the
    product of the columns' widths could overflow int64."""
    import numpy as np

    n = len(columns[0]) if columns else 0
    ids = np.zeros(n, dtype=np.int64)
    size = 1
    for codes in columns:
        width = int(codes.max(initial=0)) + 2
        if size * width >= 2**62:
            ids = _dense(ids)
            size = n + 1
        ids *= width
        ids += codes + 1
        size *= width
    return ids, size
