"""Replay benchmark: 1,000,000 orders over 30 days, 500 nodes, 20,000 SKUs, one strategy.

Target (issue #5): the replay runs in <= 120 s on 2 cores. Also reported:
the scaling from 100,000 to 1,000,000 orders (same network, same horizon).

Run it directly (prints a table, optionally writes JSON)::

    .venv/bin/python -m benchmarks.bench_simulate                 # 1M orders, strategy cost
    .venv/bin/python -m benchmarks.bench_simulate --scaling       # 100k, 250k, 500k, 1M
    .venv/bin/python -m benchmarks.bench_simulate --orders 200000 --strategy nearest --json out/sim.json
    .venv/bin/python -m benchmarks.bench_simulate --phases        # + wall/CPU seconds per phase

Each row reports wall ``seconds`` and ``cpu_seconds`` (process CPU time);
on a shared machine compare CPU seconds.

or through ``make bench`` (pytest-benchmark: ``test_simulate_replay``;
``SOURCEWISE_BENCH_SIZE=smoke`` shrinks it to seconds).

The scenario
------------
:func:`sourcewise.data.generate.generate_scenario` needs about 200 s for 100,000 orders
at this network size (and writes 10^7 replenishment rows), so
:func:`build_scenario` builds the same kind of scenario with vectorised
numpy, directly as engine objects:

* real US geography (:func:`sourcewise.data.generate.cities`): 40 warehouses spread
  over large cities, 440 stores in the largest cities, 20 vendors;
  capacities, handling, cut-offs and processing days as the generator's;
* 20,000 SKUs with log-normal weights and prices and Zipf popularity;
* orders spread evenly over the days, placed through the day by the
  generator's hourly profile, to customers drawn by city population with
  jitter; baskets, quantities and service levels from the generator's
  distributions;
* warehouses stock most SKUs for about their region's share of horizon
  demand; stores stock 600-2,000 popular SKUs with one to two and a half
  days of walk-in demand; vendors stock a tenth of the catalogue amply;
* weekly warehouse and every-third-day store replenishment, walk-in demand
  and vendor offers with reliabilities.

What is timed
-------------
:func:`sourcewise.engine.simulate.simulate` end to end for one strategy: preparing the
replay, building the router, and replaying every day (receipts, walk-in
sales, routing, pick rejections and vendor failures through reroute,
shipping, the ledger and the KPIs). Building the scenario and compiling the
kernels (one small warm-up replay) are not.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sourcewise.data.generate import BASKET_PMF
from sourcewise.data.generate import HOURLY_PMF
from sourcewise.data.generate import QTY_PMF
from sourcewise.data.generate import QTY_VALUES
from sourcewise.data.generate import SERVICE_PMF
from sourcewise.data.generate import cities
from sourcewise.engine.scenario import Scenario
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import check_invariants
from sourcewise.engine.simulate import simulate
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.node import Node
from sourcewise.models.policy import Policy
from sourcewise.models.sku import Sku
from sourcewise.models.tables import OrderBatch

START = np.datetime64("2024-03-04T00:00:00", "s")
LOWER48 = ((24.5, 49.5), (-125.0, -66.5))


def _geo() -> pd.DataFrame:
    c = cities("US")
    ok = c["lat"].between(*LOWER48[0]) & c["lon"].between(*LOWER48[1])
    return c.loc[ok].reset_index(drop=True)


def _spread(geo: pd.DataFrame, n: int, min_km: float) -> np.ndarray:
    """``n`` large cities at least ``min_km`` apart (relaxed when the country runs out)."""
    lat, lon = np.radians(geo["lat"].to_numpy()), np.radians(geo["lon"].to_numpy())
    chosen: list[int] = []
    while len(chosen) < n:
        for i in range(len(geo)):
            if len(chosen) == n:
                break
            if i in chosen:
                continue
            if chosen:
                c = np.array(chosen)
                d = 6371.0 * np.arccos(np.clip(np.sin(lat[i]) * np.sin(lat[c]) + np.cos(lat[i]) * np.cos(lat[c])
                                               * np.cos(lon[i] - lon[c]), -1.0, 1.0))
                if d.min() < min_km:
                    continue
            chosen.append(i)
        min_km /= 2
    return np.array(chosen, np.int64)


def build_scenario(n_orders: int, days: int = 30, n_nodes: int = 500, n_skus: int = 20_000,
                   seed: int = 0) -> Scenario:
    """A large generated scenario as engine objects (see the module notes).

    Parameters
    ----------
    n_orders : int
        Orders over the horizon, spread evenly over the days.
    days : int
    n_nodes : int
        8 % warehouses, 4 % vendors, the rest stores.
    n_skus : int
    seed : int

    Returns
    -------
    Scenario
        With ``walkin``, ``replenishment`` and ``vendor_offers`` tables.
    """
    rng = np.random.default_rng([seed, 505])
    geo = _geo()
    pop = geo["population"].to_numpy(np.float64)
    n_wh = max(1, round(0.08 * n_nodes))
    n_vn = max(1, round(0.04 * n_nodes))
    n_st = n_nodes - n_wh - n_vn
    opd = n_orders / days

    # ---- nodes on real cities
    wh = _spread(geo, n_wh, 400.0)
    st = np.arange(n_st) % len(geo)
    big = np.flatnonzero(pop >= 50_000)
    vn = rng.choice(big, n_vn, replace=False)
    xyz = np.stack([np.cos(np.radians(geo["lat"])) * np.cos(np.radians(geo["lon"])),
                    np.cos(np.radians(geo["lat"])) * np.sin(np.radians(geo["lon"])),
                    np.sin(np.radians(geo["lat"]))], axis=1)
    nearest_wh = np.argmax(xyz @ xyz[wh].T, axis=1)
    wh_share = np.bincount(nearest_wh, weights=pop, minlength=n_wh) / pop.sum()
    nodes: list[Node] = []
    for k, i in enumerate(wh):
        cap = max(10, 10 * math.ceil(1.2 * opd * (0.5 / n_wh + 0.5 * wh_share[k]) / 10))
        nodes.append(Node(f"WH-{k + 1:03d}", "warehouse", float(geo["lat"][i]), float(geo["lon"][i]), priority=1,
                          handling_per_shipment=1.0, handling_per_unit=0.25, processing_days=1, cutoff_hour=14,
                          capacity_orders=cap, capacity_units=3 * cap))
    for k, i in enumerate(st):
        cap = max(5, math.ceil(0.02 * opd * math.sqrt(pop[i] / 1e6)))
        nodes.append(Node(f"ST-{k + 1:04d}", "store", float(geo["lat"][i]) + 0.01 * (k // len(geo)),
                          float(geo["lon"][i]), priority=2, pickup=True, handling_per_shipment=2.5,
                          handling_per_unit=0.6, processing_days=0, cutoff_hour=17, capacity_orders=cap,
                          capacity_units=2 * cap))
    fee = rng.uniform(0.10, 0.18, n_vn)
    vn_cap = max(10, math.ceil(0.3 * opd / n_vn * 3))
    for k, i in enumerate(vn):
        nodes.append(Node(f"VN-{k + 1:02d}", "vendor", float(geo["lat"][i]), float(geo["lon"][i]), priority=3,
                          processing_days=2, cutoff_hour=12, fee_rate=float(round(fee[k], 3)),
                          capacity_orders=vn_cap, capacity_units=4 * vn_cap))

    # ---- SKUs: Zipf popularity over shuffled ranks
    weight = np.maximum(0.05, np.round(0.8 * rng.lognormal(0.0, 0.8, n_skus), 3))
    price = np.maximum(0.99, np.round(30.0 * rng.lognormal(0.0, 0.8, n_skus), 2))
    skus = [Sku(f"SKU-{j + 1:05d}", float(weight[j]), float(price[j])) for j in range(n_skus)]
    net = Network.build(nodes, skus)
    popularity = 1.0 / (rng.permutation(n_skus) + 1.0)
    popularity /= popularity.sum()
    pct = 1.0 - np.argsort(np.argsort(-popularity)) / max(n_skus - 1, 1)
    units_per_order = float((BASKET_PMF * np.arange(1, len(BASKET_PMF) + 1)).sum() * (QTY_PMF * QTY_VALUES).sum())
    daily_units = opd * units_per_order * popularity
    horizon_units = days * daily_units

    # ---- orders
    per_day = np.full(days, n_orders // days)
    per_day[: n_orders % days] += 1
    day = np.repeat(np.arange(days), per_day)
    secs = rng.choice(24, n_orders, p=HOURLY_PMF) * 3600 + rng.integers(0, 3600, n_orders)
    t = np.sort(day * 86_400 + secs)
    city = rng.choice(len(geo), n_orders, p=pop / pop.sum())
    lat = np.clip(geo["lat"].to_numpy()[city] + rng.normal(0, 0.05, n_orders), -90, 90)
    lon = geo["lon"].to_numpy()[city] + rng.normal(0, 0.05, n_orders)
    n_lines = 1 + rng.choice(len(BASKET_PMF), n_orders, p=BASKET_PMF)
    ptr = np.zeros(n_orders + 1, np.int64)
    np.cumsum(n_lines, out=ptr[1:])
    total = int(ptr[-1])
    sku = rng.choice(n_skus, total, p=popularity).astype(np.int64)
    qty = rng.choice(QTY_VALUES, total, p=QTY_PMF).astype(np.int64)
    allow = rng.random(n_orders) < 0.9
    capped = allow & (rng.random(n_orders) < 0.1)
    max_ship = np.where(capped, rng.choice([2, 3], n_orders, p=[0.6, 0.4]), -1).astype(np.int64)
    levels = np.array(["standard", "express", "next_day"], dtype=object)
    width = len(str(n_orders))
    oid = np.char.add("O-", np.char.zfill(np.arange(1, n_orders + 1).astype(str), width)).astype(object)
    line_no = (np.arange(total) - np.repeat(ptr[:-1], n_lines) + 1).astype(str)
    lid = np.char.add(np.repeat(oid.astype(str), n_lines), np.char.add("-", line_no)).astype(object)
    orders = OrderBatch(order_id=oid, line_ptr=ptr, line_id=lid, sku=sku, qty=qty, lat=lat, lon=lon,
                        allow_split=allow, max_shipments=max_ship,
                        service_level=levels[rng.choice(3, n_orders, p=SERVICE_PMF)],
                        placed_at=START + t.astype("timedelta64[s]"))

    # ---- stock
    node_parts, sku_parts, oh_parts, ss_parts = [], [], [], []
    rep_n, rep_s, rep_d, rep_q = [], [], [], []
    last_day = days + 6
    for k in range(n_wh):
        carried = np.flatnonzero(rng.random(n_skus) < 0.75 + 0.2 * pct)
        cover = rng.lognormal(0.0, 0.6, len(carried))
        oh = rng.poisson(cover * wh_share[k] * horizon_units[carried] * 0.5 + 1.0)
        node_parts.append(np.full(len(carried), k))
        sku_parts.append(carried)
        oh_parts.append(oh)
        ss_parts.append(np.floor(oh * rng.uniform(0.0, 0.15, len(carried))).astype(np.int64))
        first = int(rng.integers(1, 8))
        for d in range(first, last_day + 1, 7):
            q = rng.poisson(7.0 * wh_share[k] * daily_units[carried] * rng.uniform(0.8, 1.3, len(carried)))
            keep = q > 0
            rep_n.append(np.full(int(keep.sum()), k))
            rep_s.append(carried[keep])
            rep_d.append(np.full(int(keep.sum()), d))
            rep_q.append(q[keep])
    st_pop = pop[st]
    walkin_scale = 0.25 * opd * units_per_order / st_pop.sum()
    walk_n, walk_s, walk_r = [], [], []
    log_pop = np.log(popularity)
    for k in range(n_st):
        node = n_wh + k
        n_carried = int(round(n_skus * (0.10 - 0.07 * k / max(n_st - 1, 1))))
        keys = log_pop + rng.gumbel(size=n_skus)
        carried = np.sort(np.argpartition(-keys, n_carried - 1)[:n_carried])
        walk = walkin_scale * popularity[carried] * st_pop[k]
        oh = np.maximum(1, rng.poisson(walk * rng.uniform(1.0, 2.5, n_carried) + 0.5))
        node_parts.append(np.full(n_carried, node))
        sku_parts.append(carried)
        oh_parts.append(oh)
        ss_parts.append(np.floor(0.3 * oh).astype(np.int64))
        walk_n.append(np.full(n_carried, node))
        walk_s.append(carried)
        walk_r.append(np.round(walk, 4))
        first = int(rng.integers(1, 4))
        for d in range(first, last_day + 1, 3):
            q = rng.poisson(3 * walk + 0.2)
            keep = q > 0
            rep_n.append(np.full(int(keep.sum()), node))
            rep_s.append(carried[keep])
            rep_d.append(np.full(int(keep.sum()), d))
            rep_q.append(q[keep])
    off_n, off_s, off_p, off_f, off_l, off_r = [], [], [], [], [], []
    for k in range(n_vn):
        node = n_wh + n_st + k
        carried = np.flatnonzero(rng.random(n_skus) < 0.10)
        oh = np.ceil(0.5 * horizon_units[carried]).astype(np.int64) + rng.integers(20, 60, len(carried))
        node_parts.append(np.full(len(carried), node))
        sku_parts.append(carried)
        oh_parts.append(oh)
        ss_parts.append(np.zeros(len(carried), np.int64))
        base = rng.uniform(0.88, 0.99)
        off_n.append(np.full(len(carried), node))
        off_s.append(carried)
        off_p.append(np.round(price[carried] * rng.uniform(0.55, 0.85, len(carried)), 2))
        off_f.append(np.full(len(carried), round(fee[k], 3)))
        off_l.append(2 + rng.integers(0, 4, len(carried)))
        off_r.append(np.round(np.clip(base + rng.normal(0, 0.02, len(carried)), 0.5, 1.0), 3))
    cat = np.concatenate
    inv = Inventory.from_arrays(net, cat(node_parts), cat(sku_parts), cat(oh_parts).astype(np.int64),
                                cat(ss_parts).astype(np.int64))
    node_ids = np.array([n.node_id for n in nodes], dtype=object)
    sku_ids = np.array([s.sku for s in skus], dtype=object)
    tables = {
        "walkin": pd.DataFrame({"node_id": node_ids[cat(walk_n)], "sku": sku_ids[cat(walk_s)],
                                "walkin_daily_demand": cat(walk_r)}),
        "replenishment": pd.DataFrame({"node_id": node_ids[cat(rep_n)], "sku": sku_ids[cat(rep_s)],
                                       "day": cat(rep_d), "qty": cat(rep_q)}),
        "vendor_offers": pd.DataFrame({"node_id": node_ids[cat(off_n)], "sku": sku_ids[cat(off_s)],
                                       "price": cat(off_p), "fee_rate": cat(off_f), "lead_days": cat(off_l),
                                       "reliability": cat(off_r)}),
        "skus": pd.DataFrame({"sku": sku_ids, "weight_kg": weight, "price": price}),
    }
    return Scenario(net, inv, orders, Policy(), tables, None)


def slice_scenario(sc: Scenario, n_orders: int) -> Scenario:
    """The first ``n_orders`` orders of ``sc`` (same network, stock and tables)."""
    from sourcewise.engine.simulate import take_orders

    return Scenario(sc.network, sc.inventory, take_orders(sc.orders, np.arange(min(n_orders, sc.orders.n_orders))),
                    sc.policy, sc.tables, sc.path)


def run_once(sc: Scenario, strategy: str = "cost", **config) -> dict:
    """Time one replay; returns figures for the report.

    ``cpu_seconds`` is the process's CPU time over the replay: on a shared
    machine it moves far less than the wall time, so A/B comparisons read it.
    """
    cfg = SimConfig(strategies=(strategy,), **config)
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate(sc, cfg)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    bad = check_invariants(res.kpis)
    if bad:
        raise AssertionError("; ".join(bad[:5]))
    tot = res.totals.loc[strategy]
    return {
        "orders": int(tot["orders"]), "days": int((res.kpis["date"] != "total").sum()), "strategy": strategy,
        "nodes": sc.network.n_nodes, "skus": sc.network.n_skus, "stock_entries": sc.inventory.nnz,
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "orders_per_s": round(tot["orders"] / seconds),
        "replay_seconds": round(res.results[strategy].seconds, 2),
        "cost_per_order": round(float(tot["cost_per_order"]), 3),
        "shipments_per_order": round(float(tot["shipments_per_order"]), 4),
        "fill_rate": round(float(tot["fill_rate"]), 4), "pick_rejections": int(tot["pick_rejections"]),
        "vendor_failures": int(tot["vendor_failures"]), "walkin_lost_online": int(tot["walkin_lost_online"]),
        "oversell": int(tot["oversell"]),
    }


#: Functions whose time :func:`phase_timers` adds up: (module or class, attribute, label).
PHASES: tuple[tuple[str, str, str], ...] = (
    ("sourcewise.engine.simulate.replay", "Prepared", "prepare replay (Prepared)"),
    ("sourcewise.engine.simulate.replay", "build_router", "build router"),
    ("sourcewise.engine.router.Router", "route_many", "Router.route_many (all)"),
    ("sourcewise.engine._kernels", "route_batch", "  route_many kernel (route_batch)"),
    ("sourcewise.engine.router.Router", "route", "Router.route (orders that may be disrupted)"),
    ("sourcewise.engine.simulate.replay", "rows_from_result", "read route_many results (rows_from_result)"),
    ("sourcewise.engine.simulate.replay.Replay", "_take", "count units taken (_take)"),
    *((f"sourcewise.engine.simulate.{m}", "take_orders", "slice order batches (take_orders)")
      for m in ("prepare", "replay", "events", "strategies")),
    *((f"sourcewise.engine.simulate.{m}", "order_objects", "Order objects for Router.route")
      for m in ("replay", "events")),
    ("sourcewise.engine.simulate.ledger.StockLedger", "receive", "receipts (incl. adjust_stock_many)"),
    ("sourcewise.engine.simulate.events.WalkIns", "sell", "walk-in sales (incl. adjust_stock_many)"),
    ("sourcewise.engine.simulate.events.Disruptions", "apply", "pick rejections / vendor failures (Disruptions)"),
    ("sourcewise.engine.router.Router", "reroute", "  Router.reroute"),
    ("sourcewise.engine.simulate.replay.Replay", "_ship", "ship, ledger, day sums (_ship)"),
    ("sourcewise.engine.router.Router", "commit_many", "  Router.commit_many"),
    ("sourcewise.engine.router.Router", "commit", "  Router.commit"),
    ("sourcewise.engine.simulate.ledger.StockLedger", "verify", "ledger vs router check (verify)"),
    ("sourcewise.engine.simulate.replay", "kpi_frame", "KPI table (kpi_frame)"),
)


class phase_timers:
    """Wall and CPU seconds spent in each function of :data:`PHASES` while the block runs.

    A poor man's sampling profiler with no sampling error: each function is
    wrapped with two clocks for the duration of the ``with`` block (nested
    entries are included in their parents).
    """

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}
        self._undo: list[tuple[object, str, object]] = []

    def __enter__(self) -> phase_timers:
        import functools
        import importlib

        for where, attr, label in PHASES:
            try:
                owner = importlib.import_module(where)
            except ImportError:  # a class: module.Class
                mod, _, cls = where.rpartition(".")
                owner = getattr(importlib.import_module(mod), cls)
            fn = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
            if fn is None:
                continue
            tot = self.totals.setdefault(label, [0.0, 0.0, 0])

            def timed(*a, _fn=fn, _tot=tot, **k):
                w, c = time.perf_counter(), time.process_time()
                try:
                    return _fn(*a, **k)
                finally:
                    _tot[0] += time.perf_counter() - w
                    _tot[1] += time.process_time() - c
                    _tot[2] += 1

            self._undo.append((owner, attr, fn))
            setattr(owner, attr, functools.wraps(fn)(timed))
        return self

    def __exit__(self, *exc) -> None:
        for owner, attr, fn in reversed(self._undo):
            setattr(owner, attr, fn)
        self._undo.clear()

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([(k, round(v[0], 2), round(v[1], 2), v[2]) for k, v in self.totals.items()],
                            columns=["phase", "wall_s", "cpu_s", "calls"])


def warm_up() -> None:
    """Compile every kernel a replay uses on a tiny scenario."""
    run_once(build_scenario(600, days=2, n_nodes=30, n_skus=300, seed=1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_simulate", description=__doc__.split("\n")[0])
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--skus", type=int, default=20_000)
    p.add_argument("--strategy", default="cost")
    p.add_argument("--scaling", action="store_true", help="also replay 100k, 250k and 500k orders")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--phases", action="store_true",
                   help="also print wall and CPU seconds per phase of the largest replay (router calls, "
                        "kernel, simulate-side work)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    warm_up()
    print(f"warm-up (compile) {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    t0 = time.perf_counter()
    sc = build_scenario(args.orders, args.days, args.nodes, args.skus, args.seed)
    print(f"built scenario: {sc.orders.n_orders:,} orders, {sc.orders.n_lines:,} lines, {sc.inventory.nnz:,} "
          f"stock entries, {len(sc.tables['replenishment']):,} receipts, {len(sc.tables['walkin']):,} walk-in "
          f"rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    sizes = [n for n in (100_000, 250_000, 500_000) if n < args.orders] if args.scaling else []
    rows = []
    for n in [*sizes, args.orders]:
        # the same network, stock and horizon; the first n orders of the stream (they span
        # the first n / orders * days days)
        part = sc if n == args.orders else slice_scenario(sc, n)
        if args.phases and n == args.orders:
            with phase_timers() as timers:
                row = run_once(part, args.strategy, seed=args.seed)
            print(timers.table().to_string(index=False))
        else:
            row = run_once(part, args.strategy, seed=args.seed)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    df = pd.DataFrame(rows)
    if len(df) > 1:
        x, y = np.log(df["orders"]), np.log(df["seconds"])
        slope = float(np.polyfit(x, y, 1)[0])
        print(f"scaling exponent (log time vs log orders): {slope:.2f}")
    print(df[["orders", "days", "seconds", "cpu_seconds", "orders_per_s", "cost_per_order", "shipments_per_order", "fill_rate",
              "pick_rejections", "vendor_failures", "oversell"]].to_string(index=False))
    target = df.iloc[-1]
    if target["orders"] >= 1_000_000:
        verdict = "meets" if target["seconds"] <= 120 else "MISSES"
        print(f"1M orders: {target['seconds']:.1f} s wall, {target['cpu_seconds']:.1f} s CPU ({verdict} the "
              f"120 s target) on {os.cpu_count()} cores")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


def test_simulate_replay(benchmark) -> None:
    """pytest-benchmark entry (``make bench``): one replay at the target size (smoke: tiny)."""
    smoke = os.environ.get("SOURCEWISE_BENCH_SIZE", "full").strip().lower() == "smoke"
    warm_up()
    sc = build_scenario(3_000, 3, 40, 500) if smoke else build_scenario(1_000_000)
    out: dict = {}

    def once():
        out.update(run_once(sc, "cost"))

    benchmark.group = "simulate"
    benchmark.pedantic(once, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(out)
    assert out["oversell"] == 0


if __name__ == "__main__":
    sys.exit(main())
