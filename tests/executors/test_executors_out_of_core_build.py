"""An out-of-core build writes a real edition, equal to the in-memory build of the input.

The observatory has two sources with different breakdowns (age classes melted by sex, and
women and men without a breakdown) over two years, formulas across the sources and
aggregation to the province: partitions of one indicator each must still give every value
of the whole-table build.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from welfare_observatory._seal import KEY as SEAL
from welfare_observatory.build.strategies.out_of_core_build import build_out_of_core, parse_size
from welfare_observatory.errors import ConfigError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase
from welfare_observatory.store.edition import read_pointer

ANALYSES = ("trend", "progress", "benchmark", "composite", "early_warnings", "coverage")

CONFIG = """\
id: ooc_biella
name: {it: Osservatorio di prova, en: Test observatory}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
  comparisons: ["096004", "096012"]  # Biella's municipalities: benchmarks have rows
indicators:
  catalog: [polar.yaml]
  add: [POP_TOTAL, POP_0_14, POP_65_PLUS, POP_FEMALE, POP_MALE, OLD_AGE_INDEX,
        SHARE_65_PLUS, SHARE_FEMALE, SEX_RATIO, TEST_YOUNG, TEST_OLD, TEST_WOMEN]
sources:
  ages:
    type: table
    options: {path: data/eta.csv}
    rules:
      indicator:
        column: Eta
        map: {"0-14": POP_0_14, "65 e oltre": POP_65_PLUS, Totale: POP_TOTAL}
      territory: {column: Codice comune, scheme: istat}
      period: {column: Anno, reference_date: jan_1}
      melt: {columns: [Totale], names_to: sesso, values_to: value}
      value: {column: value}
  sexes:
    type: table
    options: {path: data/sesso.csv}
    rules:
      indicator:
        column: Sesso
        map: {Femmine: POP_FEMALE, Maschi: POP_MALE}
      territory: {column: Codice comune, scheme: istat}
      period: {column: Anno, reference_date: jan_1}
      value: {column: Residenti}
"""

# Shares with a polarity, so benchmarks, composites and early warnings have rows.
POLAR = """\
- &young
  id: TEST_YOUNG
  label: {it: Giovani, en: Young people}
  definition: {it: Giovani per 100 residenti., en: Young people per 100 residents.}
  unit: percent
  polarity: positive
  domain: demography
  measure: ratio
  reference_point: jan_1
  aggregation: formula
  formula: {numerator: POP_0_14, denominator: POP_TOTAL, multiplier: 100}
  source: {publisher: Istat, dataset: test, url: "https://demo.istat.it/"}
- <<: *young
  id: TEST_OLD
  label: {it: Anziani, en: Older people}
  polarity: negative
  formula: {numerator: POP_65_PLUS, denominator: POP_TOTAL, multiplier: 100}
- <<: *young
  id: TEST_WOMEN
  label: {it: Donne, en: Women}
  formula: {numerator: POP_FEMALE, denominator: POP_TOTAL, multiplier: 100}
