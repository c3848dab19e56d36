"""The conformance suite for sources, as plain check functions and a pytest base class.

A plugin author describes a few samples (options plus the files or recorded HTTP answers
the source reads) and inherits :class:`SourceConformance`::

    from welfare_observatory.testing import Sample, SourceConformance

    class TestMySource(SourceConformance):
        source_class = MySource
        samples = [Sample({"path": "beds.csv"}, files={"beds.csv": b"asl,beds\\n203,12\\n"})]
        invalid_options = [{"path": 3}]

Every check runs offline: files are written into a temporary observatory folder and
recorded answers are put in the cache, so ``fetch`` finds them without a network.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from welfare_observatory.errors import ConfigError, OfflineError, ParseError
from welfare_observatory.sdk import SOURCE_TYPE, FetchContext, Payload, Source, SourceOptions

__all__ = [
    "MALFORMED",
    "Recorded",
    "Sample",
    "SourceConformance",
    "check_deterministic",
    "check_empty_payload",
    "check_harmonizes",
    "check_invalid_options",
    "check_malformed_payloads",
    "check_source_class",
    "check_table",
    "fetch_context",
    "fetch_sample",
    "parse_or_parse_error",
    "recorded_responses",
]

MALFORMED: tuple[bytes, ...] = (
    b"\x00\x01\x02\xff\xfe binary garbage \x00",
    b"<html><body>502 Bad Gateway</body></html>",
    b"\xe0\xe8\xec not utf-8 \xf2\xf9",
    b'{"truncated": [1, 2',
    b"a;b;c\n1;2\n;;;;\n",
)
"""Payload bodies every source must answer with a table or a ParseError, never a crash."""


@dataclass(frozen=True)
class Recorded:
    """A recorded HTTP answer: the body (bytes or a file), its status and media type."""

    body: bytes | Path
    status: int = 200
    media_type: str = "application/octet-stream"


def recorded_responses(folder: Path) -> dict[str, Recorded]:
    """The answers ``welfare-observatory source record --into folder`` saved, by request key."""
    manifest = json.loads((Path(folder) / "recorded.json").read_text(encoding="utf-8"))
    return {
        entry["key"]: Recorded(
            Path(folder) / entry["file"],
            int(entry.get("status", 200)),
            entry.get("media_type", "application/octet-stream"),
        )
        for entry in manifest["responses"]
    }


@dataclass(frozen=True)
class Sample:
    """Options plus what the source reads: ``files`` (written into the observatory folder)
    and ``responses`` (request key, i.e. the URL with its query, -> recorded body)."""

    options: Mapping[str, Any]
    files: Mapping[str, bytes | Path] = field(default_factory=dict)
    responses: Mapping[str, bytes | Path | Recorded] = field(default_factory=dict)
    rows: int | None = None
    """When given, the total number of rows the sample parses to."""
    id: str = "sample"


def _bytes(value: bytes | Path) -> bytes:
    return value if isinstance(value, bytes) else Path(value).read_bytes()


def fetch_context(root: Path, *, source: str = "sample", offline: bool = True) -> FetchContext:
    """An offline context with its cache in ``root/cache`` and observatory ``root/obs``."""
    base = root / "obs"
    base.mkdir(parents=True, exist_ok=True)
    return FetchContext.create(root / "cache", source=source, base_dir=base, offline=offline)


def fetch_sample(source_class: type[Source], sample: Sample, root: Path) -> list[Payload]:
    """Write the sample's files, cache its responses and run ``fetch`` offline."""
    ctx = fetch_context(root, source=sample.id)
    assert ctx.base_dir is not None
    for name, content in sample.files.items():
        target = ctx.resolve(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_bytes(content))
    for key, response in sample.responses.items():
        answer = response if isinstance(response, Recorded) else Recorded(response)
        ctx.cache.put(
            sample.id,
            key,
            _bytes(answer.body),
            media_type=answer.media_type,
            meta={"url": key, "status": str(answer.status)},
        )
    source = source_class(sample.id, sample.options)
    payloads = source.fetch(ctx)
    assert isinstance(payloads, list) and payloads, "fetch must return a non-empty list"
    assert all(isinstance(p, Payload) for p in payloads), "fetch must return Payload objects"
    return payloads


