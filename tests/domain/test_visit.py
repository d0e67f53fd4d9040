"""Pure tests of the visit's decisions and evolution."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.clocks import TEST_NOW, at
from tests.strategies import visit as sv
from tests.strategies.visit import (
    ACTOR,
    PHONE,
    completed,
    household_of,
    planned,
    spring_festival,
    step,
)
from warmcase.domain import household, lot, visit
from warmcase.domain.campaign import CampaignClosedError
from warmcase.domain.household import Household
from warmcase.domain.lot import DonationLot
from warmcase.domain.visit import (
    GoodsLine,
    ProblemRecord,
    ProblemReport,
    Visit,
)
from warmcase.errors import CommandRefused, InvalidCommand, NotFound
from warmcase.events import Event
from warmcase.personal import Personal, household_subject

SUBJECT = household_subject(sv.HOUSEHOLD_REF)

LEAKING_TAP = ProblemReport(problem_id="P1", description="roof leaks over the bed")
HEATER = ProblemReport(
    problem_id="P2",
    description="heater broken",
    solved_on_spot=True,
    answer="replaced with a heater from lot L-HEAT",
)


def complete(state: Visit, **changes: object) -> list[Event]:
    """complete_visit with a quilt and 700 yuan, overridden by `changes`."""
    arguments: dict[str, object] = {
        "campaign": spring_festival(),
        "goods": [("L-QUILT", 1)],
        "cash_fen": 70000,
        "signed_by": "1",
        "signer_phone": PHONE,
        "actor": ACTOR,
        "at": TEST_NOW,
    }
    arguments.update(changes)
    return visit.complete_visit(state, **arguments)  # type: ignore[arg-type]


def with_problems() -> Visit:
    """A completed visit with an open problem P1 and a problem P2 solved on the spot."""
    return completed(problems=[LEAKING_TAP, HEATER])


def assigned() -> Visit:
    """with_problems() after P1 was assigned to the housing office."""
    state = with_problems()
    return step(
        state,
        visit.assign_problem(
            state,
            problem_id="P1",
            department="Housing office",
            assignee="Wang Fang",
            due_on=date(2027, 2, 5),
            actor=ACTOR,
            at=TEST_NOW,
        ),
    )


def resolved() -> Visit:
    """assigned() after P1 was resolved."""
    state = assigned()
    return step(
        state,
        visit.resolve_problem(
            state, problem_id="P1", outcome="roof repaired", actor=ACTOR, at=at(30)
        ),
    )


# ---------------------------------------------------------------- plan


def plan(existing: Visit | None = None, **changes: object) -> list[Event]:
    """plan_visit of V-0001 for H-0001 on 25 January, overridden by `changes`."""
    arguments: dict[str, object] = {
        "ref": sv.VISIT_REF,
        "campaign": spring_festival(),
        "household": household_of(),
        "team": "Visit group 3",
        "leader": "Zhang Min",
        "planned_on": date(2027, 1, 25),
        "actor": ACTOR,
        "at": at(18),
    }
    arguments.update(changes)
    return visit.plan_visit(existing, **arguments)  # type: ignore[arg-type]


def test_plan_a_visit() -> None:
    """A visit is planned for a household by a team and its leader on a day of the campaign."""
    expected = [
        visit.VisitPlanned(
            ref=sv.VISIT_REF,
            actor=ACTOR,
            effective_at=at(18),
            campaign=sv.CAMPAIGN_REF,
            household=sv.HOUSEHOLD_REF,
            team="Visit group 3",
            leader="Zhang Min",
            planned_on=date(2027, 1, 25),
        )
    ]
    assert expected == plan()
    assert planned() == step(None, expected)  # type: ignore[arg-type]


def test_plan_does_not_check_eligibility() -> None:
    """A household not (yet) enrolled can be planned for; eligibility is checked at delivery."""
    events = plan(household=household_of(enrolled=False))
    assert [e.household for e in events if isinstance(e, visit.VisitPlanned)] == [sv.HOUSEHOLD_REF]


def test_plan_under_a_taken_reference_is_refused() -> None:
    """A visit reference is used once."""
    with pytest.raises(visit.VisitAlreadyExists, match=r"visit V-0001 already exists .*H-0001"):
        plan(planned())


def test_plan_in_a_closed_campaign_is_refused() -> None:
    """A closed campaign takes no new visits."""
    with pytest.raises(CampaignClosedError, match="campaign C-2027-SF is closed"):
        plan(campaign=spring_festival(closed=True))


@given(day=sv.visit_days)
def test_plan_day_within_the_campaign_period(day: date) -> None:
    """A day within 20-28 January is accepted; any other is refused, naming the period."""
    if date(2027, 1, 20) <= day <= date(2027, 1, 28):
        assert [day] == [
            e.planned_on for e in plan(planned_on=day) if isinstance(e, visit.VisitPlanned)
        ]
    else:
        with pytest.raises(
            visit.OutsideCampaignPeriod,
            match=f"planned on {day}, outside campaign C-2027-SF's period 2027-01-20 to 2027-01-28",
        ):
            plan(planned_on=day)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("planned_on", datetime(2027, 1, 25, 9, tzinfo=UTC), "planned_on must be a date"),
        ("team", " ", "team must be a non-empty text"),
        ("leader", "", "leader must be a non-empty text"),
    ],
)
def test_plan_arguments_are_checked(field: str, value: object, message: str) -> None:
    """The day is a date; team and leader are named."""
    with pytest.raises(InvalidCommand, match=message):
        plan(None, **{field: value})


# ---------------------------------------------------------------- complete (the visit's part)


def test_complete_records_delivery_signature_and_what_was_learned() -> None:
    """Completion records goods, cash, signer and notes; personal fields are under the
    household's key."""
    state = planned()
    events = complete(
        state,
        goods=[("L-QUILT", 1), GoodsLine(lot_ref="L-RICE", quantity=2)],
        cash_lot="L-CASH",
        health="diabetic, needs insulin",
        income="pension 1,200 yuan a month",
        schooling="grandson in year 4",
        needs=["winter coat for the grandson"],
        problems=[LEAKING_TAP, HEATER],
    )
    expected = [
        visit.VisitCompleted(
            ref=sv.VISIT_REF,
            actor=ACTOR,
            effective_at=TEST_NOW,
            visited_on=date(2027, 1, 25),
            goods=(
                GoodsLine(lot_ref="L-QUILT", quantity=1),
                GoodsLine(lot_ref="L-RICE", quantity=2),
            ),
            cash_fen=70000,
            cash_lot="L-CASH",
            signed_by="1",
            signer_phone=Personal(SUBJECT, PHONE),
            health=Personal(SUBJECT, "diabetic, needs insulin"),
            income=Personal(SUBJECT, "pension 1,200 yuan a month"),
            schooling=Personal(SUBJECT, "grandson in year 4"),
            needs=(Personal(SUBJECT, "winter coat for the grandson"),),
            problems=(
                ProblemRecord(
                    problem_id="P1", description=Personal(SUBJECT, "roof leaks over the bed")
                ),
                ProblemRecord(
                    problem_id="P2",
                    description=Personal(SUBJECT, "heater broken"),
                    solved_on_spot=True,
                    answer=Personal(SUBJECT, "replaced with a heater from lot L-HEAT"),
                ),
            ),
        )
    ]
    assert expected == events


