"""A/B of the ``route_many`` kernel against the kernels of another git revision, in one process.

The machine this project is measured on is a shared VM whose speed drifts by
up to 2x within minutes, so a kernel change is judged by running the old and
the new compiled kernel alternately on the same captured input: the batch
benchmark's network (1,000 nodes x 100,000 SKUs), stock and 50,000 orders of
1-5 lines, exactly as ``Router.route_many`` hands them to
``sourcewise.engine._kernels._route_batch``. Both must produce identical outputs; the
script prints each run, the medians and the ratio new/old.

Run::

    .venv/bin/python -m benchmarks.ab_kernels HEAD~1            # 50,000 orders, 5 rounds
    .venv/bin/python -m benchmarks.ab_kernels de39331 --orders 20000 --rounds 3

A change meant to route differently (a better plan, say) passes
``--allow-different``: the script then times it all the same and prints, for
each side, the units placed, the parcels and the total cost of the batch.

The old revision's ``engine/_kernels.py`` is written to a temporary folder and
imported as a module of its own (numba caches it there). Arguments are matched
by name, so a baseline whose ``_route_batch`` lacks a newer argument (such as
``sku_bits``) still runs: it is simply not passed.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.conftest import _warm
from sourcewise.data.instances import (
    build_inventory,
    build_network,
    build_orders,
    expected_units_per_order,
)
from sourcewise.engine import _kernels as current
from sourcewise.engine.router import Router

ROOT = Path(__file__).resolve().parent.parent


def _load_revision(rev: str, folder: Path):
    """The kernels module as of ``rev``, imported from ``folder``."""
    src = subprocess.run(["git", "show", f"{rev}:engine/_kernels.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = folder / "kernels_ab_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("kernels_ab_old", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["kernels_ab_old"] = module
    spec.loader.exec_module(module)
    return module


def _captured_input(n_orders: int) -> tuple:
    """The arguments ``route_many`` passes to ``_route_batch`` for the benchmark batch, copied on entry."""
    net = build_network(1000, 100_000, seed=0)
    inv = build_inventory(net, 50_000 * expected_units_per_order(), seed=0)
    batch = build_orders(net, n_orders, seed=2)
    _warm(net, inv, build_orders(net, 200, seed=98))
    captured = {}
    real = current._route_batch

    def grab(*args):
        captured["args"] = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
        return real(*args)

    current._route_batch = grab
    try:
        Router(net, inv).route_many(batch)
    finally:
        current._route_batch = real
    return captured["args"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab_kernels", description=__doc__.split("\n")[0])
    p.add_argument("rev", help="git revision whose kernels are the baseline, e.g. HEAD~1")
    p.add_argument("--orders", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--allow-different", action="store_true",
                   help="time a change that routes differently, and compare what each side routed")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.orders < 1:
        p.error("--rounds and --orders must be at least 1")
    inputs = _captured_input(args.orders)
    with tempfile.TemporaryDirectory() as tmp:
        old = _load_revision(args.rev, Path(tmp))

        def names(kernels) -> list[str]:
            code = kernels._route_batch.py_func.__code__
            return list(code.co_varnames[:code.co_argcount])

        by_name = dict(zip(names(current), inputs, strict=True))
        missing = [n for n in names(old) if n not in by_name]
        if missing:
            print(f"{args.rev}'s _route_batch takes arguments this one lacks: {missing}", file=sys.stderr)
            return 2

        def run(kernels) -> tuple[float, tuple]:
            fresh = tuple(by_name[n].copy() if isinstance(by_name[n], np.ndarray) else by_name[n]
                          for n in names(kernels))
            t0 = time.perf_counter()
            out = kernels._route_batch(*fresh)
            return time.perf_counter() - t0, out

        run(old)  # compile both before timing
        run(current)
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.rounds):
            t_old, out_old = run(old)
            t_new, out_new = run(current)
            times["old"].append(t_old)
            times["new"].append(t_new)
            same = all(np.array_equal(a, b) for a, b in zip(out_old, out_new, strict=True))
            if not same and not args.allow_different:
                print("outputs differ between the revisions", file=sys.stderr)
                return 1
            print(f"old {t_old:.3f} s   new {t_new:.3f} s   ratio {t_new / t_old:.3f}")
    med_old, med_new = float(np.median(times["old"])), float(np.median(times["new"]))
    print(f"medians: old {med_old:.3f} s ({args.orders / med_old:,.0f} orders/s), "
          f"new {med_new:.3f} s ({args.orders / med_new:,.0f} orders/s); ratio new/old {med_new / med_old:.3f}; "
          + ("outputs identical" if same else "outputs differ"))
    if not same:
        for side, out in (("old", out_old), ("new", out_new)):
            print(f"{side}: {_routed(out)}")
    return 0


def _routed(out: tuple) -> str:
    """What a ``_route_batch`` result placed: units, parcels, cost, and orders by parcel count."""
    qty, costs, ships = out[2], out[5], out[6]
    by_ships = np.bincount(ships, minlength=4)
    return (f"{int(qty.sum()):,} units, {int(ships.sum()):,} parcels, cost {float(costs.sum()):,.2f}; "
            f"orders by parcels 0/1/2/3+: {by_ships[0]:,}/{by_ships[1]:,}/{by_ships[2]:,}/{int(by_ships[3:].sum()):,}")


if __name__ == "__main__":
    raise SystemExit(main())
