"""The package front (engine.simulate): every public name importable from it, report and sweep on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sourcewise.engine.simulate as simulate_pkg


def test_public_names_resolve():
    for name in simulate_pkg.__all__:
        assert getattr(simulate_pkg, name) is not None, name
    from sourcewise.engine.simulate import format_table, write_sweep
    from sourcewise.engine.simulate.report import format_table as at_home
    from sourcewise.engine.simulate.sweep import write_sweep as sweep_home

    assert format_table is at_home and write_sweep is sweep_home
    with pytest.raises(AttributeError):
        simulate_pkg.no_such_name  # noqa: B018


def test_importing_the_package_leaves_matplotlib_and_dask_unloaded():
    code = ("import sys, sourcewise.engine.simulate; "
            "print(sorted(m for m in ('matplotlib', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
