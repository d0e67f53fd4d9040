"""The embedded store: one SQLite file per store, with recorded times and keys.

eventsourcing's SQLite recorders, with every connection set for a durable,
shared file: WAL (so readers never block the writer), ``synchronous=FULL``
(every acknowledged command survives a power cut), ``secure_delete=ON`` (deleted
keys are overwritten, not left in free pages) and a busy timeout long enough for
several processes writing one file. Write transactions start with
``BEGIN IMMEDIATE``, so a writer holds the file's write lock from its first
statement and never has to upgrade a stale read snapshot.

The application recorder also writes, in the same transaction as the events, a
position -> (recorded time, effective time) index (``warmcase_event_times``).
Recorded time is taken from the store's clock while the write lock is held, and
is never earlier than the time recorded for the position before (monotonic in
position even if the clock steps back) nor than the effective time of any event
of the batch (an event is never recorded before it took effect, even when the
writer's clock runs ahead of the store's). Callers can never supply it.

It also keeps projection checkpoints (``warmcase_checkpoints``) and reads raw
rows for :mod:`warmcase_adapters.history`, which decodes them.

Personal-data keys live in ``warmcase_keys`` in the same file
(:class:`SQLiteKeyring`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit
from uuid import uuid4

# The module, not its factory class: eventsourcing finds the one factory class defined here.
from eventsourcing import sqlite as es_sqlite
from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    PersistenceError,
)
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment, EnvType

from warmcase.clock import Clock, require_aware, system_clock
from warmcase.errors import StoredHistoryError, StoreError
from warmcase.personal import Keyring
from warmcase_adapters.history import KeyLookup, RawRow
from warmcase_adapters.keyring import DIGEST_SUBJECT, SessionKeys, id_digest, new_key
from warmcase_adapters.mapper import BACKDATED_MICROS, effective_micros

LOCK_TIMEOUT_SECONDS = 30
"""How long a writer waits for another process's write lock before giving up."""

TIMES_TABLE = "warmcase_event_times"
KEYS_TABLE = "warmcase_keys"
MEMORY = ":memory:"

# Literal statements: table names are fixed, values always go through placeholders.
_CREATE_TIMES = (
    "CREATE TABLE IF NOT EXISTS warmcase_event_times ("
    "position INTEGER PRIMARY KEY, recorded_at INTEGER NOT NULL, effective_at INTEGER NOT NULL)"
)
# position_at() reads the last entry at or before a time from this index alone.
_CREATE_TIMES_INDEX = (
    "CREATE INDEX IF NOT EXISTS warmcase_event_times_by_time ON warmcase_event_times (recorded_at)"
)
# read_effective(V) over (a, b] must find the few events recorded after V yet effective by V.
# Almost every event is effective moments before it is recorded, so an index on effective_at
# would list nearly the whole history before V, and the rows of (a, b] are mostly not wanted.
# The wanted ones recorded more than BACKDATED_MICROS after V are "backdated" rows (effective
# more than that before recorded): this partial index holds only those, ordered by position,
# with effective_at inside it so the filter needs no table lookup. Rows recorded within the
# slack after V are a short contiguous range, scanned directly (see history.py).
_CREATE_BACKDATED_INDEX = (
    "CREATE INDEX IF NOT EXISTS warmcase_event_times_backdated "
    "ON warmcase_event_times (position, effective_at) "
    f"WHERE effective_at < recorded_at - {BACKDATED_MICROS}"
)
_SELECT_LAST_TIME = "SELECT recorded_at FROM warmcase_event_times ORDER BY position DESC LIMIT 1"
_INSERT_TIME = (
    "INSERT INTO warmcase_event_times (position, recorded_at, effective_at) VALUES (?, ?, ?)"
)
_SELECT_TIME = "SELECT recorded_at FROM warmcase_event_times WHERE position = ?"
_SELECT_EFFECTIVE = "SELECT effective_at FROM warmcase_event_times WHERE position = ?"
_SELECT_TIME_AT_OR_BEFORE = (
    "SELECT recorded_at FROM warmcase_event_times WHERE position <= ? "
    "ORDER BY position DESC LIMIT 1"
)
_SELECT_TIMES = "SELECT position, recorded_at FROM warmcase_event_times WHERE position IN "
_SELECT_POSITION_AT = (
    "SELECT position FROM warmcase_event_times WHERE recorded_at <= ? "
    "ORDER BY recorded_at DESC, position DESC LIMIT 1"
)
_CREATE_CHECKPOINTS = (
    "CREATE TABLE IF NOT EXISTS warmcase_checkpoints ("
    "name TEXT NOT NULL, position INTEGER NOT NULL, state BLOB NOT NULL, "
    "PRIMARY KEY (name, position))"
)
_INSERT_CHECKPOINT = (
    "INSERT INTO warmcase_checkpoints (name, position, state) VALUES (?, ?, ?) "
    "ON CONFLICT (name, position) DO NOTHING"
)
_SELECT_CHECKPOINT = (
    "SELECT position, state FROM warmcase_checkpoints WHERE name = ? AND position <= ? "
    "ORDER BY position DESC LIMIT 1"
)
_SELECT_CHECKPOINT_POSITIONS = (
    "SELECT position FROM warmcase_checkpoints WHERE name = ? ORDER BY position"
)
_DELETE_CHECKPOINTS = "DELETE FROM warmcase_checkpoints WHERE name = ?"
_CREATE_KEYS = (
    "CREATE TABLE IF NOT EXISTS warmcase_keys ("
    "subject TEXT PRIMARY KEY, key BLOB NOT NULL) WITHOUT ROWID"
)
_INSERT_KEY = "INSERT OR IGNORE INTO warmcase_keys (subject, key) VALUES (?, ?)"
_SELECT_KEY = "SELECT key FROM warmcase_keys WHERE subject = ?"
_SELECT_KEYS = "SELECT subject, key FROM warmcase_keys"
_DELETE_KEY = "DELETE FROM warmcase_keys WHERE subject = ?"

