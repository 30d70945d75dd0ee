"""Sourcewise command line: ``python cli.py COMMAND --help``.

Each command lives in ``engine/commands/<name>.py`` and exposes
``register(subparsers)``; this file only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("route", "generate", "optimize", "gap", "simulate", "sweep", "bench", "adapt")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sourcewise", description="Order routing and inventory sourcing.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"engine.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"engine.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
