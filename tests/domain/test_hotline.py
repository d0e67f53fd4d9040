"""Hotline call decisions and evolution: received, dispatched, arrived, closed."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.patrol import (
    ACTOR,
    AREA,
    CALL_REF,
    CAMPAIGN_REF,
    RECEIVED_AT,
    TEAM,
    arrived,
    call_then,
    cancelled,
    dispatched,
    ended,
    receipt_times,
    received,
    response_delays,
    scheduled,
    season,
    started,
)
from warmcase.domain import hotline
from warmcase.domain.campaign import CampaignClosedError, PatrolRules
from warmcase.domain.hotline import CallArrived, HotlineCall
from warmcase.domain.patrol import OutsideCampaignPeriod
from warmcase.errors import EffectiveTimeRefused, InvalidCommand
from warmcase.personal import Personal, person_subject


def log(**changes: Any) -> list[Any]:
    """Log the reference call with `changes` to its arguments."""
    arguments: dict[str, Any] = {
        "ref": CALL_REF,
        "campaign": season(),
        "area": AREA,
        "place": "Dongjie underpass, north stairs",
        "description": "old man lying on cardboard",
        "actor": ACTOR,
        "at": RECEIVED_AT,
    }
    arguments.update(changes)
    existing = arguments.pop("existing", None)
    return hotline.log_hotline_call(existing, **arguments)


def arrive(call: HotlineCall, moment: datetime, rules: PatrolRules | None = None) -> CallArrived:
    """The arrival event of `call` at `moment` under `rules` (the plans' by default)."""
    events = hotline.arrive_on_call(call, campaign=season(rules=rules), actor=ACTOR, at=moment)
    assert len(events) == 1
    assert isinstance(events[0], CallArrived)
    return events[0]


def test_event_type_names_are_the_permanent_ones() -> None:
    """Stored hotline history is read back by these names; they never change."""
    assert [
        cls.type_name
        for cls in (
            hotline.CallReceived,
            hotline.CallDispatched,
            hotline.CallArrived,
            hotline.CallClosed,
        )
    ] == ["hotline.call_received", "hotline.dispatched", "hotline.arrived", "hotline.closed"]


# ---------------------------------------------------------------- receipt


def test_a_received_call_keeps_place_and_seals_what_identifies_people() -> None:
    """Place and area are plain; the description and caller's phone are sealed per call."""
    state = received()
    subject = person_subject("hotline/HC-0001")
    assert (
        CAMPAIGN_REF,
        AREA,
        "Dongjie underpass, north stairs",
        False,
        Personal(subject, "old man lying on cardboard, not moving much"),
        Personal(subject, "139 0591 0000"),
        RECEIVED_AT,
        "received",
    ) == (
        state.campaign,
        state.area,
        state.place,
        state.far,
        state.description,
        state.caller_phone,
        state.received_at,
        state.status,
    )


def test_an_anonymous_caller_leaves_no_phone() -> None:
    """The caller's phone is optional."""
    assert log()[0].caller_phone is None


def test_logging_a_call_twice_is_refused() -> None:
    """A reference names one call: logging it again is refused, naming the first."""
    with pytest.raises(hotline.CallAlreadyLogged, match="hotline call HC-0001 already exists"):
        log(existing=received())


def test_calls_need_a_running_campaign() -> None:
    """A closed campaign takes no more calls."""
    with pytest.raises(CampaignClosedError, match="SF-2027 is closed"):
        log(campaign=season(closed=True))


def test_calls_outside_the_season_are_refused() -> None:
    """The hotline belongs to the campaign only within its period."""
    with pytest.raises(
        OutsideCampaignPeriod,
        match="hotline call HC-0001 is received on 2027-03-16 \\(Asia/Shanghai\\), outside",
    ):
        log(at=at(16, 0, 5, month=3))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"description": " "}, "description must be a non-empty text"),
        ({"place": ""}, "place must be a non-empty text"),
        ({"area": None}, "area must be a non-empty text"),
        ({"far": "very"}, "far must be True or False, got 'very'"),
        ({"caller_phone": "1" * 41}, "caller_phone is 41 characters long; at most 40"),
    ],
)
def test_malformed_calls_are_refused(changes: dict[str, Any], message: str) -> None:
    """Each malformed part of a call is refused, naming it."""
    with pytest.raises(InvalidCommand, match=message):
        log(**changes)


# ---------------------------------------------------------------- dispatch


def test_dispatching_a_team_records_it_and_when() -> None:
    """A dispatched call records the team sent and the time."""
    state = dispatched()
    assert (state.status, state.team, state.patrol, state.dispatched_at) == (
        "dispatched",
        "duty team 1",
        None,
        RECEIVED_AT + timedelta(minutes=2),
    )


