"""Mutated payloads: whatever Hypothesis does to them, the only failure is the adapter's own error.

Each example takes a realistic payload and applies a few mutations at
random places in its JSON tree: delete a key or element, replace a value
with arbitrary JSON (strings for numbers, NaN, huge integers, nested junk),
empty a container, duplicate or swap list elements. Parsing and routing
must then either succeed or raise :class:`AdapterError` -- never
``KeyError``, ``TypeError``, ``OverflowError``... -- and a rejected payload
must leave the router's stock exactly as it was.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.adapters import Session
from sourcewise.engine.adapters import route_payload
from sourcewise.engine.adapters.magento import MagentoAdapter
from tests.engine.adapters import atp_table
from tests.engine.adapters import load

FILES = {
    "shopify": ("shopify_order.json", "shopify_locations.json", "shopify_inventory.json"),
    "commercetools": ("commercetools_order.json", "commercetools_channels.json", "commercetools_inventory.json"),
    "magento": ("magento_request.json", "magento_sources.json", "magento_source_items.json"),
    "generic": ("generic_order.json", "generic_locations.json", "generic_inventory.json"),
}

# Values that mean something to some adapter, so mutations reach deep branches.
_TOKENS = ["", " ", "0", "2", "-1", "1.5", "19,99", "NaN", "US", "DE", "USA", "10001", "94103", "00000",
           "gid://shopify/Location/655441491", "655441491", "Point", "channel", "store", "InventorySupply",
           "shipping", "pick_up", "open", "closed", "move", "submitted", "baltimore_wh", "24-WB01",
           "9a0e4b7d-2f1c-4c8e-b6a5-3d2e1f0a9b8c", "WH-NJ", "SKU-RED"]
_scalars = (st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.integers(-3, 100)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6) | st.sampled_from(_TOKENS))
_json = st.recursive(_scalars, lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(max_size=6) | st.sampled_from(["id", "sku", "qty", "obj"]), kids,
                                       max_size=3), max_leaves=6)


def json_paths(node: Any, here: tuple = ()) -> list[tuple]:
    """Every location in a JSON tree (the root excluded), depth-first."""
    out: list[tuple] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(here + (k,))
            out.extend(json_paths(v, here + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(here + (i,))
            out.extend(json_paths(v, here + (i,)))
    return out


@st.composite
def mutated(draw, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        op = draw(st.sampled_from(["delete", "replace", "replace", "replace", "empty", "duplicate", "swap"]))
        value = parent[key]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(_json)
        elif op == "empty":
            parent[key] = type(value)() if isinstance(value, dict | list | str) else None
        elif op == "duplicate" and isinstance(value, list) and value:
            value.append(copy.deepcopy(value[draw(st.integers(0, len(value) - 1))]))
        elif op == "swap" and isinstance(value, list) and len(value) >= 2:
            value[0], value[-1] = value[-1], value[0]
    return doc


def session_for(platform: str) -> Session:
    _, locs, inv = FILES[platform]
    adapter = MagentoAdapter(stock_id=2) if platform == "magento" else platform
    return Session(adapter, load(locs), load(inv))


_SESSIONS: dict[str, Session] = {}
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
FUZZ_CATALOG = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("platform", sorted(FILES))
def test_mutated_orders_fail_only_with_adapter_error_and_change_nothing(platform):
    session = _SESSIONS.setdefault(platform, session_for(platform))
    order = load(FILES[platform][0])

    @FUZZ
    @given(mutated(order))
    def check(payload):
        before = atp_table(session.router)
        open_before = session.router.open_orders
        try:
            out = session.route(payload)
        except AdapterError as exc:
            assert exc.problems and all(p.field for p in exc.problems)
            assert atp_table(session.router) == before
            assert session.router.open_orders == open_before
        else:
            # the engine's own view: the generic response is it, the platforms' carry it under "sourcewise"
            assert isinstance(out, dict)
            view = out if platform == "generic" else out["sourcewise"]
            assert view["status"] in ("routed", "partial", "unroutable", "nothing_to_route")
            assert set(view["destination"]) == {"lat", "lon", "basis", "approximate"}
            if platform == "generic":
                assert out["order_id"] == payload["order_id"]
                assert out["units"] == sum(a["qty"] for a in out["allocations"])

    check()


@pytest.mark.parametrize("platform", sorted(FILES))
def test_mutated_locations_and_inventory_fail_only_with_adapter_error(platform):
    o, locs, inv = (load(name) for name in FILES[platform])

    @FUZZ_CATALOG
    @given(mutated(locs), mutated(inv), st.booleans())
    def check(locations, inventory, mutate_both):
        try:
            route_payload(platform, o, locations, inventory if mutate_both else load(FILES[platform][2]))
        except AdapterError as exc:
            assert exc.problems

    check()


@pytest.mark.parametrize("platform", ["shopify", "commercetools"])
def test_rejections_of_mutated_ids_fail_only_with_adapter_error(platform):
    session = session_for(platform)
    order = load(FILES[platform][0])
    out = session.route(order)
    oid = out.get("order_id", out.get("id"))

    @FUZZ_CATALOG
    @given(_json, _json, st.none() | st.lists(_json, max_size=2))
    def check(order_id, location, lines):
        before = atp_table(session.router)
        try:
            session.reject(oid if order_id is None else order_id, location, lines)
        except AdapterError:
            assert atp_table(session.router) == before

    check()
