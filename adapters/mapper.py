"""Maps warmcase events to eventsourcing's stored events and back.

The stored topic is the event's permanent type name (``household.surveyed``),
never a module path, so moving code never breaks history. The stored state is
``(version, fields)`` in the codec; older versions are upcast on the way out.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from warmcase.errors import StoredHistoryError
from warmcase.events import Envelope, Event, event_class, field_names, upcast
from warmcase_adapters.codec import Codec


class EventMapper(Mapper[UUID]):
    """Envelopes of warmcase events <-> stored events, through the msgpack codec."""

    def __init__(self, codec: Codec) -> None:
        super().__init__(transcoder=codec)
        self.codec = codec

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        """The stored form of an :class:`~warmcase.events.Envelope`."""
        envelope: Envelope = domain_event
        event = envelope.event
        fields = {name: getattr(event, name) for name in field_names(type(event))}
        return StoredEvent(
            originator_id=envelope.originator_id,
            originator_version=envelope.originator_version,
            topic=event.type_name,
            state=self.codec.encode((event.version, fields)),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """The :class:`~warmcase.events.Envelope` a stored event holds."""
        return Envelope(
            originator_id=_as_uuid(stored_event.originator_id),
            originator_version=stored_event.originator_version,
            event=self.event_of(stored_event.topic, stored_event.state),
        )

    def event_of(self, type_name: str, state: bytes) -> Event:
        """The event of `type_name` whose stored state is `state`."""
        cls = event_class(type_name)
        try:
            version, fields = self.codec.decode(state)
        except (ValueError, TypeError) as error:
            msg = f"stored {type_name} event cannot be decoded: {error}"
            raise StoredHistoryError(msg) from error
        if version != cls.version:
            fields = upcast(type_name, version, dict(fields))
        return cls(**fields)


def _as_uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
