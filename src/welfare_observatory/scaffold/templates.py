"""Text templates of a new observatory package (``string.Template``; nothing is executed)."""

from __future__ import annotations

from string import Template

__all__ = [
    "GOVERNANCE",
    "PYPROJECT",
    "README_EN",
    "README_IT",
    "SMOKE_TEST",
]

PYPROJECT = Template("""[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$title_en: a welfare-observatory package."
readme = "README.md"
requires-python = ">=3.11"
license = {text = "CC-BY-4.0"}
dependencies = ["welfare-observatory>=$version"]

[project.optional-dependencies]
test = ["pytest>=8", "hypothesis>=6.100"]

[project.entry-points."welfare_observatory.observatories"]
$name = "$module"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
$module = [
    "*.yaml", "*.md", "deepdive/*.md",
    "data/*.csv", "data/*.tsv", "data/*.xlsx", "data/*.yaml", "data/*.md",
]

[tool.pytest.ini_options]
testpaths = ["tests"]
""")

GOVERNANCE = Template("""# Governance of $title_it: organisations only, never personal contacts
# (e-mail addresses and phone numbers are refused). See docs/governance.md.
#
# stakeholders:
#   - {id: comune_capoluogo, name: Comune di ..., type: public_body}
#   - {id: asl, name: ASL ..., type: health_authority}
# tables:
#   - id: giovani
#     name: {it: Giovani, en: Young people}
#     members: [comune_capoluogo, asl]
#     indicators: [SHARE_15_29, NEET_15_29]
# priorities: []
# actions: []
stakeholders: []
tables: []
priorities: []
actions: []
""")

SMOKE_TEST = Template('''"""Tests of $dist: its data pass the conformance kit; it builds offline.

``TestPopulationFile`` runs the library's conformance checks (welfare_observatory.testing) on
the ``popolazione`` source as observatory.yaml declares it: the file parses, deterministically,
malformed files are refused cleanly, and the rules harmonize it with no error. Copy the class
for each data file you add.
"""

from pathlib import Path

import yaml

from welfare_observatory import load_observatory
from welfare_observatory.sources.table import TableSource
from welfare_observatory.testing import Sample, SourceConformance

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "$module"
SOURCES = yaml.safe_load((PACKAGE / "observatory.yaml").read_text(encoding="utf-8"))["sources"]


def _sample(source_id: str) -> Sample:
    options = SOURCES[source_id]["options"]
    return Sample(options, files={options["path"]: PACKAGE / options["path"]}, id=source_id)


class TestPopulationFile(SourceConformance):
    source_class = TableSource
    samples = [_sample("popolazione")]
    harmonize_rules = yaml.safe_dump(SOURCES["popolazione"]["rules"], allow_unicode=True)


def test_the_observatory_builds_offline(tmp_path: Path) -> None:
    result = load_observatory(PACKAGE).build(out=tmp_path / "kb", offline=True)
    assert result.report.ok, result.report.sources
    assert {$expected} <= set(result.report.built)
''')

README_EN = Template("""# $dist

$title_en: a welfare observatory for $territory_name ($territory), made with
`welfare-observatory new`. [Italiano](README.it.md)

## Build it

```bash
pip install -e .
welfare-observatory build $name --offline --out kb
welfare-observatory kb list --kb kb
```

The first build uses only `src/$module/data/$data_file`, the resident population of the
$n_municipalities municipalities on 1 January $years from the library's Istat baseline
($what). The selection in `observatory.yaml` is $selection ($n_selected indicators): the
first build makes $n_built of them (population counts and the rates over them) and its report
lists any other selected indicator as skipped, with the reason.$baseline_en

## Make it yours

1. `src/$module/observatory.yaml`: the selection (`indicators.profile`, `add`, `remove`;
   `welfare-observatory catalog list --profile $profile`), the sources and their rules
   (docs/observatory-config.md, docs/sources.md).
2. Ask local bodies for data: `welfare-observatory request-template --provider comune
   --observatory src/$module --out richiesta_comuni.xlsx`, then add the filled file as a source.
3. `src/$module/governance.yaml`: stakeholders, thematic tables, priorities, actions.
4. Put each new data file in `src/$module/data/` with a `<file>.meta.yaml` (publisher,
   source_file, origin, transformation, licence).
5. `pip install -e ".[test]"` and `pytest`: the tests in `tests/` run the library's
   conformance kit on the data file and build the observatory offline.
""")

README_IT = Template("""# $dist

$title_it: un osservatorio sul welfare per $territory_name ($territory), creato con
`welfare-observatory new`. [English](README.md)

## Costruirlo

```bash
pip install -e .
welfare-observatory build $name --offline --out kb
welfare-observatory kb list --kb kb
```

La prima costruzione usa solo `src/$module/data/$data_file`: la popolazione residente
dei $n_municipalities comuni al 1° gennaio $years dalla base Istat distribuita con la libreria
($what_it). La selezione in `observatory.yaml` è $selection_it ($n_selected indicatori):
la prima costruzione ne produce $n_built (conteggi di popolazione e i tassi che ne derivano)
e il resoconto elenca gli eventuali altri indicatori selezionati come saltati, con il
motivo.$baseline_it

## Personalizzarlo

1. `src/$module/observatory.yaml`: la selezione (`indicators.profile`, `add`, `remove`;
   `welfare-observatory catalog list --profile $profile`), le fonti e le loro regole
   (docs/observatory-config.md, docs/sources.md).
2. Chiedere i dati agli enti locali: `welfare-observatory request-template --provider comune
   --observatory src/$module --out richiesta_comuni.xlsx`, poi aggiungere il file compilato
   come fonte.
3. `src/$module/governance.yaml`: soggetti, tavoli tematici, priorità, azioni.
4. Ogni nuovo file di dati va in `src/$module/data/` con un `<file>.meta.yaml` (publisher,
   source_file, origin, transformation, licence).
5. `pip install -e ".[test]"` e `pytest`: i test in `tests/` applicano al file di dati il
   kit di conformità della libreria e costruiscono l'osservatorio offline.
""")
