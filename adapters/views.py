"""Where followed projections keep their views: one row per view, in the store's own database.

A view is the folded state of a projection and the position it was folded up to,
kept together in ``warmcase_views(name, position, state)`` so both change in one
write. Saving is compare-and-set on the position: it succeeds only if the row
still holds the position the folding started from (or, for the first save, if
there is no row yet). A follower that loses the race reloads the winner's view
and goes on from there, so no event is folded into a view twice or skipped.

The state is bytes: encoding is the follower's business (the application's codec),
so personal values in a view stay sealed under their subjects' keys.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from eventsourcing.persistence import IntegrityError
from eventsourcing.sqlite import SQLiteDatastore

from warmcase.errors import StoreError
from warmcase_adapters.memory_store import MemoryApplicationRecorder

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresDatastore

VIEWS_TABLE = "warmcase_views"

_CREATE_SQLITE = (
    "CREATE TABLE IF NOT EXISTS warmcase_views ("
    "name TEXT PRIMARY KEY, position INTEGER NOT NULL, state BLOB NOT NULL)"
)
_SELECT_SQLITE = "SELECT position, state FROM warmcase_views WHERE name = ?"
_POSITIONS_SQLITE = "SELECT name, position FROM warmcase_views ORDER BY name"
_INSERT_SQLITE = "INSERT OR IGNORE INTO warmcase_views (name, position, state) VALUES (?, ?, ?)"
_UPDATE_SQLITE = "UPDATE warmcase_views SET position = ?, state = ? WHERE name = ? AND position = ?"


class ViewStore(Protocol):
    """Loads and compare-and-sets the views of one store."""

    def load(self, name: str) -> tuple[int, bytes] | None:
        """The committed position and encoded state of view `name` (None: never saved)."""
        ...

    def save(self, name: str, *, expected: int | None, position: int, state: bytes) -> bool:
        """Set view `name` to (`position`, `state`) if it still holds `expected` (None: no
        row yet); whether it did. Position and state are written in one transaction."""
        ...


class SQLiteViews:
    """Views in the SQLite file of the store."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        with datastore.transaction(commit=True) as c:
            c.execute(_CREATE_SQLITE)

    def load(self, name: str) -> tuple[int, bytes] | None:
        """The committed position and encoded state of view `name` (None: never saved)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(_SELECT_SQLITE, (name,))
            row = c.fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def positions(self) -> dict[str, int]:
        """The position of every view kept in the store, by name (states not read)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(_POSITIONS_SQLITE)
            return {str(row[0]): int(row[1]) for row in c.fetchall()}

    def save(self, name: str, *, expected: int | None, position: int, state: bytes) -> bool:
        """Compare-and-set view `name` from `expected` to (`position`, `state`)."""
        # The store's write transactions begin IMMEDIATE: the check and the write
        # happen under the file's write lock.
        with self.datastore.transaction(commit=True) as c:
            if expected is None:
                c.execute(_INSERT_SQLITE, (name, position, state))
            else:
                c.execute(_UPDATE_SQLITE, (position, state, name, expected))
            c.execute("SELECT changes()")
            return int(c.fetchone()[0]) == 1


