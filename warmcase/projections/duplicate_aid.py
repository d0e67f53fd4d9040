"""Duplicate aid: did anyone get aid twice, above their tier, or on a signature that is not theirs?

The plans insist on avoiding duplicate aid (避免重复慰问, 防止重复): a household that
meets several criteria is aided once, at the highest tier; each payment is signed for
by the head or a registered member, never split and never signed on someone's
behalf. The command layer refuses all of this unless an override is given, so what
this report finds comes from overrides, from merged duplicates whose payments were
absorbed, and from history written under older rules or imported. Per campaign it
lists, each line with the positions of the events behind it (``sources``):

- **repeat payments**: households with more than one payment in the campaign, their
  own ``household.aid_paid`` events and those absorbed from merged duplicates;
- **above tier**: households paid more than the highest entitlement any of their
  payments was made against (the most generous reading of their tier);
- **overrides**: every payment made with an override of the rule, with its reason;
- **proxy signatures**: deliveries and payments signed by someone who was not a
  registered member of the household when it was recorded (``was_member`` tells a
  member removed before from an id never registered);
- **split payments**: more than one payment without override to the same
  household; ``explained_by_top_ups`` says whether each later one paid exactly the
  difference to a raised entitlement, the one kind the rules allow;
- **duplicate registrations**: active households (not merged away, not erased)
  sharing a member's ID number (compared by the store's keyed digest, never
  decrypted), or the same head of household and address once folded by
  :mod:`warmcase.projections.normalise` (district, street, community and the
  address line; the grid is left out, being an office's own division). A group is
  shown when one of its households is enrolled in or paid by the campaign. An
  erased household, or one whose name reads as erased, never matches anything;
- **goods through several channels**: a household that received goods (any
  ``lot.issued``) by more than one channel in the campaign. What is detectable: an
  issue to a visit belongs to the visit's household and campaign; an issue by any
  channel whose ``to`` names a household directly (a distribution point that
  registered the household) belongs to that household and to every campaign whose
  period holds its effective day. Issues to a patrol name the patrol, never a
  household (people met on patrol are persons, not registered households), and
  issues to a distribution point name only the point: neither can be linked.

Names and addresses stay :class:`~warmcase.personal.Personal` in the state, folded
keys included, so checkpoints keep them sealed and erasure reaches them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any, ClassVar

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

from warmcase.clock import local_date, zone
from warmcase.domain import campaign as campaign_
from warmcase.domain import household as household_
from warmcase.domain import lot as lot_
from warmcase.domain import visit as visit_
from warmcase.domain.household import Address, Member
from warmcase.events import value_type
from warmcase.personal import Personal
from warmcase.projections.basis import Basis
from warmcase.projections.normalise import fold
from warmcase.projections.projection import Meta, Projection, on
from warmcase.projections.transient import get_in, replace, set_in

ID_NUMBER = "id_number"
NAME_ADDRESS = "name_address"

# ---------------------------------------------------------------- state


@value_type("projection.duplicate_aid.period")
@attrs.frozen(kw_only=True)
class CampaignPeriod:
    """The days a campaign runs, in its time zone."""

    starts_on: date
    ends_on: date
    timezone: str

    def holds(self, moment: datetime) -> bool:
        """Whether `moment` falls on a day of the campaign."""
        return self.starts_on <= local_date(moment, zone(self.timezone)) <= self.ends_on


@value_type("projection.duplicate_aid.registration")
@attrs.frozen(kw_only=True)
class Registration:
    """What the registry holds of a household, as far as duplicates are concerned."""

    ref: str
    head: Personal | None
    community: str
    match_key: Personal | None
    """Head and address folded together; None when any part reads as erased."""
    digests: tuple[tuple[str, str], ...]
    """(member id, ID-number digest) of the current members that gave a number."""
    member_ids: tuple[str, ...]
    former_ids: frozenset[str]
    """Every member id ever registered, current ones included."""
    address: Address
    enrollments: frozenset[str] = frozenset()
    merged_into: str | None = None
    closed: bool = False
    erased: bool = False
    members_at: int = 0
    """Position of the event that set the current members."""
    address_at: int = 0
    """Position of the event that set the current address."""

    @property
    def comparable(self) -> bool:
        """Whether it may match others: active, and its names still readable."""
        return (
            not self.erased
            and self.merged_into is None
            and self.head is not None
            and not self.head.erased
        )


@value_type("projection.duplicate_aid.payment")
@attrs.frozen(kw_only=True)
class PaymentLine:
    """A payment in a household's ledger for a campaign."""

    household: str
    """The record it was paid to: another one's for payments absorbed from a duplicate."""
    campaign: str
    visit: str
    amount_fen: int
    category: str
    entitlement_fen: int
    signed_by: str
    override_reason: str | None
    effective_at: datetime
    position: int | None
    """Position of the household.aid_paid (None if it is not in the answer's history)."""
    via: tuple[int, ...] = ()
    """Positions of the household.duplicate_absorbed events that carried it here."""

    @property
    def sources(self) -> tuple[int, ...]:
        """The events behind this line."""
        return (*(() if self.position is None else (self.position,)), *self.via)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "household": self.household,
            "visit": self.visit,
            "amount_fen": self.amount_fen,
            "amount_yuan": yuan(self.amount_fen),
            "category": self.category,
            "entitlement_fen": self.entitlement_fen,
            "entitlement_yuan": yuan(self.entitlement_fen),
            "signed_by": self.signed_by,
            "override_reason": self.override_reason,
            "effective_at": self.effective_at.isoformat(),
            "absorbed": bool(self.via),
            "sources": list(self.sources),
        }


