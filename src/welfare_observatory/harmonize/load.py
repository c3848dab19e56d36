"""Read harmonization rules from YAML (safe loader), with errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from welfare_observatory.errors import ConfigError, Location
from welfare_observatory.harmonize.rules import HarmonizeRule
from welfare_observatory.yamlfile import YamlDocument, load_yaml, parse_yaml

__all__ = ["load_rules", "parse_rules"]


def parse_rules(text: str, *, file: str | None = None) -> list[HarmonizeRule]:
    """Rules from YAML text: one rule (a mapping), a list of rules, or ``{rules: [...]}``.

    Read as the observatory file is (:mod:`welfare_observatory.yamlfile`): every scalar stays
    text, so a rule written here and the same rule inline in ``observatory.yaml`` agree.
    """
    return _rules(parse_yaml(text, path=None if file is None else Path(file)))


def load_rules(path: str | Path) -> list[HarmonizeRule]:
    """Rules from a YAML file (see :func:`parse_rules`)."""
    return _rules(load_yaml(Path(path)))


def _rules(document: YamlDocument) -> list[HarmonizeRule]:
    data = document.data
    prefix: tuple[str | int, ...] = ()
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
            raise ConfigError(
                f"invalid harmonization rule: {error['msg']}",
                location=Location(
                    file=None if document.path is None else str(document.path),
                    line=document.line_of((*base, *loc)),
                    field=".".join(str(p) for p in loc) or None,
                ),
                hint="see docs/harmonization.md for every section and an example of each",
            ) from exc
    return rules
