"""The batch optimizer's plan kernels (`_kernels.plans`) against their twins in ``tests/naive.py``.

Distances: the kernels' arc on unit vectors against the twins' haversine, equal to about 1e-12
relative; so values that carry miles are compared at rtol 1e-9, the rest exactly or at 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine import _kernels as K
from sourcewise.engine._kernels import plans as P
from sourcewise.models.network import unit_vectors
from tests import naive
from tests.conftest import make_inventory
from tests.engine.kernels import random_network
from tests.engine.kernels import random_policy

MILES = dict(rtol=1e-9, atol=1e-9)


def _batch(seed, n_nodes=20, n_skus=8):
    """A random network, policy and stock as :mod:`sourcewise.engine.optimize` hands them to the kernels."""
    rng = np.random.default_rng(seed)
    net = random_network(rng, n_nodes, n_skus, disabled=0.1)
    inv = make_inventory(rng, net, density=0.6, max_qty=5)
    pol = random_policy(rng)
    nodef = K.pack_nodes(net)
    stock = dict(sku_ptr=inv.sku_ptr, ent_node=inv.node,
                 atp_e=np.maximum(inv.on_hand - inv.safety_stock - inv.reserved, 0).astype(np.int64),
                 mask=net.usable & (rng.random(n_nodes) < 0.9), cap_o=rng.integers(0, 3, n_nodes),
                 cap_u=rng.integers(0, 6, n_nodes), bands=np.array(pol.service.transit_bands),
                 fee_e=rng.uniform(0, 3, inv.nnz) * (rng.random(inv.nnz) < 0.4),
                 pen_e=rng.uniform(0, 2, inv.nnz) * (rng.random(inv.nnz) < 0.4))
    return rng, net, pol, nodef, K.cost_params(pol, nodef), stock


def _order(rng, net):
    """Groups (distinct SKUs) and units, a US destination, hour, deadline and per-node distance limit."""
    g_sku = rng.choice(net.n_skus, int(rng.integers(1, 4)), replace=False).astype(np.int64)
    g_qty = rng.integers(1, 4, len(g_sku)).astype(np.int64)
    lat, lon = float(rng.uniform(26, 48)), float(rng.uniform(-123, -70))
    maxm = rng.choice([-1.0, 600.0, np.inf], net.n_nodes)
    return g_sku, g_qty, lat, lon, float(rng.uniform(0, 24)), float(rng.choice([-1.0, 2.0, 3.0, 4.0])), maxm


def _bundles(net, nodef, p, stock, dest, hour, max_days, maxmiles, g_ptr, g_sku, g_qty):
    """The kernels' input bundles for orders ``o`` whose channel is ``o`` (row ``o`` of ``maxmiles``)."""
    s = stock
    n = len(hour)
    orders = P.Orders(np.ascontiguousarray(dest), np.asarray(hour, np.float64), np.asarray(max_days, np.float64),
                      np.arange(n, dtype=np.int64), g_ptr, g_sku, g_qty, np.full(n, 3, np.int64))
    st = P.Stock(s["sku_ptr"], s["ent_node"], s["atp_e"], s["mask"], s["cap_o"], s["cap_u"],
                 np.ascontiguousarray(maxmiles, dtype=np.float64))
    return orders, st, P.Costs(nodef, p, s["bands"], net.weight_kg, s["fee_e"], s["pen_e"])


def _candidates(net, pol, nodef, p, stock, g_sku, lat, lon, hour, max_days, maxm):
    mark = np.full(net.n_nodes, -1, np.int64)
    dest = unit_vectors(np.array([lat]), np.array([lon])).reshape(1, 3)
    orders, st, costs = _bundles(net, nodef, p, stock, dest, [hour], [max_days], maxm.reshape(1, -1),
                                 np.array([0, len(g_sku)], np.int64), g_sku, np.ones(len(g_sku), np.int64))
    got = P._candidates(orders, 0, st, costs, mark)
    assert (mark == -1).all()
    return got


