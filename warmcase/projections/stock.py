"""Stock levels: what each warehouse holds of each item, and the books of every lot (物资台账).

For each warehouse and item, and for each lot: what was received, accepted and
rejected at inspection, what is on hand, reserved and available, what was issued
through each channel (home visits, distribution points, street patrols), moved in
and out by transfers, written off, returned to the donor, and what physical counts
found against the book, with the reasons given. Cash lots are money: their
quantities are fen, and reports give them in yuan too.

The figures follow the lot's own books (:mod:`warmcase.domain.lot`): a lot's
movements are kept in order of effective time (ties in order of position), and a
count sets the book to what was on the shelf at its effective time, whatever was
recorded before it or is backdated later. A transfer moves whatever the lot has on
hand at the transfer's effective time; a movement effective at the very moment of a
transfer is in the new warehouse (as :meth:`DonationLot.warehouse_at` has it). So
every warehouse line balances::

    accepted + transferred_in - transferred_out - issued - written_off - returned
        + adjustments == on_hand

where ``adjustments`` is what counts added to (or took from) the book. Goods go on
the books at inspection and cash at receipt, so for cash ``accepted == received``.

Lines are per warehouse x item x unit (the same item in bags and in kg cannot be
added up). Flows are counted in the warehouse that held the lot when they happened;
what a lot has on hand and reserved is counted where it is now. Reserved is the
timeline's (reservations, less releases and what issues drew on them), the figure the
no-negative rule is checked against.

Each lot keeps its timeline and the balance after every step, so a backdated
movement redoes only the part of the timeline after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

import attrs
from pyrsistent import PMap, PVector, pmap, pvector

from warmcase.clock import DEFAULT_TIMEZONE, local_date, zone
from warmcase.domain.lot import (
    CHANNELS,
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
    Rejection,
)
from warmcase.errors import InvalidCommand
from warmcase.events import value_type
from warmcase.projections.basis import Basis
from warmcase.projections.projection import Meta, Projection, on
from warmcase.projections.transient import replace

RECEIPT = "receipt"
TRANSFER = "transfer"
INSPECTION = "inspection"
RESERVATION = "reservation"
RELEASE = "release"
ISSUE = "issue"
COUNT = "count"
WRITE_OFF = "write_off"
RETURN = "return"

_PLACING = (RECEIPT, TRANSFER)
"""Steps that say where the lot is from their moment on: they come first among equal times."""

# ---------------------------------------------------------------- state


@value_type("projection.stock.step")
@attrs.frozen(kw_only=True)
class Step:
    """One event of a lot's timeline, reduced to what the stock figures need."""

    at: datetime
    position: int
    kind: str
    on_hand: int = 0
    """Change to the units on hand (not for a count, which sets them)."""
    reserved: int = 0
    counted: int | None = None
    warehouse: str | None = None
    """For a receipt or a transfer: where the lot is from `at` on."""
    channel: str | None = None
    received: int = 0
    accepted: int = 0
    rejected: int = 0

    @property
    def order(self) -> tuple[datetime, int, int]:
        """Where the step sits on the timeline."""
        return (self.at, 0 if self.kind in _PLACING else 1, self.position)


@value_type("projection.stock.count")
@attrs.frozen(kw_only=True)
class Count:
    """A physical count as it was recorded: the book then, the shelf, and why they differ."""

    at: datetime
    position: int
    book: int
    counted: int
    difference: int
    reason: str | None


@value_type("projection.stock.transfer")
@attrs.frozen(kw_only=True)
class Transfer:
    """A move of the lot and what it carried, as the timeline now stands."""

    at: datetime
    position: int
    from_warehouse: str | None
    to_warehouse: str
    quantity: int


Mark = tuple[int, int, str | None]
"""On hand, reserved, and the warehouse holding the lot, just after a step."""

_START: Mark = (0, 0, None)

Flows = PMap[tuple[str, str], int]
"""(warehouse, figure) -> total, zero totals left out. Figures are received, accepted,
rejected, issued_<channel>, transferred_in, transferred_out, written_off, returned and
adjustments: plain sums, so a step's part can be taken out again."""


