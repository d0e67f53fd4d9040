"""Stock levels: per warehouse x item and per lot, for any basis, traced to their events."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.stock_history import ListHistory, Recorded, World, new_codec, stock_histories
from warmcase.domain import lot
from warmcase.domain.lot import (
    DonationLot,
    LotCounted,
    LotInspected,
    LotIssued,
    LotPledged,
    LotReceived,
    LotReleased,
    LotReserved,
    LotReturned,
    LotTransferred,
    LotWrittenOff,
)
from warmcase.errors import InvalidCommand
from warmcase.events import Event
from warmcase.projections.answering import brute_force, state_at
from warmcase.projections.basis import Basis
from warmcase.projections.projection import Meta
from warmcase.projections.stock import StockLevels, StockReport, StockState, report, rerun

PROJECTION = StockLevels()
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def basis_after(recorded: Recorded, effective: datetime | None = None) -> Basis:
    """The basis of the whole of `recorded` (effective at the last recording, unless given)."""
    if not recorded:
        return Basis(position=0, recorded_at=None, effective=effective or at(25))
    last = recorded[-1][1]
    return Basis(last.position, last.recorded_at, effective or last.recorded_at)


def answer(recorded: Recorded, effective: datetime | None = None, **filters: Any) -> StockReport:
    """The report over all of `recorded`, effective at its last recording unless given."""
    return report(PROJECTION.fold(recorded), basis_after(recorded, effective), **filters)


def decide(world: World, ref: str, decision: Callable[[DonationLot], list[Event]]) -> None:
    """Record `decision` on lot `ref`; the scenario expects it to be accepted."""
    assert world.attempt(lot.KIND, ref, decision)


# ---------------------------------------------------------------- the reference scenario


def quilts_season() -> World:
    """120 quilts received at the Gulou store on 17 January, 100 accepted; reserved, issued
    through every channel, moved to the Taijiang store, counted short, written off, returned."""
    world = World(at(17, 9))
    decide(
        world,
        "L-031",
        lambda s: lot.receive(
            s,
            ref="L-031",
            donor="Xinhua Textiles Co.",
            item="quilt",
            unit="piece",
            quantity=120,
            warehouse="Gulou store",
            actor="keeper",
            at=world.now,
        ),
    )
    world.tick(60)
    decide(
        world,
        "L-031",
        lambda s: lot.inspect(
            s,
            accepted=100,
            rejected=20,
            rejections=[(20, "holes or stains")],
            actor="inspector",
            at=world.now,
        ),
    )
    steps: list[tuple[datetime, Callable[[DonationLot], list[Event]]]] = [
        (
            at(18),
            lambda s: lot.reserve(
                s, reservation_id="R-1", quantity=30, for_ref="V-88", actor="k", at=at(18)
            ),
        ),
        (
            at(20, 10),
            lambda s: lot.issue(
                s,
                quantity=12,
                channel="visit",
                to="V-88",
                reservation_id="R-1",
                actor="k",
                at=at(20, 10),
            ),
        ),
        (
            at(20, 14),
            lambda s: lot.issue(
                s, quantity=20, channel="distribution", to="D-1", actor="k", at=at(20, 14)
            ),
        ),
        (
            at(21, 20),
            lambda s: lot.issue(
                s, quantity=5, channel="patrol", to="P-7", actor="k", at=at(21, 20)
            ),
        ),
        (
            at(22),
            lambda s: lot.transfer(
                s, to_warehouse="Taijiang store", reason="roof leak", actor="k", at=at(22)
            ),
        ),
        (
            at(23),
            lambda s: lot.count(
                s, counted=60, reason="3 quilts soaked, thrown out", actor="k", at=at(23)
            ),
        ),
        (at(24), lambda s: lot.write_off(s, quantity=2, reason="mould", actor="k", at=at(24))),
        (
            at(24, 11),
            lambda s: lot.return_to_donor(
                s, quantity=1, reason="wrong size", actor="k", at=at(24, 11)
            ),
        ),
    ]
    for when, decision in steps:
        world.now = when
        decide(world, "L-031", decision)
    return world


def test_a_warehouse_line_shows_every_flow_of_the_item_there() -> None:
    """The first warehouse shows receipt, inspection, issues by channel and the move out."""
    line = answer(quilts_season().recorded).line("Gulou store", "quilt")
    expected = {
        "received": 120,
        "accepted": 100,
        "rejected": 20,
        "visit": 12,
        "distribution": 20,
        "patrol": 5,
        "transferred_out": 63,
        "transferred_in": 0,
        "on_hand": 0,
        "reserved": 0,
    }
    actual = {
        "received": line.received,
        "accepted": line.accepted,
        "rejected": line.rejected,
        "visit": line.issued.visit,
        "distribution": line.issued.distribution,
        "patrol": line.issued.patrol,
        "transferred_out": line.transferred_out,
        "transferred_in": line.transferred_in,
        "on_hand": line.on_hand,
        "reserved": line.reserved,
    }
    assert expected == actual


def test_a_transfer_moves_the_lots_on_hand_and_its_reservations() -> None:
    """The lot's 63 quilts and the 18 still reserved go to the new warehouse; the count, the
    write-off and the return happen there."""
    line = answer(quilts_season().recorded).line("Taijiang store", "quilt")
    expected = (63, 0, -3, 2, 1, 57, 18, 39)
    actual = (
        line.transferred_in,
        line.issued.total,
        line.adjustments,
        line.written_off,
        line.returned,
        line.on_hand,
        line.reserved,
        line.available,
    )
    assert expected == actual


def test_a_count_that_differs_is_listed_with_its_reason() -> None:
    """A count short of the book is a discrepancy: book, counted, difference and reason."""
    world = quilts_season()
    found = answer(world.recorded).discrepancies
    count_position = next(m.position for e, m in world.recorded if isinstance(e, LotCounted))
    expected = (
        1,
        "L-031",
        "Taijiang store",
        date(2027, 1, 23),
        63,
        60,
        -3,
        "3 quilts soaked, thrown out",
        (count_position,),
    )
    actual = (
        len(found),
        found[0].lot,
        found[0].warehouse,
        found[0].day,
        found[0].book,
        found[0].counted,
        found[0].difference,
        found[0].reason,
        found[0].sources,
    )
    assert expected == actual


def test_each_line_names_the_events_behind_it() -> None:
    """Drill-down: a line's sources are the positions of the events that moved stock there."""
    world = quilts_season()
    by_kind: dict[type[Event], list[int]] = {}
    for event, meta in world.recorded:
        by_kind.setdefault(type(event), []).append(meta.position)
    result = answer(world.recorded)
    gulou = {
        p
        for kind in (LotReceived, LotInspected, LotReserved, LotIssued, LotTransferred)
        for p in by_kind[kind]
    }
    taijiang = {
        p
        for kind in (LotTransferred, LotCounted, LotWrittenOff, LotReturned)
        for p in by_kind[kind]
    }
    assert sorted(gulou) == list(result.line("Gulou store", "quilt").sources)
    assert sorted(taijiang) == list(result.line("Taijiang store", "quilt").sources)
    expected = [m.position for _, m in world.recorded]
    assert expected == list(result.lot("L-031").sources)


