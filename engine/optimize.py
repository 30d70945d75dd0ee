"""Batch sourcing optimization: choose every order's plan jointly.

The router (:mod:`sourcewise.engine.router`) sources orders one at a time; each takes the
cheapest plan the remaining stock allows, so early orders can use up the
stock or node capacity that would have saved later orders a split parcel.
:func:`optimize` instead solves one set-partitioning problem over a batch:

* a **plan** (column) serves one order from at most ``min(max_shipments, 3)``
  nodes with integer units per (node, SKU); units it leaves unfilled cost
  the order's ``unfilled_penalty`` each;
* every order gets exactly one plan; together the plans never take more than
  an inventory entry's available-to-promise (ATP) units, nor more parcels or
  units than a node's capacity.

Costs and eligibility are the router's (see :mod:`sourcewise.engine._plans`): parcel,
unit and distance costs, node handling, vendor fees (vendor offers when
given), store depletion (priced at the batch's starting stock), lateness;
sourcing-tier node kinds, regions, channels and distance limits, delivery
deadlines and capacities. Tiers are *eligibility* here, not an order of
preference: the optimizer weighs a vendor against a store by cost alone. The
objective is the real cost the router would report plus the unfilled penalty.

Method
------
1. **Greedy**: the router's own sequential ``cost`` routing of the batch on
   the same stock and capacities: a feasible incumbent, and columns.
2. **Columns**: per order, the cheapest plan ignoring other orders, the
   ``n_alternatives`` cheapest single-node plans and the empty plan.
3. **Column generation over an active set**: orders whose own best plans
   collide on some stock or capacity form the LP (HiGHS, warm-started);
   the others keep their best plan and only its use is deducted. Every
   round prices *every* order against the LP's duals (a shadow price per
   inventory entry and per capacity) with an exact branch-and-bound search,
   adds plans with negative reduced cost and activates fixed orders that
   would change. Each round also gives a **Lagrangian lower bound**
   ``sum_o min_p price(p) - sum_r price_r rhs_r``, valid for the *whole*
   plan space; :attr:`Plan.lower_bound` is the best of them (the LP value
   itself once pricing finds nothing, i.e. column generation converged).
4. **Heuristics**: round the LP; route the batch with the router's ``dual``
   strategy at the LP's prices; and keep the LP's integral plans while
   routing only the contested orders that way against the stock left.
5. **Integer phase** (when at most ``MIP_MAX_ACTIVE`` orders are in the LP):
   a MIP over the contested orders' columns with the rest fixed, then the
   MIP over all columns from the incumbent (HiGHS, or CP-SAT with a hint).
6. **Closing the gap**: a plan whose Lagrangian reduced cost exceeds the gap
   ``UB - LB`` cannot be part of a better solution. When every plan within
   the gap can be listed (small gap or batch), the MIP over them decides
   optimality over the whole plan space and its dual bound is a global bound.

The MIP solver's own dual bound over the *generated columns* is reported
separately as :attr:`SolveLog.mip_bound_restricted`; it is not a bound on the
true optimum.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import numpy as np
import pandas as pd

from sourcewise.engine import _kernels as K
from sourcewise.engine._kernels import plans as P
from sourcewise.engine._master import Master, MipResult, highs_core
from sourcewise.engine.batch import (
    batch_from_orders,
    lines_for_groups,
    orders_frame,
    orders_from_batch,
)
from sourcewise.engine.router import Holding, Router, node_usage
from sourcewise.models.decision import Allocation, CostBreakdown, Decision, Shipment, Status
from sourcewise.models.errors import Collector
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import UNLIMITED, UNLIMITED_FROM, Network, unit_vectors
from sourcewise.models.order import Order
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch

INF_CAPACITY = 1 << 62

MAX_PLAN_NODES = 3
"""Plans generated and bounded use at most this many nodes (as the router's exact search)."""

TIGHTEN_BUDGET = 20_000_000
"""Search budget when re-pricing, for the bound, the orders whose pricing was cut short."""

MIP_MAX_ACTIVE = 1500
"""Above this many orders in the LP, the MIP phases are skipped for routing heuristics."""

STRATEGY = "optimize"

__all__ = ["Plan", "ReoptResult", "SolveLog", "dual_prices", "optimize", "reoptimize", "warm_up"]
# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class SolveLog:
    """What the optimizer did, and what each number bounds.

    Attributes
    ----------
    seconds : float
        Wall time of the whole call.
    phase_seconds : dict
        ``greedy``, ``columns``, ``column_generation``, ``heuristics``,
        ``integer``, ``enumeration``.
    n_orders, n_columns, cg_iterations : int
    cg_converged : bool
        No plan priced below its order's dual in the last round: the last LP
        value is the LP optimum over the whole plan space.
    active_orders : int
        Orders in the LP at the end; the others kept their own best plan.
    lp_value : float
        LP value of the restricted master at the last round: an upper bound
        on the full LP, a lower bound only for the generated columns.
    lagrangian_bound : float
        Best proven lower bound on the objective over the whole plan space.
    pricing_truncated : int
        Orders whose pricing search hit its budget in the last round (their
        share of the bound used a weaker estimate).
    greedy_objective : float
        Objective of the router's sequential ``cost`` routing of the batch.
    mip_status : str
        Status of the last MIP solve, about the columns it was given.
    mip_bound_restricted : float
        The MIP solver's dual bound: it bounds *those columns only*.
    enumeration : str
        ``proved`` (every plan that could improve was listed and the MIP over
        them is optimal), ``bounded (time)``, ``skipped ...`` or ``not needed``.
    source : str
        Phase that produced the returned plans: ``greedy``, ``incumbent``,
        ``lp-rounding``, ``dual-routing``, ``lp-fix``, ``mip`` or ``enumeration``.
    solver : str
    time_limited : bool
        Some phase stopped because time ran out.
    events : tuple
        What happened, in order: ``("lp", orders in the LP, seconds, status,
        value)``, ``("price", plans added, orders activated, bound)``,
        ``("heuristic", name, objective)``, ``("mip", phase, status,
        objective, bound, seconds)``.
    """

    seconds: float
    phase_seconds: dict
    n_orders: int
    n_columns: int
    cg_iterations: int
    cg_converged: bool
    active_orders: int
    lp_value: float
    lagrangian_bound: float
    pricing_truncated: int
    greedy_objective: float
    mip_status: str
    mip_bound_restricted: float
    enumeration: str
    source: str
    solver: str
    time_limited: bool
    events: tuple = ()

    def summary(self) -> str:
        """A few lines for people."""
        ph = ", ".join(f"{k} {v:.2f}s" for k, v in self.phase_seconds.items())
        return (
            f"{self.n_orders} orders ({self.active_orders} in the LP), {self.n_columns} plans, "
            f"{self.cg_iterations} pricing rounds ({'converged' if self.cg_converged else 'not converged'}), "
            f"solver {self.solver}\n"
            f"greedy objective {self.greedy_objective:.2f}; restricted LP {self.lp_value:.2f}; "
            f"proven bound {self.lagrangian_bound:.2f}\n"
            f"MIP {self.mip_status} (its bound {self.mip_bound_restricted:.2f} covers generated plans only); "
            f"enumeration {self.enumeration}; plans from {self.source}\n"
            f"time {self.seconds:.2f}s ({ph}){'; time limit reached' if self.time_limited else ''}"
        )


@dataclass(frozen=True, eq=False)
class Plan:
    """Jointly optimized sourcing of a batch of orders.

    Attributes
    ----------
    allocations, orders : DataFrame
        Same columns as :class:`sourcewise.engine.router.BatchResult`.
    cost : float
        Real cost of all plans, as the router reports it (shipping, handling,
        vendor fees, split penalty, penalties).
    objective : float
        ``cost + sum(unfilled_penalty * unfilled units per order)``: what was minimised.
    lower_bound : float
        Proven lower bound on ``objective`` over every assignment of plans
        that respects stock and capacities, with at most
        ``min(max_shipments, 3)`` parcels per order (plus the router's own
        plans, which may use more).
    gap : float
        ``(objective - lower_bound) / (objective - objective_constant)``:
        the gap relative to the part of the objective plans can change.
    status : str
        ``optimal`` when ``objective - lower_bound`` is within 1e-6
        (relative), else ``feasible``.
    solve_log : SolveLog
    unfilled_penalty : ndarray
        Objective cost of one unfilled unit, per order.
    units_unfilled : int
    units_unservable : int
        Units no plan could fill (more than all eligible stock).
    objective_constant : float
        Their penalty, part of every solution's objective.
    dual_prices : ndarray, shape (inventory.nnz,)
        Shadow price of one more unit at each inventory entry (with its
        node's unit-capacity price) from the last LP; for
        :meth:`sourcewise.engine.router.Router.set_dual_prices`.
    """

    allocations: pd.DataFrame
    orders: pd.DataFrame
    cost: float
    objective: float
    lower_bound: float
    gap: float
    status: str
    solve_log: SolveLog
    unfilled_penalty: np.ndarray
    units_unfilled: int
    units_unservable: int
    objective_constant: float
    dual_prices: np.ndarray
    _decide: object = field(default=None, repr=False)

    @cached_property
    def decisions(self) -> tuple[Decision, ...]:
        """One :class:`~sourcewise.models.decision.Decision` per order, in batch order."""
        return self._decide()  # type: ignore[misc]

    @property
    def shipments(self) -> int:
        return int(self.orders["shipments"].sum())


@dataclass(frozen=True, eq=False)
class ReoptResult:
    """Outcome of :func:`reoptimize`.

    Attributes
    ----------
    applied : bool
        Whether the router now holds the new plans.
    reason : str
        Why (or why not) they were applied.
    order_ids : tuple of str
    objective_before, objective_after : float
        Penalised objective of the held plans and of the best plans found
        (``objective_after == objective_before`` when nothing better was found).
    cost_before, cost_after : float
        Real cost.
    saved : float
        ``objective_before - objective_after`` when applied, else 0.
    shipments_before, shipments_after : int
    splits_removed : int
        Shipments beyond one per order, before minus after.
    units_unfilled_before, units_unfilled_after : int
    lower_bound : float
        Proven lower bound on the objective of any re-plan of these orders.
    plan : Plan or None
        The optimizer's result (``None`` when there was nothing to re-plan).
    """

    applied: bool
    reason: str
    order_ids: tuple[str, ...]
    objective_before: float
    objective_after: float
    cost_before: float
    cost_after: float
    saved: float
    shipments_before: int
    shipments_after: int
    splits_removed: int
    units_unfilled_before: int
    units_unfilled_after: int
    lower_bound: float
    plan: Plan | None


# ---------------------------------------------------------------------- inputs
def _capacity(value, network: Network, name: str, col: Collector, default: np.ndarray) -> np.ndarray:
    """Capacity per node as int64 (``INF_CAPACITY`` where unlimited).

    ``value`` is ``None`` (use ``default``), an array with one entry per node
    (``inf`` or >= 2**59 meaning unlimited) or a dict ``{node_id: limit}``
    overriding ``default`` for the nodes it names (``None`` lifts a limit).
    """
    out = np.where(default >= UNLIMITED_FROM, INF_CAPACITY, default).astype(np.int64)
    if value is None:
        return out
    if isinstance(value, Mapping):
        for node_id, v in value.items():
            n = network.node_index.get(node_id)
            if n is None:
                col.add(name, str(node_id), "node_id", f"unknown node {node_id!r}")
                continue
            if v is None or (isinstance(v, float) and math.isinf(v) and v > 0):
                out[n] = INF_CAPACITY
                continue
            if isinstance(v, bool) or not isinstance(v, int | np.integer | float) or v < 0 or v != int(v):
                col.add(name, str(node_id), "capacity", f"must be an integer >= 0, got {v!r}")
                continue
            out[n] = INF_CAPACITY if v >= UNLIMITED_FROM else int(v)
        return out
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (network.n_nodes,):
        col.add(name, None, "shape", f"must be ({network.n_nodes},) (one per node), got {arr.shape}")
        return out
    bad = np.isnan(arr) | (arr < 0) | (np.isfinite(arr) & (arr != np.round(arr)))
    for i in np.flatnonzero(bad)[:100]:
        col.add(name, network.nodes[i].node_id, "capacity", f"must be an integer >= 0, got {arr[i]!r}")
    ok = ~bad
    out[ok] = np.where(np.isfinite(arr[ok]) & (arr[ok] < UNLIMITED_FROM), arr[ok], INF_CAPACITY).astype(np.int64)
    return out


@dataclass(frozen=True, eq=False)
class _Groups:
    """Lines of the same SKU in one order merged: they share stock and cost."""

    batch: OrderBatch
    g_ptr: np.ndarray
    g_sku: np.ndarray
    g_qty: np.ndarray
    group_of_line: np.ndarray
    line_owner: np.ndarray
    k: np.ndarray
    kk: np.ndarray
    dest: np.ndarray

    @classmethod
    def build(cls, batch: OrderBatch, policy: Policy) -> _Groups:
        owner = np.repeat(np.arange(batch.n_orders), np.diff(batch.line_ptr))
        key = pd.MultiIndex.from_arrays([owner, batch.sku])
        group_of_line, uniq = pd.factorize(key)
        if len(uniq):
            g_owner = uniq.get_level_values(0).to_numpy().astype(np.int64)
            g_sku = uniq.get_level_values(1).to_numpy().astype(np.int64)
        else:
            g_owner = g_sku = np.empty(0, np.int64)
        g_qty = np.bincount(group_of_line, weights=batch.qty, minlength=len(uniq)).astype(np.int64)
        g_ptr = np.searchsorted(g_owner, np.arange(batch.n_orders + 1)).astype(np.int64)
        k = np.where(batch.allow_split, np.where(batch.max_shipments > 0, batch.max_shipments,
                                                 policy.max_shipments), 1).astype(np.int64)
        return cls(batch, g_ptr, g_sku, g_qty, np.asarray(group_of_line, np.int64), owner, k,
                   np.minimum(k, MAX_PLAN_NODES),
                   np.ascontiguousarray(unit_vectors(batch.lat, batch.lon).reshape(-1, 3)))

    @property
    def n(self) -> int:
        return self.batch.n_orders

    def units(self) -> np.ndarray:
        owner = np.repeat(np.arange(self.n), np.diff(self.g_ptr))
        return np.bincount(owner, weights=self.g_qty, minlength=self.n).astype(np.int64)


@dataclass(frozen=True, eq=False)
class _Context:
    """Everything the plan kernels read for one batch, built to match a router."""

    nodef: np.ndarray
    params: np.ndarray
    bands: np.ndarray
    weight: np.ndarray
    fee_e: np.ndarray
    pen_e: np.ndarray
    mask: np.ndarray
    maxmiles: np.ndarray
    admit: np.ndarray
    tier_km: np.ndarray
    tier_names: tuple[str, ...]
    chan: np.ndarray
    hour: np.ndarray
    max_days: np.ndarray
    start_day: np.ndarray
    cap_o: np.ndarray
    cap_u: np.ndarray
    atp: np.ndarray


def _context(network: Network, inventory: Inventory, policy: Policy, batch: OrderBatch, *, on_hand, safety,
             reserved, fee_e, demand, cap_o, cap_u, business_day: date) -> _Context:
    """Arrays mirroring the router's: ATP after store protection, fees, tiers, deadlines."""
    svc = policy.service
    # the router's node matrix and parameter vector: one layout, one cost model
    nodef = K.pack_nodes(network)
    params = K.cost_params(policy, nodef)
    bands = np.array(svc.transit_bands, np.float64).reshape(len(svc.transit_bands), 2)
    atp = np.maximum(on_hand - safety - reserved, 0).astype(np.int64)
    # store depletion at the batch's starting stock: the router prices it at the stock left
    # when each order is routed, which a joint plan has no single value for
    w = policy.stores.depletion_weight
    pen = np.zeros(inventory.nnz)
    d = np.asarray(demand, np.float64)
    has = (d > 0) & (w > 0)
    pen[has] = w * d[has] / (d[has] + atp[has])
    # tiers: which nodes each channel may use, how far, and which tier a parcel belongs to
    kinds = np.array([n.kind.value for n in network.nodes], dtype=object)
    region = np.asarray(network.region, dtype=object)
    n_orders = batch.n_orders
    channels = ["web"] if batch.channel is None else sorted({str(c) for c in batch.channel} | {"web"})
    chan_of = {c: i for i, c in enumerate(channels)}
    chan = (np.zeros(n_orders, np.int64) if batch.channel is None
            else np.array([chan_of[str(c)] for c in batch.channel], np.int64))
    tiers = policy.tiers
    admit = np.zeros((len(channels), max(1, len(tiers)), network.n_nodes), np.bool_)
    tier_km = np.array([t.max_distance_km for t in tiers] or [np.inf], np.float64)
    for t, tier in enumerate(tiers):
        m = network.usable & np.isin(kinds, tier.kinds)
        if tier.regions:
            m &= np.isin(region, tier.regions)
        for c, name in enumerate(channels):
            if not tier.channels or name in tier.channels:
                admit[c, t] = m
    maxmiles = np.full((len(channels), network.n_nodes), -1.0)
    for c in range(len(channels)):
        for t in range(len(tiers)):
            maxmiles[c] = np.where(admit[c, t], np.maximum(maxmiles[c], tier_km[t] / P.MILE_KM), maxmiles[c])
    # order hour and delivery deadline, as the router's batch path reads them
    if batch.placed_at is not None:
        ts = pd.DatetimeIndex(batch.placed_at)
        hour = np.where(ts.isna(), 0.0, ts.hour + ts.minute / 60.0).astype(np.float64)
        start = np.array([business_day if pd.isna(x) else x.date() for x in ts], dtype=object)
    else:
        hour = np.zeros(n_orders)
        start = np.full(n_orders, business_day, dtype=object)
    if batch.service_level is not None:
        max_days = np.array([svc.deadline(str(x)) for x in batch.service_level], np.float64)
    else:
        max_days = np.full(n_orders, svc.standard_days, np.float64)
    return _Context(
        nodef=np.ascontiguousarray(nodef), params=params, bands=np.ascontiguousarray(bands),
        weight=np.ascontiguousarray(network.weight_kg, dtype=np.float64), fee_e=np.asarray(fee_e, np.float64),
        pen_e=pen, mask=np.asarray(network.usable, np.bool_).copy(), maxmiles=np.ascontiguousarray(maxmiles),
        admit=admit, tier_km=tier_km, tier_names=tuple(t.name for t in tiers) or ("",), chan=chan,
        hour=hour, max_days=max_days, start_day=start, cap_o=cap_o, cap_u=cap_u, atp=atp)


def _check_methods(batch: OrderBatch, col: Collector) -> None:
    if batch.method is not None:
        for i in np.flatnonzero(np.asarray(batch.method, dtype=object) != "ship")[:100]:
            col.add("orders", int(i), "method",
                    f"optimize plans shipped lines only; route {batch.method[i]!r} lines with Router.route")


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps)."""
    z = z.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


# ------------------------------------------------------------------ the problem
class _Problem:
    """Columns, the master problem and the solve phases for one batch."""

    def __init__(self, groups: _Groups, network: Network, inventory: Inventory, policy: Policy, ctx: _Context,
                 penalty: float | None, budget: int, n_alternatives: int):
        self.G = groups
        self.net = network
        self.inv = inventory
        self.pol = policy
        self.ctx = ctx
        self.budget = int(budget)
        self.n_alt = int(n_alternatives)
        self.sku_of_ent = np.repeat(np.arange(network.n_skus), np.diff(inventory.sku_ptr))
        n_nodes = network.n_nodes
        # resource rows: node capacities first (fixed), inventory entries added as columns touch them
        self.ord_row = np.full(n_nodes, -1, np.int64)
        self.unit_row = np.full(n_nodes, -1, np.int64)
        rhs: list[float] = []
        for n in np.flatnonzero(ctx.cap_o < INF_CAPACITY):
            self.ord_row[n] = len(rhs)
            rhs.append(float(ctx.cap_o[n]))
        for n in np.flatnonzero(ctx.cap_u < INF_CAPACITY):
            self.unit_row[n] = len(rhs)
            rhs.append(float(ctx.cap_u[n]))
        self.ent_row = np.full(inventory.nnz, -1, np.int64)
        self.master = Master(groups.n, np.array(rhs, np.float64))
        # column store, aligned with the master's columns
        self._c_order: list[np.ndarray] = []
        self._c_ptr: list[np.ndarray] = []
        self._r: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._hashes: set[int] = set()
        self._flat = None
        self._by_order = None
        self._by_order_n = -1
        self.empty_cols = np.empty(0, np.int64)
        self.greedy_objective = float("nan")
        self.phase: dict[str, float] = {}
        self.total_units = groups.units()
        # the plan kernels' inputs, bundled once per batch
        self.orders = P.Orders(groups.dest, ctx.hour, ctx.max_days, ctx.chan, groups.g_ptr, groups.g_sku,
                               groups.g_qty, groups.kk)
        self.stock = P.Stock(inventory.sku_ptr, inventory.node, ctx.atp, ctx.mask, ctx.cap_o, ctx.cap_u,
                             ctx.maxmiles)
        self.costs = P.Costs(ctx.nodef, ctx.params, ctx.bands, ctx.weight, ctx.fee_e, ctx.pen_e)
        self._facts()
        self.penalty = self.auto_penalty if penalty is None else np.full(groups.n, float(penalty))
        # penalty of the units no plan can fill: the same in every solution
        self.constant = float(self.penalty @ self.short)
        self.route = None
        self.trace: list[tuple] = []

    # ------------------------------------------------------------- kernels
    def _facts(self) -> None:
        """Default penalty and the units no plan can fill (a constant of the objective)."""
        top, short = P.batch_facts(self.orders, self.stock, self.costs)
        # more than shipping any one unit of the order alone, in its own parcel, from any node that
        # may serve it: filling a unit always beats leaving it, as with the router's fill-first rule
        self.auto_penalty = np.ceil(top + self.pol.split_penalty + 1.0)
        self.short = short

    def breakdown(self, ptr, node, qty, sku, ent, orders):
        c = self.ctx
        return P.breakdown(P.PlanRows(ptr, node, qty, sku, ent), self.G.dest[orders], c.hour[orders],
                           c.max_days[orders], self.costs)

    def prices(self, lam, mu, nu) -> P.Prices:
        """Dual prices with each order's unfilled-unit penalty, as the plan kernels take them."""
        return P.Prices(lam, mu, nu, self.penalty)

    def price(self, lam, mu, nu, n_single: int = 0, active: np.ndarray | None = None, budget: int | None = None,
              parallel: bool | None = None) -> P.Priced:
        if active is None:
            active = np.ones(self.G.n, np.bool_)
        return P.price_orders(self.orders, self.stock, self.costs, self.prices(lam, mu, nu),
                              self.budget if budget is None else budget, n_single, active, parallel)

    def enumerate(self, lam, mu, nu, limit, max_rows, deadline):
        return P.enumerate_plans(self.orders, self.stock, self.costs, self.prices(lam, mu, nu), limit, max_rows,
                                 deadline)

    # ------------------------------------------------------------ columns
    @property
    def n_cols(self) -> int:
        return self.master.n_cols

    def add_columns(self, order: np.ndarray, ptr: np.ndarray, group: np.ndarray, node: np.ndarray,
                    qty: np.ndarray, ent: np.ndarray) -> np.ndarray:
        """Register plans not seen before (rows grouped by plan).

        Returns each plan's new column id, -1 for plans already registered.
        """
        order = np.asarray(order, np.int64)
        n = len(order)
        counts = np.diff(np.asarray(ptr, np.int64))
        owner = np.repeat(np.arange(n), counts)
        # an order-independent hash of (order, {(entry, units)}) drops repeated plans
        h = _mix(order.astype(np.uint64) + np.uint64(1))
        if len(ent):
            row_h = _mix(ent.astype(np.uint64) * np.uint64(1 << 20) + qty.astype(np.uint64) + np.uint64(7))
            sums = np.zeros(n, np.uint64)
            np.add.at(sums, owner, row_h)
            with np.errstate(over="ignore"):
                h = h + sums
        keep = np.zeros(n, bool)
        for i, hv in enumerate(h.tolist()):
            if hv not in self._hashes:
                self._hashes.add(hv)
                keep[i] = True
        out = np.full(n, -1, np.int64)
        if not keep.any():
            return out
        idx = np.flatnonzero(keep)
        rsel = np.repeat(keep, counts)
        order, counts = order[idx], counts[idx]
        group, node, qty, ent = group[rsel], node[rsel], qty[rsel], ent[rsel]
        m = len(idx)
        owner = np.repeat(np.arange(m), counts)
        nptr = np.zeros(m + 1, np.int64)
        np.cumsum(counts, out=nptr[1:])
        costs = self.breakdown(nptr, node, qty, self.sku_of_ent[ent], ent, order)[0]
        filled = np.bincount(owner, weights=qty, minlength=m).astype(np.int64)
        unf = self.total_units[order] - filled
        # master coefficients: entries, then node parcel and unit capacities
        new_ent = np.unique(ent[self.ent_row[ent] < 0])
        if len(new_ent):
            self.ent_row[new_ent] = self.master.add_rows(self.ctx.atp[new_ent].astype(np.float64))
        parts_c, parts_r, parts_v = [owner], [self.ent_row[ent]], [qty.astype(np.float64)]
        if (self.ord_row >= 0).any() or (self.unit_row >= 0).any():
            nn = self.net.n_nodes
            uk, inv = np.unique(owner * nn + node, return_inverse=True)
            units = np.bincount(inv, weights=qty)
            kc, kn = uk // nn, uk % nn
            sel = self.ord_row[kn] >= 0
            parts_c.append(kc[sel])
            parts_r.append(self.ord_row[kn[sel]])
            parts_v.append(np.ones(int(sel.sum())))
            sel = self.unit_row[kn] >= 0
            parts_c.append(kc[sel])
            parts_r.append(self.unit_row[kn[sel]])
            parts_v.append(units[sel])
        cc = np.concatenate(parts_c)
        srt = np.argsort(cc, kind="stable")
        mptr = np.zeros(m + 1, np.int64)
        np.cumsum(np.bincount(cc, minlength=m), out=mptr[1:])
        ids = self.master.add_columns(order, costs.sum(axis=1) + self.penalty[order] * unf, mptr,
                                      np.concatenate(parts_r)[srt], np.concatenate(parts_v)[srt])
        self._c_order.append(order)
        self._c_ptr.append(nptr)
        self._r.append((group, node, qty, ent))
        self._flat = None
        out[idx] = ids
        return out

    def columns(self):
        """All columns: order, row ptr and rows ``(group, node, qty, entry)``."""
        if self._flat is None:
            ptrs, off = [], 0
            for p in self._c_ptr:
                ptrs.append(p[:-1] + off)
                off += int(p[-1])
            ptr = np.append(np.concatenate(ptrs), off).astype(np.int64)
            rows = tuple(np.concatenate([r[i] for r in self._r]) for i in range(4))
            self._flat = (np.concatenate(self._c_order), ptr, rows)
        return self._flat

    def add_or_find(self, order, ptr, rg, rn, rq, re) -> np.ndarray:
        """Column id of every plan, registering the new ones."""
        ids = self.add_columns(order, ptr, rg, rn, rq, re)
        for i in np.flatnonzero(ids < 0):
            ids[i] = self.find_column(int(order[i]), re[ptr[i]:ptr[i + 1]], rq[ptr[i]:ptr[i + 1]])
        return ids

    def add_plans_by_order(self, ro, rg, rn, rq, re) -> np.ndarray:
        """One plan per order from rows sorted by order; returns each order's column."""
        ptr = np.searchsorted(ro, np.arange(self.G.n + 1)).astype(np.int64)
        return self.add_or_find(np.arange(self.G.n), ptr, rg, rn, rq, re)

    def find_column(self, order: int, ent: np.ndarray, qty: np.ndarray) -> int:
        """Id of a registered plan, matched by content."""
        if self._by_order_n != self.n_cols:
            c_order = self.columns()[0]
            srt = np.argsort(c_order, kind="stable")
            self._by_order = (srt, np.searchsorted(c_order[srt], np.arange(self.G.n + 1)))
            self._by_order_n = self.n_cols
        srt, bounds = self._by_order
        _, cptr, (_, _, cq, ce) = self.columns()
        want = sorted(zip(ent.tolist(), qty.tolist(), strict=True))
        for j in srt[bounds[order]:bounds[order + 1]].tolist():
            got = sorted(zip(ce[cptr[j]:cptr[j + 1]].tolist(), cq[cptr[j]:cptr[j + 1]].tolist(), strict=True))
            if got == want:
                return j
        raise RuntimeError("plan hash collision")  # pragma: no cover - add_columns saw its hash

    def add_priced(self, res, n_single: int, take: np.ndarray) -> int:
        """Add the pricing result's columns where ``take`` holds; returns how many were new."""
        c_nrows, r_node, r_group, r_qty, r_ent = res.c_nrows, res.r_node, res.r_group, res.r_qty, res.r_ent
        g = self.G
        per = 1 + n_single
        cols = np.flatnonzero((c_nrows >= 0) & take)
        if not len(cols):
            return 0
        o = cols // per
        j = cols % per
        G_o = np.diff(g.g_ptr)[o]
        start = (3 + n_single) * g.g_ptr[o] + np.where(j == 0, 0, 3 * G_o + (j - 1) * G_o)
        cnt = c_nrows[cols]
        ptr = np.zeros(len(cols) + 1, np.int64)
        np.cumsum(cnt, out=ptr[1:])
        sel = np.repeat(start - ptr[:-1], cnt) + np.arange(int(ptr[-1]))
        ids = self.add_columns(o, ptr, r_group[sel], r_node[sel], r_qty[sel], r_ent[sel])
        return int((ids >= 0).sum())

    def priced_ids(self, res, n_single: int, j: int) -> np.ndarray:
        """Column id of every order's ``j``-th priced plan (registered if new); -1 if none."""
        c_nrows, r_node, r_group, r_qty, r_ent = res.c_nrows, res.r_node, res.r_group, res.r_qty, res.r_ent
        g = self.G
        per = 1 + n_single
        o = np.flatnonzero(c_nrows[j::per] >= 0)
        out = np.full(g.n, -1, np.int64)
        if not len(o):
            return out
        G_o = np.diff(g.g_ptr)[o]
        start = (3 + n_single) * g.g_ptr[o] + (0 if j == 0 else 3 * G_o + (j - 1) * G_o)
        cnt = c_nrows[o * per + j]
        ptr = np.zeros(len(o) + 1, np.int64)
        np.cumsum(cnt, out=ptr[1:])
        sel = np.repeat(start - ptr[:-1], cnt) + np.arange(int(ptr[-1]))
        out[o] = self.add_or_find(o, ptr, r_group[sel], r_node[sel], r_qty[sel], r_ent[sel])
        return out

    def add_empty(self) -> np.ndarray:
        """The empty plan of every order: it uses no resource, so every sub-problem stays feasible."""
        n = self.G.n
        e = np.empty(0, np.int64)
        self.empty_cols = self.add_or_find(np.arange(n), np.zeros(n + 1, np.int64), e, e, e, e)
        return self.empty_cols

    def add_allocations(self, alloc: pd.DataFrame, orders: np.ndarray | None = None) -> np.ndarray:
        """One column per order (of ``orders``, default all) from an allocation table
        (``order_id, line_id, node_id, qty``); returns their column ids."""
        g = self.G
        batch = g.batch
        lines = pd.DataFrame({"order_id": batch.order_id[g.line_owner], "line_id": batch.line_id,
                              "line": np.arange(len(batch.line_id))})
        m = alloc[["order_id", "line_id", "node_id", "qty"]].merge(lines, on=["order_id", "line_id"], how="left")
        if m["line"].isna().any():
            raise ValueError("allocation rows for unknown order lines")
        line = m["line"].to_numpy(np.int64)
        node = np.array([self.net.node_index[x] for x in m["node_id"]], np.int64)
        sku = batch.sku[line]
        # entry of (sku, node): entries are sorted by SKU, then node
        key_e = self.sku_of_ent * self.net.n_nodes + self.inv.node
        ent = np.searchsorted(key_e, sku * self.net.n_nodes + node)
        bad = (ent >= len(key_e)) | (key_e[np.minimum(ent, len(key_e) - 1)] != sku * self.net.n_nodes + node)
        if bad.any():
            raise ValueError("allocation from a node without an inventory entry")
        order = g.line_owner[line]
        group = g.group_of_line[line] - g.g_ptr[order]
        df = pd.DataFrame({"o": order, "g": group, "n": node, "e": ent, "q": m["qty"].to_numpy(np.int64)})
        df = df.groupby(["o", "g", "n", "e"], sort=True, as_index=False)["q"].sum()
        ro, rg, rn, rq, re = (df[c].to_numpy(np.int64) for c in ("o", "g", "n", "q", "e"))
        if orders is None:
            return self.add_plans_by_order(ro, rg, rn, rq, re)
        orders = np.asarray(orders, np.int64)
        ptr = np.zeros(len(orders) + 1, np.int64)
        pos = np.searchsorted(orders, ro)
        np.cumsum(np.bincount(pos, minlength=len(orders)), out=ptr[1:])
        return self.add_or_find(orders, ptr, rg, rn, rq, re)

    # ------------------------------------------------------------- prices
    def duals_to_prices(self, row_price: np.ndarray):
        """Per-entry, per-node-parcel and per-node-unit prices from resource-row prices."""
        prices = np.zeros(self.master.n_rows)
        prices[: len(row_price)] = row_price
        lam = np.zeros(self.inv.nnz)
        has = self.ent_row >= 0
        lam[has] = prices[self.ent_row[has]]
        mu = np.zeros(self.net.n_nodes)
        m = self.ord_row >= 0
        mu[m] = prices[self.ord_row[m]]
        nu = np.zeros(self.net.n_nodes)
        m = self.unit_row >= 0
        nu[m] = prices[self.unit_row[m]]
        return lam, mu, nu

    def column_prices(self, row_price: np.ndarray) -> np.ndarray:
        """Every column's cost plus its resource use at ``row_price``."""
        block, cost, ptr, row, val = self.master.flat()
        prices = np.zeros(self.master.n_rows)
        prices[: len(row_price)] = row_price
        col_of = np.repeat(np.arange(len(block)), np.diff(ptr))
        return cost + np.bincount(col_of, weights=prices[row] * val, minlength=len(block))

    def lagrangian(self, row_price: np.ndarray, o_lower: np.ndarray) -> tuple[float, np.ndarray]:
        """Bound from non-negative row prices and per-order lower bounds on the best plan's price.

        Columns already in the master are valid plans too (the router's can
        use more than three nodes, outside the priced plan space), so each
        order's term is the smaller of the two.
        """
        block = self.master.flat()[0]
        prices = np.zeros(self.master.n_rows)
        prices[: len(row_price)] = row_price
        colp = self.column_prices(prices)
        best = np.full(self.G.n, np.inf)
        np.minimum.at(best, block, colp)
        lo = np.minimum(o_lower, best)
        return float(lo.sum() - prices @ self.master.rhs), lo


