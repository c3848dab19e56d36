"""The install of docs/quickstart.md works as written: wheels, a fresh venv, offline.

The slow test builds the wheels with the documented ``python -m build`` lines, installs them
with the documented ``pip install --no-index --find-links wheelhouse`` into a fresh venv and
runs the quickstart's commands there: new, install the observatory, build offline, report.

The one step it cannot take offline is ``pip download`` of the dependencies. In its place the
fresh venv sees this venv's third-party packages through a ``.pth`` file, a read-only folder of
links that leaves out every welfare-observatory distribution; so what the fresh venv imports
of the library comes only from the wheels. Run it with ``pytest -m slow tests/install``.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QUICKSTARTS = (REPO / "docs" / "quickstart.md", REPO / "docs" / "quickstart.it.md")
PROJECTS = (
    ".",
    "plugins/eurostat-tsv",
    "plugins/italy-baseline",
    "examples/biella",
    "examples/brescia",
    "examples/trento",
)
# Ours: never linked into the fresh venv, which must get them from the wheels.
OURS = ("welfare_observatory", "osserva_", "__editable__", "_welfare_observatory")
_IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "*.egg-info", "__pycache__", "site", "kb", "wheelhouse"
)


def copy_ignore(folder: str, names: list[str]) -> set[str]:
    """Leftovers of earlier builds, but only beside a pyproject.toml: the library has a
    ``welfare_observatory/build`` package of its own, which the wheel must carry."""
    skip = set(_IGNORED(folder, names))
    if (Path(folder) / "pyproject.toml").exists():
        skip |= {"build", "dist"} & set(names)
    return skip


NETWORK = ("git+", "pip download", "pip install build")


def blocks(doc: Path, fence: str) -> list[str]:
    """The command lines of the fenced ``fence`` blocks of ``doc``, in order."""
    found = re.findall(rf"```{fence}\n(.*?)```", doc.read_text("utf-8"), flags=re.S)
    return [line for block in found for line in block.splitlines() if line.strip()]


def test_both_quickstarts_install_the_same_way_and_mention_the_report() -> None:
    english, italian = (blocks(doc, "sh") for doc in QUICKSTARTS)
    assert english == italian
    assert any(line.startswith("python -m build --wheel --outdir wheelhouse") for line in english)
    assert any(
        line.startswith("pip install --no-index --find-links wheelhouse") for line in english
    )
    for doc in QUICKSTARTS:
        text = doc.read_text("utf-8")
        assert "welfare-observatory report " in text
        # the bare registry install does not work and the guide must not offer it as the way
        assert "(`pip install\nwelfare-observatory`)" not in text
        assert "pip install welfare-observatory`)" not in text


def package_data_patterns(pyproject: Path) -> list[str]:
    config = tomllib.loads(pyproject.read_text("utf-8"))
    data: dict[str, list[str]] = config["tool"]["setuptools"].get("package-data", {})
    return [pattern for patterns in data.values() for pattern in patterns]


@pytest.mark.parametrize("project", [".", "plugins/eurostat-tsv", "plugins/italy-baseline"])
def test_every_file_of_the_packages_is_declared_for_the_wheel(project: str) -> None:
    """Fast check of what the slow test proves on the built wheels."""
    root = REPO / project
    patterns = package_data_patterns(root / "pyproject.toml")
    src = root / "src"
    for file in src.rglob("*"):
        if not file.is_file() or "__pycache__" in file.parts or ".egg-info" in str(file):
            continue
        if file.suffix == ".py":
            continue
        # setuptools reads a pattern relative to the package's folder ("catalog/*.yaml")
        inside = file.relative_to(src).parts[1:]
        relative = "/".join(inside)
        assert any(
            fnmatch.fnmatch(file.name, p) or fnmatch.fnmatch(relative, p) for p in patterns
        ), f"{file.relative_to(REPO)} is not in the wheel: add its pattern to package-data"


def mirror_of_dependencies(target: Path) -> Path:
    """Links to this venv's third-party packages, without any of ours."""
    target.mkdir()
    places = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    for place in sorted(places):
        for entry in Path(place).iterdir():
            name = entry.name
            if name.startswith(OURS) or name.endswith(".pth") or name == "__pycache__":
                continue
            if name == "pip" or name.startswith("pip-") or name == "_distutils_hack":
                continue
            link = target / name
            if not link.exists():
                link.symlink_to(entry)
    return target


