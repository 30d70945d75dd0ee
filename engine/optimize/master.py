"""Set-partitioning master problem shared by the batch optimizer and the GAP solver.

A *master* chooses exactly one column per block (an order, or a GAP
job) subject to shared ``<=`` resource rows (inventory entries, node
capacities, GAP agent capacities)::

    min  sum_p c_p x_p
    s.t. sum_{p in block b} x_p  = 1          for every block b
         sum_p a_rp x_p         <= b_r        for every resource row r
         x_p in {0, 1}

Integer solves use HiGHS or OR-Tools CP-SAT; column generation
(:mod:`sourcewise.engine.optimize.colgen`) keeps its own incremental HiGHS LP
over the master's columns.

Why HiGHS comes from scipy by default
--------------------------------------
``highspy`` and ``ortools`` each ship a shared ``libhighs.so.1`` of a
different HiGHS version under the same soname. Whichever is imported second
in a process resolves HiGHS symbols against the first copy and fails with
``undefined symbol``. scipy (>= 1.15) links its own HiGHS statically and
exposes the same pybind11 bindings as ``scipy.optimize._highspy._core``; that
copy coexists with both. :func:`highs_core` therefore prefers it, uses
``highspy`` when it is already imported (or requested with
``SOURCEWISE_HIGHS=highspy``), and only then falls back to importing
``highspy``.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from types import ModuleType

import numpy as np

_CORE: ModuleType | None = None

PRESOLVE_MAX_COLS = 30_000
"""Wider MIPs are solved without HiGHS presolve (it ignores the time limit)."""


def highs_core() -> ModuleType:
    """The HiGHS binding module (``_core``) to use in this process.

    Returns
    -------
    module
        Exposes ``_Highs``, ``HighsLp``, ``HighsSolution``, ``MatrixFormat``,
        ``HighsVarType``, ``HighsModelStatus`` and ``kHighsInf``.
    """
    global _CORE
    if _CORE is not None:
        return _CORE
    choice = os.environ.get("SOURCEWISE_HIGHS", "").strip().lower()
    candidates = ["highspy._core", "scipy.optimize._highspy._core"]
    if choice != "highspy" and "highspy" not in sys.modules:
        candidates.reverse()
    last: Exception | None = None
    for name in candidates:
        try:
            _CORE = importlib.import_module(name)
            return _CORE
        except ImportError as exc:  # try the other copy
            last = exc
    raise ImportError(f"no usable HiGHS binding (scipy>=1.15 or highspy): {last}")


def _cpsat_usable() -> None:
    """Refuse to load OR-Tools next to a dynamically linked highspy (see module notes)."""
    core = highs_core()
    if core.__name__.startswith("highspy") or "highspy" in sys.modules:
        raise RuntimeError(
            "CP-SAT cannot run in a process that imported highspy (both ship libhighs.so.1); "
            "unset SOURCEWISE_HIGHS=highspy or use solver='highs'"
        )


@dataclass
class MipResult:
    """Outcome of an integer solve of the master.

    Attributes
    ----------
    choice : ndarray of int64 or None
        Chosen column per block, or ``None`` when no solution was found.
    objective : float
        Objective of ``choice`` (``inf`` when none).
    bound : float
        Solver's dual bound. It bounds the master *as given* (its columns
        only), not any problem the columns were drawn from.
    status : str
        ``optimal`` (proven for this master), ``feasible``, ``infeasible``
        or ``no solution``.
    solver : str
    seconds : float
    nodes : int
    """

    choice: np.ndarray | None
    objective: float
    bound: float
    status: str
    solver: str
    seconds: float
    nodes: int = 0


@dataclass
class Master:
    """Columns of a set-partitioning master, growing over column generation.

    Parameters
    ----------
    n_blocks : int
        Number of blocks (each must choose exactly one column).
    rhs : ndarray of float
        Right-hand sides of the initial resource rows (more can be added with
        :meth:`add_rows`).
    """

    n_blocks: int
    rhs: np.ndarray
    col_block: list[np.ndarray] = field(default_factory=list)
    col_cost: list[np.ndarray] = field(default_factory=list)
    col_ptr: list[np.ndarray] = field(default_factory=list)
    col_row: list[np.ndarray] = field(default_factory=list)
    col_val: list[np.ndarray] = field(default_factory=list)
    _flat: tuple | None = None
    _n_cols: int = 0

    def __post_init__(self) -> None:
        self.rhs = np.asarray(self.rhs, dtype=np.float64).copy()

    # ----------------------------------------------------------------- build
    @property
    def n_rows(self) -> int:
        return len(self.rhs)

    @property
    def n_cols(self) -> int:
        return self._n_cols

    def add_rows(self, rhs: np.ndarray) -> np.ndarray:
        """Append resource rows; returns their indices."""
        rhs = np.asarray(rhs, dtype=np.float64)
        first = len(self.rhs)
        self.rhs = np.concatenate([self.rhs, rhs])
        return np.arange(first, first + len(rhs), dtype=np.int64)

    def add_columns(self, block: np.ndarray, cost: np.ndarray, ptr: np.ndarray, row: np.ndarray,
                    val: np.ndarray) -> np.ndarray:
        """Append columns; column ``j`` uses rows ``row[ptr[j]:ptr[j+1]]`` with ``val``.

        Returns
        -------
        ndarray of int64
            Indices of the new columns.
        """
        first = self.n_cols
        n = len(block)
        self._n_cols += n
        self.col_block.append(np.asarray(block, np.int64))
        self.col_cost.append(np.asarray(cost, np.float64))
        self.col_ptr.append(np.asarray(ptr, np.int64))
        self.col_row.append(np.asarray(row, np.int64))
        self.col_val.append(np.asarray(val, np.float64))
        self._flat = None
        return np.arange(first, first + n, dtype=np.int64)

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All columns as ``(block, cost, ptr, row, val)`` arrays."""
        if self._flat is None:
            if not self.col_block:
                e = np.empty(0, np.int64)
                self._flat = (e, np.empty(0), np.zeros(1, np.int64), e, np.empty(0))
            else:
                ptrs, off = [], 0
                for p in self.col_ptr:
                    ptrs.append(p[:-1] + off)
                    off += int(p[-1])
                ptr = np.append(np.concatenate(ptrs), off).astype(np.int64)
                self._flat = (np.concatenate(self.col_block), np.concatenate(self.col_cost), ptr,
                              np.concatenate(self.col_row), np.concatenate(self.col_val))
        return self._flat

    def _csc(self, block, ptr, row, val, first_row_offset: int):
        """Column-wise matrix with the block row first, resource rows shifted by ``n_blocks``."""
        n = len(block)
        counts = np.diff(ptr) + 1
        start = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=start[1:])
        idx = np.empty(int(start[-1]), np.int32)
        vals = np.empty(int(start[-1]), np.float64)
        idx[start[:-1]] = block
        vals[start[:-1]] = 1.0
        # resource entries go right after each column's block entry
        pos = np.repeat(start[:-1] + 1 - ptr[:-1], np.diff(ptr)) + np.arange(len(row))
        idx[pos] = row + first_row_offset
        vals[pos] = val
        return start, idx, vals

    # ------------------------------------------------------------------- MIP
    def objective_of(self, choice: np.ndarray) -> float:
        """Objective of one column per block."""
        return float(self.flat()[1][choice].sum())

    def feasible(self, choice: np.ndarray, tol: float = 1e-7) -> bool:
        """Whether one column per block, as given, respects every resource row."""
        block, _, ptr, row, val = self.flat()
        if len(choice) != self.n_blocks or not np.array_equal(block[choice], np.arange(self.n_blocks)):
            return False
        use = self.usage(choice)
        return bool(np.all(use <= self.rhs + tol))

    def rows_of(self, cols: np.ndarray) -> np.ndarray:
        """Resource rows any of ``cols`` uses, sorted."""
        return np.unique(self.flat()[3][self._nonzeros(cols)])

    def usage(self, choice: np.ndarray) -> np.ndarray:
        """Resource use of a set of columns."""
        _, _, _, row, val = self.flat()
        sel = self._nonzeros(choice)
        return np.bincount(row[sel], weights=val[sel], minlength=self.n_rows).astype(np.float64)

    def _nonzeros(self, cols: np.ndarray) -> np.ndarray:
        """Positions of ``cols``' entries in the flat ``row`` and ``val`` arrays."""
        ptr = self.flat()[2]
        lo, hi = ptr[cols], ptr[cols + 1]
        return np.repeat(lo - np.cumsum(np.r_[0, (hi - lo)[:-1]]), hi - lo) + np.arange(int((hi - lo).sum()))

    def solve_mip(self, time_limit: float, start: np.ndarray | None = None, solver: str = "highs",
                  cols: np.ndarray | None = None, rhs: np.ndarray | None = None, rel_gap: float = 1e-6,
                  abs_gap: float = 1e-6, integral_objective: bool = False,
                  threads: int = 2) -> MipResult:
        """Solve the master (or the sub-master over ``cols``) as an integer program.

        Parameters
        ----------
        time_limit : float
            Seconds.
        start : ndarray of int64, optional
            A feasible column per block to start from (HiGHS) or hint (CP-SAT).
        solver : {"highs", "cpsat"}
        cols : ndarray of int64, optional
            Restrict to these columns; every block must keep at least one.
        rhs : ndarray, optional
            Resource right-hand sides to use instead of the master's.
        rel_gap, abs_gap : float
            Stop when the solver's gap is this small.
        integral_objective : bool
            Costs are integers, so a gap below 1 proves optimality.
        threads : int
            CP-SAT workers.
        """
        t0 = time.perf_counter()
        block, cost, ptr, row, val = self.flat()
        if cols is None:
            cols = np.arange(len(block), dtype=np.int64)
        cols = np.asarray(cols, np.int64)
        rhs = self.rhs if rhs is None else np.asarray(rhs, np.float64)
        lo, hi = ptr[cols], ptr[cols + 1]
        sub_ptr = np.zeros(len(cols) + 1, np.int64)
        np.cumsum(hi - lo, out=sub_ptr[1:])
        sel = np.repeat(lo - sub_ptr[:-1], hi - lo) + np.arange(int(sub_ptr[-1]))
        sub_row, sub_val = row[sel], val[sel]
        sub_block, sub_cost = block[cols], cost[cols]
        pos = None
        if start is not None:
            where = {int(c): i for i, c in enumerate(cols)}
            pos = np.array([where.get(int(c), -1) for c in start], np.int64)
            if (pos < 0).any():
                pos = None
        if solver == "cpsat":
            res = self._solve_cpsat(time_limit, sub_block, sub_cost, sub_ptr, sub_row, sub_val, rhs, pos,
                                    rel_gap, abs_gap, integral_objective, threads)
        elif solver == "highs":
            res = self._solve_highs(time_limit, sub_block, sub_cost, sub_ptr, sub_row, sub_val, rhs, pos,
                                    rel_gap, abs_gap, integral_objective)
        else:
            raise ValueError(f"solver must be 'highs' or 'cpsat', got {solver!r}")
        if res.choice is not None:
            res.choice = cols[res.choice]
            res.objective = float(cost[res.choice].sum())
        res.seconds = time.perf_counter() - t0
        return res

    def solve_part(self, time_limit: float, blocks: np.ndarray, cols: np.ndarray, rhs: np.ndarray,
                   threads: int = 0) -> MipResult:
        """Choose one of ``cols`` for each of ``blocks`` within ``rhs`` (HiGHS): a sub-MIP of a neighbourhood.

        Parameters
        ----------
        time_limit : float
            Seconds.
        blocks : ndarray of int64
            The blocks (orders) to choose for, sorted; the others are fixed elsewhere.
        cols : ndarray of int64
            Their candidate columns; every block must have at least one.
        rhs : ndarray
            Resources left for these blocks, per master row.
        threads : int
            HiGHS's threads (0: its default). A thread that runs HiGHS keeps
            the count of its first run, so worker threads pass theirs on every call.

        Returns
        -------
        MipResult
            ``choice`` holds a column per block of ``blocks``.
        """
        t0 = time.perf_counter()
        block, cost, ptr, row, val = self.flat()
        cols = np.asarray(cols, np.int64)
        lo, hi = ptr[cols], ptr[cols + 1]
        sub_ptr = np.zeros(len(cols) + 1, np.int64)
        np.cumsum(hi - lo, out=sub_ptr[1:])
        sel = np.repeat(lo - sub_ptr[:-1], hi - lo) + np.arange(int(sub_ptr[-1]))
        rows, local_row = np.unique(row[sel], return_inverse=True)
        local_block = np.searchsorted(blocks, block[cols])
        res = self._solve_highs(time_limit, local_block, cost[cols], sub_ptr, local_row.astype(np.int64),
                                val[sel], rhs[rows], None, 1e-6, 1e-6, False, n_blocks=len(blocks),
                                restart=False, threads=threads)
        if res.choice is not None:
            res.choice = cols[res.choice]
            res.objective = float(cost[res.choice].sum())
        res.seconds = time.perf_counter() - t0
        return res

    def _solve_highs(self, time_limit, block, cost, ptr, row, val, rhs, pos, rel_gap, abs_gap,
                     integral, n_blocks: int | None = None, restart: bool = True, threads: int = 0) -> MipResult:
        n_blocks = self.n_blocks if n_blocks is None else n_blocks
        core = highs_core()
        inf = core.kHighsInf
        n = len(block)
        h = core._Highs()
        h.setOptionValue("output_flag", False)
        if threads:
            h.setOptionValue("threads", int(threads))
        if not restart:
            # small sub-MIPs gain little from restarts, and after one this HiGHS prints a debug line
            # to the terminal whatever output_flag says
            h.setOptionValue("mip_allow_restart", False)
        h.setOptionValue("time_limit", max(0.05, float(time_limit)))
        h.setOptionValue("mip_rel_gap", float(rel_gap))
        # with integral costs any gap below 1 is a proof of optimality
        h.setOptionValue("mip_abs_gap", 1.0 - 1e-6 if integral else float(abs_gap))
        if n > PRESOLVE_MAX_COLS:
            # HiGHS's MIP presolve does not watch the clock; on very wide masters it alone can
            # take minutes
            h.setOptionValue("presolve", "off")
        lp = core.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = n_blocks + len(rhs)
        lp.col_cost_ = cost
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.ones(n)
        lp.row_lower_ = np.concatenate([np.ones(n_blocks), np.full(len(rhs), -inf)])
        lp.row_upper_ = np.concatenate([np.ones(n_blocks), rhs])
        start, idx, vals = self._csc(block, ptr, row, val, n_blocks)
        lp.a_matrix_.format_ = core.MatrixFormat.kColwise
        lp.a_matrix_.start_ = start
        lp.a_matrix_.index_ = idx
        lp.a_matrix_.value_ = vals
        lp.integrality_ = [core.HighsVarType.kInteger] * n
        h.passModel(lp)
        if pos is not None:
            sol = core.HighsSolution()
            x = np.zeros(n)
            x[pos] = 1.0
            sol.col_value = x.tolist()
            sol.value_valid = True
            h.setSolution(sol)
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        has = int(info.primal_solution_status) == 2 and len(x) == n  # kSolutionStatusFeasible
        choice = None
        if has:
            chosen = np.flatnonzero(x > 0.5)
            if len(chosen) == n_blocks and np.array_equal(np.sort(block[chosen]), np.arange(n_blocks)):
                choice = chosen[np.argsort(block[chosen])]
        if status == core.HighsModelStatus.kOptimal:
            name = "optimal"
        elif status == core.HighsModelStatus.kInfeasible:
            name = "infeasible"
        else:
            name = "feasible" if choice is not None else "no solution"
        bound = float(info.mip_dual_bound)
        return MipResult(choice, float("inf"), bound, name, "highs", 0.0, int(info.mip_node_count))

    def _solve_cpsat(self, time_limit, block, cost, ptr, row, val, rhs, pos, rel_gap, abs_gap, integral,
                     threads) -> MipResult:
        _cpsat_usable()
        from ortools.sat.python import cp_model

        n = len(block)
        # CP-SAT needs integer data: costs in 1e-4 units (exact when integral), resource use
        # must already be integral (units, orders, GAP sizes).
        scale = 1.0 if integral else 1e4
        icost = np.rint(cost * scale).astype(np.int64)
        if not np.allclose(val, np.rint(val)) or not np.allclose(rhs, np.floor(rhs + 1e-9)):
            raise ValueError("CP-SAT needs integral resource coefficients and capacities")
        m = cp_model.CpModel()
        x = [m.NewBoolVar("") for _ in range(n)]
        order = np.argsort(block, kind="stable")
        bounds = np.searchsorted(block[order], np.arange(self.n_blocks + 1))
        for b in range(self.n_blocks):
            m.AddExactlyOne([x[j] for j in order[bounds[b]:bounds[b + 1]]])
        col_of = np.repeat(np.arange(n), np.diff(ptr))
        by_row = np.argsort(row, kind="stable")
        rb = np.searchsorted(row[by_row], np.arange(len(rhs) + 1))
        for r in range(len(rhs)):
            sel = by_row[rb[r]:rb[r + 1]]
            if len(sel):
                m.Add(sum(int(round(val[s])) * x[col_of[s]] for s in sel) <= int(np.floor(rhs[r] + 1e-9)))
        m.Minimize(sum(int(c) * x[j] for j, c in enumerate(icost) if c))
        if pos is not None:
            chosen = np.zeros(n, bool)
            chosen[pos] = True
            for j in range(n):
                m.AddHint(x[j], bool(chosen[j]))
        s = cp_model.CpSolver()
        s.parameters.max_time_in_seconds = max(0.05, float(time_limit))
        s.parameters.num_workers = max(1, int(threads))
        s.parameters.relative_gap_limit = float(rel_gap)
        s.parameters.absolute_gap_limit = 0.999 if integral else float(abs_gap) * scale
        st = s.Solve(m)
        choice = None
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            chosen = np.array([s.BooleanValue(v) for v in x], bool)
            ch = np.flatnonzero(chosen)
            choice = ch[np.argsort(block[ch])]
        name = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
                cp_model.INFEASIBLE: "infeasible"}.get(st, "no solution")
        bound = float(s.BestObjectiveBound()) / scale
        return MipResult(choice, float("inf"), bound, name, "cpsat", 0.0, int(s.NumBranches()))
