"""Visit: a team's home visit to a household (走访慰问).

A visit is planned for a household of a running campaign, by a team and its
named leader, on a day within the campaign period. At the door the team hands
over goods (drawn from donation lots) and consolation money, signed for by the
household head or a registered member with a contact phone: one payment, one
signature, no splitting and no proxy signature. The team records what it learns
(health, income, children's schooling, needs) and the problems raised: one
solved on the spot is answered there; any other is assigned to a department
and a responsible person with a due date, followed up, resolved, and the outcome
is reported back to the household. Return visits follow; afterwards inspectors
call back a sample of visited households by phone or at the door and record
whether the visit is confirmed or a discrepancy.

Delivery touches three kinds of record at once: the visit, the household's aid
ledger and every lot drawn from. :func:`deliver` decides all of them together so
that the command saves them in one atomic write, or refuses and saves nothing.

What the team learns about the household (health, income, schooling, needs,
problems and everything said about them, return-visit notes, the signer's phone)
is personal and kept under the household's key; who visited, when, what was
handed over and the inspectors' findings are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime

import attrs
from pyrsistent import pmap
from pyrsistent.typing import PMap

from warmcase.clock import local_date, zone
from warmcase.domain import campaign as campaign_
from warmcase.domain import checks
from warmcase.domain import household as household_
from warmcase.domain import lot as lot_
from warmcase.domain.stream import Kind
from warmcase.errors import (
    AlreadyExists,
    InvalidCommand,
    NotFound,
    RuleViolation,
    WrongState,
)
from warmcase.events import Event, event_type, value_type
from warmcase.personal import Personal, household_subject
from warmcase.refs import checked_ref

PLANNED = "planned"
COMPLETED = "completed"
CANCELLED = "cancelled"

CALLBACK_METHODS = ("phone", "door")
CONFIRMED = "confirmed"
DISCREPANCY = "discrepancy"
CALLBACK_RESULTS = (CONFIRMED, DISCREPANCY)

ISSUE_CHANNEL = "visit"
"""The channel lots record when they issue to a visit."""


# ---------------------------------------------------------------- values


@value_type("visit.goods_line")
@attrs.frozen(kw_only=True)
class GoodsLine:
    """So many units of one lot handed over on a visit."""

    lot_ref: str
    quantity: int


@value_type("visit.problem")
@attrs.frozen(kw_only=True)
class ProblemRecord:
    """A problem as the team recorded it at the door."""

    problem_id: str
    description: Personal
    solved_on_spot: bool = False
    answer: Personal | None = None


@attrs.frozen(kw_only=True)
class ProblemReport:
    """A problem raised by the household, as the team reports it with the visit."""

    problem_id: str
    description: str
    solved_on_spot: bool = False
    answer: str | None = None


@attrs.frozen(kw_only=True)
class Delivery:
    """What was handed over and who signed for it."""

    goods: tuple[GoodsLine, ...]
    cash_fen: int
    cash_lot: str | None
    signed_by: str
    signer_phone: Personal
    visited_on: date
    """The calendar day of the visit, in the campaign's time zone."""


@attrs.frozen(kw_only=True)
class Notes:
    """What the team learned about the household's circumstances."""

    health: Personal | None = None
    income: Personal | None = None
    schooling: Personal | None = None


@attrs.frozen(kw_only=True)
class Problem:
    """A problem and how far it has come: answered, assigned, followed up, resolved, reported."""

    problem_id: str
    description: Personal
    solved_on_spot: bool
    answer: Personal | None = None
    department: str | None = None
    assignee: str | None = None
    due_on: date | None = None
    follow_ups: tuple[Personal, ...] = ()
    outcome: Personal | None = None
    report_note: Personal | None = None

    @property
    def status(self) -> str:
        """One of solved_on_spot, open, assigned, resolved, reported_back."""
        if self.solved_on_spot:
            return "solved_on_spot"
        if self.report_note is not None:
            return "reported_back"
        if self.outcome is not None:
            return "resolved"
        if self.department is not None:
            return "assigned"
        return "open"


@attrs.frozen(kw_only=True)
class ReturnVisit:
    """A later visit to see how the household is doing."""

    at: datetime
    actor: str
    note: Personal


