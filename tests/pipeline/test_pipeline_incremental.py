"""A rebuild after one source changed computes only what that source reaches.

The analyses of indicators whose rows are unchanged come from the previous build, the
composites of unchanged domains too, and the store links an unchanged domain's partition
file; the edition must be byte for byte the fresh build of the changed input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from welfare_observatory.build import analyze as analyze_module
from welfare_observatory.build.analyze import analyze_stage
from welfare_observatory.build.orchestrator import BuildResult
from welfare_observatory.build.reuse import (
    Analysed,
    analysis_key,
    analyze_incrementally,
    fingerprints,
)
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.observatory import load_observatory

YEARS = range(2012, 2023)
SEXES = (("Total", "_T"), ("Female", "F"), ("Male", "M"))
# id, domain, polarity, measure: two counts summed to the province (sources leave it out),
# a rate of them, and ratios in two more domains.
INDICATORS = (
    ("T_BIRTHS", "demography", "neutral", "count"),
    ("T_RESIDENTS", "demography", "neutral", "count"),
    ("T_BIRTH_RATE", "health", "positive", "formula"),
    ("T_HEALTH_A", "health", "negative", "ratio"),
    ("T_HEALTH_B", "health", "positive", "ratio"),
    ("T_EDU_A", "education", "positive", "ratio"),
    ("T_EDU_B", "education", "negative", "ratio"),
    ("T_EDU_C", "education", "positive", "ratio"),
)


def _entry(ident: str, domain: str, polarity: str, measure: str, label: str | None = None) -> str:
    """The definition of one of :data:`INDICATORS` (``label``: its English one, else the id)."""
    count = measure == "count"
    lines = [
        f"- id: {ident}",
        f"  label: {{it: {ident}, en: '{label or ident}'}}",
        f"  unit: {'person' if count else 'percent'}",
        f"  polarity: {polarity}",
        f"  domain: {domain}",
        f"  measure: {'stock' if count else 'ratio'}",
        f"  reference_point: {'jan_1' if count else 'calendar_year'}",
        "  breakdowns: [sex]",
    ]
    if measure == "formula":
        lines += [
            "  aggregation: formula",
            "  formula: {numerator: T_BIRTHS, denominator: T_RESIDENTS, multiplier: 100}",
        ]
    else:
        lines.append(f"  aggregation: {'sum' if count else 'none'}")
    lines.append("  source: {publisher: Test, document: tests/pipeline}")
    return "\n".join(lines) + "\n"


def make_observatory(folder: Path) -> Path:
    """Biella's municipalities, its province, Piemonte and Italy; one tidy CSV per indicator
    (synthetic values, seeded: these tests compare builds, not figures)."""
    import pyarrow.csv as pcsv

    from welfare_observatory.territory import registry

    reg = registry()
    municipalities = [m.code for m in reg.municipalities(of="096")]
    (folder / "data").mkdir(parents=True)
    (folder / "indicators").mkdir()
    rng = np.random.default_rng(19)
    sources = []
    for k, (ident, _domain, _polarity, measure) in enumerate(INDICATORS):
        if measure == "formula":
            continue
        count = measure == "count"
        places = municipalities + (["01", "IT"] if count else ["096", "01", "IT"])
        level = {"T_BIRTHS": 8.0, "T_RESIDENTS": 1000.0}.get(ident, 10.0 + 3 * k)
        shape = (len(places), len(YEARS), len(SEXES))
        values = level * rng.lognormal(0.0, 0.3, size=(len(places), 1, 1))
        values = values * rng.normal(1.0, 0.03, size=shape)
        values = np.round(values) if count else np.round(values, 2)
        t, y, s = np.meshgrid(
            np.arange(len(places)), np.arange(len(YEARS)), np.arange(len(SEXES)), indexing="ij"
        )
        table = pa.table(
            {
                "Year": np.array(list(YEARS))[y.ravel()],
                "GeoCode": np.array(places)[t.ravel()],
                "Sex": np.array([name for name, _ in SEXES])[s.ravel()],
                "Value": values.ravel(),
            }
        )
        pcsv.write_csv(table, folder / "data" / f"{ident.lower()}.csv")
        sources.append(
            f"  {ident.lower()}:\n    type: table\n"
            f"    options: {{path: data/{ident.lower()}.csv, value_columns: [Value]}}\n"
            f"    rules:\n      indicator: {{value: {ident}}}\n"
            "      territory: {column: GeoCode, scheme: auto}\n"
            "      period: {column: Year}\n      value: {column: Value}\n"
            "      breakdowns:\n"
            "        sex: {column: Sex, map: {Total: _T, Female: F, Male: M}}\n"
        )
    (folder / "indicators" / "own.yaml").write_text(
        "".join(_entry(*i) for i in INDICATORS), encoding="utf-8"
    )
    (folder / "observatory.yaml").write_text(
        "id: incremental\nname: {it: Prova, en: Test}\nedition: '2025'\n"
        "territory:\n  code: '096'\n  reference_date: 2024-01-01\n  comparisons: ['01', IT]\n"
        f"indicators:\n  add: [{', '.join(i[0] for i in INDICATORS)}]\n"
        "  catalog: [indicators/own.yaml]\nsources:\n" + "".join(sources),
        encoding="utf-8",
    )
    return folder


def change_last_value(file: Path, by: float = 1.0) -> None:
    lines = file.read_text(encoding="utf-8").rstrip("\n").split("\n")
    head, _, last = lines[-1].rpartition(",")
    lines[-1] = f"{head},{float(last) + by}"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build(folder: Path, kb: Path) -> BuildResult:
    return load_observatory(folder).build(out=kb, offline=True)


def edition_files(result: BuildResult) -> dict[str, bytes]:
    folder = result.knowledge_base / result.edition / result.report.build
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*.parquet"))}


@pytest.fixture
def analysed_rows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows each call of analyze_tables was given (analyze_stage runs through it; a
    rebuild calls it for the changed indicators' per-indicator analyses)."""
    calls: list[int] = []
    real = analyze_module.analyze_tables

    def spy(observations: pa.Table, env: Any, names: Any) -> Any:
        calls.append(observations.num_rows)
        return real(observations, env, names)

    monkeypatch.setattr(analyze_module, "analyze_tables", spy)
    return calls


