"""A source's step key is the digest of its id, type, options, rules, payloads and
definitions; its canonical JSON is put together from texts the start-up cache keeps per
configuration (issue 19: serialising 160 sources' rules cost every build about 10 ms)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from welfare_observatory import _startup_cache
from welfare_observatory.build import environment as environment_module
from welfare_observatory.build.environment import make_environment
from welfare_observatory.build.sources import _step_key, _step_value
from welfare_observatory.build.strategies.sample import population_observatory
from welfare_observatory.harmonize.rules import HarmonizeRule
from welfare_observatory.lineage import digest
from welfare_observatory.observatory import load_observatory


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "startup"
    monkeypatch.setenv(_startup_cache.ENV, str(folder))
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return population_observatory(tmp_path / "obs", "096")


def _context(env: Any, *, deferred: bool) -> Any:
    return SimpleNamespace(env=env, defer_checks=deferred)


def test_the_key_is_the_digest_of_what_it_names(folder: Path, cache: Path) -> None:
    env = make_environment(load_observatory(folder))
    assert env.config.sources
    hashes = ("sha256:" + "a" * 64, "sha256:è" + "b" * 63)
    for sid, config in env.config.sources.items():
        for deferred in (False, True):
            context = _context(env, deferred=deferred)
            for rules in (list(config.rules), [*config.rules, *config.rules], []):
                value = _step_value(sid, config, rules, hashes, "définitions", context)
                expected = "source-" + digest(value)[:16]
                assert _step_key(sid, config, rules, hashes, "définitions", context) == expected
            # A source not (or no longer) the configuration's: its value digested whole.
            other = config.model_copy(update={"options": {**config.options, "x": 1}})
            value = _step_value(sid, other, list(other.rules), hashes, "d", context)
            assert _step_key(sid, other, list(other.rules), hashes, "d", context) == (
                "source-" + digest(value)[:16]
            )


def test_another_process_takes_the_texts_from_the_cache(
    folder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_environment(load_observatory(folder))
    texts = dict(first.source_texts)
    assert list(cache.glob("source_texts-*.pickle"))

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the rules were serialised again")

    monkeypatch.setattr(HarmonizeRule, "model_dump", refused)
    second = make_environment(load_observatory(folder))
    assert second.config is not first.config
    assert dict(second.source_texts) == texts


def test_a_changed_configuration_has_texts_of_its_own(folder: Path, cache: Path) -> None:
    env = make_environment(load_observatory(folder))
    sid, config = next(iter(env.config.sources.items()))
    texts = env.source_texts[sid]
    changed = config.model_copy(update={"options": {**config.options, "sheet": "other"}})
    sources = {**env.config.sources, sid: changed}
    other = env.config.model_copy(update={"sources": sources})
    made = environment_module.source_texts(other, _canonical(other))
    assert made[sid] != texts
    assert '"sheet":"other"' in made[sid][0]


def test_a_foreign_cache_entry_is_not_trusted(
    folder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_environment(load_observatory(folder))
    expected = dict(env.source_texts)
    for foreign in ({"another_source": ("{}", "[]")}, ["not", "a", "mapping"]):
        monkeypatch.setattr(_startup_cache, "cached", lambda *a, value=foreign, **k: value)
        assert environment_module.source_texts(env.config, env.config_json) == expected


def test_without_the_cache_the_texts_are_made(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_startup_cache.ENV, "off")
    env = make_environment(load_observatory(folder))
    sid, config = next(iter(env.config.sources.items()))
    rules = [r.model_dump(mode="json", by_alias=True) for r in config.rules]
    assert env.source_texts[sid] == (_canonical(config.options), _canonical(rules))


def _canonical(value: Any) -> str:
    from welfare_observatory.lineage import canonical_json

    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return canonical_json(value)
