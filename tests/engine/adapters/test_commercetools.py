"""commercetools: Order, Channels and InventoryEntries in; supply-channel assignments and addDelivery out."""

from __future__ import annotations

import json
import re

import msgspec
import pytest

from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.adapters import Session
from sourcewise.engine.adapters import get_adapter
from sourcewise.engine.adapters import route_payload
from tests.engine.adapters import dropping
from tests.engine.adapters import load
from tests.engine.adapters import refused_beside
from tests.engine.adapters import setting

EDISON = "9a0e4b7d-2f1c-4c8e-b6a5-3d2e1f0a9b8c"
DALLAS = "4c3b2a19-8d7e-4f6a-a5b4-c3d2e1f0a9b8"
UNION_SQ = "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"
WEBSHOP = "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b"
SHOE_LINE = "a1d6c5e2-8f1b-4b62-9d1a-6b5c0f3e7a10"
SOCK_LINE = "b2e7d6f3-9a2c-4c73-8e2b-7c6d1a4f8b21"

# malformed orders: each must be refused naming its field, and change nothing
MALFORMED_ORDERS = [
    dropping("lineItems"),
    setting("lineItems[0].quantity", "2", "integer"),
    setting("lineItems[1].supplyChannel", {"typeId": "channel", "id": "deadbeef-0000-4000-8000-000000000000"},
            "unexpanded reference"),
    setting("lineItems[1].supplyChannel.typeId", "store", "'channel'"),
    setting("lineItems[1].supplyChannel", {"typeId": "channel", "id": WEBSHOP}, "InventorySupply"),
    dropping("lineItems[0].variant.sku"),
    dropping("shippingAddress"),
]


@pytest.fixture
def session() -> Session:
    return Session("commercetools", load("commercetools_channels.json"), load("commercetools_inventory.json"))


def test_catalog_takes_supply_channels_only(session):
    cat = session.catalog
    assert set(cat.network.node_index) == {EDISON, DALLAS, UNION_SQ}
    assert WEBSHOP in cat.extra["other_channels"]
    # geoLocation is [lng, lat]
    assert (cat.points[EDISON].lat, cat.points[EDISON].lon) == (40.5187, -74.4121)
    # no geoLocation: placed by its postal code
    assert cat.points[UNION_SQ].basis == "postal_code"
    assert cat.inventory.atp(DALLAS, "SOCK-MERINO-M") == 40
    assert any("no supplyChannel" in n for n in cat.notes)


def test_route_renders_assignments_and_deliveries_field_by_field(session):
    order = load("commercetools_order.json")
    out = session.route(order)
    assert set(out) == {"id", "orderNumber", "lineItemSupplyChannels", "orderUpdate", "unfilled", "sourcewise"}
    assert out["id"] == order["id"] and out["orderNumber"] == "CT-2024-000187"
    decision = session.router.decision(order["id"])
    # one assignment per (line item, channel) piece, exactly the decision's allocations
    pieces = sorted((a["lineItemId"], a["supplyChannel"]["id"], a["quantity"]) for a in out["lineItemSupplyChannels"])
    assert pieces == sorted((a.line_id, a.node_id, a.qty) for a in decision.allocations)
    for a in out["lineItemSupplyChannels"]:
        assert set(a) <= {"lineItemId", "sku", "quantity", "supplyChannel", "previousSupplyChannel"}
        assert a["supplyChannel"]["typeId"] == "channel"
        prev = {SHOE_LINE: EDISON, SOCK_LINE: DALLAS}[a["lineItemId"]]
        if a["supplyChannel"]["id"] != prev:
            assert a["previousSupplyChannel"] == {"typeId": "channel", "id": prev}
        else:
            assert "previousSupplyChannel" not in a
    upd = out["orderUpdate"]
    assert upd["version"] == 3
    # one addDelivery per shipping channel; their items are the split's item groups
    assert len(upd["actions"]) == len({a.node_id for a in decision.allocations}) >= 2
    keys = {"CT-2024-000187-nj-edison-dc", "CT-2024-000187-tx-dallas-dc", "CT-2024-000187-sf-union-square"}
    for action in upd["actions"]:
        assert set(action) == {"action", "deliveryKey", "items"}
        assert action["action"] == "addDelivery"
        assert action["deliveryKey"] in keys and re.fullmatch(r"[A-Za-z0-9_-]{2,256}", action["deliveryKey"])
        for item in action["items"]:
            assert set(item) == {"id", "quantity"} and item["quantity"] >= 1
    assert out["unfilled"] == []
    sw = out["sourcewise"]
    assert sw["status"] == "routed" and sw["service_level"] == "Standard Ground"
    assert sw["destination"]["basis"] == "postal_code" and not sw["destination"]["approximate"]


