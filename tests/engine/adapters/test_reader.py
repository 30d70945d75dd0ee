"""The careful reader: Shapes read objects through generated code and fall back to
:meth:`Reader.take` field by field; both must give the same values, and paths are formatted once."""

from __future__ import annotations

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sourcewise.engine.adapters.reader import MAX_UNITS
from sourcewise.engine.adapters.reader import Paths
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.reader import Shape

SHAPES = [
    Shape(("id", "id"), ("name", "str0", False), ("items", "list"), ("obj", "obj", False), ("flag", "bool", False)),
    Shape(("q", "int", True, 1), ("f", "int", False), ("neg", "int", False, None), ("d", "int", False, None, 20),
          ("price", "decimal", False), ("s", "str")),
    Shape((("stockId", "stock_id"), "int", True, 1), (("a", "b", "c"), "str", False), ("l", "list1")),
]


KEYS = ["id", "name", "items", "obj", "flag", "q", "f", "neg", "d", "price", "s", "stockId", "stock_id",
        "a", "b", "c", "l"]


BASES = [{"id": 1, "name": "n", "items": [], "obj": {}, "flag": True},
         {"q": 1, "f": 0, "neg": -1, "d": 2, "price": "1.00", "s": "x"},
         {"stockId": 1, "a": "x", "l": [1]}]


_values = (st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([-21, 20, 21, MAX_UNITS, MAX_UNITS + 1,
                                                                             -MAX_UNITS, -MAX_UNITS - 1])
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(["", " ", "x", "1.5", "19.99", "-1",
                                                                              "1e3", "0.1 ", "gid://x/1"])
           | st.lists(st.integers(0, 2), max_size=2) | st.dictionaries(st.sampled_from(["k"]), st.none(), max_size=1))


CHECK = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@CHECK
@given(st.integers(0, len(SHAPES) - 1), st.dictionaries(st.sampled_from(KEYS), _values, max_size=3),
       st.lists(st.sampled_from(KEYS), max_size=2), st.booleans())
def test_shape_fast_path_agrees_with_take(k, changes, dropped, from_scratch):
    shape = SHAPES[k]
    d = {} if from_scratch else dict(BASES[k])
    d.update(changes)
    for key in dropped:
        d.pop(key, None)
    fast = shape.fast(d)
    r = Reader("test", "order")
    slow = shape.slow(r, d, "x")
    if fast is not None:
        assert not r.problems, (d, r.problems)
        assert fast == slow
        assert [type(v) for v in fast] == [type(v) for v in slow]
    # read() is the fast path or else the careful one
    r2 = Reader("test", "order")
    assert shape.read(r2, d, "x") == (fast if fast is not None else slow)


def test_shape_fast_path_skips_absent_optional_keys():
    shape = SHAPES[0]
    assert shape.fast({"id": 7, "items": []}) == (7, None, [], None, None)
    assert shape.fast({"id": 7}) is None  # a required key is missing: the careful path reports it
    assert SHAPES[2].fast({"stock_id": 2, "c": "z", "l": [1]}) == (2, "z", [1])


def test_paths_table_formats_each_index_once():
    paths = Paths("lineItems", ".supplyChannel", limit=2)
    assert paths[1] == "lineItems[1].supplyChannel"
    assert paths[5] == "lineItems[5].supplyChannel"
    assert sorted(paths) == [1]  # past the limit: formatted, not kept
