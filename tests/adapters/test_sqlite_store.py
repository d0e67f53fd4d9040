"""The SQLite store: durable settings, the recorded-time index, keys, and its URLs."""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.sqlite import SQLiteApplicationRecorder
from hypothesis import given
from hypothesis import strategies as st

import warmcase
from tests.adapters.keyring_checks import a_long_session_answers_as_single_lookups
from tests.clocks import ManualClock, at
from warmcase.app import Warmcase
from warmcase.domain.campaign import AidStandard
from warmcase.errors import InvalidCommand, StoredHistoryError, StoreError
from warmcase.events import Envelope
from warmcase_adapters.keyring import KEY_BYTES
from warmcase_adapters.sqlite_store import (
    KEYS_TABLE,
    TIMES_TABLE,
    SQLiteKeyring,
    WarmcaseSQLiteApplicationRecorder,
    WarmcaseSQLiteDatastore,
    WarmcaseSQLiteProcessRecorder,
    database_name,
    file_database_name,
    memory_database_name,
)

WORKER_TIMEOUT = 120


def event(topic: str = "household.registered") -> StoredEvent:
    """A first event of a new record."""
    return StoredEvent(originator_id=uuid4(), originator_version=1, topic=topic, state=b"{}")


def rows(datastore: WarmcaseSQLiteDatastore, statement: str) -> list[tuple[Any, ...]]:
    """All rows of `statement`, as tuples."""
    with datastore.transaction(commit=False) as c:
        c.execute(statement)
        return [tuple(row) for row in c.fetchall()]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where this test's database file goes."""
    return tmp_path / "books.db"


@pytest.fixture
def datastore(db_path: Path) -> Iterator[WarmcaseSQLiteDatastore]:
    """A datastore over this test's file, closed afterwards."""
    store = WarmcaseSQLiteDatastore(file_database_name(str(db_path)))
    yield store
    store.close()


@pytest.fixture
def recorder(
    datastore: WarmcaseSQLiteDatastore, clock: ManualClock
) -> WarmcaseSQLiteApplicationRecorder:
    """An application recorder on the test's file, recording times from the manual clock."""
    made = WarmcaseSQLiteApplicationRecorder(datastore, clock=clock)
    made.create_table()
    return made


@pytest.fixture
def keyring(datastore: WarmcaseSQLiteDatastore) -> SQLiteKeyring:
    """A keyring in the test's file."""
    return SQLiteKeyring(datastore)


def open_campaign(app: Warmcase) -> str:
    """Open a small campaign: one command, one event."""
    return app.open_campaign(
        "SF-2027",
        name="Spring Festival visits 2027",
        owner="Street office",
        starts_on=date(2027, 1, 1),
        ends_on=date(2027, 3, 15),
        standards=[AidStandard(category="minimum_allowance", tiers=((1, 55000),))],
        actor="office",
    )


# -- connection settings ---------------------------------------------------------------------


def test_store_connections_are_durable_and_wait_for_other_writers(tmp_path: Path) -> None:
    """A store opened by URL runs every connection with WAL, synchronous=FULL,
    secure_delete and a 30 s busy timeout."""
    app = warmcase.open(f"sqlite:///{tmp_path}/books.db")
    try:
        recorder = app.recorder
        assert isinstance(recorder, WarmcaseSQLiteApplicationRecorder)
        with recorder.datastore.transaction(commit=False) as c:
            settings = {}
            for pragma in ("journal_mode", "synchronous", "secure_delete", "busy_timeout"):
                c.execute(f"PRAGMA {pragma}")
                settings[pragma] = c.fetchone()[0]
    finally:
        app.close()
    assert settings == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL
        "secure_delete": 1,
        "busy_timeout": 30_000,
    }


