"""Substitute proposals for lines that cannot be sourced anywhere.

The engine *proposes* substitutes; it never swaps them into an order. A
proposal is a ranked list of ``(sku_index, score)``:

1. SKUs the merchant listed explicitly in the target's ``substitutes``
   column come first, in descending score, ties in list order;
2. then every other SKU, by descending attribute similarity (same category,
   same brand, Jaccard of tags, price closeness), ties by SKU position.

Only SKUs that ``has_stock`` confirms are returned, and ``has_stock`` is
called lazily in rank order because a stock check can be expensive (a
network-wide ATP sum or a vendor call).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sourcewise.engine._kernels import similarity as S
from sourcewise.models.errors import Collector
from sourcewise.models.errors import SelfChecking
from sourcewise.models.errors import check_non_negative_fields
from sourcewise.models.network import Network
from sourcewise.models.network import readonly

# At most this many distinct tags are encoded as bits of one uint64 per SKU;
# beyond it a CSR of sorted tag codes keeps memory proportional to the tags.
BITSET_MAX_TAGS = 64

# Below this many SKUs the serial kernel wins: a call costs ~10 ns per SKU,
# while waking the thread pool costs tens of microseconds idle and far more
# when other processes share the two cores (measured: no gain at 100k on a
# loaded 2-core machine).
PARALLEL_MIN_SKUS = 200_000

_TABLE = "skus"
_LIST_SEP = ";"


@dataclass(frozen=True)
class SimilarityWeights(SelfChecking):
    """Relative weights of the similarity features.

    Scores are the weighted mean of per-feature similarities in [0, 1].
    Features the target SKU lacks (no category, no tags, no explicit list,
    unknown price, ...) are left out of the mean, so a candidate matching
    everything that is known about the target scores 1.

    Parameters
    ----------
    explicit : float
        Weight of being on the target's explicit ``substitutes`` list. Explicit
        substitutes rank first whatever the weights; this weight only moves
        their score.
    category : float
        Weight of sharing the target's category.
    brand : float
        Weight of sharing the target's brand.
    tags : float
        Weight of the Jaccard index of the tag sets.
    price : float
        Weight of price closeness ``min(p, q) / max(p, q)``
        (equal to ``exp(-|log(p / q)|)``).

    Raises
    ------
    ValidationError
        Listing every weight that is not a finite number >= 0.
    """

    explicit: float = 1.0
    category: float = 0.35
    brand: float = 0.15
    tags: float = 0.3
    price: float = 0.2

    def validate_into(self, col: Collector) -> None:
        """Append every weight that is not a finite number >= 0 (NumPy scalars count) to ``col``."""
        check_non_negative_fields(self, col, "substitute_weights", None,
                                  numbers=(int, float, np.integer, np.floating))



@dataclass(frozen=True, eq=False)
class SubstituteIndex:
    """Columnar SKU attributes aligned with ``network.skus``.

    Build it with :meth:`from_frame` or :meth:`empty`. Arrays are read-only
    and are passed to the kernels as they are.

    Attributes
    ----------
    n_skus : int
        Number of SKUs in the network.
    explicit_ptr, explicit_idx : ndarray of int64
        CSR of explicit substitutes: SKU ``s`` lists
        ``explicit_idx[explicit_ptr[s]:explicit_ptr[s + 1]]`` in the merchant's order.
    category, brand : ndarray of int64
        Codes into :attr:`categories` / :attr:`brands`; -1 where unknown.
    tag_mode : int
        ``_similarity.TAGS_BITS`` or ``_similarity.TAGS_CSR``.
    tag_bits : ndarray of uint64
        One bit per tag (bit ``c`` is :attr:`tags` ``[c]``); length ``n_skus``
        in bit mode, 0 otherwise.
    tag_ptr, tag_codes : ndarray of int64
        CSR of unique, sorted tag codes per SKU in CSR mode; ``tag_ptr`` is all zeros
        in bit mode.
    price : ndarray of float64
        Price per SKU, 0 where unknown.
    categories, brands, tags : tuple of str
        Vocabularies, normalised (stripped, case-folded) and sorted.
    """

    n_skus: int
    explicit_ptr: np.ndarray
    explicit_idx: np.ndarray
    category: np.ndarray
    brand: np.ndarray
    tag_mode: int
    tag_bits: np.ndarray
    tag_ptr: np.ndarray
    tag_codes: np.ndarray
    price: np.ndarray
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def empty(cls, network: Network) -> SubstituteIndex:
        """An index without attributes: candidates rank by price closeness only.

        Parameters
        ----------
        network : Network
            Supplies the SKU count and prices.
        """
        n = network.n_skus
        return cls(
            n_skus=n,
            explicit_ptr=readonly(np.zeros(n + 1, np.int64)),
            explicit_idx=readonly(np.zeros(0, np.int64)),
            category=readonly(np.full(n, -1, np.int64)),
            brand=readonly(np.full(n, -1, np.int64)),
            tag_mode=S.TAGS_BITS,
            tag_bits=readonly(np.zeros(n, np.uint64)),
            tag_ptr=readonly(np.zeros(n + 1, np.int64)),
            tag_codes=readonly(np.zeros(0, np.int64)),
            price=readonly(np.array(network.price, dtype=np.float64)),
        )

    @classmethod
    def from_frame(cls, network: Network, skus_df: pd.DataFrame) -> SubstituteIndex:
        """Index from a ``skus`` table.

        Only ``sku`` is required. Optional columns:

        ``substitutes``
            SKU ids separated by ``;`` (or a list), in order of preference.
            Blank entries are ignored and repeats dropped.
        ``category``, ``brand``
            Free text, compared after stripping and case-folding.
        ``tags``
            Free tags separated by ``;`` (or a list), normalised like categories.
        ``price``
            Number >= 0; missing values fall back to the network's price.

        SKUs of the network absent from the table have no attributes; rows are
        identified by 0-based position, as in :mod:`sourcewise.models.tables`.

        Parameters
        ----------
        network : Network
            Defines the SKU positions the index is aligned with.
        skus_df : DataFrame
            The ``skus`` table, typically the one the network was built from.

        Raises
        ------
        ValidationError
            One error listing every problem: missing ``sku`` column, empty,
            unknown or duplicate ``sku``, unknown ids in ``substitutes``, a SKU
            listing itself, bad prices.
        """
        col = Collector()
        if "sku" not in skus_df.columns:
            col.add(_TABLE, None, "sku", "required column is missing")
            col.raise_if_any()
        n = network.n_skus
        rows = len(skus_df)
        pos = np.full(rows, -1, np.int64)
        owner = np.full(n, -1, np.int64)  # frame row that describes each SKU
        for i, v in enumerate(skus_df["sku"].tolist()):
            sid = _text(v)
            if sid is None:
                col.add(_TABLE, i, "sku", "must not be empty")
                continue
            s = network.sku_index.get(sid, -1)
            if s < 0:
                col.add(_TABLE, i, "sku", f"unknown sku {sid!r}")
            elif owner[s] >= 0:
                col.add(_TABLE, i, "sku", f"duplicate sku {sid!r} (first at row {owner[s]})")
            else:
                owner[s] = i
                pos[i] = s

        lists: list[list[int]] = [[] for _ in range(n)]
        if "substitutes" in skus_df.columns:
            for i, v in enumerate(skus_df["substitutes"].tolist()):
                own = int(pos[i])
                seen: set[int] = set()
                for tok in _tokens(v, strip_case=False):
                    t = network.sku_index.get(tok, -1)
                    if t < 0:
                        col.add(_TABLE, i, "substitutes", f"unknown sku {tok!r}")
                    elif t == own:
                        col.add(_TABLE, i, "substitutes", f"sku {tok!r} lists itself")
                    elif own >= 0 and t not in seen:
                        seen.add(t)
                        lists[own].append(t)

        price = np.array(network.price, dtype=np.float64)
        if "price" in skus_df.columns:
            raw = skus_df["price"]
            vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            # A blank cell is a missing price, not a malformed one.
            missing = (raw.isna() | (raw.astype(str).str.strip() == "")).to_numpy()
            for i in np.flatnonzero(~missing & ~(np.isfinite(vals) & (vals >= 0))):
                col.add(_TABLE, int(i), "price", f"must be a finite number >= 0, got {raw.iloc[i]!r}")
            take = (pos >= 0) & ~missing & np.isfinite(vals) & (vals >= 0)
            price[pos[take]] = vals[take]
        col.raise_if_any()

        category, categories = _codes(skus_df, "category", pos, n)
        brand, brands = _codes(skus_df, "brand", pos, n)
        tag_sets: list[set[str]] = [set() for _ in range(n)]
        if "tags" in skus_df.columns:
            for i, v in enumerate(skus_df["tags"].tolist()):
                if pos[i] >= 0:
                    tag_sets[pos[i]] = set(_tokens(v, strip_case=True))
        vocab = tuple(sorted(set().union(*tag_sets)))
        code = {t: c for c, t in enumerate(vocab)}
        if len(vocab) <= BITSET_MAX_TAGS:
            mode = S.TAGS_BITS
            bits = np.zeros(n, np.uint64)
            for s, ts in enumerate(tag_sets):
                b = 0
                for t in ts:
                    b |= 1 << code[t]
                bits[s] = b
            tag_ptr = np.zeros(n + 1, np.int64)
            tag_codes = np.zeros(0, np.int64)
        else:
            mode = S.TAGS_CSR
            bits = np.zeros(0, np.uint64)
            # Unique codes per SKU (the kernel counts each once); sorted so the
            # encoding does not depend on set iteration order.
            per = [sorted(code[t] for t in ts) for ts in tag_sets]
            tag_ptr = np.zeros(n + 1, np.int64)
            tag_ptr[1:] = np.cumsum([len(p) for p in per])
            tag_codes = np.fromiter((c for p in per for c in p), np.int64, count=int(tag_ptr[-1]))

        explicit_ptr = np.zeros(n + 1, np.int64)
        explicit_ptr[1:] = np.cumsum([len(x) for x in lists])
        explicit_idx = np.fromiter((t for x in lists for t in x), np.int64,
                                   count=int(explicit_ptr[-1]))
        return cls(
            n_skus=n,
            explicit_ptr=readonly(explicit_ptr),
            explicit_idx=readonly(explicit_idx),
            category=readonly(category),
            brand=readonly(brand),
            tag_mode=mode,
            tag_bits=readonly(bits),
            tag_ptr=readonly(tag_ptr),
            tag_codes=readonly(tag_codes),
            price=readonly(price),
            categories=categories,
            brands=brands,
            tags=vocab,
        )

    def explicit_of(self, sku: int) -> np.ndarray:
        """Explicit substitutes of SKU position ``sku``, in the merchant's order."""
        return self.explicit_idx[self.explicit_ptr[sku]:self.explicit_ptr[sku + 1]]