@value_type("projection.stock.lot")
@attrs.frozen(kw_only=True)
class LotRecord:
    """One lot: what its events said, its timeline, and what running the timeline gives."""

    ref: str
    donor: str = ""
    item: str = ""
    unit: str = ""
    kind: str = "goods"
    timezone: str = DEFAULT_TIMEZONE
    pledged: int = 0
    expires_on: date | None = None
    rejections: tuple[Rejection, ...] = ()
    counts: tuple[Count, ...] = ()
    events: PVector[int] = attrs.field(factory=pvector)
    """Positions of every event of the lot, its pledge included."""
    steps: PVector[Step] = attrs.field(factory=pvector)
    """The timeline, in order."""
    # What running the timeline gives:
    marks: PVector[Mark] = attrs.field(factory=pvector)
    """The balance after each step of the timeline."""
    flows: Flows = attrs.field(factory=pmap)
    sources: PMap[str, PVector[int]] = attrs.field(factory=pmap)
    """Warehouse -> positions of the steps counted there, in timeline order."""
    transfers: PVector[Transfer] = attrs.field(factory=pvector)

    @property
    def on_hand(self) -> int:
        """Units on the shelf by the books."""
        return self.marks[-1][0] if self.marks else 0

    @property
    def reserved(self) -> int:
        """Units held for reservations."""
        return self.marks[-1][1] if self.marks else 0

    @property
    def warehouse(self) -> str | None:
        """Where the lot is now (None before receipt)."""
        return self.marks[-1][2] if self.marks else None


@value_type("projection.stock.state")
@attrs.frozen(kw_only=True)
class StockState:
    """Every lot the books know, by reference."""

    lots: PMap[str, LotRecord] = attrs.field(factory=pmap)


# ---------------------------------------------------------------- running a timeline


@attrs.frozen
class _Effect:
    """What one step does, given the balance before it."""

    after: Mark
    flows: tuple[tuple[str, str, int], ...]
    """(warehouse, figure, amount) added to the flows."""
    counted_in: tuple[str, ...]
    """The warehouses whose sources the step is among."""
    transfer: Transfer | None = None


def _effect(step: Step, before: Mark) -> _Effect:
    """What `step` does to a lot whose balance before it is `before`."""
    on_hand, reserved, here = before
    flows: tuple[tuple[str, str, int], ...]
    if step.kind in _PLACING:
        there = step.warehouse or here or ""
        if step.kind == RECEIPT:
            flows = ((there, "received", step.received), (there, "accepted", step.accepted))
            return _Effect((on_hand + step.on_hand, reserved, there), flows, (there,))
        moved = Transfer(
            at=step.at,
            position=step.position,
            from_warehouse=here,
            to_warehouse=there,
            quantity=on_hand,
        )
        if here is None:
            return _Effect((on_hand, reserved, there), (), (there,), moved)
        flows = ((here, "transferred_out", on_hand), (there, "transferred_in", on_hand))
        return _Effect((on_hand, reserved, there), flows, (here, there), moved)
    # Before any receipt (never in accepted histories) a movement counts under no name.
    where = here or ""
    if step.kind == COUNT:
        assert step.counted is not None
        flows = ((where, "adjustments", step.counted - on_hand),)
        return _Effect((step.counted, reserved, here), flows, (where,))
    if step.kind == INSPECTION:
        flows = ((where, "accepted", step.accepted), (where, "rejected", step.rejected))
    elif step.kind == ISSUE:
        flows = ((where, f"issued_{step.channel}", -step.on_hand),)
    elif step.kind in (WRITE_OFF, RETURN):
        flows = ((where, "written_off" if step.kind == WRITE_OFF else "returned", -step.on_hand),)
    else:
        flows = ()
    after = (on_hand + step.on_hand, reserved + step.reserved, here)
    return _Effect(after, flows, (where,))


def _add(flows: Any, added: tuple[tuple[str, str, int], ...], sign: int) -> None:
    """Add (or with sign -1 take out) a step's flows on a flows evolver, leaving out zero
    totals."""
    for warehouse, figure, amount in added:
        if amount:
            key = (warehouse, figure)
            total = (flows[key] if key in flows else 0) + sign * amount  # noqa: SIM401 - evolvers have no get()
            if total:
                flows.set(key, total)
            else:
                flows.remove(key)


