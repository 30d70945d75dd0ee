"""The replay's ``dual`` strategy: refused prices are kept visible, fixed prices from a table or a forecast."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from sourcewise import cli
from sourcewise.engine.prices import write_prices
from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import simulate
from sourcewise.engine.simulate.journal import prepare
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from tests.conftest import SAMPLE

REASON = "the prices do not reproduce the forecast's plan"


@pytest.fixture(scope="module")
def sample():
    return load_scenario(SAMPLE)


def refuse(*args, **kwargs):
    raise ValidationError([Problem("dual_prices", None, "check", REASON)])


def test_a_refused_refresh_keeps_the_previous_prices_and_says_so(sample, monkeypatch, caplog):
    # dual_prices refuses prices that fail their check with a ValidationError; the stand-in refusal tests
    # the replay's handling of it (the real check is the optimizer's)
    import sourcewise.engine.optimize as opt

    cfg = SimConfig(strategies=("cost", "dual"), days=1, seed=1)
    plain = simulate(sample, cfg)
    monkeypatch.setattr(opt, "dual_prices", refuse)
    with caplog.at_level(logging.WARNING, logger="sourcewise.simulate"):
        res = simulate(sample, cfg)
    notes = res.results["dual"].notes
    refusal = [n for n in notes if "refused" in n]
    assert len(refusal) == 1 and REASON in refusal[0] and "previous prices" in refusal[0]
    assert any(REASON in r.getMessage() for r in caplog.records)
    # never an accepted price: the router kept zero prices, so dual routed as cost did
    t = res.totals
    assert t.at["dual", "cost_per_order"] == pytest.approx(t.at["cost", "cost_per_order"])
    # the real check may refuse some refreshes too, never with the stand-in's reason
    assert not any(REASON in n for n in plain.results["dual"].notes)


def test_fixed_prices_from_a_table_are_used_and_noted(sample, tmp_path):
    prep = prepare(sample, SimConfig(strategies=("dual",), days=1))
    prices = np.full(prep.inventory.nnz, 40.0)
    table = write_prices(tmp_path / "prices.csv", prep.network, prep.inventory, prices)
    cfg = SimConfig(strategies=("cost", "dual"), days=1, dual_prices_path=str(table))
    prep = prepare(sample, cfg)
    assert np.array_equal(prep.dual_fixed, prices)
    res = simulate(sample, cfg, prepared=prep)
    assert any(f"fixed dual prices from the prices table {table}" in n for n in res.results["dual"].notes)
    assert not any("fixed" in n for n in res.results["cost"].notes)


def test_a_refused_forecast_routes_myopically_and_says_so(sample, monkeypatch):
    import sourcewise.engine.optimize as opt

    monkeypatch.setattr(opt, "dual_prices", refuse)
    cfg = SimConfig(strategies=("cost", "dual"), days=1, dual_forecast_path=str(SAMPLE / "orders.csv"))
    res = simulate(sample, cfg)
    notes = res.results["dual"].notes
    assert any("computed once from the forecast" in n for n in notes)
    assert any("refused the forecast's prices" in n and "zero prices" in n and REASON in n for n in notes)
    t = res.totals
    assert t.at["dual", "cost_per_order"] == pytest.approx(t.at["cost", "cost_per_order"])


def test_simulate_cli_checks_the_fixed_price_flags(tmp_path, capsys):
    out = tmp_path / "out"
    bad = tmp_path / "prices.csv"
    bad.write_text("node_id,sku,price\nWH-PHILADELPHIA,SKU-00002,-1\n")
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(out), "--strategies", "cost",
                     "--dual-prices", str(bad)]) == 2
    assert "--dual-prices: fixed dual prices are for the dual strategy" in capsys.readouterr().err
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(out), "--strategies", "dual",
                     "--dual-prices", str(bad), "--dual-forecast", str(SAMPLE / "orders.csv")]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(out), "--strategies", "dual",
                     "--days", "1", "--dual-prices", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: price: must be >= 0" in err and "node 'WH-PHILADELPHIA', sku 'SKU-00002'" in err
    assert not out.exists()
