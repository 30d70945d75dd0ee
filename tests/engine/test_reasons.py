"""Every order not fully routed says why, per order and per line: the router, the batch tables and the CLI."""

from __future__ import annotations

import json
from datetime import date
from datetime import datetime
from datetime import timedelta

import pandas as pd
import pytest

from sourcewise import Inventory
from sourcewise import Network
from sourcewise import Node
from sourcewise import Order
from sourcewise import OrderLine
from sourcewise import Policy
from sourcewise import Router
from sourcewise import Sku
from sourcewise import StockRecord
from sourcewise import cli
from sourcewise.models.decision import REASON_CODES
from sourcewise.models.policy import Tier
from tests.conftest import warehouse_and_vendor

NYC = (40.71, -74.0)
PLACED = datetime(2024, 3, 6, 8)

# one SKU per way of failing: where it is stocked decides why an order of it cannot be routed
NODES = [
    Node("WH-E", "warehouse", 40.0, -75.2),                         # A: plenty, near New York
    Node("WH-W", "warehouse", 34.05, -118.24),                      # C: across the country
    Node("WH-FULL", "warehouse", 41.0, -74.0, capacity_orders=0),   # D: no order slot today
    Node("WH-OFF", "warehouse", 40.5, -74.5, enabled=False),        # E: disabled
    Node("WH-FAR", "warehouse", 21.3, -157.8),                      # G: Honolulu, beyond every tier's reach
    Node("ST-P", "store", 40.75, -73.99, pickup=True, cutoff_hour=10),   # H: same-day before 10:00 only
    Node("ST-NP", "store", 40.7, -74.01, pickup=False),
]
SKUS = [Sku(s, weight_kg=1.0, price=10.0) for s in "ABCDEGH"]
STOCK = [("WH-E", "A", 50), ("WH-W", "C", 50), ("WH-FULL", "D", 50), ("WH-OFF", "E", 50), ("WH-FAR", "G", 50),
         ("ST-P", "H", 50)]
POLICY = Policy(tiers=(Tier("own", ("warehouse", "store"), max_distance_km=4500.0),), max_shipments=3)


def _line(sku: str, qty: int = 1, lid: str = "1", **kw) -> OrderLine:
    return OrderLine(lid, sku, qty, **kw)


# (order, the reason code its order row carries)
SHIPPED = [
    (Order("O-NOSTOCK", (_line("B"),), *NYC, placed_at=PLACED), "no_stock"),
    (Order("O-SPLIT", (_line("A", 1, "1"), _line("C", 1, "2")), *NYC, allow_split=False, placed_at=PLACED),
     "split_limit"),
    (Order("O-LATE", (_line("C"),), *NYC, service_level="next_day", placed_at=PLACED), "late_excluded"),
    (Order("O-CAP", (_line("D"),), *NYC, placed_at=PLACED), "capacity_full"),
    (Order("O-OFF", (_line("E"),), *NYC, placed_at=PLACED), "not_eligible"),
    (Order("O-FAR", (_line("G"),), *NYC, placed_at=PLACED), "too_far"),
]
OMNI = [
    (Order("O-CUTOFF", (_line("H", method="same_day"),), *NYC, placed_at=datetime(2024, 3, 6, 15)), "past_cutoff"),
    (Order("O-PICKUP-EMPTY", (_line("B", method="pickup", pickup_node="ST-P"),), *NYC, placed_at=PLACED),
     "pickup_store_empty"),
    (Order("O-PICKUP-NO", (_line("A", method="pickup", pickup_node="ST-NP"),), *NYC, placed_at=PLACED),
     "pickup_not_offered"),
]


def _router(**kw) -> Router:
    net = Network.build(NODES, SKUS)
    inv = Inventory.from_records(net, [StockRecord(n, s, q) for n, s, q in STOCK])
    return Router(net, inv, POLICY, business_day=PLACED.date(), **kw)


@pytest.mark.parametrize(("order", "code"), SHIPPED + OMNI, ids=[o.order_id for o, _ in SHIPPED + OMNI])
def test_route_gives_each_unfilled_line_its_reason(order, code):
    d = _router().route(order)
    assert d.reason == code
    assert [r.line_id for r in d.reasons] == [lid for lid, _ in d.unfilled]
    assert all(r.text and r.code in REASON_CODES for r in d.reasons)
    assert {r.line_id: r.units for r in d.reasons} == dict(d.unfilled)


def test_a_routed_order_carries_no_reason():
    d = _router().route(Order("O-OK", (_line("A", 2),), *NYC, placed_at=PLACED))
    assert d.reasons == () and d.reason == ""