def _with_step(record: LotRecord, step: Step) -> LotRecord:
    """Put `step` on the timeline; a step that lands before others takes the later ones out
    and runs them again after it, so only the part of the timeline it changes is redone."""
    steps, marks = record.steps, record.marks
    index = len(steps)
    while index and steps[index - 1].order > step.order:
        index -= 1
    later = steps[index:]
    flows, sources, transfers = record.flows.evolver(), record.sources, record.transfers
    # What each later step added to the flows: taken out only where running it again
    # after the new step adds something else (most steps add the same whatever the
    # balance; counts and transfers do not).
    before: list[tuple[tuple[str, str, int], ...] | None] = [None]
    if later:
        taken: dict[str, int] = {}
        moved = 0
        for offset, old in enumerate(later, start=index):
            effect = _effect(old, marks[offset - 1] if offset else _START)
            before.append(effect.flows)
            for warehouse in effect.counted_in:
                taken[warehouse] = taken.get(warehouse, 0) + 1
            moved += effect.transfer is not None
        for warehouse, count in taken.items():
            kept = sources[warehouse][: len(sources[warehouse]) - count]
            sources = sources.set(warehouse, kept) if kept else sources.discard(warehouse)
        transfers = transfers[: len(transfers) - moved]
        steps, marks = steps[:index], marks[:index]
    balance = marks[-1] if marks else _START
    new_marks: list[Mark] = []
    counted: dict[str, list[int]] = {}
    for each, was in zip((step, *later), before, strict=True):
        effect = _effect(each, balance)
        balance = effect.after
        new_marks.append(balance)
        if effect.flows != was:
            if was is not None:
                _add(flows, was, -1)
            _add(flows, effect.flows, 1)
        for warehouse in effect.counted_in:
            counted.setdefault(warehouse, []).append(each.position)
        if effect.transfer is not None:
            transfers = transfers.append(effect.transfer)
    for warehouse, positions in counted.items():
        sources = sources.set(warehouse, sources.get(warehouse, _NONE).extend(positions))
    return attrs.evolve(
        record,
        events=record.events.append(step.position),
        steps=steps.append(step).extend(later),
        marks=marks.extend(new_marks),
        flows=flows.persistent(),
        sources=sources,
        transfers=transfers,
    )


_NONE: PVector[int] = pvector()


def rerun(record: LotRecord) -> LotRecord:
    """`record` with its timeline run again from the start, step after step.

    Whatever order the steps arrived in, folding must leave a record equal to this:
    a backdated step redoes only the part of the timeline after it.
    """
    fresh = attrs.evolve(
        record, steps=pvector(), marks=pvector(), flows=pmap(), sources=pmap(), transfers=pvector()
    )
    for step in record.steps:
        fresh = _with_step(fresh, step)
    return attrs.evolve(fresh, events=record.events)


# ---------------------------------------------------------------- the projection