@pytest.mark.parametrize("patrol", [scheduled(), started()])
def test_dispatching_a_patrol_sends_its_team(patrol: Any) -> None:
    """A patrol scheduled or already out may be sent; its team is recorded."""
    state = received()
    state = call_then(
        state, hotline.dispatch_call(state, patrol=patrol, actor=ACTOR, at=RECEIVED_AT)
    )
    assert (state.patrol, state.team) == ("P-0001", TEAM)


def test_a_named_team_of_a_patrol_is_kept() -> None:
    """With both a patrol and a team, the team named is the one recorded."""
    state = received()
    state = call_then(
        state,
        hotline.dispatch_call(state, patrol=started(), team="car 2", actor=ACTOR, at=RECEIVED_AT),
    )
    assert (state.patrol, state.team) == ("P-0001", "car 2")


def test_dispatching_nobody_is_refused() -> None:
    """A dispatch names the patrol or the team sent."""
    with pytest.raises(InvalidCommand, match="dispatching hotline call HC-0001 needs a patrol"):
        hotline.dispatch_call(received(), actor=ACTOR, at=RECEIVED_AT)


@pytest.mark.parametrize(("patrol", "status"), [(ended(), "ended"), (cancelled(), "cancelled")])
def test_a_finished_patrol_cannot_be_dispatched(patrol: Any, status: str) -> None:
    """A patrol that came back or was called off cannot be sent anywhere."""
    with pytest.raises(
        hotline.PatrolUnavailable,
        match=f"patrol P-0001 is {status} and cannot be sent to hotline call HC-0001",
    ):
        hotline.dispatch_call(received(), patrol=patrol, actor=ACTOR, at=RECEIVED_AT)


def test_a_patrol_of_another_campaign_cannot_be_dispatched() -> None:
    """A call is answered by the campaign that received it."""
    foreign = scheduled(of=season(ref="UNION-2027"))
    with pytest.raises(
        hotline.PatrolOfAnotherCampaign,
        match="patrol P-0001 belongs to campaign UNION-2027, hotline call HC-0001 to campaign",
    ):
        hotline.dispatch_call(received(), patrol=foreign, actor=ACTOR, at=RECEIVED_AT)


def test_only_a_received_call_is_dispatched() -> None:
    """A call already dispatched, arrived or closed is not dispatched again."""
    for state, status in ((dispatched(), "dispatched"), (arrived(), "arrived")):
        with pytest.raises(
            hotline.WrongCallState, match=f"cannot dispatch hotline call HC-0001: it is {status}"
        ):
            hotline.dispatch_call(state, team="t", actor=ACTOR, at=at(25, 8))


def test_a_dispatch_cannot_precede_the_call() -> None:
    """Nobody is sent before the call came in."""
    with pytest.raises(
        EffectiveTimeRefused,
        match=r"cannot dispatch hotline call HC-0001 at 2027-01-25T06:39:00.*received at",
    ):
        hotline.dispatch_call(
            received(), team="t", actor=ACTOR, at=RECEIVED_AT - timedelta(minutes=1)
        )


# ---------------------------------------------------------------- arrival


def test_arrival_within_30_minutes_meets_the_target() -> None:
    """25 minutes after receipt is within the plans' 30 minutes."""
    event = arrive(dispatched(), RECEIVED_AT + timedelta(minutes=25))
    assert (event.response_minutes, event.target_minutes, event.within_target) == (25, 30, True)


def test_a_late_arrival_is_recorded_as_a_breach_not_refused() -> None:
    """It happened: a team 45 minutes late is recorded, with the breach for the reports."""
    state = arrived(after=timedelta(minutes=45))
    assert (state.status, state.response_minutes, state.target_minutes, state.within_target) == (
        "arrived",
        45,
        30,
        False,
    )
    assert state.arrived_at == RECEIVED_AT + timedelta(minutes=45)


def test_a_far_place_is_measured_against_60_minutes() -> None:
    """Where the place is really far, 45 minutes is within the 60-minute target."""
    event = arrive(dispatched(far=True), RECEIVED_AT + timedelta(minutes=45))
    assert (event.response_minutes, event.target_minutes, event.within_target) == (45, 60, True)


def test_the_campaigns_own_targets_are_used() -> None:
    """A campaign that promises 20 minutes (40 far) is measured by its own figures."""
    rules = PatrolRules(response_minutes=20, far_response_minutes=40)
    event = arrive(dispatched(), RECEIVED_AT + timedelta(minutes=25), rules)
    assert (event.target_minutes, event.within_target) == (20, False)


def test_a_second_past_the_target_is_a_breach() -> None:
    """30 minutes and 1 second is late, and counts as 31 minutes."""
    event = arrive(dispatched(), RECEIVED_AT + timedelta(minutes=30, seconds=1))
    assert (event.response_minutes, event.within_target) == (31, False)
    exact = arrive(dispatched(), RECEIVED_AT + timedelta(minutes=30))
    assert (exact.response_minutes, exact.within_target) == (30, True)


