"""Projections following the store: each event folded into a view exactly once.

A follower saves its view's state and position in one compare-and-set write, so a
process killed at any moment, or two followers racing on one view, still leave a
view equal to the fold of the whole log. Checked on a SQLite file and on a real
PostgreSQL server, with the application's commands writing the history.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pyrsistent import PMap, pmap

import warmcase
from tests.adapters.follower_worker import Applied, catch_up
from tests.clocks import ManualClock, at
from tests.scenario import CAMPAIGN, enrolled_household, open_campaign
from tests.strategies.stock_history import World
from warmcase.app import Warmcase
from warmcase.domain import lot
from warmcase.domain.household import HouseholdSurveyed
from warmcase.domain.lot import LotReleased
from warmcase.events import Envelope, Event
from warmcase.personal import Personal
from warmcase.projections.answering import brute_force
from warmcase.projections.audit_trail import AuditTrail
from warmcase.projections.basis import Basis
from warmcase.projections.coverage import Coverage
from warmcase.projections.duplicate_aid import DuplicateAid
from warmcase.projections.projection import Meta, Projection, on
from warmcase.projections.stock import StockLevels
from warmcase_adapters.follower import Follower, ProjectionFailed
from warmcase_adapters.history import StoreHistory, history_for
from warmcase_adapters.mapper import EventMapper
from warmcase_adapters.views import ViewStore, views_for

PHONE = "13800138000"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store: a SQLite file, or a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'books.db'}"
    found: str = request.getfixturevalue("postgres_url")
    return found


@pytest.fixture
def store(url: str, clock: ManualClock) -> Iterator[Warmcase]:
    """The application over the store at `url`."""
    app = warmcase.open(url, clock=clock)
    yield app
    app.close()


# ---------------------------------------------------------------- histories


def stock_lot(app: Warmcase, ref: str = "L-1", quantity: int = 10**6) -> None:
    """A lot of quilts received and accepted in full."""
    app.receive_lot(
        ref,
        donor="Xinhua Textiles Co.",
        item="quilt",
        unit="piece",
        quantity=quantity,
        warehouse="Gulou store",
        actor="keeper",
        effective_at=at(17, 9),
    )
    app.inspect_lot(ref, accepted=quantity, actor="inspector", effective_at=at(17, 10))


def reservations(app: Warmcase, count: int, *, first: int = 0, ref: str = "L-1") -> None:
    """`count` one-quilt reservations on lot `ref`, every fifth released again."""
    for number in range(first, first + count):
        app.reserve_lot(ref, reservation_id=f"R-{number}", quantity=1, for_ref="P-1", actor="k")
        if number % 5 == 4:
            app.release_lot(ref, reservation_id=f"R-{number}", actor="k")


def bulk_history(app: Warmcase, count: int) -> None:
    """Lot L-1 received, inspected and reserved `count` times (every fifth released), as
    the lot's own rules decide, stored 500 events per transaction: a long log, fast."""
    world = World(at(17, 9))
    world.attempt(
        lot.KIND,
        "L-1",
        lambda s: lot.receive(
            s,
            ref="L-1",
            donor="Donor",
            item="quilt",
            unit="piece",
            quantity=10**6,
            warehouse="W",
            actor="k",
            at=world.now,
        ),
    )
    world.attempt(
        lot.KIND, "L-1", lambda s: lot.inspect(s, accepted=10**6, actor="k", at=world.tick(1))
    )
    for number in range(count):
        reservation = f"R-{number}"
        world.tick(1)
        assert world.attempt(
            lot.KIND,
            "L-1",
            lambda s, r=reservation: lot.reserve(  # type: ignore[misc]
                s, reservation_id=r, quantity=1, for_ref="P-1", actor="k", at=world.now
            ),
        )
        if number % 5 == 4:
            assert world.attempt(
                lot.KIND,
                "L-1",
                lambda s, r=reservation: lot.release(s, reservation_id=r, actor="k", at=world.now),  # type: ignore[misc]
            )
    envelopes = [
        Envelope(originator_id=meta.stream_id, originator_version=meta.version, event=event)
        for event, meta in world.recorded
    ]
    for start in range(0, len(envelopes), 500):
        app.save(*envelopes[start : start + 500])


