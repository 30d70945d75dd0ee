"""The contested-batch path: Lagrangian relaxation by subgradient steps, neighbourhood sub-MIPs,
and dual prices checked by routing."""

from __future__ import annotations

import threading
import time

import numba
import numpy as np
import pytest

from sourcewise.engine.optimize import dual_prices
from sourcewise.engine.optimize import heuristics
from sourcewise.engine.optimize import lagrange
from sourcewise.engine.optimize import lns
from sourcewise.engine.optimize import optimize
from sourcewise.engine.optimize import solve as solve_mod
from sourcewise.engine.optimize.colgen import seed_columns
from sourcewise.engine.optimize.inputs import new_router
from sourcewise.engine.optimize.inputs import prepare
from sourcewise.engine.optimize.lagrange import Relaxation
from sourcewise.engine.optimize.lagrange import _stalled
from sourcewise.engine.optimize.lagrange import relax
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.engine.optimize.sourcing import greedy_columns
from sourcewise.engine.optimize.sourcing import warm_up
from sourcewise.engine.optimize.state import SolveState
from sourcewise.engine.router import Router
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models.errors import ValidationError
from tests.engine.optimize.support import PENALTY
from tests.engine.optimize.support import brute_force
from tests.engine.optimize.support import check_feasible
from tests.engine.optimize.support import contested
from tests.engine.optimize.support import order_plans


@pytest.fixture
def relaxed_path(monkeypatch):
    """Every batch counts as contested and the LP gets no time, so small ones take the relaxation path."""
    monkeypatch.setattr(solve_mod, "MIP_MAX_ACTIVE", -1)
    monkeypatch.setattr(solve_mod, "FIRST_LP_SHARE", 0.0)


def _problem(net, inv, orders, policy=None):
    warm_up()
    batch, policy, cap_o, cap_u = prepare(orders, net, inv, policy or Policy(), 1.0, "highs", PENALTY, None, None)
    router = new_router(net, inv, policy, None, None)
    pb = build_problem(batch, net, inv, policy, router.stock_view(), cap_o, cap_u, PENALTY, 200_000, 1)
    greedy = greedy_columns(pb, router, batch, cap_o, cap_u)
    pb.add_empty()
    return pb, SolveState(greedy, pb.master.objective_of(greedy), "greedy")


@pytest.mark.parametrize("seed", range(8))
def test_relaxation_path_is_feasible_never_worse_than_greedy_and_bounds_the_optimum(relaxed_path, seed):
    net, inv, orders = contested(seed, n_orders=5)
    plan = optimize(orders, net, inv, Policy(), time_limit=2, unfilled_penalty=PENALTY)
    best = brute_force(net, Policy(), inv, orders)
    check_feasible(net, inv, orders, plan)
    assert "subgradient" in plan.solve_log.bound_source
    assert plan.lower_bound <= best + 1e-6
    assert plan.objective >= best - 1e-6
    assert plan.objective <= plan.solve_log.greedy_objective + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_subgradient_bound_never_passes_the_brute_force_optimum(seed):
    net, inv, orders = contested(40 + seed, n_nodes=4, n_orders=5)
    pb, st = _problem(net, inv, orders)
    rx = relax(pb, st, time.perf_counter() + 0.5, None)
    best = brute_force(net, Policy(), inv, orders)
    assert rx.rounds >= 1
    assert st.lb <= best + 1e-6
    # the first round prices every order alone: the bound can only have risen from there
    assert rx.history[0][2] <= st.lb + 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_contested_batches_whose_first_lp_finishes_search_locally_over_its_columns(monkeypatch, seed):
    # the LP gets its share and finishes: column generation, then local search instead of MIPs
    monkeypatch.setattr(solve_mod, "MIP_MAX_ACTIVE", -1)
    net, inv, orders = contested(20 + seed, n_orders=5)
    plan = optimize(orders, net, inv, Policy(), time_limit=2, unfilled_penalty=PENALTY)
    best = brute_force(net, Policy(), inv, orders)
    check_feasible(net, inv, orders, plan)
    assert "subgradient" not in plan.solve_log.bound_source and plan.solve_log.cg_iterations >= 1
    assert "neighbourhood_search" in plan.solve_log.phase_seconds
    assert best - 1e-6 <= plan.objective <= plan.solve_log.greedy_objective + 1e-9
    assert plan.lower_bound <= best + 1e-6


