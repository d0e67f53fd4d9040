"""A projection as a follower of the store: its view kept up to date, each event folded once.

A follower reads the events after its view's position, folds them with the
projection's rules and saves the new state with the new position in one write
(:mod:`warmcase_adapters.views`), compare-and-set on the position it started
from. So a process killed at any moment leaves the view at its last save and a
restart goes on from there, and of two followers of one view only one save of a
given stretch of history succeeds: the other reloads the winner's view and goes
on from its position. No event is folded twice, none is skipped.

::

    follower = Follower(app, StockLevels())
    follower.run_once()  # catch up now
    position, state = follower.view()
    follower.run(stop)  # or keep following until `stop` is set

On PostgreSQL a follower wakes on the NOTIFY every insert sends on the events
table's channel, with polling as a fallback; on SQLite and in memory it polls.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Generic, Protocol, TypeVar

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.sqlite import SQLiteDatastore

from warmcase.app import Warmcase
from warmcase.errors import ProjectionFailed, StoreError
from warmcase.events import Event
from warmcase.projections.history import History
from warmcase.projections.projection import Meta, Projection
from warmcase_adapters.codec import Codec
from warmcase_adapters.history import ErasedSince, ExistingKeysOnly, history_for
from warmcase_adapters.mapper import EventMapper
from warmcase_adapters.memory_store import MemoryApplicationRecorder
from warmcase_adapters.views import ViewStore, views_for

S = TypeVar("S")

DEFAULT_BATCH_SIZE = 1000

__all__ = ["DEFAULT_BATCH_SIZE", "Follower", "ProjectionFailed", "wake_up_for"]


class _Committed(Generic[S]):
    """A view as saved: `stored` is False until the first save makes its row."""

    __slots__ = ("position", "state", "stored")

    def __init__(self, position: int, state: S, *, stored: bool) -> None:
        self.position = position
        self.state = state
        self.stored = stored


class Follower(Generic[S]):
    """Keeps the view of `projection` in `app`'s store up to date with its history."""

    def __init__(
        self,
        app: Warmcase,
        projection: Projection[S],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        history: History | None = None,
        views: ViewStore | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            msg = f"batch_size must be a whole number of events, 1 or more; got {batch_size!r}"
            raise ValueError(msg)
        mapper = app.mapper
        if not isinstance(mapper, EventMapper):
            msg = f"a follower needs warmcase's EventMapper to encode views, not {mapper!r}"
            raise StoreError(msg)
        if history is None:
            history = history_for(app.recorder, mapper)
        self.app = app
        self.projection = projection
        self.batch_size = batch_size
        self.name = projection.checkpoint_name
        self._keyring = mapper.codec.keyring
        self._history = history
        self._views = views_for(app.recorder) if views is None else views
        self._committed: _Committed[S] | None = None

    # -- reading the view

    def view(self) -> tuple[int, S]:
        """The position and state of the view as saved in the store."""
        committed = self._load()
        return committed.position, committed.state

    def _load(self) -> _Committed[S]:
        found = self._views.load(self.name)
        if found is None:
            return _Committed(0, self.projection.initial(), stored=False)
        position, data = found
        state: S = Codec(ExistingKeysOnly(self._keyring)).decode(data)
        return _Committed(position, state, stored=True)

    def _encode(self, state: S) -> bytes | None:
        """`state` in the application's codec; None if it holds plaintext erased since."""
        try:
            return Codec(ExistingKeysOnly(self._keyring)).encode(state)
        except ErasedSince:
            return None

    # -- following

    # -- the steps of following, also driven by a worker over several views

    def start(self) -> tuple[int, S]:
        """The position and state folding goes on from: the saved view, kept in memory
        after this follower's own saves."""
        if self._committed is None:
            self._committed = self._load()
        return self._committed.position, self._committed.state

    def apply(self, state: S, event: Event, meta: Meta) -> S:
        """`state` after `event`, by the projection's rule; a rule that raises stops
        following with :class:`ProjectionFailed`."""
        try:
            return self.projection.apply(state, event, meta)
        except Exception as error:
            # Nothing folded from the failed batch stays cached.
            self._committed = None
            raise ProjectionFailed(self.name, meta.position, event.type_name, error) from error

    def save(self, position: int, state: S) -> bool:
        """Save `state`, folded from :meth:`start` up to `position`, if the view still
        holds what :meth:`start` gave; whether it did.

        Refused when another follower saved first, or when `state` holds plaintext of a
        subject erased since it was folded; either way the next :meth:`start` reloads
        the saved view, and folding again from there reads the erased values as erased.
        """
        committed = self._committed
        if committed is None:
            msg = "save() needs the view start() gave, and it was dropped: call start() again"
            raise StoreError(msg)
        self._committed = None
        encoded = self._encode(state)
        if encoded is None:
            return False
        saved = self._views.save(
            self.name,
            expected=committed.position if committed.stored else None,
            position=position,
            state=encoded,
        )
        if saved:
            self._committed = _Committed(position, state, stored=True)
        return saved

    def forget(self) -> None:
        """Drop the view kept in memory: the next :meth:`start` reads the saved one."""
        self._committed = None

    # -- following

    def run_once(self) -> int:
        """Catch the view up to the last recorded position, saving once per batch; the
        number of events this call folded into the saved view."""
        target = self._history.last_position()
        applied = 0
        while True:
            position, state = self.start()
            if position >= target:
                return applied
            state, upto, count = self._fold_batch(position, state, target)
            if self.save(upto, state):
                applied += count
            # Otherwise another follower saved first, or an erasure came in between:
            # the next turn reloads the saved view.

    def _fold_batch(self, after: int, state: S, target: int) -> tuple[S, int, int]:
        """The state after up to `batch_size` more events, the position it is folded up
        to, and how many events it took."""
        types = self.projection.reads
        count = 0
        # Reads go in windows of positions, so a projection that reads few types still
        # saves once per batch of its own events, not once per window.
        while after < target and count < self.batch_size:
            upto = min(target, after + self.batch_size)
            for event, meta in self._history.read(after=after, upto=upto, types=types):
                state = self.apply(state, event, meta)
                count += 1
            after = upto
        return state, after, count

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Follow until `stop` is set: catch up, then wait for new events (NOTIFY on
        PostgreSQL, every `poll_seconds` at most in any case).

        A lost connection or a busy database is retried after `poll_seconds`; a failing
        rule stops the follower with :class:`ProjectionFailed`.
        """
        wake = wake_up_for(self.app.recorder)
        try:
            while not stop.is_set():
                try:
                    self.run_once()
                except (OperationalError, InterfaceError):
                    self.forget()
                wake.wait(stop, poll_seconds)
        finally:
            wake.close()


# -- waking up


class WakeUp(Protocol):
    def wait(self, stop: threading.Event, seconds: float) -> None:
        """Return when new events may be there, `stop` is set, or `seconds` have passed."""
        ...

    def close(self) -> None:
        """Release what waiting holds."""
        ...


class _Poll:
    """Waking up on a timer only."""

    def wait(self, stop: threading.Event, seconds: float) -> None:
        """Return when `stop` is set or `seconds` have passed."""
        stop.wait(seconds)

    def close(self) -> None:
        """Nothing is held."""


class _Notifications:
    """Waking up on the NOTIFY that PostgreSQL inserts send, polling if the channel fails.

    LISTEN starts before the first catch-up, so a notification of an insert committed
    while catching up is queued on the connection, not missed.
    """

    _SLICE_SECONDS = 0.1
    """How often `stop` is checked while waiting."""

    def __init__(self, recorder: Any) -> None:
        self._recorder = recorder
        self._connection: Any = None
        self._listen()

    def _listen(self) -> None:
        # Imported here, so a SQLite store never loads psycopg.
        import psycopg  # noqa: PLC0415
        from psycopg.sql import SQL, Identifier  # noqa: PLC0415

        try:
            options = {"connect_timeout": 10, **self._recorder.datastore.pool.kwargs}
            connection = psycopg.connect(**options, autocommit=True)
            connection.execute(SQL("LISTEN {}").format(Identifier(self._recorder.channel_name)))
        except psycopg.Error:
            self._connection = None
            return
        self._connection = connection

    def wait(self, stop: threading.Event, seconds: float) -> None:
        """Return on a notification, when `stop` is set, or after `seconds`."""
        import psycopg  # noqa: PLC0415

        if self._connection is None:
            stop.wait(seconds)
            self._listen()
            return
        deadline = time.monotonic() + seconds
        try:
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                notified = False
                for _ in self._connection.notifies(
                    timeout=min(left, self._SLICE_SECONDS), stop_after=1
                ):
                    notified = True
                if notified:
                    # One catch-up covers every insert notified so far.
                    for _ in self._connection.notifies(timeout=0):
                        pass
                    return
        except psycopg.Error:
            self.close()

    def close(self) -> None:
        """Close the listening connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def wake_up_for(recorder: object) -> WakeUp:
    """How a follower of `recorder`'s store waits for new events."""
    if isinstance(recorder, MemoryApplicationRecorder) or isinstance(
        getattr(recorder, "datastore", None), SQLiteDatastore
    ):
        return _Poll()
    # Imported last, so a SQLite or memory store never loads psycopg.
    from eventsourcing.postgres import PostgresApplicationRecorder  # noqa: PLC0415

    if isinstance(recorder, PostgresApplicationRecorder):
        return _Notifications(recorder)
    return _Poll()
