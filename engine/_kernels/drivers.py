"""Drivers: one order (fast path, then full search, then reservation) and a batch of orders.

The conventions of these kernels are in the package docstring (:mod:`sourcewise.engine._kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sourcewise.engine._kernels.cost import depletion_cost
from sourcewise.engine._kernels.cost import late_cost
from sourcewise.engine._kernels.cost import lead_days
from sourcewise.engine._kernels.cost import parcel_cost
from sourcewise.engine._kernels.cost import plan_unit
from sourcewise.engine._kernels.cost import unit_costs
from sourcewise.engine._kernels.cost import unit_shipping
from sourcewise.engine._kernels.cost import with_miles
from sourcewise.engine._kernels.gather import atp_snapshot
from sourcewise.engine._kernels.gather import fill_distances
from sourcewise.engine._kernels.gather import gather
from sourcewise.engine._kernels.gather import gather_priced
from sourcewise.engine._kernels.gather import lower_bound
from sourcewise.engine._kernels.gather import snapshot_size
from sourcewise.engine._kernels.geometry import chord_miles
from sourcewise.engine._kernels.geometry import unit_vector
from sourcewise.engine._kernels.layout import CELL_COLS
from sourcewise.engine._kernels.layout import CELL_ROWS
from sourcewise.engine._kernels.layout import COST
from sourcewise.engine._kernels.layout import DUAL
from sourcewise.engine._kernels.layout import EPS
from sourcewise.engine._kernels.layout import HIGH_STOCK
from sourcewise.engine._kernels.layout import MILE_KM
from sourcewise.engine._kernels.layout import NF_CUTOFF
from sourcewise.engine._kernels.layout import NF_HSHIP
from sourcewise.engine._kernels.layout import NF_HUNIT
from sourcewise.engine._kernels.layout import NF_PRIO
from sourcewise.engine._kernels.layout import P_DEPLETION
from sourcewise.engine._kernels.layout import P_HOUR
from sourcewise.engine._kernels.layout import P_MAX_DAYS
from sourcewise.engine._kernels.layout import P_MAX_MILES
from sourcewise.engine._kernels.layout import P_PER_KG
from sourcewise.engine._kernels.layout import P_PER_MILE
from sourcewise.engine._kernels.layout import P_PER_SHIPMENT
from sourcewise.engine._kernels.layout import P_PER_UNIT
from sourcewise.engine._kernels.layout import P_REQUIRE_CUTOFF
from sourcewise.engine._kernels.layout import P_SHIP_LB
from sourcewise.engine._kernels.layout import P_SPLIT
from sourcewise.engine._kernels.layout import P_SPLIT_CANDS
from sourcewise.engine._kernels.layout import PRIORITY
from sourcewise.engine._kernels.layout import T_FAST_TRIED
from sourcewise.engine._kernels.layout import T_FULL
from sourcewise.engine._kernels.layout import T_NO_FAST
from sourcewise.engine._kernels.layout import T_RESERVE
from sourcewise.engine._kernels.layout import T_SNAP
from sourcewise.engine._kernels.layout import books_of
from sourcewise.engine._kernels.layout import prices_of
from sourcewise.engine._kernels.layout import rows_view
from sourcewise.engine._kernels.search import best_by_bits
from sourcewise.engine._kernels.search import best_one_sku
from sourcewise.engine._kernels.search import best_single_lazy
from sourcewise.engine._kernels.search import eval_set
from sourcewise.engine._kernels.search import extend_greedy
from sourcewise.engine._kernels.search import greedy
from sourcewise.engine._kernels.search import plan_cost
from sourcewise.engine._kernels.search import plan_given
from sourcewise.engine._kernels.search import split_bound


@njit(cache=True, inline="always")
def survive(alive, acc, aent, B, i, g, e, extra):
    """Keep survivor ``i`` of the list intersection as survivor ``B``, now also holding entry ``e`` of group ``g``.

    Parameters
    ----------
    alive : ndarray of int64
        Surviving nodes of :func:`route_fast`'s list intersection.
    acc : ndarray
        Each survivor's cost so far.
    aent : ndarray of int64, shape (n, G)
        Each survivor's entry per group.
    B, i : int
        Destination and source positions in the survivor lists (``B <= i``).
    g, e : int
        The group just intersected and the survivor's entry for it.
    extra : float
        The cost that group adds at this survivor.
    """
    alive[B] = alive[i]
    acc[B] = acc[i] + extra
    for gg in range(aent.shape[1]):
        aent[B, gg] = aent[i, gg]
    aent[B, g] = e


@njit(cache=True, inline="always")
def reserve_whole(node, ents, qty, reserved, cap_orders, cap_units):
    """Reserve an order one node ships whole: each group's units at its entry, one parcel's capacity.

    Parameters
    ----------
    node : int
    ents, qty : ndarray of int64, shape (G,)
        Each group's entry at ``node`` and its units.
    reserved, cap_orders, cap_units
        The books (shared arguments, :mod:`~sourcewise.engine._kernels.layout`), changed in place.
    """
    total = 0
    for g in range(ents.shape[0]):
        reserved[ents[g]] += qty[g]
        total += qty[g]
    cap_orders[node] -= 1
    cap_units[node] -= total


@njit(cache=True)
def route_fast(dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, sku_bits, ibuf, fbuf, params, reserve,
               want_snap):
    """The common case without building candidate matrices: one node ships the whole order.

    Works straight on the SKU index. Nodes that can ship every unit must
    appear in every group's entry list, so the search starts from the
    shortest list (checking eligibility, stock and capacity there) and
    intersects the survivors with each longer list, by binary search while
    few survive and by a merge otherwise: a popular SKU held by hundreds of
    nodes costs a few probes, not a scan. With ``sku_bits`` (a bitset per
    SKU of the nodes holding an entry, see :func:`sku_bitsets`; zero rows
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
        or a split might be cheaper; the caller then runs :func:`route_core`.
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

    Parameters
    ----------
    dest : ndarray, shape (3,)
        The customer's unit vector.
    g_sku, g_qty : ndarray of int64, shape (G,)
        The order's SKU groups (lines of one SKU merged) and their units.
    k : int
        Most parcels the order may still use.
    strategy : int
        A strategy code (:data:`~sourcewise.engine._kernels.layout.COST` ... ``DUAL``).
    mask : ndarray of bool, shape (n_nodes,)
        Nodes the sourcing tier admits.
    sku_ptr, ent_node : ndarray of int64
        The inventory's entries in CSR form: SKU ``s`` owns entries
        ``sku_ptr[s]:sku_ptr[s+1]``, at nodes ``ent_node``.
    ibuf, fbuf : ndarray
        The router's packed state (:func:`~sourcewise.engine._kernels.layout.pack_ints`,
        :func:`~sourcewise.engine._kernels.layout.pack_floats`): stock, reservations,
        capacity left and scratch; node matrix, SKU weights, per-entry fees, dual
        prices, risk and walk-in demand, SKU bounds and transit bands.
    params : ndarray, shape (N_PARAMS,)
        The call's parameter vector (``P_*`` positions).
    reserve : bool
        Reserve the stock and capacity the plan uses.
    sku_bits : ndarray of uint64, shape (n_skus, words)
        Per SKU, the bitset of nodes holding an entry (:func:`sku_bitsets`).
    want_snap : bool
        Return the ATP snapshot for the explanation.
    """
    books = books_of(ibuf)
    prices = prices_of(ibuf, fbuf)
    on_hand, safety, reserved, cap_orders, cap_units, _ = books
    nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, sku_lb, bands = prices
    G = g_sku.shape[0]
    per_mile = params[P_PER_MILE]
    hour = params[P_HOUR]
    need_cutoff = params[P_REQUIRE_CUTOFF] > 0
    # best_ent, need and by_len in one allocation, and the empty arrays below as views: this runs
    # once per order, and each array numba allocates costs about 0.5 % of route_batch
    ints = np.empty((3, G), np.int64)
    best_ent = ints[0]
    best_ent[:] = -1
    need = ints[1]
    need[:] = g_qty
    costs = np.zeros(4)
    snap = need[:0]
    total_q = 0
    for g in range(G):
        total_q += g_qty[g]
    if G == 0 or total_q <= 0:
        return False, -1, best_ent, need, np.nan, np.nan, costs, snap
    # groups by ascending list length (insertion sort: G is a handful)
    by_len = ints[2]
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
        best, one_ent, best_cost, best_miles = best_one_sku(
            dest, g_sku[0], g_qty[0], mask, sku_ptr, ent_node, books, prices, params, strategy)
        A = 0
        alive = by_len[:0]
        acc = costs[:0]
        aent = rows_view(need[:0], 0, 1)
    elif sku_bits.shape[0] > 0:
        best, bits_ent, best_cost, best_miles = best_by_bits(
            dest, g_sku, g_qty, by_len, total_q, sku_bits, mask, sku_ptr, ent_node, books, prices, params, strategy)
        A = 0
        alive = by_len[:0]
        acc = costs[:0]
        aent = rows_view(bits_ent, 1, G)
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
            u = plan_unit(e, n, s0, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units,
                           params, strategy)
            alive[A] = n
            acc[A] = parcel_cost(n, nodef, params) + q0 * u
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
                    pos = lower_bound(ent_node, pos, hi, n)
                    if pos >= hi:
                        break
                    if ent_node[pos] != n:
                        continue
                    e = pos
                    a = on_hand[e] - safety[e] - reserved[e]
                    if a < q:
                        continue
                    survive(alive, acc, aent, B, i, g, e, q * plan_unit(
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
                        survive(alive, acc, aent, B, i, g, e, q * plan_unit(
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
        if flat + per_mile * total_q * chord_miles(dest, nodef, n) >= best_cost - EPS:
            continue
        cost, d = with_miles(dest, nodef, n, flat, per_mile * total_q)
        if cost < best_cost - EPS:
            best_cost = cost
            best = n
            bi = i
            best_miles = d
    if best < 0:
        return False, -1, best_ent, need, np.nan, np.nan, costs, snap
    if k > 1:
        col = 1 if strategy == DUAL else 0
        split_lb = 2.0 * params[P_SHIP_LB] + params[P_SPLIT]
        for g in range(G):
            s = g_sku[g]
            split_lb += g_qty[g] * (params[P_PER_UNIT] + params[P_PER_KG] * skuf[s, 1] + sku_lb[s, col])
        if best_cost > split_lb and best_cost > split_bound(
                g_sku, g_qty, mask, sku_ptr, ent_node, books, prices, params, strategy):
            return False, -1, best_ent, need, np.nan, np.nan, costs, snap
    if want_snap:
        # taken only once the order is accepted, still before its reservation
        snap = np.empty(snapshot_size(g_sku, sku_ptr), np.int64)
        atp_snapshot(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, snap)
    if G == 1:
        best_ent[0] = one_ent
    else:
        for g in range(G):
            best_ent[g] = aent[bi, g]
    lead = lead_days(best, best_miles, params[P_HOUR], nodef, bands)
    w = params[P_DEPLETION]
    costs[0] = params[P_PER_SHIPMENT]
    costs[1] = nodef[best, NF_HSHIP]
    for g in range(G):
        e = best_ent[g]
        q = g_qty[g]
        a = on_hand[e] - safety[e] - reserved[e]
        if a > cap_units[best]:
            a = cap_units[best]
        costs[0] += q * unit_shipping(best_miles, skuf[g_sku[g], 1], params)
        costs[1] += q * nodef[best, NF_HUNIT]
        costs[2] += q * entry_fee[e]
        costs[3] += q * depletion_cost(entry_demand[e], a, w)
    if reserve:
        reserve_whole(best, best_ent, g_qty, reserved, cap_orders, cap_units)
    return True, best, best_ent, need, best_miles, lead, costs, snap


@njit(cache=True)
def used_rows(alloc, best_set, m_set, k, done):
    """Ascending candidate positions whose row of ``alloc`` ships something.

    The cost search allocates only to its chosen set (``best_set[:m_set]``),
    plus greedy extensions when ``k > 3``; reading those rows, not all
    ``C x G`` cells, is what the callers' loops over the plan need. Anything
    else (the rule strategies, extensions) is found by a scan.

    Parameters
    ----------
    alloc : ndarray of int64, shape (C, G)
        Units per (candidate, group).
    best_set : ndarray of int64, shape (3,)
        The cost search's chosen candidates; ``m_set`` of them are set.
    m_set, k : int
        Size of the chosen set; the order's parcel limit.
    done : bool
        The cost search settled the plan (a single node or an exact split).

    Returns
    -------
    ndarray of int64
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
def route_core(dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, free, ibuf, fbuf, params, reserve,
               fast_tried=False):
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

    Parameters
    ----------
    dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, ibuf, fbuf, params, reserve
        As for :func:`route_fast`.
    free : ndarray of bool, shape (n_nodes,)
        Nodes that already ship part of this order: their parcel is paid for.
    fast_tried : bool
        :func:`route_fast` already looked for a single node and declined.
    """
    books = books_of(ibuf)
    prices = prices_of(ibuf, fbuf)
    on_hand, safety, reserved, cap_orders, cap_units, mark = books
    nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, _, bands = prices
    # only a cost search that has not yet looked for a single node can hope to skip
    # pricing most candidates; every other search prices them all, in the scan
    priced = not ((strategy == COST or strategy == DUAL) and not fast_tried)
    if priced:
        cand, atp, ent, miles, lead, fixed, unit, total, cheapest = gather_priced(
            g_sku, sku_ptr, ent_node, mask, free, dest, books, prices, params, strategy)
    else:
        cand, atp, ent, miles, lead = gather(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask,
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
    try_single = C > 0 and (strategy == COST or strategy == DUAL)
    if try_single and fast_tried:
        # :func:`route_fast` already looked for one node shipping every unit and
        # declined; a single node can still win here only when stock is short
        try_single = False
        for g in range(G):
            if total[g] < g_qty[g]:
                try_single = True
    if try_single:
        # fast path: a single covering node beats every split whenever its cost is
        # below the cheapest conceivable two-parcel plan, the common case
        best, best_cost, split_lb, need = best_single_lazy(
            cand, atp, ent, g_sku, g_qty, capu, miles, lead, dest, free, prices, params, strategy)
        if best >= 0 and (k == 1 or best_cost <= split_lb):
            for g in range(G):
                alloc[best, g] = need[g]
            done = True
            best_set[0] = best
            m_set = 1
    # a single that won without pricing: the explanation rebuilds the costs when asked
    if not done and not priced:
        fill_distances(cand, miles, lead, dest, nodef, params, bands, params[P_MAX_DAYS] >= 0)
        fixed, unit = unit_costs(cand, g_sku, ent, atp, miles, lead, nodef, skuf, entry_fee, entry_dual,
                                  entry_demand, free, params, strategy)
        for c in range(C):
            for g in range(G):
                e = ent[c, g]
                if e >= 0:
                    unit[c, g] += entry_risk[e]
    if C > 0 and not done:
        if strategy == COST or strategy == DUAL:
            if priced:
                best = plan_given(g_qty, atp, unit, fixed, capu, k, split_penalty, np.int64(params[P_SPLIT_CANDS]),
                                   -1, total, cheapest)
            else:
                best = plan_cost(g_qty, atp, unit, fixed, capu, k, split_penalty, np.int64(params[P_SPLIT_CANDS]),
                                  -1)
            m = 0
            while m < 3 and best[m] >= 0:
                m += 1
            eval_set(best, m, g_qty, atp, unit, fixed, capu, split_penalty, alloc, True, np.empty(9, np.int64))
            best_set = best
            m_set = m
            if k > 3:
                extend_greedy(alloc, g_qty, atp, capu, k)
        else:
            ranks = np.empty((G, C), np.int64)
            if strategy == HIGH_STOCK:
                for g in range(G):
                    ranks[g] = np.argsort(-atp[:, g], kind="mergesort")
            else:
                if strategy == PRIORITY:
                    keyv = np.empty(C)
                    for c in range(C):
                        keyv[c] = nodef[cand[c], NF_PRIO]
                else:
                    keyv = miles
                base = np.argsort(keyv, kind="mergesort")
                for g in range(G):
                    ranks[g] = base
            greedy(ranks, g_qty, atp, capu, k, alloc)
    used = used_rows(alloc, best_set, m_set, k, done)
    costs = np.zeros(4)
    w = params[P_DEPLETION]
    max_days = params[P_MAX_DAYS]
    for c in used:
        if np.isnan(lead[c]) and not np.isnan(miles[c]):
            lead[c] = lead_days(cand[c], miles[c], params[P_HOUR], nodef, bands)
    for c in used:
        units = 0
        n = cand[c]
        for g in range(G):
            a = alloc[c, g]
            if a > 0:
                units += a
                s = g_sku[g]
                e = ent[c, g]
                costs[0] += a * unit_shipping(miles[c], skuf[s, 1], params)
                costs[1] += a * nodef[n, NF_HUNIT]
                costs[2] += a * entry_fee[e]
                costs[3] += a * depletion_cost(entry_demand[e], atp[c, g], w)
        if units > 0 and not free[n]:
            costs[0] += params[P_PER_SHIPMENT]
            costs[1] += nodef[n, NF_HSHIP]
            costs[3] += late_cost(lead[c], max_days, params)
    if reserve:
        reserve_alloc(cand, ent, alloc, used, free, reserved, cap_orders, cap_units)
    return cand, atp, ent, alloc, miles, lead, fixed, unit, costs, used


@njit(cache=True)
def reserve_alloc(cand, ent, alloc, used, free, reserved, cap_orders, cap_units):
    """Reserve a plan's units and take its nodes' capacity: a parcel's order slot
    unless the node already ships for the order (``free``), and its units.
    Only the rows ``used`` (see :func:`used_rows`) ship anything.

    Parameters
    ----------
    cand, ent, alloc
        Candidates, their entries and the plan's units, as :func:`route_core` returns them.
    used : ndarray of int64
        The rows of ``alloc`` that ship (:func:`used_rows`).
    free, reserved, cap_orders, cap_units
        Shared arguments (:mod:`~sourcewise.engine._kernels.layout`); the last three change in place.
    """
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


@njit(cache=True, inline="always")
def single_rows(out, head, node, ents, qty, miles, lead, costs, fout):
    """Write a one-node plan as :func:`tier_step`'s rows: one (node, group, units, entry) per group.

    Parameters
    ----------
    out, fout
        As for :func:`tier_step`; rows start at ``out[head]``.
    head : int
        Where the rows start (after the snapshot, if any).
    node : int
    ents, qty : ndarray of int64, shape (G,)
        Each group's entry at ``node`` and its units.
    miles, lead : float
    costs : ndarray, shape (4,)
        Shipping, handling, vendor fees and penalties.

    Returns
    -------
    int
        Rows written (``G``).
    """
    for i in range(4):
        fout[i] = costs[i]
    G = qty.shape[0]
    for g in range(G):
        out[head + 4 * g] = node
        out[head + 4 * g + 1] = g
        out[head + 4 * g + 2] = qty[g]
        out[head + 4 * g + 3] = ents[g]
        fout[4 + 2 * g] = miles
        fout[5 + 2 * g] = lead
    return G


@njit(cache=True)
def tier_step(dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, sku_bits, free, ibuf, fbuf, params, flags,
              out, fout):
    """One sourcing tier for one order: a single node when one provably wins, else the full search.

    The one place the tier step lives: the batch loop (:func:`route_batch`),
    the one-call path (:func:`route_one`) and the router's walk through the
    tiers all call it. The single-node search (:func:`route_fast`) runs
    only where it can prove its node optimal: the ``cost`` and ``dual``
    strategies with no distance limit and no deadline. The plan comes back
    as rows in the caller's buffers, not as new arrays: a compiled function
    that returns a dozen arrays per tier costs the batch loop about 5 %.

    Parameters
    ----------
    dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, sku_bits, ibuf, fbuf, params
        As for :func:`route_fast`.
    free
        As for :func:`route_core`.
    flags : int
        :data:`~sourcewise.engine._kernels.layout.T_RESERVE` ... ``T_SNAP``, or-ed.
    out : ndarray of int64
        Written: with ``T_SNAP``, first the ATP the order saw
        (:func:`~sourcewise.engine._kernels.gather.snapshot_size` ints); then
        one row per (node, group) the plan ships from, node by node, as four
        ints (node, group position, units, entry). The rows need ``4 * R``
        ints, ``R`` from :func:`tier_rows_bound`. The snapshot comes first so
        that the caller can hand back ``out[:head + 4 * n_rows]`` without a copy.
    fout : ndarray of float64
        Written: the plan's shipping, handling, vendor fees and penalties,
        then the miles and lead days of each row's node (``4 + 2 * R``).

    Returns
    -------
    n_rows : int
        Rows written.
    single : bool
        :func:`route_fast` chose the node (it then ships every unit).
    """
    reserve = (flags & T_RESERVE) != 0
    want_snap = (flags & T_SNAP) != 0
    G = g_sku.shape[0]
    may_fast = ((flags & T_NO_FAST) == 0 and (strategy == COST or strategy == DUAL)
                and params[P_MAX_MILES] == np.inf and params[P_MAX_DAYS] < 0)
    head = 0
    if want_snap:
        # before either search reserves anything: the ATP the order saw, straight into the caller's buffer
        head = snapshot_size(g_sku, sku_ptr)
        on_hand, safety, reserved, _, _, _ = books_of(ibuf)
        atp_snapshot(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, out[:head])
    if may_fast and (flags & T_FAST_TRIED) == 0:
        ok, node, fent, need, fmiles, flead, fcosts, _ = route_fast(
            dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, sku_bits, ibuf, fbuf, params, reserve,
            False)
        if ok:
            # a single node ships every unit (``need`` is all of ``g_qty``)
            return single_rows(out, head, node, fent, need, fmiles, flead, fcosts, fout), True
    if (flags & T_FULL) == 0:
        return 0, False
    cand, atp, ent, alloc, miles, lead, fixed, unit, costs, used = route_core(
        dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, free, ibuf, fbuf, params, reserve, may_fast)
    for i in range(4):
        fout[i] = costs[i]
    n = 0
    for c in used:
        for g in range(G):
            a = alloc[c, g]
            if a > 0:
                out[head + 4 * n] = cand[c]
                out[head + 4 * n + 1] = g
                out[head + 4 * n + 2] = a
                out[head + 4 * n + 3] = ent[c, g]
                fout[4 + 2 * n] = miles[c]
                fout[5 + 2 * n] = lead[c]
                n += 1
    return n, False


@njit(cache=True)
def reserve_rows(rows, n_rows, free, reserved, cap_orders, cap_units):
    """Reserve the plan :func:`tier_step` wrote: each row's units at its entry, each node's capacity once.

    A parcel takes an order slot unless its node already ships for the
    order (``free``); rows come node by node, as :func:`tier_step` writes them.

    Parameters
    ----------
    rows : ndarray of int64
        (node, group position, units, entry) per row, flat.
    n_rows : int
        Rows to read.
    free, reserved, cap_orders, cap_units
        Shared arguments (:mod:`~sourcewise.engine._kernels.layout`); the last three change in place.
    """
    for j in range(n_rows):
        n = rows[4 * j]
        reserved[rows[4 * j + 3]] += rows[4 * j + 2]
        cap_units[n] -= rows[4 * j + 2]
        if (j == 0 or rows[4 * j - 4] != n) and not free[n]:
            cap_orders[n] -= 1


@njit(cache=True)
def tier_rows_bound(n_groups, k, n_nodes):
    """Rows :func:`tier_step` may write for ``n_groups`` groups, ``k`` parcels and ``n_nodes`` nodes.

    Each node the plan uses ships at most every group, and a plan uses at
    most ``k`` nodes that take a parcel; nodes that already ship for the
    order (``free``) take none, so a caller that has some adds them to ``k``.

    Parameters
    ----------
    n_groups, k, n_nodes : int
    """
    return max(1, n_groups * max(1, min(k, n_nodes)))


@njit(cache=True, inline="always")
def geo_cell(lat, lon, cells):
    """The state of the destination's cell in the geography raster ``cells`` (0 when off it).

    Parameters
    ----------
    lat, lon : float
    cells : ndarray of uint8
        As for :func:`route_one`: ``CELL_ROWS * CELL_COLS`` bytes.
    """
    per_deg = CELL_ROWS / 180.0
    if not (lat >= -90.0 and lat < 90.0 and lon >= -180.0 and lon < 180.0) or cells.shape[0] != CELL_ROWS * CELL_COLS:
        return 0
    i = int((lat + 90.0) * per_deg)
    j = int((lon + 180.0) * per_deg)
    if i >= CELL_ROWS or j >= CELL_COLS:
        return 0
    return cells[i * CELL_COLS + j]


@njit(cache=True)
def route_one(lat, lon, g, k, strategy, try_split, mask, sku_ptr, ent_node, sku_bits, free, ibuf, fbuf, params,
               fout, cells):
    """One order that one tier ships whole, in a single call: the router's common cases.

    A single node when one provably wins (:func:`route_fast`); when none
    does and ``try_split``, the tier's full search through :func:`tier_step`,
    accepted only when it ships every unit. Either way the reservation is made here, and the
    ATP the order saw is kept for its explanation. Everything comes back in
    scalars, one int array and the caller's float scratch ``fout``: each
    array a compiled function returns costs about a microsecond to hand to
    Python, more than the rest of the call for the usual order. For the
    same reason the destination comes as ``lat``/``lon``, the groups as one
    array ``g`` (SKUs, then units) and the router's arrays packed by
    :func:`pack_ints` and :func:`pack_floats` into ``ibuf`` and ``fbuf``.

    Parameters
    ----------
    lat, lon : float
        The customer's coordinates.
    g : ndarray of int64, shape (2 * G,)
        The groups' SKUs, then their units.
    k, strategy, mask, sku_ptr, ent_node, sku_bits, free, ibuf, fbuf, params
        As for :func:`route_fast` (``free`` as for :func:`route_core`).
    try_split : bool
        Accept a plan of several parcels from the tier's full search when it ships every unit.
    fout : ndarray of float64
        Scratch the float results are written to (see below).
    cells : ndarray of uint8
        The geography check's world raster (:class:`~sourcewise.engine.geography.GeoCheck`:
        one byte per cell of ``1 / per_deg`` degrees, rows from the south pole,
        columns from the antimeridian; :data:`~sourcewise.engine._kernels.layout.CELL_ROWS`
        x ``CELL_COLS``). Read here, where it costs nothing, so that Python checks
        the geography only for the rare destination whose cell is not cleared.

    Returns
    -------
    status : int
        1: one node ships it; 2: several do; 0: neither, nothing changed.
    node : int
        The node (status 1).
    rows : int
        Allocation rows (for status 1, one per group, in group order).
    out : ndarray of int64
        The snapshot, then ``rows`` rows of (node, group, units, entry).
    fout
        The four costs (shipping, handling, vendor fees, penalties), then
        miles and lead per row. The caller sizes it: ``4 + 2 * G * max(k, 3)`` suffices.
    cell : int
        The destination's cell state in ``cells`` (1: cleared whole, no flag can
        apply; 0 or 2: the caller must check; 0 also off the raster).
    """
    G = g.shape[0] // 2
    g_sku = g[:G]
    g_qty = g[G:]
    cell = geo_cell(lat, lon, cells)
    dest = unit_vector(lat, lon)
    on_hand, safety, reserved, cap_orders, cap_units, _ = books_of(ibuf)
    n_snap = snapshot_size(g_sku, sku_ptr)
    # the single-node search first, here rather than in tier_step: most orders end with it, and the
    # extra compiled call layer with its row buffers measured about 10 % of this path's time
    ok, node, fent, need, miles, lead, costs, _ = route_fast(
        dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, sku_bits, ibuf, fbuf, params, False, False)
    if ok:
        out = np.empty(n_snap + 4 * G, np.int64)
        atp_snapshot(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, out[:n_snap])
        reserve_whole(node, fent, g_qty, reserved, cap_orders, cap_units)
        return 1, node, single_rows(out, n_snap, node, fent, g_qty, miles, lead, costs, fout), out, cell
    if not try_split or k < 2:
        return 0, -1, 0, np.empty(0, np.int64), cell
    # then the tier's full search, knowing the single node was tried
    R = tier_rows_bound(G, k, cap_units.shape[0])
    out = np.empty(n_snap + 4 * R, np.int64)
    n_rows, _ = tier_step(dest, g_sku, g_qty, k, strategy, mask, sku_ptr, ent_node, sku_bits, free, ibuf,
                          fbuf, params, T_SNAP | T_FULL | T_FAST_TRIED, out, fout)
    rows = out[n_snap:]
    shipped = 0
    for j in range(n_rows):
        shipped += rows[4 * j + 2]
    if n_rows == 0 or shipped != g_qty.sum():
        return 0, -1, 0, np.empty(0, np.int64), cell
    reserve_rows(rows, n_rows, free, reserved, cap_orders, cap_units)
    return 2, -1, n_rows, out[:n_snap + 4 * n_rows], cell


@njit(cache=True)
def alloc_rows(alloc, ent):
    """The nonzero cells of ``alloc`` in row-major order: candidate, group, units and entry of each.

    Parameters
    ----------
    alloc, ent : ndarray of int64, shape (C, G)
        Units and entry per (candidate, group).
    """
    return rows_of(alloc, ent, np.arange(alloc.shape[0]))


@njit(cache=True)
def rows_of(alloc, ent, rows_in):
    """:func:`alloc_rows` over the candidates ``rows_in`` (ascending) only: the others ship nothing.

    Parameters
    ----------
    alloc, ent
        As for :func:`alloc_rows`.
    rows_in : ndarray of int64
        Candidate positions, ascending.

    Returns
    -------
    rows, cols, qty, entries : ndarray of int64
    """
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
def append_row(out, n_out, group, node, qty, entry, tier, days):
    """Write one allocation row (group, node, qty, entry, tier, days), doubling ``out`` when full.

    Parameters
    ----------
    out : ndarray of int64, shape (n, 6)
    n_out : int
        Rows already written.
    group, node, qty, entry, tier : int
    days : int
        Whole days from the order's day to its parcel's promised delivery.

    Returns
    -------
    ndarray of int64
        ``out``, or a copy twice its size.
    """
    if n_out == out.shape[0]:
        bigger = np.empty((2 * out.shape[0], 6), np.int64)
        bigger[:n_out] = out
        out = bigger
    out[n_out, 0] = group
    out[n_out, 1] = node
    out[n_out, 2] = qty
    out[n_out, 3] = entry
    out[n_out, 4] = tier
    out[n_out, 5] = days
    return out


@njit(cache=True)
def route_batch(dest, g_ptr, g_sku, g_qty, k, strategy, tier_masks, tier_miles, sku_ptr, ent_node, sku_bits, free,
                ibuf, fbuf, params, order_hour, order_max_days):
    """Route orders in sequence through the sourcing tiers, each depleting stock for the next.

    Order ``o`` owns groups ``g_ptr[o]:g_ptr[o+1]``; each tier sees only
    what earlier tiers left unfilled and the shipments they left unused.

    Parameters
    ----------
    dest : ndarray, shape (n_orders, 3)
        Each order's customer unit vector.
    g_ptr : ndarray of int64, shape (n_orders + 1,)
    g_sku, g_qty : ndarray of int64
        Every order's SKU groups and units, order after order.
    k : ndarray of int64, shape (n_orders,)
        Most parcels per order.
    strategy : int
    tier_masks : ndarray of bool, shape (n_tiers, n_nodes)
    tier_miles : ndarray, shape (n_tiers,)
        Each tier's distance limit (inf: none).
    sku_ptr, ent_node, sku_bits, free, ibuf, fbuf
        As for :func:`route_core` and :func:`route_fast`.
    params : ndarray
        The parameter vector; ``P_HOUR``, ``P_MAX_DAYS`` and ``P_MAX_MILES``
        are set per order and tier from ``order_hour``, ``order_max_days``
        and ``tier_miles``.

    Returns
    -------
    out_group, out_node, out_qty, out_ent, out_tier, out_days : ndarray of int64
        One row per (group, node) allocation with the inventory entry it
        reserved, the tier that served it and its parcel's lead days rounded
        up (the promised date is the order's day plus these).
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
    out = np.empty((g_sku.shape[0] + 16, 6), np.int64)
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
    # tier_step's buffers, shared by every order and tier
    k_most = 0
    for o in range(n_orders):
        if k[o] > k_most:
            k_most = k[o]
    R = tier_rows_bound(most, k_most, tier_masks.shape[1])
    rows = np.empty(4 * R, np.int64)
    rowf = np.empty(4 + 2 * R)
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
            n_rows, _ = tier_step(dest[o], skus_t, qty_t, ships_left, strategy, tier_masks[t], sku_ptr, ent_node,
                                  sku_bits, free, ibuf, fbuf, p, T_RESERVE | T_FULL, rows, rowf)
            order_costs[o, 0] += rowf[0]
            order_costs[o, 1] += rowf[1]
            order_costs[o, 2] += rowf[2]
            order_costs[o, 4] += rowf[3]
            for j in range(n_rows):
                n = rows[4 * j]
                g = sel[rows[4 * j + 1]]
                a = rows[4 * j + 2]
                remaining[g] -= a
                days = np.int64(np.ceil(rowf[5 + 2 * j]))
                out = append_row(out, n_out, lo + g, n, a, rows[4 * j + 3], t, days)
                n_out += 1
                # rows come node by node: a new node is a new parcel
                if j == 0 or rows[4 * j - 4] != n:
                    order_ships[o] += 1
                    ships_left -= 1
                    order_km[o] += rowf[4 + 2 * j] * MILE_KM
                    if rowf[5 + 2 * j] > order_days[o]:
                        order_days[o] = rowf[5 + 2 * j]
        if order_ships[o] > 1:
            order_costs[o, 3] = params[P_SPLIT] * (order_ships[o] - 1)
    out = out[:n_out]
    return (out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), out[:, 3].copy(), out[:, 4].copy(),
            out[:, 5].copy(), order_costs, order_ships, order_km, order_days)
