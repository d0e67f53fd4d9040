"""The msgpack codec of stored events, values and projection checkpoints.

msgpack's own types carry str, int, bool, None, bytes, float and maps; explicit
extension codes carry the rest. The codes are part of the stored format and never
change. Arrays decode as tuples: events hold tuples, never lists. Personal values
are sealed with their subject's key on the way in and read as erased when the key
is gone.

A checkpoint (a whole folded state) is one extension of its own, written by
``history.CheckpointEncoder`` and read by :func:`decode_checkpoint`; checkpoints
saved before that format are plain values and still read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgpack
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Transcoder
from pyrsistent import PMap, PSet, PVector, pmap, pset, pvector

from warmcase.errors import StoredHistoryError
from warmcase.events import field_names, value_class
from warmcase.personal import Keyring, Personal
from warmcase_adapters.keyring import NONCE_BYTES, Ciphers, seal, unseal

# Extension codes: permanent.
UUID_CODE = 1
DATE_CODE = 2
DATETIME_CODE = 3
DECIMAL_CODE = 4
FROZENSET_CODE = 5
PMAP_CODE = 6
PVECTOR_CODE = 7
PSET_CODE = 8
PERSONAL_CODE = 9
VALUE_CODE = 10
TIMEDELTA_CODE = 11
CHECKPOINT_CODE = 12
"""A folded state in the checkpoint format (see :func:`decode_checkpoint`)."""
MARK_CODE = 13
"""Inside a checkpoint: the head of an array that stands for a map, vector, set or value."""

CHECKPOINT_FORMAT = 2
"""Checkpoints before it are plain codec values (still read); a later one is refused."""
PMAP_MARK, PVECTOR_MARK, PSET_MARK, FROZENSET_MARK = range(4)
"""The structural marks of a checkpoint; value types are numbered from 4 in its table."""
FIRST_VALUE_MARK = 4

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sorted_if_possible(items: Any) -> list[Any]:
    # Sorted where the members allow it, so equal sets always give equal bytes.
    try:
        return sorted(items)
    except TypeError:
        return list(items)


_MISSING: Any = object()
_PLAIN = frozenset({str, int, bool, float, type(None)})


def _decode_leaf(code: int, data: bytes) -> Any:
    # The extensions whose payload holds no other extension: plain msgpack inside.
    if code == DATETIME_CODE:
        micros, offset = msgpack.unpackb(data)
        moment = _EPOCH + timedelta(microseconds=micros)
        return moment.astimezone(timezone(timedelta(seconds=offset)))
    if code == DATE_CODE:
        return date.fromordinal(msgpack.unpackb(data))
    if code == UUID_CODE:
        return UUID(bytes=data)
    if code == DECIMAL_CODE:
        return Decimal(data.decode())
    return timedelta(microseconds=msgpack.unpackb(data))


class LeafCache:
    """Decoded immutable leaves (times, dates, ids, sets of tags) by their stored bytes.

    They hold nothing personal, so one cache may serve every page of a read. Each table
    is emptied when full, which bounds the memory a long-lived codec keeps.
    """

    LIMIT = 1 << 14

    def __init__(self) -> None:
        self.sets: dict[bytes, Any] = {}
        self.tables: dict[int, dict[bytes, Any]] = {
            code: {} for code in (DATETIME_CODE, DATE_CODE, UUID_CODE, DECIMAL_CODE, TIMEDELTA_CODE)
        }

    def keep(self, table: dict[bytes, Any], data: bytes, value: Any) -> Any:
        """Remember `value` as what `data` decodes to, in `table`; `value`."""
        if len(table) >= self.LIMIT:
            table.clear()
        table[data] = value
        return value


class Codec(Transcoder):
    """Encodes and decodes warmcase values; `keyring` seals and unseals personal data."""

    def __init__(self, keyring: Keyring, *, leaves: LeafCache | None = None) -> None:
        self.keyring = keyring
        self._leaves = LeafCache() if leaves is None else leaves

    def encode(self, obj: Any) -> bytes:
        """The msgpack bytes of `obj`."""
        packed: bytes = msgpack.packb(obj, default=self._default, use_bin_type=True)
        return packed

    def decode(self, data: bytes) -> Any:
        """The value encoded in `data`."""
        return msgpack.unpackb(
            data, ext_hook=self._ext_hook, use_list=False, raw=False, strict_map_key=False
        )

    def _pack(self, obj: Any) -> bytes:
        return self.encode(obj)

    def _default(self, obj: Any) -> msgpack.ExtType:  # noqa: PLR0911 - one branch per type
        if isinstance(obj, UUID):
            return msgpack.ExtType(UUID_CODE, obj.bytes)
        if isinstance(obj, datetime):
            offset = obj.utcoffset()
            if offset is None:
                msg = f"naive datetime {obj.isoformat()} cannot be stored: give it a time zone"
                raise TypeError(msg)
            micros = (obj - _EPOCH) // timedelta(microseconds=1)
            return msgpack.ExtType(
                DATETIME_CODE, self._pack((micros, offset // timedelta(seconds=1)))
            )
        if isinstance(obj, date):
            return msgpack.ExtType(DATE_CODE, self._pack(obj.toordinal()))
        if isinstance(obj, Decimal):
            return msgpack.ExtType(DECIMAL_CODE, str(obj).encode())
        if isinstance(obj, timedelta):
            return msgpack.ExtType(TIMEDELTA_CODE, self._pack(obj // timedelta(microseconds=1)))
        if isinstance(obj, Personal):
            return msgpack.ExtType(PERSONAL_CODE, self._pack(self._seal(obj)))
        if isinstance(obj, PMap):
            return msgpack.ExtType(PMAP_CODE, self._pack(dict(obj)))
        if isinstance(obj, PVector):
            return msgpack.ExtType(PVECTOR_CODE, self._pack(tuple(obj)))
        if isinstance(obj, PSet):
            return msgpack.ExtType(PSET_CODE, self._pack(_sorted_if_possible(obj)))
        if isinstance(obj, frozenset | set):
            return msgpack.ExtType(FROZENSET_CODE, self._pack(_sorted_if_possible(obj)))
        name = getattr(type(obj), "value_type_name", None)
        if name is not None:
            fields = {field: getattr(obj, field) for field in field_names(type(obj))}
            return msgpack.ExtType(VALUE_CODE, self._pack((name, fields)))
        msg = f"cannot store a {type(obj).__qualname__}: register it with @value_type"
        raise TypeError(msg)

    def _ext_hook(self, code: int, data: bytes) -> Any:  # noqa: PLR0911 - one branch per code
        if code == PERSONAL_CODE:
            # (subject, sealed bytes or None): nothing inside needs the hook.
            subject, sealed = msgpack.unpackb(data)
            return self._unseal(subject, sealed)
        table = self._leaves.tables.get(code)
        if table is not None:
            # Immutable leaves recur (a command's events share their times): decode each once.
            value = table.get(data, _MISSING)
            if value is _MISSING:
                value = self._leaves.keep(table, data, _decode_leaf(code, data))
            return value
        if code == VALUE_CODE:
            name, fields = self.decode(data)
            return value_class(name)(**fields)
        if code == CHECKPOINT_CODE:
            return decode_checkpoint(self, data)
        if code == PMAP_CODE:
            return pmap(self.decode(data))
        if code == PVECTOR_CODE:
            return pvector(self.decode(data))
        if code == PSET_CODE:
            return pset(self.decode(data))
        if code == FROZENSET_CODE:
            sets = self._leaves.sets
            found = sets.get(data)
            if found is None:
                members = self.decode(data)
                found = frozenset(members)
                if all(type(member) in _PLAIN for member in members):
                    # Plain members only (tags, kinds): shared like the leaves.
                    self._leaves.keep(sets, data, found)
            return found
        msg = f"stored data has an unknown extension code {code}"
        raise StoredHistoryError(msg)

    def _seal(self, value: Personal) -> tuple[str, bytes | None]:
        if value.value is None:
            return (value.subject, None)
        key = self.keyring.key_for(value.subject, create=True)
        assert key is not None
        return (value.subject, seal(key, value.subject, value.value))

    def _unseal(self, subject: str, sealed: bytes | None) -> Personal:
        if sealed is None:
            return Personal(subject, None)
        key = self.keyring.key_for(subject, create=False)
        if key is None:
            return Personal(subject, None)
        try:
            return Personal(subject, unseal(key, subject, sealed))
        except InvalidTag as error:
            raise _tampered(subject) from error


def _tampered(subject: str) -> StoredHistoryError:
    msg = f"personal data of {subject} does not match its key: the store was tampered with"
    return StoredHistoryError(msg)


class PageCodec(Codec):
    """A codec for one page of a read: each subject's key is looked up, and its cipher
    made, once for the page.

    Use a fresh one per page, as its keyring is: nothing here outlives the page, so a
    key destroyed meanwhile is not kept alive in memory.
    """

    def __init__(self, keyring: Keyring, *, leaves: LeafCache | None = None) -> None:
        super().__init__(keyring, leaves=leaves)
        self._ciphers = Ciphers()
        self._openers: dict[str, tuple[AESGCM, bytes] | None] = {}

    def _unseal(self, subject: str, sealed: bytes | None) -> Personal:
        if sealed is None:
            return Personal(subject, None)
        return Personal(subject, self.open(subject, sealed))

    def open(self, subject: str, sealed: bytes) -> str | None:
        """The plaintext of `sealed`, None if `subject`'s key is gone; raises
        StoredHistoryError if the ciphertext is not `subject`'s."""
        try:
            opener = self._openers[subject]
        except KeyError:
            key = self.keyring.key_for(subject, create=False)
            opener = None if key is None else (self._ciphers.cipher(key), subject.encode())
            self._openers[subject] = opener
        return None if opener is None else _decrypt(opener, subject, sealed)


