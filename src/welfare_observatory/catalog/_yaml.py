"""Safe YAML reading that remembers where each mapping and each key was written.

Catalogue files are edited by hand, so an error must name the file, the line and the field.
PyYAML's safe loader (libyaml's when available) composes the node tree; a small builder turns
it into plain values, recording the line of every mapping, key and list item, and refusing
duplicate keys, which plain YAML would silently overwrite. Nothing is ever executed: tags
outside YAML's safe set fail as in ``yaml.safe_load``.

Why not :func:`welfare_observatory.yamlfile.load_yaml`, which the configuration files use:
catalogue values are typed as ``safe_load`` types them (numbers, booleans, dates), duplicate
keys are errors, ``<<`` merges are resolved, the lines travel inside the data (entries are
validated one by one, far from the file), errors are CatalogError, and composing runs in
libyaml because the shipped catalogue is large. Reading the file and finding the line of a
syntax error are shared with that module.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from welfare_observatory.errors import CatalogError, Location
from welfare_observatory.yamlfile import problem_line, read_text

if TYPE_CHECKING:
    import yaml

LINE = "__line__"
"""Key under which a mapping keeps the 1-based line where it starts."""
KEY_LINES = "__lines__"
"""Key under which a mapping keeps ``{key: line}`` for each of its keys."""


@cache
def _loader() -> Any:
    """libyaml's safe loader, else PyYAML's. PyYAML is imported here, on the first read, and
    bound as this module's ``yaml``: a build whose catalogue comes from the start-up cache
    reads no file (:func:`welfare_observatory.yamlfile._loaders`)."""
    import yaml as module

    globals()["yaml"] = module
    return getattr(module, "CSafeLoader", module.SafeLoader)


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class LineList(list[Any]):
    """A YAML sequence that knows the line of each of its items."""

    lines: tuple[int, ...] = ()


MAX_VALUES = 1_000_000
"""Values (scalars, lists, mappings) one catalogue file may build, aliases expanded."""


class _Builder:
    """Turns composed YAML nodes into dicts, LineLists and scalars, recording lines.

    Composing runs in libyaml (C); building Python values here instead of in PyYAML's generic
    constructor halves the load time. Non-string scalars (numbers, booleans, null, dates)
    still go through the safe constructor, so values are exactly what ``safe_load`` returns.
    """

    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file
        self.built = 0

    def build(self, node: yaml.Node) -> Any:
        # Aliases are built anew where they are used: a few hundred bytes of aliases of
        # aliases expand to millions of values ("billion laughs"). The shipped catalogue's
        # largest file builds well under a tenth of the limit.
        self.built += 1
        if self.built > MAX_VALUES:
            raise CatalogError(
                f"the file expands to more than {MAX_VALUES:,} values",
                location=Location(file=self.file, line=node.start_mark.line + 1),
                hint="aliases (*name) that repeat other aliases: write the entries out",
            )
        if isinstance(node, yaml.CollectionNode) and node.tag not in (_SEQ, _MAP):
            raise CatalogError(
                f"YAML tag {node.tag!r} is not allowed",
                location=Location(file=self.file, line=node.start_mark.line + 1),
                hint="catalogue files use plain YAML: no tags, nothing is ever executed",
            )
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR:
                return node.value
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            items = LineList(self.build(item) for item in node.value)
            items.lines = tuple(item.start_mark.line + 1 for item in node.value)
            return items
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node)
        raise CatalogError(  # pragma: no cover - PyYAML only makes the three kinds above
            f"unexpected YAML node {type(node).__name__}", location=Location(file=self.file)
        )

    def _mapping(self, node: yaml.MappingNode) -> dict[Any, Any]:
        own = {id(key) for key, _ in node.value if key.tag != _MERGE}
        if len(own) < len(node.value):
            self.loader.flatten_mapping(node)  # resolve '<<' merge keys as safe_load does
        out: dict[Any, Any] = {}
        lines: dict[Hashable, int] = {}
        merged: set[Hashable] = set()  # keys that came from '<<': the entry's own keys win
        for key_node, value_node in node.value:
            key = self.build(key_node)
            line = key_node.start_mark.line + 1
            if not isinstance(key, Hashable):
                raise CatalogError(
                    "a mapping key must be a plain value",
                    location=Location(file=self.file, line=line),
                )
            if key in lines and key not in merged:
                raise CatalogError(
                    f"duplicate key {key!r} (first written on line {lines[key]})",
                    location=Location(file=self.file, line=line, field=str(key)),
                    hint="each key may appear once per entry",
                )
            merged.discard(key)
            if id(key_node) not in own:
                merged.add(key)
            lines[key] = line
            out[key] = self.build(value_node)
        out[LINE] = node.start_mark.line + 1
        out[KEY_LINES] = lines
        return out


def read_yaml(path: Path) -> Any:
    """Parse ``path`` safely; mappings carry ``__line__`` and ``__lines__``.

    Raises CatalogError naming the file and line for unreadable files and syntax errors.
    """
    loader = _loader()(read_text(path, error=CatalogError))
    try:
        node = loader.get_single_node()
        return None if node is None else _Builder(loader, str(path)).build(node)
    except yaml.MarkedYAMLError as exc:
        kind = "not allowed" if isinstance(exc, yaml.constructor.ConstructorError) else "syntax"
        raise CatalogError(
            f"YAML {kind} error: {exc.problem or exc.context}",
            location=Location(file=str(path), line=problem_line(exc)),
            hint="check indentation, colons and quotes around that line; plain YAML only",
        ) from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"YAML error: {exc}", location=Location(file=str(path))) from exc
    finally:
        loader.dispose()


def strip_lines(value: Any) -> Any:
    """A copy of ``value`` without the line bookkeeping keys."""
    # Scalars (most values) are taken as they are, without a call each: a thousand-entry
    # catalogue has some thirty thousand of them.
    if isinstance(value, dict):
        return {
            k: strip_lines(v) if isinstance(v, dict | list) else v
            for k, v in value.items()
            if k not in (LINE, KEY_LINES)
        }
    if isinstance(value, list):
        return [strip_lines(v) if isinstance(v, dict | list) else v for v in value]
    return value


def line_of(raw: Any, loc: Sequence[int | str]) -> int | None:
    """The line of the deepest key or item of ``raw`` reached along ``loc`` (a pydantic loc)."""
    line: int | None = raw.get(LINE) if isinstance(raw, dict) else None
    node = raw
    for part in loc:
        if isinstance(node, dict):
            key_line = node.get(KEY_LINES, {}).get(part)
            if key_line is None:
                break
            line = key_line
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if isinstance(node, LineList) and part < len(node.lines):
                line = node.lines[part]
            node = node[part]
            if isinstance(node, dict) and LINE in node:
                line = node[LINE]
        else:
            break
    return line
