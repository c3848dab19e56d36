"""``new`` with the national baseline: a real first report for any of the 107 provinces.

What a first report must hold (issue 13, item 3): at least 100 distinct indicators with a
value for the province or its municipalities (a breakdown such as sex is not another
indicator), at least 8 domains with at least 3 each, no more than 40 % from one upstream
file, and the analyses at work: progress classes, AMPI composites per domain with the
province among all provinces, benchmarks against its region and Italy.

``test_every_province_gets_a_first_report`` builds all 107 (slow: ``pytest -m slow``) and
prints the five lowest; the fast test builds two provinces of different kinds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from welfare_observatory import load_observatory
from welfare_observatory.scaffold.observatory import BASELINE_SOURCE, new_observatory
from welfare_observatory.store.knowledge_base import KnowledgeBase

if TYPE_CHECKING:
    from welfare_observatory.catalog import Catalog

pytest.importorskip("welfare_observatory_italy_baseline")

MIN_INDICATORS = 100
MIN_DOMAINS = 8
MAX_SHARE_ONE_FILE = 0.40
STARTER_FILE = "popolazione (territory population baseline)"


@dataclass
class Built:
    """One offline build of a scaffolded province: its knowledge base and catalogue."""

    kb: KnowledgeBase
    catalog: Catalog
    seconds: float


def build_province(code: str, root: Path) -> Built:
    """``new`` + an offline build of province ``code`` under ``root``."""
    import time

    name = f"p{code}"
    new_observatory(name, code, root)
    observatory = load_observatory(root / name / "src" / f"osserva_{name}")
    started = time.perf_counter()
    result = observatory.build(out=root / "kb", offline=True, cache_dir=root / "cache")
    seconds = time.perf_counter() - started
    return Built(KnowledgeBase(result.knowledge_base), observatory.catalog, seconds)


def upstream_file(catalog: Catalog, indicator: str) -> str:
    tags = [t for t in catalog.get(indicator).tags if t.startswith("upstream:")]
    return tags[0].removeprefix("upstream:") if tags else STARTER_FILE


@dataclass
class FirstReport:
    code: str
    indicators: set[str]
    domains: Counter[str]
    files: Counter[str]
    progress_classes: Counter[str]
    composite_peers: int
    benchmarks_against: set[str]
    seconds: float

    @property
    def largest_file_share(self) -> float:
        return max(self.files.values()) / len(self.indicators)


def first_report(code: str, root: Path, built: Built | None = None) -> FirstReport:
    """What the first report of province ``code`` holds (building it unless ``built``)."""
    built = built or build_province(code, root)
    kb, catalog = built.kb, built.catalog
    frame = kb.observations()
    territory = frame["territory"].astype(str)
    own = territory.eq(code) | (territory.str.len().eq(6) & territory.str.startswith(code))
    ids = set(frame.loc[own & frame["value"].notna(), "indicator"].astype(str))
    domains = Counter(catalog.get(i).domain.value for i in ids)
    files = Counter(upstream_file(catalog, i) for i in ids)
    progress = kb.analysis("progress")
    mine = progress[progress["territory"].astype(str) == code]
    composite = kb.analysis("composite")
    codes = composite["territory"].astype(str)
    peers = composite[codes.str.len().eq(3) & codes.str.isdigit()]
    bench = kb.analysis("benchmark")
    return FirstReport(
        code=code,
        indicators=ids,
        domains=domains,
        files=files,
        progress_classes=Counter(mine["category"].astype(str)),
        composite_peers=int(peers.groupby(["domain", "year"])["territory"].nunique().max()),
        benchmarks_against=set(bench["against"].astype(str)),
        seconds=built.seconds,
    )


def check(report: FirstReport, region: str) -> None:
    assert len(report.indicators) >= MIN_INDICATORS, (report.code, len(report.indicators))
    wide = [d for d, n in report.domains.items() if n >= 3]
    assert len(wide) >= MIN_DOMAINS, (report.code, report.domains)
    assert report.largest_file_share <= MAX_SHARE_ONE_FILE, (report.code, report.files)
    assessable = {k: v for k, v in report.progress_classes.items() if k != "not_assessable"}
    assert sum(assessable.values()) >= 20, (report.code, report.progress_classes)
    assert {"improvement", "worsening"} & {c.split("_")[-1] for c in assessable}
    assert report.composite_peers >= 100  # AMPI sets the province among all provinces
    assert {region, "IT"} <= report.benchmarks_against


@pytest.fixture(scope="module")
def biella(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Biella (096) scaffolded and built once for the tests of this module."""
    return build_province("096", tmp_path_factory.mktemp("biella"))


def test_biella_gets_a_real_first_report(biella: Built, tmp_path: Path) -> None:
    """Municipal ages in the starter data and every baseline file."""
    check(first_report("096", tmp_path, biella), "01")


