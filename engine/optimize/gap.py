"""Generalized assignment problems (OR-Library format) on the optimizer's master problem.

A GAP instance is the batch optimizer's problem in its purest form: agents
are fulfillment nodes with one capacity each, jobs are indivisible orders,
and serving job ``j`` from agent ``i`` costs ``cost[i, j]`` and uses
``size[i, j]`` of the agent's capacity. Every job gets exactly one agent.
That is a set-partitioning master (:class:`sourcewise.engine.optimize.master.Master`) whose
columns can all be listed, so its MIP dual bound is a bound on the true
optimum and a MIP status ``optimal`` is a proof.

Published instances with proven optima (``/work/shared/data/gap`` in this
project: ``cattrysse1994`` and ``chu1997``, with ``optima.csv``) check that
the machinery finds true optima, not just good plans.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sourcewise.engine.optimize.master import Master
from sourcewise.models.errors import Collector


@dataclass(frozen=True, eq=False)
class GapInstance:
    """One GAP instance.

    Attributes
    ----------
    name : str
        ``<folder>/<file>``, as in ``optima.csv``.
    cost, size : ndarray of int64, shape (agents, jobs)
    capacity : ndarray of int64, shape (agents,)
    """

    name: str
    cost: np.ndarray
    size: np.ndarray
    capacity: np.ndarray

    @property
    def agents(self) -> int:
        return int(self.cost.shape[0])

    @property
    def jobs(self) -> int:
        return int(self.cost.shape[1])


@dataclass(frozen=True)
class GapResult:
    """Outcome of :func:`solve_gap`.

    Attributes
    ----------
    name : str
    cost : float
        Cost of ``assignment`` (``inf`` when none was found).
    bound : float
        Proven lower bound on the optimum (the MIP's dual bound; all
        columns are present, so it bounds the instance itself).
    status : str
        ``optimal`` (proven), ``feasible``, ``infeasible`` or ``no solution``.
    assignment : ndarray of int64 or None
        Agent of each job.
    seconds : float
    optimum : float or None
        Published optimum, when known.
    """

    name: str
    cost: float
    bound: float
    status: str
    assignment: np.ndarray | None
    seconds: float
    optimum: float | None = None

    @property
    def matched(self) -> bool | None:
        """Whether the cost equals the published optimum (``None`` when unknown)."""
        if self.optimum is None:
            return None
        return bool(np.isfinite(self.cost) and abs(self.cost - self.optimum) < 0.5)


def parse_gap(text: str, name: str) -> list[GapInstance]:
    """Instances in OR-Library GAP text.

    Accepts a single instance (``m n``, costs, sizes, capacities) or the
    original multi-instance files, which start with the number of instances.

    Raises
    ------
    ValidationError
        When the numbers do not make up whole instances.
    """
    col = Collector()
    try:
        v = [int(t) for t in text.split()]
    except ValueError:
        col.add("gap", name, "format", "expected whitespace-separated integers")
        col.raise_if_any()

    def one(pos: int, label: str) -> tuple[GapInstance | None, int]:
        if pos + 2 > len(v):
            return None, pos
        m, n = v[pos], v[pos + 1]
        end = pos + 2 + 2 * m * n + m
        if m <= 0 or n <= 0 or end > len(v):
            return None, pos
        c = np.array(v[pos + 2:pos + 2 + m * n], np.int64).reshape(m, n)
        a = np.array(v[pos + 2 + m * n:pos + 2 + 2 * m * n], np.int64).reshape(m, n)
        b = np.array(v[pos + 2 + 2 * m * n:end], np.int64)
        return GapInstance(label, c, a, b), end

    inst, end = one(0, name)
    if inst is not None and end == len(v):
        out = [inst]
    else:
        out = []
        count = v[0] if v else 0
        pos = 1
        for k in range(count):
            inst, pos = one(pos, f"{name}#{k + 1}")
            if inst is None:
                break
            out.append(inst)
        if not out or len(out) != count or pos != len(v):
            col.add("gap", name, "format", "numbers do not form whole OR-Library GAP instances")
    for inst in out:
        if (inst.size < 0).any() or (inst.capacity < 0).any():
            col.add("gap", inst.name, "size", "sizes and capacities must be >= 0")
    col.raise_if_any()
    return out


def load_gap(path: str | Path) -> list[GapInstance]:
    """Instances of one file, named ``<parent folder>/<file name>``."""
    p = Path(path)
    return parse_gap(p.read_text(), f"{p.parent.name}/{p.name}")


def read_optima(path: str | Path) -> dict[str, float]:
    """Published optima by instance name from an ``optima.csv`` (``Path``, ``Optimum`` columns)."""
    out: dict[str, float] = {}
    with Path(path).open(newline="") as fh:
        for row in csv.DictReader(fh):
            v = (row.get("Optimum") or "").strip()
            if v:
                out[row["Path"].strip()] = float(v)
    return out


def master_for(inst: GapInstance) -> tuple[Master, np.ndarray]:
    """The GAP as a master problem: jobs are blocks, agents are resource rows.

    Returns the master and each column's agent. Pairs whose size exceeds
    the agent's capacity can never be used and get no column.
    """
    agent, job = np.nonzero(inst.size <= inst.capacity[:, None])
    order = np.lexsort((agent, job))
    agent, job = agent[order], job[order]
    m = Master(inst.jobs, inst.capacity.astype(np.float64))
    m.add_columns(job, inst.cost[agent, job].astype(np.float64), np.arange(len(job) + 1), agent,
                  inst.size[agent, job].astype(np.float64))
    return m, agent.astype(np.int64)


def solve_gap(inst: GapInstance, time_limit: float = 300.0, solver: str = "highs",
              optimum: float | None = None) -> GapResult:
    """Solve a GAP to proven optimality (or until ``time_limit`` seconds).

    Parameters
    ----------
    inst : GapInstance
    time_limit : float
    solver : {"highs", "cpsat"}
        Costs are integers, so either stops as soon as its gap is below one.
    optimum : float, optional
        Published optimum to report next to the result.
    """
    t0 = time.perf_counter()
    m, agent = master_for(inst)
    jobs_without = np.setdiff1d(np.arange(inst.jobs), m.flat()[0])
    if len(jobs_without):
        return GapResult(inst.name, float("inf"), float("inf"), "infeasible", None, time.perf_counter() - t0,
                         optimum)
    r = m.solve_mip(time_limit, solver=solver, integral_objective=True)
    assignment = None
    cost = float("inf")
    if r.choice is not None:
        assignment = agent[r.choice]
        load = np.bincount(assignment, weights=inst.size[assignment, np.arange(inst.jobs)],
                           minlength=inst.agents)
        if (load > inst.capacity + 1e-9).any():  # pragma: no cover - the MIP respects capacities
            raise RuntimeError(f"{inst.name}: solver returned an over-capacity assignment")
        cost = float(inst.cost[assignment, np.arange(inst.jobs)].sum())
    # integral costs: the optimum is at least the bound rounded up
    bound = float(np.ceil(r.bound - 1e-6)) if np.isfinite(r.bound) else r.bound
    if r.status == "optimal" and assignment is not None:
        bound = cost
    return GapResult(inst.name, cost, min(bound, cost), r.status, assignment, time.perf_counter() - t0, optimum)
