"""What every platform's response is built from: the decision per line, the status, the summary.

Platform modules shape these into their write-back bodies; what they have
in common (allocations by line, units left unfilled, the ``"sourcewise"``
summary block, what moved after a rejection) lives here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from typing import Protocol

import numpy as np

from sourcewise.engine.adapters.records import Bound
from sourcewise.models.decision import Decision
from sourcewise.models.decision import Status

__all__ = [
    "AtpLookup", "allocation_delta", "allocations_by_line", "decision_status", "summary", "summary_notes",
    "unfilled_by_line",
]


class AtpLookup(Protocol):
    """Available-to-promise units that renders report: a :class:`~sourcewise.engine.router.Router`
    (live, this order's reservation already taken) or an :class:`~sourcewise.models.inventory.Inventory`."""

    def atp(self, node_id: str, sku: str) -> int:
        """Units of ``sku`` at ``node_id``."""

    def atp_of_sku(self, sku: str) -> np.ndarray:
        """Units of ``sku`` at each node its inventory stores, in the order of those entries."""


def decision_status(bound: Bound, decision: Decision | None) -> str:
    """Order status including lines that could not be routed anywhere.

    ``routed``, ``partial``, ``unroutable``, or ``nothing_to_route`` when
    the order had no routable lines at all (e.g. every fulfillment order is
    a pick-up).
    """
    if decision is None:
        return _UNROUTABLE if bound.skipped else "nothing_to_route"
    if not bound.skipped:
        # a StrEnum's str() is its value, through C; ``.value`` is a Python-level property
        return str(decision.status)
    return _PARTIAL if decision.units > 0 else _UNROUTABLE


_PARTIAL: str = Status.PARTIAL.value
_UNROUTABLE: str = Status.UNROUTABLE.value


def allocations_by_line(decision: Decision | None) -> dict[str, list[tuple[str, int]]]:
    """``line_id -> [(node_id, qty), ...]`` in decision order."""
    out: dict[str, list[tuple[str, int]]] = {}
    if decision is not None:
        for a in decision.allocations:
            pieces = out.get(a.line_id)
            if pieces is None:  # setdefault would build a list for every allocation
                out[a.line_id] = [(a.node_id, a.qty)]
            else:
                pieces.append((a.node_id, a.qty))
    return out


def unfilled_by_line(bound: Bound, decision: Decision | None) -> dict[str, int]:
    """Units per line left unallocated: the decision's unfilled plus unstocked lines."""
    if decision is not None and not bound.skipped:
        # the usual order: every line routable, and the decision says what it left
        return dict(decision.unfilled) if decision.unfilled else {}
    out = {ln.line_id: ln.qty for ln in bound.skipped}
    if decision is not None:
        out.update(dict(decision.unfilled))
    elif bound.order is not None:
        out.update({ln.line_id: ln.qty for ln in bound.order.lines})
    return out


def summary(bound: Bound, decision: Decision | None) -> dict[str, Any]:
    """The engine's own view, added to every platform response under ``"sourcewise"``."""
    lat, lon, basis, approximate_point, _ = bound.destination
    out: dict[str, Any] = {
        "order_id": bound.source.order_id,
        "status": decision_status(bound, decision),
        "destination": {"lat": lat, "lon": lon, "basis": basis, "approximate": approximate_point},
        "notes": list(bound.notes),
    }
    if bound.source.service_level is not None:
        out["service_level"] = bound.source.service_level
    if decision is not None:
        _add_location_notes(out["notes"], bound, decision)
        c = decision.cost
        out["strategy"] = decision.strategy
        out["cost"] = {"shipping": c.shipping, "handling": c.handling, "vendor_fees": c.vendor_fees,
                       "split_penalty": c.split_penalty, "total": c.total}
    return out


def summary_notes(bound: Bound, decision: Decision | None) -> list[str]:
    """The ``notes`` of :func:`summary`, without the rest of it."""
    notes = list(bound.notes)
    if decision is not None:
        _add_location_notes(notes, bound, decision)
    return notes


def _add_location_notes(notes: list[str], bound: Bound, decision: Decision) -> None:
    # a foreign or out-of-reach destination: the router's geography flags go out with the response
    notes.extend(f for f in decision.flags if f not in notes)
    approximate = bound.catalog.approximate
    if approximate:
        # a location placed by a centroid makes this decision's distances estimates too
        for node_id in dict.fromkeys(a.node_id for a in decision.allocations if a.node_id in approximate):
            notes.append(bound.catalog.points[node_id].note(f"location {bound.catalog.locations[node_id].raw_id}"))


def allocation_delta(before: Decision | None, after: Decision, lines: Iterable[str] | None,
                     rejected: str) -> dict[str, list[tuple[str, int]]]:
    """Units per line that moved to a new node between two decisions.

    Re-routing keeps most of an order where it was; the platform must only
    be told about what moved off the rejected node. For each line (all, or
    ``lines``), the positive difference per node other than ``rejected``.
    """
    old: dict[tuple[str, str], int] = {}
    if before is not None:
        for a in before.allocations:
            old[(a.line_id, a.node_id)] = old.get((a.line_id, a.node_id), 0) + a.qty
    new: dict[tuple[str, str], int] = {}
    for a in after.allocations:
        new[(a.line_id, a.node_id)] = new.get((a.line_id, a.node_id), 0) + a.qty
    wanted = None if lines is None else set(lines)
    out: dict[str, list[tuple[str, int]]] = {}
    for (line_id, node_id), q in new.items():
        if node_id == rejected or wanted is not None and line_id not in wanted:
            continue
        gained = q - old.get((line_id, node_id), 0)
        if gained > 0:
            out.setdefault(line_id, []).append((node_id, gained))
    return out
