"""The msgpack codec and the event mapper: every stored shape comes back equal."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyrsistent import pmap, pset, pvector

import warmcase.app  # noqa: F401 - registers every event type
from warmcase.errors import StoredHistoryError
from warmcase.events import Envelope, Event, event_types, value_types
from warmcase.personal import Personal
from warmcase_adapters.codec import (
    Codec,
    KeyWindow,
    LeafCache,
    PageCodec,
    SealedPageCodec,
    SealedPersonal,
)
from warmcase_adapters.keyring import NONCE_BYTES, Ciphers, MemoryKeyring, new_key, unseal
from warmcase_adapters.mapper import EventMapper

INT64 = st.integers(-(2**63), 2**63 - 1)
aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 2),  # noqa: DTZ001 - bounds for hypothesis, zone added below
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))]),
)
personals = st.builds(
    Personal, subject=st.text(min_size=1, max_size=20), value=st.none() | st.text(max_size=40)
)

# What each field type of a stored class is drawn from.
st.register_type_strategy(int, INT64)
st.register_type_strategy(datetime, aware_datetimes)
st.register_type_strategy(Personal, personals)
st.register_type_strategy(Decimal, st.decimals(allow_nan=False, allow_infinity=False))


def _resolved(cls: type[Any]) -> type[Any]:
    attrs.resolve_types(cls)
    return cls


for _value_class in value_types().values():
    st.register_type_strategy(_resolved(_value_class), st.builds(_value_class))

EVENT_CLASSES = sorted(event_types().items())


@pytest.fixture(scope="module")
def mapper() -> EventMapper:
    """A mapper with its own keyring."""
    return EventMapper(Codec(MemoryKeyring()))


@pytest.mark.parametrize(("type_name", "cls"), EVENT_CLASSES, ids=[n for n, _ in EVENT_CLASSES])
def test_every_event_type_round_trips(
    type_name: str, cls: type[Event], mapper: EventMapper
) -> None:
    """Any event of any registered type is stored under its type name and read back equal."""

    @given(event=st.builds(_resolved(cls)), version=st.integers(1, 2**31))
    def round_trip(event: Event, version: int) -> None:
        envelope = Envelope(uuid4(), version, event)
        stored = mapper.to_stored_event(envelope)
        assert type_name == stored.topic
        assert envelope == mapper.to_domain_event(stored)

    round_trip()


def test_every_event_type_has_a_dotted_permanent_name() -> None:
    """Stored names look like 'household.surveyed': a lower-case kind, a dot, a fact."""
    for name, cls in event_types().items():
        kind, _, fact = name.partition(".")
        assert kind.isidentifier(), name
        assert fact.isidentifier(), name
        assert name.islower(), name
        assert name == cls.type_name


values = st.recursive(
    st.none()
    | st.booleans()
    | INT64
    | st.text()
    | st.binary()
    | st.uuids()
    | st.dates()
    | aware_datetimes
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.timedeltas(min_value=timedelta(days=-(10**6)), max_value=timedelta(days=10**6))
    | personals,
    lambda inner: (
        st.lists(inner, max_size=4).map(tuple)
        | st.frozensets(st.text(max_size=5), max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4).map(pmap)
        | st.lists(inner, max_size=4).map(pvector)
        | st.frozensets(INT64, max_size=4).map(pset)
    ),
    max_leaves=12,
)


@given(value=values)
def test_values_round_trip(value: object) -> None:
    """Every shape warmcase stores (checkpoints included) decodes equal to what was encoded."""
    codec = Codec(MemoryKeyring())
    assert value == codec.decode(codec.encode(value))


def test_personal_values_are_not_stored_in_clear() -> None:
    """A personal value's text never appears in the stored bytes."""
    codec = Codec(MemoryKeyring())
    encoded = codec.encode(Personal("household:H-1", "王小明 13800138000"))
    assert "王小明".encode() not in encoded
    assert b"13800138000" not in encoded


