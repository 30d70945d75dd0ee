"""What every strategy's replay shares: the order stream in time order, the stock entries and the random draws.

:class:`Prepared` validates the optional tables (``replenishment``,
``walkin``, ``vendor_offers``), adds the stock entries receipts and walk-in
shoppers need, sorts the orders by day and minute and draws the per-order
uniforms that decide pick rejections and vendor failures.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from datetime import datetime
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from sourcewise.engine.batch import orders_from_batch
from sourcewise.engine.geography import countries
from sourcewise.engine.scenario import Scenario
from sourcewise.engine.simulate.config import SimConfig
from sourcewise.models.errors import Collector
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import NodeKind
from sourcewise.models.order import Order
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch

_STORE = KIND_CODES[NodeKind.STORE]


def take_orders(batch: OrderBatch, idx: np.ndarray) -> OrderBatch:
    """Orders ``idx`` of ``batch`` (any order, optional columns included) as a batch of their own."""
    return batch.take(idx)


def order_objects(network: Network, batch: OrderBatch) -> list[Order]:
    """Order objects for ``batch``: :meth:`Router.route` takes one order at a time."""
    return orders_from_batch(network, batch)


class Prepared:
    """What every strategy's replay shares: the timed order stream, stock entries and the random events.

    Parameters
    ----------
    scenario : Scenario
        As loaded by :func:`sourcewise.engine.scenario.load_scenario`.
    config : SimConfig

    Notes
    -----
    The starting inventory gains a zero-stock entry for every (node, SKU)
    that has replenishment or walk-in demand but no stock row, so that
    receipts can land and walk-in demand is counted; the router of every
    strategy starts from that inventory.

    Raises
    ------
    ValidationError
        Listing every bad row of the ``replenishment``, ``walkin`` and
        ``vendor_offers`` tables; then of the prices table or forecast of
        :attr:`SimConfig.dual_prices_path` / :attr:`SimConfig.dual_forecast_path`
        (located by file, line and ids).
    """

    #: The ``dual`` strategy's fixed prices (a prices table) or the forecast it prices once; see SimConfig.
    dual_fixed: np.ndarray | None = None
    dual_forecast: OrderBatch | None = None

    def __init__(self, scenario: Scenario, config: SimConfig):
        self.config = config
        net = scenario.network
        self.network = net
        tables = scenario.tables
        col = Collector()
        self.node_pos = pd.Index([n.node_id for n in net.nodes])
        self.sku_pos = pd.Index([s.sku for s in net.skus])
        rep = self.node_sku_pairs(tables.get("replenishment"), "replenishment", ("node_id", "sku", "day", "qty"), col)
        walk = self.node_sku_pairs(tables.get("walkin"), "walkin", ("node_id", "sku", "walkin_daily_demand"), col)
        offers = self.node_sku_pairs(tables.get("vendor_offers"), "vendor_offers", ("node_id", "sku"), col)
        col.raise_if_any()

        # ---- inventory with an entry for every pair stock can arrive at or be asked for
        inv = scenario.inventory
        sku_of = np.repeat(np.arange(net.n_skus, dtype=np.int64), np.diff(inv.sku_ptr))
        extra_n = np.concatenate([rep[0], walk[0]])
        extra_s = np.concatenate([rep[1], walk[1]])
        have = _entry_keys(net, inv.node, sku_of)
        key = extra_s * net.n_nodes + extra_n
        new = np.unique(key[~np.isin(key, have)])
        if len(new):
            n_all = np.concatenate([inv.node, new % net.n_nodes])
            s_all = np.concatenate([sku_of, new // net.n_nodes])
            z = np.zeros(len(new), np.int64)
            inv = Inventory.from_arrays(net, n_all, s_all, np.concatenate([inv.on_hand, z]),
                                        np.concatenate([inv.safety_stock, z]), np.concatenate([inv.reserved, z]))
            sku_of = np.repeat(np.arange(net.n_skus, dtype=np.int64), np.diff(inv.sku_ptr))
        self.scenario = dataclasses.replace(scenario, inventory=inv)
        self.inventory = inv
        self.entry_node = inv.node
        self._sku_ptr = np.ascontiguousarray(inv.sku_ptr, np.int64)
        self._ent_node = np.ascontiguousarray(inv.node, np.int64)
        self.entry_sku = sku_of
        self.entry_kind = net.kind[inv.node].astype(np.int64)
        self.added_entries = int(len(new))

        # ---- the order stream in time order
        self._time_orders(scenario, config)

        # ---- replenishment by day
        r_entry = self.entry_of(rep[0], rep[1])
        r_day = rep[2]["day"]
        r_qty = rep[2]["qty"]
        keep = (r_day >= 0) & (r_day < self.n_days) & (r_qty > 0)
        o = np.argsort(r_day[keep], kind="stable")
        self.rep_entry = r_entry[keep][o]
        self.rep_qty = r_qty[keep][o].astype(np.int64)
        self.rep_ptr = np.searchsorted(r_day[keep][o], np.arange(self.n_days + 1))

        # ---- walk-in demand per store entry
        w_entry = self.entry_of(walk[0], walk[1])
        rate = walk[2]["walkin_daily_demand"]
        is_store = net.kind[walk[0]] == _STORE
        keep = is_store & (rate > 0)
        demand = np.zeros(inv.nnz)
        np.add.at(demand, w_entry[keep], rate[keep])
        self.walk_entry = np.flatnonzero(demand > 0)
        self.walk_rate = demand[self.walk_entry]

        # ---- vendor reliability per offer, and which orders can be disrupted
        self.reliability: dict[tuple[int, int], float] = {}
        if offers[0].size:
            rel = offers[2].get("reliability")
            if rel is None:
                rel = np.ones(len(offers[0]))
            for n, s, r in zip(offers[0].tolist(), offers[1].tolist(), rel.tolist(), strict=True):
                self.reliability[(n, s)] = float(r)
        self._watch(config)

        # ---- fixed dual prices (over this inventory: its added entries are priced when the table lists them)
        if config.dual_prices_path is not None:
            from sourcewise.engine.prices import read_prices

            self.dual_fixed = read_prices(config.dual_prices_path, net, inv)
        if config.dual_forecast_path is not None:
            from sourcewise.engine.scenario import load_orders

            self.dual_forecast = load_orders(config.dual_forecast_path, net)

    # -- tables
    def node_sku_pairs(self, df: pd.DataFrame | None, table: str, columns: tuple[str, ...], col: Collector):
        """Node and SKU positions plus numeric columns of an optional table; problems go to ``col``."""
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), {c: np.zeros(0) for c in columns[2:]})
        if df is None or not len(df):
            return empty
        missing = [c for c in columns if c not in df.columns]
        for c in missing:
            col.add(table, None, c, "required column is missing")
        if missing:
            return empty
        node = _positions(self.node_pos, df["node_id"].astype(str))
        sku = _positions(self.sku_pos, df["sku"].astype(str))
        for i in np.flatnonzero(node < 0)[:50]:
            col.add(table, int(i), "node_id", f"unknown node {df['node_id'].iloc[i]!r}")
        for i in np.flatnonzero(sku < 0)[:50]:
            col.add(table, int(i), "sku", f"unknown sku {df['sku'].iloc[i]!r}")
        nums = {}
        for c in list(columns[2:]) + (["reliability"] if "reliability" in df.columns else []):
            v = pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64)
            bad = ~np.isfinite(v) | (v < 0)
            if c in ("day", "qty"):
                bad |= np.isfinite(v) & (v != np.round(v))
            if c == "reliability":
                bad |= v > 1
            for i in np.flatnonzero(bad)[:50]:
                col.add(table, int(i), c, f"must be a number >= 0{' and <= 1' if c == 'reliability' else ''}, "
                                          f"got {df[c].iloc[i]!r}")
            nums[c] = v.astype(np.int64) if c in ("day", "qty") and not bad.any() else v
        return node.astype(np.int64), sku.astype(np.int64), nums

    def _time_orders(self, scenario: Scenario, config: SimConfig) -> None:
        b = scenario.orders
        n = b.n_orders
        day = None
        minute = np.zeros(n, np.int64)
        start = date(2024, 1, 1)
        if b.placed_at is not None and n and not np.isnat(b.placed_at).all():
            ts = b.placed_at.astype("datetime64[s]")
            ok = ~np.isnat(ts)
            first = ts[ok].min().astype("datetime64[D]")
            start = first.astype(datetime)
            if isinstance(start, datetime):
                start = start.date()
            secs = (ts - first.astype("datetime64[s]")).astype(np.int64)
            day = np.where(ok, secs // 86_400, 0)
            minute = np.where(ok, (secs % 86_400) // 60, 0)
        if day is None:
            raw = scenario.tables.get("orders")
            if raw is not None and "day" in raw.columns and len(raw) == b.n_lines:
                d = pd.to_numeric(raw["day"], errors="coerce").fillna(0).to_numpy(np.int64)
                day = np.maximum(d[b.line_ptr[:-1]], 0)
            else:
                day = np.zeros(n, np.int64)
        order = np.lexsort((np.arange(n), minute, day))
        self.n_days = int(day.max()) + 1 if n else 1
        if config.days is not None:
            self.n_days = min(self.n_days, int(config.days))
            order = order[day[order] < self.n_days]
        self.orders = take_orders(b, order)
        self.day = day[order]
        self.minute = minute[order]
        self.start = start
        self.dates = [start + timedelta(days=d) for d in range(self.n_days)]
        self._order_figures()

    def _order_figures(self) -> None:
        """Each day's first order (``day_ptr``) and each order's lines, units and value, from the
        orders in replay order (:attr:`orders`, :attr:`day`, :attr:`n_days`)."""
        self.day_ptr = np.searchsorted(self.day, np.arange(self.n_days + 1))
        bo = self.orders
        owner = np.repeat(np.arange(bo.n_orders), np.diff(bo.line_ptr))
        self.line_owner = owner
        self.order_units = np.bincount(owner, weights=bo.qty, minlength=bo.n_orders).astype(np.int64)
        # sales value at the SKUs' list prices: what an unfilled unit loses
        self.order_value = np.bincount(owner, weights=bo.qty * self.network.price[bo.sku], minlength=bo.n_orders)
        self.order_lines = np.diff(bo.line_ptr)

    # -- lookups
    def destination_countries(self) -> np.ndarray:
        """Country of every order's destination (``""`` when unknown), looked up once for every strategy."""
        if getattr(self, "_countries", None) is None:
            self._countries = countries(self.orders.lat, self.orders.lon)
        return self._countries

    def entry_of(self, node: np.ndarray, sku: np.ndarray) -> np.ndarray:
        """Inventory entry of each (node, SKU) position pair, -1 where none is stored."""
        node = np.ascontiguousarray(node, np.int64)
        sku = np.ascontiguousarray(sku, np.int64)
        return find_entries(self._sku_ptr, self._ent_node, node, sku)

    def _watch(self, config: SimConfig) -> None:
        """Per-order uniforms, and the orders routed one by one so that a failed pick can be re-routed."""
        net, bo = self.network, self.orders
        rng = np.random.default_rng([config.seed, 11])
        n = bo.n_orders
        self.u_pick = rng.random(n)
        self.u_vendor = rng.random(n)
        self.u_choice = rng.random(n)
        at_store = np.zeros(net.n_skus, bool)
        at_store[self.entry_sku[self.entry_kind == _STORE]] = True
        can_store = np.bincount(self.line_owner, weights=at_store[bo.sku], minlength=n) > 0
        # Router.reroute needs an order routed by Router.route; only orders whose draw means a
        # failed pick should they ship from a store are routed that way (about pick_reject_rate)
        self.watch = can_store & (self.u_pick < config.pick_reject_rate)

    def sla_days(self, policy: Policy) -> np.ndarray:
        """Promised delivery days per order: the policy's deadline where set, else :attr:`SimConfig.sla`."""
        table = dict(self.config.sla)
        for level in ("standard", "express", "next_day"):
            d = policy.service.deadline(level)
            if d >= 0:
                table[level] = d
        lvl = self.orders.service_level
        if lvl is None:
            return np.full(self.orders.n_orders, table.get("standard", np.inf))
        # three service levels over a million orders: look each distinct value up once
        code, uniq = pd.factorize(lvl, use_na_sentinel=False)
        return np.array([table.get(x, np.inf) for x in uniq], np.float64)[code]