URL_FORMS = (
    "'sqlite:///relative/path.db', 'sqlite:////absolute/path.db', a bare path such as "
    "'books.db', or 'sqlite:///:memory:' for a store in this process's memory"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PARAMETERS_PER_QUERY = 500


# -- recorded time ---------------------------------------------------------------------------


def to_micros(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime `micros` microseconds after 1970-01-01 UTC."""
    return _EPOCH + timedelta(microseconds=micros)


def clock_micros(clock: Clock) -> int:
    """The store clock's now, in microseconds; a naive clock is a configuration error."""
    now = clock()
    if not isinstance(now, datetime) or now.utcoffset() is None:
        msg = (
            f"the store's clock returned {now!r}: recorded time needs a timezone-aware "
            f"datetime, e.g. warmcase.clock.system_clock"
        )
        raise StoreError(msg)
    return to_micros(now)


def recorded_micros(now: int, last: int | None, effective: Sequence[int | None]) -> int:
    """The recorded time of a new batch: now, but never before the last recorded time
    (monotonic in position) nor before any of the batch's effective times (no event is
    recorded before it took effect, whatever the skew between the writers' clocks)."""
    return max(
        [now, *(at for at in effective if at is not None), *([] if last is None else [last])]
    )


@dataclass(frozen=True)
class RecordedNotification(Notification):
    """A notification with the time the store recorded it (aware, UTC)."""

    recorded_at: datetime


def missing_time(position: int) -> StoredHistoryError:
    """The error for an event the recorded-time index does not cover."""
    msg = (
        f"the event at position {position} has no recorded time: it was written without "
        f"warmcase's recorder, so as-of queries cannot place it"
    )
    return StoredHistoryError(msg)


# -- connections -----------------------------------------------------------------------------


class WarmcaseSQLiteTransaction(SQLiteTransaction):
    """A transaction that takes the write lock at once when it will commit."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE" if self.commit else "BEGIN")
        except sqlite3.Error as error:
            cursor.sqlite_cursor.close()
            raise OperationalError(error) from error
        return cursor


class WarmcaseSQLiteConnection(SQLiteConnection):
    """A connection whose write transactions begin immediately."""

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[SQLiteCursor]:
        """A cursor in a transaction, committed (if `commit`) or rolled back at the end."""
        with WarmcaseSQLiteTransaction(self, commit=commit) as cursor, cursor:
            yield cursor


class WarmcaseSQLiteConnectionPool(es_sqlite.SQLiteConnectionPool):
    """Connections configured for durability and for several writing processes."""

    def _create_connection(self) -> SQLiteConnection:
        try:
            raw = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # Transactions are begun explicitly.
                timeout=float(self.lock_timeout or LOCK_TIMEOUT_SECONDS),
            )
        except (sqlite3.Error, TypeError) as error:
            raise InterfaceError(error) from error
        try:
            if not self.is_sqlite_memory_mode:
                mode = raw.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    msg = f"SQLite kept journal mode {mode!r} for {self.db_name}; WAL is required"
                    raise OperationalError(msg)
                self.is_journal_mode_wal = True
            raw.execute("PRAGMA synchronous=FULL")
            raw.execute("PRAGMA secure_delete=ON")
        except sqlite3.Error as error:
            raw.close()
            raise OperationalError(error) from error
        except OperationalError:
            raw.close()
            raise
        raw.row_factory = sqlite3.Row
        return WarmcaseSQLiteConnection(sqlite_conn=raw, max_age=self.max_age)


class WarmcaseSQLiteDatastore(SQLiteDatastore):
    """eventsourcing's SQLite datastore over :class:`WarmcaseSQLiteConnectionPool`."""

    def __init__(
        self,
        db_name: str,
        *,
        lock_timeout: int = LOCK_TIMEOUT_SECONDS,
        pool_size: int = 5,
        max_overflow: int = 10,
        max_age: float | None = None,
        pre_ping: bool = False,
        single_row_tracking: bool = True,
        originator_id_type: Literal["uuid", "text"] = "uuid",
    ) -> None:
        super().__init__(
            db_name,
            lock_timeout=lock_timeout,
            single_row_tracking=single_row_tracking,
            originator_id_type=originator_id_type,
        )
        # The base class builds its own pool; nothing has connected through it yet.
        self.pool.close()
        self.pool = WarmcaseSQLiteConnectionPool(
            db_name=db_name,
            lock_timeout=lock_timeout,
            pool_size=pool_size,
            max_overflow=max_overflow,
            # Threads of this process queue for the writer as long as processes do.
            pool_timeout=float(lock_timeout),
            max_age=max_age,
            pre_ping=pre_ping,
        )

    @property
    def is_memory(self) -> bool:
        """Whether the database lives in this process's memory."""
        return bool(self.pool.is_sqlite_memory_mode)


# -- recorders -------------------------------------------------------------------------------


class WarmcaseSQLiteApplicationRecorder(es_sqlite.SQLiteApplicationRecorder):
    """Records events and, in the same transaction, when the store recorded them."""

    def __init__(
        self,
        datastore: SQLiteDatastore,
        events_table_name: str = "stored_events",
        *,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(datastore, events_table_name)
        self.clock = clock
        """Where recorded time comes from; read only while the write lock is held."""

    def construct_create_table_statements(self) -> list[str]:
        """The events table, the time index with its lookups, and the checkpoints table."""
        statements = super().construct_create_table_statements()
        return [
            *statements,
            _CREATE_TIMES,
            _CREATE_TIMES_INDEX,
            _CREATE_BACKDATED_INDEX,
            _CREATE_CHECKPOINTS,
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[Any], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        if positions:
            self._record_times(c, positions, stored_events)
        return positions

    def _record_times(
        self, c: SQLiteCursor, positions: Sequence[int], stored_events: Sequence[Any]
    ) -> None:
        # The transaction began IMMEDIATE: no other writer can interleave from here to commit.
        c.execute(_SELECT_LAST_TIME)
        last = c.fetchone()
        effective = [effective_micros(stored) for stored in stored_events]
        recorded = recorded_micros(
            clock_micros(self.clock), None if last is None else int(last[0]), effective
        )
        c.executemany(
            _INSERT_TIME,
            [
                (position, recorded, recorded if at is None else at)
                for position, at in zip(positions, effective, strict=True)
            ],
        )

    def recorded_at(self, position: int) -> datetime:
        """When the event at `position` was recorded (aware, UTC)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(_SELECT_TIME, (position,))
            row = c.fetchone()
        if row is None:
            msg = f"no event is recorded at position {position}"
            raise LookupError(msg)
        return from_micros(int(row[0]))

    def effective_micros_at(self, position: int) -> int:
        """The effective time (µs) kept for the event at `position`."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(_SELECT_EFFECTIVE, (position,))
            row = c.fetchone()
        if row is None:
            msg = f"no event is recorded at position {position}"
            raise LookupError(msg)
        return int(row[0])

    def recorded_micros_at_or_before(self, position: int) -> int | None:
        """Recorded time (µs) of the last event at or before `position`; None if none."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(_SELECT_TIME_AT_OR_BEFORE, (position,))
            row = c.fetchone()
        return None if row is None else int(row[0])

    def last_position(self) -> int:
        """The position of the last recorded event (0 when there is none)."""
        return self.max_notification_id() or 0

    def raw_rows(
        self,
        *,
        after: int,
        upto: int,
        topics: Sequence[str] = (),
        effective_upto: int | None = None,
        backdated_only: bool = False,
        limit: int,
    ) -> list[RawRow]:
        """Undecoded events with after < position <= upto, in position order, at most `limit`.

        Only `topics` if given; only events effective at or before `effective_upto` (µs)
        if given; only backdated ones (see ``BACKDATED_MICROS``) if `backdated_only`.
        Each row is (position, originator id, version, topic, state, recorded µs).
        """
        params: list[Any] = [after, upto]
        if backdated_only:
            # Forced onto the partial index: the planner would otherwise walk the table.
            statement = (
                "SELECT t.position, e.originator_id, e.originator_version, e.topic, e.state, "  # noqa: S608
                "t.recorded_at FROM warmcase_event_times AS t "
                "INDEXED BY warmcase_event_times_backdated "
                f"CROSS JOIN {self.events_table_name} AS e ON e.rowid = t.position "
                "WHERE t.position > ? AND t.position <= ? "
                f"AND t.effective_at < t.recorded_at - {BACKDATED_MICROS} "
            )
        else:
            # A left join, so an event without a recorded time is reported, not skipped.
            statement = (
                "SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, "  # noqa: S608
                f"t.recorded_at FROM {self.events_table_name} AS e "
                "LEFT JOIN warmcase_event_times AS t ON t.position = e.rowid "
                "WHERE e.rowid > ? AND e.rowid <= ? "
            )
        if effective_upto is not None:
            statement += "AND t.effective_at <= ? "
            params.append(effective_upto)
        if topics:
            statement += f"AND e.topic IN ({','.join('?' * len(topics))}) "
            params += topics
        statement += "ORDER BY 1 LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor
            # Plain tuples: sqlite3.Row costs more per row and nothing reads columns by name.
            cursor.row_factory = None
            cursor.execute(statement, params)
            rows: list[RawRow] = cursor.fetchall()
        for row in rows:
            if row[5] is None:
                raise missing_time(row[0])
        return rows

    def save_checkpoint(self, name: str, position: int, state: bytes) -> None:
        """Keep `state` as checkpoint `name` at `position`; a second save there is ignored."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(_INSERT_CHECKPOINT, (name, position, state))

    def select_checkpoint(self, name: str, at_or_before: int) -> tuple[int, bytes] | None:
        """The latest checkpoint `name` at or before a position, as (position, state)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(_SELECT_CHECKPOINT, (name, at_or_before))
            row = c.fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def checkpoint_positions(self, name: str) -> list[int]:
        """The positions checkpoint `name` was saved at, ascending."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(_SELECT_CHECKPOINT_POSITIONS, (name,))
            return [int(row[0]) for row in c.fetchall()]

    def drop_checkpoints(self, name: str) -> None:
        """Forget every checkpoint `name`."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(_DELETE_CHECKPOINTS, (name,))

    def recorded_times(self, positions: Iterable[int]) -> dict[int, datetime]:
        """The recorded time of each of `positions` that holds an event."""
        wanted = sorted(set(positions))
        found: dict[int, datetime] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), _PARAMETERS_PER_QUERY):
                chunk = wanted[start : start + _PARAMETERS_PER_QUERY]
                c.execute(_SELECT_TIMES + f"({','.join('?' * len(chunk))})", chunk)
                found.update((int(p), from_micros(int(t))) for p, t in c.fetchall())
        return found

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 when there is none)."""
        micros = to_micros(require_aware(moment, "moment"))
        with self.datastore.transaction(commit=False) as c:
            c.execute(_SELECT_POSITION_AT, (micros,))
            row = c.fetchone()
        return 0 if row is None else int(row[0])

    def select_recorded_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[RecordedNotification]:
        """Like ``select_notifications``, each with its recorded time, in one snapshot."""
        conditions: list[str] = []
        params: list[Any] = []
        if start is not None:
            conditions.append("e.rowid >= ?" if inclusive_of_start else "e.rowid > ?")
            params.append(start)
        if stop is not None:
            conditions.append("e.rowid <= ?")
            params.append(stop)
        if topics:
            conditions.append(f"e.topic IN ({','.join('?' * len(topics))})")
            params += list(topics)
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        # Only the recorder's own table name and placeholders are interpolated.
        statement = (
            "SELECT e.rowid AS id, e.originator_id, e.originator_version, e.topic, e.state, "  # noqa: S608
            f"t.recorded_at FROM {self.events_table_name} AS e "
            "LEFT JOIN warmcase_event_times AS t ON t.position = e.rowid "
            f"{where}ORDER BY e.rowid LIMIT ?"
        )
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            rows = c.fetchall()
        notifications = []
        for row in rows:
            if row["recorded_at"] is None:
                raise missing_time(row["id"])
            notifications.append(
                RecordedNotification(
                    id=row["id"],
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                    recorded_at=from_micros(row["recorded_at"]),
                )
            )
        return notifications


class WarmcaseSQLiteProcessRecorder(
    es_sqlite.SQLiteProcessRecorder, WarmcaseSQLiteApplicationRecorder
):
    """A process recorder (events + tracking in one transaction) with recorded times."""

    def __init__(
        self,
        datastore: SQLiteDatastore,
        *,
        events_table_name: str = "stored_events",
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.clock = clock


class WarmcaseSQLiteFactory(es_sqlite.SQLiteFactory):
    """eventsourcing's SQLite factory over :class:`WarmcaseSQLiteDatastore`."""

    application_recorder_class = WarmcaseSQLiteApplicationRecorder
    process_recorder_class = WarmcaseSQLiteProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        # The base class reads and checks the environment; only the datastore is replaced.
        configured = self.datastore
        self.datastore = WarmcaseSQLiteDatastore(
            configured.pool.db_name,
            lock_timeout=configured.pool.lock_timeout or LOCK_TIMEOUT_SECONDS,
            single_row_tracking=configured.single_row_tracking,
            originator_id_type=configured.originator_id_type,
        )
        configured.close()


Factory = WarmcaseSQLiteFactory


# -- keys ------------------------------------------------------------------------------------


class SQLiteKeyring(Keyring):
    """Per-subject AES-256 keys in ``warmcase_keys``, in the store's own database file.

    Creation is race-free across processes (insert-or-ignore, then read back the
    winner). Destruction deletes the row, then checkpoints the write-ahead log, so
    with ``secure_delete`` no copy of the key is left in the database or WAL file.
    Keys are not cached: another process may destroy one at any moment.
    """

    def __init__(self, datastore: SQLiteDatastore | None = None) -> None:
        self._datastore: SQLiteDatastore | None = None
        if datastore is not None:
            self.attach(datastore)

    def attach(self, datastore: SQLiteDatastore) -> None:
        """Keep keys in `datastore`'s database, creating the table if missing."""
        with datastore.transaction(commit=True) as c:
            c.execute(_CREATE_KEYS)
        self._datastore = datastore

    @property
    def datastore(self) -> SQLiteDatastore:
        """The datastore the keys live in."""
        if self._datastore is None:
            msg = "this keyring is not attached to a store yet: call attach(datastore) first"
            raise StoreError(msg)
        return self._datastore

    def key_for(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's key (created if `create`); None if destroyed or never made."""
        with self.datastore.transaction(commit=False) as c:
            key = self._select(c, subject)
        if key is not None or not create:
            return key
        with self.datastore.transaction(commit=True) as c:
            c.execute(_INSERT_KEY, (subject, new_key()))
            # Another process may have inserted first; its key is the one.
            key = self._select(c, subject)
        assert key is not None
        return key

    @contextmanager
    def reading(self) -> Iterator[KeyLookup]:
        """Existing keys looked up through one connection and snapshot: for one page of a read,
        where a transaction per key would cost more than the decoding itself."""
        with self.datastore.transaction(commit=False) as c:
            cursor = c.sqlite_cursor

            def lookup(subject: str) -> bytes | None:
                row = cursor.execute(_SELECT_KEY, (subject,)).fetchone()
                return None if row is None else bytes(row[0])

            yield SessionKeys(lookup, lambda: cursor.execute(_SELECT_KEYS).fetchall())

    @staticmethod
    def _select(c: SQLiteCursor, subject: str) -> bytes | None:
        c.execute(_SELECT_KEY, (subject,))
        row = c.fetchone()
        return None if row is None else bytes(row[0])

    def destroy(self, subject: str) -> bool:
        """Delete the subject's key and purge its bytes from the files; whether there was one."""
        datastore = self.datastore
        with datastore.transaction(commit=True) as c:
            c.execute(_DELETE_KEY, (subject,))
            c.execute("SELECT changes()")
            existed = int(c.fetchone()[0]) > 0
        if not datastore.pool.is_sqlite_memory_mode:
            self._checkpoint(datastore, subject)
        return existed

    @staticmethod
    def _checkpoint(datastore: SQLiteDatastore, subject: str) -> None:
        # The old page with the key is still a frame in the WAL (and maybe in the main file):
        # copying the zeroed page into the file and truncating the log removes both copies.
        with datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy = int(cursor.fetchone()[0])
            except sqlite3.Error as error:
                raise OperationalError(error) from error
            finally:
                cursor.sqlite_cursor.close()
        if busy:
            msg = (
                f"the key of {subject} is deleted, but readers kept the write-ahead log busy for "
                f"{LOCK_TIMEOUT_SECONDS} s, so its bytes may remain in the -wal file until the "
                f"next checkpoint; call destroy({subject!r}) again when the store is quieter"
            )
            raise StoreError(msg)

    def id_digest(self, id_number: str) -> str:
        """Keyed hash of `id_number` under this store's secret."""
        secret = self.key_for(DIGEST_SUBJECT, create=True)
        assert secret is not None
        return id_digest(secret, id_number)


# -- URLs ------------------------------------------------------------------------------------


def database_name(url: str) -> str:
    """The SQLite database (a ``file:`` URI) that `url` names; StoreError if it names none.

    Accepts ``sqlite:///relative.db``, ``sqlite:////absolute.db``, a bare path, and
    ``sqlite:///:memory:`` (or ``sqlite://``) for a private in-memory database.
    """
    if not url.lower().startswith("sqlite:"):
        path = url
    else:
        if not url[len("sqlite:") :].startswith("//"):
            msg = f"SQLite URL {url!r} is not understood: use {URL_FORMS}"
            raise StoreError(msg)
        parts = urlsplit(url)
        if parts.netloc:
            msg = (
                f"SQLite URL {url!r} names a host ({parts.netloc!r}), but SQLite is a local "
                f"file: use {URL_FORMS}"
            )
            raise StoreError(msg)
        if parts.query or parts.fragment:
            msg = f"SQLite URL {url!r} has options, which are not accepted: use {URL_FORMS}"
            raise StoreError(msg)
        if not parts.path:
            return memory_database_name()
        # "sqlite:///x.db" has path "/x.db" (relative x.db); "sqlite:////x.db" has "//x.db".
        path = parts.path[1:]
    if path == MEMORY:
        return memory_database_name()
    return file_database_name(path)


def memory_database_name() -> str:
    """A fresh in-memory database that every connection of this process's pool shares."""
    return f"file:warmcase-{uuid4().hex}?mode=memory&cache=shared"


def file_database_name(path: str) -> str:
    """The ``file:`` URI of the database at `path`, checked to be a possible file."""
    if not path.strip():
        msg = f"no SQLite file named: use {URL_FORMS}"
        raise StoreError(msg)
    # Resolved now: connections are opened later, perhaps after the process changes directory.
    resolved = Path(path).expanduser().resolve()
    if resolved.is_dir():
        msg = f"{path!r} is a directory, not a SQLite file: name a file such as {path}/books.db"
        raise StoreError(msg)
    if not resolved.parent.is_dir():
        msg = (
            f"cannot open SQLite file {str(resolved)!r}: the directory {str(resolved.parent)!r} "
            f"does not exist; create it first, or name a file in an existing directory"
        )
        raise StoreError(msg)
    return "file:" + quote(str(resolved), safe="/")


def describe(db_name: str) -> str:
    """The path (or "memory") a database name from :func:`database_name` stands for."""
    if "mode=memory" in db_name:
        return "an in-memory SQLite database"
    return unquote(db_name.removeprefix("file:"))


def open_failure(url: str, db_name: str, error: PersistenceError | sqlite3.Error) -> StoreError:
    """A StoreError for a store that could not be opened."""
    msg = (
        f"cannot open the SQLite store {url!r} ({describe(db_name)}): {error}; it must be a "
        f"SQLite database file (or a new file) that this process can read and write"
    )
    return StoreError(msg)
