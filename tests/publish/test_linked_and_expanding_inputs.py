"""Files an observatory folder brings that are published as they say: a provenance file
beside a data file, a catalogue folder's definitions. A symbolic link among them would
publish a file from anywhere on the machine, and a few hundred bytes of YAML aliases would
expand to gigabytes: both are refused (a review of hostile input, issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest

from welfare_observatory.catalog._load import layer_files
from welfare_observatory.catalog._yaml import MAX_VALUES, read_yaml
from welfare_observatory.errors import CatalogError, ConfigError
from welfare_observatory.publish.provenance import _sidecar


def aliases_of_aliases(levels: int) -> str:
    """YAML whose last list expands to 10**levels values ("billion laughs")."""
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, levels + 1):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
    return text


def test_a_provenance_file_is_read_as_a_mapping(tmp_path: Path) -> None:
    data = tmp_path / "pop.csv"
    data.write_text("x\n1\n", encoding="utf-8")
    (tmp_path / "pop.csv.meta.yaml").write_text("publisher: Istat\nlicence: IODL-2.0\n", "utf-8")
    assert _sidecar(data) == {"publisher": "Istat", "licence": "IODL-2.0"}
    assert _sidecar(tmp_path / "other.csv") == {}


def test_a_provenance_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("publisher: somebody else's file\n", encoding="utf-8")
    (tmp_path / "obs").mkdir()
    data = tmp_path / "obs" / "pop.csv"
    data.write_text("x\n1\n", encoding="utf-8")
    (tmp_path / "obs" / "pop.csv.meta.yaml").symlink_to(outside)
    with pytest.raises(ConfigError, match="symbolic link"):
        _sidecar(data)


def test_a_provenance_file_of_aliases_is_refused_before_it_expands(tmp_path: Path) -> None:
    data = tmp_path / "pop.csv"
    data.write_text("x\n1\n", encoding="utf-8")
    bomb = aliases_of_aliases(9) + "licence: *a9\n"  # 10**9 values
    (tmp_path / "pop.csv.meta.yaml").write_text(bomb, encoding="utf-8")
    with pytest.raises(ConfigError, match="alias"):
        _sidecar(data)


def test_a_catalogue_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("[]\n", encoding="utf-8")
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "mine.yaml").write_text("[]\n", encoding="utf-8")
    (folder / "theirs.yaml").symlink_to(outside)
    with pytest.raises(CatalogError, match=r"theirs\.yaml .* is a symbolic link"):
        layer_files(folder)


def test_a_catalogue_file_of_aliases_stops_at_the_limit(tmp_path: Path) -> None:
    file = tmp_path / "bomb.yaml"
    file.write_text(aliases_of_aliases(8), encoding="utf-8")  # 10**8 values
    with pytest.raises(CatalogError, match=f"more than {MAX_VALUES:,} values"):
        read_yaml(file)
    # Aliases within the limit are plain YAML, read as safe_load reads them.
    file.write_text(aliases_of_aliases(2), encoding="utf-8")
    assert len(read_yaml(file)["a2"]) == 10


def test_the_export_readme_writes_titles_and_publishers_as_text() -> None:
    from welfare_observatory.publish.metadata import ExportMetadata, SourceInfo, readme

    meta = ExportMetadata(
        observatory="o",
        edition="2025",
        build="b-1",
        status="draft",
        created="2025-01-01",
        reference_date="2025-01-01",
        territory="096",
        library_version="0",
        licence="<b>CC</b>",
        licence_url="javascript:alert(1)",
        sources=(
            SourceInfo(
                id="s",
                title="Pop <img src=x onerror=alert(1)>",
                licence="[free](javascript:alert(2))",
                publisher="Istat & co",
            ),
        ),
    )
    text = readme(meta, ["observations.csv"])
    # A licence address that is no web address is left out.
    assert "- Licence: &lt;b&gt;CC&lt;/b&gt;\n" in text
    assert "Pop &lt;img src=x onerror=alert(1)&gt;" in text
    assert "licence \\[free\\](javascript:alert(2))" in text  # no link: plain text
    assert "publisher Istat &amp; co" in text