@value_type("projection.duplicate_aid.visit")
@attrs.frozen(kw_only=True)
class VisitLink:
    """Whose visit it is, in which campaign, and where the plan was recorded."""

    household: str
    campaign: str
    position: int


@value_type("projection.duplicate_aid.signature")
@attrs.frozen(kw_only=True)
class Signature:
    """A delivery or payment signed by someone not registered in the household at the time."""

    household: str
    visit: str
    signed_by: str
    registered: tuple[str, ...]
    """The member ids registered when it was signed."""
    was_member: bool
    """Whether the signer had been a registered member before (removed since)."""
    sources: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "household": self.household,
            "visit": self.visit,
            "signed_by": self.signed_by,
            "registered_members": list(self.registered),
            "was_member": self.was_member,
            "sources": list(self.sources),
        }


@value_type("projection.duplicate_aid.issue")
@attrs.frozen(kw_only=True)
class IssueLine:
    """Goods or money a lot issued, by channel, to a visit, point, patrol or household."""

    lot: str
    quantity: int
    channel: str
    to: str
    effective_at: datetime
    position: int


@value_type("projection.duplicate_aid.state")
@attrs.frozen(kw_only=True)
class DuplicateAidState:
    """What the duplicate-aid rules need, kept current event by event."""

    campaigns: PMap[str, CampaignPeriod] = attrs.field(factory=pmap)
    households: PMap[str, Registration] = attrs.field(factory=pmap)
    ledgers: PMap[str, PMap[str, tuple[PaymentLine, ...]]] = attrs.field(factory=pmap)
    """Campaign -> household -> its payments, absorbed ones included, in position order."""
    visits: PMap[str, VisitLink] = attrs.field(factory=pmap)
    signatures: PMap[str, PMap[str, Signature]] = attrs.field(factory=pmap)
    """Campaign -> visit -> the signature found wanting."""
    issues: PMap[str, PVector[IssueLine]] = attrs.field(factory=pmap)
    """Issues by the reference they went to."""
    lots: PMap[str, tuple[str, str, str]] = attrs.field(factory=pmap)
    """Lot -> (item, unit, kind), so quantities read in the lot's words."""


# ---------------------------------------------------------------- report values