def season(app: Warmcase) -> None:
    """A campaign with three enrolled households, stock, two paid visits, a transfer,
    reservations and a count: events for every standard projection."""
    open_campaign(app)
    stock_lot(app, "L-QUILT", 12)
    app.receive_lot(
        "L-CASH",
        donor="Xinhua Textiles Co.",
        item="consolation money",
        unit="yuan",
        quantity=1_000_000,
        kind="cash",
        warehouse="Gulou store",
        actor="keeper",
        effective_at=at(17, 9),
    )
    for number in range(3):
        ref = f"H-000{number}"
        enrolled_household(
            app,
            ref,
            members=1,
            head_name=f"王{number}",
            head_id_number=f"35010219500101{number}23X",
        )
    for number in range(2):
        visit = f"V-000{number}"
        app.plan_visit(
            visit,
            campaign=CAMPAIGN,
            household=f"H-000{number}",
            team="Visit group 3",
            leader="Zhang Min",
            planned_on=date(2027, 1, 25),
            actor="office",
            effective_at=at(20),
        )
        app.complete_visit(
            visit,
            goods=[("L-QUILT", 1)],
            cash_fen=90_000,
            cash_lot="L-CASH",
            signed_by="1",
            signer_phone=PHONE,
            actor="zhang.min",
        )
    app.transfer_lot("L-QUILT", to_warehouse="Taijiang store", actor="keeper")
    reservations(app, 6, ref="L-QUILT")
    app.count_stock("L-QUILT", counted=9, reason="one quilt missing", actor="keeper")


def history(app: Warmcase) -> StoreHistory:
    """The history of `app`'s store, as projections read it."""
    assert isinstance(app.mapper, EventMapper)
    return history_for(app.recorder, app.mapper)


def everything(app: Warmcase, projection: Projection[Any]) -> list[tuple[Event, Meta]]:
    """Every event `projection` reads, as the history gives them."""
    log = history(app)
    return list(log.read(after=0, upto=log.last_position(), types=projection.reads))


def lot_positions(app: Warmcase, upto: int | None = None) -> tuple[int, ...]:
    """The positions of the events :class:`Applied` reads, up to `upto`."""
    return tuple(
        meta.position
        for _, meta in everything(app, Applied())
        if upto is None or meta.position <= upto
    )


def last_position(app: Warmcase) -> int:
    """The position of the last event in the store."""
    return history(app).last_position()


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> float:
    """Seconds until `condition` held; fails after `seconds`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.005)
    return time.monotonic() - started


# ---------------------------------------------------------------- the view is the fold


@pytest.mark.parametrize(
    "projection",
    [StockLevels(), Coverage(), DuplicateAid(), AuditTrail()],
    ids=lambda p: p.name,
)
def test_view_is_the_fold_of_the_history(store: Warmcase, projection: Projection[Any]) -> None:
    """After real commands, a followed view equals the projection's fold of everything it
    reads, and the brute-force answer at the last position."""
    season(store)
    follower = Follower(store, projection, batch_size=7)
    applied = follower.run_once()
    recorded = everything(store, projection)
    position, state = follower.view()
    last = last_position(store)
    assert (applied, position) == (len(recorded), last)
    assert state == projection.fold(recorded)
    at_last = recorded[-1][1].recorded_at
    assert state == brute_force(projection, recorded, Basis(last, at_last, at_last))
    assert follower.run_once() == 0


def test_a_memory_store_keeps_views_too(app: Warmcase) -> None:
    """On the ``memory:`` store views live beside its recorder: one view per store, shared
    by every follower of it, compare-and-set like the databases'."""
    season(app)
    first, second = Follower(app, StockLevels(), batch_size=5), Follower(app, StockLevels())
    assert first.run_once() == len(everything(app, StockLevels()))
    assert second.run_once() == 0
    assert second.view() == (last_position(app), StockLevels().fold(everything(app, StockLevels())))
    assert Follower(warmcase.open("memory:"), StockLevels()).view()[0] == 0


def test_catching_up_saves_once_per_batch(store: Warmcase) -> None:
    """run_once folds in batches of `batch_size` events and saves after each, so the view
    moves in steps a crash can only ever roll back to."""
    stock_lot(store)
    reservations(store, 10)
    saves: list[int] = []
    views = views_for(store.recorder)

    class Counting:
        def load(self, name: str) -> tuple[int, bytes] | None:
            return views.load(name)

        def save(self, name: str, *, expected: int | None, position: int, state: bytes) -> bool:
            saves.append(position)
            return views.save(name, expected=expected, position=position, state=state)

    counting: ViewStore = Counting()
    follower = Follower(store, Applied(), batch_size=4, views=counting)
    assert follower.run_once() == 14
    assert saves == [4, 8, 12, 14]
    assert follower.view() == (14, lot_positions(store))


