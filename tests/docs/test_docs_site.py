"""The documentation site: every page is reachable from the nav, and links between pages work.

``mkdocs build --strict`` (in CI) checks the same and more (anchors, the API reference), but
it needs the ``docs`` extra; these tests need only PyYAML and run with the rest of the suite.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MKDOCS_YML = ROOT / "mkdocs.yml"

# A Markdown inline link or image target: `[text](target)` or `[text](target "title")`.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
# `::: dotted.path` lines render the API reference with mkdocstrings.
AUTODOC = re.compile(r"^:::\s+([\w.]+)\s*$", re.MULTILINE)


def load_config(path: Path) -> dict[str, Any]:
    """mkdocs.yml read with the safe loader: the site config must hold no Python tags."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(config, dict), f"{path}: not a mapping"
    return config


def nav_pages(nav: Any) -> Iterator[str]:
    """Every page path in a nav tree (strings, lists and one-key mappings), URLs excluded."""
    if isinstance(nav, str):
        if "://" not in nav:
            yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from nav_pages(value)


def docs_dir(config: dict[str, Any], root: Path) -> Path:
    return root / str(config.get("docs_dir", "docs"))


def markdown_pages(docs: Path) -> set[str]:
    """Every Markdown page under the docs folder, as a POSIX path relative to it."""
    return {page.relative_to(docs).as_posix() for page in docs.rglob("*.md")}


def not_in_nav(config: dict[str, Any]) -> set[str]:
    """Pages deliberately left out of the nav (mkdocs' `not_in_nav`, one path a line)."""
    lines = str(config.get("not_in_nav", "")).splitlines()
    return {line.strip().lstrip("/") for line in lines if line.strip()}


def missing_from_nav(config: dict[str, Any], root: Path) -> list[str]:
    """Pages under docs/ that the nav neither lists nor deliberately excludes."""
    listed = set(nav_pages(config.get("nav", [])))
    pages = markdown_pages(docs_dir(config, root))
    return sorted(pages - listed - not_in_nav(config))


def nav_targets_missing(config: dict[str, Any], root: Path) -> list[str]:
    """Nav entries whose file does not exist."""
    docs = docs_dir(config, root)
    return sorted(page for page in nav_pages(config.get("nav", [])) if not (docs / page).is_file())


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks, with inline code removed."""
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, INLINE_CODE.sub("", line)


def broken_links(docs: Path) -> list[str]:
    """Relative links from a page to a file that does not exist, as `page:line: target`."""
    broken = []
    for page in sorted(docs.rglob("*.md")):
        for number, line in prose_lines(page.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue  # a URL, mailto: or an anchor on the same page
                path = target.split("#", 1)[0].split("?", 1)[0]
                if not (page.parent / path).exists():
                    relative = page.relative_to(docs).as_posix()
                    broken.append(f"{relative}:{number}: {target}")
    return broken


def resolves(dotted: str) -> bool:
    """True when the longest importable prefix of a dotted path has the remaining attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_config(MKDOCS_YML)


def test_the_site_uses_the_material_theme_and_an_api_reference(config: dict[str, Any]) -> None:
    assert config["theme"]["name"] == "material"
    assert config.get("strict") is True
    plugins = [next(iter(p)) if isinstance(p, dict) else p for p in config["plugins"]]
    assert "mkdocstrings" in plugins


def test_every_docs_page_is_in_the_nav(config: dict[str, Any]) -> None:
    assert missing_from_nav(config, ROOT) == []


def test_every_nav_entry_is_an_existing_page(config: dict[str, Any]) -> None:
    assert nav_targets_missing(config, ROOT) == []


def test_the_nav_covers_both_quickstarts_and_the_api_reference(config: dict[str, Any]) -> None:
    listed = set(nav_pages(config["nav"]))
    assert {"quickstart.md", "quickstart.it.md", "launcher-guide.md"} <= listed
    assert any(page.startswith("reference/") for page in listed)


def test_the_home_page_links_every_other_page(config: dict[str, Any]) -> None:
    docs = docs_dir(config, ROOT)
    home = (docs / "index.md").read_text(encoding="utf-8")
    linked = {
        target.split("#", 1)[0] for _, line in prose_lines(home) for target in LINK.findall(line)
    }
    assert sorted(markdown_pages(docs) - linked - {"index.md"}) == []


def test_relative_links_between_pages_point_to_existing_files(config: dict[str, Any]) -> None:
    assert broken_links(docs_dir(config, ROOT)) == []


def test_every_api_reference_target_is_importable(config: dict[str, Any]) -> None:
    docs = docs_dir(config, ROOT)
    targets = [
        target
        for page in sorted((docs / "reference").glob("*.md"))
        for target in AUTODOC.findall(page.read_text(encoding="utf-8"))
    ]
    assert targets, "the API reference renders nothing"
    assert [target for target in targets if not resolves(target)] == []


# --- the checks above can fail -------------------------------------------------------------


def write_site(root: Path, nav: list[Any], pages: dict[str, str]) -> dict[str, Any]:
    for name, text in pages.items():
        path = root / "docs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "mkdocs.yml").write_text(yaml.safe_dump({"site_name": "t", "nav": nav}), "utf-8")
    return load_config(root / "mkdocs.yml")


def test_a_page_left_out_of_the_nav_is_reported(tmp_path: Path) -> None:
    pages = {"index.md": "# Home\n", "guide.md": "# Guide\n", "reference/api.md": "# API\n"}
    config = write_site(tmp_path, [{"Home": "index.md"}, {"API": ["reference/api.md"]}], pages)
    assert missing_from_nav(config, tmp_path) == ["guide.md"]


def test_a_page_excluded_with_not_in_nav_is_not_reported(tmp_path: Path) -> None:
    config = write_site(tmp_path, ["index.md"], {"index.md": "# Home\n", "draft.md": "# D\n"})
    config["not_in_nav"] = "/draft.md\n"
    assert missing_from_nav(config, tmp_path) == []


def test_a_nav_entry_without_a_file_is_reported(tmp_path: Path) -> None:
    config = write_site(tmp_path, ["index.md", {"Gone": "gone.md"}], {"index.md": "# Home\n"})
    assert nav_targets_missing(config, tmp_path) == ["gone.md"]


def test_a_link_to_a_missing_page_is_reported_but_code_and_urls_are_not(tmp_path: Path) -> None:
    text = (
        "# Home\n"
        "See [the guide](guide.md#setup) and [gone](missing.md).\n"
        "[site](https://example.org/x.md), [here](#home), `[code](nowhere.md)`\n"
        "```python\n"
        "print([x](also-nowhere.md))\n"
        "```\n"
        "![chart](img/chart.png)\n"
    )
    write_site(tmp_path, ["index.md"], {"index.md": text, "guide.md": "# Guide\n"})
    assert broken_links(tmp_path / "docs") == [
        "index.md:2: missing.md",
        "index.md:7: img/chart.png",
    ]


def test_a_reference_to_a_missing_name_does_not_resolve() -> None:
    assert resolves("welfare_observatory.errors.WelfareObservatoryError")
    assert not resolves("welfare_observatory.errors.NoSuchError")
    assert not resolves("no_such_package.thing")
