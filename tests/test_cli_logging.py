"""Global --verbose / --quiet on every command, the sourcewise loggers, and the note when numba compiles."""

from __future__ import annotations

import logging

import pytest
from numba import njit

from sourcewise import cli
from sourcewise.engine.warm import CompileWatch


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_every_command_takes_verbose_and_quiet(name):
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[name]
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {"-v", "--verbose", "-q", "--quiet"} <= flags


def test_verbosity_before_or_after_the_command():
    p = cli.build_parser()
    base = ["route", "--scenario", "s", "--out", "o"]
    assert p.parse_args(["--quiet", *base]).quiet is True
    assert p.parse_args([*base, "--verbose"]).verbose is True
    args = p.parse_args(base)
    assert (args.verbose, args.quiet) == (False, False)
    with pytest.raises(SystemExit):
        p.parse_args([*base, "--verbose", "--quiet"])


def test_levels():
    logger = logging.getLogger("sourcewise")
    try:
        cli.configure_logging()
        assert logger.level == logging.INFO
        cli.configure_logging(quiet=True)
        assert logger.level == logging.WARNING
        cli.configure_logging(verbose=True)
        assert logger.level == logging.DEBUG
        assert sum(getattr(h, "_sourcewise_cli", False) for h in logger.handlers) == 1
    finally:
        cli.configure_logging()


def test_compiling_is_said_with_its_time(caplog):
    @njit(cache=False)
    def fresh(x):
        return x + 1

    with caplog.at_level(logging.INFO, logger="sourcewise.numba"), CompileWatch() as watch:
        fresh(1)
    assert watch.kernels == 1 and watch.seconds > 0
    text = caplog.text
    assert "numba is compiling" in text and "numba compiled 1 kernel(s) in" in text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sourcewise.numba"), CompileWatch() as watch:
        fresh(2)  # compiled already: nothing to say
    assert watch.kernels == 0 and "numba" not in caplog.text


def test_quiet_route_says_nothing_on_stderr(tmp_path, capsys):
    from tests.conftest import SAMPLE

    assert cli.main(["route", "--scenario", str(SAMPLE), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert "numba" not in capsys.readouterr().err
