"""Every endpoint of ``sourcewise serve``, over HTTP against a real uvicorn process, with the
platforms' example payloads the adapter tests use."""

from __future__ import annotations

import copy
import json
import signal
import threading
import time

import pytest

from tests.engine.service.server import API
from tests.engine.service.server import CT_AUTH
from tests.engine.service.server import MAGENTO_TOKEN
from tests.engine.service.server import OLD_TOKEN
from tests.engine.service.server import Server
from tests.engine.service.server import payload
from tests.engine.service.server import signed
from tests.engine.service.server import write_scenario


def stock(client, *skus: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(on_hand, reserved) per (node, sku) of the SKUs."""
    out = {}
    for sku in skus:
        r = client.get("/v1/stock", params={"sku": sku}, headers=API)
        assert r.status_code == 200, r.text
        out.update({(row["node_id"], row["sku"]): (row["on_hand"], row["reserved"]) for row in r.json()["stock"]})
    return out


def reserved(client, *skus: str) -> int:
    return sum(r for _, r in stock(client, *skus).values())


def order(oid: str, sku: str = "SKU-RED", qty: int = 1) -> dict:
    return {"order_id": oid, "lines": [{"line_id": "1", "sku": sku, "qty": qty}],
            "destination": {"lat": 41.88, "lon": -87.63}}


def problem_fields(r) -> list[str]:
    return [p["field"] for p in r.json()["problems"]]


def test_operations_endpoints_answer(server):
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "alive"}
        assert c.get("/readyz").json()["status"] == "ready"
        doc = c.get("/openapi.json").json()
        assert doc["openapi"].startswith("3.1")
        assert {"/v1/route", "/v1/promise", "/v1/holds", "/v1/orders/{order_id}/release",
                "/v1/orders/{order_id}/commit", "/v1/orders/{order_id}/reroute", "/v1/stock/adjustments",
                "/v1/stock", "/v1/orders/{order_id}", "/webhooks/shopify/orders-create",
                "/extensions/commercetools", "/magento/source-selection", "/healthz", "/readyz",
                "/metrics"} <= set(doc["paths"])
        c.post("/v1/route", json=order("M-1"), headers=API)
        m = c.get("/metrics")
        assert m.headers["content-type"].startswith("text/plain")
        text = m.text
        for name in ("sourcewise_http_request_duration_seconds_bucket", "sourcewise_routing_duration_seconds_bucket",
                     'sourcewise_decisions_total{status="routed"}', "sourcewise_store_write_duration_seconds_bucket",
                     "sourcewise_oversold_entries 0.0", "sourcewise_adjustment_units_withheld_total"):
            assert name in text, name
        assert 'route="/v1/route"' in text


def test_authentication_fails_before_anything_changes(server):
    with server.client() as c:
        before = stock(c, "SKU-RED")
        body = order("AUTH-1")
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dGVzdA=="},
                        {"Authorization": "Bearer"}):
            r = c.post("/v1/route", json=body, headers={**headers, "X-Request-Id": "req-401"})
            assert r.status_code == 401
            assert r.json()["error"] == "authentication failed"
            # the routing endpoint's own fast lane answers as every endpoint does
            assert r.headers["www-authenticate"] == "Bearer" and r.headers["x-request-id"] == "req-401"
            assert r.json()["request_id"] == "req-401"
            assert c.get("/v1/orders/AUTH-1", headers=headers).status_code == 401
            # a stranger learns nothing: the same answer for an id that exists and one that does not
            assert c.get("/v1/orders/nobody", headers=headers).json()["error"] == "authentication failed"
        assert stock(c, "SKU-RED") == before
        assert c.get("/v1/orders/AUTH-1", headers=API).status_code == 404
        # a token being rotated out still works
        r = c.post("/v1/route", json=body, headers={"Authorization": f"Bearer {OLD_TOKEN}"})
        assert r.status_code == 200 and r.json()["status"] == "routed"


def test_route_one_order_and_its_retries(server):
    with server.client() as c:
        body = payload("generic")
        before = reserved(c, "SKU-RED", "SKU-BLUE", "SKU-GREEN")
        r = c.post("/v1/route", json=body, headers={**API, "Idempotency-Key": "gen-1"})
        assert r.status_code == 200, r.text
        first = r.json()
        assert first["order_id"] == "A-1001" and first["status"] in ("routed", "partial")
        units = first["units"]
        assert reserved(c, "SKU-RED", "SKU-BLUE", "SKU-GREEN") == before + units
        again = c.post("/v1/route", json=body, headers={**API, "Idempotency-Key": "gen-1"})
        assert again.status_code == 200 and again.json() == first
        assert again.headers["idempotent-replayed"] == "true"
        # the same key with another body is refused; the same order without a key answers its decision
        other = c.post("/v1/route", json={**body, "max_shipments": 1}, headers={**API, "Idempotency-Key": "gen-1"})
        assert other.status_code == 409 and problem_fields(other) == ["Idempotency-Key"]
        plain = c.post("/v1/route", json=body, headers=API)
        assert plain.status_code == 200 and plain.json()["allocations"] == first["allocations"]
        # other content under the same order id is a conflict, and changes nothing
        clash = c.post("/v1/route", json={**body, "lines": body["lines"][:1]}, headers=API)
        assert clash.status_code == 409
        assert reserved(c, "SKU-RED", "SKU-BLUE", "SKU-GREEN") == before + units
        view = c.get("/v1/orders/A-1001", headers=API).json()
        assert view["state"] == "open" and view["decision"]["allocations"] == first["allocations"]
        assert [h["kind"] for h in view["history"]] == ["route"]


def test_route_a_list_checks_every_order_first(server):
    with server.client() as c:
        before = reserved(c, "SKU-RED", "SKU-BLUE")
        bad = [order("L-1"), {"order_id": "L-2", "lines": [{"line_id": "1", "sku": "SKU-RED", "qty": 0}],
                              "destination": {"lat": 41.0}}, order("L-1")]
        r = c.post("/v1/route", json={"orders": bad}, headers=API)
        assert r.status_code == 422
        fields = problem_fields(r)
        assert "orders[1].lines[0].qty" in fields and "orders[2].order_id" in fields
        assert any(f.startswith("orders[1].destination") for f in fields)
        assert reserved(c, "SKU-RED", "SKU-BLUE") == before
        good = [order("L-1"), order("L-2", "SKU-BLUE", 2)]
        r = c.post("/v1/route", json=good, headers=API)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["schema"] == "sourcewise.decisions/1"
        assert [d["order_id"] for d in doc["decisions"]] == ["L-1", "L-2"]
        assert reserved(c, "SKU-RED", "SKU-BLUE") == before + sum(d["units"] for d in doc["decisions"])
        # a list holding routed orders answers their decisions and routes only the new one
        r = c.post("/v1/route", json={"orders": [*good, order("L-3")]}, headers=API)
        assert [d["allocations"] for d in r.json()["decisions"][:2]] == [d["allocations"] for d in doc["decisions"]]
        assert reserved(c, "SKU-RED", "SKU-BLUE") == before + sum(d["units"] for d in r.json()["decisions"])


def test_promise_reserves_nothing(server):
    with server.client() as c:
        before = stock(c, "SKU-RED")
        r = c.post("/v1/promise", json=order("P-1", qty=2), headers=API)
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["order_id"] == "P-1" and p["ship"]["status"] == "routed"
        assert p["pickup"] and p["pickup"][0]["node_id"] == "ST-CHI"
        assert stock(c, "SKU-RED") == before
        assert c.get("/v1/orders/P-1", headers=API).status_code == 404
        routed = c.post("/v1/route", json=order("P-1", qty=2), headers=API).json()
        assert routed["allocations"] == p["ship"]["allocations"]


def test_hold_then_commit_release_and_reroute(server):
    with server.client() as c:
        r = c.post("/v1/holds", json={"order": order("H-1", qty=2), "ttl_s": 600}, headers=API)
        assert r.status_code == 200, r.text
        held = r.json()
        assert held["status"] == "routed" and held["expires_at"] > 0
        assert c.get("/v1/orders/H-1", headers=API).json()["state"] == "held"
        bad = c.post("/v1/holds", json={"order": {"order_id": "H-2"}, "ttl_s": -1}, headers=API)
        assert bad.status_code == 422
        assert {"ttl_s", "order.lines", "order.destination"} <= set(problem_fields(bad))
        on_hand = {k: v[0] for k, v in stock(c, "SKU-RED").items()}
        r = c.post("/v1/orders/H-1/commit", headers={**API, "Idempotency-Key": "commit-H-1"})
        assert r.status_code == 200 and r.json()["state"] == "committed"
        node = held["allocations"][0]["node_id"]
        assert stock(c, "SKU-RED")[(node, "SKU-RED")][0] == on_hand[(node, "SKU-RED")] - held["units"]
        again = c.post("/v1/orders/H-1/commit", headers={**API, "Idempotency-Key": "commit-H-1"})
        assert again.json() == r.json() and again.headers["idempotent-replayed"] == "true"
        assert c.post("/v1/orders/H-1/commit", headers=API).status_code == 409
        assert c.post("/v1/orders/NOPE/release", headers=API).status_code == 404
        # release
        c.post("/v1/route", json=order("R-1"), headers=API)
        before = reserved(c, "SKU-RED")
        r = c.post("/v1/orders/R-1/release", headers=API)
        assert r.status_code == 200 and r.json()["state"] == "released"
        assert reserved(c, "SKU-RED") == before - 1
        assert c.get("/v1/orders/R-1", headers=API).json()["state"] == "released"
        # reroute: the node that holds the order cannot pick it
        d = c.post("/v1/route", json=order("RR-1", "SKU-BLUE", 1), headers=API).json()
        rejected = d["allocations"][0]["node_id"]
        bad = c.post("/v1/orders/RR-1/reroute", json={"node_id": "NOWHERE", "lines": [{}]}, headers=API)
        assert bad.status_code == 422 and set(problem_fields(bad)) == {"node_id", "lines[0]"}
        r = c.post("/v1/orders/RR-1/reroute", json={"node_id": rejected}, headers=API)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["rerouted_from"] == rejected and out["state"] == "open"
        assert all(a["node_id"] != rejected for a in out["decision"]["allocations"])


def test_stock_adjustments_and_reads(server):
    with server.client() as c:
        (oh, _), = [v for k, v in stock(c, "SKU-BLUE").items() if k[0] == "WH-NJ"]
        body = {"adjustments": [{"node_id": "WH-NJ", "sku": "SKU-BLUE", "kind": "receipt", "qty": 10},
                                {"node_id": "WH-NJ", "sku": "SKU-BLUE", "kind": "sale", "qty": 3},
                                {"node_id": "WH-NJ", "sku": "SKU-BLUE", "kind": "shrink", "qty": 1}]}
        r = c.post("/v1/stock/adjustments", json=body, headers={**API, "Idempotency-Key": "adj-1"})
        assert r.status_code == 200, r.text
        assert [a["applied"] for a in r.json()["adjustments"]] == [10, -3, -1]
        again = c.post("/v1/stock/adjustments", json=body, headers={**API, "Idempotency-Key": "adj-1"})
        assert again.json() == r.json()
        assert stock(c, "SKU-BLUE")[("WH-NJ", "SKU-BLUE")][0] == oh + 6
        count = {"adjustments": [{"node_id": "WH-NJ", "sku": "SKU-BLUE", "kind": "count", "qty": 500}]}
        r = c.post("/v1/stock/adjustments", json=count, headers=API)
        assert r.json()["adjustments"][0]["applied"] == 500 - (oh + 6)
        row = c.get("/v1/stock", params={"node_id": "WH-NJ", "sku": "SKU-BLUE"}, headers=API).json()["stock"]
        assert len(row) == 1 and row[0]["on_hand"] == 500 and row[0]["atp"] == 500 - row[0]["reserved"]
        bad = c.post("/v1/stock/adjustments", json={"adjustments": [
            {"node_id": "WH-NJ", "sku": "NOPE", "kind": "receipt", "qty": 1},
            {"node_id": "WH-NJ", "sku": "SKU-BLUE", "kind": "theft", "qty": -2}]}, headers=API)
        assert bad.status_code == 422
        assert set(problem_fields(bad)) == {"adjustments[0].sku", "adjustments[1].kind", "adjustments[1].qty"}
        assert stock(c, "SKU-BLUE")[("WH-NJ", "SKU-BLUE")][0] == 500
        assert c.get("/v1/stock", headers=API).status_code == 422
        r = c.get("/v1/stock", params={"node_id": "nowhere", "sku": "nothing"}, headers=API)
        assert r.status_code == 422 and set(problem_fields(r)) == {"node_id", "sku"}
        assert all(row["node_id"] == "ST-CHI" for row in
                   c.get("/v1/stock", params={"node_id": "ST-CHI"}, headers=API).json()["stock"])


def test_malformed_input_names_every_bad_field_and_never_a_traceback(server):
    with server.client() as c:
        r = c.post("/v1/route", content=b'{"order_id": ', headers=API)
        assert r.status_code == 400 and problem_fields(r) == ["$"]
        r = c.post("/v1/route", json={"order_id": "", "lines": [{"line_id": "1", "sku": 5, "qty": "2"}],
                                      "destination": {"lat": 100, "lon": -74}}, headers=API)
        assert r.status_code == 422
        assert {"order_id", "lines[0].sku", "lines[0].qty", "destination.lat"} <= set(problem_fields(r))
        big = b'{"order_id": "x", "pad": "' + b"x" * (2 << 20) + b'"}'
        r = c.post("/v1/route", content=big, headers=API)
        assert r.status_code == 413
        for r in (c.post("/v1/orders/x/reroute", content=b"[]", headers=API),
                  c.post("/v1/holds", content=b"\xff\xfe", headers=API),
                  c.get("/v1/nothing-here"), c.put("/v1/route", headers=API)):
            assert 400 <= r.status_code < 500 and "Traceback" not in r.text and r.json()["error"]


def test_hostile_bodies_are_answered_4xx_not_500(server):
    """Issue #21: deep nesting, an integer past Python's int-to-text limit and lone surrogates once
    escaped the adapters' error type (a 500); each is a 4xx that names the problem."""
    generic = json.dumps(payload("generic"))
    ct_order = payload("commercetools")
    ct_order["lineItems"][0]["quantity"] = "\ud800"
    bodies = ["[" * 100_000 + "]" * 100_000, '{"order_id": ' + "9" * 5000 + "}",
              generic.replace('"qty": 2', '"qty": "\\ud800"'), generic.replace('"qty": 2', '"qty": ' + "9" * 5000)]
    magento = payload("magento")
    magento["inventoryRequest"]["items"][0]["qty"] = "\ud800"
    with server.client() as c:
        for body in bodies:
            r = c.post("/v1/route", content=body.encode(), headers=API)
            assert 400 <= r.status_code < 500 and "Traceback" not in r.text and r.json()["error"], r.text
        ct = {"Authorization": CT_AUTH}
        for body in (json.dumps({"action": "Create", "resource": {"typeId": "order", "id": "x", "obj": ct_order}}),
                     bodies[0]):
            assert c.post("/extensions/commercetools", content=body.encode(), headers=ct).status_code == 400
        for body in (json.dumps(magento), bodies[0]):
            r = c.post("/magento/source-selection", content=body.encode(), headers={"Authorization": f"Bearer {MAGENTO_TOKEN}"})
            assert 400 <= r.status_code < 500, r.text


def test_shopify_webhook_signature_and_retries(server):
    doc = payload("shopify")
    body = json.dumps({**doc["order"], "fulfillment_orders": doc["fulfillment_orders"]}).encode()
    skus = ("39072856", "49148385", "457924702", "808950810")
    with server.client() as c:
        before = stock(c, *skus)
        for headers in ({"Content-Type": "application/json"}, signed(body, "wrong secret"),
                        {**signed(body), "X-Shopify-Hmac-Sha256": "AAAA"}, signed(body + b" ")):
            r = c.post("/webhooks/shopify/orders-create", content=body, headers=headers)
            assert r.status_code == 401
        tampered = body.replace(b'"quantity": 3', b'"quantity": 1')
        assert c.post("/webhooks/shopify/orders-create", content=tampered, headers=signed(body)).status_code == 401
        assert stock(c, *skus) == before
        assert c.get("/v1/orders/450789469", headers=API).status_code == 404
        hook = {**signed(body), "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}
        r = c.post("/webhooks/shopify/orders-create", content=body, headers=hook)
        assert r.status_code == 200, r.text
        first = r.json()
        assert first["moves"] and all(m["fulfillment_order"]["new_location_id"] for m in first["moves"])
        after = stock(c, *skus)
        units = sum(v[1] for v in after.values()) - sum(v[1] for v in before.values())
        assert units > 0
        again = c.post("/webhooks/shopify/orders-create", content=body, headers=hook)
        assert again.json() == first and again.headers["idempotent-replayed"] == "true"
        # a second delivery under another webhook id is the same order: nothing more is reserved
        other = c.post("/webhooks/shopify/orders-create", content=body,
                       headers={**signed(body), "X-Shopify-Webhook-Id": "another"})
        assert other.status_code == 200
        assert stock(c, *skus) == after
        assert c.get("/v1/orders/450789469", headers=API).json()["state"] == "open"


def test_commercetools_extension(server):
    doc = payload("commercetools")
    body = {"action": "Create", "resource": {"typeId": "order", "id": doc["id"], "obj": doc}}
    with server.client() as c:
        before = stock(c, "TRAIL-RUN-42", "SOCK-MERINO-M")
        r = c.post("/extensions/commercetools", json=body, headers={"Authorization": "Basic wrong"})
        assert r.status_code == 401 and stock(c, "TRAIL-RUN-42", "SOCK-MERINO-M") == before
        ct = {"Authorization": CT_AUTH}
        r = c.post("/extensions/commercetools", json=body, headers=ct)
        assert r.status_code == 200, r.text
        actions = r.json()["actions"]
        assert actions and {a["action"] for a in actions} == {"addDelivery"}
        assert all(a["deliveryKey"].startswith("CT-2024-000187-") and a["items"] for a in actions)
        assert reserved(c, "TRAIL-RUN-42", "SOCK-MERINO-M") > sum(v[1] for v in before.values())
        assert c.post("/extensions/commercetools", json=body, headers=ct).json() == r.json()
        update = c.post("/extensions/commercetools", json={**body, "action": "Update"}, headers=ct)
        assert update.status_code == 200 and update.json() == {"actions": []}
        broken = copy.deepcopy(body)
        broken["resource"]["obj"]["lineItems"][0]["quantity"] = "two"
        broken["resource"]["obj"]["id"] = "another-order"
        r = c.post("/extensions/commercetools", json=broken, headers=ct)
        assert r.status_code == 400
        errors = r.json()["errors"]
        assert errors and all(e["code"] == "InvalidInput" for e in errors)
        assert any("lineItems[0].quantity" in e["message"] for e in errors)
        assert c.post("/extensions/commercetools", content=b"nope", headers=ct).status_code == 400


def test_magento_source_selection(server):
    body = payload("magento")
    body["orderId"] = "000000042"
    with server.client() as c:
        assert c.post("/magento/source-selection", json=body, headers=API).status_code == 401
        mg = {"Authorization": f"Bearer {MAGENTO_TOKEN}", "Idempotency-Key": "mg-1"}
        r = c.post("/magento/source-selection", json=body, headers=mg)
        assert r.status_code == 200, r.text
        out = r.json()
        assert isinstance(out["shippable"], bool) and out["source_selection_items"]
        deducted = {}
        for it in out["source_selection_items"]:
            deducted[it["sku"]] = deducted.get(it["sku"], 0) + it["qty_to_deduct"]
        assert deducted == {"24-WB01": 20, "24-WB03": 50} or not out["shippable"]
        assert c.post("/magento/source-selection", json=body, headers=mg).json() == out
        bad = c.post("/magento/source-selection", json={"inventoryRequest": {"items": [{"sku": "", "qty": 0}]}},
                     headers=mg | {"Idempotency-Key": "mg-2"})
        assert bad.status_code == 422 and len(bad.json()["problems"]) >= 2


@pytest.fixture
def lone_server(tmp_path):
    srv = Server(f"sqlite:///{tmp_path}/ledger.db", write_scenario(tmp_path / "scenario", scale=5))
    yield srv
    srv.kill()


def test_graceful_shutdown_finishes_requests_in_flight_and_restart_keeps_everything(lone_server):
    """SIGTERM while a request's body is still arriving: the request is answered, then the process
    exits (uvicorn re-raises the signal once shut down); on restart every change is there."""
    srv = lone_server.start()
    with srv.client() as c:
        d = c.post("/v1/route", json=order("G-1"), headers={**API, "Idempotency-Key": "g-1"}).json()
        c.post("/v1/stock/adjustments", headers={**API, "Idempotency-Key": "g-2"},
               json={"adjustments": [{"node_id": "WH-NJ", "sku": "SKU-RED", "kind": "receipt", "qty": 7}]})
        text = json.dumps(order("G-2")).encode()

        def slow_body():
            yield text[:10]
            threading.Timer(0.0, srv.proc.send_signal, (signal.SIGTERM,)).start()
            time.sleep(1.0)
            yield text[10:]

        r = c.post("/v1/route", content=slow_body(), headers=API)
        assert r.status_code == 200 and r.json()["order_id"] == "G-2"
    assert srv.proc.wait(timeout=60) in (0, -signal.SIGTERM)
    srv.start()
    with srv.client() as c:
        assert c.get("/v1/orders/G-1", headers=API).json()["decision"]["allocations"] == d["allocations"]
        assert c.get("/v1/orders/G-2", headers=API).json()["state"] == "open"
        books = stock(c, "SKU-RED")
        again = c.post("/v1/stock/adjustments", headers={**API, "Idempotency-Key": "g-2"},
                       json={"adjustments": [{"node_id": "WH-NJ", "sku": "SKU-RED", "kind": "receipt", "qty": 7}]})
        assert again.headers["idempotent-replayed"] == "true" and stock(c, "SKU-RED") == books
