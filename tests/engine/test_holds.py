"""Holds: reservations that expire by themselves under an injected clock, confirm into plain
reservations, and keep their expiry through recovery (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sourcewise.engine.clock import ManualClock
from sourcewise.engine.expiry import HoldError
from sourcewise.engine.router import Router
from tests.conftest import small_world
from tests.pg import fresh_database

TTL = 900.0


@pytest.fixture(scope="module")
def world():
    return small_world(20, 100, 800, 60, seed=5)


def _books(r: Router) -> tuple[list[int], list[int], list[str]]:
    snap = r.snapshot()
    return snap.reserved.tolist(), snap.on_hand.tolist(), sorted(r.open_orders)


def _wait_until(cond, timeout=10.0) -> bool:
    """The expiry thread works on its own: give it a moment (it needs milliseconds)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def _url(kind: str, tmp_path) -> str | None:
    return {"memory": None, "sqlite": f"sqlite:///{tmp_path / 'ledger.db'}"}.get(kind) or fresh_database()


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgresql"])
def test_a_hold_expires_on_time_and_gives_back_exactly_its_stock(world, tmp_path, kind):
    net, inv, orders = world
    clock = ManualClock()
    with Router(net, inv, clock=clock, store=_url(kind, tmp_path)) as r:
        before = _books(r)
        o = orders[0]
        d = r.hold(o, TTL)
        assert sum(a.qty for a in d.allocations) > 0
        assert r.hold_expiry(o.order_id) == clock.now() + TTL
        held = _books(r)
        assert held[0] != before[0]
        clock.advance(TTL - 0.5)
        time.sleep(0.05)  # the thread had its chance: nothing is due yet
        assert r.is_open(o.order_id) and _books(r) == held
        clock.advance(0.5)  # exactly at expiry
        assert _wait_until(lambda: not r.is_open(o.order_id))
        assert _books(r) == before
        assert r.hold_expiry(o.order_id) is None
        if kind != "memory":
            assert [e.kind for e in r.history(o.order_id)] == ["route", "expire"]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_confirm_turns_a_hold_into_a_reservation_that_stays(world, tmp_path, kind):
    net, inv, orders = world
    clock = ManualClock()
    with Router(net, inv, clock=clock, store=_url(kind, tmp_path)) as r:
        a, b = orders[1], orders[2]
        da = r.hold(a, TTL)
        r.hold(b, TTL)
        assert r.confirm(a.order_id) == da
        with pytest.raises(HoldError):
            r.confirm(a.order_id)  # confirmed once: no hold any more
        r.extend(b.order_id, 3 * TTL)
        assert r.hold_expiry(b.order_id) == clock.now() + 3 * TTL
        clock.advance(2 * TTL)
        time.sleep(0.05)
        assert r.is_open(a.order_id) and r.is_open(b.order_id)
        clock.advance(TTL)
        assert _wait_until(lambda: not r.is_open(b.order_id))
        assert r.is_open(a.order_id)
        r.commit(a.order_id)  # a confirmed hold commits like any order


def test_release_and_commit_end_a_hold(world):
    net, inv, orders = world
    clock = ManualClock()
    with Router(net, inv, clock=clock) as r:
        before = _books(r)
        r.hold(orders[3], TTL)
        r.hold(orders[4], TTL)
        r.release(orders[3].order_id)
        r.commit(orders[4].order_id)
        assert r.holds == {}
        clock.advance(2 * TTL)
        assert r.expire_holds() == []
        reserved, on_hand, opened = _books(r)
        assert reserved == before[0] and opened == []
        assert sum(on_hand) < sum(before[1])  # the committed one shipped


