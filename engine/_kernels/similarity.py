"""Numba kernels for substitute proposals: attribute similarity and top-m selection.

Private: every function here takes arrays and scalars only. The public
wrapper :mod:`sourcewise.engine.substitutes` validates, encodes and converts. Each
kernel has a slow reference twin in ``tests/engine/test_substitutes.py``.

Encodings (built by :class:`sourcewise.engine.substitutes.SubstituteIndex`):

* ``category``, ``brand``: int64 codes per SKU, ``-1`` where unknown.
* tags: either ``tag_bits`` (uint64 per SKU, one bit per distinct tag; used
  when the catalogue has at most 64 distinct tags) or a CSR
  ``tag_ptr``/``tag_codes`` with each SKU's codes unique (and sorted). Both
  give the exact Jaccard index, so the choice is a speed matter only.
* ``price``: float64 per SKU, ``0`` where unknown.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import prange

TAGS_BITS = 1
TAGS_CSR = 2

# uint64 constants: numba would promote a mix of uint64 and int64 operands
# to float64, which has no bitwise operators, so every operand stays uint64.
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U4 = np.uint64(4)
_U56 = np.uint64(56)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(cache=True, inline="always")
def _popcount(x):
    # SWAR popcount; multiplication wraps modulo 2**64 as intended.
    x = x - ((x >> _U1) & _M1)
    x = (x & _M2) + ((x >> _U2) & _M2)
    x = (x + (x >> _U4)) & _M4
    return np.int64((x * _H01) >> _U56)


@njit(cache=True, inline="always")
def _jaccard_counts(inter, la, lb):
    union = la + lb - inter
    if union == 0:
        # Two SKUs without tags share no evidence of similarity: 0, not 1.
        return 0.0
    return inter / union


@njit(cache=True, inline="always")
def _jaccard_bits(a, b):
    inter = _popcount(a & b)
    return _jaccard_counts(inter, _popcount(a), _popcount(b))


@njit(cache=True, inline="always")
def _price_closeness(a, b):
    # exp(-|log(a/b)|) equals min/max for positive prices; the ratio form
    # needs no transcendental call. An unknown (zero) price is no evidence.
    if a <= 0.0 or b <= 0.0:
        return 0.0
    return a / b if a < b else b / a


# Per-SKU helpers take scalars only: passing arrays into a helper called once
# per SKU costs a reference-count round trip per array per call, which made
# the loop twenty times slower than the same code written in line.
@njit(cache=True, inline="always")
def _attr_score(tc, tb, tp, c, b, p, w_category, w_brand, w_price):
    """Weighted category, brand and price similarity of one SKU to the target."""
    s = 0.0
    if tc >= 0 and c == tc:
        s += w_category
    if tb >= 0 and b == tb:
        s += w_brand
    if w_price > 0.0:
        s += w_price * _price_closeness(tp, p)
    return s


@njit(cache=True)
def _target_tags(target, tag_mode, tag_ptr, tag_codes):
    """Membership mask of the target's tag codes in CSR mode (empty otherwise).

    Marking the target's codes once turns each candidate's intersection into
    one lookup per tag, without the unpredictable branches of a sorted merge.
    """
    t0 = tag_ptr[target]
    t1 = tag_ptr[target + 1]
    if tag_mode == TAGS_BITS or t1 == t0:
        return np.zeros(0, np.bool_)
    top = 0
    for e in range(t0, t1):
        if tag_codes[e] > top:
            top = tag_codes[e]
    mark = np.zeros(top + 1, np.bool_)
    for e in range(t0, t1):
        mark[tag_codes[e]] = True
    return mark


@njit(cache=True, inline="always")
def _target_state(target, category, brand, price, tag_mode, tag_bits, tag_ptr, tag_codes):
    """What every SKU is compared with: the target's category, brand, price, tag bits, tag
    marks (with their length) and number of tags."""
    tbits = tag_bits[target] if tag_mode == TAGS_BITS else np.uint64(0)
    mark = _target_tags(target, tag_mode, tag_ptr, tag_codes)
    return (category[target], brand[target], price[target], tbits, mark, mark.shape[0],
            tag_ptr[target + 1] - tag_ptr[target])


@njit(cache=True, inline="always")
def _score(j, t, category, brand, price, tag_mode, tag_bits, tag_ptr, tag_codes, w_category, w_brand, w_tags,
           w_price):
    """Weighted sum of SKU ``j``'s feature similarities to the target ``t`` (explicit listing apart)."""
    tc, tb, tp, tbits, mark, top, lt = t
    s = _attr_score(tc, tb, tp, category[j], brand[j], price[j], w_category, w_brand, w_price)
    if w_tags > 0.0:
        if tag_mode == TAGS_BITS:
            jac = _jaccard_bits(tbits, tag_bits[j])
        else:
            inter = 0
            for e in range(tag_ptr[j], tag_ptr[j + 1]):
                c = tag_codes[e]
                if c < top and mark[c]:
                    inter += 1
            jac = _jaccard_counts(inter, lt, tag_ptr[j + 1] - tag_ptr[j])
        s += w_tags * jac
    return s


