"""Global --verbose / --quiet on every command, the sourcewise loggers, and the note when numba compiles."""

from __future__ import annotations

import logging

import pytest
from numba import njit

from sourcewise import cli
from sourcewise.engine.warm import CompileWatch
from tests.conftest import SAMPLE


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_every_command_takes_verbose_and_quiet(name):
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[name]
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {"-v", "--verbose", "-q", "--quiet"} <= flags


def test_actions_of_a_command_take_them_too():
    args = cli.build_parser().parse_args(["journal", "export", "--store", "s", "--out", "o", "-q"])
    assert args.quiet is True and args.verbose is False


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
    assert "numba is compiling" in text and "usually 30 to 60 s" in text and "numba compiled 1 kernel(s) in" in text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="sourcewise.numba"), CompileWatch() as watch:
        fresh(2)  # compiled already: nothing to say
    assert watch.kernels == 0 and "numba" not in caplog.text


def test_quiet_route_says_nothing_on_stderr(tmp_path, capsys):
    assert cli.main(["route", "--scenario", str(SAMPLE), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    assert "numba" not in capsys.readouterr().err


# ---------------------------------------------------------------- --quiet silences summaries, not data or errors
def _grid(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[sweep]\nstrategy = "cost"\ndays = 1\n[grid]\nvendors = [true]\n')
    return grid


def _ledger(tmp_path) -> str:
    """A SQLite ledger that has routed a few of the sample's orders."""
    from datetime import date

    from sourcewise.engine.scenario import build_router
    from sourcewise.engine.scenario import load_scenario
    from tests.conftest import SAMPLE

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    sc = load_scenario(SAMPLE)
    with build_router(sc, business_day=date(2024, 3, 4), store=url) as router:
        router.route_many(sc.orders.slice(0, 5))
    return url


def _adapt():
    from tests.engine.adapters.test_cli_adapt import _args

    return _args("generic")


def _gap(tmp_path):
    from tests.engine.optimize.test_gap import TINY

    (tmp_path / "tiny").write_text(TINY)
    return ["gap", str(tmp_path / "tiny")]


# command line (given tmp_path), and what its summary says on stdout
SUMMARIES = {
    "route": (lambda t: ["route", "--scenario", str(SAMPLE), "--out", str(t / "o")], "Routed "),
    "optimize": (lambda t: ["optimize", "--scenario", str(SAMPLE), "--out", str(t / "o"), "--time-limit", "1"],
                 "lower bound"),
    "simulate": (lambda t: ["simulate", "--scenario", str(SAMPLE), "--out", str(t / "o"), "--strategies",
                            "nearest", "--days", "1"], "Replayed "),
    "generate": (lambda t: ["generate", "--out", str(t / "o"), "--nodes", "1", "--stores", "2", "--vendors", "1",
                            "--skus", "10", "--orders-per-day", "5", "--days", "1"], "wrote "),
    "generate --wave": (lambda t: ["generate", "--wave", "thin", "--orders", "50", "--out", str(t / "o")],
                        "wrote "),
    "journal export": (lambda t: ["journal", "export", "--store", _ledger(t), "--out", str(t / "o")],
                       "Exported "),
    "gap": (_gap, "proven optimal"),
}


@pytest.mark.parametrize("name", SUMMARIES)
def test_quiet_silences_the_summary(name, tmp_path, capsys):
    make, said = SUMMARIES[name]
    loud, quiet = tmp_path / "loud", tmp_path / "quiet"
    loud.mkdir()
    quiet.mkdir()
    assert cli.main(make(loud)) == 0
    assert said in capsys.readouterr().out
    assert cli.main([*make(quiet), "--quiet"]) == 0
    got = capsys.readouterr()
    assert said not in got.out and "Traceback" not in got.err
    if name == "gap":  # its table is what it was asked for: only the summary line goes
        assert [line.split()[0] for line in got.out.splitlines()] == ["instance", "quiet/tiny"]
    else:
        assert got.out == ""
    assert "%" not in got.err  # no progress bar either


def test_quiet_sweep_says_nothing_but_writes_its_results(tmp_path, capsys):
    grid = _grid(tmp_path)
    base = ["sweep", "--scenario", str(SAMPLE), "--grid", str(grid), "--workers", "1"]
    assert cli.main([*base, "--out", str(tmp_path / "loud")]) == 0
    got = capsys.readouterr()
    assert "Swept 1 variants" in got.out and "sweeping 1 variants" in got.err
    assert cli.main(["-q", *base, "--out", str(tmp_path / "quiet")]) == 0
    got = capsys.readouterr()
    assert got.out == "" and got.err == ""
    assert (tmp_path / "quiet" / "sweep.csv").is_file()


def test_quiet_bench_passes_its_progress_lines_through_the_summary(tmp_path, capsys, monkeypatch):
    import sourcewise.engine.benchstudy as study

    def fake(quick, out, seed=0, log=print, memory=None):
        log("bench: a progress line")
        return {}

    monkeypatch.setattr(study, "run_study", fake)
    assert cli.main(["bench", "--quick", "--out", str(tmp_path / "b")]) == 0
    assert "bench: a progress line" in capsys.readouterr().out
    assert cli.main(["bench", "--quick", "--out", str(tmp_path / "b"), "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_quiet_adapt_still_prints_its_response(capsys):
    import json

    assert cli.main([*_adapt(), "-q"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)["status"] == "routed" and got.err == ""


def test_quiet_keeps_errors(tmp_path, capsys):
    assert cli.main(["-q", "route", "--scenario", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    got = capsys.readouterr()
    assert got.out == "" and "error: scenario" in got.err and "does not exist" in got.err
    assert cli.main(["-q", "journal", "export", "--store", f"sqlite:///{tmp_path / 'none.db'}",
                     "--out", str(tmp_path / "j")]) == 2
    assert "error: " in capsys.readouterr().err


def test_serve_follows_quiet_and_verbose_unless_given_a_log_level(tmp_path, capsys, monkeypatch):
    import uvicorn

    from sourcewise.engine.service.auth import ENV

    levels = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: levels.append(kw["log_config"]["loggers"]["sourcewise"]
                                                                        ["level"]))
    for var in ENV.values():
        monkeypatch.delenv(var, raising=False)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    base = ["serve", "--store", url, "--scenario", str(SAMPLE)]
    for extra in ([], ["-q"], ["-v"], ["-q", "--log-level", "debug"]):
        assert cli.main([*base, *extra]) == 0
    assert levels == ["INFO", "WARNING", "DEBUG", "DEBUG"]
    err = capsys.readouterr().err
    # a warning is said under --quiet too, as a warning (with its logger's name under --verbose)
    assert err.count(f"warning: {ENV['api']}") == 3 and err.count(f"sourcewise.service: WARNING: {ENV['api']}") == 1
