"""Cheap incumbents: from the LP (rounding, routing at its shadow prices, the sub-MIP around it), and
from prices alone (:func:`construct`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sourcewise.engine.optimize import lns
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.state import SolveState

Route = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]
"""``route(orders, entry_prices, taken)``: a column for each of ``orders`` routed at
``entry_prices`` after the columns ``taken`` (or none) have used their stock and capacity."""


def route_heuristics(st: SolveState, pb: Problem, route: Route, lp_x: np.ndarray, row_price: np.ndarray,
                     left: Callable[[], float]) -> None:
    """Route with the LP's shadow prices: the whole batch, and the contested orders alone.

    The second keeps every plan the LP chose outright and routes only the
    other orders, in batch order, against the stock and capacity left.

    Parameters
    ----------
    st : SolveState
        Takes a routed solution that is feasible and better.
    pb : Problem
    route : Route
    lp_x, row_price : ndarray
        The LP's solution per master column and its row prices.
    left : callable
        Seconds left in the solve.
    """
    prices = pb.entry_prices(row_price)
    # each routing pass costs about what the greedy pass did; never start one that cannot finish
    need = 1.5 * pb.phase.get("greedy", 0.0) + 0.05
    if left() > need:
        st.consider(pb, route(np.arange(pb.G.n), prices, None), "dual-routing")
    block = pb.master.flat()[0]
    x = np.zeros(len(block))
    x[: len(lp_x)] = lp_x
    one = np.flatnonzero(x > 1.0 - 1e-6)
    rest = np.setdiff1d(np.arange(pb.G.n), block[one])
    if left() > need and 0 < len(rest) < pb.G.n:
        choice = np.full(pb.G.n, -1, np.int64)
        choice[block[one]] = one
        choice[rest] = route(rest, prices, one)
        st.consider(pb, choice, "lp-fix + dual-routing")


def round_lp(pb: Problem, lp_x: np.ndarray) -> np.ndarray:
    """A feasible plan per order from an LP solution.

    Plans at 1 are kept (together they fit: the LP's usage covers them);
    the other orders, most decided first, take their likeliest plan that
    still fits, else their cheapest that fits, else the empty plan.
    """
    m = pb.master
    block, cost, ptr, row, val = m.flat()
    x = np.zeros(len(block))
    x[: len(lp_x)] = lp_x
    choice = np.full(pb.G.n, -1, np.int64)
    one = np.flatnonzero(x > 1.0 - 1e-6)
    choice[block[one]] = one
    use = m.usage(one) if len(one) else np.zeros(m.n_rows)
    rest = np.flatnonzero(choice < 0)
    if len(rest):
        best_x = np.zeros(pb.G.n)
        np.maximum.at(best_x, block, x)
        rest = rest[np.argsort(-best_x[rest], kind="stable")]
        srt = np.lexsort((cost, -x, block))
        bounds = np.searchsorted(block[srt], np.arange(pb.G.n + 1))
        rhs = m.rhs + 1e-7
        for o in rest.tolist():
            for j in srt[bounds[o]:bounds[o + 1]].tolist():
                r, v = row[ptr[j]:ptr[j + 1]], val[ptr[j]:ptr[j + 1]]
                if np.all(use[r] + v <= rhs[r]):
                    use[r] += v
                    choice[o] = j
                    break
    return np.where(choice >= 0, choice, pb.empty_cols)


def lp_fix(pb: Problem, st: SolveState) -> tuple[np.ndarray, np.ndarray]:
    """Columns of a sub-MIP around the LP solution, and a feasible start.

    Orders whose LP plan is integral and uses no priced (binding) resource
    keep that plan; the others, where stock or capacity is contested, keep
    all their columns. The start keeps the fixed plans and leaves the rest
    empty, which uses no resource.
    """
    block, _, ptr, row, _ = pb.master.flat()
    x = np.zeros(len(block))
    x[: len(st.lp_x)] = st.lp_x
    prices = pb.row_prices(st.last_prices)
    col_of = np.repeat(np.arange(len(block)), np.diff(ptr))
    tight = np.zeros(len(block), bool)
    tight[col_of[prices[row] > 1e-9]] = True
    active = st.active if st.active is not None else np.ones(pb.G.n, bool)
    # orders the LP left fixed keep their plan too: at the LP's prices nothing beats it
    one = np.flatnonzero((x > 1.0 - 1e-6) & (~tight | ~active[block]))
    fixed = np.full(pb.G.n, -1, np.int64)
    fixed[block[one]] = one
    keep = fixed[block] < 0
    keep[one] = True
    start = np.where(fixed >= 0, fixed, pb.empty_cols)
    return np.flatnonzero(keep), start


def construct(pb: Problem, lam: np.ndarray, mu: np.ndarray, nu: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Plan the orders one at a time, from nothing, at prices ``(lam, mu, nu)``, on the stock the earlier leave.

    Orders go in decreasing order of ``lower``, each order's cheapest price
    at those prices (its share of the Lagrangian bound): large and costly
    orders first, as in first-fit decreasing, and the small ones, which have
    more ways to be served, fit in around them. Each takes its cheapest plan
    at the prices on the stock and capacity left (the plan kernels' exact
    pricing: :func:`~sourcewise.engine.optimize.lns.replan` from empty
    plans), so stock the prices call contested goes where it is worth most.

    On a thin-stock wave of 10,000 orders, at the prices of the best bound,
    this gave 131,598 (in a random order 133,639 and 133,756, smallest first
    136,621), where the router's routing at the relaxation's prices gave
    134,134 at best.

    Parameters
    ----------
    pb : Problem
    lam, mu, nu : ndarray
        Prices per inventory entry, per node parcel and per node unit (as
        :meth:`~sourcewise.engine.optimize.problem.Problem.prices` takes them).
    lower : ndarray
        Per order, its cheapest price at those prices.

    Returns
    -------
    ndarray of int64
        A column per order; together they fit every resource.
    """
    seq = np.argsort(-np.asarray(lower, np.float64), kind="stable")
    # an empty plan's price at any prices is its unfilled penalty, which is its cost
    return lns.replan(pb, pb.empty_cols, pb.prices(lam, mu, nu), seq)[1]