class StockLevels(Projection[StockState]):
    """Stock per warehouse x item and per lot, folded from the lots' events."""

    name = "stock"
    version = 1
    # Lots' events are one in twenty of a city's history: a snapshot every 100 of them
    # keeps an answer's tail within a few thousand positions.
    snapshot_every: ClassVar[int | None] = 100
    rebuild_cost: ClassVar[float] = 0.2
    # Each event changes one lot: a page changes the map of lots in place.
    in_place: ClassVar[tuple[str, ...]] = ("lots",)

    def initial(self) -> StockState:
        return StockState()

    @on(LotPledged)
    def pledged(self, state: StockState, event: LotPledged, meta: Meta) -> StockState:
        record = _record(state, event.ref)
        record = attrs.evolve(
            record,
            donor=event.donor,
            item=event.item,
            unit=event.unit,
            kind=event.kind,
            pledged=event.quantity,
            events=record.events.append(meta.position),
        )
        return _put(state, record)

    @on(LotReceived)
    def received(self, state: StockState, event: LotReceived, meta: Meta) -> StockState:
        record = attrs.evolve(
            _record(state, event.ref),
            donor=event.donor,
            item=event.item,
            unit=event.unit,
            kind=event.kind,
            timezone=event.timezone,
            expires_on=event.expires_on,
        )
        cash = event.kind == "cash"
        # Money needs no inspection: it is on the books from receipt.
        step = Step(
            at=event.effective_at,
            position=meta.position,
            kind=RECEIPT,
            warehouse=event.warehouse,
            received=event.quantity,
            accepted=event.quantity if cash else 0,
            on_hand=event.quantity if cash else 0,
        )
        return _put(state, _with_step(record, step))

    @on(LotInspected)
    def inspected(self, state: StockState, event: LotInspected, meta: Meta) -> StockState:
        record = attrs.evolve(_record(state, event.ref), rejections=event.rejections)
        step = Step(
            at=event.effective_at,
            position=meta.position,
            kind=INSPECTION,
            on_hand=event.accepted,
            accepted=event.accepted,
            rejected=event.rejected,
        )
        return _put(state, _with_step(record, step))

    @on(LotTransferred)
    def transferred(self, state: StockState, event: LotTransferred, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at,
            position=meta.position,
            kind=TRANSFER,
            warehouse=event.to_warehouse,
        )
        return _put(state, _with_step(_record(state, event.ref), step))

    @on(LotReserved)
    def reserved(self, state: StockState, event: LotReserved, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at,
            position=meta.position,
            kind=RESERVATION,
            reserved=event.quantity,
        )
        return _put(state, _with_step(_record(state, event.ref), step))

    @on(LotReleased)
    def released(self, state: StockState, event: LotReleased, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at, position=meta.position, kind=RELEASE, reserved=-event.quantity
        )
        return _put(state, _with_step(_record(state, event.ref), step))

    @on(LotIssued)
    def issued(self, state: StockState, event: LotIssued, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at,
            position=meta.position,
            kind=ISSUE,
            on_hand=-event.quantity,
            reserved=-event.from_reservation,
            channel=event.channel,
        )
        return _put(state, _with_step(_record(state, event.ref), step))

    @on(LotCounted)
    def counted(self, state: StockState, event: LotCounted, meta: Meta) -> StockState:
        record = _record(state, event.ref)
        found = Count(
            at=event.effective_at,
            position=meta.position,
            book=event.book,
            counted=event.counted,
            difference=event.difference,
            reason=event.reason,
        )
        record = attrs.evolve(record, counts=(*record.counts, found))
        step = Step(
            at=event.effective_at, position=meta.position, kind=COUNT, counted=event.counted
        )
        return _put(state, _with_step(record, step))

    @on(LotWrittenOff)
    def written_off(self, state: StockState, event: LotWrittenOff, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at, position=meta.position, kind=WRITE_OFF, on_hand=-event.quantity
        )
        return _put(state, _with_step(_record(state, event.ref), step))

    @on(LotReturned)
    def returned(self, state: StockState, event: LotReturned, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at, position=meta.position, kind=RETURN, on_hand=-event.quantity
        )
        return _put(state, _with_step(_record(state, event.ref), step))


def _record(state: StockState, ref: str) -> LotRecord:
    # A movement whose receipt is not in the answer still counts, under the bare reference.
    return state.lots.get(ref) or LotRecord(ref=ref)


def _put(state: StockState, record: LotRecord) -> StockState:
    return replace(state, lots=state.lots.set(record.ref, record))


# ---------------------------------------------------------------- the report


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _figures(kind: str, figures: dict[str, int]) -> dict[str, Any]:
    """Plain figures; for cash each also in yuan (the figures themselves are fen)."""
    if kind != "cash":
        return dict(figures)
    shown: dict[str, Any] = {}
    for name, value in figures.items():
        shown[name] = value
        shown[f"{name}_yuan"] = _yuan(value)
    return shown


@attrs.frozen(kw_only=True)
class Issued:
    """Units issued through each channel."""

    visit: int = 0
    distribution: int = 0
    patrol: int = 0

    @property
    def total(self) -> int:
        """Units issued through every channel."""
        return self.visit + self.distribution + self.patrol

    def as_dict(self) -> dict[str, int]:
        """By channel name."""
        return {channel: getattr(self, channel) for channel in CHANNELS}


