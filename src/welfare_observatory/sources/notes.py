"""Findings a reader makes while parsing, carried on the parsed table itself.

``Source.parse`` returns a pyarrow Table, so what a reader noticed without refusing the
file (an error cell read as missing, a hidden sheet, an ambiguous separator) travels in the
table's schema metadata under :data:`FINDINGS_KEY`, as JSON. The build collects them with
:func:`parse_findings` and puts them in the build report beside harmonize's findings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from welfare_observatory.model.finding import Finding

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["FINDINGS_KEY", "attach_findings", "parse_findings"]

FINDINGS_KEY = b"welfare_observatory.findings"
"""Schema metadata key of the reader's findings (a JSON list of Finding objects)."""


def attach_findings(table: pa.Table, findings: Sequence[Finding]) -> pa.Table:
    """``table`` with ``findings`` added to those it already carries."""
    if not findings:
        return table
    known = parse_findings(table)
    payload = json.dumps([f.model_dump(mode="json") for f in [*known, *findings]])
    metadata = dict(table.schema.metadata or {})
    metadata[FINDINGS_KEY] = payload.encode("utf-8")
    return table.replace_schema_metadata(metadata)


def parse_findings(table: pa.Table) -> list[Finding]:
    """The findings a reader attached to ``table`` (none when it attached none)."""
    raw = (table.schema.metadata or {}).get(FINDINGS_KEY)
    if not raw:
        return []
    try:
        return [Finding.model_validate(item) for item in json.loads(raw)]
    except ValueError:
        return []
