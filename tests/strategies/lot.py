"""Donation lots built through their own decisions, and random stock movements to try on them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import attrs
from hypothesis import strategies as st

from tests.clocks import at
from warmcase.domain import lot
from warmcase.domain.lot import DonationLot
from warmcase.domain.stream import fold
from warmcase.events import Event

RECEIVED_AT = at(17, 9)
"""Donations for the Spring Festival visits arrive at the receiving point on 17 January."""
INSPECTED_AT = at(17, 10)


def apply(state: DonationLot | None, events: Iterable[Event]) -> DonationLot:
    """`state` after `events`."""
    for event in events:
        state = lot.evolve(state, event)
    assert state is not None
    return state


def received(
    ref: str = "L-031",
    *,
    item: str = "quilt",
    unit: str = "piece",
    quantity: int = 120,
    kind: str = "goods",
    donor: str = "Xinhua Textiles Co.",
    warehouse: str = "Gulou store",
    expires_on: date | None = None,
    when: datetime = RECEIVED_AT,
) -> DonationLot:
    """A lot registered at the receiving point, not yet inspected (cash is on the books)."""
    events = lot.receive(
        None,
        ref=ref,
        donor=donor,
        item=item,
        unit=unit,
        quantity=quantity,
        warehouse=warehouse,
        kind=kind,
        expires_on=expires_on,
        actor="store.keeper",
        at=when,
    )
    state = fold(lot.KIND, events)
    assert state is not None
    return state


def quilts(accepted: int = 100, ref: str = "L-031") -> DonationLot:
    """120 quilts received on 17 January; `accepted` of them pass inspection an hour later."""
    state = received(ref, quantity=120)
    rejected = 120 - accepted
    rejections = [(rejected, "holes or stains")] if rejected else []
    return apply(
        state,
        lot.inspect(
            state,
            accepted=accepted,
            rejected=rejected,
            rejections=rejections,
            actor="inspector",
            at=INSPECTED_AT,
        ),
    )


def rice(quantity: int = 50, expires_on: date = date(2027, 1, 31)) -> DonationLot:
    """Bags of rice, all accepted, that keep until `expires_on`."""
    state = received("L-050", item="rice", unit="bag", quantity=quantity, expires_on=expires_on)
    return apply(state, lot.inspect(state, accepted=quantity, actor="inspector", at=INSPECTED_AT))


def cash(fen: int = 10_000_000) -> DonationLot:
    """Money from an enterprise: 100,000 yuan by default, on the books from receipt."""
    return received("L-900", item="consolation money", unit="yuan", quantity=fen, kind="cash")


# ---------------------------------------------------------------- random movements


@attrs.frozen(kw_only=True)
class Move:
    """One attempted stock movement: the decision to call and its arguments."""

    verb: str
    at: datetime
    quantity: int = 0
    reservation_id: str | None = None

    def decide(self, state: DonationLot) -> list[Event]:
        """The events the lot's decision returns for this move (or its refusal)."""
        match self.verb:
            case "issue":
                return lot.issue(
                    state,
                    quantity=self.quantity,
                    channel="visit",
                    to="V-88",
                    reservation_id=self.reservation_id,
                    actor="keeper",
                    at=self.at,
                )
            case "reserve":
                assert self.reservation_id is not None
                return lot.reserve(
                    state,
                    reservation_id=self.reservation_id,
                    quantity=self.quantity,
                    for_ref="V-88",
                    actor="keeper",
                    at=self.at,
                )
            case "release":
                assert self.reservation_id is not None
                return lot.release(
                    state, reservation_id=self.reservation_id, actor="keeper", at=self.at
                )
            case "write_off":
                return lot.write_off(
                    state, quantity=self.quantity, reason="damp", actor="keeper", at=self.at
                )
            case "return":
                return lot.return_to_donor(
                    state, quantity=self.quantity, reason="unused", actor="keeper", at=self.at
                )
            case "count":
                return lot.count(
                    state, counted=self.quantity, reason="recount", actor="keeper", at=self.at
                )
        raise AssertionError(self.verb)


reservation_ids = st.sampled_from(["R-1", "R-2", "R-3"])

# Half-hour steps make equal effective times common; a few fall before the stock starts.
moments = st.integers(-4, 20 * 24).map(lambda step: INSPECTED_AT + timedelta(minutes=30 * step))


@st.composite
def moves(draw: st.DrawFn) -> Move:
    """A movement of any kind, at any moment around the lot's life, often backdated."""
    verb = draw(st.sampled_from(["issue", "reserve", "release", "write_off", "return", "count"]))
    when = draw(moments)
    if verb == "count":
        return Move(verb=verb, at=when, quantity=draw(st.integers(0, 60)))
    if verb == "release":
        return Move(verb=verb, at=when, reservation_id=draw(reservation_ids))
    reservation_id = draw(reservation_ids) if verb == "reserve" else None
    if verb == "issue":
        reservation_id = draw(st.none() | reservation_ids)
    return Move(
        verb=verb, at=when, quantity=draw(st.integers(1, 40)), reservation_id=reservation_id
    )


@st.composite
def stocked_lots(draw: st.DrawFn) -> DonationLot:
    """A lot with stock on the books: inspected goods (any split) or cash."""
    if draw(st.booleans()):
        return quilts(accepted=draw(st.integers(0, 120)))
    return cash(fen=draw(st.integers(1, 100)))