@pytest.mark.parametrize("seed", range(4))
def test_one_neighbourhood_holding_every_order_solves_the_pool_exactly(seed):
    net, inv, orders = contested(60 + seed, n_nodes=4, n_orders=6)
    pb, st = _problem(net, inv, orders)
    relax(pb, st, time.perf_counter() + 0.3, None)
    start = st.objective
    lns.search(pb, st, time.perf_counter() + 1.0, None, size=len(orders))
    assert pb.master.feasible(st.incumbent)
    assert st.objective <= start + 1e-9
    # the neighbourhood is the whole batch, so its sub-MIP is the MIP over the whole pool
    whole = pb.master.solve_mip(10.0, rel_gap=0.0, abs_gap=1e-9)
    assert whole.status == "optimal"
    assert st.objective == pytest.approx(whole.objective, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2, 4, 6])
def test_dual_prices_route_cheaper_than_myopic_routing_of_their_batch(seed):
    net, inv, orders = contested(seed, n_nodes=4, n_skus=3, n_orders=12)
    prices = dual_prices(orders, net, inv, Policy(), 2.0, unfilled_penalty=PENALTY)
    costs = {}
    for strategy in ("cost", "dual"):
        r = Router(net, inv, Policy())
        if strategy == "dual":
            r.set_dual_prices(prices)
        res = r.route_many(orders, strategy=strategy)
        costs[strategy] = float(res.orders["cost"].sum() + PENALTY * res.orders["unfilled"].sum())
    assert (prices >= 0).all() and prices.shape == (inv.nnz,) and prices.any()
    assert costs["dual"] < costs["cost"]


def test_dual_prices_that_do_not_beat_myopic_routing_are_refused():
    # on this batch no routing at the relaxation's prices costs less than myopic routing
    net, inv, orders = contested(5, n_nodes=4, n_skus=3, n_orders=12)
    with pytest.raises(ValidationError, match="dual prices refused") as err:
        dual_prices(orders, net, inv, Policy(), 2.0, unfilled_penalty=PENALTY)
    assert "the prices would not help" in str(err.value)


def test_dual_prices_are_zero_when_no_order_competes_for_stock():
    net, inv, orders = contested(3, n_orders=1)
    assert not dual_prices(orders, net, inv, Policy(), 1.0, unfilled_penalty=PENALTY).any()


def test_dual_prices_without_time_to_check_them_are_refused():
    net, inv, orders = contested(5, n_nodes=4, n_orders=10)
    with pytest.raises(ValidationError, match="dual prices refused") as err:
        dual_prices(orders, net, inv, Policy(), 1e-9, unfilled_penalty=PENALTY)
    assert "never cost less than myopic routing" in str(err.value)


@pytest.mark.parametrize("seed", range(6))
def test_one_opt_from_empty_plans_is_sequential_exact_routing(seed):
    # from every order unserved, one pass takes each order's cheapest plan on the stock left by the
    # orders before it in the pass: the twin lists every plan and keeps the cheapest that fits
    net, inv, orders = contested(80 + seed, n_nodes=4, n_orders=6)
    pb, _ = _problem(net, inv, orders)
    st = SolveState(pb.empty_cols, pb.master.objective_of(pb.empty_cols), "empty plans")
    lns.one_opt(pb, st, seed=seed)
    assert pb.master.feasible(st.incumbent)
    seq = np.random.default_rng(seed).permutation(len(orders))
    atp = {(net.node_index[r.node_id], net.sku_index[r.sku]): r.atp for r in inv.records() if r.atp > 0}
    want = 0.0
    for o in seq.tolist():
        order = orders[o]
        k = 1 if not order.allow_split else (order.max_shipments or Policy().max_shipments)
        fits = [(c, a) for c, a in order_plans(net, Policy(), atp, order, k)
                if all(atp.get(key, 0) >= q for key, q in a.items())]
        cost, alloc = fits[0]
        want += cost
        for key, q in alloc.items():
            atp[key] -= q
    assert st.objective == pytest.approx(want, abs=1e-6)
    # a second pass keeps what it cannot beat: never worse
    before = st.objective
    lns.one_opt(pb, st, seed=seed + 1)
    assert pb.master.feasible(st.incumbent) and st.objective <= before + 1e-9


