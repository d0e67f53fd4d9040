"""The composition root: builds a warmcase application over the store a URL names.

``warmcase.open`` finds these functions through the ``warmcase.stores`` entry
points, so the core never imports an adapter.
"""

from __future__ import annotations

from typing import Any

from warmcase.app import Warmcase
from warmcase.clock import Clock, system_clock
from warmcase.errors import StoreError
from warmcase.personal import Keyring
from warmcase_adapters.codec import Codec
from warmcase_adapters.keyring import MemoryKeyring
from warmcase_adapters.mapper import EventMapper

DEFAULT_CACHE_SIZE = 10_000
"""Aggregates kept in memory per process; each is fast-forwarded on load, so a cached
record is never stale even with other writers."""


def build(
    env: dict[str, str],
    keyring: Keyring,
    *,
    clock: Clock | None = None,
    cache_size: int | None = None,
) -> Warmcase:
    """The application over the recorders `env` selects, with warmcase's codec and keyring."""
    base_env = {
        "AGGREGATE_CACHE_MAXSIZE": str(DEFAULT_CACHE_SIZE if cache_size is None else cache_size),
        # States are immutable, so cached ones need no defensive copies.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }
    base_env.update(env)
    # eventsourcing looks up "WARMCASE_<KEY>" before "<KEY>", and merges the process
    # environment in; spelling each key both ways keeps a stray variable from
    # overriding what the URL says.
    prefix = Warmcase.name.upper() + "_"
    base_env.update({prefix + key: value for key, value in list(base_env.items())})
    return Warmcase(
        env=base_env,
        mapper=EventMapper(Codec(keyring)),
        keyring=keyring,
        clock=clock or system_clock,
    )


def _answering(app: Warmcase) -> Warmcase:
    """`app`, answering queries from its own store's history."""
    # Imported here: the history adapter loads each store's reader lazily, like open_*.
    from warmcase_adapters.history import history_for  # noqa: PLC0415

    app.attach_history(history_for(app.recorder, app.mapper))
    return app


def _options(options: dict[str, Any]) -> tuple[Clock | None, int | None]:
    unknown = sorted(set(options) - {"clock", "cache_size"})
    if unknown:
        msg = f"unknown store options {unknown}; accepted: clock, cache_size"
        raise StoreError(msg)
    return options.get("clock"), options.get("cache_size")


def open_memory(url: str, **options: Any) -> Warmcase:
    """A store in this process's memory (``memory:``): for tests and trials."""
    clock, cache_size = _options(options)
    app = build(
        {"PERSISTENCE_MODULE": "warmcase_adapters.memory_store"},
        MemoryKeyring(),
        clock=clock,
        cache_size=cache_size,
    )
    app.recorder.clock = clock or system_clock  # type: ignore[attr-defined]
    return _answering(app)


def _shared(app: Warmcase, url: str) -> Warmcase:
    """`app`, able to rebuild with several jobs in processes of their own that open `url`
    (a store other processes can open: a file or a server, not ``:memory:``)."""
    from warmcase_adapters.parallel import attach  # noqa: PLC0415

    return attach(app, url)


def open_sqlite(url: str, **options: Any) -> Warmcase:
    """A store in one SQLite file: the embedded default.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or a bare path;
    ``sqlite:///:memory:`` for a private in-memory database. Several processes may
    open one file: writers take turns, each waiting up to 30 s for another's lock.
    Keys for personal data are kept in the same file.
    """
    # Imported here, so opening one kind of store never loads another's driver.
    import sqlite3  # noqa: PLC0415

    from eventsourcing.persistence import PersistenceError  # noqa: PLC0415

    from warmcase_adapters import sqlite_store  # noqa: PLC0415

    clock, cache_size = _options(options)
    db_name = sqlite_store.database_name(url)
    keyring = sqlite_store.SQLiteKeyring()
    env = {
        "PERSISTENCE_MODULE": "warmcase_adapters.sqlite_store",
        "SQLITE_DBNAME": db_name,
        "SQLITE_LOCK_TIMEOUT": str(sqlite_store.LOCK_TIMEOUT_SECONDS),
    }
    try:
        app = build(env, keyring, clock=clock, cache_size=cache_size)
    except (PersistenceError, sqlite3.Error) as error:
        raise sqlite_store.open_failure(url, db_name, error) from error
    recorder = app.recorder
    if not isinstance(recorder, sqlite_store.WarmcaseSQLiteApplicationRecorder):
        app.close()
        msg = (
            f"the SQLite store {url!r} got a {type(recorder).__name__}, which keeps no recorded "
            f"times: unset APPLICATION_RECORDER_TOPIC in the environment"
        )
        raise StoreError(msg)
    recorder.clock = clock or system_clock
    try:
        keyring.attach(recorder.datastore)
    except (PersistenceError, sqlite3.Error) as error:
        app.close()
        raise sqlite_store.open_failure(url, db_name, error) from error
    return _shared(_answering(app), url)


def open_postgresql(url: str, **options: Any) -> Warmcase:
    """A store in a PostgreSQL database, shared by many processes and machines.

    ``postgresql://user:password@host:port/dbname``; a unix socket directory goes in
    ``?host=/path``, a schema in ``?schema=name``. Tables are created if missing.
    Keys for personal data are kept in the same database.
    """
    # Imported here, so opening one kind of store never loads another's driver.
    from eventsourcing.persistence import PersistenceError  # noqa: PLC0415

    from warmcase_adapters import postgres_store  # noqa: PLC0415

    clock, cache_size = _options(options)
    location = postgres_store.PostgresLocation.from_url(url)
    location.check_reachable(url)
    keyring = postgres_store.PostgresKeyring()
    env = {
        "PERSISTENCE_MODULE": "warmcase_adapters.postgres_store",
        **location.env(),
        # The insert path that skips the table lock loses events for readers: never.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
    }
    try:
        app = build(env, keyring, clock=clock, cache_size=cache_size)
    except PersistenceError as error:
        msg = f"cannot open the PostgreSQL store {postgres_store.redact(url)!r}: {error}"
        raise StoreError(msg) from error
    recorder = app.recorder
    if not isinstance(recorder, postgres_store.WarmcasePostgresApplicationRecorder):
        app.close()
        msg = (
            f"the PostgreSQL store {postgres_store.redact(url)!r} got a "
            f"{type(recorder).__name__}, which keeps no recorded times: unset "
            f"APPLICATION_RECORDER_TOPIC in the environment"
        )
        raise StoreError(msg)
    recorder.clock = clock or system_clock
    try:
        keyring.attach(recorder.datastore)
    except PersistenceError as error:
        app.close()
        msg = f"cannot keep keys in the PostgreSQL store {postgres_store.redact(url)!r}: {error}"
        raise StoreError(msg) from error
    return _shared(_answering(app), url)
