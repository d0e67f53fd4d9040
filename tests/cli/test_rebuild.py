"""`warmcase rebuild`: the projections folded afresh, with a progress bar and a summary."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.console import copy_store, warmcase


def test_rebuild_reads_every_event_and_the_reports_stay_the_same(
    demo_store: Path, tmp_path: Path
) -> None:
    """A rebuild reads the whole log, saves one checkpoint per standard projection, and the
    coverage report afterwards is the one before, cell for cell."""
    store = copy_store(demo_store, tmp_path)
    before = warmcase("report", "coverage", "--format", "json", "--store", str(store))
    result = warmcase("rebuild", "--store", str(store))
    assert result.returncode == 0, result.stderr
    stored = sqlite3.connect(store).execute("SELECT count(*) FROM stored_events").fetchone()[0]
    text = " ".join(result.stdout.split())
    assert "positions read" in text
    assert f"events read │ {stored:,}" in text
    assert "checkpoints saved │ 4" in text
    after = warmcase("report", "coverage", "--format", "json", "--store", str(store))
    assert json.loads(after.stdout) == json.loads(before.stdout)


def test_rebuild_of_a_missing_store_is_a_usage_error(tmp_path: Path) -> None:
    """No store at the path: exit 2, saying how to make one."""
    result = warmcase("rebuild", "--store", str(tmp_path / "none.db"))
    assert result.returncode == 2
    assert "warmcase demo" in result.stderr


def test_rebuild_with_two_jobs_reads_every_event_once_and_the_reports_stay_the_same(
    demo_store: Path, tmp_path: Path
) -> None:
    """`--jobs 2` folds the projections in two processes: the events read are the log's,
    both groups are listed, four checkpoints are saved, and the reports are unchanged."""
    store = copy_store(demo_store, tmp_path)
    before = warmcase("report", "duplicates", "--format", "json", "--store", str(store))
    result = warmcase("rebuild", "--jobs", "2", "--store", str(store))
    assert result.returncode == 0, result.stderr
    stored = sqlite3.connect(store).execute("SELECT count(*) FROM stored_events").fetchone()[0]
    text = " ".join(result.stdout.split())
    assert f"events read │ {stored:,}" in text
    assert "checkpoints saved │ 4" in text
    assert "processes │ 2" in text
    after = warmcase("report", "duplicates", "--format", "json", "--store", str(store))
    assert json.loads(after.stdout) == json.loads(before.stdout)


def test_a_negative_number_of_jobs_is_a_usage_error(demo_store: Path, tmp_path: Path) -> None:
    """`--jobs -1`: exit 2, naming the option."""
    store = copy_store(demo_store, tmp_path)
    result = warmcase("rebuild", "--jobs", "-1", "--store", str(store))
    assert result.returncode == 2
    assert "--jobs" in result.stderr
