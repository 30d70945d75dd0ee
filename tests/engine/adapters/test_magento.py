"""Magento MSI: source-selection request in (camelCase), source-selection result out (snake_case)."""

from __future__ import annotations

import pytest

from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.adapters import Session
from sourcewise.engine.adapters import route_payload
from sourcewise.engine.adapters.magento import MagentoAdapter
from tests.engine.adapters import dropping
from tests.engine.adapters import load
from tests.engine.adapters import refused_beside
from tests.engine.adapters import setting

# malformed requests: each must be refused naming its field, and change nothing
MALFORMED_REQUESTS = [
    dropping("inventoryRequest.items"),
    setting("inventoryRequest.items[0].qty", "20", "integer"),
    setting("inventoryRequest.items[1].qty", 2.5, "integer"),
    setting("inventoryRequest.items[1].qty", 0, ">= 1"),
    setting("inventoryRequest.stockId", 7, "stock 2, not 7"),
    dropping("inventoryRequest.stockId"),
    dropping("inventoryRequest"),
]


def _route(request=None, sources=None, items=None):
    return route_payload("magento", request or load("magento_request.json"), sources or load("magento_sources.json"),
                         items or load("magento_source_items.json"))


@pytest.fixture
def session() -> Session:
    return Session(MagentoAdapter(stock_id=2), load("magento_sources.json"), load("magento_source_items.json"))


def test_result_shape_matches_magentos_own_answer_field_by_field():
    out = _route()
    assert set(out) == {"source_selection_items", "shippable", "sourcewise"}
    # the Distance Priority answer Magento's documentation shows for this request, plus the
    # out-of-stock (status 0) Austin item Magento also lists
    assert out["source_selection_items"] == [
        {"source_code": "baltimore_wh", "sku": "24-WB01", "qty_to_deduct": 20, "qty_available": 35},
        {"source_code": "austin_wh", "sku": "24-WB01", "qty_to_deduct": 0, "qty_available": 10},
        {"source_code": "reno_wh", "sku": "24-WB01", "qty_to_deduct": 0, "qty_available": 25},
        {"source_code": "baltimore_wh", "sku": "24-WB03", "qty_to_deduct": 19, "qty_available": 19},
        {"source_code": "austin_wh", "sku": "24-WB03", "qty_to_deduct": 0, "qty_available": 0},
        {"source_code": "reno_wh", "sku": "24-WB03", "qty_to_deduct": 31, "qty_available": 42},
    ]
    assert out["shippable"] is True
    for row in out["source_selection_items"]:
        assert all(isinstance(row[k], int) for k in ("qty_to_deduct", "qty_available"))
    assert out["sourcewise"]["destination"]["basis"] == "postal_code"


def test_round_trip_preserves_skus_and_quantities():
    req = load("magento_request.json")
    out = _route(req)
    want = {i["sku"]: i["qty"] for i in req["inventoryRequest"]["items"]}
    got: dict[str, int] = {}
    for row in out["source_selection_items"]:
        got[row["sku"]] = got.get(row["sku"], 0) + row["qty_to_deduct"]
        assert row["qty_to_deduct"] <= row["qty_available"]
    assert got == want


def test_snake_case_and_camel_case_requests_are_the_same():
    camel = load("magento_request.json")
    ir = camel["inventoryRequest"]
    snake = {"inventory_request": {"stock_id": ir["stockId"], "items": ir["items"],
                                   "extensionAttributes": {"destinationAddress": ir["extension_attributes"]["destination_address"]}},
             "algorithm_code": "distance"}
    assert _route(snake)["source_selection_items"] == _route(camel)["source_selection_items"]


def test_unknown_coordinates_are_geocoded_and_unlinked_sources_left_out():
    cat, _ = MagentoAdapter().parse(load("magento_request.json"), load("magento_sources.json"),
                                    load("magento_source_items.json"))
    assert set(cat.network.node_index) == {"baltimore_wh", "austin_wh", "reno_wh"}  # "default" is stock 1's
    assert cat.points["reno_wh"].basis == "postal_code"  # latitude/longitude 0/0 means unknown
    assert cat.points["baltimore_wh"].basis == "address"
    # link priorities become node priorities, for the priority strategy
    assert [n.priority for n in cat.network.nodes] == [1, 2, 3]


def test_priority_strategy_follows_link_priorities():
    from sourcewise.models.policy import Policy

    out = route_payload("magento", load("magento_request.json"), load("magento_sources.json"),
                        load("magento_source_items.json"), policy=Policy(strategy="priority"))
    first = {(r["source_code"], r["sku"]): r["qty_to_deduct"] for r in out["source_selection_items"]}
    assert first[("baltimore_wh", "24-WB01")] == 20


