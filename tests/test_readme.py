"""The README's examples hold: its Python blocks run, and every command line it shows parses.

Python blocks run in order in one namespace (later examples use what earlier ones built), in a
temporary working folder. A block that needs something the test cannot give it (a database
server on another host, a platform's payloads) is preceded in the README by
``<!-- no-run: reason -->``; the test checks the reason is there, so skipping is always visible.
Command lines (``python cli.py ...`` or ``sourcewise ...`` in ``bash`` blocks) are parsed by the
CLI's own parser, with each ``[--flag a|b]`` taken with its first choice and each placeholder in
capitals with a value.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sourcewise import cli

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- no-run: (?P<why>[^>]*?) -->\s*)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def _blocks(lang: str) -> list[tuple[str, str | None]]:
    return [(m["body"], m["why"]) for m in BLOCK.finditer(README.read_text()) if m["lang"] == lang]


def _commands() -> list[str]:
    return [line for body, _ in _blocks("bash") for line in body.splitlines()
            if line.startswith(("python cli.py ", "sourcewise "))]


def _argv(line: str) -> list[str]:
    """The command's arguments, optional ``[--flag a|b]`` parts taken with their first choice."""
    line = re.sub(r"\[([^\]]*)\]", lambda m: m[1].split("|")[0], line)
    # placeholders in capitals (DIR, URL, BYTES) stand for values: "1" parses as a path, a URL or a number
    words = ["1" if re.fullmatch(r"[A-Z_]+", w) else w for w in shlex.split(line, comments=True)]
    return words[2:] if words[0] == "python" else words[1:]


def test_every_python_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()  # the ledger examples write under var/
    blocks = _blocks("python")
    assert len(blocks) >= 5
    namespace: dict = {}
    ran = 0
    for body, why in blocks:
        if why is not None:
            assert why.strip(), "a block marked no-run says why"
            continue
        exec(compile(body, str(README), "exec"), namespace)  # noqa: S102 - the README's own examples
        ran += 1
    assert ran >= len(blocks) - 2


@pytest.mark.parametrize("line", _commands())
def test_every_command_line_parses(line):
    argv = _argv(line)
    if argv == ["--version"]:
        with pytest.raises(SystemExit) as done:
            cli.build_parser().parse_args(argv)
        assert done.value.code == 0
        return
    args = cli.build_parser().parse_args(argv)
    assert callable(args.func)


def test_the_readme_shows_commands_of_every_kind():
    shown = {_argv(line)[0] for line in _commands()}
    assert {"route", "optimize", "simulate", "sweep", "generate", "serve", "journal", "adapt", "gap"} <= shown


def test_the_adapt_examples_run(capsys, monkeypatch):
    """The README's ``adapt`` lines run from the checkout on the example payloads, every option given."""
    import json

    monkeypatch.chdir(README.parent)
    lines = [line for line in _commands() if _argv(line)[0] == "adapt"]
    assert lines and any("--config" in line for line in lines)
    for line in lines:
        assert cli.main(_argv(line)) == 0, line
        assert json.loads(capsys.readouterr().out)


def test_the_readme_names_every_example_payload():
    from sourcewise.engine.adapters import PLATFORMS

    folder = README.parent / "data" / "payloads"
    platform = "|".join(PLATFORMS)
    named = set(re.findall(rf"\b((?:{platform})_\w+\.json)\b", README.read_text()))
    shipped = {p.name for p in folder.glob("*.json")}
    assert named == shipped
    assert {name.split("_")[0] for name in shipped} == set(PLATFORMS)
    assert "`data/payloads/`" in README.read_text()


def _all_flags() -> set[str]:
    """Flags of every ``sourcewise`` command and of the benchmark runners the README runs."""
    import argparse

    from benchmarks.serve_load import build_parser as load_parser

    flags, parsers = set(), [cli.build_parser(), load_parser()]
    while parsers:
        p = parsers.pop()
        for action in p._actions:
            flags.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    return flags


def test_every_flag_the_readme_names_exists():
    """Every ``--flag`` in the README, in prose or code, is a flag of some command or of the load
    benchmark (lines running other programs, curl and dask, excepted)."""
    ours = [line for line in README.read_text().splitlines() if not re.search(r"\b(curl|dask) ", line)]
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", "\n".join(ours)))
    assert named and named - _all_flags() == set()


def test_the_policy_example_loads():
    """The README's ``policy.toml`` blocks use only keys and values the policy accepts."""
    from sourcewise.models.policy import load_policy

    blocks = [body for body, _ in _blocks("toml")]
    assert blocks
    for i, body in enumerate(blocks):
        path = Path(__file__).parent / f".readme-policy-{i}.toml"
        try:
            path.write_text(body, encoding="utf-8")
            policy = load_policy(path)
        finally:
            path.unlink(missing_ok=True)
        assert [t.name for t in policy.tiers] == ["warehouses", "stores", "vendors"]


def _row_names(table: str) -> tuple[set[str], set[str]]:
    """The row for ``table`` of the README's table of scenario tables: the names outside parentheses,
    and every name."""
    section = README.read_text().split("## Scenario folders", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in section.splitlines() if line.startswith(f"| `{table}` |")]
    cells = row.split("|")[2]
    outside = re.sub(r"\([^)]*\)", "", cells)
    return set(re.findall(r"`(\w+)`", outside)), set(re.findall(r"`(\w+)`", cells))


@pytest.mark.parametrize("table", ["nodes", "skus", "inventory", "orders", "walkin", "replenishment",
                                   "vendor_offers"])
def test_the_scenario_columns_are_the_readers(table):
    from sourcewise.engine.scenario import COLUMNS

    columns, every = _row_names(table)
    assert columns <= set(COLUMNS[table]) <= every


def _columns_after(anchor: str) -> list[str]:
    """The backquoted, comma-separated column list that follows ``anchor`` in the README."""
    text = " ".join(README.read_text().split())
    return [c.strip() for c in re.search(re.escape(anchor) + r" \(`([^`]+)`", text)[1].split(",")]


def test_route_and_optimize_write_the_columns_the_readme_lists(tmp_path, capsys):
    import pandas as pd

    from tests.conftest import SAMPLE

    assert cli.main(["-q", "route", "--scenario", str(SAMPLE), "--out", str(tmp_path / "r")]) == 0
    for name, anchor in (("allocations", "writes `allocations.csv`"), ("orders", "`orders.csv`"),
                         ("unfilled", "and `unfilled.csv`")):
        assert list(pd.read_csv(tmp_path / "r" / f"{name}.csv").columns) == _columns_after(anchor), name
    assert cli.main(["-q", "optimize", "--scenario", str(SAMPLE), "--out", str(tmp_path / "o"),
                     "--time-limit", "1"]) == 0
    assert list(pd.read_csv(tmp_path / "o" / "allocations.csv").columns) == _columns_after("writes `allocations`")
    route_orders = list(pd.read_csv(tmp_path / "r" / "orders.csv").columns)
    assert list(pd.read_csv(tmp_path / "o" / "orders.csv").columns) == route_orders[:route_orders.index("flags") + 1]