"""


@pytest.fixture
def two_source_observatory(tmp_path: Path) -> Path:
    """Biella, 2022 and 2023, from the shipped population baseline (Istat)."""
    from welfare_observatory.territory import population

    folder = tmp_path / "obs"
    (folder / "data").mkdir(parents=True)
    (folder / "observatory.yaml").write_text(CONFIG, encoding="utf-8")
    (folder / "polar.yaml").write_text(POLAR, encoding="utf-8")
    ages, sexes = ["Anno;Codice comune;Eta;Totale"], ["Anno;Codice comune;Sesso;Residenti"]
    for year in (2022, 2023):
        frame = population(year, by=("sex", "age"), of="096").to_pandas()
        age = frame["age"].str.replace("Y_GE", "Y").str[1:].astype(int)
        for name, part in {
            "Totale": frame,
            "0-14": frame[age <= 14],
            "65 e oltre": frame[age >= 65],
        }.items():
            for code, people in part.groupby("territory")["population"].sum().items():
                ages.append(f"{year};{code};{name};{int(people)}")
        for sex, name in (("F", "Femmine"), ("M", "Maschi")):
            sums = frame[frame["sex"] == sex].groupby("territory")["population"].sum()
            sexes += [f"{year};{code};{name};{int(n)}" for code, n in sums.items()]
    (folder / "data" / "eta.csv").write_text("\n".join(ages) + "\n", "utf-8")
    (folder / "data" / "sesso.csv").write_text("\n".join(sexes) + "\n", "utf-8")
    return folder


def current(kb: Path) -> Path:
    pointer = read_pointer(kb / "2025")
    assert pointer is not None
    return kb / "2025" / pointer.build


def rows(table: pa.Table, drop: tuple[str, ...] = ()) -> list[tuple[object, ...]]:
    """Every row as a tuple of plain values, sorted: order-free comparison."""
    plain = {n: table.column(n).to_pylist() for n in table.column_names if n not in drop}
    return sorted(zip(*plain.values(), strict=True), key=repr)


def observations(build: Path) -> pa.Table:
    return pa.concat_tables(
        [pq.read_table(f) for f in sorted((build / "observations").rglob("*.parquet"))]
    )


def test_an_out_of_core_build_writes_the_edition_of_the_in_memory_build(
    two_source_observatory: Path, tmp_path: Path
) -> None:
    observatory = load_observatory(two_source_observatory)
    memory = observatory.build(out=tmp_path / "memory", offline=True)
    parts = build_out_of_core(
        observatory,
        out=tmp_path / "parts",
        memory_budget="1GiB",
        offline=True,
        indicators_per_partition=1,
    )
    assert [s.status for s in parts.report.sources] == ["ok", "ok"]
    assert parts.report.observations == memory.report.observations > 0
    assert parts.report.built == memory.report.built
    assert parts.report.skipped == memory.report.skipped
    left, right = current(tmp_path / "memory"), current(tmp_path / "parts")
    # Same layout: the same files, and the domain files in the same schema.
    files = sorted(str(f.relative_to(left)) for f in left.rglob("*.parquet"))
    assert files == sorted(str(f.relative_to(right)) for f in right.rglob("*.parquet"))
    for file in (left / "observations").rglob("*.parquet"):
        assert pq.read_schema(file) == pq.read_schema(right / file.relative_to(left))
    assert sorted(f.model_dump_json() for f in parts.report.findings) == sorted(
        f.model_dump_json() for f in memory.report.findings
    )
    # Every value, key, flag, source and lineage id is the same: a partition records the
    # derive steps of the whole build, so the lineage and the build id are those in memory.
    a, b = observations(left), observations(right)
    assert rows(a) == rows(b)
    assert sorted(pq.read_table(left / "lineage.parquet").column("id").to_pylist()) == sorted(
        pq.read_table(right / "lineage.parquet").column("id").to_pylist()
    )
    assert parts.report.build == memory.report.build
    # Each edition's lineage explains every id its observations name.
    for build, table in ((left, a), (right, b)):
        steps = set(pq.read_table(build / "lineage.parquet").column("id").to_pylist())
        assert set(table.column("lineage").to_pylist()) <= steps
    for name in ANALYSES:
        assert rows(pq.read_table(left / "analyses" / name)) == rows(
            pq.read_table(right / "analyses" / name)
        ), name
    manifest = json.loads((right / "manifest.json").read_text())
    assert manifest["build"] == parts.report.build
    assert manifest["tables"]["observations"]["rows"] == b.num_rows
    # The knowledge base reads it as any edition, and no work files are left behind.
    assert KnowledgeBase.open(tmp_path / "parts").edition().observations == b.num_rows
    assert not list((tmp_path / "parts").glob(".out-of-core-*"))


def test_an_out_of_core_build_is_the_same_run_to_run(
    two_source_observatory: Path, tmp_path: Path
) -> None:
    observatory = load_observatory(two_source_observatory)
    first = build_out_of_core(observatory, out=tmp_path / "a", offline=True)
    second = build_out_of_core(observatory, out=tmp_path / "b", offline=True)
    assert first.report.build == second.report.build
    assert rows(observations(current(tmp_path / "a"))) == rows(
        observations(current(tmp_path / "b"))
    )


@pytest.mark.slow
def test_partitions_derive_on_dask_workers_into_the_same_edition(
    two_source_observatory: Path, tmp_path: Path, dask_executor: object
) -> None:
    from welfare_observatory.build.strategies import DaskExecutor

    assert isinstance(dask_executor, DaskExecutor)
    observatory = load_observatory(two_source_observatory)
    local = build_out_of_core(observatory, out=tmp_path / "local", offline=True)
    remote = build_out_of_core(
        observatory, out=tmp_path / "dask", offline=True, executor=dask_executor
    )
    assert remote.report.build == local.report.build
    assert rows(observations(current(tmp_path / "local"))) == rows(
        observations(current(tmp_path / "dask"))
    )


def test_a_failed_out_of_core_build_leaves_the_previous_edition(
    two_source_observatory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    observatory = load_observatory(two_source_observatory)
    before = build_out_of_core(observatory, out=tmp_path / "kb", offline=True)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("welfare_observatory.store.partitioned._concatenated", broken)
    from welfare_observatory.errors import StoreError

    with pytest.raises(StoreError, match="No space left"):
        # Another build (one source only), so another build id: it must not replace the first.
        build_out_of_core(observatory, out=tmp_path / "kb", offline=True, only=["ages"])
    assert current(tmp_path / "kb").name == before.report.build
    assert not list((tmp_path / "kb" / "2025").glob(".building-*"))


@pytest.mark.parametrize(
    ("text", "size"), [("2GiB", 2 * 2**30), ("512MB", 512 * 10**6), ("1000", 1000)]
)
def test_memory_sizes_read_with_binary_and_decimal_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "2 parsecs", "-1GB", ""])
def test_a_memory_size_that_is_not_one_says_how_to_write_it(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_size(text)
    assert caught.value.hint and "2GiB" in caught.value.hint


def test_a_budget_below_what_the_library_needs_is_refused(
    two_source_observatory: Path, tmp_path: Path
) -> None:
    observatory = load_observatory(two_source_observatory)
    with pytest.raises(ConfigError, match="below what the library itself needs"):
        build_out_of_core(observatory, out=tmp_path / "kb", memory_budget="64MiB")
    assert not (tmp_path / "kb").exists()


def test_early_warnings_of_partitions_rank_as_those_of_the_whole_table(tmp_path: Path) -> None:
    """Signals are per indicator, the ranking across them: partitions ranked again give
    the whole table's early warnings, order included."""
    import numpy as np
    import pandas as pd

    from welfare_observatory import analyze
    from welfare_observatory.build.analyze import storable
    from welfare_observatory.build.strategies.partition_analyses import ranked_warnings

    noise = np.random.default_rng(1)
    rows = []
    for indicator in ("A", "B", "C"):
        for k in range(1, 31):
            for year in range(2015, 2024):
                worse = k in (4, 8) or (indicator == "B" and k in (12, 20))
                value = 80 + 3 * (year - 2015) if worse else 50 + noise.normal(0, 1)
                rows.append((indicator, f"0960{k:02d}", str(year), value))
    frame = pd.DataFrame(rows, columns=["indicator", "territory", "period", "value"])
    polarity = {"A": "negative", "B": "negative", "C": "positive"}
    whole = analyze.early_warnings(frame, catalog=polarity)
    files = []
    for indicator in ("C", "A", "B"):
        part = analyze.early_warnings(frame[frame["indicator"] == indicator], catalog=polarity)
        files.append(tmp_path / f"{indicator}.parquet")
        pq.write_table(pa.Table.from_pandas(storable(part), preserve_index=False), files[-1])
    ranked = ranked_warnings(files).to_pandas()
    assert (ranked["signals"] == 2).sum() == 4  # 096004 and 096008 signal on A and on B
    expected = pa.Table.from_pandas(storable(whole), preserve_index=False).to_pandas()
    pd.testing.assert_frame_equal(ranked, expected)


