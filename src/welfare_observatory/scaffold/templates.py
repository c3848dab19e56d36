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
test = ["pytest>=8"]

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

SMOKE_TEST = Template('''"""Smoke test: the observatory builds offline from the data it ships."""

from pathlib import Path

from welfare_observatory import load_observatory

FOLDER = Path(__file__).resolve().parents[1] / "src" / "$module"


def test_the_observatory_builds_offline(tmp_path: Path) -> None:
    result = load_observatory(FOLDER).build(out=tmp_path / "kb", offline=True)
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
($what). It builds $n_built indicators (population counts and the rates over them); the build
report lists every other selected indicator as skipped, with the reason.

## Make it yours

1. `src/$module/observatory.yaml`: the selection (`indicators.profile`, `add`, `remove`;
   `welfare-observatory catalog list --profile $profile`), the sources and their rules
   (docs/observatory-config.md, docs/sources.md).
2. Ask local bodies for data: `welfare-observatory request-template --provider comune
   --observatory src/$module --out richiesta_comuni.xlsx`, then add the filled file as a source.
3. `src/$module/governance.yaml`: stakeholders, thematic tables, priorities, actions.
4. Put each new data file in `src/$module/data/` with a `<file>.meta.yaml` (publisher,
   source_file, origin, transformation, licence).
5. `pytest` runs the build smoke test in `tests/`.
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
($what_it). Costruisce $n_built indicatori (conteggi di popolazione e i tassi che ne
derivano); il resoconto della costruzione elenca gli altri indicatori selezionati come
saltati, con il motivo.

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
5. `pytest` esegue il test di costruzione in `tests/`.
""")
