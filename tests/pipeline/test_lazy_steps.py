"""A reused source's rows are decoded only when they are used (``build.sources.SavedTable``,
issue 19): a rebuild after one file changed decodes no unchanged source's rows, what it
needs of them comes from the steps' records, and a step found damaged, up front (its
digest) or when it is decoded at last, is made again, never trusted."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.build import derive
from welfare_observatory.build import sources as pipeline
from welfare_observatory.errors import SourceError
from welfare_observatory.observatory import load_observatory

from ._sealed import write_record
from ._tidy import tidy_observatory
from .test_step_writer import _inline, environment  # noqa: F401 (a fixture)


def _observatory(folder: Path) -> Path:
    """Three tidy sources of an indicator each."""
    return tidy_observatory(
        folder,
        {"first": 1, "second": 2, "third": 3},
        document="tests/pipeline/test_lazy_steps.py",
    )


def _change(folder: Path, value: str = "99.5") -> None:
    """One value of the second source's file changed (the first's is untouched)."""
    file = folder / "data" / "t2.csv"
    lines = file.read_text(encoding="utf-8").splitlines()
    head, *rest = lines[1].split(",")
    lines[1] = ",".join([head, rest[0], value])
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the steps whose rows are decoded from now on."""
    reads: list[int] = []
    real = pipeline._decode

    def counted(raw: bytes) -> pa.Table | None:
        reads.append(len(raw))
        return real(raw)

    monkeypatch.setattr(pipeline, "_decode", counted)
    return reads


def _build(folder: Path, kb: Path) -> Any:
    return load_observatory(folder).build(out=kb, offline=True).report


def _step_of(kb: Path, report: Any, source: str) -> Path:
    """The step file of ``source``: the one the first build wrote for its file."""
    (step,) = [
        p
        for p in (kb / ".steps").glob("source-*.json")
        if any(s["source"] == source for s in json.loads(p.read_text("utf-8"))["steps"])
    ]
    return step.with_suffix(".arrows")


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path, Any]:
    folder = _observatory(tmp_path / "obs")
    kb = tmp_path / "kb"
    return folder, kb, _build(folder, kb)