@attrs.frozen(kw_only=True)
class AuditCallback:
    """An inspector's check of the visit with the household."""

    at: datetime
    actor: str
    method: str
    result: str
    note: str | None


# ---------------------------------------------------------------- state


@attrs.frozen(kw_only=True)
class Visit:
    """A visit as its events leave it."""

    ref: str
    campaign: str
    household: str
    team: str
    leader: str
    planned_on: date
    status: str = PLANNED
    delivery: Delivery | None = None
    notes: Notes = Notes()
    needs: tuple[Personal, ...] = ()
    problems: PMap[str, Problem] = attrs.field(factory=pmap)
    return_visits: tuple[ReturnVisit, ...] = ()
    audit_callbacks: tuple[AuditCallback, ...] = ()
    cancel_reason: str | None = None


# ---------------------------------------------------------------- events


@event_type("visit.planned")
@attrs.frozen(kw_only=True)
class VisitPlanned(Event):
    campaign: str
    household: str
    team: str
    leader: str
    planned_on: date


@event_type("visit.completed")
@attrs.frozen(kw_only=True)
class VisitCompleted(Event):
    visited_on: date
    goods: tuple[GoodsLine, ...]
    cash_fen: int
    cash_lot: str | None
    signed_by: str
    signer_phone: Personal
    health: Personal | None = None
    income: Personal | None = None
    schooling: Personal | None = None
    needs: tuple[Personal, ...] = ()
    problems: tuple[ProblemRecord, ...] = ()


@event_type("visit.problem_assigned")
@attrs.frozen(kw_only=True)
class ProblemAssigned(Event):
    problem_id: str
    department: str
    assignee: str
    due_on: date


@event_type("visit.problem_followed_up")
@attrs.frozen(kw_only=True)
class ProblemFollowedUp(Event):
    problem_id: str
    note: Personal


@event_type("visit.problem_resolved")
@attrs.frozen(kw_only=True)
class ProblemResolved(Event):
    problem_id: str
    outcome: Personal


@event_type("visit.problem_reported_back")
@attrs.frozen(kw_only=True)
class ProblemReportedBack(Event):
    problem_id: str
    note: Personal


@event_type("visit.return_visit_recorded")
@attrs.frozen(kw_only=True)
class ReturnVisitRecorded(Event):
    note: Personal


@event_type("visit.audit_callback_recorded")
@attrs.frozen(kw_only=True)
class AuditCallbackRecorded(Event):
    method: str
    result: str
    note: str | None = None


@event_type("visit.cancelled")
@attrs.frozen(kw_only=True)
class VisitCancelled(Event):
    reason: str


# ---------------------------------------------------------------- errors


class VisitAlreadyExists(AlreadyExists):
    """A visit is already planned under that reference."""


class OutsideCampaignPeriod(RuleViolation):
    """The visit day falls outside the campaign's period."""


class VisitNotPlanned(WrongState):
    """Only a planned visit can be completed or cancelled."""


class VisitNotCompleted(WrongState):
    """Problems, return visits and callbacks follow a completed visit only."""


class NothingDelivered(InvalidCommand):
    """A completed visit hands over goods, cash or both."""


class SignatureRequired(RuleViolation):
    """Every delivery is signed for by a household member with a contact phone."""


class WrongRecord(InvalidCommand):
    """A record passed to a visit decision is not the visit's campaign, household or lot."""


class WrongLotKind(InvalidCommand):
    """Goods are drawn from goods lots and cash from cash lots."""


class UnknownProblem(NotFound):
    """The visit recorded no problem under that id."""


class ProblemNotOpen(WrongState):
    """The problem was solved on the spot or is already resolved."""


class ProblemNotAssigned(WrongState):
    """The problem has no responsible department yet."""


class ProblemNotResolved(WrongState):
    """The outcome is reported back only once the problem is resolved."""


class ProblemAlreadyReported(WrongState):
    """The outcome was already reported back to the household."""


class DueBeforeVisit(RuleViolation):
    """A problem cannot be due before the day it was raised."""


