"""The cost model: transit and lead days, parcel and unit costs. Every kernel prices through these.

One formula, used everywhere: the router's kernels, the optimizer's plan
kernels, the explanations and :meth:`Router._price` (from Python) all call
the helpers below instead of restating a term. A parcel from node ``n``
costs the carrier's charge per shipment plus the node's handling per
shipment (:func:`parcel_cost`), plus a lateness penalty per day past the
deadline (:func:`late_cost`). A unit costs the carrier's charge per unit,
per unit-mile and per kg plus the node's handling per unit
(:func:`unit_handling`, :func:`unit_cost_at`, :func:`weight_cost`; the
real-cost breakdown splits the carrier's part off as :func:`unit_shipping`),
plus the entry's vendor fee, and for planning only the store depletion
penalty (:func:`depletion_cost`) and the ``dual`` strategy's shadow price.
The helpers are inlined, so a kernel compiles to the same arithmetic as if
it spelled the terms out.

The conventions of these kernels are in the package docstring (:mod:`sourcewise.engine._kernels`).
Arguments such as ``nodef``, ``skuf``, ``params``, ``bands``, the per-entry
``entry_*`` arrays and the candidate arrays are the shared arguments that
:mod:`~sourcewise.engine._kernels.layout` describes; every cost is in the
currency of the policy's cost model.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sourcewise.engine._kernels.geometry import arc_miles
from sourcewise.engine._kernels.layout import DUAL
from sourcewise.engine._kernels.layout import MILE_KM
from sourcewise.engine._kernels.layout import NF_CUTOFF
from sourcewise.engine._kernels.layout import NF_HSHIP
from sourcewise.engine._kernels.layout import NF_HUNIT
from sourcewise.engine._kernels.layout import NF_PDAYS
from sourcewise.engine._kernels.layout import NF_X
from sourcewise.engine._kernels.layout import NF_Y
from sourcewise.engine._kernels.layout import NF_Z
from sourcewise.engine._kernels.layout import P_DEPLETION
from sourcewise.engine._kernels.layout import P_LATE_PENALTY
from sourcewise.engine._kernels.layout import P_MAX_DAYS
from sourcewise.engine._kernels.layout import P_PER_KG
from sourcewise.engine._kernels.layout import P_PER_MILE
from sourcewise.engine._kernels.layout import P_PER_SHIPMENT
from sourcewise.engine._kernels.layout import P_PER_UNIT


@njit(cache=True, inline="always")
def parcel_cost(n, nodef, params):
    """One parcel from node ``n``: the carrier's charge per shipment plus the node's handling per shipment.

    Parameters
    ----------
    n : int
        The shipping node.
    nodef, params
        Shared arguments (node matrix, parameter vector).

    Returns
    -------
    float
        The parcel's cost, before any lateness penalty.
    """
    return params[P_PER_SHIPMENT] + nodef[n, NF_HSHIP]


@njit(cache=True, inline="always")
def late_cost(lead, max_days, params):
    """Penalty of a parcel arriving ``lead`` days after the order against a deadline of ``max_days``
    days (negative: no deadline): the policy's penalty per day late.

    Parameters
    ----------
    lead : float
        Lead days of the parcel (:func:`lead_days`).
    max_days : float
        The order's deadline in days, negative for none.
    params : ndarray of float64
        Shared argument; reads ``P_LATE_PENALTY``.

    Returns
    -------
    float
        0 when on time or without a deadline.
    """
    if max_days >= 0 and lead > max_days:
        return params[P_LATE_PENALTY] * (lead - max_days)
    return 0.0


@njit(cache=True, inline="always")
def unit_handling(n, nodef, params):
    """Distance-free cost of one unit through node ``n``: carrier per unit plus node handling per unit.

    Parameters
    ----------
    n, nodef, params
        As for :func:`parcel_cost`: the node, the node matrix and the
        parameter vector.

    Returns
    -------
    float
        Without weight, distance, fees or penalties.
    """
    return params[P_PER_UNIT] + nodef[n, NF_HUNIT]


@njit(cache=True, inline="always")
def unit_cost_at(n, miles, nodef, params):
    """One unit through node ``n`` to a customer ``miles`` away, before weight, fees and penalties.

    Parameters
    ----------
    n : int
        The shipping node.
    miles : float
        Great-circle miles from the node to the customer.
    nodef, params
        Shared arguments.

    Returns
    -------
    float
        :func:`unit_handling` plus the carrier's charge for the miles.
    """
    return unit_handling(n, nodef, params) + params[P_PER_MILE] * miles


@njit(cache=True, inline="always")
def weight_cost(kg, params):
    """The carrier's charge for ``kg`` kilograms.

    Parameters
    ----------
    kg : float
        Weight, usually one unit's (``skuf[s, 1]``).
    params : ndarray of float64
        Shared argument; reads ``P_PER_KG``.

    Returns
    -------
    float
    """
    return params[P_PER_KG] * kg


@njit(cache=True, inline="always")
def unit_shipping(miles, kg, params):
    """The carrier's charge for one unit of ``kg`` kilograms carried ``miles`` (the real-cost ``shipping`` term).

    Parameters
    ----------
    miles : float
        Distance carried.
    kg : float
        The unit's weight.
    params : ndarray of float64
        Shared argument: charges per unit, per unit-mile and per kg.

    Returns
    -------
    float
        Without the node's handling, fees or penalties.
    """
    return params[P_PER_UNIT] + params[P_PER_MILE] * miles + params[P_PER_KG] * kg


@njit(cache=True, inline="always")
def depletion_cost(demand, atp, weight):
    """Planning penalty per unit taken from a store with walk-in ``demand`` per day and ``atp`` units
    left: ``weight * demand / (demand + atp)``, so lean stores are drawn last.

    Parameters
    ----------
    demand : float
        The entry's walk-in demand per day (``entry_demand``); 0 off stores.
    atp : float
        Units the entry has available before this order.
    weight : float
        The policy's depletion weight (``params[P_DEPLETION]``).

    Returns
    -------
    float
        0 when either ``demand`` or ``weight`` is not positive.
    """
    if demand > 0.0 and weight > 0.0:
        return weight * demand / (demand + atp)
    return 0.0


@njit(cache=True)
def transit_days(miles, bands):
    """Transit days of a parcel carried ``miles``: the first band reaching that far, else the last.

    Parameters
    ----------
    miles : float
        Great-circle miles.
    bands : ndarray of float64, shape (B, 2)
        Shared argument: upper bound in km and days per band, ascending.

    Returns
    -------
    float
        Days in transit.
    """
    km = miles * MILE_KM
    for b in range(bands.shape[0]):
        if km <= bands[b, 0]:
            return bands[b, 1]
    return bands[bands.shape[0] - 1, 1]


@njit(cache=True)
def lead_days(n, miles, hour, nodef, bands):
    """Days from order to delivery through node ``n`` for an order placed at ``hour``: processing,
    a day's wait when the order arrives after the node's cutoff, and transit by distance band.

    Parameters
    ----------
    n : int
        The shipping node.
    miles : float
        Great-circle miles to the customer.
    hour : float
        Hour of the day the order was placed (``params[P_HOUR]``).
    nodef, bands
        Shared arguments (node matrix, transit bands).

    Returns
    -------
    float
        Lead days, as compared with the order's ``P_MAX_DAYS``.
    """
    days = nodef[n, NF_PDAYS] + transit_days(miles, bands)
    if hour >= nodef[n, NF_CUTOFF]:
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

    Parameters
    ----------
    cand, g_sku, ent, atp, miles, lead
        The order's candidates and groups (shared arguments); ``miles`` must
        be filled, and ``lead`` wherever ``P_MAX_DAYS`` sets a deadline.
    nodef, skuf, entry_fee, entry_demand, free, params, strategy
        Shared arguments.
    entry_plan : ndarray of float64, shape (E,)
        The dual price per unit (``entry_dual``), read for ``DUAL`` only.

    Returns
    -------
    fixed : ndarray of float64, shape (C,)
        Cost of a parcel from each candidate, lateness included.
    unit : ndarray of float64, shape (C, G)
        Cost per unit of each (candidate, group), without ``entry_risk``:
        callers add it where ``ent >= 0``.
    """
    C = cand.shape[0]
    G = g_sku.shape[0]
    fixed = np.empty(C)
    unit = np.empty((C, G))
    w = params[P_DEPLETION]
    max_days = params[P_MAX_DAYS]
    for c in range(C):
        n = cand[c]
        fixed[c] = 0.0 if free[n] else parcel_cost(n, nodef, params)
        fixed[c] += late_cost(lead[c], max_days, params)
        base = unit_cost_at(n, miles[c], nodef, params)
        for g in range(G):
            s = g_sku[g]
            u = base + weight_cost(skuf[s, 1], params)
            e = ent[c, g]
            if e >= 0:
                u += entry_fee[e]
                u += depletion_cost(entry_demand[e], atp[c, g], w)
                if strategy == DUAL:
                    u += entry_plan[e]
            unit[c, g] = u
    return fixed, unit


