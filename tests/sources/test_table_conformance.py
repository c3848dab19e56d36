"""The built-in table and ckan sources pass the plugin conformance kit."""

from __future__ import annotations

import io
import json
from typing import Any, ClassVar

from openpyxl import Workbook

from welfare_observatory.sources.ckan import CkanSource
from welfare_observatory.sources.table import TableSource
from welfare_observatory.testing import Sample, SourceConformance

SIGNS = "Comune;2021;2022;2023\r\nBiella;1.253.157;69,1;-\r\nCossato;....;..;:\r\n"


def _xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Tavola 1 - Posti letto"])
    sheet.append(["Comune", "Struttura", "2023"])
    sheet.append(["203001", "Ospedale degli Infermi", 412])
    sheet.append(["203002", "RSA Cossato", "-"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class TestTableConformance(SourceConformance):
    source_class = TableSource
    samples: ClassVar[list[Sample]] = [
        Sample(
            {"path": "data/signs.csv"},
            files={"data/signs.csv": SIGNS.encode("cp1252")},
            rows=2,
            id="signs",
        ),
        Sample(
            {"path": "data/beds.xlsx", "sheet": 1},
            files={"data/beds.xlsx": _xlsx()},
            rows=2,
            id="beds",
        ),
    ]
    invalid_options: ClassVar[list[dict[str, Any]]] = [
        {},
        {"path": "a.csv", "header_rows": 0},
        {"url": "file:///etc/passwd"},
    ]
    code_columns = ("Comune",)


PORTAL = "https://dati.example.it"
PACKAGE = {
    "success": True,
    "result": {
        "name": "posti-letto",
        "resources": [
            {
                "id": "r1",
                "name": "Posti letto",
                "format": "CSV",
                "datastore_active": True,
                "url": f"{PORTAL}/download/posti.csv",
            },
        ],
    },
}
PAGE = {
    "success": True,
    "result": {
        "fields": [
            {"id": "_id", "type": "int"},
            {"id": "codice", "type": "text"},
            {"id": "posti", "type": "numeric"},
        ],
        "records": [
            {"_id": 1, "codice": "022205", "posti": 412},
            {"_id": 2, "codice": "022139", "posti": None},
        ],
        "total": 2,
    },
}


SEARCH = f"{PORTAL}/api/3/action/datastore_search"


def _json(doc: object) -> bytes:
    return json.dumps(doc).encode()


class TestCkanConformance(SourceConformance):
    source_class = CkanSource
    samples: ClassVar[list[Sample]] = [
        Sample(
            {"portal": PORTAL, "package": "posti-letto"},
            responses={
                f"{PORTAL}/api/3/action/package_show?id=posti-letto": _json(PACKAGE),
                f"{SEARCH}?limit=1000&offset=0&resource_id=r1": _json(PAGE),
            },
            rows=2,
            id="posti",
        )
    ]
    invalid_options: ClassVar[list[dict[str, Any]]] = [
        {"portal": "dati.example.it", "package": "p"},
        {"portal": PORTAL},
        {"portal": PORTAL, "package": "p", "page_size": 0},
    ]
    code_columns = ("codice",)
