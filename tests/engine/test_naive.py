"""The labelled naive baseline router (engine.naive)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sourcewise.data.instances import build_instance
from sourcewise.data.instances import to_frames
from sourcewise.engine.naive import NaiveRouter
from sourcewise.engine.naive import haversine_miles
from sourcewise.engine.naive import route_naive
from sourcewise.engine.router import Router
from sourcewise.models import Policy
from sourcewise.models import ValidationError
from tests import naive as ref

# three nodes on one meridian: A at the customer, B 69 miles north, C 138 miles north
NODES = pd.DataFrame({
    "node_id": ["A", "B", "C"], "kind": ["store", "warehouse", "store"],
    "lat": [40.0, 41.0, 42.0], "lon": [-100.0, -100.0, -100.0],
    "handling_per_shipment": [1.0, 2.0, 0.0], "handling_per_unit": [0.5, 0.0, 0.0],
})


def orders(*rows):
    return pd.DataFrame(rows, columns=["order_id", "line_id", "sku", "qty", "lat", "lon"])


def inventory(*rows):
    return pd.DataFrame(rows, columns=["node_id", "sku", "on_hand", "safety_stock"])


def test_haversine_matches_reference(rng):
    for _ in range(100):
        a, b, c, d = rng.uniform(-89, 89), rng.uniform(-180, 180), rng.uniform(-89, 89), rng.uniform(-180, 180)
        assert haversine_miles(a, b, c, d) == pytest.approx(ref.haversine_miles(a, b, c, d), rel=1e-12)


@pytest.mark.parametrize("distance", ["python", "numpy"])
def test_nearest_with_stock_then_depletes(distance):
    inv = inventory(("A", "X", 1, 0), ("B", "X", 5, 0), ("C", "X", 5, 0))
    r = NaiveRouter(NODES, inv, distance=distance)
    res = r.route_frame(orders(("o1", "1", "X", 1, 40.0, -100.0), ("o2", "1", "X", 3, 40.0, -100.0),
                               ("o3", "1", "X", 4, 40.0, -100.0)))
    got = [tuple(x) for x in res.allocations[["order_id", "node_id", "qty"]].itertuples(index=False)]
    assert got == [("o1", "A", 1), ("o2", "B", 3), ("o3", "B", 2), ("o3", "C", 2)]
    assert res.orders["status"].tolist() == ["routed"] * 3
    assert res.orders["shipments"].tolist() == [1, 1, 2]
    assert r.stock["X"] == {"A": 0, "B": 0, "C": 3}


def test_safety_stock_partial_and_unroutable():
    inv = inventory(("A", "X", 2, 2), ("B", "X", 3, 1))
    res = route_naive(NODES, inv, orders(("o1", "1", "X", 5, 40.0, -100.0), ("o1", "2", "Y", 1, 40.0, -100.0),
                                         ("o2", "1", "X", 1, 40.0, -100.0)))
    assert res.allocations[["order_id", "node_id", "qty"]].values.tolist() == [["o1", "B", 2]]
    o = res.orders.set_index("order_id")
    assert o.loc["o1", "status"] == "partial" and o.loc["o1", "unfilled"] == 4
    assert o.loc["o2", "status"] == "unroutable" and o.loc["o2", "units"] == 0


def test_disabled_nodes_never_ship():
    nodes = NODES.assign(enabled=[False, True, True], ships=[True, True, False])
    inv = inventory(("A", "X", 9, 0), ("B", "X", 1, 0), ("C", "X", 9, 0))
    res = route_naive(nodes, inv, orders(("o1", "1", "X", 3, 40.0, -100.0)))
    assert res.allocations[["node_id", "qty"]].values.tolist() == [["B", 1]]
    assert res.orders["status"].tolist() == ["partial"]


def test_reported_cost_uses_the_engine_cost_model():
    inv = inventory(("B", "X", 5, 0), ("C", "Y", 5, 0))
    pol = Policy()
    skus = pd.DataFrame({"sku": ["X", "Y"], "price": [10.0, 20.0], "weight_kg": [1.0, 2.0]})
    res = NaiveRouter(NODES, inv, skus, cost=pol.cost, split_penalty=2.5).route_frame(
        orders(("o1", "1", "X", 2, 40.0, -100.0), ("o1", "2", "Y", 1, 40.0, -100.0)))
    cm = pol.cost
    mb = haversine_miles(40.0, -100.0, 41.0, -100.0)
    mc = haversine_miles(40.0, -100.0, 42.0, -100.0)
    want = (2 * cm.per_shipment + 2.0 + 0.0 + 2.5
            + 2 * (cm.per_unit + cm.per_unit_mile * mb) + 1 * (cm.per_unit + cm.per_unit_mile * mc))
    assert res.orders["cost"].iloc[0] == pytest.approx(want)
    assert res.orders["distance_km"].iloc[0] == pytest.approx((mb + mc) * 1.609344)


def test_missing_columns_listed_together():
    with pytest.raises(ValidationError) as e:
        NaiveRouter(NODES.drop(columns=["lat"]), inventory().drop(columns=["on_hand"]), distance="gpu")
    assert {p.field for p in e.value.problems} == {"lat", "on_hand", "distance"}
    r = NaiveRouter(NODES, inventory(("A", "X", 1, 0)))
    with pytest.raises(ValidationError):
        r.route_frame(pd.DataFrame({"order_id": ["o"], "sku": ["X"]}))


def test_python_and_numpy_distances_agree():
    inst = build_instance(300, 40, 300, seed=4)
    fr = to_frames(inst)
    a = route_naive(fr["nodes"], fr["inventory"], fr["orders"], fr["skus"], distance="python")
    b = route_naive(fr["nodes"], fr["inventory"], fr["orders"], fr["skus"], distance="numpy")
    pd.testing.assert_frame_equal(a.allocations, b.allocations)
    np.testing.assert_allclose(a.orders["cost"], b.orders["cost"], rtol=1e-9)


def test_same_allocations_as_engine_nearest_without_shipment_limit():
    """With no split limit and no vendor tier, the engine's ``nearest`` strategy is this router."""
    inst = build_instance(400, 30, 200, seed=5, vendors=False)
    fr = to_frames(inst)
    mine = route_naive(fr["nodes"], fr["inventory"], fr["orders"], fr["skus"]).allocations
    eng = Router(inst.network, inst.inventory, Policy(strategy="nearest", max_shipments=10_000))
    theirs = eng.route_many(inst.orders).allocations
    cols = ["order_id", "line_id", "sku", "node_id", "qty"]
    key = ["order_id", "line_id", "node_id"]
    a = mine[cols].sort_values(key).reset_index(drop=True)
    b = theirs[cols].sort_values(key).reset_index(drop=True).astype(a.dtypes.to_dict())
    pd.testing.assert_frame_equal(a, b)
