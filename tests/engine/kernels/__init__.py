"""Each numba kernel against its slow twin in ``tests/naive.py``: one module per kernel module.

The builders shared by several of these modules live here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sourcewise.engine import _kernels as K
from sourcewise.models import CostModel
from sourcewise.models import Network
from sourcewise.models import ServicePolicy
from sourcewise.models import StorePolicy
from sourcewise.models.network import unit_vectors
from tests.conftest import flat_policy
from tests.conftest import make_network

BANDS = np.array([[300.0, 1.0], [1000.0, 2.0], [2000.0, 3.0], [1e5, 5.0]])


def random_params(rng):
    p = np.zeros(K.N_PARAMS)
    p[K.P_MAX_MILES] = rng.choice([np.inf, 800.0])
    p[K.P_HOUR] = rng.uniform(0, 24)
    p[K.P_REQUIRE_CUTOFF] = rng.integers(2)
    p[K.P_MAX_DAYS] = rng.choice([-1.0, 2.0, 3.0])
    p[K.P_LATE_MODE] = rng.integers(2)
    return p



def random_order(rng, net, lines, units, parcels):
    """Distinct SKUs (1 to ``lines``), units per line, a US destination and a split limit."""
    skus = rng.choice(net.n_skus, size=int(rng.integers(1, lines + 1)), replace=False).astype(np.int64)
    qty = rng.integers(1, units + 1, len(skus)).astype(np.int64)
    dest = unit_vectors(np.array([rng.uniform(26, 48)]), np.array([rng.uniform(-123, -70)]))[0]
    return skus, qty, dest, int(rng.integers(1, parcels + 1))


def random_orders(rng, net, n, lines, units, parcels):
    """``n`` orders of :func:`random_order`, drawn one at a time: a test may draw more from ``rng`` between them."""
    for _ in range(n):
        yield random_order(rng, net, lines, units, parcels)



def random_network(rng, n_nodes, n_skus, *, disabled=0.0):
    """:func:`~tests.conftest.make_network` with random processing days and cutoff hours as well."""
    net = make_network(rng, n_nodes, n_skus, disabled=disabled)
    nodes = [dataclasses.replace(n, processing_days=int(rng.integers(0, 3)),
                                 cutoff_hour=float(rng.choice([24.0, rng.uniform(8, 22)])))
             for n in net.nodes]
    return Network.build(nodes, list(net.skus))


def random_policy(rng, **kw):
    """A one-tier policy with random prices, late penalty, depletion weight and split penalty."""
    cost = CostModel(*(float(x) for x in rng.uniform(0, [10, 1, 0.002, 0.5])))
    service = ServicePolicy(late=str(rng.choice(["exclude", "penalty"])),
                            late_penalty_per_day=float(rng.uniform(0, 20)))
    stores = StorePolicy(depletion_weight=float(rng.choice([0.0, rng.uniform(0, 5)])))
    return flat_policy(cost=cost, service=service, stores=stores,
                       split_penalty=float(rng.choice([0.0, rng.uniform(0, 5)])), **kw)
