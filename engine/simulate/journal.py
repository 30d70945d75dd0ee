"""Replaying a journal: a production router's recorded events, in ledger order, under each strategy.

A journal folder (``sourcewise journal export``, :mod:`sourcewise.engine.journal`)
holds the router's set-up, every order in the order it arrived and every
other change the ledger recorded. Its replay generates nothing (no walk-in
sales, pick rejections, vendor failures or replenishment): each strategy
starts a fresh router from the recorded set-up and applies the events one
by one, in ``seq`` order. Business days are the recorded ones (the ``day``
events); an order counts on the day it arrived.

Every strategy meets the same events; what an event means for a plan other
than the recorded one follows fixed rules:

* ``route`` and ``batch``: the order (or the batch, through ``route_many``)
  is routed with the replayed strategy; ``as_recorded`` routes it with the
  strategy its call used and, should the router decide otherwise, imposes
  the recorded plan (:meth:`Router.swap_plans`).
* ``release``, ``commit``, ``commit_many``: applied to the order whatever
  its plan; a commit ships what the plan holds (nothing for an order the
  strategy could not route; its units stay open backorders).
* ``reroute``: the node rejected some SKUs of the order. For the SKUs the
  replayed plan ships from that node, the order is re-routed
  (:meth:`Router.reroute`) with the recorded stock correction as its
  shortfall, capped at the units other open orders leave there. For the
  others the correction is a stock adjustment (below).
* ``adjust``: the recorded change of on-hand stock; a decrease takes at most
  the units not reserved for this replay's open orders (as
  :meth:`Router.adjust_stock` does), so stock never goes negative; the units
  it could not take are counted (``adjust_short_units``).
* ``day``, ``capacity``, ``prices``: applied as recorded (prices matter to
  the ``dual`` strategy only; the replay refreshes none).
* ``swap`` (the optimizer re-planned open orders): applied where every order
  it re-planned holds the plan the history recorded for it just before;
  skipped otherwise.

Every decision the history recorded is checked: ``decisions`` counts them
and ``decisions_as_recorded`` those the replay made exactly so (the same
allocations, shipments, costs, promise and status; the strategy's name
aside). A replay under the recorded policy's strategy makes them all, and
so does ``as_recorded``.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import date

import msgspec
import numpy as np
import pandas as pd

from sourcewise.engine.batch import BatchResult
from sourcewise.engine.batch import decision_from_rows
from sourcewise.engine.durable import bare
from sourcewise.engine.journal import EVENT_KINDS
from sourcewise.engine.journal import OPTIONAL_ORDER_COLUMNS
from sourcewise.engine.journal import decision_from_json
from sourcewise.engine.journal import is_journal
from sourcewise.engine.router import ReservationError
from sourcewise.engine.scenario import Scenario
from sourcewise.engine.scenario import build_router
from sourcewise.engine.simulate.config import AS_RECORDED
from sourcewise.engine.simulate.config import DEFAULT_STRATEGIES
from sourcewise.engine.simulate.config import SimConfig
from sourcewise.engine.simulate.kpis import SUM_COLUMNS
from sourcewise.engine.simulate.ledger import OversellError
from sourcewise.engine.simulate.prepare import Prepared
from sourcewise.engine.simulate.prepare import order_objects
from sourcewise.engine.simulate.prepare import take_orders
from sourcewise.engine.simulate.records import Recorder
from sourcewise.engine.simulate.replay import Replay
from sourcewise.engine.simulate.replay import StrategyResult
from sourcewise.engine.simulate.routed import RoutedRows
from sourcewise.engine.simulate.routed import rows_from_decisions
from sourcewise.engine.simulate.routed import rows_from_result
from sourcewise.models.decision import Decision
from sourcewise.models.errors import Collector
from sourcewise.models.errors import ValidationError
from sourcewise.models.network import UNLIMITED
from sourcewise.models.policy import STRATEGIES
from sourcewise.models.policy import Policy

#: The recorded tables' columns, as the router's batch tables have them.
ORDER_FIELDS: tuple[str, ...] = ("order_id", "status", "shipments", "units", "unfilled", "cost", "shipping",
                                 "handling", "vendor_fees", "split_penalty", "penalties", "distance_km",
                                 "promised_days", "flags")
ALLOCATION_FIELDS: tuple[str, ...] = ("order_id", "line_id", "sku", "node_id", "qty", "tier")

#: Columns of :attr:`StrategyResult.checks` (``as_recorded.csv`` adds ``strategy`` in front).
CHECK_COLUMNS: tuple[str, ...] = ("seq", "day", "date", "kind", "order_id", "as_recorded")


def default_strategies(policy: Policy) -> tuple[str, ...]:
    """What a journal is replayed under by default: ``as_recorded``, the recorded policy's strategy,
    then the other strategies ``simulate`` compares by default (batch windows aside)."""
    out = [AS_RECORDED, policy.strategy]
    out += [s for s in DEFAULT_STRATEGIES if s in STRATEGIES and s not in out]
    return tuple(out)


def prepare(scenario: Scenario, config: SimConfig) -> Prepared:
    """What every strategy's replay of ``scenario`` shares: :class:`JournalPrepared` for a journal
    folder, :class:`~sourcewise.engine.simulate.prepare.Prepared` for any other scenario."""
    return JournalPrepared(scenario, config) if is_journal(scenario) else Prepared(scenario, config)


def same_decision(decision: Decision, recorded: Decision) -> bool:
    """Whether ``decision`` is ``recorded`` in everything but the strategy's name and the explanation."""
    d = bare(decision)
    if d.strategy != recorded.strategy:
        d = msgspec.structs.replace(d, strategy=recorded.strategy)
    return d == recorded


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise equality, NaN equal to NaN."""
    eq = a == b
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        eq |= np.isnan(a) & np.isnan(b)
    return np.asarray(eq, bool)


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    """A batch-table column as numbers, or as Python strings (``""`` for missing)."""
    s = df[name]
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(np.float64 if pd.api.types.is_float_dtype(s.dtype) else np.int64)
    return s.astype(object).where(s.notna(), "").astype(str).to_numpy(dtype=object)


def same_rows(res: BatchResult, rec: BatchResult, ids: np.ndarray) -> np.ndarray:
    """Per order of a batch (ids in batch order): whether ``res`` decided it exactly as ``rec`` records,
    every column of its ``orders`` row and every ``allocations`` row alike."""
    n = len(ids)
    where = pd.Index(np.asarray(ids, dtype=object))
    ok = np.ones(n, bool)
    o_res, o_rec = res.orders, rec.orders
    p_res = where.get_indexer(_column(o_res, "order_id"))
    p_rec = where.get_indexer(_column(o_rec, "order_id"))
    one = (np.bincount(p_res[p_res >= 0], minlength=n) == 1) & (np.bincount(p_rec[p_rec >= 0], minlength=n) == 1)
    ok &= one
    if one.any():
        i_res = np.full(n, -1, np.int64)
        i_rec = np.full(n, -1, np.int64)
        i_res[p_res[p_res >= 0]] = np.flatnonzero(p_res >= 0)
        i_rec[p_rec[p_rec >= 0]] = np.flatnonzero(p_rec >= 0)
        both = np.flatnonzero(one)
        for f in ORDER_FIELDS[1:]:
            ok[both] &= _equal(_column(o_res, f)[i_res[both]], _column(o_rec, f)[i_rec[both]])
    a_res, a_rec = res.allocations, rec.allocations
    q_res = where.get_indexer(_column(a_res, "order_id"))
    q_rec = where.get_indexer(_column(a_rec, "order_id"))
    if (q_res < 0).any() or (q_rec < 0).any():
        ok[:] = False  # rows of orders the batch does not have: nothing can be trusted
        return ok
    ok &= np.bincount(q_res, minlength=n) == np.bincount(q_rec, minlength=n)
    # the rows of orders with as many rows on both sides, in order, compared field by field
    s_res = np.argsort(q_res, kind="stable")
    s_rec = np.argsort(q_rec, kind="stable")
    keep_res = ok[q_res[s_res]]
    keep_rec = ok[q_rec[s_rec]]
    r_res, r_rec = s_res[keep_res], s_rec[keep_rec]
    owner = q_res[r_res]
    for f in ALLOCATION_FIELDS[1:]:
        bad = ~_equal(_column(a_res, f)[r_res], _column(a_rec, f)[r_rec])
        ok[owner[bad]] = False
    return ok


class RecordedDecisions:
    """The decisions a journal recorded (``recorded_orders``, ``recorded_allocations``), by ``(seq, order_id)``.

    Parameters
    ----------
    orders, allocations : DataFrame
        The two tables, as :func:`sourcewise.engine.journal.journal_tables` settles them.
    """

    def __init__(self, orders: pd.DataFrame, allocations: pd.DataFrame):
        self.orders = orders.reset_index(drop=True)
        self.allocations = allocations.reset_index(drop=True)
        o_seq = self.orders["seq"].to_numpy(np.int64)
        o_id = self.orders["order_id"].astype(str).tolist()
        self._row = {(s, oid): i for i, (s, oid) in enumerate(zip(o_seq.tolist(), o_id, strict=True))}
        self._seq_rows = self._runs(o_seq)
        a_seq = self.allocations["seq"].to_numpy(np.int64)
        self._seq_allocs = self._runs(a_seq)
        a_id = self.allocations["order_id"].astype(str).tolist()
        keys = list(zip(a_seq.tolist(), a_id, strict=True))
        self._allocs: dict[tuple[int, str], tuple[int, int]] = {}
        lo = 0
        for i in range(1, len(keys) + 1):
            if i == len(keys) or keys[i] != keys[lo]:
                self._allocs[keys[lo]] = (lo, i)
                lo = i

    @staticmethod
    def _runs(seq: np.ndarray) -> dict[int, tuple[int, int]]:
        """``(lo, hi)`` of each ``seq``'s rows (the tables are in ``seq`` order)."""
        if not len(seq):
            return {}
        heads = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
        ends = np.r_[heads[1:], len(seq)]
        return {int(seq[h]): (int(h), int(e)) for h, e in zip(heads, ends, strict=True)}

    def has(self, seq: int, order_id: str) -> bool:
        """Whether the history recorded a decision for ``order_id`` at ``seq``."""
        return (seq, order_id) in self._row

    def decision(self, seq: int, order_id: str, strategy: str) -> Decision | None:
        """The decision recorded at ``seq`` for ``order_id`` (None when none was): the JSON of a decision
        made one order at a time, else the rows of a batch order (``strategy``: the batch's)."""
        i = self._row.get((seq, order_id))
        if i is None:
            return None
        text = self.orders.at[i, "decision"]
        if text:
            return decision_from_json(text)
        lo, hi = self._allocs.get((seq, order_id), (0, 0))
        return decision_from_rows(self.orders.iloc[i].to_dict(), self.allocations.iloc[lo:hi], strategy)

    def batch(self, seq: int) -> BatchResult:
        """The tables of the batch routed at ``seq``, as ``route_many`` returned them."""
        lo, hi = self._seq_rows.get(seq, (0, 0))
        alo, ahi = self._seq_allocs.get(seq, (0, 0))
        return BatchResult(self.allocations.iloc[alo:ahi][list(ALLOCATION_FIELDS)].reset_index(drop=True),
                           self.orders.iloc[lo:hi][list(ORDER_FIELDS)].reset_index(drop=True))