@njit(cache=True, inline="always")
def plan_unit(e, n, s, a, nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units, params,
               strategy):
    """Distance-free planning cost of one unit from entry ``e`` (node ``n``, SKU ``s``, ATP ``a``).

    Parameters
    ----------
    e : int
        The inventory entry.
    n, s : int
        Its node and SKU.
    a : int
        Its ATP; the depletion penalty sees it capped by ``cap_units[n]``.
    nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, cap_units, params, strategy
        Shared arguments.

    Returns
    -------
    float
        Handling, weight, fee, risk, depletion and (``DUAL``) dual price per
        unit; the miles are added by :func:`with_miles`.
    """
    u = unit_handling(n, nodef, params) + weight_cost(skuf[s, 1], params) + entry_fee[e] + entry_risk[e]
    u += depletion_cost(entry_demand[e], a if a < cap_units[n] else cap_units[n], params[P_DEPLETION])
    if strategy == DUAL:
        u += entry_dual[e]
    return u


@njit(cache=True, inline="always")
def with_miles(dest, nodef, n, flat, per_unit_mile):
    """Exact cost through node ``n``: its distance-free cost plus the miles; and the miles.

    Parameters
    ----------
    dest : ndarray of float64, shape (3,)
        The customer's unit vector.
    nodef : ndarray of float64, shape (N, NODE_COLS)
        Shared argument.
    n : int
        The node.
    flat : float
        The plan's cost through ``n`` without distance.
    per_unit_mile : float
        What a mile adds: the charge per unit-mile times the units shipped.

    Returns
    -------
    cost : float
        ``flat + per_unit_mile * miles``.
    miles : float
        Great-circle miles from ``n`` to ``dest``.
    """
    d = arc_miles(dest[0], dest[1], dest[2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
    return flat + per_unit_mile * d, d


@njit(cache=True)
def real_unit_costs(dest, node, sku, fee, nodef, skuf, params):
    """Real cost of one unit per allocation row, for code that prices plans it did not make.

    Row ``i`` ships SKU ``sku[i]`` from node ``node[i]`` to the customer at
    unit vector ``dest[i]``, paying ``fee[i]`` per unit in vendor fees:
    :func:`unit_cost_at` (carrier per unit and per unit-mile, node handling per unit),
    :func:`weight_cost` and the fee. Parcels are priced apart, by :func:`parcel_cost`.

    Parameters
    ----------
    dest : ndarray of float64, shape (R, 3)
        Each row's customer unit vector.
    node, sku : ndarray of int64, shape (R,)
        Each row's shipping node and SKU.
    fee : ndarray of float64, shape (R,)
        Each row's vendor fee per unit.
    nodef, skuf, params
        Shared arguments.

    Returns
    -------
    ndarray of float64, shape (R,)
        Real cost of one unit of each row.
    """
    out = np.empty(node.shape[0])
    for i in range(node.shape[0]):
        n = node[i]
        miles = arc_miles(dest[i, 0], dest[i, 1], dest[i, 2], nodef[n, NF_X], nodef[n, NF_Y], nodef[n, NF_Z])
        out[i] = unit_cost_at(n, miles, nodef, params) + weight_cost(skuf[sku[i], 1], params) + fee[i]
    return out


@njit(cache=True)
def parcel_costs(node, nodef, params):
    """:func:`parcel_cost` of each node in ``node``.

    Parameters
    ----------
    node : ndarray of int64, shape (R,)
        The shipping nodes.
    nodef, params
        Shared arguments.

    Returns
    -------
    ndarray of float64, shape (R,)
        One parcel's cost per entry of ``node``.
    """
    out = np.empty(node.shape[0])
    for i in range(node.shape[0]):
        out[i] = parcel_cost(node[i], nodef, params)
    return out
