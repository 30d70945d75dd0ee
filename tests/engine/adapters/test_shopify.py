"""Shopify: REST Admin payloads in, fulfillment-order move requests out."""

from __future__ import annotations

import pytest

from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.adapters import Session
from sourcewise.engine.adapters import route_payload
from sourcewise.engine.adapters.shopify import reject_fulfillment_order
from tests.engine.adapters import Malformed
from tests.engine.adapters import atp_table
from tests.engine.adapters import dropping
from tests.engine.adapters import load
from tests.engine.adapters import setting

NEWARK, FIFTH, COLUMBUS, SHIPWIRE = "655441491", "487838322", "905684977", "24826418"
GREEN, RED, BLACK, PINK = "39072856", "49148385", "457924702", "808950810"


@pytest.fixture
def session() -> Session:
    return Session("shopify", load("shopify_locations.json"), load("shopify_inventory.json"))


def test_catalog_maps_locations_and_inventory_levels(session):
    cat = session.catalog
    assert set(cat.network.node_index) == {NEWARK, FIFTH, COLUMBUS, SHIPWIRE}
    # numeric and gid ids are both kept exactly as given
    assert cat.locations[COLUMBUS].raw_id == "gid://shopify/Location/905684977"
    assert cat.locations[NEWARK].raw_id == 655441491
    # SKUs are inventory items: that is what fulfillment-order lines name
    assert set(cat.network.sku_index) == {GREEN, RED, BLACK, PINK}
    inv = cat.inventory
    assert inv.atp(NEWARK, RED) == 1 and inv.atp(FIFTH, BLACK) == 4
    assert inv.atp(COLUMBUS, BLACK) == 0  # available -1 (oversold) promises nothing
    assert inv.entry(SHIPWIRE, PINK) == -1  # available null: not tracked there
    assert any("not tracked" in n for n in cat.notes)
    # locations are placed by ZIP; the fulfillment service in Germany only by country, flagged
    assert cat.points[NEWARK].basis == "postal_code"
    assert cat.points[SHIPWIRE].approximate and cat.points[SHIPWIRE].basis == "country"


def test_route_renders_move_requests_field_by_field(session):
    out = session.route(load("shopify_order.json"))
    assert out["order_id"] == 450789469
    assert out["moves"] == [
        {"fulfillment_order_id": 1046000778,
         "fulfillment_order": {"new_location_id": "gid://shopify/Location/905684977",
                               "fulfillment_order_line_items": [{"id": 1058737482, "quantity": 1},
                                                                {"id": 1058737483, "quantity": 2}]}},
        {"fulfillment_order_id": 1046000778,
         "fulfillment_order": {"new_location_id": 487838322,
                               "fulfillment_order_line_items": [{"id": 1058737484, "quantity": 2}]}},
    ]
    assert out["unchanged"] == [
        {"fulfillment_order_id": 1046000778, "location_id": 655441491, "reason": "already at the chosen location",
         "fulfillment_order_line_items": [{"id": 1058737483, "quantity": 1}]},
        {"fulfillment_order_id": 1046000779, "location_id": 487838322, "reason": "delivery method is pick_up",
         "fulfillment_order_line_items": [{"id": 1058737485, "quantity": 1}]},
    ]
    assert out["unfilled"] == []
    sw = out["sourcewise"]
    assert sw["status"] == "routed" and sw["service_level"] == "Free Shipping"
    assert sw["destination"] == {"lat": 38.25424, "lon": -85.75941, "basis": "address", "approximate": False}
    assert set(sw["cost"]) == {"shipping", "handling", "vendor_fees", "split_penalty", "total"}
    # the red line is split: one move per location, and the router reserved exactly that
    assert session.router.atp(COLUMBUS, RED) == 0 and session.router.atp(NEWARK, RED) == 0
    assert session.router.atp(FIFTH, BLACK) == 2
    assert session.router.atp(FIFTH, PINK) == 3  # pick-ups are not routed


def test_round_trip_preserves_every_id_and_quantity(session):
    order = load("shopify_order.json")
    out = session.route(order)
    seen: dict[object, int] = {}
    fo_ids = set()
    for group in ([m["fulfillment_order"] | {"fulfillment_order_id": m["fulfillment_order_id"]} for m in out["moves"]]
                  + out["unchanged"] + out["unfilled"]):
        fo_ids.add(group["fulfillment_order_id"])
        for item in group["fulfillment_order_line_items"]:
            seen[item["id"]] = seen.get(item["id"], 0) + item["quantity"]
    expected = {li["id"]: li["fulfillable_quantity"] for fo in order["fulfillment_orders"] for li in fo["line_items"]}
    assert seen == expected  # same ids (as ints, untouched) and every unit accounted for
    assert fo_ids == {fo["id"] for fo in order["fulfillment_orders"]}
    location_ids = {m["fulfillment_order"]["new_location_id"] for m in out["moves"]}
    assert location_ids <= {loc["id"] for loc in load("shopify_locations.json")["locations"]}


