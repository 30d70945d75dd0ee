"""OMS adapter overhead: parsing a platform order plus rendering its response, against routing it.

Target (issue #7): parsing plus rendering adds <= 20 % to the routing time
of a 3-line order.

Set-up, per platform: the benchmark network and stock of the routing
latency benchmark (``latency_setup``: 1,000 nodes x 100,000 SKUs at full
size), wrapped as a :class:`~sourcewise.engine.adapters.Catalog`, and a stream of
3-line orders written as that platform's payloads (Shopify order +
fulfillment order, commercetools Order, Magento source-selection request,
generic order). Every numba kernel is compiled first (``latency_setup``
warms the router; each test routes a warm-up order of its own).

``test_adapter_overhead[<platform>]`` runs each order end to end --
``Session.parse``, ``Router.route`` (fresh order, stock depleting),
``Adapter.render`` -- and times the parts inside the same call. Its
``extra_info`` holds ``overhead_ratio`` = median(parse + render) /
median(route), both medians in microseconds (and p90s); the ratio is
printed too.

Run::

    .venv/bin/python -m pytest benchmarks/bench_adapters.py --benchmark-only \\
        --benchmark-json=out/bench_adapters.json -q -s

``test_adapter_floor[<platform>]`` times, the same way, the least any
adapter must do in Python for the Shopify and generic streams: read the
fields it routes on with bare type checks, build the :class:`~models.Order`
(which checks itself) as the fast paths do, and
write the response's allocation records -- no field paths, no error
reporting, no ``gid://`` ids, no service level, no summary. Its ratio is a
lower bound for any pure-Python adapter over these models, which says how
far the 20 % target is from what this design can reach.

``test_decode_floor[<platform>-<source>]`` times only compiled decoding of
the fields the floor reads, as bare typed structs (C code, no Python per
field, no constraint checked), with no order built and nothing rendered --
from the decoded dict (``msgspec.convert``) or from the payload's JSON text
(``msgspec.json.Decoder``, the fastest way in from the wire). It says what
the compiled decoder that the 20 % target seemed to call for would cost
before it did any of the adapter's work.

``SOURCEWISE_BENCH_SIZE=smoke`` shrinks the network; set
``SOURCEWISE_BENCH_STRICT=1`` to fail when a ratio misses the target.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import msgspec
import numpy as np
import pytest

from benchmarks.conftest import RoutingSetup
from sourcewise.engine.adapters import Catalog
from sourcewise.engine.adapters import Session
from sourcewise.engine.adapters.magento import MagentoAdapter
from sourcewise.engine.geocode import locate
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine

PAYLOADS = Path(__file__).resolve().parent.parent / "data" / "payloads"
PLATFORMS = ("shopify", "commercetools", "magento", "generic")
TARGET = 0.20
N_ORDERS = 400
# Real ZIP codes across the US: destinations are geocoded offline, as in production
ZIPS = ("10001", "94103", "60601", "30301", "98101", "02139", "75201", "33101", "80202", "85001",
        "19103", "48201", "55401", "63101", "97201", "84101", "37201", "27601", "46201", "64101")


def _template(name: str) -> dict:
    with (PAYLOADS / name).open(encoding="utf-8") as fh:
        return json.load(fh)


def _shopify(k: int, order: Order, zip_code: str, location: str) -> dict:
    p = _template("shopify_order.json")
    oid = 5_000_000_000 + k
    li_t = p["order"]["line_items"][0]
    fo_t = p["fulfillment_orders"][0]
    items, fo_lines = [], []
    for i, ln in enumerate(order.lines):
        li = copy.deepcopy(li_t)
        li.update(id=oid * 10 + i, sku=ln.sku, quantity=ln.qty, fulfillable_quantity=ln.qty)
        items.append(li)
        fl = copy.deepcopy(fo_t["line_items"][0])
        fl.update(id=oid * 100 + i, line_item_id=oid * 10 + i, inventory_item_id=ln.sku, quantity=ln.qty,
                  fulfillable_quantity=ln.qty, fulfillment_order_id=oid)
        fo_lines.append(fl)
    p["order"].update(id=oid, name=f"#{k}", line_items=items)
    p["order"]["shipping_address"].update(zip=zip_code, latitude=order.lat, longitude=order.lon, province_code=None)
    fo = copy.deepcopy(fo_t)
    fo.update(id=oid + 1, order_id=oid, assigned_location_id=location, line_items=fo_lines)
    p["fulfillment_orders"] = [fo]
    return p


def _commercetools(k: int, order: Order, zip_code: str, location: str) -> dict:
    p = _template("commercetools_order.json")
    t = p["lineItems"][1]
    items = []
    for i, ln in enumerate(order.lines):
        li = copy.deepcopy(t)
        li.update(id=f"li-{k}-{i}", quantity=ln.qty, supplyChannel={"typeId": "channel", "id": location})
        li["variant"]["sku"] = ln.sku
        items.append(li)
    p.update(id=f"ct-{k}", orderNumber=f"CT-{k}", lineItems=items)
    p["shippingAddress"].update(postalCode=zip_code, state=None)
    return p


def _magento(k: int, order: Order, zip_code: str, location: str) -> dict:
    p = _template("magento_request.json")
    p["orderId"] = f"{k:09d}"
    ir = p["inventoryRequest"]
    ir["items"] = [{"sku": ln.sku, "qty": ln.qty} for ln in order.lines]
    ir["extension_attributes"]["destination_address"].update(postcode=zip_code, region="")
    return p


def _generic(k: int, order: Order, zip_code: str, location: str) -> dict:
    return {"order_id": f"G-{k}", "lines": [{"line_id": str(i + 1), "sku": ln.sku, "qty": ln.qty}
                                            for i, ln in enumerate(order.lines)],
            "destination": {"postal_code": zip_code, "country": "US"}}


BUILDERS = {"shopify": _shopify, "commercetools": _commercetools, "magento": _magento, "generic": _generic}


class Setup:
    """A session over the benchmark network and the platform's order stream."""

    def __init__(self, platform: str, s: RoutingSetup):
        # hundreds of sources hold each SKU here; list only the deducting ones (see MagentoAdapter)
        adapter = MagentoAdapter(all_sources=False) if platform == "magento" else platform
        catalog = Catalog.from_models(platform, s.network, s.inventory)
        self.session = Session.from_catalog(adapter, catalog)
        first = s.network.nodes[0].node_id
        orders = s.objects[:N_ORDERS + 1]
        self.payloads = [BUILDERS[platform](k, o, ZIPS[k % len(ZIPS)], first) for k, o in enumerate(orders)]
        # warm-up: compile kernels, load the ZIP codes (every one the stream uses), fill caches
        for p in self.payloads[:len(ZIPS)]:
            self.session.parse(p)
        bound = self.session.parse(self.payloads[0])
        self.session.render(bound, self.session.route_bound(bound))


