"""Donation lot commands through the application."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from tests.clocks import ManualClock, at
from warmcase.app import Warmcase
from warmcase.domain import lot
from warmcase.domain.lot import (
    DonationLot,
    InspectionMismatch,
    InsufficientStock,
    LotExpired,
    LotNotInspected,
    Rejection,
    UnknownReservation,
)
from warmcase.errors import (
    AlreadyExists,
    CommandRefused,
    EffectiveTimeRefused,
    InvalidCommand,
    NotFound,
    WrongState,
)


def says(text: str) -> str:
    """A pattern that finds `text` as written in a message."""
    return re.escape(text)


def stocked_quilts(app: Warmcase, ref: str = "L-031") -> str:
    """120 quilts from an enterprise, received on 17 January; 100 pass inspection."""
    app.receive_lot(
        ref,
        donor="Xinhua Textiles Co.",
        item="quilt",
        unit="piece",
        quantity=120,
        warehouse="Gulou store",
        actor="store.keeper",
        effective_at=at(17, 9),
    )
    return app.inspect_lot(
        ref,
        accepted=100,
        rejected=20,
        rejections=[(12, "holes"), (8, "visible stains")],
        actor="inspector",
        effective_at=at(17, 10),
    )


def load(app: Warmcase, ref: str = "L-031") -> DonationLot:
    """The lot's state as the store has it."""
    state = app.load(lot.KIND, ref)
    assert isinstance(state, DonationLot)
    return state


def test_a_lot_from_pledge_to_the_last_quilt(app: Warmcase) -> None:
    """Every lot command returns the reference, and the lot read back holds each movement."""
    assert (
        app.pledge_lot(
            "L-031",
            donor="Xinhua Textiles Co.",
            item="quilt",
            unit="piece",
            quantity=150,
            actor="office",
            effective_at=at(10),
        )
        == "L-031"
    )
    assert stocked_quilts(app) == "L-031"
    steps: list[Callable[[], str]] = [
        lambda: app.transfer_lot(
            "L-031",
            to_warehouse="Drum Tower store",
            reason="closer",
            actor="k",
            effective_at=at(18),
        ),
        lambda: app.reserve_lot(
            "L-031",
            reservation_id="R-1",
            quantity=30,
            for_ref="D-1",
            actor="k",
            effective_at=at(19),
        ),
        lambda: app.issue_lot(
            "L-031",
            quantity=25,
            channel="distribution",
            to="D-1",
            reservation_id="R-1",
            actor="k",
            effective_at=at(20),
        ),
        lambda: app.release_lot("L-031", reservation_id="R-1", actor="k", effective_at=at(20, 18)),
        lambda: app.count_stock(
            "L-031", counted=73, reason="2 soaked, not found", actor="k", effective_at=at(21)
        ),
        lambda: app.write_off("L-031", quantity=3, reason="mould", actor="k", effective_at=at(22)),
        lambda: app.return_to_donor(
            "L-031", quantity=10, reason="not needed this winter", actor="k", effective_at=at(24)
        ),
    ]
    assert [step() for step in steps] == ["L-031"] * len(steps)
    state = load(app)
    assert (state.pledged, state.received, state.accepted, state.rejected) == (150, 120, 100, 20)
    assert state.rejections == (
        Rejection(quantity=12, reason="holes"),
        Rejection(quantity=8, reason="visible stains"),
    )
    assert (state.warehouse, dict(state.issued), dict(state.reservations)) == (
        "Drum Tower store",
        {"distribution": 25},
        {},
    )
    assert (state.on_hand, state.available, state.written_off, state.returned) == (60, 60, 3, 10)
    assert (state.discrepancies[0].book, state.discrepancies[0].difference) == (75, -2)
    assert app.recorder.max_notification_id() == 10


def test_money_is_a_lot_on_the_books_from_receipt(app: Warmcase) -> None:
    """A cash donation is received in fen and can be issued at once; inspecting it is refused."""
    app.receive_lot(
        "L-900",
        donor="Gulou Power Supply Co.",
        item="consolation money",
        unit="yuan",
        kind="cash",
        quantity=1_300_000_00,
        warehouse="street office safe",
        actor="cashier",
        effective_at=at(18),
    )
    app.issue_lot("L-900", quantity=70_000, channel="visit", to="V-1", actor="cashier")
    assert load(app, "L-900").available == 1_300_000_00 - 70_000
    with pytest.raises(WrongState, match="lot L-900 is cash"):
        app.inspect_lot("L-900", accepted=1, actor="inspector")


