"""The fast paths of parsing never decide differently from the careful ones.

:class:`~sourcewise.engine.adapters.reader.Shape` reads objects through generated code and
falls back to :meth:`Reader.take` field by field; :class:`~models.Order`
confirms the usual order with plain comparisons before running its full
validation. Each shortcut must accept only what the careful path accepts,
with the same values: these tests throw awkward values at both.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math

import msgspec
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import sourcewise.engine.adapters.commercetools as ct_mod
import sourcewise.engine.adapters.generic as generic_mod
import sourcewise.engine.adapters.magento as magento_mod
import sourcewise.engine.adapters.shopify as shopify_mod
from sourcewise.engine.adapters import AdapterError
from sourcewise.engine.adapters import get_adapter
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.reader import Shape
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.adapters.records import Catalog
from sourcewise.models.errors import Collector
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine
from tests.engine.adapters import at
from tests.engine.adapters import load
from tests.engine.adapters.test_fuzz import FILES
from tests.engine.adapters.test_fuzz import json_paths
from tests.engine.adapters.test_fuzz import mutated
from tests.engine.adapters.test_fuzz import session_for

# every kind, required and optional, bounds and alternative keys
# a valid object per shape, so that one or two changed values reach every test of the fast path

CHECK = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


_ids = st.sampled_from(["1", "2", "", " ", "o-1"]) | st.integers(-1, 2) | st.none()
_nums = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-200, 200) | st.booleans()
         | st.sampled_from([90.0, -90.0, 180.0, -180.0, 90.0000001, math.nan]) | st.none() | st.just("1"))
_lines = st.builds(OrderLine, _ids, st.sampled_from(["A", "", None, 3]), st.integers(-1, 3) | st.booleans()
                   | st.just(2.0), st.sampled_from(["ship", "pickup", "same_day", "fly", None]),
                   st.sampled_from([None, "", "S1"]))


_good_line = st.builds(OrderLine, st.sampled_from(["1", "2", "3"]), st.just("A"), st.integers(1, 3))
_order_changes = st.fixed_dictionaries({}, optional={
    "order_id": _ids, "lat": _nums, "lon": _nums, "max_shipments": st.none() | st.integers(-1, 2) | st.booleans(),
    "service_level": st.sampled_from(["standard", "express", "next_day", "Express", "", None]),
    "placed_at": st.sampled_from([None, "2024-01-01"]),
})


@CHECK
@given(st.lists(_good_line, min_size=1, max_size=3), st.lists(_lines, max_size=2), _order_changes)
def test_order_fast_check_agrees_with_full_validation(good, odd, changes):
    # a valid order, then a few odd lines and field values: each test of the shortcut gets its turn
    values = dict(order_id="o-1", lines=tuple(good + odd), lat=40.0, lon=-74.0, allow_split=True,
                  max_shipments=None, service_level="standard", channel="web", placed_at=None,
                  allow_substitutes=True)
    values.update(changes)
    # a valid order given the values unvalidated, to ask both checks about the same values
    raw = Order("o-1", (OrderLine("1", "A", 1),), 40.0, -74.0)
    for k, v in values.items():
        msgspec.structs.force_setattr(raw, k, v)
    col = Collector()
    try:
        raw.validate_into(col)
    except TypeError:
        return  # unhashable line ids break the full check itself; not the shortcut's business
    if raw._plainly_valid():
        assert not col.problems
    try:
        Order(**values)
    except ValueError as exc:
        assert col.problems and exc.problems == tuple(col.problems)  # type: ignore[attr-defined]
    else:
        assert not col.problems


# ---------------------------------------------------------------------------- whole orders

MODULES = (shopify_mod, ct_mod, magento_mod, generic_mod)


ADAPTERS = (shopify_mod.ShopifyAdapter, ct_mod.CommercetoolsAdapter, magento_mod.MagentoAdapter,
            generic_mod.GenericAdapter)


@contextlib.contextmanager
def careful_only():
    """Every Shape's fast check, plain_coords, the plain readers' fast_convert and every
    adapter's fast_bind (and so its fast_order and fast_order_json) switched off: only the
    careful paths run."""
    saved = []
    for mod in MODULES:
        for obj in vars(mod).values():
            if isinstance(obj, Shape):
                saved.append((obj, obj.fast))
                obj.fast = lambda d: None
    coords = [(mod, mod.plain_coords) for mod in MODULES if hasattr(mod, "plain_coords")]
    for mod, _ in coords:
        mod.plain_coords = lambda lat, lon, ref: None
    converts = [(mod, mod.fast_convert) for mod in MODULES if hasattr(mod, "fast_convert")]
    for mod, _ in converts:
        mod.fast_convert = lambda payload, schema: None
    fast_orders = [(cls, cls.__dict__["fast_bind"]) for cls in ADAPTERS]
    for cls, _ in fast_orders:
        cls.fast_bind = lambda self, plain, catalog: None
    try:
        yield
    finally:
        for obj, fast in saved:
            obj.fast = fast
        for mod, fn in coords:
            mod.plain_coords = fn
        for mod, fn in converts:
            mod.fast_convert = fn
        for cls, fn in fast_orders:
            cls.fast_bind = fn


def _read(adapter, payload):
    r = Reader(adapter.name, "order")
    try:
        got = adapter.read_order(payload, r)
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        got = type(exc)
    if got is not None and not isinstance(got, type) and str(got.order_id).startswith("msi-"):
        got = got._replace(order_id="msi", raw_id="msi")  # a fresh random id per read
    return got, [(p.row, p.field, p.reason) for p in r.problems]


WHOLE = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _check_platform(platform):
    adapter = get_adapter(platform)
    order = load(FILES[platform][0])

    @WHOLE
    @given(st.one_of(st.just(order), mutated(order)))
    def check(payload):
        fast = _read(adapter, payload)
        with careful_only():
            careful = _read(adapter, payload)
        assert fast == careful

    check()


def test_shopify_orders_read_the_same_with_and_without_fast_paths():
    _check_platform("shopify")


def test_commercetools_orders_read_the_same_with_and_without_fast_paths():
    _check_platform("commercetools")


def test_magento_requests_read_the_same_with_and_without_fast_paths():
    _check_platform("magento")


def test_generic_orders_read_the_same_with_and_without_fast_paths():
    _check_platform("generic")


def test_plain_paths_are_taken_for_the_example_payloads():
    assert magento_mod.MagentoAdapter.read_plain(load(FILES["magento"][0])) is not None
    assert generic_mod.read_plain_order(load(FILES["generic"][0]), "", None) is not None


def test_plain_readers_are_taken_for_the_example_payloads():
    # read_order of Shopify and commercetools tries the plain reader fast_bind is built on
    shopify = load(FILES["shopify"][0])
    assert shopify_mod._plain_order(shopify_mod._decoded(shopify)) is not None
    ct = load(FILES["commercetools"][0])
    assert ct_mod._plain_order(msgspec.convert(ct, ct_mod.ORDER.struct), None) is not None


# ---------------------------------------------------------------------------- fast_order (payload -> Bound)

def _typed(v):
    """``v`` with every value tagged by its type, so that ``1``, ``1.0`` and ``True`` differ."""
    if isinstance(v, Order | OrderLine):
        return type(v), _typed(msgspec.structs.astuple(v))
    if isinstance(v, dict):
        return dict, sorted((repr(k), _typed(x)) for k, x in v.items())
    if isinstance(v, list | tuple):
        return type(v), [_typed(x) for x in v]
    if isinstance(v, Catalog):
        return Catalog, id(v)
    return type(v), v


def _normalised(bound):
    """A Bound comparable across two parses: Magento names an id-less request ``msi-<random>``."""
    src = bound.source
    if str(src.order_id).startswith("msi-"):
        src = src._replace(order_id="msi", raw_id="msi")
        order = bound.order if bound.order is None else msgspec.structs.replace(bound.order, order_id="msi")
        bound = bound._replace(source=src, order=order)
    return _typed(bound)


def _fast_and_careful(session, payload):
    """``fast_order``'s answer (never an exception) and the careful path's Bound or problems."""
    fast = session.adapter.fast_order(payload, session.catalog)
    with careful_only():
        try:
            careful = session.parse(payload)
        except AdapterError as exc:
            careful = exc.problems
    return fast, careful


def _check_fast_order(platform, payloads):
    session = session_for(platform)

    @WHOLE
    @given(payloads)
    def check(payload):
        fast, careful = _fast_and_careful(session, payload)
        if fast is not None:
            assert isinstance(careful, Bound), careful
            assert _normalised(fast) == _normalised(careful)
        # whichever path ran, parse answers as the careful path does
        try:
            got = session.parse(payload)
        except AdapterError as exc:
            assert exc.problems == careful
        else:
            assert _normalised(got) == _normalised(careful)

    check()


@pytest.mark.parametrize("platform", sorted(FILES))
def test_fast_order_builds_the_careful_bound_or_declines(platform):
    order = load(FILES[platform][0])
    _check_fast_order(platform, st.one_of(st.just(order), mutated(order)))


@pytest.mark.parametrize("platform", sorted(FILES))
def test_fast_order_is_taken_for_the_example_payloads(platform):
    session = session_for(platform)
    payload = load(FILES[platform][0])
    fast, careful = _fast_and_careful(session, payload)
    assert fast is not None
    assert _normalised(fast) == _normalised(careful)


# values that sit at the edges of what the fast path accepts
_EDGES = st.sampled_from([0, 1, -1, 2.0, 1.5, True, None, "", " ", "\u00a0", "\u200b", "x", "1", "gid://shopify/X/1",
                          "199.00", "1e3", "١٢", 10**12, 10**12 + 1, 2**64, 40.0, -74.0, 200.0, math.nan, [], {},
                          [{}], {"id": "x"}, "highPrecision", "channel", "US", "NY", "10001"])


@st.composite
def _edged(draw, doc):
    """``doc`` with one to three values (anywhere in it) set to an edge value."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(doc)
        path = draw(st.sampled_from(paths))
        at(doc, path[:-1])[path[-1]] = copy.deepcopy(draw(_EDGES))  # the samples are shared: never edit them
    return doc