def _decrypt(opener: tuple[AESGCM, bytes], subject: str, sealed: bytes) -> str:
    # keyring.unseal, with the cipher and the associated data made once.
    cipher, associated = opener
    try:
        text = cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
    except InvalidTag as error:
        raise _tampered(subject) from error
    return text.decode()


KeysOf = Callable[[Iterable[str]], dict[str, bytes | None]]
"""Looks up the existing keys of many subjects at once (None for a destroyed one)."""


class KeyWindow:
    """The keys a read of many pages has looked up for the page it is on.

    Sealed values are opened as folds ask for them, often pages after they were read (a
    fold gathers a batch of its events first). Whichever page a value came from, its key
    is looked up, with those of every subject on that page, at once through `keys_of`,
    and kept until the read moves to its next page: a key destroyed meanwhile is seen
    from there on, and no key outlives the read. Values opened after the read is closed
    look their keys up one by one.
    """

    def __init__(self, keyring: Keyring, keys_of: KeysOf) -> None:
        self.keyring = keyring
        self.keys_of = keys_of
        self.openers: dict[str, tuple[AESGCM, bytes] | None] = {}
        self.ciphers = Ciphers()
        self.reading = True
        """Whether the read is still going (after it, nothing is kept)."""

    def opener(self, subject: str, neighbours: set[str]) -> tuple[AESGCM, bytes] | None:
        """The cipher and associated data of `subject`, None if its key is gone; looked up
        with the keys of `neighbours` (its page's subjects) if this page has not yet."""
        openers = self.openers
        try:
            return openers[subject]
        except KeyError:
            pass
        if not self.reading:
            key = self.keyring.key_for(subject, create=False)
            return None if key is None else (AESGCM(key), subject.encode())
        cipher = self.ciphers.cipher
        for known, key in self.keys_of({subject} | (neighbours - openers.keys())).items():
            openers[known] = None if key is None else (cipher(key), known.encode())
        return openers[subject]

    def next_page(self) -> None:
        """Forget the keys looked up so far: the read moved on."""
        self.openers.clear()
        self.ciphers = Ciphers()

    def close(self) -> None:
        """Forget every key: the read is over."""
        self.next_page()
        self.reading = False


