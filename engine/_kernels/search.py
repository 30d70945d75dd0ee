"""Plan search: the cheapest single node, exact 2- and 3-node splits, greedy fill, bounds.

The conventions of these kernels are in the package docstring (:mod:`sourcewise.engine._kernels`).
Parameters called "shared arguments" below (the candidate arrays ``cand,
atp, ent, miles, lead, fixed, unit, capu``, the inventory and its books,
the prices, ``params``, ``bands``, ``strategy``) are described in
:mod:`~sourcewise.engine._kernels.layout`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sourcewise.engine._kernels.cost import depletion_cost
from sourcewise.engine._kernels.cost import late_cost
from sourcewise.engine._kernels.cost import lead_days
from sourcewise.engine._kernels.cost import parcel_cost
from sourcewise.engine._kernels.cost import plan_unit
from sourcewise.engine._kernels.cost import unit_handling
from sourcewise.engine._kernels.cost import weight_cost
from sourcewise.engine._kernels.cost import with_miles
from sourcewise.engine._kernels.gather import bit_index
from sourcewise.engine._kernels.gather import lower_bound
from sourcewise.engine._kernels.geometry import arc_miles
from sourcewise.engine._kernels.geometry import chord_miles
from sourcewise.engine._kernels.layout import DUAL
from sourcewise.engine._kernels.layout import EARTH_RADIUS_MI
from sourcewise.engine._kernels.layout import EPS
from sourcewise.engine._kernels.layout import NF_CUTOFF
from sourcewise.engine._kernels.layout import NF_X
from sourcewise.engine._kernels.layout import NF_Y
from sourcewise.engine._kernels.layout import NF_Z
from sourcewise.engine._kernels.layout import P_DEPLETION
from sourcewise.engine._kernels.layout import P_HOUR
from sourcewise.engine._kernels.layout import P_MAX_DAYS
from sourcewise.engine._kernels.layout import P_PER_MILE
from sourcewise.engine._kernels.layout import P_REQUIRE_CUTOFF
from sourcewise.engine._kernels.layout import P_SPLIT


@njit(cache=True)
def best_single_lazy(cand, atp, ent, g_sku, g_qty, capu, miles, lead, dest, free, prices, params, strategy):
    """Cheapest node that ships the whole order alone, and a bound on any split.

    The per-mile term is the only one that needs trigonometry, so each
    covering node is first priced with the chord (never longer than the
    arc) and its exact distance computed only when that lower bound can
    still beat the incumbent.

    "Everything" is what the tier can fill at all: ``need[g]`` is the
    smaller of the ordered units and the tier's total ATP, so a node that
    covers ``need`` is a maximum-fill plan even when stock is short.

    Parameters
    ----------
    cand, atp, ent
        The candidates from :func:`~sourcewise.engine._kernels.gather.gather`
        (shared arguments).
    g_sku, g_qty : ndarray of int64, shape (G,)
        The order's groups: SKU and units ordered.
    capu : ndarray of int64, shape (C,)
        Units each candidate can still take (shared arguments).
    miles, lead : ndarray of float64, shape (C,)
        Shared arguments; where NaN, filled in place for the nodes whose
        bound could still win.
    dest, free, params, strategy
        Shared arguments.
    prices : tuple of ndarray
        The router's prices as :func:`~sourcewise.engine._kernels.layout.prices_of` unpacks
        them (node matrix, SKU weights, per-entry prices, bounds, bands); ``entry_dual`` is read
        for ``DUAL`` only. A tuple, not the packed buffer: the caller unpacked it once already.

    Returns
    -------
    best : int
        Candidate position, -1 when no node covers ``need``.
    best_cost : float
        Its planning cost (inf when ``best`` is -1).
    split_lb : float
        A lower bound on the cost of any plan with two or more parcels that
        fills ``need``.
    need : ndarray of int64, shape (G,)
        Per group, the smaller of ``g_qty`` and the candidates' total ATP.
    """
    nodef, skuf, entry_fee, entry_plan, entry_risk, entry_demand, _, bands = prices
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
        fixed = 0.0 if free[n] else parcel_cost(n, nodef, params)
        if fixed < fmin:
            fmin = fixed
        base = unit_handling(n, nodef, params)
        covers = capu[c] >= total_q
        flat = fixed
        for g in range(G):
            a = atp[c, g]
            if a < need[g]:
                covers = False
            if a <= 0:
                continue
            e = ent[c, g]
            u = base + weight_cost(skuf[g_sku[g], 1], params) + entry_fee[e] + entry_risk[e]
            u += depletion_cost(entry_demand[e], a, w)
            if strategy == DUAL:
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
            miles[c] = arc_miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
            lead[c] = lead_days(n, miles[c], params[P_HOUR], nodef, bands)
        cost = flat + per_mile * total_q * miles[c]
        cost += late_cost(lead[c], params[P_MAX_DAYS], params)
        if cost < best_cost - EPS:
            best_cost = cost
            best = c
    split_lb = 2.0 * fmin + params[P_SPLIT]
    for g in range(G):
        if need[g] > 0:
            split_lb += need[g] * umin[g]
    return best, best_cost, split_lb, need


@njit(cache=True, inline="always")
def members_by_cost(S, m, unit, g, order):
    """Order the ``m`` (at most three) members of node set ``S`` by their unit cost of group ``g``:
    ``order[:m]`` gets positions in ``S``, cheapest first (insertion sort, stable).

    Parameters
    ----------
    S : ndarray of int64, shape (3,)
        Candidate positions; the first ``m`` are the set.
    m : int
        Members in the set, 1 to 3.
    unit : ndarray of float64, shape (C, G)
        Cost per unit of each cell (shared arguments).
    g : int
        The group.
    order : ndarray of int64, at least (m,)
        Written in place.
    """
    for i in range(m):
        order[i] = i
    for i in range(1, m):
        j = i
        while j > 0 and unit[S[order[j]], g] < unit[S[order[j - 1]], g]:
            t = order[j]
            order[j] = order[j - 1]
            order[j - 1] = t
            j -= 1


@njit(cache=True)
def eval_set(S, m, qty, atp, unit, fixed, capu, split_penalty, alloc_out, write, work):
    """Fill and cost of serving the order from candidate set ``S[:m]``.

    Each group is filled from the cheapest members first; given the set this
    is optimal, because groups share no stock and costs are linear in units.
    Only members that receive units pay their fixed cost. ``capu`` is each
    candidate's unit capacity left today, shared by all groups (when it
    binds inside one order the group order decides who gets it).

    Parameters
    ----------
    S : ndarray of int64, shape (3,)
        Candidate positions of the set's members, in ``S[:m]``.
    m : int
        Size of the set, 1 to 3.
    qty : ndarray of int64, shape (G,)
        Units to fill per group.
    atp, unit, fixed, capu
        The candidate arrays (shared arguments).
    split_penalty : float
        Cost of each parcel beyond the first (``params[P_SPLIT]``).
    alloc_out : ndarray of int64, shape (C, G)
        With ``write``, receives the units each member ships per group (cells
        of members it fills; the rest untouched).
    write : bool
        Whether to write the allocation.
    work : ndarray of int64, shape (9,)
        Scratch, overwritten.

    Returns
    -------
    fill : int
        Units the set ships.
    cost : float
        Their planning cost, with fixed costs and split penalties.
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
        members_by_cost(S, m, unit, g, order)
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
def better(fill, cost, best_fill, best_cost):
    """Whether a plan beats the incumbent: more units, or as many for less (by more than ``EPS``).

    Parameters
    ----------
    fill : int
        Units the plan ships.
    cost : float
        Its cost.
    best_fill, best_cost
        The incumbent's.

    Returns
    -------
    bool
    """
    return fill > best_fill or (fill == best_fill and cost < best_cost - EPS)