def _time_parts(benchmark, payloads: list, parse, route, render) -> tuple[float, float, float]:
    """Run each payload end to end -- ``parse``, ``route`` (of what parse returned), ``render`` --
    timing the parts inside the same call, and record their medians (and p90s) in ``extra_info``.

    Timing the parts in the same call, rather than in separate benchmarks,
    puts routing and the adapter's work under the same machine load and
    cache state, so their ratio is meaningful even on a busy machine.

    Returns
    -------
    parse + render median, route median (microseconds), and their ratio.
    """
    clock = time.perf_counter_ns
    stream = iter(payloads)
    adapter_ns: list[int] = []
    route_ns: list[int] = []

    def one_order():
        payload = next(stream)
        t0 = clock()
        parsed = parse(payload)
        t1 = clock()
        decision = route(parsed)
        t2 = clock()
        out = render(parsed, decision)
        t3 = clock()
        adapter_ns.append((t1 - t0) + (t3 - t2))
        route_ns.append(t2 - t1)
        return out

    benchmark.group = "adapters"
    benchmark.pedantic(one_order, rounds=len(payloads), iterations=1, warmup_rounds=0)
    adapter_us = float(np.median(adapter_ns)) / 1e3
    route_us = float(np.median(route_ns)) / 1e3
    ratio = adapter_us / route_us
    benchmark.extra_info.update(
        parse_render_us=adapter_us, route_us=route_us, overhead_ratio=ratio, orders=len(route_ns),
        parse_render_p90_us=float(np.percentile(adapter_ns, 90)) / 1e3,
        route_p90_us=float(np.percentile(route_ns, 90)) / 1e3,
    )
    return adapter_us, route_us, ratio


