"""`warmcase trail REF`: every event that touched a record, through the console script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.console import warmcase


def trail(store: Path, *arguments: str) -> dict[str, Any]:
    """A trail as JSON."""
    result = warmcase("trail", *arguments, "--format", "json", "--store", str(store))
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def test_a_household_trail_lists_every_event_with_both_clocks(demo_store: Path) -> None:
    """H-0001's trail: survey to payment in position order, the duplicate merged into it,
    each entry with recorded and effective time (Beijing), actor and a summary."""
    shown = trail(demo_store, "H-0001")
    assert shown["basis"]["position"] > 14_000
    entries = shown["tables"]["entries"]["rows"]
    positions = [entry["position"] for entry in entries]
    assert positions == sorted(positions)
    types = [entry["type"] for entry in entries]
    assert types[0] == "household.surveyed"
    assert "household.duplicate_absorbed" in types
    assert types.count("household.aid_paid") == 1
    paid = entries[types.index("household.aid_paid")]
    assert paid["recorded_at"].endswith("+08:00")
    assert paid["effective_at"].startswith("2027-01-")
    assert paid["actor"].startswith("team.")
    assert "paid 700.00 yuan in campaign SF-2027" in paid["summary"]


def test_the_trail_as_of_an_earlier_day_stops_there_and_shows_late_corrections(
    demo_store: Path,
) -> None:
    """As of 29 January the corrected household's trail ends before the backdated update,
    which today's trail shows recorded on 30 January, effective on 10 January, with its reason."""
    now = trail(demo_store, "H-0003")["tables"]["entries"]["rows"]
    (late,) = [entry for entry in now if entry["type"] == "household.circumstances_updated"]
    assert late["recorded_at"].startswith("2027-01-30")
    assert late["effective_at"].startswith("2027-01-10")
    assert late["reason"] == "veteran status confirmed late"
    before = trail(demo_store, "H-0003", "--as-of", "2027-01-29")
    assert before["basis"]["position"] < late["position"]
    assert before["tables"]["entries"]["rows"] == [
        entry for entry in now if entry["position"] <= before["basis"]["position"]
    ]


def test_the_terminal_trail_shows_the_basis_and_summaries(demo_store: Path) -> None:
    """The default table names the record, the basis and each event's summary."""
    result = warmcase("trail", "L-OIL-1", "--store", str(demo_store))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "Audit trail of L-OIL-1" in text
    assert "as of position" in text
    assert "lot.written_off" in text


def test_an_unknown_reference_exits_1_with_a_clear_message(demo_store: Path) -> None:
    """Nothing touches the reference: exit 1, and stderr says so."""
    result = warmcase("trail", "H-NOPE", "--store", str(demo_store))
    assert result.returncode == 1
    assert "nothing in the books touches 'H-NOPE'" in " ".join(result.stderr.split())