class _ActiveLP:
    """LP relaxation over the *active* orders; every other order is fixed at one plan.

    Orders whose own best plan collides with others on a resource start
    active; the rest keep that plan, and its use of stock and capacity is
    taken off the right-hand sides. Pricing activates a fixed order as soon
    as some plan of it prices below its fixed plan. When nothing is left to
    add or activate, the fixed plans have non-negative reduced cost at the
    LP's prices, so the LP over the active orders plus the fixed plans is
    the LP optimum of the whole master.
    """

    def __init__(self, pb: _Problem, fixed: np.ndarray):
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
        fresh_blocks = bool(self.pending_blocks)
        self._sync()
        h = self.h
        # added columns keep the basis primal feasible, so primal simplex resumes fastest;
        # new order rows start infeasible, which dual simplex handles better
        h.setOptionValue("simplex_strategy", 1 if fresh_blocks else 4)
        # HiGHS measures time_limit against the instance's cumulative run time
        h.setOptionValue("time_limit", h.getRunTime() + max(0.01, float(time_limit)))
        h.run()
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


# ------------------------------------------------------------------- the solve
@dataclass
class _State:
    incumbent: np.ndarray
    objective: float
    source: str
    lb: float = -np.inf
    lb_prices: np.ndarray | None = None
    lb_lower: np.ndarray | None = None
    lp_value: float = float("nan")
    lp_x: np.ndarray | None = None
    last_prices: np.ndarray | None = None
    iterations: int = 0
    converged: bool = False
    truncated: int = 0
    mip_status: str = "not run"
    mip_bound: float = float("nan")
    enumeration: str = "not needed"
    time_limited: bool = False
    lb_truncated: np.ndarray | None = None


