"""Lagrangian relaxation of the plan problem: prices by subgradient steps, a bound, and plans.

Relaxing every resource row (stock per inventory entry, parcels and units
per node) with prices ``y >= 0`` splits the batch into one problem per
order: its cheapest plan at those prices, which the plan kernels price
exactly (:func:`sourcewise.engine._kernels.plans.price_orders`). So

    L(y) = sum_o min_p (cost_p + y . a_p) - y . b

is a lower bound on every routing of the batch with up to ``max_shipments``
parcels per order, and computing it needs no LP: it scales to tens of
thousands of orders where the first restricted LP alone may not finish
within the time limit. Projected subgradient steps raise it: Polyak's rule
against the incumbent, deflected by the previous direction when the new one
turns against it (Camerini, Fratta and Maffioli), the step scale halved when
the bound stalls; the rounds stop once the bound has all but stopped rising.

Every pricing round also yields plans: each order's cheapest plan at the
round's prices joins the column pool (:class:`~sourcewise.engine.optimize.problem.Problem`),
which the neighbourhood search (:mod:`~sourcewise.engine.optimize.lns`) chooses from.
Every few rounds the prices also give incumbents within seconds: the orders
planned one at a time at the prices, largest first
(:func:`~sourcewise.engine.optimize.heuristics.construct`), and the batch
routed by the router at the prices.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

import numpy as np

from sourcewise.engine.optimize import heuristics
from sourcewise.engine.optimize.heuristics import Route
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.state import SolveState

THETA_START = 0.2
"""First step scale of Polyak's rule (a fraction of the gap to the incumbent)."""

PATIENCE = 4
"""Rounds without a better bound before the step scale is halved."""

DEFLECT = 1.5
"""Weight of the previous direction when the new subgradient turns against it (0: plain steps)."""

STALL_ROUNDS = 10
"""Rounds over which the best bound, or the rounds' own bounds, must rise by :data:`STALL_GAIN`
(relative) for the rounds to go on (see :func:`_stalled`)."""

STALL_GAIN = 2e-4
"""See :data:`STALL_ROUNDS`."""

SKU_PRICES = True
"""Price each SKU's stock in all as well, by bisection (see :func:`_bisect_sku_prices`)."""

ROUTE_PATIENCE = 3
"""Routing passes in a row that beat no incumbent before the relaxation stops routing, when it
constructs plans as well (:func:`~sourcewise.engine.optimize.heuristics.construct`): on thin-stock
waves the constructions beat every routing, which then only takes time from the rounds (a quarter
of it on 10,000 orders)."""

CONSTRUCT_SHARE = 0.25
"""Most share of the relaxation's time its constructions take (the first, after round 2, is made
whatever it costs). A construction is serial and on large batches costs about two rounds: on a
thin-stock wave of 50,000 orders at 120 s (one run each), one every 4 rounds took a third of the
time and left 90 rounds, bound 590,620 and plan 616,425; within a quarter, 113 rounds, 592,778 and
614,752. On 10,000 orders a quarter is never reached."""

THETA_MIN = 1e-4
"""Below this step scale the prices no longer move enough to matter."""


