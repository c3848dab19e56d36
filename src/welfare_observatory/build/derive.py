"""The derive stage, a pure function over Arrow tables.

``derive_stage`` (overrides, reconciliation, rates, aggregates); analyze follows in
``build.analyze`` and store in ``build.store``. The orchestrator calls them in order;
another strategy can call them per partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from welfare_observatory._arrow import distinct as _distinct
from welfare_observatory._arrow import plain
from welfare_observatory.derive._parts import FindingPart, combine, nested
from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.lineage import StepRecord
from welfare_observatory.model.common import Frozen
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.observation import (
    BASE_COLUMNS,
    unify_breakdowns,
)

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

    from welfare_observatory.build.environment import BuildEnvironment
    from welfare_observatory.build.sources import SavedTable
    from welfare_observatory.config import TerritorySettings
    from welfare_observatory.model import Indicator

__all__ = [
    "DeriveOutput",
    "DeriveScope",
    "derive_stage",
    "derive_with_coverage",
    "plain",
    "unify_breakdowns",
]

_LEVEL_ORDER = ("district", "province", "region", "nuts1", "country")

Runs = dict[str, list[tuple[int, int]]]
"""Per group key, the ``(start, stop)`` ranges of its rows in a table."""


@dataclass(frozen=True)
class DeriveOutput:
    """What the derive stage produces: observations, findings, lineage steps, coverage."""

    observations: pa.Table
    findings: list[Finding]
    steps: list[StepRecord]
    coverage: pa.Table | None = None
    """Per aggregate: indicator, territory, period, breakdowns, members, reported, coverage."""
    parts: list[FindingPart] | None = None
    """``findings`` per indicator (:mod:`welfare_observatory.derive._parts`); None when
    some cannot be split so (conflicts between sources)."""
    groups: dict[str, list[str]] | None = None
    """Per indicator group (:func:`indicator_groups`), its key and its indicators."""
    changes: pa.Table | None = None
    """The code changes reconciled (``derive.code_changes``), when recorded."""
    known_prints: dict[str, str] | None = None
    """When a rebuild took some indicators' rows unchanged (lineage too) from the last
    result: their fingerprints (:func:`~welfare_observatory.build.reuse.fingerprints`), as
    that result recorded them; ``unknown_rows`` holds every other row."""
    unknown_rows: pa.Table | None = None
    runs: tuple[Runs, Runs | None] | None = None
    """Per group key, the runs of its rows in ``observations`` and in ``coverage``, when
    derive put them in group order (a rebuild): what :func:`group_runs` would find."""


class DeriveScope(Frozen):
    """Build-wide facts the derive steps are recorded from: the lineage ids, territories and
    indicators of the build's whole canonical input.

    The derive steps' ids (and so the ``lineage`` of derived rows and the build id) are made
    of these rather than of the rows at hand, so a partition of an out-of-core build records
    exactly the steps of the whole build in memory.
    """

    inputs: tuple[str, ...]
    territories: tuple[str, ...]
    indicators: tuple[str, ...]

    @classmethod
    def of(cls, table: pa.Table) -> DeriveScope:
        return cls(
            inputs=tuple(_distinct(table, "lineage")),
            territories=tuple(_distinct(table, "territory")),
            indicators=tuple(_distinct(table, "indicator")),
        )

    @property
    def municipal(self) -> bool:
        """True when the input has municipal rows (codes of six digits): derive aggregates."""
        return any(len(t) == 6 for t in self.territories)


def derive_stage(
    tables: Sequence[pa.Table], env: BuildEnvironment, scope: DeriveScope | None = None
) -> tuple[pa.Table, list[Finding], list[StepRecord]]:
    """:func:`derive_with_coverage` without the coverage table (for per-partition runs)."""
    out = derive_with_coverage(tables, env, scope)
    return out.observations, out.findings, out.steps


def derive_with_coverage(
    tables: Sequence[pa.Table],
    env: BuildEnvironment,
    scope: DeriveScope | None = None,
    *,
    changes: pa.Table | None = None,
) -> DeriveOutput:
    """Reconcile codes to the reference date, apply overrides, derive rates and aggregates
    (districts, the levels up to the observatory's territory, declared groupings); keep the
    selected indicators and the operands their formulas need.

    ``scope`` describes the whole build when ``tables`` are one partition of it (default:
    ``tables`` are the whole build); ``changes`` is ``code_changes`` of its territories
    when the caller has it (a rebuild keeps it: it depends on the territories only)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.derive import aggregate, code_changes, derive_rates, reconcile
    from welfare_observatory.derive._common import on_values
    from welfare_observatory.derive.aggregation import aggregated_input
    from welfare_observatory.derive.releases import resolve_releases, source_ranks
    from welfare_observatory.derive.reliability import mark_low_reliability

    indicators, selection, reference = env.indicators, env.selection, env.reference

    # Findings are kept as parts per indicator and combined (derive._parts), releases'
    # first.
    parts: list[FindingPart] = []
    steps: list[StepRecord] = []
    coverage: pa.Table | None = None
    observed = unify_breakdowns(tables)
    if observed.num_rows == 0:
        return DeriveOutput(_with_domain(observed, indicators), [], steps, parts=parts)
    # The build's input, before releases are decided: a partition's (read from the sorted
    # file) and a derive by groups' (of the sources' tables) are that too, so the steps'
    # ids do not depend on which way derive ran, nor on a source whose every value lost.
    scope = scope or DeriveScope.of(observed)
    # The ranks are made only when two sources share an indicator, from the sidecars the
    # build read once (the key of its saved result digests the same bytes).
    resolved = resolve_releases(
        observed, _Ranks(lambda: source_ranks(env.config, env.folder, env.sidecars))
    )
    observed = resolved.table
    parts += nested(resolved.parts, 1)

    reg = env.territories
    # Each derive step reads the build's input and every step before it.
    before = list(scope.inputs)
    if changes is None:
        changes = code_changes(list(scope.territories), reference, reg)
    if changes.num_rows:
        result = reconcile(observed, changes, indicators, inputs=before)
        observed = unify_breakdowns([result.table])
        parts += nested(result.parts, 2)
        if result.step is not None:
            steps.append(result.step)
            before.append(result.step.id)

    observed, override_step, n_overrides = _apply_overrides(observed, env.overrides, indicators)
    if override_step is not None:
        steps.append(override_step)
        before.append(override_step.id)

    hierarchy, levels = _hierarchy(env.config.territory, reg, reference)
    if levels and scope.municipal:
        six = on_values(observed.column("territory"), lambda v: pc.equal(pc.utf8_length(v), 6))
        municipal = aggregated_input(observed, indicators, six)
        # Run on a partition without municipal rows too: the step is the build's, the same
        # in every partition; its rows are none.
        aggregated = aggregate(
            municipal, indicators, hierarchy, levels=levels, inputs=before, published=observed
        )
        parts += nested(aggregated.parts, 3)
        if aggregated.step is not None:
            steps.append(aggregated.step)
            before.append(aggregated.step.id)
        if pc.any(six).as_py():
            coverage = aggregated.coverage
            observed = _union_published_first(observed, aggregated.table)

    # Only the rates the edition keeps: the selection and the operands it needs (a rate
    # nobody selected would only add findings about data nobody asked for).
    wanted = {i.id for i in selection}
    for indicator in selection:
        if indicator.formula is not None:
            wanted |= {indicator.formula.numerator, indicator.formula.denominator}
    rates = derive_rates(
        observed,
        indicators,
        targets=sorted(w for w in wanted if w in indicators),
        inputs=before,
        present={*scope.indicators, *_distinct(observed, "indicator")},
    )
    parts += nested(rates.parts, 4)
    if rates.step is not None:
        steps.append(rates.step)
    observed = _union_published_first(observed, rates.table)

    kept = pa.array(sorted(wanted), pa.string())
    keep = on_values(observed.column("indicator"), lambda v: pc.is_in(v, value_set=kept))
    # Usually every row is kept: no copy of the table then.
    if not pc.all(keep, skip_nulls=False).as_py():
        observed = observed.filter(keep)
    marked = mark_low_reliability(observed, indicators, env.config.reliability)
    observed = marked.table
    parts += nested(marked.parts, 5)
    if n_overrides:
        applied = Finding(
            code="override-applied",
            severity=Severity.INFO,
            message=f"{n_overrides} values corrected by hand (see overrides file)",
            count=n_overrides,
        )
        parts.append(FindingPart((6,), "once", applied))
    return DeriveOutput(
        _with_domain(observed, indicators),
        combine(parts),
        steps,
        coverage,
        parts,
    )


class _Ranks(Mapping[str, Any]):
    """A mapping made by ``make`` on first use."""

    def __init__(self, make: Callable[[], Mapping[str, Any]]) -> None:
        self._make = make
        self._made: Mapping[str, Any] | None = None

    def _get(self) -> Mapping[str, Any]:
        if self._made is None:
            self._made = self._make()
        return self._made

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _hierarchy(
    settings: TerritorySettings, reg: Any, reference: date
) -> tuple[pa.Table, list[str]]:
    """The hierarchy on ``reference`` with the declared groupings, and the levels to sum.

    Levels run from districts (when ``territory.districts`` is on; only municipalities
    whose district is known take part) up to the observatory's own territory, plus one
    level per declared grouping. Comparison territories (region, Italy) come from published
    sources: summing the observatory's municipalities up to Italy would be a partial total.
    """
    from welfare_observatory.derive import with_groupings

    levels = _levels_up_to(settings.code, reg)
    if settings.districts is False:
        levels = [level for level in levels if level != "district"]
    if isinstance(settings.districts, dict):
        hierarchy = reg.hierarchy(reference, districts=settings.districts)
    else:
        hierarchy = reg.hierarchy(reference)
    members = {name: _in_force(codes, reg, reference) for name, codes in settings.groupings.items()}
    hierarchy, grouping_levels = with_groupings(hierarchy, members)
    return hierarchy, levels + grouping_levels


def _in_force(codes: Sequence[str], reg: Any, reference: date) -> list[str]:
    """Grouping members as codes in force on ``reference`` (a merged member becomes the
    municipality it merged into). A handful of configured codes, not data rows."""
    out: list[str] = []
    for code in codes:
        try:
            out += reg.successors(code, reference)
        except WelfareObservatoryError:
            continue  # refused at load; a config built in code may still carry one
    return out


def _levels_up_to(code: str, reg: Any) -> list[str]:
    """Registry levels from districts up to the observatory's own territory ``code`` (only
    districts when the territory is a grouping: it sits beside the hierarchy)."""
    if code.startswith(("grouping:", "district:")):
        return ["district"]
    try:
        level = str(reg.get(code).level)
    except WelfareObservatoryError:
        return []
    if level not in _LEVEL_ORDER:
        return []
    return list(_LEVEL_ORDER[: _LEVEL_ORDER.index(level) + 1])


def _union_published_first(published: pa.Table, derived: pa.Table) -> pa.Table:
    """``published`` plus the rows of ``derived`` whose key is not published."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.derive._common import connect

    if derived.num_rows == 0:
        return published
    both = unify_breakdowns([published, derived])
    keys = ["indicator", "territory", "period", *_breakdowns(both)]
    published_u = both.slice(0, published.num_rows)
    derived_u = both.slice(published.num_rows)
    con = connect()
    try:
        # Keys only, and row numbers of the derived rows: the fresh rows are taken in their
        # order, whatever order the join gives.
        con.register("p", plain(published_u.select(keys)))
        con.register(
            "d",
            plain(derived_u.select(keys)).append_column(
                "_row", pa.array(range(derived_u.num_rows), pa.int64())
            ),
        )
        on = " AND ".join(f'd."{k}" = p."{k}"' for k in keys)
        rows = con.sql(f"SELECT d._row FROM d ANTI JOIN p ON {on}").to_arrow_table()  # noqa: S608
    finally:
        con.close()
    found = rows.column("_row")
    fresh = derived_u.take(pc.take(found, pc.sort_indices(found)))
    return unify_breakdowns([published, fresh])


def _breakdowns(table: pa.Table) -> list[str]:
    return [c for c in table.column_names if c not in BASE_COLUMNS and c != "domain"]


def _apply_overrides(
    observed: pa.Table, path: Path | None, indicators: Mapping[str, Indicator]
) -> tuple[pa.Table, StepRecord | None, int]:
    """Replace values the analyst corrected by hand (the overrides file at ``path``); each
    override keeps its reason."""
    from welfare_observatory.derive.overrides import corrections

    if path is None:
        return observed, None, 0
    table, step, count = corrections(path, indicators, _breakdowns(observed))
    # Corrections win over what the sources said: they are the "published" side here.
    merged = _union_published_first(unify_breakdowns([table]), observed)
    return merged, step, count


def _with_domain(table: pa.Table, indicators: Mapping[str, Indicator]) -> pa.Table:
    """``table`` with each row's ``domain``: its indicator's (``other`` for a row of no
    indicator or of one not defined), dictionary-encoded chunk by chunk on the sorted
    domains the chunk holds. A chunk of one domain (a source's rows, usually) reads the
    zero-filled buffer source tables share (``harmonize._columns.constant``): no byte a
    row. Each indicator dictionary is looked up once, however many chunks share it."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.harmonize._columns import constant

    names = sorted({str(i.domain) for i in indicators.values()} | {"other"})
    code = {name: n for n, name in enumerate(names)}
    other = code["other"]
    by_id = {i: code[str(indicator.domain)] for i, indicator in indicators.items()}
    kind = pa.dictionary(pa.int32(), pa.string())
    looked_up: tuple[pa.Array, np.ndarray[Any, Any]] | None = None
    chunks: list[pa.Array] = []
    for chunk in table.column("indicator").chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk)
        dictionary = chunk.dictionary
        if looked_up is None or not (looked_up[0] is dictionary or looked_up[0].equals(dictionary)):
            # Each slot's domain code; a null row (of no indicator) takes the extra slot
            # at the end, "other", as does a null in the dictionary.
            ids = dictionary.to_pylist()
            slots = [other if i is None else by_id.get(str(i), other) for i in ids]
            looked_up = (dictionary, np.array([*slots, other], np.int32))
        slots_of = looked_up[1]
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(dictionary))
        rows = indices.to_numpy(zero_copy_only=False)
        if not len(rows):
            chunks.append(
                pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array([], pa.string()))
            )
            continue
        if rows.min() == rows.max():
            used = slots_of[rows[:1]]
        else:
            # The domains the chunk holds, found on its slots (a count per slot), not by
            # sorting its rows.
            held = np.bincount(rows, minlength=len(slots_of)) > 0
            used = np.flatnonzero(np.bincount(slots_of[held], minlength=len(names)))
        if len(used) == 1:
            chunks.append(constant(len(rows), names[int(used[0])]))
            continue
        remap = np.zeros(len(names), np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        local = remap[slots_of][rows]
        texts = pa.array([names[int(c)] for c in used], pa.string())
        chunks.append(pa.DictionaryArray.from_arrays(pa.array(local, pa.int32()), texts))
    return table.append_column("domain", pa.chunked_array(chunks, kind))


def open_database_early() -> None:
    """Open the process's DuckDB database on another thread (``derive._common.open_early``),
    for a derive that will ask it: a whole derive (aggregates, rates), or a rebuild's
    derive of a group that makes a rate. A rebuild's derive of other groups mostly asks
    DuckDB nothing, and then never loads it."""
    from welfare_observatory.derive._common import open_early

    open_early()


# --- Derive in a rebuild: only the indicator groups whose sources changed ---------------
#
# Derive reads indicators together only through formulas (rates, rates of aggregates,
# reliability of a rate from its operands) and through sources (two sources of one
# indicator are resolved against each other; one source may give several indicators).
# The connected components of those links are the indicator groups: derive over all of
# them is derive over each, rows and findings (kept per indicator, derive._parts), with
# the derive steps of the whole build (DeriveScope). A rebuild derives the groups whose
# sources changed, takes the others' rows and findings from the last result and points
# their derived rows at this build's steps: the output equals a full derive's.


@dataclass(frozen=True)
class Grouped:
    """A saved derive output with, per group key, where its rows are in
    ``output.observations`` and ``output.coverage`` (:func:`group_runs`)."""

    output: DeriveOutput
    rows: Runs
    coverage_rows: Runs | None = None
    fingerprints: dict[str, str] | None = None
    """Per indicator, the fingerprint of its rows in ``output.observations``, when saved."""
    intact: Callable[[], bool] | None = None
    """Whether the saved tables passed their check (memory-mapped files, checked while
    derive runs the changed groups); called before any of their rows is taken."""


def group_runs(
    table: pa.Table, groups: Mapping[str, Sequence[str]]
) -> tuple[pa.Table, Runs] | None:
    """``table`` and the runs of each group's rows in it; None when a row is of no group
    (an override of an indicator no source gives). When the groups' rows are scattered
    (more than a few runs per group) the rows are put in group order first, so a rebuild
    takes few slices."""
    from itertools import pairwise

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = sorted(groups)
    place = {i: k for k, key in enumerate(keys) for i in groups[key]}
    # Per run of equal indicator (Arrow finds them): its group's position and the row it
    # ends before. An entry a run, not a row: derived rows come an indicator at a time, and
    # row-long arrays (about 70 MiB at 3.1 million rows) were most of what saving a result
    # added to the build's peak memory, on top of the edition being written.
    of_run: list[Any] = []
    ends: list[Any] = []
    at = 0
    last: tuple[pa.Array, Any] | None = None
    for chunk in table.column("indicator").chunks:
        # Per distinct indicator, not per row (coverage's column is plain text); chunks
        # of one saved file share their dictionary: it is looked up once.
        coded = chunk if pa.types.is_dictionary(chunk.type) else chunk.dictionary_encode()
        if last is None or not (last[0] is coded.dictionary or last[0].equals(coded.dictionary)):
            found = [place.get(v, len(keys)) for v in coded.dictionary.to_pylist()]
            last = (coded.dictionary, np.array(found, np.int64))
        if not len(chunk):
            continue
        if coded.null_count:
            return None  # a row of no indicator, so of no group
        encoded = pc.run_end_encode(coded.indices)
        of_run.append(last[1][encoded.values.to_numpy()])
        ends.append(encoded.run_ends.to_numpy().astype(np.int64) + at)
        at += len(chunk)
    runs_group = np.concatenate(of_run) if of_run else np.zeros(0, np.int64)
    runs_end = np.concatenate(ends) if ends else np.zeros(0, np.int64)
    if len(runs_group) and (runs_group == len(keys)).any():
        return None
    # The runs of equal group: where the group changes from one indicator's run to the next.
    changes = np.flatnonzero(np.diff(runs_group)) + 1
    if len(changes) > 4 * len(keys) + 64:
        of_row = np.repeat(runs_group, np.diff(runs_end, prepend=0))
        order = np.argsort(of_row, kind="stable")
        table, of_row = table.take(pa.array(order)), of_row[order]
        starts = np.flatnonzero(np.diff(of_row)) + 1
        runs_group, changes = of_row, starts
    else:
        starts = runs_end[changes - 1]
    runs: Runs = {key: [] for key in keys}
    if not at:
        return table, runs
    bounds = pairwise([0, *starts.tolist(), at])
    for (start, stop), first in zip(bounds, [0, *changes.tolist()], strict=True):
        runs[keys[int(runs_group[first])]].append((start, stop))
    return table, runs


def indicator_groups(
    sources: Sequence[tuple[Sequence[str], Sequence[str]]],
    env: BuildEnvironment,
    base: str,
    linked: Sequence[str] = (),
) -> dict[str, tuple[list[str], list[int]]]:
    """Per group: its key, its indicators (sorted) and the positions of its sources in
    ``sources`` (each: its step ids and the indicators its table gives). The key digests
    ``base`` (what every group reads: configuration, environment, breakdowns,
    territories), the group's indicators and its sources' step ids (content digests).
    The ``linked`` indicators (those of the overrides file) are one group together."""
    from welfare_observatory.lineage import digest

    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for k, (_, given) in enumerate(sources):
        for indicator_id in given:
            union(f"s:{k:09d}", f"i:{indicator_id}")
    for defined in env.indicators.values():
        if defined.formula is not None:
            union(f"i:{defined.id}", f"i:{defined.formula.numerator}")
            union(f"i:{defined.id}", f"i:{defined.formula.denominator}")
    for indicator_id in linked:
        union(f"i:{linked[0]}", f"i:{indicator_id}")
    members: dict[str, tuple[list[str], list[int]]] = {}
    for node in parent:
        ids, positions = members.setdefault(find(node), ([], []))
        if node.startswith("i:"):
            ids.append(node[2:])
        else:
            positions.append(int(node[2:]))
    groups: dict[str, tuple[list[str], list[int]]] = {}
    for ids, positions in members.values():
        if not positions:
            continue  # no rows: derive makes none for these indicators
        ids.sort()
        positions.sort()
        steps = sorted({s for k in positions for s in sources[k][0]})
        groups[digest({"base": base, "indicators": ids, "steps": steps})] = (ids, positions)
    return groups


def derive_by_groups(
    sources: Sequence[tuple[Sequence[str], pa.Table | SavedTable]],
    env: BuildEnvironment,
    previous: Grouped | None,
    environment: str | None = None,
) -> DeriveOutput:
    """:func:`derive_with_coverage` of the ``sources``' tables (each: step ids, table), the
    same output, computed only for the indicator groups that ``previous`` (the last
    result, or None) does not hold; with the groups recorded for the next build.

    ``environment`` is ``env.fingerprint()`` when the caller has it. A whole derive
    runs when a part cannot be reused exactly: no previous result, nothing or everything
    changed, steps of other kinds. A source's table may
    be a :class:`~welfare_observatory.build.sources.SavedTable` (a reused source's rows
    not read yet): it is read only when its group is derived again."""
    import dataclasses

    if previous is None:
        # A whole derive asks DuckDB (aggregates, rates of them): its database is opened
        # on another core meanwhile. A derive by groups opens it early for a group that
        # makes a rate (below), else when it first asks (most ask nothing: their rows are
        # hashed in numpy, so they never load DuckDB).
        open_database_early()
    tables = [table for _, table in sources]
    given = [_given(t) for t in tables]
    scope = DeriveScope(
        inputs=_union(tables, "lineage"),
        territories=_union(tables, "territory"),
        indicators=tuple(sorted({i for g in given for i in g})),
    )
    names = breakdown_names(tables)
    base = derive_base(tables, env, scope, environment, breakdowns=names)
    # Corrected indicators are one group: every group's derive reads the overrides file.
    linked: list[str] = []
    if env.overrides is not None:
        from welfare_observatory.derive.overrides import corrections

        corrected = corrections(env.overrides, env.indicators, names)[0]
        linked = _distinct(corrected, "indicator") if corrected.num_rows else []
    groups = indicator_groups(
        [(steps, g) for (steps, _), g in zip(sources, given, strict=True)], env, base, linked
    )
    recorded = {key: ids for key, (ids, _) in groups.items()}

    def whole() -> DeriveOutput:
        from welfare_observatory.derive import code_changes

        changes = code_changes(list(scope.territories), env.reference, env.territories)
        out = derive_with_coverage([_loaded(t) for t in tables], env, changes=changes)
        return dataclasses.replace(out, groups=recorded, changes=changes)

    if previous is None:
        return whole()
    before = previous.output.groups or {}
    fresh = sorted(key for key in groups if key not in before)
    # A group kept means the same base: the same territories, so the same code changes.
    changes = previous.output.changes
    if not fresh or len(fresh) == len(groups) or changes is None:
        return whole()
    grouped = {i for ids in recorded.values() for i in ids}
    if not set(linked) <= grouped:
        # A correction of an indicator no source gives (left out by --only, say) is in no
        # group: only a whole derive keeps its row.
        return whole()
    again = sorted(k for key in fresh for k in groups[key][1])
    made = env.indicators
    if any(made[i].formula is not None for key in fresh for i in recorded[key] if i in made):
        open_database_early()  # a rate's rows are joined and its coverage found in DuckDB
    # An empty table with the build's breakdown columns stands for the other tables.
    from welfare_observatory.model.observation import observation_schema

    empty = observation_schema(tuple(names)).empty_table()
    out = derive_with_coverage(
        [*(_loaded(tables[k]) for k in again), empty], env, scope, changes=changes
    )
    if linked:
        # Every correction was applied: those of other groups' indicators are theirs.
        out = _only(out, {i for key in fresh for i in recorded[key]})
    if previous.intact is not None and not previous.intact():
        return whole()  # a damaged saved file: none of its rows is taken
    combined = _combined(out, previous, {key: recorded[key] for key in fresh}, sorted(recorded))
    if combined is None:
        return whole()
    return dataclasses.replace(combined, groups=recorded, changes=changes)


def in_group_order(out: DeriveOutput) -> DeriveOutput:
    """``out`` with its rows (and coverage) in group order when they are scattered
    (:func:`group_runs` reorders them), as its saved result holds them; else ``out``
    itself. Edition and analyses do not depend on the rows' order: one table serves them
    and the saved result, where saving reordered a copy while the store held the rows."""
    import dataclasses

    if out.runs is not None or out.parts is None or out.groups is None or len(out.groups) < 2:
        return out  # in group order already, or saved without groups (reuse._grouped)
    rows = group_runs(out.observations, out.groups)
    covered = group_runs(out.coverage, out.groups) if out.coverage is not None else None
    if rows is None or (out.coverage is not None and covered is None):
        return out  # a row of no group: saved as it is
    if rows[0] is out.observations and (covered is None or covered[0] is out.coverage):
        return out
    return dataclasses.replace(
        out, observations=rows[0], coverage=covered[0] if covered is not None else None
    )


def _only(out: DeriveOutput, indicators: set[str]) -> DeriveOutput:
    """``out`` restricted to ``indicators``: rows, coverage and finding parts (those of no
    indicator stay)."""
    import dataclasses

    coverage = out.coverage
    return dataclasses.replace(
        out,
        observations=_rows_of(out.observations, indicators),
        coverage=_rows_of(coverage, indicators) if coverage is not None else None,
        parts=(
            [p for p in out.parts if p.indicator is None or p.indicator in indicators]
            if out.parts is not None
            else None
        ),
    )


def _loaded(table: pa.Table | SavedTable) -> pa.Table:
    """``table``, a saved one read (:meth:`SavedTable.load`)."""
    import pyarrow as pa

    return table if isinstance(table, pa.Table) else table.load()


def _given(table: pa.Table | SavedTable) -> list[str]:
    """The indicators ``table`` gives. A source usually gives one: a chunk whose dictionary
    holds one value and that has rows (no missing indicator) gives that one."""
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        return list(table.distinct("indicator"))
    column = table.column("indicator")
    chunks = [c for c in column.chunks if len(c)]
    if column.null_count == 0 and all(
        pa.types.is_dictionary(c.type) and len(c.dictionary) == 1 for c in chunks
    ):
        return sorted({str(c.dictionary[0]) for c in chunks})
    return _distinct(table, "indicator")


def _union(tables: Sequence[pa.Table | SavedTable], column: str) -> tuple[str, ...]:
    """The distinct values of ``column`` over ``tables``, sorted (``DeriveScope.of``'s),
    found by one ``unique`` over every table's chunks when their types agree. A chunk whose
    dictionary holds one value (a source's lineage) gives that value, its rows unread; a
    saved table gives those its record lists."""
    import pyarrow as pa

    single: set[str] = set()
    chunks = []
    read = []
    for t in tables:
        if isinstance(t, pa.Table):
            read.append(t)
        else:
            single.update(t.distinct(column))
    for chunk in (c for t in read for c in t.column(column).chunks if len(c)):
        if (
            pa.types.is_dictionary(chunk.type)
            and len(chunk.dictionary) == 1
            and chunk.null_count == 0
            and chunk.dictionary.null_count == 0
        ):
            single.add(str(chunk.dictionary[0].as_py()))
        else:
            chunks.append(chunk)
    if not chunks:
        return tuple(sorted(single))
    if all(c.type == chunks[0].type for c in chunks):
        found = _distinct(pa.table({column: pa.chunked_array(chunks)}), column)
        return tuple(sorted(single.union(found)))
    found = [v for c in chunks for v in _distinct(pa.table({column: c}), column)]
    return tuple(sorted(single.union(found)))


def derive_base(
    tables: Sequence[pa.Table],
    env: BuildEnvironment,
    scope: DeriveScope,
    environment: str | None = None,
    *,
    breakdowns: list[str] | None = None,
) -> str:
    """The digest of what every indicator group's derive reads besides its own sources:
    configuration, overrides, selection, environment (``derived_key`` without sources), the
    build's breakdown columns and its territories (which codes are reconciled, whether
    there are municipal rows to sum). ``breakdowns``: ``breakdown_names(tables)`` when
    the caller has them."""
    from welfare_observatory.build.reuse import derived_key
    from welfare_observatory.lineage import digest

    return digest(
        {
            "derive": derived_key(env, source_steps=(), environment=environment),
            "breakdowns": breakdown_names(tables) if breakdowns is None else breakdowns,
            "territories": list(scope.territories),
        }
    )


def breakdown_names(tables: Sequence[pa.Table | SavedTable]) -> list[str]:
    """The breakdown columns of the tables' union (``unify_breakdowns``'s)."""
    return sorted({c for t in tables for c in t.column_names} - set(BASE_COLUMNS) - {"domain"})


def _combined(
    out: DeriveOutput, previous: Grouped, fresh: Mapping[str, list[str]], keys: list[str]
) -> DeriveOutput | None:
    """``out`` (the derive of the ``fresh`` groups) with the rows, coverage and finding
    parts of the other groups of ``keys`` from ``previous``, their derived rows pointed at
    ``out``'s steps, in group order; None when that would not be exactly a whole derive's
    output."""

    import pyarrow as pa

    old = previous.output
    redo = {i for ids in fresh.values() for i in ids}
    keep = {i for key in keys if key not in fresh for i in (old.groups or {})[key]}
    if out.parts is None or old.parts is None:
        return None
    if any(p.indicator not in redo for p in out.parts if p.kind != "once"):
        return None
    if any(p.indicator is None for p in old.parts if p.kind != "once"):
        return None  # a finding that cannot be split by indicator
    if not set(_distinct(out.observations, "indicator")) <= redo:
        return None
    if [s.kind for s in old.steps] != [s.kind for s in out.steps]:
        return None
    if old.observations.schema != out.observations.schema:
        return None
    renamed = {a.id: b.id for a, b in zip(old.steps, out.steps, strict=True)}
    observations, spans = _pieces(old.observations, previous.rows, out.observations, fresh, keys)
    lineage = observations.schema.get_field_index("lineage")
    observations = observations.set_column(
        lineage, observations.schema.field(lineage), _renamed(observations[lineage], renamed)
    )
    known = _known_prints(previous, fresh, keys, renamed)
    unknown = [
        observations.slice(start, stop - start)
        for key, start, stop in spans
        if known is None or key not in known[1]
    ]
    unknown_rows = pa.concat_tables(unknown) if unknown else observations.slice(0, 0)
    coverage = out.coverage
    coverage_runs = None
    if old.coverage is not None and previous.coverage_rows is not None:
        new = out.coverage if out.coverage is not None else old.coverage.slice(0, 0)
        if new.schema != old.coverage.schema:
            return None
        coverage, covered = _pieces(old.coverage, previous.coverage_rows, new, fresh, keys)
        coverage_runs = _as_runs(covered)
    elif old.coverage is not None:
        return None
    parts = [p for p in old.parts if p.indicator in keep] + out.parts
    try:
        findings = combine(parts)
    except (ValueError, TypeError):
        # A kept part's finding that does not decode, or sort keys that do not compare (a
        # saved file edited): derived whole.
        return None
    return DeriveOutput(
        observations,
        findings,
        out.steps,
        coverage,
        parts,
        known_prints=known[0] if known is not None else None,
        unknown_rows=unknown_rows if known is not None else None,
        runs=(_as_runs(spans), coverage_runs) if coverage is None or coverage_runs else None,
    )


def _as_runs(spans: list[tuple[str, int, int]]) -> Runs:
    """:func:`_pieces`' spans as :func:`group_runs` gives them (an empty group, no run)."""
    return {key: [(start, stop)] if stop > start else [] for key, start, stop in spans}


def _known_prints(
    previous: Grouped, fresh: Mapping[str, list[str]], keys: list[str], renamed: Mapping[str, str]
) -> tuple[dict[str, str], set[str]] | None:
    """The fingerprints ``previous`` recorded of the indicators of the kept groups whose
    rows come out unchanged, and those groups' keys; None when it recorded none. A kept
    group with a row whose lineage is renamed (a derived row: its step's id is made of
    every source) is left out: its rows are hashed again. The row counts the fingerprints
    carry must add up to the kept groups' rows, or none is trusted."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.derive._common import on_values

    prints, old = previous.fingerprints, previous.output
    if prints is None or old.groups is None:
        return None
    moved = pa.array(sorted(a for a, b in renamed.items() if a != b), pa.string())
    lineage = old.observations.column("lineage")

    def hit(values: pa.Array) -> pa.Array:
        return pc.fill_null(pc.is_in(pc.cast(values, pa.string()), value_set=moved), False)

    # Usually no derived row at all (no id to rename in the dictionary): no row is read.
    # The chunks of a saved file share one dictionary: it is looked up once.
    touched = None
    seen: list[pa.Array] = []
    for chunk in lineage.chunks:
        values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
        if values is not chunk and any(values.equals(s) for s in seen[-1:]):
            continue
        seen.append(values)
        if pc.any(hit(values)).as_py():
            touched = on_values(lineage, hit)
            break
    same: set[str] = set()
    for key in keys:
        runs = previous.rows.get(key, [])
        if key in fresh or (
            touched is not None and any(pc.any(touched.slice(a, b - a)).as_py() for a, b in runs)
        ):
            continue
        same.add(key)
    known: dict[str, str] = {}
    rows = 0
    try:
        for key in same:
            for indicator in old.groups[key]:
                if indicator in prints:
                    known[indicator] = prints[indicator]
                    rows += int(prints[indicator].rsplit(":", 3)[1])
    except (AttributeError, IndexError, ValueError):
        return {}, set()  # a saved fingerprint of the wrong shape: nothing saved is trusted
    if rows != sum(b - a for key in same for a, b in previous.rows.get(key, [])):
        return {}, set()
    return known, same


def _pieces(
    old: pa.Table,
    rows: Runs,
    new: pa.Table,
    fresh: Mapping[str, list[str]],
    keys: list[str],
) -> tuple[pa.Table, list[tuple[str, int, int]]]:
    """Per group of ``keys``, in that order: its rows of ``new`` when it is ``fresh``,
    else its runs of ``old`` (slices: no copy); with each group's ``(key, start, stop)``
    in the result."""
    import pyarrow as pa

    pieces: list[pa.Table | tuple[int, int]] = []
    spans = []
    at = 0
    for key in keys:
        if key in fresh:
            piece = new if len(fresh) == 1 else _rows_of(new, set(fresh[key]))
            pieces.append(piece)
            size = piece.num_rows
        else:
            size = 0
            for start, stop in rows.get(key, []):
                last = pieces[-1] if pieces else None
                # Runs of kept groups that follow each other are one slice (a few, not
                # one a group).
                if isinstance(last, tuple) and last[1] == start:
                    pieces[-1] = (last[0], stop)
                else:
                    pieces.append((start, stop))
                size += stop - start
        spans.append((key, at, at + size))
        at += size
    tables = [p if not isinstance(p, tuple) else old.slice(p[0], p[1] - p[0]) for p in pieces]
    return (pa.concat_tables(tables) if tables else new.slice(0, 0)), spans


def _rows_of(table: pa.Table, indicators: set[str]) -> pa.Table:
    """The rows of ``table`` whose indicator is one of ``indicators`` (a dictionary column
    is looked up on its dictionary)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from welfare_observatory.derive._common import on_values

    wanted = pa.array(sorted(indicators), pa.string())
    mask = on_values(
        table.column("indicator"),
        lambda v: pc.fill_null(pc.is_in(pc.cast(v, pa.string()), value_set=wanted), False),
    )
    return table.filter(mask)


def _renamed(column: pa.ChunkedArray, renamed: Mapping[str, str]) -> pa.ChunkedArray:
    """``column`` (lineage ids) with each id in ``renamed`` replaced, on the dictionary."""
    import pyarrow as pa

    chunks = []
    # Chunks of one saved file share a dictionary: they share the renamed one too.
    last: tuple[pa.Array, pa.Array | None] | None = None
    originals = column.chunks
    for chunk in originals:
        # Per distinct id, not per row: a plain text chunk is encoded first and decoded after.
        coded = chunk if pa.types.is_dictionary(chunk.type) else chunk.dictionary_encode()
        if last is None or not last[0].equals(coded.dictionary):
            before = coded.dictionary.to_pylist()
            values = [renamed.get(v, v) for v in before]
            # None: no id of this dictionary is renamed (usually: no derived row in it).
            same = values == before
            last = (coded.dictionary, None if same else pa.array(values, coded.dictionary.type))
        if last[1] is None:
            chunks.append(chunk)
        elif coded is chunk:
            chunks.append(pa.DictionaryArray.from_arrays(chunk.indices, last[1]))
        else:
            chunks.append(last[1].take(coded.indices).cast(chunk.type))
    if all(a is b for a, b in zip(chunks, originals, strict=True)):
        return column
    return pa.chunked_array(chunks, column.type)
