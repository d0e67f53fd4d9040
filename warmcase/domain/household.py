"""Household: one entry of the registry (台账) of households in hardship, with its aid ledger.

A household is surveyed (调查摸底): its address down to community and grid, its
head and members, contact phone, hardship categories and level, and heating. The
community verifies it and posts it publicly (张榜公示) for an objection window;
objections are raised and resolved. Only then is it enrolled in a campaign. A
false report disqualifies it for that campaign and the next season's. A
household found to be a duplicate is merged into the record that survives; one
that moved away or whose last member died is closed.

The household's aid ledger holds every payment it received per campaign. The
duplicate-aid rule (防止重复) is decided here: a household is paid once per
campaign, at the highest tier any of its categories gives; a top-up after a
change of circumstances pays exactly the difference; anything else needs an
override with a reason, recorded as such.

Names, ID numbers, phone numbers, the exact address line and objection grounds
are personal and held under the household's key (:func:`household_subject`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from datetime import date, datetime, timedelta
from functools import partial

import attrs
from pyrsistent import pmap
from pyrsistent.typing import PMap

from warmcase.clock import local_date, zone
from warmcase.domain import checks
from warmcase.domain.campaign import Campaign, require_running
from warmcase.domain.categories import checked_categories
from warmcase.domain.stream import Kind
from warmcase.errors import (
    AlreadyExists,
    InvalidCommand,
    NotFound,
    RuleViolation,
    WrongState,
)
from warmcase.events import Event, event_type, value_type
from warmcase.personal import Personal, household_subject

CLOSE_CAUSES = ("moved", "deceased", "other")
HARDSHIP_LEVELS = (1, 2, 3)
HEAD_RELATION = "head"
FORMER_HEAD_RELATION = "former head"
DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 60

_ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")

# ---------------------------------------------------------------- values


@value_type("household.address")
@attrs.frozen(kw_only=True)
class Address:
    """Where the household lives. Coverage is reported by district down to grid,
    so those are plain; the exact line (building, door) is personal."""

    district: str
    street: str
    community: str
    grid: str
    detail: Personal


@value_type("household.member")
@attrs.frozen(kw_only=True)
class Member:
    """A registered member. ``member_id`` ("1" is the head at survey) is what a
    signature names; ``id_digest`` is a keyed hash of the ID number, so duplicate
    registrations are found without decrypting anything."""

    member_id: str
    name: Personal
    relation: str
    id_number: Personal | None = None
    id_digest: str | None = None
    birth_year: int | None = None
    is_head: bool = False


@value_type("household.heating")
@attrs.frozen(kw_only=True)
class Heating:
    """How the household keeps warm, as surveyed before winter."""

    electricity: bool
    gas: bool
    central_heating: bool
    co_alarm: bool


@value_type("household.aid_payment")
@attrs.frozen(kw_only=True)
class AidPayment:
    """One payment in the aid ledger. ``household`` is the record it was paid to,
    which differs from the ledger's owner for payments absorbed from a duplicate."""

    household: str
    campaign: str
    visit: str
    amount_fen: int
    category: str
    entitlement_fen: int
    signed_by: str
    override_reason: str | None
    effective_at: datetime


@value_type("household.disqualification")
@attrs.frozen(kw_only=True)
class Disqualification:
    """A false report found in `campaign`: refused enrolment until `until` (inclusive)."""

    campaign: str
    until: date
    reason: str


@attrs.frozen(kw_only=True)
class NewMember:
    """A member as the command gives it (plain text, not stored as such)."""

    name: str
    relation: str
    id_number: str | None = None
    birth_year: int | None = None


# ---------------------------------------------------------------- state


@attrs.frozen(kw_only=True)
class Posting:
    """The public posting (张榜公示): where, and until when objections are taken."""

    posted_at: datetime
    window_ends_at: datetime
    place: str


@attrs.frozen(kw_only=True)
class Objection:
    """An objection to the household's listing, open until resolved."""

    objection_id: str
    grounds: Personal
    raised_by: str
    raised_at: datetime
    resolved_at: datetime | None = None
    upheld: bool | None = None
    resolution: str | None = None

    @property
    def open(self) -> bool:
        """Whether it still awaits a resolution."""
        return self.resolved_at is None


@attrs.frozen(kw_only=True)
class Closure:
    """Why the household left the registry."""

    cause: str
    reason: str
    closed_at: datetime


