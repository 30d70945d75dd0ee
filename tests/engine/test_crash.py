"""Crash test: a process routing against a ledger (SQLite, PostgreSQL) is killed with SIGKILL at random
moments; after each kill the ledger recovers every acknowledged decision, oversells nothing,
and the next process carries on where the last one stopped."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import numpy as np
import pytest

from sourcewise.engine.router import Router
from sourcewise.models.decision import Decision
from tests.engine.crash_child import stream
from tests.pg import fresh_database

ROOT = Path(__file__).resolve().parents[2]
KILLS = 24


def _child(url: str, start: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.engine.crash_child", url, str(start)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


class Acks:
    """What the children told their callers, and the one call each kill may have cut."""

    def __init__(self) -> None:
        self.decided: dict[str, Decision] = {}  # acknowledged decisions of routed orders
        self.released: set[str] = set()  # acknowledged, or cut by a kill (then perhaps made)
        self.committing: set[str] = set()  # commits cut by a kill (perhaps made)
        self.in_flight: tuple[str, str] | None = None
        self.last_route: str | None = None

    def read(self, line: str) -> None:
        kind, op, oid, *rest = line.rstrip("\n").split(" ", 3)
        if kind == "intent":
            self.in_flight = (op, oid)
            if op == "route":
                self.last_route = oid
            return
        self.in_flight = None
        if op == "release":
            self.released.add(oid)
        else:
            if op == "commit":
                self.committing.discard(oid)
            self.decided[oid] = msgspec.json.decode(rest[0], type=Decision, dec_hook=lambda t, o: None)

    def check(self, router: Router) -> None:
        """Every acknowledged decision is there, identical; nothing is oversold."""
        for oid, want in self.decided.items():
            got = router.decision(oid)
            if oid in self.released or self.in_flight == ("release", oid):
                # released (or being released when killed): it may be gone
                assert got is None or got == want, oid
                continue
            if oid in self.committing or self.in_flight == ("commit", oid):
                # a kill cut its commit: it may have been made, and no later process repeats it
                assert got in (want, msgspec.structs.replace(want, state="committed")), oid
                continue
            assert got == want, f"{oid}: acknowledged {want}, recovered {got}"
        snap = router.snapshot()
        assert (snap.on_hand >= 0).all() and (snap.reserved >= 0).all()
        assert (snap.reserved <= snap.on_hand).all(), "reserved more than on hand: oversold"
        holdings, view = router.holdings()
        held = np.zeros_like(view.reserved)
        for h in holdings:
            np.add.at(held, h.entries, h.qty)
        assert (held == view.reserved).all(), "reserved differs from what the open orders hold"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_loses_no_acknowledged_decision(tmp_path, kind):
    rng = random.Random(20261206)
    # PostgreSQL: the server lives on; the killed process's open turn, if any, is rolled back by it
    url = f"sqlite:///{tmp_path / 'ledger.db'}" if kind == "sqlite" else fresh_database()
    _, _, orders = stream()
    index = {o.order_id: i for i, o in enumerate(orders)}
    acks = Acks()
    start = 0
    kills = 0
    while kills < KILLS:
        child = _child(url, start)
        # wait for a random number of acknowledged calls, then a random moment more
        target = rng.randint(1, 120)
        seen = 0
        for line in child.stdout:
            acks.read(line)
            if line.startswith("ack"):
                seen += 1
            if line.startswith("done") or seen >= target:
                break
        time.sleep(rng.random() * 0.02)
        child.send_signal(signal.SIGKILL)
        # what the child wrote before it died is what its callers saw
        for line in child.stdout:
            acks.read(line)
        if acks.in_flight is not None and acks.in_flight[0] == "release":
            # the kill cut a release: it may have been made, and the next process will not repeat it
            acks.released.add(acks.in_flight[1])
        if acks.in_flight is not None and acks.in_flight[0] == "commit":
            acks.committing.add(acks.in_flight[1])
        child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL, child.stderr.read()[-3000:]
        kills += 1
        router = Router.recover(url)
        try:
            acks.check(router)
        finally:
            router.close()
        # carry on from the last order whose routing started (routing it again is idempotent)
        start = index[acks.last_route] if acks.last_route is not None else 0
    # then to the end of the stream
    child = _child(url, start)
    out, err = child.communicate(timeout=600)
    assert child.returncode == 0, err[-3000:]
    for line in out.splitlines(keepends=True):
        if line.startswith(("ack", "intent")):
            acks.read(line)
    assert out.rstrip().endswith("done")
    router = Router.recover(url)
    try:
        acks.check(router)
        assert {d.order_id for d in acks.decided.values()} == set(index), "some orders were never routed"
    finally:
        router.close()
