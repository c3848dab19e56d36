"""The build environment: what a build reads besides its payloads reaches every stage and
keys every reused step.

Figures are Istat's resident population of Biella's municipalities on 1 January 2023 (the
library's shipped baseline), by sex, written as a municipal office would publish them.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from welfare_observatory.observatory import load_observatory
from welfare_observatory.sources import manager
from welfare_observatory.store import KnowledgeBase

FIXTURE_PLUGIN = Path(__file__).parents[1] / "fixtures" / "plugins" / "wo_fixture_units"

CONFIG = """\
id: env_biella
name: {{it: Osservatorio di prova, en: Test observatory}}
edition: "2025"
territory:
  code: "096"
  reference_date: 2024-01-01
indicators:
  catalog: [own.yaml]
  add: [TEST_RESIDENTS]
sources:
  residents:
    type: table
    options: {{path: data/residenti.csv}}
    rules:
      indicator: {{value: TEST_RESIDENTS}}
      territory: {{column: Codice comune, scheme: istat}}
      period: {{value: "2023", reference_date: jan_1}}
      breakdowns:
        sex: {{column: Sesso{codes}}}
      value: {{column: Residenti}}
      unit: {{unit: {unit}}}
"""

OWN = """\
- id: TEST_RESIDENTS
  label: {{it: Residenti, en: Residents}}
  definition: {{it: Popolazione residente al 1 gennaio., en: Residents on 1 January.}}
  unit: {unit}
  polarity: neutral
  domain: demography
  measure: stock
  reference_point: jan_1
  breakdowns: [sex]
  aggregation: sum
  source: {{publisher: Istat, dataset: test, url: "https://demo.istat.it/"}}
"""


def residents() -> dict[tuple[str, str], int]:
    """Residents of each municipality of Biella by sex, 1 January 2023."""
    from welfare_observatory.territory import population

    frame = population(2023, by=("sex",), of="096").to_pandas()
    sums = frame.groupby(["territory", "sex"])["population"].sum()
    return {(str(code), str(sex)): int(n) for (code, sex), n in sums.items()}


def write_observatory(
    folder: Path,
    *,
    unit: str = "person",
    source_unit: str = "person",
    codes: str = "",
    labels: dict[str, str] | None = None,
    per: int = 1,
) -> Path:
    """``per``: the CSV gives residents in units of ``per`` persons (exact decimals)."""
    labels = labels or {"F": "Femmine", "M": "Maschi"}
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "observatory.yaml").write_text(
        CONFIG.format(unit=source_unit, codes=codes), encoding="utf-8"
    )
    (folder / "own.yaml").write_text(OWN.format(unit=unit), encoding="utf-8")
    lines = ["Codice comune;Sesso;Residenti"]
    for (code, sex), people in sorted(residents().items()):
        if sex in labels:
            lines.append(f"{code};{labels[sex]};{people / per}")
    (folder / "data" / "residenti.csv").write_text("\n".join(lines) + "\n", "utf-8")
    return folder


def biella_women(kb: Path) -> tuple[float, str]:
    table = KnowledgeBase(kb).to_arrow("TEST_RESIDENTS", "096004", edition="2025", sex="F")
    rows = table.to_pylist()
    assert len(rows) == 1, rows
    return rows[0]["value"], str(rows[0]["unit"])


def test_a_changed_indicator_unit_is_not_reused_on_rebuild(tmp_path: Path) -> None:
    folder = write_observatory(tmp_path / "obs")
    kb = tmp_path / "kb"
    first = load_observatory(folder).build(out=kb, offline=True)
    assert first.report.sources[0].status == "ok"
    value, unit = biella_women(kb)
    assert unit == "person"
    expected = residents()[("096004", "F")]
    assert value == expected

    # The observatory now publishes thousands of persons: the source step read the old
    # definition, so it must not be reused.
    (folder / "own.yaml").write_text(OWN.format(unit="thousand_persons"), encoding="utf-8")
    second = load_observatory(folder).build(out=kb, offline=True)
    assert second.report.sources[0].status == "ok"
    assert second.report.reused_steps == 0
    value, unit = biella_women(kb)
    assert unit == "thousand_persons"
    assert value == pytest.approx(expected / 1000)

    fresh = tmp_path / "fresh"
    load_observatory(folder).build(out=fresh, offline=True)
    assert biella_women(fresh) == (value, unit)


def test_an_unchanged_rebuild_still_reuses_the_source(tmp_path: Path) -> None:
    folder = write_observatory(tmp_path / "obs")
    kb = tmp_path / "kb"
    load_observatory(folder).build(out=kb, offline=True)
    again = load_observatory(folder).build(out=kb, offline=True)
    assert again.report.sources[0].status == "reused"


@pytest.fixture
def fixture_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture plugin package, found through its entry point as if installed."""
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGIN / "src"))
    monkeypatch.delenv(manager.ENV_ALLOW, raising=False)
    real = metadata.entry_points

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        found = list(real(group=group))
        if group == "welfare_observatory":
            found.append(metadata.EntryPoint("fixture_units", "wo_fixture_units", group))
        return found

    monkeypatch.setattr(manager.metadata, "entry_points", entry_points)


