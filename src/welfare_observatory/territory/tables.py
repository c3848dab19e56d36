"""Columnar views of the registry for vectorized joins: the hierarchy and the code table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.errors import ConfigError, Location, UnknownTerritoryError
from welfare_observatory.model.territory import OPEN_END, TerritoryLevel
from welfare_observatory.territory import _store
from welfare_observatory.territory.names import normalize_name

if TYPE_CHECKING:
    from welfare_observatory.territory._registry import TerritoryRegistry

__all__ = [
    "HIERARCHY_COLUMNS",
    "LEVEL_COLUMN",
    "Districts",
    "code_table",
    "declared_districts",
    "hierarchy",
]

HIERARCHY_COLUMNS = ("municipality", "district", "province", "region", "nuts1", "country")
LEVEL_COLUMN = {
    TerritoryLevel.COUNTRY: "country",
    TerritoryLevel.NUTS1: "nuts1",
    TerritoryLevel.REGION: "region",
    TerritoryLevel.PROVINCE: "province",
    TerritoryLevel.MUNICIPALITY: "municipality",
}
"""The hierarchy column that holds each level's code."""
Districts = Mapping[str, Sequence[str]]
"""Declared district membership: district id -> municipality codes."""


def _level_maps(reg: TerritoryRegistry) -> tuple[dict[str, str], dict[str, str]]:
    region_of = {t.code: t.parent or "" for t in reg if t.level == TerritoryLevel.PROVINCE}
    nuts1_of = {t.code: t.parent or "" for t in reg if t.level == TerritoryLevel.REGION}
    return region_of, nuts1_of


def _district_of(reg: TerritoryRegistry) -> dict[str, str]:
    return {m: t.code for t in reg.districts() for m in t.members}


def declared_districts(
    reg: TerritoryRegistry, at: date | None, districts: Districts
) -> dict[str, str]:
    """Municipality code in force on ``at`` -> district id, from a declared membership.

    Keys are district ids (``"district:T01024"`` or ``"T01024"``), values municipality
    codes; a ceased member counts as its successors on ``at`` (today when ``None``).
    Raises :class:`UnknownTerritoryError` for an unknown district or code, and
    :class:`ConfigError` for a member that is not a municipality or that two districts
    claim (districts partition the municipalities they cover).
    """
    out: dict[str, str] = {}
    for key, members in districts.items():
        code = key if key.startswith("district:") else f"district:{key}"
        district = reg.get(code) if code in reg else None
        if district is None or district.level != TerritoryLevel.DISTRICT:
            raise UnknownTerritoryError(
                key,
                candidates=[t.code for t in reg.districts()],
                message=f"unknown district {key!r}",
                location=Location(key=key),
            )
        if isinstance(members, str):
            raise ConfigError(
                f"members of {code} must be a list of municipality codes, not a string",
                location=Location(key=code),
            )
        for member in members:
            territory = reg.get(member)
            if territory.level != TerritoryLevel.MUNICIPALITY:
                raise ConfigError(
                    f"{member!r} in {code} is a {territory.level.value}, not a municipality",
                    location=Location(key=code, field=member),
                    hint="list the municipality codes of the district",
                )
            for heir in reg.successors(territory.code, at):
                other = out.setdefault(heir, code)
                if other != code:
                    raise ConfigError(
                        f"municipality {heir} is declared in two districts: {other}, {code}",
                        location=Location(key=code, field=member),
                        hint="a municipality belongs to one social district",
                    )
    return out


def hierarchy(
    reg: TerritoryRegistry,
    at: date | None = None,
    *,
    districts: Districts | None = None,
) -> pa.Table:
    """One row per municipality in force on ``at`` (default: the current Istat list).

    Columns ``municipality, district, province, region, nuts1, country`` (strings). The
    shipped districts have no members, so ``district`` is null unless ``districts``
    declares them (see :func:`declared_districts`; declared values win over shipped ones).
    For a past date, province and region are those of the ANPR record in force that day.
    """
    base = _hierarchy(reg, at)
    if not districts:
        return base
    membership = declared_districts(reg, at, districts)
    keys = sorted(membership)
    declared = pc.take(
        pa.array([membership[k] for k in keys], pa.string()),
        pc.index_in(base["municipality"], value_set=pa.array(keys, pa.string())),
    )
    column = pc.coalesce(declared, base["district"].combine_chunks())
    return base.set_column(base.schema.get_field_index("district"), "district", column)


def _hierarchy(reg: TerritoryRegistry, at: date | None) -> pa.Table:
    cache = reg.table_cache
    key = ("hierarchy", at or OPEN_END)
    if key not in cache:
        cache[key] = _stored_hierarchy(reg, at)
    return cache[key]


_HIERARCHY_COLUMNS = ["municipality", "district", "province", "region", "nuts1", "country"]


def _stored_hierarchy(reg: TerritoryRegistry, at: date | None) -> pa.Table:
    """:func:`_build_hierarchy` through the start-up cache: every build computes the table
    of its reference date again otherwise (Python passes over the registry, the intervals
    file read). Keyed by the registry's own key (its data and this package's code), the
    intervals file and the date."""
    from pathlib import Path

    from welfare_observatory import _startup_cache

    if reg.cache_key is None:
        return _build_hierarchy(reg, at)
    try:
        key = _startup_cache.inputs_digest(
            [reg.data_dir / "intervals.parquet", Path(__file__)],
            reg.cache_key,
            (at or OPEN_END).isoformat(),
        )
    except OSError:
        return _build_hierarchy(reg, at)  # the slow path reports the missing file

    def restore(payload: object) -> pa.Table:
        if not isinstance(payload, pa.Table) or payload.column_names != _HIERARCHY_COLUMNS:
            raise TypeError("start-up cache entry of another shape")
        return payload

    return _startup_cache.cached(
        "territory_hierarchy", key, build=lambda: _build_hierarchy(reg, at), restore=restore
    )


def _build_hierarchy(reg: TerritoryRegistry, at: date | None) -> pa.Table:
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
