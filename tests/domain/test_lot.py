"""Donation lot decisions and evolution: receipt, inspection, storage and issuing."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.lot import (
    INSPECTED_AT,
    RECEIVED_AT,
    Move,
    apply,
    cash,
    moves,
    quilts,
    received,
    rice,
    stocked_lots,
)
from warmcase.domain import checks, lot
from warmcase.domain.lot import (
    DonationLot,
    InspectionMismatch,
    InsufficientStock,
    LotExpired,
    LotNotInspected,
    LotNotReceived,
    PledgeMismatch,
    Rejection,
    UnknownReservation,
)
from warmcase.domain.stream import fold
from warmcase.errors import (
    AlreadyExists,
    CommandRefused,
    EffectiveTimeRefused,
    InvalidCommand,
    NotFound,
    RuleViolation,
    WrongState,
)
from warmcase.events import Event


def says(text: str) -> str:
    """A pattern that finds `text` as written in a message."""
    return re.escape(text)


def exactly(text: str) -> str:
    """A pattern that matches a message that is exactly `text`."""
    return f"^{re.escape(text)}$"


def issue(
    state: DonationLot,
    quantity: int,
    when: datetime,
    to: str = "V-88",
    reservation_id: str | None = None,
) -> DonationLot:
    """`state` after issuing `quantity` to visit `to` at `when`."""
    events = lot.issue(
        state,
        quantity=quantity,
        channel="visit",
        to=to,
        reservation_id=reservation_id,
        actor="keeper",
        at=when,
    )
    return apply(state, events)


def reserve(state: DonationLot, reservation_id: str, quantity: int, when: datetime) -> DonationLot:
    """`state` after reserving `quantity` for visit V-88 at `when`."""
    events = lot.reserve(
        state, reservation_id=reservation_id, quantity=quantity, for_ref="V-88", actor="k", at=when
    )
    return apply(state, events)


# ---------------------------------------------------------------- pledge and receipt


def test_a_pledge_is_a_promise_with_nothing_on_the_books() -> None:
    """A pledged lot records donor, item and quantity, but has no stock and cannot be issued."""
    state = fold(
        lot.KIND,
        lot.pledge(
            None,
            ref="L-031",
            donor="Xinhua Textiles Co.",
            item="quilt",
            unit="piece",
            quantity=150,
            actor="office",
            at=at(10),
        ),
    )
    assert state is not None
    assert (state.pledged, state.received, state.warehouse, state.available) == (150, 0, None, 0)
    with pytest.raises(
        LotNotReceived, match=says("lot L-031 was pledged by Xinhua Textiles Co. (150 quilts)")
    ):
        lot.issue(state, quantity=1, channel="visit", to="V-1", actor="k", at=at(20))


def test_a_pledge_under_a_taken_reference_is_refused() -> None:
    """A reference names one lot: pledging it again is refused."""
    with pytest.raises(AlreadyExists, match=says("lot L-031 already exists (quilt from Xinhua")):
        lot.pledge(
            quilts(),
            ref="L-031",
            donor="X",
            item="quilt",
            unit="piece",
            quantity=1,
            actor="a",
            at=at(18),
        )


def test_receiving_a_pledged_lot_keeps_the_pledged_figure() -> None:
    """A pledged lot is received under its reference; the pledged figure stays beside what came."""
    pledged = fold(
        lot.KIND,
        lot.pledge(
            None,
            ref="L-1",
            donor="Mill",
            item="flour",
            unit="bag",
            quantity=200,
            actor="o",
            at=at(10),
        ),
    )
    events = lot.receive(
        pledged,
        ref="L-1",
        donor="Mill",
        item="flour",
        unit="bag",
        quantity=180,
        warehouse="W",
        actor="k",
        at=at(16),
    )
    state = apply(pledged, events)
    assert (200, 180, "W", at(16)) == (
        state.pledged,
        state.received,
        state.warehouse,
        state.received_at,
    )


def test_receiving_other_goods_than_pledged_is_refused() -> None:
    """What arrives under a pledged reference must be what was pledged, by the same donor."""
    pledged = fold(
        lot.KIND,
        lot.pledge(
            None,
            ref="L-1",
            donor="Mill",
            item="flour",
            unit="bag",
            quantity=200,
            actor="o",
            at=at(10),
        ),
    )
    with pytest.raises(
        PledgeMismatch,
        match=says("lot L-1 was pledged as goods 'flour' in bag by Mill; received goods 'rice'"),
    ):
        lot.receive(
            pledged,
            ref="L-1",
            donor="Mill",
            item="rice",
            unit="bag",
            quantity=1,
            warehouse="W",
            actor="k",
            at=at(16),
        )


def test_receiving_twice_is_refused() -> None:
    """A lot is received once; another delivery is another lot."""
    with pytest.raises(
        AlreadyExists, match=says("lot L-031 was already received on 2027-01-17 09:00 (120 quilts")
    ):
        lot.receive(
            received(),
            ref="L-031",
            donor="X",
            item="quilt",
            unit="piece",
            quantity=5,
            warehouse="W",
            actor="k",
            at=at(18),
        )


def test_received_goods_are_not_available_until_inspected() -> None:
    """Goods go on the books only when inspected: none are available, and issuing is refused."""
    state = received()
    assert (
        state.received,
        state.on_hand,
        state.available,
        state.warehouse,
    ) == (120, 0, 0, "Gulou store")
    with pytest.raises(
        LotNotInspected,
        match=says(
            "lot L-031 (120 quilts from Xinhua Textiles Co.) was received "
            "on 2027-01-17 09:00 but not inspected"
        ),
    ):
        lot.issue(state, quantity=1, channel="visit", to="V-1", actor="k", at=at(20))
    refusals: list[Callable[[], list[Event]]] = [
        lambda: lot.reserve(
            state, reservation_id="R", quantity=1, for_ref="V", actor="k", at=at(20)
        ),
        lambda: lot.count(state, counted=120, actor="k", at=at(20)),
        lambda: lot.write_off(state, quantity=1, reason="r", actor="k", at=at(20)),
        lambda: lot.return_to_donor(state, quantity=1, reason="r", actor="k", at=at(20)),
    ]
    for refused in refusals:
        with pytest.raises(LotNotInspected):
            refused()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"unit": "ton"}, "unit 'ton' is not accepted; use one of: piece"),
        ({"kind": "loan"}, "kind 'loan' is not accepted; use one of: goods, cash"),
        ({"kind": "cash"}, "a cash lot cannot be in piece: cash is in yuan"),
        ({"unit": "yuan"}, "a goods lot cannot be in yuan"),
        ({"quantity": 0}, "quantity is 0; accepted: 1 to"),
        ({"quantity": checks.MAX_QUANTITY + 1}, f"quantity is {checks.MAX_QUANTITY + 1}"),
        ({"quantity": True}, "quantity must be a whole number"),
        ({"quantity": 2.5}, "quantity must be a whole number"),
        ({"donor": " "}, "donor must be a non-empty text"),
        ({"warehouse": ""}, "warehouse must be a non-empty text"),
        ({"expires_on": at(30)}, "expires_on must be a date"),
        (
            {"kind": "cash", "unit": "yuan", "expires_on": date(2027, 2, 1)},
            "L-9 is cash, which does not expire",
        ),
        ({"timezone": "Moon/Base"}, "time zone 'Moon/Base' is unknown"),
    ],
)
def test_malformed_receipts_are_refused(changes: dict[str, object], message: str) -> None:
    """Each malformed part of a receipt is refused with a message naming it and what is accepted."""
    arguments: dict[str, object] = {
        "ref": "L-9",
        "donor": "Mill",
        "item": "quilt",
        "unit": "piece",
        "quantity": 10,
        "warehouse": "W",
        "actor": "k",
        "at": at(17),
    }
    with pytest.raises(InvalidCommand, match=message):
        lot.receive(None, **(arguments | changes))  # type: ignore[arg-type]


def test_cash_is_on_the_books_from_receipt_and_cannot_be_inspected() -> None:
    """A money donation needs no inspection: all of it is available on receipt, in fen."""
    state = cash(fen=50_000_000)
    assert (state.accepted, state.on_hand, state.available) == (50_000_000, 50_000_000, 50_000_000)
    assert state.describe(state.available) == "500,000.00 yuan"
    with pytest.raises(
        WrongState,
        match=says("lot L-900 is cash, accepted on receipt: there is nothing to inspect"),
    ):
        lot.inspect(state, accepted=50_000_000, actor="k", at=at(18))


# ---------------------------------------------------------------- inspection


def test_inspection_puts_accepted_goods_on_the_books_and_records_each_rejection() -> None:
    """Accepted units become available; rejected ones are kept with the reason each failed."""
    state = received()
    events = lot.inspect(
        state,
        accepted=105,
        rejected=15,
        rejections=[(9, "holes"), Rejection(quantity=6, reason="missing buttons")],
        actor="inspector",
        at=INSPECTED_AT,
    )
    state = apply(state, events)
    assert (
        state.accepted,
        state.rejected,
        state.available,
        state.inspected_at,
    ) == (105, 15, 105, INSPECTED_AT)
    assert (
        Rejection(quantity=9, reason="holes"),
        Rejection(quantity=6, reason="missing buttons"),
    ) == (state.rejections)
    assert tuple(e.type_name for e in events) == ("lot.inspected",)


def test_accepted_and_rejected_must_add_up_to_what_was_received() -> None:
    """An inspection that leaves received units unaccounted for is refused, naming both numbers."""
    with pytest.raises(
        InspectionMismatch,
        match=says(
            "lot L-031 received 120 quilts; 100 accepted + 15 rejected = "
            "115: they must add up to 120"
        ),
    ):
        lot.inspect(
            received(),
            accepted=100,
            rejected=15,
            rejections=[(15, "holes")],
            actor="i",
            at=INSPECTED_AT,
        )


def test_every_rejected_unit_needs_a_reason() -> None:
    """Rejections without reasons, or reasons for fewer units than rejected, are refused."""
    with pytest.raises(
        InspectionMismatch, match=says("lot L-031: 20 rejected but reasons given for 0")
    ):
        lot.inspect(received(), accepted=100, rejected=20, actor="i", at=INSPECTED_AT)
    with pytest.raises(InspectionMismatch, match=says("20 rejected but reasons given for 12")):
        lot.inspect(
            received(),
            accepted=100,
            rejected=20,
            rejections=[(12, "stains")],
            actor="i",
            at=INSPECTED_AT,
        )
    with pytest.raises(InvalidCommand, match=says("a reason is required: each rejection says why")):
        lot.inspect(
            received(),
            accepted=100,
            rejected=20,
            rejections=[(20, " ")],
            actor="i",
            at=INSPECTED_AT,
        )
    with pytest.raises(InvalidCommand, match=says("a rejection is (quantity, reason)")):
        lot.inspect(
            received(),
            accepted=100,
            rejected=20,
            rejections=["holes"],  # type: ignore[list-item]
            actor="i",
            at=INSPECTED_AT,
        )


def test_a_lot_may_be_rejected_whole() -> None:
    """All units may fail inspection: nothing goes on the books."""
    state = quilts(accepted=0)
    assert (state.accepted, state.rejected, state.available) == (0, 120, 0)


def test_inspecting_twice_or_before_receipt_is_refused() -> None:
    """A lot is inspected once, and not before it arrived."""
    with pytest.raises(
        WrongState,
        match=says(
            "lot L-031 was already inspected on 2027-01-17 10:00 (100 accepted, 20 rejected)"
        ),
    ):
        lot.inspect(quilts(), accepted=120, actor="i", at=at(18))
    with pytest.raises(
        EffectiveTimeRefused,
        match=says(
            "cannot be inspected on 2027-01-16 09:00, before it was received on 2027-01-17 09:00"
        ),
    ):
        lot.inspect(received(), accepted=120, actor="i", at=at(16))


@given(received_quantity=st.integers(1, 10**6), data=st.data())
def test_inspection_accepts_exactly_the_splits_that_account_for_the_receipt(
    received_quantity: int, data: st.DataObject
) -> None:
    """Any split is accepted iff accepted + rejected = received, which then holds."""
    accepted = data.draw(st.integers(0, received_quantity + 3))
    rejected = data.draw(
        st.one_of(st.just(received_quantity - accepted), st.integers(0, received_quantity + 3))
    )
    state = received(quantity=received_quantity)
    rejections = [(rejected, "stains")] if rejected > 0 else []
    try:
        events = lot.inspect(
            state,
            accepted=accepted,
            rejected=rejected,
            rejections=rejections,
            actor="i",
            at=INSPECTED_AT,
        )
    except InvalidCommand:
        assert rejected < 0 or accepted < 0
        return
    except InspectionMismatch:
        assert accepted + rejected != received_quantity
        return
    after = apply(state, events)
    assert after.received == after.accepted + after.rejected
    assert after.available == accepted


# ---------------------------------------------------------------- transfers


def test_a_transfer_moves_the_whole_lot_and_keeps_where_it_was() -> None:
    """After a transfer the lot is in the new warehouse; where it was earlier stays known."""
    state = quilts()
    state = apply(
        state,
        lot.transfer(
            state, to_warehouse="Drum Tower store", reason="heating failed", actor="k", at=at(19)
        ),
    )
    assert state.warehouse == "Drum Tower store"
    assert (
        state.warehouse_at(at(18)),
        state.warehouse_at(at(19)),
        state.warehouse_at(at(1)),
    ) == ("Gulou store", "Drum Tower store", None)
    assert state.available == 100


def test_transfers_to_the_same_warehouse_or_out_of_order_are_refused() -> None:
    """A transfer names another warehouse, and comes after the lot's last move."""
    state = quilts()
    with pytest.raises(InvalidCommand, match=says("lot L-031 is already in warehouse Gulou store")):
        lot.transfer(state, to_warehouse="Gulou store", actor="k", at=at(19))
    state = apply(state, lot.transfer(state, to_warehouse="B", actor="k", at=at(19)))
    with pytest.raises(
        EffectiveTimeRefused,
        match=says(
            "lot L-031 has been in warehouse B since 2027-01-19 09:00; a "
            "transfer effective 2027-01-18 09:00"
        ),
    ):
        lot.transfer(state, to_warehouse="C", actor="k", at=at(18))
    pledged = fold(
        lot.KIND,
        lot.pledge(
            None, ref="L-2", donor="D", item="heater", unit="piece", quantity=3, actor="o", at=at(1)
        ),
    )
    assert pledged is not None
    with pytest.raises(LotNotReceived, match=says("lot L-2 was pledged by D (3 heaters)")):
        lot.transfer(pledged, to_warehouse="C", actor="k", at=at(18))