def test_a_plugin_unit_and_code_list_reach_harmonize(tmp_path: Path, fixture_plugin: None) -> None:
    labels = {"F": "Popolazione femminile", "M": "Popolazione maschile"}
    # The municipal file counts hundreds of residents, a unit only the plugin defines; the
    # sexes are labelled as only the plugin's code list says.
    folder = write_observatory(
        tmp_path / "obs",
        source_unit="hundred_persons",
        codes=", codes: CL_TEST_SESSO",
        labels=labels,
        per=100,
    )
    result = load_observatory(folder).build(out=tmp_path / "kb", offline=True)
    [source] = result.report.sources
    assert source.status == "ok", source.error
    value, unit = biella_women(tmp_path / "kb")
    assert unit == "person"
    assert value == pytest.approx(residents()[("096004", "F")])


def test_without_the_plugin_its_unit_is_unknown(tmp_path: Path) -> None:
    folder = write_observatory(tmp_path / "obs", source_unit="hundred_persons", per=100)
    result = load_observatory(folder).build(out=tmp_path / "kb", offline=True)
    [source] = result.report.sources
    assert source.status == "failed"
    assert "hundred_persons" in (source.error or "")


def test_a_plugin_code_list_name_the_build_does_not_know_fails_the_source(
    tmp_path: Path,
) -> None:
    folder = write_observatory(
        tmp_path / "obs",
        codes=", codes: CL_TEST_SESSO",
        labels={"F": "Popolazione femminile", "M": "Popolazione maschile"},
    )
    result = load_observatory(folder).build(out=tmp_path / "kb", offline=True)
    [source] = result.report.sources
    assert source.status == "failed"


def test_the_fingerprint_digests_the_definitions_as_one_value(tmp_path: Path) -> None:
    """The fingerprint is assembled from parts made once; it equals the digest of the whole."""
    from welfare_observatory.build.environment import make_environment
    from welfare_observatory.lineage import digest

    env = make_environment(load_observatory(write_observatory(tmp_path)))
    some = sorted(env.indicators)[:5]
    cases = [None, ["TEST_RESIDENTS"], some, [*some, "NOT_AN_INDICATOR"], []]
    for _ in range(2):  # the second round reads the parts made by the first
        for ids in cases:
            assert env.fingerprint(ids) == digest(env._fingerprint_value(ids))
    assert env.fingerprint(["TEST_RESIDENTS"]) != env.fingerprint(some)


def test_the_fingerprint_hashed_in_pieces_is_the_digest_of_the_whole_for_any_ids(
    tmp_path: Path,
) -> None:
    """``fingerprint`` hashes its text in three pieces (no copy of the whole): the digest
    is that of the whole value for any indicator ids, defined or not, also with text
    outside ASCII."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from welfare_observatory.build.environment import make_environment
    from welfare_observatory.lineage import digest

    env = make_environment(load_observatory(write_observatory(tmp_path)))
    known = sorted(env.indicators)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(known), st.text(max_size=8)), max_size=6))
    def check(ids: list[str]) -> None:
        assert env.fingerprint(ids) == digest(env._fingerprint_value(ids))

    check()
    assert env.fingerprint() == digest(env._fingerprint_value())


def test_the_catalogue_s_cached_texts_give_the_same_fingerprints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalogue read from the start-up cache brings its definitions' canonical JSON: the
    fingerprints made from it equal those serialised from the definitions, and those of a
    process without the cache."""
    from welfare_observatory import _startup_cache
    from welfare_observatory.build.environment import make_environment
    from welfare_observatory.lineage import digest

    folder = write_observatory(tmp_path)
    some = [i.id for i in load_observatory(folder).catalog][:5]
    cases = [None, ["TEST_RESIDENTS"], some, [*some, "NOT_AN_INDICATOR"], []]
    monkeypatch.setenv(_startup_cache.ENV, str(tmp_path / "startup"))
    load_observatory(folder).catalog  # noqa: B018 (fills the cache)
    cached = make_environment(load_observatory(folder))
    assert set(cached.definition_texts) == set(cached.indicators)
    monkeypatch.setenv(_startup_cache.ENV, "off")
    plain = make_environment(load_observatory(folder))
    assert plain.definition_texts == {}
    for ids in cases:
        assert cached.fingerprint(ids) == digest(cached._fingerprint_value(ids))
        assert cached.fingerprint(ids) == plain.fingerprint(ids)
