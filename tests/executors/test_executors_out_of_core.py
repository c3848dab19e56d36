"""Out of core: the same values from partitions and chunks as from the whole table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from welfare_observatory.build.strategies import DaskExecutor, LocalExecutor, derive_out_of_core
from welfare_observatory.build.strategies.out_of_core import harmonize_out_of_core, partitions
from welfare_observatory.catalog import catalog
from welfare_observatory.harmonize import HarmonizeRule
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

KEY = ["indicator", "territory", "period"]


def values(table: pa.Table) -> list[dict[str, object]]:
    """Rows without lineage (per partition out of core), plain text, in key order."""
    plain = {
        name: column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
        for name, column in zip(table.column_names, table.columns, strict=True)
        if name not in ("lineage", "domain")
    }
    return pa.table(plain).sort_by([(k, "ascending") for k in KEY]).to_pylist()


def harmonized_and_edition(observatory_dir: Path, kb: Path) -> tuple[list[Path], pa.Table]:
    """A local build: the source's harmonized rows (its reusable step) and the edition."""
    import pyarrow.ipc as ipc

    load_observatory(observatory_dir).build(out=kb, offline=True)
    steps = sorted((kb / ".steps").glob("source-*.arrows"))  # Arrow IPC streams
    assert len(steps) == 1
    inputs = []
    for step in steps:
        inputs.append(kb.parent / f"{step.stem}.parquet")
        pq.write_table(ipc.open_stream(step.read_bytes()).read_all(), inputs[-1])
    return inputs, KnowledgeBase.open(kb).to_arrow()


def test_partitions_own_each_indicator_once_and_read_their_operands() -> None:
    indicators = {i.id: i for i in catalog()}
    present = ["POP_TOTAL", "POP_FEMALE", "POP_MALE", "SHARE_FEMALE"]  # a published rate
    targets = ["SEX_RATIO", "SHARE_FEMALE", "OLD_AGE_INDEX"]  # the last lacks its operands
    parts = partitions(present, indicators, per_partition=1, targets=targets)
    owned = [i for own, _ in parts for i in own]
    assert sorted(owned) == sorted([*present, "SEX_RATIO"])
    needed = dict(parts)
    assert needed[("SEX_RATIO",)] == ("POP_FEMALE", "POP_MALE")
    assert needed[("SHARE_FEMALE",)] == ("POP_FEMALE", "POP_TOTAL", "SHARE_FEMALE")
    assert needed[("POP_TOTAL",)] == ("POP_TOTAL",)
    assert len(partitions(present, indicators, per_partition=2, targets=targets)) == 3


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_derive_in_partitions_gives_the_values_of_the_whole_build(
    observatory_dir: Path, tmp_path: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    inputs, edition = harmonized_and_edition(observatory_dir, tmp_path / "kb")
    runner = LocalExecutor() if executor == "local" else request.getfixturevalue("dask_executor")
    result = derive_out_of_core(
        inputs,
        observatory_dir,
        tmp_path / "parts",
        memory_limit="200MB",
        temp_directory=tmp_path / "spill",
        executor=runner,
    )
    assert len(result.files) == 5  # one partition per indicator
    parts = pa.concat_tables([pq.read_table(f) for f in result.files], promote_options="permissive")
    assert result.rows == parts.num_rows == edition.num_rows
    assert values(parts) == values(edition)
    kinds = {s.kind for s in result.steps}
    assert {"aggregate", "derive"} <= kinds
    assert not (tmp_path / "parts" / ".sorted.parquet").exists()


def test_harmonize_in_chunks_gives_the_rows_of_one_harmonize(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.harmonize import CodeTable, harmonize
    from welfare_observatory.territory import population

    frame = population(2023, by=("sex",), of="096").to_pandas()
    frame["Sesso"] = frame["sex"].map({"F": "Femmine", "M": "Maschi"})
    source = pa.table(
        {
            "Codice comune": frame["territory"].astype(str),
            "Sesso": frame["Sesso"],
            "Totale": frame["population"].astype(float),
        }
    )
    pq.write_table(source, tmp_path / "source.parquet", row_group_size=40)
    observatory = load_observatory(observatory_dir)
    written = observatory.config.sources["population"].rules
    rules = [HarmonizeRule.model_validate(r) for r in written]
    result = harmonize_out_of_core(
        tmp_path / "source.parquet",
        rules,
        observatory_dir,
        tmp_path / "chunks",
        rows_per_chunk=50,
    )
    assert len(result.files) == 4  # 148 rows in row groups of 40: one group per chunk
    chunks = pa.concat_tables([pq.read_table(f) for f in result.files])
    whole = harmonize(
        source,
        rules[0],
        codes=CodeTable.from_registry(),
        indicators={i.id: i for i in observatory.catalog},
        source="source",
    )
    assert result.rows == whole.table.num_rows == 148
    assert values(chunks) == values(whole.table)
    assert [s.kind for s in result.steps] == ["harmonize"]


def test_derive_without_input_files_says_where_they_come_from(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one Parquet file") as caught:
        derive_out_of_core([], observatory_dir, tmp_path / "parts", executor=DaskExecutor())
    assert caught.value.hint and "harmonize_out_of_core" in caught.value.hint