def test_completed_visit_holds_delivery_and_problems() -> None:
    """Evolving a completion makes the visit completed, with its delivery and problem statuses."""
    state = with_problems()
    assert state.status == visit.COMPLETED
    assert state.delivery is not None
    assert (70000, "1", date(2027, 1, 25)) == (
        state.delivery.cash_fen,
        state.delivery.signed_by,
        state.delivery.visited_on,
    )
    assert {problem_id: problem.status for problem_id, problem in state.problems.items()} == {
        "P1": "open",
        "P2": "solved_on_spot",
    }


def test_visit_day_is_the_campaign_calendar_day() -> None:
    """The visit day is the day in the campaign's time zone (Shanghai), not in UTC."""
    events = complete(planned(), at=datetime(2027, 1, 25, 23, 0, tzinfo=UTC))
    assert isinstance(events[0], visit.VisitCompleted)
    assert date(2027, 1, 26) == events[0].visited_on


def test_goods_only_and_cash_only_are_both_deliveries() -> None:
    """A visit may hand over goods only or cash only."""
    goods_only = complete(planned(), cash_fen=0)
    cash_only = complete(planned(), goods=())
    assert isinstance(goods_only[0], visit.VisitCompleted)
    assert isinstance(cash_only[0], visit.VisitCompleted)
    assert (goods_only[0].cash_fen, cash_only[0].cash_fen) == (0, 70000)


def test_nothing_delivered_is_refused() -> None:
    """A visit completed with neither goods nor cash is refused."""
    with pytest.raises(visit.NothingDelivered, match="V-0001 hands over nothing"):
        complete(planned(), goods=(), cash_fen=0)


@pytest.mark.parametrize("quantity", [0, -3, 1.5, True])
def test_goods_quantity_must_be_positive_whole(quantity: object) -> None:
    """Each goods line carries a positive whole quantity."""
    with pytest.raises(InvalidCommand, match="quantity of lot L-QUILT on visit V-0001"):
        complete(planned(), goods=[("L-QUILT", quantity)])


def test_negative_cash_is_refused() -> None:
    """Cash is a non-negative amount of fen."""
    with pytest.raises(InvalidCommand, match="cash_fen is -100"):
        complete(planned(), cash_fen=-100)


def test_lot_twice_in_goods_is_refused() -> None:
    """A lot appears on one goods line only."""
    with pytest.raises(InvalidCommand, match=r"lot L-QUILT appears twice .* visit V-0001"):
        complete(planned(), goods=[("L-QUILT", 1), ("L-QUILT", 2)])


