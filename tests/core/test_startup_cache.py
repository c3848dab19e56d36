"""The start-up cache (_startup_cache): what it restores equals what the data gives."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from welfare_observatory import _startup_cache, yamlfile
from welfare_observatory.catalog import Catalog, _load, _yaml
from welfare_observatory.catalog._load import shipped_layer
from welfare_observatory.catalog._yaml import read_yaml
from welfare_observatory.harmonize import CodeTable
from welfare_observatory.territory import TerritoryRegistry, _store


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "startup"
    monkeypatch.setenv(_startup_cache.ENV, str(folder))
    return folder


def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> TerritoryRegistry:
    with monkeypatch.context() as m:
        m.setenv(_startup_cache.ENV, "off")
        return TerritoryRegistry.load()


def _registry_state(reg: TerritoryRegistry) -> dict[str, Any]:
    return {name: getattr(reg, name) for name in TerritoryRegistry._STATE}


def test_registry_from_the_cache_equals_the_one_from_the_data(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = _fresh_registry(monkeypatch)
    assert not cache.exists()  # "off" writes nothing
    first = TerritoryRegistry.load()  # builds and stores
    assert [p.name.split("-")[0] for p in cache.glob("*.pickle")] == ["territories"]
    cached = TerritoryRegistry.load()  # restores
    for reg in (first, cached):
        state = _registry_state(reg)
        for name, value in _registry_state(fresh).items():
            assert state[name] == value, name
        assert list(reg._by_code) == list(fresh._by_code)
    # the look-ups answer alike, including the history read lazily from the data
    for text in ("Biella", "ITC13", "A859", "Samone (TN)", "096004"):
        try:
            expected = fresh.find(text).code
        except Exception as exc:
            with pytest.raises(type(exc)):
                cached.find(text)
            continue
        assert cached.find(text).code == expected
    for code in list(fresh._by_code)[::1500]:
        assert cached.successors(code) == fresh.successors(code)
    assert cached.hierarchy().equals(fresh.hierarchy())


def test_code_table_from_the_cache_equals_the_one_from_the_registry(cache: Path) -> None:
    reg = TerritoryRegistry.load()
    expected = CodeTable._from_registry(reg)
    CodeTable.from_registry(reg)  # builds and stores
    cached = CodeTable.from_registry(reg)
    assert list(cached.territories) == list(expected.territories)
    for name in ("territories", "valid_to", "_belfiore", "_nuts", "_names", "_abbreviations"):
        assert getattr(cached, name) == getattr(expected, name), name
    assert cached.normalize is expected.normalize
    for value in ("Biella", "biella", "ITC13", "ITD20", "96004", "A859", "Sant'Angelo"):
        assert cached.resolve(value) == expected.resolve(value)


def test_a_cached_code_table_unpickles_its_name_look_ups_when_first_used(cache: Path) -> None:
    reg = TerritoryRegistry.load()
    expected = CodeTable._from_registry(reg)
    CodeTable.from_registry(reg)  # builds and stores
    cached = CodeTable.from_registry(reg)
    assert all(isinstance(cached._lazy[name], bytes) for name in CodeTable._LAZY)
    # codes (Istat, NUTS) resolve without them: most sources never pay for the names
    for value in ("096004", "ITC13", "IT", "003"):
        assert cached.resolve(value) == expected.resolve(value)
    assert all(isinstance(cached._lazy[name], bytes) for name in CodeTable._LAZY)
    assert cached.resolve("Biella") == expected.resolve("Biella")
    assert cached.resolve("A859") == expected.resolve("A859")
    assert cached._names == expected._names and cached._belfiore == expected._belfiore
    assert not any(isinstance(cached._lazy[name], bytes) for name in CodeTable._LAZY)


@pytest.mark.parametrize("damaged", [b"not a pickle", pickle.dumps(["096004"])])
def test_damaged_name_look_ups_are_made_again_when_first_used(cache: Path, damaged: bytes) -> None:
    reg = TerritoryRegistry.load()
    expected = CodeTable._from_registry(reg)
    CodeTable.from_registry(reg)  # builds and stores
    cached = CodeTable.from_registry(reg)
    for name in CodeTable._LAZY:
        cached._lazy[name] = damaged  # as a flipped byte in the entry would leave them
    assert cached.resolve("Biella") == expected.resolve("Biella")
    assert cached.resolve("A859") == expected.resolve("A859")
    assert cached._names == expected._names and cached._belfiore == expected._belfiore


def test_a_code_table_entry_with_unpickled_look_ups_is_not_trusted(cache: Path) -> None:
    reg = TerritoryRegistry.load()
    state = CodeTable._from_registry(reg)._indexes()
    with pytest.raises(ValueError, match="another shape"):
        CodeTable._restore(reg, {**state, "_names": {"biella": ["096004"]}})


def test_changed_data_gets_its_own_entry(cache: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    other = tmp_path / "data"
    shutil.copytree(_store.DATA_DIR, other)
    shipped = TerritoryRegistry.load()
    # same bytes, same key: the entry serves both folders
    assert TerritoryRegistry.load(other).cache_key == shipped.cache_key
    assert len(list(cache.glob("territories-*.pickle"))) == 1
    aliases = pq.read_table(other / "aliases.parquet")
    pq.write_table(aliases.slice(1), other / "aliases.parquet")
    _store.read.cache_clear()  # the Parquet reader memoises per folder and name
    changed = TerritoryRegistry.load(other)
    assert changed.cache_key != shipped.cache_key
    assert len(changed._legacy) == len(shipped._legacy) - 1
    assert len(list(cache.glob("territories-*.pickle"))) == 2
    assert len(TerritoryRegistry.load(other)._legacy) == len(shipped._legacy) - 1


def test_a_damaged_entry_is_rebuilt_from_the_data(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = _fresh_registry(monkeypatch)
    TerritoryRegistry.load()
    (entry,) = cache.glob("territories-*.pickle")
    for damage in (entry.read_bytes()[:-1000], entry.read_bytes()[:60], b"", b"\x80garbage"):
        entry.write_bytes(damage)
        reg = TerritoryRegistry.load()
        assert _registry_state(reg) == _registry_state(fresh)
        assert entry.read_bytes() != damage  # written again, whole
    entry.write_bytes(b"not a cache entry at all")
    expected = CodeTable._from_registry(fresh).resolve("Biella")
    assert CodeTable.from_registry(TerritoryRegistry.load()).resolve("Biella") == expected


def test_an_entry_of_another_shape_is_not_trusted(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = TerritoryRegistry.load()
    assert reg.cache_key is not None
    _startup_cache._write(
        cache / f"territories-{reg.cache_key[:20]}.pickle", reg.cache_key, {"x": 1}, 4
    )
    again = TerritoryRegistry.load()
    assert len(again) == len(reg)


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
@pytest.mark.parametrize(
    ("what", "mode"),
    [("entry", 0o666), ("entry", 0o620), ("folder", 0o777), ("folder", 0o770)],
)
def test_an_entry_others_can_write_is_never_unpickled(cache: Path, what: str, mode: int) -> None:
    def from_data() -> str:
        return "from the data"

    assert _startup_cache.cached("thing", "1" * 64, build=from_data) == "from the data"
    (entry,) = cache.glob("thing-*.pickle")
    assert cache.stat().st_mode & 0o777 == 0o700
    planted = _startup_cache._MAGIC + b"1" * 64 + b"\n" + pickle.dumps("planted")
    entry.write_bytes(planted)
    assert _startup_cache.cached("thing", "1" * 64, build=from_data) == "planted"
    entry.write_bytes(planted)
    (entry if what == "entry" else cache).chmod(mode)
    assert _startup_cache.cached("thing", "1" * 64, build=from_data) == "from the data"


def test_an_unwritable_cache_folder_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(_startup_cache.ENV, str(blocker / "startup"))
    assert len(TerritoryRegistry.load()) > 10_000
    assert len(Catalog.load()) > 100


def test_cached_catalogue_documents_keep_their_lines(cache: Path) -> None:
    files = shipped_layer()
    Catalog.load()  # builds and stores
    assert list(cache.glob("catalog-*.pickle"))
    code = [Path(_yaml.__file__), Path(yamlfile.__file__)]
    key = _startup_cache.inputs_digest([*files, *code], *(str(p) for p in files))
    documents = _startup_cache.cached("catalog", key, build=lambda: pytest.fail("not cached"))
    for path in files[:3]:
        expected = read_yaml(path)
        got = documents[str(path)]
        assert got == expected
        if hasattr(expected, "lines"):
            assert got.lines == expected.lines


def test_catalogue_from_the_cache_equals_the_one_from_the_files(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.setenv(_startup_cache.ENV, "off")
        fresh = Catalog.load()
    Catalog.load()
    cached = Catalog.load()
    assert [i.id for i in cached] == [i.id for i in fresh]
    assert all(cached.get(i.id) == i for i in fresh)
    assert cached._origin == fresh._origin
    assert {p.id: p for p in cached.profiles()} == {p.id: p for p in fresh.profiles()}


def test_a_broken_large_layer_is_reported_by_the_slow_path(cache: Path, tmp_path: Path) -> None:
    from welfare_observatory.catalog import CatalogValidationError

    big = tmp_path / "big.yaml"
    entries = (shipped_layer()[0]).read_text(encoding="utf-8")
    big.write_text(entries + "\n- id: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogValidationError) as caught:
        Catalog.load(big)
    errors = getattr(caught.value, "errors", (caught.value,))
    assert any(e.location and str(e.location.file).endswith("big.yaml") for e in errors)
    assert len(list(cache.glob("catalog-*.pickle"))) == 1  # the shipped layer's only


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_startup_cache.ENV, "off")
    assert _startup_cache.cache_dir() is None
    monkeypatch.delenv(_startup_cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _startup_cache.cache_dir() == tmp_path / "welfare-observatory" / "startup"


def test_only_the_newest_entries_of_a_name_stay(cache: Path) -> None:
    for n in range(7):
        assert _startup_cache.cached("thing", str(n) * 64, build=lambda n=n: n, keep=3) == n
    assert len(list(cache.glob("thing-*.pickle"))) == 3
    assert _startup_cache.cached("thing", "6" * 64, build=lambda: -1) == 6


def test_history_from_the_cache_equals_the_one_from_the_data(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = _fresh_registry(monkeypatch).history
    assert TerritoryRegistry.load().history.events == fresh.events  # builds and stores
    assert list(cache.glob("territory_history-*.pickle"))
    cached = TerritoryRegistry.load().history
    assert cached.events == fresh.events
    assert cached._from == fresh._from
    assert cached._to == fresh._to
    assert cached._spans == fresh._spans


def test_remembered_resolutions_equal_fresh_ones(cache: Path) -> None:
    from welfare_observatory.model.territory import TerritoryLevel

    reg = TerritoryRegistry.load()
    table = CodeTable.from_registry(reg)
    reference = CodeTable._from_registry(reg)
    values = ["Biella", "biella", "Samone", "Nowhere", "96004", "ITC13", "A859", " 017 "]
    cases: list[dict[str, Any]] = [
        {},
        {"scheme": "name"},
        {"level": TerritoryLevel.PROVINCE},
        {"province": "096"},
        {"scheme": "istat", "level": TerritoryLevel.MUNICIPALITY},
    ]
    for _ in range(2):  # the second round answers from memory
        for value in values:
            for options in cases:
                assert table.resolve(value, **options) == reference.resolve(value, **options)
    # a mapping is the caller's own: never remembered
    mapping = {(table.normalize("Nowhere"), None): "096004"}
    assert table.resolve("Nowhere", mapping=mapping).code == "096004"
    assert table.resolve("Nowhere").code is None


def test_no_home_folder_means_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv(_startup_cache.ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert _startup_cache.cache_dir() is None
    assert _startup_cache.cached("thing", "k" * 64, build=lambda: 7) == 7


def _large_config(folder: Path, sources: int = 400, *, value: str = "x") -> Path:
    """An observatory.yaml of ``sources`` table sources: past the cached size."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "id: big",
        "name: Big",
        "edition: '2024'",
        "territory: {code: '017'}",
        "sources:",
    ]
    for i in range(sources):
        lines += [
            f"  s{i:03d}:",
            "    type: table",
            "    options:",
            f"      file: data/s{i:03d}-{value}.csv",
            f"      indicator: IND_{i:03d}",
        ]
    path = folder / "observatory.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_large_configuration_parse_from_the_cache_equals_the_fresh_one(
    cache: Path, tmp_path: Path
) -> None:
    from welfare_observatory import config as config_module

    path = _large_config(tmp_path / "obs")
    assert path.stat().st_size >= config_module.CACHED_CONFIG_BYTES
    fresh = yamlfile.load_yaml(path)
    first = config_module._parsed(path)  # parses and stores
    assert [p.name.split("-")[0] for p in cache.glob("*.pickle")] == ["config"]
    again = config_module._parsed(path)  # restores
    for document in (first, again):
        assert document.data == fresh.data
        assert document.lines == fresh.lines
        assert document.path == fresh.path
    assert again.line_of(("sources", "s150", "options", "file")) == fresh.line_of(
        ("sources", "s150", "options", "file")
    )
    # an edited file is parsed again, never answered with the old entry
    _large_config(tmp_path / "obs", value="y")
    edited = config_module._parsed(path)
    assert edited.data["sources"]["s000"]["options"]["file"] == "data/s000-y.csv"


