"""Routing decisions: where each unit ships from, what it costs and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Outcome of routing one order."""

    ROUTED = "routed"
    PARTIAL = "partial"
    UNROUTABLE = "unroutable"


@dataclass(frozen=True, slots=True)
class Allocation:
    """Units of one order line assigned to one node."""

    line_id: str
    sku: str
    node_id: str
    qty: int


@dataclass(frozen=True, slots=True)
class Shipment:
    """One parcel: everything a node sends for the order."""

    node_id: str
    units: int
    distance_km: float
    lines: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cost of a decision by component."""

    shipping: float = 0.0
    handling: float = 0.0
    vendor_fees: float = 0.0
    split_penalty: float = 0.0

    @property
    def total(self) -> float:
        return self.shipping + self.handling + self.vendor_fees + self.split_penalty


@dataclass(frozen=True, slots=True)
class CandidateNote:
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


class Explanation:
    """Candidates considered for a decision and why each was or was not used.

    Building the notes costs far more than routing, so it happens on first
    access, from a snapshot taken at decision time.
    """

    __slots__ = ("_build", "_notes", "strategy")

    def __init__(self, strategy: str, build: Callable[[], tuple[CandidateNote, ...]]):
        self.strategy = strategy
        self._build: Callable[[], tuple[CandidateNote, ...]] | None = build
        self._notes: tuple[CandidateNote, ...] | None = None

    @property
    def candidates(self) -> tuple[CandidateNote, ...]:
        if self._notes is None:
            assert self._build is not None
            self._notes = self._build()
            self._build = None
        return self._notes

    def __str__(self) -> str:
        body = "\n".join(f"  {c}" for c in self.candidates)
        return f"strategy {self.strategy}:\n{body}"

    def __repr__(self) -> str:
        return f"Explanation(strategy={self.strategy!r})"


@dataclass(frozen=True, slots=True)
class Decision:
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
    unfilled : dict of str to int
        Units per line that could not be allocated.
    """

    order_id: str
    status: Status
    allocations: tuple[Allocation, ...]
    shipments: tuple[Shipment, ...]
    cost: CostBreakdown
    strategy: str
    explanation: Explanation | None = None
    unfilled: tuple[tuple[str, int], ...] = ()

    @property
    def units(self) -> int:
        return sum(a.qty for a in self.allocations)

    @property
    def distance_km(self) -> float:
        """Sum over shipments of the node-to-customer great-circle distance."""
        return sum(s.distance_km for s in self.shipments)
