"""The ``memory:`` store: eventsourcing's in-process recorders plus recorded times.

For tests and trials. Nothing survives the process, which is the point.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

# The module, not its classes: eventsourcing finds the one factory class defined here.
from eventsourcing import popo
from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from warmcase.clock import Clock, system_clock

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MemoryApplicationRecorder(popo.POPOApplicationRecorder):
    """Keeps the recorded time of every position, assigned under the write lock."""

    def __init__(self) -> None:
        super().__init__()
        self.clock: Clock = system_clock
        self._recorded_micros: list[int] = []

    def _insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self._database_lock:
            positions = super()._insert_events(stored_events, **kwargs)
            now = (self.clock() - _EPOCH) // timedelta(microseconds=1)
            # Monotonic in position even if the clock steps back.
            last = self._recorded_micros[-1] if self._recorded_micros else now
            self._recorded_micros.extend([max(now, last)] * len(stored_events))
            return positions

    def recorded_at(self, position: int) -> datetime:
        """When the event at `position` was recorded."""
        with self._database_lock:
            if not 1 <= position <= len(self._recorded_micros):
                msg = f"no event at position {position}"
                raise LookupError(msg)
            micros = self._recorded_micros[position - 1]
        return _EPOCH + timedelta(microseconds=micros)

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 when none)."""
        micros = (moment - _EPOCH) // timedelta(microseconds=1)
        with self._database_lock:
            return bisect.bisect_right(self._recorded_micros, micros)


class MemoryFactory(popo.POPOFactory):
    """eventsourcing's POPO factory with a recorder that keeps recorded times."""

    def application_recorder(self) -> ApplicationRecorder:
        """A memory recorder with a recorded-time index."""
        return MemoryApplicationRecorder()


Factory = MemoryFactory
