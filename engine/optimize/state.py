"""What a solve has found so far: the incumbent, the bound, and how each phase ended."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sourcewise.engine.optimize.master import MipResult
from sourcewise.engine.optimize.problem import Problem


@dataclass
class SolveState:
    """The incumbent and the bound, updated by every phase of a solve.

    Attributes
    ----------
    incumbent : ndarray of int64
        Column per order of the best feasible solution so far.
    objective : float
        Its objective.
    source : str
        Phase that found it (see :attr:`SolveLog.source`).
    lb : float
        Best proven lower bound over the whole plan space.
    lb_prices, lb_lower : ndarray, optional
        Row prices that gave ``lb`` and each order's lower bound at them.
    lb_truncated : ndarray of bool, optional
        Orders whose pricing hit its budget at ``lb_prices``.
    lp_value, lp_x, last_prices
        Last LP: value, solution per master column, row prices.
    active : ndarray of bool, optional
        Orders in the LP when column generation ended.
    iterations, converged, truncated, mip_status, mip_bound, enumeration, time_limited
        As reported in :class:`~sourcewise.engine.optimize.results.SolveLog`.
    bound_source : str
        Method that gave ``lb`` when it was not the LP's duals (see :attr:`SolveLog.bound_source`).
    """

    incumbent: np.ndarray
    objective: float
    source: str
    lb: float = -np.inf
    lb_prices: np.ndarray | None = None
    lb_lower: np.ndarray | None = None
    lp_value: float = float("nan")
    lp_x: np.ndarray | None = None
    last_prices: np.ndarray | None = None
    iterations: int = 0
    converged: bool = False
    truncated: int = 0
    mip_status: str = "not run"
    mip_bound: float = float("nan")
    enumeration: str = "not needed"
    time_limited: bool = False
    lb_truncated: np.ndarray | None = None
    active: np.ndarray | None = None
    bound_source: str = ""

    def proven(self) -> bool:
        """Whether the incumbent meets the bound (relative 1e-6)."""
        return self.objective - self.lb <= 1e-6 * max(1.0, abs(self.objective))

    def consider(self, pb: Problem, choice: np.ndarray | None, source: str) -> None:
        """Take ``choice`` (a column per order) as the incumbent if it is feasible and better."""
        if choice is None or not pb.master.feasible(choice):
            pb.trace.append(("heuristic", source, "infeasible"))
            return
        obj = pb.master.objective_of(choice)
        pb.trace.append(("heuristic", source, obj))
        self._take(choice, obj, source)

    def improve(self, pb: Problem, r: MipResult, source: str) -> None:
        """Record a MIP's outcome; take its solution if it is feasible and better."""
        pb.trace.append(("mip", source, r.status, r.objective, r.bound, round(r.seconds, 2)))
        self.mip_status = r.status
        self.mip_bound = r.bound
        if r.choice is not None and pb.master.feasible(r.choice):
            self._take(r.choice, pb.master.objective_of(r.choice), source)

    def _take(self, choice: np.ndarray, objective: float, source: str) -> None:
        if objective < self.objective - 1e-9:
            self.incumbent, self.objective, self.source = choice, objective, source
