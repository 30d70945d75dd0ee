"""Replay settings: which strategies run and how each routes, the seed and the disruption rates."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from sourcewise.models.errors import Collector
from sourcewise.models.errors import ValidationError
from sourcewise.models.policy import STRATEGIES

KINDS: tuple[str, ...] = ("warehouse", "store", "vendor")
MINUTES_PER_DAY = 1440
DEFAULT_STRATEGIES: tuple[str, ...] = ("nearest", "priority", "cost", "dual", "batch15")
#: The strategy that applies a journal's recorded decisions (see :mod:`sourcewise.engine.simulate.journal`).
AS_RECORDED = "as_recorded"
DEFAULT_SLA: tuple[tuple[str, float], ...] = (("standard", 5.0), ("express", 3.0), ("next_day", 1.0))


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """How one replayed strategy routes.

    Attributes
    ----------
    name : str
        The name given (``cost``, ``dual``, ``batch15``, ...).
    route : str
        Router strategy used for each order (``cost`` for batch strategies;
        empty for ``as_recorded``, which routes each order with the strategy
        its recorded call used).
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
    """Parse a strategy name: a router strategy, ``batch``/``batchN`` (hold ``N`` minutes, default 15),
    or ``as_recorded`` (a journal's recorded decisions; journal folders only).

    Raises
    ------
    ValidationError
        For an unknown name or a window outside 1..1440 minutes.
    """
    col = Collector()
    text = str(name).strip()
    if text in STRATEGIES:
        return StrategySpec(text, text, 0, text == "dual")
    if text == AS_RECORDED:
        return StrategySpec(text, "", 0, False)
    if text.startswith("batch"):
        tail = text[len("batch"):] or "15"
        if tail.isdigit() and 1 <= int(tail) <= MINUTES_PER_DAY:
            return StrategySpec(text, "cost", int(tail), False)
        col.add("simulate", None, "strategies", f"batch window must be 1..1440 minutes, got {text!r}")
    else:
        col.add("simulate", None, "strategies",
                f"unknown strategy {text!r}; use {', '.join(STRATEGIES)}, batch or batchN (minutes), "
                f"or {AS_RECORDED} (journal folders)")
    col.raise_if_any()
    raise AssertionError("unreachable")


def check_strategies(strategies: tuple[str, ...] | list[str], journal: bool) -> None:
    """Refuse the strategies a scenario cannot replay, all named in one error.

    ``as_recorded`` applies a journal's recorded decisions, so it needs a
    journal folder; ``batchN`` holds orders on the minute clock of a
    generated order stream, which a journal's ledger order does not have.

    Raises
    ------
    ValidationError
    """
    col = Collector()
    for s in strategies:
        spec = parse_strategy(s)
        if spec.name == AS_RECORDED and not journal:
            col.add("simulate", None, "strategies", f"{AS_RECORDED} replays a journal's recorded decisions; "
                    "this scenario has no events table (export one with sourcewise journal export)")
        if spec.window and journal:
            col.add("simulate", None, "strategies", f"{spec.name} holds orders in timed waves, which a journal "
                    "does not replay: its events apply one by one in ledger order; use "
                    f"{AS_RECORDED}, {', '.join(STRATEGIES)}")
    col.raise_if_any()


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
    dual_prices_path : str, optional
        A prices table (``node_id, sku, price``; see :mod:`sourcewise.engine.prices`):
        the ``dual`` strategy routes with these prices throughout and refreshes none.
    dual_forecast_path : str, optional
        An orders table (the scenario's ``orders`` format) the ``dual``
        strategy computes its prices from once, at the start, with
        ``sourcewise.engine.optimize.dual_prices``, and refreshes none. At most one
        of ``dual_prices_path`` and ``dual_forecast_path``.
    dual_forecast_time_limit : float
        Seconds for the LP over ``dual_forecast_path``.
    verify_router : bool, optional
        Compare the ledger with the router's stock every day (costs a
        snapshot); by default only for scenarios under 200,000 stock entries,
        and always once at the end.
    records : bool
        Keep one record per order and per allocation
        (:attr:`StrategyResult.orders`, :attr:`StrategyResult.allocations`),
        from which every KPI can be recomputed; about 200 bytes per order.
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
    dual_prices_path: str | None = None
    dual_forecast_path: str | None = None
    dual_forecast_time_limit: float = 60.0
    verify_router: bool | None = None
    records: bool = True

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
        number("dual_forecast_time_limit", 0.01)
        for name in ("dual_prices_path", "dual_forecast_path"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, str) and v.strip()):
                col.add("simulate", None, name, f"must be a file path, got {v!r}")
        if self.dual_prices_path is not None and self.dual_forecast_path is not None:
            col.add("simulate", None, "dual_prices_path",
                    "give one source of fixed dual prices: a prices table or a forecast, not both")
        if self.days is not None:
            number("days", 1, integer=True)
        for name in ("vendor_failures", "walkin", "records"):
            if not isinstance(getattr(self, name), bool):
                col.add("simulate", None, name, f"must be true or false, got {getattr(self, name)!r}")
        for level, days in self.sla:
            if level not in ("standard", "express", "next_day") or not (math.isfinite(days) and days >= 0):
                col.add("simulate", None, "sla", f"bad entry {level!r} = {days!r}")
        col.raise_if_any()

    def replace(self, **changes) -> SimConfig:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)


__all__ = ["AS_RECORDED", "DEFAULT_SLA", "DEFAULT_STRATEGIES", "KINDS", "MINUTES_PER_DAY", "SimConfig", "StrategySpec",
           "check_strategies", "parse_strategy"]
