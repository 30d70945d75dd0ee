"""Benchmark waves for batch optimization: a family of order waves and a multi-day online set-up.

Every wave is a scenario in the project's format (``nodes``, ``skus``,
``inventory``, ``orders`` as CSV plus ``policy.toml``; :func:`write_wave`)
that :func:`sourcewise.engine.scenario.load_scenario` reads. The cost model
is the project's default with no handling costs and no vendor fees: every
node is a warehouse, every SKU weighs 1 kg and costs 10, so a plan's cost is
its parcels and unit-miles only and waves of different kinds compare.

Wave kinds (:func:`make_wave`), all built the same way:

* **orders** sit in US cities drawn in proportion to population (the
  project's city list, :func:`sourcewise.data.generate.cities`); each has
  ``1 + Poisson(0.8)`` lines (at most 5, distinct SKUs) of
  ``1 + Poisson(0.3)`` units, SKUs drawn by Zipf popularity
  (:func:`sourcewise.data.instances.sku_popularity`);
* **nodes** are warehouses in distinct cities, drawn by population without
  replacement (so mostly large cities);
* **stock** of each SKU totals about ``cover`` times the wave's demand for
  it (randomised rounding of ``cover * demand``), spread over the nodes
  that may stock it in proportion to their city's population.

=========== ====== ======= =========================================================
kind        Zipf   cover   what is different
=========== ====== ======= =========================================================
``thin``    0.8    1.1     as ``../shared/data/waves/README.md``: nodes hold a few
                           units of many SKUs, most multi-line orders must split
``ample``   0.8    3.0     plenty of stock: greedy routing is close to optimal
``regional`` 0.8   1.1     each SKU stocked in one or two of the four US census
                           regions only: far orders ship long or split
``longtail`` 0.5   1.1     four times the SKUs and a flatter Zipf: many SKUs have
                           one or two units of stock in total
=========== ====== ======= =========================================================

The **online** set-up (:func:`make_online`) is a multi-day stream for
dual-price routing: about 10,000 orders a day, 100 SKUs, orders of up to 10
units, 10 fulfilment centres; stock is a forecast's demand times a safety
factor, placed where the forecast's demand is nearest. The forecast is an
independent sample of the same demand (another seed), written as
``forecast.csv`` in the orders table's format (``load_scenario`` ignores the
file; :func:`read_forecast` reads it).

Everything is deterministic given the arguments.
"""

from __future__ import annotations

import argparse
import functools
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import numpy as np
import pandas as pd

from sourcewise.data.generate import cities
from sourcewise.data.generate import weighted_sample_without_replacement
from sourcewise.data.instances import sku_popularity
from sourcewise.models.policy import dump_toml

if TYPE_CHECKING:
    from sourcewise.models.network import Network
    from sourcewise.models.tables import OrderBatch

#: The kinds :func:`make_wave` builds.
WAVE_KINDS: tuple[str, ...] = ("thin", "ample", "regional", "longtail")

#: Zipf exponent, stock cover and SKU-count factor of each kind.
KIND_PARAMS: dict[str, dict[str, float]] = {
    "thin": {"zipf": 0.8, "cover": 1.1, "sku_factor": 1.0},
    "ample": {"zipf": 0.8, "cover": 3.0, "sku_factor": 1.0},
    "regional": {"zipf": 0.8, "cover": 1.1, "sku_factor": 1.0},
    "longtail": {"zipf": 0.5, "cover": 1.1, "sku_factor": 4.0},
}

#: Nodes and SKUs (before the kind's SKU factor) of the preset wave sizes.
PRESETS: dict[int, tuple[int, int]] = {2_000: (100, 500), 10_000: (200, 2_000), 50_000: (300, 5_000)}

#: Policy of every wave: up to 5 parcels per order (also written on each order line).
MAX_SHIPMENTS = 5
WAVE_POLICY: dict[str, Any] = {"max_shipments": MAX_SHIPMENTS}

MAX_LINES = 5
LINES_MEAN = 0.8
"""Lines per order are ``1 + Poisson(LINES_MEAN)``, at most :data:`MAX_LINES`."""
QTY_MEAN = 0.3
"""Units per line are ``1 + Poisson(QTY_MEAN)``."""

# US census regions by state (admin1 code); Hawaii and Alaska are in the West.
_CENSUS_REGION: dict[str, int] = {
    **dict.fromkeys(("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"), 0),
    **dict.fromkeys(("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"), 1),
    **dict.fromkeys(("DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV", "AL", "KY", "MS", "TN",
                     "AR", "LA", "OK", "TX"), 2),
    **dict.fromkeys(("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR", "WA"), 3),
}
N_REGIONS = 4