@pytest.mark.parametrize("seed", range(8))
def test_construction_takes_each_order_cheapest_plan_at_the_prices_largest_first(seed):
    # the twin lists every plan of each order, in decreasing order of ``lower``, prices it with the
    # entry, parcel and unit prices on top of its cost, and keeps the cheapest that fits the stock left
    net, inv, orders = contested(120 + seed, n_nodes=4, n_orders=6)
    pb, _ = _problem(net, inv, orders)
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0.0, 4.0, pb.inv.nnz) * (rng.random(pb.inv.nnz) < 0.7)
    mu, nu = rng.uniform(0.0, 3.0, net.n_nodes), rng.uniform(0.0, 1.0, net.n_nodes)
    lower = rng.uniform(0.0, 10.0, len(orders))
    cols = heuristics.construct(pb, lam, mu, nu, lower)
    assert pb.master.feasible(cols)
    ent = {(int(pb.inv.node[e]), int(pb.sku_of_ent[e])): e for e in range(pb.inv.nnz)}
    atp = {(net.node_index[r.node_id], net.sku_index[r.sku]): r.atp for r in inv.records() if r.atp > 0}

    def price(cost, alloc):
        nodes = {n for n, _ in alloc}
        return cost + sum(lam[ent[key]] * q for key, q in alloc.items()) + sum(
            mu[n] + nu[n] * sum(q for (m, _), q in alloc.items() if m == n) for n in nodes)

    want = 0.0
    for o in np.argsort(-lower, kind="stable").tolist():
        order = orders[o]
        k = 1 if not order.allow_split else (order.max_shipments or Policy().max_shipments)
        fits = [(price(c, a), c, a) for c, a in order_plans(net, Policy(), atp, order, k)
                if all(atp.get(key, 0) >= q for key, q in a.items())]
        _, cost, alloc = min(fits, key=lambda t: t[0])
        want += cost
        for key, q in alloc.items():
            atp[key] -= q
    assert pb.master.objective_of(cols) == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("construct", [False, True])
def test_routing_at_prices_stops_after_missing_in_a_row_only_beside_constructions(construct):
    # a routing that never beats the incumbent: beside constructions it stops after ROUTE_PATIENCE
    # passes; alone (as dual_prices runs it, keeping the prices whose routing won) it never stops
    net, inv, orders = contested(7, n_nodes=4, n_orders=12)
    pb, st = _problem(net, inv, orders)
    calls = []

    def route(idx, prices, taken):
        calls.append(len(idx))
        return pb.empty_cols

    rx = relax(pb, st, time.perf_counter() + 2.0, route, every=1, construct=construct)
    assert rx.rounds > lagrange.ROUTE_PATIENCE + 2
    assert len(calls) == (lagrange.ROUTE_PATIENCE if construct else rx.rounds)
    assert rx.routed_prices is None
    assert pb.master.feasible(st.incumbent)


@pytest.mark.parametrize("seed", range(4))
def test_first_lp_on_its_own_thread_solves_the_lp_the_inline_solve_does_while_columns_are_added(seed):
    net, inv, orders = contested(100 + seed, n_nodes=4, n_orders=8)
    inline, threaded = [], []
    for out, background in ((inline, False), (threaded, True)):
        pb, st = _problem(net, inv, orders)
        alp = seed_columns(pb, st)
        if background:
            alp.start(10.0)
            # the relaxation adds plans to the master while the LP runs on its own thread
            relax(pb, st, time.perf_counter() + 0.2, None)
            result = alp.result()
            assert not alp.running()
        else:
            result = alp.solve(10.0)
        out.extend([pb, result])
    (pb_i, (status_i, obj_i, x_i, _, prices_i)), (pb_t, (status_t, obj_t, x_t, _, prices_t)) = (
        inline[:2], threaded[:2])
    assert status_i == status_t == "optimal"
    assert obj_t == pytest.approx(obj_i, abs=1e-7)
    # the same LP over the first columns: the plans added meanwhile take no part in it
    n = pb_i.n_cols
    assert pb_t.n_cols > n
    assert np.allclose(x_t[:n], x_i) and not x_t[n:].any()
    assert np.allclose(prices_t[: len(prices_i)], prices_i)


def test_contested_path_gives_numba_its_threads_back(monkeypatch):
    monkeypatch.setattr(solve_mod, "MIP_MAX_ACTIVE", -1)
    net, inv, orders = contested(7, n_orders=6)
    before = numba.get_num_threads()
    optimize(orders, net, inv, Policy(), time_limit=1, unfilled_penalty=PENALTY)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("seed", range(3))
