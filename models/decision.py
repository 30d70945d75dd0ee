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


class LineReason(msgspec.Struct, frozen=True, gc=False):
    """Why units of one order line were not routed.

    ``code`` is one of :data:`REASON_CODES`; ``text`` says the same for a
    person, naming the node or limit that stood in the way; ``units`` is
    how many of the line's units are unfilled.
    """

    line_id: str
    sku: str
    units: int
    code: str
    text: str


#: Every reason code a line (and an order) can carry, most specific first: the order of the
#: gates a node with stock passes before it ships (see :mod:`sourcewise.engine.reasons`).
REASON_CODES: tuple[str, ...] = ("split_limit", "capacity_full", "late_excluded", "past_cutoff", "vendor_failed",
                                 "too_far", "not_eligible", "no_stock", "pickup_store_empty", "pickup_not_offered")


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

    def to_builtins(self) -> dict:
        """The explanation as JSON-ready values; builds the candidate notes (see :attr:`candidates`)."""
        return {"strategy": self.strategy, "tiers": msgspec.to_builtins(self.tiers),
                "vendor_failures": [list(v) for v in self.vendor_failures], "messages": list(self.messages),
                "candidates": msgspec.to_builtins(self.candidates)}

    @classmethod
    def from_builtins(cls, obj: dict) -> Explanation:
        """The explanation :meth:`to_builtins` wrote; its candidates are the recorded ones."""
        data = msgspec.convert(obj, _ExplanationData)
        notes = data.candidates
        return cls(data.strategy, lambda: notes, data.tiers, tuple(tuple(v) for v in data.vendor_failures),
                   data.messages)


class _ExplanationData(msgspec.Struct, frozen=True):
    """The typed form of :meth:`Explanation.to_builtins`, for reading it back."""

    strategy: str
    tiers: tuple[TierNote, ...] = ()
    vendor_failures: tuple[tuple[str, str], ...] = ()
    messages: tuple[str, ...] = ()
    candidates: tuple[CandidateNote, ...] = ()


def _encode_explanation(obj: object) -> object:
    if isinstance(obj, Explanation):
        return obj.to_builtins()
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def _decode_explanation(type_: type, obj: object) -> object:
    if type_ is Explanation:
        return Explanation.from_builtins(obj)  # type: ignore[arg-type]
    raise NotImplementedError(f"cannot decode {type_.__name__}")


_json_encoder = msgspec.json.Encoder(enc_hook=_encode_explanation)


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
    reasons : tuple of LineReason
        Why each line with unfilled units was not fully routed (one per such
        line, in line order); empty for a routed order.
    state : str
        ``open`` while the order holds its reservation, ``committed`` or
        ``released`` in what :meth:`Router.commit` and :meth:`Router.release`
        return (and, for ``committed``, what the router reports after).

    Notes
    -----
    :meth:`to_json` and :meth:`from_json` (and :meth:`to_builtins`) carry
    everything, the explanation included: its candidate notes are built
    then and read back as recorded.
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
    reasons: tuple[LineReason, ...] = ()
    state: str = "open"

    @property
    def reason(self) -> str:
        """The order's reason code: the reason of the line with the most unfilled units ("" when routed)."""
        if not self.reasons:
            return ""
        return max(self.reasons, key=lambda r: r.units).code

    def to_builtins(self) -> dict:
        """The decision as JSON-ready values (dates as ISO text), explanation included."""
        return msgspec.to_builtins(self, enc_hook=_encode_explanation)

    def to_json(self) -> bytes:
        """The decision as JSON (UTF-8), explanation included; :meth:`from_json` reads it back."""
        return _json_encoder.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> Decision:
        """A decision from :meth:`to_json`'s text (or :meth:`to_builtins`' values encoded as JSON)."""
        return msgspec.json.decode(data, type=cls, dec_hook=_decode_explanation)

    @classmethod
    def from_builtins(cls, obj: dict) -> Decision:
        """A decision from :meth:`to_builtins`' values."""
        return msgspec.convert(obj, cls, dec_hook=_decode_explanation)

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