# ---------------------------------------------------------------- reservations


def test_a_reservation_holds_stock_back_until_released() -> None:
    """Reserved units stay on hand but are not available; releasing gives them back."""
    state = reserve(quilts(), "R-1", 30, at(19))
    assert (state.on_hand, state.reserved, state.available) == (100, 30, 70)
    assert state.available_at(at(18)) == 100
    events = lot.release(state, reservation_id="R-1", actor="k", at=at(20))
    assert events[0].quantity == 30  # type: ignore[attr-defined]
    state = apply(state, events)
    assert (
        state.on_hand,
        state.reserved,
        state.available,
        state.available_at(at(19, 12)),
    ) == (100, 0, 100, 70)


def test_reserving_more_than_is_available_is_refused() -> None:
    """A reservation draws on available stock: asking for more is refused with both figures."""
    with pytest.raises(
        InsufficientStock,
        match=says(
            "lot L-031 has 100 quilts available on 2027-01-19 09:00; 130 "
            "requested for V-88 (reservation R-1)"
        ),
    ):
        reserve(quilts(), "R-1", 130, at(19))


def test_reservation_ids_are_unique_while_open() -> None:
    """An open reservation id cannot be reused; once released it can."""
    state = reserve(quilts(), "R-1", 10, at(19))
    with pytest.raises(
        AlreadyExists, match=says("lot L-031 already holds reservation R-1 (10 quilts for V-88)")
    ):
        reserve(state, "R-1", 5, at(20))
    state = apply(state, lot.release(state, reservation_id="R-1", actor="k", at=at(20)))
    assert reserve(state, "R-1", 5, at(21)).reserved == 5


