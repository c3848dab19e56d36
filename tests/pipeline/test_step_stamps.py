"""A rebuild takes an untouched step's digest from the note of the step files' stamps
(``build/step_stamps.py``) instead of reading and hashing its bytes up front; a step file
changed since it was noted is read and checked up front as before, and one changed after
the check is found when its rows are read: either way it is made again, never trusted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory._file_stamp import file_stamp
from welfare_observatory.build import derive
from welfare_observatory.build import sources as pipeline
from welfare_observatory.build.step_stamps import NAME, RECORDS, StepStamps

from .test_lazy_steps import _build, _change, _flip, _observatory, _step_of


def _hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The step files whose bytes are read and hashed from now on."""
    paths: list[str] = []
    real = pipeline._step_bytes

    def counted(path: str, sha256: str) -> Any:
        paths.append(Path(path).name)
        return real(path, sha256)

    monkeypatch.setattr(pipeline, "_step_bytes", counted)
    return paths


def _note(kb: Path) -> dict[str, list[Any]]:
    record = json.loads((kb / ".steps" / NAME).read_text(encoding="utf-8"))
    assert record["format"] == 1
    steps: dict[str, list[Any]] = record["steps"]
    return steps


@pytest.fixture
def noted(tmp_path: Path) -> tuple[Path, Path, Any]:
    """An observatory of three sources built twice: the second build notes every step (the
    first may leave out a step written within the clock's tick of its note)."""
    folder = _observatory(tmp_path / "obs")
    kb = tmp_path / "kb"
    first = _build(folder, kb)
    time.sleep(0.05)
    assert [s.status for s in _build(folder, kb).sources] == ["reused"] * 3
    return folder, kb, first


