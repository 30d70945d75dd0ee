"""optimize(): exact on small instances, never infeasible, never worse than greedy; its CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sourcewise.cli import main
from sourcewise.engine.optimize import optimize
from sourcewise.engine.router import Router
from sourcewise.engine.scenario import load_scenario
from sourcewise.models import Policy
from tests.conftest import SAMPLE
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.conftest import make_order
from tests.engine.optimize.support import PENALTY
from tests.engine.optimize.support import brute_force
from tests.engine.optimize.support import check_allocations
from tests.engine.optimize.support import check_feasible
from tests.engine.optimize.support import contested


# ------------------------------------------------------------------------------ exactness
@pytest.mark.parametrize("seed", range(8))
def test_small_instances_reach_the_brute_force_optimum(seed):
    net, inv, orders = contested(seed)
    plan = optimize(orders, net, inv, Policy(), time_limit=20, unfilled_penalty=PENALTY)
    best = brute_force(net, Policy(), inv, orders)
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert plan.status == "optimal"
    assert plan.lower_bound <= best + 1e-6


@pytest.mark.parametrize(("seed", "solver"), [(0, "highs"), (1, "highs"), (2, "highs"), (3, "cpsat")])
def test_small_instances_with_capacities_reach_the_optimum(seed, solver):
    net, inv, orders = contested(100 + seed, n_orders=4)
    cap_o = np.full(net.n_nodes, 2)
    cap_u = np.full(net.n_nodes, 3)
    plan = optimize(orders, net, inv, Policy(), time_limit=20, unfilled_penalty=PENALTY,
                    node_capacity_orders=cap_o, node_capacity_units=cap_u, solver=solver)
    best = brute_force(net, Policy(), inv, orders, cap_o, cap_u)
    assert plan.objective == pytest.approx(best, abs=1e-6)
    assert plan.lower_bound <= best + 1e-6


def test_lower_bound_is_below_every_feasible_plan_and_gap_is_consistent():
    net, inv, orders = contested(7, n_nodes=4, n_orders=5)
    plan = optimize(orders, net, inv, Policy(), time_limit=10, unfilled_penalty=PENALTY)
    assert plan.lower_bound <= plan.objective + 1e-9
    assert plan.lower_bound <= plan.solve_log.greedy_objective + 1e-9
    assert plan.objective <= plan.solve_log.greedy_objective + 1e-9
    assert plan.objective == pytest.approx(plan.cost + PENALTY * plan.units_unfilled)
    assert 0.0 <= plan.gap


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_orders=st.integers(1, 8), caps=st.booleans())
def test_plans_never_exceed_stock_or_capacity(seed, n_orders, caps):
    rng = np.random.default_rng(seed)
    net = make_network(rng, int(rng.integers(2, 6)), int(rng.integers(1, 5)), disabled=0.2)
    inv = make_inventory(rng, net, density=0.7, max_qty=4)
    orders = [make_order(rng, net, f"o{i}", max_lines=3, max_qty=3, allow_split=bool(rng.random() < 0.8))
              for i in range(n_orders)]
    cap_o = rng.integers(0, 3, net.n_nodes) if caps else None
    cap_u = rng.integers(0, 5, net.n_nodes) if caps else None
    plan = optimize(orders, net, inv, Policy(), time_limit=3, node_capacity_orders=cap_o,
                    node_capacity_units=cap_u)
    check_feasible(net, inv, orders, plan, cap_o, cap_u)
    assert plan.objective <= plan.solve_log.greedy_objective + 1e-6
    assert plan.lower_bound <= plan.objective + 1e-6


def test_sample_scenario_improves_on_greedy_with_a_proven_bound():
    sc = load_scenario(SAMPLE)
    plan = optimize(sc.orders, sc.network, sc.inventory, sc.policy, time_limit=8,
                    walkin=sc.tables.get("walkin"))
    net = sc.network
    check_allocations(net, sc.inventory, plan.allocations, net.capacity_orders, net.capacity_units)
    assert plan.objective <= plan.solve_log.greedy_objective + 1e-6
    assert plan.lower_bound <= plan.objective
    assert plan.gap < 0.10
    assert plan.objective < plan.solve_log.greedy_objective
    router = Router(sc.network, sc.inventory, sc.policy, walkin=sc.tables.get("walkin"))
    assert plan.units_unfilled <= router.route_many(sc.orders, one_day=True).orders["unfilled"].sum()


# ------------------------------------------------------------------------------- CLI
def test_cli_optimize_writes_tables_and_prints_the_figures(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["optimize", "--scenario", str(SAMPLE), "--out", str(out), "--time-limit", "3"]) == 0
    text = capsys.readouterr().out
    for word in ("cost", "lower bound", "gap", "shipments/order", "time"):
        assert word in text
    alloc = pd.read_csv(out / "allocations.csv")
    orders = pd.read_csv(out / "orders.csv")
    assert len(orders) == load_scenario(SAMPLE).orders.n_orders
    assert set(alloc["order_id"]) <= set(orders["order_id"])


def test_cli_optimize_writes_nothing_on_error(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["optimize", "--scenario", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "error" in capsys.readouterr().err
    assert not out.exists()
    assert main(["optimize", "--scenario", str(SAMPLE), "--out", str(out), "--time-limit", "-1"]) == 2
    assert not out.exists()
