"""The fast paths of a local file's fetch (issue 19): ``FetchContext`` resolves a path by
walking its relative part below the folder's real path, resolved once per context, and
the cache makes its folders only when they are missing. Each gives what it replaces:
``Path.resolve`` with the same inside-the-folder rule, and a copy in a fresh cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory.errors import ConfigError, FetchError
from welfare_observatory.sdk import FetchContext
from welfare_observatory.sources.cache import Cache


def _tree(root: Path) -> Path:
    """An observatory folder reached through a link, with links inside, out and dangling."""
    real = root / "real"
    (real / "data" / "sub").mkdir(parents=True)
    (real / "data" / "a.csv").write_text("a\n")
    (real / "data" / "sub" / "b.csv").write_text("b\n")
    (root / "outside.csv").write_text("x\n")
    (real / "data" / "in").symlink_to(real / "data" / "sub")
    (real / "data" / "out").symlink_to(root)
    (real / "data" / "gone").symlink_to(real / "missing")
    (real / "data" / "up.csv").symlink_to(Path("..") / ".." / "outside.csv")
    base = root / "base"
    base.symlink_to(real)
    return base


def _reference(base: Path, relative: str) -> Path | None:
    """What ``FetchContext.resolve`` gave before (None: refused as outside the folder)."""
    root = base.resolve()
    target = (root / Path(relative)).resolve()
    return target if target.is_relative_to(root) else None


_PARTS = st.sampled_from(
    ["data", "sub", "in", "out", "gone", "a.csv", "b.csv", "up.csv", "..", ".", "", "nope"]
)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("paths"))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(_PARTS, max_size=6))
def test_a_path_resolves_as_path_resolve_does(base: Path, parts: list[str]) -> None:
    relative = "/".join(parts)
    context = FetchContext(cache=Cache(base / "unused"), http=None, base_dir=base)  # type: ignore[arg-type]
    expected = _reference(base, relative)
    if expected is None:
        with pytest.raises(ConfigError, match="outside the observatory folder"):
            context.resolve(relative)
    else:
        assert context.resolve(relative) == expected


def test_a_link_inside_the_folder_is_followed_and_one_out_is_refused(base: Path) -> None:
    context = FetchContext(cache=Cache(base.parent / "cache"), http=None, base_dir=base)  # type: ignore[arg-type]
    payload = context.read_file("data/in/b.csv")
    assert payload.key == "file:data/sub/b.csv"
    assert payload.read_bytes() == b"b\n"
    for escape in ("data/up.csv", "data/out/outside.csv", "../outside.csv"):
        with pytest.raises(ConfigError, match="outside the observatory folder"):
            context.read_file(escape)
    with pytest.raises(FetchError, match="does not exist"):
        context.read_file("data/gone")
    with pytest.raises(FetchError, match="'data' does not exist"):
        context.read_file("data")  # a folder is no file


def test_the_real_folder_is_resolved_once_per_context_and_again_for_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _tree(tmp_path)
    other = tmp_path / "other"
    (other / "data").mkdir(parents=True)
    (other / "data" / "a.csv").write_text("other\n")
    calls: list[str] = []
    realpath = os.path.realpath

    def counted(path: os.PathLike[str] | str) -> str:
        calls.append(os.fspath(path))
        return realpath(path)

    monkeypatch.setattr(os.path, "realpath", counted)
    context = FetchContext(cache=Cache(tmp_path / "cache"), http=None, base_dir=base)  # type: ignore[arg-type]
    first = context.for_source("one")
    second = first.for_source("two")
    assert first.read_file("data/a.csv").read_bytes() == b"a\n"
    assert second.read_file("data/a.csv").read_bytes() == b"a\n"
    assert calls == [os.fspath(base)]
    moved = FetchContext(
        cache=Cache(tmp_path / "cache"),
        http=None,  # type: ignore[arg-type]
        base_dir=other,
        _base_cache=context._base_cache,
    )
    assert moved.read_file("data/a.csv").read_bytes() == b"other\n"
    assert calls == [os.fspath(base), os.fspath(other)]


def test_a_cache_whose_folders_went_away_makes_them_again(tmp_path: Path) -> None:
    files = []
    for n in range(3):
        file = tmp_path / f"f{n}.csv"
        file.write_bytes(b"x,y\n" + str(n).encode())
        files.append(file)
    cache = Cache(tmp_path / "cache")
    first = cache.put_file("s", "file:f0.csv", files[0], trust_stamps=False)
    shutil.rmtree(tmp_path / "cache" / "objects")
    assert not first.path.exists()
    second = cache.put_file("s", "file:f1.csv", files[1], trust_stamps=False)
    assert second.read_bytes() == files[1].read_bytes()
    shutil.rmtree(tmp_path / "cache")
    third = cache.put_file("s", "file:f2.csv", files[2], trust_stamps=False)
    assert third.read_bytes() == files[2].read_bytes()
    assert third.path == tmp_path / "cache" / "objects" / third.sha256[:2] / third.sha256
    assert cache.lookup("s", "file:f2.csv") == third
    assert list((tmp_path / "cache" / "objects" / "staging").iterdir()) == []


_READ_ONE = """
import mimetypes, sys
from pathlib import Path
from welfare_observatory.sdk import FetchContext

folder = Path(sys.argv[1])
ctx = FetchContext.create(folder / "cache", source="s", base_dir=folder / "obs", offline=True)
print(" ".join(ctx.read_file(name).media_type for name in sys.argv[2:]), mimetypes.inited)
"""


def test_the_files_observatories_read_have_their_media_type_without_the_system_tables(
    tmp_path: Path,
) -> None:
    """A fresh process reads a CSV and a workbook: their media types are the library's own
    (the same on every machine), and the system's type tables were never loaded."""
    import subprocess
    import sys

    (tmp_path / "obs").mkdir()
    for name in ("a.csv", "b.XLSX"):
        (tmp_path / "obs" / name).write_bytes(b"x\n")
    out = subprocess.run(
        [sys.executable, "-c", _READ_ONE, str(tmp_path), "a.csv", "b.XLSX"],
        capture_output=True,
        text=True,
        check=True,
    )
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert out.stdout.split() == ["text/csv", xlsx, "False"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data.tsv", "text/tab-separated-values"),
        ("Data.JSON", "application/json"),
        ("export.tsv.gz", "text/tab-separated-values"),  # what it holds, as mimetypes says
        ("page.html", "text/html"),
        (".csv", None),  # a hidden file without a suffix, as mimetypes has it
        ("README", None),
    ],
)
def test_a_media_type_is_the_librarys_else_what_mimetypes_guesses(
    name: str, expected: str | None
) -> None:
    from welfare_observatory.sdk import _media_type_of

    assert _media_type_of(name) == expected
