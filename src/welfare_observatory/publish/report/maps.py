"""Choropleth maps as inline SVG: no script, no network, readable from ``file://``.

Projection: equirectangular with the longitude scaled by the cosine of the map's middle
latitude (distortion is negligible at the size of a province or of Italy). Classes: quantiles
of the values shown (at most :data:`CLASSES`), so each class holds about as many areas and the
map shows their order whatever the skew of the values; the legend states the breaks. Areas
without a value are grey, confidential ones hatched, each with a legend entry. The values are
also in a table beside the map (screen readers read the table, not the shapes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
from markupsafe import Markup

from welfare_observatory.publish.report.geo import Layer

__all__ = ["CLASSES", "PALETTE", "MapArea", "MapWords", "choropleth", "quantile_breaks"]

CLASSES = 5
PALETTE = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
"""Light (low) to dark (high); readable in greyscale and by colour-blind readers."""
MISSING_FILL = "#d9d9d9"
WIDTH = 1000
"""viewBox width: coordinates are whole units of it."""


@dataclass(frozen=True)
class MapArea:
    code: str
    name: str
    value: float | None
    """None: no value (``suppressed`` tells whether it is confidential)."""
    text: str
    """The value as the page writes it (with its marker), or the reason it is absent."""
    suppressed: bool = False
    href: str | None = None


@dataclass(frozen=True)
class MapWords:
    """The words of one map in the page's language."""

    title: str
    desc: str
    missing: str
    suppressed: str
    breaks: str
    """How the classes were made (one sentence)."""
    table: str
    territory: str
    value: str
    klass: str
    credit: str
    freshness: str


def quantile_breaks(values: Sequence[float], classes: int = CLASSES) -> list[float]:
    """Class limits (lowest value first, highest last) cutting ``values`` at quantiles;
    fewer classes when there are fewer distinct values."""
    array = np.asarray(values, dtype="float64")
    distinct = np.unique(array)
    if len(distinct) == 0:
        return []
    if len(distinct) == 1:
        return [float(distinct[0]), float(distinct[0])]
    k = min(classes, len(distinct))
    limits = np.quantile(array, np.linspace(0.0, 1.0, k + 1))
    return [float(v) for v in np.unique(limits)]


def _class_of(value: float, breaks: list[float]) -> int:
    if len(breaks) <= 2:
        return 0
    return int(np.searchsorted(np.asarray(breaks[1:-1]), value, side="right"))


def _palette(n: int) -> list[str]:
    """``n`` colours spread over the palette (the darkest always used for the top class)."""
    if n <= 1:
        return [PALETTE[2]]
    picks = np.rint(np.linspace(0, len(PALETTE) - 1, n)).astype(int)
    return [PALETTE[i] for i in picks]


def _projector(layer: Layer) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    lon0, lat0, lon1, lat1 = layer.bounds()
    scale_x = math.cos(math.radians((lat0 + lat1) / 2))
    k = WIDTH / ((lon1 - lon0) * scale_x)
    height = math.ceil((lat1 - lat0) * k)

    def project(ring: np.ndarray) -> np.ndarray:
        x = (ring[:, 0] - lon0) * scale_x * k
        y = (lat1 - ring[:, 1]) * k
        return np.rint(np.column_stack([x, y])).astype("int64")

    return project, height


def _path(
    polygons: Sequence[Sequence[np.ndarray]], project: Callable[[np.ndarray], np.ndarray]
) -> str:
    """SVG path data with relative moves: the shortest text for a ring of whole units."""
    parts = []
    for polygon in polygons:
        for ring in polygon:
            grid = project(ring)
            keep = np.r_[True, np.any(grid[1:] != grid[:-1], axis=1)]
            grid = grid[keep]
            if len(grid) < 3:
                continue
            steps = np.diff(grid, axis=0)
            text = " ".join(f"{dx} {dy}" for dx, dy in steps.tolist())
            parts.append(f"M{grid[0, 0]} {grid[0, 1]}l{text}z")
    return "".join(parts).replace(" -", "-")


_PROJECTED: dict[tuple[str, tuple[str, ...]], tuple[int, dict[str, str]]] = {}


def projected(layer: Layer) -> tuple[int, dict[str, str]]:
    """The viewBox height and the path data of every shape of ``layer`` (by code), made
    once per layer: every map of a report draws the same shapes."""
    key = (layer.name, tuple(s.code for s in layer.shapes))
    found = _PROJECTED.get(key)
    if found is None:
        project, height = _projector(layer)
        found = (height, {s.code: _path(s.polygons, project) for s in layer.shapes})
        if len(_PROJECTED) > 64:
            _PROJECTED.clear()
        _PROJECTED[key] = found
    return found


