"""Tests for the geography-based scenario generator :mod:`sourcewise.data.generate`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from pandas.api import types as ptypes

from sourcewise import cli
from sourcewise.data.generate import SCHEMA
from sourcewise.data.generate import TABLES
from sourcewise.data.generate import Scenario
from sourcewise.data.generate import cities
from sourcewise.data.generate import default_policy
from sourcewise.data.generate import generate_scenario
from sourcewise.data.generate import main
from sourcewise.data.generate import read_scenario
from sourcewise.data.generate import write_scenario
from sourcewise.engine.scenario import load_scenario

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
SAMPLE_ARGS = {
    "n_warehouses": 4,
    "n_stores": 12,
    "n_vendors": 3,
    "n_skus": 150,
    "orders_per_day": 150,
    "days": 2,
    "seed": 7,
}

# The contract, written out independently of the module's SCHEMA constant:
# column -> kind ("str", "int", "float", "bool", "nullable_int").
REQUIRED: dict[str, dict[str, str]] = {
    "nodes": {
        "node_id": "str",
        "kind": "str",
        "lat": "float",
        "lon": "float",
        "priority": "int",
        "ships": "bool",
        "pickup": "bool",
        "handling_per_shipment": "float",
        "handling_per_unit": "float",
        "processing_days": "int",
        "fee_rate": "float",
        "enabled": "bool",
        "city": "str",
        "population": "int",
        "capacity_orders": "int",
        "capacity_units": "int",
        "cutoff_hour": "int",
    },
    "skus": {
        "sku": "str",
        "weight_kg": "float",
        "price": "float",
        "category": "str",
        "brand": "str",
    },
    "inventory": {"node_id": "str", "sku": "str", "on_hand": "int", "safety_stock": "int"},
    "orders": {
        "order_id": "str",
        "line_id": "str",
        "sku": "str",
        "qty": "int",
        "lat": "float",
        "lon": "float",
        "allow_split": "bool",
        "max_shipments": "nullable_int",
        "created_at": "str",
        "service_level": "str",
        "city": "str",
        "day": "int",
    },
    "walkin": {"node_id": "str", "sku": "str", "walkin_daily_demand": "float"},
    "replenishment": {"node_id": "str", "sku": "str", "day": "int", "qty": "int"},
    "vendor_offers": {
        "node_id": "str",
        "sku": "str",
        "price": "float",
        "fee_rate": "float",
        "lead_days": "int",
        "reliability": "float",
    },
}

SMALL_ARGS = {
    "n_warehouses": 3,
    "n_stores": 6,
    "n_vendors": 2,
    "n_skus": 80,
    "orders_per_day": 60,
    "days": 2,
    "seed": 11,
}


@pytest.fixture(scope="module")
def default_scenario() -> Scenario:
    return generate_scenario()


@pytest.fixture(scope="module")
def small_scenario() -> Scenario:
    return generate_scenario(**SMALL_ARGS)


@pytest.fixture(scope="module")
def many_orders() -> Scenario:
    """Few nodes and SKUs but 3,000 orders, for statistics on customers."""
    return generate_scenario(
        n_warehouses=2, n_stores=2, n_vendors=1, n_skus=40, orders_per_day=1500, days=2, seed=5
    )


@pytest.fixture(scope="module")
def us_cities() -> pd.DataFrame:
    return cities("US")


# --------------------------------------------------------------------------- #
# Invariants shared by several tests
# --------------------------------------------------------------------------- #


def _check_dtype(series: pd.Series, kind: str) -> None:
    name = series.name
    if kind == "str":
        assert ptypes.is_string_dtype(series.dtype), (name, series.dtype)
        assert all(isinstance(v, str) for v in series), name
    elif kind == "int":
        assert ptypes.is_integer_dtype(series.dtype), (name, series.dtype)
        assert not isinstance(series.dtype, pd.api.extensions.ExtensionDtype), (name, series.dtype)
    elif kind == "nullable_int":
        assert series.dtype == "Int64", (name, series.dtype)
    elif kind == "float":
        assert ptypes.is_float_dtype(series.dtype), (name, series.dtype)
        assert np.isfinite(series.to_numpy()).all(), name
    elif kind == "bool":
        assert ptypes.is_bool_dtype(series.dtype), (name, series.dtype)
    else:  # pragma: no cover - typo guard
        raise AssertionError(kind)


def check_scenario(
    sc: Scenario,
    *,
    n_warehouses: int,
    n_stores: int,
    n_vendors: int,
    n_skus: int,
    orders_per_day: int,
    days: int,
    **_: object,
) -> None:
    """Assert every documented property of a generated scenario."""
    # Schema: exact columns, in order, with the right dtypes.
    assert tuple(sc.tables()) == TABLES
    for name, columns in REQUIRED.items():
        frame = getattr(sc, name)
        assert list(frame.columns) == list(columns), name
        assert list(SCHEMA[name]) == list(columns), name
        for col, kind in columns.items():
            _check_dtype(frame[col], kind)

    nodes, skus, inv = sc.nodes, sc.skus, sc.inventory
    orders, walkin, rep, offers = sc.orders, sc.walkin, sc.replenishment, sc.vendor_offers

    # Nodes.
    assert nodes["node_id"].is_unique
    counts = nodes["kind"].value_counts()
    assert counts.get("warehouse", 0) == n_warehouses
    assert counts.get("store", 0) == n_stores
    assert counts.get("vendor", 0) == n_vendors
    assert len(nodes) == n_warehouses + n_stores + n_vendors
    kind = nodes.set_index("node_id")["kind"]
    prefix = {
        "warehouse": r"WH-[A-Z0-9-]+",
        "store": r"ST-\d{4}-[A-Z0-9-]+",
        "vendor": r"VN-\d{2,}",
    }
    for node_id, k in kind.items():
        assert re.fullmatch(prefix[k], node_id), node_id
    assert (nodes["priority"] == nodes["kind"].map({"warehouse": 1, "store": 2, "vendor": 3})).all()
    assert (nodes["pickup"] == (nodes["kind"] == "store")).all()
    own = nodes["kind"] != "vendor"
    assert (nodes.loc[own, "fee_rate"] == 0.0).all()
    assert nodes.loc[~own, "fee_rate"].between(0.10, 0.18).all()
    assert nodes["lat"].between(-90, 90).all() and nodes["lon"].between(-180, 180).all()
    assert (nodes["population"] > 0).all()
    assert (nodes["capacity_orders"] > 0).all() and (nodes["capacity_units"] > 0).all()
    assert nodes["cutoff_hour"].between(0, 23).all()
    assert (nodes["processing_days"] >= 0).all()
    assert (nodes["handling_per_shipment"] >= 0).all() and (nodes["handling_per_unit"] >= 0).all()
    if n_warehouses and n_stores:
        wh_cap = nodes.loc[nodes["kind"] == "warehouse", "capacity_orders"].min()
        assert wh_cap > nodes.loc[nodes["kind"] == "store", "capacity_orders"].max() or wh_cap == 10
    # Stores sit in the largest cities, one per city, largest first.
    st_pop = nodes.loc[nodes["kind"] == "store", "population"].to_numpy()
    assert (np.diff(st_pop) <= 0).all()

    # SKUs.
    assert len(skus) == n_skus
    assert skus["sku"].is_unique
    assert skus["sku"].str.fullmatch(r"SKU-\d{5}").all()
    assert (skus["weight_kg"] > 0).all() and (skus["price"] > 0).all()

    # Inventory: sparse, valid references, no duplicates, safety <= on_hand.
    assert (inv["on_hand"] >= 1).all()
    assert (inv["safety_stock"] >= 0).all()
    assert (inv["safety_stock"] <= inv["on_hand"]).all()
    assert inv["node_id"].isin(nodes["node_id"]).all()
    assert inv["sku"].isin(skus["sku"]).all()
    assert not inv.duplicated(["node_id", "sku"]).any()

    # Orders.
    n_orders = orders_per_day * days
    assert orders["order_id"].nunique() == n_orders
    assert orders["line_id"].is_unique
    assert (orders["qty"] >= 1).all()
    assert orders["sku"].isin(skus["sku"]).all()
    assert orders["service_level"].isin(["standard", "express", "next_day"]).all()
    ms = orders["max_shipments"].dropna()
    assert (ms >= 1).all()
    created = pd.to_datetime(orders["created_at"], format="ISO8601")
    assert created.is_monotonic_increasing
    if n_orders:
        start = created.min().normalize()
        assert ((created - start).dt.days == orders["day"]).all()
        assert orders["day"].between(0, days - 1).all()
        assert (orders.groupby("day")["order_id"].nunique() == orders_per_day).all()
    # Order ids follow creation time; line ids follow order ids.
    assert orders["order_id"].is_monotonic_increasing
    assert (orders["line_id"].str.rsplit("-", n=1).str[0] == orders["order_id"]).all()
    per_order = orders.groupby("order_id", sort=False)
    order_level = ["lat", "lon", "allow_split", "created_at", "service_level", "city", "day"]
    assert (per_order[order_level].nunique() == 1).all().all()
    assert (per_order["max_shipments"].nunique(dropna=False) == 1).all()
    assert not orders.duplicated(["order_id", "sku"]).any()
    assert per_order.size().between(1, 8).all()

    # Walk-in: stores only, SKUs the store stocks.
    stores = set(nodes.loc[nodes["kind"] == "store", "node_id"])
    assert walkin["node_id"].isin(stores).all()
    assert (walkin["walkin_daily_demand"] >= 0).all()
    assert not walkin.duplicated(["node_id", "sku"]).any()
    stocked = set(zip(inv["node_id"], inv["sku"], strict=True))
    assert set(zip(walkin["node_id"], walkin["sku"], strict=True)) <= stocked

    # Replenishment: own nodes, future days, positive quantities.
    assert rep["node_id"].isin(nodes.loc[own, "node_id"]).all()
    assert rep["sku"].isin(skus["sku"]).all()
    assert (rep["day"] >= 1).all() and (rep["qty"] > 0).all()
    assert not rep.duplicated(["node_id", "sku", "day"]).any()

    # Vendor offers: exactly the vendors' stocked SKUs.
    vendors = nodes.loc[~own, "node_id"]
    assert offers["node_id"].isin(vendors).all()
    vendor_inv = inv[inv["node_id"].isin(vendors)]
    assert set(zip(offers["node_id"], offers["sku"], strict=True)) == set(
        zip(vendor_inv["node_id"], vendor_inv["sku"], strict=True)
    )
    assert (offers["price"] > 0).all()
    assert ((offers["reliability"] > 0) & (offers["reliability"] <= 1)).all()
    assert (offers["lead_days"] >= 0).all()
    assert offers["fee_rate"].between(0.10, 0.18).all()

    # Policy.
    assert sc.policy["strategy"] == "cost"
    assert sc.policy["max_shipments"] == 3
    assert sc.policy["split_penalty"] == 0.0
    assert set(sc.policy["cost"]) >= {"per_shipment", "per_unit", "per_unit_mile"}


def assert_scenarios_equal(a: Scenario, b: Scenario) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    assert a.policy == b.policy


# --------------------------------------------------------------------------- #
# Geography
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("name", "lat", "lon"),
    [("Chicago", 41.8781, -87.6298), ("New York City", 40.7128, -74.0060)],
)
def test_cities_knows_real_city(us_cities: pd.DataFrame, name: str, lat: float, lon: float) -> None:
    row = us_cities[us_cities["name"] == name]
    assert len(row) == 1
    assert abs(row["lat"].iat[0] - lat) < 0.2
    assert abs(row["lon"].iat[0] - lon) < 0.2
    assert row["population"].iat[0] > 2_000_000


def test_cities_sorted_and_filtered(us_cities: pd.DataFrame) -> None:
    assert list(us_cities.columns[:4]) == ["name", "lat", "lon", "population"]
    assert len(us_cities) > 1000
    assert us_cities["name"].iat[0] == "New York City"
    assert us_cities["population"].is_monotonic_decreasing
    assert (us_cities.index == np.arange(len(us_cities))).all()
    big = cities("us", min_population=1_000_000)
    assert 5 <= len(big) < 30
    assert (big["population"] >= 1_000_000).all()
    pd.testing.assert_frame_equal(big, us_cities.iloc[: len(big)])
    assert cities("XX").empty
    # A copy: callers may mutate it freely.
    big.loc[0, "population"] = -1
    assert cities("US")["population"].iat[0] > 0


def test_customers_are_near_real_cities(many_orders: Scenario, us_cities: pd.DataFrame) -> None:
    orders = many_orders.orders.drop_duplicates("order_id")
    lat = orders["lat"].to_numpy()
    lon = orders["lon"].to_numpy()
    # Within 0.5 degrees of some real city ...
    for chunk in np.array_split(np.arange(len(orders)), 10):
        dlat = np.abs(lat[chunk, None] - us_cities["lat"].to_numpy()[None, :])
        dlon = np.abs(lon[chunk, None] - us_cities["lon"].to_numpy()[None, :])
        assert (np.maximum(dlat, dlon).min(axis=1) < 0.5).all()
    # ... and in particular of the city named on the order.
    merged = orders[["order_id", "city", "lat", "lon"]].merge(
        us_cities[["name", "lat", "lon"]], left_on="city", right_on="name", suffixes=("", "_city")
    )
    merged["dist"] = np.maximum(
        (merged["lat"] - merged["lat_city"]).abs(), (merged["lon"] - merged["lon_city"]).abs()
    )
    nearest = merged.groupby("order_id")["dist"].min()
    assert len(nearest) == len(orders)
    assert (nearest < 0.5).all()


def test_order_density_follows_population(many_orders: Scenario, us_cities: pd.DataFrame) -> None:
    orders = many_orders.orders.drop_duplicates("order_id")
    per_city = orders["city"].value_counts()
    largest = us_cities.iloc[0]
    smaller = us_cities[us_cities["population"] < largest["population"] / 10].iloc[0]
    assert per_city.get(largest["name"], 0) > per_city.get(smaller["name"], 0)
    # The largest city's share of orders matches its share of population.
    expected = len(orders) * largest["population"] / us_cities["population"].sum()
    assert 0.6 * expected < per_city.get(largest["name"], 0) < 1.4 * expected
    # Big cities collectively get more orders than the same number of small ones.
    top = per_city.reindex(us_cities["name"].iloc[:20]).fillna(0).sum()
    bottom = per_city.reindex(us_cities["name"].iloc[-20:]).fillna(0).sum()
    assert top > 10 * max(bottom, 1)


def test_warehouses_are_spread_large_cities(default_scenario: Scenario) -> None:
    wh = default_scenario.nodes[default_scenario.nodes["kind"] == "warehouse"]
    assert wh["city"].is_unique
    assert (wh["population"] >= 100_000).all()
    lat = np.radians(wh["lat"].to_numpy())
    lon = np.radians(wh["lon"].to_numpy())
    cos = np.sin(lat[:, None]) * np.sin(lat[None, :]) + np.cos(lat[:, None]) * np.cos(
        lat[None, :]
    ) * np.cos(lon[:, None] - lon[None, :])
    km = 6371.0 * np.arccos(np.clip(cos, -1, 1))
    np.fill_diagonal(km, np.inf)
    assert km.min() > 150  # no two hubs in the same metro area


# --------------------------------------------------------------------------- #
# Determinism and schema
# --------------------------------------------------------------------------- #


def test_same_seed_same_scenario(small_scenario: Scenario) -> None:
    assert_scenarios_equal(small_scenario, generate_scenario(**SMALL_ARGS))


def test_different_seed_different_orders(small_scenario: Scenario) -> None:
    other = generate_scenario(**{**SMALL_ARGS, "seed": SMALL_ARGS["seed"] + 1})
    assert not small_scenario.orders.equals(other.orders)
    assert not small_scenario.inventory.equals(other.inventory)


@pytest.mark.parametrize(
    ("fixture", "args"),
    [("default_scenario", {}), ("small_scenario", SMALL_ARGS)],
)
def test_schema_and_invariants(request: pytest.FixtureRequest, fixture: str, args: dict) -> None:
    import inspect

    defaults = {
        k: p.default
        for k, p in inspect.signature(generate_scenario).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    check_scenario(request.getfixturevalue(fixture), **{**defaults, **args})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=st.fixed_dictionaries({
        "n_warehouses": st.integers(0, 3),
        "n_stores": st.integers(0, 4),
        "n_vendors": st.integers(0, 2),
        "n_skus": st.integers(1, 30),
        "orders_per_day": st.integers(0, 25),
        "days": st.integers(1, 3),
        "seed": st.integers(0, 2**32 - 1),
    })
)
def test_invariants_hold_for_any_parameters(drawn: dict[str, int]) -> None:
    # a scenario needs at least one node: a vendor when there is nothing else
    no_other_node = drawn["n_warehouses"] + drawn["n_stores"] == 0
    args = drawn | {"n_vendors": drawn["n_vendors"] or (1 if no_other_node else 0)}
    check_scenario(generate_scenario(**args), **args)


def test_other_country() -> None:
    sc = generate_scenario(n_warehouses=2, n_stores=3, n_vendors=1, n_skus=20, seed=1, country="DE")
    assert sc.nodes.loc[sc.nodes["kind"] == "store", "city"].iat[0] == "Berlin"
    assert sc.orders["lat"].between(47, 55.5).all() and sc.orders["lon"].between(5.5, 15.5).all()


@pytest.mark.parametrize(
    "bad",
    [
        {"n_stores": -1},
        {"days": 0},
        {"n_skus": 0},
        {"n_warehouses": 0, "n_stores": 0, "n_vendors": 0},
        {"country": "XX"},
        {"n_stores": 100_000},
    ],
)
def test_invalid_arguments(bad: dict) -> None:
    with pytest.raises(ValueError):
        generate_scenario(**bad)


# --------------------------------------------------------------------------- #
# Stock levels
# --------------------------------------------------------------------------- #


def test_stores_run_lean(default_scenario: Scenario) -> None:
    inv = default_scenario.inventory.merge(default_scenario.nodes[["node_id", "kind"]])
    mean_on_hand = inv.groupby("kind")["on_hand"].mean()
    assert mean_on_hand["store"] < mean_on_hand["warehouse"]
    skus_per_node = inv.groupby(["kind", "node_id"]).size().groupby("kind").mean()
    assert skus_per_node["store"] < skus_per_node["warehouse"]
    # Warehouses carry most of the catalogue, vendors have ample stock.
    assert skus_per_node["warehouse"] > 0.5 * len(default_scenario.skus)
    assert mean_on_hand["vendor"] > mean_on_hand["warehouse"]


def test_stock_is_neither_trivial_nor_empty(default_scenario: Scenario) -> None:
    sc = default_scenario
    own = sc.nodes.loc[sc.nodes["kind"] != "vendor", "node_id"]
    stock = sc.inventory[sc.inventory["node_id"].isin(own)].groupby("sku")["on_hand"].sum()
    wh = sc.nodes.loc[sc.nodes["kind"] == "warehouse", "node_id"]
    wh_stock = sc.inventory[sc.inventory["node_id"].isin(wh)].groupby("sku")["on_hand"].sum()
    demand = sc.orders.groupby("sku")["qty"].sum()
    covered = demand.index.isin(stock.index)
    # Most ordered SKUs are in stock somewhere in the own network ...
    assert covered.mean() > 0.8
    # ... but warehouses cannot cover everything: some SKUs run short.
    short = demand.sub(wh_stock.reindex(demand.index, fill_value=0)) > 0
    assert short.any()
    # The total volume is in the right ballpark of the demand.
    assert 0.5 * demand.sum() < wh_stock.sum() < 20 * demand.sum()


# --------------------------------------------------------------------------- #
# I/O
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_read_round_trip(small_scenario: Scenario, tmp_path: Path, fmt: str) -> None:
    write_scenario(small_scenario, tmp_path, fmt=fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{t}.{fmt}" for t in TABLES] + ["policy.toml"]
    )
    # Plain pandas.
    for name in TABLES:
        frame = getattr(small_scenario, name)
        if fmt == "parquet":
            back = pd.read_parquet(tmp_path / f"{name}.parquet")
        else:
            dtypes = {c: (str if t == "str" else t) for c, t in SCHEMA[name].items()}
            back = pd.read_csv(
                tmp_path / f"{name}.csv",
                dtype=dtypes,
                keep_default_na=False,
                na_values={"max_shipments": [""]} if name == "orders" else None,
            )
        pd.testing.assert_frame_equal(back, frame, obj=name)
    policy = tomllib.loads((tmp_path / "policy.toml").read_text("utf-8"))
    assert policy == small_scenario.policy == default_policy()
    # And the module's reader.
    assert_scenarios_equal(read_scenario(tmp_path), small_scenario)


def test_write_rejects_unknown_format(small_scenario: Scenario, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_scenario(small_scenario, tmp_path, fmt="xlsx")


def test_policy_toml_literal(small_scenario: Scenario, tmp_path: Path) -> None:
    write_scenario(small_scenario, tmp_path)
    text = (tmp_path / "policy.toml").read_text("utf-8")
    for line in (
        'strategy = "cost"',
        "max_shipments = 3",
        "split_penalty = 0.0",
        "[cost]",
        "per_shipment = 8.759",
        "per_unit = 0.423",
        "per_unit_mile = 0.000541",
    ):
        assert line in text.splitlines()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--nodes", "2", "--stores", "3", "--vendors", "1", "--skus", "15"]
    argv += ["--orders-per-day", "10", "--days", "1", "--seed", "4"]
    assert main(["--out", str(tmp_path / "csv"), *argv]) == 0
    assert main(["--out", str(tmp_path / "pq"), *argv, "--format", "parquet"]) == 0
    assert "wrote" in capsys.readouterr().err
    expected = generate_scenario(
        n_warehouses=2, n_stores=3, n_vendors=1, n_skus=15, orders_per_day=10, days=1, seed=4
    )
    assert_scenarios_equal(read_scenario(tmp_path / "csv"), expected)
    assert_scenarios_equal(read_scenario(tmp_path / "pq"), expected)
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path / "bad"), "--days", "0"])
    assert exc.value.code == 2


# --------------------------------------------------------------------------- #
# Bundled sample
# --------------------------------------------------------------------------- #


def test_bundled_sample_is_valid_and_small() -> None:
    assert (SAMPLE_DIR / "policy.toml").exists()
    assert sum(p.stat().st_size for p in SAMPLE_DIR.iterdir()) < 1_000_000
    sample = read_scenario(SAMPLE_DIR, fmt="csv")
    check_scenario(sample, **SAMPLE_ARGS)


def test_bundled_sample_is_up_to_date() -> None:
    """Regenerate with ``python -m data.generate --out data/sample --nodes 4 --stores 12
    --vendors 3 --skus 150 --orders-per-day 150 --days 2 --seed 7`` if this fails."""
    assert_scenarios_equal(read_scenario(SAMPLE_DIR, fmt="csv"), generate_scenario(**SAMPLE_ARGS))


def test_generate_command_is_deterministic_and_validates(tmp_path, capsys):
    args = ["--stores", "3", "--vendors", "1", "--skus", "20", "--orders-per-day", "10", "--days", "1",
            "--seed", "4"]
    assert cli.main(["generate", "--out", str(tmp_path / "a"), "--nodes", "2", *args]) == 0
    assert cli.main(["generate", "--out", str(tmp_path / "b"), "--nodes", "2", *args]) == 0
    for name in ("nodes.csv", "orders.csv", "inventory.csv", "replenishment.csv", "policy.toml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert load_scenario(tmp_path / "a").orders.n_orders == 10
    assert cli.main(["generate", "--out", str(tmp_path / "c"), "--nodes", "-1", *args]) == 2
    assert "n_warehouses" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
