"""``cli.py optimize``: source a scenario's orders jointly and write the same tables as ``route``."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sourcewise.engine.commands.arguments import add_io_arguments
from sourcewise.engine.journal import journal_refused
from sourcewise.engine.scenario import flag_problem
from sourcewise.engine.scenario import load_for_command
from sourcewise.engine.scenario import output_problem
from sourcewise.engine.scenario import write_tables
from sourcewise.engine.summary import format_summary
from sourcewise.engine.summary import routing_summary
from sourcewise.engine.summary import say
from sourcewise.models.errors import ValidationError
from sourcewise.models.inventory import Inventory
from sourcewise.models.tables import OrderBatch


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optimize", help="choose every order's sources jointly (MIP with a proven bound)")
    add_io_arguments(p, out="output folder for allocations and orders tables")
    p.add_argument("--time-limit", type=float, default=10.0,
                   help="seconds per business day's batch (default 10)")
    p.add_argument("--solver", choices=("highs", "cpsat"), default="highs", help="MIP solver of the integer phase")
    p.add_argument("--write-prices", metavar="PATH",
                   help="also write the solve's dual price of every inventory entry (the LP's, or the Lagrangian "
                        "relaxation's on contested batches; node_id, sku, price; .csv or "
                        ".parquet) for route --strategy dual --prices; with several business days, each entry's "
                        "price is the days' prices averaged, each day weighted by its number of orders")
    p.set_defaults(func=run)


def combined_prices(day_prices: list[np.ndarray], day_orders: list[int]) -> np.ndarray:
    """One price per entry from each business day's: the days' prices weighted by their orders.

    Each day's LP prices the stock that day's orders compete for; a day of
    many orders says more about the demand the prices stand for than a day
    of a few, so it weighs more. (A day's prices are those of its stock
    after the days before it, which is what routing that demand faces.)
    """
    w = np.asarray(day_orders, dtype=np.float64)
    if not len(day_prices) or w.sum() <= 0:
        return np.zeros_like(day_prices[0]) if day_prices else np.zeros(0)
    return np.maximum(np.tensordot(w / w.sum(), np.stack(day_prices), axes=1), 0.0)


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
    if args.write_prices is not None:
        from sourcewise.engine.prices import suffix_problem

        if (reason := suffix_problem(args.write_prices)) is not None:
            flags.append(flag_problem(f"--write-prices {args.write_prices}", reason))
        elif Path(args.write_prices).is_dir():
            flags.append(flag_problem(f"--write-prices {args.write_prices}", "is a folder, not a file"))
        elif (reason := output_problem(Path(args.write_prices).parent)) is not None:
            flags.append(flag_problem(f"--write-prices {args.write_prices}", f"its folder {reason}"))
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
    if args.write_prices is not None:
        from sourcewise.engine.prices import write_prices

        prices = combined_prices([p.dual_prices for *_, p in lines], [hi - lo for lo, hi, _ in lines])
        try:
            Path(args.write_prices).parent.mkdir(parents=True, exist_ok=True)
            write_prices(args.write_prices, net, inv, prices)
        except OSError as exc:
            raise ValidationError([flag_problem(f"--write-prices {args.write_prices}",
                                                f"cannot be written ({exc.strerror or exc}); the tables in "
                                                f"{args.out} were written")], title="output") from None
    s = routing_summary(orders_df, alloc_df, net)
    say(format_summary(s, f"Optimized {sc.path} (solver {args.solver}, {args.time_limit:g} s per day)"))
    cost = sum(p.cost for *_, p in lines)
    objective = sum(p.objective for *_, p in lines)
    bound = sum(p.lower_bound for *_, p in lines)
    constant = sum(p.objective_constant for *_, p in lines)
    gap = (objective - bound) / (objective - constant) if objective - constant > 1e-9 else 0.0
    shipped = orders_df[orders_df["units"] > 0]
    extra = int(np.maximum(shipped["shipments"].to_numpy() - 1, 0).sum())
    say(f"  cost              {cost:>12,.2f}")
    say(f"  objective         {objective:>12,.2f}  (cost + penalty for {int(orders_df['unfilled'].sum()):,} "
          f"unfilled units, {sum(p.units_unservable for *_, p in lines):,} of them unservable)")
    say(f"  lower bound       {bound:>12,.2f}  (proven, on the objective)")
    say(f"  gap               {100 * gap:>11.2f}%  (of the objective plans can change)")
    say(f"  shipments/order   {shipped['shipments'].mean() if len(shipped) else 0.0:>12.3f}  "
          f"({extra:,} beyond one per order)")
    for lo, hi, p in lines:
        lg = p.solve_log
        say(f"  orders {lo:>6}-{hi - 1:<6} {p.status:>8}  objective {p.objective:,.2f}  bound {p.lower_bound:,.2f}"
              f"  plans from {lg.source}, {lg.cg_iterations} pricing rounds, {lg.seconds:.1f}s")
        say(f"  {'':>21} bound from {lg.bound_source}")
        if lg.source == "greedy":
            say(f"  {'':>21} no improvement on greedy routing found within the time limit")
    say(f"  time              {elapsed:>12.3f} s  (compile included)")
    say(f"  wrote {args.out}/allocations.{args.format}, {args.out}/orders.{args.format}")
    if args.write_prices is not None:
        how = "" if len(lines) == 1 else f" (the {len(lines)} days' prices weighted by their orders)"
        say(f"  wrote {args.write_prices}: dual prices, {int(np.count_nonzero(prices)):,} of {inv.nnz:,} "
              f"entries above 0{how}")
    return 0
