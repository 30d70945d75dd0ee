"""The durable ledger: the SQLite store, recovery of every kind of change, idempotent ids, failures."""

from __future__ import annotations

import sqlite3
import threading
from datetime import date
from datetime import timedelta

import msgspec
import numpy as np
import pytest

from sourcewise.data.instances import build_orders
from sourcewise.engine.durable import bare
from sourcewise.engine.ledger import IdFilter
from sourcewise.engine.ledger import SQLiteStore
from sourcewise.engine.ledger import StoreError
from sourcewise.engine.ledger import parse_url
from sourcewise.engine.router import Router
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import ValidationError
from sourcewise.models.tables import OrderBatch
from tests.conftest import small_world

DAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def world():
    return small_world(25, 150, 1500, 300, seed=7)


def _url(tmp_path, name="ledger.db", **opts):
    q = "&".join(f"{k}={v}" for k, v in opts.items())
    return f"sqlite:///{tmp_path / name}" + (f"?{q}" if q else "")


def _state(r: Router) -> dict:
    """Everything recovery must restore, comparable with ==."""
    snap = r.snapshot()
    caps = [r.capacity_left(n.node_id) for n in r.network.nodes]
    opened = sorted(r.open_orders)
    return {"on_hand": snap.on_hand.tolist(), "reserved": snap.reserved.tolist(), "caps": caps,
            "open": opened, "day": r.business_day,
            "decisions": {oid: bare(r.decision(oid)) for oid in opened}}


def _batch(net, n, seed, prefix):
    b = build_orders(net, n, seed=seed)
    ids = np.array([f"{prefix}{x}" for x in b.order_id], dtype=object)
    return OrderBatch(**{**b.__dict__, "order_id": ids})


def test_url_forms(tmp_path):
    assert parse_url("sqlite:///ledger.db") == (parse_url("sqlite:///ledger.db")[0], "process")
    assert str(parse_url("sqlite:///rel/l.db")[0]) == "rel/l.db"
    assert str(parse_url("sqlite:////abs/l.db")[0]) == "/abs/l.db"
    assert parse_url("sqlite:///l.db?durability=fsync")[1] == "fsync"
    for bad in ("postgresql://x/y", "sqlite://host/l.db", "sqlite:///", "sqlite:///l.db?durability=often",
                "sqlite:///l.db?cache=1"):
        with pytest.raises(StoreError):
            parse_url(bad)


def test_every_kind_of_change_recovers_exactly(world, tmp_path):
    net, inv, orders = world
    url = _url(tmp_path)
    r = Router(net, inv, business_day=DAY, store=url)
    for o in orders[:120]:
        r.route(o)
    for o in orders[:30]:
        r.commit(o.order_id)
    for o in orders[30:45]:
        r.release(o.order_id)
    b = _batch(net, 150, 9, "B")
    r.route_many(b)
    r.commit_many(list(b.order_id[:60]))
    r.release(str(b.order_id[70]))
    r.adjust_stock(net.nodes[0].node_id, net.skus[0].sku, 7)
    r.adjust_stock_many(np.array([1, 2, 3]), np.array([2, -1, 0]))
    # a re-route of an open order rejected by the node it ships from
    d = r.decision(orders[50].order_id)
    r.reroute(orders[50].order_id, d.allocations[0].node_id)
    r.set_dual_prices(np.linspace(0.0, 1.0, inv.nnz))
    r.set_business_day(DAY + timedelta(days=1))
    for o in orders[120:160]:
        r.route(o)
    before = _state(r)
    r.close()
    with Router.recover(url) as back:
        assert _state(back) == before
        # committed orders answer from the ledger, with the decision they had
        assert back.decision(orders[0].order_id) is not None
        assert back.decision(str(b.order_id[0])).order_id == str(b.order_id[0])
        # released orders are gone (routing on afterwards: test_recovered_router_routes_like_one_that_never_stopped)
        assert back.decision(orders[31].order_id) is None


def test_recovered_router_routes_like_one_that_never_stopped(world, tmp_path):
    net, inv, orders = world
    url = _url(tmp_path)
    kept = Router(net, inv, business_day=DAY)
    r = Router(net, inv, business_day=DAY, store=url)
    for o in orders[:100]:
        kept.route(o)
        r.route(o)
    r.close()
    with Router.recover(url) as back:
        for o in orders[100:200]:
            assert bare(back.route(o)) == bare(kept.route(o))


def test_same_id_same_content_returns_the_decision_across_restarts(world, tmp_path):
    net, inv, orders = world
    url = _url(tmp_path)
    r = Router(net, inv, business_day=DAY, store=url)
    first = bare(r.route(orders[0]))
    r.commit(orders[0].order_id)
    r.route(orders[1])
    r.release(orders[1].order_id)
    r.close()
    with Router.recover(url) as back:
        snap = back.snapshot()
        again = back.route(orders[0])
        # the same decision, now saying it was committed
        assert again.state == "committed"
        assert bare(again) == msgspec.structs.replace(first, state="committed")
        assert (back.snapshot().reserved == snap.reserved).all()  # reserved nothing more
        # a released id may be routed again
        assert back.route(orders[1]).order_id == orders[1].order_id
        # other content under a spent id is refused, and changes nothing
        other = Order(orders[0].order_id, (OrderLine("x", net.skus[0].sku, 1),), 40.0, -75.0)
        snap = back.snapshot()
        with pytest.raises(ValidationError, match="different content"):
            back.route(other)
        assert (back.snapshot().reserved == snap.reserved).all()
        # a batch with a committed id is refused whole
        b = _batch(net, 5, 3, "Z")
        b = OrderBatch(**{**b.__dict__, "order_id": np.array([orders[0].order_id, "Z1", "Z2", "Z3", "Z4"],
                                                             dtype=object)})
        with pytest.raises(ValidationError, match="already committed"):
            back.route_many(b)
        assert "Z1" not in back.open_orders


