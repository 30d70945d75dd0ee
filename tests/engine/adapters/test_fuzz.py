"""Mutated payloads: whatever Hypothesis does to them, the only failure is the adapter's own error.

Each example takes a realistic payload and applies a few mutations at
random places in its JSON tree: delete a key or element, replace a value
with arbitrary JSON (strings for numbers, NaN, huge integers, nested junk),
empty a container, duplicate or swap list elements. Parsing and routing
must then either succeed or raise :class:`AdapterError` -- never
``KeyError``, ``TypeError``, ``OverflowError``... -- and a rejected payload
must leave the router's stock exactly as it was.

Hostile values join them (issue #21): integers past Python's int-to-text
limit, lone surrogates, nesting deeper than the interpreter recurses --
as Python values and, for ``route_json``, as JSON text -- and orders of
100,000 copies of one line.
"""

from __future__ import annotations

import copy
import json
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


def _nested(depth: int, kind: type) -> Any:
    """An array (or object) nested ``depth`` deep: deeper than ``repr`` or ``json`` recurse."""
    v: Any = None
    for _ in range(depth):
        v = [v] if kind is list else {"a": v}
    return v


_DEEP = 5_000
# Python values no payload should break a reader with: each once raised its own error, not AdapterError.
# Made afresh for each draw: mutations edit the payload in place, and must not edit a shared value.
_HOSTILE = [lambda: 10**5000, lambda: -(10**5000), lambda: 10**64, lambda: 2**70, lambda: "\ud800",
            lambda: "a\udfffb", lambda: {"\ud800": 1}, lambda: [1, "\udc00"], lambda: [10**5000],
            lambda: _nested(_DEEP, list), lambda: _nested(_DEEP, dict)]


def _hostile(i: int) -> Any:
    return _HOSTILE[i]()


_scalars = (st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.integers(-3, 100)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6) | st.sampled_from(_TOKENS))
_keys = st.text(max_size=6) | st.sampled_from(["id", "sku", "qty", "obj"])
_json = st.recursive(_scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_keys, kids, max_size=3),
                     max_leaves=6)
# by index: Hypothesis shows a strategy's values in its repr, and these have none
_wild_scalars = _scalars | st.integers(0, len(_HOSTILE) - 1).map(_hostile)
_wild = st.recursive(_wild_scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_keys, kids, max_size=3),
                     max_leaves=6)
"""Arbitrary values, hostile ones among them: what the fuzz tests here put into payloads (``_json``,
without them, for tests that write payloads out as JSON)."""


def json_paths(node: Any, here: tuple = ()) -> list[tuple]:
    """Every location in a JSON tree (the root excluded), depth-first, down to 50 levels
    (a hostile value nested deeper is one location, not thousands)."""
    out: list[tuple] = []
    if len(here) >= 50:
        return out
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
def mutated(draw, doc: Any, values: st.SearchStrategy = _json) -> Any:
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
            parent[key] = draw(values)
        elif op == "empty":
            parent[key] = type(value)() if isinstance(value, dict | list | str) else None
        elif op == "duplicate" and isinstance(value, list) and value:
            item = value[draw(st.integers(0, len(value) - 1))]
            try:
                value.append(copy.deepcopy(item))
            except RecursionError:  # it holds a hostile nesting: the copy may share it
                value.append(copy.copy(item))
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
    @given(mutated(order, _wild))
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
    @given(mutated(locs, _wild), mutated(inv, _wild), st.booleans())
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
    @given(_wild, _wild, st.none() | st.lists(_wild, max_size=2))
    def check(order_id, location, lines):
        before = atp_table(session.router)
        try:
            session.reject(oid if order_id is None else order_id, location, lines)
        except AdapterError:
            assert atp_table(session.router) == before

    check()


# JSON text only route_json sees: json.dumps cannot write these values, and json.loads refuses
# (or recurses on) them. Each is spliced into the payload's text in place of a value.
_HOSTILE_TEXT = ["9" * 5000, "-" + "9" * 5000, "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
                 '"\\ud800"', '"\\udfff\\ud800"', "NaN", "-Infinity", "1e400", "1" + "0" * 400]
