"""A projection worker: one process keeping several views of a store current, exactly once.

The worker follows the store at one URL for a set of projections (by default the
four behind the standard reports). Each turn reads the history once, in windows of
``batch_size`` positions, and folds every event into each view that reads it; each
view is then saved, state and position together, compare-and-set on the position
it was folded from (:class:`~warmcase_adapters.follower.Follower`). So a worker
killed at any moment restarts from its views' last saves, and two workers on one
store never fold an event into a view twice: the slower one's save is refused and
it goes on from the winner's view.

On PostgreSQL the worker wakes on the NOTIFY each insert sends, and polls every
``poll_seconds`` in any case, in case a notification was lost with a connection.
It stops cleanly on SIGTERM or SIGINT: the batch in hand is saved first.

Lag is reported per view: the head of the log, the view's position, the events
between them and the recorded time between them. :func:`lag` computes it in any
process, :func:`read_view` reads a view (position and decoded state) in any process.

Run: ``warmcase worker --store URL`` or ``python -m warmcase_adapters.worker --store URL``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import FrameType
from typing import Any, Generic, TypeVar

import attrs
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.sqlite import SQLiteDatastore

import warmcase
from warmcase.app import Warmcase
from warmcase.errors import StoreError, WarmcaseError
from warmcase.projections.projection import Projection
from warmcase.service.queries import STANDARD
from warmcase_adapters.follower import DEFAULT_BATCH_SIZE, Follower, wake_up_for
from warmcase_adapters.history import StoreHistory, history_for
from warmcase_adapters.mapper import EventMapper
from warmcase_adapters.memory_store import MemoryApplicationRecorder
from warmcase_adapters.views import views_for

S = TypeVar("S")

log = logging.getLogger("warmcase.worker")

STORE_VARIABLE = "WARMCASE_STORE"
DEFAULT_POLL_SECONDS = 5.0
"""Longest wait between looks at the log when no notification comes."""
DEFAULT_REPORT_SECONDS = 60.0
"""How often a running worker logs its lag."""
SAVE_SHARE = 0.1
"""Most of a worker's time that saving views may take: a view whose state is slow to
encode (it grows with the history) is saved after more events than `batch_size`."""

STANDARD_BY_NAME: dict[str, Projection[Any]] = {p.name: p for p in STANDARD}
"""The projections behind the standard reports, by name."""


def projection_named(name: str) -> Projection[Any]:
    """The standard projection `name`, or ``package.module:Class`` (made with no arguments)."""
    if name in STANDARD_BY_NAME:
        return STANDARD_BY_NAME[name]
    module_name, colon, class_name = name.partition(":")
    if not colon or not module_name or not class_name:
        msg = (
            f"unknown projection {name!r}: name one of {', '.join(STANDARD_BY_NAME)}, or a "
            f"projection class as 'package.module:ClassName'"
        )
        raise StoreError(msg)
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        msg = f"cannot load the projection {name!r}: {type(error).__name__}: {error}"
        raise StoreError(msg) from error
    if not (isinstance(found, type) and issubclass(found, Projection)):
        msg = f"{name!r} is not a Projection class"
        raise StoreError(msg)
    projection: Projection[Any] = found()
    return projection


def projections_named(names: Iterable[str]) -> list[Projection[Any]]:
    """The projections `names` name, in order, each once; the standard four if none."""
    chosen: dict[str, Projection[Any]] = {}
    for name in names:
        projection = projection_named(name)
        chosen.setdefault(projection.checkpoint_name, projection)
    return list(chosen.values()) if chosen else list(STANDARD)


# ---------------------------------------------------------------- reading views and lag


@attrs.frozen
class View(Generic[S]):
    """A view as read: the projection's state folded up to `position`."""

    name: str
    position: int
    state: S


