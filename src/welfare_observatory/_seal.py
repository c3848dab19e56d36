"""JSON records sealed with the digest of their own bytes, for what a build keeps under
``.steps`` and trusts on reading: a source's step record, the findings cache, a saved
derive result's meta.

A damaged file that no longer parses is rebuilt anyway; the seal catches the damage that
still parses (a changed byte in a finding's message, a lineage step's rule, a count), which
would otherwise be published. A sealed record is a plain JSON object whose first key,
``record_sha256``, holds the sha256 of the object written without that key: checking it
costs one digest of the bytes, nothing is serialised again, and any JSON reader still reads
the file (the key is one more field).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["KEY", "seal", "unseal"]

KEY = "record_sha256"
"""The sealed record's first key."""

_HEAD = b'{"' + KEY.encode("ascii") + b'":"'
_DIGEST = 64  # hex digits of a sha256


def seal(record: Mapping[str, Any]) -> bytes:
    """``record`` (a mapping without :data:`KEY`) as sealed JSON bytes."""
    if KEY in record:
        raise ValueError(f"a record to seal has no {KEY!r} of its own")
    body = json.dumps(record).encode("utf-8")
    rest = b'"}' if body == b"{}" else b'",' + body[1:]
    return _HEAD + hashlib.sha256(body).hexdigest().encode("ascii") + rest


def unseal(raw: bytes) -> bytes | None:
    """The JSON object of :func:`seal`'s bytes ``raw`` without its seal, or None when
    ``raw`` is not sealed (written by an earlier version) or does not hash to its seal."""
    end = len(_HEAD) + _DIGEST
    if not raw.startswith(_HEAD):
        return None
    if raw[end:] == b'"}':
        body = b"{}"
    elif raw[end : end + 2] == b'",':
        body = b"{" + raw[end + 2 :]
    else:
        return None
    if hashlib.sha256(body).hexdigest().encode("ascii") != raw[len(_HEAD) : end]:
        return None
    return body
