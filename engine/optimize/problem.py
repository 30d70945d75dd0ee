"""The batch's plan space: its orders as groups, the kernels' context, and the column store.

:class:`Problem` holds every plan (column) generated for a batch, the
set-partitioning :class:`~sourcewise.engine.optimize.master.Master` over
them, and the calls into the plan kernels
(:mod:`sourcewise.engine._kernels.plans`), with their inputs bundled once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from sourcewise.engine._kernels import plans as P
from sourcewise.engine._kernels.layout import cost_params
from sourcewise.engine._kernels.layout import pack_nodes
from sourcewise.engine.optimize.inputs import INF_CAPACITY
from sourcewise.engine.optimize.master import Master
from sourcewise.engine.router import StockView
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.network import unit_vectors
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch

MAX_PLAN_NODES = P.KMAX
"""Plans generated and bounded use at most this many nodes (the policy's ``max_shipments`` below it)."""


@dataclass(frozen=True, eq=False)
class Groups:
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
    def build(cls, batch: OrderBatch, policy: Policy) -> Groups:
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
class Context:
    """Everything the plan kernels read for one batch, built to match a router."""

    costs: P.Costs
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


def build_context(network: Network, inventory: Inventory, policy: Policy, batch: OrderBatch, *,
                  on_hand: np.ndarray, safety: np.ndarray, reserved: np.ndarray, fee_e: np.ndarray,
                  demand: np.ndarray, cap_o: np.ndarray, cap_u: np.ndarray, business_day: date) -> Context:
    """Arrays mirroring the router's: ATP after store protection, fees, tiers, deadlines.

    ``on_hand``, ``safety``, ``reserved``, ``fee_e`` and ``demand`` are per
    inventory entry; ``cap_o`` and ``cap_u`` per node (``INF_CAPACITY`` where
    unlimited); ``business_day`` dates orders with no placement time.
    """
    svc = policy.service
    # the router's node matrix and parameter vector: one layout, one cost model
    nodef = pack_nodes(network)
    params = cost_params(policy, nodef)
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
    return Context(
        costs=P.Costs(np.ascontiguousarray(nodef), params, np.ascontiguousarray(bands),
                      np.ascontiguousarray(network.weight_kg, dtype=np.float64), np.asarray(fee_e, np.float64), pen),
        mask=np.asarray(network.usable, np.bool_).copy(), maxmiles=np.ascontiguousarray(maxmiles),
        admit=admit, tier_km=tier_km, tier_names=tuple(t.name for t in tiers) or ("",), chan=chan,
        hour=hour, max_days=max_days, start_day=start, cap_o=cap_o, cap_u=cap_u, atp=atp)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps)."""
    z = z.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class Problem:
    """Columns (plans) and the master problem over them, for one batch; the plan kernels' calls."""

    def __init__(self, groups: Groups, network: Network, inventory: Inventory, policy: Policy, ctx: Context,
                 penalty: float | None, budget: int, n_alternatives: int):
        self.G = groups
        self.net = network
        self.inv = inventory
        self.pol = policy
        self.ctx = ctx
        self.budget = int(budget)
        self.n_alt = int(n_alternatives)
        self._candidates: P.Candidates | None = None  # built at the first pricing (see price)
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
        # content hash of every registered plan -> its column (plans repeat across pricing rounds)
        self._col_of_hash: dict[int, int] = {}
        self._last_hashes = np.empty(0, np.uint64)
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
        self.costs = ctx.costs
        self._facts()
        self.penalty = self.auto_penalty if penalty is None else np.full(groups.n, float(penalty))
        # penalty of the units no plan can fill: the same in every solution
        self.constant = float(self.penalty @ self.short)
        self.trace: list[tuple] = []

    # ------------------------------------------------------------- kernels
    def _facts(self) -> None:
        """Default penalty and the units no plan can fill (a constant of the objective)."""
        top, short = P.batch_facts(self.orders, self.stock, self.costs)
        # more than shipping any one unit of the order alone, in its own parcel, from any node that
        # may serve it: filling a unit always beats leaving it, as with the router's fill-first rule
        self.auto_penalty = np.ceil(top + self.pol.split_penalty + 1.0)
        self.short = short

    def breakdown(self, ptr: np.ndarray, node: np.ndarray, qty: np.ndarray, sku: np.ndarray, ent: np.ndarray,
                  orders: np.ndarray) -> tuple[np.ndarray, ...]:
        """Cost parts, parcels, distance and days of plans (rows grouped by ``ptr``) of ``orders``;
        see :func:`sourcewise.engine._kernels.plans.breakdown`."""
        c = self.ctx
        return P.breakdown(P.PlanRows(ptr, node, qty, sku, ent), self.G.dest[orders], c.hour[orders],
                           c.max_days[orders], self.costs)

    def prices(self, lam: np.ndarray, mu: np.ndarray, nu: np.ndarray) -> P.Prices:
        """Dual prices with each order's unfilled-unit penalty, as the plan kernels take them."""
        return P.Prices(lam, mu, nu, self.penalty)

    def price(self, lam: np.ndarray, mu: np.ndarray, nu: np.ndarray, n_single: int = 0,
              active: np.ndarray | None = None, budget: int | None = None,
              parallel: bool | None = None) -> P.Priced:
        """Every (``active``) order's best plan at these prices, and its ``n_single`` best single-node
        plans; see :func:`sourcewise.engine._kernels.plans.price_orders`."""
        if active is None:
            active = np.ones(self.G.n, np.bool_)
        if self._candidates is None:
            # the batch's stock never changes, so every pricing round reads the same candidates
            self._candidates = P.candidate_table(self.orders, self.stock, self.costs)
        return P.price_orders(self.orders, self.stock, self.costs, self.prices(lam, mu, nu),
                              self.budget if budget is None else budget, n_single, active, parallel,
                              self._candidates)

    def enumerate(self, lam: np.ndarray, mu: np.ndarray, nu: np.ndarray, limit: np.ndarray, max_rows: int,
                  deadline: float) -> tuple:
        """Every plan priced at most ``limit[o]``; see :func:`sourcewise.engine._kernels.plans.enumerate_plans`."""
        return P.enumerate_plans(self.orders, self.stock, self.costs, self.prices(lam, mu, nu), limit, max_rows,
                                 deadline)

    # ------------------------------------------------------------ columns
    @property
    def n_cols(self) -> int:
        return self.master.n_cols

    def entry_rows(self, ent: np.ndarray) -> np.ndarray:
        """Master rows of inventory entries ``ent``, adding a row (right-hand side: the entry's ATP)
        for each that has none yet."""
        new_ent = np.unique(ent[self.ent_row[ent] < 0])
        if len(new_ent):
            self.ent_row[new_ent] = self.master.add_rows(self.ctx.atp[new_ent].astype(np.float64))
        return self.ent_row[ent]

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
        self._last_hashes = h
        keep = np.zeros(n, bool)
        seen: set[int] = set()
        known = self._col_of_hash
        for i, hv in enumerate(h.tolist()):
            if hv not in known and hv not in seen:
                seen.add(hv)
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
        parts_c, parts_r, parts_v = [owner], [self.entry_rows(ent)], [qty.astype(np.float64)]
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
        known.update(zip(self._last_hashes[idx].tolist(), ids.tolist(), strict=True))
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

    def rows_of(self, cols: np.ndarray) -> P.PlanRows:
        """The rows of columns ``cols``, grouped by column in that order."""
        _, cptr, (_, rn, rq, re) = self.columns()
        cols = np.asarray(cols, np.int64)
        lo, hi = cptr[cols], cptr[cols + 1]
        cnt = hi - lo
        ptr = np.zeros(len(cols) + 1, np.int64)
        np.cumsum(cnt, out=ptr[1:])
        sel = np.repeat(lo - ptr[:-1], cnt) + np.arange(int(ptr[-1]))
        return P.PlanRows(ptr, rn[sel], rq[sel], self.sku_of_ent[re[sel]], re[sel])

    def use_of(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Units per inventory entry, parcels per node and units per node that columns ``cols`` take."""
        rows = self.rows_of(cols)
        nn = self.net.n_nodes
        ent = np.bincount(rows.ent, weights=rows.qty, minlength=self.inv.nnz).astype(np.int64)
        units = np.bincount(rows.node, weights=rows.qty, minlength=nn).astype(np.int64)
        owner = np.repeat(np.arange(len(rows.ptr) - 1), np.diff(rows.ptr))
        parcels = np.bincount(np.unique(owner * nn + rows.node) % nn, minlength=nn).astype(np.int64)
        return ent, parcels, units

    def add_or_find(self, order, ptr, rg, rn, rq, re) -> np.ndarray:
        """Column id of every plan, registering the new ones."""
        ids = self.add_columns(order, ptr, rg, rn, rq, re)
        miss = np.flatnonzero(ids < 0)
        if len(miss):
            # registered before: found by the same content hash that kept them out
            known = self._col_of_hash
            ids[miss] = [known[hv] for hv in self._last_hashes[miss].tolist()]
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

    def _priced_rows(self, res: P.Priced, n_single: int, o: np.ndarray,
                     j: np.ndarray | int) -> tuple[np.ndarray, ...]:
        """Plan ``j`` of each order ``o`` in a pricing result (layout of
        :func:`~sourcewise.engine._kernels.plans.price_orders`) as ``(ptr, group, node, qty, entry)``."""
        G_o = np.diff(self.G.g_ptr)[o]
        start = (P.KMAX + n_single) * self.G.g_ptr[o] + np.where(j == 0, 0, P.KMAX * G_o + (j - 1) * G_o)
        cnt = res.c_nrows[o * (1 + n_single) + j]
        ptr = np.zeros(len(o) + 1, np.int64)
        np.cumsum(cnt, out=ptr[1:])
        sel = np.repeat(start - ptr[:-1], cnt) + np.arange(int(ptr[-1]))
        return ptr, res.r_group[sel], res.r_node[sel], res.r_qty[sel], res.r_ent[sel]

    def add_priced(self, res: P.Priced, n_single: int, take: np.ndarray) -> int:
        """Add the pricing result's columns where ``take`` holds; returns how many were new."""
        per = 1 + n_single
        cols = np.flatnonzero((res.c_nrows >= 0) & take)
        if not len(cols):
            return 0
        o = cols // per
        ids = self.add_columns(o, *self._priced_rows(res, n_single, o, cols % per))
        return int((ids >= 0).sum())

    def priced_ids(self, res: P.Priced, n_single: int, j: int) -> np.ndarray:
        """Column id of every order's ``j``-th priced plan (registered if new); -1 if none."""
        o = np.flatnonzero(res.c_nrows[j::1 + n_single] >= 0)
        out = np.full(self.G.n, -1, np.int64)
        if len(o):
            out[o] = self.add_or_find(o, *self._priced_rows(res, n_single, o, j))
        return out

    def best_own_plans(self) -> np.ndarray:
        """Every order's own cheapest plan at real cost (ignoring the others), as columns."""
        zl, zn = np.zeros(self.inv.nnz), np.zeros(self.net.n_nodes)
        ids = self.priced_ids(self.price(zl, zn, zn), 0, 0)
        return np.where(ids >= 0, ids, self.empty_cols)

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
    def row_prices(self, row_price: np.ndarray) -> np.ndarray:
        """``row_price`` padded with zeros to every resource row of the master (rows added
        after an LP was solved have no price yet)."""
        prices = np.zeros(self.master.n_rows)
        prices[: len(row_price)] = row_price
        return prices

    def duals_to_prices(self, row_price: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-entry, per-node-parcel and per-node-unit prices from resource-row prices."""
        prices = self.row_prices(row_price)
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

    def entry_prices(self, row_price: np.ndarray | None) -> np.ndarray:
        """Per inventory entry: its own shadow price plus its node's unit-capacity price."""
        if row_price is None:
            return np.zeros(self.inv.nnz)
        lam, _, nu = self.duals_to_prices(row_price)
        return lam + nu[self.inv.node]

    def column_prices(self, row_price: np.ndarray) -> np.ndarray:
        """Every column's cost plus its resource use at ``row_price``."""
        block, cost, ptr, row, val = self.master.flat()
        prices = self.row_prices(row_price)
        col_of = np.repeat(np.arange(len(block)), np.diff(ptr))
        return cost + np.bincount(col_of, weights=prices[row] * val, minlength=len(block))

    def lagrangian(self, row_price: np.ndarray, o_lower: np.ndarray) -> tuple[float, np.ndarray]:
        """Bound from non-negative row prices and per-order lower bounds on the best plan's price.

        Columns already in the master are valid plans too (the router's can
        use more than three nodes, outside the priced plan space), so each
        order's term is the smaller of the two.
        """
        block = self.master.flat()[0]
        prices = self.row_prices(row_price)
        colp = self.column_prices(prices)
        best = np.full(self.G.n, np.inf)
        np.minimum.at(best, block, colp)
        lo = np.minimum(o_lower, best)
        return float(lo.sum() - prices @ self.master.rhs), lo


def build_problem(batch: OrderBatch, network: Network, inventory: Inventory, policy: Policy, view: StockView,
                  cap_o: np.ndarray, cap_u: np.ndarray, penalty: float | None, budget: int, n_alt: int, *,
                  on_hand: np.ndarray | None = None, reserved: np.ndarray | None = None) -> Problem:
    """The batch's plan space over ``view``'s planning costs (a router's :class:`StockView`).

    Parameters
    ----------
    batch, network, inventory, policy
    view : StockView
        The router's safety stock (store protection included), entry fees and walk-in demand.
    cap_o, cap_u : ndarray of int64
        Parcels and units per node (``INF_CAPACITY`` where unlimited).
    penalty : float, optional
        Price of an unfilled unit; default per order (see :func:`~sourcewise.engine.optimize.optimize`).
    budget : int
        Pricing search budget per order and round.
    n_alt : int
        Single-node alternatives seeded per order.
    on_hand, reserved : ndarray, optional
        Stock to plan against instead of the inventory's.
    """
    ctx = build_context(network, inventory, policy, batch,
                        on_hand=inventory.on_hand if on_hand is None else on_hand,
                        safety=view.safety,  # table safety stock plus store protection
                        reserved=inventory.reserved if reserved is None else reserved,
                        fee_e=view.entry_fee,  # node fee rates, or vendor offers where given
                        demand=view.entry_demand,  # store walk-in demand
                        cap_o=cap_o, cap_u=cap_u, business_day=view.business_day)
    return Problem(Groups.build(batch, policy), network, inventory, policy, ctx, penalty, budget, n_alt)