def test_a_rebuild_of_one_changed_file_reads_no_unchanged_steps_rows(
    built: tuple[Path, Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, kb, _first = built
    _change(folder)
    reads = _reads(monkeypatch)
    report = _build(folder, kb)
    assert reads == []
    assert [s.status for s in report.sources] == ["reused", "ok", "reused"]
    monkeypatch.undo()
    # The same edition as a build from scratch of the same files.
    fresh = _build(folder, tmp_path / "fresh")
    assert report.build == fresh.build
    assert report.observations == fresh.observations
    assert [s.model_copy(update={"status": "", "seconds": 0}) for s in report.sources] == [
        s.model_copy(update={"status": "", "seconds": 0}) for s in fresh.sources
    ]


def _flip(step: Path) -> None:
    raw = bytearray(step.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    step.write_bytes(bytes(raw))


def _garbage(step: Path) -> None:
    """Bytes of the step's size that its record vouches for, but no Arrow stream."""
    garbage = b"x" * step.stat().st_size
    step.write_bytes(garbage)
    record = step.with_suffix(".json")
    data = json.loads(record.read_text(encoding="utf-8"))
    data["sha256"] = hashlib.sha256(garbage).hexdigest()
    write_record(record, data)


def _forget_derived(kb: Path) -> None:
    """The saved derive results and check findings gone: every source's rows are read."""
    for path in (kb / ".steps").iterdir():
        if path.name.startswith("derived-"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    (kb / ".steps" / "checks.json").unlink()


@pytest.mark.parametrize("damage", [_flip, _garbage])
def test_a_damaged_step_is_made_again_when_found_up_front_or_late(
    built: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch, damage: Any
) -> None:
    """Flipped bytes fail the digest as the step is loaded; bytes its record vouches for
    that are no Arrow stream are found only when derive decodes them, after every source
    ran: either way the source is made again, with the same result."""
    folder, kb, first = built
    step = _step_of(kb, first, "first")
    intact = step.read_bytes()
    damage(step)
    _forget_derived(kb)
    reads = _reads(monkeypatch)
    again = _build(folder, kb)
    assert reads  # every source's rows are derived again
    assert again.build == first.build
    assert again.observations == first.observations
    assert [s.status for s in again.sources] == ["ok", "reused", "reused"]
    assert step.read_bytes() == intact
    assert [s.status for s in _build(folder, kb).sources] == ["reused"] * 3


def test_a_step_that_fails_its_digest_is_made_again_even_when_its_rows_are_not_needed(
    built: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, kb, first = built
    _flip(_step_of(kb, first, "first"))
    _change(folder)
    reads = _reads(monkeypatch)
    changed = _build(folder, kb)
    assert reads == []
    assert [s.status for s in changed.sources] == ["ok", "ok", "reused"]


def test_a_step_that_does_not_decode_is_made_again_when_its_rows_are_needed(
    built: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild that keeps the step's derived rows never decodes it (nor trusts it); one
    that needs its rows later makes it again."""
    folder, kb, first = built
    _garbage(_step_of(kb, first, "first"))
    _change(folder)
    reads = _reads(monkeypatch)
    changed = _build(folder, kb)
    assert reads == []
    assert [s.status for s in changed.sources] == ["reused", "ok", "reused"]
    _forget_derived(kb)
    again = _build(folder, kb)
    assert again.build == changed.build
    assert [s.status for s in again.sources] == ["ok", "reused", "reused"]


def test_a_damaged_step_made_again_as_another_table_stops_the_build(
    built: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the build took from the record must hold for the table made again; when it
    does not (a plugin that parses the same bytes differently), the build stops with the
    source named rather than mix the two."""
    folder, kb, first = built
    _garbage(_step_of(kb, first, "first"))
    _forget_derived(kb)
    real = pipeline._parse_and_harmonize

    def other(*args: Any) -> Any:
        table, findings, steps, rows_in = real(*args)
        return table.slice(1), findings, steps, rows_in

    monkeypatch.setattr(pipeline, "_parse_and_harmonize", other)
    with pytest.raises(SourceError, match="'first'"):
        _build(folder, kb)


def test_a_saved_table_pickles_as_its_rows(built: tuple[Path, Path, Any]) -> None:
    """An executor's worker sends a reused source's rows, not a reference to its disk."""
    _folder, kb, first = built
    step = _step_of(kb, first, "first")
    loaded = pipeline._load_step(step.parent, step.stem)
    assert loaded is not None
    saved = loaded[0]
    assert isinstance(saved, pipeline.SavedTable)
    table = pickle.loads(pickle.dumps(saved))
    assert isinstance(table, pa.Table)
    assert table.equals(saved.load())
    assert saved.describes(table)


def test_a_saved_table_without_a_way_to_make_it_again_is_an_error(
    built: tuple[Path, Path, Any],
) -> None:
    _folder, kb, first = built
    step = _step_of(kb, first, "first")
    loaded = pipeline._load_step(step.parent, step.stem)
    assert loaded is not None and isinstance(loaded[0], pipeline.SavedTable)
    loaded[0].raw = b"x" * len(loaded[0].raw)
    assert loaded[0].read() is None
    # The bytes held are damaged, the file is not: the table is read again from it.
    assert loaded[0].describes(loaded[0].load())
    _garbage(step)
    with pytest.raises(SourceError, match="damaged"):
        loaded[0].load()


def test_a_step_cut_short_is_made_again_before_any_source_is_used(
    built: tuple[Path, Path, Any],
) -> None:
    """A step of another size than its record says is found up front, as before."""
    folder, kb, first = built
    step = _step_of(kb, first, "first")
    step.write_bytes(step.read_bytes()[:100])
    assert pipeline._load_step(step.parent, step.stem) is None
    again = _build(folder, kb)
    assert [s.status for s in again.sources] == ["ok", "reused", "reused"]
    assert again.build == first.build


_VALUES = st.one_of(st.none(), st.sampled_from(["A", "B", "017001", "x"]))


@st.composite
def _tables(draw: Any) -> pa.Table:
    """Tables of the columns a record describes, plain or dictionary-encoded, in chunks,
    with missing values and unused dictionary entries."""
    chunks = draw(st.lists(st.lists(_VALUES, max_size=6), min_size=1, max_size=3))
    columns = {}
    for name in ("indicator", "territory", "lineage"):
        pieces = []
        for values in chunks:
            plain = pa.array(values, pa.string())
            if draw(st.booleans()):
                extra = draw(st.lists(st.sampled_from(["A", "unused"]), max_size=2))
                dictionary = pa.array(sorted({*(v for v in values if v), *extra}), pa.string())
                indices = [None if v is None else dictionary.to_pylist().index(v) for v in values]
                pieces.append(
                    pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), dictionary)
                )
            else:
                pieces.append(plain)
        if len({p.type for p in pieces}) > 1:
            pieces = [p.cast(pa.string()) if pa.types.is_dictionary(p.type) else p for p in pieces]
        columns[name] = pa.chunked_array(pieces)
    return pa.table(columns)


@settings(max_examples=80, deadline=None)
@given(table=_tables())
def test_what_a_record_says_of_a_table_is_what_derive_finds_in_it(table: pa.Table) -> None:
    """Derive's indicator groups and scope read a saved table's record instead of its rows:
    the same indicators, territories, lineage ids and columns."""
    shape = pipeline._shape(table, 0)
    saved = pipeline.SavedTable(b"", shape, pipeline._indicators(table))
    assert derive._given(saved) == derive._given(table)
    for column in ("territory", "lineage", "indicator"):
        assert derive._union([saved], column) == derive._union([table], column)
        assert saved.distinct(column) == tuple(pipeline.distinct(table, column))
    assert derive.breakdown_names([saved]) == derive.breakdown_names([table])
    assert saved.num_rows == table.num_rows
    assert saved.describes(table)


def test_the_check_keys_assembled_are_the_digests_of_what_they_stand_for(
    environment: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``build.validate._keys`` assembles each key's canonical JSON from parts made once;
    the digests are :func:`_key`'s of the whole value (the findings cache keeps its
    entries), also for a source of an indicator the environment does not define."""
    from welfare_observatory.build import validate

    outputs = _inline(environment, tmp_path / "kb")
    registry = environment.checks
    common = {
        "checks": [(c, registry.owner(c)) for c in registry if c != "schema"],
        "versions": dict(sorted(environment.versions.items())),
        "territory": environment.config.territory.model_dump(mode="json"),
        "min_events": environment.config.reliability.min_events,
    }
    unknown = dataclasses.replace(
        outputs[0],
        report=outputs[0].report.model_copy(update={"indicators": ("T_IND_2", "NOT_DEFINED")}),
    )
    for checked in (outputs, [unknown]):
        assert validate._keys(checked, environment, common) == {
            o.report.id: validate._key(o, environment.indicators, common) for o in checked
        }
