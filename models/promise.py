"""Promises: the delivery options a shopper can choose from, before anything is reserved."""

from __future__ import annotations

from datetime import date

import msgspec

from sourcewise.models.decision import Decision

# Frozen msgspec Structs, like the decision values (see models/decision.py): immutable,
# compared by value, and cheap to build, which matters on a checkout page's latency path.


class PickupOption(msgspec.Struct, frozen=True, gc=False):
    """A store where the shopper could collect the whole order.

    Parameters
    ----------
    node_id : str
        The store.
    distance_km : float
        Great-circle distance from the shopper's address.
    ready_days : float
        The store's processing days: how long after the order it is ready.
    ready_date : date
        The order date plus ``ready_days`` rounded up (the date a routed
        pickup shipment from this store is promised for).
    """

    node_id: str
    distance_km: float
    ready_days: float
    ready_date: date


class SameDayOption(msgspec.Struct, frozen=True, gc=False):
    """A node that could deliver the whole order the same day, in one parcel.

    Parameters
    ----------
    node_id : str
        The eligible node with the earliest promised date (then the nearest).
    distance_km : float
        Great-circle distance from the shopper's address.
    promised_days : float
        The node's processing days (as routed ``same_day`` shipments count them).
    promised_date : date
        The order date plus ``promised_days`` rounded up.
    """

    node_id: str
    distance_km: float
    promised_days: float
    promised_date: date


class StoreStock(msgspec.Struct, frozen=True, gc=False):
    """One row of a product page's "available near you" list.

    Parameters
    ----------
    node_id : str
        A store that offers pickup.
    distance_km : float
        Great-circle distance from the address asked about.
    units : int
        Units a shopper could collect there today: ATP (on hand less safety
        stock, store protection and reservations), capped by the units the
        store can still hand over today.
    ready_days : float
        The store's processing days.
    ready_date : date
        The day a pickup ordered then would be ready.
    """

    node_id: str
    distance_km: float
    units: int
    ready_days: float
    ready_date: date


class Promise(msgspec.Struct, frozen=True):
    """What a router can promise for an order right now, with nothing reserved.

    Parameters
    ----------
    order_id : str
    ship : Decision
        The decision ``route(order, strategy)`` would return at this moment:
        the same shipments, nodes, units, costs, promised dates and status.
    pickup : tuple of PickupOption
        Stores within the pickup radius that hold every item of the order
        (and can hand it over today), nearest first.
    same_day : SameDayOption or None
        The node that could deliver the whole order same-day soonest (then
        nearest), or ``None`` when none can.
    existing : bool
        True when ``order_id`` already holds a decision with the same
        content: ``ship`` is that decision, as ``route`` would return it.
    """

    order_id: str
    ship: Decision
    pickup: tuple[PickupOption, ...] = ()
    same_day: SameDayOption | None = None
    existing: bool = False
