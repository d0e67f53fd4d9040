"""HotlineCall: a report of someone sleeping rough, phoned in to the 24-hour hotline.

The call is received, a team (or a patrol already out) is dispatched, and the
team must reach the scene within 30 minutes, or 60 where the place is really far
(the campaign's patrol rules hold the figures). A late arrival is not refused --
it happened -- but the arrival records the response time, the target it was
measured against and whether it was met, so reports can count the breaches. The
call is then closed with what came of it.

What the caller says about the person and the caller's phone number are personal
data, sealed under a key of the call's own, so the call can be erased alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from warmcase.domain import checks
from warmcase.domain.campaign import Campaign, require_running
from warmcase.domain.patrol import CANCELLED, ENDED, OUTCOMES, Patrol, require_in_period
from warmcase.domain.stream import Kind
from warmcase.errors import (
    AlreadyExists,
    EffectiveTimeRefused,
    InvalidCommand,
    RuleViolation,
    WrongState,
)
from warmcase.events import Event, event_type
from warmcase.personal import Personal, person_subject

ON_SCENE_OUTCOMES: tuple[str, ...] = (*OUTCOMES, "person_not_found", "no_help_needed")
"""How a call ends once the team is on the scene; codes are stored and never change."""

DUPLICATE_CALL = "duplicate_call"
"""The one way to close a call before anyone arrives: another call reported the same person."""

RECEIVED = "received"
DISPATCHED = "dispatched"
ARRIVED = "arrived"
CLOSED = "closed"

# ---------------------------------------------------------------- state


@attrs.frozen(kw_only=True)
class HotlineCall:
    """A hotline call as its events leave it."""

    ref: str
    campaign: str
    area: str
    place: str
    far: bool
    description: Personal
    caller_phone: Personal | None
    received_at: datetime
    status: str = RECEIVED
    patrol: str | None = None
    team: str | None = None
    dispatched_at: datetime | None = None
    arrived_at: datetime | None = None
    response_minutes: int | None = None
    target_minutes: int | None = None
    within_target: bool | None = None
    outcome: str | None = None
    closed_at: datetime | None = None


# ---------------------------------------------------------------- events


@event_type("hotline.call_received")
@attrs.frozen(kw_only=True)
class CallReceived(Event):
    campaign: str
    area: str
    place: str
    far: bool
    description: Personal
    caller_phone: Personal | None


@event_type("hotline.dispatched")
@attrs.frozen(kw_only=True)
class CallDispatched(Event):
    patrol: str | None
    team: str


@event_type("hotline.arrived")
@attrs.frozen(kw_only=True)
class CallArrived(Event):
    response_minutes: int
    """Whole minutes from receipt to arrival, rounded up (30 min 1 s is 31)."""
    target_minutes: int
    within_target: bool


@event_type("hotline.closed")
@attrs.frozen(kw_only=True)
class CallClosed(Event):
    outcome: str


# ---------------------------------------------------------------- errors


class CallAlreadyLogged(AlreadyExists):
    """A hotline call is already logged under that reference."""


class WrongCallState(WrongState):
    """The call is not in a state where the command applies."""


class PatrolUnavailable(WrongState):
    """The patrol named for a dispatch has ended or was cancelled."""


class PatrolOfAnotherCampaign(RuleViolation):
    """The patrol named for a dispatch belongs to another campaign."""


# ---------------------------------------------------------------- decisions


def log_hotline_call(
    existing: HotlineCall | None,
    *,
    ref: str,
    campaign: Campaign,
    area: str,
    place: str,
    far: bool = False,
    description: str,
    caller_phone: str | None = None,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Log a call received at `at` about someone at `place` in `area`."""
    if existing is not None:
        msg = (
            f"hotline call {ref} already exists (received {existing.received_at.isoformat()}, "
            f"{existing.status}); choose another reference"
        )
        raise CallAlreadyLogged(msg)
    require_running(campaign)
    require_in_period(campaign, at, f"hotline call {ref} is received on")
    if not isinstance(far, bool):
        msg = f"far must be True or False, got {far!r}"
        raise InvalidCommand(msg)
    subject = call_subject(ref)
    phone = checks.optional_text(caller_phone, "caller_phone", max_length=40)
    return [
        CallReceived(
            ref=ref,
            actor=actor,
            effective_at=at,
            campaign=campaign.ref,
            area=checks.text(area, "area"),
            place=checks.text(place, "place"),
            far=far,
            description=Personal(subject, checks.text(description, "description", max_length=500)),
            caller_phone=None if phone is None else Personal(subject, phone),
        )
    ]


