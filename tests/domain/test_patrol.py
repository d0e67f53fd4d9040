"""Patrol decisions and evolution: street patrols for people sleeping rough."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given

from tests.clocks import at
from tests.strategies.patrol import (
    ACTOR,
    AREA,
    CAMPAIGN_REF,
    LEADER,
    PATROL_REF,
    SCHEDULED_FOR,
    STARTED_AT,
    TEAM,
    cancelled,
    ended,
    outcomes,
    place_kinds,
    scheduled,
    season,
    started,
    supply_lines,
    then,
    vulnerability_flags,
)
from warmcase.domain import patrol
from warmcase.domain.campaign import CampaignClosedError
from warmcase.domain.patrol import (
    PLACE_KINDS,
    PROTECTIVE_OUTCOMES,
    EncounterLogged,
    Patrol,
    PlaceCheck,
    SupplyLine,
)
from warmcase.errors import (
    AlreadyExists,
    EffectiveTimeRefused,
    InvalidCommand,
    RuleViolation,
    WrongState,
)
from warmcase.personal import Personal, person_subject

MET_AT = at(24, 21, 5)


def schedule(**changes: Any) -> list[Any]:
    """Schedule the reference patrol with `changes` to its arguments."""
    arguments: dict[str, Any] = {
        "ref": PATROL_REF,
        "campaign": season(),
        "area": AREA,
        "team": TEAM,
        "leader": LEADER,
        "scheduled_for": SCHEDULED_FOR,
        "night": True,
        "actor": ACTOR,
        "at": at(20),
    }
    arguments.update(changes)
    existing = arguments.pop("existing", None)
    return patrol.schedule_patrol(existing, **arguments)


def encounter(state: Patrol | None = None, /, **changes: Any) -> list[Any]:
    """Log a man who refused the shelter and took a coat and a quilt, with `changes`."""
    arguments: dict[str, Any] = {
        "encounter_id": "E-1",
        "outcome": "refused_given_supplies",
        "condition": "cold, sober, coughing",
        "description": "man, about 50, grey coat",
        "supplies": [("L-2026-031", 1), ("L-2026-040", 1)],
        "note": "left the hotline number; follow up tomorrow night",
        "actor": ACTOR,
        "at": MET_AT,
    }
    arguments.update(changes)
    return patrol.log_encounter(state or started(), **arguments)


# ---------------------------------------------------------------- names


def test_event_type_names_are_the_permanent_ones() -> None:
    """Stored patrol history is read back by these names; they never change."""
    assert [
        cls.type_name
        for cls in (
            patrol.PatrolScheduled,
            patrol.PatrolStarted,
            patrol.PlaceChecked,
            patrol.EncounterLogged,
            patrol.PatrolEnded,
            patrol.PatrolCancelled,
        )
    ] == [
        "patrol.scheduled",
        "patrol.started",
        "patrol.place_checked",
        "patrol.encounter_logged",
        "patrol.ended",
        "patrol.cancelled",
    ]


def test_place_kinds_and_outcomes_have_stable_codes() -> None:
    """The key places and outcomes of the plans are stored by these codes."""
    assert list(PLACE_KINDS) == [
        "station",
        "dock",
        "busy_street",
        "bridge_culvert",
        "underpass",
        "hospital",
        "abandoned_building",
        "construction_site",
        "urban_fringe",
        "other",
    ]
    assert list(patrol.OUTCOMES) == [
        "accepted_shelter",
        "refused_given_supplies",
        "protective_rescue",
        "hospital_referral",
        "helped_home",
    ]


# ---------------------------------------------------------------- scheduling


def test_scheduling_records_area_team_leader_time_and_night() -> None:
    """A scheduled patrol holds its campaign, area, team, leader and time, and is scheduled."""
    state = scheduled()
    expected = Patrol(
        ref=PATROL_REF,
        campaign=CAMPAIGN_REF,
        area=AREA,
        team=TEAM,
        leader=LEADER,
        scheduled_for=SCHEDULED_FOR,
        night=True,
    )
    assert expected == state
    assert state.status == "scheduled"


def test_scheduling_twice_is_refused() -> None:
    """A reference names one patrol: scheduling it again is refused, naming the first."""
    with pytest.raises(patrol.PatrolAlreadyExists, match=r"patrol P-0001 already exists \(Gulou"):
        schedule(existing=scheduled())


def test_scheduling_needs_a_running_campaign() -> None:
    """A closed campaign takes no more patrols."""
    with pytest.raises(CampaignClosedError, match="campaign SF-2027 is closed"):
        schedule(campaign=season(closed=True))


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (at(16, 20, month=3), "2027-03-16"),
        (at(14, 23, month=11, year=2026), "2026-11-14"),
        # 16:30 UTC on 15 March is already 16 March in Shanghai.
        (datetime(2027, 3, 15, 16, 30, tzinfo=UTC), "2027-03-16"),
    ],
)
def test_scheduling_outside_the_season_is_refused(moment: datetime, day: str) -> None:
    """A patrol must fall within the campaign's period, counted in the campaign's time zone."""
    with pytest.raises(patrol.OutsideCampaignPeriod) as refused:
        schedule(scheduled_for=moment)
    assert (
        f"patrol P-0001 is scheduled for {day} (Asia/Shanghai), outside campaign SF-2027's "
        f"period 2026-11-15 to 2027-03-15"
    ) in str(refused.value)
    assert isinstance(refused.value, RuleViolation)


def test_the_season_is_counted_in_the_campaign_time_zone() -> None:
    """16:30 UTC on 14 November is 00:30 on 15 November in Shanghai: inside the season."""
    events = schedule(scheduled_for=datetime(2026, 11, 14, 16, 30, tzinfo=UTC))
    assert datetime(2026, 11, 14, 16, 30, tzinfo=UTC) == events[0].scheduled_for


def test_a_naive_schedule_time_is_refused() -> None:
    """A time without a zone cannot be placed in the campaign's days."""
    with pytest.raises(EffectiveTimeRefused, match="scheduled_for 2027-01-24T20:00:00 has no time"):
        schedule(scheduled_for=SCHEDULED_FOR.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"area": " "}, "area must be a non-empty text"),
        ({"team": ""}, "team must be a non-empty text"),
        ({"leader": None}, "leader must be a non-empty text"),
        ({"night": "yes"}, "night must be True or False, got 'yes'"),
    ],
)
def test_malformed_schedules_are_refused(changes: dict[str, Any], message: str) -> None:
    """Each malformed part of a schedule is refused, naming it."""
    with pytest.raises(InvalidCommand, match=message):
        schedule(**changes)


