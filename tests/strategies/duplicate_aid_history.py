"""Histories rich in what the duplicate-aid report looks for, and builders for its scenarios.

The commands are the season's (:mod:`tests.strategies.audit_trail_history`), drawn
with the ones that make duplicates more often: registrations of one family written
several ways, deliveries with goods and cash, distribution issues registered against
households, merges, overrides, top-ups after a change of category, and payments
imported from an older system that today's rules would refuse.

The builders play one scenario step at a time through the decisions, on a
:class:`~tests.strategies.audit_trail_history.World`, for the example-based tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from hypothesis import strategies as st

from tests.strategies.audit_trail_history import (
    ACTOR,
    PHONE,
    Op,
    World,
    deliver,
    enroll,
    histories,
    import_legacy_payment,
    issue_to_distribution,
    merge,
    pick,
    rarely,
    receive_lot,
    register,
    update,
)
from tests.strategies.audit_trail_history import erase as erase_op
from tests.strategies.household import fake_digest
from warmcase.domain import campaign as campaign_
from warmcase.domain import household as household_
from warmcase.domain import lot as lot_
from warmcase.domain import visit as visit_
from warmcase.domain.household import NewMember
from warmcase.events import Event
from warmcase.personal import Personal, household_subject
from warmcase.projections.projection import Meta


def distribute_to_visited(world: World, draw: st.DrawFn) -> None:
    """Goods from a distribution point registered against a household already visited."""
    visits = [world.states[("visit", v)] for v in world.refs(visit_.KIND)]
    households = sorted({v.household for v in visits if v.status == visit_.COMPLETED})
    goods = [r for r in world.refs(lot_.KIND) if world.states[("lot", r)].kind == "goods"]
    distributed(world, pick(draw, goods), pick(draw, households))


def raise_category(world: World, draw: st.DrawFn) -> None:
    """A paid household turns out to be on the minimum allowance with a bigger family:
    its entitlement rises, and the next delivery may pay the difference (a top-up)."""
    paid = [ref for ref in world.refs(household_.KIND) if world.states[("household", ref)].ledger]
    ref = pick(draw, paid)
    updated(
        world,
        ref,
        categories=["minimum_allowance", "entitled_group"],
        add_members=[NewMember(name="孙子", relation="grandchild")],
    )


DUPLICATE_OPS: tuple[Op, ...] = (
    distribute_to_visited,
    raise_category,
    register,
    register,
    register,
    enroll,
    update,
    merge,
    merge,
    import_legacy_payment,
    receive_lot,
    receive_lot,
    issue_to_distribution,
    issue_to_distribution,
    deliver,
    deliver,
    deliver,
    rarely(erase_op),
)


def duplicate_histories(
    min_steps: int = 0, max_steps: int = 40
) -> st.SearchStrategy[list[tuple[Event, Meta]]]:
    """Recorded histories weighted towards duplicate aid."""
    return histories(ops=DUPLICATE_OPS, min_steps=min_steps, max_steps=max_steps)


# ---------------------------------------------------------------- scenario builders


def registered(
    world: World,
    ref: str,
    *,
    head: str = "陈国华",
    address: str = "红桥路12号3单元401",
    community: str = "温泉社区",
    grid: str = "G-01",
    head_id: str | None = None,
    others: Iterable[NewMember] = (),
    categories: Iterable[str] = ("minimum_allowance",),
    enrolled_in: Iterable[str] = ("SF-2027",),
) -> None:
    """Survey, verify and post `ref` two days ago, then enrol it in `enrolled_in` now."""
    people = [NewMember(name=head, relation="head", id_number=head_id), *others]
    surveyed_at = world.now - timedelta(days=2)
    surveyed = household_.survey(
        None,
        ref=ref,
        district="鼓楼区",
        street="东街街道",
        community=community,
        grid=grid,
        address_detail=address,
        head=people[0],
        members=people[1:],
        phone=PHONE,
        categories=categories,
        hardship_level=2,
        digests=household_.id_digests(people, fake_digest),
        actor="surveyor",
        at=surveyed_at,
    )
    world.emit(household_.KIND, ref, surveyed)
    state = world.require(household_.KIND, ref)
    world.emit(
        household_.KIND,
        ref,
        household_.verify(state, actor=ACTOR, at=surveyed_at + timedelta(hours=1)),
    )
    state = world.require(household_.KIND, ref)
    world.emit(
        household_.KIND,
        ref,
        household_.post(
            state,
            place="notice board",
            window_days=1,
            actor=ACTOR,
            at=surveyed_at + timedelta(hours=2),
        ),
    )
    for campaign in enrolled_in:
        state = world.require(household_.KIND, ref)
        running = world.require(campaign_.KIND, campaign)
        world.emit(
            household_.KIND,
            ref,
            household_.enroll(state, campaign=running, actor=ACTOR, at=world.now),
        )


def stocked(world: World, ref: str = "L-1", quantity: int = 20) -> None:
    """A lot of quilts received and accepted in full an hour ago."""
    received = lot_.receive(
        None,
        ref=ref,
        donor="Xinhua Textiles Co.",
        item="quilt",
        unit="piece",
        quantity=quantity,
        warehouse="Gulou store",
        actor="store",
        at=world.now - timedelta(hours=1),
    )
    world.emit(lot_.KIND, ref, received)
    world.emit(
        lot_.KIND,
        ref,
        lot_.inspect(
            world.require(lot_.KIND, ref),
            accepted=quantity,
            actor="store",
            at=world.now - timedelta(minutes=30),
        ),
    )


def visited(
    world: World,
    visit: str,
    household: str,
    *,
    campaign: str = "SF-2027",
    cash_fen: int = 0,
    goods: Iterable[tuple[str, int]] = (),
    signed_by: str = "1",
    override_reason: str | None = None,
) -> None:
    """Plan `visit` and deliver at once, through the delivery decision (refusals propagate)."""
    running = world.require(campaign_.KIND, campaign)
    world.emit(
        visit_.KIND,
        visit,
        visit_.plan_visit(
            None,
            ref=visit,
            campaign=running,
            household=world.require(household_.KIND, household),
            team="team 3",
            leader="Zhang Wei",
            planned_on=world.now.date(),
            actor="planner",
            at=world.now,
        ),
    )
    lines = list(goods)
    decided = visit_.deliver(
        world.require(visit_.KIND, visit),
        campaign=running,
        household=world.require(household_.KIND, household),
        lots={lot: world.require(lot_.KIND, lot) for lot, _ in lines},
        goods=lines,
        cash_fen=cash_fen,
        signed_by=signed_by,
        signer_phone=PHONE,
        override_reason=override_reason,
        actor="team3",
        at=world.now,
    )
    world.emit(visit_.KIND, visit, decided.visit)
    world.emit(household_.KIND, household, decided.household)
    for lot, events in decided.lots.items():
        world.emit(lot_.KIND, lot, events)


def merged(world: World, duplicate: str, survivor: str) -> None:
    """Merge `duplicate` into `survivor`: both records in one write."""
    events = household_.merge(
        world.require(household_.KIND, duplicate),
        world.require(household_.KIND, survivor),
        reason="same family registered twice",
        actor=ACTOR,
        at=world.now,
    )
    world.emit(household_.KIND, duplicate, events[:1])
    world.emit(household_.KIND, survivor, events[1:])


def updated(world: World, household: str, **changes: object) -> None:
    """Record changed circumstances of `household` (digests computed for added members)."""
    added = changes.get("add_members", ())
    assert isinstance(added, list | tuple)
    world.emit(
        household_.KIND,
        household,
        household_.update(
            world.require(household_.KIND, household),
            reason="found at the door",
            digests=household_.id_digests(added, fake_digest),
            actor=ACTOR,
            at=world.now,
            **changes,  # type: ignore[arg-type]
        ),
    )


def erased(world: World, household: str) -> None:
    """Erase `household`'s personal data (the event; the store would destroy the key)."""
    world.emit(
        household_.KIND,
        household,
        household_.erase(
            world.require(household_.KIND, household), reason="request", actor=ACTOR, at=world.now
        ),
    )


def distributed(world: World, lot: str, to: str, *, quantity: int = 1) -> None:
    """Goods handed out at a distribution point and registered against `to`."""
    world.emit(
        lot_.KIND,
        lot,
        lot_.issue(
            world.require(lot_.KIND, lot),
            quantity=quantity,
            channel="distribution",
            to=to,
            actor="point 2",
            at=world.now,
        ),
    )


def legacy_payment(
    world: World,
    household: str,
    *,
    visit: str,
    amount_fen: int,
    entitlement_fen: int,
    signed_by: str = "1",
    campaign: str = "SF-2027",
    effective_at: datetime | None = None,
) -> None:
    """A payment imported from an older system, which today's rules may refuse."""
    world.emit(
        household_.KIND,
        household,
        [
            household_.AidPaid(
                ref=household,
                actor="import",
                effective_at=effective_at or world.now,
                campaign=campaign,
                visit=visit,
                amount_fen=amount_fen,
                category="minimum_allowance",
                entitlement_fen=entitlement_fen,
                signed_by=signed_by,
                signer_phone=Personal(household_subject(household), PHONE),
            )
        ],
    )
