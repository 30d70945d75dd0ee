"""The solve's state keeps only feasible, better incumbents and records every attempt."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from sourcewise.engine.optimize.master import Master
from sourcewise.engine.optimize.master import MipResult
from sourcewise.engine.optimize.state import SolveState


def _problem() -> SimpleNamespace:
    """What the state reads of a problem: its master and its trace."""
    m = Master(2, np.array([1.0]))
    m.add_columns(np.array([0, 0, 1, 1]), np.array([1.0, 5.0, 2.0, 4.0]), np.array([0, 1, 1, 2, 2]),
                  np.array([0, 0]), np.array([1.0, 1.0]))
    return SimpleNamespace(master=m, trace=[])


def test_consider_keeps_feasible_improvements_only():
    pb = _problem()
    st = SolveState(np.array([1, 3]), 9.0, "start")
    st.consider(pb, np.array([0, 2]), "over capacity")
    assert st.source == "start"
    st.consider(pb, np.array([0, 3]), "better")
    assert (st.source, st.objective) == ("better", 5.0)
    st.consider(pb, np.array([1, 2]), "worse")
    assert st.source == "better"
    assert [e[1] for e in pb.trace] == ["over capacity", "better", "worse"]
    assert pb.trace[0][2] == "infeasible"


def test_improve_records_the_mip_and_proven_compares_with_the_bound():
    pb = _problem()
    st = SolveState(np.array([1, 3]), 9.0, "start", lb=5.0)
    assert not st.proven()
    st.improve(pb, MipResult(np.array([0, 3]), 5.0, 5.0, "optimal", "highs", 0.1), "mip")
    assert (st.source, st.mip_status, st.mip_bound) == ("mip", "optimal", 5.0)
    assert st.proven()
    st.improve(pb, MipResult(None, float("inf"), 4.0, "no solution", "highs", 0.1), "again")
    assert st.source == "mip" and st.mip_status == "no solution"
