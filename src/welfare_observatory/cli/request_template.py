"""``welfare-observatory request-template``: data-request spreadsheets for local bodies.

Writes an XLSX per provider type (one sheet per requested indicator, pre-filled rows, data
validation) and the ``sources:`` entries that read it back; ``--check`` names the sheet,
row and column of every bad cell of a filled one. See docs/launcher-guide.md.
"""

from __future__ import annotations

from pathlib import Path

import click

from welfare_observatory.cli._output import json_option, print_fields, print_json

_PROVIDERS = ("comune", "asl", "consortium", "third_sector")


@click.command("request-template")
@click.option(
    "--provider",
    type=click.Choice(_PROVIDERS),
    help="Type of local body the request is for.",
)
@click.option(
    "--observatory",
    "observatory",
    default=".",
    show_default=True,
    help="Folder of observatory.yaml, or an installed observatory's name.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="XLSX file to write (default: richiesta_<observatory>_<provider>.xlsx).",
)
@click.option(
    "--check",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check a filled request instead of writing one.",
)
@click.option(
    "--ask-covered",
    is_flag=True,
    help="Also ask for what an installed source already reads by municipality (Istat).",
)
@json_option
def request_template(
    provider: str | None,
    observatory: str,
    out: Path | None,
    check: Path | None,
    ask_covered: bool,
    as_json: bool,
) -> None:
    """Write a data-request spreadsheet for a type of local body, or --check a filled one."""
    if check is not None:
        from welfare_observatory.scaffold.request_template import check_filled_template

        problems = check_filled_template(check)
        if as_json:
            print_json([p.as_dict() for p in problems])
        for problem in [] if as_json else problems:
            click.echo(str(problem) + (f" (hint: {problem.hint})" if problem.hint else ""))
        if problems:
            raise SystemExit(1)
        from welfare_observatory.scaffold.request_check import filled_cells

        filled, total = filled_cells(check)
        if filled == 0:
            # an untouched template has no bad cell, and nothing in it either
            if not as_json:
                click.echo(f"{check}: empty, no Valore filled in ({total} rows to fill)")
            raise SystemExit(1)
        if not as_json:
            click.echo(f"{check}: every cell is valid ({filled} of {total} Valore filled in)")
        return
    if provider is None:
        raise click.UsageError("give --provider (or --check FILE)")
    from welfare_observatory.scaffold.request_template import write_request_template

    result = write_request_template(observatory, provider, out, ask_covered=ask_covered)
    if as_json:
        print_json(result.as_dict())
        return
    print_fields(
        [
            ("workbook", str(result.path)),
            ("sources to paste", str(result.snippet)),
            ("sheets", ", ".join(result.sheets)),
            ("rows to fill", result.rows),
            ("not asked", ", ".join(f"{k} ({v})" for k, v in result.left_out.items())),
        ],
        title=f"request for {provider}",
    )