def test_the_note_holds_each_step_files_stamp_and_digest(noted: tuple[Path, Path, Any]) -> None:
    _folder, kb, first = noted
    steps = _note(kb)
    assert len(steps) == 3
    for source in ("first", "second", "third"):
        data = _step_of(kb, first, source)
        key = data.name.removesuffix(".arrows")
        record = json.loads(data.with_suffix(".json").read_text(encoding="utf-8"))
        assert steps[key] == [*file_stamp(data.stat()), record["sha256"]]
        assert record["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()


def test_a_rebuild_reads_no_unchanged_step_file(
    noted: tuple[Path, Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, kb, _first = noted
    _change(folder)
    hashed = _hashed(monkeypatch)
    opened = _opened(monkeypatch)
    report = _build(folder, kb)
    assert hashed == []
    # Nor any record file: the records come from the note (and the changed source's new
    # key was not in the folder).
    assert opened == []
    assert [s.status for s in report.sources] == ["reused", "ok", "reused"]
    monkeypatch.undo()
    fresh = _build(folder, tmp_path / "fresh")
    assert (report.build, report.observations) == (fresh.build, fresh.observations)
    # The step just written is noted too, once it is older than the note's clock.
    time.sleep(0.05)
    _build(folder, kb)
    assert len(_note(kb)) == 3


def test_a_step_file_changed_since_its_note_is_checked_and_made_again_up_front(
    noted: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, kb, first = noted
    step = _step_of(kb, first, "first")
    intact = step.read_bytes()
    _flip(step)
    _change(folder)
    hashed = _hashed(monkeypatch)
    report = _build(folder, kb)
    # Only the changed file is read (its stamp moved), its digest fails: made again, though
    # this rebuild takes its derived rows from the saved result.
    assert hashed == [step.name]
    assert [s.status for s in report.sources] == ["ok", "ok", "reused"]
    assert step.read_bytes() == intact


def test_a_step_file_changed_after_the_check_is_made_again_when_its_rows_are_read(
    noted: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, kb, first = noted
    step = _step_of(kb, first, "first")
    intact = step.read_bytes()
    # The saved derive results gone (the checks' findings kept): derive reads every
    # source's rows, after the sources ran.
    for result in (kb / ".steps").glob("derived-*"):
        shutil.rmtree(result)
    real = derive.derive_by_groups

    def damaged_first(*args: Any, **kwargs: Any) -> Any:
        _flip(step)  # after every source ran and its step was checked
        return real(*args, **kwargs)

    monkeypatch.setattr(derive, "derive_by_groups", damaged_first)
    report = _build(folder, kb)
    assert [s.status for s in report.sources] == ["ok", "reused", "reused"]
    assert report.build == first.build
    assert step.read_bytes() == intact


@pytest.mark.parametrize(
    "note",
    [
        b"not json",
        b'{"format": 2, "steps": {}}',
        b'{"format": 1, "steps": []}',
        b"[1, 2]",
    ],
)
def test_a_note_that_is_no_note_of_this_format_is_ignored(
    noted: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch, note: bytes
) -> None:
    folder, kb, _first = noted
    (kb / ".steps" / NAME).write_bytes(note)
    hashed = _hashed(monkeypatch)
    report = _build(folder, kb)
    assert len(hashed) == 3  # every step read and hashed, as without a note
    assert [s.status for s in report.sources] == ["reused"] * 3
    assert len(_note(kb)) == 3  # and noted again


def test_an_entry_of_the_wrong_shape_or_another_digest_is_not_taken(tmp_path: Path) -> None:
    data = tmp_path / "k.arrows"
    data.write_bytes(b"rows")
    stamp = file_stamp(data.stat())
    good = [*stamp, "a" * 64]
    (tmp_path / NAME).write_text(
        json.dumps(
            {
                "format": 1,
                "steps": {"k": good, "short": stamp, "text": [*map(str, stamp), "a" * 64]},
            }
        ),
        encoding="utf-8",
    )
    stamps = StepStamps.load(tmp_path, ".arrows")
    assert set(stamps.noted) == {"k"}
    assert stamps.digest("k", str(data)) == ("a" * 64, stamp)
    assert stamps.digest("k", str(tmp_path / "missing.arrows")) is None
    data.write_bytes(b"other")  # a new stamp: the noted digest is not its bytes'
    assert stamps.digest("k", str(data)) is None


def test_only_files_older_than_the_note_and_unchanged_since_seen_are_noted(
    tmp_path: Path,
) -> None:
    old, changed, young = (tmp_path / f"{k}.arrows" for k in ("old", "changed", "young"))
    for file in (old, changed):
        file.write_bytes(b"rows")
    stamps = StepStamps(tmp_path, ".arrows", {})
    stamps.saw("old", "a" * 64, file_stamp(old.stat()))
    stamps.saw("changed", "b" * 64, file_stamp(changed.stat()))
    time.sleep(0.05)
    changed.write_bytes(b"rows, changed since it was seen")
    young.write_bytes(b"rows")
    # As if written on the note's own tick: its times are not earlier than the note's clock.
    future = time.time_ns() + 10**10
    os.utime(young, ns=(future, future))
    stamps.saw("young", "c" * 64, file_stamp(young.stat()))
    stamps.saw("gone", "d" * 64, [1, 2, 3, 4, 5])
    stamps.save()
    assert StepStamps.load(tmp_path, ".arrows").noted == {
        "old": [*file_stamp(old.stat()), "a" * 64]
    }


def _records(kb: Path) -> dict[str, bytes]:
    """The records the note places in ``step-records.bin``, by step key."""
    index = json.loads((kb / ".steps" / NAME).read_text(encoding="utf-8"))["records"]
    blob = (kb / ".steps" / RECORDS).read_bytes()
    return {key: blob[at : at + size] for key, (at, size) in index.items()}


def _opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the sources' steps open from now on (records, and data files
    read to be hashed)."""
    names: list[str] = []

    def spy(path: str, *args: Any, **kwargs: Any) -> Any:
        names.append(Path(path).name)
        return open(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "open", spy, raising=False)
    return names


def test_the_note_holds_each_noted_steps_record_as_its_file_has_it(
    noted: tuple[Path, Path, Any],
) -> None:
    _folder, kb, _first = noted
    records = _records(kb)
    assert set(records) == set(_note(kb))
    for key, sealed in records.items():
        assert sealed == (kb / ".steps" / f"{key}.json").read_bytes()


def _damage_at(path: Path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["a byte", "cut short", "places swapped", "out of the file"])
def test_a_record_the_note_holds_damaged_or_misplaced_is_read_from_its_own_file(
    noted: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    folder, kb, first = noted
    steps = kb / ".steps"
    note = json.loads((steps / NAME).read_text(encoding="utf-8"))
    index = note["records"]
    keys = sorted(index)
    cut = 0
    if damage == "a byte":  # in a finding's or lineage step's text: it still parses
        at, size = index[keys[0]]
        _damage_at(steps / RECORDS, at + size - 40)
    elif damage == "cut short":
        blob = (steps / RECORDS).read_bytes()
        cut = len(blob) // 2
        (steps / RECORDS).write_bytes(blob[:cut])
    elif damage == "places swapped":  # each key given another step's sealed record
        index[keys[0]], index[keys[1]] = index[keys[1]], index[keys[0]]
    else:
        index[keys[0]] = [10**9, 10]
    (steps / NAME).write_text(json.dumps(note), encoding="utf-8")
    opened = _opened(monkeypatch)
    report = _build(folder, kb)
    assert [s.status for s in report.sources] == ["reused"] * 3
    assert report.build == first.build
    # Noted again as the files have them.
    assert _records(kb) == {k: (steps / f"{k}.json").read_bytes() for k in _note(kb)}
    expected = {
        "a byte": {keys[0]},
        "out of the file": {keys[0]},
        "places swapped": {keys[0], keys[1]},
        "cut short": {k for k in keys if sum(index[k]) > cut},
    }[damage]
    assert sorted(opened) == sorted(f"{key}.json" for key in expected)


def test_a_step_written_again_for_its_key_since_the_note_is_read_from_its_own_files(
    noted: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The note's record is sound but no longer describes the data file (the step written
    again for the same key, its record with it, by a build that never saved its note):
    the record's own file, which does, is read, and the step is reused."""
    folder, kb, first = noted
    data = _step_of(kb, first, "first")
    key = data.name.removesuffix(".arrows")
    record = pipeline._record_of(data.with_suffix(".json").read_bytes(), key)
    table = pipeline._decode(data.read_bytes())
    before = data.read_bytes()
    with monkeypatch.context() as m:
        m.setattr(pipeline, "_step_codec", lambda: None)  # other bytes: not compressed
        pipeline._save_step(
            kb / ".steps",
            key,
            table,
            list(record.findings),
            list(record.steps),
            record.rows_in,
            record.indicators,
        )
    assert data.read_bytes() != before
    opened = _opened(monkeypatch)
    report = _build(folder, kb)
    assert [s.status for s in report.sources] == ["reused"] * 3
    # Its data file hashed against the note's record, then against its own file's.
    assert opened == [data.name, f"{key}.json", data.name]
    assert report.build == first.build


def test_a_note_without_records_reads_every_record_from_its_file(
    noted: tuple[Path, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, kb, first = noted
    note = json.loads((kb / ".steps" / NAME).read_text(encoding="utf-8"))
    del note["records"]  # as an earlier library wrote it
    (kb / ".steps" / NAME).write_text(json.dumps(note), encoding="utf-8")
    opened = _opened(monkeypatch)
    hashed = _hashed(monkeypatch)
    report = _build(folder, kb)
    assert sorted(opened) == sorted(f"{key}.json" for key in note["steps"])
    assert hashed == []  # the stamps still vouch for the data files
    assert [s.status for s in report.sources] == ["reused"] * 3
    assert report.build == first.build
    assert set(_records(kb)) == set(note["steps"])  # noted again


def test_a_first_build_opens_no_step_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _observatory(tmp_path / "obs")
    opened = _opened(monkeypatch)
    report = _build(folder, tmp_path / "kb")
    assert opened == []
    assert [s.status for s in report.sources] == ["ok"] * 3


def test_a_record_file_the_note_does_not_list_is_opened_only_when_it_was_there(
    tmp_path: Path,
) -> None:
    (tmp_path / "present.json").write_bytes(b"{}")
    stamps = StepStamps.load(tmp_path, ".arrows")
    assert not stamps.absent("present.json") and stamps.absent("missing.json")
    assert StepStamps.load(tmp_path / "none", ".arrows").absent("present.json")
    assert not StepStamps(tmp_path, ".arrows", {}).absent("missing.json")  # not listed


@settings(max_examples=80, deadline=None)
@given(
    blob=st.binary(max_size=120),
    index=st.dictionaries(
        st.text(alphabet="abxyz", min_size=1, max_size=3),
        st.one_of(
            st.lists(st.integers(-5, 150), min_size=0, max_size=3),
            st.lists(st.booleans(), min_size=2, max_size=2),
            st.text(max_size=3),
            st.none(),
        ),
        max_size=6,
    ),
)
def test_the_records_given_back_are_the_places_the_index_gives_within_the_file(
    blob: bytes, index: dict[str, Any]
) -> None:
    import tempfile

    from welfare_observatory.build.step_stamps import _records

    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / RECORDS
        path.write_bytes(blob)
        got = _records(path, dict(index))
    expected = {
        key: blob[place[0] : place[0] + place[1]]
        for key, place in index.items()
        if isinstance(place, list)
        and len(place) == 2
        and all(type(n) is int for n in place)
        and min(place) >= 0
        and place[0] + place[1] <= len(blob)
    }
    assert got == expected