def test_releasing_an_unknown_reservation_or_before_it_was_made_is_refused() -> None:
    """Only an open reservation can be released, and not before it was made."""
    state = reserve(quilts(), "R-1", 10, at(19))
    with pytest.raises(
        UnknownReservation,
        match=says("lot L-031 holds no reservation 'R-9'; open reservations: R-1"),
    ):
        lot.release(state, reservation_id="R-9", actor="k", at=at(20))
    assert issubclass(UnknownReservation, NotFound)
    with pytest.raises(
        EffectiveTimeRefused,
        match=says("reservation R-1 on lot L-031 was made on 2027-01-19 09:00"),
    ):
        lot.release(state, reservation_id="R-1", actor="k", at=at(18))


def test_a_backdated_reservation_that_breaks_a_later_issue_is_refused() -> None:
    """Reserving before an issue that took the stock would leave that issue's moment short."""
    state = issue(quilts(), 90, at(21))
    with pytest.raises(
        InsufficientStock,
        match=says(
            "reserving 20 quilts of lot L-031 for V-88 effective "
            "2027-01-19 09:00 would leave -10 available on 2027-01-21 "
            "09:00 after the issue to visit V-88"
        ),
    ):
        reserve(state, "R-1", 20, at(19))


# ---------------------------------------------------------------- issues


