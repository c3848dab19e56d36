"""The eurostat_tsv source passes welfare-observatory's conformance kit."""

from __future__ import annotations

import gzip
from typing import Any, ClassVar

import pytest
from welfare_observatory_eurostat_tsv import EurostatTsvSource

from welfare_observatory.testing import Sample, SourceConformance

TSV = (
    b"freq,indic_de,geo\\TIME_PERIOD\t2022 \t2023 \n"
    b"A,JAN,ITC13\t170027 \t169106 p\n"
    b"A,JAN,ITC47\t1253157 \t: \n"
)
API = "https://ec.europa.eu/eurostat/api/dissemination/sdmx/2.1/data/demo_r_gind3"


class TestEurostatTsvConformance(SourceConformance):
    source_class = EurostatTsvSource
    samples: ClassVar[list[Sample]] = [
        Sample({"path": "data/demo.tsv"}, files={"data/demo.tsv": TSV}, rows=4, id="file"),
        Sample(
            {"dataset": "demo_r_gind3"},
            responses={f"{API}?compressed=true&format=TSV": gzip.compress(TSV)},
            rows=4,
            id="api",
        ),
    ]
    invalid_options: ClassVar[list[dict[str, Any]]] = [
        {},
        {"dataset": "demo", "path": "a.tsv"},
        {"url": "ftp://x/a.tsv"},
        {"dataset": "../etc"},
    ]
    code_columns = ("geo", "TIME_PERIOD", "indic_de")


def test_the_plugin_is_found_through_its_entry_point() -> None:
    pytest.importorskip("welfare_observatory_eurostat_tsv")
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="welfare_observatory")}
    assert "eurostat_tsv" in names