def test_malformed_goods_line_is_refused() -> None:
    """A goods line is a (lot_ref, quantity) pair."""
    with pytest.raises(InvalidCommand, match="pairs, got 'L-QUILT'"):
        complete(planned(), goods=["L-QUILT"])


def test_cash_lot_without_cash_is_refused() -> None:
    """Naming a cash lot with no cash handed over is refused."""
    with pytest.raises(InvalidCommand, match="cash lot L-CASH but hands over no cash"):
        complete(planned(), cash_fen=0, cash_lot="L-CASH")


def test_cash_lot_among_goods_is_refused() -> None:
    """One lot cannot be drawn both for goods and for cash."""
    with pytest.raises(InvalidCommand, match="lot L-QUILT both for goods and for cash"):
        complete(planned(), cash_lot="L-QUILT")


@pytest.mark.parametrize(
    ("signed_by", "signer_phone", "missing"),
    [("", PHONE, "signed_by"), ("1", "  ", "signer_phone"), (None, None, "signed_by and")],
)
def test_signature_and_phone_are_required(
    signed_by: object, signer_phone: object, missing: str
) -> None:
    """Every delivery is signed for by a member with a contact phone."""
    with pytest.raises(visit.SignatureRequired, match=f"V-0001 lacks {missing}"):
        complete(planned(), signed_by=signed_by, signer_phone=signer_phone)


def test_signer_phone_must_look_like_a_phone_number() -> None:
    """The signer's phone is a number, not free text."""
    with pytest.raises(InvalidCommand, match="signer phone of visit V-0001 is not a phone number"):
        complete(planned(), signer_phone="ask the neighbour")


def test_completing_twice_is_refused() -> None:
    """A visit is completed once."""
    with pytest.raises(visit.VisitNotPlanned, match="visit V-0001 is completed; only a planned"):
        complete(completed())


def test_completing_a_cancelled_visit_is_refused() -> None:
    """A cancelled visit cannot be completed."""
    state = step(planned(), visit.cancel_visit(planned(), reason="moved", actor=ACTOR, at=TEST_NOW))
    with pytest.raises(visit.VisitNotPlanned, match="visit V-0001 is cancelled"):
        complete(state)


def test_completion_in_a_closed_campaign_is_refused() -> None:
    """A closed campaign takes no more deliveries."""
    with pytest.raises(CampaignClosedError, match="campaign C-2027-SF is closed"):
        complete(planned(), campaign=spring_festival(closed=True))


def test_completion_against_another_campaign_is_refused() -> None:
    """The campaign passed in must be the visit's own."""
    other = attrs.evolve(spring_festival(), ref="C-OTHER")
    with pytest.raises(visit.WrongRecord, match="campaign C-2027-SF, but campaign C-OTHER"):
        complete(planned(), campaign=other)


def test_problem_ids_are_unique_on_a_visit() -> None:
    """Two problems of one visit cannot share an id."""
    with pytest.raises(InvalidCommand, match="problem id P1 is used twice on visit V-0001"):
        complete(planned(), problems=[LEAKING_TAP, LEAKING_TAP])


def test_problem_solved_on_the_spot_needs_an_answer() -> None:
    """A problem marked solved on the spot says how."""
    report = ProblemReport(problem_id="P3", description="no coal", solved_on_spot=True)
    with pytest.raises(InvalidCommand, match="problem P3 of visit V-0001 is marked solved"):
        complete(planned(), problems=[report])


def test_problems_must_be_problem_reports() -> None:
    """Problems are given as ProblemReport values."""
    with pytest.raises(InvalidCommand, match="ProblemReport values, got 'roof'"):
        complete(planned(), problems=["roof"])


@given(goods=sv.goods, cash_fen=st.integers(0, 200000), problems=sv.problem_reports)
def test_completion_keeps_what_was_handed_over(
    goods: list[GoodsLine], cash_fen: int, problems: list[ProblemReport]
) -> None:
    """Whatever is handed over and raised is what the completed visit holds."""
    if not goods and cash_fen == 0:
        cash_fen = 100
    state = step(planned(), complete(planned(), goods=goods, cash_fen=cash_fen, problems=problems))
    assert state.delivery is not None
    assert (tuple(goods), cash_fen) == (state.delivery.goods, state.delivery.cash_fen)
    expected = {
        report.problem_id: ("solved_on_spot" if report.solved_on_spot else "open")
        for report in problems
    }
    assert expected == {pid: problem.status for pid, problem in state.problems.items()}


# ---------------------------------------------------------------- deliver: visit, household, lots


def lots() -> dict[str, DonationLot]:
    """12 quilts, 30 bags of rice and 10,000 yuan of donated money."""
    return {
        "L-QUILT": sv.stocked_lot("L-QUILT", quantity=12),
        "L-RICE": sv.stocked_lot("L-RICE", quantity=30, item="rice", unit="bag"),
        "L-CASH": sv.stocked_lot(
            "L-CASH", quantity=1_000_000, item="money", unit="yuan", kind="cash"
        ),
    }


