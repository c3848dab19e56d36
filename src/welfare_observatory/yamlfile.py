"""Safe YAML for analyst-edited files: every scalar stays text, every node knows its line.

YAML 1.1 reads ``017`` as the octal number 15 and ``NO`` (Norway, or a province code) as
false. Configuration holds codes, so scalars are kept as strings and the pydantic models
convert where a field really is a number, a date or a flag. ``null``, ``~`` and empty
values stay null.

Refused, each with a ConfigError naming file and line: anchors and aliases (``&a``/``*a``:
nested aliases expand exponentially, a "billion laughs" in a few hundred bytes, and
configuration never needs them), nesting deeper than :data:`MAX_DEPTH`, and a key given
twice in one mapping (YAML lets the last one win silently, so a second source with the
same id would replace the first).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from welfare_observatory.errors import ConfigError, Location, WelfareObservatoryError, closest

if TYPE_CHECKING:
    import yaml

__all__ = [
    "CONFIG_FILE",
    "YamlDocument",
    "load_yaml",
    "parse_yaml",
    "problem_line",
    "read_text",
    "safe_path",
    "validation_error",
]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists a configuration file may have."""


@cache
def _loaders() -> tuple[Any, Any]:
    """The loader classes: SafeLoader without implicit typing (only null is recognised),
    and the same on libyaml (ten times faster on a 160-source configuration; None without
    libyaml).

    PyYAML is imported here, on the first parse, and bound as this module's ``yaml``: a
    build whose files all come from the start-up cache parses none, and the import costs
    a tenth of its start-up's own work (9 ms)."""
    import yaml as module

    globals()["yaml"] = module

    class _TextLoader(module.SafeLoader):
        """SafeLoader without implicit typing: only null is recognised."""

    _TextLoader.yaml_implicit_resolvers = {}
    _TextLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
    if not getattr(module, "__with_libyaml__", False):  # pragma: no cover - in the wheels
        return _TextLoader, None

    class _CTextLoader(module.CSafeLoader):
        """The same loader on libyaml."""

    _CTextLoader.yaml_implicit_resolvers = {}
    _CTextLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
    return _TextLoader, _CTextLoader


class YamlDocument:
    """A parsed YAML file: plain data plus the line of every mapping key and list item."""

    def __init__(
        self, data: Any, lines: dict[tuple[str | int, ...], int], path: Path | None
    ) -> None:
        self.data = data
        self.lines = lines
        self.path = path

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The 1-based line of the deepest node of ``loc`` that exists in the file."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            # One mapping written where a list is accepted (``rules: {...}``) is item 0.
            for i, part in enumerate(key):
                if part == 0 and (*key[:i], 0) not in self.lines:
                    alone = (*key[:i], *key[i + 1 :])
                    if alone in self.lines:
                        return self.lines[alone]
            key = key[:-1]
        return self.lines.get((), None)


def _walk(
    node: yaml.Node, loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]
) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*loc, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines)


def read_text(path: Path, *, error: type[WelfareObservatoryError] = ConfigError) -> str:
    """The UTF-8 text of ``path`` (without a byte-order mark); an unreadable or non-UTF-8
    file raises ``error`` naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error(
            f"cannot read {path}: {exc.strerror}", location=Location(file=str(path))
        ) from exc
    return decode_text(raw, path, error=error)


def decode_text(
    raw: bytes, path: Path, *, error: type[WelfareObservatoryError] = ConfigError
) -> str:
    """``raw``, the bytes read from ``path``, as UTF-8 text (without a byte-order mark);
    bytes that are not UTF-8 raise ``error`` naming the file."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{path.name} is not UTF-8 text",
            location=Location(file=str(path)),
            hint="save the file as UTF-8 (most editors offer it in 'Save as')",
        ) from exc


def problem_line(exc: yaml.MarkedYAMLError) -> int | None:
    """The 1-based line a YAML error points at (the problem, else its context)."""
    mark = exc.problem_mark or exc.context_mark
    return mark.line + 1 if mark else None


def load_yaml(path: Path, *, text: str | None = None) -> YamlDocument:
    """Parse ``path`` safely; syntax errors become ConfigError with file and line."""
    return parse_yaml(read_text(path) if text is None else text, path=path)


def parse_yaml(text: str, *, path: Path | None = None) -> YamlDocument:
    """Parse YAML text safely (``path`` only names it in errors and in the document)."""
    file = None if path is None else str(path)
    text_loader, fast_loader = _loaders()
    if fast_loader is not None:
        try:
            return _parse(text, path, file, fast_loader)
        except (yaml.YAMLError, ConfigError):
            # libyaml words its errors differently: the pure-Python pass below gives the
            # message and line the rest of the package (and its users) know.
            pass
    return _parse(text, path, file, text_loader)


