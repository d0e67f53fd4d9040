"""Projection workers and PostgreSQL as the shared store.

A worker keeps several views current in one read of the history per window, each
view saved compare-and-set with its position, so workers racing on one store, or
killed and restarted, still leave every view equal to a full rebuild. Lag is counted
in events and in recorded time. And an application over PostgreSQL answers every
command and question exactly as one over SQLite (and the in-memory reference).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

import warmcase
from tests.adapters import worker_writers as writers
from tests.adapters.worker_probe import PROBE_VARIABLE, Folded, SlowFolded
from tests.adapters.worker_season import ID_NUMBERS, play
from tests.clocks import ManualClock, at
from tests.scenario import CAMPAIGN
from warmcase.app import Warmcase
from warmcase.domain import hotline, household, lot, patrol, visit
from warmcase.domain.lot import LotIssued
from warmcase.domain.stream import Kind
from warmcase.errors import StoreError
from warmcase.events import Event
from warmcase.projections.answering import brute_force
from warmcase.projections.basis import Basis
from warmcase.projections.plain import plain
from warmcase.projections.projection import Meta, Projection
from warmcase.service.queries import STANDARD
from warmcase_adapters.history import StoreHistory, history_for
from warmcase_adapters.mapper import EventMapper
from warmcase_adapters.worker import (
    View,
    Worker,
    lag,
    projection_named,
    projections_named,
    read_view,
    status_table,
)

ROOT = Path(__file__).resolve().parents[2]
FOLLOWED: list[Projection[Any]] = [*STANDARD, Folded()]


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


def history(app: Warmcase) -> StoreHistory:
    """The history of `app`'s store, as projections read it."""
    assert isinstance(app.mapper, EventMapper)
    return history_for(app.recorder, app.mapper)


def everything(app: Warmcase, types: frozenset[str] | None = None) -> list[tuple[Event, Meta]]:
    """Every event in the store (of `types` if given), as the history gives them."""
    log = history(app)
    return list(log.read(after=0, upto=log.last_position(), types=types))


def rebuilt(app: Warmcase, projection: Projection[Any]) -> View[Any]:
    """The view a full rebuild gives: the fold of everything the projection reads,
    checked against the brute-force answer at the last position."""
    recorded = everything(app, projection.reads)
    last = history(app).last_position()
    state = projection.fold(recorded)
    if recorded:
        at_last = history(app).recorded_at(last)
        assert at_last is not None
        assert state == brute_force(projection, recorded, Basis(last, at_last, at_last))
    return View(projection.checkpoint_name, last, state)


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> float:
    """Seconds until `condition` held; fails after `seconds`."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def worker_process(url: str, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """``python -m warmcase_adapters.worker`` on `url`, logging to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "warmcase_adapters.worker", "--store", url, *args],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )


def projection_arguments(projections: list[Projection[Any]]) -> list[str]:
    """The --projection options naming `projections`: standard ones by name, others by class."""
    arguments = []
    for projection in projections:
        if projection in STANDARD:
            name = projection.name
        else:
            name = f"{type(projection).__module__}:{type(projection).__name__}"
        arguments += ["--projection", name]
    return arguments


# ---------------------------------------------------------------- views equal a rebuild


def test_every_view_equals_a_rebuild(store: Warmcase, clock: ManualClock) -> None:
    """After a season of every command, one worker pass in small windows leaves each view
    (the four standard ones and one noting every position it folds) equal to a full
    rebuild; every event is folded once, and a second pass folds nothing."""
    play(store, clock)
    worker = Worker(store, FOLLOWED, batch_size=7)
    applied = worker.run_once()
    for projection in FOLLOWED:
        assert read_view(store, projection) == rebuilt(store, projection), projection.name
    positions = [meta.position for _, meta in everything(store)]
    assert read_view(store, Folded()).state == tuple(positions)
    assert applied == sum(len(everything(store, p.reads)) for p in FOLLOWED)
    assert worker.run_once() == 0


def test_a_view_ahead_of_the_others_is_not_folded_twice(
    store: Warmcase, clock: ManualClock
) -> None:
    """Views at different positions share one read: each folds only what it lacks."""
    play(store, clock)
    Worker(store, [Folded()], batch_size=5).run_once()
    clock.advance(timedelta(hours=1))
    store.reserve_lot("L-QUILT", reservation_id="R-9", quantity=1, for_ref="V-9", actor="k")
    Worker(store, [*STANDARD, Folded()], batch_size=5).run_once()
    assert read_view(store, Folded()) == rebuilt(store, Folded())
    assert read_view(store, STANDARD[0]) == rebuilt(store, STANDARD[0])