class PostgresViews:
    """Views in the PostgreSQL database (and schema) of the store."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        # Imported here, so opening another kind of store never loads psycopg.
        from psycopg.sql import SQL, Identifier  # noqa: PLC0415

        self.datastore = datastore
        table = SQL("{schema}.{table}").format(
            schema=Identifier(datastore.schema), table=Identifier(VIEWS_TABLE)
        )
        self._select = SQL("SELECT position, state FROM {table} WHERE name = %s").format(
            table=table
        )
        self._positions = SQL("SELECT name, position FROM {table} ORDER BY name").format(
            table=table
        )
        self._insert = SQL(
            "INSERT INTO {table} (name, position, state) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO NOTHING"
        ).format(table=table)
        self._update = SQL(
            "UPDATE {table} SET position = %s, state = %s WHERE name = %s AND position = %s"
        ).format(table=table)
        create = SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            "name text PRIMARY KEY, position bigint NOT NULL, state bytea NOT NULL)"
        ).format(table=table)
        try:
            with datastore.get_connection() as conn:
                conn.execute(create)
        except IntegrityError:
            # Two processes creating the table at once: PostgreSQL lets one win and
            # refuses the other's catalogue row; the table is there either way.
            pass

    def load(self, name: str) -> tuple[int, bytes] | None:
        """The committed position and encoded state of view `name` (None: never saved)."""
        with self.datastore.get_connection() as conn:
            row: Any = conn.execute(self._select, (name,), prepare=True).fetchone()
        return None if row is None else (int(row["position"]), bytes(row["state"]))

    def positions(self) -> dict[str, int]:
        """The position of every view kept in the store, by name (states not read)."""
        with self.datastore.get_connection() as conn:
            rows: Any = conn.execute(self._positions).fetchall()
        return {str(row["name"]): int(row["position"]) for row in rows}

    def save(self, name: str, *, expected: int | None, position: int, state: bytes) -> bool:
        """Compare-and-set view `name` from `expected` to (`position`, `state`)."""
        # One statement in autocommit is one transaction: the row lock taken by the
        # UPDATE makes a racing writer wait, then re-check its WHERE on the new row.
        with self.datastore.get_connection() as conn:
            if expected is None:
                cursor = conn.execute(self._insert, (name, position, state))
            else:
                cursor = conn.execute(self._update, (position, state, name, expected))
            return cursor.rowcount == 1


class MemoryViews:
    """Views of a ``memory:`` store, kept beside its recorder for the life of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[int, bytes]] = {}

    @classmethod
    def of(cls, recorder: MemoryApplicationRecorder) -> MemoryViews:
        """The views of the store `recorder` records for (one set per store)."""
        with _MEMORY_LOCK:
            views = _MEMORY_VIEWS.get(recorder)
            if views is None:
                views = _MEMORY_VIEWS[recorder] = cls()
            return views

    def load(self, name: str) -> tuple[int, bytes] | None:
        """The committed position and encoded state of view `name` (None: never saved)."""
        with self._lock:
            return self._rows.get(name)

    def positions(self) -> dict[str, int]:
        """The position of every view kept beside the store, by name."""
        with self._lock:
            return {name: row[0] for name, row in sorted(self._rows.items())}

    def save(self, name: str, *, expected: int | None, position: int, state: bytes) -> bool:
        """Compare-and-set view `name` from `expected` to (`position`, `state`)."""
        with self._lock:
            found = self._rows.get(name)
            if (None if found is None else found[0]) != expected:
                return False
            self._rows[name] = (position, state)
            return True


_MEMORY_VIEWS: weakref.WeakKeyDictionary[MemoryApplicationRecorder, MemoryViews] = (
    weakref.WeakKeyDictionary()
)
"""The views of each memory store, gone with its recorder."""
_MEMORY_LOCK = threading.Lock()


def views_for(recorder: object) -> SQLiteViews | PostgresViews | MemoryViews:
    """The view storage in the same database as `recorder`'s events."""
    datastore = getattr(recorder, "datastore", None)
    if isinstance(datastore, SQLiteDatastore):
        return SQLiteViews(datastore)
    if isinstance(recorder, MemoryApplicationRecorder):
        return MemoryViews.of(recorder)
    # Imported last, so a SQLite or memory store never loads psycopg.
    from eventsourcing.postgres import PostgresDatastore  # noqa: PLC0415

    if isinstance(datastore, PostgresDatastore):
        return PostgresViews(datastore)
    msg = (
        f"views cannot be kept beside a {type(recorder).__name__}: warmcase keeps them in "
        f"SQLite, PostgreSQL and memory: stores"
    )
    raise StoreError(msg)