def test_barletta_andria_trani_gets_a_real_first_report(tmp_path: Path) -> None:
    """Born in 2009, so absent from the pre-2005 panel: the report stands without it."""
    report = first_report("110", tmp_path)
    check(report, "16")
    assert not any(i.startswith("PANEL_") for i in report.indicators)


def test_all_107_provinces_have_their_own_values_in_one_build(biella: Built) -> None:
    """A build holds every province's baseline values (ranks and composites need them), so
    one build shows the floor for all 107: the baseline alone, without the starter data a
    province's own build adds, gives each at least 100 indicators over 8 domains."""
    from welfare_observatory.territory import registry

    built = biella
    frame = built.kb.observations()
    frame = frame[frame["value"].notna()]
    frame["territory"] = frame["territory"].astype(str)
    frame["indicator"] = frame["indicator"].astype(str)
    reg = registry()
    provinces = {
        p.code
        for n in reg.children("IT")
        for r in reg.children(n.code)
        for p in reg.children(r.code)
        if str(p.level) == "province"
    }
    assert len(provinces) == 107
    baseline = frame[frame["territory"].isin(provinces)]
    baseline = baseline[
        baseline["indicator"].map(lambda i: upstream_file(built.catalog, i)) != STARTER_FILE
    ]
    per_province = baseline.groupby("territory")["indicator"].agg(lambda s: set(s))
    assert set(per_province.index) == provinces
    counts = {}
    for code, ids in per_province.items():
        domains = Counter(built.catalog.get(i).domain.value for i in ids)
        files = Counter(upstream_file(built.catalog, i) for i in ids)
        assert len(ids) >= MIN_INDICATORS, (code, len(ids))
        assert sum(1 for n in domains.values() if n >= 3) >= MIN_DOMAINS, (code, domains)
        assert max(files.values()) / len(ids) <= MAX_SHARE_ONE_FILE, (code, files)
        counts[code] = len(ids)
    lowest = sorted(counts.items(), key=lambda kv: kv[1])[:5]
    print("five lowest (baseline only):", ", ".join(f"{c} {n}" for c, n in lowest))


def test_the_scaffold_writes_the_baseline_sources_and_profile(tmp_path: Path) -> None:
    from welfare_observatory.config import load_config

    new_observatory("bresciano", "017", tmp_path)
    config = load_config(tmp_path / "bresciano" / "src" / "osserva_bresciano")
    assert config.indicators.profile == "italy_baseline"
    baseline = {k: s for k, s in config.sources.items() if s.type == BASELINE_SOURCE}
    assert len(baseline) == 14
    assert baseline["irpef_comuni"].options["municipalities_of"] == ["017"]
    assert "PANEL_UNEMPLOYMENT_RATE" in config.indicators.add
    readme = (tmp_path / "bresciano" / "README.md").read_text("utf-8")
    assert "italy_baseline" in readme and "docs/baseline.md" in readme


def test_a_region_keeps_the_municipalities_of_all_its_provinces(tmp_path: Path) -> None:
    from welfare_observatory.config import load_config

    new_observatory("valle_aosta", "02", tmp_path)
    config = load_config(tmp_path / "valle_aosta" / "src" / "osserva_valle_aosta")
    assert config.sources["irpef_comuni"].options["municipalities_of"] == ["007"]


def test_the_baseline_can_be_left_out(tmp_path: Path) -> None:
    from welfare_observatory.config import load_config

    new_observatory("biellese", "096", tmp_path, baseline=False)
    config = load_config(tmp_path / "biellese" / "src" / "osserva_biellese")
    assert config.indicators.profile == "starter"
    assert all(s.type != BASELINE_SOURCE for s in config.sources.values())


@pytest.mark.slow
def test_every_province_gets_a_first_report(tmp_path: Path) -> None:
    """All 107 provinces; prints the five lowest counts (run with ``pytest -m slow -s``)."""
    from welfare_observatory.territory import registry

    reg = registry()
    provinces = sorted(
        (p.code, r.code)
        for n in reg.children("IT")
        for r in reg.children(n.code)
        for p in reg.children(r.code)
        if str(p.level) == "province"
    )
    assert len(provinces) == 107
    reports = []
    for code, region in provinces:
        report = first_report(code, tmp_path / code)
        print(f"{code}: {len(report.indicators)} indicators, {report.seconds:.1f} s", flush=True)
        check(report, region)
        reports.append(report)
    lowest = sorted(reports, key=lambda r: len(r.indicators))[:5]
    print("five lowest:", ", ".join(f"{r.code} {len(r.indicators)}" for r in lowest))
    print(f"slowest build: {max(r.seconds for r in reports):.1f} s")
