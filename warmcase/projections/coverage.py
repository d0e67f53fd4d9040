"""Coverage: who a campaign reached, what they received, and whether the streets were patrolled.

Per campaign, for the whole of it and per area (district, street, community, grid
of the household's address) and per hardship category:

- households enrolled and households reached (a completed visit), persons reached
  (the household's size as registered at the basis), and the enrolled households not
  yet reached:
  the "no household missed" list (一户不漏), with their references and area;
- goods delivered on visits, by item (from the lots' issues to the campaign's
  visits), and cash paid (the households' aid ledger entries of the campaign);
- problems recorded at the door, solved (on the spot, or resolved later), still
  open, and overdue: assigned with a due date that has passed by the day of the
  basis's effective time, without a resolution;
- street patrols per ISO week (Monday first) per patrol area against the rule: at
  least ``min_patrols_per_week``, and a patrol every day while a cold-wave warning
  covers the area; key places checked; persons met by outcome;
- hotline calls per area: arrivals within the 30-minute (or, where far, 60-minute)
  target recorded on arrival, and the late ones.

Rules of counting:

- A household merged into another (a duplicate) counts once, under the record that
  survives (following merges to the last survivor): its enrolment, its visits and
  its payments are the survivor's, and the survivor's address, size and categories
  are used.
- An enrolled household that was closed (moved, deceased) or disqualified in the
  campaign before anyone reached it leaves the "missed" list: it is listed as
  ``left`` with the reason, and the report's notes say how many.
- A household holding several categories counts in each category's line, so
  category lines do not add up to the total; area lines at one level do.
- Days and weeks are the campaign's time zone's. A week's rule is prorated at the
  ends of the campaign period (never more patrols than days of the period in that
  week). A day counts for a cold wave when the warning is in force at any moment of
  it; cold-wave days after the basis's day are not yet due, and the basis's own day
  is not yet missed.

Areas are written as paths from the district down, joined by "/":
``"Gulou/Dongjie/Wenquan/G-03"``. The ``area`` filter of :func:`report` takes any
leading part of a path (``"Gulou"``, ``"Gulou/Dongjie"``...; or a tuple of
names) and matches whole names only. Patrol, cold-wave and hotline areas are free
text in their events and are read in the same form: a patrol of ``"Gulou/Dongjie"``
is within the filter ``"Gulou"``; a cold-wave warning covers a patrol area when one
of the two lies within the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import attrs
from pyrsistent import PMap, PSet, PVector, pmap, pset, pvector

from warmcase.clock import DEFAULT_TIMEZONE, local_date, start_of_day, week_start, zone
from warmcase.domain.campaign import CampaignOpened, ColdWaveWarned, PatrolRules
from warmcase.domain.categories import CATEGORIES
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
)
from warmcase.domain.lot import LotIssued, LotPledged, LotReceived
from warmcase.domain.patrol import (
    EncounterLogged,
    PatrolCancelled,
    PatrolEnded,
    PatrolScheduled,
    PatrolStarted,
    PlaceChecked,
)
from warmcase.domain.visit import (
    ISSUE_CHANNEL,
    ProblemAssigned,
    ProblemReportedBack,
    ProblemResolved,
    VisitCancelled,
    VisitCompleted,
    VisitPlanned,
)
from warmcase.errors import InvalidCommand, NotFound
from warmcase.events import value_type
from warmcase.projections.basis import Basis
from warmcase.projections.projection import Meta, Projection, on
from warmcase.projections.transient import add_to, replace

LEVELS = ("district", "street", "community", "grid")
SEPARATOR = "/"

Area = tuple[str, ...]
R = TypeVar("R")

# ---------------------------------------------------------------- state


@value_type("projection.coverage.cold_wave")
@attrs.frozen(kw_only=True)
class Wave:
    """A cold-wave warning for an area."""

    area: str
    starts_at: datetime
    ends_at: datetime
    position: int


@value_type("projection.coverage.campaign")
@attrs.frozen(kw_only=True)
class CampaignInfo:
    """What coverage needs of a campaign: its days and its patrol rules."""

    ref: str
    name: str = ""
    timezone: str = DEFAULT_TIMEZONE
    starts_on: date | None = None
    ends_on: date | None = None
    rules: PatrolRules = attrs.field(factory=PatrolRules)
    cold_waves: tuple[Wave, ...] = ()
    opened: int | None = None
    """Position of the opening (None while only warnings are known)."""


@value_type("projection.coverage.closure")
@attrs.frozen(kw_only=True)
class Closure:
    """Why and when a household left the registry."""

    cause: str
    at: datetime
    position: int


@value_type("projection.coverage.household")
@attrs.frozen(kw_only=True)
class HouseholdInfo:
    """Where a household lives, how many it counts, why it is a target, and its standing."""

    ref: str
    area: Area = ()
    size: int = 0
    categories: frozenset[str] = frozenset()
    profile: tuple[int, ...] = ()
    """Positions of the survey and of the updates that changed area, members or categories."""
    enrolled: PMap[str, int] = attrs.field(factory=pmap)
    """Campaign -> position of the enrolment."""
    disqualified: PMap[str, int] = attrs.field(factory=pmap)
    """Campaign -> position of the disqualification (its own, or taken over from a duplicate)."""
    merged_into: str | None = None
    merges: tuple[int, ...] = ()
    """Positions of the merges it took part in, as duplicate or survivor."""
    closed: Closure | None = None


@value_type("projection.coverage.payment")
@attrs.frozen(kw_only=True)
class Payment:
    """Cash paid into a household's aid ledger on a visit."""

    household: str
    visit: str
    amount_fen: int
    position: int


@value_type("projection.coverage.issue")
@attrs.frozen(kw_only=True)
class Issue:
    """Units of a lot issued to a visit."""

    lot: str
    quantity: int
    position: int


@value_type("projection.coverage.problem")
@attrs.frozen(kw_only=True)
class ProblemInfo:
    """A problem recorded at the door and how far it came."""

    problem_id: str
    solved_on_spot: bool
    department: str | None = None
    assignee: str | None = None
    due_on: date | None = None
    resolved: bool = False
    reported_back: bool = False
    sources: tuple[int, ...] = ()


@value_type("projection.coverage.completion")
@attrs.frozen(kw_only=True)
class Completion:
    """The day a visit was made, and where its completion sits in the history."""

    visited_on: date
    position: int


