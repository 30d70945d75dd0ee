"""Tests for the benchmark waves :mod:`sourcewise.data.waves` and ``generate --wave``."""

from __future__ import annotations

import tomllib

import numpy as np
import pandas as pd
import pytest

from sourcewise import cli
from sourcewise.data.waves import WAVE_KINDS
from sourcewise.data.waves import default_shape
from sourcewise.data.waves import make_online
from sourcewise.data.waves import make_wave
from sourcewise.data.waves import read_forecast
from sourcewise.data.waves import write_wave
from sourcewise.engine.scenario import load_scenario


@pytest.fixture(scope="module")
def waves() -> dict:
    return {kind: make_wave(kind, 1_000, seed=3) for kind in WAVE_KINDS}


@pytest.fixture(scope="module")
def online():
    return make_online(n_orders=3_000, days=3, seed=5)


def _cover(w) -> pd.Series:
    """Stock over demand per demanded SKU (0 for a demanded SKU without stock)."""
    demand = w.tables["orders"].groupby("sku")["qty"].sum()
    stock = w.tables["inventory"].groupby("sku")["on_hand"].sum().reindex(demand.index).fillna(0)
    return stock / demand


@pytest.mark.parametrize("kind", WAVE_KINDS)
def test_same_seed_same_tables_other_seed_other_orders(kind, waves):
    again = make_wave(kind, 1_000, seed=3)
    for name, df in waves[kind].tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name])
    other = make_wave(kind, 1_000, seed=4)
    assert not waves[kind].tables["orders"].equals(other.tables["orders"])


@pytest.mark.parametrize("kind", WAVE_KINDS)
def test_folder_loads_with_the_policy_and_every_table(kind, waves, tmp_path):
    w = waves[kind]
    write_wave(w, tmp_path)
    sc = load_scenario(tmp_path)
    assert sc.ignored == ()
    assert sc.orders.n_orders == w.tables["orders"]["order_id"].nunique() == 1_000
    assert sc.network.n_nodes == w.params["n_nodes"] and sc.network.n_skus == w.params["n_skus"]
    assert int(sc.inventory.on_hand.sum()) == int(w.tables["inventory"]["on_hand"].sum())
    assert tomllib.loads((tmp_path / "policy.toml").read_text()) == {"max_shipments": 5}
    assert (np.asarray(sc.orders.max_shipments) == 5).all()
    nodes = w.tables["nodes"]
    assert (nodes["kind"] == "warehouse").all() and nodes["node_id"].is_unique
    assert not nodes[["lat", "lon"]].duplicated().any()  # distinct cities
    assert (w.tables["skus"][["weight_kg", "price"]] == [1.0, 10.0]).all().all()


@pytest.mark.parametrize("kind", WAVE_KINDS)
def test_order_shape(kind, waves):
    o = waves[kind].tables["orders"]
    lines = o.groupby("order_id").size()
    assert lines.max() <= 5 and lines.min() >= 1
    assert 1.6 < lines.mean() < 2.0  # 1 + Poisson(0.8), capped
    assert not o[["order_id", "sku"]].duplicated().any()  # distinct SKUs per order
    assert o["qty"].min() >= 1 and 1.2 < o["qty"].mean() < 1.4  # 1 + Poisson(0.3)
    # one place per order
    assert (o.groupby("order_id")[["lat", "lon"]].nunique() == 1).all().all()


def test_thin_stock_is_a_tenth_above_demand_per_sku(waves):
    w = waves["thin"]
    cover = _cover(w)
    total = w.tables["inventory"]["on_hand"].sum() / w.tables["orders"]["qty"].sum()
    assert total == pytest.approx(1.1, abs=0.03)
    # per SKU: floor or ceiling of 1.1 x demand, so never far off for any SKU
    demand = w.tables["orders"].groupby("sku")["qty"].sum()
    stock = w.tables["inventory"].groupby("sku")["on_hand"].sum().reindex(demand.index).fillna(0)
    assert ((stock >= np.floor(1.1 * demand - 1e-9)) & (stock <= np.ceil(1.1 * demand + 1e-9))).all()
    assert cover.min() > 0  # every demanded SKU has some stock
    # thin: most stocked cells hold one or two units
    assert (w.tables["inventory"]["on_hand"] <= 2).mean() > 0.7


