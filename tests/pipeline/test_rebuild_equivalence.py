"""Whatever happened since the last build, a rebuild gives what a fresh build of the same
input gives: the same build id, the same edition files byte for byte, the same findings and
report (a reused source counts as built). Or, when a fresh build fails, the same error.

A small observatory is built, then edited and rebuilt in rounds. The edits: a value
changed anywhere in a file, a row dropped, a file rewritten with its own bytes, made
unreadable, emptied or removed, and restored, a source disabled or enabled or renamed, a
rival source of one indicator enabled, its priority or the release date in a data file's
sidecar (which decide between the two), a value corrected in the overrides file, a rule
that keeps the totals only, an indicator's polarity, label or domain, whether a count is
summed, a formula's multiplier, the territories compared with, the edition, the
disclosure rule, and damage to what the last builds saved (steps, saved results, the
fetch note, the findings and payload caches, the editions' files: cut short, a byte
changed, another file's bytes, deleted). A build is compared whole: its id, edition
files, findings, report and manifest.
Each rebuild runs in memory or, one round in three, out of core (a partition at a time,
into the same knowledge base: what either saved is there for the other), of every source
or, now and then, of a few (``--only``); every reuse it makes (the fetch note, steps, the
findings cache, derived groups, analyses, linked files) is checked against a build of the
same layout and sources that reuses nothing (the two layouts write the same values, not
the same bytes: docs/scaling.md).

Files count as still at once (the fetch note trusts a file's stamp without the two seconds
of the racy rule): each edit comes after the last build read the file, so its stamp
differs. The default run tries a few sequences of rounds; ``pytest -m slow -k
equivalence`` tries many more (80 sequences, about five minutes).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from welfare_observatory.build import fetch_note
from welfare_observatory.build.strategies.out_of_core_build import build_out_of_core
from welfare_observatory.errors import WelfareObservatoryError
from welfare_observatory.observatory import load_observatory
from welfare_observatory.store import KnowledgeBase

from .test_pipeline_incremental import INDICATORS, _entry, make_observatory

SOURCES = tuple(
    ident.lower() for ident, _domain, _polarity, measure in INDICATORS if measure != "formula"
)
RATIOS = tuple(ident for ident, _domain, _polarity, measure in INDICATORS if measure == "ratio")
FRACTIONS = st.floats(min_value=0.0, max_value=1.0)
RIVAL = "t_edu_a_rival"
"""A second source of ``T_EDU_A`` (its values 5 higher), off until an edit enables it:
then the two give the same keys, and the release rules pick each key's winner by the
sources' priority, then the release dates in their files' sidecars."""
INDICATOR_OF = {RIVAL: "T_EDU_A"}
SAVED = (
    "source-*.arrows",
    "source-*.json",
    "derived-*/*",
    "checks.json",
    "fetched.json",
    "step-stamps.json",
    "step-records.bin",
)
"""What a build saves under ``.steps`` for the next (glob patterns)."""


def indicators_yaml(
    polarity: dict[str, str],
    labels: dict[str, str],
    multiplier: int,
    domains: dict[str, str] | None = None,
    unsummed: frozenset[str] = frozenset(),
) -> str:
    """The observatory's own definitions (as ``make_observatory`` writes them), with these
    polarities and English labels, this multiplier in the birth rate's formula, the
    domains ``domains`` gives (each its own when none) and ``aggregation: none`` for the
    counts of ``unsummed``."""
    text = "".join(
        _entry(
            ident, (domains or {}).get(ident, domain), polarity[ident], measure, labels[ident]
        ).replace(
            "aggregation: sum", "aggregation: none" if ident in unsummed else "aggregation: sum"
        )
        for ident, domain, _polarity, measure in INDICATORS
    )
    return text.replace("multiplier: 100}", f"multiplier: {multiplier}}}")


def observatory_yaml(
    enabled: dict[str, bool],
    totals_only: set[str],
    comparisons: tuple[str, ...],
    ids: dict[str, str] | None = None,
    priority: dict[str, int] | None = None,
    overrides: bool = False,
    edition: str = "2025",
    disclosure: bool = False,
) -> str:
    """The observatory's configuration (as ``make_observatory`` writes it), with these
    sources enabled (:data:`RIVAL` too, when it is), these keeping their ``Total`` rows
    only, these territories to compare with, each source under the id ``ids`` gives it
    (its file's name when none) and with the priority ``priority`` gives it (0 when
    none), ``overrides.yaml`` as its overrides file when ``overrides``, this edition, and
    ``disclosure.yaml`` as its disclosure rule when ``disclosure``."""
    sources = []
    for source in (*SOURCES, RIVAL) if enabled.get(RIVAL) else SOURCES:
        ranked = (priority or {}).get(source, 0)
        sources.append(
            f"  {(ids or {}).get(source, source)}:\n    type: table\n"
            + ("" if enabled[source] else "    enabled: false\n")
            + (f"    priority: {ranked}\n" if ranked else "")
            + f"    options: {{path: data/{source}.csv, value_columns: [Value]}}\n"
            f"    rules:\n      indicator: {{value: {INDICATOR_OF.get(source, source.upper())}}}\n"
            + ("      filters: [{column: Sex, in: [Total]}]\n" if source in totals_only else "")
            + "      territory: {column: GeoCode, scheme: auto}\n"
            "      period: {column: Year}\n      value: {column: Value}\n"
            "      breakdowns:\n"
            "        sex: {column: Sex, map: {Total: _T, Female: F, Male: M}}\n"
        )
    return (
        f"id: incremental\nname: {{it: Prova, en: Test}}\nedition: '{edition}'\n"
        "territory:\n  code: '096'\n  reference_date: 2024-01-01\n"
        f"  comparisons: [{', '.join(repr(c) for c in comparisons)}]\n"
        f"indicators:\n  add: [{', '.join(i[0] for i in INDICATORS)}]\n"
        "  catalog: [indicators/own.yaml]\n"
        + ("overrides: overrides.yaml\n" if overrides else "")
        + ("disclosure: disclosure.yaml\n" if disclosure else "")
        + "sources:\n"
        + "".join(sources)
    )


def outcome(
    folder: Path, kb: Path, layout: str = "in memory", only: list[str] | None = None
) -> tuple[str, Any]:
    """What a build of ``folder`` into ``kb`` gives, in terms two builds can be compared in:
    its error, or its build id, edition files, findings and report. ``layout``: ``in
    memory`` or ``out of core`` (a partition at a time); ``only``: the sources it builds
    (all when None)."""
    try:
        observatory = load_observatory(folder)
        if layout == "out of core":
            result = build_out_of_core(
                observatory, out=kb, offline=True, memory_budget="1GiB", only=only
            )
        else:
            result = observatory.build(out=kb, offline=True, only=only)
    except WelfareObservatoryError as exc:
        return "error", (type(exc).__name__, str(exc).replace(str(kb), "<kb>"))
    report = result.report
    built = result.knowledge_base / result.edition / report.build
    pointer = KnowledgeBase.open(result.knowledge_base).edition(result.edition)
    files = {str(f.relative_to(built)): f.read_bytes() for f in sorted(built.rglob("*.parquet"))}
    # The manifest less its time of creation and the sources' reuse (a build kept
    # because it has the id a rebuild would write holds the manifest written first).
    manifest = json.loads((built / "manifest.json").read_text(encoding="utf-8"))
    del manifest["created"]
    for record in manifest["sources"].values():
        record["status"] = "ok" if record["status"] == "reused" else record["status"]
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
        manifest,
    )


def as_values(result: tuple[str, Any]) -> tuple[str, Any]:
    """``result`` (:func:`outcome`) with each edition file as its rows, sorted, and its
    columns' names and types, and the manifest without the files' digests: what two
    writers of the same values agree on."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind, found = result
    if kind != "built":
        return result
    files: dict[str, tuple[Any, ...]] = {}
    for name, data in found[2].items():
        table = pq.read_table(pa.BufferReader(data))
        columns = [(f.name, str(f.type)) for f in table.schema]
        files[name] = (columns, sorted(map(repr, table.to_pylist())))
    manifest = json.loads(json.dumps(found[-1]))
    for table in manifest["tables"].values():
        del table["sha256"]
    return kind, (*found[:2], files, *found[3:-1], manifest)


