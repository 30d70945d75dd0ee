"""Column generation over an active set, and the Lagrangian bound it proves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from sourcewise.engine.optimize.heuristics import Route
from sourcewise.engine.optimize.heuristics import route_heuristics
from sourcewise.engine.optimize.master import highs_core
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.state import SolveState

TIGHTEN_BUDGET = 20_000_000
"""Search budget when re-pricing, for the bound, the orders whose pricing was cut short."""


class ActiveLP:
    """LP relaxation over the *active* orders; every other order is fixed at one plan.

    Orders whose own best plan collides with others on a resource start
    active; the rest keep that plan, and its use of stock and capacity is
    taken off the right-hand sides. Pricing activates a fixed order as soon
    as some plan of it prices below its fixed plan. When nothing is left to
    add or activate, the fixed plans have non-negative reduced cost at the
    LP's prices, so the LP over the active orders plus the fixed plans is
    the LP optimum of the whole master.
    """

    def __init__(self, pb: Problem, fixed: np.ndarray):
        self.pb = pb
        self.fixed = np.asarray(fixed, np.int64).copy()  # plan per order, -1 once active
        self.h = None
        self.lp_col = np.empty(0, np.int64)  # LP column of each master column (-1 if absent)
        self.col_of_lp: list[int] = []
        self.lp_res = np.empty(0, np.int64)  # LP row of each resource row (-1 while it cannot bind)
        self.lp_blk = np.full(pb.G.n, -1, np.int64)
        self.n_rows = 0
        self.pending_blocks: list[int] = []
        self.upper = np.empty(0)
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> np.ndarray:
        return self.fixed < 0

    def activate(self, orders: np.ndarray) -> int:
        orders = np.asarray(orders, np.int64)
        orders = orders[self.fixed[orders] >= 0]
        self.fixed[orders] = -1
        self.pending_blocks.extend(orders.tolist())
        return len(orders)

    def _fixed_use(self) -> np.ndarray:
        cols = self.fixed[self.fixed >= 0]
        m = self.pb.master
        return m.usage(cols) if len(cols) else np.zeros(m.n_rows)

    def _sync(self) -> None:
        """Bring the HiGHS model up to date with the master and the active set.

        A resource row enters the LP only once the columns in the LP could
        over-use it (fixed use plus each active order's largest use exceeds
        the right-hand side); until then it cannot bind, its price is 0, and
        leaving it out keeps warm re-solves fast.
        """
        core = highs_core()
        inf = core.kHighsInf
        m = self.pb.master
        block, cost, ptr, row, val = m.flat()
        if self.h is None:
            h = core._Highs()
            h.setOptionValue("output_flag", False)
            h.setOptionValue("threads", 1)
            self.h = h
        h = self.h
        if len(self.lp_res) < m.n_rows:
            self.lp_res = np.concatenate([self.lp_res, np.full(m.n_rows - len(self.lp_res), -1, np.int64)])
        if len(self.lp_col) < len(block):
            self.lp_col = np.concatenate([self.lp_col, np.full(len(block) - len(self.lp_col), -1, np.int64)])
        # block rows of newly active orders
        if self.pending_blocks:
            nb = len(self.pending_blocks)
            h.addRows(nb, np.ones(nb), np.ones(nb), 0, np.zeros(nb, np.int32), np.empty(0, np.int32), np.empty(0))
            self.lp_blk[self.pending_blocks] = np.arange(self.n_rows, self.n_rows + nb)
            self.n_rows += nb
            self.pending_blocks = []
        want = np.flatnonzero((self.lp_col < 0) & self.active[block])
        upper = m.rhs - self._fixed_use()
        # rows the LP's columns (old and new) could over-use
        cols = np.concatenate([np.flatnonzero(self.lp_col >= 0), want])
        lo, hi = ptr[cols], ptr[cols + 1]
        cnt = hi - lo
        src = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
        col_of = np.repeat(cols, cnt)
        pot = np.zeros(m.n_rows)
        if len(src):
            key = row[src] * np.int64(self.pb.G.n) + block[col_of]
            srt = np.lexsort((-val[src], key))
            first = np.r_[True, key[srt][1:] != key[srt][:-1]]
            np.add.at(pot, row[src][srt][first], val[src][srt][first])
        enter = np.flatnonzero((pot > upper + 1e-9) & (self.lp_res < 0))
        if len(enter):
            self.lp_res[enter] = np.arange(self.n_rows, self.n_rows + len(enter))
            self.n_rows += len(enter)
            # existing LP columns' coefficients in the entering rows
            old = self.lp_col[col_of] >= 0
            hit = old & np.isin(row[src], enter)
            r_ids = row[src][hit]
            order = np.argsort(r_ids, kind="stable")
            starts = np.searchsorted(r_ids[order], enter)
            h.addRows(len(enter), np.full(len(enter), -inf), upper[enter], int(hit.sum()),
                      starts.astype(np.int32), self.lp_col[col_of[hit]][order].astype(np.int32),
                      val[src][hit][order])
        if len(want):
            lo, hi = ptr[want], ptr[want + 1]
            cnt = hi - lo
            wsrc = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
            keep = self.lp_res[row[wsrc]] >= 0
            kcnt = np.bincount(np.repeat(np.arange(len(want)), cnt)[keep], minlength=len(want))
            sptr = np.zeros(len(want) + 1, np.int64)
            np.cumsum(kcnt + 1, out=sptr[1:])
            idx = np.empty(int(sptr[-1]), np.int32)
            vals = np.empty(int(sptr[-1]))
            idx[sptr[:-1]] = self.lp_blk[block[want]]
            vals[sptr[:-1]] = 1.0
            pos = np.repeat(sptr[:-1] + 1 - (np.cumsum(kcnt) - kcnt), kcnt) + np.arange(int(kcnt.sum()))
            idx[pos] = self.lp_res[row[wsrc[keep]]]
            vals[pos] = val[wsrc[keep]]
            n = len(want)
            h.addCols(n, cost[want], np.zeros(n), np.full(n, inf), len(idx), sptr[:-1].astype(np.int32), idx, vals)
            self.lp_col[want] = np.arange(len(self.col_of_lp), len(self.col_of_lp) + n)
            self.col_of_lp.extend(want.tolist())
        # right-hand sides move as orders leave the fixed set
        inlp = np.flatnonzero(self.lp_res >= 0)
        if len(self.upper) < m.n_rows:
            self.upper = np.concatenate([self.upper, np.full(m.n_rows - len(self.upper), np.nan)])
        moved = inlp[self.upper[inlp] != upper[inlp]]
        for r in moved.tolist():
            h.changeRowBounds(int(self.lp_res[r]), -inf, float(upper[r]))
        self.upper[inlp] = upper[inlp]

    def solve(self, time_limit: float):
        """Returns status, LP objective (fixed plans included), x per master column,
        dual per order (active orders) and non-negative price per resource row."""
        self._prepare(time_limit)
        self.h.run()
        return self._read()

    def start(self, time_limit: float) -> None:
        """Start :meth:`solve` in a background thread; :meth:`result` waits for it.

        HiGHS releases the GIL while it runs (on its own thread, ``threads =
        1``), so the caller may go on pricing and routing meanwhile. Until
        :meth:`result` returns, the caller may add columns to the master but
        must not touch this LP.
        """
        self._prepare(time_limit)
        self._thread = threading.Thread(target=self.h.run, name="first-lp", daemon=True)
        self._thread.start()

    def running(self) -> bool:
        """Whether the LP started by :meth:`start` is still being solved."""
        return self._thread is not None and self._thread.is_alive()

    def result(self):
        """Wait for the LP started by :meth:`start`; returns what :meth:`solve` returns."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        return self._read()

    def _prepare(self, time_limit: float) -> None:
        fresh_blocks = bool(self.pending_blocks)
        self._sync()
        h = self.h
        # added columns keep the basis primal feasible, so primal simplex resumes fastest;
        # new order rows start infeasible, which dual simplex handles better
        h.setOptionValue("simplex_strategy", 1 if fresh_blocks else 4)
        # HiGHS measures time_limit against the instance's cumulative run time
        h.setOptionValue("time_limit", h.getRunTime() + max(0.01, float(time_limit)))

    def _read(self):
        h = self.h
        core = highs_core()
        m = self.pb.master
        block, cost = m.flat()[:2]
        status = h.getModelStatus()
        sol = h.getSolution()
        xs = np.asarray(sol.col_value)
        dual = np.asarray(sol.row_dual)
        x = np.zeros(len(block))
        cols = np.asarray(self.col_of_lp, np.int64)
        x[cols] = xs[: len(cols)]
        fx = self.fixed[self.fixed >= 0]
        x[fx] = 1.0
        sigma = np.full(self.pb.G.n, np.nan)
        act = np.flatnonzero(self.lp_blk >= 0)
        sigma[act] = dual[self.lp_blk[act]]
        prices = np.zeros(len(self.lp_res))
        inlp = self.lp_res >= 0
        prices[inlp] = np.maximum(-dual[self.lp_res[inlp]], 0.0)
        obj = float(h.getInfo().objective_function_value) if len(cols) else 0.0
        obj += float(cost[fx].sum())
        ok = status in (core.HighsModelStatus.kOptimal, core.HighsModelStatus.kModelEmpty)
        name = "optimal" if ok else h.modelStatusToString(status)
        return name, obj, x, sigma, prices



