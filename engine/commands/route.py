"""``cli.py route``: route a scenario's orders in sequence and write decision tables."""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sourcewise.engine.batch import BatchResult
from sourcewise.engine.batch import allocations_file
from sourcewise.engine.commands.arguments import TABLE_FORMATS
from sourcewise.engine.commands.arguments import add_dual_price_sources
from sourcewise.engine.commands.arguments import add_io_arguments
from sourcewise.engine.journal import journal_refused
from sourcewise.engine.scenario import build_router
from sourcewise.engine.scenario import flag_problem
from sourcewise.engine.scenario import load_for_command
from sourcewise.engine.scenario import staged_output
from sourcewise.engine.scenario import write_tables
from sourcewise.engine.summary import format_summary
from sourcewise.engine.summary import progress_bar
from sourcewise.engine.summary import routing_summary
from sourcewise.engine.summary import say
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from sourcewise.models.policy import STRATEGIES
from sourcewise.models.tables import OrderBatch

if TYPE_CHECKING:
    from sourcewise.engine.scenario import Scenario
    from sourcewise.models.policy import Policy

CHUNK = 20_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("route", help="route a scenario's orders one by one, with depletion")
    add_io_arguments(p, out="output folder for allocations and orders tables", formats=(*TABLE_FORMATS, "json"),
                     format_help="table format; json writes decisions.json in the generic adapter schema")
    p.add_argument("--strategy", choices=STRATEGIES, help="override policy.toml's strategy")
    prices = p.add_argument_group(
        "dual prices", "the dual strategy charges each unit the price of its stock entry; it needs exactly "
                       "one of these (and other strategies take neither)")
    add_dual_price_sources(prices, forecast=" (Lagrangian prices of sourcing it from the scenario's stock, "
                                            "checked by routing it)",
                           prices="; entries it leaves out cost 0")
    p.set_defaults(func=run)


def price_flag_problems(args: argparse.Namespace, strategy: str | None) -> list[Problem]:
    """What is wrong with the dual-price flags for ``strategy`` (``None``: not known yet, the policy's).

    ``dual`` needs exactly one source of prices; any other strategy takes
    none (it would ignore them, and a silent no-op hides a mistake).
    """
    out = []
    forecast, table = args.forecast is not None, args.prices is not None
    if forecast and table:
        out.append(flag_problem("--forecast/--prices", "give one source of dual prices, not both"))
    if strategy is not None and strategy != "dual" and (forecast or table):
        flag = "--forecast" if forecast else "--prices"
        out.append(flag_problem(flag, f"dual prices are for --strategy dual; strategy {strategy!r} would ignore "
                                      "them"))
    if strategy == "dual" and not (forecast or table):
        out.append(flag_problem("--strategy dual", "needs dual prices: give --forecast PATH (an orders table "
                                                   "to compute them from) or --prices PATH (a prices table)"))
    if not (math.isfinite(args.prices_time_limit) and args.prices_time_limit > 0):
        out.append(flag_problem("--prices-time-limit",
                                f"must be a positive number of seconds, got {args.prices_time_limit}"))
    return out


def load_dual_prices(args: argparse.Namespace, sc: Scenario, policy: Policy) -> tuple[np.ndarray, str]:
    """The dual prices ``--forecast`` or ``--prices`` give for ``sc``, and a line saying where they came from.

    Raises
    ------
    ValidationError
        Every problem of the file (located by file, line and ids), or the
        reason :func:`~sourcewise.engine.optimize.dual_prices` refused the
        forecast's prices.
    """
    from sourcewise.engine.prices import read_prices

    if args.prices is not None:
        prices = read_prices(args.prices, sc.network, sc.inventory)
        return prices, (f"prices table {args.prices} ({int(np.count_nonzero(prices)):,} of "
                        f"{sc.inventory.nnz:,} entries priced above 0)")
    from sourcewise.engine.optimize import dual_prices
    from sourcewise.engine.scenario import load_orders

    forecast = load_orders(args.forecast, sc.network)
    t0 = time.perf_counter()
    try:
        prices = dual_prices(forecast, sc.network, sc.inventory, policy, args.prices_time_limit,
                             walkin=sc.tables.get("walkin"), vendor_offers=sc.vendor_offers)
    except ValidationError as exc:
        # a refusal (the prices failed their check on the forecast) or a forecast it cannot price
        raise ValidationError(exc.problems, title=f"no dual prices from forecast {args.forecast}") from None
    return prices, (f"forecast {args.forecast} ({forecast.n_orders:,} orders, Lagrangian prices in "
                    f"{time.perf_counter() - t0:.1f} s; {int(np.count_nonzero(prices)):,} of "
                    f"{sc.inventory.nnz:,} entries priced above 0)")


