"""The payload cache: content-addressed, indexed by request, atomic, never half-written."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.errors import FetchError
from welfare_observatory.sources.cache import Cache, atomic_write


def test_payloads_are_named_by_the_sha256_of_their_bytes(tmp_path):
    cache = Cache(tmp_path)
    payload = cache.put("pop", "http://h/data?x=1", b"a,b\n", media_type="text/csv")
    assert payload.sha256 == hashlib.sha256(b"a,b\n").hexdigest()
    assert payload.path == tmp_path / "objects" / payload.sha256[:2] / payload.sha256
    assert payload.read_bytes() == b"a,b\n"
    assert payload.source == "pop" and payload.media_type == "text/csv"


def test_a_lookup_returns_what_was_stored_with_its_meta(tmp_path):
    cache = Cache(tmp_path, clock=lambda: "2026-01-01T00:00:00Z")
    cache.put("pop", "k", b"x", meta={"url": "http://h/k", "status": "200"})
    found = Cache(tmp_path).lookup("pop", "k")
    assert found is not None
    assert dict(found.meta) == {
        "url": "http://h/k",
        "status": "200",
        "fetched_at": "2026-01-01T00:00:00Z",
    }
    assert found.url == "http://h/k" and found.status == 200


def test_time_lives_in_meta_never_in_the_identity(tmp_path):
    first = Cache(tmp_path / "a", clock=lambda: "2020-01-01T00:00:00Z").put("s", "k", b"same")
    second = Cache(tmp_path / "b", clock=lambda: "2030-01-01T00:00:00Z").put("s", "k", b"same")
    assert (first.sha256, first.key) == (second.sha256, second.key)


def test_answers_are_indexed_per_source_and_request(tmp_path):
    cache = Cache(tmp_path)
    cache.put("a", "k", b"one")
    cache.put("b", "k", b"two")
    assert cache.lookup("a", "k").read_bytes() == b"one"
    assert cache.lookup("b", "k").read_bytes() == b"two"
    assert cache.lookup("a", "other") is None
    assert sorted(p.source for p in cache.entries()) == ["a", "b"]
    assert {p.read_bytes() for p in cache.entries("a")} == {b"one"}


def test_identical_bytes_are_stored_once(tmp_path):
    cache = Cache(tmp_path)
    cache.put("a", "k1", b"same")
    cache.put("b", "k2", b"same")
    assert len(list((tmp_path / "objects").glob("*/*"))) == 1


def test_a_damaged_object_counts_as_absent(tmp_path):
    cache = Cache(tmp_path)
    payload = cache.put("a", "k", b"original")
    payload.path.write_bytes(b"tampered")
    assert cache.lookup("a", "k") is None
    payload.path.unlink()
    assert cache.lookup("a", "k") is None


def test_a_damaged_index_record_counts_as_absent(tmp_path):
    cache = Cache(tmp_path)
    cache.put("a", "k", b"x")
    [record] = (tmp_path / "index").glob("*/*.json")
    record.write_text("{not json")
    assert cache.lookup("a", "k") is None


def test_the_index_holds_no_header_or_secret(tmp_path):
    cache = Cache(tmp_path)
    cache.put("a", "http://h/x?apikey=env:KEY", b"x", meta={"url": "http://h/x?apikey=env:KEY"})
    [record] = (tmp_path / "index").glob("*/*.json")
    data = json.loads(record.read_text())
    assert set(data) == {"source", "key", "sha256", "media_type", "meta"}


def test_a_failed_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.bin"

    def chunks():
        yield b"first half"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, chunks())
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_a_failed_write_keeps_the_previous_version(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, [b"old"])

    def chunks():
        yield b"new but"
        raise OSError("interrupted")

    with pytest.raises(OSError):
        atomic_write(target, chunks())
    assert target.read_bytes() == b"old"


def test_local_files_are_streamed_into_the_cache(tmp_path):
    source = tmp_path / "big.csv"
    source.write_bytes(b"x" * (3 << 20))
    payload = Cache(tmp_path / "cache").put_file("s", "file:big.csv", source)
    assert payload.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert not list((tmp_path / "cache" / "objects" / "staging").iterdir())


def test_an_unreadable_local_file_is_a_fetch_error(tmp_path):
    with pytest.raises(FetchError, match="cannot read"):
        Cache(tmp_path / "cache").put_file("s", "file:x", tmp_path / "missing.csv")


@given(st.binary(max_size=2048), st.text(min_size=1, max_size=50))
def test_whatever_is_stored_is_read_back_unchanged(tmp_path_factory, data, key):
    cache = Cache(tmp_path_factory.mktemp("cache"))
    cache.put("s", key, data)
    found = cache.lookup("s", key)
    assert found is not None and found.read_bytes() == data and found.key == key


def test_entries_of_an_empty_cache_are_empty(tmp_path):
    assert list(Cache(Path(tmp_path) / "nothing").entries()) == []
