"""Numba kernels for single-order routing.

Private: every function here takes arrays and scalars only. The public
wrappers in :mod:`sourcewise.engine.router` and :mod:`sourcewise.engine.scoring` validate and
convert. Each kernel has a slow reference twin in ``tests/naive.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

EARTH_RADIUS_MI = 3958.7613
MILE_KM = 1.609344

STRATEGY_CODES = {"cost": 0, "priority": 1, "nearest": 2, "high_stock": 3, "dual": 4}
_EPS = 1e-9


# fdlibm's rational approximation of asin on [0, 0.5): asin(x) = x + x * p(x^2) / q(x^2)
_PS = (1.66666666666666657415e-01, -3.25565818622400915405e-01, 2.01212532134862925881e-01,
       -4.00555345006794114027e-02, 7.91534994289814532176e-04, 3.47933107596021167570e-05)
_QS = (-2.40339491173441421878e+00, 2.02094576023350569471e+00, -6.88283971605453293030e-01,
       7.70381505559019352791e-02)


@njit(cache=True, inline="always")
def _asin(x):
    """``asin`` of ``0 <= x <= 1``, within an ulp of libm's.

    A full search prices every candidate node's exact distance, one asin
    each, and libm's call was a third of the whole candidate scan. Below
    0.5 (arcs under about 4,100 miles: any two points of the contiguous US)
    this evaluates fdlibm's rational approximation inline, in about a third
    of the time; above, libm. ``x + x * w`` with ``w >= 0`` is never below
    ``x``, so the chord still bounds the arc from below.
    """
    if x >= 0.5:
        return np.arcsin(x)
    t = x * x
    p = t * (_PS[0] + t * (_PS[1] + t * (_PS[2] + t * (_PS[3] + t * (_PS[4] + t * _PS[5])))))
    q = 1.0 + t * (_QS[0] + t * (_QS[1] + t * (_QS[2] + t * _QS[3])))
    return x + x * (p / q)


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
    return 2.0 * EARTH_RADIUS_MI * _asin(half)


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


# Columns of the packed per-node float matrix the kernels read.
NF_X, NF_Y, NF_Z, NF_HSHIP, NF_HUNIT, NF_PRIO, NF_PDAYS, NF_CUTOFF = 0, 1, 2, 3, 4, 5, 6, 7
NODE_COLS = 8
# Positions in the per-call parameter vector.
(P_PER_SHIPMENT, P_PER_UNIT, P_PER_MILE, P_PER_KG, P_SPLIT, P_SPLIT_CANDS, P_MAX_MILES, P_HOUR,
 P_REQUIRE_CUTOFF, P_MAX_DAYS, P_LATE_MODE, P_LATE_PENALTY, P_DEPLETION, P_SHIP_LB) = range(14)
# P_SHIP_LB: the cheapest conceivable parcel (per shipment plus the least
# handling per shipment of any node), for the fast path's bound on splits
N_PARAMS = 14


@njit(cache=True)
def _transit_days(miles, bands):
    km = miles * MILE_KM
    for b in range(bands.shape[0]):
        if km <= bands[b, 0]:
            return bands[b, 1]
    return bands[bands.shape[0] - 1, 1]


@njit(cache=True)
def _lead_days(n, miles, nodef, params, bands):
    """Days from order to delivery through node ``n``: processing, a day's
    wait when the order arrives after the node's cutoff, and transit."""
    days = nodef[n, NF_PDAYS] + _transit_days(miles, bands)
    if params[P_HOUR] >= nodef[n, NF_CUTOFF]:
        days += 1.0
    return days


@njit(cache=True, inline="always")
def _sku_views(s, sku_ptr, ent_node, on_hand, safety, reserved):
    """Zero-based views of SKU ``s``'s entries: nodes, on hand, safety, reserved.

    Loops indexed from zero over these let numba drop its negative-index
    checks and vectorise where it can (about 6x faster for a plain copy
    than indexing the full arrays by entry).
    """
    lo = sku_ptr[s]
    hi = sku_ptr[s + 1]
    return ent_node[lo:hi], on_hand[lo:hi], safety[lo:hi], reserved[lo:hi]


@njit(cache=True)
def _gather(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask, cap_orders, cap_units, mark,
            dest, nodef, params, bands):
    """Eligible candidate nodes holding ATP for any group.

    A node is eligible when the tier's ``mask`` admits it, it has order and
    unit capacity left today, it lies within ``max_miles``, it is before its
    cutoff when the method requires that, and (when lateness excludes) it
    can meet the order's delivery deadline. ATP is capped by the node's
    remaining unit capacity.

    ``mark`` is a per-node scratch array that must be all -1 on entry; it is
    restored before returning so the next call can reuse it.

    Returns
    -------
    cand, atp, ent, miles, lead
        ``miles`` and ``lead`` are NaN where no filter needed them; see
        :func:`_fill_distances`.
    """
    empty = np.empty(0)
    cand, atp, ent, miles, lead, _, _, _, _ = _gather_core(
        g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask, cap_orders, cap_units, mark, dest, nodef,
        params, bands, False, empty, empty, empty, empty, np.zeros((0, 2)), np.zeros(0, np.bool_), 0)
    return cand, atp, ent, miles, lead


@njit(cache=True)
def _gather_priced(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask, cap_orders, cap_units, mark,
                   dest, nodef, params, bands, entry_fee, entry_dual, entry_risk, entry_demand, skuf, free,
                   strategy):
    """:func:`_gather`, :func:`_fill_distances` and :func:`_unit_costs` (plus ``entry_risk``) in one pass.

    For a search that will price every candidate anyway. The per-entry
    costs are read while the scan walks each SKU's entries in storage
    order, instead of afterwards by (candidate, group), where every read
    is a cache miss on a large inventory.

    Returns
    -------
    cand, atp, ent, miles, lead, fixed, unit
        Every ``miles`` is exact; ``lead`` is NaN where no deadline needs it.
    total : ndarray of int64, shape (G,)
        ATP summed over the candidates, per group.
    cheapest : ndarray, shape (G,)
        Least ``unit`` over the cells with ATP, per group (inf if none).
        The plan search would otherwise make a pass over every cell for these.
    """
    return _gather_core(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask, cap_orders, cap_units, mark,
                        dest, nodef, params, bands, True, entry_fee, entry_dual, entry_risk, entry_demand,
                        skuf, free, strategy)


@njit(cache=True)
def _gather_core(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask, cap_orders, cap_units, mark,
                 dest, nodef, params, bands, price, entry_fee, entry_dual, entry_risk, entry_demand, skuf, free,
                 strategy):
    """The scan behind :func:`_gather` and, with ``price``, :func:`_gather_priced`."""
    G = g_sku.shape[0]
    ub = 0
    for g in range(G):
        s = g_sku[g]
        ub += sku_ptr[s + 1] - sku_ptr[s]
    cand = np.empty(ub, np.int64)
    miles = np.empty(ub)
    lead = np.empty(ub)
    touched = np.empty(ub, np.int64)
    n_touched = 0
    C = 0
    max_miles = params[P_MAX_MILES]
    max_days = params[P_MAX_DAYS]
    exclude_late = params[P_LATE_MODE] == 0.0
    # distances are needed here only to filter (or to price); otherwise the planner
    # computes them lazily, for the few nodes whose cheap lower bound can still win
    need_filter = max_miles < np.inf or max_days >= 0
    need_dist = need_filter or price
    w = params[P_DEPLETION]
    # one pass: a node becomes a candidate at its first entry with stock, and every
    # entry of a candidate fills its cell as the scan meets it (rows sized for the
    # worst case, every entry a new node; a row is initialised when its node becomes
    # a candidate, and the caller gets the first C)
    atp = np.empty((ub, G), np.int64)
    ent = np.empty((ub, G), np.int64)
    total = np.zeros(G, np.int64)
    cheapest = np.full(G, np.inf)
    # per unit, by weight: the same for every candidate of a group
    by_kg = np.empty(G)
    for g in range(G):
        by_kg[g] = params[P_PER_KG] * skuf[g_sku[g], 1] if price else 0.0
    if price:
        fixed = np.empty(ub)
        unit = np.empty((ub, G))
        base = np.empty(ub)
    else:
        fixed = np.empty(0)
        unit = np.empty((0, G))
        base = np.empty(0)
    for g in range(G):
        lo = sku_ptr[g_sku[g]]
        nodes, oh, sf, rs = _sku_views(g_sku[g], sku_ptr, ent_node, on_hand, safety, reserved)
        for i in range(nodes.shape[0]):
            n = nodes[i]
            c = mark[n]
            if c == -2 or not mask[n]:
                continue
            a = oh[i] - sf[i] - rs[i]
            if a <= 0:
                continue
            if c == -1:
                touched[n_touched] = n
                n_touched += 1
                mark[n] = -2
                if cap_orders[n] <= 0 or cap_units[n] <= 0:
                    continue
                if params[P_REQUIRE_CUTOFF] > 0 and params[P_HOUR] >= nodef[n, NF_CUTOFF]:
                    continue
                d = np.nan
                ld = np.nan
                if need_dist:
                    d = _miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
                    if d > max_miles:
                        continue
                    if need_filter:
                        ld = _lead_days(n, d, nodef, params, bands)
                        if max_days >= 0 and exclude_late and ld > max_days:
                            continue
                c = C
                mark[n] = c
                cand[c] = n
                miles[c] = d
                lead[c] = ld
                C += 1
                for gg in range(G):
                    atp[c, gg] = 0
                    ent[c, gg] = -1
                if price:
                    fixed[c] = 0.0 if free[n] else params[P_PER_SHIPMENT] + nodef[n, NF_HSHIP]
                    if max_days >= 0 and ld > max_days:
                        fixed[c] += params[P_LATE_PENALTY] * (ld - max_days)
                    base[c] = params[P_PER_UNIT] + nodef[n, NF_HUNIT] + params[P_PER_MILE] * d
                    # cells without an entry keep the unit cost with no entry terms, as _unit_costs
                    for gg in range(G):
                        unit[c, gg] = base[c] + by_kg[gg]
            cu = cap_units[n]
            a = a if a < cu else cu
            atp[c, g] = a
            total[g] += a
            e = lo + i
            ent[c, g] = e
            if price:
                # the same terms, in the same order, as _unit_costs and then entry_risk
                u = base[c] + by_kg[g] + entry_fee[e]
                dem = entry_demand[e]
                if dem > 0.0 and w > 0.0:
                    u += w * dem / (dem + a)
                if strategy == 4:
                    u += entry_dual[e]
                u += entry_risk[e]
                unit[c, g] = u
                if u < cheapest[g]:
                    cheapest[g] = u
    for i in range(n_touched):
        mark[touched[i]] = -1
    if price:
        return (cand[:C].copy(), atp[:C], ent[:C], miles[:C].copy(), lead[:C].copy(), fixed[:C], unit[:C],
                total, cheapest)
    return cand[:C].copy(), atp[:C], ent[:C], miles[:C].copy(), lead[:C].copy(), fixed, unit, total, cheapest


