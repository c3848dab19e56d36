"""The conformance kit passes a well-behaved source and catches each kind of misbehaviour."""

from __future__ import annotations

import itertools
import re
from typing import ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given
from pydantic import ConfigDict

from welfare_observatory.errors import HarmonizeError, ParseError
from welfare_observatory.model import Indicator
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.sdk import FetchContext, Payload, Source, SourceOptions
from welfare_observatory.testing import (
    Sample,
    SourceConformance,
    check_deterministic,
    check_harmonizes,
    check_invalid_options,
    check_malformed_payloads,
    check_source_class,
    check_table,
    fetch_sample,
    indicators,
    observations,
    territory_codes,
)
from welfare_observatory.validate.schema import validate_observations


class CountsOptions(SourceOptions):
    path: str


class CountsSource(Source):
    """A small, correct source: a UTF-8 CSV of codes and counts."""

    type: ClassVar[str] = "counts"
    Options = CountsOptions
    description = "Counts per municipality"

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        assert isinstance(self.options, CountsOptions)
        return [ctx.read_file(self.options.path)]

    def parse(self, payload: Payload) -> pa.Table:
        data = payload.read_bytes()
        try:
            header = data.split(b"\n", 1)[0].decode("utf-8").strip().split(",")
        except UnicodeDecodeError as exc:
            raise self.parse_error(payload, "not UTF-8") from exc
        if header != ["code", "n"]:
            raise self.parse_error(payload, f"expected columns code,n, found {header}", line=1)
        try:
            return pacsv.read_csv(
                pa.BufferReader(data),
                convert_options=pacsv.ConvertOptions(
                    column_types={"code": pa.string(), "n": pa.float64()}
                ),
            )
        except pa.ArrowInvalid as exc:
            raise self.parse_error(payload, str(exc)) from exc


RULE = """
indicator: {value: POP_TOTAL}
territory: {column: code, scheme: istat, level: municipality}
period: {value: "2024", reference_date: jan_1}
value: {column: n}
unit: {unit: person}
"""

SAMPLE = Sample({"path": "n.csv"}, files={"n.csv": b"code,n\n096004,3\n096025,5\n"}, rows=2)


class TestCountsSource(SourceConformance):
    source_class = CountsSource
    samples = (SAMPLE,)
    invalid_options = ({"path": ["not", "a", "path"]},)
    code_columns = ("code",)
    harmonize_rules = RULE


# -- the kit must be able to fail ------------------------------------------------------------
class CrashingSource(CountsSource):
    type: ClassVar[str] = "crashing"

    def parse(self, payload: Payload) -> pa.Table:
        text = payload.read_bytes().decode("utf-8")  # UnicodeDecodeError escapes
        return pa.table({"code": [line.split(",")[0] for line in text.splitlines()]})


class FlakySource(CountsSource):
    type: ClassVar[str] = "flaky"
    _calls = itertools.count()

    def parse(self, payload: Payload) -> pa.Table:
        return pa.table({"call": [next(self._calls)]})


class IntCodesSource(CountsSource):
    type: ClassVar[str] = "int_codes"

    def parse(self, payload: Payload) -> pa.Table:
        return pa.table({"code": [96004, 96025], "n": [3.0, 5.0]})


class LooseOptions(SourceOptions):
    model_config = ConfigDict(frozen=True, extra="ignore")
    path: str = ""


class LooseSource(CountsSource):
    type: ClassVar[str] = "loose"
    Options = LooseOptions


class AnonymousErrorSource(CountsSource):
    type: ClassVar[str] = "anonymous"

    def parse(self, payload: Payload) -> pa.Table:
        raise ParseError("something is wrong")  # no location: which source? which file?


def test_the_kit_passes_a_correct_source(tmp_path):
    [payload] = fetch_sample(CountsSource, SAMPLE, tmp_path)
    table = check_deterministic(CountsSource("s", SAMPLE.options), payload)
    assert check_table(table, ["code"])["code"].to_pylist() == ["096004", "096025"]


def test_a_crash_on_malformed_input_is_caught(tmp_path):
    [payload] = fetch_sample(CrashingSource, SAMPLE, tmp_path)
    with pytest.raises(UnicodeDecodeError):
        check_malformed_payloads(CrashingSource("s", SAMPLE.options), tmp_path, payload)