@value_type("projection.coverage.visit")
@attrs.frozen(kw_only=True)
class VisitInfo:
    """A visit: whose, in which campaign, whether made, and what it handed over."""

    ref: str
    campaign: str | None = None
    household: str | None = None
    planned_on: date | None = None
    planned: int | None = None
    completed: Completion | None = None
    cancelled: int | None = None
    problems: PMap[str, ProblemInfo] = attrs.field(factory=pmap)
    issues: PVector[Issue] = attrs.field(factory=pvector)


@value_type("projection.coverage.lot")
@attrs.frozen(kw_only=True)
class LotInfo:
    """What a lot holds."""

    item: str
    unit: str
    kind: str


@value_type("projection.coverage.place")
@attrs.frozen(kw_only=True)
class PlaceInfo:
    """A key place a patrol checked."""

    kind: str
    name: str
    position: int


@value_type("projection.coverage.encounter")
@attrs.frozen(kw_only=True)
class EncounterInfo:
    """A person met on patrol, by outcome only (who they are is not coverage's business)."""

    outcome: str
    position: int


@value_type("projection.coverage.patrol")
@attrs.frozen(kw_only=True)
class PatrolInfo:
    """A patrol: where, whether it went out, and what it did."""

    ref: str
    campaign: str | None = None
    area: str | None = None
    scheduled: int | None = None
    started_at: datetime | None = None
    started: int | None = None
    ended: int | None = None
    cancelled: int | None = None
    places: PVector[PlaceInfo] = attrs.field(factory=pvector)
    encounters: PVector[EncounterInfo] = attrs.field(factory=pvector)


@value_type("projection.coverage.arrival")
@attrs.frozen(kw_only=True)
class Arrival:
    """A team on the scene of a hotline call, measured against its target."""

    response_minutes: int
    target_minutes: int
    within_target: bool
    position: int


@value_type("projection.coverage.call")
@attrs.frozen(kw_only=True)
class CallInfo:
    """A hotline call: where, and how fast a team got there."""

    ref: str
    campaign: str | None = None
    area: str | None = None
    far: bool = False
    received: int | None = None
    arrival: Arrival | None = None
    closed_outcome: str | None = None
    closed: int | None = None


@value_type("projection.coverage.state")
@attrs.frozen(kw_only=True)
class CoverageState:
    """The facts coverage joins at report time, with indexes by campaign."""

    campaigns: PMap[str, CampaignInfo] = attrs.field(factory=pmap)
    households: PMap[str, HouseholdInfo] = attrs.field(factory=pmap)
    visits: PMap[str, VisitInfo] = attrs.field(factory=pmap)
    lots: PMap[str, LotInfo] = attrs.field(factory=pmap)
    patrols: PMap[str, PatrolInfo] = attrs.field(factory=pmap)
    calls: PMap[str, CallInfo] = attrs.field(factory=pmap)
    payments: PMap[str, PVector[Payment]] = attrs.field(factory=pmap)
    """Campaign -> cash paid in it."""
    enrolled: PMap[str, PSet[str]] = attrs.field(factory=pmap)
    """Campaign -> households enrolled in it (before merges are followed)."""
    campaign_visits: PMap[str, PSet[str]] = attrs.field(factory=pmap)
    campaign_patrols: PMap[str, PSet[str]] = attrs.field(factory=pmap)
    campaign_calls: PMap[str, PSet[str]] = attrs.field(factory=pmap)


def _indexed(index: PMap[str, PSet[str]], campaign: str, ref: str) -> PMap[str, PSet[str]]:
    indexed: PMap[str, PSet[str]] = add_to(index, campaign, ref)
    return indexed


# ---------------------------------------------------------------- the projection


