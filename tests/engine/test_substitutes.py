"""Substitute proposals: kernels against slow twins, ranking rules, validation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine import substitutes
from sourcewise.engine._kernels import similarity as K
from sourcewise.engine.substitutes import (
    BITSET_MAX_TAGS,
    SimilarityWeights,
    SubstituteIndex,
    propose,
    similarity_scores,
)
from sourcewise.models import Network, Sku, ValidationError

# ---------------------------------------------------------------- reference twins


def ref_scores(attrs: list[dict], target: int, w: SimilarityWeights) -> list[float]:
    """Score of every SKU, straight from the raw attribute dicts.

    Works on the un-encoded values (strings, Python sets, prices) so that a
    mismatch catches encoding bugs as well as kernel bugs.
    """
    t = attrs[target]
    we = w.explicit if t["subs"] else 0.0
    wc = w.category if t["category"] is not None else 0.0
    wb = w.brand if t["brand"] is not None else 0.0
    wt = w.tags if t["tags"] else 0.0
    wp = w.price if t["price"] > 0 else 0.0
    total = we + wc + wb + wt + wp
    out = []
    for j, a in enumerate(attrs):
        if total == 0:
            out.append(0.0)
            continue
        s = we * (j in t["subs"])
        s += wc * (t["category"] is not None and a["category"] == t["category"])
        s += wb * (t["brand"] is not None and a["brand"] == t["brand"])
        union = t["tags"] | a["tags"]
        s += wt * (len(t["tags"] & a["tags"]) / len(union) if union else 0.0)
        if t["price"] > 0 and a["price"] > 0:
            s += wp * math.exp(-abs(math.log(t["price"]) - math.log(a["price"])))
        out.append(s / total)
    return out


def ref_propose(attrs, target, stock: set[int], k, w, min_score=0.0):
    sc = ref_scores(attrs, target, w)
    subs = attrs[target]["subs"]
    first = sorted(range(len(subs)), key=lambda p: (-sc[subs[p]], p))
    ranked = [subs[p] for p in first]
    rest = sorted((j for j in range(len(attrs)) if j != target and j not in subs and sc[j] > min_score),
                  key=lambda j: (-sc[j], j))
    return [(j, sc[j]) for j in ranked + rest if j in stock][:k]


def ref_top_m(key, eligible, m):
    return sorted((i for i in range(len(key)) if eligible[i]), key=lambda i: (-key[i], i))[:m]


# ---------------------------------------------------------------- builders


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


def frame_network(rows: list[dict], prices: dict[str, float] | None = None):
    """Network of the SKUs named in ``rows`` plus the frame itself."""
    prices = prices or {}
    ids = [r["sku"] for r in rows]
    net = Network.build([], [Sku(s, 1.0, prices.get(s, 0.0)) for s in ids])
    return net, pd.DataFrame(rows)


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


def everything(_: int) -> bool:
    return True


# ---------------------------------------------------------------- kernels vs twins


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
            np.testing.assert_allclose(similarity_scores(index, t, w), ref_scores(attrs, t, w),
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
        np.testing.assert_allclose(similarity_scores(index, t, w), ref_scores(attrs, t, w),
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
        np.testing.assert_allclose(similarity_scores(index, t), ref_scores(attrs, t, SimilarityWeights()),
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
            np.testing.assert_allclose(similarity_scores(idx, t, w), ref_scores(attrs, t, w),
                                       rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_top_m_matches_reference(seed):
    rng = np.random.default_rng(seed)
    for _ in range(30):
        n = int(rng.integers(0, 40))
        key = np.round(rng.random(n), 1)  # coarse values so ties are common
        eligible = rng.random(n) < 0.7
        m = int(rng.integers(1, 12))
        assert K.top_m(key, eligible, m).tolist() == ref_top_m(key, eligible, m)
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
        want = ref_propose(attrs, t, stock, k, w)
        assert [j for j, _ in got] == [j for j, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-12)


# ---------------------------------------------------------------- ranking rules


def test_explicit_substitutes_come_first():
    net, df = frame_network([
        {"sku": "A", "substitutes": "Z;Y", "category": "tv", "brand": "b1", "tags": "oled;55in"},
        {"sku": "TWIN", "category": "tv", "brand": "b1", "tags": "oled;55in"},  # perfect match
        {"sku": "Y", "category": "radio"},
        {"sku": "Z", "category": "tv"},
    ], prices={"A": 1000, "TWIN": 1000, "Y": 30, "Z": 400})
    index = SubstituteIndex.from_frame(net, df)
    got = propose(index, net.sku_index["A"], everything, k=3)
    # Z outscores Y on category and price, so it leads the explicit tier;
    # the perfect attribute twin comes only after every explicit one.
    assert [net.skus[j].sku for j, _ in got] == ["Z", "Y", "TWIN"]
    assert all(0.0 <= s <= 1.0 for _, s in got)


def test_explicit_ties_keep_list_order():
    net, df = frame_network([{"sku": "A", "substitutes": "C;B"}, {"sku": "B"}, {"sku": "C"}])
    index = SubstituteIndex.from_frame(net, df)
    assert [j for j, _ in propose(index, 0, everything)] == [2, 1]


def test_same_category_and_brand_beats_different():
    net, df = frame_network([
        {"sku": "T", "category": "jeans", "brand": "levi"},
        {"sku": "OTHER", "category": "shirts", "brand": "gap"},
        {"sku": "CAT", "category": "jeans", "brand": "gap"},
        {"sku": "BOTH", "category": "Jeans", "brand": "LEVI"},
    ], prices={"T": 50, "OTHER": 50, "CAT": 50, "BOTH": 50})
    index = SubstituteIndex.from_frame(net, df)
    got = propose(index, 0, everything, k=3)
    assert [net.skus[j].sku for j, _ in got] == ["BOTH", "CAT", "OTHER"]
    assert got[0][1] == pytest.approx(1.0)
    assert got[0][1] > got[1][1] > got[2][1]


def test_closer_price_ranks_higher():
    prices = {"T": 100, "FAR": 300, "NEAR": 110, "CHEAP": 80, "FREE": 0}
    net, df = frame_network([{"sku": s, "category": "c"} for s in prices], prices=prices)
    index = SubstituteIndex.from_frame(net, df)
    got = propose(index, 0, everything, k=4)
    assert [net.skus[j].sku for j, _ in got] == ["NEAR", "CHEAP", "FAR", "FREE"]
    # Price closeness is symmetric in the ratio: 100 vs 300 equals 300 vs 100.
    s = similarity_scores(index, 0, SimilarityWeights(category=0.0))
    assert s[net.sku_index["FAR"]] == pytest.approx(1 / 3)
    assert s[net.sku_index["FREE"]] == 0.0  # an unknown price is no evidence


def test_empty_index_ranks_by_price_only():
    net = Network.build([], [Sku(s, 1.0, p) for s, p in [("T", 20), ("A", 40), ("B", 21), ("C", 0)]])
    index = SubstituteIndex.empty(net)
    assert [j for j, _ in propose(index, 0, everything, k=5)] == [2, 1]  # C (price 0) shares nothing
    assert propose(index, 3, everything) == []  # a target without a price has no evidence at all


def test_out_of_stock_skipped_and_stock_checked_lazily():
    prices = {"T": 100, **{f"P{i}": 100 + 10 * i for i in range(1, 40)}}
    net, df = frame_network([{"sku": s} for s in prices], prices=prices)
    index = SubstituteIndex.from_frame(net, df)
    out_of_stock = {net.sku_index["P1"], net.sku_index["P3"]}
    calls: list[int] = []

    def has_stock(j: int) -> bool:
        calls.append(j)
        return j not in out_of_stock

    got = propose(index, 0, has_stock, k=2)
    assert [net.skus[j].sku for j, _ in got] == ["P2", "P4"]
    # Checked in rank order, and no further than needed.
    assert [net.skus[j].sku for j in calls] == ["P1", "P2", "P3", "P4"]


def test_more_rounds_when_the_first_batch_is_out_of_stock():
    prices = {"T": 100, **{f"P{i}": 100 + i for i in range(1, 60)}}
    net, df = frame_network([{"sku": s} for s in prices], prices=prices)
    index = SubstituteIndex.from_frame(net, df)
    last = net.sku_index["P59"]
    calls: list[int] = []

    def has_stock(j: int) -> bool:
        calls.append(j)
        return j == last

    assert [j for j, _ in propose(index, 0, has_stock, k=3)] == [last]
    assert len(calls) == len(set(calls)) == 59 and 0 not in calls


def test_k_respected():
    net, df = frame_network([{"sku": f"S{i}", "category": "c"} for i in range(10)])
    index = SubstituteIndex.from_frame(net, df)
    for k in range(0, 12):
        assert len(propose(index, 0, everything, k=k)) == min(k, 9)

    def boom(_: int) -> bool:
        raise AssertionError("k=0 must not check stock")

    assert propose(index, 0, boom, k=0) == []


def test_min_score_filters_attribute_matches_but_not_explicit():
    net, df = frame_network([
        {"sku": "T", "substitutes": "X", "category": "a"},
        {"sku": "X", "category": "zzz"},
        {"sku": "U", "category": "zzz"},
        {"sku": "V", "category": "a"},
    ])
    index = SubstituteIndex.from_frame(net, df)
    # U shares nothing with T: score 0, never proposed; X is explicit, always eligible.
    assert [net.skus[j].sku for j, _ in propose(index, 0, everything, k=5)] == ["X", "V"]
    assert [net.skus[j].sku for j, _ in propose(index, 0, everything, k=5, min_score=0.9)] == ["X"]


def test_list_cells_and_normalisation():
    net, df = frame_network([
        {"sku": "A", "substitutes": ["B", " ", "B"], "tags": ["Red ", "BIG"], "category": 7.0},
        {"sku": "B", "substitutes": None, "tags": "red; big ;", "category": 7},
    ])
    index = SubstituteIndex.from_frame(net, df)
    assert index.explicit_of(0).tolist() == [1]
    assert index.tags == ("big", "red")
    assert index.categories == ("7",)
    assert index.category.tolist() == [0, 0]
    assert index.tag_bits[0] == index.tag_bits[1] != 0


def test_price_column_falls_back_to_network_price():
    net, df = frame_network([{"sku": "A", "price": 12.5}, {"sku": "B", "price": None},
                             {"sku": "C", "price": " "}], prices={"A": 1.0, "B": 2.0, "C": 3.0})
    assert SubstituteIndex.from_frame(net, df).price.tolist() == [12.5, 2.0, 3.0]


def test_index_arrays_are_read_only():
    net, df = frame_network([{"sku": "A", "category": "c"}])
    index = SubstituteIndex.from_frame(net, df)
    with pytest.raises(ValueError):
        index.category[0] = 3


# ---------------------------------------------------------------- validation


def test_validation_lists_every_bad_row():
    net = Network.build([], [Sku(s) for s in ("A", "B", "C")])
    df = pd.DataFrame([
        {"sku": "A", "substitutes": "B;NOPE;A", "price": 1.0},   # unknown + itself
        {"sku": "B", "substitutes": "C", "price": -2.0},         # bad price
        {"sku": "GHOST", "substitutes": "ALSO_NOPE", "price": 1},  # unknown sku and substitute
        {"sku": "A", "substitutes": None, "price": "cheap"},     # duplicate + bad price
        {"sku": " ", "substitutes": "C", "price": float("inf")},  # empty sku + bad price
    ])
    with pytest.raises(ValidationError) as exc:
        SubstituteIndex.from_frame(net, df)
    got = {(p.table, p.row, p.field) for p in exc.value.problems}
    assert got == {
        ("skus", 0, "substitutes"), ("skus", 1, "price"), ("skus", 2, "sku"),
        ("skus", 2, "substitutes"), ("skus", 3, "sku"), ("skus", 3, "price"),
        ("skus", 4, "sku"), ("skus", 4, "price"),
    }
    reasons = [p.reason for p in exc.value.problems if p.row == 0]
    assert len(reasons) == 2
    assert any("NOPE" in r for r in reasons) and any("itself" in r for r in reasons)


def test_validation_requires_sku_column():
    net = Network.build([], [Sku("A")])
    with pytest.raises(ValidationError) as exc:
        SubstituteIndex.from_frame(net, pd.DataFrame({"category": ["x"]}))
    assert [(p.row, p.field) for p in exc.value.problems] == [(None, "sku")]


def test_weights_validated_together():
    with pytest.raises(ValidationError) as exc:
        SimilarityWeights(explicit=-1.0, category=float("nan"), brand=float("inf"), tags=True,
                          price="1")  # type: ignore[arg-type]
    assert {p.field for p in exc.value.problems} == {"explicit", "category", "brand", "tags", "price"}
    SimilarityWeights(explicit=0, category=2, brand=0.0, tags=1, price=np.float64(0.5))


def test_propose_arguments_validated_together():
    net, df = frame_network([{"sku": "A"}, {"sku": "B"}])
    index = SubstituteIndex.from_frame(net, df)
    with pytest.raises(ValidationError) as exc:
        propose(index, 5, "nope", k=-1, weights={"price": 1}, min_score=float("nan"))  # type: ignore[arg-type]
    assert {p.field for p in exc.value.problems} == {"sku", "k", "has_stock", "weights", "min_score"}
    with pytest.raises(ValidationError):
        similarity_scores(index, True)  # type: ignore[arg-type]
