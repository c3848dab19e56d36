"""The library version, and those of the engines that compute a build's values, in a
module of its own so any layer can read them without importing the top package."""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

ENGINES: tuple[str, ...] = ("duckdb", "numpy", "pandas", "pyarrow")
"""The libraries that compute a build's values (read files, join, sum, analyse): their
versions are in every step's key, so a step made by another version is made again
rather than reused beside steps this one makes; the manifest records them."""


def engine_versions() -> dict[str, str]:
    """The version of each of :data:`ENGINES` (a build imports them all anyway; read from
    the modules, not the installed metadata, which costs tens of milliseconds)."""
    return {name: str(importlib.import_module(name).__version__) for name in ENGINES}
