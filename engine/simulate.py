"""Multi-day replay of a scenario under sourcing strategies: the planner's what-if lab.

:func:`simulate` replays a scenario's order stream in time order once per
strategy, each from the same initial state (a fresh
:class:`~sourcewise.engine.router.Router` per strategy), and measures what each policy
would have done.

A replayed day
--------------
1. ``set_business_day``: node capacities reset.
2. Replenishment arrivals scheduled for the day land (``replenishment``
   table: ``node_id, sku, day, qty``).
3. Orders are handed to the router in time order. Strategies that route on
   arrival get them in chunks of :attr:`SimConfig.route_minutes` (each chunk
   routed sequentially with ``route_many``); batch strategies (``batchN``)
   hold them for ``N`` minutes and then optimize the wave jointly.
4. Walk-in shoppers buy store stock in :attr:`SimConfig.walkin_slices` slices
   spread over the day, interleaved with the online orders: Poisson draws of
   each store × SKU's ``walkin_daily_demand``. They take at most the units
   not reserved for online orders; what they cannot buy is a walk-in
   stock-out, *caused by online orders* when the units online orders took
   from that store × SKU that day would have covered it.
5. Picking: a store fails to pick one SKU of an order with probability
   :attr:`SimConfig.pick_reject_rate` (per order shipped from a store), and a
   vendor shipment fails with probability ``1 - reliability`` of its offers.
   Both are handled by :meth:`Router.reroute`, which re-sources only the
   affected lines and writes off the missing units at the failing node.
6. Everything routed that day ships; an independent ledger (initial stock
   + receipts - walk-in sales - write-offs - shipped units) is checked per
   inventory entry: the oversell count must be 0 and is asserted.

Random draws (walk-in demand, pick rejections, vendor failures) depend only
on the seed, the day and the order, never on the strategy, so strategies
are compared on the same events, and a seed reproduces a run exactly.

Disruptions need :meth:`Router.reroute`, which works for orders routed one
by one with :meth:`Router.route`. Only the orders that *can* be disrupted
(their pre-drawn uniform falls under the highest disruption probability any
of their SKUs could face) are routed that way, right after their chunk; every
other order goes through the compiled ``route_many`` loop. The probability of
each disruption is exact: a drawn order is disrupted only when its uniform
also falls under the probability of the shipment it actually got.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from sourcewise.engine._kernels.gather import entry_position
from sourcewise.engine.batch import orders_from_batch
from sourcewise.engine.router import BatchResult, Router
from sourcewise.engine.scenario import Scenario, build_router
from sourcewise.models.decision import Decision
from sourcewise.models.errors import Collector, ValidationError
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import UNLIMITED, Network, unit_vectors
from sourcewise.models.node import KIND_CODES, NodeKind
from sourcewise.models.policy import STRATEGIES, Policy
from sourcewise.models.tables import OrderBatch

KINDS: tuple[str, ...] = ("warehouse", "store", "vendor")
MINUTES_PER_DAY = 1440
DEFAULT_STRATEGIES: tuple[str, ...] = ("nearest", "priority", "cost", "dual", "batch15")
DEFAULT_SLA: tuple[tuple[str, float], ...] = (("standard", 5.0), ("express", 3.0), ("next_day", 1.0))
_STORE = KIND_CODES[NodeKind.STORE]
_VENDOR = KIND_CODES[NodeKind.VENDOR]

#: Per-day sums the replay records; every KPI is derived from them (see :func:`kpi_frame`).
SUM_COLUMNS: tuple[str, ...] = (
    "orders", "orders_shipped", "orders_routed", "orders_partial", "orders_unroutable",
    "units_ordered", "units_routed", "units_unfilled",
    "cost", "shipping", "handling", "vendor_fees", "split_penalty", "penalties",
    "shipments", "split_orders", "distance_km", "promised_days_sum", "orders_on_time",
    "units_warehouse", "units_store", "units_vendor",
    "pick_rejections", "vendor_failures", "resourced_orders", "reroute_errors", "rerouted_units",
    "written_off_units",
    "walkin_demand", "walkin_sold", "walkin_lost", "walkin_lost_online",
    "receipts", "receipts_units",
    "parcels_warehouse", "parcels_store", "parcels_vendor",
    "capacity_warehouse", "capacity_store", "capacity_vendor",
    "oversell", "ledger_mismatch",
)


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True, slots=True)
class StrategySpec:
    """How one replayed strategy routes.

    Attributes
    ----------
    name : str
        The name given (``cost``, ``dual``, ``batch15``, ...).
    route : str
        Router strategy used for each order (``cost`` for batch strategies).
    window : int
        Minutes orders are held before their wave is optimized; 0 routes on arrival.
    dual : bool
        Whether dual prices are refreshed during the replay.
    """

    name: str
    route: str
    window: int = 0
    dual: bool = False


def parse_strategy(name: str) -> StrategySpec:
    """Parse a strategy name: a router strategy, or ``batch``/``batchN`` (hold ``N`` minutes, default 15).

    Raises
    ------
    ValidationError
        For an unknown name or a window outside 1..1440 minutes.
    """
    col = Collector()
    text = str(name).strip()
    if text in STRATEGIES:
        return StrategySpec(text, text, 0, text == "dual")
    if text.startswith("batch"):
        tail = text[len("batch"):] or "15"
        if tail.isdigit() and 1 <= int(tail) <= MINUTES_PER_DAY:
            return StrategySpec(text, "cost", int(tail), False)
        col.add("simulate", None, "strategies", f"batch window must be 1..1440 minutes, got {text!r}")
    else:
        col.add("simulate", None, "strategies",
                f"unknown strategy {text!r}; use {', '.join(STRATEGIES)}, batch or batchN (minutes)")
    col.raise_if_any()
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class SimConfig:
    """Replay settings.

    Parameters
    ----------
    strategies : tuple of str
        Strategies to replay (see :func:`parse_strategy`).
    seed : int
        Seed of every random draw; the same seed reproduces a run exactly.
    pick_reject_rate : float
        Probability that a store fails to pick one SKU of an order it ships.
    vendor_failures : bool
        Whether vendor shipments fail with probability ``1 - reliability``.
    walkin : bool
        Whether walk-in shoppers consume store stock.
    walkin_slices : int
        Walk-in sales happen in this many equal slices of the day.
    route_minutes : int
        Orders routed on arrival are handed to the router in time-ordered
        chunks of this many minutes (orders that can be disrupted are routed
        right after their chunk).
    days : int, optional
        Replay only the first ``days`` days.
    reroute_delay_days : float
        Days a re-sourced order loses (its replacement parcel leaves the next day).
    sla : tuple of (service level, days)
        Delivery promise per service level for the on-time rate; a deadline
        set in the policy (``[service]``) takes precedence.
    wave_time_limit : float
        Seconds the optimizer may spend on one batch wave.
    dual_refresh_minutes : int
        The ``dual`` strategy refreshes its prices this often from the orders
        of the last interval (the previous day's last orders at a day start).
    dual_max_orders : int
        Most recent orders used for one refresh.
    dual_time_limit : float
        Seconds for one dual-price LP.
    verify_router : bool, optional
        Compare the ledger with the router's stock every day (costs a
        snapshot); by default only for scenarios under 200,000 stock entries,
        and always once at the end.
    """

    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    seed: int = 0
    pick_reject_rate: float = 0.02
    vendor_failures: bool = True
    walkin: bool = True
    walkin_slices: int = 4
    route_minutes: int = 60
    days: int | None = None
    reroute_delay_days: float = 1.0
    sla: tuple[tuple[str, float], ...] = DEFAULT_SLA
    wave_time_limit: float = 2.0
    dual_refresh_minutes: int = 240
    dual_max_orders: int = 2000
    dual_time_limit: float = 5.0
    verify_router: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategies", tuple(self.strategies))
        object.__setattr__(self, "sla", tuple((str(k), float(v)) for k, v in self.sla))
        col = Collector()
        if not self.strategies:
            col.add("simulate", None, "strategies", "name at least one strategy")
        for s in self.strategies:
            try:
                parse_strategy(s)
            except ValidationError as exc:
                col.extend(exc.problems)
        if len(set(self.strategies)) != len(self.strategies):
            col.add("simulate", None, "strategies", f"strategies repeat: {list(self.strategies)}")

        def number(name: str, lo: float, hi: float = math.inf, integer: bool = False) -> None:
            v = getattr(self, name)
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi
            if ok and integer:
                ok = float(v).is_integer()
            if not ok:
                rng = f"in [{lo:g}, {hi:g}]" if math.isfinite(hi) else f">= {lo:g}"
                col.add("simulate", None, name, f"must be {'an integer' if integer else 'a number'} {rng}, got {v!r}")

        number("seed", 0, integer=True)
        number("pick_reject_rate", 0.0, 1.0)
        number("walkin_slices", 1, 96, integer=True)
        number("route_minutes", 1, MINUTES_PER_DAY, integer=True)
        number("reroute_delay_days", 0.0)
        number("wave_time_limit", 0.01)
        number("dual_refresh_minutes", 1, 7 * MINUTES_PER_DAY, integer=True)
        number("dual_max_orders", 1, integer=True)
        number("dual_time_limit", 0.01)
        if self.days is not None:
            number("days", 1, integer=True)
        for name in ("vendor_failures", "walkin"):
            if not isinstance(getattr(self, name), bool):
                col.add("simulate", None, name, f"must be true or false, got {getattr(self, name)!r}")
        for level, days in self.sla:
            if level not in ("standard", "express", "next_day") or not (math.isfinite(days) and days >= 0):
                col.add("simulate", None, "sla", f"bad entry {level!r} = {days!r}")
        col.raise_if_any()

    def replace(self, **changes) -> SimConfig:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class StrategyResult:
    """One strategy's replay.

    Attributes
    ----------
    strategy : str
    daily : DataFrame
        One row per day: ``day``, ``date`` and every column of :data:`SUM_COLUMNS`.
    nodes : DataFrame
        Per node over the horizon: ``node_id, kind, lat, lon, units, parcels,
        capacity_orders, utilization``.
    seconds : float
        Wall time of the replay.
    notes : tuple of str
        How batch waves and dual prices were produced.
    """

    strategy: str
    daily: pd.DataFrame
    nodes: pd.DataFrame
    seconds: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Every strategy's replay and the KPI table.

    Attributes
    ----------
    kpis : DataFrame
        One row per strategy × day plus one ``total`` row per strategy (see :func:`kpi_frame`).
    nodes : DataFrame
        :attr:`StrategyResult.nodes` of every strategy, with a ``strategy`` column.
    results : dict of str to StrategyResult
    config : SimConfig
    """

    kpis: pd.DataFrame
    nodes: pd.DataFrame
    results: dict[str, StrategyResult]
    config: SimConfig
    scenario_path: str = ""

    @property
    def totals(self) -> pd.DataFrame:
        """The ``total`` row of each strategy, indexed by strategy."""
        return self.kpis[self.kpis["date"] == "total"].set_index("strategy")


