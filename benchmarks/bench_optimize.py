"""Batch optimization quality: greedy routing, dual-price routing and ``optimize`` on one wave.

Targets (issue #4), on a generated scenario of 10,000 orders x 200 nodes x
2,000 SKUs (:func:`sourcewise.data.generate.generate_scenario`: 20 warehouses, 170
stores, 10 vendors, one day of orders with its daily node capacities,
walk-in demand and vendor offers):

* ``optimize`` within 3 % of the proven bound in <= 30 s;
* >= 40 % fewer shipments beyond one per order than greedy routing;
* routing with LP dual prices cheaper than greedy routing.

Every method's allocations are priced by the same evaluator (the
optimizer's cost model: the router's costs, store depletion at the wave's
starting stock) so the figures compare like with like; units left unfilled
are charged each order's penalty (see :func:`sourcewise.engine.optimize.optimize`).
``bound`` is the best proven lower bound any ``optimize`` run found, and
``objective / bound`` and ``gap`` both leave out the penalty of the units no
plan can fill (a constant of every solution). ``dual`` uses LP prices
computed from this same wave, i.e. a perfect forecast.

Run::

    .venv/bin/python -m pytest benchmarks/bench_optimize.py --benchmark-only \\
        --benchmark-json=out/bench_optimize.json -q -s

``SOURCEWISE_BENCH_SIZE=smoke`` shrinks the scenario and the time limits;
``SOURCEWISE_BENCH_STRICT=1`` fails on a missed target.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from dataclasses import field

import numpy as np
import pandas as pd
import pytest

import sourcewise.engine.optimize as O
from benchmarks.conftest import bench_sizes
from sourcewise.engine.optimize.inputs import new_router
from sourcewise.engine.optimize.inputs import prepare
from sourcewise.engine.optimize.problem import Problem
from sourcewise.engine.optimize.problem import build_problem
from sourcewise.engine.optimize.results import tables
from sourcewise.engine.scenario import build_router
from sourcewise.engine.scenario import load_scenario

FULL = dict(n_warehouses=20, n_stores=170, n_vendors=10, n_skus=2000, orders_per_day=10_000, days=1, seed=1)
SMOKE = dict(n_warehouses=3, n_stores=8, n_vendors=2, n_skus=120, orders_per_day=300, days=1, seed=1)
LIMITS_FULL = (10.0, 30.0, 60.0)
LIMITS_SMOKE = (1.0, 2.0, 4.0)


@dataclass(eq=False)
class Wave:
    scenario: object
    offers: object
    evaluator: Problem
    rows: dict = field(default_factory=dict)
    bound: float = -np.inf


def _offers(sc):
    from sourcewise.engine.vendors import VendorOffers

    return VendorOffers.from_frame(sc.network, sc.tables["vendor_offers"]) if "vendor_offers" in sc.tables else None


@pytest.fixture(scope="module")
def wave(tmp_path_factory) -> Wave:
    from sourcewise.data.generate import generate_scenario
    from sourcewise.data.generate import write_scenario

    params = FULL if bench_sizes().name == "full" else SMOKE
    folder = tmp_path_factory.mktemp("wave")
    write_scenario(generate_scenario(**params), folder, "parquet")
    sc = load_scenario(folder)
    offers = _offers(sc)
    # compile every kernel first, on a slice of the wave
    O.optimize(sc.orders.take(np.arange(min(50, sc.orders.n_orders))), sc.network, sc.inventory, sc.policy,
               5.0, walkin=sc.tables.get("walkin"), vendor_offers=offers)
    build_router(sc).route_many(sc.orders.take(np.arange(20)), strategy="dual")
    batch, policy, cap_o, cap_u = prepare(sc.orders, sc.network, sc.inventory, sc.policy, 1.0, "highs", None,
                                             None, None)
    router = new_router(sc.network, sc.inventory, policy, sc.tables.get("walkin"), offers)
    ev = build_problem(batch, sc.network, sc.inventory, policy, router.stock_view(), cap_o, cap_u, None, 1000, 0)
    return Wave(sc, offers, ev)


def _figures(w: Wave, allocations: pd.DataFrame, seconds: float) -> dict:
    ev = w.evaluator
    cols = ev.add_allocations(allocations)
    assert ev.master.feasible(cols), "a method broke stock or capacity"
    _, orders, _ = tables(ev, cols)
    unfilled = orders["unfilled"].to_numpy()
    shipped = orders[orders["units"] > 0]
    return {
        "cost": float(orders["cost"].sum()),
        "objective": float(orders["cost"].sum() + ev.penalty @ unfilled),
        "shipments_per_order": float(shipped["shipments"].mean()),
        "extra_shipments": int(np.maximum(shipped["shipments"].to_numpy() - 1, 0).sum()),
        "units_unfilled": int(unfilled.sum()),
        "seconds": seconds,
    }


def _record(benchmark, w: Wave, name: str, row: dict) -> None:
    w.rows[name] = row
    benchmark.extra_info.update(row)


def test_greedy_cost_routing(benchmark, wave):
    sc = wave.scenario

    def run():
        t = time.perf_counter()
        res = build_router(sc).route_many(sc.orders, strategy="cost")
        return res, time.perf_counter() - t

    res, s = benchmark.pedantic(run, rounds=1, iterations=1)
    _record(benchmark, wave, "greedy (cost)", _figures(wave, res.allocations, s))


def test_dual_price_routing(benchmark, wave):
    sc = wave.scenario
    limit = LIMITS_FULL[1] if bench_sizes().name == "full" else LIMITS_SMOKE[1]

    def run():
        t = time.perf_counter()
        prices = O.dual_prices(sc.orders, sc.network, sc.inventory, sc.policy, limit,
                               walkin=sc.tables.get("walkin"), vendor_offers=wave.offers)
        t_lp = time.perf_counter() - t
        router = build_router(sc)
        router.set_dual_prices(prices)
        res = router.route_many(sc.orders, strategy="dual")
        return res, time.perf_counter() - t, t_lp

    res, s, t_lp = benchmark.pedantic(run, rounds=1, iterations=1)
    row = _figures(wave, res.allocations, s)
    row["lp_seconds"] = t_lp
    _record(benchmark, wave, "dual (LP prices)", row)


@pytest.mark.parametrize("slot", [0, 1, 2])
def test_optimize(benchmark, wave, slot):
    sc = wave.scenario
    limit = (LIMITS_FULL if bench_sizes().name == "full" else LIMITS_SMOKE)[slot]

    def run():
        t = time.perf_counter()
        plan = O.optimize(sc.orders, sc.network, sc.inventory, sc.policy, limit, walkin=sc.tables.get("walkin"),
                          vendor_offers=wave.offers)
        return plan, time.perf_counter() - t

    plan, s = benchmark.pedantic(run, rounds=1, iterations=1)
    row = _figures(wave, plan.allocations, s)
    assert row["objective"] == pytest.approx(plan.objective, rel=1e-9)
    row.update(bound=plan.lower_bound, status=plan.status, source=plan.solve_log.source,
               pricing_rounds=plan.solve_log.cg_iterations)
    wave.bound = max(wave.bound, plan.lower_bound)
    _record(benchmark, wave, f"optimize {limit:g} s", row)


def test_report(benchmark, wave):
    """Print the table (and check the targets under ``SOURCEWISE_BENCH_STRICT=1``).

    Uses ``benchmark`` only so that ``--benchmark-only`` runs it; the table is
    also stored in its ``extra_info``.
    """
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    ev = wave.evaluator
    rows = wave.rows
    const = ev.constant
    out = []
    for name, r in rows.items():
        ratio = (r["objective"] - const) / (wave.bound - const)
        out.append({"method": name, "cost": r["cost"], "objective": r["objective"], "bound": wave.bound,
                    "obj/bound": ratio, "ships/order": r["shipments_per_order"],
                    "extra ships": r["extra_shipments"], "unfilled": r["units_unfilled"], "time s": r["seconds"]})
    table = pd.DataFrame(out)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"\n{ev.G.n:,} orders x {ev.net.n_nodes} nodes x {ev.net.n_skus:,} SKUs; "
              f"{int(ev.short.sum()):,} units unservable (penalty {const:,.0f} left out of obj/bound)")
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    greedy = rows["greedy (cost)"]
    timed = [r for n, r in rows.items() if n.startswith("optimize") and r["seconds"] <= 31]
    checks = {
        "optimize <= 30 s within 3 % of bound": bool(timed) and min(
            (r["objective"] - const) / (wave.bound - const) for r in timed) <= 1.03,
        ">= 40 % fewer extra shipments": min(r["extra_shipments"] for n, r in rows.items()
                                             if n.startswith("optimize")) <= 0.6 * greedy["extra_shipments"],
        "dual cheaper than greedy": rows["dual (LP prices)"]["objective"] < greedy["objective"],
    }
    for k, ok in checks.items():
        print(f"  {'met   ' if ok else 'MISSED'} {k}")
    benchmark.extra_info.update(table=out, targets=checks)
    if os.environ.get("SOURCEWISE_BENCH_STRICT") == "1":
        assert all(checks.values()), checks