def test_a_new_version_of_the_rules_starts_afresh(store: Warmcase) -> None:
    """Views are kept per version of the rules: bumping the version folds from the start."""

    class AppliedV2(Applied):
        version = 2

    stock_lot(store)
    reservations(store, 3)
    Follower(store, Applied()).run_once()
    renewed = Follower(store, AppliedV2())
    assert renewed.view() == (0, ())
    assert renewed.run_once() == 5
    assert renewed.view() == Follower(store, Applied()).view()


# ---------------------------------------------------------------- crashes and races


@pytest.mark.slow
def test_a_follower_killed_mid_catch_up_resumes_exactly_once(url: str) -> None:
    """A follower process SIGKILLed three times while catching up over 2,500 events leaves
    each time a view equal to the fold up to its saved position; the restarted follower
    ends with every event folded exactly once."""
    app = warmcase.open(url, clock=ManualClock())
    bulk_history(app, 2_085)
    last = last_position(app)
    assert last >= 2_500
    watcher = Follower(app, Applied())
    views = views_for(app.recorder)
    # Small batches on PostgreSQL, whose commits are quicker, so a kill lands mid-way.
    batch_size = 2 if url.startswith("postgresql") else 10
    context = multiprocessing.get_context("spawn")

    def saved_position() -> int:
        found = views.load(watcher.name)
        return 0 if found is None else found[0]

    for kill in (1, 2, 3):
        child = context.Process(target=catch_up, args=(url, batch_size))
        child.start()
        # Killed once past a quarter, a half, three quarters of the log.
        wait_for(lambda kill=kill: saved_position() >= kill * last // 4, seconds=30)  # type: ignore[misc]
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        position, state = watcher.view()
        assert position < last, "the follower finished before it was killed"
        assert state == lot_positions(app, upto=position)
    catch_up(url, batch_size)
    assert watcher.view() == (last, lot_positions(app))
    app.close()


class SlowSaves:
    """A store's views whose saves take a moment longer, as on a busy disk, counting the
    saves refused because another follower saved first."""

    def __init__(self, views: ViewStore) -> None:
        self.views = views
        self.refused = 0

    def load(self, name: str) -> tuple[int, bytes] | None:
        return self.views.load(name)

    def save(self, name: str, *, expected: int | None, position: int, state: bytes) -> bool:
        time.sleep(0.002)
        saved = self.views.save(name, expected=expected, position=position, state=state)
        self.refused += not saved
        return saved


def test_two_followers_racing_fold_each_event_once(url: str) -> None:
    """Two followers of one view, in two threads over two connections, catching up at
    once: saves are refused to whichever was second, and still the view ends as the fold
    of the log and the events they report folding add up to the log, each counted once."""
    setup = warmcase.open(url, clock=ManualClock())
    bulk_history(setup, 400)
    setup.close()
    apps = [warmcase.open(url, clock=ManualClock()) for _ in range(2)]
    views = [SlowSaves(views_for(app.recorder)) for app in apps]
    followers = [
        Follower(app, Applied(), batch_size=3, views=slow)
        for app, slow in zip(apps, views, strict=True)
    ]
    start = threading.Barrier(2)
    applied: list[int] = []

    def follow(follower: Follower[Any]) -> None:
        start.wait()
        applied.append(follower.run_once())

    threads = [threading.Thread(target=follow, args=(f,)) for f in followers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    expected = lot_positions(apps[0])
    assert followers[0].view() == (last_position(apps[0]), expected)
    assert sum(applied) == len(expected)
    assert sum(slow.refused for slow in views) > 0, "the followers never raced"
    for app in apps:
        app.close()


def test_a_follower_that_lost_the_race_goes_on_from_the_winner(store: Warmcase) -> None:
    """A follower whose cached view is stale has its save refused, reloads the view the
    other saved and folds nothing twice."""
    stock_lot(store)
    reservations(store, 3)
    slow, fast = Follower(store, Applied()), Follower(store, Applied())
    assert slow.run_once() == 5
    reservations(store, 3, first=3)  # and its release
    assert fast.run_once() == 4
    assert slow.run_once() == 0
    reservations(store, 1, first=6)
    assert slow.run_once() == 1
    assert fast.view() == (last_position(store), lot_positions(store))


# ---------------------------------------------------------------- following live


def test_new_events_are_picked_up_while_following(
    url: str, store: Warmcase, clock: ManualClock
) -> None:
    """A running follower folds events appended after it caught up: on PostgreSQL woken by
    NOTIFY (its polling is set to 30 s, so only the notification can explain a prompt
    pick-up), on SQLite by polling."""
    stock_lot(store)
    reservations(store, 5)
    postgres = url.startswith("postgresql")
    follower = Follower(store, Applied())
    stop = threading.Event()
    failures: list[BaseException] = []

    def follow() -> None:
        try:
            follower.run(stop, poll_seconds=30.0 if postgres else 0.05)
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    thread = threading.Thread(target=follow)
    thread.start()
    try:
        wait_for(lambda: follower.view()[0] == last_position(store))
        time.sleep(0.2)  # the follower is waiting now
        for number in range(3):
            reservations(store, 1, first=100 + number)
            waited = wait_for(lambda: follower.view()[0] == last_position(store), seconds=5)
            assert waited < 2.0
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert not failures
    assert follower.view() == (last_position(store), lot_positions(store))


# ---------------------------------------------------------------- failures


class NoReleases(Applied):
    """Refuses to fold a release: a rule with a bug."""

    name = "test.no_releases"

    @on(LotReleased)
    def released(self, state: tuple[int, ...], event: LotReleased, meta: Meta) -> tuple[int, ...]:
        msg = f"cannot fold release {event.reservation_id}"
        raise ValueError(msg)


def test_a_failing_rule_stops_at_the_last_good_batch(store: Warmcase) -> None:
    """A rule that raises stops the follower with ProjectionFailed naming the projection,
    the position and the event type; the view stays at the last batch saved before it,
    and following again fails the same way instead of skipping the event."""
    stock_lot(store)
    reservations(store, 5)  # positions 3-7 reserved, 8 the release of R-4
    follower = Follower(store, NoReleases(), batch_size=3)
    with pytest.raises(ProjectionFailed) as failed:
        follower.run_once()
    error = failed.value
    assert (error.projection, error.position, error.event_type) == (
        "test.no_releases@v1",
        8,
        "lot.released",
    )
    assert "position 8" in str(error)
    assert "lot.released" in str(error)
    assert "cannot fold release R-4" in str(error)
    assert isinstance(error.__cause__, ValueError)
    assert follower.view() == (6, (1, 2, 3, 4, 5, 6))
    with pytest.raises(ProjectionFailed):
        follower.run(threading.Event(), poll_seconds=0.01)
    assert follower.view()[0] == 6


# ---------------------------------------------------------------- personal data


class Phones(Projection[PMap[str, Personal]]):
    """Each household's phone number, a personal value."""

    name = "test.phones"

    def initial(self) -> PMap[str, Personal]:
        return pmap()

    @on(HouseholdSurveyed)
    def surveyed(
        self, state: PMap[str, Personal], event: HouseholdSurveyed, meta: Meta
    ) -> PMap[str, Personal]:
        return state.set(event.ref, event.phone)


def test_personal_values_in_a_view_stay_sealed(tmp_path: Path) -> None:
    """A view's state is kept through the application's codec: personal values are sealed
    under their subject's key in the views table, and read as erased once it is gone."""
    app = warmcase.open(f"sqlite:///{tmp_path / 'books.db'}", clock=ManualClock())
    open_campaign(app)
    enrolled_household(app, "H-0001", phone=PHONE)
    follower = Follower(app, Phones())
    follower.run_once()
    assert follower.view()[1]["H-0001"].value == PHONE
    with sqlite3.connect(tmp_path / "books.db") as raw:
        (stored,) = raw.execute("SELECT state FROM warmcase_views").fetchone()
    assert PHONE.encode() not in stored
    app.erase_household("H-0001", reason="request of the household", actor="office")
    # The follower still holds the phone in memory: saving it must not make a new key.
    follower.run_once()
    assert follower.view()[1]["H-0001"].value is None
    assert app.keyring.key_for("household:H-0001", create=False) is None
    app.close()
