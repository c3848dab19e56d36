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
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.build import sources as pipeline

from ._outputs import offline_context
from ._sealed import write_record
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
    assert len(_steps(tmp_path / "kb")) == 3  # "again" has a step of its own


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
    elif how == "indicators not a list":
        data = json.loads(record.read_text(encoding="utf-8"))
        data["indicators"] = 5
        record.write_text(json.dumps(data), encoding="utf-8")
    elif how == "a finding damaged":
        data = json.loads(record.read_text(encoding="utf-8"))
        data["findings"] = [{"code": "x"}]
        record.write_text(json.dumps(data), encoding="utf-8")
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
        "indicators not a list",
        "a finding damaged",
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
    assert [o.report.status for o in again] == ["ok"] * 3
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


def test_a_record_lists_the_indicators_of_its_table(environment: Any, tmp_path: Path) -> None:  # noqa: F811
    """A reused source's report lists what the table holds, read off its record."""
    kb = tmp_path / "kb"
    first = _inline(environment, kb)
    for step in _steps(kb):
        table = ipc.open_stream(step.read_bytes()).read_all()
        record = json.loads(step.with_suffix(".json").read_text(encoding="utf-8"))
        assert record["indicators"] == list(pipeline.distinct(table, "indicator"))
    again = _inline(environment, kb)
    assert [o.report.indicators for o in again] == [o.report.indicators for o in first]
    assert all(o.report.indicators for o in again)


def test_a_record_without_indicators_is_reused(
    environment: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The indicators are optional in a record (older versions wrote none): the table is
    read to list them."""
    kb = tmp_path / "kb"
    first = _inline(environment, kb)
    for step in _steps(kb):
        record = step.with_suffix(".json")
        data = json.loads(record.read_text(encoding="utf-8"))
        del data["indicators"]
        write_record(record, data)
    again = _inline(environment, kb)
    assert [o.report.status for o in again] == ["reused"] * 3
    assert [o.report for o in again] == [
        o.report.model_copy(update={"status": "reused", "seconds": b.report.seconds})
        for o, b in zip(first, again, strict=True)
    ]


@pytest.mark.parametrize("how", ["unsealed", "a lineage step changed", "a count changed"])
def test_a_record_not_as_sealed_is_made_again(
    environment: Any,  # noqa: F811
    tmp_path: Path,
    how: str,
) -> None:
    """A record is sealed with the digest of its bytes: one written without a seal (an
    older version's) or changed since while still well-formed JSON (a rule's column in its
    lineage, its count of rows read) is never reused: its source is made again, as it was."""
    kb = tmp_path / "kb"
    first = _inline(environment, kb)
    for step in _steps(kb):
        record = step.with_suffix(".json")
        text = record.read_text(encoding="utf-8")
        if how == "unsealed":
            data = json.loads(text)
            del data["record_sha256"]
            text = json.dumps(data)
        elif how == "a lineage step changed":
            text = text.replace('"GeoCode"', '"GeoCodf"', 1)
        else:
            rows_in = json.loads(text)["rows_in"]
            text = text.replace(f'"rows_in": {rows_in}', f'"rows_in": {rows_in + 1}', 1)
        assert text != record.read_text(encoding="utf-8")
        json.loads(text)  # still well-formed
        record.write_text(text, encoding="utf-8")
    again = _inline(environment, kb)
    assert [o.report.status for o in again] == ["ok"] * 3
    for a, b in zip(first, again, strict=True):
        assert (b.findings, b.steps, b.report.rows_in) == (a.findings, a.steps, a.report.rows_in)
        assert a.table is not None and b.table is not None
        _same(b.table, a.table)


def test_a_record_read_in_one_pass_is_the_one_read_field_by_field(
    environment: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``model_validate_json`` of the record gives what ``json.loads`` and each model's
    ``model_validate`` gave before."""
    from welfare_observatory.lineage import StepRecord
    from welfare_observatory.model.finding import Finding

    kb = tmp_path / "kb"
    _inline(environment, kb)
    for step in _steps(kb):
        text = step.with_suffix(".json").read_bytes()
        data = json.loads(text)
        record = pipeline._saved_record().model_validate_json(text)
        assert list(record.findings) == [Finding.model_validate(f) for f in data["findings"]]
        assert list(record.steps) == [StepRecord.model_validate(s) for s in data["steps"]]
        assert [s.model_dump(mode="json") for s in record.steps] == data["steps"]
        assert (record.rows_in, record.sha256) == (data["rows_in"], data["sha256"])


@settings(max_examples=60, deadline=None)
@given(
    message=st.text(),
    optional=st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=6, max_size=6),
    row=st.one_of(st.none(), st.integers(0, 10**9)),
    count=st.integers(1, 10**6),
    severity=st.sampled_from(["error", "warning", "info"]),
)
def test_findings_read_in_one_pass_are_the_ones_read_field_by_field(
    message: str, optional: list[str | None], row: int | None, count: int, severity: str
) -> None:
    from welfare_observatory.model.finding import Finding

    hint, source, indicator, territory, period, column = optional
    finding = Finding(
        code="outlier",
        severity=severity,
        message=message,
        hint=hint,
        source=source,
        indicator=indicator,
        territory=territory,
        period=period,
        column=column,
        row=row,
        count=count,
    )
    text = json.dumps(
        {
            "key": "source-0",
            "findings": [finding.model_dump(mode="json")],
            "steps": [],
            "rows_in": 1,
            "sha256": "",
        }
    )
    record = pipeline._saved_record().model_validate_json(text)
    assert list(record.findings) == [Finding.model_validate(json.loads(text)["findings"][0])]
    assert list(record.findings) == [finding]


def test_a_source_reaches_the_build_client_through_its_context(
    environment: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The client is made when a source first asks for it: the shared one, rate limits and
    all (a build of local files only does not import the HTTP machinery for it)."""
    from welfare_observatory.sources.http import shared_client

    context = offline_context(environment, tmp_path / "kb")
    fetching = pipeline._fetch_context(context, "first")
    assert fetching.http._client is None
    assert fetching.http.limiter is shared_client().limiter
    assert fetching.http.get.__self__ is shared_client()


def test_a_step_this_pyarrow_cannot_read_is_made_again(
    environment: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A .steps folder shared with a build whose pyarrow lacks the step's codec: the read
    raises ArrowNotImplementedError (not an OSError nor a ValueError); the step is made
    again, not a crash."""
    kb = tmp_path / "kb"
    first = _inline(environment, kb)

    def unreadable(*args: object, **kwargs: object) -> object:
        raise pa.ArrowNotImplementedError("Support for codec 'lz4' not built")

    monkeypatch.setattr(ipc, "open_stream", unreadable)
    again = _inline(environment, kb)
    # No step can be read: each source is parsed again.
    assert [o.report.status for o in again] == ["ok"] * 3
    for a, b in zip(first[:2], again[:2], strict=True):
        assert a.table is not None and b.table is not None
        _same(b.table, a.table)
