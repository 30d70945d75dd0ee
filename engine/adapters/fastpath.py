"""The typed fast path: msgspec types of plain payloads, and their conversion.

A plain payload (every value well formed, nothing unusual) is decoded by
msgspec, in C, straight into a Struct generated from the platform's field
declaration (:mod:`~sourcewise.engine.adapters.fields`); anything msgspec
refuses goes to the careful reader, which decides and explains. This is
what makes ``Session.route_json`` faster than ``json.loads`` plus ``route``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Annotated
from typing import Any

import msgspec

from sourcewise.engine.adapters.reader import MAX_UNITS
from sourcewise.engine.adapters.reader import PLAIN_DECIMAL
from sourcewise.engine.adapters.reader import int_range

__all__ = [
    "IS_OBJECT", "NOT_BLANK", "FastDecimal", "FastId", "FastObject", "FastPositive", "FastStr", "FastUnits",
    "blank_check", "fast_convert",
    "fast_int", "fast_plain",
]


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
NOT_BLANK = "sourcewise_not_blank"
"""The msgspec ``Meta.extra`` key that marks a string the fast path must find not blank."""
_NonBlank = Annotated[str, msgspec.Meta(min_length=1, extra={NOT_BLANK: True})]
FastId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | _NonBlank
"""Shape kind ``id``: a non-negative integer or a string that is not blank.

Bounded, as msgspec otherwise passes any Python int through: a larger id
(up to :data:`~sourcewise.engine.adapters.reader.MAX_ID`) takes the
careful path, which also refuses one too long to be turned into text."""
FastStr = _NonBlank
"""Shape kind ``str``: a string that is not blank (checked by :func:`fast_plain`)."""
FastUnits = Annotated[int, msgspec.Meta(ge=0, le=MAX_UNITS)]
"""Shape kind ``int`` with its default bounds."""
FastPositive = Annotated[int, msgspec.Meta(ge=1, le=MAX_UNITS)]
"""Shape kind ``int`` with ``lo=1``."""
FastDecimal = Annotated[str, msgspec.Meta(pattern="^" + PLAIN_DECIMAL.pattern)]
"""Shape kind ``decimal`` as its fast test takes it: plain decimal text."""
IS_OBJECT = "sourcewise_object"
"""The msgspec ``Meta.extra`` key that marks a value kept as given that must be an object."""
FastObject = Annotated[Any, msgspec.Meta(extra={IS_OBJECT: True})]
"""Shape kind ``obj`` kept as given (no record of its own): checked by :func:`fast_plain`, as a
msgspec ``dict`` would copy every such object, which costs more than the rest of its field."""


def fast_int(lo: int | None = 0, hi: int = MAX_UNITS) -> Any:
    """The msgspec type of a Shape ``int`` with bounds ``lo`` and ``hi``: the range
    :meth:`~sourcewise.engine.adapters.reader.Reader.as_int` accepts (``lo <= v``,
    ``|v| <= hi``), within ``take``'s own ``+-MAX_UNITS``, as the Shape's fast test has it."""
    bottom, top = int_range(lo, hi)
    if (bottom, top) == (0, MAX_UNITS):
        return FastUnits
    if (bottom, top) == (1, MAX_UNITS):
        return FastPositive
    return Annotated[int, msgspec.Meta(ge=bottom, le=top)]


_convert = msgspec.convert  # a module global: one lookup fewer per order


def fast_convert(payload: Any, schema: type[msgspec.Struct]) -> Any:
    """``msgspec.convert(payload, schema)``, or ``None`` when the payload does not fit it.

    A payload that does not fit may still be valid (an id past 64 bits, a
    quantity written ``2.0``): the caller then takes the careful path, which
    decides and explains.
    """
    try:
        plain = _convert(payload, schema)
    except (msgspec.ValidationError, UnicodeEncodeError, RecursionError):
        # msgspec encodes a string it refuses to UTF-8 for its message, which fails on a lone
        # surrogate ("\ud800", which json.loads lets through); the careful path explains both
        return None
    return fast_plain(plain)


def fast_plain(plain: msgspec.Struct) -> Any:
    """``plain`` (a value msgspec decoded into a fast schema), or ``None`` when one of its
    :data:`FastStr` / :data:`FastId` strings is blank or a :data:`FastObject` is not an object."""
    check = _BLANK_CHECKS.get(type(plain))
    if check is None:
        check = _BLANK_CHECKS[type(plain)] = blank_check(type(plain))
    return None if check(plain) else plain


_BLANK_CHECKS: dict[type, Callable[[Any], bool]] = {}


def blank_check(schema: type[msgspec.Struct]) -> Callable[[Any], bool]:
    """Generated straight-line code (as :class:`~sourcewise.engine.adapters.reader.Shape` does)
    that tells whether any not-blank string in a decoded ``schema`` value, at any depth, is blank,
    or any :data:`FastObject` is not an object: the checks msgspec cannot make itself.

    Parameters
    ----------
    schema : type
        A msgspec Struct type whose string fields may carry the :data:`NOT_BLANK` marker.

    Returns
    -------
    callable
        ``check(value) -> bool``: true when a marked string of ``value`` is blank.
    """
    scope: dict[str, Any] = {}
    names: dict[type, str] = {}
    body: list[str] = []
    counter = itertools.count()

    def stmts(t: Any, v: str, ind: str) -> list[str]:
        if isinstance(t, msgspec.inspect.Metadata):
            if (t.extra or {}).get(NOT_BLANK):
                return [f"{ind}if type({v}) is str and {v}.isspace():", f"{ind}    return True"]
            if (t.extra or {}).get(IS_OBJECT):
                return [f"{ind}if {v} is not None and type({v}) is not dict:", f"{ind}    return True"]
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