@njit(cache=True)
def _fill_distances(cand, miles, lead, dest, nodef, params, bands, with_lead=True):
    """Compute the distances and lead days that :func:`_gather` left as NaN.

    With ``with_lead`` False only distances: planning reads lead days only
    under a delivery deadline, and the caller fills them for the nodes it uses.
    """
    for c in range(cand.shape[0]):
        n = cand[c]
        if np.isnan(miles[c]):
            miles[c] = _miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
        if with_lead and np.isnan(lead[c]):
            lead[c] = _lead_days(n, miles[c], nodef, params, bands)


@njit(cache=True)
def _best_single_lazy(cand, atp, ent, g_sku, g_qty, capu, miles, lead, dest, nodef, skuf, entry_fee,
                      entry_plan, entry_risk, entry_demand, free, params, bands, strategy):
    """Cheapest node that ships the whole order alone, and a bound on any split.

    The per-mile term is the only one that needs trigonometry, so each
    covering node is first priced with the chord (never longer than the
    arc) and its exact distance computed only when that lower bound can
    still beat the incumbent.

    "Everything" is what the tier can fill at all: ``need[g]`` is the
    smaller of the ordered units and the tier's total ATP, so a node that
    covers ``need`` is a maximum-fill plan even when stock is short.

    Returns
    -------
    best : int
        Candidate position, -1 when no node covers ``need``.
    best_cost : float
    split_lb : float
        A lower bound on the cost of any plan with two or more parcels that
        fills ``need``.
    need : ndarray of int64
    """
    C = cand.shape[0]
    G = g_sku.shape[0]
    w = params[P_DEPLETION]
    per_mile = params[P_PER_MILE]
    # what the tier can fill at most: a node covering that is a maximum-fill plan
    need = np.zeros(G, np.int64)
    for g in range(G):
        tot = 0
        for c in range(C):
            tot += atp[c, g]
        need[g] = tot if tot < g_qty[g] else g_qty[g]
    total_q = 0
    for g in range(G):
        total_q += need[g]
    umin = np.full(G, np.inf)
    fmin = np.inf
    best = -1
    best_cost = np.inf
    for c in range(C):
        n = cand[c]
        fixed = 0.0 if free[n] else params[P_PER_SHIPMENT] + nodef[n, NF_HSHIP]
        if fixed < fmin:
            fmin = fixed
        base = params[P_PER_UNIT] + nodef[n, NF_HUNIT]
        covers = capu[c] >= total_q
        flat = fixed
        for g in range(G):
            a = atp[c, g]
            if a < need[g]:
                covers = False
            if a <= 0:
                continue
            e = ent[c, g]
            u = base + params[P_PER_KG] * skuf[g_sku[g], 1] + entry_fee[e] + entry_risk[e]
            dem = entry_demand[e]
            if dem > 0.0 and w > 0.0:
                u += w * dem / (dem + a)
            if strategy == 4:
                u += entry_plan[e]
            if u < umin[g]:
                umin[g] = u
            flat += need[g] * u
        if not covers:
            continue
        if np.isnan(miles[c]):
            dx = dest[0] - nodef[n, NF_X]
            dy = dest[1] - nodef[n, NF_Y]
            dz = dest[2] - nodef[n, NF_Z]
            chord = EARTH_RADIUS_MI * np.sqrt(dx * dx + dy * dy + dz * dz)
            if flat + per_mile * total_q * chord >= best_cost:
                continue
            miles[c] = _miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
            lead[c] = _lead_days(n, miles[c], nodef, params, bands)
        cost = flat + per_mile * total_q * miles[c]
        if params[P_MAX_DAYS] >= 0 and lead[c] > params[P_MAX_DAYS]:
            cost += params[P_LATE_PENALTY] * (lead[c] - params[P_MAX_DAYS])
        if cost < best_cost - _EPS:
            best_cost = cost
            best = c
    split_lb = 2.0 * fmin + params[P_SPLIT]
    for g in range(G):
        if need[g] > 0:
            split_lb += need[g] * umin[g]
    return best, best_cost, split_lb, need


@njit(cache=True)
def _unit_costs(cand, g_sku, ent, atp, miles, lead, nodef, skuf, entry_fee, entry_plan, entry_demand,
                free, params, strategy):
    """Planning costs: fixed cost per shipment and cost per unit of each (candidate, group).

    Planning adds to the real cost the lateness penalty, the store depletion
    penalty (rising as a store's stock nears its protected level, relative
    to its walk-in demand) and, for the ``dual`` strategy, the shadow price
    of each inventory entry. ``free`` nodes already ship part of the order,
    so their parcel is paid for.
    """
    C = cand.shape[0]
    G = g_sku.shape[0]
    fixed = np.empty(C)
    unit = np.empty((C, G))
    w = params[P_DEPLETION]
    max_days = params[P_MAX_DAYS]
    for c in range(C):
        n = cand[c]
        fixed[c] = 0.0 if free[n] else params[P_PER_SHIPMENT] + nodef[n, NF_HSHIP]
        if max_days >= 0 and lead[c] > max_days:
            fixed[c] += params[P_LATE_PENALTY] * (lead[c] - max_days)
        base = params[P_PER_UNIT] + nodef[n, NF_HUNIT] + params[P_PER_MILE] * miles[c]
        for g in range(G):
            s = g_sku[g]
            u = base + params[P_PER_KG] * skuf[s, 1]
            e = ent[c, g]
            if e >= 0:
                u += entry_fee[e]
                dem = entry_demand[e]
                if dem > 0.0 and w > 0.0:
                    u += w * dem / (dem + atp[c, g])
                if strategy == 4:
                    u += entry_plan[e]
            unit[c, g] = u
    return fixed, unit


@njit(cache=True)
def _eval_set(S, m, qty, atp, unit, fixed, capu, split_penalty, alloc_out, write, work):
    """Fill and cost of serving the order from candidate set ``S[:m]``.

    Each group is filled from the cheapest members first; given the set this
    is optimal, because groups share no stock and costs are linear in units.
    Only members that receive units pay their fixed cost. ``capu`` is each
    candidate's unit capacity left today, shared by all groups (when it
    binds inside one order the group order decides who gets it).
    """
    G = qty.shape[0]
    # scratch from the caller: this runs thousands of times per order, heap allocations would dominate
    used = work[0:3]
    order = work[3:6]
    left = work[6:9]
    for i in range(3):
        used[i] = 0
    for i in range(m):
        left[i] = capu[S[i]]
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
            if a > left[order[i]]:
                a = left[order[i]]
            if a <= 0:
                continue
            take = a if a < rem else rem
            rem -= take
            left[order[i]] -= take
            fill += take
            cost += take * unit[c, g]
            used[order[i]] = 1
            if write:
                alloc_out[c, g] = take
    nused = 0
    for i in range(m):
        if used[i] != 0:
            nused += 1
            cost += fixed[S[i]]
    if nused > 1:
        cost += split_penalty * (nused - 1)
    return fill, cost


@njit(cache=True)
def _better(fill, cost, best_fill, best_cost):
    return fill > best_fill or (fill == best_fill and cost < best_cost - _EPS)


@njit(cache=True, inline="always")
def _fill_bound2(qty, atp, i, j):
    # the units a pair can fill, ignoring capacity: a cheap test before the full evaluation
    f = 0
    for g in range(qty.shape[0]):
        a = atp[i, g] + atp[j, g]
        f += a if a < qty[g] else qty[g]
    return f


@njit(cache=True, inline="always")
def _fill_bound3(qty, atp, h, i, j):
    f = 0
    for g in range(qty.shape[0]):
        a = atp[h, g] + atp[i, g] + atp[j, g]
        f += a if a < qty[g] else qty[g]
    return f