def _solve(pb: _Problem, greedy_cols: np.ndarray | None, time_limit: float, solver: str, integer: bool,
           start_cols: np.ndarray | None, cg_share: float, max_enumerate: int, t0: float) -> _State:
    """Run the phases described in the module notes until ``t0 + time_limit``."""
    deadline = t0 + time_limit

    def left() -> float:
        return deadline - time.perf_counter()

    t = time.perf_counter()
    empty = pb.add_empty()
    st = _State(empty, pb.master.objective_of(empty), "empty plans")
    if greedy_cols is not None:
        pb.greedy_objective = pb.master.objective_of(greedy_cols)
        if pb.master.feasible(greedy_cols):
            st.incumbent, st.objective, st.source = greedy_cols, pb.greedy_objective, "greedy"
    if start_cols is not None and pb.master.feasible(start_cols):
        obj = pb.master.objective_of(start_cols)
        if obj <= st.objective + 1e-9:
            st.incumbent, st.objective, st.source = start_cols, obj, "incumbent"

    # initial columns: every order's own best plan and its cheapest single-node plans
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
    alp = _ActiveLP(pb, best)
    alp.activate(np.unique(block[best[touch[best]]]))
    pb.phase["columns"] = time.perf_counter() - t

    # column generation: LP duals price every order's plans; each round gives a Lagrangian bound
    t = time.perf_counter()
    # a MIP over thousands of contested orders rarely pays within seconds; big batches spend
    # the time on pricing rounds and routing heuristics instead
    big = int(alp.active.sum()) > MIP_MAX_ACTIVE
    cg_deadline = t + (0.8 if big and integer else cg_share) * max(0.0, left())
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
        if pb.route is not None and st.iterations in (1, 2, 4, 8, 16, 32) and not _proven(st):
            _route_heuristics(st, pb, x, row_price, left)
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
    pb.alp = alp
    if st.converged and st.lp_value > st.lb:
        st.lb = st.lp_value
    if integer:
        _tighten(pb, st, left)
    pb.phase["column_generation"] = time.perf_counter() - t
    if not integer:
        return st

    # cheap incumbents from the final LP
    t = time.perf_counter()
    if st.lp_x is not None:
        _consider(st, pb, _round(pb, st.lp_x), "lp-rounding")
        if pb.route is not None and left() > 0.05 and not _proven(st):
            _route_heuristics(st, pb, st.lp_x, st.last_prices, left)
    pb.phase["heuristics"] = pb.phase.get("heuristics", 0.0) + time.perf_counter() - t

    # integer phase: keep the LP's uncontested plans, solve the contested orders exactly
    t = time.perf_counter()
    if st.lp_x is not None and left() > 0.05 and not _proven(st) and not big:
        cols, start = _lp_fix(pb, st)
        if np.isin(st.incumbent, cols).all():
            start = st.incumbent
        r = pb.master.solve_mip(min(left(), max(1.0, 0.4 * left())), start=start, solver=solver, cols=cols,
                                rel_gap=1e-5)
        _improve(st, r, pb, "lp-fix")
    pb.phase["integer"] = time.perf_counter() - t
    t = time.perf_counter()
    enumerated = False
    if not _proven(st) and left() > 0.05:
        enumerated = _enumerate_and_solve(pb, st, left, solver, max_enumerate)
    pb.phase["enumeration"] = time.perf_counter() - t
    t = time.perf_counter()
    if not _proven(st) and not enumerated and left() > 0.05 and not big:
        r = pb.master.solve_mip(left(), start=st.incumbent, solver=solver, rel_gap=1e-5)
        _improve(st, r, pb, "mip")
    pb.phase["integer"] += time.perf_counter() - t
    if not _proven(st) and left() <= 0.05:
        st.time_limited = True
    return st


