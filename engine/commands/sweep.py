"""``cli.py sweep``: replay many policy variants on a Dask cluster and gather one table and one plot."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from sourcewise.engine.commands.arguments import add_io_arguments
from sourcewise.engine.scenario import flag_problem
from sourcewise.engine.scenario import load_for_command
from sourcewise.engine.summary import progress_bar
from sourcewise.engine.summary import say
from sourcewise.models.errors import ValidationError
from sourcewise.models.policy import Policy

MAX_LOCAL_WORKERS = 2

log = logging.getLogger("sourcewise.sweep")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    p = sub.add_parser(
        "sweep", help="replay policy variants of a grid file on Dask (one task per replay)",
        description="Cross the values of --grid (e.g. store protection x batch windows x vendors on/off), "
                    "replay the scenario once per variant as one Dask task each, and write sweep.csv, "
                    "sweep_kpis.csv, sweep.png and report.html. Without --scheduler an in-process LocalCluster with "
                    f"{MAX_LOCAL_WORKERS} single-threaded worker processes runs the tasks.")
    add_io_arguments(p, out="output folder")
    p.add_argument("--grid", required=True, help="grid file (TOML with [sweep] and [grid]; see "
                                                 "data/grid_example.toml)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                                       "(default: start a LocalCluster in-process)")
    p.add_argument("--workers", type=int, default=None,
                   help=f"worker processes of the local cluster, 1..{MAX_LOCAL_WORKERS} (default: "
                        f"{MAX_LOCAL_WORKERS}); with --scheduler, the workers to wait for before starting "
                        "(any number; default: none, the cluster's workers run the tasks)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the scenario and the grid, run the sweep, write the results all or nothing; returns the exit code.

    Raises
    ------
    ValidationError
        Listing every problem of the arguments, the scenario and the grid at
        once (the grid is checked against the default policy while the
        scenario's is bad); nothing is written.
    """
    from sourcewise.engine.journal import is_journal
    from sourcewise.engine.simulate.config import check_strategies
    from sourcewise.engine.simulate.sweep import cluster_workers
    from sourcewise.engine.simulate.sweep import load_grid
    from sourcewise.engine.simulate.sweep import open_client
    from sourcewise.engine.simulate.sweep import run_sweep
    from sourcewise.engine.simulate.sweep import sweep_table
    from sourcewise.engine.simulate.sweep import write_sweep

    problems = []
    if args.scheduler is None:
        # the local cluster shares this machine: at most MAX_LOCAL_WORKERS processes
        if args.workers is None:
            args.workers = MAX_LOCAL_WORKERS
        if not 1 <= args.workers <= MAX_LOCAL_WORKERS:
            problems.append(flag_problem("--workers", f"must be 1..{MAX_LOCAL_WORKERS}, got {args.workers}"))
    elif args.workers is not None and args.workers < 1:
        problems.append(flag_problem("--workers", f"must be at least 1, got {args.workers}"))
    if args.scheduler is not None and not args.scheduler.strip():
        problems.append(flag_problem("--scheduler", "is empty"))
    sc = None
    try:
        sc = load_for_command(args.scenario, out=args.out, problems=problems)
    except ValidationError as exc:
        problems = list(exc.problems)
    try:
        variants = load_grid(args.grid, sc.policy if sc is not None else Policy())
        if sc is not None:
            # a journal replays its recorded events: no batch windows (engine.simulate.journal)
            check_strategies([s for v in variants for s in v.config.strategies], is_journal(sc))
    except ValidationError as exc:
        problems.extend(p if p.where else p.located(f"grid {args.grid}") for p in exc.problems)
    if problems or sc is None:
        raise ValidationError(problems, title=f"sweep of {args.scenario}")
    t0 = time.perf_counter()
    try:
        client, cluster = open_client(args.scheduler, args.workers)
    except (OSError, TimeoutError) as exc:
        short = f" (or it did not reach --workers {args.workers} workers)" if args.workers else ""
        print(f"error: cannot reach the Dask scheduler {args.scheduler}{short}: {exc}", file=sys.stderr)
        return 2
    try:
        where = (f"{args.scheduler} ({cluster_workers(client)} workers)" if args.scheduler
                 else f"a LocalCluster of {args.workers} worker processes")
        log.info("sweeping %d variants on %s", len(variants), where)
        with progress_bar(total=len(variants), unit="replay", desc="sweep") as bar:
            kpis = run_sweep(sc, variants, client, progress=bar.update)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    meta = {"scenario": args.scenario, "grid": args.grid, "variants": len(variants),
            "seeds": ", ".join(sorted({str(v.config.seed) for v in variants})),
            "scheduler": where.removeprefix("a ")}
    files = write_sweep(kpis, args.out, args.format, currency=sc.policy.currency, meta=meta)
    table = sweep_table(kpis)
    cols = ["variant", "cost_per_order", "shipments_per_order", "fill_rate", "share_store", "share_vendor",
            "walkin_lost_online", "on_time_rate"]
    say(f"Swept {len(variants)} variants of {Path(args.scenario).name} in {time.perf_counter() - t0:.1f} s\n")
    say(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    say(f"\nwrote {', '.join(f.name for f in files)} to {args.out}")
    return 0
