"""Numba kernels that generate and price candidate plans for the batch optimizer.

Private: arrays and scalars, bundled by what they describe (:class:`Orders`,
:class:`Stock`, :class:`Costs`, :class:`Prices`); :mod:`sourcewise.engine.optimize`
validates and converts.

A *plan* (a column of the master problem) serves one order from at most
``kk`` nodes (:data:`KMAX` at most); units it does not serve cost ``penalty`` each. Plans are priced
against dual prices: ``lam`` per inventory entry, ``mu`` per node (order
capacity, paid once per parcel) and ``nu`` per node (unit capacity, paid per
unit). With all prices zero the price of a plan is its real cost plus the
penalty for its unfilled units.

Costs are the router's: the same helpers of :mod:`sourcewise.engine._kernels.cost`
price parcels and units (node handling, per-entry vendor fees, store
depletion, here at the batch's starting stock, and lateness), over the same
node matrix and parameter vector (:mod:`~sourcewise.engine._kernels.layout`);
node eligibility follows the router too (tier distance limits, capacity
left, delivery deadlines). ``tests/engine/optimize/test_results.py`` checks that
both price the router's own plans identically.

Pricing is exact. Most orders are priced by a dynamic programme over their
candidate nodes (:func:`_dp_plan`): its states are the units filled per group
and the parcels used, so it needs no bound and handles any number of parcels.
Orders whose state space would be too large (many units over many groups)
fall back to a branch-and-bound search (:func:`_search`) over node sets of
size 1..3 in order of a lower bound, like :func:`sourcewise.engine._kernels.plan_cost`
but minimising penalised cost, with a bound for larger sets. When its budget
runs out it still returns a valid *lower bound* on the best plan's price,
which keeps the Lagrangian bound of :mod:`sourcewise.engine.optimize` a proof.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
from numba import njit
from numba import objmode
from numba import prange

# one cost model and one node layout with the router's kernels: plans are priced by the same helpers
from sourcewise.engine._kernels.cost import late_cost
from sourcewise.engine._kernels.cost import lead_days
from sourcewise.engine._kernels.cost import parcel_cost
from sourcewise.engine._kernels.cost import unit_cost_at
from sourcewise.engine._kernels.cost import unit_shipping
from sourcewise.engine._kernels.cost import weight_cost
from sourcewise.engine._kernels.gather import candidate_buffers
from sourcewise.engine._kernels.geometry import arc_miles
from sourcewise.engine._kernels.layout import EPS
from sourcewise.engine._kernels.layout import LATE_EXCLUDE
from sourcewise.engine._kernels.layout import MILE_KM
from sourcewise.engine._kernels.layout import NF_HSHIP
from sourcewise.engine._kernels.layout import NF_HUNIT
from sourcewise.engine._kernels.layout import NF_X
from sourcewise.engine._kernels.layout import NF_Y
from sourcewise.engine._kernels.layout import NF_Z
from sourcewise.engine._kernels.layout import P_LATE_MODE
from sourcewise.engine._kernels.layout import P_PER_SHIPMENT
from sourcewise.engine._kernels.layout import P_SPLIT
from sourcewise.engine._kernels.layout import rows_view
from sourcewise.engine._kernels.search import members_by_cost

PARALLEL_FROM = 2000
"""Batches of at least this many orders are priced on all cores."""

KMAX = 8
"""Most nodes (parcels) one plan may use; the best plan of an order gets ``KMAX`` rows per group."""

DP_MAX_WORK = 2_000_000
"""Orders whose dynamic programme would need a larger choice table than this use the search
(many units over many groups: the states multiply)."""

DOMINANCE_FROM = 5_000
"""Orders whose dynamic programme would still need a larger table than this after the cheap
candidate filter (:func:`_useful`) also drop redundant candidates (:func:`_undominated`), which
costs candidates squared."""


# The kernels take their inputs bundled by what they describe, never as long positional lists.
# numba types a NamedTuple of arrays like a plain tuple: fields unpack inside a jitted function
# at no cost, and the Python side builds each bundle once per batch.
class Orders(NamedTuple):
    """Per-order arrays of a batch; an order's lines of one SKU are merged into a *group*.

    Attributes
    ----------
    dest : ndarray, shape (n_orders, 3)
        Destination as a unit vector.
    hour : ndarray of float
        Hour of day the order was placed (for cut-offs and lead days).
    max_days : ndarray of float
        Delivery deadline in days (< 0: none).
    chan : ndarray of int64
        Channel index of the order (row of :attr:`Stock.maxmiles`).
    g_ptr : ndarray of int64, shape (n_orders + 1,)
        Order ``o`` owns groups ``g_ptr[o]:g_ptr[o+1]``.
    g_sku, g_qty : ndarray of int64
        Each group's SKU and units.
    kk : ndarray of int64
        Most nodes a plan of the order may use (<= :data:`KMAX`).
    """

    dest: np.ndarray
    hour: np.ndarray
    max_days: np.ndarray
    chan: np.ndarray
    g_ptr: np.ndarray
    g_sku: np.ndarray
    g_qty: np.ndarray
    kk: np.ndarray


class Stock(NamedTuple):
    """Where the stock is and which nodes may ship it.

    Attributes
    ----------
    sku_ptr : ndarray of int64, shape (n_skus + 1,)
        Inventory entries of SKU ``s`` are ``sku_ptr[s]:sku_ptr[s+1]``.
    ent_node : ndarray of int64
        Node of each entry.
    atp : ndarray of int64
        Available-to-promise units of each entry.
    mask : ndarray of bool, shape (n_nodes,)
        Nodes that may ship at all.
    cap_o, cap_u : ndarray of int64, shape (n_nodes,)
        Parcels and units each node may still take.
    maxmiles : ndarray, shape (n_channels, n_nodes)
        Farthest a channel may ship from each node (< 0: never).
    """

    sku_ptr: np.ndarray
    ent_node: np.ndarray
    atp: np.ndarray
    mask: np.ndarray
    cap_o: np.ndarray
    cap_u: np.ndarray
    maxmiles: np.ndarray


class Costs(NamedTuple):
    """The router's cost model (:mod:`~sourcewise.engine._kernels.layout`).

    Attributes
    ----------
    nodef : ndarray, shape (n_nodes, NF_COLS)
        Node matrix.
    params : ndarray
        Parameter vector.
    bands : ndarray, shape (n_bands, 2)
        Transit bands (miles, days).
    weight : ndarray
        Weight per SKU.
    fee_e, pen_e : ndarray
        Per entry: vendor fee and store-depletion penalty per unit.
    """

    nodef: np.ndarray
    params: np.ndarray
    bands: np.ndarray
    weight: np.ndarray
    fee_e: np.ndarray
    pen_e: np.ndarray


class Prices(NamedTuple):
    """What a plan pays beyond its real cost.

    Attributes
    ----------
    lam : ndarray, shape (n_entries,)
        Dual price per unit taken from an inventory entry.
    mu, nu : ndarray, shape (n_nodes,)
        Dual price per parcel and per unit shipped from a node.
    unfilled : ndarray, shape (n_orders,)
        Price of each unit an order leaves unfilled.
    """

    lam: np.ndarray
    mu: np.ndarray
    nu: np.ndarray
    unfilled: np.ndarray


class Priced(NamedTuple):
    """Output of :func:`price_orders`; column and row layout as documented there.

    Attributes
    ----------
    c_nrows, c_unfilled : ndarray of int64
        Rows written per column (-1 where no column), unfilled units.
    c_real, c_price : ndarray
        Real cost and penalised price under the dual prices.
    o_lower : ndarray
        Per order, a lower bound on the price of every plan with at most
        ``kk[o]`` nodes (exact unless the budget was hit).
    r_node, r_group, r_qty, r_ent : ndarray of int64
        Rows: node, group (local to the order), units, inventory entry.
    """

    c_nrows: np.ndarray
    c_unfilled: np.ndarray
    c_real: np.ndarray
    c_price: np.ndarray
    o_lower: np.ndarray
    r_node: np.ndarray
    r_group: np.ndarray
    r_qty: np.ndarray
    r_ent: np.ndarray


class PlanRows(NamedTuple):
    """Plans as rows grouped by plan: plan ``j`` owns rows ``ptr[j]:ptr[j+1]``.

    Attributes
    ----------
    ptr : ndarray of int64, shape (n_plans + 1,)
    node, qty, sku, ent : ndarray of int64
        Per row: shipping node, units, SKU and inventory entry.
    """

    ptr: np.ndarray
    node: np.ndarray
    qty: np.ndarray
    sku: np.ndarray
    ent: np.ndarray


class Candidates(NamedTuple):
    """Every order's candidates (:func:`_candidates`) on one stock, kept across pricing rounds.

    What :func:`_candidates` computes depends on the stock and the costs but
    not on the dual prices, so rounds that price the same batch on the same
    stock at new prices (the subgradient rounds) read it from here instead
    of recomputing distances, lead days and costs. Order ``o`` owns
    candidates ``c_ptr[o]:c_ptr[o+1]`` and matrix cells ``m_ptr[o]:m_ptr[o+1]``
    (candidates x groups, row-major). Built by :func:`candidate_table`.

    Attributes
    ----------
    c_ptr, m_ptr : ndarray of int64, shape (n_orders + 1,)
    cand : ndarray of int64
        Node of each candidate.
    miles, lead, fixed : ndarray of float
        Per candidate, as :func:`_candidates` returns them.
    atp, ent : ndarray of int64
        Per cell: usable units and inventory entry (-1: none).
    unit : ndarray of float
        Per cell: cost of one unit.
    """

    c_ptr: np.ndarray
    m_ptr: np.ndarray
    cand: np.ndarray
    miles: np.ndarray
    lead: np.ndarray
    fixed: np.ndarray
    atp: np.ndarray
    ent: np.ndarray
    unit: np.ndarray


def _no_candidates() -> Candidates:
    """An empty :class:`Candidates` of the right types, where a kernel takes a table it will not read."""
    ei, ef, z = np.zeros(0, np.int64), np.zeros(0), np.zeros(1, np.int64)
    return Candidates(z, z, ei, ef, ef, ef, ei, ei, ef)


@njit(cache=True)
def _now():
    # wall clock from compiled code, to honour the caller's time limit
    with objmode(t="float64"):
        t = time.perf_counter()
    return t


@njit(cache=True)
def _candidates(orders, o, stock, costs, mark):
    """Nodes that may serve order ``o``, their usable stock, and the order's costs there.

    A node qualifies when ``stock.mask`` admits it, it holds ATP for some
    group, it has order and unit capacity left, it lies within the order's
    channel's ``maxmiles`` and (when late deliveries are excluded) it meets
    the order's deadline. ATP is capped by the node's unit capacity.

    Parameters
    ----------
    orders : Orders
    o : int
        The order.
    stock : Stock
    costs : Costs
    mark : ndarray of int64, shape (n_nodes,)
        Scratch, all -1 on entry and on return.

    Returns
    -------
    cand, atp, ent, miles, lead, fixed, unit
        ``fixed[c]`` is the cost of a parcel from candidate ``c`` (with any
        lateness penalty), ``unit[c, g]`` the cost of one unit of group ``g``.
    """
    sku_ptr, ent_node, atp_e, mask, cap_o, cap_u = (stock.sku_ptr, stock.ent_node, stock.atp, stock.mask,
                                                    stock.cap_o, stock.cap_u)
    nodef, params, bands, weight = costs.nodef, costs.params, costs.bands, costs.weight
    g_sku = orders.g_sku[orders.g_ptr[o]:orders.g_ptr[o + 1]]
    dest = orders.dest[o]
    hour = orders.hour[o]
    max_days = orders.max_days[o]
    maxm = stock.maxmiles[orders.chan[o]]
    G = g_sku.shape[0]
    cand, miles, lead, touched = candidate_buffers(g_sku, sku_ptr)
    n_touched = 0
    C = 0
    exclude = params[P_LATE_MODE] == LATE_EXCLUDE
    for g in range(G):
        s = g_sku[g]
        for e in range(sku_ptr[s], sku_ptr[s + 1]):
            n = ent_node[e]
            if mark[n] != -1 or not mask[n] or atp_e[e] <= 0:
                continue
            touched[n_touched] = n
            n_touched += 1
            mark[n] = -2
            if cap_o[n] <= 0 or cap_u[n] <= 0:
                continue
            d = arc_miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
            if d > maxm[n]:
                continue
            ld = lead_days(n, d, hour, nodef, bands)
            if max_days >= 0 and exclude and ld > max_days:
                continue
            mark[n] = C
            cand[C] = n
            miles[C] = d
            lead[C] = ld
            C += 1
    atp = np.zeros((C, G), np.int64)
    ent = np.full((C, G), -1, np.int64)
    for g in range(G):
        s = g_sku[g]
        for e in range(sku_ptr[s], sku_ptr[s + 1]):
            c = mark[ent_node[e]]
            if c < 0:
                continue
            a = atp_e[e]
            if a > 0:
                cu = cap_u[ent_node[e]]
                atp[c, g] = a if a < cu else cu
                ent[c, g] = e
    for i in range(n_touched):
        mark[touched[i]] = -1
    fixed = np.empty(C)
    unit = np.empty((C, G))
    for c in range(C):
        n = cand[c]
        fixed[c] = parcel_cost(n, nodef, params)
        fixed[c] += late_cost(lead[c], max_days, params)
        base = unit_cost_at(n, miles[c], nodef, params)
        for g in range(G):
            u = base + weight_cost(weight[g_sku[g]], params)
            e = ent[c, g]
            if e >= 0:
                u += costs.fee_e[e] + costs.pen_e[e]
            unit[c, g] = u
    return cand[:C].copy(), atp, ent, miles[:C].copy(), lead[:C].copy(), fixed, unit


@njit(cache=True)
def _count_range(lo, hi, orders, stock, costs, n_cand):
    """Candidates of orders ``lo:hi`` (:func:`_candidates`), counted into ``n_cand``."""
    mark = np.full(stock.mask.shape[0], -1, np.int64)
    for o in range(lo, hi):
        n_cand[o] = _candidates(orders, o, stock, costs, mark)[0].shape[0]


@njit(cache=True)
def _fill_range(lo, hi, orders, stock, costs, tab):
    """Write the candidates of orders ``lo:hi`` into ``tab`` (laid out by its pointers)."""
    mark = np.full(stock.mask.shape[0], -1, np.int64)
    for o in range(lo, hi):
        cand, atp, ent, miles, lead, fixed, unit = _candidates(orders, o, stock, costs, mark)
        C, G = atp.shape
        a = tab.c_ptr[o]
        m = tab.m_ptr[o]
        for c in range(C):
            tab.cand[a + c] = cand[c]
            tab.miles[a + c] = miles[c]
            tab.lead[a + c] = lead[c]
            tab.fixed[a + c] = fixed[c]
            for g in range(G):
                tab.atp[m + c * G + g] = atp[c, g]
                tab.ent[m + c * G + g] = ent[c, g]
                tab.unit[m + c * G + g] = unit[c, g]


@njit(cache=True, parallel=True)
def _table_parallel(n_chunks, orders, stock, costs, n_cand, tab, fill):
    """:func:`_count_range` (or, with ``fill``, :func:`_fill_range`) over ``n_chunks`` slices, on all cores."""
    n_orders = orders.g_ptr.shape[0] - 1
    for ch in prange(n_chunks):
        lo = ch * n_orders // n_chunks
        hi = (ch + 1) * n_orders // n_chunks
        if fill:
            _fill_range(lo, hi, orders, stock, costs, tab)
        else:
            _count_range(lo, hi, orders, stock, costs, n_cand)


def candidate_table(orders: Orders, stock: Stock, costs: Costs) -> Candidates:
    """Every order's candidates on ``stock``, for pricing the batch repeatedly: a :class:`Candidates`.

    ``orders``, ``stock`` and ``costs`` are the batch's bundles, as :func:`batch_facts` takes them.
    """
    n_orders = orders.g_ptr.shape[0] - 1
    n_groups = np.diff(orders.g_ptr)
    n_cand = np.zeros(n_orders, np.int64)
    c_ptr = np.zeros(n_orders + 1, np.int64)
    m_ptr = np.zeros(n_orders + 1, np.int64)
    _table_parallel(np.int64(64), orders, stock, costs, n_cand, _no_candidates(), False)
    np.cumsum(n_cand, out=c_ptr[1:])
    np.cumsum(n_cand * n_groups, out=m_ptr[1:])
    nc, nm = int(c_ptr[-1]), int(m_ptr[-1])
    tab = Candidates(c_ptr, m_ptr, np.empty(nc, np.int64), np.empty(nc), np.empty(nc), np.empty(nc),
                     np.empty(nm, np.int64), np.empty(nm, np.int64), np.empty(nm))
    _table_parallel(np.int64(64), orders, stock, costs, n_cand, tab, True)
    return tab


@njit(cache=True)
def _cached(tab, o, G):
    """Order ``o``'s candidates from ``tab``, as :func:`_candidates` returns them (views, not copies)."""
    a, b = tab.c_ptr[o], tab.c_ptr[o + 1]
    C = b - a
    m = tab.m_ptr[o]
    return (tab.cand[a:b], rows_view(tab.atp[m:m + C * G], C, G), rows_view(tab.ent[m:m + C * G], C, G),
            tab.miles[a:b], tab.lead[a:b], tab.fixed[a:b], rows_view(tab.unit[m:m + C * G], C, G))


