"""Shared states and hypothesis strategies for street patrols and hotline calls.

States are built only through the decisions and evolution of the domain, so
tests start from histories the rules would have accepted. The season is the
winter campaign of tests.strategies.campaign: 15 November 2026 to 15 March 2027.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from hypothesis import strategies as st

from tests.clocks import SHANGHAI, at
from tests.strategies.campaign import spring_festival_standards
from warmcase.domain import campaign, hotline, patrol
from warmcase.domain.campaign import Campaign, PatrolRules
from warmcase.domain.hotline import HotlineCall
from warmcase.domain.patrol import OUTCOMES, PLACE_KINDS, Patrol
from warmcase.domain.stream import fold
from warmcase.events import Event

CAMPAIGN_REF = "SF-2027"
PATROL_REF = "P-0001"
CALL_REF = "HC-0001"
ACTOR = "wang.fang"
AREA = "Gulou"
TEAM = "Gulou night team 2"
LEADER = "Zhang Wei"

#: A night patrol on the evening of 24 January 2027, Shanghai time.
SCHEDULED_FOR = at(24, 20)
STARTED_AT = at(24, 20, 10)
#: A hotline call received on the morning of 25 January 2027.
RECEIVED_AT = at(25, 6, 40)


def season(
    *, ref: str = CAMPAIGN_REF, rules: PatrolRules | None = None, closed: bool = False
) -> Campaign:
    """The winter campaign, optionally with other patrol rules, optionally closed."""
    state = fold(
        campaign.KIND,
        campaign.open_campaign(
            None,
            ref=ref,
            name="Winter relief 2026-2027",
            owner="Street office",
            starts_on=date(2026, 11, 15),
            ends_on=date(2027, 3, 15),
            standards=spring_festival_standards(),
            patrol_rules=rules,
            actor=ACTOR,
            at=at(15, month=11, year=2026),
        ),
    )
    assert state is not None
    if closed:
        state = campaign.evolve(state, campaign.close_campaign(state, actor=ACTOR, at=at(16, 3))[0])
    return state


def then(state: Patrol, events: Iterable[Event]) -> Patrol:
    """`state` with `events` applied."""
    for event in events:
        state = patrol.evolve(state, event)
    return state


def scheduled(ref: str = PATROL_REF, *, area: str = AREA, of: Campaign | None = None) -> Patrol:
    """A night patrol scheduled for 24 January, 20:00."""
    state = fold(
        patrol.KIND,
        patrol.schedule_patrol(
            None,
            ref=ref,
            campaign=of or season(),
            area=area,
            team=TEAM,
            leader=LEADER,
            scheduled_for=SCHEDULED_FOR,
            night=True,
            actor=ACTOR,
            at=at(20),
        ),
    )
    assert state is not None
    return state


def started(ref: str = PATROL_REF, *, of: Campaign | None = None) -> Patrol:
    """The patrol, out on the street since 20:10."""
    state = scheduled(ref, of=of)
    return then(state, patrol.start_patrol(state, actor=ACTOR, at=STARTED_AT))


def ended(ref: str = PATROL_REF) -> Patrol:
    """The patrol, back at 23:30."""
    state = started(ref)
    return then(state, patrol.end_patrol(state, actor=ACTOR, at=at(24, 23, 30)))


def cancelled(ref: str = PATROL_REF) -> Patrol:
    """The patrol, called off before it set out."""
    state = scheduled(ref)
    return then(state, patrol.cancel_patrol(state, reason="team ill", actor=ACTOR, at=at(24, 12)))


def call_then(state: HotlineCall, events: Iterable[Event]) -> HotlineCall:
    """`call` with `events` applied."""
    for event in events:
        state = hotline.evolve(state, event)
    return state


def received(
    ref: str = CALL_REF, *, far: bool = False, received_at: datetime = RECEIVED_AT
) -> HotlineCall:
    """A call about an old man lying in an underpass, received at 06:40."""
    state = fold(
        hotline.KIND,
        hotline.log_hotline_call(
            None,
            ref=ref,
            campaign=season(),
            area=AREA,
            place="Dongjie underpass, north stairs",
            far=far,
            description="old man lying on cardboard, not moving much",
            caller_phone="139 0591 0000",
            actor=ACTOR,
            at=received_at,
        ),
    )
    assert state is not None
    return state


def dispatched(
    ref: str = CALL_REF, *, far: bool = False, received_at: datetime = RECEIVED_AT
) -> HotlineCall:
    """The call, with a team sent two minutes after receipt."""
    state = received(ref, far=far, received_at=received_at)
    return call_then(
        state,
        hotline.dispatch_call(
            state, team="duty team 1", actor=ACTOR, at=received_at + timedelta(minutes=2)
        ),
    )


def arrived(ref: str = CALL_REF, *, after: timedelta = timedelta(minutes=25)) -> HotlineCall:
    """The call, with the team on the scene `after` its receipt."""
    state = dispatched(ref)
    return call_then(
        state,
        hotline.arrive_on_call(state, campaign=season(), actor=ACTOR, at=RECEIVED_AT + after),
    )


vulnerability_flags = st.fixed_dictionaries(
    {"minor": st.booleans(), "critically_ill": st.booleans(), "mentally_ill": st.booleans()}
)
"""Any combination of the flags that call for protective rescue."""

outcomes = st.sampled_from(sorted(OUTCOMES))
place_kinds = st.sampled_from(sorted(PLACE_KINDS))

lot_refs = st.from_regex(r"L-20(26|27)-[0-9]{3}", fullmatch=True)
supply_lines = st.lists(
    st.tuples(lot_refs, st.integers(1, 50)), max_size=4, unique_by=lambda line: line[0]
)
"""Supplies handed to one person: at most one line per lot."""

response_delays = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3))
"""How long after receipt a team reaches the scene (to the microsecond)."""

receipt_times = st.datetimes(
    min_value=datetime(2026, 11, 16),  # noqa: DTZ001 - hypothesis adds the time zone
    max_value=datetime(2027, 3, 14),  # noqa: DTZ001
    timezones=st.just(SHANGHAI),
)
"""Moments inside the season, in the campaign's time zone."""