def test_ample_has_three_times_demand(waves):
    assert _cover(waves["ample"]).between(2.9, 3.1).all()


def test_regional_stock_sits_in_at_most_two_census_regions(waves):
    from sourcewise.data.waves import _places

    w = waves["regional"]
    places = _places()
    nodes = w.tables["nodes"].merge(places[["lat", "lon", "region"]].round(5).drop_duplicates(["lat", "lon"]),
                                    on=["lat", "lon"], how="left")
    assert nodes["region"].notna().all()
    inv = w.tables["inventory"].merge(nodes[["node_id", "region"]], on="node_id")
    regions = inv.groupby("sku")["region"].nunique()
    assert regions.max() <= 2 and (regions == 1).any() and (regions == 2).any()


def test_longtail_has_more_skus_and_many_nearly_unstocked(waves):
    lt, thin = waves["longtail"], waves["thin"]
    assert lt.params["n_skus"] == 4 * thin.params["n_skus"]
    stock = lt.tables["inventory"].groupby("sku")["on_hand"].sum()
    demanded = lt.tables["orders"]["sku"].unique()
    assert (stock.reindex(demanded).fillna(0) <= 2).mean() > 0.4
    assert (thin.tables["inventory"].groupby("sku")["on_hand"].sum() <= 2).mean() < 0.3


def test_default_shapes_and_bad_arguments():
    assert default_shape(2_000) == (100, 500)
    assert default_shape(10_000) == (200, 2_000)
    assert default_shape(50_000) == (300, 5_000)
    assert default_shape(200) == (10, 50)
    with pytest.raises(ValueError, match="kind"):
        make_wave("sparse", 100)
    with pytest.raises(ValueError, match="n_orders"):
        make_wave("thin", 0)


def test_online_setup(online, tmp_path):
    o, f = online.tables["orders"], online.tables["forecast"]
    assert o["order_id"].nunique() == f["order_id"].nunique() == 3_000
    assert o.groupby("order_id")["qty"].sum().max() <= 10
    assert o.groupby("order_id").size().max() <= 10
    assert not o[["order_id", "sku"]].duplicated().any()
    assert sorted(o["day"].unique()) == [0, 1, 2]
    # orders come in time order
    first = o.drop_duplicates("order_id")
    assert first["created_at"].is_monotonic_increasing
    assert len(online.tables["nodes"]) == 10 and len(online.tables["skus"]) == 100
    # the forecast is another sample of the same demand: other orders, same SKUs and a close mix
    assert set(f["sku"]) == set(o["sku"])
    assert not np.array_equal(f["sku"].to_numpy()[:200], o["sku"].to_numpy()[:200])
    share_o = o.groupby("sku")["qty"].sum() / o["qty"].sum()
    share_f = (f.groupby("sku")["qty"].sum() / f["qty"].sum()).reindex(share_o.index)
    assert np.abs(share_o - share_f).sum() < 0.15
    # stock: 1.05 x the forecast, not the realized demand
    assert online.tables["inventory"]["on_hand"].sum() == pytest.approx(1.05 * f["qty"].sum(), rel=0.01)
    write_wave(online, tmp_path)
    sc = load_scenario(tmp_path)
    assert sc.ignored == ("forecast.csv",)
    fb = read_forecast(tmp_path, sc.network)
    assert fb.n_orders == 3_000 and int(fb.qty.sum()) == int(f["qty"].sum())
    assert make_online(n_orders=3_000, days=3, seed=5).tables["forecast"].equals(f)


def test_cli_writes_a_wave_and_refuses_orders_without_wave(tmp_path, capsys):
    out = tmp_path / "w"
    assert cli.main(["generate", "--wave", "longtail", "--orders", "300", "--seed", "2", "--out", str(out)]) == 0
    assert "longtail 300" in capsys.readouterr().out
    sc = load_scenario(out)
    assert sc.orders.n_orders == 300
    pd.testing.assert_frame_equal(pd.read_csv(out / "orders.csv", dtype={"line_id": str}),
                                  make_wave("longtail", 300, seed=2).tables["orders"].astype({"line_id": str}),
                                  check_dtype=False)
    assert cli.main(["generate", "--orders", "300", "--out", str(tmp_path / "x")]) == 2
    assert "applies to --wave only" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
