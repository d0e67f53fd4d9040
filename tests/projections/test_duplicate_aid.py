"""Duplicate aid per campaign: repeat and above-tier payments, overrides, proxy signatures,
split payments, duplicate registrations and goods through several channels."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import warmcase.app  # noqa: F401 - registers every event type
from tests.clocks import at
from tests.strategies.audit_trail_history import PHONE, World, open_campaigns
from tests.strategies.duplicate_aid_history import (
    distributed,
    duplicate_histories,
    erased,
    legacy_payment,
    merged,
    registered,
    stocked,
    updated,
    visited,
)
from warmcase.clock import local_date, zone
from warmcase.domain import campaign as campaign_
from warmcase.domain import household as household_
from warmcase.domain import lot as lot_
from warmcase.domain import visit as visit_
from warmcase.domain.household import AidAlreadyPaid, NewMember
from warmcase.events import Event
from warmcase.personal import ERASED_TEXT, household_subject
from warmcase.projections.answering import brute_force
from warmcase.projections.audit_trail import AuditTrail, events_of, in_memory
from warmcase.projections.basis import Basis
from warmcase.projections.duplicate_aid import (
    DuplicateAid,
    DuplicateAidReport,
    DuplicateAidState,
    report,
)
from warmcase.projections.normalise import fold
from warmcase.projections.projection import Meta
from warmcase_adapters.codec import Codec
from warmcase_adapters.keyring import MemoryKeyring

AID = DuplicateAid()
CAMPAIGNS = ("SF-2027", "UNION-2027")
FAR_FUTURE = at(1, year=2030)
ID_A = "350102195001011234"
ID_B = "350102196203034567"


def world() -> World:
    """Both campaigns open on 16 January 2027."""
    started = World(start=at(16))
    open_campaigns(started)
    return started


def answer(recorded: list[tuple[Event, Meta]], campaign: str = "SF-2027") -> DuplicateAidReport:
    """The report over the whole of `recorded`."""
    basis = Basis(position=len(recorded), recorded_at=None, effective=FAR_FUTURE)
    return report(AID.fold(recorded), basis, campaign=campaign)


# ---------------------------------------------------------------- an obviously correct model


def latest_members(
    events: list[tuple[Event, int]], household: str, before: int
) -> tuple[tuple[household_.Member, ...], int] | None:
    """The members `household` had registered just before position `before`, and where set."""
    found = None
    for event, position in events:
        if position >= before or event.ref != household:
            continue
        if (
            isinstance(event, household_.HouseholdSurveyed | household_.CircumstancesUpdated)
            and event.members is not None
        ):
            found = (event.members, position)
    return found


def latest_address(
    events: list[tuple[Event, int]], household: str
) -> tuple[household_.Address, int] | None:
    """The address `household` has registered at the end of `events`, and where set."""
    found = None
    for event, position in events:
        if (
            event.ref == household
            and isinstance(event, household_.HouseholdSurveyed | household_.CircumstancesUpdated)
            and event.address is not None
        ):
            found = (event.address, position)
    return found


def ledger(
    events: list[tuple[Event, int]], household: str, campaign: str, before: int
) -> list[dict[str, Any]]:
    """The payments of `household` in `campaign` before `before`: its own, then those
    carried in by each merger, traced recursively through the duplicate's own ledger."""
    lines: list[dict[str, Any]] = []
    for event, position in events:
        if position >= before or event.ref != household:
            continue
        if isinstance(event, household_.AidPaid) and event.campaign == campaign:
            lines.append(
                {
                    "household": household,
                    "visit": event.visit,
                    "amount": event.amount_fen,
                    "entitlement": event.entitlement_fen,
                    "override": event.override_reason,
                    "position": position,
                    "via": (),
                }
            )
        if isinstance(event, household_.DuplicateAbsorbed):
            earlier = ledger(events, event.duplicate, campaign, position)
            for payment in event.payments:
                if payment.campaign != campaign:
                    continue
                match = [
                    line
                    for line in earlier
                    if (line["household"], line["visit"]) == (payment.household, payment.visit)
                ]
                base: dict[str, Any] = (
                    match[0]
                    if match
                    else {
                        "household": payment.household,
                        "visit": payment.visit,
                        "amount": payment.amount_fen,
                        "entitlement": payment.entitlement_fen,
                        "override": payment.override_reason,
                        "position": None,
                        "via": (),
                    }
                )
                lines.append({**base, "via": (*base["via"], position)})
    return lines


