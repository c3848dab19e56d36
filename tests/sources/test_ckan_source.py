"""The ckan source against a local CKAN-like portal on 127.0.0.1 (real-shaped answers)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from welfare_observatory.errors import ConfigError, FetchError, ParseError
from welfare_observatory.sdk import FetchContext
from welfare_observatory.sources.ckan import CkanSource
from welfare_observatory.sources.http import HttpClient

FIELDS = [
    {"id": "_id", "type": "int"},
    {"id": "codice_comune", "type": "text"},
    {"id": "comune", "type": "text"},
    {"id": "anno", "type": "text"},
    {"id": "residenti", "type": "numeric"},
    {"id": "stranieri_pct", "type": "text"},
]
RECORDS = [
    {
        "_id": i + 1,
        "codice_comune": code,
        "comune": name,
        "anno": "2023",
        "residenti": pop,
        "stranieri_pct": pct,
    }
    for i, (code, name, pop, pct) in enumerate(
        [
            ("022205", "Trento", 118902, "12,3"),
            ("022139", "Lavis", 9178, "8,1"),
            ("022006", "Ala", 9032, ".."),
            ("022245", "Pergine Valsugana", 21715, "6,0"),
            ("022161", "Mori", None, "...."),
        ]
    )
]
CSV = "Comune;Residenti 2023\r\nTrento;118.902\r\nLavis;9.178\r\n".encode("cp1252")


def _package(base: str, name: str, *, datastore: bool) -> dict[str, Any]:
    return {
        "id": f"{name}-uuid",
        "name": name,
        "resources": [
            {
                "id": "res-ds",
                "name": "Residenti per comune",
                "format": "CSV",
                "datastore_active": datastore,
                "url": f"{base}/download/residenti.csv",
            },
            {
                "id": "res-json",
                "name": "Residenti (JSON)",
                "format": "JSON",
                "datastore_active": False,
                "url": f"{base}/download/residenti.json",
            },
        ],
    }


class Portal(BaseHTTPRequestHandler):
    """package_show, datastore_search (paged; a looping and a lying resource) and a file."""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        if url.path == "/api/3/action/package_show":
            name = query.get("id", "")
            if name in ("residenti", "residenti-file"):
                pkg = _package(base, name, datastore=name == "residenti")
                return self._send(200, {"success": True, "result": pkg})
            if name in ("loop", "lie", "grow"):
                resource = {"id": name, "name": name, "format": "CSV", "datastore_active": True}
                return self._send(200, {"success": True, "result": {"resources": [resource]}})
            if name == "refused":
                return self._send(
                    200,
                    {
                        "success": False,
                        "error": {"__type": "Authorization Error", "message": "Access denied"},
                    },
                )
            return self._send(
                404,
                {"success": False, "error": {"__type": "Not Found Error", "message": "Not found"}},
            )
        if url.path == "/api/3/action/datastore_search":
            limit, offset = int(query["limit"]), int(query["offset"])
            rid = query["resource_id"]
            if rid == "loop":
                offset = 0  # a portal that ignores offset
            page = RECORDS[offset : offset + limit]
            total = {"lie": 9, "grow": 5 + offset}.get(rid, len(RECORDS))
            return self._send(
                200,
                {
                    "success": True,
                    "result": {
                        "resource_id": rid,
                        "fields": FIELDS,
                        "records": page,
                        "limit": limit,
                        "offset": offset,
                        "total": total,
                        "_links": {"start": self.path, "next": self.path},
                    },
                },
            )
        if url.path == "/download/residenti.csv":
            return self._send(200, CSV, "text/csv")
        return self._send(404, b"not here", "text/plain")


@pytest.fixture(scope="module")
def portal() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture
def ctx(tmp_path: Path) -> FetchContext:
    return FetchContext.create(
        tmp_path / "cache", base_dir=tmp_path, http=HttpClient(retries=0, timeout=5)
    ).for_source("trento")


def _source(portal: str, **options: object) -> CkanSource:
    return CkanSource("trento", {"portal": portal, "package": "residenti", **options})


def _rows(source: CkanSource, ctx: FetchContext) -> pa.Table:
    return pa.concat_tables([source.parse(p) for p in source.fetch(ctx)])


def test_datastore_pages_are_fetched_and_typed(portal: str, ctx: FetchContext) -> None:
    source = _source(
        portal, page_size=2, table={"value_columns": ["stranieri_pct"], "decimal": ","}
    )
    payloads = source.fetch(ctx)
    assert len(payloads) == 3  # 5 records in pages of 2
    table = pa.concat_tables([source.parse(p) for p in payloads])
    assert table.num_rows == 5
    assert table["codice_comune"].to_pylist()[0] == "022205"  # text codes keep zeros
    assert table.schema.field("residenti").type == pa.float64()
    assert table.schema.field("anno").type == pa.string()
    rows = {r["comune"]: r for r in table.to_pylist()}
    assert rows["Trento"]["residenti"] == 118902.0
    assert rows["Trento"]["stranieri_pct"] == pytest.approx(12.3)
    assert (rows["Ala"]["stranieri_pct"], rows["Ala"]["stranieri_pct__status"]) == (0.0, "N")
    assert rows["Mori"]["residenti"] is None and rows["Mori"]["residenti__status"] == "O"


def test_pages_share_one_schema(portal: str, ctx: FetchContext) -> None:
    source = _source(portal, page_size=2)
    schemas = {source.parse(p).schema for p in source.fetch(ctx)}
    assert len(schemas) == 1


def test_the_resource_file_is_read_with_the_table_reader(portal: str, ctx: FetchContext) -> None:
    source = CkanSource(
        "trento", {"portal": portal, "package": "residenti-file", "resource_format": "csv"}
    )
    table = _rows(source, ctx)
    assert table.column_names[0] == "Comune"
    assert table["Residenti 2023"].to_pylist() == [118902.0, 9178.0]


def test_a_resource_by_name_with_a_typo_gets_a_hint(portal: str, ctx: FetchContext) -> None:
    with pytest.raises(FetchError) as info:
        _source(portal, resource="Residenti per comun").fetch(ctx)
    assert "Residenti per comune" in (info.value.hint or "")


def test_two_matching_resources_are_ambiguous(portal: str, ctx: FetchContext) -> None:
    with pytest.raises(FetchError, match="2 resources"):
        CkanSource("trento", {"portal": portal, "package": "residenti-file"}).fetch(ctx)


@pytest.mark.parametrize(
    ("package", "words"),
    [("loop", "same page twice"), ("lie", "announced 9 rows"), ("grow", "total changed")],
)
def test_a_portal_that_loops_or_lies_is_a_fetch_error(
    portal: str, ctx: FetchContext, package: str, words: str
) -> None:
    source = CkanSource("trento", {"portal": portal, "package": package, "page_size": 2})
    with pytest.raises(FetchError) as info:
        source.fetch(ctx)
    assert words in info.value.message
    assert info.value.location is not None and info.value.location.source == "trento"


def test_paging_that_never_ends_is_bounded(portal: str, ctx: FetchContext) -> None:
    with pytest.raises(FetchError, match="did not end after 2 pages"):
        _source(portal, page_size=1, max_pages=2).fetch(ctx)


def test_a_missing_package_is_a_fetch_error_with_the_portal_message(
    portal: str, ctx: FetchContext
) -> None:
    with pytest.raises(FetchError) as info:
        CkanSource("trento", {"portal": portal, "package": "residenty"}).fetch(ctx)
    assert "404" in info.value.message and "Not found" in info.value.message
    assert "residenty" in (info.value.hint or "")


def test_success_false_is_a_fetch_error(portal: str, ctx: FetchContext) -> None:
    with pytest.raises(FetchError, match="Access denied"):
        CkanSource("trento", {"portal": portal, "package": "refused"}).fetch(ctx)


def test_a_truncated_page_is_a_parse_error(portal: str, ctx: FetchContext, tmp_path: Path) -> None:
    source = _source(portal)
    page = source.fetch(ctx)[0]
    broken = tmp_path / "broken.json"
    broken.write_bytes(page.read_bytes()[:100])
    truncated = type(page)(source=page.source, key=page.key, sha256="0", path=broken)
    with pytest.raises(ParseError, match="not valid JSON"):
        source.parse(truncated)


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError):
        CkanSource("x", {"portal": "dati.trentino.it", "package": "p"})
    with pytest.raises(ConfigError):
        CkanSource("x", {"portal": "https://dati.trentino.it", "package": "p", "page": 3})
