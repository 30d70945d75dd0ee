"""Fixtures and collection rules for the pytest-benchmark suite.

Run with ``make bench`` (``pytest benchmarks --benchmark-only
--benchmark-json=out/bench.json``). Files named ``bench_*.py`` are collected
here as well as ``test_*.py``: the project's ``testpaths`` is ``tests`` and
its ``python_files`` default is untouched, so nothing in this folder runs
with the unit tests.

Sizes
-----
``SOURCEWISE_BENCH_SIZE=full`` (default) uses the sizes of the issue's
targets: 1,000 nodes x 100,000 SKUs. ``SOURCEWISE_BENCH_SIZE=smoke`` shrinks
every fixture to a few nodes and SKUs so the whole harness runs in seconds;
``tests/test_bench_smoke.py`` uses it so the harness cannot rot.
``2k``, ``10k`` and ``50k`` pick the size of the benchmark waves in
``bench_optimize.py`` (:data:`WAVE_SIZES`); every other fixture runs at full
size under them.

Every numba function is compiled before timing: each fixture routes a
warm-up batch through a throw-away router first.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sourcewise.data.instances import build_inventory
from sourcewise.data.instances import build_network
from sourcewise.data.instances import build_orders
from sourcewise.data.instances import expected_units_per_order
from sourcewise.data.instances import orders_as_objects
from sourcewise.data.instances import slice_orders
from sourcewise.engine.router import Router
from sourcewise.engine.warm import warm_up
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.order import Order
from sourcewise.models.tables import OrderBatch


def pytest_configure(config):
    """Create the folder of ``--benchmark-json`` (``make bench`` writes ``out/bench.json``).

    pytest-benchmark opens that file only after every benchmark ran and fails
    if its folder is missing, as ``out/`` is in a fresh clone.
    """
    path = config.getoption("benchmark_json", None)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def pytest_collect_file(file_path, parent):
    """Collect ``bench_*.py`` under this folder as test modules."""
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        if parent.session.isinitpath(file_path):
            return None  # named on the command line: pytest collects it already
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@dataclass(frozen=True)
class Sizes:
    """Benchmark sizes for one run."""

    name: str
    nodes: int
    skus: int
    latency_warmup: int
    latency_orders: int
    batch_orders: int
    naive_orders: int
    score_orders: int
    score_nodes: int


FULL = Sizes("full", nodes=1000, skus=100_000, latency_warmup=2_000, latency_orders=20_000,
             batch_orders=50_000, naive_orders=500, score_orders=4096, score_nodes=2000)
SMOKE = Sizes("smoke", nodes=20, skus=500, latency_warmup=20, latency_orders=50,
              batch_orders=200, naive_orders=20, score_orders=64, score_nodes=20)


#: ``SOURCEWISE_BENCH_SIZE`` values that size the benchmark waves (orders per wave).
WAVE_SIZES: dict[str, int] = {"2k": 2_000, "10k": 10_000, "50k": 50_000}


def bench_size_name() -> str:
    """``SOURCEWISE_BENCH_SIZE``, checked: ``full`` (default), ``smoke`` or a key of :data:`WAVE_SIZES`."""
    name = os.environ.get("SOURCEWISE_BENCH_SIZE", "full").strip().lower()
    if name not in ("full", "smoke", *WAVE_SIZES):
        raise pytest.UsageError("SOURCEWISE_BENCH_SIZE must be one of full, smoke, "
                                f"{', '.join(WAVE_SIZES)}; got {name!r}")
    return name


def bench_sizes() -> Sizes:
    """Sizes selected by ``SOURCEWISE_BENCH_SIZE`` (``smoke``, else full)."""
    return SMOKE if bench_size_name() == "smoke" else FULL


@dataclass(eq=False)
class RoutingSetup:
    """A network, its starting stock and the orders a benchmark routes."""

    network: Network
    inventory: Inventory
    warmup: OrderBatch
    batch: OrderBatch
    objects: list[Order]


@pytest.fixture(scope="session")
def sizes() -> Sizes:
    return bench_sizes()


@pytest.fixture(scope="session")
def results() -> dict:
    """Figures shared between benchmarks of one session (for ratios)."""
    return {}


@pytest.fixture(scope="session")
def network(sizes: Sizes) -> Network:
    return build_network(sizes.nodes, sizes.skus, seed=0)


def _warm(network: Network, inventory: Inventory, warmup: OrderBatch) -> None:
    """Compile every kernel the router uses, on a throw-away router."""
    warm_up()
    r = Router(network, inventory)
    r.route_many(warmup)
    for order in orders_as_objects(network, slice_orders(warmup, 0, 5)):
        r.route(order)


@pytest.fixture(scope="session")
def latency_setup(sizes: Sizes, network: Network) -> RoutingSetup:
    """3-line orders for single-order latency (the issue's target shape)."""
    n = sizes.latency_warmup + sizes.latency_orders
    inv = build_inventory(network, n * expected_units_per_order(3), seed=0)
    batch = build_orders(network, n, seed=1, lines_per_order=3)
    warm = build_orders(network, 200, seed=99, lines_per_order=3)
    _warm(network, inv, warm)
    return RoutingSetup(network, inv, warm, batch, orders_as_objects(network, batch))


@pytest.fixture(scope="session")
def promise_setup(sizes: Sizes, network: Network, latency_setup: RoutingSetup) -> RoutingSetup:
    """The latency stream over the same network with every store offering pickup (the generated
    network offers none), so that promises look for pickup stores as a retailer's would."""
    net = Network.build([dataclasses.replace(n, pickup=n.kind.value == "store") for n in network.nodes],
                        list(network.skus))
    n = sizes.latency_warmup + sizes.latency_orders
    inv = build_inventory(net, n * expected_units_per_order(3), seed=0)
    batch = build_orders(net, n, seed=1, lines_per_order=3)
    return RoutingSetup(net, inv, latency_setup.warmup, batch, orders_as_objects(net, batch))


@pytest.fixture(scope="session")
def batch_setup(sizes: Sizes, network: Network) -> RoutingSetup:
    """Mixed 1-5 line orders for ``route_many`` throughput and the naive baseline."""
    inv = build_inventory(network, sizes.batch_orders * expected_units_per_order(), seed=0)
    batch = build_orders(network, sizes.batch_orders, seed=2)
    warm = build_orders(network, 200, seed=98)
    _warm(network, inv, warm)
    return RoutingSetup(network, inv, warm, batch, [])


def timings(benchmark) -> list[float] | None:
    """Per-round seconds of a finished benchmark; ``None`` under ``--benchmark-disable``."""
    stats = getattr(benchmark, "stats", None)
    return list(stats.stats.data) if stats is not None else None


def median_s(benchmark) -> float | None:
    """Median seconds of a finished benchmark; ``None`` under ``--benchmark-disable``."""
    data = timings(benchmark)
    return float(np.median(data)) if data else None


def percentiles_us(data: list[float] | np.ndarray) -> dict[str, float]:
    """p50, p90, p99 and max of timings in seconds, as microseconds."""
    a = np.asarray(data, dtype=np.float64) * 1e6
    return {"p50_us": float(np.percentile(a, 50)), "p90_us": float(np.percentile(a, 90)),
            "p99_us": float(np.percentile(a, 99)), "max_us": float(a.max()), "n": int(a.size)}
