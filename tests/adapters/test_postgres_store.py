"""The PostgreSQL store, on the real server the session starts: the table lock, the
recorded-time index, keys, and its URLs."""

from __future__ import annotations

import itertools
import multiprocessing
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from hypothesis import given
from hypothesis import strategies as st

import warmcase
from tests.adapters.keyring_checks import a_long_session_answers_as_single_lookups
from tests.clocks import ManualClock, at
from tests.pg_server import PostgresServer
from warmcase.app import Warmcase
from warmcase.domain.campaign import AidStandard
from warmcase.errors import InvalidCommand, StoredHistoryError, StoreError
from warmcase.events import Envelope
from warmcase_adapters.keyring import KEY_BYTES
from warmcase_adapters.postgres_store import (
    KEYS_TABLE,
    PostgresKeyring,
    PostgresLocation,
    WarmcasePostgresApplicationRecorder,
    WarmcasePostgresProcessRecorder,
    redact,
    times_table_name,
)

pytestmark = pytest.mark.postgres

EVENTS_TABLE = "warmcase_events"
TIMES_TABLE = times_table_name(EVENTS_TABLE)
WAIT_SECONDS = 60.0


def event(topic: str = "household.registered") -> StoredEvent:
    """A first event of a new record."""
    return StoredEvent(originator_id=uuid4(), originator_version=1, topic=topic, state=b"{}")


def new_datastore(url: str, **options: Any) -> PostgresDatastore:
    """A datastore (its own pool of sessions) over the database at `url`."""
    where = PostgresLocation.from_url(url)
    return PostgresDatastore(
        where.dbname, where.host, where.port, where.user, where.password, **options
    )


def rows(url: str, statement: str) -> list[tuple[Any, ...]]:
    """All rows of `statement`, read on a connection of its own."""
    with psycopg.connect(url) as conn:
        return conn.execute(statement).fetchall()


@pytest.fixture
def datastore(postgres_url: str) -> Iterator[PostgresDatastore]:
    """A datastore over this test's fresh database, closed afterwards."""
    store = new_datastore(postgres_url, pool_size=2, max_overflow=4)
    yield store
    store.close()


@pytest.fixture
def recorder(
    datastore: PostgresDatastore, clock: ManualClock
) -> WarmcasePostgresApplicationRecorder:
    """The application recorder the warmcase application uses, timed by the manual clock."""
    made = WarmcasePostgresApplicationRecorder(
        datastore, events_table_name=EVENTS_TABLE, clock=clock
    )
    made.create_table()
    return made


@pytest.fixture
def keyring(datastore: PostgresDatastore) -> PostgresKeyring:
    """A keyring in this test's database."""
    return PostgresKeyring(datastore)


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