# ---------------------------------------------------------------- start, end, cancel


def test_starting_puts_the_patrol_on_the_street() -> None:
    """A started patrol records when it set out."""
    state = started()
    assert (state.status, state.started_at) == ("started", STARTED_AT)


@pytest.mark.parametrize(
    ("state", "status"), [(started(), "started"), (ended(), "ended"), (cancelled(), "cancelled")]
)
def test_only_a_scheduled_patrol_starts(state: Patrol, status: str) -> None:
    """Starting a patrol that is not scheduled is refused, naming its state."""
    with pytest.raises(
        patrol.WrongPatrolState,
        match=f"cannot start patrol P-0001: it is {status}; only a scheduled patrol",
    ):
        patrol.start_patrol(state, actor=ACTOR, at=at(24, 21))


def test_ending_records_when_and_a_summary() -> None:
    """An ended patrol records when it came back and the team's summary."""
    state = ended()
    assert ("ended", at(24, 23, 30)) == (state.status, state.ended_at)
    events = patrol.end_patrol(started(), summary="3 met, 1 sheltered", actor=ACTOR, at=at(25))
    assert then(started(), events).summary == "3 met, 1 sheltered"


@pytest.mark.parametrize(
    ("state", "status"),
    [(scheduled(), "scheduled"), (ended(), "ended"), (cancelled(), "cancelled")],
)
def test_only_a_started_patrol_ends(state: Patrol, status: str) -> None:
    """Ending a patrol that is not on the street is refused."""
    with pytest.raises(patrol.WrongPatrolState, match=f"cannot end patrol P-0001: it is {status}"):
        patrol.end_patrol(state, actor=ACTOR, at=at(25))


