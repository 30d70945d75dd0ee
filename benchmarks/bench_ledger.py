"""Routing with a durable ledger (issue #17), against routing in memory in the same run.

Targets, on this 2-core machine:

* ``route`` with a SQLite store: p50 at most 3x the in-memory p50 measured in
  the same run (``test_route_latency_with_store``: the two routers route the
  same orders alternately, 100 at a time, so drift on a shared machine hits
  both; ``extra_info`` holds both percentiles and their ratio);
* ``route_many`` with a SQLite store sustains at least 50,000 orders/s
  (``test_route_many_throughput_with_store``: ``extra_info["orders_per_s"]``).

The memory target (10 million orders with flat RSS) is ``benchmarks/memory_ledger.py``.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from benchmarks.conftest import RoutingSetup
from benchmarks.conftest import Sizes
from benchmarks.conftest import median_s
from benchmarks.conftest import percentiles_us
from sourcewise.engine.router import Router

CHUNK = 100


def test_route_latency_with_store(benchmark, latency_setup: RoutingSetup, sizes: Sizes, tmp_path):
    """``Router.route`` with and without a SQLite ledger, alternating chunks of the same orders."""
    s = latency_setup
    memory = Router(s.network, s.inventory)
    stored = Router(s.network, s.inventory, store=f"sqlite:///{tmp_path / 'ledger.db'}")
    for order in s.objects[:sizes.latency_warmup]:
        memory.route(order)
        stored.route(order)
    times: dict[str, list[float]] = {"memory": [], "store": []}
    rest = s.objects[sizes.latency_warmup:]

    def run():
        for i in range(0, len(rest), CHUNK):
            for name, router in (("memory", memory), ("store", stored)):
                out = times[name]
                for order in rest[i:i + CHUNK]:
                    t0 = time.perf_counter()
                    router.route(order)
                    out.append(time.perf_counter() - t0)

    benchmark.group = "ledger"
    try:
        benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    finally:
        stored.close()
    m, st = percentiles_us(times["memory"]), percentiles_us(times["store"])
    benchmark.extra_info.update({f"memory_{k}": v for k, v in m.items()})
    benchmark.extra_info.update({f"store_{k}": v for k, v in st.items()})
    benchmark.extra_info["p50_ratio"] = st["p50_us"] / m["p50_us"]
    benchmark.extra_info["p99_ratio"] = st["p99_us"] / m["p99_us"]


def test_route_many_throughput_with_store(benchmark, batch_setup: RoutingSetup, tmp_path):
    """Sequential ``route_many`` with a SQLite ledger (a fresh router and ledger each round)."""
    s = batch_setup
    n = itertools.count()

    def setup():
        return (Router(s.network, s.inventory, store=f"sqlite:///{tmp_path / f'ledger{next(n)}.db'}"), s.batch), {}

    routers: list[Router] = []

    def run(r, b):
        routers.append(r)
        return r.route_many(b)

    benchmark.group = "ledger"
    try:
        benchmark.pedantic(run, setup=setup, rounds=5, iterations=1, warmup_rounds=0)
    finally:
        for r in routers:
            r.close()
    med = median_s(benchmark)
    benchmark.extra_info["orders"] = s.batch.n_orders
    if med:
        benchmark.extra_info["orders_per_s"] = s.batch.n_orders / med
        benchmark.extra_info["us_per_order"] = med / s.batch.n_orders * 1e6
    sizes_on_disk = [p.stat().st_size for p in tmp_path.glob("ledger*.db*")]
    benchmark.extra_info["ledger_bytes_per_order"] = float(np.sum(sizes_on_disk)) / max(1, len(routers)) / \
        s.batch.n_orders
