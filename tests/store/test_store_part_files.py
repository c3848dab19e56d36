"""A domain of many rows is stored in several files of consecutive indicators, so that a
rebuild writes again only the file whose indicators changed and links the others.

Where one file ends depends on the indicator ids (and on a file holding enough rows), never
on another file's rows; read in order, a domain's files are sorted as one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory.store import edition
from welfare_observatory.store.edition import (
    PART_ROWS,
    Part,
    _ordered_part,
    _write_observations,
    part_groups,
)

from .test_store_domain_split import ByDomain, _table


def _cuts(indicator: str) -> bool:
    return hashlib.sha256(indicator.encode()).digest()[0] % 4 == 0


ids = st.lists(st.from_regex(r"[A-Z]{1,3}_[0-9]{1,3}", fullmatch=True), unique=True, max_size=40)


@st.composite
def tallies(draw: st.DrawFn) -> list[tuple[str, int]]:
    names = sorted(draw(ids))
    counts = st.integers(min_value=1, max_value=3 * PART_ROWS)
    return [(name, draw(counts)) for name in names]


@given(tallies())
def test_the_runs_are_the_ids_in_order_each_but_the_last_holding_enough_rows(
    counts: list[tuple[str, int]],
) -> None:
    groups = part_groups(counts)
    assert [i for group in groups for i in group] == [i for i, _ in counts]
    rows = dict(counts)
    for group in groups[:-1]:
        assert sum(rows[i] for i in group) >= PART_ROWS
    for group in groups[1:]:
        assert _cuts(group[0])  # a run starts only at an id that marks a cut
    assert all(groups) or groups == [()]


@given(tallies(), st.data())
def test_new_rows_for_one_indicator_leave_the_runs_before_it_alone(
    counts: list[tuple[str, int]], data: st.DataObject
) -> None:
    if not counts:
        return
    at = data.draw(st.integers(0, len(counts) - 1))
    changed = list(counts)
    changed[at] = (counts[at][0], data.draw(st.integers(1, 3 * PART_ROWS)))
    before, after = part_groups(counts), part_groups(changed)
    holding = next(n for n, group in enumerate(before) if counts[at][0] in group)
    assert after[:holding] == before[:holding]


def test_a_count_change_that_crosses_no_threshold_moves_no_cut() -> None:
    names = [f"IND_{n:03d}" for n in range(60)]
    counts = [(name, 5_000) for name in names]
    changed = [(name, 5_001 if n == 30 else 5_000) for n, name in enumerate(names)]
    assert part_groups(counts) == part_groups(changed)
    assert len(part_groups(counts)) > 1


def _wide(indicators: int, rows_each: int, domain: str = "health") -> pa.Table:
    """``indicators`` indicators of one domain, ``rows_each`` territories each, shuffled."""
    names = [f"IND_{n:03d}" for n in range(indicators)]
    indicator = [name for name in names for _ in range(rows_each)]
    territory = [f"{t:06d}" for _ in names for t in range(rows_each)]
    rows = list(zip(indicator, territory, [domain] * len(indicator), strict=True))
    table = _table(rows, 1, "plain")
    # A fixed shuffle (7919 is prime, coprime with any row count here).
    return table.take(pa.array([(n * 7919) % len(rows) for n in range(len(rows))]))


def test_a_large_domain_is_several_files_that_read_in_order_as_its_sorted_rows(
    tmp_path: Path,
) -> None:
    data = _wide(40, 2_000)
    record = _write_observations(data, tmp_path)
    files = record["files"]
    assert len(files) > 1 and all(f.startswith("domain=health/part-") for f in files)
    assert files == [f"domain=health/part-{n}.parquet" for n in range(len(files))]
    stored = pa.concat_tables([pq.read_table(tmp_path / f) for f in files])
    names = ["indicator", "territory", "period"]
    whole = _ordered_part(data, names)
    assert stored.num_rows == data.num_rows
    for name in [*names, "value"]:
        got = stored.column(name).to_pylist()
        assert got == whole.column(name).to_pylist()
    # No indicator is split between two files.
    seen: set[str] = set()
    for f in files:
        held = set(pq.read_table(tmp_path / f).column("indicator").to_pylist())
        assert not held & seen
        seen |= held


def test_a_small_domain_stays_one_file(tmp_path: Path) -> None:
    record = _write_observations(_wide(3, 100), tmp_path)
    assert record["files"] == ["domain=health/part-0.parquet"]


def test_only_the_file_of_changed_indicators_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _wide(40, 2_000)
    first = ByDomain({})
    _write_observations(data, tmp_path / "a", first)
    held = {
        f: set(pq.read_table(tmp_path / "a" / f).column("indicator").to_pylist())
        for f in first.files
    }

    class Unchanged(ByDomain):
        def earlier(self, part: Part) -> tuple[Path, str] | None:
            if "IND_007" in part.indicators:
                return None
            return tmp_path / "a" / part.file, first.files[part.file]

    writes: list[str] = []
    real = edition.write_parquet
    monkeypatch.setattr(
        edition,
        "write_parquet",
        lambda table, path, **options: writes.append(path.name) or real(table, path, **options),
    )
    again = Unchanged({})
    _write_observations(data, tmp_path / "b", again)
    [changed] = [f for f, indicators in held.items() if "IND_007" in indicators]
    assert writes == [Path(changed).name]
    assert again.files == first.files
    for f in first.files:
        assert (tmp_path / "b" / f).stat().st_nlink == (1 if f == changed else 2)


def test_rows_without_an_indicator_make_one_file_never_linked(tmp_path: Path) -> None:
    data = _wide(40, 2_000)
    indicator = data.column("indicator").cast(pa.string()).to_pylist()
    indicator[5] = None
    data = data.set_column(
        data.column_names.index("indicator"), "indicator", pa.array(indicator, pa.string())
    )
    earlier = tmp_path / "x.parquet"
    earlier.write_bytes(b"not these rows")
    links = ByDomain({"health": earlier})
    record = _write_observations(data, tmp_path / "out", links)
    assert record["files"] == ["domain=health/part-0.parquet"]
    assert links.files == {}  # named no indicator: nothing to note for the next build
    assert pq.read_table(tmp_path / "out" / record["files"][0]).num_rows == data.num_rows


def _rebatched(data: pa.Table, layout: str) -> pa.Table:
    """``data``'s rows in a batch per indicator, or half so and half in one batch."""
    by_indicator = [
        data.filter(pc.equal(data.column("indicator"), name)).combine_chunks().to_batches()[0]
        for name in sorted(set(data.column("indicator").to_pylist()))
    ]
    if layout == "a batch per indicator":
        return pa.Table.from_batches(by_indicator, data.schema)
    half = len(by_indicator) // 2
    rest = pa.Table.from_batches(by_indicator[half:], data.schema).combine_chunks()
    return pa.Table.from_batches([*by_indicator[:half], *rest.to_batches()], data.schema)


