"""A saved result's rows in several files (a few groups each): a rebuild writes the files
whose rows changed and hard-links the others, and unchanged analyses, from the result it
read. What a build reads from them must be what one file gave, and a damaged file (linked
into two results: damaged in both) is derived again, never trusted."""

from __future__ import annotations

import functools
import itertools
import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_derive_groups import build, edition, make_grouped_observatory
from test_pipeline_derive_groups import derived_indicators as derived_indicators
from test_pipeline_incremental import change_last_value

from welfare_observatory.build import reuse
from welfare_observatory.observatory import load_observatory

from ._sealed import write_record


@pytest.fixture
def one_group_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reuse, "_GROUPS_PER_FILE", 1)


def _newest(kb: Path) -> Path:
    return max((kb / ".steps").glob("derived-*"), key=lambda p: p.stat().st_mtime_ns)


def _meta(folder: Path) -> dict[str, object]:
    loaded = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _group_rows(folder: Path) -> dict[str, pa.Table]:
    """Each group's rows in a saved result, through its ranges over its files' rows."""
    meta = _meta(folder)
    names = reuse._row_files(meta)
    rows = pa.concat_tables([reuse._mapped(folder / n) for n in names])
    ranges = meta["ranges"]
    assert isinstance(ranges, dict)
    found = reuse._runs_of(ranges["rows"], rows)
    return {k: pa.concat_tables([rows.slice(a, b - a) for a, b in v]) for k, v in found.items()}


def _decoded(table: pa.Table) -> pa.Table:
    """``table`` with its dictionary columns as their values (files' dictionaries differ)."""
    for at, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            plain = pa.field(field.name, field.type.value_type, field.nullable)
            table = table.set_column(at, plain, pc.cast(table.column(at), plain.type))
    return table


def _sorted(table: pa.Table) -> pa.Table:
    """``table`` decoded, in the order of all its columns: derive does not promise the
    order of a group's rows (two fresh builds of a formula group may differ)."""
    plain = _decoded(table)
    return plain.sort_by([(name, "ascending") for name in plain.column_names])


def _reused(folder: Path, kb: Path) -> bool:
    lines: list[str] = []
    load_observatory(folder).build(out=kb, offline=True, progress=lines.append)
    return any("results reused" in line for line in lines)