def sources_of(lines: list[dict[str, Any]]) -> tuple[int, ...]:
    """Every position behind `lines`."""
    found = {line["position"] for line in lines if line["position"] is not None}
    found |= {via for line in lines for via in line["via"]}
    return tuple(sorted(found))


def explained(lines: list[dict[str, Any]]) -> bool:
    """Whether each later regular payment paid exactly what a raised entitlement left."""
    paid = 0
    previous = None
    for line in lines:
        if not line["via"] and line["override"] is None:
            if previous is not None and not (
                line["entitlement"] > previous["entitlement"]
                and line["amount"] == line["entitlement"] - paid
            ):
                return False
            previous = line
        paid += line["amount"]
    return True


def model(recorded: list[tuple[Event, Meta]], campaign: str) -> dict[str, list[Any]]:
    """Every section of the report, computed from the raw events with plain loops."""
    events = [(event, meta.position) for event, meta in recorded]
    end = 1 + max((position for _, position in events), default=0)
    surveyed = sorted({e.ref for e, _ in events if isinstance(e, household_.HouseholdSurveyed)})
    ledgers = {h: ledger(events, h, campaign, end) for h in surveyed}
    ledgers = {h: lines for h, lines in ledgers.items() if lines}
    expected: dict[str, list[Any]] = {key: [] for key in SECTIONS}
    for household, lines in sorted(ledgers.items()):
        paid = sum(line["amount"] for line in lines)
        entitled = max(line["entitlement"] for line in lines)
        if len(lines) > 1:
            expected["repeat"].append((household, sources_of(lines)))
        if paid > entitled:
            expected["above"].append((household, paid, entitled))
        own = [line for line in lines if not line["via"]]
        expected["overrides"] += [
            (household, line["visit"], line["override"], (line["position"],))
            for line in own
            if line["override"] is not None
        ]
        regular = [line for line in own if line["override"] is None]
        if len(regular) > 1:
            expected["split"].append((household, explained(lines)))
    signatures: dict[str, tuple[str, str, bool, frozenset[int]]] = {}
    plans: dict[str, tuple[str, str, int]] = {}
    for event, position in events:
        if isinstance(event, visit_.VisitPlanned):
            plans[event.ref] = (event.household, event.campaign, position)
        if isinstance(event, household_.AidPaid) and event.campaign == campaign:
            household, visit, sources = event.ref, event.visit, {position}
        elif isinstance(event, visit_.VisitCompleted) and event.ref in plans:
            household, planned_in, planned_at = plans[event.ref]
            if planned_in != campaign:
                continue
            visit, sources = event.ref, {planned_at, position}
        else:
            continue
        members = latest_members(events, household, position)
        if members is None or event.signed_by in {m.member_id for m in members[0]}:
            continue
        ever = set()
        for e, p in events:
            if p < position and e.ref == household:
                ever |= {m.member_id for m in getattr(e, "members", None) or ()}
        earlier = signatures.get(visit, ("", "", False, frozenset()))[3]
        signatures[visit] = (
            household,
            event.signed_by,
            event.signed_by in ever,
            earlier | sources | {members[1]},
        )
    expected["proxies"] = [
        (visit, h, signer, was, tuple(sorted(found)))
        for visit, (h, signer, was, found) in sorted(signatures.items())
    ]
    expected["registrations"] = model_groups(events, surveyed, ledgers, campaign, end)
    expected["channels"] = model_channels(events, surveyed, campaign)
    return expected


