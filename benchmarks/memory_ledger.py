"""Memory with a ledger: route and commit millions of orders in one process, and watch RSS.

With a store, committed orders leave memory (the ledger keeps them), so the
process's resident memory must stop growing once it has warmed up: issue #17
asks that RSS after the first million orders grows by less than 10 % up to
ten million. Orders come in batches through ``route_many``; each batch is
committed with ``commit_many`` and the stock it used is received again
(``adjust_stock_many``), so the stock never runs dry and every batch routes
like the first.

Run::

    .venv/bin/python -m benchmarks.memory_ledger --orders 10000000

It prints RSS at every million orders and the growth after the first, and
exits 1 when the growth reaches ``--max-growth`` (default 0.10).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sourcewise.data.instances import build_inventory
from sourcewise.data.instances import build_network
from sourcewise.data.instances import build_orders
from sourcewise.data.instances import expected_units_per_order
from sourcewise.engine.router import Router
from sourcewise.models.tables import OrderBatch


def rss_mib() -> float:
    """Resident memory of this process now (not its peak)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def renamed(batch: OrderBatch, prefix: str) -> OrderBatch:
    """``batch`` with its order ids made unique to this round."""
    ids = np.array([prefix + x for x in batch.order_id.tolist()], dtype=object)
    return OrderBatch(**{**batch.__dict__, "order_id": ids})


def run(n_orders: int, batch: int, folder: Path, report_every: int = 1_000_000) -> list[tuple[int, float]]:
    """Route and commit ``n_orders`` orders; RSS (MiB) after every ``report_every``."""
    net = build_network(200, 10_000, seed=0)
    inv = build_inventory(net, batch * expected_units_per_order() * 2, seed=0)
    template = build_orders(net, batch, seed=1)
    router = Router(net, inv, store=f"sqlite:///{folder / 'ledger.db'}")
    points: list[tuple[int, float]] = []
    done = 0
    t0 = time.perf_counter()
    entries = np.arange(inv.nnz)
    try:
        while done < n_orders:
            b = renamed(template, f"R{done // batch}-")
            router.route_many(b)
            router.commit_many(b.order_id.tolist())
            # receive what shipped: the same stock for the next batch
            router.adjust_stock_many(entries, inv.on_hand - router.snapshot().on_hand)
            done += batch
            if done % report_every == 0 or done >= n_orders:
                points.append((done, rss_mib()))
                rate = done / (time.perf_counter() - t0)
                print(f"{done:>12,} orders  RSS {points[-1][1]:8.1f} MiB  ({rate:,.0f} orders/s routed and committed)",
                      flush=True)
    finally:
        router.close()
    return points


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--every", type=int, default=1_000_000, help="orders between RSS readings")
    ap.add_argument("--max-growth", type=float, default=0.10)
    ap.add_argument("--dir", help="folder for the ledger (default: a temporary one)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        points = run(a.orders, a.batch, Path(tmp), a.every)
        size = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20
    base = points[0][1]
    growth = points[-1][1] / base - 1.0
    print(f"RSS after {points[0][0]:,}: {base:.1f} MiB; after {points[-1][0]:,}: {points[-1][1]:.1f} MiB; "
          f"growth {growth:+.1%} (limit {a.max_growth:.0%}); ledger {size:,.0f} MiB")
    return 0 if growth < a.max_growth else 1


if __name__ == "__main__":
    sys.exit(main())