@pytest.mark.parametrize(
    ("changed", "linked"),
    [
        # Derived rows' lineage names derive steps made of every source: their domains
        # (demography: aggregates, health: a rate) are written again on any change.
        ("t_edu_b", set()),
        ("t_health_a", {"education"}),
        ("t_births", {"education"}),  # an operand: its rate (health) changes too
    ],
)
def test_a_rebuild_after_one_file_changed_is_the_fresh_build_of_the_changed_input(
    tmp_path: Path, analysed_rows: list[int], changed: str, linked: set[str]
) -> None:
    folder = make_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / f"{changed}.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert again.report.build == fresh.report.build != first.report.build
    assert edition_files(again) == edition_files(fresh)
    assert again.report.findings == fresh.report.findings
    assert again.report.observations == fresh.report.observations > 0
    # The rebuild analysed only the changed indicators' rows (the fresh build, all rows).
    total = analysed_rows[0]
    assert analysed_rows == [total, analysed_rows[1], total]
    assert 0 < analysed_rows[1] <= total / 4  # 8 indicators, 1 or (operand) 2 + its rate
    built = again.knowledge_base / again.edition / again.report.build / "observations"
    shared = {
        p.parent.name.removeprefix("domain=")
        for p in built.glob("domain=*/part-0.parquet")
        if p.stat().st_nlink > 1
    }
    assert shared == linked


def test_a_second_change_builds_on_the_incremental_result(tmp_path: Path) -> None:
    folder = make_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_health_a.csv")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_edu_c.csv", by=-2.0)
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert again.report.build == fresh.report.build
    assert edition_files(again) == edition_files(fresh)
    assert again.report.findings == fresh.report.findings


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, pa.Table]:
    """The environment and derived observations of the test observatory."""
    from welfare_observatory.build.environment import make_environment
    from welfare_observatory.store import KnowledgeBase

    folder = make_observatory(tmp_path_factory.mktemp("incremental") / "obs")
    kb = tmp_path_factory.mktemp("incremental-kb")
    build(folder, kb)
    env = make_environment(load_observatory(folder))
    [saved] = (kb / ".steps").glob("derived-*")
    from welfare_observatory.build.reuse import _mapped

    observations = _mapped(saved / "observations.arrow")
    assert KnowledgeBase.open(kb).edition().observations == observations.num_rows
    return env, observations


