"""Each rule kind on a small source table, including the bad input an analyst will meet."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from welfare_observatory.errors import ConfigError, HarmonizeError
from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize, parse_rules
from welfare_observatory.model import Indicator, Severity
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.validate.schema import validate_observations


def rule(text: str) -> HarmonizeRule:
    (only,) = parse_rules(text)
    return only


def indicator(id_: str, unit: str, breakdowns: tuple[str, ...] = ()) -> Indicator:
    return Indicator.model_validate(
        {
            "id": id_,
            "label": {"en": id_},
            "unit": unit,
            "polarity": "neutral",
            "domain": "demography",
            "measure": "stock",
            "reference_point": "jan_1",
            "aggregation": "sum",
            "breakdowns": breakdowns,
            "source": {"publisher": "Istat", "url": "https://www.istat.it"},
        }
    )


def codes_of(result_table: pa.Table, column: str) -> list[str]:
    return [str(v) for v in result_table.column(column).to_pylist()]


def errors(findings: list) -> dict[str, object]:
    return {f.code: f for f in findings if f.severity is Severity.ERROR}


POP = """
indicator: {value: POP_TOTAL}
territory: {column: code}
period: {column: year, reference_date: jan_1}
value: {column: pop}
unit: {unit: person}
"""


def test_column_mapping_gives_a_canonical_table_that_validates(codes: CodeTable) -> None:
    source = pa.table({"code": ["096004", "96021", "1272"], "year": [2023] * 3, "pop": [1, 2, 3]})
    result = harmonize(source, rule(POP), codes=codes, source="istat")
    assert result.ok, result.findings
    assert result.table.schema.equals(observation_schema(()))
    assert codes_of(result.table, "territory") == ["096004", "096021", "001272"]
    assert codes_of(result.table, "period") == ["2023-01-01"] * 3
    assert result.table.column("period_start").to_pylist()[0] == date(2023, 1, 1)
    assert validate_observations(result.table) == []
    assert set(codes_of(result.table, "lineage")) == {result.step.id}


def test_unknown_codes_are_errors_with_the_closest_code_and_rows_left_out(
    codes: CodeTable,
) -> None:
    source = pa.table({"code": ["096004", "096005"], "year": ["2023", "2023"], "pop": [1, 2]})
    result = harmonize(source, rule(POP), codes=codes)
    found = errors(result.findings)["unknown-territory"]
    assert found.row == 1 and found.column == "code" and "096005" in found.message
    assert "096004" in found.hint
    assert result.table.num_rows == 1 and not result.ok


def test_missing_source_column_names_the_closest_column(codes: CodeTable) -> None:
    source = pa.table({"codice": ["096004"], "year": ["2023"], "pop": [1]})
    with pytest.raises(HarmonizeError) as info:
        harmonize(source, rule(POP), codes=codes)
    assert info.value.location is not None and info.value.location.column == "code"
    assert "codice" in (info.value.hint or "")


NAMES = """
indicator: {value: POP_TOTAL}
territory:
  column: comune
  scheme: name
  province_column: prov
  mapping:
    - {source: "Biella città", code: "096004"}
    - {source: "Samone", province: TN, code: "022165"}
