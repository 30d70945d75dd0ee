"""Tests of the OMS adapters; shared helpers for loading the example payloads."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sourcewise.engine.adapters import AdapterError

#: The example payloads the README shows (``data/payloads``, shipped with the package).
PAYLOADS = Path(__file__).resolve().parents[3] / "data" / "payloads"


def load(name: str, mutate: Callable[[Any], Any] | None = None) -> Any:
    """A fresh copy of an example payload (tests mutate them freely), changed by ``mutate``
    (which edits it in place) when given."""
    with (PAYLOADS / name).open(encoding="utf-8") as fh:
        doc = copy.deepcopy(json.load(fh))
    if mutate is not None:
        mutate(doc)
    return doc


def atp_table(router) -> dict[tuple[str, str], int]:
    """Every (node, sku) ATP the router holds: compared before/after to prove nothing changed."""
    net = router.network
    return {(n.node_id, s.sku): router.atp(n.node_id, s.sku) for n in net.nodes for s in net.skus}


def route_refused(session: Any, payload: Any, field: str, words: str) -> AdapterError:
    """Route ``payload``, which must fail naming ``field`` with ``words`` in its reason, and
    check that nothing changed: the router's stock and open orders are as they were.

    Returns
    -------
    AdapterError
        The error, for checks of a platform's own.
    """
    before = atp_table(session.router)
    open_before = session.router.open_orders
    with pytest.raises(AdapterError) as exc:
        session.route(payload)
    problems = {p.field: p.reason for p in exc.value.problems}
    assert field in problems, problems
    assert words in problems[field]
    assert atp_table(session.router) == before
    assert session.router.open_orders == open_before
    return exc.value


def at(doc: Any, path: tuple) -> Any:
    """The value at ``path`` (keys and indices) inside a JSON document."""
    for key in path:
        doc = doc[key]
    return doc


def field_path(field: str) -> tuple[str | int, ...]:
    """The keys and indices of a field as problems name it: ``a.b[0].c`` is ``("a", "b", 0, "c")``."""
    return tuple(int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", field))


@dataclass(frozen=True)
class Malformed:
    """A change to a valid payload (``mutate`` edits it in place) that its adapter must refuse,
    naming ``field`` with ``words`` in the reason."""

    field: str
    words: str
    mutate: Callable[[Any], Any]

    def __str__(self) -> str:  # the test id
        return f"{self.field}-{self.words}"

    def refused(self, session: Any, name: str) -> AdapterError:
        """Route the example payload ``name`` changed this way: see :func:`route_refused`."""
        return route_refused(session, load(name, self.mutate), self.field, self.words)


def setting(field: str, value: Any, words: str) -> Malformed:
    """``field`` set to ``value`` (a fresh copy each time), refused naming that field."""
    *parent, key = field_path(field)

    def mutate(doc: Any) -> None:
        at(doc, parent)[key] = copy.deepcopy(value)

    return Malformed(field, words, mutate)


def dropping(field: str, words: str = "missing") -> Malformed:
    """``field`` deleted, refused naming that field."""
    *parent, key = field_path(field)

    def mutate(doc: Any) -> None:
        del at(doc, parent)[key]

    return Malformed(field, words, mutate)


def refused_beside(session: Any, name: str, other: dict[str, str], case: Malformed) -> None:
    """Route the example payload ``name`` under the id in ``other`` first, so the router holds live
    reservations, then ``name`` changed by ``case``: it must be refused as :func:`route_refused`
    checks, and the first order must still be the one open."""
    session.route(load(name) | other)
    case.refused(session, name)
    assert session.router.open_orders == tuple(other.values())
