"""Customer orders and their lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec.structs import force_setattr

from sourcewise.models.errors import Collector
from sourcewise.models.limits import MAX_QTY
from sourcewise.models.node import check_coordinates

METHODS: tuple[str, ...] = ("ship", "pickup", "same_day")
SERVICE_LEVELS: tuple[str, ...] = ("standard", "express", "next_day")

# Set forms for the fast check in Order.__post_init__ (membership of a str only: it must not raise).
_METHOD_SET = frozenset(METHODS)
_SERVICE_LEVEL_SET = frozenset(SERVICE_LEVELS)


# Frozen msgspec Structs, like the decision values: immutable, compared by value, and built
# by C code, which matters because an OMS builds one Order and its lines per routed order.
# Both hold only strings, numbers, a datetime and a tuple of lines, which cannot form a
# cycle: gc=False keeps them out of the cycle collector, which otherwise scans the Order
# every open order keeps (its lines tuple is tracked when built, and the Order with it).
class OrderLine(msgspec.Struct, frozen=True, gc=False):
    """One line of an order.

    Parameters
    ----------
    line_id : str
        Unique within the order.
    sku : str
        The item ordered.
    qty : int
        Units ordered, a positive integer; the order's lines add up to at most
        :data:`MAX_QTY` units.
    method : str
        ``ship`` (default), ``pickup`` at ``pickup_node`` (BOPIS), or ``same_day``.
    pickup_node : str or None
        The store the customer collects from, for ``pickup`` lines.
    """

    line_id: str
    sku: str
    qty: int
    method: str = "ship"
    pickup_node: str | None = None


class Order(msgspec.Struct, frozen=True, gc=False):
    """A customer order to be sourced.

    Parameters
    ----------
    order_id : str
        Unique identifier; routing the same order twice is idempotent, and a
        different order under a routed id is refused
        (:class:`~sourcewise.models.errors.OrderConflict`).
    lines : tuple of OrderLine
        At least one line; line ids unique.
    lat, lon : float
        Destination.
    allow_split : bool
        ``False`` forces a single shipment.
    max_shipments : int or None
        Per-order shipment limit; ``None`` uses the policy's.
    service_level : str
        ``standard``, ``express`` or ``next_day``.
    channel : str
        Sales channel; sourcing tiers may be restricted to some channels.
    placed_at : datetime or None
        When the order was placed; drives cutoffs and promise dates.
    allow_substitutes : bool
        Whether substitutes may be proposed for lines nothing can ship.
    """

    order_id: str
    lines: tuple[OrderLine, ...]
    lat: float
    lon: float
    allow_split: bool = True
    max_shipments: int | None = None
    service_level: str = "standard"
    channel: str = "web"
    placed_at: datetime | None = None
    allow_substitutes: bool = True

    def __post_init__(self) -> None:
        lines = self.lines
        if not isinstance(lines, tuple):
            force_setattr(self, "lines", tuple(lines))
        # Orders are built once per routed order, so validation is on the latency path:
        # the usual, valid order is confirmed by plain comparisons, and the full check
        # (with its messages) runs only when that finds anything unusual.
        if not self._plainly_valid():
            col = Collector()
            self.validate_into(col)
            col.raise_if_any()

    def _plainly_valid(self) -> bool:
        """Whether the order is valid by the common-case checks alone.

        Accepts a strict subset of what :meth:`validate_into` accepts (exact
        ``str``/``int``/``float`` types, ``ship``-style lines without a store,
        ...), so ``True`` always means :meth:`validate_into` would find
        nothing; ``False`` only means "look closer".
        """
        oid, lat, lon, m = self.order_id, self.lat, self.lon, self.max_shipments
        if not (type(oid) is str and oid.strip()
                and (type(lat) is float or type(lat) is int) and -90.0 <= lat <= 90.0
                and (type(lon) is float or type(lon) is int) and -180.0 <= lon <= 180.0
                and (m is None or type(m) is int and m >= 1)
                and type(self.service_level) is str and self.service_level in _SERVICE_LEVEL_SET
                and (self.placed_at is None or isinstance(self.placed_at, datetime))):
            return False
        lines = self.lines
        if not lines:
            return False
        seen: set[Any] = set()
        total = 0
        for line in lines:
            lid, sku, qty = line.line_id, line.sku, line.qty
            if not (type(lid) is str and lid and lid not in seen and type(sku) is str and sku
                    and type(qty) is int and 0 < qty <= MAX_QTY):
                return False
            total += qty
            method = line.method
            if method == "ship":  # the usual line: no store may be named
                if line.pickup_node:
                    return False
            elif not (type(method) is str and method in _METHOD_SET
                      and (bool(line.pickup_node) if method == "pickup" else not line.pickup_node)):
                return False
            seen.add(lid)
        return total <= MAX_QTY

    def validate_into(self, col: Collector) -> None:
        """Append every problem with this order to ``col``."""
        oid = self.order_id if isinstance(self.order_id, str) and self.order_id else "?"
        if not isinstance(self.order_id, str) or not self.order_id.strip():
            col.add("orders", oid, "order_id", "must be a non-empty string")
        check_coordinates(col, "orders", oid, self.lat, self.lon)
        if not self.lines:
            col.add("orders", oid, "lines", "an order needs at least one line")
        seen: set[str] = set()
        total = 0
        for line in self.lines:
            where = f"{oid}/{line.line_id}"
            if not isinstance(line.line_id, str) or not line.line_id:
                col.add("orders", where, "line_id", "must be a non-empty string")
            elif line.line_id in seen:
                col.add("orders", where, "line_id", "duplicate line_id within the order")
            seen.add(line.line_id)
            if not isinstance(line.sku, str) or not line.sku:
                col.add("orders", where, "sku", "must be a non-empty string")
            if isinstance(line.qty, bool) or not isinstance(line.qty, int) or not 0 < line.qty <= MAX_QTY:
                col.add("orders", where, "qty", f"must be a positive integer <= {MAX_QTY}, got {line.qty!r}")
            else:
                total += line.qty
            if line.method not in METHODS:
                col.add("orders", where, "method", f"must be one of {', '.join(METHODS)}, got {line.method!r}")
            elif line.method == "pickup" and not line.pickup_node:
                col.add("orders", where, "pickup_node", "a pickup line must name the store")
            elif line.method != "pickup" and line.pickup_node:
                col.add("orders", where, "pickup_node", f"only pickup lines name a store, not {line.method!r}")
        if total > MAX_QTY:
            col.add("orders", oid, "lines", f"the lines add up to {total} units, more than {MAX_QTY}")
        if self.max_shipments is not None and (
            isinstance(self.max_shipments, bool)
            or not isinstance(self.max_shipments, int)
            or self.max_shipments < 1
        ):
            col.add("orders", oid, "max_shipments", f"must be a positive integer, got {self.max_shipments!r}")
        if self.service_level not in SERVICE_LEVELS:
            col.add("orders", oid, "service_level",
                    f"must be one of {', '.join(SERVICE_LEVELS)}, got {self.service_level!r}")
        if self.placed_at is not None and not isinstance(self.placed_at, datetime):
            col.add("orders", oid, "placed_at", f"must be a datetime, got {self.placed_at!r}")

