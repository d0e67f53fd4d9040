"""Running the `warmcase` console script as a user would, from the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def warmcase(
    *arguments: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `warmcase ARGUMENTS...` in a subprocess, capturing its output.

    The installed console script is used when it is on the venv's path, so the entry
    point itself is under test; `python -m warmcase_adapters.cli` otherwise.
    """
    script = Path(sys.executable).with_name("warmcase")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "warmcase_adapters.cli"]
    return subprocess.run(
        [*command, *arguments],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})},
        timeout=600,
    )


def copy_store(store: Path, into: Path) -> Path:
    """A writable copy of a SQLite store (with its WAL, if any) inside `into`."""
    target = into / store.name
    for suffix in ("", "-wal", "-shm"):
        source = store.with_name(store.name + suffix)
        if source.exists():
            shutil.copyfile(source, target.with_name(target.name + suffix))
    return target
