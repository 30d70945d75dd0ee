"""The kernels' shared layout: node-matrix columns, parameter positions, strategy codes, packed state.

The conventions of these kernels are in the package docstring (:mod:`sourcewise.engine._kernels`).

Shared arguments
----------------
Many kernels take the same arrays under the same names. They are described
here once; a kernel's ``Parameters`` section names them and refers here
("shared arguments"). ``N`` counts nodes, ``S`` SKUs, ``E`` inventory
entries (one per stocked (node, SKU) pair), ``G`` an order's groups (its
distinct SKUs) and ``C`` its candidate nodes.

Per node:

nodef : ndarray of float64, shape (N, NODE_COLS)
    The node matrix of :func:`pack_nodes`, columns ``NF_*``: unit vector
    (``NF_X``, ``NF_Y``, ``NF_Z``), handling cost per shipment
    (``NF_HSHIP``) and per unit (``NF_HUNIT``), priority rank (``NF_PRIO``,
    lower ships first), processing days (``NF_PDAYS``) and the hour of the
    day after which an order waits a day (``NF_CUTOFF``).
mask : ndarray of bool, shape (N,)
    The fulfilment tier's nodes: True where the tier may ship from a node.
cap_orders, cap_units : ndarray of int64, shape (N,)
    Parcels and units each node can still take today.
free : ndarray of bool, shape (N,)
    Nodes already shipping part of this order (re-routing): their parcel is
    paid for. All False otherwise.
mark : ndarray of int64, shape (N,)
    Scratch for the candidate scan: all -1 on entry, restored before return.

The inventory, a CSR of entries by SKU:

sku_ptr : ndarray of int64, shape (S + 1,)
    SKU ``s``'s entries are the positions ``sku_ptr[s]:sku_ptr[s + 1]``.
ent_node : ndarray of int64, shape (E,)
    Node of each entry, ascending within a SKU.
on_hand, safety, reserved : ndarray of int64, shape (E,)
    The books: units on hand, units held back (safety stock plus store
    protection) and units reserved by routed orders. An entry's ATP
    (available to promise) is ``on_hand - safety - reserved``.
entry_fee : ndarray of float64, shape (E,)
    Vendor fee per unit (the node's fee rate, or the vendor offer's).
entry_dual : ndarray of float64, shape (E,)
    Shadow price per unit, added under the ``DUAL`` strategy only; some
    kernels call it ``entry_plan``. Zero until the optimizer sets it.
entry_risk : ndarray of float64, shape (E,)
    Planning penalty per unit for an unreliable vendor offer.
entry_demand : ndarray of float64, shape (E,)
    Walk-in demand per day of a store entry (0 elsewhere), which drives the
    depletion penalty (:func:`~sourcewise.engine._kernels.cost.depletion_cost`).

Per SKU:

skuf : ndarray of float64, shape (S, 2)
    Price (column 0) and weight in kg (column 1), indexed by the SKU codes
    the kernel is given (``g_sku`` or ``s``).
sku_lb : ndarray of float64, shape (S, 2)
    Least distance-free planning cost per unit of the SKU at any of its
    entries, before the carrier's per-unit and weight terms: handling per
    unit plus fee plus risk (column 0), plus the dual price (column 1); inf
    for a SKU without entries.
sku_bits : ndarray of uint64, shape (S, ceil(N / 64))
    Row ``s`` has bit ``n`` set when node ``n`` holds an entry for SKU ``s``
    (:func:`~sourcewise.engine._kernels.gather.sku_bitsets`).

Per order:

dest : ndarray of float64, shape (3,)
    The customer's unit vector.
g_sku, g_qty : ndarray of int64, shape (G,)
    Each group's SKU and the units ordered of it.

Policy:

params : ndarray of float64, shape (N_PARAMS,)
    The per-call parameter vector: :func:`cost_params`, with the order's
    values set. At its ``P_*`` positions: the carrier's charge per shipment,
    per unit, per unit-mile and per kg (``P_PER_SHIPMENT``, ``P_PER_UNIT``,
    ``P_PER_MILE``, ``P_PER_KG``); the penalty per extra parcel
    (``P_SPLIT``) and the size of the split search's pool
    (``P_SPLIT_CANDS``); the order's limit in miles (``P_MAX_MILES``, inf
    for none), the hour it was placed (``P_HOUR``), whether a node past its
    cutoff is excluded (``P_REQUIRE_CUTOFF``, > 0 for yes) and the deadline
    in days (``P_MAX_DAYS``, negative for none); what lateness does
    (``P_LATE_MODE``, :data:`LATE_EXCLUDE` or :data:`LATE_PENALTY_MODE`) and
    its penalty per day (``P_LATE_PENALTY``); the store depletion weight
    (``P_DEPLETION``); the cheapest conceivable parcel (``P_SHIP_LB``).
bands : ndarray of float64, shape (B, 2)
    Transit bands, ascending: a parcel carried at most ``bands[b, 0]`` km
    takes ``bands[b, 1]`` days; farther, the last band's days.
strategy : int
    Strategy code: :data:`COST`, :data:`PRIORITY`, :data:`NEAREST`,
    :data:`HIGH_STOCK` or :data:`DUAL` (:data:`STRATEGY_CODES`).

An order's candidates, as :func:`~sourcewise.engine._kernels.gather.gather`
finds them (row ``c`` a candidate, column ``g`` a group):

cand : ndarray of int64, shape (C,)
    Node of each candidate.
atp : ndarray of int64, shape (C, G)
    ATP of each group at each candidate, capped by the node's unit capacity
    left today; 0 where it holds none.
ent : ndarray of int64, shape (C, G)
    Entry position of each cell, -1 where the node holds none with ATP.
miles, lead : ndarray of float64, shape (C,)
    Great-circle miles to ``dest`` and lead days
    (:func:`~sourcewise.engine._kernels.cost.lead_days`); NaN where not
    computed yet (:func:`~sourcewise.engine._kernels.gather.fill_distances`).
fixed : ndarray of float64, shape (C,)
    Planning cost of a parcel from each candidate: parcel and lateness cost,
    without the parcel for a ``free`` node.
unit : ndarray of float64, shape (C, G)
    Planning cost per unit of each cell
    (:func:`~sourcewise.engine._kernels.cost.unit_costs` plus ``entry_risk``).
capu : ndarray of int64, shape (C,)
    Units each candidate can still take today, shared by all groups.
qty : ndarray of int64, shape (G,)
    Units to fill per group (the order's ``g_qty``).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core import types as nbtypes
from numba.extending import intrinsic
from numba.np.arrayobj import make_array
from numba.np.arrayobj import populate_array

EARTH_RADIUS_MI = 3958.7613

__all__ = [
    "books_of",
    "rows_view",
    "prices_of",
    "LATE_EXCLUDE",
    "LATE_PENALTY_MODE",
    "cost_params",
    "pack_nodes",
    "pack_skus",
    "EARTH_RADIUS_MI",
    "MILE_KM",
    "COST",
    "PRIORITY",
    "NEAREST",
    "HIGH_STOCK",
    "DUAL",
    "STRATEGY_CODES",
    "EPS",
    "CELL_ROWS",
    "CELL_COLS",
    "T_RESERVE",
    "T_FULL",
    "T_FAST_TRIED",
    "T_NO_FAST",
    "T_SNAP",
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


# The geography check's world raster (engine/geography.py): cells of a quarter degree, rows from the
# south pole, columns from the antimeridian; route_one reads a destination's cell (drivers.geo_cell).
CELL_ROWS, CELL_COLS = 720, 1440


# Flags of one tier step (:func:`~sourcewise.engine._kernels.drivers.tier_step`), or-ed together.
# T_RESERVE: reserve the plan's stock and capacity. T_FULL: run the full search when no single
# node wins. T_FAST_TRIED: the caller already ran this very single-node search and it declined.
# T_NO_FAST: the single-node search must not run (its proof assumes no node ships for free).
# T_SNAP: write the ATP the order saw, for its explanation.
T_RESERVE, T_FULL, T_FAST_TRIED, T_NO_FAST, T_SNAP = 1, 2, 4, 8, 16


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
    """Int array ``i`` of a packed state (see :func:`pack_ints`).

    Parameters
    ----------
    ibuf : ndarray of int64
        The packed int buffer, from :func:`pack_ints`.
    i : int
        Position of the array in :data:`PACKED_INTS`.

    Returns
    -------
    view : ndarray of int64
        Writes through it land in the packed state.
    """
    return ibuf[ibuf[2 * i]:ibuf[2 * i + 1]]


@njit(cache=True, inline="always")
def float_array(ibuf, fbuf, i):
    """1-D float array ``i`` of a packed state.

    Parameters
    ----------
    ibuf, fbuf : ndarray
        The packed state: the int64 buffer, whose header :func:`pack_floats`
        filled, and the float64 buffer it returned.
    i : int
        Position of the array in :data:`PACKED_FLOATS`.

    Returns
    -------
    ndarray of float64
        A 1-D view into ``fbuf``.
    """
    h = 2 * _N_INTS + 3 * i
    return fbuf[ibuf[h]:ibuf[h] + ibuf[h + 1]]


@njit(cache=True, inline="always")
def float_matrix(ibuf, fbuf, i):
    """2-D float array ``i`` of a packed state.

    Parameters
    ----------
    ibuf, fbuf, i
        As for :func:`float_array`: the packed state and a position in
        :data:`PACKED_FLOATS`.

    Returns
    -------
    ndarray of float64
        A 2-D view into ``fbuf``, of the shape recorded in the header.
    """
    h = 2 * _N_INTS + 3 * i
    rows, cols = ibuf[h + 1], ibuf[h + 2]
    return rows_view(fbuf[ibuf[h]:ibuf[h] + rows * cols], rows, cols)


@intrinsic
def rows_view(typingctx, flat, rows, cols):
    """``flat.reshape(rows, cols)`` for a 1-D C-contiguous ``flat`` of exactly ``rows * cols`` items.

    Numba's ``reshape`` calls a C helper to work out the strides, which it
    cannot inline; the search kernels unpack the node matrix and the SKU
    table this way on every call, and that call alone cost about 1.5 % of
    ``route_batch``. A contiguous array's strides need no helper: they are
    ``(cols * itemsize, itemsize)``. The view shares ``flat``'s memory
    owner, as a slice would. The caller guarantees the size (the packed
    header recorded it, see :func:`pack_floats`).
    """
    if not (isinstance(flat, nbtypes.Array) and flat.ndim == 1 and flat.layout == "C"):
        return None
    ret = nbtypes.Array(flat.dtype, 2, "C")

    def codegen(context, builder, signature, args):
        src = make_array(flat)(context, builder, args[0])
        intp = context.get_value_type(nbtypes.intp)
        r = context.cast(builder, args[1], signature.args[1], nbtypes.intp)
        c = context.cast(builder, args[2], signature.args[2], nbtypes.intp)
        item = intp(context.get_abi_sizeof(context.get_data_type(flat.dtype)))
        out = make_array(ret)(context, builder)
        populate_array(out, data=src.data, shape=[r, c], strides=[builder.mul(c, item), item], itemsize=item,
                       meminfo=src.meminfo, parent=src.parent)
        # the new view holds its own reference to the memory, like any view numba returns
        view = out._getvalue()
        context.nrt.incref(builder, ret, view)
        return view

    return ret(flat, rows, cols), codegen


def pack_skus(network) -> np.ndarray:
    """The per-SKU float matrix the kernels read as ``skuf``: price (column 0) and weight in kg (column 1)."""
    return np.ascontiguousarray(np.stack([network.price, network.weight_kg], axis=1))


def pack_nodes(network) -> np.ndarray:
    """The per-node float matrix (``NF_*`` columns) of a :class:`~sourcewise.models.network.Network`.

    Parameters
    ----------
    network : Network
        The nodes to pack.

    Returns
    -------
    ndarray of float64, shape (n_nodes, NODE_COLS)
        ``nodef``, as the shared arguments above describe it.
    """
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

    Parameters
    ----------
    policy : Policy
        Carrier charges, split penalty and pool, lateness and store settings.
    nodef : ndarray of float64, shape (N, NODE_COLS)
        The node matrix (shared arguments), for ``P_SHIP_LB``.

    Returns
    -------
    ndarray of float64, shape (N_PARAMS,)
        ``params``, as the shared arguments above describe it.
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
    ``on_hand, safety, reserved, cap_orders, cap_units, mark``.

    Parameters
    ----------
    ibuf : ndarray of int64
        The packed int buffer (:func:`pack_ints`).

    Returns
    -------
    on_hand, safety, reserved, cap_orders, cap_units, mark : ndarray of int64
        Views into ``ibuf``; the shared arguments above describe each.
    """
    return (int_array(ibuf, 0), int_array(ibuf, 1), int_array(ibuf, 2), int_array(ibuf, 3),
            int_array(ibuf, 4), int_array(ibuf, 5))


@njit(cache=True, inline="always")
def prices_of(ibuf, fbuf):
    """The router's float arrays in a packed state (views, :data:`PACKED_FLOATS` order):
    ``nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, sku_lb, bands``.

    Parameters
    ----------
    ibuf, fbuf
        As for :func:`float_array`.

    Returns
    -------
    nodef, skuf, entry_fee, entry_dual, entry_risk, entry_demand, sku_lb, bands : ndarray
        float64 views into ``fbuf``; the shared arguments above describe each.
    """
    return (float_matrix(ibuf, fbuf, 0), float_matrix(ibuf, fbuf, 1), float_array(ibuf, fbuf, 2),
            float_array(ibuf, fbuf, 3), float_array(ibuf, fbuf, 4), float_array(ibuf, fbuf, 5),
            float_matrix(ibuf, fbuf, 6), float_matrix(ibuf, fbuf, 7))
