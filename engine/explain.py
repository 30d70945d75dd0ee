"""Why each candidate node was or was not used for a decision.

Runs only when a caller reads ``decision.explanation.candidates``; routing
itself never pays for it.
"""

from __future__ import annotations

import numpy as np

from engine import _kernels as K
from models.decision import CandidateNote
from models.inventory import Inventory
from models.network import Network
from models.policy import Policy


def _set_cost(members: np.ndarray, qty, atp, unit, fixed, split_penalty) -> tuple[int, float]:
    S = np.full(3, -1, np.int64)
    m = min(3, len(members))
    S[:m] = members[:m]
    return K._eval_set(S, m, qty, atp, unit, fixed, split_penalty, np.zeros((1, 1), np.int64), False)


def build_notes(network: Network, inventory: Inventory, policy: Policy, strategy: str, k: int,
                g_sku: np.ndarray, g_qty: np.ndarray, cand: np.ndarray, atp: np.ndarray,
                alloc: np.ndarray, miles: np.ndarray, fixed: np.ndarray,
                unit: np.ndarray, dest: np.ndarray) -> tuple[CandidateNote, ...]:
    """Notes for the selected nodes, the best-ranked rejected candidates, and
    the nodes that stock the order's SKUs but could not take part.

    For the ``cost`` strategy a rejected candidate is priced by the best plan
    that uses it within the split limit: ``costlier`` by the difference, or
    ``split limit`` when no such plan fills as many units. For rule-based
    strategies a node with stock for an unfilled line that was skipped is a
    ``split limit`` rejection; any other is ``outranked``.
    """
    km = miles * K.MILE_KM
    used = alloc.sum(axis=1) > 0
    chosen = np.flatnonzero(used)
    fill = int(alloc.sum())
    total = int(g_qty.sum())
    chosen_cost = float((alloc * unit).sum() + fixed[chosen].sum()
                        + policy.split_penalty * max(0, len(chosen) - 1))
    notes = [CandidateNote(network.nodes[cand[c]].node_id, "selected", float(km[c]), int(atp[c].sum()))
             for c in chosen]
    rejected = np.flatnonzero(~used)
    scored: list[tuple[float, CandidateNote]] = []
    if strategy in ("cost", "dual") and len(rejected):
        kk = min(k, 3)
        # rank rejected nodes by their own single-node cost first; only the top few are priced
        single = np.array([_set_cost(np.array([c]), g_qty, atp, unit, fixed, policy.split_penalty)[1]
                           for c in rejected])
        top = rejected[np.argsort(single, kind="stable")[: policy.explain_top]]
        for c in top:
            best = K._plan_cost(g_qty, atp, unit, fixed, kk, policy.split_penalty, len(cand), int(c))
            members = best[best >= 0]
            f, cost = _set_cost(members, g_qty, atp, unit, fixed, policy.split_penalty)
            nid = network.nodes[cand[c]].node_id
            blocked = f < fill
            if not blocked and fill < total and kk < 3:
                # would one more parcel through this node have filled more?
                wider = K._plan_cost(g_qty, atp, unit, fixed, kk + 1, policy.split_penalty, len(cand), int(c))
                blocked = _set_cost(wider[wider >= 0], g_qty, atp, unit, fixed, policy.split_penalty)[0] > fill
            if blocked:
                scored.append((np.inf, CandidateNote(nid, "split limit", float(km[c]), int(atp[c].sum()))))
            else:
                extra = max(0.0, cost - chosen_cost)
                scored.append((extra, CandidateNote(nid, "costlier", float(km[c]), int(atp[c].sum()), extra)))
    elif len(rejected):
        unfilled_groups = g_qty - alloc.sum(axis=0) > 0
        for c in rejected[np.argsort(km[rejected], kind="stable")][: policy.explain_top]:
            nid = network.nodes[cand[c]].node_id
            reason = "split limit" if fill < total and (atp[c] > 0)[unfilled_groups].any() else "outranked"
            scored.append((float(km[c]), CandidateNote(nid, reason, float(km[c]), int(atp[c].sum()))))
    scored.sort(key=lambda t: t[0])
    notes.extend(n for _, n in scored)

    # nodes that hold entries for these SKUs but were never candidates
    in_cand = set(int(n) for n in cand)
    others: dict[int, str] = {}
    for s in g_sku:
        for n in inventory.node[inventory.sku_ptr[s]:inventory.sku_ptr[s + 1]]:
            n = int(n)
            if n in in_cand or n in others:
                continue
            others[n] = "no stock" if network.usable[n] else "disabled"
    if others:
        idx = np.fromiter(others, np.int64)
        dist = K._distance_miles(dest, network.xyz, idx) * K.MILE_KM
        extra_notes = sorted(
            (CandidateNote(network.nodes[n].node_id, others[n], float(d), 0) for n, d in zip(idx, dist, strict=True)),
            key=lambda note: note.distance_km,
        )
        notes.extend(extra_notes[: policy.explain_top])
    return tuple(notes)
