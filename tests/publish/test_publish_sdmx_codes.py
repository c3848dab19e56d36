"""SDMX ids: codes that are not SDMX ids are made into ids, and their names keep the original."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from welfare_observatory.errors import PublishError
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.publish.metadata import ExportMetadata
from welfare_observatory.publish.sdmx import export_sdmx
from welfare_observatory.publish.tabular import export_xlsx

META = ExportMetadata(
    observatory="trento",
    edition="2025",
    build="b-1",
    status="draft",
    created="2026-01-01T00:00:00",
    reference_date="2025-01-01",
    territory="022",
    library_version="0",
)


def table(territories: list[str], unit: str = "euro / person") -> pa.Table:
    rows = [
        {
            "indicator": "SPEND_PER_HEAD",
            "territory": territory,
            "period": "2023-09-01/P1Y",
            "period_start": date(2023, 9, 1),
            "value": 1.0 / (i + 3) if i else None,
            "unit": unit,
            "obs_status": "A" if i else "O",
            "conf_status": "F",
            "flags": None,
            "source": "s",
            "lineage": "l",
        }
        for i, territory in enumerate(territories)
    ]
    return pa.Table.from_pylist(rows, schema=observation_schema())


def test_grouping_ids_units_and_school_years_survive_sdmx(tmp_path: Path) -> None:
    sdmx = pytest.importorskip("sdmx")
    structure_path, data_path = export_sdmx(table(["district:T01", "022", "IT"]), META, tmp_path)
    structure = sdmx.read_sdmx(structure_path)
    assert str(structure.codelist["CL_AREA"]["district_T01"].name) == "district:T01"
    assert str(structure.codelist["CL_AREA"]["022"].name) == "Trento"
    assert str(structure.codelist["CL_UNIT"]["euro___person"].name) == "euro / person"
    [dsd] = structure.structure.values()
    series = sdmx.to_pandas(sdmx.read_sdmx(data_path, structure=dsd).data[0])
    values = {key[1]: float(v) for key, v in series.items()}
    assert math.isnan(values["district_T01"]) and values["IT"] == 1.0 / 5
    assert {key[2] for key in series.index} == {"2023-09-01/P1Y"}


def test_two_codes_that_become_the_same_sdmx_id_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="same SDMX id 'district_T01'"):
        export_sdmx(table(["district:T01", "district T01"]), META, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_table_too_large_for_a_worksheet_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("welfare_observatory.publish.tabular.XLSX_MAX_ROWS", 2)
    with pytest.raises(PublishError, match="do not fit in one worksheet") as info:
        export_xlsx(table(["001", "002", "003"]), META, tmp_path)
    assert "csv or parquet" in (info.value.hint or "")
    assert list(tmp_path.iterdir()) == []
