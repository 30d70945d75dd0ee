"""Substitute proposals: ranking rules, validation.

The kernels against their twins: ``tests/engine/kernels/test_similarity.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sourcewise.engine.substitutes import SimilarityWeights
from sourcewise.engine.substitutes import SubstituteIndex
from sourcewise.engine.substitutes import propose
from sourcewise.engine.substitutes import similarity_scores
from sourcewise.models import Network
from sourcewise.models import Sku
from sourcewise.models import ValidationError

# ---------------------------------------------------------------- builders


def frame_network(rows: list[dict], prices: dict[str, float] | None = None):
    """Network of the SKUs named in ``rows`` plus the frame itself."""
    prices = prices or {}
    ids = [r["sku"] for r in rows]
    net = Network.build([], [Sku(s, 1.0, prices.get(s, 0.0)) for s in ids])
    return net, pd.DataFrame(rows)


def everything(_: int) -> bool:
    return True


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
