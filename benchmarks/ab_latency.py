"""A/B of single-order ``Router.route`` latency against another git revision's kernels, order by order.

``bench_router``'s latency test is one process at one moment, and this
VM's speed drifts by up to 2x within minutes, so two revisions measured in
turn can differ by more than any change between them. Here two routers
route the same stream of 3-line orders over the latency benchmark's network
(1,000 nodes x 100,000 SKUs) in one process: before each order the
module-level ``sourcewise.engine._kernels._route_one`` is pointed at one revision's
compiled function or the other's, and the two routers take turns going
first. Both see the same machine at the same moment; each keeps its own
stock, so a change that routes differently is compared on what it routed
too: total cost and parcels of each side.

Only ``_route_one`` (the router's one-call path, which every order of this
stream takes) is swapped; anything else the router calls runs the current
kernels on both sides.

Run::

    .venv/bin/python -m benchmarks.ab_latency HEAD~1
    .venv/bin/python -m benchmarks.ab_latency 818a480 --orders 10000
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.ab_kernels import _load_revision
from sourcewise.data.instances import (
    build_inventory,
    build_network,
    build_orders,
    expected_units_per_order,
    orders_as_objects,
)
from sourcewise.engine import _kernels as current
from sourcewise.engine.router import Router
from sourcewise.engine.warm import warm_up

WARMUP = 2_000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab_latency", description=__doc__.split("\n")[0])
    p.add_argument("rev", help="git revision whose kernels are the baseline, e.g. HEAD~1")
    p.add_argument("--orders", type=int, default=20_000, help="timed orders (after 2,000 warm-up orders)")
    args = p.parse_args(argv)
    warm_up()
    net = build_network(1000, 100_000, seed=0)
    n = WARMUP + args.orders
    inv = build_inventory(net, n * expected_units_per_order(3), seed=0)
    orders = orders_as_objects(net, build_orders(net, n, seed=1, lines_per_order=3))
    real = current._route_one
    with tempfile.TemporaryDirectory() as tmp:
        old = _load_revision(args.rev, Path(tmp))
        kernels = {"old": old._route_one, "new": real}
        routers = {side: Router(net, inv) for side in kernels}
        ns: dict[str, list[int]] = {"old": [], "new": []}
        cost = {"old": 0.0, "new": 0.0}
        parcels = {"old": 0, "new": 0}
        clock = time.perf_counter_ns
        try:
            for i, order in enumerate(orders):
                for side in ("old", "new") if i % 2 else ("new", "old"):
                    current._route_one = kernels[side]
                    t0 = clock()
                    d = routers[side].route(order)
                    t1 = clock()
                    if i >= WARMUP:
                        ns[side].append(t1 - t0)
                        cost[side] += d.cost.total
                        parcels[side] += len(d.shipments)
                if i == WARMUP - 1:
                    # what the warm-up left behind is not the timed orders' garbage
                    gc.collect()
        finally:
            current._route_one = real
    pct = {side: np.percentile(np.array(v) / 1e3, [50, 90, 99]) for side, v in ns.items()}
    for side in ("old", "new"):
        p50, p90, p99 = pct[side]
        print(f"{side} ({args.rev if side == 'old' else 'working tree'}): p50 {p50:.1f} us, p90 {p90:.1f}, "
              f"p99 {p99:.1f}; cost {cost[side]:,.2f}, {parcels[side]:,} parcels")
    r50, r90, r99 = pct["new"] / pct["old"]
    print(f"ratio new/old: p50 {r50:.3f}, p90 {r90:.3f}, p99 {r99:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
