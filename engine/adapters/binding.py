"""From read values to routable models: the catalog built from locations and stock, and an order
bound to it.

Platform readers produce neutral values (:mod:`~sourcewise.engine.adapters.records`);
this module validates them together (duplicates, unknown references,
places that cannot be geocoded, config overrides) and builds the
:class:`~models.Network`, :class:`~models.Inventory` and :class:`~models.Order`
the router needs. :func:`bind_plain` is :func:`bind_order` for the usual order,
without problem bookkeeping, for the fast paths.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.reader import join_path
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.adapters.records import Catalog
from sourcewise.engine.adapters.records import new_tuple
from sourcewise.engine.geocode import GeoPoint
from sourcewise.engine.geocode import geocode
from sourcewise.engine.geocode import locate
from sourcewise.engine.geocode import valid_lat_lon
from sourcewise.models.errors import ValidationError
from sourcewise.models.inventory import Inventory
from sourcewise.models.inventory import StockRecord
from sourcewise.models.network import Network
from sourcewise.models.node import Node
from sourcewise.models.node import NodeKind
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine
from sourcewise.models.sku import Sku

if TYPE_CHECKING:  # in annotations only
    from sourcewise.engine.adapters.records import LineIn
    from sourcewise.engine.adapters.records import LocationIn
    from sourcewise.engine.adapters.records import OrderIn
    from sourcewise.engine.adapters.records import StockIn

__all__ = ["bind_order", "bind_plain", "build_catalog", "read_config", "service_level"]


def service_level(name: str | None) -> str:
    """Our service level for a platform's shipping method name or code.

    Platforms carry free text ("Standard Shipping", "EXPRESS", "Overnight");
    anything not recognisably faster ships standard.
    """
    # a shop has a handful of method names: remember each answer (strings only, bounded)
    hit = _SERVICE_LEVEL_OF.get(name) if type(name) is str or name is None else None
    if hit is not None:
        return hit
    level = _service_level(name)
    if type(name) is str or name is None:
        if len(_SERVICE_LEVEL_OF) >= 4096:
            _SERVICE_LEVEL_OF.clear()
        _SERVICE_LEVEL_OF[name] = level
    return level


_SERVICE_LEVEL_OF: dict[str | None, str] = {}


def _service_level(name: str | None) -> str:
    text = (name or "").lower()
    if any(w in text for w in ("next day", "next-day", "next_day", "nextday", "overnight", "1-day", "one day")):
        return "next_day"
    if any(w in text for w in ("express", "expedited", "priority", "2-day", "two day", "2 day")):
        return "express"
    return "standard"


# ============================================================================ config
_CONFIG_LOCATION_KEYS = {
    "lat": "num", "lon": "num", "kind": "str", "priority": "int", "ships": "bool", "pickup": "bool",
    "enabled": "bool", "handling_per_shipment": "num", "handling_per_unit": "num",
    "processing_days": "int", "fee_rate": "num", "postal_code": "str", "country": "str", "region": "str",
}


def read_config(config: Mapping[str, Any] | None, reader: Reader, key_of: Callable[[Any], str]
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """Per-location overrides and per-SKU attributes from an optional config document.

    Shape::

        {"locations": {"<platform location id>": {"lat": 40.7, "lon": -74.0, "kind": "store",
                                                   "priority": 1, "pickup": true, ...}},
         "skus": {"<sku>": {"weight_kg": 0.4, "price": 19.99}}}

    Location keys are matched after the adapter's id normalisation, so a
    Shopify ``gid://shopify/Location/1`` and ``1`` are the same location.
    """
    locs: dict[str, dict[str, Any]] = {}
    skus: dict[str, dict[str, float]] = {}
    if config is None:
        return locs, skus
    r = reader.doc("config")
    cfg = r.as_obj(config, "")
    if cfg is None:
        return locs, skus
    for key in cfg:
        if key not in ("locations", "skus"):
            r.fail(key, "unknown key; use locations or skus")
    for raw, path, v in _entries(r, cfg, "locations"):
        out: dict[str, Any] = {}
        for k in v:
            kind = _CONFIG_LOCATION_KEYS.get(k)
            if kind is None:
                r.fail(join_path(path, k), f"unknown key; use one of {', '.join(sorted(_CONFIG_LOCATION_KEYS))}")
                continue
            got = r.take(v, k, path, kind, required=False, **({"lo": None} if kind == "int" else {}))
            if got is not None:
                out[k] = got
        locs[key_of(raw)] = out
    for sku, path, v in _entries(r, cfg, "skus"):
        attrs: dict[str, float] = {}
        for k in v:
            if k not in ("weight_kg", "price"):
                r.fail(join_path(path, k), "unknown key; use weight_kg or price")
            else:
                got = r.take(v, k, path, "num", required=False, lo=0.0)
                if got is not None:
                    attrs[k] = got
        skus[str(sku)] = attrs
    return locs, skus


def _entries(r: Reader, cfg: dict, section: str) -> Iterator[tuple[Any, str, dict]]:
    """``(name, path, object)`` for each entry of an optional config section; entries that are
    not objects are recorded as problems and skipped. Lazy, so problems keep document order."""
    for name, values in (r.take(cfg, section, "", "obj", required=False) or {}).items():
        path = f"{section}.{name}"
        v = r.as_obj(values, path)
        if v is not None:
            yield name, path, v


# ============================================================================ model building
def _place(loc: LocationIn, override: Mapping[str, Any], reader: Reader) -> GeoPoint | None:
    """Where a location is: config coordinates, its own, then its postal code / region / country."""
    if "lat" in override or "lon" in override:
        lat, lon = override.get("lat"), override.get("lon")
        if valid_lat_lon(lat, lon):
            return GeoPoint(float(lat), float(lon), "config", False, "configured coordinates")
        reader.doc("config").fail(f"locations.{loc.node_id}", "lat and lon must both be given and in range")
        return None
    addr = loc.address
    return geocode(postal_code=override.get("postal_code", addr.postal_code),
                   country=override.get("country", addr.country),
                   region=override.get("region", addr.region), lat=addr.lat, lon=addr.lon)


def build_catalog(platform: str, locations: Sequence[LocationIn], stock: Sequence[StockIn], reader: Reader,
                  *, config: Mapping[str, Any] | None = None, sku_attrs: Mapping[str, Mapping[str, Any]] | None = None,
                  key_of: Callable[[Any], str] = str, extra: Mapping[str, Any] | None = None,
                  notes: Sequence[str] = ()) -> Catalog:
    """Validate locations and stock together and build the network and inventory.

    Raises
    ------
    AdapterError
        Listing every problem in ``reader`` plus unknown or duplicate
        locations, duplicate stock rows and unplaceable locations.
    """
    overrides, cfg_skus = read_config(config, reader, key_of)
    inv_r = reader.doc("inventory")
    loc_r = reader.doc("locations")
    nodes: list[Node] = []
    by_id: dict[str, LocationIn] = {}
    points: dict[str, GeoPoint] = {}
    out_notes = list(notes)
    for loc in locations:
        if loc.node_id in by_id:
            loc_r.fail(loc.path, f"duplicate location id {loc.raw_id!r}")
            continue
        by_id[loc.node_id] = loc
        ov = overrides.get(loc.node_id, {})
        point = _place(loc, ov, reader)
        if point is None:
            loc_r.fail(loc.path, "cannot place this location: no valid coordinates, US ZIP code, region or "
                                 "known country (give lat/lon in the config's locations section)")
            continue
        points[loc.node_id] = point
        note = point.note(f"location {loc.raw_id}")
        if note:
            out_notes.append(note)
        kind = ov.get("kind", loc.kind)
        if kind not in {k.value for k in NodeKind}:
            reader.doc("config").fail(f"locations.{loc.node_id}.kind", f"must be warehouse, store or vendor, got {kind!r}")
            continue
        try:
            nodes.append(Node(
                node_id=loc.node_id, kind=NodeKind(kind), lat=point.lat, lon=point.lon,
                priority=ov.get("priority", loc.priority), ships=ov.get("ships", loc.ships),
                pickup=ov.get("pickup", loc.pickup), enabled=ov.get("enabled", loc.enabled),
                handling_per_shipment=ov.get("handling_per_shipment", loc.attrs.get("handling_per_shipment", 0.0)),
                handling_per_unit=ov.get("handling_per_unit", loc.attrs.get("handling_per_unit", 0.0)),
                processing_days=ov.get("processing_days", loc.attrs.get("processing_days", 0)),
                fee_rate=ov.get("fee_rate", loc.attrs.get("fee_rate", 0.0)),
            ))
        except ValidationError as exc:
            for p in exc.problems:
                reader.doc("config").fail(f"locations.{loc.node_id}.{p.field}", p.reason)
    for key in overrides:
        if key not in by_id:
            reader.doc("config").fail(f"locations.{key}", "unknown location")
    seen: set[tuple[str, str]] = set()
    rows: list[StockIn] = []
    for s in stock:
        if s.node_id not in by_id:
            inv_r.fail(s.path, f"unknown location {s.node_id!r}: not in the locations payload")
            continue
        if (s.node_id, s.sku) in seen:
            inv_r.fail(s.path, f"duplicate stock row for location {s.node_id!r} and sku {s.sku!r}")
            continue
        seen.add((s.node_id, s.sku))
        rows.append(s)
    reader.raise_if_any()
    attrs = {**(sku_attrs or {}), **cfg_skus}
    names = sorted({s.sku for s in rows} | set(cfg_skus))
    skus = [Sku(n, float(attrs.get(n, {}).get("weight_kg", 0.0)), float(attrs.get(n, {}).get("price", 0.0)))
            for n in names]
    try:
        network = Network.build(nodes, skus)
        inventory = Inventory.from_records(network, [
            StockRecord(s.node_id, s.sku, s.on_hand, s.safety_stock, s.reserved)
            for s in rows if s.node_id in network.node_index
        ])
    except ValidationError as exc:
        # the readers should have caught everything; keep the adapter's error contract if not
        for p in exc.problems:
            reader.doc(p.table).fail(f"{p.row}.{p.field}", p.reason)
        reader.raise_if_any()
        raise
    return Catalog(platform, network, inventory, by_id, points, tuple(out_notes), dict(extra or {}))


def bind_order(order_in: OrderIn, catalog: Catalog, reader: Reader) -> Bound:
    """Geocode the destination, split off unstocked lines and build the :class:`~models.Order`.

    Raises
    ------
    AdapterError
        When the destination cannot be placed or the order fails the
        model's own validation (reported at the payload's paths).
    """
    addr = order_in.address
    point = None if addr is None else locate(addr.postal_code, addr.country, addr.region, addr.lat, addr.lon)
    if point is None:
        point = order_in.fallback
    if point is None:
        where = addr.path if addr is not None and addr.path else "shipping address"
        reader.fail(where, "cannot place the destination: no valid coordinates, US ZIP code, region or "
                           "known country")
    lines = order_in.lines
    sku_index = catalog.network.sku_index
    known: Sequence[LineIn] = lines
    skipped: list[LineIn] = []
    plain = True
    seen: set[str] = set()
    for ln in lines:
        if ln.line_id in seen or ln.sku not in sku_index:
            plain = False
            break
        seen.add(ln.line_id)
    if not plain:
        # only orders with duplicate ids or unstocked SKUs need the line-by-line pass
        seen = set()
        known = []
        for ln in lines:
            if ln.line_id in seen:
                reader.fail(ln.path, f"duplicate line id {ln.raw_id!r}")
                continue
            seen.add(ln.line_id)
            (known if ln.sku in sku_index else skipped).append(ln)
    reader.raise_if_any()
    assert point is not None
    notes = order_in.notes
    if point.approximate or skipped:
        more = [f"line {ln.raw_id}: sku {ln.sku!r} is not stocked at any location; left unfilled"
                for ln in skipped]
        note = point.note("destination")
        notes = (*notes, *([note] if note else ()), *more)
    order = None
    if known:
        try:
            order = Order(order_in.order_id, tuple([OrderLine(ln.line_id, ln.sku, ln.qty) for ln in known]),
                          point.lat, point.lon, order_in.allow_split, order_in.max_shipments,
                          service_level(order_in.service_level))
        except ValidationError as exc:
            for p in exc.problems:
                reader.fail(p.field, p.reason)
            reader.raise_if_any()
    return Bound(order_in, order, point, catalog, tuple(skipped), tuple(notes))


# ============================================================================ plain orders
# Adapter.fast_order builds, for a payload with nothing unusual in it, exactly the Bound the
# careful path builds, with less machinery (see records.new_tuple). Parsing must stay a small
# fraction of routing an order, and these constructors were a third of it.

def bind_plain(order_in: OrderIn, catalog: Catalog) -> Bound | None:
    """:func:`bind_order` for an order with nothing unusual in it; ``None`` otherwise.

    Returns the very :class:`Bound` that :func:`bind_order` returns when
    the destination geocodes, every line's SKU is stocked somewhere and the
    :class:`~models.Order` validates (from the same arguments
    :func:`bind_order` gives it). On ``None`` the caller takes the careful
    path, which reports whatever is wrong at the payload's paths.
    """
    a = order_in.address
    if a is None:
        return None
    point = locate(a.postal_code, a.country, a.region, a.lat, a.lon)
    if point is None:
        return None
    lat, lon, _, approximate, _ = point
    level = order_in.service_level
    level = "standard" if level is None else service_level(level)
    sku_index = catalog.network.sku_index
    lines = []
    for lid, _, sku, qty, *_ in order_in.lines:
        if not (type(sku) is str and sku in sku_index):
            return None
        lines.append(OrderLine(lid, sku, qty))  # no validation of its own: the Order checks its lines
    notes = order_in.notes
    if approximate:
        notes = (*notes, point.note("destination"))
    order = None
    if lines:
        # the arguments bind_order passes: Order's own check accepts the usual order at once
        try:
            order = Order(order_in.order_id, tuple(lines), lat, lon, order_in.allow_split,
                          order_in.max_shipments, level)
        except ValidationError:
            return None
    return new_tuple(Bound, (order_in, order, point, catalog, (), notes))
