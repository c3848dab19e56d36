"""The library version, and those of the engines that compute a build's values, in a
module of its own so any layer can read them without importing the top package."""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

ENGINES: tuple[str, ...] = ("duckdb", "numpy", "pandas", "pyarrow")
"""The libraries that compute a build's values (read files, join, sum, analyse): their
versions are in every step's key, so a step made by another version is made again
rather than reused beside steps this one makes; the manifest records them."""

_INSTALLED: frozenset[str] = frozenset({"duckdb"})
"""Engines whose version is read from the installed distribution's metadata (about 1.5 ms)
rather than the module: a build imports DuckDB only when a query needs it (about 45 ms), and
a one-file rebuild may need none. Always so, imported or not, so that a key never depends
on what the process happened to import."""


def engine_versions() -> dict[str, str]:
    """The version of each of :data:`ENGINES`: read from the modules (a build imports them
    anyway; the installed metadata costs more), but for :data:`_INSTALLED`."""
    return {name: _version(name) for name in ENGINES}


def _version(name: str) -> str:
    if name in _INSTALLED:
        from importlib import metadata

        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            pass  # not installed as a distribution (vendored, say): the module knows
    return str(importlib.import_module(name).__version__)
