"""Patrol and hotline commands through the application."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import pytest

from tests.clocks import ManualClock, at
from tests.scenario import open_campaign
from warmcase.app import Warmcase
from warmcase.domain import hotline, lot, patrol
from warmcase.domain.campaign import CampaignClosedError
from warmcase.domain.patrol import SupplyLine
from warmcase.errors import EffectiveTimeRefused, InvalidCommand, NotFound
from warmcase.events import Envelope
from warmcase.personal import Personal, person_subject

PATROL = "P-0001"
CALL = "HC-0001"


def schedule(app: Warmcase, ref: str = PATROL) -> str:
    """A night patrol of Gulou for 24 January, 20:00, scheduled on the 20th."""
    return app.schedule_patrol(
        ref,
        campaign="SF-2027",
        area="Gulou",
        team="Gulou night team 2",
        leader="Zhang Wei",
        scheduled_for=at(24, 20),
        night=True,
        actor="duty.office",
        effective_at=at(20),
    )


def on_the_street(app: Warmcase, ref: str = PATROL) -> str:
    """The campaign open, the patrol scheduled and out since 24 January, 20:10."""
    open_campaign(app)
    schedule(app, ref)
    return app.start_patrol(ref, actor="zhang.wei", effective_at=at(24, 20, 10))


def stocked(app: Warmcase, ref: str, *, item: str, quantity: int) -> str:
    """A lot of `quantity` goods received and accepted at the store in January."""
    app.receive_lot(
        ref,
        donor="Xinhua Textiles Co.",
        item=item,
        unit="piece",
        quantity=quantity,
        warehouse="Gulou store",
        actor="store.keeper",
        effective_at=at(17, 9),
    )
    return app.inspect_lot(ref, accepted=quantity, actor="inspector", effective_at=at(17, 10))


def log_refusal(app: Warmcase, **changes: object) -> str:
    """A man who refused the shelter, given a coat and a quilt at 21:05 (with `changes`)."""
    arguments: dict[str, object] = {
        "encounter_id": "E-1",
        "outcome": "refused_given_supplies",
        "condition": "cold, sober, coughing",
        "description": "man, about 50, grey coat",
        "supplies": [("L-COAT", 1), ("L-QUILT", 1)],
        "note": "left the hotline number; follow up tomorrow night",
        "actor": "zhang.wei",
        "effective_at": at(24, 21, 5),
    }
    arguments.update(changes)
    return app.log_encounter(PATROL, **arguments)  # type: ignore[arg-type]


# ---------------------------------------------------------------- patrols


def test_a_patrol_runs_from_schedule_to_end(app: Warmcase) -> None:
    """Each command returns the patrol's reference; the whole night is read back from the store."""
    open_campaign(app)
    assert schedule(app) == PATROL
    assert app.start_patrol(PATROL, actor="zhang.wei", effective_at=at(24, 20, 10)) == PATROL
    assert (
        app.check_place(
            PATROL,
            kind="underpass",
            name="Dongjie underpass",
            actor="zhang.wei",
            effective_at=at(24, 20, 40),
        )
        == PATROL
    )
    assert (
        app.log_encounter(
            PATROL,
            encounter_id="E-1",
            outcome="accepted_shelter",
            condition="cold but well",
            person_ref="PS-0107",
            actor="zhang.wei",
            effective_at=at(24, 20, 45),
        )
        == PATROL
    )
    assert (
        app.end_patrol(
            PATROL, summary="1 met, sheltered", actor="zhang.wei", effective_at=at(24, 23)
        )
        == PATROL
    )
    state = app.load(patrol.KIND, PATROL)
    assert (state.status, state.started_at, state.ended_at, state.summary) == (
        "ended",
        at(24, 20, 10),
        at(24, 23),
        "1 met, sheltered",
    )
    assert [(p.kind, p.name) for p in state.places] == [("underpass", "Dongjie underpass")]
    met = state.encounter("E-1")
    assert met is not None
    assert (met.outcome, met.condition) == (
        "accepted_shelter",
        Personal(person_subject("PS-0107"), "cold but well"),
    )


def test_a_patrol_is_cancelled_with_a_reason(app: Warmcase) -> None:
    """A cancelled patrol keeps its reason."""
    open_campaign(app)
    schedule(app)
    assert app.cancel_patrol(PATROL, reason="team ill", actor="duty.office") == PATROL
    assert app.load(patrol.KIND, PATROL).cancel_reason == "team ill"


