"""The command lines shown in docs/command-line.md run as shown, on the demo store."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.cli.console import copy_store, warmcase

GUIDE = Path(__file__).parents[2] / "docs" / "command-line.md"
EXPECTED_EXIT = re.compile(r"#\s*exit (\d)\s*$")


def shown_commands() -> list[tuple[int, str]]:
    """Each `$ warmcase ...` line of the guide's sh blocks, with its line number."""
    commands: list[tuple[int, str]] = []
    in_block = False
    for number, line in enumerate(GUIDE.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("```"):
            in_block = line.strip() == "```sh"
            continue
        if in_block and line.startswith("$ warmcase ") and "# not run" not in line:
            commands.append((number, line.removeprefix("$ ")))
    return commands


def test_the_guide_shows_commands() -> None:
    """The guide is not empty of examples (so the test below cannot pass vacuously)."""
    assert len(shown_commands()) >= 8


def test_every_shown_command_runs_as_shown(demo_store: Path, tmp_path: Path) -> None:
    """In order, each command exits 0 (or the `# exit N` its line says), on a copy of the demo."""
    store = copy_store(demo_store, tmp_path)
    failures: list[str] = []
    for number, line in shown_commands():
        expected = EXPECTED_EXIT.search(line)
        arguments = shlex.split(line, comments=True)[1:]
        result = warmcase(*arguments, env={"WARMCASE_STORE": str(store)}, cwd=tmp_path)
        code = int(expected.group(1)) if expected else 0
        if result.returncode != code:
            failures.append(
                f"docs/command-line.md:{number}: `{line}` exited {result.returncode}, "
                f"not {code}\n{result.stderr[-600:]}"
            )
    if failures:
        pytest.fail("\n".join(failures))