def model_groups(
    events: list[tuple[Event, int]],
    surveyed: list[str],
    ledgers: dict[str, Any],
    campaign: str,
    end: int,
) -> list[tuple[str, tuple[str, ...]]]:
    """Households sharing a digest, or a folded head and address, one of them in the campaign."""
    gone = {
        e.ref
        for e, _ in events
        if isinstance(e, household_.HouseholdErased | household_.MergedInto)
    }
    enrolled = {
        e.ref
        for e, _ in events
        if isinstance(e, household_.HouseholdEnrolled) and e.campaign == campaign
    }
    by_digest: dict[str, set[str]] = {}
    by_key: dict[str, set[str]] = {}
    for household in surveyed:
        members = latest_members(events, household, end)
        address = latest_address(events, household)
        if household in gone or members is None or address is None:
            continue
        head = next((m.name.value for m in members[0] if m.is_head), None)
        if head is None:
            continue
        for member in members[0]:
            if member.id_digest is not None:
                by_digest.setdefault(member.id_digest, set()).add(household)
        place = address[0]
        if place.detail.value is not None:
            parts = (head, place.district, place.street, place.community, place.detail.value)
            by_key.setdefault("|".join(fold(p) for p in parts), set()).add(household)
    groups = [("id_number", refs) for refs in by_digest.values()]
    groups += [("name_address", refs) for refs in by_key.values()]
    return sorted(
        (match, tuple(sorted(refs)))
        for match, refs in groups
        if len(refs) > 1 and refs & (enrolled | set(ledgers))
    )


def model_channels(
    events: list[tuple[Event, int]], surveyed: list[str], campaign: str
) -> list[tuple[str, tuple[str, ...], tuple[int, ...]]]:
    """Households that got goods by more than one channel in the campaign."""
    plans = {
        e.ref: (e.household, e.campaign, p) for e, p in events if isinstance(e, visit_.VisitPlanned)
    }
    opened = [e for e, _ in events if isinstance(e, campaign_.CampaignOpened)]
    period = next((e for e in opened if e.ref == campaign), None)
    received: dict[str, list[tuple[str, set[int]]]] = {}
    for event, position in events:
        if not isinstance(event, lot_.LotIssued):
            continue
        if event.to in plans:
            household, planned_in, planned_at = plans[event.to]
            if planned_in == campaign:
                received.setdefault(household, []).append((event.channel, {position, planned_at}))
        elif event.to in surveyed and period is not None:
            day = local_date(event.effective_at, zone(period.timezone))
            if period.starts_on <= day <= period.ends_on:
                received.setdefault(event.to, []).append((event.channel, {position}))
    return [
        (
            household,
            tuple(sorted({channel for channel, _ in issued})),
            tuple(sorted({p for _, found in issued for p in found})),
        )
        for household, issued in sorted(received.items())
        if len({channel for channel, _ in issued}) > 1
    ]


SECTIONS = ("repeat", "above", "overrides", "split", "proxies", "registrations", "channels")


def observed(answered: DuplicateAidReport) -> dict[str, list[Any]]:
    """The report's sections in the model's terms."""
    return {
        "repeat": [(c.household, c.sources) for c in answered.repeat_payments],
        "above": [(c.household, c.paid_fen, c.entitlement_fen) for c in answered.above_tier],
        "overrides": [
            (o.household, o.payment.visit, o.reason, o.sources) for o in answered.overrides
        ],
        "split": [(c.household, c.explained_by_top_ups) for c in answered.split_payments],
        "proxies": [
            (s.visit, s.household, s.signed_by, s.was_member, s.sources)
            for s in answered.proxy_signatures
        ],
        "registrations": sorted(
            (g.match, tuple(m.household for m in g.households))
            for g in answered.duplicate_registrations
        ),
        "channels": [(c.household, c.channels, c.sources) for c in answered.multi_channel_goods],
    }


