"""The ``memory:`` store: eventsourcing's in-process recorders plus recorded times.

For tests and trials. Nothing survives the process, which is the point. The
recorder keeps the same time index as the database stores (recorded and effective
time per position, recorded time clamped the same way), projection checkpoints,
and reads raw rows for :mod:`warmcase_adapters.history`.
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
from warmcase_adapters.history import RawRow
from warmcase_adapters.mapper import BACKDATED_MICROS, effective_micros
from warmcase_adapters.sqlite_store import recorded_micros

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MemoryApplicationRecorder(popo.POPOApplicationRecorder):
    """Keeps the recorded and effective time of every position, assigned under the lock."""

    def __init__(self) -> None:
        super().__init__()
        self.clock: Clock = system_clock
        self._recorded_micros: list[int] = []
        self._effective_micros: list[int] = []
        self._checkpoints: dict[str, dict[int, bytes]] = {}

    def _insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self._database_lock:
            positions = super()._insert_events(stored_events, **kwargs)
            now = (self.clock() - _EPOCH) // timedelta(microseconds=1)
            effective = [effective_micros(stored) for stored in stored_events]
            last = self._recorded_micros[-1] if self._recorded_micros else None
            recorded = recorded_micros(now, last, effective)
            self._recorded_micros.extend([recorded] * len(stored_events))
            self._effective_micros.extend(recorded if at is None else at for at in effective)
            return positions

    def recorded_at(self, position: int) -> datetime:
        """When the event at `position` was recorded."""
        with self._database_lock:
            if not 1 <= position <= len(self._recorded_micros):
                msg = f"no event at position {position}"
                raise LookupError(msg)
            micros = self._recorded_micros[position - 1]
        return _EPOCH + timedelta(microseconds=micros)

    def recorded_micros_at_or_before(self, position: int) -> int | None:
        """Recorded time (µs) of the last event at or before `position`; None if none."""
        with self._database_lock:
            last = min(position, len(self._recorded_micros))
            return self._recorded_micros[last - 1] if last >= 1 else None

    def effective_micros_at(self, position: int) -> int:
        """The effective time (µs) kept for the event at `position`."""
        with self._database_lock:
            if not 1 <= position <= len(self._effective_micros):
                msg = f"no event at position {position}"
                raise LookupError(msg)
            return self._effective_micros[position - 1]

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 when none)."""
        micros = (moment - _EPOCH) // timedelta(microseconds=1)
        with self._database_lock:
            return bisect.bisect_right(self._recorded_micros, micros)

    def last_position(self) -> int:
        """The position of the last recorded event (0 when there is none)."""
        with self._database_lock:
            return len(self._stored_events)

    def raw_rows(
        self,
        *,
        after: int,
        upto: int,
        topics: Sequence[str] = (),
        effective_upto: int | None = None,
        backdated_only: bool = False,
        limit: int,
    ) -> list[RawRow]:
        """Undecoded events with after < position <= upto, in position order, at most `limit`.

        The same selection as the database stores' ``raw_rows``, by a scan.
        """
        wanted = frozenset(topics)
        rows: list[RawRow] = []
        with self._database_lock:
            stop = min(upto, len(self._stored_events))
            for index in range(max(after, 0), stop):
                stored = self._stored_events[index]
                recorded = self._recorded_micros[index]
                effective = self._effective_micros[index]
                if wanted and stored.topic not in wanted:
                    continue
                if effective_upto is not None and effective > effective_upto:
                    continue
                if backdated_only and not effective < recorded - BACKDATED_MICROS:
                    continue
                rows.append(
                    (
                        index + 1,
                        stored.originator_id,
                        stored.originator_version,
                        stored.topic,
                        stored.state,
                        recorded,
                    )
                )
                if len(rows) == limit:
                    break
        return rows

    def save_checkpoint(self, name: str, position: int, state: bytes) -> None:
        """Keep `state` as checkpoint `name` at `position`; a second save there is ignored."""
        with self._database_lock:
            self._checkpoints.setdefault(name, {}).setdefault(position, state)

    def select_checkpoint(self, name: str, at_or_before: int) -> tuple[int, bytes] | None:
        """The latest checkpoint `name` at or before a position, as (position, state)."""
        with self._database_lock:
            saved = self._checkpoints.get(name, {})
            found = [position for position in saved if position <= at_or_before]
            if not found:
                return None
            position = max(found)
            return position, saved[position]

    def checkpoint_positions(self, name: str) -> list[int]:
        """The positions checkpoint `name` was saved at, ascending."""
        with self._database_lock:
            return sorted(self._checkpoints.get(name, {}))

    def drop_checkpoints(self, name: str) -> None:
        """Forget every checkpoint `name`."""
        with self._database_lock:
            self._checkpoints.pop(name, None)


class MemoryFactory(popo.POPOFactory):
    """eventsourcing's POPO factory with a recorder that keeps recorded times."""

    def application_recorder(self) -> ApplicationRecorder:
        """A memory recorder with a recorded-time index."""
        return MemoryApplicationRecorder()


Factory = MemoryFactory
