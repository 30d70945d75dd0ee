"""Decision values: immutable, compared and hashed by value, picklable, built by keyword or position."""

from __future__ import annotations

import copy
import gc
import pickle
from datetime import date

import pytest

from sourcewise.models.decision import Allocation
from sourcewise.models.decision import CandidateNote
from sourcewise.models.decision import CostBreakdown
from sourcewise.models.decision import Decision
from sourcewise.models.decision import Explanation
from sourcewise.models.decision import Shipment
from sourcewise.models.decision import Status
from sourcewise.models.decision import TierNote


def _decision(order_id: str = "o-1", explanation: Explanation | None = None) -> Decision:
    allocs = (Allocation("l1", "S1", "N1", 2), Allocation("l2", "S2", "N2", 1))
    ships = (Shipment("N1", 2, 12.5, (("l1", 2),), 2.0, date(2026, 11, 25), "ship", "own"),
             Shipment("N2", 1, 40.0, (("l2", 1),), 3.0, date(2026, 11, 26), "ship", "own"))
    return Decision(order_id, Status.ROUTED, allocs, ships, CostBreakdown(10.0, 2.0, 0.0, 1.5, 0.25), "cost",
                    explanation, unfilled=(), substitutes=())


def test_every_field_is_read_only():
    d = _decision()
    values = [d, d.allocations[0], d.shipments[0], d.cost, TierNote("own", (("l1", 2),)),
              CandidateNote("N3", "costlier", 5.0, 4, 1.25)]
    for v in values:
        name = type(v).__struct_fields__[0]
        with pytest.raises(AttributeError):
            setattr(v, name, getattr(v, name))


def test_equal_and_hashed_by_value_and_keyword_construction_matches_positional():
    a, b = _decision(), _decision()
    assert a == b and hash(a) == hash(b)
    assert a != _decision("o-2")
    assert Allocation(line_id="l1", sku="S1", node_id="N1", qty=2) == a.allocations[0]
    assert Shipment("N1", 2, 12.5, (("l1", 2),)) == Shipment(node_id="N1", units=2, distance_km=12.5,
                                                                lines=(("l1", 2),), promised_days=0.0,
                                                                promised_date=None, method="ship", tier="")
    # values of different types never compare equal, even with equal fields
    assert TierNote("x", ()) != CandidateNote("x", "", 0.0, 0)


def test_derived_figures():
    d = _decision()
    assert d.cost.total == pytest.approx(13.75)
    assert d.units == 3 and d.distance_km == pytest.approx(52.5) and d.backordered == ()
    assert str(CandidateNote("N3", "costlier", 5.0, 4, 1.25)) == "N3: costlier by 1.25"
    assert repr(d.allocations[0]) == "Allocation(line_id='l1', sku='S1', node_id='N1', qty=2)"


def test_pickle_and_copy_round_trip():
    d = _decision()
    for clone in (pickle.loads(pickle.dumps(d)), copy.deepcopy(d), copy.copy(d)):
        assert clone == d
        assert type(clone.allocations[0]) is Allocation and type(clone.status) is Status


def test_a_decision_in_a_cycle_is_collected():
    """Decisions stay visible to the cycle collector: an explanation whose builder refers
    back to its own decision must not leak (the leaf values are untracked, the Decision is not)."""
    class Builder:
        decision: Decision | None = None

        def __call__(self):
            return ()

    b = Builder()
    d = _decision(explanation=Explanation("cost", b))
    b.decision = d
    assert gc.is_tracked(d) and not gc.is_tracked(d.allocations[0])
    del b, d
    gc.collect()
    assert not any(type(o) is Builder for o in gc.get_objects())
