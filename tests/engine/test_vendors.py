"""Vendor offers, the HTTP vendor gateway and time-bounded availability checks.

The HTTP tests talk to real local servers (tests/engine/vendor_server.py) that
trickle, hang, redirect and flood; no mock stands in for HTTP.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
import trustme
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine.vendors import HttpVendorGateway
from sourcewise.engine.vendors import VendorError
from sourcewise.engine.vendors import VendorGateway
from sourcewise.engine.vendors import VendorOffers
from sourcewise.engine.vendors import VendorTimeout
from sourcewise.engine.vendors import check_vendors
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Sku
from sourcewise.models import ValidationError
from tests.engine.vendor_server import Behaviour
from tests.engine.vendor_server import VendorServer
from tests.engine.vendor_server import error
from tests.engine.vendor_server import hang
from tests.engine.vendor_server import huge
from tests.engine.vendor_server import malformed
from tests.engine.vendor_server import ok
from tests.engine.vendor_server import redirect
from tests.engine.vendor_server import slow
from tests.engine.vendor_server import trickle_body
from tests.engine.vendor_server import trickle_headers

TIMEOUT = 0.2
# Generous: the bound being tested is "returns near the timeout, not after the
# slowest vendor", and a loaded 2-core CI box must not make it flaky.
SLACK = 0.5


@pytest.fixture(scope="module")
def net() -> Network:
    nodes = [
        Node("W1", "warehouse", 40.0, -75.0),
        Node("V1", "vendor", 41.0, -74.0, fee_rate=0.1),
        Node("S1", "store", 40.5, -74.5),
        Node("V2", "vendor", 34.0, -118.0),
        Node("V3", "vendor", 47.6, -122.3),
    ]
    return Network.build(nodes, [Sku(s, 1.0, 20.0) for s in ("A", "B", "C", "D")])


def _offers_frame(**overrides) -> pd.DataFrame:
    df = pd.DataFrame({
        "node_id": ["V2", "V1", "V1", "V3"],
        "sku": ["A", "A", "C", "C"],
        "price": [9.5, 10.0, 3.0, 2.5],
        "fee_rate": [0.15, 0.1, 0.0, 0.2],
        "lead_days": [2, 1, 0, 4],
    })
    for k, v in overrides.items():
        df[k] = v
    return df


# --------------------------------------------------------------------------- offers


def test_from_frame_builds_sorted_columns_with_default_reliability(net):
    offers = VendorOffers.from_frame(net, _offers_frame())
    assert len(offers) == 4
    v1, v2, v3 = (net.node_index[v] for v in ("V1", "V2", "V3"))
    a, c = net.sku_index["A"], net.sku_index["C"]
    # canonical order: by SKU, then node
    assert offers.sku.tolist() == [a, a, c, c]
    assert offers.node.tolist() == [v1, v2, v1, v3]
    assert offers.reliability.tolist() == [1.0] * 4
    assert offers.node.dtype == np.int64 and offers.lead_days.dtype == np.int64
    assert not offers.price.flags.writeable
    j = offers.lookup(v2, a)
    assert (offers.price[j], offers.fee_rate[j], offers.lead_days[j]) == (9.5, 0.15, 2)
    np.testing.assert_allclose(offers.landed_unit_cost()[j], 9.5 * 1.15)


def test_reliability_column_with_blank_cells_defaults_to_one(net):
    offers = VendorOffers.from_frame(net, _offers_frame(reliability=[0.9, None, "", 0.5]))
    j = offers.lookup(net.node_index["V2"], net.sku_index["A"])
    assert offers.reliability[j] == 0.9
    assert sorted(offers.reliability.tolist()) == [0.5, 0.9, 1.0, 1.0]


def test_lookup_and_vendors_for(net):
    offers = VendorOffers.from_frame(net, _offers_frame())
    v1, v3, w1 = net.node_index["V1"], net.node_index["V3"], net.node_index["W1"]
    a, b, c = (net.sku_index[s] for s in "ABC")
    assert offers.lookup(v1, b) == -1
    assert offers.lookup(w1, a) == -1
    assert offers.lookup(-1, a) == -1 and offers.lookup(v1, -1) == -1
    assert offers.lookup(v1, 99) == -1
    assert offers.vendors_for(a).tolist() == sorted([v1, net.node_index["V2"]])
    assert offers.vendors_for(c).tolist() == [v1, v3]
    assert offers.vendors_for(b).tolist() == []
    assert offers.vendors_for(99).tolist() == []
    got = offers.lookup_many([v1, v1, v3, w1, -1], [a, b, c, a, a])
    assert got.tolist() == [offers.lookup(v1, a), -1, offers.lookup(v3, c), -1, -1]


def test_empty_offers():
    e = VendorOffers.empty()
    assert len(e) == 0
    assert e.lookup(0, 0) == -1
    assert e.vendors_for(0).tolist() == []
    assert e.lookup_many([0, 1], [0, 0]).tolist() == [-1, -1]


def test_validation_lists_every_bad_row_in_one_error(net):
    df = pd.DataFrame({
        "node_id": ["V1", "W1", "nope", "V2", "V1", "", "V3", "V3", "V2"],
        "sku":     ["A", "A", "A", "Z", "A", "B", "B", "C", "D"],
        "price":   [1.0, 1.0, 1.0, 1.0, 2.0, -1.0, float("nan"), "abc", 1.0],
        "fee_rate": [0.1, 0.1, 0.1, 0.1, 0.1, 1.0, -0.1, 0.5, 0.0],
        "lead_days": [1, 1, 1, 1, 1, 1.5, -2, 1, None],
        "reliability": [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.5, -0.2, float("inf")],
    })
    with pytest.raises(ValidationError) as info:
        VendorOffers.from_frame(net, df)
    found = {(p.row, p.field) for p in info.value.problems}
    assert all(p.table == "vendor_offers" for p in info.value.problems)
    assert found == {
        (1, "node_id"),                       # W1 is a warehouse
        (2, "node_id"),                       # unknown node
        (3, "sku"),                           # unknown sku
        (4, "node_id/sku"),                   # repeats row 0
        (5, "node_id"), (5, "price"), (5, "fee_rate"), (5, "lead_days"), (5, "reliability"),
        (6, "price"), (6, "fee_rate"), (6, "lead_days"), (6, "reliability"),
        (7, "price"), (7, "reliability"),
        (8, "lead_days"), (8, "reliability"),
    }
    reasons = {(p.row, p.field): p.reason for p in info.value.problems}
    assert "not a vendor" in reasons[(1, "node_id")]
    assert "first at row 0" in reasons[(4, "node_id/sku")]
    assert "[0, 1)" in reasons[(5, "fee_rate")]
    assert "(0, 1]" in reasons[(5, "reliability")]
    assert str(info.value).startswith("17 invalid values")


def test_validation_rejects_boolean_numbers(net):
    with pytest.raises(ValidationError) as info:
        VendorOffers.from_frame(net, _offers_frame(price=[True, 1.0, 1.0, 1.0]))
    assert [(p.row, p.field) for p in info.value.problems] == [(0, "price")]


def test_missing_columns_reported_together(net):
    with pytest.raises(ValidationError) as info:
        VendorOffers.from_frame(net, pd.DataFrame({"node_id": ["V1"], "sku": ["A"], "price": [1.0]}))
    assert {(p.row, p.field) for p in info.value.problems} == {(None, "fee_rate"), (None, "lead_days")}


def test_empty_frame_gives_empty_offers(net):
    offers = VendorOffers.from_frame(net, _offers_frame().iloc[:0])
    assert len(offers) == 0


def test_direct_construction_rejects_duplicates_and_ragged_columns():
    i, f = np.array([1, 1]), np.array([1.0, 1.0])
    with pytest.raises(ValueError, match="duplicate"):
        VendorOffers(i, np.array([0, 0]), f, f, i, f)
    with pytest.raises(ValueError, match="equal lengths"):
        VendorOffers(i, np.array([0]), f, f, i, f)


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 30)), max_size=60, unique=True),
       st.lists(st.tuples(st.integers(-2, 45), st.integers(-2, 35)), max_size=30))
def test_lookup_and_vendors_for_match_a_dict(pairs, probes):
    n = len(pairs)
    node = np.array([p[0] for p in pairs], np.int64)
    sku = np.array([p[1] for p in pairs], np.int64)
    price = np.arange(n, dtype=np.float64)  # row identity survives the sort
    offers = VendorOffers(node, sku, price, np.zeros(n), np.zeros(n, np.int64), np.ones(n))
    truth = {p: float(i) for i, p in enumerate(pairs)}
    for nd, sk in probes + pairs[:10]:
        j = offers.lookup(nd, sk)
        assert (j >= 0) == ((nd, sk) in truth)
        if j >= 0:
            assert offers.price[j] == truth[(nd, sk)]
        assert offers.vendors_for(sk).tolist() == sorted(x for x, s in pairs if s == sk)
    if probes:
        pn, ps = np.array(probes).T
        assert offers.lookup_many(pn, ps).tolist() == [offers.lookup(a, b) for a, b in probes]


# --------------------------------------------------------------------------- HTTP gateway


@pytest.fixture(scope="module")
def server():
    behaviours = {
        "V1": ok({"A": 3, "B": 0, "C": 7}),
        "V2": slow(3.0, {"A": 1}),
        "V3": error(500),
        "V4": malformed(),
        "V5": malformed(b'{"availability": {"A": -1, "B": 2.5, "C": true}}'),
        "V6": malformed(b'{"stock": {"A": 1}}'),
        "V7": malformed(b'{"availability": {"A": 1, "ZZ": 4}}'),
        "V8": Behaviour(stock={"A 1&x": 2, "A": 5}),
        "V9": error(503),
    }
    with VendorServer(behaviours) as srv:
        yield srv


def test_http_gateway_parses_real_responses(server):
    gw = HttpVendorGateway(server.base_urls)
    assert isinstance(gw, VendorGateway)
    got = gw.availability("V1", ["A", "B", "C", "D", "A"], timeout=2.0)
    # D was not in the answer: read as 0; A asked once even though repeated
    assert got == {"A": 3, "B": 0, "C": 7, "D": 0}
    assert ("V1", ["A", "B", "C", "D"]) in server.requests
    assert gw.url("V1", ["A", "B"]).endswith("/V1/availability?skus=A,B")


def test_http_gateway_escapes_sku_ids(server):
    gw = HttpVendorGateway(server.base_urls)
    assert gw.availability("V8", ["A 1&x", "A"], timeout=2.0) == {"A 1&x": 2, "A": 5}
    assert gw.availability("V8", [], timeout=2.0) == {}


@pytest.mark.parametrize(("vendor", "reason"), [
    ("V3", "HTTP 500"),
    ("V9", "HTTP 503"),
    ("V4", "bad payload: not JSON"),
    ("V5", "bad payload: 'A' must be >= 0"),
    ("V6", 'bad payload: expected an object with key "availability"'),
    ("V7", "bad payload: unrequested sku 'ZZ'"),
])
def test_http_gateway_rejects_failures_and_bad_shapes(server, vendor, reason):
    gw = HttpVendorGateway(server.base_urls)
    with pytest.raises(VendorError) as info:
        gw.availability(vendor, ["A", "B", "C"], timeout=2.0)
    assert str(info.value).startswith(reason)


def test_http_gateway_bad_payload_names_each_problem(server):
    with pytest.raises(VendorError) as info:
        HttpVendorGateway(server.base_urls).availability("V5", ["A", "B", "C"], timeout=2.0)
    msg = str(info.value)
    assert "'B' must be an integer, got 2.5" in msg and "'C' must be an integer, got True" in msg


def test_http_gateway_times_out(server):
    gw = HttpVendorGateway(server.base_urls)
    t0 = time.monotonic()
    with pytest.raises(VendorError, match=r"^timeout after 0\.20 s$"):
        gw.availability("V2", ["A"], timeout=TIMEOUT)
    assert time.monotonic() - t0 < TIMEOUT + SLACK


def test_http_gateway_unreachable_and_unknown_vendor():
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = HttpVendorGateway({"V1": f"http://127.0.0.1:{port}"})
    with pytest.raises(VendorError, match="^unreachable"):
        gw.availability("V1", ["A"], timeout=1.0)
    with pytest.raises(VendorError, match="no endpoint"):
        gw.availability("V2", ["A"], timeout=1.0)
    with pytest.raises(VendorError, match="must not contain ','"):
        gw.availability("V1", ["A,B"], timeout=1.0)
    with pytest.raises(ValueError, match="absolute"):
        HttpVendorGateway({"V1": "127.0.0.1:80"})


def test_http_gateway_rejects_oversized_body(server):
    gw = HttpVendorGateway(server.base_urls, max_bytes=8)
    with pytest.raises(VendorError, match="larger than 8 bytes"):
        gw.availability("V1", ["A"], timeout=2.0)


# --------------------------------------------------------------------------- check_vendors


def test_check_vendors_keeps_good_vendors_and_records_the_rest(server):
    gw = HttpVendorGateway(server.base_urls)
    requests = {v: ["A", "B"] for v in ("V1", "V2", "V3", "V4", "V5", "V7")}
    requests["V0"] = []  # nothing to ask: no call, nothing available
    t0 = time.monotonic()
    check = check_vendors(gw, requests, timeout=TIMEOUT)
    wall = time.monotonic() - t0
    assert wall < TIMEOUT + SLACK  # not the slow vendor's 3 s
    assert check.elapsed <= wall
    assert check.available == {"V1": {"A": 3, "B": 0}, "V0": {}}
    assert check.failures["V2"] == "timeout after 0.20 s"
    assert check.failures["V3"] == "HTTP 500"
    assert check.failures["V4"].startswith("bad payload")
    assert check.failures["V5"].startswith("bad payload")
    assert check.failures["V7"].startswith("bad payload: unrequested sku")
    assert set(check.available) | set(check.failures) == set(requests)
    assert not set(check.available) & set(check.failures)
    assert check.units("V1", "A") == 3 and check.units("V2", "A") == 0 and check.units("V1", "Z") == 0


class _StubbornGateway:
    """In-process gateway that ignores its timeout (a blocking call without one).

    ``release`` lets the test free the stuck threads at the end.
    """

    def __init__(self, answers: dict[str, object], stuck: set[str]):
        self.answers, self.stuck = answers, stuck
        self.release = threading.Event()
        self.calls: list[tuple[str, float]] = []

    def availability(self, vendor_id, skus, timeout):
        self.calls.append((vendor_id, timeout))
        if vendor_id in self.stuck:
            self.release.wait(10)
        answer = self.answers.get(vendor_id)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_check_vendors_does_not_wait_for_a_gateway_that_ignores_its_timeout():
    gw = _StubbornGateway({"good": {"A": 2}, "stuck": {"A": 9}}, stuck={"stuck"})
    try:
        t0 = time.monotonic()
        check = check_vendors(gw, {"good": ["A"], "stuck": ["A"]}, timeout=TIMEOUT)
        assert time.monotonic() - t0 < TIMEOUT + SLACK
    finally:
        gw.release.set()
    assert check.available == {"good": {"A": 2}}
    assert check.failures == {"stuck": "timeout after 0.20 s"}


def test_check_vendors_with_fewer_workers_than_vendors_stays_bounded():
    # One worker: the stuck vendor holds it, so the others never start in time.
    gw = _StubbornGateway({v: {"A": 1} for v in ("a", "b", "c")}, stuck={"a"})
    try:
        t0 = time.monotonic()
        check = check_vendors(gw, {"a": ["A"], "b": ["A"], "c": ["A"]}, timeout=TIMEOUT, max_workers=1)
        assert time.monotonic() - t0 < TIMEOUT + SLACK
    finally:
        gw.release.set()
    assert check.available == {}
    assert set(check.failures) == {"a", "b", "c"}
    assert all(r == "timeout after 0.20 s" for r in check.failures.values())


def test_check_vendors_passes_remaining_time_and_serialises_with_one_worker():
    gw = _StubbornGateway({v: {"A": i} for i, v in enumerate("abc")}, stuck=set())
    check = check_vendors(gw, {v: ["A"] for v in "abc"}, timeout=1.0, max_workers=1)
    assert check.available == {"a": {"A": 0}, "b": {"A": 1}, "c": {"A": 2}}
    timeouts = [t for _, t in gw.calls]
    assert all(0 < t <= 1.0 for t in timeouts) and timeouts == sorted(timeouts, reverse=True)


def test_check_vendors_never_raises_for_vendor_failures():
    gw = _StubbornGateway({
        "boom": RuntimeError("socket on fire"),
        "late": TimeoutError(),
        "later": VendorTimeout("timeout after 0.03 s"),  # its share of the time, not ours
        "vendor": VendorError("HTTP 502"),
        "none": None,
        "neg": {"A": -3},
        "str": {"A": "3"},
        "fine": {"A": np.int64(4)},
    }, stuck=set())
    check = check_vendors(gw, {v: ["A"] for v in gw.answers}, timeout=1.0)
    assert check.available == {"fine": {"A": 4}}
    assert type(check.available["fine"]["A"]) is int
    assert check.failures["boom"] == "error: RuntimeError: socket on fire"
    assert check.failures["late"] == check.failures["later"] == "timeout after 1.00 s"
    assert check.failures["vendor"] == "HTTP 502"
    assert check.failures["none"].startswith("bad payload")
    assert check.failures["neg"] == "bad payload: 'A' must be >= 0, got -3"
    assert check.failures["str"].startswith("bad payload: 'A' must be an integer")


def test_check_vendors_argument_errors_and_empty_request():
    gw = _StubbornGateway({}, stuck=set())
    empty = check_vendors(gw, {}, timeout=0.1)
    assert (empty.available, empty.failures) == ({}, {})
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout"):
            check_vendors(gw, {"a": ["A"]}, timeout=bad)
    with pytest.raises(ValueError, match="max_workers"):
        check_vendors(gw, {"a": ["A"]}, timeout=0.1, max_workers=0)
    assert gw.calls == []


# --------------------------------------------------------------------------- one deadline, no threads

# A misbehaving vendor must cost no more than the deadline plus this; generous
# for a loaded 2-core box, still far below what trickling used to cost (seconds).
DEADLINE = 0.3
DEADLINE_SLACK = 0.25


@contextmanager
def no_thread_left_behind():
    """Assert that the block starts no thread that outlives it."""
    count, before = threading.active_count(), set(threading.enumerate())
    yield
    assert set(threading.enumerate()) == before
    assert threading.active_count() == count


@pytest.fixture(scope="module")
def target():
    """A healthy vendor that redirects point to: it must never be asked."""
    with VendorServer({"T": ok({"A": 5})}) as srv:
        yield srv


@pytest.fixture(scope="module")
def rogue(target):
    where = target.url_for("T") + "/availability?skus=A"
    behaviours = {
        "trickle-body": trickle_body(0.05, {"A": 1}),
        "trickle-head": trickle_headers(0.05, {"A": 1}),
        "hang": hang(),
        "hang-2": hang(),
        "hang-3": hang(),
        "fine": ok({"A": 4}),
        "r301": redirect(where, 301),
        "r302": redirect(where, 302),
        "r307": redirect(where, 307),
        "huge-length": huge(64 << 20, "length"),
        "huge-close": huge(8 << 20, "close"),
        "huge-chunked": huge(8 << 20, "chunked"),
    }
    with VendorServer(behaviours) as srv:
        yield srv


@pytest.fixture
def full_backlog():
    """URL of a listener whose accept queue is full: a new connect never completes."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        # Connect until one stays pending: Linux queues backlog + 1 connections.
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            fillers.append(s)
            s.connect_ex(("127.0.0.1", port))
            _, writable, _ = select.select([], [s], [], 0.2)
            if not writable:
                break
        else:
            pytest.skip("this kernel completes connects to a full accept queue")
        yield f"http://127.0.0.1:{port}"
    finally:
        for s in fillers:
            s.close()
        listener.close()


