"""Recorded histories of campaigns for the coverage projection, built with the decisions.

Two campaigns run at once in January 2027 over a handful of households in a few
areas, with donated quilts, rice and cash. Random steps enrol, update, disqualify,
merge and close households; plan, make and cancel visits (with goods, cash and
problems); follow problems up; schedule and run patrols; warn of cold waves; and
take hotline calls. Steps are often dated back a little; a step the rules refuse
records nothing, so only accepted histories are generated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.stock_history import Recorded, World
from warmcase.domain import campaign as campaign_
from warmcase.domain import hotline, household, lot, patrol, visit
from warmcase.domain.campaign import AidStandard, Campaign, PatrolRules
from warmcase.domain.household import Household, NewMember
from warmcase.domain.patrol import OUTCOMES, PLACE_KINDS
from warmcase.domain.stream import Kind
from warmcase.domain.visit import ProblemReport, Visit
from warmcase.errors import CommandRefused
from warmcase.events import Event

SPRING = "SF-2027"
WINTER = "W-2027"
CAMPAIGNS = (SPRING, WINTER)
PERIODS = {
    SPRING: (date(2027, 1, 4), date(2027, 2, 14)),
    WINTER: (date(2027, 1, 11), date(2027, 1, 31)),
}
RULES = {SPRING: PatrolRules(), WINTER: PatrolRules(min_patrols_per_week=2, response_minutes=20)}
STANDARDS = (
    AidStandard(category="minimum_allowance", tiers=((1, 55_000), (2, 90_000), (3, 110_000))),
    AidStandard(category="marginal", tiers=((1, 70_000),)),
    AidStandard(category="entitled_group", tiers=((1, 60_000),), basis="person"),
)
CATEGORIES = ("minimum_allowance", "marginal", "entitled_group", "elderly_alone")
DISTRICTS = ("Gulou", "Taijiang")
STREETS = ("Dongjie", "Nanjie")
COMMUNITIES = ("Wenquan", "Anle")
GRIDS = ("G-01", "G-02")
PATROL_AREAS = ("Gulou", "Gulou/Dongjie", "Taijiang", "Taijiang/Nanjie")
HOUSEHOLDS = tuple(f"H-{n:02d}" for n in range(1, 7))
VISITS = tuple(f"V-{n:02d}" for n in range(1, 9))
PATROLS = tuple(f"P-{n:02d}" for n in range(1, 7))
CALLS = tuple(f"C-{n:02d}" for n in range(1, 6))
PROBLEMS = ("heating", "roof", "medicine")
START = at(1, 8)
ACTOR = "li.wei"
PHONE = "13800138000"

lags = st.sampled_from([0, 0, 0, 0, 10, 60, 10 * 60, 2 * 24 * 60])
"""How far back a step is dated, in minutes."""
ticks = st.sampled_from([1, 5, 20, 45, 120, 600, 1440])
"""How long after the previous step the next is recorded, in minutes."""


def attempt_together(
    world: World, decide: Callable[[], list[tuple[Kind[Any], str, list[Event]]]]
) -> bool:
    """Record what `decide` returns for several records at once; False if it refused."""
    try:
        decided = decide()
    except CommandRefused:
        return False
    for kind, ref, events in decided:
        world.record(kind, ref, events)
    return True


def area_of(draw: st.DrawFn) -> dict[str, str]:
    """A random address down to the grid."""
    return {
        "district": draw(st.sampled_from(DISTRICTS)),
        "street": draw(st.sampled_from(STREETS)),
        "community": draw(st.sampled_from(COMMUNITIES)),
        "grid": draw(st.sampled_from(GRIDS)),
    }


def setting_up(draw: st.DrawFn) -> World:
    """Campaigns opened, households surveyed, verified and posted, lots on the books."""
    world = World(START)
    for ref in CAMPAIGNS:
        starts_on, ends_on = PERIODS[ref]
        opened = campaign_.open_campaign(
            None,
            ref=ref,
            name=f"Campaign {ref}",
            owner="Gulou street office",
            starts_on=starts_on,
            ends_on=ends_on,
            standards=STANDARDS,
            patrol_rules=RULES[ref],
            actor=ACTOR,
            at=world.now,
        )
        world.record(campaign_.KIND, ref, opened)
    for ref in HOUSEHOLDS[: draw(st.integers(1, len(HOUSEHOLDS)))]:
        size = draw(st.integers(1, 4))
        address = area_of(draw)
        surveyed = household.survey(
            None,
            ref=ref,
            district=address["district"],
            street=address["street"],
            community=address["community"],
            grid=address["grid"],
            address_detail="Building 3, Room 402",
            head=NewMember(name="王建国", relation="head"),
            members=[NewMember(name=f"家属{n}", relation="spouse") for n in range(size - 1)],
            phone=PHONE,
            categories=draw(st.frozensets(st.sampled_from(CATEGORIES), min_size=1, max_size=2)),
            hardship_level=2,
            actor=ACTOR,
            at=world.now,
        )
        world.record(household.KIND, ref, surveyed)
        world.record(
            household.KIND,
            ref,
            household.verify(world.state(household.KIND, ref), actor=ACTOR, at=world.now),
        )
        posted = household.post(
            world.state(household.KIND, ref),
            place="notice board",
            window_days=1,
            actor=ACTOR,
            at=world.now,
        )
        world.record(household.KIND, ref, posted)
    for ref, item, unit, kind, quantity in (
        ("L-031", "quilt", "piece", "goods", 500),
        ("L-050", "rice", "bag", "goods", 500),
        ("L-900", "consolation money", "yuan", "cash", 100_000_000),
    ):
        received = lot.receive(
            None,
            ref=ref,
            donor="Fuzhou Charity",
            item=item,
            unit=unit,
            kind=kind,
            quantity=quantity,
            warehouse="Gulou store",
            actor="keeper",
            at=world.now,
        )
        world.record(lot.KIND, ref, received)
        if kind == "goods":
            inspected = lot.inspect(
                world.state(lot.KIND, ref), accepted=quantity, actor="inspector", at=world.now
            )
            world.record(lot.KIND, ref, inspected)
    world.now = at(3, 9)
    return world


def pick(
    world: World,
    draw: st.DrawFn,
    kind: Kind[Any],
    pool: Sequence[str],
    *,
    new: bool,
    where: Callable[[Any], bool] | None = None,
) -> str | None:
    """A reference from `pool`: one not yet used if `new`, else one of an existing record,
    mostly one whose state suits the step (`where`), sometimes any, to try refusals too."""
    existing = set(world.refs(kind))
    choices = [ref for ref in pool if (ref in existing) != new]
    if where is not None and not new and draw(st.integers(0, 3)):
        choices = [ref for ref in choices if where(world.state(kind, ref))] or choices
    return draw(st.sampled_from(choices)) if choices else None


def day_in(draw: st.DrawFn, campaign: str) -> date:
    """A day within the campaign's period."""
    starts_on, ends_on = PERIODS[campaign]
    return starts_on + timedelta(days=draw(st.integers(0, (ends_on - starts_on).days)))