@pytest.mark.parametrize("platform", sorted(FILES))
def test_fast_order_agrees_with_the_careful_path_at_the_edges(platform):
    order = load(FILES[platform][0])
    _check_fast_order(platform, _edged(order))


@pytest.mark.parametrize("platform", sorted(FILES))
def test_fast_order_agrees_on_the_benchmark_payloads(platform, bench_setup):
    """The payloads ``benchmarks/bench_adapters.py`` times take the fast path, with the careful result."""
    st_ = bench_setup(platform)
    session = st_.session
    for payload in st_.payloads[:40]:
        fast, careful = _fast_and_careful(session, payload)
        assert fast is not None
        assert _normalised(fast) == _normalised(careful)
        decision = session.route_bound(fast)
        out = session.render(fast, decision)
        assert out["sourcewise"]["status"] if platform != "generic" else out["status"]


@pytest.fixture(scope="module")
def bench_setup():
    from benchmarks.bench_adapters import Setup
    from benchmarks.conftest import RoutingSetup
    from sourcewise.data.instances import build_inventory
    from sourcewise.data.instances import build_network
    from sourcewise.data.instances import build_orders
    from sourcewise.data.instances import expected_units_per_order
    from sourcewise.data.instances import orders_as_objects

    network = build_network(12, 300, seed=0)
    inventory = build_inventory(network, 60 * expected_units_per_order(3), seed=0)
    batch = build_orders(network, 60, seed=1, lines_per_order=3)
    rs = RoutingSetup(network, inventory, batch, batch, orders_as_objects(network, batch))
    return lambda platform: Setup(platform, rs)


