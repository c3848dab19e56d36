"""Rules writing observations under a merged (former) id still work: the rows move to the
surviving id, with a warning naming both (issue 14, point 6)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize, parse_rules
from welfare_observatory.model import Indicator, Severity


def indicator(id_: str, aliases: tuple[str, ...] = ()) -> Indicator:
    return Indicator.model_validate(
        {
            "id": id_,
            "aliases": aliases,
            "label": {"en": id_},
            "unit": "event",
            "polarity": "neutral",
            "domain": "safety",
            "measure": "flow",
            "reference_point": "calendar_year",
            "aggregation": "sum",
            "source": {"publisher": "Istat", "url": "https://www.istat.it"},
        }
    )


CATALOGUE = {
    "POLICE_RECORDED_HOMICIDE": indicator("POLICE_RECORDED_HOMICIDE", ("HOMICIDES_REPORTED",)),
    "THEFTS": indicator("THEFTS"),
}

MAPPED = """
indicator: {column: WHAT, map: {H: HOMICIDES_REPORTED, T: THEFTS}}
territory: {column: CODE}
period: {column: YEAR, reference_date: dec_31}
value: {column: N}
"""


def _rule(text: str) -> HarmonizeRule:
    (only,) = parse_rules(text)
    return only


def test_rows_under_a_former_id_move_to_the_surviving_id_with_a_warning(
    codes: CodeTable,
) -> None:
    source = pa.table(
        {"WHAT": ["H", "T", "H"], "CODE": ["096", "096", "017"], "YEAR": [2023] * 3, "N": [1, 9, 2]}
    )
    result = harmonize(source, _rule(MAPPED), codes=codes, indicators=CATALOGUE, source="police")
    assert result.ok, result.findings
    assert result.table.column("indicator").to_pylist() == [
        "POLICE_RECORDED_HOMICIDE",
        "THEFTS",
        "POLICE_RECORDED_HOMICIDE",
    ]
    assert result.table.column("value").to_pylist() == [1.0, 9.0, 2.0]
    (finding,) = [f for f in result.findings if f.code == "deprecated-indicator"]
    assert finding.severity is Severity.WARNING
    assert "2 rows" in finding.message
    assert "HOMICIDES_REPORTED -> POLICE_RECORDED_HOMICIDE" in finding.message
    assert finding.source == "police" and finding.column == "WHAT"


def test_a_constant_former_id_is_renamed_too(codes: CodeTable) -> None:
    text = MAPPED.replace(
        "{column: WHAT, map: {H: HOMICIDES_REPORTED, T: THEFTS}}", "{value: HOMICIDES_REPORTED}"
    )
    source = pa.table({"CODE": ["096"], "YEAR": [2023], "N": [3]})
    result = harmonize(source, _rule(text), codes=codes, indicators=CATALOGUE)
    assert result.table.column("indicator").to_pylist() == ["POLICE_RECORDED_HOMICIDE"]
    assert [f.code for f in result.findings] == ["deprecated-indicator"]


def test_current_ids_and_no_catalogue_give_no_finding(codes: CodeTable) -> None:
    source = pa.table({"WHAT": ["T"], "CODE": ["096"], "YEAR": [2023], "N": [9]})
    result = harmonize(source, _rule(MAPPED), codes=codes, indicators=CATALOGUE)
    assert result.ok and result.findings == []
    # without a catalogue nothing is known about former ids (nor units): nothing renamed
    bare = harmonize(source, _rule(MAPPED + "unit: {unit: event}\n"), codes=codes)
    assert bare.ok and bare.findings == []
    assert bare.table.column("indicator").to_pylist() == ["THEFTS"]


def test_an_id_that_is_both_current_and_an_alias_elsewhere_is_left_alone(
    codes: CodeTable,
) -> None:
    """An observatory's layer may define an id the shipped catalogue lists as an alias."""
    own = {**CATALOGUE, "HOMICIDES_REPORTED": indicator("HOMICIDES_REPORTED")}
    source = pa.table({"WHAT": ["H"], "CODE": ["096"], "YEAR": [2023], "N": [1]})
    result = harmonize(source, _rule(MAPPED), codes=codes, indicators=own)
    assert result.table.column("indicator").to_pylist() == ["HOMICIDES_REPORTED"]
    assert result.findings == []


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(what=st.lists(st.sampled_from(["H", "T", "X"]), min_size=1, max_size=30))
def test_renaming_keeps_every_row_and_value(codes: CodeTable, what: list[str]) -> None:
    years = list(range(2000, 2000 + len(what)))
    source = pa.table(
        {"WHAT": what, "CODE": ["096"] * len(what), "YEAR": years, "N": years},
        schema=pa.schema(
            [("WHAT", pa.string()), ("CODE", pa.string()), ("YEAR", pa.int64()), ("N", pa.int64())]
        ),
    )
    rule = _rule(MAPPED.replace("T: THEFTS}", "T: THEFTS}, drop_unmapped: true"))
    result = harmonize(source, rule, codes=codes, indicators=CATALOGUE)
    kept = [(w, y) for w, y in zip(what, years, strict=True) if w != "X"]  # X: unmapped
    ids = result.table.column("indicator").to_pylist()
    assert ids == ["POLICE_RECORDED_HOMICIDE" if w == "H" else "THEFTS" for w, _ in kept]
    assert result.table.column("value").to_pylist() == [float(y) for _, y in kept]
    assert not any(f.severity is Severity.ERROR for f in result.findings)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["POLICE_RECORDED_HOMICIDE", "THEFTS", "HOMICIDES_REPORTED", "OTHER"]),
        min_size=1,
        max_size=8,
    ),
    st.booleans(),
)
def test_current_ids_skip_the_alias_walk_with_the_result_it_gives(
    names: list[str], aliases: bool
) -> None:
    # A dictionary of current ids alone is returned as it came, without walking the
    # catalogue's aliases; the walk (run on a chunked copy, which never takes the
    # shortcut) gives the same rows and the same findings for every dictionary.
    from welfare_observatory.harmonize import engine

    catalogue = CATALOGUE if aliases else {k: indicator(k) for k in CATALOGUE}
    column = pa.array(names).dictionary_encode()
    rule = _rule(MAPPED)
    fast, fast_problems = engine._current_ids(column, catalogue, rule)
    slow, slow_problems = engine._current_ids(pa.chunked_array([column]), catalogue, rule)
    assert fast.to_pylist() == slow.to_pylist()
    assert [(p.code, p.values, p.bad.to_pylist()) for p in fast_problems] == [
        (p.code, p.values, p.bad.to_pylist()) for p in slow_problems
    ]
    if all(name in catalogue for name in names):
        assert fast is column and fast_problems == []