@dataclass(eq=False)
class Wave:
    """The tables of a generated wave, its policy and the arguments it came from.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``nodes``, ``skus``, ``inventory``, ``orders`` (and ``forecast`` for
        the online set-up), in the columns ``load_scenario`` reads.
    policy : dict
        Written as ``policy.toml``.
    params : dict
        The generator's arguments, for labels and reports.
    """

    tables: dict[str, pd.DataFrame]
    policy: dict[str, Any] = field(default_factory=lambda: dict(WAVE_POLICY))
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``kind orders x nodes x SKUs``, e.g. ``thin 2,000 x 100 x 500``."""
        p = self.params
        return f"{p['kind']} {p['n_orders']:,} x {p['n_nodes']:,} x {p['n_skus']:,}"


@functools.lru_cache(maxsize=1)
def _places() -> pd.DataFrame:
    """US cities with population and census region (the list is cached by ``cities`` too; do not mutate)."""
    c = cities("US")
    c = c.loc[c["population"] > 0, ["lat", "lon", "population", "admin1"]].reset_index(drop=True)
    c["region"] = c["admin1"].map(_CENSUS_REGION).fillna(3).astype(np.int64)
    return c


def default_shape(n_orders: int) -> tuple[int, int]:
    """Nodes and SKUs for a wave of ``n_orders`` (before the kind's SKU factor).

    The presets (:data:`PRESETS`) for 2,000, 10,000 and 50,000 orders; in
    between, the largest preset not above ``n_orders``; below 2,000, scaled
    down in proportion (at least 5 nodes and 20 SKUs) so small test waves
    keep the same stock per node.
    """
    if n_orders < 1:
        raise ValueError(f"n_orders must be >= 1, got {n_orders}")
    below = [k for k in PRESETS if k <= n_orders]
    if below:
        return PRESETS[max(below)]
    nodes, skus = PRESETS[2_000]
    return max(5, round(nodes * n_orders / 2_000)), max(20, round(skus * n_orders / 2_000))


def _draw_orders(rng: np.random.Generator, n_orders: int, pop: np.ndarray, places: pd.DataFrame,
                 n_lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per line: owning order, SKU (distinct within an order); per order: city row.

    SKUs are drawn without replacement within an order (Gumbel-top-k on the
    log popularity, grouped by line count), so an order never names one SKU
    twice and the popularity of each draw is the Zipf's.
    """
    total = int(n_lines.sum())
    owner = np.repeat(np.arange(n_orders), n_lines)
    sku = np.empty(total, np.int64)
    start = np.zeros(n_orders + 1, np.int64)
    np.cumsum(n_lines, out=start[1:])
    logw = np.log(pop)
    for k in np.unique(n_lines):
        rows = np.flatnonzero(n_lines == k)
        draws = weighted_sample_without_replacement(rng, logw, len(rows), int(k))
        idx = (start[rows][:, None] + np.arange(k)[None, :]).ravel()
        sku[idx] = draws.ravel()
    w = places["population"].to_numpy(np.float64)
    city = rng.choice(len(places), size=n_orders, p=w / w.sum())
    return owner, sku, city


def _pick_nodes(rng: np.random.Generator, n_nodes: int, places: pd.DataFrame) -> np.ndarray:
    """Rows of ``places`` for ``n_nodes`` distinct cities drawn by population."""
    if n_nodes > len(places):
        raise ValueError(f"n_nodes must be at most {len(places)} (the US cities known), got {n_nodes}")
    logw = np.log(places["population"].to_numpy(np.float64))
    return weighted_sample_without_replacement(rng, logw, 1, n_nodes)[0]


def _round_random(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """``floor(x)`` plus one with probability ``x - floor(x)``: integers with mean ``x``."""
    base = np.floor(x)
    return (base + (rng.random(len(x)) < x - base)).astype(np.int64)


def _spread(rng: np.random.Generator, units: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                        np.ndarray]:
    """Split each SKU's ``units`` over nodes by ``weights`` (n_skus x n_nodes rows, each summing > 0).

    Returns the (node, sku, on_hand) of every stocked cell, ``on_hand > 0``.
    """
    nodes, skus, qty = [], [], []
    for s in np.flatnonzero(units > 0):
        p = weights[s] / weights[s].sum()
        q = rng.multinomial(int(units[s]), p)
        nz = np.flatnonzero(q)
        nodes.append(nz)
        skus.append(np.full(len(nz), s))
        qty.append(q[nz])
    if not nodes:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(nodes), np.concatenate(skus), np.concatenate(qty)


def _tables(node_lat: np.ndarray, node_lon: np.ndarray, n_skus: int, inv: tuple[np.ndarray, np.ndarray, np.ndarray],
            orders: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Scenario tables: warehouses, unit-weight SKUs, stock by (node, SKU), the orders."""
    node_ids = np.array([f"n{i}" for i in range(len(node_lat))], dtype=object)
    sku_ids = np.array([f"s{i}" for i in range(n_skus)], dtype=object)
    nodes = pd.DataFrame({"node_id": node_ids, "kind": "warehouse", "lat": np.round(node_lat, 5),
                          "lon": np.round(node_lon, 5)})
    skus = pd.DataFrame({"sku": sku_ids, "weight_kg": 1.0, "price": 10.0})
    n, s, q = inv
    order = np.lexsort((s, n))
    inventory = pd.DataFrame({"node_id": node_ids[n[order]], "sku": sku_ids[s[order]], "on_hand": q[order]})
    return {"nodes": nodes, "skus": skus, "inventory": inventory, "orders": orders}


def _order_lines(owner: np.ndarray, sku: np.ndarray, qty: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                 max_shipments: int | None, prefix: str = "o") -> pd.DataFrame:
    """The line-level orders table; order ids ``o0...``, line ids numbered through the wave."""
    df = pd.DataFrame({
        "order_id": np.char.add(prefix, owner.astype(str)).astype(object),
        "line_id": np.arange(len(owner)).astype(str).astype(object),
        "sku": np.char.add("s", sku.astype(str)).astype(object),
        "qty": qty.astype(np.int64),
        "lat": np.round(lat[owner], 5),
        "lon": np.round(lon[owner], 5),
    })
    if max_shipments is not None:
        df["max_shipments"] = int(max_shipments)
    return df


def make_wave(kind: str, n_orders: int, seed: int = 0, n_nodes: int | None = None,
              n_skus: int | None = None) -> Wave:
    """One wave of the benchmark family.

    Parameters
    ----------
    kind : {"thin", "ample", "regional", "longtail"}
        See the module docstring.
    n_orders : int
        Orders in the wave (>= 1).
    seed : int
        Random seed; the same arguments give the same tables.
    n_nodes, n_skus : int, optional
        Default: :func:`default_shape` (SKUs times the kind's SKU factor).

    Returns
    -------
    Wave
        Tables ``nodes``, ``skus``, ``inventory``, ``orders`` and the policy
        ``max_shipments = 5``.

    Raises
    ------
    ValueError
        For an unknown kind or sizes below 1.
    """
    if kind not in KIND_PARAMS:
        raise ValueError(f"kind must be one of {', '.join(WAVE_KINDS)}, got {kind!r}")
    kp = KIND_PARAMS[kind]
    d_nodes, d_skus = default_shape(n_orders)
    n_nodes = d_nodes if n_nodes is None else int(n_nodes)
    n_skus = round(d_skus * kp["sku_factor"]) if n_skus is None else int(n_skus)
    if n_nodes < 1 or n_skus < 1:
        raise ValueError(f"n_nodes and n_skus must be >= 1, got {n_nodes} and {n_skus}")
    # one stream per part, so that changing e.g. the stock rule leaves the orders as they were
    kind_no = WAVE_KINDS.index(kind)
    rng_nodes, rng_orders, rng_stock = (np.random.default_rng([seed, kind_no, part]) for part in (1, 2, 3))
    places = _places()
    pop = sku_popularity(n_skus, catalog_seed=seed, exponent=kp["zipf"])

    n_lines = np.minimum(1 + rng_orders.poisson(LINES_MEAN, n_orders), min(MAX_LINES, n_skus))
    qty = 1 + rng_orders.poisson(QTY_MEAN, int(n_lines.sum()))
    owner, sku, city = _draw_orders(rng_orders, n_orders, pop, places, n_lines)
    o_lat = places["lat"].to_numpy()[city]
    o_lon = places["lon"].to_numpy()[city]
    orders = _order_lines(owner, sku, qty, o_lat, o_lon, MAX_SHIPMENTS)

    node_rows = _pick_nodes(rng_nodes, n_nodes, places)
    node_pop = places["population"].to_numpy(np.float64)[node_rows]
    demand = np.bincount(sku, weights=qty, minlength=n_skus)
    units = _round_random(rng_stock, kp["cover"] * demand)
    weights = np.broadcast_to(node_pop, (n_skus, n_nodes))
    if kind == "regional":
        # one or two census regions per SKU, drawn by the population of the nodes there; a region
        # without nodes (tiny waves) is replaced by the most populous one that has some
        node_region = places["region"].to_numpy()[node_rows]
        reg_pop = np.bincount(node_region, weights=node_pop, minlength=N_REGIONS)
        chosen = weighted_sample_without_replacement(
            rng_stock, np.log(np.maximum(reg_pop, 1e-300)), n_skus, min(2, int((reg_pop > 0).sum())))
        n_regions = np.where(rng_stock.random(n_skus) < 0.5, 1, chosen.shape[1])
        allowed = np.zeros((n_skus, N_REGIONS), bool)
        for j in range(chosen.shape[1]):
            rows = np.flatnonzero(n_regions > j)
            allowed[rows, chosen[rows, j]] = True
        weights = np.where(allowed[:, node_region], node_pop[None, :], 0.0)
    inv = _spread(rng_stock, units, weights)
    lat = places["lat"].to_numpy()[node_rows]
    lon = places["lon"].to_numpy()[node_rows]
    params = {"kind": kind, "n_orders": n_orders, "n_nodes": n_nodes, "n_skus": n_skus, "seed": seed, **kp}
    return Wave(_tables(lat, lon, n_skus, inv, orders), dict(WAVE_POLICY), params)


#: Online set-up defaults (:func:`make_online`).
ONLINE_DEFAULTS: dict[str, Any] = {"n_orders": 50_000, "days": 5, "n_skus": 100, "n_nodes": 10,
                                   "max_items": 10, "items_mean": 1.5, "safety": 1.05, "zipf": 0.8}


def _online_demand(rng: np.random.Generator, n_orders: int, days: int, n_skus: int, max_items: int,
                   items_mean: float, pop: np.ndarray, places: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Orders of ``1 + Poisson(items_mean)`` units (at most ``max_items``) over ``days`` days.

    Each unit picks a SKU by popularity; units of one SKU make one line, so an
    order has at most ``max_items`` lines. Orders are in time order
    (``created_at``, ``day`` from 0).
    """
    items = np.minimum(1 + rng.poisson(items_mean, n_orders), max_items)
    owner = np.repeat(np.arange(n_orders), items)
    unit_sku = rng.choice(n_skus, size=len(owner), p=pop)
    lines = pd.DataFrame({"o": owner, "s": unit_sku}).groupby(["o", "s"], sort=True).size()
    l_owner = lines.index.get_level_values(0).to_numpy()
    l_sku = lines.index.get_level_values(1).to_numpy()
    w = places["population"].to_numpy(np.float64)
    city = rng.choice(len(places), size=n_orders, p=w / w.sum())
    # arrival times: uniform over the horizon, orders numbered in time order
    seconds = np.sort(rng.uniform(0.0, days * 86_400.0, n_orders))
    df = _order_lines(l_owner, l_sku, lines.to_numpy(), places["lat"].to_numpy()[city],
                      places["lon"].to_numpy()[city], None, prefix)
    start = pd.Timestamp("2024-03-04")
    stamp = start + pd.to_timedelta(np.floor(seconds[l_owner]), unit="s")
    df["created_at"] = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    df["day"] = (seconds[l_owner] // 86_400).astype(np.int64)
    return df


def make_online(n_orders: int = 50_000, days: int = 5, n_skus: int = 100, n_nodes: int = 10,
                seed: int = 0, forecast_seed: int | None = None, max_items: int = 10,
                items_mean: float = 1.5, safety: float = 1.05, zipf: float = 0.8) -> Wave:
    """A multi-day online stream, its stock and an independent forecast sample.

    Parameters
    ----------
    n_orders : int
        Orders over the horizon (the forecast has as many).
    days : int
        Days the orders arrive over (``day`` 0 to ``days - 1``).
    n_skus, n_nodes : int
        SKUs and fulfilment centres (warehouses in distinct cities drawn by
        population).
    seed : int
        Seed of the network, the stock and the realized orders.
    forecast_seed : int, optional
        Seed of the forecast sample; default ``seed + 1``. Same
        distribution, other draws.
    max_items : int
        Units per order are ``1 + Poisson(items_mean)`` capped here.
    items_mean : float
    safety : float
        Stock of a SKU is ``safety`` times its forecast demand (randomised
        rounding); the forecast's noise still leaves some SKUs short.
    zipf : float
        SKU popularity exponent.

    Returns
    -------
    Wave
        Tables ``nodes``, ``skus``, ``inventory``, ``orders`` and
        ``forecast`` (orders ``f0...``, the orders table's columns); no
        parcel limit (empty policy).

    Notes
    -----
    Stock sits where the forecast's demand is: each SKU's units go to the
    fulfilment centres in proportion to the forecast units of that SKU whose
    customer is nearest to each centre (plus one pseudo-unit per centre, so
    every centre may hold a little of every SKU).
    """
    if min(n_orders, days, n_skus, n_nodes, max_items) < 1:
        raise ValueError("n_orders, days, n_skus, n_nodes and max_items must be >= 1")
    forecast_seed = seed + 1 if forecast_seed is None else forecast_seed
    places = _places()
    pop = sku_popularity(n_skus, catalog_seed=seed, exponent=zipf)
    rng_nodes = np.random.default_rng([seed, 9, 1])
    rng_stock = np.random.default_rng([seed, 9, 3])
    orders = _online_demand(np.random.default_rng([seed, 9, 2]), n_orders, days, n_skus, max_items, items_mean,
                            pop, places, "o")
    forecast = _online_demand(np.random.default_rng([forecast_seed, 9, 2]), n_orders, days, n_skus, max_items,
                              items_mean, pop, places, "f")
    node_rows = _pick_nodes(rng_nodes, n_nodes, places)
    lat = places["lat"].to_numpy()[node_rows]
    lon = places["lon"].to_numpy()[node_rows]
    # nearest centre of each forecast line (squared degrees, longitude scaled by latitude: fine for "nearest")
    f_lat, f_lon = forecast["lat"].to_numpy(), forecast["lon"].to_numpy()
    dx = (f_lon[:, None] - lon[None, :]) * np.cos(np.radians(f_lat))[:, None]
    nearest = np.argmin(dx ** 2 + (f_lat[:, None] - lat[None, :]) ** 2, axis=1)
    f_sku = forecast["sku"].str.slice(1).astype(np.int64).to_numpy()
    f_qty = forecast["qty"].to_numpy(np.float64)
    weights = np.ones((n_skus, n_nodes))
    np.add.at(weights, (f_sku, nearest), f_qty)
    units = _round_random(rng_stock, safety * np.bincount(f_sku, weights=f_qty, minlength=n_skus))
    tables = _tables(lat, lon, n_skus, _spread(rng_stock, units, weights), orders)
    tables["forecast"] = forecast
    params = {"kind": "online", "n_orders": n_orders, "n_nodes": n_nodes, "n_skus": n_skus, "seed": seed,
              "forecast_seed": forecast_seed, "days": days, "max_items": max_items, "items_mean": items_mean,
              "safety": safety, "zipf": zipf}
    return Wave(tables, {}, params)


def write_wave(wave: Wave, out: str | Path, fmt: str = "csv") -> Path:
    """Write ``wave`` as a scenario folder: one file per table plus ``policy.toml``, all or nothing.

    Parameters
    ----------
    wave : Wave
    out : str or Path
        Folder, created if missing; files of the same names are replaced,
        others kept, except a table's file in the other format (a folder with
        both would be ambiguous to ``load_scenario``).
    fmt : {"csv", "parquet"}

    Returns
    -------
    Path
        ``out``.
    """
    from sourcewise.engine.scenario import staged_output

    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out)
    other = "parquet" if fmt == "csv" else "csv"
    with staged_output(out, ".wave-", remove=[f"{t}.{other}" for t in wave.tables]) as (stage, _):
        for name, df in wave.tables.items():
            if fmt == "csv":
                df.to_csv(stage / f"{name}.csv", index=False)
            else:
                df.to_parquet(stage / f"{name}.parquet", index=False)
        (stage / "policy.toml").write_text(dump_toml(wave.policy), encoding="utf-8")
    return out


def read_forecast(folder: str | Path, network: Network) -> OrderBatch:
    """The ``forecast.csv`` of an online scenario folder as an :class:`~sourcewise.models.tables.OrderBatch`.

    Parameters
    ----------
    folder : str or Path
        Written by :func:`write_wave` from :func:`make_online`.
    network : Network
        The scenario's network (``load_scenario(folder).network``).
    """
    from sourcewise.engine.scenario import read_table
    from sourcewise.models.tables import orders_from_frame

    df = read_table(Path(folder), "forecast")
    if df is None:
        raise FileNotFoundError(f"{folder} has no forecast table")
    return orders_from_frame(network, df)


def wave_from_args(args: argparse.Namespace) -> Wave:
    """The wave ``sourcewise generate --wave KIND`` asks for (``online`` for the online set-up)."""
    n = args.wave_orders
    if args.wave == "online":
        return make_online(n_orders=ONLINE_DEFAULTS["n_orders"] if n is None else n, seed=args.seed)
    return make_wave(args.wave, 2_000 if n is None else n, seed=args.seed)
