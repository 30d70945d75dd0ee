"""The careful reader: typed access to JSON documents that records every problem at its path.

Everything here reads plain Python values (``json.loads`` output) and never
raises on bad input: :class:`Reader` notes each problem with the JSON path of
the offending value, and :meth:`Reader.raise_if_any` turns them into one
:class:`AdapterError`. :class:`Shape` reads the fields of one kind of object
in one go, with a generated fast check for the usual object; platforms build
their Shapes from a declaration in :mod:`~sourcewise.engine.adapters.fields`,
not by hand.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

import msgspec

from sourcewise.engine.geocode import GeoPoint
from sourcewise.engine.geocode import swap_suspect
from sourcewise.engine.geocode import valid_lat_lon
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError

__all__ = [
    "MAX_ID", "MAX_UNITS", "MISSING", "PLAIN_DECIMAL", "AdapterError", "Paths", "Reader", "Shape", "int_range",
    "join_path", "plain_coords", "read_json", "show",
]

PLAIN_DECIMAL = re.compile(r"\d{1,15}(?:\.\d{1,12})?\Z")
"""How money strings usually come (``"199.00"``); anything else takes the careful path."""

MAX_UNITS = 10**12
"""Largest quantity (or other integer) a payload may carry."""

MAX_ID = 10**64 - 1
"""Largest integer id a payload may carry (64 digits).

