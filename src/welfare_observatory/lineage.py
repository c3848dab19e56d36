"""Lineage per step: deterministic step ids, step records and ``explain``.

A step (a source's fetch, parse or harmonize; a derivation; a reconciliation) gets an id
computed only from what determines its output: its kind, the ids of its inputs (payload
hashes or earlier step ids), the digest of its parameters (canonical JSON of the rule
models or the formula) and the library and plugin versions. Timestamps, host names and
executor details never enter an id, so the same build gives the same ids anywhere, and a
step whose id did not change can be reused.

Rows of a canonical table point at their step through the ``lineage`` column. The graph is
a list of :class:`StepRecord` (JSON- and Arrow-serializable) plus an optional row index
(``indicator, territory, period, lineage``) so that :func:`explain` can start from a
published value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field

from welfare_observatory.errors import UnknownIdError
from welfare_observatory.model.common import Frozen

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "LineageGraph",
    "StepNode",
    "StepRecord",
    "UnknownStepError",
    "canonical_json",
    "digest",
    "explain",
    "short_parameters",
    "step_id",
    "table_digest",
]

_ID_LENGTH = 16
"""Hex characters kept from the sha256 (64 bits: collisions are negligible per edition)."""


class UnknownStepError(UnknownIdError):
    kind = "lineage step"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace: the same value, the same text."""
    return _CANONICAL_JSON.encode(value)


