"""A knowledge base read by the CLI may have been edited by someone else, and a query is
typed by a person (a CLI fuzz campaign, issue 19): a query reads the edition's views and
nothing else, names in the knowledge base never reach SQL or paths, and every refusal is
one typed error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from welfare_observatory.cli.main import cli
from welfare_observatory.errors import EditionError, StoreError, UnknownIdError
from welfare_observatory.store import KnowledgeBase

from .test_store_editions import build


@pytest.fixture
def kb_path(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    build(root, "2025", "b-1", {("POP", "096001"): 1.0})
    return root


def test_a_query_reads_the_views_and_no_other_file(kb_path: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase.open(kb_path)
    assert kb.query("SELECT count(*) AS n FROM observations")["n"].tolist() == [1]
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n", encoding="utf-8")
    for sql in (
        f"SELECT * FROM read_csv('{secret}')",
        f"COPY (SELECT 1) TO '{tmp_path / 'written.csv'}'",
        "SET enable_external_access = true",
    ):
        with pytest.raises(StoreError, match="query failed"):
            kb.query(sql)
    assert not (tmp_path / "written.csv").exists()


@pytest.mark.parametrize("sql", ["", "   ", "-- a comment alone"])
def test_a_query_with_no_statement_is_an_error(kb_path: Path, sql: str) -> None:
    with pytest.raises(StoreError, match="query"):
        KnowledgeBase.open(kb_path).query(sql)


def test_a_file_name_in_the_knowledge_base_never_reaches_the_sql(
    kb_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = KnowledgeBase.open(kb_path)
    analyses = kb.path() / "analyses"
    analyses.mkdir(exist_ok=True)
    name = "x AS SELECT 1; COPY (SELECT 42) TO 'pwned.csv'; CREATE VIEW y.parquet"
    (analyses / name).write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    kb.query("SELECT 1 AS one")
    assert not (tmp_path / "pwned.csv").exists()


def test_a_manifest_naming_a_file_outside_its_build_is_refused(kb_path: Path) -> None:
    kb = KnowledgeBase.open(kb_path)
    manifest_file = kb.path() / "manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest["tables"]["observations"]["files"] = ["/etc/passwd"]
    manifest_file.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(EditionError, match="outside its build"):
        kb.files()


@pytest.mark.parametrize("name", ["/tmp/elsewhere/ed", "2025/../../x", "../x", "."])
def test_an_edition_name_that_is_a_path_is_no_edition(kb_path: Path, name: str) -> None:
    with pytest.raises(UnknownIdError, match="no edition"):
        KnowledgeBase.open(kb_path).edition(name)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["kb", "diff", "2025", "2025", "--tolerance", "nan"], "--tolerance"),
        (["kb", "diff", "2025", "2025", "--tolerance", "-1"], "--tolerance"),
        (["publish", "--format", "csv", "--threshold", "nan"], "--threshold"),
        (["publish", "--format", "csv", "--threshold", "inf"], "--threshold"),
    ],
)
def test_numbers_that_are_not_finite_are_usage_errors(
    kb_path: Path, args: list[str], expected: str
) -> None:
    result = CliRunner().invoke(cli, [*args, "--kb", str(kb_path)])
    assert result.exit_code == 2 and expected in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["nlp\n", "class", "a" * 61])
def test_a_plugin_name_that_is_no_package_name_is_refused(name: str, tmp_path: Path) -> None:
    from welfare_observatory.cli.new_plugin import scaffold
    from welfare_observatory.errors import ConfigError

    with pytest.raises(ConfigError, match="not a package name"):
        scaffold(name, tmp_path)


def test_a_folder_the_file_system_refuses_is_one_error_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    missing = tmp_path / "no" / "such" / "folder"
    missing.parent.parent.mkdir()
    (missing.parent.parent / "such").write_text("a file, not a folder", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "welfare_observatory.cli.main", "new-plugin", "okp",
         "--dir", str(missing)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")


def test_publish_refuses_a_folder_of_other_files_and_replaces_an_earlier_export(
    kb_path: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "README.md").write_text("MY NOTES", encoding="utf-8")
    args = ["publish", "--format", "csv", "--kb", str(kb_path), "--out"]
    refused = CliRunner().invoke(cli, [*args, str(mine)])
    assert "not empty and holds no earlier export" in str(refused.exception)
    assert (mine / "README.md").read_text(encoding="utf-8") == "MY NOTES"
    export = tmp_path / "export"
    for _ in range(2):  # the second run replaces the first export
        assert CliRunner().invoke(cli, [*args, str(export)]).exit_code == 0
    assert (export / "metadata.json").is_file()


def test_a_path_holding_a_nul_character_is_a_config_error(tmp_path: Path) -> None:
    from welfare_observatory.errors import ConfigError
    from welfare_observatory.sdk import FetchContext

    context = FetchContext.create(tmp_path / "cache", base_dir=tmp_path)
    with pytest.raises(ConfigError, match="NUL character"):
        context.read_file("data/pop\x00.csv")


def test_an_indicators_file_that_is_not_text_is_a_usage_error(tmp_path: Path) -> None:
    binary = tmp_path / "ids.txt"
    binary.write_bytes(b"\xff\xfe\x00binary")
    result = CliRunner().invoke(cli, ["catalog", "coverage", "--indicators", str(binary)])
    assert result.exit_code == 2 and "not a UTF-8 text file" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "warnings", "--window", "-1"],
        ["analyze", "warnings", "--z", "nan"],
        ["analyze", "warnings", "--limit", "-1"],
        ["analyze", "progress", "--target", "nan"],
        ["territory", "search", "Biella", "--limit", "-1"],
    ],
)
def test_numbers_outside_their_range_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
