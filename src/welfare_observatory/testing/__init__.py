"""The conformance kit for plugin authors (public): pytest checks and hypothesis strategies.

In a plugin's test file::

    from welfare_observatory.testing import Sample, SourceConformance

    class TestMySource(SourceConformance):
        source_class = MySource
        samples = [Sample({"path": "data.csv"}, files={"data.csv": b"code,n\\n096004,3\\n"})]

Needs pytest and hypothesis (the ``test`` extra).
"""

from welfare_observatory.testing.conformance import (
    MALFORMED,
    Recorded,
    Sample,
    SourceConformance,
    check_deterministic,
    check_empty_payload,
    check_harmonizes,
    check_invalid_options,
    check_malformed_payloads,
    check_source_class,
    check_table,
    fetch_context,
    fetch_sample,
    parse_or_parse_error,
    recorded_responses,
)
from welfare_observatory.testing.strategies import (
    indicator_ids,
    indicators,
    observations,
    territory_codes,
)

__all__ = [
    "MALFORMED",
    "Recorded",
    "Sample",
    "SourceConformance",
    "check_deterministic",
    "check_empty_payload",
    "check_harmonizes",
    "check_invalid_options",
    "check_malformed_payloads",
    "check_source_class",
    "check_table",
    "fetch_context",
    "fetch_sample",
    "indicator_ids",
    "indicators",
    "observations",
    "parse_or_parse_error",
    "recorded_responses",
    "territory_codes",
]