class Edited:
    """The observatory as the rounds edit it: its folder, knowledge base and configuration."""

    def __init__(self, here: Path) -> None:
        self.here = here
        self.folder = make_observatory(here / "obs")
        self.kb = here / "kb"
        self.enabled = dict.fromkeys(SOURCES, True)
        self.totals_only: set[str] = set()
        self.polarity = {ident: polarity for ident, _d, polarity, _m in INDICATORS}
        self.domains = {ident: domain for ident, domain, _p, _m in INDICATORS}
        self.unsummed: frozenset[str] = frozenset()
        self.labels = {ident: ident for ident, *_ in INDICATORS}
        self.multiplier = 100
        self.comparisons: tuple[str, ...] = ("01", "IT")
        self.ids = {source: source for source in (*SOURCES, RIVAL)}
        self.priority: dict[str, int] = {}
        self.overrides = False
        self.edition = "2025"
        self.disclosure = False
        self.enabled[RIVAL] = False
        rows = (self.folder / "data" / "t_edu_a.csv").read_text(encoding="utf-8").splitlines()
        rival = [rows[0]] + [
            f"{r.rpartition(',')[0]},{float(r.rpartition(',')[2]) + 5}" for r in rows[1:]
        ]
        (self.folder / "data" / f"{RIVAL}.csv").write_text(
            "\n".join(rival) + "\n", encoding="utf-8"
        )
        self.originals = {
            source: (self.folder / "data" / f"{source}.csv").read_bytes()
            for source in (*SOURCES, RIVAL)
        }
        self.write_config()

    def write_config(self) -> None:
        (self.folder / "observatory.yaml").write_text(
            observatory_yaml(
                self.enabled,
                self.totals_only,
                self.comparisons,
                self.ids,
                self.priority,
                self.overrides,
                self.edition,
                self.disclosure,
            ),
            encoding="utf-8",
        )
        (self.folder / "indicators" / "own.yaml").write_text(
            indicators_yaml(
                self.polarity, self.labels, self.multiplier, self.domains, self.unsummed
            ),
            encoding="utf-8",
        )

    def edit_lines(self, source: str, edit: Callable[[list[str]], None]) -> None:
        file = self.folder / "data" / f"{source}.csv"
        if not file.exists():
            return  # broken by removing it
        lines = file.read_text(encoding="utf-8").rstrip("\n").split("\n")
        edit(lines)
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def break_a_file(self, source: str, how: str) -> None:
        """The source's file made unreadable (``garbage``), left with its header only
        (``no rows``) or removed (``missing``): the source fails or gives nothing."""
        file = self.folder / "data" / f"{source}.csv"
        if how == "missing":
            file.unlink(missing_ok=True)
        elif how == "no rows":
            file.write_text('"Year","GeoCode","Sex","Value"\n', encoding="utf-8")
        else:
            file.write_text("garbage\n", encoding="utf-8")

    def restore_a_file(self, source: str) -> None:
        (self.folder / "data" / f"{source}.csv").write_bytes(self.originals[source])

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

    def change_the_formula(self) -> None:
        self.multiplier = 1000 if self.multiplier == 100 else 100
        self.write_config()

    def compare_with_fewer_or_more(self) -> None:
        self.comparisons = ("IT",) if len(self.comparisons) == 2 else ("01", "IT")
        self.write_config()

    def date_a_release(self, source: str, year: int | None) -> None:
        """The sidecar of ``source``'s file says it was released in ``year`` (no sidecar
        when None)."""
        sidecar = self.folder / "data" / f"{source}.csv.meta.yaml"
        if year is None:
            sidecar.unlink(missing_ok=True)
        else:
            sidecar.write_text(f"publisher: Test\nrelease_date: {year}-06-30\n", encoding="utf-8")

    def move_to_a_domain(self, indicator: str, domain: str) -> None:
        self.domains[indicator] = domain
        self.write_config()

    def toggle_summing(self, indicator: str) -> None:
        """A count summed to the province, or not (``aggregation: none``)."""
        self.unsummed ^= {indicator}
        self.write_config()

    def set_a_disclosure_rule(self, threshold: int | None) -> None:
        """The observatory's disclosure rule suppresses counts under ``threshold`` (no rule
        when None): the edition's manifest holds its digest."""
        self.disclosure = threshold is not None
        if threshold is not None:
            (self.folder / "disclosure.yaml").write_text(
                f"threshold: {threshold}\n", encoding="utf-8"
            )
        self.write_config()

    def next_edition(self) -> None:
        """The next edition (and back): a build of the same data into another edition."""
        self.edition = "2026" if self.edition == "2025" else "2025"
        self.write_config()

    def prioritize(self, source: str, priority: int) -> None:
        self.priority[source] = priority
        self.write_config()

    def override_a_value(self, municipality: int, year: int, value: float | None) -> None:
        """The overrides file corrects ``T_HEALTH_A`` of a municipality of Biella in
        ``year`` to ``value`` (no overrides file when None)."""
        self.overrides = value is not None
        if value is not None:
            (self.folder / "overrides.yaml").write_text(
                f"- indicator: T_HEALTH_A\n  territory: '096{municipality:03d}'\n"
                f"  period: '{year}'\n  value: {value}\n  reason: corrected by hand\n",
                encoding="utf-8",
            )
        self.write_config()

    def rename_a_source(self, source: str) -> None:
        """The same file, options and rules under another source id (and back)."""
        self.ids[source] = source if self.ids[source] != source else f"{source}_renamed"
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
FILE = st.sampled_from([*SOURCES, RIVAL])
"""A source's file, the rival's too."""
LAYOUTS = ("in memory", "in memory", "out of core")
EDITS = st.one_of(
    _edit("change_a_value", source=FILE, where=FRACTIONS, by=st.sampled_from([-3.0, 0.5, 7.0])),
    _edit("drop_a_row", source=FILE, where=FRACTIONS),
    _edit("rewrite_a_file_unchanged", source=SOURCE),
    _edit("break_a_file", source=FILE, how=st.sampled_from(["garbage", "no rows", "missing"])),
    _edit("restore_a_file", source=FILE),
    _edit("toggle_a_source", source=SOURCE),
    _edit("toggle_totals_only", source=SOURCE),
    _edit("rename_a_source", source=SOURCE),
    _edit("toggle_a_source", source=st.just(RIVAL)),
    _edit(
        "prioritize",
        source=st.sampled_from(["t_edu_a", RIVAL]),
        priority=st.sampled_from([0, 1, 2]),
    ),
    _edit(
        "override_a_value",
        municipality=st.sampled_from([1, 4]),
        year=st.sampled_from([2012, 2020]),
        value=st.sampled_from([None, 42.0, 43.5]),
    ),
    _edit(
        "date_a_release",
        source=st.sampled_from(["t_edu_a", RIVAL]),
        year=st.sampled_from([None, 2023, 2024, 2025]),
    ),
    # The formula's own definition too: no source step reads it.
    _edit("flip_a_polarity", indicator=st.sampled_from([*RATIOS, "T_BIRTH_RATE"])),
    _edit("relabel", indicator=st.sampled_from([ident for ident, *_ in INDICATORS])),
    _edit("change_the_formula"),
    _edit(
        "move_to_a_domain",
        indicator=st.sampled_from([ident for ident, *_ in INDICATORS]),
        domain=st.sampled_from(["demography", "health", "education", "labour"]),
    ),
    _edit("toggle_summing", indicator=st.sampled_from(["T_BIRTHS", "T_RESIDENTS"])),
    _edit("compare_with_fewer_or_more"),
    _edit("next_edition"),
    _edit("set_a_disclosure_rule", threshold=st.sampled_from([None, 3, 10])),
    _edit(
        "damage_what_was_saved",
        pattern=st.sampled_from(
            [
                *SAVED,
                "../.cache/objects/*/*",
                "../.cache/index/*/*.json",
                # The editions' own files: a rebuild links earlier builds' observation
                # files and keeps a build of the same id.
                "../*/b-*/observations/*/*.parquet",
                "../*/b-*/analyses/*/*.parquet",
                "../*/b-*/*.json",
            ]
        ),
        which=FRACTIONS,
        how=st.sampled_from(["cut", "change", "swap", "delete"]),
    ),
)
ONLY = st.one_of(
    st.none(), st.none(), st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3, unique=True)
)
"""Most rebuilds build every source; some only a few (``--only``), named by their files."""
ROUNDS = st.lists(
    st.tuples(st.lists(EDITS, min_size=1, max_size=3), st.sampled_from(LAYOUTS), ONLY),
    min_size=1,
    max_size=3,
)
"""Rounds of one to three edits, each round followed by a rebuild in one of the layouts,
of every source or of some."""