def test_build_with_a_memory_budget_on_the_command_line_writes_the_edition(
    two_source_observatory: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from welfare_observatory.cli.main import cli

    args = ["build", str(two_source_observatory), "--offline", "--json"]
    result = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "kb"), "--memory-budget", "1GiB"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["observations"] == observations(current(tmp_path / "kb")).num_rows > 0
    refused = CliRunner().invoke(cli, [*args, "--memory-budget", "lots"])
    # The console entry point prints a ConfigError as one line and its hint.
    assert isinstance(refused.exception, ConfigError)
    assert "not a memory size" in str(refused.exception)


def test_brescia_out_of_core_is_the_in_memory_build(tmp_path: Path) -> None:
    """Brescia's 205 municipalities (Istat resident population, 1 January 2023): the same
    observations, lineage ids and build id whichever way the build runs."""
    from welfare_observatory.build.strategies.sample import population_observatory

    folder = population_observatory(tmp_path / "obs", "017")
    memory = load_observatory(folder).build(out=tmp_path / "memory", offline=True)
    parts = build_out_of_core(
        load_observatory(folder),
        out=tmp_path / "parts",
        memory_budget="1GiB",
        offline=True,
        indicators_per_partition=1,
    )
    assert parts.report.build == memory.report.build
    left, right = current(tmp_path / "memory"), current(tmp_path / "parts")
    a, b = observations(left), observations(right)
    assert a.num_rows == b.num_rows > 205
    assert rows(a) == rows(b)
    lineage = [
        sorted(pq.read_table(build / "lineage.parquet").column("id").to_pylist())
        for build in (left, right)
    ]
    assert lineage[0] == lineage[1]
    assert len(lineage[0]) > 3  # sources' fetch, parse, harmonize, and the derive steps


def test_an_out_of_core_build_keeps_every_sources_findings_for_the_next_build(
    two_source_observatory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.build import validate

    observatory = load_observatory(two_source_observatory)
    first = build_out_of_core(observatory, out=tmp_path / "kb", offline=True)
    cached = json.loads((tmp_path / "kb" / ".steps" / "checks.json").read_text())
    cached.pop(SEAL)
    assert len(cached) == 2  # one entry per source, not only the last source's
    checked: list[list[str]] = []
    original = validate.run_checks_by_source

    def spy(tables: dict[str, pa.Table], *args: object, **kwargs: object) -> object:
        checked.append(sorted(tables))
        return original(tables, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(validate, "run_checks_by_source", spy)
    again = build_out_of_core(observatory, out=tmp_path / "kb", offline=True)
    assert checked == []  # both sources' findings came from the cache
    assert sorted(f.model_dump_json() for f in again.report.findings) == sorted(
        f.model_dump_json() for f in first.report.findings
    )