def check_source_class(source_class: type[Source]) -> None:
    """The class declares a valid ``type``, an ``Options`` model and a description."""
    name = getattr(source_class, "type", None)
    assert isinstance(name, str) and SOURCE_TYPE.match(name), f"bad type name {name!r}"
    assert issubclass(source_class.Options, SourceOptions), "Options must subclass SourceOptions"
    assert source_class.Options.model_config.get("frozen"), "Options must stay frozen"
    assert source_class.Options.model_config.get("extra") == "forbid", "Options must forbid extras"
    assert source_class.description.strip(), "describe the source in one line"


def check_invalid_options(source_class: type[Source], options: Mapping[str, Any]) -> ConfigError:
    """Invalid options raise a ConfigError that names the source id."""
    try:
        source_class("bad_source", options)
    except ConfigError as exc:
        assert exc.location is not None and exc.location.source == "bad_source", exc
        return exc
    raise AssertionError(f"options {dict(options)!r} were accepted")


def check_table(table: object, code_columns: Sequence[str] = ()) -> pa.Table:
    """A pyarrow Table with unique column names, text columns as strings, no nested types."""
    assert isinstance(table, pa.Table), f"parse must return a pyarrow.Table, not {type(table)}"
    names = table.column_names
    assert len(set(names)) == len(names), f"duplicate column names in {names}"
    for f in table.schema:
        kind = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        scalar = (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_temporal(kind)
            or pa.types.is_decimal(kind)
        )
        assert scalar, f"column {f.name!r} has type {f.type}: use strings, numbers or dates"
    for name in code_columns:
        assert name in names, f"code column {name!r} is missing"
        kind = table.schema.field(name).type
        kind = kind.value_type if pa.types.is_dictionary(kind) else kind
        assert pa.types.is_string(kind) or pa.types.is_large_string(kind), (
            f"code column {name!r} is {kind}: read codes as strings (leading zeros)"
        )
    return table


def check_deterministic(source: Source, payload: Payload) -> pa.Table:
    """The same payload parses to equal tables, twice and with a fresh instance."""
    first = source.parse(payload)
    again = source.parse(payload)
    fresh = type(source)(source.id, source.options).parse(payload)
    assert first.equals(again, check_metadata=True), "parse is not deterministic"
    assert first.equals(fresh, check_metadata=True), "parse depends on instance state"
    return first


def _payload(root: Path, source_id: str, body: bytes, like: Payload | None) -> Payload:
    path = root / "malformed" / hashlib.sha256(body).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    meta = dict(like.meta) if like is not None else {}
    meta.pop("structure_sha256", None)
    meta.setdefault("status", "200")
    return Payload(
        source=source_id,
        key=like.key if like is not None else "file:malformed",
        sha256=hashlib.sha256(body).hexdigest(),
        path=path,
        media_type=like.media_type if like is not None else "application/octet-stream",
        meta=meta,
    )


def parse_or_parse_error(source: Source, payload: Payload) -> pa.Table | ParseError:
    """The parsed table (schema-checked) or the ParseError, which must name the source."""
    try:
        table = source.parse(payload)
    except ParseError as exc:
        assert exc.location is not None and exc.location.source == source.id, (
            f"ParseError must name the source id: {exc!r}"
        )
        return exc
    return check_table(table)


def check_empty_payload(source: Source, root: Path, like: Payload | None = None) -> None:
    """An empty payload gives a ParseError naming the source (or an empty table)."""
    result = parse_or_parse_error(source, _payload(root, source.id, b"", like))
    if isinstance(result, pa.Table):
        assert result.num_rows == 0, "an empty payload cannot produce rows"


