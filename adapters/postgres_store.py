"""The shared store: PostgreSQL, for many service processes writing one database.

eventsourcing's PostgreSQL recorders in their default mode: every insert takes
``LOCK TABLE ... IN EXCLUSIVE MODE`` on the events table, so notification ids are
committed in the order they are issued and a reader tailing the log never passes
over an event that commits later. (``POSTGRES_ENABLE_DB_FUNCTIONS`` skips that
lock and is refused here.) Ids may still have gaps after rollbacks.

The application recorder writes, in the same transaction and after the table
lock is held, the recorded and effective times of each new position into
``<prefix>_event_times`` (``warmcase_event_times`` for the warmcase application):
recorded time is the store clock's now, never earlier than the time recorded for
the position before nor than any effective time of the batch. Projection
checkpoints live in ``<prefix>_checkpoints``, keys for personal data in
``warmcase_keys`` (:class:`PostgresKeyring`). Raw rows are read here and decoded
by :mod:`warmcase_adapters.history`.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple, cast
from urllib.parse import parse_qs, quote, unquote, urlsplit

import psycopg

# The module, not its factory class: eventsourcing finds the one factory class defined here.
from eventsourcing import postgres as es_postgres
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from warmcase.clock import Clock, require_aware, system_clock
from warmcase.errors import StoreError
from warmcase.personal import Keyring
from warmcase_adapters.history import KeyLookup, RawRow
from warmcase_adapters.keyring import DIGEST_SUBJECT, SessionKeys, id_digest, new_key
from warmcase_adapters.mapper import BACKDATED_MICROS, effective_micros
from warmcase_adapters.sqlite_store import (
    RecordedNotification,
    clock_micros,
    from_micros,
    missing_time,
    recorded_micros,
    to_micros,
)

KEYS_TABLE = "warmcase_keys"
DEFAULT_CONNECT_TIMEOUT = 10

URL_FORM = (
    "'postgresql://user:password@host:port/dbname', optionally with '?host=/socket/dir' for "
    "a unix socket, '&schema=name' and '&connect_timeout=seconds'"
)
_QUERY_OPTIONS = ("host", "schema", "connect_timeout")


def times_table_name(events_table_name: str) -> str:
    """The recorded-time index of an events table: warmcase_events -> warmcase_event_times."""
    return events_table_name.removesuffix("_events") + "_event_times"


def checkpoints_table_name(events_table_name: str) -> str:
    """The checkpoints of an events table: warmcase_events -> warmcase_checkpoints."""
    return events_table_name.removesuffix("_events") + "_checkpoints"


#: The advisory lock every warmcase process takes while it creates the schema.
SCHEMA_LOCK_KEY = 0x7761726D  # "warm"


@contextmanager
def schema_lock(datastore: PostgresDatastore) -> Iterator[None]:
    """Hold the schema lock: one process at a time creates tables, types and functions.

    Service processes started together all open the store. PostgreSQL does not make
    concurrent ``CREATE ... IF NOT EXISTS`` or ``CREATE OR REPLACE FUNCTION`` safe:
    the loser fails with "tuple concurrently updated" or a duplicate catalogue key.
    A session-level advisory lock spans the several transactions eventsourcing
    creates the schema in. It is held on a connection outside the datastore's pool,
    which may have room for one connection only: the one the creation needs.
    """
    # eventsourcing builds its pool from a plain dict of connection settings.
    pooled = cast("dict[str, Any]", datastore.pool.kwargs)
    settings = {name: value for name, value in pooled.items() if name != "row_factory"}
    try:
        holder = psycopg.connect(**settings, autocommit=True)
    except psycopg.Error as error:
        raise OperationalError(str(error)) from error
    with holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        yield
        # Closing the session releases the lock, also when the creation failed.


def refuse_db_functions(datastore: PostgresDatastore) -> None:
    """Refuse the mode that skips the table lock (readers would miss events)."""
    if datastore.enable_db_functions:
        msg = (
            "POSTGRES_ENABLE_DB_FUNCTIONS is set, but that insert path skips the table lock, so "
            "readers tailing the log can miss events and recorded times cannot be kept; unset it"
        )
        raise StoreError(msg)


class WarmcasePostgresApplicationRecorder(es_postgres.PostgresApplicationRecorder):
    """Records events and, in the same transaction, when the store recorded them."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        clock: Clock = system_clock,
    ) -> None:
        refuse_db_functions(datastore)
        super().__init__(datastore, events_table_name=events_table_name)
        self.clock = clock
        """Where recorded time comes from; read only while the table lock is held."""
        self.times_table_name = times_table_name(events_table_name)
        self.check_identifier_length(self.times_table_name)
        self.checkpoints_table_name = checkpoints_table_name(events_table_name)
        self.check_identifier_length(self.checkpoints_table_name)
        schema = Identifier(self.datastore.schema)
        times = Identifier(self.times_table_name)
        checkpoints = Identifier(self.checkpoints_table_name)
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{times} ("
                "position bigint PRIMARY KEY, recorded_at bigint NOT NULL, "
                "effective_at bigint NOT NULL)"
            ).format(schema=schema, times=times),
            # position_at() reads the last entry at or before a time from this index alone.
            SQL(
                "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{times} (recorded_at, position)"
            ).format(
                index=Identifier(self._index_name("_by_time")),
                schema=schema,
                times=times,
            ),
            # Only the backdated rows, by position: why, in sqlite_store's _CREATE_BACKDATED_INDEX.
            SQL(
                "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{times} (position, effective_at) "
                "WHERE effective_at < recorded_at - {slack}"
            ).format(
                index=Identifier(self._index_name("_backdated")),
                schema=schema,
                times=times,
                slack=BACKDATED_MICROS,
            ),
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{checkpoints} ("
                "name text NOT NULL, position bigint NOT NULL, state bytea NOT NULL, "
                "PRIMARY KEY (name, position))"
            ).format(schema=schema, checkpoints=checkpoints),
        ]
        # One statement inserts the events and their times, so both or neither are written.
        # Each event's effective time is matched to its new position by (stream, version).
        self.insert_timed_events_statement = SQL(
            # unnest of several arrays expands the composite events into their columns.
            "WITH input AS (SELECT * "
            "FROM unnest(%(events)s::{schema}.{event_type}[], %(effective)s::bigint[]) "
            "WITH ORDINALITY AS i(originator_id, originator_version, topic, state, "
            "effective_at, n)), "
            "new_events AS ("
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM input ORDER BY n "
            "RETURNING notification_id, originator_id, originator_version), "
            "recorded AS (SELECT GREATEST(%(floor)s::bigint, ("
            "SELECT recorded_at FROM {schema}.{times} ORDER BY position DESC LIMIT 1"
            ")) AS at), "
            "new_times AS ("
            "INSERT INTO {schema}.{times} (position, recorded_at, effective_at) "
            "SELECT n.notification_id, r.at, COALESCE(i.effective_at, r.at) "
            "FROM new_events AS n CROSS JOIN recorded AS r JOIN input AS i "
            "ON i.originator_id = n.originator_id "
            "AND i.originator_version = n.originator_version) "
            "SELECT notification_id FROM new_events ORDER BY notification_id"
        ).format(
            schema=schema,
            table=Identifier(self.events_table_name),
            event_type=Identifier(self.stored_event_type_name),
            times=times,
        )
        self.select_time_statement = SQL(
            "SELECT recorded_at FROM {schema}.{times} WHERE position = %s"
        ).format(schema=schema, times=times)
        self.select_effective_statement = SQL(
            "SELECT effective_at FROM {schema}.{times} WHERE position = %s"
        ).format(schema=schema, times=times)
        self.select_time_at_or_before_statement = SQL(
            "SELECT recorded_at FROM {schema}.{times} WHERE position <= %s "
            "ORDER BY position DESC LIMIT 1"
        ).format(schema=schema, times=times)
        self.select_times_statement = SQL(
            "SELECT position, recorded_at FROM {schema}.{times} WHERE position = ANY(%s)"
        ).format(schema=schema, times=times)
        self.select_position_at_statement = SQL(
            "SELECT position FROM {schema}.{times} WHERE recorded_at <= %s "
            "ORDER BY recorded_at DESC, position DESC LIMIT 1"
        ).format(schema=schema, times=times)
        self.insert_checkpoint_statement = SQL(
            "INSERT INTO {schema}.{checkpoints} (name, position, state) VALUES (%s, %s, %s) "
            "ON CONFLICT (name, position) DO NOTHING"
        ).format(schema=schema, checkpoints=checkpoints)
        self.select_checkpoint_statement = SQL(
            "SELECT position, state FROM {schema}.{checkpoints} "
            "WHERE name = %s AND position <= %s ORDER BY position DESC LIMIT 1"
        ).format(schema=schema, checkpoints=checkpoints)
        self.select_checkpoint_positions_statement = SQL(
            "SELECT position FROM {schema}.{checkpoints} WHERE name = %s ORDER BY position"
        ).format(schema=schema, checkpoints=checkpoints)
        self.delete_checkpoints_statement = SQL(
            "DELETE FROM {schema}.{checkpoints} WHERE name = %s"
        ).format(schema=schema, checkpoints=checkpoints)
        self._raw_statements: dict[tuple[bool, bool, bool], Composed] = {}

    def create_table(self) -> None:
        """Create the schema if missing, one process at a time (see :func:`schema_lock`)."""
        with schema_lock(self.datastore):
            super().create_table()

    def _index_name(self, suffix: str) -> str:
        return f"{self.times_table_name}{suffix}"[: self.MAX_IDENTIFIER_LEN]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert `stored_events` (and a process's tracking) with their recorded times."""
        # The library's version catches errors inside its transaction block (to quiet a
        # pipeline warning), which would commit the events if a later step in Python failed.
        notification_ids: list[int] | None = None
        with (
            self.datastore.get_connection() as conn,
            conn.pipeline() as pipeline,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)
            if stored_events:
                self._lock_table(curs)
                self._notify_channel(curs)
                pipeline.sync()
                # The table lock is held from here to commit: no writer can interleave.
                effective = [effective_micros(stored) for stored in stored_events]
                curs.execute(
                    self.insert_timed_events_statement,
                    {
                        "events": self._pg_stored_events(stored_events),
                        "effective": effective,
                        # The last recorded time is added in SQL, under the lock.
                        "floor": recorded_micros(clock_micros(self.clock), None, effective),
                    },
                )
                notification_ids = [row["notification_id"] for row in curs.fetchall()]
                if len(notification_ids) != len(stored_events):
                    msg = f"inserted {len(stored_events)} events, got {len(notification_ids)} ids"
                    raise ProgrammingError(msg)
        return notification_ids

    def _pg_stored_events(self, stored_events: Sequence[StoredEvent]) -> list[Any]:
        return [
            self.construct_pg_stored_event(
                event.originator_id, event.originator_version, event.topic, event.state
            )
            for event in stored_events
        ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def recorded_at(self, position: int) -> datetime:
        """When the event at `position` was recorded (aware, UTC)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_time_statement, (position,), prepare=True)
            row = curs.fetchone()
        if row is None:
            msg = f"no event is recorded at position {position}"
            raise LookupError(msg)
        return from_micros(row["recorded_at"])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def effective_micros_at(self, position: int) -> int:
        """The effective time (µs) kept for the event at `position`."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_effective_statement, (position,), prepare=True)
            row = curs.fetchone()
        if row is None:
            msg = f"no event is recorded at position {position}"
            raise LookupError(msg)
        return int(row["effective_at"])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def recorded_micros_at_or_before(self, position: int) -> int | None:
        """Recorded time (µs) of the last event at or before `position`; None if none."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_time_at_or_before_statement, (position,), prepare=True)
            row = curs.fetchone()
        return None if row is None else int(row["recorded_at"])

    def last_position(self) -> int:
        """The position of the last recorded event (0 when there is none)."""
        return self.max_notification_id() or 0

    def _raw_statement(self, *, topics: bool, effective: bool, backdated_only: bool) -> Composed:
        # Four shapes at most, each composed once and prepared by the server on reuse.
        shape = (topics, effective, backdated_only)
        statement = self._raw_statements.get(shape)
        if statement is not None:
            return statement
        if backdated_only:
            text = (
                "SELECT t.position, e.originator_id, e.originator_version, e.topic, e.state, "
                "t.recorded_at FROM {schema}.{times} AS t JOIN {schema}.{table} AS e "
                "ON e.notification_id = t.position "
                "WHERE t.position > %(after)s AND t.position <= %(upto)s "
                "AND t.effective_at < t.recorded_at - {slack}"
            )
        else:
            # A left join, so an event without a recorded time is reported, not skipped.
            text = (
                "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
                "e.state, t.recorded_at FROM {schema}.{table} AS e "
                "LEFT JOIN {schema}.{times} AS t ON t.position = e.notification_id "
                "WHERE e.notification_id > %(after)s AND e.notification_id <= %(upto)s"
            )
        if effective:
            text += " AND t.effective_at <= %(effective_upto)s"
        if topics:
            text += " AND e.topic = ANY(%(topics)s)"
        text += " ORDER BY 1 LIMIT %(limit)s"
        # Fixed text built above: nothing from callers is interpolated.
        statement = SQL(text).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            times=Identifier(self.times_table_name),
            slack=BACKDATED_MICROS,
        )
        self._raw_statements[shape] = statement
        return statement

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
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
        statement = self._raw_statement(
            topics=bool(topics),
            effective=effective_upto is not None,
            backdated_only=backdated_only,
        )
        params = {
            "after": after,
            "upto": upto,
            "effective_upto": effective_upto,
            "topics": list(topics),
            "limit": limit,
        }
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(statement, params, prepare=True)
            rows = cast(list[RawRow], curs.fetchall())
        for row in rows:
            if row[5] is None:
                raise missing_time(row[0])
        return rows

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def save_checkpoint(self, name: str, position: int, state: bytes) -> None:
        """Keep `state` as checkpoint `name` at `position`; a second save there is ignored."""
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(self.insert_checkpoint_statement, (name, position, state))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_checkpoint(self, name: str, at_or_before: int) -> tuple[int, bytes] | None:
        """The latest checkpoint `name` at or before a position, as (position, state)."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_checkpoint_statement, (name, at_or_before), prepare=True)
            row = curs.fetchone()
        return None if row is None else (int(row["position"]), bytes(row["state"]))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def checkpoint_positions(self, name: str) -> list[int]:
        """The positions checkpoint `name` was saved at, ascending."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_checkpoint_positions_statement, (name,))
            return [int(row["position"]) for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def drop_checkpoints(self, name: str) -> None:
        """Forget every checkpoint `name`."""
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute(self.delete_checkpoints_statement, (name,))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def recorded_times(self, positions: Iterable[int]) -> dict[int, datetime]:
        """The recorded time of each of `positions` that holds an event."""
        wanted = sorted(set(positions))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_times_statement, (wanted,), prepare=True)
            rows = curs.fetchall()
        return {row["position"]: from_micros(row["recorded_at"]) for row in rows}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 when there is none)."""
        micros = to_micros(require_aware(moment, "moment"))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_position_at_statement, (micros,), prepare=True)
            row = curs.fetchone()
        return 0 if row is None else int(row["position"])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
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
        conditions: list[Composed | SQL] = []
        params: list[Any] = []
        if start is not None:
            conditions.append(
                SQL("e.notification_id >= %s")
                if inclusive_of_start
                else SQL("e.notification_id > %s")
            )
            params.append(start)
        if stop is not None:
            conditions.append(SQL("e.notification_id <= %s"))
            params.append(stop)
        if topics:
            conditions.append(SQL("e.topic = ANY(%s)"))
            params.append(list(topics))
        where = SQL(" WHERE ") + SQL(" AND ").join(conditions) if conditions else SQL("")
        statement = SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
            "e.state, t.recorded_at FROM {schema}.{table} AS e "
            "LEFT JOIN {schema}.{times} AS t ON t.position = e.notification_id"
            "{where} ORDER BY e.notification_id LIMIT %s"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            times=Identifier(self.times_table_name),
            where=where,
        )
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            rows = curs.fetchall()
        notifications = []
        for row in rows:
            if row["recorded_at"] is None:
                raise missing_time(row["notification_id"])
            notifications.append(
                RecordedNotification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                    recorded_at=from_micros(row["recorded_at"]),
                )
            )
        return notifications


