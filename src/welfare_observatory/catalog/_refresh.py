"""Rewrite the unit cache from the shipped files.

Usage: ``python -m welfare_observatory.catalog._refresh``.

Run it after adding an indicator with a unit string the catalogue has not used before; the
test ``test_unit_cache_matches_pint`` says when it is needed.
"""

from __future__ import annotations

import json

from welfare_observatory.catalog._load import shipped_units
from welfare_observatory.catalog._units import CACHE_FILE, build_cache


def main() -> None:
    """Compute every shipped unit with pint and write ``data/_units.json``."""
    content = build_cache(shipped_units())
    CACHE_FILE.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {CACHE_FILE}")


if __name__ == "__main__":
    main()
