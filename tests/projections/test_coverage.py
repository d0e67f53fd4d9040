"""Coverage: households reached and missed, deliveries, problems, patrols and hotline calls."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.clocks import SHANGHAI, at
from tests.strategies.coverage_history import (
    CAMPAIGNS,
    PHONE,
    RULES,
    SPRING,
    STANDARDS,
    coverage_histories,
)
from tests.strategies.stock_history import ListHistory, Recorded, World, new_codec
from warmcase.domain import campaign as campaign_
from warmcase.domain import hotline, household, lot, patrol, visit
from warmcase.domain.campaign import CampaignOpened, ColdWaveWarned
from warmcase.domain.hotline import CallArrived, CallClosed, CallReceived
from warmcase.domain.household import (
    AidPaid,
    CircumstancesUpdated,
    DuplicateAbsorbed,
    HouseholdClosed,
    HouseholdDisqualified,
    HouseholdEnrolled,
    HouseholdSurveyed,
    MergedInto,
    NewMember,
)
from warmcase.domain.lot import LotIssued, LotPledged, LotReceived
from warmcase.domain.patrol import (
    EncounterLogged,
    PatrolCancelled,
    PatrolScheduled,
    PatrolStarted,
    PlaceChecked,
)
from warmcase.domain.stream import Kind
from warmcase.domain.visit import (
    ProblemAssigned,
    ProblemReport,
    ProblemReportedBack,
    ProblemResolved,
    VisitCancelled,
    VisitCompleted,
    VisitPlanned,
)
from warmcase.errors import InvalidCommand, NotFound
from warmcase.events import Event
from warmcase.projections.answering import brute_force, state_at
from warmcase.projections.basis import Basis
from warmcase.projections.coverage import (
    Coverage,
    CoverageReport,
    CoverageState,
    area_path,
    overlaps,
    report,
    within,
)

PROJECTION = Coverage()
ACTOR = "li.wei"

# ---------------------------------------------------------------- building scenarios


class Office:
    """A street office's books played through the decisions, one step at a time."""

    def __init__(self) -> None:
        self.world = World(at(1, 8))
        opened = campaign_.open_campaign(
            None,
            ref=SPRING,
            name="2027 春节送温暖",
            owner="Gulou street office",
            starts_on=date(2027, 1, 4),
            ends_on=date(2027, 2, 14),
            standards=STANDARDS,
            patrol_rules=RULES[SPRING],
            actor=ACTOR,
            at=self.world.now,
        )
        self.world.record(campaign_.KIND, SPRING, opened)
        for ref, item, unit, kind in (
            ("L-031", "quilt", "piece", "goods"),
            ("L-050", "rice", "bag", "goods"),
            ("L-900", "consolation money", "yuan", "cash"),
        ):
            self.act(
                lot.KIND,
                ref,
                lot.receive,
                ref=ref,
                donor="Fuzhou Charity",
                item=item,
                unit=unit,
                kind=kind,
                quantity=10_000_000,
                warehouse="Gulou store",
                actor="keeper",
                at=self.world.now,
            )
            if kind == "goods":
                self.record(
                    lot.KIND,
                    ref,
                    lambda s: lot.inspect(s, accepted=10_000_000, actor="i", at=self.world.now),
                )

    @property
    def recorded(self) -> Recorded:
        """Everything recorded so far."""
        return self.world.recorded

    def state(self, kind: Kind[Any], ref: str) -> Any:
        """The folded state of a record."""
        return self.world.state(kind, ref)

    def record(self, kind: Kind[Any], ref: str, decide: Callable[[Any], list[Event]]) -> None:
        """Record what `decide` returns; a refusal is the scenario's mistake and is raised."""
        self.world.record(kind, ref, decide(self.state(kind, ref)))

    def act(
        self,
        record_kind: Kind[Any],
        record: str,
        decision: Callable[..., list[Event]],
        /,
        **arguments: Any,
    ) -> None:
        """Record `decision(state, **arguments)` on `record`; it is expected to be accepted."""
        self.record(record_kind, record, lambda state: decision(state, **arguments))

    def now(self, when: datetime) -> datetime:
        """Move the clock to `when` (never back)."""
        self.world.now = max(self.world.now, when)
        return when

    def household(
        self, ref: str, area: str, *, size: int = 1, categories: tuple[str, ...] = ("marginal",)
    ) -> None:
        """Survey, verify, post (one day) and enrol a household on 2-3 January."""
        district, street, community, grid = area.split("/")
        self.now(at(2, 11))
        self.record(
            household.KIND,
            ref,
            lambda s: household.survey(
                s,
                ref=ref,
                district=district,
                street=street,
                community=community,
                grid=grid,
                address_detail="Building 3, Room 402",
                head=NewMember(name="王建国", relation="head"),
                members=[NewMember(name=f"家属{n}", relation="spouse") for n in range(size - 1)],
                phone=PHONE,
                categories=categories,
                hardship_level=2,
                actor=ACTOR,
                at=at(2),
            ),
        )
        self.record(household.KIND, ref, lambda s: household.verify(s, actor=ACTOR, at=at(2)))
        self.record(
            household.KIND,
            ref,
            lambda s: household.post(s, place="board", window_days=1, actor=ACTOR, at=at(2, 10)),
        )
        self.enroll(ref)

    def enroll(self, ref: str, when: datetime | None = None) -> None:
        """Enrol the household in the campaign (on 3 January by default)."""
        moment = self.now(when or at(3, 12))
        campaign = self.state(campaign_.KIND, SPRING)
        self.record(
            household.KIND,
            ref,
            lambda s: household.enroll(s, campaign=campaign, actor=ACTOR, at=moment),
        )

    def plan(self, ref: str, household_ref: str, day: int = 22) -> None:
        """Plan visit `ref` for a household on `day` January."""
        campaign = self.state(campaign_.KIND, SPRING)
        target = self.state(household.KIND, household_ref)
        moment = self.now(at(10))
        self.record(
            visit.KIND,
            ref,
            lambda s: visit.plan_visit(
                s,
                ref=ref,
                campaign=campaign,
                household=target,
                team="team 1",
                leader="Chen Jing",
                planned_on=date(2027, 1, day),
                actor=ACTOR,
                at=moment,
            ),
        )

    def deliver(
        self,
        ref: str,
        when: datetime,
        *,
        goods: tuple[tuple[str, int], ...] = (),
        cash_fen: int = 0,
        cash_lot: str | None = None,
        problems: tuple[ProblemReport, ...] = (),
        recorded: datetime | None = None,
    ) -> None:
        """Make visit `ref` at `when` (recorded then, or at `recorded` if later)."""
        self.now(recorded or when)
        planned = self.state(visit.KIND, ref)
        decided = visit.deliver(
            planned,
            campaign=self.state(campaign_.KIND, SPRING),
            household=self.state(household.KIND, planned.household),
            lots={r: self.state(lot.KIND, r) for r in ("L-031", "L-050", "L-900")},
            goods=goods,
            cash_fen=cash_fen,
            cash_lot=cash_lot,
            signed_by="1",
            signer_phone=PHONE,
            problems=problems,
            actor=ACTOR,
            at=when,
        )
        self.world.record(visit.KIND, ref, decided.visit)
        self.world.record(household.KIND, planned.household, decided.household)
        for lot_ref, events in decided.lots.items():
            self.world.record(lot.KIND, lot_ref, events)

    def merge(self, duplicate: str, survivor: str, when: datetime) -> None:
        """Merge `duplicate` into `survivor`."""
        moment = self.now(when)
        for event in household.merge(
            self.state(household.KIND, duplicate),
            self.state(household.KIND, survivor),
            reason="same family registered twice",
            actor=ACTOR,
            at=moment,
        ):
            self.world.record(household.KIND, event.ref, [event])

    def basis(self, effective: datetime | None = None) -> Basis:
        """The basis of everything recorded, effective now unless given."""
        last = self.recorded[-1][1]
        return Basis(last.position, last.recorded_at, effective or self.world.now)

    def answer(self, effective: datetime | None = None, **filters: Any) -> CoverageReport:
        """The coverage report of the campaign over everything recorded."""
        return report(
            PROJECTION.fold(self.recorded), self.basis(effective), campaign=SPRING, **filters
        )

    def positions(self, event_class: type[Event], ref: str | None = None) -> list[int]:
        """Positions of the events of a class (of one record, if given)."""
        return [
            m.position
            for e, m in self.recorded
            if isinstance(e, event_class) and ref in (None, e.ref)
        ]


