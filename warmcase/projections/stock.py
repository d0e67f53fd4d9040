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
what a lot has on hand and reserved is counted where it is now.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

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


@value_type("projection.stock.flows")
@attrs.frozen(kw_only=True)
class Flows:
    """What happened to one lot while one warehouse held it."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0
    issued: PMap[str, int] = attrs.field(factory=pmap)
    transferred_in: int = 0
    transferred_out: int = 0
    written_off: int = 0
    returned: int = 0
    adjustments: int = 0
    sources: PVector[int] = attrs.field(factory=pvector)


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
    steps: PVector[Step] = attrs.field(factory=pvector)
    sources: PVector[int] = attrs.field(factory=pvector)
    """Positions of every event of the lot, its pledge included."""
    # What running the steps in order gives:
    warehouse: str | None = None
    on_hand: int = 0
    reserved: int = 0
    flows: PMap[str, Flows] = attrs.field(factory=pmap)
    transfers: PVector[Transfer] = attrs.field(factory=pvector)


@value_type("projection.stock.state")
@attrs.frozen(kw_only=True)
class StockState:
    """Every lot the books know, by reference."""

    lots: PMap[str, LotRecord] = attrs.field(factory=pmap)


# ---------------------------------------------------------------- running a timeline


def _unran(record: LotRecord) -> LotRecord:
    return attrs.evolve(
        record, warehouse=None, on_hand=0, reserved=0, flows=pmap(), transfers=pvector()
    )


def _flow(record: LotRecord, warehouse: str, step: Step, **changes: int) -> PMap[str, Flows]:
    """The lot's flows, with `changes` added in `warehouse` and `step` among its sources."""
    flows = record.flows.get(warehouse) or Flows()
    issued = flows.issued
    if step.kind == ISSUE and step.channel is not None:
        issued = issued.set(step.channel, issued.get(step.channel, 0) - step.on_hand)
    added = {name: getattr(flows, name) + value for name, value in changes.items()}
    changed = attrs.evolve(
        flows, issued=issued, sources=flows.sources.append(step.position), **added
    )
    return record.flows.set(warehouse, changed)


def _advance(record: LotRecord, step: Step) -> LotRecord:
    """The record after `step`, which comes after every step already run."""
    if step.kind == RECEIPT:
        there = step.warehouse or record.warehouse or ""
        record = attrs.evolve(record, warehouse=there, on_hand=record.on_hand + step.on_hand)
        flows = _flow(record, there, step, received=step.received, accepted=step.accepted)
        return attrs.evolve(record, flows=flows)
    if step.kind == TRANSFER:
        source, there = record.warehouse, step.warehouse or record.warehouse or ""
        carried = record.on_hand
        moved = Transfer(
            at=step.at,
            position=step.position,
            from_warehouse=source,
            to_warehouse=there,
            quantity=carried,
        )
        if source is not None:
            record = attrs.evolve(
                record, flows=_flow(record, source, step, transferred_out=carried)
            )
        record = attrs.evolve(record, flows=_flow(record, there, step, transferred_in=carried))
        return attrs.evolve(record, warehouse=there, transfers=record.transfers.append(moved))
    here = record.warehouse or ""
    if step.kind == COUNT:
        assert step.counted is not None
        adjustment = step.counted - record.on_hand
        flows = _flow(record, here, step, adjustments=adjustment)
        return attrs.evolve(record, on_hand=step.counted, flows=flows)
    changes: dict[str, int] = {}
    if step.kind == INSPECTION:
        changes = {"accepted": step.accepted, "rejected": step.rejected}
    elif step.kind == WRITE_OFF:
        changes = {"written_off": -step.on_hand}
    elif step.kind == RETURN:
        changes = {"returned": -step.on_hand}
    return attrs.evolve(
        record,
        on_hand=record.on_hand + step.on_hand,
        reserved=record.reserved + step.reserved,
        flows=_flow(record, here, step, **changes),
    )


def _with_step(record: LotRecord, step: Step) -> LotRecord:
    """Add `step` to the timeline; only a step that lands before others reruns the lot."""
    steps = record.steps
    if not steps or step.order >= steps[-1].order:
        return _advance(attrs.evolve(record, steps=steps.append(step)), step)
    index = len(steps)
    while index and steps[index - 1].order > step.order:
        index -= 1
    ordered = pvector([*steps[:index], step, *steps[index:]])
    rerun = _unran(attrs.evolve(record, steps=ordered))
    for each in ordered:
        rerun = _advance(rerun, each)
    return rerun


# ---------------------------------------------------------------- the projection


