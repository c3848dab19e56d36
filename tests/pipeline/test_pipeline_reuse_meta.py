"""A saved result's meta is parsed once while its file is unchanged (a rebuild reads the
same metas for its derive groups, analyses and partition files), and read again as soon
as it is replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from welfare_observatory._atomic import atomic_write_bytes
from welfare_observatory._seal import seal
from welfare_observatory.build import reuse


def test_a_meta_is_parsed_once_and_again_when_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "derived-k"
    folder.mkdir()
    file = folder / "meta.json"
    file.write_bytes(seal({"analyses": ["a"]}))
    first = reuse._meta(file)
    assert first == {"analyses": ["a"]}
    assert reuse._meta(file) is first
    # Replaced whole, as record_written does, even with a text of the same size.
    atomic_write_bytes(file, seal({"analyses": ["b"]}))
    assert reuse._meta(file) == {"analyses": ["b"]}
    [(found, meta)] = reuse._metas(tmp_path)
    assert (found, meta) == (folder, {"analyses": ["b"]})


def test_a_meta_written_in_place_with_another_time_is_read_again(tmp_path: Path) -> None:
    file = tmp_path / "meta.json"
    file.write_bytes(seal({"a": 1}))
    assert reuse._meta(file) == {"a": 1}
    file.write_bytes(seal({"a": 2}))
    stat = file.stat()
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert reuse._meta(file) == {"a": 2}


@pytest.mark.parametrize("text", ["[1, 2]", "not json", ""])
def test_a_meta_that_is_not_an_object_is_no_saved_result(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "derived-k"
    folder.mkdir()
    (folder / "meta.json").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError):
        reuse._meta(folder / "meta.json")
    assert list(reuse._metas(tmp_path)) == []
    assert reuse.load_grouped(tmp_path) is None


def test_saved_results_come_newest_first_each_meta_parsed_when_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every saved result with a readable meta, newest first (one that is not an object
    is left out); a caller that stops at the newest parses no other meta."""
    for age, name in enumerate(["derived-c", "derived-bad", "derived-b", "derived-a"]):
        folder = tmp_path / name
        folder.mkdir()
        text = b"[1]" if name == "derived-bad" else seal({"name": name})
        (folder / "meta.json").write_bytes(text)
        os.utime(folder, ns=(age * 1_000_000_000, age * 1_000_000_000))
    (tmp_path / "source-x.json").write_text("{}", encoding="utf-8")
    found = [(folder.name, meta) for folder, meta in reuse._metas(tmp_path)]
    assert found == [(n, {"name": n}) for n in ("derived-a", "derived-b", "derived-c")]
    parsed: list[str] = []
    real = reuse._meta

    def spy(file: Path) -> dict[str, object]:
        parsed.append(file.parent.name)
        return real(file)

    monkeypatch.setattr(reuse, "_meta", spy)
    folder, _ = next(iter(reuse._metas(tmp_path)))
    assert (folder.name, parsed) == ("derived-a", ["derived-a"])


def test_a_meta_not_as_sealed_is_no_saved_result(tmp_path: Path) -> None:
    """A meta without a seal (an earlier version's) or changed since it was sealed, though
    it still parses, is no saved result: its rows are derived again."""
    folder = tmp_path / "derived-k"
    folder.mkdir()
    sealed = seal({"analyses": ["a"]})
    for text in (b'{"analyses": ["a"]}', sealed.replace(b'["a"]', b'["b"]')):
        (folder / "meta.json").write_bytes(text)
        with pytest.raises(ValueError, match="not sealed"):
            reuse._meta(folder / "meta.json")
        assert list(reuse._metas(tmp_path)) == []
