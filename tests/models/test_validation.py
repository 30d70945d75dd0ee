"""Bad input gets one error listing every offending row."""

from __future__ import annotations

import pandas as pd
import pytest

from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models import ValidationError
from sourcewise.models.tables import inventory_from_frame
from sourcewise.models.tables import network_from_frames
from sourcewise.models.tables import orders_from_frame


def test_node_rejects_every_bad_field_at_once():
    with pytest.raises(ValidationError) as err:
        Node("", "depot", float("nan"), 200.0, fee_rate=1.5, processing_days=-1)
    fields = {p.field for p in err.value.problems}
    assert fields == {"node_id", "kind", "lat", "lon", "fee_rate", "processing_days"}


def test_order_lists_every_bad_line():
    with pytest.raises(ValidationError) as err:
        Order("o", (OrderLine("1", "A", 0), OrderLine("2", "B", -3), OrderLine("2", "C", 1)), 95, 0)
    msgs = [str(p) for p in err.value.problems]
    assert any("o/1" in m and "qty" in m for m in msgs)
    assert any("o/2" in m and "qty" in m for m in msgs)
    assert any("duplicate line_id" in m for m in msgs)
    assert any(".lat" in m for m in msgs)


def test_duplicate_ids_in_network():
    with pytest.raises(ValidationError) as err:
        Network.build([Node("A", "store", 1, 1), Node("A", "store", 2, 2)], [Sku("x"), Sku("x"), Sku("y")])
    assert len(err.value.problems) == 2


def test_inventory_duplicates_and_negatives():
    net = Network.build([Node("A", "store", 1, 1)], [Sku("x")])
    with pytest.raises(ValidationError) as err:
        Inventory.from_records(net, [StockRecord("A", "x", 1), StockRecord("A", "x", -2), StockRecord("B", "y", 1)])
    text = str(err.value)
    assert "unknown node 'B'" in text and "unknown sku 'y'" in text
    with pytest.raises(ValidationError) as err:
        Inventory.from_records(net, [StockRecord("A", "x", 1), StockRecord("A", "x", -2)])
    assert {p.field for p in err.value.problems} == {"on_hand", "node_id/sku"}


def test_tables_report_every_bad_row():
    nodes = pd.DataFrame({"node_id": ["A", "B", "A"], "kind": ["warehouse", "shop", "store"],
                          "lat": [40, 91, "x"], "lon": [-75, -80, -81]})
    skus = pd.DataFrame({"sku": ["x", "y"], "weight_kg": [1, -1], "price": [5, 5]})
    with pytest.raises(ValidationError) as err:
        network_from_frames(nodes, skus)
    rows = {(p.table, p.row, p.field) for p in err.value.problems}
    assert rows == {("nodes", 2, "node_id"), ("nodes", 1, "kind"), ("nodes", 1, "lat"),
                    ("nodes", 2, "lat"), ("skus", 1, "weight_kg")}


def test_missing_columns_are_named():
    with pytest.raises(ValidationError) as err:
        network_from_frames(pd.DataFrame({"node_id": ["A"]}), pd.DataFrame({"price": [1]}))
    assert {p.field for p in err.value.problems} == {"kind", "lat", "lon", "sku"}


def test_orders_table_validation():
    net = Network.build([Node("A", "store", 1, 1)], [Sku("x")])
    df = pd.DataFrame({"order_id": ["o1", "o1", "o2", "o3"], "line_id": ["1", "1", "1", "1"],
                       "sku": ["x", "x", "zz", "x"], "qty": [1, 0, 1, 2.5],
                       "lat": [10, 10, float("nan"), 10], "lon": [10, 11, 10, 10]})
    with pytest.raises(ValidationError) as err:
        orders_from_frame(net, df)
    got = {(p.row, p.field) for p in err.value.problems}
    assert got == {(1, "line_id"), (1, "qty"), (1, "lon"), (2, "sku"), (2, "lat"), (3, "qty")}
    # values as the file wrote them, not numpy's reprs
    reasons = {(p.row, p.field): p.reason for p in err.value.problems}
    assert reasons[(1, "qty")] == "must be > 0, got 0.0"  # a float column: it holds 2.5
    assert not any("np." in r for r in reasons.values())
    assert reasons[(2, "lat")] == "must be a number, got a missing value"
    assert reasons[(3, "qty")] == "must be an integer, got 2.5"


def test_inventory_frame_unknown_ids():
    net = Network.build([Node("A", "store", 1, 1)], [Sku("x")])
    df = pd.DataFrame({"node_id": ["A", "Q"], "sku": ["w", "x"], "on_hand": [1, -1]})
    with pytest.raises(ValidationError) as err:
        inventory_from_frame(net, df)
    assert {(p.row, p.field) for p in err.value.problems} == {(0, "sku"), (1, "node_id"), (1, "on_hand")}


def test_policy_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ValidationError) as err:
        Policy.from_dict({"strategy": "fastest", "max_shipments": 0, "colour": "red", "cost": {"per_mile": 1}})
    # unknown keys do not hide bad values: every problem comes in one report
    assert {p.field for p in err.value.problems} == {"colour", "per_mile", "strategy", "max_shipments"}
    with pytest.raises(ValidationError) as err:
        Policy(strategy="fastest", max_shipments=0)
    assert {p.field for p in err.value.problems} == {"strategy", "max_shipments"}


def test_policy_currency_defaults_to_usd_and_must_be_an_iso_code():
    assert Policy().currency == "USD"
    assert Policy.from_dict({"currency": "EUR"}).currency == "EUR"
    for bad in ("usd", "EURO", "", 3, "U$D"):
        with pytest.raises(ValidationError) as err:
            Policy.from_dict({"currency": bad})
        assert [p.field for p in err.value.problems] == ["currency"]


def test_policy_written_as_toml_reads_back_equal(tmp_path):
    from sourcewise.models.policy import Tier
    from sourcewise.models.policy import dump_policy
    from sourcewise.models.policy import load_policy

    policy = Policy(strategy="nearest", split_penalty=0.1 + 0.2, currency="EUR",
                    tiers=(Tier("east", ("warehouse",), regions=("east",), max_distance_km=812.25),
                           Tier("rest", ("store", "vendor"), channels=("web", "app"))))
    path = tmp_path / "policy.toml"
    path.write_text(dump_policy(policy))
    assert load_policy(path) == policy
    path.write_text(dump_policy(Policy()))
    assert load_policy(path) == Policy()


def test_models_are_immutable():
    n = Node("A", "store", 1, 1)
    with pytest.raises(AttributeError):
        n.lat = 3  # type: ignore[misc]
