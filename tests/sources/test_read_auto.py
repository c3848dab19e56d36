"""A file whose layout is not declared reads as layout detection reads it, on either path.

``layout: auto`` reads a plain tidy CSV with the tidy reader (about fifteen times faster
than layout detection) and every other file by layout detection. Either way the table, its
findings and its errors are those of :func:`~welfare_observatory.sources.tabular.read_table`,
the reference here.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from welfare_observatory.errors import ParseError
from welfare_observatory.sources import tabular
from welfare_observatory.sources.table import TableOptions
from welfare_observatory.sources.tidy import read_auto


def options(**extra: object) -> TableOptions:
    return TableOptions.model_validate({"path": "data.csv", **extra})


REFERENCE = tabular.read_table


def detected(data: bytes, opts: TableOptions) -> pa.Table | str:
    """What layout detection makes of ``data``: a table, or its error's message."""
    try:
        return REFERENCE(data, opts, file="f.csv", source="s")
    except ParseError as exc:
        return f"ParseError: {exc}"


def read(data: bytes, opts: TableOptions) -> pa.Table | str:
    try:
        return read_auto(data, opts, file="f.csv", source="s")
    except ParseError as exc:
        return f"ParseError: {exc}"


def assert_same(data: bytes, opts: TableOptions) -> pa.Table | str:
    slow = detected(data, opts)
    fast = read(data, opts)
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
        return fast
    fast = fast.combine_chunks()
    assert fast.schema.equals(slow.schema, check_metadata=True), (fast.schema, slow.schema)
    assert fast.equals(slow), (fast.to_pydict(), slow.to_pydict())
    assert signs(fast) == signs(slow)  # Arrow's equality takes -0.0 for 0.0
    return fast


def signs(table: pa.Table) -> dict[str, list[bool]]:
    """Each float column's sign bits."""
    return {
        name: np.signbit(column.to_numpy(zero_copy_only=False)).tolist()
        for name, column in zip(table.column_names, table.columns, strict=True)
        if pa.types.is_floating(column.type)
    }


