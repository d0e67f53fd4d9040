"""The audit trail: every event that touched a record, in order, with both clocks and a summary."""

from __future__ import annotations

import json
import types
import typing
from datetime import date, datetime, timedelta
from typing import Any
from uuid import uuid4

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import warmcase.app  # noqa: F401 - registers every event type
from tests.clocks import at
from tests.strategies.audit_trail_history import (
    ACTOR,
    PHONE,
    World,
    histories,
    open_campaigns,
)
from tests.strategies.household import fake_digest
from warmcase.domain import campaign as campaign_
from warmcase.domain import household as household_
from warmcase.domain import lot as lot_
from warmcase.domain import visit as visit_
from warmcase.domain.household import NewMember
from warmcase.events import Envelope, Event, event_types
from warmcase.personal import ERASED_TEXT, Personal, household_subject
from warmcase.projections.answering import brute_force
from warmcase.projections.audit_trail import (
    AuditTrail,
    TrailEntry,
    TrailState,
    described_types,
    events_of,
    in_memory,
    report,
    summary_parts,
)
from warmcase.projections.basis import Basis
from warmcase.projections.projection import Meta
from warmcase_adapters.codec import Codec
from warmcase_adapters.keyring import MemoryKeyring
from warmcase_adapters.mapper import EventMapper

TRAIL = AuditTrail()
SECRET = "机密-SECRET-1"
FAR_FUTURE = at(1, year=2030)

REF_FIELDS = frozenset(
    {
        "campaign",
        "household",
        "visit",
        "into",
        "duplicate",
        "to",
        "for_ref",
        "patrol",
        "person_ref",
        "lot_ref",
        "cash_lot",
    }
)
"""Fields that hold another record's reference, wherever they sit in an event."""


# ---------------------------------------------------------------- an obviously correct model


def named_refs(value: object, field: str | None = None) -> list[str]:
    """Every reference `value` names, found by walking its fields (not by the event type)."""
    if isinstance(value, str):
        return [value] if field in REF_FIELDS else []
    if isinstance(value, tuple | frozenset):
        return [ref for item in value for ref in named_refs(item, field)]
    if attrs.has(type(value)):
        return [
            ref
            for attribute in attrs.fields(typing.cast(Any, type(value)))
            if attribute.name != "ref"
            for ref in named_refs(getattr(value, attribute.name), attribute.name)
        ]
    return []


def model_reason(event: Event) -> str | None:
    """The reason an auditor reads: the event's reason, or a payment's override reason."""
    if isinstance(event, household_.AidPaid):
        return event.override_reason
    reason = getattr(event, "reason", None)
    return reason if isinstance(reason, str) else None


def model(recorded: list[tuple[Event, Meta]]) -> dict[str, list[tuple[int, tuple[str, ...]]]]:
    """For each reference, the (position, touched references) of the events touching it."""
    visit_household: dict[str, str] = {}
    trails: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for event, meta in recorded:
        refs = [event.ref, *named_refs(event)]
        if event.type_name.startswith("visit.") and event.ref in visit_household:
            refs.append(visit_household[event.ref])
        touched = tuple(dict.fromkeys(r for r in refs if r))
        for ref in touched:
            trails.setdefault(ref, []).append((meta.position, touched))
        if isinstance(event, visit_.VisitPlanned):
            visit_household[event.ref] = event.household
    return trails


def assert_matches_model(state: TrailState, recorded: list[tuple[Event, Meta]]) -> None:
    """The folded trail says exactly what the model says, entry by entry, each entry
    rendered from its event with both clocks, the actor and the reason."""
    expected = model(recorded)
    events_at = in_memory(recorded)
    basis = Basis(position=10**6, recorded_at=None, effective=FAR_FUTURE)
    assert set(expected) == set(state.by_ref)
    for ref, positions in expected.items():
        trail = report(state, basis, ref=ref, events_at=events_at)
        assert [(e.position, frozenset(e.touches)) for e in trail.entries] == [
            (position, frozenset(touched)) for position, touched in positions
        ]
        assert all(e.touches[0] == e.ref for e in trail.entries)
    for event, meta in recorded:
        (entry,) = events_of(state, basis, [meta.position], events_at=events_at)
        fields = (entry.recorded_at, entry.effective_at, entry.actor, entry.event_type, entry.ref)
        assert (meta.recorded_at, event.effective_at, event.actor, event.type_name, event.ref) == (
            fields
        )
        assert model_reason(event) == entry.reason


