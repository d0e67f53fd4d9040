"""Donation lot commands: the receiving point, the store and the distribution points.

Visits and patrols issue goods and money through their own commands, which call
:func:`warmcase.domain.lot.issue` and save the lot together with the visit or
patrol; :meth:`LotCommands.issue_lot` is for distribution points.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from warmcase.clock import DEFAULT_TIMEZONE
from warmcase.domain import lot
from warmcase.domain.lot import Rejection
from warmcase.service.base import ServiceBase
from warmcase.transaction import Transaction


class LotCommands(ServiceBase):
    """Donation lot commands; each returns the lot's reference."""

    def pledge_lot(
        self,
        ref: str,
        *,
        donor: str,
        item: str,
        unit: str,
        quantity: int,
        kind: str = "goods",
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record a donor's promise of goods or money (fen) before it arrives."""

        def decide(tx: Transaction) -> str:
            tx.emit(
                lot.KIND,
                ref,
                lot.pledge(
                    tx.get(lot.KIND, ref),
                    ref=ref,
                    donor=donor,
                    item=item,
                    unit=unit,
                    quantity=quantity,
                    kind=kind,
                    actor=tx.actor,
                    at=tx.at,
                ),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def receive_lot(
        self,
        ref: str,
        *,
        donor: str,
        item: str,
        unit: str,
        quantity: int,
        warehouse: str,
        kind: str = "goods",
        expires_on: date | None = None,
        timezone: str = DEFAULT_TIMEZONE,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Register a donation at the receiving point (pledged or not); cash is counted in fen."""

        def decide(tx: Transaction) -> str:
            tx.emit(
                lot.KIND,
                ref,
                lot.receive(
                    tx.get(lot.KIND, ref),
                    ref=ref,
                    donor=donor,
                    item=item,
                    unit=unit,
                    quantity=quantity,
                    warehouse=warehouse,
                    kind=kind,
                    expires_on=expires_on,
                    timezone=timezone,
                    actor=tx.actor,
                    at=tx.at,
                ),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def inspect_lot(
        self,
        ref: str,
        *,
        accepted: int,
        rejected: int = 0,
        rejections: Iterable[Rejection | tuple[int, str]] = (),
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record the inspection: accepted + rejected = received; rejections: (quantity, reason)."""
        rejections = tuple(rejections)
        return self._decide_on(
            lot.KIND,
            ref,
            lot.inspect,
            accepted=accepted,
            rejected=rejected,
            rejections=rejections,
            actor=actor,
            effective_at=effective_at,
        )

    def transfer_lot(
        self,
        ref: str,
        *,
        to_warehouse: str,
        reason: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Move the whole lot to another warehouse."""
        return self._decide_on(
            lot.KIND,
            ref,
            lot.transfer,
            to_warehouse=to_warehouse,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )

    def reserve_lot(
        self,
        ref: str,
        *,
        reservation_id: str,
        quantity: int,
        for_ref: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Hold available units for a visit, patrol or distribution."""
        return self._decide_on(
            lot.KIND,
            ref,
            lot.reserve,
            reservation_id=reservation_id,
            quantity=quantity,
            for_ref=for_ref,
            actor=actor,
            effective_at=effective_at,
        )

    def release_lot(
        self,
        ref: str,
        *,
        reservation_id: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Give what a reservation still holds back to available stock."""
        return self._decide_on(
            lot.KIND,
            ref,
            lot.release,
            reservation_id=reservation_id,
            actor=actor,
            effective_at=effective_at,
        )

    def issue_lot(
        self,
        ref: str,
        *,
        quantity: int,
        channel: str,
        to: str,
        reservation_id: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Issue units, e.g. to a distribution point (visits and patrols issue as they complete)."""
        return self._decide_on(
            lot.KIND,
            ref,
            lot.issue,
            quantity=quantity,
            channel=channel,
            to=to,
            reservation_id=reservation_id,
            actor=actor,
            effective_at=effective_at,
        )

    def count_stock(
        self,
        ref: str,
        *,
        counted: int,
        reason: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record a physical count; a difference from the book needs a reason."""
        return self._decide_on(
            lot.KIND,
            ref,
            lot.count,
            counted=counted,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )

    def write_off(
        self,
        ref: str,
        *,
        quantity: int,
        reason: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Take units off the books (damaged, spoiled, expired), with the reason."""
        return self._decide_on(
            lot.KIND,
            ref,
            lot.write_off,
            quantity=quantity,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )

    def return_to_donor(
        self,
        ref: str,
        *,
        quantity: int,
        reason: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Give units back to the donor, with the reason."""
        return self._decide_on(
            lot.KIND,
            ref,
            lot.return_to_donor,
            quantity=quantity,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )
