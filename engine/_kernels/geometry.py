"""Great-circle geometry: distances in miles on the unit sphere, proximity scores, unit vectors.

The conventions of these kernels are in the package docstring (:mod:`sourcewise.engine._kernels`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba import prange

from sourcewise.engine._kernels.layout import EARTH_RADIUS_MI
from sourcewise.engine._kernels.layout import NF_X
from sourcewise.engine._kernels.layout import NF_Y
from sourcewise.engine._kernels.layout import NF_Z

# fdlibm's rational approximation of asin on [0, 0.5): asin(x) = x + x * p(x^2) / q(x^2)
_PS = (1.66666666666666657415e-01, -3.25565818622400915405e-01, 2.01212532134862925881e-01,
       -4.00555345006794114027e-02, 7.91534994289814532176e-04, 3.47933107596021167570e-05)


_QS = (-2.40339491173441421878e+00, 2.02094576023350569471e+00, -6.88283971605453293030e-01,
       7.70381505559019352791e-02)


@njit(cache=True, inline="always")
def fast_asin(x):
    """``asin`` of ``0 <= x <= 1``, within an ulp of libm's.

    A full search prices every candidate node's exact distance, one asin
    each, and libm's call was a third of the whole candidate scan. Below
    0.5 (arcs under about 4,100 miles: any two points of the contiguous US)
    this evaluates fdlibm's rational approximation inline, in about a third
    of the time; above, libm. ``x + x * w`` with ``w >= 0`` is never below
    ``x``, so the chord still bounds the arc from below.

    Parameters
    ----------
    x : float
        The sine, in ``[0, 1]``.

    Returns
    -------
    float
        The angle in radians, in ``[0, pi / 2]``.
    """
    if x >= 0.5:
        return np.arcsin(x)
    t = x * x
    p = t * (_PS[0] + t * (_PS[1] + t * (_PS[2] + t * (_PS[3] + t * (_PS[4] + t * _PS[5])))))
    q = 1.0 + t * (_QS[0] + t * (_QS[1] + t * (_QS[2] + t * _QS[3])))
    return x + x * (p / q)


@njit(cache=True, inline="always")
def arc_miles(ax, ay, az, bx, by, bz):
    """Great-circle distance from the chord between unit vectors: one asin,
    and accurate for nearby points where acos(dot) is not.

    Parameters
    ----------
    ax, ay, az : float
        The first point's unit vector.
    bx, by, bz : float
        The second point's unit vector.

    Returns
    -------
    float
        Miles along the surface of a sphere of radius :data:`EARTH_RADIUS_MI`.
    """
    dx = ax - bx
    dy = ay - by
    dz = az - bz
    half = 0.5 * np.sqrt(dx * dx + dy * dy + dz * dz)
    if half > 1.0:
        half = 1.0
    return 2.0 * EARTH_RADIUS_MI * fast_asin(half)


@njit(cache=True)
def distance_miles(dest, xyz, idx):
    """:func:`arc_miles` from one point to each of the chosen nodes.

    Parameters
    ----------
    dest : ndarray of float64, shape (3,)
        The customer's unit vector.
    xyz : ndarray of float64, shape (N, 3) or wider
        Per node, its unit vector in the first three columns (``nodef`` will
        do: ``NF_X``, ``NF_Y``, ``NF_Z`` are columns 0 to 2).
    idx : ndarray of int64, shape (K,)
        The nodes to measure, as rows of ``xyz``.

    Returns
    -------
    ndarray of float64, shape (K,)
        Great-circle miles from ``dest`` to node ``idx[i]``.
    """
    out = np.empty(idx.shape[0])
    for i in range(idx.shape[0]):
        n = idx[i]
        out[i] = arc_miles(dest[0], dest[1], dest[2], xyz[n, 0], xyz[n, 1], xyz[n, 2])
    return out


@njit(cache=True, parallel=True, fastmath=True)
def proximity_scores(dest_xyz, node_xyz):
    """Dot products of every destination with every node: larger is nearer.

    Parameters
    ----------
    dest_xyz : ndarray of float64, shape (M, 3)
        Destination unit vectors.
    node_xyz : ndarray of float64, shape (N, 3) or wider
        Node unit vectors in the first three columns.

    Returns
    -------
    ndarray of float64, shape (M, N)
        ``out[i, j]``, the cosine of the angle between destination ``i`` and
        node ``j``.
    """
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


@njit(cache=True, inline="always")
def chord_miles(dest, nodef, n):
    """Straight-line (chord) miles to node ``n``: never more than the great-circle distance.

    Parameters
    ----------
    dest : ndarray of float64, shape (3,)
        The customer's unit vector.
    nodef : ndarray of float64, shape (N, NODE_COLS)
        The node matrix (shared arguments, :mod:`~sourcewise.engine._kernels.layout`).
    n : int
        The node.

    Returns
    -------
    float
        Miles through the sphere, a lower bound for :func:`arc_miles`.
    """
    dx = dest[0] - nodef[n, NF_X]
    dy = dest[1] - nodef[n, NF_Y]
    dz = dest[2] - nodef[n, NF_Z]
    return EARTH_RADIUS_MI * np.sqrt(dx * dx + dy * dy + dz * dz)


@njit(cache=True, inline="always")
def unit_vector(lat, lon):
    """The point's unit vector, computed as :func:`sourcewise.engine.router.unit_vector` computes it.

    Parameters
    ----------
    lat, lon : float
        Latitude and longitude in degrees.

    Returns
    -------
    ndarray of float64, shape (3,)
        ``(cos lat cos lon, cos lat sin lon, sin lat)``.
    """
    la = math.radians(lat)
    lo = math.radians(lon)
    cl = math.cos(la)
    v = np.empty(3)
    v[0] = cl * math.cos(lo)
    v[1] = cl * math.sin(lo)
    v[2] = math.sin(la)
    return v
