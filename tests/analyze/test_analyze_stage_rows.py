"""The analysis stage hands benchmarks, composites and early warnings fewer copies of the
observations (no copy when every row is reliable; one filter for the rows early warnings
read instead of two) and early warnings the stage's trend table when it holds theirs; the
tables it stores must be those of the frames it passed before.

Differential: the stage against the public functions over the frames the stage built
before (reliable rows; reliable municipal rows for early warnings), on the small edition of
``conftest.py`` as built, with breaks and low-reliability values, and with an indicator
the observatory has no polarity for. Also: the memory the stage hands back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import welfare_observatory.build.analyze as stage
from welfare_observatory import analyze
from welfare_observatory._arrow import plain
from welfare_observatory.analyze import domain_composites, territory_levels
from welfare_observatory.analyze._common import breakdowns, stable_order
from welfare_observatory.analyze.early_warning import _early_warnings
from welfare_observatory.build.analyze import SORT_KEYS, analyze_stage, storable
from welfare_observatory.build.environment import BuildEnvironment, make_environment
from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.model.indicator import Polarity
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

UNREAD = ["domain", "unit", "conf_status", "flags", "source", "lineage"]


def _observations(kb: Path) -> pa.Table:
    folder = Path(KnowledgeBase.open(kb).edition("2025").path) / "observations"
    return pq.read_table(folder)


def _set_text(table: pa.Table, name: str, values: np.ndarray) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, pa.array(values, pa.string()).dictionary_encode())


def _text(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(plain(table.select([name])).column(0).to_pylist(), dtype=object)


def _variant(table: pa.Table, variant: str) -> pa.Table:
    rng = np.random.default_rng(19)
    if variant in ("statuses", "unknown-indicator"):
        status = _text(table, "obs_status")
        draw = rng.random(table.num_rows)
        status[draw < 0.05] = "B"
        status[(draw >= 0.05) & (draw < 0.15)] = "U"
        table = _set_text(table, "obs_status", status)
    if variant == "unreliable-start":  # 096008's window starts a year later when reliable
        status = _text(table, "obs_status")
        start = (_text(table, "territory") == "096008") & (_text(table, "period") == "2018")
        status[start] = "U"
        table = _set_text(table, "obs_status", status)
    if variant == "unknown-indicator":  # an id the observatory's catalogue does not know
        ids = _text(table, "indicator")
        ids[ids == "SEPARATE_COLLECTION_RATE"] = "NOT_IN_THE_CATALOGUE"
        table = _set_text(table, "indicator", ids)
    return table.take(pa.array(rng.permutation(table.num_rows)))


def _before(frame: pd.DataFrame, env: object, name: str) -> pd.DataFrame:
    """What the stage computed before: the public function over the frame it passed."""
    indicators = env.indicators  # type: ignore[attr-defined]
    config = env.config  # type: ignore[attr-defined]
    reliable = frame[frame["obs_status"] != "U"]
    if name == "benchmark":
        return analyze.benchmark(
            reliable,
            territory=config.territory.code,
            against=list(config.territory.comparisons),
            polarity=indicators,
        )
    if name == "composite":
        references = list(dict.fromkeys([config.territory.code, "IT"]))
        table, _ = domain_composites(reliable, indicators=indicators, references=references)
        return table
    municipal = reliable[territory_levels(reliable["territory"]) == "municipality"]
    polarity = {k: v.polarity for k, v in indicators.items()}
    return analyze.early_warnings(municipal, catalog=polarity)


def _istat(env: BuildEnvironment) -> BuildEnvironment:
    """``env`` with Istat's progress classes (the stage's trends then differ from the
    Eurostat classes early warnings report)."""
    report = env.config.report.model_copy(update={"progress_method": "istat"})
    return dataclasses.replace(env, config=env.config.model_copy(update={"report": report}))


@pytest.mark.parametrize(
    "variant", ["built", "statuses", "unreliable-start", "unknown-indicator", "istat"]
)
def test_benchmark_composite_and_warnings_equal_the_frames_passed_before(
    edition_kb: Path, variant: str
) -> None:
    env = make_environment(load_observatory(edition_kb.parent / "obs"))
    if variant == "istat":
        env = _istat(env)
        assert env.config.report.progress_method == "istat"
    table = _variant(_observations(edition_kb), variant)
    new, findings = analyze_stage(table, env)
    frame = plain(table.drop_columns(UNREAD)).to_pandas()
    failed = {f.message for f in findings if f.code == "analysis-failed"}
    for name in ("benchmark", "composite", "early_warnings"):  # early: its own trends
        try:
            result = _before(frame, env, name)
        except WelfareObservatoryError as exc:
            assert name not in new
            assert f"analysis {name!r} could not run: {exc}" in failed
            continue
        if name in SORT_KEYS:
            columns = [*SORT_KEYS[name], *breakdowns(frame), "horizon", "period", "year"]
            result = stable_order(result, columns)
        else:
            result = result.reset_index(drop=True)
        old = pa.Table.from_pandas(storable(result), preserve_index=False)
        assert new[name].equals(old, check_metadata=True), name
    if variant in ("built", "istat", "unreliable-start"):
        assert new["early_warnings"].num_rows > 0  # 096008's land consumption
    if variant == "unknown-indicator":
        assert any("early_warnings" in m for m in failed)


def test_early_warnings_rows_drop_neutral_indicators_only_when_every_id_is_known() -> None:
    frame = pd.DataFrame(
        {"indicator": pd.Categorical(["A", "B", "C", None]), "value": [1.0, 2.0, 3.0, 4.0]}
    )
    polarity = {"A": Polarity.POSITIVE, "B": Polarity.NEUTRAL}
    assert stage._judged(frame["indicator"], polarity) is None  # C has none: kept, named
    polarity["C"] = Polarity.NEGATIVE
    assert stage._judged(frame["indicator"], polarity) == ["A", "C"]
    assert stage._judged(frame["indicator"].astype("string"), polarity) == ["A", "C"]


def test_release_unused_trims_the_c_heap_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(stage, "_malloc_trim", lambda: calls.append)
    stage.release_unused(c_heap=False)
    assert calls == []
    stage.release_unused()
    assert calls == [0]


@pytest.mark.parametrize("backend", ["mimalloc", "jemalloc", "system"])
def test_release_unused_leaves_a_system_pool_to_the_trim(
    monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Arrow's system pool is the C heap: its release would be a trim on every call."""
    released: list[str] = []

    class Pool:
        backend_name = backend

        def release_unused(self) -> None:
            released.append(backend)

    monkeypatch.setattr(pa, "default_memory_pool", Pool)
    monkeypatch.setattr(stage, "_malloc_trim", lambda: None)
    stage.release_unused(c_heap=False)
    assert released == ([] if backend == "system" else [backend])


def test_malloc_trim_is_none_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    stage._malloc_trim.cache_clear()
    monkeypatch.setattr("sys.platform", "darwin")
    try:
        assert stage._malloc_trim() is None
    finally:
        stage._malloc_trim.cache_clear()
    stage.release_unused()  # the real one: harmless wherever the build runs


@pytest.mark.parametrize("method", ["eurostat", "istat"])
def test_early_warnings_read_given_trends_of_more_series(edition_kb: Path, method: str) -> None:
    """Trends of every series of the frame (the stage's trend table, with either method's
    classes) give the warnings of trends computed for the flagged series alone."""
    env = make_environment(load_observatory(edition_kb.parent / "obs"))
    frame = plain(_observations(edition_kb).drop_columns(UNREAD)).to_pandas()
    polarity = {k: v.polarity for k, v in env.indicators.items()}
    municipal = frame[territory_levels(frame["territory"]) == "municipality"]
    every = analyze.trend(frame, polarity=polarity, window=5, min_span=3, method=method)  # type: ignore[arg-type]
    given = _early_warnings(municipal, catalog=polarity, trends=every, trends_method=method)
    expected = analyze.early_warnings(municipal, catalog=polarity)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(given, expected)
