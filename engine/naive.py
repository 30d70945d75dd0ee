"""The labelled naive baseline: a per-line nearest-node router.

This is deliberately the code a typical in-house team writes first, and the
peer every benchmark figure is compared against ("what you'd write
instead"). It is plain Python over pandas tables:

* stock is a dict of dicts, ``{sku: {node_id: atp}}``;
* for each order, the haversine distance to **every** node is computed in a
  Python loop (or, with ``distance="numpy"``, in one vectorised numpy call,
  the variant a numpy-literate team would write), and nodes are sorted by it;
* each line takes units from the nearest node with stock, then the next
  nearest, until the line is filled or no node is left; stock is depleted
  as it goes, so later orders see what earlier ones left.

It never considers consolidating an order into fewer parcels, has no
shipment limit and no candidate index. It is not used by the engine; it is
a baseline for :mod:`sourcewise.engine.benchstudy` and the benchmark suite, and a
cross-check for the engine's ``nearest`` strategy (which, with no shipment
limit, must allocate identically).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sourcewise.models.errors import Collector
from sourcewise.models.policy import CostModel

EARTH_RADIUS_MI = 3958.7613
MILE_KM = 1.609344


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in miles between two points given in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MI * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, eq=False)
class NaiveResult:
    """Tables produced by :meth:`NaiveRouter.route_frame`.

    Attributes
    ----------
    allocations : DataFrame
        ``order_id, line_id, sku, node_id, qty``.
    orders : DataFrame
        ``order_id, status, shipments, units, unfilled, cost, distance_km``,
        the cost under the same :class:`~sourcewise.models.policy.CostModel` the engine uses.
    """

    allocations: pd.DataFrame
    orders: pd.DataFrame


class NaiveRouter:
    """Nearest-node-with-stock router, one line at a time, with depletion.

    Parameters
    ----------
    nodes : DataFrame
        ``node_id, lat, lon`` and optionally ``enabled``, ``ships``,
        ``handling_per_shipment``, ``handling_per_unit``, ``fee_rate``
        (the scenario ``nodes`` table).
    inventory : DataFrame
        ``node_id, sku, on_hand`` and optionally ``safety_stock``, ``reserved``.
    skus : DataFrame, optional
        ``sku, price, weight_kg``; used only to price vendor fees and weight
        in the reported cost.
    cost : CostModel, optional
        Used only to report cost; routing ignores it.
    distance : {"python", "numpy"}
        How distances to every node are computed per order.
    split_penalty : float
        Added to the reported cost for every shipment beyond the first, as
        the engine's policy does.

    Raises
    ------
    ValidationError
        For missing columns or unknown node ids in ``inventory``.
    """

    def __init__(self, nodes: pd.DataFrame, inventory: pd.DataFrame, skus: pd.DataFrame | None = None,
                 cost: CostModel | None = None, distance: str = "python", split_penalty: float = 0.0):
        col = Collector()
        for table, df, need in (("nodes", nodes, ("node_id", "lat", "lon")),
                                ("inventory", inventory, ("node_id", "sku", "on_hand"))):
            for c in need:
                if c not in df.columns:
                    col.add(table, None, c, "required column is missing")
        if distance not in ("python", "numpy"):
            col.add("naive", None, "distance", f"must be 'python' or 'numpy', got {distance!r}")
        col.raise_if_any()
        self.distance = distance
        self.cost_model = cost or CostModel()
        self.split_penalty = float(split_penalty)
        usable = np.ones(len(nodes), dtype=bool)
        for flag in ("enabled", "ships"):
            if flag in nodes.columns:
                usable &= nodes[flag].astype(bool).to_numpy()
        nodes = nodes.loc[usable]
        self.node_ids: list[str] = nodes["node_id"].astype(str).tolist()
        self.node_lat: list[float] = nodes["lat"].astype(float).tolist()
        self.node_lon: list[float] = nodes["lon"].astype(float).tolist()
        self._lat_arr = np.radians(np.asarray(self.node_lat))
        self._lon_arr = np.radians(np.asarray(self.node_lon))

        def column(name: str) -> dict[str, float]:
            vals = nodes[name].astype(float).tolist() if name in nodes.columns else [0.0] * len(nodes)
            return dict(zip(self.node_ids, vals, strict=True))

        self.h_ship = column("handling_per_shipment")
        self.h_unit = column("handling_per_unit")
        self.fee_rate = column("fee_rate")
        self.price: dict[str, float] = {}
        self.weight: dict[str, float] = {}
        if skus is not None:
            if "price" in skus.columns:
                self.price = dict(zip(skus["sku"].astype(str), skus["price"].astype(float), strict=True))
            if "weight_kg" in skus.columns:
                self.weight = dict(zip(skus["sku"].astype(str), skus["weight_kg"].astype(float), strict=True))

        known = set(self.node_ids)
        self.stock: dict[str, dict[str, int]] = {}
        safety = inventory["safety_stock"] if "safety_stock" in inventory.columns else 0
        reserved = inventory["reserved"] if "reserved" in inventory.columns else 0
        atp = (inventory["on_hand"] - safety - reserved).clip(lower=0)
        for node_id, sku, units in zip(inventory["node_id"].astype(str), inventory["sku"].astype(str),
                                       atp.astype(int), strict=True):
            if node_id not in known:
                continue  # disabled or non-shipping node: never allocated
            if units > 0:
                self.stock.setdefault(sku, {})[node_id] = int(units)

    # ----------------------------------------------------------------- routing
    def _nodes_by_distance(self, lat: float, lon: float) -> list[tuple[float, str]]:
        """Every node with its distance in miles, nearest first."""
        if self.distance == "numpy":
            p1 = math.radians(lat)
            dp = self._lat_arr - p1
            dl = self._lon_arr - math.radians(lon)
            a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(self._lat_arr) * np.sin(dl / 2) ** 2
            d = 2 * EARTH_RADIUS_MI * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
            order = np.argsort(d, kind="stable")
            ids = self.node_ids
            return [(float(d[i]), ids[i]) for i in order.tolist()]
        dist = [(haversine_miles(lat, lon, nl, no), nid)
                for nid, nl, no in zip(self.node_ids, self.node_lat, self.node_lon, strict=True)]
        dist.sort(key=lambda t: t[0])  # stable: ties keep table order
        return dist

    def route_frame(self, orders: pd.DataFrame) -> NaiveResult:
        """Route a line-level orders table in row order, depleting stock.

        Parameters
        ----------
        orders : DataFrame
            ``order_id, line_id, sku, qty, lat, lon``; the lines of one order
            are contiguous.

        Returns
        -------
        NaiveResult
        """
        col = Collector()
        for c in ("order_id", "line_id", "sku", "qty", "lat", "lon"):
            if c not in orders.columns:
                col.add("orders", None, c, "required column is missing")
        col.raise_if_any()
        alloc_rows: list[tuple[str, str, str, str, int]] = []
        order_rows: list[tuple[str, str, int, int, int, float, float]] = []
        cm = self.cost_model
        current = None
        lines: list = []
        for row in orders.itertuples(index=False):
            if row.order_id != current:
                if lines:
                    self._route_order(lines, alloc_rows, order_rows, cm)
                current = row.order_id
                lines = []
            lines.append(row)
        if lines:
            self._route_order(lines, alloc_rows, order_rows, cm)
        alloc = pd.DataFrame(alloc_rows, columns=["order_id", "line_id", "sku", "node_id", "qty"])
        summary = pd.DataFrame(order_rows, columns=["order_id", "status", "shipments", "units", "unfilled",
                                                    "cost", "distance_km"])
        return NaiveResult(alloc, summary)

    def _route_order(self, lines: list, alloc_rows: list, order_rows: list, cm: CostModel) -> None:
        first = lines[0]
        by_distance = self._nodes_by_distance(float(first.lat), float(first.lon))
        used: dict[str, float] = {}
        cost = 0.0
        units = 0
        unfilled = 0
        for line in lines:
            sku = str(line.sku)
            need = int(line.qty)
            held = self.stock.get(sku, {})
            for miles, node_id in by_distance:
                if need == 0:
                    break
                have = held.get(node_id, 0)
                if have <= 0:
                    continue
                take = min(have, need)
                held[node_id] = have - take
                need -= take
                units += take
                used[node_id] = miles
                alloc_rows.append((line.order_id, line.line_id, sku, node_id, take))
                cost += take * (cm.per_unit + cm.per_unit_mile * miles + self.h_unit[node_id]
                                + self.fee_rate[node_id] * self.price.get(sku, 0.0)
                                + cm.per_kg * self.weight.get(sku, 0.0))
            unfilled += need
        for node_id in used:
            cost += cm.per_shipment + self.h_ship[node_id]
        cost += self.split_penalty * max(0, len(used) - 1)
        status = "routed" if unfilled == 0 else ("unroutable" if units == 0 else "partial")
        km = sum(used.values()) * MILE_KM
        order_rows.append((first.order_id, status, len(used), units, unfilled, cost, km))


def route_naive(nodes: pd.DataFrame, inventory: pd.DataFrame, orders: pd.DataFrame,
                skus: pd.DataFrame | None = None, distance: str = "python") -> NaiveResult:
    """Route ``orders`` with a fresh :class:`NaiveRouter` (see its parameters)."""
    return NaiveRouter(nodes, inventory, skus, distance=distance).route_frame(orders)