@njit(cache=True)
def _smallest(key, M):
    """Positions of the ``M`` smallest keys, ascending, ties in position order.

    Equals ``np.argsort(key, kind="mergesort")[:M]`` but costs about one
    compare per key once the first ``M`` settle, instead of a full sort of
    every candidate (the split search only ever reads the first ``M``).
    """
    C = key.shape[0]
    top = np.empty(M, np.int64)
    n = 0
    for c in range(C):
        x = key[c]
        if n == M:
            if not x < key[top[M - 1]]:
                continue
            p = M - 1
        else:
            p = n
            n += 1
        while p > 0 and x < key[top[p - 1]]:
            top[p] = top[p - 1]
            p -= 1
        top[p] = c
    return top


# ranks a source holding only some of a group's units after every one holding all of them
_PARTIAL = 1e12


@njit(cache=True)
def _split_pool(key, atp, unit, fixed, qty, M):
    """The candidates splits combine, ascending by ``key``: about ``M`` of them.

    The cheapest ``M`` by ``key`` alone can all be nodes stocking only the
    popular SKUs of an order, and then no split among them ships its rare
    one. So each group first gets its ``M // G`` cheapest sources (fixed cost
    plus its units there), those holding all its units ahead of those
    holding some. Then each pair of groups gets its ``M // (2 * pairs)``
    cheapest nodes holding both whole, when that is at least one: an order
    no single node ships usually splits best into such a node plus one for
    the rest, and a source cheap for one line rarely is one. The rest of the
    pool, if any is left of ``M``, follows ``key``; the pair nodes can take
    the pool up to about ``1.5 * M``.
    """
    C, G = atp.shape
    if C <= M:
        return _smallest(key, C)
    chosen = np.zeros(C, np.bool_)
    n_chosen = 0
    per = M // G if M >= G else 1
    kg = np.empty(C)
    for g in range(G):
        for c in range(C):
            a = atp[c, g]
            if a <= 0:
                kg[c] = np.inf
            elif a >= qty[g]:
                kg[c] = fixed[c] + qty[g] * unit[c, g]
            else:
                kg[c] = _PARTIAL + fixed[c] + qty[g] * unit[c, g]
        top = _smallest(kg, per)
        for x in range(per):
            c = top[x]
            if kg[c] < np.inf and not chosen[c]:
                chosen[c] = True
                n_chosen += 1
    n_pairs = G * (G - 1) // 2
    per2 = M // (2 * n_pairs) if n_pairs > 0 else 0
    if per2 > 0:
        # most candidates hold one line whole at most: rank only those holding two
        multi = np.empty(C, np.int64)
        n_multi = 0
        for c in range(C):
            n_whole = 0
            for g in range(G):
                if atp[c, g] >= qty[g]:
                    n_whole += 1
            if n_whole >= 2:
                multi[n_multi] = c
                n_multi += 1
        for g1 in range(G):
            q1 = qty[g1]
            for g2 in range(g1 + 1, G):
                q2 = qty[g2]
                for x in range(n_multi):
                    c = multi[x]
                    if atp[c, g1] >= q1 and atp[c, g2] >= q2:
                        kg[x] = fixed[c] + q1 * unit[c, g1] + q2 * unit[c, g2]
                    else:
                        kg[x] = np.inf
                top = _smallest(kg[:n_multi], per2 if per2 < n_multi else n_multi)
                for x in range(top.shape[0]):
                    if kg[top[x]] < np.inf:
                        c = multi[top[x]]
                        if not chosen[c]:
                            chosen[c] = True
                            n_chosen += 1
    if n_chosen < M:
        top = _smallest(key, M)
        for x in range(M):
            if n_chosen >= M:
                break
            c = top[x]
            if not chosen[c]:
                chosen[c] = True
                n_chosen += 1
    pool = np.empty(n_chosen, np.int64)
    j = 0
    for c in range(C):
        if chosen[c]:
            pool[j] = c
            j += 1
    # ascending key, ties by position: what the bound in :func:`_plan_cost` scans by
    keys = np.empty(n_chosen)
    for x in range(n_chosen):
        keys[x] = key[pool[x]]
    srt = np.argsort(keys, kind="mergesort")
    return pool[srt]


@njit(cache=True)
def _plan_cost(qty, atp, unit, fixed, capu, k, split_penalty, split_candidates, force):
    """Minimum-cost plan using at most ``min(k, 3)`` nodes, maximising fill first.

    Branch and bound over node sets. A lower bound on any multi-node plan
    that fills every fillable unit is ``sum(fixed) + sum(q_g * cmin_g)`` plus,
    for each member ``a``, the least extra unit cost ``d_a`` it adds over the
    cheapest source of some group it stocks (an optimal member carries at
    least one unit). Members are scanned in order of ``fixed_a + d_a``, so
    the scan stops as soon as the bound passes the incumbent. Splits combine
    only a pool of about ``split_candidates`` nodes (see :func:`_split_pool`).

    With ``force >= 0`` only sets containing that candidate are searched
    (the explanation uses this to price the best plan through a rejected node).

    Returns
    -------
    best : ndarray of int64, shape (3,)
        Candidate positions of the chosen set, padded with -1.
    """
    C, G = atp.shape
    total = np.zeros(G, np.int64)
    cmin = np.full(G, np.inf)
    for g in range(G):
        for c in range(C):
            if atp[c, g] > 0:
                total[g] += atp[c, g]
                if unit[c, g] < cmin[g]:
                    cmin[g] = unit[c, g]
    return _plan_given(qty, atp, unit, fixed, capu, k, split_penalty, split_candidates, force, total, cmin)


@njit(cache=True)
def _plan_given(qty, atp, unit, fixed, capu, k, split_penalty, split_candidates, force, total, cmin):
    """:func:`_plan_cost` given, per group, the ATP summed over the candidates (``total``)
    and the least unit cost among cells with ATP (``cmin``), as the priced gather returns them."""
    C, G = atp.shape
    best = np.full(3, -1, np.int64)
    S = np.empty(3, np.int64)
    dummy = np.zeros((1, 1), np.int64)
    work = np.empty(9, np.int64)
    if C == 0:
        return best
    # globally fillable units
    fillable = np.zeros(G, np.int64)
    total_fillable = 0
    for g in range(G):
        fillable[g] = total[g] if total[g] < qty[g] else qty[g]
        total_fillable += fillable[g]
    lb_units = 0.0
    for g in range(G):
        if fillable[g] > 0:
            lb_units += fillable[g] * cmin[g]
    # cheapest unit anywhere: best_fill * umin bounds the unit cost of any
    # set that can at most tie the incumbent's fill. (Not with ``force``: a
    # set whose forced member ships nothing equals a single that was never
    # evaluated, so the tie bound would not be safe there.)
    umin = np.inf
    for g in range(G):
        if cmin[g] < umin:
            umin = cmin[g]
    key = np.empty(C)
    cover = np.zeros(C, np.int64)
    fmin = np.inf
    best_fill = -1
    best_cost = np.inf
    for c in range(C):
        d = np.inf
        # each node alone, in the same steps as _eval_set on a one-member set
        left = capu[c]
        f = 0
        cst = 0.0
        for g in range(G):
            a = atp[c, g]
            if a > 0:
                cover[c] += a if a < qty[g] else qty[g]
                x = unit[c, g] - cmin[g]
                if x < d:
                    d = x
                if a > left:
                    a = left
                if a > 0:
                    take = a if a < qty[g] else qty[g]
                    left -= take
                    f += take
                    cst += take * unit[c, g]
        if f > 0:
            cst += fixed[c]
        key[c] = fixed[c] + d
        if fixed[c] < fmin:
            fmin = fixed[c]
        if (force < 0 or c == force) and _better(f, cst, best_fill, best_cost):
            best_fill = f
            best_cost = cst
            best[0] = c
    kk = k if k < 3 else 3
    if kk < 2 or C < 2:
        return best
    M = C if C < split_candidates else split_candidates
    order = _split_pool(key, atp, unit, fixed, qty, M)
    M = order.shape[0]
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
                    fb = _fill_bound2(qty, atp, i, j) if cover[i] + cover[j] >= best_fill else -1
                    if fb < best_fill:
                        continue
                    if best_fill == total_fillable and fixed[i] + key[j] + split_penalty + lb_units >= best_cost - _EPS:
                        continue
                    if (force < 0 and fb == best_fill
                            and fixed[i] + fixed[j] + split_penalty + best_fill * umin >= best_cost - _EPS):
                        continue
                    S[0] = i
                    S[1] = j
                    f, cst = _eval_set(S, 2, qty, atp, unit, fixed, capu, split_penalty, dummy, False, work)
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
                        fb = _fill_bound3(qty, atp, h, i, j) if cover[h] + cover[i] + cover[j] >= best_fill else -1
                        if fb < best_fill:
                            continue
                        if force < 0 and fb == best_fill and (
                            fixed[h] + fixed[i] + fixed[j] + 2 * split_penalty + best_fill * umin >= best_cost - _EPS
                        ):
                            continue
                        if best_fill == total_fillable and (
                            fixed[h] + fixed[i] + key[j] + 2 * split_penalty + lb_units >= best_cost - _EPS
                        ):
                            continue
                        S[0] = h
                        S[1] = i
                        S[2] = j
                        f, cst = _eval_set(S, 3, qty, atp, unit, fixed, capu, split_penalty, dummy, False, work)
                        if _better(f, cst, best_fill, best_cost):
                            best_fill = f
                            best_cost = cst
                            best[0] = h
                            best[1] = i
                            best[2] = j
    return best


