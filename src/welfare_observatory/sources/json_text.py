"""Strict JSON for payloads: standard tokens only, nesting bounded, typed errors.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON: a
service that writes them has a bug, and a value read from one would be no number at all.
Deep nesting ends in a ``RecursionError`` inside the decoder; both become
:class:`JsonError` (a ValueError), which readers turn into a ParseError naming the source.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JsonError", "loads"]


class JsonError(ValueError):
    """A payload that is not standard JSON, or nests too deep to read."""


def _refuse_constant(token: str) -> Any:
    raise JsonError(f"non-standard JSON number token {token!r} (JSON has no NaN or Infinity)")


def loads(data: bytes | str) -> Any:
    """The JSON value of ``data``; JsonError for anything else (including UTF-8 errors)."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except RecursionError:
        raise JsonError("the JSON nests too deep to be data") from None
    except JsonError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonError(str(exc)) from None
