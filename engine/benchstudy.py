"""Scaling study and side-by-side baselines (``python cli.py bench``).

The study routes generated instances (:mod:`sourcewise.data.instances`: real US
geography, Zipf SKU popularity, sparse stock) with ``Router.route_many`` and
sweeps one size at a time:

* **orders** 10^3 .. 10^6 (nodes and SKUs fixed),
* **nodes** 10 .. 2,000 (orders and SKUs fixed),
* **SKUs** 10^3 .. 10^5 (orders and nodes fixed).

Every point is the median of repeated runs on a fresh router, after the
kernels were compiled. A least-squares fit of ``log(time)`` on
``log(size)`` gives each sweep's scaling exponent.

Baselines, each measured in the same run so every figure comes with a ratio:

1. **naive**: :class:`sourcewise.engine.naive.NaiveRouter`, the per-line nearest-node
   router a typical in-house team writes (pure-Python haversine to every
   node; also its numpy variant), on a sample of the same order stream;
2. **mip**: the textbook fixed-charge MIP of a small wave solved by OR-Tools
   (SCIP, else CP-SAT) under a time limit, against the engine's sequential
   ``cost`` strategy and, when :mod:`sourcewise.engine.optimize` exists, its optimizer
   under the same limit; compared on cost and time;
3. **nojit**: the engine with ``NUMBA_DISABLE_JIT=1`` on a small size, in a
   subprocess, against the compiled engine on the same instance.

The full study also measures the scoring kernel and the peak RSS of routing
10^6 orders over 2,000 nodes and 10^5 SKUs in a subprocess.

Outputs (in ``--out``): ``bench_study.csv``, ``bench_study.png`` (log-log
plot with fitted exponents), ``bench_study.md`` (tables) and
``bench_study.json`` (everything, with the machine).
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sourcewise.data.instances import Instance
from sourcewise.data.instances import build_instance
from sourcewise.data.instances import slice_orders
from sourcewise.data.instances import to_frames
from sourcewise.engine import _kernels as K
from sourcewise.engine.naive import NaiveRouter
from sourcewise.engine.router import Router
from sourcewise.models.network import unit_vectors


@dataclass(frozen=True)
class Point:
    """One configuration of the study.

    Attributes
    ----------
    sweep : str
        ``orders``, ``nodes``, ``skus`` or ``ratio`` (the naive-ratio anchor).
    n_orders, n_nodes, n_skus : int
    repeats : int
        Timed runs; the median is reported.
    naive_orders : int
        Orders routed by the naive baselines (0: none).
    """

    sweep: str
    n_orders: int
    n_nodes: int
    n_skus: int
    repeats: int
    naive_orders: int = 0


def plan(quick: bool) -> list[Point]:
    """The configurations of a quick or a full study."""
    if quick:
        pts = [Point("orders", n, 50, 1_000, 3) for n in (300, 1_000, 3_000)]
        pts += [Point("nodes", 1_000, n, 1_000, 3, naive_orders=50) for n in (10, 50, 200)]
        pts += [Point("skus", 1_000, 50, s, 3) for s in (1_000, 10_000)]
        pts += [Point("ratio", 3_000, 200, 1_000, 3, naive_orders=100)]
        return pts
    pts = [Point("orders", n, 200, 10_000, r) for n, r in ((1_000, 5), (10_000, 3), (100_000, 3), (1_000_000, 1))]
    pts += [Point("nodes", 10_000, n, 10_000, 3, naive_orders=200) for n in (10, 30, 100, 300, 1_000, 2_000)]
    pts += [Point("skus", 10_000, 200, s, 3) for s in (1_000, 10_000, 100_000)]
    pts += [Point("ratio", 100_000, 1_000, 100_000, 3, naive_orders=1_000)]
    return pts


# --------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    """CPU model, core counts and library versions of this machine."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    import numba

    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu_model": model, "logical_cpus": os.cpu_count(), "usable_cpus": usable, "memory_gb": mem_gb,
        "numba_threads": numba.get_num_threads(), "python": platform.python_version(),
        "numpy": np.__version__, "numba": numba.__version__, "pandas": pd.__version__,
        "platform": platform.platform(), "load_avg_at_start": load,
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 1024 ** 2


# ------------------------------------------------------------------- measuring
def _warm(inst: Instance) -> None:
    """Compile every kernel route_many uses before timing."""
    Router(inst.network, inst.inventory).route_many(slice_orders(inst.orders, 0, min(100, inst.orders.n_orders)))


def time_engine(inst: Instance, repeats: int) -> tuple[list[float], pd.DataFrame]:
    """Seconds of ``route_many`` over all orders, each run on a fresh router.

    Returns
    -------
    times : list of float
    orders : DataFrame
        The last run's per-order table (status, shipments, cost).
    """
    _warm(inst)
    times: list[float] = []
    last = None
    for _ in range(repeats):
        router = Router(inst.network, inst.inventory)
        gc.collect()
        t0 = time.perf_counter()
        res = router.route_many(inst.orders)
        times.append(time.perf_counter() - t0)
        last = res.orders
        del router, res
    return times, last


