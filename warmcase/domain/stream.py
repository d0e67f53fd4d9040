"""How an aggregate's state is folded from its events, whatever the aggregate.

Each aggregate module declares a :class:`Kind`: its name (used in stream ids and
messages) and its ``evolve`` function. Evolution never refuses: history written
under old rules must always replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar
from uuid import UUID

import attrs

from warmcase.events import Envelope, Event
from warmcase.refs import stream_id

S = TypeVar("S")


@attrs.frozen
class Kind(Generic[S]):
    """An aggregate kind: its name and how its state evolves."""

    name: str
    evolve: Callable[[S | None, Event], S]

    def stream_id(self, ref: str) -> UUID:
        """The stream id of the record named `ref`."""
        return stream_id(self.name, ref)


@attrs.frozen
class Stream(Generic[S]):
    """The state of one record after its first `version` events."""

    id: UUID
    version: int
    state: S


def projector(kind: Kind[S]) -> Callable[[Stream[S] | None, Iterable[Envelope]], Stream[S] | None]:
    """A projector function, in the shape eventsourcing's repository calls, for `kind`."""

    def project(current: Stream[S] | None, envelopes: Iterable[Envelope]) -> Stream[S] | None:
        for envelope in envelopes:
            state = kind.evolve(None if current is None else current.state, envelope.event)
            current = Stream(envelope.originator_id, envelope.originator_version, state)
        return current

    return project


def fold(kind: Kind[S], events: Iterable[Event]) -> S | None:
    """The state after `events`, starting from nothing (for tests and models)."""
    state: S | None = None
    for event in events:
        state = kind.evolve(state, event)
    return state
