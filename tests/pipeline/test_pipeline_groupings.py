"""Declared groupings and social districts are aggregated by the build, with coverage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase
from welfare_observatory.territory import registry

MEMBERS = ("096004", "096055", "096079")


def declare(folder: Path, groupings: str, *, code: str = '"096"', districts: bool = True) -> None:
    config = folder / "observatory.yaml"
    text = config.read_text(encoding="utf-8").replace('code: "096"', f"code: {code}")
    text = text.replace(
        '  comparisons: ["01", IT]\n',
        f'  comparisons: ["01", IT]\n  districts: {str(districts).lower()}\n'
        f"  groupings:\n{groupings}",
    )
    config.write_text(text, encoding="utf-8")


def value(kb: KnowledgeBase, indicator: str, territory: str) -> float:
    rows = kb.observations(indicator=indicator, territory=territory)
    assert len(rows) == 1, rows
    return float(rows["value"].iloc[0])


def test_a_declared_grouping_sums_its_members_and_re_derives_rates(
    observatory_dir: Path, tmp_path: Path
) -> None:
    declare(observatory_dir, f"    valle: [{', '.join(repr(m) for m in MEMBERS)}]\n")
    result = load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    assert result.report.ok
    kb = KnowledgeBase.open(tmp_path / "kb")
    for indicator in ("POP_TOTAL", "POP_0_14", "POP_65_PLUS"):
        members = sum(value(kb, indicator, m) for m in MEMBERS)
        assert value(kb, indicator, "grouping:valle") == members
    old = value(kb, "POP_65_PLUS", "grouping:valle")
    young = value(kb, "POP_0_14", "grouping:valle")
    assert value(kb, "OLD_AGE_INDEX", "grouping:valle") == pytest.approx(old / young * 100)
    # The province is still aggregated beside the grouping.
    assert value(kb, "POP_TOTAL", "096") == 168823.0


def test_coverage_of_every_aggregate_is_stored_and_a_partial_grouping_is_not_emitted(
    observatory_dir: Path, tmp_path: Path
) -> None:
    # 001272 (Torino) has no rows in this observatory: the grouping covers 1 of 2 members.
    declare(observatory_dir, '    valle: ["096004", "096055"]\n    mixed: ["096004", "001272"]\n')
    result = load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    assert any(f.code == "partial-aggregate" for f in result.report.findings)
    kb = KnowledgeBase.open(tmp_path / "kb")
    coverage = kb.analysis("coverage")
    mixed = coverage[(coverage.territory == "grouping:mixed") & (coverage.indicator == "POP_TOTAL")]
    assert mixed[["members", "reported", "coverage", "emitted"]].values.tolist()[0] == [
        2,
        1,
        0.5,
        False,
    ]
    assert "grouping:mixed" not in set(kb.observations(indicator="POP_TOTAL")["territory"])
    valle = coverage[(coverage.territory == "grouping:valle") & (coverage.indicator == "POP_TOTAL")]
    assert valle["emitted"].all() and (valle["coverage"] == 1.0).all()
    province = coverage[(coverage.territory == "096") & (coverage.indicator == "POP_TOTAL")]
    assert province["members"].iloc[0] == 74


def test_an_observatory_whose_territory_is_a_grouping_is_aggregated(
    observatory_dir: Path, tmp_path: Path
) -> None:
    declare(
        observatory_dir,
        f"    valle: [{', '.join(repr(m) for m in MEMBERS)}]\n",
        code="grouping:valle",
    )
    load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    kb = KnowledgeBase.open(tmp_path / "kb")
    total = sum(value(kb, "POP_TOTAL", m) for m in MEMBERS)
    assert value(kb, "POP_TOTAL", "grouping:valle") == total
    territories = set(kb.observations(indicator="POP_TOTAL")["territory"])
    assert "096" not in territories  # nothing is summed above the observatory's territory


def _with_district(original: Any) -> Any:
    def hierarchy(at: Any = None) -> pa.Table:
        table = original(at)
        inside = pc.is_in(table.column("municipality"), pa.array(["096004", "096055"]))
        district = pc.if_else(inside, "district:T01999", table.column("district").cast(pa.string()))
        index = table.schema.get_field_index("district")
        return table.set_column(index, "district", district)

    return hierarchy


@pytest.mark.parametrize("districts", [True, False])
def test_districts_are_aggregated_where_membership_is_known_unless_turned_off(
    observatory_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, districts: bool
) -> None:
    reg = registry()
    monkeypatch.setattr(reg, "hierarchy", _with_district(reg.hierarchy))
    declare(observatory_dir, '    valle: ["096004"]\n', districts=districts)
    load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    kb = KnowledgeBase.open(tmp_path / "kb")
    territories = set(kb.observations(indicator="POP_TOTAL")["territory"])
    assert ("district:T01999" in territories) is districts
    if districts:
        expected = value(kb, "POP_TOTAL", "096004") + value(kb, "POP_TOTAL", "096055")
        assert value(kb, "POP_TOTAL", "district:T01999") == expected


def test_declared_district_membership_is_aggregated(observatory_dir: Path, tmp_path: Path) -> None:
    config = observatory_dir / "observatory.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            '  comparisons: ["01", IT]\n',
            '  comparisons: ["01", IT]\n  districts:\n    T01024: ["096004", "096055"]\n',
        ),
        encoding="utf-8",
    )
    load_observatory(observatory_dir).build(out=tmp_path / "kb", offline=True)
    kb = KnowledgeBase.open(tmp_path / "kb")
    expected = value(kb, "POP_TOTAL", "096004") + value(kb, "POP_TOTAL", "096055")
    assert value(kb, "POP_TOTAL", "district:T01024") == expected
    assert value(kb, "POP_TOTAL", "096") == 168823.0