def test_round_trip_preserves_every_id_and_quantity(session):
    order = load("commercetools_order.json")
    out = session.route(order)
    want = {li["id"]: li["quantity"] for li in order["lineItems"]}
    by_assign: dict[str, int] = {}
    for a in out["lineItemSupplyChannels"]:
        by_assign[a["lineItemId"]] = by_assign.get(a["lineItemId"], 0) + a["quantity"]
    by_delivery: dict[str, int] = {}
    for action in out["orderUpdate"]["actions"]:
        for item in action["items"]:
            by_delivery[item["id"]] = by_delivery.get(item["id"], 0) + item["quantity"]
    assert by_assign == by_delivery == want
    skus = {a["lineItemId"]: a["sku"] for a in out["lineItemSupplyChannels"]}
    assert skus == {li["id"]: li["variant"]["sku"] for li in order["lineItems"]}
    channels = {a["supplyChannel"]["id"] for a in out["lineItemSupplyChannels"]}
    assert channels <= {EDISON, DALLAS, UNION_SQ}


def test_delivered_quantities_are_not_routed_again(session):
    order = load("commercetools_order.json")
    order["shippingInfo"]["deliveries"] = [{
        "id": "dd000000-0000-4000-8000-000000000001", "key": "first", "createdAt": "2024-03-05T10:00:00.000Z",
        "items": [{"id": SOCK_LINE, "quantity": 2}], "parcels": []}]
    out = session.route(order)
    socks = sum(a["quantity"] for a in out["lineItemSupplyChannels"] if a["lineItemId"] == SOCK_LINE)
    assert socks == 1


def test_cent_amounts_become_exact_prices():
    catalog, bound = get_adapter("commercetools").parse(
        load("commercetools_order.json"), load("commercetools_channels.json"), load("commercetools_inventory.json"))
    prices = {ln.sku: str(ln.price) for ln in bound.source.lines}
    assert prices == {"TRAIL-RUN-42": "89.99", "SOCK-MERINO-M": "11.33"}
    net = catalog.network
    assert net.skus[net.sku_index["TRAIL-RUN-42"]].price == pytest.approx(89.99)


def test_expanded_reference_to_a_channel_outside_the_list_is_accepted_with_a_note(session):
    order = load("commercetools_order.json")
    ref = order["lineItems"][0]["supplyChannel"]
    ref["id"] = ref["obj"]["id"] = "77777777-0000-4000-8000-000000000000"
    b = session.parse(order)
    assert any("holds no stock" in n for n in b.notes)


def test_channel_key_is_checked_against_the_channels(session):
    order = load("commercetools_order.json")
    order["lineItems"][1]["supplyChannel"] = {"typeId": "channel", "key": "tx-dallas-dc"}
    bound = session.parse(order)
    assert not any("holds no stock" in n for n in bound.notes)
    order["lineItems"][1]["supplyChannel"] = {"typeId": "channel", "key": "no-such-channel"}
    with pytest.raises(AdapterError) as info:
        session.parse(order)
    assert [p.field for p in info.value.problems] == ["lineItems[1].supplyChannel.key"]
    order["lineItems"][1]["supplyChannel"] = {"typeId": "channel", "key": "us-webshop"}  # not InventorySupply
    with pytest.raises(AdapterError, match="lacks the InventorySupply role"):
        session.parse(order)


def test_channel_referenced_by_key_resolves(session):
    # a channel referenced by key is the same channel as referenced by id: the response must say
    # so exactly as it does for the id (the sock line moves away from Dallas in both)
    by_id = load("commercetools_order.json")
    by_key = load("commercetools_order.json")
    by_key["lineItems"][1]["supplyChannel"] = {"typeId": "channel", "key": "tx-dallas-dc"}
    keyed = session.route(by_key)
    fresh = Session("commercetools", load("commercetools_channels.json"), load("commercetools_inventory.json"))
    plain = fresh.route(by_id)
    assert keyed["lineItemSupplyChannels"] == plain["lineItemSupplyChannels"]
    socks = [a for a in keyed["lineItemSupplyChannels"] if a["lineItemId"] == SOCK_LINE]
    assert any(a["supplyChannel"]["id"] != DALLAS for a in socks)  # the case at stake: stock moved
    for a in socks:
        if a["supplyChannel"]["id"] != DALLAS:
            assert a["previousSupplyChannel"] == {"typeId": "channel", "id": DALLAS}
        else:
            assert "previousSupplyChannel" not in a


def _route_by(session: Session, payload: dict, how: str) -> dict:
    """``payload`` routed through one of the session's ways in: the fast path (``route``), JSON
    text (``route_json``) or the careful reader alone (``careful``)."""
    if how == "route_json":
        return msgspec.json.decode(session.route_json(json.dumps(payload)))
    if how == "careful":
        bound = session.adapter.parse_order_careful(payload, session.catalog)
        return session.render(bound, session.route_bound(bound))
    return session.route(payload)