@njit(cache=True)
def _extend_greedy(alloc, qty, atp, capu, k):
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
            if gain > capu[c]:
                gain = capu[c]
            if gain > best_gain:
                best_gain = gain
                best_c = c
        if best_c < 0:
            break
        used[best_c] = True
        nused += 1
        room = capu[best_c]
        for g in range(G):
            rem = qty[g]
            for c2 in range(C):
                rem -= alloc[c2, g]
            take = atp[best_c, g] if atp[best_c, g] < rem else rem
            if take > room:
                take = room
            if take > 0:
                alloc[best_c, g] = take
                room -= take


@njit(cache=True)
def _greedy(order_per_group, qty, atp, capu, k, alloc):
    """Fill group by group from nodes in rank order, opening at most ``k`` nodes."""
    C, G = atp.shape
    used = np.zeros(C, np.bool_)
    left = capu.copy()
    nused = 0
    if k == 1:
        # a single parcel: the first node in rank order that covers everything
        for r in range(C):
            c = order_per_group[0, r]
            ok = True
            need = 0
            for g in range(G):
                need += qty[g]
                if atp[c, g] < qty[g]:
                    ok = False
                    break
            if ok and need > left[c]:
                ok = False
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
            if a > left[c]:
                a = left[c]
            if a <= 0:
                continue
            if not used[c]:
                if nused >= k:
                    continue
                used[c] = True
                nused += 1
            take = a if a < rem else rem
            alloc[c, g] = take
            left[c] -= take
            rem -= take


@njit(cache=True, inline="always")
def _lower_bound(ent_node, lo, hi, n):
    """First position in ``[lo, hi)`` whose node is not below ``n`` (``hi`` if none): entries ascend by node."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if ent_node[mid] < n:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _entry_position(sku_ptr, ent_node, s, n):
    """Position of node ``n`` in SKU ``s``'s entries (sorted by node), or -1."""
    end = sku_ptr[s + 1]
    lo = _lower_bound(ent_node, sku_ptr[s], end, n)
    if lo < end and ent_node[lo] == n:
        return lo
    return -1


@njit(cache=True)
def _entry_atp(sku_ptr, ent_node, on_hand, safety, reserved, s, n):
    """ATP (floored at 0) of SKU ``s`` at node ``n``; 0 when no entry is stored."""
    e = _entry_position(sku_ptr, ent_node, s, n)
    if e < 0:
        return 0
    a = on_hand[e] - safety[e] - reserved[e]
    return a if a > 0 else 0


@njit(cache=True, inline="always")
def _plan_unit(e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units, params,
               strategy):
    """Distance-free planning cost of one unit from entry ``e`` (node ``n``, SKU ``s``, ATP ``a``)."""
    u = params[P_PER_UNIT] + nodef[n, NF_HUNIT] + params[P_PER_KG] * skuf[s, 1] + entry_fee[e] + entry_risk[e]
    dem = entry_demand[e]
    w = params[P_DEPLETION]
    if dem > 0.0 and w > 0.0:
        u += w * dem / (dem + (a if a < cap_units[n] else cap_units[n]))
    if strategy == 4:
        u += entry_dual[e]
    return u


@njit(cache=True)
def _split_bound(g_sku, g_qty, mask, nodef, skuf, sku_ptr, ent_node, on_hand, safety, reserved, entry_fee,
                 entry_dual, entry_risk, entry_demand, cap_orders, cap_units, params, strategy):
    """A lower bound on any plan of two or more parcels, from the nodes that can ship now.

    The static bound of :func:`_route_fast` counts every node that ever
    stocks a SKU; this one scans the entries and counts only eligible nodes
    with stock, so it is tighter and costs a pass over the order's entries.
    """
    hour = params[P_HOUR]
    need_cutoff = params[P_REQUIRE_CUTOFF] > 0
    fmin = np.inf
    lb = params[P_SPLIT]
    for g in range(g_sku.shape[0]):
        s = g_sku[g]
        lo = sku_ptr[s]
        nodes = ent_node[lo:sku_ptr[s + 1]]
        umin = np.inf
        for i in range(nodes.shape[0]):
            n = nodes[i]
            if not mask[n] or cap_orders[n] <= 0 or cap_units[n] <= 0:
                continue
            if need_cutoff and hour >= nodef[n, NF_CUTOFF]:
                continue
            e = lo + i
            a = on_hand[e] - safety[e] - reserved[e]
            if a <= 0:
                continue
            u = _plan_unit(e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units,
                           params, strategy)
            if u < umin:
                umin = u
            f = params[P_PER_SHIPMENT] + nodef[n, NF_HSHIP]
            if f < fmin:
                fmin = f
        lb += g_qty[g] * umin
    return lb + 2.0 * fmin


@njit(cache=True)
def _sku_bitsets(sku_ptr, ent_node, n_nodes):
    """Per SKU, a bitset of the nodes that hold an entry for it (64 nodes a word).

    Entries never appear or vanish after the inventory is built (only their
    stock changes), so these are computed once per router.
    """
    n_skus = sku_ptr.shape[0] - 1
    words = (n_nodes + 63) // 64
    bits = np.zeros((n_skus, words), np.uint64)
    one = np.uint64(1)
    for s in range(n_skus):
        for e in range(sku_ptr[s], sku_ptr[s + 1]):
            n = ent_node[e]
            bits[s, n >> 6] |= one << np.uint64(n & 63)
    return bits


@njit(cache=True, inline="always")
def _bit_index(low):
    """Position of the single bit set in the uint64 ``low``."""
    b = 0
    if low & np.uint64(0xFFFFFFFF00000000):
        b += 32
    if low & np.uint64(0xFFFF0000FFFF0000):
        b += 16
    if low & np.uint64(0xFF00FF00FF00FF00):
        b += 8
    if low & np.uint64(0xF0F0F0F0F0F0F0F0):
        b += 4
    if low & np.uint64(0xCCCCCCCCCCCCCCCC):
        b += 2
    if low & np.uint64(0xAAAAAAAAAAAAAAAA):
        b += 1
    return b


@njit(cache=True, inline="always")
def _chord_miles(dest, nodef, n):
    """Straight-line (chord) miles to node ``n``: never more than the great-circle distance."""
    dx = dest[0] - nodef[n, NF_X]
    dy = dest[1] - nodef[n, NF_Y]
    dz = dest[2] - nodef[n, NF_Z]
    return EARTH_RADIUS_MI * np.sqrt(dx * dx + dy * dy + dz * dz)


@njit(cache=True, inline="always")
def _with_miles(dest, nodef, n, flat, per_unit_mile):
    """Exact cost through node ``n``: its distance-free cost plus the miles; and the miles."""
    d = _miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
    return flat + per_unit_mile * d, d


@njit(cache=True)
def _best_by_bits(dest, g_sku, g_qty, by_len, total_q, sku_bits, mask, nodef, skuf, sku_ptr, ent_node, on_hand,
                  safety, reserved, entry_fee, entry_dual, entry_risk, entry_demand, cap_orders, cap_units,
                  params, strategy):
    """The cheapest node shipping every unit of a multi-line order, from the SKUs' node bitsets.

    The candidates are the set bits of the AND of the order's SKU bitsets,
    taken in ascending node order as the list path takes its survivors.
    Each is first bounded as in :func:`_best_one_sku` (fixed cost, per-unit
    costs without the entries' terms, chord); only then are its entries
    found, by a search that resumes where the previous lookup of that group
    ended (a skipped node just leaves a longer gallop). Costs add up group by
    group in ``by_len`` order, as the list path does, so both make the same
    choice bit for bit.

    Returns
    -------
    best : int
        -1 when no node ships every unit.
    entries : ndarray of int64, shape (G,)
    cost, miles : float
    """
    G = g_sku.shape[0]
    W = sku_bits.shape[1]
    per_mile = params[P_PER_MILE]
    need_cutoff = params[P_REQUIRE_CUTOFF] > 0
    hour = params[P_HOUR]
    ent = np.empty(G, np.int64)
    best_ent = np.full(G, -1, np.int64)
    pos = np.empty(G, np.int64)
    unit0 = np.empty(G)
    for g in range(G):
        pos[g] = sku_ptr[g_sku[g]]
        unit0[g] = params[P_PER_KG] * skuf[g_sku[g], 1]
    best = -1
    best_cost = np.inf
    best_miles = np.nan
    one = np.uint64(1)
    for w in range(W):
        x = sku_bits[g_sku[0], w]
        for g in range(1, G):
            x &= sku_bits[g_sku[g], w]
        while x != 0:
            low = x & (~x + one)
            x ^= low
            n = w * 64 + _bit_index(low)
            if not mask[n] or cap_orders[n] <= 0 or cap_units[n] < total_q:
                continue
            if need_cutoff and hour >= nodef[n, NF_CUTOFF]:
                continue
            reach = per_mile * total_q * _chord_miles(dest, nodef, n)
            fixed = params[P_PER_SHIPMENT] + nodef[n, NF_HSHIP]
            lb = fixed
            for ii in range(G):
                g = by_len[ii]
                lb += g_qty[g] * (params[P_PER_UNIT] + nodef[n, NF_HUNIT] + unit0[g])
            if lb + reach >= best_cost - _EPS:
                continue
            cost = fixed
            ok = True
            for ii in range(G):
                g = by_len[ii]
                s = g_sku[g]
                # gallop from where this group's last lookup ended, then bisect: cheap whether
                # the candidates are dense in the list or far apart
                lo = pos[g]
                end = sku_ptr[s + 1]
                step = 1
                while lo + step < end and ent_node[lo + step] < n:
                    lo += step
                    step *= 2
                lo = _lower_bound(ent_node, lo, lo + step if lo + step < end else end, n)
                pos[g] = lo  # the bit says the entry exists: ent_node[lo] == n
                a = on_hand[lo] - safety[lo] - reserved[lo]
                q = g_qty[g]
                if a < q:
                    ok = False
                    break
                cost += q * _plan_unit(lo, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand,
                                       cap_units, params, strategy)
                ent[g] = lo
            if not ok or cost + reach >= best_cost - _EPS:
                continue
            exact, d = _with_miles(dest, nodef, n, cost, per_mile * total_q)
            if exact < best_cost - _EPS:
                best_cost = exact
                best = n
                best_miles = d
                best_ent[:] = ent
    return best, best_ent, best_cost, best_miles