_DALLAS = "4c3b2a19-8d7e-4f6a-a5b4-c3d2e1f0a9b8"


@pytest.mark.parametrize(("ref", "plain"), [
    ({"typeId": "channel", "key": "tx-dallas-dc"}, True),  # a key to a catalog channel is as plain as its id
    ({"typeId": "channel", "key": "tx-dallas-dc", "id": _DALLAS}, True),
    ({"typeId": "channel", "key": "us-webshop"}, False), ({"typeId": "channel", "key": " "}, False),
    ({"typeId": "channel", "key": 3}, False), ({"typeId": "channel"}, False),
    ({"typeId": "channel", "key": "nope"}, False), ({"typeId": "store", "key": "tx-dallas-dc"}, False),
    ({"key": "tx-dallas-dc"}, False), ({"typeId": "channel", "key": "tx-dallas-dc", "id": None}, False),
])
def test_fast_order_resolves_channel_keys_as_the_careful_path(ref, plain):
    session = session_for("commercetools")
    payload = load(FILES["commercetools"][0])
    payload["lineItems"][1]["supplyChannel"] = ref
    fast, careful = _fast_and_careful(session, payload)
    by_text, _, _ = _json_and_careful(session, payload)
    assert (fast is not None) == (by_text is not None) == plain
    if plain:
        assert _normalised(fast) == _normalised(careful) == _normalised(by_text)
        assert fast.source.lines[1].ref["channel"] == _DALLAS