period: {value: "2023", reference_date: jan_1}
value: {column: pop}
unit: {unit: person}
"""


def test_names_normalize_accents_case_apostrophes_and_abbreviations(codes: CodeTable) -> None:
    source = pa.table(
        {
            "comune": [
                "FIAVE'",
                "S. Antonino di Susa",
                "biella città",
                "Samone",
                "Samone",
                "Bozen",
            ],
            "prov": ["TN", "TO", "BI", "TN", "TO", "BZ"],
            "pop": [1, 2, 3, 4, 5, 6],
        }
    )
    result = harmonize(source, rule(NAMES), codes=codes)
    assert result.ok, result.findings
    assert codes_of(result.table, "territory") == [
        "022083",
        "001247",
        "096004",
        "022165",
        "001235",
        "021008",
    ]


def test_a_homonym_without_province_is_ambiguous_not_guessed(codes: CodeTable) -> None:
    text = NAMES.replace("  province_column: prov\n", "")
    source = pa.table({"comune": ["Samone", "Cossato"], "pop": [1, 2]})
    no_scope = rule(text.replace('    - {source: "Samone", province: TN, code: "022165"}\n', ""))
    result = harmonize(source, no_scope, codes=codes)
    found = errors(result.findings)["ambiguous-territory"]
    assert "001235" in found.hint and "022165" in found.hint
    assert codes_of(result.table, "territory") == ["096021"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("ITC13", "096"), ("ITD20", "022"), ("ITH20", "022"), ("IT", "IT"), ("ITC", "ITC")],
)
def test_nuts_and_istat_legacy_codes(codes: CodeTable, value: str, expected: str) -> None:
    text = POP.replace("{column: code}", "{column: code, scheme: nuts}")
    source = pa.table({"code": [value], "year": ["2022"], "pop": [1.0]})
    result = harmonize(source, rule(text), codes=codes)
    assert codes_of(result.table, "territory") == [expected]


def test_belfiore_codes(codes: CodeTable) -> None:
    text = POP.replace("{column: code}", "{column: code, scheme: belfiore}")
    source = pa.table({"code": ["A859", "l378"], "year": ["2022"] * 2, "pop": [1.0, 2.0]})
    result = harmonize(source, rule(text), codes=codes)
    assert codes_of(result.table, "territory") == ["096004", "022205"]


def test_digit_codes_need_a_level_when_ambiguous(codes: CodeTable) -> None:
    source = pa.table({"code": ["1"], "year": ["2022"], "pop": [1.0]})
    ambiguous = harmonize(source, rule(POP), codes=codes)
    assert "ambiguous-territory" in errors(ambiguous.findings)
    text = POP.replace("{column: code}", "{column: code, level: region}")
    assert codes_of(harmonize(source, rule(text), codes=codes).table, "territory") == ["01"]


WIDE = """
indicator: {value: POP_TOTAL}
territory: {column: "freq,indic_de,geo\\\\TIME_PERIOD", scheme: nuts}
melt: {pattern: '\\s*(\\d{4})\\s*', names_to: year, values_to: pop}
period: {column: year, reference_date: jan_1}
value: {column: pop}
unit: {unit: person}
"""


def test_wide_to_long_by_regex_keeps_the_source_row_and_column_in_findings(
    codes: CodeTable,
) -> None:
    geo = "freq,indic_de,geo\\TIME_PERIOD"
    source = pa.table({geo: ["ITC13", "ITXX"], "2021 ": [170724.0, 1.0], "2022 ": [170027.0, 2.0]})
    result = harmonize(source, rule(WIDE), codes=codes)
    assert sorted(codes_of(result.table, "period")) == ["2021-01-01", "2022-01-01"]
    assert result.table.column("value").to_pylist() == [170724.0, 170027.0]
    found = errors(result.findings)["unknown-territory"]
    assert found.count == 2 and found.row == 1


def test_wide_to_long_by_list_and_filters_on_the_new_column(codes: CodeTable) -> None:
    text = """
indicator: {value: POP_TOTAL}
territory: {column: code}
melt: {columns: ["2021", "2022", "2023"], names_to: year, values_to: pop}
filters: [{column: year, not_in: ["2021"]}, {column: kind, in: [JAN]}]
period: {column: year, reference_date: jan_1}
value: {column: pop}
unit: {unit: person}
"""
    source = pa.table(
        {
            "code": ["096004", "096004"],
            "kind": ["JAN", "DEC"],
            "2021": [1.0, 9.0],
            "2022": [2.0, 9.0],
            "2023": [3.0, 9.0],
        }
    )
    result = harmonize(source, rule(text), codes=codes)
    assert result.ok
    assert result.table.column("value").to_pylist() == [2.0, 3.0]


SEX = """
indicator: {value: POP_TOTAL}
territory: {value: "096004"}
period: {value: "2023", reference_date: jan_1}
breakdowns:
  sex: {column: sesso}
  age: {column: eta}
  citizenship: {column: cittadinanza}
value: {column: v}
unit: {unit: person}
"""


def test_breakdown_codes_to_sdmx_style(codes: CodeTable) -> None:
    source = pa.table(
        {
            "sesso": ["1", "2", "9", "maschi", "Femmine", "T"],
            "eta": ["0-14", "65-74", "75 e più", "Y_GE75", "totale", "23"],
            "cittadinanza": ["italiana", "straniera", "TOTAL", "ITL", "FRGAPO", "totale"],
            "v": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    result = harmonize(source, rule(SEX), codes=codes)
    assert codes_of(result.table, "sex") == ["M", "F", "_T", "M", "F", "_T"]
    assert codes_of(result.table, "age") == ["Y0T14", "Y65T74", "Y_GE75", "Y_GE75", "_T", "Y23"]
    assert codes_of(result.table, "citizenship") == ["NAT", "FOR", "_T", "NAT", "FOR", "_T"]


def test_unknown_breakdown_codes_are_reported(codes: CodeTable) -> None:
    source = pa.table({"sesso": ["X"], "eta": ["_T"], "cittadinanza": ["_T"], "v": [1.0]})
    found = errors(harmonize(source, rule(SEX), codes=codes).findings)
    assert "unknown-breakdown-code" in found and "'X'" in found["unknown-breakdown-code"].message


UNITS = """
indicator: {value: INCOME}
territory: {value: "096004"}
period: {value: "2023"}
value: {column: v}
unit: {unit: thousand_euro}
"""


def test_units_scale_to_the_catalogue_unit(codes: CodeTable) -> None:
    income = {"INCOME": indicator("INCOME", "euro")}
    source = pa.table({"v": [1.5]})
    result = harmonize(source, rule(UNITS), codes=codes, indicators=income)
    assert result.table.column("value").to_pylist() == [1500.0]
    assert codes_of(result.table, "unit") == ["euro"]


def test_percent_to_ratio_and_sdmx_unit_mult(codes: CodeTable) -> None:
    text = """