# ---------------------------------------------------------------- steps


def household_step(world: World, draw: st.DrawFn, verb: str, when: datetime) -> bool:
    """Enrol, update, disqualify, merge or close a household."""
    ref = pick(world, draw, household.KIND, HOUSEHOLDS, new=False)
    if ref is None:
        return False
    state: Household = world.state(household.KIND, ref)
    campaign: Campaign = world.state(campaign_.KIND, draw(st.sampled_from(CAMPAIGNS)))
    match verb:
        case "enroll":
            return world.attempt(
                household.KIND,
                ref,
                lambda s: household.enroll(s, campaign=campaign, actor=ACTOR, at=when),
            )
        case "update":
            change = draw(st.sampled_from(["address", "members", "categories"]))
            if change == "address":
                arguments: dict[str, Any] = area_of(draw)
            elif change == "members":
                arguments = {"add_members": [NewMember(name="新成员", relation="child")]}
            else:
                arguments = {
                    "categories": draw(
                        st.frozensets(st.sampled_from(CATEGORIES), min_size=1, max_size=3)
                    )
                }
            return world.attempt(
                household.KIND,
                ref,
                lambda s: household.update(
                    s, reason="circumstances changed", actor=ACTOR, at=when, **arguments
                ),
            )
        case "disqualify":
            return world.attempt(
                household.KIND,
                ref,
                lambda s: household.disqualify(
                    s, campaign=campaign, reason="false income report", actor=ACTOR, at=when
                ),
            )
        case "merge":
            survivor = pick(world, draw, household.KIND, HOUSEHOLDS, new=False)
            other: Household | None = world.state(household.KIND, survivor or "")
            if other is None:
                return False
            return attempt_together(
                world,
                lambda: [
                    (household.KIND, event.ref, [event])
                    for event in household.merge(
                        state, other, reason="same family", actor=ACTOR, at=when
                    )
                ],
            )
    cause = draw(st.sampled_from(household.CLOSE_CAUSES))
    return world.attempt(
        household.KIND,
        ref,
        lambda s: household.close(s, cause=cause, reason="left the registry", actor=ACTOR, at=when),
    )


