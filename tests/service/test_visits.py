"""Visit commands through the application: planning, the atomic delivery, follow-ups."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import warmcase
from tests.clocks import ManualClock, at
from tests.scenario import CAMPAIGN, enrolled_household, open_campaign, register
from warmcase.app import Warmcase
from warmcase.domain import household, lot, visit
from warmcase.domain.household import Household
from warmcase.domain.lot import DonationLot
from warmcase.domain.visit import ProblemReport, Visit
from warmcase.errors import CommandRefused, InvalidCommand, NotFound

HOUSEHOLD = "H-0001"
VISIT = "V-0001"
PHONE = "13800138000"


def stock(app: Warmcase) -> None:
    """12 quilts and 30 bags of rice inspected, and 10,000 yuan donated, on 17 January."""
    for ref, item, unit, quantity, kind in [
        ("L-QUILT", "quilt", "piece", 12, "goods"),
        ("L-RICE", "rice", "bag", 30, "goods"),
        ("L-CASH", "consolation money", "yuan", 1_000_000, "cash"),
    ]:
        app.receive_lot(
            ref,
            donor="Xinhua Textiles Co.",
            item=item,
            unit=unit,
            quantity=quantity,
            kind=kind,
            warehouse="Gulou store",
            actor="store.keeper",
            effective_at=at(17, 9),
        )
        if kind == "goods":
            app.inspect_lot(ref, accepted=quantity, actor="inspector", effective_at=at(17, 10))


def position(app: Warmcase) -> int:
    """The store's last notification id (0 when empty)."""
    return app.recorder.max_notification_id() or 0


def plan(app: Warmcase, ref: str = VISIT, household_ref: str = HOUSEHOLD) -> str:
    """Plan `ref` for the household on 25 January, by visit group 3."""
    return app.plan_visit(
        ref,
        campaign=CAMPAIGN,
        household=household_ref,
        team="Visit group 3",
        leader="Zhang Min",
        planned_on=date(2027, 1, 25),
        actor="office",
        effective_at=at(20),
    )


def ready(app: Warmcase) -> None:
    """The campaign open, a 2-person minimum-allowance household enrolled (900 yuan),
    the store stocked and visit V-0001 planned."""
    open_campaign(app)
    enrolled_household(app, HOUSEHOLD, members=1)
    stock(app)
    plan(app)


def the_visit(app: Warmcase, ref: str = VISIT) -> Visit:
    """The visit's current state."""
    state: Visit = app.load(visit.KIND, ref)
    return state


def the_household(app: Warmcase) -> Household:
    """The household's current state."""
    state: Household = app.load(household.KIND, HOUSEHOLD)
    return state


def the_lot(app: Warmcase, ref: str) -> DonationLot:
    """The lot's current state."""
    state: DonationLot = app.load(lot.KIND, ref)
    return state


def deliver(app: Warmcase, ref: str = VISIT, **changes: object) -> str:
    """complete_visit with a quilt, two bags of rice and 900 yuan from the cash lot."""
    arguments: dict[str, Any] = {
        "goods": [("L-QUILT", 1), ("L-RICE", 2)],
        "cash_fen": 90000,
        "cash_lot": "L-CASH",
        "signed_by": "1",
        "signer_phone": PHONE,
        "actor": "zhang.min",
    }
    arguments.update(changes)
    return app.complete_visit(ref, **arguments)


# ---------------------------------------------------------------- plan


def test_plan_visit(app: Warmcase) -> None:
    """A planned visit names its campaign, household, team, leader and day."""
    ready(app)
    state = the_visit(app)
    assert (CAMPAIGN, HOUSEHOLD, "Visit group 3", "Zhang Min", date(2027, 1, 25), "planned") == (
        state.campaign,
        state.household,
        state.team,
        state.leader,
        state.planned_on,
        state.status,
    )


@pytest.mark.parametrize(
    ("campaign", "household_ref", "message"),
    [
        (CAMPAIGN, "H-9999", "household H-9999 does not exist"),
        ("C-NONE", HOUSEHOLD, "campaign C-NONE does not exist"),
    ],
)
def test_plan_needs_an_existing_campaign_and_household(
    app: Warmcase, campaign: str, household_ref: str, message: str
) -> None:
    """Planning for an unknown household or campaign is refused and appends nothing."""
    open_campaign(app)
    register(app, HOUSEHOLD)
    before = position(app)
    with pytest.raises(NotFound, match=message):
        app.plan_visit(
            "V-0002",
            campaign=campaign,
            household=household_ref,
            team="Visit group 3",
            leader="Zhang Min",
            planned_on=date(2027, 1, 25),
            actor="office",
        )
    assert before == position(app)


