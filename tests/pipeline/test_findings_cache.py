"""The checks' findings cache (``<kb>/.steps/checks.json``): the findings of the sources
taken from it are written back as they were read, not dumped again; what a build reads back
is what dumping every finding gave; a damaged file is rebuilt, never trusted."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory._seal import KEY, seal
from welfare_observatory.build import validate
from welfare_observatory.build.strategies.sample import population_observatory
from welfare_observatory.model.finding import Finding, Severity
from welfare_observatory.observatory import load_observatory

from ._sealed import read_record, write_record

_FINDINGS = st.lists(
    st.builds(
        Finding,
        code=st.sampled_from(["outlier", "sum-mismatch", "unknown-territory"]),
        severity=st.sampled_from(list(Severity)),
        message=st.text(max_size=20),
        source=st.one_of(st.none(), st.sampled_from(["a", "b"])),
        row=st.one_of(st.none(), st.integers(0, 10_000)),
        count=st.integers(1, 5),
    ),
    max_size=3,
)


def _cache(folder: Path) -> validate.FindingsCache:
    context: Any = SimpleNamespace(steps_dir=folder, refresh=False)
    return validate.FindingsCache(context)


@settings(max_examples=40, deadline=None)
@given(
    before=st.dictionaries(st.sampled_from(["k1", "k2", "k3", "k4"]), _FINDINGS, max_size=4),
    after=st.dictionaries(st.sampled_from(["k3", "k4", "k5"]), _FINDINGS, max_size=3),
    legacy=st.booleans(),
)
def test_findings_written_back_as_read_read_back_as_every_finding_dumped(
    tmp_path_factory: pytest.TempPathFactory,
    before: dict[str, list[Finding]],
    after: dict[str, list[Finding]],
    legacy: bool,
) -> None:
    """A build keeps some keys from the file and checks others (``after`` replaces what it
    names): the file it saves reads back as the file of every finding dumped (what the
    save did before), whether the file read held its findings dumped in full or, as an
    older version may have written them, without their default fields."""
    folder = tmp_path_factory.mktemp("checks")
    record = {
        k: [f.model_dump(mode="json", exclude_defaults=legacy) for f in v]
        for k, v in before.items()
    }
    write_record(folder / "checks.json", record)
    cache = _cache(folder)
    assert cache.cached == before
    cache.results.update({k: cache.cached[k] for k in before if k not in after})
    cache.results.update(after)
    cache.save()
    expected = {k: v for k, v in before.items() if k not in after} | after
    assert _cache(folder).cached == expected
    # The kept keys' JSON is the JSON read, byte for byte as parsed (without the default
    # fields when the file read lacked them): not dumped again.
    saved = json.loads((folder / "checks.json").read_text(encoding="utf-8"))
    assert {k: saved[k] for k in before if k not in after} == {
        k: record[k] for k in before if k not in after
    }
    reference = folder / "reference"
    reference.mkdir()
    validate._save(reference / "checks.json", expected)
    assert _cache(reference).cached == expected


def _edited(saved: bytes) -> bytes:
    """The cache with a finding added to a source's: still JSON, still findings."""
    record = json.loads(saved)
    key = next(k for k in record if k != KEY)
    listed = b'"' + key.encode("ascii") + b'": ['
    assert listed in saved
    finding = json.dumps({"code": "outlier", "severity": "warning", "message": "not found"})
    comma = b"" if record[key] == [] else b", "
    return saved.replace(listed, listed + finding.encode("utf-8") + comma, 1)


@pytest.mark.parametrize(
    "damage",
    [b"", b"\0" * 64, seal({"k": [{"code": 1}]}), b"[1, 2]", "unsealed", "a finding added"],
)
def test_a_damaged_findings_cache_is_rebuilt_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: bytes | str
) -> None:
    """A cache file a crash left short or zeroed (it is not fsynced), that does not hold
    findings, that an earlier version wrote without a seal, or whose findings changed since
    (still well-formed): the next build checks every source again and saves a good one."""
    folder = population_observatory(tmp_path / "obs", "096")
    first = load_observatory(folder).build(out=tmp_path / "kb", offline=True).report
    cache = tmp_path / "kb" / ".steps" / "checks.json"
    saved = cache.read_bytes()
    if damage == "unsealed":
        damage = json.dumps(read_record(cache)).encode("utf-8")
    elif damage == "a finding added":
        damage = _edited(saved)
    assert isinstance(damage, bytes)
    cache.write_bytes(damage)
    checked: list[list[str]] = []
    original = validate.run_checks_by_source

    def spy(tables: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        checked.append(sorted(tables))
        return original(tables, *args, **kwargs)

    monkeypatch.setattr(validate, "run_checks_by_source", spy)
    again = load_observatory(folder).build(out=tmp_path / "kb", offline=True).report
    assert checked == [["population"]]
    assert again.build == first.build
    assert again.findings == first.findings
    assert json.loads(cache.read_bytes()) == json.loads(saved)
