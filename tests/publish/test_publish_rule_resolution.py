"""``publish`` and ``report`` find the observatory and its disclosure rule the same way.

An installed observatory declares ``threshold: 10``; the default rule hides counts below 3.
Ailoche (096001) has 4 girls and 5 boys aged 0-14, 9 in all: visible under the default rule,
confidential under the observatory's. The observatory is installed the way a package is
found (an entry point in ``welfare_observatory.observatories``), so neither command is told
where it is.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata as metadata
import json
import sys
from pathlib import Path

import pytest

from welfare_observatory.cli.main import main
from welfare_observatory.observatory import load_observatory
from welfare_observatory.sources import manager
from welfare_observatory.store import KnowledgeBase

CONFIG = """\
id: prova
name: {it: Osservatorio di prova}
edition: "2025"
territory: {code: "096", reference_date: 2024-01-01}
indicators: {add: [POP_0_14]}
disclosure: protection.yaml
sources:
  pop:
    type: table
    options: {path: data/pop.csv, value_columns: [Value], layout: tidy}
    rules:
      indicator: {value: POP_0_14}
      territory: {column: GeoCode, scheme: auto}
      period: {column: Year}
      value: {column: Value}
      breakdowns:
        sex: {column: Sex, map: {Total: _T, Female: F, Male: M}}
"""

ROWS = [
    ("096001", "Total", 9),
    ("096001", "Female", 4),
    ("096001", "Male", 5),
    ("096002", "Total", 370),
    ("096002", "Female", 180),
    ("096002", "Male", 190),
]


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The package ``osserva_prova`` on sys.path, registered as the observatory ``prova``."""
    folder = tmp_path / "site-packages" / "osserva_prova"
    (folder / "data").mkdir(parents=True)
    (folder / "__init__.py").write_text('"""Prova."""\n', encoding="utf-8")
    (folder / "observatory.yaml").write_text(CONFIG, encoding="utf-8")
    (folder / "protection.yaml").write_text("threshold: 10\n", encoding="utf-8")
    lines = ["GeoCode,Year,Sex,Value"] + [f"{c},2024,{s},{v}" for c, s, v in ROWS]
    (folder / "data" / "pop.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder.parent))
    monkeypatch.delitem(sys.modules, "osserva_prova", raising=False)
    entry = metadata.EntryPoint(
        name="prova", value="osserva_prova", group="welfare_observatory.observatories"
    )
    monkeypatch.setattr(manager, "observatory_packages", lambda: {"prova": entry})
    return folder


@pytest.fixture
def kb(package: Path, tmp_path: Path) -> Path:
    out = tmp_path / "kb"
    load_observatory("prova").build(out=out, offline=True)
    return out


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ailoche(rows_file: Path) -> dict[str, dict[str, str]]:
    with rows_file.open(encoding="utf-8") as handle:
        return {
            row["sex"]: row
            for row in csv.DictReader(handle)
            if row["territory"] == "096001" and row["indicator"] == "POP_0_14"
        }


def territory_row(site: Path) -> str:
    page = (site / "territories" / "096001.html").read_text(encoding="utf-8")
    return page.split("POP_0_14.html", 1)[1].split("</tr>", 1)[0]


def test_the_edition_records_the_rule_it_was_built_with(kb: Path, package: Path) -> None:
    recorded = KnowledgeBase.open(kb).manifest("2025").disclosure
    assert recorded is not None and recorded.file == "protection.yaml"
    expected = hashlib.sha256((package / "protection.yaml").read_bytes()).hexdigest()
    assert recorded.sha256 == expected


def test_publish_and_report_apply_the_installed_observatory_rule(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "publish", "--kb", str(kb), "--format", "csv", "--out", str(tmp_path / "o"),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["disclosure"] == "prova: protection.yaml"
    hidden = ailoche(tmp_path / "o" / "observations.csv")
    assert set(hidden) == {"_T", "F", "M"}
    assert all(row["value"] == "" and row["conf_status"] == "C" for row in hidden.values())

    code, _, err = run(capsys, "report", "--kb", str(kb), "--out", str(tmp_path / "site"))
    assert code == 0, err
    row = territory_row(tmp_path / "site")
    assert "n.d." in row and ">s<" in row and ">9<" not in row


def test_the_default_rule_would_show_the_count(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same report with the default rule given explicitly: the count is there, so the
    # test above sees the observatory's rule, not an empty page.
    default = tmp_path / "default.yaml"
    default.write_text("threshold: 3\n", encoding="utf-8")
    site = tmp_path / "site"
    code, _, err = run(
        capsys, "report", "--kb", str(kb), "--out", str(site), "--disclosure", str(default)
    )
    assert code == 0, err
    assert ">9<" in territory_row(site)


def test_an_edition_whose_rule_cannot_be_found_is_not_published(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager, "observatory_packages", dict)  # the package was uninstalled
    out = tmp_path / "o"
    code, _, err = run(capsys, "publish", "--kb", str(kb), "--format", "csv", "--out", str(out))
    assert code == 1 and "Traceback" not in err
    assert "protection.yaml" in err and "--observatory" in err and "--disclosure" in err
    assert not out.exists()
    site = tmp_path / "site"
    code, _, err = run(capsys, "report", "--kb", str(kb), "--out", str(site))
    assert code == 1 and "protection.yaml" in err and not site.exists()


def test_an_observatory_that_no_longer_declares_the_rule_is_refused(
    kb: Path, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = package / "observatory.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("disclosure:", "#"), "utf-8")
    out = tmp_path / "o"
    code, _, err = run(capsys, "publish", "--kb", str(kb), "--format", "csv", "--out", str(out))
    assert code == 1 and "declares no disclosure rule" in err and not out.exists()


def test_a_rule_changed_after_the_build_is_applied_with_a_note(
    kb: Path, package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (package / "protection.yaml").write_text("threshold: 12\n", encoding="utf-8")
    out = tmp_path / "o"
    code, _, err = run(capsys, "publish", "--kb", str(kb), "--format", "csv", "--out", str(out))
    assert code == 0, err
    assert "changed after edition 2025 was built" in err
    metadata_ = json.loads((out / "metadata.json").read_text(encoding="utf-8"))["metadata"]
    assert "< 12" in metadata_["disclosure"]


def test_a_broken_rule_file_stops_the_build_with_its_name(package: Path, tmp_path: Path) -> None:
    from welfare_observatory.errors import ConfigError

    (package / "protection.yaml").write_text("threshold: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_observatory("prova").build(out=tmp_path / "kb", offline=True)
    assert "protection.yaml" in str(info.value.location) + str(info.value)
    assert not (tmp_path / "kb" / "2025").exists()