def test_stopping_saves_the_batch_in_hand(store: Warmcase, clock: ManualClock) -> None:
    """A worker told to stop folds no further than the window in hand, and saves it."""
    play(store, clock)
    stop = threading.Event()
    stop.set()
    Worker(store, [Folded()], batch_size=10).run_once(stop)
    view = read_view(store, Folded())
    positions = [meta.position for _, meta in everything(store)]
    assert 0 < view.position < positions[-1]
    assert view.state == tuple(p for p in positions if p <= view.position)


# ---------------------------------------------------------------- lag and reading views


def reservations(app: Warmcase, clock: ManualClock, count: int, first: int = 0) -> None:
    """`count` one-quilt reservations of lot L-1, a minute apart."""
    for number in range(first, first + count):
        clock.advance(timedelta(minutes=1))
        app.reserve_lot("L-1", reservation_id=f"R-{number}", quantity=1, for_ref="V", actor="k")


def test_lag_in_events_and_recorded_time(store: Warmcase, clock: ManualClock) -> None:
    """Lag counts the events after a view's position and the recorded time from it to the
    head; a view never saved is behind by everything since the first event."""
    store.receive_lot(
        "L-1", donor="D", item="quilt", unit="piece", quantity=50, warehouse="W", actor="k"
    )
    store.inspect_lot("L-1", accepted=50, actor="k")  # two events, both recorded at TEST_NOW
    reservations(store, clock, 3)
    stock = STANDARD[0]
    (never,) = lag(store, [stock])
    assert (never.view, never.head, never.position, never.events_behind) == ("stock@v1", 5, 0, 5)
    assert never.seconds_behind == 180.0
    worker = Worker(store, [stock, Folded()])
    worker.run_once()
    assert [(r.events_behind, r.seconds_behind) for r in worker.lag()] == [(0, 0.0), (0, 0.0)]
    clock.advance(timedelta(minutes=10))
    reservations(store, clock, 2, first=3)  # 11 and 12 minutes after the last view
    assert [(r.position, r.events_behind, r.seconds_behind) for r in worker.lag()] == [
        (5, 2, 720.0),
        (5, 2, 720.0),
    ]
    assert [r.view for r in lag(store)] == [
        "audit_trail@v2",
        "coverage@v1",
        "duplicate_aid@v1",
        "stock@v1",
        "test.folded@v1",
    ]
    table = status_table(worker.lag())
    assert table.splitlines()[0].split() == [
        "view",
        "position",
        "head",
        "events",
        "behind",
        "seconds",
        "behind",
    ]
    assert "stock@v1" in table
    assert "2 events and 720.0 s behind" in worker.lag()[0].line()


def test_any_process_reads_a_view_or_the_view_made_current(
    url: str, store: Warmcase, clock: ManualClock
) -> None:
    """Another application over the store reads a view as saved (position and decoded
    state, personal values open), or made current by folding the tail in memory."""
    play(store, clock)
    Worker(store, STANDARD).run_once()
    clock.advance(timedelta(hours=1))
    store.reserve_lot("L-QUILT", reservation_id="R-8", quantity=1, for_ref="V-8", actor="k")
    other = warmcase.open(url)
    try:
        for projection in STANDARD:
            saved = read_view(other, projection)
            current = read_view(other, projection, current=True)
            assert current == rebuilt(other, projection)
            assert saved.position == current.position - 1
        assert (
            read_view(other, STANDARD[0]).state != read_view(other, STANDARD[0], current=True).state
        )
    finally:
        other.close()


def test_projections_are_chosen_by_name() -> None:
    """Standard projections by name, others as module:Class; each once; the four standard
    ones when none is named; anything else refused with the choices."""
    assert projections_named([]) == list(STANDARD)
    chosen = projections_named(["stock", "tests.adapters.worker_probe:Folded", "stock"])
    assert [p.checkpoint_name for p in chosen] == ["stock@v1", "test.folded@v1"]
    assert projection_named("audit_trail") is STANDARD[3]
    with pytest.raises(StoreError, match="name one of stock, coverage, duplicate_aid"):
        projection_named("stocks")
    with pytest.raises(StoreError, match="cannot load"):
        projection_named("tests.adapters.worker_probe:Missing")
    with pytest.raises(StoreError, match="not a Projection"):
        projection_named("tests.adapters.worker_probe:PROBE_VARIABLE")


# ---------------------------------------------------------------- waking up


@pytest.mark.postgres
def test_a_lost_notification_is_made_up_by_polling(postgres_url: str, clock: ManualClock) -> None:
    """On PostgreSQL a running worker is woken by NOTIFY (its poll is long, so only the
    notification explains a prompt pick-up); when its listening connection is cut, the
    periodic poll still picks new events up, and it listens again."""
    app = warmcase.open(postgres_url, clock=clock)
    app.receive_lot(
        "L-1", donor="D", item="quilt", unit="piece", quantity=50, warehouse="W", actor="k"
    )
    app.inspect_lot("L-1", accepted=50, actor="k")
    worker = Worker(app, [Folded()], poll_seconds=1.5)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:

        def current() -> bool:
            return read_view(app, Folded()).position == history(app).last_position()

        wait_for(current)
        time.sleep(0.3)
        reservations(app, clock, 1)
        assert wait_for(current) < 1.0  # woken, not polled
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%%'"
            ).fetchall()
        assert cut == [(True,)]
        reservations(app, clock, 1, first=1)
        assert wait_for(current, seconds=10) < 5.0  # polled
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert read_view(app, Folded()) == rebuilt(app, Folded())
    app.close()