def test_durability_settings_do_not_rely_on_the_sqlite_builds_defaults(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even where SQLite was built with lax defaults (synchronous=NORMAL, secure_delete
    off), the store's connections run with synchronous=FULL and secure_delete=ON."""
    connect = sqlite3.connect

    def lax_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        made: sqlite3.Connection = connect(*args, **kwargs)
        made.execute("PRAGMA synchronous=NORMAL")
        made.execute("PRAGMA secure_delete=OFF")
        return made

    monkeypatch.setattr(sqlite3, "connect", lax_connect)
    store = WarmcaseSQLiteDatastore(file_database_name(str(db_path)))
    try:
        with store.transaction(commit=False) as c:
            c.execute("PRAGMA synchronous")
            synchronous = c.fetchone()[0]
            c.execute("PRAGMA secure_delete")
            secure_delete = c.fetchone()[0]
    finally:
        store.close()
    assert (synchronous, secure_delete) == (2, 1)


def test_write_transactions_hold_the_write_lock_from_their_start(
    datastore: WarmcaseSQLiteDatastore, db_path: Path
) -> None:
    """A write transaction locks the file at BEGIN, before its first statement, so no
    other connection can write in between."""
    with datastore.transaction(commit=True):
        other = sqlite3.connect(db_path, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


# -- recorded time ---------------------------------------------------------------------------


def test_events_get_the_time_the_store_recorded_them(
    recorder: WarmcaseSQLiteApplicationRecorder, clock: ManualClock
) -> None:
    """Each event's recorded time is the store clock's now at commit; events saved together
    share one time."""
    clock.set(at(15))
    recorder.insert_events([event(), event()])
    clock.set(at(16))
    recorder.insert_events([event()])

    assert {1: at(15), 2: at(15), 3: at(16)} == recorder.recorded_times([1, 2, 3])
    assert at(16) == recorder.recorded_at(3)
    assert [(1, at(15)), (2, at(15)), (3, at(16))] == [
        (n.id, n.recorded_at) for n in recorder.select_recorded_notifications(None, 10)
    ]


def test_recorded_times_are_utc_instants(
    recorder: WarmcaseSQLiteApplicationRecorder, clock: ManualClock
) -> None:
    """A Shanghai clock reading is stored as the same instant and read back in UTC."""
    clock.set(at(15, hour=9))
    recorder.insert_events([event()])
    assert datetime(2027, 1, 15, 1, 0, tzinfo=UTC) == recorder.recorded_at(1)
    assert recorder.recorded_at(1).tzinfo == UTC


def test_a_refused_insert_writes_neither_events_nor_times(
    recorder: WarmcaseSQLiteApplicationRecorder, datastore: WarmcaseSQLiteDatastore
) -> None:
    """When one event of a batch conflicts, no event and no recorded time is written."""
    first = event()
    recorder.insert_events([first])
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(), first])
    assert recorder.max_notification_id() == 1
    assert rows(datastore, f"SELECT position FROM {TIMES_TABLE}") == [(1,)]


def test_a_failing_clock_writes_no_events(
    recorder: WarmcaseSQLiteApplicationRecorder, datastore: WarmcaseSQLiteDatastore
) -> None:
    """If recorded time cannot be taken, the events inserted before it are rolled back."""

    def broken_clock() -> datetime:
        raise RuntimeError("clock hardware fault")

    recorder.clock = broken_clock
    with pytest.raises(RuntimeError, match="clock hardware fault"):
        recorder.insert_events([event(), event()])
    assert recorder.max_notification_id() is None
    assert rows(datastore, f"SELECT position FROM {TIMES_TABLE}") == []


def test_a_naive_clock_is_refused_and_writes_nothing(
    recorder: WarmcaseSQLiteApplicationRecorder,
) -> None:
    """A clock without a time zone is a configuration error, named as such; nothing is written."""
    recorder.clock = lambda: datetime(2027, 1, 15, 9, 0)  # noqa: DTZ001 - the fault under test
    with pytest.raises(StoreError, match="timezone-aware"):
        recorder.insert_events([event()])
    assert recorder.max_notification_id() is None