def test_gid_ids_round_trip_as_given(session):
    order = load("shopify_order.json")
    order["order"]["id"] = "gid://shopify/Order/450789469"
    fo = order["fulfillment_orders"][0]
    fo["id"] = "gid://shopify/FulfillmentOrder/1046000778"
    fo["order_id"] = "gid://shopify/Order/450789469"
    fo["assigned_location_id"] = "gid://shopify/Location/655441491"
    fo["line_items"][2]["id"] = "gid://shopify/FulfillmentOrderLineItem/1058737484"
    fo["line_items"][2]["line_item_id"] = "gid://shopify/LineItem/703073504"
    out = session.route(order)
    assert out["order_id"] == "gid://shopify/Order/450789469"
    moved = {item["id"] for m in out["moves"] for item in m["fulfillment_order"]["fulfillment_order_line_items"]}
    assert "gid://shopify/FulfillmentOrderLineItem/1058737484" in moved
    assert all(m["fulfillment_order_id"] == "gid://shopify/FulfillmentOrder/1046000778" for m in out["moves"])


def test_routing_the_same_order_twice_reserves_once(session):
    first = session.route(load("shopify_order.json"))
    before = atp_table(session.router)
    assert session.route(load("shopify_order.json")) == first
    assert atp_table(session.router) == before


def test_short_stock_is_reported_unfilled_and_stays_put():
    inv = load("shopify_inventory.json")
    for lvl in inv["inventory_levels"]:
        if lvl["inventory_item_id"] == 457924702:
            lvl["available"] = 1 if lvl["location_id"] == 487838322 else 0
    out = route_payload("shopify", load("shopify_order.json"), load("shopify_locations.json"), inv)
    assert out["sourcewise"]["status"] == "partial"
    assert out["unfilled"] == [{"fulfillment_order_id": 1046000778, "location_id": 655441491,
                                "fulfillment_order_line_items": [{"id": 1058737484, "quantity": 1}]}]


def test_unstocked_item_is_unfilled_not_an_error():
    order = load("shopify_order.json")
    order["fulfillment_orders"][0]["line_items"][0]["inventory_item_id"] = 999999
    out = route_payload("shopify", order, load("shopify_locations.json"), load("shopify_inventory.json"))
    assert {"id": 1058737482, "quantity": 1} in out["unfilled"][0]["fulfillment_order_line_items"]
    assert any("not stocked" in n for n in out["sourcewise"]["notes"])


def test_destination_falls_back_to_zip_then_fulfillment_order_destination(session):
    order = load("shopify_order.json")
    del order["order"]["shipping_address"]["latitude"], order["order"]["shipping_address"]["longitude"]
    assert session.parse(order).destination.basis == "postal_code"
    order = load("shopify_order.json")
    del order["order"]["shipping_address"]
    b = session.parse(order)
    assert b.destination.basis == "postal_code"  # the FO destination's zip 40202
    order["fulfillment_orders"][0]["destination"] = {"country": "United States", "province": "Kentucky"}
    b = session.parse(order)
    assert b.destination.approximate and b.destination.basis == "region"
    assert any("approximately" in n for n in b.notes)


def test_fulfillment_orders_that_cannot_move_are_kept(session):
    order = load("shopify_order.json")
    order["fulfillment_orders"][0]["request_status"] = "submitted"
    out = session.route(order)
    assert out["moves"] == []
    assert out["sourcewise"]["status"] == "nothing_to_route"
    assert {u["reason"] for u in out["unchanged"]} == {
        "a fulfillment service holds it (request_status submitted)", "delivery method is pick_up"}


# ------------------------------------------------------------------ malformed payloads
def _other_order() -> dict:
    """Another valid order, routed first so the router holds live reservations."""
    p = load("shopify_order.json")
    p["order"]["id"] = 1
    for fo in p["fulfillment_orders"]:
        fo["order_id"] = 1
    return p


def _swapped_coordinates(p):
    a = p["order"]["shipping_address"]
    a["latitude"], a["longitude"] = a["longitude"], a["latitude"]


def _too_many_in_fos(p):
    p["fulfillment_orders"][0]["line_items"][2]["quantity"] = 5
    p["fulfillment_orders"][0]["line_items"][2]["fulfillable_quantity"] = 5