def test_a_non_deterministic_parse_is_caught(tmp_path):
    [payload] = fetch_sample(FlakySource, SAMPLE, tmp_path)
    with pytest.raises(AssertionError, match="not deterministic"):
        check_deterministic(FlakySource("s", SAMPLE.options), payload)


def test_integer_code_columns_are_caught(tmp_path):
    [payload] = fetch_sample(IntCodesSource, SAMPLE, tmp_path)
    with pytest.raises(AssertionError, match="leading zeros"):
        check_table(IntCodesSource("s", SAMPLE.options).parse(payload), ["code"])


def test_duplicate_and_nested_columns_are_caught():
    duplicated = pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["x", "x"])
    with pytest.raises(AssertionError, match="duplicate column"):
        check_table(duplicated)
    with pytest.raises(AssertionError, match="has type list"):
        check_table(pa.table({"x": [[1, 2]]}))
    with pytest.raises(AssertionError, match=r"pyarrow\.Table"):
        check_table({"x": [1]})


def test_options_that_accept_unknown_keys_are_caught():
    with pytest.raises(AssertionError, match="forbid"):
        check_source_class(LooseSource)
    with pytest.raises(AssertionError, match="were accepted"):
        check_invalid_options(LooseSource, {"no_such_option": 1})


def test_a_parse_error_without_the_source_id_is_caught(tmp_path):
    [payload] = fetch_sample(AnonymousErrorSource, SAMPLE, tmp_path)
    with pytest.raises(AssertionError, match="must name the source id"):
        check_malformed_payloads(AnonymousErrorSource("s", SAMPLE.options), tmp_path, payload)


# -- hypothesis strategies -------------------------------------------------------------------
@given(observations(("sex", "age"), min_rows=1))
def test_drawn_observation_tables_are_valid_canonical_tables(table):
    assert table.schema.equals(observation_schema(("sex", "age")))
    assert validate_observations(table) == []


@given(observations(indicators=["POP_TOTAL"], territories=territory_codes(codes=["096004"])))
def test_observation_tables_can_be_pinned_to_given_ids(table):
    assert set(table["indicator"].to_pylist()) <= {"POP_TOTAL"}
    assert set(table["territory"].to_pylist()) <= {"096004"}
    assert table.num_rows <= 16  # one row per year at most: keys are unique


SHAPES = {
    "country": r"IT",
    "nuts1": r"IT[C-I]",
    "region": r"(0[1-9]|1[0-9]|20)",
    "province": r"\d{3}",
    "municipality": r"\d{6}",
    "district": r"district:T\d{5}",
}


@pytest.mark.parametrize("level", sorted(SHAPES))
def test_territory_codes_have_the_shape_of_their_level(level):
    @given(territory_codes([level]))
    def check(code):
        assert re.fullmatch(SHAPES[level], code), code

    check()


def test_unknown_territory_levels_are_refused():
    with pytest.raises(ValueError, match="unknown levels"):
        territory_codes(["county"])


@given(indicators())
def test_drawn_indicators_are_valid_models(indicator):
    assert isinstance(indicator, Indicator)
    assert Indicator.model_validate(indicator.model_dump()) == indicator
    if indicator.formula is not None:
        assert indicator.id not in (indicator.formula.numerator, indicator.formula.denominator)


# -- harmonization round trip ----------------------------------------------------------------
def test_parsed_tables_harmonize_into_canonical_observations(tmp_path):
    payloads = fetch_sample(CountsSource, SAMPLE, tmp_path)
    table = check_harmonizes(CountsSource("counts", SAMPLE.options), payloads, RULE)
    assert table["territory"].to_pylist() == ["096004", "096025"]
    assert table["value"].to_pylist() == [3.0, 5.0]


def test_a_rule_that_does_not_fit_the_table_is_caught(tmp_path):
    payloads = fetch_sample(CountsSource, SAMPLE, tmp_path)
    wrong = RULE.replace("column: code", "column: comune")
    with pytest.raises((AssertionError, HarmonizeError)):
        check_harmonizes(CountsSource("counts", SAMPLE.options), payloads, wrong)