Ids past 64 bits are accepted (the careful reader takes them as text
would), but without a bound an id of thousands of digits could not even
be turned into text (Python limits int-to-text conversion), and every id
is used as text.
"""

MISSING: Any = object()
"""Marker for an absent key (distinct from JSON ``null``)."""


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


def show(v: Any) -> str:
    """Short repr for messages: payload values can be huge.

    Never raises: an integer past Python's int-to-text limit and nesting
    deeper than ``repr`` can follow are described instead, so that the
    message about a hostile value cannot itself fail.
    """
    try:
        r = repr(v)
    except ValueError:  # an integer (here or inside) with too many digits to convert to text
        if isinstance(v, int):
            return f"an integer of about {int(v.bit_length() * 0.30103) + 1} digits"
        return f"{_kind(v)} holding an integer too long to show"
    except RecursionError:
        return f"{_kind(v)} nested too deeply to show"
    return r if len(r) <= 60 else r[:57] + "..."


def _kind(v: Any) -> str:
    return "an array" if isinstance(v, list) else "an object" if isinstance(v, dict) else type(v).__name__


def read_json(data: bytes | bytearray | str, reader: Reader) -> Any:
    """The document in JSON text, decoded as :func:`json.loads` decodes it; ``None`` (and the
    problem recorded at ``$``) when it cannot be decoded.

    msgspec decodes first: for the documents it takes, its values are
    json.loads's (numbers correctly rounded, the last of repeated keys), about
    eight times faster, which matters for a payload of 10^5 lines. Anything it
    refuses goes to json.loads, which decides (it takes a few documents
    msgspec does not: lone surrogates, ``NaN``, numbers beyond a float) and
    words the problem. Besides text that is not JSON, :func:`json.loads`
    raises ``RecursionError`` on deep nesting and a plain ``ValueError`` on
    an integer of more digits than Python converts (4,300 by default): both
    are the payload's fault, so they are reported like malformed JSON
    rather than escaping as other errors.
    """
    try:
        return _decode_json(data)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        pass
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        reader.fail("$", f"not valid JSON ({exc})")
    except RecursionError:
        reader.fail("$", "not readable JSON: arrays and objects nest too deeply")
    except ValueError as exc:  # the int-to-text limit, the only other ValueError json.loads raises
        limit = sys.get_int_max_str_digits()
        text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
        m = re.search(rf"\d{{{limit + 1},}}", text) if limit else None
        if m is None:
            reader.fail("$", f"not readable JSON ({exc})")
        else:
            line = text.count("\n", 0, m.start()) + 1
            col = m.start() - text.rfind("\n", 0, m.start())
            reader.fail("$", f"an integer of {m.end() - m.start()} digits at line {line} column {col} "
                             f"is too long to read (at most {limit} digits)")
    return None


_decode_json = msgspec.json.Decoder().decode


def _is_empty(v: list) -> bool:
    """An array with no items."""
    return not v


def _is_blank(v: str) -> bool:
    """A string with nothing but white space: no value, whatever its length."""
    return not v.strip()


def join_path(base: str, key: str) -> str:
    """``base.key``, or ``key`` at the root."""
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

    # --------------------------------------------------------------- documents
    def elements(self, payload: Any, key: str, path: str = "") -> tuple[list, str]:
        """The elements of a listing -- a wrapper object's list under ``key``
        (``{"results": [...]}``) or a bare list -- and the JSON path they sit under.

        Platforms answer list endpoints both ways, so catalog documents are
        read through this; a document that is neither is recorded and reads
        as empty, so the rest of the catalog is still checked.

        Parameters
        ----------
        payload
            The document (or the part of it at ``path``).
        key : str
            The wrapper object's key of the list (``results``, ``items``, ...).
        path : str
            Where ``payload`` sits in its document (``""``: it is the document).

        Returns
        -------
        tuple of (list, str)
            The elements (empty when there are none to read) and their path prefix.
        """
        if isinstance(payload, list):
            return payload, path
        doc = self.as_obj(payload, path)
        if doc is None:
            return [], path
        return self.take(doc, key, path, "list") or [], join_path(path, key)

    def objects(self, items: Iterable[Any], prefix: str) -> Iterator[tuple[int, str, dict]]:
        """``(index, path, object)`` for each element of ``items`` (the list at ``prefix``)
        that is an object; any other is recorded and skipped.

        Lazy, so the problems of the elements keep document order with those
        the caller records while reading each one.

        Parameters
        ----------
        items : iterable
            The elements, as :meth:`elements` returns them.
        prefix : str
            Their path prefix, as :meth:`elements` returns it.

        Yields
        ------
        tuple of (int, str, dict)
            The element's index, its JSON path and the element.
        """
        for i, v in enumerate(items):
            path = f"{prefix}[{i}]"
            d = self.as_obj(v, path)
            if d is not None:
                yield i, path, d

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
                self.fail(join_path(base, name), "required field is missing" if v is MISSING else "required, got null")
            return None
        t = type(v)
        if kind == "str":
            if t is str and (not opts.get("nonempty", True) or v.strip()):
                return v
        elif kind == "id":
            if t is int and 0 <= v <= MAX_ID or t is str and v.strip():
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
            if t is str and PLAIN_DECIMAL.match(v):
                return v
        name = keys if type(keys) is str else self.lookup(d, keys)[0]
        return getattr(self, f"as_{kind}")(v, join_path(base, name), **opts)

    # ----------------------------------------------------------------- kinds
    def _of_type(self, v: Any, path: str, cls: type, what: str, blank: Callable[[Any], bool] | None = None) -> Any:
        """``v`` when it is a ``cls`` (and not ``blank``); otherwise ``None`` and the problem.

        ``what`` names the type in the message (``must be an object``);
        ``blank`` tells an empty value, for kinds that must not be empty.
        """
        if not isinstance(v, cls):
            self.fail(path, f"must be {what}, got {show(v)}")
            return None
        if blank is not None and blank(v):
            self.fail(path, "must not be empty")
            return None
        return v

    def as_obj(self, v: Any, path: str) -> dict | None:
        return self._of_type(v, path, dict, "an object")

    def as_list(self, v: Any, path: str, *, nonempty: bool = False) -> list | None:
        return self._of_type(v, path, list, "an array", _is_empty if nonempty else None)

    def as_id(self, v: Any, path: str) -> int | str | None:
        """An identifier: a non-negative integer or a non-empty string (numeric or ``gid://``)."""
        if isinstance(v, bool) or not isinstance(v, int | str):
            self.fail(path, f"must be an id (integer or string), got {show(v)}")
            return None
        if isinstance(v, str) and not v.strip() or isinstance(v, int) and v < 0:
            self.fail(path, f"must be a non-empty id, got {show(v)}")
            return None
        if isinstance(v, int) and v > MAX_ID:
            self.fail(path, f"an integer id has at most {len(str(MAX_ID))} digits, got {show(v)}")
            return None
        return v

    def as_str(self, v: Any, path: str, *, nonempty: bool = True) -> str | None:
        return self._of_type(v, path, str, "a string", _is_blank if nonempty else None)

    def as_int(self, v: Any, path: str, *, lo: int | None = 0, hi: int = MAX_UNITS,
               integral_float: bool = False) -> int | None:
        """A whole number. Strings are refused on purpose: ``"2"`` is a malformed quantity.

        Magnitudes above ``hi`` are refused too: the engine keeps stock in
        64-bit integers, and no real quantity comes near the default bound.
        """
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.fail(path, f"must be an integer, got {show(v)}")
            return None
        if isinstance(v, float):
            if not (integral_float and math.isfinite(v) and v == int(v)):
                self.fail(path, f"must be an integer, got {show(v)}")
                return None
            v = int(v)
        if lo is not None and v < lo:
            self.fail(path, f"must be >= {lo}, got {show(v)}")
            return None
        if abs(v) > hi:
            self.fail(path, f"must be at most {hi} in magnitude, got {show(v)}")
            return None
        return v

    def as_num(self, v: Any, path: str, *, lo: float | None = None, hi: float | None = None) -> float | None:
        try:
            # an int too large for a float is no finite number either (isfinite raises on it)
            finite = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
        except OverflowError:
            finite = False
        if not finite:
            self.fail(path, f"must be a finite number, got {show(v)}")
            return None
        if lo is not None and v < lo or hi is not None and v > hi:
            self.fail(path, f"must be in [{lo}, {hi}], got {show(v)}")
            return None
        return float(v)

    def as_bool(self, v: Any, path: str) -> bool | None:
        return self._of_type(v, path, bool, "true or false")

    def as_decimal(self, v: Any, path: str) -> str | None:
        """Money: a decimal string (``"19.99"``, as Shopify sends it) or a JSON number, >= 0.

        Returns the amount as canonical decimal text, checked with
        :class:`~decimal.Decimal` so ``"0.1"`` stays exact; callers convert
        with ``Decimal(text)`` when they need arithmetic. (Text, because
        most amounts are only validated and passed through, and building a
        Decimal for each would cost more than routing budget allows.)
        """
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            self.fail(path, f"must be a decimal amount, got {show(v)}")
            return None
        try:
            d = Decimal(v.strip()) if isinstance(v, str) else Decimal(str(v))
        except (InvalidOperation, ValueError):
            self.fail(path, f"must be a decimal amount, got {show(v)}")
            return None
        if not d.is_finite() or d < 0:
            self.fail(path, f"must be a finite amount >= 0, got {show(v)}")
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


def int_range(lo: int | None, hi: int) -> tuple[int, int]:
    """The closed range of integers :meth:`Reader.take` accepts as kind ``int`` with bounds
    ``lo`` and ``hi`` (``lo <= v``, ``|v| <= hi``, within its own ``+-MAX_UNITS``).

    Both fast checks, the Shape's generated one and the msgspec type, use exactly this range.
    """
    top = min(hi, MAX_UNITS)
    return max(-top, -MAX_UNITS if lo is None else lo), top


class Shape:
    """The fields of one kind of JSON object, read in one go.

    ``Shape(("id", "id"), ("quantity", "int", True, 1), ("sku", "str0", False))``:
    each field is ``(key, kind[, required[, lo[, hi]]])`` with kinds ``id``,
    ``str`` (non-empty), ``str0`` (may be empty), ``int`` (``lo <= v <= hi``,
    default ``0 <= v <= MAX_UNITS``; ``lo=None`` for no lower bound),
    ``decimal``, ``obj``, ``list``, ``list1`` (non-empty), ``bool`` and ``any``
    (optional only: the value as given, for fields checked where they are read). A key
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
        "id": "(type({v}) is int and 0 <= {v} <= MAX_ID or type({v}) is str and {v}.strip())",
        "str": "(type({v}) is str and {v}.strip())",
        "str0": "type({v}) is str",
        "int": "(type({v}) is int and {lo} <= {v} <= {hi})",
        "decimal": "(type({v}) is str and PLAIN_DECIMAL.match({v}))",
        "obj": "type({v}) is dict",
        "list": "type({v}) is list",
        "list1": "(type({v}) is list and {v})",
        "bool": "type({v}) is bool",
        "any": "True",
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
            if kind == "any" and required:
                raise ValueError(f"{key!r}: a field of kind 'any' cannot be required (nothing checks it)")
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
            bottom, top = int_range(lo, hi)
            test = Shape._TESTS[kind].format(v=v, lo=bottom, hi=top)
            if kind == "any":
                body.append(f"    if {v} is MISSING:")
                body.append(f"        {v} = None")
            elif required:
                body.append(f"    if {v} is None or {v} is MISSING or not {test}:")
                body.append("        return None")
            else:
                body.append(f"    if {v} is MISSING:")
                body.append(f"        {v} = None")
                body.append(f"    elif {v} is not None and not {test}:")
                body.append("        return None")
        body.append(f"    return ({', '.join(names)},)")
        scope = {"MISSING": MISSING, "PLAIN_DECIMAL": PLAIN_DECIMAL, "MAX_ID": MAX_ID}
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

    def read_each(self, reader: Reader, items: Iterable[Any] | None, prefix: str) -> Iterator[tuple[str, tuple]]:
        """``(path, values)`` for each element of ``items`` (the list at ``prefix``), read by :meth:`read`.

        An element that is not an object is recorded and skipped. Lazy, as
        :meth:`Reader.objects`, so the problems of the elements keep document
        order with those the caller records while handling each one.

        Parameters
        ----------
        reader : Reader
            Where problems are recorded.
        items : iterable, optional
            The elements; ``None`` (a list that was absent or bad) reads as empty.
        prefix : str
            The list's JSON path; element ``i`` sits at ``prefix[i]``.

        Yields
        ------
        tuple of (str, tuple)
            The element's JSON path and its field values, as :meth:`read` returns them.
        """
        for i, d in enumerate(items or ()):
            path = f"{prefix}[{i}]"
            vals = self.read(reader, d, path)
            if vals is not None:
                yield path, vals

    def slow(self, reader: Reader, o: dict, path: str) -> tuple:
        """Field by field through :meth:`Reader.take`, recording every problem at ``path``."""
        take = self.take_field
        return tuple([take(reader, o, path, *f) for f in self.fields])

    @staticmethod
    def take_field(reader: Reader, o: dict, path: str, key: str | tuple[str, ...], kind: str, required: bool,
                   lo: int | None = 0, hi: int = MAX_UNITS) -> Any:
        """One field of ``o`` through :meth:`Reader.take`, for a Shape kind (``None`` when absent or bad)."""
        if kind == "str0":
            return reader.take(o, key, path, "str", required=required, nonempty=False)
        if kind == "int":
            return reader.take(o, key, path, "int", required=required, lo=lo, hi=hi)
        if kind == "list1":
            return reader.take(o, key, path, "list", required=required, nonempty=True)
        if kind == "any":
            v = o.get(key, None) if type(key) is str else reader.lookup(o, key)[1]
            return None if v is MISSING else v
        return reader.take(o, key, path, kind, required=required)


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
