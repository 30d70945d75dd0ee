"""Why each candidate node was or was not used for a decision.

Runs only when a caller reads ``decision.explanation.candidates``; routing
itself never pays for it beyond keeping the kernel's arrays alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from sourcewise.engine import _kernels as K
from sourcewise.models.decision import CandidateNote
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.policy import Policy


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One kernel call's view of the order: enough to explain it later."""

    tier: str
    strategy: str
    k: int
    g_sku: np.ndarray
    g_qty: np.ndarray
    cand: np.ndarray
    atp: np.ndarray
    alloc: np.ndarray
    miles: np.ndarray
    fixed: np.ndarray
    unit: np.ndarray
    capu: np.ndarray
    dest: np.ndarray
    mask: np.ndarray
    params: np.ndarray
    bands: np.ndarray
    cap_orders: np.ndarray | None
    complete: object = None  # callable filling miles, fixed and unit when the kernel skipped them

    def full(self) -> Snapshot:
        if self.complete is None or len(self.fixed) == len(self.cand):
            return self
        miles, fixed, unit = self.complete(self)
        return Snapshot(self.tier, self.strategy, self.k, self.g_sku, self.g_qty, self.cand, self.atp, self.alloc,
                        miles, fixed, unit, self.capu, self.dest, self.mask, self.params, self.bands,
                        self.cap_orders)


def _set_cost(s: Snapshot, members: np.ndarray, split_penalty: float) -> tuple[int, float]:
    S = np.full(3, -1, np.int64)
    m = min(3, len(members))
    S[:m] = members[:m]
    return K.eval_set(S, m, s.g_qty, s.atp, s.unit, s.fixed, s.capu, split_penalty,
                       np.zeros((1, 1), np.int64), False, np.empty(9, np.int64))


def _best_with(s: Snapshot, c: int, k: int, split_penalty: float) -> tuple[int, float]:
    best = K.plan_cost(s.g_qty, s.atp, s.unit, s.fixed, s.capu, k, split_penalty, len(s.cand), int(c))
    return _set_cost(s, best[best >= 0], split_penalty)


def _candidate_notes(network: Network, policy: Policy, s: Snapshot) -> list[CandidateNote]:
    """Selected nodes first, then the best-ranked rejected candidates.

    For the ``cost`` and ``dual`` strategies a rejected candidate is priced
    by the best plan that uses it within the split limit: ``costlier`` by
    the difference, or ``split limit`` when no such plan fills as many units
    but one more parcel through it would fill more. For rule-based
    strategies a skipped node with stock for an unfilled line is a
    ``split limit`` rejection; any other is ``outranked``.
    """
    sp = policy.split_penalty
    km = s.miles * K.MILE_KM
    used = s.alloc.sum(axis=1) > 0
    chosen = np.flatnonzero(used)
    fill = int(s.alloc.sum())
    total = int(s.g_qty.sum())
    chosen_cost = float((s.alloc * s.unit).sum() + s.fixed[chosen].sum() + sp * max(0, len(chosen) - 1))
    notes = [CandidateNote(network.nodes[s.cand[c]].node_id, "selected", float(km[c]), int(s.atp[c].sum()))
             for c in chosen]
    rejected = np.flatnonzero(~used)
    scored: list[tuple[float, CandidateNote]] = []
    if s.strategy in ("cost", "dual") and len(rejected):
        kk = min(s.k, 3)
        single = np.array([_set_cost(s, np.array([c]), sp)[1] for c in rejected])
        for c in rejected[np.argsort(single, kind="stable")[: policy.explain_top]]:
            f, cost = _best_with(s, c, kk, sp)
            nid = network.nodes[s.cand[c]].node_id
            blocked = f < fill
            if not blocked and fill < total and kk < 3:
                blocked = _best_with(s, c, kk + 1, sp)[0] > fill
            if blocked:
                scored.append((np.inf, CandidateNote(nid, "split limit", float(km[c]), int(s.atp[c].sum()))))
            else:
                extra = max(0.0, cost - chosen_cost)
                scored.append((extra, CandidateNote(nid, "costlier", float(km[c]), int(s.atp[c].sum()), extra)))
    elif len(rejected):
        unfilled = s.g_qty - s.alloc.sum(axis=0) > 0
        for c in rejected[np.argsort(km[rejected], kind="stable")][: policy.explain_top]:
            nid = network.nodes[s.cand[c]].node_id
            reason = "split limit" if fill < total and (s.atp[c] > 0)[unfilled].any() else "outranked"
            scored.append((float(km[c]), CandidateNote(nid, reason, float(km[c]), int(s.atp[c].sum()))))
    scored.sort(key=lambda t: t[0])
    notes.extend(n for _, n in scored)
    return notes


def _why_not(network: Network, s: Snapshot, n: int, miles: float) -> str:
    """Reason a node stocking the SKUs was never a candidate in this tier."""
    if not network.usable[n]:
        return "disabled"
    p = s.params
    if miles > p[K.P_MAX_MILES]:
        return "too far"
    if p[K.P_REQUIRE_CUTOFF] > 0 and p[K.P_HOUR] >= network.cutoff_hour[n]:
        return "past cutoff"
    nodef = K.pack_nodes(network)
    if p[K.P_MAX_DAYS] >= 0 and p[K.P_LATE_MODE] == K.LATE_EXCLUDE and K.lead_days(n, miles, p[K.P_HOUR], nodef, s.bands) > p[K.P_MAX_DAYS]:
        return "misses delivery date"
    if s.cap_orders is not None and s.cap_orders[n] <= 0:
        return "at capacity"
    return "no stock"


