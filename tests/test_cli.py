"""The CLI on the bundled sample and on bad input."""

from __future__ import annotations

import shutil

import pandas as pd

from sourcewise import cli
from tests.conftest import SAMPLE
from tests.conftest import run_on_sample


def test_route_sample_writes_tables_and_summary(tmp_path, capsys):
    out = tmp_path / "out"
    run_on_sample(capsys, "route", out, prints=("orders", "units allocated", "shipments/order", "total cost",
                                               "cost per order", "warehouse"))
    alloc = pd.read_csv(out / "allocations.csv")
    orders = pd.read_csv(out / "orders.csv")
    assert list(alloc.columns)[:5] == ["order_id", "line_id", "sku", "node_id", "qty"]
    assert {"order_id", "status", "shipments", "cost", "distance_km"} <= set(orders.columns)
    src = pd.read_csv(SAMPLE / "orders.csv")
    assert orders["order_id"].nunique() == src["order_id"].nunique()
    # every unit ordered has a row: at a node, or in its line's "unfilled" row
    accounted = alloc.groupby("line_id")["qty"].sum()
    ordered = src.set_index("line_id")["qty"]
    assert accounted.sort_index().equals(ordered.sort_index())
    placed = alloc[alloc["tier"] != "unfilled"]
    assert placed["node_id"].notna().all() and alloc.loc[alloc["tier"] == "unfilled", "node_id"].isna().all()
    assert alloc.loc[alloc["tier"] == "unfilled", "qty"].sum() == orders["unfilled"].sum() > 0
    # never more than the ATP of any (node, sku)
    inv = pd.read_csv(SAMPLE / "inventory.csv").set_index(["node_id", "sku"])
    used = placed.groupby(["node_id", "sku"])["qty"].sum()
    atp = (inv["on_hand"] - inv.get("safety_stock", 0)).loc[used.index]
    assert (used <= atp).all()


def test_route_parquet_and_strategy_flag(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["route", "--scenario", str(SAMPLE), "--out", str(out), "--strategy", "priority",
                     "--format", "parquet"]) == 0
    assert len(pd.read_parquet(out / "orders.parquet")) > 0


def test_bad_scenario_exits_nonzero_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLE, bad)
    orders = pd.read_csv(bad / "orders.csv")
    orders.loc[3, "qty"] = -2
    orders.loc[7, "sku"] = "NOT-A-SKU"
    orders.loc[9, "lat"] = 123.0
    orders.to_csv(bad / "orders.csv", index=False)
    out = tmp_path / "out"
    assert cli.main(["route", "--scenario", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    # data row 3 is line 5 as a spreadsheet counts (the header is line 1)
    assert "orders.csv:5: qty" in err and "orders.csv:9: sku" in err and "orders.csv:11: lat" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_route_json_format_follows_the_generic_schema(tmp_path):
    import json

    out = tmp_path / "out"
    assert cli.main(["route", "--scenario", str(SAMPLE), "--out", str(out), "--format", "json"]) == 0
    doc = json.loads((out / "decisions.json").read_text())
    src = pd.read_csv(SAMPLE / "orders.csv")
    assert len(doc["decisions"]) == src["order_id"].nunique()
    for d in doc["decisions"]:
        c = d["cost"]
        parts = c["shipping"] + c["handling"] + c["vendor_fees"] + c["split_penalty"] + c["penalties"]
        assert abs(parts - c["total"]) < 1e-6
        assert d["units"] == sum(a["qty"] for a in d["allocations"])