class WarmcasePostgresProcessRecorder(
    es_postgres.PostgresProcessRecorder, WarmcasePostgresApplicationRecorder
):
    """A process recorder (events + tracking in one transaction) with recorded times."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(
            datastore,
            events_table_name=events_table_name,
            tracking_table_name=tracking_table_name,
        )
        self.clock = clock


class WarmcasePostgresFactory(es_postgres.PostgresFactory):
    """eventsourcing's PostgreSQL factory with warmcase's recorders."""

    application_recorder_class = WarmcasePostgresApplicationRecorder
    process_recorder_class = WarmcasePostgresProcessRecorder


Factory = WarmcasePostgresFactory


class PostgresKeyring(Keyring):
    """Per-subject AES-256 keys in ``warmcase_keys``, in the store's own database.

    Creation is race-free across processes (insert on conflict do nothing, then read
    back the winner). Destruction deletes the row and rewrites the table with
    ``VACUUM FULL``: a plain VACUUM leaves a deleted tuple's bytes in the page's free
    space. PostgreSQL cannot promise more: the key's bytes stay in WAL segments (and
    any backups) until those are recycled. Keys are not cached: another process may
    destroy one at any moment.
    """

    def __init__(self, datastore: PostgresDatastore | None = None) -> None:
        self._datastore: PostgresDatastore | None = None
        if datastore is not None:
            self.attach(datastore)

    def attach(self, datastore: PostgresDatastore) -> None:
        """Keep keys in `datastore`'s database, creating the table if missing."""
        schema = Identifier(datastore.schema)
        table = Identifier(KEYS_TABLE)
        self._select = SQL("SELECT key FROM {schema}.{table} WHERE subject = %s").format(
            schema=schema, table=table
        )
        self._select_all = SQL("SELECT subject, key FROM {schema}.{table}").format(
            schema=schema, table=table
        )
        self._insert = SQL(
            "INSERT INTO {schema}.{table} (subject, key) VALUES (%s, %s) "
            "ON CONFLICT (subject) DO NOTHING"
        ).format(schema=schema, table=table)
        self._delete = SQL("DELETE FROM {schema}.{table} WHERE subject = %s").format(
            schema=schema, table=table
        )
        self._vacuum = SQL("VACUUM (FULL) {schema}.{table}").format(schema=schema, table=table)
        with schema_lock(datastore), datastore.get_connection() as conn:
            conn.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                    "subject text PRIMARY KEY, key bytea NOT NULL)"
                ).format(schema=schema, table=table)
            )
        self._datastore = datastore

    @property
    def datastore(self) -> PostgresDatastore:
        """The datastore the keys live in."""
        if self._datastore is None:
            msg = "this keyring is not attached to a store yet: call attach(datastore) first"
            raise StoreError(msg)
        return self._datastore

    def key_for(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's key (created if `create`); None if destroyed or never made."""
        with self.datastore.get_connection() as conn:
            row = conn.execute(self._select, (subject,), prepare=True).fetchone()
            if row is None and create:
                conn.execute(self._insert, (subject, new_key()))
                # Another process may have inserted first; its key is the one.
                row = conn.execute(self._select, (subject,), prepare=True).fetchone()
        return None if row is None else bytes(row["key"])

    @contextmanager
    def reading(self) -> Iterator[KeyLookup]:
        """Existing keys looked up through one connection: for one page of a read."""
        with self.datastore.get_connection() as conn:

            def lookup(subject: str) -> bytes | None:
                row = conn.execute(self._select, (subject,), prepare=True).fetchone()
                return None if row is None else bytes(row["key"])

            def every() -> list[tuple[str, bytes]]:
                rows = conn.execute(self._select_all).fetchall()
                return [(row["subject"], row["key"]) for row in rows]

            yield SessionKeys(lookup, every)

    def destroy(self, subject: str) -> bool:
        """Delete the subject's key and rewrite the table without it; whether there was one."""
        with self.datastore.get_connection() as conn:
            existed = conn.execute(self._delete, (subject,)).rowcount > 0
            # Autocommit: VACUUM cannot run inside a transaction block.
            conn.execute(self._vacuum)
        return existed

    def id_digest(self, id_number: str) -> str:
        """Keyed hash of `id_number` under this store's secret."""
        secret = self.key_for(DIGEST_SUBJECT, create=True)
        assert secret is not None
        return id_digest(secret, id_number)


# -- URLs ------------------------------------------------------------------------------------


class PostgresLocation(NamedTuple):
    """Where a PostgreSQL store is, parsed from its URL."""

    dbname: str
    host: str
    port: int
    user: str
    password: str
    schema: str
    connect_timeout: int

    @classmethod
    def from_url(cls, url: str) -> PostgresLocation:
        """The location `url` names; StoreError saying what is wrong otherwise."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("postgresql", "postgres", "postgresql+psycopg"):
            msg = f"{redact(url)!r} is not a PostgreSQL URL: use {URL_FORM}"
            raise StoreError(msg)
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - set(_QUERY_OPTIONS))
        if unknown:
            msg = (
                f"PostgreSQL URL {redact(url)!r} has unknown options {unknown}; "
                f"accepted: {', '.join(_QUERY_OPTIONS)}"
            )
            raise StoreError(msg)
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname or "/" in dbname:
            msg = f"PostgreSQL URL {redact(url)!r} names no database: use {URL_FORM}"
            raise StoreError(msg)
        try:
            port = parts.port or 5432
        except ValueError:
            msg = f"PostgreSQL URL {redact(url)!r} has an invalid port: use a number 1-65535"
            raise StoreError(msg) from None
        host = query["host"][-1] if "host" in query else unquote(parts.hostname or "")
        if not host:
            msg = f"PostgreSQL URL {redact(url)!r} names no host: use {URL_FORM}"
            raise StoreError(msg)
        user = unquote(parts.username or "") or _login_name()
        if not user:
            msg = f"PostgreSQL URL {redact(url)!r} names no user: use {URL_FORM}"
            raise StoreError(msg)
        timeout_text = query.get("connect_timeout", [str(DEFAULT_CONNECT_TIMEOUT)])[-1]
        if not timeout_text.isdigit() or int(timeout_text) < 1:
            msg = f"connect_timeout={timeout_text!r} is not a whole number of seconds (>= 1)"
            raise StoreError(msg)
        return cls(
            dbname=dbname,
            host=host,
            port=port,
            user=user,
            password=unquote(parts.password or ""),
            schema=query.get("schema", [""])[-1],
            connect_timeout=int(timeout_text),
        )

    def env(self) -> dict[str, str]:
        """The eventsourcing environment for this location."""
        return {
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_CONNECT_TIMEOUT": str(self.connect_timeout),
        }

    def check_reachable(self, url: str) -> None:
        """Connect once, so a wrong host, login or database is reported plainly."""
        try:
            psycopg.connect(
                dbname=self.dbname,
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                connect_timeout=self.connect_timeout,
            ).close()
        except psycopg.Error as error:
            reason = " ".join(str(error).split())
            msg = (
                f"cannot reach the PostgreSQL store {redact(url)!r}: {reason}; "
                f"check the host, port, user, password and database name ({URL_FORM})"
            )
            raise StoreError(msg) from None


def _login_name() -> str:
    """The OS user's name, which libpq also logs in as when a URL names no user."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def redact(url: str) -> str:
    """`url` with any password replaced, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()