def test_fast_order_declines_unstocked_skus_and_unknown_locations():
    session = session_for("generic")
    payload = load(FILES["generic"][0])
    payload["lines"][0]["sku"] = "NOT-STOCKED"
    assert session.adapter.fast_order(payload, session.catalog) is None
    bound = session.parse(payload)  # the careful path leaves it unfilled, with a note
    assert [ln.sku for ln in bound.skipped] == ["NOT-STOCKED"]
    shop = session_for("shopify")
    payload = load(FILES["shopify"][0])
    payload["fulfillment_orders"][0]["assigned_location_id"] = 999
    assert shop.adapter.fast_order(payload, shop.catalog) is None
    with pytest.raises(AdapterError) as exc:
        shop.parse(payload)
    assert exc.value.fields == ("fulfillment_orders[0].assigned_location_id",)


# ---------------------------------------------------------------------------- JSON text in, JSON text out

def _json_and_careful(session, payload):
    """``parse_order_json``'s answer for ``payload`` written as JSON, and the careful path's
    for the document that text decodes to (json.dumps turns int keys into strings, say)."""
    text = json.dumps(payload)
    adapter = session.adapter
    fast = adapter.fast_order_json(text.encode(), session.catalog)
    with careful_only():
        try:
            careful = session.parse(json.loads(text))
        except AdapterError as exc:
            careful = exc.problems
    try:
        got = adapter.parse_order_json(text.encode(), session.catalog)
    except AdapterError as exc:
        got = exc.problems
    return fast, careful, got


def _check_json(platform, payloads):
    session = session_for(platform)

    @WHOLE
    @given(payloads)
    def check(payload):
        fast, careful, got = _json_and_careful(session, payload)
        if fast is not None:
            assert isinstance(careful, Bound), careful
            assert _normalised(fast) == _normalised(careful)
        if isinstance(careful, Bound):
            assert _normalised(got) == _normalised(careful)
        else:
            assert got == careful

    check()


@pytest.mark.parametrize("platform", sorted(FILES))
def test_json_text_parses_as_its_decoded_document(platform):
    order = load(FILES[platform][0])
    _check_json(platform, st.one_of(st.just(order), mutated(order), _edged(order)))


@pytest.mark.parametrize("platform", sorted(FILES))
def test_json_fast_path_is_taken_for_the_example_and_benchmark_payloads(platform, bench_setup):
    session = session_for(platform)
    fast, careful, _ = _json_and_careful(session, load(FILES[platform][0]))
    assert fast is not None and _normalised(fast) == _normalised(careful)
    bench = bench_setup(platform)
    for payload in bench.payloads[:20]:
        fast, careful, _ = _json_and_careful(bench.session, payload)
        assert fast is not None and _normalised(fast) == _normalised(careful)


def test_a_flat_shopify_order_with_an_order_key_is_read_as_the_nested_shape():
    """The careful reader takes any payload with an ``order`` key as the nested shape; the
    JSON fast path, which cannot look at keys first, must not read it as a flat order."""
    session = session_for("shopify")
    nested = load(FILES["shopify"][0])
    flat = {**nested["order"], "fulfillment_orders": nested["fulfillment_orders"], "order": None}
    assert session.adapter.fast_order_json(json.dumps(flat), session.catalog) is None
    with pytest.raises(AdapterError) as by_text:
        session.parse_json(json.dumps(flat))
    with pytest.raises(AdapterError) as by_dict:
        session.parse(flat)
    assert by_text.value.problems == by_dict.value.problems


# ---------------------------------------------------------------------------- the generated blank check


