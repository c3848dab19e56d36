"""A rebuild derives only the indicator groups whose sources changed.

Derive reads indicators together only through formulas and through sources, so the
connected components of those links (indicator groups) derive independently; a rebuild
derives the changed groups, keeps the others' rows and findings from the last result and
must give exactly the edition a fresh build of the changed input gives: same rows, lineage,
findings (those summed over indicators included), analyses and build id.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from test_pipeline_incremental import INDICATORS, _entry, change_last_value, make_observatory

from welfare_observatory._seal import KEY, seal
from welfare_observatory.build import derive as derive_module
from welfare_observatory.build.orchestrator import BuildResult
from welfare_observatory.derive._parts import combine
from welfare_observatory.derive.formulas import _findings as rate_findings
from welfare_observatory.observatory import load_observatory

# Two formula groups (births / residents, edu A / edu B) summed to the province, and two
# indicators on their own. Edu's sources also publish the province (it wins over the sum:
# a conflict each), a municipality-year is missing from each denominator (partial
# aggregates, rates without denominator) and births are small (low reliability).
FORMULAS = {
    "T_BIRTH_RATE": ("T_BIRTHS", "T_RESIDENTS"),
    "T_EDU_C": ("T_EDU_A", "T_EDU_B"),
}
COUNTS = {"T_BIRTHS", "T_RESIDENTS", "T_EDU_A", "T_EDU_B"}


def _sealed(meta: dict[str, Any]) -> bytes:
    """``meta`` sealed again after an edit, as a build writes it (this module is also
    imported by path from its neighbours, so it does not share their helpers)."""
    return seal({k: v for k, v in meta.items() if k != KEY})


def _catalogue_entry(ident: str, domain: str, polarity: str, measure: str) -> str:
    if ident in FORMULAS:
        numerator, denominator = FORMULAS[ident]
        entry = _entry(ident, domain, polarity, "ratio").replace(
            "  aggregation: none\n",
            "  aggregation: formula\n"
            f"  formula: {{numerator: {numerator}, denominator: {denominator}, "
            "multiplier: 100}\n",
        )
        return entry
    if ident in COUNTS:
        return _entry(ident, domain, polarity, "count")
    return _entry(ident, domain, polarity, measure)


def _without_one_municipality_year(file: Path, year: str) -> None:
    """Drop the rows of the file's first municipality for ``year``."""
    lines = file.read_text(encoding="utf-8").rstrip("\n").split("\n")
    first = next(ln.split(",")[1] for ln in lines[1:] if len(ln.split(",")[1].strip('"')) == 6)
    kept = [ln for ln in lines if not (ln.startswith(f"{year},") and ln.split(",")[1] == first)]
    assert len(kept) < len(lines)
    file.write_text("\n".join(kept) + "\n", encoding="utf-8")


def _with_old_codes(file: Path, value: float) -> None:
    """Rows under codes gone before the reference date: 096011 merged into 096086 in 2016
    (relabelled: its partners 096052 and 096060 give nothing), 096061 incorporated into
    096042 in 2017 (combined with the successor's own value)."""
    rows = [
        f'{year},"{code}","{sex}",{value + k}'
        for k, year in enumerate(range(2012, 2016))
        for code in ("096011", "096061")
        for sex in ("Total", "Female", "Male")
    ]
    file.write_text(file.read_text(encoding="utf-8") + "\n".join(rows) + "\n", encoding="utf-8")


def make_grouped_observatory(folder: Path, *, old_codes: bool = False) -> Path:
    make_observatory(folder)
    (folder / "indicators" / "own.yaml").write_text(
        "".join(_catalogue_entry(*i) for i in INDICATORS), encoding="utf-8"
    )
    _without_one_municipality_year(folder / "data" / "t_residents.csv", "2015")
    _without_one_municipality_year(folder / "data" / "t_edu_b.csv", "2017")
    if old_codes:
        for name, value in (("t_births", 9.0), ("t_residents", 900.0), ("t_edu_a", 30.0)):
            _with_old_codes(folder / "data" / f"{name}.csv", value)
    return folder


