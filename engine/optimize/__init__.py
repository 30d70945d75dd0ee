"""Batch sourcing optimization: choose every order's plan jointly.

The router (:mod:`sourcewise.engine.router`) sources orders one at a time; each takes the
cheapest plan the remaining stock allows, so early orders can use up the
stock or node capacity that would have saved later orders a split parcel.
:func:`optimize` instead solves one set-partitioning problem over a batch:

* a **plan** (column) serves one order from at most ``max_shipments`` (up to
  :data:`~sourcewise.engine._kernels.plans.KMAX`) nodes with integer units per (node, SKU); units it leaves unfilled cost
  the order's ``unfilled_penalty`` each;
* every order gets exactly one plan; together the plans never take more than
  an inventory entry's available-to-promise (ATP) units, nor more parcels or
  units than a node's capacity.

Costs and eligibility are the router's (see :mod:`sourcewise.engine._kernels.plans`): parcel,
unit and distance costs, node handling, vendor fees (vendor offers when
given), store depletion (priced at the batch's starting stock), lateness;
sourcing-tier node kinds, regions, channels and distance limits, delivery
deadlines and capacities. Tiers are *eligibility* here, not an order of
preference: the optimizer weighs a vendor against a store by cost alone. The
objective is the real cost the router would report plus the unfilled penalty.

Method
------
1. **Greedy**: the router's own sequential ``cost`` routing of the batch on
   the same stock and capacities: a feasible incumbent, and columns.
2. **Columns**: per order, the cheapest plan ignoring other orders, the
   ``n_alternatives`` cheapest single-node plans and the empty plan.
3. **Column generation over an active set**: orders whose own best plans
   collide on some stock or capacity form the LP (HiGHS, warm-started);
   the others keep their best plan and only its use is deducted. Every
   round prices *every* order against the LP's duals (a shadow price per
   inventory entry and per capacity) with an exact branch-and-bound search,
   adds plans with negative reduced cost and activates fixed orders that
   would change. Each round also gives a **Lagrangian lower bound**
   ``sum_o min_p price(p) - sum_r price_r rhs_r``, valid for the *whole*
   plan space; :attr:`Plan.lower_bound` is the best of them (the LP value
   itself once pricing finds nothing, i.e. column generation converged).
4. **Heuristics**: round the LP; route the batch with the router's ``dual``
   strategy at the LP's prices; and keep the LP's integral plans while
   routing only the contested orders that way against the stock left.
5. **Integer phase** (when at most ``MIP_MAX_ACTIVE`` orders are in the LP):
   a MIP over the contested orders' columns with the rest fixed, then the
   MIP over all columns from the incumbent (HiGHS, or CP-SAT with a hint).
6. **Closing the gap**: a plan whose Lagrangian reduced cost exceeds the gap
   ``UB - LB`` cannot be part of a better solution. When every plan within
   the gap can be listed (small gap or batch), the MIP over them decides
   optimality over the whole plan space and its dual bound is a global bound.

When more than ``MIP_MAX_ACTIVE`` orders contend, the MIPs of step 5 give
way to local search (4'' below), and the first LP gets ``FIRST_LP_SHARE`` of
the time: thin stock over thousands of orders makes an LP that may not
finish within the limit at all. It runs on its own thread while a 1-opt
pass and the subgradient rounds of 3' start on the other cores; if it does
not finish, steps 3 and 4 give way to:

3'. **Lagrangian relaxation** (:mod:`~sourcewise.engine.optimize.lagrange`):
   projected, deflected subgradient steps on the prices of every stock and
   capacity row; each round prices every order exactly (a valid bound, no
   LP) and adds its plans to the pool; every few rounds the orders are
   planned one at a time at the prices, largest first, each exactly on the
   stock the earlier leave (price-guided construction), and the batch is
   routed at the prices for as long as that routing still wins.
4''. **Local search** (:mod:`~sourcewise.engine.optimize.lns`): 1-opt passes
   (each order re-planned alone, exactly, on the stock the others leave),
   then HiGHS sub-MIPs over neighbourhoods of orders that share stock (one
   per core at once), choosing among every pooled plan within what the other
   orders leave,
   until the time limit.

The MIP solver's own dual bound over the *generated columns* is reported
separately as :attr:`SolveLog.mip_bound_restricted`; it is not a bound on the
true optimum.

Modules, by job:

* :mod:`~sourcewise.engine.optimize.inputs`: checks and converts the caller's inputs;
* :mod:`~sourcewise.engine.optimize.problem`: the batch's groups, the kernels' context and
  the column store (:class:`~sourcewise.engine.optimize.problem.Problem`);
* :mod:`~sourcewise.engine.optimize.master`: the set-partitioning master (HiGHS, CP-SAT);
* :mod:`~sourcewise.engine.optimize.state`: incumbent and bound during a solve;
* :mod:`~sourcewise.engine.optimize.colgen`: column generation and the Lagrangian bound;
* :mod:`~sourcewise.engine.optimize.heuristics`: LP rounding, dual routing, the LP-fix sub-MIP,
  price-guided construction;
* :mod:`~sourcewise.engine.optimize.lagrange`: subgradient prices, the bound, and incumbents at the prices;
* :mod:`~sourcewise.engine.optimize.lns`: 1-opt passes and neighbourhood sub-MIPs over the plan pool;
* :mod:`~sourcewise.engine.optimize.solve`: the phases in order, and closing the gap;
* :mod:`~sourcewise.engine.optimize.results`: :class:`Plan`, :class:`ReoptResult`,
  :class:`SolveLog` and their tables;
* :mod:`~sourcewise.engine.optimize.sourcing`: :func:`optimize` and :func:`warm_up`;
* :mod:`~sourcewise.engine.optimize.reopt`: :func:`reoptimize`;
* :mod:`~sourcewise.engine.optimize.duals`: :func:`dual_prices` (Lagrangian prices, checked by routing);
* :mod:`~sourcewise.engine.optimize.gap`: generalized assignment instances on the same master.

The names below load on first use (PEP 562): :mod:`~sourcewise.engine.optimize.gap` and
:mod:`~sourcewise.engine.optimize.master` need neither the router nor the plan kernels.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The public names, by the module that defines them.
_HOME: dict[str, str] = {
    "optimize": "sourcing", "warm_up": "sourcing", "dual_prices": "duals", "reoptimize": "reopt",
    "Plan": "results", "ReoptResult": "results", "SolveLog": "results",
}


def __getattr__(name: str) -> Any:
    """Load the module that defines ``name`` when it is first asked for."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    """Every name here, the lazily loaded ones included."""
    return sorted([*globals(), *_HOME])


__all__ = ["Plan", "ReoptResult", "SolveLog", "dual_prices", "optimize", "reoptimize", "warm_up"]