class Coverage(Projection[CoverageState]):
    """Coverage of households, goods, cash, problems, patrols and hotline calls per campaign."""

    name = "coverage"
    version = 1
    rebuild_cost: ClassVar[float] = 1.0
    # Most events change one household, visit, patrol or call: a page does so in place.
    in_place: ClassVar[tuple[str, ...]] = (
        "campaigns",
        "households",
        "visits",
        "lots",
        "patrols",
        "calls",
        "payments",
        "enrolled",
        "campaign_visits",
        "campaign_patrols",
        "campaign_calls",
    )

    def initial(self) -> CoverageState:
        return CoverageState()

    # -- campaigns

    @on(CampaignOpened)
    def opened(self, state: CoverageState, event: CampaignOpened, meta: Meta) -> CoverageState:
        known = state.campaigns.get(event.ref) or CampaignInfo(ref=event.ref)
        info = attrs.evolve(
            known,
            name=event.name,
            timezone=event.timezone,
            starts_on=event.starts_on,
            ends_on=event.ends_on,
            rules=event.patrol_rules,
            opened=meta.position,
        )
        return replace(state, campaigns=state.campaigns.set(event.ref, info))

    @on(ColdWaveWarned)
    def warned(self, state: CoverageState, event: ColdWaveWarned, meta: Meta) -> CoverageState:
        known = state.campaigns.get(event.ref) or CampaignInfo(ref=event.ref)
        wave = Wave(
            area=event.area,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            position=meta.position,
        )
        info = attrs.evolve(known, cold_waves=(*known.cold_waves, wave))
        return replace(state, campaigns=state.campaigns.set(event.ref, info))

    # -- households

    @on(HouseholdSurveyed)
    def surveyed(self, state: CoverageState, event: HouseholdSurveyed, meta: Meta) -> CoverageState:
        address = event.address
        info = _household_with(
            state,
            event.ref,
            area=(address.district, address.street, address.community, address.grid),
            size=len(event.members),
            categories=event.categories,
            profile=(meta.position,),
        )
        return _put_household(state, info)

    @on(CircumstancesUpdated)
    def updated(
        self, state: CoverageState, event: CircumstancesUpdated, meta: Meta
    ) -> CoverageState:
        info = _household(state, event.ref)
        changes: dict[str, Any] = {}
        if event.address is not None:
            address = event.address
            changes["area"] = (address.district, address.street, address.community, address.grid)
        if event.members is not None:
            changes["size"] = len(event.members)
        if event.categories is not None:
            changes["categories"] = event.categories
        if not changes:
            return state
        info = attrs.evolve(info, profile=(*info.profile, meta.position), **changes)
        return _put_household(state, info)

    @on(HouseholdEnrolled)
    def enrolled(self, state: CoverageState, event: HouseholdEnrolled, meta: Meta) -> CoverageState:
        info = _household(state, event.ref)
        info = attrs.evolve(info, enrolled=info.enrolled.set(event.campaign, meta.position))
        state = _put_household(state, info)
        return replace(state, enrolled=_indexed(state.enrolled, event.campaign, event.ref))

    @on(HouseholdDisqualified)
    def disqualified(
        self, state: CoverageState, event: HouseholdDisqualified, meta: Meta
    ) -> CoverageState:
        info = _household(state, event.ref)
        found = info.disqualified.set(event.campaign, meta.position)
        return _put_household(state, attrs.evolve(info, disqualified=found))

    @on(MergedInto)
    def merged(self, state: CoverageState, event: MergedInto, meta: Meta) -> CoverageState:
        info = _household(state, event.ref)
        info = attrs.evolve(info, merged_into=event.into, merges=(*info.merges, meta.position))
        return _put_household(state, info)

    @on(DuplicateAbsorbed)
    def absorbed(self, state: CoverageState, event: DuplicateAbsorbed, meta: Meta) -> CoverageState:
        info = _household(state, event.ref)
        found = info.disqualified
        # A false report is not laundered by a merge: the survivor takes the duplicate's.
        for disqualification in event.disqualifications:
            if disqualification.campaign not in found:
                found = found.set(disqualification.campaign, meta.position)
        info = attrs.evolve(info, disqualified=found, merges=(*info.merges, meta.position))
        return _put_household(state, info)

    @on(HouseholdClosed)
    def closed(self, state: CoverageState, event: HouseholdClosed, meta: Meta) -> CoverageState:
        closure = Closure(cause=event.cause, at=event.effective_at, position=meta.position)
        return _put_household(state, _household_with(state, event.ref, closed=closure))

    @on(AidPaid)
    def paid(self, state: CoverageState, event: AidPaid, meta: Meta) -> CoverageState:
        payment = Payment(
            household=event.ref,
            visit=event.visit,
            amount_fen=event.amount_fen,
            position=meta.position,
        )
        paid = state.payments.get(event.campaign, pvector()).append(payment)
        return replace(state, payments=state.payments.set(event.campaign, paid))

    # -- visits

    @on(VisitPlanned)
    def planned(self, state: CoverageState, event: VisitPlanned, meta: Meta) -> CoverageState:
        info = _visit_with(
            state,
            event.ref,
            campaign=event.campaign,
            household=event.household,
            planned_on=event.planned_on,
            planned=meta.position,
        )
        state = _put_visit(state, info)
        index = _indexed(state.campaign_visits, event.campaign, event.ref)
        return replace(state, campaign_visits=index)

    @on(VisitCompleted)
    def completed(self, state: CoverageState, event: VisitCompleted, meta: Meta) -> CoverageState:
        problems = pmap(
            {
                record.problem_id: ProblemInfo(
                    problem_id=record.problem_id,
                    solved_on_spot=record.solved_on_spot,
                    sources=(meta.position,),
                )
                for record in event.problems
            }
        )
        info = _visit_with(
            state,
            event.ref,
            completed=Completion(visited_on=event.visited_on, position=meta.position),
            problems=problems,
        )
        return _put_visit(state, info)

    @on(VisitCancelled)
    def cancelled(self, state: CoverageState, event: VisitCancelled, meta: Meta) -> CoverageState:
        return _put_visit(state, _visit_with(state, event.ref, cancelled=meta.position))

    @on(ProblemAssigned)
    def assigned(self, state: CoverageState, event: ProblemAssigned, meta: Meta) -> CoverageState:
        return _with_problem(
            state,
            event.ref,
            event.problem_id,
            meta,
            department=event.department,
            assignee=event.assignee,
            due_on=event.due_on,
        )

    @on(ProblemResolved)
    def resolved(self, state: CoverageState, event: ProblemResolved, meta: Meta) -> CoverageState:
        return _with_problem(state, event.ref, event.problem_id, meta, resolved=True)

    @on(ProblemReportedBack)
    def reported_back(
        self, state: CoverageState, event: ProblemReportedBack, meta: Meta
    ) -> CoverageState:
        return _with_problem(state, event.ref, event.problem_id, meta, reported_back=True)

    # -- lots

    @on(LotPledged, LotReceived)
    def lot(
        self, state: CoverageState, event: LotPledged | LotReceived, meta: Meta
    ) -> CoverageState:
        info = LotInfo(item=event.item, unit=event.unit, kind=event.kind)
        return replace(state, lots=state.lots.set(event.ref, info))

    @on(LotIssued)
    def issued(self, state: CoverageState, event: LotIssued, meta: Meta) -> CoverageState:
        if event.channel != ISSUE_CHANNEL:
            return state
        info = _visit(state, event.to)
        issue = Issue(lot=event.ref, quantity=event.quantity, position=meta.position)
        return _put_visit(state, attrs.evolve(info, issues=info.issues.append(issue)))

    # -- patrols

    @on(PatrolScheduled)
    def scheduled(self, state: CoverageState, event: PatrolScheduled, meta: Meta) -> CoverageState:
        info = _patrol_with(
            state,
            event.ref,
            campaign=event.campaign,
            area=event.area,
            scheduled=meta.position,
        )
        state = _put_patrol(state, info)
        index = _indexed(state.campaign_patrols, event.campaign, event.ref)
        return replace(state, campaign_patrols=index)

    @on(PatrolStarted)
    def started(self, state: CoverageState, event: PatrolStarted, meta: Meta) -> CoverageState:
        info = _patrol_with(state, event.ref, started_at=event.effective_at, started=meta.position)
        return _put_patrol(state, info)

    @on(PlaceChecked)
    def place_checked(self, state: CoverageState, event: PlaceChecked, meta: Meta) -> CoverageState:
        info = _patrol(state, event.ref)
        place = PlaceInfo(kind=event.kind, name=event.name, position=meta.position)
        return _put_patrol(state, attrs.evolve(info, places=info.places.append(place)))

    @on(EncounterLogged)
    def encounter(self, state: CoverageState, event: EncounterLogged, meta: Meta) -> CoverageState:
        info = _patrol(state, event.ref)
        met = EncounterInfo(outcome=event.outcome, position=meta.position)
        return _put_patrol(state, attrs.evolve(info, encounters=info.encounters.append(met)))

    @on(PatrolEnded)
    def ended(self, state: CoverageState, event: PatrolEnded, meta: Meta) -> CoverageState:
        return _put_patrol(state, _patrol_with(state, event.ref, ended=meta.position))

    @on(PatrolCancelled)
    def called_off(self, state: CoverageState, event: PatrolCancelled, meta: Meta) -> CoverageState:
        return _put_patrol(state, _patrol_with(state, event.ref, cancelled=meta.position))

    # -- hotline

    @on(CallReceived)
    def call_received(self, state: CoverageState, event: CallReceived, meta: Meta) -> CoverageState:
        info = _call_with(
            state,
            event.ref,
            campaign=event.campaign,
            area=event.area,
            far=event.far,
            received=meta.position,
        )
        state = _put_call(state, info)
        return attrs.evolve(
            state, campaign_calls=_indexed(state.campaign_calls, event.campaign, event.ref)
        )

    @on(CallArrived)
    def arrived(self, state: CoverageState, event: CallArrived, meta: Meta) -> CoverageState:
        arrival = Arrival(
            response_minutes=event.response_minutes,
            target_minutes=event.target_minutes,
            within_target=event.within_target,
            position=meta.position,
        )
        return _put_call(state, _call_with(state, event.ref, arrival=arrival))

    @on(CallClosed)
    def call_closed(self, state: CoverageState, event: CallClosed, meta: Meta) -> CoverageState:
        info = _call_with(state, event.ref, closed_outcome=event.outcome, closed=meta.position)
        return _put_call(state, info)


