"""eventsourcing's own recorder conformance suites, run against warmcase's recorders.

Each class runs one of the library's reusable test cases (insert and select,
conflicts, atomicity, tracking, concurrent writers and readers, non-interleaved
notification ids) against a recorder warmcase adds or a datastore it changes: the
recorded-time index and the connection settings must not change any behaviour the
library promises. The suites' timing-only tests are skipped: rates belong in
``benchmarks/``, never in tests.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresDatastore,
    PostgresTrackingRecorder,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteTrackingRecorder
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from warmcase_adapters.memory_store import MemoryApplicationRecorder
from warmcase_adapters.postgres_store import (
    PostgresLocation,
    WarmcasePostgresApplicationRecorder,
    WarmcasePostgresFactory,
    WarmcasePostgresProcessRecorder,
)
from warmcase_adapters.sqlite_store import (
    LOCK_TIMEOUT_SECONDS,
    WarmcaseSQLiteApplicationRecorder,
    WarmcaseSQLiteDatastore,
    WarmcaseSQLiteFactory,
    WarmcaseSQLiteProcessRecorder,
    file_database_name,
    memory_database_name,
)

TIMING_ONLY = "timing only: rates are measured in benchmarks/, never asserted in tests"


class NoTimings:
    """Skips the suites' tests that only print how fast inserts are."""

    @pytest.mark.skip(reason=TIMING_ONLY)
    def test_performance(self) -> None:
        """Skipped: measures insert rates and asserts nothing."""


# -- memory ----------------------------------------------------------------------------------


class TestMemoryApplicationRecorder(NoTimings, ApplicationRecorderTestCase[ApplicationRecorder]):
    """The ``memory:`` store's recorder (recorded times added) keeps the library's promises."""

    def create_recorder(self) -> ApplicationRecorder:
        """A fresh in-process recorder."""
        return MemoryApplicationRecorder()


# -- SQLite ----------------------------------------------------------------------------------


class SQLiteFile:
    """A fresh database file per test, and every datastore closed after it."""

    db_name: str
    datastores: list[WarmcaseSQLiteDatastore]

    @pytest.fixture(autouse=True)
    def _database_file(self) -> Iterator[None]:
        with tempfile.TemporaryDirectory(prefix="warmcase-sqlite-") as directory:
            self.db_name = file_database_name(str(Path(directory) / "store.db"))
            self.datastores = []
            before = set(threading.enumerate())
            yield
            # The library's concurrency tests stop their reader threads without joining
            # them: closing a connection while a thread is inside a query on it crashes
            # sqlite3 (a segmentation fault, seen in CI), so wait for them first.
            for thread in set(threading.enumerate()) - before:
                if not thread.daemon:
                    thread.join(timeout=30)
            for datastore in self.datastores:
                datastore.close()

    def datastore(self, **options: Any) -> WarmcaseSQLiteDatastore:
        """A datastore over this test's database."""
        datastore = WarmcaseSQLiteDatastore(self.db_name, **options)
        self.datastores.append(datastore)
        return datastore


class SQLiteMemory(SQLiteFile):
    """A fresh in-memory database per test."""

    @pytest.fixture(autouse=True)
    def _memory_database(self, _database_file: None) -> None:
        self.db_name = memory_database_name()


class TestSQLiteApplicationRecorder(
    NoTimings, SQLiteFile, ApplicationRecorderTestCase[WarmcaseSQLiteApplicationRecorder]
):
    """The application recorder with recorded times, on a WAL file: the library's suite."""

    def create_recorder(self) -> WarmcaseSQLiteApplicationRecorder:
        recorder = WarmcaseSQLiteApplicationRecorder(self.datastore(pool_size=20))
        recorder.create_table()
        return recorder


class TestSQLiteApplicationRecorderInMemory(
    NoTimings, SQLiteMemory, ApplicationRecorderTestCase[WarmcaseSQLiteApplicationRecorder]
):
    """The application recorder with recorded times, in memory: the library's suite."""

    def create_recorder(self) -> WarmcaseSQLiteApplicationRecorder:
        recorder = WarmcaseSQLiteApplicationRecorder(self.datastore(pool_size=20))
        recorder.create_table()
        return recorder


class TestSQLiteApplicationRecorderNonInterleaving(
    SQLiteFile, NonInterleavingNotificationIDsBaseCase
):
    """Two racing writers of 1,000 events each get two unbroken runs of positions."""

    def create_recorder(self) -> ApplicationRecorder:
        recorder = WarmcaseSQLiteApplicationRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestSQLiteProcessRecorder(NoTimings, SQLiteFile, ProcessRecorderTestCase):
    """The process recorder (events, tracking and recorded times): the library's suite."""

    def create_recorder(self) -> ProcessRecorder:
        recorder = WarmcaseSQLiteProcessRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestSQLiteAggregateRecorderOnWarmcaseDatastore(
    NoTimings, SQLiteFile, AggregateRecorderTestCase
):
    """The library's aggregate recorder (snapshots) over warmcase's connections."""

    def create_recorder(self) -> AggregateRecorder:
        recorder = SQLiteAggregateRecorder(self.datastore(), events_table_name="stored_snapshots")
        recorder.create_table()
        return recorder