def test_neighbourhoods_in_flight_together_never_share_slack_or_make_the_plan_worse(seed):
    net, inv, orders = contested(120 + seed, n_nodes=5, n_skus=6, n_orders=40)
    pb, st = _problem(net, inv, orders)
    relax(pb, st, time.perf_counter() + 0.3, None)
    start = st.objective
    m = pb.master
    solve_part = m.solve_part
    lock = threading.Lock()
    flying: dict[int, tuple] = {}
    breaches, most = [], [0]

    def watched(time_limit, hood, cols, rhs, threads=0):
        with lock:
            flying[id(hood)] = (hood, cols, rhs)
            most[0] = max(most[0], len(flying))
            # together, the neighbourhoods in flight are offered, on the rows their plans may use, no
            # more than their own orders' incumbent plans hold and the slack the other orders leave
            mine = np.concatenate([h for h, _, _ in flying.values()])
            assert len(np.unique(mine)) == len(mine)
            slack = m.rhs - m.usage(np.delete(st.incumbent, mine))
            offered = np.zeros(m.n_rows)
            for _, c, r in flying.values():
                rows = m.rows_of(c)
                offered[rows] += r[rows]
            if (offered > slack + 1e-9).any():
                breaches.append(len(flying))
        try:
            time.sleep(0.01)  # long enough for the other worker to start one too
            return solve_part(time_limit, hood, cols, rhs, threads)
        finally:
            with lock:
                del flying[id(hood)]

    m.solve_part = watched
    runs = lns.search(pb, st, time.perf_counter() + 1.0, None, seed=seed, size=6, workers=2)
    assert runs > 2 and most[0] == 2
    assert not breaches
    assert not [e for e in pb.trace if e[0] == "heuristic" and e[2] == "infeasible"]
    assert m.feasible(st.incumbent) and st.objective <= start + 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_sub_mips_are_offered_their_incumbent_plans_and_none_priced_worse_than_every_plan_in_use(seed):
    net, inv, orders = contested(140 + seed, n_nodes=5, n_skus=6, n_orders=40)
    pb, st = _problem(net, inv, orders)
    relax(pb, st, time.perf_counter() + 0.3, None)
    # a better incumbent than greedy's, whose dearest plan is no longer the dearest in the pool
    lns.one_opt(pb, st)
    lns.search(pb, st, time.perf_counter() + 0.3, None, seed=seed, size=8, workers=1)
    m = pb.master
    reduced = pb.column_prices(st.lb_prices) - st.lb_lower[m.flat()[0]]
    limit = reduced[st.incumbent].max()
    solve_part = m.solve_part
    offered = []

    def watched(time_limit, hood, cols, rhs, threads=0):
        offered.append((hood, cols, st.incumbent[hood]))
        return solve_part(time_limit, hood, cols, rhs, threads)

    m.solve_part = watched
    start = st.objective
    lns.search(pb, st, time.perf_counter() + 0.5, reduced, seed=seed, size=8, workers=1)
    assert offered
    pool = lns.Pool(pb)
    held_back = 0
    for hood, cols, mine in offered:
        assert np.isin(mine, cols).all()
        assert (reduced[np.setdiff1d(cols, mine)] <= limit + 1e-9).all()
        held_back += len(np.setdiff1d(pool.columns(hood), cols))
    # the sub-MIPs were offered fewer plans than the pool holds, so the limit was tested
    assert held_back > 0
    assert m.feasible(st.incumbent) and st.objective <= start + 1e-9


def _history(bounds):
    rx = Relaxation(*(np.zeros(1) for _ in range(6)))
    best = -np.inf
    for k, b in enumerate(bounds, 1):
        best = max(best, b)
        rx.history.append((k, 0.1 * k, b, best))
    rx.rounds, rx.bound = len(bounds), best
    return rx


def test_rounds_stop_when_neither_the_best_bound_nor_the_rounds_own_bounds_still_rise():
    rng = np.random.default_rng(0)
    # a first step that overshoots, then bounds climbing back towards the first: not stalled
    assert not _stalled(_history([100.0, 90.0] + list(np.linspace(90.5, 99.5, 10))))
    # the best bound still rising: not stalled
    assert not _stalled(_history(list(np.linspace(90.0, 100.0, 12))))
    # bounds zigzagging below the best without a trend, or with one the zigzag alone makes: stalled
    assert _stalled(_history([100.0] + [95.0 + (-1) ** k for k in range(11)]))
    stalled = [_stalled(_history([100.0] + list(95.0 + rng.uniform(-1, 1, 11)))) for _ in range(200)]
    assert np.mean(stalled) > 0.9
    # too few rounds to judge
    assert not _stalled(_history([100.0, 90.0, 90.0]))


@pytest.mark.parametrize("seed", range(4))
def test_bound_counts_the_units_a_batch_must_leave_unfilled(seed):
    # the SKU is short of the batch's demand in all: every routing leaves three units unfilled, which
    # the zero-price bound (each order alone takes the stock) does not see
    rng = np.random.default_rng(300 + seed)
    net = Network.build([Node(f"N{i}", "warehouse", float(rng.uniform(26, 48)), float(rng.uniform(-123, -70)))
                         for i in range(3)], [Sku("S0", 1.0, 10.0)])
    inv = Inventory.from_records(net, [StockRecord(n.node_id, "S0", 1, 0) for n in net.nodes])
    orders = [Order(f"o{i}", (OrderLine(f"o{i}-0", "S0", 1),), float(rng.uniform(26, 48)),
                    float(rng.uniform(-123, -70))) for i in range(6)]
    best = brute_force(net, Policy(), inv, orders)
    pb, st = _problem(net, inv, orders)
    rx = relax(pb, st, time.perf_counter() + 1.0, None)
    assert rx.history[0][2] < best - 1.5 * PENALTY  # each short unit costs the penalty, not about 10 to ship
    assert best - 0.01 * best <= st.lb <= best + 1e-6
