"""Load every routing kernel before the first real order.

Numba compiles each kernel once per argument signature and caches the
machine code on disk, but a new process still loads that code on each
kernel's first call: tens of milliseconds for the first order that reaches
a path nothing has used yet (71 ms for the first order that needed a
vendor, in the latency benchmark's stream). An OMS that routes once per
order calls :func:`warm_up` at start-up, so that no customer's order pays
for it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Sku
from sourcewise.models import StockRecord

__all__ = ["warm_up"]

_lock = threading.Lock()
_done = False


def _scenario(capacity: int | None) -> tuple[Network, Inventory]:
    # with daily capacity, explanations read the capacity left before each order:
    # arrays of another kind than the network's own, so other kernel signatures
    nodes = [
        Node("W1", "warehouse", 40.71, -74.01, capacity_orders=capacity),
        Node("W2", "warehouse", 34.05, -118.24),
        Node("S1", "store", 41.88, -87.63, pickup=True),
        Node("V1", "vendor", 39.10, -94.58, fee_rate=0.1),
    ]
    skus = [Sku(s, 1.0, 20.0) for s in ("A", "B", "C", "D", "E", "F")]
    net = Network.build(nodes, skus)
    stock = [("W1", "A", 50), ("W1", "B", 50), ("W2", "A", 5), ("W2", "C", 50), ("S1", "A", 10),
             ("S1", "D", 10), ("V1", "E", 100), ("V1", "B", 3)]
    return net, Inventory.from_records(net, [StockRecord(n, s, q) for n, s, q in stock])


def _orders(tag: str) -> list[Order]:
    def o(name, lines, **kw):
        return Order(f"{tag}-{name}", tuple(OrderLine(str(i + 1), *ln) for i, ln in enumerate(lines)),
                     40.0, -80.0, **kw)

    return [
        o("one", [("A", 1)]),                                   # one line, one node
        o("whole", [("A", 1), ("B", 1)]),                       # one node ships every line
        o("split", [("B", 1), ("C", 1)]),                       # two parcels, first tier
        o("vendor", [("E", 1)]),                                # only a vendor has it
        o("short", [("B", 60)]),                                # own stock, then vendor, then backorder
        o("none", [("F", 1)]),                                  # nothing anywhere
        o("nosplit", [("B", 1), ("C", 1)], allow_split=False),  # split limit of one
        o("pickup", [("D", 1, "pickup", "S1")]),                # collected at a store
        o("sameday", [("A", 1, "same_day")]),
        o("express", [("A", 1), ("C", 1)], service_level="express", placed_at=datetime(2026, 1, 5, 15, 30)),
    ]


def warm_up() -> float:
    """Run every routing path once on a small private network, in this process.

    Covers :meth:`~sourcewise.engine.router.Router.route` (one node, split, vendor
    fallback, backorder, split limit, pickup, same-day, delivery
    deadlines, every strategy), explanations, ``promise`` and ``availability``,
    :meth:`~sourcewise.engine.router.Router.route_many` (compiled and order-by-order
    batches), ``release``, ``commit`` and ``reroute``. Later calls return
    at once.

    Returns
    -------
    float
        Seconds spent (0.0 when the process was already warm).
    """
    global _done
    with _lock:
        if _done:
            return 0.0
        from sourcewise.engine.router import Router

        t0 = time.perf_counter()
        for capacity in (None, 1000):
            net, inv = _scenario(capacity)
            for strategy in ("cost", "priority", "nearest", "high_stock", "dual"):
                r = Router(net, inv)
                for order in _orders(f"promise-{strategy}"):
                    r.promise(order, strategy=strategy)
                decisions = [r.route(order, strategy=strategy) for order in _orders(strategy)]
                for d in decisions:
                    str(d.explanation)
                r.release(decisions[0].order_id)
                r.commit(decisions[1].order_id)
                r.reroute(decisions[2].order_id, decisions[2].shipments[0].node_id)
        r = Router(net, inv)
        plain = [o for o in _orders("batch") if all(ln.method == "ship" for ln in o.lines)]
        r.route_many(plain)
        r.route_many(_orders("mixed"))  # pickup and same-day lines: order by order
        r.availability("A", 41.9, -87.6)
        _done = True
        return time.perf_counter() - t0


class CompileWatch:
    """Says on the ``sourcewise.numba`` logger when numba compiles kernels, and for how long.

    Numba caches compiled kernels on disk, so only a first run (or one after
    the engine changed) compiles; that run takes seconds longer, and without
    a word it looks like a hang. Loading from the cache fires no compile
    event, so later runs say nothing. Use as a context manager around a
    command; nested compiles (a kernel calling others) count once.
    """

    def __init__(self) -> None:
        import logging

        self.log = logging.getLogger("sourcewise.numba")
        self.depth = 0
        self.kernels = 0
        self.seconds = 0.0
        self._t0 = 0.0
        self._stack = None

    def __enter__(self) -> CompileWatch:
        from contextlib import ExitStack

        from numba.core import event

        watch = self

        class _Listener(event.Listener):
            def on_start(self, ev) -> None:
                if watch.depth == 0:
                    if watch.kernels == 0:
                        watch.log.info("numba is compiling the routing kernels (a first run: usually 30 to 60 s "
                                       "on 2 cores; later runs load them from its cache)...")
                    watch._t0 = time.perf_counter()
                watch.depth += 1

            def on_end(self, ev) -> None:
                watch.depth -= 1
                if watch.depth == 0:
                    watch.kernels += 1
                    watch.seconds += time.perf_counter() - watch._t0

        self._stack = ExitStack()
        self._stack.enter_context(event.install_listener("numba:compile", _Listener()))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
        if self.kernels:
            self.log.info("numba compiled %d kernel(s) in %.1f s", self.kernels, self.seconds)