# Records are created by whichever of their events comes first in the answer: an answer
# at an early effective time may hold a later fact about a record without its first one.


def _updated(found: R | None, cls: Callable[..., R], ref: str, changes: dict[str, Any]) -> R:
    # A record met for the first time is made with its changes, not made and then changed.
    return cls(ref=ref, **changes) if found is None else attrs.evolve(found, **changes)  # type: ignore[misc]


def _household(state: CoverageState, ref: str) -> HouseholdInfo:
    return state.households.get(ref) or HouseholdInfo(ref=ref)


def _household_with(state: CoverageState, ref: str, **changes: Any) -> HouseholdInfo:
    return _updated(state.households.get(ref), HouseholdInfo, ref, changes)


def _put_household(state: CoverageState, info: HouseholdInfo) -> CoverageState:
    return replace(state, households=state.households.set(info.ref, info))


def _visit(state: CoverageState, ref: str) -> VisitInfo:
    return state.visits.get(ref) or VisitInfo(ref=ref)


def _visit_with(state: CoverageState, ref: str, **changes: Any) -> VisitInfo:
    return _updated(state.visits.get(ref), VisitInfo, ref, changes)


def _put_visit(state: CoverageState, info: VisitInfo) -> CoverageState:
    return replace(state, visits=state.visits.set(info.ref, info))


def _patrol(state: CoverageState, ref: str) -> PatrolInfo:
    return state.patrols.get(ref) or PatrolInfo(ref=ref)


def _patrol_with(state: CoverageState, ref: str, **changes: Any) -> PatrolInfo:
    return _updated(state.patrols.get(ref), PatrolInfo, ref, changes)


def _put_patrol(state: CoverageState, info: PatrolInfo) -> CoverageState:
    return replace(state, patrols=state.patrols.set(info.ref, info))


def _call_with(state: CoverageState, ref: str, **changes: Any) -> CallInfo:
    return _updated(state.calls.get(ref), CallInfo, ref, changes)


def _put_call(state: CoverageState, info: CallInfo) -> CoverageState:
    return replace(state, calls=state.calls.set(info.ref, info))


def _with_problem(
    state: CoverageState, visit: str, problem_id: str, meta: Meta, **changes: Any
) -> CoverageState:
    info = _visit(state, visit)
    problem = info.problems.get(problem_id)
    if problem is None:
        # As the visit itself has it: a follow-up of a problem it never recorded changes nothing.
        return state
    problem = attrs.evolve(problem, sources=(*problem.sources, meta.position), **changes)
    return _put_visit(state, attrs.evolve(info, problems=info.problems.set(problem_id, problem)))


# ---------------------------------------------------------------- areas


def area_path(area: str | Sequence[str] | None) -> Area | None:
    """The path an area names: ``"Gulou/Dongjie"`` or ``("Gulou", "Dongjie")``; None for all."""
    if area is None:
        return None
    names = area.split(SEPARATOR) if isinstance(area, str) else list(area)
    if not all(isinstance(name, str) for name in names):
        msg = f"area must be a text such as 'Gulou/Dongjie' or a tuple of names, got {area!r}"
        raise InvalidCommand(msg)
    path = tuple(name.strip() for name in names)
    if not path or not all(path) or len(path) > len(LEVELS):
        msg = (
            f"area {area!r} is not a path of 1 to {len(LEVELS)} non-empty names from the "
            f"district down ({' / '.join(LEVELS)}), e.g. 'Gulou' or 'Gulou/Dongjie/Wenquan'"
        )
        raise InvalidCommand(msg)
    return path


def area_text(path: Area) -> str:
    """`path` written as reports show it: ``"Gulou/Dongjie"``."""
    return SEPARATOR.join(path)


def _free_area(text: str) -> Area:
    """A patrol, cold-wave or hotline area read as a path (any depth, blanks dropped)."""
    return tuple(name.strip() for name in text.split(SEPARATOR) if name.strip())


def within(path: Area, prefix: Area) -> bool:
    """Whether `path` lies within (or is) the area `prefix`."""
    return path[: len(prefix)] == prefix


def overlaps(one: Area, other: Area) -> bool:
    """Whether either area lies within the other."""
    return within(one, other) or within(other, one)


# ---------------------------------------------------------------- report values


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _sorted(positions: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(positions)))


def _plain(value: Any) -> Any:
    """`value` as JSON has it: dates as ISO text, collections as lists and dicts."""
    if isinstance(value, _Plain | Basis):
        return value.to_dict()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if attrs.has(type(value)):
        return _fields(value)
    return value


def _fields(value: Any) -> dict[str, Any]:
    return {field.name: _plain(getattr(value, field.name)) for field in attrs.fields(type(value))}


class _Plain:
    """Report values that convert to plain JSON values, field by field."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: dates as ISO text, collections as lists and dicts."""
        return _fields(self)


@attrs.frozen(kw_only=True)
class Households(_Plain):
    """Households enrolled and reached; the enrolled ones not reached, by why."""

    enrolled: int = 0
    reached: int = 0
    persons_reached: int = 0
    missed: int = 0
    """Enrolled, not reached, and still to be reached."""
    closed_unreached: int = 0
    """Enrolled, closed (moved, deceased) before anyone reached them."""
    disqualified_unreached: int = 0
    """Enrolled, disqualified in the campaign before anyone reached them."""
    sources: tuple[int, ...] = ()


