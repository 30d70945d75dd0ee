"""The one interface every OMS adapter implements, and the code they share.

An adapter is thin and exact. It does four things:

1. read the platform's locations and inventory into a :class:`Catalog`
   (a :class:`~models.Network` plus :class:`~models.Inventory`);
2. read the platform's order payload into a :class:`Bound` order (a
   :class:`~models.Order` plus what is needed to answer in the platform's
   terms);
3. let the :class:`~sourcewise.engine.router.Router` decide;
4. render the :class:`~models.Decision` in the platform's write-back shape.

Steps 1 and 2 validate everything before anything is built, and report
every problem in one :class:`AdapterError` whose fields are JSON paths into
the payload (``order.line_items[1].quantity``). Nothing is reserved when
parsing fails, so a malformed payload never changes stock.

Platform modules implement :class:`Adapter`'s four abstract methods; the
geocoding, SKU mapping, config overrides, model building and the
:class:`Session` that ties an adapter to a router live here.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, NamedTuple, Protocol

import msgspec
import numpy as np

from sourcewise.engine.geocode import GeoPoint, geocode, locate, swap_suspect, valid_lat_lon
from sourcewise.models.decision import Decision, Status
from sourcewise.models.errors import Problem, ValidationError
from sourcewise.models.inventory import Inventory, StockRecord
from sourcewise.models.network import Network
from sourcewise.models.node import Node, NodeKind
from sourcewise.models.order import Order, OrderLine
from sourcewise.models.policy import Policy
from sourcewise.models.sku import Sku

__all__ = [
    "EMPTY", "Adapter", "AdapterError", "Address", "Bound", "Catalog", "FastDecimal", "FastId", "FastPositive",
    "FastStr", "FastUnits", "LineIn", "LocationIn", "OrderIn", "Paths", "Reader", "Session", "Shape", "StockIn",
    "bind_plain", "decision_status", "fast_convert", "fast_plain", "new_tuple", "plain_coords", "route_payload",
]


class AtpLookup(Protocol):
    """Available-to-promise units that renders report: a :class:`~sourcewise.engine.router.Router`
    (live, this order's reservation already taken) or an :class:`~sourcewise.models.inventory.Inventory`."""

    def atp(self, node_id: str, sku: str) -> int:
        """Units of ``sku`` at ``node_id``."""

    def atp_of_sku(self, sku: str) -> np.ndarray:
        """Units of ``sku`` at each node its inventory stores, in the order of those entries."""


# "199.00": how money strings come; anything else takes the careful path.
_PLAIN_DECIMAL = re.compile(r"\d{1,15}(?:\.\d{1,12})?\Z")

MAX_UNITS = 10**12
"""Largest quantity (or other integer) a payload may carry."""

MISSING: Any = object()
"""Marker for an absent key (distinct from JSON ``null``)."""


# ============================================================================ errors
class AdapterError(ValidationError):
    """A payload could not be mapped; lists every problem found.

    Each :class:`~sourcewise.models.errors.Problem` has ``table`` = the platform
    (``"shopify"``), ``row`` = the document (``"order"``, ``"locations"``,
    ``"inventory"``, ``"config"``) and ``field`` = the JSON path of the
    offending value inside that document, so an integrator can find it.

    Subclasses :class:`~sourcewise.models.errors.ValidationError` (and so
    :class:`ValueError`): code that already handles validation errors
    handles this one.
    """

    def __init__(self, problems: Iterable[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("AdapterError needs at least one problem")
        n = len(self.problems)
        shown = "\n".join(f"  - {p.table} {p.row}: {p.field}: {p.reason}" for p in self.problems[:50])
        more = f"\n  ... and {n - 50} more" if n > 50 else ""
        # Skip ValidationError.__init__: its "table[row].field" wording reads badly for JSON paths.
        ValueError.__init__(self, f"{n} problem{'s' if n != 1 else ''} in the payload:\n{shown}{more}")

    @property
    def fields(self) -> tuple[str, ...]:
        """JSON paths of every problem, in the order found."""
        return tuple(p.field for p in self.problems)


def _show(v: Any) -> str:
    """Short repr for messages: payload values can be huge."""
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


class Reader:
    """Typed access to one JSON document, recording every problem instead of raising.

    Every ``as_*``/``take`` method returns ``None`` for a bad value after
    recording why, so parsing carries on and reports all problems at once.
    JSON ``null`` counts as absent: platforms send ``null`` for unset fields.
    """

    __slots__ = ("document", "platform", "problems")

    def __init__(self, platform: str, document: str, problems: list[Problem] | None = None):
        self.platform = platform
        self.document = document
        self.problems: list[Problem] = [] if problems is None else problems

    def doc(self, document: str) -> Reader:
        """A reader for another document that shares this one's problem list."""
        return Reader(self.platform, document, self.problems)

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(Problem(self.platform, self.document, path or "<root>", reason))

    def raise_if_any(self) -> None:
        if self.problems:
            raise AdapterError(self.problems)

    # --------------------------------------------------------------- lookups
    @staticmethod
    def lookup(d: Mapping[str, Any], keys: str | Sequence[str]) -> tuple[str, Any]:
        """First of ``keys`` present in ``d`` (Magento accepts camelCase and snake_case)."""
        names = (keys,) if isinstance(keys, str) else tuple(keys)
        for k in names:
            if k in d:
                return k, d[k]
        return names[0], MISSING

    def take(self, d: Mapping[str, Any], keys: str | Sequence[str], base: str, kind: str, *,
             required: bool = True, **opts: Any) -> Any:
        """Read ``d[key]`` as ``kind`` (``obj``, ``list``, ``id``, ``str``, ``int``, ``num``,
        ``bool``, ``decimal``); ``None`` when absent or bad.

        Well-formed values of the common kinds return straight away; the JSON
        path is only built, and the full check with its message only run,
        when a value looks wrong. Parsing an order makes dozens of these
        calls, and this keeps adapters a small fraction of routing time.
        """
        v = d.get(keys, MISSING) if type(keys) is str else self.lookup(d, keys)[1]
        if v is None or v is MISSING:
            if required:
                name = keys if type(keys) is str else self.lookup(d, keys)[0]
                self.fail(_join(base, name), "required field is missing" if v is MISSING else "required, got null")
            return None
        t = type(v)
        if kind == "str":
            if t is str and (not opts.get("nonempty", True) or v.strip()):
                return v
        elif kind == "id":
            if t is int and v >= 0 or t is str and v.strip():
                return v
        elif kind == "int":
            if t is int and -MAX_UNITS <= v <= opts.get("hi", MAX_UNITS):
                lo = opts.get("lo", 0)
                if lo is None or v >= lo:
                    return v
        elif kind == "obj":
            if t is dict:
                return v
        elif kind == "list":
            if t is list and (v or not opts.get("nonempty")):
                return v
        elif kind == "bool":
            if t is bool:
                return v
        elif kind == "decimal":
            if t is str and _PLAIN_DECIMAL.match(v):
                return v
        name = keys if type(keys) is str else self.lookup(d, keys)[0]
        return getattr(self, f"as_{kind}")(v, _join(base, name), **opts)

    # ----------------------------------------------------------------- kinds
    def as_obj(self, v: Any, path: str) -> dict | None:
        if not isinstance(v, dict):
            self.fail(path, f"must be an object, got {_show(v)}")
            return None
        return v

    def as_list(self, v: Any, path: str, *, nonempty: bool = False) -> list | None:
        if not isinstance(v, list):
            self.fail(path, f"must be an array, got {_show(v)}")
            return None
        if nonempty and not v:
            self.fail(path, "must not be empty")
            return None
        return v

    def as_id(self, v: Any, path: str) -> int | str | None:
        """An identifier: a non-negative integer or a non-empty string (numeric or ``gid://``)."""
        if isinstance(v, bool) or not isinstance(v, int | str):
            self.fail(path, f"must be an id (integer or string), got {_show(v)}")
            return None
        if isinstance(v, str) and not v.strip() or isinstance(v, int) and v < 0:
            self.fail(path, f"must be a non-empty id, got {_show(v)}")
            return None
        return v

    def as_str(self, v: Any, path: str, *, nonempty: bool = True) -> str | None:
        if not isinstance(v, str):
            self.fail(path, f"must be a string, got {_show(v)}")
            return None
        if nonempty and not v.strip():
            self.fail(path, "must not be empty")
            return None
        return v

    def as_int(self, v: Any, path: str, *, lo: int | None = 0, hi: int = MAX_UNITS,
               integral_float: bool = False) -> int | None:
        """A whole number. Strings are refused on purpose: ``"2"`` is a malformed quantity.

        Magnitudes above ``hi`` are refused too: the engine keeps stock in
        64-bit integers, and no real quantity comes near the default bound.
        """
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.fail(path, f"must be an integer, got {_show(v)}")
            return None
        if isinstance(v, float):
            if not (integral_float and math.isfinite(v) and v == int(v)):
                self.fail(path, f"must be an integer, got {_show(v)}")
                return None
            v = int(v)
        if lo is not None and v < lo:
            self.fail(path, f"must be >= {lo}, got {v}")
            return None
        if abs(v) > hi:
            self.fail(path, f"must be at most {hi} in magnitude, got {_show(v)}")
            return None
        return v

    def as_num(self, v: Any, path: str, *, lo: float | None = None, hi: float | None = None) -> float | None:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            self.fail(path, f"must be a finite number, got {_show(v)}")
            return None
        if lo is not None and v < lo or hi is not None and v > hi:
            self.fail(path, f"must be in [{lo}, {hi}], got {v}")
            return None
        return float(v)

    def as_bool(self, v: Any, path: str) -> bool | None:
        if not isinstance(v, bool):
            self.fail(path, f"must be true or false, got {_show(v)}")
            return None
        return v

    def as_decimal(self, v: Any, path: str) -> str | None:
        """Money: a decimal string (``"19.99"``, as Shopify sends it) or a JSON number, >= 0.

        Returns the amount as canonical decimal text, checked with
        :class:`~decimal.Decimal` so ``"0.1"`` stays exact; callers convert
        with ``Decimal(text)`` when they need arithmetic. (Text, because
        most amounts are only validated and passed through, and building a
        Decimal for each would cost more than routing budget allows.)
        """
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            self.fail(path, f"must be a decimal amount, got {_show(v)}")
            return None
        try:
            d = Decimal(v.strip()) if isinstance(v, str) else Decimal(str(v))
        except (InvalidOperation, ValueError):
            self.fail(path, f"must be a decimal amount, got {_show(v)}")
            return None
        if not d.is_finite() or d < 0:
            self.fail(path, f"must be a finite amount >= 0, got {_show(v)}")
            return None
        return str(d)

    def coords(self, lat: Any, lon: Any, lat_path: str, lon_path: str, reference: GeoPoint | None, *,
               swapped_hint: str = "") -> tuple[float, float] | None:
        """Validate a coordinate pair: both or neither, numbers, in range, not swapped.

        ``reference`` is where the rest of the address geocodes to; a pair
        that lands far from it but near it when read the other way round is
        reported as swapped rather than used (see :func:`sourcewise.engine.geocode.swap_suspect`).
        """
        if lat is None and lon is None:
            return None
        if lat is None or lon is None:
            self.fail(lat_path if lat is None else lon_path, "required when the other coordinate is given")
            return None
        la = self.as_num(lat, lat_path)
        lo = self.as_num(lon, lon_path)
        if la is None or lo is None:
            return None
        where = lat_path  # the message names both values; one path keeps errors greppable
        if not valid_lat_lon(la, lo):
            if valid_lat_lon(lo, la):
                self.fail(where, f"latitude {la} is out of range; the pair looks swapped{swapped_hint}")
            else:
                self.fail(where, f"({la}, {lo}) is not a valid latitude/longitude")
            return None
        if swap_suspect(la, lo, reference):
            self.fail(where, f"({la}, {lo}) lies far from {reference.detail} but ({lo}, {la}) lies "  # type: ignore[union-attr]
                             f"near it: latitude and longitude look swapped{swapped_hint}")
            return None
        return la, lo


def plain_coords(lat: Any, lon: Any, reference: GeoPoint | None) -> tuple[float, float] | None:
    """The pair when :meth:`Reader.coords` would take it as is (both floats, in range, not
    swapped); ``None`` means "ask :meth:`Reader.coords`", which explains what is wrong.

    Lets adapters skip building the coordinates' JSON paths for the usual address.
    """
    if (type(lat) is float and type(lon) is float and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
            and not swap_suspect(lat, lon, reference)):
        return lat, lon
    return None


class Shape:
    """The fields of one kind of JSON object, read in one go.

    ``Shape(("id", "id"), ("quantity", "int", True, 1), ("sku", "str0", False))``:
    each field is ``(key, kind[, required[, lo[, hi]]])`` with kinds ``id``,
    ``str`` (non-empty), ``str0`` (may be empty), ``int`` (``lo <= v <= hi``,
    default ``0 <= v <= MAX_UNITS``; ``lo=None`` for no lower bound),
    ``decimal``, ``obj``, ``list``, ``list1`` (non-empty) and ``bool``. A key
    may be a tuple of alternatives (Magento accepts ``stockId`` and
    ``stock_id``): the first one present is read, as :meth:`Reader.lookup`
    does.

    :meth:`read` first tries a fast check of the whole object -- generated
    straight-line code, one lookup and one type test per field -- and only
    when that finds anything unusual (a missing required key, a wrong type,
    a value out of range) reads field by field through :meth:`Reader.take`,
    which records the problems. The fast check accepts a strict subset of
    what ``take`` accepts, with the same values, so the result never
    depends on which path ran; it exists because an order has dozens of
    fields and parsing must stay a small fraction of routing time.
    """

    # one test per kind, on a value known not to be None (``{v}`` is the value's name)
    _TESTS = {
        "id": "(type({v}) is int and {v} >= 0 or type({v}) is str and {v}.strip())",
        "str": "(type({v}) is str and {v}.strip())",
        "str0": "type({v}) is str",
        "int": "(type({v}) is int and {lo} <= {v} <= {hi})",
        "decimal": "(type({v}) is str and _PLAIN_DECIMAL.match({v}))",
        "obj": "type({v}) is dict",
        "list": "type({v}) is list",
        "list1": "(type({v}) is list and {v})",
        "bool": "type({v}) is bool",
    }

    __slots__ = ("fast", "fields")

    def __init__(self, *fields: tuple):
        norm = []
        for f in fields:
            key, kind = f[0], f[1]
            required = f[2] if len(f) > 2 else True
            lo = f[3] if len(f) > 3 else 0
            hi = f[4] if len(f) > 4 else MAX_UNITS
            if kind not in self._TESTS:
                raise ValueError(f"unknown kind {kind!r}")
            norm.append((key if isinstance(key, str) else tuple(key), kind, required,
                         None if lo is None else int(lo), int(hi)))
        self.fields = tuple(norm)
        self.fast = self._compile(self.fields)

    @staticmethod
    def _compile(fields: tuple) -> Callable[[Any], tuple | None]:
        """Straight-line check of every field, generated once per shape (as dataclasses do).

        A loop over the fields with a branch per kind costs several times
        more per order than this; the checks are the same ones :meth:`Reader.take`
        applies first, so the fast path never accepts what ``take`` would not.
        Absent optional keys read as ``None`` (as JSON ``null``, which ``take``
        treats alike), so objects that leave them out stay on the fast path.
        """
        body = ["def fast(d):", "    if type(d) is not dict:", "        return None"]
        names = []
        for i, (key, kind, required, lo, hi) in enumerate(fields):
            v = f"v{i}"
            names.append(v)
            keys = (key,) if isinstance(key, str) else key
            # first alternative present, as Reader.lookup; MISSING when none is
            lookup = "MISSING"
            for k in reversed(keys):
                lookup = f"d[{k!r}] if {k!r} in d else {lookup}"
            body.append(f"    {v} = {lookup}")
            # the range Reader.as_int accepts (lo <= v, |v| <= hi), within take's own +-MAX_UNITS
            top = min(hi, MAX_UNITS)
            bottom = max(-top, -MAX_UNITS if lo is None else lo)
            test = Shape._TESTS[kind].format(v=v, lo=bottom, hi=top)
            if required:
                body.append(f"    if {v} is None or {v} is MISSING or not {test}:")
                body.append("        return None")
            else:
                body.append(f"    if {v} is MISSING:")
                body.append(f"        {v} = None")
                body.append(f"    elif {v} is not None and not {test}:")
                body.append("        return None")
        body.append(f"    return ({', '.join(names)},)")
        scope = {"MISSING": MISSING, "_PLAIN_DECIMAL": _PLAIN_DECIMAL}
        exec("\n".join(body), scope)  # noqa: S102 - generated from the fixed templates above
        return scope["fast"]

    def read(self, reader: Reader, d: Any, path: str, index: int | None = None) -> tuple | None:
        """Field values (``None`` for absent or bad ones), or ``None`` when ``d`` is not an object.

        ``index`` makes the path ``path[index]``, built only if a problem needs it.
        """
        vals = self.fast(d)
        if vals is not None:
            return vals
        if index is not None:
            path = f"{path}[{index}]"
        o = reader.as_obj(d, path)
        if o is None:
            return None
        return self.slow(reader, o, path)

    def slow(self, reader: Reader, o: dict, path: str) -> tuple:
        """Field by field through :meth:`Reader.take`, recording every problem at ``path``."""
        out = []
        for key, kind, required, lo, hi in self.fields:
            if kind == "str0":
                out.append(reader.take(o, key, path, "str", required=required, nonempty=False))
            elif kind == "int":
                out.append(reader.take(o, key, path, "int", required=required, lo=lo, hi=hi))
            elif kind == "list1":
                out.append(reader.take(o, key, path, "list", required=required, nonempty=True))
            else:
                out.append(reader.take(o, key, path, kind, required=required))
        return tuple(out)


# ============================================================================ neutral values
# The per-order values are NamedTuples: as immutable as frozen dataclasses, and several
# times cheaper to build (a frozen dataclass sets each field through object.__setattr__),
# which matters when parsing must stay a small fraction of routing time.
_EMPTY: Mapping[str, Any] = MappingProxyType({})
EMPTY = _EMPTY
"""The empty mapping NamedTuple defaults use (fast paths pass it where the default applies)."""


class Address(NamedTuple):
    """What the platform says about a place; any field may be unknown."""

    postal_code: str | None = None
    country: str | None = None
    region: str | None = None
    lat: float | None = None
    lon: float | None = None
    path: str = ""

    def reference(self) -> GeoPoint | None:
        """Where the address geocodes to without its own coordinates (for swap checks)."""
        return geocode(postal_code=self.postal_code, country=self.country, region=self.region)


class LineIn(NamedTuple):
    """One routable order line, in platform-neutral form.

    ``line_id`` is unique within the order and becomes the
    :class:`~models.OrderLine` id; ``raw_id`` is the platform's id exactly as
    it appeared (an int stays an int), so rendering echoes it untouched.
    """

    line_id: str
    raw_id: Any
    sku: str
    qty: int
    path: str
    price: str | None = None
    """Unit price as decimal text (``"19.99"``); ``Decimal(price)`` for arithmetic."""
    weight_kg: float | None = None
    ref: Mapping[str, Any] = _EMPTY


def service_level(name: str | None) -> str:
    """Our service level for a platform's shipping method name or code.

    Platforms carry free text ("Standard Shipping", "EXPRESS", "Overnight");
    anything not recognisably faster ships standard.
    """
    # a shop has a handful of method names: remember each answer (strings only, bounded)
    hit = _SERVICE_LEVEL_OF.get(name) if type(name) is str or name is None else None
    if hit is not None:
        return hit
    level = _service_level(name)
    if type(name) is str or name is None:
        if len(_SERVICE_LEVEL_OF) >= 4096:
            _SERVICE_LEVEL_OF.clear()
        _SERVICE_LEVEL_OF[name] = level
    return level


_SERVICE_LEVEL_OF: dict[str | None, str] = {}


def _service_level(name: str | None) -> str:
    text = (name or "").lower()
    if any(w in text for w in ("next day", "next-day", "next_day", "nextday", "overnight", "1-day", "one day")):
        return "next_day"
    if any(w in text for w in ("express", "expedited", "priority", "2-day", "two day", "2 day")):
        return "express"
    return "standard"


class OrderIn(NamedTuple):
    """An order as read from a payload, before it is checked against a catalog."""

    order_id: str
    raw_id: Any
    lines: tuple[LineIn, ...]
    address: Address | None
    service_level: str | None = None
    allow_split: bool = True
    max_shipments: int | None = None
    extra: Mapping[str, Any] = _EMPTY
    notes: tuple[str, ...] = ()
    fallback: GeoPoint | None = None
    """Where to route from when the payload has no usable address (always approximate)."""


class LocationIn(NamedTuple):
    """A location, channel or source as read from a payload."""

    node_id: str
    raw_id: Any
    address: Address
    path: str
    name: str | None = None
    kind: str = "warehouse"
    priority: int = 0
    ships: bool = True
    pickup: bool = False
    enabled: bool = True
    attrs: Mapping[str, Any] = _EMPTY
    """Further :class:`~models.Node` fields the payload sets (handling costs, fee rate, ...)."""
    extra: Mapping[str, Any] = _EMPTY


class StockIn(NamedTuple):
    """Stock of one SKU at one location as read from a payload."""

    node_id: str
    sku: str
    on_hand: int
    path: str
    safety_stock: int = 0
    reserved: int = 0


@dataclass(frozen=True, eq=False)
class Catalog:
    """A platform's locations and stock, mapped onto the engine's models.

    Attributes
    ----------
    network, inventory
        Ready for :class:`~sourcewise.engine.router.Router`.
    locations : dict
        Every location that became a node, by node id.
    points : dict
        Where each node was placed and how (``basis``, ``approximate``).
    notes : tuple of str
        Approximations and skipped records worth telling the integrator.
    extra : dict
        Platform-specific lookups the order reader needs.
    """

    platform: str
    network: Network
    inventory: Inventory
    locations: Mapping[str, LocationIn]
    points: Mapping[str, GeoPoint]
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def approximate(self) -> frozenset[str]:
        """Nodes placed by a region or country centroid."""
        return frozenset(n for n, p in self.points.items() if p.approximate)

    @cached_property
    def priority_ranks(self) -> list[int]:
        """Each node's place in source-priority order (``network.priority_rank`` as Python ints).

        Renders sort sources by it per order; numpy scalars make that several times slower.
        """
        return self.network.priority_rank.tolist()

    @cached_property
    def sources(self) -> list[tuple[str, Any, bool]]:
        """Each node's id, platform id (as :meth:`Adapter.location_raw` gives it) and whether it
        is enabled, by node index: for renders that list every source of a SKU."""
        locs = self.locations
        return [(n.node_id, loc.raw_id if (loc := locs.get(n.node_id)) is not None else n.node_id, n.enabled)
                for n in self.network.nodes]

    @classmethod
    def from_models(cls, platform: str, network: Network, inventory: Inventory,
                    raw_ids: Mapping[str, Any] | None = None) -> Catalog:
        """A catalog over a network and stock you already have (a scenario folder, a test fixture).

        Platform order payloads can then be routed against it: their
        location and SKU ids must be the network's node ids and SKUs
        (``raw_ids`` maps node ids to the platform's own ids for responses).
        """
        raw_ids = raw_ids or {}
        locs = {n.node_id: LocationIn(n.node_id, raw_ids.get(n.node_id, n.node_id), Address(lat=n.lat, lon=n.lon),
                                      f"nodes[{i}]", kind=NodeKind(n.kind).value, priority=n.priority)
                for i, n in enumerate(network.nodes)}
        points = {n.node_id: GeoPoint(n.lat, n.lon, "config", False, "network coordinates") for n in network.nodes}
        return cls(platform, network, inventory, locs, points)


class Bound(NamedTuple):
    """An order checked against a catalog and mapped onto a :class:`~models.Order`.

    ``order`` is ``None`` when no line can be routed (every line is a
    pick-up, already fulfilled, or a SKU no location stocks).
    ``skipped`` holds lines whose SKU no location stocks: they cannot be
    routed anywhere and are reported as unfilled.
    """

    source: OrderIn
    order: Order | None
    destination: GeoPoint
    catalog: Catalog
    skipped: tuple[LineIn, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def order_id(self) -> str:
        return self.source.order_id

    def line(self, line_id: str) -> LineIn:
        for ln in self.source.lines:
            if ln.line_id == line_id:
                return ln
        raise KeyError(line_id)


# ============================================================================ config
_CONFIG_LOCATION_KEYS = {
    "lat": "num", "lon": "num", "kind": "str", "priority": "int", "ships": "bool", "pickup": "bool",
    "enabled": "bool", "handling_per_shipment": "num", "handling_per_unit": "num",
    "processing_days": "int", "fee_rate": "num", "postal_code": "str", "country": "str", "region": "str",
}


def _read_config(config: Mapping[str, Any] | None, reader: Reader, key_of: Callable[[Any], str]
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, float]]]:
    """Per-location overrides and per-SKU attributes from an optional config document.

    Shape::

        {"locations": {"<platform location id>": {"lat": 40.7, "lon": -74.0, "kind": "store",
                                                   "priority": 1, "pickup": true, ...}},
         "skus": {"<sku>": {"weight_kg": 0.4, "price": 19.99}}}

    Location keys are matched after the adapter's id normalisation, so a
    Shopify ``gid://shopify/Location/1`` and ``1`` are the same location.
    """
    locs: dict[str, dict[str, Any]] = {}
    skus: dict[str, dict[str, float]] = {}
    if config is None:
        return locs, skus
    r = reader.doc("config")
    cfg = r.as_obj(config, "")
    if cfg is None:
        return locs, skus
    for key in cfg:
        if key not in ("locations", "skus"):
            r.fail(key, "unknown key; use locations or skus")
    lmap = r.take(cfg, "locations", "", "obj", required=False) or {}
    for raw, values in lmap.items():
        path = f"locations.{raw}"
        v = r.as_obj(values, path)
        if v is None:
            continue
        out: dict[str, Any] = {}
        for k in v:
            kind = _CONFIG_LOCATION_KEYS.get(k)
            if kind is None:
                r.fail(_join(path, k), f"unknown key; use one of {', '.join(sorted(_CONFIG_LOCATION_KEYS))}")
                continue
            got = r.take(v, k, path, kind, required=False, **({"lo": None} if kind == "int" else {}))
            if got is not None:
                out[k] = got
        locs[key_of(raw)] = out
    smap = r.take(cfg, "skus", "", "obj", required=False) or {}
    for sku, values in smap.items():
        path = f"skus.{sku}"
        v = r.as_obj(values, path)
        if v is None:
            continue
        attrs: dict[str, float] = {}
        for k in v:
            if k not in ("weight_kg", "price"):
                r.fail(_join(path, k), "unknown key; use weight_kg or price")
            else:
                got = r.take(v, k, path, "num", required=False, lo=0.0)
                if got is not None:
                    attrs[k] = got
        skus[str(sku)] = attrs
    return locs, skus


# ============================================================================ model building
def _place(loc: LocationIn, override: Mapping[str, Any], reader: Reader) -> GeoPoint | None:
    """Where a location is: config coordinates, its own, then its postal code / region / country."""
    if "lat" in override or "lon" in override:
        lat, lon = override.get("lat"), override.get("lon")
        if valid_lat_lon(lat, lon):
            return GeoPoint(float(lat), float(lon), "config", False, "configured coordinates")
        reader.doc("config").fail(f"locations.{loc.node_id}", "lat and lon must both be given and in range")
        return None
    addr = loc.address
    return geocode(postal_code=override.get("postal_code", addr.postal_code),
                   country=override.get("country", addr.country),
                   region=override.get("region", addr.region), lat=addr.lat, lon=addr.lon)


def build_catalog(platform: str, locations: Sequence[LocationIn], stock: Sequence[StockIn], reader: Reader,
                  *, config: Mapping[str, Any] | None = None, sku_attrs: Mapping[str, Mapping[str, Any]] | None = None,
                  key_of: Callable[[Any], str] = str, extra: Mapping[str, Any] | None = None,
                  notes: Sequence[str] = ()) -> Catalog:
    """Validate locations and stock together and build the network and inventory.

    Raises
    ------
    AdapterError
        Listing every problem in ``reader`` plus unknown or duplicate
        locations, duplicate stock rows and unplaceable locations.
    """
    overrides, cfg_skus = _read_config(config, reader, key_of)
    inv_r = reader.doc("inventory")
    loc_r = reader.doc("locations")
    nodes: list[Node] = []
    by_id: dict[str, LocationIn] = {}
    points: dict[str, GeoPoint] = {}
    out_notes = list(notes)
    for loc in locations:
        if loc.node_id in by_id:
            loc_r.fail(loc.path, f"duplicate location id {loc.raw_id!r}")
            continue
        by_id[loc.node_id] = loc
        ov = overrides.get(loc.node_id, {})
        point = _place(loc, ov, reader)
        if point is None:
            loc_r.fail(loc.path, "cannot place this location: no valid coordinates, US ZIP code, region or "
                                 "known country (give lat/lon in the config's locations section)")
            continue
        points[loc.node_id] = point
        note = point.note(f"location {loc.raw_id}")
        if note:
            out_notes.append(note)
        kind = ov.get("kind", loc.kind)
        if kind not in {k.value for k in NodeKind}:
            reader.doc("config").fail(f"locations.{loc.node_id}.kind", f"must be warehouse, store or vendor, got {kind!r}")
            continue
        try:
            nodes.append(Node(
                node_id=loc.node_id, kind=NodeKind(kind), lat=point.lat, lon=point.lon,
                priority=ov.get("priority", loc.priority), ships=ov.get("ships", loc.ships),
                pickup=ov.get("pickup", loc.pickup), enabled=ov.get("enabled", loc.enabled),
                handling_per_shipment=ov.get("handling_per_shipment", loc.attrs.get("handling_per_shipment", 0.0)),
                handling_per_unit=ov.get("handling_per_unit", loc.attrs.get("handling_per_unit", 0.0)),
                processing_days=ov.get("processing_days", loc.attrs.get("processing_days", 0)),
                fee_rate=ov.get("fee_rate", loc.attrs.get("fee_rate", 0.0)),
            ))
        except ValidationError as exc:
            for p in exc.problems:
                reader.doc("config").fail(f"locations.{loc.node_id}.{p.field}", p.reason)
    for key in overrides:
        if key not in by_id:
            reader.doc("config").fail(f"locations.{key}", "unknown location")
    seen: set[tuple[str, str]] = set()
    rows: list[StockIn] = []
    for s in stock:
        if s.node_id not in by_id:
            inv_r.fail(s.path, f"unknown location {s.node_id!r}: not in the locations payload")
            continue
        if (s.node_id, s.sku) in seen:
            inv_r.fail(s.path, f"duplicate stock row for location {s.node_id!r} and sku {s.sku!r}")
            continue
        seen.add((s.node_id, s.sku))
        rows.append(s)
    reader.raise_if_any()
    attrs = {**(sku_attrs or {}), **cfg_skus}
    names = sorted({s.sku for s in rows} | set(cfg_skus))
    skus = [Sku(n, float(attrs.get(n, {}).get("weight_kg", 0.0)), float(attrs.get(n, {}).get("price", 0.0)))
            for n in names]
    try:
        network = Network.build(nodes, skus)
        inventory = Inventory.from_records(network, [
            StockRecord(s.node_id, s.sku, s.on_hand, s.safety_stock, s.reserved)
            for s in rows if s.node_id in network.node_index
        ])
    except ValidationError as exc:
        # the readers should have caught everything; keep the adapter's error contract if not
        for p in exc.problems:
            reader.doc(p.table).fail(f"{p.row}.{p.field}", p.reason)
        reader.raise_if_any()
        raise
    return Catalog(platform, network, inventory, by_id, points, tuple(out_notes), dict(extra or {}))


def bind_order(order_in: OrderIn, catalog: Catalog, reader: Reader) -> Bound:
    """Geocode the destination, split off unstocked lines and build the :class:`~models.Order`.

    Raises
    ------
    AdapterError
        When the destination cannot be placed or the order fails the
        model's own validation (reported at the payload's paths).
    """
    addr = order_in.address
    point = None if addr is None else locate(addr.postal_code, addr.country, addr.region, addr.lat, addr.lon)
    if point is None:
        point = order_in.fallback
    if point is None:
        where = addr.path if addr is not None and addr.path else "shipping address"
        reader.fail(where, "cannot place the destination: no valid coordinates, US ZIP code, region or "
                           "known country")
    lines = order_in.lines
    sku_index = catalog.network.sku_index
    known: Sequence[LineIn] = lines
    skipped: list[LineIn] = []
    plain = True
    seen: set[str] = set()
    for ln in lines:
        if ln.line_id in seen or ln.sku not in sku_index:
            plain = False
            break
        seen.add(ln.line_id)
    if not plain:
        # only orders with duplicate ids or unstocked SKUs need the line-by-line pass
        seen = set()
        known = []
        for ln in lines:
            if ln.line_id in seen:
                reader.fail(ln.path, f"duplicate line id {ln.raw_id!r}")
                continue
            seen.add(ln.line_id)
            (known if ln.sku in sku_index else skipped).append(ln)
    reader.raise_if_any()
    assert point is not None
    notes = order_in.notes
    if point.approximate or skipped:
        more = [f"line {ln.raw_id}: sku {ln.sku!r} is not stocked at any location; left unfilled"
                for ln in skipped]
        note = point.note("destination")
        notes = (*notes, *([note] if note else ()), *more)
    order = None
    if known:
        try:
            order = Order(order_in.order_id, tuple([OrderLine(ln.line_id, ln.sku, ln.qty) for ln in known]),
                          point.lat, point.lon, order_in.allow_split, order_in.max_shipments,
                          service_level(order_in.service_level))
        except ValidationError as exc:
            for p in exc.problems:
                reader.fail(p.field, p.reason)
            reader.raise_if_any()
    return Bound(order_in, order, point, catalog, tuple(skipped), tuple(notes))


# ============================================================================ plain orders
# Adapter.fast_order builds, for a payload with nothing unusual in it, exactly the Bound the
# careful path builds, with less machinery: NamedTuples through tuple.__new__ (their generated
# __new__ is a Python function that costs three times as much). Parsing must stay a small
# fraction of routing an order, and these constructors were a third of it.
new_tuple = tuple.__new__
"""``new_tuple(Cls, (v0, v1, ...))`` builds a NamedTuple with every field given, as ``Cls(v0, v1, ...)`` does."""

def bind_plain(order_in: OrderIn, catalog: Catalog) -> Bound | None:
    """:func:`bind_order` for an order with nothing unusual in it; ``None`` otherwise.

    Returns the very :class:`Bound` that :func:`bind_order` returns when
    the destination geocodes, every line's SKU is stocked somewhere and the
    :class:`~models.Order` validates (from the same arguments
    :func:`bind_order` gives it). On ``None`` the caller takes the careful
    path, which reports whatever is wrong at the payload's paths.
    """
    a = order_in.address
    if a is None:
        return None
    point = locate(a.postal_code, a.country, a.region, a.lat, a.lon)
    if point is None:
        return None
    lat, lon, _, approximate, _ = point
    level = order_in.service_level
    level = "standard" if level is None else service_level(level)
    sku_index = catalog.network.sku_index
    lines = []
    for lid, _, sku, qty, *_ in order_in.lines:
        if not (type(sku) is str and sku in sku_index):
            return None
        lines.append(OrderLine(lid, sku, qty))  # no validation of its own: the Order checks its lines
    notes = order_in.notes
    if approximate:
        notes = (*notes, point.note("destination"))
    order = None
    if lines:
        # the arguments bind_order passes: Order's own check accepts the usual order at once
        try:
            order = Order(order_in.order_id, tuple(lines), lat, lon, order_in.allow_split,
                          order_in.max_shipments, level)
        except ValidationError:
            return None
    return new_tuple(Bound, (order_in, order, point, catalog, (), notes))


# Field types of the plain payloads that fast paths decode with msgspec.convert: each accepts
# a subset of what the Shape kind of the same name accepts, with the same value, so a payload
# msgspec takes is one the careful reader takes as it is (tests hold the two together). JSON
# null counts as absent, as in Reader.take: optional fields are ``X | None = None``. Fields
# read only in some cases are typed Any and checked where they are read.
#
# "Not blank" is not a msgspec constraint: a ``pattern`` would run a regex per string (about
# 270 ns each, more than msgspec takes for the rest of a field). The string types carry a
# marker instead, and fast_plain checks every marked field of a decoded value in one
# generated pass with str.isspace, which finds blanks exactly as ``\S`` and str.strip do.
_NOT_BLANK = "sourcewise_not_blank"
_NonBlank = Annotated[str, msgspec.Meta(min_length=1, extra={_NOT_BLANK: True})]
FastId = Annotated[int, msgspec.Meta(ge=0)] | _NonBlank
"""Shape kind ``id``: a non-negative integer or a string that is not blank."""
FastStr = _NonBlank
"""Shape kind ``str``: a string that is not blank (checked by :func:`fast_plain`)."""
FastUnits = Annotated[int, msgspec.Meta(ge=0, le=MAX_UNITS)]
"""Shape kind ``int`` with its default bounds."""
FastPositive = Annotated[int, msgspec.Meta(ge=1, le=MAX_UNITS)]
"""Shape kind ``int`` with ``lo=1``."""
FastDecimal = Annotated[str, msgspec.Meta(pattern="^" + _PLAIN_DECIMAL.pattern)]
"""Shape kind ``decimal`` as its fast test takes it: plain decimal text."""


def fast_convert(payload: Any, schema: type[msgspec.Struct]) -> Any:
    """``msgspec.convert(payload, schema)``, or ``None`` when the payload does not fit it.

    A payload that does not fit may still be valid (an id past 64 bits, a
    quantity written ``2.0``): the caller then takes the careful path, which
    decides and explains.
    """
    try:
        plain = _convert(payload, schema)
    except msgspec.ValidationError:
        return None
    return fast_plain(plain)


def fast_plain(plain: msgspec.Struct) -> Any:
    """``plain`` (a value msgspec decoded into a fast schema), or ``None`` when one of its
    :data:`FastStr` / :data:`FastId` strings is blank."""
    check = _BLANK_CHECKS.get(type(plain))
    if check is None:
        check = _BLANK_CHECKS[type(plain)] = _blank_check(type(plain))
    return None if check(plain) else plain


_convert = msgspec.convert
_BLANK_CHECKS: dict[type, Callable[[Any], bool]] = {}


def _blank_check(schema: type[msgspec.Struct]) -> Callable[[Any], bool]:
    """Generated straight-line code (as :class:`Shape` does) that tells whether any
    not-blank string in a decoded ``schema`` value, at any depth, is blank."""
    scope: dict[str, Any] = {}
    names: dict[type, str] = {}
    body: list[str] = []
    counter = itertools.count()

    def stmts(t: Any, v: str, ind: str) -> list[str]:
        if isinstance(t, msgspec.inspect.Metadata):
            if (t.extra or {}).get(_NOT_BLANK):
                return [f"{ind}if type({v}) is str and {v}.isspace():", f"{ind}    return True"]
            return stmts(t.type, v, ind)
        if isinstance(t, msgspec.inspect.StructType):
            fn, cls = struct(t)
            return [f"{ind}if type({v}) is {cls} and {fn}({v}):", f"{ind}    return True"] if fn else []
        if isinstance(t, msgspec.inspect.ListType | msgspec.inspect.VarTupleType):
            x = f"x{next(counter)}"
            inner = stmts(t.item_type, x, ind + "        ")
            return [f"{ind}if type({v}) is list:", f"{ind}    for {x} in {v}:", *inner] if inner else []
        if isinstance(t, msgspec.inspect.UnionType):
            return [line for member in t.types for line in stmts(member, v, ind)]
        return []

    def struct(t: msgspec.inspect.StructType) -> tuple[str | None, str]:
        cls = f"C{id(t.cls)}"
        scope[cls] = t.cls
        if t.cls not in names:
            # named before its fields are read, so a schema that holds itself calls its own pass
            names[t.cls] = fn = f"check_{t.cls.__name__}_{len(names)}"
            lines = []
            for f in t.fields:
                v = f"v{next(counter)}"
                inner = stmts(f.type, v, "    ")
                if inner:
                    lines += [f"    {v} = o.{f.name}", *inner]
            if lines:
                body.append("\n".join([f"def {fn}(o):", *lines, "    return False"]))
            else:
                names[t.cls] = ""
        return names[t.cls] or None, cls

    fn, _ = struct(msgspec.inspect.type_info(schema))
    if fn is None:
        return lambda plain: False
    exec("\n\n".join(body), scope)  # noqa: S102 - generated from the schema's own fields above
    return scope[fn]


_convert = msgspec.convert


class Paths(dict):
    """``paths[i]`` is ``f"{prefix}[{i}]{suffix}"``, formatted once per index and then looked up.

    Fast paths keep the JSON path of every line (a :class:`LineIn` carries
    it, for messages about the line later) without formatting one per line
    per order. Indices past ``limit`` are formatted each time, so a huge
    payload cannot grow the table without bound.
    """

    __slots__ = ("limit", "prefix", "suffix")

    def __init__(self, prefix: str, suffix: str = "", limit: int = 256):
        super().__init__()
        self.prefix = prefix
        self.suffix = suffix
        self.limit = limit

    def __missing__(self, i: int) -> str:
        path = f"{self.prefix}[{i}]{self.suffix}"
        if 0 <= i < self.limit:
            self[i] = path
        return path


# ============================================================================ rendering helpers
def decision_status(bound: Bound, decision: Decision | None) -> str:
    """Order status including lines that could not be routed anywhere.

    ``routed``, ``partial``, ``unroutable``, or ``nothing_to_route`` when
    the order had no routable lines at all (e.g. every fulfillment order is
    a pick-up).
    """
    if decision is None:
        return _UNROUTABLE if bound.skipped else "nothing_to_route"
    if not bound.skipped:
        # a StrEnum's str() is its value, through C; ``.value`` is a Python-level property
        return str(decision.status)
    return _PARTIAL if decision.units > 0 else _UNROUTABLE


_PARTIAL: str = Status.PARTIAL.value
_UNROUTABLE: str = Status.UNROUTABLE.value


def allocations_by_line(decision: Decision | None) -> dict[str, list[tuple[str, int]]]:
    """``line_id -> [(node_id, qty), ...]`` in decision order."""
    out: dict[str, list[tuple[str, int]]] = {}
    if decision is not None:
        for a in decision.allocations:
            pieces = out.get(a.line_id)
            if pieces is None:  # setdefault would build a list for every allocation
                out[a.line_id] = [(a.node_id, a.qty)]
            else:
                pieces.append((a.node_id, a.qty))
    return out


def unfilled_by_line(bound: Bound, decision: Decision | None) -> dict[str, int]:
    """Units per line left unallocated: the decision's unfilled plus unstocked lines."""
    if decision is not None and not bound.skipped:
        # the usual order: every line routable, and the decision says what it left
        return dict(decision.unfilled) if decision.unfilled else {}
    out = {ln.line_id: ln.qty for ln in bound.skipped}
    if decision is not None:
        out.update(dict(decision.unfilled))
    elif bound.order is not None:
        out.update({ln.line_id: ln.qty for ln in bound.order.lines})
    return out


def summary(bound: Bound, decision: Decision | None) -> dict[str, Any]:
    """The engine's own view, added to every platform response under ``"sourcewise"``."""
    lat, lon, basis, approximate_point, _ = bound.destination
    out: dict[str, Any] = {
        "order_id": bound.source.order_id,
        "status": decision_status(bound, decision),
        "destination": {"lat": lat, "lon": lon, "basis": basis, "approximate": approximate_point},
        "notes": list(bound.notes),
    }
    if bound.source.service_level is not None:
        out["service_level"] = bound.source.service_level
    if decision is not None:
        _add_location_notes(out["notes"], bound, decision)
        c = decision.cost
        out["strategy"] = decision.strategy
        out["cost"] = {"shipping": c.shipping, "handling": c.handling, "vendor_fees": c.vendor_fees,
                       "split_penalty": c.split_penalty, "total": c.total}
    return out


def summary_notes(bound: Bound, decision: Decision | None) -> list[str]:
    """The ``notes`` of :func:`summary`, without the rest of it."""
    notes = list(bound.notes)
    if decision is not None:
        _add_location_notes(notes, bound, decision)
    return notes


def _add_location_notes(notes: list[str], bound: Bound, decision: Decision) -> None:
    approximate = bound.catalog.approximate
    if approximate:
        # a location placed by a centroid makes this decision's distances estimates too
        for node_id in dict.fromkeys(a.node_id for a in decision.allocations if a.node_id in approximate):
            notes.append(bound.catalog.points[node_id].note(f"location {bound.catalog.locations[node_id].raw_id}"))


def allocation_delta(before: Decision | None, after: Decision, lines: Iterable[str] | None,
                     rejected: str) -> dict[str, list[tuple[str, int]]]:
    """Units per line that moved to a new node between two decisions.

    Re-routing keeps most of an order where it was; the platform must only
    be told about what moved off the rejected node. For each line (all, or
    ``lines``), the positive difference per node other than ``rejected``.
    """
    old: dict[tuple[str, str], int] = {}
    if before is not None:
        for a in before.allocations:
            old[(a.line_id, a.node_id)] = old.get((a.line_id, a.node_id), 0) + a.qty
    new: dict[tuple[str, str], int] = {}
    for a in after.allocations:
        new[(a.line_id, a.node_id)] = new.get((a.line_id, a.node_id), 0) + a.qty
    wanted = None if lines is None else set(lines)
    out: dict[str, list[tuple[str, int]]] = {}
    for (line_id, node_id), q in new.items():
        if node_id == rejected or wanted is not None and line_id not in wanted:
            continue
        gained = q - old.get((line_id, node_id), 0)
        if gained > 0:
            out.setdefault(line_id, []).append((node_id, gained))
    return out


# ============================================================================ interface
class Adapter(ABC):
    """One OMS platform: read its payloads, write its responses.

    Subclasses implement :meth:`read_catalog`, :meth:`read_order`,
    :meth:`check_order` and :meth:`render`; everything else is shared.
    """

    name: ClassVar[str]

    # ---------------------------------------------------------------- to implement
    @abstractmethod
    def read_catalog(self, locations: Any, inventory: Any, reader: Reader
                     ) -> tuple[list[LocationIn], list[StockIn], dict[str, Any]]:
        """Read locations and stock (recording problems in ``reader``); return platform extras too."""

    @abstractmethod
    def read_order(self, payload: Any, reader: Reader) -> OrderIn | None:
        """Read an order payload structurally; references are checked in :meth:`check_order`."""

    def check_order(self, order_in: OrderIn, catalog: Catalog, reader: Reader) -> OrderIn:
        """Check the order's references against the catalog; may return an amended order."""
        return order_in

    #: The msgspec schemas of a plain payload (the fields the fast path reads, typed as the
    #: careful reader accepts them), tried in order; empty for an adapter with no fast path.
    fast_schemas: ClassVar[tuple[type[msgspec.Struct], ...]] = ()

    def fast_order(self, payload: Any, catalog: Catalog) -> Bound | None:
        """The :class:`Bound` for a payload with nothing unusual in it, or ``None``.

        The per-order fast path: the payload converted to the first of
        :attr:`fast_schemas` it fits, then :meth:`fast_bind`. Together they
        must return exactly what :meth:`read_order`, :meth:`check_order` and
        :func:`bind_order` return together, and ``None`` (never raise) for
        anything else, so that :meth:`parse_order` falls back to them and
        every malformed payload gets the careful path's :class:`AdapterError`.
        """
        if type(payload) is not dict:
            return None
        for schema in self.fast_schemas:
            plain = fast_convert(payload, schema)
            if plain is not None:
                return self.fast_bind(plain, catalog)
        return None

    def fast_order_json(self, data: bytes | str, catalog: Catalog) -> Bound | None:
        """:meth:`fast_order` of a payload still in JSON text: decoded straight into the
        schema, with no dict built; ``None`` when the text does not fit one."""
        for decoder in self._fast_decoders():
            try:
                plain = fast_plain(decoder.decode(data))
            except msgspec.MsgspecError:  # not JSON msgspec takes (NaN, a lone surrogate) or not plain
                continue
            if plain is not None:  # as fast_order: a schema with a blank string lets the next one try
                return self.fast_bind(plain, catalog)
        return None

    @classmethod
    def _fast_decoders(cls) -> tuple[msgspec.json.Decoder, ...]:
        decoders = cls.__dict__.get("_decoders")
        if decoders is None:
            decoders = tuple(msgspec.json.Decoder(schema) for schema in cls.fast_schemas)
            cls._decoders = decoders  # type: ignore[attr-defined]
        return decoders

    def fast_bind(self, plain: Any, catalog: Catalog) -> Bound | None:
        """The :class:`Bound` of a payload decoded into one of :attr:`fast_schemas`, or ``None``
        when it holds anything the fast path does not decide (see :meth:`fast_order`)."""
        return None

    @abstractmethod
    def render(self, bound: Bound, decision: Decision | None, atp: AtpLookup | None = None) -> dict[str, Any]:
        """The platform's write-back shape for a decision.

        ``atp`` answers stock levels for shapes that report them (Magento's
        ``qty_available``): the session's router, whose stock already
        excludes what ``decision`` reserved; without it, the catalog's own
        inventory as loaded.
        """

    def render_reroute(self, bound: Bound, before: Decision | None, after: Decision, rejected: str,
                       lines: Sequence[str] | None, atp: AtpLookup | None = None, **context: Any) -> dict[str, Any]:
        """Response to a location's rejection; by default the whole new decision."""
        out = self.render(bound, after, atp)
        out.setdefault("sourcewise", {})["rerouted_from"] = self.location_raw(bound, rejected)
        return out

    # ---------------------------------------------------------------- ids
    def key_of(self, raw: Any) -> str:
        """Canonical string form of a platform id (for matching across documents)."""
        return str(raw)

    @staticmethod
    def location_raw(bound: Bound, node_id: str) -> Any:
        """The platform's own id for a node, exactly as it appeared in the locations payload."""
        loc = bound.catalog.locations.get(node_id)
        return loc.raw_id if loc is not None else node_id

    def line_keys(self, bound: Bound, raw: Any) -> list[str]:
        """Routed line ids a platform line reference stands for (empty when none)."""
        key = self.key_of(raw)
        return [ln.line_id for ln in bound.source.lines if ln.line_id == key or self.key_of(ln.raw_id) == key]

    # ---------------------------------------------------------------- shared pipeline
    def parse_catalog(self, locations: Any, inventory: Any, *, config: Mapping[str, Any] | None = None,
                      sku_attrs: Mapping[str, Mapping[str, Any]] | None = None,
                      reader: Reader | None = None) -> Catalog:
        """Locations + inventory payloads -> :class:`Catalog`.

        Raises
        ------
        AdapterError
            Every problem in both documents (and the config), together.
        """
        r = reader or Reader(self.name, "locations")
        locs, stock, extra = self.read_catalog(locations, inventory, r)
        return build_catalog(self.name, locs, stock, r, config=config, sku_attrs=sku_attrs,
                             key_of=self.key_of, extra=extra, notes=extra.pop("notes", ()))

    def parse_order(self, payload: Any, catalog: Catalog) -> Bound:
        """Order payload -> :class:`Bound` against ``catalog``.

        Raises
        ------
        AdapterError
            Every problem found; nothing is built.
        """
        bound = self.fast_order(payload, catalog)
        if bound is not None:
            return bound
        return self._parse_careful(payload, catalog)

    def parse_order_json(self, data: bytes | str, catalog: Catalog) -> Bound:
        """:meth:`parse_order` of a payload as it arrives, in JSON text (bytes or str).

        A plain payload is decoded straight into the fast path's schema;
        anything else is decoded with :func:`json.loads` and read by the
        careful path, so the answer is always :meth:`parse_order`'s of the
        decoded document.

        Raises
        ------
        AdapterError
            When the text is not JSON, or for every problem in the payload.
        """
        bound = self.fast_order_json(data, catalog)
        if bound is not None:
            return bound
        try:
            payload = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            r = Reader(self.name, "order")
            r.fail("$", f"not valid JSON ({exc})")
            r.raise_if_any()
        return self._parse_careful(payload, catalog)

    def _parse_careful(self, payload: Any, catalog: Catalog) -> Bound:
        """:meth:`parse_order` without the fast path: every problem at its JSON path."""
        r = Reader(self.name, "order")
        order_in = self.read_order(payload, r)
        if order_in is not None:
            # cross-references too, so one error lists structural and reference problems
            order_in = self.check_order(order_in, catalog, r)
        r.raise_if_any()
        assert order_in is not None
        return bind_order(order_in, catalog, r)

    def parse(self, order: Any, locations: Any, inventory: Any, *, config: Mapping[str, Any] | None = None
              ) -> tuple[Catalog, Bound]:
        """All three documents at once; problems in all of them are reported together.

        SKU prices and weights found in the order (Shopify ``price`` and
        ``grams``, commercetools ``price.value``) are given to the catalog,
        so vendor fees and weight surcharges see them.
        """
        r = Reader(self.name, "order")
        order_in = self.read_order(order, r)
        attrs: dict[str, dict[str, Any]] = {}
        if order_in is not None:
            for ln in order_in.lines:
                a = attrs.setdefault(ln.sku, {})
                if ln.price is not None:
                    a["price"] = float(ln.price)
                if ln.weight_kg is not None:
                    a["weight_kg"] = ln.weight_kg
        catalog_reader = Reader(self.name, "locations")
        try:
            catalog = self.parse_catalog(locations, inventory, config=config, sku_attrs=attrs,
                                         reader=catalog_reader)
        except AdapterError:
            catalog = None
        return self._finish(r, order_in, catalog, catalog_reader)

    def _finish(self, r: Reader, order_in: OrderIn | None, catalog: Catalog | None,
                catalog_reader: Reader) -> tuple[Catalog, Bound]:
        """Check the order against the catalog and raise every problem of every document together."""
        if order_in is not None and catalog is not None:
            order_in = self.check_order(order_in, catalog, r)
        r.problems.extend(catalog_reader.problems)
        r.raise_if_any()
        assert order_in is not None and catalog is not None
        return catalog, bind_order(order_in, catalog, r)


# ============================================================================ session
class Session:
    """An adapter bound to a live :class:`~sourcewise.engine.router.Router` over one catalog.

    This is how a service uses an adapter: load locations and stock once,
    then :meth:`route` each order payload as it arrives and :meth:`reject`
    when a location cannot fulfil.

    Parameters
    ----------
    adapter : Adapter or str
        An adapter or its name (``shopify``, ``commercetools``, ``magento``, ``generic``).
    locations, inventory
        The platform's payloads (parsed JSON).
    policy : Policy, optional
    config : dict, optional
        Location overrides and SKU attributes (see :func:`_read_config`).
    """

    def __init__(self, adapter: Adapter | str, locations: Any, inventory: Any, *, policy: Policy | None = None,
                 config: Mapping[str, Any] | None = None,
                 sku_attrs: Mapping[str, Mapping[str, Any]] | None = None):
        from sourcewise.engine.adapters import get_adapter

        adapter = get_adapter(adapter) if isinstance(adapter, str) else adapter
        self._attach(adapter, adapter.parse_catalog(locations, inventory, config=config, sku_attrs=sku_attrs),
                     policy)

    def _attach(self, adapter: Adapter, catalog: Catalog, policy: Policy | None) -> None:
        from sourcewise.engine.router import Router

        self.adapter = adapter
        self.catalog = catalog
        self.router = Router(catalog.network, catalog.inventory, policy)
        self._bound: dict[str, Bound] = {}

    @classmethod
    def from_catalog(cls, adapter: Adapter | str, catalog: Catalog, *, policy: Policy | None = None) -> Session:
        """A session over a ready catalog (e.g. :meth:`Catalog.from_models` of a scenario's network)."""
        from sourcewise.engine.adapters import get_adapter

        self = cls.__new__(cls)
        self._attach(get_adapter(adapter) if isinstance(adapter, str) else adapter, catalog, policy)
        return self

    def parse(self, payload: Any) -> Bound:
        """Parse and check an order payload without routing it."""
        return self.adapter.parse_order(payload, self.catalog)

    def route(self, payload: Any, *, strategy: str | None = None) -> dict[str, Any]:
        """Parse, route (reserving stock) and render one order payload.

        Raises
        ------
        AdapterError
            For a malformed payload; nothing is reserved.
        """
        bound = self.parse(payload)
        return self.render(bound, self.route_bound(bound, strategy=strategy))

    def parse_json(self, data: bytes | str) -> Bound:
        """:meth:`parse` of a payload still in JSON text, as a webhook delivers it: a plain
        one is decoded straight into the adapter's schema (see :meth:`Adapter.parse_order_json`)."""
        return self.adapter.parse_order_json(data, self.catalog)

    def route_json(self, data: bytes | str, *, strategy: str | None = None) -> bytes:
        """:meth:`route` from JSON text to JSON text (UTF-8 bytes): what a webhook handler
        receives and answers, with no Python dict of the payload built on the usual path.

        Raises
        ------
        AdapterError
            For text that is not JSON or a malformed payload; nothing is reserved.
        """
        bound = self.parse_json(data)
        return msgspec.json.encode(self.render(bound, self.route_bound(bound, strategy=strategy)))

    def route_bound(self, bound: Bound, *, strategy: str | None = None) -> Decision | None:
        """Route an already parsed order; ``None`` when it has nothing to route."""
        decision = self.router.route(bound.order, strategy) if bound.order is not None else None
        self._bound[bound.order_id] = bound  # kept for reject(): it needs the platform's ids
        return decision

    def render(self, bound: Bound, decision: Decision | None) -> dict[str, Any]:
        return self.adapter.render(bound, decision, self.router)

    def location_id(self, raw: Any) -> str:
        """Node id for a platform location id.

        Raises
        ------
        AdapterError
            When the catalog has no such location.
        """
        key = self.adapter.key_of(raw)
        if key not in self.catalog.network.node_index:
            r = Reader(self.adapter.name, "rejection")
            r.fail("location", f"unknown location {raw!r}")
            r.raise_if_any()
        return key

    def reject(self, order_id: Any, location: Any, lines: Iterable[Any] | None = None,
               shortfall: int | Mapping[str, int] | None = None, **context: Any) -> dict[str, Any]:
        """A location rejected (part of) an order: re-source it and say what moves where.

        Calls :meth:`Router.reroute <engine.router.Router.reroute>`, which
        releases the rejected location's share, zeroes its available stock
        for those SKUs and routes only the affected lines again.

        Parameters
        ----------
        order_id
            The platform order id as routed.
        location
            The platform id of the rejecting location.
        lines : iterable, optional
            Platform line ids the location rejected; default every line it
            was assigned.
        shortfall : int or dict, optional
            Passed to the router: units the location is short (per SKU, or
            for every SKU) instead of zeroing its available stock.

        Returns
        -------
        dict
            The platform's response for what moved (e.g. Shopify move requests).

        Raises
        ------
        AdapterError
            For an unknown order, location or line; nothing changes.
        """
        r = Reader(self.adapter.name, "rejection")
        oid = str(order_id) if not isinstance(order_id, str) else order_id
        bound = self._bound.get(self.adapter.key_of(order_id)) or self._bound.get(oid)
        if bound is None:
            r.fail("order_id", f"order {order_id!r} has not been routed in this session")
            r.raise_if_any()
        assert bound is not None
        node_id = self.location_id(location)
        keys: list[str] | None = None
        if lines is not None and not isinstance(lines, list | tuple | set | frozenset):
            r.fail("lines", f"must be a list of line ids, got {_show(lines)}")
            r.raise_if_any()
        if lines is not None:
            keys = []
            for i, raw in enumerate(lines):
                found = self.adapter.line_keys(bound, raw)
                if not found:
                    r.fail(f"lines[{i}]", f"order {order_id!r} has no line {raw!r}")
                keys.extend(found)
        before = self.router.decision(bound.order_id)
        if before is None:
            r.fail("order_id", f"order {order_id!r} holds no decision")
        r.raise_if_any()
        assigned = {a.line_id for a in before.allocations if a.node_id == node_id}  # type: ignore[union-attr]
        if keys is None:
            keys = sorted(assigned)
        keys = [k for k in keys if k in assigned]
        if not keys:
            out = self.adapter.render_reroute(bound, before, before, node_id, [], self.router, **context)  # type: ignore[arg-type]
            out.setdefault("sourcewise", {}).setdefault("notes", []).append(
                f"location {location} holds none of the rejected lines; nothing to move")
            return out
        from sourcewise.engine.router import ReservationError

        try:
            after = self.router.reroute(bound.order_id, node_id, keys, shortfall)
        except (ReservationError, ValidationError) as exc:
            # the router changes nothing when it refuses; keep the adapter's error contract
            r.fail("order_id", str(exc).strip())
            r.raise_if_any()
            raise
        return self.adapter.render_reroute(bound, before, after, node_id, keys, self.router, **context)


def route_payload(platform: str | Adapter, order: Any, locations: Any, inventory: Any, *,
                  policy: Policy | None = None, config: Mapping[str, Any] | None = None,
                  strategy: str | None = None) -> dict[str, Any]:
    """Route one order payload against one-off locations and inventory payloads.

    What ``python cli.py adapt`` does. Problems in all three documents are
    reported together in one :class:`AdapterError`.
    """
    from sourcewise.engine.adapters import get_adapter
    from sourcewise.engine.router import Router

    adapter = get_adapter(platform) if isinstance(platform, str) else platform
    catalog, bound = adapter.parse(order, locations, inventory, config=config)
    router = Router(catalog.network, catalog.inventory, policy)
    decision = router.route(bound.order, strategy) if bound.order is not None else None
    return adapter.render(bound, decision, router)
