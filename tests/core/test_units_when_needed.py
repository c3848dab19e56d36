"""A build's pint registry: made on first use unless a plugin defines units."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from welfare_observatory import units
from welfare_observatory.build.environment import BuildEnvironment
from welfare_observatory.errors import PluginError


class _Plugins:
    def __init__(self, lines: tuple[str, ...], *, broken: bool = False) -> None:
        self.lines = lines
        self.broken = broken
        self.made = 0

    def units(self) -> tuple[str, ...]:
        return self.lines

    def unit_registry(self) -> Any:
        self.made += 1
        if self.broken:
            raise PluginError("plugin 'x' redefines the unit 'person'")
        return units.make_registry(self.lines)


def _env(plugins: _Plugins) -> BuildEnvironment:
    return BuildEnvironment(
        config=cast(Any, None),
        folder=Path("."),
        config_file=Path("observatory.yaml"),
        plugins=cast(Any, plugins),
        indicators={},
        selection=(),
        versions={},
        unit_definitions=(),
        codelists={},
    )


def test_no_plugin_units_no_registry_until_a_conversion() -> None:
    plugins = _Plugins(())
    env = _env(plugins)
    lazy = env.units_when_needed
    assert isinstance(lazy, units.LazyRegistry)
    assert plugins.made == 0
    assert units.conversion_factor("percent", "per_thousand", lazy) == pytest.approx(10.0)
    assert plugins.made == 1
    assert env.units_when_needed is env.units  # the one registry of the build from now on
    assert plugins.made == 1


def test_plugin_units_are_checked_at_once() -> None:
    with pytest.raises(PluginError):
        _ = _env(_Plugins(("bed_place = bed",), broken=True)).units_when_needed
    plugins = _Plugins(("bed_place = bed = bed_places",))
    registry = _env(plugins).units_when_needed
    assert not isinstance(registry, units.LazyRegistry)
    assert plugins.made == 1
    assert units.conversion_factor("bed_place", "bed", registry) == pytest.approx(1.0)