def previous_of(env: Any, observations: pa.Table) -> Analysed:
    analyses, findings = analyze_stage(observations, env)
    key = analysis_key(env, observations)
    return Analysed(key, fingerprints(observations), analyses, findings)


def scaled(observations: pa.Table, indicators: list[str], factor: float) -> pa.Table:
    """``observations`` with the values of ``indicators`` multiplied by ``factor``."""
    names = pc.cast(observations.column("indicator"), pa.string())
    chosen = pc.is_in(names, pa.array(indicators, pa.string()))
    value = observations.column("value")
    new = pc.if_else(chosen, pc.multiply(value, factor), value)
    return observations.set_column(observations.schema.get_field_index("value"), "value", new)


IDS = [i[0] for i in INDICATORS]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changed=st.lists(st.sampled_from(IDS), unique=True, max_size=4),
    dropped=st.lists(st.sampled_from(IDS), unique=True, max_size=2),
    factor=st.sampled_from([0.5, 0.97, 1.03, 2.0]),
    taken=st.none() | st.sets(st.sampled_from(IDS)),
)
@example(changed=["T_BIRTHS"], dropped=[], factor=2.0, taken=set(IDS) - {"T_BIRTHS"})
@example(changed=["T_RESIDENTS", "T_HEALTH_A"], dropped=[], factor=0.5, taken=None)
def test_analysing_the_changed_indicators_alone_equals_analysing_all(
    built: tuple[Any, pa.Table],
    changed: list[str],
    dropped: list[str],
    factor: float,
    taken: set[str] | None,
) -> None:
    """The differential property: per-indicator analyses computed apart and combined (with
    composites and warning ranks computed again across indicators) equal analyze_stage over
    the whole table, tables and findings, for any set of changed and removed indicators;
    the changed rows looked for among the ``rest`` derive did not take unchanged, or not."""
    env, observations = built
    previous = previous_of(env, observations)
    now = scaled(observations, changed, factor)
    names = pc.cast(now.column("indicator"), pa.string())
    now = now.filter(pc.invert(pc.is_in(names, pa.array(dropped, pa.string()))))
    rest = None
    if taken is not None:
        names = pc.cast(now.column("indicator"), pa.string())
        rest = now.filter(pc.invert(pc.is_in(names, pa.array(sorted(taken), pa.string()))))
    result = analyze_incrementally(
        now, env, fingerprints(now), previous, taken=taken or (), rest=rest
    )
    expected, expected_findings = analyze_stage(now, env)
    if result is None:  # allowed (it then runs the whole stage), but not for this data
        pytest.fail("the analyses of unchanged indicators could not be reused")
    analyses, findings = result
    assert list(analyses) == list(expected)
    for name, table in expected.items():
        assert analyses[name].schema == table.schema, name
        assert analyses[name].equals(table), name
    assert findings == expected_findings


def test_fingerprints_read_text_not_dictionary_positions(built: tuple[Any, pa.Table]) -> None:
    _, observations = built
    plain = pa.table(
        {
            n: (c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c)
            for n, c in zip(observations.column_names, observations.columns, strict=True)
        }
    )
    shuffled = plain.take(pa.array(np.random.default_rng(1).permutation(plain.num_rows)))
    assert fingerprints(plain) == fingerprints(observations) == fingerprints(shuffled)
    moved = scaled(observations, ["T_EDU_A"], 1.0 + 1e-12)
    differ = {k for k, v in fingerprints(moved).items() if fingerprints(observations)[k] != v}
    assert differ == {"T_EDU_A"}
    lineage = observations.column("lineage").cast(pa.string())
    renamed = observations.set_column(
        observations.schema.get_field_index("lineage"),
        "lineage",
        pc.if_else(
            pc.equal(observations.column("indicator").cast(pa.string()), "T_EDU_B"),
            pc.binary_join_element_wise(lineage, "x", ""),
            lineage,
        ),
    )
    before, after = fingerprints(observations)["T_EDU_B"], fingerprints(renamed)["T_EDU_B"]
    # Analyses do not read lineage: only the digest of every column moves.
    assert before != after and before.rsplit(":", 1)[0] == after.rsplit(":", 1)[0]