@pytest.mark.parametrize("layout", ["a batch per indicator", "half and half"])
def test_the_files_depend_on_the_rows_not_on_how_they_are_batched(
    tmp_path: Path, layout: str
) -> None:
    data = _wide(40, 2_000)
    one = _write_observations(data, tmp_path / "one")
    other = _write_observations(_rebatched(data, layout), tmp_path / "other")
    assert other == one and len(one["files"]) > 1
    for name in one["files"]:
        assert (tmp_path / "other" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_a_plain_text_indicator_column_is_split_as_a_dictionary_one(tmp_path: Path) -> None:
    data = _wide(40, 2_000)
    at = data.column_names.index("indicator")
    plain = data.set_column(at, "indicator", data.column(at).cast(pa.string()))
    one = _write_observations(data, tmp_path / "dictionary")
    other = _write_observations(plain, tmp_path / "plain")
    assert other["files"] == one["files"] and len(one["files"]) > 1
    for name in one["files"]:
        left = pq.read_table(tmp_path / "dictionary" / name)
        right = pq.read_table(tmp_path / "plain" / name)
        assert right.column("indicator").to_pylist() == left.column("indicator").to_pylist()
        assert right.column("value").to_pylist() == left.column("value").to_pylist()


def _chunked(table: pa.Table, size: int, own_dictionaries: bool) -> pa.Table:
    """``table`` in chunks of ``size`` rows; with ``own_dictionaries`` each chunk's
    dictionary columns are encoded anew (their own dictionaries, in first-seen order)."""
    pieces = []
    for start in range(0, table.num_rows, size):
        piece = table.slice(start, size)
        if own_dictionaries:
            for i, field in enumerate(piece.schema):
                if pa.types.is_dictionary(field.type):
                    plain = piece.column(i).cast(field.type.value_type)
                    piece = piece.set_column(i, field, plain.dictionary_encode())
        pieces.append(piece)
    return pa.concat_tables(pieces)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_however_the_rows_arrive_the_files_are_those_of_a_batch_per_indicator(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    indicators = data.draw(st.integers(1, 8), label="indicators")
    each = data.draw(st.integers(1, 5), label="rows each")
    domains = data.draw(st.sampled_from([("health",), ("health", "labour")]))
    rows = [
        (f"IND_{i}", f"{t:06d}", domains[i % len(domains)])
        for i in range(indicators)
        for t in range(each)
    ]
    base = _table(rows, 1, "plain")  # a value of its own on every row
    order = data.draw(st.permutations(range(len(rows))), label="order")
    arrived = _chunked(
        base.take(pa.array(order, pa.int64())),
        data.draw(st.integers(1, len(rows)), label="chunk rows"),
        data.draw(st.booleans(), label="own dictionaries"),
    )
    canonical = _rebatched(base, "a batch per indicator")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(edition, "PART_ROWS", data.draw(st.integers(1, 12), label="part rows"))
        patch.setattr(edition, "_CUT_ONE_IN", data.draw(st.integers(1, 3), label="one in"))
        one, other = tmp_path_factory.mktemp("arrived"), tmp_path_factory.mktemp("canonical")
        got = _write_observations(arrived, one)
        expected = _write_observations(canonical, other)
    assert got == expected
    names = ["indicator", "territory", "period"]
    for domain in domains[:indicators]:  # a domain of no indicator has no file
        files = [f for f in got["files"] if f.startswith(f"domain={domain}/")]
        for name in files:
            assert (one / name).read_bytes() == (other / name).read_bytes()
        stored = pa.concat_tables([pq.read_table(one / f) for f in files])
        mine = base.filter(pc.equal(base.column("domain"), domain))
        whole = _ordered_part(mine, names)
        for column in [*names, "value"]:
            assert stored.column(column).to_pylist() == whole.column(column).to_pylist()
