"""A source's step key is the digest of its id, type, options, rules, payloads and
definitions; its canonical JSON is put together around the rules' texts the start-up cache
keeps per configuration (issue 19: serialising 160 sources' rules cost every build about
10 ms)."""

from __future__ import annotations

import dataclasses
import math
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
            copies = [r.model_copy() for r in config.rules]  # equal, not the same objects
            for rules in (list(config.rules), copies, [*config.rules, *config.rules], []):
                value = _step_value(sid, config, rules, hashes, "définitions", context)
                expected = "source-" + digest(value)[:16]
                assert _step_key(sid, config, rules, hashes, "définitions", context) == expected
            # A source not (or no longer) the configuration's: its value digested whole.
            other = config.model_copy(update={"options": {**config.options, "x": 1}})
            value = _step_value(sid, other, list(other.rules), hashes, "d", context)
            assert _step_key(sid, other, list(other.rules), hashes, "d", context) == (
                "source-" + digest(value)[:16]
            )


def test_options_the_dump_writes_alike_give_keys_of_their_own(folder: Path, cache: Path) -> None:
    """``inf`` and ``None`` are both null in the configuration's JSON (what the rules'
    texts are cached by); the options, as written, keep them apart."""
    env = make_environment(load_observatory(folder))
    sid, config = next(iter(env.config.sources.items()))
    keys = []
    for value in (math.inf, None):
        changed = config.model_copy(update={"options": {**config.options, "x": value}})
        other = env.config.model_copy(update={"sources": {**env.config.sources, sid: changed}})
        env_other = dataclasses.replace(env, config=other)
        context = _context(env_other, deferred=False)
        rules = list(changed.rules)
        key = _step_key(sid, changed, rules, (), "d", context)
        assert key == "source-" + digest(_step_value(sid, changed, rules, (), "d", context))[:16]
        keys.append(key)
    assert keys[0] != keys[1]


def test_another_process_takes_the_texts_from_the_cache(
    folder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_environment(load_observatory(folder))
    texts = dict(first.rules_texts)
    assert list(cache.glob("rules_texts-*.pickle"))

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the rules were serialised again")

    monkeypatch.setattr(HarmonizeRule, "model_dump", refused)
    second = make_environment(load_observatory(folder))
    assert second.config is not first.config
    assert dict(second.rules_texts) == texts


def test_changed_rules_have_texts_of_their_own(folder: Path, cache: Path) -> None:
    env = make_environment(load_observatory(folder))
    sid, config = next(iter(env.config.sources.items()))
    texts = env.rules_texts[sid]
    [rule] = config.rules[:1]
    renamed = rule.model_copy(update={"name": "another name"})
    changed = config.model_copy(update={"rules": (renamed, *config.rules[1:])})
    other = env.config.model_copy(update={"sources": {**env.config.sources, sid: changed}})
    made = environment_module.rules_texts(other, _canonical(other))
    assert made[sid] != texts
    assert '"name":"another name"' in made[sid]


@pytest.mark.parametrize(
    "foreign", [{"another_source": "[]"}, ["not", "a", "mapping"], "texts", {"x": 1}]
)
def test_a_foreign_cache_entry_is_not_trusted(
    folder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, foreign: Any
) -> None:
    env = make_environment(load_observatory(folder))
    expected = dict(env.rules_texts)
    if isinstance(foreign, dict) and "x" in foreign:
        foreign = dict.fromkeys(expected, 1)  # the right sources, not texts
    monkeypatch.setattr(_startup_cache, "cached", lambda *a, **k: foreign)
    assert environment_module.rules_texts(env.config, env.config_json) == expected


def test_without_the_cache_the_texts_are_made(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_startup_cache.ENV, "off")
    env = make_environment(load_observatory(folder))
    sid, config = next(iter(env.config.sources.items()))
    rules = [r.model_dump(mode="json", by_alias=True) for r in config.rules]
    assert env.rules_texts[sid] == _canonical(rules)


def test_a_configuration_class_without_a_file_is_not_cached(
    folder: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import inspect

    env = make_environment(load_observatory(folder))
    expected = dict(env.rules_texts)
    for old in cache.glob("rules_texts-*.pickle"):
        old.unlink()

    def no_file(obj: Any) -> str:
        raise TypeError("built-in class")

    monkeypatch.setattr(inspect, "getfile", no_file)
    assert environment_module.rules_texts(env.config, env.config_json) == expected
    assert not list(cache.glob("rules_texts-*.pickle"))


def _canonical(value: Any) -> str:
    from welfare_observatory.lineage import canonical_json

    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    return canonical_json(value)
