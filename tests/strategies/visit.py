"""Shared states and hypothesis strategies for visits.

States are built only through the decisions and evolution of the domain, so
tests start from histories the rules would have accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import TypeVar

from hypothesis import strategies as st

from tests.clocks import TEST_NOW, at
from warmcase.domain import campaign, household, lot, visit
from warmcase.domain.campaign import AidStandard, Campaign
from warmcase.domain.household import Household, NewMember
from warmcase.domain.lot import DonationLot
from warmcase.domain.stream import fold
from warmcase.domain.visit import GoodsLine, ProblemReport, Visit
from warmcase.events import Event

S = TypeVar("S")

CAMPAIGN_REF = "C-2027-SF"
HOUSEHOLD_REF = "H-0001"
VISIT_REF = "V-0001"
ACTOR = "li.wei"
PHONE = "138 0013 8000"

#: The street office's Spring Festival 2027 figures (domain.md), in fen.
STANDARDS = (
    AidStandard(category="minimum_allowance", tiers=((1, 55000), (2, 90000), (3, 110000))),
    AidStandard(category="marginal", tiers=((1, 70000),)),
    AidStandard(category="entitled_group", tiers=((1, 60000),), basis="person"),
)


def spring_festival(*, closed: bool = False) -> Campaign:
    """The street office's Spring Festival 2027 campaign; visits from 20 to 28 January."""
    events = campaign.open_campaign(
        None,
        ref=CAMPAIGN_REF,
        name="2027 春节送温暖",
        owner="Street office",
        starts_on=date(2027, 1, 20),
        ends_on=date(2027, 1, 28),
        standards=STANDARDS,
        actor=ACTOR,
        at=at(10),
    )
    state = fold(campaign.KIND, events)
    assert state is not None
    if closed:
        state = fold_onto(
            campaign.KIND.evolve,
            state,
            campaign.close_campaign(state, reason="season over", actor=ACTOR, at=at(29)),
        )
    return state


def fold_onto(evolve: Callable[[S, Event], S], state: S, events: Iterable[Event]) -> S:
    """`state` with `events` applied by `evolve`."""
    for event in events:
        state = evolve(state, event)
    return state


def household_of(
    ref: str = HOUSEHOLD_REF,
    *,
    size: int = 2,
    categories: Iterable[str] = ("minimum_allowance",),
    enrolled: bool = True,
) -> Household:
    """A household of `size` persons (head "1", members "2", ...), surveyed, verified,
    posted for a week and, if `enrolled`, enrolled in the Spring Festival campaign."""
    events = household.survey(
        None,
        ref=ref,
        district="鼓楼区",
        street="东街街道",
        community="温泉社区",
        grid="G-03",
        address_detail="3号楼402室",
        head=NewMember(name="王建国", relation="head"),
        members=[NewMember(name=f"家属{n}", relation="spouse") for n in range(size - 1)],
        phone="13800138000",
        categories=categories,
        hardship_level=2,
        actor=ACTOR,
        at=at(5),
    )
    state = fold(household.KIND, events)
    assert state is not None
    state = fold_onto(household.KIND.evolve, state, household.verify(state, actor=ACTOR, at=at(6)))
    state = fold_onto(
        household.KIND.evolve,
        state,
        household.post(state, place="notice board", actor=ACTOR, at=at(6, 10)),
    )
    if enrolled:
        state = fold_onto(
            household.KIND.evolve,
            state,
            household.enroll(state, campaign=spring_festival(), actor=ACTOR, at=at(14)),
        )
    return state


def stocked_lot(
    ref: str, *, quantity: int, item: str = "quilt", unit: str = "piece", kind: str = "goods"
) -> DonationLot:
    """A lot received on 17 January with all of it on the books (inspected, for goods)."""
    events = lot.receive(
        None,
        ref=ref,
        donor="Xinhua Textiles Co.",
        item=item,
        unit=unit,
        quantity=quantity,
        warehouse="Gulou store",
        kind=kind,
        actor=ACTOR,
        at=at(17),
    )
    state = fold(lot.KIND, events)
    assert state is not None
    if kind == "goods":
        state = fold_onto(
            lot.KIND.evolve,
            state,
            lot.inspect(state, accepted=quantity, actor=ACTOR, at=at(17, 10)),
        )
    return state


def planned(
    ref: str = VISIT_REF, *, household: str = HOUSEHOLD_REF, planned_on: date = date(2027, 1, 25)
) -> Visit:
    """A visit as planning leaves it (household existence is the command's concern here)."""
    state = fold(
        visit.KIND,
        [
            visit.VisitPlanned(
                ref=ref,
                actor=ACTOR,
                effective_at=at(18),
                campaign=CAMPAIGN_REF,
                household=household,
                team="Visit group 3",
                leader="Zhang Min",
                planned_on=planned_on,
            )
        ],
    )
    assert state is not None
    return state


def completed(
    state: Visit | None = None,
    *,
    problems: Iterable[ProblemReport] = (),
    moment: datetime = TEST_NOW,
) -> Visit:
    """A visit completed with a quilt, 700 yuan and the given problems."""
    state = state or planned()
    events = visit.complete_visit(
        state,
        campaign=spring_festival(),
        goods=[("L-QUILT", 1)],
        cash_fen=70000,
        signed_by="1",
        signer_phone=PHONE,
        problems=problems,
        actor=ACTOR,
        at=moment,
    )
    return fold_onto(visit.KIND.evolve, state, events)


def step(state: Visit, events: Iterable[Event]) -> Visit:
    """`state` after `events`."""
    return fold_onto(visit.KIND.evolve, state, events)


texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
)
"""Non-blank free text, Chinese included."""

lot_refs = st.from_regex(r"L-[0-9]{3}", fullmatch=True)

goods = st.lists(
    st.builds(GoodsLine, lot_ref=lot_refs, quantity=st.integers(1, 500)),
    max_size=4,
    unique_by=lambda line: line.lot_ref,
)
"""Goods lines, one per lot."""

problem_reports = st.lists(
    st.one_of(
        st.builds(ProblemReport, problem_id=st.just(""), description=texts),
        st.builds(
            ProblemReport,
            problem_id=st.just(""),
            description=texts,
            solved_on_spot=st.just(True),
            answer=texts,
        ),
    ),
    max_size=5,
).map(
    lambda reports: [
        ProblemReport(
            problem_id=f"P{number}",
            description=report.description,
            solved_on_spot=report.solved_on_spot,
            answer=report.answer,
        )
        for number, report in enumerate(reports, 1)
    ]
)
"""Problems raised at one visit, numbered P1, P2, ...; some solved on the spot."""

visit_days = st.dates(date(2027, 1, 10), date(2027, 2, 10))
"""Days around the campaign period (20-28 January 2027)."""

due_offsets = st.integers(-10, 60).map(lambda days: timedelta(days=days))
"""How far after the visit day a problem falls due (negative: before it)."""
