"""commercetools (HTTP API) adapter.

Payloads in
-----------
order file
    An ``Order`` as ``GET /{projectKey}/orders/{id}`` returns it.
locations file
    ``Channel`` objects: a ``PagedQueryResponse`` (``{"results": [...]}``) or
    a bare list. Channels with the ``InventorySupply`` role become
    locations; their ``geoLocation`` is a GeoJSON Point, which orders
    coordinates **[longitude, latitude]**.
inventory file
    ``InventoryEntry`` objects, paged or bare: ``sku``, ``supplyChannel``,
    ``availableQuantity``.

A line item's ``supplyChannel`` says where its stock was meant to come
from. References come *unexpanded* (``{"typeId": "channel", "id": ...}``)
unless the request asked for ``expand=lineItems[*].supplyChannel``; an
unexpanded reference must be resolvable through the channels payload, or
the order is rejected -- a guessed channel would silently route wrong.

Quantities already in ``shippingInfo.deliveries`` are deducted: only what
is still undelivered is routed.

Response
--------
``lineItemSupplyChannels``: one assignment per (line item, channel) piece,
as ``{"lineItemId", "sku", "quantity", "supplyChannel": <ChannelResourceIdentifier>}``, plus
``previousSupplyChannel`` (by id, however the line item referenced it) when the piece moves
off the channel the line item named.
``orderUpdate``: an Order update body (``version`` + ``actions``) with one
``addDelivery`` per shipping channel, whose ``items`` group the line items
that ship together -- the item groups of a split; each delivery's
``deliveryKey`` is ``<orderNumber>-<channel key>``. ``unfilled`` lists what
no channel can supply. Keys are camelCase, as commercetools' own.

After a rejection (:meth:`Session.reject <engine.adapters.Session.reject>`)
the update instead carries ``removeDelivery`` / ``setDeliveryItems`` /
``addDelivery`` actions, by delivery key, that turn the earlier deliveries
into the new plan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sourcewise.engine.adapters.base import Adapter
from sourcewise.engine.adapters.binding import bind_plain
from sourcewise.engine.adapters.fastpath import fast_convert
from sourcewise.engine.adapters.fields import Field
from sourcewise.engine.adapters.fields import Record
from sourcewise.engine.adapters.reader import Paths
from sourcewise.engine.adapters.reader import Reader
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
from sourcewise.models.decision import Decision

__all__ = ["ADDRESS", "ORDER", "CommercetoolsAdapter"]

SUPPLY_ROLE = "InventorySupply"
_KEY_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_GEO_HINT = " (GeoJSON Points are [longitude, latitude])"

# The order's fields, once: the careful reader's Shapes and the fast path's msgspec schema both
# come from these (see engine.adapters.fields).
_DIGITS = Field("fractionDigits", "int", False, 0, 20)
CENT_MONEY = Record("CtCentMoney", _DIGITS, Field("centAmount", "int"),
                    Field("type", "any", False))  # "highPrecision" takes the careful path
PRECISE_MONEY = Record("CtPreciseMoney", _DIGITS, Field("preciseAmount", "int"))
PRICE = Record("CtPrice", Field("value", "obj", False, of=CENT_MONEY))
VARIANT = Record("CtVariant", Field("sku", "str"))
LINE_ITEM = Record(
    "CtLineItem", Field("id", "str"), Field("variant", "obj", of=VARIANT), Field("quantity", "int", lo=1),
    Field("price", "obj", False, of=PRICE),
    Field("supplyChannel", "obj", False),  # kept as given: checked against the catalog
)
DELIVERY_ITEM = Record("CtDeliveryItem", Field("id", "str"), Field("quantity", "int"))
DELIVERY = Record("CtDelivery", Field("items", "list", of=DELIVERY_ITEM))
SHIPPING_INFO = Record("CtShippingInfo", Field("shippingMethodName", "str", False),
                       Field("deliveries", "list", False, of=DELIVERY))
ADDRESS = Record("CtAddress", Field("postalCode", "str0", False), Field("country", "str", False),
                 Field("state", "str", False), Field("region", "str", False))  # region: read without a state
ORDER = Record(
    "CtOrder", Field("id", "str"), Field("orderNumber", "str", False), Field("version", "int", False),
    Field("lineItems", "list1", of=LINE_ITEM), Field("shippingInfo", "obj", False, of=SHIPPING_INFO),
    Field("shippingAddress", "obj", False, of=ADDRESS), Field("customLineItems", "any", False),
)
# what the careful reader reads together (the rest is read where its messages belong)
_ORDER = ORDER.shape("id", "orderNumber", "version", "lineItems")
_SHIPPING_INFO = SHIPPING_INFO.shape()
_DELIVERY_ITEM = DELIVERY_ITEM.shape()
_LINE_ITEM = LINE_ITEM.shape()
_ADDRESS = ADDRESS.shape("postalCode", "country", "state")
_CENT_VALUE = CENT_MONEY.shape("fractionDigits", "centAmount")

_LINE_PATHS = Paths("lineItems")
_CHANNEL_PATHS = Paths("lineItems", ".supplyChannel")

# Delivery-key fragments made safe, by raw text: channel keys repeat on every order.
_SAFE_KEYS: dict[str, str] = {}


def _plain_channel(ref: dict, locations: Mapping[str, Any], keys: Mapping[str, str]) -> str | None:
    """The channel a plain supply-channel reference names -- by id, or by key through the
    channels payload -- when it is a channel of the catalog; ``None`` for anything else,
    which :meth:`CommercetoolsAdapter.check_order` reads carefully (and may still accept)."""
    if ref.get("typeId") != "channel":
        return None
    if "id" in ref:
        cid = ref["id"]
    else:
        key = ref.get("key")
        cid = keys.get(key) if type(key) is str else None
    return cid if type(cid) is str and cid in locations and cid.strip() else None


def _scaled(amount: int, digits: int | None) -> str:
    """Decimal text of an amount in minor units (``fractionDigits`` of them, 2 by default).

    8999 with 2 digits is ``"89.99"``: string work, exact like Decimal and cheaper.
    """
    digits = 2 if digits is None else digits
    text = str(amount).rjust(digits + 1, "0")
    return f"{text[:-digits]}.{text[-digits:]}" if digits else text


def _plain_order(o: Any, catalog: Catalog | None) -> OrderIn | None:
    """The :class:`OrderIn` of an order decoded into :data:`ORDER`'s schema -- what the careful
    reader returns for it -- or ``None`` when it holds what only the careful reader decides.

    Plain: every value read is well formed (msgspec checked the types), the
    order has a shipping address, no delivery holds more than its line item
    and prices are cent amounts. With a ``catalog`` (the fast path) each
    supply channel must also be a reference, by id or by key, to one of its
    channels -- what :meth:`CommercetoolsAdapter.check_order` accepts without
    a word -- and the line's channel is the one it names; without one (a
    read before the catalog is known) it is the reference's id, as the
    careful reader leaves it.

    Parameters
    ----------
    o : msgspec.Struct
        The order, decoded into ``ORDER.struct``.
    catalog : Catalog or None
        What the supply channels must name (the fast path), or ``None`` (:meth:`read_order`).

    Returns
    -------
    OrderIn or None
    """
    a = o.shippingAddress
    if a is None:
        return None
    service = None
    delivered: dict[str, int] = {}
    info = o.shippingInfo
    if info is not None:
        service = info.shippingMethodName
        for dl in info.deliveries or ():
            for it in dl.items:
                delivered[it.id] = delivered.get(it.id, 0) + it.quantity
    if catalog is not None:
        locations = catalog.locations
        keys = catalog.extra.get("channel_keys", {})
    lines: list[LineIn] = []
    for i, li in enumerate(o.lineItems):
        ref = li.supplyChannel
        cid = None
        if ref is not None:
            if catalog is None:
                cid = ref.get("id")
            else:
                cid = _plain_channel(ref, locations, keys)
                if cid is None:
                    return None
        price = None
        if li.price is not None and li.price.value is not None:
            money = li.price.value
            if money.type == "highPrecision":
                return None
            price = _scaled(money.centAmount, money.fractionDigits)
        lid, qty = li.id, li.quantity
        left = qty - delivered[lid] if delivered and lid in delivered else qty
        if left < 0:
            return None
        if left:
            lines.append(new_tuple(LineIn, (lid, lid, li.variant.sku, left, _LINE_PATHS[i], price, None,
                                            {"supplyChannel": ref, "path": _CHANNEL_PATHS[i], "channel": cid})))
    region = a.state if a.state is not None else a.region
    oid = o.id
    return new_tuple(OrderIn, (
        oid, oid, tuple(lines), new_tuple(Address, (a.postalCode, a.country, region, None, None, "shippingAddress")),
        service, True, None, {"orderNumber": o.orderNumber, "version": o.version},
        ("custom line items have no SKU and are not routed",) if o.customLineItems else (), None,
    ))


def _localized(v: Any) -> str | None:
    """First value of a LocalizedString (names are ``{"en": "..."}``)."""
    if isinstance(v, dict):
        for text in v.values():
            if isinstance(text, str):
                return text
    return v if isinstance(v, str) else None


class CommercetoolsAdapter(Adapter):
    """commercetools payloads <-> Sourcewise models (see the module docstring)."""

    name = "commercetools"

    # ------------------------------------------------------------------ catalog
    def _address(self, reader: Reader, d: dict, path: str) -> Address:
        vals = _ADDRESS.fast(d)
        if vals is not None:
            # region is only read when state says nothing, as below
            postal, country, state = vals
            return Address(postal, country, state or ADDRESS.take(reader, d, "region", path), path=path)
        return Address(
            ADDRESS.take(reader, d, "postalCode", path),
            ADDRESS.take(reader, d, "country", path),
            ADDRESS.take(reader, d, "state", path) or ADDRESS.take(reader, d, "region", path),
            path=path,
        )

    def read_catalog(self, locations: Any, inventory: Any, reader: Reader
                     ) -> tuple[list[LocationIn], list[StockIn], dict[str, Any]]:
        cr = reader.doc("locations")
        ir = reader.doc("inventory")
        locs: list[LocationIn] = []
        others: dict[str, list[str]] = {}
        keys: dict[str, str] = {}
        notes: list[str] = []
        # a PagedQueryResponse ({"results": [...]}) or a bare list, as for the inventory
        for _, path, d in cr.objects(*cr.elements(locations, "results")):
            cid = cr.take(d, "id", path, "str")
            key = cr.take(d, "key", path, "str", required=False)
            roles = cr.take(d, "roles", path, "list")
            if roles is not None:
                for k, role in enumerate(roles):
                    cr.as_str(role, f"{path}.roles[{k}]")
            a = cr.take(d, "address", path, "obj", required=False)
            addr = self._address(cr, a, f"{path}.address") if a is not None else Address(path=path)
            geo = cr.take(d, "geoLocation", path, "obj", required=False)
            if geo is not None:
                gp = f"{path}.geoLocation"
                gtype = cr.take(geo, "type", gp, "str")
                if gtype is not None and gtype != "Point":
                    cr.fail(f"{gp}.type", f"must be 'Point', got {gtype!r}")
                coords = cr.take(geo, "coordinates", gp, "list")
                if coords is not None:
                    if len(coords) != 2:
                        cr.fail(f"{gp}.coordinates", f"must be [longitude, latitude], got {len(coords)} values")
                    else:
                        lng, lat = coords
                        ll = cr.coords(lat, lng, f"{gp}.coordinates", f"{gp}.coordinates", addr.reference(),
                                       swapped_hint=_GEO_HINT)
                        if ll is not None:
                            addr = Address(addr.postal_code, addr.country, addr.region, ll[0], ll[1], addr.path)
            if cid is None or roles is None:
                continue
            if key is not None:
                keys[key] = cid
            if SUPPLY_ROLE not in roles:
                others[cid] = [r for r in roles if isinstance(r, str)]
                continue
            locs.append(LocationIn(cid, cid, addr, path, name=_localized(d.get("name")), extra={"key": key}))
        supply = {loc.node_id for loc in locs}
        stock: list[StockIn] = []
        for _, path, d in ir.objects(*ir.elements(inventory, "results")):
            sku = ir.take(d, "sku", path, "str")
            avail = ir.take(d, "availableQuantity", path, "int", lo=None)
            ref = ir.take(d, "supplyChannel", path, "obj", required=False)
            cid = None
            if ref is not None:
                cid = self._ref_id(ir, ref, f"{path}.supplyChannel", keys)
                if cid is not None and cid not in supply:
                    if cid in others:
                        ir.fail(f"{path}.supplyChannel", f"channel {cid!r} lacks the {SUPPLY_ROLE} role "
                                                         f"(roles {others[cid]})")
                    else:
                        ir.fail(f"{path}.supplyChannel", f"unknown channel {cid!r}: not in the channels payload")
                    continue
            if sku is None or avail is None:
                continue
            if ref is None:
                # channel-less stock belongs to no location and cannot be routed
                notes.append(f"inventory entry for sku {sku!r} has no supplyChannel; not routable")
                continue
            if cid is None:
                continue
            # availableQuantity can go negative when reservations exceed stock
            stock.append(StockIn(cid, sku, max(0, avail), path))
        return locs, stock, {"notes": notes, "other_channels": others, "channel_keys": keys}

    def _ref_id(self, reader: Reader, ref: dict, path: str, keys: dict[str, str]) -> str | None:
        """Channel id of a Reference / ResourceIdentifier (by id, or by key via the channels)."""
        type_id = reader.take(ref, "typeId", path, "str")
        if type_id is not None and type_id != "channel":
            reader.fail(f"{path}.typeId", f"must be 'channel', got {type_id!r}")
            return None
        if "id" in ref:
            return reader.take(ref, "id", path, "str")
        key = reader.take(ref, "key", path, "str", required=False)
        if key is None:
            reader.fail(path, "reference needs an id (or a key)")
            return None
        if key not in keys:
            reader.fail(f"{path}.key", f"unknown channel key {key!r}: not in the channels payload")
            return None
        return keys[key]

    # ------------------------------------------------------------------ order
    def read_order(self, payload: Any, reader: Reader) -> OrderIn | None:
        plain = fast_convert(payload, ORDER.struct)
        order_in = None if plain is None else _plain_order(plain, None)
        return order_in if order_in is not None else self._read_careful(payload, reader)

    def _read_careful(self, payload: Any, reader: Reader) -> OrderIn | None:
        """:meth:`read_order` value by value, recording every problem with its JSON path."""
        order = reader.as_obj(payload, "")
        if order is None:
            return None
        oid, number, version, items = _ORDER.read(reader, order, "")  # type: ignore[misc]
        delivered: dict[str, int] = {}
        service = None
        info = order.get("shippingInfo")
        if type(info) is not dict:
            info = ORDER.take(reader, order, "shippingInfo", "")
        if info is not None:
            service, deliveries = _SHIPPING_INFO.read(reader, info, "shippingInfo")  # type: ignore[misc]
            for j, dl in enumerate(deliveries or ()):
                dp = f"shippingInfo.deliveries[{j}]"
                dd = reader.as_obj(dl, dp)
                for k, it in enumerate((DELIVERY.take(reader, dd, "items", dp) if dd is not None else None) or []):
                    lid, q = _DELIVERY_ITEM.read(reader, it, f"{dp}.items[{k}]") or (None, None)
                    if lid is not None and q is not None:
                        delivered[lid] = delivered.get(lid, 0) + q
        lines: list[LineIn] = []
        for path, vals in _LINE_ITEM.read_each(reader, items, "lineItems"):
            lid, variant, qty, price_obj, ref = vals
            sku = None
            if variant is not None:
                sku = variant.get("sku")
                if not (type(sku) is str and sku.strip()):
                    sku = VARIANT.take(reader, variant, "sku", f"{path}.variant")
            price = self._price(reader, price_obj, path) if price_obj is not None else None
            if lid is None or sku is None or qty is None:
                continue
            left = qty - delivered.get(lid, 0)  # type: ignore[operator]
            if left < 0:
                reader.fail(path, f"deliveries hold {delivered[lid]} units but quantity is {qty}")  # type: ignore[index]
                continue
            if left == 0:
                continue
            # "channel": the channel the reference names; check_order resolves one given by key
            lines.append(LineIn(lid, lid, sku, left, path, price=price,  # type: ignore[arg-type]
                                ref={"supplyChannel": ref, "path": f"{path}.supplyChannel",
                                     "channel": None if ref is None else ref.get("id")}))
        address = None
        sa = order.get("shippingAddress")
        if type(sa) is not dict:
            sa = ORDER.take(reader, order, "shippingAddress", "")
        if sa is not None:
            address = self._address(reader, sa, "shippingAddress")
        elif lines:
            reader.fail("shippingAddress", "required field is missing: the order cannot be routed without it")
        notes = []
        if order.get("customLineItems"):
            notes.append("custom line items have no SKU and are not routed")
        if oid is None:
            return None
        return OrderIn(oid, oid, tuple(lines), address, service_level=service, notes=tuple(notes),
                       extra={"orderNumber": number, "version": version})

    fast_schemas = (ORDER.struct,)

    def fast_bind(self, o: Any, catalog: Catalog) -> Bound | None:
        """Reading, the channel check and binding in one pass, for a plain order (see
        :func:`_plain_order`); anything else returns ``None`` and takes the careful path."""
        order_in = _plain_order(o, catalog)
        return None if order_in is None else bind_plain(order_in, catalog)

    @staticmethod
    def _price(reader: Reader, price: dict, item_path: str) -> str | None:
        """Unit price (decimal text) from ``price.value``: cent or precise amounts scaled by fractionDigits.

        ``item_path`` is the line item's; paths below it are only built for a problem.
        """
        value = price.get("value")
        vals = None
        if type(value) is dict and value.get("type") != "highPrecision":
            vals = _CENT_VALUE.fast(value)
        if vals is not None:
            digits, amount = vals
        else:
            path = f"{item_path}.price"
            value = PRICE.take(reader, price, "value", path)
            if value is None:
                return None
            vp = f"{path}.value"
            digits = CENT_MONEY.take(reader, value, "fractionDigits", vp)
            if value.get("type") == "highPrecision" and "preciseAmount" in value:
                amount = PRECISE_MONEY.take(reader, value, "preciseAmount", vp)
            else:
                amount = CENT_MONEY.take(reader, value, "centAmount", vp)
            if amount is None:
                return None
        return _scaled(amount, digits)

    def check_order(self, order_in: OrderIn, catalog: Catalog, reader: Reader) -> OrderIn:
        others = catalog.extra.get("other_channels", {})
        keys = catalog.extra.get("channel_keys", {})
        locations = catalog.locations
        notes = list(order_in.notes)
        lines = list(order_in.lines)
        for n, ln in enumerate(order_in.lines):
            ref = ln.ref.get("supplyChannel")
            if not isinstance(ref, dict):
                continue
            path = ln.ref["path"]
            # the usual reference (by id or key, to a channel of the catalog) needs no reading
            cid = _plain_channel(ref, locations, keys) or self._ref_id(reader, ref, path, keys)
            if cid is None:
                continue
            if cid != ln.ref.get("channel"):
                # a reference by key: the response must name the channel by id, as for one by id
                lines[n] = ln._replace(ref={**ln.ref, "channel": cid})
            if cid in locations:
                continue
            if cid in others:
                reader.fail(path, f"channel {cid!r} lacks the {SUPPLY_ROLE} role (roles {others[cid]})")
                continue
            obj = ref.get("obj")
            if obj is None:
                reader.fail(path, f"unexpanded reference to channel {cid!r}, and the channels payload has no "
                                  "such channel to look it up: expand it (expand=lineItems[*].supplyChannel) "
                                  "or include the channel")
                continue
            o = reader.as_obj(obj, f"{path}.obj")
            if o is None:
                continue
            roles = o.get("roles")
            if not isinstance(roles, list) or SUPPLY_ROLE not in roles:
                reader.fail(f"{path}.obj.roles", f"channel {cid!r} lacks the {SUPPLY_ROLE} role")
                continue
            notes.append(f"line item {ln.raw_id}: its supply channel {cid} holds no stock in this catalog")
        if len(notes) == len(order_in.notes) and all(a is b for a, b in zip(lines, order_in.lines, strict=True)):
            return order_in
        return order_in._replace(lines=tuple(lines), notes=tuple(notes))

    # ------------------------------------------------------------------ render
    def channel_ref(self, bound: Bound, node_id: str) -> dict[str, Any]:
        """The ChannelResourceIdentifier of a node in responses (subclasses may say more)."""
        return {"typeId": "channel", "id": node_id}

    def _delivery_key(self, bound: Bound, node_id: str, head: str | None = None) -> str:
        """``<orderNumber>-<channel key>`` made safe; ``head`` is :meth:`_key_head`, when known."""
        loc = bound.catalog.locations.get(node_id)
        tail = (loc.extra.get("key") if loc is not None else None) or node_id
        # Delivery keys allow [A-Za-z0-9_-], 2 to 256 characters. Unsafe runs never span the
        # safe "-" between the parts, so each part can be made safe alone (and the tail remembered).
        safe = _SAFE_KEYS.get(tail)
        if safe is None:
            if len(_SAFE_KEYS) >= 65536:
                _SAFE_KEYS.clear()
            safe = _SAFE_KEYS[tail] = _KEY_SAFE.sub("-", tail)
        return f"{self._key_head(bound) if head is None else head}-{safe}"[:256]

    @staticmethod
    def _key_head(bound: Bound) -> str:
        return _KEY_SAFE.sub("-", bound.source.extra.get("orderNumber") or bound.order_id)

    def _deliveries(self, bound: Bound, groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        head = self._key_head(bound) if groups else ""
        return [{"action": "addDelivery", "deliveryKey": self._delivery_key(bound, node_id, head), "items": items}
                for node_id, items in groups.items()]

    def _update(self, bound: Bound, actions: list[dict[str, Any]]) -> dict[str, Any]:
        version = bound.source.extra.get("version")
        return {"version": version, "actions": actions} if version is not None else {"actions": actions}

    def render(self, bound: Bound, decision: Decision | None, atp: AtpLookup | None = None) -> dict[str, Any]:
        by_line = allocations_by_line(decision)
        unfilled = unfilled_by_line(bound, decision)
        assignments: list[dict[str, Any]] = []
        groups: dict[str, list[dict[str, Any]]] = {}
        short: list[dict[str, Any]] = []
        plain_channel = type(self).channel_ref is CommercetoolsAdapter.channel_ref  # subclasses may say more
        for ln in bound.source.lines:
            line_id, raw, sku = ln.line_id, ln.raw_id, ln.sku
            pieces = by_line.get(line_id)
            if pieces:
                # the channel the line's reference names, by id or (resolved by check_order) by key
                prev_id = ln.ref.get("channel")
                for node_id, qty in pieces:
                    a = {"lineItemId": raw, "sku": sku, "quantity": qty,
                         "supplyChannel": {"typeId": "channel", "id": node_id} if plain_channel
                         else self.channel_ref(bound, node_id)}
                    if prev_id is not None and prev_id != node_id:
                        a["previousSupplyChannel"] = {"typeId": "channel", "id": prev_id}
                    assignments.append(a)
                    group = groups.get(node_id)
                    if group is None:
                        group = groups[node_id] = []
                    group.append({"id": raw, "quantity": qty})
            left = unfilled.get(line_id)
            if left:
                short.append({"lineItemId": raw, "sku": sku, "quantity": left})
        return {
            "id": bound.source.raw_id,
            "orderNumber": bound.source.extra.get("orderNumber"),
            "lineItemSupplyChannels": assignments,
            "orderUpdate": self._update(bound, self._deliveries(bound, groups)),
            "unfilled": short,
            "sourcewise": summary(bound, decision),
        }

    def render_reroute(self, bound: Bound, before: Decision | None, after: Decision, rejected: str,
                       lines: Sequence[str] | None, atp: AtpLookup | None = None, **context: Any) -> dict[str, Any]:
        """Delivery changes that take the order from ``before`` to ``after``.

        Assumes the deliveries of the earlier response were applied (one per
        channel, keyed by :meth:`_delivery_key`): the rejecting channel's
        delivery is removed (or cut down, when it rejected only some lines),
        deliveries of channels that take over units get ``setDeliveryItems``,
        and channels new to the order get ``addDelivery``.
        """
        def grouped(decision: Decision | None) -> dict[str, list[dict[str, Any]]]:
            out: dict[str, list[dict[str, Any]]] = {}
            for ln in bound.source.lines:
                for node_id, qty in allocations_by_line(decision).get(ln.line_id, []):
                    out.setdefault(node_id, []).append({"id": ln.raw_id, "quantity": qty})
            return out

        old, new = grouped(before), grouped(after)
        actions: list[dict[str, Any]] = []
        for node_id, items in old.items():
            if node_id not in new:
                actions.append({"action": "removeDelivery", "deliveryKey": self._delivery_key(bound, node_id)})
            elif new[node_id] != items:
                actions.append({"action": "setDeliveryItems", "deliveryKey": self._delivery_key(bound, node_id),
                                "items": new[node_id]})
        actions.extend(self._deliveries(bound, {n: items for n, items in new.items() if n not in old}))
        full = self.render(bound, after, atp)
        affected = set(lines) if lines is not None else set(allocation_delta(before, after, None, rejected))
        raw = {bound.line(lid).raw_id for lid in affected}
        return {
            "id": bound.source.raw_id,
            "orderNumber": bound.source.extra.get("orderNumber"),
            "rejectedSupplyChannel": self.channel_ref(bound, rejected),
            "lineItemSupplyChannels": [a for a in full["lineItemSupplyChannels"] if a["lineItemId"] in raw],
            "orderUpdate": self._update(bound, actions),
            "unfilled": [u for u in full["unfilled"] if u["lineItemId"] in raw],
            "sourcewise": full["sourcewise"],
        }