def yuan(fen: int) -> str:
    """Fen as a yuan figure for JSON: 110000 -> "1100.00"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _head_text(head: Personal | None) -> str | None:
    return None if head is None else str(head)


@attrs.frozen(kw_only=True)
class PaymentCase:
    """A household's payments in the campaign, when they break the rule."""

    household: str
    head: Personal | None
    payments: tuple[PaymentLine, ...]
    paid_fen: int
    entitlement_fen: int
    sources: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "household": self.household,
            "head": _head_text(self.head),
            "paid_fen": self.paid_fen,
            "paid_yuan": yuan(self.paid_fen),
            "entitlement_fen": self.entitlement_fen,
            "entitlement_yuan": yuan(self.entitlement_fen),
            "excess_fen": max(0, self.paid_fen - self.entitlement_fen),
            "excess_yuan": yuan(max(0, self.paid_fen - self.entitlement_fen)),
            "payments": [payment.to_dict() for payment in self.payments],
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class SplitCase:
    """More than one payment without override to one household in the campaign."""

    household: str
    head: Personal | None
    payments: tuple[PaymentLine, ...]
    explained_by_top_ups: bool
    """Each later payment paid exactly the difference to a raised entitlement."""
    sources: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "household": self.household,
            "head": _head_text(self.head),
            "explained_by_top_ups": self.explained_by_top_ups,
            "payments": [payment.to_dict() for payment in self.payments],
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class Override:
    """A payment made with an override of the duplicate-aid rule."""

    household: str
    head: Personal | None
    payment: PaymentLine
    reason: str
    sources: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "household": self.household,
            "head": _head_text(self.head),
            "reason": self.reason,
            "payment": self.payment.to_dict(),
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class GroupMember:
    """One household of a suspected duplicate registration."""

    household: str
    head: Personal | None
    community: str
    enrolled: bool
    closed: bool
    members: tuple[str, ...]
    """The member ids that matched (for an ID-number match)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "household": self.household,
            "head": _head_text(self.head),
            "community": self.community,
            "enrolled": self.enrolled,
            "closed": self.closed,
            "members": list(self.members),
        }


@attrs.frozen(kw_only=True)
class RegistrationGroup:
    """Households that look like one registered more than once."""

    match: str
    """``id_number`` or ``name_address``."""
    households: tuple[GroupMember, ...]
    sources: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "match": self.match,
            "households": [member.to_dict() for member in self.households],
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class GoodsIssue:
    """An issue of goods (or cash) as the report shows it."""

    lot: str
    goods: str
    channel: str
    to: str
    effective_at: datetime
    position: int

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "lot": self.lot,
            "goods": self.goods,
            "channel": self.channel,
            "to": self.to,
            "effective_at": self.effective_at.isoformat(),
            "position": self.position,
        }


@attrs.frozen(kw_only=True)
class ChannelCase:
    """A household that received goods by more than one channel in the campaign."""

    household: str
    head: Personal | None
    channels: tuple[str, ...]
    issues: tuple[GoodsIssue, ...]
    sources: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "household": self.household,
            "head": _head_text(self.head),
            "channels": list(self.channels),
            "issues": [issue.to_dict() for issue in self.issues],
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class DuplicateAidReport:
    """Everything that looks like duplicate aid in one campaign, at a basis."""

    basis: Basis
    campaign: str
    repeat_payments: tuple[PaymentCase, ...]
    above_tier: tuple[PaymentCase, ...]
    overrides: tuple[Override, ...]
    proxy_signatures: tuple[Signature, ...]
    split_payments: tuple[SplitCase, ...]
    duplicate_registrations: tuple[RegistrationGroup, ...]
    multi_channel_goods: tuple[ChannelCase, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        sections: dict[str, tuple[Any, ...]] = {
            "repeat_payments": self.repeat_payments,
            "above_tier": self.above_tier,
            "overrides": self.overrides,
            "proxy_signatures": self.proxy_signatures,
            "split_payments": self.split_payments,
            "duplicate_registrations": self.duplicate_registrations,
            "multi_channel_goods": self.multi_channel_goods,
        }
        return {
            "basis": self.basis.to_dict(),
            "campaign": self.campaign,
            "counts": {name: len(lines) for name, lines in sections.items()},
            **{name: [line.to_dict() for line in lines] for name, lines in sections.items()},
        }


# ---------------------------------------------------------------- the report


def report(state: DuplicateAidState, basis: Basis, *, campaign: str) -> DuplicateAidReport:
    """What looks like duplicate aid in `campaign`, as folded at `basis`."""
    ledger = state.ledgers.get(campaign, pmap())
    repeat: list[PaymentCase] = []
    above: list[PaymentCase] = []
    overrides: list[Override] = []
    split: list[SplitCase] = []
    for household in sorted(ledger):
        lines = ledger[household]
        head = _head(state, household)
        case = _payment_case(household, head, lines)
        if len(lines) > 1:
            repeat.append(case)
        if case.paid_fen > case.entitlement_fen:
            above.append(case)
        own = [line for line in lines if not line.via]
        overrides += [
            Override(
                household=household,
                head=head,
                payment=line,
                reason=line.override_reason,
                sources=line.sources,
            )
            for line in own
            if line.override_reason is not None
        ]
        regular = tuple(line for line in own if line.override_reason is None)
        if len(regular) > 1:
            split.append(
                SplitCase(
                    household=household,
                    head=head,
                    payments=regular,
                    explained_by_top_ups=_top_ups_only(lines),
                    sources=_sources(line.sources for line in regular),
                )
            )
    signatures = state.signatures.get(campaign, pmap())
    return DuplicateAidReport(
        basis=basis,
        campaign=campaign,
        repeat_payments=tuple(repeat),
        above_tier=tuple(above),
        overrides=tuple(overrides),
        proxy_signatures=tuple(signatures[visit] for visit in sorted(signatures)),
        split_payments=tuple(split),
        duplicate_registrations=_registration_groups(state, campaign),
        multi_channel_goods=_multi_channel(state, campaign),
    )


def _sources(groups: Iterable[Iterable[int]]) -> tuple[int, ...]:
    return tuple(sorted({position for group in groups for position in group}))


def _head(state: DuplicateAidState, household: str) -> Personal | None:
    found = state.households.get(household)
    return None if found is None else found.head


def _payment_case(
    household: str, head: Personal | None, lines: tuple[PaymentLine, ...]
) -> PaymentCase:
    return PaymentCase(
        household=household,
        head=head,
        payments=lines,
        paid_fen=sum(line.amount_fen for line in lines),
        entitlement_fen=max(line.entitlement_fen for line in lines),
        sources=_sources(line.sources for line in lines),
    )


def _top_ups_only(lines: Iterable[PaymentLine]) -> bool:
    """Whether every regular payment after the first paid exactly what a raised
    entitlement left, as the rules allow after a change of category."""
    paid = 0
    previous: PaymentLine | None = None
    for line in lines:
        if not line.via and line.override_reason is None:
            if previous is not None and not (
                line.entitlement_fen > previous.entitlement_fen
                and line.amount_fen == line.entitlement_fen - paid
            ):
                return False
            previous = line
        paid += line.amount_fen
    return True


def _registration_groups(state: DuplicateAidState, campaign: str) -> tuple[RegistrationGroup, ...]:
    ledger = state.ledgers.get(campaign, pmap())
    by_digest: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    by_key: dict[str, list[str]] = defaultdict(list)
    for registration in state.households.values():
        if not registration.comparable:
            continue
        for member_id, digest in registration.digests:
            by_digest[digest][registration.ref].append(member_id)
        key = registration.match_key
        if key is not None and key.value is not None:
            by_key[key.value].append(registration.ref)
    found: list[RegistrationGroup] = []
    candidates: list[tuple[str, dict[str, list[str]]]] = [
        (ID_NUMBER, members) for members in by_digest.values()
    ]
    candidates += [(NAME_ADDRESS, {ref: [] for ref in refs}) for refs in by_key.values()]
    for match, members in candidates:
        refs = sorted(members)
        if len(refs) < 2:
            continue
        registrations = [state.households[ref] for ref in refs]
        if not any(campaign in r.enrollments or r.ref in ledger for r in registrations):
            continue
        found.append(
            RegistrationGroup(
                match=match,
                households=tuple(
                    GroupMember(
                        household=r.ref,
                        head=r.head,
                        community=r.community,
                        enrolled=campaign in r.enrollments,
                        closed=r.closed,
                        members=tuple(sorted(members[r.ref])),
                    )
                    for r in registrations
                ),
                sources=_sources(
                    (r.members_at, r.address_at) if match == NAME_ADDRESS else (r.members_at,)
                    for r in registrations
                ),
            )
        )
    found.sort(key=lambda group: (group.match, [m.household for m in group.households]))
    return tuple(found)


@cache
def _lot_model(item: str, unit: str, kind: str) -> lot_.DonationLot:
    # The lot aggregate knows how its quantities read; only its labels matter here.
    return lot_.DonationLot(ref="", donor="", item=item, unit=unit, kind=kind)


def _goods(state: DuplicateAidState, line: IssueLine) -> str:
    label = state.lots.get(line.lot)
    if label is None:
        return f"{line.quantity} units of lot {line.lot}"
    return _lot_model(*label).describe(line.quantity)


def _multi_channel(state: DuplicateAidState, campaign: str) -> tuple[ChannelCase, ...]:
    period = state.campaigns.get(campaign)
    received: dict[str, list[tuple[IssueLine, int | None]]] = defaultdict(list)
    for to, lines in state.issues.items():
        link = state.visits.get(to)
        if link is not None:
            if link.campaign == campaign:
                received[link.household] += [(line, link.position) for line in lines]
        elif to in state.households and period is not None:
            received[to] += [(line, None) for line in lines if period.holds(line.effective_at)]
    cases: list[ChannelCase] = []
    for household in sorted(received):
        issued = sorted(received[household], key=lambda pair: pair[0].position)
        channels = tuple(sorted({line.channel for line, _ in issued}))
        if len(channels) < 2:
            continue
        cases.append(
            ChannelCase(
                household=household,
                head=_head(state, household),
                channels=channels,
                issues=tuple(
                    GoodsIssue(
                        lot=line.lot,
                        goods=_goods(state, line),
                        channel=line.channel,
                        to=line.to,
                        effective_at=line.effective_at,
                        position=line.position,
                    )
                    for line, _ in issued
                ),
                sources=_sources(
                    (line.position, *(() if plan is None else (plan,))) for line, plan in issued
                ),
            )
        )
    return tuple(cases)


# ---------------------------------------------------------------- folding helpers


@lru_cache(maxsize=1 << 14)
def _fold_place(name: str) -> str:
    # Districts, streets and communities recur in every survey: their folds are kept.
    # Names and address details are personal, so they are folded afresh, never kept.
    return fold(name)


def _match_key(head: Personal | None, address: Address) -> Personal | None:
    if head is None or head.value is None or address.detail.value is None:
        return None
    places = (address.district, address.street, address.community)
    parts = (fold(head.value), *map(_fold_place, places), fold(address.detail.value))
    # Whitespace is removed by folding, so a newline cannot occur inside a part.
    return Personal(head.subject, "\n".join(parts))


def _member_fields(
    members: tuple[Member, ...], address: Address, former_ids: frozenset[str], position: int
) -> dict[str, Any]:
    head = next((member.name for member in members if member.is_head), None)
    ids = tuple(member.member_id for member in members)
    return {
        "head": head,
        "match_key": _match_key(head, address),
        "digests": tuple((m.member_id, m.id_digest) for m in members if m.id_digest is not None),
        "member_ids": ids,
        "former_ids": former_ids | frozenset(ids),
        "members_at": position,
    }


def _with_members(
    registration: Registration, members: tuple[Member, ...], position: int
) -> Registration:
    fields = _member_fields(members, registration.address, registration.former_ids, position)
    return attrs.evolve(registration, **fields)


def _with_address(registration: Registration, address: Address, position: int) -> Registration:
    return attrs.evolve(
        registration,
        address=address,
        community=address.community,
        match_key=_match_key(registration.head, address),
        address_at=position,
    )


def _erased(value: Personal) -> Personal:
    return Personal(value.subject, None)


def _line(event: household_.AidPaid, position: int) -> PaymentLine:
    return PaymentLine(
        household=event.ref,
        campaign=event.campaign,
        visit=event.visit,
        amount_fen=event.amount_fen,
        category=event.category,
        entitlement_fen=event.entitlement_fen,
        signed_by=event.signed_by,
        override_reason=event.override_reason,
        effective_at=event.effective_at,
        position=position,
    )


def _append(
    state: DuplicateAidState, campaign: str, household: str, line: PaymentLine
) -> DuplicateAidState:
    lines = (*get_in(state.ledgers, campaign, household, ()), line)
    return replace(state, ledgers=set_in(state.ledgers, campaign, household, lines))


def _check_signature(
    state: DuplicateAidState,
    *,
    household: str,
    campaign: str,
    visit: str,
    signed_by: str,
    sources: tuple[int, ...],
) -> DuplicateAidState:
    registration = state.households.get(household)
    if registration is None or signed_by in registration.member_ids:
        return state
    earlier = get_in(state.signatures, campaign, visit)
    signature = Signature(
        household=household,
        visit=visit,
        signed_by=signed_by,
        registered=registration.member_ids,
        was_member=signed_by in registration.former_ids,
        sources=_sources(
            [sources, (registration.members_at,), () if earlier is None else earlier.sources]
        ),
    )
    return replace(state, signatures=set_in(state.signatures, campaign, visit, signature))


# ---------------------------------------------------------------- the projection


class DuplicateAid(Projection[DuplicateAidState]):
    """Payments, signatures, registrations and issues, as the duplicate-aid rules read them."""

    name = "duplicate_aid"
    rebuild_cost: ClassVar[float] = 1.0
    # Most events change one registration, ledger or link: a page does so in place.
    in_place: ClassVar[tuple[str, ...]] = (
        "campaigns",
        "households",
        "ledgers",
        "visits",
        "signatures",
        "issues",
        "lots",
    )

    def initial(self) -> DuplicateAidState:
        return DuplicateAidState()

    @on(campaign_.CampaignOpened)
    def opened(
        self, state: DuplicateAidState, event: campaign_.CampaignOpened, meta: Meta
    ) -> DuplicateAidState:
        """Keep the campaign's period, to place direct issues to households in it."""
        period = CampaignPeriod(
            starts_on=event.starts_on, ends_on=event.ends_on, timezone=event.timezone
        )
        return replace(state, campaigns=state.campaigns.set(event.ref, period))

    @on(household_.HouseholdSurveyed)
    def surveyed(
        self, state: DuplicateAidState, event: household_.HouseholdSurveyed, meta: Meta
    ) -> DuplicateAidState:
        """Register the household's head, members' ID digests and address."""
        registration = Registration(
            ref=event.ref,
            community=event.address.community,
            address=event.address,
            address_at=meta.position,
            **_member_fields(event.members, event.address, frozenset(), meta.position),
        )
        return replace(state, households=state.households.set(event.ref, registration))

    @on(household_.CircumstancesUpdated)
    def updated(
        self, state: DuplicateAidState, event: household_.CircumstancesUpdated, meta: Meta
    ) -> DuplicateAidState:
        """Follow changes of address and members (a new head, added or removed members)."""
        registration = state.households.get(event.ref)
        if registration is None:
            return state
        if event.address is not None:
            registration = _with_address(registration, event.address, meta.position)
        if event.members is not None:
            registration = _with_members(registration, event.members, meta.position)
        return replace(state, households=state.households.set(event.ref, registration))

    @on(
        household_.HouseholdEnrolled,
        household_.MergedInto,
        household_.HouseholdClosed,
        household_.HouseholdErased,
    )
    def standing(
        self,
        state: DuplicateAidState,
        event: household_.HouseholdEnrolled
        | household_.MergedInto
        | household_.HouseholdClosed
        | household_.HouseholdErased,
        meta: Meta,
    ) -> DuplicateAidState:
        """Enrolment, merger, closure and erasure change what the household may match."""
        registration = state.households.get(event.ref)
        if registration is None:
            return state
        match event:
            case household_.HouseholdEnrolled():
                changed = attrs.evolve(
                    registration, enrollments=registration.enrollments | {event.campaign}
                )
            case household_.MergedInto():
                changed = attrs.evolve(registration, merged_into=event.into)
            case household_.HouseholdClosed():
                changed = attrs.evolve(registration, closed=True)
            case _:
                changed = attrs.evolve(
                    registration,
                    head=None if registration.head is None else _erased(registration.head),
                    address=attrs.evolve(
                        registration.address, detail=_erased(registration.address.detail)
                    ),
                    match_key=None,
                    digests=(),
                    erased=True,
                )
        return replace(state, households=state.households.set(event.ref, changed))

    @on(household_.AidPaid)
    def paid(
        self, state: DuplicateAidState, event: household_.AidPaid, meta: Meta
    ) -> DuplicateAidState:
        """Add the payment to the household's ledger and check who signed for it."""
        state = _append(state, event.campaign, event.ref, _line(event, meta.position))
        return _check_signature(
            state,
            household=event.ref,
            campaign=event.campaign,
            visit=event.visit,
            signed_by=event.signed_by,
            sources=(meta.position,),
        )

    @on(household_.DuplicateAbsorbed)
    def absorbed(
        self, state: DuplicateAidState, event: household_.DuplicateAbsorbed, meta: Meta
    ) -> DuplicateAidState:
        """The survivor's ledger takes the duplicate's payments, traced to their events."""
        for payment in event.payments:
            known = get_in(state.ledgers, payment.campaign, event.duplicate, ())
            line = next(
                (
                    kept
                    for kept in known
                    if (kept.household, kept.visit) == (payment.household, payment.visit)
                ),
                None,
            )
            if line is None:
                # The payment's own event is not in this answer's history (or predates it).
                line = PaymentLine(
                    household=payment.household,
                    campaign=payment.campaign,
                    visit=payment.visit,
                    amount_fen=payment.amount_fen,
                    category=payment.category,
                    entitlement_fen=payment.entitlement_fen,
                    signed_by=payment.signed_by,
                    override_reason=payment.override_reason,
                    effective_at=payment.effective_at,
                    position=None,
                )
            carried = attrs.evolve(line, via=(*line.via, meta.position))
            state = _append(state, payment.campaign, event.ref, carried)
        return state

    @on(visit_.VisitPlanned)
    def planned(
        self, state: DuplicateAidState, event: visit_.VisitPlanned, meta: Meta
    ) -> DuplicateAidState:
        """Remember whose visit it is and in which campaign."""
        link = VisitLink(household=event.household, campaign=event.campaign, position=meta.position)
        return replace(state, visits=state.visits.set(event.ref, link))

    @on(visit_.VisitCompleted)
    def completed(
        self, state: DuplicateAidState, event: visit_.VisitCompleted, meta: Meta
    ) -> DuplicateAidState:
        """Check who signed for the delivery, goods-only ones included."""
        link = state.visits.get(event.ref)
        if link is None:
            return state
        return _check_signature(
            state,
            household=link.household,
            campaign=link.campaign,
            visit=event.ref,
            signed_by=event.signed_by,
            sources=(link.position, meta.position),
        )

    @on(lot_.LotPledged, lot_.LotReceived)
    def labelled(
        self, state: DuplicateAidState, event: lot_.LotPledged | lot_.LotReceived, meta: Meta
    ) -> DuplicateAidState:
        """Keep what the lot holds, so its quantities read in words."""
        label = (event.item, event.unit, event.kind)
        return replace(state, lots=state.lots.set(event.ref, label))

    @on(lot_.LotIssued)
    def issued(
        self, state: DuplicateAidState, event: lot_.LotIssued, meta: Meta
    ) -> DuplicateAidState:
        """Keep every issue under the reference it went to; linking waits for the report."""
        line = IssueLine(
            lot=event.ref,
            quantity=event.quantity,
            channel=event.channel,
            to=event.to,
            effective_at=event.effective_at,
            position=meta.position,
        )
        issues = state.issues.set(event.to, state.issues.get(event.to, pvector()).append(line))
        return replace(state, issues=issues)