# ---------------------------------------------------------------- payments


def test_a_merged_duplicates_payment_makes_the_survivor_paid_twice_and_above_its_tier() -> None:
    """H-2, the same family as H-1, was paid 550 yuan; H-1 900. Once H-2 is merged into
    H-1, H-1 shows both payments, 1,450 yuan against a tier of 900, and the absorbed one
    traces to H-2's payment and to the merger."""
    w = world()
    registered(w, "H-1", others=[NewMember(name="李秀英", relation="spouse")])
    registered(w, "H-2", head="王秀英", address="东街口5号")
    visited(w, "V-1", "H-1", cash_fen=90_000)
    visited(w, "V-2", "H-2", cash_fen=55_000)
    paid_h2 = len(w.recorded)
    merged(w, "H-2", "H-1")
    absorbed = len(w.recorded)
    found = answer(w.recorded)
    assert [c.household for c in found.repeat_payments] == ["H-1"]
    case = found.above_tier[0]
    assert (case.household, case.paid_fen, case.entitlement_fen) == ("H-1", 145_000, 90_000)
    assert [(p.household, p.amount_fen, p.sources) for p in case.payments] == [
        ("H-1", 90_000, (case.payments[0].position,)),
        ("H-2", 55_000, (paid_h2, absorbed)),
    ]
    line = case.to_dict()
    assert (line["paid_yuan"], line["excess_fen"], line["excess_yuan"]) == (
        "1450.00",
        55_000,
        "550.00",
    )


def test_the_command_rules_refuse_a_second_payment_that_an_override_lets_through() -> None:
    """Without an override the second payment is refused; with one it is paid and the
    report lists it as an override with its reason, a repeat payment and above tier."""
    w = world()
    registered(w, "H-1")
    visited(w, "V-1", "H-1", cash_fen=55_000)
    with pytest.raises(AidAlreadyPaid):
        visited(w, "V-2", "H-1", cash_fen=55_000)
    visited(w, "V-3", "H-1", cash_fen=30_000, override_reason="fire damaged the flat")
    found = answer(w.recorded)
    assert [(o.household, o.payment.visit, o.reason) for o in found.overrides] == [
        ("H-1", "V-3", "fire damaged the flat")
    ]
    assert [c.household for c in found.repeat_payments] == ["H-1"]
    assert [c.paid_fen for c in found.above_tier] == [85_000]
    assert found.split_payments == ()


def test_a_top_up_after_a_raise_is_a_split_explained_by_top_ups() -> None:
    """H-1 (1 person, 550 yuan) gains a member and an entitled category: the next visit
    pays exactly the difference. Two regular payments, each explained by the raise."""
    w = world()
    registered(w, "H-1")
    visited(w, "V-1", "H-1", cash_fen=55_000)
    updated(
        w,
        "H-1",
        categories=["minimum_allowance", "entitled_group"],
        add_members=[NewMember(name="孙子", relation="grandchild")],
    )
    visited(w, "V-2", "H-1", cash_fen=160_000 - 55_000)
    found = answer(w.recorded)
    assert [(c.household, c.explained_by_top_ups) for c in found.split_payments] == [("H-1", True)]
    assert found.above_tier == ()


def test_an_imported_second_payment_without_a_raise_is_an_unexplained_split() -> None:
    """Two regular payments of 275 yuan against one entitlement of 550: a payment split
    in two, which no rule explains."""
    w = world()
    registered(w, "H-1")
    legacy_payment(w, "H-1", visit="OLD-1", amount_fen=27_500, entitlement_fen=55_000)
    legacy_payment(w, "H-1", visit="OLD-2", amount_fen=27_500, entitlement_fen=55_000)
    found = answer(w.recorded)
    assert [(c.household, c.explained_by_top_ups) for c in found.split_payments] == [("H-1", False)]
    assert found.above_tier == ()


