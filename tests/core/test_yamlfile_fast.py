"""Configuration YAML on libyaml gives what the pure-Python loader gives, errors included."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_observatory import yamlfile
from welfare_observatory.errors import ConfigError

TEXT_LOADER, FAST_LOADER = yamlfile._loaders()
pytestmark = pytest.mark.skipif(FAST_LOADER is None, reason="PyYAML without libyaml")

TEXT = """\
id: demo
territory: {code: "017", comparisons: [03, IT]}
flags: [yes, NO, on, ~, null, '']
sources:
  a:
    type: table
    options: {path: data/a.csv, sheet: 1}
    rules:
      - indicator: {value: X}
        value: {column: Value, decimal: ","}
"""


def _both(text: str) -> tuple[yamlfile.YamlDocument, yamlfile.YamlDocument]:
    fast = yamlfile._parse(text, None, None, FAST_LOADER)
    slow = yamlfile._parse(text, None, None, TEXT_LOADER)
    return fast, slow


def test_same_data_and_lines() -> None:
    fast, slow = _both(TEXT)
    assert fast.data == slow.data
    assert fast.lines == slow.lines
    assert fast.data["territory"]["comparisons"] == ["03", "IT"]  # text, never octal
    assert fast.data["flags"] == ["yes", "NO", "on", None, None, ""]


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_same_result_for_any_dumped_value(value: object) -> None:
    import yaml

    text = yaml.safe_dump({"root": value}, allow_unicode=True)
    fast, slow = _both(text)
    assert fast.data == slow.data
    assert fast.lines == slow.lines


@pytest.mark.parametrize(
    "text",
    [
        "a: [1, 2\nb: 3\n",  # syntax
        "a: &x [1]\nb: *x\n",  # alias
        "a: 1\na: 2\n",  # duplicate key
        "a:\n\tb: 1\n",  # tab
    ],
)
def test_errors_are_the_pure_python_ones(text: str) -> None:
    with pytest.raises(ConfigError) as fast:
        yamlfile.parse_yaml(text, path=Path("observatory.yaml"))
    with pytest.raises(ConfigError) as slow:
        yamlfile._parse(text, Path("observatory.yaml"), "observatory.yaml", TEXT_LOADER)
    assert str(fast.value) == str(slow.value)
    assert fast.value.location == slow.value.location