@njit(cache=True, inline="always")
def fill_bound2(qty, atp, i, j):
    """The units a pair can fill, ignoring capacity: a cheap test before the full evaluation.

    Parameters
    ----------
    qty : ndarray of int64, shape (G,)
        Units to fill per group.
    atp : ndarray of int64, shape (C, G)
        ATP per cell (shared arguments).
    i, j : int
        The two candidates.

    Returns
    -------
    int
        At least the fill of :func:`eval_set` on the pair.
    """
    f = 0
    for g in range(qty.shape[0]):
        a = atp[i, g] + atp[j, g]
        f += a if a < qty[g] else qty[g]
    return f


@njit(cache=True, inline="always")
def fill_bound3(qty, atp, h, i, j):
    """:func:`fill_bound2` for three candidates.

    Parameters
    ----------
    qty, atp
        As for :func:`fill_bound2`.
    h, i, j : int
        The three candidates.

    Returns
    -------
    int
        The units the three can fill together, ignoring capacity.
    """
    f = 0
    for g in range(qty.shape[0]):
        a = atp[h, g] + atp[i, g] + atp[j, g]
        f += a if a < qty[g] else qty[g]
    return f


@njit(cache=True)
def smallest(key, M):
    """Positions of the ``M`` smallest keys, ascending, ties in position order.

    Equals ``np.argsort(key, kind="mergesort")[:M]`` but costs about one
    compare per key once the first ``M`` settle, instead of a full sort of
    every candidate (the split search only ever reads the first ``M``).

    Parameters
    ----------
    key : ndarray of float64, shape (C,)
        The keys.
    M : int
        How many to keep, at most ``C``.

    Returns
    -------
    ndarray of int64, shape (M,)
        Positions in ``key``.
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
PARTIAL = 1e12


@njit(cache=True)
def split_pool(key, atp, unit, fixed, qty, M):
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

    Parameters
    ----------
    key : ndarray of float64, shape (C,)
        Each candidate's rank for a split: its fixed cost plus the least
        extra unit cost it adds (as :func:`plan_given` computes it).
    atp, unit, fixed
        The candidate arrays (shared arguments).
    qty : ndarray of int64, shape (G,)
        Units to fill per group.
    M : int
        The pool's target size (``params[P_SPLIT_CANDS]``, at most ``C``).

    Returns
    -------
    ndarray of int64
        Candidate positions, ascending by ``key`` (ties by position); all
        ``C`` of them when ``C <= M``.
    """
    C, G = atp.shape
    if C <= M:
        return smallest(key, C)
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
                kg[c] = PARTIAL + fixed[c] + qty[g] * unit[c, g]
        top = smallest(kg, per)
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
                top = smallest(kg[:n_multi], per2 if per2 < n_multi else n_multi)
                for x in range(top.shape[0]):
                    if kg[top[x]] < np.inf:
                        c = multi[top[x]]
                        if not chosen[c]:
                            chosen[c] = True
                            n_chosen += 1
    if n_chosen < M:
        top = smallest(key, M)
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
    # ascending key, ties by position: what the bound in :func:`plan_cost` scans by
    keys = np.empty(n_chosen)
    for x in range(n_chosen):
        keys[x] = key[pool[x]]
    srt = np.argsort(keys, kind="mergesort")
    return pool[srt]