@pytest.mark.parametrize("per_file", [1, 2, 3])
def test_rows_in_several_files_are_the_rows_of_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_file: int
) -> None:
    """Each group's rows, as saved in one file and in files of ``per_file`` groups, are
    the same rows; each file holds whole groups; editions are equal,
    built, rebuilt and reused whole."""
    folder = make_grouped_observatory(tmp_path / "obs")
    one = build(folder, tmp_path / "one")
    monkeypatch.setattr(reuse, "_GROUPS_PER_FILE", per_file)
    many = build(folder, tmp_path / "many")
    assert edition(many) == edition(one)
    whole, split = _group_rows(_newest(tmp_path / "one")), _group_rows(_newest(tmp_path / "many"))
    assert split.keys() == whole.keys()
    for key, rows in whole.items():
        assert _sorted(split[key]).equals(_sorted(rows))
    meta = _meta(_newest(tmp_path / "many"))
    names = reuse._row_files(meta)
    assert len(names) == -(-len(whole) // per_file) > 1
    groups = meta["groups"]
    assert isinstance(groups, dict)
    for name in names:
        column = reuse._mapped(_newest(tmp_path / "many") / name)["indicator"]
        indicators = set(pc.unique(column).to_pylist())
        owners = {k for k, ids in groups.items() if indicators & set(ids)}
        assert len(owners) <= per_file
    assert _reused(folder, tmp_path / "many")
    assert edition(build(folder, tmp_path / "many")) == edition(one)
    change_last_value(folder / "data" / "t_health_b.csv")
    assert edition(build(folder, tmp_path / "many")) == edition(build(folder, tmp_path / "fresh"))


def test_a_rebuild_links_the_files_whose_rows_did_not_change(
    tmp_path: Path, one_group_a_file: None, derived_indicators: list[set[str]]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    first = _newest(tmp_path / "kb")
    change_last_value(folder / "data" / "t_health_b.csv")
    again = build(folder, tmp_path / "kb")
    second = _newest(tmp_path / "kb")
    assert second != first and derived_indicators[1] == {"T_HEALTH_B"}
    names = reuse._row_files(_meta(second))
    assert names == reuse._row_files(_meta(first))
    linked = {n for n in names if (first / n).stat().st_ino == (second / n).stat().st_ino}
    written = set(names) - linked

    def indicators(file: Path) -> set[str]:
        return set(pc.unique(reuse._mapped(file)["indicator"]).to_pylist())

    of = {frozenset(indicators(second / n)): n for n in names}
    assert of[frozenset({"T_HEALTH_B"})] in written
    assert of[frozenset({"T_HEALTH_A"})] in linked
    # Written again only where the rows changed: the changed source's, and a rate's whose
    # lineage names a derive step (its id is made of every source).
    for name in written:
        assert not _sorted(reuse._mapped(first / name)).equals(
            _sorted(reuse._mapped(second / name))
        )
    # Every linked file has the digest it has in the result it came from, and its bytes.
    sums = _meta(second)["sha256"]
    assert isinstance(sums, dict)
    for name in sums:
        assert reuse._file_sha256(second / name) == sums[name]
    assert edition(again) == edition(build(folder, tmp_path / "fresh"))
    # The next rebuild reads the linked files as its own.
    change_last_value(folder / "data" / "t_edu_b.csv")
    third = build(folder, tmp_path / "kb")
    assert derived_indicators[-1] == {"T_EDU_A", "T_EDU_B", "T_EDU_C"}
    assert edition(third) == edition(build(folder, tmp_path / "fresh2"))


@pytest.mark.parametrize("damage", ["bytes", "missing", "replaced"])
def test_a_damaged_linked_file_is_caught_in_both_results(
    tmp_path: Path, one_group_a_file: None, derived_indicators: list[set[str]], damage: str
) -> None:
    """A file linked from the first result into the second is one file: damaged, both
    results refuse it (reused whole or per group: a whole derive)."""
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    first = _newest(tmp_path / "kb")
    source = folder / "data" / "t_health_b.csv"
    original = source.read_bytes()
    change_last_value(source)
    build(folder, tmp_path / "kb")
    second = _newest(tmp_path / "kb")
    name = next(
        n
        for n in reuse._row_files(_meta(second))
        if (first / n).stat().st_ino == (second / n).stat().st_ino
        and reuse._mapped(second / n).num_rows
    )
    file = second / name
    if damage == "bytes":
        data = bytearray(file.read_bytes())
        data[len(data) // 2] ^= 0xFF
        with file.open("r+b") as handle:  # in place: the other result's name sees it too
            handle.write(bytes(data))
        assert (first / name).read_bytes() == bytes(data)
    elif damage == "missing":
        file.unlink()
        (first / name).unlink()
    else:
        # Another file under the name (the same rows written again: bytes that differ).
        table = reuse._mapped(first / name)
        for folder_ in (first, second):
            (folder_ / name).unlink()
            reuse._write_arrow(table.slice(0, table.num_rows // 2), folder_ / name)
    calls = len(derived_indicators)
    assert not _reused(folder, tmp_path / "kb")
    assert len(derived_indicators) == calls + 1
    assert derived_indicators[-1] == derived_indicators[0]
    fresh = build(folder, tmp_path / "fresh")
    assert edition(build(folder, tmp_path / "kb")) == edition(fresh)
    # The first result (the input it was made of again) refuses it too.
    source.write_bytes(original)
    calls = len(derived_indicators)
    assert not _reused(folder, tmp_path / "kb")
    assert derived_indicators[calls:][-1] == derived_indicators[0]
    assert edition(build(folder, tmp_path / "kb")) == edition(build(folder, tmp_path / "fresh0"))


def test_a_result_listing_files_that_are_not_plain_names_is_not_read(
    tmp_path: Path, derived_indicators: list[set[str]]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    saved = _newest(tmp_path / "kb")
    meta = _meta(saved)
    for bad in (["../observations.arrow"], [], "observations.arrow", ["meta.json"]):
        meta["rows"] = bad
        write_record(saved / "meta.json", meta)
        assert reuse.load_derived(tmp_path / "kb" / ".steps", saved.name[len("derived-") :]) is None
        assert reuse.load_grouped(tmp_path / "kb" / ".steps") is None
    assert edition(build(folder, tmp_path / "kb")) == edition(first)


def _table(values: list[float | None]) -> pa.Table:
    return pa.table({"v": pa.array(values, pa.float64())}).replace_schema_metadata({"k": "1"})


def test_put_links_only_an_equal_checked_unchanged_file(tmp_path: Path) -> None:
    """:func:`reuse._put` against what it replaces (writing and hashing): a link when the
    last result's file holds an equal table, passed its check and is the same file."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    table = _table([1.0, None, 3.0])
    reuse._write_arrow(table, old / "a.arrow")
    digest = reuse._file_sha256(old / "a.arrow")

    def put(table: pa.Table, intact: bool = True) -> tuple[str, bool]:
        reuse._PREVIOUS.clear()
        reuse._keep(old / "a.arrow", reuse._mapped(old / "a.arrow"), digest, lambda: intact)
        (new / "a.arrow").unlink(missing_ok=True)
        got = reuse._put(table, new / "a.arrow")
        assert got == reuse._file_sha256(new / "a.arrow")
        assert reuse._mapped(new / "a.arrow").equals(table)
        return got, (new / "a.arrow").stat().st_ino == (old / "a.arrow").stat().st_ino

    try:
        assert put(pa.concat_tables([table.slice(0, 1), table.slice(1)])) == (digest, True)
        assert put(_table([1.0, None, 4.0]))[1] is False
        assert put(table.replace_schema_metadata({"k": "2"}))[1] is False
        assert put(table, intact=False)[1] is False
        nan = _table([float("nan")])
        assert reuse._same(nan, nan) and not reuse._same(nan, _table([float("nan")]))
        # Replaced since it was read (another inode): written, not linked.
        reuse._PREVIOUS.clear()
        reuse._keep(old / "a.arrow", reuse._mapped(old / "a.arrow"), digest, None)
        os.replace(new / "a.arrow", tmp_path / "moved.arrow")
        reuse._write_arrow(table, tmp_path / "other.arrow")
        os.replace(tmp_path / "other.arrow", old / "a.arrow")
        assert reuse._put(table, new / "b.arrow") == reuse._file_sha256(new / "b.arrow")
        assert (new / "b.arrow").stat().st_ino != (old / "a.arrow").stat().st_ino
    finally:
        reuse._PREVIOUS.clear()


def test_views_of_the_same_memory_are_the_same_table_unread(tmp_path: Path) -> None:
    """Slices of one mapped file (what a rebuild keeps of the last result) are equal
    without their values being compared: a NaN among them, which no value comparison
    calls equal, shows it. Other memory with equal values is still compared by value."""
    rows = pa.table(
        {
            "v": pa.array([1.0, float("nan"), 3.0, 4.0], pa.float64()),
            "t": pa.array(["a", "b", "a", None]).dictionary_encode(),
            "s": pa.array(["x", "y", None, "z"], pa.large_string()),
        }
    )
    reuse._write_arrow(rows, tmp_path / "a.arrow")
    mapped = reuse._mapped(tmp_path / "a.arrow")
    assert reuse._same(mapped.slice(1, 2), mapped.slice(1, 2))
    assert reuse._same(mapped, mapped.slice(0))
    # Chunked otherwise than the file's one batch: compared by value, the NaN differs.
    assert not reuse._same(mapped, pa.concat_tables([mapped.slice(0, 2), mapped.slice(2)]))
    assert not reuse._same(mapped.slice(0, 2), mapped.slice(1, 2))
    copied = reuse._mapped(tmp_path / "a.arrow")  # a second mapping: other memory
    assert not reuse._same(mapped, copied)  # compared by value: NaN != NaN
    finite = rows.set_column(0, "v", pa.array([1.0, 2.0, 3.0, 4.0]))
    reuse._write_arrow(finite, tmp_path / "b.arrow")
    assert reuse._same(reuse._mapped(tmp_path / "b.arrow"), reuse._mapped(tmp_path / "b.arrow"))
    assert not reuse._same(
        reuse._mapped(tmp_path / "b.arrow").slice(0, 3), finite.slice(1, 3)
    )  # other values
    # The same indices on another dictionary (a rebuild renames derive steps in the
    # lineage dictionary, not in the rows): other values, compared and found to differ.
    indices = mapped.column("t").chunk(0).indices
    renamed = pa.DictionaryArray.from_arrays(indices, pa.array(["q", "r"]))
    assert not reuse._same(mapped, mapped.set_column(1, "t", pa.chunked_array([renamed])))


class _Tagged(pa.ExtensionType):
    """An extension type over a dictionary: its buffers leave out the dictionary."""

    def __init__(self) -> None:
        super().__init__(pa.dictionary(pa.int8(), pa.string()), "test.tagged")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> _Tagged:
        return cls()


def test_extension_columns_are_compared_by_value() -> None:
    """Same index buffers on other dictionaries: never taken as the same memory."""
    indices = pa.array([0, 1, 0], pa.int8())
    ab = pa.DictionaryArray.from_arrays(indices, pa.array(["a", "b"]))
    cd = pa.DictionaryArray.from_arrays(indices, pa.array(["c", "d"]))
    left = pa.table({"x": pa.ExtensionArray.from_storage(_Tagged(), ab)})
    right = pa.table({"x": pa.ExtensionArray.from_storage(_Tagged(), cd)})
    assert not reuse._shares_memory(left.column("x"), right.column("x"))
    column = pa.chunked_array([ab])
    assert reuse._shares_memory(column, column)  # a dictionary column of its own: unread
    assert not reuse._same(left, right)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 5), min_size=1, max_size=12),
    per_file=st.integers(1, 5),
    scattered=st.booleans(),
)
def test_row_blocks_hold_every_group_whole(
    sizes: list[int], per_file: int, scattered: bool
) -> None:
    """Whatever the groups' runs, the files hold every row once, each group's rows in one
    run, in the order of its runs, ``per_file`` groups a file."""
    keys = [f"k{i:02d}" for i in range(len(sizes))]
    order = [k for k, n in zip(keys, sizes, strict=True) for _ in range(n)]
    if scattered:
        order = order[::2] + order[1::2]
    table = pa.table({"g": order, "i": list(range(len(order)))})
    runs: dict[str, list[tuple[int, int]]] = {k: [] for k in keys}
    for at, key in enumerate(order):
        if runs[key] and runs[key][-1][1] == at:
            runs[key][-1] = (runs[key][-1][0], at + 1)
        else:
            runs[key].append((at, at + 1))
    groups = {k: [f"IND_{len(keys) - i}"] for i, k in enumerate(keys)}
    real = reuse._GROUPS_PER_FILE
    reuse._GROUPS_PER_FILE = per_file
    try:
        blocks, saved = reuse._row_blocks(table, runs, groups)
    finally:
        reuse._GROUPS_PER_FILE = real
    assert len(blocks) == max(1, -(-len(keys) // per_file))
    rows = pa.concat_tables(blocks)
    reuse._runs_of({k: [list(r) for r in v] for k, v in saved.items()}, rows)
    for key in keys:
        mine = [i for i, k in zip(table["i"].to_pylist(), order, strict=True) if k == key]
        got = [i for a, b in saved[key] for i in rows["i"].slice(a, b - a).to_pylist()]
        assert got == mine
    at = 0
    for block in blocks:
        assert len(set(block["g"].to_pylist())) <= per_file
        at += block.num_rows
    assert at == len(order)


def _analyses(folder: Path) -> dict[str, pa.Table]:
    meta = _meta(folder)
    names = meta["analyses"]
    assert isinstance(names, list)
    return reuse._read_analyses(folder, meta, names, reuse._digests(meta))


def test_analyses_in_files_of_rows_are_the_analyses_of_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each analysis saved in files of a few rows is the analysis saved in one; a rebuild
    links the files whose rows are the same and writes the others, and gives the fresh
    build's edition; the next rebuild reads them as its own."""
    folder = make_grouped_observatory(tmp_path / "obs")
    one = build(folder, tmp_path / "one")
    monkeypatch.setattr(reuse, "_ANALYSIS_ROWS", 5)
    many = build(folder, tmp_path / "many")
    assert edition(many) == edition(one)
    whole, split = _analyses(_newest(tmp_path / "one")), _analyses(_newest(tmp_path / "many"))
    assert whole.keys() == split.keys()
    for name, table in whole.items():
        assert _sorted(split[name]).equals(_sorted(table))
    first = _newest(tmp_path / "many")
    listed = _meta(first)["analysis_files"]
    assert isinstance(listed, dict) and max(len(v) for v in listed.values()) > 2
    change_last_value(folder / "data" / "t_health_b.csv")
    again = build(folder, tmp_path / "many")
    assert edition(again) == edition(build(folder, tmp_path / "fresh"))
    second = _newest(tmp_path / "many")
    files = [f for v in _meta(second)["analysis_files"].values() for f in v]  # type: ignore[union-attr]
    linked = [f for f in files if (first / f).exists() and _inode(first / f) == _inode(second / f)]
    assert linked and len(linked) < len(files)
    for file in set(files) - set(linked):
        if (first / file).exists():
            assert not reuse._mapped(first / file).equals(reuse._mapped(second / file))
    sums = _meta(second)["sha256"]
    assert isinstance(sums, dict)
    for file in files:
        assert reuse._file_sha256(second / file) == sums[file]
    change_last_value(folder / "data" / "t_edu_b.csv")
    assert edition(build(folder, tmp_path / "many")) == edition(build(folder, tmp_path / "fr2"))


def _inode(path: Path) -> int:
    return path.stat().st_ino


def test_a_damaged_linked_analysis_file_is_analysed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.build import analyze as analyze_module

    monkeypatch.setattr(reuse, "_ANALYSIS_ROWS", 5)
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    first = _newest(tmp_path / "kb")
    change_last_value(folder / "data" / "t_health_b.csv")
    build(folder, tmp_path / "kb")
    second = _newest(tmp_path / "kb")
    files = [f for v in _meta(second)["analysis_files"].values() for f in v]  # type: ignore[union-attr]
    file = next(
        f for f in files if (first / f).exists() and _inode(first / f) == _inode(second / f)
    )
    data = bytearray((second / file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    with (second / file).open("r+b") as handle:
        handle.write(bytes(data))
    whole: list[int] = []
    real = analyze_module.analyze_stage

    def spy(observations: pa.Table, env: object) -> object:
        whole.append(observations.num_rows)
        return real(observations, env)  # type: ignore[arg-type]

    monkeypatch.setattr(analyze_module, "analyze_stage", spy)
    # Reused whole: refused; per indicator (the next change): refused, analysed whole.
    assert not _reused(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_health_a.csv")
    again = build(folder, tmp_path / "kb")
    assert len(whole) == 2
    assert edition(again) == edition(build(folder, tmp_path / "fresh"))


def test_rows_staged_ahead_save_what_one_call_saves(tmp_path: Path) -> None:
    """:func:`reuse.stage_rows` then :func:`reuse.save_derived` (a build: rows while
    analyze runs) save the very files and meta one call saves; staged for a result saved
    already, nothing is written; a staging folder a failed build leaves is dropped."""
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    saved = _newest(tmp_path / "kb")
    key = saved.name[len("derived-") :]
    meta = _meta(saved)
    derived = reuse.load_derived(tmp_path / "kb" / ".steps", key)
    assert derived is not None
    extra = {"fingerprints": meta["fingerprints"], "analysis_key": meta["analysis_key"]}
    one, two = tmp_path / "one", tmp_path / "two"
    reuse.save_derived(one, key, derived, **extra)  # type: ignore[arg-type]
    staged = reuse.stage_rows(two, key, derived.derive)
    assert staged.staging is not None and not (two / saved.name).exists()
    reuse.save_derived(two, key, derived, rows=staged, **extra)  # type: ignore[arg-type]
    assert not staged.staging.exists()
    files = sorted(p.name for p in (one / saved.name).iterdir())
    assert files == sorted(p.name for p in (two / saved.name).iterdir())
    for name in files:
        if name == "meta.json":
            assert _meta(one / saved.name) == _meta(two / saved.name)
        else:
            assert (one / saved.name / name).read_bytes() == (two / saved.name / name).read_bytes()
    assert reuse.stage_rows(two, key, derived.derive).staging is None
    left = reuse.stage_rows(tmp_path / "three", key, derived.derive)
    assert left.staging is not None and left.staging.is_dir()
    reuse.drop_leftovers(tmp_path / "three")
    assert not left.staging.exists()


def _with_a_bad_index(file: Path) -> None:
    """``file`` rewritten with one territory index past its dictionary (a damage that
    a byte flip rarely gives: the file is well formed, its values are not)."""
    table = reuse._mapped(file)
    at = table.schema.get_field_index("territory")
    column = table.column(at).combine_chunks()
    indices = column.indices.to_pylist()
    indices[0] = 10**6
    bad = pa.DictionaryArray.from_arrays(
        pa.array(indices, column.indices.type), column.dictionary, safe=False
    )
    table = table.set_column(at, table.schema.field(at), pa.chunked_array([bad]))
    file.unlink()
    reuse._write_arrow(table, file)


def test_a_saved_rows_file_with_an_index_out_of_its_dictionary_is_derived_again(
    tmp_path: Path, one_group_a_file: None, derived_indicators: list[set[str]]
) -> None:
    """The damaged file fails its check before its values are compared with the new rows:
    the rebuild derives again and saves a result of its own (the next one does not fail
    either), and its edition is a fresh build's."""
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    newest = _newest(tmp_path / "kb")
    name = next(n for n in reuse._row_files(_meta(newest)) if reuse._mapped(newest / n).num_rows)
    _with_a_bad_index(newest / name)
    for file in ("t_health_b.csv", "t_edu_b.csv"):
        change_last_value(folder / "data" / file)
        again = build(folder, tmp_path / "kb")
        assert edition(again) == edition(build(folder, tmp_path / f"fresh-{file}"))
    assert _newest(tmp_path / "kb") != newest


def test_a_kept_file_of_another_knowledge_base_is_never_linked(tmp_path: Path) -> None:
    """What a build of one knowledge base kept is not linked into another's results, even
    when the tables are equal: each knowledge base's results hold their own files."""
    table = pa.table({"a": [1, 2, 3]})
    mine, theirs = tmp_path / "kb1" / ".steps", tmp_path / "kb2" / ".steps"
    for steps in (mine, theirs):
        (steps / "derived-old").mkdir(parents=True)
        (steps / ".derived-new.tmp").mkdir()
    reuse._write_arrow(table, theirs / "derived-old" / "x.arrow")
    digest = reuse._file_sha256(theirs / "derived-old" / "x.arrow")
    try:
        reuse._keep(theirs / "derived-old" / "x.arrow", table, digest, None)
        reuse._put(table, mine / ".derived-new.tmp" / "x.arrow")
        assert (mine / ".derived-new.tmp" / "x.arrow").stat().st_nlink == 1
        reuse._put(table, theirs / ".derived-new.tmp" / "x.arrow")
        assert (theirs / ".derived-new.tmp" / "x.arrow").stat().st_nlink == 2
    finally:
        reuse.forget_saved()


def test_a_build_leaves_no_saved_file_mapped_behind(tmp_path: Path) -> None:
    """After a build (and a rebuild) nothing it mapped of its saved results stays held by
    the process: the next build, of any knowledge base, starts from nothing."""
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_health_b.csv")
    build(folder, tmp_path / "kb")
    assert reuse._PREVIOUS == {}
    assert reuse._EARLY == {}


def test_a_failing_analyze_waits_for_the_saved_rows_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When analyze fails in a rebuild, the build returns only once the worker saving the
    derived rows has finished: nothing writes into the saved results after it."""
    import threading
    import time

    from welfare_observatory.build import analyze as analyze_module

    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    finished = threading.Event()
    real = reuse.stage_rows

    def slow(*args: object, **kwargs: object) -> object:
        time.sleep(0.5)
        try:
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            finished.set()

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("analyze broke")

    monkeypatch.setattr(reuse, "stage_rows", slow)
    monkeypatch.setattr(analyze_module, "analyze_stage", broken)
    monkeypatch.setattr(reuse, "analyze_incrementally", lambda *a, **k: None)
    change_last_value(folder / "data" / "t_health_b.csv")
    with pytest.raises(RuntimeError, match="analyze broke"):
        build(folder, tmp_path / "kb")
    assert finished.is_set()


def _rows_files(kb: Path) -> list[Path]:
    """The non-empty rows files of the newest saved result in ``kb``."""
    newest = _newest(kb)
    names = reuse._row_files(_meta(newest))
    return [newest / n for n in names if reuse._mapped(newest / n).num_rows]


def _damage(file: Path) -> None:
    """Replace ``file`` by its bytes with one flipped (a new inode, as a writer leaves)."""
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    spare = file.with_name(file.name + ".new")
    spare.write_bytes(bytes(data))
    os.replace(spare, file)


def _counting_checks(monkeypatch: pytest.MonkeyPatch) -> list[list[Path]]:
    """Every check :func:`reuse._check` starts from now, as the paths it checks."""
    started: list[list[Path]] = []
    real = reuse._check

    def counted(files: list[reuse._SavedFile]) -> list[reuse._SavedFile]:
        started.append([f.path for f in files])
        return real(files)

    monkeypatch.setattr(reuse, "_check", counted)
    return started


def test_load_grouped_without_the_early_check_refuses_a_damaged_rows_file(
    tmp_path: Path, one_group_a_file: None
) -> None:
    """Read without :func:`reuse.check_saved_early`, a damaged rows file fails the check
    started there: not intact, and what is kept for the next result to link is not either."""
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    file = _rows_files(tmp_path / "kb")[0]
    _damage(file)
    try:
        reuse.forget_saved()
        grouped = reuse.load_grouped(tmp_path / "kb" / ".steps")
        assert grouped is not None and grouped.intact is not None
        assert not grouped.intact()
        kept = reuse._PREVIOUS[file.name]
        assert kept.intact is not None and not kept.intact()
    finally:
        reuse.forget_saved()


def test_a_rows_file_replaced_after_the_early_check_is_checked_again(
    tmp_path: Path, one_group_a_file: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rows file replaced (damaged) after :func:`reuse.check_saved_early` mapped it is
    checked again, and fails; the untouched files are taken from the early check."""
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    steps = tmp_path / "kb" / ".steps"
    files = _rows_files(tmp_path / "kb")
    assert len(files) >= 2
    try:
        reuse.check_saved_early(steps)
        early = dict(reuse._EARLY)
        for saved in early.values():
            saved.done.wait()
        _damage(files[0])
        started = _counting_checks(monkeypatch)
        grouped = reuse.load_grouped(steps)
        assert grouped is not None and grouped.intact is not None
        assert not grouped.intact()
        assert started == [[files[0]]]

        def checked_by(path: Path) -> object:
            kept = reuse._PREVIOUS[path.name].intact
            assert isinstance(kept, functools.partial)
            return kept.func.__self__  # type: ignore[attr-defined]

        assert checked_by(files[0]) is not early[files[0]]
        assert all(checked_by(f) is early[f] for f in files[1:])
        assert all(reuse._PREVIOUS[f.name].intact() for f in files[1:])  # type: ignore[misc]
    finally:
        reuse.forget_saved()


def test_no_check_starts_when_every_file_was_checked_early(
    tmp_path: Path, one_group_a_file: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    steps = tmp_path / "kb" / ".steps"
    try:
        reuse.check_saved_early(steps)
        started = _counting_checks(monkeypatch)
        grouped = reuse.load_grouped(steps)
        assert grouped is not None and grouped.intact is not None and grouped.intact()
        assert started == []
    finally:
        reuse.forget_saved()


def test_a_file_replaced_between_its_mapping_and_its_hash_fails_its_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table mapped is the old file's, the digest the new one's: never paired as
    intact, on a check started early or when the file is read."""
    old, new = _table([1.0, 2.0]), _table([3.0, 4.0, 5.0])
    path = tmp_path / "a.arrow"
    reuse._write_arrow(new, tmp_path / "spare.arrow")
    digest = reuse._file_sha256(tmp_path / "spare.arrow")
    real = reuse._file_sha256

    def swapped_first(file: Path) -> str:
        # Only this file: a check another test left running may call it too.
        if file == path and (tmp_path / "spare.arrow").exists():
            os.replace(tmp_path / "spare.arrow", file)
        return real(file)

    reuse._write_arrow(old, path)
    monkeypatch.setattr(reuse, "_file_sha256", swapped_first)
    (file,) = reuse._checked([path])
    assert file.table is not None and file.table.equals(old)
    assert not file.intact(digest)
    assert file.digest == digest  # the new bytes' digest, with the old table
    # The same on a check started ahead (check_saved_early's).
    reuse._write_arrow(new, tmp_path / "spare.arrow")
    reuse._write_arrow(old, path)
    (ahead,) = reuse._check([reuse._SavedFile(path, reuse._stamp(path))])
    assert not ahead.intact(digest)
    # Unchanged since mapped: intact.
    (file,) = reuse._checked([path])
    assert file.intact(digest) and file.table is not None and file.table.equals(new)


def test_read_analysis_checks_through_the_one_check_on_another_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """:func:`reuse._read_analysis` hashes on the check's thread (not the caller's), after
    mapping; a wrong digest, damaged bytes or no Arrow file at all is a ValueError."""
    import threading

    table = _table([1.0, None, 3.0])
    path = tmp_path / "x.analysis.arrow"
    reuse._write_arrow(table, path)
    digest = reuse._file_sha256(path)
    started = _counting_checks(monkeypatch)
    hashed_on: list[threading.Thread] = []
    real = reuse._file_sha256

    def recorded(file: Path) -> str:
        hashed_on.append(threading.current_thread())
        return real(file)

    monkeypatch.setattr(reuse, "_file_sha256", recorded)
    assert reuse._read_analysis(path, {path.name: digest}).equals(table)
    assert started == [[path]]
    assert hashed_on and threading.current_thread() not in hashed_on
    with pytest.raises(ValueError, match="not the bytes"):
        reuse._read_analysis(path, {path.name: "0" * 64})
    with pytest.raises(ValueError, match="not the bytes"):
        reuse._read_analysis(path, {})
    _damage(path)
    with pytest.raises(ValueError, match="not the bytes"):
        reuse._read_analysis(path, {path.name: reuse._file_sha256(path)})
    path.write_bytes(b"not an Arrow file")
    with pytest.raises(ValueError, match="not the bytes"):
        reuse._read_analysis(path, {path.name: real(path)})


def _one_chunk_a_run(table: pa.Table) -> pa.Table:
    """``table``'s rows in their order, a chunk a run of equal indicator, each chunk with
    dictionaries of its own: how a whole derive gives them."""
    plain = _decoded(table)
    ends = pc.run_end_encode(plain.column("indicator").combine_chunks()).run_ends.to_pylist()
    chunks = []
    for start, stop in itertools.pairwise([0, *ends]):
        rows = plain.slice(start, stop - start)
        for at, field in enumerate(table.schema):
            if pa.types.is_dictionary(field.type):
                coded = rows.column(at).combine_chunks().dictionary_encode()
                rows = rows.set_column(at, field, pa.chunked_array([coded], field.type))
        chunks.append(rows)
    return pa.concat_tables(chunks)


def test_rows_a_chunk_a_run_are_saved_as_they_are(tmp_path: Path) -> None:
    """A whole derive's rows (a chunk a run of indicator, dictionaries of their own) are
    saved in the order they come, through the runs of equal indicator: each group's rows are its
    rows, the meta's groups and ranges are those of the result they came from, and the
    result reads back (rows, groups) as it was saved."""
    import dataclasses

    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    saved = _newest(tmp_path / "kb")
    key = saved.name[len("derived-") :]
    derived = reuse.load_derived(tmp_path / "kb" / ".steps", key)
    assert derived is not None and derived.derive.groups is not None
    rows = _one_chunk_a_run(derived.derive.observations)
    assert rows.column("indicator").num_chunks > 2
    derive = dataclasses.replace(derived.derive, observations=rows, runs=None)
    again = tmp_path / "again"
    reuse.save_derived(again, key, dataclasses.replace(derived, derive=derive))
    mine, theirs = _group_rows(again / saved.name), _group_rows(saved)
    assert mine.keys() == theirs.keys()
    for group, found in mine.items():
        assert _decoded(found).equals(_decoded(theirs[group]))
    assert _meta(again / saved.name)["ranges"] == _meta(saved)["ranges"]
    back = reuse.load_derived(again, key)
    assert back is not None and back.derive.groups == derived.derive.groups
    assert _decoded(back.derive.observations).equals(_decoded(rows))
    assert reuse.load_grouped(again) is not None


def test_a_row_without_indicator_is_saved_without_groups(tmp_path: Path) -> None:
    """Rows one of which has no indicator (so no group) are saved whole, without groups:
    the next build reads them back as they were, and derives every group again."""
    import dataclasses

    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    saved = _newest(tmp_path / "kb")
    key = saved.name[len("derived-") :]
    derived = reuse.load_derived(tmp_path / "kb" / ".steps", key)
    assert derived is not None
    rows = _decoded(derived.derive.observations)
    at = rows.schema.get_field_index("indicator")
    missing = pa.array([None, *rows.column(at).to_pylist()[1:]], pa.string())
    rows = rows.set_column(at, pa.field("indicator", pa.string()), missing)
    derive = dataclasses.replace(derived.derive, observations=rows, runs=None)
    again = tmp_path / "again"
    reuse.save_derived(again, key, dataclasses.replace(derived, derive=derive))
    meta = _meta(again / saved.name)
    assert "ranges" not in meta and (again / saved.name / "rows.parquet").exists()
    back = reuse.load_derived(again, key)
    assert back is not None and back.derive.observations.equals(rows)
    assert reuse.load_grouped(again) is None


def test_scattered_derived_rows_are_put_in_group_order_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Derived rows far from group order (here: derive's rows shuffled) are reordered once,
    after derive (``in_group_order``), and saved as they are: the edition is byte for byte
    the one of rows in derive's order, the saved result reads back and a rebuild after a
    change gives a fresh build's edition."""
    import numpy as np

    from welfare_observatory.build import derive as derive_module

    folder = make_grouped_observatory(tmp_path / "obs")
    plain = build(folder, tmp_path / "plain")
    real = derive_module.derive_with_coverage

    def shuffled(*args: object, **kwargs: object) -> derive_module.DeriveOutput:
        import dataclasses

        out = real(*args, **kwargs)  # type: ignore[arg-type]
        order = np.random.default_rng(19).permutation(out.observations.num_rows)
        return dataclasses.replace(out, observations=out.observations.take(pa.array(order)))

    reordered: list[bool] = []
    real_order = derive_module.in_group_order

    def spied(out: derive_module.DeriveOutput) -> derive_module.DeriveOutput:
        got = real_order(out)
        reordered.append(got is not out)
        return got

    monkeypatch.setattr(derive_module, "derive_with_coverage", shuffled)
    monkeypatch.setattr(derive_module, "in_group_order", spied)
    kb = tmp_path / "kb"
    assert edition(build(folder, kb)) == edition(plain)
    assert reordered == [True]
    saved = _newest(kb)
    meta = _meta(saved)
    assert "ranges" in meta
    for runs in meta["ranges"]["rows"].values():  # type: ignore[index]
        assert len(runs) <= 1  # one run a group: saved as derive's output now is
    assert _reused(folder, kb)
    change_last_value(folder / "data" / "t_health_b.csv")
    assert edition(build(folder, kb)) == edition(build(folder, tmp_path / "fresh"))
