"""Time the report build on a synthetic edition of realistic size.

The edition (deterministic seed) holds ~160 catalogue indicators for the province of Biella,
its municipalities (74) and social districts, Piemonte and Italy, over ten years, written with
the store's ``write_build``. The report must build in under 10 s.

    .venv/bin/python benchmarks/report_build.py [--indicators 160] [--years 10] [--pdf]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from welfare_observatory.catalog import catalog
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.publish.report import build_report
from welfare_observatory.store.edition import Manifest, write_build
from welfare_observatory.territory import registry

FOCUS = "096"


def synthetic_edition(
    root: Path,
    *,
    indicators: int = 160,
    years: int = 10,
    seed: int = 7,
    edition: str = "2025",
    last_year: int = 2024,
) -> list[str]:
    """Write one edition into ``root``; returns the indicator ids it holds."""
    rng = np.random.default_rng(seed)
    reg = registry()
    chosen = [i for i in catalog() if i.unit != "ratio"][:indicators]
    municipalities = [t.code for t in reg.municipalities(of=FOCUS)]
    districts = [t.code for t in reg.districts(province=FOCUS)]
    territories = [FOCUS, "01", "IT", *districts, *municipalities]
    span = np.arange(last_year - years + 1, last_year + 1)
    n_i, n_t, n_y = len(chosen), len(territories), len(span)
    level = rng.uniform(5, 120, size=(n_i, 1, 1))
    spread = rng.normal(1.0, 0.15, size=(n_i, n_t, 1))
    growth = rng.normal(0.0, 0.02, size=(n_i, n_t, 1))
    steps = (1 + growth) ** np.arange(n_y)[None, None, :]
    noise = rng.normal(1.0, 0.01, size=(n_i, n_t, n_y))
    values = (level * spread * steps * noise).ravel()
    ind = np.repeat(np.arange(n_i), n_t * n_y)
    ter = np.tile(np.repeat(np.arange(n_t), n_y), n_i)
    yr = np.tile(span, n_i * n_t)
    status = np.where(rng.uniform(size=values.size) < 0.02, "P", "A")
    status[yr == last_year] = np.where(rng.uniform(size=(yr == last_year).sum()) < 0.3, "P", "A")
    ids = np.array([i.id for i in chosen])
    units = np.array([i.unit for i in chosen])
    domains = np.array([i.domain.value for i in chosen])
    starts = np.array([date(int(y), 1, 1) for y in span])
    table = pa.table(
        {
            "indicator": ids[ind],
            "territory": np.array(territories)[ter],
            "period": yr.astype(str),
            "period_start": pa.array(starts[yr - span[0]], pa.date32()),
            "value": values,
            "unit": units[ind],
            "obs_status": status,
            "conf_status": np.full(values.size, "F"),
            "flags": pa.nulls(values.size, pa.string()),
            "source": np.full(values.size, "synthetic"),
            "lineage": np.full(values.size, "synthetic-1"),
        }
    ).cast(observation_schema())
    table = table.append_column("domain", pa.array(domains[ind]))
    manifest = Manifest(
        observatory="synthetic",
        edition=edition,
        build=f"synthetic-{seed}-{indicators}-{years}",
        created=f"{last_year + 1}-01-01T00:00:00",
        library_version="0",
        config_digest="0" * 64,
        reference_date=f"{last_year}-01-01",
        territory=FOCUS,
        indicators=tuple(ids.tolist()),
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    write_build(root, manifest, observations=table, lineage=empty, findings=empty)
    return ids.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=160)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--pdf", action="store_true", help="also print the PDF (Chromium)")
    parser.add_argument("--keep", type=Path, help="write the site here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kb = Path(tmp) / "kb"
        started = time.perf_counter()
        ids = synthetic_edition(kb, indicators=args.indicators, years=args.years)
        written = time.perf_counter() - started
        out = args.keep or Path(tmp) / "site"
        cpu = time.process_time()
        result = build_report(kb, None, out, pdf=args.pdf)
        cpu = time.process_time() - cpu
        pages = len(result.pages)
        print(f"edition: {len(ids)} indicators x {args.years} years, written in {written:.2f} s")
        print(
            f"report: {pages} pages in {result.seconds:.2f} s wall, {cpu:.2f} s CPU "
            "(budget 10 s; wall time grows when other processes share the cores)"
        )
        if result.pdf is not None:
            print(f"pdf: {result.pdf.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
