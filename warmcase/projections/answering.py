"""Answering a projection at a basis: a checkpoint, then only the tail.

The answer at (position P, effective V) is the fold, in position order, of every
event recorded at or before P and effective at or before V. The store never records
an event before its effective time, so every event up to P(V) (the last position
recorded by V) is effective by V: that prefix comes from the nearest saved state plus
a contiguous read. Only events recorded after V can be effective before it
(backdated entries); those are read with a filter on effective time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from warmcase.events import Event
from warmcase.projections.basis import Basis
from warmcase.projections.history import History
from warmcase.projections.projection import Meta, Projection

S = TypeVar("S")

Start = tuple[int, S]
"""A folded state and the position it includes every event up to."""

NearestStart = Callable[[int], "Start[S] | None"]
"""Given a position, the latest known state at or before it (None when there is none)."""


def complete_upto(history: History, basis: Basis) -> int:
    """The last position whose prefix is wholly effective at `basis`: min(P, P(V))."""
    if basis.recorded_at is not None and basis.effective < basis.recorded_at:
        return min(basis.position, history.position_at(basis.effective))
    return basis.position


def state_at(
    projection: Projection[S],
    history: History,
    basis: Basis,
    *,
    nearest: NearestStart[S] | None = None,
) -> S:
    """The folded state of `projection` at `basis`.

    Starts from the latest of the saved checkpoint and what `nearest` offers (states
    this process already holds) at or before the complete prefix.
    """
    prefix_end = complete_upto(history, basis)
    _, state = prefix_state(projection, history, prefix_end, nearest=nearest)
    return backdated_tail(projection, history, basis, prefix_end, state)


def prefix_state(
    projection: Projection[S],
    history: History,
    upto: int,
    *,
    nearest: NearestStart[S] | None = None,
) -> Start[S]:
    """The state after every event up to `upto`, from the nearest known start."""
    found = history.checkpoint(projection.checkpoint_name, at_or_before=upto)
    offered = nearest(upto) if nearest is not None else None
    if offered is not None and (found is None or offered[0] >= found[0]):
        found = offered
    start, state = (0, projection.initial()) if found is None else found
    if start < upto:
        state = projection.fold(history.read(after=start, upto=upto, types=projection.reads), state)
    return upto, state


def backdated_tail(
    projection: Projection[S], history: History, basis: Basis, prefix_end: int, state: S
) -> S:
    """`state` (folded up to `prefix_end`) plus the later entries already effective at `basis`."""
    if prefix_end >= basis.position:
        return state
    late = history.read_effective(
        after=prefix_end,
        upto=basis.position,
        effective_upto=basis.effective,
        types=projection.reads,
    )
    return projection.fold(late, state)


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