def test_personal_values_read_as_erased_once_the_key_is_destroyed() -> None:
    """Destroying a subject's key turns its values into erased ones; others are untouched."""
    keyring = MemoryKeyring()
    codec = Codec(keyring)
    stored = codec.encode((Personal("household:H-1", "王小明"), Personal("household:H-2", "李娟")))
    keyring.destroy("household:H-1")
    assert (Personal("household:H-1", None), Personal("household:H-2", "李娟")) == codec.decode(
        stored
    )


def test_naive_datetimes_cannot_be_stored() -> None:
    """History is in aware time only: a naive datetime is refused at the codec."""
    with pytest.raises(TypeError, match="naive datetime"):
        Codec(MemoryKeyring()).encode(datetime(2027, 1, 20))  # noqa: DTZ001 - the point


def test_unknown_types_cannot_be_stored() -> None:
    """An unregistered class is refused with a hint to register it."""
    with pytest.raises(TypeError, match="@value_type"):
        Codec(MemoryKeyring()).encode(object())


def test_unknown_stored_event_type_is_reported(mapper: EventMapper) -> None:
    """A stored type name this version does not know is a typed error, not a crash."""
    with pytest.raises(StoredHistoryError, match=r"'ghost\.appeared' is unknown"):
        mapper.event_of("ghost.appeared", mapper.codec.encode((1, {})))


def test_tampered_personal_data_is_reported() -> None:
    """A ciphertext moved to another subject fails authentication and says so."""
    keyring = MemoryKeyring()
    codec = Codec(keyring)
    sealed = codec.encode(Personal("household:H-1", "王小明"))
    keyring.key_for("household:H-2", create=True)
    moved = sealed.replace(b"household:H-1", b"household:H-2")
    with pytest.raises(StoredHistoryError, match="tampered"):
        codec.decode(moved)


def test_dates_are_not_confused_with_datetimes() -> None:
    """A date stays a date and a datetime a datetime through the codec."""
    codec = Codec(MemoryKeyring())
    moment = datetime(2027, 1, 20, 9, tzinfo=UTC)
    assert (date(2027, 1, 20), moment, UUID(int=7)) == codec.decode(
        codec.encode((date(2027, 1, 20), moment, UUID(int=7)))
    )


@given(value=values)
def test_a_page_codec_and_a_shared_leaf_cache_read_what_the_codec_reads(value: object) -> None:
    """A page's codec (ciphers per key, leaves cached by their bytes across codecs) decodes
    every shape to what the codec itself decodes, read once or again from the cache."""
    keyring = MemoryKeyring()
    leaves = LeafCache()
    encoded = Codec(keyring).encode(value)
    assert PageCodec(keyring, leaves=leaves).decode(encoded) == value
    assert PageCodec(keyring, leaves=leaves).decode(encoded) == value


def test_cached_times_keep_their_offsets() -> None:
    """The same instant written with two offsets decodes to each with its own offset, and
    a date is never taken for an equal-looking datetime, through one shared cache."""
    leaves = LeafCache()
    codec = PageCodec(MemoryKeyring(), leaves=leaves)
    moment = datetime(2027, 1, 20, 9, tzinfo=UTC)
    local = moment.astimezone(timezone(timedelta(hours=8)))
    for _ in range(2):
        first, second, day = codec.decode(codec.encode((moment, local, date(2027, 1, 20))))
        assert (first.utcoffset(), second.utcoffset()) == (timedelta(0), timedelta(hours=8))
        assert type(day) is date


def test_a_page_codec_reads_erasure_and_tampering_as_the_codec_does() -> None:
    """A page codec made after a key is destroyed reads that subject as erased; a
    ciphertext moved to another subject is reported as tampering."""
    keyring = MemoryKeyring()
    codec = Codec(keyring)
    stored = codec.encode((Personal("household:H-1", "王小明"), Personal("household:H-2", "李娟")))
    keyring.destroy("household:H-1")
    assert PageCodec(keyring).decode(stored) == (
        Personal("household:H-1", None),
        Personal("household:H-2", "李娟"),
    )
    sealed = codec.encode(Personal("household:H-2", "李娟"))
    keyring.key_for("household:H-3", create=True)
    with pytest.raises(StoredHistoryError, match="tampered"):
        PageCodec(keyring).decode(sealed.replace(b"household:H-2", b"household:H-3"))