def check_malformed_payloads(
    source: Source, root: Path, like: Payload | None = None, extra: Sequence[bytes] = ()
) -> None:
    """Garbage, HTML, wrong encodings and truncated bodies: a table or a ParseError."""
    bodies = [*MALFORMED, *extra]
    if like is not None:
        original = like.read_bytes()
        bodies += [original[: len(original) // 2], original[: max(1, len(original) // 5)]]
    for body in bodies:
        parse_or_parse_error(source, _payload(root, source.id, body, like))


def check_harmonizes(
    source: Source, payloads: Sequence[Payload], rules: str, codes: Any = None
) -> pa.Table:
    """The parsed payloads harmonize with ``rules`` (YAML of one or more rules) into
    canonical observations with no error finding; returns the canonical table."""
    from welfare_observatory.harmonize import CodeTable, harmonize, parse_rules
    from welfare_observatory.model import Severity

    table = pa.concat_tables([source.parse(p) for p in payloads], promote_options="permissive")
    code_table = codes if codes is not None else CodeTable.from_registry()
    out = []
    for rule in parse_rules(rules):
        result = harmonize(
            table,
            rule,
            codes=code_table,
            source=source.id,
            inputs=[p.sha256 for p in payloads],
            validate=True,
        )
        errors = [f for f in result.findings if f.severity is Severity.ERROR]
        assert not errors, f"harmonization errors: {[f.message for f in errors]}"
        assert result.table.num_rows > 0, "harmonization produced no observations"
        out.append(result.table)
    return pa.concat_tables(out, promote_options="permissive")


class SourceConformance:
    """Inherit in a ``Test...`` class; set ``source_class`` and ``samples``."""

    source_class: ClassVar[type[Source]]
    samples: ClassVar[Sequence[Sample]] = ()
    invalid_options: ClassVar[Sequence[Mapping[str, Any]]] = ()
    code_columns: ClassVar[Sequence[str]] = ()
    """Columns that must be strings in every parsed table (territory codes, ...)."""
    malformed: ClassVar[Sequence[bytes]] = ()
    """More bodies, beyond MALFORMED, the source must reject cleanly."""
    harmonize_rules: ClassVar[str | None] = None
    """YAML harmonization rule(s) for the first sample: when given, its tables must become
    canonical observations (against the shipped territory registry) with no error."""

    def _samples(self) -> Sequence[Sample]:
        assert self.samples, "give at least one Sample"
        return self.samples

    def test_source_class(self) -> None:
        check_source_class(self.source_class)

    def test_valid_options(self) -> None:
        for sample in self._samples():
            source = self.source_class(sample.id, sample.options)
            assert isinstance(source.options, self.source_class.Options)
            assert source.id == sample.id

    def test_invalid_options(self) -> None:
        unknown = {**self._samples()[0].options, "no_such_option_xyz": 1}
        for options in (*self.invalid_options, unknown):
            check_invalid_options(self.source_class, options)

    def test_fetch_and_parse(self, tmp_path: Path) -> None:
        for n, sample in enumerate(self._samples()):
            payloads = fetch_sample(self.source_class, sample, tmp_path / f"s{n}")
            source = self.source_class(sample.id, sample.options)
            rows = sum(check_table(source.parse(p), self.code_columns).num_rows for p in payloads)
            if sample.rows is not None:
                assert rows == sample.rows, f"{sample.id}: {rows} rows, expected {sample.rows}"

    def test_parse_is_deterministic(self, tmp_path: Path) -> None:
        for n, sample in enumerate(self._samples()):
            source = self.source_class(sample.id, sample.options)
            for payload in fetch_sample(self.source_class, sample, tmp_path / f"s{n}"):
                check_deterministic(source, payload)

    def test_offline_without_cache(self, tmp_path: Path) -> None:
        for n, sample in enumerate(s for s in self._samples() if s.responses):
            empty = Sample(sample.options, files=sample.files, id=sample.id)
            try:
                fetch_sample(self.source_class, empty, tmp_path / f"s{n}")
            except OfflineError as exc:
                assert exc.location is not None and exc.location.source == sample.id
            else:
                raise AssertionError("offline fetch without a cached answer must fail")

    def test_empty_payload(self, tmp_path: Path) -> None:
        sample = self._samples()[0]
        like = fetch_sample(self.source_class, sample, tmp_path / "fetch")[0]
        check_empty_payload(self.source_class(sample.id, sample.options), tmp_path, like)

    def test_parse_arbitrary_bytes(self, tmp_path: Path) -> None:
        from hypothesis import given, settings
        from hypothesis import strategies as st

        sample = self._samples()[0]
        like = fetch_sample(self.source_class, sample, tmp_path / "fetch")[0]
        source = self.source_class(sample.id, sample.options)

        @settings(max_examples=25, deadline=None, database=None)
        @given(st.binary(max_size=512))
        def parses_or_refuses(body: bytes) -> None:
            parse_or_parse_error(source, _payload(tmp_path, source.id, body, like))

        parses_or_refuses()

    def test_malformed_payloads(self, tmp_path: Path) -> None:
        sample = self._samples()[0]
        like = fetch_sample(self.source_class, sample, tmp_path / "fetch")[0]
        source = self.source_class(sample.id, sample.options)
        check_malformed_payloads(source, tmp_path, like, self.malformed)

    def test_harmonizes(self, tmp_path: Path) -> None:
        if self.harmonize_rules is None:
            import pytest

            pytest.skip("no harmonize_rules given")
        sample = self._samples()[0]
        payloads = fetch_sample(self.source_class, sample, tmp_path / "fetch")
        source = self.source_class(sample.id, sample.options)
        check_harmonizes(source, payloads, self.harmonize_rules)