@pytest.mark.parametrize("seed", range(5))
def test_candidates_and_their_costs_match_the_twin(seed):
    rng, net, pol, nodef, p, stock = _batch(seed)
    seen = 0
    for _ in range(40):
        g_sku, _, lat, lon, hour, max_days, maxm = _order(rng, net)
        cand, atp, ent, miles, lead, fixed, unit = _candidates(net, pol, nodef, p, stock, g_sku, lat, lon, hour,
                                                               max_days, maxm)
        want = naive.plan_candidates(net, pol, g_sku, lat=lat, lon=lon, hour=hour, max_days=max_days, maxm=maxm,
                                     **stock)
        assert cand.tolist() == want[0]
        seen += len(cand)
        G = len(g_sku)
        np.testing.assert_array_equal(atp, np.reshape(want[1], (-1, G)))
        np.testing.assert_array_equal(ent, np.reshape(want[2], (-1, G)))
        np.testing.assert_allclose(miles, want[3], **MILES)
        np.testing.assert_array_equal(lead, want[4])
        np.testing.assert_allclose(fixed, want[5], **MILES)
        np.testing.assert_allclose(unit, np.reshape(want[6], (-1, G)), **MILES)
    assert seen > 50



def _orders(rng, net, n: int):
    """``n`` random orders (:func:`_order`) and their batch columns, as the plan kernels take them."""
    orders = [_order(rng, net) for _ in range(n)]
    g_ptr = np.r_[0, np.cumsum([len(o[0]) for o in orders])].astype(np.int64)
    g_sku, g_qty = (np.concatenate([o[i] for o in orders]) for i in (0, 1))
    dest = unit_vectors(np.array([o[2] for o in orders]), np.array([o[3] for o in orders]))
    hour, max_days = (np.array([o[i] for o in orders]) for i in (4, 5))
    return orders, g_ptr, g_sku, g_qty, dest, hour, max_days, np.array([o[6] for o in orders])


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("parallel", [False, True])
def test_candidate_table_prices_as_the_per_order_scan(seed, parallel):
    """The table holds each order's candidates as :func:`P._candidates` gives them, and pricing from it
    writes the same plans, prices and bounds as pricing that scans each order's candidates itself."""
    rng, net, pol, nodef, p, stock = _batch(seed)
    orders, g_ptr, g_sku, g_qty, dest, hour, max_days, maxmiles = _orders(rng, net, 30)
    bo, st, costs = _bundles(net, nodef, p, stock, dest, hour, max_days, maxmiles, g_ptr, g_sku, g_qty)
    tab = P.candidate_table(bo, st, costs)
    mark = np.full(net.n_nodes, -1, np.int64)
    for o in range(len(orders)):
        want = P._candidates(bo, o, st, costs, mark)
        got = P._cached(tab, o, g_ptr[o + 1] - g_ptr[o])
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(g, w)
    prices = P.Prices(rng.uniform(0, 2, len(stock["atp_e"])), rng.uniform(0, 1, net.n_nodes),
                      rng.uniform(0, 0.5, net.n_nodes), np.full(len(orders), 60.0))
    active = rng.random(len(orders)) < 0.8
    a = P.price_orders(bo, st, costs, prices, 1000, 2, active, parallel)
    b = P.price_orders(bo, st, costs, prices, 1000, 2, active, parallel, tab)
    for name in ("c_nrows", "c_unfilled", "c_real", "c_price", "o_lower"):
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
    for col in np.flatnonzero(a.c_nrows > 0):
        o, j = divmod(col, 3)
        G = g_ptr[o + 1] - g_ptr[o]
        lo = (P.KMAX + 2) * g_ptr[o] + (0 if j == 0 else P.KMAX * G + (j - 1) * G)
        for name in ("r_node", "r_group", "r_qty", "r_ent"):
            np.testing.assert_array_equal(getattr(b, name)[lo:lo + a.c_nrows[col]],
                                          getattr(a, name)[lo:lo + a.c_nrows[col]])
    assert (a.c_nrows > 0).sum() > 20

@pytest.mark.parametrize("seed", range(3))
def test_batch_facts_match_the_twin(seed):
    rng, net, pol, nodef, p, stock = _batch(seed)
    orders, g_ptr, g_sku, g_qty, dest, hour, max_days, maxmiles = _orders(rng, net, 30)
    top, short = P.batch_facts(*_bundles(net, nodef, p, stock, dest, hour, max_days, maxmiles, g_ptr, g_sku,
                                         g_qty))
    want_top, want_short = naive.batch_facts(net, pol, orders, **stock)
    np.testing.assert_allclose(top, want_top, **MILES)
    np.testing.assert_array_equal(short, want_short)
    assert short.any() and (short == 0).any()


