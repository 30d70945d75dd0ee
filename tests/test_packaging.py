"""The product installs under one name, ``sourcewise``, and its imports run one way.

The slow test builds a real wheel and installs it into a fresh virtual
environment, as a user would, away from the checkout.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import sourcewise
from tests.conftest import assert_names_resolve
from tests.conftest import loaded_by_import

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("engine", "models", "data")


def _product_modules() -> list[Path]:
    files = [ROOT / "__init__.py", ROOT / "cli.py"]
    for top in PRODUCT:
        files += sorted((ROOT / top).rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["sourcewise", *parts])


def test_front_door_names_resolve():
    assert sourcewise.__version__
    assert_names_resolve(sourcewise)
    # the front door is lazy: the command's --version must not pay for numba and the kernels
    assert loaded_by_import("sourcewise", ("numba", "sourcewise.engine.router")) == []


def test_every_product_package_ships():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {"sourcewise"} | {_module_name(p) for top in PRODUCT for p in (ROOT / top).rglob("__init__.py")}
    assert found == listed


def test_product_imports_run_one_way():
    """No product module imports ``benchmarks`` or ``tests``, nor the old top-level names."""
    bad = []
    for path in _product_modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                if n.split(".")[0] in ("benchmarks", "tests", "engine", "models", "data", "cli"):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {n}")
    assert not bad, "\n".join(bad)


def _wheel(tmp: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp), str(ROOT)], check=True, cwd=tmp)
    (wheel,) = tmp.glob("sourcewise-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_holds_only_the_package(tmp_path):
    names = zipfile.ZipFile(_wheel(tmp_path)).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"sourcewise"}
    assert "sourcewise/cli.py" in names and "sourcewise/py.typed" in names
    assert "sourcewise/data/sample/orders.csv" in names
    assert "sourcewise/engine/adapters/schema.json" in names
    assert "sourcewise/data/payloads/shopify_order.json" in names
    # only the bundled sample and example payloads: nothing a `generate` run left in data/ ships
    samples = {n.split("/")[2] for n in names if n.startswith("sourcewise/data/") and n.count("/") >= 3}
    assert samples == {"sample", "payloads"}
    assert not any(n.startswith(("sourcewise/tests/", "sourcewise/benchmarks/")) for n in names)


@pytest.mark.slow
def test_fresh_install_runs_the_command(tmp_path):
    """``pip install`` of the wheel into a new venv: ``sourcewise`` works away from the checkout."""
    wheel = _wheel(tmp_path)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, cwd=tmp_path, env=env)
    exe = env_dir / "bin" / "sourcewise"
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=timeout)

    done = run(str(exe), "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"sourcewise {sourcewise.__version__}"
    sample = run(str(py), "-c", "import sourcewise.data, pathlib; "
                 "print(pathlib.Path(sourcewise.data.__file__).parent / 'sample')").stdout.strip()
    done = run(str(exe), "route", "--scenario", sample, "--out", str(work / "out"))
    assert done.returncode == 0, done.stderr
    assert "orders                     300" in done.stdout
    assert (work / "out" / "allocations.csv").exists()
    done = run(str(exe), "bench", "--quick", "--out", str(work / "bench"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (work / "bench").is_dir() and any((work / "bench").iterdir())
    for name in ("engine", "models", "data", "cli"):
        done = run(str(py), "-c", f"import {name}")
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, name


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def test_no_module_uses_another_modules_private_names():
    """``from m import _x`` and ``m._x`` only within the module that defines ``_x``.

    Private modules (``_kernels``, ``_master``) may be imported by their
    siblings; their own names are public within them.
    """
    bad = []
    for path in _product_modules():
        tree = ast.parse(path.read_text(), str(path))
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("sourcewise"):
                for a in node.names:
                    target = f"{node.module}.{a.name}"
                    if _is_module(target):
                        aliases.add(a.asname or a.name)
                    elif a.name.startswith("_") and not a.name.startswith("__"):
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("sourcewise") and a.asname:
                        aliases.add(a.asname)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, "\n".join(bad)
