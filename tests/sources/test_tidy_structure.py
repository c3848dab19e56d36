"""Broken table structure under ``layout: tidy`` is reported as the detecting reader reports
it (issues 18 item 11 and 19 item 4): a short row and a header without rows are warning
findings naming file, row and column, with the same table; a row reaching past the header
is an error naming its row and column; a year header whose cells are not numbers is an error
naming the cell."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.errors import ParseError
from welfare_observatory.model.finding import Finding
from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.table import TableOptions
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tidy import read_tidy


def options(**extra: object) -> TableOptions:
    return TableOptions.model_validate({"path": "data.csv", "layout": "tidy", **extra})


def both(data: bytes, **extra: object) -> tuple[pa.Table, list[Finding]]:
    """The tidy reading, checked equal to the detecting reader's (table and findings)."""
    slow = read_table(data, options(**extra), file="f.csv", source="s")
    fast = read_tidy(data, options(**extra), file="f.csv", source="s")
    assert fast.combine_chunks().equals(slow), (fast.to_pydict(), slow.to_pydict())
    assert parse_findings(fast) == parse_findings(slow)
    return fast, parse_findings(fast)


def refused(data: bytes, **extra: object) -> tuple[ParseError, ParseError]:
    with pytest.raises(ParseError) as slow:
        read_table(data, options(**extra), file="f.csv", source="s")
    with pytest.raises(ParseError) as fast:
        read_tidy(data, options(**extra), file="f.csv", source="s")
    return fast.value, slow.value


def test_a_short_row_is_a_warning_naming_file_row_and_column_and_nothing_shifts() -> None:
    data = b"Comune;Codice;Anno;Valore\nBiella;096004;2023;1,5\nCossato;096025;2023\n"
    table, findings = both(data, value_columns=["Valore"])
    [short] = findings
    assert (short.code, short.severity.value, short.row, short.column) == (
        "short-row",
        "warning",
        3,
        "Valore",
    )
    assert short.source == "s" and "f.csv" in short.message
    assert table.column("Codice").to_pylist() == ["096004", "096025"]
    assert table.column("Valore").to_pylist() == [1.5, None]


def test_short_rows_are_counted_and_the_first_is_named() -> None:
    data = b"A,B,C\n1,2,3\n\n4,5\n6,7,8\n9,10\n"
    _, [short] = both(data)
    assert (short.row, short.column, short.count) == (4, "C", 2)


@pytest.mark.parametrize("data", [b"A,Value\n", b"A,Value\n\n\n", b"A;Value\r\n"])
def test_a_header_without_rows_is_a_warning_naming_the_file(data: bytes) -> None:
    table, [empty] = both(data, value_columns=["Value"])
    assert table.num_rows == 0 and table.column_names[:2] == ["A", "Value"]
    assert (empty.code, empty.severity.value, empty.row, empty.source) == (
        "no-rows",
        "warning",
        1,
        "s",
    )
    assert "f.csv" in empty.message


def test_a_row_past_the_header_is_an_error_at_the_detecting_readers_place() -> None:
    fast, slow = refused(b"Comune,2022,2023\nBiella,1,2\nCossato,3,4,5\nBrescia,6,7\n")
    assert fast.location is not None and slow.location is not None
    assert (fast.location.row, fast.location.column) == (slow.location.row, slow.location.column)
    assert (fast.location.row, fast.location.column, fast.location.file) == (3, 4, "f.csv")


def test_a_trailing_separator_adds_no_cell() -> None:
    both(b"A,B,C\n1,2,3\n4,5,6,\n")


def test_a_year_header_whose_cells_are_not_numbers_is_an_error_naming_the_cell() -> None:
    # Mostly text: without the year rule the column would silently become a text column.
    fast, slow = refused(b"Comune;2022;2023\nBiella;1;2\nCossato;abc;4\nBrescia;xyz;5\n")
    assert fast.location is not None and slow.location is not None
    assert fast.location.column == slow.location.column == "2022"
    assert fast.location.row == 3


_cell = st.sampled_from(["1", "2,5", "", "-", "x", "017001"])
_filled = st.sampled_from(["1", "2,5", "-", "x", "017001"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        # Two filled cells first: a row of one cell is a title, section or note to the
        # detecting reader, and a tidy table has none of those.
        st.tuples(_filled, _filled, st.lists(_cell, max_size=2)).map(lambda r: [*r[:2], *r[2]]),
        min_size=1,
        max_size=12,
    )
)
def test_ragged_tables_read_as_detected_or_fail_naming_the_long_row(rows: list[list[str]]) -> None:
    data = ("Codice;Nome;Valore\n" + "\n".join(";".join(r) for r in rows) + "\n").encode()
    extra = {"value_columns": ["Valore"], "dtypes": {"Valore": "string"}, "separator": ";"}
    long = [(i, len(r)) for i, r in enumerate(rows) if len(r) > 3 and r[3]]
    if long:
        # A cell past the header is always refused under layout: tidy (the detecting
        # reader takes a column without header as part of the layout when most rows have
        # one); the error names the first such row and cell.
        with pytest.raises(ParseError) as caught:
            read_tidy(data, options(**extra), file="f.csv", source="s")
        assert caught.value.location is not None
        assert (caught.value.location.row, caught.value.location.column) == (long[0][0] + 2, 4)
        return
    try:
        slow = read_table(data, options(**extra), file="f.csv", source="s")
    except ParseError as exc:
        with pytest.raises(ParseError) as caught:
            read_tidy(data, options(**extra), file="f.csv", source="s")
        assert exc.location is not None and caught.value.location is not None
        assert (caught.value.location.row, caught.value.location.column) == (
            exc.location.row,
            exc.location.column,
        )
        return
    fast = read_tidy(data, options(**extra), file="f.csv", source="s")
    assert fast.combine_chunks().equals(slow)
    assert parse_findings(fast) == parse_findings(slow)
