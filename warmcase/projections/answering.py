"""Answering a projection at a basis: a checkpoint, then only the tail.

The answer at (position P, effective V) is the fold, in position order, of every
event recorded at or before P and effective at or before V. The store never records
an event before its effective time, so every event up to P(V) (the last position
recorded by V) is effective by V: that prefix comes from the nearest checkpoint plus
a contiguous read. Only events recorded after V can be effective before it
(backdated entries); those are read with a filter on effective time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from warmcase.events import Event
from warmcase.projections.basis import Basis
from warmcase.projections.history import History
from warmcase.projections.projection import Meta, Projection

S = TypeVar("S")


def state_at(projection: Projection[S], history: History, basis: Basis) -> S:
    """The folded state of `projection` at `basis`."""
    complete_upto = basis.position
    if basis.recorded_at is not None and basis.effective < basis.recorded_at:
        complete_upto = min(basis.position, history.position_at(basis.effective))
    found = history.checkpoint(projection.checkpoint_name, at_or_before=complete_upto)
    start, state = (0, projection.initial()) if found is None else found
    types = projection.reads
    state = projection.fold(history.read(after=start, upto=complete_upto, types=types), state)
    if complete_upto < basis.position:
        late = history.read_effective(
            after=complete_upto, upto=basis.position, effective_upto=basis.effective, types=types
        )
        state = projection.fold(late, state)
    return state


def brute_force(
    projection: Projection[S], recorded: Iterable[tuple[Event, Meta]], basis: Basis
) -> S:
    """The same answer by the definition alone, over a full list of events (for tests)."""
    chosen = [
        (event, meta)
        for event, meta in recorded
        if meta.position <= basis.position and event.effective_at <= basis.effective
    ]
    return projection.fold(chosen)
