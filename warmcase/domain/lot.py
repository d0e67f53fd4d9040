"""DonationLot: donated goods or money, from receipt to the last unit issued (物资).

A dedicated receiving point registers each donation as a lot: who gave it, what
it is, how much, in which warehouse, and until when food keeps. A lot may be
pledged before it arrives. Goods are inspected on receipt: accepted units go on
the books, rejected ones are recorded with the reason each failed (holes,
stains, missing buttons...). Money is a lot too, of kind "cash" and unit
"yuan", counted in integer fen and on the books from receipt.

Every movement in and out is an event: transfers between warehouses,
reservations and their release, issues to visits, distribution points and
patrols, write-offs, returns to the donor, and physical counts. A count sets the
book to what is on the shelf at its effective time, whatever was recorded
before or is backdated later, so the ledger matches the goods (账物相符).

Movements may be backdated. The lot keeps a timeline of its stock movements
ordered by effective time (stable for equal times), so availability can be
asked for any moment, and the rule that matters most is checked against the
whole timeline: no lot's available quantity (on hand minus reserved) is ever
negative at any effective time. A backdated movement that would break a later
balance is refused, naming the later movement it breaks.

Visits and patrols draw on lots through :func:`issue`, which their decisions
call with the lot's current state.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

import attrs
from pyrsistent import PMap, pmap

from warmcase.clock import DEFAULT_TIMEZONE, local_date, zone
from warmcase.domain import checks
from warmcase.domain.stream import Kind
from warmcase.errors import (
    AlreadyExists,
    EffectiveTimeRefused,
    InvalidCommand,
    NotFound,
    RuleViolation,
    WrongState,
)
from warmcase.events import Event, event_type, value_type

KINDS = ("goods", "cash")
UNITS = ("piece", "pair", "set", "bag", "box", "bottle", "kg", "litre", "yuan")
CHANNELS = ("visit", "distribution", "patrol")
"""Who goods are issued to: a home visit, a distribution point, a street patrol."""

_UNIT_PLURALS = {"piece": "pieces", "pair": "pairs", "set": "sets", "bag": "bags"}
_UNIT_PLURALS |= {"box": "boxes", "bottle": "bottles", "kg": "kg", "litre": "litres"}
_TARGETS = {"visit": "visit", "distribution": "distribution point", "patrol": "patrol"}

# ---------------------------------------------------------------- values


@value_type("lot.rejection")
@attrs.frozen(kw_only=True)
class Rejection:
    """So many units that failed inspection, and why: ``Rejection(quantity=3, reason="holes")``."""

    quantity: int
    reason: str


@attrs.frozen(kw_only=True)
class Reservation:
    """Units held back for a visit, patrol or distribution until issued or released."""

    reservation_id: str
    quantity: int
    """Still held: what was reserved less what issues have taken from it."""
    for_ref: str
    reserved_at: datetime


@attrs.frozen(kw_only=True)
class Discrepancy:
    """A physical count that differed from the book, as recorded when it was taken."""

    effective_at: datetime
    book: int
    counted: int
    difference: int
    reason: str | None


@attrs.frozen(kw_only=True)
class Movement:
    """One step of the stock timeline: a change, or (for a count) a new on-hand figure."""

    at: datetime
    what: str
    """How messages name it, e.g. "the issue to visit V-88"."""
    on_hand: int = 0
    reserved: int = 0
    counted: int | None = None


@attrs.frozen
class Balance:
    """On hand and reserved just after a movement of the timeline."""

    movement: Movement
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        """What can still be reserved or issued: on hand less reserved."""
        return self.on_hand - self.reserved


def run(timeline: Iterable[Movement]) -> Iterator[Balance]:
    """The balances after each movement of `timeline`, in order."""
    on_hand = reserved = 0
    for movement in timeline:
        on_hand = movement.counted if movement.counted is not None else on_hand + movement.on_hand
        reserved += movement.reserved
        yield Balance(movement, on_hand, reserved)


# ---------------------------------------------------------------- state


@attrs.frozen(kw_only=True)
class DonationLot:
    """A lot as its events leave it. Quantities are units, or fen for cash."""

    ref: str
    donor: str
    item: str
    unit: str
    kind: str
    timezone: str = DEFAULT_TIMEZONE
    pledged: int = 0
    received: int = 0
    received_at: datetime | None = None
    warehouse: str | None = None
    warehouses: tuple[tuple[datetime, str], ...] = ()
    expires_on: date | None = None
    inspected_at: datetime | None = None
    accepted: int = 0
    rejected: int = 0
    rejections: tuple[Rejection, ...] = ()
    reservations: PMap[str, Reservation] = attrs.field(factory=pmap)
    issued: PMap[str, int] = attrs.field(factory=pmap)
    """Issued totals by channel."""
    written_off: int = 0
    returned: int = 0
    discrepancies: tuple[Discrepancy, ...] = ()
    timeline: tuple[Movement, ...] = ()

    @property
    def stock_starts_at(self) -> datetime | None:
        """When units went on the books: at inspection for goods, at receipt for cash."""
        return self.received_at if self.kind == "cash" else self.inspected_at

    @property
    def on_hand(self) -> int:
        """Units on the shelf by the books (after every movement)."""
        return self._last().on_hand

    @property
    def reserved(self) -> int:
        """Units held for reservations."""
        return sum(r.quantity for r in self.reservations.values())

    @property
    def available(self) -> int:
        """Units that can be reserved or issued now."""
        return self.on_hand - self.reserved

    @property
    def issued_total(self) -> int:
        """Units issued through every channel."""
        return sum(self.issued.values())

    @property
    def adjustments(self) -> int:
        """What the counts added to (or took from) the book, as the timeline now stands."""
        total = previous = 0
        for balance in run(self.timeline):
            if balance.movement.counted is not None:
                total += balance.on_hand - previous
            previous = balance.on_hand
        return total

    def balance_at(self, moment: datetime) -> Balance:
        """The balance after every movement effective at or before `moment`."""
        index = bisect_right(self.timeline, moment, key=_moment)
        return self._last(self.timeline[:index])

    def available_at(self, moment: datetime) -> int:
        """Units available at effective time `moment`."""
        return self.balance_at(moment).available

    def warehouse_at(self, moment: datetime) -> str | None:
        """The warehouse that held the lot at `moment` (None before receipt)."""
        held = [name for since, name in self.warehouses if since <= moment]
        return held[-1] if held else None

    def describe(self, quantity: int) -> str:
        """`quantity` in words: "12 quilts", "3 bags of rice", "1,100.00 yuan"."""
        if self.kind == "cash":
            sign = "-" if quantity < 0 else ""
            return f"{sign}{abs(quantity) // 100:,}.{abs(quantity) % 100:02d} yuan"
        one = abs(quantity) == 1
        if self.unit == "piece" and self.item.isascii():
            return f"{quantity} {self.item if one else _plural(self.item)}"
        unit = self.unit if one else _UNIT_PLURALS.get(self.unit, self.unit)
        return f"{quantity} {unit} of {self.item}"

    def figure(self, quantity: int, *, signed: bool = False) -> str:
        """`quantity` as a bare figure for goods ("12", "+3"), in yuan for cash."""
        sign = "+" if signed and quantity > 0 else ""
        return sign + (self.describe(quantity) if self.kind == "cash" else str(quantity))

    def when(self, moment: datetime) -> str:
        """`moment` as the lot's receiving point reads it: "2027-01-18 10:00"."""
        return f"{moment.astimezone(zone(self.timezone)):%Y-%m-%d %H:%M}"

    def _last(self, timeline: tuple[Movement, ...] | None = None) -> Balance:
        last = deque(run(self.timeline if timeline is None else timeline), maxlen=1)
        return last[0] if last else _NOTHING