_SLOT = "sourcewise-hostile-slot"


@st.composite
def hostile_text(draw, doc: Any) -> str:
    """``doc``'s JSON text with one value (any, at any depth) replaced by hostile JSON text."""
    doc = copy.deepcopy(doc)
    path = draw(st.sampled_from(json_paths(doc)))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = _SLOT
    return json.dumps(doc).replace(f'"{_SLOT}"', draw(st.sampled_from(_HOSTILE_TEXT)))


@pytest.mark.parametrize("platform", sorted(FILES))
def test_hostile_json_text_fails_only_with_adapter_error_and_changes_nothing(platform):
    session = _SESSIONS.setdefault(platform, session_for(platform))
    order = load(FILES[platform][0])

    @FUZZ
    @given(hostile_text(order), st.booleans())
    def check(text, as_bytes):
        before = atp_table(session.router)
        open_before = session.router.open_orders
        try:
            session.route_json(text.encode() if as_bytes else text)
        except AdapterError as exc:
            assert exc.problems and all(p.field for p in exc.problems)
            assert atp_table(session.router) == before
            assert session.router.open_orders == open_before

    check()


@pytest.mark.parametrize("data", [None, 42, {"order_id": "A"}, ["x"], memoryview(b"{}")])
def test_route_json_of_what_is_not_text_is_an_adapter_error(data):
    session = _SESSIONS.setdefault("generic", session_for("generic"))
    with pytest.raises(AdapterError) as err:
        session.route_json(data)
    assert [(p.field, p.reason) for p in err.value.problems] == [
        ("$", f"must be JSON text (bytes or str), got {type(data).__name__}")]


@pytest.mark.parametrize(("text", "words"), [
    ('{"order_id": ' + "9" * 5000 + "}", "an integer of 5000 digits at line 1 column 14 is too long to read"),
    ("[" * 100_000 + "]" * 100_000, "nest too deeply"),
])
def test_route_json_names_what_json_cannot_read(text, words):
    session = _SESSIONS.setdefault("generic", session_for("generic"))
    with pytest.raises(AdapterError) as err:
        session.route_json(text)
    (problem,) = err.value.problems
    assert problem.field == "$" and words in problem.reason


def _line_list(platform: str, order: Any) -> tuple[list, str]:
    """The order's list of lines and its JSON path."""
    if platform == "shopify":
        return order["order"]["line_items"], "order.line_items"
    if platform == "commercetools":
        return order["lineItems"], "lineItems"
    if platform == "magento":
        return order["inventoryRequest"]["items"], "inventoryRequest.items"
    return order["lines"], "lines"


@pytest.mark.parametrize("platform", ["shopify", "commercetools", "generic"])
def test_100000_duplicate_lines_are_refused_one_problem_each(platform):
    """The duplicate check is one pass over the lines: each copy after the first is one problem at its
    own path, and the error lists 50 of them. (Magento items carry no id: repeats add up.)"""
    session = _SESSIONS.setdefault(platform, session_for(platform))
    order = load(FILES[platform][0])
    lines, prefix = _line_list(platform, order)
    line = lines[0]
    if platform == "commercetools":  # only what is read: the sample's line is 1.3 kB, which makes 130 MB of JSON
        line = {k: line[k] for k in ("id", "variant", "quantity", "price")}
        line["supplyChannel"] = {"typeId": "channel", "id": lines[0]["supplyChannel"]["id"]}
    lines[:] = [line] * 100_000
    before = atp_table(session.router)
    for payload in (order, json.dumps(order)):
        with pytest.raises(AdapterError) as err:
            session.route(payload) if isinstance(payload, dict) else session.route_json(payload)
        dups = [p.field for p in err.value.problems if "duplicate" in p.reason]
        assert len(dups) == 99_999
        assert dups[0].startswith(f"{prefix}[1]") and dups[-1].startswith(f"{prefix}[99999]")
        assert "... and " in str(err.value)
        assert atp_table(session.router) == before