@attrs.frozen(kw_only=True)
class Household:
    """A household as its events leave it."""

    ref: str
    address: Address
    members: tuple[Member, ...]
    phone: Personal
    categories: frozenset[str]
    hardship_level: int
    heating: Heating | None
    last_member_id: int
    verified: bool = False
    posting: Posting | None = None
    objections: PMap[str, Objection] = attrs.field(factory=pmap)
    enrollments: frozenset[str] = frozenset()
    disqualifications: tuple[Disqualification, ...] = ()
    merged_into: str | None = None
    absorbed: tuple[str, ...] = ()
    closed: Closure | None = None
    erased: bool = False
    ledger: PMap[str, tuple[AidPayment, ...]] = attrs.field(factory=pmap)

    @property
    def size(self) -> int:
        """Number of registered members (the head included)."""
        return len(self.members)

    @property
    def head(self) -> Member:
        """The head of household."""
        return next(member for member in self.members if member.is_head)

    @property
    def open_objections(self) -> tuple[Objection, ...]:
        """Objections still awaiting a resolution, by id."""
        return tuple(
            self.objections[key] for key in sorted(self.objections) if self.objections[key].open
        )

    def member(self, member_id: str) -> Member | None:
        """The registered member `member_id`, if there is one."""
        return next((m for m in self.members if m.member_id == member_id), None)

    def payments(self, campaign: str) -> tuple[AidPayment, ...]:
        """Every payment of `campaign` in the ledger, absorbed duplicates' included."""
        return self.ledger.get(campaign, ())

    def paid_fen(self, campaign: str) -> int:
        """The total paid in `campaign`, in fen, absorbed duplicates' payments included."""
        return sum(payment.amount_fen for payment in self.payments(campaign))

    def disqualification(self, campaign: str) -> Disqualification | None:
        """The disqualification found in `campaign`, if any."""
        return next((d for d in self.disqualifications if d.campaign == campaign), None)


# ---------------------------------------------------------------- events


@event_type("household.surveyed")
@attrs.frozen(kw_only=True)
class HouseholdSurveyed(Event):
    address: Address
    members: tuple[Member, ...]
    phone: Personal
    categories: frozenset[str]
    hardship_level: int
    heating: Heating | None


@event_type("household.circumstances_updated")
@attrs.frozen(kw_only=True)
class CircumstancesUpdated(Event):
    """Only what changed is set; None means unchanged."""

    address: Address | None = None
    members: tuple[Member, ...] | None = None
    phone: Personal | None = None
    categories: frozenset[str] | None = None
    hardship_level: int | None = None
    heating: Heating | None = None
    reason: str


@event_type("household.verified")
@attrs.frozen(kw_only=True)
class HouseholdVerified(Event):
    pass


@event_type("household.posted")
@attrs.frozen(kw_only=True)
class HouseholdPosted(Event):
    place: str
    window_ends_at: datetime


@event_type("household.objection_raised")
@attrs.frozen(kw_only=True)
class ObjectionRaised(Event):
    objection_id: str
    grounds: Personal
    raised_by: str


@event_type("household.objection_resolved")
@attrs.frozen(kw_only=True)
class ObjectionResolved(Event):
    objection_id: str
    upheld: bool
    reason: str


@event_type("household.enrolled")
@attrs.frozen(kw_only=True)
class HouseholdEnrolled(Event):
    campaign: str


@event_type("household.disqualified")
@attrs.frozen(kw_only=True)
class HouseholdDisqualified(Event):
    campaign: str
    until: date
    reason: str


@event_type("household.merged_into")
@attrs.frozen(kw_only=True)
class MergedInto(Event):
    into: str
    reason: str


@event_type("household.duplicate_absorbed")
@attrs.frozen(kw_only=True)
class DuplicateAbsorbed(Event):
    """The survivor takes over the duplicate's payments (they count against its
    entitlement) and its disqualifications (a false report is not laundered by a merge)."""

    duplicate: str
    payments: tuple[AidPayment, ...]
    disqualifications: tuple[Disqualification, ...]
    reason: str


@event_type("household.closed")
@attrs.frozen(kw_only=True)
class HouseholdClosed(Event):
    cause: str
    reason: str


@event_type("household.aid_paid")
@attrs.frozen(kw_only=True)
class AidPaid(Event):
    campaign: str
    visit: str
    amount_fen: int
    category: str
    entitlement_fen: int
    signed_by: str
    signer_phone: Personal
    override_reason: str | None = None


@event_type("household.erased")
@attrs.frozen(kw_only=True)
class HouseholdErased(Event):
    reason: str


# ---------------------------------------------------------------- errors


class HouseholdExists(AlreadyExists):
    """A household is already registered under that reference."""


class HouseholdErasedError(WrongState):
    """The household's personal data was erased; its record takes no more changes."""


class HouseholdMergedError(WrongState):
    """The household was merged into another record; act on the survivor."""


class HouseholdClosedError(WrongState):
    """The household left the registry (moved, deceased)."""


class AlreadyVerified(WrongState):
    """The household is already verified."""


class NotVerified(WrongState):
    """The household has not been verified by its community."""


class AlreadyPosted(WrongState):
    """The household is already publicly posted."""


class NotPosted(WrongState):
    """The household has not been publicly posted."""


class PostingWindowOpen(RuleViolation):
    """The objection window of the public posting has not ended yet."""


