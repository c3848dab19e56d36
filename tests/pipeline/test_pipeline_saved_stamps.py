"""When a build is over, it notes beside its saved result each data file's full stamp
(device, inode, size, modification and change times) with its sha256 (``stamps.json``).
The next build's early check then takes an untouched file's digest from the note instead
of reading its bytes (a rebuild at 4x hashed about 300 MB), and checks the structure of its
table, where a file it hashes is checked whole. Any change to a file's bytes or links gives
it a new change time, so a file touched since is hashed and checked whole as before, and
refused when its bytes differ."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_derive_groups import build, edition, make_grouped_observatory
from test_pipeline_incremental import change_last_value

from welfare_observatory._file_stamp import file_stamp
from welfare_observatory.build import reuse

from ._sealed import write_record


def _newest(kb: Path) -> Path:
    return max((kb / ".steps").glob("derived-*"), key=lambda p: p.stat().st_mtime_ns)


def _built(tmp_path: Path) -> tuple[Path, Path]:
    """An observatory built into ``tmp_path / "kb"``, and the result its build saved."""
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    return folder, _newest(tmp_path / "kb")


def _sums(folder: Path) -> dict[str, str]:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in meta["sha256"].items()}


def _noted(folder: Path) -> dict[str, list[object]]:
    loaded = json.loads((folder / "stamps.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _as_saved(folder: Path) -> dict[str, tuple[str, list[int] | None]]:
    """What saving the result gives of its files now (their sha256 and full stamps)."""
    return {name: (sha, file_stamp((folder / name).stat())) for name, sha in _sums(folder).items()}


def _note_again(folder: Path) -> None:
    """Note the result's stamps once its files are older than the file system's clock tick
    (up to 3 s, for a file system that keeps times in whole seconds)."""
    deadline = time.monotonic() + 3
    while True:
        time.sleep(0.05)
        reuse.record_stamps(folder.parent, folder.name.removeprefix("derived-"), _as_saved(folder))
        if set(_noted(folder)) == set(_sums(folder)) or time.monotonic() > deadline:
            return


def _hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files :func:`reuse._file_sha256` reads from now."""
    seen: list[Path] = []
    real = reuse._file_sha256

    def counted(path: Path) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(reuse, "_file_sha256", counted)
    return seen


def _checked_early(steps: Path) -> dict[str, reuse._SavedFile]:
    reuse.check_saved_early(steps)
    files = dict(reuse._EARLY)
    for file in files.values():
        file.done.wait()
    return {path.name: file for path, file in files.items()}


def _in_place(file: Path) -> None:
    """One byte of ``file`` flipped in place, its size and modification time as they were:
    only its change time tells."""
    status = file.stat()
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with file.open("r+b") as handle:
        handle.write(bytes(data))
    os.utime(file, ns=(status.st_atime_ns, status.st_mtime_ns))


def test_a_build_notes_its_saved_files_with_their_digests(tmp_path: Path) -> None:
    _, saved = _built(tmp_path)
    sums = _sums(saved)
    noted = _noted(saved)
    # Files written in the very tick of the noting are left out (hashed next time).
    assert set(noted) <= set(sums)
    _note_again(saved)
    noted = _noted(saved)
    assert set(noted) == set(sums)
    for name, value in noted.items():
        status = (saved / name).stat()
        assert value == [
            status.st_size,
            status.st_mtime_ns,
            status.st_ctime_ns,
            status.st_ino,
            status.st_dev,
            sums[name],
        ]


def test_the_next_build_reads_no_untouched_file_and_builds_the_same_edition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, saved = _built(tmp_path)
    _note_again(saved)
    hashed = _hashed(monkeypatch)
    try:
        checked = _checked_early(tmp_path / "kb" / ".steps")
        assert checked and hashed == []
        sums = _sums(saved)
        assert all(f.intact(sums[name]) for name, f in checked.items())
    finally:
        reuse.forget_saved()
    change_last_value(folder / "data" / "t_health_b.csv")
    again = build(folder, tmp_path / "kb")
    # Only the files this rebuild wrote anew were hashed, none of those it read.
    assert hashed and not [p for p in hashed if p.parent == saved]
    assert edition(again) == edition(build(folder, tmp_path / "fresh"))


