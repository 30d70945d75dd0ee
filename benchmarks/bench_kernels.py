"""Scoring kernels: order x node proximity scores per second.

Target (issue #6): >= 1e9 order-node scores/s on 2 cores. Each benchmark
stores ``pairs_per_s`` (median) in its ``extra_info``.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.conftest import Sizes
from benchmarks.conftest import median_s
from sourcewise.data.instances import us_places_sample
from sourcewise.engine import _kernels as K
from sourcewise.engine import scoring
from sourcewise.models.network import unit_vectors


@pytest.fixture(scope="module")
def score_inputs(sizes: Sizes):
    rng = np.random.default_rng(7)
    dlat, dlon = us_places_sample(sizes.score_orders, rng, 0.25)
    nlat, nlon = us_places_sample(sizes.score_nodes, rng, 0.05)
    return dlat, dlon, (nlat, nlon)


def _pairs_per_s(benchmark, pairs: int) -> None:
    benchmark.extra_info["pairs"] = pairs
    med = median_s(benchmark)
    if med:
        benchmark.extra_info["pairs_per_s"] = pairs / med
        benchmark.extra_info["ns_per_pair"] = med / pairs * 1e9


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_scoring_into_buffer(benchmark, score_inputs, dtype):
    """``proximity_scores`` writing a reused ``(orders, nodes)`` buffer."""
    dlat, dlon, nodes = score_inputs
    nx = scoring.node_vectors(nodes)
    m, n = len(dlat), len(nx[0])
    out = np.empty((m, n), dtype=dtype)
    scoring.proximity_scores(dlat, dlon, nodes, out=out, dtype=dtype)  # compile
    benchmark.group = "scoring"
    benchmark.pedantic(scoring.proximity_scores, args=(dlat, dlon, nodes),
                       kwargs={"out": out, "dtype": dtype}, rounds=15, iterations=1, warmup_rounds=2)
    _pairs_per_s(benchmark, m * n)
    ref = K.proximity_scores(unit_vectors(dlat, dlon), unit_vectors(*nodes))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6 if dtype == np.float32 else 1e-12)


def test_scoring_kernel_only(benchmark, score_inputs):
    """The scoring kernel alone, inputs pre-converted (no validation)."""
    from sourcewise.engine._kernels import scoring as SK

    dlat, dlon, nodes = score_inputs
    dest = unit_vectors(dlat, dlon)
    nx, ny, nz = scoring.node_vectors(nodes)
    out = np.empty((len(dlat), len(nx)))
    SK.scores_into(dest, nx, ny, nz, out)
    benchmark.group = "scoring"
    benchmark.pedantic(SK.scores_into, args=(dest, nx, ny, nz, out), rounds=15, iterations=1,
                       warmup_rounds=2)
    _pairs_per_s(benchmark, out.size)


def test_scoring_legacy_kernel(benchmark, score_inputs):
    """``sourcewise.engine._kernels.proximity_scores`` (array-of-structs, fresh output) for comparison."""
    dlat, dlon, nodes = score_inputs
    dest = unit_vectors(dlat, dlon)
    xyz = unit_vectors(*nodes)
    K.proximity_scores(dest, xyz)
    benchmark.group = "scoring"
    benchmark.pedantic(K.proximity_scores, args=(dest, xyz), rounds=15, iterations=1, warmup_rounds=2)
    _pairs_per_s(benchmark, len(dest) * len(xyz))


def test_nearest_k_fused(benchmark, score_inputs):
    """Fused scoring and top-32 selection (no score matrix)."""
    dlat, dlon, nodes = score_inputs
    k = min(32, len(nodes[0]))
    scoring.nearest_nodes(dlat, dlon, nodes, k)
    benchmark.group = "scoring"
    benchmark.pedantic(scoring.nearest_nodes, args=(dlat, dlon, nodes, k), rounds=10, iterations=1,
                       warmup_rounds=1)
    _pairs_per_s(benchmark, len(dlat) * len(nodes[0]))
