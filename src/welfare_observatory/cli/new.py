"""``welfare-observatory new NAME --territory CODE``: scaffold an observatory package.

The package builds at once, offline, from the territory's population in the library's
baseline; see docs/quickstart.md.
"""

from __future__ import annotations

from pathlib import Path

import click

from welfare_observatory.cli._output import json_option, print_fields, print_json


@click.command("new")
@click.argument("name")
@click.option(
    "--territory",
    "-t",
    required=True,
    help="Province or region: Istat code (096), NUTS code (ITC13) or name (Biella).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Folder in which the package folder NAME is created.",
)
@click.option(
    "--profile",
    default=None,
    help="Selection profile of the catalogue (see docs/catalogue.md); default:"
    " 'italy_baseline' with the national baseline, else 'starter', what the shipped"
    " population builds offline.",
)
@click.option(
    "--baseline/--no-baseline",
    default=None,
    help="Read the national baseline (plugin welfare-observatory-italy-baseline; see"
    " docs/baseline.md). Default: when it is installed.",
)
@json_option
def new(
    name: str,
    territory: str,
    out: Path,
    profile: str | None,
    baseline: bool | None,
    as_json: bool,
) -> None:
    """Scaffold the observatory package NAME (import name osserva_NAME) for a territory."""
    from welfare_observatory.scaffold.observatory import new_observatory

    result = new_observatory(name, territory, out, profile=profile, baseline=baseline)
    if as_json:
        print_json(result.as_dict())
        return
    print_fields(
        [
            ("package", str(result.folder)),
            ("territory", result.territory),
            ("comparisons", ", ".join(result.comparisons)),
            ("starter data", str(result.data.path.relative_to(result.folder))),
            (
                "first build",
                f"{result.selected} selected indicators: the starter data build"
                f" {len(result.expected)}, the national baseline the others it covers"
                if result.baseline
                else f"{len(result.expected)} of {result.selected} selected indicators",
            ),
        ],
        title=f"observatory {result.name}",
    )
    click.echo(
        f"\nnext:\n  pip install -e {result.folder}\n"
        f"  welfare-observatory build {result.name} --offline --out kb"
    )
