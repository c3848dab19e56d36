"""The rule of the payload cache: only answers that parse stay indexed.

A 200 HTML error page, or a 404 that is not SDMX's "no records", must not be replayed by
the next run (which would then never ask the service again); the hint names --refresh.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory.errors import ParseError, WelfareObservatoryError
from welfare_observatory.sdk import FetchContext
from welfare_observatory.sources.cache import Cache, parse_or_forget
from welfare_observatory.sources.http import HttpClient, HttpStatusError
from welfare_observatory.sources.sdmx import SdmxSource

HTML_ERROR = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
CSV_MESSAGE = (
    b"DATAFLOW,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,NOTE\n"
    b"IT1:22_289(1.0),A,096004,F,2022,22791,,\n"
)


def _ctx(tmp_path: Path, **kwargs: bool) -> FetchContext:
    http = HttpClient(rate_limits={}, retries=0, sleep=lambda s: None, timeout=5)
    return FetchContext.create(tmp_path / "cache", base_dir=tmp_path, http=http, **kwargs)


def _source(server) -> SdmxSource:
    options = {
        "url": f"{server.url}/rest",
        "agency": "IT1",
        "dataflow": "22_289",
        "key": "A.096004",
        "format": "csv",
    }
    return SdmxSource("pop", options)


def test_an_answer_that_does_not_parse_leaves_the_index(tmp_path):
    cache = Cache(tmp_path)
    payload = cache.put("s", "http://h/x", b"junk", meta={"url": "http://h/x", "status": "200"})

    def parse(_payload: object) -> int:
        raise ParseError("not a table")

    with pytest.raises(ParseError) as info:
        parse_or_forget(parse, payload, cache)
    assert cache.lookup("s", "http://h/x") is None
    assert "--refresh" in (info.value.hint or "")
    assert payload.path.is_file()  # the bytes may be shared by other keys: only the index goes


def test_an_answer_that_parses_stays(tmp_path):
    cache = Cache(tmp_path)
    payload = cache.put("s", "k", b"fine", meta={"url": "http://h/k"})
    assert parse_or_forget(lambda p: p.read_bytes(), payload, cache) == b"fine"
    assert cache.lookup("s", "k") is not None


def test_any_exception_from_a_plugin_parse_also_drops_the_answer(tmp_path):
    cache = Cache(tmp_path)
    payload = cache.put("s", "k", b"x", meta={"url": "http://h/k", "structure": "k-structure"})
    cache.put("s", "k-structure", b"<structure/>")

    def parse(_payload: object) -> None:
        raise RuntimeError("plugin bug")

    with pytest.raises(RuntimeError):
        parse_or_forget(parse, payload, cache)
    assert cache.lookup("s", "k") is None and cache.lookup("s", "k-structure") is None


def test_a_200_html_error_page_is_not_replayed(tmp_path, server):
    route = "/rest/data/22_289/A.096004"
    server.routes[route] = [(200, {"Content-Type": "text/html"}, HTML_ERROR)]
    source = _source(server)
    ctx = _ctx(tmp_path)
    [payload] = source.fetch(ctx)
    with pytest.raises(WelfareObservatoryError) as info:
        parse_or_forget(source.parse, payload, ctx.cache)
    assert "--refresh" in (info.value.hint or "")
    # The service recovers: the next run asks it again and gets the data.
    server.routes[route] = [(200, {"Content-Type": "text/csv"}, CSV_MESSAGE)]
    [payload] = source.fetch(_ctx(tmp_path))
    assert parse_or_forget(source.parse, payload, ctx.cache).num_rows == 1
    assert len(server.seen) == 2


def test_a_404_that_is_not_no_records_is_not_replayed(tmp_path, server):
    route = "/rest/data/22_289/A.096004"
    server.routes[route] = [(404, {}, b"Dataflow not found"), (200, {}, CSV_MESSAGE)]
    source = _source(server)
    with pytest.raises(HttpStatusError):
        source.fetch(_ctx(tmp_path))
    [payload] = source.fetch(_ctx(tmp_path))
    assert payload.status == 200 and len(server.seen) == 2


def test_offline_after_a_bad_answer_says_it_is_not_cached(tmp_path, server):
    from welfare_observatory.errors import OfflineError

    server.routes["/rest/data/22_289/A.096004"] = [(200, {}, HTML_ERROR)]
    source = _source(server)
    ctx = _ctx(tmp_path)
    [payload] = source.fetch(ctx)
    with pytest.raises(WelfareObservatoryError):
        parse_or_forget(source.parse, payload, ctx.cache)
    with pytest.raises(OfflineError):
        source.fetch(_ctx(tmp_path, offline=True))


BUILD_OBSERVATORY = """\
id: test_cache_rule
name: {{it: Prova, en: Test}}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
indicators:
  add: [POP_TOTAL]
sources:
  population:
    type: sdmx
    options:
      url: {url}/rest
      agency: IT1
      dataflow: "22_289"
      key: A.096004
      format: csv
    rules:
      indicator: {{value: POP_TOTAL}}
      territory: {{column: REF_AREA, scheme: istat}}
      period: {{column: TIME_PERIOD, reference_date: jan_1}}
      value: {{column: OBS_VALUE}}
"""


def test_a_build_does_not_replay_an_html_error_page(tmp_path, server):
    from welfare_observatory.observatory import load_observatory

    route = "/rest/data/22_289/A.096004"
    server.routes[route] = [(200, {"Content-Type": "text/html"}, HTML_ERROR)]
    folder = tmp_path / "obs"
    folder.mkdir()
    (folder / "observatory.yaml").write_text(BUILD_OBSERVATORY.format(url=server.url), "utf-8")
    observatory = load_observatory(folder)
    first = observatory.build(out=tmp_path / "kb")
    [report] = first.report.sources
    assert report.status == "failed" and "--refresh" in (report.error or "")
    server.routes[route] = [(200, {"Content-Type": "text/csv"}, CSV_MESSAGE)]
    second = load_observatory(folder).build(out=tmp_path / "kb")
    assert len(server.seen) == 2  # asked again, not replayed from the cache
    assert second.report.sources[0].status == "ok"
