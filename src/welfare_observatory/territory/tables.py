"""Columnar views of the registry for vectorized joins: the hierarchy and the code table."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.model.territory import OPEN_END, TerritoryLevel
from welfare_observatory.territory import _store
from welfare_observatory.territory.names import normalize_name

if TYPE_CHECKING:
    from welfare_observatory.territory._registry import TerritoryRegistry

__all__ = ["HIERARCHY_COLUMNS", "code_table", "hierarchy"]

HIERARCHY_COLUMNS = ("municipality", "district", "province", "region", "nuts1", "country")


def _level_maps(reg: TerritoryRegistry) -> tuple[dict[str, str], dict[str, str]]:
    region_of = {t.code: t.parent or "" for t in reg if t.level == TerritoryLevel.PROVINCE}
    nuts1_of = {t.code: t.parent or "" for t in reg if t.level == TerritoryLevel.REGION}
    return region_of, nuts1_of


def _district_of(reg: TerritoryRegistry) -> dict[str, str]:
    return {m: t.code for t in reg.districts() for m in t.members}


def hierarchy(reg: TerritoryRegistry, at: date | None = None) -> pa.Table:
    """One row per municipality in force on ``at`` (default: the current Istat list).

    Columns ``municipality, district, province, region, nuts1, country`` (strings; district
    is null where no district membership is known, which is everywhere in the shipped data).
    For a past date, province and region are those of the ANPR record in force that day.
    """
    cache = reg.table_cache
    key = ("hierarchy", at or OPEN_END)
    if key in cache:
        return cache[key]
    region_of, nuts1_of = _level_maps(reg)
    if at is None:
        rows = [
            (t.code, t.parent or "")
            for t in reg
            if t.level == TerritoryLevel.MUNICIPALITY and t.valid_to == OPEN_END
        ]
        municipality = pa.array([r[0] for r in rows], pa.string())
        province = pa.array([r[1] for r in rows], pa.string())
        region = pa.array([region_of.get(r[1]) for r in rows], pa.string())
    else:
        spans = _store.read("intervals.parquet", reg.data_dir)
        scalar = pa.scalar(at, pa.date32())
        mask = pc.and_(
            pc.less_equal(spans["valid_from"], scalar), pc.greater_equal(spans["valid_to"], scalar)
        )
        chosen = spans.filter(mask)
        municipality = chosen["code"].cast(pa.string()).combine_chunks()
        province = chosen["province"].cast(pa.string()).combine_chunks()
        region = chosen["region"].cast(pa.string()).combine_chunks()
    # nuts1 through a dictionary take: vectorized over rows, one Python step per region
    regions = sorted(nuts1_of)
    index = pc.index_in(region, value_set=pa.array(regions, pa.string()))
    nuts1 = pc.take(pa.array([nuts1_of[r] for r in regions], pa.string()), index)
    districts = _district_of(reg)
    if districts:
        keys = sorted(districts)
        district = pc.take(
            pa.array([districts[k] for k in keys], pa.string()),
            pc.index_in(municipality, value_set=pa.array(keys, pa.string())),
        )
    else:
        district = pa.nulls(len(municipality), pa.string())
    table = pa.table(
        {
            "municipality": municipality,
            "district": district,
            "province": province,
            "region": region,
            "nuts1": nuts1,
            "country": pa.array(["IT"] * len(municipality), pa.string()),
        }
    ).sort_by("municipality")
    cache[key] = table
    return table


def code_table(reg: TerritoryRegistry) -> pa.Table:
    """Every code form mapped to canonical codes, for joins instead of loops.

    Columns: ``key`` (the form as it appears in data), ``system`` (``istat``,
    ``istat_unpadded``, ``belfiore``, ``nuts2024``, ``nuts2021``, ``itter107``, ``name``,
    ``name_province``), ``territory`` (canonical code), ``level``, ``current`` (in force in
    the current list). ``name`` keys are :func:`normalize_name` keys; ``name_province`` keys
    are ``"<name key>|<province code>"`` and ``"<name key>|<abbreviation>"``. A key can map
    to several territories (names, Belfiore codes reused over time): filter on ``current``
    or ``level`` before joining when one match is needed.
    """
    cache = reg.table_cache
    if ("code_table", None) in cache:
        return cache[("code_table", None)]
    abbreviation = {
        t.code: t.abbreviation for t in reg if t.level == TerritoryLevel.PROVINCE and t.abbreviation
    }
    rows: list[tuple[str, str, str, str, bool]] = []
    for t in reg:
        current = t.valid_to == OPEN_END
        level = t.level.value
        add = rows.append
        add((t.code, "istat", t.code, level, current))
        if t.code.isdigit() and t.code.lstrip("0") != t.code:
            add((t.code.lstrip("0") or "0", "istat_unpadded", t.code, level, current))
        if t.istat_code:
            add((t.istat_code, "itter107", t.code, level, current))
        if t.belfiore:
            add((t.belfiore, "belfiore", t.code, level, current))
        if t.level in (TerritoryLevel.MUNICIPALITY, TerritoryLevel.DISTRICT):
            nuts_codes: tuple[str | None, ...] = ()
        elif t.level == TerritoryLevel.NUTS1:
            nuts_codes = (t.nuts1,)
        else:
            nuts_codes = (t.nuts3,) if t.level == TerritoryLevel.PROVINCE else (t.nuts2,)
        for code in nuts_codes:
            if code:
                add((code, "nuts2024", t.code, level, current))
        if t.level == TerritoryLevel.PROVINCE:
            old = reg.nuts_2021(t.code).get("nuts3")
            if old:
                add((old, "nuts2021", t.code, level, current))
        names = {normalize_name(t.name)}
        if t.name_other:
            names |= {normalize_name(t.name_other), normalize_name(f"{t.name} {t.name_other}")}
        for name in names:
            add((name, "name", t.code, level, current))
            if t.level == TerritoryLevel.MUNICIPALITY and t.parent:
                add((f"{name}|{t.parent}", "name_province", t.code, level, current))
                if t.parent in abbreviation:
                    add(
                        (
                            f"{name}|{abbreviation[t.parent]}",
                            "name_province",
                            t.code,
                            level,
                            current,
                        )
                    )
    legacy = _store.read("aliases.parquet", reg.data_dir).to_pydict()
    for alias, target in zip(legacy["alias"], legacy["territory"], strict=True):
        rows.append((alias, "itter107", target, reg.get(target).level.value, True))
    unique = sorted(set(rows))
    table = pa.table(
        {
            "key": pa.array([r[0] for r in unique], pa.string()),
            "system": pa.array([r[1] for r in unique], pa.string()).dictionary_encode(),
            "territory": pa.array([r[2] for r in unique], pa.string()),
            "level": pa.array([r[3] for r in unique], pa.string()).dictionary_encode(),
            "current": pa.array([r[4] for r in unique], pa.bool_()),
        }
    )
    cache[("code_table", None)] = table
    return table
