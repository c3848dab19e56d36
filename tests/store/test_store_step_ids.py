"""The build id digests the graph's step ids, listed without serialising every record.

Differential: ``LineageGraph.step_ids`` gives the ids the manifest took from
``to_records()`` before (``to_records`` still gives each record's
``model_dump(mode="json")``), and the manifest's build id is the one computed the old way,
for graphs of any records (duplicates, nested parameters, empty).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.lineage import LineageGraph, StepRecord, digest
from welfare_observatory.store.edition import DisclosureRecord

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)

_records = st.lists(
    st.builds(
        StepRecord.create,
        st.sampled_from(["fetch", "parse", "harmonize", "derive", "aggregate", "reconcile"]),
        st.lists(st.text(alphabet="abcdef0123456789:", min_size=1, max_size=12), max_size=3),
        st.dictionaries(st.text(max_size=6), _json, max_size=3),
        versions=st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=2),
        outputs=st.lists(st.text(max_size=8), max_size=2),
        source=st.none() | st.text(max_size=6),
    ),
    max_size=12,
)


def _old_ids(graph: LineageGraph) -> list[str]:
    """How ``build_manifest`` listed the step ids before (a full serialisation)."""
    return sorted(str(r["id"]) for r in graph.to_records())


@settings(max_examples=60, deadline=None)
@given(_records)
def test_step_ids_are_the_sorted_ids_of_the_records(records: list[StepRecord]) -> None:
    graph = LineageGraph([*records, *records[:2]])
    assert graph.step_ids() == _old_ids(graph)
    assert graph.step_ids() == sorted({r.id for r in records})
    first: dict[str, StepRecord] = {}
    for record in records:
        first.setdefault(record.id, record)  # the graph keeps the first record of an id
    assert graph.to_records() == [first[i].model_dump(mode="json") for i in sorted(first)]


def test_step_ids_of_an_empty_graph() -> None:
    assert LineageGraph().step_ids() == [] == LineageGraph().to_records()


def _config() -> Any:
    from welfare_observatory.config import ObservatoryConfig

    return ObservatoryConfig.model_validate(
        {
            "id": "test",
            "name": {"en": "test"},
            "edition": "2025",
            "territory": {"code": "096", "reference_date": "2024-01-01"},
            "indicators": {"add": ["POP_TOTAL"]},
            "sources": {},
        }
    )


@settings(max_examples=20, deadline=None)
@given(_records)
def test_build_id_is_the_one_the_serialised_records_gave(records: list[StepRecord]) -> None:
    from welfare_observatory.store.partitioned import build_manifest

    config = _config()
    graph = LineageGraph(records)
    manifest = build_manifest(
        config, graph=graph, overrides=0, sources={}, versions={}, selection=["POP_TOTAL"]
    )
    config_digest = digest(config.model_dump(mode="json"))
    expected = (
        "b-"
        + digest(
            {
                "config": config_digest,
                "disclosure": None,
                "inputs": None,
                "sources": {},
                "steps": _old_ids(graph),
            }
        )[:16]
    )
    assert manifest.build == expected
    # What else the edition read (definitions, selection, overrides, sidecars) and the
    # disclosure rule make another build too.
    other, ruled = (
        build_manifest(
            config,
            graph=graph,
            overrides=0,
            sources={},
            versions={},
            selection=["POP_TOTAL"],
            **extra,
        ).build
        for extra in (
            {"inputs": "0" * 64},
            {"disclosure": DisclosureRecord(file="disclosure.yaml", sha256="1" * 64)},
        )
    )
    assert len({manifest.build, other, ruled}) == 3
    # A different set of steps is a different build.
    if records:
        fewer = build_manifest(
            config,
            graph=LineageGraph(r for r in records if r.id != records[0].id),
            overrides=0,
            sources={},
            versions={},
            selection=["POP_TOTAL"],
        )
        assert fewer.build != manifest.build