class JournalPrepared(Prepared):
    """What every strategy's replay of a journal shares: the orders in arrival order, the events and the
    recorded decisions, all checked before any strategy runs.

    Parameters
    ----------
    scenario : Scenario
        A journal folder, as :func:`sourcewise.engine.scenario.load_scenario` reads it.
    config : SimConfig
        ``days`` limits the replay to the first business days; the settings of
        generated events (seed, walk-ins, pick rejections, vendor failures) do
        not apply.

    Raises
    ------
    ValidationError
        Listing every event that cannot be replayed: an unknown kind, node or
        SKU, a stock entry the inventory lacks, an order routed while open or
        changed while not open, orders without their event.
    """

    def __init__(self, scenario: Scenario, config: SimConfig):
        self.config = config
        self.scenario = scenario
        net = scenario.network
        self.network = net
        self.node_pos = pd.Index([n.node_id for n in net.nodes])
        self.sku_pos = pd.Index([s.sku for s in net.skus])
        inv = scenario.inventory
        self.inventory = inv
        self.entry_node = inv.node
        self._sku_ptr = np.ascontiguousarray(inv.sku_ptr, np.int64)
        self._ent_node = np.ascontiguousarray(inv.node, np.int64)
        self.entry_sku = np.repeat(np.arange(net.n_skus, dtype=np.int64), np.diff(inv.sku_ptr))
        self.entry_kind = net.kind[inv.node].astype(np.int64)
        self.added_entries = 0
        self.reliability: dict[tuple[int, int], float] = {}
        col = Collector()
        self._events(scenario.tables["events"], col)
        self._recorded(scenario.tables, col)
        col.raise_if_any()
        self._timeline(scenario, col)
        col.raise_if_any()
        self.recorded = RecordedDecisions(scenario.tables["recorded_orders"],
                                          scenario.tables["recorded_allocations"])
        self.watch = np.zeros(self.orders.n_orders, bool)

    def _recorded(self, tables: dict[str, pd.DataFrame], col: Collector) -> None:
        """The recorded decisions: both tables, their columns, known nodes and SKUs, readable JSON."""
        for name, columns in (("recorded_orders", ("seq", "kind", *ORDER_FIELDS, "decision")),
                              ("recorded_allocations", ("seq", *ALLOCATION_FIELDS))):
            df = tables.get(name)
            if df is None:
                col.add("scenario", name, name, f"a journal needs the table {name}.csv or {name}.parquet")
                continue
            for c in columns:
                if c not in df.columns:
                    col.add(name, None, c, "required column is missing")
        if col.problems:
            return
        a = tables["recorded_allocations"]
        for name, index in (("node_id", self.node_pos), ("sku", self.sku_pos)):
            values = a[name].astype(str).to_numpy(dtype=object)
            for i in np.flatnonzero(index.get_indexer(values) < 0)[:50]:
                col.add("recorded_allocations", int(i), name, f"unknown {name} {values[i]!r}")
        for i, text in enumerate(tables["recorded_orders"]["decision"].tolist()):
            if text:
                try:
                    decision_from_json(text)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    col.add("recorded_orders", i, "decision", f"not a decision: {exc}")
                    if len(col.problems) > 50:
                        return

    # -- the events table
    def _events(self, ev: pd.DataFrame, col: Collector) -> None:
        missing = [c for c in ("seq", "kind", "order_id", "node_id", "sku", "qty", "price", "cap_orders", "cap_units",
                               "day", "strategy", "batch_columns") if c not in ev.columns]
        for c in missing:
            col.add("events", None, c, "required column is missing")
        if missing:
            return
        ev = ev.reset_index(drop=True)
        n = len(ev)
        self.ev_seq = ev["seq"].fillna(-1).to_numpy(np.int64)
        self.ev_kind = ev["kind"].astype(str).tolist()
        self.ev_order = ev["order_id"].astype(str).tolist()
        node_id = ev["node_id"].astype(str).to_numpy(dtype=object)
        sku = ev["sku"].astype(str).to_numpy(dtype=object)
        self.ev_node_id = node_id.tolist()
        self.ev_sku_id = sku.tolist()
        self.ev_node = self.node_pos.get_indexer(node_id)
        self.ev_sku = self.sku_pos.get_indexer(sku)
        self.ev_entry = self.entry_of(np.maximum(self.ev_node, 0), np.maximum(self.ev_sku, 0))
        self.ev_entry[(self.ev_node < 0) | (self.ev_sku < 0)] = -1
        self.ev_qty = ev["qty"].fillna(0).to_numpy(np.int64)
        self.ev_price = pd.to_numeric(ev["price"], errors="coerce").to_numpy(np.float64)
        self.ev_cap = (ev["cap_orders"].fillna(-1).to_numpy(np.int64), ev["cap_units"].fillna(-1).to_numpy(np.int64))
        self.ev_day = ev["day"].astype(str).tolist()
        self.ev_strategy = ev["strategy"].astype(str).tolist()
        self.ev_columns = ev["batch_columns"].astype(str).tolist()
        if n == 0 or self.ev_seq[0] != 0 or self.ev_kind[0] != "day":
            col.add("events", 0, "seq", "a journal's events start with the starting business day (seq 0, kind day)")
            return
        if (np.diff(self.ev_seq) < 0).any() or (self.ev_seq[1:] <= 0).any():
            col.add("events", None, "seq", "must ascend from 0 (ledger order)")
            return
        heads = np.flatnonzero(np.r_[True, self.ev_seq[1:] != self.ev_seq[:-1]])
        self.groups = np.r_[heads, n]
        kind = np.array(self.ev_kind, dtype=object)
        for i in np.flatnonzero(~np.isin(kind, EVENT_KINDS))[:20]:
            col.add("events", int(i), "kind", f"unknown kind {kind[i]!r}; known: {', '.join(EVENT_KINDS)}")
        # rows that name a stock entry or a node (a prices or swap row without one: no price, an empty plan)
        named = node_id != ""
        needs_node = np.isin(kind, ("reroute", "adjust", "capacity")) | (np.isin(kind, ("prices", "swap")) & named)
        needs_sku = needs_node & (kind != "capacity")
        needs_entry = needs_sku & (kind != "reroute")
        for i in np.flatnonzero(needs_node & (self.ev_node < 0))[:20]:
            col.add("events", int(i), "node_id", f"unknown node {node_id[i]!r}")
        for i in np.flatnonzero(needs_sku & (self.ev_sku < 0))[:20]:
            col.add("events", int(i), "sku", f"unknown sku {sku[i]!r}")
        for i in np.flatnonzero(needs_entry & (self.ev_node >= 0) & (self.ev_sku >= 0) & (self.ev_entry < 0))[:20]:
            col.add("events", int(i), "node_id/sku", f"no inventory entry for {node_id[i]!r} and {sku[i]!r}")
        for i in np.flatnonzero((kind == "capacity") & ((self.ev_cap[0] < 0) | (self.ev_cap[1] < 0)))[:20]:
            col.add("events", int(i), "cap_orders", "a capacity row sets cap_orders and cap_units (>= 0)")
        for i in np.flatnonzero(kind == "day"):
            try:
                date.fromisoformat(self.ev_day[i])
            except ValueError:
                col.add("events", int(i), "day", f"must be a date (YYYY-MM-DD), got {self.ev_day[i]!r}")
        head_kind = np.repeat(kind[heads], np.diff(self.groups))
        for i in np.flatnonzero(kind != head_kind)[:20]:
            col.add("events", int(i), "kind", f"the rows of seq {self.ev_seq[i]} differ in kind")

    # -- orders, days and whether every event finds its order
    def _timeline(self, scenario: Scenario, col: Collector) -> None:
        b = scenario.orders
        frame = scenario.tables["orders"]
        order_seq = frame["seq"].to_numpy(np.int64)[b.line_ptr[:-1]] if b.n_orders else np.zeros(0, np.int64)
        if (np.diff(order_seq) < 0).any():
            col.add("orders", None, "seq", "orders must be in ledger order (seq ascending)")
            return
        ids = b.order_id.tolist()
        start = date.fromisoformat(self.ev_day[0])
        dates = [start]
        days = np.zeros(b.n_orders, np.int64)
        self.order_span: dict[int, tuple[int, int]] = {}
        open_ids: set[str] = set()
        seen = 0
        limit = self.config.days
        n_groups = len(self.groups) - 1
        cut = n_groups
        for g in range(1, n_groups):
            lo = int(self.groups[g])
            seq, kind = int(self.ev_seq[lo]), self.ev_kind[lo]
            if kind == "day":
                day = date.fromisoformat(self.ev_day[lo])
                if day <= dates[-1]:
                    col.add("events", lo, "day", f"{day} does not follow {dates[-1]}: days only move forward")
                if limit is not None and len(dates) >= limit:
                    cut = g
                    break
                dates.append(day)
            elif kind in ("route", "batch"):
                a, z = int(np.searchsorted(order_seq, seq)), int(np.searchsorted(order_seq, seq, side="right"))
                self.order_span[g] = (a, z)
                if z == a or (kind == "route" and (z - a != 1 or ids[a] != self.ev_order[lo])):
                    col.add("events", lo, "order_id", f"seq {seq}: the orders table has no order of this {kind} "
                            "event" + ("" if z == a else f" but {z - a} order(s)"))
                days[a:z] = len(dates) - 1
                seen += z - a
                for oid in ids[a:z]:
                    if oid in open_ids:
                        col.add("events", lo, "order_id", f"seq {seq}: order {oid!r} routed while still open")
                    open_ids.add(oid)
            elif kind in ("release", "commit", "commit_many", "reroute", "swap"):
                hi = int(self.groups[g + 1])
                for oid in dict.fromkeys(self.ev_order[lo:hi]):
                    if oid not in open_ids:
                        col.add("events", lo, "order_id", f"seq {seq}: {kind} of order {oid!r}, which is not open")
                    elif kind in ("release", "commit", "commit_many"):
                        open_ids.discard(oid)
            if len(col.problems) > 100:
                return
        n_orders = seen
        if cut == n_groups and seen != b.n_orders:
            col.add("orders", None, "seq", f"{b.n_orders - seen} order(s) belong to no route or batch event")
        self.n_groups = cut
        self.orders = take_orders(b, np.arange(n_orders)) if n_orders != b.n_orders else b
        self.order_seq = order_seq[:n_orders]
        self.day = days[:n_orders]
        placed = self.orders.placed_at
        if placed is not None and n_orders:
            ts = pd.DatetimeIndex(placed)
            self.minute = np.where(ts.isna(), 0, ts.hour * 60 + ts.minute).astype(np.int64)
        else:
            self.minute = np.zeros(n_orders, np.int64)
        self.start = start
        self.dates = dates
        self.n_days = len(dates)
        self._order_figures()