@njit(cache=True)
def _eval_pen(S, m, qty, atp, r, f, penalty, split_penalty, buf, write):
    """Penalised price of the best plan over node set ``S[:m]``.

    Each group takes units from the members in increasing order of ``r`` while
    that is below ``penalty`` (leaving a unit unfilled costs ``penalty``);
    given the set this is optimal because groups share no stock and prices are
    linear in units. Only members that carry units pay ``f`` and the split
    penalty. With ``write`` the units go to ``buf[member, group]``.
    """
    G = qty.shape[0]
    used = np.zeros(S.shape[0], np.bool_)
    order = np.empty(S.shape[0], np.int64)
    cost = 0.0
    for g in range(G):
        members_by_cost(S, m, r, g, order)
        rem = qty[g]
        for i in range(m):
            if rem == 0:
                break
            c = S[order[i]]
            a = atp[c, g]
            if a <= 0 or r[c, g] >= penalty:
                continue
            take = a if a < rem else rem
            rem -= take
            cost += take * r[c, g]
            used[order[i]] = True
            if write:
                buf[order[i], g] = take
        cost += rem * penalty
    nused = 0
    for i in range(m):
        if used[i]:
            nused += 1
            cost += f[S[i]]
    if nused > 1:
        cost += split_penalty * (nused - 1)
    return cost


