"""Monitoring actions against a straight line from baseline to target, and the report section."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.config import load_config
from welfare_observatory.governance import Action, governance_section, load_governance, monitor
from welfare_observatory.governance.monitoring import (
    NO_DATA,
    OFF_TRACK,
    ON_TRACK,
    expected_value,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def observations(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """A small observation table: (indicator, territory, period as a year, value)."""
    return pd.DataFrame(
        {
            "indicator": [r[0] for r in rows],
            "territory": [r[1] for r in rows],
            "period": [r[2] for r in rows],
            "period_start": pd.to_datetime([f"{r[2]}-01-01" for r in rows]),
            "value": [r[3] for r in rows],
            "sex": ["_T"] * len(rows),
        }
    )


def action(indicator: str, baseline: float | None, target: float, year: int = 2030) -> Action:
    link = {
        "indicator": indicator,
        "territory": "096",
        "baseline": {"period": "2022", "edition": "2024"}
        | ({"value": baseline} if baseline is not None else {}),
        "target": {"value": target, "year": year},
    }
    return Action.model_validate(
        {
            "id": "a",
            "title": {"it": "Azione"},
            "target_group": {"it": "giovani"},
            "indicators": [link],
        }
    )


def test_on_track_means_at_least_as_good_as_the_straight_line() -> None:
    # NEET: lower is better; from 20 in 2022 to 12 in 2030, the line says 19 in 2023
    data = observations([("NEET_15_29", "096", "2022", 20.0), ("NEET_15_29", "096", "2023", 18.5)])
    [row] = monitor([action("NEET_15_29", None, 12.0)], data).to_dict("records")
    assert row["baseline_value"] == 20.0  # read from the data at the baseline period
    assert row["expected_value"] == pytest.approx(20 - 8 * 365 / 2922)
    assert (row["latest_period"], row["direction"], row["status"]) == ("2023", -1, ON_TRACK)
    worse = observations([("NEET_15_29", "096", "2022", 20.0), ("NEET_15_29", "096", "2023", 19.9)])
    assert monitor([action("NEET_15_29", None, 12.0)], worse)["status"].tolist() == [OFF_TRACK]


def test_a_rising_target_needs_a_rising_value() -> None:
    def status(value: float) -> str:
        data = observations([("EMPLOYMENT_RATE_20_64", "096", "2024", value)])
        rows = monitor([action("EMPLOYMENT_RATE_20_64", 70.0, 78.0)], data)
        # the line from 70 (1 Jan 2022) to 78 (1 Jan 2030), 730 of 2922 days later
        assert rows["expected_value"].iloc[0] == pytest.approx(70 + 8 * 730 / 2922)
        return str(rows["status"].iloc[0])

    assert status(72.0) == ON_TRACK
    assert status(71.9) == OFF_TRACK


def test_holding_the_line_uses_the_polarity() -> None:
    data = observations([("NEET_15_29", "096", "2023", 15.0)])
    # negative polarity, target = baseline: not rising is on track
    assert monitor([action("NEET_15_29", 15.5, 15.5)], data)["status"].tolist() == [ON_TRACK]
    assert monitor([action("NEET_15_29", 14.0, 14.0)], data)["status"].tolist() == [OFF_TRACK]


def test_no_data_without_a_baseline_or_a_later_value() -> None:
    data = observations([("NEET_15_29", "096", "2022", 20.0)])
    assert monitor([action("NEET_15_29", None, 12.0)], data)["status"].tolist() == [NO_DATA]
    assert monitor([action("SHARE_65_PLUS", None, 12.0)], data)["status"].tolist() == [NO_DATA]
    assert monitor([], data).empty


@given(
    baseline=st.floats(-1e6, 1e6),
    target=st.floats(-1e6, 1e6),
    days=st.integers(0, 20_000),
    span=st.integers(1, 10_000),
)
def test_the_expected_value_stays_between_baseline_and_target(
    baseline: float, target: float, days: int, span: int
) -> None:
    t0 = date(2020, 1, 1)
    t1 = date.fromordinal(t0.toordinal() + span)
    t = date.fromordinal(t0.toordinal() + days)
    value = expected_value(baseline, target, t0, t1, t)
    low, high = sorted((baseline, target))
    assert low - 1e-6 <= value <= high + 1e-6
    if days >= span:
        assert value == target


def test_the_biella_section_is_escaped_html_with_counts_tables_and_monitoring(
    tmp_path: Path,
) -> None:
    folder = EXAMPLES / "biella" / "src" / "osserva_biella"
    section = SimpleNamespace(
        lang="it",
        config=load_config(folder),
        folder=str(folder),
        observations=observations([("NEET_15_29", "01", "2023", 14.0)]),
    )
    html = governance_section(section)
    assert html.startswith("<section") and "<script" not in html
    assert "enti pubblici: 4" in html
    assert "Donne tra lavoro e cura" in html
    assert "WantoBI" in html and "dati mancanti" in html
    governance = load_governance(folder / "governance.yaml")
    assert len(governance.stakeholders) == sum(governance.stakeholders_by_type().values())


def test_text_from_the_file_is_escaped(tmp_path: Path) -> None:
    (tmp_path / "governance.yaml").write_text(
        "stakeholders:\n  - {id: x, name: '<b>Comune</b>', type: public_body}\n"
        "tables:\n  - {id: t, name: {it: '<script>alert(1)</script>'}, members: [x]}\n",
        "utf-8",
    )
    config = SimpleNamespace(governance="governance.yaml")
    html = governance_section(
        SimpleNamespace(lang="en", config=config, folder=str(tmp_path), observations=None)
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    no_governance = SimpleNamespace(lang="en", config=SimpleNamespace(governance=None), folder="x")
    empty = governance_section(no_governance)
    assert "No governance declared." in empty and "governance.yaml" in empty


def test_the_report_plugin_registers_the_governance_section() -> None:
    from welfare_observatory.governance.report_plugin import register_report_sections
    from welfare_observatory.publish.report.sections import ReportSection, SectionRegistry

    registered: list[object] = []
    register_report_sections(registered.append)
    [section] = registered
    assert isinstance(section, ReportSection) and section.id == "governance"
    registry = SectionRegistry()
    registry.register(section, origin="welfare-observatory")
    assert [s.title.get("en") for s in registry] == ["Governance and actions"]


def test_the_publishable_view_as_arrow_is_read_too() -> None:
    import pyarrow as pa

    frame = observations([("NEET_15_29", "096", "2022", 20.0), ("NEET_15_29", "096", "2023", 18.5)])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # keys dictionary-encoded, dates as date32, as the knowledge base stores them
    table = table.set_column(0, "indicator", table["indicator"].dictionary_encode())
    table = table.set_column(3, "period_start", table["period_start"].cast(pa.date32()))
    rows = monitor([action("NEET_15_29", None, 12.0)], table)
    assert rows["status"].tolist() == [ON_TRACK]


def test_an_action_on_an_indicator_the_edition_lacks_has_no_data(tmp_path: Path) -> None:
    from welfare_observatory.observatory import load_observatory
    from welfare_observatory.store import KnowledgeBase

    folder = EXAMPLES / "biella" / "src" / "osserva_biella"
    load_observatory(folder).build(out=tmp_path / "kb", offline=True)
    kb = KnowledgeBase.open(tmp_path / "kb")
    # NEET_15_29 needs the labour force survey, which the offline example does not carry.
    status = monitor([action("NEET_15_29", 14.0, 12.0)], kb)["status"].tolist()
    assert status == [NO_DATA]
