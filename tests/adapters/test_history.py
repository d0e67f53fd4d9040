"""The History adapter over every store: the time index, paged reads, checkpoints, erasure.

Every test runs on the three stores (memory, a SQLite file, a real PostgreSQL
database) through ``warmcase.open`` and ``history_for``, with small pages so
reads cross page boundaries.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgpack
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st
from pyrsistent import PMap, pmap, pset, pvector

import warmcase
from tests.clocks import ManualClock, at
from tests.scenario import enrolled_household, open_campaign
from tests.strategies.audit_trail_history import histories as trail_histories
from tests.strategies.coverage_history import coverage_histories
from tests.strategies.stock_history import Recorded, new_codec
from warmcase.app import Warmcase
from warmcase.domain.hotline import CallClosed, CallDispatched, CallReceived
from warmcase.errors import EffectiveTimeRefused, StoredHistoryError, StoreError
from warmcase.events import Envelope, Event
from warmcase.personal import Keyring, Personal, household_subject
from warmcase.projections.audit_trail import AuditTrail
from warmcase.projections.coverage import Coverage, Issue
from warmcase.projections.duplicate_aid import DuplicateAid
from warmcase.projections.projection import Meta
from warmcase.projections.stock import StockLevels
from warmcase_adapters.codec import CHECKPOINT_CODE, Codec, SealedPersonal
from warmcase_adapters.history import (
    CheckpointEncoder,
    StoreHistory,
    _bin_header,
    _ext_header,
    history_for,
)
from warmcase_adapters.mapper import BACKDATED_MICROS, EventMapper, micros_since_epoch

STORES = (
    "memory",
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
)
DISPATCHED = CallDispatched.type_name
CLOSED = CallClosed.type_name
SLACK = timedelta(microseconds=BACKDATED_MICROS)

UrlFactory = Callable[[], str]


@pytest.fixture(params=STORES)
def new_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> UrlFactory:
    """Makes URLs of fresh, empty stores of one kind: memory, SQLite file or PostgreSQL."""
    if request.param == "memory":
        return lambda: "memory:"
    if request.param == "sqlite":
        numbers = itertools.count()
        return lambda: f"sqlite:///{tmp_path}/books-{next(numbers)}.db"
    factory: UrlFactory = request.getfixturevalue("postgres_database_factory")
    return factory


@pytest.fixture
def books(new_store_url: UrlFactory, clock: ManualClock) -> Iterator[Warmcase]:
    """An application over a fresh store of each kind, on the manual clock."""
    app = warmcase.open(new_store_url(), clock=clock)
    yield app
    app.close()


@pytest.fixture
def history(books: Warmcase) -> StoreHistory:
    """The store's history, three events to a page."""
    return history_for(books.recorder, books.mapper, page_size=3)


def dispatched(effective_at: datetime, team: str = "A") -> CallDispatched:
    """A small event with no personal data, effective at `effective_at`."""
    return CallDispatched(
        ref="C-1", actor="operator", effective_at=effective_at, patrol=None, team=team
    )


def closed(effective_at: datetime) -> CallClosed:
    """Another small event type."""
    return CallClosed(ref="C-1", actor="operator", effective_at=effective_at, outcome="helped")


def received(effective_at: datetime, subject: str, text: str) -> CallReceived:
    """An event holding a personal value of `subject`."""
    return CallReceived(
        ref="C-1",
        actor="operator",
        effective_at=effective_at,
        campaign="SF-2027",
        area="Gulou",
        place="bridge",
        far=False,
        description=Personal(subject, text),
        caller_phone=None,
    )


def put(app: Warmcase, *events: Event) -> None:
    """Append `events` in one write, each the first event of a new stream."""
    app.recorder.insert_events(
        [
            app.mapper.to_stored_event(
                Envelope(originator_id=uuid4(), originator_version=1, event=e)
            )
            for e in events
        ]
    )


