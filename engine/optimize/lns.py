"""Local search: 1-opt passes, and large-neighbourhood search re-solving related orders exactly.

A 1-opt pass (:func:`one_opt`) re-plans each order alone, exactly, on the
stock and capacity the other orders' plans leave.

A neighbourhood grows from one seed order through the stock its plans could
use: every order with a plan in the column pool on one of those inventory
entries is a neighbour, since only such orders compete with it. The
neighbourhood's orders then choose among all their pooled plans in a small
MIP (HiGHS, :meth:`~sourcewise.engine.optimize.master.Master.solve_part`) within
the stock and capacity the other orders' incumbent plans leave; their
incumbent plans are among the choices and a result is kept only when it is
cheaper, so the incumbent never gets worse.

Seeds are drawn in proportion to each order's Lagrangian gap (its incumbent
plan's reduced cost: its price at the relaxation's prices minus the order's
own best price there): orders whose plans are furthest from what the prices
say are where the incumbent can gain. For the same reason a sub-MIP is
offered only the pooled plans whose reduced cost is no higher than that of
the dearest plan the incumbent uses (and its orders' incumbent plans):
plans the prices rank worse than every plan in use rarely help, and without
them a sub-MIP is smaller and solves faster.

The sub-MIPs run one per core at once, on worker threads (HiGHS releases
the GIL). Neighbourhoods in flight together hold no order in common, and
each is offered only the slack that no earlier one in flight may use, so
every result fits beside the others' and none is wasted.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait

import numpy as np

from sourcewise.engine._kernels import plans as P
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.state import SolveState

SIZE = 150
"""Orders per neighbourhood."""

SUB_TIME = 2.0
"""Seconds at most per sub-MIP."""


class Pool:
    """Which pooled columns each order has, and which orders each inventory entry's columns serve."""

    def __init__(self, pb: Problem):
        c_order, cptr, (_, _, _, re) = pb.columns()
        n = pb.G.n
        srt = np.argsort(c_order, kind="stable")
        self.cols_of = (srt, np.searchsorted(c_order[srt], np.arange(n + 1)))
        owner = np.repeat(c_order, np.diff(cptr))
        key = np.unique(re * n + owner)
        ent, order = key // n, key % n
        self.orders_of = (order, np.searchsorted(ent, np.arange(pb.inv.nnz + 1)))
        # entries each order's columns touch
        key = np.unique(owner * pb.inv.nnz + re)
        self.ents_of = (key % pb.inv.nnz, np.searchsorted(key // pb.inv.nnz, np.arange(n + 1)))

    def columns(self, orders: np.ndarray) -> np.ndarray:
        srt, b = self.cols_of
        return np.concatenate([srt[b[o]:b[o + 1]] for o in orders.tolist()])

    def neighbourhood(self, seed: int, size: int, rng: np.random.Generator) -> np.ndarray:
        """Orders reached from ``seed`` through shared entries, breadth first, at most ``size``."""
        ents, eb = self.ents_of
        orders, ob = self.orders_of
        taken = {seed}
        frontier = [seed]
        while frontier and len(taken) < size:
            nxt: list[int] = []
            for o in frontier:
                for e in ents[eb[o]:eb[o + 1]].tolist():
                    near = orders[ob[e]:ob[e + 1]]
                    if len(near) > size:
                        near = rng.choice(near, size, replace=False)
                    for p in near.tolist():
                        if p not in taken:
                            taken.add(p)
                            nxt.append(p)
                            if len(taken) >= size:
                                return np.array(sorted(taken), np.int64)
            rng.shuffle(nxt)
            frontier = nxt
        return np.array(sorted(taken), np.int64)


def search(pb: Problem, st: SolveState, deadline: float, reduced: np.ndarray | None, seed: int = 0,
           size: int | None = None, workers: int | None = None) -> int:
    """Improve ``st``'s incumbent by neighbourhood sub-MIPs until ``deadline``; returns how many ran.

    Parameters
    ----------
    pb : Problem
    st : SolveState
        Its incumbent is improved in place (source ``"neighbourhood search"``).
    deadline : float
        ``time.perf_counter()`` value to stop at.
    reduced : ndarray, optional
        Per column, its reduced cost at the best bound's prices (see the
        module notes); without, seeds are drawn uniformly and sub-MIPs are
        offered every pooled plan.
    seed : int
        Random seed of the neighbourhoods.
    size : int
        Orders per neighbourhood.
    workers : int, optional
        Sub-MIPs solved at once, each on its own thread (HiGHS releases the
        GIL); by default one per core this process may use. Neighbourhoods in
        flight together hold no order in common, and each may use only the
        slack of stock and capacity that no earlier one in flight may use,
        besides what its own orders' plans hold; so every result fits next
        to the others'. With one worker the search is deterministic.
    """
    rng = np.random.default_rng(seed)
    size = SIZE if size is None else size
    workers = max(1, _cores() if workers is None else int(workers))
    pool = Pool(pb)
    m = pb.master
    cost = m.flat()[1]
    n = pb.G.n
    inc = st.incumbent
    if reduced is None:
        w = np.ones(n)
        offered = None
    else:
        gaps = reduced[inc]
        w = np.maximum(gaps, 0.0) + 1e-3
        # on a thin-stock wave of 10,000 orders, 8 s of search from the same start: 380 -> 527 sub-MIPs,
        # 131,246 -> 130,856 (a fixed limit of 3 was too tight: 131,706)
        offered = reduced <= max(float(gaps.max()), 0.0)
    runs = 0
    left = m.rhs - m.usage(inc)  # what the incumbent leaves, kept up to date as it changes
    held = np.zeros(n, bool)  # orders in some neighbourhood in flight
    flying: dict[Future, tuple[np.ndarray, np.ndarray]] = {}

    def free() -> np.ndarray:
        """What the incumbent leaves and no neighbourhood in flight may take."""
        f = left.copy()
        for _, rows in flying.values():
            f[rows] = 0.0
        return f

    with ThreadPoolExecutor(workers, thread_name_prefix="neighbourhood") as ex:
        while True:
            # keep every worker busy with a neighbourhood of orders apart from those in flight
            tries = 0
            while len(flying) < workers and tries < 8 and time.perf_counter() < deadline - 0.05 \
                    and not st.proven():
                tries += 1
                s = int(rng.choice(n, p=w / w.sum()))
                hood = pool.neighbourhood(s, size, rng)
                if held[hood].any():
                    continue
                cols = pool.columns(hood)
                if offered is not None:
                    cols = np.union1d(cols[offered[cols]], inc[hood])
                # resources the other orders' plans leave for the neighbourhood
                rhs = free() + m.usage(inc[hood])
                held[hood] = True
                # no start solution: HiGHS solves these in milliseconds anyway, and completing a given
                # start makes its MIP presolve print to the terminal; the incumbent is kept unless beaten
                fut = ex.submit(m.solve_part, min(SUB_TIME, deadline - time.perf_counter()), hood, cols, rhs, 1)
                flying[fut] = (hood, m.rows_of(cols))
                # the sampled orders are being tried: seed elsewhere next
                w[hood] *= 0.3
                w /= w.max()  # rescaled so that repeated visits never underflow every weight to zero
            if not flying:
                break
            done, _ = wait(flying, return_when=FIRST_COMPLETED)
            for fut in done:
                hood, _ = flying.pop(fut)
                held[hood] = False
                r = fut.result()
                runs += 1
                if r.choice is None:
                    continue
                # no other neighbourhood in flight holds these orders, so their plans are as submitted
                gain = float(cost[inc[hood]].sum() - cost[r.choice].sum())
                if gain > 1e-7 * max(1.0, abs(st.objective)):
                    choice = inc.copy()
                    choice[hood] = r.choice
                    st.consider(pb, choice, "neighbourhood search")
                    if st.incumbent is choice:
                        # only the neighbourhood's own plans changed
                        left = left + m.usage(inc[hood]) - m.usage(r.choice)
                        inc = choice
    pb.trace.append(("neighbourhood search", runs, st.objective))
    return runs


def _cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def one_opt(pb: Problem, st: SolveState, seed: int = 0) -> int:
    """One pass of re-planning every order alone, in random order, on the stock the others leave.

    Each order keeps its plan unless a cheaper one fits what the other
    orders' plans leave (:func:`sourcewise.engine._kernels.plans.one_opt`), so
    the pass never makes the incumbent worse. Returns how many orders
    changed plan.
    """
    zl, zn = np.zeros(pb.inv.nnz), np.zeros(pb.net.n_nodes)
    seq = np.random.default_rng(seed).permutation(pb.G.n)
    changed, cols = replan(pb, st.incumbent, pb.prices(zl, zn, zn), seq)
    if changed:
        st.consider(pb, cols, "1-opt")
    pb.trace.append(("1-opt", changed, st.objective))
    return changed


def replan(pb: Problem, cols: np.ndarray, prices: P.Prices, seq: np.ndarray) -> tuple[int, np.ndarray]:
    """Re-plan the orders of ``seq`` in turn from the plans ``cols``, each on the stock the others leave.

    Each order takes its cheapest plan at ``prices`` on what the other
    orders' plans leave when it prices below its plan in ``cols``
    (:func:`sourcewise.engine._kernels.plans.one_opt`), so the plans always
    fit together. A plan in ``cols`` is taken to price at its cost, as it
    does at zero prices and for an empty plan at any prices.

    Returns
    -------
    changed, cols
        How many orders changed plan, and a column per order.
    """
    ent, parcels, units = pb.use_of(cols)
    c = pb.ctx
    # what no order's plan takes yet: the kernel gives each order's back and takes its new plan's
    stock = pb.stock._replace(atp=c.atp - ent, cap_o=c.cap_o - parcels, cap_u=c.cap_u - units)
    changed, res = P.one_opt(pb.orders, stock, pb.costs, prices, pb.budget, seq, pb.rows_of(cols),
                             pb.master.flat()[1][cols])
    if not changed:
        return 0, cols
    ids = pb.priced_ids(res, 0, 0)
    return changed, np.where(ids >= 0, ids, cols)

