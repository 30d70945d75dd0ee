"""The KPI table and its invariants (engine.simulate.kpis)."""

from __future__ import annotations

import pandas as pd

from sourcewise.engine.simulate import SUM_COLUMNS
from sourcewise.engine.simulate import check_invariants
from sourcewise.engine.simulate import kpi_frame


def test_check_invariants_reports_broken_rows():
    row = dict.fromkeys(SUM_COLUMNS, 0)
    row.update(day=0, date="2024-03-04", units_ordered=5, units_routed=3, units_unfilled=1, cost=10.0,
               shipping=9.0, oversell=1)
    bad = check_invariants(kpi_frame({"x": pd.DataFrame([row])}))
    assert any("oversell" in b for b in bad)
    assert any("!= ordered" in b for b in bad)
    assert any("cost components" in b for b in bad)
