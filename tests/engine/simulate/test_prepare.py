"""Preparing the replay (engine.simulate.prepare): bad settings and bad optional tables."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd

from sourcewise import cli
from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate.prepare import find_entries
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
    # rows 2 and 4 are lines 4 and 6 as a spreadsheet counts them (the header is line 1)
    assert "replenishment.csv:4: node_id" in err and "replenishment.csv:6: qty" in err
    assert not out.exists()


def test_find_entries_agrees_with_the_inventory_lookup():
    sc = load_scenario(SAMPLE)
    inv, net = sc.inventory, sc.network
    node, sku = np.meshgrid(np.arange(net.n_nodes), np.arange(net.n_skus), indexing="ij")
    node, sku = node.ravel(), sku.ravel()
    got = find_entries(inv.sku_ptr, inv.node, node, sku)
    want = [inv.entry(net.nodes[n].node_id, net.skus[s].sku) for n, s in zip(node, sku, strict=True)]
    assert got.tolist() == want
    assert (got >= 0).sum() == inv.nnz  # every stored entry is found, once
    # positions outside the network find nothing
    assert find_entries(inv.sku_ptr, inv.node, np.array([-1, 0]), np.array([0, net.n_skus])).tolist() == [-1, -1]