def test_refused_lot_commands_append_nothing(app: Warmcase) -> None:
    """Every kind of refusal leaves the store exactly as it was."""
    stocked_quilts(app)
    app.issue_lot("L-031", quantity=88, channel="visit", to="V-90", actor="k", effective_at=at(21))
    before = app.recorder.max_notification_id()
    refusals: list[tuple[type[CommandRefused], str, Callable[[], str]]] = [
        (
            InsufficientStock,
            "lot L-031 has 12 quilts available on 2027-01-22 09:00; 20 requested by visit V-88",
            lambda: app.issue_lot(
                "L-031", quantity=20, channel="visit", to="V-88", actor="k", effective_at=at(22)
            ),
        ),
        (
            InsufficientStock,
            "issuing 20 quilts from lot L-031 effective 2027-01-18 09:00 would leave -8 available "
            "on 2027-01-21 09:00 after the issue to visit V-90",
            lambda: app.issue_lot(
                "L-031", quantity=20, channel="visit", to="V-88", actor="k", effective_at=at(18)
            ),
        ),
        (
            InsufficientStock,
            "lot L-031 has 12 quilts available on 2027-01-23 09:00; 13 to write off",
            lambda: app.write_off("L-031", quantity=13, reason="x", actor="k", effective_at=at(23)),
        ),
        (
            InsufficientStock,
            "13 requested for V-1 (reservation R-1)",
            lambda: app.reserve_lot(
                "L-031", reservation_id="R-1", quantity=13, for_ref="V-1", actor="k"
            ),
        ),
        (
            InvalidCommand,
            "a reason is required: the count of lot L-031",
            lambda: app.count_stock("L-031", counted=10, actor="k"),
        ),
        (
            InvalidCommand,
            "lot L-031 is already in warehouse Gulou store",
            lambda: app.transfer_lot("L-031", to_warehouse="Gulou store", actor="k"),
        ),
        (
            UnknownReservation,
            "lot L-031 holds no reservation 'R-7'",
            lambda: app.release_lot("L-031", reservation_id="R-7", actor="k"),
        ),
        (
            WrongState,
            "lot L-031 was already inspected",
            lambda: app.inspect_lot("L-031", accepted=120, actor="k"),
        ),
        (
            AlreadyExists,
            "lot L-031 was already received",
            lambda: stocked_quilts(app),
        ),
        (
            NotFound,
            "lot L-404 does not exist",
            lambda: app.write_off("L-404", quantity=1, reason="x", actor="k"),
        ),
        (
            EffectiveTimeRefused,
            "is in the future",
            lambda: app.return_to_donor(
                "L-031", quantity=1, reason="x", actor="k", effective_at=at(26)
            ),
        ),
    ]
    for error, message, command in refusals:
        with pytest.raises(error, match=says(message)):
            command()
    assert app.recorder.max_notification_id() == before


def test_inspection_refusals_through_the_application(app: Warmcase) -> None:
    """Goods wait for inspection; an inspection that does not add up is refused and not stored."""
    app.receive_lot(
        "L-050",
        donor="Grain Bureau",
        item="rice",
        unit="bag",
        quantity=50,
        warehouse="W",
        expires_on=date(2027, 1, 20),
        actor="k",
        effective_at=at(17),
    )
    before = app.recorder.max_notification_id()
    with pytest.raises(
        LotNotInspected, match=says("lot L-050 (50 bags of rice from Grain Bureau)")
    ):
        app.issue_lot("L-050", quantity=1, channel="distribution", to="D-1", actor="k")
    with pytest.raises(InspectionMismatch, match=says("48 accepted + 0 rejected = 48")):
        app.inspect_lot("L-050", accepted=48, actor="k")
    assert app.recorder.max_notification_id() == before
    app.inspect_lot("L-050", accepted=50, actor="k", effective_at=at(17, 12))
    with pytest.raises(LotExpired, match=says("lot L-050 (rice) expired on 2027-01-20")):
        app.issue_lot("L-050", quantity=1, channel="distribution", to="D-1", actor="k")
    assert app.write_off("L-050", quantity=50, reason="expired", actor="k") == "L-050"


def test_backdated_movements_are_judged_at_their_own_moment(
    app: Warmcase, clock: ManualClock
) -> None:
    """A movement recorded late takes its place in the timeline; the book at each moment follows."""
    stocked_quilts(app)
    app.issue_lot("L-031", quantity=40, channel="visit", to="V-2", actor="k")
    clock.advance(timedelta(days=1))
    app.issue_lot("L-031", quantity=60, channel="visit", to="V-1", actor="k", effective_at=at(20))
    state = load(app)
    assert (state.available_at(at(19)), state.available_at(at(21)), state.available) == (100, 40, 0)
