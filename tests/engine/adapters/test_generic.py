"""Generic JSON: the documented schema, parse_orders/render_decisions for ``route --format json``."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.adapters import Session
from sourcewise.engine.adapters import route_payload
from sourcewise.engine.adapters.generic import load_schema
from sourcewise.engine.adapters.generic import parse_orders
from sourcewise.engine.adapters.generic import render_batch
from sourcewise.engine.adapters.generic import render_decision
from sourcewise.engine.adapters.generic import render_decisions
from sourcewise.engine.router import Router
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from tests.engine.adapters import atp_table
from tests.engine.adapters import load

SCHEMA = load_schema()
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _check(value, schema, path="$"):
    """A small JSON Schema subset (enough for schema.json): $ref, type, required, properties,
    items, enum, const, minimum, minItems, anyOf, oneOf."""
    if "$ref" in schema:
        node = SCHEMA
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return _check(value, node, path)
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        ok = any((t == "integer" and isinstance(value, int) and not isinstance(value, bool))
                 or (t == "number" and isinstance(value, int | float) and not isinstance(value, bool))
                 or (t in _TYPES and isinstance(value, _TYPES[t]) and not (t != "boolean" and isinstance(value, bool)))
                 for t in types)
        assert ok, f"{path}: {value!r} is not {types}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if "const" in schema:
        assert value == schema["const"], path
    if "minimum" in schema and isinstance(value, int | float):
        assert value >= schema["minimum"], path
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            assert key in value, f"{path}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _check(value[key], sub, f"{path}.{key}")
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0), path
        for i, v in enumerate(value):
            if "items" in schema:
                _check(v, schema["items"], f"{path}[{i}]")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passed = 0
            for sub in schema[key]:
                try:
                    _check(value, sub, path)
                    passed += 1
                except AssertionError:
                    pass
            assert passed >= 1 if key == "anyOf" else passed == 1, f"{path}: {key} matched {passed}"


@pytest.fixture
def network_router():
    nodes = [Node("WH-NJ", "warehouse", 40.5187, -74.4121), Node("WH-TX", "warehouse", 32.7767, -96.797),
             Node("ST-CHI", "store", 41.8786, -87.6251, handling_per_shipment=2.0)]
    skus = [Sku("SKU-RED", 0.5, 20.0), Sku("SKU-BLUE", 0.3, 9.5), Sku("SKU-GREEN", 1.0, 45.0)]
    net = Network.build(nodes, skus)
    inv = Inventory.from_records(net, [StockRecord("WH-NJ", "SKU-RED", 40), StockRecord("WH-NJ", "SKU-BLUE", 15),
                                       StockRecord("WH-TX", "SKU-GREEN", 30), StockRecord("ST-CHI", "SKU-RED", 1)])
    return net, Router(net, inv)


def test_example_payloads_conform_to_the_schema():
    for name in ("generic_order.json", "generic_locations.json", "generic_inventory.json"):
        _check(load(name), SCHEMA)


def test_parse_orders_accepts_one_many_or_a_list(network_router):
    net, _ = network_router
    one = load("generic_order.json")
    assert [o.order_id for o in parse_orders(one, net)] == ["A-1001"]
    two = {"orders": [one, one | {"order_id": 7}]}
    orders = parse_orders(two, net)
    assert [o.order_id for o in orders] == ["A-1001", "7"]
    assert [o.order_id for o in parse_orders(two["orders"], net)] == ["A-1001", "7"]
    o = orders[0]
    assert [(ln.line_id, ln.sku, ln.qty) for ln in o.lines] == [("1", "SKU-RED", 2), ("2", "SKU-BLUE", 1),
                                                                 ("3", "SKU-GREEN", 3)]
    assert o.max_shipments == 2 and o.allow_split is True
    assert abs(o.lat - 41.8858) < 0.01  # ZIP 60601, geocoded offline


def test_parse_orders_reports_every_problem_with_paths(network_router):
    net, _ = network_router
    good = load("generic_order.json")
    bad = {"orders": [
        good,
        good | {"order_id": "B", "lines": [{"line_id": "1", "sku": "NOPE", "qty": "2"}]},
        good,  # duplicate id
        {"order_id": "C", "lines": [], "destination": {"lat": -87.6, "lon": 41.9, "country": "US", "region": "IL"}},
    ]}
    with pytest.raises(AdapterError) as exc:
        parse_orders(bad, net)
    fields = set(exc.value.fields)
    assert {"orders[1].lines[0].sku", "orders[1].lines[0].qty", "orders[2].order_id", "orders[3].lines",
            "orders[3].destination.lat"} <= fields


def test_render_decisions_shape_and_notes(network_router):
    net, router = network_router
    notes: dict[str, list[str]] = {}
    payload = {"orders": [load("generic_order.json"),
                          {"order_id": "Z", "lines": [{"line_id": "a", "sku": "SKU-BLUE", "qty": 1}],
                           "destination": {"country": "US", "region": "WI"}}]}
    orders = parse_orders(payload, net, notes=notes)
    assert list(notes) == ["Z"] and "approximately" in notes["Z"][0]
    doc = render_decisions([router.route(o) for o in orders], notes=notes)
    _check(doc, SCHEMA)
    assert doc["schema"] == "sourcewise.decisions/1"
    d0, d1 = doc["decisions"]
    assert d0["order_id"] == "A-1001" and d0["status"] == "routed" and d0["units"] == 6
    assert sum(a["qty"] for a in d0["allocations"]) == 6
    assert sum(s["units"] for s in d0["shipments"]) == 6
    assert d0["cost"]["total"] == pytest.approx(sum(v for k, v in d0["cost"].items() if k != "total"))
    assert d1["notes"] == notes["Z"]


def test_render_batch_matches_route_many(network_router):
    net, router = network_router
    orders = parse_orders({"orders": [load("generic_order.json") | {"order_id": f"O{i}"} for i in range(3)]}, net)
    res = router.route_many(orders)
    doc = render_batch(res)
    _check(doc, SCHEMA)
    assert [d["order_id"] for d in doc["decisions"]] == ["O0", "O1", "O2"]
    for d, rec in zip(doc["decisions"], res.orders.to_dict("records"), strict=True):
        assert d["units"] == rec["units"] and d["cost"]["total"] == pytest.approx(rec["cost"])
        assert sum(a["qty"] for a in d["allocations"]) == rec["units"]


def test_render_decision_of_a_batch_decision_groups_shipments(network_router):
    net, router = network_router
    (o,) = parse_orders(load("generic_order.json"), net)
    router.route_many([o])
    d = render_decision(router.decision("A-1001"))
    assert sum(s["units"] for s in d["shipments"]) == d["units"] == 6


def test_session_and_one_off_routing():
    out = route_payload("generic", load("generic_order.json"), load("generic_locations.json"),
                        load("generic_inventory.json"))
    _check(out, SCHEMA["$defs"]["decision"])
    assert out["status"] == "routed"
    assert out["destination"]["basis"] == "postal_code"
    # location attributes reach the nodes
    s = Session("generic", load("generic_locations.json"), load("generic_inventory.json"))
    net = s.catalog.network
    chi = net.nodes[net.node_index["ST-CHI"]]
    assert chi.kind.value == "store" and chi.pickup and chi.handling_per_shipment == 2.5
    assert net.nodes[net.node_index["VN-1"]].fee_rate == 0.15
    assert s.catalog.inventory.atp("WH-NJ", "SKU-RED") == 38  # on_hand 40 - safety 2
    assert s.catalog.inventory.atp("WH-TX", "SKU-GREEN") == 25  # 30 - reserved 5


def test_session_unknown_sku_is_unfilled_and_bad_payload_changes_nothing():
    s = Session("generic", load("generic_locations.json"), load("generic_inventory.json"))
    order = load("generic_order.json")
    order["lines"].append({"line_id": "4", "sku": "SKU-PURPLE", "qty": 1})
    out = s.route(order)
    assert out["status"] == "partial"
    assert {"line_id": "4", "qty": 1} in out["unfilled"]
    before = atp_table(s.router)
    bad = load("generic_order.json") | {"order_id": "B2"}
    bad["lines"][0]["qty"] = "2"
    with pytest.raises(AdapterError, match=r"lines\[0\]\.qty"):
        s.route(bad)
    assert atp_table(s.router) == before


def test_config_overrides_locations_and_skus():
    locs = load("generic_locations.json")
    del locs["locations"][0]["lat"], locs["locations"][0]["lon"]
    config = {"locations": {"WH-NJ": {"lat": 40.5, "lon": -74.4, "priority": 5}},
              "skus": {"SKU-RED": {"weight_kg": 1.5, "price": 20}}}
    s = Session("generic", locs, load("generic_inventory.json"), config=config)
    net = s.catalog.network
    assert s.catalog.points["WH-NJ"].basis == "config"
    assert net.nodes[net.node_index["WH-NJ"]].priority == 5
    assert net.skus[net.sku_index["SKU-RED"]].weight_kg == 1.5
    with pytest.raises(AdapterError) as exc:
        Session("generic", locs, load("generic_inventory.json"),
                config={"locations": {"WH-XX": {"lat": 1, "lon": 2}, "WH-TX": {"colour": "red"}}, "extra": 1})
    assert {"locations.WH-XX", "locations.WH-TX.colour", "extra"} <= set(exc.value.fields)


def test_location_without_any_placement_is_an_error():
    locs = load("generic_locations.json")
    locs["locations"][0] = {"node_id": "WH-NJ"}
    with pytest.raises(AdapterError, match=r"locations\[0\]: cannot place this location"):
        Session("generic", locs, load("generic_inventory.json"))


def test_schema_documents_every_generic_document():
    defs = SCHEMA["$defs"]
    assert {"order", "location", "stock", "decision"} <= set(defs)
    assert defs["line"]["properties"]["qty"]["type"] == "integer"
    assert np.all([t in SCHEMA["oneOf"][k]["title"] if "title" in SCHEMA["oneOf"][k] else True
                   for k, t in enumerate(["", "orders", "locations", "inventory", "sourcewise.decisions/1"])])


def test_route_orders_batch_routes_in_sequence_or_not_at_all():
    from sourcewise.engine.adapters.generic import route_orders

    one = load("generic_order.json")
    doc = route_orders({"orders": [one, one | {"order_id": "A-1002"}]}, load("generic_locations.json"),
                       load("generic_inventory.json"))
    _check(doc, SCHEMA)
    assert [d["order_id"] for d in doc["decisions"]] == ["A-1001", "A-1002"]
    bad = one | {"order_id": "B"}
    bad["lines"] = [{"line_id": "1", "sku": "SKU-RED", "qty": 0}]
    with pytest.raises(AdapterError) as exc:
        route_orders([one, bad, one], load("generic_locations.json"), load("generic_inventory.json"))
    assert {"[1].lines[0].qty", "[2].order_id"} <= set(exc.value.fields)


def test_platform_shipping_names_map_to_service_levels():
    from sourcewise.engine.adapters.binding import service_level

    assert service_level("Overnight Air") == "next_day"
    assert service_level("EXPRESS") == "express"
    assert service_level("Expedited (2-Day)") == "express"
    assert service_level("Standard Shipping") == "standard"
    assert service_level(None) == "standard"