class JournalReplay(Replay):
    """Replays one strategy over a journal's events (see the module's rules).

    Parameters
    ----------
    prep : JournalPrepared
    strategy : str
        ``as_recorded`` or a router strategy.
    policy : Policy, optional
        Overrides the recorded policy (its ``strategy`` is ignored).
    progress : callable, optional
        Called with the number of orders just replayed.
    """

    journal = True
    prep: JournalPrepared

    def _prepare_strategy(self) -> None:
        """No optimizer: a journal has no batch waves, and its dual prices are the recorded ones."""
        self.verbatim = self.spec.name == AS_RECORDED
        self.opt = None

    def _run(self) -> StrategyResult:
        """Every event in ``seq`` order, then each day's figures from the plans its orders ended with."""
        t0 = time.perf_counter()
        prep, cfg = self.prep, self.cfg
        net = prep.network
        self.router = build_router(prep.scenario, self.policy, business_day=prep.dates[0])
        self.stock = prep.inventory.on_hand.astype(np.int64).copy()  # units each entry physically holds
        self.sla = prep.sla_days(self.policy)
        self.node_units = np.zeros(net.n_nodes, np.int64)
        self.node_parcels = np.zeros(net.n_nodes, np.int64)
        self.limited = net.capacity_orders < UNLIMITED
        self.recorder = Recorder(prep, self.spec, self.policy, cfg.records)
        self.sums = [dict.fromkeys(SUM_COLUMNS, 0) for _ in range(prep.n_days)]
        self.d = 0
        n = prep.orders.n_orders
        self.open_pos: dict[str, int] = {}
        self.latest: dict[int, Decision] = {}  # the plan of an order held as a decision
        self.batch_rows: list[RoutedRows] = []  # the plans of batch-routed orders
        self.batch_sorted: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.batch_day: list[int] = []
        self.batch_of = np.full(n, -1, np.int64)
        # whether the order holds the plan the history recorded for it at this point
        self.current = np.zeros(n, bool)
        self.rerouted: set[int] = set()
        self.checks: list[tuple] = []
        self.imposed = 0
        self.swaps_skipped = 0
        self.verify = cfg.verify_router if cfg.verify_router is not None else prep.inventory.nnz < 200_000
        for g in range(1, prep.n_groups):
            self._event(g)
        self._close_day(final=True)
        daily = []
        for d in range(prep.n_days):
            lo, hi = int(prep.day_ptr[d]), int(prep.day_ptr[d + 1])
            s = self.sums[d]
            self._book(d, lo, hi, self._rows(d, lo, hi), self.rerouted, s)
            self.recorder.open_backorders(d, s)
            daily.append({"day": d, "date": prep.dates[d].isoformat(), **s})
        checks = pd.DataFrame(self.checks, columns=list(CHECK_COLUMNS))
        self._notes(checks)
        return self._result(pd.DataFrame(daily), t0, checks=checks)

    # -- the day's end and the figures
    def _close_day(self, final: bool = False) -> None:
        """Stock levels at the end of the current day, and the router's books against the ledger."""
        s = self.sums[self.d]
        self.recorder.stock_levels(self.stock, s)
        s["oversell"] = int((self.stock < 0).sum())
        if s["oversell"]:
            raise OversellError(f"{self.spec.name}, day {self.d}: {s['oversell']} inventory entries below zero")
        if self.verify or final:
            bad = int((self.router.snapshot().on_hand != self.stock).sum())
            if bad:
                raise OversellError(f"{self.spec.name}: the router's stock differs from the ledger at {bad} entries")

    def _rows(self, d: int, lo: int, hi: int) -> list[RoutedRows]:
        """The plans of the orders that arrived on day ``d`` (positions ``lo..hi``), as they last stood."""
        prep = self.prep
        singles = [p for p in range(lo, hi) if p in self.latest]
        gone = np.array(singles, np.int64)
        rows = [r.without(gone) if len(gone) else r
                for r, day in zip(self.batch_rows, self.batch_day, strict=True) if day == d]
        if singles:
            rows.append(rows_from_decisions(prep, gone, [self.latest[p] for p in singles]))
        return rows

    def _notes(self, checks: pd.DataFrame) -> None:
        n, same = len(checks), int(checks["as_recorded"].sum()) if len(checks) else 0
        name = self.spec.name
        if self.verbatim:
            self.notes.append(f"{name}: each order routed with the strategy its call used, the recorded plan "
                              f"imposed where the router decided otherwise ({self.imposed:,} imposed); "
                              f"{same:,} of {n:,} recorded decisions as recorded")
        else:
            own = " (the recorded policy's strategy)" if name == self.prep.scenario.policy.strategy else ""
            self.notes.append(f"{name}: {same:,} of {n:,} recorded decisions as recorded{own}")
        if self.swaps_skipped:
            self.notes.append(f"{name}: {self.swaps_skipped:,} recorded optimizer swap(s) not applied: the plans "
                              "they replaced differ here")
        if self.spec.dual:
            self.notes.append(f"{name}: routed with the recorded dual prices; a journal replay refreshes none")

    # -- one event
    def _event(self, g: int) -> None:
        prep = self.prep
        lo, hi = int(prep.groups[g]), int(prep.groups[g + 1])
        kind = prep.ev_kind[lo]
        seq = int(prep.ev_seq[lo])
        if kind == "route":
            self._route(g, seq, lo)
        elif kind == "batch":
            self._batch(g, seq, lo)
        elif kind == "release":
            oid = prep.ev_order[lo]
            del self.open_pos[oid]
            self.router.release(oid)
        elif kind in ("commit", "commit_many"):
            ids = prep.ev_order[lo:hi]
            for oid in ids:
                e, q = self._plan(self.open_pos.pop(oid))
                np.subtract.at(self.stock, e, q)
            if kind == "commit":
                self.router.commit(ids[0])
            else:
                self.router.commit_many(ids)
        elif kind == "reroute":
            self._reroute(seq, lo, hi)
        elif kind == "adjust":
            self._adjust(lo, hi)
        elif kind == "day":
            self._close_day()
            self.d += 1
            self.router.set_business_day(date.fromisoformat(prep.ev_day[lo]))
        elif kind == "capacity":
            left = np.array([self.router.capacity_left(n.node_id) for n in prep.network.nodes], np.int64)
            orders, units = left[:, 0].copy(), left[:, 1].copy()
            node = prep.ev_node[lo:hi]
            orders[node] = prep.ev_cap[0][lo:hi]
            units[node] = prep.ev_cap[1][lo:hi]
            self.router.set_capacity_left(orders, units)
        elif kind == "prices":
            p = np.zeros(prep.inventory.nnz, np.float64)
            e = prep.ev_entry[lo:hi]
            hit = e >= 0
            p[e[hit]] = prep.ev_price[lo:hi][hit]
            self.router.set_dual_prices(p)
        elif kind == "swap":
            self._swap(seq, lo, hi)

    def _strategy(self, lo: int) -> str:
        """The router strategy an order of event row ``lo`` is routed with."""
        if not self.verbatim:
            return self.spec.route
        recorded = self.prep.ev_strategy[lo]
        return recorded if recorded in STRATEGIES else self.policy.strategy

    def _check(self, seq: int, kind: str, order_id: str, same: bool) -> None:
        """One recorded decision checked: counted on the current day."""
        s = self.sums[self.d]
        s["decisions"] += 1
        s["decisions_as_recorded"] += int(same)
        self.checks.append((seq, self.d, self.prep.dates[self.d].isoformat(), kind, order_id, bool(same)))

    def _route(self, g: int, seq: int, lo: int) -> None:
        prep = self.prep
        p = prep.order_span[g][0]
        order = order_objects(prep.network, take_orders(prep.orders, np.array([p])))[0]
        oid = order.order_id
        rec = prep.recorded.decision(seq, oid, prep.ev_strategy[lo])
        d = bare(self.router.route(order, strategy=self._strategy(lo)))
        same = rec is not None and same_decision(d, rec)
        if not same and self.verbatim and rec is not None:
            d, same = self._impose(oid, rec, d)
        self.latest[p] = d
        self.open_pos[oid] = p
        self.current[p] = same
        self._check(seq, "route", oid, same)
        self.progress(1)

    def _batch(self, g: int, seq: int, lo: int) -> None:
        prep = self.prep
        a, z = prep.order_span[g]
        pos = np.arange(a, z)
        batch = take_orders(prep.orders, pos)
        # the batch as it was given: an optional column it lacked stays absent (route_many reads them)
        present = set(filter(None, prep.ev_columns[lo].split(";")))
        batch = dataclasses.replace(batch, **{c: None for c in OPTIONAL_ORDER_COLUMNS if c not in present})
        ids = batch.order_id
        res = self.router.route_many(batch, strategy=self._strategy(lo))
        rec = prep.recorded.batch(seq)
        same = same_rows(res, rec, ids)
        if self.verbatim and not same.all():
            for i in np.flatnonzero(~same).tolist():
                oid = str(ids[i])
                _, ok = self._impose(oid, prep.recorded.decision(seq, oid, prep.ev_strategy[lo]), None)
                if ok:
                    same[i] = True
                else:
                    self.latest[int(pos[i])] = bare(self.router.decision(oid))
            res = rec
        rows = rows_from_result(prep, pos, ids, res)
        order = np.argsort(rows.a_pos, kind="stable")
        self.batch_sorted.append((rows.a_pos[order], rows.a_ent[order], rows.a_qty[order]))
        self.batch_of[pos] = len(self.batch_rows)
        self.batch_rows.append(rows)
        self.batch_day.append(self.d)
        self.current[pos] = same
        for oid, p, ok in zip(ids.tolist(), pos.tolist(), same.tolist(), strict=True):
            self.open_pos[str(oid)] = p
            self._check(seq, "batch", str(oid), ok)
        self.progress(len(pos))

    def _plan(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """The stock entries and units order ``p``'s plan takes (entries the inventory lacks left out)."""
        d = self.latest.get(p)
        if d is not None:
            node = np.array([self._node_index[a.node_id] for a in d.allocations], np.int64)
            sku = np.array([self._sku_index[a.sku] for a in d.allocations], np.int64)
            e = self.prep.entry_of(node, sku)
            q = np.array([a.qty for a in d.allocations], np.int64)
        else:
            a_pos, e, q = self.batch_sorted[self.batch_of[p]]
            lo, hi = np.searchsorted(a_pos, p), np.searchsorted(a_pos, p, side="right")
            e, q = e[lo:hi], q[lo:hi]
        ok = e >= 0
        return e[ok], q[ok]

    def _impose(self, order_id: str, recorded: Decision, fallback: Decision | None) -> tuple[Decision | None, bool]:
        """Make the open order hold its recorded plan (:meth:`Router.swap_plans`); ``(recorded, True)``,
        or ``(fallback, False)`` when the router refuses it."""
        node = np.array([self._node_index[a.node_id] for a in recorded.allocations], np.int64)
        sku = np.array([self._sku_index[a.sku] for a in recorded.allocations], np.int64)
        e = self.prep.entry_of(node, sku)
        q = np.array([a.qty for a in recorded.allocations], np.int64)
        ok = e >= 0
        entries, inverse = np.unique(e[ok], return_inverse=True)
        qty = np.bincount(inverse, weights=q[ok], minlength=len(entries)).astype(np.int64)
        holdings, _ = self.router.holdings([order_id])
        why = self.router.swap_plans(holdings, {order_id: (recorded, entries, qty)}, self.router.business_day)
        if why:
            return fallback, False
        self.imposed += 1
        return recorded, True

    def _reroute(self, seq: int, lo: int, hi: int) -> None:
        """A node rejected SKUs of an order: re-route those the plan ships from it, adjust the rest."""
        prep, router = self.prep, self.router
        s = self.sums[self.d]
        oid = prep.ev_order[lo]
        node_id = prep.ev_node_id[lo]
        p = self.open_pos[oid]
        miss = {prep.ev_sku_id[i]: int(prep.ev_qty[i]) for i in range(lo, hi)}
        entry = {prep.ev_sku_id[i]: int(prep.ev_entry[i]) for i in range(lo, hi)}
        now = self.latest.get(p)
        if now is None:  # a batch order: routed order by order, it can be re-routed too
            now = bare(router.decision(oid))
        here: dict[str, int] = {}
        for a in now.allocations:
            if a.node_id == node_id:
                here[a.sku] = here.get(a.sku, 0) + a.qty
        hit = [sku for sku in miss if here.get(sku)]
        rec = prep.recorded.decision(seq, oid, "")
        new, corrected = None, set()
        if hit:
            snap = router.snapshot()
            short = {}
            for sku in hit:
                e = entry[sku]
                # the correction may take the order's own units and free stock, never units others hold
                bound = int(snap.on_hand[e]) - (int(snap.reserved[e]) - here[sku]) if e >= 0 else 0
                short[sku] = min(miss[sku], max(bound, 0))
            b = prep.orders
            lines = [str(b.line_id[i]) for i in range(int(b.line_ptr[p]), int(b.line_ptr[p + 1]))
                     if prep.network.skus[int(b.sku[i])].sku in hit]
            try:
                new = bare(router.reroute(oid, node_id, lines=lines, shortfall=short))
            except (ValidationError, ReservationError):
                s["reroute_errors"] += 1
            if new is not None:
                for sku in hit:
                    if entry[sku] >= 0:
                        self.stock[entry[sku]] -= short[sku]
                    s["written_off_units"] += short[sku]
                    s["adjust_short_units"] += miss[sku] - short[sku]
                corrected = set(hit)
                s["pick_rejections"] += 1
                s["rerouted_units"] += sum(here[sku] for sku in hit)
                self.rerouted.add(p)
        same = False
        if new is not None:
            same = rec is not None and same_decision(new, rec)
            if not same and self.verbatim and rec is not None:
                new, same = self._impose(oid, rec, new)
            self.latest[p] = new
        self.current[p] = same
        # what the plan does not ship from the node: the recorded correction, as a stock adjustment
        for sku, k in miss.items():
            if sku in corrected or k <= 0 or entry[sku] < 0:
                continue
            # the router refuses to go below zero: the correction takes at most what is on hand
            applied = router.adjust_stock(node_id, sku, -min(k, router.on_hand(node_id, sku)))
            self.stock[entry[sku]] += applied
            s["written_off_units"] += -applied
            s["adjust_short_units"] += k + applied
        if rec is not None:
            self._check(seq, "reroute", oid, same)

    def _adjust(self, lo: int, hi: int) -> None:
        """Recorded stock changes; a decrease takes only what this replay's open orders leave free."""
        prep = self.prep
        s = self.sums[self.d]
        e = prep.ev_entry[lo:hi].astype(np.int64)
        delta = prep.ev_qty[lo:hi].astype(np.int64)
        applied = np.asarray(self.router.adjust_stock_many(e, delta), np.int64)
        np.add.at(self.stock, e, applied)
        up = delta > 0
        s["receipts"] += int(up.sum())
        s["receipts_units"] += int(applied[up].sum())
        s["adjust_short_units"] += int((applied - delta)[delta < 0].sum())

    def _swap(self, seq: int, lo: int, hi: int) -> None:
        """The optimizer re-planned open orders: applied where each holds the plan it replaced."""
        prep = self.prep
        ids = list(dict.fromkeys(prep.ev_order[lo:hi]))
        pos = [self.open_pos[oid] for oid in ids]
        plans = {}
        for oid in ids:
            # an order whose new plan holds nothing has one row without a node
            rows = [i for i in range(lo, hi) if prep.ev_order[i] == oid and prep.ev_node[i] >= 0]
            rec = prep.recorded.decision(seq, oid, "")
            plans[oid] = (rec, prep.ev_entry[rows].astype(np.int64), prep.ev_qty[rows].astype(np.int64))
        applied = bool(self.current[pos].all()) and all(v[0] is not None for v in plans.values())
        if applied:
            holdings, _ = self.router.holdings(ids)
            applied = self.router.swap_plans(holdings, plans, self.router.business_day) == ""
        if not applied:
            self.swaps_skipped += 1
        for oid, p in zip(ids, pos, strict=True):
            if applied:
                self.latest[p] = plans[oid][0]
            self.current[p] = applied
            if prep.recorded.has(seq, oid):
                self._check(seq, "swap", oid, applied)


__all__ = ["ALLOCATION_FIELDS", "CHECK_COLUMNS", "ORDER_FIELDS", "JournalPrepared", "JournalReplay",
           "RecordedDecisions", "default_strategies", "prepare", "same_decision", "same_rows"]
