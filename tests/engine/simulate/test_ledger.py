"""The independent stock ledger (engine.simulate.ledger): shipped units, oversells, the router check."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine.scenario import build_router
from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import OversellError
from sourcewise.engine.simulate import Prepared
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate.ledger import StockLedger
from tests.conftest import SAMPLE


def test_ledger_counts_oversold_entries_and_differences_from_the_router():
    prep = Prepared(load_scenario(SAMPLE), SimConfig(strategies=("cost",)))
    router = build_router(prep.scenario, prep.scenario.policy, business_day=prep.dates[0])
    stock = StockLedger(prep, router)
    stock.verify("cost", final=False)  # it starts from the router's stock
    e = int(np.argmax(stock.ledger))
    held = int(stock.ledger[e])
    assert held > 0
    # an entry of -1 (an allocation without a stock entry) is not the ledger's to count
    assert stock.ship(np.array([e, -1]), np.array([held, 5])) == 0
    assert stock.ledger[e] == 0
    assert stock.ship(np.array([e]), np.array([1])) == 1
    with pytest.raises(OversellError, match="differs from the ledger at 1 entries at the end"):
        stock.verify("cost", final=True)
