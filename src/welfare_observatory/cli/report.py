"""``welfare-observatory report EDITION --out DIR``: the report website (and PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from welfare_observatory.cli._output import json_option, kb_option, print_fields, print_json


@click.command("report")
@click.argument("edition", required=False)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder of the website (created, or replaced if it holds an earlier report).",
)
@kb_option
@click.option(
    "--observatory",
    "observatory",
    default=None,
    help="Observatory folder, observatory.yaml or installed package (title, deep-dive, "
    "comparisons, languages, plugin sections).",
)
@click.option(
    "--lang",
    type=click.Choice(["it", "en"]),
    default=None,
    help="Language of the site (default: the observatory's first language, else it).",
)
@click.option(
    "--disclosure",
    "disclosure",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="YAML file of the disclosure rule (default: the observatory's own, as publish).",
)
@click.option("--pdf", is_flag=True, help="Also print the site to report.pdf (needs Chromium).")
@click.option(
    "--progress-method",
    "progress_method",
    type=click.Choice(["istat", "eurostat"]),
    default=None,
    help="Progress classes: Istat's or Eurostat's (default: the observatory's "
    "report.progress_method, else istat).",
)
@json_option
def report(
    edition: str | None,
    out: Path,
    kb_path: Path,
    observatory: str | None,
    lang: str | None,
    disclosure: Path | None,
    pdf: bool,
    progress_method: Literal["istat", "eurostat"] | None,
    as_json: bool,
) -> None:
    """Build the report website of EDITION (default: the latest): open OUT/index.html in a
    browser (no server)."""
    from welfare_observatory.publish.report import build_report

    result = build_report(
        kb_path,
        edition,
        out,
        observatory=observatory,
        lang=lang,
        disclosure=disclosure,
        pdf=pdf,
        progress_method=progress_method,
    )
    summary = {
        "out": str(result.out),
        "index": str(result.out / "index.html"),
        "language": result.lang,
        "pages": len(result.pages),
        "pdf": str(result.pdf) if result.pdf else None,
        "progress_method": result.progress_method,
        "seconds": round(result.seconds, 2),
        "notes": list(result.notes),
    }
    if as_json:
        print_json(summary)
        return
    summary.pop("notes")
    print_fields(list(summary.items()), title=f"report of edition {result.edition}")
    for note in result.notes:
        click.echo(click.style("note: ", fg="yellow") + note, err=True)