def test_a_large_configuration_that_does_not_parse_is_reported_and_not_cached(
    cache: Path, tmp_path: Path
) -> None:
    from welfare_observatory import config as config_module
    from welfare_observatory.errors import ConfigError

    path = _large_config(tmp_path / "obs")
    path.write_text(path.read_text() + "  s000:\n    type: table\n")  # a duplicate key
    for _ in range(2):
        with pytest.raises(ConfigError) as caught:
            config_module._parsed(path)
        assert caught.value.location is not None and caught.value.location.line is not None
    assert list(cache.glob("config-*.pickle")) == []


def test_a_small_configuration_is_not_cached(cache: Path, tmp_path: Path) -> None:
    from welfare_observatory import config as config_module

    path = _large_config(tmp_path / "obs", sources=3)
    assert config_module._parsed(path).data["id"] == "big"
    assert not cache.exists() or list(cache.glob("config-*.pickle")) == []


def test_the_installed_distribution_of_a_module_is_named_with_its_version() -> None:
    import yaml

    assert _startup_cache.distribution("yaml", "PyYAML") == f"pyyaml-{yaml.__version__}.dist-info"
    assert _startup_cache.distribution("no_such_module_here", "nothing") == "nothing: absent"


def test_territories_restored_from_their_field_values_are_the_same_models(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from welfare_observatory.territory import _registry

    fresh = _fresh_registry(monkeypatch)
    TerritoryRegistry.load()  # builds and stores
    cached = TerritoryRegistry.load()  # restores from the field values
    assert list(cached._by_code) == list(fresh._by_code)
    for code, territory in fresh._by_code.items():
        again = cached._by_code[code]
        assert type(again) is type(territory)
        assert again == territory
        assert again.__pydantic_fields_set__ == territory.__pydantic_fields_set__
        assert again.model_dump() == territory.model_dump()
    biella = cached.get("096004")
    assert biella.model_copy(update={"name": "x"}).name == "x"
    with pytest.raises(Exception, match="frozen"):
        biella.name = "x"  # type: ignore[misc]
    # pickled as it is when a territory carries anything else, and read back alike
    odd = dict(fresh._by_code)
    first = next(iter(odd))
    odd[first] = type(odd[first]).model_construct({"code"}, **odd[first].model_dump())
    dumped = _registry._dump_territories(odd)
    assert dumped is odd
    assert _registry._load_territories(dumped) is odd
    with pytest.raises(ValueError, match="another shape"):
        _registry._load_territories(("something", set(), []))


def test_what_comes_from_the_cache_needs_no_yaml_parser(cache: Path, tmp_path: Path) -> None:
    # PyYAML is imported on the first parse: a process whose configuration and catalogue
    # come from the cache never imports it (a tenth of a build's own start-up work); a file
    # parsed afterwards still reports its errors with their lines.
    import subprocess
    import sys
    import textwrap

    from welfare_observatory.errors import ConfigError

    path = _large_config(tmp_path / "obs")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nsources:\n  a: [1, 2\n")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from welfare_observatory import config
        from welfare_observatory.catalog import Catalog
        from welfare_observatory.errors import ConfigError
        from welfare_observatory.yamlfile import load_yaml
        document = config._parsed(Path({str(path)!r}))
        catalog = Catalog.load()
        print(len(document.data["sources"]), len(list(catalog)) > 0, "yaml" in sys.modules)
        try:
            load_yaml(Path({str(broken)!r}))
        except ConfigError as exc:
            print(exc.location.line)
        """
    )
    env = {**os.environ, _startup_cache.ENV: str(cache)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (run.stdout.split() for run in runs)
    assert first[:3] == ["400", "True", "True"]  # parsed, then stored
    assert second[:3] == ["400", "True", "False"]  # restored: no parser imported
    with pytest.raises(ConfigError) as caught:
        yamlfile.load_yaml(broken)
    assert caught.value.location is not None and caught.value.location.line is not None
    assert first[3] == second[3] == str(caught.value.location.line)


def test_the_cached_catalogue_holds_each_repeated_part_once(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal texts, provenances and strings that many entries repeat are one object in the
    entry (fewer objects to unpickle), and every entry still equals the one from the files."""
    with monkeypatch.context() as m:
        m.setenv(_startup_cache.ENV, "off")
        fresh = Catalog.load()
    Catalog.load()
    cached = Catalog.load()

    def parts(catalog: Catalog) -> tuple[int, int]:
        sources = [i.source for i in catalog]
        return len({id(s) for s in sources}), len({s.model_dump_json() for s in sources})

    assert parts(fresh)[0] == len(fresh)  # one provenance object per entry, as read
    objects, distinct = parts(cached)
    assert objects == distinct < len(cached)
    for indicator in fresh:
        got = cached.get(indicator.id)
        assert got == indicator
        assert got.model_dump(mode="json") == indicator.model_dump(mode="json")
        assert cached.origin(indicator.id) == fresh.origin(indicator.id)
    assert dict(cached.definition_texts()) == {i.id: _load.definition_text(i) for i in fresh}
    shared = cached.get(fresh.ids[0]).source
    with pytest.raises(ValidationError):
        shared.publisher = "changed"  # type: ignore[misc]


def test_only_immutable_models_are_shared() -> None:
    import copy

    from pydantic import BaseModel, ConfigDict, PrivateAttr

    from welfare_observatory.model.common import Text

    class Open(BaseModel):
        model_config = ConfigDict(frozen=True)
        values: dict[str, int]

    class Unfrozen(BaseModel):
        name: str

    class Extra(BaseModel):
        model_config = ConfigDict(frozen=True, extra="allow")
        name: str

    class Private(BaseModel):
        model_config = ConfigDict(frozen=True)
        name: str
        _seen: list[str] = PrivateAttr(default_factory=list)

    class Holder(BaseModel):
        model_config = ConfigDict(frozen=True)
        label: Text
        open: Open
        unfrozen: Unfrozen
        extra: Extra
        private: Private

    def holder() -> Holder:
        return Holder(
            label=Text(it="uno", en="one"),
            open=Open(values={"x": 1}),
            unfrozen=Unfrozen(name="n"),
            extra=Extra(name="n", more="m"),  # type: ignore[call-arg]
            private=Private(name="n"),
        )

    originals = {"a": holder(), "b": holder()}
    out = _load._shared(copy.deepcopy(originals))  # type: ignore[arg-type]
    assert out == originals  # equal to what was given, whatever is shared
    assert out["a"].label is out["b"].label  # frozen, of strings: one object
    for name in ("open", "unfrozen", "extra", "private"):  # each may change: its own
        assert getattr(out["a"], name) is not getattr(out["b"], name)
    assert out["a"] is not out["b"]  # holds such models


def test_places_are_kept_compact_and_made_when_asked_for() -> None:
    from welfare_observatory.errors import Location

    plain = Location(file="a.yaml", line=3)
    detailed = Location(file="a.yaml", line=4, field="unit")
    origins = _load.Origins.of({"A": plain, "B": detailed, "C": Location()})
    assert dict(origins) == {"A": plain, "B": detailed, "C": Location()}
    assert origins["B"] is detailed  # more than a file and a line: kept whole
    assert len(origins) == 3 and list(origins) == ["A", "B", "C"]
    with pytest.raises(KeyError):
        origins["D"]
    assert pickle.loads(pickle.dumps(origins)) == origins