def deliver(
    state: Visit | None = None, *, home: Household | None = None, **changes: object
) -> visit.Decided:
    """deliver V-0001 to the 2-person minimum-allowance H-0001: a quilt and 900 yuan."""
    arguments: dict[str, object] = {
        "campaign": spring_festival(),
        "lots": lots(),
        "goods": [("L-QUILT", 1)],
        "cash_fen": 90000,
        "signed_by": "1",
        "signer_phone": PHONE,
        "actor": ACTOR,
        "at": TEST_NOW,
    }
    arguments.update(changes)
    return visit.deliver(
        state or planned(),
        household=home or household_of(),
        **arguments,  # type: ignore[arg-type]
    )


def test_delivery_pays_the_household_and_issues_from_each_lot() -> None:
    """One delivery decides the visit's completion, the household's payment and each lot's issue."""
    decided = deliver(goods=[("L-QUILT", 1), ("L-RICE", 2)], cash_lot="L-CASH", signed_by="2")
    assert [visit.VisitCompleted] == [type(e) for e in decided.visit]
    expected_payment = [
        household.AidPaid(
            ref=sv.HOUSEHOLD_REF,
            actor=ACTOR,
            effective_at=TEST_NOW,
            campaign=sv.CAMPAIGN_REF,
            visit=sv.VISIT_REF,
            amount_fen=90000,
            category="minimum_allowance",
            entitlement_fen=90000,
            signed_by="2",
            signer_phone=Personal(SUBJECT, PHONE),
        )
    ]
    assert expected_payment == decided.household
    issued = {
        ref: [(e.quantity, e.channel, e.to) for e in events if isinstance(e, lot.LotIssued)]
        for ref, events in decided.lots.items()
    }
    expected_issues = {
        "L-QUILT": [(1, "visit", sv.VISIT_REF)],
        "L-RICE": [(2, "visit", sv.VISIT_REF)],
        "L-CASH": [(90000, "visit", sv.VISIT_REF)],
    }
    assert expected_issues == issued


def test_cash_without_a_cash_lot_touches_no_lot_for_it() -> None:
    """Cash paid from the campaign's own funds (no cash lot) draws on goods lots only."""
    decided = deliver()
    assert list(decided.lots) == ["L-QUILT"]
    assert [household.AidPaid] == [type(e) for e in decided.household]


def test_goods_only_delivery_pays_nothing_but_checks_the_household() -> None:
    """A goods-only visit adds nothing to the aid ledger."""
    decided = deliver(cash_fen=0)
    assert (decided.household, list(decided.lots)) == ([], ["L-QUILT"])


def test_goods_only_delivery_to_a_household_not_enrolled_is_refused() -> None:
    """Goods are handed over only to a household eligible in the campaign."""
    with pytest.raises(household.NotEnrolled, match="H-0001 is not enrolled in campaign C-2027-SF"):
        deliver(cash_fen=0, home=household_of(enrolled=False))


def test_cash_to_a_household_not_enrolled_is_refused() -> None:
    """Cash is paid only to a household eligible in the campaign."""
    with pytest.raises(household.NotEnrolled, match="H-0001 is not enrolled in campaign C-2027-SF"):
        deliver(home=household_of(enrolled=False))


@pytest.mark.parametrize("cash_fen", [0, 90000])
def test_proxy_signature_is_refused(cash_fen: int) -> None:
    """Only the head or a registered member signs, for goods and for cash alike."""
    with pytest.raises(household.ProxySignatureRefused, match="signer '7' is not a registered"):
        deliver(cash_fen=cash_fen, signed_by="7")


def test_payment_above_the_tier_is_refused() -> None:
    """More than the highest tier is refused without an override."""
    with pytest.raises(household.AboveTier, match=r"1,100.00 yuan .* above its tier"):
        deliver(cash_fen=110000)


def test_split_payment_is_refused() -> None:
    """Less than the entitlement is a split payment, refused."""
    with pytest.raises(household.SplitPaymentRefused, match=r"450.00 yuan .* not split"):
        deliver(cash_fen=45000)


def test_second_payment_in_the_campaign_is_refused() -> None:
    """A household paid by one visit is not paid again by another."""
    first = deliver()
    home = sv.fold_onto(household.KIND.evolve, household_of(), first.household)
    with pytest.raises(
        household.AidAlreadyPaid, match=r"H-0001 already received its aid .* V-0001"
    ):
        deliver(planned("V-0002"), home=home)


