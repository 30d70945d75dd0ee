"""Crashes: the server killed with SIGKILL under load, then restarted on the same ledger."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter

import httpx

from sourcewise.engine.service.idempotency import fingerprint
from tests.engine.service.server import API
from tests.engine.service.server import Server
from tests.engine.service.server import write_scenario

SKUS = ("SKU-RED", "SKU-BLUE", "SKU-GREEN")


def order(oid: str, k: int) -> dict:
    return {"order_id": oid, "lines": [{"line_id": "1", "sku": SKUS[k % 3], "qty": 1 + k % 3},
                                       {"line_id": "2", "sku": SKUS[(k + 1) % 3], "qty": 1}],
            "destination": {"lat": 41.88 - (k % 7), "lon": -87.63 + (k % 5)}}


def books(c: httpx.Client) -> dict[tuple[str, str], tuple[int, int]]:
    out = {}
    for sku in SKUS:
        for row in c.get("/v1/stock", params={"sku": sku}, headers=API).json()["stock"]:
            out[row["node_id"], sku] = (row["on_hand"], row["reserved"])
    return out


def test_sigkill_mid_load_every_acknowledged_route_is_there_exactly_once(tmp_path):
    srv = Server(f"sqlite:///{tmp_path}/ledger.db", write_scenario(tmp_path / "scenario", scale=4)).start()
    total, clients = 400, 4
    answers: dict[str, dict] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client(w: int) -> None:
        with srv.client() as c:
            for k in range(w, total, clients):
                if stop.is_set():
                    return
                oid = f"C-{k:04d}"
                try:
                    r = c.post("/v1/route", json=order(oid, k), headers={**API, "Idempotency-Key": oid})
                except httpx.TransportError:
                    return  # the server is gone: this request has no answer
                if r.status_code == 200:
                    with lock:
                        answers[oid] = r.json()

    threads = [threading.Thread(target=client, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(answers) < total // 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    srv.kill()  # SIGKILL, mid-load
    stop.set()
    for t in threads:
        t.join()
    acked = dict(answers)
    assert total // 3 <= len(acked) < total

    srv.start()
    with srv.client() as c:
        for oid, first in acked.items():
            view = c.get(f"/v1/orders/{oid}", headers=API).json()
            assert view["decision"]["allocations"] == first["allocations"]
            assert [h["kind"] for h in view["history"]] == ["route"]  # exactly once
        # every request again, as a client retries what it sent: the acknowledged ones answer as they did
        # and reserve nothing more, the others (perhaps in the ledger, perhaps not) are routed once
        decisions = {}
        for k in range(total):
            oid = f"C-{k:04d}"
            r = c.post("/v1/route", json=order(oid, k), headers={**API, "Idempotency-Key": oid})
            assert r.status_code == 200, r.text
            decisions[oid] = r.json()
            if oid in acked:
                assert decisions[oid] == acked[oid]
        for k in range(0, total, 7):
            hist = c.get(f"/v1/orders/C-{k:04d}", headers=API).json()["history"]
            assert [h["kind"] for h in hist] == ["route"]
        reserved = Counter()
        for d in decisions.values():
            for a in d["allocations"]:
                reserved[a["node_id"], a["sku"]] += a["qty"]
        for key, (on_hand, held) in books(c).items():
            assert held == reserved[key]  # each routed order's units reserved once
            assert 0 <= held <= on_hand  # nothing oversold
    srv.kill()


def test_a_change_cut_short_by_a_crash_is_settled_from_the_ledger(tmp_path):
    """The ledger holds a release and an adjustment whose answers were never recorded (the process died
    between the two): retried with their keys after a restart, each answers what it did, once."""
    store = f"sqlite:///{tmp_path}/ledger.db"
    srv = Server(store, write_scenario(tmp_path / "scenario", scale=4)).start()
    adjust = json.dumps({"adjustments": [{"node_id": "WH-NJ", "sku": "SKU-RED", "kind": "receipt",
                                          "qty": 5}]}).encode()
    with srv.client() as c:
        routed = c.post("/v1/route", json=order("X-1", 0), headers=API).json()
        moved = c.post("/v1/route", json=order("X-2", 1), headers=API).json()["allocations"][0]["node_id"]
        reroute = json.dumps({"node_id": moved}).encode()
        seq = c.get("/readyz").json()["ledger_seq"]
        # what the dead process did: its calls reached the ledger, their answers never left
        assert c.post("/v1/orders/X-1/release", headers=API).status_code == 200
        assert c.post("/v1/stock/adjustments", content=adjust, headers=API).status_code == 200
        rerouted = c.post("/v1/orders/X-2/reroute", content=reroute, headers=API).json()
        after = books(c)
    free = next(k for k, (on_hand, held) in sorted(after.items()) if on_hand - held >= 1)
    never = json.dumps({"adjustments": [{"node_id": free[0], "sku": free[1], "kind": "sale", "qty": 1}]}).encode()
    srv.kill()
    db = sqlite3.connect(f"{tmp_path}/ledger.db.requests")
    for key, path, body in (("rel-X-1", "/v1/orders/X-1/release", b""), ("adj-1", "/v1/stock/adjustments", adjust),
                            ("adj-never", "/v1/stock/adjustments", never),
                            ("rr-X-2", "/v1/orders/X-2/reroute", reroute)):
        db.execute("INSERT INTO requests VALUES (?, ?, 'pending', 0, x'', ?, 'a-dead-process', ?)",
                   (key, fingerprint("POST", path, body), seq, time.time() - 3600))
    db.commit()
    db.close()
    srv.start()
    with srv.client() as c:
        r = c.post("/v1/orders/X-1/release", headers={**API, "Idempotency-Key": "rel-X-1"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "released"
        assert r.json()["decision"]["allocations"] == routed["allocations"]
        r = c.post("/v1/stock/adjustments", content=adjust, headers={**API, "Idempotency-Key": "adj-1"})
        assert r.status_code == 200 and r.json()["adjustments"][0]["applied"] == 5
        r = c.post("/v1/orders/X-2/reroute", content=reroute, headers={**API, "Idempotency-Key": "rr-X-2"})
        assert r.status_code == 200 and r.json() == rerouted
        assert books(c) == after  # none was done twice
        # a pending call that never reached the ledger runs now, once
        r = c.post("/v1/stock/adjustments", content=never, headers={**API, "Idempotency-Key": "adj-never"})
        assert r.status_code == 200 and r.json()["adjustments"][0]["applied"] == -1
        assert books(c)[free][0] == after[free][0] - 1
        again = c.post("/v1/stock/adjustments", content=never, headers={**API, "Idempotency-Key": "adj-never"})
        assert again.json() == r.json() and again.headers["idempotent-replayed"] == "true"
        assert books(c)[free][0] == after[free][0] - 1
    srv.kill()