def fresh_venv(folder: Path, dependencies: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "_test_dependencies.pth").write_text(f"{dependencies}\n", "utf-8")
    return folder / "bin"


def run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{shlex.join(argv)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_the_wheels_install_offline_in_a_fresh_venv_and_the_quickstart_runs(
    tmp_path: Path,
) -> None:
    pytest.importorskip("build", reason="python -m build needs the 'build' package ([test])")
    started = time.perf_counter()
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "NOTICE"):
        shutil.copy2(REPO / name, clone / name)
    for name in ("src", "plugins", "examples"):
        shutil.copytree(REPO / name, clone / name, ignore=copy_ignore)
    install = blocks(QUICKSTARTS[0], "sh")
    bin_dir = fresh_venv(tmp_path / "venv", mirror_of_dependencies(tmp_path / "deps"))
    # the documented wheel lines, plus the examples the guide says to add the same way
    builds = [line for line in install if line.startswith("python -m build ")]
    documented = {shlex.split(line)[-1] for line in builds}
    builds += [
        f"python -m build --wheel --outdir wheelhouse {p}" for p in PROJECTS if p not in documented
    ]
    for line in builds:
        words = shlex.split(line)
        # --no-isolation: the build tools of this venv, no index to fetch them from
        run([sys.executable, "-m", "build", "--no-isolation", *words[3:]], clone)
    wheelhouse = clone / "wheelhouse"
    wheels = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert len(wheels) == len(PROJECTS), wheels
    for line in install:
        if line.startswith("pip install --no-index"):
            run([str(bin_dir / "pip"), *shlex.split(line)[1:], "-q"], clone)
        else:
            assert line.startswith("python -m build") or any(n in line for n in NETWORK), line
    examples = ["osserva-biella", "osserva-brescia", "osserva-trento"]
    pip_offline = [str(bin_dir / "pip"), "install", "-q", "--no-index", "--find-links"]
    run([*pip_offline, str(wheelhouse), *examples], clone)
    # the library the fresh venv imports is the wheel's, not this checkout
    where = run(
        [str(bin_dir / "python"), "-c", "import welfare_observatory as w; print(w.__file__)"],
        tmp_path,
    )
    assert str(tmp_path / "venv") in where, where
    plugins = run([str(bin_dir / "welfare-observatory"), "plugins"], tmp_path)
    assert "eurostat" in plugins.lower()
    # package data reached the installed example (observatory.yaml, data, deep-dive)
    biella = run(
        [
            str(bin_dir / "python"),
            "-c",
            "import osserva_biella, pathlib; "
            "print(sorted(p.name for p in pathlib.Path(osserva_biella.__file__).parent.iterdir()))",
        ],
        tmp_path,
    )
    for name in ("observatory.yaml", "governance.yaml", "data", "deepdive"):
        assert name in biella

    work = tmp_path / "work"
    work.mkdir()
    for line in blocks(QUICKSTARTS[0], "bash"):
        words = shlex.split(line)
        if words[:3] == ["pip", "install", "-e"]:
            # the documented offline variant: build tools installed, no index
            argv = [str(bin_dir / "pip"), "install", "-q", "--no-index", "--find-links"]
            argv += [str(wheelhouse), "--no-build-isolation", "-e", *words[3:]]
        else:
            assert words[0] == "welfare-observatory", line
            argv = [str(bin_dir / "welfare-observatory"), *words[1:]]
        printed = run(argv, work)
        if words[:2] == ["welfare-observatory", "build"]:
            # a short summary, not the full tables (those are under --verbose)
            assert len(printed.splitlines()) <= 12, printed
            # the national baseline is installed as the guide says: a real first report
            built = re.search(r"indicators built: ([\d,]+) of ([\d,]+) selected", printed)
            assert built is not None, printed
            done, selected = (int(n.replace(",", "")) for n in built.groups())
            assert done == selected >= 100, printed
    index = work / "site" / "index.html"
    assert index.is_file()
    assert "Vercelli" in index.read_text("utf-8")
    assert zipfile.is_zipfile(wheelhouse / wheels[0])
    print(f"install quickstart: {time.perf_counter() - started:.1f} s")
