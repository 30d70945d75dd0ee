"""``cli.py route``: route a scenario's orders in sequence and write decision tables."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd
from tqdm import tqdm

from sourcewise.engine.journal import journal_refused
from sourcewise.engine.router import BatchResult
from sourcewise.engine.scenario import build_router
from sourcewise.engine.scenario import flag_problem
from sourcewise.engine.scenario import load_for_command
from sourcewise.engine.scenario import staged_output
from sourcewise.engine.scenario import write_tables
from sourcewise.engine.summary import format_summary
from sourcewise.engine.summary import routing_summary
from sourcewise.models.policy import STRATEGIES
from sourcewise.models.tables import OrderBatch

CHUNK = 20_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("route", help="route a scenario's orders one by one, with depletion")
    p.add_argument("--scenario", required=True, help="scenario folder (CSV or Parquet tables + policy.toml)")
    p.add_argument("--out", required=True, help="output folder for allocations and orders tables")
    p.add_argument("--strategy", choices=STRATEGIES, help="override policy.toml's strategy")
    p.add_argument("--format", choices=("csv", "parquet", "json"), default="csv",
                   help="table format; json writes decisions.json in the generic adapter schema")
    p.set_defaults(func=run)


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
        Listing every problem of the scenario and of ``--out``; nothing is written.
    """
    refused = journal_refused(args.scenario, "route")
    sc = load_for_command(args.scenario, out=args.out,
                          problems=[flag_problem("--scenario", refused)] if refused else ())
    policy = sc.policy.replace(strategy=args.strategy) if args.strategy else sc.policy
    # business days only move forward: start at the earliest order's day, not today
    placed = sc.orders.placed_at
    first = None
    if placed is not None and not np.isnat(placed).all():
        first = placed[~np.isnat(placed)].min().astype("datetime64[D]").astype(object)
    router = build_router(sc, policy, business_day=first)
    t0 = time.perf_counter()
    allocs, orders = [], []
    with tqdm(total=sc.orders.n_orders, unit="order", disable=sc.orders.n_orders < 5 * CHUNK,
              file=sys.stderr) as bar:
        for day, part in _chunks(sc.orders, CHUNK):
            if day is not None and day > router.business_day:
                # node capacities are daily: each order date is its own business day (orders out of
                # date order count against the latest day reached: an earlier one is refused)
                router.set_business_day(day)
            res = router.route_many(part)
            allocs.append(res.allocations)
            orders.append(res.orders)
            bar.update(part.n_orders)
    elapsed = time.perf_counter() - t0
    alloc_df = pd.concat(allocs, ignore_index=True)
    orders_df = pd.concat(orders, ignore_index=True)
    if args.format == "json":
        from sourcewise.engine.adapters.generic import render_batch

        with staged_output(args.out, ".route-") as (stage, _):
            (stage / "decisions.json").write_text(json.dumps(render_batch(BatchResult(alloc_df, orders_df)),
                                                             indent=1), encoding="utf-8")
        written = f"{args.out}/decisions.json"
    else:
        write_tables(args.out, {"allocations": alloc_df, "orders": orders_df}, args.format)
        written = f"{args.out}/allocations.{args.format}, {args.out}/orders.{args.format}"
    s = routing_summary(orders_df, alloc_df, sc.network)
    print(format_summary(s, f"Routed {sc.path} with strategy '{policy.strategy}'"))
    rate = sc.orders.n_orders / elapsed if elapsed > 0 else np.inf
    print(f"  time              {elapsed:>12.3f} s  ({rate:,.0f} orders/s, compile included)")
    print(f"  wrote {written}")
    return 0
