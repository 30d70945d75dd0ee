"""Generalized assignment: the optimizer's master problem reaches published optima."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from sourcewise.cli import main
from sourcewise.engine.optimize.gap import GapInstance
from sourcewise.engine.optimize.gap import load_gap
from sourcewise.engine.optimize.gap import master_for
from sourcewise.engine.optimize.gap import parse_gap
from sourcewise.engine.optimize.gap import read_optima
from sourcewise.engine.optimize.gap import solve_gap
from sourcewise.models.errors import ValidationError
from tests.conftest import REPO

GAP_DATA = Path(REPO).parent / "shared" / "data" / "gap"
needs_data = pytest.mark.skipif(not (GAP_DATA / "optima.csv").is_file(), reason="shared GAP data not present")

TINY = """2 3
 4 1 3
 2 5 1
 3 2 2
 2 3 3
 4 4
"""


def _brute(inst: GapInstance) -> float:
    best = np.inf
    for assign in itertools.product(range(inst.agents), repeat=inst.jobs):
        a = np.array(assign)
        load = np.bincount(a, weights=inst.size[a, np.arange(inst.jobs)], minlength=inst.agents)
        if (load <= inst.capacity).all():
            best = min(best, float(inst.cost[a, np.arange(inst.jobs)].sum()))
    return best


def test_parse_single_and_multi_instance_files():
    (one,) = parse_gap(TINY, "t/tiny")
    assert (one.agents, one.jobs) == (2, 3)
    assert one.cost[1, 2] == 1 and one.size[0, 1] == 2 and list(one.capacity) == [4, 4]
    two = parse_gap("2\n" + TINY + TINY, "t/multi")
    assert [i.name for i in two] == ["t/multi#1", "t/multi#2"]


@pytest.mark.parametrize("text", ["2 3 1 2", "x y", "2\n" + TINY])
def test_parse_rejects_broken_files(text):
    with pytest.raises(ValidationError):
        parse_gap(text, "bad")


@pytest.mark.parametrize(("seed", "solver"), [(s, "highs") for s in range(6)] + [(s, "cpsat") for s in range(2)])
def test_random_instances_match_brute_force(seed, solver):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(2, 4)), int(rng.integers(3, 7))
    size = rng.integers(1, 10, (m, n))
    inst = GapInstance("r", rng.integers(1, 30, (m, n)), size, (size.sum(axis=1) * rng.uniform(0.4, 0.8, m)).astype(int))
    r = solve_gap(inst, 10, solver)
    best = _brute(inst)
    if np.isinf(best):
        assert r.status in ("infeasible", "no solution") and np.isinf(r.cost)
    else:
        assert r.status == "optimal" and r.cost == best and r.bound == best
        load = np.bincount(r.assignment, weights=inst.size[r.assignment, np.arange(n)], minlength=m)
        assert (load <= inst.capacity).all()


def test_master_drops_oversized_pairs():
    inst = GapInstance("o", np.ones((2, 2), int), np.array([[5, 1], [1, 1]]), np.array([2, 2]))
    master, agent = master_for(inst)
    assert master.n_cols == 3 and list(agent) == [1, 0, 1]


# six Cattrysse instances (one per size class) and one Chu type A keep CI near 40 s at most
SAMPLE = ["cattrysse1994/gap1-0", "cattrysse1994/gap4-2", "cattrysse1994/gap6-1", "cattrysse1994/gap8-3",
          "cattrysse1994/gap10-4", "cattrysse1994/gap12-0", "chu1997/a10100"]


@needs_data
@pytest.mark.parametrize("name", SAMPLE)
def test_published_optimum_is_reached_and_proven(name):
    optima = read_optima(GAP_DATA / "optima.csv")
    (inst,) = load_gap(GAP_DATA / name)
    assert inst.name == name
    r = solve_gap(inst, 60, optimum=optima[name])
    assert r.status == "optimal" and r.matched and r.bound == r.cost == optima[name]


@needs_data
def test_cli_gap_prints_one_line_per_instance(capsys):
    paths = [str(GAP_DATA / n) for n in SAMPLE[:2]]
    assert main(["gap", *paths, "--time-limit", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4  # header, two instances, summary
    for line, name in zip(out[1:3], SAMPLE[:2], strict=True):
        assert line.startswith(name) and "optimal" in line and "yes" in line
    assert "2 proven optimal, 2/2 match" in out[-1]


def test_cli_gap_rejects_missing_paths(tmp_path, capsys):
    assert main(["gap", str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_gap_reads_a_folder_and_its_optima(tmp_path, capsys):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "tiny").write_text(TINY)
    (tmp_path / "optima.csv").write_text("Path,Optimum\nset/tiny,6\n")
    assert main(["gap", str(folder)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line.split()[:4] == ["set/tiny", "6", "6", "optimal"] and "yes" in line
