"""`warmcase worker`: follows a store in its own process, stops cleanly, reports its lag."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import warmcase
from tests.cli.console import copy_store
from warmcase.service.queries import STANDARD
from warmcase_adapters.cli import main
from warmcase_adapters.worker import lag

ROOT = Path(__file__).resolve().parents[2]
# Until `worker` is registered in the console script, a typer app with it alone.
STANDALONE = (
    "import typer\n"
    "from warmcase_adapters.cli.worker import register\n"
    "app = typer.Typer(pretty_exceptions_enable=False)\n"
    "app.callback()(lambda: None)\n"
    "register(app)\n"
    "app()\n"
)


def command() -> list[str]:
    """How to run `warmcase` with the worker subcommand."""
    if any(
        c.name == "worker" or getattr(c.callback, "__name__", "") == "worker"
        for c in main.app.registered_commands
    ):
        script = Path(sys.executable).with_name("warmcase")
        if script.exists():
            return [str(script)]
        return [sys.executable, "-m", "warmcase_adapters.cli"]
    return [sys.executable, "-c", STANDALONE]


def environment() -> dict[str, str]:
    """The test environment, with the repository importable (for test projections)."""
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}


def worker(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`warmcase worker ARGUMENTS...`, run to its end."""
    return subprocess.run(
        [*command(), "worker", *arguments],
        capture_output=True,
        text=True,
        check=False,
        env=environment(),
        timeout=300,
    )


def test_the_worker_follows_stops_on_sigterm_and_reports_lag(
    demo_store: Path, tmp_path: Path
) -> None:
    """On a copy of the demo store: --status shows the four standard views behind by the
    whole log; a worker brings them current and stops cleanly on SIGTERM (exit 0, the
    stop logged); --status then shows every view current."""
    store = copy_store(demo_store, tmp_path)
    before = worker("--store", str(store), "--status")
    assert before.returncode == 0, before.stderr
    for name in (projection.checkpoint_name for projection in STANDARD):
        assert name in before.stdout
    app = warmcase.open(f"sqlite:///{store}")
    head = app.history.last_position()
    assert f"{head:,}" in before.stdout
    log = tmp_path / "worker.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*command(), "worker", "--store", str(store), "--poll-seconds", "0.2"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment(),
        )
    try:
        deadline = time.monotonic() + 120
        while any(r.events_behind for r in lag(app)):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker did not catch up"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    app.close()
    assert code == 0, log.read_text()
    assert "stopped" in log.read_text()
    after = worker("--store", str(store), "--status", "--projection", "stock")
    assert after.returncode == 0, after.stderr
    row = next(line for line in after.stdout.splitlines() if "stock@v1" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells == ["stock@v1", f"{head:,}", f"{head:,}", "0", "0.0"], after.stdout


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--projection", "stocks"], "name one of stock, coverage"),
        (["--projection", "no.such.module:Thing"], "cannot load"),
        (["--batch-size", "0"], "--batch-size"),
        (["--poll-seconds", "0"], "--poll-seconds"),
    ],
)
def test_usage_errors_exit_2(demo_store: Path, arguments: list[str], says: str) -> None:
    """An unknown projection or an impossible setting is a usage error: exit 2, saying why."""
    result = worker("--store", str(demo_store), "--status", *arguments)
    assert result.returncode == 2
    assert says in result.stderr


def test_a_failing_rule_exits_1_naming_the_event(demo_store: Path, tmp_path: Path) -> None:
    """A projection whose rule raises stops the worker with exit 1 and the typed error:
    the projection, the event type and the position it failed at."""
    store = copy_store(demo_store, tmp_path)
    result = worker("--store", str(store), "--projection", "tests.adapters.worker_probe:Broken")
    assert result.returncode == 1, result.stderr
    assert "ProjectionFailed" in result.stderr
    assert "lot.inspected" in result.stderr