def read_view(app: Warmcase, projection: Projection[S], *, current: bool = False) -> View[S]:
    """The view of `projection` as its workers saved it, from any process.

    With `current`, the events recorded since the view's position are folded in (in
    this process, nothing is saved): the state as of the last recorded event.
    """
    follower = Follower(app, projection)
    position, state = follower.view()
    if current:
        history = _history(app)
        head = history.last_position()
        if head > position:
            for event, meta in history.read(after=position, upto=head, types=projection.reads):
                state = follower.apply(state, event, meta)
            position = head
    return View(projection.checkpoint_name, position, state)


@attrs.frozen
class Lag:
    """How far one view is behind the log."""

    view: str
    head: int
    """The position of the last recorded event."""
    position: int
    """The position the view is folded up to (0: never saved)."""
    events_behind: int
    """Events recorded after the view's position."""
    seconds_behind: float
    """Recorded time of the head less that of the view's position (of the first event
    when the view was never saved); 0 when the view is current."""

    def line(self) -> str:
        """One line for a log."""
        if self.events_behind == 0:
            return f"view {self.view}: current at position {self.position}"
        return (
            f"view {self.view}: position {self.position} of {self.head}, "
            f"{self.events_behind} events and {self.seconds_behind:.1f} s behind"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return attrs.asdict(self)


def lag(app: Warmcase, projections: Iterable[Projection[Any]] | None = None) -> list[Lag]:
    """The lag of the views of `projections` (default: the standard four and every other
    view kept in the store, by name)."""
    history = _history(app)
    saved = views_for(app.recorder).positions()
    if projections is None:
        names = sorted(set(saved) | {p.checkpoint_name for p in STANDARD})
    else:
        names = [p.checkpoint_name for p in projections]
    head = history.last_position()
    head_time = history.recorded_at(head)
    first_time: datetime | None = None
    report = []
    for name in names:
        position = min(saved.get(name, 0), head)
        behind = count_events(app.recorder, after=position, upto=head)
        seconds = 0.0
        if behind and head_time is not None:
            since = history.recorded_at(position)
            if since is None:
                if first_time is None:
                    first_time = _first_recorded(history, head)
                since = first_time
            seconds = max(0.0, (head_time - since).total_seconds()) if since else 0.0
        report.append(Lag(name, head, position, behind, seconds))
    return report


def _first_recorded(history: StoreHistory, head: int) -> datetime | None:
    for _, meta in history.read(after=0, upto=head):
        return meta.recorded_at
    return None


def count_events(recorder: object, *, after: int, upto: int) -> int:
    """The events with after < position <= upto (positions may have gaps)."""
    if upto <= after:
        return 0
    if isinstance(recorder, MemoryApplicationRecorder):
        return upto - after  # one position per event, no gaps
    datastore = getattr(recorder, "datastore", None)
    table = str(getattr(recorder, "events_table_name", ""))
    if isinstance(datastore, SQLiteDatastore):
        with datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT count(*) FROM {table} WHERE rowid > ? AND rowid <= ?",  # noqa: S608
                (after, upto),
            )
            return int(c.fetchone()[0])
    # Imported last, so a SQLite or memory store never loads psycopg.
    from eventsourcing.postgres import PostgresDatastore  # noqa: PLC0415
    from psycopg.sql import SQL, Identifier  # noqa: PLC0415

    if isinstance(datastore, PostgresDatastore):
        statement = SQL(
            "SELECT count(*) AS n FROM {schema}.{table} "
            "WHERE notification_id > %s AND notification_id <= %s"
        ).format(schema=Identifier(datastore.schema), table=Identifier(table))
        with datastore.get_connection() as conn:
            row: Any = conn.execute(statement, (after, upto)).fetchone()
        return int(row["n"])
    return upto - after


def _history(app: Warmcase) -> StoreHistory:
    mapper = app.mapper
    if not isinstance(mapper, EventMapper):
        msg = f"views are read with warmcase's EventMapper, not {mapper!r}"
        raise StoreError(msg)
    return history_for(app.recorder, mapper)