def test_recorded_time_does_not_go_back_when_the_clock_does(
    recorder: WarmcaseSQLiteApplicationRecorder, clock: ManualClock
) -> None:
    """After the clock steps back, events keep the last recorded time until it catches up."""
    clock.set(at(16))
    recorder.insert_events([event()])
    clock.set(at(15))
    recorder.insert_events([event()])
    clock.set(at(17))
    recorder.insert_events([event()])
    assert {1: at(16), 2: at(16), 3: at(17)} == recorder.recorded_times(range(1, 4))


@given(steps=st.lists(st.integers(min_value=-86_400, max_value=86_400), min_size=1, max_size=25))
def test_recorded_times_are_the_running_maximum_of_the_clock(steps: list[int]) -> None:
    """Whatever the clock does, the recorded times are the running maximum of its readings."""
    clock = ManualClock(at(15))
    store = WarmcaseSQLiteDatastore(memory_database_name())
    try:
        recorder = WarmcaseSQLiteApplicationRecorder(store, clock=clock)
        recorder.create_table()
        readings = []
        for seconds in steps:
            readings.append(clock.advance(timedelta(seconds=seconds)))
            recorder.insert_events([event()])
        recorded = recorder.select_recorded_notifications(None, len(steps))
    finally:
        store.close()
    assert list(itertools.accumulate(readings, max)) == [n.recorded_at for n in recorded]


def test_position_at_is_the_last_position_recorded_by_a_moment(
    recorder: WarmcaseSQLiteApplicationRecorder, clock: ManualClock
) -> None:
    """position_at(T) is the last position recorded at or before T; 0 before the first."""
    clock.set(at(15))
    recorder.insert_events([event(), event()])
    clock.set(at(16))
    recorder.insert_events([event()])
    clock.set(at(17))
    recorder.insert_events([event()])

    assert recorder.position_at(at(14)) == 0
    assert recorder.position_at(at(15)) == 2
    assert recorder.position_at(at(15) + timedelta(hours=23)) == 2
    assert recorder.position_at(at(16, hour=12)) == 3
    assert recorder.position_at(at(28)) == 4


def test_position_at_refuses_a_naive_moment(recorder: WarmcaseSQLiteApplicationRecorder) -> None:
    """A moment without a time zone is ambiguous and refused, saying how to give one."""
    with pytest.raises(InvalidCommand, match="time zone"):
        recorder.position_at(datetime(2027, 1, 15))  # noqa: DTZ001 - the fault under test


def test_recorded_times_are_read_for_many_positions_at_once(
    recorder: WarmcaseSQLiteApplicationRecorder,
) -> None:
    """recorded_times answers for more positions than one query may bind, skipping empty ones."""
    recorder.insert_events([event() for _ in range(1_200)])
    times = recorder.recorded_times(range(1, 1_300))
    assert set(range(1, 1_201)) == set(times)


def test_recorded_at_of_an_empty_position_says_so(
    recorder: WarmcaseSQLiteApplicationRecorder,
) -> None:
    """Asking for the time of a position that holds no event names the position."""
    with pytest.raises(LookupError, match="position 7"):
        recorder.recorded_at(7)


def test_recorded_notifications_select_like_notifications(
    recorder: WarmcaseSQLiteApplicationRecorder,
) -> None:
    """The timed select filters by start, stop, topics and inclusivity as the library does."""
    recorder.insert_events([event("a.x"), event("b.x"), event("a.x"), event("c.x"), event("a.x")])
    for start, stop, topics, inclusive in [
        (None, None, (), True),
        (2, None, (), True),
        (2, None, (), False),
        (1, 4, ("a.x",), True),
        (None, 3, ("b.x", "c.x"), True),
    ]:
        expected = recorder.select_notifications(
            start, 10, stop, topics, inclusive_of_start=inclusive
        )
        actual = recorder.select_recorded_notifications(
            start, 10, stop, topics, inclusive_of_start=inclusive
        )
        assert [n.id for n in expected] == [n.id for n in actual]
        assert [n.state for n in expected] == [n.state for n in actual]