def test_the_book_follows_a_count_even_against_a_backdated_issue() -> None:
    """An issue backdated before a count does not lower the stock after it: the count says
    what was on the shelf, so the count now adds one more than it took at first."""
    world = quilts_season()
    world.now = at(25)
    decide(
        world,
        "L-031",
        lambda s: lot.issue(s, quantity=4, channel="visit", to="V-90", actor="k", at=at(22, 12)),
    )
    line = answer(world.recorded).line("Taijiang store", "quilt")
    recorded_difference = answer(world.recorded).discrepancies[0].difference
    expected = (4, 1, 57, -3)
    assert expected == (line.issued.visit, line.adjustments, line.on_hand, recorded_difference)


def test_a_transfer_carries_what_the_lot_held_at_its_effective_time() -> None:
    """An issue backdated before a transfer leaves the old warehouse, so the transfer carries
    four quilts fewer and the later count finds one more than the book."""
    world = quilts_season()
    world.now = at(25)
    decide(
        world,
        "L-031",
        lambda s: lot.issue(s, quantity=4, channel="visit", to="V-90", actor="k", at=at(21, 22)),
    )
    result = answer(world.recorded)
    gulou, taijiang = result.line("Gulou store", "quilt"), result.line("Taijiang store", "quilt")
    expected = ((16, 59, 0), (59, 1, 57), (59,))
    actual = (
        (gulou.issued.visit, gulou.transferred_out, gulou.on_hand),
        (taijiang.transferred_in, taijiang.adjustments, taijiang.on_hand),
        tuple(t.quantity for t in result.lot("L-031").transfers),
    )
    assert expected == actual


