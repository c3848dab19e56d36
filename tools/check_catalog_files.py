"""Check the indicator files in ``src/welfare_observatory/catalog/data/`` without the loader.

Checks, over every ``*.yaml`` file of the folder:

* each entry validates as :class:`welfare_observatory.model.Indicator`;
* the entry's ``domain`` matches the file name (``income_poverty.yaml`` holds
  ``domain: income_poverty``), except for files listed in ``MIXED_DOMAIN_FILES``;
* ids and aliases are unique across all files;
* every unit parses with :func:`welfare_observatory.units.check_unit`;
* formula operands (numerator and denominator) are ids of the catalogue;
* SDG ids resolve in :func:`welfare_observatory.sdg.framework`;
* an entry marked ``verified: true`` names a ``url``.

Usage (from the repository root)::

    .venv/bin/python tools/check_catalog_files.py            # all files
    .venv/bin/python tools/check_catalog_files.py health labour   # only report these files

Exit status 0 when every check passes, 1 otherwise (one line per problem on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from welfare_observatory.errors import UndefinedUnitError, UnknownSdgError
from welfare_observatory.model import Indicator
from welfare_observatory.sdg import framework
from welfare_observatory.units import check_unit

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "src" / "welfare_observatory" / "catalog" / "data"

#: Files whose entries may carry a domain other than the file name.
MIXED_DOMAIN_FILES: frozenset[str] = frozenset({"demography"})


@dataclass
class Report:
    """Problems found, and what was checked."""

    problems: list[str] = field(default_factory=list)
    entries: Counter[str] = field(default_factory=Counter)
    verified: Counter[str] = field(default_factory=Counter)

    def add(self, where: str, message: str) -> None:
        """Record one problem found at ``where`` (``file:id``)."""
        self.problems.append(f"{where}: {message}")


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of one YAML file (a list of mappings); raises ValueError on another shape."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError(f"{path.name} is not a YAML list of mappings")
    return data


def check_files(paths: list[Path], report_only: set[str] | None = None) -> Report:
    """Run every check over ``paths``; problems are kept only for the ``report_only`` stems."""
    report = Report()
    entries: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        try:
            entries[path.stem] = read_entries(path)
        except (ValueError, yaml.YAMLError) as exc:
            report.add(path.name, str(exc))

    def reported(stem: str) -> bool:
        return report_only is None or stem in report_only

    owner: dict[str, str] = {}
    for stem, items in entries.items():
        for item in items:
            names = [str(item.get("id", ""))] + [str(a) for a in item.get("aliases") or []]
            for name in names:
                if name in owner and reported(stem):
                    report.add(
                        f"{stem}:{item.get('id')}", f"{name!r} already used in {owner[name]}"
                    )
                owner.setdefault(name, stem)
    known_ids = {str(item.get("id")) for items in entries.values() for item in items}

    sdg = framework()
    for stem, items in entries.items():
        if not reported(stem):
            continue
        for item in items:
            where = f"{stem}:{item.get('id')}"
            try:
                indicator = Indicator.model_validate(item)
            except ValidationError as exc:
                first = exc.errors()[0]
                report.add(where, f"invalid entry at {first['loc']}: {first['msg']}")
                continue
            report.entries[stem] += 1
            source = indicator.source
            if source.verified:
                report.verified[stem] += 1
                if not source.url:
                    report.add(where, "verified: true needs a url")
            if stem not in MIXED_DOMAIN_FILES and str(indicator.domain) != stem:
                report.add(where, f"domain {indicator.domain!s} does not match the file")
            try:
                check_unit(indicator.unit)
            except UndefinedUnitError as exc:
                report.add(where, f"unit {indicator.unit!r} does not parse: {exc}")
            if indicator.formula is not None:
                for operand in (indicator.formula.numerator, indicator.formula.denominator):
                    if operand not in known_ids:
                        report.add(where, f"formula operand {operand!r} is not a catalogue id")
            for link in indicator.sdg:
                try:
                    sdg.resolve(link.id)
                except UnknownSdgError as exc:
                    report.add(where, f"SDG id {link.id!r} does not resolve: {exc}")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: print a summary, return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="file stems to report on (default: all)")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of catalogue YAML files")
    args = parser.parse_args(argv)
    paths = sorted(args.data.glob("*.yaml"))
    if not paths:
        print(f"no YAML files in {args.data}", file=sys.stderr)
        return 1
    only = set(args.files) or None
    report = check_files(paths, only)
    for stem in sorted(report.entries):
        print(f"{stem}: {report.entries[stem]} entries, {report.verified[stem]} verified")
    print(
        f"total: {sum(report.entries.values())} entries, "
        f"{sum(report.verified.values())} verified, {len(report.problems)} problems"
    )
    for problem in report.problems:
        print(problem, file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
