"""The analyses a build saves for the next one (Arrow IPC files under ``.steps``) come back
exactly as they were analysed, and a damaged one is analysed again, never trusted."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from welfare_observatory.build.analyze import analyze_stage
from welfare_observatory.build.environment import make_environment
from welfare_observatory.build.reuse import (
    Derived,
    analysis_key,
    fingerprints,
    load_analysed,
    load_derived,
    save_derived,
)
from welfare_observatory.observatory import load_observatory


def _saved(observatory_dir: Path, tmp_path: Path) -> tuple[Path, Derived, str]:
    kb = tmp_path / "kb"
    load_observatory(observatory_dir).build(out=kb, offline=True)
    [folder] = (kb / ".steps").glob("derived-*")
    derived = load_derived(kb / ".steps", folder.name.removeprefix("derived-"))
    assert derived is not None
    return kb / ".steps", derived, folder.name.removeprefix("derived-")


def test_saved_analyses_come_back_as_they_were_analysed(
    observatory_dir: Path, tmp_path: Path
) -> None:
    _, derived, _ = _saved(observatory_dir, tmp_path)
    env = make_environment(load_observatory(observatory_dir))
    observations = derived.derive.observations
    analyses, findings = analyze_stage(observations, env)
    assert analyses
    key = analysis_key(env, observations)
    target = tmp_path / "again"
    save_derived(
        target,
        "k",
        Derived(derived.derive, analyses, findings),
        fingerprints=fingerprints(observations),
        analysis_key=key,
    )
    assert sorted(p.name for p in (target / "derived-k").glob("*.analysis.arrow")) == sorted(
        f"{n}.analysis.arrow" for n in analyses
    )
    back = load_analysed(target, key)
    assert back is not None
    assert list(back.analyses) == sorted(analyses)
    for name, table in analyses.items():
        # Types, pandas metadata and values: the edition's files are written from these.
        assert back.analyses[name].schema.equals(table.schema, check_metadata=True), name
        assert back.analyses[name].equals(table), name
    reloaded = load_derived(target, "k")
    assert reloaded is not None
    assert all(reloaded.analyses[n].equals(t) for n, t in analyses.items())


def test_a_damaged_saved_analysis_is_analysed_again(observatory_dir: Path, tmp_path: Path) -> None:
    steps, derived, key = _saved(observatory_dir, tmp_path)
    [damaged, *_] = sorted((steps / f"derived-{key}").glob("*.analysis.arrow"))
    damaged.write_bytes(b"not an arrow file")
    assert load_derived(steps, key) is None
    env = make_environment(load_observatory(observatory_dir))
    assert load_analysed(steps, analysis_key(env, derived.derive.observations)) is None


def test_a_table_whose_chunks_have_dictionaries_of_their_own_is_saved(tmp_path: Path) -> None:
    import pyarrow as pa

    from welfare_observatory.build.reuse import _file_sha256, _read_analysis, _write_arrow

    column = pa.chunked_array(
        [pa.array(["b", "a"]).dictionary_encode(), pa.array(["c", "b"]).dictionary_encode()]
    )
    table = pa.table({"territory": column, "value": [1.0, 2.0, 3.0, None]})
    path = tmp_path / "t.analysis.arrow"
    _write_arrow(table, path)
    back = _read_analysis(path, {path.name: _file_sha256(path)})
    assert back.column("territory").to_pylist() == ["b", "a", "c", "b"]
    assert back.column("value").to_pylist() == [1.0, 2.0, 3.0, None]


def _lz4(table: object, path: Path) -> None:
    """The format analyses were saved in before: LZ4-compressed Arrow IPC."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    assert isinstance(table, pa.Table)
    options = ipc.IpcWriteOptions(compression="lz4", unify_dictionaries=True)
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema, options=options) as w:
        w.write_table(table)


