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
    connect,
    plain,
    query,
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
    import numpy as np

    con = connect()
    # The rows are ranked and paired by their keys, source, value and status alone, each
    # known by its row number: DuckDB hands back no copy of every column of the conflicting
    # rows (1.6 million rows of all columns when every indicator has two sources: most of
    # the build's peak), and the rows kept are taken from the table as they are.
    numbered = observations.append_column(
        _ROW, pa.array(np.arange(observations.num_rows, dtype=np.int64))
    )
    con.register("obs", numbered)
    con.register("shared", pa.table({"id": pa.array(shared, pa.string())}))
    con.register(
        "ranks",
        pa.table(
            {
                "source": pa.array(list(ranks), pa.string()),
                "priority": pa.array([r.priority for r in ranks.values()], pa.int64()),
                "release": pa.array([r.release for r in ranks.values()], pa.date32()),
            }
        ),
    )
    group = ", ".join(keys)
    dup = query(
        con,
        f"SELECT {group} FROM obs WHERE indicator IN (SELECT id FROM shared) "  # noqa: S608 (identifiers are checked names)
        f"GROUP BY {group} HAVING count(DISTINCT source) > 1",
    )
    if dup.num_rows == 0:
        return Derived(observations)
    con.register("dup", dup)
    on = " AND ".join(f"o.{k} = d.{k}" for k in keys)
    # Rank the rows of each conflicting key by the declared order (see the module doc).
    narrow = ", ".join(f"o.{c}" for c in [_ROW, *keys, "source", "value", "obs_status"])
    ranked = query(
        con,
        f"""
        SELECT {narrow}, coalesce(r.priority, 0) AS priority, r.release,
               row_number() OVER w AS place,
               count(*) OVER (PARTITION BY {", ".join(f"o.{k}" for k in keys)},
                              coalesce(r.priority, 0), r.release, o.obs_status = 'P') AS tied
        FROM obs o SEMI JOIN dup d ON {on}
        LEFT JOIN ranks r ON r.source = o.source
        WINDOW w AS (PARTITION BY {", ".join(f"o.{k}" for k in keys)}
                     ORDER BY coalesce(r.priority, 0) DESC, r.release DESC NULLS LAST,
                              (o.obs_status = 'P'), o.source)
        """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    con.register("ranked", ranked)
    pairs = query(
        con,
        f"""
        SELECT w.indicator, w.territory, w.period, {"".join(f"w.{b}, " for b in breakdowns)}
               w.source AS winner, w.value AS kept,
               l.source AS loser, l.value AS dropped, l.value - w.value AS difference,
               w.tied > 1 AS undeclared, w.priority AS p_w, l.priority AS p_l,
               w.release AS r_w, l.release AS r_l, w.obs_status AS s_w, l.obs_status AS s_l
        FROM ranked w JOIN ranked l
          ON {" AND ".join(f"w.{k} = l.{k}" for k in keys)} AND w.place = 1 AND l.place > 1
        ORDER BY {", ".join(f"w.{k}" for k in keys)}, l.source
        """,  # noqa: S608 (identifiers are checked names; data goes in as tables)
    )
    # Every row of a conflicting key was ranked: the others are the rest, as they came.
    alone = np.ones(observations.num_rows, dtype=bool)
    alone[ranked.column(_ROW).to_numpy()] = False
    rest = observations.filter(pa.array(alone))
    kept = ranked.filter(pc.equal(ranked["place"], 1)).column(_ROW)
    winners = observations.take(kept)
    table = pa.concat_tables([to_canonical(rest, breakdowns), to_canonical(winners, breakdowns)])
    parts = _parts(plain(pairs), breakdowns)
    return Derived(table, combine(parts), parts=parts)


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


_ROW = "__release_row"
"""The row number a conflicting row is ranked by (no canonical column has this name)."""

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
        c = rows.filter(differ).slice(0, MAX_LISTED).to_pydict()
        keys = zip(*(c[k] for k in order), strict=True)
        places = [tuple(null_last(v) for v in key) for key in keys]
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
            first = undeclared.slice(0, 1).to_pylist()[0]
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
