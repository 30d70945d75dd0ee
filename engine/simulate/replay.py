"""The replay loop: one strategy's days in time order, and :func:`simulate` over every strategy.

A replayed day
--------------
1. ``set_business_day``: node capacities reset.
2. Replenishment arrivals scheduled for the day land (``replenishment``
   table: ``node_id, sku, day, qty``).
3. Orders are handed to the router in time order. Strategies that route on
   arrival get them in chunks of :attr:`SimConfig.route_minutes` (each chunk
   routed sequentially with ``route_many``); batch strategies (``batchN``)
   hold them for ``N`` minutes and then optimize the wave jointly
   (:mod:`~sourcewise.engine.simulate.strategies`).
4. Walk-in shoppers buy store stock in :attr:`SimConfig.walkin_slices` slices
   spread over the day, interleaved with the online orders
   (:class:`~sourcewise.engine.simulate.events.WalkIns`).
5. Picking: store pick rejections and vendor failures are re-sourced
   (:class:`~sourcewise.engine.simulate.events.Disruptions`).
6. Everything routed that day ships; the independent ledger
   (:class:`~sourcewise.engine.simulate.ledger.StockLedger`) is checked per
   inventory entry: the oversell count must be 0 and is asserted.

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
import gc
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sourcewise.engine.scenario import Scenario
from sourcewise.engine.scenario import build_router
from sourcewise.engine.simulate.config import KINDS
from sourcewise.engine.simulate.config import MINUTES_PER_DAY
from sourcewise.engine.simulate.config import SimConfig
from sourcewise.engine.simulate.config import check_strategies
from sourcewise.engine.simulate.config import parse_strategy
from sourcewise.engine.simulate.events import Disruptions
from sourcewise.engine.simulate.events import WalkIns
from sourcewise.engine.simulate.kpis import SUM_COLUMNS
from sourcewise.engine.simulate.kpis import kpi_frame
from sourcewise.engine.simulate.ledger import OversellError
from sourcewise.engine.simulate.ledger import StockLedger
from sourcewise.engine.simulate.prepare import Prepared
from sourcewise.engine.simulate.prepare import order_objects
from sourcewise.engine.simulate.prepare import take_orders
from sourcewise.engine.simulate.records import Recorder
from sourcewise.engine.simulate.records import Shipped
from sourcewise.engine.simulate.routed import MONEY_COLUMNS
from sourcewise.engine.simulate.routed import DayBook
from sourcewise.engine.simulate.routed import RoutedRows
from sourcewise.engine.simulate.routed import rows_from_decisions
from sourcewise.engine.simulate.routed import rows_from_result
from sourcewise.engine.simulate.strategies import BatchWaves
from sourcewise.engine.simulate.strategies import DualPrices
from sourcewise.engine.simulate.strategies import optimizer
from sourcewise.models.network import UNLIMITED
from sourcewise.models.policy import Policy


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
    node_days : DataFrame, optional
        Workload per node and day against its daily capacity (see
        :meth:`~sourcewise.engine.simulate.records.Recorder.node_days`).
    orders : DataFrame, optional
        One record per order: what it got, cost, promise, processing days,
        whether it was perfect (kept when :attr:`SimConfig.records`).
    allocations : DataFrame, optional
        One record per allocation: ``day, pos, node, sku, qty, value``
        (node and SKU positions in the network).
    checks : DataFrame, optional
        Journal replays: one row per decision the history recorded, ``seq,
        day, date, kind, order_id, as_recorded`` (whether this replay made
        exactly that decision; see :mod:`~sourcewise.engine.simulate.journal`).
    """

    strategy: str
    daily: pd.DataFrame
    nodes: pd.DataFrame
    seconds: float
    notes: tuple[str, ...] = ()
    node_days: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    allocations: pd.DataFrame | None = None
    checks: pd.DataFrame | None = None


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
    scenario_path : str
    policy : Policy, optional
        The policy replayed (its ``strategy`` aside); reports read its currency.
    node_days : DataFrame, optional
        :attr:`StrategyResult.node_days` of every strategy, with a ``strategy`` column.
    journal : bool
        Whether the scenario was a journal: its recorded events replayed,
        nothing generated (see :mod:`~sourcewise.engine.simulate.journal`).
    """

    kpis: pd.DataFrame
    nodes: pd.DataFrame
    results: dict[str, StrategyResult]
    config: SimConfig
    scenario_path: str = ""
    policy: Policy | None = None
    node_days: pd.DataFrame | None = None
    journal: bool = False

    @property
    def checks(self) -> pd.DataFrame | None:
        """Journal replays: :attr:`StrategyResult.checks` of every strategy, with a ``strategy`` column."""
        frames = {k: r.checks for k, r in self.results.items() if r.checks is not None}
        return _with_strategy(frames) if frames else None

    @property
    def totals(self) -> pd.DataFrame:
        """The ``total`` row of each strategy, indexed by strategy."""
        return self.kpis[self.kpis["date"] == "total"].set_index("strategy")


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

    #: Whether the strategy is checked as a journal's (``as_recorded`` allowed, no batch windows).
    journal = False

    def __init__(self, prep: Prepared, strategy: str, policy: Policy | None = None,
                 progress: Callable[[int], None] | None = None):
        self.prep = prep
        self.cfg = prep.config
        self.spec = parse_strategy(strategy)
        check_strategies([strategy], journal=self.journal)
        self.policy = policy or prep.scenario.policy
        self.progress = progress or (lambda n: None)
        self.notes: list[str] = []
        self._node_index = prep.network.node_index
        self._sku_index = prep.network.sku_index
        self._prepare_strategy()

    def _prepare_strategy(self) -> None:
        """Make the optimizer the strategy's waves and dual prices need, and note how they are produced."""
        prep = self.prep
        self.opt = optimizer() if (self.spec.window or self.spec.dual) else None
        if self.spec.window:
            self.notes.append(
                f"{self.spec.name}: waves of {self.spec.window} min routed by cost (most constrained orders "
                "first), then " + ("re-planned jointly by engine.optimize.reoptimize" if self.opt is not None
                                   else "kept as is: engine.optimize is unavailable"))
        if self.spec.dual and prep.dual_fixed is not None:
            self.notes.append(f"{self.spec.name}: fixed dual prices from the prices table "
                              f"{self.cfg.dual_prices_path}, never refreshed")
        elif self.spec.dual and prep.dual_forecast is not None:
            self.notes.append(
                f"{self.spec.name}: fixed dual prices computed once from the forecast {self.cfg.dual_forecast_path} "
                f"({prep.dual_forecast.n_orders:,} orders) by " + (
                    "sourcewise.engine.optimize.dual_prices (Lagrangian prices), never refreshed" if self.opt is not None
                    else "nobody: engine.optimize is unavailable, so the prices are zero"))
        elif self.spec.dual:
            self.notes.append(
                f"{self.spec.name}: dual prices refreshed every {self.cfg.dual_refresh_minutes} min from "
                "the last interval's orders by " + ("sourcewise.engine.optimize.dual_prices (Lagrangian prices)" if self.opt
                                                    is not None else "a local-scarcity proxy"))

    def run(self) -> StrategyResult:
        """Replay every day; the collector is paused meanwhile (see :func:`_gc_paused`)."""
        with _gc_paused():
            return self._run()

    def _run(self) -> StrategyResult:
        t0 = time.perf_counter()
        prep, cfg = self.prep, self.cfg
        net = prep.network
        self.router = build_router(prep.scenario, self.policy, business_day=prep.dates[0])
        self.stock = StockLedger(prep, self.router)
        self.walkins = WalkIns(prep, self.stock)
        self.disruptions = Disruptions(prep, self.router, self.stock, self.spec.route)
        self.waves = BatchWaves(prep, self.router, self.stock, self.opt)
        self.dual = DualPrices(prep, self.router, self.stock, self.policy, self.opt)
        if self.spec.dual:
            self.dual.start()
        self.sla = prep.sla_days(self.policy)
        self.node_units = np.zeros(net.n_nodes, np.int64)
        self.node_parcels = np.zeros(net.n_nodes, np.int64)
        self.limited = net.capacity_orders < UNLIMITED
        self.recorder = Recorder(prep, self.spec, self.policy, cfg.records)
        verify = cfg.verify_router if cfg.verify_router is not None else prep.inventory.nnz < 200_000
        rows = [self._day(d, verify) for d in range(prep.n_days)]
        self.stock.verify(self.spec.name, final=True)
        if (note := self.dual.note(self.spec.name)) is not None:
            self.notes.append(note)  # refused prices are a result of the run: never silent
        return self._result(pd.DataFrame(rows), t0)

    def _result(self, daily: pd.DataFrame, t0: float, **extra) -> StrategyResult:
        """The strategy's result: ``daily`` rows, the per-node totals and the recorder's tables."""
        prep, net = self.prep, self.prep.network
        kinds = np.array(KINDS, dtype=object)[net.kind]
        cap = np.where(self.limited, net.capacity_orders * prep.n_days, 0)
        nodes = pd.DataFrame({
            "node_id": prep.node_pos.to_numpy(), "kind": kinds, "lat": net.lat, "lon": net.lon,
            "units": self.node_units, "parcels": self.node_parcels,
            "capacity_orders": np.where(self.limited, cap, -1),
            "utilization": np.where(self.limited, self.node_parcels / np.maximum(cap, 1), np.nan),
        })
        orders, allocations = self.recorder.records()
        return StrategyResult(self.spec.name, daily, nodes, time.perf_counter() - t0, tuple(self.notes),
                              self.recorder.node_days(), orders, allocations, **extra)

    # -- one day
    def _day(self, d: int, verify: bool) -> dict:
        prep, cfg = self.prep, self.cfg
        self.router.set_business_day(prep.dates[d])
        day = DayBook()
        s = day.sums = dict.fromkeys(SUM_COLUMNS, 0)
        s["receipts"], s["receipts_units"] = self.stock.receive(d)
        lo, hi = int(prep.day_ptr[d]), int(prep.day_ptr[d + 1])
        self.stock.new_day()
        self.walkins.new_day()
        step = self.spec.window or cfg.route_minutes
        minutes = prep.minute[lo:hi]
        slice_len = MINUTES_PER_DAY / cfg.walkin_slices
        next_walk = 0
        for t in range(0, MINUTES_PER_DAY, step):
            a = lo + int(np.searchsorted(minutes, t))
            b = lo + int(np.searchsorted(minutes, t + step))
            # walk-in slices that ended before this chunk starts
            while cfg.walkin and next_walk < cfg.walkin_slices and (next_walk + 1) * slice_len <= t:
                self.walkins.sell(d, next_walk, s)
                next_walk += 1
            if self.spec.dual:
                self.dual.refresh(a, d, t)
            if b > a:
                release = min(t + step, MINUTES_PER_DAY - 1) if self.spec.window else None
                self._route_chunk(a, b, day, release)
                self.progress(b - a)
        while cfg.walkin and next_walk < cfg.walkin_slices:
            self.walkins.sell(d, next_walk, s)
            next_walk += 1
        self.disruptions.apply(day)
        self._ship(d, lo, hi, day)
        self.recorder.end_of_day(d, self.stock.ledger, s)
        if verify:
            self.stock.verify(self.spec.name, final=False)
        return {"day": d, "date": prep.dates[d].isoformat(), **s}

    # -- routing
    def _route_chunk(self, a: int, b: int, day: DayBook, release: int | None) -> None:
        prep = self.prep
        pos = np.arange(a, b)
        watched = pos[prep.watch[a:b]]
        normal = pos[~prep.watch[a:b]]
        if len(normal):
            if release is not None:
                normal = self.waves.order(normal)
            batch = take_orders(prep.orders, normal)
            if release is not None:
                batch = self.waves.released(batch, int(prep.day[a]), release)
            res = self.router.route_many(batch, strategy=self.spec.route)
            if release is not None and self.opt is not None and len(normal) > 1:
                res = self.waves.reoptimize(batch, res)
            rows = rows_from_result(prep, normal, batch.order_id, res)
            day.rows.append(rows)
            self._take(rows.a_ent, rows.a_qty)
        if len(watched):
            batch = take_orders(prep.orders, watched)
            if release is not None:
                batch = self.waves.released(batch, int(prep.day[a]), release)
            nodes, skus, qtys = [], [], []
            for p, order in zip(watched.tolist(), order_objects(prep.network, batch), strict=True):
                dec = self.router.route(order, strategy=self.spec.route)
                day.watched[p] = dec
                for a in dec.allocations:
                    nodes.append(self._node_index[a.node_id])
                    skus.append(self._sku_index[a.sku])
                    qtys.append(a.qty)
            if nodes:
                self._take(prep.entry_of(np.array(nodes), np.array(skus)), np.array(qtys, np.int64))

    # -- what online orders took today
    def _take(self, ent: np.ndarray, qty: np.ndarray) -> None:
        """Count units online orders took, per entry (at stores also for walk-in attribution)."""
        ok = ent >= 0
        ent, qty = ent[ok], qty[ok]
        self.stock.take(ent, qty)
        self.walkins.took(ent, qty)

    # -- shipping and the day's figures
    def _ship(self, d: int, lo: int, hi: int, day: DayBook) -> None:
        prep, router = self.prep, self.router
        s = day.sums
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
            day.rows.append(rows_from_decisions(prep, wpos, list(day.watched.values())))
        shipped = self._book(d, lo, hi, day.rows, day.rerouted, s)
        # the ledger: shipped units leave their entries; no entry may go below zero
        s["oversell"] = self.stock.ship(*shipped)
        if s["oversell"]:
            raise OversellError(f"{self.spec.name}, day {d}: {s['oversell']} inventory entries shipped more "
                                f"units than they held (worst {int(self.stock.ledger.min())})")

    def _book(self, d: int, lo: int, hi: int, rows: list[RoutedRows], rerouted: set[int],
              s: dict) -> tuple[np.ndarray, np.ndarray]:
        """The figures of the orders at positions ``lo..hi`` (day ``d``) from what they were decided.

        ``rows`` hold every one of those orders once, ``rerouted`` the positions
        re-sourced after a failure. The day's sums ``s``, the per-node totals
        and the recorder get the figures; returns the inventory entries and
        units of the allocations (entries -1 where none is stored).
        """
        prep = self.prep
        net = prep.network
        s["orders"] = hi - lo
        s["units_ordered"] = int(prep.order_units[lo:hi].sum())
        if not rows:
            self._capacity_sums(s, np.zeros(net.n_nodes, np.int64))
            i0, f0 = np.zeros(0, np.int64), np.zeros(0)
            self.recorder.shipped(d, lo, hi, Shipped(i0, i0, i0, i0, i0, np.zeros((len(MONEY_COLUMNS), 0)), f0,
                                                     f0 > 0, f0 > 0, f0, i0, i0, i0, i0), s,
                                  self.cfg.reroute_delay_days)
            return i0, i0

        def cat(field: str) -> np.ndarray:
            return np.concatenate([getattr(r, field) for r in rows])

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
        money = np.concatenate([r.money for r in rows], axis=1)
        for i, c in enumerate(MONEY_COLUMNS):
            s[c] = float(money[i].sum())
        ships = cat("shipments")
        s["shipments"] = int(ships.sum())
        s["split_orders"] = int((ships > 1).sum())
        late = np.isin(pos, np.fromiter(rerouted, np.int64, count=len(rerouted)))
        promised = cat("promised") + late * self.cfg.reroute_delay_days
        s["promised_days_sum"] = float(promised[shipped].sum())
        on_time = shipped & (promised <= self.sla[pos] + 1e-9)
        s["orders_on_time"] = int(on_time.sum())
        s["units_routed"] = int(qty.sum())
        by_kind = np.bincount(net.kind[node], weights=qty, minlength=3).astype(np.int64)
        for k, name in enumerate(KINDS):
            s[f"units_{name}"] = int(by_kind[k])
        np.add.at(self.node_units, node, qty)
        parcels = np.bincount(np.unique(a_pos * net.n_nodes + node) % net.n_nodes, minlength=net.n_nodes)
        self.node_parcels += parcels
        self._capacity_sums(s, parcels)
        self.recorder.shipped(d, lo, hi, Shipped(pos, st, cat("units"), cat("unfilled"), ships, money, promised,
                                                 on_time, late, self.sla[pos], a_pos, node, cat("a_sku"), qty),
                              s, self.cfg.reroute_delay_days)
        return ent, qty

    def _capacity_sums(self, s: dict, parcels: np.ndarray) -> None:
        net = self.prep.network
        for k, name in enumerate(KINDS):
            m = self.limited & (net.kind == k)
            s[f"parcels_{name}"] = int(parcels[m].sum())
            s[f"capacity_{name}"] = int(net.capacity_orders[m].sum())


