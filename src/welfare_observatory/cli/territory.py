"""``welfare-observatory territory``: look up Italian territories and their history.

Heavy modules (pyarrow, the registry) are imported inside the commands.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from welfare_observatory.cli._output import json_option, print_fields, print_json, print_table

if TYPE_CHECKING:
    from welfare_observatory.model.territory import Territory
    from welfare_observatory.territory._registry import TerritoryRegistry

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def territory() -> None:
    """Look up Italian territories: codes, names, hierarchy, history."""


def _describe(reg: TerritoryRegistry, t: Territory, at: date | None) -> dict[str, Any]:
    from welfare_observatory.model.territory import OPEN_END, TerritoryLevel

    chain = reg.ancestors(t.code)
    children = reg.children(t.code)
    events = reg.events(t.code) if t.level == TerritoryLevel.MUNICIPALITY else []
    info: dict[str, Any] = t.model_dump(mode="json", exclude_defaults=True)
    info["level"] = t.level.value
    info["valid_to"] = t.valid_to.isoformat() if t.valid_to != OPEN_END else None
    info["parents"] = [{"code": a.code, "name": a.name, "level": a.level.value} for a in chain]
    info["children"] = len(children)
    if t.level in (TerritoryLevel.PROVINCE, TerritoryLevel.REGION):
        info["districts"] = (
            len(reg.districts(t.code)) if t.level == TerritoryLevel.PROVINCE else None
        )
    if old := reg.nuts_2021(t.code):
        info["nuts_2021"] = old
    if derivation := reg.derivation(t.code):
        info["derivation"] = derivation
    if t.level == TerritoryLevel.MUNICIPALITY:
        reference = at or date.today()
        info["successors"] = reg.successors(t.code, at=reference)
        info["successors_at"] = reference.isoformat()
        info["predecessors"] = reg.predecessors(t.code, at=at)
    info["history"] = [e.model_dump(mode="json") for e in events]
    return {k: v for k, v in info.items() if v not in (None, [], {})}


@territory.command()
@click.argument("query")
@click.option("--at", "at", type=_DATE, default=None, help="Reference date (YYYY-MM-DD).")
@json_option
def show(query: str, at: datetime | None, as_json: bool) -> None:
    """Show a territory by code, NUTS, Belfiore code or name: parents, children, history."""
    from welfare_observatory.territory import registry

    reg = registry()
    t = reg.find(query)
    info = _describe(reg, t, at.date() if at else None)
    if as_json:
        print_json(info)
        return
    parents = " > ".join(f"{p['name']} ({p['code']})" for p in reversed(info.get("parents", [])))
    pairs = [
        (key, info.get(key))
        for key in (
            "code", "level", "name", "name_other", "belfiore", "nuts1", "nuts2", "nuts3",
            "nuts_2021", "istat_code", "uts_code", "abbreviation", "valid_from", "valid_to",
            "derivation", "children", "districts", "successors", "successors_at",
            "predecessors",
        )
    ]  # fmt: skip
    pairs.insert(4, ("parents", parents))
    print_fields([(k, ", ".join(v) if isinstance(v, list) else v) for k, v in pairs])
    history = info.get("history", [])
    if history:
        print_table(
            ["date", "old", "new", "kind", "evidence"],
            [
                [e["date"], e["old"] or "", e["new"] or "", e["kind"], e["evidence"]]
                for e in history[-15:]
            ],
            title=f"history ({len(history)} events, latest 15)",
        )


@territory.command()
@click.argument("text")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="Most matches to list.",
)
@json_option
def search(text: str, limit: int, as_json: bool) -> None:
    """Search territories by name (accents, case, apostrophes and "S." ignored) or code."""
    from welfare_observatory.model.territory import OPEN_END
    from welfare_observatory.territory import registry

    reg = registry()
    found = reg.search(text, limit=limit)
    rows = [
        {
            "code": t.code,
            "name": t.name + (f" / {t.name_other}" if t.name_other else ""),
            "level": t.level.value,
            "parent": t.parent,
            "ceased": None if t.valid_to == OPEN_END else t.valid_to.isoformat(),
        }
        for t in found
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"no territory matches {text!r}")
        return
    print_table(
        ["code", "name", "level", "parent", "ceased"],
        [[r["code"], r["name"], r["level"], r["parent"], r["ceased"]] for r in rows],
    )