def spring_office() -> Office:
    """Five households in three communities: one a duplicate, one moving away; three visits.

    H-01 (3 persons, minimum allowance) is reached through its duplicate H-05, visited before
    the two were merged; H-02 (marginal, elderly) is visited with goods, cash and a problem
    that goes overdue; H-03 waits for a planned visit; H-04 moves away unvisited.
    """
    office = Office()
    office.household(
        "H-01", "Gulou/Dongjie/Wenquan/G-01", size=3, categories=("minimum_allowance",)
    )
    office.household("H-02", "Gulou/Dongjie/Anle/G-02", categories=("marginal", "elderly_alone"))
    office.household("H-03", "Gulou/Nanjie/Wenquan/G-01", size=2, categories=("minimum_allowance",))
    office.household("H-04", "Taijiang/Chazhong/Yangqi/G-01", categories=("marginal",))
    office.household(
        "H-05", "Gulou/Dongjie/Wenquan/G-01", size=3, categories=("minimum_allowance",)
    )
    office.plan("V-01", "H-05", day=20)
    office.plan("V-02", "H-02", day=20)
    office.plan("V-03", "H-03", day=26)
    office.deliver(
        "V-01",
        at(20, 10),
        goods=(("L-031", 2),),
        cash_fen=110_000,
        cash_lot="L-900",
        problems=(
            ProblemReport(
                problem_id="roof",
                description="roof leaks",
                solved_on_spot=True,
                answer="patched it",
            ),
        ),
    )
    office.deliver(
        "V-02",
        at(20, 15),
        goods=(("L-031", 2), ("L-050", 1)),
        cash_fen=70_000,
        problems=(ProblemReport(problem_id="heating", description="heater broken"),),
    )
    moment = office.now(at(21))
    office.record(
        visit.KIND,
        "V-02",
        lambda s: visit.assign_problem(
            s,
            problem_id="heating",
            department="civil affairs",
            assignee="Zhou Min",
            due_on=date(2027, 1, 22),
            actor=ACTOR,
            at=moment,
        ),
    )
    office.merge("H-05", "H-01", at(21, 12))
    moment = office.now(at(23))
    office.record(
        household.KIND,
        "H-04",
        lambda s: household.close(
            s, cause="moved", reason="moved to Xiamen", actor=ACTOR, at=moment
        ),
    )
    office.now(at(25, 9))
    return office


def households(line: Any) -> tuple[int, int, int, int, int, int]:
    """The household figures of a line."""
    h = line.households
    return (
        h.enrolled,
        h.reached,
        h.persons_reached,
        h.missed,
        h.closed_unreached,
        h.disqualified_unreached,
    )


# ---------------------------------------------------------------- households


def test_households_enrolled_reached_missed_and_left_are_counted() -> None:
    """Four households count (the duplicate is one with its survivor): two reached, with 4
    persons; one missed; one closed before anyone came."""
    expected = (4, 2, 4, 1, 1, 0)
    assert expected == households(spring_office().answer().total)


def test_a_merged_duplicate_counts_once_under_the_survivor() -> None:
    """H-05 was visited, then merged into H-01: the reach and payment are H-01's."""
    result = spring_office().answer()
    grid = result.area_line("Gulou/Dongjie/Wenquan/G-01")
    expected = ((1, 1, 3, 0, 0, 0), 110_000)
    assert expected == (households(grid), grid.cash.fen)


def test_the_missed_list_names_households_and_their_planned_visits() -> None:
    """一户不漏: H-03 is enrolled and not reached; its planned visit V-03 is named."""
    office = spring_office()
    missed = office.answer().missed
    sources = (
        office.positions(HouseholdEnrolled, "H-03")
        + office.positions(HouseholdSurveyed, "H-03")
        + office.positions(VisitPlanned, "V-03")
    )
    expected = [("H-03", "Gulou/Nanjie/Wenquan/G-01", 2, ("V-03",), tuple(sorted(sources)))]
    assert expected == [(m.ref, m.area, m.size, m.planned_visits, m.sources) for m in missed]


