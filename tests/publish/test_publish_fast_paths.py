"""The fast paths of publish and report give what the plain ones gave (differential tests).

- JSON records streamed from DuckDB's string batches == DuckDB's own ``COPY ... (FORMAT
  json, ARRAY true)`` wrapped in the metadata document;
- the canonical CSV written from dictionary columns == the CSV of the decoded table, and
  written once when ``csv`` and ``datapackage`` are asked together;
- the printable page's shared outlines draw what the inline paths drew.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory._arrow import plain
from welfare_observatory.publish.datapackage import export_datapackage
from welfare_observatory.publish.formats import export_json
from welfare_observatory.publish.metadata import ExportMetadata
from welfare_observatory.publish.report._rows import ByIndicator
from welfare_observatory.publish.report.charts import sparkline
from welfare_observatory.publish.report.printable import SHAPE_PREFIX, share_shapes
from welfare_observatory.publish.tabular import export_csv

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _meta(rows: int) -> ExportMetadata:
    return ExportMetadata.model_validate(
        {
            "observatory": "test",
            "edition": "2024",
            "build": "b1",
            "status": "final",
            "created": "2024-01-01T00:00:00Z",
            "reference_date": "2024-01-01",
            "territory": "096",
            "library_version": "0",
            "disclosure": "none",
            "rows": rows,
        }
    )


def _table(texts: list[str | None], values: list[float | None]) -> pa.Table:
    n = min(len(texts), len(values))
    return pa.table(
        {
            "indicator": pa.array(texts[:n], pa.string()).dictionary_encode(),
            "period_start": pa.array([date(2020, 1, 1 + i % 28) for i in range(n)]),
            "value": pa.array(values[:n], pa.float64()),
            "flags": pa.array(texts[:n][::-1], pa.string()),
        }
    )


def _copied(table: pa.Table, folder: Path, meta: ExportMetadata) -> bytes:
    """What the exporter wrote before: DuckDB's COPY of the decoded table, wrapped."""
    body = folder / "copy.json"
    con = duckdb.connect()
    con.register("view", plain(table))
    con.execute(f"COPY view TO '{body}' (FORMAT json, ARRAY true)")
    con.close()
    head = '{\n"metadata": ' + json.dumps(meta.model_dump(mode="json"), ensure_ascii=False)
    return (head + ',\n"data": ').encode() + body.read_bytes() + b"}\n"


@settings(max_examples=25, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), TEXT), max_size=40),
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)), max_size=40
    ),
)
def test_json_records_are_the_bytes_duckdb_copy_writes(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str | None], values: list[float | None]
) -> None:
    folder = tmp_path_factory.mktemp("json")
    table = _table(texts, values)
    meta = _meta(table.num_rows)
    [path] = export_json(table, meta, folder)
    assert path.read_bytes() == _copied(table, folder, meta)
    assert len(json.loads(path.read_text("utf-8"))["data"]) == table.num_rows


def test_json_of_many_batches_and_of_no_row(tmp_path: Path) -> None:
    n = 200_000  # more than one DuckDB batch
    table = _table([f"I{i % 7}" for i in range(n)], [i / 3 for i in range(n)])
    for rows in (table, table.slice(0, 0)):
        meta = _meta(rows.num_rows)
        [path] = export_json(rows, meta, tmp_path)
        assert path.read_bytes() == _copied(rows, tmp_path, meta)


def test_a_column_named_like_the_record_alias_is_kept(tmp_path: Path) -> None:
    table = pa.table({"record": ["a", "b"], "value": [1.5, None]})
    [path] = export_json(table, _meta(2), tmp_path)
    assert json.loads(path.read_text("utf-8"))["data"] == [
        {"record": "a", "value": 1.5},
        {"record": "b", "value": None},
    ]


def test_csv_from_dictionary_columns_is_the_csv_of_the_decoded_table(tmp_path: Path) -> None:
    table = _table(["=A1", None, "x,y", 'q"q', "è"], [1.0, None, 0.1, 1e300, -0.0])
    [path] = export_csv(table, _meta(5), tmp_path)
    decoded = tmp_path / "decoded.csv"
    pacsv.write_csv(plain(table), decoded, pacsv.WriteOptions(include_header=True))
    assert path.read_bytes() == decoded.read_bytes()