# ---------------------------------------------------------------- the worker


class _Pending(Generic[S]):
    """A view being folded: where it stands in memory, and what is not saved yet."""

    __slots__ = ("count", "position", "save_seconds", "saved_at", "state")

    def __init__(self, position: int, state: S) -> None:
        self.position = position
        self.state = state
        self.count = 0
        self.saved_at = time.monotonic()
        self.save_seconds = 0.0


class Worker:
    """Keeps the views of `projections` in `app`'s store current, each event folded once."""

    def __init__(
        self,
        app: Warmcase,
        projections: Sequence[Projection[Any]] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        report_seconds: float = DEFAULT_REPORT_SECONDS,
    ) -> None:
        if not poll_seconds > 0:
            msg = f"poll_seconds must be more than 0; got {poll_seconds!r}"
            raise ValueError(msg)
        chosen = list(STANDARD) if projections is None else list(projections)
        names = [p.checkpoint_name for p in chosen]
        if not chosen or len(set(names)) != len(names):
            msg = f"a worker needs one or more projections, each once; got {names}"
            raise ValueError(msg)
        self.app = app
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.report_seconds = report_seconds
        self.folded = 0
        """Events folded into saved views by this worker."""
        self.lost = 0
        """Saves refused because another worker had saved the view first."""
        self._history = _history(app)
        views = views_for(app.recorder)
        self.followers: list[Follower[Any]] = [
            Follower(app, p, batch_size=batch_size, history=self._history, views=views)
            for p in chosen
        ]

    @property
    def projections(self) -> list[Projection[Any]]:
        """The projections this worker keeps views of."""
        return [f.projection for f in self.followers]

    def lag(self) -> list[Lag]:
        """How far each of this worker's views is behind the log."""
        return lag(self.app, self.projections)

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Catch every view up to the last recorded position (or until `stop` is set,
        saving what is folded first); the events folded into saved views."""
        target = self._history.last_position()
        pending: dict[Follower[Any], _Pending[Any]] = {}
        applied = 0
        while True:
            for follower in self.followers:
                if follower not in pending:
                    pending[follower] = _Pending(*follower.start())
            behind = [f for f in self.followers if pending[f].position < target]
            if not behind:
                return applied
            after = min(pending[f].position for f in behind)
            upto = min(target, after + self.batch_size)
            self._fold_window(behind, pending, after, upto)
            stopping = stop is not None and stop.is_set()
            for follower in behind:
                view = pending[follower]
                if not (stopping or view.position >= target or self._save_due(view)):
                    continue
                started = time.monotonic()
                if follower.save(view.position, view.state):
                    applied += view.count
                    self.folded += view.count
                    view.count = 0
                    view.saved_at = time.monotonic()
                    view.save_seconds = view.saved_at - started
                else:
                    # Another worker saved first (or an erasure came in): start again
                    # from the view as saved.
                    self.lost += 1
                    del pending[follower]
            if stopping:
                return applied

    def _fold_window(
        self,
        behind: list[Follower[Any]],
        pending: dict[Follower[Any], _Pending[Any]],
        after: int,
        upto: int,
    ) -> None:
        """Fold the events after < position <= upto into each view not past them yet,
        reading the history once for all of them."""
        readers = [
            (pending[f], f, f.projection.reads) for f in behind if pending[f].position < upto
        ]
        types = frozenset().union(*(reads for _, _, reads in readers))
        for page in self._history.read_pages(after=after, upto=upto, types=types):
            for event, meta in page:
                type_name = event.type_name
                for view, follower, reads in readers:
                    if type_name in reads and meta.position > view.position:
                        view.state = follower.apply(view.state, event, meta)
                        view.count += 1
        for view, _, _ in readers:
            view.position = upto

    def _save_due(self, view: _Pending[Any]) -> bool:
        if view.count < self.batch_size:
            return False
        # A view slow to encode is saved less often, so saving stays a small share.
        folding = time.monotonic() - view.saved_at
        return view.save_seconds <= SAVE_SHARE * folding

    def run(self, stop: threading.Event) -> None:
        """Follow until `stop` is set: catch up, then wait for new events (NOTIFY on
        PostgreSQL, every `poll_seconds` in any case), logging the lag now and then.

        A lost connection or a busy database is logged and retried after
        `poll_seconds`; a failing rule stops the worker with ProjectionFailed.
        """
        wake = wake_up_for(self.app.recorder)
        next_report = time.monotonic()
        log.info(
            "following %s for %s",
            type(self.app.recorder).__name__,
            ", ".join(f.name for f in self.followers),
        )
        try:
            while not stop.is_set():
                try:
                    folded = self.run_once(stop)
                    if folded:
                        log.debug("folded %d events", folded)
                    if time.monotonic() >= next_report:
                        next_report = time.monotonic() + self.report_seconds
                        for line in self.lag():
                            log.info("%s", line.line())
                except (OperationalError, InterfaceError) as error:
                    log.warning("store unavailable, retrying: %s", error)
                    for follower in self.followers:
                        follower.forget()
                wake.wait(stop, self.poll_seconds)
        finally:
            wake.close()
        log.info(
            "stopped: %d events folded into saved views, %d saves refused (another worker "
            "saved first, or an erasure came in)",
            self.folded,
            self.lost,
        )


# ---------------------------------------------------------------- the process


def stop_on_signals(stop: threading.Event) -> None:
    """Set `stop` on SIGTERM and SIGINT (the batch in hand is saved, then the worker ends)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: stopping after the batch in hand", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def serve(
    app: Warmcase,
    projections: Sequence[Projection[Any]] | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    report_seconds: float = DEFAULT_REPORT_SECONDS,
    stop: threading.Event | None = None,
) -> Worker:
    """Run a worker over `app` until `stop` is set (by SIGTERM or SIGINT if None)."""
    if stop is None:
        stop = threading.Event()
        stop_on_signals(stop)
    worker = Worker(
        app,
        projections,
        batch_size=batch_size,
        poll_seconds=poll_seconds,
        report_seconds=report_seconds,
    )
    worker.run(stop)
    return worker