@pytest.mark.parametrize("platform", PLATFORMS)
def test_adapter_overhead(benchmark, latency_setup: RoutingSetup, platform: str):
    """One order end to end -- parse, route, render -- with each part timed inside the same call."""
    st = Setup(platform, latency_setup)
    s = st.session
    adapter_us, route_us, ratio = _time_parts(
        benchmark, st.payloads[1:], s.parse, lambda bound: s.router.route(bound.order),
        lambda bound, decision: s.adapter.render(bound, decision, s.router))
    benchmark.extra_info.update(nodes=latency_setup.network.n_nodes, skus=latency_setup.network.n_skus,
                                lines_per_order=3)
    print(f"\n{platform:>13}: parse+render {adapter_us:6.1f} us, route {route_us:6.1f} us -> overhead "
          f"{ratio:.1%} (target <= {TARGET:.0%})")
    if os.environ.get("SOURCEWISE_BENCH_STRICT") == "1":
        assert ratio <= TARGET, f"{platform}: adapter overhead {ratio:.1%} > {TARGET:.0%}"


def test_magento_render_all_sources(benchmark, latency_setup: RoutingSetup):
    """Magento's default response lists every enabled source holding each requested SKU
    (hundreds on this network), each with its live ``qty_available``: render time per order,
    against routing it, in the same calls."""
    st = Setup("magento", latency_setup)
    s = st.session
    s.adapter = MagentoAdapter(all_sources=True)
    rows: list[int] = []

    def render(bound, decision):
        out = s.render(bound, decision)
        rows.append(len(out["source_selection_items"]))
        return out

    adapter_us, route_us, ratio = _time_parts(benchmark, st.payloads[1:], s.parse,
                                              lambda bound: s.router.route(bound.order), render)
    benchmark.extra_info.update(rows_per_order=float(np.mean(rows)))
    print(f"\n magento all sources: parse+render {adapter_us:6.1f} us for {np.mean(rows):.0f} rows, "
          f"route {route_us:6.1f} us -> {ratio:.0%}")


# ------------------------------------------------------------------ JSON text in and out
@pytest.mark.parametrize("platform", PLATFORMS)
def test_adapter_wire(benchmark, latency_setup: RoutingSetup, platform: str):
    """Each order from JSON text to JSON text, as a webhook handler sees it:
    ``Session.parse_json``, route, render and ``msgspec.json.encode`` -- against the same
    stream, in the same run, through ``json.loads``, ``Session.parse``, route, render and
    ``json.dumps`` (what an integrator does without ``parse_json``), each on its own session."""
    runs = {}
    for label in ("stdlib json", "parse_json"):
        st = Setup(platform, latency_setup)
        s = st.session
        texts = [json.dumps(p).encode() for p in st.payloads[1:]]
        if label == "parse_json":
            parse, write = s.parse_json, msgspec.json.encode
        else:
            parse, write = (lambda text, s=s: s.parse(json.loads(text))), json.dumps
        route = lambda bound, s=s: s.router.route(bound.order)  # noqa: E731
        render = lambda bound, decision, s=s, write=write: write(s.render(bound, decision))  # noqa: E731
        if label == "stdlib json":
            # the baseline, timed in the same harness; the benchmark fixture times the other
            t = _Timer()
            runs[label] = _time_parts(t, texts, parse, route, render)
        else:
            runs[label] = _time_parts(benchmark, texts, parse, route, render)
    (base_us, base_route, base_ratio), (wire_us, wire_route, wire_ratio) = runs["stdlib json"], runs["parse_json"]
    benchmark.extra_info.update(baseline_parse_render_us=base_us, baseline_route_us=base_route,
                                baseline_overhead_ratio=base_ratio, speedup_vs_baseline=base_us / wire_us)
    print(f"\n{platform + ' wire':>18}: text->text {wire_us:6.1f} us, route {wire_route:6.1f} us -> overhead "
          f"{wire_ratio:.1%}; stdlib json + dicts {base_us:6.1f} us ({base_ratio:.1%}), x{base_us / wire_us:.2f}")


