"""Erasure of a household's personal data (crypto-shredding).

The household's events stay in the history; its key is destroyed, so names, ID
numbers, phones and notes read as erased everywhere, while every count, payment
and projection still computes. The erasure itself is an event, with its reason
and actor, so auditors see who erased what and why.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.application import Cache, LRUCache

from warmcase.domain import household
from warmcase.personal import household_subject
from warmcase.service.base import ServiceBase
from warmcase.transaction import Transaction


class PersonalDataCommands(ServiceBase):
    """Commands over personal data as such."""

    def erase_household(
        self, ref: str, *, reason: str, actor: str, effective_at: datetime | None = None
    ) -> str:
        """Erase the household's personal data for good; returns its reference.

        Safe to repeat: if an earlier call recorded the erasure but stopped before the
        key was destroyed, the repeat destroys it without recording a second erasure.
        """

        def decide(tx: Transaction) -> str:
            current = tx.require(household.KIND, ref)
            if not current.erased:
                tx.emit(
                    household.KIND,
                    ref,
                    household.erase(current, reason=reason, actor=tx.actor, at=tx.at),
                )
            return ref

        self._transact(decide, actor=actor, effective_at=effective_at)
        # The event is committed first, so an erasure is never without its audit record.
        self.keyring.destroy(household_subject(ref))
        # Cached states of any record may hold this household's plaintext: drop them all.
        # A fresh cache, because eventsourcing's LRUCache.clear() keeps the cached values.
        cache = self.repository.cache
        if isinstance(cache, LRUCache):
            self.repository.cache = LRUCache(maxsize=cache.maxsize)
        elif cache is not None:
            self.repository.cache = Cache()
        self._forget_plaintext()
        return ref
