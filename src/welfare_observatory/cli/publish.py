"""``welfare-observatory publish EDITION --format ...``: open-data exports of an edition."""

from __future__ import annotations

from pathlib import Path

import click

from welfare_observatory.cli._output import Finite, json_option, kb_option, print_json, print_table

FORMATS_HELP = "csv, csv-it, xlsx, parquet, json, datapackage, sdmx (or a plugin's format)"


def _licences(pairs: tuple[str, ...]) -> dict[str, str]:
    from welfare_observatory.errors import ConfigError

    out = {}
    for pair in pairs:
        name, sep, licence = pair.partition("=")
        if not sep or not name.strip() or not licence.strip():
            raise ConfigError(
                f"--source-licence {pair!r} is not SOURCE=LICENCE",
                hint="e.g. --source-licence asl_biella=CC-BY-4.0",
            )
        out[name.strip()] = licence.strip()
    return out


@click.command("publish")
@click.argument("edition", required=False)
@click.option(
    "--format", "formats", multiple=True, required=True, help=f"Repeatable: {FORMATS_HELP}."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Output folder (default: open-data/EDITION).",
)
@kb_option
@click.option(
    "--observatory",
    "observatory",
    default=None,
    help="Observatory folder, observatory.yaml or installed package: its licence, catalogue "
    "and the licences of its sources (default: the installed package that built the edition).",
)
@click.option(
    "--licence",
    default=None,
    help="Licence of the data (default: the observatory's licence, else CC-BY-4.0).",
)
@click.option(
    "--source-licence",
    "source_licences",
    multiple=True,
    metavar="SOURCE=LICENCE",
    help="Licence of a source or publisher (repeatable).",
)
@click.option(
    "--disclosure",
    "disclosure",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="YAML file of the disclosure rule (threshold, levels, code_groups, "
    "indicator_groups, ...); --threshold and --max-population override it.",
)
@click.option(
    "--threshold",
    type=Finite(min=0, min_open=True),
    default=None,
    help="Counts below this are confidential (default 3).",
)
@click.option(
    "--max-population",
    type=click.IntRange(min=1),
    default=None,
    help="Also protect territories with fewer inhabitants than this.",
)
@click.option(
    "--lang",
    type=click.Choice(["it", "en"]),
    default=None,
    help="Language of the label columns (indicator_label, territory_name); default: the "
    "observatory's first language, else it.",
)
@json_option
def publish(
    edition: str | None,
    formats: tuple[str, ...],
    out: Path | None,
    kb_path: Path,
    observatory: str | None,
    licence: str | None,
    source_licences: tuple[str, ...],
    disclosure: Path | None,
    threshold: float | None,
    max_population: int | None,
    lang: str | None,
    as_json: bool,
) -> None:
    """Export EDITION's (default: the latest) publishable view, after disclosure control,
    as open data."""
    from welfare_observatory.publish import ExporterRegistry, export
    from welfare_observatory.publish.resolve import resolve_publication
    from welfare_observatory.sources.manager import default_plugins
    from welfare_observatory.store import KnowledgeBase

    settings: dict[str, object] = {}
    if threshold is not None:
        settings["threshold"] = threshold
    if max_population is not None:
        settings["max_population"] = max_population
    kb = KnowledgeBase.open(kb_path)
    # --disclosure wins over the observatory's own rule file, which wins over the default;
    # report resolves it the same way.
    chosen = resolve_publication(
        kb, edition, observatory=observatory, disclosure=disclosure, settings=settings
    )
    edition, obs, rule = chosen.edition, chosen.observatory, chosen.rule
    result = export(
        kb,
        formats,
        out if out is not None else Path("open-data") / edition,
        edition=edition,
        rule=rule,
        licence=licence,
        source_licences=_licences(source_licences),
        registry=ExporterRegistry.default(default_plugins()),
        observatory=obs,
        lang=lang,
    )
    rows = [(fmt, str(path)) for fmt, paths in result.files.items() for path in paths]
    if as_json:
        print_json(
            {
                "edition": result.metadata.edition,
                "out": str(result.out),
                "files": {fmt: [str(p) for p in paths] for fmt, paths in result.files.items()},
                "rows": result.metadata.rows,
                "licence": result.metadata.licence,
                "observatory": str(obs.folder) if obs is not None else None,
                "disclosure": chosen.rule_from,
                "notes": list(chosen.notes),
                "sources": [s.model_dump(mode="json") for s in result.metadata.sources],
            }
        )
        return
    print_table(["format", "file"], rows, title=f"edition {result.metadata.edition}")
    click.echo(f"{result.metadata.rows} rows, licence {result.metadata.licence}; see {result.out}")
    click.echo(f"disclosure rule: {chosen.rule_from}")
    for note in chosen.notes:
        click.echo(click.style("note: ", fg="yellow") + note, err=True)
    if obs is None:
        click.echo(
            "source licences not read: no observatory given (--observatory) or installed "
            "under the edition's id"
        )
