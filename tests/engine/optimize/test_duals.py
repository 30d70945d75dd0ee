"""dual_prices(): LP shadow prices the router's dual strategy can use."""

from __future__ import annotations

import numpy as np

from sourcewise.engine.optimize import dual_prices
from sourcewise.engine.optimize.inputs import prepare
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.engine.optimize.results import tables
from sourcewise.engine.router import Router
from sourcewise.engine.scenario import load_scenario
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from tests.conftest import SAMPLE


# ----------------------------------------------------------------------- dual prices
def test_dual_strategy_runs_on_lp_prices_and_reports_real_costs():
    sc = load_scenario(SAMPLE)
    prices = dual_prices(sc.orders, sc.network, sc.inventory, sc.policy, time_limit=5)
    assert prices.shape == (sc.inventory.nnz,)
    assert np.isfinite(prices).all() and (prices >= 0).all()
    assert (prices > 0).any()  # the sample's stock is contested
    router = Router(sc.network, sc.inventory, sc.policy)
    router.set_dual_prices(prices)
    res = router.route_many(sc.orders, strategy="dual", one_day=True)  # one batch, as the prices were made
    # the reported costs are real ones: re-pricing the same allocations gives the same numbers
    batch, policy, cap_o, cap_u = prepare(sc.orders, sc.network, sc.inventory, sc.policy, 5, "highs", None,
                                             None, None)
    pb = build_problem(batch, sc.network, sc.inventory, policy, Router(sc.network, sc.inventory, sc.policy).stock_view(),
                    cap_o, cap_u, None, 1000, 2)
    _, ours, _ = tables(pb, pb.add_allocations(res.allocations))
    np.testing.assert_allclose(ours["cost"].to_numpy(), res.orders["cost"].to_numpy(), rtol=1e-9, atol=1e-7)


def test_dual_prices_are_zero_without_contention():
    net = Network.build([Node("A", "warehouse", 40.0, -75.0)], [Sku("S")])
    inv = Inventory.from_records(net, [StockRecord("A", "S", 100)])
    orders = [Order(f"o{i}", (OrderLine("1", "S", 1),), 40.1, -75.1) for i in range(3)]
    assert (dual_prices(orders, net, inv, time_limit=2) == 0).all()
