"""The saved derive output of a rebuild is cut into its indicator groups' rows
(``group_runs``) and its lineage ids are renamed (``_renamed``) per distinct value: plain
text and dictionary columns give the same answer, and every row lands in its own group."""

from __future__ import annotations

from itertools import pairwise

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory.build.derive import DeriveOutput, _renamed, group_runs, in_group_order

INDICATORS = ["A", "B", "C", "D", "E"]
rows = st.lists(st.sampled_from(INDICATORS), max_size=60)
split = st.lists(st.integers(0, 2), min_size=len(INDICATORS), max_size=len(INDICATORS))


def _groups(assign: list[int]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for indicator, group in zip(INDICATORS, assign, strict=True):
        groups.setdefault(f"g{group}", []).append(indicator)
    return groups


def _rows_by_group(table: pa.Table, runs: dict[str, list[tuple[int, int]]]) -> dict[str, list]:
    return {
        key: [r for start, stop in spans for r in table.slice(start, stop - start).to_pylist()]
        for key, spans in runs.items()
    }


@given(rows, split)
def test_runs_of_plain_text_equal_those_of_a_dictionary_column(
    values: list[str], assign: list[int]
) -> None:
    groups = _groups(assign)
    plain = pa.table({"indicator": pa.array(values, pa.string()), "n": range(len(values))})
    coded = plain.set_column(0, "indicator", plain.column(0).dictionary_encode())
    from_plain = group_runs(plain, groups)
    from_coded = group_runs(coded, groups)
    assert from_plain is not None and from_coded is not None
    by_plain = _rows_by_group(*from_plain)
    by_coded = _rows_by_group(*from_coded)
    assert by_plain == {
        k: [{**r, "indicator": str(r["indicator"])} for r in v] for k, v in by_coded.items()
    }
    for key, found in by_plain.items():
        assert all(r["indicator"] in groups[key] for r in found)
        assert sorted(r["n"] for r in found) == [
            n for n, v in enumerate(values) if v in groups[key]
        ]


def test_a_row_of_no_group_gives_no_runs() -> None:
    table = pa.table({"indicator": pa.array(["A", "Z"], pa.string())})
    assert group_runs(table, {"g": ["A"]}) is None


@given(st.lists(st.sampled_from(["s1", "s2", "s3", None]), max_size=40))
def test_renamed_ids_are_the_same_in_plain_text_and_dictionary_columns(
    ids: list[str | None],
) -> None:
    renamed = {"s1": "t1", "s3": "t3"}
    expected = [renamed.get(v, v) if v is not None else None for v in ids]
    plain = pa.chunked_array([pa.array(ids, pa.string())])
    coded = pa.chunked_array([plain.chunk(0).dictionary_encode()])
    got_plain = _renamed(plain, renamed)
    got_coded = _renamed(coded, renamed)
    assert got_plain.type == pa.string()
    assert got_plain.to_pylist() == expected
    assert got_coded.type == coded.type
    assert got_coded.to_pylist() == expected


@given(rows, split, st.sets(st.sampled_from(["g0", "g1", "g2"])))
def test_kept_groups_taken_as_few_slices_equal_one_slice_a_run(
    values: list[str], assign: list[int], fresh_keys: set[str]
) -> None:
    """``_pieces`` takes the kept groups' runs that follow each other as one slice: the
    rows and group spans are those of one slice per run (what it replaces)."""
    from welfare_observatory.build.derive import _pieces

    groups = _groups(assign)
    found = group_runs(pa.table({"indicator": values, "n": list(range(len(values)))}), groups)
    assert found is not None
    old, runs = found
    keys = sorted(groups)
    fresh = {k: groups[k] for k in keys if k in fresh_keys}
    ids = [i for k in fresh for i in fresh[k]]
    new = pa.table({"indicator": ids, "n": [-1 - j for j in range(len(ids))]})
    got, spans = _pieces(old, runs, new, fresh, keys)
    expected = []
    for key in keys:
        if key in fresh:
            names = set(fresh[key])
            expected += [r for r in new.to_pylist() if r["indicator"] in names]
        else:
            expected += [r for a, b in runs.get(key, []) for r in old.slice(a, b - a).to_pylist()]
    assert got.to_pylist() == expected
    assert [k for k, _, _ in spans] == keys
    for key, start, stop in spans:
        rows_of = [r["indicator"] for r in got.slice(start, stop - start).to_pylist()]
        assert set(rows_of) <= set(groups[key])
    assert spans[-1][2] == got.num_rows


@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(["x", "y", "z"]) | st.none(), max_size=5),
            st.sampled_from(["plain", "dictionary", "large"]),
        ),
        max_size=5,
    )
)
def test_the_union_of_the_tables_values_is_that_of_each_tables_distinct_values(
    columns: list[tuple[list[str | None], str]],
) -> None:
    """``_union`` (one value read off a one-value dictionary, one ``unique`` for the
    rest) gives the sorted distinct texts of every table (``DeriveScope.of``'s)."""
    from welfare_observatory._arrow import distinct
    from welfare_observatory.build.derive import _union

    tables = []
    for values, kind in columns:
        array = pa.array(values, pa.large_string() if kind == "large" else pa.string())
        if kind == "dictionary":
            array = array.dictionary_encode()
        tables.append(pa.table({"lineage": array}))
    expected = tuple(sorted({v for t in tables for v in distinct(t, "lineage")}))
    assert _union(tables, "lineage") == expected