def simulate(scenario: Scenario, config: SimConfig | None = None, *, policy: Policy | None = None,
             progress: Callable[[int], None] | None = None,
             prepared: Prepared | None = None) -> SimulationResult:
    """Replay ``scenario`` once per strategy, each from the same initial state.

    A journal folder (one with an ``events`` table, from ``sourcewise journal
    export``) replays its recorded events instead of generating any; see
    :mod:`~sourcewise.engine.simulate.journal`.

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
        Reuse the preparation of an earlier call with the same scenario and config
        (:func:`~sourcewise.engine.simulate.journal.prepare` makes the right one).

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValidationError
        For a bad configuration, bad optional tables or a strategy the
        scenario cannot replay (``as_recorded`` without a journal, ``batchN``
        on one), before anything runs.
    OversellError
        If any inventory entry ships more units than it held (a bug; the
        invariant is checked every day).
    """
    from sourcewise.engine.simulate.journal import JournalPrepared
    from sourcewise.engine.simulate.journal import JournalReplay
    from sourcewise.engine.simulate.journal import prepare

    config = config or SimConfig()
    prep = prepared or prepare(scenario, config)
    journal = isinstance(prep, JournalPrepared)
    check_strategies(config.strategies, journal)
    make = JournalReplay if journal else Replay
    replays = [make(prep, name, policy, progress) for name in config.strategies]
    results: dict[str, StrategyResult] = {name: r.run() for name, r in zip(config.strategies, replays, strict=True)}
    kpis = kpi_frame({k: r.daily for k, r in results.items()})
    nodes = _with_strategy({k: r.nodes for k, r in results.items()})
    node_days = _with_strategy({k: r.node_days for k, r in results.items()})
    path = str(scenario.path) if scenario.path is not None else ""
    return SimulationResult(kpis, nodes, results, config, path, policy or scenario.policy, node_days, journal)


def _with_strategy(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The strategies' frames stacked, ``strategy`` first."""
    out = pd.concat([f.assign(strategy=k) for k, f in frames.items()], ignore_index=True)
    return out[["strategy", *[c for c in out.columns if c != "strategy"]]]


__all__ = ["Replay", "SimulationResult", "StrategyResult", "simulate"]
