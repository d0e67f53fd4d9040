"""Audit trail: every event that touched a record, in order, with both clocks and a summary.

Auditors re-check the books after the season: who changed what and when, what the
ledger said on a given day. For any household, lot, visit, patrol, hotline call or
campaign reference the trail lists each event that touched it, in position order,
with its position, recorded time, effective time, actor, reason (where the event has
one) and a one-line summary in words.

An event touches its own record and every record it names: ``household.aid_paid``
touches the household, the visit and the campaign; ``lot.issued`` the lot and the
visit, patrol or distribution point it went to; ``visit.planned`` the visit, the
household and the campaign. Everything recorded on a visit is about its household,
so every visit event also touches the visit's household. References are taken as
they are written: natural references are distinct across kinds in practice, and
each entry says which record it belongs to.

The folded state is an index, not a copy of the history: for each reference, the
positions of the events touching it (plus the two lookups summaries need). An entry
is rendered when it is asked for, from the event read back at its position, so the
state grows by a few integers per event, checkpoints stay small, and a summary
always says what the event itself says. :func:`report` gives a reference's trail and
:func:`events_of` the entries at a set of positions: the drill-down from any figure
of another report (its ``sources``) to the events that produced it. Both take the
reader of events by position: :func:`reader` makes one over any
:class:`~warmcase.projections.history.History`.

Summaries never hold personal values as text: a name enters a summary only as its
:class:`~warmcase.personal.Personal` wrapper, decoded with the event, so it reads
``[erased]`` once the household is erased.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar, TypeVar

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

from warmcase.domain import campaign as campaign_
from warmcase.domain import hotline as hotline_
from warmcase.domain import household as household_
from warmcase.domain import lot as lot_
from warmcase.domain import patrol as patrol_
from warmcase.domain import visit as visit_
from warmcase.domain.household import Member
from warmcase.events import Event, value_type
from warmcase.personal import Personal
from warmcase.projections.basis import Basis
from warmcase.projections.bulk import with_changes
from warmcase.projections.history import History
from warmcase.projections.projection import Meta, Projection, on

E = TypeVar("E", bound=Event)

_NONE: PVector[int] = pvector()

Part = str | Personal
"""A piece of a summary: plain words, or a personal value rendered only when read."""
Parts = tuple[Part, ...]

EventsAt = Callable[[Sequence[int]], Iterable[tuple[Event, Meta]]]
"""Given ascending positions, the recorded events at them, in position order (positions
holding no event are skipped)."""

# ---------------------------------------------------------------- state


@attrs.frozen(kw_only=True)
class TrailEntry:
    """One event as the trail shows it."""

    position: int
    recorded_at: datetime
    effective_at: datetime
    actor: str
    event_type: str
    ref: str
    """The record the event belongs to."""
    reason: str | None
    parts: Parts
    touches: tuple[str, ...]
    """Every reference the event touches, its own first."""

    @property
    def kind(self) -> str:
        """The kind of record the event belongs to: household, lot, visit, ..."""
        return self.event_type.split(".", 1)[0]

    @property
    def summary(self) -> str:
        """The event in one line of words; personal values as they read now."""
        return " ".join("".join(map(str, self.parts)).split())

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "position": self.position,
            "recorded_at": self.recorded_at.isoformat(),
            "effective_at": self.effective_at.isoformat(),
            "actor": self.actor,
            "type": self.event_type,
            "kind": self.kind,
            "ref": self.ref,
            "reason": self.reason,
            "summary": self.summary,
            "touches": list(self.touches),
        }


@value_type("projection.audit_trail.lot_label")
@attrs.frozen(kw_only=True)
class LotLabel:
    """What a lot holds, so its quantities read as "12 quilts" or "700.00 yuan"."""

    item: str
    unit: str
    kind: str


@value_type("projection.audit_trail.index")
@attrs.frozen(kw_only=True)
class TrailState:
    """Where each reference's events are, and the lookups that summaries need."""

    by_ref: PMap[str, PVector[int]] = attrs.field(factory=pmap)
    """Reference -> the positions of the events touching it, ascending."""
    visits: PMap[str, str] = attrs.field(factory=pmap)
    """Visit -> its household."""
    lots: PMap[str, LotLabel] = attrs.field(factory=pmap)
    """Lot -> what it holds."""