def visit_step(world: World, draw: st.DrawFn, verb: str, when: datetime) -> bool:
    """Plan, make or cancel a visit, or follow up one of its problems."""
    wanted = {"complete": visit.PLANNED, "cancel": visit.PLANNED}.get(verb, visit.COMPLETED)
    ref = pick(
        world, draw, visit.KIND, VISITS, new=verb == "plan", where=lambda v: v.status == wanted
    )
    if ref is None:
        return False
    state: Visit | None = world.state(visit.KIND, ref)
    if verb == "plan":
        campaign_ref = draw(st.sampled_from(CAMPAIGNS))
        campaign: Campaign = world.state(campaign_.KIND, campaign_ref)
        whose = pick(
            world,
            draw,
            household.KIND,
            HOUSEHOLDS,
            new=False,
            where=lambda h: campaign_ref in h.enrollments and h.merged_into is None,
        )
        target: Household | None = world.state(household.KIND, whose or "")
        if target is None:
            return False
        planned_on = day_in(draw, campaign_ref)
        return world.attempt(
            visit.KIND,
            ref,
            lambda s: visit.plan_visit(
                s,
                ref=ref,
                campaign=campaign,
                household=target,
                team="team 1",
                leader="Chen Jing",
                planned_on=planned_on,
                actor=ACTOR,
                at=when,
            ),
        )
    if state is None:
        return False
    match verb:
        case "complete":
            return complete(world, draw, state, when)
        case "cancel":
            return world.attempt(
                visit.KIND,
                ref,
                lambda s: visit.cancel_visit(s, reason="not at home", actor=ACTOR, at=when),
            )
    if not state.problems:
        return False
    problem_id = draw(st.sampled_from(sorted(state.problems)))
    if verb == "assign":
        due_on = when.date() + timedelta(days=draw(st.integers(-3, 6)))
        return world.attempt(
            visit.KIND,
            ref,
            lambda s: visit.assign_problem(
                s,
                problem_id=problem_id,
                department="civil affairs",
                assignee="Zhou Min",
                due_on=due_on,
                actor=ACTOR,
                at=when,
            ),
        )
    if verb == "resolve":
        return world.attempt(
            visit.KIND,
            ref,
            lambda s: visit.resolve_problem(
                s, problem_id=problem_id, outcome="fixed", actor=ACTOR, at=when
            ),
        )
    return world.attempt(
        visit.KIND,
        ref,
        lambda s: visit.report_problem_back(
            s, problem_id=problem_id, note="told them", actor=ACTOR, at=when
        ),
    )


