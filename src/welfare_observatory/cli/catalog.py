"""``welfare-observatory catalog``: browse, search, validate and export the indicator catalogue."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from welfare_observatory.cli._output import (
    json_option,
    print_error,
    print_fields,
    print_json,
    print_table,
)
from welfare_observatory.errors import WelfareObservatoryError

if TYPE_CHECKING:
    from welfare_observatory.catalog import Catalog
    from welfare_observatory.model.indicator import Indicator

F = TypeVar("F", bound=Callable[..., Any])


def _errors_exit_1(func: F) -> F:
    """Library errors become one message (and hint) on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WelfareObservatoryError as exc:
            print_error(exc)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _catalog() -> Catalog:
    from welfare_observatory.catalog import catalog as shipped

    return shipped()


def _brief(ind: Indicator) -> dict[str, Any]:
    return {
        "id": ind.id,
        "domain": ind.domain.value,
        "label": {"it": ind.label.it, "en": ind.label.en},
        "unit": ind.unit,
        "verified": ind.source.verified,
        "sdg": [link.id for link in ind.sdg],
    }


def _split(values: tuple[str, ...]) -> list[str]:
    """Repeated options and comma-separated lists alike: ``8,10 --sdg 17`` -> 8, 10, 17."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _selection(cat: Catalog, profile: str | None, indicators: str | None) -> list[Indicator]:
    """A profile, ``ID,ID,...``, or a file of ids (one per line or comma-separated, ``#``
    comments); unknown ids raise UnknownIndicatorError with a hint. Default: everything."""
    if profile and indicators:
        raise click.UsageError("give --profile or --indicators, not both")
    if profile:
        return cat.profile(profile)
    if indicators is None:
        return list(cat)
    path = Path(indicators)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise click.UsageError(
                f"--indicators {indicators!r} is not a UTF-8 text file: {exc.reason}"
            ) from None
        lines = (line.split("#", 1)[0] for line in text.splitlines())
        ids = _split(tuple(lines))
    else:
        ids = _split((indicators,))
    if not ids:
        raise click.UsageError(f"--indicators {indicators!r} names no indicator")
    return [cat.get(ident) for ident in dict.fromkeys(ids)]


def _escape(text: str | None) -> str | None:
    """Text shown as written: print_table and print_fields show cells and titles literally,
    so escaping here would print ``\\[`` (a URL that breaks on copy and paste)."""
    return text


def _table(indicators: list[Indicator], lang: str = "it") -> None:
    print_table(
        ["id", "domain", "label", "unit", "verified", "sdg"],
        (
            (
                ind.id,
                ind.domain.value,
                _escape(ind.label.get(lang)),
                _escape(ind.unit),
                "yes" if ind.source.verified else "no",
                " ".join(link.id for link in ind.sdg),
            )
            for ind in indicators
        ),
        title=f"{len(indicators)} indicators",
    )


@click.group()
def catalog() -> None:
    """Browse and curate the indicator catalogue."""


@catalog.command("list")
@click.option("--domain", help="Only this domain (demography, health, ...).")
@click.option(
    "--sdg",
    "sdg_ids",
    multiple=True,
    help="Only indicators covering these SDG ids (repeat, or separate with commas: 8,10,17).",
)
@click.option("--profile", help="Only the indicators of this selection profile.")
@click.option("--verified", is_flag=True, help="Only entries with verified provenance.")
@click.option("--lang", type=click.Choice(["it", "en"]), default="it", show_default=True)
@json_option
@_errors_exit_1
def list_(
    domain: str | None,
    sdg_ids: tuple[str, ...],
    profile: str | None,
    verified: bool,
    lang: str,
    as_json: bool,
) -> None:
    """List indicators, filtered by domain, SDG, profile or verification."""
    cat = _catalog()
    chosen = cat.profile(profile) if profile else list(cat)
    if domain:
        keep = {ind.id for ind in cat.by_domain(domain)}
        chosen = [ind for ind in chosen if ind.id in keep]
    if sdg_ids:
        keep = {ind.id for ind in cat.covering(_split(sdg_ids))}
        chosen = [ind for ind in chosen if ind.id in keep]
    if verified:
        chosen = [ind for ind in chosen if ind.source.verified]
    if as_json:
        print_json([_brief(ind) for ind in chosen])
    else:
        _table(chosen, lang)


@catalog.command()
@click.argument("indicator_id")
@click.option("--lang", type=click.Choice(["it", "en"]), default="it", show_default=True)
@json_option
@_errors_exit_1
def show(indicator_id: str, lang: str, as_json: bool) -> None:
    """Show every field of one indicator (by id or former id)."""
    cat = _catalog()
    found = cat.resolve(indicator_id)
    ind = found.indicator
    if found.notice:
        click.echo(click.style("note: ", fg="yellow") + found.notice, err=True)
    if as_json:
        print_json(ind)
        return
    src = ind.source
    formula = None
    if ind.formula is not None:
        formula = (
            f"{ind.formula.numerator} / {ind.formula.denominator} * {ind.formula.multiplier:g}"
        )
    origin = cat.origin(ind.id)
    pairs: list[tuple[str, str | None]] = [
        ("id", ind.id),
        ("former ids", ", ".join(ind.aliases)),
        ("label", ind.label.get(lang)),
        ("definition", ind.definition.get(lang)),
        ("how to read", ind.how_to_read.get(lang)),
        ("unit", ind.unit),
        ("polarity", ind.polarity.value),
        ("domain", ind.domain.value),
        ("measure", f"{ind.measure.value}, {ind.reference_point.value}, {ind.periodicity.value}"),
        ("breakdowns", ", ".join(ind.breakdowns)),
        ("finest level", ind.finest_level.value),
        ("coverage", ind.coverage.value),
        ("aggregation", ind.aggregation.value),
        ("formula", formula),
        ("publisher", src.publisher),
        ("dataset", f"{src.dataset} ({src.agency})" if src.dataset and src.agency else src.dataset),
        ("release", src.release),
        ("definition by", src.definition_publisher),
        ("url", src.url),
        ("document", " p. ".join(x for x in (src.document, src.page) if x)),
        ("verified", "yes" if src.verified else "no"),
        ("note", src.note),
        ("SDG", ", ".join(f"{link.id} ({link.relation.value})" for link in ind.sdg)),
        ("tags", ", ".join(ind.tags)),
        ("defined in", str(origin) if origin else None),
    ]
    print_fields(
        [(name, _escape(value)) for name, value in pairs], title=_escape(ind.label.get(lang))
    )


@catalog.command()
@click.argument("text")
@click.option("--lang", type=click.Choice(["it", "en"]), default="it", show_default=True)
@json_option
@_errors_exit_1
def search(text: str, lang: str, as_json: bool) -> None:
    """Find indicators by id, label, definition or tag (case and accents ignored)."""
    found = _catalog().search(text)
    if as_json:
        print_json([_brief(ind) for ind in found])
    else:
        _table(found, lang)


@catalog.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check an observatory's own catalogue files against the shipped catalogue.

    Every problem is printed with its file, line and field; the exit code is 1 if any.
    """
    from welfare_observatory.catalog import Catalog, CatalogValidationError
    from welfare_observatory.sources.manager import default_plugins

    try:
        plugins = default_plugins()
        # An entry may use a unit an installed plugin registers.
        cat = Catalog.load(*paths, units=plugins.unit_registry() if plugins.units() else None)
    except CatalogValidationError as exc:
        if as_json:
            print_json({"valid": False, "problems": [e.as_dict() for e in exc.errors]})
        else:
            for error in exc.errors:
                click.echo(click.style("error: ", fg="red", bold=True) + str(error), err=True)
                if error.hint:
                    click.echo(click.style("  hint: ", fg="yellow") + error.hint, err=True)
            click.echo(f"{len(exc.errors)} problem(s) found", err=True)
        sys.exit(1)
    except WelfareObservatoryError as exc:
        print_error(exc)
        sys.exit(1)
    from welfare_observatory.catalog._load import layer_files, shipped_layer
    from welfare_observatory.catalog._rules import check_rules

    # the content rules: provenance, levels, SDG relations and reading text (file, line, hint)
    files = [f for path in paths for f in layer_files(Path(path))]
    rules = check_rules(files, against=shipped_layer())
    if as_json:
        print_json(
            {
                "valid": not rules.errors,
                "indicators": len(cat),
                "overridden": list(cat.overridden),
                "problems": [e.as_dict() for e in rules.errors],
                "warnings": [e.as_dict() for e in rules.warnings],
            }
        )
        if rules.errors:
            sys.exit(1)
        return
    for label, found in (("error: ", rules.errors), ("warning: ", rules.warnings)):
        for error in found:
            colour = "red" if found is rules.errors else "yellow"
            click.echo(click.style(label, fg=colour, bold=True) + str(error), err=True)
            if error.hint:
                click.echo(click.style("  hint: ", fg="yellow") + error.hint, err=True)
    if rules.errors:
        click.echo(f"{len(rules.errors)} problem(s) found", err=True)
        sys.exit(1)
    for ident in cat.overridden:
        click.echo(f"note: {ident} replaces the shipped definition")
    click.echo(f"ok: {len(cat)} indicators, {len(cat.profiles())} profiles")


@catalog.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), required=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (required for xlsx); default: standard output.",
)
@click.option("--profile", help="Only the indicators of this selection profile.")
@_errors_exit_1
def export(fmt: str, out: Path | None, profile: str | None) -> None:
    """Export the catalogue flattened, one row per indicator, for review in a spreadsheet.

    Cells that a spreadsheet would run as a formula (starting with = + - @) are written as
    text.
    """
    from welfare_observatory.catalog._export import to_csv, to_json, write_xlsx

    cat = _catalog()
    chosen = cat.profile(profile) if profile else list(cat)
    if fmt == "xlsx":
        if out is None:
            raise click.UsageError("--format xlsx needs --out FILE")
        write_xlsx(chosen, out)
        click.echo(f"wrote {len(chosen)} indicators to {out}", err=True)
        return
    text = to_csv(chosen) if fmt == "csv" else to_json(chosen)
    if out is None:
        click.echo(text, nl=False)
    else:
        from welfare_observatory._atomic import atomic_write_bytes

        atomic_write_bytes(out, text.encode("utf-8"))
        click.echo(f"wrote {len(chosen)} indicators to {out}", err=True)


