"""Sourcewise command line: ``sourcewise COMMAND --help`` (or ``python cli.py COMMAND --help``).

Each command lives in ``sourcewise.engine.commands.<name>`` and exposes
``register(subparsers)``; this file only dispatches. Installed, this module
is ``sourcewise.cli`` and its :func:`main` is the ``sourcewise`` console script.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import os
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
    """Run one command; returns its exit status.

    A mistake in the input (scenario tables, ``policy.toml``, a grid, a
    payload, command-line values, an output folder that cannot be written) is
    one message on stderr listing every problem, and status 2; argparse
    reports unusable arguments with status 2 as well. Output cut short by its
    reader (``sourcewise route ... | head``) ends quietly with status 0.
    Anything else is a bug and keeps its traceback.
    """
    args = build_parser().parse_args(argv)
    from sourcewise.models.errors import ValidationError

    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _discard_stdout()
        return 0


def _discard_stdout() -> None:
    """Point stdout at the null device, so that the final flush at exit cannot fail on the closed pipe."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # stdout is not a file (in-process capture): nothing will flush it at exit


if __name__ == "__main__":
    sys.exit(main())
