"""What a long fuzz campaign of the tidy fast path found (issue 19: the fast path turns every
malformed table into a finding or a typed error, as the detecting reader does). Each case
is read by both readers: the same table and the same findings, or a ParseError from both."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from welfare_observatory.errors import Location, ParseError
from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.table import TableOptions
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_grid import read_csv_grid
from welfare_observatory.sources.tabular_options import number_format
from welfare_observatory.sources.tidy import read_tidy


def options(**extra: object) -> TableOptions:
    return TableOptions.model_validate({"path": "data.csv", "layout": "tidy", **extra})


def findings(table: pa.Table) -> list[tuple[Any, ...]]:
    """The findings of a read, in one order (the readers list them in their own)."""
    return sorted(
        (f.code, f.column or "", f.row or 0, f.count, f.message) for f in parse_findings(table)
    )


def both(data: bytes, **extra: object) -> tuple[pa.Table, list[tuple[Any, ...]]] | str:
    """What both readers make of ``data``: the table and findings (the same), or the
    message of the ParseError both raise."""
    try:
        slow: pa.Table | ParseError = read_table(data, options(**extra), file="f.csv")
    except ParseError as exc:
        slow = exc
    try:
        fast: pa.Table | ParseError = read_tidy(data, options(**extra), file="f.csv")
    except ParseError as exc:
        fast = exc
    if isinstance(slow, ParseError) or isinstance(fast, ParseError):
        assert isinstance(slow, ParseError), ("only the tidy reader refused", fast)
        assert isinstance(fast, ParseError), ("only the detecting reader refused", slow)
        return str(fast)
    fast = fast.combine_chunks()
    assert fast.equals(slow), (fast.to_pydict(), slow.to_pydict())
    assert findings(fast) == findings(slow)
    return fast, findings(fast)


def test_a_header_whose_quote_runs_into_the_next_line_is_read_alike_or_refused() -> None:
    # The header's last quote was lost: its last cell runs into the first row, which makes
    # the first record wider than any line (pandas took the extra cells as the row index).
    data = (
        b'"Year","Territory","GeoCode","Sex","Value\n'
        b'2004,"A","017001","Total",66\n2004,"A","017001","Female",34\n'
    )
    assert "no column matches 'Value'" in str(both(data, value_columns=["Value"]))
    table, _ = both(data)  # type: ignore[misc]
    assert table.column_names[:4] == ["Year", "Territory", "GeoCode", "Sex"]


def test_a_quoted_line_break_in_the_header_and_short_rows_below_it() -> None:
    table, found = both(b'Year,"Terr\nitory",Value\n2004,A\n2005,B\n', value_columns=["Value"])  # type: ignore[misc]
    assert table.column("Year").to_pylist() == ["2004", "2005"]
    assert [f[:4] for f in found] == [("short-row", "Value", 2, 2)]


@pytest.mark.parametrize(
    "data",
    [
        b'GeoCode,Value,Territory\n017001,1,"Brescia\n017002,2,Bergamo\n017003,3,Milano\n',
        b'GeoCode,Value\n017001,1\n017002,"2\n',
        b'A,B\n1,"x""y"\n2,"z\n',
    ],
)
def test_a_quote_never_closed_is_refused_by_both_not_read_to_the_end(data: bytes) -> None:
    assert "EOF inside string" in str(both(data))


def test_a_lone_quote_inside_an_unquoted_cell_is_text() -> None:
    table, _ = both(b'A,B\nO"Brien,1\n')  # type: ignore[misc]
    assert table.column("A").to_pylist() == ['O"Brien']


@pytest.mark.parametrize(
    ("separator", "settling", "declared"), [(b";", b"1.234.567", ","), (b",", b"5.6", ".")]
)
def test_numbers_a_sign_reads_two_ways_are_reported_by_both(
    separator: bytes, settling: bytes, declared: str
) -> None:
    # 1.234 is 1234 with Italian grouping (a ; file) and 1.234 with a decimal point (a ,
    # file): the reader says which it took when nothing settles it.
    data = b"Territory;Value\nBrescia;1.234\nBergamo;5.678\n".replace(b";", separator)
    for extra in ({"value_columns": ["Value"]}, {}):
        _, found = both(data, **extra)  # type: ignore[misc]
        assert [f[:4] for f in found] == [("ambiguous-number", "Value", 2, 2)]
    # One cell that settles the sign, or a declared format: no warning.
    _, found = both(data.replace(b"5.678", settling))  # type: ignore[misc]
    assert found == []
    _, found = both(data, decimal=declared)  # type: ignore[misc]
    assert found == []


@pytest.mark.parametrize(
    "extra",
    [{"value_columns": ["Value"]}, {"dtypes": {"Valu*": "float64"}}, {"zero_pad": {"Code": 6}}],
)
def test_an_option_naming_no_column_is_refused_by_both(extra: dict[str, Any]) -> None:
    message = both(b"Territory,Valore\nBrescia,1\n", **extra)
    assert isinstance(message, str) and "no column matches" in message


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_rows_after_a_blank_line_keep_their_row_numbers(end: bytes) -> None:
    data = end.join([b"A,Value", b"", b"x,n.d.", b"y,2", b"", b"z,#N/A", b""])
    _, found = both(data, value_columns=["Value"])  # type: ignore[misc]
    assert [(f[0], f[2]) for f in found] == [("error-cell", 6), ("not-available", 3)]


def test_header_row_counts_from_the_top_of_the_file_in_both_readers() -> None:
    table, _ = both(b"t1\nA,B\n1,2\n", header_row=2)  # type: ignore[misc]
    assert table.column_names[:2] == ["A", "B"]
    table, _ = both(b"t1\nt2\nA,B\n1,2\n", skip_rows=1, header_row=3)  # type: ignore[misc]
    assert table.column_names[:2] == ["A", "B"]
    message = both(b"t1\nt2\nA,B\n1,2\n", skip_rows=2, header_row=2)
    assert "header_row 2 is one of the 2 rows skip_rows drops" in str(message)


@pytest.mark.parametrize("digit", ["\u0663", "\uff13"])
def test_digits_of_other_scripts_are_not_numbers_in_either_reader(digit: str) -> None:
    message = both(f"A;Value\nx;{digit}\ny;2\n".encode(), value_columns=["Value"])
    assert "neither a number" in str(message)


def test_a_no_break_space_before_a_percent_sign_is_a_percent_in_both() -> None:
    table, _ = both("Year\tShare\n2020\t12\u00a0%\n2021\t12,5\u202f%\n".encode())  # type: ignore[misc]
    assert table.column("Share").to_pylist() == [12.0, 12.5]
    assert table.column("Share__percent").to_pylist() == [True, True]


def test_one_sign_for_decimals_and_thousands_is_refused_with_the_options() -> None:
    with pytest.raises(ValidationError, match="decimal and thousands are both"):
        options(decimal=".", thousands=".")
    # A declared thousands separator settles an undeclared decimal sign: the other one.
    assert number_format(options(thousands=","), ";") == (".", ",")
    assert number_format(options(thousands="."), ",") == (",", ".")
    table, _ = both(b"A;Value\nx;1,234.5\n", thousands=",")  # type: ignore[misc]
    assert table.column("Value").to_pylist() == [1234.5]


def test_old_mac_line_ends_keep_the_grid_narrow_and_name_short_rows() -> None:
    # Lines ended by a carriage return alone were one line to the width count: a grid as
    # wide as the file's separators (quadratic time); now it is as wide as its records.
    data = b"A,B,C\r" + b"1,2,3\r" * 2000 + b"4,5\r"
    grid = read_csv_grid(data, encoding="utf-8", separator=",", where=Location())
    assert grid.cells.shape == (2002, 3)
    _, found = both(data)  # type: ignore[misc]
    assert [f[:4] for f in found] == [("short-row", "C", 2002, 1)]


ENDS = st.sampled_from(["\n", "\r\n", "\r"])
CELL = st.one_of(
    st.sampled_from(["", "n.d.", "-", ":", "#DIV/0!", "12%", "1.234", "1.234,5", "x", "017"]),
    st.integers(-999, 99999).map(str),
    st.text(alphabet='ab ,;\n"', max_size=5),
)


def render(rows: list[list[str]], end: str, sep: str) -> bytes:
    def cell(text: str) -> str:
        if any(c in text for c in (sep, '"', "\n", "\r")):
            return '"' + text.replace('"', '""') + '"'
        return text

    return "".join(sep.join(cell(c) for c in row) + end for row in rows).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 4).flatmap(
        lambda width: st.lists(st.lists(CELL, min_size=1, max_size=width), max_size=8)
    ),
    ENDS,
    st.sampled_from([",", ";"]),
    st.lists(st.integers(0, 8), max_size=2),
)
def test_any_table_with_any_line_ends_and_blank_lines_reads_alike(
    rows: list[list[str]], end: str, sep: str, blanks: list[int]
) -> None:
    header = ["Code", "Name", "Value", "Other"][: max((len(r) for r in rows), default=1)]
    lines = [header, *rows]
    for at in sorted(blanks, reverse=True):
        lines.insert(min(at + 1, len(lines)), [""])
    # A tidy file has one header row on its first line, no title, notes below the table
    # nor section rows, and its separator is known: detection is told so.
    plain = {
        "footer": "none",
        "section_column": None,
        "header_row": 1,
        "header_rows": 1,
        "separator": sep,
    }
    both(render(lines, end, sep), **plain)
    both(render(lines, end, sep), value_columns=["Value"] if "Value" in header else [], **plain)


def test_a_cell_longer_than_arrows_block_is_read_not_refused() -> None:
    # Arrow's CSV reader works in blocks of 1 MiB and refused a cell straddling two.
    data = b"A,B\nx," + b"y" * (1 << 21) + b"\n1,2\n"
    table, _ = both(data)  # type: ignore[misc]
    assert len(table.column("B")[0].as_py()) == 1 << 21


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_blank_lines_at_the_end_keep_a_file_on_the_fast_path(
    end: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # They change no row number: reading them by the detecting reader's rules cost 4-12x.
    import welfare_observatory.sources.tidy as tidy

    def slow(*_: object) -> None:
        raise AssertionError("read by the detecting reader's rules")

    monkeypatch.setattr(tidy, "_read_ragged", slow)
    data = end.join([b"A,Value", b"x,n.d.", b"y,2", b"", b""])
    table = read_tidy(data, options(value_columns=["Value"]), file="f.csv")
    assert [(f[0], f[2]) for f in findings(table)] == [("not-available", 2)]


@pytest.mark.parametrize(
    "data",
    [
        b'a,b\n1,2"\n3,"4\n5,6\n',  # a literal quote makes the count even
        b'a,b\n1,2"\n3,"4\n5,6',  # and no line end at the end of the file
    ],
)
def test_a_quote_left_open_after_a_literal_one_is_refused_by_both(data: bytes) -> None:
    assert "EOF inside string" in str(both(data))


def test_a_blank_line_among_mixed_line_ends_keeps_its_row_number() -> None:
    _, found = both(b"a,b,c\n\r,,1.234\n,,n.d.\n", value_columns=["c"])  # type: ignore[misc]
    assert [(f[0], f[2]) for f in found] == [("ambiguous-number", 3), ("not-available", 4)]


def test_a_declared_thousands_separator_settles_the_numbers() -> None:
    # Declared, the sign reads one way only: no ambiguous-number warning.
    _, found = both(b"Territory;Value\nBrescia;1.234\n", thousands=".")  # type: ignore[misc]
    assert found == []
