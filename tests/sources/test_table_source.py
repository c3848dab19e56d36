"""The built-in ``table`` source: options, fetching a file or a URL, parsing the payload."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from welfare_observatory.errors import ConfigError, FetchError, ParseError
from welfare_observatory.sdk import FetchContext
from welfare_observatory.sources.http import HttpClient
from welfare_observatory.sources.manager import Plugins
from welfare_observatory.sources.table import TableSource

NOI_ITALIA = "istat_noiitalia2024_stranieri_istruzione.csv"


@pytest.fixture
def ctx(tmp_path: Path) -> FetchContext:
    folder = tmp_path / "observatory"
    (folder / "data").mkdir(parents=True)
    return FetchContext.create(
        tmp_path / "cache", base_dir=folder, http=HttpClient(retries=0, timeout=5)
    ).for_source("stranieri")


def test_a_local_file_is_fetched_into_the_cache_and_parsed(
    shared_data: Path, ctx: FetchContext
) -> None:
    assert ctx.base_dir is not None
    shutil.copy(shared_data / NOI_ITALIA, ctx.base_dir / "data" / "ni2024.csv")
    source = TableSource("stranieri", {"path": "data/ni2024.csv", "section_column": "titolo"})
    [payload] = source.fetch(ctx)
    table = source.parse(payload)
    assert table.column_names[:2] == ["titolo", "ANNI"]
    assert table.num_rows == 18
    assert source.parse(payload).equals(table)  # deterministic


def test_paths_stay_inside_the_observatory_folder(ctx: FetchContext) -> None:
    with pytest.raises(ConfigError, match="outside"):
        TableSource("s", {"path": "../../etc/passwd"}).fetch(ctx)


def test_a_missing_file_suggests_a_close_name(ctx: FetchContext) -> None:
    assert ctx.base_dir is not None
    (ctx.base_dir / "data" / "residenti.csv").write_text("a;b\n1;2\n")
    with pytest.raises(FetchError) as info:
        TableSource("s", {"path": "data/residenti.cvs"}).fetch(ctx)
    assert "residenti.csv" in (info.value.hint or "")


def test_parse_errors_name_the_source_and_the_file(ctx: FetchContext) -> None:
    assert ctx.base_dir is not None
    # "12 kg" is no number and no sign ("n/d" was, until it became a "not available" sign).
    (ctx.base_dir / "data" / "bad.csv").write_bytes(b"Comune;2023\nBiella;12\nCossato;12 kg\n")
    source = TableSource("s", {"path": "data/bad.csv"})
    with pytest.raises(ParseError) as info:
        source.parse(source.fetch(ctx)[0])
    assert info.value.location is not None
    assert info.value.location.source == "s"
    assert info.value.location.file == "data/bad.csv"
    assert (info.value.location.row, info.value.location.column) == (3, "2023")


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"path": "a.csv", "url": "https://x.it/a.csv"},
        {"url": "ftp://x.it/a.csv"},
        {"path": "a.csv", "separatr": ";"},
        {"path": "a.csv", "encoding": "latin-1"},
        {"path": "a.csv", "markers": {"": {"obs_status": "O"}}},
    ],
)
def test_invalid_options_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        TableSource("s", options)
    assert info.value.location is not None and info.value.location.source == "s"


def test_a_misspelled_option_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        TableSource("s", {"path": "a.csv", "separatr": ";"})
    assert "separator" in (info.value.hint or "")


class _Files(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = "Comune;2023\r\nForlì;117.000\r\n".encode("cp1252")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


def test_a_url_is_downloaded_through_the_cache(server: str, ctx: FetchContext) -> None:
    source = TableSource("s", {"url": f"{server}/residenti.csv"})
    [payload] = source.fetch(ctx)
    assert source.parse(payload).to_pylist() == [
        {"Comune": "Forlì", "2023": 117000.0, "2023__status": "A", "2023__conf": "F"}
    ]
    offline = FetchContext(cache=ctx.cache, http=ctx.http, offline=True, source="stranieri")
    assert source.fetch(offline)[0].sha256 == payload.sha256


def test_table_and_ckan_are_built_in_sources() -> None:
    plugins = Plugins(
        builtins=["welfare_observatory.sources.table", "welfare_observatory.sources.ckan"],
        entry_points=False,
        strict=True,
    )
    assert plugins.source_class("table") is TableSource
    assert plugins.source_class("ckan").type == "ckan"
