"""warm_up loads every kernel routing needs: afterwards no order compiles or loads one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh process: this one has long since called every kernel.
_SCRIPT = r"""
import importlib
from numba.core.registry import CPUDispatcher

from sourcewise.engine.warm import warm_up

MODULES = ["sourcewise.engine._kernels." + m for m in ("layout", "geometry", "cost", "gather", "search", "drivers", "plans", "scoring", "similarity")]


def signatures():
    out = {}
    for m in MODULES:
        for name, obj in vars(importlib.import_module(m)).items():
            if isinstance(obj, CPUDispatcher):
                out[f"{m}.{name}"] = len(obj.signatures)
    return out


assert warm_up() > 0.0
assert warm_up() == 0.0  # once per process
before = signatures()
# the kernels called from Python (the rest are only called from compiled code)
assert all(before[f"sourcewise.engine._kernels.{k}"] >= 1
           for k in ("drivers.route_one", "drivers.tier_step", "drivers.tier_rows_bound", "drivers.route_batch",
                     "gather.gather", "search.plan_cost")), before

from sourcewise.engine import scenario as sc
from sourcewise.engine.batch import orders_from_batch
from sourcewise.engine.router import Router
from sourcewise.data.instances import build_inventory, build_network, build_orders, orders_as_objects

s = sc.load_scenario("data/sample")
r = sc.build_router(s)
decisions = [r.route(o) for o in orders_from_batch(s.network, s.orders)]
for d in decisions[:60]:
    str(d.explanation)
for d in decisions[:5]:
    r.release(d.order_id)
for strategy in ("cost", "priority", "nearest", "high_stock"):
    sc.build_router(s).route_many(s.orders, strategy=strategy)
net = build_network(40, 300, seed=0)
inv = build_inventory(net, 2000, seed=0)
r = Router(net, inv)
for o in orders_as_objects(net, build_orders(net, 300, seed=1, lines_per_order=3)):
    r.route(o)
Router(net, inv).route_many(build_orders(net, 300, seed=2))
grown = {k: (before.get(k, 0), v) for k, v in signatures().items() if v != before.get(k, 0)}
assert not grown, f"kernels first called after warm_up: {grown}"
print("ok")
"""


def test_no_kernel_is_first_called_after_warm_up():
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