def test_saved_analyses_are_mapped_and_equal_those_saved_compressed_before(
    observatory_dir: Path, tmp_path: Path
) -> None:
    import pyarrow as pa

    from welfare_observatory.build.reuse import _file_sha256, _read_analysis, _write_arrow

    _, derived, _ = _saved(observatory_dir, tmp_path)
    assert derived.analyses
    for name, table in derived.analyses.items():
        _write_arrow(table, tmp_path / f"{name}.new")
        _lz4(table, tmp_path / f"{name}.old")
        before = pa.total_allocated_bytes()
        sums = {f"{name}.{k}": _file_sha256(tmp_path / f"{name}.{k}") for k in ("new", "old")}
        new = _read_analysis(tmp_path / f"{name}.new", sums)
        # Mapped, not read: the table's buffers are the file's pages.
        assert pa.total_allocated_bytes() - before < max(table.nbytes // 2, 1)
        old = _read_analysis(tmp_path / f"{name}.old", sums)
        for back in (new, old):
            assert back.schema.equals(table.schema, check_metadata=True), name
            assert back.equals(table), name


def test_a_truncated_saved_analysis_is_analysed_again(
    observatory_dir: Path, tmp_path: Path
) -> None:
    steps, derived, key = _saved(observatory_dir, tmp_path)
    [_, damaged, *_] = sorted((steps / f"derived-{key}").glob("*.analysis.arrow"))
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2] + data[-64:])  # the footer kept, rows cut
    assert load_derived(steps, key) is None
    env = make_environment(load_observatory(observatory_dir))
    assert load_analysed(steps, analysis_key(env, derived.derive.observations)) is None


def test_keys_assembled_around_the_configuration_are_the_digests_of_their_values(
    observatory_dir: Path, tmp_path: Path
) -> None:
    """derived_key and analysis_key splice the configuration's JSON, made once, into
    their canonical JSON: the digest of the whole value, whatever is asked first."""
    from welfare_observatory.build import reuse
    from welfare_observatory.lineage import digest

    _, derived, _ = _saved(observatory_dir, tmp_path)
    env = make_environment(load_observatory(observatory_dir))
    observations = derived.derive.observations
    for steps in ([], ["b", "a", "b"]):
        for environment in (None, "e"):
            env.__dict__.pop("config_json", None)  # made again, whatever is asked first
            expected = digest(
                reuse._derived_value(env, source_steps=steps, environment=environment)
            )
            assert reuse.derived_key(env, source_steps=steps, environment=environment) == (expected)
            value = {
                "config": env.config.model_dump(mode="json"),
                "selection": [i.id for i in env.selection],
                "environment": environment if environment is not None else env.fingerprint(),
                "schema": str(observations.schema),
            }
            assert analysis_key(env, observations, environment) == digest(value)
            # Made once: asked again (from the cache), the same.
            assert reuse.derived_key(env, source_steps=steps, environment=environment) == (expected)
    other = make_environment(load_observatory(observatory_dir))
    assert other.config is not env.config
    assert other.config_json == env.config_json
    changed = env.config.model_copy(update={"edition": "another"})
    assert dataclasses.replace(env, config=changed).config_json != env.config_json