def _timed_check(gw, requests, timeout=DEADLINE, **kwargs):
    t0 = time.monotonic()
    with no_thread_left_behind():
        check = check_vendors(gw, requests, timeout=timeout, **kwargs)
    return check, time.monotonic() - t0


@pytest.mark.parametrize(("vendor", "reason"), [
    ("trickle-body", "timeout after 0.30 s"),
    ("trickle-head", "timeout after 0.30 s"),
    ("hang", "timeout after 0.30 s"),
    ("huge-length", "bad payload: response larger than 1048576 bytes"),
    ("huge-close", "bad payload: response larger than 1048576 bytes"),
    ("huge-chunked", "bad payload: response larger than 1048576 bytes"),
])
def test_misbehaving_vendor_ends_within_the_deadline_and_leaves_no_thread(rogue, vendor, reason):
    check, wall = _timed_check(HttpVendorGateway(rogue.base_urls), {vendor: ["A"], "fine": ["A"]})
    assert wall < DEADLINE + DEADLINE_SLACK
    assert check.failures == {vendor: reason}
    assert check.available == {"fine": {"A": 4}}


@pytest.mark.parametrize("vendor", ["trickle-body", "trickle-head", "hang"])
def test_gateway_call_alone_is_bounded_by_one_deadline(rogue, vendor):
    gw = HttpVendorGateway(rogue.base_urls)
    t0 = time.monotonic()
    with no_thread_left_behind(), pytest.raises(VendorTimeout, match=r"^timeout after 0\.30 s$"):
        gw.availability(vendor, ["A"], timeout=DEADLINE)
    assert time.monotonic() - t0 < DEADLINE + DEADLINE_SLACK


