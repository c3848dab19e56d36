"""The analysis stage's shortcuts give what the direct pandas computation gives.

Series numbered from the keys' integer codes against ``groupby(...).ngroup()``, text sort
keys of categoricals from their categories against the per-row factorization, and the
municipal rows found from the distinct territory codes against the per-row levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.analyze.trend import _by_series_then_year, _series_ids

_VALUES = st.sampled_from(["a", "b", "B", "096004", "IT", "", None])


def _column(values: list[str | None], categorical: bool, extra: list[str]) -> pd.Series:
    if categorical:  # categories in an arbitrary order, some never used
        present = {v for v in values if v is not None}
        return pd.Series(pd.Categorical(values, categories=sorted({*extra, *present})[::-1]))
    return pd.Series(values, dtype="string")


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(_VALUES, _VALUES, _VALUES), min_size=1, max_size=40),
    categorical=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_series_ids_number_groups_as_ngroup_does(
    rows: list[tuple[str | None, str | None, str | None]], categorical: tuple[bool, bool, bool]
) -> None:
    keys = ["indicator", "territory", "sex"]
    frame = pd.DataFrame(
        {
            key: _column([r[i] for r in rows], categorical[i], ["zz", "unused"])
            for i, key in enumerate(keys)
        }
    )
    expected = frame.groupby(keys, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    np.testing.assert_array_equal(_series_ids(frame, keys), expected)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.integers(-3000, 3000)), min_size=1, max_size=60
    )
)
def test_series_then_year_order_is_lexsort(rows: list[tuple[int, int]]) -> None:
    gid = np.asarray([r[0] for r in rows], dtype="int64")
    year = np.asarray([r[1] for r in rows], dtype="int64")
    np.testing.assert_array_equal(_by_series_then_year(gid, year), np.lexsort((year, gid)))
