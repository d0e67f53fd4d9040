"""Random sequences of valid and invalid commands never break the campaign's rules.

A hypothesis state machine drives the public commands (households, lots, visits)
with random arguments, many of them refused. After every step the rules are checked
against a brute-force model computed from the raw event log, not from the
aggregates' own state:

- no lot's available quantity is negative at any effective time;
- every aid payment without an override pays exactly what remained of the highest
  tier the household qualified for, so nobody is paid twice or above its tier;
- aid goes only to households enrolled in the campaign, not disqualified, not under
  an unresolved objection, and is signed by a registered member;
- a refused command appends nothing;
- a fresh application over the same store loads the same states (nothing lives only
  in a cache).

It runs on the in-memory store, on a SQLite file and on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

import warmcase
from tests.clocks import ManualClock, at
from tests.scenario import CAMPAIGN, open_campaign
from tests.strategies.campaign import spring_festival_standards
from warmcase.app import Warmcase
from warmcase.domain import household, lot, visit
from warmcase.domain.campaign import AidStandard
from warmcase.errors import CommandRefused
from warmcase.events import Event

HOUSEHOLDS = [f"H-{n}" for n in range(4)]
LOTS = [f"L-{n}" for n in range(3)]
VISITS = [f"V-{n}" for n in range(8)]
CATEGORY_SETS = st.sampled_from(
    [
        ("minimum_allowance",),
        ("marginal",),
        ("minimum_allowance", "marginal"),
        ("entitled_group", "marginal"),
        ("landless_farmer",),
        ("poor_student",),  # no standard in this campaign
    ]
)
STANDARDS = {s.category: s for s in spring_festival_standards()}


def entitlement(categories: frozenset[str], size: int) -> int:
    """The highest tier the categories give, by brute force over the campaign's standards."""
    amounts = [STANDARDS[c].amount_for(size) for c in categories if c in STANDARDS]
    return max(amounts, default=0)