def choropleth(
    layer: Layer,
    areas: dict[str, MapArea],
    words: MapWords,
    *,
    map_id: str,
    fmt: Callable[[float], str],
    focus: str | None = None,
    overlay: Layer | None = None,
) -> Markup:
    """One map: ``layer``'s shapes filled by the class of ``areas[code].value``; areas of
    the layer absent from ``areas`` are drawn as without a value. ``focus`` (a code of the
    layer) gets a heavy outline; ``overlay`` (e.g. regions) is drawn as thin borders."""
    height, shape_paths = projected(layer)
    values = [a.value for a in areas.values() if a.value is not None]
    breaks = quantile_breaks(values)
    colours = _palette(max(len(breaks) - 1, 1))
    paths = []
    focus_path = ""
    for shape in layer.shapes:
        area = areas.get(shape.code)
        d = shape_paths[shape.code]
        if not d:
            continue
        if area is not None and area.value is not None:
            fill = colours[_class_of(area.value, breaks)]
        elif area is not None and area.suppressed:
            fill = f"url(#{map_id}-h)"
        else:
            fill = MISSING_FILL
        label = escape(f"{area.name}: {area.text}" if area else f"{shape.name}: {words.missing}")
        element = f'<path fill="{fill}" d="{d}"><title>{label}</title></path>'
        if area is not None and area.href:
            element = f'<a href="{escape(area.href)}">{element}</a>'
        paths.append(element)
        if shape.code == focus:
            focus_path = d
    borders = ""
    if overlay is not None:
        # Same extent as ``layer`` (regions over provinces): the same projection applies.
        project, _ = _projector(layer)
        key = ("overlay:" + overlay.name + ":" + layer.name, ())
        if key not in _PROJECTED:
            _PROJECTED[key] = (0, {"": "".join(_path(s.polygons, project) for s in overlay.shapes)})
        borders = _PROJECTED[key][1][""]
        borders = f'<path fill="none" stroke="#555" stroke-width="1.2" d="{borders}"/>'
    outline = (
        f'<path fill="none" stroke="#000" stroke-width="4" d="{focus_path}"/>' if focus_path else ""
    )
    svg = (
        f'<svg class="map-svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{map_id}-t {map_id}-d">'
        f'<title id="{map_id}-t">{escape(words.title)}</title>'
        f'<desc id="{map_id}-d">{escape(words.desc)}</desc>'
        f'<defs><pattern id="{map_id}-h" width="8" height="8" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="8" height="8" fill="#fff"/>'
        f'<rect width="3" height="8" fill="#737373"/></pattern></defs>'
        f'<g stroke="#fff" stroke-width="0.8" stroke-linejoin="round">{"".join(paths)}</g>'
        f"{borders}{outline}</svg>"
    )
    legend = _legend(breaks, colours, fmt, words, areas)
    return Markup(  # noqa: S704 - every text above is escaped
        f'<figure class="map" id="{map_id}"><figcaption>{escape(words.title)}</figcaption>'
        f'<div class="map-body">{svg}<div class="map-side">{legend}'
        f"{_table(layer, areas, breaks, words)}</div></div>"
        f'<p class="note">{escape(words.breaks)} {escape(words.freshness)} '
        f"{escape(words.credit)}</p></figure>"
    )


def _legend(
    breaks: list[float],
    colours: list[str],
    fmt: Callable[[float], str],
    words: MapWords,
    areas: dict[str, MapArea],
) -> str:
    items = []
    for i, colour in enumerate(colours):
        if len(breaks) < 2:
            break
        low, high = breaks[i], breaks[min(i + 1, len(breaks) - 1)]
        text = fmt(low) if low == high else f"{fmt(low)} – {fmt(high)}"
        items.append(
            f'<li><span class="swatch" style="background:{colour}"></span>{escape(text)}</li>'
        )
    items.append(
        f'<li><span class="swatch" style="background:{MISSING_FILL}"></span>'
        f"{escape(words.missing)}</li>"
    )
    if any(a.suppressed for a in areas.values()):
        items.append(f'<li><span class="swatch hatched"></span>{escape(words.suppressed)}</li>')
    return f'<ul class="map-legend">{"".join(items)}</ul>'


def _table(layer: Layer, areas: dict[str, MapArea], breaks: list[float], words: MapWords) -> str:
    names = {s.code: s.name for s in layer.shapes}
    rows = []
    for code in sorted(areas, key=lambda c: areas[c].name):
        area = areas[code]
        klass = str(_class_of(area.value, breaks) + 1) if area.value is not None else ""
        name = escape(area.name or names.get(code, code))
        if area.href:
            name = f'<a href="{escape(area.href)}">{name}</a>'
        rows.append(
            f'<tr><th scope="row">{name}</th><td class="num">{escape(area.text)}</td>'
            f'<td class="num">{klass}</td></tr>'
        )
    return (
        f'<details class="map-data"><summary>{escape(words.table)}</summary>'
        f'<table><thead><tr><th scope="col">{escape(words.territory)}</th>'
        f'<th scope="col" class="num">{escape(words.value)}</th>'
        f'<th scope="col" class="num">{escape(words.klass)}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )
