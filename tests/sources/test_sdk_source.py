"""The plugin author's API: Source options, FetchContext paths, cache use and offline mode."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import ClassVar

import pyarrow as pa
import pytest

import welfare_observatory
from welfare_observatory import sdk
from welfare_observatory.errors import ConfigError, FetchError, OfflineError, ParseError
from welfare_observatory.sdk import FetchContext, Payload, Source, SourceOptions
from welfare_observatory.sources.http import HttpClient


class BedsOptions(SourceOptions):
    path: str
    sheet: int = 0


class BedsSource(Source):
    type: ClassVar[str] = "beds"
    Options = BedsOptions
    description = "Hospital beds from a CSV file"

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        assert isinstance(self.options, BedsOptions)
        return [ctx.read_file(self.options.path)]

    def parse(self, payload: Payload) -> pa.Table:
        raise self.parse_error(payload, "bad cell", row=3, column="beds", hint="a number")


def test_options_are_validated_into_the_frozen_options_model():
    source = BedsSource("beds_asl", {"path": "beds.csv"})
    assert source.options == BedsOptions(path="beds.csv")
    with pytest.raises(Exception, match="frozen"):
        source.options.path = "other.csv"  # type: ignore[misc]


def test_an_options_instance_is_accepted_as_it_is():
    options = BedsOptions(path="x.csv", sheet=2)
    assert BedsSource("b", options).options is options


def test_a_missing_option_names_the_source_and_the_field():
    with pytest.raises(ConfigError) as info:
        BedsSource("beds_asl", {})
    assert info.value.location.source == "beds_asl"
    assert info.value.location.field == "path"
    assert "needs option 'path'" in info.value.hint


def test_a_misspelled_option_gets_a_suggestion():
    with pytest.raises(ConfigError) as info:
        BedsSource("beds_asl", {"path": "b.csv", "shet": 1})
    assert info.value.location.field == "shet"
    assert "did you mean 'sheet'" in info.value.hint


def test_a_wrong_type_is_a_config_error_not_a_validation_traceback():
    with pytest.raises(ConfigError, match="beds_asl"):
        BedsSource("beds_asl", {"path": "b.csv", "sheet": "first"})


def test_parse_errors_carry_the_source_the_file_and_the_cell(tmp_path):
    payload = Payload("beds_asl", "file:b.csv", "0" * 64, tmp_path / "x", meta={"path": "b.csv"})
    with pytest.raises(ParseError) as info:
        BedsSource("beds_asl", {"path": "b.csv"}).parse(payload)
    where = info.value.location
    assert (where.source, where.file, where.row, where.column) == ("beds_asl", "b.csv", 3, "beds")
    assert str(info.value) == "bad cell (source 'beds_asl', b.csv, row 3, column 'beds')"


@pytest.fixture
def ctx(tmp_path):
    (tmp_path / "obs" / "data").mkdir(parents=True)
    (tmp_path / "obs" / "data" / "beds.csv").write_bytes(b"asl,beds\n203,12\n")
    (tmp_path / "secret.txt").write_text("outside")
    return FetchContext.create(tmp_path / "cache", base_dir=tmp_path / "obs", source="beds")


def test_read_file_holds_a_small_file_s_bytes_and_copies_nothing(ctx):
    file = ctx.base_dir / "data" / "beds.csv"
    before = ctx.cache.now()
    payload = ctx.read_file("data/beds.csv")
    after = ctx.cache.now()
    assert payload.read_bytes() == b"asl,beds\n203,12\n"
    assert payload.sha256 == hashlib.sha256(b"asl,beds\n203,12\n").hexdigest()
    assert payload.key == "file:data/beds.csv" and payload.source == "beds"
    assert payload.media_type == "text/csv" and payload.meta["path"] == "data/beds.csv"
    assert before <= payload.meta["fetched_at"] <= after  # the cache's clock
    # The file stays where it is: the cache holds no copy of it and no record.
    assert payload.path == file.resolve()
    assert not (ctx.cache.root / "objects").exists() and not (ctx.cache.root / "index").exists()
    # The payload is the bytes read and hashed, whatever happens to the file afterwards.
    file.write_bytes(b"asl,beds\n203,99\n")
    assert payload.read_bytes() == b"asl,beds\n203,12\n"


def test_read_file_copies_a_large_file_into_the_cache(ctx, monkeypatch):
    monkeypatch.setattr(sdk, "HELD_FILE_BYTES", 8)
    payload = ctx.read_file("data/beds.csv")
    assert payload.data is None and payload.path.is_relative_to(ctx.cache.root)
    assert payload.read_bytes() == b"asl,beds\n203,12\n"
    assert payload.sha256 == hashlib.sha256(b"asl,beds\n203,12\n").hexdigest()
    assert ctx.cache.lookup("beds", "file:data/beds.csv") == payload


def test_a_file_written_while_it_is_read_is_read_again(ctx, monkeypatch):
    """The bytes held are those of one state of the file: when its stamp after the read
    is not the one before (a write in between), it is read again; a file that keeps
    changing is an error naming it."""
    real_fstat = os.fstat
    changes = iter([True])

    def moved(fd: int) -> os.stat_result:
        status = real_fstat(fd)
        if next(changes, False):
            (ctx.base_dir / "data" / "beds.csv").write_bytes(b"asl,beds\n203,13\n")
            return real_fstat(fd)
        return status

    monkeypatch.setattr(os, "fstat", moved)
    payload = ctx.read_file("data/beds.csv")
    assert payload.read_bytes() == b"asl,beds\n203,13\n"
    assert payload.sha256 == hashlib.sha256(b"asl,beds\n203,13\n").hexdigest()

    grown = iter(range(1, 100))

    def always(fd: int) -> os.stat_result:
        status = real_fstat(fd)  # a file growing at every look
        return os.stat_result((*status[:6], status.st_size + next(grown), *status[7:10]))

    monkeypatch.setattr(os, "fstat", always)
    with pytest.raises(FetchError, match="changed each time it was read") as info:
        ctx.read_file("data/beds.csv")
    assert info.value.location.file == "data/beds.csv" and info.value.location.source == "beds"


@pytest.mark.parametrize("escape", ["../secret.txt", "data/../../secret.txt", "/etc/passwd"])
def test_paths_cannot_leave_the_observatory_folder(ctx, escape):
    with pytest.raises(ConfigError, match="outside the observatory folder"):
        ctx.read_file(escape)


def test_a_symlink_out_of_the_folder_is_refused(ctx, tmp_path):
    (ctx.base_dir / "data" / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ConfigError, match="outside the observatory folder"):
        ctx.read_file("data/link.txt")


def test_absolute_paths_inside_the_folder_are_allowed(ctx):
    inside = ctx.base_dir / "data" / "beds.csv"
    assert ctx.read_file(inside).key == "file:data/beds.csv"


def test_a_missing_file_suggests_the_close_names(ctx):
    with pytest.raises(FetchError) as info:
        ctx.read_file("data/bed.csv")
    assert "beds.csv" in info.value.hint
    assert info.value.location.source == "beds"


def test_reading_a_file_without_an_observatory_folder_is_a_config_error(tmp_path):
    ctx = FetchContext.create(tmp_path / "cache")
    with pytest.raises(ConfigError, match="no observatory folder"):
        ctx.read_file("x.csv")


def test_for_source_sets_the_id_payloads_are_indexed_under(ctx):
    other = ctx.for_source("beds_2")
    assert other.source == "beds_2" and ctx.source == "beds"
    assert other.read_file("data/beds.csv").source == "beds_2"


def test_offline_get_without_a_cached_answer_names_the_request(tmp_path):
    ctx = FetchContext.create(tmp_path / "c", offline=True, source="pop")
    with pytest.raises(OfflineError) as info:
        ctx.get("http://127.0.0.1:9/data/22_289", params={"startPeriod": "2020"})
    assert "http://127.0.0.1:9/data/22_289?startPeriod=2020" in str(info.value)
    assert info.value.location.source == "pop"
    assert "without --offline" in info.value.hint


def test_offline_get_serves_the_cached_answer(tmp_path):
    ctx = FetchContext.create(tmp_path / "c", offline=True, source="pop")
    ctx.cache.put("pop", "http://h/x?a=1", b"cached", meta={"url": "http://h/x?a=1"})
    assert ctx.get("http://h/x", params={"a": "1"}).read_bytes() == b"cached"


def test_get_uses_the_cache_and_refresh_fetches_again(tmp_path, server):
    server.routes["/d"] = [(200, {"Content-Type": "text/csv"}, b"v1"), (200, {}, b"v2")]
    http = HttpClient(rate_limits={}, sleep=lambda s: None)
    lines: list[str] = []
    ctx = FetchContext.create(tmp_path / "c", http=http, source="s", progress=lines.append)
    first = ctx.get(f"{server.url}/d")
    assert ctx.get(f"{server.url}/d").sha256 == first.sha256
    assert http.requests == 1 and lines == [f"GET {server.url}/d"]
    assert first.meta["status"] == "200" and first.media_type == "text/csv"
    refreshed = dataclasses.replace(ctx, refresh=True).get(f"{server.url}/d")
    assert refreshed.read_bytes() == b"v2" and http.requests == 2
    assert ctx.cache.lookup("s", f"{server.url}/d").read_bytes() == b"v2"


def test_a_failed_fetch_leaves_the_cache_untouched(tmp_path, server):
    server.routes["/d"] = [(500, {}, b"boom")]
    http = HttpClient(rate_limits={}, retries=0, sleep=lambda s: None)
    ctx = FetchContext.create(tmp_path / "c", http=http, source="s")
    with pytest.raises(FetchError):
        ctx.get(f"{server.url}/d")
    assert list(ctx.cache.entries()) == []


def test_the_sdk_is_light_to_import():
    import subprocess
    import sys

    code = (
        "import sys, welfare_observatory.sdk; "
        "print(sorted(m for m in ('pyarrow', 'pandas', 'sdmx', 'pint') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert welfare_observatory.__version__


def test_contexts_without_a_client_share_one_so_rate_limits_hold(tmp_path):
    first = FetchContext.create(tmp_path / "a")
    second = FetchContext.create(tmp_path / "b", offline=True)
    assert first.http is second.http
    assert first.http.limiter.limits["esploradati.istat.it"] == 5