def test_datapackage_after_csv_writes_the_csv_once(tmp_path: Path) -> None:
    table = _table(["a", "b"], [1.0, 2.0])
    [csv_path] = export_csv(table, _meta(2), tmp_path)
    first = csv_path.stat()
    export_datapackage(table, _meta(2), tmp_path)
    assert csv_path.stat().st_ino == first.st_ino  # not replaced: the same file
    # Another table, or a file changed since, is written again.
    other = _table(["a", "c"], [1.0, 3.0])
    export_datapackage(other, _meta(2), tmp_path)
    assert b"\nc,2020-01-02,3," in csv_path.read_bytes().replace(b'"', b"")
    csv_path.write_text("tampered", encoding="utf-8")
    export_datapackage(other, _meta(2), tmp_path)
    assert b"tampered" not in csv_path.read_bytes()


def _unshared(html: str) -> str:
    """The printable page with every ``<use>`` back to the inline path it replaced."""
    found = re.search(
        r"<defs><style>[^<]*</style>((?:<path id=\"[^\"]+\" d=\"[^\"]*\"/>)+)</defs>", html
    )
    if found is None:
        return html
    shapes = dict(re.findall(r'<path id="([^"]+)" d="([^"]*)"/>', found.group(1)))
    html = html[: found.start()] + html[found.end() :]

    def back(match: re.Match[str]) -> str:
        rest = match.group(2).strip()
        return f'<path {rest + " " if rest else ""}d="{shapes[match.group(1)]}"{match.group(3)}>'

    html = re.sub(r'<use href="#([^"]+)"((?: [^>]*?)?)(/?)>', back, html)
    return html.replace("</use>", "</path>")


def _map(fill: str, shapes: list[str], *, link: bool = False) -> str:
    paths = []
    for i, d in enumerate(shapes):
        path = f'<path fill="{fill}" d="{d}"><title>area {i}</title></path>'
        paths.append(f'<a href="t/{i}.html">{path}</a>' if link else path)
    return (
        '<figure><svg class="map-svg" role="img" aria-labelledby="m-t"><title id="m-t">m</title>'
        f'<g stroke="#fff">{"".join(paths)}</g>'
        f'<path fill="none" stroke="#000" stroke-width="4" d="{shapes[0]}"/></svg></figure>'
    )


def test_shared_outlines_draw_what_the_paths_drew() -> None:
    long_a = "M10 10l" + " ".join(["1 2"] * 40) + "z"
    long_b = "M20 20l" + " ".join(["3-1"] * 40) + "z"
    short = "M1 1l2 2z"
    fragments = [
        "<p>home</p>",
        _map("#abc", [long_a, long_b, short], link=True),
        _map("#def", [long_a, long_b, short]),
        '<svg class="spark"><polyline points="1,2"/></svg>',
    ]
    shared = [str(f) for f in share_shapes(fragments)]
    assert shared[0] == fragments[0] and shared[3] == fragments[3]
    joined = "".join(shared)
    assert joined.count(long_a) == 1 and joined.count(long_b) == 1  # defined once each
    assert joined.count(short) == 2  # short path data stays inline, in both maps
    assert joined.count(f'<use href="#{SHAPE_PREFIX}1"') == 4  # two fills + two outlines
    assert shared[1].index("<defs>") < shared[1].index("<use ")
    assert "<defs>" not in shared[2]
    assert _unshared(joined) == "".join(fragments)


def test_without_repeated_outlines_the_printable_page_is_unchanged() -> None:
    fragments = [_map("#abc", ["M0 0l" + "1 1 " * 30 + "z"]), "<p>x</p>"]
    fragments[0] = fragments[0].replace(
        '<path fill="none" stroke="#000" stroke-width="4" d="', '<path d="M9 9z" x="'
    )
    assert [str(f) for f in share_shapes(fragments)] == fragments