def _chunks(batch: OrderBatch, size: int):
    """Slices of at most ``size`` orders that never straddle a business day.

    Yields ``(day, part)``; ``day`` is None when the orders carry no timestamps.
    """
    if batch.placed_at is not None and not np.isnat(batch.placed_at).all():
        days = batch.placed_at.astype("datetime64[D]")
        cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
        bounds = np.unique(np.concatenate([[0], cuts, np.arange(0, batch.n_orders, size), [batch.n_orders]]))
    else:
        days = None
        bounds = np.unique(np.concatenate([np.arange(0, batch.n_orders, size), [batch.n_orders]]))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        day = None if days is None or np.isnat(days[lo]) else days[lo].astype(object)
        yield day, batch.slice(int(lo), int(hi))


def run(args: argparse.Namespace) -> int:
    """Validate everything, route, write the tables all or nothing; returns the exit code.

    Raises
    ------
    ValidationError
        Listing every problem of the scenario, of ``--out`` and of the dual-price
        flags; then every problem of the ``--prices`` or ``--forecast`` file, or
        why no prices could be computed from the forecast. Nothing is written.
    """
    refused = journal_refused(args.scenario, "route")
    flags = price_flag_problems(args, args.strategy)
    if refused:
        flags.append(flag_problem("--scenario", refused))
    sc = load_for_command(args.scenario, out=args.out, problems=flags)
    policy = sc.policy.replace(strategy=args.strategy) if args.strategy else sc.policy
    if args.strategy is None and (late := price_flag_problems(args, policy.strategy)):
        # the strategy came from policy.toml: known only now
        raise ValidationError([Problem(p.table, p.row, p.field, f"{p.reason} (policy.toml's strategy)",
                                       where=p.where) for p in late], title=f"scenario {args.scenario}")
    prices, priced_from = load_dual_prices(args, sc, policy) if policy.strategy == "dual" else (None, None)
    # business days only move forward: start at the earliest order's day, not today
    placed = sc.orders.placed_at
    first = None
    if placed is not None and not np.isnat(placed).all():
        first = placed[~np.isnat(placed)].min().astype("datetime64[D]").astype(object)
    router = build_router(sc, policy, business_day=first)
    if prices is not None:
        router.set_dual_prices(prices)
    t0 = time.perf_counter()
    allocs, orders, short = [], [], []
    with progress_bar(total=sc.orders.n_orders, unit="order", disable=sc.orders.n_orders < 5 * CHUNK) as bar:
        for day, part in _chunks(sc.orders, CHUNK):
            if day is not None and day > router.business_day:
                # node capacities are daily: each order date is its own business day (orders out of
                # date order count against the latest day reached: an earlier one is refused)
                router.set_business_day(day)
            res = router.route_many(part)
            allocs.append(res.allocations)
            orders.append(res.orders)
            short.append(res.unfilled)
            bar.update(part.n_orders)
    elapsed = time.perf_counter() - t0
    result = BatchResult(pd.concat(allocs, ignore_index=True), pd.concat(orders, ignore_index=True),
                         pd.concat(short, ignore_index=True))
    if args.format == "json":
        from sourcewise.engine.adapters.generic import render_batch

        with staged_output(args.out, ".route-") as (stage, _):
            (stage / "decisions.json").write_text(json.dumps(render_batch(result), indent=1), encoding="utf-8")
        written = f"{args.out}/decisions.json"
    else:
        write_tables(args.out, {"allocations": allocations_file(result, sc.orders), "orders": result.orders,
                                "unfilled": result.unfilled}, args.format)
        written = (f"{args.out}/allocations.{args.format}, {args.out}/orders.{args.format}, "
                   f"{args.out}/unfilled.{args.format}")
    s = routing_summary(result.orders, result.allocations, sc.network)
    say(format_summary(s, f"Routed {sc.path} with strategy '{policy.strategy}'"))
    if priced_from is not None:
        say(f"  dual prices from  {priced_from}")
    rate = sc.orders.n_orders / elapsed if elapsed > 0 else np.inf
    say(f"  time              {elapsed:>12.3f} s  ({rate:,.0f} orders/s, compile included)")
    say(f"  wrote {written}")
    return 0