def positions(recorded: Iterator[tuple[Event, Meta]]) -> list[int]:
    """The positions of a read."""
    return [meta.position for _, meta in recorded]


# -- the time index --------------------------------------------------------------------------


def test_each_event_keeps_its_effective_time_in_the_index(
    books: Warmcase, clock: ManualClock
) -> None:
    """The index holds each event's effective time (µs since the epoch, UTC) beside its
    recorded time; a plain stored event without one gets its recorded time."""
    clock.set(at(20))
    put(books, dispatched(at(10)), dispatched(at(19, 23, 59)))
    books.recorder.insert_events(
        [StoredEvent(originator_id=uuid4(), originator_version=1, topic=DISPATCHED, state=b"")]
    )
    recorder: Any = books.recorder
    assert [recorder.effective_micros_at(p) for p in (1, 2, 3)] == [
        micros_since_epoch(at(10)),
        micros_since_epoch(at(19, 23, 59)),
        micros_since_epoch(at(20)),
    ]


def test_an_event_is_never_recorded_before_its_effective_time(
    books: Warmcase, history: StoreHistory, clock: ManualClock
) -> None:
    """When a writer's clock runs ahead of the store's, the batch is recorded at its latest
    effective time, and later writes never go back before it."""
    clock.set(at(15))
    put(books, dispatched(at(14)), dispatched(at(16)))
    put(books, dispatched(at(15)))
    clock.set(at(17))
    put(books, dispatched(at(17)))
    assert [history.recorded_at(p) for p in (1, 2, 3, 4)] == [at(16), at(16), at(16), at(17)]
    for event, meta in history.read(after=0, upto=4):
        assert event.effective_at <= meta.recorded_at


def test_positions_and_times_of_an_empty_and_a_written_store(
    books: Warmcase, history: StoreHistory, clock: ManualClock
) -> None:
    """Empty: last position 0, no position by any time, no time for position 0. Written:
    the last position, the last position recorded by a moment, each position's time."""
    assert history.last_position() == 0
    assert history.position_at(at(30)) == 0
    assert history.recorded_at(0) is None
    assert history.recorded_at(5) is None
    clock.set(at(10))
    put(books, dispatched(at(10)), dispatched(at(10)))
    clock.set(at(12))
    put(books, dispatched(at(12)))
    assert history.last_position() == 3
    assert [history.position_at(at(d)) for d in (9, 10, 11, 12, 13)] == [0, 2, 2, 3, 3]
    assert [history.recorded_at(p) for p in (0, 1, 2, 3)] == [None, at(10), at(10), at(12)]
    # A position past the last has the time of the history up to it.
    assert history.recorded_at(7) == at(12)


def test_position_at_refuses_a_naive_moment(history: StoreHistory) -> None:
    """A moment without a time zone is refused, not guessed."""
    with pytest.raises(EffectiveTimeRefused, match="no time zone"):
        history.position_at(datetime(2027, 1, 1))  # noqa: DTZ001 - the fault under test


# -- reads -----------------------------------------------------------------------------------


def test_reads_cross_pages_in_position_order_with_meta(
    books: Warmcase, history: StoreHistory, clock: ManualClock
) -> None:
    """Ten events read three to a page come back whole, in order, between any bounds, each
    with its position, recorded time, stream and version."""
    stream = uuid4()
    for version in range(1, 11):
        clock.set(at(10) + timedelta(hours=version))
        books.recorder.insert_events(
            [
                books.mapper.to_stored_event(
                    Envelope(
                        originator_id=stream,
                        originator_version=version,
                        event=dispatched(at(10), team=f"T{version}"),
                    )
                )
            ]
        )
    everything = list(history.read(after=0, upto=10))
    assert [event.team for event, _ in everything] == [f"T{v}" for v in range(1, 11)]  # type: ignore[attr-defined]
    assert [meta for _, meta in everything] == [
        Meta(position=v, recorded_at=at(10) + timedelta(hours=v), stream_id=stream, version=v)
        for v in range(1, 11)
    ]
    assert positions(history.read(after=2, upto=8)) == [3, 4, 5, 6, 7, 8]
    assert positions(history.read(after=3, upto=6)) == [4, 5, 6]
    assert positions(history.read(after=10, upto=20)) == []
    assert positions(history.read(after=5, upto=5)) == []
    pages = list(history.read_pages(after=0, upto=10))
    assert [[meta.position for _, meta in page] for page in pages] == [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
        [10],
    ]