# ---------------------------------------------------------------- a sample of every event type


def sample(kind: Any, secret: str | None) -> Any:
    """A value of type `kind` with every personal value set to `secret`."""
    origin = typing.get_origin(kind)
    arguments = typing.get_args(kind)
    if origin in (types.UnionType, typing.Union):
        return sample(next(a for a in arguments if a is not type(None)), secret)
    if origin is tuple:
        return (sample(arguments[0], secret),)
    if origin is frozenset:
        return frozenset({sample(arguments[0], secret)})
    if attrs.has(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{a.name: sample(hints[a.name], secret) for a in attrs.fields(kind)})
    simple: dict[Any, Any] = {
        str: "S-1",
        int: 3,
        bool: True,
        datetime: at(20),
        date: date(2027, 1, 20),
        Personal: Personal(household_subject("H-1"), secret),
    }
    return simple[kind]


EVENT_CLASSES = sorted(event_types().items())


def test_every_registered_event_type_has_a_summary() -> None:
    """No event type is missing from the trail: each has a summary and is read by the trail."""
    assert set(event_types()) == described_types()
    assert set(event_types()) == TRAIL.reads


@pytest.mark.parametrize(("type_name", "cls"), EVENT_CLASSES, ids=[n for n, _ in EVENT_CLASSES])
def test_a_summary_is_one_line_and_holds_personal_values_only_as_personal(
    type_name: str, cls: type[Event]
) -> None:
    """Every summary is one non-empty line; personal values enter it only wrapped, so an
    erased value reads [erased] and never leaks into the plain words."""
    parts = summary_parts(sample(cls, SECRET))
    words = [part for part in parts if isinstance(part, str)]
    assert not any(SECRET in word for word in words)
    entry = TrailEntry(
        position=1,
        recorded_at=at(20),
        effective_at=at(20),
        actor=ACTOR,
        event_type=type_name,
        ref="S-1",
        reason=None,
        parts=summary_parts(sample(cls, None)),
        touches=("S-1",),
    )
    assert entry.summary
    assert "\n" not in entry.summary
    assert SECRET not in entry.summary


# ---------------------------------------------------------------- the reference scenario


