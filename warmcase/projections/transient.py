"""Folding a page of events in place: one persistent copy per page, not per event.

A rule returns a new state, and a persistent map pays for every change it makes with a
copy of the path to the changed entry. Within one page of a rebuild or a tail no
intermediate state is ever kept, so the top-level maps and vectors of the state can be
changed in place while the page is folded, and made persistent once at its end: the
rules run unchanged, on a state whose named fields are *transient*.

:class:`TransientMap` offers what rules use of a :class:`~pyrsistent.PMap` (``get``,
``set``, ``discard``, ``remove``, lookups, iteration); a :class:`~pyrsistent.PVector`
becomes its evolver (``append``, ``set``, ``extend``, lookups). A rule must not keep a
field's old value to read after changing it: the change is seen through every name.

A map of sets or of maps (an index by campaign of thousands of records) pays again for
every change of its inner value: :func:`add_to`, :func:`get_in` and :func:`set_in` change
the inner set or map in place too, on a transient map, and persistently on any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import attrs
from pyrsistent import PMap, PSet, PVector, pmap, pset

from warmcase.projections.bulk import with_changes

T = TypeVar("T")

_ABSENT: Any = object()
_GONE: Any = object()


class TransientMap:
    """A :class:`~pyrsistent.PMap` changed in place: its changes are kept in a dict."""

    __slots__ = ("_base", "_changes", "_inner")

    def __init__(self, base: PMap[Any, Any]) -> None:
        self._base = base
        self._changes: dict[Any, Any] = {}
        # Key -> evolver of the set or map it holds, changed in place by add_to and set_in
        # until anything else reads or changes this map.
        self._inner: dict[Any, Any] = {}

    def _settle(self) -> None:
        for key, evolver in self._inner.items():
            self._changes[key] = evolver.persistent()
        self._inner = {}

    def get(self, key: Any, default: Any = None) -> Any:
        if self._inner:
            self._settle()
        return self._lookup(key, default)

    def _lookup(self, key: Any, default: Any) -> Any:
        value = self._changes.get(key, _ABSENT)
        if value is _ABSENT:
            # The map's own lookup, without Mapping.get's extra call on the way.
            try:
                return self._base[key]
            except KeyError:
                return default
        return default if value is _GONE else value

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __contains__(self, key: Any) -> bool:
        return self.get(key, _ABSENT) is not _ABSENT

    def set(self, key: Any, value: Any) -> TransientMap:
        if self._inner:
            self._settle()
        self._changes[key] = value
        return self

    def add_to(self, key: Any, member: Any) -> TransientMap:
        """The map with `member` added to the set at `key` (an empty one if none), in place."""
        evolver = self._inner.get(key)
        if evolver is None:
            evolver = self._inner[key] = self._lookup(key, _NO_MEMBERS).evolver()
        evolver.add(member)
        return self

    def get_in(self, key: Any, inner: Any, default: Any = None) -> Any:
        """The value at `inner` in the map at `key`; `default` where either is missing."""
        evolver = self._inner.get(key)
        if evolver is not None:
            try:
                return evolver[inner]
            except KeyError:
                return default
        found = self._lookup(key, None)
        return default if found is None else found.get(inner, default)

    def set_in(self, key: Any, inner: Any, value: Any) -> TransientMap:
        """The map with `value` at `inner` in the map at `key` (an empty one if none), in place."""
        evolver = self._inner.get(key)
        if evolver is None:
            evolver = self._inner[key] = self._lookup(key, _NO_ENTRIES).evolver()
        evolver.set(inner, value)
        return self

    def discard(self, key: Any) -> TransientMap:
        if key in self:
            self._changes[key] = _GONE
        return self

    def remove(self, key: Any) -> TransientMap:
        if key not in self:
            raise KeyError(key)
        self._changes[key] = _GONE
        return self

    # Whole-map reads see the map as it now is, in the order the persistent map has.
    def __iter__(self) -> Iterator[Any]:
        return iter(self.persistent())

    def __len__(self) -> int:
        return len(self.persistent())

    def keys(self) -> Any:
        return self.persistent().keys()

    def values(self) -> Any:
        return self.persistent().values()

    def items(self) -> Any:
        return self.persistent().items()

    def persistent(self) -> PMap[Any, Any]:
        """The map with every change made, persistent."""
        if self._inner:
            self._settle()
        if self._changes:
            self._base = with_changes(self._base, self._changes, _GONE)
            self._changes = {}
        return self._base


_NO_MEMBERS: PSet[Any] = pset()
_NO_ENTRIES: PMap[Any, Any] = pmap()


def add_to(index: Any, key: Any, member: Any) -> Any:
    """`index` (a map of sets) with `member` added to the set at `key`, made if missing; a
    transient map is changed in place, and so is the set, until the map is next read."""
    if type(index) is TransientMap:
        return index.add_to(key, member)
    return index.set(key, index.get(key, _NO_MEMBERS).add(member))


def get_in(index: Any, key: Any, inner: Any, default: Any = None) -> Any:
    """``index[key][inner]`` of a map of maps; `default` where either is missing."""
    if type(index) is TransientMap:
        return index.get_in(key, inner, default)
    found = index.get(key)
    return default if found is None else found.get(inner, default)


def set_in(index: Any, key: Any, inner: Any, value: Any) -> Any:
    """`index` (a map of maps) with `value` at `inner` in the map at `key`, made if missing;
    a transient map is changed in place, and so is the inner map, until it is next read."""
    if type(index) is TransientMap:
        return index.set_in(key, inner, value)
    return index.set(key, index.get(key, _NO_ENTRIES).set(inner, value))


def replace(state: T, **changes: Any) -> T:
    """``attrs.evolve(state, **changes)``, or `state` itself when every change is the value
    it already holds: a transient field changed in place needs no new state."""
    for name, value in changes.items():
        if getattr(state, name) is not value:
            return attrs.evolve(state, **changes)  # type: ignore[misc]
    return state


def thaw(state: Any, fields: Sequence[str]) -> Any:
    """`state` with the maps and vectors in `fields` made transient."""
    changes: dict[str, Any] = {}
    for name in fields:
        value = getattr(state, name)
        if isinstance(value, PMap):
            changes[name] = TransientMap(value)
        elif isinstance(value, PVector):
            changes[name] = value.evolver()
    return attrs.evolve(state, **changes)


def freeze(state: Any, fields: Sequence[str]) -> Any:
    """`state` with the transient `fields` made persistent again."""
    changes: dict[str, Any] = {}
    for name in fields:
        value = getattr(state, name)
        if not isinstance(value, PMap | PVector):
            changes[name] = value.persistent()
    return attrs.evolve(state, **changes) if changes else state