def tighten(pb: Problem, st: SolveState, left: Callable[[], float]) -> None:
    """Re-price, with a far larger search budget, the orders whose pricing was cut short at
    the bound's prices: their share of the bound was only an estimate."""
    if st.lb_truncated is None or not st.lb_truncated.any() or left() < 0.5:
        return
    cut = st.lb_truncated
    lam, mu, nu = pb.duals_to_prices(st.lb_prices)
    res = pb.price(lam, mu, nu, active=cut, budget=TIGHTEN_BUDGET)
    # a valid lower bound either way: keep the larger one per re-priced order
    _, fresh = pb.lagrangian(st.lb_prices, res.o_lower)
    lower = np.where(cut, np.maximum(st.lb_lower, fresh), st.lb_lower)
    prices = pb.row_prices(st.lb_prices)
    lb = float(lower.sum() - prices @ pb.master.rhs)
    still = cut & (res.o_lower < res.c_price - 1e-9)
    pb.trace.append(("tighten", int(cut.sum()), int(still.sum()), lb))
    if lb > st.lb:
        st.lb, st.lb_lower, st.lb_truncated = lb, lower, still


def seed_columns(pb: Problem, st: SolveState) -> ActiveLP:
    """Every order's own best plan and its cheapest single-node plans, and the first bound.

    Orders whose own best plans collide on some resource start active in the
    returned LP; the others stay fixed at that plan.
    """
    zl = np.zeros(pb.inv.nnz)
    zn = np.zeros(pb.net.n_nodes)
    res = pb.price(zl, zn, zn, n_single=pb.n_alt)
    best = pb.priced_ids(res, pb.n_alt, 0)
    best = np.where(best >= 0, best, pb.empty_cols)
    pb.add_priced(res, pb.n_alt, np.ones(len(res.c_nrows), bool))
    zero = np.zeros(pb.master.n_rows)
    st.lb, st.lb_lower = pb.lagrangian(zero, res.o_lower)
    st.lb_prices = st.last_prices = zero
    st.truncated = int((res.o_lower < res.c_price[:: 1 + pb.n_alt] - 1e-9).sum())
    # orders whose own best plans collide on some resource start active; the rest stay fixed
    m = pb.master
    over = m.usage(best) > m.rhs + 1e-9
    block, _, ptr, row, _ = m.flat()
    col_of = np.repeat(np.arange(len(block)), np.diff(ptr))
    touch = np.zeros(len(block), bool)
    touch[col_of[over[row]]] = True
    alp = ActiveLP(pb, best)
    alp.activate(np.unique(block[best[touch[best]]]))
    return alp


