"""Rebuild the report's map boundaries in ``src/welfare_observatory/publish/report/boundaries/``.

Inputs (read-only), openpolis ``geojson-italy`` (limits of June 2023, CC BY 4.0), as copied to
``../shared/data/more`` (see its SOURCES.md):

* ``geo_openpolis_2023_IT_province.topo.json`` (107 provinces) and
  ``geo_openpolis_2023_IT_regioni.topo.json`` (20 regions);
* ``geo_openpolis_2023_P{096,017,022}_comuni.topo.json``: municipalities of Biella, Brescia and
  Trento; ``..._comuni.geojson`` (unsimplified) only to repair a null TopoJSON geometry
  (Miagliano, 096034, has none in the Biella file).

Each TopoJSON arc is simplified once (Douglas-Peucker), so neighbours keep a common border,
then snapped to a grid and written as delta-encoded integers (see ``geo.py`` for the format).
Usage (from the repository root)::

    .venv/bin/python tools/build_report_boundaries.py [--data ../shared/data/more]

The output is deterministic (sorted, no timestamps).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from welfare_observatory.publish.report.geo import FORMAT, simplify

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "more"
OUT = REPO / "src" / "welfare_observatory" / "publish" / "report" / "boundaries"

# (output name, input file, level, code property, name property, parent property,
#  simplification tolerance and grid step in degrees). Italy is drawn about 300 px wide
# (0.04 degrees a pixel), a province about 500 px wide (0.002-0.004 degrees a pixel): the
# tolerance stays below a pixel and the grid below half of it.
LAYERS: list[tuple[str, str, str, str, str, str, float, float]] = [
    (
        "IT_provinces",
        "geo_openpolis_2023_IT_province.topo.json",
        "province",
        "prov_istat_code",
        "prov_name",
        "reg_istat_code",
        0.02,
        0.01,
    ),
    (
        "IT_regions",
        "geo_openpolis_2023_IT_regioni.topo.json",
        "region",
        "reg_istat_code",
        "reg_name",
        "",
        0.02,
        0.01,
    ),
    *(
        (
            f"P{code}_municipalities",
            f"geo_openpolis_2023_P{code}_comuni.topo.json",
            "municipality",
            "com_istat_code",
            "name",
            "prov_istat_code",
            0.0015,
            0.0008,
        )
        for code in ("096", "017", "022")
    ),
]


def decode_arcs(topo: dict[str, Any]) -> list[np.ndarray]:
    """Absolute lon/lat of every arc (quantized TopoJSON: delta-encoded, then transformed)."""
    scale = np.array(topo["transform"]["scale"], dtype="float64")
    shift = np.array(topo["transform"]["translate"], dtype="float64")
    return [
        np.cumsum(np.array(arc, dtype="float64"), axis=0) * scale + shift for arc in topo["arcs"]
    ]


def ring_of(indices: list[int], arcs: list[np.ndarray]) -> np.ndarray:
    """A ring joined from arcs (``~i``: arc ``i`` reversed); shared end points kept once."""
    parts = []
    for k, index in enumerate(indices):
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        parts.append(arc if k == 0 else arc[1:])
    return np.concatenate(parts)


def encode(ring: np.ndarray, step: float, origin: tuple[float, float]) -> list[int] | None:
    """Grid-snapped, delta-encoded ``[x0, y0, dx1, dy1, ...]``; None when fewer than 3
    distinct points are left (a sliver lost to the grid)."""
    grid = np.rint((ring - np.array(origin)) / step).astype("int64")
    keep = np.r_[True, np.any(grid[1:] != grid[:-1], axis=1)]
    grid = grid[keep]
    if len(grid) > 1 and np.all(grid[0] == grid[-1]):
        grid = grid[:-1]  # closing point implied
    if len(np.unique(grid, axis=0)) < 3:
        return None
    deltas = np.vstack([grid[:1], np.diff(grid, axis=0)])
    return [int(v) for v in deltas.ravel()]


def repair(path: Path, code_property: str) -> dict[str, list[list[np.ndarray]]]:
    """Polygons (lists of rings) of every feature of a GeoJSON file, by code."""
    found: dict[str, list[list[np.ndarray]]] = {}
    for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
        geometry = feature["geometry"]
        if geometry is None:
            continue
        polygons = (
            [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        )
        found[str(feature["properties"][code_property])] = [
            [np.array(r, dtype="float64")[:, :2] for r in polygon] for polygon in polygons
        ]
    return found


def build_layer(
    data: Path, spec: tuple[str, str, str, str, str, str, float, float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    name, file, level, code_p, name_p, parent_p, tolerance, step = spec
    raw = (data / file).read_bytes()
    topo = json.loads(raw)
    arcs = [simplify(arc, tolerance) for arc in decode_arcs(topo)]
    (collection,) = topo["objects"].values()
    bbox = topo["bbox"]
    origin = (round(bbox[0] - step, 4), round(bbox[1] - step, 4))
    geojson = data / file.replace(".topo.json", ".geojson")
    repaired: list[str] = []
    features = []
    for geometry in collection["geometries"]:
        props = geometry["properties"]
        code = str(props[code_p])
        polygons: list[list[np.ndarray]]
        if geometry.get("type") == "Polygon":
            polygons = [[ring_of(r, arcs) for r in geometry["arcs"]]]
        elif geometry.get("type") == "MultiPolygon":
            polygons = [[ring_of(r, arcs) for r in p] for p in geometry["arcs"]]
        else:
            # No shape in the simplified file: take it from the unsimplified GeoJSON.
            polygons = [[simplify(r, tolerance) for r in p] for p in repair(geojson, code_p)[code]]
            repaired.append(code)
        rings = [[encode(r, step, origin) for r in p] for p in polygons]
        # A polygon whose outer ring vanished on the grid is dropped with its holes; a
        # feature keeps at least its largest polygon, unsimplified, so every area is drawn.
        kept = [[r for r in p if r is not None] for p in rings if p[0] is not None]
        if not kept:
            largest = max(polygons, key=lambda p: len(p[0]))
            kept = [[r for r in (encode(x, step / 4, origin) for x in largest) if r]]
        features.append(
            {
                "code": code,
                "name": str(props[name_p]),
                "parent": str(props[parent_p]) if parent_p else "",
                "polygons": kept,
            }
        )
    features.sort(key=lambda f: f["code"])
    layer = {
        "format": FORMAT,
        "layer": name,
        "level": level,
        "step": step,
        "origin": list(origin),
        "features": features,
    }
    meta = {
        "file": f"{name}.json",
        "input": file,
        "input_sha256": hashlib.sha256(raw).hexdigest(),
        "features": len(features),
        "tolerance_degrees": tolerance,
        "grid_degrees": step,
        "repaired_from_geojson": repaired,
    }
    return layer, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    metas = []
    for spec in LAYERS:
        layer, meta = build_layer(args.data, spec)
        text = json.dumps(layer, separators=(",", ":"), sort_keys=True)
        (args.out / meta["file"]).write_text(text + "\n", encoding="utf-8")
        meta["bytes"] = len(text) + 1
        metas.append(meta)
        print(f"{meta['file']}: {meta['features']} areas, {meta['bytes']:,} bytes", file=sys.stderr)
    sidecar = {
        "publisher": "openpolis, from Istat 'Confini delle unità amministrative a fini statistici'",
        "origin": "https://github.com/openpolis/geojson-italy (release 2023.1, commit d0df31d5, "
        "limits of June 2023; files topojson/limits_IT_provinces.topo.json, "
        "limits_IT_regions.topo.json, limits_P_{96,17,22}_municipalities.topo.json and "
        "geojson/limits_P_96_municipalities.geojson)",
        "licence": "CC-BY-4.0",
        "attribution": "Boundaries: openpolis (geojson-italy), Istat data, CC BY 4.0",
        "vintage": "2023-06",
        "transformation": "TopoJSON arcs simplified with Douglas-Peucker (tolerance per file, "
        "degrees), snapped to a lon/lat grid and delta-encoded as integers; properties reduced "
        "to Istat code, name and parent code; a null geometry repaired from the unsimplified "
        "GeoJSON of the same release. Made by tools/build_report_boundaries.py.",
        "files": metas,
    }
    (args.out / "boundaries.meta.json").write_text(
        json.dumps(sidecar, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