indicator: {value: SHARE}
territory: {value: "096004"}
period: {value: "2023"}
value: {column: v}
unit: {column: UNIT_MEAS, map: {PC: percent, N: ratio}, multiplier_column: UNIT_MULT, to: ratio}
"""
    source = pa.table({"v": [25.0, 3.0], "UNIT_MEAS": ["PC", "N"], "UNIT_MULT": ["0", "-1"]})
    result = harmonize(source, rule(text), codes=codes)
    assert result.table.column("value").to_pylist() == pytest.approx([0.25, 0.3])


def test_a_unit_mismatch_persons_to_euro_is_an_error(codes: CodeTable) -> None:
    text = UNITS.replace("thousand_euro", "person")
    result = harmonize(
        pa.table({"v": [1.0]}),
        rule(text),
        codes=codes,
        indicators={"INCOME": indicator("INCOME", "euro")},
    )
    found = errors(result.findings)["unit-mismatch"]
    assert "person" in found.hint and "euro" in found.hint
    assert result.table.num_rows == 0


def test_indicator_from_a_source_column(codes: CodeTable) -> None:
    text = """
indicator: {column: DATA_TYPE, map: {FJAN: POP_FOREIGN, JAN: POP_TOTAL}}
territory: {column: REF_AREA, scheme: nuts}
period: {column: TIME_PERIOD, reference_date: jan_1}
value: {column: OBS_VALUE}
unit: {unit: person}
"""
    source = pa.table(
        {
            "DATA_TYPE": ["FJAN", "JAN", "ACQCITIZ"],
            "REF_AREA": ["ITC13", "ITD20", "ITC47"],
            "TIME_PERIOD": ["2023"] * 3,
            "OBS_VALUE": [10030.0, 1.0, 2.0],
        }
    )
    result = harmonize(source, rule(text), codes=codes)
    assert codes_of(result.table, "indicator") == ["POP_FOREIGN", "POP_TOTAL"]
    assert "unmapped-indicator" in errors(result.findings)
    dropping = rule(text.replace("JAN: POP_TOTAL}", "JAN: POP_TOTAL}, drop_unmapped: true"))
    quiet = harmonize(source, dropping, codes=codes)
    assert quiet.ok and quiet.table.num_rows == 2


def test_status_columns_and_eurostat_flags(codes: CodeTable) -> None:
    text = """
indicator: {value: POP_TOTAL}
territory: {value: "096"}
period: {column: year, reference_date: jan_1}
value: {column: v}
unit: {unit: person}
status: {obs_status_column: OBS_STATUS, flags_column: flag, flags_scheme: eurostat,
         conf_status_column: CONF}
"""
    source = pa.table(
        {
            "year": ["2019", "2020", "2021", "2022", "2023"],
            "v": [175341.0, 174170.0, None, 170027.0, 1.0],
            "flag": ["b", None, None, "bep", "c"],
            "OBS_STATUS": [None, "e", None, None, None],
            "CONF": [None, None, None, None, "C"],
        }
    )
    result = harmonize(source, rule(text), codes=codes)
    assert codes_of(result.table, "obs_status") == ["B", "E", "O", "P", "A"]
    assert codes_of(result.table, "conf_status") == ["F", "F", "F", "F", "C"]
    assert result.table.column("flags").to_pylist() == ["b", None, None, "bep", "c"]
    missing = [f for f in result.findings if f.code == "missing-value"]
    assert missing and missing[0].severity is Severity.INFO and missing[0].row == 2


def test_text_values_with_decimal_comma_and_non_numbers(codes: CodeTable) -> None:
    text = """