@pytest.mark.parametrize("how", ["route", "route_json", "careful"])
def test_channel_referenced_by_key_resolves_on_every_path(how):
    by_key = load("commercetools_order.json")
    by_key["lineItems"][1]["supplyChannel"] = {"typeId": "channel", "key": "tx-dallas-dc"}
    keyed = Session("commercetools", load("commercetools_channels.json"), load("commercetools_inventory.json"))
    if how != "careful":  # a key to a channel of the catalog is as plain as an id
        assert keyed.adapter.fast_order(by_key, keyed.catalog) is not None
    plain = Session("commercetools", load("commercetools_channels.json"), load("commercetools_inventory.json"))
    want = plain.route(load("commercetools_order.json"))["lineItemSupplyChannels"]
    assert _route_by(keyed, by_key, how)["lineItemSupplyChannels"] == want
    assert any("previousSupplyChannel" in a for a in want if a["lineItemId"] == SOCK_LINE)


# ------------------------------------------------------------------ malformed payloads
@pytest.mark.parametrize("case", MALFORMED_ORDERS, ids=str)
def test_malformed_order_names_the_field_and_changes_nothing(session, case):
    refused_beside(session, "commercetools_order.json", {"id": "other-order"}, case)


def test_swapped_geolocation_is_detected_by_plausibility():
    channels = load("commercetools_channels.json")
    geo = channels["results"][0]["geoLocation"]
    geo["coordinates"] = geo["coordinates"][::-1]  # [lat, lng]: a common mistake
    with pytest.raises(AdapterError) as exc:
        Session("commercetools", channels, load("commercetools_inventory.json"))
    (p,) = exc.value.problems
    assert p.row == "locations" and p.field == "results[0].geoLocation.coordinates"
    assert "swapped" in p.reason and "[longitude, latitude]" in p.reason


def test_swapped_geolocation_without_address_is_caught_by_range():
    channels = load("commercetools_channels.json")
    del channels["results"][1]["address"]
    channels["results"][1]["geoLocation"]["coordinates"] = [32.7767, -96.797]
    with pytest.raises(AdapterError, match=r"results\[1\]\.geoLocation\.coordinates: latitude -96.797 is out of range"):
        Session("commercetools", channels, load("commercetools_inventory.json"))


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda inv: inv["results"][0]["supplyChannel"].update(id="nope"), "results[0].supplyChannel"),
    (lambda inv: inv["results"][0]["supplyChannel"].update(id=WEBSHOP), "results[0].supplyChannel"),
    (lambda inv: inv["results"][2].update(availableQuantity="1"), "results[2].availableQuantity"),
    (lambda inv: inv["results"][2].pop("sku"), "results[2].sku"),
])
def test_malformed_inventory_is_rejected(mutate, field):
    inv = load("commercetools_inventory.json")
    mutate(inv)
    with pytest.raises(AdapterError) as exc:
        route_payload("commercetools", load("commercetools_order.json"), load("commercetools_channels.json"), inv)
    assert field in exc.value.fields


def _apply(deliveries: dict[str, list[dict]], actions: list[dict]) -> dict[str, list[dict]]:
    """What commercetools would hold after the update actions (deliveries by key)."""
    out = {k: list(v) for k, v in deliveries.items()}
    for a in actions:
        if a["action"] == "addDelivery":
            assert a["deliveryKey"] not in out  # keys are unique per order
            out[a["deliveryKey"]] = a["items"]
        elif a["action"] == "setDeliveryItems":
            assert a["deliveryKey"] in out
            out[a["deliveryKey"]] = a["items"]
        elif a["action"] == "removeDelivery":
            del out[a["deliveryKey"]]
        else:
            raise AssertionError(a)
    return out


def test_rejection_updates_the_deliveries_into_the_new_plan(session):
    order = load("commercetools_order.json")
    first = session.route(order)
    before = session.router.decision(order["id"])
    assert UNION_SQ in {a.node_id for a in before.allocations}
    held = _apply({}, first["orderUpdate"]["actions"])
    out = session.reject(order["id"], UNION_SQ)
    after = session.router.decision(order["id"])
    assert out["rejectedSupplyChannel"] == {"typeId": "channel", "id": UNION_SQ}
    assert all(a["supplyChannel"]["id"] != UNION_SQ for a in out["lineItemSupplyChannels"])
    assert {"action": "removeDelivery", "deliveryKey": "CT-2024-000187-sf-union-square"} in out["orderUpdate"]["actions"]
    now = _apply(held, out["orderUpdate"]["actions"])
    units = lambda d: sorted((k, i["id"], i["quantity"]) for k, items in d.items() for i in items)  # noqa: E731
    expected = _apply({}, session.render(session.bound_of(order["id"]), after)["orderUpdate"]["actions"])
    assert units(now) == units(expected)
    # everything that left the rejected channel went somewhere else or is reported unfilled
    lost = sum(u["quantity"] for u in out["unfilled"])
    assert after.units + lost == before.units
    untouched = [a for a in before.allocations if a.node_id != UNION_SQ]
    assert {(a.line_id, a.node_id) for a in untouched} <= {(a.line_id, a.node_id) for a in after.allocations}
    assert session.router.atp(UNION_SQ, "TRAIL-RUN-42") == 0