class ObjectionExists(AlreadyExists):
    """An objection with that id was already raised against the household."""


class ObjectionNotFound(NotFound):
    """No objection with that id was raised against the household."""


class ObjectionAlreadyResolved(WrongState):
    """The objection was resolved already."""


class UnderObjection(RuleViolation):
    """The household has an objection that is not resolved."""


class AlreadyEnrolled(WrongState):
    """The household is already enrolled in the campaign."""


class NotEnrolled(RuleViolation):
    """The household is not enrolled in the campaign."""


class Disqualified(RuleViolation):
    """The household was disqualified after a false report."""


class AlreadyDisqualified(WrongState):
    """The household was already disqualified in the campaign."""


class ProxySignatureRefused(RuleViolation):
    """Aid is signed for by the head or a registered member, never on their behalf."""


class NoAidStandard(RuleViolation):
    """The campaign pays none of the household's categories."""


class AidAlreadyPaid(RuleViolation):
    """The household already received its whole entitlement in the campaign."""


class AboveTier(RuleViolation):
    """The payment exceeds what remains of the household's entitlement."""


class SplitPaymentRefused(RuleViolation):
    """The payment is less than what remains: one payment may not be split into several."""


# ---------------------------------------------------------------- decisions


def id_number(value: object, field: str) -> str:
    """A mainland resident ID number, normalised (full-width folded, no spaces, capital X).

    Refused with its shape only: the number itself never reaches a message.
    """
    folded = (
        "".join(unicodedata.normalize("NFKC", value).split()).upper()
        if isinstance(value, str)
        else ""
    )
    if not _ID_NUMBER.match(folded):
        shape = f"{len(folded)} characters" if isinstance(value, str) else type(value).__name__
        msg = (
            f"{field} is not a resident ID number: it must be 18 characters, 17 digits then a "
            f"digit or X; got {shape}"
        )
        raise InvalidCommand(msg)
    return folded


def id_digests(people: Iterable[NewMember], digest: Callable[[str], str]) -> dict[str, str]:
    """The keyed digest of each well-formed ID number given, by normalised number.

    Command code calls this with ``tx.keyring.id_digest`` and passes the result
    to :func:`survey` or :func:`update`, which do no I/O themselves. Malformed
    numbers are skipped here: the decision refuses them, naming the member.
    """
    numbers = set()
    for person in people:
        if isinstance(person, NewMember) and person.id_number is not None:
            with suppress(InvalidCommand):
                numbers.add(id_number(person.id_number, "ID number"))
    return {number: digest(number) for number in sorted(numbers)}