def test_connect_that_never_completes_times_out(full_backlog):
    check, wall = _timed_check(HttpVendorGateway({"V": full_backlog}), {"V": ["A"]})
    assert wall < DEADLINE + DEADLINE_SLACK
    assert check.failures == {"V": "timeout after 0.30 s"}


@pytest.mark.parametrize("status", [301, 302, 307])
def test_redirects_are_failures_and_never_followed(rogue, target, status):
    vendor = f"r{status}"
    check, wall = _timed_check(HttpVendorGateway(rogue.base_urls), {vendor: ["A"]})
    assert check.failures == {vendor: f"HTTP {status}: redirects are not followed"}
    assert wall < DEADLINE + DEADLINE_SLACK
    assert target.requests == []
    # The target would have answered: asked directly, it does.
    assert HttpVendorGateway(target.base_urls).availability("T", ["A"], timeout=2.0) == {"A": 5}
    assert target.requests == [("T", ["A"])]
    target.requests.clear()


def test_hanging_vendors_are_checked_concurrently(rogue):
    hanging = ["hang", "hang-2", "hang-3"]
    seen = len(rogue.requests)
    check, wall = _timed_check(HttpVendorGateway(rogue.base_urls), {v: ["A"] for v in hanging})
    # One after another would take 3 x 0.3 s.
    assert wall < DEADLINE + DEADLINE_SLACK
    assert check.failures == {v: "timeout after 0.30 s" for v in hanging}
    # All three requests were sent, so all three were in flight at once. The
    # server logs them on its own thread: give it a moment on a busy machine.
    until = time.monotonic() + 2.0
    while len(rogue.requests) < seen + 3 and time.monotonic() < until:
        time.sleep(0.01)
    assert sorted(v for v, _ in rogue.requests[seen:]) == hanging


