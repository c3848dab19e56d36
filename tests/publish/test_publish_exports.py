"""Open-data exports: every format, read back; nothing suppressed ever leaves with a value."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from welfare_observatory.errors import PluginError, PublishError, UnknownIdError
from welfare_observatory.model.observation import observation_schema
from welfare_observatory.protect import DisclosureRule, publishable_view
from welfare_observatory.publish import ExporterRegistry, UnknownFormatError, export
from welfare_observatory.publish._files import atomic_output
from welfare_observatory.publish.metadata import COLUMN_DESCRIPTIONS
from welfare_observatory.publish.tabular import read_csv
from welfare_observatory.store import KnowledgeBase
from welfare_observatory.store.edition import Manifest, SourceRecord, write_build

HIERARCHY = pa.table(
    {
        "municipality": ["096001", "096002", "096003"],
        "province": ["096"] * 3,
        "region": ["01"] * 3,
        "nuts1": ["ITC"] * 3,
        "country": ["IT"] * 3,
    }
)
COUNTS = {  # (indicator, territory) -> (F, M)
    ("POP_0_14", "096001"): (2.0, 9.0),
    ("POP_0_14", "096002"): (180.0, 190.0),
    ("POP_0_14", "096003"): (70.0, 75.0),
    ("POP_65_PLUS", "096001"): (60.0, 55.0),
    ("POP_65_PLUS", "096002"): (400.0, 330.0),
    ("POP_65_PLUS", "096003"): (150.0, 140.0),
}
RISKY_FLAGS = ['=HYPERLINK("http://x")', "+1", "-bep", "@SUM(A1)", "\tTAB", "\rCR"]


def _row(indicator: str, territory: str, sex: str, value: float, unit: str) -> dict[str, Any]:
    return {
        "indicator": indicator,
        "territory": territory,
        "period": "2024-01-01",
        "period_start": date(2024, 1, 1),
        "sex": sex,
        "value": value,
        "unit": unit,
        "obs_status": "A",
        "conf_status": "F",
        "flags": None,
        "source": "istat_pop",
        "lineage": "step-1",
    }


def sample_observations() -> pa.Table:
    rows = []
    totals: dict[tuple[str, str, str], float] = {}
    for (indicator, territory), (f, m) in COUNTS.items():
        for sex, value in (("F", f), ("M", m), ("_T", f + m)):
            for code in (territory, "096"):
                totals[(indicator, code, sex)] = totals.get((indicator, code, sex), 0) + value
    for (indicator, territory, sex), value in sorted(totals.items()):
        rows.append(_row(indicator, territory, sex, value, "person"))
    for territory in ("096001", "096002", "096003", "096"):
        old = totals[("POP_65_PLUS", territory, "_T")] / totals[("POP_0_14", territory, "_T")]
        rows.append(_row("OLD_AGE_INDEX", territory, "_T", old * 100, "percent"))
    for row, flag in zip(rows[-len(RISKY_FLAGS) :], RISKY_FLAGS, strict=True):
        row["flags"] = flag
    table = pa.Table.from_pylist(rows, schema=observation_schema(("sex",)))
    return table.append_column("domain", pa.array(["demography"] * table.num_rows))


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    manifest = Manifest(
        observatory="biella",
        edition="2025",
        build="b-1",
        created="2026-01-01T00:00:00",
        library_version="0.1.0",
        config_digest="c" * 64,
        reference_date="2024-01-01",
        territory="096",
        sources={"istat_pop": SourceRecord(type="sdmx", status="ok")},
    )
    empty = pa.table({"step": pa.array([], pa.string())})
    root = tmp_path / "kb"
    write_build(root, manifest, observations=sample_observations(), lineage=empty, findings=empty)
    return KnowledgeBase.open(root)


def run(kb: KnowledgeBase, formats: list[str], out: Path, **kwargs: Any) -> dict[str, list[Path]]:
    return export(kb, formats, out, edition="2025", hierarchy=HIERARCHY, **kwargs).files


def view(kb: KnowledgeBase) -> pa.Table:
    return publishable_view(kb, "2025", hierarchy=HIERARCHY)


def suppressed_keys(table: pa.Table) -> set[tuple[str, str, str]]:
    return {
        (r["indicator"], r["territory"], r["sex"])
        for r in table.to_pylist()
        if r["conf_status"] in ("C", "D")
    }


def test_the_view_hides_the_small_count_and_what_would_reveal_it(kb: KnowledgeBase) -> None:
    hidden = suppressed_keys(view(kb))
    assert ("POP_0_14", "096001", "F") in hidden
    assert ("POP_0_14", "096001", "M") in hidden  # else F = total - M
    # Both sexes hidden, so the total stays, and so does the rate computed from it.
    assert ("POP_0_14", "096001", "_T") not in hidden
    assert ("OLD_AGE_INDEX", "096001", "_T") not in hidden


def test_canonical_csv_reads_back_equal_to_the_publishable_view(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    [path] = run(kb, ["csv"], tmp_path / "out")["csv"]
    expected = view(kb)
    back = read_csv(path, expected.schema)
    plain = expected.cast(back.schema)
    assert back.equals(plain)
    raw = path.read_bytes()
    assert raw.startswith(b'"indicator","territory"')
    assert b'"=HYPERLINK' in raw, "the canonical CSV keeps text exactly as stored"


def test_italian_csv_is_for_excel_and_neutralises_formulas(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    [path] = run(kb, ["csv-it"], tmp_path / "out")["csv-it"]
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfindicator;territory;period")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    [old_age] = [r for r in rows if (r["indicator"], r["territory"]) == ("OLD_AGE_INDEX", "096")]
    expected = view(kb).filter(pa.compute.field("indicator") == "OLD_AGE_INDEX")
    expected_value = expected.filter(pa.compute.field("territory") == "096")["value"][0].as_py()
    assert float(old_age["value"].replace(",", ".")) == expected_value
    assert "," in old_age["value"] and "." not in old_age["value"]
    assert {r["flags"] for r in rows if r["flags"]} == {"'" + f for f in RISKY_FLAGS}
    assert {r["period_start"] for r in rows} == {"2024-01-01"}


def test_xlsx_keeps_numbers_as_numbers_and_text_as_inert_text(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    [path] = run(kb, ["xlsx"], tmp_path / "out")["xlsx"]
    book = load_workbook(path)
    data = book["data"]
    header = [c.value for c in data[1]]
    value_col = header.index("value")
    flags_col = header.index("flags")
    cells = list(data.iter_rows(min_row=2))
    numbers = [row[value_col] for row in cells if row[value_col].value is not None]
    assert numbers and all(c.data_type == "n" for c in numbers)
    flags = {row[flags_col].value for row in cells if row[flags_col].value is not None}
    assert flags == {"'" + f for f in RISKY_FLAGS}
    assert all(row[flags_col].data_type != "f" for row in cells)
    meta = {row[0].value: row[1].value for row in book["metadata"].iter_rows()}
    assert meta["edition"] == "2025" and meta["licence"] == "CC-BY-4.0"
    assert meta["source Istat"] == "CC-BY-4.0"


def test_parquet_and_json_carry_the_metadata(kb: KnowledgeBase, tmp_path: Path) -> None:
    files = run(kb, ["parquet", "json"], tmp_path / "out", licence="CC0-1.0")
    table = pq.read_table(files["parquet"][0])
    meta = json.loads(table.schema.metadata[b"welfare_observatory"])
    assert (meta["edition"], meta["licence"]) == ("2025", "CC0-1.0")
    # the view, plus the label columns for people (checked in test_publish_labels.py)
    labelled = table.drop_columns(["indicator_label", "territory_name"])
    assert labelled.cast(view(kb).schema).equals(view(kb).cast(labelled.schema))
    document = json.loads(files["json"][0].read_text(encoding="utf-8"))
    assert document["metadata"]["build"] == "b-1"
    records = {(r["indicator"], r["territory"], r["sex"]): r for r in document["data"]}
    expected = {(r["indicator"], r["territory"], r["sex"]): r for r in view(kb).to_pylist()}
    assert records.keys() == expected.keys()
    for key, record in records.items():
        assert record["value"] == expected[key]["value"], key  # full precision, nulls as null


def test_every_export_folder_has_readme_and_metadata(kb: KnowledgeBase, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(kb, ["csv"], out, source_licences={"istat_pop": "CC-BY-4.0"})
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "Edition: `2025`" in readme and "CC-BY-4.0" in readme
    assert "istat_pop (sdmx): licence CC-BY-4.0" in readme
    assert "observations.csv" in readme
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert meta["files"] == ["observations.csv"]
    assert {s["id"] for s in meta["metadata"]["sources"]} == {"istat_pop", "Istat"}
    assert all(name in COLUMN_DESCRIPTIONS for name in ("indicator", "value", "conf_status"))


def test_the_datapackage_describes_the_csv_and_validates(kb: KnowledgeBase, tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = run(kb, ["datapackage"], out)["datapackage"]
    descriptor = json.loads(files[0].read_text(encoding="utf-8"))
    assert descriptor["licenses"][0]["name"] == "CC-BY-4.0"
    [resource] = descriptor["resources"]
    assert resource["schema"]["primaryKey"] == ["indicator", "territory", "period", "sex"]
    assert {f["name"]: f["type"] for f in resource["schema"]["fields"]}["value"] == "number"
    pytest.importorskip("frictionless")
    check = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "--json", str(files[0])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=out,
    )
    report = json.loads(check.stdout)
    assert report["valid"], check.stdout[:2000]


def test_a_broken_csv_fails_datapackage_validation(kb: KnowledgeBase, tmp_path: Path) -> None:
    pytest.importorskip("frictionless")
    out = tmp_path / "out"
    files = run(kb, ["datapackage"], out)["datapackage"]
    csv = out / "observations.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace('"A"', '"Z"', 1), encoding="utf-8")
    check = subprocess.run(
        [sys.executable, "-m", "frictionless", "validate", "--json", str(files[0])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=out,
    )
    assert json.loads(check.stdout)["valid"] is False


def test_sdmx_reads_back_through_sdmx1_with_the_same_values(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    sdmx = pytest.importorskip("sdmx")
    structure_path, data_path = run(kb, ["sdmx"], tmp_path / "out")["sdmx"]
    structure = sdmx.read_sdmx(structure_path)
    [dsd] = structure.structure.values()
    assert [d.id for d in dsd.dimensions] == ["INDICATOR", "REF_AREA", "SEX", "TIME_PERIOD"]
    areas = structure.codelist["CL_AREA"]
    assert str(areas["096001"].name) == "Ailoche"
    message = sdmx.read_sdmx(data_path, structure=dsd)
    series = sdmx.to_pandas(message.data[0])
    got = {(k[0], k[1], k[2]): float(v) for k, v in series.items()}
    expected = {
        (r["indicator"], r["territory"], r["sex"]): r["value"] for r in view(kb).to_pylist()
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if value is None:
            assert math.isnan(got[key]), key
        else:
            assert got[key] == value, key
    obs = message.data[0].obs
    statuses = {str(o.attached_attribute["CONF_STATUS"].value) for o in obs}
    assert statuses == {"F", "C", "D"}


def test_suppressed_cells_never_leave_with_a_value_in_any_format(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    files = run(kb, ["csv", "csv-it", "xlsx", "parquet", "json", "datapackage", "sdmx"], out)
    csv_rows = read_csv(files["csv"][0], view(kb).schema).to_pylist()
    assert all(r["value"] is None for r in csv_rows if r["conf_status"] in ("C", "D"))
    assert {r["value"] for r in csv_rows if r["conf_status"] == "C"} == {None}
    with files["csv-it"][0].open(encoding="utf-8-sig", newline="") as handle:
        it_rows = list(csv.DictReader(handle, delimiter=";"))
    assert len(it_rows) == len(csv_rows)
    assert all(r["value"] == "" for r in it_rows if r["conf_status"] in ("C", "D"))
    book = load_workbook(files["xlsx"][0])
    rows = list(book["data"].iter_rows(values_only=True))
    header = rows[0]
    for row in rows[1:]:
        if row[header.index("conf_status")] in ("C", "D"):
            assert row[header.index("value")] is None
    parquet_rows = pq.read_table(files["parquet"][0]).to_pylist()
    assert all(r["value"] is None for r in parquet_rows if r["conf_status"] in ("C", "D"))
    records = json.loads(files["json"][0].read_text(encoding="utf-8"))["data"]
    assert all(r["value"] is None for r in records if r["conf_status"] in ("C", "D"))
    sdmx_text = files["sdmx"][1].read_text(encoding="utf-8")
    for obs in sdmx_text.split("<gen:Obs>")[1:]:
        if 'id="CONF_STATUS" value="C"' in obs or 'id="CONF_STATUS" value="D"' in obs:
            assert '<gen:ObsValue value="NaN"/>' in obs
    # ... while the knowledge base itself keeps the confidential count.
    assert kb.to_arrow(indicator="POP_0_14", territory="096001", sex="F")["value"].to_pylist() == [
        2.0
    ]


def test_unknown_formats_and_editions_fail_before_writing(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(UnknownFormatError, match="unknown export format 'cvs'") as info:
        run(kb, ["csv", "cvs"], out)
    assert "csv" in (info.value.hint or "")
    with pytest.raises(UnknownIdError, match="no edition '2030'"):
        export(kb, ["csv"], out, edition="2030", hierarchy=HIERARCHY)
    with pytest.raises(PublishError, match="no export format"):
        run(kb, [], out)
    assert not out.exists()


def test_plugins_add_exporters_through_the_register_callback(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    def export_tsv(view: pa.Table, meta: Any, out: Path) -> list[Path]:
        path = out / "observations.tsv"
        with atomic_output(path) as tmp:
            tmp.write_text(f"{meta.edition}\t{view.num_rows}\n", encoding="utf-8")
        return [path]

    registry = ExporterRegistry.default()
    registry.register("tsv", export_tsv, "tab separated", owner="my-plugin")
    assert list(registry)[:3] == ["csv", "csv-it", "xlsx"] and "tsv" in registry
    files = export(
        kb, ["tsv"], tmp_path / "o", edition="2025", registry=registry, hierarchy=HIERARCHY
    )
    assert files.files["tsv"][0].read_text(encoding="utf-8").startswith("2025\t")
    with pytest.raises(PluginError, match="registered twice"):
        registry.register("csv", export_tsv)
    with pytest.raises(PluginError, match="kebab-case"):
        registry.register("Bad Name", export_tsv)


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "observations.csv"
    target.write_text("previous", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["observations.csv"]


def test_a_disabled_rule_is_stated_in_the_metadata(kb: KnowledgeBase, tmp_path: Path) -> None:
    result = export(kb, ["csv"], tmp_path / "o", edition="2025", rule=DisclosureRule(enabled=False))
    assert result.metadata.disclosure == "no disclosure control applied"


def test_published_files_are_readable_by_everyone_as_the_umask_allows(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    import os

    previous = os.umask(0o022)
    try:
        result = export(kb, ["csv", "sdmx"], tmp_path / "o", edition="2025")
        tight = tmp_path / "tight.txt"
        os.umask(0o077)
        with atomic_output(tight) as tmp:
            tmp.write_text("x", encoding="utf-8")
    finally:
        os.umask(previous)
    written = [*(p for paths in result.files.values() for p in paths), result.out / "README.md"]
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {oct(0o644)}
    assert oct(tight.stat().st_mode & 0o777) == oct(0o600)


def observatory_folder(root: Path, *, id: str = "biella") -> Path:
    """An observatory whose one data file says, in its sidecar, under which licence it is."""
    (root / "data").mkdir(parents=True)
    (root / "observatory.yaml").write_text(
        f"id: {id}\n"
        "name: {it: Osservatorio di prova}\n"
        'edition: "2025"\n'
        "territory: {code: '096', reference_date: 2024-01-01}\n"
        "indicators: {add: [POP_0_14]}\n"
        "licence: CC-BY-SA-4.0\n"
        "sources:\n"
        "  istat_pop:\n"
        "    type: table\n"
        "    description: Residents by age class\n"
        "    options: {path: data/pop.csv, value_columns: [Totale]}\n",
        encoding="utf-8",
    )
    (root / "data" / "pop.csv").write_text("Totale\n1\n", encoding="utf-8")
    (root / "data" / "pop.csv.meta.yaml").write_text(
        "publisher: Istat\nlicence: IODL-2.0\n", encoding="utf-8"
    )
    return root


def test_the_observatory_gives_the_licence_and_each_source_its_own(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    sdmx = pytest.importorskip("sdmx")
    folder = observatory_folder(tmp_path / "obs")
    out = tmp_path / "o"
    result = export(
        kb, ["datapackage", "sdmx"], out, edition="2025", hierarchy=HIERARCHY, observatory=folder
    )
    meta = result.metadata
    assert (meta.licence, meta.licence_url) == (
        "CC-BY-SA-4.0",
        "https://creativecommons.org/licenses/by-sa/4.0/",
    )
    [source] = [s for s in meta.sources if s.id == "istat_pop"]
    assert (source.licence, source.publisher) == ("IODL-2.0", "Istat")
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "istat_pop (sdmx): Residents by age class: licence IODL-2.0; publisher Istat" in readme
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert package["licenses"][0]["name"] == "CC-BY-SA-4.0"
    assert {"title": source.title, "licence": "IODL-2.0"} in package["sources"]
    # SDMX: the dataflow of the edition is annotated; the data header names edition and sources.
    structure_path, data_path = result.files["sdmx"]
    structure = sdmx.read_sdmx(structure_path)
    [flow] = structure.dataflow.values()
    notes = {(a.type, str(a.title)): str(a.text) for a in flow.annotations}
    assert notes[("LICENCE", "CC-BY-SA-4.0")] == "Licence of the data: CC-BY-SA-4.0"
    assert notes[("SOURCE", source.title)] == "licence IODL-2.0; publisher Istat"
    assert ("EDITION", "biella/2025/b-1") in notes
    assert any(kind == "DISCLOSURE" for kind, _ in notes)
    [dsd] = structure.structure.values()
    message = sdmx.read_sdmx(data_path, structure=dsd)
    header = str(message.header.source)
    assert "biella/2025/b-1" in header and "istat_pop (IODL-2.0)" in header
    assert "<mes:DataSetID>biella_2025_b-1</mes:DataSetID>" in data_path.read_text("utf-8")


def test_an_explicit_licence_wins_and_another_observatory_is_refused(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    folder = observatory_folder(tmp_path / "obs")
    result = export(
        kb, ["csv"], tmp_path / "o", edition="2025", hierarchy=HIERARCHY,
        observatory=folder, licence="CC0-1.0", source_licences={"istat_pop": "CC-BY-4.0"},
    )  # fmt: skip
    assert result.metadata.licence == "CC0-1.0"
    assert {s.id: s.licence for s in result.metadata.sources}["istat_pop"] == "CC-BY-4.0"
    other = observatory_folder(tmp_path / "other", id="trento")
    with pytest.raises(PublishError, match="built by observatory 'biella', not 'trento'"):
        export(kb, ["csv"], tmp_path / "o2", edition="2025", observatory=other)
    assert not (tmp_path / "o2").exists()


def test_every_table_export_names_territories_and_indicators_in_its_language(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    formats = ["csv", "csv-it", "xlsx", "parquet", "datapackage", "sdmx"]
    files = run(kb, formats, tmp_path / "it")
    with files["csv"][0].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    ailoche = next(r for r in rows if r["territory"] == "096001" and r["indicator"] == "POP_0_14")
    assert ailoche["territory_name"] == "Ailoche"
    assert ailoche["indicator_label"] == "Popolazione residente di 0-14 anni"
    italian = files["csv-it"][0].read_text(encoding="utf-8-sig")
    assert "Andorno Micca" in italian and "indicator_label" in italian.splitlines()[0]
    sheet = load_workbook(files["xlsx"][0], read_only=True)["data"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[-2:] == ["indicator_label", "territory_name"]
    parquet = pq.read_table(files["parquet"][0])
    assert "Ailoche" in parquet["territory_name"].to_pylist()
    package = json.loads((tmp_path / "it" / "datapackage.json").read_text(encoding="utf-8"))
    schema = package["resources"][0]["schema"]
    assert [f["name"] for f in schema["fields"]][-2:] == ["indicator_label", "territory_name"]
    assert "territory_name" not in schema["primaryKey"]
    # SDMX keeps codes as dimensions; its code lists carry the names
    structure = (tmp_path / "it" / "observations-structure.xml").read_text(encoding="utf-8")
    assert "TERRITORY_NAME" not in structure.upper().replace("CL_AREA", "")
    english = run(kb, ["csv"], tmp_path / "en", lang="en")
    with english["csv"][0].open(encoding="utf-8", newline="") as handle:
        labels = {r["indicator_label"] for r in csv.DictReader(handle)}
    assert "Resident population aged 0-14" in labels
    assert labels.isdisjoint({"Popolazione residente di 0-14 anni"})