def test_override_pays_again_and_is_recorded() -> None:
    """With a reason, a further payment is accepted and the ledger records why."""
    first = deliver()
    home = sv.fold_onto(household.KIND.evolve, household_of(), first.household)
    decided = deliver(
        planned("V-0002"), home=home, cash_fen=30000, override_reason="fire on 24 January"
    )
    assert [e.override_reason for e in decided.household if isinstance(e, household.AidPaid)] == [
        "fire on 24 January"
    ]


def test_insufficient_stock_on_any_line_refuses_the_delivery() -> None:
    """If the second goods line lacks stock, the whole delivery is refused."""
    message = r"lot L-RICE has 30 .*; 31 requested by visit V-0001"
    with pytest.raises(lot.InsufficientStock, match=message):
        deliver(goods=[("L-QUILT", 1), ("L-RICE", 31)])


def test_drawing_from_an_unknown_lot_is_refused() -> None:
    """Every lot drawn from must exist."""
    with pytest.raises(NotFound, match="lot L-NONE does not exist: visit V-0001"):
        deliver(goods=[("L-NONE", 1)])


def test_goods_from_a_cash_lot_are_refused() -> None:
    """A cash lot is handed over as cash, not as a goods line."""
    with pytest.raises(visit.WrongLotKind, match=r"lot L-CASH holds cash .* as cash_fen"):
        deliver(goods=[("L-CASH", 500)])


def test_cash_from_a_goods_lot_is_refused() -> None:
    """Cash is drawn from a cash lot only."""
    with pytest.raises(visit.WrongLotKind, match=r"lot L-RICE holds goods .* as a goods line"):
        deliver(cash_lot="L-RICE")


def test_delivery_to_another_household_is_refused() -> None:
    """The household passed in must be the visit's own."""
    with pytest.raises(visit.WrongRecord, match="household H-0001, but household H-0002"):
        deliver(home=household_of("H-0002"))


@given(
    attempts=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from([0, 45000, 70000, 90000, 110000])),
        min_size=1,
        max_size=8,
    )
)
def test_never_paid_above_the_highest_tier_without_override(
    attempts: list[tuple[int, int]],
) -> None:
    """Over any sequence of cash deliveries on several visits, the household is paid at most
    its highest tier, and exactly it once any payment was accepted."""
    home = household_of(categories=("minimum_allowance", "marginal"))
    visits = {number: planned(f"V-{number:04d}") for number in range(4)}
    for number, cash_fen in attempts:
        try:
            decided = deliver(visits[number], home=home, cash_fen=cash_fen, goods=())
        except CommandRefused:
            continue
        visits[number] = step(visits[number], decided.visit)
        home = sv.fold_onto(household.KIND.evolve, home, decided.household)
        assert home.paid_fen(sv.CAMPAIGN_REF) <= 90000
    paid = home.paid_fen(sv.CAMPAIGN_REF)
    assert paid in (0, 90000)
    assert paid == sum(v.delivery.cash_fen for v in visits.values() if v.delivery is not None)


# ---------------------------------------------------------------- problems


def test_assign_problem() -> None:
    """An open problem is assigned to a department and a person with a due date."""
    state = with_problems()
    events = visit.assign_problem(
        state,
        problem_id="P1",
        department="Housing office",
        assignee="Wang Fang",
        due_on=date(2027, 2, 5),
        actor=ACTOR,
        at=TEST_NOW,
    )
    expected = [
        visit.ProblemAssigned(
            ref=sv.VISIT_REF,
            actor=ACTOR,
            effective_at=TEST_NOW,
            problem_id="P1",
            department="Housing office",
            assignee="Wang Fang",
            due_on=date(2027, 2, 5),
        )
    ]
    assert expected == events
    problem = step(state, events).problems["P1"]
    assert ("assigned", "Housing office", "Wang Fang", date(2027, 2, 5)) == (
        problem.status,
        problem.department,
        problem.assignee,
        problem.due_on,
    )


def test_assigned_problem_can_be_reassigned() -> None:
    """A problem assigned but not resolved can go to another department."""
    state = assigned()
    state = step(
        state,
        visit.assign_problem(
            state,
            problem_id="P1",
            department="Civil affairs",
            assignee="Chen Jie",
            due_on=date(2027, 2, 10),
            actor=ACTOR,
            at=TEST_NOW,
        ),
    )
    assert (
        state.problems["P1"].department,
        state.problems["P1"].assignee,
    ) == ("Civil affairs", "Chen Jie")


def test_problem_solved_on_the_spot_is_not_assigned() -> None:
    """A problem solved on the spot needs no department."""
    with pytest.raises(visit.ProblemNotOpen, match="problem P2 of visit V-0001 is solved on spot"):
        visit.assign_problem(
            with_problems(),
            problem_id="P2",
            department="Housing office",
            assignee="Wang Fang",
            due_on=date(2027, 2, 5),
            actor=ACTOR,
            at=TEST_NOW,
        )


