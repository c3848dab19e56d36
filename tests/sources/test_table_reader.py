"""The table reader on real Istat files: layout, encodings, numbers and markers."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.errors import ParseError
from welfare_observatory.sources.notes import parse_findings
from welfare_observatory.sources.tabular import read_table
from welfare_observatory.sources.tabular_options import Marker, TabularOptions


def _read(path: Path, **options: object) -> pa.Table:
    return read_table(path.read_bytes(), TabularOptions(**options), file=path.name, source="t")


def test_noi_italia_layout_is_found_without_options(shared_data: Path) -> None:
    """BOM, ';', decimal comma, titles, a multi-line title, two header rows, sections, notes."""
    table = _read(shared_data / "istat_noiitalia2024_stranieri_istruzione.csv")
    assert table.num_rows == 18  # 3 sections x 6 years: titles and footnotes are gone
    assert table.column_names[:5] == [
        "section",
        "ANNI",
        "15-24 | Straniera",
        "15-24 | Straniera__status",
        "15-24 | Straniera__conf",
    ]
    assert table.schema.field("ANNI").type == pa.string()
    assert table.schema.field("15-24 | Straniera").type == pa.float64()
    rows = table.to_pylist()
    assert rows[0]["section"] == "LICENZA MEDIA"  # leading space stripped
    assert rows[0]["ANNI"] == "2018"
    assert rows[0]["15-24 | Straniera"] == pytest.approx(69.1)
    assert rows[-1]["section"] == "TITOLO UNIVERSITARIO"
    assert rows[-1]["Totale | Italiana"] == pytest.approx(20.1)
    assert {r["15-24 | Straniera__status"] for r in rows} == {"A"}
    value_columns = [n for n in table.column_names if n.endswith(("Straniera", "Italiana"))]
    assert len(value_columns) == 12  # spacer columns are dropped


def test_noi_italia_with_declared_layout_gives_the_same_table(shared_data: Path) -> None:
    path = shared_data / "istat_noiitalia2024_stranieri_istruzione.csv"
    declared = _read(
        path, separator=";", encoding="utf-8", decimal=",", header_row=8, header_rows=2
    )
    assert declared.equals(_read(path))


def test_elenco_comuni_is_cp1252_and_keeps_codes_as_strings(shared_data: Path) -> None:
    table = _read(shared_data / "istat_elenco_comuni_italiani.csv")
    assert table.num_rows == 7896
    names = table.column_names
    # Header cells with embedded newlines are joined into one line.
    assert "Codice dell'Unità territoriale sovracomunale (valida a fini statistici)" in names
    assert all(table.schema.field(n).type == pa.string() for n in names)
    by_code = dict(
        zip(
            table["Codice Comune formato alfanumerico"].to_pylist(),
            table["Denominazione (Italiana e straniera)"].to_pylist(),
            strict=True,
        )
    )
    assert by_code["096004"] == "Biella"
    assert "Števerjan" in by_code["031019"]  # byte 0x8A in cp1252
    assert "Nabrežina" in by_code["032001"]  # byte 0x9E in cp1252
    assert set(table["Codice Provincia (Storico)(1)"].to_pylist()) >= {"017", "022", "096"}


def test_latin1_is_never_what_auto_picks(shared_data: Path) -> None:
    data = (shared_data / "istat_elenco_comuni_italiani.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    table = read_table(data, TabularOptions(encoding="cp1252"))
    text = " ".join(filter(None, table["Denominazione (Italiana e straniera)"].to_pylist()))
    assert "\x8a" not in text and "\x9e" not in text


def test_legacy_istat_export_reads_value_and_empty_flags(shared_data: Path) -> None:
    table = _read(shared_data / "istat_legacy_export_DCCV_TAXOCCU1.csv")
    assert table.num_rows == 1200
    assert table.column_names[0] == "ITTER107"  # BOM stripped from the first header
    assert table.schema.field("Value").type == pa.float64()
    assert table.schema.field("SEXISTAT1").type == pa.string()
    assert table["Value"][0].as_py() == pytest.approx(79.898297)
    assert table["Flag Codes"].null_count == 1200
    assert set(table["TIME"].to_pylist()) >= {"2019", "2019-Q1"}


def test_sdmx_csv_has_one_value_column(shared_data: Path) -> None:
    table = _read(shared_data / "sdmx_istat_29_316_DCIS_POPSTRBIL1_foreigners_balance.csv")
    assert table.num_rows == 42612
    floats = [f.name for f in table.schema if f.type == pa.float64()]
    assert floats == ["OBS_VALUE"]
    rows = table.filter(
        pa.compute.and_(
            pa.compute.equal(table["REF_AREA"], "ITC47"),
            pa.compute.and_(
                pa.compute.equal(table["DATA_TYPE"], "FJAN"),
                pa.compute.and_(
                    pa.compute.equal(table["SEX"], "9"),
                    pa.compute.equal(table["TIME_PERIOD"], "2023"),
                ),
            ),
        )
    )
    assert rows["OBS_VALUE"].to_pylist() == [150383.0]


ISTAT_SIGNS = (
    "Comune;2021;2022;2023\r\nBiella;1.253.157;69,1;-\r\nBrescia;....;..;:\r\nTrento;;-3,5;0\r\n"
).encode("cp1252")


def test_istat_conventional_signs_map_to_values_and_statuses() -> None:
    table = read_table(ISTAT_SIGNS).to_pylist()
    biella, brescia, trento = table
    assert biella["2021"] == 1253157.0 and biella["2022"] == pytest.approx(69.1)
    assert (biella["2023"], biella["2023__status"]) == (0.0, "A")  # "-": no cases
    assert brescia["2021"] is None and brescia["2021__status"] == "O"  # "....": not available
    assert (brescia["2022"], brescia["2022__status"]) == (0.0, "N")  # "..": below half a unit
    assert brescia["2023"] is None
    assert (brescia["2023__status"], brescia["2023__conf"]) == ("O", "C")  # ":": confidential
    assert trento["2021"] is None and trento["2021__status"] == "O"  # empty cell
    assert trento["2022"] == -3.5


def test_markers_are_configurable_per_source() -> None:
    # Undeclared, "n.d." is missing with status O and a finding naming the cell (issue 18,
    # item 12: a "not available" sign is never an error nor a number); declared, it takes
    # the status the source gives it.
    data = b"Comune;2023\nBiella;n.d.\nBrescia;12\n"
    table = read_table(data, TabularOptions(value_columns=["2023"]), file="x.csv", source="s")
    assert table.to_pylist()[0]["2023"] is None and table.to_pylist()[0]["2023__status"] == "O"
    (finding,) = [f for f in parse_findings(table) if f.code == "not-available"]
    assert (finding.row, finding.column, finding.source) == (2, "2023", "s")
    assert "x.csv" in finding.message and "'n.d.'" in finding.message
    assert "markers" in (finding.hint or "")
    options = TabularOptions(markers={"n.d.": Marker(value=None, obs_status="L")})
    rows = read_table(data, options).to_pylist()
    assert rows[0]["2023__status"] == "L" and rows[1]["2023"] == 12.0


def test_an_unmapped_sign_in_a_value_column_names_row_and_column() -> None:
    data = b"Comune;2022;2023\nBiella;1;2\nBrescia;3;x\nTrento;5;6\n"
    with pytest.raises(ParseError) as info:
        read_table(data, file="f.csv")
    assert info.value.location is not None
    assert info.value.location.row == 3 and info.value.location.column == "2023"
    assert "'x'" in info.value.message


def test_thousands_groups_must_have_three_digits() -> None:
    """'1.25' with Italian separators is not 125: it is an error, never a silent number."""
    with pytest.raises(ParseError):
        read_table(b"Comune;v\nA;1.25\nB;1.000\n", TabularOptions(value_columns=["v"]))


def test_leading_zeros_survive_and_zero_pad_restores_lost_ones() -> None:
    data = b"PRO_COM;Provincia;pop\n96004;017;44000\n96001;017;1000\n"
    options = TabularOptions(zero_pad={"PRO_COM": 6}, dtypes={"Provincia": "string"})
    table = read_table(data, options)
    assert table["PRO_COM"].to_pylist() == ["096004", "096001"]
    assert table["Provincia"].to_pylist() == ["017", "017"]
    assert table["pop"].to_pylist() == [44000.0, 1000.0]


def test_columns_to_keep_and_unknown_names_get_a_hint() -> None:
    data = b"Comune;2022;2023\nBiella;1;2\n"
    table = read_table(data, TabularOptions(columns=["Comune", "2023"]))
    assert table.column_names == ["Comune", "2023", "2023__status", "2023__conf"]
    with pytest.raises(ParseError) as info:
        read_table(data, TabularOptions(columns=["Comuni"]))
    assert "Comune" in (info.value.hint or "")


def test_comma_separated_files_use_the_decimal_point() -> None:
    table = read_table(b"geo,value\nIT,1.5\nITC,2e3\n")
    assert table["value"].to_pylist() == [1.5, 2000.0]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b'a;b\n"unterminated;1\n', "malformed CSV"),
        ("a;b\nForl\u00ec;1\n".encode() + "Cefal\u00f9;2\n".encode("cp1252"), "decode"),
        (b"\xd0\xcf\x11\xe0rest-of-an-xls", ".xls"),
    ],
)
def test_bad_files_are_parse_errors(data: bytes, words: str) -> None:
    with pytest.raises(ParseError) as info:
        read_table(data, file="bad.csv", source="s")
    assert words in str(info.value)
    assert info.value.location is not None and info.value.location.source == "s"


def test_a_declared_wrong_encoding_names_the_line() -> None:
    data = "Comune;v\nForlì;1\n".encode("cp1252")
    with pytest.raises(ParseError) as info:
        read_table(data, TabularOptions(encoding="utf-8"), file="f.csv")
    assert info.value.location is not None and info.value.location.line == 2
    assert "cp1252" in (info.value.hint or "")


def test_missing_values_are_nan_free_nulls() -> None:
    table = read_table(b"Comune;v\nA;\nB;2\n")
    assert table["v"].null_count == 1
    assert not any(isinstance(v, float) and math.isnan(v) for v in table["v"].to_pylist())


def _italian(value: float, decimals: int) -> str:
    """How Istat prints a number: dot thousands groups, comma decimals."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


@given(
    st.lists(
        st.tuples(st.integers(min_value=-(10**12), max_value=10**12), st.integers(0, 3)),
        min_size=1,
        max_size=20,
    )
)
def test_italian_numbers_round_trip(numbers: list[tuple[int, int]]) -> None:
    """Any number Istat prints comes back exactly as the number it printed."""
    values = [n / 10**d for n, d in numbers]
    lines = [
        f"R{i};{_italian(v, d)}" for i, (v, (_, d)) in enumerate(zip(values, numbers, strict=True))
    ]
    table = read_table(("Riga;2023\n" + "\n".join(lines) + "\n").encode())
    expected = [
        float(_italian(v, d).replace(".", "").replace(",", "."))
        for v, (_, d) in zip(values, numbers, strict=True)
    ]
    assert table["2023"].to_pylist() == expected
    assert set(table["2023__status"].to_pylist()) == {"A"}


@given(st.lists(st.sampled_from(["-", "....", "..", ":", ""]), min_size=1, max_size=20))
def test_every_marker_gets_a_status_never_a_silent_value(signs: list[str]) -> None:
    body = "".join(f"R{i};1;{s}\n" for i, s in enumerate(signs))
    table = read_table(("Riga;2022;2023\n" + body).encode())
    statuses = table["2023__status"].to_pylist()
    assert None not in statuses and None not in table["2023__conf"].to_pylist()
    for sign, value, status in zip(signs, table["2023"].to_pylist(), statuses, strict=True):
        expected = {
            "-": (0.0, "A"),
            "....": (None, "O"),
            "..": (0.0, "N"),
            ":": (None, "O"),
            "": (None, "O"),
        }[sign]
        assert (value, status) == expected