def test_an_earlier_analysis_failure_means_the_whole_stage_runs_again(
    built: tuple[Any, pa.Table],
) -> None:
    env, observations = built
    previous = previous_of(env, observations)
    failed = Finding(code="analysis-failed", severity=Severity.WARNING, message="x")
    broken = Analysed(
        previous.analysis_key,
        previous.fingerprints,
        previous.analyses,
        [*previous.findings, failed],
    )
    now = scaled(observations, ["T_EDU_A"], 2.0)
    assert analyze_incrementally(now, env, fingerprints(now), broken) is None
    assert analyze_incrementally(now, env, fingerprints(now), previous) is not None


def neutralised(env: Any, ids: list[str]) -> Any:
    """``env`` with the indicators ``ids`` made neutral (they then enter no composite)."""
    import dataclasses

    from welfare_observatory.model.indicator import Polarity

    indicators = {
        k: v.model_copy(update={"polarity": Polarity.NEUTRAL}) if k in ids else v
        for k, v in env.indicators.items()
    }
    return dataclasses.replace(env, indicators=indicators)


def blanked(observations: pa.Table, indicators: list[str]) -> pa.Table:
    """``observations`` with the values of ``indicators`` missing."""
    names = pc.cast(observations.column("indicator"), pa.string())
    chosen = pc.is_in(names, pa.array(indicators, pa.string()))
    value = observations.column("value")
    new = pc.if_else(chosen, pa.scalar(None, value.type), value)
    return observations.set_column(observations.schema.get_field_index("value"), "value", new)


@settings(
    max_examples=16, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    neutral=st.lists(st.sampled_from(IDS), unique=True, max_size=5),
    changed=st.lists(st.sampled_from(IDS), unique=True, min_size=1, max_size=3),
    blank=st.lists(st.sampled_from(IDS), unique=True, max_size=2),
    factor=st.sampled_from([0.5, 1.03]),
)
# No early warning before nor after (the only indicator with a direction emptied): the
# earlier build's empty table is kept, and has the columns a full build gives.
@example(
    neutral=["T_BIRTHS", "T_HEALTH_A", "T_HEALTH_B", "T_EDU_A", "T_EDU_B"],
    changed=["T_BIRTHS"],
    blank=["T_BIRTHS", "T_EDU_C"],
    factor=0.5,
)
# No early warning left: the whole stage runs.
@example(
    neutral=["T_BIRTHS", "T_HEALTH_A", "T_EDU_C", "T_HEALTH_B", "T_EDU_B"],
    changed=["T_BIRTHS"],
    blank=["T_EDU_A"],
    factor=0.5,
)
def test_composites_kept_when_only_neutral_indicators_changed_equal_analysing_all(
    built: tuple[Any, pa.Table],
    neutral: list[str],
    changed: list[str],
    blank: list[str],
    factor: float,
) -> None:
    """The composites of a domain whose changed indicators are all neutral are kept from
    the previous build; whatever the polarities, changes and emptied indicators, the result
    equals analyze_stage over the whole table."""
    env, observations = built
    env = neutralised(env, neutral)
    previous = previous_of(env, observations)
    now = blanked(scaled(observations, changed, factor), blank)
    result = analyze_incrementally(now, env, fingerprints(now), previous)
    expected, expected_findings = analyze_stage(now, env)
    if result is None:
        # Allowed only when no early warning is left (an empty table's columns differ).
        assert expected["early_warnings"].num_rows == 0
        assert previous.analyses["early_warnings"].num_rows > 0
        return
    analyses, findings = result
    assert list(analyses) == list(expected)
    for name, table in expected.items():
        assert analyses[name].schema == table.schema, name
        assert analyses[name].equals(table), name
    assert findings == expected_findings


