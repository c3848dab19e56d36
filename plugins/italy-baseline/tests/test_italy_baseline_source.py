"""The italy_baseline source: conformance kit, filters, provenance of every shipped file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pyarrow.parquet as pq
import pytest
import yaml
from welfare_observatory_italy_baseline import (
    CATALOG_FILES,
    DATASETS,
    RULES,
    BaselineSource,
    data_path,
)

from welfare_observatory.testing import Sample, SourceConformance
from welfare_observatory.testing.conformance import fetch_sample

NOT_FILED_UNDER_TODAY = ("015", "071", "072", "044", "090", "091", "092", "095", "041", "099")


class TestBaselineConformance(SourceConformance):
    source_class = BaselineSource
    samples: ClassVar[list[Sample]] = [
        Sample(
            {"dataset": "nonprofit_province", "indicators": ["NP_INSTITUTIONS"]},
            rows=128,  # 107 provinces, 20 regions, Italy
            id="nonprofit",
        ),
        Sample(
            {
                "dataset": "irpef_comuni",
                "municipalities_of": ["096"],
                "indicators": ["IRPEF_TAXPAYERS"],
            },
            rows=74 * 5,
            id="irpef_biella",
        ),
    ]
    invalid_options: ClassVar[list[dict[str, Any]]] = [
        {},
        {"dataset": "no_such_dataset"},
        {"dataset": "irpef_comuni", "municipalities_of": ["96"]},
    ]
    code_columns = ("indicator", "territory", "period", "sex")
    # the kit harmonizes against the shipped catalogue, which does not hold the plugin's
    # entries: the unit is stated here, as an observatory would for an unknown indicator
    harmonize_rules = yaml.safe_dump({**RULES, "unit": {"unit": "organisation"}})


def _parse(tmp_path: Path, **options: Any) -> Any:
    sample = Sample(options, id="s")
    payloads = fetch_sample(BaselineSource, sample, tmp_path)
    return BaselineSource("s", options).parse(payloads[0]).to_pandas()


def test_municipal_rows_are_kept_only_for_the_named_provinces(tmp_path: Path) -> None:
    frame = _parse(tmp_path, dataset="irpef_comuni", municipalities_of=["096", "002"])
    assert set(frame["territory"].str[:3]) == {"096", "002"}
    assert frame["territory"].str.len().eq(6).all()


def test_the_pre_2005_panel_never_files_values_under_todays_changed_provinces(
    tmp_path: Path,
) -> None:
    """Milano incl. Monza, Bari/Foggia incl. BAT, Ascoli incl. Fermo, Sardinia, Valmarecchia."""
    frame = _parse(tmp_path, dataset="disoccupazione_panel")
    present = set(frame["territory"])
    assert not present & set(NOT_FILED_UNDER_TODAY)
    assert not present & {"108", "109", "110", "111"}  # absent from the panel anyway
    assert {"096", "017", "022"} <= present
    breaks = frame[frame["obs_status"] == "B"]
    assert set(breaks["period"]) == {"2015"}


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_every_shipped_file_says_where_it_comes_from(dataset: str) -> None:
    path = data_path(dataset)
    meta = yaml.safe_load(path.with_name(path.name + ".meta.yaml").read_text("utf-8"))
    for key in ("publisher", "source_file", "origin", "release", "transformation", "licence"):
        assert meta.get(key), f"{dataset}: {key} missing"
    table = pq.read_table(path)
    assert table.column_names == ["indicator", "territory", "period", "sex", "value", "obs_status"]
    assert table.num_rows == int(meta["rows"])
    assert all(table.column(c).null_count == 0 for c in table.column_names)


def test_every_province_is_covered_by_the_province_files() -> None:
    provinces = set(pq.read_table(data_path("demografia_province")).column("territory").to_pylist())
    provinces = {p for p in provinces if len(p) == 3 and p.isdigit()}
    assert len(provinces) == 107
    for dataset in ("bes_province", "asia_province", "nonprofit_province", "irpef_province"):
        present = set(pq.read_table(data_path(dataset)).column("territory").to_pylist())
        assert provinces <= present, f"{dataset} misses {sorted(provinces - present)[:5]}"


def test_the_catalogue_files_are_registered_and_load() -> None:
    from welfare_observatory.catalog import Catalog

    catalog = Catalog.load(*CATALOG_FILES)
    profile = catalog.profile("italy_baseline")
    assert len(profile) >= 150
    assert all(i.source.verified for i in profile)
    rate = catalog.get("IRPEF_TAXPAYERS_PER_100_RESIDENTS")
    assert rate.formula is not None and rate.formula.multiplier == 100
    assert catalog.get("BES_01SAL001").definition.it.startswith("La speranza di vita")


def test_the_plugin_is_found_through_its_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="welfare_observatory")}
    assert "italy_baseline" in names