@attrs.frozen(kw_only=True)
class Goods(_Plain):
    """Units of one item handed over on visits."""

    item: str
    unit: str
    quantity: int
    sources: tuple[int, ...]


@attrs.frozen(kw_only=True)
class Cash(_Plain):
    """Money paid into households' aid ledgers on visits, in fen."""

    fen: int = 0
    payments: int = 0
    sources: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: fen, and yuan as text."""
        return super().to_dict() | {"yuan": _yuan(self.fen)}


@attrs.frozen(kw_only=True)
class Problems(_Plain):
    """Problems raised at the door and how far they came."""

    recorded: int = 0
    solved_on_spot: int = 0
    resolved: int = 0
    open: int = 0
    overdue: int = 0
    """Open, assigned with a due date before the basis's day."""
    reported_back: int = 0
    sources: tuple[int, ...] = ()

    @property
    def solved(self) -> int:
        """Solved on the spot or resolved afterwards."""
        return self.solved_on_spot + self.resolved

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return super().to_dict() | {"solved": self.solved}


@attrs.frozen(kw_only=True)
class CoverageLine(_Plain):
    """Coverage of one area (or the whole filtered area), or of one hardship category."""

    key: str
    """The area path, the category code, or the filter's path ("" for everywhere)."""
    level: str
    """"total", one of LEVELS, or "category"."""
    households: Households
    goods: tuple[Goods, ...]
    cash: Cash
    problems: Problems

    @property
    def sources(self) -> tuple[int, ...]:
        """Positions of every event behind the line."""
        every = [*self.households.sources, *self.cash.sources, *self.problems.sources]
        every.extend(position for goods in self.goods for position in goods.sources)
        return _sorted(every)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON, with a category's label."""
        shown = super().to_dict()
        if self.level == "category":
            shown["label"] = CATEGORIES.get(self.key, self.key)
        return shown


@attrs.frozen(kw_only=True)
class MissedHousehold(_Plain):
    """An enrolled household no visit has reached yet (一户不漏)."""

    ref: str
    area: str
    size: int
    categories: tuple[str, ...]
    duplicates: tuple[str, ...]
    """Records merged into it that were enrolled themselves."""
    planned_visits: tuple[str, ...]
    """Visits planned for it and neither made nor cancelled."""
    sources: tuple[int, ...]


@attrs.frozen(kw_only=True)
class LeftHousehold(_Plain):
    """An enrolled household that left the campaign before it was reached."""

    ref: str
    area: str
    why: str
    """"closed" or "disqualified"."""
    cause: str | None
    """For a closed household: moved, deceased or other."""
    on: date | None
    sources: tuple[int, ...]


@attrs.frozen(kw_only=True)
class OverdueProblem(_Plain):
    """An assigned problem whose due date passed without a resolution."""

    visit: str
    problem_id: str
    household: str
    area: str
    department: str | None
    assignee: str | None
    due_on: date
    days_overdue: int
    sources: tuple[int, ...]


MET = "met"
SHORT = "short"
IN_PROGRESS = "in progress"


@attrs.frozen(kw_only=True)
class PatrolWeek(_Plain):
    """Patrols of one area in one ISO week, against the rule."""

    area: str
    week: str
    """ISO week, e.g. "2027-W03"."""
    monday: date
    patrols: int
    days_patrolled: tuple[date, ...]
    required: int
    """The weekly minimum, prorated to the days of the campaign period in the week."""
    cold_wave_days: tuple[date, ...]
    """Days up to the basis's day on which a warning covering the area was in force."""
    unpatrolled_cold_wave_days: tuple[date, ...]
    """Cold-wave days before the basis's day without a patrol: each breaks the rule."""
    complete: bool
    """Whether the week ended before the basis's day."""
    status: str
    """"met", "short", or "in progress" (the week can still meet the rule)."""
    sources: tuple[int, ...]


@attrs.frozen(kw_only=True)
class PatrolArea(_Plain):
    """What the patrols of an area did over the campaign so far."""

    area: str
    patrols: int
    """Patrols that went out."""
    cancelled: int
    places_checked: int
    distinct_places: int
    places_by_kind: PMap[str, int]
    encounters: int
    encounters_by_outcome: PMap[str, int]
    sources: tuple[int, ...]


@attrs.frozen(kw_only=True)
class HotlineArea(_Plain):
    """Hotline calls about one area and how fast teams got there."""

    area: str
    calls: int
    arrived: int
    within_target: int
    late: int
    awaiting: int
    """Neither reached nor closed yet."""
    closed_before_arrival: int
    """Closed as a duplicate of another call."""
    worst_minutes: int | None
    sources: tuple[int, ...]


@attrs.frozen(kw_only=True)
class LateCall(_Plain):
    """A hotline call the team reached after its target."""

    ref: str
    area: str
    far: bool
    response_minutes: int
    target_minutes: int
    sources: tuple[int, ...]


@attrs.frozen(kw_only=True)
class CoverageReport(_Plain):
    """Coverage of one campaign at a basis, optionally within one area."""

    basis: Basis
    campaign: str
    name: str
    timezone: str
    day: date
    """The day of the basis's effective time in the campaign's time zone."""
    area: str | None
    """The area filter as a path, or None for everywhere."""
    notes: tuple[str, ...]
    total: CoverageLine
    areas: tuple[CoverageLine, ...]
    """Every district, street, community and grid within the filter, by path."""
    categories: tuple[CoverageLine, ...]
    missed: tuple[MissedHousehold, ...]
    left: tuple[LeftHousehold, ...]
    overdue: tuple[OverdueProblem, ...]
    patrol_rules: PatrolRules
    patrol_weeks: tuple[PatrolWeek, ...]
    patrol_areas: tuple[PatrolArea, ...]
    patrol_total: PatrolArea
    hotline_areas: tuple[HotlineArea, ...]
    hotline_total: HotlineArea
    late_calls: tuple[LateCall, ...]

    def area_line(self, area: str | Sequence[str]) -> CoverageLine:
        """The line of `area` (a path within the filter, or the filter itself)."""
        path = area_path(area)
        assert path is not None
        key = area_text(path)
        if key == self.total.key:
            return self.total
        for line in self.areas:
            if line.key == key:
                return line
        msg = f"no coverage line for area {key!r} in campaign {self.campaign} at this basis"
        raise KeyError(msg)

    def category_line(self, category: str) -> CoverageLine:
        """The line of hardship category `category`."""
        for line in self.categories:
            if line.key == category:
                return line
        msg = f"no coverage line for category {category!r} in campaign {self.campaign}"
        raise KeyError(msg)


