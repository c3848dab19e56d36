"""The top-level names: each resolves on first use to the documented object, never a module."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import welfare_observatory


def test_every_public_name_resolves_to_an_object_not_a_subpackage() -> None:
    # Import every subpackage first: a lazy name equal to a subpackage's name would be
    # shadowed by the module the import system binds on the package.
    for info in pkgutil.iter_modules(welfare_observatory.__path__, "welfare_observatory."):
        if info.ispkg:
            importlib.import_module(info.name)
    for name in welfare_observatory.__all__:
        value = getattr(welfare_observatory, name)
        assert not isinstance(value, types.ModuleType), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        welfare_observatory.NotAName  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NotAName" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = (
        "import sys, welfare_observatory; "
        "heavy = ('pandas', 'pyarrow', 'pint', 'duckdb', 'sdmx'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "package",
    [
        "welfare_observatory.protect",
        "welfare_observatory.publish",
        "welfare_observatory.publish.report",
        "welfare_observatory.territory",
        "welfare_observatory.validate",
        "welfare_observatory.executors",
        "welfare_observatory.governance",
        "welfare_observatory.scaffold",
        "welfare_observatory.derive",
    ],
)
def test_each_lazy_package_names_itself_in_errors_and_lists_its_names(package: str) -> None:
    module = importlib.import_module(package)
    assert dir(module) == sorted(module.__all__)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'nope'"):
        module.nope  # noqa: B018
    for name in module.__all__:
        assert not isinstance(getattr(module, name), types.ModuleType), f"{package}.{name}"
