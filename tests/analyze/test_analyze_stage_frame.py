"""The analysis stage reads the observations with categorical keys (no string per row); the
tables it stores must be those of the plain-text frame it read before, byte for byte.

Differential: ``analyze_stage`` against the stage run over ``plain(table).to_pandas()`` on
the small edition of ``conftest.py``, as built and with breaks in series, low-reliability
values, shuffled rows and keys that are not dictionary-encoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from welfare_observatory._arrow import plain
from welfare_observatory.analyze import progress_table, trend
from welfare_observatory.analyze._common import breakdowns, stable_order
from welfare_observatory.build.analyze import SORT_KEYS, _analyze_frame, analyze_stage, storable
from welfare_observatory.build.environment import make_environment
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

UNREAD = ["domain", "unit", "conf_status", "flags", "source", "lineage"]


def _observations(kb: Path) -> pa.Table:
    folder = Path(KnowledgeBase.open(kb).edition("2025").path) / "observations"
    return pq.read_table(folder)


def _with_statuses(table: pa.Table, seed: int) -> pa.Table:
    """Some rows a break in series (B), some of low reliability (U), rows shuffled."""
    rng = np.random.default_rng(seed)
    status = np.asarray(plain(table.select(["obs_status"])).column(0).to_pylist(), dtype=object)
    draw = rng.random(table.num_rows)
    status[draw < 0.05] = "B"
    status[(draw >= 0.05) & (draw < 0.12)] = "U"
    index = table.schema.get_field_index("obs_status")
    column = pa.array(status, pa.string()).dictionary_encode()
    table = table.set_column(index, "obs_status", column)
    return table.take(pa.array(rng.permutation(table.num_rows)))


def _old_path(table: pa.Table, env: object) -> tuple[dict[str, pa.Table], list[object]]:
    frame = plain(table.drop_columns([c for c in UNREAD if c in table.column_names])).to_pandas()
    return _analyze_frame(frame, env)  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", ["built", "statuses", "plain-keys"])
def test_stored_analyses_equal_those_of_the_plain_text_frame(
    edition_kb: Path, variant: str
) -> None:
    env = make_environment(load_observatory(edition_kb.parent / "obs"))
    table = _observations(edition_kb)
    if variant == "statuses":
        table = _with_statuses(table, seed=19)
    if variant == "plain-keys":
        table = plain(table)
    new, new_findings = analyze_stage(table, env)
    old, old_findings = _old_path(table, env)
    assert set(new) == set(old) == {"trend", "progress", "benchmark", "composite", "early_warnings"}
    for name in old:
        assert new[name].num_rows > 0 or name == "early_warnings", name
        # Schema metadata too: pandas' dtype names go into the stored Parquet files.
        assert new[name].equals(old[name], check_metadata=True), name
    assert new_findings == old_findings


@pytest.mark.parametrize("variant", ["built", "statuses"])
def test_trends_and_progress_equal_the_public_functions(edition_kb: Path, variant: str) -> None:
    """The stage prepares the series once for trends and both progress horizons; the public
    functions prepare them per call."""
    env = make_environment(load_observatory(edition_kb.parent / "obs"))
    table = _observations(edition_kb)
    if variant == "statuses":
        table = _with_statuses(table, seed=7)
    new, _ = analyze_stage(table, env)
    frame = plain(table.drop_columns(UNREAD)).to_pandas()
    polarity = {k: v.polarity for k, v in env.indicators.items()}
    method = env.config.report.progress_method
    expected = {
        "trend": trend(frame, polarity=polarity, method=method),
        "progress": progress_table(frame, polarity=polarity, method=method),
    }
    for name, result in expected.items():
        columns = [*SORT_KEYS[name], *breakdowns(frame), "horizon", "period", "year"]
        old = pa.Table.from_pandas(storable(stable_order(result, columns)), preserve_index=False)
        assert new[name].equals(old, check_metadata=True), name