def test_an_earlier_basis_shows_the_stock_as_it_stood() -> None:
    """Effective on 21 January at noon, nothing has moved to Taijiang yet and the patrol
    issue of that evening has not happened."""
    world = quilts_season()
    basis = Basis(len(world.recorded), world.now, at(21, 12))
    result = report(brute_force(PROJECTION, world.recorded, basis), basis)
    line = result.line("Gulou store", "quilt")
    expected = ((68, 18, 0), ("Gulou store",))
    assert expected == (
        (line.on_hand, line.reserved, line.issued.patrol),
        tuple(sorted({each.warehouse for each in result.lines})),
    )


def cash_world() -> World:
    """100,000 yuan from a bank, 1,100 of it paid out on visit V-88."""
    world = World(at(17, 9))
    decide(
        world,
        "L-900",
        lambda s: lot.receive(
            s,
            ref="L-900",
            donor="Fuzhou Rural Bank",
            item="consolation money",
            unit="yuan",
            kind="cash",
            quantity=10_000_000,
            warehouse="street office safe",
            actor="cashier",
            at=world.now,
        ),
    )
    world.now = at(20, 10)
    decide(
        world,
        "L-900",
        lambda s: lot.issue(s, quantity=110_000, channel="visit", to="V-88", actor="k", at=at(20)),
    )
    return world


def test_cash_lots_are_reported_as_money() -> None:
    """A cash lot is on the books from receipt; its figures are fen, shown in yuan beside."""
    line = answer(cash_world().recorded).line("street office safe", "consolation money")
    shown = line.to_dict()
    expected = ("fen", 9_890_000, "98900.00", "100000.00", "1100.00", "100000.00")
    actual = (
        shown["unit"],
        shown["on_hand"],
        shown["on_hand_yuan"],
        shown["received_yuan"],
        shown["issued_visit_yuan"],
        shown["accepted_yuan"],
    )
    assert expected == actual


def rice_world() -> World:
    """50 bags of rice that keep until 31 January, at the Gulou store."""
    world = World(at(17, 9))
    decide(
        world,
        "L-050",
        lambda s: lot.receive(
            s,
            ref="L-050",
            donor="Fuzhou Grain Co.",
            item="rice",
            unit="bag",
            quantity=50,
            warehouse="Gulou store",
            expires_on=date(2027, 1, 31),
            actor="keeper",
            at=world.now,
        ),
    )
    world.tick(60)
    decide(world, "L-050", lambda s: lot.inspect(s, accepted=50, actor="i", at=world.now))
    world.now = at(25, 9)
    return world


def test_lots_expiring_within_the_days_asked_are_listed() -> None:
    """On 25 January, rice expiring on the 31st is within 7 days (6 left), not within 5."""
    world = rice_world()
    within_seven = answer(world.recorded, world.now, expiring_within_days=7).expiring
    within_five = answer(world.recorded, world.now, expiring_within_days=5).expiring
    unasked = answer(world.recorded, world.now).expiring
    expected: tuple[list[tuple[str, int, int]], int, int] = ([("L-050", 6, 50)], 0, 0)
    actual = (
        [(e.lot, e.days_left, e.on_hand) for e in within_seven],
        len(within_five),
        len(unasked),
    )
    assert expected == actual


