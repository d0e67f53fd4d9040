"""`warmcase export events`: the history as JSON lines, through the console script."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import warmcase
from tests.cli.console import copy_store
from tests.cli.console import warmcase as run
from warmcase.personal import ERASED_TEXT


def test_the_export_has_every_event_in_order_with_its_fields(
    demo_store: Path, tmp_path: Path
) -> None:
    """One line per stored event, in position order, with type, reference, both clocks,
    actor and the fields as plain JSON (fen as integers, dates as ISO text)."""
    output = tmp_path / "events.jsonl"
    result = run(
        "export", "events", "--format", "jsonl", "--output", str(output), "--store", str(demo_store)
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    stored = sqlite3.connect(demo_store).execute("SELECT count(*) FROM stored_events").fetchone()[0]
    assert len(lines) == stored
    assert [line["position"] for line in lines] == list(range(1, stored + 1))
    assert f"exported {stored:,} events" in " ".join(result.stderr.split())
    first = lines[0]
    assert (first["type"], first["ref"], first["version"]) == ("campaign.opened", "SF-2027", 1)
    assert first["fields"]["starts_on"] == "2026-11-15"
    paid = next(line for line in lines if line["type"] == "household.aid_paid")
    assert set(paid) == {
        "position",
        "type",
        "ref",
        "stream_id",
        "version",
        "recorded_at",
        "effective_at",
        "actor",
        "fields",
    }
    assert isinstance(paid["fields"]["amount_fen"], int)
    assert paid["fields"]["campaign"] == "SF-2027"


def test_as_of_a_position_exports_the_history_up_to_it_on_stdout(demo_store: Path) -> None:
    """--as-of 100 writes exactly the first hundred events."""
    result = run("export", "events", "--as-of", "100", "--store", str(demo_store))
    assert result.returncode == 0, result.stderr
    positions = [json.loads(line)["position"] for line in result.stdout.splitlines()]
    assert positions == list(range(1, 101))


def test_personal_values_of_an_erased_household_read_as_erased(
    demo_store: Path, tmp_path: Path
) -> None:
    """After an erasure the household's names export as the erasure marker, never as sealed
    bytes; other households' names still read."""
    store = copy_store(demo_store, tmp_path)
    app = warmcase.open(f"sqlite:///{store}")
    try:
        app.erase_household("H-0005", reason="request of the household", actor="office.chen")
    finally:
        app.close()
    result = run("export", "events", "--store", str(store))
    assert result.returncode == 0, result.stderr
    surveys = {
        line["ref"]: line["fields"]
        for line in map(json.loads, result.stdout.splitlines())
        if line["type"] == "household.surveyed"
    }
    erased = surveys["H-0005"]
    assert erased["members"][0]["name"] == ERASED_TEXT
    assert erased["phone"] == ERASED_TEXT
    assert surveys["H-0004"]["members"][0]["name"] == "户主0004"
