"""Order x node proximity scoring: the public face of the scoring kernels.

A proximity score is the dot product of two unit vectors on the sphere: the
cosine of the central angle between a destination and a node. It is larger
for nearer nodes, costs three multiply-adds per pair, and converts exactly to
a great-circle distance with :func:`scores_to_miles`. The functions here
validate and convert their inputs, then call the numba kernels of
:mod:`sourcewise.engine._kernels.scoring`.

Examples
--------
>>> import numpy as np
>>> from sourcewise.engine.scoring import proximity_scores, nearest_nodes
>>> s = proximity_scores([40.7], [-74.0], (np.array([42.4, 34.1]), np.array([-71.1, -118.2])))
>>> s.shape
(1, 2)
>>> idx, miles = nearest_nodes([40.7], [-74.0], (np.array([42.4, 34.1]), np.array([-71.1, -118.2])), k=1)
>>> int(idx[0, 0])
0
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence

import numpy as np

from sourcewise.engine._kernels import scoring as SK
from sourcewise.models.errors import Collector
from sourcewise.models.network import Network
from sourcewise.models.network import unit_vectors

EARTH_RADIUS_MI = 3958.7613
"""Mean Earth radius in miles (the routing kernels use the same value)."""

NodesLike = Network | np.ndarray | tuple[Sequence[float], Sequence[float]]
"""A :class:`~sourcewise.models.network.Network`, an ``(n, 3)`` array of unit vectors, or ``(lat, lon)`` arrays."""

PARALLEL_MIN_PAIRS = 1 << 17
"""Below this many pairs scoring runs on one thread: a parallel launch costs more than it saves."""

_SOA_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _soa(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.ascontiguousarray(xyz[:, i], dtype=np.float64) for i in range(3))  # type: ignore[return-value]


def node_vectors(nodes: NodesLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node unit vectors as three contiguous coordinate arrays (x, y, z).

    Parameters
    ----------
    nodes : Network or ndarray of shape (n, 3) or (lat, lon)
        A network (its split coordinates are cached for the network's
        lifetime), unit vectors, or node latitudes and longitudes in degrees.

    Returns
    -------
    nx, ny, nz : ndarray of float64, shape (n,)

    Raises
    ------
    ValidationError
        For non-finite or out-of-range coordinates, or an array of the wrong shape.
    """
    if isinstance(nodes, Network):
        cached = _SOA_CACHE.get(nodes)
        if cached is None:
            cached = _soa(nodes.xyz)
            _SOA_CACHE[nodes] = cached
        return cached
    col = Collector()
    if isinstance(nodes, tuple) and len(nodes) == 2:
        lat, lon = _check_latlon(nodes[0], nodes[1], "nodes", col)
        col.raise_if_any()
        return _soa(unit_vectors(lat, lon).reshape(-1, 3))
    xyz = np.asarray(nodes, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        col.add("nodes", None, "xyz", f"must have shape (n, 3), got {xyz.shape}")
        col.raise_if_any()
    norm = np.sqrt((xyz * xyz).sum(axis=1))
    bad = ~np.isfinite(norm) | (np.abs(norm - 1.0) > 1e-6)
    for i in np.flatnonzero(bad)[:100]:
        col.add("nodes", int(i), "xyz", f"must be a finite unit vector, got {xyz[i].tolist()!r}")
    col.raise_if_any()
    return _soa(xyz)


def _check_latlon(lat: Sequence[float] | np.ndarray, lon: Sequence[float] | np.ndarray, table: str,
                  col: Collector) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes as float64 arrays, every bad row reported to ``col``."""
    la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    if la.ndim != 1 or lo.ndim != 1 or la.shape != lo.shape:
        col.add(table, None, "lat/lon", f"must be 1-d arrays of one length, got {la.shape} and {lo.shape}")
        return la.ravel(), lo.ravel()
    for i in np.flatnonzero(~np.isfinite(la) | (np.abs(la) > 90.0))[:100]:
        col.add(table, int(i), "lat", f"must be a finite number in [-90, 90], got {la[i]!r}")
    for i in np.flatnonzero(~np.isfinite(lo) | (np.abs(lo) > 180.0))[:100]:
        col.add(table, int(i), "lon", f"must be a finite number in [-180, 180], got {lo[i]!r}")
    return la, lo


def _dest_vectors(dest_lat, dest_lon) -> np.ndarray:
    col = Collector()
    la, lo = _check_latlon(dest_lat, dest_lon, "orders", col)
    col.raise_if_any()
    return unit_vectors(la, lo).reshape(-1, 3)


def proximity_scores(dest_lat: Sequence[float] | np.ndarray, dest_lon: Sequence[float] | np.ndarray,
                     nodes: NodesLike, *, out: np.ndarray | None = None,
                     dtype: type = np.float64) -> np.ndarray:
    """Score every destination against every node: larger is nearer.

    Parameters
    ----------
    dest_lat, dest_lon : array_like of float, shape (m,)
        Destinations in degrees.
    nodes : Network or ndarray of shape (n, 3) or (lat, lon)
        See :func:`node_vectors`.
    out : ndarray, optional
        C-contiguous ``(m, n)`` array of ``dtype`` to write into; reusing one
        buffer across batches avoids fresh page faults on every call.
    dtype : {numpy.float64, numpy.float32}
        Output precision. float32 halves memory traffic but cannot separate
        nodes within a few miles of each other (``1 - cos`` falls below its
        resolution), so keep float64 for ranking.

    Returns
    -------
    ndarray of shape (m, n)
        ``cos`` of the central angle of each (destination, node) pair.

    Raises
    ------
    ValidationError
        Bad coordinates (every offending row listed), or an ``out`` of the
        wrong shape, dtype or layout.
    """
    dest = _dest_vectors(dest_lat, dest_lon)
    nx, ny, nz = node_vectors(nodes)
    dt = np.dtype(dtype)
    col = Collector()
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        col.add("scores", None, "dtype", f"must be float64 or float32, got {dt}")
    shape = (dest.shape[0], nx.shape[0])
    if out is None:
        col.raise_if_any()
        out = np.empty(shape, dtype=dt)
    elif out.shape != shape or out.dtype != dt or not out.flags.c_contiguous or not out.flags.writeable:
        col.add("scores", None, "out",
                f"must be a writable C-contiguous {dt} array of shape {shape}, got {out.dtype} {out.shape}")
    col.raise_if_any()
    if shape[0] and shape[1]:
        kernel = SK.scores_into if shape[0] * shape[1] >= PARALLEL_MIN_PAIRS else SK.scores_into_serial
        kernel(dest, nx, ny, nz, out)
    return out


def scores_to_miles(scores: np.ndarray) -> np.ndarray:
    """Great-circle miles from proximity scores, ``2 R asin(sqrt((1 - s) / 2))``.

    Parameters
    ----------
    scores : ndarray, shape (m, n) or (n,)
        As returned by :func:`proximity_scores`.

    Returns
    -------
    ndarray of float64, same shape

    Notes
    -----
    ``1 - s`` cancels for very close pairs: the absolute error is about
    ``R * 1e-16 / d`` miles at distance ``d``, i.e. centimetres at a mile.
    """
    s = np.asarray(scores, dtype=np.float64)
    s2 = np.ascontiguousarray(s.reshape(1, -1) if s.ndim == 1 else s)
    if s2.ndim != 2:
        col = Collector()
        col.add("scores", None, "shape", f"must be 1-d or 2-d, got {s.shape}")
        col.raise_if_any()
    out = np.empty(s2.shape)
    if s2.size:
        SK.scores_to_miles(s2, EARTH_RADIUS_MI, out)
    return out.reshape(s.shape)


def nearest_nodes(dest_lat: Sequence[float] | np.ndarray, dest_lon: Sequence[float] | np.ndarray,
                  nodes: NodesLike, k: int, *, allowed: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest allowed nodes of every destination, nearest first.

    Scoring and selection are fused, so no ``(m, n)`` matrix is built; this
    is the spatial candidate pruning a router applies before costing.

    Parameters
    ----------
    dest_lat, dest_lon : array_like of float, shape (m,)
    nodes : Network or ndarray of shape (n, 3) or (lat, lon)
    k : int
        How many nodes per destination, >= 1.
    allowed : ndarray of bool, shape (n,), optional
        Nodes that may be chosen; defaults to ``network.usable`` for a
        network and to every node otherwise.

    Returns
    -------
    idx : ndarray of int64, shape (m, k)
        Node positions, nearest first; ties keep the lower position first.
        -1 where fewer than ``k`` nodes are allowed.
    miles : ndarray of float64, shape (m, k)
        Great-circle distance; ``inf`` where ``idx`` is -1.
    """
    dest = _dest_vectors(dest_lat, dest_lon)
    nx, ny, nz = node_vectors(nodes)
    n = nx.shape[0]
    col = Collector()
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        col.add("scores", None, "k", f"must be an integer >= 1, got {k!r}")
    if allowed is None:
        allowed = nodes.usable if isinstance(nodes, Network) else np.ones(n, np.bool_)
    allowed = np.asarray(allowed)
    if allowed.shape != (n,) or allowed.dtype != np.bool_:
        col.add("scores", None, "allowed", f"must be a bool array of shape ({n},), got {allowed.dtype} {allowed.shape}")
    col.raise_if_any()
    m = dest.shape[0]
    k = int(k)
    idx = np.empty((m, k), np.int64)
    score = np.empty((m, k), np.float64)
    if m:
        penalty = np.where(allowed, 0.0, -8.0)
        n_chunks = max(1, min(m, 4 * (os.cpu_count() or 1)))
        SK.nearest_k(dest, nx, ny, nz, penalty, k, n_chunks, idx, score)
    miles = np.full((m, k), np.inf)
    ok = idx >= 0
    if ok.any():
        miles[ok] = scores_to_miles(score[ok])
    return idx, miles