def test_plan_outside_the_campaign_period_is_refused(app: Warmcase) -> None:
    """The visit day lies within the campaign period (15 November to 15 March)."""
    open_campaign(app)
    register(app, HOUSEHOLD)
    before = position(app)
    with pytest.raises(visit.OutsideCampaignPeriod, match="planned on 2027-03-16, outside"):
        app.plan_visit(
            VISIT,
            campaign=CAMPAIGN,
            household=HOUSEHOLD,
            team="Visit group 3",
            leader="Zhang Min",
            planned_on=date(2027, 3, 16),
            actor="office",
        )
    assert before == position(app)


def test_plan_twice_is_refused(app: Warmcase) -> None:
    """A visit reference is planned once."""
    ready(app)
    with pytest.raises(visit.VisitAlreadyExists, match="visit V-0001 already exists"):
        plan(app)


# ---------------------------------------------------------------- the atomic delivery


def test_complete_visit_saves_visit_household_and_lots_together(app: Warmcase) -> None:
    """One delivery appends the completion, the payment and each lot's issue, in one go."""
    ready(app)
    before = position(app)
    assert deliver(app, health="knee pain", problems=[_problem()]) == VISIT
    # visit.completed, household.aid_paid, and one issue from each of three lots.
    assert before + 5 == position(app)
    state = the_visit(app)
    assert state.delivery is not None
    assert (
        state.status,
        state.delivery.cash_fen,
        state.delivery.signed_by,
    ) == ("completed", 90000, "1")
    assert [p.visit for p in the_household(app).payments(CAMPAIGN)] == ["V-0001"]
    assert (
        the_lot(app, "L-QUILT").available,
        the_lot(app, "L-RICE").available,
        the_lot(app, "L-CASH").available,
    ) == (11, 28, 1_000_000 - 90000)
    assert dict(the_lot(app, "L-QUILT").issued) == {"visit": 1}


def _assert_nothing_changed(app: Warmcase, before: int) -> None:
    assert before == position(app)
    assert the_visit(app).status == "planned"
    assert the_household(app).payments(CAMPAIGN) == ()
    assert (
        the_lot(app, "L-QUILT").available,
        the_lot(app, "L-RICE").available,
        the_lot(app, "L-CASH").available,
    ) == (12, 30, 1_000_000)


