"""The package front (engine.simulate): every public name importable from it, report and sweep on first use."""

from __future__ import annotations

import sourcewise.engine.simulate as simulate_pkg
from tests.conftest import assert_names_resolve
from tests.conftest import loaded_by_import


def test_public_names_resolve():
    assert_names_resolve(simulate_pkg)
    from sourcewise.engine.simulate import format_table
    from sourcewise.engine.simulate import write_sweep
    from sourcewise.engine.simulate.report import format_table as at_home
    from sourcewise.engine.simulate.sweep import write_sweep as sweep_home

    assert format_table is at_home and write_sweep is sweep_home


def test_importing_the_package_leaves_matplotlib_and_dask_unloaded():
    assert loaded_by_import("sourcewise.engine.simulate", ("matplotlib", "distributed")) == []
