"""A rebuild takes the payload digests of a source that fetches only local files from the
note of the last build (``.steps/fetched.json``) while its options and files are unchanged:
no source object, no fetch. Whatever could make the note wrong makes the source fetch: a
changed file or option, a file reached through a link, a file changed just before it was
read, a fetch that returned something else than the files it read, a step that cannot be
used, ``--refresh``, a damaged note."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from welfare_observatory.build import fetch_note
from welfare_observatory.observatory import load_observatory
from welfare_observatory.sdk import FetchContext, Payload, hookimpl
from welfare_observatory.sources import manager, table
from welfare_observatory.sources.table import TableSource
from welfare_observatory.store.knowledge_base import KnowledgeBase

from ._sealed import write_record
from ._tidy import tidy_observatory


def _observatory(folder: Path) -> Path:
    """Two tidy sources, ``s1`` and ``s2``, of one indicator each."""
    return tidy_observatory(
        folder, {"s1": 1, "s2": 2}, document="tests/pipeline/test_fetch_note.py"
    )


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as still at once (a test's files were all written just now)."""
    monkeypatch.setattr(fetch_note, "_SETTLED_NS", -(10**12))


def spied(monkeypatch: pytest.MonkeyPatch, source_type: type) -> list[str]:
    """The ids of the sources of ``source_type`` whose fetch runs, in order."""
    calls: list[str] = []
    real = source_type.fetch

    def spy(self: Any, ctx: FetchContext) -> list[Payload]:
        calls.append(self.id)
        return real(self, ctx)

    monkeypatch.setattr(source_type, "fetch", spy)
    return calls


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the table sources whose fetch ran, in order."""
    return spied(monkeypatch, TableSource)


def build(folder: Path, kb: Path, **options: Any) -> Any:
    return load_observatory(folder).build(out=kb, offline=True, **options)


def values(result: Any) -> list[Any]:
    """The build's observations, in the edition's order."""
    table: pa.Table = KnowledgeBase(result.knowledge_base).to_arrow()
    return sorted(
        zip(
            table.column("indicator").to_pylist(),
            table.column("territory").to_pylist(),
            table.column("period").to_pylist(),
            table.column("value").to_pylist(),
            strict=True,
        )
    )


def rewrite(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_a_rebuild_of_unchanged_files_fetches_nothing_and_builds_the_same(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    folder = _observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2"]
    note = json.loads((tmp_path / "kb" / ".steps" / "fetched.json").read_text(encoding="utf-8"))
    assert sorted(note["sources"]) == ["s1", "s2"]
    again = build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2"]  # no fetch the second time
    assert [s.status for s in again.report.sources] == ["reused", "reused"]
    assert again.report.build == first.report.build
    assert values(again) == values(first)


def test_a_changed_file_is_fetched_and_its_new_values_built(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    folder = _observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    rewrite(folder / "data" / "t2.csv", "2022,017003,22.5", "2022,017003,99.5")
    again = build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2", "s2"]
    assert ("T_IND_2", "017003", "2022", 99.5) in values(again)
    assert values(again) == values(build(folder, tmp_path / "fresh"))


def test_no_file_is_read_ahead_for_a_source_the_note_shows_unchanged(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a changed source parses, the next source's file is read ahead only when that
    source changed too: an unchanged one is taken from the note and its step."""
    monkeypatch.setattr(table, "_AHEAD_BYTES", (0, 1 << 26))  # these small files too
    ahead: list[str] = []
    real = table.read_ahead_job

    def spy(options: Any, folder: Any) -> Any:
        ahead.append(options["path"])
        return real(options, folder)

    monkeypatch.setattr(table, "read_ahead_job", spy)
    folder = _observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    assert ahead == ["data/t2.csv"]  # s2's file, while s1 parsed
    rewrite(folder / "data" / "t1.csv", "2022,017003,12.5", "2022,017003,98.5")
    again = build(folder, tmp_path / "kb")
    assert [s.status for s in again.report.sources] == ["ok", "reused"]
    assert ahead == ["data/t2.csv"]
    rewrite(folder / "data" / "t1.csv", "98.5", "97.5")
    rewrite(folder / "data" / "t2.csv", "2022,017003,22.5", "2022,017003,99.5")
    build(folder, tmp_path / "kb")
    assert ahead == ["data/t2.csv"] * 2
    # s2's file unchanged, its definition not: its step is missed, so it is read ahead.
    rewrite(folder / "data" / "t1.csv", "97.5", "96.5")
    rewrite(folder / "indicators" / "own.yaml", "Indicator 2", "Indicator two")
    again = build(folder, tmp_path / "kb")
    assert [s.status for s in again.report.sources] == ["ok", "ok"]
    assert ahead == ["data/t2.csv"] * 3


