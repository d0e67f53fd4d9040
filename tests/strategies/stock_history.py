"""Recorded histories of donation lots for the stock projection, built with the lot decisions.

:class:`World` plays decisions against folded aggregate states and records what
they return as a store would: one global position per event, a recorded time that
never goes back and is never before the event's effective time, and a version per
stream. A refused decision records nothing, so only histories the rules accept are
generated. :class:`ListHistory` serves such a list through the History port, with
checkpoints kept as codec bytes, so answers from a checkpoint can be tested without
a store. Both are shared with the coverage histories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.clocks import at
from warmcase.domain import lot
from warmcase.domain.lot import DonationLot
from warmcase.domain.stream import Kind
from warmcase.errors import CommandRefused
from warmcase.events import Event
from warmcase.projections.projection import Meta
from warmcase_adapters.codec import Codec
from warmcase_adapters.keyring import MemoryKeyring

Recorded = list[tuple[Event, Meta]]


class World:
    """Aggregate states and the history recorded so far, with a clock moved by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.recorded: Recorded = []
        self.states: dict[tuple[str, str], Any] = {}
        self._versions: dict[tuple[str, str], int] = {}

    def tick(self, minutes: int) -> datetime:
        """Move the clock on by `minutes`; returns the new now."""
        self.now += timedelta(minutes=minutes)
        return self.now

    def state(self, kind: Kind[Any], ref: str) -> Any:
        """The folded state of record `ref` of `kind`, or None if it does not exist."""
        return self.states.get((kind.name, ref))

    def refs(self, kind: Kind[Any]) -> list[str]:
        """The references of the records of `kind` that exist, sorted."""
        return sorted(ref for name, ref in self.states if name == kind.name)

    def record(self, kind: Kind[Any], ref: str, events: Sequence[Event]) -> None:
        """Append `events` of record `ref` at the current time, folding its state."""
        key = (kind.name, ref)
        for event in events:
            assert event.effective_at <= self.now, "decisions never record the future"
            version = self._versions.get(key, 0) + 1
            self._versions[key] = version
            self.states[key] = kind.evolve(self.states.get(key), event)
            meta = Meta(
                position=len(self.recorded) + 1,
                recorded_at=self.now,
                stream_id=kind.stream_id(ref),
                version=version,
            )
            self.recorded.append((event, meta))

    def attempt(self, kind: Kind[Any], ref: str, decide: Callable[[Any], list[Event]]) -> bool:
        """Record what `decide` returns for the current state of `ref`; False if refused."""
        try:
            events = decide(self.state(kind, ref))
        except CommandRefused:
            return False
        self.record(kind, ref, events)
        return True


def new_codec() -> Codec:
    """The store's codec over a keyring held in memory."""
    return Codec(MemoryKeyring())


