"""A short season that runs every command of the application, some of them refused.

Played on each store with the same manual clock, it must give the same outcomes, the
same history and the same answers: that is what "PostgreSQL behaves as SQLite" means.
The worker tests also follow it, since it has events for every standard projection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from tests.clocks import ManualClock, at
from tests.scenario import CAMPAIGN, enrol, enrolled_household, open_campaign, register
from tests.strategies.campaign import spring_festival_standards
from warmcase.app import Warmcase
from warmcase.domain.campaign import AidStandard
from warmcase.domain.household import NewMember
from warmcase.domain.visit import ProblemReport
from warmcase.errors import CommandRefused

PHONE = "13800138000"
ID_NUMBERS = ("350102195001011234", "350102196001011234", "350102197001011234")
"""The ID numbers the season registers (their digests are keyed by each store's secret)."""

Step = tuple[str, Callable[[], object]]


def lot(app: Warmcase, ref: str, item: str, quantity: int, *, kind: str = "goods") -> str:
    """`quantity` of `item` received on 17 January and, for goods, accepted in full."""
    app.receive_lot(
        ref,
        donor="Xinhua Textiles Co.",
        item=item,
        unit="yuan" if kind == "cash" else "piece",
        quantity=quantity,
        kind=kind,
        warehouse="Gulou store",
        actor="keeper",
        effective_at=at(17, 9),
    )
    if kind == "goods":
        app.inspect_lot(ref, accepted=quantity, actor="inspector", effective_at=at(17, 10))
    return ref


def plan(app: Warmcase, visit: str, household: str) -> str:
    """Plan `visit` to `household` for 25 January."""
    return app.plan_visit(
        visit,
        campaign=CAMPAIGN,
        household=household,
        team="Visit group 3",
        leader="Zhang Min",
        planned_on=date(2027, 1, 25),
        actor="office",
        effective_at=at(20),
    )


def deliver(app: Warmcase, visit: str, **changes: object) -> str:
    """One quilt and 550 yuan handed to the head of household, signed."""
    arguments: dict[str, object] = {
        "goods": [("L-QUILT", 1)],
        "cash_fen": 55_000,
        "cash_lot": "L-CASH",
        "signed_by": "1",
        "signer_phone": PHONE,
        "actor": "zhang.min",
    }
    arguments.update(changes)
    return app.complete_visit(visit, **arguments)  # type: ignore[arg-type]


def steps(app: Warmcase, clock: ManualClock) -> list[Step]:
    """The season as named steps, in order; a few are meant to be refused."""

    def tick(minutes: int = 5) -> None:
        clock.advance(timedelta(minutes=minutes))

    def patrol_night() -> object:
        app.schedule_patrol(
            "P-1",
            campaign=CAMPAIGN,
            area="Gulou",
            team="Gulou night team 2",
            leader="Zhang Wei",
            scheduled_for=at(24, 20),
            night=True,
            actor="duty.office",
            effective_at=at(20),
        )
        app.start_patrol("P-1", actor="zhang.wei", effective_at=at(24, 20, 10))
        app.check_place(
            "P-1",
            kind="underpass",
            name="Dongjie underpass",
            actor="zhang.wei",
            effective_at=at(24, 20, 40),
        )
        app.log_encounter(
            "P-1",
            encounter_id="E-1",
            outcome="refused_given_supplies",
            condition="cold, sober, coughing",
            description="man, about 50, grey coat",
            supplies=[("L-COAT", 1)],
            actor="zhang.wei",
            effective_at=at(24, 21, 5),
        )
        return app.end_patrol(
            "P-1", summary="1 met, given a coat", actor="zhang.wei", effective_at=at(24, 23)
        )

    def hotline() -> object:
        app.log_hotline_call(
            "HC-1",
            campaign=CAMPAIGN,
            area="Gulou",
            place="Dongjie underpass, north stairs",
            far=False,
            description="old man lying on cardboard",
            caller_phone="139 0591 0000",
            actor="hotline.operator",
        )
        tick(3)
        app.dispatch_call("HC-1", team="duty team 1", actor="hotline.operator")
        tick(22)
        app.arrive_on_call("HC-1", actor="duty team 1")
        return app.close_call("HC-1", outcome="accepted_shelter", actor="duty team 1")

    raised = ProblemReport(problem_id="P1", description="roof leaks over the bed")
    return [
        ("open_campaign", lambda: open_campaign(app)),
        ("open_campaign twice", lambda: open_campaign(app)),
        (
            "amend_standards",
            lambda: app.amend_standards(
                CAMPAIGN,
                standards=[
                    *spring_festival_standards(),
                    AidStandard(category="poor_student", tiers=((1, 50_000),)),
                ],
                reason="students added by the district",
                actor="office",
                effective_at=at(16, month=11, year=2026),
            ),
        ),
        (
            "warn_cold_wave",
            lambda: app.warn_cold_wave(
                CAMPAIGN, area="Gulou", starts_at=at(20), ends_at=at(26), actor="duty"
            ),
        ),
        (
            "stock",
            lambda: (lot(app, "L-QUILT", "quilt", 12), lot(app, "L-COAT", "coat", 5)),
        ),
        ("cash", lambda: lot(app, "L-CASH", "consolation money", 1_000_000, kind="cash")),
        (
            "pledge_lot",
            lambda: app.pledge_lot(
                "L-RICE",
                donor="Minjiang Grain",
                item="rice",
                unit="bag",
                quantity=40,
                actor="office",
                effective_at=at(10),
            ),
        ),
        (
            "receive pledged",
            lambda: app.receive_lot(
                "L-RICE",
                donor="Minjiang Grain",
                item="rice",
                unit="bag",
                quantity=30,
                warehouse="Gulou store",
                actor="keeper",
                effective_at=at(18, 9),
            ),
        ),
        (
            "inspect with rejections",
            lambda: app.inspect_lot(
                "L-RICE",
                accepted=26,
                rejected=4,
                rejections=[(4, "torn bags")],
                actor="inspector",
                effective_at=at(18, 10),
            ),
        ),
        (
            "transfer_lot",
            lambda: app.transfer_lot("L-RICE", to_warehouse="Taijiang store", actor="k"),
        ),
        (
            "reserve_lot",
            lambda: app.reserve_lot(
                "L-RICE", reservation_id="R-1", quantity=5, for_ref="V-2", actor="k"
            ),
        ),
        (
            "reserve too many",
            lambda: app.reserve_lot(
                "L-RICE", reservation_id="R-2", quantity=99, for_ref="V-2", actor="k"
            ),
        ),
        ("release_lot", lambda: app.release_lot("L-RICE", reservation_id="R-1", actor="k")),
        (
            "issue_lot",
            lambda: app.issue_lot(
                "L-RICE", quantity=3, channel="distribution", to="Wenquan", actor="k"
            ),
        ),
        (
            "count_stock",
            lambda: app.count_stock("L-RICE", counted=22, reason="one bag missing", actor="k"),
        ),
        ("write_off", lambda: app.write_off("L-RICE", quantity=2, reason="mould", actor="k")),
        (
            "return_to_donor",
            lambda: app.return_to_donor("L-RICE", quantity=10, reason="not needed", actor="k"),
        ),
        ("H-1 enrolled", lambda: enrolled_household(app, "H-1", members=1)),
        (
            "H-2 enrolled",
            lambda: enrolled_household(app, "H-2", head_name="李四", head_id_number=ID_NUMBERS[1]),
        ),
        (
            "H-3 registered",
            lambda: register(app, "H-3", head_name="王五", head_id_number=ID_NUMBERS[2]),
        ),
        (
            "register_household twice",
            lambda: register(app, "H-3", head_name="王五", head_id_number=None),
        ),
        ("H-3 enrolled", lambda: enrol(app, "H-3")),
        (
            "update_household",
            lambda: app.update_household(
                "H-1",
                reason="a grandchild moved in",
                phone="13900139000",
                add_members=[NewMember(name="孙子", relation="grandchild")],
                actor="community",
                effective_at=at(10),
            ),
        ),
        (
            "raise_objection",
            lambda: app.raise_objection(
                "H-2", objection_id="O-1", grounds="家里有车", raised_by="neighbour", actor="c"
            ),
        ),
        ("deliver under objection", lambda: (plan(app, "V-2", "H-2"), deliver(app, "V-2"))),
        (
            "resolve_objection",
            lambda: app.resolve_objection(
                "H-2", objection_id="O-1", upheld=False, reason="the car is a relative's", actor="c"
            ),
        ),
        ("deliver after objection", lambda: deliver(app, "V-2")),
        ("plan V-1", lambda: plan(app, "V-1", "H-1")),
        (
            "complete_visit with a problem",
            lambda: deliver(app, "V-1", cash_fen=110_000, problems=[raised]),
        ),
        ("pay twice", lambda: (plan(app, "V-9", "H-1"), deliver(app, "V-9", cash_fen=110_000))),
        (
            "override",
            lambda: deliver(app, "V-9", goods=[], cash_fen=20_000, override_reason="fire at home"),
        ),
        (
            "assign_problem",
            lambda: app.assign_problem(
                "V-1",
                problem_id="P1",
                department="Housing office",
                assignee="Wang Fang",
                due_on=date(2027, 2, 5),
                actor="zhang.min",
            ),
        ),
        (
            "follow_up_problem",
            lambda: app.follow_up_problem(
                "V-1", problem_id="P1", note="surveyor booked", actor="w"
            ),
        ),
        (
            "report back too early",
            lambda: app.report_problem_back("V-1", problem_id="P1", note="x", actor="zhang.min"),
        ),
        (
            "resolve_problem",
            lambda: app.resolve_problem("V-1", problem_id="P1", outcome="roof repaired", actor="w"),
        ),
        (
            "report_problem_back",
            lambda: app.report_problem_back("V-1", problem_id="P1", note="told him", actor="z"),
        ),
        (
            "record_return_visit",
            lambda: app.record_return_visit("V-1", note="doing well", actor="z"),
        ),
        (
            "verify_visit",
            lambda: app.verify_visit("V-1", method="phone", result="confirmed", actor="inspector"),
        ),
        (
            "cancel_visit",
            lambda: (plan(app, "V-3", "H-3"), app.cancel_visit("V-3", reason="dup", actor="o")),
        ),
        (
            "short stock",
            lambda: (plan(app, "V-4", "H-3"), deliver(app, "V-4", goods=[("L-QUILT", 99)])),
        ),
        (
            "disqualify_household",
            lambda: app.disqualify_household(
                "H-3", campaign=CAMPAIGN, reason="income not declared", actor="office"
            ),
        ),
        ("deliver to the disqualified", lambda: deliver(app, "V-4")),
        (
            "merge_households",
            lambda: (
                register(app, "H-4", head_name="李四", head_id_number=ID_NUMBERS[1]),
                app.merge_households("H-4", into="H-2", reason="registered twice", actor="office"),
            ),
        ),
        ("patrol night", patrol_night),
        (
            "cancel_patrol",
            lambda: (
                app.schedule_patrol(
                    "P-2",
                    campaign=CAMPAIGN,
                    area="Gulou",
                    team="Gulou night team 2",
                    leader="Zhang Wei",
                    scheduled_for=at(27, 20),
                    night=True,
                    actor="duty.office",
                ),
                app.cancel_patrol("P-2", reason="storm warning", actor="duty.office"),
            ),
        ),
        ("hotline", hotline),
        (
            "close_household",
            lambda: app.close_household("H-3", cause="moved", reason="moved to Xiamen", actor="c"),
        ),
        ("erase_household", lambda: app.erase_household("H-3", reason="request", actor="office")),
        (
            "close_campaign",
            lambda: app.close_campaign(CAMPAIGN, reason="season over", actor="office"),
        ),
        ("plan after closing", lambda: plan(app, "V-5", "H-1")),
    ]


def play(app: Warmcase, clock: ManualClock) -> list[tuple[str, str]]:
    """Run the season on `app`: each step's name and outcome ("ok" or the refusal's type)."""
    outcomes = []
    for name, step in steps(app, clock):
        try:
            step()
        except CommandRefused as error:
            outcomes.append((name, type(error).__name__))
        else:
            outcomes.append((name, "ok"))
        clock.advance(timedelta(minutes=7))
    return outcomes
