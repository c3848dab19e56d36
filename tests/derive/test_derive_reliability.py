"""Rates over too few events or too small a denominator are kept, marked U and not compared."""

from __future__ import annotations

import pyarrow as pa
import pytest

from welfare_observatory.derive.reliability import mark_low_reliability, thresholds
from welfare_observatory.model.reliability import Reliability, ReliabilitySettings
from welfare_observatory.validate.builtin import check_outliers
from welfare_observatory.validate.checks import CheckContext

from .conftest import make_indicator

Y = "2023-01-01"

# OLD_AGE_INDEX-like: elderly per 100 children. A comune of 107 inhabitants with one child
# aged 0-14 reads 4,900 (issue 15).
INDEX = make_indicator(
    "OLD_AGE_INDEX",
    "formula",
    "percent",
    formula={"numerator": "POP_65_PLUS", "denominator": "POP_0_14", "multiplier": 100},
)
CATALOG = {
    "POP_65_PLUS": make_indicator("POP_65_PLUS", "sum"),
    "POP_0_14": make_indicator("POP_0_14", "sum"),
    "OLD_AGE_INDEX": INDEX,
}


def _table(obs, status=None) -> pa.Table:
    return obs(
        [
            ("POP_65_PLUS", "096999", Y, 49.0),
            ("POP_0_14", "096999", Y, 1.0),
            ("OLD_AGE_INDEX", "096999", Y, 4900.0),
            ("POP_65_PLUS", "096004", Y, 12000.0),
            ("POP_0_14", "096004", Y, 4500.0),
            ("OLD_AGE_INDEX", "096004", Y, 266.7),
        ],
        status=status,
    )


def _status(table: pa.Table) -> dict[tuple[str, str], tuple[str, float]]:
    return {
        (r["indicator"], r["territory"]): (r["obs_status"], r["value"]) for r in table.to_pylist()
    }


def test_a_tiny_denominator_is_marked_and_kept(obs) -> None:
    result = mark_low_reliability(_table(obs), CATALOG)
    got = _status(result.table)
    assert got[("OLD_AGE_INDEX", "096999")] == ("U", 4900.0)
    assert got[("OLD_AGE_INDEX", "096004")][0] == "A"
    # counts are not rates: never marked
    assert got[("POP_0_14", "096999")][0] == "A"
    (finding,) = result.findings
    assert finding.code == "low-reliability" and finding.count == 1
    assert finding.territory == "096999"


def test_the_defaults_are_20_events_and_100_units() -> None:
    assert thresholds(INDEX) == (20.0, 100.0)


def test_the_catalogue_and_the_observatory_override_the_default(obs) -> None:
    lenient = INDEX.model_copy(update={"reliability": Reliability(min_denominator=1, min_events=0)})
    catalog = {**CATALOG, "OLD_AGE_INDEX": lenient}
    assert (
        _status(mark_low_reliability(_table(obs), catalog).table)[("OLD_AGE_INDEX", "096999")][0]
        == "A"
    )
    strict = ReliabilitySettings.model_validate(
        {"indicators": {"OLD_AGE_INDEX": {"min_denominator": 5000}}}
    )
    # the observatory's entry wins over the catalogue's
    marked = _status(mark_low_reliability(_table(obs), catalog, strict).table)
    assert marked[("OLD_AGE_INDEX", "096999")][0] == "U"
    assert marked[("OLD_AGE_INDEX", "096004")][0] == "U"
    assert thresholds(lenient, strict) == (0.0, 5000.0)


def test_too_few_events_is_low_reliability_too(obs) -> None:
    settings = ReliabilitySettings(min_denominator=0)
    table = obs(
        [
            ("POP_65_PLUS", "096999", Y, 19.0),
            ("POP_0_14", "096999", Y, 500.0),
            ("OLD_AGE_INDEX", "096999", Y, 3.8),
        ]
    )
    assert (
        _status(mark_low_reliability(table, CATALOG, settings).table)[("OLD_AGE_INDEX", "096999")][
            0
        ]
        == "U"
    )


@pytest.mark.parametrize("status", ["O", "M", "L"])
def test_a_missing_value_keeps_its_status(obs, status) -> None:
    table = obs(
        [
            ("POP_65_PLUS", "096999", Y, 49.0),
            ("POP_0_14", "096999", Y, 1.0),
            ("OLD_AGE_INDEX", "096999", Y, None),
        ],
        status=["A", "A", status],
    )
    assert (
        _status(mark_low_reliability(table, CATALOG).table)[("OLD_AGE_INDEX", "096999")][0]
        == status
    )


def test_duplicated_operands_never_duplicate_a_rate(obs) -> None:
    table = _table(obs)
    doubled = pa.concat_tables([table, table.slice(0, 2)])
    assert mark_low_reliability(doubled, CATALOG).table.num_rows == doubled.num_rows


def test_small_counts_make_no_implausible_jump(obs) -> None:
    # A comune's children aged 0-2 going from 1 to 7 is a 600 % jump of noise.
    table = obs(
        [
            ("POP_0_2", "096039", "2022-01-01", 1.0),
            ("POP_0_2", "096039", Y, 7.0),
            ("POP_0_2", "096004", "2022-01-01", 100.0),
            ("POP_0_2", "096004", Y, 700.0),
        ]
    )
    jumps = [f for f in check_outliers(table, CheckContext()) if f.code == "implausible-jump"]
    assert [(f.territory, f.count) for f in jumps] == [("096004", 1)]
