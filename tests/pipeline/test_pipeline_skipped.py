"""The build report says why each selected indicator was not built, and where it would
come from: a source skipped offline or by --only, or the catalogue's publisher and dataset."""

from __future__ import annotations

from pathlib import Path

from welfare_observatory.build.report import SkippedIndicator
from welfare_observatory.observatory import load_observatory

BIRTHS_SOURCE = """\
  istat_births:
    type: sdmx
    options: {agency: IT1, dataflow: 22_315, key: A..LBIRTH.9}
    rules:
      indicator: {value: BIRTHS}
      territory: {column: REF_AREA, scheme: istat}
      period: {column: TIME_PERIOD}
      value: {column: value}
"""


def select(folder: Path, extra: str, sources: str = "") -> None:
    config = folder / "observatory.yaml"
    text = config.read_text(encoding="utf-8").replace("OLD_AGE_INDEX]", f"OLD_AGE_INDEX, {extra}]")
    config.write_text(text + sources, encoding="utf-8")


def skipped(folder: Path, tmp_path: Path, **options: object) -> dict[str, SkippedIndicator]:
    result = load_observatory(folder).build(out=tmp_path / "kb", offline=True, **options)  # type: ignore[arg-type]
    return {s.id: s for s in result.report.skipped}


def test_an_indicator_no_source_declares_names_the_catalogue_provenance(
    observatory_dir: Path, tmp_path: Path
) -> None:
    select(observatory_dir, "BIRTHS")
    item = skipped(observatory_dir, tmp_path)["BIRTHS"]
    assert item.cause == "no-source"
    assert item.sources == ()
    assert item.provider == "Istat, dataset 22_315 (SDMX agency IT1)"
    assert "--offline" in item.reason
    assert "dataflow: 22_315" in item.reason  # how to add the source


def test_a_source_skipped_offline_is_named_as_the_provider(
    observatory_dir: Path, tmp_path: Path
) -> None:
    select(observatory_dir, "BIRTHS, CRUDE_BIRTH_RATE", BIRTHS_SOURCE)
    items = skipped(observatory_dir, tmp_path)
    births = items["BIRTHS"]
    assert births.cause == "offline"
    assert births.sources == ("istat_births",)
    assert "source istat_births skipped offline" in births.reason
    # A rate whose numerator would come from that source says so too.
    rate = items["CRUDE_BIRTH_RATE"]
    assert rate.sources == ("istat_births",)
    assert rate.reason.startswith("needs BIRTHS")


def test_a_source_left_out_by_only_is_named(observatory_dir: Path, tmp_path: Path) -> None:
    select(observatory_dir, "BIRTHS", BIRTHS_SOURCE)
    births = skipped(observatory_dir, tmp_path, only=["population"])["BIRTHS"]
    assert births.cause == "only"
    assert births.sources == ("istat_births",)
    assert "not in --only population" in births.reason