# ---------------------------------------------------------------- PostgreSQL behaves as SQLite


def decoded(app: Warmcase) -> list[tuple[Any, ...]]:
    """The whole history: each event with its stream, version and recorded time."""
    return [
        (meta.position, meta.stream_id, meta.version, meta.recorded_at, plain(event))
        for event, meta in everything(app)
    ]


def comparable(app: Warmcase, value: Any) -> Any:
    """`value` as plain JSON values, each ID-number digest (keyed by the store's own
    secret, so different in every store) replaced by the number it is the digest of."""
    text = json.dumps(plain(value), ensure_ascii=False, sort_keys=True)
    for number in ID_NUMBERS:
        text = text.replace(app.keyring.id_digest(number), f"digest of {number}")
    return json.loads(text)


def answers(app: Warmcase) -> dict[str, Any]:
    """Every question of the season's books, now and at earlier bases, as plain values."""
    bases: list[dict[str, Any]] = [
        {},
        {"as_of": 20},
        {"as_of": 45},
        {"as_of": date(2027, 1, 25)},
        {"effective": date(2027, 1, 20)},
        {"as_of": 60, "effective": at(18, 12)},
    ]
    found: dict[str, Any] = {}
    for number, basis in enumerate(bases):
        found[f"stock {number}"] = app.stock(**basis).to_dict()
        found[f"stock Gulou {number}"] = app.stock(warehouse="Gulou store", **basis).to_dict()
        found[f"coverage {number}"] = app.coverage(CAMPAIGN, **basis).to_dict()
        found[f"duplicates {number}"] = app.duplicate_aid(CAMPAIGN, **basis).to_dict()
        for ref in ("H-1", "H-2", "H-3", "L-RICE", "V-1", "P-1", "HC-1"):
            found[f"trail {ref} {number}"] = app.audit_trail(ref, **basis).to_dict()
        found[f"query {number}"] = app.query(Folded(), **basis).to_dict()
    found["sources"] = [entry.to_dict() for entry in app.sources([1, 5, 30])]
    records: dict[Kind[Any], tuple[str, ...]] = {
        household.KIND: ("H-1", "H-2", "H-3", "H-4"),
        lot.KIND: ("L-QUILT", "L-COAT", "L-CASH", "L-RICE"),
        visit.KIND: ("V-1", "V-2", "V-3", "V-4", "V-9"),
        patrol.KIND: ("P-1", "P-2"),
        hotline.KIND: ("HC-1",),
    }
    found["records"] = [app.load(kind, ref) for kind, refs in records.items() for ref in refs]
    assert all(found["records"])
    rebuild = app.rebuild()
    found["rebuild events"] = rebuild.events
    found["after rebuild"] = app.coverage(CAMPAIGN, as_of=45).to_dict()
    return found


def season_on(url: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]], dict[str, Any]]:
    """The season played on a fresh store at `url`: outcomes, history and answers."""
    clock = ManualClock()
    app = warmcase.open(url, clock=clock)
    try:
        outcomes = play(app, clock)
        return outcomes, comparable(app, decoded(app)), comparable(app, answers(app))
    finally:
        app.close()


@pytest.fixture(scope="module")
def reference() -> tuple[list[tuple[str, str]], list[tuple[Any, ...]], dict[str, Any]]:
    """The season on the in-memory store: the reference the databases must match."""
    return season_on("memory:")


def test_every_command_and_question_behaves_as_on_the_reference(
    url: str,
    reference: tuple[list[tuple[str, str]], list[tuple[Any, ...]], dict[str, Any]],
) -> None:
    """Every command of the application (each accepted or refused alike), the history it
    writes (positions, streams, recorded times, decoded events, an erasure included),
    every report at several (as_of, effective) bases, the drill-down, loaded records and
    a rebuild are the same on SQLite and on PostgreSQL as on the in-memory reference."""
    outcomes, events, found = season_on(url)
    expected_outcomes, expected_events, expected = reference
    assert outcomes == expected_outcomes
    commands = {name for name, outcome in outcomes if outcome == "ok"}
    assert len(commands) > 35
    assert Counter(outcome for _, outcome in outcomes)["ok"] == len(outcomes) - 9
    assert events == expected_events
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        assert found[key] == value, key