@catalog.command()
@click.option("--sdg", "by_sdg", is_flag=True, help="Coverage of the SDG goals (the default).")
@click.option("--profile", help="Coverage of this selection profile instead of the catalogue.")
@click.option(
    "--indicators",
    metavar="ID,ID|FILE",
    help="Coverage of these indicators (comma-separated ids, or a file of ids).",
)
@click.option("--goal", "goals", multiple=True, help="Only these goals (repeat, or 8,10,17).")
@click.option(
    "--missing", is_flag=True, help="List the SDG targets that no selected indicator covers."
)
@click.option("--lang", type=click.Choice(["it", "en"]), default="it", show_default=True)
@click.option(
    "--observatory",
    metavar="NAME|PATH",
    help="What the installed sources build for this observatory's selection: level, years, "
    "and what is missing and why (builds it offline unless --kb is given).",
)
@click.option(
    "--kb",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --observatory: read this knowledge base instead of building.",
)
@json_option
@_errors_exit_1
def coverage(
    by_sdg: bool,
    profile: str | None,
    indicators: str | None,
    goals: tuple[str, ...],
    missing: bool,
    lang: str,
    observatory: str | None,
    kb: Path | None,
    as_json: bool,
) -> None:
    """How many SDG targets of each goal a selection covers, or (--missing) which it does not.

    The selection is the whole catalogue, a profile, or your own list of indicators. With
    --observatory: what its installed sources build for its selection instead.
    """
    from welfare_observatory.sdg import framework

    if observatory is not None:
        _observatory_coverage(observatory, kb, missing=missing, as_json=as_json)
        return

    del by_sdg  # SDG coverage is the only kind; the flag stays for scripts that pass it
    cat = _catalog()
    fw = framework()
    chosen = _selection(cat, profile, indicators)
    wanted = [fw.resolve(g).id for g in _split(goals)] if goals else None
    goal_ids = {g.id for g in fw.goals}
    if wanted and not set(wanted) <= goal_ids:
        raise click.UsageError(f"--goal takes goals (1-17), not {sorted(set(wanted) - goal_ids)}")
    selected_goals = [g for g in fw.goals if wanted is None or g.id in wanted]
    uncovered = cat.uncovered_targets(chosen, goals=wanted, framework=fw)
    what = f"profile {profile!r}" if profile else "the selection" if indicators else "the catalogue"
    if missing:
        titles = {t.id: t.title.get(lang) or t.title.get("en") for t in fw.targets}
        if as_json:
            print_json([{"target": tid, "title": titles.get(tid, "")} for tid in uncovered])
            return
        print_table(
            ["target", "title"],
            ([tid, _escape(titles.get(tid, ""))] for tid in uncovered),
            title=f"{len(uncovered)} SDG targets with no indicator in {what}",
        )
        return
    rows = []
    missing_set = set(uncovered)
    for goal in selected_goals:
        targets = [t.id for t in goal.targets]
        linked = [
            ind.id
            for ind in chosen
            if any(link.id == goal.id or link.id.startswith(goal.id + ".") for link in ind.sdg)
        ]
        rows.append(
            {
                "goal": goal.id,
                "title": goal.short.get("en") or goal.title.get("en"),
                "targets": len(targets),
                "targets_covered": sum(1 for t in targets if t not in missing_set),
                "indicators": len(linked),
            }
        )
    if as_json:
        print_json(rows)
        return
    print_table(
        ["goal", "title", "targets", "targets covered", "indicators"],
        (
            [r["goal"], r["title"], r["targets"], r["targets_covered"], r["indicators"]]
            for r in rows
        ),
        title=f"SDG coverage of {what}",
    )