@attrs.frozen(kw_only=True)
class StockLine:
    """One item in one warehouse: its flows there, and what lies there now."""

    warehouse: str
    item: str
    unit: str
    kind: str
    lots: tuple[str, ...]
    received: int
    accepted: int
    rejected: int
    on_hand: int
    reserved: int
    issued: Issued
    transferred_in: int
    transferred_out: int
    written_off: int
    returned: int
    adjustments: int
    """What counts added to (negative: took from) the book."""
    sources: tuple[int, ...]
    """Positions of the events behind the line."""

    @property
    def available(self) -> int:
        """What can still be reserved or issued: on hand less reserved."""
        return self.on_hand - self.reserved

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON; cash figures are fen, with yuan beside them."""
        figures = {
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
            "issued": self.issued.total,
            **{f"issued_{channel}": value for channel, value in self.issued.as_dict().items()},
            "transferred_in": self.transferred_in,
            "transferred_out": self.transferred_out,
            "written_off": self.written_off,
            "returned": self.returned,
            "adjustments": self.adjustments,
        }
        return {
            "warehouse": self.warehouse,
            "item": self.item,
            "unit": "fen" if self.kind == "cash" else self.unit,
            "kind": self.kind,
            "lots": list(self.lots),
            **_figures(self.kind, figures),
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class TransferLine:
    """A move of a lot between warehouses and what it carried."""

    at: datetime
    from_warehouse: str | None
    to_warehouse: str
    quantity: int
    position: int

    def to_dict(self, kind: str) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "at": self.at.isoformat(),
            "from_warehouse": self.from_warehouse,
            "to_warehouse": self.to_warehouse,
            **_figures(kind, {"quantity": self.quantity}),
            "sources": [self.position],
        }


@attrs.frozen(kw_only=True)
class LotLine:
    """The books of one lot."""

    lot: str
    donor: str
    item: str
    unit: str
    kind: str
    warehouse: str | None
    expires_on: date | None
    pledged: int
    received: int
    accepted: int
    rejected: int
    rejections: tuple[tuple[int, str], ...]
    on_hand: int
    reserved: int
    issued: Issued
    transfers: tuple[TransferLine, ...]
    written_off: int
    returned: int
    adjustments: int
    sources: tuple[int, ...]

    @property
    def available(self) -> int:
        """What can still be reserved or issued: on hand less reserved."""
        return self.on_hand - self.reserved

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON; cash figures are fen, with yuan beside them."""
        figures = {
            "pledged": self.pledged,
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
            "issued": self.issued.total,
            **{f"issued_{channel}": value for channel, value in self.issued.as_dict().items()},
            "written_off": self.written_off,
            "returned": self.returned,
            "adjustments": self.adjustments,
        }
        return {
            "lot": self.lot,
            "donor": self.donor,
            "item": self.item,
            "unit": "fen" if self.kind == "cash" else self.unit,
            "kind": self.kind,
            "warehouse": self.warehouse,
            "expires_on": None if self.expires_on is None else self.expires_on.isoformat(),
            **_figures(self.kind, figures),
            "rejections": [
                {"quantity": quantity, "reason": reason} for quantity, reason in self.rejections
            ],
            "transfers": [transfer.to_dict(self.kind) for transfer in self.transfers],
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class DiscrepancyLine:
    """A physical count that differed from the book, with the reason recorded."""

    lot: str
    warehouse: str | None
    item: str
    unit: str
    kind: str
    at: datetime
    day: date
    book: int
    counted: int
    difference: int
    reason: str | None
    sources: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON; cash figures are fen, with yuan beside them."""
        figures = {"book": self.book, "counted": self.counted, "difference": self.difference}
        return {
            "lot": self.lot,
            "warehouse": self.warehouse,
            "item": self.item,
            "unit": "fen" if self.kind == "cash" else self.unit,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "day": self.day.isoformat(),
            **_figures(self.kind, figures),
            "reason": self.reason,
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class ExpiringLine:
    """A lot with stock on hand that expires by the day asked about (or has expired)."""

    lot: str
    warehouse: str | None
    item: str
    unit: str
    expires_on: date
    days_left: int
    """Negative once expired: such stock can no longer be issued, only written off."""
    on_hand: int
    reserved: int
    sources: tuple[int, ...]

    @property
    def available(self) -> int:
        """What can still be reserved or issued: on hand less reserved."""
        return self.on_hand - self.reserved

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return {
            "lot": self.lot,
            "warehouse": self.warehouse,
            "item": self.item,
            "unit": self.unit,
            "expires_on": self.expires_on.isoformat(),
            "days_left": self.days_left,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
            "sources": list(self.sources),
        }


@attrs.frozen(kw_only=True)
class StockReport:
    """Stock levels at a basis, per warehouse x item and per lot, with counts and expiries."""

    basis: Basis
    warehouse: str | None
    item: str | None
    lines: tuple[StockLine, ...]
    lots: tuple[LotLine, ...]
    discrepancies: tuple[DiscrepancyLine, ...]
    expiring_within_days: int | None
    today: date | None
    """The day expiries are measured from (None: each lot's own day at the basis)."""
    expiring: tuple[ExpiringLine, ...]

    def line(self, warehouse: str, item: str, unit: str | None = None) -> StockLine:
        """The line of `item` (in `unit`, if given) in `warehouse`."""
        for line in self.lines:
            if (line.warehouse, line.item) == (warehouse, item) and unit in (None, line.unit):
                return line
        msg = f"no stock line for {item!r} in warehouse {warehouse!r} at this basis"
        raise KeyError(msg)

    def lot(self, ref: str) -> LotLine:
        """The line of lot `ref`."""
        for line in self.lots:
            if line.lot == ref:
                return line
        msg = f"no lot {ref!r} in this report"
        raise KeyError(msg)

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts and lists for JSON."""
        return {
            "basis": self.basis.to_dict(),
            "filters": {
                "warehouse": self.warehouse,
                "item": self.item,
                "expiring_within_days": self.expiring_within_days,
                "today": None if self.today is None else self.today.isoformat(),
            },
            "lines": [line.to_dict() for line in self.lines],
            "lots": [line.to_dict() for line in self.lots],
            "discrepancies": [line.to_dict() for line in self.discrepancies],
            "expiring": [line.to_dict() for line in self.expiring],
        }


def report(
    state: StockState,
    basis: Basis,
    *,
    warehouse: str | None = None,
    item: str | None = None,
    expiring_within_days: int | None = None,
    today: date | None = None,
) -> StockReport:
    """Stock levels from `state` (folded at `basis`), optionally for one warehouse or item.

    ``warehouse`` keeps the lines of that warehouse, the lots that are in it now and
    the counts taken there; ``item`` keeps one item (exact name). With
    ``expiring_within_days=N`` the report also lists the lots with stock on hand
    whose expiry date is at most N days after `today`, those already expired
    included; `today` defaults to the day of the basis's effective time in each
    lot's time zone. The other lines are not filtered by expiry.
    """
    if expiring_within_days is not None and (
        isinstance(expiring_within_days, bool)
        or not isinstance(expiring_within_days, int)
        or expiring_within_days < 0
    ):
        msg = (
            f"expiring_within_days must be a whole number of days, 0 or more; "
            f"got {expiring_within_days!r}"
        )
        raise InvalidCommand(msg)
    if today is not None and (isinstance(today, datetime) or not isinstance(today, date)):
        msg = f"today must be a date such as date(2027, 1, 25), got {today!r}"
        raise InvalidCommand(msg)
    chosen = [
        record
        for _, record in sorted(state.lots.items(), key=lambda entry: entry[0])
        if item in (None, record.item) and (warehouse is None or _touches(record, warehouse))
    ]
    lines = tuple(line for line in _warehouse_lines(chosen) if warehouse in (None, line.warehouse))
    lots = tuple(_lot_line(record) for record in chosen if warehouse in (None, record.warehouse))
    discrepancies = tuple(
        found
        for record in chosen
        for found in _discrepancies(record)
        if warehouse in (None, found.warehouse)
    )
    expiring: tuple[ExpiringLine, ...] = ()
    if expiring_within_days is not None:
        expiring = tuple(
            line
            for record in chosen
            if warehouse in (None, record.warehouse)
            for line in _expiring(record, basis, expiring_within_days, today)
        )
    return StockReport(
        basis=basis,
        warehouse=warehouse,
        item=item,
        lines=lines,
        lots=lots,
        discrepancies=discrepancies,
        expiring_within_days=expiring_within_days,
        today=today,
        expiring=expiring,
    )


def _touches(record: LotRecord, warehouse: str) -> bool:
    return record.warehouse == warehouse or warehouse in record.sources


@attrs.define
class _Tally:
    kind: str
    lots: set[str] = attrs.field(factory=set)
    figures: dict[str, int] = attrs.field(factory=dict)
    sources: list[int] = attrs.field(factory=list)

    def add(self, name: str, value: int) -> None:
        self.figures[name] = self.figures.get(name, 0) + value

    def issued(self) -> Issued:
        return Issued(**{c: self.figures.get(f"issued_{c}", 0) for c in CHANNELS})


_FLOW_FIELDS = (
    "received",
    "accepted",
    "rejected",
    "transferred_in",
    "transferred_out",
    "written_off",
    "returned",
    "adjustments",
)


def _warehouse_lines(records: Iterable[LotRecord]) -> Iterator[StockLine]:
    tallies: dict[tuple[str, str, str], _Tally] = {}

    def tally(record: LotRecord, warehouse: str) -> _Tally:
        found = tallies.setdefault((warehouse, record.item, record.unit), _Tally(record.kind))
        found.lots.add(record.ref)
        return found

    for record in records:
        for (warehouse, figure), amount in record.flows.items():
            tally(record, warehouse).add(figure, amount)
        for warehouse, positions in record.sources.items():
            tally(record, warehouse).sources.extend(positions)
        if record.warehouse is not None:
            here = tally(record, record.warehouse)
            here.add("on_hand", record.on_hand)
            here.add("reserved", record.reserved)
    for (warehouse, item, unit), found in sorted(tallies.items()):
        figures = found.figures
        yield StockLine(
            warehouse=warehouse,
            item=item,
            unit=unit,
            kind=found.kind,
            lots=tuple(sorted(found.lots)),
            on_hand=figures.get("on_hand", 0),
            reserved=figures.get("reserved", 0),
            issued=found.issued(),
            sources=tuple(sorted(set(found.sources))),
            **{name: figures.get(name, 0) for name in _FLOW_FIELDS},
        )


def _lot_line(record: LotRecord) -> LotLine:
    totals = _Tally(record.kind)
    for (_, figure), amount in record.flows.items():
        totals.add(figure, amount)
    figures = totals.figures
    return LotLine(
        lot=record.ref,
        donor=record.donor,
        item=record.item,
        unit=record.unit,
        kind=record.kind,
        warehouse=record.warehouse,
        expires_on=record.expires_on,
        pledged=record.pledged,
        received=figures.get("received", 0),
        accepted=figures.get("accepted", 0),
        rejected=figures.get("rejected", 0),
        rejections=tuple((r.quantity, r.reason) for r in record.rejections),
        on_hand=record.on_hand,
        reserved=record.reserved,
        issued=totals.issued(),
        transfers=tuple(
            TransferLine(
                at=t.at,
                from_warehouse=t.from_warehouse,
                to_warehouse=t.to_warehouse,
                quantity=t.quantity,
                position=t.position,
            )
            for t in record.transfers
        ),
        written_off=figures.get("written_off", 0),
        returned=figures.get("returned", 0),
        adjustments=figures.get("adjustments", 0),
        sources=tuple(sorted(record.events)),
    )


def warehouse_at(record: LotRecord, moment: datetime) -> str | None:
    """The warehouse that held the lot at `moment`, by the timeline (None before receipt)."""
    held: str | None = None
    for step in record.steps:
        if step.at > moment:
            break
        if step.kind in _PLACING:
            held = step.warehouse
    return held


def _discrepancies(record: LotRecord) -> Iterator[DiscrepancyLine]:
    tz = zone(record.timezone)
    for found in record.counts:
        if not found.difference:
            continue
        yield DiscrepancyLine(
            lot=record.ref,
            warehouse=warehouse_at(record, found.at),
            item=record.item,
            unit=record.unit,
            kind=record.kind,
            at=found.at,
            day=local_date(found.at, tz),
            book=found.book,
            counted=found.counted,
            difference=found.difference,
            reason=found.reason,
            sources=(found.position,),
        )


def _expiring(
    record: LotRecord, basis: Basis, within_days: int, today: date | None
) -> Iterator[ExpiringLine]:
    if record.expires_on is None or record.on_hand <= 0:
        return
    day = today if today is not None else local_date(basis.effective, zone(record.timezone))
    if record.expires_on > day + timedelta(days=within_days):
        return
    yield ExpiringLine(
        lot=record.ref,
        warehouse=record.warehouse,
        item=record.item,
        unit=record.unit,
        expires_on=record.expires_on,
        days_left=(record.expires_on - day).days,
        on_hand=record.on_hand,
        reserved=record.reserved,
        sources=tuple(sorted(record.events)),
    )
