"""A source's saved step is an Arrow IPC stream (``build.sources._save_step``, issue 19): a
rebuild reads back the very table the source gave (its chunks and dictionaries too), and a
step file that is damaged, cut short, of the older Parquet format or without its record is
made again, never trusted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from welfare_observatory.build import sources as pipeline

from .test_step_writer import _inline, environment  # noqa: F401 (a fixture)


def _same(a: pa.Table, b: pa.Table) -> None:
    assert a.schema == b.schema
    assert a.equals(b)
    for x, y in zip(a.columns, b.columns, strict=True):
        assert [len(c) for c in x.chunks] == [len(c) for c in y.chunks]
        if pa.types.is_dictionary(x.type):
            assert [c.dictionary for c in x.chunks] == [c.dictionary for c in y.chunks]


def _steps(kb: Path) -> list[Path]:
    return sorted((kb / ".steps").glob("source-*.arrows"))


def test_a_reused_step_is_the_table_the_source_gave(environment: Any, tmp_path: Path) -> None:  # noqa: F811
    first = _inline(environment, tmp_path / "kb")
    again = _inline(environment, tmp_path / "kb")
    assert [o.report.status for o in again] == ["reused"] * 3
    for a, b in zip(first, again, strict=True):
        assert a.table is not None and b.table is not None
        _same(b.table, a.table)
        assert (b.findings, b.steps, b.report.rows_in) == (a.findings, a.steps, a.report.rows_in)
    assert len(_steps(tmp_path / "kb")) == 2  # "again" has the first source's key


def _damage(step: Path, how: str) -> None:
    record = step.with_suffix(".json")
    if how == "flipped":
        raw = bytearray(step.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        step.write_bytes(bytes(raw))
    elif how == "cut short":
        step.write_bytes(step.read_bytes()[:100])
    elif how == "no data":
        step.unlink()
    elif how == "no record":
        record.unlink()
    elif how == "record not json":
        record.write_text("{", encoding="utf-8")
    elif how == "not a stream":  # bytes the record vouches for, but no Arrow stream
        garbage = b"not an arrow stream"
        step.write_bytes(garbage)
        data = json.loads(record.read_text(encoding="utf-8"))
        data["sha256"] = hashlib.sha256(garbage).hexdigest()
        record.write_text(json.dumps(data), encoding="utf-8")
    elif how == "older parquet":  # a step of a version that wrote Parquet files
        table = ipc.open_stream(step.read_bytes()).read_all()
        target = step.with_suffix(".parquet")
        pq.write_table(table, target)
        data = json.loads(record.read_text(encoding="utf-8"))
        data["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
        record.write_text(json.dumps(data), encoding="utf-8")
        step.unlink()


@pytest.mark.parametrize(
    "how",
    [
        "flipped",
        "cut short",
        "no data",
        "no record",
        "record not json",
        "not a stream",
        "older parquet",
    ],
)
def test_a_damaged_step_is_made_again(environment: Any, tmp_path: Path, how: str) -> None:  # noqa: F811
    kb = tmp_path / "kb"
    first = _inline(environment, kb)
    for step in _steps(kb):
        _damage(step, how)
    again = _inline(environment, kb)
    # The first source's step is made again; the third, of the same key, reuses it.
    assert [o.report.status for o in again] == ["ok", "ok", "reused"]
    for a, b in zip(first, again, strict=True):
        assert a.table is not None and b.table is not None
        _same(b.table, a.table)
    assert [o.report.status for o in _inline(environment, kb)] == ["reused"] * 3


def test_a_step_is_read_back_without_compression_too(
    environment: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pyarrow without LZ4 writes plain buffers; the reader reads either."""
    kb = tmp_path / "kb"
    monkeypatch.setattr(pipeline, "_step_codec", lambda: None)
    first = _inline(environment, kb)
    monkeypatch.undo()
    again = _inline(environment, kb)
    assert [o.report.status for o in again] == ["reused"] * 3
    for a, b in zip(first, again, strict=True):
        assert a.table is not None and b.table is not None
        _same(b.table, a.table)