def test_an_issue_takes_stock_off_the_books_by_channel() -> None:
    """Issued units leave the shelf and are totalled by channel."""
    state = quilts()
    events = lot.issue(state, quantity=30, channel="visit", to="V-88", actor="k", at=at(21))
    state = apply(state, events)
    state = apply(
        state, lot.issue(state, quantity=5, channel="patrol", to="P-7", actor="k", at=at(21))
    )
    state = apply(
        state, lot.issue(state, quantity=10, channel="distribution", to="D-1", actor="k", at=at(22))
    )
    assert dict(state.issued) == {"visit": 30, "patrol": 5, "distribution": 10}
    assert (state.available, state.on_hand, state.issued_total) == (55, 55, 45)
    assert (
        events[0].type_name,
        events[0].to,  # type: ignore[attr-defined]
        events[0].reservation_id,  # type: ignore[attr-defined]
        events[0].from_reservation,  # type: ignore[attr-defined]
    ) == ("lot.issued", "V-88", None, 0)


def test_issuing_more_than_is_available_is_refused_naming_lot_numbers_and_date() -> None:
    """The plain case: the lot has fewer units than asked on that day."""
    state = issue(quilts(), 88, at(17, 12))
    with pytest.raises(
        InsufficientStock,
        match=exactly(
            "lot L-031 has 12 quilts available on 2027-01-18 09:00; 20 requested by visit V-88"
        ),
    ):
        issue(state, 20, at(18))
    assert issubclass(InsufficientStock, RuleViolation)


