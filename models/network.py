"""The fulfillment network in columnar form: arrays the kernels read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sourcewise.models.errors import Collector
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import Node
from sourcewise.models.node import NodeKind
from sourcewise.models.sku import Sku

EARTH_RADIUS_KM = 6371.0088
UNLIMITED = 1 << 60
# counts at or above this are unlimited (capacity left of an unlimited node stays above it)
UNLIMITED_FROM = 1 << 59
KM_PER_MILE = 1.609344


def readonly(a: np.ndarray) -> np.ndarray:
    """``a`` as a contiguous array that refuses writes: columnar values are shared, never changed."""
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, so distances need one ``asin`` and no other trigonometry.

    Parameters
    ----------
    lat, lon : ndarray
        Degrees.

    Returns
    -------
    ndarray of shape (n, 3)
    """
    la = np.radians(np.asarray(lat, dtype=np.float64))
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    c = np.cos(la)
    return np.ascontiguousarray(np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)], axis=-1))


@dataclass(frozen=True, eq=False)
class Network:
    """Nodes and SKUs, validated together, with their columnar arrays.

    Build it with :meth:`build`; the arrays are read-only views that kernels
    consume directly.
    """

    nodes: tuple[Node, ...]
    skus: tuple[Sku, ...]
    node_index: dict[str, int]
    sku_index: dict[str, int]
    xyz: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    kind: np.ndarray
    priority_rank: np.ndarray
    usable: np.ndarray
    handling_per_shipment: np.ndarray
    handling_per_unit: np.ndarray
    fee_rate: np.ndarray
    processing_days: np.ndarray
    price: np.ndarray
    weight_kg: np.ndarray
    cutoff_hour: np.ndarray
    capacity_orders: np.ndarray
    capacity_units: np.ndarray
    region: np.ndarray
    pickup: np.ndarray

    @classmethod
    def build(cls, nodes: Iterable[Node], skus: Iterable[Sku]) -> Network:
        """Validate nodes and SKUs as one batch and derive the arrays.

        Raises
        ------
        ValidationError
            Listing every duplicate id (and nothing else: each Node and Sku
            validated itself on construction).
        """
        nodes = tuple(nodes)
        skus = tuple(skus)
        col = Collector()
        node_index = _index([n.node_id for n in nodes], "nodes", "node_id", col)
        sku_index = _index([k.sku for k in skus], "skus", "sku", col)
        col.raise_if_any()

        def arr(values: list, dtype: type) -> np.ndarray:
            return readonly(np.asarray(values, dtype=dtype))

        lat = arr([n.lat for n in nodes], np.float64)
        lon = arr([n.lon for n in nodes], np.float64)
        prio = np.asarray([n.priority for n in nodes], dtype=np.int64)
        # Rank by (priority, position) so ties keep the order the nodes were given in,
        # as source-priority algorithms do.
        order = np.lexsort((np.arange(len(nodes)), prio))
        rank = np.empty(len(nodes), dtype=np.int64)
        rank[order] = np.arange(len(nodes))
        return cls(
            nodes=nodes,
            skus=skus,
            node_index=node_index,
            sku_index=sku_index,
            xyz=readonly(unit_vectors(lat, lon).reshape(len(nodes), 3)),
            lat=lat,
            lon=lon,
            kind=arr([KIND_CODES[NodeKind(n.kind)] for n in nodes], np.int8),
            priority_rank=readonly(rank),
            usable=arr([bool(n.enabled and n.ships) for n in nodes], np.bool_),
            handling_per_shipment=arr([n.handling_per_shipment for n in nodes], np.float64),
            handling_per_unit=arr([n.handling_per_unit for n in nodes], np.float64),
            fee_rate=arr([n.fee_rate for n in nodes], np.float64),
            processing_days=arr([n.processing_days for n in nodes], np.int64),
            price=arr([s.price for s in skus], np.float64),
            weight_kg=arr([s.weight_kg for s in skus], np.float64),
            cutoff_hour=arr([n.cutoff_hour for n in nodes], np.float64),
            # unlimited capacity as a count no day can reach keeps the kernels branch-free
            capacity_orders=arr([UNLIMITED if n.capacity_orders is None else n.capacity_orders
                                 for n in nodes], np.int64),
            capacity_units=arr([UNLIMITED if n.capacity_units is None else n.capacity_units
                                for n in nodes], np.int64),
            region=arr([n.region for n in nodes], object),
            pickup=arr([bool(n.pickup and n.enabled) for n in nodes], np.bool_),
        )

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_skus(self) -> int:
        return len(self.skus)


def _index(ids: list[str], table: str, field: str, col: Collector) -> dict[str, int]:
    """Position of each id; a repeated id is a problem in ``col`` (the first keeps its place)."""
    index: dict[str, int] = {}
    for i, key in enumerate(ids):
        if key in index:
            col.add(table, i, field, f"duplicate {field} {key!r}")
        else:
            index[key] = i
    return index
