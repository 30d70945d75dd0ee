"""Several processes on one stock through PostgreSQL: nothing oversold, every answer in the ledger.

Four worker processes (:mod:`tests.engine.pg_worker`) route 20,000 orders
between them on stock far scarcer than the demand, against one ledger in a
real PostgreSQL server that the test starts (:mod:`tests.pg`). The checks
use only what the workers told their callers, counted independently of the
router: no stock entry gave more units than it held, every order was routed
or refused with its backordered units, and the ledger (replayed by a fifth
router) holds exactly the sum of the answers.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import msgspec
import numpy as np
import pytest

from sourcewise.engine.router import Router
from sourcewise.models.decision import Decision
from sourcewise.models.decision import Status
from tests.engine.pg_worker import N_ORDERS
from tests.engine.pg_worker import world
from tests.pg import fresh_database

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4


def _answers(path: Path) -> list[dict]:
    out = []
    for line in path.read_bytes().splitlines():
        a = msgspec.json.decode(line)
        if a["decision"] is not None:
            a["decision"] = msgspec.convert(a["decision"], Decision)
        out.append(a)
    return out


@pytest.mark.slow
def test_four_processes_never_oversell(tmp_path):
    url = fresh_database()
    net, inv, orders, policy = world()
    with Router(net, inv, policy, store=url):
        pass  # the ledger starts from this set-up; the workers join it
    procs = []
    for w in range(WORKERS):
        out = tmp_path / f"worker{w}.jsonl"
        procs.append((out, subprocess.Popen([sys.executable, "-m", "tests.engine.pg_worker", url, str(w),
                                             str(WORKERS), str(out)], cwd=ROOT, stderr=subprocess.PIPE,
                                            text=True)))
    for _, p in procs:
        _, err = p.communicate(timeout=1800)
        assert p.returncode == 0, err[-3000:]

    # what each order ended as, from the workers' answers alone
    routed: dict[str, Decision] = {}
    state: dict[str, str] = {}
    for out, _ in procs:
        for a in _answers(out):
            oid = a["order_id"]
            if a["op"] == "route":
                routed[oid] = a["decision"]
                state[oid] = "open"
            else:
                state[oid] = "committed" if a["op"] == "commit" else "released"
    assert set(routed) == {o.order_id for o in orders}, "an order got no answer"

    # every order routed, or refused with the units it could not have, line by line
    by_id = {o.order_id: o for o in orders}
    statuses = Counter()
    for oid, d in routed.items():
        statuses[d.status] += 1
        asked = Counter({ln.line_id: ln.qty for ln in by_id[oid].lines})
        got = Counter()
        for a in d.allocations:
            got[a.line_id] += a.qty
        got.update(dict(d.unfilled))
        assert got == asked, f"{oid}: allocations and backorders do not add up to the order"
        if d.status == Status.UNROUTABLE:
            assert d.unfilled and not d.allocations
    # scarce enough that the processes really competed for the last units
    assert statuses[Status.ROUTED] > 0 and statuses[Status.UNROUTABLE] + statuses[Status.PARTIAL] > N_ORDERS // 20

    # the independent count: units each stock entry gave to orders still holding or shipped
    key = {(n.node_id, s.sku): (n_i, s_i) for n_i, n in enumerate(net.nodes) for s_i, s in enumerate(net.skus)}
    given = Counter()
    shipped = Counter()
    for oid, d in routed.items():
        if state[oid] == "released":
            continue
        for a in d.allocations:
            given[(a.node_id, a.sku)] += a.qty
            if state[oid] == "committed":
                shipped[(a.node_id, a.sku)] += a.qty
    start = {}
    for e in range(inv.nnz):
        n, s = int(inv.node[e]), int(np.searchsorted(inv.sku_ptr, e, side="right") - 1)
        start[(net.nodes[n].node_id, net.skus[s].sku)] = (int(inv.on_hand[e]), int(inv.safety_stock[e]), e)
    oversold = sum(max(0, q - (start[k][0] - start[k][1])) for k, q in given.items())
    assert oversold == 0, f"{oversold} unit(s) oversold"
    assert set(given) <= set(start) and set(given) <= set(key)

    # the ledger holds exactly the sum of the answers
    with Router.recover(url) as ledger:
        snap = ledger.snapshot()
        for k, (on_hand, _, e) in start.items():
            open_units = given[k] - shipped[k]
            assert snap.on_hand[e] == on_hand - shipped[k], k
            assert snap.reserved[e] == open_units, k
        assert set(ledger.open_orders) == {oid for oid, s in state.items() if s == "open"}
        for oid, d in routed.items():
            if state[oid] != "released":
                # a committed order's decision comes back in its final state
                want = d if state[oid] == "open" else msgspec.structs.replace(d, state="committed")
                assert ledger.decision(oid) == want, oid
