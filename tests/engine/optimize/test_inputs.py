"""The caller's inputs: every problem reported together; capacities by node id."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine.optimize import optimize
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models.errors import ValidationError
from tests.engine.optimize.support import contested


# ------------------------------------------------------------------------ validation
def test_bad_arguments_are_reported_together():
    net, inv, orders = contested(1)
    with pytest.raises(ValidationError) as exc:
        optimize(orders + [orders[0]], net, inv, time_limit=-1, solver="gurobi", unfilled_penalty=0,
                 node_capacity_orders={"nope": 3}, node_capacity_units=np.ones(net.n_nodes + 1))
    msg = str(exc.value)
    for part in ("time_limit", "solver", "unfilled_penalty", "duplicate order_id", "unknown node", "shape"):
        assert part in msg


def test_capacity_dict_limits_named_nodes():
    net = Network.build([Node("A", "warehouse", 40.0, -75.0), Node("B", "warehouse", 34.0, -118.0)],
                        [Sku("S")])
    inv = Inventory.from_records(net, [StockRecord("A", "S", 10), StockRecord("B", "S", 10)])
    orders = [Order(f"o{i}", (OrderLine("1", "S", 1),), 40.1, -75.1) for i in range(3)]
    plan = optimize(orders, net, inv, time_limit=5, node_capacity_orders={"A": 1})
    assert (plan.allocations["node_id"] == "A").sum() == 1
    assert plan.units_unfilled == 0
