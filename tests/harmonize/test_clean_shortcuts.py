"""The harmonizer's shortcuts for clean tables (issue 19): a value column already float64,
no null key, no null value, statuses that stay the rule's defaults. Each skips a pass over
the rows; the result is what the full path gives: checked against the definitions."""

from __future__ import annotations

import math

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.harmonize import CodeTable, HarmonizeRule, harmonize
from welfare_observatory.harmonize._status import statuses
from welfare_observatory.harmonize.rules import StatusRule
from welfare_observatory.model.observation import observation_schema

from .conftest import territories

CODES = CodeTable(territories())
RULE = HarmonizeRule.model_validate(
    {
        "indicator": {"value": "X"},
        "territory": {"column": "code"},
        "period": {"column": "year"},
        "value": {"column": "value"},
        "unit": {"unit": "count"},
    }
)

_value = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([math.inf, -math.inf, math.nan]),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["096004", "017029"]), _value), min_size=1, max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_clean_and_unclean_value_columns_give_the_findings_and_statuses_they_define(
    rows: list[tuple[str, float | None]], as_int_years: bool, parsed_statuses: bool
) -> None:
    n = len(rows)
    columns: dict[str, pa.Array] = {
        "code": pa.array([r[0] for r in rows]),
        "year": pa.array(
            [2000 + i for i in range(n)] if as_int_years else [str(2000 + i) for i in range(n)]
        ),
        "value": pa.array([r[1] for r in rows], pa.float64()),
    }
    if parsed_statuses:  # what a table source writes beside a value column
        columns["value__status"] = pa.array(["A" if r[1] is not None else "O" for r in rows])
        columns["value__conf"] = pa.array(["F"] * n)
    result = harmonize(pa.table(columns), RULE, codes=CODES)
    codes = {f.code: f for f in result.findings}
    non_finite = [v for _, v in rows if v is not None and not math.isfinite(v)]
    missing = [v for _, v in rows if v is None]
    if non_finite:  # an error: the source fails, the finding counts the cells
        assert codes["non-finite-value"].count == len(non_finite)
        return
    assert "non-finite-value" not in codes
    kept = rows
    # A value-less row the source already marked O needs no fix (and no finding).
    assert ("missing-value" in codes) == (bool(missing) and not parsed_statuses)
    assert "empty-key" not in codes
    out = result.table
    assert out.schema == observation_schema(())
    assert out.num_rows == len(kept)
    values = out.column("value").to_pylist()
    assert values == [r[1] for r in kept]
    statuses_out = out.column("obs_status").cast(pa.string()).to_pylist()
    assert statuses_out == ["O" if v is None else "A" for v in values]
    assert set(out.column("conf_status").cast(pa.string()).to_pylist()) <= {"F"}


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 20), st.sampled_from(["A", "E", "P"]), st.sampled_from(["F", "C"]))
def test_default_statuses_come_back_encoded_as_the_cast_would_encode_them(
    n: int, obs: str, conf: str
) -> None:
    rule = StatusRule.model_validate({"default_obs_status": obs, "default_conf_status": conf})
    table = pa.table({"v": pa.array([1.0] * n)})
    got_obs, got_conf, _, problems = statuses(table, rule, table.column("v"))
    assert not problems
    kind = pa.dictionary(pa.int32(), pa.string())
    assert got_obs.equals(pa.array([obs] * n, pa.string()).cast(kind))
    assert got_conf.equals(pa.array([conf] * n, pa.string()).cast(kind))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 2)),
        min_size=0,
        max_size=40,
    ),
    st.integers(1, 400),
)
def test_duplicate_keys_are_found_by_count_or_by_sort_as_by_a_set(
    keys: list[tuple[int, int, int]], spread: int
) -> None:
    # ``spread`` widens the territory dictionary: few possible keys take the count per
    # key, many the sort; either finds exactly the keys a set finds twice.
    from welfare_observatory.harmonize.engine import _duplicates

    kind = pa.dictionary(pa.int32(), pa.string())
    names = [f"t{i}" for i in range(spread * 50)]
    table = pa.table(
        {
            "indicator": pa.array([f"i{k[0]}" for k in keys], pa.string()).cast(kind),
            "territory": pa.DictionaryArray.from_arrays(
                pa.array([k[1] * spread for k in keys], pa.int32()), pa.array(names)
            ),
            "period": pa.array([str(2000 + k[2]) for k in keys], pa.string()).cast(kind),
        }
    )
    seen: set[tuple[int, int, int]] = set()
    repeated = {k for k in keys if k in seen or seen.add(k)}
    found = _duplicates(table, "s")
    assert bool(found) == bool(repeated)
    if found:
        assert found[0].count == len(repeated)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["A", "E", " A", None]), min_size=1, max_size=10),
    st.sampled_from([{}, {"A": "E"}, {"E": "P"}]),
)
def test_parsed_status_columns_of_plain_codes_leave_the_defaults_as_the_mapping_would(
    cells: list[str | None], mapping: dict[str, str]
) -> None:
    # A column of the plain A alone skips the mapping per code, unless the rule maps A.
    rule = StatusRule.model_validate(
        {"obs_status_column": "s", "obs_status_map": mapping, "default_obs_status": "P"}
    )
    table = pa.table({"s": pa.array(cells, pa.string()), "v": pa.array([1.0] * len(cells))})
    obs, _, _, _ = statuses(table, rule, table.column("v"), parsed=True)
    expected = []
    for cell in cells:
        code = None if cell is None else mapping.get(cell.strip(), cell.strip().upper())
        expected.append("P" if code in (None, "A") else code)
    assert obs.cast(pa.string()).to_pylist() == expected
