"""The optimizer's tables and decisions: the router's cost model, one decision per order."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine.optimize import optimize
from sourcewise.engine.optimize.inputs import prepare
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.engine.optimize.results import tables
from sourcewise.engine.router import Router
from sourcewise.engine.scenario import load_scenario
from sourcewise.models import Policy
from tests.conftest import SAMPLE
from tests.engine.optimize.support import contested


def test_decisions_match_the_tables():
    net, inv, orders = contested(3, n_orders=4)
    plan = optimize(orders, net, inv, Policy(), time_limit=5)
    assert len(plan.decisions) == len(orders)
    for d, row in zip(plan.decisions, plan.orders.itertuples(), strict=True):
        assert d.order_id == row.order_id
        assert d.strategy == "optimize"
        assert d.units == row.units
        assert d.cost.total == pytest.approx(row.cost)
        assert len(d.shipments) == row.shipments
        assert sum(q for _, q in d.unfilled) == row.unfilled


# ------------------------------------------------------------- the router's cost model
def test_costs_and_eligibility_match_the_router_on_the_sample():
    """The optimizer prices the router's own plans exactly as the router reports them
    (tiers, deadlines, vendor offers and capacities included; walk-in depletion left out
    because the router prices it at the stock left when each order is routed)."""
    from sourcewise.engine.vendors import VendorOffers

    sc = load_scenario(SAMPLE)
    offers = VendorOffers.from_frame(sc.network, sc.tables["vendor_offers"])
    router = Router(sc.network, sc.inventory, sc.policy, vendor_offers=offers)
    res = router.route_many(sc.orders, strategy="cost", one_day=True)  # one batch, as the optimizer plans it
    batch, policy, cap_o, cap_u = prepare(sc.orders, sc.network, sc.inventory, sc.policy, 5, "highs", None,
                                             None, None)
    pb = build_problem(batch, sc.network, sc.inventory, policy,
                    Router(sc.network, sc.inventory, sc.policy, vendor_offers=offers).stock_view(), cap_o, cap_u, None,
                    1000, 2)
    cols = pb.add_allocations(res.allocations)
    assert pb.master.feasible(cols)
    _, ours, _ = tables(pb, cols)
    theirs = res.orders
    for c in ("shipments", "units", "unfilled", "shipping", "handling", "vendor_fees", "split_penalty",
              "penalties", "distance_km", "promised_days"):
        np.testing.assert_allclose(ours[c].to_numpy(float), theirs[c].to_numpy(float), rtol=1e-9, atol=1e-7,
                                   err_msg=c)
