"""Field declarations: the fast schema and the careful Shape generated from one Record agree."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from msgspec import UNSET

import sourcewise.engine.adapters.commercetools as ct_mod
import sourcewise.engine.adapters.generic as generic_mod
import sourcewise.engine.adapters.magento as magento_mod
import sourcewise.engine.adapters.shopify as shopify_mod
from sourcewise.engine.adapters.fastpath import fast_plain
from sourcewise.engine.adapters.fields import Field
from sourcewise.engine.adapters.fields import Record
from sourcewise.engine.adapters.fields import first_set
from sourcewise.engine.adapters.reader import MAX_UNITS
from sourcewise.engine.adapters.reader import Reader

RECORDS = {f"{mod.__name__.rsplit('.', 1)[-1]}.{name}": rec
           for mod in (shopify_mod, ct_mod, magento_mod, generic_mod)
           for name, rec in vars(mod).items() if isinstance(rec, Record)}

# values at the edges of every kind, nested ones included
_VALUES = st.sampled_from([None, True, 0, 1, -1, 2, 20, 21, 100, 101, MAX_UNITS, MAX_UNITS + 1, 2**64, 2.0, 1.5,
                           math.nan, "", " ", "\u00a0", "x", "1", "19.99", "1e3", "gid://shopify/X/1", [], [1],
                           [{}], {}, {"k": 1}])
CHECK = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


def _scalar(field: Field) -> bool:
    """Whether the Shape returns the same value the Struct holds (nested records differ in type)."""
    return field.of is None and field.kind != "absent"


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_what_the_fast_schema_takes_the_careful_shape_takes_with_the_same_values(name):
    record = RECORDS[name]
    keys = [k for f in record.fields if f.kind != "absent" for k in f.spellings]
    shape = record.shape()

    @CHECK
    @given(st.dictionaries(st.sampled_from(keys), _VALUES, max_size=len(keys)))
    def check(d):
        try:
            plain = msgspec.convert(d, record.struct)
        except msgspec.ValidationError:
            return
        if fast_plain(plain) is None:
            return  # a blank string: the fast path declines
        if any(f.required and first_set(*(getattr(plain, k) for k in f.spellings)) is UNSET
               for f in record.fields if not isinstance(f.key, str)):
            return  # msgspec cannot require one of several keys: the fast path checks, and declines
        r = Reader("test", "order")
        slow = shape.slow(r, d, "x")
        assert not r.problems, (d, r.problems)
        fields = [f for f in record.fields if f.kind != "absent"]
        for f, value in zip(fields, slow, strict=True):
            got = first_set(*(getattr(plain, k) for k in f.spellings))
            got = None if got is UNSET else got
            if _scalar(f):
                assert got == value or got != got and value != value, (f.key, got, value)
                assert type(got) is type(value), (f.key, got, value)
            else:
                assert (got is None) == (value is None), f.key

    check()


def test_alternative_spellings_become_one_unset_field_each():
    rec = Record("T", Field(("stockId", "stock_id"), "int", lo=1), Field(("a", "b"), "str", False))
    plain = msgspec.convert({"stock_id": 2, "a": None}, rec.struct)
    assert (plain.stockId, plain.stock_id, plain.a, plain.b) == (UNSET, 2, None, UNSET)
    assert first_set(plain.stockId, plain.stock_id) == 2
    assert first_set(plain.a, plain.b) is None  # present as null: read, as Reader.lookup does
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"stockId": 0}, rec.struct)  # lo=1


def test_take_reads_one_field_as_declared():
    r = Reader("test", "order")
    assert ct_mod.CENT_MONEY.take(r, {"fractionDigits": 21}, "fractionDigits", "price.value") is None
    assert [(p.field, p.reason) for p in r.problems] == [
        ("price.value.fractionDigits", "must be at most 20 in magnitude, got 21")]
    assert magento_mod.REQUEST.take(r, {"order_id": 7}, "orderId", "") == 7


def test_absent_fields_mark_another_payload_shape_and_are_never_read_carefully():
    flat = shopify_mod.FLAT_ORDER
    assert "order" not in [f[0] for f in flat.shape().fields]
    assert msgspec.convert({"id": 1, "line_items": [], "fulfillment_orders": []}, flat.struct).order is UNSET
