"""Reading an edition: the documented recipes see each row once, unknown ids fail loudly."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from welfare_observatory.errors import UnknownIdError, UnknownIndicatorError, UnknownTerritoryError
from welfare_observatory.store import KnowledgeBase
from welfare_observatory.store.knowledge_base import near_periods

sys.path.insert(0, str(Path(__file__).parent))
from test_store_editions import BIELLA, build


def three_builds(root: Path) -> KnowledgeBase:
    """Edition 2025 rebuilt three times: the earlier builds stay on disk for diffs."""
    for n in range(3):
        build(root, "2025", f"b-{n}", {**BIELLA, ("POP_TOTAL", "096005"): float(n)})
    return KnowledgeBase.open(root)


def test_a_glob_over_every_build_reads_each_row_several_times(tmp_path: Path) -> None:
    # The pitfall the documented recipe avoids: three builds on disk, three copies.
    three_builds(tmp_path)
    glob = f"{tmp_path}/2025/b-*/observations/*/*.parquet"
    [(count,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()
    assert count == 9


def test_the_documented_duckdb_recipe_reads_each_row_once(tmp_path: Path) -> None:
    kb = three_builds(tmp_path)
    current = kb.path("2025")
    assert current.name == "b-2"
    sql = (
        "SELECT territory, value FROM read_parquet("
        f"'{current}/observations/*/*.parquet', hive_partitioning = true) ORDER BY territory"
    )
    rows = duckdb.sql(sql).fetchall()
    assert rows == [("096", 168823.0), ("096004", 42619.0), ("096005", 2.0)]
    assert [f.name for f in kb.files("2025")] == ["part-0.parquet"]
    files = [str(f) for f in kb.files()]
    [(count,)] = duckdb.sql(f"SELECT count(*) FROM read_parquet({files})").fetchall()
    assert count == 3


def test_kb_path_prints_the_current_build(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from welfare_observatory.cli.main import cli

    three_builds(tmp_path)
    runner = CliRunner()
    printed = runner.invoke(cli, ["kb", "path", "2025", "--kb", str(tmp_path)])
    assert printed.exit_code == 0, printed.output
    assert printed.output.strip() == str(tmp_path / "2025" / "b-2")
    listed = runner.invoke(cli, ["kb", "path", "--files", "--kb", str(tmp_path)])
    assert listed.output.splitlines() == [
        str(tmp_path / "2025" / "b-2" / "observations" / "domain=demography" / "part-0.parquet")
    ]
    unknown = runner.invoke(cli, ["kb", "path", "2052", "--kb", str(tmp_path)])
    assert isinstance(unknown.exception, UnknownIdError)
    assert "2025" in (unknown.exception.hint or "")


def test_an_unknown_indicator_is_an_error_with_a_hint(tmp_path: Path) -> None:
    kb = three_builds(tmp_path)
    with pytest.raises(UnknownIndicatorError, match="no indicator 'POP_TOTL'") as info:
        kb.observations(indicator="POP_TOTL")
    assert "POP_TOTAL" in (info.value.hint or "")
    # One typo in a list is caught even when the other ids match rows.
    with pytest.raises(UnknownIndicatorError):
        kb.to_arrow(indicator=["POP_TOTAL", "POP_TOTL"])
    # Callers asking for ids that may not have been built opt out.
    lenient = kb.to_arrow(indicator=["POP_TOTAL", "BIRTHS"], strict=False)
    assert lenient.num_rows == 3
    assert kb.observations(indicator="BIRTHS", strict=False).empty


def test_an_unknown_territory_is_an_error_with_a_hint(tmp_path: Path) -> None:
    kb = three_builds(tmp_path)
    with pytest.raises(UnknownTerritoryError, match="no territory '096040'") as info:
        kb.observations(territory="096040")
    assert "096004" in (info.value.hint or "")


def test_known_ids_without_a_common_row_give_an_empty_frame(tmp_path: Path) -> None:
    build(
        tmp_path,
        "2025",
        "b-1",
        {("POP_TOTAL", "096004"): 42619.0, ("BIRTHS", "096"): 900.0},
    )
    frame = KnowledgeBase.open(tmp_path).observations(indicator="BIRTHS", territory="096004")
    assert frame.empty


def test_a_year_for_a_stock_hints_at_the_dated_period(tmp_path: Path) -> None:
    kb = three_builds(tmp_path)
    with pytest.raises(UnknownIdError, match="no period '2023'") as info:
        kb.observations(period="2023")
    assert "2023-01-01" in (info.value.hint or "")
    assert len(kb.observations(period="2023-01-01")) == 3


def test_nearest_periods_put_the_same_year_first() -> None:
    known = ["2019", "2021-01-01", "2022-01-01", "2023-01-01", "total"]
    assert near_periods("2022", known) == ["2022-01-01", "2021-01-01", "2023-01-01"]
    assert near_periods("2030", known, n=1) == ["2023-01-01"]


def test_values_lists_what_the_edition_holds(tmp_path: Path) -> None:
    kb = three_builds(tmp_path)
    assert kb.values("territory") == ["096", "096004", "096005"]
    with pytest.raises(UnknownIdError, match="no column 'age'"):
        kb.values("age")


def test_kb_query_prints_null_as_an_empty_cell(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from welfare_observatory.cli.main import cli

    three_builds(tmp_path)
    sql = "SELECT flags, NULL::DOUBLE AS missing, value FROM observations LIMIT 1"
    shown = CliRunner().invoke(cli, ["kb", "query", sql, "--kb", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "nan" not in shown.output.lower() and "<na>" not in shown.output.lower()
    assert "None" not in shown.output


def test_kb_show_tells_indicators_selected_from_built(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from test_store_editions import EMPTY_FINDINGS, EMPTY_LINEAGE, manifest, observations

    from welfare_observatory.cli.main import cli
    from welfare_observatory.store.edition import write_build

    selected = manifest("2025", "b-1").model_copy(
        update={"indicators": ("POP_TOTAL", "BIRTHS", "DEATHS")}
    )
    write_build(
        tmp_path,
        selected,
        observations=observations(BIELLA),
        lineage=EMPTY_LINEAGE,
        findings=EMPTY_FINDINGS,
    )
    shown = CliRunner().invoke(cli, ["kb", "show", "--kb", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    lines = {" ".join(line.split()[:-1]): line.split()[-1] for line in shown.output.splitlines()}
    assert lines["indicators selected"] == "3"
    assert lines["indicators built"] == "1"


def test_dates_are_typed_in_the_recipe_output(tmp_path: Path) -> None:
    kb = three_builds(tmp_path)
    table = kb.to_arrow(territory="096004")
    assert table.column("period_start").type == pa.date32()
    assert table.column("period_start").to_pylist() == [date(2023, 1, 1)]
