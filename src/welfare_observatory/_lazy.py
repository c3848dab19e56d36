"""Lazy package exports: a name's module is imported on first use, so importing stays light.

A package ``__init__`` lists its lazy names in ``_LAZY`` (public name to the module that
defines it, ``"module:attribute"`` where the attribute has another name), keeps
``TYPE_CHECKING`` imports of the same names for mypy, and ends with::

    __getattr__, __dir__ = lazy_exports(globals(), _LAZY)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of the package whose ``globals()`` is given.

    ``__getattr__`` imports the name's module on first use and stores the value in the
    package, so later lookups skip it (and a submodule of the same name, which the import
    binds on the package, is replaced by the exported object). Unknown names raise
    AttributeError naming the package. ``__dir__`` lists ``__all__``.
    """
    package: str = namespace["__name__"]

    def module_getattr(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        namespace[name] = value
        return value

    def module_dir() -> list[str]:
        return sorted(namespace["__all__"])

    return module_getattr, module_dir