def test_each_page_of_a_query_is_decoded_in_lists_of_at_most_the_size_asked(
    books: Warmcase, clock: ManualClock
) -> None:
    """Pages of ten rows decoded four at a time come back as lists of four, four and two
    per query, which together are the whole read, in order."""
    clock.set(at(10))
    put(books, *[dispatched(at(10), team=f"T{n}") for n in range(1, 24)])
    history = history_for(books.recorder, books.mapper, page_size=10, decoded_at_once=4)
    pages = list(history.read_pages(after=0, upto=23))
    assert [len(page) for page in pages] == [4, 4, 2, 4, 4, 2, 3]
    assert [meta.position for page in pages for _, meta in page] == list(range(1, 24))
    assert [event for page in pages for event, _ in page] == [
        event for event, _ in history.read(after=0, upto=23)
    ]
    with pytest.raises(ValueError, match="decoded_at_once"):
        history_for(books.recorder, books.mapper, decoded_at_once=0)


def test_reads_keep_only_the_types_asked_for(
    books: Warmcase, history: StoreHistory, clock: ManualClock
) -> None:
    """A type filter keeps those types only, across pages; an empty set reads nothing."""
    put(books, *[dispatched(at(20)) if n % 3 else closed(at(20)) for n in range(10)])
    assert positions(history.read(after=0, upto=10, types=frozenset({CLOSED}))) == [1, 4, 7, 10]
    assert positions(history.read(after=1, upto=9, types=frozenset({DISPATCHED}))) == [
        2,
        3,
        5,
        6,
        8,
        9,
    ]
    assert positions(history.read(after=0, upto=10, types=frozenset({DISPATCHED, CLOSED}))) == (
        list(range(1, 11))
    )
    assert positions(history.read(after=0, upto=10, types=frozenset())) == []


def test_read_effective_finds_late_entries_and_leaves_out_later_ones(
    books: Warmcase, history: StoreHistory, clock: ManualClock
) -> None:
    """Among events recorded after a moment V, those effective by V are kept whether entered
    late by days or by less than the backdating slack; those effective after V are not."""
    v = at(12)
    clock.set(at(11))
    put(books, dispatched(at(11)))  # 1: recorded before V
    clock.set(v + SLACK / 2)
    put(books, dispatched(v - timedelta(seconds=1)), dispatched(v + SLACK / 4))  # 2 kept, 3 not
    clock.set(at(15))
    put(books, dispatched(at(15)), dispatched(at(9)), dispatched(v))  # 4 not, 5 and 6 kept
    put(books, closed(at(10)), dispatched(at(14)))  # 7 kept, 8 not
    assert positions(history.read_effective(after=0, upto=8, effective_upto=v)) == [1, 2, 5, 6, 7]
    assert positions(history.read_effective(after=1, upto=6, effective_upto=v)) == [2, 5, 6]
    assert positions(
        history.read_effective(after=0, upto=8, effective_upto=v, types=frozenset({CLOSED}))
    ) == [7]
    assert positions(history.read_effective(after=0, upto=8, effective_upto=at(1))) == []