def scenario() -> World:
    """H-1 (head 陈国华, 2 persons, minimum allowance) visited on 20 January with 2 quilts
    from lot L-1 and 900 yuan in cash; V-2 planned and cancelled."""
    world = World(start=at(16))
    open_campaigns(world)
    head = NewMember(name="陈国华", relation="head", id_number="350102195001011234")
    people = [head, NewMember(name="李秀英", relation="spouse")]
    surveyed = household_.survey(
        None,
        ref="H-1",
        district="鼓楼区",
        street="东街街道",
        community="温泉社区",
        grid="G-01",
        address_detail="红桥路12号3单元401",
        head=head,
        members=people[1:],
        phone=PHONE,
        categories=["minimum_allowance"],
        hardship_level=2,
        digests=household_.id_digests(people, fake_digest),
        actor="surveyor",
        at=at(16),
    )
    world.emit(household_.KIND, "H-1", surveyed)
    home = world.require(household_.KIND, "H-1")
    world.emit(household_.KIND, "H-1", household_.verify(home, actor=ACTOR, at=at(16, 10)))
    home = world.require(household_.KIND, "H-1")
    world.emit(
        household_.KIND,
        "H-1",
        household_.post(home, place="notice board", window_days=1, actor=ACTOR, at=at(16, 11)),
    )
    world.now = at(18)
    sf = world.require(campaign_.KIND, "SF-2027")
    home = world.require(household_.KIND, "H-1")
    world.emit(household_.KIND, "H-1", household_.enroll(home, campaign=sf, actor=ACTOR, at=at(18)))
    received = lot_.receive(
        None,
        ref="L-1",
        donor="Xinhua Textiles Co.",
        item="quilt",
        unit="piece",
        quantity=10,
        warehouse="Gulou store",
        actor="store",
        at=at(18, 10),
    )
    world.emit(lot_.KIND, "L-1", received)
    stock = world.require(lot_.KIND, "L-1")
    world.emit(lot_.KIND, "L-1", lot_.inspect(stock, accepted=10, actor="store", at=at(18, 11)))
    world.now = at(20)
    for ref in ("V-1", "V-2"):
        world.emit(
            visit_.KIND,
            ref,
            visit_.plan_visit(
                None,
                ref=ref,
                campaign=sf,
                household=world.require(household_.KIND, "H-1"),
                team="team 3",
                leader="Zhang Wei",
                planned_on=date(2027, 1, 20),
                actor="planner",
                at=at(20),
            ),
        )
    world.now = at(20, 15)
    decided = visit_.deliver(
        world.require(visit_.KIND, "V-1"),
        campaign=sf,
        household=world.require(household_.KIND, "H-1"),
        lots={"L-1": world.require(lot_.KIND, "L-1")},
        goods=[("L-1", 2)],
        cash_fen=90_000,
        signed_by="1",
        signer_phone=PHONE,
        actor="team3",
        at=at(20, 14),
    )
    world.emit(visit_.KIND, "V-1", decided.visit)
    world.emit(household_.KIND, "H-1", decided.household)
    world.emit(lot_.KIND, "L-1", decided.lots["L-1"])
    world.now = at(20, 17)
    world.emit(
        visit_.KIND,
        "V-2",
        visit_.cancel_visit(
            world.require(visit_.KIND, "V-2"), reason="already visited", actor=ACTOR, at=at(20, 16)
        ),
    )
    return world


EVERYTHING = Basis(position=10**6, recorded_at=None, effective=FAR_FUTURE)


def trail_of(recorded: list[tuple[Event, Meta]], ref: str) -> tuple[TrailEntry, ...]:
    """The trail of `ref` after every event of `recorded`."""
    state = TRAIL.fold(recorded)
    return report(state, EVERYTHING, ref=ref, events_at=in_memory(recorded)).entries


def types_of(recorded: list[tuple[Event, Meta]], ref: str) -> list[str]:
    """The event types on the trail of `ref`, in order."""
    return [entry.event_type for entry in trail_of(recorded, ref)]


def test_a_households_trail_holds_its_own_events_its_visits_and_its_payment() -> None:
    """H-1's trail: its registry events, then each visit's events (plan, delivery,
    cancellation), and the payment, in position order."""
    assert types_of(scenario().recorded, "H-1") == [
        "household.surveyed",
        "household.verified",
        "household.posted",
        "household.enrolled",
        "visit.planned",
        "visit.planned",
        "visit.completed",
        "household.aid_paid",
        "visit.cancelled",
    ]


def test_a_payment_touches_the_household_the_visit_and_the_campaign() -> None:
    """household.aid_paid appears on the trails of H-1, V-1 and SF-2027, and says what it paid."""
    recorded = scenario().recorded
    paid = next(e for e in trail_of(recorded, "H-1") if e.event_type == "household.aid_paid")
    assert paid.touches == ("H-1", "V-1", "SF-2027")
    assert paid.summary == (
        "paid 900.00 yuan in campaign SF-2027 by visit V-1 (minimum_allowance, entitlement "
        "900.00 yuan), signed by member 1"
    )
    assert "household.aid_paid" in types_of(recorded, "SF-2027")
    assert "household.aid_paid" in types_of(recorded, "V-1")


