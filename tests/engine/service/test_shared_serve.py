"""Two ``sourcewise serve`` processes sharing one PostgreSQL ledger (a real server, from tests/pg.py)."""

from __future__ import annotations

from tests.engine.service.server import API
from tests.engine.service.server import Server
from tests.engine.service.server import write_scenario
from tests.pg import fresh_database


def order(oid: str, qty: int) -> dict:
    return {"order_id": oid, "lines": [{"line_id": "1", "sku": "SKU-BLUE", "qty": qty}],
            "destination": {"lat": 41.88, "lon": -87.63}}


def test_two_servers_share_stock_orders_and_retries_through_postgresql(tmp_path):
    url = fresh_database()
    a = Server(url, write_scenario(tmp_path / "scenario"), log_dir=tmp_path).start()
    b = Server(url, None, log_dir=tmp_path).start()  # joins the ledger a started: no scenario needed
    try:
        with a.client() as ca, b.client() as cb:
            def total(c) -> tuple[int, int]:
                rows = c.get("/v1/stock", params={"sku": "SKU-BLUE"}, headers=API).json()["stock"]
                return sum(r["on_hand"] for r in rows), sum(r["reserved"] for r in rows)

            on_hand, _ = total(ca)
            # more units asked, through both, than there are: never two sales of one unit
            answers = []
            for k in range(on_hand + 3):
                c = ca if k % 2 else cb
                r = c.post("/v1/route", json=order(f"S-{k}", 1), headers={**API, "Idempotency-Key": f"s-{k}"})
                assert r.status_code == 200, r.text
                answers.append(r.json())
            sold = sum(d["units"] for d in answers)
            assert sold == on_hand and total(ca) == total(cb) == (on_hand, on_hand)
            # an order routed by one is known to the other, and a retry on the other replays the answer
            assert cb.get("/v1/orders/S-1", headers=API).json()["decision"]["allocations"] == answers[1]["allocations"]
            again = cb.post("/v1/route", json=order("S-1", 1), headers={**API, "Idempotency-Key": "s-1"})
            assert again.json() == answers[1] and again.headers["idempotent-replayed"] == "true"
            assert ca.post("/v1/orders/S-2/release", headers=API).status_code == 200
            assert cb.get("/v1/orders/S-2", headers=API).json()["state"] == "released"
            assert total(cb) == (on_hand, on_hand - answers[2]["units"])
    finally:
        a.kill()
        b.kill()
