"""Numba kernels for order x node proximity scoring.

Private: arrays and scalars only. :mod:`sourcewise.engine.scoring` validates and
converts. Every kernel has a slow reference twin in ``tests/engine/test_scoring.py``.

The score of an (order, node) pair is the dot product of their unit vectors
on the sphere, ``cos`` of the central angle: larger is nearer, and the
great-circle distance is ``2 R asin(sqrt((1 - score) / 2))``. Node
coordinates are taken as three separate contiguous arrays (structure of
arrays) so the inner loop is a straight multiply-add over memory that LLVM
turns into SIMD code; the row loop runs in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import prange


@njit(cache=True, fastmath=True, inline="always")
def _score_row(dest_xyz, i, nx, ny, nz, row):
    """Scores of destination ``i`` against every node, into ``row``."""
    x = dest_xyz[i, 0]
    y = dest_xyz[i, 1]
    z = dest_xyz[i, 2]
    for j in range(nx.shape[0]):
        row[j] = x * nx[j] + y * ny[j] + z * nz[j]


@njit(cache=True, parallel=True, fastmath=True)
def scores_into(dest_xyz, nx, ny, nz, out):
    """``out[i, j] = dest_xyz[i] . (nx[j], ny[j], nz[j])`` for every pair.

    ``out`` (float32 or float64, C-contiguous, shape ``(m, n)``) is written
    in place, so a caller that scores batch after batch reuses one buffer
    instead of paying for fresh pages each time.

    Parameters
    ----------
    dest_xyz : ndarray of float64, shape (m, 3)
        Destination unit vectors, one per row.
    nx, ny, nz : ndarray of float64, shape (n,)
        The nodes' unit vectors, one contiguous array per coordinate.
    out : ndarray of float32 or float64, shape (m, n)
        C-contiguous; receives the scores.
    """
    for i in prange(dest_xyz.shape[0]):
        _score_row(dest_xyz, i, nx, ny, nz, out[i])


@njit(cache=True, fastmath=True)
def scores_into_serial(dest_xyz, nx, ny, nz, out):
    """:func:`scores_into` on one thread, for inputs too small to repay a parallel launch.

    Parameters
    ----------
    dest_xyz, nx, ny, nz, out
        As for :func:`scores_into`.
    """
    for i in range(dest_xyz.shape[0]):
        _score_row(dest_xyz, i, nx, ny, nz, out[i])


_FLOOR = -2.0
"""Below every real score (scores lie in [-1, 1]); marks empty top-k slots."""


@njit(cache=True, inline="always")
def _worse(sa, ia, sb, ib):
    """Whether entry a ranks below entry b: lower score, or equal score and higher index."""
    return sa < sb or (sa == sb and ia > ib)


@njit(cache=True)
def _sift_down(sc, idx, p, k):
    """Restore the min-heap (root = worst entry) below position ``p``."""
    while True:
        c = 2 * p + 1
        if c >= k:
            return
        if c + 1 < k and _worse(sc[c + 1], idx[c + 1], sc[c], idx[c]):
            c += 1
        if not _worse(sc[c], idx[c], sc[p], idx[p]):
            return
        ts = sc[p]
        sc[p] = sc[c]
        sc[c] = ts
        ti = idx[p]
        idx[p] = idx[c]
        idx[c] = ti
        p = c


@njit(cache=True, parallel=True, fastmath=True)
def nearest_k(dest_xyz, nx, ny, nz, penalty, k, n_chunks, out_idx, out_score):
    """The ``k`` highest-scoring allowed nodes of every destination, best first.

    Fused scoring and selection: no ``(m, n)`` matrix is written. Each row is
    scored into a small per-chunk buffer with a branch-free SIMD loop
    (``penalty`` is 0 for allowed nodes and -8 for the others, pushing them
    below :data:`_FLOOR`), then one pass keeps the best ``k`` in a min-heap
    whose root is the current threshold, so almost every node costs one
    compare. Ties keep the lower node index first. Slots no allowed node
    fills keep index -1 and score :data:`_FLOOR`.

    Parameters
    ----------
    dest_xyz : float64 (m, 3)
        Destination unit vectors, one per row.
    nx, ny, nz : float64 (n,)
        The nodes' unit vectors, one array per coordinate.
    penalty : float64 (n,)
        0 for an allowed node, -8 for one that may not be chosen.
    k : int
        How many nodes to keep per destination; at least 1.
    n_chunks : int
        Rows are split into this many chunks for the parallel loop.
    out_idx : int64 (m, k)
        Receives each row's nodes, best first; -1 in unfilled slots.
    out_score : float64 (m, k)
        Receives their scores; :data:`_FLOOR` in unfilled slots.
    """
    m = dest_xyz.shape[0]
    n = nx.shape[0]
    for ch in prange(n_chunks):
        lo = ch * m // n_chunks
        hi = (ch + 1) * m // n_chunks
        buf = np.empty(n)
        sc = np.empty(k)
        idx = np.empty(k, np.int64)
        for i in range(lo, hi):
            x = dest_xyz[i, 0]
            y = dest_xyz[i, 1]
            z = dest_xyz[i, 2]
            for j in range(n):
                buf[j] = x * nx[j] + y * ny[j] + z * nz[j] + penalty[j]
            # heap of k entries, all empty (below every real score; empty
            # slots carry index n so a real score always beats them)
            for t in range(k):
                sc[t] = _FLOOR
                idx[t] = n
            for j in range(n):
                s = buf[j]
                if s > sc[0]:
                    sc[0] = s
                    idx[0] = j
                    _sift_down(sc, idx, 0, k)
            # heap sort: repeatedly move the worst entry to the back
            for last in range(k - 1, 0, -1):
                ts = sc[0]
                sc[0] = sc[last]
                sc[last] = ts
                ti = idx[0]
                idx[0] = idx[last]
                idx[last] = ti
                _sift_down(sc, idx, 0, last)
            for t in range(k):
                if idx[t] == n:
                    out_idx[i, t] = -1
                    out_score[i, t] = _FLOOR
                else:
                    out_idx[i, t] = idx[t]
                    out_score[i, t] = sc[t]


@njit(cache=True, parallel=True, fastmath=True)
def scores_to_miles(scores, radius, out):
    """Great-circle distance from dot-product scores, ``2 R asin(sqrt((1 - s) / 2))``.

    Parameters
    ----------
    scores : ndarray of float32 or float64, shape (m, n)
        Scores from :func:`scores_into` or :func:`nearest_k`; clipped to
        [-1, 1] so rounding past either end gives 0 or the antipode.
    radius : float
        The sphere's radius, in the unit wanted: for miles,
        :data:`~sourcewise.engine._kernels.layout.EARTH_RADIUS_MI`.
    out : ndarray of float64, shape (m, n)
        Receives the distances.
    """
    m, n = scores.shape
    for i in prange(m):
        for j in range(n):
            h = 0.5 * (1.0 - scores[i, j])
            if h < 0.0:
                h = 0.0
            elif h > 1.0:
                h = 1.0
            out[i, j] = 2.0 * radius * np.arcsin(np.sqrt(h))