def test_payments_of_another_campaign_are_not_counted() -> None:
    """H-1 paid once by each of two departments' campaigns: neither campaign shows a repeat."""
    w = world()
    registered(w, "H-1", enrolled_in=CAMPAIGNS)
    visited(w, "V-1", "H-1", cash_fen=55_000, campaign="SF-2027")
    visited(w, "V-2", "H-1", cash_fen=55_000, campaign="UNION-2027")
    for campaign in CAMPAIGNS:
        assert answer(w.recorded, campaign).repeat_payments == ()


# ---------------------------------------------------------------- signatures


def test_a_payment_signed_by_an_id_never_registered_is_a_proxy_signature() -> None:
    """An imported payment signed by "9", who was never a member of H-1."""
    w = world()
    registered(w, "H-1")
    legacy_payment(
        w, "H-1", visit="OLD-1", amount_fen=55_000, entitlement_fen=55_000, signed_by="9"
    )
    (found,) = answer(w.recorded).proxy_signatures
    assert (found.household, found.visit, found.signed_by, found.registered, found.was_member) == (
        "H-1",
        "OLD-1",
        "9",
        ("1",),
        False,
    )


def test_a_member_removed_before_signing_is_no_longer_a_valid_signer() -> None:
    """Member 2 left H-1; a payment recorded later in their name is flagged, and the
    report says they had been a member."""
    w = world()
    registered(w, "H-1", others=[NewMember(name="李秀英", relation="spouse")])
    updated(w, "H-1", remove_members=["2"])
    removed_at = len(w.recorded)
    legacy_payment(
        w, "H-1", visit="OLD-1", amount_fen=55_000, entitlement_fen=55_000, signed_by="2"
    )
    (found,) = answer(w.recorded).proxy_signatures
    assert (found.signed_by, found.was_member) == ("2", True)
    assert found.sources == (removed_at, len(w.recorded))


def test_a_goods_only_delivery_signed_by_a_non_member_is_flagged() -> None:
    """A visit that handed over only goods has no payment, but its signature counts too:
    an imported completion signed by "7" is flagged with the plan and completion."""
    w = world()
    registered(w, "H-1")
    stocked(w)
    running = w.require(campaign_.KIND, "SF-2027")
    planned = visit_.plan_visit(
        None,
        ref="V-1",
        campaign=running,
        household=w.require(household_.KIND, "H-1"),
        team="team 3",
        leader="Zhang Wei",
        planned_on=w.now.date(),
        actor="planner",
        at=w.now,
    )
    w.emit(visit_.KIND, "V-1", planned)
    plan_at = len(w.recorded)
    completion = visit_.complete_visit(
        w.require(visit_.KIND, "V-1"),
        campaign=running,
        goods=[("L-1", 1)],
        signed_by="7",
        signer_phone=PHONE,
        actor="import",
        at=w.now,
    )
    w.emit(visit_.KIND, "V-1", completion)
    (found,) = answer(w.recorded).proxy_signatures
    assert (found.visit, found.signed_by) == ("V-1", "7")
    assert {plan_at, len(w.recorded)} <= set(found.sources)


def test_a_delivery_signed_by_a_registered_member_is_not_flagged() -> None:
    """The spouse, member 2, signs for the 900 yuan: a valid signature."""
    w = world()
    registered(w, "H-1", others=[NewMember(name="李秀英", relation="spouse")])
    visited(w, "V-1", "H-1", cash_fen=90_000, signed_by="2")
    assert answer(w.recorded).proxy_signatures == ()


# ---------------------------------------------------------------- registrations


def test_two_households_sharing_an_id_number_are_a_suspected_duplicate() -> None:
    """The head of H-1 and the spouse of H-2 carry the same ID number: compared by digest,
    the report names both households and the members that matched."""
    w = world()
    registered(w, "H-1", head_id=ID_A)
    registered(
        w,
        "H-2",
        head="王秀英",
        address="东街口5号",
        others=[NewMember(name="陈国华", relation="spouse", id_number=ID_A)],
        enrolled_in=(),
    )
    (group,) = answer(w.recorded).duplicate_registrations
    assert group.match == "id_number"
    assert [(m.household, m.members, m.enrolled) for m in group.households] == [
        ("H-1", ("1",), True),
        ("H-2", ("2",), False),
    ]


