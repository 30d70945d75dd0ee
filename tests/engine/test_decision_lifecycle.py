"""Decisions as JSON and back; what release and commit return; stock that cannot go below zero."""

from __future__ import annotations

import json
from datetime import datetime

import msgspec
import pytest

from sourcewise import Decision
from sourcewise import Inventory
from sourcewise import Network
from sourcewise import Node
from sourcewise import Order
from sourcewise import OrderLine
from sourcewise import Policy
from sourcewise import ReservationError
from sourcewise import Router
from sourcewise import Sku
from sourcewise import StockRecord
from sourcewise import ValidationError


def _router(store=None) -> Router:
    net = Network.build(
        [Node("DC-EAST", "warehouse", 40.0, -75.2), Node("ST-NYC", "store", 40.75, -73.99, pickup=True)],
        [Sku("SKU-1", weight_kg=0.4, price=25.0), Sku("SKU-2", weight_kg=0.4, price=24.0)],
    )
    inv = Inventory.from_records(net, [StockRecord("DC-EAST", "SKU-1", 4), StockRecord("ST-NYC", "SKU-1", 3),
                                       StockRecord("DC-EAST", "SKU-2", 9)])
    return Router(net, inv, Policy(), store=store)


def _order(oid: str, qty: int = 2) -> Order:
    return Order(oid, (OrderLine("1", "SKU-1", qty),), lat=40.71, lon=-74.0, placed_at=datetime(2026, 5, 4, 10))


@pytest.mark.parametrize("qty", [2, 20], ids=["routed", "partial"])
def test_decision_round_trips_through_json(qty):
    d = _router().route(_order("O-1", qty))
    assert d.explanation is not None
    text = d.to_json()
    json.loads(text)  # plain JSON
    back = Decision.from_json(text)
    assert back.to_builtins() == d.to_builtins()
    for f in d.__struct_fields__:
        if f != "explanation":
            assert getattr(back, f) == getattr(d, f), f
    assert str(back.explanation) == str(d.explanation)
    assert Decision.from_builtins(d.to_builtins()).to_builtins() == d.to_builtins()
    # dates as ISO text, the explanation's candidates included
    doc = d.to_builtins()
    assert all(isinstance(s["promised_date"], str) for s in doc["shipments"])
    assert doc["explanation"]["candidates"]
    if qty == 20:
        assert doc["reasons"] and doc["reasons"][0]["code"] == "no_stock"


def test_a_decision_without_explanation_round_trips():
    d = msgspec.structs.replace(_router().route(_order("O-1")), explanation=None)
    assert Decision.from_json(d.to_json()) == d


def test_release_and_commit_return_the_final_state():
    r = _router()
    assert r.route(_order("O-1")).state == "open"
    r.route(_order("O-2"))
    released = r.release("O-1")
    assert released.state == "released" and released.order_id == "O-1"
    committed = r.commit("O-2")
    assert committed.state == "committed"
    assert r.decision("O-2") == committed
    with pytest.raises(ReservationError, match="already committed"):
        r.commit("O-2")
    with pytest.raises(ReservationError, match="already committed"):
        r.release("O-2")
    with pytest.raises(ReservationError, match="holds no reservation"):
        r.commit("O-1")


def test_commit_many_orders_report_committed():
    r = _router()
    r.route_many([_order("B-1", 1), _order("B-2", 1)])
    r.commit_many(["B-1", "B-2"])
    assert r.decision("B-1").state == "committed"
    with pytest.raises(ReservationError, match="already committed"):
        r.commit("B-2")


def test_second_commit_with_a_store_says_already_committed(tmp_path):
    r = _router(store=f"sqlite:///{tmp_path / 'l.db'}")
    r.route(_order("O-1"))
    r.commit("O-1")
    with pytest.raises(ReservationError, match="already committed"):
        r.commit("O-1")
    assert r.decision("O-1").state == "committed"
    r.close()


def test_adjust_stock_below_zero_is_refused_and_changes_nothing(tmp_path):
    r = _router(store=f"sqlite:///{tmp_path / 'l.db'}")
    before = r.snapshot().on_hand.copy()
    with pytest.raises(ValidationError, match="below zero"):
        r.adjust_stock("DC-EAST", "SKU-1", -5)
    assert (r.snapshot().on_hand == before).all()
    assert r.on_hand("DC-EAST", "SKU-1") == 4
    # a decrease into reserved units takes only the free ones, as documented
    r.route(Order("O-1", (OrderLine("1", "SKU-2", 6),), lat=40.0, lon=-75.2))
    assert r.adjust_stock("DC-EAST", "SKU-2", -9) == -3
    assert r.on_hand("DC-EAST", "SKU-2") == 6
    r.close()
    # the ledger holds what was applied: recovery agrees
    with Router.recover(f"sqlite:///{tmp_path / 'l.db'}") as back:
        assert back.on_hand("DC-EAST", "SKU-2") == 6
        assert back.on_hand("DC-EAST", "SKU-1") == 4
