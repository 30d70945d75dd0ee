"""The simulation report (engine.simulate.report), written by the simulate command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sourcewise import cli
from sourcewise.engine.simulate.report import REPORT_FILES
from tests.conftest import SAMPLE

COST_PARTS = ["shipping", "handling", "vendor_fees", "split_penalty", "penalties"]


def _check_kpis(daily: pd.DataFrame, totals: pd.DataFrame, strategies: list[str], n_days: int) -> None:
    """The invariants the issue names, read back from kpis.csv (days) and kpis_total.csv (totals)."""
    for kpis in (daily, totals):
        assert (kpis["oversell"] == 0).all()
        assert (kpis["units_routed"] + kpis["units_unfilled"] == kpis["units_ordered"]).all()
        np.testing.assert_allclose(kpis[COST_PARTS].sum(axis=1), kpis["cost"], rtol=1e-9, atol=1e-6)
        assert sorted(kpis["strategy"].unique()) == sorted(strategies)
    # one row per strategy x day, and one total row per strategy in a table of its own
    assert len(daily) == len(strategies) * n_days
    assert len(totals) == len(strategies)
    assert "total" not in set(daily["date"].astype(str))
    for name, days in daily.groupby("strategy"):
        total = totals[totals["strategy"] == name].iloc[0]
        for c in ("orders", "units_ordered", "units_routed", "shipments", "walkin_lost_online"):
            assert days[c].sum() == total[c], (name, c)
        assert total["cost_per_order"] == pytest.approx(total["cost"] / total["orders_shipped"])


def test_sample_simulation_writes_every_report_file(tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for word in ("cost per order", "shipments per order", "fill rate", "on-time rate", "nearest", "batch15"):
        assert word in printed
    for name in REPORT_FILES:
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind
    kpis = pd.read_csv(out / "kpis.csv")
    totals = pd.read_csv(out / "kpis_total.csv")
    _check_kpis(kpis, totals, ["nearest", "priority", "cost", "dual", "batch15"], n_days=2)
    assert totals["orders"].eq(300).all()
    summary = (out / "summary.md").read_text()
    assert "| metric | nearest | priority | cost | dual | batch15 |" in summary
    assert "All hold" in summary
    assert (out / "ship_from_map.png").read_bytes()[:4] == b"\x89PNG"
