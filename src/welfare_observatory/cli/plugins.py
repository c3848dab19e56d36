"""``welfare-observatory plugins``: what is installed, what each plugin registers, problems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from welfare_observatory.cli._output import json_option, print_json, print_table

if TYPE_CHECKING:
    from welfare_observatory.sources.manager import Plugins


def plugins_report(manager: Plugins) -> dict[str, Any]:
    """Plugins (name, distribution, version, origin, hooks, registrations) and load problems."""
    return {
        "plugins": [
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "origin": info.origin,
                "hooks": list(info.hooks),
                "registers": {kind: list(ids) for kind, ids in info.registers.items()},
            }
            for info in manager.plugins()
        ],
        "problems": [problem.as_dict() for problem in manager.problems],
    }


@click.command()
@click.option(
    "--observatory",
    "observatory",
    metavar="NAME",
    help="Also load the plugins of this installed observatory package.",
)
@json_option
def plugins(observatory: str | None, as_json: bool) -> None:
    """List installed plugins, their version and what each registers.

    Set WELFARE_OBSERVATORY_PLUGINS (comma-separated names; empty for none) to restrict
    which installed plugins load. Problems (a plugin that fails to import, a misspelled
    hook, a duplicate id) are listed at the end.
    """
    from welfare_observatory.sources.manager import Plugins

    manager = Plugins.for_observatory(observatory) if observatory else Plugins()
    report = plugins_report(manager.load())
    if as_json:
        print_json(report)
        return
    rows = [
        (
            p["name"],
            p["distribution"] or "",
            p["version"] or "",
            p["origin"],
            "; ".join(f"{kind}: {', '.join(ids)}" for kind, ids in p["registers"].items()),
        )
        for p in report["plugins"]
    ]
    print_table(["plugin", "distribution", "version", "origin", "registers"], rows)
    for problem in manager.problems:
        click.echo(click.style("problem: ", fg="red", bold=True) + str(problem), err=True)
        if problem.hint:
            click.echo(click.style("hint: ", fg="yellow") + problem.hint, err=True)
