"""Generic JSON: Sourcewise's own documented format, for OMSs without an adapter.

The JSON Schema (draft 2020-12) is ``engine/adapters/schema.json``; in short:

Order (``sourcewise.order/1``)::

    {"order_id": "A-1001",
     "lines": [{"line_id": "1", "sku": "SKU-00001", "qty": 2}],
     "destination": {"lat": 40.75, "lon": -73.99}          # or, geocoded offline:
                    {"postal_code": "10001", "country": "US", "region": "NY"},
     "allow_split": true,                                   # optional, default true
     "max_shipments": 2}                                    # optional, default: policy

Several orders: ``{"orders": [<order>, ...]}`` (or a bare list).

Locations: ``{"locations": [{"node_id", "kind", "lat", "lon" | "postal_code",
"country", "region", "priority", "ships", "pickup", "enabled",
"handling_per_shipment", "handling_per_unit", "processing_days",
"fee_rate"}]}``; inventory: ``{"inventory": [{"node_id", "sku", "on_hand",
"safety_stock", "reserved"}]}``.

Decision (``sourcewise.decision/1``)::

    {"order_id": "A-1001", "status": "routed" | "partial" | "unroutable",
     "strategy": "cost", "units": 2, "distance_km": 12.3,
     "allocations": [{"line_id": "1", "sku": "SKU-00001", "node_id": "WH-1", "qty": 2}],
     "shipments": [{"node_id": "WH-1", "units": 2, "distance_km": 12.3,
                    "lines": [{"line_id": "1", "qty": 2}]}],
     "cost": {"shipping": 9.1, "handling": 1.5, "vendor_fees": 0.0, "split_penalty": 0.0, "penalties": 0.0, "total": 10.6},
     "unfilled": [{"line_id": "2", "qty": 1}],
     "notes": ["destination geocoded approximately (...)"]}

Many decisions: ``{"schema": "sourcewise.decisions/1", "decisions": [...]}``.

For ``cli.py route --format json``::

    from sourcewise.engine.adapters.generic import parse_orders, render_decisions
    notes: dict[str, list[str]] = {}
    orders = parse_orders(json.load(fh), network, notes=notes)   # AdapterError on bad input
    print(json.dumps(render_decisions([router.route(o) for o in orders], notes=notes)))
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sourcewise.engine.adapters.base import Adapter
from sourcewise.engine.adapters.binding import bind_plain
from sourcewise.engine.adapters.fastpath import fast_convert
from sourcewise.engine.adapters.fields import Field
from sourcewise.engine.adapters.fields import Record
from sourcewise.engine.adapters.reader import AdapterError
from sourcewise.engine.adapters.reader import Paths
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.reader import join_path
from sourcewise.engine.adapters.reader import plain_coords
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
from sourcewise.engine.adapters.render import decision_status
from sourcewise.engine.adapters.render import summary_notes
from sourcewise.engine.adapters.render import unfilled_by_line
from sourcewise.engine.adapters.session import Session
from sourcewise.engine.geocode import geocode
from sourcewise.engine.geocode import locate
from sourcewise.engine.reasons import order_reason
from sourcewise.models.decision import Decision
from sourcewise.models.errors import ValidationError
from sourcewise.models.network import Network
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine

__all__ = [
    "DESTINATION", "LINE", "ORDER", "SCHEMA_PATH", "GenericAdapter", "is_batch", "load_schema", "parse_orders",
    "read_plain_order", "render_batch", "render_decision", "render_decisions", "route_orders",
]

SCHEMA_PATH = Path(__file__).with_name("schema.json")
DECISIONS_SCHEMA = "sourcewise.decisions/1"

_NODE_NUMS = ("handling_per_shipment", "handling_per_unit", "fee_rate")
MAX_SHIPMENTS = 100
"""Upper bound on an order's ``max_shipments`` (the policy's split search is far narrower anyway)."""

# The order's fields, once: the careful reader's Shapes and the fast path's msgspec schema both
# come from these (see engine.adapters.fields).
LINE = Record("GenericLine", Field("line_id", "id"), Field("sku", "str"), Field("qty", "int", lo=1))
DESTINATION = Record(
    "GenericDestination", Field("postal_code", "str", False), Field("country", "str", False),
    Field("region", "str", False),
    # checked as a pair (plain_coords, Reader.coords): only floats pass plainly
    Field("lat", "any", False), Field("lon", "any", False),
)
ORDER = Record(
    "GenericOrder", Field("order_id", "id"), Field("lines", "list1", of=LINE),
    Field("destination", "obj", of=DESTINATION), Field("allow_split", "bool", False),
    Field("max_shipments", "int", False, 1, MAX_SHIPMENTS),
)
_LINE = LINE.shape()

_LINE_PATHS = Paths("lines")


def load_schema() -> dict[str, Any]:
    """The JSON Schema of every generic document (orders, locations, inventory, decisions)."""
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


def _read_order(reader: Reader, d: Any, path: str, skus: Mapping[str, int] | None = None) -> OrderIn | None:
    """One generic order object -> :class:`OrderIn` (problems recorded in ``reader``).

    With ``skus`` (a network's SKU index) unknown SKUs are problems too.
    """
    plain = read_plain_order(d, path, skus)
    return plain if plain is not None else _read_careful(reader, d, path, skus)


def read_plain_order(d: Any, path: str, skus: Mapping[str, int] | None) -> OrderIn | None:
    """:func:`_read_order` for an order with nothing unusual in it; ``None`` otherwise.

    The order is converted to :data:`ORDER`'s fast schema, so it returns
    exactly what the careful path returns for such an order (a test holds
    the two together), without JSON paths or problem bookkeeping: this is
    the per-order path of a batch.
    """
    o = fast_convert(d, ORDER.struct)
    return None if o is None else _plain_order(o, path, skus)


def _plain_order(o: Any, path: str, skus: Mapping[str, int] | None) -> OrderIn | None:
    """The :class:`OrderIn` of an order decoded into :data:`ORDER`'s schema, or ``None`` when it
    holds what only the careful reader decides (coordinates that are ints or look swapped, an
    unknown SKU); ``path`` is the order's own JSON path (``""`` for a lone order)."""
    paths = _LINE_PATHS if not path else Paths(f"{path}.lines")
    lines = []
    for i, ln in enumerate(o.lines):
        lid, sku = ln.line_id, ln.sku
        if skus is not None and sku not in skus:
            return None
        lines.append(new_tuple(LineIn, (str(lid), lid, sku, ln.qty, paths[i], None, None, EMPTY)))
    d = o.destination
    postal, country, region, lat, lon = d.postal_code, d.country, d.region, d.lat, d.lon
    if (lat is not None or lon is not None) and plain_coords(lat, lon, locate(postal, country, region)) is None:
        return None
    oid, split = o.order_id, o.allow_split
    dp = f"{path}.destination" if path else "destination"
    return new_tuple(OrderIn, (
        str(oid), oid, tuple(lines), new_tuple(Address, (postal, country, region, lat, lon, dp)),
        None, True if split is None else split, o.max_shipments, EMPTY, (), None,
    ))


def _read_careful(reader: Reader, d: Any, path: str, skus: Mapping[str, int] | None = None) -> OrderIn | None:
    """:func:`_read_order` value by value, recording every problem with its JSON path."""
    o = reader.as_obj(d, path)
    if o is None:
        return None
    oid = ORDER.take(reader, o, "order_id", path)
    lines_raw = ORDER.take(reader, o, "lines", path)
    lines: list[LineIn] = []
    for lp, vals in _LINE.read_each(reader, lines_raw, join_path(path, "lines")):
        lid, sku, qty = vals
        if sku is not None and skus is not None and sku not in skus:
            reader.fail(f"{lp}.sku", f"unknown sku {sku!r}")
        if None not in (lid, sku, qty):
            lines.append(LineIn(str(lid), lid, sku, qty, lp))  # type: ignore[arg-type]
    dp = f"{path}.destination" if path else "destination"
    dest = ORDER.take(reader, o, "destination", path)
    address = None
    if dest is not None:
        addr = Address(DESTINATION.take(reader, dest, "postal_code", dp),
                       DESTINATION.take(reader, dest, "country", dp),
                       DESTINATION.take(reader, dest, "region", dp), path=dp)
        ll = reader.coords(dest.get("lat"), dest.get("lon"), f"{dp}.lat", f"{dp}.lon", addr.reference())
        address = addr if ll is None else Address(addr.postal_code, addr.country, addr.region, ll[0], ll[1], dp)
    split = ORDER.take(reader, o, "allow_split", path)
    maxs = ORDER.take(reader, o, "max_shipments", path)
    if oid is None:
        return None
    return OrderIn(str(oid), oid, tuple(lines), address, allow_split=True if split is None else split,
                   max_shipments=maxs)


class GenericAdapter(Adapter):
    """Sourcewise's own JSON documents (see the module docstring and ``schema.json``)."""

    name = "generic"

    def read_catalog(self, locations: Any, inventory: Any, reader: Reader
                     ) -> tuple[list[LocationIn], list[StockIn], dict[str, Any]]:
        lr = reader.doc("locations")
        ir = reader.doc("inventory")
        locs: list[LocationIn] = []
        for _, path, d in lr.objects(*lr.elements(locations, "locations")):
            nid = lr.take(d, "node_id", path, "id")
            addr = Address(lr.take(d, "postal_code", path, "str", required=False),
                           lr.take(d, "country", path, "str", required=False),
                           lr.take(d, "region", path, "str", required=False), path=path)
            ll = lr.coords(d.get("lat"), d.get("lon"), f"{path}.lat", f"{path}.lon", addr.reference())
            if ll is not None:
                addr = Address(addr.postal_code, addr.country, addr.region, ll[0], ll[1], path)
            attrs: dict[str, Any] = {}
            for k in _NODE_NUMS:
                v = lr.take(d, k, path, "num", required=False, lo=0.0)
                if v is not None:
                    attrs[k] = v
            pdays = lr.take(d, "processing_days", path, "int", required=False)
            if pdays is not None:
                attrs["processing_days"] = pdays
            kind = lr.take(d, "kind", path, "str", required=False) or "warehouse"
            if kind not in ("warehouse", "store", "vendor"):
                lr.fail(f"{path}.kind", f"must be warehouse, store or vendor, got {kind!r}")
            flags = {k: lr.take(d, k, path, "bool", required=False) for k in ("ships", "pickup", "enabled")}
            prio = lr.take(d, "priority", path, "int", lo=None, required=False)
            if nid is None:
                continue
            locs.append(LocationIn(
                str(nid), nid, addr, path, name=d.get("name") if isinstance(d.get("name"), str) else None,
                kind=kind, priority=prio or 0,
                ships=True if flags["ships"] is None else flags["ships"],
                pickup=bool(flags["pickup"]), enabled=True if flags["enabled"] is None else flags["enabled"],
                attrs=attrs,
            ))
        stock: list[StockIn] = []
        for _, path, d in ir.objects(*ir.elements(inventory, "inventory")):
            nid = ir.take(d, "node_id", path, "id")
            sku = ir.take(d, "sku", path, "str")
            on_hand = ir.take(d, "on_hand", path, "int")
            safety = ir.take(d, "safety_stock", path, "int", required=False)
            reserved = ir.take(d, "reserved", path, "int", required=False)
            if None not in (nid, sku, on_hand):
                stock.append(StockIn(str(nid), sku, on_hand, path, safety or 0, reserved or 0))  # type: ignore[arg-type]
        return locs, stock, {}

    def read_order(self, payload: Any, reader: Reader) -> OrderIn | None:
        return _read_order(reader, payload, "")

    fast_schemas = (ORDER.struct,)

    def fast_bind(self, o: Any, catalog: Catalog) -> Bound | None:
        """Reading and binding in one pass, for an order whose every value is plainly fine.

        ``None`` for anything else (coordinates that are ints or look
        swapped, an unstocked SKU...): the careful path decides.
        """
        order_in = _plain_order(o, "", None)
        return None if order_in is None else bind_plain(order_in, catalog)

    def render(self, bound: Bound, decision: Decision | None, atp: AtpLookup | None = None) -> dict[str, Any]:
        notes = summary_notes(bound, decision)
        out = render_decision(decision, notes) if decision is not None else {
            "order_id": bound.order_id, "strategy": None, "units": 0, "distance_km": 0.0,
            "allocations": [], "shipments": [], "cost": None, "notes": notes,
        }
        out["order_id"] = bound.source.raw_id
        out["status"] = decision_status(bound, decision)
        out["unfilled"] = [{"line_id": lid, "qty": q}
                           for lid, q in unfilled_by_line(bound, decision).items() if q > 0]
        d = bound.destination
        out["destination"] = {"lat": d.lat, "lon": d.lon, "basis": d.basis, "approximate": d.approximate}
        return out


def is_batch(payload: Any) -> bool:
    """Whether a generic order document holds several orders (``{"orders": [...]}`` or a list)."""
    return isinstance(payload, list) or isinstance(payload, dict) and "orders" in payload


def route_orders(payload: Any, locations: Any, inventory: Any, *, policy: Any = None,
                 config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Route a batch of generic orders against generic locations and inventory, in order.

    Every order is parsed and checked before any is routed, so a batch with
    one bad order routes nothing; problems carry ``orders[i].`` paths.

    Returns
    -------
    dict
        ``{"schema": "sourcewise.decisions/1", "decisions": [...]}``, each
        decision as :meth:`GenericAdapter.render` gives it.

    Raises
    ------
    AdapterError
        Listing the problems of every document and every order.
    """
    r = Reader("generic", "orders")
    if isinstance(payload, dict):
        items, prefix = r.take(payload, "orders", "", "list") or [], "orders"
    else:
        items, prefix = payload, ""
    session = Session(GenericAdapter(), locations, inventory, policy=policy, config=config)
    bounds = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        try:
            b = session.parse(item)
        except AdapterError as exc:
            for p in exc.problems:
                r.fail(f"{prefix}[{i}].{p.field}" if p.field != "<root>" else f"{prefix}[{i}]", p.reason)
            continue
        if b.order_id in seen:
            r.fail(f"{prefix}[{i}].order_id", f"duplicate order_id {b.source.raw_id!r}")
            continue
        seen.add(b.order_id)
        bounds.append(b)
    r.raise_if_any()
    return {"schema": DECISIONS_SCHEMA,
            "decisions": [session.render(b, session.route_bound(b)) for b in bounds]}


# ============================================================================ network-level API
def parse_orders(payload: Any, network: Network, *, notes: dict[str, list[str]] | None = None) -> list[Order]:
    """Generic order JSON -> :class:`~models.Order` objects for ``network``.

    Parameters
    ----------
    payload : dict or list
        ``{"orders": [...]}``, a bare list of orders, or one order object
        (see the module docstring / ``schema.json``).
    network : Network
        SKUs are checked against it: here the network *is* the catalog, so
        an unknown SKU is an error (adapters for platforms instead leave such
        lines unfilled).
    notes : dict, optional
        Filled with ``order_id -> [note, ...]`` for destinations geocoded
        approximately; pass it on to :func:`render_decisions`.

    Returns
    -------
    list of Order

    Raises
    ------
    AdapterError
        Listing every problem (JSON paths such as ``orders[3].lines[0].qty``); no order is returned.
    """
    r = Reader("generic", "orders")
    if isinstance(payload, dict) and "orders" in payload:
        items, prefix = r.take(payload, "orders", "", "list") or [], "orders"
    elif isinstance(payload, list):
        items, prefix = payload, ""
    else:
        items, prefix = [payload], None
    out: list[Order] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        path = "" if prefix is None else f"{prefix}[{i}]"
        n_problems = len(r.problems)
        o = _read_order(r, item, path, network.sku_index)
        if o is None or len(r.problems) > n_problems:
            continue  # already reported; building the order would only repeat it
        if o.order_id in seen:
            r.fail(f"{path}.order_id" if path else "order_id", f"duplicate order_id {o.raw_id!r}")
            continue
        seen.add(o.order_id)
        a = o.address
        point = None if a is None else geocode(postal_code=a.postal_code, country=a.country, region=a.region,
                                               lat=a.lat, lon=a.lon)
        if point is None:
            if a is not None:
                r.fail(a.path, "cannot place the destination: give lat/lon, a US ZIP code, a region or a known country")
            continue
        try:
            out.append(Order(o.order_id, tuple(OrderLine(ln.line_id, ln.sku, ln.qty) for ln in o.lines),
                             point.lat, point.lon, o.allow_split, o.max_shipments))
        except ValidationError as exc:
            for p in exc.problems:
                r.fail(path or "<order>", f"{p.field}: {p.reason}")
            continue
        note = point.note("destination")
        if note and notes is not None:
            notes.setdefault(o.order_id, []).append(note)
    r.raise_if_any()
    return out


def render_decision(decision: Decision, notes: Iterable[str] = ()) -> dict[str, Any]:
    """One :class:`~models.Decision` in the generic decision shape.

    Shipments come from the decision; decisions rebuilt from batch tables
    carry none, and then shipments are grouped from the allocations
    (without distances).
    """
    notes = list(notes)
    c = decision.cost
    code, text = order_reason(decision.reasons)
    shipments = [
        {"node_id": s.node_id, "units": s.units, "distance_km": s.distance_km,
         "lines": [{"line_id": lid, "qty": q} for lid, q in s.lines],
         "promised_days": s.promised_days,
         "promised_date": s.promised_date.isoformat() if s.promised_date is not None else None}
        for s in decision.shipments
    ]
    if not shipments and decision.allocations:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for a in decision.allocations:
            grouped.setdefault(a.node_id, []).append({"line_id": a.line_id, "qty": a.qty})
        shipments = [{"node_id": n, "units": sum(x["qty"] for x in ls), "lines": ls} for n, ls in grouped.items()]
    return {
        "order_id": decision.order_id,
        "status": str(decision.status),  # a StrEnum's str() is its value, and cheaper than .value
        "strategy": decision.strategy,
        "units": decision.units,
        "distance_km": decision.distance_km,
        "allocations": [{"line_id": a.line_id, "sku": a.sku, "node_id": a.node_id, "qty": a.qty}
                        for a in decision.allocations],
        "shipments": shipments,
        "cost": {"shipping": c.shipping, "handling": c.handling, "vendor_fees": c.vendor_fees,
                 "split_penalty": c.split_penalty, "penalties": c.penalties, "total": c.total},
        "unfilled": _unfilled_lines(decision),
        "reason": code,
        "reason_text": text,
        # the router's geography flags (a foreign or out-of-reach destination) travel with the notes
        "notes": [*notes, *(f for f in decision.flags if f not in notes)],
    }


def _unfilled_lines(decision: Decision) -> list[dict[str, Any]]:
    """The decision's unfilled lines, each with its reason and the substitutes proposed for it."""
    why = {r.line_id: r for r in decision.reasons}
    props = dict(decision.substitutes)
    out = []
    for lid, q in decision.unfilled:
        item: dict[str, Any] = {"line_id": lid, "qty": q}
        r = why.get(lid)
        if r is not None:
            item.update(sku=r.sku, reason=r.code, reason_text=r.text)
        item["substitutes"] = [sku for sku, _ in props.get(lid, ())]
        out.append(item)
    return out


def render_decisions(decisions: Iterable[Decision], *, notes: Mapping[str, Iterable[str]] | None = None
                     ) -> dict[str, Any]:
    """Decisions as one generic document: ``{"schema": "sourcewise.decisions/1", "decisions": [...]}``."""
    notes = notes or {}
    return {"schema": DECISIONS_SCHEMA,
            "decisions": [render_decision(d, notes.get(d.order_id, ())) for d in decisions]}


def render_batch(result: Any, *, notes: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    """A :class:`~sourcewise.engine.router.BatchResult` (``route_many``) as the same document, without decision objects.

    ``result.orders`` must have ``order_id, status, units, cost, shipping,
    handling, vendor_fees, split_penalty, distance_km`` and
    ``result.allocations`` ``order_id, line_id, sku, node_id, qty``.
    With ``result.unfilled`` (the router's batches have it) each unfilled
    line is listed with its reason and substitute proposals; without it
    ``unfilled`` holds the order's total under ``line_id`` ``null``. With
    an allocations column ``promised_date`` each shipment carries its date.
    """
    import pandas as pd

    from sourcewise.engine.batch import UNFILLED_COLUMNS

    notes = notes or {}
    allocs: dict[Any, list[dict[str, Any]]] = {}
    due: dict[tuple[Any, Any], str] = {}
    a = result.allocations
    dates = a["promised_date"] if "promised_date" in a else pd.Series([pd.NaT] * len(a), dtype="datetime64[s]")
    for oid, lid, sku, nid, q, when in zip(a["order_id"], a["line_id"], a["sku"], a["node_id"], a["qty"], dates,
                                           strict=True):
        allocs.setdefault(oid, []).append({"line_id": lid, "sku": sku, "node_id": nid, "qty": int(q)})
        if not pd.isna(when):
            day = when.date().isoformat()
            due[(oid, nid)] = max(day, due.get((oid, nid), day))
    lines: dict[Any, list[dict[str, Any]]] = {}
    u = getattr(result, "unfilled", None)
    if u is not None:
        for oid, lid, sku, q, code, text, subs in zip(*(u[c] for c in UNFILLED_COLUMNS), strict=True):
            lines.setdefault(oid, []).append({"line_id": lid, "qty": int(q), "sku": sku, "reason": code,
                                              "reason_text": text, "substitutes": subs.split(";") if subs else []})
    out = []
    for rec in result.orders.to_dict("records"):
        oid = rec["order_id"]
        rows = allocs.get(oid, [])
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            grouped.setdefault(row["node_id"], []).append({"line_id": row["line_id"], "qty": row["qty"]})
        if u is not None:
            unfilled = lines.get(oid, [])
        else:
            unfilled = [{"line_id": None, "qty": int(rec["unfilled"])}] if int(rec.get("unfilled", 0)) else []
        out.append({
            "order_id": oid, "status": rec["status"], "strategy": None, "units": int(rec["units"]),
            "distance_km": float(rec["distance_km"]), "allocations": rows,
            "shipments": [{"node_id": n, "units": sum(x["qty"] for x in ls), "lines": ls,
                           "promised_date": due.get((oid, n))} for n, ls in grouped.items()],
            "cost": {"shipping": float(rec["shipping"]), "handling": float(rec["handling"]),
                     "vendor_fees": float(rec["vendor_fees"]), "split_penalty": float(rec["split_penalty"]),
                     "penalties": float(rec.get("penalties", 0.0)),
                     "total": float(rec["cost"])},
            "unfilled": unfilled,
            "reason": rec.get("reason", "") or "",
            "reason_text": rec.get("reason_text", "") or "",
            "notes": list(notes.get(oid, ())),
        })
    return {"schema": DECISIONS_SCHEMA, "decisions": out}
