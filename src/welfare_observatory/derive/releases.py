"""Which release wins when two sources give the same value, and what the loser said.

Two sources may publish the same indicator, territory, period and breakdowns: a municipal
file of an early (provisional) Istat release and Eurostat's final 1 January figures, say.
Which one the edition keeps is declared, never an accident of order:

1. the source with the higher ``priority`` (observatory.yaml, default 0) wins;
2. on equal priority, the later ``release_date`` in the source's data file sidecar
   (``<file>.meta.yaml``) wins; a source without one counts as the oldest;
3. otherwise a final value (any status but ``P``) wins over a provisional one (``P``);
4. a tie left after that is broken by source id, with a ``release-undeclared`` warning.

Every key two sources give is a conflict: each whose values differ is listed as a
``release-conflict`` finding with both values, both sources and the difference (loser
minus winner), so the build report shows every one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.derive._common import (
    Derived,
    breakdowns_of,
    plain,
    to_canonical,
)
from welfare_observatory.derive._parts import (
    COUNT,
    LISTED,
    TALLY,
    FindingPart,
    combine,
    indicator_runs,
    items_part,
    null_last,
    null_last_all,
)
from welfare_observatory.model.finding import Finding, Severity

if TYPE_CHECKING:
    from pathlib import Path

    from welfare_observatory.config import ObservatoryConfig

__all__ = ["MAX_LISTED", "SourceRank", "resolve_releases", "sidecars", "source_ranks"]

MAX_LISTED = 1000
"""Conflicts listed one by one; beyond that the summary finding counts them."""


@dataclass(frozen=True)
class SourceRank:
    """What decides between sources: declared priority, then release date."""

    priority: int = 0
    release: date | None = None


def sidecars(config: ObservatoryConfig, folder: Path) -> dict[str, list[tuple[Path, bytes | None]]]:
    """Each source's data-file sidecars with their bytes (None when unreadable): the
    ``<value>.meta.yaml`` inside ``folder`` of each of its string options that names one,
    in the options' order; sources with none are left out. Data paths never resolve
    outside ``folder``."""
    from welfare_observatory.errors import WelfareObservatoryError
    from welfare_observatory.yamlfile import safe_path

    out: dict[str, list[tuple[Path, bytes | None]]] = {}
    base = os.fspath(folder)
    for sid, source in config.sources.items():
        found: list[tuple[Path, bytes | None]] = []
        for value in source.options.values():
            if not isinstance(value, str):
                continue
            # Most options name no sidecar: one stat (of the link itself) says so, without
            # making or resolving a path (every build reads them: 160 sources, under 1 ms).
            try:
                os.lstat(os.path.join(base, value + ".meta.yaml"))  # noqa: PTH118
            except (ValueError, OSError):
                continue
            try:
                sidecar = safe_path(folder, value + ".meta.yaml", what=f"sources.{sid}.options")
            except (WelfareObservatoryError, ValueError, OSError):
                continue
            if not sidecar.is_file():
                continue
            try:
                found.append((sidecar, sidecar.read_bytes()))
            except OSError:
                found.append((sidecar, None))
        if found:
            out[sid] = found
    return out


def source_ranks(
    config: ObservatoryConfig,
    folder: Path,
    files: Mapping[str, Sequence[tuple[Path, bytes | None]]] | None = None,
) -> dict[str, SourceRank]:
    """Each source's declared ``priority`` and the latest ``release_date`` of its data files.

    ``files`` are the sources' sidecars as :func:`sidecars` read them (read now when None):
    the build reads them once, for this and for the key of its saved results.
    """
    from welfare_observatory.yamlfile import decode_text, load_yaml, parse_yaml

    files = sidecars(config, folder) if files is None else files
    out: dict[str, SourceRank] = {}
    for sid, source in config.sources.items():
        released: list[date] = []
        for sidecar, raw in files.get(sid, ()):
            if raw is None:
                data = load_yaml(sidecar).data  # unreadable: the error names the file
            else:
                data = parse_yaml(decode_text(raw, sidecar), path=sidecar).data
            found = data.get("release_date") if isinstance(data, dict) else None
            if isinstance(found, date):
                released.append(found)
            elif isinstance(found, str):
                released.append(date.fromisoformat(found))
        out[sid] = SourceRank(int(getattr(source, "priority", 0) or 0), max(released, default=None))
    return out


def resolve_releases(observations: pa.Table, ranks: Mapping[str, SourceRank]) -> Derived:
    """``observations`` with one row per key: the declared winner among the sources."""
    breakdowns = breakdowns_of(observations)
    if observations.num_rows == 0:
        return Derived(observations)
    keys = ["indicator", "territory", "period", *breakdowns]
    # Only an indicator two sources give can have a key two sources give: a few hundred
    # (indicator, source) pairs decide, so the usual build (one source per indicator)
    # never groups every key.
    shared = _shared_indicators(observations)
    if not shared:
        return Derived(observations)
    pairs, ranked_rows, kept = _ranked_conflicts(observations, ranks, keys, shared)
    if not len(ranked_rows):
        return Derived(observations)
    import numpy as np

    # Every row of a conflicting key was ranked: the others are the rest, as they came.
    alone = np.ones(observations.num_rows, dtype=bool)
    alone[ranked_rows] = False
    rest = observations.filter(pa.array(alone))
    winners = observations.take(pa.array(kept))
    table = pa.concat_tables([to_canonical(rest, breakdowns), to_canonical(winners, breakdowns)])
    parts = _parts(pairs, breakdowns)
    return Derived(table, combine(parts), parts=parts)


def _ranked_conflicts(
    observations: pa.Table,
    ranks: Mapping[str, SourceRank],
    keys: list[str],
    shared: list[str],
) -> tuple[pa.Table, Any, Any]:
    """The conflicts among the rows of the ``shared`` indicators: ``(pairs, ranked, kept)``.

    ``observations`` are canonical rows: no key, source or status is missing (a
    ValueError). A key is a conflict when more than one source gives it. Its rows are
    ranked by priority (higher first), release date (later first, none last), status
    (final before provisional) and source id, ties kept in the rows' order: the first
    wins. ``pairs`` has a row per loser, sorted by key then loser: the key, ``winner``,
    ``kept``, ``loser``, ``dropped``, ``difference`` (loser minus winner), ``undeclared``
    (another row of the key shares the winner's priority, release and status), the two
    priorities ``p_w``/``p_l``, release dates ``r_w``/``r_l`` and statuses ``s_w``/``s_l``.
    ``ranked``: the positions (in ``observations``) of every row of a conflicting key;
    ``kept``: of each key's winner, in key order.

    Worked out on integer codes that sort as the texts do, in numpy: a rival source for
    every indicator (1.6 million rows) ranked in a window of DuckDB held about 700 MiB."""
    import numpy as np

    from welfare_observatory._arrow import among, decoded

    chosen = np.asarray(among(observations.column("indicator"), shared), dtype=bool)
    rows = np.flatnonzero(chosen)
    narrow = observations.select([*keys, "source", "value", "obs_status"])
    missing = [n for n in [*keys, "source", "obs_status"] if narrow.column(n).null_count]
    if missing:  # the canonical schema has none: a rank for them would be made up
        raise ValueError(f"releases are resolved on canonical rows; {missing[0]!r} has gaps")
    if len(rows) != observations.num_rows:
        narrow = narrow.take(pa.array(rows))
    if not len(rows):
        return pa.table({}), rows, rows
    # The key as one integer, a column at a time (no code column outlives its turn).
    key = np.zeros(len(rows), dtype=np.int64)
    width = 1
    for name in keys:
        key, width = _appended(key, width, _codes(narrow.column(name))[0])
    source, names = _codes(narrow.column("source"))
    declared = [ranks.get(str(name), SourceRank()) for name in names.to_pylist()]
    # Priority then release date as one rank per source (equal declarations share one),
    # then final (0) before provisional (1): ``obs_status = 'P'``.
    levels = sorted({_place(r) for r in declared})
    by_source = np.array([levels.index(_place(r)) for r in declared], dtype=np.int64)
    status = narrow.column("obs_status")
    provisional = pc.equal(decoded(status), pa.scalar("P", pa.string()))
    rank = by_source[source] * 2 + np.asarray(provisional, dtype=np.int64)
    combined, _ = _appended(key, width, rank * len(declared) + source)
    at = np.argsort(combined, kind="stable")  # sorted position -> row of ``narrow``
    del combined
    key, rank, source = key[at], rank[at], source[at]
    head = np.r_[True, key[1:] != key[:-1]]
    starts = np.flatnonzero(head)
    sizes = np.diff(np.r_[starts, len(key)])
    # Two sources or more: the smallest and largest differ.
    disputed = np.minimum.reduceat(source, starts) < np.maximum.reduceat(source, starts)
    if not disputed.any():
        return pa.table({}), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    conflict = np.repeat(disputed, sizes)
    # How many rows of each key rank as its winner does (priority, release, status): its
    # first run of equal ranks.
    runs = np.flatnonzero(head | np.r_[False, rank[1:] != rank[:-1]])
    run_sizes = np.diff(np.r_[runs, len(key)])
    tied = run_sizes[np.searchsorted(runs, starts)]
    del key, rank, runs, run_sizes
    losers = np.flatnonzero(conflict & ~head)
    group = np.searchsorted(starts, losers, side="right") - 1
    # By key, then loser; one source's two rows of a key in the rows' order.
    order = np.lexsort((at[losers], source[losers], group))
    losers, group = losers[order], group[order]
    winners = starts[group]
    w, lo = pa.array(at[winners]), pa.array(at[losers])
    priority = np.array([r.priority for r in declared], dtype=np.int64)
    release = pa.array([r.release for r in declared], pa.date32())
    value = narrow.column("value")
    kept_value, dropped = value.take(w), value.take(lo)
    pairs = narrow.select(keys).take(w)
    columns = {
        "winner": narrow.column("source").take(w),
        "kept": kept_value,
        "loser": narrow.column("source").take(lo),
        "dropped": dropped,
        "difference": pc.subtract(dropped, kept_value),
        "undeclared": pa.array(tied[group] > 1),
        "p_w": pa.array(priority[source[winners]]),
        "p_l": pa.array(priority[source[losers]]),
        "r_w": release.take(pa.array(source[winners])),
        "r_l": release.take(pa.array(source[losers])),
        "s_w": status.take(w),
        "s_l": status.take(lo),
    }
    for name, column in columns.items():
        pairs = pairs.append_column(name, column)
    in_conflict = rows[at[np.flatnonzero(conflict)]]
    kept = rows[at[starts[disputed]]]
    return pairs, in_conflict, kept


def _place(rank: SourceRank) -> tuple[int, bool, int]:
    """A source's place in the declared order: the higher priority first, then the later
    release date, none last."""
    day = rank.release
    return (-rank.priority, day is None, -day.toordinal() if day is not None else 0)


def _codes(column: pa.ChunkedArray) -> tuple[Any, pa.Array]:
    """:func:`~welfare_observatory._arrow.ranked` codes of ``column`` (no gaps) as int64,
    and the sorted distinct texts they index."""
    import numpy as np

    from welfare_observatory._arrow import ranked

    codes, values = ranked(column)
    return np.asarray(codes, dtype=np.int64), values


def _appended(key: Any, width: int, part: Any) -> tuple[Any, int]:
    """``key`` (int64 codes below ``width``) with ``part`` (non-negative int64 codes) as a
    less significant digit, and the new width: numbered densely again (in order) first
    when the product of widths could overflow."""
    import numpy as np

    span = int(part.max(initial=0)) + 1
    if width * span >= 2**62:
        unique, key = np.unique(key, return_inverse=True)
        width = len(unique)
    return key.astype(np.int64, copy=False) * span + part, width * span


def _shared_indicators(observations: pa.Table) -> list[str]:
    """The indicators of ``observations`` that more than one source gives, sorted."""
    from welfare_observatory._arrow import plain as _plain

    # One dictionary per column (chunks of concatenated sources carry their own).
    keys = observations.select(["indicator", "source"]).unify_dictionaries()
    pairs = keys.group_by(["indicator", "source"])
    # Dictionary keys decoded after grouping: a few rows, whatever the chunks' dictionaries.
    distinct = _plain(pairs.aggregate([])).group_by(["indicator", "source"]).aggregate([])
    counts = distinct.group_by("indicator").aggregate([("source", "count")])
    many = counts.filter(pc.greater(counts["source_count"], 1))
    return sorted(str(i) for i in many["indicator"].to_pylist())


_SUMMARY = (
    f"{COUNT} values were given by more than one source; {TALLY} differ{LISTED}; "
    "the declared source wins (priority, then release date)"
)
_UNDECLARED = f"{COUNT} conflicts have no declared winner: the source whose id sorts first was kept"


def _parts(pairs: pa.Table, breakdowns: Sequence[str]) -> list[FindingPart]:
    """The findings of the conflicts ``pairs`` (sorted by key, then loser), as parts per
    indicator (:mod:`welfare_observatory.derive._parts`): a rebuild of some indicators,
    or a partition of them, combines them into a whole build's findings. Each indicator
    lists up to :data:`MAX_LISTED` of its differing values (the whole list is the first
    :data:`MAX_LISTED` of all, in key order, so any indicator's may be among them)."""
    parts: list[FindingPart] = []
    order = ["territory", "period", *breakdowns, "loser"]
    for indicator, rows in _by_indicator(pairs):
        # Columnar filters first: only the listed conflicts become Python rows.
        differ = pc.fill_null(pc.not_equal(rows["kept"], rows["dropped"]), True)
        n_differing = int(pc.sum(differ).as_py() or 0)
        summary = Finding(
            code="release-conflicts",
            severity=Severity.INFO,
            message=_SUMMARY.replace(COUNT, str(rows.num_rows))
            .replace(TALLY, str(n_differing))
            .replace(LISTED, ""),
            count=rows.num_rows,
            hint="declare 'priority' per source in observatory.yaml or 'release_date' in the "
            "data file's .meta.yaml",
        )
        parts.append(
            FindingPart((0,), "tally", summary, indicator, (n_differing,), _SUMMARY, MAX_LISTED)
        )
        # One part lists the indicator's conflicts: a finding is made of those the whole
        # list takes (up to 1,000 of all), not of every indicator's (160,000 when every
        # indicator has two sources). Read column by column: no dictionary per row.
        c = plain(rows.filter(differ).slice(0, MAX_LISTED)).to_pydict()
        places = list(zip(*(null_last_all(c[k]) for k in order), strict=True))
        reasons = map(_why, c["p_w"], c["p_l"], c["r_w"], c["r_l"], c["s_w"], c["s_l"])
        listed = [
            {
                "code": "release-conflict",
                "severity": _INFO,
                "message": f"{winner} {_n(kept)} wins over {loser} {_n(dropped)} "
                f"(difference {_n(difference, signed=True)}; {why})",
                "indicator": indicator,
                "territory": territory,
                "period": period,
                "count": 1,
            }
            for winner, kept, loser, dropped, difference, why, territory, period in zip(
                c["winner"], c["kept"], c["loser"], c["dropped"], c["difference"], reasons,
                c["territory"], c["period"], strict=True,
            )
        ]  # fmt: skip
        if listed:
            parts.append(items_part((1,), indicator, places, listed, cap=MAX_LISTED))
        undeclared = rows.filter(pc.fill_null(rows["undeclared"], False))
        if undeclared.num_rows:
            first = plain(undeclared.slice(0, 1)).to_pylist()[0]
            finding = Finding(
                code="release-undeclared",
                severity=Severity.WARNING,
                message=_UNDECLARED.replace(COUNT, str(undeclared.num_rows)),
                indicator=first["indicator"],
                territory=first["territory"],
                period=first["period"],
                count=undeclared.num_rows,
                hint="give the sources different 'priority' values in observatory.yaml",
            )
            place = tuple(null_last(first[k]) for k in ["indicator", *order])
            parts.append(FindingPart((2,), "sum", finding, indicator, place, _UNDECLARED))
    return parts


def _by_indicator(pairs: pa.Table) -> list[tuple[str, pa.Table]]:
    """``pairs`` (sorted by indicator first) cut into each indicator's rows: one slice
    per indicator with a conflict, a few hundred at most."""
    bounds = indicator_runs(pairs)
    return [
        (str(pairs.column("indicator")[a].as_py()), pairs.slice(a, b - a))
        for a, b in pairwise(bounds)
    ]


_INFO = Severity.INFO.value


def _why(p_w: Any, p_l: Any, r_w: Any, r_l: Any, s_w: Any, s_l: Any) -> str:
    """Why the winner won: priorities, release dates, statuses (winner's, loser's)."""
    if p_w != p_l:
        return f"priority {p_w} over {p_l}"
    if r_w != r_l and r_w is not None:
        return f"released {r_w}, the other {r_l or 'undated'}"
    if s_w != "P" and s_l == "P":
        return "final over provisional"
    return "no declared order: first source id"


def _n(value: object, *, signed: bool = False) -> str:
    if value is None:
        return "missing"
    number = value if type(value) is float else float(str(value))
    return format(number, "+,.10g" if signed else ",.10g")