def test_qty_available_reflects_earlier_reservations(session):
    req = load("magento_request.json")
    req["orderId"] = "000000101"
    session.route(req)
    req2 = load("magento_request.json")
    req2["orderId"] = "000000102"
    req2["inventoryRequest"]["items"] = [{"sku": "24-WB01", "qty": 5}]
    out = session.route(req2)
    avail = {r["source_code"]: r["qty_available"] for r in out["source_selection_items"]}
    assert sum(avail.values()) == 35 + 10 + 25 - 20
    assert out["sourcewise"]["order_id"] == "000000102"


def test_not_enough_stock_is_not_shippable():
    req = load("magento_request.json")
    req["inventoryRequest"]["items"][1]["qty"] = 500
    out = _route(req)
    assert out["shippable"] is False
    assert out["sourcewise"]["status"] == "partial"


def test_unknown_sku_is_not_shippable():
    req = load("magento_request.json")
    req["inventoryRequest"]["items"].append({"sku": "NOPE", "qty": 1})
    out = _route(req)
    assert out["shippable"] is False
    assert all(r["sku"] != "NOPE" for r in out["source_selection_items"])


def test_without_destination_routes_from_the_sources_centroid_flagged():
    req = load("magento_request.json")
    del req["inventoryRequest"]["extension_attributes"]
    out = _route(req)
    assert out["sourcewise"]["destination"]["approximate"] is True
    assert any("destination" in n for n in out["sourcewise"]["notes"])


def test_decimal_quantities_accept_whole_floats():
    req = load("magento_request.json")
    req["inventoryRequest"]["items"][0]["qty"] = 20.0
    assert _route(req)["shippable"] is True


# ------------------------------------------------------------------ malformed payloads
@pytest.mark.parametrize("case", MALFORMED_REQUESTS, ids=str)
def test_malformed_request_names_the_field_and_changes_nothing(session, case):
    refused_beside(session, "magento_request.json", {"orderId": "A1"}, case)


def test_unknown_stock_in_a_one_off_request():
    req = load("magento_request.json")
    req["inventoryRequest"]["stockId"] = 9
    with pytest.raises(AdapterError) as exc:
        _route(req)
    assert "inventoryRequest.stockId" in exc.value.fields


@pytest.mark.parametrize(("mutate", "doc", "field"), [
    (lambda s, i: i["items"][1].update(source_code="boston_wh"), "inventory", "items[1].source_code"),
    (lambda s, i: i["items"][1].update(quantity="35"), "inventory", "items[1].quantity"),
    (lambda s, i: s["sources"]["items"][1].update(latitude=-76.6122, longitude=39.2904), "locations",
     "sources.items[1].latitude"),
    (lambda s, i: s["sources"]["items"][2].update(latitude=130.0), "locations", "sources.items[2].latitude"),
    (lambda s, i: s["stock_source_links"]["items"].append({"stock_id": 2, "source_code": "ghost", "priority": 4}),
     "locations", "stock_source_links"),
])
def test_malformed_sources_and_items(mutate, doc, field):
    sources, items = load("magento_sources.json"), load("magento_source_items.json")
    mutate(sources, items)
    with pytest.raises(AdapterError) as exc:
        _route(sources=sources, items=items)
    assert (doc, field) in {(p.row, p.field) for p in exc.value.problems}


def test_bare_priority_ordered_source_list_is_accepted():
    sources = [s for s in load("magento_sources.json")["sources"]["items"] if s["source_code"] != "default"]
    out = _route(sources=sources)
    assert out["shippable"] is True


def test_rejection_by_source_and_sku(session):
    req = load("magento_request.json")
    req["orderId"] = "000000200"
    session.route(req)
    out = session.reject("000000200", "reno_wh", ["24-WB03"])
    rows = {(r["source_code"], r["sku"]): r for r in out["source_selection_items"]}
    assert rows[("reno_wh", "24-WB03")]["qty_to_deduct"] == 0
    assert rows[("reno_wh", "24-WB03")]["qty_available"] == 0  # its ATP for the SKU is now zero
    assert rows[("baltimore_wh", "24-WB01")]["qty_to_deduct"] == 20  # other lines stay
    assert out["shippable"] is False  # nobody else holds 31 more of 24-WB03
    assert out["sourcewise"]["rerouted_from"] == "reno_wh"