class DiscrepancyNeedsNote(InvalidCommand):
    """A discrepancy found on callback must say what differed."""


# ---------------------------------------------------------------- decisions


def plan_visit(
    existing: Visit | None,
    *,
    ref: str,
    campaign: campaign_.Campaign,
    household: household_.Household,
    team: str,
    leader: str,
    planned_on: date,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Plan a visit of `household` within the period of the running `campaign`.

    Eligibility is not checked here: it is checked at completion, when aid is
    handed over, since a household's standing can change before the team calls.
    """
    if existing is not None:
        msg = (
            f"visit {ref} already exists (household {existing.household}, "
            f"planned on {existing.planned_on}); choose another reference"
        )
        raise VisitAlreadyExists(msg)
    campaign_.require_running(campaign)
    planned_on = checks.day(planned_on, "planned_on")
    if not campaign.starts_on <= planned_on <= campaign.ends_on:
        msg = (
            f"visit {ref} is planned on {planned_on}, outside campaign {campaign.ref}'s period "
            f"{campaign.starts_on} to {campaign.ends_on}; plan it on a day within the period"
        )
        raise OutsideCampaignPeriod(msg)
    return [
        VisitPlanned(
            ref=ref,
            actor=actor,
            effective_at=at,
            campaign=campaign.ref,
            household=household.ref,
            team=checks.text(team, "team"),
            leader=checks.text(leader, "leader"),
            planned_on=planned_on,
        )
    ]


def complete_visit(
    visit: Visit,
    *,
    campaign: campaign_.Campaign,
    goods: Iterable[GoodsLine | tuple[str, int]] = (),
    cash_fen: int = 0,
    cash_lot: str | None = None,
    signed_by: str,
    signer_phone: str,
    health: str | None = None,
    income: str | None = None,
    schooling: str | None = None,
    needs: Iterable[str] = (),
    problems: Iterable[ProblemReport] = (),
    actor: str,
    at: datetime,
) -> list[Event]:
    """The visit's own part of a delivery: what was handed over, signed and learned.

    This checks the visit alone; :func:`deliver` adds the household's aid ledger
    and the lots, and is what the command calls.
    """
    _require_status(visit, PLANNED, VisitNotPlanned, "completed")
    _require_same(campaign.ref, visit.campaign, "campaign", visit)
    campaign_.require_running(campaign)
    lines = goods_lines(visit, goods)
    cash_fen = checks.quantity(cash_fen, "cash_fen", allow_zero=True)
    if cash_lot is not None:
        cash_lot = checked_ref("lot", cash_lot)
        if cash_fen == 0:
            msg = f"visit {visit.ref} names cash lot {cash_lot} but hands over no cash (cash_fen=0)"
            raise InvalidCommand(msg)
        if any(line.lot_ref == cash_lot for line in lines):
            msg = f"visit {visit.ref} names lot {cash_lot} both for goods and for cash; use one"
            raise InvalidCommand(msg)
    if not lines and cash_fen == 0:
        msg = (
            f"visit {visit.ref} hands over nothing: give goods=[(lot, quantity), ...], "
            f"cash_fen > 0, or both"
        )
        raise NothingDelivered(msg)
    signer, phone = _signature(visit, signed_by, signer_phone)
    personal = _personal_of(visit)
    return [
        VisitCompleted(
            ref=visit.ref,
            actor=actor,
            effective_at=at,
            visited_on=local_date(at, zone(campaign.timezone)),
            goods=lines,
            cash_fen=cash_fen,
            cash_lot=cash_lot,
            signed_by=signer,
            signer_phone=personal(phone),
            health=_optional_note(personal, health, "health"),
            income=_optional_note(personal, income, "income"),
            schooling=_optional_note(personal, schooling, "schooling"),
            needs=tuple(personal(checks.text(need, "need", max_length=2000)) for need in needs),
            problems=_problem_records(visit, personal, problems),
        )
    ]


@attrs.frozen(kw_only=True)
class Decided:
    """The events a delivery appends to each record it touches."""

    visit: list[Event]
    household: list[Event]
    lots: dict[str, list[Event]]


def deliver(
    visit: Visit,
    *,
    campaign: campaign_.Campaign,
    household: household_.Household,
    lots: Mapping[str, lot_.DonationLot],
    goods: Iterable[GoodsLine | tuple[str, int]] = (),
    cash_fen: int = 0,
    cash_lot: str | None = None,
    signed_by: str,
    signer_phone: str,
    health: str | None = None,
    income: str | None = None,
    schooling: str | None = None,
    needs: Iterable[str] = (),
    problems: Iterable[ProblemReport] = (),
    override_reason: str | None = None,
    actor: str,
    at: datetime,
) -> Decided:
    """Complete `visit`: the visit, the household's aid ledger and each lot, decided together.

    Cash is paid through the household's ledger (once per campaign, at the
    highest tier, signed by a registered member, no split, no proxy); each goods
    line and any cash drawn from a cash lot is issued by its lot to this visit.
    Any refusal refuses the whole delivery.
    """
    _require_same(household.ref, visit.household, "household", visit)
    visit_events = complete_visit(
        visit,
        campaign=campaign,
        goods=goods,
        cash_fen=cash_fen,
        cash_lot=cash_lot,
        signed_by=signed_by,
        signer_phone=signer_phone,
        health=health,
        income=income,
        schooling=schooling,
        needs=needs,
        problems=problems,
        actor=actor,
        at=at,
    )
    completed = visit_events[0]
    assert isinstance(completed, VisitCompleted)
    if completed.cash_fen > 0:
        household_events = household_.pay_aid(
            household,
            campaign=campaign,
            visit=visit.ref,
            amount_fen=completed.cash_fen,
            signed_by=completed.signed_by,
            signer_phone=signer_phone.strip(),
            override_reason=override_reason,
            actor=actor,
            at=at,
        )
    else:
        household_.require_eligible(household, campaign.ref)
        household_.check_signer(household, completed.signed_by)
        household_events = []
    draws = [(line.lot_ref, line.quantity, "goods") for line in completed.goods]
    if completed.cash_lot is not None:
        draws.append((completed.cash_lot, completed.cash_fen, "cash"))
    lot_events: dict[str, list[Event]] = {}
    for lot_ref, quantity, kind in draws:
        lot = lots.get(lot_ref)
        if lot is None:
            msg = f"lot {lot_ref} does not exist: visit {visit.ref} cannot draw from it"
            raise NotFound(msg)
        if lot.ref != lot_ref:
            msg = f"lot {lot.ref} was given for lot {lot_ref} of visit {visit.ref}"
            raise WrongRecord(msg)
        if lot.kind != kind:
            use = "cash_fen with cash_lot" if lot.kind == "cash" else "a goods line"
            msg = (
                f"lot {lot_ref} holds {lot.kind} ({lot.item}), but visit {visit.ref} draws "
                f"{kind} from it; hand it over as {use}"
            )
            raise WrongLotKind(msg)
        lot_events[lot_ref] = lot_.issue(
            lot, quantity=quantity, channel=ISSUE_CHANNEL, to=visit.ref, actor=actor, at=at
        )
    return Decided(visit=visit_events, household=household_events, lots=lot_events)


def assign_problem(
    visit: Visit,
    *,
    problem_id: str,
    department: str,
    assignee: str,
    due_on: date,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Give an unsolved problem to a responsible department and person, with a due date.

    Reassigning a problem that is assigned but not yet resolved is allowed.
    """
    problem = _problem(visit, problem_id)
    if problem.solved_on_spot or problem.outcome is not None:
        msg = (
            f"problem {problem_id} of visit {visit.ref} is {problem.status.replace('_', ' ')}; "
            f"only an unsolved problem is assigned"
        )
        raise ProblemNotOpen(msg)
    due_on = checks.day(due_on, "due_on")
    assert visit.delivery is not None
    if due_on < visit.delivery.visited_on:
        msg = (
            f"problem {problem_id} of visit {visit.ref} would be due on {due_on}, before the "
            f"visit on {visit.delivery.visited_on}; give a due date on or after the visit"
        )
        raise DueBeforeVisit(msg)
    return [
        ProblemAssigned(
            ref=visit.ref,
            actor=actor,
            effective_at=at,
            problem_id=problem_id,
            department=checks.text(department, "department"),
            assignee=checks.text(assignee, "assignee"),
            due_on=due_on,
        )
    ]


