"""Status and flag columns -> ``obs_status``, ``conf_status`` and ``flags``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from welfare_observatory.harmonize._arrow import as_text, map_distinct, take_results
from welfare_observatory.harmonize._columns import Problem, constant
from welfare_observatory.harmonize.rules import Marker, StatusRule
from welfare_observatory.model.observation import ObsStatus

__all__ = ["statuses"]

_EUROSTAT = {
    "p": "P",
    "e": "E",
    "s": "E",
    "f": "F",
    "u": "U",
    "b": "B",
    "d": "D",
    "n": "N",
    "z": "M",
}
_PRECEDENCE = "MPEFUBDN"


def statuses(
    table: pa.Table,
    rule: StatusRule,
    value: pa.Array,
    cell_flags: pa.Array | None = None,
    *,
    marker: pa.Array | None = None,
    markers: Mapping[str, Marker] | None = None,
    parsed: bool = False,
) -> tuple[pa.Array, pa.Array, pa.Array, list[Problem]]:
    """``(obs_status, conf_status, flags)``; a null value never keeps a 'has a value' status.

    A row whose value cell is a ``marker`` takes the marker's statuses first; the marker
    text is kept in ``flags`` when no flag column says otherwise. ``parsed``: the status
    columns are the ones the source parsed (not named by the rule), whose ``A``/``F`` on
    an ordinary number leave the rule's defaults in place.
    """
    plain = ("A", "F") if parsed else (None, None)
    n = table.num_rows
    obs: pa.Array | pa.ChunkedArray = pa.repeat(
        pa.scalar(rule.default_obs_status.value, pa.string()), n
    )
    conf: pa.Array | pa.ChunkedArray = pa.repeat(
        pa.scalar(rule.default_conf_status.value, pa.string()), n
    )
    defaults = (obs, conf)
    flags: pa.Array | pa.ChunkedArray = pa.nulls(n, pa.string())
    if rule.flags_column is not None or cell_flags is not None:
        if rule.flags_column is not None:
            raw = as_text(table.column(rule.flags_column)).cast(pa.string())
        else:
            raw = cell_flags
        flags = pc.utf8_trim_whitespace(raw)
        flags = pc.if_else(pc.equal(flags, ""), pa.scalar(None, pa.string()), flags)
        if rule.flags_scheme == "eurostat":
            results, indices, _ = map_distinct(flags, _eurostat)
            from_flags = take_results(
                [r[0] if r else None for r in results], indices, pa.string(), dictionary=False
            )
            conf_flags = take_results(
                [r[1] if r else None for r in results], indices, pa.string(), dictionary=False
            )
            obs = pc.coalesce(from_flags, obs)
            conf = pc.coalesce(conf_flags, conf)
    if rule.obs_status_column is not None and not _only_plain(
        table, rule.obs_status_column, rule.obs_status_map, plain[0]
    ):
        mapping = {k: v.value for k, v in rule.obs_status_map.items()}
        results, indices, _ = map_distinct(
            table.column(rule.obs_status_column),
            lambda v: _code(mapping.get(v.strip(), v.strip().upper()), plain[0]),
        )
        # No cell gives a status (a reader's A on every number): the default stands.
        if any(r is not None for r in results):
            obs = pc.coalesce(take_results(results, indices, pa.string(), dictionary=False), obs)
    if rule.conf_status_column is not None and not _only_plain(
        table, rule.conf_status_column, rule.conf_status_map, plain[1]
    ):
        cmap = {k: v.value for k, v in rule.conf_status_map.items()}
        results, indices, _ = map_distinct(
            table.column(rule.conf_status_column),
            lambda v: _code(cmap.get(v.strip(), v.strip().upper()), plain[1]),
        )
        if any(r is not None for r in results):
            conf = pc.coalesce(take_results(results, indices, pa.string(), dictionary=False), conf)
    if marker is not None and markers:
        keys = pa.array(sorted(markers), pa.string())
        index = pc.index_in(marker, value_set=keys)
        marker_obs = pa.array([markers[k].obs_status.value for k in keys.to_pylist()])
        conf_codes = [markers[k].conf_status for k in keys.to_pylist()]
        marker_conf = pa.array(
            [None if code is None else code.value for code in conf_codes], pa.string()
        )
        obs = pc.coalesce(pc.take(marker_obs, index), obs)
        conf = pc.coalesce(pc.take(marker_conf, index), conf)
        flags = pc.coalesce(flags, marker)
    # Never a silent missing: a value-less row keeps O/M/L, anything else becomes O.
    problems: list[Problem] = []
    if value.null_count == 0:
        # Every row has a value: no status to fix.
        return *_encoded(obs, conf, defaults, rule), flags, problems
    missing_codes = pa.array(["O", "M", "L"])
    no_value = pc.is_null(value)
    fix = pc.and_(no_value, pc.invert(pc.is_in(obs, missing_codes)))
    if pc.any(fix).as_py():
        obs = pc.if_else(fix, pa.scalar(ObsStatus.MISSING.value), obs)
        problems.append(
            Problem(
                "missing-value",
                "value",
                fix,
                [],
                "rows without a value get obs_status O (missing)",
                severity="info",
            )
        )
    return *_encoded(obs, conf, defaults, rule), flags, problems


def _encoded(
    obs: pa.Array | pa.ChunkedArray,
    conf: pa.Array | pa.ChunkedArray,
    defaults: tuple[pa.Array | pa.ChunkedArray, pa.Array | pa.ChunkedArray],
    rule: StatusRule,
) -> tuple[pa.Array | pa.ChunkedArray, pa.Array | pa.ChunkedArray]:
    """A status column still the rule's default on every row, as the dictionary array the
    canonical schema gives it (one code): no cast of the rows when the table conforms."""
    if obs is defaults[0]:
        obs = constant(len(obs), rule.default_obs_status.value)
    if conf is defaults[1]:
        conf = constant(len(conf), rule.default_conf_status.value)
    return obs, conf


def _only_plain(
    table: pa.Table, column: str, mapping: Mapping[str, Any], plain: str | None
) -> bool:
    """Whether every cell of a status column the source parsed is its plain code (A or F
    on an ordinary number), which gives no status: one comparison, no mapping per code."""
    data = table.column(column)
    if plain is None or plain in mapping or not pa.types.is_string(data.type):
        return False
    return bool(pc.all(pc.equal(data, plain)).as_py())


def _code(code: str, plain: str | None) -> str | None:
    return None if not code or code == plain else code


def _eurostat(flags: str) -> tuple[str | None, str | None]:
    letters = {_EUROSTAT[c] for c in flags.lower() if c in _EUROSTAT}
    obs = next((code for code in _PRECEDENCE if code in letters), None)
    return obs, ("C" if "c" in flags.lower() else None)