def wait_until(condition: Any, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


# -- the table lock --------------------------------------------------------------------------


def test_inserts_take_the_exclusive_table_lock(
    recorder: WarmcasePostgresApplicationRecorder, postgres_url: str
) -> None:
    """An insert asks for LOCK TABLE ... EXCLUSIVE (not just a row lock), so writers commit
    in the order their positions were issued and tailing readers never skip one."""
    with psycopg.connect(postgres_url) as blocker:
        blocker.execute(f"LOCK TABLE {EVENTS_TABLE} IN SHARE MODE")
        writer = threading.Thread(target=recorder.insert_events, args=([event()],))
        writer.start()

        def waits_for_exclusive_lock() -> bool:
            return bool(
                rows(
                    postgres_url,
                    "SELECT 1 FROM pg_locks WHERE NOT granted AND mode = 'ExclusiveLock' "
                    f"AND relation = '{EVENTS_TABLE}'::regclass",
                )
            )

        wait_until(waits_for_exclusive_lock, "the insert to request the EXCLUSIVE table lock")
        blocker.commit()
    writer.join(WAIT_SECONDS)
    assert recorder.max_notification_id() == 1


def test_the_mode_that_skips_the_table_lock_is_refused(postgres_url: str) -> None:
    """A datastore with database functions enabled (no table lock) is refused, saying why."""
    store = new_datastore(postgres_url, enable_db_functions=True)
    try:
        with pytest.raises(StoreError, match="skips the table lock"):
            WarmcasePostgresApplicationRecorder(store, events_table_name=EVENTS_TABLE)
    finally:
        store.close()


def test_the_environment_cannot_switch_off_the_table_lock(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POSTGRES_ENABLE_DB_FUNCTIONS in the process environment does not reach the store."""
    monkeypatch.setenv("POSTGRES_ENABLE_DB_FUNCTIONS", "y")
    app = warmcase.open(postgres_url)
    try:
        recorder = app.recorder
        assert isinstance(recorder, WarmcasePostgresApplicationRecorder)
        assert not recorder.datastore.enable_db_functions
    finally:
        app.close()


# -- recorded time ---------------------------------------------------------------------------


def test_events_get_the_time_the_store_recorded_them(
    recorder: WarmcasePostgresApplicationRecorder, clock: ManualClock
) -> None:
    """Each event's recorded time is the store clock's now at commit; events saved together
    share one time."""
    clock.set(at(15))
    assert recorder.insert_events([event(), event()]) == [1, 2]
    clock.set(at(16))
    recorder.insert_events([event()])

    assert {1: at(15), 2: at(15), 3: at(16)} == recorder.recorded_times([1, 2, 3])
    assert at(16) == recorder.recorded_at(3)
    assert recorder.recorded_at(3).tzinfo == UTC
    assert [(1, at(15)), (2, at(15)), (3, at(16))] == [
        (n.id, n.recorded_at) for n in recorder.select_recorded_notifications(None, 10)
    ]


def test_a_refused_insert_writes_neither_events_nor_times(
    recorder: WarmcasePostgresApplicationRecorder, postgres_url: str
) -> None:
    """When one event of a batch conflicts, no event and no recorded time is written."""
    first = event()
    recorder.insert_events([first])
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(), first])
    assert rows(postgres_url, f"SELECT count(*) FROM {EVENTS_TABLE}") == [(1,)]
    assert rows(postgres_url, f"SELECT position FROM {TIMES_TABLE}") == [(1,)]


def test_a_failing_clock_writes_no_events(
    recorder: WarmcasePostgresApplicationRecorder, postgres_url: str
) -> None:
    """If recorded time cannot be taken (after the lock is held), nothing is committed."""

    def broken_clock() -> datetime:
        raise RuntimeError("clock hardware fault")

    recorder.clock = broken_clock
    with pytest.raises(RuntimeError, match="clock hardware fault"):
        recorder.insert_events([event(), event()])
    assert rows(postgres_url, f"SELECT count(*) FROM {EVENTS_TABLE}") == [(0,)]
    assert rows(postgres_url, f"SELECT count(*) FROM {TIMES_TABLE}") == [(0,)]


def test_a_naive_clock_is_refused_and_writes_nothing(
    recorder: WarmcasePostgresApplicationRecorder,
) -> None:
    """A clock without a time zone is a configuration error, named as such; nothing is written."""
    recorder.clock = lambda: datetime(2027, 1, 15, 9, 0)  # noqa: DTZ001 - the fault under test
    with pytest.raises(StoreError, match="timezone-aware"):
        recorder.insert_events([event()])
    assert recorder.max_notification_id() is None


def test_recorded_time_does_not_go_back_when_the_clock_does(
    recorder: WarmcasePostgresApplicationRecorder, clock: ManualClock
) -> None:
    """After the clock steps back, events keep the last recorded time until it catches up."""
    clock.set(at(16))
    recorder.insert_events([event()])
    clock.set(at(15))
    recorder.insert_events([event()])
    clock.set(at(17))
    recorder.insert_events([event()])
    assert {1: at(16), 2: at(16), 3: at(17)} == recorder.recorded_times(range(1, 4))


@given(steps=st.lists(st.integers(min_value=-86_400, max_value=86_400), min_size=1, max_size=8))
def test_recorded_times_are_the_running_maximum_of_the_clock(
    steps: list[int], recorder: WarmcasePostgresApplicationRecorder, clock: ManualClock
) -> None:
    """Whatever the clock does, recorded times are the running maximum of its readings
    (and of the times already recorded)."""
    # The fixtures live across examples, so the history so far sets a floor.
    before = recorder.max_notification_id() or 0
    floor = [recorder.recorded_at(before)] if before else []
    readings = []
    for seconds in steps:
        readings.append(clock.advance(timedelta(seconds=seconds)))
        recorder.insert_events([event()])
    recorded = recorder.select_recorded_notifications(before, len(steps), inclusive_of_start=False)
    expected = list(itertools.accumulate([*floor, *readings], max))[len(floor) :]
    assert expected == [n.recorded_at for n in recorded]


def test_position_at_is_the_last_position_recorded_by_a_moment(
    recorder: WarmcasePostgresApplicationRecorder, clock: ManualClock
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
    assert recorder.position_at(at(16, hour=12)) == 3
    assert recorder.position_at(at(28)) == 4
    with pytest.raises(InvalidCommand, match="time zone"):
        recorder.position_at(datetime(2027, 1, 15))  # noqa: DTZ001 - the fault under test


def test_empty_positions_have_no_recorded_time(
    recorder: WarmcasePostgresApplicationRecorder,
) -> None:
    """An empty position (ids have gaps after rollbacks) has no time: named, or skipped."""
    first = event()
    recorder.insert_events([first])
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(), first])  # uses up ids 2 and 3
    recorder.insert_events([event()])
    assert sorted(recorder.recorded_times(range(1, 6))) == [1, 4]
    with pytest.raises(LookupError, match="position 2"):
        recorder.recorded_at(2)


def test_recorded_notifications_select_like_notifications(
    recorder: WarmcasePostgresApplicationRecorder,
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
        assert [(n.id, n.originator_id, n.state) for n in expected] == [
            (n.id, n.originator_id, n.state) for n in actual
        ]


def test_events_written_without_times_are_reported_not_skipped(
    recorder: WarmcasePostgresApplicationRecorder, datastore: PostgresDatastore
) -> None:
    """An event written by a plain eventsourcing recorder makes the timed read fail loudly."""
    recorder.insert_events([event()])
    PostgresApplicationRecorder(datastore, events_table_name=EVENTS_TABLE).insert_events([event()])
    with pytest.raises(StoredHistoryError, match="position 2 has no recorded time"):
        recorder.select_recorded_notifications(None, 10)


def test_process_recorder_records_times_with_its_events(
    datastore: PostgresDatastore, clock: ManualClock
) -> None:
    """Events a process recorder writes with its tracking row get recorded times too."""
    recorder = WarmcasePostgresProcessRecorder(
        datastore,
        events_table_name=EVENTS_TABLE,
        tracking_table_name="warmcase_tracking",
        clock=clock,
    )
    recorder.create_table()
    recorder.insert_events([event()], tracking=Tracking("upstream", 5))
    assert clock() == recorder.recorded_at(1)
    assert recorder.max_tracking_id("upstream") == 5


def test_concurrent_writers_keep_recorded_time_monotonic(
    recorder: WarmcasePostgresApplicationRecorder, postgres_url: str
) -> None:
    """Three sessions with clocks hours apart write at once: every event gets a time, and
    times never decrease with position."""
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def write(hours_ahead: int) -> None:
        store = new_datastore(postgres_url)
        writer = WarmcasePostgresApplicationRecorder(
            store,
            events_table_name=EVENTS_TABLE,
            clock=lambda: datetime.now(UTC) + timedelta(hours=hours_ahead),
        )
        try:
            start.wait(WAIT_SECONDS)
            for _ in range(20):
                writer.insert_events([event(), event(), event()])
        except BaseException as error:  # reported by the test thread
            errors.append(error)
        finally:
            store.close()

    writers = [threading.Thread(target=write, args=(hours,)) for hours in (2, 0, -2)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(WAIT_SECONDS)
    assert errors == []

    times = rows(postgres_url, f"SELECT position, recorded_at FROM {TIMES_TABLE} ORDER BY 1")
    ids = rows(postgres_url, f"SELECT notification_id FROM {EVENTS_TABLE} ORDER BY 1")
    assert [position for position, _ in times] == [notification_id for (notification_id,) in ids]
    assert len(times) == 180
    recorded = [micros for _, micros in times]
    assert sorted(recorded) == recorded


# -- through the application -----------------------------------------------------------------


def test_commands_record_the_time_of_the_injected_clock(postgres_url: str) -> None:
    """The clock given to warmcase.open is the application's now and the store's recorded
    time: a command run "on day 15" is recorded on day 15."""
    app = warmcase.open(postgres_url, clock=ManualClock(at(15)))
    try:
        open_campaign(app)
        recorder = app.recorder
        assert isinstance(recorder, WarmcasePostgresApplicationRecorder)
        assert at(15) == recorder.recorded_at(1)
        [notification] = recorder.select_notifications(None, 1)
        envelope = app.mapper.to_domain_event(notification)
        assert isinstance(envelope, Envelope)
        assert at(15) == envelope.event.effective_at
    finally:
        app.close()


def test_a_reopened_store_has_its_events_and_keys(postgres_url: str) -> None:
    """Closing and reopening keeps every event and key; the tables already exist."""
    app = warmcase.open(postgres_url)
    open_campaign(app)
    key = app.keyring.key_for("household:H-0001", create=True)
    app.close()

    reopened = warmcase.open(postgres_url)
    try:
        assert reopened.recorder.max_notification_id() == 1
        assert key == reopened.keyring.key_for("household:H-0001", create=False)
    finally:
        reopened.close()


def test_a_unix_socket_and_a_schema_can_be_named_in_the_url(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    """?host=/socket/dir connects through the server's unix socket; ?schema= keeps the
    tables in that schema."""
    dbname = PostgresLocation.from_url(postgres_url).dbname
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA books")
    # No password: the server trusts its socket. The port names the socket file.
    url = (
        f"postgresql://{postgres_server.user}@:{postgres_server.port}/{dbname}"
        f"?host={postgres_server.socket_dir}&schema=books"
    )
    app = warmcase.open(url)
    try:
        open_campaign(app)
        assert app.keyring.key_for("household:H-0001", create=True)
    finally:
        app.close()
    tables = rows(
        postgres_url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'books' ORDER BY 1",
    )
    assert tables == [
        ("warmcase_checkpoints",),
        ("warmcase_event_times",),
        ("warmcase_events",),
        (KEYS_TABLE,),
    ]


# -- keys ------------------------------------------------------------------------------------


def test_a_long_key_session_reads_the_table_once(
    keyring: PostgresKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session asked for many subjects (saving a large checkpoint) reads every key in one
    query, and answers as one lookup per subject would."""
    a_long_session_answers_as_single_lookups(keyring, monkeypatch)


def test_a_key_is_made_once_and_read_back(keyring: PostgresKeyring) -> None:
    """No key exists until asked to create one; then the same 256-bit key is returned."""
    assert keyring.key_for("household:H-0001", create=False) is None
    key = keyring.key_for("household:H-0001", create=True)
    assert key is not None
    assert len(key) == KEY_BYTES
    assert key == keyring.key_for("household:H-0001", create=True)
    assert key == keyring.key_for("household:H-0001", create=False)
    assert key != keyring.key_for("household:H-0002", create=True)


def test_destroy_removes_the_key_for_good(keyring: PostgresKeyring) -> None:
    """Destroying says whether there was a key; afterwards none is found, and a new one
    made later is a different key."""
    key = keyring.key_for("household:H-0001", create=True)
    assert keyring.destroy("household:H-0001")
    assert not keyring.destroy("household:H-0001")
    assert keyring.key_for("household:H-0001", create=False) is None
    assert key != keyring.key_for("household:H-0001", create=True)


def test_id_digests_match_for_equal_numbers(keyring: PostgresKeyring) -> None:
    """The same ID number, however typed, digests alike under the store's secret."""
    digest = keyring.id_digest("11010519491231002x")
    assert digest == keyring.id_digest("110105 19491231002X")
    assert digest != keyring.id_digest("110105194912310038")


def test_sessions_racing_to_create_a_key_all_get_the_same_one(
    keyring: PostgresKeyring, postgres_url: str
) -> None:
    """Six sessions creating the same subject's key at once all end up with one key."""
    start = threading.Barrier(6)
    keys: list[bytes | None] = []

    def race() -> None:
        store = new_datastore(postgres_url)
        try:
            racer = PostgresKeyring(store)
            start.wait(WAIT_SECONDS)
            keys.append(racer.key_for("household:H-0001", create=True))
        finally:
            store.close()

    racers = [threading.Thread(target=race) for _ in range(6)]
    for thread in racers:
        thread.start()
    for thread in racers:
        thread.join(WAIT_SECONDS)
    assert len(keys) == 6
    assert {keyring.key_for("household:H-0001", create=False)} == set(keys)
    assert rows(postgres_url, f"SELECT count(*) FROM {KEYS_TABLE}") == [(1,)]


@pytest.mark.parametrize("victim", [0, 150, 299], ids=["first", "middle", "last"])
def test_destroyed_key_bytes_are_gone_from_the_table_files(
    keyring: PostgresKeyring, postgres_url: str, postgres_server: PostgresServer, victim: int
) -> None:
    """After destroy and a checkpoint, the key's bytes are in no file of the server outside
    its WAL segments, though the table's file held them before."""
    for number in range(300):
        keyring.key_for(f"household:H-{number:04}", create=True)
    key = keyring.key_for(f"household:H-{victim:04}", create=False)
    assert key is not None

    def files_holding_key() -> list[str]:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("CHECKPOINT")
        return [
            str(path.relative_to(postgres_server.data_dir))
            for path in postgres_server.data_dir.rglob("*")
            if path.is_file() and "pg_wal" not in path.parts and key in path.read_bytes()
        ]

    assert files_holding_key()
    assert keyring.destroy(f"household:H-{victim:04}")
    assert files_holding_key() == []


# -- URLs ------------------------------------------------------------------------------------


def test_url_parts_are_read_and_decoded() -> None:
    """User, password (percent-decoded), host, port, database and options come from the URL."""
    where = PostgresLocation.from_url(
        "postgresql://li.wei:p%40ss%3Aw0rd@db.example:6432/books?schema=gulou&connect_timeout=3"
    )
    assert where == PostgresLocation(
        dbname="books",
        host="db.example",
        port=6432,
        user="li.wei",
        password="p@ss:w0rd",
        schema="gulou",
        connect_timeout=3,
    )


def test_a_socket_directory_may_replace_the_host() -> None:
    """?host=/path names a unix socket directory; the port defaults to 5432."""
    where = PostgresLocation.from_url("postgres://warmcase@/books?host=/run/postgresql")
    assert (where.host, where.port, where.password) == ("/run/postgresql", 5432, "")


def test_messages_never_show_the_password() -> None:
    """A URL quoted in a message has its password masked."""
    assert (
        redact("postgresql://li.wei:secret@db:5432/books")
        == "postgresql://li.wei:***@db:5432/books"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://li.wei:pw@db.example:5432/", "names no database"),
        ("postgresql://li.wei:pw@db.example:99999/books", "invalid port"),
        ("postgresql://li.wei:pw@/books", "names no host"),
        ("postgresql://db.example/books?sslmode=off", "unknown options ['sslmode']"),
        ("postgresql://db.example/books?connect_timeout=soon", "connect_timeout='soon'"),
        ("mysql://db.example/books", "not a PostgreSQL URL"),
    ],
)
def test_malformed_urls_say_what_is_wrong(url: str, says: str) -> None:
    """A URL that cannot name a database is refused before connecting, saying why."""
    with pytest.raises(StoreError) as refused:
        PostgresLocation.from_url(url)
    assert says in str(refused.value)
    assert ":pw@" not in str(refused.value)


def test_a_wrong_password_is_reported_without_the_password(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Failing to log in is a StoreError that names the cause, not the password tried."""
    dbname = PostgresLocation.from_url(postgres_url).dbname
    url = (
        f"postgresql://{postgres_server.user}:not-the-pw@127.0.0.1:{postgres_server.port}/{dbname}"
    )
    with pytest.raises(StoreError, match="password authentication failed") as refused:
        warmcase.open(url)
    assert "not-the-pw" not in str(refused.value)
    assert "postgresql://user:password@host:port/dbname" in str(refused.value)


def test_a_missing_database_is_reported(postgres_server: PostgresServer) -> None:
    """Naming a database the server does not have is a StoreError saying it does not exist."""
    with pytest.raises(StoreError, match='database "no_such_books" does not exist'):
        warmcase.open(postgres_server.url("no_such_books"))


def test_an_unreachable_server_is_reported(postgres_server: PostgresServer) -> None:
    """Nothing listening at the host and port is a StoreError saying the connection failed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # free once the probe closes: nobody listens
    url = f"postgresql://warmcase:pw@127.0.0.1:{closed_port}/books?connect_timeout=2"
    with pytest.raises(StoreError, match="cannot reach the PostgreSQL store"):
        warmcase.open(url)


def _open_and_close(url: str) -> str:
    """Open the store at `url` in a fresh process and say how it went."""
    try:
        warmcase.open(url).close()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return "ok"


@pytest.mark.slow
def test_many_processes_can_open_a_new_store_at_the_same_moment(
    postgres_database_factory: Callable[[], str],
) -> None:
    """Service processes started together all open one fresh database: schema creation is
    serialised, so none fails on PostgreSQL's concurrent catalogue updates."""
    for _ in range(3):
        url = postgres_database_factory()
        with multiprocessing.get_context("spawn").Pool(6) as pool:
            outcomes = pool.map(_open_and_close, [url] * 6)
        assert outcomes == ["ok"] * 6
