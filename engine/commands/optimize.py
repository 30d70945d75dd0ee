"""``cli.py optimize``: source a scenario's orders jointly and write the same tables as ``route``."""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

from sourcewise.engine.journal import journal_refused
from sourcewise.engine.scenario import flag_problem
from sourcewise.engine.scenario import load_for_command
from sourcewise.engine.scenario import write_tables
from sourcewise.engine.summary import format_summary
from sourcewise.engine.summary import routing_summary
from sourcewise.models.errors import ValidationError
from sourcewise.models.inventory import Inventory
from sourcewise.models.tables import OrderBatch


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="choose every order's sources jointly (MIP with a proven bound)")
    p.add_argument("--scenario", required=True, help="scenario folder (CSV or Parquet tables + policy.toml)")
    p.add_argument("--out", required=True, help="output folder for allocations and orders tables")
    p.add_argument("--time-limit", type=float, default=10.0,
                   help="seconds per business day's batch (default 10)")
    p.add_argument("--solver", choices=("highs", "cpsat"), default="highs", help="MIP solver of the integer phase")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.set_defaults(func=run)


def _days(batch: OrderBatch):
    """``(lo, hi)`` order ranges of each business day (the whole batch without timestamps)."""
    if batch.placed_at is None or np.isnat(batch.placed_at).all():
        return [(0, batch.n_orders)]
    days = batch.placed_at.astype("datetime64[D]")
    cuts = np.flatnonzero(days[1:] != days[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [batch.n_orders]])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def run(args: argparse.Namespace) -> int:
    """Validate everything, optimize day by day, write the tables all or nothing; returns the exit code.

    Raises
    ------
    ValidationError
        Listing every problem of the scenario, ``--time-limit`` and ``--out``;
        or what the optimizer refused. Nothing is written either way.
    """
    from sourcewise.engine.optimize import optimize

    flags = []
    if not (math.isfinite(args.time_limit) and args.time_limit > 0):
        flags.append(flag_problem("--time-limit", f"must be a positive number of seconds, got {args.time_limit}"))
    refused = journal_refused(args.scenario, "optimize")
    if refused:
        flags.append(flag_problem("--scenario", refused))
    sc = load_for_command(args.scenario, out=args.out, problems=flags)
    offers = sc.vendor_offers
    batch = sc.orders
    net, inv = sc.network, sc.inventory
    sku_of = np.repeat(np.arange(net.n_skus), np.diff(inv.sku_ptr))
    key = sku_of * net.n_nodes + inv.node
    node_ix = {n.node_id: i for i, n in enumerate(net.nodes)}
    reserved = inv.reserved.copy()
    t0 = time.perf_counter()
    allocs, orders, lines = [], [], []
    for lo, hi in _days(batch):
        part = batch.take(np.arange(lo, hi))
        # stock left by earlier days; node capacities are daily, so each day starts afresh
        day_inv = inv if lo == 0 else Inventory.from_arrays(net, inv.node, sku_of, inv.on_hand, inv.safety_stock,
                                                            reserved)
        try:
            plan = optimize(part, net, day_inv, sc.policy, args.time_limit, walkin=sc.tables.get("walkin"),
                            vendor_offers=offers, solver=args.solver)
        except ValidationError as exc:  # nothing has been written yet
            raise ValidationError(exc.problems, title=f"cannot optimize {args.scenario}") from None
        a = plan.allocations
        if len(a):
            s = np.array([net.sku_index[x] for x in a["sku"]], np.int64)
            n = np.array([node_ix[x] for x in a["node_id"]], np.int64)
            np.add.at(reserved, np.searchsorted(key, s * net.n_nodes + n), a["qty"].to_numpy(np.int64))
        allocs.append(a)
        orders.append(plan.orders)
        lines.append((lo, hi, plan))
    elapsed = time.perf_counter() - t0
    alloc_df = pd.concat(allocs, ignore_index=True)
    orders_df = pd.concat(orders, ignore_index=True)
    write_tables(args.out, {"allocations": alloc_df, "orders": orders_df}, args.format)
    s = routing_summary(orders_df, alloc_df, net)
    print(format_summary(s, f"Optimized {sc.path} (solver {args.solver}, {args.time_limit:g} s per day)"))
    cost = sum(p.cost for *_, p in lines)
    objective = sum(p.objective for *_, p in lines)
    bound = sum(p.lower_bound for *_, p in lines)
    constant = sum(p.objective_constant for *_, p in lines)
    gap = (objective - bound) / (objective - constant) if objective - constant > 1e-9 else 0.0
    shipped = orders_df[orders_df["units"] > 0]
    extra = int(np.maximum(shipped["shipments"].to_numpy() - 1, 0).sum())
    print(f"  cost              {cost:>12,.2f}")
    print(f"  objective         {objective:>12,.2f}  (cost + penalty for {int(orders_df['unfilled'].sum()):,} "
          f"unfilled units, {sum(p.units_unservable for *_, p in lines):,} of them unservable)")
    print(f"  lower bound       {bound:>12,.2f}  (proven, on the objective)")
    print(f"  gap               {100 * gap:>11.2f}%  (of the objective plans can change)")
    print(f"  shipments/order   {shipped['shipments'].mean() if len(shipped) else 0.0:>12.3f}  "
          f"({extra:,} beyond one per order)")
    for lo, hi, p in lines:
        lg = p.solve_log
        print(f"  orders {lo:>6}-{hi - 1:<6} {p.status:>8}  objective {p.objective:,.2f}  bound {p.lower_bound:,.2f}"
              f"  plans from {lg.source}, {lg.cg_iterations} pricing rounds, {lg.seconds:.1f}s")
    print(f"  time              {elapsed:>12.3f} s  (compile included)")
    print(f"  wrote {args.out}/allocations.{args.format}, {args.out}/orders.{args.format}")
    return 0