class SealedPageCodec(Codec):
    """A codec for one page of a read that decodes personal values sealed, as
    :class:`SealedPersonal`, decrypted only when asked for, with keys from the read's
    :class:`KeyWindow`.

    Most folds never look at a name (stock, coverage, the audit trail's index), and
    decrypting every value was a third of the cost of a read: a page nobody opens reads
    no key at all. A tampered value is reported when it is opened.
    """

    def __init__(self, window: KeyWindow, *, leaves: LeafCache | None = None) -> None:
        super().__init__(window.keyring, leaves=leaves)
        self._window = window
        self._subjects: set[str] = set()

    def _unseal(self, subject: str, sealed: bytes | None) -> Personal:
        if sealed is None:
            return Personal(subject, None)
        self._subjects.add(subject)
        return SealedPersonal(subject, sealed, self)

    def open(self, subject: str, sealed: bytes) -> str | None:
        """The plaintext of `sealed`, None if `subject`'s key is gone; raises
        StoredHistoryError if the ciphertext is not `subject`'s."""
        opener = self._window.opener(subject, self._subjects)
        return None if opener is None else _decrypt(opener, subject, sealed)


class SealedPersonal(Personal):
    """A personal value as read from the store: decrypted the first time its ``value``
    is asked for (equality, hashing, ``str`` and encoding all ask), then kept in clear
    like any other.

    Until then it holds only the ciphertext, so a fold that never reads a name never
    decrypts one; the ciphertext is kept once opened, so that a checkpoint saves it as
    read instead of sealing it again. Pickled, it is a plain :class:`Personal`.
    """

    __slots__ = ("_codec", "_sealed", "_text")

    _codec: SealedPageCodec | None
    _sealed: bytes
    _text: str | None

    def __init__(self, subject: str, sealed: bytes, codec: SealedPageCodec) -> None:
        # Frozen like Personal: fields are set once, here and when first opened.
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "_sealed", sealed)
        object.__setattr__(self, "_codec", codec)
        object.__setattr__(self, "_text", None)

    @property
    def value(self) -> str | None:
        """The plaintext; None if the subject's key was destroyed before it was opened."""
        codec = self._codec
        if codec is not None:
            object.__setattr__(self, "_text", codec.open(self.subject, self._sealed))
            object.__setattr__(self, "_codec", None)
        return self._text

    @property
    def sealed(self) -> bytes:
        """The ciphertext as stored (kept once opened: a checkpoint saves it as it is)."""
        return self._sealed

    @property
    def opened(self) -> bool:
        """Whether the value was asked for (and its plaintext may be in a folded state)."""
        return self._codec is None

    def __reduce__(self) -> tuple[type[Personal], tuple[str, str | None]]:
        return (Personal, (self.subject, self.value))


