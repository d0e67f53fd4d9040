"""Patrol: a street patrol looking for people sleeping rough (街面巡查).

During the season (e.g. mid-November to 15 March) each locality patrols at least
three times a week, with night patrols, and every day while a cold-wave warning
is in force. A team under a named leader checks the key places (stations and
docks, busy streets, bridges and culverts, underpasses, hospitals, abandoned
buildings, construction sites, the urban fringe) and logs every person it meets:
guided to the rescue station or shelter; if they refuse, given cotton coats,
quilts, food and water (issued from donation lots) with contact details left for
a follow-up; minors, critically ill and (suspected) mentally ill persons taken
into protective rescue or to a designated hospital ("treat first, then rescue");
those who want to go home helped to return.

Team and leader are staff, not people being helped, so they are plain text; what
is said about a person met (description, condition, follow-up) is personal data,
sealed under the person's key.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from warmcase.clock import require_aware, zone
from warmcase.domain import checks
from warmcase.domain.campaign import Campaign, require_running
from warmcase.domain.stream import Kind
from warmcase.errors import (
    AlreadyExists,
    EffectiveTimeRefused,
    InvalidCommand,
    RuleViolation,
    WrongState,
)
from warmcase.events import Event, event_type, value_type
from warmcase.personal import Personal, person_subject
from warmcase.refs import checked_ref

PLACE_KINDS: dict[str, str] = {
    "station": "车站 station",
    "dock": "码头 dock",
    "busy_street": "繁华街道 busy street",
    "bridge_culvert": "桥梁涵洞 bridge or culvert",
    "underpass": "地下通道 underpass",
    "hospital": "医院 hospital",
    "abandoned_building": "废弃房屋厂房 abandoned building or factory",
    "construction_site": "建筑工地 construction site",
    "urban_fringe": "城乡结合部 urban fringe",
    "other": "其他 other",
}
"""Key places a patrol checks; the codes are stored in events and never change."""

OUTCOMES: dict[str, str] = {
    "accepted_shelter": "guided to the rescue station or shelter",
    "refused_given_supplies": "refused help; given supplies, contact left for a follow-up",
    "protective_rescue": "protective rescue (station or designated hospital)",
    "hospital_referral": "taken to hospital: treat first, then rescue",
    "helped_home": "helped to return home",
}
"""What happened with a person met; the codes are stored in events and never change."""

PROTECTIVE_OUTCOMES: tuple[str, ...] = ("protective_rescue", "hospital_referral")
"""The only outcomes allowed for minors, critically ill and mentally ill persons."""

SCHEDULED = "scheduled"
STARTED = "started"
ENDED = "ended"
CANCELLED = "cancelled"

# ---------------------------------------------------------------- values


@value_type("patrol.supply_line")
@attrs.frozen(kw_only=True)
class SupplyLine:
    """A quantity of one donation lot handed to a person met on patrol."""

    lot_ref: str
    quantity: int


@attrs.frozen(kw_only=True)
class PlaceCheck:
    """A key place the patrol checked, and when."""

    kind: str
    name: str
    checked_at: datetime


@attrs.frozen(kw_only=True)
class Encounter:
    """A person met on patrol and what was done for them."""

    encounter_id: str
    person_ref: str | None
    description: Personal | None
    condition: Personal
    minor: bool
    critically_ill: bool
    mentally_ill: bool
    outcome: str
    supplies: tuple[SupplyLine, ...]
    note: Personal | None
    reason: str | None
    met_at: datetime

    @property
    def vulnerable(self) -> bool:
        """Whether the person is owed protective rescue."""
        return self.minor or self.critically_ill or self.mentally_ill


# ---------------------------------------------------------------- state


@attrs.frozen(kw_only=True)
class Patrol:
    """A patrol as its events leave it."""

    ref: str
    campaign: str
    area: str
    team: str
    leader: str
    scheduled_for: datetime
    night: bool
    status: str = SCHEDULED
    started_at: datetime | None = None
    ended_at: datetime | None = None
    places: tuple[PlaceCheck, ...] = ()
    encounters: tuple[Encounter, ...] = ()
    summary: str | None = None
    cancel_reason: str | None = None

    def encounter(self, encounter_id: str) -> Encounter | None:
        """The encounter logged under `encounter_id`, if any."""
        return next((e for e in self.encounters if e.encounter_id == encounter_id), None)


# ---------------------------------------------------------------- events


@event_type("patrol.scheduled")
@attrs.frozen(kw_only=True)
class PatrolScheduled(Event):
    campaign: str
    area: str
    team: str
    leader: str
    scheduled_for: datetime
    night: bool


@event_type("patrol.started")
@attrs.frozen(kw_only=True)
class PatrolStarted(Event):
    pass


@event_type("patrol.place_checked")
@attrs.frozen(kw_only=True)
class PlaceChecked(Event):
    kind: str
    name: str


@event_type("patrol.encounter_logged")
@attrs.frozen(kw_only=True)
class EncounterLogged(Event):
    encounter_id: str
    person_ref: str | None
    description: Personal | None
    condition: Personal
    minor: bool
    critically_ill: bool
    mentally_ill: bool
    outcome: str
    supplies: tuple[SupplyLine, ...]
    note: Personal | None
    reason: str | None
    """Why a person who refused help was given no supplies."""


@event_type("patrol.ended")
@attrs.frozen(kw_only=True)
class PatrolEnded(Event):
    summary: str | None


@event_type("patrol.cancelled")
@attrs.frozen(kw_only=True)
class PatrolCancelled(Event):
    reason: str


# ---------------------------------------------------------------- errors


class PatrolAlreadyExists(AlreadyExists):
    """A patrol is already scheduled under that reference."""


class WrongPatrolState(WrongState):
    """The patrol is not in a state where the command applies."""


class OutsideCampaignPeriod(RuleViolation):
    """The moment falls outside the campaign's period, in the campaign's time zone."""


class EncounterAlreadyLogged(AlreadyExists):
    """The patrol already logged an encounter under that id."""


class ProtectiveRescueRequired(RuleViolation):
    """A minor, critically ill or mentally ill person was given another outcome."""


class SuppliesNotRecorded(RuleViolation):
    """A person who refused help is logged with no supplies and no reason why."""


# ---------------------------------------------------------------- decisions


def schedule_patrol(
    existing: Patrol | None,
    *,
    ref: str,
    campaign: Campaign,
    area: str,
    team: str,
    leader: str,
    scheduled_for: datetime,
    night: bool = False,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Schedule a patrol of `area` within a running campaign's period."""
    if existing is not None:
        msg = (
            f"patrol {ref} already exists ({existing.area}, {existing.scheduled_for.isoformat()}, "
            f"{existing.status}); choose another reference"
        )
        raise PatrolAlreadyExists(msg)
    require_running(campaign)
    scheduled_for = require_aware(scheduled_for, "scheduled_for")
    require_in_period(campaign, scheduled_for, f"patrol {ref} is scheduled for")
    if not isinstance(night, bool):
        msg = f"night must be True or False, got {night!r}"
        raise InvalidCommand(msg)
    return [
        PatrolScheduled(
            ref=ref,
            actor=actor,
            effective_at=at,
            campaign=campaign.ref,
            area=checks.text(area, "area"),
            team=checks.text(team, "team"),
            leader=checks.text(leader, "leader"),
            scheduled_for=scheduled_for,
            night=night,
        )
    ]


