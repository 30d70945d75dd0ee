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
