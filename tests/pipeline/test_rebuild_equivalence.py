"""Whatever happened since the last build, a rebuild gives what a fresh build of the same
input gives: the same build id, the same edition files byte for byte, the same findings and
report (a reused source counts as built). Or, when a fresh build fails, the same error.

A small observatory is built, then edited and rebuilt in rounds. The edits: a value
changed anywhere in a file, a row dropped, a file rewritten with its own bytes, a source
disabled or enabled, a rule that keeps the totals only, an indicator's polarity or label,
and damage to what the last builds saved (steps, saved results, the fetch note, the
findings and payload caches: cut short, a byte changed, another file's bytes, deleted).
Every reuse a rebuild makes (the fetch note, steps, the findings cache, derived groups,
analyses, linked files) is checked against a build that reuses nothing.

Files count as still at once (the fetch note trusts a file's stamp without the two seconds
of the racy rule): each edit comes after the last build read the file, so its stamp
differs. The default run tries a few sequences of rounds; ``pytest -m slow -k
equivalence`` tries many more (80 sequences, about five minutes).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory.build import fetch_note
from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

from .test_pipeline_incremental import INDICATORS, _entry, make_observatory

SOURCES = tuple(
    ident.lower() for ident, _domain, _polarity, measure in INDICATORS if measure != "formula"
)
RATIOS = tuple(ident for ident, _domain, _polarity, measure in INDICATORS if measure == "ratio")
FRACTIONS = st.floats(min_value=0.0, max_value=1.0)
SAVED = ("source-*.arrows", "source-*.json", "derived-*/*", "checks.json", "fetched.json")
"""What a build saves under ``.steps`` for the next (glob patterns)."""


def indicators_yaml(polarity: dict[str, str], labels: dict[str, str]) -> str:
    """The observatory's own definitions (as ``make_observatory`` writes them), with these
    polarities and English labels."""
    return "".join(
        _entry(ident, domain, polarity[ident], measure, labels[ident])
        for ident, domain, _polarity, measure in INDICATORS
    )


def observatory_yaml(enabled: dict[str, bool], totals_only: set[str]) -> str:
    """The observatory's configuration (as ``make_observatory`` writes it), with these
    sources enabled and these keeping their ``Total`` rows only."""
    sources = []
    for source in SOURCES:
        sources.append(
            f"  {source}:\n    type: table\n"
            + ("" if enabled[source] else "    enabled: false\n")
            + f"    options: {{path: data/{source}.csv, value_columns: [Value]}}\n"
            f"    rules:\n      indicator: {{value: {source.upper()}}}\n"
            + ("      filters: [{column: Sex, in: [Total]}]\n" if source in totals_only else "")
            + "      territory: {column: GeoCode, scheme: auto}\n"
            "      period: {column: Year}\n      value: {column: Value}\n"
            "      breakdowns:\n"
            "        sex: {column: Sex, map: {Total: _T, Female: F, Male: M}}\n"
        )
    return (
        "id: incremental\nname: {it: Prova, en: Test}\nedition: '2025'\n"
        "territory:\n  code: '096'\n  reference_date: 2024-01-01\n  comparisons: ['01', IT]\n"
        f"indicators:\n  add: [{', '.join(i[0] for i in INDICATORS)}]\n"
        "  catalog: [indicators/own.yaml]\nsources:\n" + "".join(sources)
    )


def outcome(folder: Path, kb: Path) -> tuple[str, Any]:
    """What a build of ``folder`` into ``kb`` gives, in terms two builds can be compared in:
    its error, or its build id, edition files, findings and report."""
    try:
        result = load_observatory(folder).build(out=kb, offline=True)
    except WelfareObservatoryError as exc:
        return "error", (type(exc).__name__, str(exc).replace(str(kb), "<kb>"))
    report = result.report
    built = result.knowledge_base / result.edition / report.build
    pointer = KnowledgeBase.open(result.knowledge_base).edition(result.edition)
    files = {str(f.relative_to(built)): f.read_bytes() for f in sorted(built.rglob("*.parquet"))}
    sources = [
        (s.id, "ok" if s.status == "reused" else s.status, s.rows_in, s.rows_out, s.error)
        for s in report.sources
    ]
    return "built", (
        report.build,
        pointer.build == report.build,
        files,
        report.findings,
        report.built,
        report.skipped,
        sources,
    )


class Edited:
    """The observatory as the rounds edit it: its folder, knowledge base and configuration."""

    def __init__(self, here: Path) -> None:
        self.here = here
        self.folder = make_observatory(here / "obs")
        self.kb = here / "kb"
        self.enabled = dict.fromkeys(SOURCES, True)
        self.totals_only: set[str] = set()
        self.polarity = {ident: polarity for ident, _d, polarity, _m in INDICATORS}
        self.labels = {ident: ident for ident, *_ in INDICATORS}
        self.write_config()

    def write_config(self) -> None:
        (self.folder / "observatory.yaml").write_text(
            observatory_yaml(self.enabled, self.totals_only), encoding="utf-8"
        )
        (self.folder / "indicators" / "own.yaml").write_text(
            indicators_yaml(self.polarity, self.labels), encoding="utf-8"
        )

    def edit_lines(self, source: str, edit: Callable[[list[str]], None]) -> None:
        file = self.folder / "data" / f"{source}.csv"
        lines = file.read_text(encoding="utf-8").rstrip("\n").split("\n")
        edit(lines)
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def change_a_value(self, source: str, where: float, by: float) -> None:
        def edit(lines: list[str]) -> None:
            at = 1 + round(where * (len(lines) - 2))
            head, _, value = lines[at].rpartition(",")
            lines[at] = f"{head},{float(value) + by}"

        self.edit_lines(source, edit)

    def drop_a_row(self, source: str, where: float) -> None:
        def edit(lines: list[str]) -> None:
            if len(lines) > 3:
                del lines[1 + round(where * (len(lines) - 2))]

        self.edit_lines(source, edit)

    def rewrite_a_file_unchanged(self, source: str) -> None:
        self.edit_lines(source, lambda _lines: None)

    def toggle_a_source(self, source: str) -> None:
        self.enabled[source] = not self.enabled[source]
        self.write_config()

    def toggle_totals_only(self, source: str) -> None:
        self.totals_only ^= {source}
        self.write_config()

    def flip_a_polarity(self, indicator: str) -> None:
        self.polarity[indicator] = {"positive": "negative", "negative": "positive"}[
            self.polarity[indicator]
        ]
        self.write_config()

    def relabel(self, indicator: str) -> None:
        self.labels[indicator] += " (new)"
        self.write_config()

    def damage_what_was_saved(self, pattern: str, which: float, how: str) -> None:
        files = sorted(p for p in (self.kb / ".steps").glob(pattern) if p.is_file())
        if not files:
            return
        file = files[round(which * (len(files) - 1))]
        data = file.read_bytes()
        if how == "swap":
            # Another file's bytes (well formed, but not what this file's record says).
            others = [p for p in files if p.read_bytes() != data]
            if others:
                file.write_bytes(others[0].read_bytes())
        elif how == "delete":
            file.unlink()
        elif how == "cut":
            file.write_bytes(data[: len(data) // 2])
        elif data:
            middle = len(data) // 2
            file.write_bytes(data[:middle] + bytes([data[middle] ^ 0x5A]) + data[middle + 1 :])


def _edit(name: str, **arguments: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(arguments).map(lambda drawn: (name, drawn))


SOURCE = st.sampled_from(SOURCES)
EDITS = st.one_of(
    _edit("change_a_value", source=SOURCE, where=FRACTIONS, by=st.sampled_from([-3.0, 0.5, 7.0])),
    _edit("drop_a_row", source=SOURCE, where=FRACTIONS),
    _edit("rewrite_a_file_unchanged", source=SOURCE),
    _edit("toggle_a_source", source=SOURCE),
    _edit("toggle_totals_only", source=SOURCE),
    _edit("flip_a_polarity", indicator=st.sampled_from(RATIOS)),
    _edit("relabel", indicator=st.sampled_from([ident for ident, *_ in INDICATORS])),
    _edit(
        "damage_what_was_saved",
        pattern=st.sampled_from([*SAVED, "../.cache/objects/*/*"]),
        which=FRACTIONS,
        how=st.sampled_from(["cut", "change", "swap", "delete"]),
    ),
)
ROUNDS = st.lists(st.lists(EDITS, min_size=1, max_size=3), min_size=1, max_size=3)
"""Rounds of one to three edits, each round followed by a rebuild."""


def rebuilds_are_fresh_builds(root: Path, rounds: list[list[tuple[str, dict[str, Any]]]]) -> None:
    here = Path(tempfile.mkdtemp(dir=root))
    try:
        observatory = Edited(here)
        outcome(observatory.folder, observatory.kb)
        for n, edits in enumerate(rounds):
            for name, arguments in edits:
                getattr(observatory, name)(**arguments)
            again = outcome(observatory.folder, observatory.kb)
            fresh = outcome(observatory.folder, here / f"fresh-{n}")
            assert again == fresh, f"round {n + 1} of {rounds}"
    finally:
        shutil.rmtree(here, ignore_errors=True)


@pytest.fixture
def still(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as still at once (see the module's docstring)."""
    monkeypatch.setattr(fetch_note, "_SETTLED_NS", -(10**12))


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(rounds=ROUNDS)
def test_a_rebuild_after_any_edits_is_the_fresh_build(
    tmp_path: Path, still: None, rounds: list[list[tuple[str, dict[str, Any]]]]
) -> None:
    rebuilds_are_fresh_builds(tmp_path, rounds)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(rounds=ROUNDS)
def test_a_rebuild_after_any_edits_is_the_fresh_build_many_sequences(
    tmp_path: Path, still: None, rounds: list[list[tuple[str, dict[str, Any]]]]
) -> None:
    rebuilds_are_fresh_builds(tmp_path, rounds)


@pytest.mark.parametrize("pattern", ["source-*.arrows", "source-*.json", "derived-*/*.arrow"])
def test_a_saved_file_holding_another_ones_bytes_is_never_trusted(
    tmp_path: Path, pattern: str
) -> None:
    """Well-formed bytes that are not what the record says (a file restored from the wrong
    copy): the digests catch what decoding cannot."""
    observatory = Edited(tmp_path)
    first = outcome(observatory.folder, observatory.kb)
    one, other = sorted((observatory.kb / ".steps").glob(pattern))[:2]
    one.write_bytes(other.read_bytes())
    assert outcome(observatory.folder, observatory.kb) == first