# ---------------------------------------------------------------- the report


@attrs.frozen
class AuditTrailReport:
    """The trail of one reference at a basis."""

    basis: Basis
    ref: str
    entries: tuple[TrailEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "basis": self.basis.to_dict(),
            "ref": self.ref,
            "entries": [entry.to_dict() for entry in self.entries],
        }


def report(state: TrailState, basis: Basis, *, ref: str, events_at: EventsAt) -> AuditTrailReport:
    """Every event that touched `ref`, in position order, as folded at `basis`.

    `state` is the trail folded at `basis`; `events_at` reads the events back."""
    positions = state.by_ref.get(ref, _NONE)
    entries = tuple(entry(event, meta, state) for event, meta in events_at(positions))
    return AuditTrailReport(basis=basis, ref=ref, entries=entries)


def events_of(
    state: TrailState, basis: Basis, positions: Iterable[int], *, events_at: EventsAt
) -> tuple[TrailEntry, ...]:
    """The entries at `positions` (a report line's sources), in order, as the trail folded
    at `basis` has them: positions after the basis, of events not yet effective at it or
    of no event at all are skipped."""
    wanted = sorted({position for position in positions if 0 < position <= basis.position})
    return tuple(
        entry(event, meta, state)
        for event, meta in events_at(wanted)
        if event.effective_at <= basis.effective and type(event) in _DESCRIBERS
    )


def entry(event: Event, meta: Meta, state: TrailState) -> TrailEntry:
    """How the trail shows `event`, with the lookups of `state`."""
    return TrailEntry(
        position=meta.position,
        recorded_at=meta.recorded_at,
        effective_at=event.effective_at,
        actor=event.actor,
        event_type=event.type_name,
        ref=event.ref,
        reason=_reason(event),
        parts=_DESCRIBERS[type(event)](event, state),
        touches=_touches(event, state.visits.get),
    )


MERGE_GAP = 16
"""Positions apart within which one read of the span costs less than a read each."""


def reader(history: History) -> EventsAt:
    """Reads events by position from `history`: near positions in one read of their span."""

    def events_at(positions: Sequence[int]) -> Iterator[tuple[Event, Meta]]:
        wanted = set(positions)
        for first, last in _spans(sorted(wanted)):
            for event, meta in history.read(after=first - 1, upto=last):
                if meta.position in wanted:
                    yield event, meta

    return events_at


def _spans(positions: Sequence[int]) -> Iterator[tuple[int, int]]:
    """`positions` (ascending) as (first, last) spans, near ones merged."""
    if not positions:
        return
    first = last = positions[0]
    for position in positions[1:]:
        if position - last > MERGE_GAP:
            yield first, last
            first = position
        last = position
    yield first, last


def in_memory(recorded: Iterable[tuple[Event, Meta]]) -> EventsAt:
    """Reads events by position from a list of recorded events (tests, small tools)."""
    at = {meta.position: (event, meta) for event, meta in recorded}

    def events_at(positions: Sequence[int]) -> Iterator[tuple[Event, Meta]]:
        return (at[position] for position in positions if position in at)

    return events_at


# ---------------------------------------------------------------- summaries


Describer = Callable[[Any, TrailState], Parts]
Namer = Callable[[Any], Iterable[str | None]]
_DESCRIBERS: dict[type[Event], Describer] = {}
_NAMERS: dict[type[Event], Namer] = {}


def _describes(
    cls: type[E], names: Callable[[E], Iterable[str | None]] | None = None
) -> Callable[[Callable[[E, TrailState], Parts]], Callable[[E, TrailState], Parts]]:
    """Register the summary of `cls`, and the other references its events name."""

    def register(fn: Callable[[E, TrailState], Parts]) -> Callable[[E, TrailState], Parts]:
        _DESCRIBERS[cls] = fn
        if names is not None:
            _NAMERS[cls] = names
        return fn

    return register


def described_types() -> frozenset[str]:
    """The type names of the events the trail has a summary for."""
    return frozenset(cls.type_name for cls in _DESCRIBERS)


def summary_parts(event: Event, state: TrailState | None = None) -> Parts:
    """The summary of `event` in pieces (plain words and Personal values)."""
    return _DESCRIBERS[type(event)](event, state or TrailState())


def _said(*parts: Part) -> Parts:
    return parts


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d} yuan"