def test_utf16_exports_are_read_and_binary_is_refused() -> None:
    table = read_table("Comune\t2023\nForlì\t12\n".encode("utf-16"))
    assert table.to_pylist()[0]["Comune"] == "Forlì"
    with pytest.raises(ParseError, match="NUL"):
        read_table(b"Comune;2023\nA;\x00\x01\n")


def test_sdmx_csv_nan_is_a_missing_observation() -> None:
    table = read_table(b"REF_AREA,TIME_PERIOD,OBS_VALUE\nITC13,2023,NaN\nITC47,2023,5\n")
    assert table["OBS_VALUE"].to_pylist() == [None, 5.0]
    assert table["OBS_VALUE__status"].to_pylist() == ["O", "A"]


def test_years_under_a_merged_header_cell_are_a_header_level() -> None:
    data = b"Tavola 3;;;\nComune;Anni;;\n;2021;2022;2023\nBiella;44.000;43.800;43.500\n"
    table = read_table(data)
    assert table.column_names[1] == "Anni | 2021"
    assert table["Anni | 2023"].to_pylist() == [43500.0]


def test_a_data_row_with_year_like_values_is_not_a_header() -> None:
    table = read_table(b"Comune;Nati;Morti\nBiella;2021;2022\nCossato;300;400\n")
    assert table.column_names[:2] == ["Comune", "Nati"]
    assert table["Nati"].to_pylist() == [2021.0, 300.0]
