"""API fuzzing from the service's own OpenAPI document (schemathesis), on a small budget.

Every operation of ``/openapi.json`` gets generated requests, authenticated
as its caller would be (Shopify deliveries signed over the exact bytes
sent). Every answer must be no 5xx and conform to the document (status
declared, content type, body schema). Afterwards the stock invariants hold:
no entry reserves more than it has on hand, the oversell gauge is 0, and the
ledger, recovered in this process, holds exactly the reservations of its
open orders.
"""

from __future__ import annotations

import copy
import json

import httpx
import numpy as np
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from sourcewise.engine.router import Router
from tests.engine.service.server import API
from tests.engine.service.server import CT_AUTH
from tests.engine.service.server import MAGENTO_TOKEN
from tests.engine.service.server import signed
from tests.engine.service.server import sqlite_server

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BUDGET = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    with sqlite_server(tmp_path_factory.mktemp("fuzz"), scale=20) as srv:
        yield srv


def _auth(path: str) -> dict[str, str]:
    if path.startswith("/v1/"):
        return dict(API)
    if path.startswith("/magento/"):
        return {"Authorization": f"Bearer {MAGENTO_TOKEN}"}
    if path.startswith("/extensions/"):
        return {"Authorization": CT_AUTH}
    return {}


def _call(case, base_url: str) -> requests.Response:
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=_auth(case.path))
    if case.path.startswith("/webhooks/shopify/"):
        data = kwargs.pop("json", None)
        body = kwargs.pop("data", None)
        if body is None:
            body = json.dumps(data).encode()
        elif isinstance(body, str):
            body = body.encode()
        kwargs["data"] = body
        kwargs["headers"] = {**kwargs.get("headers", {}), **signed(body)}
    return requests.request(**kwargs, timeout=30)


def _varied(case):
    """A strategy of ``case`` with its order id and quantities drawn afresh (when it has them)."""
    body = case.body
    if not isinstance(body, dict):
        return st.just(case)

    def vary(draw_id: str, qty: int):
        doc = copy.deepcopy(body)
        order = doc.get("order", doc)
        if "order_id" in order:
            order["order_id"] = f"FZ-{draw_id}"
            for line in order.get("lines", ()):
                line["qty"] = qty
        for row in doc.get("adjustments", ()):
            row["qty"] = qty
        case.body = doc
        return case

    return st.builds(vary, st.text("abcdef0123456789", min_size=1, max_size=8), st.integers(1, 4))


def _operations(url: str) -> list:
    return [r.ok() for r in schemathesis.openapi.from_url(f"{url}/openapi.json").get_all_operations()]


def test_every_answer_conforms_and_none_is_a_server_error(fuzzed):
    """Each operation of the document, in turn, with generated requests (schemathesis' strategies
    driven by Hypothesis here: its pytest loader does not run under this pytest)."""
    operations = _operations(fuzzed.url)
    assert len(operations) >= 15
    for op in operations:
        # the document's examples (an order in stock on the served network...) with fresh ids and
        # quantities, beside the generated requests: fuzzing that also changes the state
        varied = [s.flatmap(_varied) for s in op.get_strategies_from_examples()]

        @BUDGET
        @given(case=st.one_of(op.as_strategy(), *varied))
        def fuzz(case):
            case.validate_response(_call(case, fuzzed.url), checks=CHECKS)

        fuzz()


def test_stock_invariants_hold_after_fuzzing(fuzzed):
    """Runs after the fuzzing (pytest keeps a module's order)."""
    with httpx.Client(base_url=fuzzed.url, timeout=30) as c:
        assert c.get("/readyz").status_code == 200
        assert "sourcewise_oversold_entries 0.0" in c.get("/metrics").text
        skus = {row["sku"] for node in ("WH-NJ", "WH-TX", "ST-CHI", "VN-1", "655441491", "487838322",
                                        "905684977", "baltimore_wh", "reno_wh", "austin_wh")
                for row in c.get("/v1/stock", params={"node_id": node}, headers=API).json()["stock"]}
        books = {}
        for sku in sorted(skus):
            for row in c.get("/v1/stock", params={"sku": sku}, headers=API).json()["stock"]:
                assert 0 <= row["reserved"] <= row["on_hand"]
                assert row["atp"] == max(row["on_hand"] - row["safety_stock"] - row["reserved"], 0)
                books[row["node_id"], row["sku"]] = (row["on_hand"], row["reserved"])
    fuzzed.kill()
    router = Router.recover(fuzzed.store)
    try:
        holdings, view = router.holdings()
        assert router.ledger_seq > 10  # the fuzzing changed the state, many times
        held = np.zeros_like(view.reserved)
        for h in holdings:
            np.add.at(held, h.entries, h.qty)
        assert np.array_equal(held, view.reserved)  # every reserved unit belongs to an open order
        inv = router.inventory
        for (node, sku), (on_hand, reserved) in books.items():
            j = inv.entry(node, sku)
            assert (int(view.on_hand[j]), int(view.reserved[j])) == (on_hand, reserved)
    finally:
        router.close()
