"""What the report shows, prepared once from the publishable view of an edition.

Everything the report reads goes through :func:`read_observations` (the publishable view), so
a suppressed value never reaches a page. Work is done on whole frames: one pass for the latest
values, one ``trend`` and one ``benchmark`` call for all series, one ranking per level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from welfare_observatory import analyze
from welfare_observatory._arrow import decoded as _decoded
from welfare_observatory._arrow import plain
from welfare_observatory.model.observation import BASE_COLUMNS, TOTAL

if TYPE_CHECKING:
    from welfare_observatory.catalog import Catalog
    from welfare_observatory.config import TerritorySettings
    from welfare_observatory.model import Indicator, Territory, Text
    from welfare_observatory.protect import DisclosureRule
    from welfare_observatory.store import KnowledgeBase
    from welfare_observatory.store.edition import Manifest
    from welfare_observatory.store.knowledge_base import EditionInfo
    from welfare_observatory.territory import TerritoryRegistry

__all__ = ["EditionData", "load_edition_data", "read_observations"]

SUPPRESSED = frozenset({"C", "D", "N"})
"""CONF_STATUS codes whose value must never be shown."""
MARKED = {"P": "p", "B": "b", "E": "e", "U": "u"}
"""OBS_STATUS codes shown next to a value, as one-letter markers."""
IMPROVING = frozenset(
    {"clear_improvement", "slight_improvement", "significant_progress", "moderate_progress"}
)
STABLE = frozenset({"stable", "insufficient_progress"})
WORSENING = frozenset(
    {
        "slight_worsening",
        "clear_worsening",
        "moderate_movement_away",
        "significant_movement_away",
        "movement_away",
    }
)


def read_observations(
    kb: KnowledgeBase,
    edition: str,
    rule: DisclosureRule | None = None,
    catalog: Catalog | None = None,
) -> pa.Table:
    """The publishable view of ``edition`` (disclosure control applied by ``rule``, default
    :class:`DisclosureRule` ``()``): the only way the report reads observations."""
    from welfare_observatory.protect import publishable_view

    indicators = list(catalog) if catalog is not None else None
    return publishable_view(kb, edition, rule, indicators=indicators)


def bucket(category: object) -> str:
    """Progress class -> ``improving``, ``stable``, ``worsening`` or ``not_assessed``."""
    if category in IMPROVING:
        return "improving"
    if category in STABLE:
        return "stable"
    if category in WORSENING:
        return "worsening"
    return "not_assessed"


@dataclass
class EditionData:
    """The prepared edition. Frames hold totals only (every breakdown at ``_T``)."""

    info: EditionInfo
    manifest: Manifest
    focus: Territory
    comparisons: list[Territory]
    """Comparison territories present in the data (region, Italy, ...), in config order."""
    indicators: list[Indicator]
    """Selected indicators with data, by domain then id."""
    frame: pd.DataFrame
    """indicator, territory, year, value, obs_status, conf_status, marker: one row per year."""
    latest: pd.DataFrame
    """The latest row of every (indicator, territory), indexed by both."""
    trends: pd.DataFrame
    """``analyze.trend`` rows indexed by (indicator, territory), with ``bucket``."""
    benchmark: pd.DataFrame
    ranks: pd.DataFrame
    """Rank of each municipality (district) among those of its level, indexed (ind, terr)."""
    warnings: pd.DataFrame
    municipalities: list[Territory]
    districts: list[Territory]
    names: dict[str, str]
    """Territory code -> name (a grouping's in Italian; ``grouping_names`` has both)."""
    method: Literal["istat", "eurostat"]
    series: dict[tuple[str, str], tuple[list[int], list[float | None]]] = field(repr=False)
    polarity: dict[str, str] = field(default_factory=dict)
    rule: DisclosureRule | None = None
    """The disclosure rule the publishable view applied (None: the default rule)."""
    catalog: Catalog | None = field(default=None, repr=False)
    groupings: list[Territory] = field(default_factory=list)
    """The observatory's declared groupings with data (``grouping:<id>``), by id."""
    grouping_names: dict[str, Text] = field(default_factory=dict)
    """Grouping code -> name in both languages."""
    provinces: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    """Rows of ``frame``'s shape for every province in the publishable view (for the map of
    the territory among Italy's provinces)."""
    progress: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    """The stored ``progress`` analysis (totals, shown territories), one row per horizon."""
    computed: tuple[str, ...] = ()
    """Analyses the edition does not store, which the report computed from the view."""
    view: pa.Table | None = field(default=None, repr=False)
    """The publishable view these frames come from, kept for the pages that read it whole
    (sections, deep-dive): disclosure control over the whole edition runs once."""

    def indicator_by_id(self) -> dict[str, Indicator]:
        return {i.id: i for i in self.indicators}


_plain = plain  # dictionary columns decoded, so pandas sees strings (welfare_observatory._arrow)


def totals(table: pa.Table) -> pd.DataFrame:
    """One row per (indicator, territory, year): totals of every breakdown, the latest
    period of the year, suppressed values blanked."""
    rows = _totals_rows(table)
    if (
        rows.num_rows > 0  # an empty frame's dtypes are pandas' own (object)
        and "period_start" in rows.column_names
        and all(rows[c].null_count == 0 for c in ("indicator", "territory", "period_start"))
        and "value" in rows.column_names
    ):
        return _totals_arrow(rows)
    return _totals_pandas(rows)


def _totals_arrow(rows: pa.Table) -> pd.DataFrame:
    """:func:`_totals_pandas` for rows with every key and ``period_start``, in Arrow: a
    stable sort, the last row of each (indicator, territory, year), one conversion."""
    import pyarrow.compute as pc

    rows = rows.append_column("year", pc.year(rows["period_start"]).cast(pa.int64()))
    rows = rows.sort_by(
        [("indicator", "ascending"), ("territory", "ascending"), ("period_start", "ascending")]
    )
    n = rows.num_rows
    if n > 1:
        same = None
        for name in ("indicator", "territory", "year"):
            column = rows[name].combine_chunks()
            equal = pc.equal(column.slice(0, n - 1), column.slice(1))
            same = equal if same is None else pc.and_(same, equal)
        assert same is not None
        rows = rows.filter(pa.concat_arrays([pc.invert(same), pa.array([True])]))
    text = pa.string()
    conf = (
        pc.fill_null(rows["conf_status"].cast(text), "F")
        if "conf_status" in rows.column_names
        else pa.array(["F"] * rows.num_rows, text)
    )
    status = (
        pc.fill_null(rows["obs_status"].cast(text), "A")
        if "obs_status" in rows.column_names
        else pa.array(["A"] * rows.num_rows, text)
    )
    suppressed = pc.is_in(conf, value_set=pa.array(sorted(SUPPRESSED), text))
    value = pc.if_else(suppressed, pa.scalar(None, pa.float64()), rows["value"].cast(pa.float64()))
    codes = pa.array(list(MARKED), text)
    marks = pa.array(list(MARKED.values()), text)
    marker = pc.fill_null(pc.take(marks, pc.index_in(status, value_set=codes)), "")
    marker = pc.if_else(suppressed, "s", marker)

    columns = {
        "indicator": rows["indicator"],
        "territory": rows["territory"],
        "year": rows["year"],
        "value": value,
        "obs_status": status,
        "conf_status": conf,
        "marker": marker,
    }
    if "source" in rows.column_names:
        columns["source"] = pc.fill_null(rows["source"].cast(text), "")
    # Arrow text becomes pandas' default text dtype, as the arrays of str did.
    frame: pd.DataFrame = pa.table(columns).to_pandas()
    return frame


def _totals_pandas(rows: pa.Table) -> pd.DataFrame:
    """:func:`totals` of rows already filtered to the totals, in pandas (for tables without
    a complete ``period_start``)."""
    frame = rows.to_pandas()
    if "period_start" in frame.columns and frame["period_start"].notna().all():
        frame["year"] = pd.to_datetime(frame["period_start"]).dt.year.astype("int64")
        order = ["indicator", "territory", "period_start"]
    else:
        frame["year"] = frame["period"].astype(str).str[:4].astype("int64")
        order = ["indicator", "territory", "period"]
    frame = frame.sort_values(order, kind="stable")
    frame = frame.drop_duplicates(["indicator", "territory", "year"], keep="last")
    conf = frame.get("conf_status", pd.Series("F", index=frame.index)).fillna("F")
    status = frame.get("obs_status", pd.Series("A", index=frame.index)).fillna("A")
    suppressed = conf.isin(list(SUPPRESSED))
    value = frame["value"].astype("float64").where(~suppressed)
    marker = status.map(MARKED).fillna("").where(~suppressed, "s")
    out = pd.DataFrame(
        {
            "indicator": frame["indicator"].astype(str).to_numpy(),
            "territory": frame["territory"].astype(str).to_numpy(),
            "year": frame["year"].to_numpy(),
            "value": value.to_numpy(),
            "obs_status": status.astype(str).to_numpy(),
            "conf_status": conf.astype(str).to_numpy(),
            "marker": marker.astype(str).to_numpy(),
        }
    )
    if "source" in frame.columns:
        # Which source (hence which upstream file and release) the value came from.
        out["source"] = frame["source"].astype("string").fillna("").to_numpy()
    return out.sort_values(["indicator", "territory", "year"], kind="stable").reset_index(drop=True)


_TOTALS_COLUMNS = (
    "indicator",
    "territory",
    "period",
    "period_start",
    "value",
    "obs_status",
    "conf_status",
    "source",
)
"""The columns :func:`totals` reads."""


def _totals_rows(table: pa.Table) -> pa.Table:
    """The rows of ``table`` where every breakdown is the total or missing, and only the
    columns :func:`totals` reads, decoded: filtered in Arrow, so pandas never holds a copy
    of the whole view."""
    import pyarrow.compute as pc

    keep = None
    for name in table.column_names:
        if name in BASE_COLUMNS or name == "domain":
            continue
        column = _decoded(table[name])
        total = pc.is_null(column, nan_is_null=True)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            total = pc.or_(total, pc.fill_null(pc.equal(column, TOTAL), False))
        keep = total if keep is None else pc.and_(keep, total)
    names = [c for c in _TOTALS_COLUMNS if c in table.column_names]
    table = table.select(names)
    if keep is not None:
        table = table.filter(keep)
    return _plain(table)


def _series(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[list[int], list[float | None]]]:
    """(indicator, territory) -> (years, values) from a frame sorted by those keys."""
    if len(frame) == 0:
        return {}
    indicators = frame["indicator"].to_numpy(dtype=object)
    territories = frame["territory"].to_numpy(dtype=object)
    changed = (indicators[1:] != indicators[:-1]) | (territories[1:] != territories[:-1])
    starts = np.flatnonzero(np.r_[True, changed])
    ends = np.r_[starts[1:], len(indicators)]
    years = frame["year"].tolist()
    values = [None if v != v else v for v in frame["value"].tolist()]  # NaN -> None
    return {
        (indicators[s], territories[s]): (years[s:e], values[s:e])
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    }


def _ranks(frame: pd.DataFrame, levels: dict[str, str], polarity: dict[str, str]) -> pd.DataFrame:
    """Rank (1 = best) at each indicator's latest year among territories of the same level."""
    sub = frame[frame["territory"].isin(list(levels)) & frame["value"].notna()].copy()
    sub = sub[sub["obs_status"] != "U"]  # low reliability: never ranked (docs/methods.md)
    if sub.empty:
        return pd.DataFrame(
            columns=["rank", "n"],
            index=pd.MultiIndex.from_arrays([[], []], names=["indicator", "territory"]),
        )
    sub["level"] = sub["territory"].map(levels)
    sub = sub[sub["year"] == sub.groupby(["indicator", "level"])["year"].transform("max")]
    sign = sub["indicator"].map(polarity).map({"negative": -1.0}).fillna(1.0)
    sub["score"] = sub["value"] * sign
    group = sub.groupby(["indicator", "level"])["score"]
    sub["rank"] = group.rank(ascending=False, method="min").astype("int64")
    sub["n"] = group.transform("size").astype("int64")
    return sub.set_index(["indicator", "territory"])[["rank", "n"]]


def load_edition_data(
    kb: KnowledgeBase,
    edition: str | None,
    *,
    catalog: Catalog,
    territories: TerritoryRegistry,
    focus: str | None = None,
    comparisons: tuple[str, ...] = (),
    method: Literal["istat", "eurostat"] = "istat",
    rule: DisclosureRule | None = None,
    settings: TerritorySettings | None = None,
) -> EditionData:
    """Read and prepare ``edition`` (default: the latest) for the report. ``settings``
    (the observatory's ``territory:``) names and lists the members of its groupings."""
    info = kb.edition(edition)
    manifest = kb.manifest(info.name)
    view = read_observations(kb, info.name, rule, catalog)
    breakdown_columns = [c for c in view.column_names if c not in BASE_COLUMNS and c != "domain"]
    frame = totals(view)
    present = set(frame["territory"].unique().tolist())
    groupings, grouping_names = _groupings(settings, present)
    declared = {g.code: g for g in groupings}
    code = focus or manifest.territory
    focus_territory = declared[code] if code in declared else territories.get(code)
    above = [] if code in declared else territories.ancestors(focus_territory.code)
    wanted = list(comparisons) or [t.code for t in above]
    comparison = [territories.get(c) for c in dict.fromkeys(wanted) if c in present]
    ids = list(manifest.indicators) or sorted(frame["indicator"].unique().tolist())
    with_data = set(frame["indicator"].unique().tolist())
    indicators = sorted(
        (catalog.get(i) for i in dict.fromkeys(ids) if i in with_data and i in catalog),
        key=lambda i: (i.domain.value, i.id),
    )
    chosen = {i.id for i in indicators}
    frame = frame[frame["indicator"].isin(list(chosen))].reset_index(drop=True)
    polarity = {i.id: i.polarity.value for i in indicators}

    below = _below(focus_territory, territories, present)
    municipalities = sorted(
        (t for t in below if t.level.value == "municipality"), key=lambda t: t.name
    )
    districts = sorted((t for t in below if t.level.value == "district"), key=lambda t: t.name)
    levels = {t.code: t.level.value for t in (*municipalities, *districts)}
    # Groupings get no rank: they are the observatory's own areas, not peers of each other.
    shown = {focus_territory.code, *(t.code for t in comparison), *levels, *declared}
    provinces = frame[frame["territory"].str.fullmatch(r"\d{3}")].reset_index(drop=True)
    frame = frame[frame["territory"].isin(list(shown))].reset_index(drop=True)

    stored = StoredAnalyses(kb, info.name, frame, method, breakdown_columns)
    trends = stored.trend()
    if trends is None:
        trends = analyze.trend(_trend_input(frame), polarity=polarity, method=method)
    trends["bucket"] = trends["category"].map(bucket)
    trends = trends.set_index(["indicator", "territory"])
    bench = stored.benchmark(focus_territory.code)
    if bench is None:
        bench = _benchmark(
            _trend_input(frame), focus_territory.code, [t.code for t in comparison], polarity
        )
    warnings = stored.early_warnings()
    if warnings is None:
        municipal = _trend_input(frame)
        municipal = municipal[municipal["territory"].isin([t.code for t in municipalities])]
        municipal = municipal[municipal["obs_status"] != "U"]  # low reliability: no warning
        warnings = (
            analyze.early_warnings(municipal, catalog=polarity)
            if not municipal.empty
            else pd.DataFrame()
        )
    progress = stored.progress()
    names = {
        t.code: t.name
        for t in (*groupings, focus_territory, *comparison, *municipalities, *districts)
    }
    return EditionData(
        info=info,
        manifest=manifest,
        focus=focus_territory,
        comparisons=comparison,
        indicators=indicators,
        frame=frame,
        latest=frame.drop_duplicates(["indicator", "territory"], keep="last").set_index(
            ["indicator", "territory"]
        ),
        trends=trends,
        benchmark=bench,
        ranks=_ranks(frame, levels, polarity),
        warnings=warnings,
        municipalities=municipalities,
        districts=districts,
        names=names,
        method=method,
        series=_series(frame),
        polarity=polarity,
        rule=rule,
        catalog=catalog,
        groupings=[g for g in groupings if g.code != focus_territory.code],
        grouping_names=grouping_names,
        provinces=provinces,
        progress=progress if progress is not None else pd.DataFrame(),
        computed=tuple(stored.missing),
        view=view,
    )


def _trend_input(frame: pd.DataFrame) -> pd.DataFrame:
    """The yearly totals as ``analyze`` reads them (used only when nothing is stored)."""
    out = frame.assign(period=frame["year"].astype(str))[
        ["indicator", "territory", "period", "value", "obs_status"]
    ]
    return out[out["value"].notna()]


ISTAT_CLASSES = frozenset(
    {"clear_improvement", "slight_improvement", "stable", "slight_worsening", "clear_worsening"}
)


class StoredAnalyses:
    """The analyses the build stored in the edition (read with ``KnowledgeBase.analysis``),
    reduced to what the publishable view lets the report show.

    The build computes them before disclosure control, so a row is kept only when the values
    it summarises are visible: a series (trend, progress) with a confidential value in its
    window, a benchmark whose territory or comparison is confidential, and an early warning
    of a municipality (or among peers) with a confidential value that year are dropped.
    Each accessor returns None when the edition stores no such analysis (or one made with
    the other progress method); the report then computes it and says so (``missing``).
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        edition: str,
        frame: pd.DataFrame,
        method: str,
        breakdowns: list[str],
    ) -> None:
        self.kb, self.edition, self.frame, self.method = kb, edition, frame, method
        self.breakdowns = breakdowns
        self.missing: list[str] = []
        self.hidden = frame.loc[frame["marker"] == "s", ["indicator", "territory", "year"]]
        self.visible = frame.loc[frame["marker"] != "s", ["indicator", "territory", "year"]]

    def _read(self, name: str, computed: bool = True) -> pd.DataFrame | None:
        """The stored table (totals only); None when absent. ``computed``: the report then
        computes it itself (so ``missing`` names it)."""
        from welfare_observatory.errors import UnknownIdError

        try:
            table = self.kb.analysis(name, self.edition)
        except UnknownIdError:
            if computed:
                self.missing.append(name)
            return None
        # Totals only (every breakdown column of the edition at _T or empty), as the
        # report shows them: the same rule as ``totals``.
        for column in self.breakdowns:
            if column in table.columns:
                text = table[column].astype("string")
                table = table[text.isna() | text.eq(TOTAL)]
        for column in ("indicator", "territory", "against"):
            if column in table.columns:
                table[column] = table[column].astype(str)
        return table.reset_index(drop=True)

    def _method_matches(self, table: pd.DataFrame) -> bool:
        if "method" in table.columns:
            return bool((table["method"].astype(str) == self.method).all())
        judged = set(table["category"].dropna().astype(str)) - {"not_assessable"}
        istat = judged <= ISTAT_CLASSES
        return istat if self.method == "istat" else not judged & ISTAT_CLASSES

    def _shown_series(self, table: pd.DataFrame) -> pd.DataFrame:
        """Rows of series the report shows, with no confidential value in their window."""
        keys = self.frame[["indicator", "territory"]].drop_duplicates()
        table = table.merge(keys, on=["indicator", "territory"], how="inner")
        if self.hidden.empty or table.empty:
            return table
        hits = table.reset_index().merge(self.hidden, on=["indicator", "territory"])
        start = hits["start_year"].astype("Float64").fillna(-1e9)
        end = hits["end_year"].astype("Float64").fillna(1e9)
        inside = hits[(hits["year"] >= start) & (hits["year"] <= end)]
        dropped = table.index.isin(inside["index"].unique().tolist())
        return table[~dropped].reset_index(drop=True)

    def trend(self) -> pd.DataFrame | None:
        table = self._read("trend")
        if table is None:
            return None
        if not self._method_matches(table):
            self.missing.append("trend")
            return None
        table = self._shown_series(table)
        table["category"] = table["category"].astype(object)
        return table

    def progress(self) -> pd.DataFrame | None:
        # Progress by horizon is shown only when stored: the report never computes it.
        table = self._read("progress", computed=False)
        if table is None or not self._method_matches(table):
            return None
        return self._shown_series(table)

    def benchmark(self, focus: str) -> pd.DataFrame | None:
        table = self._read("benchmark")
        if table is None:
            return None
        table = table[table["territory"] == focus] if "territory" in table.columns else table
        hidden = self.hidden
        if not hidden.empty and not table.empty:
            secret = set(hidden["indicator"][hidden["territory"].isin([focus, *table["against"]])])
            table = table[~table["indicator"].isin(list(secret))]
        visible = set(self.visible["indicator"][self.visible["territory"] == focus])
        return table[table["indicator"].isin(list(visible))].reset_index(drop=True)

    def early_warnings(self) -> pd.DataFrame | None:
        table = self._read("early_warnings")
        if table is None:
            return None
        if table.empty:
            return pd.DataFrame()
        table["year"] = table["year"].astype("int64")
        table = table.merge(self.visible, on=["indicator", "territory", "year"], how="inner")
        if not self.hidden.empty:
            secret = self.hidden[["indicator", "year"]].drop_duplicates()
            table = table.merge(secret, on=["indicator", "year"], how="left", indicator="_hit")
            table = table[table["_hit"] == "left_only"].drop(columns="_hit")
        if "rank" in table.columns:
            table = table.sort_values("rank", kind="stable")
        return table.reset_index(drop=True)


def _groupings(
    settings: TerritorySettings | None, present: set[str]
) -> tuple[list[Territory], dict[str, Text]]:
    """The declared groupings with data, as territories (members from ``settings``), and
    their names. Without ``settings`` a ``grouping:<id>`` in the data is named from its id."""
    from welfare_observatory.config import readable_id
    from welfare_observatory.derive import GROUPING_PREFIX
    from welfare_observatory.model import Territory, TerritoryLevel, Text

    declared = settings.groupings if settings is not None else {}
    codes = {GROUPING_PREFIX + key: key for key in declared}
    codes |= {c: c.removeprefix(GROUPING_PREFIX) for c in present if c.startswith(GROUPING_PREFIX)}
    found: list[Territory] = []
    names: dict[str, Text] = {}
    for code, key in sorted(codes.items()):
        if code not in present:
            continue
        if settings is not None and key in declared:
            names[code] = settings.grouping_name(key)
        else:
            names[code] = Text(it=readable_id(key), en=readable_id(key))
        found.append(
            Territory(
                code=code,
                level=TerritoryLevel.GROUPING,
                name=names[code].get("it"),
                members=declared.get(key, ()),
            )
        )
    return found, names


def _below(focus: Territory, territories: TerritoryRegistry, present: set[str]) -> list[Territory]:
    """Territories with data that lie inside ``focus`` (municipalities, districts; the
    members of a grouping)."""
    if focus.members:
        # A grouping (the observatory's own area): its members are what lies inside it.
        return [territories.get(c) for c in focus.members if c in present and c in territories]
    found = []
    for code in sorted(present):
        if code == focus.code or code not in territories:
            continue
        if any(a.code == focus.code for a in territories.ancestors(code)):
            found.append(territories.get(code))
    return found


def _benchmark(
    frame: pd.DataFrame, focus: str, against: list[str], polarity: dict[str, str]
) -> pd.DataFrame:
    """The focus territory against its comparisons; empty when it has no value."""
    has_focus = frame["territory"] == focus
    if not has_focus.any() or not against:
        return pd.DataFrame(columns=["indicator", "against", "rank", "n_compared", "comparison"])
    keep = frame["indicator"].isin(frame.loc[has_focus, "indicator"].unique().tolist())
    result: pd.DataFrame = analyze.benchmark(
        frame[keep], territory=focus, against=against, polarity=polarity
    )
    return result