def test_expired_stock_on_hand_is_listed_with_negative_days() -> None:
    """Measured from 2 February, the rice expired two days ago and still lies on the shelf."""
    expiring = answer(rice_world().recorded, expiring_within_days=0, today=date(2027, 2, 2))
    expected = [("L-050", -2)]
    assert expected == [(e.lot, e.days_left) for e in expiring.expiring]


def test_an_empty_lot_is_not_listed_as_expiring() -> None:
    """Rice that was all handed out is no longer a worry, whatever its date."""
    world = rice_world()
    decide(
        world,
        "L-050",
        lambda s: lot.issue(s, quantity=50, channel="distribution", to="D-1", actor="k", at=at(25)),
    )
    expected = 0
    assert expected == len(answer(world.recorded, world.now, expiring_within_days=30).expiring)


def test_reports_filter_by_warehouse_and_item() -> None:
    """Filters keep only the lines, lots and counts of that warehouse or item."""
    world = quilts_season()
    offset = len(world.recorded)
    merged = world.recorded + [
        (event, Meta(meta.position + offset, world.now, meta.stream_id, meta.version))
        for event, meta in rice_world().recorded
    ]
    by_item = answer(merged, item="rice")
    by_store = answer(merged, warehouse="Taijiang store")
    expected = (
        [("Gulou store", "rice")],
        ["L-050"],
        [("Taijiang store", "quilt")],
        ["L-031"],
        1,
    )
    actual = (
        [(line.warehouse, line.item) for line in by_item.lines],
        [line.lot for line in by_item.lots],
        [(line.warehouse, line.item) for line in by_store.lines],
        [line.lot for line in by_store.lots],
        len(by_store.discrepancies),
    )
    assert expected == actual


def test_a_pledged_lot_is_in_the_lot_books_but_in_no_warehouse() -> None:
    """A promise is not stock: the lot is listed with its pledge and no warehouse line."""
    world = World(at(16))
    decide(
        world,
        "L-060",
        lambda s: lot.pledge(
            s,
            ref="L-060",
            donor="Minjiang Charity",
            item="down jacket",
            unit="piece",
            quantity=80,
            actor="office",
            at=world.now,
        ),
    )
    result = answer(world.recorded)
    expected = (0, "L-060", None, 80, 0)
    assert expected == (
        len(result.lines),
        result.lots[0].lot,
        result.lots[0].warehouse,
        result.lots[0].pledged,
        result.lots[0].on_hand,
    )


def test_the_report_is_plain_json() -> None:
    """`to_dict` gives only JSON values: dates as ISO text, money in fen and yuan."""
    world = quilts_season()
    shown = answer(world.recorded, expiring_within_days=3).to_dict()
    assert shown == json.loads(json.dumps(shown))
    expected = "2027-01-23T09:00:00+08:00"
    assert expected == shown["discrepancies"][0]["at"]


def test_a_negative_expiry_window_is_refused() -> None:
    """`expiring_within_days` is a number of days from today, 0 or more."""
    with pytest.raises(InvalidCommand, match=r"expiring_within_days must be .* got -1"):
        answer([], expiring_within_days=-1)


def test_the_projection_reads_the_lot_events_only() -> None:
    """The store reads only the event types the rules name."""
    expected = {
        cls.type_name
        for cls in (
            LotPledged,
            LotReceived,
            LotInspected,
            LotTransferred,
            LotReserved,
            LotReleased,
            LotIssued,
            LotCounted,
            LotWrittenOff,
            LotReturned,
        )
    }
    assert expected == PROJECTION.reads


# ---------------------------------------------------------------- an obviously-correct model

FIGURES = (
    "received",
    "accepted",
    "rejected",
    "on_hand",
    "reserved",
    "visit",
    "distribution",
    "patrol",
    "transferred_in",
    "transferred_out",
    "written_off",
    "returned",
    "adjustments",
)


def chosen(recorded: Recorded, basis: Basis | None) -> Recorded:
    """The events an answer at `basis` folds (all of them without a basis)."""
    if basis is None:
        return list(recorded)
    return [
        (e, m)
        for e, m in recorded
        if m.position <= basis.position and e.effective_at <= basis.effective
    ]


