"""``welfare-observatory kb``: list, show, query, diff and publish editions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from welfare_observatory.cli._output import (
    Finite,
    json_option,
    kb_option,
    print_fields,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    import pandas as pd

    from welfare_observatory.store import KnowledgeBase


def _open(path: Path) -> KnowledgeBase:
    from welfare_observatory.store import KnowledgeBase

    return KnowledgeBase.open(path)


def _print_frame(frame: pd.DataFrame, as_json: bool, *, limit: int = 200) -> None:
    if as_json:
        import json

        print_json(json.loads(frame.to_json(orient="records", date_format="iso")))
        return
    shown = frame.head(limit).astype(object)
    # Nulls (None, NaN, pd.NA) print as empty cells, not as 'nan' or '<NA>'.
    shown = shown.where(shown.notna(), "")
    print_table([str(c) for c in shown.columns], shown.values.tolist())
    if len(frame) > limit:
        click.echo(f"... {len(frame) - limit} more rows (use --json or kb query with LIMIT)")


@click.group()
def kb() -> None:
    """Knowledge base editions: list, show, query, diff, publish."""


@kb.command("list")
@kb_option
@json_option
def list_editions(kb_path: Path, as_json: bool) -> None:
    """List the editions, oldest first."""
    infos = _open(kb_path).editions(unreadable=True)
    if as_json:
        print_json([info.model_dump() for info in infos])
        return
    print_table(
        ["edition", "status", "build", "observations", "created", "published"],
        [(i.name, i.status, i.build, i.observations, i.created, i.published) for i in infos],
    )
    for info in infos:
        if info.status == "unreadable":
            click.echo(
                click.style("warning: ", fg="yellow")
                + f"edition {info.name}: {info.problem} (hint: {info.hint})",
                err=True,
            )


@kb.command("show")
@click.argument("edition", required=False)
@kb_option
@json_option
def show(edition: str | None, kb_path: Path, as_json: bool) -> None:
    """Show an edition's manifest (default: the latest)."""
    base = _open(kb_path)
    manifest = base.manifest(edition)
    if as_json:
        print_json(manifest)
        return
    info = base.edition(edition)
    print_fields(
        [
            ("edition", f"{manifest.edition} ({info.status})"),
            ("observatory", manifest.observatory),
            ("build", manifest.build),
            ("created", manifest.created),
            ("territory", manifest.territory),
            ("reference date", manifest.reference_date),
            ("library", manifest.library_version),
            ("config digest", manifest.config_digest[:16]),
            ("indicators selected", len(manifest.indicators)),
            ("indicators built", len(base.values("indicator", edition=info.name))),
            ("observations", manifest.tables.get("observations", {}).get("rows", 0)),
            ("overrides", manifest.overrides),
        ]
    )
    print_table(
        ["source", "type", "status", "rows in", "rows out", "note"],
        [
            (sid, rec.type, rec.status, rec.rows_in, rec.rows_out, rec.error or rec.reason or "")
            for sid, rec in sorted(manifest.sources.items())
        ],
        title="sources",
    )


@kb.command("path")
@click.argument("edition", required=False)
@click.option(
    "--files", "list_files", is_flag=True, help="Print the observation files, one per line."
)
@kb_option
def path(edition: str | None, list_files: bool, kb_path: Path) -> None:
    """Print the folder of EDITION's current build (default: the latest edition).

    Read the observations from DuckDB, polars or Arrow through this path: a glob over
    <kb>/<edition>/b-* would also read the earlier builds kept for diffs.
    """
    base = _open(kb_path)
    if list_files:
        for file in base.files(edition):
            click.echo(str(file))
    else:
        click.echo(str(base.path(edition)))


@kb.command("query")
@click.argument("sql")
@click.option("--edition", default=None, help="Edition to query (default: the latest).")
@kb_option
@json_option
def query(sql: str, edition: str | None, kb_path: Path, as_json: bool) -> None:
    """Run SQL (DuckDB) on views observations, findings, lineage, analysis_<name>."""
    _print_frame(_open(kb_path).query(sql, edition=edition), as_json)


@kb.command("diff")
@click.argument("a")
@click.argument("b")
@click.option(
    "--tolerance",
    default=0.0,
    show_default=True,
    type=Finite(min=0.0),
    help="Absolute tolerance (a finite number, 0 or more).",
)
@kb_option
@json_option
def diff(a: str, b: str, tolerance: float, kb_path: Path, as_json: bool) -> None:
    """New, removed and revised values between editions A and B."""
    frame = _open(kb_path).diff(a, b, tolerance=tolerance)
    if not as_json:
        counts = frame["change"].value_counts().to_dict() if len(frame) else {}
        click.echo(
            ", ".join(f"{counts.get(k, 0)} {k}" for k in ("new", "removed", "revised"))
            + f" between {a} and {b}"
        )
    _print_frame(frame, as_json)


@kb.command("publish")
@click.argument("edition")
@kb_option
@json_option
def publish(edition: str, kb_path: Path, as_json: bool) -> None:
    """Freeze EDITION: it gets a publication date and can no longer be rebuilt."""
    info = _open(kb_path).publish(edition)
    if as_json:
        print_json(info.model_dump())
    else:
        click.echo(f"edition {info.name} published ({info.published}), build {info.build}")