Round = tuple[list[tuple[str, dict[str, Any]]], str, list[str] | None]


def rebuilds_are_fresh_builds(root: Path, rounds: list[Round]) -> None:
    here = Path(tempfile.mkdtemp(dir=root))
    try:
        observatory = Edited(here)
        outcome(observatory.folder, observatory.kb)
        layouts = {"in memory"}
        for n, (edits, layout, files) in enumerate(rounds):
            for name, arguments in edits:
                getattr(observatory, name)(**arguments)
            layouts.add(layout)
            only = None if files is None else [observatory.ids[f] for f in files]
            again = outcome(observatory.folder, observatory.kb, layout, only)
            fresh = outcome(observatory.folder, here / f"fresh-{n}", layout, only)
            if len(layouts) > 1:
                # A build of the same id kept from the other layout holds the same values
                # in the other writer's bytes.
                again, fresh = as_values(again), as_values(fresh)
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
    tmp_path: Path, still: None, rounds: list[Round]
) -> None:
    rebuilds_are_fresh_builds(tmp_path, rounds)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(rounds=ROUNDS)
def test_a_rebuild_after_any_edits_is_the_fresh_build_many_sequences(
    tmp_path: Path, still: None, rounds: list[Round]
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


def test_out_of_core_the_edition_holds_the_values_and_types_of_the_build_in_memory(
    tmp_path: Path,
) -> None:
    """The same values in every table, each column of the same type, whatever the layout.
    Demography has no composite (its indicators are neutral): out of core, its empty part
    once turned every number of the composite table into text."""
    observatory = Edited(tmp_path)
    in_memory = outcome(observatory.folder, tmp_path / "in-memory")
    out_of_core = outcome(observatory.folder, tmp_path / "out-of-core", "out of core")
    assert as_values(out_of_core) == as_values(in_memory)


def test_a_step_or_saved_result_copied_under_another_key_is_never_trusted(
    tmp_path: Path,
) -> None:
    """A whole step (record and data file) or a whole saved result under another key's
    name: each record names its key, so it is never taken for that key's."""
    from welfare_observatory.build.reuse import load_derived
    from welfare_observatory.build.sources import _load_step

    observatory = Edited(tmp_path)
    first = outcome(observatory.folder, observatory.kb)
    steps = observatory.kb / ".steps"
    one, other = sorted(steps.glob("source-*.json"))[:2]
    for suffix in (".json", ".arrows"):
        other.with_suffix(suffix).write_bytes(one.with_suffix(suffix).read_bytes())
    assert _load_step(steps, other.stem) is None
    assert outcome(observatory.folder, observatory.kb) == first
    saved = next(p for p in steps.glob("derived-*") if p.is_dir())
    assert load_derived(steps, saved.name.removeprefix("derived-")) is not None
    copied = steps / "derived-0000"
    shutil.copytree(saved, copied, copy_function=shutil.copy2)
    assert load_derived(steps, "0000") is None


def test_a_renamed_source_is_made_under_its_new_name(tmp_path: Path) -> None:
    """A source's step records its lineage and findings under the source's id: the same
    file, options and rules under a new id are not the old id's step (whose lineage would
    name a source the observatory no longer has)."""
    observatory = Edited(tmp_path)
    outcome(observatory.folder, observatory.kb)
    observatory.rename_a_source("t_edu_a")
    again = outcome(observatory.folder, observatory.kb)
    assert again == outcome(observatory.folder, tmp_path / "fresh")
    assert ("t_edu_a_renamed", "ok", 2541, 2541, None) in again[1][6]
    assert lineage_sources(observatory.kb) >= {"t_edu_a_renamed"}
    assert "t_edu_a" not in lineage_sources(observatory.kb)


def test_a_source_declared_twice_is_made_under_each_id(tmp_path: Path) -> None:
    """Two ids for the same file, options and rules: each is made and named in the
    lineage, and the release check sees the two sources give the same observations (the
    second once took the first's step, lineage and all, and the check saw one source)."""
    observatory = Edited(tmp_path)
    config = observatory.folder / "observatory.yaml"
    text = config.read_text(encoding="utf-8")
    start = text.index("  t_edu_a:\n")
    block = text[start : text.index("  t_edu_b:\n")]
    config.write_text(text + block.replace("  t_edu_a:", "  t_edu_a_again:"), encoding="utf-8")
    result = load_observatory(observatory.folder).build(out=observatory.kb, offline=True)
    statuses = {s.id: s.status for s in result.report.sources}
    assert statuses["t_edu_a"] == statuses["t_edu_a_again"] == "ok"
    assert lineage_sources(observatory.kb) >= {"t_edu_a", "t_edu_a_again"}
    conflicts = [f for f in result.report.findings if f.code == "release-conflicts"]
    assert conflicts
    assert not [f for f in result.report.findings if f.code == "analysis-failed"]


def lineage_sources(kb: Path) -> set[str]:
    """The sources the current edition's harmonize steps name."""
    import pyarrow.parquet as pq

    pointer = KnowledgeBase.open(kb).edition("2025")
    lineage = pq.read_table(kb / "2025" / pointer.build / "lineage.parquet").to_pylist()
    return {row["source"] for row in lineage if row["kind"] == "harmonize"}


def test_a_changed_release_date_picks_the_new_winner_in_a_rebuild(tmp_path: Path) -> None:
    """Two sources of the same values are decided by the release dates in their files'
    sidecars: a rebuild after a date changed publishes the values of the new winner (it
    once reused the last result, the old winner's values)."""
    from welfare_observatory.store import KnowledgeBase

    observatory = Edited(tmp_path)
    observatory.toggle_a_source(RIVAL)
    observatory.date_a_release("t_edu_a", 2024)
    observatory.date_a_release(RIVAL, 2023)
    outcome(observatory.folder, observatory.kb)
    winners = KnowledgeBase.open(observatory.kb).observations("T_EDU_A", "096")["source"]
    assert set(winners) == {"t_edu_a"}
    observatory.date_a_release(RIVAL, 2025)
    again = outcome(observatory.folder, observatory.kb)
    assert again == outcome(observatory.folder, tmp_path / "fresh")
    winners = KnowledgeBase.open(observatory.kb).observations("T_EDU_A", "096")["source"]
    assert set(winners) == {RIVAL}


def rebuilt_and_fresh(
    tmp_path: Path, edit: Callable[[Edited], None], first: Callable[[Edited], None] | None = None
) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """The observatory built (after ``first``), edited, then built again into the same
    knowledge base and into an empty one."""
    observatory = Edited(tmp_path)
    if first is not None:
        first(observatory)
    outcome(observatory.folder, observatory.kb)
    edit(observatory)
    again = outcome(observatory.folder, observatory.kb)
    return again, outcome(observatory.folder, tmp_path / "fresh")


def test_an_edition_of_another_formula_definition_is_another_build(tmp_path: Path) -> None:
    """The rate made by a formula is read by no source: its polarity changes the analyses
    but no step. The build id once missed it, and the store kept the last build, of the
    same id, with the old analyses."""
    again, fresh = rebuilt_and_fresh(tmp_path, lambda o: o.flip_a_polarity("T_BIRTH_RATE"))
    assert again == fresh


def test_an_edition_decided_by_another_release_date_is_another_build(tmp_path: Path) -> None:
    """Both rivals keep keys of their own whoever wins the shared ones, so the steps of
    the edition's lineage stay the same: the release dates must be in the build id."""

    def rivals(observatory: Edited) -> None:
        observatory.toggle_a_source(RIVAL)
        observatory.date_a_release("t_edu_a", 2024)
        observatory.date_a_release(RIVAL, 2023)
        observatory.edit_lines(RIVAL, lambda lines: lines.__delitem__(slice(600, None)))
        observatory.edit_lines("t_edu_a", lambda lines: lines.__delitem__(slice(1, 300)))

    again, fresh = rebuilt_and_fresh(
        tmp_path, lambda o: o.date_a_release(RIVAL, 2025), first=rivals
    )
    assert again == fresh


def test_an_edition_of_another_selection_from_a_profile_is_another_build(
    tmp_path: Path,
) -> None:
    """The selection can come from a profile of the catalogue, outside observatory.yaml."""

    def profile(members: str) -> Callable[[Edited], None]:
        def select(observatory: Edited) -> None:
            config = observatory.folder / "observatory.yaml"
            text = config.read_text(encoding="utf-8").replace(", T_EDU_C]", "]")
            text = text.replace(
                "  catalog: [indicators/own.yaml]", "  catalog: [indicators]\n  profile: p"
            )
            config.write_text(text, encoding="utf-8")
            own = observatory.folder / "indicators" / "own.yaml"
            own.write_text(
                own.read_text(encoding="utf-8").replace(
                    "document: tests/pipeline}", "document: tests/pipeline, verified: true}"
                ),
                encoding="utf-8",
            )
            (observatory.folder / "indicators" / "profiles").mkdir(exist_ok=True)
            (observatory.folder / "indicators" / "profiles" / "p.yaml").write_text(
                "id: p\nlabel: {it: P, en: P}\ndescription: {it: P, en: P}\n"
                f"indicators: [{members}]\n",
                encoding="utf-8",
            )

        return select

    again, fresh = rebuilt_and_fresh(tmp_path, profile("T_HEALTH_A"), first=profile("T_EDU_C"))
    assert again == fresh
    assert "T_EDU_C" not in again[1][4]


def test_an_edition_under_another_disclosure_rule_is_another_build(tmp_path: Path) -> None:
    """The manifest holds the rule's digest: a build kept under the same id held the old
    one, and publishing then said the rule changed after the edition was built."""
    again, fresh = rebuilt_and_fresh(
        tmp_path,
        lambda o: o.set_a_disclosure_rule(10),
        first=lambda o: o.set_a_disclosure_rule(3),
    )
    assert again == fresh


def test_a_source_of_a_former_id_follows_the_alias_to_its_new_entry(tmp_path: Path) -> None:
    """A rule may name an indicator by a former id (an alias in the catalogue): its rows
    move to the entry listing the alias, under that entry's definition. When the alias
    moves to another entry, the source's step is made again (it once kept the rows under
    the old entry)."""

    def alias(entry: str) -> Callable[[Edited], None]:
        def move(observatory: Edited) -> None:
            observatory.write_config()
            config = observatory.folder / "observatory.yaml"
            config.write_text(
                config.read_text(encoding="utf-8").replace(
                    "indicator: {value: T_EDU_C}", "indicator: {value: T_EDU_OLD}"
                ),
                encoding="utf-8",
            )
            own = observatory.folder / "indicators" / "own.yaml"
            own.write_text(
                own.read_text(encoding="utf-8").replace(
                    f"- id: {entry}\n", f"- id: {entry}\n  aliases: [T_EDU_OLD]\n"
                ),
                encoding="utf-8",
            )

        return move

    again, fresh = rebuilt_and_fresh(tmp_path, alias("T_EDU_B"), first=alias("T_EDU_C"))
    assert again == fresh
    assert "T_EDU_C" not in again[1][4]


def _split_births(observatory: Edited) -> None:
    """Births with decimals, Biella's first 39 municipalities read from a file of their
    own by a second source, ``t_births_a``, declared after ``t_births``."""
    data = observatory.folder / "data"
    lines = (data / "t_births.csv").read_text(encoding="utf-8").rstrip("\n").split("\n")
    kept, moved = [lines[0]], [lines[0]]
    for n, line in enumerate(lines[1:]):
        head, _, value = line.rpartition(",")
        line = f"{head},{float(value) + (n * 37 % 1000) / 1000:.3f}"
        code = head.split(",")[1].strip('"')
        (moved if len(code) == 6 and code < "096040" else kept).append(line)
    (data / "t_births.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    (data / "t_births_a.csv").write_text("\n".join(moved) + "\n", encoding="utf-8")
    config = observatory.folder / "observatory.yaml"
    text = config.read_text(encoding="utf-8")
    start, end = text.index("  t_births:\n"), text.index("  t_residents:\n")
    block = (
        text[start:end]
        .replace("t_births", "t_births_a", 1)
        .replace("data/t_births.csv", "data/t_births_a.csv")
    )
    config.write_text(text[:end] + block + text[end:], encoding="utf-8")


def _swap_births(observatory: Edited) -> None:
    """The two sources of births declared in the other order."""
    config = observatory.folder / "observatory.yaml"
    text = config.read_text(encoding="utf-8")
    start, middle = text.index("  t_births:\n"), text.index("  t_births_a:\n")
    end = text.index("  t_residents:\n")
    config.write_text(
        text[:start] + text[middle:end] + text[start:middle] + text[end:], encoding="utf-8"
    )


def test_sums_do_not_depend_on_the_order_sources_are_declared_in(tmp_path: Path) -> None:
    """The province's births are sums of decimals over municipalities two sources give;
    a sum of floats depends on the order of its terms. Derive takes the sources in id
    order, so the values are the same whatever the order observatory.yaml lists them in,
    and a rebuild after the order changed is the fresh build (it once kept sums made in
    the other order; the findings listed in that order make it another build)."""
    from welfare_observatory.store import KnowledgeBase

    again, fresh = rebuilt_and_fresh(tmp_path, _swap_births, first=_split_births)
    assert again == fresh
    swapped = KnowledgeBase.open(tmp_path / "fresh").observations("T_BIRTHS", "096")
    declared = Edited(tmp_path / "declared")
    _split_births(declared)
    outcome(declared.folder, declared.kb)
    first = KnowledgeBase.open(declared.kb).observations("T_BIRTHS", "096")
    key = ["period", "sex"]
    assert swapped.sort_values(key)["value"].tolist() == first.sort_values(key)["value"].tolist()


def test_a_value_turned_from_zero_to_minus_zero_is_analysed_again(tmp_path: Path) -> None:
    """-0.0 equals 0.0 as a number, and DuckDB hashes the two alike, but the analyses keep
    the sign: the indicator's fingerprint holds it, or the old analyses were kept."""

    def province_2022(value: str) -> Callable[[Edited], None]:
        def write(observatory: Edited) -> None:
            def edit(lines: list[str]) -> None:
                for n, line in enumerate(lines):
                    if line.startswith('2022,"096","Total",'):
                        lines[n] = f'2022,"096","Total",{value}'

            observatory.edit_lines("t_edu_b", edit)

        return write

    again, fresh = rebuilt_and_fresh(tmp_path, province_2022("-0.0"), first=province_2022("0.0"))
    assert again == fresh
    # The result saved by that rebuild holds -0.0 too (its rows and analyses were once
    # taken for the last result's, equal as numbers): a third build after another edit
    # reuses them as they are.
    observatory = Edited(tmp_path / "three")
    for value in ("0.0", "-0.0"):
        province_2022(value)(observatory)
        outcome(observatory.folder, observatory.kb)
    observatory.change_a_value("t_edu_a", 0.3, 2.0)
    again = outcome(observatory.folder, observatory.kb)
    assert again == outcome(observatory.folder, tmp_path / "three" / "fresh")


def test_a_source_failing_another_way_is_another_build(tmp_path: Path) -> None:
    """A failed source leaves no step: the build id must hold what the manifest says of it
    (its error), or the build of the first failure was kept with the old error."""

    def fail(how: str) -> Callable[[Edited], None]:
        return lambda observatory: observatory.break_a_file("t_edu_c", how)

    again, fresh = rebuilt_and_fresh(tmp_path, fail("garbage"), first=fail("missing"))
    assert again == fresh
    assert "no column matches 'Value'" in again[1][7]["sources"]["t_edu_c"]["error"]


def test_a_source_without_rows_gives_the_same_reason_reused_or_not(tmp_path: Path) -> None:
    """An indicator whose only source gave no rows is skipped with the same reason whether
    the source ran or was reused (the reason once said which)."""
    again, fresh = rebuilt_and_fresh(
        tmp_path, lambda _observatory: None, first=lambda o: o.break_a_file("t_edu_c", "no rows")
    )
    assert again == fresh
    (skipped,) = again[1][5]
    assert skipped.reason == "source t_edu_c ran but gave no rows for it"


def test_early_warnings_of_equal_strength_rank_alike_in_a_rebuild(tmp_path: Path) -> None:
    """Two indicators with the same values give a territory two signals of the same
    robust z: a rebuild ranks the warnings it keeps and the ones it makes again as a
    fresh build ranks them all (ties once fell back on the order they were gathered in)."""

    def twins(observatory: Edited) -> None:
        data = observatory.folder / "data"
        (data / "t_edu_c.csv").write_bytes((data / "t_edu_a.csv").read_bytes())

    def italy(lines: list[str]) -> None:  # a value no warning reads: Italy is not ranked
        at = next(n for n, line in enumerate(lines) if line.startswith('2015,"IT","Total",'))
        head, _, value = lines[at].rpartition(",")
        lines[at] = f"{head},{float(value) + 1}"

    again, fresh = rebuilt_and_fresh(
        tmp_path, lambda o: o.edit_lines("t_edu_a", italy), first=twins
    )
    assert again == fresh


def test_out_of_core_counts_derive_findings_as_a_build_in_memory(tmp_path: Path) -> None:
    """A municipality's residents missing in one year: the province's residents and birth
    rate are partial aggregates. Out of core, the rate's partition derives its operands
    too, and their findings were counted twice (3 partial aggregates where there are 2),
    in findings of their own; the partitions' parts are now combined as a whole derive's.
    So an out-of-core rebuild of the input an in-memory build made (the build it keeps) is
    the fresh out-of-core build."""
    observatory = Edited(tmp_path)
    observatory.drop_a_row("t_residents", 0.3)
    in_memory = outcome(observatory.folder, observatory.kb)
    again = outcome(observatory.folder, observatory.kb, "out of core")
    fresh = outcome(observatory.folder, tmp_path / "fresh", "out of core")
    assert as_values(again) == as_values(fresh) == as_values(in_memory)
    partial = [f for f in fresh[1][3] if f.code == "partial-aggregate"]
    assert [(f.indicator, f.count) for f in partial] == [("T_BIRTH_RATE", 2)]


def test_with_two_sources_of_one_indicator_out_of_core_is_the_build_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sources give one indicator, the rival's values differ and all lose. Out of
    core once differed from a build in memory: the release findings were not kept per
    indicator (each partition reported its own whole), findings that read alike (two
    conflicts differing only by sex) were taken for repeats, and the derive steps' ids
    were made of the sources left after the releases were decided in memory but of all
    of them out of core. They are parts per indicator now, and the ids are made of the
    build's input; so a rebuild after another source changed derives only its group and
    is the fresh build."""
    from welfare_observatory.build import derive as derive_module

    observatory = Edited(tmp_path)
    observatory.toggle_a_source(RIVAL)
    in_memory = outcome(observatory.folder, observatory.kb)
    fresh = outcome(observatory.folder, tmp_path / "fresh", "out of core")
    assert as_values(fresh) == as_values(in_memory)
    codes = [f.code for f in fresh[1][3]]
    assert codes.count("release-conflicts") == 1
    assert codes.count("release-conflict") == 1000  # the first MAX_LISTED, as in memory
    derived: list[set[str]] = []
    real = derive_module.derive_with_coverage

    def spy(tables: Any, env: Any, scope: Any = None, **kwargs: Any) -> Any:
        derived.append({str(i) for t in tables for i in t.column("indicator").to_pylist()})
        return real(tables, env, scope, **kwargs)

    monkeypatch.setattr(derive_module, "derive_with_coverage", spy)
    observatory.edit_lines("t_residents", lambda lines: lines.__delitem__(slice(5, 9)))
    again = outcome(observatory.folder, observatory.kb)
    assert "T_EDU_A" not in derived[0]  # the rivals' group was kept
    assert again == outcome(observatory.folder, tmp_path / "fresh again")


def test_a_correction_of_an_indicator_left_out_by_only_is_kept(tmp_path: Path) -> None:
    """The overrides file corrects an indicator whose source a build leaves out (--only):
    its corrected row is in no indicator group of that build, and a rebuild that derived
    only the changed groups lost it."""
    observatory = Edited(tmp_path)
    observatory.override_a_value(4, 2012, 43.5)
    outcome(observatory.folder, observatory.kb)
    only = ["t_residents", "t_edu_b"]
    again = outcome(observatory.folder, observatory.kb, only=only)
    assert again == outcome(observatory.folder, tmp_path / "fresh", only=only)
    assert "observations/domain=health/part-0.parquet" in again[1][2]


def test_a_step_made_by_another_engine_version_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The libraries that compute the values (pyarrow, DuckDB, pandas, numpy) are in every
    step's key, the build id and the manifest: after one is upgraded, a rebuild makes its
    steps again rather than keep the other version's beside this one's."""
    import json

    from welfare_observatory import _version

    observatory = Edited(tmp_path)
    first = load_observatory(observatory.folder).build(out=observatory.kb, offline=True)
    manifest = json.loads(
        (observatory.kb / "2025" / first.report.build / "manifest.json").read_text("utf-8")
    )
    assert set(manifest["engines"]) == set(_version.ENGINES)
    assert not set(manifest["plugins"]) & set(_version.ENGINES)
    same = load_observatory(observatory.folder).build(out=observatory.kb, offline=True)
    assert same.report.build == first.report.build and same.report.computed_steps == 0
    real = _version.engine_versions()
    monkeypatch.setattr(_version, "engine_versions", lambda: {**real, "duckdb": "0.0.0"})
    again = load_observatory(observatory.folder).build(out=observatory.kb, offline=True)
    assert again.report.reused_steps == 0
    assert again.report.build != first.report.build
