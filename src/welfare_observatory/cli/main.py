"""Entry point: a click group whose subcommands are imported only when they run.

``welfare-observatory --help`` must answer in under 0.3 s, so nothing heavy (pandas, pyarrow,
pint, sdmx, duckdb) is imported here; each command module imports what it needs inside its
functions.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from welfare_observatory.cli._process import collect_again, run_command
from welfare_observatory.errors import WelfareObservatoryError

# name -> (module, attribute, one-line help). The help text lives here so that
# ``--help`` lists commands without importing their modules.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "catalog": (
        "welfare_observatory.cli.catalog",
        "catalog",
        "Browse and curate the indicator catalogue.",
    ),
    "sdg": ("welfare_observatory.cli.sdg", "sdg", "The UN SDG global indicator framework."),
    "territory": ("welfare_observatory.cli.territory", "territory", "Look up Italian territories."),
    "schema": ("welfare_observatory.cli.schema", "schema", "Print the JSON Schema of a model."),
    "analyze": (
        "welfare_observatory.cli.analyze",
        "analyze",
        "Progress, composites, benchmarks and early warnings.",
    ),
    "build": ("welfare_observatory.cli.build", "build", "Build an observatory's edition."),
    "explain": (
        "welfare_observatory.cli.explain",
        "explain",
        "Trace a published value to its data.",
    ),
    "kb": ("welfare_observatory.cli.kb", "kb", "Knowledge base editions: list, query, diff."),
    "plugins": (
        "welfare_observatory.cli.plugins",
        "plugins",
        "List installed plugins and what they register.",
    ),
    "source": (
        "welfare_observatory.cli.source",
        "source",
        "Preview a source, record its answers as fixtures.",
    ),
    "new-plugin": (
        "welfare_observatory.cli.new_plugin",
        "new_plugin",
        "Scaffold a source plugin package.",
    ),
    "new": ("welfare_observatory.cli.new", "new", "Scaffold a new observatory package."),
    "request-template": (
        "welfare_observatory.cli.request_template",
        "request_template",
        "Write data-request spreadsheets for local bodies.",
    ),
    "report": (
        "welfare_observatory.cli.report",
        "report",
        "Build the report website of an edition.",
    ),
    "publish": ("welfare_observatory.cli.publish", "publish", "Open data exports of an edition."),
}


LOADS_FIRST = frozenset({"build"})
"""Commands that end the console script's start-up themselves (:mod:`._process`): after
loading the observatory, not when their module is imported."""


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attribute, _ = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_name}.{attribute} is not a click command")
            if cmd_name not in LOADS_FIRST:
                collect_again()
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        rows += [
            (name, cmd.get_short_help_str())
            for name, cmd in sorted(self.commands.items())
            if name not in COMMANDS
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    package_name="welfare-observatory",
    prog_name="welfare-observatory",
    message="%(prog)s %(version)s",
)
def cli() -> None:
    """Build and publish territorial welfare observatories.

    An observatory turns data from municipalities, health authorities, the Third Sector,
    Istat and Eurostat into one harmonized knowledge base of indicators tied to the UN
    SDGs, and publishes its yearly report.
    """


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; library errors become one readable message and exit code 1."""
    try:
        return cli.main(args=argv, prog_name="welfare-observatory", standalone_mode=False)
    except WelfareObservatoryError as exc:
        from welfare_observatory.cli._output import print_error

        print_error(exc)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:
        # The file system refused (a folder that does not exist, a name too long, no
        # permission): the environment's answer, said in one line like the library's own.
        from welfare_observatory.cli._output import print_error
        from welfare_observatory.errors import Location

        where = exc.filename if isinstance(exc.filename, str) else None
        print_error(
            WelfareObservatoryError(
                f"cannot use {where!r}: {exc.strerror or exc}" if where else str(exc),
                location=Location(file=where) if where else None,
                hint="check the path, that its folder exists and that it may be written",
            )
        )
        sys.exit(1)


def run() -> None:
    """The console script: :func:`main` as the whole process (collection deferred during
    start-up, no interpreter teardown after the command; :mod:`._process`)."""
    run_command(main)


if __name__ == "__main__":
    run()