def test_a_backdated_issue_that_breaks_a_later_balance_is_refused_naming_that_event() -> None:
    """Stock now is enough for a backdated issue, but a later issue already relied on it."""
    state = issue(quilts(), 88, at(21), to="V-90")
    assert state.available == 12
    with pytest.raises(
        InsufficientStock,
        match=exactly(
            "issuing 20 quilts from lot L-031 effective 2027-01-18 09:00 "
            "would leave -8 available on 2027-01-21 09:00 after the issue "
            "to visit V-90"
        ),
    ):
        issue(state, 20, at(18))
    after = issue(state, 12, at(18))
    assert (after.available_at(at(20)), after.available) == (88, 0)


def test_an_issue_before_the_stock_starts_is_refused() -> None:
    """Nothing can be issued at a moment before the goods were inspected."""
    with pytest.raises(
        InsufficientStock,
        match=says(
            "lot L-031 has 0 quilts available on 2027-01-17 09:30 (its "
            "stock starts on 2027-01-17 10:00); 5 requested by visit V-88"
        ),
    ):
        issue(quilts(), 5, at(17, 9, 30))


def test_an_issue_draws_on_its_reservation_first_and_then_on_available_stock() -> None:
    """A reservation supplies what it holds to an issue; any rest is drawn on available stock."""
    state = reserve(quilts(), "R-1", 10, at(19))
    partly = issue(state, 4, at(21), reservation_id="R-1")
    assert (partly.on_hand, partly.reserved, partly.available) == (96, 6, 90)
    beyond = issue(partly, 9, at(22), reservation_id="R-1")
    assert (
        beyond.on_hand,
        beyond.reserved,
        beyond.available,
        dict(beyond.reservations),
    ) == (87, 0, 87, {})


def test_an_issue_beyond_its_reservation_needs_available_stock_for_the_rest() -> None:
    """The part an issue takes beyond its reservation must be available."""
    state = reserve(quilts(), "R-1", 90, at(19))
    with pytest.raises(
        InsufficientStock,
        match=says(
            "lot L-031 has 10 quilts available beyond reservation R-1 on "
            "2027-01-21 09:00; 101 requested by visit V-88, 90 of them "
            "from reservation"
        ),
    ):
        issue(state, 101, at(21), reservation_id="R-1")


def test_an_issue_cannot_draw_on_an_unknown_or_later_reservation() -> None:
    """The reservation must be open, and made before the issue's effective time."""
    state = reserve(quilts(), "R-1", 10, at(19))
    with pytest.raises(UnknownReservation, match=says("lot L-031 holds no reservation 'R-2'")):
        issue(state, 1, at(20), reservation_id="R-2")
    with pytest.raises(
        EffectiveTimeRefused,
        match=says(
            "reservation R-1 on lot L-031 was made on 2027-01-19 09:00; "
            "an issue effective 2027-01-18 09:00"
        ),
    ):
        issue(state, 1, at(18), reservation_id="R-1")


def test_expired_food_is_not_issued_but_may_be_on_its_last_day() -> None:
    """Food past its expiry date on the day of the issue (in the lot's time zone) is refused."""
    state = rice(expires_on=date(2027, 1, 20))
    assert issue(state, 3, at(20, 23, 59)).available == 47
    with pytest.raises(
        LotExpired,
        match=says(
            "lot L-050 (rice) expired on 2027-01-20; it cannot be issued "
            "on 2027-01-21 (3 bags of rice requested by visit V-88): "
            "write it off instead"
        ),
    ):
        issue(state, 3, at(21, 0, 1))
    # 16:30 UTC on the 20th is already the 21st at the receiving point in Shanghai.
    with pytest.raises(LotExpired, match=says("cannot be issued on 2027-01-21")):
        issue(state, 3, datetime(2027, 1, 20, 16, 30, tzinfo=UTC))


def test_issues_need_a_known_channel_and_a_recipient() -> None:
    """Channels are visit, distribution or patrol; the recipient is named."""
    with pytest.raises(
        InvalidCommand,
        match=says("channel 'mail' is not accepted; use one of: visit, distribution, patrol"),
    ):
        lot.issue(quilts(), quantity=1, channel="mail", to="X", actor="k", at=at(20))
    with pytest.raises(InvalidCommand, match=says("to must be a non-empty text")):
        lot.issue(quilts(), quantity=1, channel="visit", to="", actor="k", at=at(20))
    with pytest.raises(InvalidCommand, match=says("quantity is 0")):
        lot.issue(quilts(), quantity=0, channel="visit", to="V", actor="k", at=at(20))


