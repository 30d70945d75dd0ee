""":func:`dual_prices`: shadow prices of stock from the LP relaxation over a batch."""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sourcewise.engine.optimize.inputs import new_router
from sourcewise.engine.optimize.inputs import prepare
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.engine.optimize.solve import solve
from sourcewise.engine.optimize.sourcing import warm_up
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.order import Order
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch


def dual_prices(orders: OrderBatch | Iterable[Order], network: Network, inventory: Inventory,
                policy: Policy | None = None, time_limit: float = 10.0, *,
                node_capacity_orders: np.ndarray | Mapping[str, int | None] | None = None,
                node_capacity_units: np.ndarray | Mapping[str, int | None] | None = None,
                walkin: pd.DataFrame | None = None, vendor_offers=None,
                unfilled_penalty: float | None = None) -> np.ndarray:
    """Shadow price of stock at every inventory entry, from the LP relaxation over a batch.

    Solve it over a recent wave or a demand forecast and pass the result to
    :meth:`sourcewise.engine.router.Router.set_dual_prices`: the ``dual`` strategy then
    charges each unit its opportunity cost, so stock that other orders of the
    wave need more is used less readily.

    Parameters
    ----------
    orders, network, inventory, policy, node_capacity_orders, node_capacity_units, walkin, vendor_offers, unfilled_penalty
        As for :func:`optimize`.
    time_limit : float
        Seconds for column generation; the prices come from the last LP solved.

    Returns
    -------
    ndarray of float, shape (inventory.nnz,)
        Aligned with the inventory's entries, ``>= 0``. Includes the node's
        unit-capacity price where capacities bind.
    """
    warm_up()
    t0 = time.perf_counter()
    batch, policy, cap_o, cap_u = prepare(orders, network, inventory, policy, time_limit, "highs",
                                           unfilled_penalty, node_capacity_orders, node_capacity_units)
    router = new_router(network, inventory, policy, walkin, vendor_offers)
    pb = build_problem(batch, network, inventory, policy, router.stock_view(), cap_o, cap_u, unfilled_penalty,
                  200_000, 4)
    st = solve(pb, None, float(time_limit), "highs", False, None, 1.0, 0, t0)
    return pb.entry_prices(st.last_prices)
