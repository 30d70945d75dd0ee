"""Routing decisions: where each unit ships from, what it costs and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum

import msgspec

# The values of a decision are frozen msgspec Structs rather than frozen dataclasses:
# as immutable, compared and hashed by value, slotted and picklable, and built by C
# code in a quarter of the time. Routing builds six or more of them per order; as
# dataclasses they were about a fifth of a route() call. gc=False on the ones that
# hold only strings, numbers, dates and tuples of those, which cannot form cycles:
# they never count towards a garbage collection.


#: Between a decision's flags where a table holds them in one cell (the sentences themselves hold "; ").
FLAG_SEP = " | "


class Status(StrEnum):
    """Outcome of routing one order."""

    ROUTED = "routed"
    PARTIAL = "partial"
    UNROUTABLE = "unroutable"


class Allocation(msgspec.Struct, frozen=True, gc=False):
    """Units of one order line assigned to one node."""

    line_id: str
    sku: str
    node_id: str
    qty: int


class Shipment(msgspec.Struct, frozen=True, gc=False):
    """One parcel: everything a node sends for the order.

    ``promised_days`` counts processing, a wait past the node's cutoff and
    transit; ``promised_date`` is that many days after the order was placed.
    ``method`` is ``ship``, ``same_day``, ``pickup`` or ``transfer`` (to a
    pickup store); ``tier`` names the sourcing tier that chose the node.
    """

    node_id: str
    units: int
    distance_km: float
    lines: tuple[tuple[str, int], ...]
    promised_days: float = 0.0
    promised_date: date | None = None
    method: str = "ship"
    tier: str = ""


class CostBreakdown(msgspec.Struct, frozen=True, gc=False):
    """Cost of a decision by component."""

    shipping: float = 0.0
    handling: float = 0.0
    vendor_fees: float = 0.0
    split_penalty: float = 0.0
    penalties: float = 0.0

    @property
    def total(self) -> float:
        return self.shipping + self.handling + self.vendor_fees + self.split_penalty + self.penalties


class CandidateNote(msgspec.Struct, frozen=True, gc=False):
    """Why a candidate node was chosen or rejected.

    ``reason`` is one of ``selected``, ``no stock``, ``disabled``,
    ``split limit`` or ``costlier``; for ``costlier``, ``extra_cost`` is how
    much more the best plan using this node would have cost.
    """

    node_id: str
    reason: str
    distance_km: float
    atp_units: int
    extra_cost: float = 0.0

    def __str__(self) -> str:
        if self.reason == "costlier":
            return f"{self.node_id}: costlier by {self.extra_cost:.2f}"
        return f"{self.node_id}: {self.reason}"


class TierNote(msgspec.Struct, frozen=True, gc=False):
    """What one sourcing tier did for the order.

    ``served`` maps line ids to units this tier allocated; ``reason`` says
    why it left units for later tiers (empty when it left none).
    """

    tier: str
    served: tuple[tuple[str, int], ...]
    reason: str = ""


class Explanation:
    """Candidates considered for a decision and why each was or was not used.

    Building the candidate notes costs far more than routing, so it happens
    on first access, from a snapshot taken at decision time. ``tiers`` says
    which tier served each line and why earlier tiers did not;
    ``vendor_failures`` lists vendors whose live check timed out or failed.
    """

    __slots__ = ("_build", "_notes", "strategy", "tiers", "vendor_failures", "messages")

    def __init__(self, strategy: str, build: Callable[[], tuple[CandidateNote, ...]],
                 tiers: tuple[TierNote, ...] = (), vendor_failures: tuple[tuple[str, str], ...] = (),
                 messages: tuple[str, ...] = ()):
        self.strategy = strategy
        self._build: Callable[[], tuple[CandidateNote, ...]] | None = build
        self._notes: tuple[CandidateNote, ...] | None = None
        self.tiers = tiers
        self.vendor_failures = vendor_failures
        self.messages = messages

    @property
    def candidates(self) -> tuple[CandidateNote, ...]:
        if self._notes is None:
            assert self._build is not None
            self._notes = self._build()
            self._build = None
        return self._notes

    def __str__(self) -> str:
        parts = [f"strategy {self.strategy}:"]
        for t in self.tiers:
            served = ", ".join(f"{lid}x{q}" for lid, q in t.served) or "nothing"
            parts.append(f"  tier {t.tier}: served {served}" + (f"; {t.reason}" if t.reason else ""))
        parts.extend(f"  vendor {v} skipped: {why}" for v, why in self.vendor_failures)
        parts.extend(f"  {m}" for m in self.messages)
        parts.extend(f"  {c}" for c in self.candidates)
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"Explanation(strategy={self.strategy!r})"


class Decision(msgspec.Struct, frozen=True):
    """Where an order ships from.

    Parameters
    ----------
    order_id : str
    status : Status
        ``routed`` when every unit is allocated, ``partial`` when some are,
        ``unroutable`` when none are.
    allocations : tuple of Allocation
        Per-line node assignments.
    shipments : tuple of Shipment
        Allocations grouped by node.
    cost : CostBreakdown
    strategy : str
    explanation : Explanation
    unfilled : tuple of (line_id, units)
        Units per line that could not be allocated: they are backordered.
    substitutes : tuple of (line_id, tuple of (sku, score))
        Proposed in-stock alternatives for unfilled lines, best first. They
        are proposals only; nothing is allocated for them.
    flags : tuple of str
        Geography warnings: the destination is outside every shipping node's
        country, or farther than every node's service radius. The decision
        then rests on the domestic cost model and transit bands, so its
        costs and promise dates are estimates (see ``sourcewise.engine.geography``).
    """

    order_id: str
    status: Status
    allocations: tuple[Allocation, ...]
    shipments: tuple[Shipment, ...]
    cost: CostBreakdown
    strategy: str
    explanation: Explanation | None = None
    unfilled: tuple[tuple[str, int], ...] = ()
    substitutes: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def backordered(self) -> tuple[tuple[str, int], ...]:
        """Lines left for a backorder: what no tier could allocate."""
        return self.unfilled

    @property
    def units(self) -> int:
        return sum(a.qty for a in self.allocations)

    @property
    def distance_km(self) -> float:
        """Sum over shipments of the node-to-customer great-circle distance."""
        return sum(s.distance_km for s in self.shipments)
