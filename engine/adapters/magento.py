"""Magento / Adobe Commerce MSI adapter: a Source Selection Algorithm in the engine.

Payloads in (camelCase *and* snake_case keys are accepted, as Magento's web API does)
----------------------------------------------------------------------------------
order file
    The body of ``POST /V1/inventory/source-selection-algorithm-result``::

        {"inventoryRequest": {"stockId": 2,
                              "items": [{"sku": "24-WB01", "qty": 20}],
                              "extension_attributes": {"destination_address": {
                                  "country": "US", "postcode": "10577", "region": "NY", ...}}},
         "algorithmCode": "distance"}

    An optional ``orderId`` (top level or in the request's extension
    attributes) names the reservation; without one each request is a new
    order.
locations file
    Sources: ``GET /V1/inventory/sources`` (``{"items": [...]}``), the
    priority-ordered list of ``GET /V1/inventory/get-sources-assigned-to-stock-ordered-by-priority/{stockId}``,
    or ``{"sources": ..., "stock_source_links": ...}`` with the links of
    ``GET /V1/inventory/stock-source-links``. A source item naming a source
    the payload does not list is an error, except with the stock's own
    (bare) list, where other stocks' items are expected and ignored. ``latitude``/``longitude`` of 0/0
    is Magento's default and means *unknown*: such sources are placed by
    postcode, region or country (or config).
inventory file
    Source items: ``GET /V1/inventory/source-items`` (``{"items": [...]}``).

Response (snake_case, as Magento answers)
-----------------------------------------
``{"source_selection_items": [{"source_code", "sku", "qty_to_deduct", "qty_available"}], "shippable": bool}``,
one item per (source, requested SKU) for every enabled source of the stock
that has a source item for the SKU -- including those deducting 0, as
Magento's own algorithms list them -- sources in priority order.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from msgspec import UNSET

from sourcewise.engine.adapters.base import Adapter
from sourcewise.engine.adapters.binding import bind_plain
from sourcewise.engine.adapters.binding import build_catalog
from sourcewise.engine.adapters.fastpath import fast_convert
from sourcewise.engine.adapters.fields import Field
from sourcewise.engine.adapters.fields import Record
from sourcewise.engine.adapters.fields import first_set
from sourcewise.engine.adapters.reader import MISSING
from sourcewise.engine.adapters.reader import AdapterError
from sourcewise.engine.adapters.reader import Paths
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.records import EMPTY
from sourcewise.engine.adapters.records import Address
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.adapters.records import Catalog
from sourcewise.engine.adapters.records import LineIn
from sourcewise.engine.adapters.records import LocationIn
from sourcewise.engine.adapters.records import OrderIn
from sourcewise.engine.adapters.records import StockIn
from sourcewise.engine.adapters.records import new_tuple
from sourcewise.engine.adapters.render import AtpLookup
from sourcewise.engine.adapters.render import allocations_by_line
from sourcewise.engine.adapters.render import summary
from sourcewise.engine.geocode import GeoPoint
from sourcewise.models.decision import Decision

__all__ = ["REQUEST", "MagentoAdapter"]


# The request's fields, once: the careful reader's Shapes and the fast path's msgspec schema both
# come from these (see engine.adapters.fields). A key Magento spells two ways is declared with
# both spellings, read in the order given.
ITEM = Record("MagentoItem", Field("sku", "str"), Field("qty", "int", lo=1))
DESTINATION = Record(
    "MagentoDestination", Field("postcode", "str0", False), Field(("country", "country_id", "countryId"), "str", False),
    Field(("region_code", "regionCode"), "str", False), Field("region", "str0", False),
)
EXTENSION = Record("MagentoExtension", Field(("destination_address", "destinationAddress"), "obj", False, of=DESTINATION),
                   Field(("order_id", "orderId"), "id", False))
INVENTORY_REQUEST = Record(
    "MagentoInventoryRequest", Field(("stockId", "stock_id"), "int", lo=1), Field("items", "list1", of=ITEM),
    Field(("extension_attributes", "extensionAttributes"), "obj", False, of=EXTENSION),
)
REQUEST = Record(
    "MagentoRequest", Field(("inventoryRequest", "inventory_request"), "obj", of=INVENTORY_REQUEST),
    Field(("algorithmCode", "algorithm_code"), "str", False), Field(("orderId", "order_id"), "id", False),
)
_ITEM = ITEM.shape()

_ITEM_PATHS = {base: Paths(f"{base}.items") for base in ("inventoryRequest", "inventory_request")}


def _plain_request(top: Any) -> OrderIn | None:
    """The :class:`OrderIn` of a request decoded into :data:`REQUEST`'s schema (what the careful
    reader returns for it), or ``None`` when it lacks a stock or an inventory request."""
    irq = top.inventoryRequest
    base = "inventoryRequest"
    if irq is UNSET:
        irq, base = top.inventory_request, "inventory_request"
        if irq is UNSET:
            return None
    stock_id = first_set(irq.stockId, irq.stock_id)
    if stock_id is UNSET:
        return None
    address = None
    order_raw: Any = None
    ext = first_set(irq.extension_attributes, irq.extensionAttributes)
    if ext is not UNSET and ext is not None:
        dest = first_set(ext.destination_address, ext.destinationAddress)
        if dest is not UNSET and dest is not None:
            ext_key = "extension_attributes" if irq.extension_attributes is not UNSET else "extensionAttributes"
            dest_key = "destination_address" if ext.destination_address is not UNSET else "destinationAddress"
            country = first_set(dest.country, dest.country_id, dest.countryId)
            region_code = first_set(dest.region_code, dest.regionCode)
            address = new_tuple(Address, (dest.postcode, None if country is UNSET else country,
                                          (None if region_code is UNSET else region_code) or dest.region,
                                          None, None, f"{base}.{ext_key}.{dest_key}"))
        order_raw = first_set(ext.order_id, ext.orderId)
    top_id = first_set(top.orderId, top.order_id)
    if top_id is not UNSET and top_id is not None:
        order_raw = top_id
    if order_raw is UNSET or order_raw is None:
        # no order id: this request is its own order (and its own reservation)
        order_raw = f"msi-{uuid.uuid4().hex[:16]}"
    algorithm = first_set(top.algorithmCode, top.algorithm_code)
    paths = _ITEM_PATHS[base]
    lines = tuple([new_tuple(LineIn, (str(i), i, it.sku, it.qty, paths[i], None, None, EMPTY))
                   for i, it in enumerate(irq.items)])
    return new_tuple(OrderIn, (
        str(order_raw), order_raw, lines, address, None, True, None,
        {"stock_id": stock_id, "algorithm": None if algorithm is UNSET else algorithm, "path": base}, (), None,
    ))


def _peek_links(locations: Any) -> set[int]:
    """Stock ids the locations payload links sources to (best effort; validation comes later)."""
    if not isinstance(locations, dict) or not isinstance(locations.get("stock_source_links"), dict | list):
        return set()
    raw = locations["stock_source_links"]
    items = raw.get("items") if isinstance(raw, dict) else raw
    out: set[int] = set()
    for link in items if isinstance(items, list) else ():
        if isinstance(link, dict):
            sid = link.get("stock_id", link.get("stockId"))
            if isinstance(sid, int) and not isinstance(sid, bool):
                out.add(sid)
    return out


class MagentoAdapter(Adapter):
    """Magento MSI payloads <-> Sourcewise models (see the module docstring).

    Parameters
    ----------
    stock_id : int, optional
        The stock a long-lived :class:`~sourcewise.engine.adapters.Session` serves:
        only sources linked to it become locations, with their link
        priorities. One-off routing (:func:`~sourcewise.engine.adapters.route_payload`)
        takes it from the request instead.
    all_sources : bool
        List every enabled source holding the SKU, deducting or not, as
        Magento's own algorithms do (default). ``False`` lists only the
        sources that deduct: with hundreds of sources the full list costs
        more to build than routing the order.
    """

    name = "magento"

    def __init__(self, stock_id: int | None = None, *, all_sources: bool = True):
        self.stock_id = stock_id
        self.all_sources = all_sources

    # ------------------------------------------------------------------ catalog
    def read_catalog(self, locations: Any, inventory: Any, reader: Reader
                     ) -> tuple[list[LocationIn], list[StockIn], dict[str, Any]]:
        lr = reader.doc("locations")
        ir = reader.doc("inventory")
        links_raw: Any = None
        src_payload: Any = locations
        base = ""
        if isinstance(locations, dict) and "sources" in locations:
            src_payload, base = locations["sources"], "sources"
            links_raw = locations.get("stock_source_links", None)
        # search results ({"items": [...]}) or bare lists, as for the source items
        sources, prefix = lr.elements(src_payload, "items", base)
        links: dict[int, dict[str, int]] = {}
        if links_raw is not None:
            for _, path, d in lr.objects(*lr.elements(links_raw, "items", "stock_source_links")):
                sid = lr.take(d, ("stock_id", "stockId"), path, "int", lo=1)
                code = lr.take(d, ("source_code", "sourceCode"), path, "str")
                prio = lr.take(d, "priority", path, "int", lo=None, required=False)
                if sid is not None and code is not None:
                    links.setdefault(sid, {})[code] = prio if prio is not None else len(links.get(sid, {}))
        if self.stock_id is not None and links and self.stock_id not in links:
            lr.fail("stock_source_links", f"no source is linked to stock {self.stock_id}")
        linked = links.get(self.stock_id) if self.stock_id is not None else None
        locs: list[LocationIn] = []
        known: set[str] = set()
        notes: list[str] = []
        for i, path, d in lr.objects(sources, prefix):
            code = lr.take(d, ("source_code", "sourceCode"), path, "str")
            enabled = lr.take(d, "enabled", path, "bool", required=False)
            country = lr.take(d, ("country_id", "countryId"), path, "str", required=False)
            postcode = lr.take(d, "postcode", path, "str", required=False, nonempty=False)
            region = (lr.take(d, ("region_code", "regionCode"), path, "str", required=False)
                      or lr.take(d, "region", path, "str", required=False))
            addr = Address(postcode, country, region, path=path)
            lat, lon = d.get("latitude"), d.get("longitude")
            ll = None
            # 0/0 is the default of a source nobody placed, not a spot in the Gulf of Guinea
            if not (lat in (0, None) and lon in (0, None)):
                ll = lr.coords(lat, lon, f"{path}.latitude", f"{path}.longitude", addr.reference())
            if code is None:
                continue
            known.add(code)
            if ll is not None:
                addr = Address(postcode, country, region, ll[0], ll[1], path)
            if linked is not None and code not in linked:
                continue  # belongs to another stock
            prio = linked[code] if linked is not None else i
            locs.append(LocationIn(code, code, addr, path, name=d.get("name") if isinstance(d.get("name"), str)
                                   else None, priority=prio, enabled=enabled if enabled is not None else True))
        for sid, codes in links.items():
            for code in codes:
                if code not in known and sources:
                    lr.fail("stock_source_links", f"stock {sid} links unknown source {code!r}")
        routed = {loc.node_id for loc in locs}
        stock_view = isinstance(locations, list)
        skipped_other = 0
        stock: list[StockIn] = []
        for _, path, d in ir.objects(*ir.elements(inventory, "items")):
            sku = ir.take(d, "sku", path, "str")
            code = ir.take(d, ("source_code", "sourceCode"), path, "str")
            qty = ir.take(d, "quantity", path, "num", hi=1e12)
            status = ir.take(d, "status", path, "int", required=False)
            if status is not None and status not in (0, 1):
                ir.fail(f"{path}.status", f"must be 0 (out of stock) or 1 (in stock), got {status}")
                continue
            if None in (sku, code, qty):
                continue
            if code not in known:
                if stock_view:
                    # a stock's own source list: items of other stocks' sources are expected
                    skipped_other += 1
                    continue
                ir.fail(f"{path}.source_code", f"unknown source {code!r}: not in the sources payload")
                continue
            if code not in routed:
                continue
            units = max(0, math.floor(qty))  # type: ignore[arg-type]
            if units != qty and qty > 0:  # type: ignore[operator]
                notes.append(f"source item {sku!r} at {code!r}: decimal quantity {qty} rounded down to {units}")
            stock.append(StockIn(code, sku, units if status != 0 else 0, path))  # type: ignore[arg-type]
        if skipped_other:
            notes.append(f"{skipped_other} source items belong to sources outside this stock's list; ignored")
        return locs, stock, {"notes": notes, "links": links, "stock_id": self.stock_id}

    # ------------------------------------------------------------------ order
    def read_order(self, payload: Any, reader: Reader) -> OrderIn | None:
        plain = self.read_plain(payload)
        return plain if plain is not None else self._read_careful(payload, reader)

    fast_schemas = (REQUEST.struct,)

    @staticmethod
    def read_plain(payload: Any) -> OrderIn | None:
        """:meth:`read_order` for a request with nothing unusual in it; ``None`` otherwise.

        The request is converted to :data:`REQUEST`'s fast schema, so it
        returns exactly what the careful reader returns for such a request
        (a test holds the two together), without JSON paths or problem
        bookkeeping.
        """
        top = fast_convert(payload, REQUEST.struct)
        return None if top is None else _plain_request(top)

    def fast_bind(self, top: Any, catalog: Catalog) -> Bound | None:
        """Reading, the stock check and binding in one pass, for a plain request.

        Plain: every value read is well formed, the request has a destination
        address and names the stock the catalog serves. Anything else (an
        address-less request routed from the sources' centroid, ``qty``
        written ``2.0``...) returns ``None`` and takes the careful path.
        """
        order_in = _plain_request(top)
        if order_in is None or order_in.address is None:
            return None
        stock_id = order_in.extra["stock_id"]
        served = catalog.extra.get("stock_id")
        links = catalog.extra.get("links", {})
        if served is not None and stock_id != served or links and stock_id not in links:
            return None
        return bind_plain(order_in, catalog)

    def _read_careful(self, payload: Any, reader: Reader) -> OrderIn | None:
        """:meth:`read_order` value by value, recording every problem with its JSON path."""
        top = reader.as_obj(payload, "")
        if top is None:
            return None
        irq = REQUEST.take(reader, top, "inventoryRequest", "")
        if irq is None:
            return None
        base = next(k for k in ("inventoryRequest", "inventory_request") if k in top)
        stock_id = INVENTORY_REQUEST.take(reader, irq, "stockId", base)
        items = INVENTORY_REQUEST.take(reader, irq, "items", base)
        algorithm = REQUEST.take(reader, top, "algorithmCode", "")
        lines: list[LineIn] = []
        for i, it in enumerate(items or []):
            path = f"{base}.items[{i}]"
            vals = _ITEM.fast(it)
            if vals is None:  # Magento sends qty as a number, often 2.0: the careful path takes those
                d = reader.as_obj(it, path)
                if d is None:
                    continue
                # integral_float is the careful reader's alone: the declaration keeps qty an int
                vals = (ITEM.take(reader, d, "sku", path),
                        reader.take(d, "qty", path, "int", lo=1, integral_float=True))
            sku, qty = vals
            if sku is not None and qty is not None:
                lines.append(LineIn(str(i), i, sku, qty, path))
        ext_key, ext = Reader.lookup(irq, ("extension_attributes", "extensionAttributes"))
        address = None
        order_raw: Any = None
        if isinstance(ext, dict):
            ep = f"{base}.{ext_key}"
            dk, dest = Reader.lookup(ext, ("destination_address", "destinationAddress"))
            if dest is not None and dest is not MISSING:
                dp = f"{ep}.{dk}"
                dd = reader.as_obj(dest, dp)
                if dd is not None:
                    address = Address(
                        DESTINATION.take(reader, dd, "postcode", dp),
                        DESTINATION.take(reader, dd, "country", dp),
                        DESTINATION.take(reader, dd, "region_code", dp) or DESTINATION.take(reader, dd, "region", dp),
                        path=dp)
            order_raw = EXTENSION.take(reader, ext, "order_id", ep)
        elif ext is not None and ext is not MISSING:
            reader.as_obj(ext, f"{base}.{ext_key}")
        top_id = REQUEST.take(reader, top, "orderId", "")
        order_raw = top_id if top_id is not None else order_raw
        notes: list[str] = []
        if order_raw is None:
            # no order id: this request is its own order (and its own reservation)
            order_raw = f"msi-{uuid.uuid4().hex[:16]}"
        if stock_id is None:
            return None
        return OrderIn(str(order_raw), order_raw, tuple(lines), address, notes=tuple(notes),
                       extra={"stock_id": stock_id, "algorithm": algorithm, "path": base})

    def check_order(self, order_in: OrderIn, catalog: Catalog, reader: Reader) -> OrderIn:
        sid = order_in.extra["stock_id"]
        links = catalog.extra.get("links", {})
        served = catalog.extra.get("stock_id")
        path = f"{order_in.extra['path']}.stockId"
        if served is not None and sid != served:
            reader.fail(path, f"this catalog serves stock {served}, not {sid}")
        elif links and sid not in links:
            reader.fail(path, f"unknown stock {sid}: no source is linked to it")
        if order_in.address is not None or not catalog.points:
            return order_in
        # Magento's priority algorithm needs no address; without one, route from the
        # middle of the stock's sources so costs stay comparable, and say so.
        pts = list(catalog.points.values())
        fallback = GeoPoint(sum(p.lat for p in pts) / len(pts), sum(p.lon for p in pts) / len(pts), "sources",
                            True, "no destination_address: centroid of the stock's sources")
        return order_in._replace(fallback=fallback)

    def parse(self, order: Any, locations: Any, inventory: Any, *, config: Any = None) -> tuple[Catalog, Bound]:
        """One-off routing: the request's ``stockId`` picks the sources (see :class:`MagentoAdapter`)."""
        r = Reader(self.name, "order")
        order_in = self.read_order(order, r)
        saved = self.stock_id
        wanted = order_in.extra["stock_id"] if order_in is not None else None
        links = _peek_links(locations)
        if saved is None and wanted is not None:
            if links and wanted not in links:
                # the request names the stock here, so the request is what is wrong
                r.fail(f"{order_in.extra['path']}.stockId", f"unknown stock {wanted}: no source is linked to it")
            else:
                self.stock_id = wanted
        cr = Reader(self.name, "locations")
        try:
            locs, stock, extra = self.read_catalog(locations, inventory, cr)
        finally:
            self.stock_id = saved
        if wanted is not None:
            extra["stock_id"] = wanted
        try:
            catalog = build_catalog(self.name, locs, stock, cr, config=config, key_of=self.key_of,
                                    extra=extra, notes=extra.pop("notes", ()))
        except AdapterError:
            catalog = None
        return self.check_and_bind(r, order_in, catalog, cr)

    # ------------------------------------------------------------------ render
    def line_keys(self, bound: Bound, raw: Any) -> list[str]:
        """Lines for an item index or a SKU (rejections name SKUs)."""
        by_index = super().line_keys(bound, raw)
        return by_index or [ln.line_id for ln in bound.source.lines if ln.sku == raw]

    def render(self, bound: Bound, decision: Decision | None, atp: AtpLookup | None = None) -> dict[str, Any]:
        by_line = allocations_by_line(decision)
        inv = bound.catalog.inventory
        net = bound.catalog.network
        deduct: dict[tuple[str, str], int] = {}
        requested: dict[str, int] = {}
        deducted: dict[str, int] = {}  # units per SKU, for "shippable"
        for ln in bound.source.lines:
            sku = ln.sku
            requested[sku] = requested.get(sku, 0) + ln.qty
            for node_id, qty in by_line.get(ln.line_id, ()):
                key = (node_id, sku)
                deduct[key] = deduct.get(key, 0) + qty
                deducted[sku] = deducted.get(sku, 0) + qty
        rank = bound.catalog.priority_ranks
        sources = bound.catalog.sources
        # stock before this order: a router has already reserved what it deducts, the catalog has not
        stock, reserved = (inv, False) if atp is None else (atp, True)
        rows: list[dict[str, Any]] = []
        for sku in requested:
            s = net.sku_index.get(sku)
            if s is None:
                continue
            # the sources holding a source item for the SKU, in priority order (link priority,
            # then list order): the inventory's own index of the SKU, no scan of every source
            if self.all_sources:
                stocked = inv.node[inv.sku_ptr[s]:inv.sku_ptr[s + 1]].tolist()
                # one read of the SKU's stock: hundreds of sources may list it
                available = dict(zip(stocked, stock.atp_of_sku(sku).tolist(), strict=True))
            else:
                stocked = [net.node_index[code] for code, k in deduct if k == sku]
                available = {n: stock.atp(net.nodes[n].node_id, sku) for n in stocked}
            stocked.sort(key=rank.__getitem__)
            for n in stocked:
                code, raw, enabled = sources[n]
                if not enabled:
                    continue
                take = deduct.get((code, sku), 0)
                rows.append({"source_code": raw, "sku": sku, "qty_to_deduct": take,
                             "qty_available": available[n] + take if reserved else available[n]})
        shippable = all(deducted.get(sku, 0) >= want for sku, want in requested.items())
        return {"source_selection_items": rows, "shippable": shippable, "sourcewise": summary(bound, decision)}

    def render_reroute(self, bound: Bound, before: Decision | None, after: Decision, rejected: str,
                       lines: Sequence[str] | None, atp: AtpLookup | None = None, **context: Any) -> dict[str, Any]:
        """A fresh source selection for the order, without the rejecting source."""
        out = self.render(bound, after, atp)
        out["sourcewise"]["rerouted_from"] = rejected
        return out