def test_traditional_full_width_and_spaced_writing_are_the_same_head_and_address() -> None:
    """陳國華 at 紅橋路１２號3單元401, 溫泉社區 is 陈国华 at 红桥路12号3单元401, 温泉社区,
    whatever the grid each team wrote down."""
    w = world()
    registered(w, "H-1")
    registered(
        w,
        "H-2",
        head="陳 國華",
        address="紅橋路１２號3單元401",
        community="溫泉社區",
        grid="G-09",
    )
    groups = answer(w.recorded).duplicate_registrations
    assert [(g.match, [m.household for m in g.households]) for g in groups] == [
        ("name_address", ["H-1", "H-2"])
    ]


def test_the_same_name_at_another_address_is_not_a_duplicate() -> None:
    """Two heads called 陈国华 in different buildings are two households."""
    w = world()
    registered(w, "H-1")
    registered(w, "H-2", address="东街口5号")
    assert answer(w.recorded).duplicate_registrations == ()


def test_a_group_is_shown_only_for_a_campaign_that_enrolled_or_paid_one_of_them() -> None:
    """A duplicate pair enrolled only in SF-2027 is not UNION-2027's concern."""
    w = world()
    registered(w, "H-1")
    registered(w, "H-2")
    assert len(answer(w.recorded, "SF-2027").duplicate_registrations) == 1
    assert answer(w.recorded, "UNION-2027").duplicate_registrations == ()


def test_a_merged_duplicate_no_longer_matches() -> None:
    """Once H-2 is merged into H-1 the pair is resolved and leaves the list."""
    w = world()
    registered(w, "H-1", head_id=ID_A)
    registered(w, "H-2", head_id=ID_A)
    assert len(answer(w.recorded).duplicate_registrations) == 2
    merged(w, "H-2", "H-1")
    assert answer(w.recorded).duplicate_registrations == ()


def test_erased_households_never_match_each_other() -> None:
    """Two identical registrations, both erased: their names read as erased and they form
    no group, by name or by ID number; their payments still count, under [erased]."""
    w = world()
    for ref in ("H-1", "H-2"):
        registered(w, ref, head_id=ID_B)
        legacy_payment(w, ref, visit=f"OLD-{ref}", amount_fen=55_000, entitlement_fen=55_000)
        legacy_payment(w, ref, visit=f"NEW-{ref}", amount_fen=55_000, entitlement_fen=55_000)
    assert len(answer(w.recorded).duplicate_registrations) == 2
    erased(w, "H-1")
    erased(w, "H-2")
    found = answer(w.recorded)
    assert found.duplicate_registrations == ()
    assert [c.to_dict()["head"] for c in found.repeat_payments] == [ERASED_TEXT, ERASED_TEXT]


def test_names_read_as_erased_from_a_checkpoint_never_match() -> None:
    """A checkpoint taken before the erasure event, read after both keys were destroyed,
    holds names and folded keys that read as erased: nothing matches."""
    w = world()
    registered(w, "H-1")
    registered(w, "H-2")
    state = AID.fold(w.recorded)
    keyring = MemoryKeyring()
    codec = Codec(keyring)
    stored = codec.encode(state)
    assert fold("陈国华").encode() not in stored
    for ref in ("H-1", "H-2"):
        keyring.destroy(household_subject(ref))
    restored: DuplicateAidState = codec.decode(stored)
    basis = Basis(position=len(w.recorded), recorded_at=None, effective=FAR_FUTURE)
    assert report(restored, basis, campaign="SF-2027").duplicate_registrations == ()


# ---------------------------------------------------------------- goods by several channels


