"""The package's public names load on first use, and every one resolves."""

from __future__ import annotations

import sourcewise.engine.optimize as O
from tests.conftest import assert_names_resolve
from tests.conftest import loaded_by_import


def test_every_public_name_resolves():
    assert_names_resolve(O)
    assert set(O.__all__) <= set(dir(O))


def test_gap_loads_without_the_router_or_the_plan_kernels():
    assert loaded_by_import("sourcewise.engine.optimize.gap",
                            ("sourcewise.engine.router", "sourcewise.engine._kernels.plans")) == []