_NOTHING = Balance(Movement(at=datetime.min.replace(tzinfo=UTC), what="nothing"), 0, 0)


def _moment(movement: Movement) -> datetime:
    return movement.at


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


# ---------------------------------------------------------------- events


@event_type("lot.pledged")
@attrs.frozen(kw_only=True)
class LotPledged(Event):
    donor: str
    item: str
    unit: str
    kind: str
    quantity: int


@event_type("lot.received")
@attrs.frozen(kw_only=True)
class LotReceived(Event):
    donor: str
    item: str
    unit: str
    kind: str
    quantity: int
    warehouse: str
    expires_on: date | None
    timezone: str


@event_type("lot.inspected")
@attrs.frozen(kw_only=True)
class LotInspected(Event):
    accepted: int
    rejected: int
    rejections: tuple[Rejection, ...]


@event_type("lot.transferred")
@attrs.frozen(kw_only=True)
class LotTransferred(Event):
    from_warehouse: str
    to_warehouse: str
    reason: str | None


@event_type("lot.reserved")
@attrs.frozen(kw_only=True)
class LotReserved(Event):
    reservation_id: str
    quantity: int
    for_ref: str


@event_type("lot.released")
@attrs.frozen(kw_only=True)
class LotReleased(Event):
    reservation_id: str
    quantity: int