def follow_up_problem(
    visit: Visit, *, problem_id: str, note: str, actor: str, at: datetime
) -> list[Event]:
    """Record progress on an assigned problem that is not yet resolved."""
    problem = _assigned_unresolved(visit, problem_id, "followed up")
    return [
        ProblemFollowedUp(
            ref=visit.ref,
            actor=actor,
            effective_at=at,
            problem_id=problem.problem_id,
            note=_personal_of(visit)(checks.text(note, "note", max_length=2000)),
        )
    ]


def resolve_problem(
    visit: Visit, *, problem_id: str, outcome: str, actor: str, at: datetime
) -> list[Event]:
    """Resolve an assigned problem; the outcome is what will be reported back."""
    problem = _assigned_unresolved(visit, problem_id, "resolved")
    if not isinstance(outcome, str) or not outcome.strip():
        msg = (
            f"problem {problem_id} of visit {visit.ref} needs an outcome to be resolved: "
            f"it is what the household is told; give outcome='...'"
        )
        raise InvalidCommand(msg)
    return [
        ProblemResolved(
            ref=visit.ref,
            actor=actor,
            effective_at=at,
            problem_id=problem.problem_id,
            outcome=_personal_of(visit)(checks.text(outcome, "outcome", max_length=2000)),
        )
    ]