class ListHistory:
    """A recorded list served through the History port, with codec-encoded checkpoints."""

    def __init__(self, recorded: Recorded, codec: Codec | None = None) -> None:
        self.recorded = list(recorded)
        self.codec = codec or new_codec()
        self.checkpoints: dict[str, dict[int, bytes]] = {}

    def last_position(self) -> int:
        """The position of the last event (0 when there is none)."""
        return self.recorded[-1][1].position if self.recorded else 0

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment`."""
        return max((m.position for _, m in self.recorded if m.recorded_at <= moment), default=0)

    def recorded_at(self, position: int) -> datetime | None:
        """When `position` was recorded."""
        return next((m.recorded_at for _, m in self.recorded if m.position == position), None)

    def read(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[tuple[Event, Meta]]:
        """Events with after < position <= upto, of `types` if given."""
        for event, meta in self.recorded:
            if after < meta.position <= upto and (types is None or event.type_name in types):
                yield event, meta

    def read_pages(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[list[tuple[Event, Meta]]]:
        """What :meth:`read` yields, in lists of at most three (so pages end mid-way)."""
        page: list[tuple[Event, Meta]] = []
        for recorded in self.read(after=after, upto=upto, types=types):
            page.append(recorded)
            if len(page) == 3:
                yield page
                page = []
        if page:
            yield page

    def read_effective(
        self,
        *,
        after: int,
        upto: int,
        effective_upto: datetime,
        types: frozenset[str] | None = None,
    ) -> Iterator[tuple[Event, Meta]]:
        """Like :meth:`read`, keeping events effective at or before `effective_upto`."""
        for event, meta in self.read(after=after, upto=upto, types=types):
            if event.effective_at <= effective_upto:
                yield event, meta

    def checkpoint(self, name: str, *, at_or_before: int) -> tuple[int, Any] | None:
        """The latest saved state of `name` at or before a position, decoded."""
        saved = self.checkpoints.get(name, {})
        found = [position for position in saved if position <= at_or_before]
        if not found:
            return None
        position = max(found)
        return position, self.codec.decode(saved[position])

    def save_checkpoint(self, name: str, position: int, state: Any) -> None:
        """Keep `state` of `name` at `position`, encoded as the store would."""
        self.checkpoints.setdefault(name, {})[position] = self.codec.encode(state)

    def drop_checkpoints(self, name: str) -> None:
        """Forget every saved state of `name`."""
        self.checkpoints.pop(name, None)


# ---------------------------------------------------------------- lots

WAREHOUSES = ("Gulou store", "Taijiang store", "Cangshan depot")
CHANNELS = ("visit", "distribution", "patrol")
RESERVATIONS = ("R-1", "R-2", "R-3")
START = at(15, 8)
"""Donations for the Spring Festival visits start arriving on 15 January."""

LOTS: dict[str, dict[str, Any]] = {
    "L-031": {"item": "quilt", "unit": "piece", "kind": "goods", "donor": "Xinhua Textiles Co."},
    "L-032": {"item": "quilt", "unit": "piece", "kind": "goods", "donor": "Minjiang Charity"},
    "L-050": {
        "item": "rice",
        "unit": "bag",
        "kind": "goods",
        "donor": "Fuzhou Grain Co.",
        "expires_on": date(2027, 1, 31),
    },
    "L-900": {"item": "consolation money", "unit": "yuan", "kind": "cash", "donor": "Bank"},
}

lags = st.sampled_from([0, 0, 0, 0, 30, 90, 6 * 60, 24 * 60, 3 * 24 * 60])
"""How far back an entry is dated, in minutes: mostly now, sometimes days late."""


def receive(world: World, ref: str, *, quantity: int, warehouse: str, when: datetime) -> bool:
    """Receive lot `ref` of :data:`LOTS` (as pledged, if it was)."""
    spec = LOTS[ref]
    return world.attempt(
        lot.KIND,
        ref,
        lambda state: lot.receive(
            state,
            ref=ref,
            quantity=quantity,
            warehouse=warehouse,
            actor="store.keeper",
            at=when,
            **spec,
        ),
    )


def move(world: World, draw: st.DrawFn) -> bool:
    """One random movement of a random lot, dated now or a little back; False if refused."""
    ref = draw(st.sampled_from(sorted(LOTS)))
    when = world.now - timedelta(minutes=draw(lags))
    verb = draw(
        st.sampled_from(
            [
                "pledge",
                "receive",
                "inspect",
                "transfer",
                "reserve",
                "reserve",
                "release",
                "release",
                "issue",
                "issue",
                "issue",
                "issue",
                "count",
                "write_off",
                "return",
            ]
        )
    )
    state: DonationLot | None = world.state(lot.KIND, ref)
    spec = LOTS[ref]
    big = spec["kind"] == "cash"
    quantity = draw(st.integers(1, 100_000 if big else 15))
    if verb == "pledge":
        return world.attempt(
            lot.KIND,
            ref,
            lambda s: lot.pledge(
                s,
                ref=ref,
                quantity=quantity,
                actor="office",
                at=when,
                **{k: v for k, v in spec.items() if k != "expires_on"},
            ),
        )
    if verb == "receive":
        warehouse = draw(st.sampled_from(WAREHOUSES))
        return receive(world, ref, quantity=quantity * 3, warehouse=warehouse, when=when)
    if state is None:
        return False
    held = tuple(sorted(state.reservations)) or RESERVATIONS
    return world.attempt(
        lot.KIND, ref, _movement(draw, verb, quantity, big=big, when=when, held=held)
    )


def _movement(
    draw: st.DrawFn,
    verb: str,
    quantity: int,
    *,
    big: bool,
    when: datetime,
    held: tuple[str, ...] = RESERVATIONS,
) -> Callable[[DonationLot], list[Event]]:
    """The decision of one movement, with its arguments drawn (`held`: reservations to use)."""
    match verb:
        case "inspect":
            share = draw(st.integers(0, 100))

            def inspect(s: DonationLot) -> list[Event]:
                rejected = s.received * share // 100
                reasons = [(rejected, "holes or stains")] if rejected else []
                return lot.inspect(
                    s,
                    accepted=s.received - rejected,
                    rejected=rejected,
                    rejections=reasons,
                    actor="inspector",
                    at=when,
                )

            return inspect
        case "transfer":
            to = draw(st.sampled_from(WAREHOUSES))
            return lambda s: lot.transfer(s, to_warehouse=to, reason="space", actor="k", at=when)
        case "reserve":
            rid = draw(st.sampled_from(RESERVATIONS))
            return lambda s: lot.reserve(
                s, reservation_id=rid, quantity=quantity, for_ref="V-88", actor="k", at=when
            )
        case "release":
            rid = draw(st.sampled_from(held))
            return lambda s: lot.release(s, reservation_id=rid, actor="k", at=when)
        case "issue":
            channel = draw(st.sampled_from(CHANNELS))
            drawn_on = draw(st.none() | st.sampled_from(held))
            return lambda s: lot.issue(
                s,
                quantity=quantity,
                channel=channel,
                to="V-88" if channel == "visit" else "P-7",
                reservation_id=drawn_on,
                actor="k",
                at=when,
            )
        case "count":
            counted = draw(st.integers(0, 400_000 if big else 60))
            return lambda s: lot.count(
                s, counted=counted, reason="recount on the shelf", actor="k", at=when
            )
        case "write_off":
            return lambda s: lot.write_off(s, quantity=quantity, reason="damp", actor="k", at=when)
    return lambda s: lot.return_to_donor(
        s, quantity=quantity, reason="not needed", actor="k", at=when
    )


@st.composite
def stock_histories(draw: st.DrawFn, max_moves: int = 30) -> Recorded:
    """A history of a few lots: receipts, inspections, then movements in any order and dating."""
    world = World(START)
    for ref in draw(st.lists(st.sampled_from(sorted(LOTS)), unique=True, max_size=len(LOTS))):
        world.tick(draw(st.integers(1, 120)))
        warehouse = draw(st.sampled_from(WAREHOUSES))
        quantity = draw(st.integers(1, 500_000)) if LOTS[ref]["kind"] == "cash" else 60
        receive(world, ref, quantity=quantity, warehouse=warehouse, when=world.now)
        if LOTS[ref]["kind"] == "goods" and draw(st.integers(0, 3)):
            world.tick(30)
            world.attempt(lot.KIND, ref, _movement(draw, "inspect", 0, big=False, when=world.now))
    for _ in range(draw(st.integers(0, max_moves))):
        world.tick(draw(st.integers(1, 4 * 60)))
        move(world, draw)
    return world.recorded
