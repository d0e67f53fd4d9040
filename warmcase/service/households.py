"""Household commands: survey, verification and posting, objections, enrolment,
disqualification, merging of duplicates and closing.

Aid is paid into a household's ledger by the visit commands (``complete_visit``),
which call :func:`warmcase.domain.household.pay_aid`; erasing personal data is
``erase_household``, kept with the store's keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from warmcase.domain import household
from warmcase.domain.household import DEFAULT_WINDOW_DAYS, Heating, NewMember
from warmcase.service.base import ServiceBase
from warmcase.transaction import Transaction


class HouseholdCommands(ServiceBase):
    """Household commands; each returns the reference it acted on."""

    def register_household(
        self,
        ref: str,
        *,
        district: str,
        street: str,
        community: str,
        grid: str,
        address_detail: str,
        head_name: str,
        head_id_number: str | None = None,
        head_birth_year: int | None = None,
        phone: str,
        members: Iterable[NewMember] = (),
        categories: Iterable[str],
        hardship_level: int,
        heating: Heating | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Register a surveyed household; the head is member "1", `members` follow from "2"."""
        others = tuple(members)

        def decide(tx: Transaction) -> str:
            head = NewMember(
                name=head_name,
                relation=household.HEAD_RELATION,
                id_number=head_id_number,
                birth_year=head_birth_year,
            )
            tx.emit(
                household.KIND,
                ref,
                household.survey(
                    tx.get(household.KIND, ref),
                    ref=ref,
                    district=district,
                    street=street,
                    community=community,
                    grid=grid,
                    address_detail=address_detail,
                    head=head,
                    members=others,
                    phone=phone,
                    categories=categories,
                    hardship_level=hardship_level,
                    heating=heating,
                    digests=household.id_digests([head, *others], tx.keyring.id_digest),
                    actor=tx.actor,
                    at=tx.at,
                ),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def update_household(
        self,
        ref: str,
        *,
        reason: str,
        district: str | None = None,
        street: str | None = None,
        community: str | None = None,
        grid: str | None = None,
        address_detail: str | None = None,
        phone: str | None = None,
        categories: Iterable[str] | None = None,
        hardship_level: int | None = None,
        heating: Heating | None = None,
        add_members: Iterable[NewMember] = (),
        remove_members: Iterable[str] = (),
        new_head: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record changed circumstances (only what is given and differs), with the reason.

        New members are numbered after every id ever used; `remove_members` names
        member ids; `new_head` names the member who becomes head.
        """
        added = tuple(add_members)
        removed = tuple(remove_members)
        codes = None if categories is None else tuple(categories)

        def decide(tx: Transaction) -> str:
            current = tx.require(household.KIND, ref)
            tx.emit(
                household.KIND,
                ref,
                household.update(
                    current,
                    reason=reason,
                    district=district,
                    street=street,
                    community=community,
                    grid=grid,
                    address_detail=address_detail,
                    phone=phone,
                    categories=codes,
                    hardship_level=hardship_level,
                    heating=heating,
                    add_members=added,
                    remove_members=removed,
                    new_head=new_head,
                    digests=household.id_digests(added, tx.keyring.id_digest),
                    actor=tx.actor,
                    at=tx.at,
                ),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def verify_household(
        self, ref: str, *, actor: str, effective_at: datetime | None = None
    ) -> str:
        """Record that the community confirmed the household's survey."""
        return self._decide_on(
            household.KIND, ref, household.verify, actor=actor, effective_at=effective_at
        )

    def post_household(
        self,
        ref: str,
        *,
        place: str,
        window_days: int = DEFAULT_WINDOW_DAYS,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Post the verified household publicly at `place`; objections are taken for
        `window_days` days."""
        return self._decide_on(
            household.KIND,
            ref,
            household.post,
            place=place,
            window_days=window_days,
            actor=actor,
            effective_at=effective_at,
        )

    def raise_objection(
        self,
        ref: str,
        *,
        objection_id: str,
        grounds: str,
        raised_by: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record an objection to the household's listing (`raised_by`: who, by role)."""
        return self._decide_on(
            household.KIND,
            ref,
            household.raise_objection,
            objection_id=objection_id,
            grounds=grounds,
            raised_by=raised_by,
            actor=actor,
            effective_at=effective_at,
        )

    def resolve_objection(
        self,
        ref: str,
        *,
        objection_id: str,
        upheld: bool,
        reason: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Resolve an objection; an upheld one withdraws verification and posting."""
        return self._decide_on(
            household.KIND,
            ref,
            household.resolve_objection,
            objection_id=objection_id,
            upheld=upheld,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )

    def enroll_household(
        self, ref: str, *, campaign: str, actor: str, effective_at: datetime | None = None
    ) -> str:
        """Enrol the household in a running campaign once its posting window is over."""
        return self._decide_on_in_campaign(
            household.KIND,
            ref,
            household.enroll,
            campaign=campaign,
            actor=actor,
            effective_at=effective_at,
        )

    def disqualify_household(
        self,
        ref: str,
        *,
        campaign: str,
        reason: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Disqualify the household after a false report in `campaign`; it is refused
        enrolment until a year after the campaign ends."""
        return self._decide_on_in_campaign(
            household.KIND,
            ref,
            household.disqualify,
            campaign=campaign,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )

    def merge_households(
        self,
        duplicate: str,
        *,
        into: str,
        reason: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Merge the household `duplicate` into `into`; both records are saved together.

        Returns the survivor's reference.
        """

        def decide(tx: Transaction) -> str:
            events = household.merge(
                tx.require(household.KIND, duplicate),
                tx.require(household.KIND, into),
                reason=reason,
                actor=tx.actor,
                at=tx.at,
            )
            for event in events:
                tx.emit(household.KIND, event.ref, [event])
            return into

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def close_household(
        self,
        ref: str,
        *,
        cause: str,
        reason: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Close the household: cause 'moved', 'deceased' or 'other', with the reason."""
        return self._decide_on(
            household.KIND,
            ref,
            household.close,
            cause=cause,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )
