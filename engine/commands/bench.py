"""``cli.py bench``: the scaling study with its baselines (see :mod:`sourcewise.engine.benchstudy`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand."""
    p = sub.add_parser(
        "bench",
        help="scaling study: sweep orders, nodes and SKUs; compare with naive, MIP and no-JIT baselines",
        description="Route generated instances at growing sizes and write bench_study.csv/.png/.md/.json. "
                    "--quick takes under a minute; the full study under 15 minutes on 2 cores.",
    )
    p.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    p.add_argument("--out", default="out/bench", help="output folder (default: out/bench)")
    p.add_argument("--seed", type=int, default=0, help="instance seed (default: 0)")
    p.add_argument("--memory", action=argparse.BooleanOptionalAction, default=None,
                   help="measure peak RSS at 10^6 orders x 2,000 nodes x 10^5 SKUs (default: full study only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the study and write its files all or nothing; returns the process exit code.

    Raises
    ------
    ValidationError
        When ``--out`` cannot be an output folder (checked before the study runs).
    """
    from sourcewise.engine.benchstudy import run_study
    from sourcewise.engine.scenario import flag_problem
    from sourcewise.engine.scenario import output_problem
    from sourcewise.engine.summary import say
    from sourcewise.models.errors import ValidationError

    if (reason := output_problem(args.out)) is not None:
        raise ValidationError([flag_problem(f"--out {args.out}", reason)], title="bench")
    run_study(args.quick, Path(args.out), args.seed, log=say, memory=args.memory)
    return 0