def test_cash_is_issued_in_fen_and_refusals_speak_yuan() -> None:
    """Money is issued in fen; shortfalls and count differences are stated in yuan."""
    state = cash(fen=110_000)
    state = apply(
        state, lot.issue(state, quantity=55_000, channel="visit", to="V-1", actor="k", at=at(21))
    )
    assert state.available == 55_000
    with pytest.raises(
        InsufficientStock,
        match=says(
            "lot L-900 has 550.00 yuan available on 2027-01-21 10:00; 900.00 yuan requested by "
            "visit V-2"
        ),
    ):
        lot.issue(state, quantity=90_000, channel="visit", to="V-2", actor="k", at=at(21, 10))
    with pytest.raises(
        InsufficientStock,
        match=says(
            "would leave -350.00 yuan available on 2027-01-21 09:00 after the issue to visit V-1"
        ),
    ):
        lot.issue(state, quantity=90_000, channel="visit", to="V-2", actor="k", at=at(20))
    with pytest.raises(
        InvalidCommand, match=says("the book says 550.00 yuan, a difference of -0.50 yuan")
    ):
        lot.count(state, counted=54_950, actor="cashier", at=at(22))


# ---------------------------------------------------------------- counts


def test_a_count_equal_to_the_book_needs_no_reason() -> None:
    """A count that confirms the book is recorded, with no discrepancy."""
    state = quilts()
    events = lot.count(state, counted=100, actor="k", at=at(20))
    state = apply(state, events)
    assert (state.discrepancies, state.on_hand, state.adjustments) == ((), 100, 0)
    assert (
        events[0].book,  # type: ignore[attr-defined]
        events[0].counted,  # type: ignore[attr-defined]
        events[0].difference,  # type: ignore[attr-defined]
        events[0].reason,  # type: ignore[attr-defined]
    ) == (100, 100, 0, None)


def test_a_count_that_differs_needs_a_reason_and_the_book_follows_the_shelf() -> None:
    """A discrepancy keeps book, counted, difference and reason; on hand becomes the count."""
    state = issue(quilts(), 10, at(19))
    with pytest.raises(
        InvalidCommand,
        match=says(
            "the count of lot L-031 on 2027-01-20 09:00 found 87 quilts, "
            "the book says 90, a difference of -3"
        ),
    ):
        lot.count(state, counted=87, actor="k", at=at(20))
    state = apply(
        state, lot.count(state, counted=87, reason="3 lost to a leaking roof", actor="k", at=at(20))
    )
    assert (state.on_hand, state.adjustments) == (87, -3)
    assert (
        lot.Discrepancy(
            effective_at=at(20),
            book=90,
            counted=87,
            difference=-3,
            reason="3 lost to a leaking roof",
        ),
    ) == (state.discrepancies)


def test_a_backdated_count_compares_with_the_book_of_its_own_moment() -> None:
    """A count is compared with the book of its effective time; later movements still apply."""
    state = issue(issue(quilts(), 10, at(19)), 20, at(22))
    state = apply(
        state, lot.count(state, counted=88, reason="2 found stained", actor="k", at=at(20))
    )
    assert (
        state.discrepancies[0].book,
        state.discrepancies[0].counted,
        state.discrepancies[0].difference,
    ) == (90, 88, -2)
    assert (state.available_at(at(21)), state.on_hand) == (88, 68)


def test_a_count_stands_when_an_earlier_issue_is_recorded_late() -> None:
    """An issue recorded late, before a count, explains the count's difference: the shelf stands."""
    state = issue(quilts(), 10, at(19))
    state = apply(state, lot.count(state, counted=85, reason="5 missing", actor="k", at=at(22)))
    state = issue(state, 5, at(20), to="V-77")
    assert (
        state.available_at(at(22)),
        state.on_hand,
        state.adjustments,
        state.discrepancies[0].difference,
    ) == (85, 85, 0, -5)


def test_a_count_below_what_is_reserved_is_refused() -> None:
    """A count below what is reserved is refused until reservations are released."""
    state = reserve(quilts(), "R-1", 30, at(19))
    with pytest.raises(
        InsufficientStock,
        match=says(
            "lot L-031 has 70 quilts available on 2027-01-20 09:00; 20 "
            "counted while 30 are reserved: release reservations first"
        ),
    ):
        lot.count(state, counted=20, reason="theft", actor="k", at=at(20))


def test_a_count_before_the_stock_starts_is_refused() -> None:
    """Nothing was on the books to count before the inspection."""
    with pytest.raises(
        EffectiveTimeRefused,
        match=says(
            "lot L-031 has been on the books since 2027-01-17 10:00; it "
            "cannot be counted before, on 2027-01-17 09:00"
        ),
    ):
        lot.count(quilts(), counted=0, actor="k", at=RECEIVED_AT)


