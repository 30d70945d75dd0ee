"""Scoring kernels (engine.scoring / engine._scoring_kernels) against slow reference twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine import scoring
from sourcewise.engine._kernels import scoring as SK
from sourcewise.models import Network, Node, Sku, ValidationError
from sourcewise.models.network import unit_vectors
from tests import naive


def ref_score(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Cosine of the central angle, by spherical trigonometry (no unit vectors)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    return math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(math.radians(lon2 - lon1))


def ref_scores(dlat, dlon, nlat, nlon) -> np.ndarray:
    return np.array([[ref_score(a, b, c, d) for c, d in zip(nlat, nlon, strict=True)]
                     for a, b in zip(dlat, dlon, strict=True)])


def random_points(rng, n, world=False):
    if world:
        return rng.uniform(-90, 90, n), rng.uniform(-180, 180, n)
    return rng.uniform(25, 49, n), rng.uniform(-124, -67, n)


@pytest.mark.parametrize("m,n", [(1, 1), (7, 13), (40, 300), (400, 400)])
def test_scores_match_reference(rng, m, n):
    dlat, dlon = random_points(rng, m, world=True)
    nlat, nlon = random_points(rng, n, world=True)
    got = scoring.proximity_scores(dlat, dlon, (nlat, nlon))
    np.testing.assert_allclose(got, ref_scores(dlat, dlon, nlat, nlon), rtol=0, atol=1e-12)


def test_parallel_and_serial_kernels_agree(rng):
    dlat, dlon = random_points(rng, 300)
    nx, ny, nz = scoring.node_vectors(random_points(rng, 500))
    dest = unit_vectors(dlat, dlon)
    a = np.empty((300, 500))
    b = np.empty((300, 500))
    SK.scores_into(dest, nx, ny, nz, a)
    SK.scores_into_serial(dest, nx, ny, nz, b)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


def test_node_forms_agree(rng):
    nlat, nlon = random_points(rng, 25)
    nodes = [Node(f"N{i}", "warehouse", float(a), float(b)) for i, (a, b) in enumerate(zip(nlat, nlon, strict=True))]
    net = Network.build(nodes, [Sku("S")])
    dlat, dlon = random_points(rng, 9)
    by_net = scoring.proximity_scores(dlat, dlon, net)
    by_xyz = scoring.proximity_scores(dlat, dlon, unit_vectors(nlat, nlon))
    by_latlon = scoring.proximity_scores(dlat, dlon, (nlat, nlon))
    np.testing.assert_array_equal(by_net, by_xyz)
    np.testing.assert_array_equal(by_net, by_latlon)
    assert scoring.node_vectors(net) is scoring.node_vectors(net)  # cached per network


def test_float32_and_out_buffer(rng):
    dlat, dlon = random_points(rng, 50)
    nodes = random_points(rng, 60)
    want = ref_scores(dlat, dlon, *nodes)
    buf = np.full((50, 60), np.nan, np.float32)
    got = scoring.proximity_scores(dlat, dlon, nodes, out=buf, dtype=np.float32)
    assert got is buf
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_scores_rank_like_haversine(rng):
    dlat, dlon = random_points(rng, 20)
    nlat, nlon = random_points(rng, 50)
    s = scoring.proximity_scores(dlat, dlon, (nlat, nlon))
    for i in range(20):
        d = np.array([naive.haversine_miles(dlat[i], dlon[i], a, b) for a, b in zip(nlat, nlon, strict=True)])
        np.testing.assert_array_equal(np.argsort(-s[i], kind="stable"), np.argsort(d, kind="stable"))


def test_scores_to_miles_matches_haversine(rng):
    dlat, dlon = random_points(rng, 30, world=True)
    nlat, nlon = random_points(rng, 40, world=True)
    miles = scoring.scores_to_miles(scoring.proximity_scores(dlat, dlon, (nlat, nlon)))
    want = np.array([[naive.haversine_miles(a, b, c, d) for c, d in zip(nlat, nlon, strict=True)]
                     for a, b in zip(dlat, dlon, strict=True)])
    np.testing.assert_allclose(miles, want, rtol=1e-7, atol=1e-3)
    assert scoring.scores_to_miles(np.array([1.0]))[0] == 0.0
    assert scoring.scores_to_miles(np.array([-1.0]))[0] == pytest.approx(math.pi * scoring.EARTH_RADIUS_MI)


def _ref_nearest(dlat, dlon, nlat, nlon, allowed, k):
    """Sorted distances of the k nearest allowed nodes, padded with inf."""
    out = []
    for a, b in zip(dlat, dlon, strict=True):
        d = sorted(naive.haversine_miles(a, b, c, e) for c, e, ok in zip(nlat, nlon, allowed, strict=True) if ok)
        out.append((d + [math.inf] * k)[:k])
    return np.array(out)


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (10, 30, 5), (50, 200, 32), (5, 3, 8)])
def test_nearest_nodes_match_reference(rng, m, n, k):
    dlat, dlon = random_points(rng, m)
    nlat, nlon = random_points(rng, n)
    allowed = rng.random(n) < 0.7
    idx, miles = scoring.nearest_nodes(dlat, dlon, (nlat, nlon), k, allowed=allowed)
    want = _ref_nearest(dlat, dlon, nlat, nlon, allowed, k)
    np.testing.assert_allclose(miles, want, rtol=1e-7, atol=1e-3)
    assert ((idx == -1) == np.isinf(want)).all()
    for i in range(m):
        real = idx[i][idx[i] >= 0]
        assert allowed[real].all()
        assert len(set(real.tolist())) == len(real)
        d = [naive.haversine_miles(dlat[i], dlon[i], nlat[j], nlon[j]) for j in real]
        np.testing.assert_allclose(d, miles[i][: len(real)], rtol=1e-7, atol=1e-3)


def test_nearest_nodes_ties_keep_lower_index():
    nlat = np.array([40.0, 41.0, 40.0, 40.0])
    nlon = np.array([-100.0, -100.0, -100.0, -100.0])
    idx, miles = scoring.nearest_nodes([40.0], [-100.0], (nlat, nlon), 3)
    assert idx[0].tolist() == [0, 2, 3]
    assert np.allclose(miles[0], 0.0, atol=1e-3)  # same point: 1 - cos cancels to ~1e-16


def test_nearest_nodes_uses_network_usable():
    nodes = [Node("A", "store", 40.0, -100.0, enabled=False), Node("B", "store", 41.0, -100.0),
             Node("C", "store", 45.0, -100.0, ships=False), Node("D", "store", 30.0, -100.0)]
    net = Network.build(nodes, [Sku("S")])
    idx, _ = scoring.nearest_nodes([40.0], [-100.0], net, 4)
    assert idx[0].tolist() == [1, 3, -1, -1]


@given(st.integers(1, 6), st.integers(1, 40), st.integers(1, 10), st.integers(0, 2**32 - 1))
def test_nearest_nodes_property(m, n, k, seed):
    rng = np.random.default_rng(seed)
    dlat, dlon = random_points(rng, m, world=True)
    nlat, nlon = random_points(rng, n, world=True)
    idx, miles = scoring.nearest_nodes(dlat, dlon, (nlat, nlon), k)
    np.testing.assert_allclose(miles, _ref_nearest(dlat, dlon, nlat, nlon, np.ones(n, bool), k),
                               rtol=1e-7, atol=1e-3)
    for row in miles:
        real = row[np.isfinite(row)]
        assert (np.diff(real) >= -1e-9).all()  # nearest first


def test_bad_input_lists_every_row():
    with pytest.raises(ValidationError) as e:
        scoring.proximity_scores([10.0, 95.0, np.nan], [0.0, 0.0, 200.0], (np.array([0.0]), np.array([0.0])))
    rows = {(p.row, p.field) for p in e.value.problems}
    assert rows == {(1, "lat"), (2, "lat"), (2, "lon")}
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0, 2.0], (np.array([0.0]), np.array([0.0])))
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0], np.ones((3, 2)))
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0], np.ones((3, 3)))  # not unit vectors
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0], (np.array([0.0]), np.array([0.0])), out=np.empty((2, 1)))
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0], (np.array([0.0]), np.array([0.0])), dtype=np.int64)
    with pytest.raises(ValidationError):
        scoring.nearest_nodes([1.0], [1.0], (np.array([0.0]), np.array([0.0])), 0)


def test_empty_inputs():
    s = scoring.proximity_scores([], [], (np.array([1.0, 2.0]), np.array([3.0, 4.0])))
    assert s.shape == (0, 2)
    idx, miles = scoring.nearest_nodes([1.0], [1.0], (np.array([]), np.array([])), 2)
    assert idx.tolist() == [[-1, -1]] and np.isinf(miles).all()
