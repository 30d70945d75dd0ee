"""The column store: plans registered once, found by content, priced by the plan kernels."""

from __future__ import annotations

import numpy as np

from sourcewise.engine.optimize.inputs import new_router
from sourcewise.engine.optimize.inputs import prepare
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.models import Policy
from tests.engine.optimize.support import contested


def _problem(seed: int = 4) -> Problem:
    net, inv, orders = contested(seed, n_orders=3)
    batch, policy, cap_o, cap_u = prepare(orders, net, inv, Policy(), 5, "highs", None, None, None)
    view = new_router(net, inv, policy, None, None).stock_view()
    return build_problem(batch, net, inv, policy, view, cap_o, cap_u, 30.0, 1000, 2)


def test_repeated_plans_get_one_column_and_are_found_by_content():
    pb = _problem()
    zl, zn = np.zeros(pb.inv.nnz), np.zeros(pb.net.n_nodes)
    res = pb.price(zl, zn, zn, n_single=2)
    best = pb.priced_ids(res, 2, 0)
    n = pb.n_cols
    added = pb.add_priced(res, 2, np.ones(len(res.c_nrows), bool))
    assert added == pb.n_cols - n
    assert pb.add_priced(res, 2, np.ones(len(res.c_nrows), bool)) == 0  # nothing new the second time
    np.testing.assert_array_equal(pb.priced_ids(res, 2, 0), best)
    order, ptr, (_, _, qty, ent) = pb.columns()
    for j in best[best >= 0].tolist():
        assert pb.find_column(int(order[j]), ent[ptr[j]:ptr[j + 1]], qty[ptr[j]:ptr[j + 1]]) == j


def test_zero_prices_price_plans_at_their_objective():
    pb = _problem()
    zl, zn = np.zeros(pb.inv.nnz), np.zeros(pb.net.n_nodes)
    res = pb.price(zl, zn, zn)
    best = pb.priced_ids(res, 0, 0)
    has = best >= 0
    # a plan's price at zero duals is its real cost plus the unfilled penalty: the master's cost
    np.testing.assert_allclose(res.c_price[has], pb.master.flat()[1][best[has]], rtol=1e-9)
    assert (res.o_lower <= res.c_price + 1e-9).all()
    np.testing.assert_array_equal(pb.entry_prices(None), np.zeros(pb.inv.nnz))
    np.testing.assert_array_equal(pb.row_prices(np.array([])), np.zeros(pb.master.n_rows))