def test_http_check_with_fewer_connections_than_vendors_stays_bounded(rogue):
    # One connection at a time: the hanging vendor holds it, the healthy one never starts.
    gw = HttpVendorGateway(rogue.base_urls)
    check, wall = _timed_check(gw, {"hang": ["A"], "fine": ["A"]}, max_workers=1)
    assert wall < DEADLINE + DEADLINE_SLACK
    assert check.failures == {"hang": "timeout after 0.30 s", "fine": "timeout after 0.30 s"}
    check, _ = _timed_check(gw, {"fine": ["A"], "hang": ["A"]}, max_workers=1)
    assert check.available == {"fine": {"A": 4}}


def test_check_vendors_on_threads_leaves_no_thread_when_the_gateway_returns():
    gw = _StubbornGateway({v: {"A": 1} for v in "abcd"}, stuck=set())
    check, _ = _timed_check(gw, {v: ["A"] for v in "abcd"}, timeout=2.0, max_workers=2)
    assert check.available == {v: {"A": 1} for v in "abcd"}


def test_gateway_subclass_overriding_availability_is_still_called(server):
    class Counting(HttpVendorGateway):
        calls = 0

        def availability(self, vendor_id, skus, timeout):
            Counting.calls += 1
            return super().availability(vendor_id, skus, timeout)

    check = check_vendors(Counting(server.base_urls), {"V1": ["A"]}, timeout=2.0)
    assert check.available == {"V1": {"A": 3}} and Counting.calls == 1