def _parse(text: str, path: Path | None, file: str | None, loader_class: Any) -> YamlDocument:
    """Events (aliases, depth), nodes (duplicate keys, lines), then values from those nodes:
    the text is scanned twice, not three times. The caller bound ``yaml`` (:func:`_loaders`)."""
    try:
        _refuse_aliases_and_depth(text, file, loader_class)
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _refuse_duplicate_keys(node, file)
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(
            f"invalid YAML: {exc.problem or exc.context}",
            location=Location(file=file, line=problem_line(exc)),
            hint="check indentation and quoting around this line",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", location=Location(file=file)) from exc
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlDocument(data, lines, path)


def _refuse_aliases_and_depth(text: str, file: str | None, loader_class: Any) -> None:
    """Walk the event stream (flat, never expanded) and refuse anchors, aliases and depth."""
    depth = 0
    for event in yaml.parse(text, Loader=loader_class):
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ConfigError(
                "YAML anchors and aliases (&name, *name) are not accepted",
                location=Location(file=file, line=line),
                hint="write the repeated part out in full: aliases can expand a small file "
                "into gigabytes, so configuration refuses them",
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(
                    f"the YAML nests deeper than {MAX_DEPTH} levels",
                    location=Location(file=file, line=line),
                    hint="configuration is a few levels deep; check for a runaway file",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _refuse_duplicate_keys(root: yaml.Node, file: str | None) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    line = key_node.start_mark.line + 1
                    if key_node.value in seen:
                        raise ConfigError(
                            f"key {key_node.value!r} is given twice in one mapping "
                            f"(first on line {seen[key_node.value]})",
                            location=Location(file=file, line=line, key=key_node.value),
                            hint="YAML would silently keep only the last one: rename or "
                            "merge the two entries",
                        )
                    seen[key_node.value] = line
                stack += [key_node, value_node]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def validation_error(
    exc: ValidationError,
    document: YamlDocument,
    *,
    model: type[BaseModel] | None = None,
    prefix: Sequence[str | int] = (),
) -> ConfigError:
    """One ConfigError for a pydantic error: file, line and field of the first problem,
    a list of the others, and the closest valid key for an unknown one."""
    problems = exc.errors(include_url=False)
    first = problems[0]
    loc = (*prefix, *first["loc"])
    field = ".".join(str(part) for part in loc)
    hint: str | None = None
    if first["type"] == "extra_forbidden" and model is not None:
        allowed = _allowed_keys(model, list(first["loc"][:-1]))
        suggestions = closest(str(first["loc"][-1]), allowed)
        hint = (
            f"did you mean {suggestions[0]!r}?"
            if suggestions
            else ("valid keys here: " + ", ".join(sorted(allowed)) if allowed else None)
        )
    message = f"{field}: {first['msg']}"
    if len(problems) > 1:
        others = "; ".join(
            ".".join(str(p) for p in (*prefix, *problem["loc"])) + f": {problem['msg']}"
            for problem in problems[1:6]
        )
        message += f" (and {len(problems) - 1} more: {others})"
    return ConfigError(
        message,
        location=Location(
            file=None if document.path is None else str(document.path),
            line=document.line_of(loc),
            field=field,
        ),
        hint=hint,
    )


def _allowed_keys(model: type[BaseModel], loc: list[str | int]) -> list[str]:
    """Field names (and aliases) of the model found by walking ``loc`` into ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = getattr(current, "model_fields", {}).get(part)
        current = _model_in(field.annotation) if field is not None else None
    if current is None or not hasattr(current, "model_fields"):
        return []
    names: list[str] = []
    for name, info in current.model_fields.items():
        names.append(info.alias or name)
    return names


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


CONFIG_FILE = "observatory.yaml"
"""The observatory's configuration file, in the root of its folder."""


def safe_path(base: Path, relative: str, *, what: str = "path") -> Path:
    """``base / relative``, refusing anything that leaves ``base`` (absolute, ``..``, links)."""
    pure = PurePosixPath(relative.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", relative):
        raise ConfigError(
            f"{what} {relative!r} is absolute",
            location=Location(file=str(base / CONFIG_FILE), field=what),
            hint="paths in an observatory are relative to its folder",
        )
    resolved = (base / Path(*pure.parts)).resolve()
    root = base.resolve()
    if resolved != root and root not in resolved.parents:
        raise ConfigError(
            f"{what} {relative!r} points outside the observatory folder",
            location=Location(file=str(base / CONFIG_FILE), field=what),
            hint="keep data files inside the observatory's folder",
        )
    return resolved