def dispatch_call(
    call: HotlineCall,
    *,
    patrol: Patrol | None = None,
    team: str | None = None,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Send a patrol already out, or a team, to the scene of a received call."""
    _require_status(call, RECEIVED, "dispatch")
    _require_not_before(call, at, call.received_at, "dispatch", "it was received")
    if patrol is None and team is None:
        msg = f"dispatching hotline call {call.ref} needs a patrol=... or a team=... to send"
        raise InvalidCommand(msg)
    if patrol is not None:
        if patrol.status in {ENDED, CANCELLED}:
            msg = (
                f"patrol {patrol.ref} is {patrol.status} and cannot be sent to hotline call "
                f"{call.ref}; send a scheduled or started patrol, or a team"
            )
            raise PatrolUnavailable(msg)
        if patrol.campaign != call.campaign:
            msg = (
                f"patrol {patrol.ref} belongs to campaign {patrol.campaign}, hotline call "
                f"{call.ref} to campaign {call.campaign}; send a patrol of {call.campaign}"
            )
            raise PatrolOfAnotherCampaign(msg)
    if team is not None:
        sent = checks.text(team, "team")
    else:
        assert patrol is not None
        sent = patrol.team
    return [
        CallDispatched(
            ref=call.ref,
            actor=actor,
            effective_at=at,
            patrol=None if patrol is None else patrol.ref,
            team=sent,
        )
    ]


def arrive_on_call(
    call: HotlineCall, *, campaign: Campaign, actor: str, at: datetime
) -> list[Event]:
    """The team reaches the scene at `at`; the response time is measured, never refused."""
    _require_status(call, DISPATCHED, "record the arrival on")
    _require_not_before(call, at, call.received_at, "record the arrival on", "it was received")
    assert call.dispatched_at is not None
    _require_not_before(call, at, call.dispatched_at, "record the arrival on", "it was dispatched")
    rules = campaign.patrol_rules
    target = rules.far_response_minutes if call.far else rules.response_minutes
    taken = at - call.received_at
    return [
        CallArrived(
            ref=call.ref,
            actor=actor,
            effective_at=at,
            response_minutes=response_minutes(taken),
            target_minutes=target,
            within_target=taken <= timedelta(minutes=target),
        )
    ]


def close_call(call: HotlineCall, *, outcome: str, actor: str, at: datetime) -> list[Event]:
    """Close the call with what came of it; before arrival only as a duplicate call."""
    if call.status == CLOSED:
        msg = f"hotline call {call.ref} is already closed ({call.outcome})"
        raise WrongCallState(msg)
    if call.status == ARRIVED:
        outcome = checks.one_of(outcome, "outcome", ON_SCENE_OUTCOMES)
        assert call.arrived_at is not None
        _require_not_before(call, at, call.arrived_at, "close", "the team arrived")
    elif outcome != DUPLICATE_CALL:
        msg = (
            f"hotline call {call.ref} is {call.status}: nobody is on the scene yet, so outcome "
            f"{outcome!r} cannot be known; record the arrival first, or close it as "
            f"{DUPLICATE_CALL!r} if another call reported the same person"
        )
        raise WrongCallState(msg)
    else:
        _require_not_before(call, at, call.received_at, "close", "it was received")
    return [CallClosed(ref=call.ref, actor=actor, effective_at=at, outcome=outcome)]


def response_minutes(taken: timedelta) -> int:
    """Whole minutes, rounded up, so a count within the target means the target was met."""
    return -(-taken // timedelta(minutes=1))


def call_subject(ref: str) -> str:
    """The key subject of the personal data of hotline call `ref`."""
    return person_subject(f"hotline/{ref}")


def _require_status(call: HotlineCall, status: str, verb: str) -> None:
    if call.status != status:
        msg = (
            f"cannot {verb} hotline call {call.ref}: it is {call.status}; "
            f"only a {status} call accepts that"
        )
        raise WrongCallState(msg)


def _require_not_before(
    call: HotlineCall, at: datetime, earliest: datetime, verb: str, since: str
) -> None:
    if at < earliest:
        msg = (
            f"cannot {verb} hotline call {call.ref} at {at.isoformat()}: {since} at "
            f"{earliest.isoformat()}; give a time from then on"
        )
        raise EffectiveTimeRefused(msg)


# ---------------------------------------------------------------- evolution


def evolve(state: HotlineCall | None, event: Event) -> HotlineCall:
    """The call after `event`. Never refuses: old history always replays."""
    match event:
        case CallReceived():
            return HotlineCall(
                ref=event.ref,
                campaign=event.campaign,
                area=event.area,
                place=event.place,
                far=event.far,
                description=event.description,
                caller_phone=event.caller_phone,
                received_at=event.effective_at,
            )
        case CallDispatched():
            assert state is not None
            return attrs.evolve(
                state,
                status=DISPATCHED,
                patrol=event.patrol,
                team=event.team,
                dispatched_at=event.effective_at,
            )
        case CallArrived():
            assert state is not None
            return attrs.evolve(
                state,
                status=ARRIVED,
                arrived_at=event.effective_at,
                response_minutes=event.response_minutes,
                target_minutes=event.target_minutes,
                within_target=event.within_target,
            )
        case CallClosed():
            assert state is not None
            return attrs.evolve(
                state, status=CLOSED, outcome=event.outcome, closed_at=event.effective_at
            )
    assert state is not None, f"{event.type_name} cannot start a hotline call"
    return state


KIND: Kind[HotlineCall] = Kind("hotline", evolve)