def test_goods_at_the_door_and_at_a_distribution_point_are_two_channels() -> None:
    """H-1 got 2 quilts on visit V-1 and 1 more at distribution point 2, registered
    against H-1, in the campaign's period."""
    w = world()
    registered(w, "H-1")
    stocked(w)
    visited(w, "V-1", "H-1", goods=[("L-1", 2)])
    distributed(w, "L-1", "H-1")
    (case,) = answer(w.recorded).multi_channel_goods
    assert (case.household, case.channels) == ("H-1", ("distribution", "visit"))
    assert [(i.goods, i.channel, i.to) for i in case.issues] == [
        ("2 quilts", "visit", "V-1"),
        ("1 quilt", "distribution", "H-1"),
    ]


def test_an_issue_that_names_only_a_distribution_point_cannot_be_linked() -> None:
    """Goods to "DP-1" name no household, so they add no channel to anyone."""
    w = world()
    registered(w, "H-1")
    stocked(w)
    visited(w, "V-1", "H-1", goods=[("L-1", 2)])
    distributed(w, "L-1", "DP-1")
    assert answer(w.recorded).multi_channel_goods == ()


def test_a_direct_issue_outside_the_campaigns_period_belongs_to_another_campaign() -> None:
    """UNION-2027 ends on 10 February: a distribution issue to H-1 on 12 February is
    SF-2027's (which runs to 15 March), not UNION-2027's."""
    w = world()
    registered(w, "H-1", enrolled_in=CAMPAIGNS)
    stocked(w)
    visited(w, "V-1", "H-1", goods=[("L-1", 2)], campaign="UNION-2027")
    visited(w, "V-2", "H-1", goods=[("L-1", 2)], campaign="SF-2027")
    w.now = at(12, month=2)
    distributed(w, "L-1", "H-1")
    assert [c.household for c in answer(w.recorded, "SF-2027").multi_channel_goods] == ["H-1"]
    assert answer(w.recorded, "UNION-2027").multi_channel_goods == ()


# ---------------------------------------------------------------- the report as a whole


def test_every_figure_drills_down_to_the_events_behind_it() -> None:
    """The sources of a case, given to the audit trail, are the payments and the merger."""
    w = world()
    registered(w, "H-1")
    registered(w, "H-2", head="王秀英", address="东街口5号")
    visited(w, "V-1", "H-1", cash_fen=55_000)
    visited(w, "V-2", "H-2", cash_fen=55_000)
    merged(w, "H-2", "H-1")
    (case,) = answer(w.recorded).repeat_payments
    trail = AuditTrail().fold(w.recorded)
    basis = Basis(position=len(w.recorded), recorded_at=None, effective=FAR_FUTURE)
    drilled = events_of(trail, basis, case.sources, events_at=in_memory(w.recorded))
    assert [e.event_type for e in drilled] == [
        "household.aid_paid",
        "household.aid_paid",
        "household.duplicate_absorbed",
    ]


def test_the_report_converts_to_plain_json_with_fen_and_yuan() -> None:
    """to_dict: the basis, a count per section, money in fen and yuan, names as text."""
    w = world()
    registered(w, "H-1")
    visited(w, "V-1", "H-1", cash_fen=55_000)
    visited(w, "V-2", "H-1", cash_fen=110_000, override_reason="fire")
    basis = Basis(position=len(w.recorded), recorded_at=w.now, effective=w.now)
    data = report(AID.fold(w.recorded), basis, campaign="SF-2027").to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["counts"] == {
        "repeat_payments": 1,
        "above_tier": 1,
        "overrides": 1,
        "proxy_signatures": 0,
        "split_payments": 0,
        "duplicate_registrations": 0,
        "multi_channel_goods": 0,
    }
    (case,) = data["above_tier"]
    assert (case["head"], case["paid_fen"], case["paid_yuan"], case["entitlement_yuan"]) == (
        "陈国华",
        165_000,
        "1650.00",
        "550.00",
    )
    assert data["overrides"][0]["payment"]["amount_yuan"] == "1100.00"


