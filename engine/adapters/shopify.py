"""Shopify (REST Admin API) adapter.

Payloads in
-----------
order file
    ``{"order": <Order>, "fulfillment_orders": [<FulfillmentOrder>, ...]}``:
    the bodies of ``GET /orders/{id}.json`` and
    ``GET /orders/{id}/fulfillment_orders.json`` side by side. A bare order
    (an ``orders/create`` webhook body) with a ``fulfillment_orders`` key
    also works.
locations file
    ``{"locations": [<Location>, ...]}`` (``GET /locations.json``).
inventory file
    ``{"inventory_levels": [<InventoryLevel>, ...]}`` (``GET /inventory_levels.json``).

What is routed
--------------
Shopify tracks stock per *inventory item*, and a fulfillment-order line
item names its ``inventory_item_id``; the order line's ``sku`` is a
merchant label that may be empty. So SKUs here are inventory item ids, and
each routed line is one fulfillment-order line item with its
``fulfillable_quantity``. Only fulfillment orders that can move are routed:
status ``open`` or ``scheduled``, ``delivery_method.method_type`` of
``shipping`` or ``local``, ``move`` among ``supported_actions`` when that
list is given, and no fulfillment-service request in flight. Pick-ups stay
where the customer will collect them.

Response
--------
``moves``: one ``POST /fulfillment_orders/{id}/move.json`` body per
(fulfillment order, new location) -- ``{"fulfillment_order_id": ...,
"fulfillment_order": {"new_location_id": ..., "fulfillment_order_line_items":
[{"id": ..., "quantity": ...}]}}``. A line split across locations becomes one
move per location. ``unchanged`` lists what stays at its assigned location
and why, ``unfilled`` what no location can supply; with ``moves`` these
account for every fulfillable unit.

Ids are matched as strings, so numeric ids and ``gid://shopify/...`` ids
mix freely, and are echoed exactly as they came in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec import UNSET

from sourcewise.engine.adapters.base import Adapter
from sourcewise.engine.adapters.binding import bind_plain
from sourcewise.engine.adapters.fastpath import fast_convert
from sourcewise.engine.adapters.fields import Field
from sourcewise.engine.adapters.fields import Record
from sourcewise.engine.adapters.reader import Paths
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.reader import join_path
from sourcewise.engine.adapters.reader import plain_coords
from sourcewise.engine.adapters.records import Address
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.adapters.records import Catalog
from sourcewise.engine.adapters.records import LineIn
from sourcewise.engine.adapters.records import LocationIn
from sourcewise.engine.adapters.records import OrderIn
from sourcewise.engine.adapters.records import StockIn
from sourcewise.engine.adapters.records import new_tuple
from sourcewise.engine.adapters.render import AtpLookup
from sourcewise.engine.adapters.render import allocation_delta
from sourcewise.engine.adapters.render import allocations_by_line
from sourcewise.engine.adapters.render import summary
from sourcewise.engine.adapters.render import unfilled_by_line
from sourcewise.engine.adapters.session import Session
from sourcewise.engine.geocode import locate
from sourcewise.models.decision import Decision

__all__ = ["FLAT_ORDER", "NESTED_ORDER", "ShopifyAdapter", "reject_fulfillment_order"]

MOVABLE_STATUS = frozenset({"open", "scheduled"})
ROUTED_METHODS = frozenset({"shipping", "local"})
# A fulfillment service holds these; Shopify refuses to move them.
LOCKED_REQUESTS = frozenset({"submitted", "accepted", "cancellation_requested", "cancellation_rejected"})


def _gid_tail(raw: Any) -> str:
    """``"gid://shopify/Location/123"``, ``"123"`` and ``123`` are all the key ``"123"``."""
    if type(raw) is int:
        return str(raw)
    if type(raw) is str:
        # location and inventory item ids repeat on every order: remember each string's key
        key = _KEYS.get(raw)
        if key is None:
            if len(_KEYS) >= 65536:
                _KEYS.clear()
            key = _KEYS[raw] = _gid_key(raw)
        return key
    return _gid_key(raw)


def _held_reason(status: str | None, method: str, request: str | None, actions: list | None) -> str | None:
    """Why a fulfillment order cannot be moved to another location; None when it can."""
    if status is not None and status not in MOVABLE_STATUS:
        return f"status is {status}"
    if method not in ROUTED_METHODS:
        return f"delivery method is {method}"
    if request is not None and request in LOCKED_REQUESTS:
        return f"a fulfillment service holds it (request_status {request})"
    if actions is not None and "move" not in actions:
        return "Shopify does not allow moving it (no move in supported_actions)"
    return None


def _gid_key(raw: Any) -> str:
    s = str(raw).strip()
    if s.startswith("gid://"):
        s = s.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return s


_KEYS: dict[str, str] = {}


# The order's fields, once: the careful reader's Shapes and the fast path's msgspec schemas both
# come from these (see engine.adapters.fields).
LINE_ITEM = Record(
    "ShopifyLineItem", Field("id", "id"), Field("quantity", "int"), Field("fulfillable_quantity", "int", False),
    Field("sku", "str0", False), Field("price", "decimal", False), Field("grams", "int", False),
)
ADDRESS = Record(
    "ShopifyAddress", Field("zip", "str0", False), Field("country_code", "str", False),
    Field("province_code", "str", False),
    # read only when the code says nothing
    Field("country", "str", False), Field("province", "str", False),
    # checked as a pair (plain_coords, Reader.coords): only floats pass plainly
    Field("latitude", "any", False), Field("longitude", "any", False),
)
SHIPPING_LINE = Record("ShopifyShippingLine", Field("code", "str", False), Field("title", "str", False))
DELIVERY_METHOD = Record("ShopifyDeliveryMethod", Field("method_type", "str", False))
FO_LINE = Record(
    "ShopifyFoLine", Field("id", "id"), Field("line_item_id", "id"), Field("inventory_item_id", "id"),
    Field("quantity", "int"), Field("fulfillable_quantity", "int", False),
)
FULFILLMENT_ORDER = Record(
    "ShopifyFulfillmentOrder", Field("id", "id"), Field("order_id", "id", False),
    Field("assigned_location_id", "id"), Field("status", "str"), Field("request_status", "str", False),
    Field("supported_actions", "list", False), Field("delivery_method", "obj", False, of=DELIVERY_METHOD),
    Field("destination", "obj", False),  # kept as given; read as an address only when needed
    Field("line_items", "list", of=FO_LINE),
)
ORDER = Record(
    "ShopifyOrder", Field("id", "id"), Field("name", "str0", False), Field("line_items", "list", of=LINE_ITEM),
    Field("shipping_address", "obj", False, of=ADDRESS),
    Field("shipping_lines", "list", False),  # only the first is read (as a SHIPPING_LINE)
)
# the two shapes of a payload: {"order": ..., "fulfillment_orders": ...}, or an order with a
# fulfillment_orders key (and no "order" key: with one the careful reader takes the nested shape)
NESTED_ORDER = Record("ShopifyNested", Field("order", "obj", of=ORDER),
                      Field("fulfillment_orders", "list", of=FULFILLMENT_ORDER))
FLAT_ORDER = ORDER.extended("ShopifyFlatOrder", Field("fulfillment_orders", "list", of=FULFILLMENT_ORDER),
                            Field("order", "absent"))
_NESTED = NESTED_ORDER.struct  # module globals: checked per order
_FLAT = FLAT_ORDER.struct
_SHIPPING_LINE = SHIPPING_LINE.struct

_ORDER = ORDER.shape()
_LINE_ITEM = LINE_ITEM.shape()
_FULFILLMENT_ORDER = FULFILLMENT_ORDER.shape()
_ADDRESS = ADDRESS.shape("zip", "country_code", "province_code")
_FO_LINE = FO_LINE.shape()


# JSON paths of fulfillment orders and their line items, by index (see Paths)
_FO_PATHS = Paths("fulfillment_orders")
_FO_LINE_PATHS: dict[int, Paths] = {}


def _fo_line_paths(j: int) -> Paths:
    paths = _FO_LINE_PATHS.get(j)
    if paths is None:
        paths = Paths(f"fulfillment_orders[{j}].line_items")
        if j < 64:
            _FO_LINE_PATHS[j] = paths
    return paths


def _plain_address(a: Any, path: str) -> Address | None:
    """:meth:`ShopifyAdapter.read_address` of an address decoded into :data:`ADDRESS`'s schema;
    ``None`` when it needs the careful reader."""
    zip_, country, province = a.zip, a.country_code, a.province_code
    if country is None:
        country = a.country
    if province is None:
        province = a.province
    lat, lon = a.latitude, a.longitude
    if lat is None and lon is None:
        return new_tuple(Address, (zip_, country, province, None, None, path))
    if plain_coords(lat, lon, locate(zip_, country, province)) is None:
        return None
    return new_tuple(Address, (zip_, country, province, lat, lon, path))


def _decoded(payload: dict) -> Any:
    """``payload`` converted to the fast schema of its shape, or ``None`` when it does not fit."""
    # the key says which shape this is: the other would fail only after converting the rest
    return fast_convert(payload, _NESTED if "order" in payload else _FLAT)


def _plain_order(plain: Any) -> OrderIn | None:
    """The :class:`OrderIn` of a payload decoded into either fast schema -- what
    :meth:`ShopifyAdapter.read_order` returns for it -- or ``None`` when it holds what only
    the careful reader decides.

    Plain: every value read is well formed (msgspec checks the types), the
    order has line items and a shipping address, its first shipping line has
    a code, and each fulfillment order belongs to the order and holds no more
    than its line items. Whether the locations are the catalog's is
    :meth:`ShopifyAdapter.check_order`'s question.

    Parameters
    ----------
    plain : msgspec.Struct
        The payload, decoded into :data:`NESTED_ORDER`'s or :data:`FLAT_ORDER`'s schema.

    Returns
    -------
    OrderIn or None
    """
    nested = type(plain) is _NESTED
    if nested:
        order = plain.order
    else:
        order = plain
        if plain.order is not UNSET:
            return None
    fos = plain.fulfillment_orders
    raw_id = order.id
    items = order.line_items
    if not items:
        return None
    line_items: dict[str, Any] = {}
    for li in items:
        lid = li.id
        key = str(lid) if type(lid) is int else _gid_tail(lid)
        if key in line_items:
            return None
        line_items[key] = li
    sa = order.shipping_address
    if sa is None:
        return None
    address = _plain_address(sa, "order.shipping_address" if nested else "shipping_address")
    if address is None:
        return None
    service = None
    sl = order.shipping_lines
    if sl:
        first = fast_convert(sl[0], _SHIPPING_LINE)
        if first is None or first.code is None:
            return None
        service = first.code
    lines: list[LineIn] = []
    fo_info: list[dict[str, Any]] = []
    per_item: dict[str, int] = {}
    for j, fo in enumerate(fos):
        oid, dest = fo.order_id, fo.destination
        if (oid is not None and oid != raw_id and _gid_tail(oid) != _gid_tail(raw_id)
                or dest is not None and type(dest) is not dict):
            return None
        dm = fo.delivery_method
        method = "shipping" if dm is None or dm.method_type is None else dm.method_type
        status, request, actions = fo.status, fo.request_status, fo.supported_actions
        reason = _held_reason(status, method, request, actions)
        fid, assigned = fo.id, fo.assigned_location_id
        at = str(assigned) if type(assigned) is int else _gid_tail(assigned)
        held_lines: list[tuple[Any, str, int]] = []
        fo_info.append({
            "raw": fid, "key": str(fid) if type(fid) is int else _gid_tail(fid), "path": _FO_PATHS[j],
            "assigned_raw": assigned, "assigned": at, "method": method, "reason": reason,
            "lines": held_lines, "destination": dest,
        })
        paths = _fo_line_paths(j)
        for k, fl in enumerate(fo.line_items):
            fqty, ffq, item_ref = fl.quantity, fl.fulfillable_quantity, fl.line_item_id
            if ffq is None:
                ffq = fqty
            elif ffq > fqty:
                return None
            ik = str(item_ref) if type(item_ref) is int else _gid_tail(item_ref)
            li = line_items.get(ik)
            if li is None:
                return None
            per_item[ik] = held = per_item.get(ik, 0) + fqty
            if held > li.quantity:
                return None
            flid, inv_item = fl.id, fl.inventory_item_id
            fkey = str(flid) if type(flid) is int else _gid_tail(flid)
            held_lines.append((flid, fkey, ffq))
            if reason is None and ffq > 0:
                grams = li.grams
                lines.append(new_tuple(LineIn, (
                    fkey, flid, str(inv_item) if type(inv_item) is int else _gid_tail(inv_item), ffq, paths[k],
                    li.price, grams / 1000.0 if grams is not None else None, {"line_item": item_ref, "sku": li.sku},
                )))
    return new_tuple(OrderIn, (
        str(raw_id) if type(raw_id) is int else _gid_tail(raw_id), raw_id, tuple(lines), address, service,
        True, None, {"name": order.name, "fulfillment_orders": fo_info}, (), None,
    ))


class ShopifyAdapter(Adapter):
    """Shopify REST Admin payloads <-> Sourcewise models (see the module docstring)."""

    name = "shopify"

    key_of = staticmethod(_gid_tail)

    # ------------------------------------------------------------------ catalog
    def read_catalog(self, locations: Any, inventory: Any, reader: Reader
                     ) -> tuple[list[LocationIn], list[StockIn], dict[str, Any]]:
        lr = reader.doc("locations")
        ir = reader.doc("inventory")
        locs: list[LocationIn] = []
        notes: list[str] = []
        for _, path, d in lr.objects(*lr.elements(locations, "locations")):
            raw = lr.take(d, "id", path, "id")
            name = lr.take(d, "name", path, "str", required=False, nonempty=False)
            active = lr.take(d, "active", path, "bool", required=False)
            online = lr.take(d, "fulfills_online_orders", path, "bool", required=False)
            zip_ = lr.take(d, "zip", path, "str", required=False, nonempty=False)
            country = (lr.take(d, "country_code", path, "str", required=False)
                       or lr.take(d, "country", path, "str", required=False))
            province = lr.take(d, "province_code", path, "str", required=False, nonempty=False)
            addr = Address(zip_, country, province, path=path)
            ll = lr.coords(d.get("latitude"), d.get("longitude"), f"{path}.latitude", f"{path}.longitude",
                           addr.reference())
            if raw is None:
                continue
            if ll is not None:
                addr = Address(zip_, country, province, ll[0], ll[1], path)
            locs.append(LocationIn(self.key_of(raw), raw, addr, path, name=name,
                                   enabled=active if active is not None else True,
                                   ships=online if online is not None else True))
        stock: list[StockIn] = []
        for _, path, d in ir.objects(*ir.elements(inventory, "inventory_levels")):
            item = ir.take(d, "inventory_item_id", path, "id")
            loc = ir.take(d, "location_id", path, "id")
            if "available" not in d:
                ir.fail(f"{path}.available", "required field is missing")
                continue
            avail = d["available"]
            if avail is not None:
                avail = ir.as_int(avail, f"{path}.available", lo=None)
                if avail is None:
                    continue
            if item is None or loc is None:
                continue
            if avail is None:
                # null "available" means the item is not tracked at this location
                notes.append(f"inventory item {item} at location {loc}: stock not tracked (available is null); "
                             "not routed there")
                continue
            # Shopify lets available go negative (oversold); nothing is promisable then
            stock.append(StockIn(self.key_of(loc), self.key_of(item), max(0, avail), path))
        return locs, stock, {"notes": notes}

    # ------------------------------------------------------------------ order
    def read_order(self, payload: Any, reader: Reader) -> OrderIn | None:
        plain = _decoded(payload) if type(payload) is dict else None
        order_in = None if plain is None else _plain_order(plain)
        return order_in if order_in is not None else self._read_careful(payload, reader)

    def _read_careful(self, payload: Any, reader: Reader) -> OrderIn | None:
        """:meth:`read_order` value by value, recording every problem with its JSON path."""
        # Even here values that are plainly fine are taken as they are (the Shapes' fast checks), and JSON paths and
        # Reader.take (which records problems) are only reached when something looks wrong.
        top = reader.as_obj(payload, "")
        if top is None:
            return None
        if "order" in top:
            order = NESTED_ORDER.take(reader, top, "order", "")
            base = "order"
        else:
            order, base = top, ""
        if order is None:
            return None
        raw_id, name, items, sa, sl = _ORDER.read(reader, order, base) or (None,) * 5
        if items is not None and not items:
            reader.fail(join_path(base, "line_items"), "must not be empty")
            items = None
        li_base = "order.line_items" if base else "line_items"
        line_items: dict[str, tuple] = {}  # key -> (raw id, quantity, sku, price, grams)
        for i, it in enumerate(items or ()):
            vals = _LINE_ITEM.read(reader, it, li_base, i)
            if vals is None or vals[0] is None:
                continue
            lid, qty, _fq, sku, price, grams = vals
            key = str(lid) if type(lid) is int else _gid_tail(lid)
            if key in line_items:
                reader.fail(f"{li_base}[{i}].id", f"duplicate line item id {lid!r}")
                continue
            line_items[key] = (lid, qty, sku, price, grams)

        address = None
        sa_path = "order.shipping_address" if base else "shipping_address"
        if sa is not None:
            address = self.read_address(reader, sa, sa_path)
        service = None
        if sl:
            first = sl[0]
            code = first.get("code") if type(first) is dict else None
            if type(code) is str and code.strip():
                service = code
            else:
                p0 = join_path(base, "shipping_lines[0]")
                first = reader.as_obj(first, p0)
                if first is not None:
                    service = (SHIPPING_LINE.take(reader, first, "code", p0)
                               or SHIPPING_LINE.take(reader, first, "title", p0))

        fos = None
        if "fulfillment_orders" not in top:
            # line items alone do not say which inventory item or location they use
            reader.fail("fulfillment_orders", "required field is missing: add the body of "
                                              "GET /orders/{id}/fulfillment_orders.json next to the order")
        else:
            fos = top["fulfillment_orders"]
            if type(fos) is not list:
                fos = NESTED_ORDER.take(reader, top, "fulfillment_orders", "")
        lines: list[LineIn] = []
        fo_info: list[dict[str, Any]] = []
        per_item: dict[str, int] = {}
        for path, vals in _FULFILLMENT_ORDER.read_each(reader, fos, "fulfillment_orders"):
            fid, oid, assigned, status, request, actions, dm, dest, fo_lines = vals
            if (oid is not None and raw_id is not None and oid != raw_id
                    and _gid_tail(oid) != _gid_tail(raw_id)):
                reader.fail(f"{path}.order_id", f"belongs to order {oid!r}, not {raw_id!r}")
            method = "shipping"
            if dm is not None:
                mt = dm.get("method_type")
                if type(mt) is str and mt.strip():
                    method = mt
                else:
                    method = DELIVERY_METHOD.take(reader, dm, "method_type", f"{path}.delivery_method") or method
            reason = _held_reason(status, method, request, actions)
            fkey_of_fo = None if fid is None else str(fid) if type(fid) is int else _gid_tail(fid)
            held_lines: list[tuple[Any, str, int]] = []
            fo_info.append({
                "raw": fid, "key": fkey_of_fo, "path": path,
                "assigned_raw": assigned,
                "assigned": None if assigned is None else str(assigned) if type(assigned) is int
                else _gid_tail(assigned),
                "method": method, "reason": reason, "lines": held_lines, "destination": dest,
            })
            routed = reason is None and fkey_of_fo is not None
            for lp, vals in _FO_LINE.read_each(reader, fo_lines, f"{path}.line_items"):
                flid, item_ref, inv_item, fqty, ffq = vals
                if flid is None or item_ref is None or inv_item is None or fqty is None:
                    continue
                ffq = fqty if ffq is None else ffq
                if ffq > fqty:
                    reader.fail(f"{lp}.fulfillable_quantity", f"{ffq} exceeds quantity {fqty}")
                    continue
                ik = str(item_ref) if type(item_ref) is int else _gid_tail(item_ref)
                li = line_items.get(ik)
                if li is None:
                    if items is not None:  # else line_items is already reported
                        reader.fail(f"{lp}.line_item_id", f"unknown line item {item_ref!r}: not in the order's "
                                                          "line_items")
                    continue
                per_item[ik] = held = per_item.get(ik, 0) + fqty
                if li[1] is not None and held > li[1]:
                    reader.fail(f"{lp}.quantity", f"fulfillment orders hold {held} units of line item "
                                                  f"{item_ref!r}, which has quantity {li[1]}")
                    continue
                fkey = str(flid) if type(flid) is int else _gid_tail(flid)
                held_lines.append((flid, fkey, ffq))
                if routed and ffq > 0:
                    grams = li[4]
                    lines.append(LineIn(
                        fkey, flid, str(inv_item) if type(inv_item) is int else _gid_tail(inv_item), ffq, lp,
                        li[3], grams / 1000.0 if grams is not None else None, {"line_item": item_ref, "sku": li[2]},
                    ))
        if raw_id is None:
            return None
        if address is None:
            # pick-up-only or digital orders have no shipping address; a routable
            # fulfillment order still carries its destination (read only then: it
            # repeats the shipping address otherwise)
            fo = next((fo for fo in fo_info if fo["reason"] is None and fo["destination"]), None)
            if fo is not None:
                address = self.read_address(reader, fo["destination"], f"{fo['path']}.destination")
            if address is None and lines:
                reader.fail(sa_path, "required to route shipping fulfillment orders (no destination either)")
        return OrderIn(str(raw_id) if type(raw_id) is int else _gid_tail(raw_id), raw_id, tuple(lines), address,
                       service_level=service, extra={"name": name, "fulfillment_orders": fo_info})

    def fast_order(self, payload: Any, catalog: Catalog) -> Bound | None:
        """:meth:`read_order`, :meth:`check_order` and binding in one pass, for a plain order
        (see :func:`_plain_order`); anything else returns ``None`` and takes the careful path."""
        if type(payload) is not dict:
            return None
        plain = _decoded(payload)
        return None if plain is None else self.fast_bind(plain, catalog)

    # both shapes of a Shopify order payload: {"order": ..., "fulfillment_orders": ...} first
    fast_schemas = (_NESTED, _FLAT)

    def fast_bind(self, plain: Any, catalog: Catalog) -> Bound | None:
        """:meth:`fast_order` of a payload decoded into either of :attr:`fast_schemas`."""
        order_in = _plain_order(plain)
        if order_in is None:
            return None
        locations = catalog.locations
        for fo in order_in.extra["fulfillment_orders"]:
            if fo["assigned"] not in locations:
                return None  # check_order's question: the careful path says what is wrong
        return bind_plain(order_in, catalog)

    def read_address(self, reader: Reader, d: dict, path: str) -> Address:
        """A shipping address or destination, read carefully (codes first, names without them)."""
        vals = _ADDRESS.fast(d)
        if vals is not None:
            zip_, country, province = vals
            # the fallbacks are read (and checked) only when the preferred key says nothing, as below
            if not country:
                country = ADDRESS.take(reader, d, "country", path)
            if not province:
                province = ADDRESS.take(reader, d, "province", path)
        else:
            zip_ = ADDRESS.take(reader, d, "zip", path)
            country = ADDRESS.take(reader, d, "country_code", path) or ADDRESS.take(reader, d, "country", path)
            province = (ADDRESS.take(reader, d, "province_code", path)
                        or ADDRESS.take(reader, d, "province", path))
        lat, lon = d.get("latitude"), d.get("longitude")
        if lat is None and lon is None:
            return Address(zip_, country, province, path=path)
        ref = locate(zip_, country, province)
        ll = (plain_coords(lat, lon, ref)
              or reader.coords(lat, lon, f"{path}.latitude", f"{path}.longitude", ref))
        if ll is None:
            return Address(zip_, country, province, path=path)
        return Address(zip_, country, province, ll[0], ll[1], path)

    def check_order(self, order_in: OrderIn, catalog: Catalog, reader: Reader) -> OrderIn:
        for fo in order_in.extra["fulfillment_orders"]:
            if fo["assigned"] is not None and fo["assigned"] not in catalog.locations:
                reader.fail(f"{fo['path']}.assigned_location_id",
                            f"unknown location {fo['assigned_raw']!r}: not in the locations payload")
        return order_in

    # ------------------------------------------------------------------ render
    def render(self, bound: Bound, decision: Decision | None, atp: AtpLookup | None = None) -> dict[str, Any]:
        by_line = allocations_by_line(decision)
        unfilled = unfilled_by_line(bound, decision)
        moves: dict[tuple[Any, str], list[dict[str, Any]]] = {}
        unchanged: list[dict[str, Any]] = []
        short: list[dict[str, Any]] = []
        for fo in bound.source.extra["fulfillment_orders"]:
            stay: list[dict[str, Any]] = []
            missing: list[dict[str, Any]] = []
            kept, assigned = fo["reason"] is not None, fo["assigned"]
            for raw, key, fulfillable in fo["lines"]:  # (line item id as given, its key, units)
                if fulfillable <= 0:
                    continue
                if kept:
                    stay.append({"id": raw, "quantity": fulfillable})
                    continue
                for node_id, qty in by_line.get(key, ()):
                    if node_id == assigned:
                        stay.append({"id": raw, "quantity": qty})
                    else:
                        moves.setdefault((fo["raw"], node_id), []).append({"id": raw, "quantity": qty})
                left = unfilled.get(key, 0)
                if left:
                    missing.append({"id": raw, "quantity": left})
            if stay:
                unchanged.append({"fulfillment_order_id": fo["raw"], "location_id": fo["assigned_raw"],
                                  "reason": fo["reason"] or "already at the chosen location",
                                  "fulfillment_order_line_items": stay})
            if missing:
                short.append({"fulfillment_order_id": fo["raw"], "location_id": fo["assigned_raw"],
                              "fulfillment_order_line_items": missing})
        return {
            "order_id": bound.source.raw_id,
            "moves": [self._move(fo_raw, self.location_raw(bound, node_id), items)
                      for (fo_raw, node_id), items in moves.items()],
            "unchanged": unchanged,
            "unfilled": short,
            "sourcewise": summary(bound, decision),
        }

    @staticmethod
    def _move(fo_raw: Any, location_raw: Any, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"fulfillment_order_id": fo_raw,
                "fulfillment_order": {"new_location_id": location_raw, "fulfillment_order_line_items": items}}

    def render_reroute(self, bound: Bound, before: Decision | None, after: Decision, rejected: str,
                       lines: Sequence[str] | None, atp: AtpLookup | None = None, **context: Any) -> dict[str, Any]:
        """Move requests for what a rejecting location gave up.

        With ``fulfillment_order`` (the rejected fulfillment order as Shopify
        returns it) the moves address that fulfillment order and its line
        item ids. Without it they address the original fulfillment order,
        which is right when nothing had moved yet; after an earlier move
        Shopify created a new fulfillment order, and the response says so.
        """
        delta = allocation_delta(before, after, lines, rejected)
        fo_in = context.get("fulfillment_order")
        notes: list[str] = []
        moves: dict[tuple[Any, str], list[dict[str, Any]]] = {}
        fo_raw_of: dict[str, Any] = {}
        for fo in bound.source.extra["fulfillment_orders"]:
            for _, key, _ in fo["lines"]:
                fo_raw_of[key] = fo["raw"] if fo["assigned"] == rejected else None
        moved_units: dict[str, int] = {}
        for line_id, pieces in delta.items():
            ln = bound.line(line_id)
            if fo_in is not None:
                target_fo = fo_in["raw"]
                item_id = fo_in["by_line_item"].get(self.key_of(ln.ref["line_item"]), ln.raw_id)
            else:
                target_fo = fo_raw_of.get(line_id)
                item_id = ln.raw_id
                if target_fo is None:
                    notes.append(f"line {ln.raw_id} had been moved before; address the fulfillment order now "
                                 f"assigned to location {self.location_raw(bound, rejected)}")
            for node_id, qty in pieces:
                moved_units[line_id] = moved_units.get(line_id, 0) + qty
                moves.setdefault((target_fo, node_id), []).append({"id": item_id, "quantity": qty})
        rejected_units: dict[str, int] = {}
        if before is not None:
            for a in before.allocations:
                if a.node_id == rejected and (lines is None or a.line_id in lines):
                    rejected_units[a.line_id] = rejected_units.get(a.line_id, 0) + a.qty
        def item_of(lid: str) -> Any:
            ln = bound.line(lid)
            if fo_in is None:
                return ln.raw_id
            return fo_in["by_line_item"].get(self.key_of(ln.ref["line_item"]), ln.raw_id)

        short = [{"id": item_of(lid), "quantity": q - moved_units.get(lid, 0)}
                 for lid, q in rejected_units.items() if q > moved_units.get(lid, 0)]
        out = {
            "order_id": bound.source.raw_id,
            "rejected_location_id": self.location_raw(bound, rejected),
            "moves": [self._move(fo, self.location_raw(bound, node_id), items)
                      for (fo, node_id), items in moves.items()],
            "unfilled": short,
            "sourcewise": summary(bound, after),
        }
        out["sourcewise"]["notes"].extend(notes)
        return out


def reject_fulfillment_order(session: Session, fulfillment_order: Any) -> dict[str, Any]:
    """Handle a location's rejection of a fulfillment order: re-route and return new moves.

    Parameters
    ----------
    session : Session
        The Shopify session that routed the order.
    fulfillment_order : dict
        The rejected fulfillment order as Shopify returns it (``{"fulfillment_order": {...}}``
        or the bare object): its ``order_id``, ``assigned_location_id`` (the
        rejecting location) and ``line_items`` (with ``line_item_id``).

    Returns
    -------
    dict
        ``moves`` addressed to this fulfillment order and its line item ids,
        ``unfilled`` for what no other location can supply.

    Raises
    ------
    AdapterError
        For a malformed payload or an order this session has not routed; nothing changes.
    """
    adapter = session.adapter
    r = Reader(adapter.name, "fulfillment_order")
    top = r.as_obj(fulfillment_order, "")
    d = None
    base = ""
    if top is not None:
        d, base = (r.take(top, "fulfillment_order", "", "obj"), "fulfillment_order") \
            if "fulfillment_order" in top else (top, "")
    fid = oid = loc = None
    by_item: dict[str, Any] = {}
    if d is not None:
        fid = r.take(d, "id", base, "id")
        oid = r.take(d, "order_id", base, "id")
        loc = r.take(d, "assigned_location_id", base, "id")
        for k, fl in enumerate(r.take(d, "line_items", base, "list") or []):
            lp = f"{base}.line_items[{k}]" if base else f"line_items[{k}]"
            fd = r.as_obj(fl, lp)
            if fd is None:
                continue
            flid = r.take(fd, "id", lp, "id")
            item = r.take(fd, "line_item_id", lp, "id")
            if flid is not None and item is not None:
                by_item.setdefault(adapter.key_of(item), flid)
    r.raise_if_any()
    bound = session.bound_of(oid)
    if bound is None:
        r.fail(f"{base}.order_id" if base else "order_id", f"order {oid!r} has not been routed in this session")
        r.raise_if_any()
    assert bound is not None
    ours = [ln.line_id for ln in bound.source.lines if adapter.key_of(ln.ref["line_item"]) in by_item]
    return session.reject(oid, loc, ours, fulfillment_order={"raw": fid, "by_line_item": by_item})
