"""Shared fixtures and builders for the test-suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import settings

from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models import Tier

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SHARED = REPO.parent / "shared"


def small_world(nodes: int, skus: int, units: float, n_orders: int, seed: int):
    """A generated network, stock for ``units`` of demand and ``n_orders`` two-line orders (ledger tests)."""
    from sourcewise.data.instances import build_inventory
    from sourcewise.data.instances import build_network
    from sourcewise.data.instances import build_orders
    from sourcewise.data.instances import orders_as_objects

    net = build_network(nodes, skus, seed=seed)
    inv = build_inventory(net, units, seed=seed)
    return net, inv, orders_as_objects(net, build_orders(net, n_orders, seed=seed + 1, lines_per_order=2))


def warehouse_and_vendor(vendor_id: str, price: float):
    """A warehouse holding one unit of SKU ``A`` and a vendor offering SKU ``B`` at ``price``:
    ``(network, inventory, offers)``; an order for both must turn to the vendor for ``B``."""
    import pandas as pd

    from sourcewise.engine.vendors import VendorOffers

    nodes = [Node("WH", "warehouse", 40.0, -75.5), Node(vendor_id, "vendor", 41.0, -80.0)]
    net = Network.build(nodes, [Sku("A", 1.0, price + 5.0), Sku("B", 1.0, price + 5.0)])
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 1)])
    offers = VendorOffers.from_frame(net, pd.DataFrame({
        "node_id": [vendor_id], "sku": ["B"], "price": [price], "fee_rate": [0.1], "lead_days": [2],
        "reliability": [0.95]}))
    return net, inv, offers


def make_network(rng: np.random.Generator, n_nodes: int, n_skus: int, *, disabled: float = 0.0):
    """Random nodes over the continental US and random SKUs."""
    kinds = ["warehouse", "store", "vendor"]
    nodes = [
        Node(f"N{i}", kinds[int(rng.integers(3))], float(rng.uniform(26, 48)), float(rng.uniform(-123, -70)),
             priority=int(rng.integers(3)), handling_per_shipment=float(rng.uniform(0, 3)),
             handling_per_unit=float(rng.uniform(0, 1)), fee_rate=float(rng.choice([0.0, 0.12])),
             enabled=bool(rng.random() >= disabled))
        for i in range(n_nodes)
    ]
    skus = [Sku(f"S{j}", float(rng.uniform(0.1, 5)), float(rng.uniform(1, 200))) for j in range(n_skus)]
    return Network.build(nodes, skus)


def make_inventory(rng, net, density: float = 0.6, max_qty: int = 4, safety: bool = True):
    records = []
    for n in net.nodes:
        for s in net.skus:
            if rng.random() < density:
                on_hand = int(rng.integers(0, max_qty + 1))
                ss = int(rng.integers(0, 2)) if safety and on_hand else 0
                records.append(StockRecord(n.node_id, s.sku, on_hand, min(ss, on_hand)))
    return Inventory.from_records(net, records)


def make_order(rng, net, oid: str, max_lines: int = 3, max_qty: int = 3, allow_split=True, max_shipments=None):
    n_lines = int(rng.integers(1, min(max_lines, net.n_skus) + 1))
    skus = rng.choice(net.n_skus, size=n_lines, replace=False)
    lines = tuple(OrderLine(f"{oid}-{i}", net.skus[s].sku, int(rng.integers(1, max_qty + 1)))
                  for i, s in enumerate(skus))
    return Order(oid, lines, float(rng.uniform(26, 48)), float(rng.uniform(-123, -70)),
                 allow_split=allow_split, max_shipments=max_shipments)


def random_points(rng, n, world=False):
    if world:
        return rng.uniform(-90, 90, n), rng.uniform(-180, 180, n)
    return rng.uniform(25, 49, n), rng.uniform(-124, -67, n)



ALL_KINDS = (Tier("all", ("warehouse", "store", "vendor")),)


def flat_policy(**kw) -> Policy:
    """One tier over every node kind: the plain single-pool routing problem."""
    return Policy(tiers=ALL_KINDS, **kw)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def policy():
    return Policy()


def run_on_sample(capsys, command: str, out: Path, *, prints: tuple[str, ...]) -> None:
    """Run ``sourcewise <command>`` on the bundled sample, writing to ``out``: it must exit 0 and print
    every one of ``prints``."""
    from sourcewise import cli

    assert cli.main([command, "--scenario", str(SAMPLE), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for word in prints:
        assert word in printed


def assert_names_resolve(module) -> None:
    """Every name in ``module.__all__`` resolves (lazy front doors load on first use); others raise."""
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018 - the attribute access is the test


def loaded_by_import(module: str, watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has loaded after ``import module``."""
    code = f"import sys, {module}; print(','.join(m for m in {watched!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    return out.split(",") if out else []