def test_refused_patrol_commands_append_nothing(app: Warmcase) -> None:
    """Refusals of every kind leave the store exactly as it was."""
    open_campaign(app)
    schedule(app)
    before = app.recorder.max_notification_id()
    with pytest.raises(NotFound, match="campaign UNION-2027 does not exist"):
        app.schedule_patrol(
            "P-0002",
            campaign="UNION-2027",
            area="Gulou",
            team="t",
            leader="l",
            scheduled_for=at(24, 20),
            actor="duty.office",
        )
    with pytest.raises(patrol.PatrolAlreadyExists):
        schedule(app)
    with pytest.raises(patrol.OutsideCampaignPeriod):
        app.schedule_patrol(
            "P-0002",
            campaign="SF-2027",
            area="Gulou",
            team="t",
            leader="l",
            scheduled_for=at(20, 20, month=3),
            actor="duty.office",
        )
    with pytest.raises(NotFound, match="patrol P-0404 does not exist"):
        app.start_patrol("P-0404", actor="zhang.wei")
    with pytest.raises(patrol.WrongPatrolState):
        app.end_patrol(PATROL, actor="zhang.wei")
    with pytest.raises(patrol.WrongPatrolState):
        app.check_place(PATROL, kind="dock", name="Pier 3", actor="zhang.wei")
    with pytest.raises(InvalidCommand, match="a reason is required"):
        app.cancel_patrol(PATROL, reason="", actor="duty.office")
    assert before == app.recorder.max_notification_id()


def test_a_closed_campaign_schedules_no_patrols(app: Warmcase) -> None:
    """After the campaign closes, scheduling is refused and nothing is appended."""
    open_campaign(app)
    app.close_campaign("SF-2027", actor="office")
    before = app.recorder.max_notification_id()
    with pytest.raises(CampaignClosedError):
        schedule(app)
    assert before == app.recorder.max_notification_id()


# ---------------------------------------------------------------- encounters and supplies


def test_supplies_handed_out_are_issued_from_their_lots_in_the_same_write(app: Warmcase) -> None:
    """The encounter and the issues from each lot are appended together, channel 'patrol'."""
    on_the_street(app)
    stocked(app, "L-COAT", item="cotton coat", quantity=10)
    stocked(app, "L-QUILT", item="quilt", quantity=5)
    before = app.recorder.max_notification_id() or 0
    assert log_refusal(app, supplies=[("L-COAT", 2), ("L-QUILT", 1)]) == PATROL
    met = app.load(patrol.KIND, PATROL).encounter("E-1")
    assert met.supplies == (
        SupplyLine(lot_ref="L-COAT", quantity=2),
        SupplyLine(lot_ref="L-QUILT", quantity=1),
    )
    appended = [
        cast(Envelope, app.mapper.to_domain_event(notification)).event
        for notification in app.recorder.select_notifications(before + 1, 10)
    ]
    assert [(type(event), event.ref) for event in appended] == [
        (patrol.EncounterLogged, PATROL),
        (lot.LotIssued, "L-COAT"),
        (lot.LotIssued, "L-QUILT"),
    ]
    issues = [event for event in appended if isinstance(event, lot.LotIssued)]
    assert [(e.quantity, e.channel, e.to, e.effective_at) for e in issues] == [
        (2, "patrol", PATROL, at(24, 21, 5)),
        (1, "patrol", PATROL, at(24, 21, 5)),
    ]


def test_short_stock_refuses_the_whole_encounter(app: Warmcase) -> None:
    """If one lot cannot supply, neither the encounter nor any other lot's issue is appended."""
    on_the_street(app)
    stocked(app, "L-COAT", item="cotton coat", quantity=10)
    stocked(app, "L-QUILT", item="quilt", quantity=1)
    before = app.recorder.max_notification_id()
    with pytest.raises(lot.InsufficientStock, match="L-QUILT"):
        log_refusal(app, supplies=[("L-COAT", 2), ("L-QUILT", 3)])
    assert before == app.recorder.max_notification_id()
    assert app.load(patrol.KIND, PATROL).encounters == ()


def test_an_unknown_lot_refuses_the_encounter(app: Warmcase) -> None:
    """Supplies must come from a lot on the books."""
    on_the_street(app)
    before = app.recorder.max_notification_id()
    with pytest.raises(NotFound, match="lot L-COAT does not exist"):
        log_refusal(app)
    assert before == app.recorder.max_notification_id()


def test_refused_encounters_append_nothing(app: Warmcase) -> None:
    """A rule broken by an encounter is refused with its typed error; nothing is appended."""
    on_the_street(app)
    before = app.recorder.max_notification_id()
    with pytest.raises(patrol.ProtectiveRescueRequired, match="treat first, then rescue"):
        log_refusal(app, minor=True)
    with pytest.raises(patrol.SuppliesNotRecorded):
        log_refusal(app, supplies=())
    with pytest.raises(EffectiveTimeRefused, match="started at"):
        log_refusal(app, effective_at=at(24, 19))
    assert before == app.recorder.max_notification_id()


