"""The next source's tidy CSV read ahead on another thread (``build.sources.run_sources``)
gives what reading it in line gives: the same outputs and findings, the same failures for
malformed files, naming the source, row and column; a rebuild reads nothing ahead."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from welfare_observatory.build import sources as pipeline
from welfare_observatory.build.environment import make_environment
from welfare_observatory.observatory import load_observatory
from welfare_observatory.sources import tidy

from ._outputs import offline_context, plain

CODES = ("017001", "017002", "017003")
FILES = {
    "good1": "Year,GeoCode,Value\n" + "".join(f"2020,{c},{n}\n" for n, c in enumerate(CODES)),
    "ragged": "Year,GeoCode,Value\n2020,017001,1\n2020,017002,2,9\n",
    "badcell": "Year,GeoCode,Value\n2020,017001,1\n2020,017002,1 kg\n",
    "short": "Year,GeoCode,Value\n2020,017001,1\n2020,017002\n",
    "unknown": "Year,GeoCode,Value\n2020,999999,1\n",
    "good2": "Year,GeoCode,Value\n" + "".join(f"2021,{c},{n}\n" for n, c in enumerate(CODES)),
}


def _observatory(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "indicators").mkdir()
    (folder / "indicators" / "own.yaml").write_text(
        "- id: T_IND\n  label: {it: Indicatore, en: Indicator}\n  unit: year\n"
        "  polarity: neutral\n  domain: health\n  measure: ratio\n"
        "  reference_point: calendar_year\n  aggregation: none\n"
        "  source: {publisher: Test, document: tests/pipeline/test_read_ahead.py}\n",
        encoding="utf-8",
    )
    sources = []
    for name, text in FILES.items():
        (folder / "data" / f"{name}.csv").write_text(text, encoding="utf-8")
        sources.append(
            f"  {name}:\n    type: table\n    options:\n      path: data/{name}.csv\n"
            "      value_columns: [Value]\n      layout: tidy\n"
            "    rules:\n      indicator: {value: T_IND}\n"
            "      territory: {column: GeoCode, scheme: istat}\n"
            "      period: {column: Year}\n      value: {column: Value}\n"
        )
    sources.append(  # a file that is not there: fetch fails it; nothing read ahead is used
        "  missing:\n    type: table\n    options:\n      path: data/missing.csv\n"
        "      layout: tidy\n    rules:\n      indicator: {value: T_IND}\n"
        "      territory: {column: GeoCode, scheme: istat}\n"
        "      period: {column: Year}\n      value: {column: Value}\n"
    )
    (folder / "observatory.yaml").write_text(
        "id: ahead\nname: {it: Avanti, en: Ahead}\nedition: '2024'\n"
        "territory:\n  code: '017'\n  reference_date: 2024-01-01\n"
        "indicators:\n  add: [T_IND]\n  catalog: [indicators/own.yaml]\n"
        "sources:\n" + "".join(sources[:3]) + sources[-1] + "".join(sources[3:-1]),
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = _observatory(tmp_path_factory.mktemp("obs") / "obs")
    return make_environment(load_observatory(folder)).prepare()


def test_sources_read_ahead_give_what_reading_in_line_gives(
    environment: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.sources import table

    monkeypatch.setattr(table, "_AHEAD_BYTES", (0, 1 << 26))  # these files are small
    kb = tmp_path / "kb"
    sources = environment.config.sources
    context = offline_context(environment, kb)
    inline = [pipeline.run_source(s, sources[s], context) for s in sources]
    shutil.rmtree(kb)
    taken: list[bool] = []
    original = tidy._ahead

    def counted(data: bytes, options: Any, plain: bool = False) -> Any:
        found = original(data, options, plain)
        taken.append(found is not None)
        return found

    monkeypatch.setattr(tidy, "_ahead", counted)
    ahead = pipeline.run_sources(list(sources), offline_context(environment, kb))
    assert plain(ahead) == plain(inline)
    reports = {o.report.id: o.report for o in ahead}
    assert [reports[s].status for s in ("good1", "good2", "short")] == ["ok", "ok", "ok"]
    assert [reports[s].status for s in ("ragged", "badcell", "missing", "unknown")] == [
        "failed"
    ] * 4
    assert "row 3" in (reports["ragged"].error or "")
    assert "'1 kg'" in (reports["badcell"].error or "")
    # Every parsed source took the read made ahead of it while the one before parsed: all
    # but the first and the one after "missing" (whose fetch failed: it parsed nothing).
    assert taken == [False, True, True, False, True, True]
    # A rebuild reuses every source that parsed: nothing of theirs is read ahead.
    jobs: list[str] = []
    made = table.read_ahead_job
    monkeypatch.setattr(
        table,
        "read_ahead_job",
        lambda options, folder: jobs.append(options["path"]) or made(options, folder),
    )
    again = pipeline.run_sources(list(sources), offline_context(environment, kb))
    assert [o.report.status for o in again if o.report.status != "failed"] == ["reused"] * 3
    # Only the sources that failed to parse parse again, each reading the next one ahead.
    assert jobs == ["data/badcell.csv", "data/missing.csv"]