def test_route_many_fast_path_gives_the_reasons_route_gives():
    orders = [o for o, _ in SHIPPED]
    res = _router().route_many(orders)
    one_by_one = _router()
    want = {o.order_id: one_by_one.route(o) for o in orders}
    got = dict(zip(res.orders["order_id"], res.orders["reason"], strict=True))
    assert got == {o.order_id: code for o, code in SHIPPED}
    for o in orders:
        rows = res.unfilled[res.unfilled["order_id"] == o.order_id]
        assert list(zip(rows["line_id"], rows["reason"], rows["reason_text"], strict=True)) == \
            [(r.line_id, r.code, r.text) for r in want[o.order_id].reasons]


def test_batch_reasons_see_the_stock_each_order_met():
    # the first order takes the last units; the second finds none: no_stock for it, not for the first
    net = Network.build(NODES, SKUS)
    inv = Inventory.from_records(net, [StockRecord("WH-E", "A", 3)])
    r = Router(net, inv, POLICY, business_day=PLACED.date())
    res = r.route_many([Order("first", (_line("A", 5),), *NYC), Order("second", (_line("A", 1),), *NYC),
                        Order("third", (_line("A", 1),), *NYC, allow_split=False)])
    assert res.orders["reason"].tolist() == ["no_stock", "no_stock", "no_stock"]
    assert res.unfilled["unfilled"].tolist() == [2, 1, 1]


def test_batch_decisions_explain_themselves():
    r = _router()
    r.route_many([o for o, _ in SHIPPED])
    d = r.decision("O-SPLIT")
    assert dict(d.unfilled) == {"2": 1}
    assert [(x.line_id, x.code) for x in d.reasons] == [("2", "split_limit")]
    text = str(d.explanation)
    assert "tier own: served 1x1" in text and "split_limit" in text


class _Down:
    """A vendor gateway whose every live check fails."""

    def availability(self, vendor_id, skus, timeout):
        raise ConnectionError("vendor down")


def _vendor_down() -> tuple[Router, Order]:
    """A router whose only vendor fails its check, and an order whose line 2 only that vendor offers."""
    net, inv, offers = warehouse_and_vendor("VN-1", 40.0)
    r = Router(net, inv, Policy(), vendor_offers=offers, gateway=_Down())
    return r, Order("o", (_line("A", 1, "1"), _line("B", 2, "2")), *NYC)


def test_vendor_failures_are_their_own_reason():
    r, order = _vendor_down()
    d = r.route(order)
    assert [(x.line_id, x.code) for x in d.reasons] == [("2", "vendor_failed")]
    assert "VN-1" in d.reasons[0].text


def _file_rows(router: Router, orders: list[Order]) -> list[tuple]:
    """``allocations_file`` of routing ``orders`` with ``route_many``: (order, line, node, qty, tier, reason) rows."""
    from sourcewise.engine.batch import allocations_file
    from sourcewise.engine.batch import batch_from_orders

    table = allocations_file(router.route_many(orders), batch_from_orders(router.network, orders))
    assert (table["reason_text"] != "").tolist() == (table["reason"] != "").tolist()
    return list(zip(table["order_id"], table["line_id"], table["node_id"], table["qty"], table["tier"],
                    table["reason"], strict=True))


def test_allocations_file_accounts_for_every_unit_in_line_order():
    # line 1 ships nothing, line 2 ships 50 of 60: the unfilled rows follow each line's allocations
    order = Order("O-1", (_line("B", 1, "1"), _line("A", 60, "2"), _line("A", 1, "3")), *NYC, placed_at=PLACED)
    full = Order("O-2", (_line("C", 1, "1"),), *NYC)
    assert _file_rows(_router(), [order, full]) == [
        ("O-1", "1", "", 1, "unfilled", "no_stock"),
        ("O-1", "2", "WH-E", 50, "own", "no_stock"),
        ("O-1", "2", "", 10, "unfilled", "no_stock"),
        ("O-1", "3", "", 1, "unfilled", "no_stock"),
        ("O-2", "1", "WH-W", 1, "own", ""),
    ]


def test_allocations_file_carries_a_vendor_failure():
    r, order = _vendor_down()
    assert _file_rows(r, [order]) == [
        ("o", "1", "WH", 1, "own", ""), ("o", "2", "", 2, "unfilled", "vendor_failed")]


def test_allocations_carry_the_promised_date_of_their_parcel():
    r = _router()
    orders = [Order(f"O-{i}", (_line("A", 1), _line("C", 1, "2")), *NYC, placed_at=PLACED) for i in range(3)]
    res = r.route_many(orders)
    a = res.allocations
    for rec in res.orders.itertuples():
        dates = a.loc[a["order_id"] == rec.order_id, "promised_date"]
        assert dates.max().date() == PLACED.date() + timedelta(days=int(rec.promised_days))
    one = _router().route(orders[0])
    assert {s.node_id: s.promised_date for s in one.shipments} == {
        n: d.date() for n, d in zip(a["node_id"][a["order_id"] == "O-0"], a["promised_date"][a["order_id"] == "O-0"],
                                    strict=True)}