def test_a_backdated_count_that_breaks_a_later_balance_is_refused() -> None:
    """A count that lowers the book before later issues may leave those issues short."""
    state = issue(quilts(), 80, at(21))
    with pytest.raises(
        InsufficientStock,
        match=says(
            "counting 50 quilts on lot L-031 effective 2027-01-20 09:00 "
            "would leave -30 available on 2027-01-21 09:00 after the "
            "issue to visit V-88"
        ),
    ):
        lot.count(state, counted=50, reason="mould", actor="k", at=at(20))


# ---------------------------------------------------------------- writing off and returning


def test_write_offs_and_returns_take_stock_off_with_a_reason() -> None:
    """Both need a reason and reduce on hand; the totals are kept apart."""
    state = quilts()
    state = apply(
        state,
        lot.write_off(state, quantity=4, reason="soaked by a burst pipe", actor="k", at=at(19)),
    )
    state = apply(
        state, lot.return_to_donor(state, quantity=6, reason="wrong size", actor="k", at=at(20))
    )
    assert (state.written_off, state.returned, state.available) == (4, 6, 90)
    with pytest.raises(
        InvalidCommand, match=says("a reason is required: a write-off is explained to the auditors")
    ):
        lot.write_off(state, quantity=1, reason=" ", actor="k", at=at(21))
    with pytest.raises(InvalidCommand, match=says("a reason is required: a return to the donor")):
        lot.return_to_donor(state, quantity=1, reason="", actor="k", at=at(21))


def test_write_offs_and_returns_beyond_available_stock_are_refused() -> None:
    """Neither may take more than is available, then or later."""
    state = reserve(quilts(), "R-1", 95, at(19))
    with pytest.raises(
        InsufficientStock,
        match=says("lot L-031 has 5 quilts available on 2027-01-20 09:00; 6 to write off"),
    ):
        lot.write_off(state, quantity=6, reason="mould", actor="k", at=at(20))
    with pytest.raises(
        InsufficientStock,
        match=says(
            "returning 8 quilts of lot L-031 to Xinhua Textiles Co. "
            "effective 2027-01-18 09:00 would leave -3 available on "
            "2027-01-19 09:00 after reservation R-1 for V-88"
        ),
    ):
        lot.return_to_donor(state, quantity=8, reason="unused", actor="k", at=at(18))


# ---------------------------------------------------------------- reading a lot


def test_quantities_read_in_the_units_of_the_lot() -> None:
    """Messages speak of 12 quilts, bags of rice, kilograms, Chinese item names and yuan."""
    assert (
        quilts().describe(1),
        quilts().describe(12),
        received(item="cotton coat").describe(2),
    ) == ("1 quilt", "12 quilts", "2 cotton coats")
    assert (rice().describe(3), rice().describe(1)) == ("3 bags of rice", "1 bag of rice")
    assert received(item="flour", unit="kg").describe(5) == "5 kg of flour"
    assert received(item="棉被").describe(4) == "4 pieces of 棉被"
    assert received(item="masks", unit="box").describe(2) == "2 boxes of masks"
    assert cash().describe(110_000) == "1,100.00 yuan"


def test_availability_can_be_asked_at_any_effective_moment() -> None:
    """available_at answers for any moment; movements at equal times count in recorded order."""
    state = issue(reserve(quilts(), "R-1", 10, at(19)), 30, at(19))
    assert [
        state.available_at(moment)
        for moment in (RECEIVED_AT, INSPECTED_AT, at(18, 23), at(19), at(25))
    ] == [0, 100, 100, 60, 60]
    assert tuple(m.what for m in state.timeline[1:]) == (
        "reservation R-1 for V-88",
        "the issue to visit V-88",
    )


def test_old_history_replays_and_refusals_blame_only_what_gets_worse() -> None:
    """History showing negative stock replays; new movements are judged by what they worsen."""
    state = quilts(accepted=10)
    state = apply(state, lot.count(state, counted=10, actor="k", at=at(20)))
    issued = lot.issue(state, quantity=5, channel="visit", to="V-1", actor="k", at=at(21))[0]
    assert isinstance(issued, lot.LotIssued)
    overdrawn = attrs.evolve(issued, quantity=25)
    state = apply(state, [overdrawn])
    assert (state.available, state.available_at(at(20))) == (-15, 10)
    # The count on the 20th resets the book, so an issue before it leaves the overdraft as it was.
    after = issue(state, 2, at(19))
    assert (after.available_at(at(19)), after.available) == (8, -15)
    with pytest.raises(
        InsufficientStock, match=says("has -15 quilts available on 2027-01-22 09:00")
    ):
        issue(state, 1, at(22))