def complete(world: World, draw: st.DrawFn, state: Visit, when: datetime) -> bool:
    """Make a planned visit: goods, the cash that remains of the entitlement, problems."""
    campaign: Campaign = world.state(campaign_.KIND, state.campaign)
    target: Household | None = world.state(household.KIND, state.household)
    if target is None:
        return False
    goods = draw(
        st.lists(
            st.tuples(st.sampled_from(["L-031", "L-050"]), st.integers(1, 3)),
            max_size=2,
            unique_by=lambda g: g[0],
        )
    )
    entitlement, _ = campaign.entitlement(target.categories, target.size)
    cash = max(0, entitlement - target.paid_fen(campaign.ref)) if draw(st.booleans()) else 0
    cash_lot = "L-900" if cash and draw(st.booleans()) else None
    problems = [
        ProblemReport(
            problem_id=problem_id,
            description="the heater is broken",
            solved_on_spot=solved,
            answer="fixed it" if solved else None,
        )
        for problem_id, solved in draw(
            st.lists(
                st.tuples(st.sampled_from(PROBLEMS), st.booleans()),
                max_size=2,
                unique_by=lambda p: p[0],
            )
        )
    ]
    lots = {ref: world.state(lot.KIND, ref) for ref in ("L-031", "L-050", "L-900")}

    def deliver() -> list[tuple[Kind[Any], str, list[Event]]]:
        decided = visit.deliver(
            state,
            campaign=campaign,
            household=target,
            lots=lots,
            goods=goods,
            cash_fen=cash,
            cash_lot=cash_lot,
            signed_by="1",
            signer_phone=PHONE,
            problems=problems,
            actor=ACTOR,
            at=when,
        )
        together: list[tuple[Kind[Any], str, list[Event]]] = [
            (visit.KIND, state.ref, decided.visit)
        ]
        together.append((household.KIND, target.ref, decided.household))
        together.extend((lot.KIND, ref, events) for ref, events in decided.lots.items())
        return together

    return attempt_together(world, deliver)


def patrol_step(world: World, draw: st.DrawFn, verb: str, when: datetime) -> bool:
    """Schedule, start, run, end or cancel a patrol, or warn of a cold wave."""
    campaign_ref = draw(st.sampled_from(CAMPAIGNS))
    campaign: Campaign = world.state(campaign_.KIND, campaign_ref)
    if verb == "cold_wave":
        area = draw(st.sampled_from(PATROL_AREAS))
        starts_at = when - timedelta(hours=draw(st.integers(0, 48)))
        ends_at = starts_at + timedelta(hours=draw(st.integers(6, 96)))
        return world.attempt(
            campaign_.KIND,
            campaign_ref,
            lambda s: campaign_.warn_cold_wave(
                s, area=area, starts_at=starts_at, ends_at=ends_at, actor=ACTOR, at=when
            ),
        )
    status = {"start": patrol.SCHEDULED, "cancel_patrol": patrol.SCHEDULED}.get(
        verb, patrol.STARTED
    )
    ref = pick(
        world,
        draw,
        patrol.KIND,
        PATROLS,
        new=verb == "schedule",
        where=lambda p: p.status == status,
    )
    if ref is None:
        return False
    if verb == "schedule":
        area = draw(st.sampled_from(PATROL_AREAS))
        scheduled_for = datetime.combine(day_in(draw, campaign_ref), when.timetz())
        return world.attempt(
            patrol.KIND,
            ref,
            lambda s: patrol.schedule_patrol(
                s,
                ref=ref,
                campaign=campaign,
                area=area,
                team="night team",
                leader="Zhang Wei",
                scheduled_for=scheduled_for,
                actor=ACTOR,
                at=when,
            ),
        )
    match verb:
        case "start":
            return world.attempt(
                patrol.KIND, ref, lambda s: patrol.start_patrol(s, actor=ACTOR, at=when)
            )
        case "place":
            kind = draw(st.sampled_from(sorted(PLACE_KINDS)))
            name = draw(st.sampled_from(["north square", "bridge 3", "old mill"]))
            return world.attempt(
                patrol.KIND,
                ref,
                lambda s: patrol.check_place(s, kind=kind, name=name, actor=ACTOR, at=when),
            )
        case "encounter":
            outcome = draw(st.sampled_from(sorted(OUTCOMES)))
            met = draw(st.sampled_from(["E-1", "E-2", "E-3"]))
            return world.attempt(
                patrol.KIND,
                ref,
                lambda s: patrol.log_encounter(
                    s,
                    encounter_id=met,
                    outcome=outcome,
                    condition="cold but well",
                    description="man, about 50",
                    reason="had enough",
                    actor=ACTOR,
                    at=when,
                ),
            )
        case "end":
            return world.attempt(
                patrol.KIND, ref, lambda s: patrol.end_patrol(s, actor=ACTOR, at=when)
            )
    return world.attempt(
        patrol.KIND, ref, lambda s: patrol.cancel_patrol(s, reason="storm", actor=ACTOR, at=when)
    )


