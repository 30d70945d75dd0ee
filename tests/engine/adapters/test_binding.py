"""Binding orders to a catalog: the plain binder declines what the model rejects."""

from __future__ import annotations

import pytest

import sourcewise.engine.adapters.binding as binding_mod
from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.records import Address
from sourcewise.engine.adapters.records import LineIn
from sourcewise.engine.adapters.records import OrderIn
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine
from tests.engine.adapters.test_fuzz import session_for


def test_bind_plain_declines_what_the_model_rejects():
    """An order the model rejects takes the careful path, which names the field; a plain one binds."""
    catalog = session_for("generic").catalog
    sku = catalog.network.skus[0].sku
    line = LineIn("1", "1", sku, 2, "lines[0]")
    good = OrderIn("o-1", "o-1", (line,), Address("10001", "US"))
    bound = binding_mod.bind_plain(good, catalog)
    assert bound is not None and bound.order == Order("o-1", (OrderLine("1", sku, 2),), bound.destination.lat,
                                                      bound.destination.lon)
    bad = good._replace(max_shipments=0)
    assert binding_mod.bind_plain(bad, catalog) is None
    with pytest.raises(AdapterError) as exc:
        binding_mod.bind_order(bad, catalog, Reader("generic", "order"))
    assert exc.value.fields == ("max_shipments",)