def test_a_patrol_cannot_end_before_it_started() -> None:
    """The end time may equal the start but not precede it; the message names both times."""
    assert patrol.end_patrol(started(), actor=ACTOR, at=STARTED_AT)
    with pytest.raises(
        EffectiveTimeRefused,
        match=r"cannot end patrol P-0001 at 2027-01-24T20:09:00.*started at 2027-01-24T20:10:00",
    ):
        patrol.end_patrol(started(), actor=ACTOR, at=STARTED_AT - timedelta(minutes=1))


def test_cancelling_keeps_the_reason() -> None:
    """A cancelled patrol keeps why it was called off."""
    state = cancelled()
    assert (state.status, state.cancel_reason) == ("cancelled", "team ill")


def test_cancelling_needs_a_reason() -> None:
    """A patrol called off without a reason is refused."""
    with pytest.raises(InvalidCommand, match="a reason is required: a cancelled patrol may leave"):
        patrol.cancel_patrol(scheduled(), reason=" ", actor=ACTOR, at=at(24))


@pytest.mark.parametrize(
    ("state", "status"), [(started(), "started"), (ended(), "ended"), (cancelled(), "cancelled")]
)
def test_only_a_scheduled_patrol_is_cancelled(state: Patrol, status: str) -> None:
    """A patrol that set out, came back or was already called off cannot be cancelled."""
    with pytest.raises(
        patrol.WrongPatrolState, match=f"cannot cancel patrol P-0001: it is {status}"
    ):
        patrol.cancel_patrol(state, reason="rain", actor=ACTOR, at=at(24))


# ---------------------------------------------------------------- key places


@given(kind=place_kinds)
def test_checked_places_are_kept_in_order(kind: str) -> None:
    """Every key place checked is kept with its kind, name and time."""
    state = started()
    first = then(
        state,
        patrol.check_place(
            state, kind="station", name="North station", actor=ACTOR, at=at(24, 20, 30)
        ),
    )
    second = then(
        first, patrol.check_place(first, kind=kind, name="Place 2", actor=ACTOR, at=at(24, 21))
    )
    assert (
        PlaceCheck(kind="station", name="North station", checked_at=at(24, 20, 30)),
        PlaceCheck(kind=kind, name="Place 2", checked_at=at(24, 21)),
    ) == second.places


def test_an_unknown_place_kind_is_refused_listing_the_codes() -> None:
    """Place kinds come from the fixed list of the plans."""
    with pytest.raises(
        InvalidCommand, match="place kind 'park' is not accepted; use one of: station"
    ):
        patrol.check_place(started(), kind="park", name="West park", actor=ACTOR, at=MET_AT)


@pytest.mark.parametrize(
    ("state", "status"),
    [(scheduled(), "scheduled"), (ended(), "ended"), (cancelled(), "cancelled")],
)
def test_places_are_checked_only_on_the_street(state: Patrol, status: str) -> None:
    """A patrol checks places between its start and its end."""
    with pytest.raises(
        patrol.WrongPatrolState, match=f"cannot check a place on patrol P-0001: it is {status}"
    ):
        patrol.check_place(state, kind="dock", name="Pier 3", actor=ACTOR, at=MET_AT)


def test_a_place_cannot_be_checked_before_the_start() -> None:
    """A check dated before the patrol set out is refused."""
    with pytest.raises(EffectiveTimeRefused, match="it started at 2027-01-24T20:10:00"):
        patrol.check_place(started(), kind="dock", name="Pier 3", actor=ACTOR, at=at(24, 19))


# ---------------------------------------------------------------- encounters