def _write_scenario(folder) -> None:
    folder.mkdir()
    pd.DataFrame([{"node_id": n.node_id, "kind": n.kind.value, "lat": n.lat, "lon": n.lon, "pickup": n.pickup,
                   "enabled": n.enabled, "cutoff_hour": n.cutoff_hour,
                   "capacity_orders": "" if n.capacity_orders is None else n.capacity_orders}
                  for n in NODES]).to_csv(folder / "nodes.csv", index=False)
    pd.DataFrame([{"sku": s.sku, "weight_kg": s.weight_kg, "price": s.price} for s in SKUS]).to_csv(
        folder / "skus.csv", index=False)
    pd.DataFrame(STOCK, columns=["node_id", "sku", "on_hand"]).to_csv(folder / "inventory.csv", index=False)
    rows = []
    for o, _ in SHIPPED + OMNI:
        for ln in o.lines:
            rows.append({"order_id": o.order_id, "line_id": ln.line_id, "sku": ln.sku, "qty": ln.qty,
                         "lat": o.lat, "lon": o.lon, "allow_split": o.allow_split, "method": ln.method,
                         "pickup_node": ln.pickup_node or "", "service_level": o.service_level,
                         "created_at": o.placed_at.isoformat(sep=" ")})
    pd.DataFrame(rows).to_csv(folder / "orders.csv", index=False)
    (folder / "policy.toml").write_text(
        'max_shipments = 3\n[[tiers]]\nname = "own"\nkinds = ["warehouse", "store"]\nmax_distance_km = 4500\n',
        encoding="utf-8")


def test_cli_route_writes_every_reason(tmp_path, capsys):
    _write_scenario(tmp_path / "sc")
    want = {o.order_id: code for o, code in SHIPPED + OMNI}
    assert cli.main(["route", "--scenario", str(tmp_path / "sc"), "--out", str(tmp_path / "out")]) == 0
    summary = capsys.readouterr().out
    orders = pd.read_csv(tmp_path / "out" / "orders.csv", keep_default_na=False)
    assert dict(zip(orders["order_id"], orders["reason"], strict=True)) == want
    assert (orders["reason_text"] != "").all()
    lines = pd.read_csv(tmp_path / "out" / "unfilled.csv", keep_default_na=False, dtype={"line_id": str})
    assert set(zip(lines["order_id"], lines["reason"], strict=True)) == set(want.items())
    allocs = pd.read_csv(tmp_path / "out" / "allocations.csv", keep_default_na=False, dtype={"line_id": str})
    assert list(allocs.columns) == ["order_id", "line_id", "sku", "node_id", "qty", "tier", "promised_date", "reason",
                                    "reason_text"]
    # every line's rows add up to what it ordered: its unrouted units are an "unfilled" row without a node
    ordered = {(o.order_id, ln.line_id): ln.qty for o, _ in SHIPPED + OMNI for ln in o.lines}
    assert allocs.groupby(["order_id", "line_id"])["qty"].sum().to_dict() == ordered
    short = allocs[allocs["tier"] == "unfilled"]
    assert (short["node_id"] == "").all() and (short["promised_date"] == "").all()
    assert dict(zip(short["order_id"], short["reason"], strict=True)) == want
    assert set(zip(short["order_id"], short["line_id"], short["qty"], short["reason"], short["reason_text"],
                   strict=True)) == set(zip(lines["order_id"], lines["line_id"], lines["unfilled"], lines["reason"],
                                            lines["reason_text"], strict=True))
    # the split order's first line shipped in full: no reason on it; its second is the unfilled row
    split = allocs[allocs["order_id"] == "O-SPLIT"]
    assert list(zip(split["line_id"], split["tier"], split["reason"], split["promised_date"] != "",
                    strict=True)) == [("1", "own", "", True), ("2", "unfilled", "split_limit", False)]
    assert "not fully routed, by reason" in summary
    for code in set(want.values()):
        assert code in summary

    assert cli.main(["route", "--scenario", str(tmp_path / "sc"), "--out", str(tmp_path / "js"),
                     "--format", "json"]) == 0
    doc = json.loads((tmp_path / "js" / "decisions.json").read_text(encoding="utf-8"))
    by_id = {d["order_id"]: d for d in doc["decisions"]}
    assert {oid: d["reason"] for oid, d in by_id.items()} == want
    split = by_id["O-SPLIT"]
    assert [(u["line_id"], u["reason"]) for u in split["unfilled"]] == [("2", "split_limit")]
    assert date.fromisoformat(split["shipments"][0]["promised_date"]) >= PLACED.date()
    assert all("substitutes" in u and u["reason_text"] for d in doc["decisions"] for u in d["unfilled"])