def _moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _day(day: date) -> str:
    return day.isoformat()


def _list(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"


@cache
def _lot_model(label: LotLabel) -> lot_.DonationLot:
    # The lot aggregate knows how its quantities read; only its labels matter here.
    return lot_.DonationLot(ref="", donor="", item=label.item, unit=label.unit, kind=label.kind)


def _quantity(state: TrailState, lot_ref: str, quantity: int) -> str:
    label = state.lots.get(lot_ref)
    if label is None:
        return f"{quantity} units of lot {lot_ref}"
    return _lot_model(label).describe(quantity)


def _head(members: Iterable[Member]) -> Member | None:
    return next((member for member in members if member.is_head), None)


# ------------------------------------------------ campaign


@_describes(campaign_.CampaignOpened)
def _campaign_opened(event: campaign_.CampaignOpened, state: TrailState) -> Parts:
    categories = _list(s.category for s in event.standards)
    return _said(
        f"campaign {event.name} opened by {event.owner}, {_day(event.starts_on)} to "
        f"{_day(event.ends_on)} ({event.timezone}); aid standards for: {categories}"
    )


@_describes(campaign_.StandardsAmended)
def _standards_amended(event: campaign_.StandardsAmended, state: TrailState) -> Parts:
    return _said(f"aid standards amended; now for: {_list(s.category for s in event.standards)}")


@_describes(campaign_.ColdWaveWarned)
def _cold_wave(event: campaign_.ColdWaveWarned, state: TrailState) -> Parts:
    return _said(
        f"cold-wave warning for {event.area} from {_moment(event.starts_at)} to "
        f"{_moment(event.ends_at)}: patrols there every day"
    )


@_describes(campaign_.CampaignClosed)
def _campaign_closed(event: campaign_.CampaignClosed, state: TrailState) -> Parts:
    return _said("campaign closed")


# ------------------------------------------------ household


@_describes(household_.HouseholdSurveyed)
def _surveyed(event: household_.HouseholdSurveyed, state: TrailState) -> Parts:
    address = event.address
    head = _head(event.members)
    return _said(
        f"household surveyed in {address.district} / {address.street} / {address.community} / "
        f"{address.grid}: head ",
        "unknown" if head is None else head.name,
        f", {len(event.members)} persons, categories {_list(event.categories)}, "
        f"hardship level {event.hardship_level}",
    )


@_describes(household_.CircumstancesUpdated)
def _updated(event: household_.CircumstancesUpdated, state: TrailState) -> Parts:
    changes: list[tuple[Part, ...]] = []
    if event.address is not None:
        a = event.address
        changes.append((f"address now {a.district} / {a.street} / {a.community} / {a.grid}",))
    if event.members is not None:
        head = _head(event.members)
        named: Part = "unknown" if head is None else head.name
        changes.append((f"{len(event.members)} members now, head ", named))
    if event.phone is not None:
        changes.append(("phone changed",))
    if event.categories is not None:
        changes.append((f"categories now {_list(event.categories)}",))
    if event.hardship_level is not None:
        changes.append((f"hardship level now {event.hardship_level}",))
    if event.heating is not None:
        changes.append(("heating changed",))
    parts: list[Part] = ["circumstances updated: "]
    for number, change in enumerate(changes):
        parts.extend(("; ", *change) if number else change)
    return _said(*(parts if changes else [*parts, "nothing"]))


@_describes(household_.HouseholdVerified)
def _verified(event: household_.HouseholdVerified, state: TrailState) -> Parts:
    return _said("survey verified by the community")


@_describes(household_.HouseholdPosted)
def _posted(event: household_.HouseholdPosted, state: TrailState) -> Parts:
    return _said(
        f"posted publicly at {event.place}; objections taken until {_moment(event.window_ends_at)}"
    )


@_describes(household_.ObjectionRaised)
def _objection_raised(event: household_.ObjectionRaised, state: TrailState) -> Parts:
    return _said(f"objection {event.objection_id} raised by {event.raised_by}")


@_describes(household_.ObjectionResolved)
def _objection_resolved(event: household_.ObjectionResolved, state: TrailState) -> Parts:
    if event.upheld:
        return _said(f"objection {event.objection_id} upheld: verification and posting withdrawn")
    return _said(f"objection {event.objection_id} dismissed")


@_describes(household_.HouseholdEnrolled, names=lambda e: (e.campaign,))
def _enrolled(event: household_.HouseholdEnrolled, state: TrailState) -> Parts:
    return _said(f"enrolled in campaign {event.campaign}")


@_describes(household_.HouseholdDisqualified, names=lambda e: (e.campaign,))
def _disqualified(event: household_.HouseholdDisqualified, state: TrailState) -> Parts:
    return _said(
        f"disqualified in campaign {event.campaign} after a false report, until {_day(event.until)}"
    )


@_describes(household_.MergedInto, names=lambda e: (e.into,))
def _merged_into(event: household_.MergedInto, state: TrailState) -> Parts:
    return _said(f"merged into household {event.into} as a duplicate")


def _absorbed_names(event: household_.DuplicateAbsorbed) -> Iterable[str | None]:
    yield event.duplicate
    for payment in event.payments:
        yield from (payment.household, payment.visit, payment.campaign)
    for found in event.disqualifications:
        yield found.campaign


@_describes(household_.DuplicateAbsorbed, names=_absorbed_names)
def _absorbed(event: household_.DuplicateAbsorbed, state: TrailState) -> Parts:
    total = sum(payment.amount_fen for payment in event.payments)
    return _said(
        f"absorbed duplicate household {event.duplicate}: {len(event.payments)} payment(s) "
        f"of {_yuan(total)} and {len(event.disqualifications)} disqualification(s)"
    )


@_describes(household_.HouseholdClosed)
def _household_closed(event: household_.HouseholdClosed, state: TrailState) -> Parts:
    return _said(f"household closed ({event.cause})")


@_describes(household_.AidPaid, names=lambda e: (e.visit, e.campaign))
def _aid_paid(event: household_.AidPaid, state: TrailState) -> Parts:
    override = "; OVERRIDE of the duplicate-aid rule" if event.override_reason else ""
    return _said(
        f"paid {_yuan(event.amount_fen)} in campaign {event.campaign} by visit {event.visit} "
        f"({event.category}, entitlement {_yuan(event.entitlement_fen)}), signed by member "
        f"{event.signed_by}{override}"
    )


@_describes(household_.HouseholdErased)
def _erased(event: household_.HouseholdErased, state: TrailState) -> Parts:
    return _said("personal data erased: names, numbers and notes read as erased from now on")


# ------------------------------------------------ lot


@_describes(lot_.LotPledged)
def _pledged(event: lot_.LotPledged, state: TrailState) -> Parts:
    label = LotLabel(item=event.item, unit=event.unit, kind=event.kind)
    return _said(f"pledged by {event.donor}: {_lot_model(label).describe(event.quantity)}")


@_describes(lot_.LotReceived)
def _received(event: lot_.LotReceived, state: TrailState) -> Parts:
    label = LotLabel(item=event.item, unit=event.unit, kind=event.kind)
    expiry = "" if event.expires_on is None else f", keeps until {_day(event.expires_on)}"
    return _said(
        f"received from {event.donor}: {_lot_model(label).describe(event.quantity)} into "
        f"warehouse {event.warehouse}{expiry}"
    )


@_describes(lot_.LotInspected)
def _inspected(event: lot_.LotInspected, state: TrailState) -> Parts:
    why = "; ".join(f"{r.quantity} {r.reason}" for r in event.rejections)
    return _said(
        f"inspected: {event.accepted} accepted, {event.rejected} rejected"
        + (f" ({why})" if why else "")
    )


@_describes(lot_.LotTransferred)
def _transferred(event: lot_.LotTransferred, state: TrailState) -> Parts:
    return _said(f"moved from warehouse {event.from_warehouse} to {event.to_warehouse}")


@_describes(lot_.LotReserved, names=lambda e: (e.for_ref,))
def _reserved(event: lot_.LotReserved, state: TrailState) -> Parts:
    return _said(
        f"{_quantity(state, event.ref, event.quantity)} reserved for {event.for_ref} "
        f"(reservation {event.reservation_id})"
    )


@_describes(lot_.LotReleased)
def _released(event: lot_.LotReleased, state: TrailState) -> Parts:
    return _said(
        f"reservation {event.reservation_id} released: "
        f"{_quantity(state, event.ref, event.quantity)} back to available stock"
    )


_TARGETS = {"visit": "visit", "distribution": "distribution point", "patrol": "patrol"}


@_describes(lot_.LotIssued, names=lambda e: (e.to,))
def _issued(event: lot_.LotIssued, state: TrailState) -> Parts:
    drawn = ""
    if event.reservation_id is not None:
        drawn = (
            f" ({_quantity(state, event.ref, event.from_reservation)} of them from reservation "
            f"{event.reservation_id})"
        )
    target = _TARGETS.get(event.channel, event.channel)
    return _said(
        f"{_quantity(state, event.ref, event.quantity)} issued to {target} {event.to}{drawn}"
    )


@_describes(lot_.LotCounted)
def _counted(event: lot_.LotCounted, state: TrailState) -> Parts:
    book = _quantity(state, event.ref, event.book)
    found = _quantity(state, event.ref, event.counted)
    sign = "+" if event.difference > 0 else ""
    difference = (
        f"a difference of {sign}{_quantity(state, event.ref, event.difference)}"
        if event.difference
        else "no difference"
    )
    return _said(f"counted {found} on the shelf against {book} on the book: {difference}")


@_describes(lot_.LotWrittenOff)
def _written_off(event: lot_.LotWrittenOff, state: TrailState) -> Parts:
    return _said(f"{_quantity(state, event.ref, event.quantity)} written off")


@_describes(lot_.LotReturned)
def _returned(event: lot_.LotReturned, state: TrailState) -> Parts:
    return _said(f"{_quantity(state, event.ref, event.quantity)} returned to the donor")


# ------------------------------------------------ visit


@_describes(visit_.VisitPlanned, names=lambda e: (e.household, e.campaign))
def _visit_planned(event: visit_.VisitPlanned, state: TrailState) -> Parts:
    return _said(
        f"visit of household {event.household} in campaign {event.campaign} planned for "
        f"{_day(event.planned_on)} by team {event.team} led by {event.leader}"
    )


@_describes(
    visit_.VisitCompleted, names=lambda e: (*(line.lot_ref for line in e.goods), e.cash_lot)
)
def _visit_completed(event: visit_.VisitCompleted, state: TrailState) -> Parts:
    handed = [f"{_quantity(state, line.lot_ref, line.quantity)}" for line in event.goods]
    if event.cash_fen:
        from_lot = "" if event.cash_lot is None else f" from lot {event.cash_lot}"
        handed.append(f"{_yuan(event.cash_fen)} in cash{from_lot}")
    return _said(
        f"visited on {_day(event.visited_on)}: handed over {', '.join(handed) or 'nothing'}; "
        f"signed by member {event.signed_by}; {len(event.needs)} need(s) and "
        f"{len(event.problems)} problem(s) recorded"
    )


@_describes(visit_.ProblemAssigned)
def _problem_assigned(event: visit_.ProblemAssigned, state: TrailState) -> Parts:
    return _said(
        f"problem {event.problem_id} assigned to {event.department} ({event.assignee}), "
        f"due {_day(event.due_on)}"
    )


@_describes(visit_.ProblemFollowedUp)
def _problem_followed_up(event: visit_.ProblemFollowedUp, state: TrailState) -> Parts:
    return _said(f"problem {event.problem_id} followed up")


@_describes(visit_.ProblemResolved)
def _problem_resolved(event: visit_.ProblemResolved, state: TrailState) -> Parts:
    return _said(f"problem {event.problem_id} resolved")


@_describes(visit_.ProblemReportedBack)
def _problem_reported(event: visit_.ProblemReportedBack, state: TrailState) -> Parts:
    return _said(f"outcome of problem {event.problem_id} reported back to the household")


@_describes(visit_.ReturnVisitRecorded)
def _return_visit(event: visit_.ReturnVisitRecorded, state: TrailState) -> Parts:
    return _said("return visit recorded")


@_describes(visit_.AuditCallbackRecorded)
def _callback(event: visit_.AuditCallbackRecorded, state: TrailState) -> Parts:
    return _said(f"audit callback by {event.method}: {event.result}")


@_describes(visit_.VisitCancelled)
def _visit_cancelled(event: visit_.VisitCancelled, state: TrailState) -> Parts:
    return _said("visit cancelled")


# ------------------------------------------------ patrol


@_describes(patrol_.PatrolScheduled, names=lambda e: (e.campaign,))
def _patrol_scheduled(event: patrol_.PatrolScheduled, state: TrailState) -> Parts:
    night = "night " if event.night else ""
    return _said(
        f"{night}patrol of {event.area} in campaign {event.campaign} scheduled for "
        f"{_moment(event.scheduled_for)}, team {event.team} led by {event.leader}"
    )


@_describes(patrol_.PatrolStarted)
def _patrol_started(event: patrol_.PatrolStarted, state: TrailState) -> Parts:
    return _said("patrol set out")


@_describes(patrol_.PlaceChecked)
def _place_checked(event: patrol_.PlaceChecked, state: TrailState) -> Parts:
    kind = patrol_.PLACE_KINDS.get(event.kind, event.kind)
    return _said(f"checked {event.name} ({kind})")


@_describes(
    patrol_.EncounterLogged, names=lambda e: (e.person_ref, *(line.lot_ref for line in e.supplies))
)
def _encounter(event: patrol_.EncounterLogged, state: TrailState) -> Parts:
    who = f"person {event.person_ref}" if event.person_ref else "an unidentified person"
    flags = [
        flag
        for flag, raised in (
            ("minor", event.minor),
            ("critically ill", event.critically_ill),
            ("mentally ill", event.mentally_ill),
        )
        if raised
    ]
    flagged = f" ({', '.join(flags)})" if flags else ""
    given = ", ".join(_quantity(state, line.lot_ref, line.quantity) for line in event.supplies)
    supplies = f"; given {given}" if given else ""
    outcome = patrol_.OUTCOMES.get(event.outcome, event.outcome)
    return _said(f"encounter {event.encounter_id}: {who}{flagged}, {outcome}{supplies}")


@_describes(patrol_.PatrolEnded)
def _patrol_ended(event: patrol_.PatrolEnded, state: TrailState) -> Parts:
    return _said("patrol ended")


@_describes(patrol_.PatrolCancelled)
def _patrol_cancelled(event: patrol_.PatrolCancelled, state: TrailState) -> Parts:
    return _said("patrol cancelled")


# ------------------------------------------------ hotline


@_describes(hotline_.CallReceived, names=lambda e: (e.campaign,))
def _call_received(event: hotline_.CallReceived, state: TrailState) -> Parts:
    far = " (a far place: 60-minute target)" if event.far else ""
    return _said(
        f"hotline call in campaign {event.campaign} about a person at {event.place}, "
        f"{event.area}{far}"
    )


@_describes(hotline_.CallDispatched, names=lambda e: (e.patrol,))
def _call_dispatched(event: hotline_.CallDispatched, state: TrailState) -> Parts:
    patrol = "" if event.patrol is None else f" on patrol {event.patrol}"
    return _said(f"team {event.team}{patrol} dispatched")


@_describes(hotline_.CallArrived)
def _call_arrived(event: hotline_.CallArrived, state: TrailState) -> Parts:
    verdict = "met" if event.within_target else "MISSED"
    return _said(
        f"team on the scene {event.response_minutes} minutes after the call "
        f"(target {event.target_minutes}: {verdict})"
    )


@_describes(hotline_.CallClosed)
def _call_closed(event: hotline_.CallClosed, state: TrailState) -> Parts:
    outcome = patrol_.OUTCOMES.get(event.outcome, event.outcome.replace("_", " "))
    return _said(f"call closed: {outcome}")


# ---------------------------------------------------------------- the projection


def _reason(event: Event) -> str | None:
    if isinstance(event, household_.AidPaid):
        return event.override_reason
    reason = getattr(event, "reason", None)
    return reason if isinstance(reason, str) else None


def _touches(event: Event, household_of: Callable[[str], str | None]) -> tuple[str, ...]:
    """Every reference `event` touches, its own first, each once; `household_of` gives a
    visit's household."""
    namer = _NAMERS.get(type(event))
    household = household_of(event.ref) if type(event) in _VISIT_EVENTS else None
    if namer is None and household is None:
        # Most events name no other record: no need to drop repeats.
        return (event.ref,) if event.ref else ()
    refs = [event.ref, *(() if namer is None else namer(event)), household]
    return tuple(dict.fromkeys(ref for ref in refs if ref))


_VISIT_EVENTS = frozenset(cls for cls in _DESCRIBERS if cls.type_name.startswith("visit."))


class AuditTrail(Projection[TrailState]):
    """Every event, indexed by each reference it touches."""

    name = "audit_trail"
    # Version 2 keeps positions only (entries are rendered from the events when read).
    version = 2
    # Pages are folded by a _Gathering (below), in plain dicts and lists.
    in_place: ClassVar[tuple[str, ...]] = ("by_ref", "visits", "lots")
    # Measured alone at 100,000 events with its read: 0.9 of coverage's time.
    rebuild_cost: ClassVar[float] = 0.9

    def initial(self) -> TrailState:
        return TrailState()

    @on(*_DESCRIBERS)
    def record(self, state: TrailState, event: Event, meta: Meta) -> TrailState:
        """Index `event` under every reference it touches."""
        by_ref = state.by_ref
        position = meta.position
        for ref in _touches(event, state.visits.get):
            by_ref = by_ref.set(ref, by_ref.get(ref, _NONE).append(position))
        visits, lots = state.visits, state.lots
        if type(event) in _LOOKUPS:
            match event:
                case visit_.VisitPlanned():
                    visits = visits.set(event.ref, event.household)
                case lot_.LotPledged() | lot_.LotReceived():
                    lots = lots.set(event.ref, _label(event))
        # Folded in place within a page, nothing changed identity: the same state will do.
        if by_ref is state.by_ref and visits is state.visits and lots is state.lots:
            return state
        return TrailState(by_ref=by_ref, visits=visits, lots=lots)

    # Many events are folded with each reference's positions gathered in a list and added
    # to its vector once at the end: a persistent map pays for every change, and events
    # touch most references many times.

    def thawed(self, state: TrailState) -> _Gathering:
        return _Gathering(state)

    def fold_thawed(self, work: Any, recorded: Iterable[tuple[Event, Meta]]) -> _Gathering:
        gathering: _Gathering = work
        gathering.fold(recorded)
        return gathering

    def frozen(self, work: Any) -> TrailState:
        gathering: _Gathering = work
        return gathering.state()


class _Gathering:
    """A trail being folded: the positions and lookups met since `base`, in plain lists
    and dicts."""

    __slots__ = ("base", "gathered", "lots", "visits")

    def __init__(self, base: TrailState) -> None:
        self.base = base
        self.gathered: dict[str, list[int]] = {}
        self.visits: dict[str, str] = {}
        self.lots: dict[str, LotLabel] = {}

    def household_of(self, visit: str) -> str | None:
        return self.visits.get(visit) or self.base.visits.get(visit)

    def fold(self, recorded: Iterable[tuple[Event, Meta]]) -> None:
        gathered, household_of = self.gathered, self.household_of
        for event, meta in recorded:
            cls = type(event)
            if cls not in _DESCRIBERS:
                continue
            position = meta.position
            for ref in _touches(event, household_of):
                found = gathered.get(ref)
                if found is None:
                    gathered[ref] = [position]
                else:
                    found.append(position)
            if cls in _LOOKUPS:
                if cls is visit_.VisitPlanned:
                    self.visits[event.ref] = typing.cast(visit_.VisitPlanned, event).household
                else:
                    self.lots[event.ref] = _label(event)

    def state(self) -> TrailState:
        """The trail after `base` and every event folded since, persistent."""
        base = self.base
        if not (self.gathered or self.visits or self.lots):
            return base
        known = base.by_ref
        gathered = self.gathered.items()
        if known:
            found = known.get
            extended = {ref: found(ref, _NONE).extend(positions) for ref, positions in gathered}
        else:
            # A rebuild's trail starts empty: no lookups.
            extended = {ref: pvector(positions) for ref, positions in gathered}
        return TrailState(
            by_ref=with_changes(known, extended),
            visits=with_changes(base.visits, self.visits) if self.visits else base.visits,
            lots=with_changes(base.lots, self.lots) if self.lots else base.lots,
        )


def _label(event: Any) -> LotLabel:
    return LotLabel(item=event.item, unit=event.unit, kind=event.kind)


_LOOKUPS: frozenset[type[Event]] = frozenset(
    {visit_.VisitPlanned, lot_.LotPledged, lot_.LotReceived}
)
"""The events that change what later summaries look up."""