@njit(cache=True)
def _best_one_sku(dest, s, q, mask, nodef, skuf, sku_ptr, ent_node, on_hand, safety, reserved, entry_fee,
                  entry_dual, entry_risk, entry_demand, cap_orders, cap_units, params, strategy):
    """The cheapest node shipping ``q`` units of SKU ``s`` alone: a one-line order.

    Walks the SKU's entries in node order, as the multi-line search walks
    its survivors, with one more bound first: a node's fixed cost, its
    per-unit cost without the entry's terms (fee, risk, depletion and dual
    prices are never negative, and floating-point sums of non-negative
    terms never shrink) and the chord. Most nodes fail it once a near node
    is the incumbent, and then their stock and per-entry costs are never
    read. Same comparisons in the same order otherwise, so the same choice.

    Returns
    -------
    best, entry : int
        -1 when no node ships every unit.
    cost, miles : float
    """
    per_mile = params[P_PER_MILE]
    hour = params[P_HOUR]
    need_cutoff = params[P_REQUIRE_CUTOFF] > 0
    lo = sku_ptr[s]
    nodes = ent_node[lo:sku_ptr[s + 1]]
    unit0 = params[P_PER_KG] * skuf[s, 1]
    best = -1
    best_e = -1
    best_cost = np.inf
    best_miles = np.nan
    for i in range(nodes.shape[0]):
        n = nodes[i]
        if not mask[n] or cap_orders[n] <= 0 or cap_units[n] < q:
            continue
        if need_cutoff and hour >= nodef[n, NF_CUTOFF]:
            continue
        reach = per_mile * q * _chord_miles(dest, nodef, n)
        fixed = params[P_PER_SHIPMENT] + nodef[n, NF_HSHIP]
        if fixed + q * (params[P_PER_UNIT] + nodef[n, NF_HUNIT] + unit0) + reach >= best_cost - _EPS:
            continue
        e = lo + i
        a = on_hand[e] - safety[e] - reserved[e]
        if a < q:
            continue
        flat = fixed + q * _plan_unit(e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand,
                                      cap_units, params, strategy)
        if flat + reach >= best_cost - _EPS:
            continue
        cost, d = _with_miles(dest, nodef, n, flat, per_mile * q)
        if cost < best_cost - _EPS:
            best_cost = cost
            best = n
            best_e = e
            best_miles = d
    return best, best_e, best_cost, best_miles


@njit(cache=True, inline="always")
def _snapshot_size(g_sku, sku_ptr):
    """Entries of the order's SKUs: the length of its ATP snapshot."""
    n = 0
    for g in range(g_sku.shape[0]):
        n += sku_ptr[g_sku[g] + 1] - sku_ptr[g_sku[g]]
    return n


@njit(cache=True)
def _atp_snapshot(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, out):
    """Write the ATP of every entry of the order's SKUs, group by group, into ``out``
    (what an explanation replays: the stock the order saw)."""
    j = 0
    for g in range(g_sku.shape[0]):
        _, oh, sf, rs = _sku_views(g_sku[g], sku_ptr, ent_node, on_hand, safety, reserved)
        ln = oh.shape[0]
        dst = out[j:j + ln]
        for i in range(ln):
            dst[i] = oh[i] - sf[i] - rs[i]
        j += ln


@njit(cache=True, inline="always")
def _survive(alive, acc, aent, B, i, g, e, extra):
    """Keep survivor ``i`` of the list intersection as survivor ``B``, now also holding entry ``e`` of group ``g``."""
    alive[B] = alive[i]
    acc[B] = acc[i] + extra
    for gg in range(aent.shape[1]):
        aent[B, gg] = aent[i, gg]
    aent[B, g] = e


@njit(cache=True, inline="always")
def _reserve_whole(node, ents, qty, reserved, cap_orders, cap_units):
    """Reserve an order one node ships whole: each group's units at its entry, one parcel's capacity."""
    total = 0
    for g in range(ents.shape[0]):
        reserved[ents[g]] += qty[g]
        total += qty[g]
    cap_orders[node] -= 1
    cap_units[node] -= total


@njit(cache=True)
def _route_fast(dest, g_sku, g_qty, k, strategy, mask, nodef, skuf,
                sku_ptr, ent_node, on_hand, safety, reserved,
                entry_fee, entry_dual, entry_risk, entry_demand, sku_lb, sku_bits,
                cap_orders, cap_units, params, bands, reserve, want_snap):
    """The common case without building candidate matrices: one node ships the whole order.

    Works straight on the SKU index. Nodes that can ship every unit must
    appear in every group's entry list, so the search starts from the
    shortest list (checking eligibility, stock and capacity there) and
    intersects the survivors with each longer list, by binary search while
    few survive and by a merge otherwise: a popular SKU held by hundreds of
    nodes costs a few probes, not a scan. With ``sku_bits`` (a bitset per
    SKU of the nodes holding an entry, see :func:`_sku_bitsets`; zero rows
    to go without) the nodes holding every SKU come from ANDing the order's
    bitsets instead, and only those are looked up: popular SKUs share a few
    dozen nodes, while the shortest list still has a hundred or more.
    Survivors are priced with the chord bound first and an exact distance
    only when they can still win.

    A single node provably beats every split when its cost is at most
    ``split_lb``: two cheapest conceivable parcels plus the split penalty
    plus, per unit, the cheapest distance-free unit cost of its SKU
    anywhere (``sku_lb``, column 1 with the dual prices for ``dual``,
    column 0 otherwise; depletion only adds). Only valid for the ``cost``
    and ``dual`` strategies with no distance-based filter.

    Returns
    -------
    ok : bool
        False, with nothing changed, when no single node ships every unit
        or a split might be cheaper; the caller then runs :func:`_route_core`.
    node : int
    ent : ndarray of int64, shape (G,)
        Entry each group's units come from.
    need : ndarray of int64, shape (G,)
        The units shipped per group (all of ``g_qty`` when ``ok``).
    miles, lead : float
    costs : ndarray, shape (4,)
        Shipping, handling, vendor fees, penalties.
    snap : ndarray of int64
        With ``want_snap``, ATP before this order of every entry of the
        order's SKUs, group by group (what its explanation replays); else empty.
    """
    G = g_sku.shape[0]
    per_mile = params[P_PER_MILE]
    hour = params[P_HOUR]
    need_cutoff = params[P_REQUIRE_CUTOFF] > 0
    best_ent = np.full(G, -1, np.int64)
    need = g_qty.copy()
    costs = np.zeros(4)
    snap = np.empty(0, np.int64)
    total_q = 0
    for g in range(G):
        total_q += g_qty[g]
    if G == 0 or total_q <= 0:
        return False, -1, best_ent, need, np.nan, np.nan, costs, snap
    # groups by ascending list length (insertion sort: G is a handful)
    by_len = np.empty(G, np.int64)
    for g in range(G):
        s = g_sku[g]
        ln = sku_ptr[s + 1] - sku_ptr[s]
        p = g
        while p > 0 and sku_ptr[g_sku[by_len[p - 1]] + 1] - sku_ptr[g_sku[by_len[p - 1]]] > ln:
            by_len[p] = by_len[p - 1]
            p -= 1
        by_len[p] = g
    best = -1
    bi = -1
    one_ent = -1
    best_cost = np.inf
    best_miles = np.nan
    if G == 1:
        best, one_ent, best_cost, best_miles = _best_one_sku(
            dest, g_sku[0], g_qty[0], mask, nodef, skuf, sku_ptr, ent_node, on_hand, safety, reserved, entry_fee,
            entry_dual, entry_risk, entry_demand, cap_orders, cap_units, params, strategy)
        A = 0
        alive = np.empty(0, np.int64)
        acc = np.empty(0)
        aent = np.empty((0, 1), np.int64)
    elif sku_bits.shape[0] > 0:
        best, bits_ent, best_cost, best_miles = _best_by_bits(
            dest, g_sku, g_qty, by_len, total_q, sku_bits, mask, nodef, skuf, sku_ptr, ent_node, on_hand, safety,
            reserved, entry_fee, entry_dual, entry_risk, entry_demand, cap_orders, cap_units, params, strategy)
        A = 0
        alive = np.empty(0, np.int64)
        acc = np.empty(0)
        aent = bits_ent.reshape(1, G)
        bi = 0
    else:
        g0 = by_len[0]
        s0 = g_sku[g0]
        L0 = sku_ptr[s0 + 1] - sku_ptr[s0]
        alive = np.empty(L0, np.int64)
        acc = np.empty(L0)
        aent = np.empty((L0, G), np.int64)
        A = 0
        q0 = g_qty[g0]
        lo0 = sku_ptr[s0]
        nodes0 = ent_node[lo0:lo0 + L0]
        for i in range(L0):
            n = nodes0[i]
            if not mask[n] or cap_orders[n] <= 0 or cap_units[n] < total_q:
                continue
            if need_cutoff and hour >= nodef[n, NF_CUTOFF]:
                continue
            e = lo0 + i
            a = on_hand[e] - safety[e] - reserved[e]
            if a < q0:
                continue
            u = _plan_unit(e, n, s0, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units,
                           params, strategy)
            alive[A] = n
            acc[A] = params[P_PER_SHIPMENT] + nodef[n, NF_HSHIP] + q0 * u
            aent[A, g0] = e
            A += 1
        for ii in range(1, G):
            if A == 0:
                break
            g = by_len[ii]
            s = g_sku[g]
            q = g_qty[g]
            lo = sku_ptr[s]
            hi = sku_ptr[s + 1]
            steps = 1
            while (1 << steps) < hi - lo:
                steps += 1
            B = 0
            if A * steps < hi - lo:
                # few survivors: a lower-bound search each, from where the last one ended
                pos = lo
                for i in range(A):
                    n = alive[i]
                    pos = _lower_bound(ent_node, pos, hi, n)
                    if pos >= hi:
                        break
                    if ent_node[pos] != n:
                        continue
                    e = pos
                    a = on_hand[e] - safety[e] - reserved[e]
                    if a < q:
                        continue
                    _survive(alive, acc, aent, B, i, g, e, q * _plan_unit(
                        e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units, params,
                        strategy))
                    B += 1
            else:
                i = 0
                x = 0
                nodes = ent_node[lo:hi]
                while i < A and x < hi - lo:
                    n = alive[i]
                    m = nodes[x]
                    if m < n:
                        x += 1
                        continue
                    if m > n:
                        i += 1
                        continue
                    e = lo + x
                    a = on_hand[e] - safety[e] - reserved[e]
                    if a >= q:
                        _survive(alive, acc, aent, B, i, g, e, q * _plan_unit(
                            e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units,
                            params, strategy))
                        B += 1
                    i += 1
                    x += 1
            A = B
    # ascending node order, as the entry lists: ties go to the lower node index
    for i in range(A):
        n = alive[i]
        flat = acc[i]
        if flat + per_mile * total_q * _chord_miles(dest, nodef, n) >= best_cost - _EPS:
            continue
        cost, d = _with_miles(dest, nodef, n, flat, per_mile * total_q)
        if cost < best_cost - _EPS:
            best_cost = cost
            best = n
            bi = i
            best_miles = d
    if best < 0:
        return False, -1, best_ent, need, np.nan, np.nan, costs, snap
    if k > 1:
        col = 1 if strategy == 4 else 0
        split_lb = 2.0 * params[P_SHIP_LB] + params[P_SPLIT]
        for g in range(G):
            s = g_sku[g]
            split_lb += g_qty[g] * (params[P_PER_UNIT] + params[P_PER_KG] * skuf[s, 1] + sku_lb[s, col])
        if best_cost > split_lb and best_cost > _split_bound(
                g_sku, g_qty, mask, nodef, skuf, sku_ptr, ent_node, on_hand, safety, reserved, entry_fee,
                entry_dual, entry_risk, entry_demand, cap_orders, cap_units, params, strategy):
            return False, -1, best_ent, need, np.nan, np.nan, costs, snap
    if want_snap:
        # taken only once the order is accepted, still before its reservation
        snap = np.empty(_snapshot_size(g_sku, sku_ptr), np.int64)
        _atp_snapshot(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, snap)
    if G == 1:
        best_ent[0] = one_ent
    else:
        for g in range(G):
            best_ent[g] = aent[bi, g]
    lead = _lead_days(best, best_miles, nodef, params, bands)
    w = params[P_DEPLETION]
    costs[0] = params[P_PER_SHIPMENT]
    costs[1] = nodef[best, NF_HSHIP]
    for g in range(G):
        e = best_ent[g]
        q = g_qty[g]
        a = on_hand[e] - safety[e] - reserved[e]
        if a > cap_units[best]:
            a = cap_units[best]
        costs[0] += q * (params[P_PER_UNIT] + per_mile * best_miles + params[P_PER_KG] * skuf[g_sku[g], 1])
        costs[1] += q * nodef[best, NF_HUNIT]
        costs[2] += q * entry_fee[e]
        dem = entry_demand[e]
        if dem > 0.0 and w > 0.0:
            costs[3] += q * w * dem / (dem + a)
    if reserve:
        _reserve_whole(best, best_ent, g_qty, reserved, cap_orders, cap_units)
    return True, best, best_ent, need, best_miles, lead, costs, snap


