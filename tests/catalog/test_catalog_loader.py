"""Loading catalogue files: good files load; each kind of bad file names file, line and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from welfare_observatory.catalog import Catalog, CatalogValidationError, DeprecatedIndicatorWarning
from welfare_observatory.errors import CatalogError, UnknownIndicatorError

Write = Callable[[str, str], Path]


def entry(ident: str, unit: str = "person") -> str:
    """A valid nine-line entry; ``unit`` is on its line 3."""
    return (
        f"- id: {ident}\n"
        f"  label: {{it: Voce {ident}}}\n"
        f"  unit: {unit}\n"
        "  polarity: neutral\n"
        "  domain: health\n"
        "  measure: stock\n"
        "  reference_point: dec_31\n"
        "  aggregation: sum\n"
        '  source: {publisher: Istat, url: "https://example.org/x", verified: true}\n'
    )


def _only_error(exc: pytest.ExceptionInfo[CatalogError]) -> CatalogError:
    error = exc.value
    if isinstance(error, CatalogValidationError):
        assert len(error.errors) == 1, [str(e) for e in error.errors]
        return error.errors[0]
    return error


def test_good_file_loads_with_aliases_and_formula(base: Path) -> None:
    cat = Catalog.load(base, shipped=False)
    assert len(cat) == 3
    assert "POP_OVER_64" in cat
    assert cat.get("POP_OVER_64").id == "POP_65_PLUS"
    assert cat.get("share_65_plus").id == "SHARE_65_PLUS"
    assert [i.id for i in cat] == sorted(i.id for i in cat)
    assert cat.origin("POP_TOTAL").line == 1  # type: ignore[union-attr]


def test_unknown_id_suggests_close_ids(base: Path) -> None:
    cat = Catalog.load(base, shipped=False)
    with pytest.raises(UnknownIndicatorError) as exc:
        cat.get("POP_TOTL")
    assert "POP_TOTAL" in exc.value.suggestions
    assert isinstance(exc.value, LookupError)


def test_yaml_syntax_error_names_file_and_line(write: Write) -> None:
    path = write("broken.yaml", "- id: A\n  label: {it: x\n  unit: person\n")
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert error.location.file == str(path)
    assert error.location.line in (2, 3, 4)
    assert "syntax" in error.message


def test_unknown_key_names_line_and_field(base: Path, write: Write) -> None:
    text = base.read_text() + "  colour: blue\n"
    path = write("extra.yaml", text)
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert error.location.field == "colour"
    assert error.location.line == text.count("\n")
    assert "unknown key" in error.message


def test_missing_nested_field_points_inside_the_entry(write: Write) -> None:
    path = write(
        "nested.yaml",
        """\
        - id: A
          label: {it: x}
          unit: person
          polarity: neutral
          domain: health
          measure: stock
          reference_point: jan_1
          aggregation: sum
          source:
            publisher: Istat
            verified: true
        """,
    )
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert error.location.field == "source"
    assert error.location.line == 9
    assert "url or a document" in error.message


def test_bad_unit_names_the_unit_field(base: Path, write: Write) -> None:
    path = write("unit.yaml", entry("BAD_UNIT", unit="persns"))
    with pytest.raises(CatalogError) as exc:
        Catalog.load(base, path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert (error.location.file, error.location.line, error.location.field) == (
        str(path),
        3,
        "unit",
    )
    assert "persns" in error.message


def test_duplicate_id_in_one_layer(write: Write) -> None:
    folder = write("layer/a.yaml", entry("SAME")).parent
    second = write("layer/b.yaml", entry("OTHER") + entry("SAME"))
    with pytest.raises(CatalogError) as exc:
        Catalog.load(folder, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert (error.location.file, error.location.field) == (str(second), "id")
    assert error.location.line == 10
    assert "duplicate id 'SAME'" in error.message


def test_duplicate_key_in_one_entry(write: Write) -> None:
    path = write("dupkey.yaml", entry("A") + "  unit: household\n")
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert (error.location.line, error.location.field) == (10, "unit")


def test_alias_clashing_with_an_id(base: Path, write: Write) -> None:
    path = write(
        "alias.yaml", entry("NEW_ONE").replace("  label:", "  aliases: [POP_TOTAL]\n  label:")
    )
    with pytest.raises(CatalogError) as exc:
        Catalog.load(base, path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert (error.location.line, error.location.field) == (2, "aliases.0")


def test_later_layer_replaces_an_id(base: Path, write: Write) -> None:
    path = write("own.yaml", entry("POP_TOTAL"))
    cat = Catalog.load(base, path, shipped=False)
    assert cat.overridden == ("POP_TOTAL",)
    assert cat.get("POP_TOTAL").domain.value == "health"


def test_unknown_formula_operand(base: Path, write: Write) -> None:
    text = base.read_text().replace("denominator: POP_TOTAL", "denominator: POP_TOTL")
    path = write("formula.yaml", text)
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert error.location.field == "formula.denominator"
    assert (
        error.location.line
        == text.splitlines().index(
            "  formula: {numerator: POP_65_PLUS, denominator: POP_TOTL, multiplier: 100}"
        )
        + 1
    )
    assert error.hint is not None and "POP_TOTAL" in error.hint


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("multiplier: 100", "multiplier: 1000", "multiplier"),
        ("unit: percent", "unit: euro", "cannot be expressed"),
    ],
)
def test_formula_units_must_make_sense(
    base: Path, write: Write, old: str, new: str, words: str
) -> None:
    path = write("units.yaml", base.read_text().replace(old, new))
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None and error.location.field == "formula"
    assert words in error.message


def test_rate_of_euro_over_persons_in_percent_is_refused(base: Path, write: Write) -> None:
    money = write("money.yaml", entry("SPENDING", unit="euro"))
    text = base.read_text().replace("numerator: POP_65_PLUS", "numerator: SPENDING")
    path = write("rate.yaml", text)
    with pytest.raises(CatalogError) as exc:
        Catalog.load(money, path, shipped=False)
    assert "needs two counts" in _only_error(exc).message


def test_unknown_sdg_id_names_the_link(base: Path, write: Write) -> None:
    pytest.importorskip("welfare_observatory.sdg")
    text = base.read_text().replace('id: "10.2"', 'id: "10.99"')
    path = write("sdg.yaml", text)
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert error.location.field == "sdg.0.id"
    assert error.location.line == text.count("\n")
    assert "10.99" in error.message


def test_malformed_sdg_id_is_refused_by_shape(base: Path, write: Write) -> None:
    path = write("sdgshape.yaml", base.read_text().replace('id: "10.2"', 'id: "goal ten"'))
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    assert _only_error(exc).location.field == "sdg.0.id"  # type: ignore[union-attr]


def test_profile_with_unverified_entry(base: Path, write: Write) -> None:
    profile = write(
        "profiles/p.yaml",
        """\
        id: tiny
        label: {it: Piccolo, en: Tiny}
        indicators:
          - POP_TOTAL
          - SHARE_65_PLUS
        """,
    )
    with pytest.raises(CatalogError) as exc:
        Catalog.load(base, profile, shipped=False)
    error = _only_error(exc)
    assert error.location is not None
    assert (error.location.file, error.location.line, error.location.field) == (
        str(profile),
        5,
        "indicators.1",
    )
    assert "not verified" in error.message


def test_profile_with_unknown_id_fails_and_former_id_warns(base: Path, write: Write) -> None:
    """Issue 14 point 6: a former id in a profile is a deprecation, not an error."""
    profile = write(
        "p.yaml",
        "id: tiny\nlabel: {it: Piccolo}\nindicators: [POP_TOTAL, POP_OVER_64, NOPE]\n",
    )
    with (
        pytest.warns(DeprecatedIndicatorWarning, match="use 'POP_65_PLUS'"),
        pytest.raises(CatalogValidationError) as exc,
    ):
        Catalog.load(base, profile, shipped=False)
    error = _only_error(exc)
    assert "NOPE" in error.message and "POP_OVER_64" not in error.message


def test_profile_listing_a_former_id_loads_with_the_surviving_id(base: Path, write: Write) -> None:
    profile = write(
        "p.yaml", "id: tiny\nlabel: {it: Piccolo}\nindicators: [POP_TOTAL, POP_OVER_64]\n"
    )
    with pytest.warns(DeprecatedIndicatorWarning) as caught:
        cat = Catalog.load(base, profile, shipped=False)
    message = str(caught[0].message)
    assert f"{profile}:3" in message and "'POP_OVER_64'" in message and "'POP_65_PLUS'" in message
    assert cat.get_profile("tiny").indicators == ("POP_TOTAL", "POP_65_PLUS")
    assert [i.id for i in cat.profile("tiny")] == ["POP_TOTAL", "POP_65_PLUS"]


def test_profile_listing_an_id_and_its_former_id_is_listed_twice(base: Path, write: Write) -> None:
    profile = write(
        "p.yaml", "id: tiny\nlabel: {it: Piccolo}\nindicators: [POP_65_PLUS, POP_OVER_64]\n"
    )
    with pytest.warns(DeprecatedIndicatorWarning), pytest.raises(CatalogError) as exc:
        Catalog.load(base, profile, shipped=False)
    assert "listed twice" in _only_error(exc).message


def test_good_profile(base: Path, write: Write) -> None:
    folder = base.parent
    write(
        "profiles/p.yaml", "id: tiny\nlabel: {it: Piccolo}\nindicators: [POP_65_PLUS, POP_TOTAL]\n"
    )
    cat = Catalog.load(folder, shipped=False)
    assert [i.id for i in cat.profile("tiny")] == ["POP_65_PLUS", "POP_TOTAL"]
    assert [p.id for p in cat.profiles()] == ["tiny"]


def test_several_problems_are_reported_together(base: Path, write: Write) -> None:
    path = write("many.yaml", entry("A", unit="nope") + entry("B", unit="nada") + "- 42\n")
    with pytest.raises(CatalogValidationError) as exc:
        Catalog.load(base, path, shipped=False)
    assert len(exc.value.errors) == 3
    assert str(exc.value).startswith("3 problems in the indicator catalogue:")
    assert exc.value.as_dict()["problems"]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError):
        Catalog.load(tmp_path / "absent.yaml", shipped=False)


@pytest.mark.parametrize(
    "text",
    [
        '- !!python/object/apply:os.system ["echo hi"]\n',
        "- id: !!python/name:os.system x\n",
        "- !!set {a}\n",
    ],
)
def test_yaml_tags_are_refused_nothing_executes(write: Write, text: str) -> None:
    path = write("tags.yaml", text)
    with pytest.raises(CatalogError) as exc:
        Catalog.load(path, shipped=False)
    error = _only_error(exc)
    assert error.location is not None and error.location.line == 1
    assert "allowed" in error.message


def test_yaml_merge_keys_work_like_safe_load(write: Write) -> None:
    text = (
        entry("A")
        .replace("- id: A\n", "- &common\n  id: A\n")
        .replace("  unit: person\n", "  unit: person\n")
    )
    text += "- <<: *common\n  id: B\n"
    cat = Catalog.load(write("merge.yaml", text), shipped=False)
    assert cat.get("B").unit == "person"
