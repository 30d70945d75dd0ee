"""Sourcewise command line: ``sourcewise COMMAND --help`` (or ``python cli.py COMMAND --help``).

Each command lives in ``sourcewise.engine.commands.<name>`` and exposes
``register(subparsers)``; this file only dispatches. Installed, this module
is ``sourcewise.cli`` and its :func:`main` is the ``sourcewise`` console script.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

COMMANDS = ("route", "generate", "optimize", "gap", "simulate", "sweep", "bench", "adapt", "journal", "serve")


def _ensure_package() -> None:
    """Make ``import sourcewise`` work for ``python cli.py`` in a checkout that was never installed.

    The repository root is the ``sourcewise`` package (``pyproject.toml`` maps
    it so); an install, editable or not, makes it importable under that name.
    Without one, the checkout this file sits in is loaded as the package.
    """
    if importlib.util.find_spec("sourcewise") is not None:
        return
    root = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location("sourcewise", root / "__init__.py",
                                                  submodule_search_locations=[str(root)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sourcewise"] = module
    spec.loader.exec_module(module)


def build_parser() -> argparse.ArgumentParser:
    _ensure_package()
    from sourcewise import __version__

    parser = argparse.ArgumentParser(prog="sourcewise", description="Order routing and inventory sourcing.")
    parser.add_argument("--version", action="version", version=f"sourcewise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"sourcewise.engine.commands.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