# --------------------------------------------------------------------------- TLS, names, options


@pytest.fixture(scope="module")
def tls():
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with VendorServer({"S": ok({"A": 6}), "S-hang": hang()}, ssl_context=server_ctx) as srv:
        yield srv, client_ctx


def test_https_vendor_answers_through_a_non_blocking_handshake(tls):
    srv, client_ctx = tls
    gw = HttpVendorGateway(srv.base_urls, ssl_context=client_ctx)
    assert srv.base_urls["S"].startswith("https://")
    with no_thread_left_behind():
        assert gw.availability("S", ["A", "B"], timeout=2.0) == {"A": 6, "B": 0}
    check, wall = _timed_check(gw, {"S": ["A"], "S-hang": ["A"]})
    assert check.available == {"S": {"A": 6}}
    assert check.failures == {"S-hang": "timeout after 0.30 s"}
    assert wall < DEADLINE + DEADLINE_SLACK


def test_https_with_an_untrusted_certificate_is_unreachable(tls):
    srv, _ = tls
    with pytest.raises(VendorError, match="^unreachable: .*CERTIFICATE_VERIFY_FAILED"):
        HttpVendorGateway(srv.base_urls).availability("S", ["A"], timeout=2.0)


def test_tls_handshake_that_never_completes_times_out(rogue):
    # A plain-HTTP server waiting for a request line never answers a ClientHello.
    gw = HttpVendorGateway({"V": rogue.url_for("fine").replace("http://", "https://")})
    check, wall = _timed_check(gw, {"V": ["A"]})
    assert wall < DEADLINE + DEADLINE_SLACK
    assert check.failures == {"V": "timeout after 0.30 s"}


