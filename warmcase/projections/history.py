"""The history as projections read it: the port the storage adapters implement.

Positions are global and assigned at commit; recorded times are the store's, one per
position, never before the event's effective time and monotonic in position.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from warmcase.events import Event
from warmcase.projections.projection import Meta


class History(Protocol):
    """Reads of the event log with positions, recorded times and effective times."""

    def last_position(self) -> int:
        """The position of the last recorded event (0 when there is none)."""
        ...

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 when none)."""
        ...

    def recorded_at(self, position: int) -> datetime | None:
        """When `position` was recorded (None for position 0)."""
        ...

    def read(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[tuple[Event, Meta]]:
        """Events with after < position <= upto, of `types` if given, in position order."""
        ...

    def read_pages(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[list[tuple[Event, Meta]]]:
        """What :meth:`read` yields, a list at a time (non-empty lists, in order): one
        pass over a page can feed several projections, each with a list of its own."""
        ...

    def read_effective(
        self,
        *,
        after: int,
        upto: int,
        effective_upto: datetime,
        types: frozenset[str] | None = None,
    ) -> Iterator[tuple[Event, Meta]]:
        """Like :meth:`read`, keeping only events effective at or before `effective_upto`."""
        ...

    def checkpoint(self, name: str, *, at_or_before: int) -> tuple[int, Any] | None:
        """The latest saved state of projection `name` at or before a position."""
        ...

    def save_checkpoint(self, name: str, position: int, state: Any) -> None:
        """Keep the folded state of projection `name` at `position`."""
        ...

    def drop_checkpoints(self, name: str) -> None:
        """Forget every saved state of projection `name` (before a rebuild)."""
        ...


class DelegatingHistory:
    """A :class:`History` passing every call to another: a base for wrappers that change
    one or two of them (counting what is read, ignoring saved checkpoints, ...)."""

    def __init__(self, history: History) -> None:
        self.history = history

    def last_position(self) -> int:
        """As the wrapped history has it."""
        return self.history.last_position()

    def position_at(self, moment: datetime) -> int:
        """As the wrapped history has it."""
        return self.history.position_at(moment)

    def recorded_at(self, position: int) -> datetime | None:
        """As the wrapped history has it."""
        return self.history.recorded_at(position)

    def read(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[tuple[Event, Meta]]:
        """As the wrapped history has it."""
        return self.history.read(after=after, upto=upto, types=types)

    def read_pages(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[list[tuple[Event, Meta]]]:
        """As the wrapped history has it."""
        return self.history.read_pages(after=after, upto=upto, types=types)

    def read_effective(
        self,
        *,
        after: int,
        upto: int,
        effective_upto: datetime,
        types: frozenset[str] | None = None,
    ) -> Iterator[tuple[Event, Meta]]:
        """As the wrapped history has it."""
        return self.history.read_effective(
            after=after, upto=upto, effective_upto=effective_upto, types=types
        )

    def checkpoint(self, name: str, *, at_or_before: int) -> tuple[int, Any] | None:
        """As the wrapped history has it."""
        return self.history.checkpoint(name, at_or_before=at_or_before)

    def save_checkpoint(self, name: str, position: int, state: Any) -> None:
        """As the wrapped history has it."""
        self.history.save_checkpoint(name, position, state)

    def drop_checkpoints(self, name: str) -> None:
        """As the wrapped history has it."""
        self.history.drop_checkpoints(name)
