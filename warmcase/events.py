"""Events: immutable, past-tense facts with stable type names.

Every event is a frozen, keyword-only attrs class registered under a permanent
type name such as ``household.surveyed``. The store keeps that name, never a
module path, so moving code never breaks history. A change of shape bumps the
class's ``version`` and registers an upcaster from the old shape.

Value objects nested inside events (addresses, members, aid standards) are
registered the same way with :func:`value_type`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import attrs

from warmcase.errors import StoredHistoryError

T = TypeVar("T")
E = TypeVar("E", bound="Event")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@attrs.frozen(kw_only=True)
class Event:
    """Base of every event: which record, who, and when in the world.

    The store adds the global position and the recorded time at commit; they are
    never part of the event and no caller can supply them.
    """

    type_name: ClassVar[str] = ""
    version: ClassVar[int] = 1

    ref: str
    """Natural reference of the record the event belongs to (e.g. ``H-0001``)."""
    actor: str
    """Who did it: a user name or a system account."""
    effective_at: datetime
    """Valid time: when it happened in the world (timezone-aware)."""


_EVENT_TYPES: dict[str, type[Event]] = {}
_VALUE_TYPES: dict[str, type[Any]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def event_type(name: str, version: int = 1) -> Callable[[type[E]], type[E]]:
    """Register an event class under the permanent type name `name`."""

    def register(cls: type[E]) -> type[E]:
        _claim(name, cls, _EVENT_TYPES)
        cls.type_name = name
        cls.version = version
        return cls

    return register


def value_type(name: str) -> Callable[[type[T]], type[T]]:
    """Register an attrs value class that events carry, under a permanent name."""

    def register(cls: type[T]) -> type[T]:
        _claim(name, cls, _VALUE_TYPES)
        cls.value_type_name = name  # type: ignore[attr-defined]
        return cls

    return register


def upcaster(name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that turns the stored fields of `name` v`from_version` into v+1."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(name, from_version)] = fn
        return fn

    return register


def _claim(name: str, cls: type[Any], registry: dict[str, type[Any]]) -> None:
    existing = registry.get(name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        msg = f"type name {name!r} is already taken by {existing.__qualname__}"
        raise TypeError(msg)
    registry[name] = cls


def event_class(name: str) -> type[Event]:
    """The event class stored under `name`."""
    try:
        return _EVENT_TYPES[name]
    except KeyError:
        msg = f"stored event type {name!r} is unknown to this version of warmcase"
        raise StoredHistoryError(msg) from None


def value_class(name: str) -> type[Any]:
    """The value class stored under `name`."""
    try:
        return _VALUE_TYPES[name]
    except KeyError:
        msg = f"stored value type {name!r} is unknown to this version of warmcase"
        raise StoredHistoryError(msg) from None


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def field_names(cls: type[Any]) -> tuple[str, ...]:
    """The attrs field names of an event or value class, in declaration order (cached)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in attrs.fields(cls))
    return names


def event_types() -> Mapping[str, type[Event]]:
    """Every registered event type, by type name."""
    return dict(_EVENT_TYPES)


def value_types() -> Mapping[str, type[Any]]:
    """Every registered value type, by type name."""
    return dict(_VALUE_TYPES)


def upcast(name: str, stored_version: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Bring the stored fields of `name` from `stored_version` up to the current version."""
    current = event_class(name).version
    while stored_version < current:
        try:
            fields = _UPCASTERS[(name, stored_version)](fields)
        except KeyError:
            msg = f"no upcaster for {name!r} from version {stored_version}"
            raise StoredHistoryError(msg) from None
        stored_version += 1
    return fields


@attrs.frozen
class Envelope:
    """An event placed in its stream, as eventsourcing's recorders store it.

    ``originator_id`` and ``originator_version`` are the stream and the event's
    place in it; optimistic concurrency rests on their uniqueness.
    """

    originator_id: UUID
    originator_version: int
    event: Event