def test_bad_ttl_and_unknown_holds_change_nothing(world):
    net, inv, orders = world
    with Router(net, inv, clock=ManualClock()) as r:
        r.hold(orders[5], TTL)
        before = (_books(r), r.holds)
        for ttl in (0, -1, float("nan"), float("inf"), "ten", None):
            with pytest.raises(ValueError, match="ttl"):
                r.hold(orders[6], ttl)
            with pytest.raises(ValueError, match="ttl"):
                r.extend(orders[5].order_id, ttl)
        with pytest.raises(HoldError):
            r.confirm("no-such-order")
        with pytest.raises(HoldError):
            r.extend("no-such-order", TTL)
        assert (_books(r), r.holds) == before


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_holds_survive_recovery_with_their_expiry(world, tmp_path, kind):
    net, inv, orders = world
    url = _url(kind, tmp_path)
    clock = ManualClock()
    with Router(net, inv, clock=clock, store=url) as r:
        start = _books(r)
        r.hold(orders[7], TTL)
        r.hold(orders[8], 2 * TTL)
        r.hold(orders[9], TTL)
        r.confirm(orders[9].order_id)
        holds, books = r.holds, _books(r)
    # the new process starts after the first hold's expiry, before the second's
    clock2 = ManualClock(clock.now() + 1.5 * TTL)
    with Router.recover(url, clock=clock2) as r2:
        assert _wait_until(lambda: not r2.is_open(orders[7].order_id))
        assert r2.holds == {orders[8].order_id: holds[orders[8].order_id]}
        assert r2.is_open(orders[9].order_id)
        clock2.advance(TTL)
        assert _wait_until(lambda: not r2.is_open(orders[8].order_id))
        r2.release(orders[9].order_id)
        assert _books(r2) == start
    assert books != start


def test_a_hold_placed_by_one_process_expires_in_another(world):
    """Two routers on one PostgreSQL ledger: either one's expiry thread gives the stock back, once."""
    net, inv, orders = world
    url = fresh_database()
    ca, cb = ManualClock(), ManualClock()
    with Router(net, inv, clock=ca, store=url) as a:
        before = _books(a)
        with Router.recover(url, clock=cb) as b:
            a.hold(orders[10], TTL)
            assert b.hold_expiry(orders[10].order_id) == ca.now() + TTL  # b sees it
            ca.advance(2 * TTL)
            cb.advance(2 * TTL)
            assert _wait_until(lambda: not a.is_open(orders[10].order_id) and not b.is_open(orders[10].order_id))
            assert _books(a) == _books(b) == before
            kinds = [e.kind for e in a.history(orders[10].order_id)]
            assert kinds == ["route", "expire"]  # released once, by whichever thread came first


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["hold", "confirm", "release", "advance"]), st.integers(0, 11),
                          st.floats(1, 3 * TTL)), min_size=1, max_size=25))
def test_after_expiry_no_due_hold_remains_and_books_add_up(world, steps):
    """Random holds, confirms, releases and clock moves: once expire_holds() ran, every hold left
    is in the future, and the reservations are exactly what the open orders hold."""
    net, inv, orders = world
    clock = ManualClock()
    with Router(net, inv, clock=clock) as r:
        expiry: dict[str, float] = {}  # the model
        for op, i, x in steps:
            oid = orders[i].order_id
            if op == "hold":
                if not r.is_open(oid):
                    r.hold(orders[i], x)
                    expiry[oid] = clock.now() + x
            elif op == "confirm" and oid in expiry:
                r.confirm(oid)
                del expiry[oid]
            elif op == "release" and r.is_open(oid):
                r.release(oid)
                expiry.pop(oid, None)
            elif op == "advance":
                clock.advance(x)
                r.expire_holds()
                for k in [k for k, t in expiry.items() if t <= clock.now()]:
                    del expiry[k]
                    assert not r.is_open(k)
            assert r.holds == expiry
            assert all(t > clock.now() for t in r.holds.values())
            held = np.zeros(inv.nnz, np.int64)
            holdings, view = r.holdings()
            for h in holdings:
                np.add.at(held, h.entries, h.qty)
            assert (held == view.reserved - inv.reserved).all()
