"""A misbehaving source plugin fails its own source, never the build.

Each source of the fixture plugin (``tests/fixtures/plugins/wo_fixture_misbehaving``) has
another bug: an exception, ``fetch`` returning None, ``parse`` returning text, a ``fetch``
that hangs. The real source beside them (Biella's resident population, Istat) still builds,
the report names each failed source with the reason, and the exit code is 1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from welfare_observatory.build.strategies.sample import population_observatory
from welfare_observatory.observatory import load_observatory
from welfare_observatory.sources import manager

FIXTURE_PLUGIN = Path(__file__).parents[1] / "fixtures" / "plugins" / "wo_fixture_misbehaving"

RULES = (
    '{indicator: {value: POP_TOTAL}, territory: {column: t}, period: {value: "2023"}, '
    "value: {column: v}}"
)
BROKEN = {
    "raises": "fixture_raises",
    "returns_none": "fixture_none",
    "parses_text": "fixture_text",
}
TIMEOUT = 3.0


@pytest.fixture
def misbehaving_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGIN / "src"))
    monkeypatch.delenv(manager.ENV_ALLOW, raising=False)
    real = metadata.entry_points

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        found = list(real(group=group))
        if group == "welfare_observatory":
            found.append(
                metadata.EntryPoint("fixture_misbehaving", "wo_fixture_misbehaving", group)
            )
        return found

    monkeypatch.setattr(manager.metadata, "entry_points", entry_points)
    import wo_fixture_misbehaving

    wo_fixture_misbehaving.RELEASED.clear()
    yield wo_fixture_misbehaving


def observatory(tmp_path: Path, sources: dict[str, str]) -> Path:
    folder = population_observatory(tmp_path / "obs", "096")
    extra = "".join(
        f"  {sid}:\n    type: {kind}\n    rules: {RULES}\n" for sid, kind in sources.items()
    )
    config = folder / "observatory.yaml"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return folder


def test_every_broken_source_fails_alone_and_is_named(
    tmp_path: Path, misbehaving_plugin: object
) -> None:
    folder = observatory(tmp_path, BROKEN)
    result = load_observatory(folder).build(out=tmp_path / "kb", offline=True)
    report = result.report
    status = {s.id: s for s in report.sources}
    assert status["population"].status == "ok"
    assert status["raises"].status == "failed"
    assert "RuntimeError" in (status["raises"].error or "")
    assert "the plugin has a bug" in (status["raises"].error or "")
    assert "fetch returned NoneType" in (status["returns_none"].error or "")
    assert "parse returned str" in (status["parses_text"].error or "")
    assert not report.ok
    assert "POP_TOTAL" in report.built  # the good source's edition was written


def test_a_hanging_fetch_is_stopped_at_the_timeout(
    tmp_path: Path, misbehaving_plugin: object
) -> None:
    folder = observatory(tmp_path, {"hangs": "fixture_hangs"})
    started = time.monotonic()
    result = load_observatory(folder).build(
        out=tmp_path / "kb", offline=True, source_timeout=TIMEOUT
    )
    elapsed = time.monotonic() - started
    status = {s.id: s for s in result.report.sources}
    assert status["hangs"].status == "failed"
    assert "did not finish within 3 s" in (status["hangs"].error or "")
    assert status["population"].status == "ok"
    assert misbehaving_plugin.RELEASED.is_set()  # type: ignore[attr-defined]
    assert elapsed < TIMEOUT + 30  # the build itself takes a few seconds on 2 cores


def test_the_command_line_reports_the_failed_sources_and_exits_1(
    tmp_path: Path, misbehaving_plugin: object
) -> None:
    from click.testing import CliRunner

    from welfare_observatory.cli.main import cli

    folder = observatory(tmp_path, {**BROKEN, "hangs": "fixture_hangs"})
    args = ["build", str(folder), "--offline", "--out", str(tmp_path / "kb"), "--json"]
    result = CliRunner().invoke(cli, [*args, "--source-timeout", str(TIMEOUT)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    report = json.loads(result.output)
    failed = {s["id"] for s in report["sources"] if s["status"] == "failed"}
    assert failed == {*BROKEN, "hangs"}


@pytest.mark.slow
def test_on_dask_a_broken_source_fails_alone(tmp_path: Path, misbehaving_plugin: object) -> None:
    pytest.importorskip("distributed")
    from welfare_observatory.executors import DaskExecutor

    folder = observatory(tmp_path, {**BROKEN, "hangs": "fixture_hangs"})
    # Worker threads in this process: they see the fixture plugin's entry point, and the
    # timeout runs off the main thread (the abandoned-thread path).
    with DaskExecutor(n_workers=1, processes=False) as dask:
        started = time.monotonic()
        result = load_observatory(folder).build(
            out=tmp_path / "kb", offline=True, executor=dask, source_timeout=TIMEOUT
        )
        elapsed = time.monotonic() - started
    status = {s.id: s.status for s in result.report.sources}
    assert status == {
        "population": "ok",
        "raises": "failed",
        "returns_none": "failed",
        "parses_text": "failed",
        "hangs": "failed",
    }
    assert elapsed < TIMEOUT + 60