@pytest.mark.parametrize("case", [
    dropping("order.line_items"),
    setting("order.line_items[1].quantity", "3", "integer"),
    setting("fulfillment_orders[0].line_items[1].fulfillable_quantity", "3", "integer"),
    setting("fulfillment_orders[0].assigned_location_id", 111111, "unknown location"),
    Malformed("order.shipping_address.latitude", "swapped", _swapped_coordinates),
    setting("fulfillment_orders[0].line_items[0].line_item_id", 42, "unknown line item"),
    dropping("fulfillment_orders", "fulfillment_orders.json"),
    setting("order.line_items[0].price", "19,99", "decimal"),
    Malformed("fulfillment_orders[0].line_items[2].quantity", "quantity 2", _too_many_in_fos),
], ids=str)
def test_malformed_payload_names_the_field_and_changes_nothing(session, case):
    session.route(_other_order())
    error = case.refused(session, "shopify_order.json")
    assert all(p.table == "shopify" for p in error.problems)
    assert case.field in str(error)


def test_every_problem_in_every_document_is_reported_at_once():
    order = load("shopify_order.json")
    order["order"]["line_items"][0]["quantity"] = "1"
    locs = load("shopify_locations.json")
    locs["locations"][1]["active"] = "yes"
    inv = load("shopify_inventory.json")
    inv["inventory_levels"][0]["location_id"] = 5
    inv["inventory_levels"][1]["available"] = 1.5
    with pytest.raises(AdapterError) as exc:
        route_payload("shopify", order, locs, inv)
    got = {(p.row, p.field) for p in exc.value.problems}
    assert got >= {("order", "order.line_items[0].quantity"), ("locations", "locations[1].active"),
                   ("inventory", "inventory_levels[0]"), ("inventory", "inventory_levels[1].available")}


def test_unknown_location_in_inventory_levels():
    inv = load("shopify_inventory.json")
    inv["inventory_levels"][3]["location_id"] = "gid://shopify/Location/1"
    with pytest.raises(AdapterError, match=r"inventory_levels\[3\]: unknown location '1'"):
        Session("shopify", load("shopify_locations.json"), inv)


# ------------------------------------------------------------------ rejection
def test_rejected_fulfillment_order_is_rerouted_into_new_moves(session):
    session.route(load("shopify_order.json"))
    decision_before = session.router.decision("450789469")
    # Columbus rejects the fulfillment order the move created (new ids, as Shopify assigns them)
    rejected = {"fulfillment_order": {
        "id": 1046000790, "order_id": 450789469, "assigned_location_id": "gid://shopify/Location/905684977",
        "status": "open", "request_status": "rejected",
        "delivery_method": {"method_type": "shipping"},
        "line_items": [
            {"id": 1058737490, "fulfillment_order_id": 1046000790, "quantity": 1, "line_item_id": 466157049,
             "inventory_item_id": 39072856, "fulfillable_quantity": 1},
            {"id": 1058737491, "fulfillment_order_id": 1046000790, "quantity": 2, "line_item_id": 518995019,
             "inventory_item_id": 49148385, "fulfillable_quantity": 2},
        ]}}
    out = reject_fulfillment_order(session, rejected)
    assert out["rejected_location_id"] == "gid://shopify/Location/905684977"
    # green can only come from the fulfillment service now; no other location has red left
    assert out["moves"] == [{"fulfillment_order_id": 1046000790,
                             "fulfillment_order": {"new_location_id": 24826418,
                                                   "fulfillment_order_line_items": [{"id": 1058737490, "quantity": 1}]}}]
    assert out["unfilled"] == [{"id": 1058737491, "quantity": 2}]
    assert any("24826418" in n and "approximately" in n for n in out["sourcewise"]["notes"])
    after = session.router.decision("450789469")
    # the rejecting node holds nothing of those lines; the other lines did not move
    assert not [a for a in after.allocations if a.node_id == COLUMBUS]
    keep = {(a.line_id, a.node_id, a.qty) for a in decision_before.allocations if a.node_id != COLUMBUS}
    assert keep <= {(a.line_id, a.node_id, a.qty) for a in after.allocations}
    assert session.router.atp(COLUMBUS, GREEN) == 0


def test_reject_by_location_without_a_payload(session):
    session.route(load("shopify_order.json"))
    before = atp_table(session.router)
    with pytest.raises(AdapterError, match="unknown location"):
        session.reject(450789469, 31337)
    with pytest.raises(AdapterError, match="has not been routed"):
        session.reject(1, NEWARK)
    assert atp_table(session.router) == before
    # Newark kept 1 red in the original fulfillment order: its id is still right
    out = session.reject(450789469, 655441491)
    assert out["moves"] == [] and out["unfilled"] == [{"id": 1058737483, "quantity": 1}]
