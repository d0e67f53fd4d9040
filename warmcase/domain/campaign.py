"""Campaign: who runs the winter's relief, when, and by which rules.

A campaign is opened by its owner (a civil-affairs bureau, a street office, a
union, a charity) with a period, a time zone that defines its days and weeks,
the aid standards (tiers by category and household size, per household or per
person) and the street-patrol rules. Standards may be amended with a reason;
cold-wave warnings are issued per area; the campaign is finally closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import attrs

from warmcase.clock import DEFAULT_TIMEZONE, require_aware, zone
from warmcase.domain import checks
from warmcase.domain.categories import checked_categories
from warmcase.domain.stream import Kind
from warmcase.errors import AlreadyExists, InvalidCommand, WrongState
from warmcase.events import Event, event_type, value_type

# ---------------------------------------------------------------- values


@value_type("campaign.aid_standard")
@attrs.frozen(kw_only=True)
class AidStandard:
    """What one category is paid: tiers by household size, per household or per person.

    ``tiers`` pairs a smallest household size with an amount in fen, ascending:
    ``((1, 55000), (2, 90000), (3, 110000))`` is 550 yuan for one person, 900 for
    two, 1,100 for three or more. With ``basis="person"`` the amount is per member.
    """

    category: str
    tiers: tuple[tuple[int, int], ...]
    basis: str = "household"

    def amount_for(self, household_size: int) -> int:
        """The amount in fen a household of `household_size` persons is entitled to."""
        amount = 0
        for smallest_size, fen in self.tiers:
            if household_size >= smallest_size:
                amount = fen
        return amount * household_size if self.basis == "person" else amount


@value_type("campaign.patrol_rules")
@attrs.frozen(kw_only=True)
class PatrolRules:
    """The street-patrol rules: how often, and how fast a hotline call is answered."""

    min_patrols_per_week: int = 3
    daily_during_cold_wave: bool = True
    response_minutes: int = 30
    far_response_minutes: int = 60


@value_type("campaign.cold_wave")
@attrs.frozen(kw_only=True)
class ColdWave:
    """A cold-wave warning for an area: patrols every day while it lasts."""

    area: str
    starts_at: datetime
    ends_at: datetime

    def covers(self, area: str, moment: datetime) -> bool:
        """Whether the warning is in force in `area` at `moment`."""
        return self.area == area and self.starts_at <= moment < self.ends_at


# ---------------------------------------------------------------- state


@attrs.frozen(kw_only=True)
class Campaign:
    """A campaign as its events leave it."""

    ref: str
    name: str
    owner: str
    starts_on: date
    ends_on: date
    timezone: str
    standards: tuple[AidStandard, ...]
    patrol_rules: PatrolRules
    cold_waves: tuple[ColdWave, ...] = ()
    closed: bool = False

    def standard_for(self, category: str) -> AidStandard | None:
        """The aid standard of `category`, if the campaign pays it."""
        return next((s for s in self.standards if s.category == category), None)

    def entitlement(self, categories: Iterable[str], household_size: int) -> tuple[int, str | None]:
        """The highest amount (fen) any of `categories` gives, and the category that gives it."""
        best: tuple[int, str | None] = (0, None)
        for category in sorted(categories):
            standard = self.standard_for(category)
            if standard is not None:
                amount = standard.amount_for(household_size)
                if amount > best[0]:
                    best = (amount, category)
        return best

    def cold_wave_in_force(self, area: str, moment: datetime) -> bool:
        """Whether a cold-wave warning covers `area` at `moment`."""
        return any(wave.covers(area, moment) for wave in self.cold_waves)


# ---------------------------------------------------------------- events


@event_type("campaign.opened")
@attrs.frozen(kw_only=True)
class CampaignOpened(Event):
    name: str
    owner: str
    starts_on: date
    ends_on: date
    timezone: str
    standards: tuple[AidStandard, ...]
    patrol_rules: PatrolRules


@event_type("campaign.standards_amended")
@attrs.frozen(kw_only=True)
class StandardsAmended(Event):
    standards: tuple[AidStandard, ...]
    reason: str


@event_type("campaign.cold_wave_warned")
@attrs.frozen(kw_only=True)
class ColdWaveWarned(Event):
    area: str
    starts_at: datetime
    ends_at: datetime


@event_type("campaign.closed")
@attrs.frozen(kw_only=True)
class CampaignClosed(Event):
    reason: str | None = None


# ---------------------------------------------------------------- errors


class CampaignClosedError(WrongState):
    """The campaign is closed; it takes no more changes."""


# ---------------------------------------------------------------- decisions


def open_campaign(
    existing: Campaign | None,
    *,
    ref: str,
    name: str,
    owner: str,
    starts_on: date,
    ends_on: date,
    standards: Iterable[AidStandard],
    patrol_rules: PatrolRules | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Open a campaign; refused if the reference is taken or the rules make no sense."""
    if existing is not None:
        msg = (
            f"campaign {ref} already exists (opened by {existing.owner}); choose another reference"
        )
        raise AlreadyExists(msg)
    starts_on = checks.day(starts_on, "starts_on")
    ends_on = checks.day(ends_on, "ends_on")
    if ends_on < starts_on:
        msg = f"campaign {ref} would end on {ends_on} before it starts on {starts_on}"
        raise InvalidCommand(msg)
    zone(timezone)
    return [
        CampaignOpened(
            ref=ref,
            actor=actor,
            effective_at=at,
            name=checks.text(name, "name"),
            owner=checks.text(owner, "owner"),
            starts_on=starts_on,
            ends_on=ends_on,
            timezone=timezone,
            standards=checked_standards(standards),
            patrol_rules=checked_patrol_rules(patrol_rules or PatrolRules()),
        )
    ]