def test_changed_options_are_fetched(tmp_path: Path, settled: None, fetched: list[str]) -> None:
    folder = _observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    shutil.copy(folder / "data" / "t1.csv", folder / "data" / "other.csv")
    rewrite(folder / "observatory.yaml", "path: data/t1.csv", "path: data/other.csv")
    build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2", "s1"]


def test_a_file_reached_through_a_link_is_fetched_every_build(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    # A link may be pointed elsewhere without the file it pointed to changing.
    folder = _observatory(tmp_path / "obs")
    (folder / "data" / "t1.csv").rename(folder / "data" / "real1.csv")
    (folder / "data" / "t1.csv").symlink_to("real1.csv")
    shutil.copy(folder / "data" / "t2.csv", folder / "data" / "real2.csv")
    build(folder, tmp_path / "kb")
    (folder / "data" / "t1.csv").unlink()
    (folder / "data" / "t1.csv").symlink_to("real2.csv")
    again = build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2", "s1"]
    assert values(again) == values(build(folder, tmp_path / "fresh"))


def test_a_file_changed_just_before_it_was_read_is_fetched_again(
    tmp_path: Path, fetched: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its stamp might not show a change made within the clock's resolution. (Every file
    # here changed within the window: a day, so that a slow machine changes nothing.)
    monkeypatch.setattr(fetch_note, "_SETTLED_NS", 86_400 * 10**9)
    folder = _observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    note = json.loads((tmp_path / "kb" / ".steps" / "fetched.json").read_text(encoding="utf-8"))
    assert note["sources"] == {}
    build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2", "s1", "s2"]


def test_a_note_that_is_not_one_is_ignored(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    folder = _observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    note = tmp_path / "kb" / ".steps" / "fetched.json"
    for damaged in (b"not json", b"[]", b'{"head": 1}', b"[" * 100_000):
        note.write_bytes(damaged)
        again = build(folder, tmp_path / "kb")
        assert again.report.build == first.report.build
    assert fetched == ["s1", "s2"] * 5


def test_an_entry_of_the_wrong_shape_is_fetched(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    folder = _observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    note = tmp_path / "kb" / ".steps" / "fetched.json"
    record = json.loads(note.read_text(encoding="utf-8"))
    inputs, hashes, files = record["sources"]["s1"]
    for entry in (
        [inputs, hashes],
        [inputs, [], files],
        [inputs, [1], files],
        [inputs, hashes, []],
        [inputs, hashes, [[files[0][0]]]],
        [inputs, hashes, [[files[0][0], "stamp"]]],
        [inputs, hashes, [[str(tmp_path / "missing.csv"), files[0][1]]]],
        ["other inputs", hashes, files],
    ):
        record["sources"]["s1"] = entry
        note.write_text(json.dumps(record), encoding="utf-8")
        again = build(folder, tmp_path / "kb")
        assert again.report.build == first.report.build
    assert fetched == ["s1", "s2"] + ["s1"] * 8


def test_a_noted_source_whose_step_is_gone_is_fetched_and_made_again(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    folder = _observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    for step in (tmp_path / "kb" / ".steps").glob("source-*"):
        step.unlink()
    again = build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2", "s1", "s2"]
    assert [s.status for s in again.report.sources] == ["ok", "ok"]
    assert values(again) == values(first)


def test_a_refresh_fetches_every_source(tmp_path: Path, settled: None, fetched: list[str]) -> None:
    folder = _observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    build(folder, tmp_path / "kb", refresh=True)
    build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2", "s1", "s2"]


class _Unpromised(TableSource):
    """A table source that does not say its fetch reads only local files."""

    type: ClassVar[str] = "unpromised"
    local_files_only: ClassVar[bool] = False


class _Stored(TableSource):
    """Says it reads only local files, but returns other bytes than the file's."""

    type: ClassVar[str] = "stored"
    local_files_only: ClassVar[bool] = True

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        [read] = super().fetch(ctx)
        data = read.read_bytes() + b"\n"  # a blank line more: the same table
        return [ctx.cache.put(ctx.source, "stored", data, media_type="text/csv")]


class _Latest(TableSource):
    """A fetch of its own (the newest file of the folder) that does not promise again."""

    type: ClassVar[str] = "latest"

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        assert self.options.path is not None
        folder = ctx.resolve(self.options.path).parent
        newest = max(folder.glob("t*.csv"), key=lambda p: p.name)
        return [ctx.read_file(f"data/{newest.name}")]


@pytest.mark.parametrize("source_type", [_Unpromised, _Stored, _Latest])
def test_a_fetch_that_is_not_only_files_read_runs_every_build(
    tmp_path: Path, settled: None, monkeypatch: pytest.MonkeyPatch, source_type: type
) -> None:
    calls = spied(monkeypatch, source_type)

    class Plugin:
        @hookimpl
        def register_sources(self, register: Any) -> None:
            register(source_type)

    real_init = manager.Plugins.__init__

    def init(self: Any, **kwargs: Any) -> None:
        real_init(self, **{**kwargs, "plugins": (*kwargs.get("plugins", ()), Plugin())})

    monkeypatch.setattr(manager.Plugins, "__init__", init)
    folder = _observatory(tmp_path / "obs")
    yaml = folder / "observatory.yaml"
    rewrite(yaml, "  s2:\n    type: table", f"  s2:\n    type: {source_type.type}")
    first = build(folder, tmp_path / "kb")
    again = build(folder, tmp_path / "kb")
    assert calls == ["s2", "s2"]
    assert [s.status for s in again.report.sources] == ["reused", "reused"]
    assert again.report.build == first.report.build


def test_the_note_is_of_this_observatory_folder(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    # A copy of the observatory elsewhere has files of its own, whatever their stamps.
    folder = _observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    copy = shutil.copytree(folder, tmp_path / "copy")
    rewrite(copy / "data" / "t1.csv", "2022,017001,10.5", "2022,017001,77.5")
    old = os.stat(folder / "data" / "t1.csv")
    os.utime(copy / "data" / "t1.csv", ns=(old.st_atime_ns, old.st_mtime_ns))
    again = build(copy, tmp_path / "kb")
    assert fetched == ["s1", "s2", "s1", "s2"]
    assert ("T_IND_1", "017001", "2022", 77.5) in values(again)


def test_a_build_of_some_sources_keeps_the_others_noted(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    folder = _observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    build(folder, tmp_path / "kb", only=["s2"])
    build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2"]


def test_an_out_of_core_build_notes_its_sources_too(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    from welfare_observatory.build.orchestrator import build as build_with
    from welfare_observatory.build.strategies.out_of_core_build import OutOfCore

    folder = _observatory(tmp_path / "obs")
    observatory = load_observatory(folder)
    first = build_with(observatory, out=tmp_path / "kb", offline=True, layout=OutOfCore())
    again = build_with(observatory, out=tmp_path / "kb", offline=True, layout=OutOfCore())
    assert fetched == ["s1", "s2"]
    assert again.report.build == first.report.build


def test_a_noted_source_whose_step_fails_when_decoded_is_fetched_then(
    tmp_path: Path, settled: None, fetched: list[str]
) -> None:
    # Bytes its record vouches for that are no Arrow stream: found only when derive reads
    # the rows, after the sources ran; the source taken from the note is fetched then.
    folder = _observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    steps = tmp_path / "kb" / ".steps"
    [step] = [
        p
        for p in steps.glob("source-*.arrows")
        if json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))["indicators"]
        == ["T_IND_1"]
    ]
    garbage = b"x" * step.stat().st_size
    step.write_bytes(garbage)
    record = json.loads(step.with_suffix(".json").read_text(encoding="utf-8"))
    record["sha256"] = hashlib.sha256(garbage).hexdigest()
    write_record(step.with_suffix(".json"), record)
    for saved in steps.glob("derived-*"):
        shutil.rmtree(saved)
    (steps / "checks.json").unlink()
    again = build(folder, tmp_path / "kb")
    assert fetched == ["s1", "s2", "s1"]
    assert [s.status for s in again.report.sources] == ["ok", "reused"]
    assert values(again) == values(first)


def test_a_fetch_that_read_a_file_through_a_link_is_not_noted_whatever_else_it_read(
    tmp_path: Path, settled: None
) -> None:
    # The same bytes through a link and by a plain path: the link's target is never stamped.
    note = fetch_note.FetchNote(tmp_path / "fetched.json", {}, {})
    plain = tmp_path / "plain.csv"
    plain.write_text("x\n", encoding="utf-8")
    payload = Payload("s", "file:plain.csv", "abc", plain, "text/csv", {})
    reads = [(payload, str(plain), os.stat(plain)), (payload, str(plain), None)]
    note.note("s", "inputs", ("abc",), [payload], reads, begun=time.time_ns())
    assert note.current == {}
    note.note("s", "inputs", ("abc",), [payload], reads[:1], begun=time.time_ns())
    assert list(note.current) == ["s"]


def test_a_file_changed_shortly_before_the_fetch_began_is_not_noted(tmp_path: Path) -> None:
    # The clock is the fetch's start, not the note's: a slow fetch does not settle its files.
    note = fetch_note.FetchNote(tmp_path / "fetched.json", {}, {})
    path = tmp_path / "data.csv"
    path.write_text("x\n", encoding="utf-8")
    status = os.stat(path)
    payload = Payload("s", "file:data.csv", "abc", path, "text/csv", {})
    changed = max(status.st_mtime_ns, status.st_ctime_ns)
    begun = changed + fetch_note._SETTLED_NS  # not yet still long enough
    note.note("s", "inputs", ("abc",), [payload], [(payload, str(path), status)], begun=begun)
    assert note.current == {}
    later = begun + 1
    note.note("s", "inputs", ("abc",), [payload], [(payload, str(path), status)], begun=later)
    assert list(note.current) == ["s"]