def _observatory_coverage(name: str, kb: Path | None, *, missing: bool, as_json: bool) -> None:
    """``catalog coverage --observatory``: one row per selected indicator (local, context
    only or missing), from ``kb`` or from an offline build in a temporary folder."""
    import tempfile

    from welfare_observatory.observatory import load_observatory
    from welfare_observatory.selection_coverage import selection_coverage

    obs = load_observatory(name)
    if kb is not None:
        rows = selection_coverage(obs, kb)
    else:
        with tempfile.TemporaryDirectory(prefix="coverage-") as tmp:
            result = obs.build(out=Path(tmp) / "kb", offline=True)
            reasons = {s.id: s.reason for s in result.report.skipped}
            rows = selection_coverage(obs, Path(tmp) / "kb", reasons=reasons)
    counts = {s: sum(1 for r in rows if r.status == s) for s in ("local", "context", "missing")}
    if missing:
        rows = [r for r in rows if r.status != "local"]
    if as_json:
        print_json([r.as_dict() for r in rows])
        return

    def span(years: tuple[int, int] | None) -> str:
        return "" if years is None else f"{years[0]}-{years[1]}"

    print_table(
        ["indicator", "domain", "status", "levels", "years (territory)", "sources", "why"],
        (
            [
                r.indicator,
                r.domain,
                r.status,
                ", ".join(r.levels),
                span(r.local_years) or span(r.years),
                ", ".join(r.sources),
                _escape(r.reason),
            ]
            for r in rows
        ),
        title=f"{obs.id}: {counts['local']} local, {counts['context']} context only, "
        f"{counts['missing']} missing",
    )