@pytest.mark.parametrize(
    ("neutral", "changed", "computed"),
    [
        (["T_EDU_C"], "T_EDU_C", False),  # education keeps its composite of EDU_A and EDU_B
        ([], "T_BIRTHS", False),  # demography: a note (no indicator with a polarity)
        ([], "T_EDU_C", True),  # a polarity: its domain's composite is computed again
        (["T_EDU_C"], "T_HEALTH_A", True),
    ],
)
def test_a_change_of_neutral_indicators_alone_computes_no_composite(
    built: tuple[Any, pa.Table],
    monkeypatch: pytest.MonkeyPatch,
    neutral: list[str],
    changed: str,
    computed: bool,
) -> None:
    from welfare_observatory.build import reuse

    env, observations = built
    env = neutralised(env, neutral)
    previous = previous_of(env, observations)
    calls: list[int] = []
    real = reuse._composite

    def spy(table: pa.Table, *args: Any) -> Any:
        calls.append(table.num_rows)
        return real(table, *args)

    monkeypatch.setattr(reuse, "_composite", spy)
    now = scaled(observations, [changed], 1.5)
    result = analyze_incrementally(now, env, fingerprints(now), previous)
    assert result is not None
    expected, expected_findings = analyze_stage(now, env)
    assert result[0]["composite"].equals(expected["composite"])
    assert result[1] == expected_findings
    assert bool(calls) == computed


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.sets(st.sampled_from(analyze_module.ANALYSES)))
def test_analysing_some_tables_gives_those_of_analysing_all(
    built: tuple[Any, pa.Table], names: set[str]
) -> None:
    """analyze_tables computes the named analyses alone (early warnings without the trend
    table too), each equal to analyze_stage's, with only their own findings."""
    env, observations = built
    expected, expected_findings = analyze_stage(observations, env)
    assert not any(f.code == "analysis-failed" for f in expected_findings)
    analyses, findings = analyze_module.analyze_tables(observations, env, names)
    assert list(analyses) == [n for n in analyze_module.ANALYSES if n in names]
    for name, table in analyses.items():
        assert table.schema == expected[name].schema, name
        assert table.equals(expected[name]), name
    notes = [f for f in expected_findings if f.code == "composite-skipped"]
    assert notes  # the fixture's demography domain has no indicator with a polarity
    assert findings == (expected_findings if "composite" in names else [])


def test_a_rebuild_computes_no_composite_of_the_changed_indicators_alone(
    built: tuple[Any, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The changed indicators' per-indicator analyses come without a composite of their
    own rows (it was thrown away): only the affected domain's, over all its indicators."""
    env, observations = built
    previous = previous_of(env, observations)
    calls: list[set[str]] = []
    real = analyze_module.composite_analysis

    def spy(frame: Any, *args: Any) -> Any:
        calls.append({str(i) for i in frame["indicator"].unique()})
        return real(frame, *args)

    monkeypatch.setattr(analyze_module, "composite_analysis", spy)
    now = scaled(observations, ["T_EDU_C"], 1.5)
    result = analyze_incrementally(now, env, fingerprints(now), previous)
    assert result is not None
    assert calls == [{"T_EDU_A", "T_EDU_B", "T_EDU_C"}]
    monkeypatch.undo()
    expected, expected_findings = analyze_stage(now, env)
    for name, table in expected.items():
        assert result[0][name].equals(table), name
    assert result[1] == expected_findings


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.sets(st.sampled_from(IDS), min_size=1),
    name=st.sampled_from(["benchmark", "early_warnings"]),
    without=st.sampled_from([None, "focus", "focus reliable"]),
)
@example(ids={"T_BIRTHS", "T_RESIDENTS"}, name="benchmark", without=None)
@example(ids={"T_BIRTHS"}, name="benchmark", without="focus reliable")
@example(ids={"T_RESIDENTS"}, name="early_warnings", without=None)
def test_an_analysis_skipped_as_rowless_gives_no_row(
    built: tuple[Any, pa.Table], ids: set[str], name: str, without: str | None
) -> None:
    """What ``_none_of`` skips, run, gives an empty table and no failure."""
    from welfare_observatory.build.reuse import _none_of

    env, observations = built
    names = pc.cast(observations.column("indicator"), pa.string())
    rows = observations.filter(pc.is_in(names, pa.array(sorted(ids), pa.string())))
    focus = pc.equal(pc.cast(rows.column("territory"), pa.string()), "096")
    if without == "focus":
        rows = rows.filter(pc.invert(focus))
    elif without == "focus reliable":
        status = pc.if_else(focus, "U", pc.cast(rows.column("obs_status"), pa.string()))
        index = rows.schema.get_field_index("obs_status")
        rows = rows.set_column(index, "obs_status", status.cast(rows.schema.field(index).type))
    skipped = _none_of(name, rows, env, sorted(ids))
    sized = ids <= {"T_BIRTHS", "T_RESIDENTS"}
    expected = sized and (name == "early_warnings" or without is None)
    assert skipped == expected
    if skipped:
        analyses, findings = analyze_module.analyze_tables(rows, env, [name])
        assert findings == []
        assert analyses[name].num_rows == 0


@pytest.mark.parametrize(
    ("changed", "asks_duckdb"),
    [
        ("t_health_a", False),  # a group of its own: nothing summed, no rate
        ("t_births", True),  # summed to the province, the birth rate made of the sums
    ],
)
def test_a_rebuild_opens_duckdb_only_when_its_derive_asks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, changed: str, asks_duckdb: bool
) -> None:
    import duckdb

    from welfare_observatory.derive._common import release_database

    folder = make_observatory(tmp_path / "obs")
    kb = tmp_path / "kb"
    build(folder, kb)
    change_last_value(folder / "data" / f"{changed}.csv")
    # The first build's database is forgotten: a rebuild that asks DuckDB opens another.
    release_database()
    opened: list[str] = []
    real = duckdb.connect

    def spy(*args: Any, **kwargs: Any) -> Any:
        import threading

        opened.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", spy)
    rebuilt = build(folder, kb)
    assert rebuilt.report.reused_steps > 0  # a rebuild, not a whole build
    # The rows it derived again are hashed in numpy (their fingerprints ask no database).
    assert bool(opened) is asks_duckdb
    if asks_duckdb:
        # A group that makes a rate has its database opened on another thread meanwhile.
        assert opened == ["duckdb-open"]