def test_analyses_checked_early_are_those_load_analysed_gives(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.build.reuse import EarlyAnalysed

    steps, derived, _ = _saved(observatory_dir, tmp_path)
    env = make_environment(load_observatory(observatory_dir))
    key = analysis_key(env, derived.derive.observations)
    reference = load_analysed(steps, key)
    assert reference is not None
    early = EarlyAnalysed(steps).get(key)
    assert early is not None
    assert early.fingerprints == reference.fingerprints
    assert early.findings == reference.findings
    assert list(early.analyses) == list(reference.analyses)
    assert all(early.analyses[n].equals(t) for n, t in reference.analyses.items())
    # Another key (another configuration): none, as load_analysed says.
    assert EarlyAnalysed(steps).get("another") is None
    assert EarlyAnalysed(tmp_path / "nothing").get(key) is None


def test_a_damaged_analysis_checked_early_is_not_trusted(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.build.reuse import EarlyAnalysed

    steps, derived, key = _saved(observatory_dir, tmp_path)
    [_, damaged, *_] = sorted((steps / f"derived-{key}").glob("*.analysis.arrow"))
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte flipped: the digest no longer matches
    damaged.write_bytes(bytes(data))
    env = make_environment(load_observatory(observatory_dir))
    assert EarlyAnalysed(steps).get(analysis_key(env, derived.derive.observations)) is None
    damaged.unlink()
    assert EarlyAnalysed(steps).get(analysis_key(env, derived.derive.observations)) is None


def test_files_checked_before_the_build_needs_them_are_those_read_then(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.build.reuse import check_saved_early, load_grouped

    steps, derived, key = _saved(observatory_dir, tmp_path)
    env = make_environment(load_observatory(observatory_dir))
    a_key = analysis_key(env, derived.derive.observations)
    reference = load_analysed(steps, a_key)
    assert reference is not None
    check_saved_early(steps)
    early = load_analysed(steps, a_key)
    assert early is not None
    assert all(early.analyses[n].equals(t) for n, t in reference.analyses.items())
    check_saved_early(steps)
    whole = load_derived(steps, key)
    assert whole is not None and whole.derive.observations.equals(derived.derive.observations)
    grouped = load_grouped(steps)
    if grouped is not None:  # an observatory of one indicator group records none
        check_saved_early(steps)
        again = load_grouped(steps)
        assert again is not None and again.intact is not None and again.intact()
        assert again.output.observations.equals(grouped.output.observations)


def test_a_file_damaged_after_its_early_check_began_is_read_again(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.build.reuse import check_saved_early

    steps, derived, key = _saved(observatory_dir, tmp_path)
    env = make_environment(load_observatory(observatory_dir))
    check_saved_early(steps)
    [damaged, *_] = sorted((steps / f"derived-{key}").glob("*.analysis.arrow"))
    # Replaced (another inode, as a crash and a new write leave it): its early check is
    # of the old file, so it is not taken; the new bytes fail their digest.
    replacement = damaged.with_suffix(".new")
    replacement.write_bytes(b"not an arrow file")
    replacement.replace(damaged)
    assert load_analysed(steps, analysis_key(env, derived.derive.observations)) is None


def test_a_file_damaged_before_its_early_check_is_not_trusted(
    observatory_dir: Path, tmp_path: Path
) -> None:
    from welfare_observatory.build.reuse import check_saved_early

    steps, derived, key = _saved(observatory_dir, tmp_path)
    [_, damaged, *_] = sorted((steps / f"derived-{key}").glob("*.analysis.arrow"))
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    env = make_environment(load_observatory(observatory_dir))
    check_saved_early(steps)
    assert load_analysed(steps, analysis_key(env, derived.derive.observations)) is None
    check_saved_early(steps)
    assert load_derived(steps, key) is None


def test_analyses_of_a_frame_with_plain_column_labels_are_those_of_text_labels(
    observatory_dir: Path, tmp_path: Path
) -> None:
    """analyze reads its frame with plain (object) column labels, cheaper to look up and
    insert than pandas' text labels; the tables stored (values, types, pandas metadata)
    are those of the frame as pandas reads it."""
    import pandas as pd

    from welfare_observatory.build.analyze import ANALYSES, _analyze_frame, _frame

    _, derived, _ = _saved(observatory_dir, tmp_path)
    env = make_environment(load_observatory(observatory_dir))
    observations = derived.derive.observations.drop_columns(["lineage", "source", "flags"])
    fast = _frame(observations)
    assert fast.columns.dtype == object
    as_read = fast.copy(deep=False)
    as_read.columns = pd.Index([str(c) for c in fast.columns])
    assert as_read.columns.dtype != object
    got, found = _analyze_frame(fast, env, ANALYSES)
    expected, expected_found = _analyze_frame(as_read, env, ANALYSES)
    assert found == expected_found
    assert list(got) == list(expected)
    for name, table in expected.items():
        assert got[name].schema.equals(table.schema, check_metadata=True), name
        assert got[name].equals(table), name


def test_a_small_analysis_hands_no_memory_back_and_analyses_the_same(
    observatory_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    from welfare_observatory.build import analyze as stage

    _, derived, _ = _saved(observatory_dir, tmp_path)
    env = make_environment(load_observatory(observatory_dir))
    observations = derived.derive.observations
    calls: list[bool] = []
    monkeypatch.setattr(stage, "release_unused", lambda *, c_heap=True: calls.append(c_heap))
    small, small_found = stage.analyze_tables(observations, env, stage.ANALYSES)
    assert calls == []  # the observatory's few hundred rows
    monkeypatch.setattr(stage, "_SMALL", 0)
    large, large_found = stage.analyze_tables(observations, env, stage.ANALYSES)
    assert calls and calls[-1] is True and not any(calls[:-1])
    assert small_found == large_found
    assert all(small[n].equals(t) for n, t in large.items()) and list(small) == list(large)