def test_events_written_without_times_are_reported_not_skipped(
    recorder: WarmcaseSQLiteApplicationRecorder, datastore: WarmcaseSQLiteDatastore
) -> None:
    """An event written by a plain eventsourcing recorder makes the timed read fail loudly."""
    recorder.insert_events([event()])
    SQLiteApplicationRecorder(datastore).insert_events([event()])
    with pytest.raises(StoredHistoryError, match="position 2 has no recorded time"):
        recorder.select_recorded_notifications(None, 10)


def test_process_recorder_records_times_with_its_events(
    datastore: WarmcaseSQLiteDatastore, clock: ManualClock
) -> None:
    """Events a process recorder writes with its tracking row get recorded times too."""
    recorder = WarmcaseSQLiteProcessRecorder(datastore, clock=clock)
    recorder.create_table()
    recorder.insert_events([event()], tracking=Tracking("upstream", 5))
    assert clock() == recorder.recorded_at(1)
    assert recorder.max_tracking_id("upstream") == 5


def _write_with_skewed_clock(db_name: str, hours_ahead: int, batches: int, start: Barrier) -> None:
    """Worker process: insert `batches` batches with a clock `hours_ahead` of real time."""
    store = WarmcaseSQLiteDatastore(db_name)
    recorder = WarmcaseSQLiteApplicationRecorder(
        store, clock=lambda: datetime.now(UTC) + timedelta(hours=hours_ahead)
    )
    start.wait(timeout=WORKER_TIMEOUT)
    for _ in range(batches):
        recorder.insert_events([event(), event(), event()])
    store.close()


@pytest.mark.slow
def test_processes_writing_one_file_keep_recorded_time_monotonic(
    recorder: WarmcaseSQLiteApplicationRecorder, datastore: WarmcaseSQLiteDatastore
) -> None:
    """Three processes with clocks hours apart write one file at once: none fails on the
    lock, every event gets a time, and times never decrease with position."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(3)
    workers = [
        context.Process(
            target=_write_with_skewed_clock,
            args=(datastore.pool.db_name, hours, 20, start),
        )
        for hours in (2, 0, -2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WORKER_TIMEOUT)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]

    times = rows(datastore, f"SELECT position, recorded_at FROM {TIMES_TABLE} ORDER BY position")
    assert recorder.max_notification_id() == 180
    assert list(range(1, 181)) == [position for position, _ in times]
    recorded = [micros for _, micros in times]
    assert sorted(recorded) == recorded


# -- through the application -----------------------------------------------------------------


def test_commands_record_the_time_of_the_injected_clock(tmp_path: Path) -> None:
    """The clock given to warmcase.open is the application's now and the store's recorded
    time: a command run "on day 15" is recorded on day 15."""
    clock = ManualClock(at(15))
    app = warmcase.open(str(tmp_path / "books.db"), clock=clock)
    try:
        open_campaign(app)
        recorder = app.recorder
        assert isinstance(recorder, WarmcaseSQLiteApplicationRecorder)
        assert at(15) == recorder.recorded_at(1)
        [notification] = app.recorder.select_notifications(None, 1)
        envelope = app.mapper.to_domain_event(notification)
        assert isinstance(envelope, Envelope)
        assert at(15) == envelope.event.effective_at
    finally:
        app.close()


def test_a_reopened_file_has_its_events_and_keys(tmp_path: Path) -> None:
    """Closing and reopening the file keeps every event and every key."""
    url = f"sqlite:///{tmp_path}/books.db"
    app = warmcase.open(url)
    open_campaign(app)
    key = app.keyring.key_for("household:H-0001", create=True)
    app.close()

    reopened = warmcase.open(url)
    try:
        assert reopened.recorder.max_notification_id() == 1
        assert key == reopened.keyring.key_for("household:H-0001", create=False)
    finally:
        reopened.close()


def test_in_memory_stores_work_and_are_separate() -> None:
    """sqlite:///:memory: gives a working store of its own each time it is opened."""
    first = warmcase.open("sqlite:///:memory:")
    second = warmcase.open("sqlite:///:memory:")
    try:
        open_campaign(first)
        assert first.keyring.key_for("household:H-0001", create=True)
        assert first.recorder.max_notification_id() == 1
        assert second.recorder.max_notification_id() is None
        assert second.keyring.key_for("household:H-0001", create=False) is None
    finally:
        first.close()
        second.close()