def survey(
    existing: Household | None,
    *,
    ref: str,
    district: str,
    street: str,
    community: str,
    grid: str,
    address_detail: str,
    head: NewMember,
    members: Iterable[NewMember] = (),
    phone: str,
    categories: Iterable[str],
    hardship_level: int,
    heating: Heating | None = None,
    digests: Mapping[str, str] | None = None,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Register a surveyed household: the head becomes member "1", the others follow."""
    if existing is not None:
        msg = (
            f"household {ref} is already registered (surveyed in "
            f"{existing.address.community}); choose another reference"
        )
        raise HouseholdExists(msg)
    personal = _personal(ref)
    people = [head, *members]
    checked = tuple(
        _member(ref, person, str(number), is_head=number == 1, digests=digests or {}, at=at)
        for number, person in enumerate(people, start=1)
    )
    _require_distinct_ids(ref, checked)
    return [
        HouseholdSurveyed(
            ref=ref,
            actor=actor,
            effective_at=at,
            address=Address(
                district=checks.text(district, "district"),
                street=checks.text(street, "street"),
                community=checks.text(community, "community"),
                grid=checks.text(grid, "grid"),
                detail=personal(checks.text(address_detail, "address_detail", max_length=500)),
            ),
            members=checked,
            phone=personal(checks.phone(phone, f"phone of household {ref}")),
            categories=_categories(categories),
            hardship_level=_hardship_level(hardship_level),
            heating=_heating(heating),
        )
    ]


def update(
    household: Household,
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
    digests: Mapping[str, str] | None = None,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Record changed circumstances; only what differs is stored, with the reason."""
    _require_active(household)
    why = checks.reason(reason, why=f"a change to household {household.ref} can change its aid")
    personal = _personal(household.ref)
    old = household.address
    address = Address(
        district=old.district if district is None else checks.text(district, "district"),
        street=old.street if street is None else checks.text(street, "street"),
        community=old.community if community is None else checks.text(community, "community"),
        grid=old.grid if grid is None else checks.text(grid, "grid"),
        detail=old.detail
        if address_detail is None
        else personal(checks.text(address_detail, "address_detail", max_length=500)),
    )
    members = _changed_members(
        household,
        add=add_members,
        remove=remove_members,
        new_head=new_head,
        digests=digests,
        at=at,
    )
    new_phone = (
        None
        if phone is None
        else personal(checks.phone(phone, f"phone of household {household.ref}"))
    )
    new_categories = None if categories is None else _categories(categories)
    level = None if hardship_level is None else _hardship_level(hardship_level)
    new_heating = _heating(heating)
    event = CircumstancesUpdated(
        ref=household.ref,
        actor=actor,
        effective_at=at,
        address=None if address == old else address,
        members=None if members == household.members else members,
        phone=None if new_phone == household.phone else new_phone,
        categories=None if new_categories == household.categories else new_categories,
        hardship_level=None if level == household.hardship_level else level,
        heating=None if new_heating == household.heating else new_heating,
        reason=why,
    )
    changed = (
        event.address,
        event.members,
        event.phone,
        event.categories,
        event.hardship_level,
        event.heating,
    )
    if all(value is None for value in changed):
        msg = (
            f"update of household {household.ref} changes nothing: give at least one field "
            f"that differs from what is registered"
        )
        raise InvalidCommand(msg)
    return [event]


def verify(household: Household, *, actor: str, at: datetime) -> list[Event]:
    """Record that the community confirmed the survey."""
    _require_active(household)
    if household.verified:
        msg = f"household {household.ref} is already verified"
        raise AlreadyVerified(msg)
    return [HouseholdVerified(ref=household.ref, actor=actor, effective_at=at)]


def post(
    household: Household,
    *,
    place: str,
    window_days: int = DEFAULT_WINDOW_DAYS,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Post the verified household publicly; objections are taken for `window_days`."""
    _require_active(household)
    if not household.verified:
        msg = f"household {household.ref} is not verified: verify it before posting it publicly"
        raise NotVerified(msg)
    if household.posting is not None:
        msg = (
            f"household {household.ref} is already posted at {household.posting.place} "
            f"until {household.posting.window_ends_at.isoformat()}"
        )
        raise AlreadyPosted(msg)
    if isinstance(window_days, bool) or not isinstance(window_days, int):
        msg = f"window_days must be a whole number of days, got {window_days!r}"
        raise InvalidCommand(msg)
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        msg = (
            f"window_days is {window_days}; accepted: 1 to {MAX_WINDOW_DAYS} (the plans post for 7)"
        )
        raise InvalidCommand(msg)
    return [
        HouseholdPosted(
            ref=household.ref,
            actor=actor,
            effective_at=at,
            place=checks.text(place, "place"),
            window_ends_at=at + timedelta(days=window_days),
        )
    ]


def raise_objection(
    household: Household,
    *,
    objection_id: str,
    grounds: str,
    raised_by: str,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Record an objection to the household's listing; aid waits until it is resolved."""
    _require_active(household)
    objection_id = checks.text(objection_id, "objection_id", max_length=64)
    if objection_id in household.objections:
        msg = (
            f"objection {objection_id} was already raised against household {household.ref}; "
            f"use another id"
        )
        raise ObjectionExists(msg)
    return [
        ObjectionRaised(
            ref=household.ref,
            actor=actor,
            effective_at=at,
            objection_id=objection_id,
            grounds=_personal(household.ref)(checks.text(grounds, "grounds", max_length=2000)),
            raised_by=checks.text(raised_by, "raised_by"),
        )
    ]


def resolve_objection(
    household: Household,
    *,
    objection_id: str,
    upheld: bool,
    reason: str,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Resolve an objection. An upheld one withdraws verification and posting: the
    household must be corrected, verified and posted again before it is enrolled."""
    _require_active(household)
    objection = household.objections.get(objection_id)
    if objection is None:
        known = ", ".join(sorted(household.objections)) or "none"
        msg = f"household {household.ref} has no objection {objection_id!r} (objections: {known})"
        raise ObjectionNotFound(msg)
    if not objection.open:
        outcome = "upheld" if objection.upheld else "dismissed"
        msg = f"objection {objection_id} to household {household.ref} was already {outcome}"
        raise ObjectionAlreadyResolved(msg)
    if not isinstance(upheld, bool):
        msg = f"upheld must be True or False, got {upheld!r}"
        raise InvalidCommand(msg)
    return [
        ObjectionResolved(
            ref=household.ref,
            actor=actor,
            effective_at=at,
            objection_id=objection_id,
            upheld=upheld,
            reason=checks.reason(reason, why="the household and the objector are told the outcome"),
        )
    ]


def enroll(household: Household, *, campaign: Campaign, actor: str, at: datetime) -> list[Event]:
    """Enrol the household in a running campaign: verified, posted, window over, no
    open objection, not disqualified."""
    _require_active(household)
    require_running(campaign)
    ref = household.ref
    if campaign.ref in household.enrollments:
        msg = f"household {ref} is already enrolled in campaign {campaign.ref}"
        raise AlreadyEnrolled(msg)
    if not household.verified:
        upheld = [o.objection_id for o in household.objections.values() if o.upheld]
        after = f" (objection {', '.join(sorted(upheld))} was upheld)" if upheld else ""
        msg = f"household {ref} is not verified{after}: verify and post it before enrolling it"
        raise NotVerified(msg)
    if household.posting is None:
        msg = (
            f"household {ref} has not been publicly posted: post it and wait out the "
            f"objection window"
        )
        raise NotPosted(msg)
    if at < household.posting.window_ends_at:
        msg = (
            f"household {ref} is posted at {household.posting.place} until "
            f"{household.posting.window_ends_at.isoformat()}; it can be enrolled once the "
            f"objection window is over (requested at {at.isoformat()})"
        )
        raise PostingWindowOpen(msg)
    _require_no_open_objection(household)
    for found in household.disqualifications:
        if found.until >= campaign.starts_on:
            msg = (
                f"household {ref} was disqualified in campaign {found.campaign} "
                f"({found.reason}) until {found.until}; campaign {campaign.ref} starts on "
                f"{campaign.starts_on}, so it cannot be enrolled"
            )
            raise Disqualified(msg)
    return [HouseholdEnrolled(ref=ref, actor=actor, effective_at=at, campaign=campaign.ref)]


def disqualify(
    household: Household, *, campaign: Campaign, reason: str, actor: str, at: datetime
) -> list[Event]:
    """Disqualify after a false report: refused in `campaign` and in any campaign that
    starts within a year of its end. Aid already paid stays in the ledger."""
    _require_active(household)
    earlier = household.disqualification(campaign.ref)
    if earlier is not None:
        msg = (
            f"household {household.ref} was already disqualified in campaign {campaign.ref} "
            f"until {earlier.until} ({earlier.reason})"
        )
        raise AlreadyDisqualified(msg)
    return [
        HouseholdDisqualified(
            ref=household.ref,
            actor=actor,
            effective_at=at,
            campaign=campaign.ref,
            until=_one_year_after(campaign.ends_on),
            reason=checks.reason(reason, why="a disqualification also costs next year's aid"),
        )
    ]


def merge(
    duplicate: Household, survivor: Household, *, reason: str, actor: str, at: datetime
) -> list[Event]:
    """Merge `duplicate` into `survivor`: events for both records, to be saved together.

    The survivor takes over the duplicate's payments, so they count against its
    entitlement, and its disqualifications.
    """
    if duplicate.ref == survivor.ref:
        msg = (
            f"household {duplicate.ref} cannot be merged into itself; name the record that survives"
        )
        raise InvalidCommand(msg)
    _require_active(duplicate)
    _require_active(survivor)
    why = checks.reason(reason, why="auditors must see why two records became one")
    payments = tuple(
        payment for campaign in sorted(duplicate.ledger) for payment in duplicate.ledger[campaign]
    )
    return [
        MergedInto(ref=duplicate.ref, actor=actor, effective_at=at, into=survivor.ref, reason=why),
        DuplicateAbsorbed(
            ref=survivor.ref,
            actor=actor,
            effective_at=at,
            duplicate=duplicate.ref,
            payments=payments,
            disqualifications=duplicate.disqualifications,
            reason=why,
        ),
    ]


def close(
    household: Household, *, cause: str, reason: str, actor: str, at: datetime
) -> list[Event]:
    """Close the household: it moved away, its last member died, or another cause."""
    _require_active(household)
    return [
        HouseholdClosed(
            ref=household.ref,
            actor=actor,
            effective_at=at,
            cause=checks.one_of(cause, "cause", CLOSE_CAUSES),
            reason=checks.reason(reason, why="a closed household is no longer reached"),
        )
    ]


def erase(household: Household, *, reason: str, actor: str, at: datetime) -> list[Event]:
    """Record that the household's personal data is erased (the command destroys the key)."""
    if household.erased:
        msg = f"household {household.ref}'s personal data is already erased"
        raise HouseholdErasedError(msg)
    return [
        HouseholdErased(
            ref=household.ref,
            actor=actor,
            effective_at=at,
            reason=checks.reason(reason, why="erasing personal data cannot be undone"),
        )
    ]


# ------------------------------------------------- used by other aggregates' decisions


def require_eligible(household: Household, campaign_ref: str) -> None:
    """Refuse unless `household` may receive aid in campaign `campaign_ref` now.

    Raises HouseholdErasedError, HouseholdMergedError (naming the survivor),
    HouseholdClosedError, NotEnrolled, Disqualified or UnderObjection.
    """
    _require_active(household)
    if campaign_ref not in household.enrollments:
        enrolled = ", ".join(sorted(household.enrollments)) or "none"
        msg = (
            f"household {household.ref} is not enrolled in campaign {campaign_ref} "
            f"(enrolled in: {enrolled}); enrol it before it receives aid"
        )
        raise NotEnrolled(msg)
    found = household.disqualification(campaign_ref)
    if found is not None:
        msg = (
            f"household {household.ref} was disqualified in campaign {campaign_ref} "
            f"({found.reason}); it receives no aid in it"
        )
        raise Disqualified(msg)
    _require_no_open_objection(household)


def check_signer(household: Household, signed_by: str) -> Member:
    """The member who signs; refused unless it is the head or a registered member.

    Raises ProxySignatureRefused naming the registered member ids (never names).
    """
    member = household.member(signed_by) if isinstance(signed_by, str) else None
    if member is None:
        registered = ", ".join(
            f"{m.member_id}{' (head)' if m.is_head else ''}" for m in household.members
        )
        msg = (
            f"signer {signed_by!r} is not a registered member of household {household.ref}: "
            f"aid is signed for by the head or a registered member, never on their behalf; "
            f"registered members: {registered}"
        )
        raise ProxySignatureRefused(msg)
    return member


def pay_aid(
    household: Household,
    *,
    campaign: Campaign,
    visit: str,
    amount_fen: int,
    signed_by: str,
    signer_phone: str,
    override_reason: str | None = None,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Pay campaign aid into the ledger: once, at the highest tier, exactly what remains.

    The entitlement is the highest standard among the household's categories for
    its size; what remains is that minus everything paid in the campaign
    (absorbed duplicates' payments included). Without an override the amount must
    equal what remains: AidAlreadyPaid if nothing does, AboveTier if more,
    SplitPaymentRefused if less. With a non-blank `override_reason` any positive
    amount is accepted and recorded with the reason; the override never makes a
    campaign pay categories it has no standard for (NoAidStandard).
    """
    require_running(campaign)
    require_eligible(household, campaign.ref)
    signer = check_signer(household, signed_by)
    visit = checks.text(visit, "visit", max_length=64)
    phone = checks.phone(signer_phone, f"signer_phone of visit {visit}")
    amount = checks.quantity(amount_fen, "amount_fen")
    override = checks.optional_text(override_reason, "override_reason")
    ref = household.ref
    entitlement, category = campaign.entitlement(household.categories, household.size)
    if category is None:
        msg = (
            f"campaign {campaign.ref} has no aid standard for the categories of household {ref} "
            f"({', '.join(sorted(household.categories))}); it pays: "
            f"{', '.join(s.category for s in campaign.standards) or 'nothing'}"
        )
        raise NoAidStandard(msg)
    paid = household.paid_fen(campaign.ref)
    remaining = entitlement - paid
    basis = (
        f"entitlement {_yuan(entitlement)} ({category}, {household.size} persons), "
        f"{_yuan(paid)} already paid"
    )
    if override is None:
        if remaining <= 0:
            earlier = "; ".join(
                _describe(household, p, campaign) for p in household.payments(campaign.ref)
            )
            msg = (
                f"household {ref} already received its aid in campaign {campaign.ref}: {earlier}; "
                f"{basis}; a further payment by visit {visit} needs override_reason='...'"
            )
            raise AidAlreadyPaid(msg)
        if amount > remaining:
            msg = (
                f"visit {visit} would pay household {ref} {_yuan(amount)} in campaign "
                f"{campaign.ref}, above its tier: {basis}, {_yuan(remaining)} remains; pay "
                f"exactly {_yuan(remaining)} or give override_reason='...'"
            )
            raise AboveTier(msg)
        if amount < remaining:
            msg = (
                f"visit {visit} would pay household {ref} {_yuan(amount)} in campaign "
                f"{campaign.ref}, less than the {_yuan(remaining)} that remains ({basis}): a "
                f"payment is not split into several; pay exactly {_yuan(remaining)}"
            )
            raise SplitPaymentRefused(msg)
    return [
        AidPaid(
            ref=ref,
            actor=actor,
            effective_at=at,
            campaign=campaign.ref,
            visit=visit,
            amount_fen=amount,
            category=category,
            entitlement_fen=entitlement,
            signed_by=signer.member_id,
            signer_phone=_personal(ref)(phone),
            override_reason=override,
        )
    ]


# ---------------------------------------------------------------- helpers


def _personal(ref: str) -> Callable[[str], Personal]:
    return partial(Personal, household_subject(ref))


def _require_active(household: Household) -> None:
    ref = household.ref
    if household.erased:
        msg = f"household {ref}'s personal data was erased; its record takes no more changes"
        raise HouseholdErasedError(msg)
    if household.merged_into is not None:
        survivor = household.merged_into
        msg = (
            f"household {ref} was merged into household {survivor} as a duplicate; "
            f"act on {survivor}"
        )
        raise HouseholdMergedError(msg)
    if household.closed is not None:
        msg = (
            f"household {ref} was closed on {household.closed.closed_at.date()} "
            f"({household.closed.cause}: {household.closed.reason}); it takes no more changes"
        )
        raise HouseholdClosedError(msg)


def _require_no_open_objection(household: Household) -> None:
    pending = household.open_objections
    if pending:
        listed = ", ".join(
            f"{o.objection_id} raised by {o.raised_by} on {o.raised_at.date()}" for o in pending
        )
        msg = (
            f"household {household.ref} has {len(pending)} unresolved objection(s): {listed}; "
            f"resolve them first"
        )
        raise UnderObjection(msg)


def _member(
    ref: str,
    person: NewMember,
    member_id: str,
    *,
    is_head: bool,
    digests: Mapping[str, str],
    at: datetime,
) -> Member:
    if not isinstance(person, NewMember):
        msg = f"members must be NewMember values, got {type(person).__name__}"
        raise InvalidCommand(msg)
    who = f"member {member_id} of household {ref}"
    personal = _personal(ref)
    number = (
        None if person.id_number is None else id_number(person.id_number, f"ID number of {who}")
    )
    digest = None
    if number is not None:
        digest = digests.get(number)
        if digest is None:
            msg = f"ID number of {who} has no digest: compute digests with household.id_digests"
            raise InvalidCommand(msg)
    birth_year = person.birth_year
    if birth_year is not None and (
        isinstance(birth_year, bool)
        or not isinstance(birth_year, int)
        or not 1900 <= birth_year <= at.year
    ):
        msg = f"birth_year of {who} is {birth_year!r}; accepted: 1900 to {at.year}"
        raise InvalidCommand(msg)
    return Member(
        member_id=member_id,
        name=personal(checks.text(person.name, f"name of {who}")),
        relation=HEAD_RELATION if is_head else checks.text(person.relation, f"relation of {who}"),
        id_number=None if number is None else personal(number),
        id_digest=digest,
        birth_year=birth_year,
        is_head=is_head,
    )


def _require_distinct_ids(ref: str, members: tuple[Member, ...]) -> None:
    seen: dict[str, str] = {}
    for member in members:
        if member.id_digest is None:
            continue
        if member.id_digest in seen:
            msg = (
                f"members {seen[member.id_digest]} and {member.member_id} of household {ref} "
                f"have the same ID number; each person is registered once"
            )
            raise InvalidCommand(msg)
        seen[member.id_digest] = member.member_id


def _changed_members(
    household: Household,
    *,
    add: Iterable[NewMember],
    remove: Iterable[str],
    new_head: str | None,
    digests: Mapping[str, str] | None,
    at: datetime,
) -> tuple[Member, ...]:
    ref = household.ref
    members = list(household.members)
    if new_head is not None:
        if household.member(new_head) is None:
            msg = f"new_head {new_head!r} is not a registered member of household {ref}"
            raise InvalidCommand(msg)
        members = [_as_head(m) if m.member_id == new_head else _as_member(m) for m in members]
    for member_id in remove:
        found = next((m for m in members if m.member_id == member_id), None)
        if found is None:
            ids = ", ".join(m.member_id for m in members)
            msg = f"household {ref} has no member {member_id!r} to remove (members: {ids})"
            raise InvalidCommand(msg)
        if found.is_head:
            msg = (
                f"member {member_id} is the head of household {ref}: name another member "
                f"new_head='...' before removing them, or close the household"
            )
            raise InvalidCommand(msg)
        members.remove(found)
    # Ids are never reused: old signatures name them.
    for offset, person in enumerate(add, start=1):
        members.append(
            _member(
                ref,
                person,
                str(household.last_member_id + offset),
                is_head=False,
                digests=digests or {},
                at=at,
            )
        )
    checked = tuple(members)
    _require_distinct_ids(ref, checked)
    return checked


def _as_head(member: Member) -> Member:
    return attrs.evolve(member, is_head=True, relation=HEAD_RELATION)


def _as_member(member: Member) -> Member:
    return (
        attrs.evolve(member, is_head=False, relation=FORMER_HEAD_RELATION)
        if member.is_head
        else member
    )


def _hardship_level(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value not in HARDSHIP_LEVELS:
        msg = f"hardship_level is {value!r}; accepted: 1, 2 or 3"
        raise InvalidCommand(msg)
    assert isinstance(value, int)
    return value


def _categories(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        msg = (
            f"categories must be a collection of codes such as ['marginal'], got the text {value!r}"
        )
        raise InvalidCommand(msg)
    return checked_categories(value)


def _heating(value: object) -> Heating | None:
    if value is None:
        return None
    if not isinstance(value, Heating) or not all(
        isinstance(flag, bool) for flag in attrs.astuple(value)
    ):
        msg = (
            f"heating must be a Heating value with True/False for electricity, gas, "
            f"central_heating and co_alarm, got {value!r}"
        )
        raise InvalidCommand(msg)
    return value


def _one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d} yuan"


def _describe(household: Household, payment: AidPayment, campaign: Campaign) -> str:
    day = local_date(payment.effective_at, zone(campaign.timezone))
    origin = "" if payment.household == household.ref else f" to duplicate {payment.household}"
    override = " (override)" if payment.override_reason is not None else ""
    return f"{_yuan(payment.amount_fen)} by visit {payment.visit} on {day}{origin}{override}"


# ---------------------------------------------------------------- evolution


def _erased(value: Personal) -> Personal:
    return Personal(value.subject, None)


def _without_personal(state: Household) -> Household:
    members = tuple(
        attrs.evolve(
            m,
            name=_erased(m.name),
            id_number=None if m.id_number is None else _erased(m.id_number),
        )
        for m in state.members
    )
    objections = pmap(
        {key: attrs.evolve(o, grounds=_erased(o.grounds)) for key, o in state.objections.items()}
    )
    return attrs.evolve(
        state,
        address=attrs.evolve(state.address, detail=_erased(state.address.detail)),
        members=members,
        phone=_erased(state.phone),
        objections=objections,
        erased=True,
    )


def _payment(event: AidPaid) -> AidPayment:
    return AidPayment(
        household=event.ref,
        campaign=event.campaign,
        visit=event.visit,
        amount_fen=event.amount_fen,
        category=event.category,
        entitlement_fen=event.entitlement_fen,
        signed_by=event.signed_by,
        override_reason=event.override_reason,
        effective_at=event.effective_at,
    )


def _with_payments(
    ledger: PMap[str, tuple[AidPayment, ...]], payments: Iterable[AidPayment]
) -> PMap[str, tuple[AidPayment, ...]]:
    for payment in payments:
        ledger = ledger.set(payment.campaign, (*ledger.get(payment.campaign, ()), payment))
    return ledger


def _last_id(members: Iterable[Member], last: int) -> int:
    return max([last, *(int(m.member_id) for m in members if m.member_id.isdigit())])


def evolve(state: Household | None, event: Event) -> Household:  # noqa: PLR0911, PLR0912 - one branch per event type
    """The household after `event`. Never refuses: old history always replays."""
    if isinstance(event, HouseholdSurveyed):
        return Household(
            ref=event.ref,
            address=event.address,
            members=event.members,
            phone=event.phone,
            categories=event.categories,
            hardship_level=event.hardship_level,
            heating=event.heating,
            last_member_id=_last_id(event.members, 0),
        )
    assert state is not None, f"{event.type_name} cannot start a household"
    match event:
        case CircumstancesUpdated():
            changes: dict[str, object] = {
                name: getattr(event, name)
                for name in (
                    "address",
                    "members",
                    "phone",
                    "categories",
                    "hardship_level",
                    "heating",
                )
                if getattr(event, name) is not None
            }
            if event.members is not None:
                changes["last_member_id"] = _last_id(event.members, state.last_member_id)
            return attrs.evolve(state, **changes)  # type: ignore[arg-type]
        case HouseholdVerified():
            return attrs.evolve(state, verified=True)
        case HouseholdPosted():
            posting = Posting(
                posted_at=event.effective_at, window_ends_at=event.window_ends_at, place=event.place
            )
            return attrs.evolve(state, posting=posting)
        case ObjectionRaised():
            objection = Objection(
                objection_id=event.objection_id,
                grounds=event.grounds,
                raised_by=event.raised_by,
                raised_at=event.effective_at,
            )
            return attrs.evolve(
                state, objections=state.objections.set(event.objection_id, objection)
            )
        case ObjectionResolved():
            raised = state.objections.get(event.objection_id)
            if raised is None:
                return state
            resolved = attrs.evolve(
                raised, resolved_at=event.effective_at, upheld=event.upheld, resolution=event.reason
            )
            state = attrs.evolve(
                state, objections=state.objections.set(event.objection_id, resolved)
            )
            return attrs.evolve(state, verified=False, posting=None) if event.upheld else state
        case HouseholdEnrolled():
            return attrs.evolve(state, enrollments=state.enrollments | {event.campaign})
        case HouseholdDisqualified():
            found = Disqualification(
                campaign=event.campaign, until=event.until, reason=event.reason
            )
            return attrs.evolve(state, disqualifications=(*state.disqualifications, found))
        case MergedInto():
            return attrs.evolve(state, merged_into=event.into)
        case DuplicateAbsorbed():
            taken = {d.campaign for d in state.disqualifications}
            return attrs.evolve(
                state,
                absorbed=(*state.absorbed, event.duplicate),
                ledger=_with_payments(state.ledger, event.payments),
                disqualifications=(
                    *state.disqualifications,
                    *(d for d in event.disqualifications if d.campaign not in taken),
                ),
            )
        case HouseholdClosed():
            closure = Closure(cause=event.cause, reason=event.reason, closed_at=event.effective_at)
            return attrs.evolve(state, closed=closure)
        case AidPaid():
            return attrs.evolve(state, ledger=_with_payments(state.ledger, [_payment(event)]))
        case HouseholdErased():
            return _without_personal(state)
    return state


KIND: Kind[Household] = Kind("household", evolve)