@njit(cache=True, inline="always")
def _add_explicit(out, target, explicit_ptr, explicit_idx, weight):
    # The explicit list is short (a handful of ids), so a pass after the main
    # loop is cheaper than testing membership for every SKU.
    for e in range(explicit_ptr[target], explicit_ptr[target + 1]):
        out[explicit_idx[e]] += weight


@njit(cache=True)
def similarity_scores(target, explicit_ptr, explicit_idx, category, brand, tag_mode,
                      tag_bits, tag_ptr, tag_codes, price, w_explicit, w_category,
                      w_brand, w_tags, w_price):
    """Similarity of every SKU to ``target``: weighted mean of feature similarities.

    Features: explicit listing (1 if the SKU is in the target's substitute
    list), same category, same brand, Jaccard of tags, price closeness. The
    result is divided by the sum of the weights, so it lies in [0, 1]; all
    zeros when every weight is zero. The target scores itself too; callers
    exclude it.

    Serial: for typical catalogues one call takes microseconds, less than
    waking a thread pool (far less on a loaded machine, where OpenMP workers
    spin against other processes). :func:`similarity_scores_parallel` is the
    same computation for large catalogues: both score through :func:`_score`.

    Parameters
    ----------
    target : int
        The SKU whose substitutes are sought.
    explicit_ptr, explicit_idx : ndarray of int64
        CSR of the merchant's substitute lists: SKU ``s`` lists
        ``explicit_idx[explicit_ptr[s]:explicit_ptr[s + 1]]``.
    category, brand : ndarray of int64, shape (n,)
        Codes per SKU (see the module docstring), -1 where unknown.
    tag_mode : int
        :data:`TAGS_BITS` or :data:`TAGS_CSR`: which tag encoding to read.
    tag_bits : ndarray of uint64, shape (n,) in bit mode
        One bit per tag; not read in CSR mode.
    tag_ptr, tag_codes : ndarray of int64
        CSR of each SKU's unique tag codes in CSR mode; ``tag_ptr`` has
        ``n + 1`` entries in either mode (all zeros in bit mode).
    price : ndarray of float64, shape (n,)
        Price per SKU, 0 where unknown; its length gives ``n``.
    w_explicit, w_category, w_brand, w_tags, w_price : float
        The features' weights, non-negative.

    Returns
    -------
    ndarray of float64, shape (n,)
        Each SKU's similarity to ``target``, in [0, 1].
    """
    n = price.shape[0]
    out = np.zeros(n)
    total = w_explicit + w_category + w_brand + w_tags + w_price
    if total <= 0.0:
        return out
    inv = 1.0 / total
    t = _target_state(target, category, brand, price, tag_mode, tag_bits, tag_ptr, tag_codes)
    for j in range(n):
        out[j] = _score(j, t, category, brand, price, tag_mode, tag_bits, tag_ptr, tag_codes, w_category, w_brand,
                        w_tags, w_price) * inv
    _add_explicit(out, target, explicit_ptr, explicit_idx, w_explicit * inv)
    return out


