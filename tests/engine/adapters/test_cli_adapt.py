"""``cli.py adapt``: platform JSON on stdout, clear errors on stderr, nothing printed on failure."""

from __future__ import annotations

import json

import pytest

from sourcewise import cli
from tests.conftest import SAMPLE
from tests.engine.adapters import PAYLOADS
from tests.engine.adapters import load

FILES = {
    "shopify": ("shopify_order.json", "shopify_locations.json", "shopify_inventory.json"),
    "commercetools": ("commercetools_order.json", "commercetools_channels.json", "commercetools_inventory.json"),
    "magento": ("magento_request.json", "magento_sources.json", "magento_source_items.json"),
    "generic": ("generic_order.json", "generic_locations.json", "generic_inventory.json"),
}
TOP_KEYS = {
    "shopify": {"order_id", "moves", "unchanged", "unfilled", "sourcewise"},
    "commercetools": {"id", "orderNumber", "lineItemSupplyChannels", "orderUpdate", "unfilled", "sourcewise"},
    "magento": {"source_selection_items", "shippable", "sourcewise"},
    "generic": {"order_id", "status", "allocations", "shipments", "cost", "unfilled", "notes"},
}


def _args(platform, order=None, locations=None, inventory=None):
    o, locs, inv = FILES[platform]
    return ["adapt", platform, "--order", str(order or PAYLOADS / o), "--locations", str(locations or PAYLOADS / locs),
            "--inventory", str(inventory or PAYLOADS / inv)]


@pytest.mark.parametrize("platform", sorted(FILES))
def test_adapt_prints_the_platform_response(platform, capsys):
    assert cli.main(_args(platform) + ["--policy", str(SAMPLE / "policy.toml")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert TOP_KEYS[platform] <= set(out)


def test_strategy_flag_and_one_line_output(capsys):
    assert cli.main(_args("magento") + ["--strategy", "priority", "--indent", "0"]) == 0
    text = capsys.readouterr().out
    assert text.count("\n") == 1
    assert json.loads(text)["sourcewise"]["strategy"] == "priority"


def test_malformed_payload_exits_2_naming_fields(tmp_path, capsys):
    order = load("shopify_order.json")
    del order["order"]["line_items"]
    order["fulfillment_orders"][0]["assigned_location_id"] = 1
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order))
    assert cli.main(_args("shopify", order=path)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "order.line_items: required field is missing" in captured.err
    assert "fulfillment_orders[0].assigned_location_id: unknown location 1" in captured.err


def test_unreadable_inputs_are_all_reported(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{"order": ')
    bad_policy = tmp_path / "policy.toml"
    bad_policy.write_text('strategy = "fastest"\n')
    rc = cli.main(_args("shopify", order=broken, inventory=tmp_path / "missing.json") + ["--policy", str(bad_policy)])
    assert rc == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not valid JSON (line 1" in captured.err
    assert "missing.json: not found" in captured.err
    assert "strategy" in captured.err


def test_unknown_platform_is_an_argparse_error():
    with pytest.raises(SystemExit) as exc:
        cli.main(["adapt", "woocommerce", "--order", "a", "--locations", "b", "--inventory", "c"])
    assert exc.value.code == 2


def test_generic_batch_prints_a_decisions_document(tmp_path, capsys):
    one = load("generic_order.json")
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"orders": [one, one | {"order_id": "A-1002"}]}))
    assert cli.main(_args("generic", order=path)) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "sourcewise.decisions/1"
    assert [d["order_id"] for d in doc["decisions"]] == ["A-1001", "A-1002"]