@given(
    st.lists(st.lists(st.sampled_from(["s1", "s2", "s3", None]), max_size=8), max_size=5),
    st.dictionaries(st.sampled_from(["s1", "s2", "s9"]), st.sampled_from(["s1", "t1", "t2"])),
)
def test_renamed_chunks_without_a_renamed_id_are_kept_as_they_are(
    pieces: list[list[str | None]], renamed: dict[str, str]
) -> None:
    """Chunks whose dictionary holds no renamed id (or only ids renamed to themselves) are
    taken as they are, the others renamed: the values are those of a rename row by row."""
    chunks = [pa.array(p, pa.string()).dictionary_encode() for p in pieces]
    column = pa.chunked_array(chunks, pa.dictionary(pa.int32(), pa.string()))
    expected = [renamed.get(v, v) if v is not None else None for p in pieces for v in p]
    got = _renamed(column, renamed)
    assert got.type == column.type
    assert got.to_pylist() == expected
    if not any(renamed.get(v, v) != v for p in pieces for v in p if v is not None):
        assert got is column


def _runs_row_by_row(
    table: pa.Table, groups: dict[str, list[str]]
) -> tuple[pa.Table, dict[str, list[tuple[int, int]]]] | None:
    """What ``group_runs`` replaced: each row's group read off the whole column, the table
    put in group order (stable) when it has more than ``4 * groups + 64`` runs."""
    keys = sorted(groups)
    place = {i: k for k, key in enumerate(keys) for i in groups[key]}
    of_row = [place.get(v, len(keys)) for v in table.column("indicator").to_pylist()]
    if len(keys) in of_row:
        return None
    starts = [r for r in range(1, len(of_row)) if of_row[r] != of_row[r - 1]]
    if len(starts) > 4 * len(keys) + 64:
        order = sorted(range(len(of_row)), key=lambda r: of_row[r])
        table = table.take(pa.array(order, pa.int64()))
        of_row = [of_row[r] for r in order]
        starts = [r for r in range(1, len(of_row)) if of_row[r] != of_row[r - 1]]
    bounds = [0, *starts, len(of_row)] if of_row else []
    runs: dict[str, list[tuple[int, int]]] = {key: [] for key in keys}
    for start, stop in pairwise(bounds):
        runs[keys[of_row[start]]].append((start, stop))
    return table, runs


@given(
    st.lists(st.lists(st.sampled_from(INDICATORS), max_size=120), max_size=6),
    split,
    st.sampled_from(["plain", "dictionary", "shared"]),
)
def test_runs_found_a_run_at_a_time_are_those_found_a_row_at_a_time(
    pieces: list[list[str]], assign: list[int], kind: str
) -> None:
    """``group_runs`` reads the runs of equal indicator per chunk (an entry a run, not a
    row): the runs, the order it leaves the rows in and the rows are those of reading each
    row's group, whatever the chunks (empty ones, runs across chunks, dictionaries shared,
    one a chunk, or none), scattered rows included (past the threshold they are sorted)."""
    groups = _groups(assign)
    shared = pa.array(INDICATORS, pa.string())
    chunks: list[pa.Array] = []
    for piece in pieces:
        array = pa.array(piece, pa.string())
        if kind == "dictionary":
            array = array.dictionary_encode()
        elif kind == "shared":
            indices = pa.array([INDICATORS.index(v) for v in piece], pa.int32())
            array = pa.DictionaryArray.from_arrays(indices, shared)
        chunks.append(array)
    column_type = pa.string() if kind == "plain" else pa.dictionary(pa.int32(), pa.string())
    column = pa.chunked_array(chunks, column_type)
    table = pa.table({"indicator": column, "n": pa.array(range(len(column)), pa.int64())})
    expected = _runs_row_by_row(table, groups)
    got = group_runs(table, groups)
    assert expected is not None and got is not None
    assert got[1] == expected[1]
    assert got[0].column("n").to_pylist() == expected[0].column("n").to_pylist()
    if sum(len(spans) for spans in got[1].values()) <= 4 * len(groups) + 64:
        assert got[0] is table  # in group order enough: not copied


