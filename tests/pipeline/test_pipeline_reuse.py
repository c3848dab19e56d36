"""Derive and analyze are reused when nothing they read has changed, and only then."""

from __future__ import annotations

from pathlib import Path

from welfare_observatory.build.orchestrator import BuildResult
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

OVERRIDE = (
    "- indicator: POP_TOTAL\n  territory: '096004'\n  period: '2023-01-01'\n"
    "  value: {value}\n  reason: corrected after the municipal registry audit\n"
)


def build(folder: Path, kb: Path, **options: bool) -> tuple[BuildResult, list[str]]:
    lines: list[str] = []
    result = load_observatory(folder).build(out=kb, offline=True, progress=lines.append, **options)
    return result, lines


def reused(lines: list[str]) -> bool:
    return any("results reused" in line for line in lines)


def test_an_unchanged_rebuild_reuses_derive_and_analyze_with_the_same_edition(
    observatory_dir: Path, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    first, lines = build(observatory_dir, kb)
    assert not reused(lines)
    before = KnowledgeBase.open(kb).to_arrow()
    again, lines = build(observatory_dir, kb)
    assert reused(lines)
    assert "derive" not in again.report.timings
    assert again.report.build == first.report.build
    assert KnowledgeBase.open(kb).to_arrow().equals(before)
    assert again.report.findings == first.report.findings


def test_an_edited_overrides_file_is_derived_again(observatory_dir: Path, tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    overrides = observatory_dir / "overrides.yaml"
    overrides.write_text(OVERRIDE.format(value=42000), encoding="utf-8")
    config = observatory_dir / "observatory.yaml"
    config.write_text(config.read_text() + "overrides: overrides.yaml\n", encoding="utf-8")
    build(observatory_dir, kb)
    overrides.write_text(OVERRIDE.format(value=41000), encoding="utf-8")
    _, lines = build(observatory_dir, kb)
    assert not reused(lines)
    row = KnowledgeBase.open(kb).observations("POP_TOTAL", "096004")
    assert row["value"].tolist() == [41000.0]


def test_a_changed_selection_or_refresh_derives_again(
    observatory_dir: Path, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    build(observatory_dir, kb)
    _, lines = build(observatory_dir, kb, refresh=True)
    assert not reused(lines)
    config = observatory_dir / "observatory.yaml"
    config.write_text(
        config.read_text().replace("OLD_AGE_INDEX]", "OLD_AGE_INDEX, SHARE_65_PLUS]"),
        encoding="utf-8",
    )
    result, lines = build(observatory_dir, kb)
    assert not reused(lines)
    assert "SHARE_65_PLUS" in result.report.built


def test_a_damaged_saved_result_is_rebuilt_not_trusted(
    observatory_dir: Path, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    first, _ = build(observatory_dir, kb)
    [saved] = (kb / ".steps").glob("derived-*")
    [rows] = [saved / n for n in ("observations.arrow", "rows.parquet") if (saved / n).exists()]
    rows.write_bytes(b"damaged")
    again, lines = build(observatory_dir, kb)
    assert not reused(lines)
    assert again.report.build == first.report.build


def test_a_result_without_groups_is_saved_compressed_and_reused(
    observatory_dir: Path, tmp_path: Path
) -> None:
    """Rows no rebuild slices (one indicator group) are saved as Parquet, read whole."""
    import json

    from welfare_observatory.build.derive import DeriveOutput
    from welfare_observatory.build.reuse import Derived, load_derived, save_derived

    kb = tmp_path / "kb"
    build(observatory_dir, kb)
    [saved] = (kb / ".steps").glob("derived-*")
    whole = load_derived(kb / ".steps", saved.name.removeprefix("derived-"))
    assert whole is not None
    single = DeriveOutput(
        whole.derive.observations,
        whole.derive.findings,
        whole.derive.steps,
        whole.derive.coverage,
        whole.derive.parts,
        groups={"one": sorted(set(whole.derive.observations.column("indicator").to_pylist()))},
    )
    steps = tmp_path / "steps"
    save_derived(steps, "k", Derived(single, whole.analyses, whole.analysis_findings))
    folder = steps / "derived-k"
    assert (folder / "rows.parquet").is_file() and not (folder / "observations.arrow").exists()
    assert "ranges" not in json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    back = load_derived(steps, "k")
    assert back is not None
    assert back.derive.observations.equals(whole.derive.observations)
    assert back.derive.findings == whole.derive.findings
    (folder / "rows.parquet").write_bytes(b"damaged")
    assert load_derived(steps, "k") is None
