"""The scoring wrapper (engine.scoring): input forms, validation, empty inputs.

Its kernels against their twins: ``tests/engine/kernels/test_scoring.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine import scoring
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Sku
from sourcewise.models import ValidationError
from sourcewise.models.network import unit_vectors
from tests.conftest import random_points


def test_node_forms_agree(rng):
    nlat, nlon = random_points(rng, 25)
    nodes = [Node(f"N{i}", "warehouse", float(a), float(b)) for i, (a, b) in enumerate(zip(nlat, nlon, strict=True))]
    net = Network.build(nodes, [Sku("S")])
    dlat, dlon = random_points(rng, 9)
    by_net = scoring.proximity_scores(dlat, dlon, net)
    by_xyz = scoring.proximity_scores(dlat, dlon, unit_vectors(nlat, nlon))
    by_latlon = scoring.proximity_scores(dlat, dlon, (nlat, nlon))
    np.testing.assert_array_equal(by_net, by_xyz)
    np.testing.assert_array_equal(by_net, by_latlon)
    assert scoring.node_vectors(net) is scoring.node_vectors(net)  # cached per network



def test_nearest_nodes_uses_network_usable():
    nodes = [Node("A", "store", 40.0, -100.0, enabled=False), Node("B", "store", 41.0, -100.0),
             Node("C", "store", 45.0, -100.0, ships=False), Node("D", "store", 30.0, -100.0)]
    net = Network.build(nodes, [Sku("S")])
    idx, _ = scoring.nearest_nodes([40.0], [-100.0], net, 4)
    assert idx[0].tolist() == [1, 3, -1, -1]



def test_bad_input_lists_every_row():
    with pytest.raises(ValidationError) as e:
        scoring.proximity_scores([10.0, 95.0, np.nan], [0.0, 0.0, 200.0], (np.array([0.0]), np.array([0.0])))
    rows = {(p.row, p.field) for p in e.value.problems}
    assert rows == {(1, "lat"), (2, "lat"), (2, "lon")}
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0, 2.0], (np.array([0.0]), np.array([0.0])))
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0], np.ones((3, 2)))
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0], np.ones((3, 3)))  # not unit vectors
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0], (np.array([0.0]), np.array([0.0])), out=np.empty((2, 1)))
    with pytest.raises(ValidationError):
        scoring.proximity_scores([1.0], [1.0], (np.array([0.0]), np.array([0.0])), dtype=np.int64)
    with pytest.raises(ValidationError):
        scoring.nearest_nodes([1.0], [1.0], (np.array([0.0]), np.array([0.0])), 0)



def test_empty_inputs():
    s = scoring.proximity_scores([], [], (np.array([1.0, 2.0]), np.array([3.0, 4.0])))
    assert s.shape == (0, 2)
    idx, miles = scoring.nearest_nodes([1.0], [1.0], (np.array([]), np.array([])), 2)
    assert idx.tolist() == [[-1, -1]] and np.isinf(miles).all()

