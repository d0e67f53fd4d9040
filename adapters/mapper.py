"""Maps warmcase events to eventsourcing's stored events and back.

The stored topic is the event's permanent type name (``household.surveyed``),
never a module path, so moving code never breaks history. The stored state is
``(version, fields)`` in the codec; older versions are upcast on the way out.
A stored event also carries the event's effective time, which the recorders keep
in their time index beside the recorded time (never inside the state, so the
index can be filtered without decoding anything).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from warmcase.errors import StoredHistoryError
from warmcase.events import Envelope, Event, event_class, field_names, upcast
from warmcase_adapters.codec import Codec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


BACKDATED_MICROS = 10 * 60 * 1_000_000
"""An event is *backdated* when it took effect more than this (10 minutes) before it was
recorded. Ordinary commands are recorded moments after they take effect; the stores keep
a small index of the backdated rest, which is all that answers for a past effective time
need beyond a contiguous range."""


def micros_since_epoch(moment: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime: how the index keeps times."""
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class TimedStoredEvent(StoredEvent):
    """A stored event with the effective time of its event, for the recorders' time index."""

    effective_at: int
    """Microseconds since 1970-01-01 UTC of the event's ``effective_at``."""


def effective_micros(stored_event: StoredEvent) -> int | None:
    """The effective time a stored event carries; None for a plain one (library tests)."""
    return stored_event.effective_at if isinstance(stored_event, TimedStoredEvent) else None


class EventMapper(Mapper[UUID]):
    """Envelopes of warmcase events <-> stored events, through the msgpack codec."""

    def __init__(self, codec: Codec) -> None:
        super().__init__(transcoder=codec)
        self.codec = codec
        self._classes: dict[str, tuple[type[Event], int]] = {}

    def to_stored_event(self, domain_event: Any) -> TimedStoredEvent:
        """The stored form of an :class:`~warmcase.events.Envelope`, with its effective time."""
        envelope: Envelope = domain_event
        event = envelope.event
        fields = {name: getattr(event, name) for name in field_names(type(event))}
        return TimedStoredEvent(
            originator_id=envelope.originator_id,
            originator_version=envelope.originator_version,
            topic=event.type_name,
            state=self.codec.encode((event.version, fields)),
            effective_at=micros_since_epoch(event.effective_at),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """The :class:`~warmcase.events.Envelope` a stored event holds."""
        return Envelope(
            originator_id=_as_uuid(stored_event.originator_id),
            originator_version=stored_event.originator_version,
            event=self.event_of(stored_event.topic, stored_event.state),
        )

    def event_of(self, type_name: str, state: bytes, codec: Codec | None = None) -> Event:
        """The event of `type_name` whose stored state is `state` (decoded by `codec` if given)."""
        return self.decoder(codec or self.codec)(type_name, state)

    def decoder(self, codec: Codec) -> Callable[[str, bytes], Event]:
        """:meth:`event_of` with `codec`, for the many events of a page: each type's
        class and version are looked up once per mapper."""
        decode = codec.decode
        classes = self._classes

        def event_of(type_name: str, state: bytes) -> Event:
            try:
                cls, current = classes[type_name]
            except KeyError:
                found = event_class(type_name)
                cls, current = classes[type_name] = (found, found.version)
            try:
                version, fields = decode(state)
            except (ValueError, TypeError) as error:
                msg = f"stored {type_name} event cannot be decoded: {error}"
                raise StoredHistoryError(msg) from error
            if version != current:
                fields = upcast(type_name, version, dict(fields))
            return cls(**fields)

        return event_of


def _as_uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
