"""``welfare-observatory new-plugin NAME``: scaffold a source plugin package that passes its tests.

The package has a pyproject with the entry point, one module with a Source subclass and
its options (a CSV reader to edit), tests using the conformance kit, and a README.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

import click

from welfare_observatory.errors import ConfigError, Location

_NAME = re.compile(r"[a-z][a-z0-9]*([-_][a-z0-9]+)*")
"""A plugin's name, matched whole (``fullmatch``: ``$`` also matches before a final line
end); at most 60 characters, and not a Python keyword (it names the module)."""

PYPROJECT = Template("""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A welfare-observatory source plugin: $type"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["welfare-observatory>=$version"]

[project.optional-dependencies]
test = ["pytest>=8", "hypothesis>=6.100"]

[project.entry-points.welfare_observatory]
$type = "$module.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
pythonpath = ["src"]
testpaths = ["tests"]
""")

PLUGIN = Template('''"""The $type source: a delimited text file inside the observatory folder.

Observatory YAML::

    sources:
      my_$type:
        type: $type
        options:
          path: data/file.csv
          delimiter: ";"
          encoding: cp1252
"""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pyarrow.csv as pacsv
from welfare_observatory.sdk import (
    FetchContext,
    Payload,
    RegisterSource,
    Source,
    SourceOptions,
    hookimpl,
)


class ${cls}Options(SourceOptions):
    path: str
    """The file, relative to the observatory folder."""
    delimiter: str = ","
    encoding: str = "utf-8"


class ${cls}Source(Source[${cls}Options]):
    """Every column is read as text, so codes keep their leading zeros."""

    type = "$type"
    Options = ${cls}Options
    description = "A delimited text file ($type)"

    def fetch(self, ctx: FetchContext) -> list[Payload]:
        return [ctx.read_file(self.options.path)]

    def parse(self, payload: Payload) -> pa.Table:
        data = payload.read_bytes()
        if not data.strip():
            raise self.parse_error(payload, "the file is empty", hint="export it again")
        try:
            text = data.decode(self.options.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise self.parse_error(
                payload,
                f"the file is not {self.options.encoding} text",
                hint="set the encoding option (cp1252 is common in Italian exports)",
            ) from exc
        lines = text.splitlines()
        header = next(csv.reader(lines[:1], delimiter=self.options.delimiter), [])
        if len(set(header)) != len(header) or not all(h.strip() for h in header):
            raise self.parse_error(
                payload, "the header has empty or repeated column names", line=1
            )
        try:
            return pacsv.read_csv(
                io.BytesIO(text.encode("utf-8")),
                parse_options=pacsv.ParseOptions(delimiter=self.options.delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in header}
                ),
            )
        except pa.ArrowInvalid as exc:
            raise self.parse_error(
                payload, f"malformed file: {exc}", hint="check the delimiter option"
            ) from exc


@hookimpl
def register_sources(register: RegisterSource) -> None:
    register(${cls}Source)
''')

TESTS = Template('''"""The conformance kit on the $type source, and what it promises of its own."""

from welfare_observatory.testing import Sample, SourceConformance, fetch_sample

from $module.plugin import ${cls}Source

CSV = b"municipality;beds\\n096004;120\\n096025;35\\n"


class TestConformance(SourceConformance):
    source_class = ${cls}Source
    samples = [
        Sample({"path": "beds.csv", "delimiter": ";"}, files={"beds.csv": CSV}, rows=2),
    ]
    invalid_options = [{"path": 3}, {"delimiter": ";"}]
    code_columns = ["municipality"]
    # How an observatory maps this table to canonical observations (docs: harmonization).
    harmonize_rules = """
    indicator: {value: HOSPITAL_BEDS}
    territory: {column: municipality, scheme: istat, level: municipality}
    period: {value: "2024", reference_date: jan_1}
    value: {column: beds}
    unit: {unit: bed}
    """


def test_codes_keep_their_leading_zeros(tmp_path):
    sample = TestConformance.samples[0]
    [payload] = fetch_sample(${cls}Source, sample, tmp_path)
    table = ${cls}Source("beds", sample.options).parse(payload)
    assert table["municipality"].to_pylist() == ["096004", "096025"]
''')

README = Template("""# $dist

A [welfare-observatory](https://github.com/welfare-observatory/welfare-observatory) source
plugin. It registers the source type `$type` through the `welfare_observatory` entry point.

```bash
pip install -e ".[test]"
pytest                          # the conformance kit and this source's own tests
welfare-observatory plugins     # $type is listed
welfare-observatory source preview $type -o path=beds.csv -o delimiter=";"
```

Use it in an `observatory.yaml`:

```yaml
sources:
  beds:
    type: $type
    options: {path: data/beds.csv, delimiter: ";"}
```
""")


def scaffold(name: str, parent: Path, *, force: bool = False) -> Path:
    """Write the plugin package ``name`` under ``parent``; returns its folder."""
    from welfare_observatory._version import __version__

    if not _NAME.fullmatch(name) or len(name) > 60 or keyword.iskeyword(name.replace("-", "_")):
        raise ConfigError(
            f"plugin name {name!r} is not a package name",
            location=Location(field="name"),
            hint="lowercase letters, digits and dashes, at most 60, not a Python keyword: "
            "asl-biella-beds",
        )
    module = name.replace("-", "_")
    type_name = module.removeprefix("welfare_observatory_")
    target = parent / name
    if target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(
            f"folder {str(target)!r} exists and is not empty",
            hint="choose another name or folder, or pass --force to overwrite",
        )
    values = {
        "dist": name,
        "module": module,
        "type": type_name,
        "cls": "".join(part.capitalize() for part in module.split("_")),
        "version": __version__,
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/{module}/__init__.py": Template('"""The $type source plugin."""\n'),
        f"src/{module}/plugin.py": PLUGIN,
        f"tests/test_{module}.py": TESTS,
    }
    for relative, template in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.substitute(values), encoding="utf-8")
    return target


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    help="Folder to create the package in (default: current folder).",
)
@click.option("--force", is_flag=True, help="Write into an existing non-empty folder.")
def new_plugin(name: str, parent: Path, force: bool) -> None:
    """Scaffold a source plugin package NAME: pyproject, Source subclass, tests, README."""
    target = scaffold(name, parent, force=force)
    click.echo(f"created {target}")
    click.echo(f'next: cd {target} && pip install -e ".[test]" && pytest')
