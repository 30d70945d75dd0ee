"""The package's public names load on first use, and every one resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sourcewise.engine.optimize as O


def test_every_public_name_resolves():
    for name in O.__all__:
        assert getattr(O, name) is not None, name
    assert set(O.__all__) <= set(dir(O))
    with pytest.raises(AttributeError):
        O.no_such_name  # noqa: B018


def test_gap_loads_without_the_router_or_the_plan_kernels():
    code = ("import sys, sourcewise.engine.optimize.gap; "
            "print(any(m in sys.modules for m in ('sourcewise.engine.router', 'sourcewise.engine._kernels.plans')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
