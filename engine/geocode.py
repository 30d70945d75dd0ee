"""Offline geocoding of ship-to addresses and locations.

Most platform payloads carry a postal code but no coordinates, and the
router needs a point on the globe. This module turns an address into one,
without any network call:

1. the address's own coordinates, when it has them (``basis="address"``);
2. coordinates from configuration, for locations (``basis="config"``);
3. a US ZIP code, looked up in the data that ships with the ``zipcodes``
   package (``basis="postal_code"``);
4. the centroid of the US state or Canadian province (``basis="region"``);
5. the centroid of the country (``basis="country"``).

Results 4 and 5 are flagged ``approximate``: a region centroid can be
hundreds of kilometres from the real address, so callers must say so in
what they return (the adapters put it in the decision's notes).

The module also checks coordinate pairs for plausibility against the
address they belong to, which is how a ``[lat, lng]`` pair given where
``[lng, lat]`` was expected is caught (:func:`swap_suspect`).
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

__all__ = [
    "COUNTRY_CENTROIDS",
    "REGION_CENTROIDS",
    "GeoPoint",
    "country_code",
    "distance_km",
    "geocode",
    "locate",
    "preload_zip_codes",
    "swap_suspect",
    "valid_lat_lon",
    "zip_point",
]

# --------------------------------------------------------------------------- tables
# Approximate geographic centroids (degrees). Accuracy of a few tens of
# kilometres is plenty: a centroid is only ever used as an approximate
# fallback, and is reported as such.
# code: (alpha-3, English name, lat, lon)
COUNTRY_CENTROIDS: dict[str, tuple[str, str, float, float]] = {
    "US": ("USA", "United States", 39.83, -98.58),
    "CA": ("CAN", "Canada", 56.13, -106.35),
    "MX": ("MEX", "Mexico", 23.63, -102.55),
    "PR": ("PRI", "Puerto Rico", 18.22, -66.59),
    "BR": ("BRA", "Brazil", -14.24, -51.93),
    "AR": ("ARG", "Argentina", -38.42, -63.62),
    "CL": ("CHL", "Chile", -35.68, -71.54),
    "CO": ("COL", "Colombia", 4.57, -74.30),
    "PE": ("PER", "Peru", -9.19, -75.02),
    "GB": ("GBR", "United Kingdom", 54.00, -2.50),
    "IE": ("IRL", "Ireland", 53.41, -8.24),
    "FR": ("FRA", "France", 46.60, 2.21),
    "DE": ("DEU", "Germany", 51.17, 10.45),
    "NL": ("NLD", "Netherlands", 52.13, 5.29),
    "BE": ("BEL", "Belgium", 50.50, 4.47),
    "LU": ("LUX", "Luxembourg", 49.82, 6.13),
    "CH": ("CHE", "Switzerland", 46.82, 8.23),
    "AT": ("AUT", "Austria", 47.52, 14.55),
    "IT": ("ITA", "Italy", 41.87, 12.57),
    "ES": ("ESP", "Spain", 40.46, -3.75),
    "PT": ("PRT", "Portugal", 39.40, -8.22),
    "DK": ("DNK", "Denmark", 56.26, 9.50),
    "SE": ("SWE", "Sweden", 60.13, 18.64),
    "NO": ("NOR", "Norway", 60.47, 8.47),
    "FI": ("FIN", "Finland", 61.92, 25.75),
    "IS": ("ISL", "Iceland", 64.96, -19.02),
    "EE": ("EST", "Estonia", 58.60, 25.01),
    "LV": ("LVA", "Latvia", 56.88, 24.60),
    "LT": ("LTU", "Lithuania", 55.17, 23.88),
    "PL": ("POL", "Poland", 51.92, 19.15),
    "CZ": ("CZE", "Czechia", 49.82, 15.47),
    "SK": ("SVK", "Slovakia", 48.67, 19.70),
    "HU": ("HUN", "Hungary", 47.16, 19.50),
    "RO": ("ROU", "Romania", 45.94, 24.97),
    "BG": ("BGR", "Bulgaria", 42.73, 25.49),
    "GR": ("GRC", "Greece", 39.07, 21.82),
    "HR": ("HRV", "Croatia", 45.10, 15.20),
    "SI": ("SVN", "Slovenia", 46.15, 14.99),
    "RS": ("SRB", "Serbia", 44.02, 21.01),
    "UA": ("UKR", "Ukraine", 48.38, 31.17),
    "RU": ("RUS", "Russia", 61.52, 105.32),
    "TR": ("TUR", "Turkey", 38.96, 35.24),
    "IL": ("ISR", "Israel", 31.05, 34.85),
    "AE": ("ARE", "United Arab Emirates", 23.42, 53.85),
    "SA": ("SAU", "Saudi Arabia", 23.89, 45.08),
    "EG": ("EGY", "Egypt", 26.82, 30.80),
    "MA": ("MAR", "Morocco", 31.79, -7.09),
    "NG": ("NGA", "Nigeria", 9.08, 8.68),
    "KE": ("KEN", "Kenya", -0.02, 37.91),
    "ZA": ("ZAF", "South Africa", -30.56, 22.94),
    "IN": ("IND", "India", 20.59, 78.96),
    "PK": ("PAK", "Pakistan", 30.38, 69.35),
    "CN": ("CHN", "China", 35.86, 104.20),
    "HK": ("HKG", "Hong Kong", 22.32, 114.17),
    "TW": ("TWN", "Taiwan", 23.70, 120.96),
    "JP": ("JPN", "Japan", 36.20, 138.25),
    "KR": ("KOR", "South Korea", 35.91, 127.77),
    "SG": ("SGP", "Singapore", 1.35, 103.82),
    "MY": ("MYS", "Malaysia", 4.21, 101.98),
    "TH": ("THA", "Thailand", 15.87, 100.99),
    "VN": ("VNM", "Vietnam", 14.06, 108.28),
    "PH": ("PHL", "Philippines", 12.88, 121.77),
    "ID": ("IDN", "Indonesia", -0.79, 113.92),
    "AU": ("AUS", "Australia", -25.27, 133.78),
    "NZ": ("NZL", "New Zealand", -40.90, 174.89),
}

# (country, region code): (name, lat, lon) -- US states, DC, PR, Canadian provinces.
REGION_CENTROIDS: dict[tuple[str, str], tuple[str, float, float]] = {
    ("US", "AL"): ("Alabama", 32.79, -86.83), ("US", "AK"): ("Alaska", 64.73, -152.28),
    ("US", "AZ"): ("Arizona", 34.29, -111.66), ("US", "AR"): ("Arkansas", 34.90, -92.44),
    ("US", "CA"): ("California", 37.18, -119.47), ("US", "CO"): ("Colorado", 39.00, -105.55),
    ("US", "CT"): ("Connecticut", 41.62, -72.73), ("US", "DE"): ("Delaware", 38.99, -75.51),
    ("US", "DC"): ("District of Columbia", 38.91, -77.01), ("US", "FL"): ("Florida", 28.63, -82.45),
    ("US", "GA"): ("Georgia", 32.64, -83.44), ("US", "HI"): ("Hawaii", 20.29, -156.37),
    ("US", "ID"): ("Idaho", 44.35, -114.61), ("US", "IL"): ("Illinois", 40.04, -89.20),
    ("US", "IN"): ("Indiana", 39.89, -86.28), ("US", "IA"): ("Iowa", 42.08, -93.50),
    ("US", "KS"): ("Kansas", 38.49, -98.38), ("US", "KY"): ("Kentucky", 37.53, -85.30),
    ("US", "LA"): ("Louisiana", 31.07, -92.00), ("US", "ME"): ("Maine", 45.37, -69.24),
    ("US", "MD"): ("Maryland", 39.06, -76.80), ("US", "MA"): ("Massachusetts", 42.26, -71.81),
    ("US", "MI"): ("Michigan", 44.35, -85.41), ("US", "MN"): ("Minnesota", 46.28, -94.31),
    ("US", "MS"): ("Mississippi", 32.74, -89.67), ("US", "MO"): ("Missouri", 38.36, -92.46),
    ("US", "MT"): ("Montana", 47.05, -109.63), ("US", "NE"): ("Nebraska", 41.54, -99.80),
    ("US", "NV"): ("Nevada", 39.33, -116.63), ("US", "NH"): ("New Hampshire", 43.68, -71.58),
    ("US", "NJ"): ("New Jersey", 40.19, -74.67), ("US", "NM"): ("New Mexico", 34.41, -106.11),
    ("US", "NY"): ("New York", 42.95, -75.53), ("US", "NC"): ("North Carolina", 35.56, -79.39),
    ("US", "ND"): ("North Dakota", 47.45, -100.47), ("US", "OH"): ("Ohio", 40.29, -82.79),
    ("US", "OK"): ("Oklahoma", 35.59, -97.49), ("US", "OR"): ("Oregon", 43.93, -120.56),
    ("US", "PA"): ("Pennsylvania", 40.88, -77.80), ("US", "RI"): ("Rhode Island", 41.68, -71.56),
    ("US", "SC"): ("South Carolina", 33.92, -80.90), ("US", "SD"): ("South Dakota", 44.44, -100.23),
    ("US", "TN"): ("Tennessee", 35.86, -86.35), ("US", "TX"): ("Texas", 31.48, -99.33),
    ("US", "UT"): ("Utah", 39.31, -111.67), ("US", "VT"): ("Vermont", 44.07, -72.67),
    ("US", "VA"): ("Virginia", 37.52, -78.85), ("US", "WA"): ("Washington", 47.38, -120.45),
    ("US", "WV"): ("West Virginia", 38.64, -80.62), ("US", "WI"): ("Wisconsin", 44.62, -89.99),
    ("US", "WY"): ("Wyoming", 42.99, -107.55), ("US", "PR"): ("Puerto Rico", 18.22, -66.59),
    ("CA", "AB"): ("Alberta", 55.00, -115.00), ("CA", "BC"): ("British Columbia", 53.73, -127.65),
    ("CA", "MB"): ("Manitoba", 55.00, -97.00), ("CA", "NB"): ("New Brunswick", 46.50, -66.16),
    ("CA", "NL"): ("Newfoundland and Labrador", 53.14, -57.66), ("CA", "NS"): ("Nova Scotia", 45.00, -63.00),
    ("CA", "ON"): ("Ontario", 50.00, -85.00), ("CA", "PE"): ("Prince Edward Island", 46.51, -63.42),
    ("CA", "QC"): ("Quebec", 52.94, -73.55), ("CA", "SK"): ("Saskatchewan", 55.00, -106.00),
    ("CA", "NT"): ("Northwest Territories", 64.83, -124.85), ("CA", "NU"): ("Nunavut", 70.30, -83.11),
    ("CA", "YT"): ("Yukon", 64.28, -135.00),
}

# Names and ISO alpha-3 codes resolve to alpha-2, because payloads disagree:
# Shopify sends "country_code": "US" but fulfillment-order destinations say
# "country": "United States".
_COUNTRY_ALIASES: dict[str, str] = {}
for _code, (_a3, _name, _, _) in COUNTRY_CENTROIDS.items():
    _COUNTRY_ALIASES[_code] = _code
    _COUNTRY_ALIASES[_a3] = _code
    _COUNTRY_ALIASES[_name.upper()] = _code
_COUNTRY_ALIASES.update({"UK": "GB", "UNITED STATES OF AMERICA": "US", "GREAT BRITAIN": "GB",
                         "CZECH REPUBLIC": "CZ", "KOREA, REPUBLIC OF": "KR", "VIET NAM": "VN"})

_REGION_ALIASES: dict[tuple[str, str], str] = {}
for (_c, _r), (_rname, _, _) in REGION_CENTROIDS.items():
    _REGION_ALIASES[(_c, _r)] = _r
    _REGION_ALIASES[(_c, _rname.upper())] = _r
    _REGION_ALIASES[(_c, f"{_c}-{_r}")] = _r  # ISO 3166-2 form, e.g. "US-NY"

# Territories whose postal codes are US ZIP codes (and are in the zipcodes data).
_ZIP_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP", "UM"})
_ZIP_RE = re.compile(r"^\s*(\d{5})(?:[-\s]?\d{4})?\s*$")

EARTH_RADIUS_KM = 6371.0088
# 1,500 km in degrees of arc (13.49), less a margin for rounding; see swap_suspect
_SURELY_NEAR_DEG = 13.0


# --------------------------------------------------------------------------- values
class GeoPoint(NamedTuple):
    """A geocoded point and how it was obtained.

    Parameters
    ----------
    lat, lon : float
        Degrees.
    basis : str
        ``address`` (the payload's own coordinates), ``config``,
        ``postal_code``, ``region`` or ``country``.
    approximate : bool
        True for region and country centroids.
    detail : str
        Human-readable origin, e.g. ``"US ZIP 10001"`` or
        ``"country centroid of DE"``.
    """

    lat: float
    lon: float
    basis: str
    approximate: bool
    detail: str

    def note(self, what: str) -> str | None:
        """Sentence for a decision's notes when the point is approximate, else ``None``."""
        if not self.approximate:
            return None
        return f"{what} geocoded approximately ({self.detail}); distances and costs are estimates"


def country_code(value: object) -> str | None:
    """ISO alpha-2 code for a country code, alpha-3 code or English name, else ``None``.

    Unknown two-letter codes are returned upper-cased: they are still valid
    for comparison, they just have no centroid here.
    """
    if not isinstance(value, str):
        return None
    key = value.strip().upper()
    if not key:
        return None
    hit = _COUNTRY_ALIASES.get(key)
    if hit is not None:
        return hit
    return key if len(key) == 2 and key.isalpha() else None


def _region_code(country: str | None, region: object) -> str | None:
    if country is None or not isinstance(region, str) or not region.strip():
        return None
    return _REGION_ALIASES.get((country, region.strip().upper()))


def valid_lat_lon(lat: object, lon: object) -> bool:
    """Whether ``lat``/``lon`` are finite numbers (not booleans) within range."""
    if type(lat) is float and type(lon) is float:
        # the usual case, in two comparisons each: NaN and infinities fail them too
        return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
    for v, lim in ((lat, 90.0), (lon, 180.0)):
        if isinstance(v, bool) or not isinstance(v, int | float):
            return False
        if not math.isfinite(v) or abs(v) > lim:
            return False
    return True


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


# --------------------------------------------------------------------------- ZIP codes
# zip5 -> (lat, lon), or None for a ZIP the data does not know. zipcodes scans
# its table on every call (about a millisecond), far more than routing an
# order, so every answer is memoised.
_ZIP_CACHE: dict[str, tuple[float, float] | None] = {}
_ZIP_FULL = False


def preload_zip_codes() -> int:
    """Load every US ZIP centroid into the cache (about a second, once).

    Long-running services call this at start-up so no order pays for a
    first lookup. Returns the number of ZIP codes loaded.
    """
    global _ZIP_FULL
    import zipcodes

    for z in zipcodes.list_all():
        try:
            _ZIP_CACHE[z["zip_code"]] = (float(z["lat"]), float(z["long"]))
        except (KeyError, TypeError, ValueError):
            continue
    _ZIP_FULL = True
    return len(_ZIP_CACHE)


def zip_point(postal_code: object) -> tuple[float, float] | None:
    """Centroid of a US ZIP (or ZIP+4) code, or ``None`` when unknown or malformed."""
    if not isinstance(postal_code, str):
        return None
    m = _ZIP_RE.match(postal_code)
    if m is None:
        return None
    z = m.group(1)
    if z in _ZIP_CACHE:
        return _ZIP_CACHE[z]
    if _ZIP_FULL:
        return None
    import zipcodes

    try:
        rows = zipcodes.matching(z)
    except (TypeError, ValueError):
        rows = []
    point = None
    for row in rows:
        try:
            point = (float(row["lat"]), float(row["long"]))
        except (KeyError, TypeError, ValueError):
            continue
        if valid_lat_lon(*point):
            break
        point = None
    _ZIP_CACHE[z] = point
    return point


# --------------------------------------------------------------------------- geocoding
def geocode(*, postal_code: object = None, country: object = None, region: object = None,
            lat: object = None, lon: object = None) -> GeoPoint | None:
    """Best available point for an address, or ``None`` when nothing is known.

    Parameters
    ----------
    postal_code : str, optional
        Looked up offline when the country uses US ZIP codes.
    country : str, optional
        ISO alpha-2 or alpha-3 code or English name.
    region : str, optional
        State or province code (``"NY"``, ``"US-NY"``) or name (``"New York"``).
    lat, lon : float, optional
        The address's own coordinates; used as given when both are valid.
        Range checks are the caller's job (adapters report bad coordinates
        as errors rather than silently geocoding around them).

    Returns
    -------
    GeoPoint or None
    """
    return locate(postal_code, country, region, lat, lon)


def locate(postal_code: object, country: object, region: object, lat: object = None,
           lon: object = None) -> GeoPoint | None:
    """:func:`geocode` with positional arguments, for the per-order path.

    Same answers; it exists because adapters geocode every order and
    keyword passing is a measurable share of that.
    """
    if lat is not None and lon is not None and valid_lat_lon(lat, lon):
        # tuple.__new__: the NamedTuple's own __new__ is a Python function, and this is per order
        return _new_tuple(GeoPoint, (float(lat), float(lon), "address", False, "address coordinates"))
    if ((postal_code is None or type(postal_code) is str) and (country is None or type(country) is str)
            and (region is None or type(region) is str)):
        # orders repeat addresses' postal codes endlessly; the answer depends on these three only
        key = (postal_code, country, region)
        hit = _ADDRESS_CACHE.get(key, MISSING_POINT)
        if hit is MISSING_POINT:
            if len(_ADDRESS_CACHE) >= _ADDRESS_CACHE_SIZE:
                _ADDRESS_CACHE.clear()
            hit = _ADDRESS_CACHE[key] = _geocode_address(postal_code, country, region)
        return hit
    return _geocode_address(postal_code, country, region)


_new_tuple = tuple.__new__
_ADDRESS_CACHE: dict[tuple, GeoPoint | None] = {}
_ADDRESS_CACHE_SIZE = 65536
MISSING_POINT = object()


def _geocode_address(postal_code: object, country: object, region: object) -> GeoPoint | None:
    """:func:`geocode` without coordinates: postal code, then region, then country."""
    cc = country_code(country)
    if postal_code is not None and (cc in _ZIP_COUNTRIES or cc is None and region is not None
                                    and _region_code("US", region) is not None):
        p = zip_point(postal_code)
        if p is not None:
            return GeoPoint(p[0], p[1], "postal_code", False, f"US ZIP {str(postal_code).strip()}")
    rc = _region_code(cc, region)
    if rc is not None:
        name, rlat, rlon = REGION_CENTROIDS[(cc, rc)]  # type: ignore[index]
        return GeoPoint(rlat, rlon, "region", True, f"region centroid of {cc}-{rc} ({name})")
    if cc is not None and cc in COUNTRY_CENTROIDS:
        _, name, clat, clon = COUNTRY_CENTROIDS[cc]
        return GeoPoint(clat, clon, "country", True, f"country centroid of {cc} ({name})")
    return None


def swap_suspect(lat: float, lon: float, reference: GeoPoint | None) -> bool:
    """Whether ``(lat, lon)`` looks like a latitude/longitude swap.

    A pair is suspect when reading it the other way round (``lat=lon``,
    ``lon=lat``) is valid and lands far closer to ``reference`` -- the point
    the rest of the address (postal code, region or country) geocodes to --
    than reading it as given. Both readings must disagree clearly (the given
    one more than 1,500 km off and at least twice as far as the swapped one)
    so that big countries and coastal locations are not flagged.

    Without a reference only impossible values can be detected; that is a
    range check, done by :func:`valid_lat_lon`.
    """
    if reference is None:
        return False
    # A great circle is no longer than going along the meridian and then the parallel, so
    # |dlat| + |dlon| (degrees) bounds the distance: under _SURELY_NEAR_DEG it is below
    # 1,500 km and the pair is plausible without any trigonometry -- the usual case.
    if abs(lat - reference.lat) + abs(lon - reference.lon) < _SURELY_NEAR_DEG:
        return False
    given = distance_km(lat, lon, reference.lat, reference.lon)
    if given <= 1500.0 or not valid_lat_lon(lon, lat):
        return False  # the usual case, decided with one distance
    return distance_km(lon, lat, reference.lat, reference.lon) * 2.0 < given