def test_committed_orders_leave_memory(world, tmp_path):
    net, inv, orders = world
    with Router(net, inv, store=_url(tmp_path)) as r:
        for o in orders[:50]:
            r.route(o)
            r.commit(o.order_id)
        assert not r.open_orders
        assert not r._committed  # noqa: SLF001 - the point of the test: nothing kept per committed order
        assert r.decision(orders[10].order_id).order_id == orders[10].order_id


def test_history_says_what_changed_and_why(world, tmp_path):
    net, inv, orders = world
    with Router(net, inv, store=_url(tmp_path)) as r:
        d = r.route(orders[3])
        r.commit(orders[3].order_id)
        h = r.history(orders[3].order_id)
        assert [e.kind for e in h] == ["route", "commit"]
        assert h[0].seq < h[1].seq and h[0].at <= h[1].at
        assert "routed" in h[0].why and "committed" in h[1].why
        assert bare(h[0].decision) == bare(d)
        # the stock it reserved, then consumed, by node and SKU
        held = sorted((a.node_id, a.sku, a.qty) for a in d.allocations)
        assert sorted((n, s, r_) for n, s, _, r_ in h[0].stock) == held
        assert sorted((n, s, -oh) for n, s, oh, _ in h[1].stock) == held
        assert r.history("nobody") == []


def test_one_writer_per_ledger(world, tmp_path):
    net, inv, _ = world
    url = _url(tmp_path)
    with Router(net, inv, store=url):
        with pytest.raises(StoreError, match="in use"):
            Router.recover(url)
    # a new router refuses a store that already holds a ledger
    with pytest.raises(StoreError, match="already holds a ledger"):
        Router(net, inv, store=url)
    with pytest.raises(StoreError, match="holds no ledger"):
        Router.recover(_url(tmp_path, "empty.db"))


def test_closed_router_refuses_changes(world, tmp_path):
    net, inv, orders = world
    r = Router(net, inv, store=_url(tmp_path))
    r.route(orders[0])
    r.close()
    with pytest.raises(StoreError):
        r.route(orders[1])
    with pytest.raises(StoreError):
        r.release(orders[0].order_id)


def test_a_full_disk_fails_the_call_and_stops_changes(world, tmp_path):
    net, inv, orders = world
    url = _url(tmp_path)
    r = Router(net, inv, store=url)
    r.route(orders[0])
    r.close()
    # a real SQLite limit: the file may not grow past its current pages
    db = sqlite3.connect(tmp_path / "ledger.db")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    back = Router.recover(url)
    back._store._db.execute(f"PRAGMA max_page_count={pages}")  # noqa: SLF001 - simulating a full disk
    snap = back.snapshot()
    with pytest.raises(StoreError):
        for o in orders[1:200]:
            back.route(o)
            snap = back.snapshot()
    # the failing call changed nothing; later calls are refused until recovery
    assert (back.snapshot().reserved == snap.reserved).all()
    with pytest.raises(StoreError, match="recover"):
        back.route(orders[250])
    back.close()


def test_fsync_durability_with_concurrent_callers(world, tmp_path):
    net, inv, orders = world
    url = _url(tmp_path, durability="fsync")
    r = Router(net, inv, store=url)
    errors = []

    def work(part):
        try:
            for o in part:
                r.route(o)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(orders[i::4][:40],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    before = _state(r)
    r.close()
    with Router.recover(url) as back:
        assert _state(back) == before
        assert len(back.open_orders) == 160


def test_id_filter_never_forgets_and_agrees_with_itself():
    f = IdFilter(1 << 16)
    ids = [f"O-{i}" for i in range(3000)]
    f.add(ids[:1000])
    for x in ids[1000:1500]:
        f.add_one(x)
    for x in ids[1500:2000]:
        assert not f.check_add(x) or f.maybe_one(x)
    assert f.maybe(ids[:2000]).all()
    assert all(f.maybe_one(x) for x in ids[:2000])
    assert [f.maybe_one(x) for x in ids[2000:]] == f.maybe(ids[2000:]).tolist()
    assert f.maybe(ids[2000:]).mean() < 0.2
    with pytest.raises(ValueError):
        IdFilter(1000)


def test_readonly_store_reads_while_the_router_writes(world, tmp_path):
    net, inv, orders = world
    url = _url(tmp_path)
    with Router(net, inv, store=url) as r:
        r.route(orders[0])
        ro = SQLiteStore(url, readonly=True)
        try:
            assert [e.kind for e in ro.history(orders[0].order_id)] == ["route"]
        finally:
            ro.close()


@pytest.mark.parametrize("seed", range(3))
def test_reoptimized_plans_recover(tmp_path, seed):
    from sourcewise.engine.optimize import reoptimize
    from tests.engine.optimize.support import PENALTY
    from tests.engine.optimize.support import contested

    net, inv, orders = contested(seed, n_nodes=4, n_orders=6)
    url = _url(tmp_path)
    r = Router(net, inv, store=url)
    for o in orders:
        r.route(o, strategy="nearest")
    result = reoptimize(r, time_limit=5, unfilled_penalty=PENALTY)
    before = _state(r)
    kinds = [e.kind for e in r.history(orders[0].order_id)]
    r.close()
    assert ("swap" in kinds) == result.applied
    with Router.recover(url) as back:
        assert _state(back) == before
        for o in orders:  # the swapped reservations give back exactly what they hold
            back.release(o.order_id)
        assert back.snapshot().reserved.tolist() == inv.reserved.tolist()
