"""The unknown-territory check looks each distinct code of a table up in the known codes
once (``validate.builtin.check_unknown_territories``): its findings are the same whatever
collection holds the known codes, and the rows it counts are those Arrow's ``is_in``
against them leaves out, a missing code among them."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.validate import CheckContext, builtin

CODES = st.text(alphabet="0123456789ABX", min_size=1, max_size=6)


@settings(max_examples=80, deadline=None)
@given(known=st.sets(CODES, max_size=30), seen=st.lists(st.one_of(st.none(), CODES), max_size=12))
def test_the_rows_counted_are_those_whose_code_is_not_known(
    known: set[str], seen: list[str | None]
) -> None:
    table = pa.table({"territory": pa.array(seen, pa.string())})
    findings = [
        builtin.check_unknown_territories(table, CheckContext(source="s", territories=codes))
        for codes in (frozenset(known), set(known), sorted(known), tuple(known))
    ]
    assert findings[0] == findings[1] == findings[2] == findings[3]
    column = table.column("territory")
    listed = pc.is_in(column, value_set=pa.array(sorted(known), pa.string()))
    unknown = pc.invert(pc.fill_null(listed, False))
    count = pc.sum(unknown.cast(pa.int64())).as_py() or 0
    if not count:
        assert findings[0] == []
        return
    (finding,) = findings[0]
    assert finding.code == "unknown-territory" and finding.count == count
    first = sorted(str(c) for c in set(pc.filter(column, unknown).to_pylist()))[0]
    assert finding.territory == first


def test_a_dictionary_column_is_read_as_its_texts() -> None:
    plain = pa.table({"territory": pa.array(["017001", "999999", None, "017001"])})
    coded = pa.table({"territory": plain.column("territory").dictionary_encode()})
    ctx = CheckContext(source="s", territories=frozenset({"017001"}))
    got = builtin.check_unknown_territories(coded, ctx)
    assert got == builtin.check_unknown_territories(plain, ctx)
    assert [(f.count, f.territory) for f in got] == [(2, "999999")]
