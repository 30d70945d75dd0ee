"""Command-line flags several commands share, declared once so that they read and behave alike everywhere."""

from __future__ import annotations

import argparse

#: Table formats every command that writes tables can write.
TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet")

SCENARIO_HELP = "scenario folder (CSV or Parquet tables + policy.toml)"


def add_io_arguments(p: argparse.ArgumentParser, *, out: str, scenario: bool = True,
                     formats: tuple[str, ...] = TABLE_FORMATS, format_help: str = "table format (default: csv)",
                     format_dest: str = "format") -> None:
    """Add ``--scenario`` (unless ``scenario`` is false), ``--out`` and ``--format``.

    Parameters
    ----------
    p : ArgumentParser
        The command's parser.
    out : str
        Help of ``--out``: what the command writes there.
    scenario : bool
        Whether the command reads a scenario folder (``generate`` and
        ``journal export`` write one instead).
    formats : tuple of str
        Choices of ``--format``; the first is the default.
    format_help : str
        Help of ``--format``.
    format_dest : str
        Attribute the format is stored as (``generate`` keeps its older ``fmt``).
    """
    if scenario:
        p.add_argument("--scenario", required=True, help=SCENARIO_HELP)
    p.add_argument("--out", required=True, help=out)
    p.add_argument("--format", dest=format_dest, choices=formats, default=formats[0], help=format_help)


def add_dual_price_sources(group: argparse._ArgumentGroup, *, prefix: str = "", forecast: str = "",
                           prices: str = "") -> None:
    """Add the two sources of fixed dual prices and the time limit for computing them.

    ``route`` and ``simulate`` take the same pair: an orders table to compute
    the prices from (``--{prefix}forecast``) or a prices table
    (``--{prefix}prices``), and ``--prices-time-limit``. ``simulate`` names
    them with ``prefix="dual-"``: there they override the prices its dual
    strategy otherwise refreshes by itself.

    Parameters
    ----------
    group : argument group
        Where the flags are listed.
    prefix : str
        Put before ``forecast`` and ``prices`` in the flags' names.
    forecast, prices : str
        Appended to the flags' help: what the command does with them.
    """
    group.add_argument(f"--{prefix}forecast", metavar="PATH",
                       help="orders table in the scenario's orders format (CSV or Parquet) the prices are "
                            "computed from" + forecast)
    group.add_argument(f"--{prefix}prices", metavar="PATH",
                       help="prices table (node_id, sku, price; CSV or Parquet), e.g. from optimize --write-prices"
                            + prices)
    group.add_argument("--prices-time-limit", type=float, default=60.0, metavar="SECONDS",
                       help=f"seconds for computing the prices from --{prefix}forecast (default 60)")