def model(recorded: Recorded, basis: Basis | None = None) -> dict[Any, dict[str, Any]]:
    """Warehouse lines by plain loops over the raw events: each lot's events sorted by
    effective time (a receipt or transfer first among equals, then by position), walked
    while remembering where the lot is."""
    lines: dict[Any, dict[str, Any]] = {}
    per_lot: dict[str, Recorded] = {}
    for event, meta in chosen(recorded, basis):
        per_lot.setdefault(event.ref, []).append((event, meta))

    for events in per_lot.values():
        item = unit = ""
        for event, _ in events:
            if isinstance(event, LotPledged | LotReceived):
                item, unit = event.item, event.unit

        def line(warehouse: str | None, item: str = item, unit: str = unit) -> dict[str, Any]:
            key = (warehouse or "", item, unit)
            return lines.setdefault(key, dict.fromkeys(FIGURES, 0) | {"sources": set()})

        timeline = sorted(
            ((e, m) for e, m in events if not isinstance(e, LotPledged)),
            key=lambda em: (
                em[0].effective_at,
                0 if isinstance(em[0], LotReceived | LotTransferred) else 1,
                em[1].position,
            ),
        )
        where: str | None = None
        on_hand = reserved = 0
        for event, meta in timeline:
            if isinstance(event, LotReceived | LotTransferred):
                if isinstance(event, LotTransferred) and where is not None:
                    line(where)["transferred_out"] += on_hand
                    line(where)["sources"].add(meta.position)
                where = event.warehouse if isinstance(event, LotReceived) else event.to_warehouse
            here = line(where)
            if isinstance(event, LotReceived):
                here["received"] += event.quantity
                if event.kind == "cash":
                    here["accepted"] += event.quantity
                    on_hand += event.quantity
            elif isinstance(event, LotTransferred):
                here["transferred_in"] += on_hand
            elif isinstance(event, LotInspected):
                here["accepted"] += event.accepted
                here["rejected"] += event.rejected
                on_hand += event.accepted
            elif isinstance(event, LotReserved):
                reserved += event.quantity
            elif isinstance(event, LotReleased):
                reserved -= event.quantity
            elif isinstance(event, LotIssued):
                here[event.channel] += event.quantity
                on_hand -= event.quantity
                reserved -= event.from_reservation
            elif isinstance(event, LotCounted):
                here["adjustments"] += event.counted - on_hand
                on_hand = event.counted
            elif isinstance(event, LotWrittenOff):
                here["written_off"] += event.quantity
                on_hand -= event.quantity
            elif isinstance(event, LotReturned):
                here["returned"] += event.quantity
                on_hand -= event.quantity
            here["sources"].add(meta.position)
        if where is not None:
            line(where)["on_hand"] += on_hand
            line(where)["reserved"] += reserved
    return lines


def figures(result: StockReport) -> dict[Any, dict[str, Any]]:
    """The warehouse lines of a report in the model's shape."""
    return {
        (line.warehouse, line.item, line.unit): {
            "received": line.received,
            "accepted": line.accepted,
            "rejected": line.rejected,
            "on_hand": line.on_hand,
            "reserved": line.reserved,
            "visit": line.issued.visit,
            "distribution": line.issued.distribution,
            "patrol": line.issued.patrol,
            "transferred_in": line.transferred_in,
            "transferred_out": line.transferred_out,
            "written_off": line.written_off,
            "returned": line.returned,
            "adjustments": line.adjustments,
            "sources": set(line.sources),
        }
        for line in result.lines
    }


def domain_lots(recorded: Recorded, basis: Basis | None = None) -> dict[str, DonationLot]:
    """Each lot as the domain's own aggregate folds the same events."""
    lots: dict[str, DonationLot] = {}
    for event, _ in chosen(recorded, basis):
        lots[event.ref] = lot.evolve(lots.get(event.ref), event)
    return lots