def test_bulk_sealing_gives_what_the_keyring_unseals() -> None:
    """Sealing with one cipher per key and nonces drawn in bulk gives the keyring's own
    format, with a fresh nonce for every value, past the end of a batch of nonces."""
    key = new_key()
    ciphers = Ciphers()
    sealed = [ciphers.seal(key, "household:H-1", f"王小明 {n}") for n in range(Ciphers.NONCES + 2)]
    assert [unseal(key, "household:H-1", each) for each in sealed] == [
        f"王小明 {n}" for n in range(Ciphers.NONCES + 2)
    ]
    assert len({each[:NONCE_BYTES] for each in sealed}) == len(sealed)


class CountingWindow(KeyWindow):
    """A key window over a memory keyring that records each batch of subjects it asks for."""

    def __init__(self, keyring: MemoryKeyring) -> None:
        self.batches: list[set[str]] = []

        def keys_of(subjects: Iterable[str]) -> dict[str, bytes | None]:
            asked = set(subjects)
            self.batches.append(asked)
            return {subject: keyring.key_for(subject, create=False) for subject in asked}

        super().__init__(keyring, keys_of)


def _sealed_page(
    window: KeyWindow, stored: bytes, leaves: LeafCache | None = None
) -> tuple[Any, ...]:
    decoded: tuple[Any, ...] = SealedPageCodec(window, leaves=leaves).decode(stored)
    return decoded


def test_a_sealed_page_opens_a_value_with_every_key_of_its_page_at_once() -> None:
    """Nothing is looked up while a page is decoded; the first value opened looks up the
    keys of every subject on its page in one batch, and the others need none."""
    keyring = MemoryKeyring()
    stored = Codec(keyring).encode(
        (Personal("household:H-1", "王小明"), Personal("household:H-2", "李娟"))
    )
    window = CountingWindow(keyring)
    first, second = _sealed_page(window, stored)
    assert window.batches == []
    assert (first.value, second.value) == ("王小明", "李娟")
    assert window.batches == [{"household:H-1", "household:H-2"}]


def test_a_key_window_forgets_its_keys_when_the_read_moves_on() -> None:
    """After the next page begins, a value of an earlier page is opened with a new lookup,
    and sees an erasure made meanwhile; after the read is closed, values are opened one by
    one from the keyring."""
    keyring = MemoryKeyring()
    stored = Codec(keyring).encode(
        (Personal("household:H-1", "王小明"), Personal("household:H-2", "李娟"))
    )
    window = CountingWindow(keyring)
    first, second = _sealed_page(window, stored)
    assert first.value == "王小明"
    keyring.destroy("household:H-2")
    window.next_page()
    assert second.value is None
    assert len(window.batches) == 2
    (late, _) = _sealed_page(window, stored)
    window.close()
    assert late.value == "王小明"
    assert len(window.batches) == 2


def test_a_tampered_sealed_value_is_reported_when_opened() -> None:
    """A ciphertext moved to another subject decodes (it is not opened yet) and is reported
    as tampering the moment its value is asked for."""
    keyring = MemoryKeyring()
    stored = Codec(keyring).encode((Personal("household:H-2", "李娟"),))
    keyring.key_for("household:H-3", create=True)
    (moved,) = _sealed_page(
        CountingWindow(keyring), stored.replace(b"household:H-2", b"household:H-3")
    )
    assert isinstance(moved, SealedPersonal)
    with pytest.raises(StoredHistoryError, match="tampered"):
        _ = moved.value


@given(value=values)
def test_a_sealed_page_reads_what_the_codec_reads(value: object) -> None:
    """Every shape decoded with personal values sealed equals what the codec decodes."""
    keyring = MemoryKeyring()
    encoded = Codec(keyring).encode(value)
    assert SealedPageCodec(CountingWindow(keyring)).decode(encoded) == value