def test_host_names_are_resolved_when_built_not_during_a_check(server, monkeypatch):
    gw = HttpVendorGateway({"V1": f"http://localhost:{server.port}/V1"})

    def no_dns(*args, **kwargs):
        raise AssertionError("getaddrinfo called during a check")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    # localhost may list ::1 first, where nothing listens: the next address is tried
    check = check_vendors(gw, {"V1": ["A"]}, timeout=2.0)
    assert check.available == {"V1": {"A": 3}}


def test_failed_refresh_keeps_the_last_good_addresses(server, monkeypatch):
    gw = HttpVendorGateway({"V1": f"http://localhost:{server.port}/V1"}, dns_ttl=0.001)
    time.sleep(0.01)  # now stale

    def dns_down(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", dns_down)
    assert gw.refresh_addresses() == {}
    assert gw.availability("V1", ["A"], timeout=2.0) == {"A": 3}


def test_unresolvable_host_is_unreachable_until_a_refresh_finds_it():
    gw = HttpVendorGateway({"V1": "http://vendor.invalid/api"})
    assert set(gw.refresh_addresses()) == {"vendor.invalid"}
    check = check_vendors(gw, {"V1": ["A"]}, timeout=1.0)
    assert check.failures["V1"].startswith("unreachable: cannot resolve host 'vendor.invalid'")


def test_gateway_options_are_checked():
    with pytest.raises(ValueError, match="does not support proxies"):
        HttpVendorGateway({"V1": "http://127.0.0.1:1"}, proxies={"http": "http://proxy:3128"})
    HttpVendorGateway({"V1": "http://127.0.0.1:1"}, proxies={})  # no proxies: fine
    with pytest.raises(ValueError, match="credentials"):
        HttpVendorGateway({"V1": "http://user:pw@127.0.0.1:1"})
    with pytest.raises(ValueError, match="absolute"):
        HttpVendorGateway({"V1": "ftp://127.0.0.1/x"})
    with pytest.raises(ValueError, match="max_bytes"):
        HttpVendorGateway({"V1": "http://127.0.0.1:1"}, max_bytes=0)