def test_a_closed_household_leaves_the_missed_list_and_the_report_says_so() -> None:
    """H-04 moved away unvisited: it is listed as left, not missed, and a note says how many."""
    result = spring_office().answer()
    expected = ([("H-04", "closed", "moved", date(2027, 1, 23))], True)
    actual = (
        [(entry.ref, entry.why, entry.cause, entry.on) for entry in result.left],
        any("1 enrolled household(s) closed" in note for note in result.notes),
    )
    assert expected == actual


def test_a_disqualified_household_leaves_the_missed_list() -> None:
    """A false report found before the visit takes H-03 off the list of households to reach."""
    office = spring_office()
    campaign = office.state(campaign_.KIND, SPRING)
    moment = office.now(at(25, 10))
    office.record(
        household.KIND,
        "H-03",
        lambda s: household.disqualify(
            s, campaign=campaign, reason="false income report", actor=ACTOR, at=moment
        ),
    )
    result = office.answer()
    expected = ((4, 2, 4, 0, 1, 1), ["H-03", "H-04"])
    assert expected == (households(result.total), sorted(e.ref for e in result.left))


def test_area_lines_at_each_level_add_up() -> None:
    """Districts, streets, communities and grids each have a line; a level adds up."""
    result = spring_office().answer()
    expected = {
        "Gulou": (3, 2, 4, 1, 0, 0),
        "Gulou/Dongjie": (2, 2, 4, 0, 0, 0),
        "Gulou/Nanjie": (1, 0, 0, 1, 0, 0),
        "Taijiang": (1, 0, 0, 0, 1, 0),
    }
    actual = {key: households(result.area_line(key)) for key in expected}
    assert expected == actual
    districts = [line for line in result.areas if line.level == "district"]
    assert result.total.households.enrolled == sum(ln.households.enrolled for ln in districts)


def test_category_lines_count_a_household_in_each_of_its_categories() -> None:
    """H-02 is marginal and elderly: it counts in both lines."""
    result = spring_office().answer()
    expected = {
        "minimum_allowance": (2, 1, 3, 1, 0, 0),
        "marginal": (2, 1, 1, 0, 1, 0),
        "elderly_alone": (1, 1, 1, 0, 0, 0),
    }
    assert expected == {key: households(result.category_line(key)) for key in expected}


def test_an_area_filter_keeps_households_within_it() -> None:
    """Filtered on a street, the total is that street's and lines are only below it."""
    result = spring_office().answer(area="Gulou/Dongjie")
    expected = (
        (2, 2, 4, 0, 0, 0),
        "Gulou/Dongjie",
        ["Gulou/Dongjie/Anle", "Gulou/Dongjie/Wenquan"],
    )
    actual = (
        households(result.total),
        result.area,
        [line.key for line in result.areas if line.level == "community"],
    )
    assert expected == actual


def test_an_area_filter_matches_whole_names_only() -> None:
    """ "Gulo" is not a prefix of "Gulou": nothing is within it."""
    expected = (0, 0, 0, 0, 0, 0)
    assert expected == households(spring_office().answer(area=("Gulo",)).total)


def test_a_malformed_area_is_refused() -> None:
    """An area is 1 to 4 non-empty names from the district down."""
    with pytest.raises(InvalidCommand, match=r"area 'Gulou//Anle' is not a path"):
        spring_office().answer(area="Gulou//Anle")


def test_a_campaign_not_opened_at_the_basis_is_not_found() -> None:
    """Asking about a campaign the books do not know names it and the basis."""
    office = spring_office()
    state = PROJECTION.fold(office.recorded)
    with pytest.raises(NotFound, match=r"campaign XX-2027 is not in the books at position \d+"):
        report(state, office.basis(), campaign="XX-2027")


def test_a_backdated_visit_counts_only_for_answers_recorded_after_it() -> None:
    """A visit made on the 11th but recorded on the 15th: effective on the 12th, the books
    as of the 16th show the household reached; as of the 14th they did not yet."""
    office = Office()
    office.household("H-01", "Gulou/Dongjie/Wenquan/G-01")
    office.plan("V-01", "H-01", day=11)
    office.now(at(14))
    office.record(
        campaign_.KIND,
        SPRING,
        lambda s: campaign_.warn_cold_wave(
            s, area="Gulou", starts_at=at(14), ends_at=at(15), actor=ACTOR, at=at(14)
        ),
    )
    as_of_14 = office.recorded[-1][1]
    office.deliver("V-01", at(11, 10), goods=(("L-031", 1),), recorded=at(15))
    office.now(at(16))
    as_of_16 = office.recorded[-1][1]
    answers = [
        report(
            brute_force(
                PROJECTION, office.recorded, Basis(meta.position, meta.recorded_at, at(12))
            ),
            Basis(meta.position, meta.recorded_at, at(12)),
            campaign=SPRING,
        ).total.households.reached
        for meta in (as_of_14, as_of_16)
    ]
    expected = [0, 1]
    assert expected == answers


# ---------------------------------------------------------------- deliveries and problems


def test_goods_are_counted_by_item_and_cash_from_the_aid_ledger() -> None:
    """4 quilts and 1 bag of rice were handed over; 1,100 + 700 yuan paid. Money issued from
    a cash lot is not goods: it is the same money as the ledger's payment."""
    office = spring_office()
    total = office.answer().total
    expected = ([("quilt", "piece", 4), ("rice", "bag", 1)], 180_000, 2, "1800.00")
    actual = (
        [(g.item, g.unit, g.quantity) for g in total.goods],
        total.cash.fen,
        total.cash.payments,
        total.cash.to_dict()["yuan"],
    )
    assert expected == actual
    assert sorted(office.positions(AidPaid)) == list(total.cash.sources)


def test_problems_are_counted_and_overdue_ones_listed() -> None:
    """The roof was solved on the spot; the heater, due on the 22nd, is 3 days overdue."""
    result = spring_office().answer()
    problems = result.total.problems
    expected = ((2, 1, 1, 0, 1, 1), [("V-02", "heating", "H-02", 3, "civil affairs")])
    actual = (
        (
            problems.recorded,
            problems.solved,
            problems.solved_on_spot,
            problems.resolved,
            problems.open,
            problems.overdue,
        ),
        [
            (p.visit, p.problem_id, p.household, p.days_overdue, p.department)
            for p in result.overdue
        ],
    )
    assert expected == actual