class StockLevels(Projection[StockState]):
    """Stock per warehouse x item and per lot, folded from the lots' events."""

    name = "stock"
    version = 1

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
        )
        return _put(state, record, meta)

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
        return _put(state, _with_step(record, step), meta)

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
        return _put(state, _with_step(record, step), meta)

    @on(LotTransferred)
    def transferred(self, state: StockState, event: LotTransferred, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at,
            position=meta.position,
            kind=TRANSFER,
            warehouse=event.to_warehouse,
        )
        return _put(state, _with_step(_record(state, event.ref), step), meta)

    @on(LotReserved)
    def reserved(self, state: StockState, event: LotReserved, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at,
            position=meta.position,
            kind=RESERVATION,
            reserved=event.quantity,
        )
        return _put(state, _with_step(_record(state, event.ref), step), meta)

    @on(LotReleased)
    def released(self, state: StockState, event: LotReleased, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at, position=meta.position, kind=RELEASE, reserved=-event.quantity
        )
        return _put(state, _with_step(_record(state, event.ref), step), meta)

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
        return _put(state, _with_step(_record(state, event.ref), step), meta)

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
        return _put(state, _with_step(record, step), meta)

    @on(LotWrittenOff)
    def written_off(self, state: StockState, event: LotWrittenOff, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at, position=meta.position, kind=WRITE_OFF, on_hand=-event.quantity
        )
        return _put(state, _with_step(_record(state, event.ref), step), meta)

    @on(LotReturned)
    def returned(self, state: StockState, event: LotReturned, meta: Meta) -> StockState:
        step = Step(
            at=event.effective_at, position=meta.position, kind=RETURN, on_hand=-event.quantity
        )
        return _put(state, _with_step(_record(state, event.ref), step), meta)


def _record(state: StockState, ref: str) -> LotRecord:
    # A movement whose receipt is not in the answer still counts, under the bare reference.
    return state.lots.get(ref) or LotRecord(ref=ref)


def _put(state: StockState, record: LotRecord, meta: Meta) -> StockState:
    record = attrs.evolve(record, sources=record.sources.append(meta.position))
    return attrs.evolve(state, lots=state.lots.set(record.ref, record))


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


def _issued(totals: dict[str, int]) -> Issued:
    return Issued(**{channel: totals.get(channel, 0) for channel in CHANNELS})


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

    With ``expiring_within_days=N`` the report also lists the lots with stock on
    hand whose expiry date is at most N days after `today`, those already expired
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
    return record.warehouse == warehouse or warehouse in record.flows


@attrs.define
class _Tally:
    kind: str
    lots: set[str] = attrs.field(factory=set)
    figures: dict[str, int] = attrs.field(factory=dict)
    issued: dict[str, int] = attrs.field(factory=dict)
    sources: list[int] = attrs.field(factory=list)

    def add(self, name: str, value: int) -> None:
        self.figures[name] = self.figures.get(name, 0) + value


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
    for record in records:
        for warehouse, flows in record.flows.items():
            tally = tallies.setdefault((warehouse, record.item, record.unit), _Tally(record.kind))
            tally.lots.add(record.ref)
            for name in _FLOW_FIELDS:
                tally.add(name, getattr(flows, name))
            for channel, quantity in flows.issued.items():
                tally.issued[channel] = tally.issued.get(channel, 0) + quantity
            tally.sources.extend(flows.sources)
        if record.warehouse is not None:
            key = (record.warehouse, record.item, record.unit)
            tally = tallies.setdefault(key, _Tally(record.kind))
            tally.lots.add(record.ref)
            tally.add("on_hand", record.on_hand)
            tally.add("reserved", record.reserved)
    for (warehouse, item, unit), tally in sorted(tallies.items()):
        figures = tally.figures
        yield StockLine(
            warehouse=warehouse,
            item=item,
            unit=unit,
            kind=tally.kind,
            lots=tuple(sorted(tally.lots)),
            on_hand=figures.get("on_hand", 0),
            reserved=figures.get("reserved", 0),
            issued=_issued(tally.issued),
            sources=tuple(sorted(set(tally.sources))),
            **{name: figures.get(name, 0) for name in _FLOW_FIELDS},
        )


def _lot_line(record: LotRecord) -> LotLine:
    totals = dict.fromkeys(_FLOW_FIELDS, 0)
    issued: dict[str, int] = {}
    for flows in record.flows.values():
        for name in _FLOW_FIELDS:
            totals[name] += getattr(flows, name)
        for channel, quantity in flows.issued.items():
            issued[channel] = issued.get(channel, 0) + quantity
    return LotLine(
        lot=record.ref,
        donor=record.donor,
        item=record.item,
        unit=record.unit,
        kind=record.kind,
        warehouse=record.warehouse,
        expires_on=record.expires_on,
        pledged=record.pledged,
        received=totals["received"],
        accepted=totals["accepted"],
        rejected=totals["rejected"],
        rejections=tuple((r.quantity, r.reason) for r in record.rejections),
        on_hand=record.on_hand,
        reserved=record.reserved,
        issued=_issued(issued),
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
        written_off=totals["written_off"],
        returned=totals["returned"],
        adjustments=totals["adjustments"],
        sources=tuple(sorted(record.sources)),
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
        sources=tuple(sorted(record.sources)),
    )