# ---------------------------------------------------------------- building the report


@attrs.define
class _Tally:
    """Figures of one line as they are added up."""

    households: dict[str, int] = attrs.field(factory=dict)
    household_sources: set[int] = attrs.field(factory=set)
    goods: dict[tuple[str, str], tuple[int, set[int]]] = attrs.field(factory=dict)
    cash: tuple[int, int] = (0, 0)
    cash_sources: set[int] = attrs.field(factory=set)
    problems: dict[str, int] = attrs.field(factory=dict)
    problem_sources: set[int] = attrs.field(factory=set)

    def count(self, figures: Mapping[str, int], sources: Iterable[int]) -> None:
        for name, value in figures.items():
            self.households[name] = self.households.get(name, 0) + value
        self.household_sources.update(sources)

    def goods_issued(self, key: tuple[str, str], issue: Issue) -> None:
        quantity, sources = self.goods.get(key, (0, set()))
        sources.add(issue.position)
        self.goods[key] = (quantity + issue.quantity, sources)

    def paid(self, payment: Payment) -> None:
        fen, payments = self.cash
        self.cash = (fen + payment.amount_fen, payments + 1)
        self.cash_sources.add(payment.position)

    def problem(self, figures: Iterable[str], problem: ProblemInfo) -> None:
        for name in figures:
            self.problems[name] = self.problems.get(name, 0) + 1
        self.problem_sources.update(problem.sources)

    def line(self, key: str, level: str) -> CoverageLine:
        goods = tuple(
            Goods(item=item, unit=unit, quantity=quantity, sources=_sorted(sources))
            for (item, unit), (quantity, sources) in sorted(self.goods.items())
        )
        fen, payments = self.cash
        return CoverageLine(
            key=key,
            level=level,
            households=Households(**self.households, sources=_sorted(self.household_sources)),
            goods=goods,
            cash=Cash(fen=fen, payments=payments, sources=_sorted(self.cash_sources)),
            problems=Problems(**self.problems, sources=_sorted(self.problem_sources)),
        )


class _Lines:
    """The tallies a household's figures go to: the whole, each area under the filter, and
    each of its categories."""

    def __init__(self, prefix: Area) -> None:
        self.prefix = prefix
        self.total = _Tally()
        self.areas: dict[Area, _Tally] = {}
        self.categories: dict[str, _Tally] = {}
        self._of: dict[str, list[_Tally]] = {}

    def of(self, household: HouseholdInfo) -> list[_Tally]:
        found = self._of.get(household.ref)
        if found is None:
            found = [self.total]
            area = household.area
            for depth in range(len(self.prefix) + 1, len(area) + 1):
                found.append(_tally(self.areas, area[:depth]))
            found.extend(_tally(self.categories, c) for c in sorted(household.categories))
            self._of[household.ref] = found
        return found


def _tally(tallies: dict[Any, _Tally], key: Any) -> _Tally:
    found = tallies.get(key)
    if found is None:
        found = tallies[key] = _Tally()
    return found


class _Registry:
    """Households as coverage counts them: each record under the survivor of its merges."""

    def __init__(self, households: PMap[str, HouseholdInfo]) -> None:
        self.households = households

    def chain(self, ref: str) -> list[str]:
        """`ref` and every record it was merged into, to the survivor."""
        chain = [ref]
        info = self.households.get(ref)
        while info is not None and info.merged_into is not None:
            if info.merged_into in chain:
                break
            chain.append(info.merged_into)
            info = self.households.get(info.merged_into)
        return chain

    def survivor(self, ref: str) -> str:
        """The record `ref` counts under."""
        return self.chain(ref)[-1]

    def info(self, ref: str) -> HouseholdInfo:
        """What is known of `ref` (an empty record when nothing is)."""
        return self.households.get(ref) or HouseholdInfo(ref=ref)


@attrs.frozen
class _Join:
    """What building one report needs at hand."""

    state: CoverageState
    campaign: CampaignInfo
    prefix: Area
    day: date
    registry: _Registry
    lines: _Lines
    visits: dict[str, list[VisitInfo]]
    """The campaign's visits, by the record their household counts under."""

    @property
    def tz(self) -> ZoneInfo:
        """The campaign's time zone."""
        return zone(self.campaign.timezone)


def report(
    state: CoverageState,
    basis: Basis,
    *,
    campaign: str,
    area: str | Sequence[str] | None = None,
) -> CoverageReport:
    """Coverage of `campaign` from `state` (folded at `basis`), within `area` if given.

    `area` is a path from the district down, ``"Gulou"`` or ``"Gulou/Dongjie/Wenquan"``
    (or a tuple of names); it filters households by their address and patrols,
    cold-wave areas and hotline calls by their area. Raises NotFound when the campaign
    was not opened at the basis.
    """
    info = state.campaigns.get(campaign)
    if info is None or info.opened is None:
        msg = (
            f"campaign {campaign} is not in the books at position {basis.position}, "
            f"effective {basis.effective.isoformat()}: it was not opened by then"
        )
        raise NotFound(msg)
    prefix = area_path(area) or ()
    registry = _Registry(state.households)
    visits: dict[str, list[VisitInfo]] = {}
    for ref in sorted(state.campaign_visits.get(campaign, pset())):
        visit = state.visits[ref]
        if visit.household is not None:
            visits.setdefault(registry.survivor(visit.household), []).append(visit)
    join = _Join(
        state=state,
        campaign=info,
        prefix=prefix,
        day=local_date(basis.effective, zone(info.timezone)),
        registry=registry,
        lines=_Lines(prefix),
        visits=visits,
    )
    missed, left = _households(join)
    overdue = _visits(join)
    _cash(join)
    weeks, patrol_areas, patrol_total = _patrols(join)
    hotline_areas, hotline_total, late_calls = _hotline(join)
    lines = join.lines
    total = lines.total.line(area_text(prefix), "total")
    notes = (
        "Households merged into another count once, under the record that survives.",
        f"{total.households.closed_unreached} enrolled household(s) closed and "
        f"{total.households.disqualified_unreached} disqualified before anyone reached "
        f"them are not on the missed list; see 'left'.",
        "A household with several categories counts in each category's line.",
    )
    return CoverageReport(
        basis=basis,
        campaign=campaign,
        name=info.name,
        timezone=info.timezone,
        day=join.day,
        area=area_text(prefix) if prefix else None,
        notes=notes,
        total=total,
        areas=tuple(
            tally.line(area_text(path), LEVELS[len(path) - 1])
            for path, tally in sorted(lines.areas.items())
        ),
        categories=tuple(
            tally.line(category, "category") for category, tally in sorted(lines.categories.items())
        ),
        missed=missed,
        left=left,
        overdue=overdue,
        patrol_rules=info.rules,
        patrol_weeks=weeks,
        patrol_areas=patrol_areas,
        patrol_total=patrol_total,
        hotline_areas=hotline_areas,
        hotline_total=hotline_total,
        late_calls=late_calls,
    )


