"""A territory given on the command line by code or by name, as ``territory show`` takes it."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["territory_callback", "territory_code"]


def territory_code(text: str) -> str:
    """The code of the territory ``text`` names ("Cossato" -> its Istat code; "Piemonte" ->
    "01"); a code is returned as given. Text the registry does not know is returned as it is,
    so codes of an observatory's own areas still work and the data's error names them."""
    from welfare_observatory.errors import UnknownTerritoryError
    from welfare_observatory.territory import registry

    reg = registry()
    if text in reg:
        return text
    try:
        return reg.find(text).code
    except UnknownTerritoryError:
        return text


def territory_callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """Click callback: one territory, or a tuple of them (repeatable options), as codes."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(territory_code(v) for v in value)
    return territory_code(str(value))