@njit(cache=True)
def _used_rows(alloc, best_set, m_set, k, done):
    """Ascending candidate positions whose row of ``alloc`` ships something.

    The cost search allocates only to its chosen set (``best_set[:m_set]``),
    plus greedy extensions when ``k > 3``; reading those rows, not all
    ``C x G`` cells, is what the callers' loops over the plan need. Anything
    else (the rule strategies, extensions) is found by a scan.
    """
    C, G = alloc.shape
    if (done or m_set > 0) and k <= 3:
        out = np.empty(m_set, np.int64)
        n = 0
        for i in range(m_set):
            c = best_set[i]
            shipped = False
            for g in range(G):
                if alloc[c, g] > 0:
                    shipped = True
                    break
            if shipped:
                # insertion keeps them ascending: at most three
                p = n
                while p > 0 and out[p - 1] > c:
                    out[p] = out[p - 1]
                    p -= 1
                out[p] = c
                n += 1
        return out[:n]
    n = 0
    out = np.empty(C, np.int64)
    for c in range(C):
        for g in range(G):
            if alloc[c, g] > 0:
                out[n] = c
                n += 1
                break
    return out[:n]


@njit(cache=True)
def _route_core(dest, g_sku, g_qty, k, strategy, mask, nodef, skuf,
                sku_ptr, ent_node, on_hand, safety, reserved,
                entry_fee, entry_dual, entry_risk, entry_demand,
                cap_orders, cap_units, free, mark, params, bands, reserve, fast_tried=False):
    """Route one order within one sourcing tier and optionally reserve its stock.

    Strategy 4 (``dual``) plans like ``cost`` with ``entry_dual`` (a shadow
    price per inventory entry) added to each unit's cost. ``entry_risk``
    (e.g. vendor unreliability) is a planning-only cost for every strategy;
    reported costs stay the real ones.

    Returns
    -------
    cand, atp, ent, alloc, miles, lead, fixed, unit, costs
        When a single node provably wins, ``fixed`` and ``unit`` come back
        empty and ``miles``/``lead`` are NaN for nodes never priced exactly.
        ``costs`` holds shipping, handling, vendor fees and penalties
        (lateness and store depletion); the split penalty is left to the
        caller, which sees every tier's parcels.
    """
    # only a cost search that has not yet looked for a single node can hope to skip
    # pricing most candidates; every other search prices them all, in the scan
    priced = not ((strategy == 0 or strategy == 4) and not fast_tried)
    if priced:
        cand, atp, ent, miles, lead, fixed, unit, total, cheapest = _gather_priced(
            g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask, cap_orders, cap_units, mark, dest, nodef,
            params, bands, entry_fee, entry_dual, entry_risk, entry_demand, skuf, free, strategy)
    else:
        cand, atp, ent, miles, lead = _gather(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask,
                                              cap_orders, cap_units, mark, dest, nodef, params, bands)
        fixed = np.empty(0)
        unit = np.empty((0, g_sku.shape[0]))
        # read only after a single-node search was tried, and then the gather priced:
        # the lazy path's plan search finds its totals itself, once the units are priced
        total = np.empty(0, np.int64)
        cheapest = np.empty(0)
    C = cand.shape[0]
    G = g_sku.shape[0]
    alloc = np.zeros((C, G), np.int64)
    capu = np.empty(C, np.int64)
    for c in range(C):
        capu[c] = cap_units[cand[c]]
    split_penalty = params[P_SPLIT]
    done = False
    # the candidates the cost search allocates to (the rule strategies leave it empty)
    best_set = np.full(3, -1, np.int64)
    m_set = 0
    try_single = C > 0 and (strategy == 0 or strategy == 4)
    if try_single and fast_tried:
        # :func:`_route_fast` already looked for one node shipping every unit and
        # declined; a single node can still win here only when stock is short
        try_single = False
        for g in range(G):
            if total[g] < g_qty[g]:
                try_single = True
    if try_single:
        # fast path: a single covering node beats every split whenever its cost is
        # below the cheapest conceivable two-parcel plan, the common case
        best, best_cost, split_lb, need = _best_single_lazy(
            cand, atp, ent, g_sku, g_qty, capu, miles, lead, dest, nodef, skuf, entry_fee, entry_dual,
            entry_risk, entry_demand, free, params, bands, strategy)
        if best >= 0 and (k == 1 or best_cost <= split_lb):
            for g in range(G):
                alloc[best, g] = need[g]
            done = True
            best_set[0] = best
            m_set = 1
    # a single that won without pricing: the explanation rebuilds the costs when asked
    if not done and not priced:
        _fill_distances(cand, miles, lead, dest, nodef, params, bands, params[P_MAX_DAYS] >= 0)
        fixed, unit = _unit_costs(cand, g_sku, ent, atp, miles, lead, nodef, skuf, entry_fee, entry_dual,
                                  entry_demand, free, params, strategy)
        for c in range(C):
            for g in range(G):
                e = ent[c, g]
                if e >= 0:
                    unit[c, g] += entry_risk[e]
    if C > 0 and not done:
        if strategy == 0 or strategy == 4:
            if priced:
                best = _plan_given(g_qty, atp, unit, fixed, capu, k, split_penalty, np.int64(params[P_SPLIT_CANDS]),
                                   -1, total, cheapest)
            else:
                best = _plan_cost(g_qty, atp, unit, fixed, capu, k, split_penalty, np.int64(params[P_SPLIT_CANDS]),
                                  -1)
            m = 0
            while m < 3 and best[m] >= 0:
                m += 1
            _eval_set(best, m, g_qty, atp, unit, fixed, capu, split_penalty, alloc, True, np.empty(9, np.int64))
            best_set = best
            m_set = m
            if k > 3:
                _extend_greedy(alloc, g_qty, atp, capu, k)
        else:
            ranks = np.empty((G, C), np.int64)
            if strategy == 3:
                for g in range(G):
                    ranks[g] = np.argsort(-atp[:, g], kind="mergesort")
            else:
                if strategy == 1:
                    keyv = np.empty(C)
                    for c in range(C):
                        keyv[c] = nodef[cand[c], NF_PRIO]
                else:
                    keyv = miles
                base = np.argsort(keyv, kind="mergesort")
                for g in range(G):
                    ranks[g] = base
            _greedy(ranks, g_qty, atp, capu, k, alloc)
    used = _used_rows(alloc, best_set, m_set, k, done)
    costs = np.zeros(4)
    w = params[P_DEPLETION]
    max_days = params[P_MAX_DAYS]
    for c in used:
        if np.isnan(lead[c]) and not np.isnan(miles[c]):
            lead[c] = _lead_days(cand[c], miles[c], nodef, params, bands)
    for c in used:
        units = 0
        n = cand[c]
        for g in range(G):
            a = alloc[c, g]
            if a > 0:
                units += a
                s = g_sku[g]
                e = ent[c, g]
                costs[0] += a * (params[P_PER_UNIT] + params[P_PER_MILE] * miles[c] + params[P_PER_KG] * skuf[s, 1])
                costs[1] += a * nodef[n, NF_HUNIT]
                costs[2] += a * entry_fee[e]
                dem = entry_demand[e]
                if dem > 0.0 and w > 0.0:
                    costs[3] += a * w * dem / (dem + atp[c, g])
        if units > 0 and not free[n]:
            costs[0] += params[P_PER_SHIPMENT]
            costs[1] += nodef[n, NF_HSHIP]
            if max_days >= 0 and lead[c] > max_days:
                costs[3] += params[P_LATE_PENALTY] * (lead[c] - max_days)
    if reserve:
        _reserve_alloc(cand, ent, alloc, used, free, reserved, cap_orders, cap_units)
    return cand, atp, ent, alloc, miles, lead, fixed, unit, costs, used