@pytest.mark.parametrize(("changed", "loads_duckdb"), [("t_health_a", False), ("t_births", True)])
def test_a_rebuild_whose_derive_asks_duckdb_nothing_never_imports_it(
    tmp_path: Path, changed: str, loads_duckdb: bool
) -> None:
    import subprocess
    import sys

    folder = make_observatory(tmp_path / "obs")
    kb = tmp_path / "kb"
    build(folder, kb)
    change_last_value(folder / "data" / f"{changed}.csv")
    code = (
        "import sys\n"
        "from welfare_observatory.observatory import load_observatory\n"
        f"result = load_observatory({str(folder)!r}).build(out={str(kb)!r}, offline=True)\n"
        "print(result.report.reused_steps > 0, 'duckdb' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # In a process of its own, as the command runs it: nothing imported it before.
    assert done.stdout.split() == ["True", str(loads_duckdb)]


def test_a_rebuild_hashes_its_rows_where_its_analyses_wait_for_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole build hashes its rows on another core while it analyses them all; a rebuild
    needs the fingerprints before it analyses anything, so a helper would only be waited
    for: it hashes in the build's own thread."""
    import threading

    from welfare_observatory.build import reuse

    hashed_in: list[bool] = []
    real = reuse.derived_fingerprints

    def spy(derive: Any) -> dict[str, str]:
        hashed_in.append(threading.current_thread() is threading.main_thread())
        return real(derive)

    monkeypatch.setattr(reuse, "derived_fingerprints", spy)
    folder = make_observatory(tmp_path / "obs")
    kb = tmp_path / "kb"
    first = build(folder, kb)
    change_last_value(folder / "data" / "t_health_a.csv")
    rebuilt = build(folder, kb)
    assert first.report.reused_steps == 0 and rebuilt.report.reused_steps > 0
    assert hashed_in == [False, True]


def test_the_lineage_table_is_made_only_for_a_build_that_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build of the same id as the intact one on disk (nothing changed) is kept as it
    is: its lineage table, about a tenth of such a rebuild's work, is never made."""
    from welfare_observatory.lineage import LineageGraph

    made: list[int] = []
    real = LineageGraph.to_arrow

    def spy(self: LineageGraph) -> pa.Table:
        table = real(self)
        made.append(table.num_rows)
        return table

    monkeypatch.setattr(LineageGraph, "to_arrow", spy)
    folder = make_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    assert len(made) == 1 and made[0] > 0
    again = build(folder, tmp_path / "kb")
    assert again.report.build == first.report.build and len(made) == 1
    change_last_value(folder / "data" / "t_edu_b.csv")
    changed = build(folder, tmp_path / "kb")
    assert changed.report.build != first.report.build and len(made) == 2
    assert edition_files(changed) == edition_files(build(folder, tmp_path / "fresh"))