def build(folder: Path, kb: Path) -> BuildResult:
    return load_observatory(folder).build(out=kb, offline=True)


def edition(result: BuildResult) -> dict[str, Any]:
    """Every file of the edition; the manifest without its creation time and without the
    sources' reuse status (a rebuild reports its unchanged sources as reused)."""
    folder = result.knowledge_base / result.edition / result.report.build
    files: dict[str, Any] = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(file.relative_to(folder))
        if name == "manifest.json":
            manifest = json.loads(file.read_text(encoding="utf-8"))
            manifest.pop("created")
            for source in manifest["sources"].values():
                if source["status"] == "reused":
                    source["status"] = "ok"
            files[name] = manifest
        else:
            files[name] = file.read_bytes()
    return files


def saved_prints(kb: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The fingerprints the newest saved result recorded, and those of its rows hashed
    afresh (a rebuild takes the unchanged groups' fingerprints from the last result)."""
    from welfare_observatory.build.reuse import _mapped, fingerprints

    newest = max((kb / ".steps").glob("derived-*"), key=lambda p: p.stat().st_mtime_ns)
    recorded = json.loads((newest / "meta.json").read_text(encoding="utf-8"))["fingerprints"]
    return recorded, fingerprints(_mapped(newest / "observations.arrow"))


@pytest.fixture
def hashed_indicators(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The indicators of the rows each call of ``fingerprints`` hashed."""
    from welfare_observatory.build import reuse

    calls: list[set[str]] = []
    real = reuse.fingerprints

    def spy(observations: pa.Table) -> dict[str, str]:
        found = real(observations)
        calls.append(set(found))
        return found

    monkeypatch.setattr(reuse, "fingerprints", spy)
    return calls


@pytest.fixture
def derived_indicators(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    """The indicators each call of derive_with_coverage was given."""
    calls: list[set[str]] = []
    real = derive_module.derive_with_coverage

    def spy(tables: Any, env: Any, scope: Any = None, **kwargs: Any) -> Any:
        calls.append({str(i) for t in tables for i in pc.unique(t.column("indicator")).to_pylist()})
        return real(tables, env, scope, **kwargs)

    monkeypatch.setattr(derive_module, "derive_with_coverage", spy)
    return calls


@pytest.mark.parametrize(
    ("changed", "group"),
    [
        ("t_health_a", {"T_HEALTH_A"}),
        ("t_births", {"T_BIRTHS", "T_RESIDENTS"}),  # and the rate derived from them
        ("t_edu_b", {"T_EDU_A", "T_EDU_B", "T_EDU_C"}),
    ],
)
def test_a_rebuild_derives_the_changed_group_only_and_equals_the_fresh_build(
    tmp_path: Path, derived_indicators: list[set[str]], changed: str, group: set[str]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    codes = {f.code for f in first.report.findings}
    # The findings summed over indicators are all there: the test compares them.
    assert {"partial-aggregate", "missing-denominator", "low-reliability"} <= codes
    assert "release-conflict" in codes
    change_last_value(folder / "data" / f"{changed}.csv", by=3.0)
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    every = {i[0] for i in INDICATORS if i[0] not in FORMULAS} | {"T_EDU_C"}
    assert derived_indicators == [every, group, every]
    assert again.report.build == fresh.report.build != first.report.build
    assert again.report.findings == fresh.report.findings
    assert edition(again) == edition(fresh)
    recorded, hashed = saved_prints(tmp_path / "kb")
    assert recorded == hashed
    # The summed finding says what the coverage table says, over both groups.
    [partial] = [f for f in again.report.findings if f.code == "partial-aggregate"]
    folder = again.knowledge_base / again.edition / again.report.build
    coverage = pq.read_table(folder / "analyses" / "coverage").to_pylist()
    below = sorted(
        (r["coverage"], r["indicator"], r["territory"], r["period"])
        for r in coverage
        if not r["emitted"]
    )
    assert {r[1] for r in below} >= {"T_RESIDENTS", "T_EDU_B"}
    assert partial.count == len(below)
    assert (partial.indicator, partial.territory, partial.period) == below[0][1:]


@pytest.mark.parametrize(
    ("changed", "group"),
    [
        ("t_health_a", {"T_HEALTH_A"}),
        ("t_residents", {"T_BIRTHS", "T_RESIDENTS"}),
        ("t_edu_a", {"T_EDU_A", "T_EDU_B", "T_EDU_C"}),
    ],
)
def test_with_codes_to_reconcile_a_rebuild_derives_the_changed_group_only(
    tmp_path: Path, derived_indicators: list[set[str]], changed: str, group: set[str]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs", old_codes=True)
    first = build(folder, tmp_path / "kb")
    codes = {f.code for f in first.report.findings}
    assert "reconciled" in codes
    change_last_value(folder / "data" / f"{changed}.csv", by=3.0)
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert derived_indicators[1] == group
    assert again.report.findings == fresh.report.findings
    assert edition(again) == edition(fresh)
    # The summed reconcile findings count over both groups.
    [merged] = [f for f in again.report.findings if f.code == "reconciled"]
    assert " values of 1 municipalities " in merged.message
    assert (merged.indicator, merged.count) == ("T_BIRTHS", 3 * 4 * 3)  # 3 indicators


def test_a_second_rebuild_builds_on_the_grouped_result(
    tmp_path: Path, derived_indicators: list[set[str]]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_edu_a.csv", by=-5.0)
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_residents.csv", by=7.0)
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert derived_indicators[2] == {"T_BIRTHS", "T_RESIDENTS"}
    assert edition(again) == edition(fresh)
    recorded, hashed = saved_prints(tmp_path / "kb")
    assert recorded == hashed


@pytest.mark.parametrize(
    ("changed", "hashed"),
    [
        # Groups with derived rows (aggregates, rates) have their lineage renamed: hashed.
        ("t_health_a", {"T_HEALTH_A", "T_BIRTHS", "T_RESIDENTS", "T_BIRTH_RATE"}),
        ("t_health_b", {"T_HEALTH_B", "T_BIRTHS", "T_RESIDENTS", "T_BIRTH_RATE"}),
    ],
)
def test_a_rebuild_hashes_only_the_rows_derive_did_not_take_unchanged(
    tmp_path: Path, hashed_indicators: list[set[str]], changed: str, hashed: set[str]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / f"{changed}.csv", by=2.0)
    build(folder, tmp_path / "kb")
    edu = {"T_EDU_A", "T_EDU_B", "T_EDU_C"}
    assert len(hashed_indicators) == 2
    assert hashed_indicators[1] - edu == hashed
    recorded, fresh = saved_prints(tmp_path / "kb")
    assert recorded == fresh
    assert set(recorded) > hashed_indicators[1]


@pytest.mark.parametrize("damage", ["count", "missing", "garbage", "not text"])
def test_saved_fingerprints_that_do_not_count_the_rows_are_not_trusted(
    tmp_path: Path, hashed_indicators: list[set[str]], damage: str
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    meta_file = saved / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    if damage == "count":
        domain, rows, read, every = meta["fingerprints"]["T_HEALTH_B"].rsplit(":", 3)
        meta["fingerprints"]["T_HEALTH_B"] = f"{domain}:{int(rows) + 1}:{read}:{every}"
    elif damage == "garbage":
        meta["fingerprints"]["T_HEALTH_B"] = "garbage"
    elif damage == "not text":
        meta["fingerprints"]["T_HEALTH_B"] = 5
    else:
        del meta["fingerprints"]["T_HEALTH_B"]
    meta_file.write_bytes(_sealed(meta))
    change_last_value(folder / "data" / "t_health_a.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert "T_HEALTH_B" in hashed_indicators[1]
    assert edition(again) == edition(fresh)
    recorded, hashed = saved_prints(tmp_path / "kb")
    assert recorded == hashed


@pytest.mark.parametrize(
    ("changed", "group"),
    [("t_health_b", {"T_HEALTH_B"}), ("t_edu_a", {"T_EDU_A", "T_EDU_B", "T_EDU_C"})],
)
def test_with_an_overrides_file_a_rebuild_derives_the_changed_group_and_equals_the_fresh_build(
    tmp_path: Path, derived_indicators: list[set[str]], changed: str, group: set[str]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    lines = (folder / "data" / "t_edu_a.csv").read_text(encoding="utf-8").split("\n")
    municipality = lines[1].split(",")[1].strip('"')
    # A correction in the edu group, and one of an indicator no source gives.
    (folder / "overrides.yaml").write_text(
        f"- indicator: T_EDU_A\n  territory: '{municipality}'\n  period: '2020'\n"
        "  value: 42\n  reason: corrected by hand\n"
        f"- indicator: T_HEALTH_A\n  territory: '{municipality}'\n  period: '2030'\n"
        "  value: 7\n  reason: an estimate\n",
        encoding="utf-8",
    )
    config = folder / "observatory.yaml"
    config.write_text(config.read_text() + "overrides: overrides.yaml\n", encoding="utf-8")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / f"{changed}.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    # The corrected indicators are one group (edu's and health A's).
    linked = group | {"T_HEALTH_A"} if "T_EDU_A" in group else group
    assert derived_indicators[1] == linked
    assert "override-applied" in {f.code for f in again.report.findings}
    assert edition(again) == edition(fresh)


def test_a_damaged_grouped_result_means_a_whole_derive(
    tmp_path: Path, derived_indicators: list[set[str]]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    (saved / "observations.arrow").write_bytes(b"not arrow")
    change_last_value(folder / "data" / "t_health_b.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert derived_indicators[1] == derived_indicators[0]
    assert edition(again) == edition(fresh)


@pytest.mark.parametrize("damage", ["other bytes", "missing"])
def test_a_result_whose_parts_file_is_damaged_means_a_whole_derive(
    tmp_path: Path, derived_indicators: list[set[str]], damage: str
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    parts = saved / "parts.tsv"
    assert parts.read_bytes()  # derive's finding parts, one a line
    if damage == "missing":
        parts.unlink()
    else:
        parts.write_bytes(parts.read_bytes().replace(b'"count":', b'"count": ', 1))
    change_last_value(folder / "data" / "t_health_b.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert derived_indicators[1] == derived_indicators[0]
    assert edition(again) == edition(fresh)
    assert again.report.findings == fresh.report.findings


def test_a_kept_part_whose_finding_does_not_decode_means_a_whole_derive(
    tmp_path: Path, derived_indicators: list[set[str]]
) -> None:
    """A finding is decoded only when a rebuild lists it: one that is no finding (its file
    edited and its digest recorded again) is found once the changed group is derived, and
    derive then runs whole."""
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    parts = saved / "parts.tsv"
    edited = parts.read_bytes().replace(b'"severity":"', b'"severity":"un', 1)
    assert edited != parts.read_bytes()
    parts.write_bytes(edited)
    meta_file = saved / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["sha256"]["parts.tsv"] = hashlib.sha256(edited).hexdigest()
    meta_file.write_bytes(_sealed(meta))
    change_last_value(folder / "data" / "t_health_b.csv")
    again = build(folder, tmp_path / "kb")
    assert len(derived_indicators) == 3  # the first build's; the group, then whole
    fresh = build(folder, tmp_path / "fresh")
    assert derived_indicators[1:3] == [{"T_HEALTH_B"}, derived_indicators[0]]
    assert edition(again) == edition(fresh)
    assert again.report.findings == fresh.report.findings


@pytest.mark.parametrize("damage", ["ranges overlap", "ranges short", "file truncated"])
def test_a_grouped_result_that_does_not_fit_its_ranges_means_a_whole_derive(
    tmp_path: Path, derived_indicators: list[set[str]], damage: str
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    meta_file = saved / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    runs = meta["ranges"]["rows"]
    first = next(k for k, v in runs.items() if v)
    if damage == "ranges overlap":
        runs[first] = [[0, runs[first][0][1] + 1], *runs[first][1:]]
    elif damage == "ranges short":
        runs[first] = [*runs[first][:-1], [runs[first][-1][0], runs[first][-1][1] - 1]]
    meta_file.write_bytes(_sealed(meta))
    if damage == "file truncated":
        data = (saved / "observations.arrow").read_bytes()
        (saved / "observations.arrow").write_bytes(data[: len(data) // 2] + data[-4096:])
    change_last_value(folder / "data" / "t_health_b.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert derived_indicators[1] == derived_indicators[0]
    assert edition(again) == edition(fresh)


def test_the_saved_result_holds_one_copy_of_the_rows_in_group_order(tmp_path: Path) -> None:
    from welfare_observatory.build.reuse import _mapped

    folder = make_grouped_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    assert not list(saved.glob("*.parquet")) and not (saved / "grouped.arrow").exists()
    meta = json.loads((saved / "meta.json").read_text(encoding="utf-8"))
    rows = _mapped(saved / "observations.arrow")
    assert rows.num_rows == first.report.observations
    names = pc.cast(rows.column("indicator"), pa.string())
    for key, runs in meta["ranges"]["rows"].items():
        for start, stop in runs:
            assert set(names.slice(start, stop - start).to_pylist()) <= set(meta["groups"][key])


@pytest.mark.parametrize("changed", ["t_health_b", "t_births", "t_edu_b"])
def test_a_rebuild_saves_the_runs_group_runs_finds(tmp_path: Path, changed: str) -> None:
    """A rebuild's rows are in group order and their runs known (derive's ``runs``): the
    ranges saved are those :func:`group_runs` finds in the rows saved, which it leaves in
    place, and the next rebuild from them gives a fresh build's edition."""
    from welfare_observatory.build.derive import group_runs
    from welfare_observatory.build.reuse import _mapped

    folder = make_grouped_observatory(tmp_path / "obs")
    build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / f"{changed}.csv")
    build(folder, tmp_path / "kb")
    steps = tmp_path / "kb" / ".steps"
    newest = max(steps.glob("derived-*"), key=lambda p: p.stat().st_mtime_ns)
    meta = json.loads((newest / "meta.json").read_text(encoding="utf-8"))
    for name, ranges in (("observations", "rows"), ("coverage", "coverage")):
        table = _mapped(newest / f"{name}.arrow")
        found = group_runs(table, meta["groups"])
        assert found is not None and found[0] is table
        saved = {k: [tuple(r) for r in v] for k, v in meta["ranges"][ranges].items()}
        assert saved == found[1]
    change_last_value(folder / "data" / "t_health_a.csv")
    again = build(folder, tmp_path / "kb")
    assert edition(again) == edition(build(folder, tmp_path / "fresh"))


def test_a_result_reused_whole_gives_the_edition_of_the_build_that_saved_it(
    tmp_path: Path,
) -> None:
    """The saved rows are in group order, not derive's: the edition does not show it."""
    import shutil

    folder = make_grouped_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    shutil.copytree(tmp_path / "kb" / ".steps", tmp_path / "other" / ".steps")
    lines: list[str] = []
    again = load_observatory(folder).build(
        out=tmp_path / "other", offline=True, progress=lines.append
    )
    assert any("results reused" in line for line in lines)
    assert edition(again) == edition(first)


def _as_earlier_layout(saved: Path) -> None:
    """``saved`` as an earlier version wrote it: the rows in ``observations.parquet`` and a
    reordered copy in ``grouped.arrow``, no layout in the meta."""
    import pyarrow.feather as feather

    from welfare_observatory.build.reuse import _mapped

    rows = _mapped(saved / "observations.arrow")
    pq.write_table(rows, saved / "observations.parquet")
    feather.write_feather(rows, saved / "grouped.arrow", compression="uncompressed")
    del rows
    (saved / "observations.arrow").unlink()
    meta_file = saved / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    del meta["layout"]
    meta_file.write_bytes(_sealed(meta))


def test_a_result_of_an_earlier_layout_is_derived_again(
    tmp_path: Path, derived_indicators: list[set[str]]
) -> None:
    folder = make_grouped_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    _as_earlier_layout(saved)
    lines: list[str] = []
    same = load_observatory(folder).build(out=tmp_path / "kb", offline=True, progress=lines.append)
    assert not any("results reused" in line for line in lines)
    assert edition(same) == edition(first)
    # Derived whole (no groups taken from it), then saved again in today's layout.
    assert len(derived_indicators) == 2 and derived_indicators[1] == derived_indicators[0]
    assert (saved / "observations.arrow").is_file() and not (saved / "grouped.arrow").exists()
    lines.clear()
    load_observatory(folder).build(out=tmp_path / "kb", offline=True, progress=lines.append)
    assert any("results reused" in line for line in lines)
    change_last_value(folder / "data" / "t_health_b.csv")
    for old in (tmp_path / "kb" / ".steps").glob("derived-*"):
        if (old / "observations.arrow").exists():
            _as_earlier_layout(old)
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert derived_indicators[2] == derived_indicators[0]
    assert edition(again) == edition(fresh)


@pytest.mark.parametrize("damage", ["offsets", "indices"])
def test_a_saved_result_with_damaged_buffers_is_derived_again(
    tmp_path: Path, derived_indicators: list[set[str]], damage: str
) -> None:
    """Damage only a whole check finds (the file's structure is intact): an offset or a
    dictionary index out of its bounds, reused whole or per group, is derived again."""
    from welfare_observatory.build.reuse import _mapped

    folder = make_grouped_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    rows = _mapped(saved / "observations.arrow").combine_chunks()
    if damage == "offsets":
        at = rows.schema.get_field_index("flags")
        flags = rows.column(at).chunk(0)
        validity, offsets, data = flags.buffers()
        # First and last offsets intact (a structural check passes), one between them not.
        values = pa.Array.from_buffers(pa.int32(), len(flags) + 1, [None, offsets]).to_pylist()
        values[1] = values[-1] + 1000
        bad = pa.array(values, pa.int32())
        broken = pa.Array.from_buffers(pa.string(), len(flags), [validity, bad.buffers()[1], data])
        rows = rows.set_column(at, rows.schema.field(at), pa.chunked_array([broken]))
    else:
        at = rows.schema.get_field_index("territory")
        column = rows.column(at).chunk(0)
        bad = pa.array([len(column.dictionary) + 5] * len(column), pa.int32())
        broken = pa.DictionaryArray.from_arrays(bad, column.dictionary, safe=False)
        rows = rows.set_column(at, rows.schema.field(at), pa.chunked_array([broken]))
    with pytest.raises(pa.ArrowInvalid):
        rows.validate(full=True)
    _write_rows(saved, rows)
    # The damage is recorded as the saved bytes (their digest matches): the whole check
    # alone must find it.
    _record_digest(saved, "observations.arrow")
    lines: list[str] = []
    same = load_observatory(folder).build(out=tmp_path / "kb", offline=True, progress=lines.append)
    assert not any("results reused" in line for line in lines)
    assert edition(same) == edition(first)
    change_last_value(folder / "data" / "t_health_b.csv")
    for other in (tmp_path / "kb" / ".steps").glob("derived-*"):
        (other / "observations.arrow").write_bytes((saved / "observations.arrow").read_bytes())
        _record_digest(other, "observations.arrow")
    again = build(folder, tmp_path / "kb")
    # Refused when read, or the changed group first and then refused by the whole check
    # before any saved row is taken: a whole derive in the end.
    calls = derived_indicators[2:]
    assert calls[-1] == derived_indicators[0]
    assert calls[:-1] in ([], [{"T_HEALTH_B"}])
    fresh = build(folder, tmp_path / "fresh")
    assert edition(again) == edition(fresh)


def _write_rows(saved: Path, rows: pa.Table) -> None:
    """``rows`` as the saved result's ``observations.arrow``: written beside it and moved
    over, since ``rows`` may still read from the mapping of the file it replaces."""
    import pyarrow.feather as feather

    feather.write_feather(rows, saved / "observations.arrow.new", compression="uncompressed")
    (saved / "observations.arrow.new").replace(saved / "observations.arrow")


def _record_digest(saved: Path, name: str) -> None:
    from welfare_observatory.build.reuse import _file_sha256

    meta = json.loads((saved / "meta.json").read_text(encoding="utf-8"))
    meta["sha256"][name] = _file_sha256(saved / name)
    (saved / "meta.json").write_bytes(_sealed(meta))


@pytest.mark.parametrize("changed", [None, "t_health_b"])
def test_saved_rows_with_the_domain_as_text_give_the_fresh_edition(
    tmp_path: Path, changed: str | None
) -> None:
    """A result saved before the domain column was dictionary-encoded (its rows hold the
    domain as plain text, its digests intact): the rebuild that reads it, with nothing
    changed or after a file changed, gives the edition a fresh build gives."""
    from welfare_observatory.build.reuse import _mapped

    folder = make_grouped_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    rows = _mapped(saved / "observations.arrow")
    at = rows.schema.get_field_index("domain")
    assert pa.types.is_dictionary(rows.schema.field(at).type)
    rows = rows.set_column(at, "domain", rows.column(at).cast(pa.string()))
    _write_rows(saved, rows)
    _record_digest(saved, "observations.arrow")
    if changed is not None:
        change_last_value(folder / "data" / f"{changed}.csv")
    again = build(folder, tmp_path / "kb")
    fresh = build(folder, tmp_path / "fresh")
    assert edition(again) == edition(fresh)
    if changed is None:
        assert edition(again) == edition(first)


@pytest.mark.parametrize("changed", [None, "t_health_b"])
def test_saved_rows_whose_bytes_changed_are_derived_again(
    tmp_path: Path, derived_indicators: list[set[str]], changed: str | None
) -> None:
    """A value changed in place (the file's structure intact, as a crash before the data
    reached the disk can leave it): the saved digest differs, so the rows are not taken,
    reused whole or per group."""
    from welfare_observatory.build.reuse import _mapped

    folder = make_grouped_observatory(tmp_path / "obs")
    first = build(folder, tmp_path / "kb")
    [saved] = (tmp_path / "kb" / ".steps").glob("derived-*")
    rows = _mapped(saved / "observations.arrow").combine_chunks()
    at = rows.schema.get_field_index("value")
    values = rows.column(at).to_pylist()
    values[0] = (values[0] or 0.0) + 1000.0
    rows = rows.set_column(at, rows.schema.field(at), pa.array(values, pa.float64()))
    rows.validate(full=True)
    _write_rows(saved, rows)
    if changed is not None:
        change_last_value(folder / "data" / f"{changed}.csv")
    again = build(folder, tmp_path / "kb")
    assert derived_indicators[-1] == derived_indicators[0]  # a whole derive
    fresh = build(folder, tmp_path / "fresh")
    assert edition(again) == edition(fresh)
    if changed is None:
        assert edition(again) == edition(first)


def test_a_single_group_records_no_groups_and_saves_the_rows_as_they_are() -> None:
    from welfare_observatory.build.derive import DeriveOutput
    from welfare_observatory.build.reuse import _grouped

    table = pa.table({"indicator": ["A"]})
    output = DeriveOutput(observations=table, findings=[], steps=[], parts=[], groups={"g": ["A"]})
    saved, coverage, recorded = _grouped(output)
    assert saved is table and coverage is None and recorded == {}


# Rate findings summed over indicators: any split of the indicators gives the same findings.

_KEYS = st.tuples(
    st.sampled_from(["R_A", "R_B", "R_C", "R_D"]),
    st.sampled_from(["096001", "096002", "096", "01"]),
    st.sampled_from(["2019", "2020", "2021"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_KEYS, max_size=30), split=st.sets(st.sampled_from(["R_A", "R_B", "R_C"])))
def test_rate_findings_of_groups_combined_equal_those_of_all(
    rows: list[tuple[str, str, str, bool, bool, bool]], split: set[str]
) -> None:
    def table(selected: list[tuple[str, str, str, bool, bool, bool]]) -> pa.Table:
        names = ["indicator", "territory", "period"]
        names += ["no_denominator", "zero_denominator", "mixed_release"]
        kinds = [pa.string()] * 3 + [pa.bool_()] * 3
        return pa.table(
            {n: pa.array([r[k] for r in selected], kinds[k]) for k, n in enumerate(names)}
        )

    whole = combine(rate_findings(table(rows)))
    one = [r for r in rows if r[0] in split]
    other = [r for r in rows if r[0] not in split]
    assert combine(rate_findings(table(one)) + rate_findings(table(other))) == whole
    # And what they say: per flag, the count of all and the smallest key as example.
    for finding in whole:
        flag = {
            "missing-denominator": 3,
            "zero-denominator": 4,
            "mixed-release": 5,
        }[finding.code]
        flagged = sorted(r[:3] for r in rows if r[flag])
        assert finding.count == len(flagged)
        assert (finding.indicator, finding.territory, finding.period) == flagged[0]
        assert finding.message.startswith(f"{len(flagged)} rates ")


def test_the_indicators_reported_built_are_those_with_rows_in_the_edition(
    tmp_path: Path,
) -> None:
    """A build names the indicators it built from the fingerprints of its rows, not from a
    pass over them: the same as the indicators of the edition's observations, after a whole
    derive, a rebuild of one group and a result reused whole."""
    folder = make_grouped_observatory(tmp_path / "obs")

    def in_edition(result: BuildResult) -> set[str]:
        rows = result.knowledge_base / result.edition / result.report.build / "observations"
        table = pq.read_table(rows, columns=["indicator"])
        return {str(i) for i in pc.unique(pc.cast(table.column(0), pa.string())).to_pylist()}

    first = build(folder, tmp_path / "kb")
    change_last_value(folder / "data" / "t_health_b.csv", by=3.0)
    again = build(folder, tmp_path / "kb")
    same = build(folder, tmp_path / "kb")
    for result in (first, again, same):
        assert set(result.report.built) == in_edition(result)
        assert len(result.report.built) > 3


def test_the_built_indicators_come_from_the_rows_when_the_fingerprints_do_not_count_them() -> None:
    """Fingerprints whose row counts do not add up to the table's (a saved meta that parses
    but says less) are not believed: the indicators are read from the rows."""
    from welfare_observatory.build.strategies.in_memory import _built

    rows = pa.table({"indicator": pa.array(["a", "a", "b"]).dictionary_encode()})
    assert _built(rows) == {"a", "b"}
    assert _built(rows, {"a": "d:2:1:1", "b": "d:1:1:1"}) == {"a", "b"}
    assert _built(rows, {"a": "d:2:1:1", "c": "d:1:1:1"}) == {"a", "c"}  # counts add up: taken
    assert _built(rows, {}) == {"a", "b"}
    assert _built(rows, {"a": "d:2:1:1"}) == {"a", "b"}
    assert _built(rows, {"a": "no count"}) == {"a", "b"}
    assert _built(rows.slice(0, 0), None) == set()