def report_problem_back(
    visit: Visit, *, problem_id: str, note: str, actor: str, at: datetime
) -> list[Event]:
    """Record that the outcome of a resolved problem was reported back to the household."""
    problem = _problem(visit, problem_id)
    if problem.report_note is not None:
        msg = f"problem {problem_id} of visit {visit.ref} was already reported back"
        raise ProblemAlreadyReported(msg)
    if problem.outcome is None:
        msg = (
            f"problem {problem_id} of visit {visit.ref} is {problem.status.replace('_', ' ')}; "
            f"its outcome is reported back once it is resolved"
        )
        raise ProblemNotResolved(msg)
    return [
        ProblemReportedBack(
            ref=visit.ref,
            actor=actor,
            effective_at=at,
            problem_id=problem_id,
            note=_personal_of(visit)(checks.text(note, "note", max_length=2000)),
        )
    ]


def record_return_visit(visit: Visit, *, note: str, actor: str, at: datetime) -> list[Event]:
    """Record a return visit (回访) to a household visited before."""
    _require_status(visit, COMPLETED, VisitNotCompleted, "visited again")
    return [
        ReturnVisitRecorded(
            ref=visit.ref,
            actor=actor,
            effective_at=at,
            note=_personal_of(visit)(checks.text(note, "note", max_length=2000)),
        )
    ]


