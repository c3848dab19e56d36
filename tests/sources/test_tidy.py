"""The tidy fast path reads what layout detection reads, and refuses malformed tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.errors import ParseError
from welfare_observatory.sources.table import TableOptions, TableSource
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tidy import read_tidy


def options(**extra: object) -> TableOptions:
    return TableOptions.model_validate({"path": "data.csv", "layout": "tidy", **extra})


def same(data: bytes, **extra: object) -> pa.Table:
    slow = read_table(data, options(**extra))
    fast = read_tidy(data, options(**extra)).combine_chunks()
    assert fast.schema == slow.schema
    assert fast.equals(slow), (fast.to_pydict(), slow.to_pydict())
    return fast


def test_a_comma_separated_tidy_file_reads_as_layout_detection_reads_it() -> None:
    data = (
        b"Year,Territory,GeoCode,Sex,Value\n"
        b"2023,Brescia,017,Total,1253157\n"
        b"2023,Acquafredda,017001,Female,\n"
        b'2022,"Capo di Ponte, Valle",017036,Male,3.5\n'
        b'2022,"Breno\nalta",017025,Total,1e3\n'
    )
    table = same(data, value_columns=["Value"])
    assert table.column("GeoCode").to_pylist() == ["017", "017001", "017036", "017025"]
    assert table.column("Value__status").to_pylist() == ["A", "O", "A", "A"]
    same(data)  # value columns detected: Value only (GeoCode has leading zeros)


def test_italian_numbers_markers_bom_and_cp1252() -> None:
    data = (
        "\ufeffAnno;Comune;Codice comune;Valore\n"
        "2023;Città;017001;1.253,5\n"
        "2023;Ponte   di  Legno;017148;....\n"
        "2023;Edolo;017067;-\n"
        "2023;Bienno;017019;:\n"
    ).encode()
    table = same(data)
    assert table.column("Valore").to_pylist()[:3] == [1253.5, None, 0.0]
    assert table.column("Valore__conf").to_pylist()[3] == "C"
    assert table.column("Comune").to_pylist()[1] == "Ponte di Legno"
    same(data.decode("utf-8").lstrip("\ufeff").encode("cp1252"))


def test_declared_options_are_honoured() -> None:
    data = b"code;name;v;w\n17001;A;1,5;x\n17002;B;2;y\n"
    table = same(data, columns=["code", "v"], zero_pad={"code": 6}, dtypes={"v": "float64"})
    assert table.column_names == ["code", "v", "v__status", "v__conf"]
    assert table.column("code").to_pylist() == ["017001", "017002"]
    same(b"title line\nA,B\n1,2\n", skip_rows=1)
    same(b"A,B\n1,2\n", separator=",", decimal=".", thousands="none")


@pytest.mark.parametrize(
    ("data", "message", "where"),
    [
        (b"", "empty", {}),
        (b"  \n\n", "empty", {}),
        (b"A,,C\n1,2,3\n", "blank", {"line": 1}),
        (b"A,B,A\n1,2,3\n", "twice", {"line": 1}),
        (b"A,B,C\n1,2,3\n4,5,6,7\n", "4 cells where the header has 3", {"row": 3, "column": 4}),
        (b"A,Value\nx,1\ny,1,5 (a)\n", "cells where the header has", {"row": 3, "column": 3}),
        (b"A,Value\nx,1\ny,1 kg\n", "neither a number", {"row": 3, "column": "Value"}),
        (b"A\x00,B\n", "NUL", {}),
        (b"A,B\n\xc3\xa8,1\n\xe8,2\n", "cannot decode", {}),
    ],
)
def test_malformed_tables_are_errors_that_name_the_place(
    data: bytes, message: str, where: dict[str, object]
) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        read_tidy(data, options(value_columns=["Value"]) if b"Value" in data else options(),
                  file="f.csv", source="s")  # fmt: skip
    location = caught.value.location
    assert location is not None and location.file == "f.csv" and location.source == "s"
    for name, value in where.items():
        assert getattr(location, name) == value


def test_a_messy_file_declared_tidy_is_refused_not_misread() -> None:
    messy = b"Tavola 1 - Popolazione\n\nComune;2022;2023\nBiella;43.000;42.500\nFonte: Istat\n"
    with pytest.raises(ParseError):
        read_tidy(messy, options())
    assert read_table(messy, options()).num_rows == 1  # detection still reads it


def test_the_table_source_takes_the_fast_path_only_when_declared(tmp_path: object) -> None:
    assert TableOptions.model_validate({"path": "x.csv"}).layout == "auto"
    with pytest.raises(ValueError, match="layout"):
        TableOptions.model_validate({"path": "x.csv", "layout": "neat"})
    assert TableSource("s", {"path": "x.csv", "layout": "tidy"}).table_options.layout == "tidy"


_PARSE_ONLY = """
import sys
from pathlib import Path
from welfare_observatory.sdk import Payload
from welfare_observatory.sources.table import TableSource