def test_a_minor_is_taken_into_protective_rescue(app: Warmcase) -> None:
    """A minor met on patrol goes to protective rescue, with no supplies needed."""
    on_the_street(app)
    log_refusal(app, minor=True, outcome="protective_rescue", supplies=())
    met = app.load(patrol.KIND, PATROL).encounter("E-1")
    assert (met.minor, met.outcome) == (True, "protective_rescue")


# ---------------------------------------------------------------- hotline


def call(app: Warmcase, *, far: bool = False) -> str:
    """A call about an old man in an underpass, received now."""
    return app.log_hotline_call(
        CALL,
        campaign="SF-2027",
        area="Gulou",
        place="Dongjie underpass, north stairs",
        far=far,
        description="old man lying on cardboard",
        caller_phone="139 0591 0000",
        actor="hotline.operator",
    )


def test_a_call_answered_in_25_minutes_meets_the_target(app: Warmcase, clock: ManualClock) -> None:
    """Receipt and arrival are the commands' effective times; 25 minutes is within 30."""
    open_campaign(app)
    received_at = clock()
    assert call(app) == CALL
    clock.advance(timedelta(minutes=3))
    assert app.dispatch_call(CALL, team="duty team 1", actor="hotline.operator") == CALL
    clock.advance(timedelta(minutes=22))
    assert app.arrive_on_call(CALL, actor="duty team 1") == CALL
    assert app.close_call(CALL, outcome="accepted_shelter", actor="duty team 1") == CALL
    state = app.load(hotline.KIND, CALL)
    assert (
        state.received_at,
        state.arrived_at,
        state.response_minutes,
        state.target_minutes,
        state.within_target,
        state.outcome,
    ) == (received_at, received_at + timedelta(minutes=25), 25, 30, True, "accepted_shelter")


def test_a_late_arrival_is_recorded_as_a_breach(app: Warmcase, clock: ManualClock) -> None:
    """A team 70 minutes late to a far place is recorded, with the 60-minute target missed."""
    open_campaign(app)
    call(app, far=True)
    app.dispatch_call(CALL, team="duty team 1", actor="hotline.operator")
    clock.advance(timedelta(minutes=70))
    app.arrive_on_call(CALL, actor="duty team 1")
    state = app.load(hotline.KIND, CALL)
    assert (state.response_minutes, state.target_minutes, state.within_target) == (70, 60, False)


def test_a_patrol_on_the_street_is_dispatched(app: Warmcase, clock: ManualClock) -> None:
    """A call may be answered by a patrol already out; its team is recorded."""
    on_the_street(app)
    clock.set(at(24, 21))
    call(app)
    app.dispatch_call(CALL, patrol=PATROL, actor="hotline.operator")
    state = app.load(hotline.KIND, CALL)
    assert (state.patrol, state.team) == (PATROL, "Gulou night team 2")


def test_refused_hotline_commands_append_nothing(app: Warmcase, clock: ManualClock) -> None:
    """Refusals of every kind leave the store exactly as it was."""
    open_campaign(app)
    call(app)
    before = app.recorder.max_notification_id()
    with pytest.raises(hotline.CallAlreadyLogged):
        call(app)
    with pytest.raises(hotline.WrongCallState, match="it is received"):
        app.arrive_on_call(CALL, actor="duty team 1")
    with pytest.raises(NotFound, match="patrol P-0404 does not exist"):
        app.dispatch_call(CALL, patrol="P-0404", actor="hotline.operator")
    with pytest.raises(InvalidCommand, match="needs a patrol"):
        app.dispatch_call(CALL, actor="hotline.operator")
    with pytest.raises(EffectiveTimeRefused, match="it was received at"):
        app.dispatch_call(
            CALL, team="t", actor="hotline.operator", effective_at=clock() - timedelta(minutes=5)
        )
    with pytest.raises(hotline.WrongCallState, match="nobody is on the scene yet"):
        app.close_call(CALL, outcome="helped_home", actor="hotline.operator")
    with pytest.raises(NotFound, match="hotline HC-0404 does not exist"):
        app.close_call("HC-0404", outcome="duplicate_call", actor="hotline.operator")
    assert before == app.recorder.max_notification_id()


def test_a_backdated_call_measures_from_its_effective_receipt(
    app: Warmcase, clock: ManualClock
) -> None:
    """A call entered late is dated when it came in; the response is measured from then."""
    open_campaign(app)
    app.log_hotline_call(
        CALL,
        campaign="SF-2027",
        area="Gulou",
        place="North station square",
        description="woman with a child, no coats",
        actor="hotline.operator",
        effective_at=clock() - timedelta(minutes=40),
    )
    app.dispatch_call(
        CALL,
        team="duty team 1",
        actor="hotline.operator",
        effective_at=clock() - timedelta(minutes=38),
    )
    app.arrive_on_call(CALL, actor="duty team 1")
    state = app.load(hotline.KIND, CALL)
    assert (state.response_minutes, state.within_target) == (40, False)
