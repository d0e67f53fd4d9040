"""The scale benchmark measures every figure and renders its tables, in a quick run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from benchmarks import scale


@pytest.mark.slow
@pytest.mark.postgres
def test_a_quick_run_has_every_figure(postgres_database_factory: Callable[[], str]) -> None:
    """Writers at 1, 2 and 4 processes against raw psycopg, catch-up against raw paged
    reads, and lag under load are all measured, positive, and in the rendered tables."""
    figures = scale.measure(postgres_database_factory, quick=True)
    for count in ("1", "2", "4"):
        row = figures["writers"][count]
        assert row["raw_writes_per_s"] > 0
        assert row["warmcase_commands_per_s"] > 0
        assert row["ratio"] > 0
    catch = figures["catch_up"]
    assert catch["events"] > 1_000
    assert catch["worker_events_per_s"] > 0
    assert catch["raw_paged_rows_per_s"] > 0
    loaded = figures["lag"]
    assert loaded["samples"] > 0
    assert loaded["commands_per_s"] > 0
    assert loaded["max_events_behind"] >= loaded["median_events_behind"] >= 0
    text = scale.render(figures)
    assert "| 4 |" in text
    assert "events/s" in text
    assert "rows/s" in text
