"""Field declarations: each platform says once what its order objects hold, and both parsers
come from that.

A :class:`Record` lists the fields of one kind of JSON object -- key (or
alternative spellings), kind, whether it is required, integer bounds, and
the record of a nested object or of a list's elements. From it come

* the careful reader's :class:`~sourcewise.engine.adapters.reader.Shape`\\ s
  (:meth:`Record.shape`) and single-field reads (:meth:`Record.take`), which
  record every problem at its JSON path, and
* the fast path's msgspec Struct (:attr:`Record.struct`), which decodes a
  plain payload in C and refuses anything the careful reader would not take
  as it is.

So a field's type, bounds and optionality are written in one place, and the
two parsers cannot disagree about them. Kinds are the Shape kinds (``id``,
``str``, ``str0``, ``int``, ``decimal``, ``obj``, ``list``, ``list1``,
``bool``, ``any``) plus ``absent``: a key the fast schema must not find
(its presence means the payload has another shape), never read by the
careful reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Annotated
from typing import Any
from typing import NamedTuple

import msgspec
from msgspec import UNSET
from msgspec import UnsetType

from sourcewise.engine.adapters.fastpath import FastDecimal
from sourcewise.engine.adapters.fastpath import FastId
from sourcewise.engine.adapters.fastpath import FastObject
from sourcewise.engine.adapters.fastpath import FastStr
from sourcewise.engine.adapters.fastpath import fast_int
from sourcewise.engine.adapters.reader import MAX_UNITS
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.reader import Shape

__all__ = ["Field", "Record", "first_set"]

# the fast type of each kind that needs no bounds or nested record
_SCALAR_TYPES: dict[str, Any] = {
    "id": FastId, "str": FastStr, "str0": str, "decimal": FastDecimal, "bool": bool, "any": Any,
}


class Field(NamedTuple):
    """One field of a :class:`Record`.

    Parameters
    ----------
    key : str or tuple of str
        The JSON key, or its alternative spellings (the first present is read,
        as :meth:`~sourcewise.engine.adapters.reader.Reader.lookup` does).
    kind : str
        A Shape kind, or ``absent`` (see the module docstring).
    required : bool
        Whether a missing key or JSON ``null`` is a problem.
    lo, hi : int
        Bounds of an ``int`` (``lo=None``: no lower bound).
    of : Record, optional
        The record of an ``obj``, or of each element of a ``list``/``list1``;
        without it the fast schema keeps the object or the elements as given.
    """

    key: str | tuple[str, ...]
    kind: str
    required: bool = True
    lo: int | None = 0
    hi: int = MAX_UNITS
    of: Record | None = None

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every key the field may come under, preferred first."""
        return (self.key,) if isinstance(self.key, str) else self.key

    def fast_type(self) -> Any:
        """The msgspec type of a present, non-null value, as the careful reader takes it plainly."""
        kind = self.kind
        if kind == "int":
            return fast_int(self.lo, self.hi)
        if kind == "obj":
            return FastObject if self.of is None else self.of.struct
        if kind in ("list", "list1"):
            items = list[Any] if self.of is None else list[self.of.struct]  # type: ignore[name-defined]
            return Annotated[items, msgspec.Meta(min_length=1)] if kind == "list1" else items
        return _SCALAR_TYPES[kind]

    def struct_fields(self) -> list[tuple[Any, ...]]:
        """``msgspec.defstruct`` entries: one per spelling.

        A key with alternative spellings is one field per spelling, ``UNSET``
        when absent, so the fast path can tell which came first (see
        :func:`first_set`) and a present ``null`` from an absent key. msgspec
        cannot require one of several keys, so for a required one the fast
        path must decline when :func:`first_set` gives ``UNSET``.
        """
        if self.kind == "absent":
            return [(self.key, Any, UNSET)]
        t = self.fast_type()
        if self.kind == "any" or t is FastObject and not self.required:
            return [(self.key, t, None)]  # null reads as None already
        if isinstance(self.key, str):
            return [(self.key, t)] if self.required else [(self.key, t | None, None)]
        t = t | UnsetType if self.required else t | None | UnsetType
        return [(k, t, UNSET) for k in self.key]


class Record:
    """The fields of one kind of JSON object, declared once for both parsers.

    Parameters
    ----------
    name : str
        Names the generated Struct (``Shopify.LineItem``) in messages and reprs.
    *fields : Field
    """

    def __init__(self, name: str, *fields: Field):
        self.name = name
        self.fields = fields
        self.by_key: dict[str | tuple[str, ...], Field] = {}
        for f in fields:
            self.by_key[f.key] = f
            for k in f.spellings:
                self.by_key[k] = f

    def extended(self, name: str, *fields: Field) -> Record:
        """This record with more fields (a payload shape that wraps or adds to another)."""
        return Record(name, *self.fields, *fields)

    def shape(self, *keys: str) -> Shape:
        """A careful :class:`~sourcewise.engine.adapters.reader.Shape` of the named fields,
        in that order (default: every field but ``absent`` ones, in declaration order).

        The order is the order problems are reported in, so readers name the
        fields they read together and read the rest where the message belongs.
        """
        chosen: Sequence[Field] = ([self.by_key[k] for k in keys] if keys
                                   else [f for f in self.fields if f.kind != "absent"])
        return Shape(*[(f.key, f.kind, f.required, f.lo, f.hi) for f in chosen])

    def take(self, reader: Reader, d: dict, key: str, base: str) -> Any:
        """One field of ``d`` read carefully, as declared; ``None`` when absent or bad (recorded)."""
        f = self.by_key[key]
        return Shape.take_field(reader, d, base, f.key, f.kind, f.required, f.lo, f.hi)

    @cached_property
    def struct(self) -> type[msgspec.Struct]:
        """The msgspec Struct of a plain object of this record (``gc=False``: they hold no cycles)."""
        spec = [entry for f in self.fields for entry in f.struct_fields()]
        return msgspec.defstruct(self.name, spec, kw_only=True, gc=False)


def first_set(*values: Any) -> Any:
    """The first value that is not ``UNSET`` (``UNSET`` when none is): a field with alternative
    spellings, read from its Struct fields in the order :meth:`Reader.lookup` tries the keys."""
    for v in values:
        if v is not UNSET:
            return v
    return UNSET
