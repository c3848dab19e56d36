"""Performance sanity: trend and early warnings over a national-scale table take seconds.

8,000 territories x 100 indicators x 10 years (8 million rows); run with ``pytest -m slow``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from welfare_observatory.analyze import early_warnings, trend


@pytest.mark.slow
def test_national_scale_in_seconds() -> None:
    rng = np.random.default_rng(0)
    territories, indicators, years = 8000, 100, 10
    ids = np.array([f"IND_{j}" for j in range(indicators)])
    codes = np.array([f"{i:06d}" for i in range(territories)])
    rows = territories * indicators * years
    frame = pd.DataFrame(
        {
            "indicator": pd.Categorical(np.repeat(ids, territories * years)),
            "territory": pd.Categorical(np.tile(np.repeat(codes, years), indicators)),
            "period": pd.Categorical(
                np.tile(np.arange(2014, 2014 + years).astype(str), territories * indicators)
            ),
            "value": rng.lognormal(3, 0.3, rows),
            "obs_status": pd.Categorical(np.where(rng.random(rows) < 0.001, "B", "A")),
        }
    )
    catalog = {i: ("negative" if k % 2 else "positive") for k, i in enumerate(ids)}
    start = time.perf_counter()
    trends = trend(frame, polarity=catalog)
    middle = time.perf_counter()
    flags = early_warnings(frame, catalog=catalog)
    end = time.perf_counter()
    assert len(trends) == territories * indicators
    assert not flags.empty
    # Seconds, not minutes (about 2 s each on a 2-core machine; generous for shared CI).
    assert middle - start < 60
    assert end - middle < 60
