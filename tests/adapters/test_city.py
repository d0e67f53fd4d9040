"""The city-scale season (`warmcase demo --scale city`) is valid and written as in production."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import pytest

import warmcase
from warmcase.domain import household, lot, visit
from warmcase_adapters import city


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Counter[str]]:
    """A generated store of about 5,000 events."""
    path = tmp_path_factory.mktemp("bench") / "season.db"
    appended, refused = city.generate(path, events=5_000, seed=7)
    return path, appended, refused


def test_about_the_asked_number_of_events_is_appended(
    store: tuple[Path, int, Counter[str]],
) -> None:
    """The store holds every appended event, within 25% of the number asked for."""
    path, appended, _ = store
    connection = sqlite3.connect(path)
    stored = connection.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    connection.close()
    assert stored == appended
    assert 3_750 <= appended <= 6_250


def test_commands_are_almost_never_refused(store: tuple[Path, int, Counter[str]]) -> None:
    """The season is built to be valid: a refusal is rare (and appends nothing)."""
    _, appended, refused = store
    assert sum(refused.values()) <= appended // 500


def test_every_event_has_a_recorded_time_advancing_through_the_season(
    store: tuple[Path, int, Counter[str]],
) -> None:
    """One time-index row per event, recorded times monotonic and never before effect."""
    path, _, _ = store
    connection = sqlite3.connect(path)
    rows = connection.execute(
        "SELECT e.rowid, t.recorded_at, t.effective_at FROM stored_events AS e "
        "JOIN warmcase_event_times AS t ON t.position = e.rowid ORDER BY e.rowid"
    ).fetchall()
    stored = connection.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    connection.close()
    assert len(rows) == stored
    recorded = [row[1] for row in rows]
    assert recorded == sorted(recorded)
    assert all(effective <= at for _, at, effective in rows)
    days = (recorded[-1] - recorded[0]) / 86_400e6
    assert days > 100  # mid-November to March
    late = sum(1 for _, at, effective in rows if at - effective > 600e6)
    assert 0 < late < len(rows) // 10  # a few deliberate late entries, not every batch


def test_the_store_opens_and_its_records_load_as_commands_left_them(
    store: tuple[Path, int, Counter[str]],
) -> None:
    """Households are enrolled and paid, visits delivered, lots on the books; keys unseal."""
    path, _, _ = store
    app = warmcase.open(f"sqlite:///{path}")
    try:
        first = app.load(household.KIND, "H-01-00001")
        assert first is not None
        assert "SF-2027-01" in first.enrollments
        assert str(first.members[0].name).startswith("户主")
        delivered = app.load(visit.KIND, "V-01-00000")
        assert delivered.status in (visit.COMPLETED, visit.CANCELLED)
        quilts = app.load(lot.KIND, "L-01-QUILT-1")
        assert quilts.accepted > 0
        assert quilts.available >= 0
    finally:
        app.close()


def test_the_season_has_every_kind_of_record(store: tuple[Path, int, Counter[str]]) -> None:
    """Surveys to erasures: each activity of the season leaves its events."""
    path, _, _ = store
    connection = sqlite3.connect(path)
    topics = {row[0] for row in connection.execute("SELECT DISTINCT topic FROM stored_events")}
    connection.close()
    assert {
        "campaign.opened",
        "campaign.cold_wave_warned",
        "household.surveyed",
        "household.enrolled",
        "household.aid_paid",
        "household.merged_into",
        "household.erased",
        "lot.received",
        "lot.inspected",
        "lot.issued",
        "lot.counted",
        "lot.written_off",
        "visit.completed",
        "visit.problem_assigned",
        "visit.audit_callback_recorded",
        "patrol.encounter_logged",
        "hotline.arrived",
    } <= topics
