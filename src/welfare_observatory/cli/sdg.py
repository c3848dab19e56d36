"""``welfare-observatory sdg``: look up goals, targets and indicators of the UN framework."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from welfare_observatory.cli._output import json_option, print_fields, print_json, print_table

if TYPE_CHECKING:
    from welfare_observatory.sdg import Framework, Goal, SdgIndicator, Target

lang_option = click.option(
    "--lang",
    type=click.Choice(["it", "en"]),
    default="it",
    show_default=True,
    help="Language of the titles; an answer with a title missing in it is all in English.",
)
version_option = click.option(
    "--framework", "version", default="2023", show_default=True, help="Framework version."
)


def _one_language(lang: str, nodes: list[Any]) -> str:
    """``lang`` when every node shown has a title in it, else ``en``: never a mixed answer.

    The shipped framework has Italian titles for every node (their origin is recorded); an
    answer touching a node without one (another framework file) is all English.
    """
    if lang == "en" or all(getattr(n.title, lang) for n in nodes):
        return lang
    missing = ", ".join(n.id for n in nodes if not getattr(n.title, lang))
    click.echo(f"note: no Italian title for {missing}; the whole answer is in English", err=True)
    return "en"


# Field and column labels of the tables, so an Italian answer has no English words in it;
# "obiettivo" and "traguardo" are the Italian names of goal and target in the UN's Italian
# texts. JSON keys stay English (they are an interface, not prose).
_LABELS_IT = {
    "goal": "obiettivo",
    "target": "traguardo",
    "indicator": "indicatore",
    "name": "nome",
    "title": "titolo",
    "title from": "fonte del titolo",
    "UNSD code": "codice UNSD",
    "also listed as": "elencato anche come",
    "note": "nota",
    "id": "id",
    "framework": "quadro",
}


def _label(lang: str, text: str) -> str:
    """The table label ``text`` in ``lang`` (English labels are the keys)."""
    return _LABELS_IT[text] if lang == "it" else text


def _heading(lang: str, kind: str, sdg_id: str, version: str) -> str:
    """Table heading: "SDG indicator 8.5.2 (framework 2023)" or, in Italian word order,
    "Indicatore SDG 8.5.2 (quadro 2023)"."""
    if lang == "it":
        return f"{_LABELS_IT[kind].capitalize()} SDG {sdg_id} (quadro {version})"
    return f"SDG {kind} {sdg_id} (framework {version})"


@click.group()
def sdg() -> None:
    """The UN SDG global indicator framework (goals, targets, indicators)."""


@sdg.command()
@click.argument("sdg_id")
@json_option
@lang_option
@version_option
def show(sdg_id: str, as_json: bool, lang: str, version: str) -> None:
    """Show a goal, target or indicator with its parents and children.

    SDG_ID is "17", "10.2", "8.5.2" or the dashed form "1-a-1".
    """
    from welfare_observatory.sdg import Goal, SdgIndicator, framework

    fw = framework(version)
    node = fw.resolve(sdg_id)
    if as_json:
        print_json(_as_dict(fw, node))
        return
    if isinstance(node, Goal):
        lang = _one_language(lang, [node, *node.targets])
        print_fields(
            [
                (_label(lang, "goal"), node.id),
                (_label(lang, "name"), node.short.get(lang)),
                (_label(lang, "title"), node.title.get(lang)),
                (_label(lang, "note"), node.note),
            ],
            title=f"SDG {node.id} ({_label(lang, 'framework')} {fw.version})",
        )
        print_table(
            [_label(lang, "target"), _label(lang, "title")],
            [(t.id, t.title.get(lang)) for t in node.targets],
        )
    elif isinstance(node, SdgIndicator):
        target = fw.resolve(node.target)
        goal = fw.resolve(node.goal)
        lang = _one_language(lang, [node, target, goal])
        print_fields(
            [
                (_label(lang, "indicator"), node.id),
                (_label(lang, "title"), node.title.get(lang)),
                (_label(lang, "title from"), _origin(fw, node, lang)),
                (_label(lang, "UNSD code"), node.code),
                (_label(lang, "also listed as"), ", ".join(node.repeated_in)),
                (_label(lang, "note"), node.note),
                (_label(lang, "target"), f"{target.id} {target.title.get(lang)}"),
                (_label(lang, "goal"), f"{node.goal} {goal.title.get(lang)}"),
            ],
            title=_heading(lang, "indicator", node.id, fw.version),
        )
    else:
        goal = fw.resolve(node.goal)
        lang = _one_language(lang, [node, goal, *node.indicators])
        print_fields(
            [
                (_label(lang, "target"), node.id),
                (_label(lang, "title"), node.title.get(lang)),
                (_label(lang, "title from"), _origin(fw, node, lang)),
                (_label(lang, "note"), node.note),
                (_label(lang, "goal"), f"{node.goal} {goal.title.get(lang)}"),
            ],
            title=_heading(lang, "target", node.id, fw.version),
        )
        if node.indicators:
            rows = [(i.id, i.code, i.title.get(lang)) for i in node.indicators]
            print_table([_label(lang, c) for c in ("indicator", "UNSD code", "title")], rows)


def _origin(fw: Framework, node: Goal | Target | SdgIndicator, lang: str) -> str:
    """Where the title shown comes from: the UN (English) or the recorded Italian origin."""
    if lang == "en":
        return fw.publisher
    key = node.origin.get(lang, "")
    origins = fw.translations.get(lang, {}).get("origins", {})
    return str(origins.get(key, key))


@sdg.command("list")
@click.option("--goal", "goal_id", help="Only this goal's targets or indicators.")
@click.option(
    "--level",
    type=click.Choice(["goals", "targets", "indicators"]),
    default="goals",
    show_default=True,
)
@json_option
@lang_option
@version_option
def list_(goal_id: str | None, level: str, as_json: bool, lang: str, version: str) -> None:
    """List goals, targets or indicators (of one goal with --goal)."""
    from welfare_observatory.errors import UnknownSdgError
    from welfare_observatory.sdg import Goal, framework

    fw = framework(version)
    goals = fw.goals
    if goal_id is not None:
        node = fw.resolve(goal_id)
        if not isinstance(node, Goal):
            raise UnknownSdgError(
                goal_id,
                candidates=[node.goal],
                message=f"--goal wants a goal id, and {goal_id!r} is not a goal",
            )
        goals = (node,)
    nodes: list[Goal | Target | SdgIndicator] = list(goals)
    if level == "targets":
        nodes = [t for g in goals for t in g.targets]
    elif level == "indicators":
        nodes = [i for g in goals for i in g.indicators]
    if as_json:
        print_json([{"id": n.id, "title": n.title.get(lang)} for n in nodes])
        return
    lang = _one_language(lang, nodes)
    print_table(
        [_label(lang, "id"), _label(lang, "title")], [(n.id, n.title.get(lang)) for n in nodes]
    )


def _as_dict(fw: Framework, node: Goal | Target | SdgIndicator) -> dict[str, Any]:
    from welfare_observatory.sdg import Goal, SdgIndicator

    out: dict[str, Any] = {"framework": fw.version, "kind": type(node).__name__}
    if isinstance(node, Goal):
        out |= node.model_dump(mode="json", exclude={"targets"})
        out["targets"] = [{"id": t.id, "title": t.title.model_dump()} for t in node.targets]
    elif isinstance(node, SdgIndicator):
        out |= node.model_dump(mode="json")
        out["kind"] = "Indicator"
        out["target"] = node.target
        out["goal"] = node.goal
    else:
        out |= node.model_dump(mode="json", exclude={"indicators"})
        out["goal"] = node.goal
        out["indicators"] = [
            {"id": i.id, "code": i.code, "title": i.title.model_dump()} for i in node.indicators
        ]
    return out
