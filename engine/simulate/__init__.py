"""Multi-day replay of a scenario under sourcing strategies: the planner's what-if lab.

:func:`simulate` replays a scenario's order stream in time order once per
strategy, each from the same initial state (a fresh
:class:`~sourcewise.engine.router.Router` per strategy), and measures what
each policy would have done. Random draws (walk-in demand, pick rejections,
vendor failures) depend only on the seed, the day and the order, never on
the strategy, so strategies are compared on the same events, and a seed
reproduces a run exactly. A journal folder (``sourcewise journal export``)
replays a production router's recorded events instead of generating any.

Modules, by job:

* :mod:`~sourcewise.engine.simulate.config`: :class:`SimConfig` and the strategy names;
* :mod:`~sourcewise.engine.simulate.prepare`: the order stream, stock entries and
  random draws every strategy shares (:class:`Prepared`);
* :mod:`~sourcewise.engine.simulate.replay`: the day loop (:class:`Replay`) and :func:`simulate`;
* :mod:`~sourcewise.engine.simulate.journal`: replaying a journal folder's recorded events
  (:class:`JournalReplay`), ``as_recorded`` and the check of the recorded decisions;
* :mod:`~sourcewise.engine.simulate.routed`: what a day routed, as arrays;
* :mod:`~sourcewise.engine.simulate.strategies`: batch waves and dual prices;
* :mod:`~sourcewise.engine.simulate.events`: walk-in sales, pick rejections, vendor failures;
* :mod:`~sourcewise.engine.simulate.ledger`: the independent stock ledger and the oversell check;
* :mod:`~sourcewise.engine.simulate.records`: the planner's per-order, per-node and end-of-day figures;
* :mod:`~sourcewise.engine.simulate.kpis`: the KPI table and its invariants;
* :mod:`~sourcewise.engine.simulate.dictionary`: unit and meaning of every column;
* :mod:`~sourcewise.engine.simulate.charts`: the charts, as matplotlib figures;
* :mod:`~sourcewise.engine.simulate.report`: the tables, ``summary.md``, PNGs and ``report.html``;
* :mod:`~sourcewise.engine.simulate.sweep`: policy sweeps on Dask, one replay per task.

The names of ``report`` and ``sweep`` are importable from here too, but load
on first use: ``report`` imports matplotlib, which no command but
``simulate`` and ``sweep`` should pay for at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

from sourcewise.engine.simulate.config import AS_RECORDED
from sourcewise.engine.simulate.config import DEFAULT_STRATEGIES
from sourcewise.engine.simulate.config import SimConfig
from sourcewise.engine.simulate.config import StrategySpec
from sourcewise.engine.simulate.config import check_strategies
from sourcewise.engine.simulate.config import parse_strategy
from sourcewise.engine.simulate.journal import JournalPrepared
from sourcewise.engine.simulate.journal import JournalReplay
from sourcewise.engine.simulate.journal import default_strategies
from sourcewise.engine.simulate.journal import prepare
from sourcewise.engine.simulate.kpis import KPI_COLUMNS
from sourcewise.engine.simulate.kpis import RECORDED_COLUMNS
from sourcewise.engine.simulate.kpis import SUM_COLUMNS
from sourcewise.engine.simulate.kpis import check_invariants
from sourcewise.engine.simulate.kpis import daily_rows
from sourcewise.engine.simulate.kpis import kpi_frame
from sourcewise.engine.simulate.kpis import total_rows
from sourcewise.engine.simulate.ledger import OversellError
from sourcewise.engine.simulate.prepare import Prepared
from sourcewise.engine.simulate.prepare import take_orders
from sourcewise.engine.simulate.replay import Replay
from sourcewise.engine.simulate.replay import SimulationResult
from sourcewise.engine.simulate.replay import StrategyResult
from sourcewise.engine.simulate.replay import simulate

#: Names re-exported from the modules that load on first use, by module.
_LAZY: dict[str, tuple[str, ...]] = {
    "report": ("REPORT_FILES", "comparison_table", "format_table", "summary_markdown", "write_report"),
    "sweep": ("Variant", "apply_params", "load_grid", "open_client", "plot_sweep", "run_sweep", "run_variant",
              "sweep_table", "variants_from_grid", "write_sweep"),
}
_LAZY_HOME = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    """Load ``report`` or ``sweep`` when one of their names is first asked for (PEP 562)."""
    module = _LAZY_HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    """Every name here, the lazily loaded ones included."""
    return sorted([*globals(), *_LAZY_HOME])


__all__ = [
    "AS_RECORDED", "DEFAULT_STRATEGIES", "KPI_COLUMNS", "RECORDED_COLUMNS", "SUM_COLUMNS", "JournalPrepared",
    "JournalReplay", "OversellError", "Prepared", "Replay", "SimConfig", "SimulationResult", "StrategyResult",
    "StrategySpec", "check_invariants", "check_strategies", "daily_rows", "default_strategies", "kpi_frame",
    "parse_strategy", "prepare", "simulate", "take_orders", "total_rows", *_LAZY_HOME,
]