# -- keys ------------------------------------------------------------------------------------


def test_a_long_key_session_reads_the_table_once(
    keyring: SQLiteKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session asked for many subjects (saving a large checkpoint) reads every key in one
    query, and answers as one lookup per subject would."""
    a_long_session_answers_as_single_lookups(keyring, monkeypatch)


def test_a_key_is_made_once_and_read_back(keyring: SQLiteKeyring) -> None:
    """No key exists until asked to create one; then the same 256-bit key is returned."""
    assert keyring.key_for("household:H-0001", create=False) is None
    key = keyring.key_for("household:H-0001", create=True)
    assert key is not None
    assert len(key) == KEY_BYTES
    assert key == keyring.key_for("household:H-0001", create=True)
    assert key == keyring.key_for("household:H-0001", create=False)
    assert key != keyring.key_for("household:H-0002", create=True)


def test_destroy_removes_the_key_for_good(keyring: SQLiteKeyring) -> None:
    """Destroying says whether there was a key; afterwards none is found, and a new one
    made later is a different key."""
    key = keyring.key_for("household:H-0001", create=True)
    assert keyring.destroy("household:H-0001")
    assert not keyring.destroy("household:H-0001")
    assert keyring.key_for("household:H-0001", create=False) is None
    assert key != keyring.key_for("household:H-0001", create=True)


def test_id_digests_match_for_equal_numbers_across_reopening(db_path: Path) -> None:
    """The same ID number, however typed, digests alike, also after the store is reopened."""
    db_name = file_database_name(str(db_path))
    store = WarmcaseSQLiteDatastore(db_name)
    digest = SQLiteKeyring(store).id_digest("11010519491231002x")
    store.close()

    reopened = WarmcaseSQLiteDatastore(db_name)
    try:
        keyring = SQLiteKeyring(reopened)
        assert digest == keyring.id_digest("110105 19491231002X")
        assert digest != keyring.id_digest("110105194912310038")
    finally:
        reopened.close()


def test_a_keyring_not_attached_says_so() -> None:
    """Using a keyring before it is attached to a store is a StoreError that says what to do."""
    with pytest.raises(StoreError, match="attach"):
        SQLiteKeyring().key_for("household:H-0001", create=True)


def _race_for_key(db_name: str, subject: str, start: Barrier, results: Queue[str]) -> None:
    """Worker process: create the subject's key at the same moment as the others."""
    store = WarmcaseSQLiteDatastore(db_name)
    keyring = SQLiteKeyring(store)
    start.wait(timeout=WORKER_TIMEOUT)
    key = keyring.key_for(subject, create=True)
    assert key is not None
    results.put(key.hex())
    store.close()


@pytest.mark.slow
def test_processes_racing_to_create_a_key_all_get_the_same_one(
    keyring: SQLiteKeyring, datastore: WarmcaseSQLiteDatastore
) -> None:
    """Four processes creating the same subject's key at once all end up with one key."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    results: Queue[str] = context.Queue()
    workers = [
        context.Process(
            target=_race_for_key,
            args=(datastore.pool.db_name, "household:H-0001", start, results),
        )
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    keys = {results.get(timeout=WORKER_TIMEOUT) for _ in workers}
    for worker in workers:
        worker.join(WORKER_TIMEOUT)

    stored = keyring.key_for("household:H-0001", create=False)
    assert stored is not None
    assert {stored.hex()} == keys
    assert rows(datastore, f"SELECT count(*) FROM {KEYS_TABLE}") == [(1,)]


@pytest.mark.parametrize("victim", [0, 150, 299], ids=["first", "middle", "last"])
def test_destroyed_key_bytes_are_gone_from_the_db_and_wal_files(
    keyring: SQLiteKeyring, datastore: WarmcaseSQLiteDatastore, db_path: Path, victim: int
) -> None:
    """After destroy, the key's bytes are in neither the database file nor its WAL, though
    both held a copy before."""
    for number in range(300):
        keyring.key_for(f"household:H-{number:04}", create=True)
    subject = f"household:H-{victim:04}"
    key = keyring.key_for(subject, create=False)
    assert key is not None
    # Put one copy in the main file, then rewrite the key's page so another sits in the WAL.
    with datastore.get_connection(commit=True) as conn:
        conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    keyring.key_for(subject + "-neighbour", create=True)
    wal_path = Path(f"{db_path}-wal")
    assert key in db_path.read_bytes()
    assert key in wal_path.read_bytes()

    assert keyring.destroy(subject)

    assert key not in db_path.read_bytes()
    assert key not in (wal_path.read_bytes() if wal_path.exists() else b"")


def test_keys_work_in_memory() -> None:
    """An in-memory store keeps and destroys keys too (there is no file to purge)."""
    store = WarmcaseSQLiteDatastore(memory_database_name())
    try:
        keyring = SQLiteKeyring(store)
        assert keyring.key_for("household:H-0001", create=True)
        assert keyring.destroy("household:H-0001")
        assert keyring.key_for("household:H-0001", create=False) is None
    finally:
        store.close()


# -- URLs ------------------------------------------------------------------------------------


def test_url_forms_name_the_expected_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sqlite:///relative, sqlite:////absolute and a bare path all name the file meant;
    relative paths are fixed at open time, against the working directory."""
    monkeypatch.chdir(tmp_path)
    expected = f"file:{tmp_path}/books.db"
    assert expected == database_name("sqlite:///books.db")
    # tmp_path is absolute, so this is the four-slash form: sqlite:////tmp/.../books.db
    assert expected == database_name(f"sqlite:///{tmp_path}/books.db")
    assert expected == database_name("books.db")
    assert expected == database_name(f"{tmp_path}/books.db")
    assert f"file:{tmp_path}/%E5%8A%A9%E5%9B%B0.db" == database_name("sqlite:///助困.db")


def test_opening_by_relative_url_creates_the_file_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening sqlite:///books.db creates books.db in the working directory."""
    monkeypatch.chdir(tmp_path)
    app = warmcase.open("sqlite:///books.db")
    app.close()
    assert (tmp_path / "books.db").is_file()


def test_memory_url_forms_name_private_memory_databases() -> None:
    """sqlite:///:memory:, sqlite:// and :memory: each name a fresh shared-cache memory db."""
    names = [database_name(url) for url in ("sqlite:///:memory:", "sqlite://", ":memory:")]
    assert all("mode=memory" in name and "cache=shared" in name for name in names)
    assert len(set(names)) == 3


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite:books.db", "not understood"),
        ("sqlite://server/books.db", "names a host ('server')"),
        ("sqlite:///books.db?mode=ro", "has options"),
        ("sqlite:///", "no SQLite file named"),
        ("sqlite:///no/such/directory/books.db", "does not exist"),
    ],
)
def test_bad_urls_say_what_is_wrong_and_what_is_accepted(
    url: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL that names no usable SQLite file is a StoreError naming the fault and the forms
    accepted."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError) as refused:
        warmcase.open(url)
    assert says in str(refused.value)
    if "does not exist" not in says:
        assert "sqlite:////absolute/path.db" in str(refused.value)


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    """Naming a directory is refused, suggesting a file inside it."""
    with pytest.raises(StoreError, match="is a directory"):
        warmcase.open(str(tmp_path))


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    """A file that is not a SQLite database is a StoreError, not a crash at first use."""
    path = tmp_path / "notes.db"
    path.write_bytes(b"household list, not a database\n" * 200)
    with pytest.raises(StoreError, match="file is not a database"):
        warmcase.open(str(path))


def test_unknown_options_are_refused(tmp_path: Path) -> None:
    """An option the store does not know is refused, listing those it accepts."""
    with pytest.raises(StoreError, match="accepted: clock, cache_size"):
        warmcase.open(str(tmp_path / "books.db"), journal="off")
