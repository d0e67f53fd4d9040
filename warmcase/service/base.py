"""The machinery every command shares: load, decide, save atomically, retry on conflict.

A command's decision code runs inside :meth:`ServiceBase._transact`. All records
it changes are saved in ONE write to the store; if another writer got there first
(a version conflict), the records are reloaded and the decisions run again, a
bounded number of times, before :class:`~warmcase.errors.ConcurrencyConflict`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Concatenate, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Mapper, RecordConflictError, StoredEvent
from eventsourcing.utils import EnvType

from warmcase.clock import Clock, effective_time, system_clock
from warmcase.domain import campaign as campaign_
from warmcase.domain.stream import Kind, Stream, projector
from warmcase.errors import ConcurrencyConflict
from warmcase.events import Envelope, Event
from warmcase.personal import Keyring
from warmcase.transaction import Transaction

R = TypeVar("R")
S = TypeVar("S")

Decision = Callable[Concatenate[S, ...], list[Event]]
"""A domain decision: the record's current state, keyword arguments, `actor` and `at`."""


class ServiceBase(Application[UUID]):
    """An eventsourcing application whose aggregates are folded by warmcase's decide/evolve."""

    name = "warmcase"
    max_attempts = 8
    """How many times a command is decided again after a version conflict."""

    def __init__(
        self,
        *,
        env: EnvType,
        mapper: Mapper[UUID],
        keyring: Keyring,
        clock: Clock = system_clock,
    ) -> None:
        self._mapper = mapper
        self.keyring = keyring
        self.clock = clock
        self._batches = threading.local()
        super().__init__(env)

    def construct_mapper(self) -> Mapper[UUID]:
        """The mapper chosen by the composition root (codec, stable type names)."""
        return self._mapper

    def _load(self, kind: Kind[Any], ref: str) -> Stream[Any] | None:
        try:
            stream: Stream[Any] = self.repository.get(
                kind.stream_id(ref),
                projector_func=projector(kind),
                deepcopy_from_cache=False,
            )
        except AggregateNotFoundError:
            return None
        return stream

    def envelope(self, stored: StoredEvent) -> Envelope:
        """The event a stored record holds, placed in its stream."""
        envelope = self.mapper.to_domain_event(stored)
        assert isinstance(envelope, Envelope)
        return envelope

    def load(self, kind: Kind[Any], ref: str) -> Any:
        """The current state of the `kind` record `ref`, or None (read-only use)."""
        stream = self._load(kind, ref)
        return None if stream is None else stream.state

    def _transact(
        self,
        decide: Callable[[Transaction], R],
        *,
        actor: str,
        effective_at: datetime | None = None,
    ) -> R:
        """Run `decide` and save every record it changed in one atomic write."""
        batch: _Batch | None = getattr(self._batches, "current", None)
        if batch is not None:
            return batch.run(
                decide,
                actor=actor,
                effective_at=effective_at,
                now=self.clock(),
                keyring=self.keyring,
            )
        for attempt in range(self.max_attempts):
            now = self.clock()
            tx = Transaction(
                loader=self._load,
                actor=actor,
                at=effective_time(effective_at, now),
                now=now,
                keyring=self.keyring,
            )
            result = decide(tx)
            if not tx.changed_anything:
                return result
            try:
                self._commit(tx.envelopes())
            except RecordConflictError:
                # The cache still holds only committed states, which fast-forward on load.
                # Back off a little, with jitter, so two writers do not collide again.
                time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311
                continue
            self._remember(tx)
            return result
        msg = (
            f"gave up after {self.max_attempts} attempts: other writers kept changing the same "
            f"records; nothing was appended, so the command can be sent again"
        )
        raise ConcurrencyConflict(msg)

    def atomically(self, commands: Callable[[], R]) -> R:
        """Run `commands` (calls of this application's commands) as ONE atomic write.

        Each command decides as usual and sees what the earlier ones decided, but
        nothing is appended until `commands` returns; then every event of every
        command is appended in one transaction. If `commands` raises, nothing is
        appended: a command refused inside may be caught there, which leaves out
        only that command. After a version conflict `commands` runs again from the
        start, so it must keep no state of its own between runs. Queries inside it
        read the store, not the pending commands. Nested calls join the outer one.
        """
        if getattr(self._batches, "current", None) is not None:
            return commands()
        for attempt in range(self.max_attempts):
            batch = _Batch(self._load)
            self._batches.current = batch
            try:
                result = commands()
            finally:
                self._batches.current = None
            if not batch.envelopes:
                return result
            try:
                self._commit(batch.envelopes)
            except RecordConflictError:
                time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311
                continue
            cache = self.repository.cache
            if cache is not None:
                for stream in batch.streams.values():
                    cache.put(stream.id, stream)
            return result
        msg = (
            f"gave up after {self.max_attempts} attempts: other writers kept changing the "
            f"records of this batch; nothing was appended, so it can be sent again"
        )
        raise ConcurrencyConflict(msg)

    def _decide_on(
        self,
        kind: Kind[S],
        ref: str,
        decision: Decision[S],
        /,
        *,
        actor: str,
        effective_at: datetime | None,
        **arguments: Any,
    ) -> str:
        """Decide on the existing `kind` record `ref` and save what was decided; returns `ref`.

        Calls ``decision(current, **arguments, actor=tx.actor, at=tx.at)`` within
        :meth:`_transact`; refuses with NotFound if the record does not exist.
        """

        def decide(tx: Transaction) -> str:
            current = tx.require(kind, ref)
            tx.emit(kind, ref, decision(current, **arguments, actor=tx.actor, at=tx.at))
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def _decide_on_in_campaign(
        self,
        kind: Kind[S],
        ref: str,
        decision: Decision[S],
        /,
        *,
        campaign: str,
        actor: str,
        effective_at: datetime | None,
        **arguments: Any,
    ) -> str:
        """As :meth:`_decide_on`, passing the state of campaign `campaign` as ``campaign=``.

        The record is required before the campaign, so a missing record is named first.
        """

        def decide(tx: Transaction) -> str:
            current = tx.require(kind, ref)
            running = tx.require(campaign_.KIND, campaign)
            tx.emit(
                kind,
                ref,
                decision(current, campaign=running, **arguments, actor=tx.actor, at=tx.at),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def _commit(self, envelopes: list[Envelope]) -> None:
        """Append `envelopes` in one transaction (raises RecordConflictError on a race)."""
        self.save(*envelopes)

    def _forget_plaintext(self) -> None:
        """Drop whatever this process holds in clear besides the record cache (after an erasure)."""

    def _remember(self, tx: Transaction) -> None:
        cache = self.repository.cache
        if cache is not None:
            for _, stream in tx.touched():
                cache.put(stream.id, stream)


class _Batch:
    """The commands of one :meth:`ServiceBase.atomically` call: their records and events."""

    def __init__(self, load: Callable[[Kind[Any], str], Stream[Any] | None]) -> None:
        self._load = load
        self.streams: dict[UUID, Stream[Any]] = {}
        """Records changed so far, in their new state; later commands load these."""
        self.envelopes: list[Envelope] = []

    def load(self, kind: Kind[Any], ref: str) -> Stream[Any] | None:
        """A record as the batch has left it, else as the store has it."""
        changed = self.streams.get(kind.stream_id(ref))
        return changed if changed is not None else self._load(kind, ref)

    def run(
        self,
        decide: Callable[[Transaction], R],
        *,
        actor: str,
        effective_at: datetime | None,
        now: datetime,
        keyring: Keyring,
    ) -> R:
        """Decide one command against the batch; its events join the batch if it succeeds."""
        tx = Transaction(
            loader=self.load,
            actor=actor,
            at=effective_time(effective_at, now),
            now=now,
            keyring=keyring,
        )
        result = decide(tx)
        self.envelopes.extend(tx.envelopes())
        for _, stream in tx.touched():
            self.streams[stream.id] = stream
        return result