def start_patrol(patrol: Patrol, *, actor: str, at: datetime) -> list[Event]:
    """The team sets out; only a scheduled patrol starts."""
    _require_status(patrol, SCHEDULED, "start")
    return [PatrolStarted(ref=patrol.ref, actor=actor, effective_at=at)]


def check_place(patrol: Patrol, *, kind: str, name: str, actor: str, at: datetime) -> list[Event]:
    """Record that the team checked a key place of `kind` named `name`."""
    _require_on_street(patrol, at, "check a place on")
    return [
        PlaceChecked(
            ref=patrol.ref,
            actor=actor,
            effective_at=at,
            kind=checks.one_of(kind, "place kind", tuple(PLACE_KINDS)),
            name=checks.text(name, "place name"),
        )
    ]


def log_encounter(
    patrol: Patrol,
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
    at: datetime,
) -> list[Event]:
    """Log a person met and what was done; refused if the rules for that person are broken.

    The supplies are recorded here; issuing them from their lots is the command's
    part, in the same transaction.
    """
    _require_on_street(patrol, at, "log an encounter on")
    encounter_id = checked_ref("encounter", encounter_id)
    if patrol.encounter(encounter_id) is not None:
        msg = (
            f"patrol {patrol.ref} already logged encounter {encounter_id}; "
            f"give each person met their own encounter id"
        )
        raise EncounterAlreadyLogged(msg)
    if person_ref is not None:
        person_ref = checked_ref("person", person_ref)
    elif description is None:
        msg = (
            f"encounter {encounter_id} on patrol {patrol.ref} names nobody: give person_ref for "
            f"an identified person, or a description such as 'man, about 50, north exit'"
        )
        raise InvalidCommand(msg)
    outcome = checks.one_of(outcome, "outcome", tuple(OUTCOMES))
    flags = {"minor": minor, "critically_ill": critically_ill, "mentally_ill": mentally_ill}
    for field, flag in flags.items():
        if not isinstance(flag, bool):
            msg = f"{field} must be True or False, got {flag!r}"
            raise InvalidCommand(msg)
    vulnerable = [field.replace("_", " ") for field, flag in flags.items() if flag]
    if vulnerable and outcome not in PROTECTIVE_OUTCOMES:
        msg = (
            f"encounter {encounter_id} on patrol {patrol.ref}: the person is flagged "
            f"{' and '.join(vulnerable)}; minors, critically ill and mentally ill persons get "
            f"protective rescue ('treat first, then rescue'), so outcome {outcome!r} is not "
            f"accepted; use one of: {', '.join(PROTECTIVE_OUTCOMES)}"
        )
        raise ProtectiveRescueRequired(msg)
    lines = checked_supplies(supplies)
    reason = checks.optional_text(reason, "reason")
    if outcome == "refused_given_supplies" and not lines and reason is None:
        msg = (
            f"encounter {encounter_id} on patrol {patrol.ref}: a person who refuses help is "
            f"given cotton coats, quilts, food or water; give supplies=[(lot_ref, quantity)], "
            f"or reason='...' saying why none were handed out"
        )
        raise SuppliesNotRecorded(msg)
    subject = encounter_subject(patrol.ref, encounter_id, person_ref)
    checked_description = checks.optional_text(description, "description", max_length=500)
    checked_note = checks.optional_text(note, "note")
    return [
        EncounterLogged(
            ref=patrol.ref,
            actor=actor,
            effective_at=at,
            encounter_id=encounter_id,
            person_ref=person_ref,
            description=None
            if checked_description is None
            else Personal(subject, checked_description),
            condition=Personal(subject, checks.text(condition, "condition", max_length=500)),
            minor=minor,
            critically_ill=critically_ill,
            mentally_ill=mentally_ill,
            outcome=outcome,
            supplies=lines,
            note=None if checked_note is None else Personal(subject, checked_note),
            reason=reason,
        )
    ]