class OversellError(AssertionError):
    """The ledger shows more units shipped from an inventory entry than it ever held."""


# ----------------------------------------------------------------------------- batch helpers
def take_orders(batch: OrderBatch, idx: np.ndarray) -> OrderBatch:
    """Orders ``idx`` of ``batch`` (any order, optional columns included) as a batch of their own."""
    idx = np.asarray(idx, np.int64)
    lo, hi = batch.line_ptr[idx], batch.line_ptr[idx + 1]
    cnt = hi - lo
    ptr = np.zeros(len(idx) + 1, np.int64)
    np.cumsum(cnt, out=ptr[1:])
    sel = np.repeat(lo - ptr[:-1], cnt) + np.arange(int(ptr[-1]), dtype=np.int64)

    def per_order(a):
        return None if a is None else a[idx]

    def per_line(a):
        return None if a is None else a[sel]

    return OrderBatch(
        order_id=batch.order_id[idx], line_ptr=ptr, line_id=batch.line_id[sel], sku=batch.sku[sel],
        qty=batch.qty[sel], lat=batch.lat[idx], lon=batch.lon[idx], allow_split=batch.allow_split[idx],
        max_shipments=batch.max_shipments[idx], method=per_line(batch.method),
        pickup_node=per_line(batch.pickup_node), service_level=per_order(batch.service_level),
        channel=per_order(batch.channel), placed_at=per_order(batch.placed_at),
        allow_substitutes=per_order(batch.allow_substitutes),
    )


def _optimizer():
    """``sourcewise.engine.optimize`` when it is importable with the API the replay uses, else ``None``."""
    try:
        from sourcewise.engine import optimize as opt
    except ImportError:
        return None
    if not (hasattr(opt, "reoptimize") and hasattr(opt, "dual_prices")):
        return None
    return opt


# ----------------------------------------------------------------------------- preparation
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
        ``vendor_offers`` tables.
    """

    def __init__(self, scenario: Scenario, config: SimConfig):
        self.config = config
        net = scenario.network
        self.network = net
        tables = scenario.tables
        col = Collector()
        self.node_pos = pd.Index([n.node_id for n in net.nodes])
        self.sku_pos = pd.Index([s.sku for s in net.skus])
        rep = self._pairs(tables.get("replenishment"), "replenishment", ("node_id", "sku", "day", "qty"), col)
        walk = self._pairs(tables.get("walkin"), "walkin", ("node_id", "sku", "walkin_daily_demand"), col)
        offers = self._pairs(tables.get("vendor_offers"), "vendor_offers", ("node_id", "sku"), col)
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

    # -- tables
    def _pairs(self, df: pd.DataFrame | None, table: str, columns: tuple[str, ...], col: Collector):
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
        self.day_ptr = np.searchsorted(self.day, np.arange(self.n_days + 1))
        bo = self.orders
        owner = np.repeat(np.arange(bo.n_orders), np.diff(bo.line_ptr))
        self.line_owner = owner
        self.order_units = np.bincount(owner, weights=bo.qty, minlength=bo.n_orders).astype(np.int64)
        self.order_lines = np.diff(bo.line_ptr)

    # -- lookups
    def entry_of(self, node: np.ndarray, sku: np.ndarray) -> np.ndarray:
        """Inventory entry of each (node, SKU) position pair, -1 where none is stored."""
        node = np.ascontiguousarray(node, np.int64)
        sku = np.ascontiguousarray(sku, np.int64)
        return _find_entries(self._sku_ptr, self._ent_node, node, sku)

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
def _find_entries(sku_ptr: np.ndarray, ent_node: np.ndarray, node: np.ndarray, sku: np.ndarray) -> np.ndarray:
    """Entry of each (node, SKU) pair, -1 where none: a binary search within the SKU's entries.

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
        out[i] = entry_position(sku_ptr, ent_node, s, n)
    return out


