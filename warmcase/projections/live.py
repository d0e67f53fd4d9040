"""Projections kept live in a process: folded states held in memory, checkpoints saved.

A process answering queries holds, per projection, the state folded up to the last
position it has seen (the live state) and a few states at checkpoint boundaries. A
query at the current basis folds only what was recorded since it last looked, which
is what makes the books read-your-writes: a command's events are in the answer to
the next query, whichever process wrote them. Folding across a boundary (a multiple
of ``checkpoint_every``) saves the state there as a checkpoint in the store, so any
process answering an older basis later starts from it instead of from the first
event.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from warmcase.projections.answering import Start, backdated_tail, complete_upto
from warmcase.projections.basis import Basis
from warmcase.projections.history import History
from warmcase.projections.projection import Projection

S = TypeVar("S")

DEFAULT_CHECKPOINT_EVERY = 10_000
"""Positions between saved checkpoints: an older basis folds at most this many events
from the checkpoint before it (plus the backdated entries it needs)."""

DEFAULT_HELD = 8
"""States at checkpoint boundaries each projection keeps in memory besides the live one."""


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
        }


@contextmanager
def folding() -> Iterator[None]:
    """No cycle collection while folding: states are acyclic persistent structures, and
    the collector's full passes over a large state cost more than the fold itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Held:
    """The prefix states one process holds for one projection, by position."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.live: Start[Any] | None = None
        self.boundaries: OrderedDict[int, Any] = OrderedDict()
        self.lock = threading.Lock()

    def nearest(self, upto: int) -> Start[Any] | None:
        best: Start[Any] | None = None
        if self.live is not None and self.live[0] <= upto:
            best = self.live
        for position, state in self.boundaries.items():
            if position <= upto and (best is None or position > best[0]):
                best = (position, state)
        if best is not None and best[0] in self.boundaries:
            self.boundaries.move_to_end(best[0])
        return best

    def hold(self, position: int, state: Any, *, boundary: bool) -> None:
        if self.live is None or position >= self.live[0]:
            self.live = (position, state)
        if boundary:
            self.boundaries[position] = state
            self.boundaries.move_to_end(position)
            while len(self.boundaries) > self.keep:
                self.boundaries.popitem(last=False)


class LiveViews:
    """Answers projections at any basis from held states, checkpoints and short tails."""

    def __init__(
        self,
        history: History,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        held: int = DEFAULT_HELD,
        save_checkpoints: bool = True,
    ) -> None:
        if checkpoint_every < 1:
            msg = f"checkpoint_every must be a positive number of positions, got {checkpoint_every}"
            raise ValueError(msg)
        self.history = history
        self.checkpoint_every = checkpoint_every
        self.save_checkpoints = save_checkpoints
        self._keep = held
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def _of(self, projection: Projection[Any]) -> _Held:
        with self._lock:
            return self._held.setdefault(projection.checkpoint_name, _Held(self._keep))

    def state_at(self, projection: Projection[S], basis: Basis) -> S:
        """The state of `projection` at `basis` (as :func:`~.answering.state_at` defines it)."""
        prefix_end = complete_upto(self.history, basis)
        state = self.prefix(projection, prefix_end)
        return backdated_tail(projection, self.history, basis, prefix_end, state)

    def prefix(self, projection: Projection[S], upto: int) -> S:
        """The state after every event up to position `upto`, saving checkpoints it crosses."""
        held = self._of(projection)
        with held.lock, folding():
            start = held.nearest(upto)
            saved = self.history.checkpoint(projection.checkpoint_name, at_or_before=upto)
            if saved is not None and (start is None or saved[0] > start[0]):
                start = saved
            position, state = (0, projection.initial()) if start is None else start
            # Fold boundary by boundary, so each boundary crossed is saved once.
            for boundary in self._boundaries(projection, position, upto):
                state = self._fold(projection, state, position, boundary)
                position = boundary
                if self.save_checkpoints:
                    self.history.save_checkpoint(projection.checkpoint_name, boundary, state)
                held.hold(boundary, state, boundary=True)
            state = self._fold(projection, state, position, upto)
            held.hold(upto, state, boundary=False)
            return state

    def _fold(self, projection: Projection[S], state: S, after: int, upto: int) -> S:
        if after >= upto:
            return state
        return projection.fold(
            self.history.read(after=after, upto=upto, types=projection.reads), state
        )

    def spacing(self, projection: Projection[Any]) -> int:
        """Positions between the checkpoints of `projection`."""
        return projection.checkpoint_every or self.checkpoint_every

    def _boundaries(self, projection: Projection[Any], after: int, upto: int) -> range:
        every = self.spacing(projection)
        first = (after // every + 1) * every
        return range(first, upto + 1, every)

    def forget(self, projections: Iterable[Projection[Any]] | None = None) -> None:
        """Drop the states held in memory (all, or those of `projections`)."""
        with self._lock:
            if projections is None:
                self._held.clear()
            else:
                for projection in projections:
                    self._held.pop(projection.checkpoint_name, None)

    def rebuild(
        self, projections: Sequence[Projection[Any]], *, upto: int | None = None
    ) -> RebuildReport:
        """Fold `projections` from the first event in one read, saving every checkpoint anew.

        Folds up to position `upto` (by default the last recorded).
        """
        began = time.perf_counter()
        self.forget(projections)
        for projection in projections:
            self.history.drop_checkpoints(projection.checkpoint_name)
        upto = self.history.last_position() if upto is None else upto
        types = frozenset().union(*(projection.reads for projection in projections))
        states = [projection.initial() for projection in projections]
        with folding():
            events, saved = self._fold_all(projections, states, upto, types)
        for projection, state in zip(projections, states, strict=True):
            self._of(projection).hold(upto, state, boundary=False)
        return RebuildReport(
            projections=tuple(projection.name for projection in projections),
            events=events,
            position=upto,
            checkpoints=saved,
            seconds=time.perf_counter() - began,
        )

    def _fold_all(
        self,
        projections: Sequence[Projection[Any]],
        states: list[Any],
        upto: int,
        types: frozenset[str],
    ) -> tuple[int, int]:
        readers = [projection.reads for projection in projections]
        spacings = [self.spacing(projection) for projection in projections]
        boundaries = spacings.copy()
        events = saved = 0
        for event, meta in self.history.read(after=0, upto=upto, types=types):
            events += 1
            type_name = event.type_name
            for index, projection in enumerate(projections):
                while meta.position > boundaries[index]:
                    saved += self._save(projection, boundaries[index], states[index])
                    boundaries[index] += spacings[index]
                if type_name in readers[index]:
                    states[index] = projection.apply(states[index], event, meta)
        for index, projection in enumerate(projections):
            while boundaries[index] <= upto:
                saved += self._save(projection, boundaries[index], states[index])
                boundaries[index] += spacings[index]
        return events, saved

    def _save(self, projection: Projection[Any], boundary: int, state: Any) -> int:
        if self.save_checkpoints:
            self.history.save_checkpoint(projection.checkpoint_name, boundary, state)
        self._of(projection).hold(boundary, state, boundary=True)
        return 1 if self.save_checkpoints else 0