def test_resolved_problem_is_not_assigned() -> None:
    """A resolved problem is not assigned again."""
    with pytest.raises(visit.ProblemNotOpen, match="problem P1 of visit V-0001 is resolved"):
        visit.assign_problem(
            resolved(),
            problem_id="P1",
            department="Housing office",
            assignee="Wang Fang",
            due_on=date(2027, 2, 5),
            actor=ACTOR,
            at=TEST_NOW,
        )


@given(offset=sv.due_offsets)
def test_due_date_not_before_the_visit_day(offset: timedelta) -> None:
    """A due date on or after the visit day is accepted; one before it is refused."""
    visited_on = date(2027, 1, 25)
    due_on = visited_on + offset

    def assign() -> list[Event]:
        return visit.assign_problem(
            with_problems(),
            problem_id="P1",
            department="Housing office",
            assignee="Wang Fang",
            due_on=due_on,
            actor=ACTOR,
            at=TEST_NOW,
        )

    if due_on < visited_on:
        with pytest.raises(visit.DueBeforeVisit, match=f"due on {due_on}, before the visit on"):
            assign()
    else:
        assert [due_on] == [e.due_on for e in assign() if isinstance(e, visit.ProblemAssigned)]


def test_unknown_problem_is_refused() -> None:
    """Only problems recorded on the visit can be acted on."""
    with pytest.raises(visit.UnknownProblem, match="no problem 'P9' \\(its problems: P1, P2\\)"):
        visit.follow_up_problem(
            with_problems(), problem_id="P9", note="x", actor=ACTOR, at=TEST_NOW
        )


def test_problems_of_a_planned_visit_are_refused() -> None:
    """A visit not yet completed has no problems to act on."""
    with pytest.raises(visit.VisitNotCompleted, match="visit V-0001 is planned"):
        visit.assign_problem(
            planned(),
            problem_id="P1",
            department="Housing office",
            assignee="Wang Fang",
            due_on=date(2027, 2, 5),
            actor=ACTOR,
            at=TEST_NOW,
        )


def test_follow_up_an_assigned_problem() -> None:
    """Follow-ups of an assigned problem accumulate, in order, under the household's key."""
    state = assigned()
    first = visit.follow_up_problem(
        state, problem_id="P1", note="surveyor booked", actor=ACTOR, at=at(27)
    )
    state = step(state, first)
    state = step(
        state,
        visit.follow_up_problem(
            state, problem_id="P1", note="materials bought", actor=ACTOR, at=at(28)
        ),
    )
    assert [
        visit.ProblemFollowedUp(
            ref=sv.VISIT_REF,
            actor=ACTOR,
            effective_at=at(27),
            problem_id="P1",
            note=Personal(SUBJECT, "surveyor booked"),
        )
    ] == first
    assert [note.value for note in state.problems["P1"].follow_ups] == [
        "surveyor booked",
        "materials bought",
    ]


def test_follow_up_of_an_unassigned_problem_is_refused() -> None:
    """A problem is assigned before it is followed up."""
    with pytest.raises(visit.ProblemNotAssigned, match="P1 of visit V-0001 has no responsible"):
        visit.follow_up_problem(
            with_problems(), problem_id="P1", note="called", actor=ACTOR, at=TEST_NOW
        )


def test_follow_up_of_a_resolved_problem_is_refused() -> None:
    """A resolved problem is not followed up."""
    with pytest.raises(visit.ProblemNotOpen, match="P1 of visit V-0001 is resolved"):
        visit.follow_up_problem(resolved(), problem_id="P1", note="x", actor=ACTOR, at=TEST_NOW)


def test_resolve_an_assigned_problem() -> None:
    """An assigned problem is resolved with an outcome."""
    state = assigned()
    events = visit.resolve_problem(
        state, problem_id="P1", outcome="roof repaired", actor=ACTOR, at=at(30)
    )
    assert [
        visit.ProblemResolved(
            ref=sv.VISIT_REF,
            actor=ACTOR,
            effective_at=at(30),
            problem_id="P1",
            outcome=Personal(SUBJECT, "roof repaired"),
        )
    ] == events
    assert step(state, events).problems["P1"].status == "resolved"


@pytest.mark.parametrize("outcome", ["", "   ", None])
def test_resolution_needs_an_outcome(outcome: object) -> None:
    """Resolving without an outcome is refused."""
    with pytest.raises(InvalidCommand, match="problem P1 of visit V-0001 needs an outcome"):
        visit.resolve_problem(
            assigned(),
            problem_id="P1",
            outcome=outcome,  # type: ignore[arg-type]
            actor=ACTOR,
            at=TEST_NOW,
        )


def test_resolving_an_unassigned_problem_is_refused() -> None:
    """A problem is assigned to someone before it is resolved."""
    with pytest.raises(visit.ProblemNotAssigned, match="assign it before it is resolved"):
        visit.resolve_problem(
            with_problems(), problem_id="P1", outcome="done", actor=ACTOR, at=TEST_NOW
        )