@njit(cache=True)
def _reserve_alloc(cand, ent, alloc, used, free, reserved, cap_orders, cap_units):
    """Reserve a plan's units and take its nodes' capacity: a parcel's order slot
    unless the node already ships for the order (``free``), and its units.
    Only the rows ``used`` (see :func:`_used_rows`) ship anything."""
    G = alloc.shape[1]
    for c in used:
        units = 0
        for g in range(G):
            a = alloc[c, g]
            if a > 0:
                units += a
                reserved[ent[c, g]] += a
        if units > 0:
            n = cand[c]
            if not free[n]:
                cap_orders[n] -= 1
            cap_units[n] -= units


# The router keeps the arrays _route_one reads in two buffers, one int64 and one
# float64, so that a call unboxes two arrays instead of fourteen: at a call that
# costs microseconds, unboxing each array argument costs about 0.2 us.
PACKED_INTS = ("on_hand", "safety", "reserved", "cap_orders", "cap_units", "mark")
PACKED_FLOATS = ("nodef", "skuf", "entry_fee", "entry_dual", "entry_risk", "entry_demand", "sku_lb", "bands")
_N_INTS = len(PACKED_INTS)
_HEAD = 2 * _N_INTS + 3 * len(PACKED_FLOATS)


def pack_ints(ints):
    """Copy the router's int arrays into one int64 buffer, behind the header of a packed state.

    Parameters
    ----------
    ints : sequence of 1-D int64 arrays, in :data:`PACKED_INTS` order

    Returns
    -------
    ibuf : ndarray of int64
        The buffer :func:`_route_one` takes. It starts with a header of
        ``(start, stop)`` per int array, then ``(start, rows, columns)`` per
        float array (columns 0 for 1-D), which :func:`pack_floats` fills.
    views : list of ndarray
        Each array's view into the buffer, same shape and values: the
        router keeps these, so that every write lands in the buffer.
    """
    if len(ints) != _N_INTS:
        raise ValueError(f"pack_ints: expected {_N_INTS} arrays, got {len(ints)}")
    ibuf = np.zeros(_HEAD + sum(a.size for a in ints), np.int64)
    views = []
    at = _HEAD
    for i, a in enumerate(ints):
        ibuf[2 * i], ibuf[2 * i + 1] = at, at + a.size
        view = ibuf[at:at + a.size]
        view[:] = a
        views.append(view)
        at += a.size
    return ibuf, views


def pack_floats(ibuf, floats):
    """Copy the router's float arrays into a new float64 buffer and record its layout in ``ibuf``'s header.

    Parameters
    ----------
    ibuf : ndarray of int64
        From :func:`pack_ints`.
    floats : sequence of float64 arrays, 1-D or 2-D, in :data:`PACKED_FLOATS` order

    Returns
    -------
    fbuf : ndarray of float64
    views : list of ndarray
        Each array's view into ``fbuf``, as for :func:`pack_ints`.
    """
    if len(floats) != len(PACKED_FLOATS):
        raise ValueError(f"pack_floats: expected {len(PACKED_FLOATS)} arrays, got {len(floats)}")
    fbuf = np.empty(sum(a.size for a in floats), np.float64)
    views = []
    at = 0
    for i, a in enumerate(floats):
        h = 2 * _N_INTS + 3 * i
        ibuf[h], ibuf[h + 1], ibuf[h + 2] = at, a.shape[0], a.shape[1] if a.ndim == 2 else 0
        view = fbuf[at:at + a.size].reshape(a.shape)
        view[:] = a
        views.append(view)
        at += a.size
    return fbuf, views


@njit(cache=True, inline="always")
def _ints(ibuf, i):
    """Int array ``i`` of a packed state (see :func:`pack_ints`)."""
    return ibuf[ibuf[2 * i]:ibuf[2 * i + 1]]


@njit(cache=True, inline="always")
def _floats(ibuf, fbuf, i):
    """1-D float array ``i`` of a packed state."""
    h = 2 * _N_INTS + 3 * i
    return fbuf[ibuf[h]:ibuf[h] + ibuf[h + 1]]


@njit(cache=True, inline="always")
def _float_rows(ibuf, fbuf, i):
    """2-D float array ``i`` of a packed state."""
    h = 2 * _N_INTS + 3 * i
    rows, cols = ibuf[h + 1], ibuf[h + 2]
    return fbuf[ibuf[h]:ibuf[h] + rows * cols].reshape(rows, cols)


@njit(cache=True, inline="always")
def _unit_vector(lat, lon):
    """The point's unit vector, computed as :func:`sourcewise.engine.router._unit_vector` computes it."""
    la = math.radians(lat)
    lo = math.radians(lon)
    cl = math.cos(la)
    v = np.empty(3)
    v[0] = cl * math.cos(lo)
    v[1] = cl * math.sin(lo)
    v[2] = math.sin(la)
    return v