def _tighten(pb: _Problem, st: _State, left) -> None:
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
    prices = np.zeros(pb.master.n_rows)
    prices[: len(st.lb_prices)] = st.lb_prices
    lb = float(lower.sum() - prices @ pb.master.rhs)
    still = cut & (res.o_lower < res.c_price - 1e-9)
    pb.trace.append(("tighten", int(cut.sum()), int(still.sum()), lb))
    if lb > st.lb:
        st.lb, st.lb_lower, st.lb_truncated = lb, lower, still


def _consider(st: _State, pb: _Problem, choice: np.ndarray | None, source: str) -> None:
    """Take ``choice`` as the incumbent if it is feasible and better."""
    if choice is None or not pb.master.feasible(choice):
        pb.trace.append(("heuristic", source, "infeasible"))
        return
    obj = pb.master.objective_of(choice)
    pb.trace.append(("heuristic", source, obj))
    if obj < st.objective - 1e-9:
        st.incumbent, st.objective, st.source = choice, obj, source


def _route_heuristics(st: _State, pb: _Problem, lp_x: np.ndarray, row_price: np.ndarray, left) -> None:
    """Route with the LP's shadow prices: the whole batch, and the contested orders alone.

    The second keeps every plan the LP chose outright and routes only the
    other orders, in batch order, against the stock and capacity left.
    """
    prices = _entry_prices(pb, row_price)
    # each routing pass costs about what the greedy pass did; never start one that cannot finish
    need = 1.5 * pb.phase.get("greedy", 0.0) + 0.05
    if left() > need:
        _consider(st, pb, pb.route(np.arange(pb.G.n), prices, None), "dual-routing")
    block = pb.master.flat()[0]
    x = np.zeros(len(block))
    x[: len(lp_x)] = lp_x
    one = np.flatnonzero(x > 1.0 - 1e-6)
    rest = np.setdiff1d(np.arange(pb.G.n), block[one])
    if left() > need and 0 < len(rest) < pb.G.n:
        choice = np.full(pb.G.n, -1, np.int64)
        choice[block[one]] = one
        choice[rest] = pb.route(rest, prices, one)
        _consider(st, pb, choice, "lp-fix + dual-routing")


