"""The JSON Schemas of the service's bodies, for the OpenAPI document the framework generates.

The order, decision and stock shapes are the generic adapter's
(``engine/adapters/schema.json``), moved under ``components/schemas``; the
rest extends them for the endpoints (holds, reroutes, adjustments, views,
errors) or describes the platforms' payloads as far as the service relies
on them. The adapters check every body field by field and answer with every
bad field; these schemas document the same rules.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from sourcewise.engine.adapters.generic import load_schema
from sourcewise.engine.service.operations import ADJUSTMENT_KINDS
from sourcewise.engine.service.operations import MAX_BATCH
from sourcewise.engine.service.operations import MAX_FORECAST_TIME_LIMIT
from sourcewise.engine.service.operations import MAX_PRICE
from sourcewise.engine.service.operations import MAX_TTL_S

__all__ = ["SCHEMAS", "body", "examples", "ref", "responses"]


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


_RENAMED = ("id", "line", "location", "stock")
"""``schema.json`` definitions that get a ``generic_`` prefix here (beside the service's own names)."""


def _name(d: str) -> str:
    return f"generic_{d}" if d in _RENAMED else d


def _moved(node: Any) -> Any:
    """``schema.json``'s ``#/$defs/x`` references as component references."""
    if isinstance(node, dict):
        return {k: (f"#/components/schemas/{_name(v.rsplit('/', 1)[-1])}"
                    if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/") else _moved(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_moved(v) for v in node]
    return node


def _generic() -> dict[str, Any]:
    """The generic schema's definitions as components."""
    return {_name(k): _moved(v) for k, v in copy.deepcopy(load_schema()["$defs"]).items()}


def _obj(required: list[str], props: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props, **more}


_STR = {"type": "string"}
_INT0 = {"type": "integer", "minimum": 0}
_NUM = {"type": "number"}
_NULL_NUM = {"type": ["number", "null"]}
_PROBLEM = _obj(["field", "reason"], {"field": _STR, "reason": _STR})

SCHEMAS: dict[str, Any] = {
    **_generic(),
    "Error": _obj(["error", "problems"], {
        "error": _STR, "problems": {"type": "array", "items": _PROBLEM},
        "request_id": _STR}, description="Every answer other than success: what went wrong and each bad field "
                                         "(a JSON path into the body, or the query parameter)."),
    "OrderBatch": {
        "description": f"Several orders (at most {MAX_BATCH}); checked whole before any is routed.",
        "oneOf": [_obj(["orders"], {"orders": {"type": "array", "maxItems": MAX_BATCH, "items": ref("order")}}),
                  {"type": "array", "maxItems": MAX_BATCH, "items": ref("order")}]},
    "Decisions": _obj(["schema", "decisions"], {"schema": {"const": "sourcewise.decisions/1"},
                                                "decisions": {"type": "array", "items": ref("decision")}}),
    "Promise": _obj(["order_id", "ship", "pickup", "same_day"], {
        "order_id": ref("generic_id"), "ship": ref("decision"),
        "pickup": {"type": "array", "items": _obj(["node_id", "distance_km", "ready_days", "ready_date"], {
            "node_id": _STR, "distance_km": _NUM, "ready_days": _NUM, "ready_date": {"type": "string",
                                                                                     "format": "date"}})},
        "same_day": {"oneOf": [{"type": "null"}, _obj(["node_id", "distance_km", "promised_days", "promised_date"], {
            "node_id": _STR, "distance_km": _NUM, "promised_days": _NUM,
            "promised_date": {"type": "string", "format": "date"}})]}}),
    "HoldRequest": _obj(["order", "ttl_s"], {
        "order": ref("order"),
        "ttl_s": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TTL_S,
                  "description": "Seconds until the stock comes back by itself"}}),
    "Held": {"allOf": [ref("decision"), _obj(["expires_at"], {
        "expires_at": {**_NULL_NUM, "description": "Epoch seconds; null when nothing was reserved"}})]},
    "OrderAnswer": _obj(["order_id", "state", "decision"], {
        "order_id": _STR, "state": {"enum": ["released", "committed", "open"]},
        "decision": {"oneOf": [{"type": "null"}, ref("decision")]},
        "rerouted_from": _STR}),
    "RerouteRequest": _obj(["node_id"], {
        "node_id": ref("generic_id"),
        "lines": {"type": "array", "items": ref("generic_id"),
                  "description": "Line ids the node rejected; default every line it holds"},
        "shortfall": {"oneOf": [_INT0, {"type": "object", "additionalProperties": _INT0}],
                      "description": "Units the node is short, for every SKU or per SKU, instead of all it holds"}}),
    "Adjustments": _obj(["adjustments"], {"adjustments": {
        "type": "array", "minItems": 1, "maxItems": MAX_BATCH,
        "items": _obj(["node_id", "sku", "kind", "qty"], {
            "node_id": ref("generic_id"), "sku": {"type": "string", "minLength": 1},
            "kind": {"enum": list(ADJUSTMENT_KINDS), "description": "receipt adds qty, sale and shrink take qty "
                                                                    "away, count sets on-hand to qty"},
            "qty": {"type": "integer", "minimum": 0, "maximum": 2**62}})}}),
    "AdjustmentsAnswer": _obj(["adjustments"], {"adjustments": {"type": "array", "items": _obj(
        ["node_id", "sku", "kind", "qty", "applied"],
        {"node_id": _STR, "sku": _STR, "kind": {"enum": list(ADJUSTMENT_KINDS)}, "qty": _INT0,
         "applied": {"type": "integer", "description": "The change of on-hand units made; a decrease takes at "
                                                       "most the units open orders do not reserve"}})}}),
    "Stock": _obj(["stock"], {"stock": {"type": "array", "items": _obj(
        ["node_id", "sku", "on_hand", "reserved", "safety_stock", "atp"],
        {"node_id": _STR, "sku": _STR, "on_hand": _INT0, "reserved": _INT0, "safety_stock": _INT0,
         "atp": _INT0})}}),
    "OrderView": _obj(["order_id", "state", "decision", "expires_at", "history"], {
        "order_id": _STR, "state": _STR, "decision": {"oneOf": [{"type": "null"}, ref("decision")]},
        "expires_at": _NULL_NUM,
        "history": {"type": "array", "items": _obj(["seq", "at", "kind", "why"], {
            "seq": {"type": "integer", "minimum": 1}, "at": {"type": "string", "format": "date-time"},
            "kind": _STR, "why": _STR})}}),
    "PricesRequest": {
        "description": "The dual prices routing uses under the dual strategy: a table of prices (every entry it "
                       "leaves out costs 0), or a forecast of orders to compute them from "
                       "(sourcewise.engine.optimize.dual_prices over the stock now; a refusal is a 422 with its "
                       "reason).",
        "oneOf": [
            _obj(["prices"], {"prices": {"type": "array", "items": _obj(["node_id", "sku", "price"], {
                "node_id": ref("generic_id"), "sku": {"type": "string", "minLength": 1},
                "price": {"type": "number", "minimum": 0, "maximum": MAX_PRICE}},
                additionalProperties=False)}}, additionalProperties=False),
            _obj(["forecast"], {
                "forecast": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": ref("order")},
                "time_limit": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_FORECAST_TIME_LIMIT,
                               "description": "Seconds for the LP (default 10)"}}, additionalProperties=False)]},
    "Prices": _obj(["strategy", "applies", "entries", "priced", "prices"], {
        "strategy": {**_STR, "description": "The served policy's strategy, which every route call uses"},
        "applies": {"type": "boolean", "description": "Whether routing uses the prices (strategy dual)"},
        "entries": {**_INT0, "description": "Inventory entries"},
        "priced": {**_INT0, "description": "Entries priced above 0 (listed); the others cost 0"},
        "prices": {"type": "array", "items": _obj(["node_id", "sku", "price"], {
            "node_id": _STR, "sku": _STR, "price": {"type": "number", "exclusiveMinimum": 0}})},
        "source": {"enum": ["prices", "forecast"], "description": "PUT: what the prices came from"}}),
    "Health": _obj(["status"], {"status": _STR, "reason": _STR, "ledger_seq": _INT0}),
    "ShopifyOrder": {"type": "object", "description": "The orders/create webhook body (the Order) with its "
                                                      "fulfillment_orders, or {order, fulfillment_orders}"},
    "ShopifyMoves": _obj(["moves"], {"moves": {"type": "array", "items": {"type": "object"}},
                                     "unchanged": {"type": "array"}, "unfilled": {"type": "array"}}),
    "CommercetoolsInput": _obj(["action", "resource"], {
        "action": {"type": "string", "description": "Create or Update"},
        "resource": _obj(["typeId"], {"typeId": _STR, "id": _STR, "obj": {"type": "object"}})}),
    "CommercetoolsActions": _obj(["actions"], {"actions": {"type": "array", "items": _obj(["action"], {
        "action": _STR})}}),
    "CommercetoolsErrors": _obj(["errors"], {"errors": {"type": "array", "items": _obj(["code", "message"], {
        "code": _STR, "message": _STR})}}),
    "MagentoRequest": _obj(["inventoryRequest"], {"inventoryRequest": {"type": "object"},
                                                  "algorithmCode": _STR}),
    "MagentoResult": _obj(["source_selection_items", "shippable"], {
        "source_selection_items": {"type": "array", "items": _obj(
            ["source_code", "sku", "qty_to_deduct", "qty_available"],
            {"source_code": _STR, "sku": _STR, "qty_to_deduct": _NUM, "qty_available": _NUM})},
        "shippable": {"type": "boolean"}}),
}
"""Every component schema, by name."""

_REASONS = {
    400: "The body is not JSON",
    401: "Authentication failed: nothing changed",
    404: "No such order",
    409: "The order is not in a state for this, an order id reused with other content, "
         "or an Idempotency-Key reused with another request",
    413: "The body is larger than the configured limit",
    422: "Malformed input: every bad field",
    503: "Not ready: the state is loading, or the ledger cannot be written",
}


def body(*names: str, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` of an operation whose JSON body is one of the named schemas."""
    schema = ref(names[0]) if len(names) == 1 else {"oneOf": [ref(n) for n in names]}
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def responses(ok: str | dict[str, Any], *codes: int, ok_status: int = 200,
              errors: str = "Error", ok_media: str = "application/json") -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of an operation: its success schema and its error answers."""
    schema = ref(ok) if isinstance(ok, str) else ok
    out: dict[int | str, dict[str, Any]] = {ok_status: {"description": "Success",
                                                        "content": {ok_media: {"schema": schema}}}}
    for c in codes:
        err = errors if c == 400 else "Error"
        out[c] = {"description": _REASONS[c], "content": {"application/json": {"schema": ref(err)}}}
    return out


def examples(network: Any, inventory: Any) -> dict[str, Any]:
    """Example request bodies over the served network, by path: an order for a SKU in stock near
    the node that holds it, a hold of it, a receipt there and a reroute away from that node."""
    if not inventory.nnz:
        return {}
    j = int(np.argmax(inventory.on_hand))  # the best-stocked entry
    sku_idx = int(np.searchsorted(inventory.sku_ptr, j, side="right")) - 1
    node = network.nodes[int(inventory.node[j])]
    sku = network.skus[sku_idx].sku
    order = {"order_id": "EX-1", "lines": [{"line_id": "1", "sku": sku, "qty": 1}],
             "destination": {"lat": round(node.lat, 4), "lon": round(node.lon, 4)}}
    return {
        "/v1/route": order,
        "/v1/promise": order,
        "/v1/holds": {"order": {**order, "order_id": "EX-2"}, "ttl_s": 600},
        "/v1/stock/adjustments": {"adjustments": [{"node_id": node.node_id, "sku": sku, "kind": "receipt",
                                                   "qty": 1}]},
        "/v1/orders/{order_id}/reroute": {"node_id": node.node_id},
        "/v1/prices": {"prices": [{"node_id": node.node_id, "sku": sku, "price": 2.5}]},
    }