def test_an_anonymous_person_who_refuses_gets_supplies_and_a_follow_up() -> None:
    """Description, condition and note are personal, sealed under a key of the encounter."""
    state = then(started(), encounter())
    subject = person_subject("P-0001/E-1")
    met = state.encounter("E-1")
    assert met is not None
    assert (
        None,
        Personal(subject, "man, about 50, grey coat"),
        Personal(subject, "cold, sober, coughing"),
        Personal(subject, "left the hotline number; follow up tomorrow night"),
        "refused_given_supplies",
        (
            SupplyLine(lot_ref="L-2026-031", quantity=1),
            SupplyLine(lot_ref="L-2026-040", quantity=1),
        ),
        MET_AT,
    ) == (
        met.person_ref,
        met.description,
        met.condition,
        met.note,
        met.outcome,
        met.supplies,
        met.met_at,
    )
    assert not met.vulnerable


def test_an_identified_persons_data_is_sealed_under_their_own_key() -> None:
    """With a person reference, what is recorded belongs to that person's key subject."""
    events = encounter(person_ref="PS-0107", description=None, outcome="accepted_shelter")
    logged = events[0]
    assert isinstance(logged, EncounterLogged)
    assert ("PS-0107", None, Personal(person_subject("PS-0107"), "cold, sober, coughing")) == (
        logged.person_ref,
        logged.description,
        logged.condition,
    )


@pytest.mark.parametrize("flag", ["minor", "critically_ill", "mentally_ill"])
@pytest.mark.parametrize("outcome", PROTECTIVE_OUTCOMES)
def test_vulnerable_persons_get_protective_rescue(flag: str, outcome: str) -> None:
    """Minors, critically ill and mentally ill persons are rescued or taken to hospital."""
    state = then(started(), encounter(outcome=outcome, supplies=(), **{flag: True}))
    met = state.encounter("E-1")
    assert met is not None
    assert (outcome, True, True) == (met.outcome, getattr(met, flag), met.vulnerable)


@pytest.mark.parametrize("flag", ["minor", "critically_ill", "mentally_ill"])
@pytest.mark.parametrize("outcome", ["accepted_shelter", "refused_given_supplies", "helped_home"])
def test_vulnerable_persons_cannot_be_left_with_another_outcome(flag: str, outcome: str) -> None:
    """Treat first, then rescue: any other outcome for a vulnerable person is refused."""
    with pytest.raises(patrol.ProtectiveRescueRequired) as refused:
        encounter(outcome=outcome, **{flag: True})
    message = str(refused.value)
    assert f"encounter E-1 on patrol P-0001: the person is flagged {flag.replace('_', ' ')}" in (
        message
    )
    assert "treat first, then rescue" in message
    assert f"outcome {outcome!r} is not accepted" in message
    assert "protective_rescue, hospital_referral" in message


def test_a_refusal_without_supplies_needs_a_reason() -> None:
    """A person who refuses is given supplies; if none were handed out, the reason is kept."""
    with pytest.raises(patrol.SuppliesNotRecorded) as refused:
        encounter(supplies=())
    assert "encounter E-1 on patrol P-0001: a person who refuses help is given" in str(
        refused.value
    )
    events = encounter(supplies=(), reason="refused the supplies too; stock checked again at 23:00")
    assert events[0].reason == "refused the supplies too; stock checked again at 23:00"


@pytest.mark.parametrize(
    ("state", "status"),
    [(scheduled(), "scheduled"), (ended(), "ended"), (cancelled(), "cancelled")],
)
def test_encounters_are_logged_only_on_the_street(state: Patrol, status: str) -> None:
    """A person is met only by a patrol that has started and not ended."""
    with pytest.raises(
        patrol.WrongPatrolState, match=f"cannot log an encounter on patrol P-0001: it is {status}"
    ):
        encounter(state)


def test_an_encounter_cannot_precede_the_start() -> None:
    """An encounter dated before the patrol set out is refused."""
    with pytest.raises(
        EffectiveTimeRefused, match="log an encounter on patrol P-0001 at 2027-01-24T20:00"
    ):
        encounter(at=at(24, 20))