@pytest.fixture
def detections(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The payloads ``read_auto`` handed to layout detection."""
    calls: list[bytes] = []
    real = tabular.read_table

    def spy(data: bytes, *args: Any, **kwargs: Any) -> pa.Table:
        calls.append(data)
        return real(data, *args, **kwargs)

    monkeypatch.setattr(tabular, "read_table", spy)
    return calls


PLAIN = (
    b"Anno;Comune;Codice comune;Sesso;Valore\n"
    b"2023;Brescia;017029;Totale;1.253,5\n"
    b"2023;Acquafredda;017001;Femmine;\n"
    b'2022;"Capo di Ponte, Valle";017036;Maschi;-\n'
)


def test_a_plain_tidy_file_is_read_without_layout_detection(detections: list[bytes]) -> None:
    table = read_auto(PLAIN, options())
    assert detections == []
    assert table.column("Codice comune").to_pylist() == ["017029", "017001", "017036"]
    assert table.column("Valore").to_pylist() == [1253.5, None, 0.0]
    assert_same(PLAIN, options())
    assert_same(PLAIN, options(value_columns=["Valore"], zero_pad={"Codice comune": 7}))
    assert_same(b"Tavola 1\n" + PLAIN, options(header_row=2))  # the title skipped as told
    assert_same(b"Tavola 1\n" + PLAIN, options(skip_rows=1))
    assert detections == []


@pytest.mark.parametrize(
    ("name", "data", "extra"),
    [
        ("a title", b"Tavola 1 - Nati vivi\n" + PLAIN, {}),
        ("a footer", PLAIN + b"Fonte: Istat\n", {}),
        ("a footer written as a full row", PLAIN + b"Fonte: Istat;;;;\n", {}),
        ("a footer kept", PLAIN + b"Fonte: Istat;;;;\n", {"footer": "none"}),
        (
            "sections",
            b"Comune;2022;2023\nDIPLOMA;;\nBrescia;1;2\nEdolo;3;4\nLAUREA;;\nBrescia;5;6\n"
            b"Edolo;7;8\n",
            {},
        ),
        ("a short row", PLAIN + b"2021;Edolo\n", {}),
        ("a long row", PLAIN + b"2021;Edolo;017067;Totale;4;5\n", {}),
        ("a two-row header", b"Anni;;\nComune;2022;2023\nBrescia;1;2\n", {}),
        ("a blank line", PLAIN.replace(b"\n2023;Acq", b"\n\n2023;Acq"), {}),
        ("a quote left open", PLAIN + b'2021;"Edolo;017067;Totale;4\n', {}),
        ("a cell that is not a number", PLAIN + b"2021;Edolo;017067;Totale;4 kg\n", {}),
        ("a repeated header", b"A;B;A\n1;2;3\n", {}),
        ("a blank header", b"A;;C\n1;2;3\n", {}),
        ("no rows", b"A;B;C\n", {}),
        ("an empty file", b"  \n", {}),
    ],
)
def test_any_other_file_is_read_by_layout_detection(
    detections: list[bytes], name: str, data: bytes, extra: dict[str, object]
) -> None:
    got = assert_same(data, options(**extra))
    assert data in detections, f"{name}: read without layout detection"
    if name == "a footer written as a full row":
        assert isinstance(got, pa.Table) and got.num_rows == 3  # the note is dropped


def test_a_record_with_one_filled_cell_is_left_to_layout_detection(
    detections: list[bytes],
) -> None:
    # Detection may take it for a section label or a note; the tidy reader would keep it.
    data = b"Comune;Anno;Valore\nBrescia;2023;1\nBrescia;;\nEdolo;2023;2\n"
    assert_same(data, options())
    assert detections == [data]
    # Two filled cells of three: plain.
    detections.clear()
    assert_same(b"Comune;Anno;Valore\nBrescia;2023;\nEdolo;2023;2\n", options())
    assert detections == []


TITLES = b"Tavola 1, anno 2023\nFonte: Istat, elaborazioni\nComune;Valore\nBrescia;1,5\nEdolo;2,5\n"
QUOTED_TITLE = b'"Tavola 1\nanno 2023"\nComune;Valore\nBrescia;1\nEdolo;2\nBergamo;3\n'
NAMES = "Comune;Valore{}lordo\nBrescia;1\nEdolo;2\n"


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        # The separator as detection guesses it: over the whole head, titles included.
        (TITLES, {"skip_rows": 2}),
        (TITLES, {"header_row": 3}),
        (b"Nota;Valore\n" + b"".join(b"x%d;1\n" % i for i in range(49))
         + b'"p; q";1,5\n"p; q; r";2,5\n' * 75, {}),
        # Rows skipped above the header are records: a quoted line break is inside one.
        (QUOTED_TITLE, {"skip_rows": 2}),
        (QUOTED_TITLE, {"header_row": 3}),
        (b'"T\nX;Y"\nA;B\nc;d\ne;f\n', {"skip_rows": 1}),
        (b"T\rA;B\n1;2\nc;d\n", {"header_row": 2}),
        # Names stripped as cells are: ASCII whitespace runs, Unicode whitespace at the ends.
        (NAMES.format("\xa0").encode(), {}),
        (NAMES.format("\xa0").encode("cp1252"), {}),
        (NAMES.format("\u2009").encode(), {}),
        (NAMES.format("\x0b").encode(), {}),
        (b"Comune;Valore\x1c\nBrescia;1\nEdolo;2\n", {}),
        # Numbers pandas reads otherwise than Arrow: a plus sign, a negative zero.
        (b"Comune,Valore\nBrescia,+9.862113040440709\nEdolo,1.5\n", {}),
        (b"Comune;Valore\nBrescia;+849e24\nEdolo;1\n", {}),
        (b"Comune;2023\nBrescia;-0\nEdolo;3\n", {}),
        (b"Comune;Valore\nBrescia;-0\nEdolo;1,5\n", {}),
        (b"Comune;Valore\nBrescia;-0,000\nEdolo;\n", {}),
        # No column kept: detection says the table has no rows.
        (b"Comune;Valore\nBrescia;1\nEdolo;2\n", {"columns": []}),
        # A column named as the reader's own record numbers.
        (b"__row;Valore\nBrescia;1\nEdolo;2\n", {}),
        (b"Comune;__row\nBrescia;1\nEdolo;2\n", {}),
    ],
)  # fmt: skip
def test_files_the_two_readers_once_read_apart_read_as_detection_reads_them(
    data: bytes, extra: dict[str, object]
) -> None:
    assert_same(data, options(**extra))


_digits = st.text(alphabet="0123456789", min_size=1, max_size=22)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "+", "-"]),
            _digits,
            st.one_of(st.just(""), _digits.map(lambda d: "," + d)),
            st.one_of(st.just(""), st.integers(-320, 320).map(lambda e: f"e{e}")),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_number_reads_as_layout_detection_reads_it(
    numbers: list[tuple[str, str, str, str]],
) -> None:
    lines = ["Comune;Valore"] + [f"c{i};{''.join(n)}" for i, n in enumerate(numbers)]
    data = ("\n".join(lines) + "\n").encode()
    assert_same(data, options())
    assert_same(data, options(value_columns=["Valore"]))


def test_a_spreadsheet_goes_to_layout_detection(detections: list[bytes]) -> None:
    assert isinstance(read(b"PK\x03\x04 not really a workbook", options()), str)
    assert len(detections) == 1


_code = st.sampled_from(["017029", "017001", "017", "IT", "ITC4", "BS"])
_label = st.sampled_from(["Brescia", "Capo di Ponte", "DIPLOMA", "Fonte: Istat", "(a) nota", "x"])
_number = st.sampled_from(["1", "1.253,5", "3.5", "-2", "1e3", "2023", "0,5", "12%"])
_marker = st.sampled_from(["-", "....", "..", ":", "x", "NaN"])
_cell = st.one_of(_code, _label, _number, _marker, st.just(""), st.just(" "))
_row = st.lists(_cell, min_size=0, max_size=6)
_names = st.lists(
    st.sampled_from(["Anno", "Comune", "Codice comune", "Sesso", "Valore", "2022", "", "Valore"]),
    min_size=1,
    max_size=6,
)


def _line(cells: list[str], sep: str, quote: bool) -> str:
    if quote:
        return sep.join(f'"{c}"' if c else "" for c in cells)
    return sep.join(cells)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    titles=st.lists(_row, max_size=2),
    header=_names,
    body=st.lists(_row, max_size=12),
    footer=st.lists(_row, max_size=2),
    sep=st.sampled_from([";", ","]),
    quote=st.booleans(),
    last_line_feed=st.booleans(),
    extra=st.sampled_from(
        [{}, {"value_columns": ["Valore"]}, {"section_column": None}, {"footer": "none"}]
    ),
)
def test_any_file_reads_as_layout_detection_reads_it(
    titles: list[list[str]],
    header: list[str],
    body: list[list[str]],
    footer: list[list[str]],
    sep: str,
    quote: bool,
    last_line_feed: bool,
    extra: dict[str, object],
) -> None:
    # Tidy-looking bodies are made more likely: most rows as wide as the header.
    width = len(header)
    rows = [r[:width] + [""] * (width - len(r)) if i % 3 else r for i, r in enumerate(body)]
    lines = [_line(r, sep, quote) for r in [*titles, header, *rows, *footer]]
    data = "\n".join(lines).encode() + (b"\n" if last_line_feed else b"")
    with mock.patch.object(tabular, "read_table", wraps=REFERENCE) as detection:
        got = assert_same(data, options(**extra))
    # The share of files read as tidy: pytest --hypothesis-show-statistics
    event("layout detected" if detection.called else "read as tidy")
    event("refused" if isinstance(got, str) else "read")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(_code, _label, st.one_of(_number, _marker, st.just(""))),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([";", ","]),
)
def test_any_tidy_file_reads_as_layout_detection_reads_it(
    rows: list[tuple[str, str, str]], sep: str
) -> None:
    lines = [sep.join(["Codice", "Comune", "Valore"])]
    lines += [sep.join([code, f'"{label}"', f'"{value}"']) for code, label, value in rows]
    data = ("\n".join(lines) + "\n").encode()
    assert_same(data, options())
    assert_same(data, options(value_columns=["Valore"]))


_header_names = st.lists(
    st.sampled_from(
        ["Anno", "Comune", "Codice comune", "ANNI", "SEX", "Value", "OBS_VALUE", "2022",
         "2023 | Maschi", "Totale", "x  y", " Valore", "Note"]
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda n: " ".join(n.split()),
)  # fmt: skip
_any_cell = st.one_of(
    _cell,
    st.sampled_from(["017 001", " Brescia ", "a;b", "a,b", "due  spazi", "riga\nnuova", "0"]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=_header_names,
    body=st.lists(st.lists(_any_cell, min_size=6, max_size=6), max_size=12),
    sep=st.sampled_from([";", ","]),
    extra=st.sampled_from([{}, {"section_column": None}, {"footer": "none"}]),
)
def test_any_file_of_full_rows_reads_as_layout_detection_reads_it(
    header: list[str], body: list[list[str]], sep: str, extra: dict[str, object]
) -> None:
    # Every row as wide as the header, every cell quoted: the files the tidy reader
    # accepts, with labels, codes, numbers, markers, empty cells, spaces and line breaks.
    width = len(header)
    lines = [sep.join(f'"{c}"' for c in [*header[:1], *header[1:]])]
    lines += [sep.join(f'"{c}"' if c else "" for c in row[:width]) for row in body]
    data = ("\n".join(lines) + "\n").encode()
    with mock.patch.object(tabular, "read_table", wraps=REFERENCE) as detection:
        got = assert_same(data, options(**extra))
    event("layout detected" if detection.called else "read as tidy")
    event("refused" if isinstance(got, str) else "read")


def _wide_after_a_mark() -> bytes:
    """A UTF-8 file with a byte order mark whose 65,536th character after the mark (the
    last the separator is guessed from) is a comma that tips the guess to ``,``."""
    row = "L" + "x" * 390 + ",1;2\n"
    content = "name,h2;h3\n" + row * 180
    comma = content.find(",", 65535 - 400)
    while comma < 65535 - 10:
        comma = content.find(",", comma + 1)
    first = "L" + "x" * (390 + 65535 - comma) + ",1;2\n"
    content = "name,h2;h3\n" + first + row * 179
    assert content[65535] == ","
    return b"\xef\xbb\xbf" + content.encode()


@pytest.mark.parametrize(
    ("data", "extra"),
    [
        # The mark the decoding drops is not a character of the head the guess reads.
        (_wide_after_a_mark(), {}),
        # Two marks: detection drops both.
        (b"\xef\xbb\xbf\xef\xbb\xbfcomune,valore\nA,1\nB,2\n", {}),
        (b'\xef\xbb\xbf\xef\xbb\xbf"comune";valore\r\nA;1\r\nB;2\r\n', {}),
        # Skipped rows with CRLF line ends, or quotes that close on their line, are lines.
        (b"Tavola 1\r\ncomune,valore\r\nA,1\r\nB,2\r\n", {"skip_rows": 1}),
        (b'"Tavola 1, anno 2023"\ncomune,valore\nA,1\nB,2\n', {"skip_rows": 1}),
    ],
)
def test_files_a_second_review_found_read_as_detection_reads_them(
    data: bytes, extra: dict[str, object]
) -> None:
    assert_same(data, options(**extra))


def test_skipped_rows_that_are_plain_lines_keep_the_fast_path(detections: list[bytes]) -> None:
    for data in (
        b"Tavola 1\r\ncomune,valore\r\nA,1\r\nB,2\r\n",
        b'"Tavola 1, anno 2023"\ncomune,valore\nA,1\nB,2\n',
    ):
        assert_same(data, options(skip_rows=1))
    assert detections == []


def test_declared_tidy_refuses_skipped_rows_it_would_count_otherwise() -> None:
    from welfare_observatory.sources.tidy import read_tidy

    # CRLF and a footer: read as lines, as tidy (the footer a row), not by detection.
    data = b"Tavola 1\r\ncomune,valore\r\nA,1\r\nB,2\r\nFonte: Istat\r\n"
    tidy = read_tidy(data, options(layout="tidy", skip_rows=1))
    assert tidy.column("comune").to_pylist() == ["A", "B", "Fonte: Istat"]
    # A quoted line break, or a carriage return alone, in a skipped row: refused.
    for data in (QUOTED_TITLE, b"T\rA;B\n1;2\nc;d\n"):
        with pytest.raises(ParseError, match="counted as records"):
            read_tidy(data, options(layout="tidy", skip_rows=1))


def test_a_column_listed_twice_is_an_error_of_the_options() -> None:
    # Both readers failed deep inside (KeyError, ValueError) on a repeated column.
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'Comune' is listed twice in columns"):
        options(columns=["Comune", "Valore", "Comune"])
