"""Writer processes of the worker tests (spawned, so found by module name).

Every writer tries to pay the same households, each through its own visit with a
quilt from a shared lot, then takes from the shared lots one at a time until they
are empty. The rules allow one payment per household and no lot below zero, so
most of these commands are refused or lose a race and are decided again.
"""

from __future__ import annotations

import random
from datetime import date
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Lock

import warmcase
from tests.clocks import ManualClock
from tests.scenario import CAMPAIGN, enrolled_household, open_campaign
from warmcase.errors import CommandRefused, ConcurrencyConflict

WRITERS = 4
HOUSEHOLDS = [f"H-{n:04d}" for n in range(6)]
LOTS = ("L-A", "L-B")
STOCK = 40
PAYMENT_FEN = 55_000
"""The one-person minimum-allowance tier: what each household may be paid, once."""


def visit(household: str, writer: int) -> str:
    """The visit writer `writer` planned to `household`."""
    return f"V-{household}-{writer}"


def prepare(url: str) -> None:
    """The campaign, the households enrolled, a visit per writer to each, the shared lots."""
    app = warmcase.open(url, clock=ManualClock())
    open_campaign(app)
    for number, household in enumerate(HOUSEHOLDS):
        enrolled_household(
            app, household, head_name=f"王{number}", head_id_number=f"35010219500101{number}23X"
        )
        for writer in range(WRITERS):
            app.plan_visit(
                visit(household, writer),
                campaign=CAMPAIGN,
                household=household,
                team=f"Team {writer}",
                leader="Li",
                planned_on=date(2027, 1, 25),
                actor="office",
            )
    for ref in LOTS:
        app.receive_lot(
            ref,
            donor="Donor",
            item="quilt",
            unit="piece",
            quantity=STOCK,
            warehouse="W",
            actor="store",
        )
        app.inspect_lot(ref, accepted=STOCK, actor="store")
    app.close()


def write(
    url: str, writer: int, start: Barrier, results: Queue[tuple[int, int, int]], opening: Lock
) -> None:
    """One writer: pay every household (in its own order), then drain the lots."""
    # One process opens at a time: opening a PostgreSQL store runs CREATE statements,
    # which the server may refuse to run concurrently ("tuple concurrently updated").
    # Every writer's "now" is the visit week; the store keeps recorded time monotonic.
    with opening:
        app = warmcase.open(url, clock=ManualClock())
    rng = random.Random(writer)
    paid = issued = conflicts = 0
    start.wait()
    for household in rng.sample(HOUSEHOLDS, len(HOUSEHOLDS)):
        try:
            app.complete_visit(
                visit(household, writer),
                goods=[(rng.choice(LOTS), 1)],
                cash_fen=PAYMENT_FEN,
                signed_by="1",
                signer_phone="13800138000",
                actor=f"team.{writer}",
            )
            paid += 1
        except ConcurrencyConflict:
            conflicts += 1
        except CommandRefused:
            pass
    open_lots = list(LOTS)
    while open_lots:
        ref = rng.choice(open_lots)
        try:
            app.issue_lot(ref, quantity=1, channel="distribution", to=f"point-{writer}", actor="w")
            issued += 1
        except ConcurrencyConflict:
            conflicts += 1
        except CommandRefused:
            open_lots.remove(ref)
    app.close()
    results.put((paid, issued, conflicts))