def test_an_unknown_campaign_has_an_empty_report() -> None:
    """A campaign nobody opened has nothing to show, and no error."""
    w = world()
    registered(w, "H-1")
    assert answer(w.recorded, "NOPE").to_dict()["counts"] == dict.fromkeys(
        answer(w.recorded).to_dict()["counts"], 0
    )


def test_a_backdated_payment_counts_only_for_answers_effective_after_it() -> None:
    """A payment imported on the 25th but effective on the 18th counts for an answer
    effective on the 20th as of now, but not as of a position before it was recorded."""
    w = world()
    registered(w, "H-1")
    visited(w, "V-1", "H-1", cash_fen=55_000)
    before = len(w.recorded)
    w.now = at(25)
    legacy_payment(
        w, "H-1", visit="OLD-1", amount_fen=55_000, entitlement_fen=55_000, effective_at=at(18)
    )
    effective = at(20)
    now = Basis(position=len(w.recorded), recorded_at=None, effective=effective)
    earlier = Basis(position=before, recorded_at=None, effective=effective)
    state_now = brute_force(AID, w.recorded, now)
    state_then = brute_force(AID, w.recorded, earlier)
    assert [c.household for c in report(state_now, now, campaign="SF-2027").repeat_payments] == [
        "H-1"
    ]
    assert report(state_then, earlier, campaign="SF-2027").repeat_payments == ()


# ---------------------------------------------------------------- properties over histories

HISTORY_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@HISTORY_SETTINGS
@given(recorded=duplicate_histories(min_steps=20, max_steps=80))
def test_the_report_matches_the_model_at_every_prefix(recorded: list[tuple[Event, Meta]]) -> None:
    """Folding event by event, the report at every prefix equals the model over that
    prefix for both campaigns, and the state equals a fold from scratch."""
    state = AID.initial()
    for count, (event, meta) in enumerate(recorded, start=1):
        state = AID.apply(state, event, meta)
        prefix = recorded[:count]
        basis = Basis(position=count, recorded_at=None, effective=FAR_FUTURE)
        for campaign in CAMPAIGNS:
            assert observed(report(state, basis, campaign=campaign)) == model(prefix, campaign)
        assert AID.fold(prefix) == state


@HISTORY_SETTINGS
@given(
    recorded=duplicate_histories(min_steps=20, max_steps=80),
    cut=st.integers(0, 200),
    lag_minutes=st.integers(-3 * 24 * 60, 3 * 24 * 60),
)
def test_an_answer_ignores_what_was_recorded_later_or_effective_later(
    recorded: list[tuple[Event, Meta]], cut: int, lag_minutes: int
) -> None:
    """At (P, V) the report is the model's over the events at or before P, effective by V."""
    position = min(cut, len(recorded))
    effective = at(16) + timedelta(days=cut % 25, minutes=lag_minutes)
    basis = Basis(position=position, recorded_at=None, effective=effective)
    chosen = [
        (event, meta)
        for event, meta in recorded
        if meta.position <= position and event.effective_at <= effective
    ]
    state = brute_force(AID, recorded, basis)
    for campaign in CAMPAIGNS:
        assert observed(report(state, basis, campaign=campaign)) == model(chosen, campaign)


@HISTORY_SETTINGS
@given(recorded=duplicate_histories(min_steps=20, max_steps=80), split=st.integers(0, 200))
def test_a_checkpoint_round_trips_and_resuming_from_it_equals_a_full_fold(
    recorded: list[tuple[Event, Meta]], split: int
) -> None:
    """The state survives the codec unchanged, and folding the tail onto a decoded
    checkpoint gives the state of a full fold."""
    codec = Codec(MemoryKeyring())
    head = AID.fold(recorded[:split])
    restored = codec.decode(codec.encode(head))
    assert head == restored
    assert AID.fold(recorded) == AID.fold(recorded[split:], restored)
