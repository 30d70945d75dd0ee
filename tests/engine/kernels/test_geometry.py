"""Geometry kernels (`_kernels.geometry`) against their twins in ``tests/naive.py``."""

from __future__ import annotations

import math

import numpy as np

from sourcewise.engine import _kernels as K
from sourcewise.models.network import unit_vectors
from tests import naive


def test_distance_matches_haversine(rng):
    lat = rng.uniform(-89, 89, 200)
    lon = rng.uniform(-180, 180, 200)
    xyz = unit_vectors(lat, lon)
    for i in range(50):
        got = K.distance_miles(xyz[i], xyz, np.arange(200))
        want = [naive.haversine_miles(lat[i], lon[i], lat[j], lon[j]) for j in range(200)]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)


def test_proximity_scores_rank_like_distance(rng):
    lat, lon = rng.uniform(25, 49, 30), rng.uniform(-124, -67, 30)
    nlat, nlon = rng.uniform(25, 49, 40), rng.uniform(-124, -67, 40)
    scores = K.proximity_scores(unit_vectors(lat, lon), unit_vectors(nlat, nlon))
    for i in range(30):
        d = [naive.haversine_miles(lat[i], lon[i], nlat[j], nlon[j]) for j in range(40)]
        np.testing.assert_array_equal(np.argsort(-scores[i]), np.argsort(d))


def test_kernel_unit_vector_is_the_routers_bit_for_bit(rng):
    # _route_one computes the destination itself; explanations recompute it in Python
    from sourcewise.engine.holds import point_vector as _unit_vector

    lat = np.r_[rng.uniform(-90, 90, 500), -90.0, 90.0, 0.0]
    lon = np.r_[rng.uniform(-180, 180, 500), -180.0, 180.0, 0.0]
    for la, lo in zip(lat.tolist(), lon.tolist(), strict=True):
        np.testing.assert_array_equal(K.unit_vector(la, lo), _unit_vector(la, lo))


def test_inline_asin_is_within_an_ulp_of_libm(rng):

    xs = np.r_[rng.random(20_000), rng.random(5_000) * 1e-3, rng.uniform(0.49, 0.51, 5_000),
               0.0, 0.5, np.nextafter(0.5, 0.0), 1.0, 5e-324]
    for x in xs.tolist():
        got, want = K.fast_asin(x), math.asin(x)
        assert abs(got - want) <= math.ulp(want), (x, got, want)
        assert got >= x  # so the chord (2 R x) stays a lower bound of the arc
    # the distance itself: chord -> miles, against the haversine twin
    lat = rng.uniform(25, 49, 200)
    lon = rng.uniform(-124, -67, 200)
    xyz = unit_vectors(lat, lon)
    got = K.distance_miles(xyz[0], xyz, np.arange(200))
    want = [naive.haversine_miles(lat[0], lon[0], la, lo) for la, lo in zip(lat, lon, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)

