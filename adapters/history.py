"""The History port over every store: raw rows from the store, decoded here once.

Each store's recorder reads undecoded rows (:class:`RawStore`: position, stream,
version, type name, state, recorded time) with its own SQL; :class:`StoreHistory`
turns them into ``(event, Meta)`` pairs and keeps projection checkpoints, so
decoding, key handling and paging are written once for SQLite, PostgreSQL and
memory.

Reads go page by page (one short read per page, no transaction held while the
caller folds), never through eventsourcing's Notification objects. Personal values
are unsealed with keys cached for one page only: an erasure elsewhere is seen from
the next page on. Checkpoints are encoded by the store's codec, so their personal
values stay sealed and an erasure reaches them too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

import msgpack
from eventsourcing.persistence import Mapper
from pyrsistent import PMap, PSet, pmap, pset, pvector

from warmcase.clock import require_aware
from warmcase.errors import StoreError
from warmcase.events import Event, field_names
from warmcase.personal import Keyring, Personal
from warmcase.projections.bulk import pmap_pairs, pset_members
from warmcase.projections.projection import Meta
from warmcase_adapters import codec as codec_
from warmcase_adapters.codec import (
    Codec,
    KeyWindow,
    LeafCache,
    PageCodec,
    SealedPageCodec,
    SealedPersonal,
    UnknownCheckpointFormat,
)
from warmcase_adapters.keyring import Ciphers
from warmcase_adapters.mapper import BACKDATED_MICROS, EventMapper, micros_since_epoch

DEFAULT_PAGE_SIZE = 500
"""Rows per query of a read: enough that per-query costs vanish, even over a network,
and few enough that the rows waiting to be decoded stay in the processor's cache."""

DECODED_AT_ONCE = 100
"""Rows decoded into one list of events (a page of ``read_pages``): a fold takes them
while they are still in the processor's cache (see ``docs/benchmarks.md``)."""

RawRow = tuple[int, Any, int, str, bytes, int]
"""An undecoded event: position, originator id, version, type name, state, recorded µs."""

Recorded = tuple[Event, Meta]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@runtime_checkable
class RawStore(Protocol):
    """What a store's recorder offers for reading history and keeping checkpoints."""

    def last_position(self) -> int:
        """The position of the last recorded event (0 when there is none)."""
        ...

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 when none)."""
        ...

    def recorded_micros_at_or_before(self, position: int) -> int | None:
        """Recorded time (µs) of the last event at or before `position`; None if none."""
        ...

    def raw_rows(
        self,
        *,
        after: int,
        upto: int,
        topics: Sequence[str] = (),
        effective_upto: int | None = None,
        backdated_only: bool = False,
        limit: int,
    ) -> list[RawRow]:
        """Undecoded events with after < position <= upto, in position order, at most `limit`."""
        ...

    def save_checkpoint(self, name: str, position: int, state: bytes) -> None:
        """Keep `state` as checkpoint `name` at `position`; a second save there is ignored."""
        ...

    def select_checkpoint(self, name: str, at_or_before: int) -> tuple[int, bytes] | None:
        """The latest checkpoint `name` at or before a position, as (position, state)."""
        ...

    def checkpoint_positions(self, name: str) -> list[int]:
        """The positions checkpoint `name` was saved at, ascending."""
        ...

    def drop_checkpoints(self, name: str) -> None:
        """Forget every checkpoint `name`."""
        ...


KeyLookup = Callable[[str], bytes | None]
"""A subject's existing key, or None."""


@runtime_checkable
class BatchKeyring(Protocol):
    """A keyring that can look up many keys cheaply in one short session."""

    def reading(self) -> AbstractContextManager[KeyLookup]:
        """A lookup of existing keys, valid until the context ends."""
        ...


@contextmanager
def key_session(keyring: Keyring) -> Iterator[KeyLookup]:
    """Existing keys of `keyring`, through one session where the keyring offers one."""
    if isinstance(keyring, BatchKeyring):
        with keyring.reading() as lookup:
            yield lookup
    else:
        yield lambda subject: keyring.key_for(subject, create=False)