def test_an_issue_touches_the_lot_and_the_visit_it_went_to() -> None:
    """lot.issued is on the trail of L-1 and of V-1, in the lot's own words ("2 quilts")."""
    recorded = scenario().recorded
    assert types_of(recorded, "L-1") == [
        "lot.received",
        "lot.inspected",
        "visit.completed",
        "lot.issued",
    ]
    issued = next(e for e in trail_of(recorded, "L-1") if e.event_type == "lot.issued")
    assert issued.summary == "2 quilts issued to visit V-1"
    assert issued.touches == ("L-1", "V-1")


def test_a_campaigns_trail_holds_what_names_it() -> None:
    """SF-2027's trail: its opening, the enrolment, both visit plans and the payment."""
    assert types_of(scenario().recorded, "SF-2027") == [
        "campaign.opened",
        "household.enrolled",
        "visit.planned",
        "visit.planned",
        "household.aid_paid",
    ]


def test_an_entry_carries_both_clocks_the_actor_and_the_reason() -> None:
    """The cancellation of V-2, dated 16:00 by the team and recorded at 17:00, shows both
    clocks, its position, the actor and the reason."""
    recorded = scenario().recorded
    _, meta = recorded[-1]
    (entry,) = events_of(
        TRAIL.fold(recorded), EVERYTHING, [meta.position], events_at=in_memory(recorded)
    )
    assert (meta.position, at(20, 17), at(20, 16), ACTOR, "already visited") == (
        entry.position,
        entry.recorded_at,
        entry.effective_at,
        entry.actor,
        entry.reason,
    )
    assert entry.summary == "visit cancelled"


def test_the_survey_names_the_head_until_the_household_is_erased() -> None:
    """The survey's summary shows the head's name while the household's key exists; read
    back after household.erased (its key destroyed) the same events give [erased], from
    the same folded state, and to_dict holds no trace of the name."""
    world = scenario()
    keyring = MemoryKeyring()
    codec = Codec(keyring)
    erased = household_.erase(
        world.require(household_.KIND, "H-1"), reason="request", actor=ACTOR, at=world.now
    )
    world.emit(household_.KIND, "H-1", erased)
    mapper = EventMapper(codec)
    stored = [
        (event.type_name, mapper.to_stored_event(Envelope(uuid4(), 1, event)).state, meta)
        for event, meta in world.recorded
    ]
    state = TRAIL.fold(world.recorded)
    before = report(
        state,
        EVERYTHING,
        ref="H-1",
        events_at=in_memory([(mapper.event_of(name, data), meta) for name, data, meta in stored]),
    )
    assert "head 陈国华" in before.entries[0].summary
    keyring.destroy(household_subject("H-1"))
    trail = report(
        state,
        EVERYTHING,
        ref="H-1",
        events_at=in_memory([(mapper.event_of(name, data), meta) for name, data, meta in stored]),
    )
    assert f"head {ERASED_TEXT}" in trail.entries[0].summary
    assert "陈国华" not in json.dumps(trail.to_dict(), ensure_ascii=False)
    assert trail.entries[-1].event_type == "household.erased"


def test_a_checkpoint_holds_no_personal_value() -> None:
    """The folded trail is an index of references and positions: its checkpoint holds no
    name, and decodes to the same state."""
    state = TRAIL.fold(scenario().recorded)
    codec = Codec(MemoryKeyring())
    stored = codec.encode(state)
    assert "陈国华".encode() not in stored
    assert codec.decode(stored) == state


def test_events_of_gives_the_entries_behind_a_figure_in_order() -> None:
    """The drill-down: positions in any order, repeated or unknown, give the known entries
    once each, in position order."""
    recorded = scenario().recorded
    state = TRAIL.fold(recorded)
    last = len(recorded)
    entries = events_of(state, EVERYTHING, [last, 3, 3, 10**6, 1], events_at=in_memory(recorded))
    assert [1, 3, last] == [entry.position for entry in entries]