@njit(cache=True)
def _unit_floor(qty, atp, r, penalty):
    """Per group the least priced unit cost (capped at the unfilled ``penalty``), the
    bound ``sum(qty * cmin)`` it gives, and the price of leaving every unit unfilled."""
    C, G = atp.shape
    cmin = np.empty(G)
    empty = 0.0
    lb_units = 0.0
    for g in range(G):
        empty += qty[g] * penalty
        cmin[g] = penalty
        for c in range(C):
            if atp[c, g] > 0 and r[c, g] < cmin[g]:
                cmin[g] = r[c, g]
        lb_units += qty[g] * cmin[g]
    return cmin, lb_units, empty


@njit(cache=True)
def _excess(atp, r, cmin, penalty):
    """Per candidate, the least a unit it carries costs above its group's floor ``cmin``
    (``inf`` when it carries no unit worth taking): what being a member adds at the least."""
    C, G = atp.shape
    out = np.full(C, np.inf)
    for c in range(C):
        for g in range(G):
            if atp[c, g] > 0 and r[c, g] < penalty:
                x = r[c, g] - cmin[g]
                if x < out[c]:
                    out[c] = x
    return out


@njit(cache=True)
def _member_keys(f, excess, split_penalty):
    """Per candidate, the least its membership adds to a plan's price beyond the units' floor:
    its parcel, its :func:`_excess` and a split penalty (``inf`` when it carries nothing worth taking)."""
    C = f.shape[0]
    key = np.full(C, np.inf)
    for c in range(C):
        if excess[c] < np.inf:
            key[c] = f[c] + excess[c] + split_penalty
    return key


@njit(cache=True)
def _search(qty, atp, r, f, kk, penalty, split_penalty, budget, best):
    """Cheapest set of at most ``min(kk, 3)`` candidates under prices ``r``/``f``.

    Returns ``(best_price, lower_bound)``; ``best`` receives the set (padded
    with -1; all -1 means "serve nothing"). ``lower_bound`` bounds every plan
    of at most ``kk`` members: it equals ``best_price`` unless the evaluation
    budget stopped the search early or ``kk > 3`` (larger sets are bounded,
    not searched).

    Bound: every unit costs at least ``cmin_g = min(penalty, min_c r[c, g])``
    and every member that carries units carries one costing at least
    ``d_c`` more, so a plan using set ``S`` costs at least
    ``lb_units + sum_{c in S} (f_c + d_c + split_penalty) - split_penalty``.
    Members are scanned by that key, so the scan stops once it passes the
    incumbent.
    """
    C = atp.shape[0]
    for i in range(3):
        best[i] = -1
    S = np.empty(3, np.int64)
    dummy = np.zeros((1, 1), np.int64)
    cmin, lb_units, best_cost = _unit_floor(qty, atp, r, penalty)
    key = _member_keys(f, _excess(atp, r, cmin, penalty), split_penalty)
    order = np.argsort(key, kind="mergesort")
    M = 0
    while M < C and key[order[M]] < np.inf:
        M += 1
    evals = 0
    for ii in range(M):
        c = order[ii]
        if lb_units + key[c] - split_penalty >= best_cost - EPS:
            break
        S[0] = c
        cst = _eval_pen(S, 1, qty, atp, r, f, penalty, split_penalty, dummy, False)
        evals += 1
        if cst < best_cost - EPS:
            best_cost = cst
            best[0] = c
            best[1] = -1
            best[2] = -1
    lower = best_cost
    if kk >= 2 and M >= 2:
        k0 = key[order[0]]
        for jj in range(1, M):
            j = order[jj]
            thr = lb_units + k0 + key[j] - split_penalty
            if thr >= best_cost - EPS:
                break
            if evals > budget:
                if thr < lower:
                    lower = thr
                break
            for ii in range(jj):
                i = order[ii]
                if lb_units + key[i] + key[j] - split_penalty >= best_cost - EPS:
                    break
                S[0] = i
                S[1] = j
                cst = _eval_pen(S, 2, qty, atp, r, f, penalty, split_penalty, dummy, False)
                evals += 1
                if cst < best_cost - EPS:
                    best_cost = cst
                    best[0] = i
                    best[1] = j
                    best[2] = -1
    if kk >= 3 and M >= 3:
        k0 = key[order[0]]
        k1 = key[order[1]]
        for jj in range(2, M):
            j = order[jj]
            thr = lb_units + k0 + k1 + key[j] - split_penalty
            if thr >= best_cost - EPS:
                break
            if evals > budget:
                if thr < lower:
                    lower = thr
                break
            for ii in range(1, jj):
                i = order[ii]
                if lb_units + k0 + key[i] + key[j] - split_penalty >= best_cost - EPS:
                    break
                for hh in range(ii):
                    h = order[hh]
                    if lb_units + key[h] + key[i] + key[j] - split_penalty >= best_cost - EPS:
                        break
                    S[0] = h
                    S[1] = i
                    S[2] = j
                    cst = _eval_pen(S, 3, qty, atp, r, f, penalty, split_penalty, dummy, False)
                    evals += 1
                    if cst < best_cost - EPS:
                        best_cost = cst
                        best[0] = h
                        best[1] = i
                        best[2] = j
    if kk > 3 and M > 3:
        # sets of four or more members were not searched: each costs at least the four least keys
        thr = lb_units - split_penalty
        for ii in range(4):
            thr += key[order[ii]]
        if thr < lower:
            lower = thr
    if best_cost < lower:
        lower = best_cost
    return best_cost, lower