@dataclass
class Relaxation:
    """State of the subgradient method over one batch.

    Attributes
    ----------
    lam, mu, nu : ndarray
        Current prices: per inventory entry, per node parcel, per node unit.
    best_lam, best_mu, best_nu : ndarray
        The prices of the best bound so far.
    bound : float
        The best bound ``L(y)``.
    rounds : int
        Pricing rounds done.
    theta : float
        Current step scale.
    stall : int
        Rounds since the bound last improved.
    history : list of tuple
        ``(round, seconds, bound, best bound before the round's step)`` per round.
    routed_prices : ndarray, optional
        Entry prices (as :meth:`entry_prices`) whose routing of the batch gave
        the best incumbent found by routing; ``None`` when no routing at
        prices beat the incumbent it started from.
    d_e, d_o, d_u : ndarray, optional
        The last step's direction (entries, node parcels, node units), which
        the next step is deflected by.
    node : ndarray of int64
        Node of each inventory entry.
    rho, best_rho : ndarray
        Current and best-bound price per SKU, on top of each of its entries'
        own (see :func:`_bisect_sku_prices`).
    rho_lo, rho_hi : ndarray
        Per SKU, the interval its price is bisected in.
    sku : ndarray of int64
        SKU of each inventory entry.
    sku_prices : bool
        Whether the SKUs' prices move (else they stay zero).
    route_misses : int
        Routing passes since one last beat the incumbent.
    construct_seconds, construct_last : float
        Seconds the constructions at prices have taken, and the last one.
    """

    lam: np.ndarray
    mu: np.ndarray
    nu: np.ndarray
    best_lam: np.ndarray
    best_mu: np.ndarray
    best_nu: np.ndarray
    bound: float = -np.inf
    rounds: int = 0
    theta: float = THETA_START
    stall: int = 0
    history: list = field(default_factory=list)
    routed_prices: np.ndarray | None = None
    d_e: np.ndarray | None = None
    d_o: np.ndarray | None = None
    d_u: np.ndarray | None = None
    node: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    rho: np.ndarray = field(default_factory=lambda: np.zeros(0))
    best_rho: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rho_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rho_hi: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sku: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    sku_prices: bool = True
    route_misses: int = 0
    construct_seconds: float = 0.0
    construct_last: float = 0.0

    @classmethod
    def start(cls, pb: Problem) -> Relaxation:
        """All prices zero: the first round is every order's own cheapest plan."""
        ne, nn = pb.inv.nnz, pb.net.n_nodes
        sku = np.asarray(pb.sku_of_ent, np.int64)
        ns = int(sku.max()) + 1 if len(sku) else 0
        top = float(pb.penalty.max()) if len(pb.penalty) else 0.0
        return cls(np.zeros(ne), np.zeros(nn), np.zeros(nn), np.zeros(ne), np.zeros(nn), np.zeros(nn),
                   theta=THETA_START, node=pb.inv.node, rho=np.zeros(ns), best_rho=np.zeros(ns),
                   rho_lo=np.zeros(ns), rho_hi=np.full(ns, top), sku=sku)

    def entry(self, best: bool = False) -> np.ndarray:
        """Per inventory entry: its own price plus its SKU's."""
        lam, rho = (self.best_lam, self.best_rho) if best else (self.lam, self.rho)
        return lam + rho[self.sku]

    def entry_prices(self, best: bool = True) -> np.ndarray:
        """Per inventory entry: its price plus its node's unit price (what the router's ``dual`` takes)."""
        # not the SKUs' prices: a SKU's price shifts every plan that ships a unit of it alike, so it
        # changes no choice between nodes, only whether to ship at all, and a unit short of the
        # whole batch is as short for whichever order comes later
        lam, nu = (self.best_lam, self.best_nu) if best else (self.lam, self.nu)
        return lam + nu[self.node]


