"""The cost model (`_kernels.cost`) against its twins in ``tests/naive.py``."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine import _kernels as K
from sourcewise.engine.router import Router
from sourcewise.models.network import unit_vectors
from tests import naive
from tests.conftest import flat_policy, make_inventory, make_network
from tests.engine.kernels import BANDS


def test_unit_costs_match_reference(rng):
    net = make_network(rng, 15, 6)
    inv = make_inventory(rng, net, density=0.8)
    pol = flat_policy()
    p = Router(net, inv, pol)._base_params.copy()
    mark = np.full(net.n_nodes, -1, np.int64)
    nodef = K.pack_nodes(net)
    fee = net.fee_rate[inv.node] * net.price[np.repeat(np.arange(net.n_skus), np.diff(inv.sku_ptr))]
    zeros = np.zeros(inv.nnz)
    for _ in range(10):
        skus = rng.choice(net.n_skus, size=3, replace=False).astype(np.int64)
        lat, lon = rng.uniform(26, 48), rng.uniform(-123, -70)
        dest = unit_vectors(np.array([lat]), np.array([lon]))[0]
        cap = np.full(net.n_nodes, 10**9)
        cand, atp, ent, miles, lead = K.gather(skus, inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock,
                                                inv.reserved, net.usable, cap, cap, mark, dest, nodef, p, BANDS)
        K.fill_distances(cand, miles, lead, dest, nodef, p, BANDS)
        skuf = np.stack([net.price, net.weight_kg], axis=1)
        fixed, unit = K.unit_costs(cand, skus, ent, atp, miles, lead, nodef, skuf, fee, zeros, zeros,
                                    np.zeros(net.n_nodes, np.bool_), p, 0)
        for c, n in enumerate(cand):
            assert fixed[c] == pytest.approx(pol.cost.per_shipment + net.handling_per_shipment[n])
            for g, s in enumerate(skus):
                if ent[c, g] >= 0:
                    assert unit[c, g] == pytest.approx(naive.unit_cost(net, pol, n, s, (lat, lon)), rel=1e-9)

