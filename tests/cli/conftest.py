"""One demo store for the command-line tests, made by the real console script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.console import warmcase


@pytest.fixture(scope="session")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """`warmcase demo` played once into a fresh SQLite file: its path and what it printed."""
    path = tmp_path_factory.mktemp("demo") / "warmcase-demo.db"
    result = warmcase("demo", "--store", str(path))
    assert result.returncode == 0, result.stderr
    return path, result


@pytest.fixture(scope="session")
def demo_store(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    """The demo's store (read-only: use `copy_store` into tmp_path before writing to it)."""
    return demo_run[0]