def _prices(rng, C, G, scarce=False):
    """Random priced candidates: ATP, unit prices ``r`` on a coarse grid (ties common) and parcel prices ``f``.
    ``scarce``: at most one unit per candidate, so filling an order takes up to three parcels."""
    atp = (rng.integers(1 if scarce else 0, 2 if scarce else 4, (C, G)) * (rng.random((C, G)) < 0.8)).astype(np.int64)
    r = np.round(rng.uniform(0, 12, (C, G)) * 2) / 2
    f = np.round(rng.uniform(0, 10, C) * 2) / 2
    qty = rng.integers(1, 4, G).astype(np.int64)
    penalty = 30.0 if scarce else float(rng.choice([6.0, 9.0, 30.0]))
    return qty, atp, r, f / 2 if scarce else f, penalty, float(rng.choice([0.0, 1.5]))


@pytest.mark.parametrize("seed", range(4))
def test_eval_pen_matches_the_twin(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        C, G = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        qty, atp, r, f, penalty, split = _prices(rng, C, G)
        m = int(rng.integers(1, min(3, C) + 1))
        S = np.full(3, -1, np.int64)
        S[:m] = rng.choice(C, m, replace=False)
        buf = np.zeros((3, G), np.int64)
        got = P._eval_pen(S, m, qty, atp, r, f, penalty, split, buf, True)
        want, take = naive.eval_pen(S[:m].tolist(), qty.tolist(), atp.tolist(), r.tolist(), f.tolist(), penalty,
                                    split)
        np.testing.assert_allclose(got, want, rtol=1e-12)
        np.testing.assert_array_equal(buf[:m], take)
        assert P._eval_pen(S, m, qty, atp, r, f, penalty, split, buf, False) == got


@pytest.mark.parametrize("seed", range(4))
def test_plan_search_matches_brute_force_over_node_sets(seed):
    rng = np.random.default_rng(seed)
    sizes = set()
    for trial in range(60):
        C, G = int(rng.integers(1, 6)), int(rng.integers(1, 3))
        qty, atp, r, f, penalty, split = _prices(rng, C, G, scarce=trial % 2 == 1)
        kk = int(rng.integers(1, 4))
        best = np.empty(3, np.int64)
        price, lower = P._search(qty, atp, r, f, kk, penalty, split, 10**9, best)
        want = naive.plan_search(qty.tolist(), atp.tolist(), r.tolist(), f.tolist(), kk, penalty, split)
        np.testing.assert_allclose([price, lower], [want, want], rtol=1e-12)
        S = [c for c in best.tolist() if c >= 0]
        assert len(S) <= kk
        sizes.add(len(S))
        # the set it names ships at that price
        np.testing.assert_allclose(naive.eval_pen(S, qty.tolist(), atp.tolist(), r.tolist(), f.tolist(), penalty,
                                                  split)[0], price, rtol=1e-12)
        # out of budget, the price is still a plan's and the bound still a bound
        price, lower = P._search(qty, atp, r, f, kk, penalty, split, 0, best)
        assert lower <= want + 1e-9 <= price + 2e-9
    assert sizes == {0, 1, 2, 3}


@pytest.mark.parametrize("seed", range(4))
def test_dp_plan_matches_brute_force_for_any_number_of_parcels(seed):
    rng = np.random.default_rng(100 + seed)
    sizes = set()
    for trial in range(50):
        wide = trial % 4 == 1  # one unit per member and up to five units: plans of four and five parcels
        C, G = int(rng.integers(5 if wide else 1, 7)), int(rng.integers(1, 3))
        qty, atp, r, f, penalty, split = _prices(rng, C, G, scarce=trial % 2 == 1)
        qty = qty + 2 if wide else qty
        kk = 5 if wide else int(rng.integers(1, 6))
        take = np.zeros((C, G), np.int64)
        price = P._dp_plan(qty, atp, r, f, kk, penalty, split, take)
        want = naive.plan_search(qty.tolist(), atp.tolist(), r.tolist(), f.tolist(), kk, penalty, split)
        np.testing.assert_allclose(price, want, rtol=1e-12, atol=1e-9)
        # the split it returns is a plan: within ATP and the group's units, at most kk members, at that price
        assert (take <= np.maximum(atp, 0)).all() and (take.sum(axis=0) <= qty).all()
        members = [c for c in range(C) if take[c].any()]
        assert len(members) <= kk
        sizes.add(len(members))
        got = naive.plan_price(members, [take[c].tolist() for c in members], qty.tolist(), r.tolist(), f.tolist(),
                               penalty, split)
        np.testing.assert_allclose(got, price, rtol=1e-12, atol=1e-9)
    assert {0, 1, 2, 3} <= sizes and max(sizes) >= 4


@pytest.mark.parametrize("seed", range(3))
def test_dp_plan_matches_brute_force_on_orders_of_three_skus(seed):
    # the programme adds each member's units group by group: three groups exercise the layering
    rng = np.random.default_rng(300 + seed)
    for _ in range(25):
        C = int(rng.integers(1, 5))
        qty, atp, r, f, penalty, split = _prices(rng, C, 3)
        kk = int(rng.integers(1, 4))
        take = np.zeros((C, 3), np.int64)
        price = P._dp_plan(qty, atp, r, f, kk, penalty, split, take)
        want = naive.plan_search(qty.tolist(), atp.tolist(), r.tolist(), f.tolist(), kk, penalty, split)
        np.testing.assert_allclose(price, want, rtol=1e-12, atol=1e-9)
        members = [c for c in range(C) if take[c].any()]
        got = naive.plan_price(members, [take[c].tolist() for c in members], qty.tolist(), r.tolist(), f.tolist(),
                               penalty, split)
        np.testing.assert_allclose(got, price, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_singles_match_the_twin(seed):
    rng = np.random.default_rng(400 + seed)
    for trial in range(100):
        C, G = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        qty, atp, r, f, penalty, split = _prices(rng, C, G, scarce=trial % 2 == 1)
        got = P._singles(qty, atp, r, f, penalty, split)
        want = [naive.eval_pen([c], qty.tolist(), atp.tolist(), r.tolist(), f.tolist(), penalty, split)[0]
                for c in range(C)]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _thin(rng, C, G):
    """Priced candidates as on thin stock: most hold a unit or two of one group, parcels cost alike."""
    atp = np.zeros((C, G), np.int64)
    for c in range(C):
        held = rng.choice(G, min(G, 1 + int(rng.random() < 0.3)), replace=False)
        atp[c, held] = rng.integers(1, 3, len(held))
    r = np.round(rng.uniform(0, 4, (C, G)) * 2) / 2
    f = np.full(C, 5.0) + np.round(rng.uniform(0, 1, C) * 2) / 2 * (rng.random(C) < 0.3)
    qty = rng.integers(1, 4, G).astype(np.int64)
    return qty, atp, r, f, float(rng.choice([6.0, 30.0])), float(rng.choice([0.0, 1.5]))


@pytest.mark.parametrize("seed", range(4))
def test_candidate_filters_keep_an_optimal_plan(seed):
    # the dynamic programme runs over the candidates the filters keep: the best plan over them must be
    # the best over all candidates, whichever of them the filters drop
    rng = np.random.default_rng(500 + seed)
    dropped = [0, 0]
    for trial in range(40):
        C, G = int(rng.integers(2, 8)), int(rng.integers(1, 4))
        qty, atp, r, f, penalty, split = (_thin(rng, C, G) if trial % 2 == 0
                                          else _prices(rng, C, G, scarce=trial % 4 == 1))
        kk = int(rng.integers(1, 5))
        want = naive.plan_search(qty.tolist(), atp.tolist(), r.tolist(), f.tolist(), kk, penalty, split)
        single = P._singles(qty, atp, r, f, penalty, split)
        useful = P._useful(qty, atp, r, f, penalty, single, split)
        kept = P._undominated(qty, atp, r, f, kk, penalty, useful)
        assert set(kept.tolist()) <= set(useful.tolist())
        dropped[0] += C - len(useful)
        dropped[1] += len(useful) - len(kept)
        for keep in (useful, kept):
            got = naive.plan_search(qty.tolist(), atp[keep].tolist(), r[keep].tolist(), f[keep].tolist(), kk,
                                    penalty, split)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
    # each filter dropped candidates somewhere, so the comparison above tested it
    assert min(dropped) > 0


@pytest.mark.parametrize("seed", range(3))
def test_search_bounds_sets_larger_than_it_searches(seed):
    # kk > 3: the search lists sets of up to three members, and its bound must hold for larger ones
    rng = np.random.default_rng(200 + seed)
    for _ in range(40):
        C, G = int(rng.integers(4, 7)), int(rng.integers(1, 3))
        qty, atp, r, f, penalty, split = _prices(rng, C, G, scarce=True)
        qty = qty + 2
        kk = int(rng.integers(4, 6))
        price, lower = P._search(qty, atp, r, f, kk, penalty, split, 10**9, np.empty(3, np.int64))
        want = naive.plan_search(qty.tolist(), atp.tolist(), r.tolist(), f.tolist(), kk, penalty, split)
        assert lower <= want + 1e-9
        assert price >= want - 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_priced_matches_the_twin(seed):
    rng, net, pol, nodef, p, stock = _batch(seed)
    for _ in range(20):
        g_sku, _, lat, lon, hour, max_days, maxm = _order(rng, net)
        cand, atp, ent, miles, lead, fixed, unit = _candidates(net, pol, nodef, p, stock, g_sku, lat, lon, hour,
                                                               max_days, maxm)
        lam = rng.uniform(0, 2, len(stock["atp_e"]))
        mu, nu = rng.uniform(0, 2, net.n_nodes), rng.uniform(0, 1, net.n_nodes)
        f, r = P._priced((cand, atp, ent, miles, lead, fixed, unit), P.Prices(lam, mu, nu, np.zeros(1)))
        want_f, want_r = naive.priced(cand.tolist(), ent.tolist(), fixed.tolist(), unit.tolist(), lam, mu, nu)
        np.testing.assert_array_equal(f, want_f)
        np.testing.assert_array_equal(r, np.reshape(want_r, r.shape))


@pytest.mark.parametrize("seed", range(4))
def test_breakdown_matches_the_twin(seed):
    rng, net, pol, nodef, p, stock = _batch(seed)
    nnz = len(stock["atp_e"])
    plans = [[(int(rng.integers(net.n_nodes)), int(rng.integers(1, 4)), int(rng.integers(net.n_skus)),
               int(rng.integers(nnz))) for _ in range(int(rng.integers(0, 6)))] for _ in range(40)]
    # nodes repeat within a plan: one parcel per node
    plans += [[(3, 1, 0, 0), (5, 2, 1, 1), (3, 1, 2, 2)]]
    lat, lon = rng.uniform(26, 48, len(plans)), rng.uniform(-123, -70, len(plans))
    hour, max_days = rng.uniform(0, 24, len(plans)), rng.choice([-1.0, 2.0, 3.0], len(plans))
    rows = np.array([row for plan in plans for row in plan], np.int64).reshape(-1, 4)
    col_ptr = np.r_[0, np.cumsum([len(plan) for plan in plans])].astype(np.int64)
    costs = P.Costs(nodef, p, stock["bands"], net.weight_kg, stock["fee_e"], stock["pen_e"])
    plan_rows = P.PlanRows(col_ptr, *(np.ascontiguousarray(rows[:, i]) for i in range(4)))
    got = P.breakdown(plan_rows, unit_vectors(lat, lon).reshape(-1, 3), hour, max_days, costs)
    want = naive.breakdown(net, pol, plans, lat, lon, hour, max_days, stock["bands"], stock["fee_e"],
                           stock["pen_e"])
    costs, ships, km, days, node_km, node_days = got
    np.testing.assert_allclose(costs, want[0], **MILES)
    np.testing.assert_array_equal(ships, want[1])
    np.testing.assert_allclose(km, want[2], **MILES)
    np.testing.assert_array_equal(days, want[3])
    np.testing.assert_allclose(node_km, want[4], **MILES)
    np.testing.assert_array_equal(node_days, want[5])
    assert (ships > 1).any() and (days == -1).any()