def _households(join: _Join) -> tuple[tuple[MissedHousehold, ...], tuple[LeftHousehold, ...]]:
    """Add each enrolled household, counted once under its survivor, to its lines."""
    registry, campaign = join.registry, join.campaign.ref
    enrolled: dict[str, list[str]] = {}
    for ref in sorted(join.state.enrolled.get(campaign, pset())):
        enrolled.setdefault(registry.survivor(ref), []).append(ref)
    missed: list[MissedHousehold] = []
    left: list[LeftHousehold] = []
    for ref, records in sorted(enrolled.items()):
        household = registry.info(ref)
        if not within(household.area, join.prefix):
            continue
        merged = {name for record in records for name in registry.chain(record)}
        sources = [registry.info(record).enrolled[campaign] for record in records]
        sources.extend(household.profile)
        sources.extend(p for name in merged for p in registry.info(name).merges)
        own = join.visits.get(ref, [])
        made = [visit for visit in own if visit.completed is not None]
        figures: dict[str, int] = {"enrolled": 1}
        where = area_text(household.area)
        if made:
            figures |= {"reached": 1, "persons_reached": household.size}
            sources.extend(p for visit in made for p in _visit_sources(visit))
        elif household.closed is not None:
            figures["closed_unreached"] = 1
            closure = household.closed
            sources.append(closure.position)
            on = local_date(closure.at, join.tz)
            left.append(
                LeftHousehold(
                    ref=ref,
                    area=where,
                    why="closed",
                    cause=closure.cause,
                    on=on,
                    sources=_sorted(sources),
                )
            )
        elif campaign in household.disqualified:
            figures["disqualified_unreached"] = 1
            sources.append(household.disqualified[campaign])
            left.append(
                LeftHousehold(
                    ref=ref,
                    area=where,
                    why="disqualified",
                    cause=None,
                    on=None,
                    sources=_sorted(sources),
                )
            )
        else:
            figures["missed"] = 1
            waiting = [v for v in own if v.cancelled is None and v.planned is not None]
            sources.extend(v.planned for v in waiting if v.planned is not None)
            missed.append(
                MissedHousehold(
                    ref=ref,
                    area=where,
                    size=household.size,
                    categories=tuple(sorted(household.categories)),
                    duplicates=tuple(record for record in records if record != ref),
                    planned_visits=tuple(v.ref for v in waiting),
                    sources=_sorted(sources),
                )
            )
        for tally in join.lines.of(household):
            tally.count(figures, sources)
    return tuple(missed), tuple(left)


def _visit_sources(visit: VisitInfo) -> Iterator[int]:
    if visit.planned is not None:
        yield visit.planned
    if visit.completed is not None:
        yield visit.completed.position


def _visits(join: _Join) -> tuple[OverdueProblem, ...]:
    """Add the goods handed over and the problems raised to the household's lines."""
    overdue: list[OverdueProblem] = []
    for ref, made in sorted(join.visits.items()):
        household = join.registry.info(ref)
        if not within(household.area, join.prefix):
            continue
        for visit in made:
            goods = []
            for issue in visit.issues:
                lot = join.state.lots.get(issue.lot)
                # Money issued from a cash lot is in the household's ledger, counted as cash.
                if lot is None or lot.kind != "cash":
                    goods.append(((issue.lot, "") if lot is None else (lot.item, lot.unit), issue))
            if not goods and not visit.problems:
                continue
            tallies = join.lines.of(household)
            for key, issue in goods:
                for tally in tallies:
                    tally.goods_issued(key, issue)
            for problem in visit.problems.values():
                late = _overdue(visit, problem, household, join.day)
                if late is not None:
                    overdue.append(late)
                for tally in tallies:
                    tally.problem(_problem_figures(problem, overdue=late is not None), problem)
    return tuple(sorted(overdue, key=lambda entry: (entry.due_on, entry.visit, entry.problem_id)))


def _cash(join: _Join) -> None:
    """Add the cash of the campaign's aid ledgers to the lines of the survivor it went to."""
    for payment in join.state.payments.get(join.campaign.ref, pvector()):
        household = join.registry.info(join.registry.survivor(payment.household))
        if within(household.area, join.prefix):
            for tally in join.lines.of(household):
                tally.paid(payment)


def _problem_figures(problem: ProblemInfo, *, overdue: bool) -> Iterator[str]:
    yield "recorded"
    if problem.solved_on_spot:
        yield "solved_on_spot"
    elif problem.resolved:
        yield "resolved"
    else:
        yield "open"
        if overdue:
            yield "overdue"
    if problem.reported_back:
        yield "reported_back"


def _overdue(
    visit: VisitInfo, problem: ProblemInfo, household: HouseholdInfo, day: date
) -> OverdueProblem | None:
    if problem.solved_on_spot or problem.resolved or problem.due_on is None:
        return None
    if problem.due_on >= day:
        return None
    return OverdueProblem(
        visit=visit.ref,
        problem_id=problem.problem_id,
        household=household.ref,
        area=area_text(household.area),
        department=problem.department,
        assignee=problem.assignee,
        due_on=problem.due_on,
        days_overdue=(day - problem.due_on).days,
        sources=_sorted(problem.sources),
    )


# ---------------------------------------------------------------- patrols and hotline


def _patrols(join: _Join) -> tuple[tuple[PatrolWeek, ...], tuple[PatrolArea, ...], PatrolArea]:
    """Patrols per week and per area, the areas warned of a cold wave included."""
    state, info, prefix, day = join.state, join.campaign, join.prefix, join.day
    localities: dict[Area, list[PatrolInfo]] = {}
    for ref in sorted(state.campaign_patrols.get(info.ref, pset())):
        patrol = state.patrols[ref]
        if patrol.area is not None and within(_free_area(patrol.area), prefix):
            localities.setdefault(_free_area(patrol.area), []).append(patrol)
    waves = [(_free_area(wave.area), wave) for wave in info.cold_waves]
    for path, _ in waves:
        # A warned area nobody patrols is still owed its daily patrols.
        if within(path, prefix) and not any(overlaps(path, known) for known in localities):
            localities[path] = []
    weeks = [
        week
        for path, patrols in sorted(localities.items())
        for week in _weeks(info, path, patrols, waves, day)
    ]
    areas = tuple(
        _patrol_area(area_text(path), patrols) for path, patrols in sorted(localities.items())
    )
    everything = [patrol for patrols in localities.values() for patrol in patrols]
    return tuple(weeks), areas, _patrol_area(area_text(prefix), everything)


