"""``welfare-observatory schema NAME``: JSON Schema of the public models."""

from __future__ import annotations

import click

from welfare_observatory.cli._output import print_json
from welfare_observatory.errors import UnknownIdError

MODELS = {
    "indicator": ("welfare_observatory.model.indicator", "Indicator"),
    "territory": ("welfare_observatory.model.territory", "Territory"),
    "finding": ("welfare_observatory.model.finding", "Finding"),
    "sdg-link": ("welfare_observatory.model.indicator", "SdgLink"),
}
TABLES = ("observation",)
"""Table schemas (Frictionless Table Schema), next to the model schemas above."""

_DESCRIPTIONS = {
    "indicator": "indicator id from the catalogue (UPPER_SNAKE)",
    "territory": "territory id: Istat code, NUTS code, IT, district:... or grouping:...",
    "period": "the period as written in the source, normalized (2023, 2023-01-01, 2023/24)",
    "period_start": "first day of the period (a stock: its reference day)",
    "value": "the value in `unit`, multiplier applied; empty when obs_status is O, M or L",
    "unit": "pint-parsable unit",
    "obs_status": "SDMX CL_OBS_STATUS",
    "conf_status": "SDMX CL_CONF_STATUS",
    "flags": "free notes (override reasons, footnotes)",
    "source": "id of the source the value came from (or derive)",
    "lineage": "id of the step that produced the value (welfare-observatory explain)",
}


def schema_for(name: str, breakdowns: tuple[str, ...] = ()) -> dict[str, object]:
    """The JSON Schema of the model called ``name`` (see ``MODELS``), or the Table Schema
    of the canonical observation table with these breakdown columns."""
    import importlib

    if name == "observation":
        return observation_table_schema(breakdowns)
    if name not in MODELS:
        names = [*MODELS, *TABLES]
        raise UnknownIdError(name, candidates=names, message=f"no schema called {name!r}")
    module, attribute = MODELS[name]
    model = getattr(importlib.import_module(module), attribute)
    result: dict[str, object] = model.model_json_schema()
    return result


def observation_table_schema(breakdowns: tuple[str, ...] = ()) -> dict[str, object]:
    """The canonical observation table as a Frictionless Table Schema (primary key: the
    key columns and the breakdowns; status columns limited to their code lists)."""
    from welfare_observatory.model.observation import (
        KEY_COLUMNS,
        ConfStatus,
        ObsStatus,
        observation_schema,
    )

    enums: dict[str, list[str]] = {
        "obs_status": [str(code) for code in ObsStatus],
        "conf_status": [str(code) for code in ConfStatus],
    }
    fields: list[dict[str, object]] = []
    for field in observation_schema(breakdowns):
        kind = {"date32[day]": "date", "double": "number"}.get(str(field.type), "string")
        constraints: dict[str, object] = {"required": not field.nullable}
        if field.name in enums:
            constraints["enum"] = enums[field.name]
        description = _DESCRIPTIONS.get(field.name, "breakdown: SDMX-style codes, _T total")
        fields.append(
            {
                "name": field.name,
                "type": kind,
                "description": description,
                "constraints": constraints,
            }
        )
    return {"fields": fields, "primaryKey": [*KEY_COLUMNS, *breakdowns], "missingValues": [""]}


@click.command()
@click.argument("name", type=click.Choice(sorted([*MODELS, *TABLES])))
@click.option(
    "--breakdown",
    "breakdowns",
    multiple=True,
    metavar="NAME",
    help="observation only: a breakdown column (repeatable), e.g. --breakdown sex.",
)
def schema(name: str, breakdowns: tuple[str, ...]) -> None:
    """Print the JSON Schema of NAME (indicator, territory, finding, sdg-link), or the
    Table Schema of the canonical observation table (observation)."""
    print_json(schema_for(name, breakdowns))
