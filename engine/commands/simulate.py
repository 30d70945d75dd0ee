"""``cli.py simulate``: replay a scenario under several strategies and write the comparison report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sourcewise.engine.commands.arguments import add_dual_price_sources
from sourcewise.engine.commands.arguments import add_io_arguments
from sourcewise.engine.journal import is_journal_folder
from sourcewise.engine.scenario import flag_problem
from sourcewise.engine.simulate import DEFAULT_STRATEGIES
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import simulate
from sourcewise.engine.simulate.config import AS_RECORDED
from sourcewise.engine.simulate.config import check_strategies
from sourcewise.engine.simulate.journal import default_strategies
from sourcewise.engine.simulate.journal import prepare
from sourcewise.engine.summary import progress_bar
from sourcewise.engine.summary import say
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from sourcewise.models.policy import load_policy


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    p = sub.add_parser(
        "simulate", help="replay a scenario day by day under several strategies and compare them",
        description="Replay the scenario's orders in time order once per strategy, from the same starting "
                    "stock, with daily capacity resets, replenishment, walk-in sales, store pick rejections "
                    "and vendor failures; write kpis.csv, kpis_total.csv, nodes.csv, node_days.csv, "
                    "dictionary.csv, summary.md, charts and report.html to --out. A journal folder "
                    "(sourcewise journal export; it has an events table) replays its recorded events instead, "
                    "nothing generated, and adds as_recorded.csv.")
    add_io_arguments(p, out="output folder for the report",
                     format_help="parquet also writes kpis.parquet and nodes.parquet")
    p.add_argument("--strategies",
                   help="comma-separated: nearest, priority, cost, high_stock, dual, batch (15 min) or batchN "
                        f"(N minutes) (default: {','.join(DEFAULT_STRATEGIES)}); on a journal folder "
                        f"{AS_RECORDED} (the recorded decisions) and the router strategies, no batchN (default: "
                        f"{AS_RECORDED}, the recorded policy's strategy, then nearest, priority, cost, dual)")
    p.add_argument("--seed", type=int, default=0, help="seed of walk-in demand, pick rejections and vendor "
                                                       "failures (default: 0; journals generate none)")
    p.add_argument("--pick-reject-rate", type=float, default=0.02,
                   help="probability that a store fails to pick one SKU of an order it ships (default: 0.02)")
    p.add_argument("--no-vendor-failures", action="store_true", help="vendors always deliver")
    p.add_argument("--no-walkin", action="store_true", help="no walk-in sales at stores")
    p.add_argument("--days", type=int, help="replay only the first DAYS days")
    p.add_argument("--wave-time-limit", type=float, default=2.0,
                   help="seconds the optimizer may spend on one batch wave (default: 2)")
    dual = p.add_argument_group(
        "fixed dual prices", "by default the dual strategy refreshes its prices every 4 hours from the last "
                             "interval's orders; with one of these it routes with fixed prices instead "
                             "(not for journal folders, whose replay uses the recorded prices)")
    add_dual_price_sources(dual, prefix="dual-", forecast=" once, at the start, over the starting stock")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace, default: tuple[str, ...] = DEFAULT_STRATEGIES) -> SimConfig:
    """The :class:`SimConfig` the arguments ask for (raises ValidationError listing every bad value);
    ``default`` are the strategies when ``--strategies`` is not given."""
    text = args.strategies if args.strategies is not None else ",".join(default)
    strategies = tuple(s.strip() for s in text.split(",") if s.strip())
    return SimConfig(strategies=strategies, seed=args.seed, pick_reject_rate=args.pick_reject_rate,
                     vendor_failures=not args.no_vendor_failures, walkin=not args.no_walkin, days=args.days,
                     wave_time_limit=args.wave_time_limit, dual_prices_path=args.dual_prices,
                     dual_forecast_path=args.dual_forecast, dual_forecast_time_limit=args.prices_time_limit)


def dual_flag_problems(args: argparse.Namespace, config: SimConfig, journal: bool) -> list[Problem]:
    """What is wrong with the fixed-dual-price flags: a journal replay, or no ``dual`` strategy to use them."""
    flags = [f for f, v in (("--dual-prices", args.dual_prices), ("--dual-forecast", args.dual_forecast))
             if v is not None]
    out = []
    for flag in flags:
        if journal:
            out.append(flag_problem(flag, "a journal replays with its recorded dual prices; fixed prices do "
                                          "not apply"))
        elif "dual" not in config.strategies:
            out.append(flag_problem(flag, "fixed dual prices are for the dual strategy, which --strategies "
                                          "does not name"))
    return out


def check_out(out: str) -> str | None:
    """Why ``out`` cannot be an output folder (``--out OUT: reason``), or ``None``.

    Kept for commands that print their own message; see
    :func:`~sourcewise.engine.scenario.output_problem`.
    """
    from sourcewise.engine.scenario import output_problem

    reason = output_problem(out)
    return None if reason is None else f"--out {out}: {reason}"


def run(args: argparse.Namespace) -> int:
    """Validate everything, replay, write the report all or nothing; returns the exit code.

    Raises
    ------
    ValidationError
        Listing every problem of the settings, ``--out`` and the scenario at once.
    """
    from sourcewise.engine.scenario import load_for_command
    from sourcewise.engine.simulate.report import currency_of
    from sourcewise.engine.simulate.report import format_table
    from sourcewise.engine.simulate.report import write_report

    config, settings = None, []
    journal = is_journal_folder(args.scenario)
    try:
        default = DEFAULT_STRATEGIES
        if journal:
            try:
                default = default_strategies(load_policy(Path(args.scenario) / "policy.toml"))
            except ValidationError:
                pass  # the policy's problems are reported with the scenario's below
        config = config_from_args(args, default)
        check_strategies(config.strategies, journal)
        settings = dual_flag_problems(args, config, journal)
    except ValidationError as exc:
        settings = list(exc.problems)
    sc = load_for_command(args.scenario, out=args.out, problems=settings)
    try:
        prep = prepare(sc, config)
    except ValidationError as exc:
        raise sc.locate(exc) from None
    total = prep.orders.n_orders * len(config.strategies)
    t0 = time.perf_counter()
    with progress_bar(total=total, unit="order", desc="simulating", dynamic_ncols=True) as bar:
        result = simulate(sc, config, progress=bar.update, prepared=prep)
    elapsed = time.perf_counter() - t0
    lat_lon = (prep.orders.lat, prep.orders.lon)
    files = write_report(result, args.out, args.format, customers=lat_lon,
                         title=f"Simulation of {Path(args.scenario).name}")
    days = prep.n_days
    events = "the recorded events" if journal else f"seed {config.seed}"
    say(f"Replayed {prep.orders.n_orders:,} orders over {days} day{'s' if days != 1 else ''} with "
          f"{len(config.strategies)} strategies in {elapsed:.1f} s ({events})\n")
    say(format_table(result.kpis, currency_of(result)))
    notes = [n for r in result.results.values() for n in r.notes]
    if notes:
        say("\n" + "\n".join(f"note: {n}" for n in notes))
    say(f"\nwrote {', '.join(f.name for f in files)} to {args.out}")
    return 0