# ---------------------------------------------------------------- the invariant, against a model


@attrs.frozen
class Entry:
    """What the model keeps of one accepted movement."""

    at: datetime
    on_hand: int = 0
    reserved: int = 0
    counted: int | None = None


class Model:
    """An obviously correct lot: every accepted movement, balances recomputed from scratch."""

    def __init__(self, state: DonationLot) -> None:
        start = state.stock_starts_at
        assert start is not None
        self.start = start
        self.entries: list[Entry] = [Entry(start, on_hand=state.accepted)]
        self.open: dict[str, tuple[int, datetime]] = {}

    def balances(self, entries: list[Entry]) -> list[tuple[datetime, int, int]]:
        """(moment, on hand, available) after each entry, sorted by time, ties in arrival order."""
        ordered = [
            entry for _, entry in sorted(enumerate(entries), key=lambda pair: (pair[1].at, pair[0]))
        ]
        on_hand = reserved = 0
        out = []
        for entry in ordered:
            on_hand = entry.counted if entry.counted is not None else on_hand + entry.on_hand
            reserved += entry.reserved
            out.append((entry.at, on_hand, on_hand - reserved))
        return out

    def available_at(self, moment: datetime) -> int:
        """Available at `moment` by brute force."""
        available = 0
        for when, _, value in self.balances(self.entries):
            if when <= moment:
                available = value
        return available

    def adjustments(self) -> int:
        """What counts added to the book, by brute force."""
        ordered = sorted(enumerate(self.entries), key=lambda pair: (pair[1].at, pair[0]))
        total = on_hand = 0
        for _, entry in ordered:
            new = entry.counted if entry.counted is not None else on_hand + entry.on_hand
            if entry.counted is not None:
                total += new - on_hand
            on_hand = new
        return total

    def try_move(self, move: Move) -> bool:
        """Apply `move` if the rules allow it; whether they did."""
        entry, reservation = self._entry(move)
        if entry is None:
            return False
        if any(available < 0 for _, _, available in self.balances([*self.entries, entry])):
            return False
        self.entries.append(entry)
        if move.verb == "reserve":
            assert move.reservation_id is not None
            self.open[move.reservation_id] = (move.quantity, move.at)
        elif reservation is not None:
            left = self.open[reservation][0] + entry.reserved
            if move.verb == "release" or left == 0:
                del self.open[reservation]
            else:
                self.open[reservation] = (left, self.open[reservation][1])
        return True

    def _entry(self, move: Move) -> tuple[Entry | None, str | None]:
        rid = move.reservation_id
        if move.verb == "reserve":
            return (None if rid in self.open else Entry(move.at, reserved=move.quantity)), None
        if move.verb == "release":
            if rid not in self.open or move.at < self.open[rid][1]:
                return None, None
            return Entry(move.at, reserved=-self.open[rid][0]), rid
        if move.verb == "count":
            return (None if move.at < self.start else Entry(move.at, counted=move.quantity)), None
        if move.verb == "issue" and rid is not None:
            if rid not in self.open or move.at < self.open[rid][1]:
                return None, None
            return Entry(
                move.at, on_hand=-move.quantity, reserved=-min(move.quantity, self.open[rid][0])
            ), rid
        return Entry(move.at, on_hand=-move.quantity), None


@given(stocked_lots(), st.lists(moves(), max_size=25))
def test_no_accepted_sequence_ever_leaves_stock_negative(
    state: DonationLot, sequence: list[Move]
) -> None:
    """Over random, often backdated movements the lot accepts exactly what a brute-force model does.

    After every accepted movement, availability is never negative at any moment and agrees with the
    model; a refusal changes nothing; on hand = accepted - issued - written off - returned +
    adjustments; received = accepted + rejected.
    """
    model = Model(state)
    for move in sequence:
        before = state
        try:
            events = move.decide(state)
        except CommandRefused:
            assert not model.try_move(move), f"refused but the model accepts {move}"
            assert before == state
            continue
        assert model.try_move(move), f"accepted but the model refuses {move}"
        state = apply(state, events)
        probes = {m.at for m in state.timeline} | {
            move.at - timedelta(minutes=1),
            RECEIVED_AT - timedelta(days=1),
        }
        for moment in probes:
            assert model.available_at(moment) == state.available_at(moment)
            assert state.available_at(moment) >= 0
        assert model.balances(model.entries)[-1][1] == state.on_hand
        assert sum(quantity for quantity, _ in model.open.values()) == state.reserved
        assert model.adjustments() == state.adjustments
        assert state.on_hand == (
            state.accepted
            - state.issued_total
            - state.written_off
            - state.returned
            + state.adjustments
        )
        assert state.received == state.accepted + state.rejected