def test_insufficient_stock_on_the_second_line_appends_nothing_anywhere(app: Warmcase) -> None:
    """A delivery refused on its second goods line leaves the visit, the household's
    ledger and the first lot exactly as they were."""
    ready(app)
    before = position(app)
    with pytest.raises(lot.InsufficientStock, match=r"lot L-RICE has 30 .*; 31 requested"):
        deliver(app, goods=[("L-QUILT", 1), ("L-RICE", 31)])
    _assert_nothing_changed(app, before)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"signed_by": "9"}, household.ProxySignatureRefused, "signer '9' is not a registered"),
        ({"cash_fen": 110000}, household.AboveTier, "above its tier"),
        ({"cash_fen": 45000}, household.SplitPaymentRefused, "not split"),
        ({"signer_phone": ""}, visit.SignatureRequired, "V-0001 lacks signer_phone"),
        ({"goods": [("L-NONE", 1)]}, NotFound, "lot L-NONE does not exist"),
        ({"goods": [("L-QUILT", 0)]}, InvalidCommand, "quantity of lot L-QUILT"),
    ],
)
def test_refused_delivery_appends_nothing(
    app: Warmcase, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Whatever refuses the delivery (signature, tier, split, lot), nothing is appended."""
    ready(app)
    before = position(app)
    with pytest.raises(error, match=message):
        deliver(app, **changes)
    _assert_nothing_changed(app, before)


def test_goods_only_delivery_to_a_household_not_enrolled_is_refused(app: Warmcase) -> None:
    """Eligibility is checked when aid is handed over, even goods only."""
    open_campaign(app)
    register(app, "H-0002")
    stock(app)
    plan(app, "V-0002", "H-0002")
    before = position(app)
    with pytest.raises(household.NotEnrolled, match="H-0002 is not enrolled in campaign SF-2027"):
        deliver(app, "V-0002", cash_fen=0, cash_lot=None)
    assert before == position(app)


def test_second_payment_on_another_visit_appends_nothing(app: Warmcase) -> None:
    """A household paid on one visit is refused on the next, and the refusal touches nothing."""
    ready(app)
    deliver(app)
    plan(app, "V-0002")
    before = position(app)
    quilts = the_lot(app, "L-QUILT").available
    with pytest.raises(household.AidAlreadyPaid, match="H-0001 already received its aid"):
        deliver(app, "V-0002")
    assert before == position(app)
    assert ("planned", [90000], quilts) == (
        the_visit(app, "V-0002").status,
        [p.amount_fen for p in the_household(app).payments(CAMPAIGN)],
        the_lot(app, "L-QUILT").available,
    )


def test_override_is_paid_and_recorded(app: Warmcase) -> None:
    """With a reason, a further payment is accepted and the ledger says why."""
    ready(app)
    deliver(app)
    plan(app, "V-0002")
    deliver(app, "V-0002", goods=(), cash_fen=30000, override_reason="house fire on 24 January")
    assert [p.override_reason for p in the_household(app).payments(CAMPAIGN)] == [
        None,
        "house fire on 24 January",
    ]


def test_completing_twice_is_refused(app: Warmcase) -> None:
    """A visit's delivery is recorded once."""
    ready(app)
    deliver(app, goods=(), cash_lot=None)
    before = position(app)
    with pytest.raises(visit.VisitNotPlanned, match="V-0001 is completed"):
        deliver(app, goods=[("L-QUILT", 1)], cash_fen=0, cash_lot=None)
    assert before == position(app)


def test_completing_an_unknown_visit_is_refused(app: Warmcase) -> None:
    """Only a planned visit can be completed."""
    ready(app)
    with pytest.raises(NotFound, match="visit V-0404 does not exist"):
        deliver(app, "V-0404")


# ---------------------------------------------------------------- problems, return visits, audit


def _problem() -> ProblemReport:
    return ProblemReport(problem_id="P1", description="roof leaks over the bed")


def test_problem_followed_through_to_the_household(app: Warmcase) -> None:
    """A problem is assigned, followed up, resolved and reported back, step by step."""
    ready(app)
    deliver(app, problems=[_problem()])
    app.assign_problem(
        VISIT,
        problem_id="P1",
        department="Housing office",
        assignee="Wang Fang",
        due_on=date(2027, 2, 5),
        actor="zhang.min",
    )
    app.follow_up_problem(VISIT, problem_id="P1", note="surveyor booked", actor="wang.fang")
    app.resolve_problem(VISIT, problem_id="P1", outcome="roof repaired", actor="wang.fang")
    assert (
        app.report_problem_back(
            VISIT, problem_id="P1", note="told Mr Wang at the door", actor="zhang.min"
        )
        == VISIT
    )
    problem = the_visit(app).problems["P1"]
    assert (
        problem.status,
        problem.department,
        tuple(str(note) for note in problem.follow_ups),
    ) == ("reported_back", "Housing office", ("surveyor booked",))


def test_report_back_before_resolution_appends_nothing(app: Warmcase) -> None:
    """Nothing is reported back before the problem is resolved."""
    ready(app)
    deliver(app, problems=[_problem()])
    before = position(app)
    with pytest.raises(visit.ProblemNotResolved, match="P1 of visit V-0001 is open"):
        app.report_problem_back(VISIT, problem_id="P1", note="x", actor="zhang.min")
    assert before == position(app)


def test_due_date_before_the_visit_appends_nothing(app: Warmcase) -> None:
    """A problem cannot fall due before the day it was raised."""
    ready(app)
    deliver(app, problems=[_problem()])
    before = position(app)
    with pytest.raises(visit.DueBeforeVisit, match="due on 2027-01-24, before the visit on"):
        app.assign_problem(
            VISIT,
            problem_id="P1",
            department="Housing office",
            assignee="Wang Fang",
            due_on=date(2027, 1, 24),
            actor="zhang.min",
        )
    assert before == position(app)


def test_return_visit_and_audit_callbacks(app: Warmcase, clock: ManualClock) -> None:
    """Return visits and inspectors' callbacks accumulate on a completed visit."""
    ready(app)
    deliver(app)
    clock.set(at(10, month=2))
    app.record_return_visit(VISIT, note="doing well", actor="zhang.min")
    app.verify_visit(VISIT, method="phone", result="confirmed", actor="inspector.he")
    app.verify_visit(
        VISIT,
        method="door",
        result="discrepancy",
        note="the household says it received 500 yuan",
        actor="inspector.he",
    )
    state = the_visit(app)
    assert ([at(10, month=2)], ["confirmed", "discrepancy"]) == (
        [r.at for r in state.return_visits],
        [c.result for c in state.audit_callbacks],
    )


def test_audit_callback_of_a_planned_visit_appends_nothing(app: Warmcase) -> None:
    """Only a completed visit is verified."""
    ready(app)
    before = position(app)
    with pytest.raises(visit.VisitNotCompleted, match="V-0001 is planned"):
        app.verify_visit(VISIT, method="phone", result="confirmed", actor="inspector.he")
    assert before == position(app)


def test_cancel_visit(app: Warmcase) -> None:
    """A cancelled visit keeps its reason and cannot be completed."""
    ready(app)
    assert app.cancel_visit(VISIT, reason="household in hospital", actor="office") == VISIT
    assert (
        the_visit(app).status,
        the_visit(app).cancel_reason,
    ) == ("cancelled", "household in hospital")
    before = position(app)
    with pytest.raises(visit.VisitNotPlanned, match="V-0001 is cancelled"):
        deliver(app)
    assert before == position(app)


def test_erasing_the_household_erases_what_the_visit_learned(app: Warmcase) -> None:
    """Notes, needs, problems and the signer's phone are under the household's key."""
    ready(app)
    deliver(app, health="diabetic", needs=["winter coat"], problems=[_problem()])
    app.erase_household(HOUSEHOLD, reason="request under the personal data law", actor="dpo")
    state = the_visit(app)
    assert state.delivery is not None
    assert state.notes.health is not None
    assert [
        state.notes.health.erased,
        state.needs[0].erased,
        state.problems["P1"].description.erased,
        state.delivery.signer_phone.erased,
    ] == [True, True, True, True]
    # What was handed over is not personal: the books still add up.
    assert (state.status, state.delivery.cash_fen) == ("completed", 90000)


# ---------------------------------------------------------------- the duplicate-aid rule


@settings(max_examples=25)
@given(
    attempts=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.sampled_from([0, 45000, 55000, 70000, 90000, 110000]),
            st.sampled_from(["1", "2", "3"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_household_never_paid_above_its_highest_tier(
    attempts: list[tuple[int, int, str]],
) -> None:
    """Over random delivery attempts on three visits to one household (minimum allowance
    and marginal, 2 persons: highest tier 900 yuan), no override: the ledger never exceeds
    900 yuan, and every accepted payment matches a completed visit."""
    app = warmcase.open("memory:", clock=ManualClock())
    try:
        open_campaign(app)
        enrolled_household(app, HOUSEHOLD, members=1, categories=("minimum_allowance", "marginal"))
        stock(app)
        for number in range(3):
            plan(app, f"V-{number:04d}")
        for number, cash_fen, signer in attempts:
            with contextlib.suppress(CommandRefused):
                deliver(
                    app,
                    f"V-{number:04d}",
                    goods=[("L-QUILT", 1)],
                    cash_fen=cash_fen,
                    cash_lot="L-CASH" if cash_fen else None,
                    signed_by=signer,
                )
            assert the_household(app).paid_fen(CAMPAIGN) <= 90000
        event(f"paid {the_household(app).paid_fen(CAMPAIGN)} fen")
        visits = [the_visit(app, f"V-{number:04d}") for number in range(3)]
        paid_by_visits = sum(v.delivery.cash_fen for v in visits if v.delivery is not None)
        completed = sum(v.delivery is not None for v in visits)
        assert (paid_by_visits, 12 - completed) == (
            the_household(app).paid_fen(CAMPAIGN),
            the_lot(app, "L-QUILT").available,
        )
        assert 1_000_000 - paid_by_visits == the_lot(app, "L-CASH").available
    finally:
        app.close()
