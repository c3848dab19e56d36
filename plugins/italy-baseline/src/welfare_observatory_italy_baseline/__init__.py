"""The Italian national baseline for welfare-observatory (``type: italy_baseline``).

Real indicators for every Italian province (and, for MEF IRPEF, every municipality) from
Istat, MEF and Eurostat files, shipped as tidy Parquet with a provenance sidecar each
(``data/<name>.parquet.meta.yaml``). YAML::

    sources:
      bes:
        type: italy_baseline
        options: {dataset: bes_province}
        rules:
          indicator: {column: indicator}
          territory: {column: territory}
          period: {column: period}
          breakdowns: {sex: {column: sex}}
          status: {obs_status_column: obs_status}
      irpef_comuni:
        type: italy_baseline
        options: {dataset: irpef_comuni, municipalities_of: ["096"]}
        rules: ...                       # the same rules

The plugin also registers its catalogue entries and the ``italy_baseline`` profile. It
uses only the public API of welfare-observatory.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator

from welfare_observatory.sdk import (
    FetchContext,
    Payload,
    RegisterCatalog,
    RegisterSource,
    Source,
    SourceOptions,
    hookimpl,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CATALOG_FILES",
    "DATASETS",
    "RULES",
    "BaselineOptions",
    "BaselineSource",
    "data_path",
    "register_catalogs",
    "register_sources",
]

__version__ = "0.1.0"

PACKAGE = Path(__file__).parent
DATA = PACKAGE / "data"
CATALOG_FILES = (
    PACKAGE / "catalog" / "baseline.yaml",
    PACKAGE / "catalog" / "profile_baseline.yaml",
)

DATASETS: dict[str, str] = {
    "bes_province": "Istat BES dei territori, edition 2020: 55 indicators by sex, 2004-2019",
    "demografia_province": "Istat demographic balance of the provinces, 2019-2024",
    "asia_province": "Istat ASIA local units and persons employed, 2018-2023",
    "nonprofit_province": "Istat non-profit institutions and employees, 2023",
    "stranieri_province": "Istat foreign residents by age class and sex, 1 January 2022",
    "famiglie_province": "Istat households on 31 December, 2019-2021",
    "disoccupazione_panel": "Unemployment and participation by province, 1996-2019 (pspatreg "
    "panel; provinces with changed borders left out)",
    "poverta_regioni": "Istat relative poverty of households by region, 2019-2021",
    "reddito_famiglie_regioni": "Istat household net income by region, 2017-2021",
    "eurostat_poverta_nuts2": "Eurostat poverty-risk rate by region (NUTS 2), 2019-2022",
    "eurostat_disoccupazione_nuts2": "Eurostat unemployment rate by region (NUTS 2), 1999-2013",
    "sdg_regioni": "Istat SDG statistical measures by region, 2004-2022",
    "irpef_comuni": "MEF IRPEF by municipality, tax years 2018-2021 and 2024",
    "irpef_province": "MEF IRPEF summed by province, region and Italy, 2018-2021 and 2024",
}
"""Dataset name -> what it holds; each is ``data/<name>.parquet``."""

RULES: dict[str, Any] = {
    "indicator": {"column": "indicator"},
    "territory": {"column": "territory"},
    "period": {"column": "period"},
    "breakdowns": {"sex": {"column": "sex"}},
    "status": {"obs_status_column": "obs_status"},
}
"""The harmonization rules every dataset uses (its columns are already canonical codes)."""

_COLUMNS = ("indicator", "territory", "period", "sex", "value", "obs_status")


def data_path(dataset: str) -> Path:
    """The Parquet file of ``dataset`` (its sidecar is the same path + ``.meta.yaml``)."""
    return DATA / f"{dataset}.parquet"


class BaselineOptions(SourceOptions):
    """``dataset``: one of :data:`DATASETS`. ``municipalities_of``: keep municipal rows only
    of these provinces (3-digit codes); provinces, regions and Italy are always kept, so
    ranks and composites can set a province among all the others."""

    dataset: str
    municipalities_of: tuple[str, ...] | None = None
    indicators: tuple[str, ...] | None = None
    """Keep only these indicator ids (default: all of the dataset)."""

    @field_validator("dataset")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DATASETS:
            raise ValueError(f"unknown dataset {value!r}; datasets: {', '.join(DATASETS)}")
        return value

    @field_validator("municipalities_of")
    @classmethod
    def _province_codes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not all(len(c) == 3 and c.isdigit() for c in value):
            raise ValueError("municipalities_of lists 3-digit province codes such as '096'")
        return value


class BaselineSource(Source):
    """One dataset of the national baseline, read from the package (no network)."""

    type: ClassVar[str] = "italy_baseline"
    Options = BaselineOptions
    description: ClassVar[str] = "the Italian national baseline shipped as package data"

    @property
    def baseline_options(self) -> BaselineOptions:
        assert isinstance(self.options, BaselineOptions)
        return self.options

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        """The dataset's Parquet file, copied into the cache."""
        name = self.baseline_options.dataset
        path = data_path(name)
        return [
            ctx.cache.put_file(
                ctx.source or self.id,
                f"package:welfare_observatory_italy_baseline/data/{path.name}",
                path,
                media_type="application/vnd.apache.parquet",
                meta={"path": f"welfare_observatory_italy_baseline/data/{path.name}"},
            )
        ]

    def parse(self, payload: Payload) -> pa.Table:
        """The tidy table, filtered by ``municipalities_of`` and ``indicators``."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        data = payload.read_bytes()
        if not data:
            raise self.parse_error(payload, "the payload is empty", hint="fetch it again")
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowInvalid, OSError) as exc:
            raise self.parse_error(
                payload, f"not a Parquet file: {exc}", hint="reinstall the baseline package"
            ) from None
        missing = [c for c in _COLUMNS if c not in table.column_names]
        if missing:
            raise self.parse_error(
                payload, f"columns missing: {', '.join(missing)}", column=missing[0]
            )
        table = table.select(list(_COLUMNS))
        options = self.baseline_options
        territory = table.column("territory").cast(pa.string())
        if options.municipalities_of is not None:
            municipal = pc.equal(pc.utf8_length(territory), 6)
            wanted = pc.is_in(
                pc.utf8_slice_codeunits(territory, 0, 3),
                value_set=pa.array(list(options.municipalities_of), pa.string()),
            )
            table = table.filter(pc.or_(pc.invert(municipal), wanted))
        if options.indicators is not None:
            keep = pc.is_in(
                table.column("indicator").cast(pa.string()),
                value_set=pa.array(list(options.indicators), pa.string()),
            )
            table = table.filter(keep)
        return table


@hookimpl
def register_sources(register: RegisterSource) -> None:
    """Register the ``italy_baseline`` source."""
    register(BaselineSource)


@hookimpl
def register_catalogs(register: RegisterCatalog) -> None:
    """Register the baseline's catalogue entries and its ``italy_baseline`` profile."""
    for path in CATALOG_FILES:
        register(path)