def amend_standards(
    campaign: Campaign, *, standards: Iterable[AidStandard], reason: str, actor: str, at: datetime
) -> list[Event]:
    """Replace the aid standards; a reason is required because payments depend on them."""
    _require_open(campaign)
    return [
        StandardsAmended(
            ref=campaign.ref,
            actor=actor,
            effective_at=at,
            standards=checked_standards(standards),
            reason=checks.reason(reason, why="aid standards decide what households are paid"),
        )
    ]


def warn_cold_wave(
    campaign: Campaign,
    *,
    area: str,
    starts_at: datetime,
    ends_at: datetime,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Record a cold-wave warning for `area`: patrols there become daily while it lasts."""
    _require_open(campaign)
    starts_at = require_aware(starts_at, "starts_at")
    ends_at = require_aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        msg = f"cold wave in {area} would end at {ends_at} before it starts at {starts_at}"
        raise InvalidCommand(msg)
    if ends_at - starts_at > timedelta(days=31):
        msg = "a cold-wave warning lasts at most 31 days; issue a new one if it is extended"
        raise InvalidCommand(msg)
    return [
        ColdWaveWarned(
            ref=campaign.ref,
            actor=actor,
            effective_at=at,
            area=checks.text(area, "area"),
            starts_at=starts_at,
            ends_at=ends_at,
        )
    ]


def close_campaign(
    campaign: Campaign, *, reason: str | None = None, actor: str, at: datetime
) -> list[Event]:
    """Close the campaign; it takes no more changes."""
    _require_open(campaign)
    return [
        CampaignClosed(
            ref=campaign.ref,
            actor=actor,
            effective_at=at,
            reason=checks.optional_text(reason, "reason"),
        )
    ]


def require_running(campaign: Campaign) -> Campaign:
    """`campaign` if it still takes changes (for other aggregates' decisions)."""
    _require_open(campaign)
    return campaign


def _require_open(campaign: Campaign) -> None:
    if campaign.closed:
        msg = f"campaign {campaign.ref} is closed and takes no more changes"
        raise CampaignClosedError(msg)


def checked_standards(standards: Iterable[AidStandard]) -> tuple[AidStandard, ...]:
    """The standards, refused if a category is unknown or repeated, or a tier is malformed."""
    checked: list[AidStandard] = []
    for standard in standards:
        if not isinstance(standard, AidStandard):
            msg = f"aid standards must be AidStandard values, got {standard!r}"
            raise InvalidCommand(msg)
        checked_categories([standard.category])
        checks.one_of(standard.basis, "basis", ("household", "person"))
        if any(s.category == standard.category for s in checked):
            msg = f"category {standard.category} has two aid standards; give one with its tiers"
            raise InvalidCommand(msg)
        sizes = [size for size, _ in standard.tiers]
        if not sizes or sizes[0] != 1 or sizes != sorted(set(sizes)):
            msg = (
                f"tiers of {standard.category} must start at household size 1 and ascend, "
                f"e.g. ((1, 55000), (2, 90000), (3, 110000)); got {standard.tiers}"
            )
            raise InvalidCommand(msg)
        for size, fen in standard.tiers:
            checks.quantity(size, f"household size in tiers of {standard.category}")
            checks.quantity(fen, f"amount (fen) in tiers of {standard.category}")
        checked.append(
            attrs.evolve(standard, tiers=tuple((size, fen) for size, fen in standard.tiers))
        )
    return tuple(checked)


def checked_patrol_rules(rules: PatrolRules) -> PatrolRules:
    """The patrol rules, refused if any figure is out of range."""
    if not 1 <= rules.min_patrols_per_week <= 7:
        msg = f"min_patrols_per_week is {rules.min_patrols_per_week}; accepted: 1 to 7"
        raise InvalidCommand(msg)
    if not 1 <= rules.response_minutes <= rules.far_response_minutes <= 24 * 60:
        msg = (
            f"response minutes {rules.response_minutes}/{rules.far_response_minutes} must satisfy "
            f"1 <= near <= far <= 1440 (the plans say 30 and 60)"
        )
        raise InvalidCommand(msg)
    return rules


# ---------------------------------------------------------------- evolution


def evolve(state: Campaign | None, event: Event) -> Campaign:
    """The campaign after `event`. Never refuses: old history always replays."""
    match event:
        case CampaignOpened():
            return Campaign(
                ref=event.ref,
                name=event.name,
                owner=event.owner,
                starts_on=event.starts_on,
                ends_on=event.ends_on,
                timezone=event.timezone,
                standards=event.standards,
                patrol_rules=event.patrol_rules,
            )
        case StandardsAmended():
            assert state is not None
            return attrs.evolve(state, standards=event.standards)
        case ColdWaveWarned():
            assert state is not None
            wave = ColdWave(area=event.area, starts_at=event.starts_at, ends_at=event.ends_at)
            return attrs.evolve(state, cold_waves=(*state.cold_waves, wave))
        case CampaignClosed():
            assert state is not None
            return attrs.evolve(state, closed=True)
    assert state is not None, f"{event.type_name} cannot start a campaign"
    return state


KIND: Kind[Campaign] = Kind("campaign", evolve)