@given(st.integers(0, 3), st.integers(1, 5))
def test_scattered_rows_are_put_in_group_order(length: int, repeat: int) -> None:
    """Past ``4 * groups + 64`` runs the rows are sorted (stably) into group order: one run
    a group, the rows of each group in their order."""
    values = ["A", "B"] * (40 * repeat + length)
    table = pa.table({"indicator": values, "n": list(range(len(values)))})
    found = group_runs(table, {"g0": ["A"], "g1": ["B"]})
    assert found is not None
    ordered, runs = found
    half = len(values) // 2
    assert runs == {"g0": [(0, half)], "g1": [(half, len(values))]}
    assert ordered.column("n").to_pylist() == [*range(0, len(values), 2), *range(1, len(values), 2)]


def test_a_row_without_indicator_gives_no_runs() -> None:
    """A missing indicator is of no group, plain text or dictionary (the next build derives
    everything again, never misreads it)."""
    plain = pa.table({"indicator": pa.array(["A", None], pa.string())})
    assert group_runs(plain, {"g": ["A"]}) is None
    coded = plain.set_column(0, "indicator", plain.column(0).dictionary_encode())
    assert group_runs(coded, {"g": ["A"]}) is None


def _output(
    values: list[str], covered: list[str] | None, groups: dict[str, list[str]]
) -> DeriveOutput:
    coverage = None
    if covered is not None:
        coverage = pa.table({"indicator": covered, "m": list(range(len(covered)))})
    return DeriveOutput(
        observations=pa.table({"indicator": values, "n": list(range(len(values)))}),
        findings=[],
        steps=[],
        coverage=coverage,
        parts=[],
        groups=groups,
    )


@given(rows, split, st.integers(0, 200), st.booleans())
def test_in_group_order_is_what_saving_would_reorder(
    values: list[str], assign: list[int], repeat: int, with_coverage: bool
) -> None:
    """``in_group_order`` gives the rows (and coverage) ``group_runs`` would save, once:
    the save finds them in order and copies nothing more; rows in order enough are the
    output itself."""
    import dataclasses

    groups = _groups(assign)
    scattered = (values * (1 + repeat // 40))[: 40 + 3 * repeat]
    out = _output(scattered, values if with_coverage else None, groups)
    got = in_group_order(out)
    if len(groups) < 2:
        assert got is out
        return
    expected = group_runs(out.observations, groups)
    assert expected is not None
    assert got.observations.equals(expected[0])
    if with_coverage:
        assert out.coverage is not None and got.coverage is not None
        covered = group_runs(out.coverage, groups)
        assert covered is not None and got.coverage.equals(covered[0])
    found = group_runs(got.observations, groups)
    assert found is not None and found[0] is got.observations and found[1] == expected[1]
    if expected[0] is out.observations and (not with_coverage or got.coverage is out.coverage):
        assert got is out
    assert dataclasses.replace(got, observations=out.observations, coverage=out.coverage) == out


def test_in_group_order_leaves_what_is_not_saved_by_groups() -> None:
    """Rows derive put in group order (a rebuild's), without finding parts, of one group or
    with a row of no group are left as they are (saved so, see ``reuse._grouped``)."""
    import dataclasses

    groups = {"g0": ["A"], "g1": ["B"]}
    out = _output(["A", "B"] * 100, None, groups)
    assert in_group_order(out) is not out
    for kept in (
        dataclasses.replace(out, runs=({"g0": [], "g1": []}, None)),
        dataclasses.replace(out, parts=None),
        dataclasses.replace(out, groups={"g": ["A", "B"]}),
        dataclasses.replace(out, groups={"g0": ["A"], "g1": ["C"]}),
    ):
        assert in_group_order(kept) is kept
