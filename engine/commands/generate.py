"""``cli.py generate``: write a deterministic scenario on real geography (see :mod:`sourcewise.data.generate`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sourcewise.engine.commands.arguments import add_io_arguments
from sourcewise.engine.scenario import flag_problem
from sourcewise.engine.scenario import output_problem
from sourcewise.engine.summary import say
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError

T = TypeVar("T")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``generate`` subcommand."""
    p = sub.add_parser(
        "generate", help="generate a scenario from real city coordinates and populations",
        description="Warehouses at hub cities, stores in the largest cities, vendors spread out; customers "
                    "placed by population; long-tailed SKU popularity and baskets; walk-in demand, "
                    "replenishment and vendor offers. The same arguments and seed give the same scenario.")
    add_io_arguments(p, out="output folder (tables + policy.toml)", scenario=False, format_dest="fmt")
    p.add_argument("--nodes", "--warehouses", dest="n_warehouses", type=int, default=5,
                   help="warehouses (default: 5)")
    p.add_argument("--stores", dest="n_stores", type=int, default=20, help="stores (default: 20)")
    p.add_argument("--vendors", dest="n_vendors", type=int, default=3, help="marketplace vendors (default: 3)")
    p.add_argument("--skus", dest="n_skus", type=int, default=200, help="SKUs (default: 200)")
    p.add_argument("--orders-per-day", type=int, default=100, help="orders per day (default: 100)")
    p.add_argument("--days", type=int, default=2, help="days of orders (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--country", default="US", help="ISO country code of the geography (default: US)")
    p.add_argument("--wave", choices=("thin", "ample", "regional", "longtail", "online"), default=None,
                   help="write a benchmark wave of this kind instead (see data/waves.py); only --orders, "
                        "--seed, --format and --out apply")
    p.add_argument("--orders", dest="wave_orders", type=int, default=None,
                   help="orders of the --wave (default: 2,000; online: 50,000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate, generate into a staging folder, then move the files into ``--out`` all or nothing.

    Tables of the other format left in ``--out`` by an earlier run are taken
    away with the same move: a folder holding ``nodes.csv`` and
    ``nodes.parquet`` would be ambiguous.

    Raises
    ------
    ValidationError
        For a bad ``--out`` or bad generator settings; nothing is written.
    """
    from sourcewise.data.generate import TABLES
    from sourcewise.data.generate import generate_from_args
    from sourcewise.data.generate import write_scenario
    from sourcewise.engine.scenario import staged_output

    problems = []
    if (reason := output_problem(args.out)) is not None:
        problems.append(flag_problem(f"--out {args.out}", reason))
    if getattr(args, "wave", None) is not None:
        return _run_wave(args, problems)
    if getattr(args, "wave_orders", None) is not None:
        problems.append(flag_problem("--orders", "applies to --wave only (use --orders-per-day)"))
    scenario = _made(generate_from_args, args, problems)
    out = Path(args.out)
    other = "parquet" if args.fmt == "csv" else "csv"
    with staged_output(out, ".generate-", remove=[f"{t}.{other}" for t in TABLES]) as (stage, _):
        write_scenario(scenario, stage, fmt=args.fmt)
    o = scenario.orders
    say(f"wrote {out}: {args.n_warehouses} warehouses, {args.n_stores} stores, {args.n_vendors} vendors, "
          f"{args.n_skus} SKUs, {o['order_id'].nunique():,} orders ({len(o):,} lines) over {args.days} days, "
          f"{len(scenario.inventory):,} stock rows, seed {args.seed}")
    return 0


def _made(make: Callable[[argparse.Namespace], T], args: argparse.Namespace, problems: list[Problem]) -> T:
    """What ``make`` builds from the arguments, unless it or an earlier check found a problem.

    The generator runs even when ``problems`` already holds the other
    arguments' problems, so that one message lists them all.

    Raises
    ------
    ValidationError
        Listing ``problems`` and the generator's refusal of the settings.
    """
    made = None
    try:
        made = make(args)
    except (TypeError, ValueError) as exc:
        problems.append(flag_problem("settings", str(exc)))
    if problems or made is None:
        raise ValidationError(problems, title="generate")
    return made


def _run_wave(args: argparse.Namespace, problems: list[Problem]) -> int:
    """Write a benchmark wave (:mod:`sourcewise.data.waves`) into ``--out``, all or nothing."""
    from sourcewise.data.waves import wave_from_args
    from sourcewise.data.waves import write_wave

    wave = _made(wave_from_args, args, problems)
    write_wave(wave, args.out, fmt=args.fmt)
    t = wave.tables
    say(f"wrote {args.out}: {wave.label} ({len(t['orders']):,} lines, {len(t['inventory']):,} stock rows"
          + (f", forecast of {t['forecast']['order_id'].nunique():,} orders" if "forecast" in t else "")
          + f"), seed {args.seed}")
    return 0