@settings(max_examples=20)
@given(
    data=st.data(),
    writes=st.lists(
        st.tuples(
            # How far the store clock moves before the write (it may step back).
            st.integers(min_value=-30, max_value=24 * 60),
            # Each event: minutes before the clock it took effect (negative: ahead), its type.
            st.lists(
                st.tuples(
                    st.one_of(
                        st.integers(min_value=-5, max_value=15),
                        st.integers(min_value=-5, max_value=4 * 24 * 60),
                    ),
                    st.booleans(),
                ),
                min_size=1,
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_reads_equal_a_plain_filter_over_everything(
    new_store_url: UrlFactory, data: st.DataObject, writes: list[tuple[int, list[tuple[int, bool]]]]
) -> None:
    """For any history (backdated entries, clocks ahead and behind) and any window, read and
    read_effective give exactly what filtering the whole history by position, type and
    effective time gives; recorded time never precedes effective time nor goes back."""
    clock = ManualClock(at(10))
    app = warmcase.open(new_store_url(), clock=clock)
    try:
        for step, events in writes:
            now = clock.advance(timedelta(minutes=step))
            put(
                app,
                *[
                    (closed if is_closed else dispatched)(now - timedelta(minutes=minutes))
                    for minutes, is_closed in events
                ],
            )
        history = history_for(app.recorder, app.mapper, page_size=3)
        last = history.last_position()
        everything = list(history.read(after=0, upto=last))
        assert [meta.position for _, meta in everything] == list(range(1, last + 1))
        times = [meta.recorded_at for _, meta in everything]
        assert times == sorted(times)
        assert all(event.effective_at <= meta.recorded_at for event, meta in everything)

        after = data.draw(st.integers(min_value=0, max_value=last), label="after")
        upto = data.draw(st.integers(min_value=after, max_value=last + 2), label="upto")
        types = data.draw(
            st.sampled_from([None, frozenset({DISPATCHED}), frozenset({CLOSED, DISPATCHED})]),
            label="types",
        )
        moments = sorted({e.effective_at for e, _ in everything} | set(times))
        effective = data.draw(
            st.sampled_from(moments).flatmap(
                lambda m: st.sampled_from([m, m - timedelta(microseconds=1), m + SLACK])
            ),
            label="effective",
        )

        def kept(event: Event, meta: Meta, *, by_time: bool) -> bool:
            return (
                after < meta.position <= upto
                and (types is None or event.type_name in types)
                and (not by_time or event.effective_at <= effective)
            )

        assert list(history.read(after=after, upto=upto, types=types)) == [
            pair for pair in everything if kept(*pair, by_time=False)
        ]
        assert list(
            history.read_effective(after=after, upto=upto, effective_upto=effective, types=types)
        ) == [pair for pair in everything if kept(*pair, by_time=True)]
    finally:
        app.close()


# -- personal data in reads ------------------------------------------------------------------


class CountingKeyring(Keyring):
    """Counts how often each subject's key is read from the store."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.reads: dict[str, int] = {}

    def key_for(self, subject: str, *, create: bool) -> bytes | None:
        self.reads[subject] = self.reads.get(subject, 0) + 1
        return self.keyring.key_for(subject, create=create)

    def destroy(self, subject: str) -> bool:
        return self.keyring.destroy(subject)

    def id_digest(self, id_number: str) -> str:
        return self.keyring.id_digest(id_number)


def test_keys_are_read_once_per_page_not_once_per_value(books: Warmcase) -> None:
    """Seven events with personal values of two subjects, three to a page, opened as each
    page is folded, read each subject's key once per page it appears on (H-1 on two
    pages, H-2 on three), not once per value."""
    one, two = household_subject("H-1"), household_subject("H-2")
    put(books, *[received(at(20), one if n % 2 else two, f"note {n}") for n in range(7)])
    counting = CountingKeyring(books.keyring)
    history = history_for(books.recorder, EventMapper(Codec(counting)), page_size=3)
    notes = [str(event.description) for event, _ in history.read(after=0, upto=7)]  # type: ignore[attr-defined]
    assert notes == [f"note {n}" for n in range(7)]
    assert counting.reads == {one: 2, two: 3}


def test_a_read_whose_names_are_never_asked_for_reads_no_key(books: Warmcase) -> None:
    """Personal values come back sealed: a fold that never looks at one (as stock and
    coverage never do) costs no key lookup and no decryption."""
    subject = household_subject("H-1")
    put(books, *[received(at(20), subject, f"note {n}") for n in range(5)])
    counting = CountingKeyring(books.keyring)
    history = history_for(books.recorder, EventMapper(Codec(counting)), page_size=2)
    read = list(history.read(after=0, upto=5))
    assert len(read) == 5
    assert counting.reads == {}


def test_a_value_opened_after_its_page_looks_its_key_up_again(books: Warmcase) -> None:
    """A sealed value kept past its page (in a state, say) is opened with its key read
    afresh: the page forgot the keys it met when the reader moved on."""
    subject = household_subject("H-1")
    put(books, *[received(at(20), subject, f"note {n}") for n in range(4)])
    counting = CountingKeyring(books.keyring)
    history = history_for(books.recorder, EventMapper(Codec(counting)), page_size=2)
    read = list(history.read(after=0, upto=4))
    assert [str(event.description) for event, _ in read] == [f"note {n}" for n in range(4)]  # type: ignore[attr-defined]
    assert counting.reads == {subject: 4}


def test_sealed_values_equal_the_values_that_were_stored(
    books: Warmcase, history: StoreHistory
) -> None:
    """What a read hands back sealed equals, hashes and pickles like the plain personal
    value that was stored."""
    subject = household_subject("H-1")
    put(books, received(at(20), subject, "王小明"))
    ((event, _),) = history.read(after=0, upto=1)
    stored = Personal(subject, "王小明")
    assert isinstance(event.description, SealedPersonal)  # type: ignore[attr-defined]
    assert hash(event.description) == hash(stored)  # type: ignore[attr-defined]
    assert event.description == stored  # type: ignore[attr-defined]
    copied = pickle.loads(pickle.dumps(event.description))  # type: ignore[attr-defined]
    assert (type(copied), copied) == (Personal, stored)


def test_an_erasure_during_a_read_erases_every_value_not_yet_opened(
    books: Warmcase, history: StoreHistory
) -> None:
    """After a subject's key is destroyed mid-read, values already opened keep their text
    and every value not opened yet, on this page or a later one, reads as erased."""
    subject = household_subject("H-1")
    put(books, *[received(at(20), subject, f"note {n}") for n in range(6)])
    read = history.read(after=0, upto=6)
    first_page = [next(read) for _ in range(3)]
    opened = str(first_page[0][0].description)  # type: ignore[attr-defined]
    books.keyring.destroy(subject)
    rest = list(read)
    assert opened == "note 0"
    assert [event.description.erased for event, _ in first_page[1:] + rest] == [True] * 5  # type: ignore[attr-defined]


# -- checkpoints -----------------------------------------------------------------------------


def test_checkpoint_is_the_latest_at_or_before_a_position(history: StoreHistory) -> None:
    """Of the states saved under a name, the latest at or before the position is returned;
    none before the first; names are separate."""
    for position in (10, 30, 20):
        history.save_checkpoint("stock@v1", position, pmap({"at": position}))
    history.save_checkpoint("coverage@v1", 25, pmap({"other": True}))
    assert history.checkpoint("stock@v1", at_or_before=9) is None
    assert history.checkpoint("stock@v1", at_or_before=10) == (10, pmap({"at": 10}))
    assert history.checkpoint("stock@v1", at_or_before=29) == (20, pmap({"at": 20}))
    assert history.checkpoint("stock@v1", at_or_before=1000) == (30, pmap({"at": 30}))
    assert history.checkpoint_positions("stock@v1") == [10, 20, 30]
    assert history.checkpoint("unknown@v1", at_or_before=1000) is None


def test_a_checkpoint_saved_before_the_checkpoint_format_still_reads(
    history: StoreHistory,
) -> None:
    """A checkpoint a store kept from before the checkpoint format (the codec's own bytes
    of the state) reads back as its state, beside one in the format."""
    state = pmap({"H-1": Issue(lot="L-1", quantity=2, position=1), "when": at(20)})
    history.store.save_checkpoint("stock@v1", 3, history.mapper.codec.encode(state))
    history.save_checkpoint("stock@v1", 5, state)
    assert history.checkpoint("stock@v1", at_or_before=4) == (3, state)
    assert history.checkpoint("stock@v1", at_or_before=5) == (5, state)


def test_saving_a_checkpoint_twice_is_harmless(history: StoreHistory) -> None:
    """A second save at the same name and position neither fails nor adds a copy."""
    history.save_checkpoint("stock@v1", 5, pmap({"n": 1}))
    history.save_checkpoint("stock@v1", 5, pmap({"n": 1}))
    assert history.checkpoint_positions("stock@v1") == [5]
    assert history.checkpoint("stock@v1", at_or_before=5) == (5, pmap({"n": 1}))


def test_dropped_checkpoints_are_gone_and_others_stay(history: StoreHistory) -> None:
    """Dropping a name forgets its checkpoints only."""
    history.save_checkpoint("stock@v1", 5, pmap())
    history.save_checkpoint("stock@v2", 5, pmap())
    history.drop_checkpoints("stock@v1")
    assert history.checkpoint_positions("stock@v1") == []
    assert history.checkpoint("stock@v1", at_or_before=5) is None
    assert history.checkpoint_positions("stock@v2") == [5]


def test_a_checkpoint_with_personal_values_round_trips_and_is_erased_with_them(
    books: Warmcase, history: StoreHistory, clock: ManualClock
) -> None:
    """Duplicate aid (which keeps heads' names for matching registrations) folded over real
    commands is saved and read back equal, personal values included; after the household
    is erased, the saved copy reads as erased too."""
    open_campaign(books)
    enrolled_household(books, "H-0001", head_name="王建国")
    projection = DuplicateAid()
    last = history.last_position()
    state = projection.fold(history.read(after=0, upto=last, types=projection.reads))
    history.save_checkpoint(projection.checkpoint_name, last, state)
    saved = history.checkpoint(projection.checkpoint_name, at_or_before=last)
    assert saved == (last, state)
    assert "王建国" in repr_personal(saved[1] if saved else None)

    books.erase_household("H-0001", reason="moved away, asked to be forgotten", actor="office")
    erased = history.checkpoint(projection.checkpoint_name, at_or_before=last)
    assert erased is not None
    assert "王建国" not in repr_personal(erased[1])
    assert household_subject("H-0001") in subjects_erased(erased[1])


def test_a_state_folded_before_an_erasure_is_not_saved_after_it(
    books: Warmcase, history: StoreHistory
) -> None:
    """Saving a state that still holds plaintext of a subject erased meanwhile saves nothing
    and makes no new key: the erased data never comes back through a checkpoint."""
    subject = household_subject("H-1")
    put(books, received(at(20), subject, "王建国"))
    ((event, _),) = list(history.read(after=0, upto=1))
    assert str(event.description) == "王建国"  # type: ignore[attr-defined]
    books.keyring.destroy(subject)
    history.save_checkpoint("calls@v1", 1, pmap({"C-1": event.description}))  # type: ignore[attr-defined]
    assert history.checkpoint_positions("calls@v1") == []
    assert books.keyring.key_for(subject, create=False) is None


def test_a_value_never_opened_before_an_erasure_is_saved_erased(
    books: Warmcase, history: StoreHistory
) -> None:
    """A state holding a value still sealed when its subject is erased is saved with the
    value erased, and no new key is made for it."""
    subject = household_subject("H-1")
    put(books, received(at(20), subject, "王建国"))
    ((event, _),) = list(history.read(after=0, upto=1))
    books.keyring.destroy(subject)
    history.save_checkpoint("calls@v1", 1, pmap({"C-1": event.description}))  # type: ignore[attr-defined]
    assert history.checkpoint("calls@v1", at_or_before=1) == (
        1,
        pmap({"C-1": Personal(subject, None)}),
    )
    assert books.keyring.key_for(subject, create=False) is None


def test_a_value_opened_by_the_fold_is_saved_as_it_was_read(
    books: Warmcase, history: StoreHistory
) -> None:
    """A checkpoint keeps the ciphertext of a value the fold opened, byte for byte as the
    event stored it (it is not sealed again), and reads it back in clear."""
    subject = household_subject("H-1")
    put(books, received(at(20), subject, "王建国"))
    ((event, _),) = list(history.read(after=0, upto=1))
    description: SealedPersonal = event.description  # type: ignore[attr-defined]
    assert str(description) == "王建国"
    history.save_checkpoint("calls@v1", 1, pmap({"C-1": description}))
    found = history.store.select_checkpoint("calls@v1", 1)
    assert found is not None
    assert description.sealed in found[1]
    assert history.checkpoint("calls@v1", at_or_before=1) == (
        1,
        pmap({"C-1": Personal(subject, "王建国")}),
    )


def test_a_value_opened_after_its_erasure_is_saved_erased(
    books: Warmcase, history: StoreHistory
) -> None:
    """A value first opened after its subject was erased read as erased, so nothing of it
    is in the state: the state is saved, with the value erased, and no key is made."""
    subject = household_subject("H-1")
    put(books, received(at(20), subject, "王建国"))
    ((event, _),) = list(history.read(after=0, upto=1))
    books.keyring.destroy(subject)
    assert event.description.value is None  # type: ignore[attr-defined]
    history.save_checkpoint("calls@v1", 1, pmap({"C-1": event.description}))  # type: ignore[attr-defined]
    assert history.checkpoint("calls@v1", at_or_before=1) == (
        1,
        pmap({"C-1": Personal(subject, None)}),
    )
    assert books.keyring.key_for(subject, create=False) is None


@settings(max_examples=30, deadline=None)
@given(st.one_of(coverage_histories(max_steps=30), trail_histories(max_steps=30)))
def test_checkpoints_decode_to_the_state_they_encode(recorded: Recorded) -> None:
    """Every standard projection's state, encoded by the checkpoint encoder, decodes equal
    to itself through the codec; the same state gives the same bytes again (personal
    values aside, whose ciphertexts are random); and a checkpoint saved before the
    checkpoint format (the codec's own bytes) still reads as its state."""
    codec = new_codec()
    for projection in (StockLevels(), Coverage(), DuplicateAid(), AuditTrail()):
        state = projection.fold(recorded)
        encoded = CheckpointEncoder(codec).encode(state)
        assert codec.decode(encoded) == state
        assert codec.decode(codec.encode(state)) == state
        if not any(True for _ in personal_values(state)):
            assert encoded == CheckpointEncoder(codec).encode(state)


def test_every_shape_of_a_checkpoint_round_trips() -> None:
    """Maps, vectors, sets (persistent and frozen, of members that sort together or not),
    value types nested in them, dates, times, ids, amounts and durations come back equal
    and of the same kind; a value type met at several depths shares one entry of the
    checkpoint's table."""
    codec = new_codec()
    line = Issue(lot="L-1", quantity=3, position=4)
    nested: PMap[tuple[str, int], PMap[str, date]] = pmap(
        {("H-1", 2): pmap({"when": date(2027, 1, 20)})}
    )
    state: Any = pmap(
        {
            "lines": pvector([line, line]),
            "sets": (pset({"b", "a"}), frozenset({3, 1}), frozenset()),
            # Members that do not sort together are kept in the set's own order, all of them.
            "mixed": (pset({"a", 1, None, 2.5}), frozenset({"a", 1, None})),
            "nested": nested,
            "leaves": (UUID(int=7), Decimal("1.50"), timedelta(minutes=3), at(21)),
            "plain": {"k": (1, 2)},
            "empty": (pmap(), pvector(), ()),
        }
    )
    encoded = CheckpointEncoder(codec).encode(state)
    decoded = codec.decode(encoded)
    assert decoded == state
    assert type(decoded["plain"]) is dict
    assert type(decoded["lines"][0]) is Issue
    assert type(decoded["sets"][1]) is frozenset
    _, table, _ = msgpack.unpackb(msgpack.unpackb(encoded).data, use_list=False)
    assert table == (("projection.coverage.issue", ("lot", "quantity", "position")),)


def test_a_checkpoint_of_an_unknown_format_is_refused_and_folded_past(
    history: StoreHistory,
) -> None:
    """A checkpoint written in a later format is a typed error for the codec, never a
    misread state; the history treats it as no checkpoint, so the projection is folded."""
    payload = msgpack.packb((99, (), msgpack.packb(1)))
    later = msgpack.packb(msgpack.ExtType(CHECKPOINT_CODE, payload))
    with pytest.raises(StoredHistoryError, match="checkpoint format 99"):
        history.mapper.codec.decode(later)
    history.store.save_checkpoint("stock@v1", 3, later)
    assert history.checkpoint("stock@v1", at_or_before=3) is None


def test_a_personal_value_met_again_reuses_its_ciphertext() -> None:
    """Within one checkpoint, the same subject and plaintext are sealed once (and read back
    the same); another plaintext of the subject, or another subject, is sealed apart."""
    codec = new_codec()
    name = Personal(household_subject("H-1"), "王建国")
    other = Personal(household_subject("H-1"), "李秀英")
    elsewhere = Personal(household_subject("H-2"), "王建国")
    state = (name, name, other, elsewhere, Personal(household_subject("H-3"), None))
    encoded = CheckpointEncoder(codec).encode(state)
    assert codec.decode(encoded) == state
    _, _, body = msgpack.unpackb(msgpack.unpackb(encoded).data, use_list=False)
    sealed = [bytes(part.data) for part in msgpack.unpackb(body, use_list=False)]
    assert sealed[0] == sealed[1]
    assert len({sealed[0], sealed[2], sealed[3]}) == 3


def repr_personal(state: Any) -> str:
    """Every plaintext personal value reachable in `state`, joined."""
    return " ".join(p.value or "" for p in personal_values(state))


def subjects_erased(state: Any) -> set[str]:
    """The subjects of the erased personal values in `state`."""
    return {p.subject for p in personal_values(state) if p.erased}


def personal_values(value: Any) -> Iterator[Personal]:
    """Every Personal value inside `value` (attrs classes, maps, sequences, sets)."""
    if isinstance(value, Personal):
        yield value
    elif isinstance(value, str | bytes | int | float | datetime | UUID) or value is None:
        return
    elif hasattr(value, "__attrs_attrs__"):
        for field in value.__attrs_attrs__:
            yield from personal_values(getattr(value, field.name))
    elif hasattr(value, "items"):
        for key, item in value.items():
            yield from personal_values(key)
            yield from personal_values(item)
    elif hasattr(value, "__iter__"):
        for item in value:
            yield from personal_values(item)


# -- choosing the reader ---------------------------------------------------------------------


def test_a_recorder_without_the_time_index_is_refused(books: Warmcase) -> None:
    """Only warmcase's recorders can serve a history; anything else is refused plainly."""
    with pytest.raises(StoreError, match="cannot serve projections"):
        history_for(object(), books.mapper)


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.integers(0, 20),
        st.sampled_from([255, 256, 65535, 65536]),
        st.integers(0, 200_000),
    )
)
def test_a_checkpoint_is_framed_as_msgpack_frames_it(size: int) -> None:
    """The checkpoint's extension and body headers, written by hand so that the body is
    copied once, are the bytes msgpack itself writes, at every size class."""
    data = bytes(size)
    assert _ext_header(CHECKPOINT_CODE, size) + data == msgpack.packb(
        msgpack.ExtType(CHECKPOINT_CODE, data)
    )
    assert _bin_header(size) + data == msgpack.packb(data, use_bin_type=True)
