"""The msgpack codec of stored events, values and projection checkpoints.

msgpack's own types carry str, int, bool, None, bytes, float and maps; explicit
extension codes carry the rest. The codes are part of the stored format and never
change. Arrays decode as tuples: events hold tuples, never lists. Personal values
are sealed with their subject's key on the way in and read as erased when the key
is gone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgpack
from cryptography.exceptions import InvalidTag
from eventsourcing.persistence import Transcoder
from pyrsistent import PMap, PSet, PVector, pmap, pset, pvector

from warmcase.errors import StoredHistoryError
from warmcase.events import field_names, value_class
from warmcase.personal import Keyring, Personal
from warmcase_adapters.keyring import seal, unseal

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

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sorted_if_possible(items: Any) -> list[Any]:
    # Sorted where the members allow it, so equal sets always give equal bytes.
    try:
        return sorted(items)
    except TypeError:
        return list(items)


class Codec(Transcoder):
    """Encodes and decodes warmcase values; `keyring` seals and unseals personal data."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

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
        if code == UUID_CODE:
            return UUID(bytes=data)
        if code == DATETIME_CODE:
            micros, offset = self.decode(data)
            moment = _EPOCH + timedelta(microseconds=micros)
            return moment.astimezone(timezone(timedelta(seconds=offset)))
        if code == DATE_CODE:
            return date.fromordinal(self.decode(data))
        if code == DECIMAL_CODE:
            return Decimal(data.decode())
        if code == TIMEDELTA_CODE:
            return timedelta(microseconds=self.decode(data))
        if code == PERSONAL_CODE:
            subject, sealed = self.decode(data)
            return self._unseal(subject, sealed)
        if code == PMAP_CODE:
            return pmap(self.decode(data))
        if code == PVECTOR_CODE:
            return pvector(self.decode(data))
        if code == PSET_CODE:
            return pset(self.decode(data))
        if code == FROZENSET_CODE:
            return frozenset(self.decode(data))
        if code == VALUE_CODE:
            name, fields = self.decode(data)
            return value_class(name)(**fields)
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
            msg = f"personal data of {subject} does not match its key: the store was tampered with"
            raise StoredHistoryError(msg) from error
