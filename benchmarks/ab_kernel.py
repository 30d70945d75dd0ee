"""Before/after of the batch routing kernel alone: both revisions' compiled ``route_batch`` in one process.

:mod:`benchmarks.ab_bench` compares whole benchmark runs, one process after
the other; on a shared machine the rounds then differ by more than a few
per cent. This compares the kernel itself, more steadily:

1. each side's ``Router.route_many`` routes the same generated batch, and
   the arguments it hands its batch kernel are captured;
2. the two kernels must allocate the same rows at the same costs (else it
   stops: the revisions do not route alike, and a timing would mean nothing);
3. the kernels then run alternately on fresh copies of their inputs
   (``other, this, this, other, ...``), and the median of the per-pair
   ratios this / other is reported (below 1: this checkout is faster).

The other checkout must have the layout from before the ``sourcewise``
package (top-level ``engine``, ``models``, ``data`` and
``benchmarks/instances.py``), which is what the speed target of the package
move is measured against; its packages are imported from its folder under
their own names, beside this checkout's ``sourcewise``. Both sides' numba
caches are used as they are; the first call of each compiles or loads them
before anything is timed.

Run::

    git worktree add /tmp/before 38af623 && make -C /tmp/before setup
    .venv/bin/python -m benchmarks.ab_kernel /tmp/before --pairs 20
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

import numpy as np


def _fresh(args: list) -> list:
    """Copies of captured arguments: the kernel reserves stock in its inputs."""
    return [a.copy() if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args]


def _capture(kernels, name: str, route_many: Callable[[], object]) -> tuple[Callable, list]:
    """Run ``route_many`` with ``kernels.<name>`` wrapped; its last call's function and arguments."""
    kernel = getattr(kernels, name)
    calls: list[list] = []

    def spy(*args):
        calls.append(_fresh(list(args)))
        return kernel(*args)

    setattr(kernels, name, spy)
    try:
        route_many()
    finally:
        setattr(kernels, name, kernel)
    if not calls:
        raise SystemExit(f"route_many never called {name}: nothing to compare")
    return kernel, calls[-1]


def _other_side(other: Path, n_nodes: int, n_skus: int, n_orders: int, seed: int) -> tuple[Callable, list]:
    """The other checkout's batch kernel and the arguments its router gives it."""
    if not (other / "engine" / "_kernels.py").exists() or not (other / "benchmarks" / "instances.py").exists():
        raise SystemExit(f"{other}: expected the layout from before the sourcewise package "
                         "(engine/_kernels.py and benchmarks/instances.py)")
    sys.path.insert(0, str(other))
    try:
        router = importlib.import_module("engine.router")
        kernels = importlib.import_module("engine._kernels")
        # this checkout's ``benchmarks`` package is already imported: load theirs by path
        spec = importlib.util.spec_from_file_location("_other_instances", other / "benchmarks" / "instances.py")
        inst = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = inst  # its dataclasses look their module up
        spec.loader.exec_module(inst)
    finally:
        sys.path.remove(str(other))
    if not Path(router.__file__).resolve().is_relative_to(other.resolve()):
        raise SystemExit(f"imported engine from {router.__file__}, not from {other}: run from another folder")
    net = inst.build_network(n_nodes, n_skus, seed=0)
    inv = inst.build_inventory(net, n_orders * inst.expected_units_per_order(), seed=0)
    batch = inst.build_orders(net, n_orders, seed=seed)
    return _capture(kernels, "_route_batch", lambda: router.Router(net, inv).route_many(batch))


def _this_side(n_nodes: int, n_skus: int, n_orders: int, seed: int) -> tuple[Callable, list]:
    """This checkout's batch kernel and the arguments its router gives it."""
    from sourcewise.data import instances as inst
    from sourcewise.engine import router

    net = inst.build_network(n_nodes, n_skus, seed=0)
    inv = inst.build_inventory(net, n_orders * inst.expected_units_per_order(), seed=0)
    batch = inst.build_orders(net, n_orders, seed=seed)
    return _capture(router.K, "route_batch", lambda: router.Router(net, inv).route_many(batch))


def _same_routing(theirs: tuple, ours: tuple) -> bool:
    """Both kernels' outputs: the same (group, node, units) rows and per-order costs."""
    # (group, node, qty) lead both outputs; the cost matrix is the first 2-D float array of each
    rows = all(np.array_equal(theirs[i], ours[i]) for i in range(3))
    cost_t = next(a for a in theirs if isinstance(a, np.ndarray) and a.ndim == 2)
    cost_o = next(a for a in ours if isinstance(a, np.ndarray) and a.ndim == 2)
    return rows and np.allclose(cost_t, cost_o, rtol=1e-9, atol=1e-9)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab_kernel", description=__doc__.split("\n")[0])
    p.add_argument("other", type=Path, help="the other checkout, from before the sourcewise package: 'before'")
    p.add_argument("--orders", type=int, default=50_000, help="orders in the batch (default 50,000)")
    p.add_argument("--nodes", type=int, default=1_000, help="nodes (default 1,000)")
    p.add_argument("--skus", type=int, default=100_000, help="SKUs (default 100,000)")
    p.add_argument("--seed", type=int, default=2, help="order stream seed (default 2, route_many's benchmark)")
    p.add_argument("--pairs", type=int, default=20, help="timed runs of each side (default 20)")
    args = p.parse_args(argv)
    if args.pairs < 1 or args.orders < 1:
        p.error("--pairs and --orders must be at least 1")
    sizes = (args.nodes, args.skus, args.orders, args.seed)
    f_other, a_other = _other_side(args.other.resolve(), *sizes)
    f_this, a_this = _this_side(*sizes)
    if not _same_routing(f_other(*_fresh(a_other)), f_this(*_fresh(a_this))):
        raise SystemExit("the two kernels route the batch differently: no timing comparison")
    times: dict[str, list[float]] = {"other": [], "this": []}
    sides = {"other": (f_other, a_other), "this": (f_this, a_this)}
    for i in range(args.pairs):
        for side in (("other", "this") if i % 2 == 0 else ("this", "other")):
            f, a = sides[side]
            fresh = _fresh(a)
            t0 = time.perf_counter()
            f(*fresh)
            times[side].append(time.perf_counter() - t0)
    ratios = [t / o for t, o in zip(times["this"], times["other"], strict=True)]
    print(f"route_batch, {args.orders:,} orders: other median {median(times['other']) * 1e3:.1f} ms, "
          f"this median {median(times['this']) * 1e3:.1f} ms, this/other (median of {args.pairs} pairs) "
          f"{median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
