"""One command's unit of work: load what it touches, decide, collect new events.

A :class:`Transaction` is handed to a command's decision code. It loads records
(from the application's cache or store), validates the effective time once,
and collects the events the decisions return, evolving the loaded state so that
later decisions in the same command see earlier ones. Nothing reaches the store
until the application commits every touched record in one atomic write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from warmcase.domain.stream import Kind, Stream
from warmcase.errors import InvalidCommand, NotFound
from warmcase.events import Envelope, Event
from warmcase.personal import Keyring
from warmcase.refs import checked_ref

S = TypeVar("S")

Loader = Callable[[Kind[Any], str], "Stream[Any] | None"]


class Transaction:
    """The records one command reads and the events it will append."""

    def __init__(
        self, *, loader: Loader, actor: str, at: datetime, now: datetime, keyring: Keyring
    ) -> None:
        if not isinstance(actor, str) or not actor.strip():
            msg = f"actor {actor!r} is not usable: name who did it, e.g. actor='li.wei'"
            raise InvalidCommand(msg)
        self._loader = loader
        self.actor = actor
        self.at = at
        """The command's effective time, already checked (aware, not in the future)."""
        self.now = now
        self.keyring = keyring
        self._loaded: dict[tuple[str, str], Stream[Any] | None] = {}
        self._kinds: dict[tuple[str, str], Kind[Any]] = {}
        self._pending: dict[tuple[str, str], list[Event]] = {}

    def get(self, kind: Kind[S], ref: str) -> S | None:
        """The current state of the `kind` record `ref`, or None if there is none."""
        key = (kind.name, checked_ref(kind.name, ref))
        if key not in self._loaded:
            self._loaded[key] = self._loader(kind, ref)
            self._kinds[key] = kind
        stream = self._loaded[key]
        return None if stream is None else cast(S, stream.state)

    def require(self, kind: Kind[S], ref: str) -> S:
        """The current state of the `kind` record `ref`; refuse if it does not exist."""
        state = self.get(kind, ref)
        if state is None:
            msg = f"{kind.name} {ref} does not exist: register it first, or check the reference"
            raise NotFound(msg)
        return state

    def emit(self, kind: Kind[S], ref: str, events: Iterable[Event]) -> S | None:
        """Add `events` to the record; returns its state with them applied."""
        self.get(kind, ref)
        key = (kind.name, ref)
        stream = self._loaded[key]
        for event in events:
            state = kind.evolve(None if stream is None else stream.state, event)
            version = 1 if stream is None else stream.version + 1
            stream = Stream(kind.stream_id(ref), version, state)
            self._pending.setdefault(key, []).append(event)
        self._loaded[key] = stream
        return None if stream is None else cast(S, stream.state)

    def envelopes(self) -> list[Envelope]:
        """The new events, placed in their streams, in the order they were decided."""
        placed: list[Envelope] = []
        for key, events in self._pending.items():
            stream = self._loaded[key]
            assert stream is not None
            first = stream.version - len(events) + 1
            placed.extend(
                Envelope(stream.id, first + offset, event) for offset, event in enumerate(events)
            )
        return placed

    def touched(self) -> Sequence[tuple[Kind[Any], Stream[Any]]]:
        """The records this command changed, with their new state."""
        changed = []
        for key in self._pending:
            stream = self._loaded[key]
            assert stream is not None
            changed.append((self._kinds[key], stream))
        return changed

    @property
    def changed_anything(self) -> bool:
        """Whether the command decided any event at all."""
        return bool(self._pending)
