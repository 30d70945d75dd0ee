"""Each numba kernel against its slow twin in ``tests/naive.py``: one module per kernel module.

The builders shared by several of these modules live here.
"""

from __future__ import annotations

import numpy as np

from sourcewise.engine import _kernels as K
from sourcewise.models.network import unit_vectors

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