@njit(cache=True)
def plan_cost(qty, atp, unit, fixed, capu, k, split_penalty, split_candidates, force):
    """Minimum-cost plan using at most ``min(k, 3)`` nodes, maximising fill first.

    Branch and bound over node sets. A lower bound on any multi-node plan
    that fills every fillable unit is ``sum(fixed) + sum(q_g * cmin_g)`` plus,
    for each member ``a``, the least extra unit cost ``d_a`` it adds over the
    cheapest source of some group it stocks (an optimal member carries at
    least one unit). Members are scanned in order of ``fixed_a + d_a``, so
    the scan stops as soon as the bound passes the incumbent. Splits combine
    only a pool of about ``split_candidates`` nodes (see :func:`split_pool`).

    With ``force >= 0`` only sets containing that candidate are searched
    (the explanation uses this to price the best plan through a rejected node).

    Parameters
    ----------
    qty : ndarray of int64, shape (G,)
        Units to fill per group (the order's ``g_qty``).
    atp, unit, fixed, capu
        The candidate arrays (shared arguments).
    k : int
        Most parcels the order may ship in.
    split_penalty : float
        Cost of each parcel beyond the first (``params[P_SPLIT]``).
    split_candidates : int
        Size of the pool splits combine (``params[P_SPLIT_CANDS]``).
    force : int
        A candidate every searched set must contain, or -1 for none.

    Returns
    -------
    best : ndarray of int64, shape (3,)
        Candidate positions of the chosen set, padded with -1; all -1 when
        there are no candidates.
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
    return plan_given(qty, atp, unit, fixed, capu, k, split_penalty, split_candidates, force, total, cmin)


@njit(cache=True)
def plan_given(qty, atp, unit, fixed, capu, k, split_penalty, split_candidates, force, total, cmin):
    """:func:`plan_cost` given, per group, the ATP summed over the candidates (``total``)
    and the least unit cost among cells with ATP (``cmin``), as the priced gather returns them.

    Parameters
    ----------
    qty, atp, unit, fixed, capu, k, split_penalty, split_candidates, force
        As for :func:`plan_cost`.
    total : ndarray of int64, shape (G,)
        ATP per group summed over the candidates.
    cmin : ndarray of float64, shape (G,)
        Least ``unit`` per group over the cells with ATP (inf if none).

    Returns
    -------
    best : ndarray of int64, shape (3,)
        As :func:`plan_cost` returns it.
    """
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
        # each node alone, in the same steps as eval_set on a one-member set
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
        if (force < 0 or c == force) and better(f, cst, best_fill, best_cost):
            best_fill = f
            best_cost = cst
            best[0] = c
    kk = k if k < 3 else 3
    if kk < 2 or C < 2:
        return best
    M = C if C < split_candidates else split_candidates
    order = split_pool(key, atp, unit, fixed, qty, M)
    M = order.shape[0]
    for size in range(2, kk + 1):
        for jj in range(size - 1, M):
            j = order[jj]
            full = best_fill == total_fillable
            if full and key[j] + (size - 1) * (fmin + split_penalty) + lb_units >= best_cost - EPS:
                break
            for ii in range(jj):
                i = order[ii]
                if size == 2:
                    if force >= 0 and i != force and j != force:
                        continue
                    fb = fill_bound2(qty, atp, i, j) if cover[i] + cover[j] >= best_fill else -1
                    if fb < best_fill:
                        continue
                    if best_fill == total_fillable and fixed[i] + key[j] + split_penalty + lb_units >= best_cost - EPS:
                        continue
                    if (force < 0 and fb == best_fill
                            and fixed[i] + fixed[j] + split_penalty + best_fill * umin >= best_cost - EPS):
                        continue
                    S[0] = i
                    S[1] = j
                    f, cst = eval_set(S, 2, qty, atp, unit, fixed, capu, split_penalty, dummy, False, work)
                    if better(f, cst, best_fill, best_cost):
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
                        fb = fill_bound3(qty, atp, h, i, j) if cover[h] + cover[i] + cover[j] >= best_fill else -1
                        if fb < best_fill:
                            continue
                        if force < 0 and fb == best_fill and (
                            fixed[h] + fixed[i] + fixed[j] + 2 * split_penalty + best_fill * umin >= best_cost - EPS
                        ):
                            continue
                        if best_fill == total_fillable and (
                            fixed[h] + fixed[i] + key[j] + 2 * split_penalty + lb_units >= best_cost - EPS
                        ):
                            continue
                        S[0] = h
                        S[1] = i
                        S[2] = j
                        f, cst = eval_set(S, 3, qty, atp, unit, fixed, capu, split_penalty, dummy, False, work)
                        if better(f, cst, best_fill, best_cost):
                            best_fill = f
                            best_cost = cst
                            best[0] = h
                            best[1] = i
                            best[2] = j
    return best


@njit(cache=True)
def extend_greedy(alloc, qty, atp, capu, k):
    """Add nodes beyond three while units remain and the limit allows.

    Used only when an order may ship in more than three parcels: the exact
    search covers up to three, further parcels are added by most units first.

    Parameters
    ----------
    alloc : ndarray of int64, shape (C, G)
        Units per (candidate, group) so far; extended in place.
    qty : ndarray of int64, shape (G,)
        Units ordered per group.
    atp, capu
        Shared arguments (ATP per cell, units each candidate can take).
    k : int
        Most nodes the order may ship from.
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
def greedy(order_per_group, qty, atp, capu, k, alloc):
    """Fill group by group from nodes in rank order, opening at most ``k`` nodes.

    Parameters
    ----------
    order_per_group : ndarray of int64, shape (G, C)
        Per group, every candidate position in the strategy's rank order.
    qty, atp, capu, k
        As for :func:`extend_greedy`.
    alloc : ndarray of int64, shape (C, G)
        All zeros on entry; receives the units per (candidate, group).
    """
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