def status_table(report: Sequence[Lag]) -> str:
    """`report` as a plain text table."""
    header = ("view", "position", "head", "events behind", "seconds behind")
    rows = [header] + [
        (r.view, str(r.position), str(r.head), str(r.events_behind), f"{r.seconds_behind:.1f}")
        for r in report
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m warmcase_adapters.worker``: run a worker, or print the lag and exit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=os.environ.get(STORE_VARIABLE), help="store URL")
    parser.add_argument(
        "--projection",
        action="append",
        default=[],
        help=f"one of {', '.join(STANDARD_BY_NAME)} or package.module:Class (repeatable)",
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--poll-seconds", type=float, default=DEFAULT_POLL_SECONDS)
    parser.add_argument("--report-seconds", type=float, default=DEFAULT_REPORT_SECONDS)
    parser.add_argument("--status", action="store_true", help="print the lag and exit")
    arguments = parser.parse_args(argv)
    if not arguments.store:
        parser.error(f"--store is required (or set {STORE_VARIABLE})")
    if arguments.batch_size < 1 or not arguments.poll_seconds > 0:
        parser.error("--batch-size must be 1 or more and --poll-seconds more than 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        projections = projections_named(arguments.projection)
        app = warmcase.open(arguments.store)
    except WarmcaseError as error:
        print(f"error: {error}", file=sys.stderr)  # noqa: T201
        return 2
    try:
        if arguments.status:
            shown = projections if arguments.projection else None
            print(status_table(lag(app, shown)))  # noqa: T201
        else:
            serve(
                app,
                projections,
                batch_size=arguments.batch_size,
                poll_seconds=arguments.poll_seconds,
                report_seconds=arguments.report_seconds,
            )
    except WarmcaseError as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