_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` made
once: ``dumps`` builds this encoder anew on every call, and a rebuild of 160 sources makes
over a thousand digests (its steps' keys, the fetch note's, the definitions')."""

_STRICT_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
""":data:`_CANONICAL_JSON` refusing a float that is not finite (a lineage table encodes
about 650 mappings)."""


def _json_text(record: StepRecord, name: str) -> str:
    """The canonical JSON of a record's mapping field as ``model_dump(mode="json")`` gives
    it. The mapping already holds JSON values (``StepRecord.create`` and the records read
    back make it so) and is serialised as it is; anything else (a date, a float that is
    not finite) goes through pydantic's serialisation as before."""
    try:
        return _STRICT_JSON.encode(getattr(record, name))
    except (TypeError, ValueError):
        return canonical_json(record.model_dump(mode="json")[name])


def digest(value: Any) -> str:
    """sha256 (hex) of the canonical JSON of ``value`` (rules, formulas, parameters)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def table_digest(table: pa.Table) -> str:
    """sha256 (hex) of a table's Arrow IPC stream: identical tables give identical digests."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def step_id(
    kind: str,
    inputs: Iterable[str],
    parameters: Any,
    versions: Mapping[str, str] | None = None,
) -> str:
    """The deterministic id of a step, e.g. ``harmonize-3f2a9c...``.

    Inputs are sorted (their order does not change what the step computes); ``versions``
    maps distribution names to versions (the library's is added when missing).
    """
    return _identity(kind, sorted(inputs), digest(parameters), _with_library(versions))


def _with_library(versions: Mapping[str, str] | None) -> dict[str, str]:
    """``versions`` with the library's own (added when missing)."""
    from welfare_observatory._version import __version__

    return {"welfare-observatory": __version__, **dict(versions or {})}


def _identity(
    kind: str, inputs: list[str], parameters_digest: str, versions: dict[str, str]
) -> str:
    """A step's id from its kind, sorted inputs, parameters' digest and versions."""
    payload = {
        "kind": kind,
        "inputs": inputs,
        "parameters": parameters_digest,
        "versions": versions,
    }
    return f"{kind}-{digest(payload)[:_ID_LENGTH]}"


class StepRecord(Frozen):
    """One step of the lineage graph."""

    id: str
    kind: str
    """``fetch``, ``parse``, ``harmonize``, ``derive``, ``aggregate``, ``reconcile``..."""
    inputs: tuple[str, ...] = ()
    """Step ids or raw payload hashes (``sha256:...``) this step read."""
    parameters_digest: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    """The parameters themselves (rules, formula) as JSON, for explanations."""
    versions: dict[str, str] = Field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    """Digests of the tables the step wrote, when known."""
    source: str | None = None

    @classmethod
    def create(
        cls,
        kind: str,
        inputs: Sequence[str],
        parameters: Any,
        *,
        versions: Mapping[str, str] | None = None,
        outputs: Sequence[str] = (),
        source: str | None = None,
    ) -> StepRecord:
        """A record whose id is :func:`step_id` of the same arguments."""
        all_versions = _with_library(versions)
        # The parameters' canonical text once (a source's rules: every source pays this).
        text = canonical_json(parameters)
        params = json.loads(text)
        parameters_digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        ordered = sorted(inputs)
        return cls(
            id=_identity(kind, ordered, parameters_digest, all_versions),
            kind=kind,
            inputs=tuple(ordered),
            parameters_digest=parameters_digest,
            parameters=params if isinstance(params, dict) else {"value": params},
            versions=all_versions,
            outputs=tuple(outputs),
            source=source,
        )


class StepNode(Frozen):
    """One step with the steps it read, as a tree (siblings side by side, not chained)."""

    id: str
    kind: str
    source: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    """Parameters as short text: long values are replaced by a size and a digest."""
    inputs: tuple[StepNode, ...] = ()
    raw: tuple[str, ...] = ()
    """Inputs that are not steps: raw payload hashes (``sha256:...``)."""


def short_parameters(parameters: Mapping[str, Any], limit: int = 60) -> dict[str, str]:
    """Parameters as text of at most about ``limit`` characters each.

    A longer value (a list of 140 indicator ids, a regular expression) becomes its size and
    the first 12 hex characters of its digest, e.g. ``[140 items] sha256:3f2a9c0d1e2f``:
    enough to tell two steps apart without flooding the screen.
    """
    short: dict[str, str] = {}
    for name, value in sorted(parameters.items()):
        text = value if isinstance(value, str) else canonical_json(value)
        if len(text) <= limit:
            short[name] = text
            continue
        if isinstance(value, list):
            size = f"[{len(value)} items]"
        elif isinstance(value, dict):
            size = f"{{{len(value)} keys}}"
        else:
            size = f"[{len(text)} chars]"
        short[name] = f"{size} sha256:{digest(value)[:12]}"
    return short


class LineageGraph:
    """Step records keyed by id, plus an index from observations to the step that made them."""

    def __init__(self, records: Iterable[StepRecord] = ()) -> None:
        self._records: dict[str, StepRecord] = {}
        self._rows: list[pa.Table] = []
        for record in records:
            self.add(record)

    def add(self, record: StepRecord) -> StepRecord:
        """Add a record; adding the same id twice keeps the first (steps are deterministic)."""
        self._records.setdefault(record.id, record)
        return self._records[record.id]

    def add_rows(self, table: pa.Table) -> None:
        """Index the (indicator, territory, period) -> lineage pairs of a canonical table."""
        import pyarrow as pa

        columns = ["indicator", "territory", "period", "lineage"]
        subset = table.select(columns)
        subset = subset.cast(pa.schema([(name, pa.string()) for name in columns]))
        self._rows.append(subset.group_by(columns).aggregate([]))

    def __contains__(self, step: object) -> bool:
        return step in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, step: str) -> StepRecord:
        try:
            return self._records[step]
        except KeyError:
            raise UnknownStepError(step, candidates=self._records) from None

    def step_ids(self) -> list[str]:
        """The ids of the graph's steps, sorted (what a build id digests), without
        serialising a record."""
        return sorted(self._records)

    def to_records(self) -> list[dict[str, Any]]:
        """The graph as a list of JSON-ready dicts, sorted by id."""
        return [self._records[key].model_dump(mode="json") for key in sorted(self._records)]

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> LineageGraph:
        return cls(StepRecord.model_validate(record) for record in records)

    def to_arrow(self) -> pa.Table:
        """One row per step; ``parameters`` and ``versions`` as canonical JSON text."""
        import pyarrow as pa

        rows = [self._records[key] for key in sorted(self._records)]
        # Many steps share one versions mapping: each distinct one is serialised once.
        versions: dict[tuple[tuple[str, str], ...], str] = {}

        def versions_text(record: StepRecord) -> str:
            key = tuple(record.versions.items())
            if key not in versions:
                versions[key] = _json_text(record, "versions")
            return versions[key]

        return pa.table(
            {
                "id": [r.id for r in rows],
                "kind": [r.kind for r in rows],
                "inputs": pa.array([list(r.inputs) for r in rows], pa.list_(pa.string())),
                "parameters_digest": [r.parameters_digest for r in rows],
                "parameters": [_json_text(r, "parameters") for r in rows],
                "versions": [versions_text(r) for r in rows],
                "outputs": pa.array([list(r.outputs) for r in rows], pa.list_(pa.string())),
                "source": pa.array([r.source for r in rows], pa.string()),
            }
        )

    def rows(self) -> pa.Table:
        """The observation index (indicator, territory, period, lineage), deduplicated."""
        import pyarrow as pa

        if not self._rows:
            return pa.table({n: pa.array([], pa.string()) for n in _ROW_COLUMNS})
        return pa.concat_tables(self._rows).group_by(list(_ROW_COLUMNS)).aggregate([])

    def chain(self, step: str) -> list[StepRecord]:
        """``step`` and every step upstream of it, breadth first, each once."""
        seen: dict[str, StepRecord] = {}
        queue = [step]
        while queue:
            current = queue.pop(0)
            if current in seen or current not in self._records:
                continue
            record = self._records[current]
            seen[current] = record
            queue.extend(record.inputs)
        if step not in seen:
            raise UnknownStepError(step, candidates=self._records)
        return list(seen.values())

    def tree(
        self, step: str, *, parameters: Mapping[str, str] | None = None, limit: int = 60
    ) -> StepNode:
        """``step`` with its inputs as a tree; each upstream step appears under its reader.

        ``parameters`` replaces the step's own (shortened) parameters, e.g. with the one
        formula of a derivation that made a given value.
        """
        record = self.get(step)

        def node(current: StepRecord, params: Mapping[str, str] | None) -> StepNode:
            steps = [self._records[i] for i in current.inputs if i in self._records]
            return StepNode(
                id=current.id,
                kind=current.kind,
                source=current.source,
                parameters=dict(params)
                if params is not None
                else short_parameters(current.parameters, limit),
                inputs=tuple(node(s, None) for s in steps),
                raw=tuple(i for i in current.inputs if i not in self._records),
            )

        return node(record, parameters)

    def raw_inputs(self, step: str) -> list[str]:
        """Inputs of the chain that are not steps of the graph: raw payload hashes."""
        chain = self.chain(step)
        return sorted({i for record in chain for i in record.inputs if i not in self._records})


_ROW_COLUMNS = ("indicator", "territory", "period", "lineage")


def explain(graph: LineageGraph, indicator: str, territory: str, period: str) -> list[StepRecord]:
    """The chain of steps behind one published value, from the step that made it down to fetch.

    The raw payload hashes the chain starts from are the inputs of its last records that are
    not steps themselves (see :meth:`LineageGraph.raw_inputs`).
    """
    import pyarrow.compute as pc

    rows = graph.rows()
    mask = pc.and_(
        pc.and_(pc.equal(rows["indicator"], indicator), pc.equal(rows["territory"], territory)),
        pc.equal(rows["period"], period),
    )
    steps = sorted(str(s) for s in rows.filter(mask)["lineage"].to_pylist())
    if not steps:
        raise UnknownStepError(
            f"{indicator}/{territory}/{period}",
            message=f"no observation {indicator} for {territory} in {period} in the lineage graph",
            hint="index the canonical tables with LineageGraph.add_rows() before explaining",
        )
    chain: dict[str, StepRecord] = {}
    for step in steps:
        for record in graph.chain(step):
            chain.setdefault(record.id, record)
    return list(chain.values())
