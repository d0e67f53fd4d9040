"""`warmcase demo`: the main job, through the real console script."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from tests.cli.console import warmcase


def test_the_demo_prints_the_books_and_what_to_try_next(
    demo_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The street-scale demo plays the plan's campaign and prints its reports and next steps."""
    path, result = demo_run
    assert "cash paid 1,408,550.00 yuan; sum of the tiers owed 1,408,550.00 yuan" in result.stdout
    assert "Next, try:" in result.stdout
    assert f"warmcase trail H-0001 --store {path}" in result.stdout
    events = sqlite3.connect(path).execute("SELECT count(*) FROM stored_events").fetchone()[0]
    assert f"Store: {events:,} events." in result.stdout


def test_the_demo_is_deterministic_for_a_seed(tmp_path: Path, demo_store: Path) -> None:
    """Two runs with the same seed write the same events, position by position."""
    again = tmp_path / "again.db"
    assert warmcase("demo", "--store", str(again)).returncode == 0

    def events(path: Path) -> list[tuple[object, ...]]:
        return (
            sqlite3.connect(path)
            .execute("SELECT topic, originator_version FROM stored_events ORDER BY rowid")
            .fetchall()
        )

    assert events(again) == events(demo_store)


def test_the_city_scale_writes_about_the_events_asked_for(tmp_path: Path) -> None:
    """`--scale city --events N` writes a city-wide season of about N events, with a summary."""
    path = tmp_path / "city.db"
    result = warmcase("demo", "--scale", "city", "--events", "3000", "--store", str(path))
    assert result.returncode == 0, result.stderr
    stored = sqlite3.connect(path).execute("SELECT count(*) FROM stored_events").fetchone()[0]
    assert 0.75 * 3000 <= stored <= 1.25 * 3000
    assert f"{stored:,} events appended" in result.stdout


def test_the_demo_refuses_to_write_into_a_server(tmp_path: Path) -> None:
    """A URL store is a usage error (exit 2): the demo only ever replaces a SQLite file."""
    result = warmcase("demo", "--store", "postgresql://nobody@localhost/books")
    assert result.returncode == 2
    assert "fresh SQLite file" in result.stderr