@njit(cache=True)
def _write_column(S, m, qty, cands, r, f, penalty, split_penalty, prices, out, o_rows):
    """Write the plan of set ``S[:m]`` (filled as :func:`_eval_pen` fills it) as rows of ``out``
    from ``o_rows``; returns as :func:`_write_rows`."""
    buf = np.zeros((max(m, 1), qty.shape[0]), np.int64)
    if m > 0:
        _eval_pen(S, m, qty, cands[1], r, f, penalty, split_penalty, buf, True)
    return _write_rows(S, m, buf, qty, cands, penalty, split_penalty, prices, out, o_rows)


@njit(cache=True)
def _write_rows(S, m, buf, qty, cands, penalty, split_penalty, prices, out, o_rows):
    """Write ``buf[i, g]`` units of group ``g`` from candidate ``S[i]`` (``i < m``) as rows of ``out``.

    Parameters
    ----------
    S : ndarray of int64
        Candidate indices of the set; ``m`` of them are used.
    buf : ndarray of int64, shape (>= m, G)
        Units per member and group.
    qty : ndarray of int64
        Units per group of the order.
    cands : tuple
        The order's candidates, as :func:`_candidates` returns them.
    penalty, split_penalty : float
        Price of an unfilled unit; cost of each parcel beyond the first.
    prices : Prices
    out : Priced
        Its row arrays receive the plan.
    o_rows : int
        First row to write.

    Returns
    -------
    n, real, unfilled, priced
        Rows written, real cost, unfilled units and price (penalised, with
        dual prices).
    """
    cand, atp, ent, _, _, fixed, unit = cands
    lam, mu, nu = prices.lam, prices.mu, prices.nu
    r_node, r_group, r_qty, r_ent = out.r_node, out.r_group, out.r_qty, out.r_ent
    G = qty.shape[0]
    n = 0
    real = 0.0
    priced = 0.0
    filled = 0
    nused = 0
    for i in range(m):
        c = S[i]
        node = cand[c]
        units = 0
        for g in range(G):
            q = buf[i, g]
            if q > 0:
                r_node[o_rows + n] = node
                r_group[o_rows + n] = g
                r_qty[o_rows + n] = q
                r_ent[o_rows + n] = ent[c, g]
                n += 1
                units += q
                real += q * unit[c, g]
                priced += q * (unit[c, g] + lam[ent[c, g]] + nu[node])
        if units > 0:
            nused += 1
            filled += units
            real += fixed[c]
            priced += fixed[c] + mu[node]
    if nused > 1:
        real += split_penalty * (nused - 1)
        priced += split_penalty * (nused - 1)
    total = 0
    for g in range(G):
        total += qty[g]
    unfilled = total - filled
    priced += penalty * unfilled
    return n, real, unfilled, priced


@njit(cache=True)
def _singles(qty, atp, r, f, penalty, split_penalty):
    """Price of the best plan from each candidate alone (:func:`_eval_pen` over one member).

    The same sums in the same order as :func:`_eval_pen`, without its
    sorting and scratch arrays: this runs for every candidate of every order
    in every pricing round.
    """
    C, G = atp.shape
    out = np.empty(C)
    for c in range(C):
        cost = 0.0
        used = False
        for g in range(G):
            rem = qty[g]
            a = atp[c, g]
            if rem > 0 and a > 0 and r[c, g] < penalty:
                take = a if a < rem else rem
                rem -= take
                cost += take * r[c, g]
                used = True
            cost += rem * penalty
        if used:
            cost += f[c]
        out[c] = cost
    return out


@njit(cache=True)
def _useful(qty, atp, r, f, penalty, single, split_penalty):
    """Candidates that may belong to a plan cheaper than the best single-node or empty one.

    The best single candidate is kept. Any other plan cheaper than it has at
    least two members, and by the bound of :func:`_search` one of two or more
    members costs at least ``lb_units + sum(key[c]) - split_penalty`` with
    ``key[c] = f[c] + excess[c] + split_penalty``; so a candidate ``c`` may
    belong to it only if ``lb_units + key[c] + (least key of another
    candidate) - split_penalty`` is below the best single price. Counting the
    second member as well as ``c`` leaves most candidates out of the
    dynamic programme, whose work grows with them. ``single`` holds each
    candidate's price alone (:func:`_singles`), which the caller reuses for
    the single-node alternatives.
    """
    C = atp.shape[0]
    cmin, lb_units, best = _unit_floor(qty, atp, r, penalty)
    top = -1
    for c in range(C):
        if single[c] < best - EPS:
            best = single[c]
            top = c
    key = _member_keys(f, _excess(atp, r, cmin, penalty), split_penalty)
    # the two least keys, to bound the other member of a plan through c
    k1 = np.inf
    k2 = np.inf
    for c in range(C):
        if key[c] < k1:
            k2 = k1
            k1 = key[c]
        elif key[c] < k2:
            k2 = key[c]
    keep = np.empty(C, np.int64)
    n = 0
    for c in range(C):
        other = k2 if key[c] == k1 else k1
        if c == top or (key[c] < np.inf and lb_units + key[c] + other - split_penalty < best - EPS):
            keep[n] = c
            n += 1
    return keep[:n]


@njit(cache=True)
def _undominated(qty, atp, r, f, kk, penalty, keep):
    """The candidates of ``keep`` that no others of ``keep`` make redundant.

    ``d`` dominates ``c`` when its parcel costs no more and, in every group
    where ``c`` has units worth taking, it has at least as many (up to the
    order's) at no higher unit price; ties go to the lower index, so the
    relation is a strict order. A plan using ``c`` can then swap it for a
    dominator it does not use, at no higher price. If it uses them all, it
    cannot use ``c`` too when there are at least ``kk`` of them, and needs no
    unit from ``c`` when they hold, in each of ``c``'s groups, every unit the
    order wants. A candidate for which either holds belongs to no plan that
    others cannot match, so the dynamic programme may skip it. On thin stock,
    where most candidates hold a unit or two of one group, this leaves a
    few per group.
    """
    K = keep.shape[0]
    G = qty.shape[0]
    # scan likely dominators first (cheap parcel and units), so the scan mostly stops early
    key = np.empty(K)
    for i in range(K):
        c = keep[i]
        key[i] = f[c]
        for g in range(G):
            key[i] += min(r[c, g], penalty)
    scan = np.argsort(key)
    out = np.empty(K, np.int64)
    cover = np.empty(G, np.int64)
    n = 0
    for i in range(K):
        c = keep[i]
        cover[:] = 0
        nd = 0
        redundant = False
        for jj in range(K):
            j = scan[jj]
            d = keep[j]
            if j == i or f[d] > f[c]:
                continue
            ok = True
            strict = f[d] < f[c]
            for g in range(G):
                if atp[c, g] <= 0 or r[c, g] >= penalty:
                    continue
                ac = min(atp[c, g], qty[g])
                ad = min(max(atp[d, g], 0), qty[g])
                if ad < ac or r[d, g] > r[c, g]:
                    ok = False
                    break
                if ad > ac or r[d, g] < r[c, g]:
                    strict = True
            if not ok or (not strict and j > i):
                continue
            nd += 1
            redundant = nd >= kk
            covered = True
            for g in range(G):
                cover[g] += min(max(atp[d, g], 0), qty[g])
                if atp[c, g] > 0 and r[c, g] < penalty and cover[g] < qty[g]:
                    covered = False
            if redundant or covered:
                redundant = True
                break
        if not redundant:
            out[n] = c
            n += 1
    return out[:n]