class ReliefBooks(RuleBasedStateMachine):
    """Commands at random against one store; the rules checked from the raw log."""

    store_url: Callable[[], str] = staticmethod(lambda: "memory:")
    registered = Bundle("registered")
    enrolled = Bundle("enrolled")
    stocked = Bundle("stocked")
    planned = Bundle("planned")

    def __init__(self) -> None:
        super().__init__()
        self.url = type(self).store_url()
        self.clock = ManualClock(at(10))
        self.app: Warmcase = warmcase.open(self.url, clock=self.clock)
        open_campaign(self.app)

    def teardown(self) -> None:
        self.app.close()

    # ------------------------------------------------------------ running commands

    def attempt(self, command: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Run a command; a refusal must leave the log exactly as it was."""
        before = self.app.recorder.max_notification_id()
        try:
            command(*args, actor="tester", **kwargs)
        except CommandRefused:
            assert before == self.app.recorder.max_notification_id()
            return False
        return True

    def backdated(self, hours: int) -> Any:
        return self.clock() - timedelta(hours=hours)

    # ------------------------------------------------------------ households

    @rule(
        target=registered,
        ref=st.sampled_from(HOUSEHOLDS),
        categories=CATEGORY_SETS,
        members=st.integers(0, 3),
    )
    def register(self, ref: str, categories: tuple[str, ...], members: int) -> Any:
        done = self.attempt(
            self.app.register_household,
            ref,
            district="Gulou",
            street="Dongjie",
            community=f"C-{ref[-1]}",
            grid="G1",
            address_detail="Room 1",
            head_name="户主",
            phone="13800138000",
            members=[
                household.NewMember(name=f"成员{i}", relation="child") for i in range(members)
            ],
            categories=categories,
            hardship_level=2,
            effective_at=self.backdated(24 * 40),
        )
        return ref if done else multiple()

    @rule(target=enrolled, ref=registered)
    def prepare_for_aid(self, ref: str) -> Any:
        self.attempt(self.app.verify_household, ref, effective_at=self.backdated(24 * 39))
        self.attempt(
            self.app.post_household, ref, place="board", effective_at=self.backdated(24 * 38)
        )
        done = self.attempt(self.app.enroll_household, ref, campaign=CAMPAIGN)
        return ref if done else multiple()

    @rule(target=planned, ref=st.sampled_from(HOUSEHOLDS), visit=st.sampled_from(VISITS))
    def household_ready_for_a_visit(self, ref: str, visit: str) -> Any:
        """The common path, in one step: register, enrol and plan a visit."""
        self.register(ref, ("minimum_allowance",), members=len(visit) % 3)
        self.prepare_for_aid(ref)
        return self.plan(visit, ref)

    @rule(ref=registered, categories=CATEGORY_SETS)
    def change_categories(self, ref: str, categories: tuple[str, ...]) -> None:
        self.attempt(self.app.update_household, ref, categories=categories, reason="resurveyed")

    @rule(ref=registered, upheld=st.booleans(), resolve=st.booleans())
    def objection(self, ref: str, upheld: bool, resolve: bool) -> None:
        objection_id = f"O-{uuid.uuid4().hex[:6]}"
        raised = self.attempt(
            self.app.raise_objection,
            ref,
            objection_id=objection_id,
            grounds="has a car",
            raised_by="neighbour",
        )
        if raised and resolve:
            self.attempt(
                self.app.resolve_objection,
                ref,
                objection_id=objection_id,
                upheld=upheld,
                reason="checked at the door",
            )

    @rule(ref=consumes(enrolled))
    def disqualify(self, ref: str) -> None:
        self.attempt(self.app.disqualify_household, ref, campaign=CAMPAIGN, reason="false report")

    @rule(duplicate=consumes(registered), survivor=registered)
    def merge(self, duplicate: str, survivor: str) -> None:
        self.attempt(self.app.merge_households, duplicate, into=survivor, reason="same family")

    # ------------------------------------------------------------ lots

    @rule(
        target=stocked,
        ref=st.sampled_from(LOTS),
        quantity=st.integers(1, 30),
        rejected=st.integers(0, 3),
    )
    def receive_and_inspect(self, ref: str, quantity: int, rejected: int) -> Any:
        received = self.attempt(
            self.app.receive_lot,
            ref,
            donor="Enterprise",
            item="quilt",
            unit="piece",
            quantity=quantity,
            warehouse="W1",
            effective_at=self.backdated(24 * 5),
        )
        if received:
            rejected = min(rejected, quantity)
            self.attempt(
                self.app.inspect_lot,
                ref,
                accepted=quantity - rejected,
                rejected=rejected,
                rejections=[(rejected, "stained")] if rejected else [],
                effective_at=self.backdated(24 * 4),
            )
        return ref if received else multiple()

    @rule(ref=stocked, quantity=st.integers(1, 12), hours=st.integers(0, 24 * 4))
    def write_off(self, ref: str, quantity: int, hours: int) -> None:
        self.attempt(
            self.app.write_off,
            ref,
            quantity=quantity,
            reason="damp",
            effective_at=self.backdated(hours),
        )

    @rule(ref=stocked, quantity=st.integers(1, 12), hours=st.integers(0, 24 * 4))
    def distribute(self, ref: str, quantity: int, hours: int) -> None:
        self.attempt(
            self.app.issue_lot,
            ref,
            quantity=quantity,
            channel="distribution",
            to="point-1",
            effective_at=self.backdated(hours),
        )

    # ------------------------------------------------------------ visits

    @rule(target=planned, ref=st.sampled_from(VISITS), home=st.one_of(enrolled, registered))
    def plan(self, ref: str, home: str) -> Any:
        done = self.attempt(
            self.app.plan_visit,
            ref,
            campaign=CAMPAIGN,
            household=home,
            team="T1",
            leader="Li",
            planned_on=self.clock().date(),
        )
        return ref if done else multiple()

    @rule(
        ref=planned,
        cash=st.sampled_from(["owed", "owed", 0, 55_000, 70_000, 110_000, 160_000, 20_000]),
        goods=st.lists(st.tuples(stocked, st.integers(1, 8)), max_size=2, unique_by=lambda g: g[0]),
        signer=st.sampled_from(["1", "1", "1", "2", "9"]),
        override=st.sampled_from([None, None, None, "leader approved a second hardship"]),
    )
    def deliver(
        self,
        ref: str,
        cash: int | str,
        goods: list[tuple[str, int]],
        signer: str,
        override: str | None,
    ) -> None:
        if cash == "owed":
            # Inputs may come from the application's state; the checks never do.
            planned = self.app.load(visit.KIND, ref)
            home = self.app.load(household.KIND, planned.household)
            cash = max(0, entitlement(home.categories, home.size) - home.paid_fen(CAMPAIGN))
        self.attempt(
            self.app.complete_visit,
            ref,
            goods=goods,
            cash_fen=cash,
            signed_by=signer,
            signer_phone="13900139000",
            override_reason=override,
        )

    @rule(ref=consumes(planned), goods=st.lists(st.tuples(stocked, st.integers(1, 3)), max_size=1))
    def visit_and_pay_what_is_owed(self, ref: str, goods: list[tuple[str, int]]) -> None:
        """The common path: the head signs for exactly what remains of the tier."""
        self.deliver(ref, "owed", goods, "1", None)

    @rule(hours=st.integers(1, 48))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    # ------------------------------------------------------------ the rules, from the log

    def log(self) -> Iterator[tuple[int, Event]]:
        recorder = self.app.recorder
        position = 0
        while True:
            page = recorder.select_notifications(position + 1, 500)
            if not page:
                return
            for notification in page:
                yield notification.id, self.app.envelope(notification).event
            position = page[-1].id

    @invariant()
    def no_lot_is_ever_negative(self) -> None:
        movements: dict[str, list[tuple[Any, int, int]]] = defaultdict(list)
        for position, event in self.log():
            delta = 0
            if isinstance(event, lot.LotInspected):
                delta = event.accepted
            elif isinstance(event, lot.LotIssued | lot.LotWrittenOff | lot.LotReturned):
                delta = -event.quantity
            if delta:
                movements[event.ref].append((event.effective_at, position, delta))
        for ref, moves in movements.items():
            balance = 0
            for moment, _, delta in sorted(moves):
                balance += delta
                assert balance >= 0, f"lot {ref} at {moment}: {balance}"

    @invariant()
    def aid_follows_the_rules(self) -> None:
        size: dict[str, int] = {}
        members: dict[str, set[str]] = {}
        categories: dict[str, frozenset[str]] = {}
        enrolled: set[str] = set()
        disqualified: set[str] = set()
        open_objections: dict[str, set[str]] = defaultdict(set)
        paid: dict[str, int] = defaultdict(int)
        for _, event in self.log():
            ref = event.ref
            match event:
                case household.HouseholdSurveyed():
                    size[ref] = len(event.members)
                    members[ref] = {m.member_id for m in event.members}
                    categories[ref] = event.categories
                case household.CircumstancesUpdated() if event.categories is not None:
                    categories[ref] = event.categories
                case household.HouseholdEnrolled():
                    enrolled.add(ref)
                case household.HouseholdDisqualified():
                    disqualified.add(ref)
                case household.ObjectionRaised():
                    open_objections[ref].add(event.objection_id)
                case household.ObjectionResolved():
                    open_objections[ref].discard(event.objection_id)
                case household.DuplicateAbsorbed():
                    paid[ref] += sum(p.amount_fen for p in event.payments)
                case household.AidPaid():
                    assert ref in enrolled, ref
                    assert ref not in disqualified, ref
                    assert not open_objections[ref], ref
                    assert event.signed_by in members[ref], (ref, event.signed_by)
                    if event.override_reason is None:
                        owed = entitlement(categories[ref], size[ref]) - paid[ref]
                        assert owed == event.amount_fen, (ref, owed, event.amount_fen)
                    paid[ref] += event.amount_fen

    @invariant()
    def a_fresh_application_sees_the_same_books(self) -> None:
        if self.url == "memory:":
            return  # nothing outside this process to reopen
        fresh = warmcase.open(self.url)
        try:
            for kind, refs in (
                (household.KIND, HOUSEHOLDS),
                (lot.KIND, LOTS),
                (visit.KIND, VISITS),
            ):
                for ref in refs:
                    assert self.app.load(kind, ref) == fresh.load(kind, ref), ref
        finally:
            fresh.close()


def run(store_url: Callable[[], str], examples: int) -> None:
    """Run the machine with stores from `store_url`."""
    machine = type("Books", (ReliefBooks,), {"store_url": staticmethod(store_url)})
    run_state_machine_as_test(
        machine, settings=settings(max_examples=examples, stateful_step_count=25, deadline=None)
    )


def test_rules_hold_on_the_memory_store() -> None:
    """Random command sequences never break the rules (in-memory store, many examples)."""
    run(lambda: "memory:", examples=150)


def test_rules_hold_on_sqlite(tmp_path: Path) -> None:
    """Random command sequences never break the rules on a SQLite file."""
    run(lambda: f"sqlite:///{tmp_path / uuid.uuid4().hex}.db", examples=15)


@pytest.mark.postgres
def test_rules_hold_on_postgresql(postgres_database_factory: Callable[[], str]) -> None:
    """Random command sequences never break the rules on PostgreSQL."""
    run(postgres_database_factory, examples=10)


def test_the_standards_used_by_the_model_are_the_campaigns() -> None:
    """The model's standards are the reference campaign's (a guard against drift)."""
    assert all(isinstance(s, AidStandard) for s in STANDARDS.values())
    assert entitlement(frozenset({"minimum_allowance", "marginal"}), 3) == 110_000
