"""Read harmonization rules from YAML (safe loader), with errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from welfare_observatory.errors import ConfigError, Location
from welfare_observatory.harmonize.rules import HarmonizeRule

__all__ = ["load_rules", "parse_rules"]


def _lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    """Record the 1-based line of every mapping key and sequence item under ``node``."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            out[child] = key.start_mark.line + 1
            _lines(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*path, index), out)


def parse_rules(text: str, *, file: str | None = None) -> list[HarmonizeRule]:
    """Rules from YAML text: one rule (a mapping), a list of rules, or ``{rules: [...]}``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            location=Location(file=file, line=mark.line + 1 if mark else None),
        ) from exc
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    prefix: tuple[Any, ...] = ()
    if isinstance(data, dict) and set(data) == {"rules"}:
        data, prefix = data["rules"], ("rules",)
    items = data if isinstance(data, list) else [data]
    rules: list[HarmonizeRule] = []
    for index, item in enumerate(items):
        base = (*prefix, index) if isinstance(data, list) else prefix
        try:
            rules.append(HarmonizeRule.model_validate(item))
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = tuple(error["loc"])
            line = None
            for cut in range(len(loc), -1, -1):
                if (key := (*base, *loc[:cut])) in lines:
                    line = lines[key]
                    break
            field = ".".join(str(p) for p in loc) or None
            raise ConfigError(
                f"invalid harmonization rule: {error['msg']}",
                location=Location(file=file, line=line, field=field),
                hint="see docs/harmonization.md for every section and an example of each",
            ) from exc
    return rules


def load_rules(path: str | Path) -> list[HarmonizeRule]:
    """Rules from a YAML file (see :func:`parse_rules`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read rule file: {exc}", location=Location(file=str(path))
        ) from exc
    return parse_rules(text, file=str(path))
