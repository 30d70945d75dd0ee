"""The PostgreSQL ledger on a real server: the same entries as SQLite, turns that roll back,
readers that see other processes' changes, and clear errors for bad URLs."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from sourcewise.engine.durable import bare
from sourcewise.engine.ledger import StoreError
from sourcewise.engine.ledger import open_store
from sourcewise.engine.pgstore import PostgresStore
from sourcewise.engine.router import Router
from sourcewise.models import ValidationError
from tests.conftest import small_world
from tests.pg import fresh_database
from tests.pg import server_url

DAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def world():
    return small_world(20, 120, 900, 80, seed=3)


def _calls(r: Router, orders) -> None:
    """A bit of every kind of change."""
    for o in orders[:30]:
        r.route(o)
    r.release(orders[0].order_id)
    r.commit(orders[1].order_id)
    r.commit_many([orders[2].order_id, orders[3].order_id])
    node = r.decision(orders[4].order_id)
    if node.allocations:
        r.reroute(orders[4].order_id, node.allocations[0].node_id)
    r.adjust_stock(r.network.nodes[0].node_id, r.network.skus[0].sku, 5)
    r.set_business_day(date(2026, 3, 3))


def test_same_entries_as_sqlite(world, tmp_path):
    net, inv, orders = world
    pg, lite = fresh_database(), f"sqlite:///{tmp_path / 'ledger.db'}"
    for url in (pg, lite):
        with Router(net, inv, business_day=DAY, store=url) as r:
            _calls(r, orders)
    a, b = open_store(pg), open_store(lite)
    try:
        ea, eb = list(a.entries()), list(b.entries())
        assert [(e.seq, e.kind, e.order_id, e.why, e.body) for e in ea] == \
               [(e.seq, e.kind, e.order_id, e.why, e.body) for e in eb]
        for oid in (orders[0].order_id, orders[2].order_id, orders[4].order_id):
            assert [e.seq for e in a.history(oid)] == [e.seq for e in b.history(oid)]
            assert a.last(oid).seq == b.last(oid).seq
    finally:
        a.close()
        b.close()


def test_a_call_that_raises_leaves_no_entry_and_the_next_turn_goes_on(world):
    net, inv, orders = world
    url = fresh_database()
    with Router(net, inv, business_day=DAY, store=url) as r:
        r.route(orders[0])
        with pytest.raises(ValidationError):
            r.route_many([orders[1], orders[1]])  # a repeated id: refused as a whole
        with pytest.raises(ValueError):
            r.adjust_stock(net.nodes[0].node_id, net.skus[0].sku, 0.5)
        r.route(orders[2])
        kinds = [(e.seq, e.kind, e.order_id) for e in r._store.entries()]
    assert kinds == [(1, "route", orders[0].order_id), (2, "route", orders[2].order_id)]


def test_readers_see_the_other_process_at_once(world):
    net, inv, orders = world
    url = fresh_database()
    with Router(net, inv, business_day=DAY, store=url) as a, Router.recover(url) as b:
        d = bare(a.route(orders[5]))  # the ledger keeps decisions without their live explanation
        assert b.is_open(orders[5].order_id) and b.decision(orders[5].order_id) == d
        n = d.allocations[0].node_id if d.allocations else net.nodes[0].node_id
        assert b.capacity_left(n) == a.capacity_left(n)
        b.commit(orders[5].order_id)
        assert not a.is_open(orders[5].order_id)
        # committed: the ledger answers, with the decision's final state
        assert a.decision(orders[5].order_id) == msgspec.structs.replace(d, state="committed")
        assert (a.snapshot().on_hand == b.snapshot().on_hand).all()


def test_one_ledger_per_database(world):
    net, inv, _ = world
    url = fresh_database()
    with Router(net, inv, store=url):
        pass
    with pytest.raises(StoreError, match="already holds a ledger"):
        Router(net, inv, store=url)
    with pytest.raises(StoreError, match="holds no ledger"):
        Router.recover(fresh_database())


@pytest.mark.parametrize("url", ["postgresql://nobody@/nowhere?host=/nonexistent/socket/dir",
                                 "postgresql://postgres@/no_such_db?host={host}"])
def test_unreachable_or_missing_database_is_a_clear_store_error(url):
    host = server_url().split("host=", 1)[1]
    with pytest.raises(StoreError) as err:
        PostgresStore(url.format(host=host))
    msg = str(err.value)
    assert msg.startswith("cannot open PostgreSQL database") and "\n" not in msg.strip()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("bad_id", ["O-\x00-nul", "O-\ud800-lone-surrogate"])
def test_ids_a_ledger_cannot_keep_are_refused_and_change_nothing(world, tmp_path, kind, bad_id):
    net, inv, orders = world
    url = fresh_database() if kind == "postgresql" else f"sqlite:///{tmp_path / 'ledger.db'}"
    with Router(net, inv, business_day=DAY, store=url) as r:
        before = r.snapshot().reserved.copy()
        o = orders[6]
        bad = type(o)(**{**{f: getattr(o, f) for f in o.__struct_fields__}, "order_id": bad_id})
        with pytest.raises(ValidationError, match="the ledger cannot keep it"):
            r.route(bad)
        with pytest.raises(ValidationError, match="the ledger cannot keep it"):
            r.route_many([orders[7], bad])
        assert (r.snapshot().reserved == before).all() and not r.open_orders
        assert r.route(orders[8]).order_id == orders[8].order_id  # the router goes on
        assert [e.order_id for e in r._store.entries()] == [orders[8].order_id]


def test_a_promise_in_one_process_is_the_route_another_makes_next(world):
    """promise() reads the shared stock as a turn does: it answers what the next route will do, whichever
    process routes, and writes nothing to the ledger."""
    net, inv, orders = world
    url = fresh_database()
    with Router(net, inv, business_day=DAY, store=url) as a, Router.recover(url) as b:
        for o in orders[10:70]:
            p = b.promise(o)
            assert bare(p.ship) == bare(a.route(o)), o.order_id
        assert [e.kind for e in a._store.entries()] == ["route"] * 60


def test_reading_history_opens_read_only_and_creates_nothing(world):
    net, inv, orders = world
    empty = fresh_database()
    with pytest.raises(StoreError, match="holds no ledger"):
        PostgresStore(empty, readonly=True)
    with pytest.raises(StoreError, match="holds no ledger"):
        PostgresStore(empty, readonly=True)  # still nothing: the first look created no tables
    url = fresh_database()
    with Router(net, inv, business_day=DAY, store=url) as r:
        r.route(orders[0])
        reader = open_store(url, readonly=True)
        try:
            assert [e.kind for e in reader.entries()] == ["route"]
            with pytest.raises(StoreError, match="reading only"):
                reader.begin(0)
        finally:
            reader.close()
