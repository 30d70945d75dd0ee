"""Before/after in one process: this checkout's router against one from before the ``sourcewise`` package.

:mod:`benchmarks.ab_bench` compares whole benchmark runs, one process after
the other; on a shared machine those rounds differ by more than the few per
cent that the package move's speed target is about, and each process lays
out its memory its own way. This loads both revisions side by side in one
process, on the same generated instance, and alternates between them:

``route``
    ``Router.route`` on the latency benchmark's stream (3-line orders,
    after a warm-up), the two routers taking turns order by order (``old,
    new, new, old, ...``); p50 and p99 of each, and their ratios.
``route_many``
    ``Router.route_many`` of the throughput benchmark's batch on a fresh
    router of each side, in turns; orders per second, and the median of
    the per-pair ratios.
``kernel``
    The batch kernel alone: each side's ``route_many`` is run once with
    its kernel's arguments captured; both kernels must allocate the same
    rows at the same costs (else it stops: a timing of two different
    routings would mean nothing); then they run in turns on fresh copies
    of those arguments.

Ratios are new / old for times (below 1: this checkout is faster) and for
orders per second (above 1: faster). The other checkout must have the
layout from before the package (top-level ``engine``, ``models`` and
``data``, and ``benchmarks/instances.py``); its packages are imported from
its folder beside this checkout's ``sourcewise``. Each side's numba cache is
used as it is, and each side routes its warm-up before anything is timed.

Run::

    git worktree add /tmp/before 38af623 && make -C /tmp/before setup
    .venv/bin/python -m benchmarks.ab_inprocess /tmp/before
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from types import ModuleType
from typing import Any

import numpy as np

NODES, SKUS = 1_000, 100_000  # the benchmarks' full size (benchmarks/conftest.py)


class Side:
    """One revision: its router module, its kernels and its instance builders."""

    def __init__(self, name: str, router: ModuleType, kernels: ModuleType, instances: ModuleType):
        self.name = name
        self.router = router
        self.kernels = kernels
        self.inst = instances
        self.batch_kernel = "route_batch" if hasattr(kernels, "route_batch") else "_route_batch"

    def world(self, n_orders: int, lines: int | None) -> tuple[Any, Any]:
        """The benchmarks' network, and stock for ``n_orders`` orders of ``lines`` lines (None: 1 to 5)."""
        net = self.inst.build_network(NODES, SKUS, seed=0)
        per = self.inst.expected_units_per_order(lines) if lines else self.inst.expected_units_per_order()
        return net, self.inst.build_inventory(net, n_orders * per, seed=0)


def other_side(folder: Path) -> Side:
    """The checkout at ``folder`` (layout from before the package), imported under its own names."""
    if not (folder / "engine" / "_kernels.py").exists() or not (folder / "benchmarks" / "instances.py").exists():
        raise SystemExit(f"{folder}: expected the layout from before the sourcewise package "
                         "(engine/_kernels.py and benchmarks/instances.py)")
    sys.path.insert(0, str(folder))
    try:
        router = importlib.import_module("engine.router")
        kernels = importlib.import_module("engine._kernels")
        # this checkout's ``benchmarks`` package is already imported: load theirs by path
        spec = importlib.util.spec_from_file_location("_other_instances", folder / "benchmarks" / "instances.py")
        inst = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = inst  # its dataclasses look their module up
        spec.loader.exec_module(inst)
    finally:
        sys.path.remove(str(folder))
    if not Path(router.__file__).resolve().is_relative_to(folder):
        raise SystemExit(f"imported engine from {router.__file__}, not from {folder}: run from another folder")
    return Side("old", router, kernels, inst)


def this_side() -> Side:
    from sourcewise.data import instances
    from sourcewise.engine import router

    return Side("new", router, router.K, instances)


def _fresh(args: list) -> list:
    """Copies of captured arguments: the kernel reserves stock in its inputs."""
    return [a.copy() if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args]


def _turns(n: int, first: Callable[[], float], second: Callable[[], float]) -> tuple[list[float], list[float]]:
    """``n`` timings of each, in turns (first, second, second, first, ...)."""
    a: list[float] = []
    b: list[float] = []
    for i in range(n):
        if i % 2 == 0:
            a.append(first())
            b.append(second())
        else:
            b.append(second())
            a.append(first())
    return a, b


def compare_route(old: Side, new: Side, orders: int, warmup: int) -> str:
    """``Router.route`` of both, order by order in turns: p50 and p99."""
    routers, streams = [], []
    for side in (old, new):
        net, inv = side.world(warmup + orders, 3)
        batch = side.inst.build_orders(net, warmup + orders, seed=1, lines_per_order=3)
        objects = side.inst.orders_as_objects(net, batch)
        r = side.router.Router(net, inv)
        for order in objects[:warmup]:
            r.route(order)
        routers.append(r)
        streams.append(iter(objects[warmup:]))

    def timer(r, stream) -> Callable[[], float]:
        def one() -> float:
            order = next(stream)
            t0 = time.perf_counter()
            r.route(order)
            return time.perf_counter() - t0
        return one

    t_old, t_new = _turns(orders, timer(routers[0], streams[0]), timer(routers[1], streams[1]))
    p = {k: (np.percentile(t_old, q) * 1e6, np.percentile(t_new, q) * 1e6) for k, q in (("p50", 50), ("p99", 99))}
    return (f"route, {orders:,} orders in turns: p50 {p['p50'][0]:.2f} -> {p['p50'][1]:.2f} us "
            f"({p['p50'][1] / p['p50'][0]:.3f}), p99 {p['p99'][0]:.1f} -> {p['p99'][1]:.1f} us "
            f"({p['p99'][1] / p['p99'][0]:.3f})")