def key_window(keyring: Keyring) -> KeyWindow:
    """The keys of a read of many pages (see :class:`~.codec.KeyWindow`), each batch
    looked up through one key session."""

    def keys_of(subjects: Iterable[str]) -> dict[str, bytes | None]:
        with key_session(keyring) as lookup:
            return {subject: lookup(subject) for subject in subjects}

    return KeyWindow(keyring, keys_of)


class PageKeyring(Keyring):
    """A keyring that reads each subject's key once: use a fresh one per page.

    The stores' keyrings read the key table on every call (another process may
    destroy a key at any moment); within one page of a read, one lookup per subject
    is enough, and the next page, with a new PageKeyring, sees any erasure since.
    """

    def __init__(self, keyring: Keyring, lookup: KeyLookup | None = None) -> None:
        self._keyring = keyring
        self._lookup = lookup or (lambda subject: keyring.key_for(subject, create=False))
        self._keys: dict[str, bytes | None] = {}

    def key_for(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's key, from this page's cache or the store (made if `create`)."""
        try:
            key = self._keys[subject]
        except KeyError:
            key = self._keys[subject] = self._lookup(subject)
        if key is None and create:
            key = self._keys[subject] = self._keyring.key_for(subject, create=True)
        return key

    def destroy(self, subject: str) -> bool:
        """Destroy the subject's key in the store."""
        self._keys.pop(subject, None)
        return self._keyring.destroy(subject)

    def id_digest(self, id_number: str) -> str:
        """Keyed hash of `id_number` under the store's secret."""
        return self._keyring.id_digest(id_number)


class ErasedSince(Exception):
    """A state holds the plaintext of a subject whose key is gone."""


class ExistingKeysOnly(PageKeyring):
    """Seals only under existing keys: a missing key means the subject was erased."""

    def key_for(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's existing key; ErasedSince where a new one would be made."""
        key = super().key_for(subject, create=False)
        if key is None and create:
            raise ErasedSince(subject)
        return key


class CheckpointEncoder:
    """A whole folded state in the checkpoint format (:func:`~.codec.decode_checkpoint`).

    A checkpoint holds hundreds of thousands of values that msgpack cannot carry natively
    (persistent maps, value types, dates, personal values). One packer writes them all:
    a map, vector, set or value becomes an array headed by its mark, so only leaves
    (dates, times, personal values) are packed on their own. A personal value met again
    (a head's name in every entry of a trail) is sealed once: the same ciphertext for
    the same subject, key and plaintext, as sealing again would give. Use one encoder
    per state: it remembers what it sealed and the value types it met.
    """

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._packer = msgpack.Packer(default=self._default, use_bin_type=True)
        self._leaf = msgpack.Packer(use_bin_type=True)
        self._ciphers = Ciphers()
        self._sealed: dict[tuple[str, str], Any] = {}
        self._dates: dict[date, Any] = {}
        self._table: list[tuple[str, tuple[str, ...]]] = []
        self._by_type: dict[type, Callable[[Any], Any]] = {
            datetime: self._datetime,
            date: self._date,
            Personal: self._personal,
            SealedPersonal: self._sealed_personal,
            type(pmap()): self._pmap,
            type(pvector()): self._pvector,
            type(pset()): self._pset,
            frozenset: self._set,
            set: self._set,
        }

    def encode(self, state: Any) -> bytes:
        """The checkpoint bytes of `state`, which :meth:`Codec.decode` reads back."""
        body: bytes = self._packer.pack(state)
        # The extension (format, table, body), framed here so that the body, tens of
        # megabytes for a large state, is copied once and not once per level.
        head: bytes = self._leaf.pack((codec_.CHECKPOINT_FORMAT, self._table, b""))
        head = head[: -len(_EMPTY_BIN)] + _bin_header(len(body))
        return _ext_header(codec_.CHECKPOINT_CODE, len(head) + len(body)) + head + body

    def _default(self, obj: Any) -> Any:
        cls = type(obj)
        handler = self._by_type.get(cls)
        if handler is None:
            # First of its class: a value type gets a handler of its own; anything else
            # (ids, amounts, a subclass, or not storable) goes as the codec has it.
            handler = self._by_type[cls] = self._value_type(cls) or self.codec._default
        return handler(obj)

    def _value_type(self, cls: type) -> Callable[[Any], Any] | None:
        """For a registered value type, what packs one: its mark, then its fields."""
        name = getattr(cls, "value_type_name", None)
        if name is None:
            return None
        names = field_names(cls)
        mark = _ext(codec_.MARK_CODE, codec_.mark_bytes(codec_.FIRST_VALUE_MARK + len(self._table)))
        self._table.append((name, names))
        if len(names) == 1:
            (only,) = names
            return lambda obj: (mark, getattr(obj, only))
        fields = attrgetter(*names) if names else (lambda obj: ())
        return lambda obj: (mark, *fields(obj))

    def _datetime(self, obj: datetime) -> Any:
        offset = obj.utcoffset()
        if offset is None:
            return self.codec._default(obj)
        micros = (obj - _EPOCH) // _MICROSECOND
        return _ext(codec_.DATETIME_CODE, self._leaf.pack((micros, offset // _SECOND)))

    def _date(self, obj: date) -> Any:
        found = self._dates.get(obj)
        if found is None:
            found = self._dates[obj] = _ext(codec_.DATE_CODE, self._leaf.pack(obj.toordinal()))
        return found

    def _personal(self, obj: Personal) -> Any:
        subject, value = obj.subject, obj.value
        if value is None:
            return _ext(codec_.PERSONAL_CODE, self._leaf.pack((subject, None)))
        known = (subject, value)
        found = self._sealed.get(known)
        if found is None:
            # The codec's keyring decides (ExistingKeysOnly refuses an erased subject).
            key = self.codec.keyring.key_for(subject, create=True)
            assert key is not None
            sealed = self._ciphers.seal(key, subject, value)
            found = self._sealed[known] = _ext(
                codec_.PERSONAL_CODE, self._leaf.pack((subject, sealed))
            )
        return found

    def _sealed_personal(self, obj: SealedPersonal) -> Any:
        # Its ciphertext as read, under the key it was sealed with, while that key exists
        # (a destroyed key is never made again): no sealing anew.
        subject = obj.subject
        if self.codec.keyring.key_for(subject, create=False) is not None:
            return _ext(codec_.PERSONAL_CODE, self._leaf.pack((subject, obj.sealed)))
        if obj.opened and obj.value is not None:
            # Opened before the erasure: what was folded from it may be anywhere in the state.
            raise ErasedSince(subject)
        return _ext(codec_.PERSONAL_CODE, self._leaf.pack((subject, None)))

    def _pmap(self, obj: PMap[Any, Any]) -> Any:
        return (_PMAP, dict(pmap_pairs(obj)))

    def _pvector(self, obj: Any) -> Any:
        return (_PVECTOR, *obj)

    def _pset(self, obj: PSet[Any]) -> Any:
        # Sorted where the members allow it, so equal states give equal bytes.
        # Listed first: a sort that fails part-way must leave every member to fall back on.
        return (_PSET, *codec_._sorted_if_possible(list(pset_members(obj))))

    def _set(self, obj: frozenset[Any]) -> Any:
        return (_FROZENSET, *codec_._sorted_if_possible(obj))


_MICROSECOND = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)


_EMPTY_BIN = msgpack.packb(b"", use_bin_type=True)


def _bin_header(size: int) -> bytes:
    """The msgpack header of a bin of `size` bytes (bin 8, 16 or 32, the shortest)."""
    return _sized((0xC4, 0xC5, 0xC6), size)


def _ext_header(code: int, size: int) -> bytes:
    """The msgpack header of an extension of type `code` and `size` bytes, as msgpack
    writes it (fixext for 1, 2, 4, 8 or 16 bytes, else ext 8, 16 or 32)."""
    kind = code.to_bytes(1, "big", signed=True)
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}.get(size)
    if fixed is not None:
        return bytes((fixed,)) + kind
    return _sized((0xC7, 0xC8, 0xC9), size) + kind


def _sized(markers: tuple[int, int, int], size: int) -> bytes:
    """The marker for `size` among those of 8, 16 and 32-bit sizes (the shortest that
    holds it), then the size."""
    for marker, width in zip(markers, (1, 2, 4), strict=True):
        if size < 1 << (8 * width):
            return bytes((marker,)) + size.to_bytes(width, "big")
    msg = f"a checkpoint of {size} bytes is too large for msgpack"
    raise ValueError(msg)


def _ext(code: int, data: bytes) -> Any:
    # msgpack.ExtType checks its arguments in Python on every call; these are known good.
    return tuple.__new__(msgpack.ExtType, (code, data))


_PMAP, _PVECTOR, _PSET, _FROZENSET = (
    _ext(codec_.MARK_CODE, codec_.mark_bytes(mark))
    for mark in (codec_.PMAP_MARK, codec_.PVECTOR_MARK, codec_.PSET_MARK, codec_.FROZENSET_MARK)
)


class StoreHistory:
    """:class:`warmcase.projections.history.History` over a store's recorder."""

    def __init__(
        self,
        store: RawStore,
        mapper: EventMapper,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        decoded_at_once: int = DECODED_AT_ONCE,
    ) -> None:
        if page_size < 1 or decoded_at_once < 1:
            msg = (
                f"page_size and decoded_at_once must be at least 1, got {page_size} and "
                f"{decoded_at_once}"
            )
            raise ValueError(msg)
        self.store = store
        self.mapper = mapper
        self.page_size = page_size
        self.decoded_at_once = decoded_at_once
        self._leaves = LeafCache()

    # -- positions and times --------------------------------------------------------------

    def last_position(self) -> int:
        """The position of the last recorded event (0 when there is none)."""
        return self.store.last_position()

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 when none)."""
        return self.store.position_at(require_aware(moment, "moment"))

    def recorded_at(self, position: int) -> datetime | None:
        """When the history as of `position` was recorded (None for position 0).

        That is the recorded time of the last event at or before `position`, so a
        position left empty by a rolled-back write still has a time.
        """
        if position <= 0:
            return None
        micros = self.store.recorded_micros_at_or_before(position)
        return None if micros is None else _EPOCH + timedelta(microseconds=micros)

    # -- reads ----------------------------------------------------------------------------

    def read(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[Recorded]:
        """Events with after < position <= upto, of `types` if given, in position order."""
        for page in self.read_pages(after=after, upto=upto, types=types):
            yield from page

    def read_pages(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[list[Recorded]]:
        """Like :meth:`read`, one list per page: one pass can feed several projections."""
        return self._pages(after, upto, types, effective_upto=None, backdated_only=False)

    def read_effective(
        self,
        *,
        after: int,
        upto: int,
        effective_upto: datetime,
        types: frozenset[str] | None = None,
    ) -> Iterator[Recorded]:
        """Like :meth:`read`, keeping only events effective at or before `effective_upto`.

        Events recorded up to the slack after `effective_upto` are filtered as they
        are scanned; any later one effective by then was entered late by more than
        the slack, so only the stores' small index of backdated rows is searched.
        """
        effective = micros_since_epoch(require_aware(effective_upto, "effective_upto"))
        slack_end = _EPOCH + timedelta(microseconds=effective + BACKDATED_MICROS)
        split = min(max(after, self.store.position_at(slack_end)), upto)
        for start, stop, backdated_only in ((after, split, False), (split, upto, True)):
            for page in self._pages(
                start, stop, types, effective_upto=effective, backdated_only=backdated_only
            ):
                yield from page

    def _pages(
        self,
        after: int,
        upto: int,
        types: frozenset[str] | None,
        *,
        effective_upto: int | None,
        backdated_only: bool,
    ) -> Iterator[list[Recorded]]:
        if types is not None and not types:
            return
        topics = () if types is None else tuple(sorted(types))
        window = key_window(self.mapper.codec.keyring)
        try:
            yield from self._read_pages(
                after,
                upto,
                topics,
                window=window,
                effective_upto=effective_upto,
                backdated_only=backdated_only,
            )
        finally:
            window.close()

    def _read_pages(
        self,
        after: int,
        upto: int,
        topics: tuple[str, ...],
        *,
        window: KeyWindow,
        effective_upto: int | None,
        backdated_only: bool,
    ) -> Iterator[list[Recorded]]:
        page_size = self.page_size
        stream_ids: dict[Any, UUID] = {}
        while after < upto:
            rows = self.store.raw_rows(
                after=after,
                upto=upto,
                topics=topics,
                effective_upto=effective_upto,
                backdated_only=backdated_only,
                limit=page_size,
            )
            if not rows:
                return
            # Personal values stay sealed until a fold asks for one: no key is read here.
            window.next_page()
            codec = SealedPageCodec(window, leaves=self._leaves)
            step = self.decoded_at_once
            for start in range(0, len(rows), step):
                yield self._decode(rows[start : start + step], codec, stream_ids)
            if len(rows) < page_size:
                return
            after = rows[-1][0]

    def _decode(
        self, rows: list[RawRow], codec: Codec, stream_ids: dict[Any, UUID]
    ) -> list[Recorded]:
        event_of = self.mapper.decoder(codec)
        page: list[Recorded] = []
        append = page.append
        last_micros = -1
        recorded_at = _EPOCH
        for position, originator_id, version, topic, state, micros in rows:
            # Events of one write share a recorded time, and streams recur: reuse both.
            if micros != last_micros:
                recorded_at = _EPOCH + timedelta(0, 0, micros)
                last_micros = micros
            stream_id = stream_ids.get(originator_id)
            if stream_id is None:
                stream_id = stream_ids[originator_id] = _as_uuid(originator_id)
            append((event_of(topic, state), Meta(position, recorded_at, stream_id, version)))
        return page

    # -- checkpoints ----------------------------------------------------------------------

    def checkpoint(self, name: str, *, at_or_before: int) -> tuple[int, Any] | None:
        """The latest saved state of projection `name` at or before a position."""
        found = self.store.select_checkpoint(name, at_or_before)
        if found is None:
            return None
        position, state = found
        keyring = self.mapper.codec.keyring
        with key_session(keyring) as lookup:
            codec = PageCodec(PageKeyring(keyring, lookup), leaves=self._leaves)
            try:
                return position, codec.decode(state)
            except UnknownCheckpointFormat:
                # Saved by a later version: as good as none, the history is folded instead.
                return None

    def save_checkpoint(self, name: str, position: int, state: Any) -> None:
        """Keep the folded state of projection `name` at `position`.

        Saving the same name and position again is harmless (the first is kept). A
        state that still holds plaintext of a subject erased since it was folded is
        not saved: sealing it would need a new key, and would bring the data back.
        """
        keyring = self.mapper.codec.keyring
        try:
            with key_session(keyring) as lookup:
                encoded = CheckpointEncoder(Codec(ExistingKeysOnly(keyring, lookup))).encode(state)
        except ErasedSince:
            return
        self.store.save_checkpoint(name, position, encoded)

    def checkpoint_positions(self, name: str) -> list[int]:
        """The positions checkpoint `name` was saved at, ascending."""
        return self.store.checkpoint_positions(name)

    def drop_checkpoints(self, name: str) -> None:
        """Forget every checkpoint of `name` (e.g. after its rules changed)."""
        self.store.drop_checkpoints(name)


def _as_uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def history_for(
    recorder: object,
    mapper: Mapper[Any],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    decoded_at_once: int = DECODED_AT_ONCE,
) -> StoreHistory:
    """The history of the store `recorder` belongs to (SQLite, PostgreSQL or memory)."""
    if not isinstance(mapper, EventMapper):
        msg = f"a {type(mapper).__name__} cannot decode warmcase events: use its EventMapper"
        raise StoreError(msg)
    if not isinstance(recorder, RawStore):
        msg = (
            f"a {type(recorder).__name__} cannot serve projections: open the store with "
            f"warmcase.open, whose recorders keep the time index and checkpoints"
        )
        raise StoreError(msg)
    return StoreHistory(recorder, mapper, page_size=page_size, decoded_at_once=decoded_at_once)
