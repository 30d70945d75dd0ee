"""Scoring kernels (`_kernels.scoring`, through `engine.scoring`) against their twins in ``tests/naive.py``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine import scoring
from sourcewise.engine._kernels import scoring as SK
from sourcewise.models.network import unit_vectors
from tests import naive
from tests.conftest import random_points


@pytest.mark.parametrize("m,n", [(1, 1), (7, 13), (40, 300), (400, 400)])
def test_scores_match_reference(rng, m, n):
    dlat, dlon = random_points(rng, m, world=True)
    nlat, nlon = random_points(rng, n, world=True)
    got = scoring.proximity_scores(dlat, dlon, (nlat, nlon))
    np.testing.assert_allclose(got, naive.proximity_scores(dlat, dlon, nlat, nlon), rtol=0, atol=1e-12)


def test_parallel_and_serial_kernels_agree(rng):
    dlat, dlon = random_points(rng, 300)
    nx, ny, nz = scoring.node_vectors(random_points(rng, 500))
    dest = unit_vectors(dlat, dlon)
    a = np.empty((300, 500))
    b = np.empty((300, 500))
    SK.scores_into(dest, nx, ny, nz, a)
    SK.scores_into_serial(dest, nx, ny, nz, b)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


def test_float32_and_out_buffer(rng):
    dlat, dlon = random_points(rng, 50)
    nodes = random_points(rng, 60)
    want = naive.proximity_scores(dlat, dlon, *nodes)
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


@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (10, 30, 5), (50, 200, 32), (5, 3, 8)])
def test_nearest_nodes_match_reference(rng, m, n, k):
    dlat, dlon = random_points(rng, m)
    nlat, nlon = random_points(rng, n)
    allowed = rng.random(n) < 0.7
    idx, miles = scoring.nearest_nodes(dlat, dlon, (nlat, nlon), k, allowed=allowed)
    want = naive.nearest_k(dlat, dlon, nlat, nlon, allowed, k)
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


@given(st.integers(1, 6), st.integers(1, 40), st.integers(1, 10), st.integers(0, 2**32 - 1))
def test_nearest_nodes_property(m, n, k, seed):
    rng = np.random.default_rng(seed)
    dlat, dlon = random_points(rng, m, world=True)
    nlat, nlon = random_points(rng, n, world=True)
    idx, miles = scoring.nearest_nodes(dlat, dlon, (nlat, nlon), k)
    np.testing.assert_allclose(miles, naive.nearest_k(dlat, dlon, nlat, nlon, np.ones(n, bool), k),
                               rtol=1e-7, atol=1e-3)
    for row in miles:
        real = row[np.isfinite(row)]
        assert (np.diff(real) >= -1e-9).all()  # nearest first