def test_a_problem_is_overdue_from_the_day_after_its_due_date() -> None:
    """Due on the 22nd: on the 22nd it is still in time; on the 23rd it is 1 day overdue."""
    office = spring_office()
    on_the_day = office.answer(effective=at(22, 23)).total.problems.overdue
    next_day = [p.days_overdue for p in office.answer(effective=at(23, 0, 1)).overdue]
    expected = (0, [1])
    assert expected == (on_the_day, next_day)


def test_a_resolved_problem_is_no_longer_overdue() -> None:
    """Resolved on the 24th, after its due date, the heater counts as solved, not overdue."""
    office = spring_office()
    moment = office.now(at(25, 10))
    office.record(
        visit.KIND,
        "V-02",
        lambda s: visit.resolve_problem(
            s, problem_id="heating", outcome="new heater", actor=ACTOR, at=moment
        ),
    )
    problems = office.answer().total.problems
    expected = (2, 1, 0, 0)
    assert expected == (problems.solved, problems.resolved, problems.open, problems.overdue)


# ---------------------------------------------------------------- patrols


def patrol_office() -> Office:
    """Gulou patrolled three times in the first week, once in the second, three times in the
    third around a cold wave (19-21 January) but not on the 20th; Taijiang warned of a
    cold wave and never patrolled."""
    office = Office()
    campaign = office.state(campaign_.KIND, SPRING)
    days = [(4, "Gulou"), (6, "Gulou"), (8, "Gulou/Dongjie"), (12, "Gulou"), (19, "Gulou")]
    days += [(21, "Gulou"), (21, "Gulou/Dongjie")]
    for number, (day, area) in enumerate(days, start=1):
        ref = f"P-{number:02d}"
        moment = office.now(at(day, 19))
        office.act(
            patrol.KIND,
            ref,
            patrol.schedule_patrol,
            ref=ref,
            campaign=campaign,
            area=area,
            team="night team",
            leader="Zhang Wei",
            scheduled_for=moment,
            actor=ACTOR,
            at=moment,
        )
        office.act(patrol.KIND, ref, patrol.start_patrol, actor=ACTOR, at=moment)
    for area, starts, ends in (("Gulou", at(19, 8), at(21, 8)), ("Taijiang", at(20), at(21))):
        office.now(starts)
        office.act(
            campaign_.KIND,
            SPRING,
            campaign_.warn_cold_wave,
            area=area,
            starts_at=starts,
            ends_at=ends,
            actor=ACTOR,
            at=starts,
        )
    office.now(at(25, 9))
    return office


def weeks(result: CoverageReport, area: str) -> list[tuple[str, int, int, int, str]]:
    """(week, patrols, required, unpatrolled cold-wave days, status) of an area."""
    return [
        (w.week, w.patrols, w.required, len(w.unpatrolled_cold_wave_days), w.status)
        for w in result.patrol_weeks
        if w.area == area
    ]


def test_patrols_per_iso_week_are_held_against_the_rule() -> None:
    """Two patrols in the first week and one in the second fall short of three; in the third
    a cold-wave day without a patrol breaks the rule; the week under way is in progress."""
    expected = [
        ("2027-W01", 2, 3, 0, "short"),
        ("2027-W02", 1, 3, 0, "short"),
        ("2027-W03", 2, 3, 1, "short"),
        ("2027-W04", 0, 3, 0, "in progress"),
    ]
    assert expected == weeks(patrol_office().answer(), "Gulou")


def test_a_cold_wave_over_a_district_covers_the_streets_patrolled_in_it() -> None:
    """The Gulou warning also binds the Gulou/Dongjie patrols: 19 and 20 January unpatrolled."""
    week = next(
        w
        for w in patrol_office().answer().patrol_weeks
        if (w.area, w.week) == ("Gulou/Dongjie", "2027-W03")
    )
    expected = (
        (date(2027, 1, 19), date(2027, 1, 20), date(2027, 1, 21)),
        (date(2027, 1, 19), date(2027, 1, 20)),
    )
    assert expected == (week.cold_wave_days, week.unpatrolled_cold_wave_days)


def test_a_warned_area_nobody_patrols_is_reported_short() -> None:
    """Taijiang was warned for the 20th (in force on the 20th and at midnight on the 21st)."""
    expected = [
        ("2027-W01", 0, 3, 0, "short"),
        ("2027-W02", 0, 3, 0, "short"),
        ("2027-W03", 0, 3, 2, "short"),
        ("2027-W04", 0, 3, 0, "in progress"),
    ]
    assert expected == weeks(patrol_office().answer(), "Taijiang")


def test_a_week_meeting_the_rule_is_met() -> None:
    """A third patrol of Gulou in the first week (on the 9th) meets the minimum."""
    office = patrol_office()
    campaign = office.state(campaign_.KIND, SPRING)
    office.record(
        patrol.KIND,
        "P-99",
        lambda s: patrol.schedule_patrol(
            s,
            ref="P-99",
            campaign=campaign,
            area="Gulou",
            team="day team",
            leader="Lin Hua",
            scheduled_for=at(9, 14),
            actor=ACTOR,
            at=at(9, 14),
        ),
    )
    office.record(patrol.KIND, "P-99", lambda s: patrol.start_patrol(s, actor=ACTOR, at=at(9, 14)))
    expected = ("2027-W01", 3, 3, 0, "met")
    assert expected == weeks(office.answer(), "Gulou")[0]


def test_key_places_and_encounters_are_counted_per_area() -> None:
    """A patrol checks two places (one twice) and meets two people."""
    office = patrol_office()
    for kind, name, minute in (("station", "north square", 5), ("bridge_culvert", "bridge 3", 20)):
        office.act(
            patrol.KIND,
            "P-07",
            patrol.check_place,
            kind=kind,
            name=name,
            actor=ACTOR,
            at=at(21, 19, minute),
        )
    office.record(
        patrol.KIND,
        "P-07",
        lambda s: patrol.check_place(
            s, kind="station", name="north square", actor=ACTOR, at=at(21, 21)
        ),
    )
    for number, outcome in enumerate(("accepted_shelter", "refused_given_supplies"), start=1):
        office.act(
            patrol.KIND,
            "P-07",
            patrol.log_encounter,
            encounter_id=f"E-{number}",
            outcome=outcome,
            condition="cold",
            description="man, about 50",
            reason="had a coat already",
            actor=ACTOR,
            at=at(21, 20),
        )
    line = next(a for a in office.answer().patrol_areas if a.area == "Gulou/Dongjie")
    expected = (
        2,
        3,
        2,
        {"bridge_culvert": 1, "station": 2},
        2,
        {"accepted_shelter": 1, "refused_given_supplies": 1},
    )
    actual = (
        line.patrols,
        line.places_checked,
        line.distinct_places,
        dict(line.places_by_kind),
        line.encounters,
        dict(line.encounters_by_outcome),
    )
    assert expected == actual