def _positions(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``index``, -1 where absent or missing (``Index.get_indexer`` on distinct values)."""
    if not len(values):
        return np.zeros(0, np.int64)
    idx, uniq = _encode(values)
    at = index.get_indexer(pd.Index(uniq, dtype=object)) if uniq else np.zeros(0, np.int64)
    return np.where(idx >= 0, at[np.maximum(idx, 0)] if len(at) else -1, -1).astype(np.int64)


def _entry_keys(net: Network, node: np.ndarray, sku: np.ndarray) -> np.ndarray:
    # entries are sorted by (sku, node), so these keys ascend and searchsorted finds them
    return np.asarray(sku, np.int64) * net.n_nodes + np.asarray(node, np.int64)


# ----------------------------------------------------------------------------- stock moves
class _Stock:
    """Receipts and walk-in sales through the router, in bulk when it can, and the independent ledger.

    The ledger counts what physically happened to each inventory entry:
    starting stock, receipts, walk-in sales the router allowed, units
    written off by failed picks, and units shipped. It never reads the
    router's stock, so a negative entry is an oversell the router allowed.
    """

    def __init__(self, prep: Prepared, router: Router):
        self.prep = prep
        self.router = router
        self.ledger = prep.inventory.on_hand.astype(np.int64).copy()
        self._bulk = getattr(router, "adjust_stock_many", None)
        self._node_ids = np.array([n.node_id for n in prep.network.nodes], dtype=object)
        self._sku_ids = np.array([s.sku for s in prep.network.skus], dtype=object)

    def adjust(self, entries: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Apply stock changes to the router; returns what it applied (a sale takes only unreserved units)."""
        if len(entries) == 0:
            return np.zeros(0, np.int64)
        if self._bulk is not None:
            return np.asarray(self._bulk(entries, delta), np.int64)
        nodes = self._node_ids[self.prep.entry_node[entries]]
        skus = self._sku_ids[self.prep.entry_sku[entries]]
        adj = self.router.adjust_stock
        return np.fromiter((adj(n, s, int(d)) for n, s, d in zip(nodes, skus, delta.tolist(), strict=True)),
                           np.int64, count=len(entries))

    def receive(self, day: int) -> tuple[int, int]:
        lo, hi = self.prep.rep_ptr[day], self.prep.rep_ptr[day + 1]
        e, q = self.prep.rep_entry[lo:hi], self.prep.rep_qty[lo:hi]
        applied = self.adjust(e, q)
        np.add.at(self.ledger, e, applied)
        return int(hi - lo), int(applied.sum())

    def sell(self, entries: np.ndarray, qty: np.ndarray) -> np.ndarray:
        sold = -self.adjust(entries, -qty)
        np.subtract.at(self.ledger, entries, sold)
        return sold


# ----------------------------------------------------------------------------- one strategy
#: Money columns of the orders table, summed per day in this order (row ``i`` of :attr:`_Rows.money`).
MONEY_COLUMNS: tuple[str, ...] = ("cost", "shipping", "handling", "vendor_fees", "split_penalty", "penalties",
                                  "distance_km")
_STATUS_CODES: tuple[str, ...] = ("routed", "partial", "unroutable")


@dataclass(eq=False)
class _Rows:
    """Result rows of one routed batch as arrays: what shipping and the day's sums read.

    The router's result frames are read once, when the batch is routed, so
    that shipping concatenates arrays instead of frames and never goes back
    to strings.
    """

    pos: np.ndarray              # order position of each order row
    ids: np.ndarray              # order id of each order row (object), for commit_many
    status: np.ndarray           # int8 index into _STATUS_CODES, -1 for any other status
    units: np.ndarray            # units routed per order
    unfilled: np.ndarray
    shipments: np.ndarray
    money: np.ndarray            # (len(MONEY_COLUMNS), n): each column contiguous, so sums match pandas'
    promised: np.ndarray         # promised days per order, -1 when nothing ships
    a_pos: np.ndarray            # order position of each allocation row
    a_node: np.ndarray
    a_sku: np.ndarray
    a_qty: np.ndarray
    a_ent: np.ndarray

    def without(self, gone: np.ndarray) -> _Rows:
        keep = ~np.isin(self.pos, gone)
        ak = ~np.isin(self.a_pos, gone)
        return _Rows(self.pos[keep], self.ids[keep], self.status[keep], self.units[keep], self.unfilled[keep],
                     self.shipments[keep], self.money[:, keep], self.promised[keep], self.a_pos[ak],
                     self.a_node[ak], self.a_sku[ak], self.a_qty[ak], self.a_ent[ak])


@dataclass
class _Day:
    """Accumulators of one replayed day."""

    rows: list = field(default_factory=list)         # _Rows of every bulk-routed batch
    watched: dict = field(default_factory=dict)      # position -> Decision (routed one by one)
    replaced: set = field(default_factory=set)       # positions of bulk-routed orders routed again
    rerouted: set = field(default_factory=set)       # positions re-sourced after a failure
    sums: dict = field(default_factory=dict)


def _encode(values: pd.Series | np.ndarray) -> tuple[np.ndarray, list]:
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


def _codes(values: pd.Series, index: dict[str, int]) -> np.ndarray:
    """Integer code of each string of ``values`` (the router's node or SKU ids), each distinct one looked up once."""
    if not len(values):
        return np.zeros(0, np.int64)
    idx, uniq = _encode(values)
    try:
        code = np.fromiter(map(index.__getitem__, uniq), np.int64, count=len(uniq))
    except KeyError as exc:
        raise AssertionError(f"a result row names {exc.args[0]!r}, which the network does not know") from exc
    if (idx < 0).any():
        raise AssertionError("a result row has no node or SKU")
    return code[idx]


def _arrow(values: pd.Series) -> pa.Array:
    """A string column as one Arrow array (zero-copy for the Arrow strings pandas keeps)."""
    arr = pa.array(values)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _equal(arr: pa.Array, ids: np.ndarray) -> bool:
    """Whether the Arrow strings ``arr`` are exactly the ids ``ids``, in order."""
    if len(arr) != len(ids):
        return False
    if not len(ids):
        return True
    try:
        other = pa.array(ids, type=arr.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False  # ids that are not strings: let the caller look them up
    return bool(pc.all(pc.equal(arr, other)).as_py()) and arr.null_count == 0


_STATUS_SET = pa.array(_STATUS_CODES)


def _status_codes(status: pa.Array) -> np.ndarray:
    """Index of each status into ``_STATUS_CODES``, -1 for any other."""
    at = pc.index_in(status, value_set=_STATUS_SET)
    return pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int8)


def _run_positions(ids: np.ndarray, where: dict, pos: np.ndarray) -> np.ndarray:
    """Order position of each row; rows of one order come together, so only run heads are looked up."""
    if not len(ids):
        return np.zeros(0, np.int64)
    heads = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    try:
        at = np.fromiter((where[ids[h]] for h in heads), np.int64, count=len(heads))
    except KeyError as exc:
        raise AssertionError(f"a result row names order {exc.args[0]!r}, which was not in its batch") from exc
    return np.repeat(pos[at], np.diff(np.r_[heads, len(ids)]))


_GC_LOCK = threading.Lock()
_GC_STATE = {"depth": 0, "was_enabled": False}


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a replay, restoring it afterwards.

    The router keeps a few Python objects per order it has routed (a
    million orders: millions of objects), and every full collection walks
    all of them: about 13 full collections and 4-5 s of a 1M-order replay,
    for no garbage (a replay makes no reference cycles worth collecting;
    peak memory is the same). Freed objects still go at once by reference
    counting. Nested and concurrent replays share one pause; a collector
    the caller had disabled stays disabled.
    """
    with _GC_LOCK:
        if _GC_STATE["depth"] == 0:
            _GC_STATE["was_enabled"] = gc.isenabled()
            gc.disable()
        _GC_STATE["depth"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_STATE["depth"] -= 1
            if _GC_STATE["depth"] == 0 and _GC_STATE["was_enabled"]:
                gc.enable()


class Replay:
    """Replays one strategy over a prepared scenario.

    Parameters
    ----------
    prep : Prepared
    strategy : str
    policy : Policy, optional
        Overrides the scenario's policy (its ``strategy`` is ignored).
    progress : callable, optional
        Called with the number of orders just replayed.
    """

    def __init__(self, prep: Prepared, strategy: str, policy: Policy | None = None,
                 progress: Callable[[int], None] | None = None):
        self.prep = prep
        self.cfg = prep.config
        self.spec = parse_strategy(strategy)
        self.policy = policy or prep.scenario.policy
        self.progress = progress or (lambda n: None)
        self.notes: list[str] = []
        self.opt = _optimizer() if (self.spec.window or self.spec.dual) else None
        if self.spec.window:
            self.notes.append(
                f"{self.spec.name}: waves of {self.spec.window} min routed by cost (most constrained orders "
                "first), then " + ("re-planned jointly by engine.optimize.reoptimize" if self.opt is not None
                                   else "kept as is: engine.optimize is unavailable"))
        if self.spec.dual:
            self.notes.append(
                f"{self.spec.name}: dual prices refreshed every {self.cfg.dual_refresh_minutes} min from "
                "the last interval's orders by " + ("sourcewise.engine.optimize.dual_prices (LP duals)" if self.opt
                                                    is not None else "a local-scarcity proxy"))
        net = prep.network
        self._node_index = net.node_index
        self._sku_index = net.sku_index

    def run(self) -> StrategyResult:
        """Replay every day; the collector is paused meanwhile (see :func:`_gc_paused`)."""
        with _gc_paused():
            return self._run()

    def _run(self) -> StrategyResult:
        t0 = time.perf_counter()
        prep, cfg = self.prep, self.cfg
        net = prep.network
        self.router = build_router(prep.scenario, self.policy, business_day=prep.dates[0])
        self.stock = _Stock(prep, self.router)
        self.sla = prep.sla_days(self.policy)
        self.node_units = np.zeros(net.n_nodes, np.int64)
        self.node_parcels = np.zeros(net.n_nodes, np.int64)
        self.limited = net.capacity_orders < UNLIMITED
        self._next_dual = 0
        verify = cfg.verify_router if cfg.verify_router is not None else prep.inventory.nnz < 200_000
        rows = [self._day(d, verify) for d in range(prep.n_days)]
        self._verify(final=True)
        daily = pd.DataFrame(rows)
        kinds = np.array(KINDS, dtype=object)[net.kind]
        cap = np.where(self.limited, net.capacity_orders * prep.n_days, 0)
        nodes = pd.DataFrame({
            "node_id": prep.node_pos.to_numpy(), "kind": kinds, "lat": net.lat, "lon": net.lon,
            "units": self.node_units, "parcels": self.node_parcels,
            "capacity_orders": np.where(self.limited, cap, -1),
            "utilization": np.where(self.limited, self.node_parcels / np.maximum(cap, 1), np.nan),
        })
        return StrategyResult(self.spec.name, daily, nodes, time.perf_counter() - t0, tuple(self.notes))

    # -- one day
    def _day(self, d: int, verify: bool) -> dict:
        prep, cfg = self.prep, self.cfg
        self.router.set_business_day(prep.dates[d])
        day = _Day()
        s = day.sums = dict.fromkeys(SUM_COLUMNS, 0)
        s["receipts"], s["receipts_units"] = self.stock.receive(d)
        lo, hi = int(prep.day_ptr[d]), int(prep.day_ptr[d + 1])
        n_entries = prep.inventory.nnz
        self.taken_all = np.zeros(n_entries, np.int64)     # units online orders took today
        self.attributable = np.zeros(n_entries, np.int64)  # ... at stores, not yet blamed for a walk-in loss
        step = self.spec.window or cfg.route_minutes
        minutes = prep.minute[lo:hi]
        slice_len = MINUTES_PER_DAY / cfg.walkin_slices
        next_walk = 0
        for t in range(0, MINUTES_PER_DAY, step):
            a = lo + int(np.searchsorted(minutes, t))
            b = lo + int(np.searchsorted(minutes, t + step))
            # walk-in slices that ended before this chunk starts
            while cfg.walkin and next_walk < cfg.walkin_slices and (next_walk + 1) * slice_len <= t:
                self._walkin(d, next_walk, s)
                next_walk += 1
            if self.spec.dual:
                self._refresh_dual(a, d, t)
            if b > a:
                release = min(t + step, MINUTES_PER_DAY - 1) if self.spec.window else None
                self._route_chunk(a, b, day, release)
                self.progress(b - a)
        while cfg.walkin and next_walk < cfg.walkin_slices:
            self._walkin(d, next_walk, s)
            next_walk += 1
        self._disrupt(day)
        self._ship(d, lo, hi, day)
        if verify:
            self._verify(final=False)
        return {"day": d, "date": prep.dates[d].isoformat(), **s}

    # -- routing
    def _route_chunk(self, a: int, b: int, day: _Day, release: int | None) -> None:
        prep = self.prep
        pos = np.arange(a, b)
        watched = pos[prep.watch[a:b]]
        normal = pos[~prep.watch[a:b]]
        if len(normal):
            if release is not None:
                normal = self._wave_order(normal)
            batch = take_orders(prep.orders, normal)
            if release is not None:
                batch = self._released(batch, int(prep.day[a]), release)
            res = self.router.route_many(batch, strategy=self.spec.route)
            if release is not None and self.opt is not None and len(normal) > 1:
                res = self._reoptimize(batch, res)
            rows = self._rows(normal, batch.order_id, res)
            day.rows.append(rows)
            self._take(rows.a_ent, rows.a_qty)
        if len(watched):
            batch = take_orders(prep.orders, watched)
            if release is not None:
                batch = self._released(batch, int(prep.day[a]), release)
            nodes, skus, qtys = [], [], []
            for p, order in zip(watched.tolist(), orders_from_batch(prep.network, batch), strict=True):
                dec = self.router.route(order, strategy=self.spec.route)
                day.watched[p] = dec
                for a in dec.allocations:
                    nodes.append(self._node_index[a.node_id])
                    skus.append(self._sku_index[a.sku])
                    qtys.append(a.qty)
            if nodes:
                self._take(prep.entry_of(np.array(nodes), np.array(skus)), np.array(qtys, np.int64))

    def _rows(self, pos: np.ndarray, batch_ids: np.ndarray, res: BatchResult) -> _Rows:
        """The arrays of a batch result whose orders sit at positions ``pos`` (``batch_ids`` their ids)."""
        o, alloc = res.orders, res.allocations
        # Order ids are compared in Arrow, where the router's frames keep them: turning them into
        # Python strings cost more than the rest of this method.
        o_arr = _arrow(o["order_id"])
        a_arr = _arrow(alloc["order_id"])
        units = o["units"].to_numpy(np.int64)
        o_pos = a_pos = None
        if _equal(o_arr, batch_ids):
            o_pos = pos  # one row per order in batch order, as route_many writes them: nothing to look up
            ids = batch_ids
            if len(a_arr):
                heads = np.flatnonzero(np.r_[True, pc.not_equal(a_arr[1:], a_arr[:-1]).to_numpy(
                    zero_copy_only=False)])
                shipped = np.flatnonzero(units > 0)
                # allocation rows come in runs per order, in the order of the orders table: check
                # that, and take positions from it
                if len(heads) == len(shipped) and pc.all(pc.equal(a_arr.take(heads), o_arr.take(shipped))).as_py():
                    a_pos = np.repeat(pos[shipped], np.diff(np.r_[heads, len(a_arr)]))
            else:
                a_pos = np.zeros(0, np.int64)
        else:
            ids = o["order_id"].to_numpy(dtype=object)
        if o_pos is None or a_pos is None:
            # any other layout: each run of rows is looked up by its order id
            where = {str(x): i for i, x in enumerate(batch_ids.tolist())}
            if o_pos is None:
                o_pos = _run_positions(ids, where, pos)
            a_pos = _run_positions(alloc["order_id"].to_numpy(dtype=object), where, pos)
        node = _codes(alloc["node_id"], self._node_index)
        sku = _codes(alloc["sku"], self._sku_index)
        money = np.empty((len(MONEY_COLUMNS), len(ids)))
        for i, c in enumerate(MONEY_COLUMNS):
            money[i] = o[c].to_numpy(np.float64)
        return _Rows(o_pos, ids, _status_codes(_arrow(o["status"])), units,
                     o["unfilled"].to_numpy(np.int64), o["shipments"].to_numpy(np.int64), money,
                     o["promised_days"].to_numpy(np.float64), a_pos, node, sku, alloc["qty"].to_numpy(np.int64),
                     self.prep.entry_of(node, sku))

    def _decision_rows(self, pos: np.ndarray, decs: list[Decision]) -> _Rows:
        """The arrays of decisions routed one by one, with the figures ``decisions_to_tables`` gives.

        Read straight from the objects: a frame per day would only be turned back into arrays.
        """
        n = len(decs)
        costs = np.array([[d.cost.shipping, d.cost.handling, d.cost.vendor_fees, d.cost.split_penalty,
                           d.cost.penalties] for d in decs], np.float64).reshape(n, 5)
        filled = np.array([d.units for d in decs], np.int64)
        unfilled = np.array([sum(q for _, q in d.unfilled) for d in decs], np.int64)
        money = np.empty((len(MONEY_COLUMNS), n))
        money[0] = costs.sum(axis=1)
        money[1:6] = costs.T
        money[6] = [d.distance_km for d in decs]
        status = np.where(unfilled == 0, 0, np.where(filled == 0, 2, 1)).astype(np.int8)
        ships = np.array([sum(1 for sh in d.shipments if sh.method != "pickup") for d in decs], np.int64)
        days = np.array([max((sh.promised_days for sh in d.shipments), default=-1.0) for d in decs], np.float64)
        cnt = np.array([len(d.allocations) for d in decs], np.int64)
        node = np.array([self._node_index[a.node_id] for d in decs for a in d.allocations], np.int64)
        sku = np.array([self._sku_index[a.sku] for d in decs for a in d.allocations], np.int64)
        qty = np.array([a.qty for d in decs for a in d.allocations], np.int64)
        ids = np.array([d.order_id for d in decs], dtype=object)
        return _Rows(pos, ids, status, filled, unfilled, ships, money, days, np.repeat(pos, cnt), node, sku, qty,
                     self.prep.entry_of(node, sku))

    def _released(self, batch: OrderBatch, d: int, minute: int) -> OrderBatch:
        """A held wave is routed when the window closes: cutoffs and promises count from then."""
        when = np.datetime64(self.prep.dates[d].isoformat(), "s") + np.timedelta64(int(minute) * 60, "s")
        placed = np.full(batch.n_orders, when, dtype="datetime64[s]")
        if batch.placed_at is not None:
            placed = np.maximum(np.where(np.isnat(batch.placed_at), when, batch.placed_at), when)
        return dataclasses.replace(batch, placed_at=placed)

    def _wave_order(self, pos: np.ndarray) -> np.ndarray:
        """Most constrained orders first: fewest nodes that could ship the whole order alone.

        Orders no single node can serve go last (they split whatever the
        order), then larger orders before smaller ones. Stock is estimated
        from the ledger less today's allocations, so it ignores protection.
        """
        prep = self.prep
        bo, inv = prep.orders, prep.inventory
        n_nodes = prep.network.n_nodes
        avail = self.stock.ledger - self.taken_all - inv.safety_stock
        lo, hi = bo.line_ptr[pos], bo.line_ptr[pos + 1]
        cnt = hi - lo
        lines = _ranges(lo, cnt)
        owner = np.repeat(np.arange(len(pos)), cnt)
        sku, qty = bo.sku[lines], bo.qty[lines]
        e_lo = inv.sku_ptr[sku]
        ecnt = inv.sku_ptr[sku + 1] - e_lo
        ents = _ranges(e_lo, ecnt)
        ok = avail[ents] >= np.repeat(qty, ecnt)
        hits = np.zeros(len(pos) * n_nodes, np.int64)
        np.add.at(hits, np.repeat(owner, ecnt)[ok] * n_nodes + inv.node[ents[ok]], 1)
        whole = (hits.reshape(len(pos), n_nodes) == cnt[:, None]).sum(axis=1)
        units = prep.order_units[pos]
        return pos[np.lexsort((np.arange(len(pos)), -units, whole, whole == 0))]

    def _capacity_left(self) -> np.ndarray:
        net = self.prep.network
        return np.array([self.router.capacity_left(n.node_id) for n in net.nodes], np.int64).reshape(-1, 2)

    def _reoptimize(self, batch: OrderBatch, res: BatchResult) -> BatchResult:
        """Re-plan the wave jointly; the router swaps the reservations only when the plan is better."""
        net = self.prep.network
        left = self._capacity_left()
        alloc = res.allocations
        node = _codes(alloc["node_id"].to_numpy(dtype=object), self._node_index)
        order = _codes(alloc["order_id"].to_numpy(dtype=object),
                       {str(o): i for i, o in enumerate(batch.order_id.tolist())})
        # the wave's own use counts as free for its re-plan
        parcels = np.unique(order * net.n_nodes + node) % net.n_nodes
        used_o = np.bincount(parcels, minlength=net.n_nodes)
        used_u = np.bincount(node, weights=alloc["qty"].to_numpy(np.float64), minlength=net.n_nodes)
        cap_o = np.where(self.limited, left[:, 0] + used_o, UNLIMITED)
        cap_u = np.where(net.capacity_units < UNLIMITED, left[:, 1] + used_u.astype(np.int64), UNLIMITED)
        r = self.opt.reoptimize(self.router, [str(o) for o in batch.order_id], self.cfg.wave_time_limit,
                                orders=batch, node_capacity_orders=cap_o, node_capacity_units=cap_u)
        if not r.applied or r.plan is None:
            return res
        return BatchResult(r.plan.allocations, r.plan.orders)

    def _refresh_dual(self, a: int, d: int, t: int) -> None:
        """Prices from the orders of the last interval, at most every ``dual_refresh_minutes``."""
        now = d * MINUTES_PER_DAY + t
        if now < self._next_dual:
            return
        self._next_dual = now + self.cfg.dual_refresh_minutes
        prep = self.prep
        stamp = prep.day * MINUTES_PER_DAY + prep.minute
        first = max(int(np.searchsorted(stamp, now - self.cfg.dual_refresh_minutes)), a - self.cfg.dual_max_orders)
        if a <= first:
            return
        recent = np.arange(first, a)
        if self.opt is not None:
            batch = take_orders(prep.orders, recent)
            # the LP only prices stock; fresh ids keep it clear of the router's real orders
            batch = dataclasses.replace(batch, order_id=np.array([f"~dual-{i}" for i in range(len(recent))],
                                                                 dtype=object))
            left = self._capacity_left()
            prices = self.opt.dual_prices(batch, prep.network, self.router.snapshot(), self.policy,
                                          self.cfg.dual_time_limit,
                                          node_capacity_orders=np.where(self.limited, left[:, 0], UNLIMITED))
        else:
            prices = self._scarcity_prices(recent)
        self.router.set_dual_prices(np.nan_to_num(np.maximum(prices, 0.0)))

    def _scarcity_prices(self, recent: np.ndarray) -> np.ndarray:
        """Fallback dual prices: each entry's local scarcity.

        Recent demand is assigned to the own node nearest each customer; an
        entry's price is ``per_shipment * d / (d + avail)``, so stock that
        its neighbourhood is about to need costs more to send far away.
        """
        prep, net = self.prep, self.prep.network
        bo = prep.orders
        own = np.flatnonzero(net.usable & (net.kind != _VENDOR))
        prices = np.zeros(prep.inventory.nnz)
        if not len(own) or not len(recent):
            return prices
        xyz = unit_vectors(bo.lat[recent], bo.lon[recent]).reshape(len(recent), 3)
        nearest = own[np.argmax(xyz @ net.xyz[own].T, axis=1)]
        cnt = bo.line_ptr[recent + 1] - bo.line_ptr[recent]
        lines = _ranges(bo.line_ptr[recent], cnt)
        ent = prep.entry_of(np.repeat(nearest, cnt), bo.sku[lines])
        ok = ent >= 0
        demand = np.bincount(ent[ok], weights=bo.qty[lines][ok], minlength=len(prices))
        avail = np.maximum(self.stock.ledger - self.taken_all - prep.inventory.safety_stock, 0)
        hit = demand > 0
        prices[hit] = self.policy.cost.per_shipment * demand[hit] / (demand[hit] + avail[hit])
        return prices

    # -- what online orders took today
    def _take(self, ent: np.ndarray, qty: np.ndarray) -> None:
        """Count units online orders took, per entry (at stores also for walk-in attribution)."""
        ok = ent >= 0
        np.add.at(self.taken_all, ent[ok], qty[ok])
        store = ok & (self.prep.entry_kind[np.maximum(ent, 0)] == _STORE)
        np.add.at(self.attributable, ent[store], qty[store])

    # -- walk-in shoppers
    def _draw_walkin(self, d: int) -> None:
        """The day's walk-in demand per store × SKU and slice.

        One Poisson draw per store × SKU and day, its units spread uniformly
        over the slices: the same law as a Poisson draw per slice, with far
        fewer draws. Seeded by the day only, so every strategy meets the same shoppers.
        """
        prep, k_slices = self.prep, self.cfg.walkin_slices
        rng = np.random.default_rng([self.cfg.seed, 23, d])
        want = rng.poisson(prep.walk_rate)
        hit = np.flatnonzero(want)
        units = want[hit]
        where = rng.integers(0, k_slices, int(units.sum()))
        owner = np.repeat(np.arange(len(hit)), units)
        self._walk_entry = prep.walk_entry[hit]
        self._walk_qty = np.bincount(owner * k_slices + where, minlength=len(hit) * k_slices).reshape(
            len(hit), k_slices)

    def _walkin(self, d: int, k: int, s: dict) -> None:
        if k == 0:
            self._draw_walkin(d)
        if not len(self._walk_entry):
            return
        q = self._walk_qty[:, k]
        nz = q > 0
        ent, qty = self._walk_entry[nz], q[nz].astype(np.int64)
        sold = self.stock.sell(ent, qty)
        lost = qty - sold
        # a stock-out is caused by online orders when the units they took today would have covered it
        online = np.minimum(lost, self.attributable[ent])
        self.attributable[ent] -= online
        s["walkin_demand"] += int(qty.sum())
        s["walkin_sold"] += int(sold.sum())
        s["walkin_lost"] += int(lost.sum())
        s["walkin_lost_online"] += int(online.sum())

    # -- picking: store rejections and vendor failures
    def _disrupt(self, day: _Day) -> None:
        prep, cfg = self.prep, self.cfg
        kind = prep.network.kind
        for p, dec in list(day.watched.items()):
            if not dec.allocations:
                continue
            stores = [sh for sh in dec.shipments
                      if kind[self._node_index[sh.node_id]] == _STORE and sh.method in ("ship", "same_day")]
            if stores and prep.u_pick[p] < cfg.pick_reject_rate:
                # one SKU of one of its store parcels cannot be found on the shelf
                sh = stores[int(prep.u_choice[p] * len(stores)) % len(stores)]
                here = [a for a in dec.allocations if a.node_id == sh.node_id]
                skus = sorted({a.sku for a in here})
                sku = skus[int(prep.u_choice[p] * 7919) % len(skus)]
                lines = [a.line_id for a in here if a.sku == sku]
                units = sum(a.qty for a in here if a.sku == sku)
                dec = self._reroute(day, p, dec, sh.node_id, lines, {sku: units}, "pick_rejections")
            if not cfg.vendor_failures:
                continue
            for sh in [x for x in dec.shipments if kind[self._node_index[x.node_id]] == _VENDOR]:
                n = self._node_index[sh.node_id]
                here = [a for a in dec.allocations if a.node_id == sh.node_id]
                rel = min((prep.reliability.get((n, self._sku_index[a.sku]), 1.0) for a in here), default=1.0)
                if prep.u_vendor[p] < 1.0 - rel:
                    miss: dict[str, int] = {}
                    for a in here:
                        miss[a.sku] = miss.get(a.sku, 0) + a.qty
                    dec = self._reroute(day, p, dec, sh.node_id, None, miss, "vendor_failures")
        if cfg.vendor_failures and prep.reliability:
            for rows in list(day.rows):
                self._vendor_failures(day, rows)

    def _vendor_failures(self, day: _Day, rows: _Rows) -> None:
        """Vendor shipments of orders routed in bulk that fail (probability ``1 - reliability``)."""
        prep = self.prep
        vend = np.flatnonzero(prep.network.kind[rows.a_node] == _VENDOR)
        if not len(vend):
            return
        rel = np.array([prep.reliability.get((int(n), int(k)), 1.0)
                        for n, k in zip(rows.a_node[vend], rows.a_sku[vend], strict=True)])
        key = rows.a_pos[vend] * prep.network.n_nodes + rows.a_node[vend]
        parcels, inverse = np.unique(key, return_inverse=True)
        worst = np.ones(len(parcels))
        np.minimum.at(worst, inverse, rel)
        p_of = parcels // prep.network.n_nodes
        for j in np.flatnonzero(prep.u_vendor[p_of] < 1.0 - worst):
            p, n = int(p_of[j]), int(parcels[j] % prep.network.n_nodes)
            if p in day.watched:
                continue
            miss: dict[str, int] = {}
            for r in vend[inverse == j]:
                sku = prep.network.skus[rows.a_sku[r]].sku
                miss[sku] = miss.get(sku, 0) + int(rows.a_qty[r])
            self._resource(day, p, n, miss)

    def _resource(self, day: _Day, p: int, n: int, miss: dict[str, int]) -> None:
        """A vendor failed an order routed in bulk: re-route its lines, or the whole order.

        :meth:`Router.reroute` re-sources only the failed lines; a router that
        cannot re-route bulk-routed orders gets the order released, the
        missing units written off at the vendor and the order routed again.
        """
        prep, router, s = self.prep, self.router, day.sums
        node_id = prep.network.nodes[n].node_id
        oid = str(prep.orders.order_id[p])
        try:
            new = self._reroute_call(oid, node_id, None, miss, n, s)
        except ValidationError:
            router.release(oid)
            self._write_off(n, node_id, miss, s)
            order = orders_from_batch(prep.network, take_orders(prep.orders, np.array([p])))[0]
            new = router.route(order, strategy=self.spec.route)
            s["resourced_orders"] += 1
        s["vendor_failures"] += 1
        s["rerouted_units"] += int(sum(miss.values()))
        day.watched[p] = new
        day.replaced.add(p)
        day.rerouted.add(p)

    def _reroute(self, day: _Day, p: int, dec: Decision, node_id: str, lines, miss: dict[str, int],
                 counter: str) -> Decision:
        s = day.sums
        try:
            new = self._reroute_call(dec.order_id, node_id, lines, miss, self._node_index[node_id], s)
        except (ValidationError, KeyError):
            s["reroute_errors"] += 1
            return dec
        s[counter] += 1
        s["rerouted_units"] += int(sum(miss.values()))
        day.watched[p] = new
        day.rerouted.add(p)
        return new

    def _reroute_call(self, order_id: str, node_id: str, lines, miss: dict[str, int], n: int, s: dict) -> Decision:
        """:meth:`Router.reroute` without touching stock, then the missing units written off at the node.

        A zero shortfall per SKU makes reroute only release and re-source;
        the write-off goes through ``adjust_stock`` so that the ledger knows
        exactly what left (reroute applies a shortfall once per allocation
        piece, twice when a SKU sits in two pieces at the node).
        """
        new = self.router.reroute(order_id, node_id, lines=lines, shortfall=dict.fromkeys(miss, 0))
        self._write_off(n, node_id, miss, s)
        return new

    def _write_off(self, n: int, node_id: str, units: dict[str, int], s: dict) -> None:
        """Units a failed pick showed were not there leave the node's stock and the ledger."""
        for sku, q in units.items():
            e = int(self.prep.entry_of(np.array([n]), np.array([self._sku_index[sku]]))[0])
            if e < 0 or not q:
                continue
            gone = -self.router.adjust_stock(node_id, sku, -int(q))
            self.stock.ledger[e] -= gone
            s["written_off_units"] += gone

    # -- shipping and the day's figures
    def _ship(self, d: int, lo: int, hi: int, day: _Day) -> None:
        prep, router = self.prep, self.router
        s = day.sums
        net = prep.network
        if day.replaced:
            # orders routed again after a vendor failure: their bulk rows give way to the new decision
            gone = np.fromiter(day.replaced, np.int64, count=len(day.replaced))
            day.rows = [r.without(gone) for r in day.rows]
        commit_many = getattr(router, "commit_many", None)
        # Bulk-routed orders ship through commit_many when the router has it. Otherwise they keep their
        # reservation: every ATP stays exactly as a commit would leave it (on-hand and reserved both
        # drop by the same units), and no Decision is built per order; the ledger counts them as
        # shipped either way.
        if commit_many is not None and day.rows:
            commit_many([str(x) for r in day.rows for x in r.ids.tolist()])
        for dec in day.watched.values():
            router.commit(dec.order_id)
        if day.watched:
            wpos = np.fromiter(day.watched.keys(), np.int64, count=len(day.watched))
            day.rows.append(self._decision_rows(wpos, list(day.watched.values())))
        s["orders"] = hi - lo
        s["units_ordered"] = int(prep.order_units[lo:hi].sum())
        if not day.rows:
            self._capacity_sums(s, np.zeros(net.n_nodes, np.int64))
            return

        def cat(field: str) -> np.ndarray:
            return np.concatenate([getattr(r, field) for r in day.rows])

        pos = cat("pos")
        if len(pos) != hi - lo or len(np.unique(pos)) != hi - lo:
            raise AssertionError(f"{self.spec.name}, day {d}: {len(pos)} order rows for {hi - lo} orders")
        a_pos, node, qty, ent = cat("a_pos"), cat("a_node"), cat("a_qty"), cat("a_ent")
        shipped = cat("units") > 0
        s["orders_shipped"] = int(shipped.sum())
        st = cat("status")
        s["orders_routed"] = int((st == 0).sum())
        s["orders_partial"] = int((st == 1).sum())
        s["orders_unroutable"] = int((st == 2).sum())
        s["units_unfilled"] = int(cat("unfilled").sum())
        money = np.concatenate([r.money for r in day.rows], axis=1)
        for i, c in enumerate(MONEY_COLUMNS):
            s[c] = float(money[i].sum())
        ships = cat("shipments")
        s["shipments"] = int(ships.sum())
        s["split_orders"] = int((ships > 1).sum())
        late = np.isin(pos, np.fromiter(day.rerouted, np.int64, count=len(day.rerouted)))
        promised = cat("promised") + late * self.cfg.reroute_delay_days
        s["promised_days_sum"] = float(promised[shipped].sum())
        s["orders_on_time"] = int((promised[shipped] <= self.sla[pos[shipped]] + 1e-9).sum())
        s["units_routed"] = int(qty.sum())
        by_kind = np.bincount(net.kind[node], weights=qty, minlength=3).astype(np.int64)
        for k, name in enumerate(KINDS):
            s[f"units_{name}"] = int(by_kind[k])
        np.add.at(self.node_units, node, qty)
        parcels = np.bincount(np.unique(a_pos * net.n_nodes + node) % net.n_nodes, minlength=net.n_nodes)
        self.node_parcels += parcels
        self._capacity_sums(s, parcels)
        # the ledger: shipped units leave their entries; no entry may go below zero
        ok = ent >= 0
        np.subtract.at(self.stock.ledger, ent[ok], qty[ok])
        s["oversell"] = int((self.stock.ledger < 0).sum())
        if s["oversell"]:
            raise OversellError(f"{self.spec.name}, day {d}: {s['oversell']} inventory entries shipped more "
                                f"units than they held (worst {int(self.stock.ledger.min())})")

    def _capacity_sums(self, s: dict, parcels: np.ndarray) -> None:
        net = self.prep.network
        for k, name in enumerate(KINDS):
            m = self.limited & (net.kind == k)
            s[f"parcels_{name}"] = int(parcels[m].sum())
            s[f"capacity_{name}"] = int(net.capacity_orders[m].sum())

    def _verify(self, final: bool) -> None:
        """The router's free stock (on hand less reservations) must equal the ledger's."""
        snap = self.router.snapshot()
        bad = int((snap.on_hand - snap.reserved != self.stock.ledger).sum())
        if bad:
            raise OversellError(f"{self.spec.name}: the router's stock differs from the ledger at {bad} "
                                f"entries{' at the end' if final else ''}")


def _ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start[i], start[i] + count[i])``."""
    count = np.asarray(count, np.int64)
    total = int(count.sum())
    return np.repeat(np.asarray(start, np.int64) - np.cumsum(count) + count, count) + np.arange(total)


# ----------------------------------------------------------------------------- KPIs
#: KPI columns of :func:`kpi_frame`, after ``strategy``, ``day`` and ``date``.
KPI_COLUMNS: tuple[str, ...] = (
    "cost_per_order", "shipping_per_order", "handling_per_order", "vendor_fees_per_order",
    "split_penalty_per_order", "penalties_per_order", "shipments_per_order", "split_rate",
    "fill_rate", "cancel_rate", "backorder_rate",
    "share_warehouse", "share_store", "share_vendor",
    "avg_distance_km", "promised_days", "on_time_rate",
    "walkin_stockout_rate", "walkin_lost_online_rate",
    "util_warehouse", "util_store", "util_vendor",
)


def _ratio(a, b) -> np.ndarray:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b > 0)
    return out


def kpi_frame(daily: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """KPIs per strategy × day plus a ``total`` row per strategy.

    Parameters
    ----------
    daily : dict of str to DataFrame
        :attr:`StrategyResult.daily` per strategy.

    Returns
    -------
    DataFrame
        ``strategy, day, date`` (``day`` empty and ``date == "total"`` on
        total rows), the ratios of :data:`KPI_COLUMNS` (recomputed from the
        summed counts on total rows, never averaged) and the raw sums of
        :data:`SUM_COLUMNS`. Per order means count orders that shipped at
        least one unit; ``cancel_rate`` is the share of orders nothing could
        be sourced for, ``backorder_rate`` the share partly sourced;
        utilization is parcels over the daily order capacity of
        capacity-limited nodes of that kind.
    """
    parts = []
    for name, df in daily.items():
        df = df.copy()
        total = df[list(SUM_COLUMNS)].sum(numeric_only=True).to_frame().T
        total["oversell"] = df["oversell"].max() if len(df) else 0
        total["day"] = pd.NA
        total["date"] = "total"
        both = pd.concat([df, total], ignore_index=True)
        both.insert(0, "strategy", name)
        parts.append(both)
    k = pd.concat(parts, ignore_index=True)
    k["day"] = k["day"].astype("Int64")
    shipped = k["orders_shipped"]
    k["cost_per_order"] = _ratio(k["cost"], shipped)
    for c in ("shipping", "handling", "vendor_fees", "split_penalty", "penalties"):
        k[f"{c}_per_order"] = _ratio(k[c], shipped)
    k["shipments_per_order"] = _ratio(k["shipments"], shipped)
    k["split_rate"] = _ratio(k["split_orders"], shipped)
    k["fill_rate"] = _ratio(k["units_routed"], k["units_ordered"])
    k["cancel_rate"] = _ratio(k["orders_unroutable"], k["orders"])
    k["backorder_rate"] = _ratio(k["orders_partial"], k["orders"])
    for kind in KINDS:
        k[f"share_{kind}"] = _ratio(k[f"units_{kind}"], k["units_routed"])
        k[f"util_{kind}"] = _ratio(k[f"parcels_{kind}"], k[f"capacity_{kind}"])
    k["avg_distance_km"] = _ratio(k["distance_km"], k["shipments"])
    k["promised_days"] = _ratio(k["promised_days_sum"], shipped)
    k["on_time_rate"] = _ratio(k["orders_on_time"], shipped)
    k["walkin_stockout_rate"] = _ratio(k["walkin_lost"], k["walkin_demand"])
    k["walkin_lost_online_rate"] = _ratio(k["walkin_lost_online"], k["walkin_demand"])
    ints = [c for c in SUM_COLUMNS if c not in ("cost", "shipping", "handling", "vendor_fees", "split_penalty",
                                                 "penalties", "distance_km", "promised_days_sum")]
    k[ints] = k[ints].astype(np.int64)
    return k[["strategy", "day", "date", *KPI_COLUMNS, *SUM_COLUMNS]]


# ----------------------------------------------------------------------------- entry point
def simulate(scenario: Scenario, config: SimConfig | None = None, *, policy: Policy | None = None,
             progress: Callable[[int], None] | None = None,
             prepared: Prepared | None = None) -> SimulationResult:
    """Replay ``scenario`` once per strategy, each from the same initial state.

    Parameters
    ----------
    scenario : Scenario
        From :func:`sourcewise.engine.scenario.load_scenario`.
    config : SimConfig, optional
        Strategies, seed and disruption rates (defaults: :class:`SimConfig`).
    policy : Policy, optional
        Replaces the scenario's policy (its ``strategy`` is ignored: each
        replay uses its own).
    progress : callable, optional
        Called with the number of orders replayed since the last call
        (summed over strategies: ``n_orders * len(strategies)`` in all).
    prepared : Prepared, optional
        Reuse the preparation of an earlier call with the same scenario and config.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValidationError
        For a bad configuration or bad optional tables, before anything runs.
    OversellError
        If any inventory entry ships more units than it held (a bug; the
        invariant is checked every day).
    """
    config = config or SimConfig()
    prep = prepared or Prepared(scenario, config)
    results: dict[str, StrategyResult] = {}
    for name in config.strategies:
        results[name] = Replay(prep, name, policy, progress).run()
    kpis = kpi_frame({k: r.daily for k, r in results.items()})
    nodes = pd.concat([r.nodes.assign(strategy=k) for k, r in results.items()], ignore_index=True)
    nodes = nodes[["strategy", *[c for c in nodes.columns if c != "strategy"]]]
    path = str(scenario.path) if scenario.path is not None else ""
    return SimulationResult(kpis, nodes, results, config, path)


def check_invariants(kpis: pd.DataFrame) -> list[str]:
    """Invariants every KPI table must satisfy; returns the violations (empty when all hold).

    * no oversell;
    * units routed + units unfilled == units ordered;
    * shipping + handling + vendor fees + split penalty + penalties == cost.
    """
    bad = []
    for _, r in kpis.iterrows():
        where = f"{r['strategy']} {r['date']}"
        if r["oversell"] != 0:
            bad.append(f"{where}: oversell {r['oversell']}")
        if r["units_routed"] + r["units_unfilled"] != r["units_ordered"]:
            bad.append(f"{where}: routed {r['units_routed']} + unfilled {r['units_unfilled']} "
                       f"!= ordered {r['units_ordered']}")
        parts = r["shipping"] + r["handling"] + r["vendor_fees"] + r["split_penalty"] + r["penalties"]
        if not math.isclose(parts, r["cost"], rel_tol=1e-9, abs_tol=1e-6):
            bad.append(f"{where}: cost components {parts:.6f} != total {r['cost']:.6f}")
    return bad


__all__ = [
    "DEFAULT_STRATEGIES", "KPI_COLUMNS", "SUM_COLUMNS", "OversellError", "Prepared", "Replay", "SimConfig",
    "SimulationResult", "StrategyResult", "StrategySpec", "check_invariants", "kpi_frame", "parse_strategy",
    "simulate", "take_orders",
]
