"""Similarity kernels (`_kernels.similarity`, through `engine.substitutes`) against their twins in ``tests/naive.py``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine import substitutes
from sourcewise.engine._kernels import similarity as K
from sourcewise.engine.substitutes import BITSET_MAX_TAGS
from sourcewise.engine.substitutes import SimilarityWeights
from sourcewise.engine.substitutes import SubstituteIndex
from sourcewise.engine.substitutes import propose
from sourcewise.engine.substitutes import similarity_scores
from sourcewise.models import Network
from sourcewise.models import Sku
from tests import naive


def random_catalogue(rng: np.random.Generator, n: int, n_tags: int):
    """A network, a ``skus`` frame and the raw attributes the frame encodes.

    Rows are shuffled and some SKUs are left out of the frame, so alignment
    with ``network.skus`` is exercised; categories and tags vary in case and
    spacing, which the index must normalise.
    """
    net_prices = [0.0 if rng.random() < 0.1 else float(rng.choice([5, 9.99, 10, 20, 50, 120]))
                  for _ in range(n)]
    net = Network.build([], [Sku(f"S{j}", 1.0, net_prices[j]) for j in range(n)])
    cats = ["shoes", "Shirts", "hats"]
    brands = ["acme", "Globex", "initech", "umbrella"]
    pool = [f"tag{c}" for c in range(n_tags)]
    attrs, rows = [], []
    for j in range(n):
        listed = rng.random() < 0.85
        cat = None if rng.random() < 0.2 else str(rng.choice(cats))
        brand = None if rng.random() < 0.2 else str(rng.choice(brands))
        tags = {str(x) for x in rng.choice(pool, size=int(rng.integers(0, 5)), replace=False)}
        subs = []
        if rng.random() < 0.3:
            subs = [int(x) for x in rng.choice([x for x in range(n) if x != j],
                                               size=int(rng.integers(1, 4)), replace=False)]
        price = net_prices[j]
        price_cell = np.nan
        if rng.random() < 0.5:
            price = float(rng.choice([0.0, 7.5, 10, 11, 40]))
            price_cell = price
        if not listed:
            attrs.append({"subs": [], "category": None, "brand": None, "tags": set(),
                          "price": net_prices[j]})
            continue
        attrs.append({"subs": subs, "category": None if cat is None else cat.casefold(),
                      "brand": None if brand is None else brand.casefold(), "tags": tags,
                      "price": price})
        rows.append({
            "sku": f"S{j}",
            "substitutes": " ; ".join(f"S{x}" for x in subs) if subs else None,
            "category": None if cat is None else f" {cat.upper() if rng.random() < 0.3 else cat} ",
            "brand": brand,
            "tags": ";".join(t.upper() if rng.random() < 0.3 else t for t in tags) + (";" if tags else ""),
            "price": price_cell,
        })
    df = pd.DataFrame(rows).sample(frac=1.0, random_state=int(rng.integers(1 << 31)))
    return net, df.reset_index(drop=True), attrs


def to_csr(index: SubstituteIndex) -> SubstituteIndex:
    """The same index with its tag bitset re-encoded as a CSR."""
    per = [[c for c in range(64) if (int(b) >> c) & 1] for b in index.tag_bits]
    ptr = np.zeros(index.n_skus + 1, np.int64)
    ptr[1:] = np.cumsum([len(p) for p in per])
    codes = np.array([c for p in per for c in p], np.int64)
    for a in (ptr, codes):
        a.setflags(write=False)
    return dataclasses.replace(index, tag_mode=K.TAGS_CSR, tag_bits=index.tag_bits[:0],
                               tag_ptr=ptr, tag_codes=codes)


@pytest.mark.parametrize("n_tags", [10, BITSET_MAX_TAGS + 40])
@pytest.mark.parametrize("seed", range(3))
def test_scores_match_reference(seed, n_tags):
    rng = np.random.default_rng(seed)
    net, df, attrs = random_catalogue(rng, 60, n_tags)
    index = SubstituteIndex.from_frame(net, df)
    assert index.tag_mode == (K.TAGS_BITS if n_tags <= BITSET_MAX_TAGS else K.TAGS_CSR)
    weights = [SimilarityWeights(), SimilarityWeights(2.0, 0.0, 1.0, 3.0, 0.5),
               SimilarityWeights(0, 0, 0, 0, 0)]
    for w in weights:
        for t in range(net.n_skus):
            np.testing.assert_allclose(similarity_scores(index, t, w), naive.similarity_scores(attrs, t, w),
                                       rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_tags", [10, BITSET_MAX_TAGS + 40])
def test_parallel_kernel_matches_reference(monkeypatch, n_tags):
    rng = np.random.default_rng(11)
    net, df, attrs = random_catalogue(rng, 80, n_tags)
    index = SubstituteIndex.from_frame(net, df)
    monkeypatch.setattr(substitutes, "PARALLEL_MIN_SKUS", 0)
    w = SimilarityWeights()
    # A few targets only: each parallel call wakes the thread pool.
    for t in range(0, net.n_skus, 10):
        np.testing.assert_allclose(similarity_scores(index, t, w), naive.similarity_scores(attrs, t, w),
                                   rtol=1e-12, atol=1e-15)


def test_bitset_and_csr_encodings_agree():
    rng = np.random.default_rng(7)
    net, df, _ = random_catalogue(rng, 50, 20)
    bits = SubstituteIndex.from_frame(net, df)
    assert bits.tag_mode == K.TAGS_BITS
    csr = to_csr(bits)
    for t in range(net.n_skus):
        np.testing.assert_array_equal(similarity_scores(bits, t), similarity_scores(csr, t))


@pytest.mark.parametrize("n_tags", [BITSET_MAX_TAGS, BITSET_MAX_TAGS + 1])
def test_tag_encoding_boundary(n_tags):
    # Every SKU carries a sliding window of tags, so the highest bit is used.
    n = n_tags
    net = Network.build([], [Sku(f"S{j}") for j in range(n)])
    tags = [{f"t{(j + d) % n_tags:03d}" for d in range(3)} for j in range(n)]
    df = pd.DataFrame({"sku": [f"S{j}" for j in range(n)], "tags": [";".join(t) for t in tags]})
    index = SubstituteIndex.from_frame(net, df)
    assert index.tag_mode == (K.TAGS_BITS if n_tags <= BITSET_MAX_TAGS else K.TAGS_CSR)
    assert len(index.tags) == n_tags
    attrs = [{"subs": [], "category": None, "brand": None, "tags": tags[j], "price": 0.0}
             for j in range(n)]
    for t in (0, n - 1, n // 2):
        np.testing.assert_allclose(similarity_scores(index, t), naive.similarity_scores(attrs, t, SimilarityWeights()),
                                   rtol=1e-12)


@given(st.lists(st.frozensets(st.sampled_from("abcdefgh")), min_size=2, max_size=12),
       st.lists(st.floats(0.0, 1000.0, allow_nan=False), min_size=12, max_size=12))
def test_jaccard_and_price_are_exact(tag_sets, prices):
    n = len(tag_sets)
    net = Network.build([], [Sku(f"S{j}", 0.0, prices[j]) for j in range(n)])
    df = pd.DataFrame({"sku": [f"S{j}" for j in range(n)], "tags": [";".join(t) for t in tag_sets]})
    index = SubstituteIndex.from_frame(net, df)
    attrs = [{"subs": [], "category": None, "brand": None, "tags": set(tag_sets[j]),
              "price": prices[j]} for j in range(n)]
    w = SimilarityWeights(tags=1.0, price=1.0)
    for idx in (index, to_csr(index)):
        for t in range(n):
            np.testing.assert_allclose(similarity_scores(idx, t, w), naive.similarity_scores(attrs, t, w),
                                       rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_top_m_matches_reference(seed):
    rng = np.random.default_rng(seed)
    for _ in range(30):
        n = int(rng.integers(0, 40))
        key = np.round(rng.random(n), 1)  # coarse values so ties are common
        eligible = rng.random(n) < 0.7
        m = int(rng.integers(1, 12))
        assert K.top_m(key, eligible, m).tolist() == naive.top_m(key, eligible, m)
    assert K.top_m(np.ones(3), np.ones(3, np.bool_), 0).size == 0


@pytest.mark.parametrize("seed", range(3))
def test_propose_matches_reference(seed):
    rng = np.random.default_rng(50 + seed)
    net, df, attrs = random_catalogue(rng, 40, 12)
    index = SubstituteIndex.from_frame(net, df)
    w = SimilarityWeights()
    for t in range(net.n_skus):
        stock = {j for j in range(net.n_skus) if rng.random() < 0.4}
        k = int(rng.integers(0, 6))
        got = propose(index, t, lambda j, stock=stock: j in stock, k=k)
        want = naive.propose(attrs, t, stock, k, w)
        assert [j for j, _ in got] == [j for j, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-12)