# ---------------------------------------------------------------- hotline


def test_hotline_response_times_are_held_against_30_and_60_minutes() -> None:
    """28 minutes is in time; 45 minutes to a far place is in time; 31 minutes is late; a
    call nobody reached yet is awaiting."""
    office = Office()
    campaign = office.state(campaign_.KIND, SPRING)
    for hour, (ref, area, far, minutes) in enumerate(
        (
            ("C-01", "Gulou", False, 28),
            ("C-02", "Gulou", True, 45),
            ("C-03", "Gulou/Dongjie", False, 31),
            ("C-04", "Taijiang", False, None),
        ),
        start=6,
    ):
        received = office.now(at(22, hour))
        office.act(
            hotline.KIND,
            ref,
            hotline.log_hotline_call,
            ref=ref,
            campaign=campaign,
            area=area,
            place="bridge 3",
            far=far,
            description="someone asleep",
            actor=ACTOR,
            at=received,
        )
        office.act(
            hotline.KIND, ref, hotline.dispatch_call, team="rescue", actor=ACTOR, at=received
        )
        if minutes is not None:
            arrived = office.now(received + timedelta(minutes=minutes))
            office.act(
                hotline.KIND,
                ref,
                hotline.arrive_on_call,
                campaign=campaign,
                actor=ACTOR,
                at=arrived,
            )
    office.now(at(22, 10))
    result = office.answer()
    total = result.hotline_total
    expected = (
        (4, 3, 2, 1, 1, 45),
        [("C-03", "Gulou/Dongjie", 31, 30)],
        {"Gulou": (2, 2, 0), "Gulou/Dongjie": (1, 0, 1), "Taijiang": (1, 0, 0)},
    )
    actual = (
        (
            total.calls,
            total.arrived,
            total.within_target,
            total.late,
            total.awaiting,
            total.worst_minutes,
        ),
        [(c.ref, c.area, c.response_minutes, c.target_minutes) for c in result.late_calls],
        {line.area: (line.calls, line.within_target, line.late) for line in result.hotline_areas},
    )
    assert expected == actual


# ---------------------------------------------------------------- the report as values


def test_the_report_is_plain_json() -> None:
    """`to_dict` gives only JSON values: dates as ISO text, cash in fen and in yuan."""
    shown = spring_office().answer().to_dict()
    assert shown == json.loads(json.dumps(shown))
    expected = ("2027-01-25", "1800.00", "2027-01-22")
    actual = (shown["day"], shown["total"]["cash"]["yuan"], shown["overdue"][0]["due_on"])
    assert expected == actual


def test_each_line_names_the_events_behind_it() -> None:
    """Drill-down: the households of a grid come from its enrolments, surveys, the merge and
    the visits that reached it."""
    office = spring_office()
    grid = office.answer().area_line("Gulou/Dongjie/Wenquan/G-01")
    expected = sorted(
        office.positions(HouseholdEnrolled, "H-01")
        + office.positions(HouseholdEnrolled, "H-05")
        + office.positions(HouseholdSurveyed, "H-01")
        + office.positions(MergedInto)
        + office.positions(DuplicateAbsorbed)
        + office.positions(VisitPlanned, "V-01")
        + office.positions(VisitCompleted, "V-01")
    )
    assert expected == list(grid.households.sources)


def test_areas_are_paths_matched_by_whole_names() -> None:
    """A path lies within its leading parts; areas overlap when either lies within the other."""
    gulou, dongjie = area_path("Gulou"), area_path(" Gulou / Dongjie ")
    assert gulou is not None
    assert dongjie is not None
    expected = (("Gulou", "Dongjie"), True, False, True, True, None)
    actual = (
        dongjie,
        within(dongjie, gulou),
        within(gulou, dongjie),
        overlaps(gulou, dongjie),
        overlaps(dongjie, gulou),
        area_path(None),
    )
    assert expected == actual


def test_the_projection_reads_only_what_coverage_needs() -> None:
    """The store reads only the event types the rules name (no follow-up notes, no dispatches)."""
    reads = PROJECTION.reads
    expected = (True, True, False, False)
    actual = (
        "visit.problem_assigned" in reads,
        "lot.issued" in reads,
        "visit.problem_followed_up" in reads,
        "hotline.dispatched" in reads,
    )
    assert expected == actual


# ---------------------------------------------------------------- an obviously-correct model


def chosen(recorded: Recorded, basis: Basis) -> Recorded:
    """The events an answer at `basis` folds."""
    return [
        (e, m)
        for e, m in recorded
        if m.position <= basis.position and e.effective_at <= basis.effective
    ]


def path(text: str) -> tuple[str, ...]:
    """A free-text area as a path."""
    return tuple(name.strip() for name in text.split("/") if name.strip())


