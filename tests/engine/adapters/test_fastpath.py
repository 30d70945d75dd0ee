"""The typed fast path: the generated blank-string check agrees with a naive walk of the value."""

from __future__ import annotations

import copy

import msgspec
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import sourcewise.engine.adapters.fastpath as fastpath_mod
from sourcewise.engine.adapters import get_adapter
from tests.engine.adapters import at
from tests.engine.adapters import load
from tests.engine.adapters.test_fuzz import FILES
from tests.engine.adapters.test_fuzz import json_paths

CHECK = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

def _naive_blank(t, v) -> bool:
    """Slow twin of ``fastpath.blank_check``: walk the value beside its type, recursively."""
    ins = msgspec.inspect
    if isinstance(t, ins.Metadata):
        if (t.extra or {}).get(fastpath_mod.NOT_BLANK) and isinstance(v, str):
            return v.strip() == ""
        if (t.extra or {}).get(fastpath_mod.IS_OBJECT):
            return v is not None and not isinstance(v, dict)
        return _naive_blank(t.type, v)
    if isinstance(t, ins.StructType):
        return isinstance(v, t.cls) and any(_naive_blank(f.type, getattr(v, f.name)) for f in t.fields)
    if isinstance(t, ins.ListType | ins.VarTupleType):
        return isinstance(v, list | tuple) and any(_naive_blank(t.item_type, x) for x in v)
    if isinstance(t, ins.UnionType):
        return any(_naive_blank(m, v) for m in t.types)
    return False


_BLANKS = st.sampled_from(["", " ", "\t", "\u00a0", "\u2003", " x ", "x", "\u200b", "0"])


@st.composite
def _blanked(draw, doc):
    """``doc`` with one to four of its string values (anywhere) replaced."""
    doc = copy.deepcopy(doc)
    paths = [p for p in json_paths(doc) if isinstance(at(doc, p), str)]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        at(doc, path[:-1])[path[-1]] = draw(_BLANKS)
    return doc


@pytest.mark.parametrize("platform", sorted(FILES))
def test_generated_blank_check_agrees_with_a_naive_walk(platform):
    schemas = get_adapter(platform).fast_schemas
    order = load(FILES[platform][0])

    @CHECK
    @given(_blanked(order))
    def check(payload):
        for schema in schemas:
            try:
                plain = msgspec.convert(payload, schema)
            except msgspec.ValidationError:
                continue
            want = _naive_blank(msgspec.inspect.type_info(schema), plain)
            assert fastpath_mod.blank_check(schema)(plain) == want
            assert (fastpath_mod.fast_plain(plain) is None) == want

    check()
