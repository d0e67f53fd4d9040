"""Projections kept live in a process: folded states held in memory, checkpoints saved.

A process answering queries holds, per projection, the state folded up to the last
position it has seen (the live state) and snapshots of earlier states, one every
``snapshot_every`` events the projection read. Persistent states share structure, so
a snapshot costs only the paths the events since the one before changed. An answer
starts from the nearest held snapshot (or saved checkpoint) at or before its basis
and folds only the short tail after it. A query at the current basis folds only what
was recorded since it last looked, which is what makes the books read-your-writes: a
command's events are in the answer to the next query, whichever process wrote them.

Saved checkpoints are for fresh processes. Encoding one costs as much as the state is
large, and states grow with the history, so they are spaced geometrically (see
:func:`checkpoint_boundaries`): a rebuild saves one at its end, and a query that had to
fold a long way saves the boundaries it crossed, so the next fresh process does not.
"""

from __future__ import annotations

import gc
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from warmcase.events import Event
from warmcase.projections.answering import Start, backdated_tail, complete_upto
from warmcase.projections.basis import Basis
from warmcase.projections.history import History
from warmcase.projections.projection import Meta, Projection

S = TypeVar("S")

DEFAULT_CHECKPOINT_EVERY = 10_000
"""The first checkpoint boundary, and the least gap between two (see
:func:`checkpoint_boundaries`)."""

DEFAULT_SNAPSHOT_EVERY = 500
"""Events of a projection between two states a process holds in memory: an answer folds
at most this many of them after its nearest snapshot (plus the backdated entries)."""

LATE_AFTER = timedelta(minutes=10)
"""An event recorded more than this after it took effect is kept in a warm process's
cache of late entries (see :class:`_LateEntries`)."""

DEFAULT_SNAPSHOT_SPAN = 5000
"""Positions of the history a warm-up reads at most before it holds a snapshot of each
projection, however few of its events they held: an answer's tail is read by position."""

DEFAULT_HELD = 4096
"""Snapshots each projection keeps in memory at most; past that, every other one is
dropped (the spacing doubles), so memory stays bounded on any history."""