def test_a_noted_file_is_checked_for_structure_and_a_hashed_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An untouched file's bytes are those its build wrote from tables it held, which pass
    the whole check: reading every byte again is left to files the note does not vouch
    for (a 4x rebuild's early check spent about 100 ms of a core on it)."""
    _, saved = _built(tmp_path)
    _note_again(saved)
    touched = next(n for n in sorted(_noted(saved)) if n.startswith("observations"))
    os.utime(saved / touched)  # a new change time: hashed again
    wholly: list[bool] = []
    real = reuse._validated

    def seen(table: pa.Table, *, whole: bool) -> None:
        wholly.append(whole)
        real(table, whole=whole)

    monkeypatch.setattr(reuse, "_validated", seen)
    hashed = _hashed(monkeypatch)
    try:
        checked = _checked_early(tmp_path / "kb" / ".steps")
        sums = _sums(saved)
        assert all(f.intact(sums[name]) for name, f in checked.items())
    finally:
        reuse.forget_saved()
    assert hashed == [saved / touched]
    assert len(checked) > 1 and len(wholly) == len(checked)
    assert wholly.count(True) == 1


def test_a_file_changed_in_place_since_its_note_is_hashed_and_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its size and modification time set back: its change time still moved."""
    folder, saved = _built(tmp_path)
    _note_again(saved)
    name = next(n for n in sorted(_noted(saved)) if n.startswith("observations"))
    _in_place(saved / name)
    hashed = _hashed(monkeypatch)
    try:
        checked = _checked_early(tmp_path / "kb" / ".steps")
        assert hashed == [saved / name]
        assert not checked[name].intact(_sums(saved)[name])
    finally:
        reuse.forget_saved()
    lines: list[str] = []
    from welfare_observatory.observatory import load_observatory

    result = load_observatory(folder).build(
        out=tmp_path / "kb", offline=True, progress=lines.append
    )
    assert not any("results reused" in line for line in lines)
    assert edition(result) == edition(build(folder, tmp_path / "fresh"))


def test_a_file_whose_times_are_not_before_the_note_is_left_out(tmp_path: Path) -> None:
    """A time at or after the noting (here set ahead) could be the tick of a change to
    come: such a file is not noted."""
    _, saved = _built(tmp_path)
    name = sorted(_sums(saved))[0]
    ahead = time.time_ns() + 3_600 * 10**9
    os.utime(saved / name, ns=(ahead, ahead))
    _note_again(saved)
    noted = _noted(saved)
    assert name not in noted
    assert set(noted) == set(_sums(saved)) - {name}


def test_a_file_changed_after_it_was_saved_is_not_noted(tmp_path: Path) -> None:
    """Changed in place between its saving and the note (its modification time set back):
    its change time moved, so it is left out, and the next build reads and refuses it."""
    _, saved = _built(tmp_path)
    as_saved = _as_saved(saved)
    name = next(n for n in sorted(as_saved) if n.startswith("observations"))
    _in_place(saved / name)
    time.sleep(0.05)
    reuse.record_stamps(saved.parent, saved.name.removeprefix("derived-"), as_saved)
    assert name not in _noted(saved)
    try:
        checked = _checked_early(tmp_path / "kb" / ".steps")
        assert not checked[name].intact(_sums(saved)[name])
    finally:
        reuse.forget_saved()


def test_saving_gives_the_full_stamps_of_the_files_it_wrote_or_linked(tmp_path: Path) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_health_b.csv")
    lines: list[str] = []
    from welfare_observatory.observatory import load_observatory

    load_observatory(folder).build(out=tmp_path / "kb", offline=True, progress=lines.append)
    saved = _newest(tmp_path / "kb")
    linked = [n for n in _sums(saved) if (saved / n).stat().st_nlink > 1]
    assert linked, "a rebuild links the files whose rows did not change"
    time.sleep(0.05)
    # What the build noted is every file's stamp as it is now, with the meta's digest.
    noted = _noted(saved)
    for name, value in noted.items():
        assert value == [*file_stamp((saved / name).stat()), _sums(saved)[name]]


@pytest.mark.parametrize(
    "note",
    [
        b"not JSON",
        b"[1, 2]",
        b'{"observations.arrow": [1, 2, 3]}',
        b'{"observations.arrow": ["a", "b", "c", "d", "e", "f"]}',
    ],
)
def test_an_unreadable_note_is_ignored_and_every_file_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, note: bytes
) -> None:
    _, saved = _built(tmp_path)
    (saved / "stamps.json").write_bytes(note)
    hashed = _hashed(monkeypatch)
    try:
        checked = _checked_early(tmp_path / "kb" / ".steps")
        assert sorted(p.name for p in hashed) == sorted(checked)
        sums = _sums(saved)
        assert all(f.intact(sums[name]) for name, f in checked.items())
    finally:
        reuse.forget_saved()


def test_a_note_whose_digest_is_not_the_metas_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, saved = _built(tmp_path)
    _note_again(saved)
    noted = _noted(saved)
    name = sorted(noted)[0]
    noted[name][5] = "0" * 64
    (saved / "stamps.json").write_text(json.dumps(noted), encoding="utf-8")
    hashed = _hashed(monkeypatch)
    try:
        checked = _checked_early(tmp_path / "kb" / ".steps")
        assert hashed == [saved / name]
        assert checked[name].intact(_sums(saved)[name])
    finally:
        reuse.forget_saved()


def _other_values_in_place(file: Path) -> None:
    """``file`` rewritten in place with the bytes of a table of other values (as valid, as
    long), its modification time set back: neither its size nor that time tells."""
    status = file.stat()
    table = reuse._mapped(file)
    spare = file.with_name("spare.arrow")
    reuse._write_arrow(table.set_column(0, "v", pa.array([-1.0] * table.num_rows)), spare)
    data = spare.read_bytes()
    spare.unlink()
    assert len(data) == status.st_size
    with file.open("r+b") as handle:
        handle.write(data)
    os.utime(file, ns=(status.st_atime_ns, status.st_mtime_ns))


def _result(folder: Path, count: int) -> dict[str, str]:
    """A saved result of ``count`` small Arrow files (just what the check reads)."""
    folder.mkdir(parents=True)
    sums = {}
    for i in range(count):
        name = f"t{i}.analysis.arrow"
        reuse._write_arrow(pa.table({"v": pa.array([float(i), 1.0, 2.0])}), folder / name)
        sums[name] = reuse._file_sha256(folder / name)
    meta = {"layout": reuse._LAYOUT, "sha256": sums}
    write_record(folder / "meta.json", meta)
    return sums


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changed=st.lists(st.booleans(), min_size=1, max_size=6), noted=st.booleans())
def test_the_check_with_notes_refuses_what_hashing_refuses(
    tmp_path_factory: pytest.TempPathFactory, changed: list[bool], noted: bool
) -> None:
    """Whatever files changed in place after the note (or with no note at all), each
    file's verdict is the one hashing it gives: intact exactly when untouched."""
    steps = tmp_path_factory.mktemp("steps")
    folder = steps / "derived-k"
    sums = _result(folder, len(changed))
    if noted:
        _note_again(folder)
        assert set(_noted(folder)) == set(sums)
    for name, change in zip(
        sorted(sums, key=lambda n: int(n[1:].split(".")[0])), changed, strict=True
    ):
        if change:
            _other_values_in_place(folder / name)
    files = [
        reuse._SavedFile(
            folder / n, reuse._stamp(folder / n), reuse._recorded_stamps(folder, sums).get(n)
        )  # type: ignore[arg-type]
        for n in sums
    ]
    reuse._check(files)
    for file in files:
        untouched = reuse._file_sha256(file.path) == sums[file.path.name]
        assert file.intact(sums[file.path.name]) == untouched