def test_resolving_twice_is_refused() -> None:
    """A problem is resolved once."""
    with pytest.raises(visit.ProblemNotOpen, match="P1 of visit V-0001 is resolved"):
        visit.resolve_problem(resolved(), problem_id="P1", outcome="x", actor=ACTOR, at=TEST_NOW)


def test_report_back_after_resolution() -> None:
    """The outcome of a resolved problem is reported back to the household."""
    state = resolved()
    events = visit.report_problem_back(
        state, problem_id="P1", note="told Mrs Liu by phone", actor=ACTOR, at=at(31)
    )
    assert [
        visit.ProblemReportedBack(
            ref=sv.VISIT_REF,
            actor=ACTOR,
            effective_at=at(31),
            problem_id="P1",
            note=Personal(SUBJECT, "told Mrs Liu by phone"),
        )
    ] == events
    assert step(state, events).problems["P1"].status == "reported_back"


@pytest.mark.parametrize(("state", "status"), [(with_problems, "open"), (assigned, "assigned")])
def test_report_back_before_resolution_is_refused(state: object, status: str) -> None:
    """Nothing is reported back before the problem is resolved."""
    with pytest.raises(visit.ProblemNotResolved, match=f"P1 of visit V-0001 is {status}"):
        visit.report_problem_back(
            state(),  # type: ignore[operator]
            problem_id="P1",
            note="x",
            actor=ACTOR,
            at=TEST_NOW,
        )


def test_reporting_back_twice_is_refused() -> None:
    """The outcome is reported back once."""
    state = resolved()
    state = step(
        state, visit.report_problem_back(state, problem_id="P1", note="x", actor=ACTOR, at=at(31))
    )
    with pytest.raises(visit.ProblemAlreadyReported, match="P1 of visit V-0001 was already"):
        visit.report_problem_back(state, problem_id="P1", note="y", actor=ACTOR, at=at(31))


# ---------------------------------------------------------------- return visits and callbacks


def test_return_visits_accumulate() -> None:
    """Each return visit to a completed visit is kept, with who and when."""
    state = completed()
    events = visit.record_return_visit(state, note="roof holds", actor="zhang.min", at=at(28))
    assert [
        visit.ReturnVisitRecorded(
            ref=sv.VISIT_REF,
            actor="zhang.min",
            effective_at=at(28),
            note=Personal(SUBJECT, "roof holds"),
        )
    ] == events
    state = step(state, events)
    state = step(state, visit.record_return_visit(state, note="well", actor=ACTOR, at=at(30)))
    assert [(at(28), "zhang.min"), (at(30), ACTOR)] == [
        (r.at, r.actor) for r in state.return_visits
    ]


def test_return_visit_of_a_planned_visit_is_refused() -> None:
    """There is no return visit before the first one happened."""
    with pytest.raises(visit.VisitNotCompleted, match="V-0001 is planned; only a completed"):
        visit.record_return_visit(planned(), note="x", actor=ACTOR, at=TEST_NOW)


@pytest.mark.parametrize(
    ("method", "result", "note"),
    [("phone", "confirmed", None), ("door", "discrepancy", "household says 500 yuan, not 700")],
)
def test_audit_callback_is_recorded(method: str, result: str, note: str | None) -> None:
    """An inspector's callback records method, result and note."""
    state = completed()
    events = visit.verify_visit(
        state, method=method, result=result, note=note, actor="inspector.he", at=at(30)
    )
    assert [
        visit.AuditCallbackRecorded(
            ref=sv.VISIT_REF,
            actor="inspector.he",
            effective_at=at(30),
            method=method,
            result=result,
            note=note,
        )
    ] == events
    assert [(method, result, note)] == [
        (c.method, c.result, c.note) for c in step(state, events).audit_callbacks
    ]


@pytest.mark.parametrize("note", [None, "", "  "])
def test_discrepancy_needs_a_note(note: str | None) -> None:
    """A discrepancy says what differed."""
    with pytest.raises(visit.DiscrepancyNeedsNote, match="V-0001 verified by phone with a discr"):
        visit.verify_visit(
            completed(), method="phone", result="discrepancy", note=note, actor=ACTOR, at=TEST_NOW
        )


@pytest.mark.parametrize(
    ("method", "result", "field"),
    [("email", "confirmed", "method 'email'"), ("phone", "maybe", "result 'maybe'")],
)
def test_callback_method_and_result_are_from_the_lists(
    method: str, result: str, field: str
) -> None:
    """A callback is by phone or door and is confirmed or a discrepancy."""
    with pytest.raises(InvalidCommand, match=f"{field} is not accepted"):
        visit.verify_visit(completed(), method=method, result=result, actor=ACTOR, at=TEST_NOW)


def test_callback_of_a_visit_not_completed_is_refused() -> None:
    """Only a completed visit is verified."""
    with pytest.raises(visit.VisitNotCompleted, match="V-0001 is planned; only a completed"):
        visit.verify_visit(planned(), method="phone", result="confirmed", actor=ACTOR, at=TEST_NOW)