def build_notes(network: Network, inventory: Inventory, policy: Policy,
                snapshots: list[Snapshot]) -> tuple[CandidateNote, ...]:
    """Notes for every tier's candidates, then for the nodes that stock the
    order's SKUs but could not take part (disabled, too far, late, full or
    out of stock), nearest first."""
    notes: list[CandidateNote] = []
    seen: set[str] = set()
    snapshots = [s.full() for s in snapshots]
    for s in snapshots:
        for note in _candidate_notes(network, policy, s):
            if note.node_id not in seen:
                seen.add(note.node_id)
                notes.append(note)
    others: list[CandidateNote] = []
    for s in snapshots:
        in_cand = {int(n) for n in s.cand}
        idx = sorted({int(n) for g in s.g_sku for n in inventory.node[inventory.sku_ptr[g]:inventory.sku_ptr[g + 1]]
                      if s.mask[n] or not network.usable[n]} - in_cand)
        if not idx:
            continue
        miles = K.distance_miles(s.dest, network.xyz, np.array(idx, np.int64))
        for n, d in zip(idx, miles, strict=True):
            nid = network.nodes[n].node_id
            if nid not in seen:
                seen.add(nid)
                others.append(CandidateNote(nid, _why_not(network, s, n, float(d)), float(d * K.MILE_KM), 0))
    others.sort(key=lambda note: note.distance_km)
    notes.extend(others[: policy.explain_top])
    return tuple(notes)


@dataclass(frozen=True, eq=False)
class ExplainContext:
    """The arrays an explanation reads, without the router: decisions hold this,
    so they never form a reference cycle with the router's open orders."""

    inv: Inventory
    nodef: np.ndarray
    skuf: np.ndarray
    entry_fee: np.ndarray
    dual: np.ndarray
    entry_demand: np.ndarray
    entry_risk: np.ndarray
    no_free: np.ndarray
    bands: np.ndarray
    network: Network


class LazySnapshot(msgspec.Struct, gc=False):
    """An explanation snapshot for a decision made without candidate matrices.

    The one-call paths keep only the ATP the order saw; this rebuilds the
    full :class:`~sourcewise.engine.explain.Snapshot` (candidates, distances, planning
    costs) when someone reads the explanation. ``node`` ships ``need``
    alone, or, with ``node`` -1, ``rows`` say what each node of a split
    ships: a flat list of (node, group, units, entry) quadruples.
    ``router`` is the router's :class:`ExplainContext`, not the router;
    ``free`` marks the nodes that already shipped for the order (None: none).
    """

    router: Any
    tier: str
    strategy: str
    k: int
    g_sku: Any
    g_qty: Any
    node: int
    need: Any
    snap: Any
    dest: Any
    mask: Any
    params: Any
    cap_orders: Any
    cap_units: Any
    code: int
    rows: Any = None
    policy: Any = None
    free: Any = None

    def __call__(self) -> tuple[CandidateNote, ...]:
        """The candidate notes of a decision that is this one snapshot (its explanation's builder).

        A method rather than a closure per decision: routing builds one of these per order.
        """
        inv = self.router.inv
        return build_notes(inv.network, inv, self.policy, [self])

    def full(self) -> Snapshot:
        r = self.router
        inv = r.inv
        dest = self.dest if isinstance(self.dest, np.ndarray) else K.unit_vector(*self.dest)
        # a private index over just these SKUs, holding the ATP the order saw
        ranges = [np.arange(inv.sku_ptr[s], inv.sku_ptr[s + 1]) for s in self.g_sku]
        orig = np.concatenate(ranges) if ranges else np.empty(0, np.int64)
        ptr = np.zeros(len(self.g_sku) + 1, np.int64)
        ptr[1:] = np.cumsum([len(x) for x in ranges])
        m = len(orig)
        caps_o = self.cap_orders if self.cap_orders is not None else r.network.capacity_orders
        caps_u = self.cap_units if self.cap_units is not None else r.network.capacity_units
        mark = np.full(r.network.n_nodes, -1, np.int64)  # private scratch: the router's may be in use
        local = np.arange(len(self.g_sku), dtype=np.int64)
        cand, atp, ent, miles, lead = K.gather(local, ptr, inv.node[orig], self.snap, np.zeros(m, np.int64),
                                                np.zeros(m, np.int64), self.mask, caps_o, caps_u, mark, dest,
                                                r.nodef, self.params, r.bands)
        K.fill_distances(cand, miles, lead, dest, r.nodef, self.params, r.bands)
        skuf = np.ascontiguousarray(r.skuf[self.g_sku])
        fixed, unit = K.unit_costs(cand, local, ent, atp, miles, lead, r.nodef, skuf, r.entry_fee[orig],
                                    r.dual[orig], r.entry_demand[orig],
                                    r.no_free if self.free is None else self.free, self.params, self.code)
        unit += np.where(ent >= 0, r.entry_risk[orig][np.maximum(ent, 0)], 0.0)
        alloc = np.zeros_like(atp)
        position = {n: c for c, n in enumerate(cand.tolist())}
        if self.rows is None:
            if self.node in position:
                alloc[position[self.node]] = self.need
        else:
            rows = self.rows
            for j in range(0, len(rows), 4):
                alloc[position[rows[j]], rows[j + 1]] = rows[j + 2]
        capu = np.asarray(caps_u)[cand]
        return Snapshot(self.tier, self.strategy, self.k, self.g_sku, self.g_qty, cand, atp, alloc, miles, fixed,
                        unit, capu, dest, self.mask, self.params, r.bands, self.cap_orders)