@njit(cache=True, nogil=True)
def find_entries(sku_ptr: np.ndarray, ent_node: np.ndarray, node: np.ndarray, sku: np.ndarray) -> np.ndarray:
    """Entry of each (node, SKU) pair, -1 where none: a binary search within the SKU's entries.

    Parameters
    ----------
    sku_ptr, ent_node : ndarray of int64
        :attr:`Inventory.sku_ptr` and :attr:`Inventory.node`: SKU ``s`` owns
        entries ``sku_ptr[s]:sku_ptr[s + 1]``, sorted by node.
    node, sku : ndarray of int64
        Node and SKU positions of the pairs looked up.

    Returns
    -------
    ndarray of int64

    Notes
    -----
    A search over all entries' keys misses the cache at every step once
    there are a million entries; one SKU's entries (sorted by node) are a
    few cache lines.
    """
    n_skus = sku_ptr.shape[0] - 1
    out = np.full(node.shape[0], -1, np.int64)
    for i in range(node.shape[0]):
        s, n = sku[i], node[i]
        if s < 0 or s >= n_skus or n < 0:
            continue
        lo, hi = sku_ptr[s], sku_ptr[s + 1]
        while lo < hi:  # first of the SKU's entries whose node is not below n
            mid = (lo + hi) >> 1
            if ent_node[mid] < n:
                lo = mid + 1
            else:
                hi = mid
        if lo < sku_ptr[s + 1] and ent_node[lo] == n:
            out[i] = lo
    return out


