"""The observations are split by domain on integer codes, not by comparing texts.

Differential: the partition files are byte for byte those the text comparison per domain
(the way it was done before) writes, for domain columns plain or dictionary-encoded, with
chunks of their own dictionaries, a text in two slots of one dictionary, missing domains.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.model.observation import BASE_COLUMNS, observation_schema
from welfare_observatory.store.edition import (
    Part,
    _decoded_keys,
    _sorted_dictionaries,
    _write_observations,
    combined_digest,
    write_parquet,
)


class ByDomain:
    """Links each part to the earlier file named for its domain; notes what was written."""

    def __init__(self, earlier: dict[str, Path | tuple[Path, str]]) -> None:
        self.earlier_files = earlier
        self.files: dict[str, str] = {}

    def earlier(self, part: Part) -> Path | tuple[Path, str] | None:
        return self.earlier_files.get(part.domain)

    def written(self, part: Part, sha256: str) -> None:
        self.files[part.file] = sha256


INDICATORS = ["POP_TOTAL", "BIRTHS", "OLD_AGE_INDEX"]
TERRITORIES = ["096004", "096", "IT"]
DOMAINS = ["demography", "health", "labour", "None"]


def _by_text(observations: pa.Table, folder: Path) -> dict[str, Any]:
    """The partition files as the store wrote them before: each domain's rows found by
    comparing the domain column with its text."""
    # A set: with a text in two slots of a dictionary, the old code listed (and wrote) the
    # domain twice; the split on codes lists it once.
    domains = sorted({str(d) for d in pc.unique(observations.column("domain")).to_pylist()})
    names = ["indicator", "territory", "period"]
    names += [n for n in observations.column_names if n not in BASE_COLUMNS and n != "domain"]
    digests, files = [], []
    for domain in domains:
        part = observations.filter(pc.equal(observations.column("domain"), domain))
        part = _sorted_dictionaries(part.drop_columns(["domain"]))
        keys = _decoded_keys(part, names, ranked=True)
        part = part.take(pc.sort_indices(keys, sort_keys=[(n, "ascending") for n in names]))
        # Statistics of the key columns only, as the store writes them.
        statistics = [*names, "period_start"]
        info = write_parquet(
            part, folder / f"domain={domain}" / "part-0.parquet", statistics=statistics
        )
        files.append(f"domain={domain}/part-0.parquet")
        digests.append(info["sha256"])
    return {"rows": observations.num_rows, "sha256": combined_digest(digests), "files": files}


def _table(rows: list[tuple[str, str, str | None]], chunks: int, encoding: str) -> pa.Table:
    schema = observation_schema(())
    records = [
        {
            "indicator": i,
            "territory": t,
            "period": str(2000 + n),
            "period_start": date(2000 + n % 20, 1, 1),
            "value": float(n),
            "unit": "person",
            "obs_status": "A",
            "conf_status": "F",
            "flags": None,
            "source": "s",
            "lineage": "l",
        }
        for n, (i, t, _) in enumerate(rows)
    ]
    size = max(1, len(records) // chunks)
    parts = [
        pa.Table.from_pylist(records[k : k + size], schema=schema)
        for k in range(0, len(records), size)
    ]
    whole = pa.concat_tables(parts)
    domain = pa.array([d for _, _, d in rows], pa.string())
    if encoding == "dictionary":
        # Chunks with dictionaries of their own, in first-seen order.
        pieces = [domain.slice(k, size).dictionary_encode() for k in range(0, len(rows), size)]
        column: Any = pa.chunked_array(pieces)
    elif encoding == "repeated":
        # One text in two slots of a dictionary (nobody de-duplicated it).
        dictionary = pa.array([*DOMAINS, *DOMAINS], pa.string())
        slot = {d: i for i, d in enumerate(DOMAINS)}
        indices = [
            None if d is None else slot[d] + (len(DOMAINS) if n % 2 else 0)
            for n, (_, _, d) in enumerate(rows)
        ]
        column = pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), dictionary)
    else:
        column = domain
    return whole.append_column("domain", column)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()
    }


row = st.tuples(
    st.sampled_from(INDICATORS),
    st.sampled_from(TERRITORIES),
    st.one_of(st.sampled_from(DOMAINS), st.none()),
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(row, min_size=1, max_size=40),
    chunks=st.integers(1, 3),
    encoding=st.sampled_from(["plain", "dictionary", "repeated"]),
)
def test_split_on_codes_writes_the_files_the_text_comparison_wrote(
    tmp_path_factory: Any,
    rows: list[tuple[str, str, str | None]],
    chunks: int,
    encoding: str,
) -> None:
    data = _table(rows, chunks, encoding)
    before, after = tmp_path_factory.mktemp("text"), tmp_path_factory.mktemp("codes")
    expected = _by_text(data, before)
    got = _write_observations(data, after)
    assert got == expected
    assert _files(after) == _files(before)


def test_a_domain_in_unchanged_is_linked_not_written(tmp_path: Path) -> None:
    data = _table([("BIRTHS", "IT", "health"), ("BIRTHS", "096", "labour")], 1, "plain")
    first = _write_observations(data, tmp_path / "a")
    earlier = tmp_path / "a" / "domain=health" / "part-0.parquet"
    again = _write_observations(data, tmp_path / "b", ByDomain({"health": earlier}))
    assert again == first
    assert (tmp_path / "b" / "domain=health" / "part-0.parquet").stat().st_nlink == 2
    assert (tmp_path / "b" / "domain=labour" / "part-0.parquet").stat().st_nlink == 1