indicator: {value: SHARE}
territory: {value: "096004"}
period: {value: "2023"}
value: {column: v, decimal: ","}
unit: {unit: percent}
"""
    source = pa.table({"v": ["69,1", "1.234,5", "n.d."]})
    result = harmonize(source, rule(text), codes=codes)
    assert result.table.column("value").to_pylist() == [69.1, 1234.5]
    assert errors(result.findings)["invalid-value"].row == 2


def test_impossible_periods_are_errors(codes: CodeTable) -> None:
    source = pa.table({"code": ["096004"] * 2, "year": ["2023-13", "2023"], "pop": [1, 2]})
    text = POP.replace("reference_date: jan_1", "format: auto")
    found = errors(harmonize(source, rule(text), codes=codes).findings)["invalid-period"]
    assert found.row == 0 and "13" in found.hint


def test_duplicate_keys_after_mapping_are_reported(codes: CodeTable) -> None:
    source = pa.table({"code": ["096004", "96004"], "year": ["2023", "2023"], "pop": [1, 2]})
    assert "duplicate-key" in errors(harmonize(source, rule(POP), codes=codes).findings)


def test_step_ids_are_deterministic_and_change_with_the_rule(codes: CodeTable) -> None:
    source = pa.table({"code": ["096004"], "year": ["2023"], "pop": [1]})
    first = harmonize(source, rule(POP), codes=codes)
    again = harmonize(source, rule(POP), codes=codes)
    other = harmonize(source, rule(POP.replace("jan_1", "dec_31")), codes=codes)
    assert first.step.id == again.step.id != other.step.id
    assert codes_of(other.table, "period") == ["2024-01-01"]


def test_rule_errors_name_the_line_and_field() -> None:
    text = "indicator: {value: POP_TOTAL}\nterritory: {column: code}\nperiod:\n  format: weekly\n"
    with pytest.raises(ConfigError) as info:
        parse_rules(text, file="rules.yaml")
    location = info.value.location
    assert location is not None and location.file == "rules.yaml"
    assert location.line == 4 and location.field is not None and "period" in location.field


def test_rules_are_frozen_and_never_code() -> None:
    loaded = rule(POP)
    with pytest.raises(ValueError):
        loaded.indicator.value = "OTHER"  # type: ignore[misc]
    with pytest.raises(ConfigError):
        parse_rules("!!python/object/apply:os.system ['echo hi']")


MARKERS = """
indicator: {value: POP_TOTAL}
territory: {column: code}
period: {column: year, reference_date: jan_1}
value:
  column: pop
  decimal: ","
  markers: {"-": M, "....": O, "..": {obs_status: O, conf_status: C}}
unit: {unit: person}
"""


def test_markers_become_missing_values_with_their_status(codes: CodeTable) -> None:
    source = pa.table(
        {
            "code": ["096004", "096021", "001272", "017029"],
            "year": [2023] * 4,
            "pop": ["1.234,0", " - ", "....", ".."],
        }
    )
    result = harmonize(source, rule(MARKERS), codes=codes, source="comune")
    assert result.ok, result.findings
    rows = {r["territory"]: r for r in result.table.to_pylist()}
    assert rows["096004"]["value"] == 1234.0 and rows["096004"]["obs_status"] == "A"
    assert (rows["096021"]["value"], rows["096021"]["obs_status"]) == (None, "M")
    assert (rows["001272"]["value"], rows["001272"]["obs_status"]) == (None, "O")
    assert (rows["017029"]["obs_status"], rows["017029"]["conf_status"]) == ("O", "C")
    assert rows["096021"]["flags"] == "-"
    assert validate_observations(result.table) == []


def test_an_unmapped_marker_is_an_invalid_value_that_says_how_to_map_it(
    codes: CodeTable,
) -> None:
    source = pa.table({"code": ["096004"], "year": [2023], "pop": ["x"]})
    result = harmonize(source, rule(MARKERS), codes=codes, source="comune")
    [problem] = errors(result.findings).values()
    assert problem.code == "invalid-value" and "value.markers" in (problem.hint or "")


def test_a_marker_cannot_claim_to_carry_a_value() -> None:
    with pytest.raises(ConfigError, match="O, M or L"):
        parse_rules(MARKERS.replace('"-": M', '"-": A'))


def test_codes_read_with_the_wrong_scheme_get_a_hint_naming_the_right_one(
    codes: CodeTable,
) -> None:
    text = POP.replace("territory: {column: code}", "territory: {column: code, scheme: name}")
    source = pa.table({"code": ["IT", "ITC", "ITC13"], "year": [2023] * 3, "pop": [1, 2, 3]})
    result = harmonize(source, rule(text), codes=codes, source="eurostat")
    problem = errors(result.findings)["unknown-territory"]
    assert "scheme: nuts" in (problem.hint or "")


def test_a_truly_unknown_place_still_gets_the_closest_names(codes: CodeTable) -> None:
    text = POP.replace("territory: {column: code}", "territory: {column: code, scheme: name}")
    source = pa.table({"code": ["Bielal"], "year": [2023], "pop": [1]})
    result = harmonize(source, rule(text), codes=codes, source="comune")
    problem = errors(result.findings)["unknown-territory"]
    assert "closest known" in (problem.hint or "") and "scheme:" not in (problem.hint or "")
