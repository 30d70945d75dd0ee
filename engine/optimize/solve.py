"""The solve: the phases of :mod:`sourcewise.engine.optimize`, in order, within the time limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np

from sourcewise.engine.optimize import lns
from sourcewise.engine.optimize.colgen import generate_columns
from sourcewise.engine.optimize.colgen import seed_columns
from sourcewise.engine.optimize.colgen import tighten
from sourcewise.engine.optimize.heuristics import Route
from sourcewise.engine.optimize.heuristics import lp_fix
from sourcewise.engine.optimize.heuristics import round_lp
from sourcewise.engine.optimize.heuristics import route_heuristics
from sourcewise.engine.optimize.lagrange import Relaxation
from sourcewise.engine.optimize.lagrange import relax
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.state import SolveState

MIP_MAX_ACTIVE = 500
"""Above this many contested orders the MIP phases give way to local search, and the LP, when its
first solve does not finish in :data:`FIRST_LP_SHARE` of the time, to Lagrangian relaxation."""

FIRST_LP_SHARE = 0.15
"""Share of the time the first LP over thousands of contested orders may take before the solve
turns to Lagrangian relaxation alone (0: no LP). The LP runs on its own thread meanwhile, with
numba's kernels one thread fewer doing a 1-opt pass and subgradient rounds, so an LP that does
not finish costs about half the machine for that share, not all of it: on thin-stock waves of
10,000 orders at 30 s (2 cores), that took the plan from 1.0308 to 1.0296 of the published bound."""

BIG_CG_SHARE = 0.6
"""Share of the time left that column generation takes when the first LP did finish; local
search over its columns has the rest."""

ONE_OPT_PASSES = 5
"""Most re-planning passes over every order after the relaxation."""

ONE_OPT_SETTLED = 0.005
"""A pass that changes at most this share of the orders ends them."""

POOL_SINGLES = 4
"""Cheapest single-node plans per order, at the best bound's prices, added to the pool before the
neighbourhood search (0: none). About one pricing round; on thin-stock waves of 10,000 orders at
30 s it took the median of four runs from 1.0324 to 1.0313 of the bound."""

RELAX_SHARE = 0.8
"""Most of the time the subgradient rounds take on that path (they stop earlier when the bound
stalls); neighbourhood search has the rest. Rounds pay twice, in the bound and in the prices the
routing passes and the plan pool follow, so they may take most of the time: on thin-stock waves
of 10,000 orders at 30 s, 0.8 against 0.5 left the plan as good and the bound 1 % higher."""


def solve(pb: Problem, greedy_cols: np.ndarray | None, time_limit: float, solver: str, integer: bool,
          start_cols: np.ndarray | None, cg_share: float, max_enumerate: int, t0: float,
          route: Route | None = None) -> SolveState:
    """Run the phases described in :mod:`sourcewise.engine.optimize` until ``t0 + time_limit``.

    Parameters
    ----------
    pb : Problem
    greedy_cols, start_cols : ndarray of int64, optional
        A column per order: the router's greedy plans (their objective is
        reported) and a start to beat; each is kept when feasible.
    time_limit : float
        Seconds from ``t0`` (a ``time.perf_counter()`` value).
    solver : {"highs", "cpsat"}
        MIP solver of the integer phases.
    integer : bool
        Run the heuristics and integer phases; else stop after column
        generation (for the LP's prices).
    cg_share : float
        Share of the time left that column generation may use.
    max_enumerate : int
        Most plan rows listed when closing the gap (0 disables).
    route : callable, optional
        ``route(orders, entry_prices, taken)`` (see
        :func:`~sourcewise.engine.optimize.heuristics.route_heuristics`);
        without it the routing heuristics are skipped.

    Returns
    -------
    SolveState
    """
    deadline = t0 + time_limit

    def left() -> float:
        return deadline - time.perf_counter()

    t = time.perf_counter()
    empty = pb.add_empty()
    st = SolveState(empty, pb.master.objective_of(empty), "empty plans")
    if greedy_cols is not None:
        pb.greedy_objective = pb.master.objective_of(greedy_cols)
        if pb.master.feasible(greedy_cols):
            st.incumbent, st.objective, st.source = greedy_cols, pb.greedy_objective, "greedy"
    if start_cols is not None and pb.master.feasible(start_cols):
        obj = pb.master.objective_of(start_cols)
        if obj <= st.objective + 1e-9:
            st.incumbent, st.objective, st.source = start_cols, obj, "incumbent"

    alp = seed_columns(pb, st)
    pb.phase["columns"] = time.perf_counter() - t
    big = int(alp.active.sum()) > MIP_MAX_ACTIVE
    if big and integer:
        # thousands of contested orders: the first LP may not finish within the time limit at all,
        # so it gets a share of the time, on its own thread; meanwhile a 1-opt pass improves on
        # greedy at once, and subgradient steps (which need no LP) price the batch. If the LP does
        # not finish, those prices go on and neighbourhood sub-MIPs improve the plan
        t_lp = time.perf_counter()
        rx = None
        status = "not run"
        if FIRST_LP_SHARE > 0:
            alp.start(FIRST_LP_SHARE * max(0.0, left()))
            with _one_core_less():
                lns.one_opt(pb, st)
                pb.phase["1-opt"] = time.perf_counter() - t_lp
                t = time.perf_counter()
                rx = relax(pb, st, deadline, route, until=lambda: not alp.running(), construct=True)
                pb.phase["lagrangian"] = time.perf_counter() - t
                status, lp_obj = alp.result()[:2]
            pb.trace.append(("lp", int(alp.active.sum()), time.perf_counter() - t_lp, status, lp_obj))
        else:
            lns.one_opt(pb, st)
            pb.phase["1-opt"] = time.perf_counter() - t_lp
        if status != "optimal":
            return _relax_and_search(pb, st, deadline, route, rx)

    # column generation: LP duals price every order's plans; each round gives a Lagrangian bound
    t = time.perf_counter()
    generate_columns(pb, st, alp, t + (BIG_CG_SHARE if big and integer else cg_share) * max(0.0, left()), left,
                     route)
    if integer:
        tighten(pb, st, left)
    pb.phase["column_generation"] = time.perf_counter() - t
    if not integer:
        return st

    # cheap incumbents from the final LP
    t = time.perf_counter()
    if st.lp_x is not None:
        st.consider(pb, round_lp(pb, st.lp_x), "lp-rounding")
        if route is not None and left() > 0.05 and not st.proven():
            route_heuristics(st, pb, route, st.lp_x, st.last_prices, left)
    pb.phase["heuristics"] = pb.phase.get("heuristics", 0.0) + time.perf_counter() - t

    if big:
        # a MIP over thousands of contested orders rarely pays within seconds: local search over
        # the columns generation priced instead
        _improve_locally(pb, st, deadline, 1.0)
        st.time_limited = not st.proven()
        return st

    # integer phase: keep the LP's uncontested plans, solve the contested orders exactly
    t = time.perf_counter()
    if st.lp_x is not None and left() > 0.05 and not st.proven():
        cols, start = lp_fix(pb, st)
        if np.isin(st.incumbent, cols).all():
            start = st.incumbent
        r = pb.master.solve_mip(min(left(), max(1.0, 0.4 * left())), start=start, solver=solver, cols=cols,
                                rel_gap=1e-5)
        st.improve(pb, r, "lp-fix")
    pb.phase["integer"] = time.perf_counter() - t
    t = time.perf_counter()
    enumerated = False
    if not st.proven() and left() > 0.05:
        enumerated = _enumerate_and_solve(pb, st, left, solver, max_enumerate)
    pb.phase["enumeration"] = time.perf_counter() - t
    t = time.perf_counter()
    if not st.proven() and not enumerated and left() > 0.05:
        r = pb.master.solve_mip(left(), start=st.incumbent, solver=solver, rel_gap=1e-5)
        st.improve(pb, r, "mip")
    pb.phase["integer"] += time.perf_counter() - t
    if not st.proven() and left() <= 0.05:
        st.time_limited = True
    return st


def _relax_and_search(pb: Problem, st: SolveState, deadline: float, route: Route | None,
                      rx: Relaxation | None) -> SolveState:
    """The path of batches too contested for the LP: Lagrangian relaxation (going on with ``rx``,
    if given), then local search."""
    t = time.perf_counter()
    rx = relax(pb, st, t + RELAX_SHARE * max(0.0, deadline - t), route, rx=rx, construct=True)
    st.last_prices = st.lb_prices
    pb.phase["lagrangian"] = pb.phase.get("lagrangian", 0.0) + time.perf_counter() - t
    _improve_locally(pb, st, deadline, pb.phase["lagrangian"] / max(1, rx.rounds))
    st.time_limited = not st.proven()
    return st


@contextmanager
def _one_core_less() -> Iterator[None]:
    """Numba's parallel kernels on one thread fewer while a HiGHS thread has a core of its own."""
    n = numba.get_num_threads()
    numba.set_num_threads(max(1, n - 1))
    try:
        yield
    finally:
        numba.set_num_threads(n)


def _improve_locally(pb: Problem, st: SolveState, deadline: float, pass_seconds: float) -> None:
    """1-opt passes until few orders still move, then neighbourhood sub-MIPs until ``deadline``.

    ``pass_seconds`` estimates a 1-opt pass (about one pricing round); a pass
    starts only with twice that left.
    """
    t = time.perf_counter()
    for k in range(ONE_OPT_PASSES):
        if deadline - time.perf_counter() < 2.0 * pass_seconds or st.proven():
            break
        if lns.one_opt(pb, st, seed=k) <= ONE_OPT_SETTLED * pb.G.n:
            break
    pb.phase["1-opt"] = pb.phase.get("1-opt", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    if deadline - t < 0.1:
        # no time for a sub-MIP: building the pool's index alone takes a while on big batches
        return
    if POOL_SINGLES and st.lb_prices is not None and deadline - t > 2.0 * pass_seconds:
        # the sub-MIPs choose only among pooled plans: more single-node alternatives at the best
        # bound's prices give them room where stock is thin
        lam, mu, nu = pb.duals_to_prices(st.lb_prices)
        res = pb.price(lam, mu, nu, n_single=POOL_SINGLES)
        pb.trace.append(("pool", pb.add_priced(res, POOL_SINGLES, np.ones(len(res.c_nrows), bool))))
    if st.lb_prices is not None and st.lb_lower is not None:
        reduced = pb.column_prices(st.lb_prices) - st.lb_lower[pb.master.flat()[0]]
    else:
        reduced = None
    lns.search(pb, st, deadline, reduced)
    pb.phase["neighbourhood_search"] = time.perf_counter() - t


def _enumerate_and_solve(pb: Problem, st: SolveState, left: Callable[[], float], solver: str,
                         max_enumerate: int) -> bool:
    """Add every plan whose Lagrangian reduced cost is within the gap, and solve the MIP over them.

    With row prices ``y`` and bound ``LB = sum_o L_o - y.b``, any solution
    costs at least ``LB + sum_o (price_y(p_o) - L_o)``; one cheaper than the
    incumbent ``UB`` therefore uses only plans with ``price_y(p) - L_o < UB -
    LB``. When they can all be listed, the MIP over them (plus the
    incumbent) settles optimality over the whole plan space, and its dual
    bound is a global bound.

    Returns whether the enumeration was complete (so the MIP ran on it).
    """
    if max_enumerate <= 0:
        st.enumeration = "off"
        return False
    if (np.minimum(pb.G.kk, pb.total_units) > 3).any():
        # the listing covers plans of at most three parcels; larger ones would go unlisted
        st.enumeration = "skipped (plans of more than three parcels)"
        return False
    gap = st.objective - st.lb
    lam, mu, nu = pb.duals_to_prices(st.lb_prices)
    limit = st.lb_lower + gap + 1e-7 * max(1.0, abs(st.objective))
    # listing may use half the time left; the MIP over the list needs the rest
    complete, c_order, c_ptr, r_group, r_node, r_qty, r_ent = pb.enumerate(
        lam, mu, nu, limit, max_enumerate, time.perf_counter() + 0.5 * left())
    if not complete:
        st.enumeration = "skipped (too many plans within the gap)"
        return False
    ids = pb.add_or_find(c_order, c_ptr, r_group, r_node, r_qty, r_ent)
    # explicit plans outside the priced space (the router's with more than three parcels) qualify
    # by the same test
    block = pb.master.flat()[0]
    colp = pb.column_prices(st.lb_prices)
    within = np.flatnonzero(colp - st.lb_lower[block] <= gap + 1e-7 * max(1.0, abs(st.objective)))
    cols = np.union1d(np.union1d(ids, within), st.incumbent)
    r = pb.master.solve_mip(left(), start=st.incumbent, solver=solver, cols=cols, rel_gap=1e-9, abs_gap=1e-7)
    st.improve(pb, r, "enumeration")
    if r.status == "optimal":
        st.enumeration = "proved"
        st.lb = max(st.lb, st.objective)
    elif np.isfinite(r.bound):
        # every improving solution lies in these columns, so their MIP bound is global
        st.enumeration = "bounded (time)"
        st.lb = max(st.lb, min(st.objective, r.bound))
    else:
        st.enumeration = "incomplete (time)"
    return True