class _Timer:
    """Stands in for the ``benchmark`` fixture where :func:`_time_parts` times a baseline."""

    def __init__(self):
        self.group = None
        self.extra_info: dict = {}

    def pedantic(self, fn, rounds: int, iterations: int, warmup_rounds: int) -> None:
        for _ in range(rounds):
            fn()


# ------------------------------------------------------------------ the floor
def _floor_shopify(payload: dict, sku_index: dict, locations: dict) -> tuple[Order, list] | None:
    """The Shopify order's routed fields, type-checked and nothing more, as an Order."""
    o = payload["order"]
    oid = o["id"]
    a = o["shipping_address"]
    lat, lon = a.get("latitude"), a.get("longitude")
    if type(oid) is not int or type(lat) is not float or type(lon) is not float:
        return None
    held: dict = {}
    for li in o["line_items"]:
        i, q = li["id"], li["quantity"]
        if type(i) is not int or type(q) is not int or q < 0:
            return None
        held[i] = q
    lines, refs = [], []
    for fo in payload["fulfillment_orders"]:
        at = fo["assigned_location_id"]
        if fo["status"] != "open" or at not in locations:
            return None
        for fl in fo["line_items"]:
            lid, item, q = fl["id"], fl["inventory_item_id"], fl["fulfillable_quantity"]
            if type(lid) is not int or type(q) is not int or not 0 < q <= held.get(fl["line_item_id"], -1) \
                    or item not in sku_index:
                return None
            key = str(lid)
            lines.append(OrderLine(key, item, q))
            refs.append((fo["id"], lid, key, at))
    return Order(str(oid), tuple(lines), lat, lon), refs


def _floor_shopify_render(order: Order, refs: list, decision) -> dict:
    """Move requests only: one per (fulfillment order, new location)."""
    by_line: dict = {}
    for al in decision.allocations:
        by_line.setdefault(al.line_id, []).append((al.node_id, al.qty))
    moves: dict = {}
    for fo, lid, key, at in refs:
        for node, q in by_line.get(key, ()):
            if node != at:
                moves.setdefault((fo, node), []).append({"id": lid, "quantity": q})
    return {"order_id": order.order_id,
            "moves": [{"fulfillment_order_id": fo, "fulfillment_order": {"new_location_id": node,
                                                                         "fulfillment_order_line_items": items}}
                      for (fo, node), items in moves.items()]}


def _floor_generic(payload: dict, sku_index: dict, locations: dict) -> tuple[Order, list] | None:
    """The generic order's fields, type-checked and nothing more, geocoded by ZIP, as an Order."""
    oid = payload["order_id"]
    d = payload["destination"]
    point = locate(d.get("postal_code"), d.get("country"), None)
    if type(oid) is not str or point is None:
        return None
    lines = []
    for ln in payload["lines"]:
        lid, sku, q = ln["line_id"], ln["sku"], ln["qty"]
        if type(lid) is not str or type(q) is not int or q <= 0 or sku not in sku_index:
            return None
        lines.append(OrderLine(lid, sku, q))
    return Order(oid, tuple(lines), point.lat, point.lon), []


def _floor_generic_render(order: Order, refs: list, decision) -> dict:
    """The decision's allocations and cost total only."""
    return {"order_id": order.order_id, "status": str(decision.status), "cost": decision.cost.total,
            "allocations": [{"line_id": a.line_id, "node_id": a.node_id, "qty": a.qty}
                            for a in decision.allocations]}


FLOORS = {"shopify": (_floor_shopify, _floor_shopify_render), "generic": (_floor_generic, _floor_generic_render)}