# ---------------------------------------------------------------- many processes


def lot_issues(app: Warmcase) -> Counter[str]:
    """Units issued from each lot, by the log."""
    issued: Counter[str] = Counter()
    for event, _ in everything(app, frozenset({LotIssued.type_name})):
        assert isinstance(event, LotIssued)
        issued[event.ref] += event.quantity
    return issued


@pytest.mark.slow
@pytest.mark.postgres
def test_four_writers_and_two_workers(postgres_url: str, tmp_path: Path) -> None:
    """Four writer processes race to pay the same households and empty the same lots
    while two worker processes follow the store. Afterwards every view equals a full
    rebuild, the view noting each position folded holds every position of the log once,
    in order, and the rules held: each household paid once, no lot below zero."""
    writers.prepare(postgres_url)
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    options = ["--batch-size", "5", "--poll-seconds", "0.5", "--report-seconds", "1"]
    workers = [
        worker_process(postgres_url, log, *projection_arguments(FOLLOWED), *options) for log in logs
    ]
    app = warmcase.open(postgres_url, clock=ManualClock())
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers.WRITERS)
    results: multiprocessing.Queue[tuple[int, int, int]] = context.Queue()
    opening = context.Lock()
    processes = [
        context.Process(target=writers.write, args=(postgres_url, n, start, results, opening))
        for n in range(writers.WRITERS)
    ]
    try:
        for process in processes:
            process.start()
        seen_while_writing: set[int] = set()
        while any(p.is_alive() for p in processes) and len(seen_while_writing) < 500:
            seen_while_writing.add(read_view(app, Folded()).position)
            time.sleep(0.05)
        outcomes = [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        wait_for(lambda: all(r.events_behind == 0 for r in lag(app, FOLLOWED)), seconds=60)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=30) for worker in workers]
    text = [log.read_text() for log in logs]
    assert codes == [0, 0], text
    assert all("stopped" in t for t in text), text
    assert len(seen_while_writing) > 2, "the workers did not follow while the writers wrote"
    for projection in FOLLOWED:
        assert read_view(app, projection) == rebuilt(app, projection), projection.name
        assert read_view(app, projection).state == app.query(projection).state
    positions = tuple(meta.position for _, meta in everything(app))
    assert read_view(app, Folded()).state == positions
    # The rules held, whoever won each race.
    paid = sum(o[0] for o in outcomes)
    issued = sum(o[1] for o in outcomes)
    ledgers = [app.load(household.KIND, h).paid_fen(CAMPAIGN) for h in writers.HOUSEHOLDS]
    assert set(ledgers) <= {0, writers.PAYMENT_FEN}
    assert paid == ledgers.count(writers.PAYMENT_FEN) > 0
    assert lot_issues(app) == dict.fromkeys(writers.LOTS, writers.STOCK)
    assert issued + paid == len(writers.LOTS) * writers.STOCK
    for ref in writers.LOTS:
        assert app.load(lot.KIND, ref).available == 0
    app.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_worker_killed_mid_batch_restarts_exactly_once(postgres_url: str, tmp_path: Path) -> None:
    """A worker folding slowly in batches of 150 is SIGKILLed while a batch is in hand
    (its probe shows events folded past the saved view); the views stay at their last
    save, and the restarted worker ends with views equal to a full rebuild, each event
    folded once."""
    clock = ManualClock()
    app = warmcase.open(postgres_url, clock=clock)
    play(app, clock)
    for number in range(15):
        app.reserve_lot("L-QUILT", reservation_id=f"R-{number}", quantity=1, for_ref="V", actor="k")
        app.release_lot("L-QUILT", reservation_id=f"R-{number}", actor="k")
    watched = [SlowFolded(), *STANDARD]
    last = history(app).last_position()
    probe = tmp_path / "probe"
    log = tmp_path / "worker.log"
    worker = worker_process(
        postgres_url,
        log,
        *projection_arguments(watched),
        "--batch-size",
        "40",
        **{PROBE_VARIABLE: str(probe)},
    )

    def saved() -> int:
        return read_view(app, SlowFolded()).position

    try:
        wait_for(lambda: saved() > 0, seconds=30)
        first = saved()
        wait_for(lambda: probe.exists() and int(probe.read_text().split()[-1]) > first + 5)
    finally:
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    at_kill = read_view(app, SlowFolded())
    folded = [int(p) for p in probe.read_text().split()]
    assert at_kill.position < max(folded) < last, "the kill did not land inside a batch"
    assert at_kill.state == tuple(p for p in folded if p <= at_kill.position)
    restarted = Worker(app, watched, batch_size=40)
    restarted.run_once()
    for projection in watched:
        assert read_view(app, projection) == rebuilt(app, projection), projection.name
    assert read_view(app, SlowFolded()).state == tuple(m.position for _, m in everything(app))
    app.close()
