"""Faster construction for frozen, slotted dataclasses built on the routing path."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import TypeVar

T = TypeVar("T")


def slot_init(cls: type[T]) -> type[T]:
    """Give a frozen ``slots=True`` dataclass an ``__init__`` that sets its slots directly.

    The dataclass ``__init__`` of a frozen class sets each field through
    ``object.__setattr__``; calling each slot's own setter does the same
    job in about half the time. Routing builds several of these values per
    order, so this is on the latency path. Same signature and defaults as
    the generated one, and ``__post_init__`` still runs. Apply it on top of
    ``@dataclass(frozen=True, slots=True)``.
    """
    flds = fields(cls)  # type: ignore[arg-type]
    ns: dict[str, object] = {}
    params = []
    for i, f in enumerate(flds):
        ns[f"_set{i}"] = cls.__dict__[f.name].__set__
        if f.default is not MISSING:
            ns[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        elif f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: slot_init does not handle default factories")
        else:
            params.append(f.name)
    body = [f"    _set{i}(self, {f.name})" for i, f in enumerate(flds)]
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    exec(f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body), ns)  # noqa: S102
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    init.__doc__ = f"Initialise a {cls.__name__} (see the class docstring)."  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls
