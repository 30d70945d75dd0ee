"""Tests of the OMS adapters; shared helpers for loading the example payloads."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sourcewise.engine.adapters import AdapterError

PAYLOADS = Path(__file__).resolve().parent / "payloads"


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
