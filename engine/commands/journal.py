"""``cli.py journal export``: write a durable ledger's history as a folder ``simulate`` replays."""

from __future__ import annotations

import argparse
import sys

from sourcewise.engine.commands.arguments import add_io_arguments
from sourcewise.engine.summary import progress_bar
from sourcewise.engine.summary import say


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``journal`` subcommand and its ``export``."""
    p = sub.add_parser(
        "journal", help="production history: export a router's durable ledger for simulate to replay",
        description="Work with the history a router's durable ledger recorded (Router(store=...)).")
    actions = p.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    e = actions.add_parser(
        "export", help="write the ledger's history as a scenario folder simulate replays",
        description="Read the ledger (a SQLite ledger read only: a running router may go on writing) and write "
                    "its set-up (nodes, skus, inventory, walkin, vendor_offers, policy.toml), every order in the "
                    "order it arrived (orders), every other change in ledger order (events) and the decisions "
                    "the router recorded (recorded_orders, recorded_allocations). The folder appears only when "
                    "every file is written; --out must be new or empty.")
    e.add_argument("--store", required=True, help="the ledger's URL, e.g. sqlite:///var/ledger.db")
    add_io_arguments(e, out="a new or empty folder for the journal", scenario=False)
    e.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export; returns the exit code (2, with one line on stderr, for a bad store or output folder)."""
    from sourcewise.engine.journal import ExportError
    from sourcewise.engine.journal import export_journal
    from sourcewise.engine.ledger import StoreError

    bars: list = []  # made on the first entries read: a store that cannot be read shows none

    def progress(n: int) -> None:
        if not bars:
            bars.append(progress_bar(unit="entry", desc="exporting", dynamic_ncols=True))
        bars[0].update(n)

    try:
        summary = export_journal(args.store, args.out, args.format, progress=progress)
    except (StoreError, ExportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
    days = summary.days
    say(f"Exported {summary.entries:,} ledger entries (seq 1 to {summary.last_seq:,}): {summary.orders:,} orders "
          f"and {summary.events:,} events over {days} business day{'s' if days != 1 else ''}")
    say(f"wrote {', '.join(f.name for f in summary.files)} to {summary.folder}")
    say(f"replay it: sourcewise simulate --scenario {summary.folder} --out REPORT_FOLDER")
    return 0