def generate_columns(pb: Problem, st: SolveState, alp: ActiveLP, cg_deadline: float, left: Callable[[], float],
                     route: Route | None) -> None:
    """Pricing rounds until nothing prices below its order's dual, the bound meets the LP, or ``cg_deadline``.

    Each round solves the LP over the active orders, prices every order
    against its duals (a Lagrangian bound, kept in ``st`` when it improves),
    adds the plans with negative reduced cost and activates the fixed
    orders some plan would beat. ``route`` (optional) runs the routing
    heuristics after rounds 1, 2, 4, ..., 32. Records the LP's active orders
    in ``st.active``.
    """
    while True:
        if time.perf_counter() >= cg_deadline:
            st.time_limited = True
            break
        t_lp = time.perf_counter()
        n_act = int(alp.active.sum())
        status, lp_obj, x, sigma, row_price = alp.solve(cg_deadline - time.perf_counter())
        pb.trace.append(("lp", n_act, time.perf_counter() - t_lp, status, lp_obj))
        if status != "optimal":
            st.time_limited = True
            break
        st.iterations += 1
        st.lp_value, st.lp_x, st.last_prices = lp_obj, x, row_price
        lam, mu, nu = pb.duals_to_prices(row_price)
        res = pb.price(lam, mu, nu)
        lb, lower = pb.lagrangian(row_price, res.o_lower)
        st.truncated = int((res.o_lower < res.c_price - 1e-9).sum())
        if lb > st.lb:
            st.lb, st.lb_prices, st.lb_lower = lb, row_price.copy(), lower
            st.lb_truncated = res.o_lower < res.c_price - 1e-9
            st.bound_source = ""
        if route is not None and st.iterations in (1, 2, 4, 8, 16, 32) and not st.proven():
            route_heuristics(st, pb, route, x, row_price, left)
        act = alp.active
        tol = 1e-7 * (1.0 + np.abs(res.c_price))
        # active orders: plans pricing below the order's dual enter the LP
        negative = act & (res.c_price - np.where(act, sigma, 0.0) < -tol)
        # fixed orders: a plan pricing below the fixed one activates the order
        fixed_price = pb.column_prices(row_price)[np.maximum(alp.fixed, 0)]
        wake = ~act & (res.c_price < fixed_price - tol)
        woke = alp.activate(np.flatnonzero(wake))
        added = pb.add_priced(res, 0, negative | wake)
        pb.trace.append(("price", added, woke, lb))
        if added == 0 and woke == 0:
            # nothing prices below its order's dual: with exact pricing the LP is optimal over
            # the whole plan space
            st.converged = st.truncated == 0
            break
        if lp_obj - st.lb <= 1e-9 * max(1.0, abs(lp_obj)):
            break
    st.active = alp.active
    if st.converged and st.lp_value > st.lb:
        st.lb = st.lp_value