def _positions(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``index``, -1 where absent or missing (``Index.get_indexer`` on distinct values)."""
    if not len(values):
        return np.zeros(0, np.int64)
    idx, uniq = encode(values)
    at = index.get_indexer(pd.Index(uniq, dtype=object)) if uniq else np.zeros(0, np.int64)
    return np.where(idx >= 0, at[np.maximum(idx, 0)] if len(at) else -1, -1).astype(np.int64)


def _entry_keys(net: Network, node: np.ndarray, sku: np.ndarray) -> np.ndarray:
    # entries are sorted by (sku, node), so these keys ascend and searchsorted finds them
    return np.asarray(sku, np.int64) * net.n_nodes + np.asarray(node, np.int64)


def encode(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list]:
    """Distinct strings of ``values`` and each row's index into them (-1 for a missing value).

    Dictionary-encoding in Arrow hashes every row in C; only the distinct
    values ever become Python objects.
    """
    enc = pc.dictionary_encode(pa.array(values))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    idx = enc.indices if enc.indices.null_count == 0 else pc.fill_null(enc.indices, -1)
    idx = idx.to_numpy(zero_copy_only=False).astype(np.int64)
    return idx, enc.dictionary.to_pylist()


__all__ = ["Prepared", "encode", "find_entries", "order_objects", "take_orders"]