@njit(cache=True)
def _route_one(lat, lon, g, k, strategy, try_split, mask, sku_ptr, ent_node, sku_bits, free, ibuf, fbuf, params,
               fout):
    """One order that one tier ships whole, in a single call: the router's common cases.

    First :func:`_route_fast` (one node ships everything); when that
    declines and ``try_split``, the tier's full search, accepted only when
    it ships every unit. Either way the reservation is made here, and the
    ATP the order saw is kept for its explanation. Everything comes back in
    scalars, one int array and the caller's float scratch ``fout``: each
    array a compiled function returns costs about a microsecond to hand to
    Python, more than the rest of the call for the usual order. For the
    same reason the destination comes as ``lat``/``lon``, the groups as one
    array ``g`` (SKUs, then units) and the router's arrays packed by
    :func:`pack_ints` and :func:`pack_floats` into ``ibuf`` and ``fbuf``.

    Returns
    -------
    status : int
        1: one node ships it; 2: several do; 0: neither, nothing changed.
    node : int
        The node (status 1).
    rows : int
        Allocation rows (status 2).
    out : ndarray of int64
        Status 1: the entry of each group, then the snapshot. Status 2:
        ``rows`` rows of (node, group, units, entry), then the snapshot.
    fout
        Status 1: miles, lead, then the four costs (shipping, handling, vendor
        fees, penalties). Status 2: the four costs, then miles and lead per row.
        The caller sizes it: ``6`` and ``4 + 2 * G * max(k, 3)`` suffice.
    """
    G = g.shape[0] // 2
    g_sku = g[:G]
    g_qty = g[G:]
    dest = _unit_vector(lat, lon)
    on_hand = _ints(ibuf, 0)
    safety = _ints(ibuf, 1)
    reserved = _ints(ibuf, 2)
    cap_orders = _ints(ibuf, 3)
    cap_units = _ints(ibuf, 4)
    mark = _ints(ibuf, 5)
    nodef = _float_rows(ibuf, fbuf, 0)
    skuf = _float_rows(ibuf, fbuf, 1)
    entry_fee = _floats(ibuf, fbuf, 2)
    entry_dual = _floats(ibuf, fbuf, 3)
    entry_risk = _floats(ibuf, fbuf, 4)
    entry_demand = _floats(ibuf, fbuf, 5)
    sku_lb = _float_rows(ibuf, fbuf, 6)
    bands = _float_rows(ibuf, fbuf, 7)
    n_snap = _snapshot_size(g_sku, sku_ptr)
    ok, node, fent, need, miles, lead, costs, _ = _route_fast(
        dest, g_sku, g_qty, k, strategy, mask, nodef, skuf, sku_ptr, ent_node, on_hand, safety, reserved,
        entry_fee, entry_dual, entry_risk, entry_demand, sku_lb, sku_bits, cap_orders, cap_units, params, bands,
        False, False)
    if ok:
        out = np.empty(G + n_snap, np.int64)
        out[:G] = fent
        _atp_snapshot(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, out[G:])
        _reserve_whole(node, fent, g_qty, reserved, cap_orders, cap_units)
        fout[0] = miles
        fout[1] = lead
        for i in range(4):
            fout[2 + i] = costs[i]
        return 1, node, 0, out
    if not try_split or k < 2:
        return 0, -1, 0, np.empty(0, np.int64)
    cand, atp, ent, alloc, miles_c, lead_c, fixed, unit, costs, used = _route_core(
        dest, g_sku, g_qty, k, strategy, mask, nodef, skuf, sku_ptr, ent_node, on_hand, safety, reserved,
        entry_fee, entry_dual, entry_risk, entry_demand, cap_orders, cap_units, free, mark, params, bands,
        False, True)
    rc, gc, qc, ec = _rows_of(alloc, ent, used)
    rows = rc.shape[0]
    if qc.sum() != g_qty.sum():
        return 0, -1, 0, np.empty(0, np.int64)
    out = np.empty(4 * rows + n_snap, np.int64)
    _atp_snapshot(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, out[4 * rows:])
    _reserve_alloc(cand, ent, alloc, used, free, reserved, cap_orders, cap_units)
    for i in range(4):
        fout[i] = costs[i]
    for j in range(rows):
        c = rc[j]
        out[4 * j] = cand[c]
        out[4 * j + 1] = gc[j]
        out[4 * j + 2] = qc[j]
        out[4 * j + 3] = ec[j]
        fout[4 + 2 * j] = miles_c[c]
        fout[5 + 2 * j] = lead_c[c]
    return 2, -1, rows, out


@njit(cache=True)
def _alloc_rows(alloc, ent):
    """The nonzero cells of ``alloc`` in row-major order: candidate, group, units and entry of each."""
    return _rows_of(alloc, ent, np.arange(alloc.shape[0]))


@njit(cache=True)
def _rows_of(alloc, ent, rows_in):
    """:func:`_alloc_rows` over the candidates ``rows_in`` (ascending) only: the others ship nothing."""
    G = alloc.shape[1]
    n = 0
    for c in rows_in:
        for g in range(G):
            if alloc[c, g] > 0:
                n += 1
    rows = np.empty(n, np.int64)
    cols = np.empty(n, np.int64)
    qty = np.empty(n, np.int64)
    entries = np.empty(n, np.int64)
    j = 0
    for c in rows_in:
        for g in range(G):
            if alloc[c, g] > 0:
                rows[j] = c
                cols[j] = g
                qty[j] = alloc[c, g]
                entries[j] = ent[c, g]
                j += 1
    return rows, cols, qty, entries


@njit(cache=True)
def _append(out, n_out, group, node, qty, entry, tier):
    """Write one allocation row (group, node, qty, entry, tier), doubling ``out`` when full."""
    if n_out == out.shape[0]:
        bigger = np.empty((2 * out.shape[0], 5), np.int64)
        bigger[:n_out] = out
        out = bigger
    out[n_out, 0] = group
    out[n_out, 1] = node
    out[n_out, 2] = qty
    out[n_out, 3] = entry
    out[n_out, 4] = tier
    return out


@njit(cache=True)
def _route_batch(dest, g_ptr, g_sku, g_qty, k, strategy, tier_masks, tier_miles, nodef, skuf,
                 sku_ptr, ent_node, on_hand, safety, reserved,
                 entry_fee, entry_dual, entry_risk, entry_demand, sku_lb, sku_bits,
                 cap_orders, cap_units, free, mark, params, order_hour, order_max_days, bands):
    """Route orders in sequence through the sourcing tiers, each depleting stock for the next.

    Order ``o`` owns groups ``g_ptr[o]:g_ptr[o+1]``; each tier sees only
    what earlier tiers left unfilled and the shipments they left unused.

    Returns
    -------
    out_group, out_node, out_qty, out_ent, out_tier : ndarray of int64
        One row per (group, node) allocation with the inventory entry it
        reserved and the tier that served it.
    order_costs : ndarray, shape (n_orders, 5)
        Shipping, handling, vendor fees, split penalty, penalties.
    order_ships : ndarray of int64, shape (n_orders,)
    order_km : ndarray, shape (n_orders,)
        Sum over shipments of node-to-customer distance.
    order_days : ndarray, shape (n_orders,)
        Promised days to delivery (the slowest shipment), -1 when nothing ships.
    """
    n_orders = g_ptr.shape[0] - 1
    n_tiers = tier_masks.shape[0]
    out = np.empty((g_sku.shape[0] + 16, 5), np.int64)
    order_costs = np.zeros((n_orders, 5))
    order_ships = np.zeros(n_orders, np.int64)
    order_km = np.zeros(n_orders)
    order_days = np.full(n_orders, -1.0)
    p = params.copy()
    n_out = 0
    most = 0
    for o in range(n_orders):
        if g_ptr[o + 1] - g_ptr[o] > most:
            most = g_ptr[o + 1] - g_ptr[o]
    ident = np.arange(most, dtype=np.int64)
    for o in range(n_orders):
        lo = g_ptr[o]
        hi = g_ptr[o + 1]
        remaining = g_qty[lo:hi].copy()
        p[P_HOUR] = order_hour[o]
        p[P_MAX_DAYS] = order_max_days[o]
        ships_left = k[o]
        for t in range(n_tiers):
            if ships_left <= 0:
                break
            todo = 0
            for g in range(hi - lo):
                if remaining[g] > 0:
                    todo += 1
            if todo == 0:
                break
            if todo == hi - lo:
                # every group still open (the usual first tier): views, no copies; the
                # kernels below only read them, and ``remaining`` changes after they return
                sel = ident[:todo]
                skus_t = g_sku[lo:hi]
                qty_t = remaining
            else:
                sel = np.empty(todo, np.int64)
                j = 0
                for g in range(hi - lo):
                    if remaining[g] > 0:
                        sel[j] = g
                        j += 1
                skus_t = g_sku[lo:hi][sel]
                qty_t = remaining[sel]
            p[P_MAX_MILES] = tier_miles[t]
            fast = (strategy == 0 or strategy == 4) and p[P_MAX_MILES] == np.inf and p[P_MAX_DAYS] < 0
            if fast:
                ok, node, fent, need, fmiles, flead, fcosts, _ = _route_fast(
                    dest[o], skus_t, qty_t, ships_left, strategy, tier_masks[t], nodef, skuf,
                    sku_ptr, ent_node, on_hand, safety, reserved, entry_fee, entry_dual, entry_risk,
                    entry_demand, sku_lb, sku_bits, cap_orders, cap_units, p, bands, True, False)
                if ok:
                    order_costs[o, 0] += fcosts[0]
                    order_costs[o, 1] += fcosts[1]
                    order_costs[o, 2] += fcosts[2]
                    order_costs[o, 4] += fcosts[3]
                    if node >= 0:
                        for jj in range(todo):
                            a = need[jj]
                            if a <= 0:
                                continue
                            g = sel[jj]
                            remaining[g] -= a
                            out = _append(out, n_out, lo + g, node, a, fent[jj], t)
                            n_out += 1
                        order_ships[o] += 1
                        ships_left -= 1
                        order_km[o] += fmiles * MILE_KM
                        if flead > order_days[o]:
                            order_days[o] = flead
                    continue
            cand, atp, ent, alloc, miles, lead, fixed, unit, costs, used = _route_core(
                dest[o], skus_t, qty_t, ships_left, strategy, tier_masks[t], nodef, skuf,
                sku_ptr, ent_node, on_hand, safety, reserved, entry_fee, entry_dual, entry_risk, entry_demand,
                cap_orders, cap_units, free, mark, p, bands, True, fast)
            order_costs[o, 0] += costs[0]
            order_costs[o, 1] += costs[1]
            order_costs[o, 2] += costs[2]
            order_costs[o, 4] += costs[3]
            for c in used:
                shipped = False
                for jj in range(todo):
                    a = alloc[c, jj]
                    if a > 0:
                        shipped = True
                        g = sel[jj]
                        remaining[g] -= a
                        out = _append(out, n_out, lo + g, cand[c], a, ent[c, jj], t)
                        n_out += 1
                if shipped:
                    order_ships[o] += 1
                    ships_left -= 1
                    order_km[o] += miles[c] * MILE_KM
                    if lead[c] > order_days[o]:
                        order_days[o] = lead[c]
        if order_ships[o] > 1:
            order_costs[o, 3] = params[P_SPLIT] * (order_ships[o] - 1)
    out = out[:n_out]
    return (out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), out[:, 3].copy(), out[:, 4].copy(),
            order_costs, order_ships, order_km, order_days)