file = Path(sys.argv[1])
payload = Payload("s", "file:data.csv", "0" * 64, file, meta={"path": "data.csv"})
layout = sys.argv[2]
table = TableSource("s", {"path": "data.csv", "layout": layout}).parse(payload)
assert table.num_rows == 2, table
detecting = ("tabular", "tabular_grid", "xlsx_formats")
print(" ".join(m for m in detecting if f"welfare_observatory.sources.{m}" in sys.modules))
"""


_DETECTING = "tabular tabular_grid xlsx_formats"


_TIDY = b"Year,GeoCode,Value\n2023,017001,1.5\n2023,017002,2\n"


@pytest.mark.parametrize(
    ("layout", "content", "loaded"),
    [
        ("tidy", _TIDY, ""),
        ("auto", _TIDY, ""),  # not declared, but plain: read as tidy
        ("auto", b"Tavola 1 - Nati\n" + _TIDY, _DETECTING),  # a title: layout detected
    ],
)
def test_a_tidy_file_is_read_without_loading_the_detecting_reader(
    tmp_path: Path, layout: str, content: bytes, loaded: str
) -> None:
    """A fresh process: a tidy CSV's parse imports none of layout detection's modules (a
    rebuild of one changed file paid about 15 ms for them); a detected layout does."""
    data = tmp_path / "data.csv"
    data.write_bytes(content)
    out = subprocess.run(
        [sys.executable, "-c", _PARSE_ONLY, str(data), layout],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == loaded


_code = st.from_regex(r"0[0-9]{2}[0-9]{3}", fullmatch=True)
_number = st.one_of(
    st.integers(min_value=-(10**7), max_value=10**7).map(lambda n: f"{n:,}".replace(",", ".")),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False).map(
        lambda d: str(d).replace(".", ",")
    ),
    st.sampled_from(["-", "....", "..", ":", "NaN", ""]),
)
_label = st.text(alphabet="abcdeèò XYZ'", min_size=1, max_size=12).filter(lambda s: s.strip())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_code, _label, _number), min_size=1, max_size=30))
def test_any_tidy_table_reads_the_same_on_both_paths(rows: list[tuple[str, str, str]]) -> None:
    lines = ["Codice comune;Comune;Valore"] + [f'{c};"{lbl}";{v}' for c, lbl, v in rows]
    data = ("\n".join(lines) + "\n").encode()
    same(data, value_columns=["Valore"])


_cell = st.text(alphabet="ab \n", min_size=1, max_size=6).filter(lambda s: s.strip())
_plain = st.one_of(st.integers(-999, 999).map(str), st.just(""))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(_code, _cell, st.one_of(_plain, _number)), min_size=1, max_size=20),
    st.booleans(),
)
def test_the_shortcuts_for_clean_files_read_what_layout_detection_reads(
    rows: list[tuple[str, str, str]], last_line_feed: bool
) -> None:
    # Quoted line breaks and double spaces in labels (found without a search per column
    # when the line feeds match the records), and value columns of numbers and empty cells
    # alone (no pass per marker) read as the detecting reader reads them.
    lines = ["Codice;Comune;Valore"] + [f'{code};"{label}";{value}' for code, label, value in rows]
    data = "\n".join(lines).encode() + (b"\n" if last_line_feed else b"")
    same(data, value_columns=["Valore"])
    same(data)  # the reader tells values from codes itself


_maybe = st.one_of(st.just(""), st.sampled_from(["a", "b c", "017001"]))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_maybe, _maybe, _maybe), min_size=1, max_size=20))
def test_exactly_the_rows_whose_cells_are_all_empty_are_dropped(
    rows: list[tuple[str, str, str]],
) -> None:
    # The reader first looks at the first column alone: a row it keeps or drops is the row
    # a look at every cell keeps or drops, whichever columns hold the empty cells.
    from welfare_observatory.sources.tidy import _drop_blank_rows

    table = pa.table(
        {
            "a": [r[0] for r in rows],
            "b": [r[1] for r in rows],
            "c": [r[2] for r in rows],
            "__row": list(range(len(rows))),
        }
    )
    kept = _drop_blank_rows(table)
    assert kept.column("__row").to_pylist() == [i for i, r in enumerate(rows) if any(r)]
    assert kept.column_names == table.column_names


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(_code, _label, st.one_of(_plain, st.sampled_from(["-", ""]))),
        min_size=1,
        max_size=20,
    )
)
def test_value_columns_with_and_without_empty_cells_or_markers_read_the_same_on_both_paths(
    rows: list[tuple[str, str, str]],
) -> None:
    # Clean columns skip the marker and empty-cell masks; the values, statuses and
    # findings are the detecting reader's all the same.
    lines = ["Codice;Comune;Valore"] + [f'{code};"{label}";{value}' for code, label, value in rows]
    data = ("\n".join(lines) + "\n").encode()
    same(data, value_columns=["Valore"])
    same(data, value_columns=["Valore"], markers={"-": {"value": None, "obs_status": "M"}})


@pytest.mark.parametrize("data", [b"", b" ", b"\n\n", b" \t\r\n\x0b\x0c"])
def test_a_file_of_whitespace_alone_is_empty(data: bytes) -> None:
    with pytest.raises(ParseError, match="the file is empty"):
        read_tidy(data, options())


_edge = st.text(alphabet="ab ,", min_size=1, max_size=5).filter(lambda s: "a" in s or "b" in s)
_spaced_value = st.sampled_from(["1", " 2", "3 ", " 4 ", "", " ", "5"])


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.tuples(_edge, _edge, _spaced_value, st.booleans()), min_size=1, max_size=15),
    st.booleans(),
)
def test_cells_are_trimmed_exactly_when_a_space_touches_their_edge(
    rows: list[tuple[str, str, str, bool]], last_line_feed: bool
) -> None:
    # A file whose bytes show no space at the edge of a cell skips trimming; spaces next to
    # a separator, a quote or a line feed (quoted or not) are trimmed as the detecting
    # reader trims them.
    lines = ["Codice,Comune,Valore"]
    for code, label, value, quoted in rows:
        name = f'"{label}"' if quoted or "," in label else f"x{label}x"
        lines.append(f"{code.replace(',', '') or 'c'},{name},{value}")
    data = "\n".join(lines).encode() + (b"\n" if last_line_feed else b"")
    same(data, value_columns=["Valore"])


@pytest.mark.parametrize(
    ("data", "edge"),
    [
        (b"A,B\nx y,1\n", False),
        (b"A,B\nx ,1\n", True),
        (b"A,B\nx, 1\n", True),
        (b'A,B\n" x",1\n', True),
        (b'A,B\n"x ",1\n', True),
        (b"A,B\nx,1 \n", True),
        (b"A,B\nx,1\n ", True),
        (b" A,B\nx,1\n", True),
        (b"A,B\nx\xc2\xa0y,1\n", True),  # a Unicode space: trimmed as always
        (b"A,B\nx\x0by,1\n", True),  # a control character besides the line feeds
    ],
)
def test_the_edge_space_test_errs_on_the_side_of_trimming(data: bytes, edge: bool) -> None:
    import numpy as np

    from welfare_observatory.sources.tidy import _edge_space

    raw = np.frombuffer(data, dtype=np.uint8)
    assert _edge_space(data, raw, raw == ord(" "), ",", raw == ord("\n")) is edge


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["1", "2.5", "-3", "1e3", "", "-", "x"]), min_size=1, max_size=20))
def test_a_value_column_of_numbers_alone_reads_as_the_masked_path_reads_it(
    values: list[str],
) -> None:
    # Every cell a number: values cast at once and statuses A/F without a mask per row;
    # any other column (empty cells, markers, text) goes through the masks.
    # (A last row of a number: the detecting reader takes a last row without one as a note.)
    lines = ["Codice,Valore"] + [f"c{i},{v}" for i, v in enumerate(values)] + ["z,7"]
    data = ("\n".join(lines) + "\n").encode()
    markers = {"-": {"value": None, "obs_status": "M"}}
    if "x" in values:
        with pytest.raises(ParseError, match="neither a number"):
            read_tidy(data, options(value_columns=["Valore"], markers=markers))
        return
    same(data, value_columns=["Valore"], markers=markers)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.from_regex(r"[0-9]{1,12}", fullmatch=True), min_size=1, max_size=20),
    st.sampled_from([",", ";"]),
    st.booleans(),
)
def test_a_value_column_of_digits_alone_reads_as_every_number_format_reads_it(
    digits: list[str], sep: str, other_signs: bool
) -> None:
    # Digits alone (leading zeros, long runs) are numbers in any format: the shortcut
    # that skips the number pattern reads what the detecting reader reads; a % or #
    # elsewhere in the file does not change that.
    note = "50%#" if other_signs else "n"
    lines = [f"Codice{sep}Nota{sep}Valore"] + [
        f"c{i}{sep}{note}{sep}{d}" for i, d in enumerate(digits)
    ]
    data = ("\n".join(lines) + "\n").encode()
    same(data, value_columns=["Valore"])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["", "a", "bc", " "]), min_size=0, max_size=20),
    st.integers(0, 5),
    st.integers(1, 3),
)
def test_empty_cells_are_found_on_the_offsets_as_a_comparison_finds_them(
    cells: list[str], start: int, chunks: int
) -> None:
    # Slices (an offset into the buffers) and several chunks included.
    import pyarrow.compute as pc

    from welfare_observatory.sources.tidy import _has_empty

    array = pa.array(cells, pa.string())
    sliced = array.slice(min(start, len(cells)))
    column = pa.chunked_array([sliced] * chunks, pa.string())
    assert _has_empty(column) is bool(pc.any(pc.equal(column, "")).as_py() or False)


def test_an_empty_chunk_without_an_offsets_buffer_has_no_empty_cell() -> None:
    """Arrow allows a zero-length string array whose offsets buffer is absent."""
    from welfare_observatory.sources.tidy import _has_empty

    bare = pa.Array.from_buffers(pa.string(), 0, [None, None, pa.py_buffer(b"")])
    assert not _has_empty(pa.chunked_array([bare, pa.array(["a"], pa.string())]))
    assert _has_empty(pa.chunked_array([bare, pa.array(["a", ""], pa.string())]))