def time_naive(inst: Instance, n_orders: int, distance: str, repeats: int = 1) -> float:
    """Microseconds per order of the naive router on the first ``n_orders`` orders.

    Its inventory table is cut to the SKUs those orders ask for (the naive
    router never reads other SKUs: only its set-up time changes).
    """
    fr = to_frames(inst, n_orders)
    inv = fr["inventory"].loc[fr["inventory"]["sku"].isin(set(fr["orders"]["sku"]))]
    times = []
    for _ in range(repeats):
        nr = NaiveRouter(fr["nodes"], inv, fr["skus"], distance=distance)
        t0 = time.perf_counter()
        nr.route_frame(fr["orders"])
        times.append(time.perf_counter() - t0)
    n = min(n_orders, inst.orders.n_orders)
    return float(np.median(times)) / n * 1e6


def measure_point(p: Point, seed: int = 0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build, route and (optionally) run the naive baselines for one point."""
    t0 = time.perf_counter()
    inst = build_instance(p.n_orders, p.n_nodes, p.n_skus, seed=seed)
    build_s = time.perf_counter() - t0
    times, orders = time_engine(inst, p.repeats)
    med = float(np.median(times))
    row: dict[str, Any] = {
        **asdict(p), "nnz": inst.inventory.nnz, "lines": inst.orders.n_lines, "build_s": build_s,
        "engine_s_median": med, "engine_s_min": float(np.min(times)),
        "engine_s_all": ";".join(f"{t:.4f}" for t in times),
        "orders_per_s": p.n_orders / med, "us_per_order": med / p.n_orders * 1e6,
        "routed_share": float((orders["status"] == "routed").mean()),
        "shipments_per_order": float(orders["shipments"].mean()),
        "cost_per_order": float(orders["cost"].mean()),
    }
    if p.naive_orders:
        n = min(p.naive_orders, p.n_orders)
        row["naive_orders_timed"] = n
        row["naive_us_per_order"] = time_naive(inst, n, "python")
        row["naive_numpy_us_per_order"] = time_naive(inst, n, "numpy")
        row["ratio_naive"] = row["naive_us_per_order"] / row["us_per_order"]
        row["ratio_naive_numpy"] = row["naive_numpy_us_per_order"] / row["us_per_order"]
    log(f"  {p.sweep:6s} {p.n_orders:>9,} orders {p.n_nodes:>5,} nodes {p.n_skus:>7,} skus: "
        f"{med:8.3f} s median of {p.repeats} ({row['orders_per_s']:,.0f} orders/s)"
        + (f", naive x{row['ratio_naive']:.0f} (numpy x{row['ratio_naive_numpy']:.0f})" if p.naive_orders else ""))
    return row


#: Fewest points an exponent is fitted to: a line through two points always fits, and says nothing.
MIN_FIT_POINTS = 3


def fit_exponent(x: list[float] | np.ndarray, y: list[float] | np.ndarray) -> tuple[float, float]:
    """Least-squares ``log y = a + b log x``; returns ``(b, a)`` (``nan`` for fewer than :data:`MIN_FIT_POINTS` points)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = (x > 0) & (y > 0)
    if ok.sum() < MIN_FIT_POINTS:
        return math.nan, math.nan
    b, a = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(b), float(a)


SWEEP_AXIS = {"orders": "n_orders", "nodes": "n_nodes", "skus": "n_skus"}


def exponents(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Fitted exponent of median routing time in each sweep's size."""
    out = {}
    for sweep, axis in SWEEP_AXIS.items():
        pts = [r for r in rows if r["sweep"] == sweep]
        out[sweep] = fit_exponent([r[axis] for r in pts], [r["engine_s_median"] for r in pts])[0]
    return out


# ------------------------------------------------------------------ subprocess
def _worker_env(nojit: bool) -> dict[str, str]:
    # the worker imports the installed package, as this process does
    env = dict(os.environ)
    if nojit:
        env["NUMBA_DISABLE_JIT"] = "1"
    else:
        env.pop("NUMBA_DISABLE_JIT", None)
    return env


def run_worker(args: list[str], nojit: bool = False, timeout: float = 1800) -> dict[str, Any]:
    """Run ``python -m sourcewise.engine.benchstudy --worker ...`` and parse its JSON line."""
    cmd = [sys.executable, "-m", "sourcewise.engine.benchstudy", *args]
    try:
        proc = subprocess.run(cmd, env=_worker_env(nojit), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"killed after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-600:]}"}


def worker_route(n_orders: int, n_nodes: int, n_skus: int, repeats: int, warm: bool, seed: int = 0) -> dict:
    """Body of ``--worker route``: time route_many; report peak RSS."""
    t0 = time.perf_counter()
    inst = build_instance(n_orders, n_nodes, n_skus, seed=seed)
    build_s = time.perf_counter() - t0
    rss_built = peak_rss_mb()
    if warm:
        _warm(inst)
    times = []
    status = {}
    for _ in range(repeats):
        router = Router(inst.network, inst.inventory)
        t0 = time.perf_counter()
        res = router.route_many(inst.orders)
        times.append(time.perf_counter() - t0)
        status = res.orders["status"].value_counts().to_dict()
        del router, res
    med = float(np.median(times))
    return {"n_orders": n_orders, "n_nodes": n_nodes, "n_skus": n_skus, "nnz": inst.inventory.nnz,
            "build_s": build_s, "route_s_median": med, "route_s_all": times,
            "us_per_order": med / n_orders * 1e6, "orders_per_s": n_orders / med,
            "peak_rss_mb_after_build": rss_built, "peak_rss_mb": peak_rss_mb(), "status": status,
            "jit": os.environ.get("NUMBA_DISABLE_JIT", "0") != "1"}


def nojit_baseline(quick: bool, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The engine with and without numba on one small instance, each in a subprocess."""
    size = (100, 50, 1_000) if quick else (300, 100, 5_000)
    args = ["--worker", "route", "--orders", str(size[0]), "--nodes", str(size[1]), "--skus", str(size[2])]
    jit = run_worker([*args, "--repeats", "3"])
    nojit = run_worker([*args, "--repeats", "1", "--no-warm"], nojit=True)
    out = {"n_orders": size[0], "n_nodes": size[1], "n_skus": size[2], "jit": jit, "nojit": nojit}
    if "error" not in jit and "error" not in nojit:
        out["ratio"] = nojit["us_per_order"] / jit["us_per_order"]
        log(f"  nojit  {size[0]} orders x {size[1]} nodes x {size[2]} skus: compiled "
            f"{jit['us_per_order']:.1f} us/order, NUMBA_DISABLE_JIT=1 {nojit['us_per_order']:.0f} us/order "
            f"(x{out['ratio']:.0f})")
    else:
        log(f"  nojit  failed: {jit.get('error') or nojit.get('error')}")
    return out


def memory_run(log: Callable[[str], None] = print, size: tuple[int, int, int] = (1_000_000, 2_000, 100_000)
               ) -> dict[str, Any]:
    """Peak RSS of building and routing the largest instance, in a subprocess."""
    out = run_worker(["--worker", "route", "--orders", str(size[0]), "--nodes", str(size[1]),
                      "--skus", str(size[2]), "--repeats", "1"])
    if "error" in out:
        log(f"  memory failed: {out['error']}")
    else:
        log(f"  memory {size[0]:,} orders x {size[1]:,} nodes x {size[2]:,} skus: peak RSS "
            f"{out['peak_rss_mb']:,.0f} MiB ({out['orders_per_s']:,.0f} orders/s, build {out['build_s']:.0f} s)")
    return out


# ------------------------------------------------------------------------- MIP
def wave_instance(quick: bool, seed: int = 3) -> Instance:
    """A wave with scarce stock: many orders share few SKUs, own nodes only.

    Stock covers about 70 % of the wave's demand, so orders compete for it
    and the order-by-order engine and a whole-wave model can disagree.
    """
    n = (20, 10, 15) if quick else (150, 40, 60)
    # build_instance sizes stock for at least 1,000 orders: scale the cover down to the wave
    cover = 0.7 * n[0] / max(n[0], 1000)
    return build_instance(n[0], n[1], n[2], seed=seed, stock_cover=cover, vendors=False)


def _cost_model(inst: Instance, policy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernels' node matrix, SKU matrix and parameter vector for ``inst`` under ``policy``."""
    nodef = K.pack_nodes(inst.network)
    return nodef, K.pack_skus(inst.network), K.cost_params(policy, nodef)


def _row_costs(inst: Instance, model: tuple, o: np.ndarray, n: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Real unit cost of rows (order ``o``, node ``n``, SKU ``s``): the engine's own cost helpers,
    with the node's fee rate on the SKU's price as the vendor fee."""
    net = inst.network
    nodef, skuf, params = model
    dest = unit_vectors(inst.orders.lat[o], inst.orders.lon[o]).reshape(-1, 3)
    fee = net.fee_rate[n] * net.price[s]
    return K.real_unit_costs(np.ascontiguousarray(dest), n.astype(np.int64), s.astype(np.int64),
                             np.ascontiguousarray(fee, dtype=np.float64), nodef, skuf, params)


def plan_cost(inst: Instance, policy, alloc: pd.DataFrame) -> tuple[float, int]:
    """Cost and units of allocations ``order_id, sku, node_id, qty`` under the engine's cost model.

    Per shipment (order, node): ``per_shipment + handling_per_shipment``; per
    unit: ``per_unit + per_unit_mile * miles + handling_per_unit + fee_rate *
    price + per_kg * weight``; ``split_penalty`` per extra shipment. Priced by
    the kernels' cost helpers (:mod:`sourcewise.engine._kernels.cost`).
    """
    net = inst.network
    o_pos = {oid: i for i, oid in enumerate(inst.orders.order_id)}
    n_pos = net.node_index
    s_pos = net.sku_index
    if len(alloc) == 0:
        return 0.0, 0
    o = np.array([o_pos[x] for x in alloc["order_id"]], np.int64)
    n = np.array([n_pos[x] for x in alloc["node_id"]], np.int64)
    s = np.array([s_pos[x] for x in alloc["sku"]], np.int64)
    q = alloc["qty"].to_numpy(np.int64)
    model = _cost_model(inst, policy)
    cost = float((q * _row_costs(inst, model, o, n, s)).sum())
    ships = pd.DataFrame({"o": o, "n": n}).drop_duplicates()
    nodef, _, params = model
    cost += float(K.parcel_costs(ships["n"].to_numpy().astype(np.int64), nodef, params).sum())
    per_order = ships.groupby("o").size().to_numpy()
    cost += policy.split_penalty * float(np.maximum(per_order - 1, 0).sum())
    return cost, int(q.sum())


def solve_mip(inst: Instance, policy, time_limit: float) -> dict[str, Any]:
    """Textbook fixed-charge MIP of the whole wave with OR-Tools (SCIP, else CP-SAT).

    Variables ``x[o,g,n]`` (integer units of order ``o``'s SKU group ``g`` from
    node ``n``), ``y[o,n]`` (binary: order ``o`` opens a shipment at ``n``),
    ``u[o,g]`` (unfilled units). Minimise fixed and unit costs plus a penalty
    per unfilled unit larger than any unit's cost (fill first, as the engine
    does) subject to demand, ``x <= min(q, atp) y``, stock per (node, SKU)
    shared by the wave, and ``sum_n y[o,n] <= k_o``.
    """
    from ortools.linear_solver import pywraplp

    net, inv, b = inst.network, inst.inventory, inst.orders
    atp = inv.atp_array()
    ent_by_sku = {s: range(int(inv.sku_ptr[s]), int(inv.sku_ptr[s + 1])) for s in set(b.sku.tolist())}
    solver = pywraplp.Solver.CreateSolver("SCIP")
    backend = "SCIP"
    if solver is None:
        solver = pywraplp.Solver.CreateSolver("CP_SAT")
        backend = "CP-SAT"
    if solver is None:
        return {"error": "neither SCIP nor CP-SAT is available in this OR-Tools build"}
    solver.SetTimeLimit(int(time_limit * 1000))
    # above the dearest way to ship one more unit (a new parcel plus its unit
    # cost), so filling always wins, yet small enough that the solver's gap
    # tolerance does not swallow real cost differences
    penalty = 100.0
    obj = solver.Objective()
    x_of: dict[tuple[int, int], list] = {}
    use_per_entry: dict[int, list] = {}
    y: dict[tuple[int, int], Any] = {}
    groups = []
    for o in range(b.n_orders):
        lines: dict[int, int] = {}
        for j in range(int(b.line_ptr[o]), int(b.line_ptr[o + 1])):
            lines[int(b.sku[j])] = lines.get(int(b.sku[j]), 0) + int(b.qty[j])
        for s, q in lines.items():
            groups.append((o, s, q))
    # every (group, entry) the model may use, priced in one call of the engine's cost helpers
    rows = [(gi, o, s, q, int(e), int(inv.node[e])) for gi, (o, s, q) in enumerate(groups) for e in ent_by_sku[s]
            if min(q, int(atp[e])) > 0 and net.usable[int(inv.node[e])]]
    arr = np.array([(o, n, s) for _, o, s, _, _, n in rows], np.int64).reshape(-1, 3)
    model = _cost_model(inst, policy)
    unit_of = _row_costs(inst, model, arr[:, 0], arr[:, 1], arr[:, 2]) if len(rows) else np.empty(0)
    fixed = K.parcel_costs(np.arange(net.n_nodes, dtype=np.int64), model[0], model[2])
    by_group: dict[int, list[tuple[int, int, float]]] = {}
    for (gi, _, _, _, e, n), unit in zip(rows, unit_of.tolist(), strict=True):
        by_group.setdefault(gi, []).append((e, n, unit))
    for gi, (o, _, q) in enumerate(groups):
        u = solver.IntVar(0, q, f"u{gi}")
        obj.SetCoefficient(u, penalty)
        terms = [u]
        for e, n, unit in by_group.get(gi, ()):
            cap = min(q, int(atp[e]))
            if (o, n) not in y:
                y[(o, n)] = solver.BoolVar(f"y{o}_{n}")
                obj.SetCoefficient(y[(o, n)], float(fixed[n]) + policy.split_penalty)
            x = solver.IntVar(0, cap, f"x{gi}_{n}")
            obj.SetCoefficient(x, float(unit))
            solver.Add(x <= cap * y[(o, n)])
            terms.append(x)
            use_per_entry.setdefault(e, []).append(x)
            x_of.setdefault((gi, n), []).append(x)
        solver.Add(solver.Sum(terms) == q)
    for e, xs in use_per_entry.items():
        if len(xs) > 1:
            solver.Add(solver.Sum(xs) <= int(atp[e]))
    k = np.where(b.max_shipments > 0, b.max_shipments, policy.max_shipments)
    by_order: dict[int, list] = {}
    for (o, _n), var in y.items():
        by_order.setdefault(o, []).append(var)
    for o, ys in by_order.items():
        solver.Add(solver.Sum(ys) <= int(k[o]))
    obj.SetMinimization()
    prm = pywraplp.MPSolverParameters()
    prm.SetDoubleParam(pywraplp.MPSolverParameters.RELATIVE_MIP_GAP, 1e-9)
    t0 = time.perf_counter()
    status = solver.Solve(prm)
    wall = time.perf_counter() - t0
    names = {pywraplp.Solver.OPTIMAL: "optimal", pywraplp.Solver.FEASIBLE: "feasible",
             pywraplp.Solver.INFEASIBLE: "infeasible", pywraplp.Solver.NOT_SOLVED: "not solved"}
    out: dict[str, Any] = {"backend": backend, "status": names.get(status, str(status)), "seconds": wall,
                           "variables": solver.NumVariables(), "constraints": solver.NumConstraints()}
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return out
    rows = []
    node_ids = [nd.node_id for nd in net.nodes]
    sku_ids = [sk.sku for sk in net.skus]
    for (gi, n), xs in x_of.items():
        q = int(round(sum(v.solution_value() for v in xs)))
        if q:
            o, s, _ = groups[gi]
            rows.append((b.order_id[o], sku_ids[s], node_ids[n], q))
    alloc = pd.DataFrame(rows, columns=["order_id", "sku", "node_id", "qty"])
    out["cost"], out["units"] = plan_cost(inst, policy, alloc)
    try:
        bound = solver.Objective().BestBound()
        val = solver.Objective().Value()
        # relative to the shipping cost, not to the unfilled-unit penalty
        out["gap"] = abs(val - bound) / max(out["cost"], 1e-9)
    except Exception:  # noqa: BLE001 - some backends do not report a bound
        pass
    return out


def call_optimize(inst: Instance, time_limit: float, policy=None) -> dict[str, Any]:
    """Call :func:`sourcewise.engine.optimize.optimize` on the wave, adapting to its signature.

    Arguments are passed by name where the signature names them (network,
    inventory, orders/batch/wave, policy, time limit). The result's
    allocations (a DataFrame or an object with ``allocations``) are priced
    with :func:`plan_cost`.

    Returns
    -------
    dict
        ``seconds``, ``cost``, ``units``, or ``error`` when the optimizer is
        missing or its interface is not understood.
    """
    from sourcewise.models.policy import Policy

    policy = policy or Policy()
    try:
        from sourcewise.engine.optimize import optimize
    except ImportError as exc:
        return {"error": f"sourcewise.engine.optimize unavailable ({exc})"}
    params = inspect.signature(optimize).parameters
    values = {"network": inst.network, "net": inst.network, "inventory": inst.inventory, "inv": inst.inventory,
              "orders": inst.orders, "batch": inst.orders, "wave": inst.orders, "policy": policy,
              "time_limit": time_limit, "time_limit_s": time_limit, "seconds": time_limit}
    kwargs, args = {}, []
    for name, prm in params.items():
        if name in values:
            if prm.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(values[name])
            else:
                kwargs[name] = values[name]
    try:
        t0 = time.perf_counter()
        res = optimize(*args, **kwargs)
        wall = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - report, do not fail the study
        return {"error": f"{type(exc).__name__}: {exc}"}
    alloc = res if isinstance(res, pd.DataFrame) else getattr(res, "allocations", None)
    if not isinstance(alloc, pd.DataFrame) or not {"order_id", "sku", "node_id", "qty"} <= set(alloc.columns):
        return {"seconds": wall, "error": f"result {type(res).__name__} has no allocations table"}
    cost, units = plan_cost(inst, policy, alloc)
    return {"seconds": wall, "cost": cost, "units": units}


def mip_baseline(quick: bool, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Engine (sequential ``cost``; ``optimize`` if present) vs the fixed-charge MIP on one wave."""
    from sourcewise.models.policy import Policy

    policy = Policy()
    limit = 2.0 if quick else 20.0
    inst = wave_instance(quick)
    _warm(inst)
    router = Router(inst.network, inst.inventory, policy)
    t0 = time.perf_counter()
    res = router.route_many(inst.orders)
    seq_s = time.perf_counter() - t0
    seq_cost, seq_units = plan_cost(inst, policy, res.allocations)
    out: dict[str, Any] = {
        "n_orders": inst.orders.n_orders, "n_nodes": inst.network.n_nodes, "n_skus": inst.network.n_skus,
        "time_limit_s": limit,
        "engine_sequential": {"seconds": seq_s, "cost": seq_cost, "units": seq_units},
    }
    if quick:
        # compiling the optimizer's kernels from a cold cache alone takes longer
        # than the quick study's whole budget
        out["engine_optimize"] = {"error": "skipped in --quick (run the full study)"}
    else:
        # in a subprocess with a hard timeout: the study's budget must hold even
        # if the optimizer overruns its own limit
        out["engine_optimize"] = run_worker(["--worker", "optimize", "--time-limit", str(limit)],
                                            timeout=120 + 4 * limit)
    try:
        out["mip"] = solve_mip(inst, policy, limit)
    except Exception as exc:  # noqa: BLE001 - a missing solver must not sink the study
        out["mip"] = {"error": f"{type(exc).__name__}: {exc}"}
    mip = out["mip"]
    if "cost" in mip:
        log(f"  mip    {out['n_orders']} orders x {out['n_nodes']} nodes: {mip['backend']} {mip['status']} "
            f"cost {mip['cost']:.2f} for {mip['units']} units in {mip['seconds']:.2f} s; engine sequential "
            f"cost {seq_cost:.2f} for {seq_units} units in {seq_s * 1e3:.1f} ms")
    else:
        log(f"  mip    {mip}")
    opt = out["engine_optimize"]
    if "cost" in opt:
        log(f"         engine optimize cost {opt['cost']:.2f} for {opt['units']} units in {opt['seconds']:.2f} s")
    return out


# --------------------------------------------------------------------- scoring
def scoring_measure(quick: bool, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Order x node scores per second of :func:`sourcewise.engine.scoring.proximity_scores` (reused buffer)."""
    from sourcewise.data.instances import us_places_sample
    from sourcewise.engine import scoring

    m, n = (512, 500) if quick else (4096, 2000)
    rng = np.random.default_rng(5)
    dlat, dlon = us_places_sample(m, rng, 0.25)
    nodes = us_places_sample(n, rng, 0.05)
    out: dict[str, Any] = {"orders": m, "nodes": n}
    for dt in (np.float64, np.float32):
        buf = np.empty((m, n), dtype=dt)
        scoring.proximity_scores(dlat, dlon, nodes, out=buf, dtype=dt)
        times = []
        for _ in range(15):
            t0 = time.perf_counter()
            scoring.proximity_scores(dlat, dlon, nodes, out=buf, dtype=dt)
            times.append(time.perf_counter() - t0)
        out[f"pairs_per_s_{np.dtype(dt).name}"] = m * n / float(np.median(times))
    log(f"  scoring {m} x {n}: {out['pairs_per_s_float64']:.3g} pairs/s (float64), "
        f"{out['pairs_per_s_float32']:.3g} (float32)")
    return out


# --------------------------------------------------------------------- outputs
def write_outputs(out: Path, rows: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Path]:
    """Write the CSV, PNG, Markdown and JSON files all or nothing; returns their paths."""
    from sourcewise.engine.scenario import staged_output

    names = {k: f"bench_study.{k}" for k in ("csv", "png", "md", "json")}
    with staged_output(out, ".bench-") as (stage, _):
        pd.DataFrame(rows).to_csv(stage / names["csv"], index=False)
        exps = exponents(rows)
        _plot(rows, exps, stage / names["png"])
        (stage / names["md"]).write_text(markdown(rows, exps, extra))
        (stage / names["json"]).write_text(json.dumps({"rows": rows, "exponents": exps, **extra}, indent=2,
                                                      default=str))
    return {k: out / name for k, name in names.items()}


def _size_label(v: float, _pos: Any = None) -> str:
    """Compact tick label of a size: 300, 3k, 1.5M."""
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def scaling_figure(rows: list[dict[str, Any]]):
    """The log-log scaling chart as a matplotlib Figure (one panel per sweep).

    Size ticks sit at the measured sizes only, with compact labels, and no
    minor tick is labelled, so labels never overlap. An exponent is fitted
    only to :data:`MIN_FIT_POINTS` points or more; a panel with fewer says so.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator
    from matplotlib.ticker import FuncFormatter
    from matplotlib.ticker import LogLocator
    from matplotlib.ticker import NullFormatter
    from matplotlib.ticker import NullLocator

    fig = Figure(figsize=(14, 4.4), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (sweep, axis) in zip(axes, SWEEP_AXIS.items(), strict=True):
        pts = sorted((r for r in rows if r["sweep"] == sweep), key=lambda r: r[axis])
        if not pts:
            ax.set_visible(False)
            continue
        x = np.array([r[axis] for r in pts], dtype=float)
        y = np.array([r["engine_s_median"] for r in pts], dtype=float)
        b, a = fit_exponent(x, y)
        ax.loglog(x, y, "o", label="route_many (median)")
        if not math.isnan(b):
            xs = np.geomspace(x.min(), x.max(), 50)
            ax.loglog(xs, np.exp(a) * xs ** b, "-", label=f"fit: time ~ size^{b:.2f}")
            ax.loglog(xs, y[0] * xs / x[0], ":", color="grey", label="linear reference")
        else:
            ax.text(0.5, 0.5, f"{len(pts)} point{'s' if len(pts) != 1 else ''}: too few to fit an exponent\n"
                              f"({MIN_FIT_POINTS} needed)", transform=ax.transAxes, ha="center", va="center",
                    fontsize=9, color="#a04000")
        ax.xaxis.set_major_locator(FixedLocator(np.unique(x)))
        ax.xaxis.set_major_formatter(FuncFormatter(_size_label))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(LogLocator(base=10, numticks=6))
        ax.yaxis.set_minor_formatter(NullFormatter())
        if len(np.unique(x)) == 1:
            ax.set_xlim(x[0] / 2, x[0] * 2)
        fixed = {k: v for k, v in (("orders", pts[0]["n_orders"]), ("nodes", pts[0]["n_nodes"]),
                                   ("SKUs", pts[0]["n_skus"])) if k.lower() != sweep}
        ax.set_title(f"time vs {sweep} ({', '.join(f'{v:,} {k}' for k, v in fixed.items())})", fontsize=9)
        ax.set_xlabel(sweep)
        ax.set_ylabel("seconds")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Sourcewise route_many scaling (log-log)")
    return fig


def _plot(rows: list[dict[str, Any]], exps: dict[str, float], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = scaling_figure(rows)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110)


def _fmt(v: Any, spec: str = ",.0f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def _ratio(v: Any, spec: str) -> str:
    s = _fmt(v, spec)
    return s if s == "-" else f"x{s}"


def _measured(title: str, result: dict[str, Any] | None, done: str, describe: Callable[[dict[str, Any]], str],
              error: Callable[[dict[str, Any]], Any]) -> list[str]:
    """The Markdown section of one optional measurement of the study.

    Parameters
    ----------
    title : str
        The section's heading.
    result : dict, optional
        What the study recorded; no section when it is empty or missing.
    done : str
        A key only a finished measurement has: a failed one records its error instead of its figures.
    describe : callable
        The paragraph of a finished measurement.
    error : callable
        Why a failed one failed.

    Returns
    -------
    list of str
        The section's lines.
    """
    if not result:
        return []
    return ["", f"## {title}", "", describe(result) if done in result else f"failed: {error(result)}"]


def _nojit_text(nj: dict[str, Any]) -> str:
    """The compiled against interpreted comparison, as one paragraph."""
    return (f"{nj['n_orders']} orders x {nj['n_nodes']} nodes x {nj['n_skus']} SKUs: compiled "
            f"{nj['jit']['us_per_order']:.1f} us/order, interpreted {nj['nojit']['us_per_order']:,.0f} "
            f"us/order: **x{nj['ratio']:,.0f}**.")


def _memory_text(mem: dict[str, Any]) -> str:
    """The peak-memory measurement, as one paragraph."""
    return (f"{mem['n_orders']:,} orders x {mem['n_nodes']:,} nodes x {mem['n_skus']:,} SKUs "
            f"({mem['nnz']:,} stock entries): peak RSS **{mem['peak_rss_mb']:,.0f} MiB** "
            f"({mem['peak_rss_mb_after_build']:,.0f} MiB after building the instance); route_many "
            f"{mem['route_s_median']:.1f} s ({mem['orders_per_s']:,.0f} orders/s).")


def markdown(rows: list[dict[str, Any]], exps: dict[str, float], extra: dict[str, Any]) -> str:
    """The study as Markdown tables."""
    m = extra.get("machine", {})
    lines = [f"# Scaling study ({extra.get('mode', '?')})", "",
             f"Machine: {m.get('cpu_model', '?')}, {m.get('usable_cpus', '?')} usable cores, "
             f"{m.get('memory_gb', '?')} GB; numba threads {m.get('numba_threads', '?')}; "
             f"load average at start {m.get('load_avg_at_start')}. "
             f"Study wall time {extra.get('wall_s', 0):.0f} s.", "",
             "## route_many (median of repeated runs, fresh router each)", "",
             "| sweep | orders | nodes | SKUs | stock entries | runs | median s | orders/s | us/order "
             "| routed | naive us/order | ratio | naive-numpy us/order | ratio |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['sweep']} | {r['n_orders']:,} | {r['n_nodes']:,} | {r['n_skus']:,} | {r['nnz']:,} | "
            f"{r['repeats']} | {r['engine_s_median']:.3f} | {r['orders_per_s']:,.0f} | {r['us_per_order']:.1f} | "
            f"{r['routed_share']:.1%} | {_fmt(r.get('naive_us_per_order'), ',.0f')} | "
            f"{_ratio(r.get('ratio_naive'), ',.0f')} | {_fmt(r.get('naive_numpy_us_per_order'), ',.0f')} | "
            f"{_ratio(r.get('ratio_naive_numpy'), ',.1f')} |")
    lines += ["", "## Scaling exponents (least squares on log-log)", "",
              "| sweep | exponent of time in size |", "|---|---:|"]
    lines += [f"| {k} | {_fmt(v, '.2f')} |" for k, v in exps.items()]
    lines += ["", f"An exponent is fitted only to {MIN_FIT_POINTS} sizes or more; '-' marks a sweep with fewer."]
    # either run can be the one that failed
    lines += _measured("Compiled vs NUMBA_DISABLE_JIT=1", extra.get("nojit"), "ratio", _nojit_text,
                       lambda nj: nj.get("jit", {}).get("error") or nj.get("nojit", {}).get("error"))
    mip = extra.get("mip")
    if mip:
        lines += ["", f"## Fixed-charge MIP vs engine ({mip.get('n_orders')} orders x {mip.get('n_nodes')} "
                      f"nodes x {mip.get('n_skus')} SKUs, time limit {mip.get('time_limit_s')} s)", "",
                  "| method | status | seconds | cost | units |", "|---|---|---:|---:|---:|"]
        seq = mip["engine_sequential"]
        lines.append(f"| engine route_many (cost strategy, sequential) | done | {seq['seconds']:.4f} | "
                     f"{seq['cost']:.2f} | {seq['units']} |")
        opt = mip.get("engine_optimize", {})
        if "cost" in opt:
            lines.append(f"| engine optimize | done | {opt['seconds']:.3f} | {opt['cost']:.2f} | {opt['units']} |")
        else:
            lines.append(f"| engine optimize | {opt.get('error', 'n/a')} | - | - | - |")
        mp = mip.get("mip", {})
        if "cost" in mp:
            gap = f", gap {mp['gap']:.2%}" if "gap" in mp else ""
            lines.append(f"| OR-Tools {mp['backend']} fixed-charge MIP | {mp['status']}{gap} | {mp['seconds']:.2f} | "
                         f"{mp['cost']:.2f} | {mp['units']} |")
        else:
            lines.append(f"| OR-Tools fixed-charge MIP | {mp.get('status') or mp.get('error')} | - | - | - |")
    sc = extra.get("scoring")
    if sc:
        lines += ["", "## Scoring kernel", "",
                  f"{sc['orders']} orders x {sc['nodes']} nodes into a reused buffer: "
                  f"{sc['pairs_per_s_float64']:.3g} scores/s (float64), {sc['pairs_per_s_float32']:.3g} (float32)."]
    lines += _measured("Peak memory", extra.get("memory"), "peak_rss_mb", _memory_text,
                       lambda mem: mem.get("error"))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ main
def run_study(quick: bool, out: Path, seed: int = 0, log: Callable[[str], None] = print,
              memory: bool | None = None) -> dict[str, Any]:
    """Run the whole study and write its outputs.

    Parameters
    ----------
    quick : bool
        Small sizes (under a minute with compiled kernels cached).
    out : Path
        Output folder.
    seed : int
    log : callable
        Progress lines.
    memory : bool, optional
        Run the 10^6 x 2,000 x 10^5 peak-RSS subprocess (default: full study only).

    Returns
    -------
    dict
        ``rows``, ``exponents``, baselines, ``machine``, ``paths``.
    """
    t_start = time.perf_counter()
    extra: dict[str, Any] = {"mode": "quick" if quick else "full", "machine": machine_info(), "seed": seed}
    log(f"bench: {extra['mode']} study on {extra['machine']['cpu_model']} "
        f"({extra['machine']['usable_cpus']} cores)")
    rows = [measure_point(p, seed, log) for p in plan(quick)]
    extra["nojit"] = nojit_baseline(quick, log)
    extra["mip"] = mip_baseline(quick, log)
    if not quick:
        extra["scoring"] = scoring_measure(quick, log)
    if memory if memory is not None else not quick:
        extra["memory"] = memory_run(log)
    extra["wall_s"] = time.perf_counter() - t_start
    extra["exponents"] = exponents(rows)
    paths = write_outputs(out, rows, extra)
    log("  exponents: " + ", ".join(f"{k} {v:.2f}" for k, v in extra["exponents"].items()))
    log(f"  wrote {', '.join(str(p) for p in paths.values())} in {extra['wall_s']:.0f} s")
    return {"rows": rows, **extra, "paths": paths}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine.benchstudy", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    p.add_argument("--out", default="out/bench", help="output folder (default out/bench)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--memory", action=argparse.BooleanOptionalAction, default=None,
                   help="run the 10^6-order peak-RSS measurement (default: full study only)")
    p.add_argument("--worker", choices=("route", "optimize"), help=argparse.SUPPRESS)
    p.add_argument("--time-limit", type=float, default=10.0, help=argparse.SUPPRESS)
    p.add_argument("--orders", type=int, default=1000, help=argparse.SUPPRESS)
    p.add_argument("--nodes", type=int, default=100, help=argparse.SUPPRESS)
    p.add_argument("--skus", type=int, default=1000, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--no-warm", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m engine.benchstudy`` (and of its subprocess workers)."""
    args = _parser().parse_args(argv)
    if args.worker == "optimize":
        call_optimize(wave_instance(True, seed=11), 1.0)  # compile its kernels before timing
        print(json.dumps(call_optimize(wave_instance(args.quick), args.time_limit), default=float))
        return 0
    if args.worker == "route":
        print(json.dumps(worker_route(args.orders, args.nodes, args.skus, args.repeats, not args.no_warm,
                                      args.seed)))
        return 0
    run_study(args.quick, Path(args.out), args.seed, memory=args.memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