@event_type("lot.issued")
@attrs.frozen(kw_only=True)
class LotIssued(Event):
    quantity: int
    channel: str
    to: str
    reservation_id: str | None
    from_reservation: int
    """How many of `quantity` the reservation supplied; the rest came from available stock."""


@event_type("lot.counted")
@attrs.frozen(kw_only=True)
class LotCounted(Event):
    book: int
    """What the book said at the count's effective time, when the count was recorded."""
    counted: int
    difference: int
    reason: str | None


@event_type("lot.written_off")
@attrs.frozen(kw_only=True)
class LotWrittenOff(Event):
    quantity: int
    reason: str


@event_type("lot.returned")
@attrs.frozen(kw_only=True)
class LotReturned(Event):
    quantity: int
    reason: str


# ---------------------------------------------------------------- errors


class InsufficientStock(RuleViolation):
    """The movement would leave the lot's available quantity negative, then or later."""


class LotNotReceived(WrongState):
    """The lot was pledged but has not arrived."""


class LotNotInspected(WrongState):
    """The goods have not been inspected, so none are on the books yet."""


class LotExpired(RuleViolation):
    """The food in the lot is past its expiry date on the day of the issue."""


class InspectionMismatch(RuleViolation):
    """Accepted and rejected units do not account for what was received."""


class PledgeMismatch(RuleViolation):
    """What arrived is not what was pledged under this lot reference."""


class UnknownReservation(NotFound):
    """The lot holds no open reservation under that id."""


# ---------------------------------------------------------------- decisions


def pledge(
    existing: DonationLot | None,
    *,
    ref: str,
    donor: str,
    item: str,
    unit: str,
    quantity: int,
    kind: str = "goods",
    actor: str,
    at: datetime,
) -> list[Event]:
    """Record a donor's promise of goods or money, before anything arrives."""
    if existing is not None:
        msg = (
            f"lot {ref} already exists ({existing.item} from {existing.donor}); "
            f"choose another reference"
        )
        raise AlreadyExists(msg)
    kind, unit = _kind_and_unit(kind, unit)
    return [
        LotPledged(
            ref=ref,
            actor=actor,
            effective_at=at,
            donor=checks.text(donor, "donor"),
            item=checks.text(item, "item", max_length=100),
            unit=unit,
            kind=kind,
            quantity=checks.quantity(quantity, "quantity"),
        )
    ]


