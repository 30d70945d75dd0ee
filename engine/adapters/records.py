"""The platform-neutral values adapters read payloads into, and the catalog they route against.

The per-order values are NamedTuples: as immutable as frozen dataclasses,
and several times cheaper to build (a frozen dataclass sets each field
through ``object.__setattr__``), which matters when parsing must stay a small
fraction of routing time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from functools import cached_property
from types import MappingProxyType
from typing import Any
from typing import NamedTuple

from sourcewise.engine.geocode import GeoPoint
from sourcewise.engine.geocode import geocode
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.node import NodeKind
from sourcewise.models.order import Order

__all__ = [
    "EMPTY", "Address", "Bound", "Catalog", "LineIn", "LocationIn", "OrderIn", "StockIn", "new_tuple",
]

EMPTY: Mapping[str, Any] = MappingProxyType({})
"""The empty mapping NamedTuple defaults use (fast paths pass it where the default applies)."""

new_tuple = tuple.__new__
"""``new_tuple(Cls, (v0, v1, ...))`` builds a NamedTuple with every field given, as ``Cls(v0, v1, ...)``
does, at a third of the cost: their generated ``__new__`` is a Python function, and fast paths
build several per order."""


class Address(NamedTuple):
    """What the platform says about a place; any field may be unknown."""

    postal_code: str | None = None
    country: str | None = None
    region: str | None = None
    lat: float | None = None
    lon: float | None = None
    path: str = ""

    def reference(self) -> GeoPoint | None:
        """Where the address geocodes to without its own coordinates (for swap checks)."""
        return geocode(postal_code=self.postal_code, country=self.country, region=self.region)


class LineIn(NamedTuple):
    """One routable order line, in platform-neutral form.

    ``line_id`` is unique within the order and becomes the
    :class:`~models.OrderLine` id; ``raw_id`` is the platform's id exactly as
    it appeared (an int stays an int), so rendering echoes it untouched.
    """

    line_id: str
    raw_id: Any
    sku: str
    qty: int
    path: str
    price: str | None = None
    """Unit price as decimal text (``"19.99"``); ``Decimal(price)`` for arithmetic."""
    weight_kg: float | None = None
    ref: Mapping[str, Any] = EMPTY


class OrderIn(NamedTuple):
    """An order as read from a payload, before it is checked against a catalog."""

    order_id: str
    raw_id: Any
    lines: tuple[LineIn, ...]
    address: Address | None
    service_level: str | None = None
    allow_split: bool = True
    max_shipments: int | None = None
    extra: Mapping[str, Any] = EMPTY
    notes: tuple[str, ...] = ()
    fallback: GeoPoint | None = None
    """Where to route from when the payload has no usable address (always approximate)."""


class LocationIn(NamedTuple):
    """A location, channel or source as read from a payload."""

    node_id: str
    raw_id: Any
    address: Address
    path: str
    name: str | None = None
    kind: str = "warehouse"
    priority: int = 0
    ships: bool = True
    pickup: bool = False
    enabled: bool = True
    attrs: Mapping[str, Any] = EMPTY
    """Further :class:`~models.Node` fields the payload sets (handling costs, fee rate, ...)."""
    extra: Mapping[str, Any] = EMPTY


class StockIn(NamedTuple):
    """Stock of one SKU at one location as read from a payload."""

    node_id: str
    sku: str
    on_hand: int
    path: str
    safety_stock: int = 0
    reserved: int = 0


@dataclass(frozen=True, eq=False)
class Catalog:
    """A platform's locations and stock, mapped onto the engine's models.

    Attributes
    ----------
    network, inventory
        Ready for :class:`~sourcewise.engine.router.Router`.
    locations : dict
        Every location that became a node, by node id.
    points : dict
        Where each node was placed and how (``basis``, ``approximate``).
    notes : tuple of str
        Approximations and skipped records worth telling the integrator.
    extra : dict
        Platform-specific lookups the order reader needs.
    """

    platform: str
    network: Network
    inventory: Inventory
    locations: Mapping[str, LocationIn]
    points: Mapping[str, GeoPoint]
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def approximate(self) -> frozenset[str]:
        """Nodes placed by a region or country centroid."""
        return frozenset(n for n, p in self.points.items() if p.approximate)

    @cached_property
    def priority_ranks(self) -> list[int]:
        """Each node's place in source-priority order (``network.priority_rank`` as Python ints).

        Renders sort sources by it per order; numpy scalars make that several times slower.
        """
        return self.network.priority_rank.tolist()

    @cached_property
    def sources(self) -> list[tuple[str, Any, bool]]:
        """Each node's id, platform id (as :meth:`Adapter.location_raw` gives it) and whether it
        is enabled, by node index: for renders that list every source of a SKU."""
        locs = self.locations
        return [(n.node_id, loc.raw_id if (loc := locs.get(n.node_id)) is not None else n.node_id, n.enabled)
                for n in self.network.nodes]

    @classmethod
    def from_models(cls, platform: str, network: Network, inventory: Inventory,
                    raw_ids: Mapping[str, Any] | None = None) -> Catalog:
        """A catalog over a network and stock you already have (a scenario folder, a test fixture).

        Platform order payloads can then be routed against it: their
        location and SKU ids must be the network's node ids and SKUs
        (``raw_ids`` maps node ids to the platform's own ids for responses).
        """
        raw_ids = raw_ids or {}
        locs = {n.node_id: LocationIn(n.node_id, raw_ids.get(n.node_id, n.node_id), Address(lat=n.lat, lon=n.lon),
                                      f"nodes[{i}]", kind=NodeKind(n.kind).value, priority=n.priority)
                for i, n in enumerate(network.nodes)}
        points = {n.node_id: GeoPoint(n.lat, n.lon, "config", False, "network coordinates") for n in network.nodes}
        return cls(platform, network, inventory, locs, points)


class Bound(NamedTuple):
    """An order checked against a catalog and mapped onto a :class:`~models.Order`.

    ``order`` is ``None`` when no line can be routed (every line is a
    pick-up, already fulfilled, or a SKU no location stocks).
    ``skipped`` holds lines whose SKU no location stocks: they cannot be
    routed anywhere and are reported as unfilled.
    """

    source: OrderIn
    order: Order | None
    destination: GeoPoint
    catalog: Catalog
    skipped: tuple[LineIn, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def order_id(self) -> str:
        return self.source.order_id

    def line(self, line_id: str) -> LineIn:
        for ln in self.source.lines:
            if ln.line_id == line_id:
                return ln
        raise KeyError(line_id)
