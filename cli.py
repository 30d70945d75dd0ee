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
import logging
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
    _add_verbosity(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"sourcewise.engine.commands.{name}")
        module.register(sub)
    # every command takes them too (after its name, or its action's: journal export), added here once
    # rather than in each register(): SUPPRESS keeps a command's parser from overwriting what was given
    # before the command's name
    commands = list(sub.choices.values())
    while commands:
        command = commands.pop()
        _add_verbosity(command, default=argparse.SUPPRESS)
        commands.extend(parser for action in command._actions if isinstance(action, argparse._SubParsersAction)
                        for parser in action.choices.values())
    return parser


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    """``--verbose`` / ``--quiet``: how much the ``sourcewise`` loggers say on stderr."""
    group = parser.add_argument_group("output").add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", default=default,
                       help="log details too (level DEBUG, with each logger's name)")
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="log warnings and errors only (no notes such as numba compiling)")


def configure_logging(verbose: bool = False, quiet: bool = False) -> logging.Handler:
    """Send the ``sourcewise.*`` loggers to stderr: INFO by default, DEBUG with ``verbose``,
    WARNING with ``quiet``; and the commands' summaries (``sourcewise.summary``, see
    :func:`sourcewise.engine.summary.say`) to stdout at the same level, so that ``quiet``
    silences them too. Replaces the handlers an earlier call added (``main`` may run many
    times in one process, each time with the current ``sys.stdout`` and ``sys.stderr``)."""
    logger = logging.getLogger("sourcewise")
    summary = logging.getLogger("sourcewise.summary")
    for lg in (logger, summary):
        for h in list(lg.handlers):
            if getattr(h, "_sourcewise_cli", False):
                lg.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s") if verbose else _Plain())
    out = _Stdout(sys.stdout)
    out.setFormatter(logging.Formatter("%(message)s"))
    for lg, h in ((logger, handler), (summary, out)):
        h._sourcewise_cli = True  # type: ignore[attr-defined]
        lg.addHandler(h)
    summary.propagate = False  # stdout only, not stderr as well
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    return handler


class _Plain(logging.Formatter):
    """The message alone, a warning or an error saying which it is (``warning: ...``)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"{record.levelname.lower()}: {text}" if record.levelno >= logging.WARNING else text


class _Stdout(logging.StreamHandler):
    """The summaries' handler: a reader that stopped reading (``| head``) ends the command as
    ``print`` would, with :class:`BrokenPipeError` (:func:`main` ends quietly on it), not with
    logging's report of a failed record."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError):
            raise  # the error emit() is handling
        super().handleError(record)


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
    configure_logging(args.verbose, args.quiet)
    from sourcewise.engine.warm import CompileWatch
    from sourcewise.models.errors import ValidationError

    try:
        with CompileWatch():
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
