"""The cost model (`_kernels.cost`) against its twins in ``tests/naive.py``."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine import _kernels as K
from sourcewise.engine.router import Router
from sourcewise.models.network import unit_vectors
from tests import naive
from tests.conftest import flat_policy
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.engine.kernels import BANDS
from tests.engine.kernels import random_network
from tests.engine.kernels import random_policy


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



def _model(seed):
    """A random network and policy, their node matrix and parameter vector, and random transit bands."""
    rng = np.random.default_rng(seed)
    net = random_network(rng, 12, 6)
    pol = random_policy(rng)
    nodef = K.pack_nodes(net)
    bands = np.cumsum(rng.uniform(50, 900, (int(rng.integers(1, 5)), 2)), axis=0)
    bands[:, 1] = np.round(bands[:, 1] / 300)
    return rng, net, pol, nodef, K.cost_params(pol, nodef), bands


@pytest.mark.parametrize("seed", range(6))
def test_cost_helpers_match_their_twins(seed):
    rng, net, pol, nodef, p, _ = _model(seed)
    for _ in range(200):
        n = int(rng.integers(net.n_nodes))
        miles, kg = float(rng.uniform(0, 3000)), float(rng.uniform(0, 20))
        lead, max_days = float(rng.integers(0, 8)), float(rng.choice([-1.0, rng.integers(0, 6)]))
        demand, atp, weight = (float(rng.choice([0.0, rng.uniform(0, 9)])), int(rng.integers(0, 20)),
                               float(rng.choice([0.0, rng.uniform(0, 5)])))
        # the same terms added in the same order: equal to the last bit
        assert K.parcel_cost(n, nodef, p) == naive.parcel_cost(net, pol, n)
        assert K.late_cost(lead, max_days, p) == naive.late_cost(lead, max_days, pol)
        assert K.unit_handling(n, nodef, p) == naive.unit_handling(net, pol, n)
        assert K.unit_cost_at(n, miles, nodef, p) == naive.unit_cost_at(net, pol, n, miles)
        assert K.weight_cost(kg, p) == naive.weight_cost(kg, pol)
        assert K.unit_shipping(miles, kg, p) == naive.unit_shipping(miles, kg, pol)
        assert K.depletion_cost(demand, atp, weight) == naive.depletion_cost(demand, atp, weight)


@pytest.mark.parametrize("seed", range(6))
def test_transit_and_lead_days_match_their_twins(seed):
    rng, net, _, nodef, _, bands = _model(seed)
    limits = bands[:, 0] / K.MILE_KM
    # every band's edge from both sides, and beyond the last band
    miles = np.r_[rng.uniform(0, 1.2 * limits[-1], 300), limits, np.nextafter(limits, np.inf), 0.0]
    for m in miles.tolist():
        assert K.transit_days(m, bands) == naive.transit_days(m, bands.tolist())
        n = int(rng.integers(net.n_nodes))
        for hour in (float(rng.uniform(0, 24)), float(net.cutoff_hour[n]), 0.0):
            assert K.lead_days(n, m, hour, nodef, bands) == naive.lead_days(net, n, m, hour, bands.tolist())


@pytest.mark.parametrize("strategy", [K.COST, K.DUAL])
@pytest.mark.parametrize("seed", range(4))
def test_unit_costs_match_the_twin(seed, strategy):
    rng, net, pol, nodef, p, _ = _model(seed)
    n_ent = 40
    fee, plan, demand = rng.uniform(0, 3, n_ent), rng.uniform(0, 2, n_ent), rng.uniform(0, 4, n_ent)
    demand[rng.random(n_ent) < 0.4] = 0.0
    skuf = np.stack([net.price, net.weight_kg], axis=1)
    for _ in range(20):
        C, G = int(rng.integers(0, 8)), int(rng.integers(1, 4))
        cand = rng.choice(net.n_nodes, C, replace=False).astype(np.int64)
        g_sku = rng.choice(net.n_skus, G, replace=False).astype(np.int64)
        ent = np.where(rng.random((C, G)) < 0.7, rng.integers(0, n_ent, (C, G)), -1).astype(np.int64)
        atp = rng.integers(0, 9, (C, G)).astype(np.int64)
        miles, lead = rng.uniform(0, 3000, C), rng.integers(1, 7, C).astype(np.float64)
        free = rng.random(net.n_nodes) < 0.3
        p[K.P_MAX_DAYS] = rng.choice([-1.0, 3.0])
        fixed, unit = K.unit_costs(cand, g_sku, ent, atp, miles, lead, nodef, skuf, fee, plan, demand, free, p,
                                    strategy)
        want_f, want_u = naive.unit_costs(net, pol, cand, g_sku, ent, atp, miles, lead, fee, plan, demand, free,
                                          p[K.P_MAX_DAYS], strategy == K.DUAL)
        np.testing.assert_array_equal(fixed, want_f)
        np.testing.assert_allclose(unit, want_u, rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_plan_unit_matches_the_twin(seed):
    rng, net, pol, nodef, p, _ = _model(seed)
    n_ent = 30
    fee, dual, risk, demand = (rng.uniform(0, 3, n_ent) for _ in range(4))
    demand[rng.random(n_ent) < 0.4] = 0.0
    skuf = np.stack([net.price, net.weight_kg], axis=1)
    cap_units = rng.integers(0, 6, net.n_nodes)
    for _ in range(200):
        e, n, s, a = (int(rng.integers(x)) for x in (n_ent, net.n_nodes, net.n_skus, 10))
        strategy = int(rng.choice([K.COST, K.DUAL]))
        got = K.plan_unit(e, n, s, a, nodef, skuf, fee, dual, risk, demand, cap_units, p, strategy)
        want = naive.plan_unit(net, pol, e, n, s, a, fee, dual, risk, demand, cap_units, strategy == K.DUAL)
        np.testing.assert_allclose(got, want, rtol=1e-12)
