"""Commands that open, amend and close campaigns and warn of cold waves."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from warmcase.clock import DEFAULT_TIMEZONE
from warmcase.domain import campaign
from warmcase.domain.campaign import AidStandard, PatrolRules
from warmcase.service.base import ServiceBase
from warmcase.transaction import Transaction


class CampaignCommands(ServiceBase):
    """Campaign commands; each returns the campaign's reference."""

    def open_campaign(
        self,
        ref: str,
        *,
        name: str,
        owner: str,
        starts_on: date,
        ends_on: date,
        standards: Iterable[AidStandard],
        patrol_rules: PatrolRules | None = None,
        timezone: str = DEFAULT_TIMEZONE,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Open a campaign with its period, aid standards and patrol rules."""

        def decide(tx: Transaction) -> str:
            tx.emit(
                campaign.KIND,
                ref,
                campaign.open_campaign(
                    tx.get(campaign.KIND, ref),
                    ref=ref,
                    name=name,
                    owner=owner,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    standards=standards,
                    patrol_rules=patrol_rules,
                    timezone=timezone,
                    actor=tx.actor,
                    at=tx.at,
                ),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def amend_standards(
        self,
        ref: str,
        *,
        standards: Iterable[AidStandard],
        reason: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Replace the campaign's aid standards, with the reason why."""
        return self._decide_on(
            campaign.KIND,
            ref,
            campaign.amend_standards,
            standards=standards,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )

    def warn_cold_wave(
        self,
        ref: str,
        *,
        area: str,
        starts_at: datetime,
        ends_at: datetime,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record a cold-wave warning for an area of the campaign."""
        return self._decide_on(
            campaign.KIND,
            ref,
            campaign.warn_cold_wave,
            area=area,
            starts_at=starts_at,
            ends_at=ends_at,
            actor=actor,
            effective_at=effective_at,
        )

    def close_campaign(
        self,
        ref: str,
        *,
        reason: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Close the campaign."""
        return self._decide_on(
            campaign.KIND,
            ref,
            campaign.close_campaign,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )
