"""Patrol and hotline commands.

Supplies handed to a person met on patrol are issued from their donation lots in
the same atomic write as the encounter, so the lot ledger and the patrol log
never disagree. Cold-wave warnings are campaign commands (``warn_cold_wave``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from warmcase.domain import hotline, lot, patrol
from warmcase.domain.campaign import KIND as CAMPAIGN
from warmcase.domain.patrol import KIND as PATROL
from warmcase.domain.patrol import SupplyLine
from warmcase.service.base import ServiceBase
from warmcase.transaction import Transaction

PATROL_CHANNEL = "patrol"
"""The issue channel of lots handed out on patrol."""


class PatrolCommands(ServiceBase):
    """Patrol and hotline commands; each returns the reference it acted on."""

    def schedule_patrol(
        self,
        ref: str,
        *,
        campaign: str,
        area: str,
        team: str,
        leader: str,
        scheduled_for: datetime,
        night: bool = False,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Schedule a patrol of an area, by a team under a leader, within a running campaign."""

        def decide(tx: Transaction) -> str:
            tx.emit(
                patrol.KIND,
                ref,
                patrol.schedule_patrol(
                    tx.get(patrol.KIND, ref),
                    ref=ref,
                    campaign=tx.require(CAMPAIGN, campaign),
                    area=area,
                    team=team,
                    leader=leader,
                    scheduled_for=scheduled_for,
                    night=night,
                    actor=tx.actor,
                    at=tx.at,
                ),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def start_patrol(self, ref: str, *, actor: str, effective_at: datetime | None = None) -> str:
        """The team sets out (at the effective time)."""
        return self._decide_on(
            patrol.KIND, ref, patrol.start_patrol, actor=actor, effective_at=effective_at
        )

    def check_place(
        self,
        ref: str,
        *,
        kind: str,
        name: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record a key place the patrol checked (kind from ``patrol.PLACE_KINDS``)."""
        return self._decide_on(
            patrol.KIND,
            ref,
            patrol.check_place,
            kind=kind,
            name=name,
            actor=actor,
            effective_at=effective_at,
        )

    def log_encounter(
        self,
        ref: str,
        *,
        encounter_id: str,
        outcome: str,
        condition: str,
        minor: bool = False,
        critically_ill: bool = False,
        mentally_ill: bool = False,
        person_ref: str | None = None,
        description: str | None = None,
        supplies: Iterable[SupplyLine | tuple[str, int]] = (),
        note: str | None = None,
        reason: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Log a person met on patrol; supplies are issued from their lots in the same write.

        ``supplies`` are ``(lot_ref, quantity)`` pairs; ``reason`` says why a person
        who refused help was given none. Returns the patrol's reference.
        """
        lines = tuple(supplies)

        def decide(tx: Transaction) -> str:
            current = tx.require(patrol.KIND, ref)
            events = patrol.log_encounter(
                current,
                encounter_id=encounter_id,
                outcome=outcome,
                condition=condition,
                minor=minor,
                critically_ill=critically_ill,
                mentally_ill=mentally_ill,
                person_ref=person_ref,
                description=description,
                supplies=lines,
                note=note,
                reason=reason,
                actor=tx.actor,
                at=tx.at,
            )
            tx.emit(patrol.KIND, ref, events)
            for line in patrol.checked_supplies(lines):
                stock = tx.require(lot.KIND, line.lot_ref)
                tx.emit(
                    lot.KIND,
                    line.lot_ref,
                    lot.issue(
                        stock,
                        quantity=line.quantity,
                        channel=PATROL_CHANNEL,
                        to=ref,
                        actor=tx.actor,
                        at=tx.at,
                    ),
                )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def end_patrol(
        self,
        ref: str,
        *,
        summary: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """The team comes back (at the effective time)."""
        return self._decide_on(
            patrol.KIND,
            ref,
            patrol.end_patrol,
            summary=summary,
            actor=actor,
            effective_at=effective_at,
        )

    def cancel_patrol(
        self, ref: str, *, reason: str, actor: str, effective_at: datetime | None = None
    ) -> str:
        """Call off a patrol that has not started, with the reason."""
        return self._decide_on(
            patrol.KIND,
            ref,
            patrol.cancel_patrol,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )

    def log_hotline_call(
        self,
        ref: str,
        *,
        campaign: str,
        area: str,
        place: str,
        far: bool = False,
        description: str,
        caller_phone: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Log a hotline call; its effective time is when it was received."""

        def decide(tx: Transaction) -> str:
            tx.emit(
                hotline.KIND,
                ref,
                hotline.log_hotline_call(
                    tx.get(hotline.KIND, ref),
                    ref=ref,
                    campaign=tx.require(CAMPAIGN, campaign),
                    area=area,
                    place=place,
                    far=far,
                    description=description,
                    caller_phone=caller_phone,
                    actor=tx.actor,
                    at=tx.at,
                ),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def dispatch_call(
        self,
        ref: str,
        *,
        patrol: str | None = None,
        team: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Send a patrol already out, or a team, to the scene of a hotline call."""

        def decide(tx: Transaction) -> str:
            call = tx.require(hotline.KIND, ref)
            sent = None if patrol is None else tx.require(PATROL, patrol)
            tx.emit(
                hotline.KIND,
                ref,
                hotline.dispatch_call(call, patrol=sent, team=team, actor=tx.actor, at=tx.at),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def arrive_on_call(self, ref: str, *, actor: str, effective_at: datetime | None = None) -> str:
        """The team reached the scene; the response time is measured against the patrol rules."""

        def decide(tx: Transaction) -> str:
            call = tx.require(hotline.KIND, ref)
            rules_from = tx.require(CAMPAIGN, call.campaign)
            tx.emit(
                hotline.KIND,
                ref,
                hotline.arrive_on_call(call, campaign=rules_from, actor=tx.actor, at=tx.at),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def close_call(
        self, ref: str, *, outcome: str, actor: str, effective_at: datetime | None = None
    ) -> str:
        """Close a hotline call with what came of it."""
        return self._decide_on(
            hotline.KIND,
            ref,
            hotline.close_call,
            outcome=outcome,
            actor=actor,
            effective_at=effective_at,
        )
