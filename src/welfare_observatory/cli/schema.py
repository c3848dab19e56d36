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


def schema_for(name: str) -> dict[str, object]:
    """The JSON Schema of the model called ``name`` (see ``MODELS``)."""
    import importlib

    if name not in MODELS:
        raise UnknownIdError(name, candidates=MODELS, message=f"no schema called {name!r}")
    module, attribute = MODELS[name]
    model = getattr(importlib.import_module(module), attribute)
    result: dict[str, object] = model.model_json_schema()
    return result


@click.command()
@click.argument("name", type=click.Choice(sorted(MODELS)))
def schema(name: str) -> None:
    """Print the JSON Schema of NAME (indicator, territory, finding, sdg-link)."""
    print_json(schema_for(name))
