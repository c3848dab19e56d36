"""Reading Eurostat bulk TSV: dimensions, trailing spaces, flags, missing cells, gzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from welfare_observatory_eurostat_tsv.reader import read_eurostat_tsv

from welfare_observatory import ParseError

SMALL = (
    b"freq,unit,geo\\TIME_PERIOD\t2021 \t2022 \t2023 \n"
    b"A,NR,ITC13\t171000 \t170027 p\t169106 bep\n"
    b"A,NR,ITH20\t: \t540958 e\t: c\n"
    b"A,NR,ITZZ\t: z\t0.5 u\t-12 r\n"
)


def _value(table: pa.Table, geo: str, period: str, column: str) -> object:
    mask = pc.and_(pc.equal(table["geo"], geo), pc.equal(table["TIME_PERIOD"], period))
    return table.filter(mask)[column][0].as_py()


def test_the_real_excerpt_reads_long(excerpt: Path) -> None:
    table = read_eurostat_tsv(excerpt.read_bytes(), file=excerpt.name)
    assert table.column_names == [
        "freq",
        "indic_de",
        "geo",
        "TIME_PERIOD",
        "OBS_VALUE",
        "OBS_FLAG",
        "OBS_STATUS",
        "CONF_STATUS",
    ]
    assert table.num_rows == 9 * 24  # 9 geos x 2000..2023
    assert set(table["TIME_PERIOD"].to_pylist()) == {str(y) for y in range(2000, 2024)}
    assert _value(table, "ITC47", "2022", "OBS_VALUE") == 1253157.0
    assert _value(table, "ITH20", "2022", "OBS_VALUE") == 540958.0
    assert _value(table, "ITC13", "2022", "OBS_VALUE") == 170027.0
    # 2019 is a break in series everywhere in this dataset.
    assert _value(table, "IT", "2019", "OBS_FLAG") == "b"
    assert _value(table, "IT", "2019", "OBS_STATUS") == "B"
    assert _value(table, "ITC", "2001", "OBS_VALUE") is None
    assert _value(table, "ITC", "2001", "OBS_STATUS") == "O"


def test_flags_are_kept_verbatim_and_mapped_to_statuses() -> None:
    table = read_eurostat_tsv(SMALL)
    assert _value(table, "ITC13", "2021", "OBS_STATUS") == "A"
    assert _value(table, "ITC13", "2021", "OBS_FLAG") is None
    assert _value(table, "ITC13", "2022", "OBS_STATUS") == "P"
    assert _value(table, "ITC13", "2023", "OBS_FLAG") == "bep"
    assert _value(table, "ITC13", "2023", "OBS_STATUS") == "B"  # b wins over e and p
    assert _value(table, "ITH20", "2023", "OBS_VALUE") is None
    assert _value(table, "ITH20", "2023", "CONF_STATUS") == "C"
    assert _value(table, "ITZZ", "2021", "OBS_STATUS") == "M"  # z: not applicable
    assert _value(table, "ITZZ", "2022", "OBS_VALUE") == 0.5
    assert _value(table, "ITZZ", "2022", "OBS_STATUS") == "U"
    assert _value(table, "ITZZ", "2023", "OBS_VALUE") == -12.0
    assert _value(table, "ITZZ", "2023", "OBS_STATUS") == "A"  # r (revised) has no status


def test_gzip_is_read_and_bounded() -> None:
    packed = gzip.compress(SMALL)
    assert read_eurostat_tsv(packed).equals(read_eurostat_tsv(SMALL))
    with pytest.raises(ParseError, match="inflates past"):
        read_eurostat_tsv(gzip.compress(b" " * 100_000), max_uncompressed_bytes=1000)
    with pytest.raises(ParseError, match="truncated"):
        read_eurostat_tsv(packed[: len(packed) // 2])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"geo,value\nIT,1\n", "not a Eurostat TSV"),
        (b"freq,geo\\TIME_PERIOD\t2020 \nA,IT\t12 X\n", "is not '<number> [flags]'"),
        (b"freq,geo\\TIME_PERIOD\t2020 \nA\t12 \n", "does not have 2 parts"),
        (b"freq,geo\\TIME_PERIOD\t2020 \nA,IT\t1,5 \n", "is not '<number> [flags]'"),
        (b"\xff\xfe\x00f", "not UTF-8"),
    ],
)
def test_bad_files_name_the_place(body: bytes, words: str) -> None:
    with pytest.raises(ParseError) as info:
        read_eurostat_tsv(body, file="x.tsv", source="eu")
    assert words in info.value.message
    assert info.value.location is not None and info.value.location.source == "eu"


def test_a_bad_cell_names_its_line_and_period() -> None:
    body = b"freq,geo\\TIME_PERIOD\t2020 \t2021 \nA,IT\t1 \t2 \nA,FR\t3 \tn.a. \n"
    with pytest.raises(ParseError) as info:
        read_eurostat_tsv(body)
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.column) == (3, "2021")


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-(10**9), max_value=10**9) | st.none(),
            st.text(alphabet="bcdefnprsuz", max_size=3),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_every_value_survives_the_round_trip(cells: list[tuple[int | None, str]]) -> None:
    header = "freq,geo\\TIME_PERIOD\t" + "\t".join(f"{2000 + i} " for i in range(len(cells)))
    row = "A,IT\t" + "\t".join(
        (":" if v is None else str(v)) + (f" {f}" if f else " ") for v, f in cells
    )
    table = read_eurostat_tsv(f"{header}\n{row}\n".encode())
    assert table["OBS_VALUE"].to_pylist() == [None if v is None else float(v) for v, _ in cells]
    assert table["OBS_FLAG"].to_pylist() == [f or None for _, f in cells]
    statuses = table["OBS_STATUS"].to_pylist()
    assert all((s in ("O", "M")) == (v is None) for s, (v, _) in zip(statuses, cells, strict=True))


def test_a_header_without_series_is_an_empty_table() -> None:
    table = read_eurostat_tsv(b"freq,geo\\TIME_PERIOD\t2020 \t2021 \n")
    assert table.num_rows == 0
    assert table.column_names[:3] == ["freq", "geo", "TIME_PERIOD"]
