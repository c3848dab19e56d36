"""Apply a :class:`HarmonizeRule` to a source table: canonical observations plus findings.

Rows that a rule cannot place (unknown territory, impossible period, unmapped code, unit
mismatch) are left out of the output and reported as grouped error findings, so the
pipeline stops the source instead of publishing a silently wrong number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.harmonize import _columns as col
from welfare_observatory.harmonize._arrow import melt, melt_columns, require_columns
from welfare_observatory.harmonize._status import statuses
from welfare_observatory.harmonize.codes import CodeTable
from welfare_observatory.harmonize.rules import Filter, HarmonizeRule, StatusRule
from welfare_observatory.lineage import StepRecord, table_digest
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.model.indicator import Indicator
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.validate.schema import validate_observations

__all__ = ["Harmonized", "harmonize"]


@dataclass(frozen=True)
class Harmonized:
    """The canonical table, the findings, and the lineage step that produced the rows."""

    table: pa.Table
    findings: list[Finding] = field(default_factory=list)
    step: StepRecord | None = None

    @property
    def ok(self) -> bool:
        """False when a finding is an error (the pipeline then stops this source)."""
        return not any(f.severity is Severity.ERROR for f in self.findings)


def _filter_mask(table: pa.Table, rule: Filter) -> pa.ChunkedArray:
    from welfare_observatory.harmonize._arrow import as_text

    text = as_text(table.column(rule.column)).cast(pa.string())
    keep = pa.chunked_array([pa.array(np.ones(len(text), dtype=bool))])
    if rule.in_ is not None:
        keep = pc.and_(keep, pc.fill_null(pc.is_in(text, pa.array(rule.in_)), False))
    if rule.not_in:
        keep = pc.and_(keep, pc.invert(pc.fill_null(pc.is_in(text, pa.array(rule.not_in)), False)))
    return keep


def _apply_filters(table: pa.Table, filters: Sequence[Filter]) -> pa.Table:
    for rule in filters:
        table = table.filter(_filter_mask(table, rule))
    return table


def harmonize(
    table: pa.Table,
    rule: HarmonizeRule,
    *,
    codes: CodeTable,
    indicators: Mapping[str, Indicator] | None = None,
    source: str = "source",
    inputs: Sequence[str] = (),
    versions: Mapping[str, str] | None = None,
    validate: bool = False,
    units: Any = None,
    codelists: Mapping[str, Mapping[str, str]] | None = None,
) -> Harmonized:
    """Canonical observations from ``table`` (a source table in the source's own codes).

    ``codes`` resolves territories (``CodeTable.from_registry()`` in a build);
    ``indicators`` (id -> Indicator) gives each indicator's unit and declared breakdowns;
    ``inputs`` are the ids of the steps or payload hashes the table came from (a digest of
    the table when empty); ``versions`` adds plugin and registry versions to the step id.
    Duplicate keys are always checked; ``validate=True`` also runs the full schema check
    (the pipeline's validate stage runs it anyway). ``units`` is the build's pint registry
    (with the plugins' units; the library's when None) and ``codelists`` the plugins' code
    lists (name -> {code: label}) a breakdown rule may name in ``codes``.
    """
    original = table
    step = StepRecord.create(
        "harmonize",
        list(inputs) or [f"sha256:{table_digest(table)}"],
        {"source": source, "rule": rule.model_dump(mode="json", by_alias=True)},
        versions=versions,
        source=source,
    )
    pre = [f for f in rule.filters if f.column in table.column_names]
    post = [f for f in rule.filters if f.column not in table.column_names]
    table = _apply_filters(table, pre)
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None
    melt_pairs: list[tuple[str, str]] = []
    if rule.melt is not None:
        melt_pairs = melt_columns(table, rule.melt.columns, rule.melt.pattern)
        require_columns(table, [name for name, _ in melt_pairs], source=source)
        if not melt_pairs:
            require_columns(table, [rule.melt.pattern or ""], source=source)
        produced = {rule.melt.names_to, rule.melt.values_to}
        needed = [c for c in rule.source_columns() if c not in produced]
        needed += [f.column for f in post if f.column not in produced]
        require_columns(table, needed, source=source)
        stacked = {name for name, _ in melt_pairs}
        wide = table.select([c for c in dict.fromkeys(needed) if c not in stacked] + list(stacked))
        companions = _melted_companions(table, [name for name, _ in melt_pairs])
        left_out = _value_columns_left_out(table, rule, melt_pairs, source)
        table, rows = melt(wide, melt_pairs, rule.melt.names_to, rule.melt.values_to)
        for suffix, column in companions.items():
            table = table.append_column(rule.melt.values_to + suffix, column)
        cols = np.repeat(np.arange(len(melt_pairs)), wide.num_rows)
    require_columns(table, [f.column for f in post] + rule.source_columns(), source=source)
    if post:
        if rows is not None:
            masks = [_filter_mask(table, f) for f in post]
            combined = masks[0]
            for mask in masks[1:]:
                combined = pc.and_(combined, mask)
            selected = np.asarray(combined.to_numpy(zero_copy_only=False), dtype=bool)
            rows = rows[selected]
            cols = cols[selected] if cols is not None else None
            table = table.filter(combined)
        else:
            table = _apply_filters(table, post)

    status_rule, parsed = _parsed_statuses(table, rule)
    problems: list[col.Problem] = []
    indicator, found = col.indicator(table, rule.indicator)
    problems += found
    indicator, found = _current_ids(indicator, indicators, rule)
    problems += found
    territory, found = col.territory(table, rule.territory, codes)
    problems += found
    period, period_start, found = col.period(table, rule.period)
    problems += found
    problems += col.ceased(territory, period_start, codes, rule.territory.column or "territory")
    breakdowns: dict[str, pa.Array] = {}
    for name, brule in rule.breakdowns.items():
        breakdowns[name], found = col.breakdown(table, name, brule, codelists)
        problems += found
    marker = col.marked(table, rule.value.column, rule.value.markers)
    value, found, cell_flags = col.values(
        table, rule.value.column, rule.value.decimal, rule.value.trailing_flags, marker
    )
    problems += found
    factor, unit, found = col.units(table, rule.unit, indicator, indicators, registry=units)
    problems += found
    percent = _percent_cells(table, rule.value.column)
    if percent is not None:
        unread, found = col.percent_sign(
            table, rule.unit, indicator, indicators, percent, rule.value.column, registry=units
        )
        if found:
            value = pc.if_else(unread, pa.scalar(None, pa.float64()), value)
            problems += found
    value = pc.multiply(value, pc.fill_null(factor, 1.0))
    problems += col.non_finite(value, rule.value.column)
    obs_status, conf_status, flags, found = statuses(
        table,
        status_rule,
        value,
        cell_flags,
        marker=marker,
        markers=rule.value.markers,
        parsed=parsed,
    )
    problems += found
    keys = {"indicator": indicator, "territory": territory, "period": period_start}
    problems += col.empty_keys(table, rule, {**keys, **breakdowns}, problems)

    where = (rows, cols, melt_pairs) if rows is not None and cols is not None else None
    findings = [_finding(p, source, rule, where) for p in problems]
    if rule.melt is not None:
        findings += left_out
    drop = [p.bad for p in problems if p.severity == "error" or p.code == "unmapped-indicator"]
    out = pa.table(
        {
            "indicator": indicator,
            "territory": territory,
            "period": period,
            "period_start": period_start,
            **breakdowns,
            "value": value,
            "unit": unit,
            "obs_status": obs_status,
            "conf_status": conf_status,
            "flags": flags,
        }
    )
    if drop:
        bad = drop[0]
        for mask in drop[1:]:
            bad = pc.or_(bad, mask)
        out = out.filter(pc.invert(pc.fill_null(bad, True)))
    n = out.num_rows
    out = out.append_column("source", col.constant(n, source))
    out = out.append_column("lineage", col.constant(n, step.id))
    schema = observation_schema(tuple(rule.breakdowns))
    out = _conform(out.select(schema.names), schema)
    duplicates = _duplicates(out, source)
    if duplicates:
        # Source rows repeated exactly (a file listing a row twice) are kept once; rows
        # that differ in the source but meet after mapping (a code written two ways)
        # stay a duplicate-key error.
        unique, repeated = _identical_rows(original, source)
        if repeated:
            again = harmonize(
                unique,
                rule,
                codes=codes,
                indicators=indicators,
                source=source,
                inputs=inputs,
                versions=versions,
                validate=validate,
                units=units,
                codelists=codelists,
            )
            return Harmonized(again.table, [*repeated, *again.findings], again.step)
        findings += duplicates
    if validate:
        findings += [
            f
            for f in validate_observations(out, indicators=indicators, source=source)
            if f.code != "duplicate-key"
        ]
    return Harmonized(_shared_zeros(out), findings, step)


def _shared_zeros(table: pa.Table) -> pa.Table:
    """``table`` with the same values, its columns made of zeros alone reading one shared
    zero-filled buffer: the indices of a dictionary column with one entry and no null
    (indicator, unit, statuses, source, lineage: one value per source, usually) and the
    offsets and validity of a text column of nulls alone (``flags``). Four bytes a row
    each that every source's table held in memory until the edition was written (about
    28 of a canonical row's 53 bytes).

    Arrow buffers are immutable, so sharing changes no value, and an IPC stream or a
    Parquet file of the table holds the same bytes (the buffers written are cut to the
    rows)."""
    n = table.num_rows
    if n == 0 or n > col.SHARED_ROWS or any(c.num_chunks != 1 for c in table.columns):
        return table
    columns = []
    changed = False
    for column in table.columns:
        chunk = column.chunk(0)
        kind = chunk.type
        if (
            pa.types.is_dictionary(kind)
            and kind.index_type == pa.int32()
            and chunk.offset == 0
            and chunk.null_count == 0
            and len(chunk.dictionary) == 1
        ):
            if chunk.indices.buffers()[1].address != col.zeros(0).address:
                chunk = col.constant(n, chunk.dictionary)
                changed = True
        elif pa.types.is_string(kind) and chunk.null_count == n:
            buffers = [col.zeros((n + 7) // 8), col.zeros(4 * (n + 1)), pa.py_buffer(b"")]
            chunk = pa.Array.from_buffers(pa.string(), n, buffers, null_count=n)
            changed = True
        columns.append(chunk)
    if not changed:
        return table
    return pa.Table.from_arrays(columns, schema=table.schema)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table.cast(schema)``, casting only the columns whose type differs.

    ``Table.cast`` makes one cast call per column even when the type already matches (most
    columns here), a fixed cost paid by every source; the checks and the result are its own:
    the same names in order, no null in a non-nullable field, the schema as given.
    """
    if table.schema.names != schema.names:
        return table.cast(schema)  # its error names the mismatch
    columns = []
    for column, target in zip(table.itercolumns(), schema, strict=True):
        if not target.nullable and column.null_count > 0:
            return table.cast(schema)  # raises as the cast does
        columns.append(column if column.type == target.type else column.cast(target.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _current_ids(
    indicator: pa.Array, indicators: Mapping[str, Indicator] | None, rule: HarmonizeRule
) -> tuple[pa.Array, list[col.Problem]]:
    """Rows written under a former id (a merged or renamed entry) move to the surviving id.

    Renaming rather than rejecting keeps an observatory's rules working after the catalogue
    merges two entries; a warning names both ids. Works on the dictionary, not on rows.
    """
    if (
        indicators
        and isinstance(indicator, pa.DictionaryArray)
        and all(name in indicators for name in indicator.dictionary.to_pylist())
    ):
        # A current id is never a former one (see former_ids), and a dictionary array is
        # returned as it came whether or not the catalogue has former ids: the usual rule
        # (a constant current id) skips the walk of the catalogue's aliases.
        return indicator, []
    former = former_ids(indicators)
    if not former:
        return indicator, []
    if isinstance(indicator, pa.ChunkedArray):
        indicator = indicator.combine_chunks()
    if not pa.types.is_dictionary(indicator.type):
        indicator = pc.dictionary_encode(indicator)
    names = indicator.dictionary.to_pylist()
    hits = sorted({name for name in names if name in former})
    if not hits:
        return indicator, []
    mapped = [former.get(name, name) for name in names]
    unique = list(dict.fromkeys(mapped))
    slot = pa.array([unique.index(name) for name in mapped], pa.int32())
    renamed = pa.DictionaryArray.from_arrays(
        slot.take(indicator.indices), pa.array(unique, pa.string())
    )
    bad = pa.array([name in former for name in names], pa.bool_()).take(indicator.indices)
    moves = [f"{old} -> {former[old]}" for old in hits]
    problem = col.Problem(
        "deprecated-indicator",
        rule.indicator.column or "indicator",
        bad,
        moves,
        hint="write the new id in the rule: the former id is an alias of a merged or renamed "
        "catalogue entry and still works, with this warning",
        severity="warning",
    )
    return renamed, [problem]


_FORMER: list[Any] = []
"""The last catalogue seen and its former ids: a build harmonizes every source against the
same catalogue, and walking its aliases cost half a millisecond a source."""


def former_ids(indicators: Mapping[str, Indicator] | None) -> dict[str, str]:
    """Former id (alias of a merged or renamed entry) -> the surviving id."""
    if not indicators:
        return {}
    # Reused for the same mapping holding the same entries (ids and model objects, compared
    # by identity first): a build never edits a catalogue entry in place.
    entries = tuple(indicators.items())
    if _FORMER and _FORMER[0] is indicators and _FORMER[1] == entries:
        former: dict[str, str] = _FORMER[2]
        return former
    former = {
        alias: ind.id
        for ind in indicators.values()
        for alias in ind.aliases
        if alias not in indicators
    }
    _FORMER[:] = [indicators, entries, former]
    return former


def _melted_companions(table: pa.Table, stacked: Sequence[str]) -> dict[str, pa.ChunkedArray]:
    """The status and confidentiality the source parsed for each stacked value column,
    stacked the same way (only when every stacked column has its companion), and which
    cells had a percent sign (when any column had one: false for the others)."""
    from welfare_observatory.sources.tabular_options import (
        CONF_SUFFIX,
        PERCENT_SUFFIX,
        STATUS_SUFFIX,
    )

    out: dict[str, pa.ChunkedArray] = {}
    for suffix in (STATUS_SUFFIX, CONF_SUFFIX):
        names = [name + suffix for name in stacked]
        if stacked and all(name in table.column_names for name in names):
            chunks = [c for name in names for c in table.column(name).cast(pa.string()).chunks]
            out[suffix] = pa.chunked_array(chunks, pa.string())
    if any(name + PERCENT_SUFFIX in table.column_names for name in stacked):
        flags = [
            table.column(name + PERCENT_SUFFIX).cast(pa.bool_())
            if name + PERCENT_SUFFIX in table.column_names
            else pa.chunked_array([pa.array(np.zeros(table.num_rows, dtype=bool))])
            for name in stacked
        ]
        out[PERCENT_SUFFIX] = pa.chunked_array(
            [c for column in flags for c in column.chunks], pa.bool_()
        )
    return out


def _percent_cells(table: pa.Table, value: str) -> pa.ChunkedArray | None:
    """Which value cells had a trailing percent sign, when the reader saw one."""
    from welfare_observatory.sources.tabular_options import PERCENT_SUFFIX

    if value + PERCENT_SUFFIX not in table.column_names:
        return None
    return table.column(value + PERCENT_SUFFIX)


def _value_columns_left_out(
    table: pa.Table, rule: HarmonizeRule, pairs: Sequence[tuple[str, str]], source: str
) -> list[Finding]:
    """Value columns (the reader gave them statuses) that wide-to-long does not stack and
    no other part of the rule reads: a header such as ``2O23`` that is not the period the
    layout expects. Reported, never silently dropped."""
    from welfare_observatory.sources.tabular_options import STATUS_SUFFIX

    used = {name for name, _ in pairs} | set(rule.source_columns())
    used |= {f.column for f in rule.filters}
    left = [
        name
        for name in table.column_names
        if name + STATUS_SUFFIX in table.column_names and name not in used
    ]
    if not left:
        return []
    return [
        Finding(
            code="value-column-left-out",
            severity=Severity.WARNING,
            message=f"{len(left)} value columns match no wide-to-long column or pattern and "
            "are not read: " + ", ".join(repr(n) for n in left[:5]),
            hint="a header that should be a period (2023) but is written otherwise: fix the "
            "header, or list the column under melt.columns",
            source=source,
            column=left[0],
            count=len(left),
        )
    ]


def _parsed_statuses(table: pa.Table, rule: HarmonizeRule) -> tuple[StatusRule, bool]:
    """The rule's status section, reading by default the statuses the source parsed.

    A table source writes ``<value>__status``/``<value>__conf`` beside each value column;
    an SDMX message carries ``OBS_STATUS``/``CONF_STATUS`` beside ``OBS_VALUE``. Without
    this a marker cell the source read as "non-significant" or "confidential" would be
    stored as an ordinary number with status A. A column the rule names wins.
    """
    from welfare_observatory.sources.tabular_options import CONF_SUFFIX, STATUS_SUFFIX

    status = rule.status
    value = rule.value.column
    update: dict[str, str] = {}
    names = table.column_names
    if status.obs_status_column is None:
        if value + STATUS_SUFFIX in names:
            update["obs_status_column"] = value + STATUS_SUFFIX
        elif value == "OBS_VALUE" and "OBS_STATUS" in names:
            update["obs_status_column"] = "OBS_STATUS"
    if status.conf_status_column is None:
        if value + CONF_SUFFIX in names:
            update["conf_status_column"] = value + CONF_SUFFIX
        elif value == "OBS_VALUE" and "CONF_STATUS" in names:
            update["conf_status_column"] = "CONF_STATUS"
    if not update:
        return status, False
    return status.model_copy(update=update), True


def _identical_rows(table: pa.Table, source: str) -> tuple[pa.Table, list[Finding]]:
    """One of each group of source rows identical in every column (a file listing a row
    twice), with a warning; rows that differ are left to :func:`_duplicates`."""
    if table.num_rows < 2 or table.num_columns == 0:
        return table, []
    plain = pa.table(
        {
            name: column.cast(column.type.value_type)
            if pa.types.is_dictionary(column.type)
            else column
            for name, column in zip(table.column_names, table.columns, strict=True)
        }
    ).append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    try:
        groups = plain.group_by(plain.column_names[:-1], use_threads=False)
        first = groups.aggregate([("__row", "min")]).column("__row_min").to_numpy()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        return table, []  # a column type that cannot be compared: nothing merged
    removed = table.num_rows - len(first)
    if removed == 0:
        return table, []
    kept = table.take(pa.array(np.sort(first)))
    return kept, [
        Finding(
            code="duplicate-row",
            severity=Severity.WARNING,
            message=f"{removed} rows repeat another row exactly (every column); one of each "
            "is kept",
            source=source,
            count=removed,
            hint="the source lists the same observation twice; nothing was lost",
        )
    ]


def _duplicates(table: pa.Table, source: str) -> list[Finding]:
    """Keys that occur twice after mapping (``96004`` and ``096004`` are one municipality).

    Grouped on the dictionary indices of the key columns, which is several times faster
    than grouping the texts.
    """
    keys = [n for n in table.column_names if pa.types.is_dictionary(table.schema.field(n).type)]
    keys = [n for n in keys if n not in ("unit", "obs_status", "conf_status", "source", "lineage")]
    if table.num_rows == 0:
        return []
    combined = table.select(keys).unify_dictionaries().combine_chunks()
    indices = pa.table({n: combined.column(n).chunk(0).indices for n in keys})
    sizes = [len(combined.column(n).chunk(0).dictionary) for n in keys]
    if float(np.prod([max(s, 1) for s in sizes], dtype=np.float64)) < 2.0**62:
        # One int64 per row packs every key: a sort settles the usual "no duplicate" case.
        packed = np.zeros(table.num_rows, dtype=np.int64)
        for name, size in zip(keys, sizes, strict=True):
            packed = packed * max(size, 1) + indices.column(name).to_numpy().astype(np.int64)
        span = int(np.prod([max(s, 1) for s in sizes], dtype=np.float64))
        if span <= max(4 * table.num_rows, 1 << 16):
            # Few possible keys (a source's usual shape): a count per key, no sort.
            if int(np.bincount(packed, minlength=span).max()) <= 1:
                return []
        else:
            ordered = np.sort(packed)
            if not (ordered[1:] == ordered[:-1]).any():
                return []
    counts = indices.group_by(keys).aggregate([([], "count_all")])
    dupes = counts.filter(pc.greater(counts.column("count_all"), 1))
    if dupes.num_rows == 0:
        return []
    # The example is the smallest duplicated key as text: the grouping runs on threads and
    # returns groups in any order, so its first row would differ from build to build.
    texts = pa.table(
        {n: combined.column(n).chunk(0).dictionary.take(dupes.column(n)) for n in keys}
    )
    first = texts.sort_by([(n, "ascending") for n in keys]).slice(0, 1).to_pylist()[0]
    return [
        Finding(
            code="duplicate-key",
            severity=Severity.ERROR,
            message=f"{dupes.num_rows} keys occur more than once after harmonization; first: "
            + ", ".join(f"{k}={v}" for k, v in first.items()),
            indicator=str(first["indicator"]),
            territory=str(first["territory"]),
            period=str(first["period"]),
            count=dupes.num_rows,
            source=source,
            hint="two source rows map to one observation: a code written two ways, a filter "
            "missing (e.g. a total row), or a breakdown not mapped",
        )
    ]


def _finding(
    problem: col.Problem,
    source: str,
    rule: HarmonizeRule,
    where: tuple[np.ndarray, np.ndarray, Sequence[tuple[str, str]]] | None,
) -> Finding:
    bad = problem.bad
    if isinstance(bad, pa.ChunkedArray):
        bad = bad.combine_chunks()
    count = int(pc.sum(pc.fill_null(bad, False)).as_py() or 0)
    first_index = pc.indices_nonzero(pc.fill_null(bad, False))
    first = int(first_index[0].as_py()) if len(first_index) else None
    column = problem.column
    if first is not None and where is not None:
        # Report the row and the wide column of the source table, not of the melted one.
        rows, cols, pairs = where
        stacked = (rule.melt.values_to, rule.melt.names_to, "value") if rule.melt else ()
        if problem.column in stacked:
            column = pairs[int(cols[first])][0]
        first = int(rows[first])
    shown = ", ".join(repr(v) for v in problem.values)
    what = {
        "unmapped-indicator": "source codes with no indicator",
        "deprecated-indicator": "former indicator ids, renamed to the surviving id",
        "unknown-territory": "territories not found in the registry",
        "ambiguous-territory": "territory names that match more than one territory",
        "invalid-period": "periods that cannot be read",
        "unknown-breakdown-code": "breakdown codes not in the code list",
        "invalid-value": "values that are not numbers",
        "unit-mismatch": "units that cannot be converted",
        "missing-unit": "rows whose unit is not known",
        "missing-value": "rows without a value",
        "non-finite-value": "values that are not finite (infinite or not a number)",
        "empty-key": "rows with an empty key cell",
        "restored-leading-zeros": "codes whose leading zeros were restored",
        "ceased-territory": "territory codes used after they ceased",
        "percent-sign": "values written with a percent sign (or formatted as percent) for an "
        "indicator not in percent, read as missing",
    }[problem.code]
    label = f" [{rule.name}]" if rule.name else ""
    return Finding(
        code=problem.code,
        severity=Severity(problem.severity),
        message=f"{count} rows{label}: {what}" + (f": {shown}" if shown else ""),
        hint=problem.hint,
        source=source,
        column=column,
        row=first,
        count=count,
    )
