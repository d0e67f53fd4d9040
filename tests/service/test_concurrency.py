"""Two real processes racing at the same household and lot never break the rules.

Each process opens the same store and, after a common start signal, tries to pay the
same household through its own visits and to take quilts from the same lot until the
shelf is empty. Whatever the interleaving, the household is paid exactly once, the
lot never goes below zero, and every acknowledged command is in the log.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from datetime import date
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import cast

import pytest

import warmcase
from tests.clocks import ManualClock
from tests.scenario import CAMPAIGN, enrolled_household, open_campaign
from warmcase.domain import household, lot
from warmcase.errors import CommandRefused, ConcurrencyConflict

VISITS_EACH = 10
STOCK = 200


def prepare(url: str) -> None:
    """A campaign, one enrolled household with visits planned by two teams, one stocked lot."""
    app = warmcase.open(url, clock=ManualClock())
    open_campaign(app)
    enrolled_household(app, "H-0001")
    for team in ("a", "b"):
        for number in range(VISITS_EACH):
            app.plan_visit(
                f"V-{team}{number}",
                campaign=CAMPAIGN,
                household="H-0001",
                team=f"Team {team}",
                leader="Li",
                planned_on=date(2027, 1, 25),
                actor="office",
            )
    app.receive_lot(
        "L-1",
        donor="Donor",
        item="quilt",
        unit="piece",
        quantity=STOCK,
        warehouse="W",
        actor="store",
    )
    app.inspect_lot("L-1", accepted=STOCK, actor="store")
    app.close()


def race(url: str, team: str, start: Barrier, results: multiprocessing.Queue[object]) -> None:
    """One writer process: pay the household, then drain the lot one quilt at a time."""
    app = warmcase.open(url, clock=ManualClock())
    paid = issued = conflicts = 0
    # Both writers have opened the store before either writes.
    start.wait()
    for number in range(VISITS_EACH):
        try:
            app.complete_visit(
                f"V-{team}{number}",
                cash_fen=55_000,
                signed_by="1",
                signer_phone="13800138000",
                actor=f"team.{team}",
            )
            paid += 1
        except ConcurrencyConflict:
            conflicts += 1
        except CommandRefused:
            pass
    while True:
        try:
            app.issue_lot("L-1", quantity=1, channel="distribution", to=f"point-{team}", actor=team)
            issued += 1
            # A pause, as between real users' commands: SQLite's busy wait is not fair, and
            # a writer committing back to back could starve the other of the lock.
            time.sleep(0.003)
        except ConcurrencyConflict:
            conflicts += 1
        except CommandRefused:
            break
    app.close()
    results.put((paid, issued, conflicts))


def run_race(url: str) -> list[tuple[int, int, int]]:
    """Prepare the store, run two writer processes at once, and return what each saw."""
    prepare(url)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results: multiprocessing.Queue[object] = context.Queue()
    writers = [context.Process(target=race, args=(url, team, start, results)) for team in "ab"]
    for writer in writers:
        writer.start()
    outcomes = [cast(tuple[int, int, int], results.get(timeout=300)) for _ in writers]
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    # Both must have done some of the work, or the test raced nothing.
    assert all(issued > 0 for _, issued, _ in outcomes), outcomes
    return outcomes


def check_books(url: str, outcomes: list[tuple[int, int, int]]) -> None:
    """The rules held, and the log holds exactly what was acknowledged."""
    app = warmcase.open(url)
    paid = sum(o[0] for o in outcomes)
    issued = sum(o[1] for o in outcomes)
    assert paid == 1, outcomes
    assert app.load(household.KIND, "H-0001").paid_fen(CAMPAIGN) == 55_000
    stock = app.load(lot.KIND, "L-1")
    assert issued == STOCK, outcomes
    assert stock.available == 0
    topics = []
    position = 0
    while page := app.recorder.select_notifications(position + 1, 500):
        topics += [n.topic for n in page]
        position = page[-1].id
    assert topics.count("household.aid_paid") == 1
    assert topics.count("lot.issued") == STOCK
    app.close()


@pytest.mark.slow
def test_two_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    """Two processes writing one SQLite file pay the household once and never overdraw the lot."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    check_books(url, run_race(url))


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_on_postgresql(postgres_database_factory: Callable[[], str]) -> None:
    """Two processes writing one PostgreSQL database pay once and never overdraw the lot."""
    url = postgres_database_factory()
    check_books(url, run_race(url))
