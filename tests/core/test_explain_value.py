"""``explain`` of one value: its own step, its operands with their values, its breakdown.

The edition is written by hand so every number is known: Biella (096004) on 1 January 2023,
with POP_65_PLUS 12,608 of POP_TOTAL 42,619 (Istat), split by sex; the province total 096 is
an aggregate of two municipalities; SHARE_65_PLUS is derived. A second source
(``stranieri``) is part of the build but not of these values, so it must not appear.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from welfare_observatory.cli.main import cli
from welfare_observatory.errors import UnknownIdError
from welfare_observatory.lineage import LineageGraph, StepRecord, short_parameters
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.store import KnowledgeBase
from welfare_observatory.store.edition import Manifest, write_build
from welfare_observatory.store.explain import explain_value

LONG_PATTERN = "(?i)^(?:cod(?:ice)?\\b.*|code\\b.*|" + "x" * 200 + ")$"


def steps() -> dict[str, StepRecord]:
    made: dict[str, StepRecord] = {}
    for source in ("popolazione", "stranieri"):
        fetch = StepRecord.create(
            "fetch", [f"sha256:{source[0] * 64}"], {"key": f"file:{source}.csv"}, source=source
        )
        parse = StepRecord.create(
            "parse", [fetch.id], {"options": {"code_header_pattern": LONG_PATTERN}}, source=source
        )
        made[source] = StepRecord.create("harmonize", [parse.id], {"source": source}, source=source)
        made[f"{source}-fetch"], made[f"{source}-parse"] = fetch, parse
    harmonized = [made["popolazione"].id, made["stranieri"].id]
    made["aggregate"] = StepRecord.create(
        "aggregate",
        harmonized,
        {
            "levels": ["province"],
            "sum": [f"IND_{n}" for n in range(140)],
            "formula": ["SHARE_65_PLUS"],
            "min_coverage": 1.0,
        },
    )
    formulas = [
        {
            "target": "SHARE_65_PLUS",
            "numerator": "POP_65_PLUS",
            "denominator": "POP_TOTAL",
            "multiplier": 100.0,
            "unit": "percent",
        },
        {
            "target": "SEX_RATIO",
            "numerator": "POP_MALE",
            "denominator": "POP_FEMALE",
            "multiplier": 100.0,
            "unit": "percent",
        },
    ]
    made["derive"] = StepRecord.create(
        "derive", [*harmonized, made["aggregate"].id], {"formulas": formulas, "align": "period"}
    )
    return made


def row(indicator: str, territory: str, sex: str, value: float, step: StepRecord) -> dict[str, Any]:
    return {
        "indicator": indicator,
        "territory": territory,
        "period": "2023-01-01",
        "period_start": date(2023, 1, 1),
        "sex": sex,
        "value": value,
        "unit": "percent" if indicator.startswith("SHARE") else "person",
        "obs_status": "A",
        "conf_status": "F",
        "flags": None,
        "source": step.source or step.kind,
        "lineage": step.id,
    }


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    s = steps()
    pop, agg, der = s["popolazione"], s["aggregate"], s["derive"]
    municipal = {
        # (territory, sex): (POP_65_PLUS, POP_TOTAL)
        ("096004", "M"): (5208.0, 20160.0),
        ("096004", "F"): (7400.0, 22459.0),
        ("096004", "_T"): (12608.0, 42619.0),
        ("096001", "_T"): (1000.0, 4000.0),
    }
    rows = []
    for (territory, sex), (old, total) in municipal.items():
        rows.append(row("POP_65_PLUS", territory, sex, old, pop))
        rows.append(row("POP_TOTAL", territory, sex, total, pop))
        rows.append(row("SHARE_65_PLUS", territory, sex, old / total * 100, der))
    rows.append(row("POP_65_PLUS", "096", "_T", 13608.0, agg))
    rows.append(row("POP_TOTAL", "096", "_T", 46619.0, agg))
    rows.append(row("SHARE_65_PLUS", "096", "_T", 13608 / 46619 * 100, agg))
    rows.append(row("FOREIGNERS", "096004", "_T", 2000.0, s["stranieri"]))
    table = pa.Table.from_pylist(rows, schema=observation_schema(("sex",)))
    table = table.append_column("domain", pa.array(["demography"] * table.num_rows))
    graph = LineageGraph(s.values())
    write_build(
        tmp_path,
        Manifest(
            observatory="test",
            edition="2025",
            build="b-1",
            created="2026-01-01T00:00:00",
            library_version="0.1.0",
            config_digest="c" * 64,
            reference_date="2024-01-01",
            territory="096",
        ),
        observations=table,
        lineage=graph.to_arrow(),
        findings=pa.table({"code": pa.array([], pa.string())}),
    )
    return KnowledgeBase.open(tmp_path)


def kinds_and_sources(node: Any) -> set[tuple[str, str | None]]:
    found = {(node.kind, node.source)}
    for child in node.inputs:
        found |= kinds_and_sources(child)
    return found


def test_the_default_is_the_total_and_other_breakdowns_are_named(kb: KnowledgeBase) -> None:
    result = explain_value(kb, "SHARE_65_PLUS", "096004", "2023-01-01")
    assert result.value.breakdowns == {"sex": "_T"}
    assert result.value.value == pytest.approx(29.583, abs=1e-3)
    assert sorted(c["sex"] for c in result.other_breakdowns) == ["F", "M"]


def test_a_breakdown_is_picked_by_name(kb: KnowledgeBase) -> None:
    female = explain_value(kb, "SHARE_65_PLUS", "096004", "2023-01-01", where={"sex": "F"})
    assert female.value.label == "sex=F"
    assert female.value.value == pytest.approx(7400 / 22459 * 100)
    with pytest.raises(UnknownIdError, match="no breakdown 'age'") as info:
        explain_value(kb, "SHARE_65_PLUS", "096004", "2023-01-01", where={"age": "Y_GE65"})
    assert "sex" in (info.value.hint or "")
    with pytest.raises(UnknownIdError, match="sex=X") as stored:
        explain_value(kb, "SHARE_65_PLUS", "096004", "2023-01-01", where={"sex": "X"})
    assert "sex=F" in (stored.value.hint or "")


def test_a_derived_rate_shows_its_operands_with_their_values(kb: KnowledgeBase) -> None:
    value = explain_value(kb, "SHARE_65_PLUS", "096004", "2023-01-01").value
    assert value.formula == "POP_65_PLUS / POP_TOTAL * 100"
    assert value.step.kind == "derive"
    # Only the formula of this value, not the list of every formula of the build.
    assert value.step.parameters["formula"] == "POP_65_PLUS / POP_TOTAL * 100"
    assert "formulas" not in value.step.parameters
    operands = {(o.role, o.indicator, o.value) for o in value.operands}
    assert operands == {
        ("numerator", "POP_65_PLUS", 12608.0),
        ("denominator", "POP_TOTAL", 42619.0),
    }


def test_the_chain_holds_only_the_values_own_inputs(kb: KnowledgeBase) -> None:
    value = explain_value(kb, "SHARE_65_PLUS", "096004", "2023-01-01").value
    numerator = value.operands[0]
    assert numerator.step.kind == "harmonize"
    found = kinds_and_sources(numerator.step)
    assert found == {
        ("harmonize", "popolazione"),
        ("parse", "popolazione"),
        ("fetch", "popolazione"),
    }
    fetch = numerator.step.inputs[0].inputs[0]
    assert fetch.raw == ("sha256:" + "p" * 64,)
    # Neither the other source nor the aggregate step is part of a municipal value.
    text = json.dumps(value.model_dump(mode="json"))
    assert "stranieri" not in text and "aggregate" not in text


def test_an_aggregate_names_its_members_and_rederives_rates(kb: KnowledgeBase) -> None:
    total = explain_value(kb, "POP_TOTAL", "096", "2023-01-01").value
    assert total.members == 2  # 096004 and 096001; the sex breakdowns are other rows
    assert total.step.parameters["method"] == "sum of member territories"
    assert kinds_and_sources(total.step) >= {("harmonize", "popolazione")}
    assert ("harmonize", "stranieri") not in kinds_and_sources(total.step)
    share = explain_value(kb, "SHARE_65_PLUS", "096", "2023-01-01").value
    assert share.step.parameters["method"] == "re-derived from summed parts"
    assert [o.value for o in share.operands] == [13608.0, 46619.0]


def test_long_parameters_become_a_size_and_a_digest() -> None:
    short = short_parameters({"sum": [f"IND_{n}" for n in range(140)], "pattern": LONG_PATTERN})
    assert short["sum"].startswith("[140 items] sha256:")
    assert short["pattern"].startswith("[") and "sha256:" in short["pattern"]
    assert all(len(v) < 40 for v in short.values())
    assert short_parameters({"levels": ["province"]}) == {"levels": '["province"]'}


def test_a_year_matches_the_stock_dated_in_that_year(kb: KnowledgeBase) -> None:
    result = explain_value(kb, "POP_TOTAL", "096004", "2023")
    assert (result.requested_period, result.value.period) == ("2023", "2023-01-01")
    with pytest.raises(UnknownIdError, match="for 2021") as info:
        explain_value(kb, "POP_TOTAL", "096004", "2021")
    assert "2023-01-01" in (info.value.hint or "")


def test_unknown_ids_give_a_hint(kb: KnowledgeBase) -> None:
    with pytest.raises(UnknownIdError) as info:
        explain_value(kb, "POP_TOTL", "096004", "2023")
    assert "POP_TOTAL" in (info.value.hint or "")


def test_the_command_prints_labels_operands_and_short_parameters(kb: KnowledgeBase) -> None:
    args = ["explain", "SHARE_65_PLUS", "096004", "2023", "--kb", str(kb.root)]
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "(period 2023 read as 2023-01-01)"
    assert lines[1].startswith("SHARE_65_PLUS 096004 2023-01-01 [sex=_T] = 29.58 percent")
    assert lines[2].strip() == "= POP_65_PLUS 12,608 / POP_TOTAL 42,619 * 100"
    assert "other breakdowns: sex=M; sex=F" in shown.output or "sex=F; sex=M" in shown.output
    assert LONG_PATTERN not in shown.output and "sha256:" in shown.output
    female = CliRunner().invoke(cli, [*args, "--sex", "F", "--json"])
    assert json.loads(female.output)["value"]["breakdowns"] == {"sex": "F"}
    bad = CliRunner().invoke(cli, [*args, "--where", "sex"])
    assert bad.exit_code == 2 and "column=value" in bad.output


def test_the_territory_is_taken_by_name_and_the_ids_as_options(kb: KnowledgeBase) -> None:
    by_code = CliRunner().invoke(
        cli, ["explain", "POP_TOTAL", "096001", "2023", "--kb", str(kb.root)]
    )
    assert by_code.exit_code == 0, by_code.output
    by_name = CliRunner().invoke(
        cli, ["explain", "POP_TOTAL", "Ailoche", "2023", "--kb", str(kb.root)]
    )
    assert by_name.output == by_code.output
    options = ["--indicator", "POP_TOTAL", "--territory", "Ailoche", "--period", "2023"]
    as_options = CliRunner().invoke(cli, ["explain", *options, "--kb", str(kb.root)])
    assert as_options.output == by_code.output
    # "Biella" alone is the province, as in `territory show Biella`
    province = CliRunner().invoke(
        cli, ["explain", "SHARE_65_PLUS", "Biella", "2023", "--kb", str(kb.root)]
    )
    assert province.exit_code == 0 and " 096 2023-01-01" in province.output.splitlines()[1]
    twice = CliRunner().invoke(cli, ["explain", "POP_TOTAL", "096001", "2023", "--period", "2022"])
    assert twice.exit_code == 2 and "given twice" in twice.output
    missing = CliRunner().invoke(cli, ["explain", "POP_TOTAL", "096001"])
    assert missing.exit_code == 2 and "missing the period" in missing.output
