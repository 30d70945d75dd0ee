"""Offline geocoding: ZIP codes, centroid fallbacks flagged approximate, swap detection."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sourcewise.engine.geocode import COUNTRY_CENTROIDS
from sourcewise.engine.geocode import REGION_CENTROIDS
from sourcewise.engine.geocode import GeoPoint
from sourcewise.engine.geocode import country_code
from sourcewise.engine.geocode import distance_km
from sourcewise.engine.geocode import geocode
from sourcewise.engine.geocode import swap_suspect
from sourcewise.engine.geocode import valid_lat_lon
from sourcewise.engine.geocode import zip_point


def test_us_zip_is_geocoded_offline_and_precisely():
    p = geocode(postal_code="10001", country="US")
    assert p is not None and p.basis == "postal_code" and not p.approximate
    assert distance_km(p.lat, p.lon, 40.7506, -73.9972) < 5  # Chelsea, Manhattan


@pytest.mark.parametrize("code", ["10001-1234", "10001 1234", " 10001 "])
def test_zip_plus_four_and_spacing_use_the_five_digit_zip(code):
    assert zip_point(code) == zip_point("10001")


def test_address_coordinates_win_over_postal_code():
    p = geocode(postal_code="10001", country="US", lat=34.05, lon=-118.24)
    assert (p.lat, p.lon, p.basis, p.approximate) == (34.05, -118.24, "address", False)


def test_unknown_zip_falls_back_to_the_state_centroid_flagged_approximate():
    p = geocode(postal_code="00000", country="US", region="Texas")
    assert p.basis == "region" and p.approximate
    assert "TX" in p.detail
    assert "approximately" in p.note("destination")


def test_non_us_postal_code_falls_back_to_the_country_centroid():
    p = geocode(postal_code="10115", country="DEU")
    assert p.basis == "country" and p.approximate
    assert (p.lat, p.lon) == COUNTRY_CENTROIDS["DE"][2:]


def test_canadian_province_centroid():
    p = geocode(postal_code="K1A 0B1", country="CA", region="ON")
    assert p.basis == "region" and (p.lat, p.lon) == REGION_CENTROIDS[("CA", "ON")][1:]


def test_nothing_known_gives_none():
    assert geocode() is None
    assert geocode(postal_code="12345") is None  # no country: a 5-digit code is not assumed to be US
    assert geocode(country="ZZ") is None


@pytest.mark.parametrize(("value", "code"), [("US", "US"), ("usa", "US"), ("United States", "US"),
                                               ("Germany", "DE"), ("UK", "GB"), ("XK", "XK"), ("", None), (7, None)])
def test_country_codes_normalise(value, code):
    assert country_code(value) == code


def test_every_centroid_is_a_valid_point():
    for _, _, lat, lon in COUNTRY_CENTROIDS.values():
        assert valid_lat_lon(lat, lon)
    for _, lat, lon in REGION_CENTROIDS.values():
        assert valid_lat_lon(lat, lon)


def test_swap_suspect_catches_swapped_pairs_and_spares_correct_ones():
    berlin_ref = geocode(country="DE")
    assert not swap_suspect(52.52, 13.405, berlin_ref)
    assert swap_suspect(13.405, 52.52, berlin_ref)
    nyc = geocode(postal_code="10001", country="US")
    assert swap_suspect(-73.99, 40.75, nyc)
    assert not swap_suspect(40.75, -73.99, nyc)
    # far but correct: Honolulu against the US centroid cannot be read swapped
    assert not swap_suspect(21.3, -157.86, geocode(country="US"))
    assert not swap_suspect(13.405, 52.52, None)


@pytest.mark.parametrize(("lat", "lon", "ok"), [(0, 0, True), (90, 180, True), (91, 0, False),
                                                (0, -181, False), (True, 0, False), ("1", 2, False),
                                                (float("nan"), 0, False)])
def test_valid_lat_lon(lat, lon, ok):
    assert valid_lat_lon(lat, lon) is ok


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180))
def test_swap_check_shortcut_agrees_with_distances(lat, lon, rlat, rlon):
    ref = GeoPoint(rlat, rlon, "postal_code", False, "x")
    given_km = distance_km(lat, lon, rlat, rlon)
    expected = not (given_km <= 1500.0 or not valid_lat_lon(lon, lat)) and \
        distance_km(lon, lat, rlat, rlon) * 2.0 < given_km
    assert swap_suspect(lat, lon, ref) == expected
