"""Numba kernels for single-order routing.

Private: every function here takes arrays and scalars only. The public
wrappers in :mod:`engine.router` and :mod:`engine.scoring` validate and
convert. Each kernel has a slow reference twin in ``tests/naive.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

EARTH_RADIUS_MI = 3958.7613
MILE_KM = 1.609344

STRATEGY_CODES = {"cost": 0, "priority": 1, "nearest": 2, "high_stock": 3, "dual": 4}
_EPS = 1e-9


@njit(cache=True, inline="always")
def _miles(ax, ay, az, bx, by, bz):
    # Great-circle distance from the chord between unit vectors: one asin,
    # and accurate for nearby points where acos(dot) is not.
    dx = ax - bx
    dy = ay - by
    dz = az - bz
    half = 0.5 * np.sqrt(dx * dx + dy * dy + dz * dz)
    if half > 1.0:
        half = 1.0
    return 2.0 * EARTH_RADIUS_MI * np.arcsin(half)


@njit(cache=True)
def _distance_miles(dest, xyz, idx):
    out = np.empty(idx.shape[0])
    for i in range(idx.shape[0]):
        n = idx[i]
        out[i] = _miles(dest[0], dest[1], dest[2], xyz[n, 0], xyz[n, 1], xyz[n, 2])
    return out


@njit(cache=True, parallel=True, fastmath=True)
def _proximity_scores(dest_xyz, node_xyz):
    """Dot products of every destination with every node: larger is nearer."""
    m = dest_xyz.shape[0]
    n = node_xyz.shape[0]
    out = np.empty((m, n))
    for i in prange(m):
        x = dest_xyz[i, 0]
        y = dest_xyz[i, 1]
        z = dest_xyz[i, 2]
        for j in range(n):
            out[i, j] = x * node_xyz[j, 0] + y * node_xyz[j, 1] + z * node_xyz[j, 2]
    return out


@njit(cache=True)
def _gather(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, usable, mark):
    """Candidate nodes holding ATP for any group, their ATP and entry positions.

    ``mark`` is a per-node scratch array that must be all -1 on entry; it is
    restored before returning so the next call can reuse it.
    """
    G = g_sku.shape[0]
    ub = 0
    for g in range(G):
        s = g_sku[g]
        ub += sku_ptr[s + 1] - sku_ptr[s]
    cand = np.empty(ub, np.int64)
    C = 0
    for g in range(G):
        s = g_sku[g]
        for e in range(sku_ptr[s], sku_ptr[s + 1]):
            n = ent_node[e]
            if not usable[n] or mark[n] >= 0:
                continue
            if on_hand[e] - safety[e] - reserved[e] <= 0:
                continue
            mark[n] = C
            cand[C] = n
            C += 1
    atp = np.zeros((C, G), np.int64)
    ent = np.full((C, G), -1, np.int64)
    for g in range(G):
        s = g_sku[g]
        for e in range(sku_ptr[s], sku_ptr[s + 1]):
            c = mark[ent_node[e]]
            if c < 0:
                continue
            a = on_hand[e] - safety[e] - reserved[e]
            if a > 0:
                atp[c, g] = a
                ent[c, g] = e
    for c in range(C):
        mark[cand[c]] = -1
    return cand[:C].copy(), atp, ent


@njit(cache=True)
def _unit_costs(cand, g_sku, dest, xyz, h_ship, h_unit, fee, price, weight,
                per_shipment, per_unit, per_unit_mile, per_kg):
    """Fixed cost per shipment and cost per unit of each (candidate, group)."""
    C = cand.shape[0]
    G = g_sku.shape[0]
    miles = _distance_miles(dest, xyz, cand)
    fixed = np.empty(C)
    unit = np.empty((C, G))
    for c in range(C):
        n = cand[c]
        fixed[c] = per_shipment + h_ship[n]
        base = per_unit + h_unit[n] + per_unit_mile * miles[c]
        for g in range(G):
            s = g_sku[g]
            unit[c, g] = base + fee[n] * price[s] + per_kg * weight[s]
    return miles, fixed, unit


@njit(cache=True)
def _eval_set(S, m, qty, atp, unit, fixed, split_penalty, alloc_out, write):
    """Fill and cost of serving the order from candidate set ``S[:m]``.

    Each group is filled from the cheapest members first; given the set this
    is optimal, because groups share no stock and costs are linear in units.
    Only members that receive units pay their fixed cost.
    """
    G = qty.shape[0]
    used = np.zeros(3, np.bool_)
    order = np.empty(3, np.int64)
    fill = 0
    cost = 0.0
    for g in range(G):
        for i in range(m):
            order[i] = i
        # insertion sort of at most three members by unit cost
        for i in range(1, m):
            j = i
            while j > 0 and unit[S[order[j]], g] < unit[S[order[j - 1]], g]:
                t = order[j]
                order[j] = order[j - 1]
                order[j - 1] = t
                j -= 1
        rem = qty[g]
        for i in range(m):
            if rem == 0:
                break
            c = S[order[i]]
            a = atp[c, g]
            if a <= 0:
                continue
            take = a if a < rem else rem
            rem -= take
            fill += take
            cost += take * unit[c, g]
            used[order[i]] = True
            if write:
                alloc_out[c, g] = take
    nused = 0
    for i in range(m):
        if used[i]:
            nused += 1
            cost += fixed[S[i]]
    if nused > 1:
        cost += split_penalty * (nused - 1)
    return fill, cost


@njit(cache=True)
def _better(fill, cost, best_fill, best_cost):
    return fill > best_fill or (fill == best_fill and cost < best_cost - _EPS)


@njit(cache=True)
def _plan_cost(qty, atp, unit, fixed, k, split_penalty, split_candidates, force):
    """Minimum-cost plan using at most ``min(k, 3)`` nodes, maximising fill first.

    Branch and bound over node sets. A lower bound on any multi-node plan
    that fills every fillable unit is ``sum(fixed) + sum(q_g * cmin_g)`` plus,
    for each member ``a``, the least extra unit cost ``d_a`` it adds over the
    cheapest source of some group it stocks (an optimal member carries at
    least one unit). Members are scanned in order of ``fixed_a + d_a``, so
    the scan stops as soon as the bound passes the incumbent. Splits combine
    only the first ``split_candidates`` nodes in that order.

    With ``force >= 0`` only sets containing that candidate are searched
    (the explanation uses this to price the best plan through a rejected node).

    Returns
    -------
    best : ndarray of int64, shape (3,)
        Candidate positions of the chosen set, padded with -1.
    """
    C, G = atp.shape
    best = np.full(3, -1, np.int64)
    S = np.empty(3, np.int64)
    dummy = np.zeros((1, 1), np.int64)
    if C == 0:
        return best
    # globally fillable units and cheapest unit cost per group
    fillable = np.zeros(G, np.int64)
    cmin = np.full(G, np.inf)
    total_fillable = 0
    for g in range(G):
        tot = 0
        for c in range(C):
            if atp[c, g] > 0:
                tot += atp[c, g]
                if unit[c, g] < cmin[g]:
                    cmin[g] = unit[c, g]
        fillable[g] = tot if tot < qty[g] else qty[g]
        total_fillable += fillable[g]
    lb_units = 0.0
    for g in range(G):
        if fillable[g] > 0:
            lb_units += fillable[g] * cmin[g]
    key = np.empty(C)
    cover = np.zeros(C, np.int64)
    fmin = np.inf
    for c in range(C):
        d = np.inf
        for g in range(G):
            if atp[c, g] > 0:
                cover[c] += atp[c, g] if atp[c, g] < qty[g] else qty[g]
                x = unit[c, g] - cmin[g]
                if x < d:
                    d = x
        key[c] = fixed[c] + d
        if fixed[c] < fmin:
            fmin = fixed[c]

    best_fill = -1
    best_cost = np.inf
    for c in range(C):
        if force >= 0 and c != force:
            continue
        S[0] = c
        f, cst = _eval_set(S, 1, qty, atp, unit, fixed, split_penalty, dummy, False)
        if _better(f, cst, best_fill, best_cost):
            best_fill = f
            best_cost = cst
            best[0] = c
    kk = k if k < 3 else 3
    if kk < 2 or C < 2:
        return best
    order = np.argsort(key, kind="mergesort")
    M = C if C < split_candidates else split_candidates
    for size in range(2, kk + 1):
        for jj in range(size - 1, M):
            j = order[jj]
            full = best_fill == total_fillable
            if full and key[j] + (size - 1) * (fmin + split_penalty) + lb_units >= best_cost - _EPS:
                break
            for ii in range(jj):
                i = order[ii]
                if size == 2:
                    if force >= 0 and i != force and j != force:
                        continue
                    if cover[i] + cover[j] < best_fill:
                        continue
                    if best_fill == total_fillable and fixed[i] + key[j] + split_penalty + lb_units >= best_cost - _EPS:
                        continue
                    S[0] = i
                    S[1] = j
                    f, cst = _eval_set(S, 2, qty, atp, unit, fixed, split_penalty, dummy, False)
                    if _better(f, cst, best_fill, best_cost):
                        best_fill = f
                        best_cost = cst
                        best[0] = i
                        best[1] = j
                        best[2] = -1
                else:
                    for hh in range(ii):
                        h = order[hh]
                        if force >= 0 and h != force and i != force and j != force:
                            continue
                        if cover[h] + cover[i] + cover[j] < best_fill:
                            continue
                        if best_fill == total_fillable and (
                            fixed[h] + fixed[i] + key[j] + 2 * split_penalty + lb_units >= best_cost - _EPS
                        ):
                            continue
                        S[0] = h
                        S[1] = i
                        S[2] = j
                        f, cst = _eval_set(S, 3, qty, atp, unit, fixed, split_penalty, dummy, False)
                        if _better(f, cst, best_fill, best_cost):
                            best_fill = f
                            best_cost = cst
                            best[0] = h
                            best[1] = i
                            best[2] = j
    return best


@njit(cache=True)
def _extend_greedy(alloc, qty, atp, unit, k):
    """Add nodes beyond three while units remain and the limit allows.

    Used only when an order may ship in more than three parcels: the exact
    search covers up to three, further parcels are added by most units first.
    """
    C, G = atp.shape
    nused = 0
    used = np.zeros(C, np.bool_)
    for c in range(C):
        for g in range(G):
            if alloc[c, g] > 0:
                used[c] = True
        if used[c]:
            nused += 1
    while nused < k:
        best_c = -1
        best_gain = 0
        for c in range(C):
            if used[c]:
                continue
            gain = 0
            for g in range(G):
                rem = qty[g]
                for c2 in range(C):
                    rem -= alloc[c2, g]
                gain += atp[c, g] if atp[c, g] < rem else rem
            if gain > best_gain:
                best_gain = gain
                best_c = c
        if best_c < 0:
            break
        used[best_c] = True
        nused += 1
        for g in range(G):
            rem = qty[g]
            for c2 in range(C):
                rem -= alloc[c2, g]
            if rem > 0 and atp[best_c, g] > 0:
                alloc[best_c, g] = atp[best_c, g] if atp[best_c, g] < rem else rem


@njit(cache=True)
def _greedy(order_per_group, qty, atp, k, alloc):
    """Fill group by group from nodes in rank order, opening at most ``k`` nodes."""
    C, G = atp.shape
    used = np.zeros(C, np.bool_)
    nused = 0
    if k == 1:
        # a single parcel: the first node in rank order that covers everything
        for r in range(C):
            c = order_per_group[0, r]
            ok = True
            for g in range(G):
                if atp[c, g] < qty[g]:
                    ok = False
                    break
            if ok:
                for g in range(G):
                    alloc[c, g] = qty[g]
                return
    for g in range(G):
        rem = qty[g]
        for r in range(C):
            if rem == 0:
                break
            c = order_per_group[g, r]
            a = atp[c, g]
            if a <= 0:
                continue
            if not used[c]:
                if nused >= k:
                    continue
                used[c] = True
                nused += 1
            take = a if a < rem else rem
            alloc[c, g] = take
            rem -= take


@njit(cache=True)
def _route_core(dest, g_sku, g_qty, k, strategy,
                xyz, h_ship, h_unit, fee, prio_rank, usable, price, weight,
                sku_ptr, ent_node, on_hand, safety, reserved, mark,
                per_shipment, per_unit, per_unit_mile, per_kg, split_penalty, split_candidates,
                entry_price, reserve):
    """Route one order and optionally reserve its stock.

    Strategy 4 (``dual``) plans like ``cost`` with ``entry_price`` (a shadow
    price per inventory entry) added to each unit's cost; the reported costs
    stay the real ones.

    Returns
    -------
    cand, atp, ent, alloc, miles, fixed, unit, costs
        ``costs`` holds shipping, handling, vendor fees and split penalty.
    """
    cand, atp, ent = _gather(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, usable, mark)
    miles, fixed, unit = _unit_costs(cand, g_sku, dest, xyz, h_ship, h_unit, fee, price, weight,
                                     per_shipment, per_unit, per_unit_mile, per_kg)
    C = cand.shape[0]
    G = g_sku.shape[0]
    alloc = np.zeros((C, G), np.int64)
    if strategy == 4:
        for c in range(C):
            for g in range(G):
                if ent[c, g] >= 0:
                    unit[c, g] += entry_price[ent[c, g]]
    if C > 0:
        if strategy == 0 or strategy == 4:
            best = _plan_cost(g_qty, atp, unit, fixed, k, split_penalty, split_candidates, -1)
            m = 0
            while m < 3 and best[m] >= 0:
                m += 1
            _eval_set(best, m, g_qty, atp, unit, fixed, split_penalty, alloc, True)
            if k > 3:
                _extend_greedy(alloc, g_qty, atp, unit, k)
        else:
            ranks = np.empty((G, C), np.int64)
            if strategy == 3:
                for g in range(G):
                    ranks[g] = np.argsort(-atp[:, g], kind="mergesort")
            else:
                if strategy == 1:
                    keyv = np.empty(C)
                    for c in range(C):
                        keyv[c] = prio_rank[cand[c]]
                else:
                    keyv = miles
                base = np.argsort(keyv, kind="mergesort")
                for g in range(G):
                    ranks[g] = base
            _greedy(ranks, g_qty, atp, k, alloc)
    costs = np.zeros(4)
    nship = 0
    for c in range(C):
        units = 0
        for g in range(G):
            a = alloc[c, g]
            if a > 0:
                units += a
                s = g_sku[g]
                n = cand[c]
                costs[0] += a * (per_unit + per_unit_mile * miles[c] + per_kg * weight[s])
                costs[1] += a * h_unit[n]
                costs[2] += a * fee[n] * price[s]
                if reserve:
                    reserved[ent[c, g]] += a
        if units > 0:
            nship += 1
            costs[0] += per_shipment
            costs[1] += h_ship[cand[c]]
    if nship > 1:
        costs[3] = split_penalty * (nship - 1)
    return cand, atp, ent, alloc, miles, fixed, unit, costs


@njit(cache=True)
def _grow(a, size):
    out = np.empty(size, a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def _route_batch(dest, line_ptr, g_sku, g_qty, k, strategy,
                 xyz, h_ship, h_unit, fee, prio_rank, usable, price, weight,
                 sku_ptr, ent_node, on_hand, safety, reserved, mark,
                 per_shipment, per_unit, per_unit_mile, per_kg, split_penalty, split_candidates,
                 entry_price):
    """Route orders in sequence, each depleting stock for the next.

    Order ``o`` owns groups ``line_ptr[o]:line_ptr[o+1]``.

    Returns
    -------
    out_group, out_node, out_qty, out_ent : ndarray of int64
        One row per (group, node) allocation, in order of groups, with the
        inventory entry it reserved.
    order_costs : ndarray, shape (n_orders, 4)
    order_ships : ndarray of int64, shape (n_orders,)
    order_km : ndarray, shape (n_orders,)
        Sum over shipments of node-to-customer distance.
    """
    n_orders = line_ptr.shape[0] - 1
    cap = g_sku.shape[0] + 16
    out_group = np.empty(cap, np.int64)
    out_node = np.empty(cap, np.int64)
    out_qty = np.empty(cap, np.int64)
    out_ent = np.empty(cap, np.int64)
    order_costs = np.zeros((n_orders, 4))
    order_ships = np.zeros(n_orders, np.int64)
    order_km = np.zeros(n_orders)
    n_out = 0
    for o in range(n_orders):
        lo = line_ptr[o]
        hi = line_ptr[o + 1]
        cand, atp, ent, alloc, miles, fixed, unit, costs = _route_core(
            dest[o], g_sku[lo:hi], g_qty[lo:hi], k[o], strategy,
            xyz, h_ship, h_unit, fee, prio_rank, usable, price, weight,
            sku_ptr, ent_node, on_hand, safety, reserved, mark,
            per_shipment, per_unit, per_unit_mile, per_kg, split_penalty, split_candidates,
            entry_price, True)
        order_costs[o] = costs
        for c in range(cand.shape[0]):
            shipped = False
            for g in range(hi - lo):
                a = alloc[c, g]
                if a > 0:
                    shipped = True
                    if n_out == out_group.shape[0]:
                        cap = 2 * cap
                        out_group = _grow(out_group, cap)
                        out_node = _grow(out_node, cap)
                        out_qty = _grow(out_qty, cap)
                        out_ent = _grow(out_ent, cap)
                    out_group[n_out] = lo + g
                    out_node[n_out] = cand[c]
                    out_qty[n_out] = a
                    out_ent[n_out] = ent[c, g]
                    n_out += 1
            if shipped:
                order_ships[o] += 1
                order_km[o] += miles[c] * MILE_KM
    return (out_group[:n_out], out_node[:n_out], out_qty[:n_out], out_ent[:n_out],
            order_costs, order_ships, order_km)