@njit(cache=True, parallel=True)
def similarity_scores_parallel(target, explicit_ptr, explicit_idx, category, brand, tag_mode,
                               tag_bits, tag_ptr, tag_codes, price, w_explicit, w_category,
                               w_brand, w_tags, w_price):
    """:func:`similarity_scores` with the SKU loop spread over threads.

    Parameters
    ----------
    target, explicit_ptr, explicit_idx, category, brand, tag_mode, tag_bits, tag_ptr, tag_codes
        As for :func:`similarity_scores`.
    price, w_explicit, w_category, w_brand, w_tags, w_price
        As for :func:`similarity_scores`.

    Returns
    -------
    ndarray of float64, shape (n,)
        The same scores, bit for bit.
    """
    n = price.shape[0]
    out = np.zeros(n)
    weights = w_explicit + w_category + w_brand + w_tags + w_price
    if weights > 0.0:
        inv = 1.0 / weights
        t = _target_state(target, category, brand, price, tag_mode, tag_bits, tag_ptr, tag_codes)
        for j in prange(n):
            out[j] = _score(j, t, category, brand, price, tag_mode, tag_bits, tag_ptr, tag_codes, w_category,
                            w_brand, w_tags, w_price) * inv
        _add_explicit(out, target, explicit_ptr, explicit_idx, w_explicit * inv)
    return out


@njit(cache=True, inline="always")
def _worse(key, a, b):
    # Rank order: higher key first, then lower index, so ties are deterministic.
    ka = key[a]
    kb = key[b]
    return ka < kb or (ka == kb and a > b)


@njit(cache=True, inline="always")
def _sift_down(key, heap, size, c):
    while True:
        left = 2 * c + 1
        if left >= size:
            return
        w = left
        right = left + 1
        if right < size and _worse(key, heap[right], heap[left]):
            w = right
        if _worse(key, heap[w], heap[c]):
            t = heap[w]
            heap[w] = heap[c]
            heap[c] = t
            c = w
        else:
            return


@njit(cache=True)
def top_m(key, eligible, m):
    """Indices of the ``m`` best eligible entries of ``key``, best first.

    Best means larger key, ties broken by lower index. A bounded heap keeps
    this O(n log m): the caller asks for a few more than it needs and comes
    back for more only if stock checks reject them, so a full sort of every
    SKU would be wasted work.

    Parameters
    ----------
    key : ndarray of float64, shape (n,)
        The ranking key, e.g. :func:`similarity_scores`.
    eligible : ndarray of bool, shape (n,)
        Which entries may be returned.
    m : int
        How many to return at most.

    Returns
    -------
    ndarray of int64, shape (min(m, eligible.sum()),)
        Positions in ``key``, best first; empty when ``m <= 0``.
    """
    n = key.shape[0]
    if m <= 0:
        return np.empty(0, np.int64)
    # heap[0] is the worst kept entry, the one a better newcomer replaces.
    heap = np.empty(m, np.int64)
    size = 0
    for i in range(n):
        if not eligible[i]:
            continue
        if size < m:
            heap[size] = i
            c = size
            size += 1
            while c > 0:
                p = (c - 1) // 2
                if _worse(key, heap[c], heap[p]):
                    t = heap[c]
                    heap[c] = heap[p]
                    heap[p] = t
                    c = p
                else:
                    break
        elif _worse(key, heap[0], i):
            heap[0] = i
            _sift_down(key, heap, size, 0)
    out = np.empty(size, np.int64)
    # Popping yields worst first, so fill from the back.
    for r in range(size - 1, -1, -1):
        out[r] = heap[0]
        size -= 1
        heap[0] = heap[size]
        _sift_down(key, heap, size, 0)
    return out
