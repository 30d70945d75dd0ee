"""The kernels' shared layout: node-matrix columns, parameter positions, strategy codes, packed state.

The conventions of these kernels are in the package docstring (:mod:`sourcewise.engine._kernels`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

EARTH_RADIUS_MI = 3958.7613

__all__ = [
    "books_of",
    "prices_of",
    "LATE_EXCLUDE",
    "LATE_PENALTY_MODE",
    "cost_params",
    "pack_nodes",
    "EARTH_RADIUS_MI",
    "MILE_KM",
    "COST",
    "PRIORITY",
    "NEAREST",
    "HIGH_STOCK",
    "DUAL",
    "STRATEGY_CODES",
    "EPS",
    "NF_X",
    "NF_Y",
    "NF_Z",
    "NF_HSHIP",
    "NF_HUNIT",
    "NF_PRIO",
    "NF_PDAYS",
    "NF_CUTOFF",
    "NODE_COLS",
    "P_PER_SHIPMENT",
    "P_PER_UNIT",
    "P_PER_MILE",
    "P_PER_KG",
    "P_SPLIT",
    "P_SPLIT_CANDS",
    "P_MAX_MILES",
    "P_HOUR",
    "P_REQUIRE_CUTOFF",
    "P_MAX_DAYS",
    "P_LATE_MODE",
    "P_LATE_PENALTY",
    "P_DEPLETION",
    "P_SHIP_LB",
    "N_PARAMS",
    "PACKED_INTS",
    "PACKED_FLOATS",
    "pack_ints",
    "pack_floats",
    "int_array",
    "float_array",
    "float_matrix",
]



MILE_KM = 1.609344


# Strategy codes, as the kernels receive them.
COST, PRIORITY, NEAREST, HIGH_STOCK, DUAL = 0, 1, 2, 3, 4
STRATEGY_CODES = {"cost": COST, "priority": PRIORITY, "nearest": NEAREST, "high_stock": HIGH_STOCK, "dual": DUAL}


EPS = 1e-9


# Columns of the packed per-node float matrix the kernels read.
NF_X, NF_Y, NF_Z, NF_HSHIP, NF_HUNIT, NF_PRIO, NF_PDAYS, NF_CUTOFF = 0, 1, 2, 3, 4, 5, 6, 7


NODE_COLS = 8


# Positions in the per-call parameter vector.
(P_PER_SHIPMENT, P_PER_UNIT, P_PER_MILE, P_PER_KG, P_SPLIT, P_SPLIT_CANDS, P_MAX_MILES, P_HOUR,
 P_REQUIRE_CUTOFF, P_MAX_DAYS, P_LATE_MODE, P_LATE_PENALTY, P_DEPLETION, P_SHIP_LB) = range(14)


# P_SHIP_LB: the cheapest conceivable parcel (per shipment plus the least
# handling per shipment of any node), for the fast path's bound on splits
N_PARAMS = 14
# P_LATE_MODE: a node that would miss the deadline is excluded, or used at a penalty per day late
LATE_EXCLUDE, LATE_PENALTY_MODE = 0.0, 1.0


# The router keeps the arrays route_one reads in two buffers, one int64 and one
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
        The buffer :func:`route_one` takes. It starts with a header of
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
def int_array(ibuf, i):
    """Int array ``i`` of a packed state (see :func:`pack_ints`)."""
    return ibuf[ibuf[2 * i]:ibuf[2 * i + 1]]


@njit(cache=True, inline="always")
def float_array(ibuf, fbuf, i):
    """1-D float array ``i`` of a packed state."""
    h = 2 * _N_INTS + 3 * i
    return fbuf[ibuf[h]:ibuf[h] + ibuf[h + 1]]


@njit(cache=True, inline="always")
def float_matrix(ibuf, fbuf, i):
    """2-D float array ``i`` of a packed state."""
    h = 2 * _N_INTS + 3 * i
    rows, cols = ibuf[h + 1], ibuf[h + 2]
    return fbuf[ibuf[h]:ibuf[h] + rows * cols].reshape(rows, cols)


def pack_nodes(network) -> np.ndarray:
    """The per-node float matrix (``NF_*`` columns) of a :class:`~sourcewise.models.network.Network`."""
    out = np.empty((network.n_nodes, NODE_COLS), np.float64)
    out[:, NF_X:NF_Z + 1] = network.xyz
    out[:, NF_HSHIP] = network.handling_per_shipment
    out[:, NF_HUNIT] = network.handling_per_unit
    out[:, NF_PRIO] = network.priority_rank
    out[:, NF_PDAYS] = network.processing_days
    out[:, NF_CUTOFF] = network.cutoff_hour
    return out


def cost_params(policy, nodef: np.ndarray) -> np.ndarray:
    """The parameter vector (``P_*`` positions) of a :class:`~sourcewise.models.policy.Policy`.

    Per-order values (``P_HOUR``, ``P_MAX_DAYS``, ``P_MAX_MILES``,
    ``P_REQUIRE_CUTOFF``) start neutral; callers copy the vector and set them.
    """
    cm = policy.cost
    p = np.empty(N_PARAMS)
    p[P_PER_SHIPMENT] = cm.per_shipment
    p[P_PER_UNIT] = cm.per_unit
    p[P_PER_MILE] = cm.per_unit_mile
    p[P_PER_KG] = cm.per_kg
    p[P_SPLIT] = policy.split_penalty
    p[P_SPLIT_CANDS] = policy.split_candidates
    p[P_MAX_MILES] = np.inf
    p[P_HOUR] = 0.0
    p[P_REQUIRE_CUTOFF] = 0.0
    p[P_MAX_DAYS] = -1.0
    p[P_LATE_MODE] = LATE_EXCLUDE if policy.service.late == "exclude" else LATE_PENALTY_MODE
    p[P_LATE_PENALTY] = policy.service.late_penalty_per_day
    p[P_DEPLETION] = policy.stores.depletion_weight
    p[P_SHIP_LB] = cm.per_shipment + (float(nodef[:, NF_HSHIP].min()) if len(nodef) else 0.0)
    return p


@njit(cache=True, inline="always")
def books_of(ibuf):
    """The router's int arrays in a packed state (views, :data:`PACKED_INTS` order):
    ``on_hand, safety, reserved, cap_orders, cap_units, mark``."""
    return (int_array(ibuf, 0), int_array(ibuf, 1), int_array(ibuf, 2), int_array(ibuf, 3),
            int_array(ibuf, 4), int_array(ibuf, 5))


@njit(cache=True, inline="always")
def prices_of(ibuf, fbuf):
    """The router's float arrays in a packed state (views, :data:`PACKED_FLOATS` order):
    ``nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, sku_lb, bands``."""
    return (float_matrix(ibuf, fbuf, 0), float_matrix(ibuf, fbuf, 1), float_array(ibuf, fbuf, 2),
            float_array(ibuf, fbuf, 3), float_array(ibuf, fbuf, 4), float_array(ibuf, fbuf, 5),
            float_matrix(ibuf, fbuf, 6), float_matrix(ibuf, fbuf, 7))
