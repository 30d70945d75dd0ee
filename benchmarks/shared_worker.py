"""One process of the shared-ledger benchmark (``bench_shared.py``): joins a PostgreSQL ledger,
warms up, waits for ``go`` on stdin, routes its orders and prints ``done <orders> <seconds>``.

Run as ``python -m benchmarks.shared_worker URL NODES SKUS ORDERS WORKER WORKERS``.
"""

from __future__ import annotations

import sys
import time

from sourcewise.data.instances import build_inventory
from sourcewise.data.instances import build_network
from sourcewise.data.instances import build_orders
from sourcewise.data.instances import orders_as_objects
from sourcewise.engine.router import Router
from sourcewise.engine.warm import warm_up


def world(nodes: int, skus: int, orders: int):
    """The benchmark's network, stock for about 1.5x the demand, and the order stream."""
    net = build_network(nodes, skus, seed=21)
    batch = build_orders(net, orders, seed=22)
    inv = build_inventory(net, float(batch.qty.sum()), seed=21)
    return net, inv, orders_as_objects(net, batch)


def main(url: str, nodes: int, skus: int, n_orders: int, worker: int, workers: int) -> None:
    net, inv, orders = world(nodes, skus, n_orders)
    warm_up()
    mine = orders[worker::workers]
    with Router.recover(url) as router:
        # compile and load everything on a throw-away router first
        scratch = Router(net, inv)
        for o in mine[:50]:
            scratch.route(o)
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return
        t0 = time.perf_counter()
        for o in mine:
            router.route(o)
        dt = time.perf_counter() - t0
    print(f"done {len(mine)} {dt:.6f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], *(int(x) for x in sys.argv[2:7]))
