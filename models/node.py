"""Fulfillment nodes: warehouses, stores and marketplace vendors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from sourcewise.models.errors import Collector
from sourcewise.models.errors import SelfChecking
from sourcewise.models.errors import checked_id
from sourcewise.models.limits import MAX_DAYS
from sourcewise.models.limits import MAX_PRIORITY
from sourcewise.models.limits import MAX_QTY


class NodeKind(StrEnum):
    """What kind of place a node is."""

    WAREHOUSE = "warehouse"
    STORE = "store"
    VENDOR = "vendor"


KIND_CODES: dict[NodeKind, int] = {NodeKind.WAREHOUSE: 0, NodeKind.STORE: 1, NodeKind.VENDOR: 2}


def check_coordinates(col: Collector, table: str, row: int | str, lat: float, lon: float) -> None:
    """Record a problem for each missing or out-of-range coordinate."""
    if not isinstance(lat, int | float) or not math.isfinite(lat) or not -90.0 <= lat <= 90.0:
        col.add(table, row, "lat", f"must be a finite number in [-90, 90], got {lat!r}")
    if not isinstance(lon, int | float) or not math.isfinite(lon) or not -180.0 <= lon <= 180.0:
        col.add(table, row, "lon", f"must be a finite number in [-180, 180], got {lon!r}")


def _non_negative(col: Collector, row: str, name: str, value: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        col.add("nodes", row, name, f"must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class Node(SelfChecking):
    """A place that can ship (or hand over) stock.

    Parameters
    ----------
    node_id : str
        Unique identifier.
    kind : NodeKind or str
        ``warehouse``, ``store`` or ``vendor``.
    lat, lon : float
        Location in degrees.
    priority : int
        Lower is preferred; used by the ``priority`` strategy. At most
        :data:`~sourcewise.models.limits.MAX_PRIORITY` either way.
    ships : bool
        Whether the node can ship parcels.
    pickup : bool
        Whether customers can collect orders here.
    handling_per_shipment, handling_per_unit : float
        Node handling cost added to the policy's shipping cost.
    processing_days : int
        Days between release and hand-over to the carrier, at most
        :data:`~sourcewise.models.limits.MAX_DAYS`.
    fee_rate : float
        Marketplace fee as a fraction of item price (vendors).
    enabled : bool
        Disabled nodes are never allocated.
    region : str
        Free label that sourcing tiers can filter on.
    cutoff_hour : float
        Orders placed at or after this hour (0-24, local) wait a day; 24 means no cutoff.
    capacity_orders, capacity_units : int or None
        Daily limits on orders (parcels) and units, at most
        :data:`~sourcewise.models.limits.MAX_QTY`; ``None`` is unlimited.
    protect_units : int or None
        Units kept back for walk-in shoppers at a store, for every SKU; ``None``
        uses the policy's default.
    """

    node_id: str
    kind: NodeKind
    lat: float
    lon: float
    priority: int = 0
    ships: bool = True
    pickup: bool = False
    handling_per_shipment: float = 0.0
    handling_per_unit: float = 0.0
    processing_days: int = 0
    fee_rate: float = 0.0
    enabled: bool = True
    region: str = ""
    cutoff_hour: float = 24.0
    capacity_orders: int | None = None
    capacity_units: int | None = None
    protect_units: int | None = None

    def validate_into(self, col: Collector) -> None:
        """Append every problem with this node to ``col``."""
        row = checked_id(col, "nodes", "node_id", self.node_id)
        try:
            object.__setattr__(self, "kind", NodeKind(self.kind))
        except ValueError:
            col.add("nodes", row, "kind", f"must be warehouse, store or vendor, got {self.kind!r}")
        check_coordinates(col, "nodes", row, self.lat, self.lon)
        if not isinstance(self.priority, int) or isinstance(self.priority, bool) or abs(self.priority) > MAX_PRIORITY:
            col.add("nodes", row, "priority",
                    f"must be an integer in [-{MAX_PRIORITY}, {MAX_PRIORITY}], got {self.priority!r}")
        if (not isinstance(self.processing_days, int) or isinstance(self.processing_days, bool)
                or not 0 <= self.processing_days <= MAX_DAYS):
            col.add("nodes", row, "processing_days",
                    f"must be an integer in [0, {MAX_DAYS}], got {self.processing_days!r}")
        _non_negative(col, row, "handling_per_shipment", self.handling_per_shipment)
        _non_negative(col, row, "handling_per_unit", self.handling_per_unit)
        if not isinstance(self.fee_rate, int | float) or not 0.0 <= self.fee_rate < 1.0:
            col.add("nodes", row, "fee_rate", f"must be a fraction in [0, 1), got {self.fee_rate!r}")
        if not isinstance(self.region, str):
            col.add("nodes", row, "region", f"must be a string, got {self.region!r}")
        if not isinstance(self.cutoff_hour, int | float) or not 0.0 <= self.cutoff_hour <= 24.0:
            col.add("nodes", row, "cutoff_hour", f"must be an hour in [0, 24], got {self.cutoff_hour!r}")
        for name in ("capacity_orders", "capacity_units", "protect_units"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_QTY):
                col.add("nodes", row, name, f"must be an integer in [0, {MAX_QTY}] or empty, got {v!r}")