def end_patrol(
    patrol: Patrol, *, summary: str | None = None, actor: str, at: datetime
) -> list[Event]:
    """The team comes back; only a started patrol ends, not before it started."""
    _require_on_street(patrol, at, "end")
    return [
        PatrolEnded(
            ref=patrol.ref,
            actor=actor,
            effective_at=at,
            summary=checks.optional_text(summary, "summary"),
        )
    ]


def cancel_patrol(patrol: Patrol, *, reason: str, actor: str, at: datetime) -> list[Event]:
    """Call off a patrol that has not started; the reason is kept for the weekly count."""
    _require_status(patrol, SCHEDULED, "cancel")
    return [
        PatrolCancelled(
            ref=patrol.ref,
            actor=actor,
            effective_at=at,
            reason=checks.reason(
                reason, why="a cancelled patrol may leave the area short of its weekly minimum"
            ),
        )
    ]


def checked_supplies(supplies: Iterable[SupplyLine | tuple[str, int]]) -> tuple[SupplyLine, ...]:
    """The supply lines, one per lot, each a positive whole quantity."""
    if isinstance(supplies, str | bytes):
        msg = f"supplies must be (lot_ref, quantity) pairs, got {supplies!r}"
        raise InvalidCommand(msg)
    lines: list[SupplyLine] = []
    for item in supplies:
        if isinstance(item, SupplyLine):
            lot_ref, quantity = item.lot_ref, item.quantity
        elif isinstance(item, tuple) and len(item) == 2:
            lot_ref, quantity = item
        else:
            msg = f"a supply line is a (lot_ref, quantity) pair, got {item!r}"
            raise InvalidCommand(msg)
        lot_ref = checked_ref("lot", lot_ref)
        quantity = checks.quantity(quantity, f"quantity of lot {lot_ref}")
        if any(line.lot_ref == lot_ref for line in lines):
            msg = f"lot {lot_ref} appears twice in the supplies; give one line with the total"
            raise InvalidCommand(msg)
        lines.append(SupplyLine(lot_ref=lot_ref, quantity=quantity))
    return tuple(lines)