def _batch(side: Side, orders: int) -> tuple[Any, Any, Any]:
    net, inv = side.world(orders, None)
    return net, inv, side.inst.build_orders(net, orders, seed=2)


def compare_route_many(old: Side, new: Side, orders: int, pairs: int) -> str:
    """``Router.route_many`` of both on fresh routers, in turns: orders per second."""
    worlds = [_batch(side, orders) for side in (old, new)]

    def timer(side: Side, world) -> Callable[[], float]:
        def one() -> float:
            r = side.router.Router(world[0], world[1])
            t0 = time.perf_counter()
            r.route_many(world[2])
            return time.perf_counter() - t0
        return one

    first = [timer(s, w) for s, w in zip((old, new), worlds, strict=True)]
    for f in first:
        f()  # compile or load each side's kernels
    t_old, t_new = _turns(pairs, *first)
    ratio = median(o / n for o, n in zip(t_old, t_new, strict=True))
    return (f"route_many, {orders:,} orders, {pairs} pairs: {orders / median(t_old):,.0f} -> "
            f"{orders / median(t_new):,.0f} orders/s (throughput {ratio:.3f})")


def _capture(side: Side, world) -> tuple[Callable, list]:
    """Run ``route_many`` with the side's batch kernel wrapped: the kernel and its last call's arguments."""
    kernel = getattr(side.kernels, side.batch_kernel)
    calls: list[list] = []

    def spy(*args):
        calls.append(_fresh(list(args)))
        return kernel(*args)

    setattr(side.kernels, side.batch_kernel, spy)
    try:
        side.router.Router(world[0], world[1]).route_many(world[2])
    finally:
        setattr(side.kernels, side.batch_kernel, kernel)
    if not calls:
        raise SystemExit(f"{side.name}: route_many never called {side.batch_kernel}")
    return kernel, calls[-1]


def _same_routing(old: tuple, new: tuple) -> bool:
    """The same (group, node, units) rows and per-order costs (both outputs lead with those rows; the
    cost matrix is each one's first 2-D float array)."""
    rows = all(np.array_equal(old[i], new[i]) for i in range(3))
    cost_o = next(a for a in old if isinstance(a, np.ndarray) and a.ndim == 2)
    cost_n = next(a for a in new if isinstance(a, np.ndarray) and a.ndim == 2)
    return rows and np.allclose(cost_o, cost_n, rtol=1e-9, atol=1e-9)


def compare_kernel(old: Side, new: Side, orders: int, pairs: int) -> str:
    """Both batch kernels on their captured arguments, in turns."""
    (f_old, a_old), (f_new, a_new) = (_capture(s, _batch(s, orders)) for s in (old, new))
    if not _same_routing(f_old(*_fresh(a_old)), f_new(*_fresh(a_new))):
        raise SystemExit("the two kernels route the batch differently: no timing comparison")

    def timer(f: Callable, args: list) -> Callable[[], float]:
        def one() -> float:
            fresh = _fresh(args)
            t0 = time.perf_counter()
            f(*fresh)
            return time.perf_counter() - t0
        return one

    t_old, t_new = _turns(pairs, timer(f_old, a_old), timer(f_new, a_new))
    ratio = median(n / o for o, n in zip(t_old, t_new, strict=True))
    return (f"kernel, {orders:,} orders, {pairs} pairs: {median(t_old) * 1e3:.1f} -> "
            f"{median(t_new) * 1e3:.1f} ms ({ratio:.3f})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab_inprocess", description=__doc__.split("\n")[0])
    p.add_argument("other", type=Path, help="the other checkout, from before the sourcewise package: 'old'")
    p.add_argument("--what", choices=("route", "route_many", "kernel"), action="append",
                   help="what to compare (repeatable; default all three)")
    p.add_argument("--orders", type=int, default=20_000, help="timed route calls (default 20,000)")
    p.add_argument("--batch", type=int, default=50_000, help="orders of the batch (default 50,000)")
    p.add_argument("--pairs", type=int, default=8, help="timed batches of each side (default 8)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if min(args.orders, args.batch, args.pairs) < 1:
        p.error("--orders, --batch and --pairs must be at least 1")
    old, new = other_side(args.other.resolve()), this_side()
    for what in args.what or ("route", "route_many", "kernel"):
        if what == "route":
            print(compare_route(old, new, args.orders, 2_000), flush=True)
        elif what == "route_many":
            print(compare_route_many(old, new, args.batch, args.pairs), flush=True)
        else:
            print(compare_kernel(old, new, args.batch, 2 * args.pairs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