def assert_agrees_with_the_domain(result: StockReport, lots: dict[str, DonationLot]) -> None:
    """Every lot line says what the lot aggregate says about itself."""
    assert sorted(lots) == [line.lot for line in result.lots]
    for line in result.lots:
        aggregate = lots[line.lot]
        expected = (
            aggregate.warehouse,
            aggregate.on_hand,
            aggregate.balance_at(FAR_FUTURE).reserved,
            aggregate.accepted,
            aggregate.rejected,
            dict(aggregate.issued),
            aggregate.written_off,
            aggregate.returned,
            aggregate.adjustments,
            [(d.book, d.counted, d.difference, d.reason) for d in aggregate.discrepancies],
        )
        actual = (
            line.warehouse,
            line.on_hand,
            line.reserved,
            line.accepted,
            line.rejected,
            {k: v for k, v in line.issued.as_dict().items() if k in aggregate.issued},
            line.written_off,
            line.returned,
            line.adjustments,
            [
                (d.book, d.counted, d.difference, d.reason)
                for d in result.discrepancies
                if d.lot == line.lot
            ],
        )
        assert expected == actual


def assert_balances(result: StockReport) -> None:
    """Every warehouse line balances, and warehouses hold what the lots hold."""
    for line in result.lines:
        assert line.on_hand == (
            line.accepted
            + line.transferred_in
            - line.transferred_out
            - line.issued.total
            - line.written_off
            - line.returned
            + line.adjustments
        )
    assert sum(line.on_hand for line in result.lines) == sum(ln.on_hand for ln in result.lots)


# ---------------------------------------------------------------- properties


@given(stock_histories())
def test_incremental_equals_rebuild_equals_the_model_at_every_prefix(recorded: Recorded) -> None:
    """Folding one event at a time, folding each prefix afresh, running each lot's timeline
    straight from the start, the plain model and the lot aggregate all agree after every
    event."""
    state = PROJECTION.initial()
    for count, (event, meta) in enumerate(recorded, start=1):
        state = PROJECTION.apply(state, event, meta)
        prefix = recorded[:count]
        assert PROJECTION.fold(prefix) == state
        assert {ref: rerun(record) for ref, record in state.lots.items()} == dict(state.lots)
        result = report(state, basis_after(prefix))
        assert model(prefix) == figures(result)
        assert_agrees_with_the_domain(result, domain_lots(prefix))
        assert_balances(result)


@st.composite
def histories_and_bases(draw: st.DrawFn) -> tuple[Recorded, Basis]:
    """A history and a basis inside it: a position and an effective time near its events."""
    recorded = draw(stock_histories())
    position = draw(st.integers(0, len(recorded)))
    moments = [e.effective_at for e, _ in recorded] or [at(20)]
    effective = draw(st.sampled_from(moments)) + timedelta(minutes=draw(st.integers(-90, 90)))
    recorded_at = recorded[position - 1][1].recorded_at if position else None
    return recorded, Basis(position, recorded_at, effective)


@given(histories_and_bases())
def test_an_answer_at_a_basis_ignores_later_and_later_effective_events(
    case: tuple[Recorded, Basis],
) -> None:
    """At (P, V) the report counts exactly the events recorded by P and effective by V, and
    stays the same whatever is appended after P."""
    recorded, basis = case
    result = report(brute_force(PROJECTION, recorded, basis), basis)
    assert model(recorded, basis) == figures(result)
    assert_agrees_with_the_domain(result, domain_lots(recorded, basis))
    assert result == report(brute_force(PROJECTION, recorded[: basis.position], basis), basis)


@given(stock_histories(), st.data())
def test_a_checkpoint_round_trips_and_folding_resumes_from_it(
    recorded: Recorded, data: st.DataObject
) -> None:
    """The state survives the store's codec unchanged, and folding the tail onto a decoded
    checkpoint gives the state of a full rebuild."""
    codec = new_codec()
    cut = data.draw(st.integers(0, len(recorded)))
    head = PROJECTION.fold(recorded[:cut])
    restored: StockState = codec.decode(codec.encode(head))
    assert head == restored
    assert PROJECTION.fold(recorded) == PROJECTION.fold(recorded[cut:], restored)


@given(histories_and_bases(), st.integers(1, 8))
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
    expected = report(brute_force(PROJECTION, recorded, basis), basis)
    assert expected == report(state_at(PROJECTION, history, basis), basis)