@njit(cache=True)
def split_bound(g_sku, g_qty, mask, sku_ptr, ent_node, books, prices, params, strategy):
    """A lower bound on any plan of two or more parcels, from the nodes that can ship now.

    The static bound of :func:`route_fast` counts every node that ever
    stocks a SKU; this one scans the entries and counts only eligible nodes
    with stock, so it is tighter and costs a pass over the order's entries.

    Parameters
    ----------
    g_sku, g_qty : ndarray of int64, shape (G,)
        The order's groups: SKU and units.
    mask, sku_ptr, ent_node, params, strategy
        Shared arguments: the tier, the inventory and the policy.
    books, prices : tuple of ndarray
        The router's books and prices as :func:`~sourcewise.engine._kernels.layout.books_of`
        and :func:`~sourcewise.engine._kernels.layout.prices_of` unpack them. Tuples, not the
        packed buffers: the caller unpacked them once already, and unpacking costs per call.

    Returns
    -------
    float
        The bound: the split penalty, two of the least parcel costs, and per
        group its units at the least :func:`~sourcewise.engine._kernels.cost.plan_unit`
        among eligible entries with ATP (inf when a group has none).
    """
    on_hand, safety, reserved, cap_orders, cap_units, _ = books
    nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, _, _ = prices
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
            u = plan_unit(e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units,
                           params, strategy)
            if u < umin:
                umin = u
            f = parcel_cost(n, nodef, params)
            if f < fmin:
                fmin = f
        lb += g_qty[g] * umin
    return lb + 2.0 * fmin


