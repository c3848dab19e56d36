"""The known territory codes the unknown-territory check compares with are made once per
frozenset of codes (``validate.builtin._known``): the same array, and the same findings,
as sorting and converting the codes on every run."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_observatory.validate import CheckContext, builtin

CODES = st.text(alphabet="0123456789ABX", min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(known=st.sets(CODES, max_size=30), seen=st.lists(st.one_of(st.none(), CODES), max_size=12))
def test_codes_made_once_give_what_sorting_them_each_time_gives(
    known: set[str], seen: list[str | None]
) -> None:
    frozen = frozenset(known)
    assert builtin._known(frozen).equals(pa.array(sorted(known), pa.string()))
    assert builtin._known(frozen) is builtin._known(frozenset(known))  # made once
    assert builtin._known(known).equals(builtin._known(frozen))  # a plain set: not cached
    table = pa.table({"territory": pa.array(seen, pa.string())})
    findings = [
        builtin.check_unknown_territories(table, CheckContext(source="s", territories=codes))
        for codes in (frozen, set(known), sorted(known))
    ]
    assert findings[0] == findings[1] == findings[2]
