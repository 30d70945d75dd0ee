"""The cost model: transit and lead days, parcel and unit costs. Every kernel prices through these.

Private to the engine: every kernel takes arrays and scalars only, and the public
wrappers (:mod:`sourcewise.engine.router`, :mod:`sourcewise.engine.scoring`) validate and convert.
Each kernel has a slow reference twin in ``tests/naive.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sourcewise.engine._kernels.geometry import arc_miles
from sourcewise.engine._kernels.layout import (
    DUAL,
    MILE_KM,
    NF_CUTOFF,
    NF_HSHIP,
    NF_HUNIT,
    NF_PDAYS,
    NF_X,
    NF_Y,
    NF_Z,
    P_DEPLETION,
    P_HOUR,
    P_LATE_PENALTY,
    P_MAX_DAYS,
    P_PER_KG,
    P_PER_MILE,
    P_PER_SHIPMENT,
    P_PER_UNIT,
)


@njit(cache=True)
def transit_days(miles, bands):
    km = miles * MILE_KM
    for b in range(bands.shape[0]):
        if km <= bands[b, 0]:
            return bands[b, 1]
    return bands[bands.shape[0] - 1, 1]


@njit(cache=True)
def lead_days(n, miles, nodef, params, bands):
    """Days from order to delivery through node ``n``: processing, a day's
    wait when the order arrives after the node's cutoff, and transit."""
    days = nodef[n, NF_PDAYS] + transit_days(miles, bands)
    if params[P_HOUR] >= nodef[n, NF_CUTOFF]:
        days += 1.0
    return days


@njit(cache=True)
def unit_costs(cand, g_sku, ent, atp, miles, lead, nodef, skuf, entry_fee, entry_plan, entry_demand,
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
                if strategy == DUAL:
                    u += entry_plan[e]
            unit[c, g] = u
    return fixed, unit


@njit(cache=True, inline="always")
def plan_unit(e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units, params,
               strategy):
    """Distance-free planning cost of one unit from entry ``e`` (node ``n``, SKU ``s``, ATP ``a``)."""
    u = params[P_PER_UNIT] + nodef[n, NF_HUNIT] + params[P_PER_KG] * skuf[s, 1] + entry_fee[e] + entry_risk[e]
    dem = entry_demand[e]
    w = params[P_DEPLETION]
    if dem > 0.0 and w > 0.0:
        u += w * dem / (dem + (a if a < cap_units[n] else cap_units[n]))
    if strategy == DUAL:
        u += entry_dual[e]
    return u


@njit(cache=True, inline="always")
def with_miles(dest, nodef, n, flat, per_unit_mile):
    """Exact cost through node ``n``: its distance-free cost plus the miles; and the miles."""
    d = arc_miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
    return flat + per_unit_mile * d, d