@pytest.mark.parametrize("platform", sorted(FLOORS))
def test_adapter_floor(benchmark, latency_setup: RoutingSetup, platform: str):
    """The least a pure-Python adapter does per order, against routing it (see the module docstring)."""
    st = Setup(platform, latency_setup)
    router = st.session.router
    read, write = FLOORS[platform]
    net = latency_setup.network
    sku_index, locations = net.sku_index, net.node_index
    # the floor must read what the real adapter reads: the same orders, none declined
    assert all(read(p, sku_index, locations) is not None for p in st.payloads)
    adapter_us, route_us, ratio = _time_parts(
        benchmark, st.payloads[1:], lambda payload: read(payload, sku_index, locations),
        lambda parsed: router.route(parsed[0]), lambda parsed, decision: write(*parsed, decision))
    print(f"\n{platform + ' floor':>13}: parse+render {adapter_us:6.1f} us, route {route_us:6.1f} us -> overhead "
          f"{ratio:.1%} (a lower bound for any pure-Python adapter)")


# ------------------------------------------------------------ the decode floor
# The fields the floors above route on, as bare msgspec types: no constraints (a regex
# per string costs more than the whole decoding of the rest), no other fields.
def _bare(name: str, **fields) -> type[msgspec.Struct]:
    """A struct of ``fields`` (``name=type``, or ``name=(type, default)``), built as the fast
    paths build theirs (``msgspec.defstruct``, ``gc=False``): types only, nothing else checked."""
    return msgspec.defstruct(name, [(k, *v) if isinstance(v, tuple) else (k, v) for k, v in fields.items()],
                             gc=False)


_ShopifyLine = _bare("_ShopifyLine", id=int, quantity=int)
_ShopifyAddress = _bare("_ShopifyAddress", latitude=(float | None, None), longitude=(float | None, None))
_ShopifyOrder = _bare("_ShopifyOrder", id=int, line_items=list[_ShopifyLine], shipping_address=_ShopifyAddress)
_ShopifyFoLine = _bare("_ShopifyFoLine", id=int, line_item_id=int, inventory_item_id=str, fulfillable_quantity=int)
_ShopifyFo = _bare("_ShopifyFo", id=int, assigned_location_id=str, status=str, line_items=list[_ShopifyFoLine])
_ShopifyPayload = _bare("_ShopifyPayload", order=_ShopifyOrder, fulfillment_orders=list[_ShopifyFo])

_GenericLine = _bare("_GenericLine", line_id=str, sku=str, qty=int)
_GenericDestination = _bare("_GenericDestination", postal_code=(str | None, None), country=(str | None, None))
_GenericOrder = _bare("_GenericOrder", order_id=str, lines=list[_GenericLine], destination=_GenericDestination)

SCHEMAS = {"shopify": _ShopifyPayload, "generic": _GenericOrder}


@pytest.mark.parametrize("source", ("dict", "json"))
@pytest.mark.parametrize("platform", sorted(SCHEMAS))
def test_decode_floor(benchmark, latency_setup: RoutingSetup, platform: str, source: str):
    """Only the compiled decoding of each payload's routed fields, against routing it:
    ``msgspec.convert`` of the decoded dict the adapters take, or ``msgspec.json.decode`` of the
    payload's JSON text as it arrives on the wire (the dict's own decoding not counted)."""
    st = Setup(platform, latency_setup)
    router = st.session.router
    schema = SCHEMAS[platform]
    # bound outside the timer: this floor times the decoding alone
    items = [(p if source == "dict" else msgspec.json.encode(p), st.session.parse(p).order)
             for p in st.payloads[1:]]
    decode = (lambda p: msgspec.convert(p, schema)) if source == "dict" else msgspec.json.Decoder(schema).decode
    for p, _ in items[:20]:
        decode(p)  # every payload fits the schema (else the fast path would decline it)
    adapter_us, route_us, ratio = _time_parts(
        benchmark, items, lambda item: (decode(item[0]), item[1]),
        lambda parsed: router.route(parsed[1]), lambda parsed, decision: None)
    print(f"\n{platform + ' ' + source + ' decode':>25}: {adapter_us:6.2f} us, route {route_us:6.1f} us -> "
          f"{ratio:.1%} (decoding alone; target for all of parse + render <= {TARGET:.0%})")
