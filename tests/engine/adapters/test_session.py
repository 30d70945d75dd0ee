"""Sessions: JSON text in, JSON text out, answering what the dict path answers."""

from __future__ import annotations

import copy
import json

import pytest

from sourcewise.engine.adapters import AdapterError
from tests.engine.adapters import load
from tests.engine.adapters.test_fuzz import FILES
from tests.engine.adapters.test_fuzz import session_for


@pytest.mark.parametrize("platform", sorted(FILES))
def test_route_json_answers_what_route_answers(platform):
    """Two sessions over the same stock route the same orders, one from dicts, one from JSON
    text: every response is the same JSON, reservations included."""
    order = load(FILES[platform][0])
    by_dict, by_text = session_for(platform), session_for(platform)
    for k in range(3):
        payload = copy.deepcopy(order)
        if platform == "magento":
            payload["orderId"] = f"00000{k}"  # else each request is a new order with a random id
        out = json.loads(json.dumps(by_dict.route(payload)))
        text = by_text.route_json(json.dumps(payload).encode())
        assert isinstance(text, bytes)
        assert json.loads(text) == out


def test_route_json_refuses_text_that_is_not_json_and_reserves_nothing():
    session = session_for("generic")
    for bad in (b"{\"order_id\": ", b"\xff\xfe\x00", "[1, 2"):
        with pytest.raises(AdapterError) as err:
            session.route_json(bad)
        assert err.value.problems[0].field == "$"
        assert "not valid JSON" in err.value.problems[0].reason
    assert session.router.open_orders == ()


def test_a_session_forgets_the_payloads_of_closed_orders():
    """Committed or released orders, through the session or the router, leave the session's memory:
    it keeps payloads for open orders only (reject() needs nothing else)."""
    session = session_for("generic")
    order = load(FILES["generic"][0])
    for k in range(5000):
        payload = copy.deepcopy(order)
        payload["order_id"] = f"A-{k}"
        payload["lines"] = payload["lines"][:1]
        payload["lines"][0]["qty"] = 1
        session.route(payload)
        # every order ships or is cancelled soon after, half through the router itself
        if k >= 3:
            old = f"A-{k - 3}"
            if session.router.is_open(old):
                (session.router.commit if k % 2 else session.release)(old)
        assert len(session._bound) <= max(1024, 2 * len(session.router.open_orders)) + 1  # noqa: SLF001
    assert session.bound_of("A-4999") is not None
    assert session.bound_of("A-10") is None