def _round(pb: _Problem, lp_x: np.ndarray) -> np.ndarray:
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


def _proven(st: _State) -> bool:
    return st.objective - st.lb <= 1e-6 * max(1.0, abs(st.objective))


def _improve(st: _State, r: MipResult, pb: _Problem, source: str) -> None:
    pb.trace.append(("mip", source, r.status, r.objective, r.bound, round(r.seconds, 2)))
    st.mip_status = r.status
    st.mip_bound = r.bound
    if r.choice is not None and pb.master.feasible(r.choice):
        obj = pb.master.objective_of(r.choice)
        if obj < st.objective - 1e-9:
            st.incumbent, st.objective, st.source = r.choice, obj, source


def _lp_fix(pb: _Problem, st: _State) -> tuple[np.ndarray, np.ndarray]:
    """Columns of a sub-MIP around the LP solution, and a feasible start.

    Orders whose LP plan is integral and uses no priced (binding) resource
    keep that plan; the others, where stock or capacity is contested, keep
    all their columns. The start keeps the fixed plans and leaves the rest
    empty, which uses no resource.
    """
    block, _, ptr, row, _ = pb.master.flat()
    x = np.zeros(len(block))
    x[: len(st.lp_x)] = st.lp_x
    prices = np.zeros(pb.master.n_rows)
    prices[: len(st.last_prices)] = st.last_prices
    col_of = np.repeat(np.arange(len(block)), np.diff(ptr))
    tight = np.zeros(len(block), bool)
    tight[col_of[prices[row] > 1e-9]] = True
    alp = getattr(pb, "alp", None)
    active = alp.active if alp is not None else np.ones(pb.G.n, bool)
    # orders the LP left fixed keep their plan too: at the LP's prices nothing beats it
    one = np.flatnonzero((x > 1.0 - 1e-6) & (~tight | ~active[block]))
    fixed = np.full(pb.G.n, -1, np.int64)
    fixed[block[one]] = one
    keep = fixed[block] < 0
    keep[one] = True
    start = np.where(fixed >= 0, fixed, pb.empty_cols)
    return np.flatnonzero(keep), start


