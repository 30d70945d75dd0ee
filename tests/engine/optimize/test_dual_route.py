"""``route --strategy dual --forecast``: prices from a forecast sample route a multi-day stream cheaper than ``cost``."""

from __future__ import annotations

import pandas as pd

from sourcewise.cli import main
from sourcewise.data.waves import make_online
from sourcewise.data.waves import write_wave


def _total(out) -> tuple[float, int]:
    orders = pd.read_csv(out / "orders.csv")
    return float(orders["cost"].sum()), int(orders["unfilled"].sum())


def test_dual_routing_with_forecast_prices_costs_less_than_cost_routing(tmp_path):
    # three days of orders; the forecast is another sample of the same demand, not the orders themselves
    folder = write_wave(make_online(n_orders=3000, days=3, seed=3), tmp_path / "online")
    assert main(["route", "--scenario", str(folder), "--out", str(tmp_path / "cost"), "--strategy", "cost"]) == 0
    assert main(["route", "--scenario", str(folder), "--out", str(tmp_path / "dual"), "--strategy", "dual",
                 "--forecast", str(folder / "forecast.csv"), "--prices-time-limit", "20"]) == 0
    cost, cost_unfilled = _total(tmp_path / "cost")
    dual, dual_unfilled = _total(tmp_path / "dual")
    # no cheaper by leaving more units unfilled
    assert dual_unfilled <= cost_unfilled
    assert dual < cost
