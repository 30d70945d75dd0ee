"""The set-partitioning master: one column per block within the resource rows."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine.optimize.master import Master


def _two_blocks() -> Master:
    """Two blocks each choosing a cheap column on row 0 (room for one) or a dear one using nothing."""
    m = Master(2, np.array([1.0]))
    m.add_columns(np.array([0, 0, 1, 1]), np.array([1.0, 5.0, 2.0, 4.0]), np.array([0, 1, 1, 2, 2]),
                  np.array([0, 0]), np.array([1.0, 1.0]))
    return m


def test_feasibility_and_usage_follow_the_rows():
    m = _two_blocks()
    assert m.n_cols == 4 and m.n_rows == 1
    np.testing.assert_array_equal(m.usage(np.array([0, 2])), [2.0])
    assert not m.feasible(np.array([0, 2]))
    assert m.feasible(np.array([0, 3]))
    assert not m.feasible(np.array([2, 0]))  # one column per block, in block order
    assert m.objective_of(np.array([0, 3])) == pytest.approx(5.0)


@pytest.mark.parametrize("solver", ["highs", "cpsat"])
def test_mip_picks_the_cheapest_feasible_choice(solver):
    r = _two_blocks().solve_mip(10.0, solver=solver)
    assert r.status == "optimal"
    np.testing.assert_array_equal(r.choice, [0, 3])  # 1 + 4 beats 5 + 2; both cheap ones do not fit
    assert r.objective == pytest.approx(5.0)
    assert r.bound <= r.objective + 1e-6


def test_mip_over_a_subset_of_columns_with_other_capacities():
    m = _two_blocks()
    r = m.solve_mip(10.0, cols=np.array([0, 2, 3]), rhs=np.array([2.0]))
    np.testing.assert_array_equal(r.choice, [0, 2])
    assert r.objective == pytest.approx(3.0)
