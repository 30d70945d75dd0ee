"""``GET``/``PUT /v1/prices`` over HTTP against a real server whose policy routes with the ``dual`` strategy."""

from __future__ import annotations

import pytest

from tests.engine.service.server import API
from tests.engine.service.server import sqlite_server


@pytest.fixture(scope="module")
def dual_server(tmp_path_factory):
    with sqlite_server(tmp_path_factory.mktemp("serve-dual"), scale=50, policy='strategy = "dual"\n') as srv:
        yield srv


def order(oid: str, sku: str = "SKU-RED", qty: int = 1) -> dict:
    return {"order_id": oid, "lines": [{"line_id": "1", "sku": sku, "qty": qty}],
            "destination": {"lat": 41.88, "lon": -87.63}}


def shipped_from(decision: dict) -> set[str]:
    return {s["node_id"] for s in decision["shipments"]}


def test_prices_steer_dual_routing_and_survive_a_restart(dual_server):
    with dual_server.client() as c:
        got = c.get("/v1/prices", headers=API).json()
        assert got["strategy"] == "dual" and got["applies"] is True
        assert got["priced"] == 0 and got["prices"] == [] and got["entries"] > 0
        holders = [r["node_id"] for r in c.get("/v1/stock", params={"sku": "SKU-RED"}, headers=API).json()["stock"]
                   if r["atp"] >= 2]
        assert len(holders) >= 2  # somewhere else to go
        first = c.post("/v1/route", json=order("D-1"), headers=API).json()
        assert first["status"] == "routed" and first["strategy"] == "dual"
        (near,) = shipped_from(first)
        r = c.put("/v1/prices", json={"prices": [{"node_id": near, "sku": "SKU-RED", "price": 1e6}]}, headers=API)
        assert r.status_code == 200, r.text
        assert r.json()["source"] == "prices" and r.json()["prices"] == [
            {"node_id": near, "sku": "SKU-RED", "price": 1e6}]
        second = c.post("/v1/route", json=order("D-2"), headers=API).json()
        assert second["status"] == "routed" and near not in shipped_from(second)
        assert c.get("/v1/prices", headers=API).json()["priced"] == 1
    # the prices are in the ledger: a new process recovers them
    dual_server.kill()
    dual_server.scenario = None
    dual_server.start()
    with dual_server.client() as c:
        assert c.get("/v1/prices", headers=API).json()["prices"] == [
            {"node_id": near, "sku": "SKU-RED", "price": 1e6}]
        third = c.post("/v1/route", json=order("D-3"), headers=API).json()
        assert near not in shipped_from(third)
        # a new table replaces the whole set: entries it leaves out cost 0 again
        assert c.put("/v1/prices", json={"prices": []}, headers=API).json()["priced"] == 0
        assert shipped_from(c.post("/v1/route", json=order("D-4"), headers=API).json()) == {near}


def test_prices_from_a_forecast(dual_server):
    with dual_server.client() as c:
        forecast = [order(f"F-{i}", qty=3) for i in range(4)] + [order("F-9", sku="SKU-BLUE")]
        r = c.put("/v1/prices", json={"forecast": forecast, "time_limit": 5}, headers=API)
        if r.status_code == 422:  # dual_prices refused the forecast's prices: the answer says why
            assert r.json()["error"].startswith("no dual prices from this forecast")
        else:
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["source"] == "forecast" and all(p["price"] > 0 for p in body["prices"])
            assert c.get("/v1/prices", headers=API).json()["prices"] == body["prices"]


def test_bad_prices_requests_change_nothing(dual_server):
    with dual_server.client() as c:
        assert c.put("/v1/prices", json={"prices": [{"node_id": "NOPE-X", "sku": "SKU-RED", "price": 1}]},
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/v1/prices").status_code == 401
        before = c.get("/v1/prices", headers=API).json()
        stock = c.get("/v1/stock", params={"sku": "SKU-RED"}, headers=API).json()["stock"]
        node = stock[0]["node_id"]
        bad = {"prices": [{"node_id": "NOPE-X", "sku": "SKU-RED", "price": 1},
                          {"node_id": node, "sku": "NO-SUCH-SKU", "price": 1},
                          {"node_id": node, "sku": "SKU-RED", "price": -1},
                          {"node_id": node, "sku": "SKU-RED", "price": 2},
                          {"node_id": node, "sku": "SKU-RED", "price": 2, "cost": 1}]}
        r = c.put("/v1/prices", json=bad, headers=API)
        assert r.status_code == 422
        reasons = {(p["field"], p["reason"]) for p in r.json()["problems"]}
        fields = {f for f, _ in reasons}
        assert {"prices[0].node_id", "prices[1].sku", "prices[2].price", "prices[3]", "prices[4].cost"} <= fields
        assert any("repeats prices[2]" in why for _, why in reasons)
        for body, field in (({"prices": [], "forecast": [order("X")]}, "$"), ({}, "$"),
                            ({"prices": [], "time_limit": 3}, "time_limit"),
                            # a SKU no location stocks is unfilled demand, as in /v1/route: nothing to price
                            ({"forecast": [order("X", sku="NO-SUCH-SKU")]}, "forecast"),
                            ({"forecast": [order("X", qty=0)]}, "forecast[0]"),
                            ({"forecast": [order("X")], "time_limit": 0}, "time_limit"),
                            ({"forecast": []}, "forecast")):
            r = c.put("/v1/prices", json=body, headers=API)
            assert r.status_code == 422, (body, r.text)
            assert any(p["field"].startswith(field) for p in r.json()["problems"]), (body, r.text)
        assert c.put("/v1/prices", content=b"{not json", headers=API).status_code == 400
        assert c.get("/v1/prices", headers=API).json() == before


def test_prices_are_in_the_openapi_document(dual_server):
    with dual_server.client() as c:
        doc = c.get("/openapi.json").json()
        ops = doc["paths"]["/v1/prices"]
        assert set(ops) == {"get", "put"}
        assert ops["put"]["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/PricesRequest"}
        assert "example" in ops["put"]["requestBody"]["content"]["application/json"]
        assert any(p["name"] == "Idempotency-Key" for p in ops["put"]["parameters"])