@njit(cache=True)
def best_by_bits(dest, g_sku, g_qty, by_len, total_q, sku_bits, mask, sku_ptr, ent_node, books, prices, params,
                 strategy):
    """The cheapest node shipping every unit of a multi-line order, from the SKUs' node bitsets.

    The candidates are the set bits of the AND of the order's SKU bitsets,
    taken in ascending node order as the list path takes its survivors.
    Each is first bounded as in :func:`best_one_sku` (fixed cost, per-unit
    costs without the entries' terms, chord); only then are its entries
    found, by a search that resumes where the previous lookup of that group
    ended (a skipped node just leaves a longer gallop). Costs add up group by
    group in ``by_len`` order, as the list path does, so both make the same
    choice bit for bit.

    Parameters
    ----------
    dest : ndarray of float64, shape (3,)
        As for :func:`best_one_sku`.
    g_sku, g_qty : ndarray of int64, shape (G,)
        The order's groups: SKU and units ordered.
    by_len : ndarray of int64, shape (G,)
        The groups in ascending order of their SKU's entry count.
    total_q : int
        Units ordered, ``g_qty.sum()``.
    sku_bits : ndarray of uint64, shape (S, W)
        The SKUs' node bitsets (shared arguments).
    mask, sku_ptr, ent_node, books, prices, params, strategy
        As for :func:`best_one_sku`.

    Returns
    -------
    best : int
        The node, -1 when no node ships every unit.
    entries : ndarray of int64, shape (G,)
        Its entry per group (-1 when ``best`` is -1).
    cost, miles : float
        Its planning cost and distance (inf and NaN when ``best`` is -1).
    """
    on_hand, safety, reserved, cap_orders, cap_units, _ = books
    nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, _, _ = prices
    G = g_sku.shape[0]
    W = sku_bits.shape[1]
    per_mile = params[P_PER_MILE]
    need_cutoff = params[P_REQUIRE_CUTOFF] > 0
    hour = params[P_HOUR]
    ints = np.empty((3, G), np.int64)  # one allocation, not three: this runs once per order
    ent, best_ent, pos = ints[0], ints[1], ints[2]
    best_ent[:] = -1
    unit0 = np.empty(G)
    for g in range(G):
        pos[g] = sku_ptr[g_sku[g]]
        unit0[g] = weight_cost(skuf[g_sku[g], 1], params)
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
            n = w * 64 + bit_index(low)
            if not mask[n] or cap_orders[n] <= 0 or cap_units[n] < total_q:
                continue
            if need_cutoff and hour >= nodef[n, NF_CUTOFF]:
                continue
            reach = per_mile * total_q * chord_miles(dest, nodef, n)
            fixed = parcel_cost(n, nodef, params)
            lb = fixed
            for ii in range(G):
                g = by_len[ii]
                lb += g_qty[g] * (unit_handling(n, nodef, params) + unit0[g])
            if lb + reach >= best_cost - EPS:
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
                lo = lower_bound(ent_node, lo, lo + step if lo + step < end else end, n)
                pos[g] = lo  # the bit says the entry exists: ent_node[lo] == n
                a = on_hand[lo] - safety[lo] - reserved[lo]
                q = g_qty[g]
                if a < q:
                    ok = False
                    break
                cost += q * plan_unit(lo, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand,
                                       cap_units, params, strategy)
                ent[g] = lo
            if not ok or cost + reach >= best_cost - EPS:
                continue
            exact, d = with_miles(dest, nodef, n, cost, per_mile * total_q)
            if exact < best_cost - EPS:
                best_cost = exact
                best = n
                best_miles = d
                best_ent[:] = ent
    return best, best_ent, best_cost, best_miles