@given(received_at=receipt_times, delay=response_delays, far=st.booleans())
def test_response_time_is_classified_against_30_and_60_minutes(
    received_at: datetime, delay: timedelta, far: bool
) -> None:
    """For any receipt and arrival, the target is met iff arrival is within 30 (far: 60) minutes.

    The recorded minutes are the fewest whole minutes the response fits in, so they are
    within the target exactly when it is met.
    """
    call = received(far=far, received_at=received_at)
    call = call_then(call, hotline.dispatch_call(call, team="t", actor=ACTOR, at=received_at))
    event = arrive(call, received_at + delay)
    target = 60 if far else 30
    fewest_minutes = next(m for m in itertools.count() if delay <= timedelta(minutes=m))
    assert (event.target_minutes, event.within_target, event.response_minutes) == (
        target,
        delay <= timedelta(minutes=target),
        fewest_minutes,
    )
    assert event.within_target == (event.response_minutes <= target)


def test_arrival_before_the_call_is_refused() -> None:
    """Nobody arrives before the call came in; the message names the receipt."""
    with pytest.raises(
        EffectiveTimeRefused,
        match=r"cannot record the arrival on hotline call HC-0001 at 2027-01-25T06:30:00"
        r".*it was received at 2027-01-25T06:40:00",
    ):
        arrive(dispatched(), RECEIVED_AT - timedelta(minutes=10))


def test_arrival_before_the_dispatch_is_refused() -> None:
    """The team arrives after it was sent."""
    with pytest.raises(EffectiveTimeRefused, match="it was dispatched at 2027-01-25T06:42:00"):
        arrive(dispatched(), RECEIVED_AT + timedelta(minutes=1))


@pytest.mark.parametrize(("which", "status"), [("received", "received"), ("arrived", "arrived")])
def test_only_a_dispatched_call_gets_an_arrival(which: str, status: str) -> None:
    """An arrival needs a dispatch, and is recorded once."""
    state = received() if which == "received" else arrived()
    with pytest.raises(
        hotline.WrongCallState,
        match=f"cannot record the arrival on hotline call HC-0001: it is {status}",
    ):
        arrive(state, at(25, 9))


# ---------------------------------------------------------------- closing


def test_closing_records_the_outcome() -> None:
    """A call is closed with what came of it on the scene."""
    state = arrived()
    state = call_then(
        state, hotline.close_call(state, outcome="accepted_shelter", actor=ACTOR, at=at(25, 8))
    )
    assert (state.status, state.outcome, state.closed_at) == (
        "closed",
        "accepted_shelter",
        at(25, 8),
    )


def test_an_unknown_outcome_is_refused() -> None:
    """Outcomes come from the fixed list, which adds 'person_not_found' and 'no_help_needed'."""
    with pytest.raises(InvalidCommand, match="outcome 'gone' is not accepted; use one of: accep"):
        hotline.close_call(arrived(), outcome="gone", actor=ACTOR, at=at(25, 8))
    assert hotline.close_call(arrived(), outcome="person_not_found", actor=ACTOR, at=at(25, 8))


@pytest.mark.parametrize("which", ["received", "dispatched"])
def test_before_arrival_a_call_closes_only_as_a_duplicate(which: str) -> None:
    """Nobody saw the person yet, so the only outcome is a duplicate of another call."""
    state = received() if which == "received" else dispatched()
    with pytest.raises(
        hotline.WrongCallState,
        match=f"hotline call HC-0001 is {which}: nobody is on the scene yet, so outcome "
        "'helped_home' cannot be known",
    ):
        hotline.close_call(state, outcome="helped_home", actor=ACTOR, at=at(25, 8))
    closed = call_then(
        state, hotline.close_call(state, outcome="duplicate_call", actor=ACTOR, at=at(25, 8))
    )
    assert (closed.status, closed.outcome) == ("closed", "duplicate_call")


def test_a_closed_call_stays_closed() -> None:
    """Closing twice is refused, naming the first outcome."""
    state = arrived()
    state = call_then(
        state, hotline.close_call(state, outcome="helped_home", actor=ACTOR, at=at(25, 8))
    )
    with pytest.raises(hotline.WrongCallState, match=r"HC-0001 is already closed \(helped_home\)"):
        hotline.close_call(state, outcome="helped_home", actor=ACTOR, at=at(25, 9))


def test_a_call_cannot_close_before_the_arrival() -> None:
    """The outcome is known from the arrival on."""
    with pytest.raises(EffectiveTimeRefused, match="the team arrived at 2027-01-25T07:05:00"):
        hotline.close_call(arrived(), outcome="helped_home", actor=ACTOR, at=at(25, 7))
    with pytest.raises(EffectiveTimeRefused, match="it was received at 2027-01-25T06:40:00"):
        hotline.close_call(received(), outcome="duplicate_call", actor=ACTOR, at=at(25, 6))