def receive(
    existing: DonationLot | None,
    *,
    ref: str,
    donor: str,
    item: str,
    unit: str,
    quantity: int,
    warehouse: str,
    kind: str = "goods",
    expires_on: date | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Register a donation at the receiving point; a pledged lot must arrive as pledged."""
    kind, unit = _kind_and_unit(kind, unit)
    donor = checks.text(donor, "donor")
    item = checks.text(item, "item", max_length=100)
    if existing is not None and existing.received_at is not None:
        msg = (
            f"lot {ref} was already received on {existing.when(existing.received_at)} "
            f"({existing.describe(existing.received)} from {existing.donor}); "
            f"register a new delivery under another reference"
        )
        raise AlreadyExists(msg)
    if existing is not None:
        pledged = (existing.donor, existing.item, existing.unit, existing.kind)
        if pledged != (donor, item, unit, kind):
            msg = (
                f"lot {ref} was pledged as {existing.kind} {existing.item!r} in {existing.unit} "
                f"by {existing.donor}; received {kind} {item!r} in {unit} by {donor}: "
                f"receive it as pledged, or under another reference"
            )
            raise PledgeMismatch(msg)
    if expires_on is not None:
        expires_on = checks.day(expires_on, "expires_on")
        if kind == "cash":
            msg = f"lot {ref} is cash, which does not expire; give expires_on only for food"
            raise InvalidCommand(msg)
    zone(timezone)
    return [
        LotReceived(
            ref=ref,
            actor=actor,
            effective_at=at,
            donor=donor,
            item=item,
            unit=unit,
            kind=kind,
            quantity=checks.quantity(quantity, "quantity"),
            warehouse=checks.text(warehouse, "warehouse"),
            expires_on=expires_on,
            timezone=timezone,
        )
    ]


def inspect(
    lot: DonationLot,
    *,
    accepted: int,
    rejected: int = 0,
    rejections: Iterable[Rejection | tuple[int, str]] = (),
    actor: str,
    at: datetime,
) -> list[Event]:
    """Check received goods: accepted + rejected = received, with a reason per rejection."""
    received_at = _require_received(lot)
    if lot.kind == "cash":
        msg = f"lot {lot.ref} is cash, accepted on receipt: there is nothing to inspect"
        raise WrongState(msg)
    if lot.inspected_at is not None:
        msg = (
            f"lot {lot.ref} was already inspected on {lot.when(lot.inspected_at)} "
            f"({lot.accepted} accepted, {lot.rejected} rejected); correct stock with a count"
        )
        raise WrongState(msg)
    if at < received_at:
        msg = (
            f"lot {lot.ref} cannot be inspected on {lot.when(at)}, before it was received "
            f"on {lot.when(received_at)}"
        )
        raise EffectiveTimeRefused(msg)
    accepted = checks.quantity(accepted, "accepted", allow_zero=True)
    rejected = checks.quantity(rejected, "rejected", allow_zero=True)
    if accepted + rejected != lot.received:
        msg = (
            f"lot {lot.ref} received {lot.describe(lot.received)}; {accepted} accepted + "
            f"{rejected} rejected = {accepted + rejected}: they must add up to {lot.received}"
        )
        raise InspectionMismatch(msg)
    checked = tuple(_rejection(entry) for entry in rejections)
    explained = sum(r.quantity for r in checked)
    if explained != rejected:
        msg = (
            f"lot {lot.ref}: {rejected} rejected but reasons given for {explained}; give a "
            f"reason for every rejected unit, e.g. rejections=[(3, 'holes'), (2, 'stains')]"
        )
        raise InspectionMismatch(msg)
    return [
        LotInspected(
            ref=lot.ref,
            actor=actor,
            effective_at=at,
            accepted=accepted,
            rejected=rejected,
            rejections=checked,
        )
    ]


def transfer(
    lot: DonationLot, *, to_warehouse: str, reason: str | None = None, actor: str, at: datetime
) -> list[Event]:
    """Move the whole lot to another warehouse."""
    received_at = _require_received(lot)
    to_warehouse = checks.text(to_warehouse, "to_warehouse")
    if to_warehouse == lot.warehouse:
        msg = f"lot {lot.ref} is already in warehouse {to_warehouse}; name another warehouse"
        raise InvalidCommand(msg)
    since = max(received_at, lot.warehouses[-1][0])
    if at < since:
        msg = (
            f"lot {lot.ref} has been in warehouse {lot.warehouse} since {lot.when(since)}; "
            f"a transfer effective {lot.when(at)} would come before that: date it later"
        )
        raise EffectiveTimeRefused(msg)
    assert lot.warehouse is not None
    return [
        LotTransferred(
            ref=lot.ref,
            actor=actor,
            effective_at=at,
            from_warehouse=lot.warehouse,
            to_warehouse=to_warehouse,
            reason=checks.optional_text(reason, "reason"),
        )
    ]


def reserve(
    lot: DonationLot,
    *,
    reservation_id: str,
    quantity: int,
    for_ref: str,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Hold `quantity` units of available stock for a visit, patrol or distribution."""
    _require_stock(lot)
    reservation_id = checks.text(reservation_id, "reservation_id", max_length=64)
    quantity = checks.quantity(quantity, "quantity")
    for_ref = checks.text(for_ref, "for_ref", max_length=64)
    held = lot.reservations.get(reservation_id)
    if held is not None:
        msg = (
            f"lot {lot.ref} already holds reservation {reservation_id} "
            f"({lot.describe(held.quantity)} for {held.for_ref}); use another id or release it"
        )
        raise AlreadyExists(msg)
    _check_timeline(
        lot,
        Movement(at=at, what=f"reservation {reservation_id} for {for_ref}", reserved=quantity),
        doing=f"reserving {lot.describe(quantity)} of lot {lot.ref} for {for_ref}",
        wanted=f"{lot.figure(quantity)} requested for {for_ref} (reservation {reservation_id})",
    )
    return [
        LotReserved(
            ref=lot.ref,
            actor=actor,
            effective_at=at,
            reservation_id=reservation_id,
            quantity=quantity,
            for_ref=for_ref,
        )
    ]


def release(lot: DonationLot, *, reservation_id: str, actor: str, at: datetime) -> list[Event]:
    """Give back to available stock what a reservation still holds."""
    held = _reservation(lot, reservation_id)
    if at < held.reserved_at:
        msg = (
            f"reservation {reservation_id} on lot {lot.ref} was made on "
            f"{lot.when(held.reserved_at)}; it cannot be released before, on {lot.when(at)}"
        )
        raise EffectiveTimeRefused(msg)
    return [
        LotReleased(
            ref=lot.ref,
            actor=actor,
            effective_at=at,
            reservation_id=reservation_id,
            quantity=held.quantity,
        )
    ]


def issue(
    lot: DonationLot,
    *,
    quantity: int,
    channel: str,
    to: str,
    reservation_id: str | None = None,
    actor: str,
    at: datetime,
) -> list[Event]:
    """Issue `quantity` units to a visit, distribution point or patrol (the cross-aggregate API).

    ``channel`` is "visit", "distribution" or "patrol" and ``to`` the reference of
    that visit, point or patrol. With ``reservation_id``, the reservation supplies
    up to what it still holds and any rest is drawn on available stock; without
    it, everything is drawn on available stock. Visit and patrol decisions call
    this with the lot's current state and emit the events on the lot.

    Raises :class:`InsufficientStock` when the issue would leave the lot's
    available quantity negative at `at` or at any later effective time,
    :class:`LotExpired` for food past its date on the day of `at`,
    :class:`LotNotInspected` / :class:`LotNotReceived` when nothing is on the
    books yet, and :class:`UnknownReservation` for a reservation it does not hold.
    """
    _require_stock(lot)
    quantity = checks.quantity(quantity, "quantity")
    channel = checks.one_of(channel, "channel", CHANNELS)
    to = checks.text(to, "to", max_length=64)
    target = f"{_TARGETS[channel]} {to}"
    from_reservation = 0
    if reservation_id is not None:
        held = _reservation(lot, reservation_id)
        if at < held.reserved_at:
            msg = (
                f"reservation {reservation_id} on lot {lot.ref} was made on "
                f"{lot.when(held.reserved_at)}; an issue effective {lot.when(at)} cannot draw on it"
            )
            raise EffectiveTimeRefused(msg)
        from_reservation = min(quantity, held.quantity)
    day = local_date(at, zone(lot.timezone))
    if lot.expires_on is not None and lot.expires_on < day:
        msg = (
            f"lot {lot.ref} ({lot.item}) expired on {lot.expires_on}; it cannot be issued on "
            f"{day} ({lot.describe(quantity)} requested by {target}): write it off instead"
        )
        raise LotExpired(msg)
    beyond = f" beyond reservation {reservation_id}" if reservation_id is not None else ""
    _check_timeline(
        lot,
        Movement(
            at=at, what=f"the issue to {target}", on_hand=-quantity, reserved=-from_reservation
        ),
        doing=f"issuing {lot.describe(quantity)} from lot {lot.ref}",
        wanted=f"{lot.figure(quantity)} requested by {target}"
        + (
            f", {lot.figure(from_reservation)} of them from reservation" if from_reservation else ""
        ),
        beyond=beyond,
    )
    return [
        LotIssued(
            ref=lot.ref,
            actor=actor,
            effective_at=at,
            quantity=quantity,
            channel=channel,
            to=to,
            reservation_id=reservation_id,
            from_reservation=from_reservation,
        )
    ]


def count(
    lot: DonationLot, *, counted: int, reason: str | None = None, actor: str, at: datetime
) -> list[Event]:
    """Record a physical count; the book follows the shelf. A difference needs a reason."""
    starts_at = _require_stock(lot)
    counted = checks.quantity(counted, "counted", allow_zero=True)
    if at < starts_at:
        msg = (
            f"lot {lot.ref} has been on the books since {lot.when(starts_at)}; "
            f"it cannot be counted before, on {lot.when(at)}"
        )
        raise EffectiveTimeRefused(msg)
    book = lot.balance_at(at).on_hand
    difference = counted - book
    if difference:
        checked_reason: str | None = checks.reason(
            reason,
            why=(
                f"the count of lot {lot.ref} on {lot.when(at)} found {lot.describe(counted)}, "
                f"the book says {lot.figure(book)}, a difference of "
                f"{lot.figure(difference, signed=True)}"
            ),
        )
    else:
        checked_reason = checks.optional_text(reason, "reason")
    _check_timeline(
        lot,
        Movement(at=at, what="the count", counted=counted),
        doing=f"counting {lot.describe(counted)} on lot {lot.ref}",
        wanted=f"{lot.figure(counted)} counted while {lot.figure(lot.balance_at(at).reserved)} "
        f"are reserved: "
        f"release reservations first",
    )
    return [
        LotCounted(
            ref=lot.ref,
            actor=actor,
            effective_at=at,
            book=book,
            counted=counted,
            difference=difference,
            reason=checked_reason,
        )
    ]


def write_off(
    lot: DonationLot, *, quantity: int, reason: str, actor: str, at: datetime
) -> list[Event]:
    """Take damaged, spoiled or expired units off the books, with the reason why."""
    _require_stock(lot)
    quantity = checks.quantity(quantity, "quantity")
    checked_reason = checks.reason(reason, why="a write-off is explained to the auditors")
    _check_timeline(
        lot,
        Movement(at=at, what="the write-off", on_hand=-quantity),
        doing=f"writing off {lot.describe(quantity)} from lot {lot.ref}",
        wanted=f"{lot.figure(quantity)} to write off",
    )
    return [
        LotWrittenOff(
            ref=lot.ref, actor=actor, effective_at=at, quantity=quantity, reason=checked_reason
        )
    ]


def return_to_donor(
    lot: DonationLot, *, quantity: int, reason: str, actor: str, at: datetime
) -> list[Event]:
    """Give units back to the donor, with the reason why."""
    _require_stock(lot)
    quantity = checks.quantity(quantity, "quantity")
    checked_reason = checks.reason(reason, why="a return to the donor is explained to the auditors")
    _check_timeline(
        lot,
        Movement(at=at, what="the return to the donor", on_hand=-quantity),
        doing=f"returning {lot.describe(quantity)} of lot {lot.ref} to {lot.donor}",
        wanted=f"{lot.figure(quantity)} to return to {lot.donor}",
    )
    return [
        LotReturned(
            ref=lot.ref, actor=actor, effective_at=at, quantity=quantity, reason=checked_reason
        )
    ]


def _kind_and_unit(kind: str, unit: str) -> tuple[str, str]:
    kind = checks.one_of(kind, "kind", KINDS)
    unit = checks.one_of(unit, "unit", UNITS)
    if (kind == "cash") != (unit == "yuan"):
        msg = f"a {kind} lot cannot be in {unit}: cash is in yuan (kept in fen), goods are not"
        raise InvalidCommand(msg)
    return kind, unit


def _rejection(entry: object) -> Rejection:
    if isinstance(entry, Rejection):
        quantity, reason = entry.quantity, entry.reason
    elif isinstance(entry, tuple) and len(entry) == 2:
        quantity, reason = entry
    else:
        msg = f"a rejection is (quantity, reason), e.g. (3, 'holes'); got {entry!r}"
        raise InvalidCommand(msg)
    return Rejection(
        quantity=checks.quantity(quantity, "rejected quantity"),
        reason=checks.reason(reason, why="each rejection says why the goods failed inspection"),
    )


def _require_received(lot: DonationLot) -> datetime:
    if lot.received_at is None:
        msg = (
            f"lot {lot.ref} was pledged by {lot.donor} ({lot.describe(lot.pledged)}) "
            f"but has not been received: receive it first"
        )
        raise LotNotReceived(msg)
    return lot.received_at


def _require_stock(lot: DonationLot) -> datetime:
    received_at = _require_received(lot)
    if lot.stock_starts_at is None:
        msg = (
            f"lot {lot.ref} ({lot.describe(lot.received)} from {lot.donor}) was received on "
            f"{lot.when(received_at)} but not inspected: goods become available once inspected"
        )
        raise LotNotInspected(msg)
    return lot.stock_starts_at


def _reservation(lot: DonationLot, reservation_id: str) -> Reservation:
    held = lot.reservations.get(reservation_id)
    if held is None:
        open_ids = ", ".join(sorted(lot.reservations)) or "none"
        msg = (
            f"lot {lot.ref} holds no reservation {reservation_id!r}; open reservations: {open_ids}"
        )
        raise UnknownReservation(msg)
    return held


def _check_timeline(
    lot: DonationLot, movement: Movement, *, doing: str, wanted: str, beyond: str = ""
) -> None:
    """Refuse `movement` if it leaves the available quantity negative then or at any later time."""
    index = bisect_right(lot.timeline, movement.at, key=_moment)
    before = [b.available for b in run(lot.timeline)]
    timeline = (*lot.timeline[:index], movement, *lot.timeline[index:])
    after = [b.available for b in run(timeline)]
    if after[index] < 0:
        has = before[index - 1] if index else 0
        starts_at = lot.stock_starts_at
        why = ""
        if starts_at is not None and movement.at < starts_at:
            why = f" (its stock starts on {lot.when(starts_at)})"
        msg = (
            f"lot {lot.ref} has {lot.describe(has)} available{beyond} on "
            f"{lot.when(movement.at)}{why}; {wanted}"
        )
        raise InsufficientStock(msg)
    for later in range(index + 1, len(timeline)):
        # History written under older rules may already dip below zero: blame only what gets worse.
        if after[later] < 0 and after[later] < before[later - 1]:
            broken = timeline[later]
            msg = (
                f"{doing} effective {lot.when(movement.at)} would leave "
                f"{lot.figure(after[later])} available on {lot.when(broken.at)} after {broken.what}"
            )
            raise InsufficientStock(msg)


# ---------------------------------------------------------------- evolution


def _with(lot: DonationLot, movement: Movement) -> tuple[Movement, ...]:
    index = bisect_right(lot.timeline, movement.at, key=_moment)
    return (*lot.timeline[:index], movement, *lot.timeline[index:])


def evolve(state: DonationLot | None, event: Event) -> DonationLot:  # noqa: PLR0911 - one case per event
    """The lot after `event`. Never refuses: old history always replays."""
    match event:
        case LotPledged():
            return DonationLot(
                ref=event.ref,
                donor=event.donor,
                item=event.item,
                unit=event.unit,
                kind=event.kind,
                pledged=event.quantity,
            )
        case LotReceived():
            lot = DonationLot(
                ref=event.ref,
                donor=event.donor,
                item=event.item,
                unit=event.unit,
                kind=event.kind,
                pledged=0 if state is None else state.pledged,
                timezone=event.timezone,
                received=event.quantity,
                received_at=event.effective_at,
                warehouse=event.warehouse,
                warehouses=((event.effective_at, event.warehouse),),
                expires_on=event.expires_on,
            )
            if event.kind != "cash":
                return lot
            # Money needs no inspection: it is on the books from receipt.
            receipt = Movement(at=event.effective_at, what="the receipt", on_hand=event.quantity)
            return attrs.evolve(lot, accepted=event.quantity, timeline=(receipt,))
    assert state is not None, f"{event.type_name} cannot start a lot"
    match event:
        case LotInspected():
            inspection = Movement(
                at=event.effective_at, what="the inspection", on_hand=event.accepted
            )
            return attrs.evolve(
                state,
                inspected_at=event.effective_at,
                accepted=event.accepted,
                rejected=event.rejected,
                rejections=event.rejections,
                timeline=_with(state, inspection),
            )
        case LotTransferred():
            moved = (*state.warehouses, (event.effective_at, event.to_warehouse))
            warehouses = tuple(sorted(moved, key=lambda entry: entry[0]))
            return attrs.evolve(state, warehouse=warehouses[-1][1], warehouses=warehouses)
        case LotReserved():
            held = Reservation(
                reservation_id=event.reservation_id,
                quantity=event.quantity,
                for_ref=event.for_ref,
                reserved_at=event.effective_at,
            )
            what = f"reservation {event.reservation_id} for {event.for_ref}"
            return attrs.evolve(
                state,
                reservations=state.reservations.set(event.reservation_id, held),
                timeline=_with(
                    state, Movement(at=event.effective_at, what=what, reserved=event.quantity)
                ),
            )
        case LotReleased():
            what = f"the release of reservation {event.reservation_id}"
            return attrs.evolve(
                state,
                reservations=state.reservations.discard(event.reservation_id),
                timeline=_with(
                    state, Movement(at=event.effective_at, what=what, reserved=-event.quantity)
                ),
            )
        case LotIssued():
            return _issued(state, event)
        case LotCounted():
            discrepancies = state.discrepancies
            if event.difference:
                found = Discrepancy(
                    effective_at=event.effective_at,
                    book=event.book,
                    counted=event.counted,
                    difference=event.difference,
                    reason=event.reason,
                )
                discrepancies = (*discrepancies, found)
            counted = Movement(at=event.effective_at, what="the count", counted=event.counted)
            return attrs.evolve(state, discrepancies=discrepancies, timeline=_with(state, counted))
        case LotWrittenOff():
            gone = Movement(at=event.effective_at, what="the write-off", on_hand=-event.quantity)
            return attrs.evolve(
                state, written_off=state.written_off + event.quantity, timeline=_with(state, gone)
            )
        case LotReturned():
            gone = Movement(
                at=event.effective_at, what="the return to the donor", on_hand=-event.quantity
            )
            return attrs.evolve(
                state, returned=state.returned + event.quantity, timeline=_with(state, gone)
            )
    return state


def _issued(state: DonationLot, event: LotIssued) -> DonationLot:
    reservations = state.reservations
    held = None if event.reservation_id is None else reservations.get(event.reservation_id)
    if held is not None:
        left = held.quantity - event.from_reservation
        reservations = (
            reservations.set(held.reservation_id, attrs.evolve(held, quantity=left))
            if left > 0
            else reservations.discard(held.reservation_id)
        )
    what = f"the issue to {_TARGETS.get(event.channel, event.channel)} {event.to}"
    movement = Movement(
        at=event.effective_at, what=what, on_hand=-event.quantity, reserved=-event.from_reservation
    )
    return attrs.evolve(
        state,
        reservations=reservations,
        issued=state.issued.set(event.channel, state.issued.get(event.channel, 0) + event.quantity),
        timeline=_with(state, movement),
    )


KIND: Kind[DonationLot] = Kind("lot", evolve)