def _text(v: object) -> str | None:
    """A scalar cell as stripped text, ``None`` when missing or blank."""
    if v is None:
        return None
    if isinstance(v, str):
        t = v.strip()
        return t or None
    if isinstance(v, float | np.floating):
        if math.isnan(v):
            return None
        # pandas turns an integer column with gaps into floats; keep "7", not "7.0".
        if float(v).is_integer():
            return str(int(v))
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    t = str(v).strip()
    return t or None


def _tokens(v: object, *, strip_case: bool) -> list[str]:
    """Items of a ``;``-separated cell (or a list cell), blanks dropped, order kept."""
    if isinstance(v, list | tuple | np.ndarray):
        items = [_text(x) for x in v]
    else:
        t = _text(v)
        items = [] if t is None else [x.strip() for x in t.split(_LIST_SEP)]
    out = [x for x in items if x]
    if strip_case:
        out = [x.casefold() for x in out]
    return out


def _codes(df: pd.DataFrame, name: str, pos: np.ndarray, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes of a normalised text column, aligned with the network's SKUs."""
    out = np.full(n, -1, np.int64)
    if name not in df.columns:
        return out, ()
    text = [_text(v) for v in df[name].tolist()]
    norm = [None if t is None else t.casefold() for t in text]
    vocab = tuple(sorted({t for t, p in zip(norm, pos, strict=True) if t is not None and p >= 0}))
    code = {t: c for c, t in enumerate(vocab)}
    for t, p in zip(norm, pos, strict=True):
        if t is not None and p >= 0:
            out[p] = code[t]
    return out, vocab


def _effective_weights(index: SubstituteIndex, sku: int, w: SimilarityWeights) -> tuple[float, ...]:
    """Weights with the features the target lacks set to zero.

    Without this, a target with no category would cap every candidate's
    score below 1 for lack of a feature nobody can match.
    """
    has_tags = (index.tag_bits[sku] != 0 if index.tag_mode == S.TAGS_BITS
                else index.tag_ptr[sku + 1] > index.tag_ptr[sku])
    return (
        float(w.explicit) if index.explicit_ptr[sku + 1] > index.explicit_ptr[sku] else 0.0,
        float(w.category) if index.category[sku] >= 0 else 0.0,
        float(w.brand) if index.brand[sku] >= 0 else 0.0,
        float(w.tags) if has_tags else 0.0,
        float(w.price) if index.price[sku] > 0 else 0.0,
    )


def _check_sku(index: SubstituteIndex, sku: object, col: Collector) -> int:
    if isinstance(sku, bool) or not isinstance(sku, int | np.integer) or not 0 <= sku < index.n_skus:
        col.add("substitutes", None, "sku", f"must be a SKU position in [0, {index.n_skus}), got {sku!r}")
        return -1
    return int(sku)


def similarity_scores(index: SubstituteIndex, sku: int,
                      weights: SimilarityWeights | None = None) -> np.ndarray:
    """Similarity of every SKU to ``sku``, in [0, 1].

    Parameters
    ----------
    index : SubstituteIndex
    sku : int
        Position of the target SKU in ``network.skus``.
    weights : SimilarityWeights, optional
        Defaults to ``SimilarityWeights()``.

    Returns
    -------
    ndarray of float64, shape (n_skus,)
        Includes the target itself; see :func:`propose` for a ranked list.
    """
    col = Collector()
    s = _check_sku(index, sku, col)
    col.raise_if_any()
    w = _effective_weights(index, s, weights or SimilarityWeights())
    kernel = (S.similarity_scores_parallel if index.n_skus >= PARALLEL_MIN_SKUS
              else S.similarity_scores)
    return kernel(
        s, index.explicit_ptr, index.explicit_idx, index.category, index.brand,
        int(index.tag_mode), index.tag_bits, index.tag_ptr, index.tag_codes, index.price, *w,
    )


def propose(index: SubstituteIndex, sku: int, has_stock: Callable[[int], bool], k: int = 3,
            weights: SimilarityWeights | None = None, *,
            min_score: float = 0.0) -> list[tuple[int, float]]:
    """Up to ``k`` in-stock alternatives to ``sku``, best first.

    Parameters
    ----------
    index : SubstituteIndex
    sku : int
        Position of the SKU that cannot be sourced.
    has_stock : callable
        ``has_stock(sku_index) -> bool``. Called lazily, in rank order, at most
        once per candidate, and never for ``sku`` itself, until ``k`` are found.
    k : int
        Maximum number of proposals, >= 0.
    weights : SimilarityWeights, optional
        Defaults to ``SimilarityWeights()``.
    min_score : float
        Candidates not on the explicit list need a score strictly above this,
        so SKUs sharing nothing with the target are never proposed. Explicit
        substitutes are always eligible: the merchant vouched for them.

    Returns
    -------
    list of (int, float)
        ``(sku_index, score)``. Explicit substitutes first (by score, ties in
        list order), then the rest by score (ties by SKU position).

    Raises
    ------
    ValidationError
        Listing every bad argument.
    """
    col = Collector()
    s = _check_sku(index, sku, col)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        col.add("substitutes", None, "k", f"must be an integer >= 0, got {k!r}")
    if not callable(has_stock):
        col.add("substitutes", None, "has_stock", "must be callable")
    if weights is not None and not isinstance(weights, SimilarityWeights):
        col.add("substitutes", None, "weights", f"must be SimilarityWeights, got {type(weights).__name__}")
    if (isinstance(min_score, bool) or not isinstance(min_score, int | float | np.integer | np.floating)
            or not math.isfinite(min_score)):
        col.add("substitutes", None, "min_score", f"must be a finite number, got {min_score!r}")
    col.raise_if_any()
    k = int(k)
    if k == 0:
        return []
    scores = similarity_scores(index, s, weights)
    out: list[tuple[int, float]] = []

    explicit = index.explicit_of(s)
    # Explicit lists are short: a Python sort is fine, and stable on list order.
    for t in sorted(explicit.tolist(), key=lambda t: -scores[t]):
        if has_stock(t):
            out.append((t, float(scores[t])))
            if len(out) == k:
                return out

    eligible = scores > min_score
    eligible[s] = False
    eligible[explicit] = False
    # Ask the kernel for a few more than needed; come back (doubling) only if
    # stock checks reject them, so a typical call never ranks the catalogue.
    m = max(2 * k, 8)
    while True:
        batch = S.top_m(scores, eligible, m)
        if batch.size == 0:
            return out
        eligible[batch] = False
        for t in batch.tolist():
            if has_stock(t):
                out.append((t, float(scores[t])))
                if len(out) == k:
                    return out
        m *= 2