def verify_visit(
    visit: Visit,
    *,
    method: str,
    result: str,
    note: str | None = None,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Record an inspector's callback: by phone or at the door, confirmed or a discrepancy."""
    _require_status(visit, COMPLETED, VisitNotCompleted, "verified")
    method = checks.one_of(method, "method", CALLBACK_METHODS)
    result = checks.one_of(result, "result", CALLBACK_RESULTS)
    # A blank note is no note: a discrepancy must say something.
    blank = isinstance(note, str) and not note.strip()
    checked_note = None if blank else checks.optional_text(note, "note")
    if result == DISCREPANCY and checked_note is None:
        msg = (
            f"visit {visit.ref} verified by {method} with a discrepancy needs a note saying "
            f"what differed (e.g. 'household says it received 500 yuan, not 700'); give note='...'"
        )
        raise DiscrepancyNeedsNote(msg)
    return [
        AuditCallbackRecorded(
            ref=visit.ref,
            actor=actor,
            effective_at=at,
            method=method,
            result=result,
            note=checked_note,
        )
    ]


def cancel_visit(visit: Visit, *, reason: str, actor: str, at: datetime) -> list[Event]:
    """Cancel a planned visit, with the reason why."""
    _require_status(visit, PLANNED, VisitNotPlanned, "cancelled")
    return [
        VisitCancelled(
            ref=visit.ref,
            actor=actor,
            effective_at=at,
            reason=checks.reason(reason, why=f"visit {visit.ref} to {visit.household} was planned"),
        )
    ]


def _require_status(visit: Visit, status: str, error: type[WrongState], verb: str) -> None:
    if visit.status != status:
        msg = f"visit {visit.ref} is {visit.status}; only a {status} visit can be {verb}"
        raise error(msg)


def _require_same(given: str, expected: str, what: str, visit: Visit) -> None:
    if given != expected:
        msg = f"visit {visit.ref} belongs to {what} {expected}, but {what} {given} was given"
        raise WrongRecord(msg)


def goods_lines(
    visit: Visit, goods: Iterable[GoodsLine | tuple[str, int]]
) -> tuple[GoodsLine, ...]:
    """The goods lines of a delivery, checked: known lot references, positive quantities,
    one line per lot. Command code uses it to learn which lots to load."""
    lines: list[GoodsLine] = []
    for entry in goods:
        try:
            lot, quantity = (
                (entry.lot_ref, entry.quantity) if isinstance(entry, GoodsLine) else entry
            )
        except (TypeError, ValueError):
            msg = f"goods of visit {visit.ref} are (lot_ref, quantity) pairs, got {entry!r}"
            raise InvalidCommand(msg) from None
        lot = checked_ref("lot", lot)
        quantity = checks.quantity(quantity, f"quantity of lot {lot} on visit {visit.ref}")
        if any(line.lot_ref == lot for line in lines):
            msg = (
                f"lot {lot} appears twice in the goods of visit {visit.ref}; "
                f"give one line per lot with the total"
            )
            raise InvalidCommand(msg)
        lines.append(GoodsLine(lot_ref=lot, quantity=quantity))
    return tuple(lines)


def _signature(visit: Visit, signed_by: object, signer_phone: object) -> tuple[str, str]:
    missing = [
        name
        for name, value in (("signed_by", signed_by), ("signer_phone", signer_phone))
        if not isinstance(value, str) or not value.strip()
    ]
    if missing:
        msg = (
            f"visit {visit.ref} lacks {' and '.join(missing)}: every delivery is signed for by "
            f"the household head or a registered member, with a contact phone"
        )
        raise SignatureRequired(msg)
    assert isinstance(signed_by, str)
    assert isinstance(signer_phone, str)
    phone = checks.phone(signer_phone, f"signer phone of visit {visit.ref}")
    return checks.text(signed_by, "signed_by", max_length=64), phone


def _personal_of(visit: Visit) -> Callable[[str], Personal]:
    # What is learned at the door belongs to the household and is erased with it.
    subject = household_subject(visit.household)

    def personal(value: str) -> Personal:
        return Personal(subject, value)

    return personal


def _optional_note(
    personal: Callable[[str], Personal], value: str | None, field: str
) -> Personal | None:
    checked = checks.optional_text(value, field)
    return None if checked is None else personal(checked)


def _problem_records(
    visit: Visit, personal: Callable[[str], Personal], problems: Iterable[ProblemReport]
) -> tuple[ProblemRecord, ...]:
    records: list[ProblemRecord] = []
    for report in problems:
        if not isinstance(report, ProblemReport):
            msg = f"problems of visit {visit.ref} are ProblemReport values, got {report!r}"
            raise InvalidCommand(msg)
        problem_id = checks.text(report.problem_id, "problem_id", max_length=64)
        if any(record.problem_id == problem_id for record in records):
            msg = f"problem id {problem_id} is used twice on visit {visit.ref}; give each its own"
            raise InvalidCommand(msg)
        answer = checks.optional_text(report.answer, f"answer to problem {problem_id}")
        if report.solved_on_spot and answer is None:
            msg = (
                f"problem {problem_id} of visit {visit.ref} is marked solved on the spot but "
                f"has no answer; say how it was solved with answer='...'"
            )
            raise InvalidCommand(msg)
        records.append(
            ProblemRecord(
                problem_id=problem_id,
                description=personal(
                    checks.text(
                        report.description, f"description of problem {problem_id}", max_length=2000
                    )
                ),
                solved_on_spot=bool(report.solved_on_spot),
                answer=None if answer is None else personal(answer),
            )
        )
    return tuple(records)


def _problem(visit: Visit, problem_id: str) -> Problem:
    _require_status(visit, COMPLETED, VisitNotCompleted, "followed up on")
    problem = visit.problems.get(problem_id)
    if problem is None:
        known = ", ".join(sorted(visit.problems)) or "none"
        msg = f"visit {visit.ref} recorded no problem {problem_id!r} (its problems: {known})"
        raise UnknownProblem(msg)
    return problem


def _assigned_unresolved(visit: Visit, problem_id: str, verb: str) -> Problem:
    problem = _problem(visit, problem_id)
    if problem.solved_on_spot or problem.outcome is not None:
        msg = (
            f"problem {problem_id} of visit {visit.ref} is {problem.status.replace('_', ' ')}; "
            f"only an assigned, unresolved problem is {verb}"
        )
        raise ProblemNotOpen(msg)
    if problem.department is None:
        msg = (
            f"problem {problem_id} of visit {visit.ref} has no responsible department yet; "
            f"assign it before it is {verb}"
        )
        raise ProblemNotAssigned(msg)
    return problem


# ---------------------------------------------------------------- evolution


def evolve(state: Visit | None, event: Event) -> Visit:  # noqa: PLR0911 - one case per event
    """The visit after `event`. Never refuses: old history always replays."""
    if isinstance(event, VisitPlanned):
        return Visit(
            ref=event.ref,
            campaign=event.campaign,
            household=event.household,
            team=event.team,
            leader=event.leader,
            planned_on=event.planned_on,
        )
    assert state is not None, f"{event.type_name} cannot start a visit"
    match event:
        case VisitCompleted():
            return attrs.evolve(
                state,
                status=COMPLETED,
                delivery=Delivery(
                    goods=event.goods,
                    cash_fen=event.cash_fen,
                    cash_lot=event.cash_lot,
                    signed_by=event.signed_by,
                    signer_phone=event.signer_phone,
                    visited_on=event.visited_on,
                ),
                notes=Notes(health=event.health, income=event.income, schooling=event.schooling),
                needs=event.needs,
                problems=pmap(
                    {
                        record.problem_id: Problem(
                            problem_id=record.problem_id,
                            description=record.description,
                            solved_on_spot=record.solved_on_spot,
                            answer=record.answer,
                        )
                        for record in event.problems
                    }
                ),
            )
        case ProblemAssigned():
            return _with_problem(
                state,
                event.problem_id,
                lambda problem: attrs.evolve(
                    problem,
                    department=event.department,
                    assignee=event.assignee,
                    due_on=event.due_on,
                ),
            )
        case ProblemFollowedUp():
            return _with_problem(
                state,
                event.problem_id,
                lambda problem: attrs.evolve(problem, follow_ups=(*problem.follow_ups, event.note)),
            )
        case ProblemResolved():
            return _with_problem(
                state,
                event.problem_id,
                lambda problem: attrs.evolve(problem, outcome=event.outcome),
            )
        case ProblemReportedBack():
            return _with_problem(
                state,
                event.problem_id,
                lambda problem: attrs.evolve(problem, report_note=event.note),
            )
        case ReturnVisitRecorded():
            visit = ReturnVisit(at=event.effective_at, actor=event.actor, note=event.note)
            return attrs.evolve(state, return_visits=(*state.return_visits, visit))
        case AuditCallbackRecorded():
            callback = AuditCallback(
                at=event.effective_at,
                actor=event.actor,
                method=event.method,
                result=event.result,
                note=event.note,
            )
            return attrs.evolve(state, audit_callbacks=(*state.audit_callbacks, callback))
        case VisitCancelled():
            return attrs.evolve(state, status=CANCELLED, cancel_reason=event.reason)
    return state


def _with_problem(state: Visit, problem_id: str, change: Callable[[Problem], Problem]) -> Visit:
    problem = state.problems.get(problem_id)
    if problem is None:
        return state
    return attrs.evolve(state, problems=state.problems.set(problem_id, change(problem)))


KIND: Kind[Visit] = Kind("visit", evolve)