def test_events_of_keeps_to_its_basis() -> None:
    """Drilling down at a basis skips the positions after it and the events not yet
    effective at it (the delivery, dated 14:00, asked for 13:00), as the trail folded at
    that basis does."""
    recorded = scenario().recorded
    before_delivery = at(20, 13)
    basis = Basis(position=len(recorded) - 1, recorded_at=None, effective=before_delivery)
    state = brute_force(TRAIL, recorded, basis)
    everything = range(1, len(recorded) + 1)
    entries = events_of(state, basis, everything, events_at=in_memory(recorded))
    expected = [
        meta.position
        for event, meta in recorded
        if meta.position <= basis.position and event.effective_at <= before_delivery
    ]
    assert [entry.position for entry in entries] == expected
    assert len(expected) < len(recorded) - 1
    assert "visit.completed" not in {entry.event_type for entry in entries}


def test_an_unknown_reference_has_an_empty_trail() -> None:
    """Asking for a reference nothing touched gives an empty trail, not an error."""
    recorded = scenario().recorded
    basis = Basis(position=5, recorded_at=None, effective=FAR_FUTURE)
    assert (
        report(TRAIL.fold(recorded), basis, ref="H-404", events_at=in_memory(recorded)).entries
        == ()
    )


def test_the_trail_converts_to_plain_json() -> None:
    """to_dict gives JSON-able values: ISO times, the basis, one summary per entry."""
    recorded = scenario().recorded
    state = TRAIL.fold(recorded)
    basis = Basis(position=len(recorded), recorded_at=at(20, 15), effective=at(20, 15))
    data = report(state, basis, ref="V-1", events_at=in_memory(recorded)).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert {
        "position": len(recorded),
        "recorded_at": at(20, 15).isoformat(),
        "effective": at(20, 15).isoformat(),
    } == data["basis"]
    first = data["entries"][0]
    assert first["type"] == "visit.planned"
    assert first["kind"] == "visit"
    assert first["touches"] == ["V-1", "H-1", "SF-2027"]
    assert at(20).isoformat() == first["effective_at"]


# ---------------------------------------------------------------- properties over histories

HISTORY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@HISTORY_SETTINGS
@given(recorded=histories(min_steps=20, max_steps=80))
def test_the_trail_matches_the_model_at_every_prefix(recorded: list[tuple[Event, Meta]]) -> None:
    """Folding event by event, the trail at every prefix equals the model over that prefix,
    and equals a fold from scratch."""
    state = TRAIL.initial()
    for count, (event, meta) in enumerate(recorded, start=1):
        state = TRAIL.apply(state, event, meta)
        assert_matches_model(state, recorded[:count])
        assert TRAIL.fold(recorded[:count]) == state


@HISTORY_SETTINGS
@given(
    recorded=histories(min_steps=20, max_steps=80),
    cut=st.integers(0, 200),
    lag_minutes=st.integers(-3 * 24 * 60, 3 * 24 * 60),
)
def test_an_answer_ignores_what_was_recorded_later_or_effective_later(
    recorded: list[tuple[Event, Meta]], cut: int, lag_minutes: int
) -> None:
    """At (P, V) the trail holds exactly the events at or before position P and effective
    by V, as the model says over that selection."""
    position = min(cut, len(recorded))
    effective = at(16) + timedelta(days=cut % 25, minutes=lag_minutes)
    basis = Basis(position=position, recorded_at=None, effective=effective)
    chosen = [
        (event, meta)
        for event, meta in recorded
        if meta.position <= position and event.effective_at <= effective
    ]
    state = brute_force(TRAIL, recorded, basis)
    assert_matches_model(state, chosen)


@HISTORY_SETTINGS
@given(recorded=histories(min_steps=20, max_steps=80), split=st.integers(0, 200))
def test_a_checkpoint_round_trips_and_resuming_from_it_equals_a_full_fold(
    recorded: list[tuple[Event, Meta]], split: int
) -> None:
    """The state survives the codec unchanged, and folding the tail onto a decoded
    checkpoint gives the state of a full fold."""
    codec = Codec(MemoryKeyring())
    head = TRAIL.fold(recorded[:split])
    restored = codec.decode(codec.encode(head))
    assert head == restored
    assert TRAIL.fold(recorded) == TRAIL.fold(recorded[split:], restored)