def test_an_encounter_id_is_used_once_per_patrol() -> None:
    """Each person met has their own encounter id within the patrol."""
    state = then(started(), encounter())
    with pytest.raises(AlreadyExists, match="patrol P-0001 already logged encounter E-1"):
        encounter(state)
    assert then(state, encounter(state, encounter_id="E-2")).encounter("E-2") is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"description": None}, "encounter E-1 on patrol P-0001 names nobody"),
        ({"outcome": "ignored"}, "outcome 'ignored' is not accepted; use one of: accepted_shelter"),
        ({"condition": ""}, "condition must be a non-empty text"),
        ({"minor": 1}, "minor must be True or False, got 1"),
        ({"encounter_id": "E 1"}, "encounter reference 'E 1' is not usable"),
        ({"person_ref": ""}, "person reference '' is not usable"),
        ({"supplies": [("L-1", 0)]}, "quantity of lot L-1 is 0; accepted: 1 to"),
        ({"supplies": [("L-1", 1.5)]}, "quantity of lot L-1 must be a whole number"),
        ({"supplies": [("L-1", 1), ("L-1", 2)]}, "lot L-1 appears twice in the supplies"),
        ({"supplies": ["L-1"]}, "a supply line is a \\(lot_ref, quantity\\) pair, got 'L-1'"),
        ({"supplies": "L-1"}, "supplies must be \\(lot_ref, quantity\\) pairs"),
        ({"supplies": [("bad ref", 1)]}, "lot reference 'bad ref' is not usable"),
    ],
)
def test_malformed_encounters_are_refused(changes: dict[str, Any], message: str) -> None:
    """Each malformed part of an encounter is refused, naming it and what is accepted."""
    with pytest.raises(InvalidCommand, match=message):
        encounter(**changes)


@given(flags=vulnerability_flags, outcome=outcomes, supplies=supply_lines)
def test_an_encounter_is_accepted_iff_the_protective_rule_holds(
    flags: dict[str, bool], outcome: str, supplies: list[tuple[str, int]]
) -> None:
    """Whatever the flags and outcome: accepted exactly when a vulnerable person is protected.

    A reason is always given, so the rule on supplies never decides the result.
    """
    vulnerable = any(flags.values())
    expected = not vulnerable or outcome in PROTECTIVE_OUTCOMES
    try:
        events = encounter(outcome=outcome, supplies=supplies, reason="none needed", **flags)
    except patrol.ProtectiveRescueRequired:
        accepted = False
    else:
        accepted = True
        met = then(started(), events).encounter("E-1")
        assert met is not None
        assert (vulnerable, outcome, len(supplies)) == (
            met.vulnerable,
            met.outcome,
            len(met.supplies),
        )
    assert expected == accepted


@given(supplies=supply_lines.filter(bool))
def test_any_supplies_satisfy_the_rule_for_refusals(supplies: list[tuple[str, int]]) -> None:
    """A refusal with at least one supply line needs no reason, and keeps every line."""
    events = encounter(supplies=supplies)
    assert tuple(SupplyLine(lot_ref=r, quantity=q) for r, q in supplies) == events[0].supplies


# ---------------------------------------------------------------- evolution


def test_evolution_replays_history_written_under_other_rules() -> None:
    """Evolution never checks rules: an encounter the rules now refuse still replays."""
    state = started()
    old = EncounterLogged(
        ref=PATROL_REF,
        actor=ACTOR,
        effective_at=STARTED_AT - timedelta(hours=1),
        encounter_id="E-9",
        person_ref=None,
        description=None,
        condition=Personal(person_subject("P-0001/E-9"), "cold"),
        minor=True,
        critically_ill=False,
        mentally_ill=False,
        outcome="accepted_shelter",
        supplies=(),
        note=None,
        reason=None,
    )
    met = patrol.evolve(state, old).encounter("E-9")
    assert met is not None
    assert (met.outcome, met.minor) == ("accepted_shelter", True)


def test_wrong_state_errors_share_the_hierarchy() -> None:
    """Every patrol refusal is a warmcase refusal of the documented kind."""
    assert issubclass(patrol.WrongPatrolState, WrongState)
    assert issubclass(patrol.EncounterAlreadyLogged, AlreadyExists)
    assert issubclass(patrol.SuppliesNotRecorded, RuleViolation)
    assert issubclass(patrol.ProtectiveRescueRequired, RuleViolation)