def _went(patrol: PatrolInfo) -> bool:
    return patrol.started is not None and patrol.cancelled is None


def _weeks(
    info: CampaignInfo,
    path: Area,
    patrols: list[PatrolInfo],
    waves: list[tuple[Area, Wave]],
    day: date,
) -> Iterator[PatrolWeek]:
    if info.starts_on is None or info.ends_on is None:
        return
    last = min(info.ends_on, day)
    if last < info.starts_on:
        return
    tz = zone(info.timezone)
    rules = info.rules
    went = [
        (local_date(patrol.started_at, tz), patrol)
        for patrol in patrols
        if _went(patrol) and patrol.started_at is not None
    ]
    warned = [wave for area, wave in waves if overlaps(area, path)]
    monday = week_start(info.starts_on)
    while monday <= last:
        days = [monday + timedelta(days=offset) for offset in range(7)]
        season = [d for d in days if info.starts_on <= d <= info.ends_on]
        this_week = [(d, patrol) for d, patrol in went if days[0] <= d <= days[-1]]
        patrolled = sorted({d for d, _ in this_week})
        cold = [
            d
            for d in season
            if d <= day
            and rules.daily_during_cold_wave
            and any(_in_force(wave, d, tz) for wave in warned)
        ]
        unpatrolled = tuple(d for d in cold if d < day and d not in patrolled)
        pending = [d for d in cold if d == day and d not in patrolled]
        required = min(rules.min_patrols_per_week, len(season))
        shortfall = required - len(this_week)
        complete = days[-1] < day
        if unpatrolled or (complete and shortfall > 0):
            status = SHORT
        elif shortfall > 0 or pending:
            status = IN_PROGRESS
        else:
            status = MET
        iso = monday.isocalendar()
        sources = [p.started for _, p in this_week if p.started is not None]
        sources.extend(w.position for w in warned if any(_in_force(w, d, tz) for d in cold))
        yield PatrolWeek(
            area=area_text(path),
            week=f"{iso.year}-W{iso.week:02d}",
            monday=monday,
            patrols=len(this_week),
            days_patrolled=tuple(patrolled),
            required=required,
            cold_wave_days=tuple(cold),
            unpatrolled_cold_wave_days=unpatrolled,
            complete=complete,
            status=status,
            sources=_sorted(sources),
        )
        monday += timedelta(days=7)


def _in_force(wave: Wave, day: date, tz: ZoneInfo) -> bool:
    """Whether the warning is in force at some moment of `day`."""
    starts, ends = start_of_day(day, tz), start_of_day(day + timedelta(days=1), tz)
    return wave.starts_at < ends and wave.ends_at > starts


def _patrol_area(area: str, patrols: Iterable[PatrolInfo]) -> PatrolArea:
    went = cancelled = 0
    places: dict[str, int] = {}
    distinct: set[tuple[str, str]] = set()
    outcomes: dict[str, int] = {}
    sources: list[int] = []
    for patrol in patrols:
        went += _went(patrol)
        cancelled += patrol.cancelled is not None
        for place in patrol.places:
            places[place.kind] = places.get(place.kind, 0) + 1
            distinct.add((place.kind, place.name))
            sources.append(place.position)
        for met in patrol.encounters:
            outcomes[met.outcome] = outcomes.get(met.outcome, 0) + 1
            sources.append(met.position)
        marks = (patrol.scheduled, patrol.started, patrol.ended, patrol.cancelled)
        sources.extend(position for position in marks if position is not None)
    return PatrolArea(
        area=area,
        patrols=went,
        cancelled=cancelled,
        places_checked=sum(places.values()),
        distinct_places=len(distinct),
        places_by_kind=pmap(places),
        encounters=sum(outcomes.values()),
        encounters_by_outcome=pmap(outcomes),
        sources=_sorted(sources),
    )


def _hotline(join: _Join) -> tuple[tuple[HotlineArea, ...], HotlineArea, tuple[LateCall, ...]]:
    """Hotline calls per area, and the ones reached late."""
    state, campaign, prefix = join.state, join.campaign.ref, join.prefix
    by_area: dict[Area, list[CallInfo]] = {}
    for ref in sorted(state.campaign_calls.get(campaign, pset())):
        call = state.calls[ref]
        if call.area is not None and within(_free_area(call.area), prefix):
            by_area.setdefault(_free_area(call.area), []).append(call)
    late = tuple(
        LateCall(
            ref=call.ref,
            area=area_text(path),
            far=call.far,
            response_minutes=call.arrival.response_minutes,
            target_minutes=call.arrival.target_minutes,
            sources=_sorted(_call_sources(call)),
        )
        for path, calls in sorted(by_area.items())
        for call in calls
        if call.arrival is not None and not call.arrival.within_target
    )
    areas = tuple(_hotline_area(area_text(path), calls) for path, calls in sorted(by_area.items()))
    everything = [call for calls in by_area.values() for call in calls]
    return areas, _hotline_area(area_text(prefix), everything), late


def _call_sources(call: CallInfo) -> Iterator[int]:
    marks = (call.received, None if call.arrival is None else call.arrival.position, call.closed)
    yield from (position for position in marks if position is not None)


def _hotline_area(area: str, calls: Sequence[CallInfo]) -> HotlineArea:
    arrivals = [call.arrival for call in calls if call.arrival is not None]
    within_target = sum(arrival.within_target for arrival in arrivals)
    return HotlineArea(
        area=area,
        calls=len(calls),
        arrived=len(arrivals),
        within_target=within_target,
        late=len(arrivals) - within_target,
        awaiting=sum(call.arrival is None and call.closed is None for call in calls),
        closed_before_arrival=sum(
            call.arrival is None and call.closed is not None for call in calls
        ),
        worst_minutes=max((arrival.response_minutes for arrival in arrivals), default=None),
        sources=_sorted(position for call in calls for position in _call_sources(call)),
    )