def encounter_subject(patrol_ref: str, encounter_id: str, person_ref: str | None) -> str:
    """The key subject of what is recorded about a person met on patrol.

    An identified person's data is sealed under their own key; an anonymous
    person's under a key of their own encounter, so either can be erased.
    """
    if person_ref is not None:
        return person_subject(person_ref)
    return person_subject(f"{patrol_ref}/{encounter_id}")


def require_in_period(campaign: Campaign, moment: datetime, what: str) -> None:
    """Refuse unless `moment`'s day, in the campaign's time zone, is within its period."""
    tz = zone(campaign.timezone)
    day = moment.astimezone(tz).date()
    if not campaign.starts_on <= day <= campaign.ends_on:
        msg = (
            f"{what} {day} ({campaign.timezone}), outside campaign {campaign.ref}'s period "
            f"{campaign.starts_on} to {campaign.ends_on}; choose a day within it"
        )
        raise OutsideCampaignPeriod(msg)


def _require_status(patrol: Patrol, status: str, verb: str) -> None:
    if patrol.status != status:
        msg = (
            f"cannot {verb} patrol {patrol.ref}: it is {patrol.status}; "
            f"only a {status} patrol accepts that"
        )
        raise WrongPatrolState(msg)


def _require_on_street(patrol: Patrol, at: datetime, verb: str) -> None:
    """The patrol is started, not ended, and `at` is not before it started."""
    _require_status(patrol, STARTED, verb)
    assert patrol.started_at is not None
    if at < patrol.started_at:
        msg = (
            f"cannot {verb} patrol {patrol.ref} at {at.isoformat()}: it started at "
            f"{patrol.started_at.isoformat()}; give a time from then on"
        )
        raise EffectiveTimeRefused(msg)


# ---------------------------------------------------------------- evolution


def evolve(state: Patrol | None, event: Event) -> Patrol:  # noqa: PLR0911 - one case per event
    """The patrol after `event`. Never refuses: old history always replays."""
    match event:
        case PatrolScheduled():
            return Patrol(
                ref=event.ref,
                campaign=event.campaign,
                area=event.area,
                team=event.team,
                leader=event.leader,
                scheduled_for=event.scheduled_for,
                night=event.night,
            )
        case PatrolStarted():
            assert state is not None
            return attrs.evolve(state, status=STARTED, started_at=event.effective_at)
        case PlaceChecked():
            assert state is not None
            place = PlaceCheck(kind=event.kind, name=event.name, checked_at=event.effective_at)
            return attrs.evolve(state, places=(*state.places, place))
        case EncounterLogged():
            assert state is not None
            encounter = Encounter(
                encounter_id=event.encounter_id,
                person_ref=event.person_ref,
                description=event.description,
                condition=event.condition,
                minor=event.minor,
                critically_ill=event.critically_ill,
                mentally_ill=event.mentally_ill,
                outcome=event.outcome,
                supplies=event.supplies,
                note=event.note,
                reason=event.reason,
                met_at=event.effective_at,
            )
            return attrs.evolve(state, encounters=(*state.encounters, encounter))
        case PatrolEnded():
            assert state is not None
            return attrs.evolve(
                state, status=ENDED, ended_at=event.effective_at, summary=event.summary
            )
        case PatrolCancelled():
            assert state is not None
            return attrs.evolve(state, status=CANCELLED, cancel_reason=event.reason)
    assert state is not None, f"{event.type_name} cannot start a patrol"
    return state


KIND: Kind[Patrol] = Kind("patrol", evolve)
