"""The kernels' shared layout (`_kernels.layout`): packed state, node matrix, parameters."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine import _kernels as K
from sourcewise.engine.router import Router
from tests import naive
from tests.conftest import make_inventory
from tests.conftest import make_network
from tests.engine.kernels import random_network
from tests.engine.kernels import random_policy


def test_packed_state_views_are_the_routers_arrays(rng):
    net = make_network(rng, 30, 12)
    inv = make_inventory(rng, net, density=0.5)
    r = Router(net, inv)
    ints = [r._on_hand, r._safety, r._reserved, r._cap_orders, r._cap_units, r._mark]
    floats = [r._nodef, r._skuf, r._entry_fee, r._dual, r._entry_risk, r._entry_demand, r._sku_lb, r._bands]
    assert len(ints) == len(K.PACKED_INTS) and len(floats) == len(K.PACKED_FLOATS)
    for i, a in enumerate(ints):
        got = K.int_array(r._ibuf, i)
        np.testing.assert_array_equal(got, a)
        assert np.shares_memory(a, r._ibuf)
    for i, a in enumerate(floats):
        got = K.float_matrix(r._ibuf, r._fbuf, i) if a.ndim == 2 else K.float_array(r._ibuf, r._fbuf, i)
        assert got.shape == a.shape
        np.testing.assert_array_equal(got, a)
        assert np.shares_memory(a, r._fbuf)
    # a write through the router's array is what the kernel reads
    r._reserved[3] += 7
    assert K.int_array(r._ibuf, 2)[3] == r._reserved[3]
    with pytest.raises(ValueError):
        K.pack_ints(ints[:-1])




@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (5, 8), (7, 2)])
def test_float_matrix_is_the_reshaped_view(shape):
    """The packed matrix view (built without numba's reshape helper) is the reshape, in place."""
    rng = np.random.default_rng(sum(shape))
    ints = [np.arange(4, dtype=np.int64) for _ in K.PACKED_INTS]
    ibuf, _ = K.pack_ints(ints)
    floats = [rng.random(shape) if i == 1 else rng.random(3) for i in range(len(K.PACKED_FLOATS))]
    fbuf, views = K.pack_floats(ibuf, floats)
    got = K.float_matrix(ibuf, fbuf, 1)
    assert got.shape == shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, floats[1])
    if got.size:
        got[-1, -1] = -1.0  # a write through the view lands in the packed buffer
        assert views[1][-1, -1] == -1.0


@pytest.mark.parametrize("seed", range(4))
def test_pack_nodes_matches_the_twin(seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng, int(rng.integers(1, 40)), 3)
    got, want = K.pack_nodes(net), naive.pack_nodes(net)
    assert got.shape == want.shape == (net.n_nodes, K.NODE_COLS)
    xyz = [K.NF_X, K.NF_Y, K.NF_Z]
    np.testing.assert_allclose(got[:, xyz], want[:, xyz], rtol=1e-12, atol=1e-15)  # numpy's and libm's trig
    rest = [c for c in range(K.NODE_COLS) if c not in xyz]
    np.testing.assert_array_equal(got[:, rest], want[:, rest])


@pytest.mark.parametrize("seed", range(3))
def test_pack_skus_matches_the_twin(seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng, 3, int(rng.integers(1, 30)))
    got = K.pack_skus(net)
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, naive.pack_skus(net))


@pytest.mark.parametrize("seed", range(6))
def test_cost_params_match_the_twin(seed):
    rng = np.random.default_rng(seed)
    net = random_network(rng, int(rng.integers(0, 10)), 2)
    pol = random_policy(rng, split_candidates=int(rng.integers(2, 64)))
    np.testing.assert_array_equal(K.cost_params(pol, K.pack_nodes(net)), naive.cost_params(pol, net))
