"""Package data files of the territory registry, read once per process and folder."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from welfare_observatory.errors import DataError, Location

DATA_DIR = Path(__file__).resolve().parent / "data"

FILES = (
    "territories.parquet",
    "intervals.parquet",
    "events.parquet",
    "aliases.parquet",
    "population_sex.parquet",
    "population_age_sex.parquet",
)


@cache
def read(name: str, folder: Path = DATA_DIR) -> pa.Table:
    """The Parquet table ``name`` from ``folder`` (cached: tables are immutable)."""
    path = folder / name
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(
            f"cannot read territory data: {exc}",
            location=Location(file=str(path)),
            hint="rebuild it with tools/build_territory_data.py",
        ) from exc