@njit(cache=True)
def _dp_size(qty, atp, r, kk, penalty):
    """Cells of :func:`_dp_plan`'s choice table for this order (candidates x groups x states)."""
    C, G = atp.shape
    states = 1
    units = 0
    for g in range(G):
        states *= qty[g] + 1
        units += qty[g]
    k = min(kk, units, C)
    if k < min(units, C):
        states *= k + 1
    return C * max(G, 1) * states


@njit(cache=True)
def _dp_plan(qty, atp, r, f, kk, penalty, split_penalty, take):
    """Cheapest plan of at most ``kk`` members under prices ``r``/``f``, by dynamic programming.

    Candidates are taken in turn; a state is the units filled per group
    (mixed radix) and, when ``kk`` can bind, the members used so far. Taking
    a candidate *opens* it (its parcel price ``f`` plus the split penalty,
    one member more) and then adds units group by group, each at most its
    ATP and only where a unit costs less than ``penalty``; a candidate
    opened without units never beats leaving it closed, so the cheaper of
    the two is kept per state. The first member's split penalty is given
    back at the end. Exact over every plan of at most ``kk`` members, in
    ``candidates x states x (1 + units)`` steps.

    Returns the least price; ``take[c, g]`` (zero on entry) receives the units.
    """
    C, G = atp.shape
    stride = np.empty(G, np.int64)
    n_states = 1
    units = 0
    for g in range(G):
        stride[g] = n_states
        n_states *= qty[g] + 1
        units += qty[g]
    k = min(kk, units, C)
    # a member carries at least one unit: the member count binds only below min(units, C)
    track = k < min(units, C)
    J = k + 1 if track else 1
    cur = np.full((J, n_states), np.inf)
    cur[0, 0] = 0.0
    opened = np.zeros((C, J, n_states), np.bool_)
    units_of = np.zeros((C, G, J, n_states), np.int64)
    opn = np.empty_like(cur)
    lim = np.empty(G, np.int64)
    for c in range(C):
        any_units = False
        for g in range(G):
            lim[g] = min(max(atp[c, g], 0), qty[g]) if r[c, g] < penalty else 0
            if lim[g] > 0:
                any_units = True
        if not any_units:
            continue
        # open the candidate: one member more, its parcel price
        opn[:] = np.inf
        for j in range(J):
            jt = j + 1 if track else 0
            if jt >= J:
                continue
            for st in range(n_states):
                v = cur[j, st] + f[c] + split_penalty
                if v < opn[jt, st]:
                    opn[jt, st] = v
        # then its units, one group at a time (states in decreasing order: each group's units are added once)
        for g in range(G):
            if lim[g] == 0:
                continue
            q1 = qty[g] + 1
            for j in range(J):
                for st in range(n_states - 1, -1, -1):
                    have = (st // stride[g]) % q1
                    best = opn[j, st]
                    bx = 0
                    top = lim[g] if lim[g] < have else have
                    for x in range(1, top + 1):
                        v = opn[j, st - x * stride[g]] + x * r[c, g]
                        if v < best:
                            best = v
                            bx = x
                    opn[j, st] = best
                    units_of[c, g, j, st] = bx
        for j in range(J):
            for st in range(n_states):
                if opn[j, st] < cur[j, st]:
                    cur[j, st] = opn[j, st]
                    opened[c, j, st] = True
    best = np.inf
    bj = 0
    bs = 0
    for j in range(J):
        for st in range(n_states):
            if cur[j, st] == np.inf:
                continue
            rest = st
            filled = 0
            for g in range(G):
                filled += rest % (qty[g] + 1)
                rest //= qty[g] + 1
            v = cur[j, st] + penalty * (units - filled) - (split_penalty if filled > 0 else 0.0)
            if v < best:
                best = v
                bj = j
                bs = st
    # walk the choices back from the best final state
    j, st = bj, bs
    for c in range(C - 1, -1, -1):
        if not opened[c, j, st]:
            continue
        for g in range(G - 1, -1, -1):
            x = units_of[c, g, j, st]
            take[c, g] = x
            st -= x * stride[g]
        if track:
            j -= 1
    return best


@njit(cache=True)
def _group_vectors(U, m, q, atp, r, g, penalty):
    """Every split of ``q`` units of group ``g`` over members ``U[:m]`` (rest unfilled).

    Returns ``(vec, price)``: ``vec[v, i]`` units from member ``i``; price at
    ``r`` per unit and ``penalty`` per unfilled unit.
    """
    lim = np.zeros(3, np.int64)
    n = 1
    for i in range(m):
        a = atp[U[i], g]
        lim[i] = a if a < q else q
        n *= lim[i] + 1
    vec = np.zeros((n, 3), np.int64)
    price = np.empty(n)
    cnt = 0
    x = np.zeros(3, np.int64)
    for x0 in range(lim[0] + 1 if m > 0 else 1):
        for x1 in range(lim[1] + 1 if m > 1 else 1):
            for x2 in range(lim[2] + 1 if m > 2 else 1):
                if x0 + x1 + x2 > q:
                    continue
                x[0] = x0
                x[1] = x1
                x[2] = x2
                p = (q - x0 - x1 - x2) * penalty
                for i in range(m):
                    p += x[i] * r[U[i], g]
                vec[cnt, 0] = x0
                vec[cnt, 1] = x1
                vec[cnt, 2] = x2
                price[cnt] = p
                cnt += 1
    return vec[:cnt], price[:cnt]


@njit(cache=True)
def _priced(cands, prices):
    """Costs of an order's candidates under dual prices.

    Parameters
    ----------
    cands : tuple
        As :func:`_candidates` returns them.
    prices : Prices

    Returns
    -------
    f : ndarray, shape (C,)
        Per parcel from each candidate.
    r : ndarray, shape (C, G)
        Per unit of each group from each candidate.
    """
    cand, _, ent, _, _, fixed, unit = cands
    lam, mu, nu = prices.lam, prices.mu, prices.nu
    C, G = unit.shape
    r = np.empty((C, G))
    f = np.empty(C)
    for c in range(C):
        n = cand[c]
        f[c] = fixed[c] + mu[n]
        for g in range(G):
            e = ent[c, g]
            r[c, g] = unit[c, g] + nu[n] + (lam[e] if e >= 0 else 0.0)
    return f, r


@njit(cache=True)
def _best_plan(gq, cands, f, r, kk, penalty, split_penalty, budget, S, best, single):
    """Cheapest plan of one order over its priced candidates: the dynamic programme, or the
    search when the programme's table would be too large.

    Returns ``(lower, m, buf)``: a lower bound on every plan's price (the
    plan's own price unless the search ran out of budget), the members
    ``S[:m]`` and ``buf[i, g]``, the units of group ``g`` from member ``S[i]``.
    ``single`` is each candidate's price alone (:func:`_singles`).
    """
    atp = cands[1]
    G = gq.shape[0]
    keep = _useful(gq, atp, r, f, penalty, single, split_penalty)
    k_atp, k_r = atp[keep], r[keep]
    size = _dp_size(gq, k_atp, k_r, kk, penalty)
    if size > DOMINANCE_FROM:
        # thin stock: many nodes hold a unit or two of one group, and most are redundant
        keep = _undominated(gq, atp, r, f, kk, penalty, keep)
        k_atp, k_r = atp[keep], r[keep]
        size = _dp_size(gq, k_atp, k_r, kk, penalty)
    k_f = f[keep]
    if size <= DP_MAX_WORK:
        take = np.zeros((keep.shape[0], G), np.int64)
        lower = _dp_plan(gq, k_atp, k_r, k_f, kk, penalty, split_penalty, take)
        m = 0
        for i in range(keep.shape[0]):
            for g in range(G):
                if take[i, g] > 0:
                    S[m] = keep[i]
                    m += 1
                    break
        buf = np.zeros((max(m, 1), G), np.int64)
        j = 0
        for i in range(keep.shape[0]):
            if j < m and keep[i] == S[j]:
                buf[j] = take[i]
                j += 1
        return lower, m, buf
    # too many unit vectors for the programme: branch and bound over small sets
    lower = _search(gq, atp, r, f, kk, penalty, split_penalty, budget, best)[1]
    m = 0
    while m < 3 and best[m] >= 0:
        S[m] = best[m]
        m += 1
    buf = np.zeros((max(m, 1), G), np.int64)
    if m > 0:
        _eval_pen(S[:m], m, gq, atp, r, f, penalty, split_penalty, buf, True)
    return lower, m, buf


@njit(cache=True)
def _price_range(lo, hi, orders, stock, costs, prices, budget, n_single, active, out, tab, use_tab):
    """Price orders ``lo:hi`` into ``out``; parameters as for :func:`price_orders` (``use_tab``:
    read the candidates from ``tab`` rather than computing them)."""
    split_penalty = costs.params[P_SPLIT]
    per = 1 + n_single
    mark = np.full(stock.mask.shape[0], -1, np.int64)
    best = np.empty(3, np.int64)
    S = np.empty(KMAX, np.int64)
    for o in range(lo, hi):
        if not active[o]:
            continue
        penalty = prices.unfilled[o]
        a = orders.g_ptr[o]
        G = orders.g_ptr[o + 1] - a
        gq = orders.g_qty[a:a + G]
        if use_tab:
            cands = _cached(tab, o, G)
        else:
            cands = _candidates(orders, o, stock, costs, mark)
        atp = cands[1]
        C = atp.shape[0]
        f, r = _priced(cands, prices)
        # each candidate's price alone: the search prunes by it and the alternatives are its least
        sc = _singles(gq, atp, r, f, penalty, split_penalty)
        lower, m, buf = _best_plan(gq, cands, f, r, orders.kk[o], penalty, split_penalty, budget, S, best, sc)
        out.o_lower[o] = lower
        base = (KMAX + n_single) * a
        col = o * per
        nr, real, unf, pr = _write_rows(S, m, buf, gq, cands, penalty, split_penalty, prices, out, base)
        out.c_nrows[col] = nr
        out.c_real[col] = real
        out.c_unfilled[col] = unf
        out.c_price[col] = pr
        if n_single > 0 and C > 0:
            # the cheapest single-node plans: alternatives the master can switch to
            # when stock or capacity binds
            if n_single == 1:
                top = np.empty(1, np.int64)
                top[0] = np.argmin(sc)  # the first least, as the stable sort below would give
            else:
                top = np.argsort(sc, kind="mergesort")
            for j in range(min(n_single, C)):
                S[0] = top[j]
                nr, real, unf, pr = _write_column(S[:1], 1, gq, cands, r, f, penalty, split_penalty, prices, out,
                                                  base + KMAX * G + j * G)
                out.c_nrows[col + 1 + j] = nr
                out.c_real[col + 1 + j] = real
                out.c_unfilled[col + 1 + j] = unf
                out.c_price[col + 1 + j] = pr


@njit(cache=True)
def _one_opt(seq, orders, stock, costs, prices, budget, plans, cur_price, out):
    """Re-plan orders one at a time, in the order ``seq``, on the stock the others leave.

    ``stock``'s ATP and capacities are what *no* order's plan uses yet; they
    are updated in place. Each order gives its current plan's use back,
    takes its cheapest plan on what is left and keeps it when it prices
    below ``cur_price[o]`` (and its units fit each node's unit capacity;
    the plan kernels cap units per group only), else takes its current plan
    again. Changed plans are written to ``out`` as by :func:`price_orders`;
    ``out.c_nrows[o]`` stays -1 for the others.
    """
    split_penalty = costs.params[P_SPLIT]
    mark = np.full(stock.mask.shape[0], -1, np.int64)
    best = np.empty(3, np.int64)
    S = np.empty(KMAX, np.int64)
    atp_e, cap_o, cap_u = stock.atp, stock.cap_o, stock.cap_u
    n_nodes = cap_o.shape[0]
    units_at = np.zeros(n_nodes, np.int64)
    changed = 0
    for o in seq:
        lo, hi = plans.ptr[o], plans.ptr[o + 1]
        # give the current plan's stock and capacity back
        for k in range(lo, hi):
            atp_e[plans.ent[k]] += plans.qty[k]
            cap_u[plans.node[k]] += plans.qty[k]
            if mark[plans.node[k]] == -1:
                mark[plans.node[k]] = -3
                cap_o[plans.node[k]] += 1
        for k in range(lo, hi):
            mark[plans.node[k]] = -1
        penalty = prices.unfilled[o]
        a = orders.g_ptr[o]
        G = orders.g_ptr[o + 1] - a
        gq = orders.g_qty[a:a + G]
        cands = _candidates(orders, o, stock, costs, mark)
        f, r = _priced(cands, prices)
        sc = _singles(gq, cands[1], r, f, penalty, split_penalty)
        lower, m, buf = _best_plan(gq, cands, f, r, orders.kk[o], penalty, split_penalty, budget, S, best, sc)
        take_new = False
        if lower < cur_price[o] - 1e-9 * (1.0 + abs(cur_price[o])):
            fits = True
            for i in range(m):
                u = 0
                for g in range(G):
                    u += buf[i, g]
                if u > cap_u[cands[0][S[i]]]:
                    fits = False
            take_new = fits
        if take_new:
            base = KMAX * a
            nr, real, unf, pr = _write_rows(S, m, buf, gq, cands, penalty, split_penalty, prices, out, base)
            out.c_nrows[o] = nr
            out.c_real[o] = real
            out.c_unfilled[o] = unf
            out.c_price[o] = pr
            changed += 1
            for k in range(base, base + nr):
                atp_e[out.r_ent[k]] -= out.r_qty[k]
                units_at[out.r_node[k]] += out.r_qty[k]
            for k in range(base, base + nr):
                n = out.r_node[k]
                if units_at[n] > 0:
                    cap_u[n] -= units_at[n]
                    cap_o[n] -= 1
                    units_at[n] = 0
        else:
            for k in range(lo, hi):
                atp_e[plans.ent[k]] -= plans.qty[k]
                units_at[plans.node[k]] += plans.qty[k]
            for k in range(lo, hi):
                n = plans.node[k]
                if units_at[n] > 0:
                    cap_u[n] -= units_at[n]
                    cap_o[n] -= 1
                    units_at[n] = 0
    return changed


def one_opt(orders: Orders, stock: Stock, costs: Costs, prices: Prices, budget: int, seq: np.ndarray,
            plans: PlanRows, cur_price: np.ndarray) -> tuple[int, Priced]:
    """Re-plan every order of ``seq`` in turn on the stock the others leave (see :func:`_one_opt`).

    Parameters
    ----------
    orders, costs, prices, budget
        As for :func:`price_orders`.
    stock : Stock
        Its ``atp``, ``cap_o`` and ``cap_u`` must be what the current plans
        leave; they are updated in place to what the new plans leave.
    seq : ndarray of int64
        Orders, in the order they are re-planned.
    plans : PlanRows
        The current plan of every order (``ptr`` over orders; ``sku`` unused).
    cur_price : ndarray
        Each current plan's price (penalised, at ``prices``).

    Returns
    -------
    changed, out
        How many orders changed plan, and their new plans (``c_nrows[o] =
        -1`` for the others), laid out as :func:`price_orders` lays out
        ``n_single = 0``.
    """
    n_orders = orders.g_ptr.shape[0] - 1
    n_rows = KMAX * int(orders.g_ptr[n_orders])
    out = Priced(np.full(n_orders, -1, np.int64), np.zeros(n_orders, np.int64), np.zeros(n_orders),
                 np.zeros(n_orders), np.zeros(n_orders), np.empty(n_rows, np.int64), np.empty(n_rows, np.int64),
                 np.empty(n_rows, np.int64), np.empty(n_rows, np.int64))
    changed = _one_opt(np.asarray(seq, np.int64), orders, stock, costs, prices, np.int64(budget), plans,
                       np.asarray(cur_price, np.float64), out)
    return int(changed), out


@njit(cache=True, parallel=True)
def _price_parallel(n_chunks, orders, stock, costs, prices, budget, n_single, active, out, tab, use_tab):
    """:func:`_price_range` over ``n_chunks`` slices of the batch, on all cores."""
    n_orders = orders.g_ptr.shape[0] - 1
    for ch in prange(n_chunks):
        lo = ch * n_orders // n_chunks
        hi = (ch + 1) * n_orders // n_chunks
        _price_range(lo, hi, orders, stock, costs, prices, budget, n_single, active, out, tab, use_tab)


@njit(cache=True)
def _price_serial(orders, stock, costs, prices, budget, n_single, active, out, tab, use_tab):
    """:func:`_price_range` over the whole batch on one core."""
    _price_range(0, orders.g_ptr.shape[0] - 1, orders, stock, costs, prices, budget, n_single, active, out, tab,
                 use_tab)


def price_orders(orders: Orders, stock: Stock, costs: Costs, prices: Prices, budget: int, n_single: int,
                 active: np.ndarray, parallel: bool | None = None, table: Candidates | None = None) -> Priced:
    """Best plan (and optionally the ``n_single`` best single-node plans) of every active order.

    Column ``o * (1 + n_single) + j`` is order ``o``'s ``j``-th column (``j = 0`` the
    best plan); its rows start at ``(KMAX + n_single) * g_ptr[o] + (0 if j == 0 else
    KMAX * G + (j - 1) * G)``.

    Parameters
    ----------
    orders : Orders
    stock : Stock
    costs : Costs
    prices : Prices
        Dual prices, and each order's price per unfilled unit.
    budget : int
        Node sets each order's search may evaluate before it falls back to
        its bound.
    n_single : int
        Single-node alternatives to write per order.
    active : ndarray of bool, shape (n_orders,)
        Orders to price; the others get no column.
    parallel : bool, optional
        Price on all cores; default when the batch has at least
        :data:`PARALLEL_FROM` orders.
    table : Candidates, optional
        The orders' candidates on ``stock`` (:func:`candidate_table`);
        computed per order when not given.

    Returns
    -------
    Priced
    """
    n_orders = orders.g_ptr.shape[0] - 1
    per = 1 + n_single
    n_rows = (KMAX + n_single) * int(orders.g_ptr[n_orders])
    out = Priced(np.full(n_orders * per, -1, np.int64), np.zeros(n_orders * per, np.int64),
                 np.zeros(n_orders * per), np.zeros(n_orders * per), np.zeros(n_orders),
                 np.empty(n_rows, np.int64), np.empty(n_rows, np.int64), np.empty(n_rows, np.int64),
                 np.empty(n_rows, np.int64))
    use_tab = table is not None
    if table is None:
        table = _no_candidates()  # the kernels compute each order's candidates instead
    search = (np.int64(budget), np.int64(n_single), active, out, table, use_tab)
    if n_orders >= PARALLEL_FROM if parallel is None else parallel:
        _price_parallel(np.int64(64), orders, stock, costs, prices, *search)
    else:
        _price_serial(orders, stock, costs, prices, *search)
    return out


@njit(cache=True)
def batch_facts(orders, stock, costs):
    """Per order: the largest cost of shipping one unit alone from a node that may
    serve it, and the units no plan can fill (more than all eligible stock).

    Parameters
    ----------
    orders : Orders
    stock : Stock
    costs : Costs

    Returns
    -------
    top : ndarray, shape (n_orders,)
    short : ndarray of int64, shape (n_orders,)
    """
    n_orders = orders.g_ptr.shape[0] - 1
    top = np.zeros(n_orders)
    short = np.zeros(n_orders, np.int64)
    mark = np.full(stock.mask.shape[0], -1, np.int64)
    for o in range(n_orders):
        gq = orders.g_qty[orders.g_ptr[o]:orders.g_ptr[o + 1]]
        cand, atp, ent, miles, lead, fixed, unit = _candidates(orders, o, stock, costs, mark)
        m = 0.0
        for g in range(gq.shape[0]):
            have = 0
            for c in range(cand.shape[0]):
                if atp[c, g] > 0:
                    have += atp[c, g]
                    if fixed[c] + unit[c, g] > m:
                        m = fixed[c] + unit[c, g]
            if have < gq[g]:
                short[o] += gq[g] - have
        top[o] = m
    return top, short


@njit(cache=True)
def breakdown(plans, dest, hour, max_days, costs):
    """Cost components, parcels, distance and promised days of plans.

    Components follow the router: shipping, handling, vendor fees, split
    penalty, penalties (lateness and depletion).

    Parameters
    ----------
    plans : PlanRows
    dest : ndarray, shape (n_plans, 3)
    hour, max_days : ndarray, shape (n_plans,)
        Plan ``j`` ships to ``dest[j]`` for an order placed at ``hour[j]``
        with deadline ``max_days[j]``.
    costs : Costs

    Returns
    -------
    parts : ndarray, shape (n, 5)
    ships : ndarray of int64
    km : ndarray
        Sum over parcels of node-to-customer distance.
    days : ndarray
        Slowest parcel's lead days; -1 when nothing ships.
    node_km, node_days : ndarray
        Per row, its parcel's distance and lead days.
    """
    col_ptr, row_node, row_qty, row_sku, row_ent = plans
    nodef, params, bands, weight, fee_e, pen_e = costs
    n = col_ptr.shape[0] - 1
    parts = np.zeros((n, 5))
    ships = np.zeros(n, np.int64)
    km = np.zeros(n)
    days = np.full(n, -1.0)
    node_km = np.zeros(row_node.shape[0])
    node_days = np.zeros(row_node.shape[0])
    for j in range(n):
        lo = col_ptr[j]
        hi = col_ptr[j + 1]
        d = dest[j]
        md = max_days[j]
        for i in range(lo, hi):
            node = row_node[i]
            first = True
            for i2 in range(lo, i):
                if row_node[i2] == node:
                    first = False
                    break
            miles = arc_miles(d[0], d[1], d[2], nodef[node, NF_X], nodef[node, NF_Y], nodef[node, NF_Z])
            ld = lead_days(node, miles, hour[j], nodef, bands)
            node_km[i] = miles * MILE_KM
            node_days[i] = ld
            q = row_qty[i]
            e = row_ent[i]
            parts[j, 0] += q * unit_shipping(miles, weight[row_sku[i]], params)
            parts[j, 1] += q * nodef[node, NF_HUNIT]
            parts[j, 2] += q * fee_e[e]
            parts[j, 4] += q * pen_e[e]
            if first:
                ships[j] += 1
                parts[j, 0] += params[P_PER_SHIPMENT]
                parts[j, 1] += nodef[node, NF_HSHIP]
                km[j] += miles * MILE_KM
                parts[j, 4] += late_cost(ld, md, params)
                if ld > days[j]:
                    days[j] = ld
        if ships[j] > 1:
            parts[j, 3] = params[P_SPLIT] * (ships[j] - 1)
    return parts, ships, km, days, node_km, node_days


@njit(cache=True)
def enumerate_plans(orders, stock, costs, prices, limit, max_rows, deadline):
    """Every plan of every order whose price is at most ``limit[o]``.

    A plan is identified by its exact set of shipping nodes (each carries at
    least one unit) and its units per (node, group); units may stay unfilled.
    Stops early (``complete = False``) once more than ``max_rows`` rows would
    be written, the work passes ``4 * max_rows`` steps, or the clock
    (``time.perf_counter``) passes ``deadline``.

    Parameters
    ----------
    orders : Orders
    stock : Stock
    costs : Costs
    prices : Prices
    limit : ndarray, shape (n_orders,)
        Highest price of a plan to list, per order.
    max_rows : int
    deadline : float
        ``time.perf_counter()`` value to stop at.

    Returns
    -------
    complete : bool
    c_order, c_ptr : ndarray of int64
        Plan owners and row offsets.
    r_group, r_node, r_qty, r_ent : ndarray of int64
    """
    g_ptr, g_qty, kk = orders.g_ptr, orders.g_qty, orders.kk
    n_orders = g_ptr.shape[0] - 1
    cap = 1024
    c_order = np.empty(cap, np.int64)
    c_ptr = np.zeros(cap + 1, np.int64)
    rcap = 4096
    r_group = np.empty(rcap, np.int64)
    r_node = np.empty(rcap, np.int64)
    r_qty = np.empty(rcap, np.int64)
    r_ent = np.empty(rcap, np.int64)
    n_c = 0
    n_r = 0
    split_penalty = costs.params[P_SPLIT]
    mark = np.full(stock.mask.shape[0], -1, np.int64)
    U = np.empty(3, np.int64)
    work = 0
    for o in range(n_orders):
        a = g_ptr[o]
        b = g_ptr[o + 1]
        G = b - a
        gq = g_qty[a:b]
        T = limit[o]
        penalty = prices.unfilled[o]
        if _now() > deadline:
            return (False, c_order[:n_c], c_ptr[:n_c + 1], r_group[:n_r], r_node[:n_r], r_qty[:n_r],
                    r_ent[:n_r])
        cands = _candidates(orders, o, stock, costs, mark)
        cand, atp, ent = cands[0], cands[1], cands[2]
        C = cand.shape[0]
        f, r = _priced(cands, prices)
        cmin, lb_units, empty_price = _unit_floor(gq, atp, r, penalty)
        key = np.full(C, np.inf)
        for c in range(C):
            for g in range(G):
                if atp[c, g] > 0:
                    x = f[c] + r[c, g] - cmin[g] + split_penalty
                    if x < key[c]:
                        key[c] = x
        srt = np.argsort(key, kind="mergesort")
        M = 0
        while M < C and key[srt[M]] < np.inf:
            M += 1
        if empty_price <= T:
            if n_c == c_order.shape[0]:
                cap *= 2
                c_order = _grow(c_order, cap)
                c_ptr = _grow(c_ptr, cap + 1)
            c_order[n_c] = o
            n_c += 1
            c_ptr[n_c] = n_r
        # used sets of size 1..kk in order of the bound; members index into srt
        kmax = kk[o] if kk[o] < 3 else 3
        for size in range(1, kmax + 1):
            if size > M:
                break
            idx = np.arange(size)
            while True:
                # bound of this set
                sk = 0.0
                for i in range(size):
                    sk += key[srt[idx[i]]]
                work += 1
                if work > 4 * max_rows or (work & 255 == 0 and _now() > deadline):
                    return (False, c_order[:n_c], c_ptr[:n_c + 1], r_group[:n_r], r_node[:n_r],
                            r_qty[:n_r], r_ent[:n_r])
                within = lb_units + sk - split_penalty <= T + 1e-9
                if within:
                    for i in range(size):
                        U[i] = srt[idx[i]]
                    fx = 0.0
                    for i in range(size):
                        fx += f[U[i]]
                    fx += split_penalty * (size - 1)
                    # per group: all splits and their excess over the group's cheapest split
                    n_vec = np.zeros(G, np.int64)
                    offs = np.zeros(G + 1, np.int64)
                    tot = 0
                    for g in range(G):
                        lim_n = 1
                        for i in range(size):
                            aa = atp[U[i], g]
                            lim_n *= (aa if aa < gq[g] else gq[g]) + 1
                        tot += lim_n
                    all_vec = np.zeros((tot, 3), np.int64)
                    all_ex = np.empty(tot)
                    gmin_sum = 0.0
                    for g in range(G):
                        vec, pr = _group_vectors(U, size, gq[g], atp, r, g, penalty)
                        order_v = np.argsort(pr, kind="mergesort")
                        lo = offs[g]
                        for v in range(vec.shape[0]):
                            all_vec[lo + v] = vec[order_v[v]]
                            all_ex[lo + v] = pr[order_v[v]] - pr[order_v[0]]
                        gmin_sum += pr[order_v[0]]
                        n_vec[g] = vec.shape[0]
                        offs[g + 1] = lo + vec.shape[0]
                    slack = T - fx - gmin_sum
                    if slack >= -1e-9:
                        # odometer over groups, pruned by accumulated excess
                        pos = np.zeros(G, np.int64)
                        cum = np.zeros(G + 1)
                        carried = np.zeros(3, np.int64)
                        lvl = 0
                        while lvl >= 0:
                            if pos[lvl] >= n_vec[lvl] or cum[lvl] + all_ex[offs[lvl] + pos[lvl]] > slack + 1e-9:
                                lvl -= 1
                                if lvl >= 0:
                                    pos[lvl] += 1
                                continue
                            if lvl < G - 1:
                                cum[lvl + 1] = cum[lvl] + all_ex[offs[lvl] + pos[lvl]]
                                lvl += 1
                                pos[lvl] = 0
                                continue
                            # a full plan: every member must carry units (else it is a smaller set)
                            for i in range(size):
                                carried[i] = 0
                            for g in range(G):
                                for i in range(size):
                                    carried[i] += all_vec[offs[g] + pos[g], i]
                            ok = True
                            for i in range(size):
                                if carried[i] == 0:
                                    ok = False
                            if ok:
                                if n_r + size * G > max_rows:
                                    return (False, c_order[:n_c], c_ptr[:n_c + 1], r_group[:n_r], r_node[:n_r],
                                            r_qty[:n_r], r_ent[:n_r])
                                while n_r + size * G > r_group.shape[0]:
                                    rcap *= 2
                                    r_group = _grow(r_group, rcap)
                                    r_node = _grow(r_node, rcap)
                                    r_qty = _grow(r_qty, rcap)
                                    r_ent = _grow(r_ent, rcap)
                                for i in range(size):
                                    for g in range(G):
                                        qv = all_vec[offs[g] + pos[g], i]
                                        if qv > 0:
                                            r_group[n_r] = g
                                            r_node[n_r] = cand[U[i]]
                                            r_qty[n_r] = qv
                                            r_ent[n_r] = ent[U[i], g]
                                            n_r += 1
                                if n_c == c_order.shape[0]:
                                    cap *= 2
                                    c_order = _grow(c_order, cap)
                                    c_ptr = _grow(c_ptr, cap + 1)
                                c_order[n_c] = o
                                n_c += 1
                                c_ptr[n_c] = n_r
                            pos[lvl] += 1
                            work += 1
                            if work > 4 * max_rows or (work & 255 == 0 and _now() > deadline):
                                return (False, c_order[:n_c], c_ptr[:n_c + 1], r_group[:n_r], r_node[:n_r],
                                        r_qty[:n_r], r_ent[:n_r])
                # next combination of ``size`` positions out of M (lexicographic); keys
                # ascend, so once a set's bound fails, larger last members fail too
                i = size - 1 if within else size - 2
                while i >= 0 and idx[i] == M - size + i:
                    i -= 1
                if i < 0:
                    break
                idx[i] += 1
                for j in range(i + 1, size):
                    idx[j] = idx[j - 1] + 1
    return True, c_order[:n_c], c_ptr[:n_c + 1], r_group[:n_r], r_node[:n_r], r_qty[:n_r], r_ent[:n_r]


@njit(cache=True)
def _grow(a, size):
    out = np.empty(size, a.dtype)
    out[: a.shape[0]] = a
    return out
