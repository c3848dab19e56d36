"""Safe YAML reading that remembers where each mapping and each key was written.

Catalogue files are edited by hand, so an error must name the file, the line and the field.
The loader is PyYAML's safe loader (the C one when libyaml is there, for speed) with
``construct_mapping`` extended to record line numbers and to refuse duplicate keys, which
plain YAML would silently overwrite.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml

from welfare_observatory.errors import CatalogError, Location

LINE = "__line__"
"""Key under which a mapping keeps the 1-based line where it starts."""
KEY_LINES = "__lines__"
"""Key under which a mapping keeps ``{key: line}`` for each of its keys."""

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_Base):  # type: ignore[misc]
    """Safe loader whose mappings carry their own and their keys' line numbers."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        lines: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in lines:
                raise CatalogError(
                    f"duplicate key {key!r} (first written on line {lines[key]})",
                    location=Location(
                        file=getattr(self, "_wo_file", None),
                        line=key_node.start_mark.line + 1,
                        field=str(key),
                    ),
                    hint="each key may appear once per entry",
                )
            lines[key] = key_node.start_mark.line + 1
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        mapping[LINE] = node.start_mark.line + 1
        mapping[KEY_LINES] = lines
        return mapping


class LineList(list[Any]):
    """A YAML sequence that knows the line of each of its items."""

    lines: tuple[int, ...] = ()


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Any:
    data = LineList()
    yield data
    data.extend(loader.construct_sequence(node))
    data.lines = tuple(item.start_mark.line + 1 for item in node.value)


_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def read_yaml(path: Path) -> Any:
    """Parse ``path`` safely; mappings carry ``__line__`` and ``__lines__``.

    Raises CatalogError naming the file and line for unreadable files and syntax errors.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(
            f"{path.name} is not UTF-8 text",
            location=Location(file=str(path)),
            hint="save catalogue files as UTF-8",
        ) from exc
    except OSError as exc:
        raise CatalogError(
            f"cannot read {path}: {exc.strerror}", location=Location(file=str(path))
        ) from exc
    loader = _LineLoader(text)
    loader._wo_file = str(path)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise CatalogError(
            f"YAML syntax error: {exc.problem or exc.context}",
            location=Location(file=str(path), line=mark.line + 1 if mark else None),
            hint="check indentation, colons and quotes around that line",
        ) from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"YAML error: {exc}", location=Location(file=str(path))) from exc
    finally:
        loader.dispose()


def strip_lines(value: Any) -> Any:
    """A copy of ``value`` without the line bookkeeping keys."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k not in (LINE, KEY_LINES)}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
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