@njit(cache=True)
def best_one_sku(dest, s, q, mask, sku_ptr, ent_node, books, prices, params, strategy):
    """The cheapest node shipping ``q`` units of SKU ``s`` alone: a one-line order.

    Walks the SKU's entries in node order, as the multi-line search walks
    its survivors, with one more bound first: a node's fixed cost, its
    per-unit cost without the entry's terms (fee, risk, depletion and dual
    prices are never negative, and floating-point sums of non-negative
    terms never shrink) and the chord. Most nodes fail it once a near node
    is the incumbent, and then their stock and per-entry costs are never
    read. Same comparisons in the same order otherwise, so the same choice.

    Parameters
    ----------
    dest : ndarray of float64, shape (3,)
        The customer's unit vector.
    s : int
        The SKU.
    q : int
        Units ordered.
    mask
        The tier's nodes (shared argument).
    sku_ptr, ent_node, params, strategy
        Shared arguments: the inventory and the policy.
    books, prices : tuple of ndarray
        The router's books and prices as :func:`~sourcewise.engine._kernels.layout.books_of`
        and :func:`~sourcewise.engine._kernels.layout.prices_of` unpack them. Tuples, not the
        packed buffers: the caller unpacked them once already, and unpacking costs per call.

    Returns
    -------
    best, entry : int
        The node and its entry, -1 when no node ships every unit.
    cost, miles : float
        Its planning cost and distance (inf and NaN when ``best`` is -1).
    """
    on_hand, safety, reserved, cap_orders, cap_units, _ = books
    nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, _, _ = prices
    per_mile = params[P_PER_MILE]
    hour = params[P_HOUR]
    need_cutoff = params[P_REQUIRE_CUTOFF] > 0
    lo = sku_ptr[s]
    nodes = ent_node[lo:sku_ptr[s + 1]]
    unit0 = weight_cost(skuf[s, 1], params)
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
        reach = per_mile * q * chord_miles(dest, nodef, n)
        fixed = parcel_cost(n, nodef, params)
        if fixed + q * (unit_handling(n, nodef, params) + unit0) + reach >= best_cost - EPS:
            continue
        e = lo + i
        a = on_hand[e] - safety[e] - reserved[e]
        if a < q:
            continue
        flat = fixed + q * plan_unit(e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand,
                                      cap_units, params, strategy)
        if flat + reach >= best_cost - EPS:
            continue
        cost, d = with_miles(dest, nodef, n, flat, per_mile * q)
        if cost < best_cost - EPS:
            best_cost = cost
            best = n
            best_e = e
            best_miles = d
    return best, best_e, best_cost, best_miles
