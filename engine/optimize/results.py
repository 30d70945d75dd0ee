"""What the optimizer returns: :class:`Plan`, :class:`ReoptResult`, :class:`SolveLog`, and their tables."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from functools import cached_property

import numpy as np
import pandas as pd

from sourcewise.engine.batch import lines_for_groups
from sourcewise.engine.batch import orders_frame
from sourcewise.engine.geography import GeoCheck
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.state import SolveState
from sourcewise.models.decision import Allocation
from sourcewise.models.decision import CostBreakdown
from sourcewise.models.decision import Decision
from sourcewise.models.decision import Shipment
from sourcewise.models.decision import Status

STRATEGY = "optimize"
"""Strategy name on every decision the optimizer makes."""


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
        Phase that produced the returned plans: ``greedy`` (nothing better was
        found), ``incumbent``, ``lp-rounding``, ``dual-routing``, ``lp-fix``,
        ``mip``, ``enumeration``, ``lagrangian routing``, ``price-guided construction``,
        ``1-opt`` or ``neighbourhood search``.
    solver : str
    time_limited : bool
        Some phase stopped because time ran out.
    events : tuple
        What happened, in order: ``("lp", orders in the LP, seconds, status,
        value)``, ``("price", plans added, orders activated, bound)``,
        ``("heuristic", name, objective)``, ``("mip", phase, status,
        objective, bound, seconds)``, ``("lagrangian", round, bound)``,
        ``("neighbourhood search", sub-MIPs, objective)``.
    bound_source : str
        Method that proved ``lagrangian_bound``: the Lagrangian bound at the
        LP's duals or at subgradient prices, the converged LP, or the
        enumeration of every plan within the gap.
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
    bound_source: str = ""

    def summary(self) -> str:
        """A few lines for people."""
        ph = ", ".join(f"{k} {v:.2f}s" for k, v in self.phase_seconds.items())
        return (
            f"{self.n_orders} orders ({self.active_orders} in the LP), {self.n_columns} plans, "
            f"{self.cg_iterations} pricing rounds ({'converged' if self.cg_converged else 'not converged'}), "
            f"solver {self.solver}\n"
            f"greedy objective {self.greedy_objective:.2f}; restricted LP {self.lp_value:.2f}; "
            f"proven bound {self.lagrangian_bound:.2f} from {self.bound_source}\n"
            f"MIP {self.mip_status} (its bound {self.mip_bound_restricted:.2f} covers generated plans only); "
            f"enumeration {self.enumeration}; plans from {self.source}"
            f"{' (no improvement on greedy found)' if self.source == 'greedy' else ''}\n"
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
        that respects stock and capacities, with at most ``max_shipments``
        parcels per order (up to :data:`~sourcewise.engine._kernels.plans.KMAX`).
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
        node's unit-capacity price) from the last LP, or the Lagrangian
        prices of the best bound when no LP ran; for
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


def _tier_of(pb: Problem, orders: np.ndarray, nodes: np.ndarray, km: np.ndarray) -> np.ndarray:
    """Name of the first sourcing tier that admits each parcel (node, channel, distance)."""
    c = pb.ctx
    out = np.full(len(nodes), "", dtype=object)
    done = np.zeros(len(nodes), bool)
    for t, name in enumerate(c.tier_names):
        hit = ~done & c.admit[c.chan[orders], t, nodes] & (km <= c.tier_km[t] + 1e-9)
        out[hit] = name
        done |= hit
    return out


def tables(pb: Problem, choice: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame, Callable[[], tuple[Decision, ...]]]:
    """Allocation and order tables (columns of ``Router.route_many``) and a decision builder.

    Parameters
    ----------
    pb : Problem
    choice : ndarray of int64
        A column per order.
    """
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
    line_idx, row_idx, piece = lines_for_groups(g.group_of_line, batch.qty, g_glob, qty)
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
    orders_df = orders_frame(batch.order_id, filled, ordered, ships, costs, km, days,
                             GeoCheck(net, pb.pol).flags_many(batch.lat, batch.lon))
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


def _bound_source(st: SolveState) -> str:
    """Which method proved the reported bound."""
    if st.enumeration in ("proved", "bounded (time)"):
        return "enumeration of every plan within the gap"
    if st.converged:
        return "LP (column generation converged)"
    if st.bound_source:
        return st.bound_source
    return f"lagrangian (LP duals, {st.iterations} pricing rounds)" if st.iterations else "lagrangian (zero prices)"


def make_plan(pb: Problem, st: SolveState, solver: str, t0: float) -> Plan:
    """The :class:`Plan` of a finished solve (``t0``: when the call started)."""
    alloc_df, orders_df, decide = tables(pb, st.incumbent)
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
        active_orders=int(st.active.sum()) if st.active is not None else 0,
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
        bound_source=_bound_source(st),
    )
    return Plan(alloc_df, orders_df, cost, objective, float(lb), float(gap),
                "optimal" if objective - lb <= 1e-6 * max(1.0, objective) else "feasible", log,
                pb.penalty.copy(), int(unfilled.sum()), int(pb.short.sum()), pb.constant,
                pb.entry_prices(st.last_prices), decide)