def model(
    recorded: Recorded, basis: Basis, campaign: str, prefix: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Coverage by plain loops over the raw events, straight from the rules of counting."""
    opened: CampaignOpened | None = None
    waves: list[tuple[ColdWaveWarned, int]] = []
    homes: dict[str, dict[str, Any]] = {}
    visits: dict[str, dict[str, Any]] = {}
    lots: dict[str, LotReceived | LotPledged] = {}
    patrols: dict[str, dict[str, Any]] = {}
    calls: dict[str, dict[str, Any]] = {}
    payments: list[tuple[AidPaid, int]] = []

    def home(ref: str) -> dict[str, Any]:
        return homes.setdefault(
            ref,
            {"area": (), "size": 0, "cats": frozenset(), "profile": [], "enrolled": {}}
            | {"disq": {}, "into": None, "merges": [], "closed": None},
        )

    def trip(ref: str) -> dict[str, Any]:
        return visits.setdefault(
            ref,
            {"campaign": None, "household": None, "planned": None, "done": None}
            | {"cancelled": False, "problems": {}, "issues": []},
        )

    def round_(ref: str) -> dict[str, Any]:
        return patrols.setdefault(
            ref,
            {"campaign": None, "area": None, "started": None, "cancelled": False}
            | {"places": [], "met": [], "positions": []},
        )

    for event, meta in chosen(recorded, basis):
        p = meta.position
        if isinstance(event, CampaignOpened) and event.ref == campaign:
            opened = event
        elif isinstance(event, ColdWaveWarned) and event.ref == campaign:
            waves.append((event, p))
        elif isinstance(event, HouseholdSurveyed):
            address = event.address
            home(event.ref).update(
                area=(address.district, address.street, address.community, address.grid),
                size=len(event.members),
                cats=event.categories,
                profile=[p],
            )
        elif isinstance(event, CircumstancesUpdated):
            h = home(event.ref)
            if event.address is not None:
                moved = event.address
                h["area"] = (moved.district, moved.street, moved.community, moved.grid)
            if event.members is not None:
                h["size"] = len(event.members)
            if event.categories is not None:
                h["cats"] = event.categories
            if (event.address, event.members, event.categories) != (None, None, None):
                h["profile"].append(p)
        elif isinstance(event, HouseholdEnrolled):
            home(event.ref)["enrolled"][event.campaign] = p
        elif isinstance(event, HouseholdDisqualified):
            home(event.ref)["disq"][event.campaign] = p
        elif isinstance(event, MergedInto):
            home(event.ref).update(into=event.into)
            home(event.ref)["merges"].append(p)
        elif isinstance(event, DuplicateAbsorbed):
            h = home(event.ref)
            h["merges"].append(p)
            for disqualification in event.disqualifications:
                h["disq"].setdefault(disqualification.campaign, p)
        elif isinstance(event, HouseholdClosed):
            home(event.ref)["closed"] = (event.cause, event.effective_at, p)
        elif isinstance(event, AidPaid) and event.campaign == campaign:
            payments.append((event, p))
        elif isinstance(event, VisitPlanned):
            trip(event.ref).update(campaign=event.campaign, household=event.household, planned=p)
        elif isinstance(event, VisitCompleted):
            problems: dict[str, dict[str, Any]] = {
                r.problem_id: {"spot": r.solved_on_spot, "due": None, "resolved": False}
                | {"back": False, "dept": None, "positions": [p]}
                for r in event.problems
            }
            trip(event.ref).update(done=p, problems=problems)
        elif isinstance(event, VisitCancelled):
            trip(event.ref)["cancelled"] = True
        elif isinstance(event, ProblemAssigned | ProblemResolved | ProblemReportedBack):
            problem = trip(event.ref)["problems"].get(event.problem_id)
            if problem is not None:
                problem["positions"].append(p)
                if isinstance(event, ProblemAssigned):
                    problem.update(due=event.due_on, dept=event.department)
                elif isinstance(event, ProblemResolved):
                    problem["resolved"] = True
                else:
                    problem["back"] = True
        elif isinstance(event, LotPledged | LotReceived):
            lots[event.ref] = event
        elif isinstance(event, LotIssued) and event.channel == "visit":
            trip(event.to)["issues"].append((event.ref, event.quantity, p))
        elif isinstance(event, PatrolScheduled):
            round_(event.ref).update(campaign=event.campaign, area=event.area)
            round_(event.ref)["positions"].append(p)
        elif isinstance(event, PatrolStarted):
            round_(event.ref).update(started=event.effective_at)
            round_(event.ref)["positions"].append(p)
        elif isinstance(event, PatrolCancelled):
            round_(event.ref)["cancelled"] = True
            round_(event.ref)["positions"].append(p)
        elif isinstance(event, PlaceChecked):
            round_(event.ref)["places"].append((event.kind, event.name))
        elif isinstance(event, EncounterLogged):
            round_(event.ref)["met"].append(event.outcome)
        elif isinstance(event, CallReceived):
            calls[event.ref] = {"campaign": event.campaign, "area": event.area}
            calls[event.ref] |= {"arrival": None, "closed": False}
        elif isinstance(event, CallArrived) and event.ref in calls:
            calls[event.ref]["arrival"] = event
        elif isinstance(event, CallClosed) and event.ref in calls:
            calls[event.ref]["closed"] = True

    assert opened is not None
    tz = SHANGHAI
    day = basis.effective.astimezone(tz).date()

    def survivor(ref: str) -> tuple[str, list[str]]:
        chain = [ref]
        while ref in homes and homes[ref]["into"] is not None and homes[ref]["into"] not in chain:
            ref = homes[ref]["into"]
            chain.append(ref)
        return ref, chain

    lines: dict[tuple[str, str], dict[str, Any]] = {}
    blank = {
        "households": {},
        "household_sources": set(),
        "goods": {},
        "cash": 0,
        "payments": 0,
        "problems": {},
    }

    def overlapping(one: tuple[str, ...], other: tuple[str, ...]) -> bool:
        shorter = min(len(one), len(other))
        return one[:shorter] == other[:shorter]

    def lines_of(ref: str) -> list[dict[str, Any]]:
        h = home(ref)
        keys = [("total", "")]
        keys += [
            ("area", "/".join(h["area"][:n])) for n in range(len(prefix) + 1, len(h["area"]) + 1)
        ]
        keys += [("category", c) for c in h["cats"]]
        return [lines.setdefault(key, {k: type(v)() for k, v in blank.items()}) for key in keys]

    lines_of("")  # the whole always has a line, empty or not
    del homes[""]

    def add(figures: dict[Any, int], name: Any, value: int = 1) -> None:
        figures[name] = figures.get(name, 0) + value

    groups: dict[str, list[str]] = {}
    for ref, h in sorted(homes.items()):
        if campaign in h["enrolled"]:
            groups.setdefault(survivor(ref)[0], []).append(ref)
    campaign_visits = {ref: v for ref, v in visits.items() if v["campaign"] == campaign}
    missed: dict[str, tuple[str, tuple[str, ...]]] = {}
    left: dict[str, str] = {}
    for root, members in groups.items():
        h = home(root)
        if h["area"][: len(prefix)] != prefix:
            continue
        mine = sorted(r for r, v in campaign_visits.items() if survivor(v["household"])[0] == root)
        made = [campaign_visits[r] for r in mine if campaign_visits[r]["done"] is not None]
        sources = {home(m)["enrolled"][campaign] for m in members} | set(h["profile"])
        for m in members:
            for name in survivor(m)[1]:
                sources |= set(home(name)["merges"])
        counted = {"enrolled": 1}
        if made:
            counted |= {"reached": 1, "persons_reached": h["size"]}
            sources |= {v["planned"] for v in made} | {v["done"] for v in made}
        elif h["closed"] is not None:
            counted["closed_unreached"] = 1
            sources.add(h["closed"][2])
            left[root] = "closed"
        elif campaign in h["disq"]:
            counted["disqualified_unreached"] = 1
            sources.add(h["disq"][campaign])
            left[root] = "disqualified"
        else:
            counted["missed"] = 1
            waiting = [r for r in mine if not campaign_visits[r]["cancelled"]]
            sources |= {campaign_visits[ref]["planned"] for ref in waiting}
            missed[root] = ("/".join(h["area"]), tuple(waiting))
        for line in lines_of(root):
            for name, value in counted.items():
                add(line["households"], name, value)
            line["household_sources"] |= sources

    overdue: dict[tuple[str, str], int] = {}
    for ref, v in sorted(campaign_visits.items()):
        root = survivor(v["household"])[0]
        if home(root)["area"][: len(prefix)] != prefix:
            continue
        for lot_ref, quantity, _ in v["issues"]:
            known = lots.get(lot_ref)
            if known is not None and known.kind == "cash":
                continue
            key = (lot_ref, "") if known is None else (known.item, known.unit)
            for line in lines_of(root):
                add(line["goods"], key, quantity)
        for problem_id, problem in v["problems"].items():
            for line in lines_of(root):
                add(line["problems"], "recorded")
                if problem["spot"]:
                    add(line["problems"], "solved_on_spot")
                elif problem["resolved"]:
                    add(line["problems"], "resolved")
                else:
                    add(line["problems"], "open")
                    if problem["due"] is not None and problem["due"] < day:
                        add(line["problems"], "overdue")
                if problem["back"]:
                    add(line["problems"], "reported_back")
            if (
                not problem["spot"]
                and not problem["resolved"]
                and problem["due"]
                and problem["due"] < day
            ):
                overdue[(ref, problem_id)] = (day - problem["due"]).days
    for paid, _ in payments:
        root = survivor(paid.ref)[0]
        if home(root)["area"][: len(prefix)] != prefix:
            continue
        for line in lines_of(root):
            line["cash"] += paid.amount_fen
            line["payments"] += 1

    # Patrols: every week from the campaign's first Monday to the basis's day.
    rules = opened.patrol_rules
    places: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in patrols.values():
        if (
            r["campaign"] == campaign
            and r["area"] is not None
            and path(r["area"])[: len(prefix)] == prefix
        ):
            places.setdefault(path(r["area"]), []).append(r)
    for wave, _ in waves:
        warned = path(wave.area)
        if warned[: len(prefix)] == prefix and not any(overlapping(warned, k) for k in places):
            places[warned] = []
    week_figures: dict[tuple[str, str], tuple[Any, ...]] = {}
    first = opened.starts_on - timedelta(days=opened.starts_on.weekday())
    last = min(opened.ends_on, day)
    for area, rounds in places.items():
        went = [
            r["started"].astimezone(tz).date()
            for r in rounds
            if r["started"] is not None and not r["cancelled"]
        ]
        monday = first
        while opened.starts_on <= last and monday <= last:
            week = [monday + timedelta(days=n) for n in range(7)]
            season = [d for d in week if opened.starts_on <= d <= opened.ends_on]
            count = sum(week[0] <= d <= week[-1] for d in went)
            cold = []
            for d in season:
                start = datetime(d.year, d.month, d.day, tzinfo=tz)
                end = datetime.combine(d + timedelta(days=1), datetime.min.time(), tzinfo=tz)
                if (
                    d <= day
                    and rules.daily_during_cold_wave
                    and any(
                        overlapping(path(w.area), area) and w.starts_at < end and w.ends_at > start
                        for w, _ in waves
                    )
                ):
                    cold.append(d)
            unpatrolled = [d for d in cold if d < day and d not in went]
            required = min(rules.min_patrols_per_week, len(season))
            if unpatrolled or (week[-1] < day and count < required):
                status = "short"
            elif count < required or (day in cold and day not in went):
                status = "in progress"
            else:
                status = "met"
            iso = monday.isocalendar()
            week_figures[("/".join(area), f"{iso.year}-W{iso.week:02d}")] = (
                count,
                required,
                tuple(cold),
                tuple(unpatrolled),
                status,
            )
            monday += timedelta(days=7)
    patrol_figures = {
        "/".join(area): (
            sum(r["started"] is not None and not r["cancelled"] for r in rounds),
            sum(r["cancelled"] for r in rounds),
            sum(len(r["places"]) for r in rounds),
            len({place for r in rounds for place in r["places"]}),
            dict(Counter(outcome for r in rounds for outcome in r["met"])),
        )
        for area, rounds in places.items()
    }
    hotline_figures: dict[str, list[int]] = {}
    late: list[str] = []
    for ref, call in sorted(calls.items()):
        if call["campaign"] != campaign or path(call["area"])[: len(prefix)] != prefix:
            continue
        counts = hotline_figures.setdefault("/".join(path(call["area"])), [0] * 6)
        arrival = call["arrival"]
        counts[0] += 1
        if arrival is not None:
            counts[1] += 1
            counts[2] += arrival.within_target
            counts[3] += not arrival.within_target
            if not arrival.within_target:
                late.append(ref)
        elif call["closed"]:
            counts[5] += 1
        else:
            counts[4] += 1
    return {
        "lines": {
            key: {
                "households": line["households"],
                "household_sources": line["household_sources"],
                "goods": line["goods"],
                "cash": (line["cash"], line["payments"]),
                "problems": line["problems"],
            }
            for key, line in lines.items()
        },
        "missed": missed,
        "left": left,
        "overdue": overdue,
        "weeks": week_figures,
        "patrol_areas": patrol_figures,
        "hotline": {area: tuple(figures) for area, figures in hotline_figures.items()},
        "late": sorted(late),
    }


def figures(result: CoverageReport) -> dict[str, Any]:
    """A report in the model's shape."""
    lines = {}
    for key, line in [
        (("total", ""), result.total),
        *((("area", ln.key), ln) for ln in result.areas),
        *((("category", ln.key), ln) for ln in result.categories),
    ]:
        h = line.households.to_dict()
        p = line.problems.to_dict()
        lines[key] = {
            "households": {k: v for k, v in h.items() if k != "sources" and v},
            "household_sources": set(line.households.sources),
            "goods": {(g.item, g.unit): g.quantity for g in line.goods},
            "cash": (line.cash.fen, line.cash.payments),
            "problems": {k: v for k, v in p.items() if k not in {"sources", "solved"} and v},
        }
    return {
        "lines": lines,
        "missed": {m.ref: (m.area, m.planned_visits) for m in result.missed},
        "left": {entry.ref: entry.why for entry in result.left},
        "overdue": {(p.visit, p.problem_id): p.days_overdue for p in result.overdue},
        "weeks": {
            (w.area, w.week): (
                w.patrols,
                w.required,
                w.cold_wave_days,
                w.unpatrolled_cold_wave_days,
                w.status,
            )
            for w in result.patrol_weeks
        },
        "patrol_areas": {
            a.area: (
                a.patrols,
                a.cancelled,
                a.places_checked,
                a.distinct_places,
                dict(a.encounters_by_outcome),
            )
            for a in result.patrol_areas
        },
        "hotline": {
            a.area: (
                a.calls,
                a.arrived,
                a.within_target,
                a.late,
                a.awaiting,
                a.closed_before_arrival,
            )
            for a in result.hotline_areas
        },
        "late": sorted(call.ref for call in result.late_calls),
    }


def model_lines_without_empty(found: dict[str, Any]) -> dict[str, Any]:
    """The model with zero figures dropped, as :func:`figures` drops them."""
    for line in found["lines"].values():
        line["households"] = {k: v for k, v in line["households"].items() if v}
        line["problems"] = {k: v for k, v in line["problems"].items() if v}
    return found


def expected_and_actual(
    recorded: Recorded, basis: Basis, campaign: str, area: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's answer and the report's, at `basis`."""
    state = brute_force(PROJECTION, recorded, basis)
    result = report(state, basis, campaign=campaign, area=area or None)
    return model_lines_without_empty(model(recorded, basis, campaign, area)), figures(result)


def basis_after(recorded: Recorded) -> Basis:
    """The basis of the whole of `recorded`, effective at its last recording."""
    last = recorded[-1][1]
    return Basis(last.position, last.recorded_at, last.recorded_at)


# ---------------------------------------------------------------- properties

areas = st.sampled_from([(), ("Gulou",), ("Gulou", "Dongjie"), ("Taijiang", "Nanjie", "Anle")])


@given(coverage_histories(), st.sampled_from(CAMPAIGNS), areas)
def test_incremental_equals_rebuild_equals_the_model_at_every_prefix(
    recorded: Recorded, campaign: str, area: tuple[str, ...]
) -> None:
    """Folding one event at a time, folding each prefix afresh and the plain model agree
    after every event, for each campaign and area."""
    state = PROJECTION.initial()
    for count, (event, meta) in enumerate(recorded, start=1):
        state = PROJECTION.apply(state, event, meta)
        prefix = recorded[:count]
        if count < len(recorded) and count % 7:
            continue
        assert PROJECTION.fold(prefix) == state
        basis = basis_after(prefix)
        if not any(isinstance(e, CampaignOpened) and e.ref == campaign for e, _ in prefix):
            continue
        expected = model_lines_without_empty(model(prefix, basis, campaign, area))
        assert expected == figures(report(state, basis, campaign=campaign, area=area or None))


@st.composite
def histories_and_bases(draw: st.DrawFn) -> tuple[Recorded, Basis]:
    """A history and a basis inside it, after both campaigns were opened."""
    recorded = draw(coverage_histories())
    position = draw(st.integers(2, len(recorded)))
    moments = [e.effective_at for e, _ in recorded[2:]] or [recorded[-1][0].effective_at]
    effective = draw(st.sampled_from(moments)) + timedelta(minutes=draw(st.integers(-90, 90)))
    effective = max(effective, recorded[1][0].effective_at)
    return recorded, Basis(position, recorded[position - 1][1].recorded_at, effective)


@given(histories_and_bases(), st.sampled_from(CAMPAIGNS), areas)
def test_an_answer_at_a_basis_ignores_later_and_later_effective_events(
    case: tuple[Recorded, Basis], campaign: str, area: tuple[str, ...]
) -> None:
    """At (P, V) the report counts exactly the events recorded by P and effective by V, and
    stays the same whatever is appended after P."""
    recorded, basis = case
    expected, actual = expected_and_actual(recorded, basis, campaign, area)
    assert expected == actual
    state = brute_force(PROJECTION, recorded[: basis.position], basis)
    assert report(brute_force(PROJECTION, recorded, basis), basis, campaign=campaign) == report(
        state, basis, campaign=campaign
    )


@given(coverage_histories(), st.data())
def test_a_checkpoint_round_trips_and_folding_resumes_from_it(
    recorded: Recorded, data: st.DataObject
) -> None:
    """The state survives the store's codec unchanged, and folding the tail onto a decoded
    checkpoint gives the state of a full rebuild."""
    codec = new_codec()
    cut = data.draw(st.integers(0, len(recorded)))
    head = PROJECTION.fold(recorded[:cut])
    restored: CoverageState = codec.decode(codec.encode(head))
    assert head == restored
    assert PROJECTION.fold(recorded) == PROJECTION.fold(recorded[cut:], restored)


@given(histories_and_bases(), st.integers(5, 30))
def test_an_answer_from_checkpoints_and_the_tail_equals_full_replay(
    case: tuple[Recorded, Basis], every: int
) -> None:
    """With checkpoints saved every few positions, the kit's answer at any basis equals the
    answer by definition."""
    recorded, basis = case
    history = ListHistory(recorded)
    state = PROJECTION.initial()
    for event, meta in recorded:
        state = PROJECTION.apply(state, event, meta)
        if meta.position % every == 0:
            history.save_checkpoint(PROJECTION.checkpoint_name, meta.position, state)
    for campaign in CAMPAIGNS:
        expected = report(brute_force(PROJECTION, recorded, basis), basis, campaign=campaign)
        assert expected == report(state_at(PROJECTION, history, basis), basis, campaign=campaign)
