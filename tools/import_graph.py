"""Measure the package's import graph, counting imports inside functions.

Usage: ``python tools/import_graph.py [SRC_DIR] [--entry MODULE] [--json]``

Reports, for the runtime imports of ``welfare_observatory`` (module level and inside
functions; imports under ``if TYPE_CHECKING:`` are left out because they never run):

- the largest cycle of modules (a strongly connected component) and its size;
- the cycles between subpackages (a top-level module counts as its own subpackage);
- the modules that import the top package (``welfare_observatory/__init__``) itself;
- the walk of one observation from the build entry to the store: every module reachable
  from the entry module, and how many of those imports climb back up, i.e. go from a
  lower layer to a higher one (layers in ``LAYERS``, from the command line down to the
  model; the same order as ``docs/architecture.md``).

``tests/core/test_import_graph.py`` uses :func:`graph` and :func:`subpackage_cycles`.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterable
from pathlib import Path

TOP = "welfare_observatory"

# Layers from the top (0) down; a subpackage or top-level module not listed sits with
# the stages. An import from a lower layer (higher number) into a higher one climbs up.
LAYERS: dict[str, int] = {
    "__init__": 0,
    "cli": 0,
    "scaffold": 1,
    # The build layer; the names before the build/ package are listed so that the figures
    # of older commits are comparable.
    "executors": 3,
    "pipeline": 3,
    "source_stage": 3,
    "stages": 3,
    "analysis_stage": 3,
    "stage_reuse": 3,
    "build_report": 3,
    "observatory": 1,
    "publish": 2,
    "governance": 2,
    "build": 3,
    "store": 5,
    "protect": 5,
    "testing": 1,
    "sdk": 6,
    "sources": 6,
    "harmonize": 6,
    "validate": 6,
    "derive": 6,
    "analyze": 6,
    "catalog": 7,
    "territory": 7,
    "sdg": 7,
    # The configuration validates the rules and options of the stages (harmonize, sources),
    # so it sits above them; the stages read it only through the build.
    "config": 5,
    "yamlfile": 8,
    "units": 8,
    "lineage": 8,
    "model": 9,
    "errors": 10,
    "_lazy": 10,
    "_version": 10,
    "_hooktypes": 8,
    "_atomic": 10,
    "_files": 10,
    "_arrow": 10,
}
STAGE_LAYER = 6


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


# A top-level module that is the public face of a subpackage counts as part of it: the
# plugin SDK is the sources' (its Source, Payload and FetchContext are what sources use).
GROUPS = {"sdk": "sources"}


def subpackage(module: str) -> str:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    return GROUPS.get(name, name)


def layer(module: str) -> int:
    return LAYERS.get(subpackage(module), STAGE_LAYER)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    for sub in ast.walk(child):
                        if hasattr(sub, "lineno"):
                            lines.add(sub.lineno)
    return lines


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(
    path: Path, module: str, known: set[str], *, type_checking: bool = False
) -> set[str]:
    """The package modules ``path`` imports at run time (any depth in the file); with
    ``type_checking`` also those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set() if type_checking else _type_checking_lines(tree)
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            # ``from pkg import sub`` imports the submodule when there is one.
            targets = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
            if len(targets) < len(node.names):
                targets.append(base)  # a name defined in ``base`` itself
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith(TOP) and target != module:
                found.add(target)
    return found


def graph(src: Path, *, type_checking: bool = False) -> dict[str, set[str]]:
    root = src / TOP
    paths = {module_name(p, src): p for p in sorted(root.rglob("*.py"))}
    known = set(paths)
    return {m: imports_of(p, m, known, type_checking=type_checking) for m, p in paths.items()}


def components(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative), largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in edges:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    advanced = True
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                out.append(sorted(comp))
    return sorted(out, key=len, reverse=True)


def subpackage_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    sub: dict[str, set[str]] = {}
    for module, targets in edges.items():
        here = subpackage(module)
        sub.setdefault(here, set())
        for target in targets:
            there = subpackage(target)
            # The top package's __init__ only re-exports; importing a name from it is a
            # climb to the top, counted by ``top_importers``, not a subpackage edge.
            if there != here and there != "__init__" and here != "__init__":
                sub[here].add(there)
    return sub


def subpackage_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    return [c for c in components(subpackage_graph(edges)) if len(c) > 1]


def top_importers(edges: dict[str, set[str]]) -> list[str]:
    return sorted(m for m, targets in edges.items() if TOP in targets and m != TOP)


def walk(edges: dict[str, set[str]], entry: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Modules reachable from ``entry`` and the imports among them that climb a layer up."""
    seen = {entry}
    todo = [entry]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    climbs = [
        (a, b)
        for a in sorted(seen)
        for b in sorted(edges.get(a, ()))
        if layer(b) < layer(a) and b != TOP
    ]
    return sorted(seen), climbs


def _entry(edges: Iterable[str]) -> str:
    for name in (f"{TOP}.build.orchestrator", f"{TOP}.pipeline"):
        if name in edges:
            return name
    raise SystemExit("no build entry module found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", default=str(Path(__file__).parents[1] / "src"))
    parser.add_argument("--entry", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--type-checking", action="store_true", help="count imports for type checkers too"
    )
    args = parser.parse_args()
    edges = graph(Path(args.src), type_checking=args.type_checking)
    entry = args.entry or _entry(edges)
    comps = components(edges)
    reached, climbs = walk(edges, entry)
    figures = {
        "modules": len(edges),
        "largest_cycle": len(comps[0]) if comps and len(comps[0]) > 1 else 0,
        "largest_cycle_modules": comps[0] if comps and len(comps[0]) > 1 else [],
        "subpackage_cycles": subpackage_cycles(edges),
        "top_package_importers": top_importers(edges),
        "walk_entry": entry,
        "walk_modules": len(reached),
        "walk_climbs": len(climbs),
        "walk_climb_edges": [f"{a} -> {b}" for a, b in climbs],
    }
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    print(f"modules: {figures['modules']}")
    print(f"largest import cycle: {figures['largest_cycle']} modules")
    if args.verbose:
        for m in figures["largest_cycle_modules"]:
            print(f"  {m}")
    print(f"cycles between subpackages: {len(figures['subpackage_cycles'])}")
    for cycle in figures["subpackage_cycles"]:
        print("  " + " <-> ".join(cycle))
    print(f"modules importing the top package: {len(figures['top_package_importers'])}")
    if args.verbose:
        for m in figures["top_package_importers"]:
            print(f"  {m}")
    print(f"walk from {entry}: {figures['walk_modules']} modules, {len(climbs)} climbs up")
    if args.verbose:
        for edge in figures["walk_climb_edges"]:
            print(f"  {edge}")


if __name__ == "__main__":
    main()