# ---------------------------------------------------------------- cancel


def test_cancel_a_planned_visit() -> None:
    """A planned visit is cancelled with a reason."""
    state = planned()
    events = visit.cancel_visit(state, reason="household moved away", actor=ACTOR, at=TEST_NOW)
    assert [
        visit.VisitCancelled(
            ref=sv.VISIT_REF, actor=ACTOR, effective_at=TEST_NOW, reason="household moved away"
        )
    ] == events
    after = step(state, events)
    assert (after.status, after.cancel_reason) == (visit.CANCELLED, "household moved away")


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel_needs_a_reason(reason: str) -> None:
    """A cancellation without a reason is refused."""
    with pytest.raises(InvalidCommand, match="a reason is required: visit V-0001 to H-0001"):
        visit.cancel_visit(planned(), reason=reason, actor=ACTOR, at=TEST_NOW)


def test_cancel_a_completed_visit_is_refused() -> None:
    """A completed visit cannot be cancelled: its delivery stands."""
    with pytest.raises(visit.VisitNotPlanned, match="V-0001 is completed; only a planned"):
        visit.cancel_visit(completed(), reason="oops", actor=ACTOR, at=TEST_NOW)


def test_cancel_twice_is_refused() -> None:
    """A cancelled visit stays cancelled."""
    state = step(planned(), visit.cancel_visit(planned(), reason="ill", actor=ACTOR, at=TEST_NOW))
    with pytest.raises(visit.VisitNotPlanned, match="V-0001 is cancelled"):
        visit.cancel_visit(state, reason="again", actor=ACTOR, at=TEST_NOW)


# ---------------------------------------------------------------- evolution


_COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["assign", "follow", "resolve", "report", "return", "verify"]),
        st.sampled_from(["P1", "P2", "P3"]),
    ),
    max_size=20,
)


@given(problems=sv.problem_reports, commands=_COMMANDS)
def test_problem_lifecycle_never_skips_a_step(
    problems: list[ProblemReport], commands: list[tuple[str, str]]
) -> None:
    """Over any sequence of accepted and refused commands, a reported problem was resolved,
    a resolved one was assigned, and a problem solved on the spot was never assigned."""
    state = completed(problems=problems)
    for command, problem_id in commands:
        try:
            events = _decide(state, command, problem_id)
        except CommandRefused:
            continue
        state = step(state, events)
        for problem in state.problems.values():
            if problem.report_note is not None:
                assert problem.outcome is not None
            if problem.outcome is not None:
                assert problem.department is not None
            if problem.solved_on_spot:
                assert (problem.department, problem.outcome) == (None, None)


def _decide(state: Visit, command: str, problem_id: str) -> list[Event]:
    due = date(2027, 2, 1)
    match command:
        case "assign":
            return visit.assign_problem(
                state,
                problem_id=problem_id,
                department="Civil affairs",
                assignee="Chen Jie",
                due_on=due,
                actor=ACTOR,
                at=TEST_NOW,
            )
        case "follow":
            return visit.follow_up_problem(
                state, problem_id=problem_id, note="called", actor=ACTOR, at=TEST_NOW
            )
        case "resolve":
            return visit.resolve_problem(
                state, problem_id=problem_id, outcome="done", actor=ACTOR, at=TEST_NOW
            )
        case "report":
            return visit.report_problem_back(
                state, problem_id=problem_id, note="told", actor=ACTOR, at=TEST_NOW
            )
        case "return":
            return visit.record_return_visit(state, note="fine", actor=ACTOR, at=TEST_NOW)
    return visit.verify_visit(state, method="door", result="confirmed", actor=ACTOR, at=TEST_NOW)


def test_evolve_ignores_changes_to_unknown_problems() -> None:
    """Evolution never refuses: an event about a problem the visit lacks leaves it unchanged."""
    state = completed()
    event = visit.ProblemResolved(
        ref=sv.VISIT_REF,
        actor=ACTOR,
        effective_at=TEST_NOW,
        problem_id="P-GONE",
        outcome=Personal(SUBJECT, "x"),
    )
    assert state == visit.evolve(state, event)


def test_event_type_names_are_permanent() -> None:
    """The stored names of the visit's events are fixed."""
    assert [
        cls.type_name
        for cls in (
            visit.VisitPlanned,
            visit.VisitCompleted,
            visit.ProblemAssigned,
            visit.ProblemFollowedUp,
            visit.ProblemResolved,
            visit.ProblemReportedBack,
            visit.ReturnVisitRecorded,
            visit.AuditCallbackRecorded,
            visit.VisitCancelled,
        )
    ] == [
        "visit.planned",
        "visit.completed",
        "visit.problem_assigned",
        "visit.problem_followed_up",
        "visit.problem_resolved",
        "visit.problem_reported_back",
        "visit.return_visit_recorded",
        "visit.audit_callback_recorded",
        "visit.cancelled",
    ]