@settings(max_examples=50, deadline=None)
@given(
    years=st.lists(st.integers(1990, 2030), min_size=1, max_size=25, unique=True),
    data=st.data(),
)
def test_sparkline_points_are_the_ones_drawn_a_point_at_a_time(
    years: list[int], data: st.DataObject
) -> None:
    years = sorted(years)
    values = data.draw(
        st.lists(
            st.one_of(st.none(), st.just(float("nan")), st.floats(-1e6, 1e6)),
            min_size=len(years),
            max_size=len(years),
        )
    )
    drawn = str(sparkline(years, values, label="s"))
    points = [(y, v) for y, v in zip(years, values, strict=True) if v is not None and v == v]
    if len(points) < 2:
        assert drawn == ""
        return
    low, high = min(v for _, v in points), max(v for _, v in points)
    y0, y1 = points[0][0], points[-1][0]

    def xy(year: int, value: float) -> str:  # the drawing rule, one point at a time
        x = 2 + (year - y0) / ((y1 - y0) or 1) * (84 - 4)
        y = 22 - 3 - (value - low) / ((high - low) or 1.0) * (22 - 6)
        return f"{x:.1f},{y:.1f}"

    coords = " ".join(xy(y, v) for y, v in points)
    assert f'points="{coords}"' in drawn
    last_x, last_y = coords.rsplit(" ", 1)[-1].split(",")
    assert f'<circle cx="{last_x}" cy="{last_y}"' in drawn


def test_rows_by_indicator_are_the_masked_rows_in_order() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "indicator": ["A", "B", "A", "C", "A"],
            "territory": ["1", "1", "2", "1", "3"],
            "value": [1.0, 2.0, float("nan"), 4.0, 5.0],
        }
    )
    split = ByIndicator(frame, ["territory", "value", "absent"])
    rows = split.get("A")
    assert rows is not None and "absent" not in rows
    mask = frame["indicator"] == "A"
    assert rows["territory"].tolist() == frame.loc[mask, "territory"].tolist()
    assert rows.notna("value").tolist() == frame.loc[mask, "value"].notna().tolist()
    assert split.get("Z") is None
    assert ByIndicator(pd.DataFrame(), ["territory"]).get("A") is None


CODES = st.sampled_from(["A", "B", "E", "P", "U", None])
CONF = st.sampled_from(["F", "C", "D", "N", None])


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["I1", "I2", "Ï3"]),
            st.sampled_from(["001", "002", "01"]),
            st.integers(2019, 2021),
            st.sampled_from([1, 4, 7, 10]),
            st.one_of(st.none(), st.floats(-1e9, 1e9)),
            CODES,
            CONF,
            st.sampled_from(["_T", "F", None]),
            st.one_of(st.none(), st.sampled_from(["src", "derive", ""])),
        ),
        max_size=40,
    )
)
def test_report_totals_in_arrow_equal_the_pandas_ones(rows: list[tuple[object, ...]]) -> None:
    """Several periods a year, ties on the period, unsorted rows, nulls and suppressions:
    the Arrow path keeps the same row of each year and the same columns as pandas."""
    import pandas as pd

    from welfare_observatory.publish.report.data import _totals_pandas, _totals_rows, totals

    columns = list(zip(*rows, strict=True)) if rows else [[]] * 9
    table = pa.table(
        {
            "indicator": pa.array(columns[0], pa.string()).dictionary_encode(),
            "territory": pa.array(columns[1], pa.string()),
            "period": pa.array(
                [f"{y}-{m:02d}" for y, m in zip(columns[2], columns[3], strict=True)], pa.string()
            ),
            "period_start": pa.array(
                [date(y, m, 1) for y, m in zip(columns[2], columns[3], strict=True)], pa.date32()
            ),
            "sex": pa.array(columns[7], pa.string()),
            "value": pa.array(columns[4], pa.float64()),
            "obs_status": pa.array(columns[5], pa.string()),
            "conf_status": pa.array(columns[6], pa.string()),
            "source": pa.array(columns[8], pa.string()),
        }
    )
    pd.testing.assert_frame_equal(totals(table), _totals_pandas(_totals_rows(table)))
