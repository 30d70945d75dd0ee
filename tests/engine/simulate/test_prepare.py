"""Preparing the replay (engine.simulate.prepare): bad settings and bad optional tables."""

from __future__ import annotations

import shutil

import pandas as pd

from sourcewise import cli
from tests.conftest import SAMPLE


def test_cli_rejects_bad_input_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(out), "--strategies", "cost,fastest",
                     "--pick-reject-rate", "2"]) == 2
    err = capsys.readouterr().err
    assert "fastest" in err and "pick_reject_rate" in err
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLE, bad)
    rep = pd.read_csv(bad / "replenishment.csv")
    rep.loc[2, "node_id"] = "NOWHERE"
    rep.loc[4, "qty"] = -3
    rep.to_csv(bad / "replenishment.csv", index=False)
    assert cli.main(["simulate", "--scenario", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "replenishment[2].node_id" in err and "replenishment[4].qty" in err
    assert not out.exists()