class TestSQLiteTrackingRecorderOnWarmcaseDatastore(SQLiteFile, TrackingRecorderTestCase):
    """The library's tracking recorder (projections) over warmcase's connections."""

    def create_recorder(self) -> TrackingRecorder:
        recorder = SQLiteTrackingRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestSQLiteFactory(SQLiteFile, InfrastructureFactoryTestCase[WarmcaseSQLiteFactory]):
    """The factory, found by module topic, builds warmcase's recorders over one file."""

    class TrackingRecorderSubclass(SQLiteTrackingRecorder):
        """A stand-in for a projection's own tracking recorder."""

    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env["PERSISTENCE_MODULE"] = "warmcase_adapters.sqlite_store"
        self.env["SQLITE_DBNAME"] = self.db_name
        super().setUp()

    def expected_factory_class(self) -> type[WarmcaseSQLiteFactory]:
        return WarmcaseSQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return WarmcaseSQLiteApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return WarmcaseSQLiteProcessRecorder

    def test_datastore_is_warmcases(self) -> None:
        """The factory's connections carry warmcase's settings, with a 30 s lock timeout."""
        assert isinstance(self.factory.datastore, WarmcaseSQLiteDatastore)
        assert self.factory.datastore.pool.lock_timeout == LOCK_TIMEOUT_SECONDS


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.mark.postgres
class PostgresDatabase:
    """A fresh database on the session's server per test, and every datastore closed."""

    url: str
    datastores: list[PostgresDatastore]

    @pytest.fixture(autouse=True)
    def _database(self, postgres_url: str) -> Iterator[None]:
        self.url = postgres_url
        self.datastores = []
        yield
        for datastore in self.datastores:
            datastore.close()

    def datastore(self, *, pool_size: int = 2, max_overflow: int = 12) -> PostgresDatastore:
        """A datastore over this test's database."""
        where = PostgresLocation.from_url(self.url)
        datastore = PostgresDatastore(
            where.dbname,
            where.host,
            where.port,
            where.user,
            where.password,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        self.datastores.append(datastore)
        return datastore


class TestPostgresApplicationRecorder(
    NoTimings,
    PostgresDatabase,
    ApplicationRecorderTestCase[WarmcasePostgresApplicationRecorder],
):
    """The application recorder with recorded times, default (locking) mode: the suite."""

    def create_recorder(self) -> WarmcasePostgresApplicationRecorder:
        recorder = WarmcasePostgresApplicationRecorder(
            self.datastore(), events_table_name="warmcase_events"
        )
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        """Subscribers receive new events in order, also ones written after they start."""
        self.optional_test_insert_subscribe()


class TestPostgresApplicationRecorderNonInterleaving(
    PostgresDatabase, NonInterleavingNotificationIDsBaseCase
):
    """Two racing writers of 1,000 events each get two unbroken runs of positions."""

    def create_recorder(self) -> ApplicationRecorder:
        recorder = WarmcasePostgresApplicationRecorder(
            self.datastore(), events_table_name="warmcase_events"
        )
        recorder.create_table()
        return recorder


class TestPostgresProcessRecorder(NoTimings, PostgresDatabase, ProcessRecorderTestCase):
    """The process recorder (events, tracking and recorded times): the library's suite."""

    def create_recorder(self) -> ProcessRecorder:
        recorder = WarmcasePostgresProcessRecorder(
            self.datastore(),
            events_table_name="warmcase_events",
            tracking_table_name="warmcase_tracking",
        )
        recorder.create_table()
        return recorder


class TestPostgresFactory(PostgresDatabase, InfrastructureFactoryTestCase[WarmcasePostgresFactory]):
    """The factory, found by module topic, builds warmcase's recorders in one database."""

    class TrackingRecorderSubclass(PostgresTrackingRecorder):
        """A stand-in for a projection's own tracking recorder."""

    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env["PERSISTENCE_MODULE"] = "warmcase_adapters.postgres_store"
        self.env.update(PostgresLocation.from_url(self.url).env())
        super().setUp()

    def expected_factory_class(self) -> type[WarmcasePostgresFactory]:
        return WarmcasePostgresFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return WarmcasePostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.TrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return WarmcasePostgresProcessRecorder


# The imported suites would otherwise be collected and run a second time, without a recorder.
del AggregateRecorderTestCase
del ApplicationRecorderTestCase
del InfrastructureFactoryTestCase
del NonInterleavingNotificationIDsBaseCase
del ProcessRecorderTestCase
del TrackingRecorderTestCase
