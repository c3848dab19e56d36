"""``load_config`` checks its many paths with a helper that resolves each folder once: it
gives what :func:`safe_path` gives, path or error, for any relative path."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory.config import _Inside
from welfare_observatory.errors import ConfigError
from welfare_observatory.yamlfile import safe_path

SEGMENTS = ["data", "x.csv", "..", ".", "in_link", "out_link", "sub", "dir_link", "C:", "a b"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("paths")
    folder = root / "obs"
    (folder / "data" / "sub").mkdir(parents=True)
    (folder / "data" / "x.csv").write_text("a\n")
    (root / "outside.csv").write_text("a\n")
    (folder / "data" / "in_link").symlink_to(folder / "data" / "x.csv")
    (folder / "data" / "out_link").symlink_to(root / "outside.csv")
    (folder / "dir_link").symlink_to(root)
    return folder


def outcome(call: object) -> tuple[str, object]:
    try:
        return ("path", call())  # type: ignore[operator]
    except ConfigError as exc:
        return ("error", (exc.message, exc.hint))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=5),
    sep=st.sampled_from(["/", "\\"]),
    lead=st.sampled_from(["", "/", "./", "C:/"]),
)
def test_same_path_or_error_as_safe_path(base: Path, parts: list[str], sep: str, lead: str) -> None:
    relative = lead + sep.join(parts)
    inside = _Inside(base)
    fast = outcome(lambda: inside(relative, what="field"))
    slow = outcome(lambda: safe_path(base, relative, what="field"))
    assert fast == slow
    # asked again (the folder is remembered now): still the same
    assert outcome(lambda: inside(relative, what="field")) == slow


def test_links_and_parents_that_leave_the_folder_are_refused(base: Path) -> None:
    inside = _Inside(base)
    for relative in ("data/out_link", "dir_link/outside.csv", "../outside.csv", "/etc/passwd"):
        with pytest.raises(ConfigError):
            inside(relative, what="sources.x.options.path")
    assert inside("data/in_link", what="p") == (base / "data" / "x.csv").resolve()
    assert inside("data/sub/../x.csv", what="p") == (base / "data" / "x.csv").resolve()
