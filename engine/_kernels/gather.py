"""Gathering: each order's candidate nodes and their ATP, from the inventory's CSR entries.

The conventions of these kernels are in the package docstring (:mod:`sourcewise.engine._kernels`).
The inventory CSR (``sku_ptr``, ``ent_node``), the books (``on_hand``,
``safety``, ``reserved``) and the other "shared arguments" below are
described once, in :mod:`~sourcewise.engine._kernels.layout`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sourcewise.engine._kernels.cost import late_cost
from sourcewise.engine._kernels.cost import lead_days
from sourcewise.engine._kernels.cost import parcel_cost
from sourcewise.engine._kernels.cost import unit_cost_at
from sourcewise.engine._kernels.cost import weight_cost
from sourcewise.engine._kernels.geometry import arc_miles
from sourcewise.engine._kernels.geometry import unit_vector
from sourcewise.engine._kernels.layout import DUAL
from sourcewise.engine._kernels.layout import EARTH_RADIUS_MI
from sourcewise.engine._kernels.layout import LATE_EXCLUDE
from sourcewise.engine._kernels.layout import NF_CUTOFF
from sourcewise.engine._kernels.layout import NF_X
from sourcewise.engine._kernels.layout import NF_Y
from sourcewise.engine._kernels.layout import NF_Z
from sourcewise.engine._kernels.layout import P_DEPLETION
from sourcewise.engine._kernels.layout import P_HOUR
from sourcewise.engine._kernels.layout import P_LATE_MODE
from sourcewise.engine._kernels.layout import P_MAX_DAYS
from sourcewise.engine._kernels.layout import P_MAX_MILES
from sourcewise.engine._kernels.layout import P_REQUIRE_CUTOFF
from sourcewise.engine._kernels.layout import books_of
from sourcewise.engine._kernels.layout import float_matrix


@njit(cache=True, inline="always")
def sku_views(s, sku_ptr, ent_node, on_hand, safety, reserved):
    """Zero-based views of SKU ``s``'s entries: nodes, on hand, safety, reserved.

    Loops indexed from zero over these let numba drop its negative-index
    checks and vectorise where it can (about 6x faster for a plain copy
    than indexing the full arrays by entry).

    Parameters
    ----------
    s : int
        The SKU.
    sku_ptr, ent_node, on_hand, safety, reserved
        The inventory and its books (shared arguments).

    Returns
    -------
    nodes, on_hand, safety, reserved : ndarray of int64
        Views of the SKU's slice of each array: element ``i`` is the entry
        at position ``sku_ptr[s] + i``.
    """
    lo = sku_ptr[s]
    hi = sku_ptr[s + 1]
    return ent_node[lo:hi], on_hand[lo:hi], safety[lo:hi], reserved[lo:hi]


@njit(cache=True)
def gather(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, mask, cap_orders, cap_units, mark,
            dest, nodef, params, bands):
    """Eligible candidate nodes holding ATP for any group.

    A node is eligible when the tier's ``mask`` admits it, it has order and
    unit capacity left today, it lies within ``max_miles``, it is before its
    cutoff when the method requires that, and (when lateness excludes) it
    can meet the order's delivery deadline. ATP is capped by the node's
    remaining unit capacity.

    ``mark`` is a per-node scratch array that must be all -1 on entry; it is
    restored before returning so the next call can reuse it.

    Parameters
    ----------
    g_sku : ndarray of int64, shape (G,)
        The order's SKU per group (shared arguments).
    sku_ptr, ent_node, on_hand, safety, reserved
        The inventory and its books (shared arguments), read only.
    mask, cap_orders, cap_units, mark
        Per node (shared arguments): the tier's nodes, the parcels and units
        each can still take today, and the scan's scratch.
    dest, nodef, params, bands
        Shared arguments: the customer, the node matrix, the parameter
        vector (``P_MAX_MILES``, ``P_MAX_DAYS``, ``P_LATE_MODE``,
        ``P_REQUIRE_CUTOFF`` and ``P_HOUR`` filter) and the transit bands.

    Returns
    -------
    cand, atp, ent, miles, lead
        The candidate arrays (shared arguments), in order of discovery.
        ``miles`` and ``lead`` are NaN where no filter needed them; see
        :func:`fill_distances`.
    """
    empty = np.empty(0)
    cand, atp, ent, miles, lead, _, _, _, _ = gather_core(
        g_sku, sku_ptr, ent_node, (on_hand, safety, reserved, cap_orders, cap_units, mark), mask, dest, nodef,
        params, bands, (empty, empty, empty, empty, np.zeros((0, 2))), np.zeros(0, np.bool_), 0, False)
    return cand, atp, ent, miles, lead


@njit(cache=True)
def gather_priced(g_sku, sku_ptr, ent_node, mask, free, dest, books, prices, params, strategy):
    """:func:`gather`, :func:`fill_distances` and :func:`unit_costs` (plus ``entry_risk``) in one pass.

    For a search that will price every candidate anyway. The per-entry
    costs are read while the scan walks each SKU's entries in storage
    order, instead of afterwards by (candidate, group), where every read
    is a cache miss on a large inventory.

    Parameters
    ----------
    g_sku, sku_ptr, ent_node, mask, dest
        As for :func:`gather`.
    free, strategy
        Nodes already shipping for the order, and the strategy code (shared arguments).
    books, prices : tuple of ndarray
        The router's books, and its node matrix, prices and transit bands, as
        :func:`~sourcewise.engine._kernels.layout.books_of` and
        :func:`~sourcewise.engine._kernels.layout.prices_of` unpack its packed state.
    params
        As for :func:`gather`; it also prices (charges, ``P_DEPLETION``).

    Returns
    -------
    cand, atp, ent, miles, lead, fixed, unit
        The candidate arrays (shared arguments), ``unit`` with ``entry_risk``.
        Every ``miles`` is exact; ``lead`` is NaN where no deadline needs it.
    total : ndarray of int64, shape (G,)
        ATP summed over the candidates, per group.
    cheapest : ndarray, shape (G,)
        Least ``unit`` over the cells with ATP, per group (inf if none).
        The plan search would otherwise make a pass over every cell for these.
    """
    nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, _, bands = prices
    return gather_core(g_sku, sku_ptr, ent_node, books, mask, dest, nodef, params, bands,
                       (entry_fee, entry_dual, entry_risk, entry_demand, skuf), free, strategy, True)


@njit(cache=True, inline="always")
def candidate_buffers(g_sku, sku_ptr):
    """Scratch for a candidate scan: node, miles, lead days and a touched-node list, each as long as
    the order's SKUs have entries (no order can have more candidates).

    Parameters
    ----------
    g_sku, sku_ptr
        The order's SKUs and the inventory CSR (shared arguments).

    Returns
    -------
    cand, miles, lead, touched : ndarray
        Uninitialised; ``cand`` and ``touched`` int64, ``miles`` and
        ``lead`` float64.
    """
    ub = 0
    for g in range(g_sku.shape[0]):
        s = g_sku[g]
        ub += sku_ptr[s + 1] - sku_ptr[s]
    return np.empty(ub, np.int64), np.empty(ub), np.empty(ub), np.empty(ub, np.int64)


@njit(cache=True)
def gather_core(g_sku, sku_ptr, ent_node, books, mask, dest, nodef, params, bands, prices, free, strategy, price):
    """The scan behind :func:`gather` and, with ``price``, :func:`gather_priced`.

    Parameters
    ----------
    g_sku, sku_ptr, ent_node, mask, dest, nodef, params, bands
        As for :func:`gather`.
    books : tuple of ndarray
        ``(on_hand, safety, reserved, cap_orders, cap_units, mark)``, as
        :func:`~sourcewise.engine._kernels.layout.books_of` unpacks them.
    prices : tuple of ndarray
        ``(entry_fee, entry_dual, entry_risk, entry_demand, skuf)``; read only
        with ``price``, and may be empty without it.
    free, strategy
        As for :func:`gather_priced`; read only with ``price``.
    price : bool
        Whether to price the candidates as :func:`gather_priced` does.

    Returns
    -------
    cand, atp, ent, miles, lead, fixed, unit, total, cheapest
        As :func:`gather_priced` returns them. Without ``price``, ``miles``
        and ``lead`` are as :func:`gather` leaves them, ``fixed`` and
        ``unit`` have no rows and ``cheapest`` is all inf.
    """
    on_hand, safety, reserved, cap_orders, cap_units, mark = books
    entry_fee, entry_dual, entry_risk, entry_demand, skuf = prices
    G = g_sku.shape[0]
    cand, miles, lead, touched = candidate_buffers(g_sku, sku_ptr)
    ub = cand.shape[0]
    n_touched = 0
    C = 0
    max_miles = params[P_MAX_MILES]
    max_days = params[P_MAX_DAYS]
    exclude_late = params[P_LATE_MODE] == LATE_EXCLUDE
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
        by_kg[g] = weight_cost(skuf[g_sku[g], 1], params) if price else 0.0
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
        nodes, oh, sf, rs = sku_views(g_sku[g], sku_ptr, ent_node, on_hand, safety, reserved)
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
                    d = arc_miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
                    if d > max_miles:
                        continue
                    if need_filter:
                        ld = lead_days(n, d, params[P_HOUR], nodef, bands)
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
                    fixed[c] = 0.0 if free[n] else parcel_cost(n, nodef, params)
                    fixed[c] += late_cost(ld, max_days, params)
                    base[c] = unit_cost_at(n, d, nodef, params)
                    # cells without an entry keep the unit cost with no entry terms, as unit_costs
                    for gg in range(G):
                        unit[c, gg] = base[c] + by_kg[gg]
            cu = cap_units[n]
            a = a if a < cu else cu
            atp[c, g] = a
            total[g] += a
            e = lo + i
            ent[c, g] = e
            if price:
                # the same terms, in the same order, as unit_costs and then entry_risk
                u = base[c] + by_kg[g] + entry_fee[e]
                dem = entry_demand[e]
                if dem > 0.0 and w > 0.0:
                    u += w * dem / (dem + a)
                if strategy == DUAL:
                    u += entry_dual[e]
                u += entry_risk[e]
                unit[c, g] = u
                if u < cheapest[g]:
                    cheapest[g] = u
    for i in range(n_touched):
        mark[touched[i]] = -1
    # views of the scan's buffers, as atp and ent always were: copies cost about 3 % of route_batch
    if price:
        return cand[:C], atp[:C], ent[:C], miles[:C], lead[:C], fixed[:C], unit[:C], total, cheapest
    return cand[:C], atp[:C], ent[:C], miles[:C], lead[:C], fixed, unit, total, cheapest


@njit(cache=True)
def fill_distances(cand, miles, lead, dest, nodef, params, bands, with_lead=True):
    """Compute the distances and lead days that :func:`gather` left as NaN.

    With ``with_lead`` False only distances: planning reads lead days only
    under a delivery deadline, and the caller fills them for the nodes it uses.

    Parameters
    ----------
    cand : ndarray of int64, shape (C,)
        The candidates' nodes (shared arguments).
    miles, lead : ndarray of float64, shape (C,)
        Filled in place where NaN (``lead`` only with ``with_lead``).
    dest, nodef, params, bands
        Shared arguments; ``params`` gives ``P_HOUR``.
    with_lead : bool
        Whether to fill the lead days too.
    """
    for c in range(cand.shape[0]):
        n = cand[c]
        if np.isnan(miles[c]):
            miles[c] = arc_miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
        if with_lead and np.isnan(lead[c]):
            lead[c] = lead_days(n, miles[c], params[P_HOUR], nodef, bands)


@njit(cache=True, inline="always")
def lower_bound(ent_node, lo, hi, n):
    """First position in ``[lo, hi)`` whose node is not below ``n`` (``hi`` if none): entries ascend by node.

    Parameters
    ----------
    ent_node : ndarray of int64, shape (E,)
        Node of each entry (shared arguments).
    lo, hi : int
        The positions to search, one SKU's entries or part of them.
    n : int
        The node sought.

    Returns
    -------
    int
        Binary search's answer, in ``[lo, hi]``.
    """
    while lo < hi:
        mid = (lo + hi) >> 1
        if ent_node[mid] < n:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def entry_position(sku_ptr, ent_node, s, n):
    """Position of node ``n`` in SKU ``s``'s entries (sorted by node), or -1.

    Parameters
    ----------
    sku_ptr, ent_node
        The inventory CSR (shared arguments).
    s, n : int
        The SKU and the node.

    Returns
    -------
    int
        The entry's position in the per-entry arrays, -1 if none is stored.
    """
    end = sku_ptr[s + 1]
    lo = lower_bound(ent_node, sku_ptr[s], end, n)
    if lo < end and ent_node[lo] == n:
        return lo
    return -1


@njit(cache=True)
def entry_atp(sku_ptr, ent_node, on_hand, safety, reserved, s, n):
    """ATP (floored at 0) of SKU ``s`` at node ``n``; 0 when no entry is stored.

    Parameters
    ----------
    sku_ptr, ent_node, on_hand, safety, reserved
        The inventory and its books (shared arguments).
    s, n : int
        As for :func:`entry_position`.

    Returns
    -------
    int
        ``on_hand - safety - reserved`` of the entry, at least 0; capacity
        is not applied.
    """
    e = entry_position(sku_ptr, ent_node, s, n)
    if e < 0:
        return 0
    a = on_hand[e] - safety[e] - reserved[e]
    return a if a > 0 else 0


@njit(cache=True)
def nearby_holders(lat, lon, reach, hour, g, cand, sku_ptr, ent_node, ibuf, fbuf, out, out_miles):
    """Of the candidate nodes near a point, those that could hand over a whole order today, for
    pickup or for same-day delivery.

    A candidate qualifies when it has an order slot left today and unit
    capacity for all the units, holds ATP of at least each group's units
    (the same rules, for one node and the whole order, as :func:`gather`
    applies to a candidate), and lies within its pickup limit (a pickup) or
    within its same-day limit and before its cutoff at ``hour`` (same-day).
    Only the candidates whose ``z`` lies within the chord of ``reach`` of the
    point's are looked at, and only those within that chord are measured:
    no other can be that near.

    Parameters
    ----------
    lat, lon : float
        The point (a shopper's address).
    reach : float
        Miles: no candidate's limit exceeds it (inf: look at every one).
    hour : float
        The hour the order is placed, for same-day cutoffs.
    g : ndarray of int64, shape (2 * G,)
        The groups' SKUs, then their units (each at least 1).
    cand : ndarray of float64, shape (M, 6)
        Per candidate, ascending by column 0: the ``z``, ``x`` and ``y`` of
        its unit vector, its node, its pickup limit and its same-day limit in
        miles (negative: not a candidate for that).
    sku_ptr, ent_node, ibuf, fbuf
        The inventory CSR and the router's packed state
        (:func:`~sourcewise.engine._kernels.layout.pack_ints`, ``pack_floats``), read only.
    out : ndarray of int64, shape (M, 3)
        Written, one row per qualifying candidate, nearest first (ties: the
        lower node first): its node, the least over the groups of its ATP
        capped by its unit capacity left today, and flags (1: pickup, 2:
        same-day).
    out_miles : ndarray of float64, shape (M,)
        Written: each row's great-circle miles (:func:`~sourcewise.engine._kernels.geometry.arc_miles`).

    Returns
    -------
    int
        How many rows were written.
    """
    G = g.shape[0] // 2
    dest = unit_vector(lat, lon)
    on_hand, safety, reserved, cap_orders, cap_units, _ = books_of(ibuf)
    nodef = float_matrix(ibuf, fbuf, 0)
    total = 0
    for j in range(G):
        total += g[G + j]
    # the groups by how few nodes stock their SKU: most candidates fail on the rarest at once
    by_rarity = np.empty(G, np.int64)
    for j in range(G):
        at = j
        size = sku_ptr[g[j] + 1] - sku_ptr[g[j]]
        while at > 0 and sku_ptr[g[by_rarity[at - 1]] + 1] - sku_ptr[g[by_rarity[at - 1]]] > size:
            by_rarity[at] = by_rarity[at - 1]
            at -= 1
        by_rarity[at] = j
    # |z - z'| is at most the chord between two unit vectors: 2 sin(arc / 2); a hair wider for rounding
    half = 0.5 * reach / EARTH_RADIUS_MI
    band = 2.0 * np.sin(half) * (1.0 + 1e-9) + 1e-12 if half < 1.5 else 3.0
    M = cand.shape[0]
    lo, hi = 0, M
    while lo < hi:
        mid = (lo + hi) >> 1
        if cand[mid, 0] < dest[2] - band:
            lo = mid + 1
        else:
            hi = mid
    band2 = band * band
    k = 0
    for i in range(lo, M):
        dz = cand[i, 0] - dest[2]
        if dz > band:
            break
        dx = cand[i, 1] - dest[0]
        dy = cand[i, 2] - dest[1]
        if dx * dx + dy * dy + dz * dz > band2:
            continue
        n = np.int64(cand[i, 3])
        if cap_orders[n] <= 0 or cap_units[n] < total:
            continue
        d = arc_miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
        flags = 0
        if d <= cand[i, 4]:
            flags |= 1
        if d <= cand[i, 5] and hour < nodef[n, NF_CUTOFF]:
            flags |= 2
        if flags == 0:
            continue
        units = cap_units[n]
        for jj in range(G):
            j = by_rarity[jj]
            e = entry_position(sku_ptr, ent_node, g[j], n)
            a = on_hand[e] - safety[e] - reserved[e] if e >= 0 else 0
            if a < g[G + j]:
                units = 0
                break
            if a < units:
                units = a
        if units > 0:
            # insertion: the rows stay nearest first, ties by node (few rows: the nearby holders)
            at = k
            while at > 0 and (out_miles[at - 1] > d or (out_miles[at - 1] == d and out[at - 1, 0] > n)):
                out[at, 0] = out[at - 1, 0]
                out[at, 1] = out[at - 1, 1]
                out[at, 2] = out[at - 1, 2]
                out_miles[at] = out_miles[at - 1]
                at -= 1
            out[at, 0] = n
            out[at, 1] = units
            out[at, 2] = flags
            out_miles[at] = d
            k += 1
    return k


@njit(cache=True)
def sku_bitsets(sku_ptr, ent_node, n_nodes):
    """Per SKU, a bitset of the nodes that hold an entry for it (64 nodes a word).

    Entries never appear or vanish after the inventory is built (only their
    stock changes), so these are computed once per router.

    Parameters
    ----------
    sku_ptr, ent_node
        The inventory CSR (shared arguments).
    n_nodes : int
        Number of nodes ``N``.

    Returns
    -------
    ndarray of uint64, shape (S, ceil(N / 64))
        ``sku_bits`` (shared arguments): node ``n`` is bit ``n & 63`` of
        word ``n >> 6``.
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
def bit_index(low):
    """Position of the single bit set in the uint64 ``low``.

    Parameters
    ----------
    low : uint64
        A word with exactly one bit set (``x & -x`` of a bitset word).

    Returns
    -------
    int
        The bit's position, 0 to 63.
    """
    # binary search on the position: six halvings of 64 (a constant trip count the compiler unrolls)
    b = 0
    step = 32
    while step:
        if low >> np.uint64(b + step):
            b += step
        step >>= 1
    return b


@njit(cache=True, inline="always")
def snapshot_size(g_sku, sku_ptr):
    """Entries of the order's SKUs: the length of its ATP snapshot.

    Parameters
    ----------
    g_sku : ndarray of int64, shape (G,)
        The order's SKUs.
    sku_ptr : ndarray of int64, shape (S + 1,)
        The inventory CSR's pointers (shared arguments).

    Returns
    -------
    int
        The length :func:`atp_snapshot` writes.
    """
    n = 0
    for g in range(g_sku.shape[0]):
        n += sku_ptr[g_sku[g] + 1] - sku_ptr[g_sku[g]]
    return n


@njit(cache=True)
def atp_snapshot(g_sku, sku_ptr, ent_node, on_hand, safety, reserved, out):
    """Write the ATP of every entry of the order's SKUs, group by group, into ``out``
    (what an explanation replays: the stock the order saw).

    Parameters
    ----------
    g_sku : ndarray of int64, shape (G,)
        The order's SKUs, in the order the snapshot lists them.
    sku_ptr, ent_node, on_hand, safety, reserved
        The inventory and its books (shared arguments).
    out : ndarray of int64, shape (snapshot_size(g_sku, sku_ptr),)
        Written in place: each group's entries in storage order, ATP not
        floored (negative where an entry is over-reserved) nor capped.
    """
    j = 0
    for g in range(g_sku.shape[0]):
        _, oh, sf, rs = sku_views(g_sku[g], sku_ptr, ent_node, on_hand, safety, reserved)
        ln = oh.shape[0]
        dst = out[j:j + ln]
        for i in range(ln):
            dst[i] = oh[i] - sf[i] - rs[i]
        j += ln