def checkpoint_boundaries(every: int, after: int, upto: int) -> Iterator[int]:
    """The checkpoint positions in (after, upto]: ``every``, then gaps of half the position
    so far (rounded up to a multiple of ``every``, at least ``every``).

    Saving a state costs in proportion to its size, which grows with the position, so
    geometric spacing bounds the cost of all checkpoints to about three times that of
    the last one, while a fresh process folds at most a third of the history before
    its basis.
    """
    boundary = every
    while boundary <= upto:
        if boundary > after:
            yield boundary
        gap = max(every, -(-(boundary // 2) // every) * every)
        boundary += gap


@attrs.frozen
class RebuildReport:
    """What a rebuild did."""

    projections: tuple[str, ...]
    events: int
    """Events read (each once, whatever number of projections folded it)."""
    position: int
    """The last position folded."""
    checkpoints: int
    """Checkpoints saved."""
    seconds: float
    jobs: int = 1
    """Processes that folded (see :mod:`~.parallel`)."""
    groups: tuple[RebuildReport, ...] = ()
    """With several processes, what each did (its events are those it read)."""

    @property
    def events_per_second(self) -> float:
        """Events read and folded per second."""
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "projections": list(self.projections),
            "events": self.events,
            "position": self.position,
            "checkpoints": self.checkpoints,
            "seconds": self.seconds,
            "events_per_second": self.events_per_second,
            "jobs": self.jobs,
            "groups": [group.to_dict() for group in self.groups],
        }


@contextmanager
def folding() -> Iterator[None]:
    """No cycle collection while folding, and what was folded kept out of its sight after.

    States are acyclic persistent structures, and the collector walks a persistent vector
    or map whole whenever it looks at it: every new version of a large map (its bucket
    vector is new after each change) is a young object, and one collection of the young
    generation over a 300,000-entry map was measured at 100 ms, on whichever answer it
    fell. So nothing is collected while folding, and at the end every object alive is
    moved to the collector's permanent generation (``gc.freeze``, which costs nothing);
    reference counting still frees them when dropped. Young cyclic garbage of the
    embedding program is collected first, so that freezing does not keep it forever.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


class _Held:
    """The prefix states one process holds for one projection, by position."""

    def __init__(self, keep: int) -> None:
        self.keep = max(2, keep)
        self.live: Start[Any] | None = None
        self.positions: list[int] = []
        self.states: list[Any] = []
        self.lock = threading.Lock()

    def nearest(self, upto: int) -> Start[Any] | None:
        best: Start[Any] | None = None
        if self.live is not None and self.live[0] <= upto:
            best = self.live
        index = bisect_right(self.positions, upto) - 1
        if index >= 0 and (best is None or self.positions[index] > best[0]):
            best = (self.positions[index], self.states[index])
        return best

    def hold(self, position: int, state: Any) -> None:
        """Keep `state` as the live one if it is the latest seen."""
        if self.live is None or position >= self.live[0]:
            self.live = (position, state)

    def snapshot(self, position: int, state: Any) -> None:
        """Keep `state` at `position` for answers at or after it."""
        index = bisect_right(self.positions, position)
        if index and self.positions[index - 1] == position:
            return
        self.positions.insert(index, position)
        self.states.insert(index, state)
        if len(self.positions) > self.keep:
            # Thin out evenly: the spacing doubles, the newest is kept.
            del self.positions[-2::-2], self.states[-2::-2]


class _LateEntries:
    """The events of a history entered late (recorded more than ``LATE_AFTER`` after they
    took effect), as a warm-up read them, in position order.

    An answer for an effective time V before its position P needs, beyond the prefix up to
    P(V), the events after it recorded by P and effective by V. Those recorded after
    V + LATE_AFTER were entered late by more than that, so they are all here: the answer
    reads from the store only the few minutes after V, and the events after what the cache
    covers. Decoded events hold personal values in clear: the cache goes with the held
    states when an erasure is seen.
    """

    def __init__(self, types: frozenset[str]) -> None:
        self.types = types
        self.upto = 0
        self.positions: list[int] = []
        self.entries: list[tuple[Event, Meta]] = []

    def add(self, event: Event, meta: Meta) -> None:
        if meta.recorded_at - event.effective_at > LATE_AFTER:
            self.positions.append(meta.position)
            self.entries.append((event, meta))

    def between(
        self, after: int, upto: int, effective: datetime, types: frozenset[str]
    ) -> Iterator[tuple[Event, Meta]]:
        """The cached events with after < position <= upto, of `types`, effective by then."""
        start = bisect_right(self.positions, after)
        stop = bisect_right(self.positions, upto)
        for event, meta in self.entries[start:stop]:
            if event.type_name in types and event.effective_at <= effective:
                yield event, meta


class _Folding:
    """One projection being folded forward: in a rebuild a page of the read at a time,
    kept thawed; in a warm-up ``every`` events at a time (see
    :meth:`~.projection.Projection.fold_page`), its state held after each batch."""

    def __init__(
        self, projection: Projection[Any], held: _Held, start: Start[Any], *, every: int | None
    ) -> None:
        self.projection = projection
        self.reads = projection.reads
        self.held = held
        self.position, self.state = start
        self.every = every
        self.pending: list[tuple[Event, Meta]] = []
        self.work: Any = None
        """The state thawed, while pages are folded with no snapshot between them."""
        self.since = 0
        self.snapped = self.position

    def feed(self, event: Event, meta: Meta) -> None:
        """Take one more event (in a warm-up), folding what is pending once there are
        ``every`` of them."""
        self.pending.append((event, meta))
        if self.every is not None and len(self.pending) >= self.every:
            self.flush()

    def fold_thawed(self, recorded: list[tuple[Event, Meta]]) -> None:
        """Fold `recorded`, the events after every one fed so far, with no snapshot
        wanted on the way (a rebuild): the state stays thawed from page to page and is
        made persistent once, by :meth:`flush`."""
        if self.work is None:
            self.work = self.projection.thawed(self.state)
        self.work = self.projection.fold_thawed(self.work, recorded)

    def flush(self) -> Any:
        """Fold what is pending; the state after every event fed."""
        if self.work is not None:
            self.state = self.projection.frozen(self.work)
            self.work = None
        if self.pending:
            self.state = self.projection.fold_page(self.state, self.pending)
            self.since += len(self.pending)
            last = self.pending[-1][1].position
            self.pending = []
            if self.every is not None and self.since >= self.every:
                self.since = 0
                self.snapped = last
                self.held.snapshot(last, self.state)
        return self.state

    def snapshot_at(self, position: int) -> None:
        """Hold the state at `position`: every event of the projection up to it was fed."""
        self.flush()
        self.since = 0
        self.snapped = position
        self.held.snapshot(position, self.state)


class LiveViews:
    """Answers projections at any basis from held states, checkpoints and short tails."""

    def __init__(
        self,
        history: History,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
        snapshot_span: int = DEFAULT_SNAPSHOT_SPAN,
        held: int = DEFAULT_HELD,
        save_checkpoints: bool = True,
    ) -> None:
        if checkpoint_every < 1:
            msg = f"checkpoint_every must be a positive number of positions, got {checkpoint_every}"
            raise ValueError(msg)
        if snapshot_every < 1:
            msg = f"snapshot_every must be a positive number of events, got {snapshot_every}"
            raise ValueError(msg)
        self.history = history
        self.checkpoint_every = checkpoint_every
        self.snapshot_every = snapshot_every
        self.snapshot_span = snapshot_span
        self.save_checkpoints = save_checkpoints
        self._keep = held
        self._held: dict[str, _Held] = {}
        self._late: _LateEntries | None = None
        self._lock = threading.Lock()

    def _of(self, projection: Projection[Any]) -> _Held:
        with self._lock:
            return self._held.setdefault(projection.checkpoint_name, _Held(self._keep))

    def state_at(self, projection: Projection[S], basis: Basis) -> S:
        """The state of `projection` at `basis` (as :func:`~.answering.state_at` defines it)."""
        prefix_end = complete_upto(self.history, basis)
        state = self.prefix(projection, prefix_end)
        late = self._late
        with folding():
            if late is None or not projection.reads <= late.types:
                return backdated_tail(projection, self.history, basis, prefix_end, state)
            return projection.fold(self._late_since(late, projection, basis, prefix_end), state)

    def _late_since(
        self, late: _LateEntries, projection: Projection[Any], basis: Basis, prefix_end: int
    ) -> Iterator[tuple[Event, Meta]]:
        """The events after `prefix_end` recorded by the basis and effective by it, in
        position order: the store's for the moments just after the effective time and
        after what the cache covers, the cache's for the rest."""
        effective, upto, types = basis.effective, basis.position, projection.reads
        split = min(max(prefix_end, self.history.position_at(effective + LATE_AFTER)), upto)
        yield from self.history.read_effective(
            after=prefix_end, upto=split, effective_upto=effective, types=types
        )
        yield from late.between(split, min(upto, late.upto), effective, types)
        if upto > max(split, late.upto):
            yield from self.history.read_effective(
                after=max(split, late.upto), upto=upto, effective_upto=effective, types=types
            )

    def prefix(self, projection: Projection[S], upto: int) -> S:
        """The state after every event up to position `upto`.

        A fold longer than the projection's checkpoint spacing saves the checkpoint
        boundaries it crosses (which a later fresh process then starts from); short tails
        after a held snapshot save nothing: they are cheaper to fold again than to encode.
        """
        held = self._of(projection)
        with held.lock, folding():
            start = self._start(projection, held, upto)
            position, state = start
            every = self.spacing(projection)
            if self.save_checkpoints and upto - position > every:
                saved = set(self._saved(projection) or ())
                for boundary in checkpoint_boundaries(every, position, upto):
                    if boundary in saved:
                        continue
                    state = self._fold(projection, held, (position, state), boundary)
                    position = boundary
                    self.history.save_checkpoint(projection.checkpoint_name, boundary, state)
            state = self._fold(projection, held, (position, state), upto)
            held.hold(upto, state)
            return state

    def _start(self, projection: Projection[S], held: _Held, upto: int) -> Start[S]:
        """The latest of the held states and the saved checkpoints at or before `upto`.

        Decoding a checkpoint costs as much as the state is large, so one is decoded only
        when it saves folding more than a checkpoint spacing after what this process holds.
        """
        start = held.nearest(upto)
        saved = self._saved(projection)
        if saved is None:
            found = self.history.checkpoint(projection.checkpoint_name, at_or_before=upto)
        else:
            index = bisect_right(saved, upto) - 1
            later = index >= 0 and (
                start is None or saved[index] - start[0] > self.spacing(projection)
            )
            found = (
                self.history.checkpoint(projection.checkpoint_name, at_or_before=upto)
                if later
                else None
            )
        if found is not None and (start is None or found[0] > start[0]):
            start = found
        return (0, projection.initial()) if start is None else start

    def _saved(self, projection: Projection[Any]) -> list[int] | None:
        """Positions of the saved checkpoints, where the history can list them cheaply."""
        positions: Callable[[str], list[int]] | None = getattr(
            self.history, "checkpoint_positions", None
        )
        return None if positions is None else positions(projection.checkpoint_name)

    def _fold(self, projection: Projection[S], held: _Held, start: Start[S], upto: int) -> S:
        after, state = start
        if after >= upto:
            return state
        every = self.snapshots_every(projection)
        run = _Folding(projection, held, start, every=every)
        for event, meta in self.history.read(after=after, upto=upto, types=projection.reads):
            run.feed(event, meta)
        result: S = run.flush()
        return result

    def spacing(self, projection: Projection[Any]) -> int:
        """The checkpoint spacing of `projection` (see :func:`checkpoint_boundaries`)."""
        return projection.checkpoint_every or self.checkpoint_every

    def snapshots_every(self, projection: Projection[Any]) -> int:
        """Events of `projection` between the snapshots this process holds."""
        return projection.snapshot_every or self.snapshot_every

    def live_position(self, projection: Projection[Any]) -> int | None:
        """The position of the latest state this process holds for `projection` (None:
        it holds none, and an answer starts from a checkpoint or the first event)."""
        live = self._of(projection).live
        return None if live is None else live[0]

    def snapshots(self, projection: Projection[Any]) -> list[int]:
        """Positions of the states this process holds for `projection`, ascending."""
        return list(self._of(projection).positions)

    def forget(self, projections: Iterable[Projection[Any]] | None = None) -> None:
        """Drop the states held in memory (all, or those of `projections`), and the cache
        of late entries."""
        with self._lock:
            self._late = None
            if projections is None:
                self._held.clear()
            else:
                for projection in projections:
                    self._held.pop(projection.checkpoint_name, None)

    def rebuild(
        self,
        projections: Sequence[Projection[Any]],
        *,
        upto: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RebuildReport:
        """Fold `projections` from the first event in one read, replacing their checkpoints
        with one at the position folded to.

        Folds up to position `upto` (by default the last recorded). The process keeps
        the final states, not snapshots on the way (see :meth:`warm` for those).
        `progress`, if given, is called with the position reached after each page
        read, and with `upto` at the end.
        """
        began = time.perf_counter()
        self.forget(projections)
        for projection in projections:
            self.history.drop_checkpoints(projection.checkpoint_name)
        upto = self.history.last_position() if upto is None else upto
        events, states = self._fold_all(projections, upto, snapshots=False, progress=progress)
        saved = 0
        for projection, state in zip(projections, states, strict=True):
            self._of(projection).hold(upto, state)
            if self.save_checkpoints and upto > 0:
                self.history.save_checkpoint(projection.checkpoint_name, upto, state)
                saved += 1
        return RebuildReport(
            projections=tuple(projection.name for projection in projections),
            events=events,
            position=upto,
            checkpoints=saved,
            seconds=time.perf_counter() - began,
        )

    def warm(self, projections: Sequence[Projection[Any]], *, upto: int | None = None) -> int:
        """Fold `projections` from the first event up to `upto` (the last position by
        default) in one read, holding a snapshot every ``snapshot_every`` events of each,
        so that answers at any basis afterwards fold only short tails. Saves nothing;
        returns the events read."""
        upto = self.history.last_position() if upto is None else upto
        self.forget(projections)
        events, states = self._fold_all(projections, upto, snapshots=True)
        for projection, state in zip(projections, states, strict=True):
            self._of(projection).hold(upto, state)
        return events

    def _fold_all(
        self,
        projections: Sequence[Projection[Any]],
        upto: int,
        *,
        snapshots: bool,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[int, list[Any]]:
        """Fold `projections` from the first event up to `upto` in one read."""
        runs = [
            _Folding(
                projection,
                self._of(projection),
                (0, projection.initial()),
                every=self.snapshots_every(projection) if snapshots else None,
            )
            for projection in projections
        ]
        types = frozenset().union(*(projection.reads for projection in projections))
        pages = self.history.read_pages(after=0, upto=upto, types=types)
        if progress is not None:
            pages = _reporting(pages, progress, upto)
        with folding():
            if snapshots:
                late = _LateEntries(types)
                events = self._fold_snapshotting(runs, pages, late)
                late.upto = upto
                self._late = late
            else:
                events = _fold_pages(runs, pages, types)
            states = [run.flush() for run in runs]
        return events, states

    def _fold_snapshotting(
        self,
        runs: list[_Folding],
        pages: Iterator[list[tuple[Event, Meta]]],
        late: _LateEntries,
    ) -> int:
        """Feed `runs` event by event, holding each one's state on the way."""
        events = 0
        span = self.snapshot_span
        for page in pages:
            events += len(page)
            for event, meta in page:
                type_name = event.type_name
                position = meta.position
                for run in runs:
                    if position - 1 - run.snapped >= span:
                        # A long stretch without this projection's events: hold its state
                        # here too, so that no answer's tail scans more than the span.
                        run.snapshot_at(position - 1)
                    if type_name in run.reads:
                        run.feed(event, meta)
                late.add(event, meta)
        return events


def _fold_pages(
    runs: list[_Folding], pages: Iterator[list[tuple[Event, Meta]]], types: frozenset[str]
) -> int:
    """Fold each page of the read into `runs`, with no state held on the way (a rebuild):
    a run that reads every type read gets the page whole, the others their own events of
    it (one list each, instead of a call per event and projection)."""
    events = 0
    for page in pages:
        events += len(page)
        for run in runs:
            reads = run.reads
            mine = page if reads >= types else [r for r in page if r[0].type_name in reads]
            if mine:
                run.fold_thawed(mine)
    return events


def _reporting(
    pages: Iterator[list[tuple[Event, Meta]]], progress: Callable[[int], None], upto: int
) -> Iterator[list[tuple[Event, Meta]]]:
    """`pages`, calling `progress` with the position reached after each (a progress bar)."""
    for page in pages:
        progress(page[-1][1].position)
        yield page
    progress(upto)
