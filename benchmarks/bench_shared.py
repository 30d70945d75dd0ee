"""Several processes routing on one stock through a PostgreSQL ledger (issue #18).

For 1, 2 and 4 processes, each a :mod:`benchmarks.shared_worker` joining the
same ledger on a real PostgreSQL server started for the run (the tests' own
helper, :mod:`tests.pg`, from the ``pgserver`` wheel), all start routing on
one signal; ``extra_info["orders_per_s"]`` is every process's orders over
the time from that signal until the last one finished. Each process's own
rate is there too. The server runs with its defaults: every turn's commit
waits for the disk.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.conftest import Sizes
from benchmarks.shared_worker import world
from sourcewise.engine.router import Router
from tests.pg import fresh_database

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("processes", [1, 2, 4])
def test_shared_ledger_throughput(benchmark, sizes: Sizes, processes: int):
    nodes, skus = (200, 5_000) if sizes.name == "full" else (12, 100)
    n_orders = 8_000 if sizes.name == "full" else 200
    url = fresh_database()
    net, inv, _ = world(nodes, skus, n_orders)
    with Router(net, inv, store=url):
        pass
    result = {}

    def run():
        procs = [subprocess.Popen([sys.executable, "-m", "benchmarks.shared_worker", url, str(nodes), str(skus),
                                   str(n_orders), str(w), str(processes)], cwd=ROOT, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for w in range(processes)]
        for p in procs:
            line = p.stdout.readline()
            assert line.startswith("ready"), p.stderr.read()[-3000:]
        t0 = time.perf_counter()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        done = []
        for p in procs:
            out, err = p.communicate(timeout=3600)
            assert p.returncode == 0, err[-3000:]
            done.append(out.split())
        wall = time.perf_counter() - t0
        total = sum(int(d[1]) for d in done)
        result.update(orders=total, wall_s=wall, orders_per_s=total / wall,
                      per_process_orders_per_s=[int(d[1]) / float(d[2]) for d in done])

    benchmark.group = "shared ledger"
    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(processes=processes, **result)
    with Router.recover(url) as check:
        assert len(check.open_orders) == n_orders  # every order's answer is in the ledger