def _capacities(pb: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nodes with a finite parcel capacity, those with a finite unit capacity, and both capacities."""
    fo = pb.ord_row >= 0
    fu = pb.unit_row >= 0
    return fo, fu, pb.ctx.cap_o.astype(np.float64), pb.ctx.cap_u.astype(np.float64)


def price_round(pb: Problem, rx: Relaxation) -> tuple[float, np.ndarray, np.ndarray]:
    """Price every order at the current prices; returns the bound, each order's column and its lower bound.

    Each order's cheapest plan joins the column pool (with its cheapest
    single-node plan, an alternative when stock runs short).
    """
    lam = rx.entry()
    res = pb.price(lam, rx.mu, rx.nu, n_single=1)
    fo, fu, cap_o, cap_u = _capacities(pb)
    atp = pb.ctx.atp.astype(np.float64)
    bound = float(res.o_lower.sum() - lam @ atp - rx.mu[fo] @ cap_o[fo] - rx.nu[fu] @ cap_u[fu])
    cols = pb.priced_ids(res, 1, 0)  # registers the best plans
    pb.add_priced(res, 1, np.arange(len(res.c_nrows)) % 2 == 1)  # and the single-node ones
    cols = np.where(cols >= 0, cols, pb.empty_cols)
    return bound, cols, res.o_lower


def step(pb: Problem, rx: Relaxation, cols: np.ndarray, bound: float, upper: float) -> bool:
    """One projected subgradient step from the plans ``cols`` priced at ``rx``'s prices.

    Returns False when the step can no longer move the prices (the relaxed
    plans fit every resource, or the step scale has run down).
    """
    if not np.isfinite(rx.bound) or bound > rx.bound + 1e-9 * max(1.0, abs(rx.bound)):
        rx.bound = bound
        rx.best_lam, rx.best_mu, rx.best_nu = rx.lam.copy(), rx.mu.copy(), rx.nu.copy()
        rx.best_rho = rx.rho.copy()
        rx.stall = 0
    else:
        rx.stall += 1
        if rx.stall >= PATIENCE:
            rx.theta /= 2.0
            rx.stall = 0
    ent, parcels, units = (u.astype(np.float64) for u in pb.use_of(cols))
    fo, fu, cap_o, cap_u = _capacities(pb)
    g_e = ent - pb.ctx.atp
    if rx.sku_prices:
        _bisect_sku_prices(rx, np.bincount(rx.sku, weights=g_e, minlength=len(rx.rho)))
    g_o = np.where(fo, parcels - cap_o, 0.0)
    g_u = np.where(fu, units - cap_u, 0.0)
    # projection: a price at zero cannot fall, so its slack does not count in the step's length
    for g, y in ((g_e, rx.lam), (g_o, rx.mu), (g_u, rx.nu)):
        g[(y <= 0.0) & (g < 0.0)] = 0.0
    if DEFLECT and rx.d_e is not None:
        # Camerini-Fratta-Maffioli: lean on the previous direction when the new one turns back on it
        dd = float(rx.d_e @ rx.d_e + rx.d_o @ rx.d_o + rx.d_u @ rx.d_u)
        gd = float(g_e @ rx.d_e + g_o @ rx.d_o + g_u @ rx.d_u)
        beta = max(0.0, -DEFLECT * gd / dd) if dd > 0 else 0.0
        g_e, g_o, g_u = g_e + beta * rx.d_e, g_o + beta * rx.d_o, g_u + beta * rx.d_u
    rx.d_e, rx.d_o, rx.d_u = g_e, g_o, g_u
    norm = float(g_e @ g_e + g_o @ g_o + g_u @ g_u)
    if norm <= 0.0 or rx.theta < THETA_MIN:
        return False
    t = rx.theta * max(upper - bound, 1e-9 * max(1.0, abs(upper))) / norm
    rx.lam = np.maximum(rx.lam + t * g_e, 0.0)
    rx.mu = np.maximum(rx.mu + t * g_o, 0.0)
    rx.nu = np.maximum(rx.nu + t * g_u, 0.0)
    return True


def _bisect_sku_prices(rx: Relaxation, over: np.ndarray) -> None:
    """Move each SKU's price by bisection on the sign of its stock over-used in all (``over``).

    The row "a SKU's units shipped <= its stock in all" is implied by the
    entries' rows, so pricing it keeps the bound valid; it is the same as
    adding one price to every entry of the SKU. It matters when the batch
    wants more of a SKU than there is anywhere: each order alone ships it,
    and the entries' own subgradient steps, which overshoot on the entries
    that hold most of it, take dozens of rounds to find the price at which
    the missing units are worth leaving unfilled. On a 7,240-order online
    batch the bound after 45 rounds was 74,611 without and 77,299 with,
    against an LP optimum of 77,330. A uniform shift changes no choice
    between nodes, so the price moves on the sign of the SKU's over-use
    alone: up when over-used, down when under-used and priced, halving an
    interval that starts at ``[0, highest unfilled penalty]``.
    """
    up = over > 0.0
    down = (over < 0.0) & (rx.rho > 0.0)
    rx.rho_lo[up] = rx.rho[up]
    rx.rho_hi[down] = rx.rho[down]
    rx.rho = np.where(up | down, 0.5 * (rx.rho_lo + rx.rho_hi), rx.rho)
    # the entries' own prices move the best SKU price: an interval run down opens again around it
    top = rx.rho_hi.max(initial=0.0)
    tight = (rx.rho_hi - rx.rho_lo) < 1e-3 * max(1.0, top)
    if tight.any():
        w = 0.05 * max(1.0, top)
        rx.rho_lo[tight] = np.maximum(0.0, rx.rho[tight] - w)
        rx.rho_hi[tight] = rx.rho[tight] + w


def row_prices(pb: Problem, lam: np.ndarray, mu: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """Prices per master row (the form :class:`SolveState` keeps) from per-entry and per-node prices.

    An entry whose own price is positive has a row: its price rose only
    after some registered plan used it beyond its stock. One priced only
    through its SKU may not, and gets one here.
    """
    pb.entry_rows(np.flatnonzero(lam > 0.0))
    prices = np.zeros(pb.master.n_rows)
    has = pb.ent_row >= 0
    prices[pb.ent_row[has]] = lam[has]
    m = pb.ord_row >= 0
    prices[pb.ord_row[m]] = mu[m]
    m = pb.unit_row >= 0
    prices[pb.unit_row[m]] = nu[m]
    return prices


def relax(pb: Problem, st: SolveState, deadline: float, route: Route | None, every: int = 4,
          rx: Relaxation | None = None, until: Callable[[], bool] | None = None,
          sku_prices: bool | None = None, construct: bool = False) -> Relaxation:
    """Subgradient rounds until ``deadline``; keeps the best bound in ``st`` and routes at the prices.

    Parameters
    ----------
    pb : Problem
    st : SolveState
        Its incumbent steers the step length; it takes every better bound
        (with its prices and per-order bounds) and every better routed plan.
    deadline : float
        ``time.perf_counter()`` value to stop at.
    route : Route, optional
        Sequential routing at prices; run after rounds 2, ``every``, 2 ``every``, ...
        (with ``construct``, only until :data:`ROUTE_PATIENCE` passes in a
        row have beaten no incumbent).
    every : int
        Rounds between routing passes (and constructions).
    rx : Relaxation, optional
        A relaxation to go on with (its prices, step and history); a new one
        from zero prices without.
    until : callable, optional
        Stop before a round once ``until()`` is true.
    sku_prices : bool, optional
        Price each SKU's stock in all too (default :data:`SKU_PRICES`); see
        :func:`_bisect_sku_prices`.
    construct : bool
        Also construct plans at the prices (:func:`~sourcewise.engine.optimize.heuristics.construct`)
        before each routing pass. Off where the incumbent must come from
        routing alone (:func:`~sourcewise.engine.optimize.duals.dual_prices`
        keeps the prices whose routing beat myopic routing).

    Returns
    -------
    Relaxation
    """
    rx = Relaxation.start(pb) if rx is None else rx
    rx.sku_prices = SKU_PRICES if sku_prices is None else sku_prices
    t0 = time.perf_counter() - (rx.history[-1][1] if rx.history else 0.0)
    # a routing pass costs about what the greedy pass did; never start one that cannot finish
    need = 1.5 * pb.phase.get("greedy", 0.0) + 0.05
    rounds = 0
    last = 0.0  # seconds the last round took: one that would end past the deadline does not start
    while time.perf_counter() + last < deadline and not st.proven() and not (until is not None and until()):
        t_round = time.perf_counter()
        bound, cols, lower = price_round(pb, rx)
        last = time.perf_counter() - t_round
        rx.rounds += 1
        rounds += 1
        rx.history.append((rx.rounds, time.perf_counter() - t0, bound, max(bound, rx.bound)))
        pb.trace.append(("lagrangian", rx.rounds, bound))
        if bound > st.lb:
            st.lb, st.lb_lower = bound, lower
            st.lb_prices = row_prices(pb, rx.entry(), rx.mu, rx.nu)
            st.lb_truncated = None
            st.bound_source = _source(rx)
        if rx.rounds == 2 or rx.rounds % every == 0:
            # a construction is serial: about two rounds on one thread until one has been timed
            if construct and deadline - time.perf_counter() > (rx.construct_last or 2.0 * last) + 0.05 \
                    and (rx.rounds == 2 or rx.construct_seconds <= CONSTRUCT_SHARE * (time.perf_counter() - t0)):
                t_c = time.perf_counter()
                st.consider(pb, heuristics.construct(pb, rx.entry(), rx.mu, rx.nu, lower),
                            "price-guided construction")
                rx.construct_last = time.perf_counter() - t_c
                rx.construct_seconds += rx.construct_last
            if route is not None and (not construct or rx.route_misses < ROUTE_PATIENCE) \
                    and deadline - time.perf_counter() > need:
                prices = rx.entry_prices(best=False)
                before = st.objective
                st.consider(pb, route(np.arange(pb.G.n), prices, None), "lagrangian routing")
                if st.objective < before:
                    rx.routed_prices = prices
                    rx.route_misses = 0
                else:
                    rx.route_misses += 1
        if not step(pb, rx, cols, bound, st.objective):
            break
        if _stalled(rx):
            # the bound has all but stopped rising: the time is better spent on the incumbent
            break
    st.iterations += rounds
    if st.bound_source.startswith("lagrangian ("):
        st.bound_source = _source(rx)
    return rx


def _stalled(rx: Relaxation) -> bool:
    """Whether neither the best bound nor the rounds' own bounds rose by :data:`STALL_GAIN` over
    the last :data:`STALL_ROUNDS` rounds.

    The rounds' own bounds count too because a first step can overshoot: on
    batches where every order's own best plan nearly fits, the bound of zero
    prices stays the best for many rounds while the prices climb back past it.
    They count by their trend (least squares over the last :data:`STALL_ROUNDS`
    rounds), which must also rise by twice the scatter about it, since they zigzag.
    """
    if rx.rounds <= STALL_ROUNDS:
        return False
    h = rx.history
    gain = STALL_GAIN * max(1.0, abs(rx.bound))
    if rx.bound - h[-STALL_ROUNDS - 1][3] >= gain:
        return False
    x = np.arange(STALL_ROUNDS, dtype=np.float64)
    y = np.array([r[2] for r in h[-STALL_ROUNDS:]])
    slope, intercept = np.polyfit(x, y, 1)
    rise = slope * STALL_ROUNDS
    # a rise the zigzag alone could make is no rise
    return bool(rise < max(gain, 2.0 * float(np.std(y - (slope * x + intercept)))))


def _source(rx: Relaxation) -> str:
    return f"lagrangian ({rx.rounds} subgradient rounds)"
