"""``welfare-observatory new``: what the package holds, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from welfare_observatory.catalog import catalog
from welfare_observatory.cli.main import cli, main
from welfare_observatory.config import load_config
from welfare_observatory.errors import ConfigError, UnknownTerritoryError
from welfare_observatory.scaffold.observatory import new_observatory

REPO = Path(__file__).resolve().parents[2]


def test_the_package_is_filled_from_the_registry(tmp_path: Path) -> None:
    result = new_observatory("biellese", "Biella", tmp_path, baseline=False)
    package = tmp_path / "biellese" / "src" / "osserva_biellese"
    config = load_config(package)
    assert config.territory.code == "096"
    assert config.territory.comparisons == ("01", "ITC", "IT")
    assert config.indicators.profile == "starter"
    text = (package / "observatory.yaml").read_text("utf-8")
    assert "096004  Biella" in text and "district:T01024" in text
    assert text.count("#   096") == 74
    pyproject = (tmp_path / "biellese" / "pyproject.toml").read_text("utf-8")
    assert 'biellese = "osserva_biellese"' in pyproject
    assert {"README.md", "README.it.md"} <= {p.name for p in (tmp_path / "biellese").iterdir()}
    meta = yaml.safe_load(
        result.data.path.with_name(result.data.path.name + ".meta.yaml").read_text()
    )
    assert meta["licence"] == "CC-BY-4.0" and "Istat" in meta["publisher"]
    assert {"OLD_AGE_INDEX", "SHARE_65_PLUS", "POP_FEMALE_15_49"} <= set(result.expected)


def test_the_starter_selection_is_what_the_starter_data_build(tmp_path: Path) -> None:
    """Where the baseline has ages, every selected indicator builds offline, and the
    ``starter`` profile holds every verified one of them (review of issue 9, item 5).
    Without the national baseline: with it, see test_scaffold_baseline.py."""
    result = new_observatory("biellese", "096", tmp_path, baseline=False)
    config = load_config(tmp_path / "biellese" / "src" / "osserva_biellese")
    starter = {i.id for i in catalog().profile("starter")}
    selected = starter | set(config.indicators.add)
    assert selected == set(result.expected) and result.selected == len(selected)
    verified = {i for i in result.expected if catalog().get(i).source.verified}
    assert verified == starter
    readme = (tmp_path / "biellese" / "README.md").read_text("utf-8")
    assert f"first build makes {len(selected)} of them" in readme


def test_an_explicit_profile_is_kept_and_the_readme_says_what_builds(tmp_path: Path) -> None:
    result = new_observatory("vercelli", "002", tmp_path, profile="first_report", baseline=False)
    config = load_config(tmp_path / "vercelli" / "src" / "osserva_vercelli")
    assert config.indicators.profile == "first_report"
    assert result.selected > len(result.expected) == 5
    readme = (tmp_path / "vercelli" / "README.it.md").read_text("utf-8")
    assert f"({result.selected} indicatori)" in readme and "ne produce 5" in readme


def test_the_scaffolded_tests_use_the_conformance_kit(tmp_path: Path) -> None:
    new_observatory("vercelli", "002", tmp_path)
    text = (tmp_path / "vercelli" / "tests" / "test_vercelli_build.py").read_text("utf-8")
    assert "from welfare_observatory.testing import Sample, SourceConformance" in text
    assert "class TestPopulationFile(SourceConformance):" in text
    compile(text, "test_vercelli_build.py", "exec")
    pyproject = (tmp_path / "vercelli" / "pyproject.toml").read_text("utf-8")
    assert "hypothesis" in pyproject  # the kit's property test needs it


def test_the_starter_data_are_the_figures_of_the_biella_example(tmp_path: Path) -> None:
    """Same Istat source, same shape: the scaffold's file equals the example's."""
    result = new_observatory("biellese", "096", tmp_path)
    example = (
        REPO / "examples/biella/src/osserva_biella/data/popolazione_classi_eta_096_2022_2023.csv"
    )
    assert result.data.path.read_text("utf-8") == example.read_text("utf-8")


def test_without_ages_in_the_baseline_only_totals_are_written(tmp_path: Path) -> None:
    result = new_observatory("vercelli", "002", tmp_path, baseline=False)
    assert not result.data.with_ages
    config = load_config(tmp_path / "vercelli" / "src" / "osserva_vercelli")
    assert config.indicators.profile is None  # the starter profile needs ages
    assert set(config.indicators.add) == set(result.expected) and result.selected == 5
    assert set(result.expected) == {
        "POP_TOTAL",
        "POP_FEMALE",
        "POP_MALE",
        "SHARE_FEMALE",
        "SEX_RATIO",
    }
    first = result.data.path.read_text("utf-8").splitlines()[:2]
    assert first[0] == "Anno;Codice comune;Comune;Classe di età;Maschi;Femmine;Totale"
    assert first[1].startswith("2022;002002;Alagna Valsesia;Totale;")


def test_a_region_works_and_a_municipality_is_refused(tmp_path: Path) -> None:
    region = new_observatory("valle_aosta", "02", tmp_path)
    assert region.comparisons == ("ITC", "IT")
    with pytest.raises(ConfigError, match="municipality") as caught:
        new_observatory("biella_citta", "096004", tmp_path)
    assert caught.value.hint and "096" in caught.value.hint


@pytest.mark.parametrize("name", ["Biella", "9lives", "osserva-biella", "a"])
def test_a_name_that_cannot_be_a_python_package_is_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lower_snake_case"):
        new_observatory(name, "096", tmp_path)


def test_a_non_empty_folder_and_an_unknown_territory_are_refused(tmp_path: Path) -> None:
    (tmp_path / "biellese").mkdir()
    (tmp_path / "biellese" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        new_observatory("biellese", "096", tmp_path)
    with pytest.raises(UnknownTerritoryError):
        new_observatory("altrove", "Bielle", tmp_path)
    with pytest.raises(ConfigError, match="profile"):
        new_observatory("vercelli", "002", tmp_path, profile="matur")


def test_the_command_prints_the_package_and_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = CliRunner()
    done = runner.invoke(cli, ["new", "vercelli", "-t", "002", "--out", str(tmp_path), "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["territory"] == "002" and "tests/test_vercelli_build.py" in report["files"]
    with pytest.raises(SystemExit) as exited:
        main(["new", "vercelli", "-t", "002", "--out", str(tmp_path)])
    assert exited.value.code == 1
    printed = capsys.readouterr().err
    assert "not empty" in printed and "Traceback" not in printed