def _enumerate_and_solve(pb: _Problem, st: _State, left, solver: str, max_enumerate: int) -> bool:
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
    block, cost, ptr, row, val = pb.master.flat()
    prices = np.zeros(pb.master.n_rows)
    prices[: len(st.lb_prices)] = st.lb_prices
    col_of = np.repeat(np.arange(len(block)), np.diff(ptr))
    colp = cost + np.bincount(col_of, weights=prices[row] * val, minlength=len(block))
    within = np.flatnonzero(colp - st.lb_lower[block] <= gap + 1e-7 * max(1.0, abs(st.objective)))
    cols = np.union1d(np.union1d(ids, within), st.incumbent)
    r = pb.master.solve_mip(left(), start=st.incumbent, solver=solver, cols=cols, rel_gap=1e-9, abs_gap=1e-7)
    _improve(st, r, pb, "enumeration")
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


# ---------------------------------------------------------------------- tables
def _lines_for_rows(group_of_line: np.ndarray, line_qty: np.ndarray, row_group: np.ndarray,
                    row_qty: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spread each group's units over its lines in line order, as the router does.

    Returns line index, row index and units of each (line, node) piece, sorted by line.
    """
    return lines_for_groups(group_of_line, line_qty, row_group, row_qty)


def _tier_of(pb: _Problem, orders: np.ndarray, nodes: np.ndarray, km: np.ndarray) -> np.ndarray:
    """Name of the first sourcing tier that admits each parcel (node, channel, distance)."""
    c = pb.ctx
    out = np.full(len(nodes), "", dtype=object)
    done = np.zeros(len(nodes), bool)
    for t, name in enumerate(c.tier_names):
        hit = ~done & c.admit[c.chan[orders], t, nodes] & (km <= c.tier_km[t] + 1e-9)
        out[hit] = name
        done |= hit
    return out


def _tables(pb: _Problem, choice: np.ndarray):
    """Allocation and order tables (columns of ``Router.route_many``) and a decision builder."""
    g = pb.G
    batch = g.batch
    net = pb.net
    _, cptr, (rg, rn, rq, re) = pb.columns()
    lo, hi = cptr[choice], cptr[choice + 1]
    cnt = hi - lo
    ptr = np.zeros(g.n + 1, np.int64)
    np.cumsum(cnt, out=ptr[1:])
    sel = np.repeat(lo - ptr[:-1], cnt) + np.arange(int(ptr[-1]))
    row_order = np.repeat(np.arange(g.n), cnt)
    g_glob = g.g_ptr[row_order] + rg[sel]
    node, qty, ent = rn[sel], rq[sel], re[sel]
    costs, ships, km, days, row_km, row_days = pb.breakdown(ptr, node, qty, g.g_sku[g_glob], ent,
                                                            np.arange(g.n))
    line_idx, row_idx, piece = _lines_for_rows(g.group_of_line, batch.qty, g_glob, qty)
    a_order = g.line_owner[line_idx]
    a_node = node[row_idx]
    tiers = _tier_of(pb, a_order, a_node, row_km[row_idx])
    node_ids = np.array([n.node_id for n in net.nodes], dtype=object)
    sku_ids = np.array([s.sku for s in net.skus], dtype=object)
    filled = np.bincount(a_order, weights=piece, minlength=g.n).astype(np.int64)
    ordered = g.units()
    alloc_df = pd.DataFrame({
        "order_id": batch.order_id[a_order],
        "line_id": batch.line_id[line_idx],
        "sku": sku_ids[batch.sku[line_idx]],
        "node_id": node_ids[a_node],
        "qty": piece,
        "tier": tiers,
    })
    orders_df = orders_frame(batch.order_id, filled, ordered, ships, costs, km, days)
    a_km, a_days = row_km[row_idx], row_days[row_idx]
    start = pb.ctx.start_day

    def decide() -> tuple[Decision, ...]:
        bounds = np.searchsorted(a_order, np.arange(g.n + 1))
        out = []
        lids = batch.line_id
        for o in range(g.n):
            allocs: list[Allocation] = []
            parcels: dict[str, list] = {}
            got: dict[int, int] = {}
            for i in range(bounds[o], bounds[o + 1]):
                li = int(line_idx[i])
                nid = node_ids[a_node[i]]
                q = int(piece[i])
                allocs.append(Allocation(lids[li], sku_ids[batch.sku[li]], nid, q))
                p = parcels.setdefault(nid, [0, float(a_km[i]), [], float(a_days[i]), tiers[i]])
                p[0] += q
                p[2].append((lids[li], q))
                got[li] = got.get(li, 0) + q
            unfilled = tuple((lids[li], int(batch.qty[li]) - got.get(li, 0))
                             for li in range(batch.line_ptr[o], batch.line_ptr[o + 1])
                             if int(batch.qty[li]) > got.get(li, 0))
            c = costs[o]
            out.append(Decision(
                order_id=batch.order_id[o],
                status=Status(orders_df["status"].iat[o]),
                allocations=tuple(allocs),
                shipments=tuple(Shipment(nid, p[0], p[1], tuple(p[2]), p[3],
                                         start[o] + timedelta(days=math.ceil(p[3])), "ship", p[4])
                                for nid, p in parcels.items()),
                cost=CostBreakdown(float(c[0]), float(c[1]), float(c[2]), float(c[3]), float(c[4])),
                strategy=STRATEGY,
                unfilled=unfilled,
            ))
        return tuple(out)

    return alloc_df, orders_df, decide


def _entry_prices(pb: _Problem, row_price: np.ndarray | None) -> np.ndarray:
    """Per inventory entry: its own shadow price plus its node's unit-capacity price."""
    if row_price is None:
        return np.zeros(pb.inv.nnz)
    lam, _, nu = pb.duals_to_prices(row_price)
    return lam + nu[pb.inv.node]


def _make_plan(pb: _Problem, st: _State, solver: str, t0: float) -> Plan:
    alloc_df, orders_df, decide = _tables(pb, st.incumbent)
    cost = float(orders_df["cost"].sum())
    unfilled = orders_df["unfilled"].to_numpy()
    objective = cost + float(pb.penalty @ unfilled)
    lb = min(st.lb, objective)
    # relative to what the plans can change: the penalty of units no plan can fill is a constant
    base = objective - pb.constant
    gap = (objective - lb) / base if base > 1e-9 else 0.0
    log = SolveLog(
        seconds=time.perf_counter() - t0,
        phase_seconds=dict(pb.phase),
        n_orders=pb.G.n,
        n_columns=pb.n_cols,
        cg_iterations=st.iterations,
        cg_converged=st.converged,
        active_orders=int(pb.alp.active.sum()) if getattr(pb, "alp", None) is not None else 0,
        lp_value=st.lp_value,
        lagrangian_bound=float(st.lb),
        pricing_truncated=st.truncated,
        greedy_objective=pb.greedy_objective,
        mip_status=st.mip_status,
        mip_bound_restricted=st.mip_bound,
        enumeration=st.enumeration,
        source=st.source,
        solver=solver,
        time_limited=st.time_limited,
        events=tuple(pb.trace),
    )
    return Plan(alloc_df, orders_df, cost, objective, float(lb), float(gap),
                "optimal" if objective - lb <= 1e-6 * max(1.0, objective) else "feasible", log,
                pb.penalty.copy(), int(unfilled.sum()), int(pb.short.sum()), pb.constant,
                _entry_prices(pb, st.last_prices), decide)


# ------------------------------------------------------------------ public API
_WARM = False


def warm_up() -> None:
    """Compile every kernel the optimizer uses (once per process; near-instant from numba's cache).

    :func:`optimize`, :func:`dual_prices` and :func:`reoptimize` call it
    before starting their clock, so ``time_limit`` is spent solving, not
    compiling.
    """
    global _WARM
    if _WARM:
        return
    from sourcewise.models.inventory import StockRecord
    from sourcewise.models.node import Node
    from sourcewise.models.order import OrderLine
    from sourcewise.models.sku import Sku

    net = Network.build([Node("a", "warehouse", 40.0, -75.0, capacity_orders=5),
                         Node("b", "store", 41.0, -74.0)], [Sku("x", 1.0, 10.0), Sku("y", 1.0, 10.0)])
    inv = Inventory.from_records(net, [StockRecord("a", "x", 1), StockRecord("b", "x", 2), StockRecord("b", "y", 1)])
    orders = [Order("o1", (OrderLine("1", "x", 2), OrderLine("2", "y", 1)), 40.5, -74.5),
              Order("o2", (OrderLine("1", "x", 1),), 40.2, -74.9)]
    policy = Policy()
    batch, _, cap_o, cap_u = _prepare(orders, net, inv, policy, 1.0, "highs", None, None, None)
    router = _router(net, inv, policy, None, None)
    pb = _problem(batch, net, inv, policy, router.stock_view(), cap_o, cap_u, None, 1000, 1)
    pb.add_allocations(router.route_many(batch, strategy="cost").allocations)
    r2 = _router(net, inv, policy, None, None)
    r2.set_dual_prices(np.zeros(inv.nnz))
    r2.route_many(batch, strategy="dual")
    z, zn = np.zeros(inv.nnz), np.zeros(net.n_nodes)
    pb.price(z, zn, zn, n_single=1)
    pb.price(z, zn, zn, budget=10, parallel=True)
    pb.enumerate(z, zn, zn, np.full(pb.G.n, 1e9), 1000, time.perf_counter() + 60.0)
    _WARM = True


def _check_common(col: Collector, time_limit, solver, unfilled_penalty) -> None:
    if isinstance(time_limit, bool) or not isinstance(time_limit, int | float) or not (
            math.isfinite(time_limit) and time_limit > 0):
        col.add("optimize", None, "time_limit", f"must be a finite number of seconds > 0, got {time_limit!r}")
    if solver not in ("highs", "cpsat"):
        col.add("optimize", None, "solver", f"must be 'highs' or 'cpsat', got {solver!r}")
    if unfilled_penalty is not None and (
            isinstance(unfilled_penalty, bool) or not isinstance(unfilled_penalty, int | float)
            or not math.isfinite(unfilled_penalty) or unfilled_penalty <= 0):
        col.add("optimize", None, "unfilled_penalty", f"must be a finite number > 0, got {unfilled_penalty!r}")


def _prepare(orders, network: Network, inventory: Inventory, policy: Policy | None, time_limit, solver,
             unfilled_penalty, node_capacity_orders, node_capacity_units):
    if inventory.network is not network:
        raise ValueError("inventory was built for a different network")
    batch = orders if isinstance(orders, OrderBatch) else batch_from_orders(network, orders)
    col = Collector()
    _check_common(col, time_limit, solver, unfilled_penalty)
    for i in np.flatnonzero(pd.Series(batch.order_id).duplicated().to_numpy()):
        col.add("orders", str(batch.order_id[i]), "order_id", "duplicate order_id in batch")
    _check_methods(batch, col)
    cap_o = _capacity(node_capacity_orders, network, "node_capacity_orders", col, network.capacity_orders)
    cap_u = _capacity(node_capacity_units, network, "node_capacity_units", col, network.capacity_units)
    col.raise_if_any()
    return batch, policy or Policy(), cap_o, cap_u


def _router(network, inventory, policy, walkin, vendor_offers) -> Router:
    return Router(network, inventory, policy, walkin=walkin, vendor_offers=vendor_offers)


def _router_cap(cap: np.ndarray) -> np.ndarray:
    return np.where(cap >= INF_CAPACITY, UNLIMITED, cap).astype(np.int64)


def _problem(batch, network, inventory, policy, view, cap_o, cap_u, penalty, budget, n_alt, *,
             on_hand=None, reserved=None) -> _Problem:
    """The batch's plan space over ``view``'s planning costs (a router's :class:`StockView`)."""
    ctx = _context(network, inventory, policy, batch,
                   on_hand=inventory.on_hand if on_hand is None else on_hand,
                   safety=view.safety,  # table safety stock plus store protection
                   reserved=inventory.reserved if reserved is None else reserved,
                   fee_e=view.entry_fee,  # node fee rates, or vendor offers where given
                   demand=view.entry_demand,  # store walk-in demand
                   cap_o=cap_o, cap_u=cap_u, business_day=view.business_day)
    return _Problem(_Groups.build(batch, policy), network, inventory, policy, ctx, penalty, budget, n_alt)


def optimize(orders: OrderBatch | Iterable[Order], network: Network, inventory: Inventory,
             policy: Policy | None = None, time_limit: float = 10.0, *,
             node_capacity_orders: np.ndarray | Mapping[str, int | None] | None = None,
             node_capacity_units: np.ndarray | Mapping[str, int | None] | None = None,
             walkin: pd.DataFrame | None = None, vendor_offers=None,
             unfilled_penalty: float | None = None, solver: str = "highs", n_alternatives: int = 4,
             pricing_budget: int = 200_000, max_enumerate: int = 100_000) -> Plan:
    """Source a batch of shipped orders jointly at minimum total cost.

    Parameters
    ----------
    orders : OrderBatch or iterable of Order
        Every line must ship (``method == "ship"``).
    network : Network
    inventory : Inventory
        Stock to plan against: ATP is on hand - safety stock (plus store
        protection) - reserved, as the router sees it.
    policy : Policy, optional
        Cost model, split limits, split penalty, tiers, service deadlines and
        store policy (``strategy`` is ignored).
    time_limit : float
        Wall-clock seconds for the whole call; compiling the kernels on the
        first call in a process (:func:`warm_up`) comes on top.
    node_capacity_orders, node_capacity_units : array of shape (n_nodes,) or dict, optional
        Parcels and units each node may take in this batch. Default: the
        nodes' daily capacities (the batch counts as one day). A dict
        overrides the default for the nodes it names (``None`` = unlimited).
    walkin, vendor_offers : optional
        As for :class:`sourcewise.engine.router.Router`: store walk-in demand (store
        protection and depletion) and vendor offers (fees).
    unfilled_penalty : float, optional
        Objective cost of each unit left unfilled. Default, per order: one
        more than the costliest way to ship any single unit of that order
        alone (rounded up), so filling a unit always beats dropping it, as
        with the router's fill-first rule.
    solver : {"highs", "cpsat"}
        MIP solver of the integer phase (the LP is always HiGHS).
    n_alternatives : int
        Cheapest single-node plans seeded per order.
    pricing_budget : int
        Node sets each pricing search may evaluate per order and round before
        falling back to its bound (the bound stays valid, only weaker).
    max_enumerate : int
        Most plan rows listed when closing the gap (0 disables).

    Returns
    -------
    Plan

    Raises
    ------
    ValidationError
        Bad parameters, duplicate order ids, unknown nodes or non-shipped lines,
        all listed together.
    """
    warm_up()
    t0 = time.perf_counter()
    batch, policy, cap_o, cap_u = _prepare(orders, network, inventory, policy, time_limit, solver,
                                           unfilled_penalty, node_capacity_orders, node_capacity_units)
    router = _router(network, inventory, policy, walkin, vendor_offers)
    pb = _problem(batch, network, inventory, policy, router.stock_view(), cap_o, cap_u, unfilled_penalty,
                  pricing_budget,
                  n_alternatives)
    t = time.perf_counter()
    greedy = _greedy_columns(pb, router, batch, cap_o, cap_u)
    pb.phase["greedy"] = time.perf_counter() - t

    pb.route = _route_fn(pb, batch, network, inventory, policy, walkin, vendor_offers, cap_o, cap_u)
    st = _solve(pb, greedy, float(time_limit), solver, True, None, 0.5, max_enumerate, t0)
    return _make_plan(pb, st, solver, t0)


def _greedy_columns(pb: _Problem, router, batch: OrderBatch, cap_o: np.ndarray, cap_u: np.ndarray,
                    strategy: str = "cost") -> np.ndarray:
    """The router's own sequential routing of the batch, on the same stock and capacities."""
    router.set_capacity_left(_router_cap(cap_o), _router_cap(cap_u))
    res = router.route_many(batch, strategy=strategy)
    return pb.add_allocations(res.allocations)


def _route_fn(pb: _Problem, batch: OrderBatch, network, inventory, policy, walkin, vendor_offers, cap_o, cap_u):
    """``route(orders, prices, taken)``: columns of ``orders`` routed by a fresh router with the
    ``dual`` strategy, after the plans ``taken`` (column ids) have used their stock and capacity."""
    sku_of = pb.sku_of_ent

    def route(orders: np.ndarray, prices: np.ndarray, taken: np.ndarray | None) -> np.ndarray:
        inv, co, cu = inventory, cap_o, cap_u
        if taken is not None and len(taken):
            _, cptr, (_, rn, rq, re) = pb.columns()
            lo, hi = cptr[taken], cptr[taken + 1]
            cnt = hi - lo
            sel = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
            used = np.bincount(re[sel], weights=rq[sel], minlength=inventory.nnz).astype(np.int64)
            inv = Inventory.from_arrays(network, inventory.node, sku_of, inventory.on_hand, inventory.safety_stock,
                                        inventory.reserved + used)
            units = np.bincount(rn[sel], weights=rq[sel], minlength=network.n_nodes).astype(np.int64)
            col_of = np.repeat(np.arange(len(taken)), cnt)
            parcels = np.bincount(np.unique(col_of * network.n_nodes + rn[sel]) % network.n_nodes,
                                  minlength=network.n_nodes)
            co = np.where(cap_o >= INF_CAPACITY, cap_o, np.maximum(cap_o - parcels, 0))
            cu = np.where(cap_u >= INF_CAPACITY, cap_u, np.maximum(cap_u - units, 0))
        r = _router(network, inv, policy, walkin, vendor_offers)
        r.set_dual_prices(np.maximum(prices, 0.0))
        r.set_capacity_left(_router_cap(co), _router_cap(cu))
        res = r.route_many(batch.take(np.asarray(orders, np.int64)), strategy="dual")
        return pb.add_allocations(res.allocations, orders)

    return route


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
    batch, policy, cap_o, cap_u = _prepare(orders, network, inventory, policy, time_limit, "highs",
                                           unfilled_penalty, node_capacity_orders, node_capacity_units)
    router = _router(network, inventory, policy, walkin, vendor_offers)
    pb = _problem(batch, network, inventory, policy, router.stock_view(), cap_o, cap_u, unfilled_penalty,
                  200_000, 4)
    st = _solve(pb, None, float(time_limit), "highs", False, None, 1.0, 0, t0)
    return _entry_prices(pb, st.last_prices)


# ------------------------------------------------------------- re-optimization
def reoptimize(router, order_ids: Iterable[str] | None = None, time_limit: float = 10.0, *,
               orders: OrderBatch | Iterable[Order] | None = None,
               node_capacity_orders: np.ndarray | Mapping[str, int | None] | None = None,
               node_capacity_units: np.ndarray | Mapping[str, int | None] | None = None,
               unfilled_penalty: float | None = None, solver: str = "highs") -> ReoptResult:
    """Re-plan open (reserved, not committed) orders jointly; apply only if better.

    The held plans are a feasible start, so the result is never worse. The
    router's lock is held only to take a snapshot and to swap reservations
    (stock and today's capacity); the swap is refused, changing nothing, if
    any of the orders or the stock they need changed meanwhile.

    Parameters
    ----------
    router : engine.router.Router
    order_ids : iterable of str, optional
        Open orders to re-plan; default every open order.
    time_limit : float
    orders : OrderBatch or iterable of Order, optional
        Lines and destinations of orders the router does not keep (those
        routed with ``route_many``).
    node_capacity_orders, node_capacity_units : optional
        Capacity for these orders together. Default: what the router has
        left today plus what these orders hold.
    unfilled_penalty, solver
        As for :func:`optimize`.

    Returns
    -------
    ReoptResult
    """
    warm_up()
    t0 = time.perf_counter()
    net, inv = router.network, router.inventory
    col = Collector()
    _check_common(col, time_limit, solver, unfilled_penalty)
    taken = router.holdings(order_ids, collector=col)
    col.raise_if_any()
    holdings, view = taken
    held = {h.order_id: h for h in holdings}
    ids = list(held)
    on_hand, reserved = view.on_hand, view.reserved
    cap_left_o, cap_left_u = view.cap_orders, view.cap_units
    today = view.business_day
    if not ids:
        return ReoptResult(False, "no open orders", (), 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0, 0.0, None)
    batch = _open_batch(router, ids, held, orders)
    _check_methods(batch, col)
    # what the orders hold goes back into the pool they are re-planned from
    back = np.zeros(inv.nnz, np.int64)
    back_o = np.zeros(net.n_nodes, np.int64)
    back_u = np.zeros(net.n_nodes, np.int64)
    for h in held.values():
        np.add.at(back, h.entries, h.qty)
        if h.day == today:
            po, pu = node_usage(net, inv, h.entries, h.qty)
            back_o += po
            back_u += pu
    free_o = np.where(cap_left_o >= UNLIMITED_FROM, cap_left_o, cap_left_o + back_o)
    free_u = np.where(cap_left_u >= UNLIMITED_FROM, cap_left_u, cap_left_u + back_u)
    cap_o = _capacity(node_capacity_orders, net, "node_capacity_orders", col, free_o)
    cap_u = _capacity(node_capacity_units, net, "node_capacity_units", col, free_u)
    col.raise_if_any()
    policy = router.policy
    pb = _problem(batch, net, inv, policy, view, cap_o, cap_u, unfilled_penalty, 200_000, 4,
                  on_hand=on_hand, reserved=reserved - back)
    # the held plans as columns: the incumbent to beat
    groups = pb.G
    rows = []
    for o, oid in enumerate(ids):
        local = {int(s): j for j, s in enumerate(groups.g_sku[groups.g_ptr[o]:groups.g_ptr[o + 1]])}
        h = held[oid]
        for e, q in zip(h.entries.tolist(), h.qty.tolist(), strict=True):
            if q > 0:
                rows.append((o, local[int(pb.sku_of_ent[e])], int(inv.node[e]), int(q), int(e)))
    arr = np.array(rows, np.int64).reshape(-1, 5)
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    current = pb.add_plans_by_order(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4])
    before = pb.master.objective_of(current)
    _, b_orders, _ = _tables(pb, current)
    st = _solve(pb, current, float(time_limit), solver, True, None, 0.5, 100_000, t0)
    plan = _make_plan(pb, st, solver, t0)
    after = plan.objective
    b_ships = b_orders["shipments"].to_numpy()
    kw = dict(order_ids=tuple(ids), objective_before=before, cost_before=float(b_orders["cost"].sum()),
              shipments_before=int(b_ships.sum()), units_unfilled_before=int(b_orders["unfilled"].sum()),
              lower_bound=plan.lower_bound, plan=plan)

    def unchanged(reason: str) -> ReoptResult:
        return ReoptResult(False, reason, objective_after=before, cost_after=kw["cost_before"], saved=0.0,
                           shipments_after=kw["shipments_before"], splits_removed=0,
                           units_unfilled_after=kw["units_unfilled_before"], **kw)

    if not after < before - 1e-9 * max(1.0, abs(before)):
        return unchanged("no better plan found; nothing changed")
    _, cptr, (_, _, cq, ce) = pb.columns()
    decisions = plan.decisions
    new = {oid: (decisions[o], ce[cptr[j]:cptr[j + 1]].copy(), cq[cptr[j]:cptr[j + 1]].copy())
           for o, (oid, j) in enumerate(zip(ids, st.incumbent.tolist(), strict=True))}
    reason = router.swap_plans(holdings, new, today)
    if reason:
        return unchanged(reason)
    splits_b = int(np.maximum(b_ships - 1, 0).sum())
    splits_a = int(np.maximum(plan.orders["shipments"].to_numpy() - 1, 0).sum())
    return ReoptResult(True, "applied: lower objective", objective_after=after, cost_after=plan.cost,
                       saved=before - after, shipments_after=plan.shipments, splits_removed=splits_b - splits_a,
                       units_unfilled_after=plan.units_unfilled, **kw)


def _open_batch(router: Router, ids: list[str], held: dict[str, Holding], orders) -> OrderBatch:
    """Lines and destinations of the open orders, in ``ids`` order."""
    given: dict[str, Order] = {}
    batch = None
    if orders is not None:
        batch = orders if isinstance(orders, OrderBatch) else batch_from_orders(router.network, orders)
    where = {} if batch is None else {str(o): i for i, o in enumerate(batch.order_id)}
    col = Collector()
    for oid in ids:
        order = held[oid].order
        if order is not None:
            given[oid] = order
        elif oid not in where:
            col.add("reoptimize", oid, "order_id",
                    "the router keeps no lines for this order (routed with route_many); pass orders=...")
    col.raise_if_any()
    out = []
    for oid in ids:
        if oid in given:
            out.append(given[oid])
        else:
            i = where[oid]
            out.extend(orders_from_batch(router.network, batch.take(np.array([i]))))
    return batch_from_orders(router.network, out)