class UnknownCheckpointFormat(StoredHistoryError):
    """A checkpoint written in a format this version does not read (by a later one)."""


class _Mark:
    """What a mark decodes to: how to build the value its array stands for."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[tuple[Any, ...]], Any]) -> None:
        self.build = build


def _value_builder(name: str, fields: tuple[str, ...]) -> Callable[[tuple[Any, ...]], Any]:
    cls = value_class(name)

    def build(items: tuple[Any, ...]) -> Any:
        return cls(**dict(zip(fields, items[1:], strict=True)))

    return build


_STRUCTURAL: tuple[Callable[[tuple[Any, ...]], Any], ...] = (
    lambda items: pmap(items[1]),
    lambda items: pvector(items[1:]),
    lambda items: pset(items[1:]),
    lambda items: frozenset(items[1:]),
)


def mark_bytes(index: int) -> bytes:
    """The payload of mark `index`."""
    return index.to_bytes(2, "big")


def decode_checkpoint(codec: Codec, data: bytes) -> Any:
    """The state in the payload of a checkpoint extension.

    The payload is ``(format, table, body)``: the table names each value type the body
    holds with its field names, in the order of its marks from :data:`FIRST_VALUE_MARK`;
    in the body, an array whose head is a mark stands for a persistent map (its one
    item), a vector, a set, or a value type (the items after the mark, field by field).
    Everything else is as the codec has it. One packer writes the whole state, with no
    value packed inside another, which is what makes saving a large state cheap.
    """
    form, table, body = msgpack.unpackb(data, use_list=False)
    if form != CHECKPOINT_FORMAT:
        msg = f"checkpoint format {form} is unknown to this version of warmcase"
        raise UnknownCheckpointFormat(msg)
    builders = [*_STRUCTURAL, *(_value_builder(name, tuple(fields)) for name, fields in table)]
    marks = {mark_bytes(index): _Mark(build) for index, build in enumerate(builders)}
    ext_hook = codec._ext_hook

    def hook(code: int, payload: bytes) -> Any:
        if code == MARK_CODE:
            return marks[payload]
        return ext_hook(code, payload)

    def array(items: tuple[Any, ...]) -> Any:
        if items and type(items[0]) is _Mark:
            return items[0].build(items)
        return items

    return msgpack.unpackb(
        body, ext_hook=hook, list_hook=array, use_list=False, raw=False, strict_map_key=False
    )
