"""load_observatory: a folder, its observatory.yaml, or an installed package by name."""

from __future__ import annotations

import importlib.metadata as metadata
import sys
from pathlib import Path

import pytest

from welfare_observatory.errors import ConfigError, UnknownIdError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.sources import manager

CONFIG = """\
id: demo
name: {it: Osservatorio demo}
edition: "2026"
territory: {code: "096", reference_date: 2024-01-01}
indicators: {add: [POP_TOTAL]}
"""


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package ``osserva_demo`` on sys.path, registered as the observatory ``demo``."""
    package = tmp_path / "site" / "osserva_demo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""Demo."""\n', encoding="utf-8")
    (package / "observatory.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "osserva_demo", raising=False)  # another test's copy
    entry = metadata.EntryPoint(
        name="demo", value="osserva_demo", group="welfare_observatory.observatories"
    )
    monkeypatch.setattr(manager, "observatory_packages", lambda: {"demo": entry})
    return package


def test_an_installed_package_is_found_by_name(installed: Path) -> None:
    observatory = load_observatory("demo")
    assert observatory.folder == installed.resolve() and observatory.package == "demo"


def test_the_project_folder_of_a_package_does_not_hide_it(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``new demo`` writes ./demo/ (pyproject, src/...); ``build demo`` from the parent folder
    # means the installed package, not that folder.
    (tmp_path / "work" / "demo" / "src").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    assert load_observatory("demo").folder == installed.resolve()


def test_a_folder_with_its_own_observatory_yaml_wins(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "work" / "demo"
    local.mkdir(parents=True)
    (local / "observatory.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "work")
    assert load_observatory("demo").folder == local.resolve()


def test_a_folder_without_observatory_yaml_and_no_package_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager, "observatory_packages", lambda: {})
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no observatory\.yaml"):
        load_observatory(tmp_path / "empty")


def test_an_unknown_name_lists_the_installed_packages(installed: Path) -> None:
    with pytest.raises(UnknownIdError) as info:
        load_observatory("demmo")
    assert "demo" in (info.value.hint or "") or "demo" in str(info.value)


def test_a_package_folder_given_as_a_path_is_that_package(installed: Path) -> None:
    # Its plugins are active only for it: the path finds the package as the name does.
    assert load_observatory(installed).package == "demo"
    assert load_observatory(installed / "observatory.yaml").package == "demo"


def test_a_folder_without_modules_is_no_package_and_scans_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scan() -> dict[str, metadata.EntryPoint]:
        raise AssertionError("entry points scanned for a folder that holds no module")

    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "observatory.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.setattr(manager, "observatory_packages", scan)
    assert load_observatory(folder).package is None