def call_step(world: World, draw: st.DrawFn, verb: str, when: datetime) -> bool:
    """Take, dispatch, reach or close a hotline call."""
    status = {"dispatch": hotline.RECEIVED, "arrive": hotline.DISPATCHED}.get(verb, hotline.ARRIVED)
    ref = pick(
        world, draw, hotline.KIND, CALLS, new=verb == "call", where=lambda c: c.status == status
    )
    if ref is None:
        return False
    state = world.state(hotline.KIND, ref)
    if verb == "call":
        campaign_ref = draw(st.sampled_from(CAMPAIGNS))
        campaign: Campaign = world.state(campaign_.KIND, campaign_ref)
        area = draw(st.sampled_from(PATROL_AREAS))
        far = draw(st.booleans())
        return world.attempt(
            hotline.KIND,
            ref,
            lambda s: hotline.log_hotline_call(
                s,
                ref=ref,
                campaign=campaign,
                area=area,
                place="bridge 3",
                far=far,
                description="someone asleep",
                actor=ACTOR,
                at=when,
            ),
        )
    if state is None:
        return False
    match verb:
        case "dispatch":
            return world.attempt(
                hotline.KIND,
                ref,
                lambda s: hotline.dispatch_call(s, team="rescue team", actor=ACTOR, at=when),
            )
        case "arrive":
            campaign = world.state(campaign_.KIND, state.campaign)
            return world.attempt(
                hotline.KIND,
                ref,
                lambda s: hotline.arrive_on_call(s, campaign=campaign, actor=ACTOR, at=when),
            )
    outcome = draw(st.sampled_from([*hotline.ON_SCENE_OUTCOMES, hotline.DUPLICATE_CALL]))
    return world.attempt(
        hotline.KIND, ref, lambda s: hotline.close_call(s, outcome=outcome, actor=ACTOR, at=when)
    )


STEPS: Sequence[tuple[str, Callable[[World, st.DrawFn, str, datetime], bool]]] = (
    *(("enroll", household_step),) * 4,
    ("update", household_step),
    ("disqualify", household_step),
    ("merge", household_step),
    ("close", household_step),
    *(("plan", visit_step),) * 3,
    *(("complete", visit_step),) * 4,
    ("cancel", visit_step),
    *(("assign", visit_step),) * 4,
    *(("resolve", visit_step),) * 2,
    ("report_back", visit_step),
    ("cold_wave", patrol_step),
    *(("schedule", patrol_step),) * 2,
    *(("start", patrol_step),) * 2,
    *(("place", patrol_step),) * 2,
    *(("encounter", patrol_step),) * 2,
    ("end", patrol_step),
    ("cancel_patrol", patrol_step),
    *(("call", call_step),) * 2,
    *(("dispatch", call_step),) * 2,
    *(("arrive", call_step),) * 2,
    ("close_call", call_step),
)


@st.composite
def coverage_histories(draw: st.DrawFn, max_steps: int = 50) -> Recorded:
    """A history of two campaigns: set-up, then random steps in any order and dating."""
    world = setting_up(draw)
    for _ in range(draw(st.integers(0, max_steps))):
        world.tick(draw(ticks))
        verb, step = draw(st.sampled_from(STEPS))
        step(world, draw, verb, world.now - timedelta(minutes=draw(lags)))
    return world.recorded
