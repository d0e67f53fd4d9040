"""Whole-map work on pyrsistent maps: the same entries, in the same order, as pyrsistent's own."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pyrsistent import pmap, pset

from warmcase.projections.bulk import ANEW_SHARE, pmap_pairs, pset_members, with_changes

GONE: Any = object()

keys = st.one_of(st.integers(-50, 50), st.text(max_size=3))
maps = st.dictionaries(keys, st.integers())


@given(maps)
def test_pairs_are_the_items_in_their_order(entries: dict[Any, int]) -> None:
    """Reading a map through its buckets gives its items, in the order items() gives them."""
    persistent = pmap(entries)
    assert list(pmap_pairs(persistent)) == list(persistent.items())


@given(st.sets(keys))
def test_members_are_the_set_in_its_order(members: set[Any]) -> None:
    """Reading a set through its buckets gives its members, in the order iterating gives."""
    persistent = pset(members)
    assert list(pset_members(persistent)) == list(persistent)


def _by_evolver(base: Any, changes: dict[Any, Any]) -> Any:
    evolver = base.evolver()
    for key, value in changes.items():
        if value is not GONE:
            evolver[key] = value
        elif key in evolver:
            evolver.remove(key)
    return evolver.persistent()


@given(maps, st.dictionaries(keys, st.one_of(st.integers(), st.just(GONE))))
def test_changes_equal_an_evolvers_whichever_way_the_map_is_made(
    base: dict[Any, int], changes: dict[Any, Any]
) -> None:
    """Setting and removing entries gives the map an evolver gives, whether the map is made
    anew (many changes) or changed entry by entry (few), and removing a key it never held
    is no error."""
    expected = _by_evolver(pmap(base), changes)
    assert with_changes(pmap(base), changes, GONE) == expected
    # The same changes against a map many times larger take the evolver's way.
    padding = {("pad", index): index for index in range(ANEW_SHARE * (len(changes) + 1))}
    larger = pmap({**padding, **base})
    assert with_changes(larger, changes, GONE) == _by_evolver(larger, changes)


@given(maps, maps)
def test_without_a_gone_marker_every_change_is_set(
    base: dict[Any, int], changes: dict[Any, int]
) -> None:
    """With no marker for removal, every change is an entry of the result."""
    assert with_changes(pmap(base), changes) == pmap({**base, **changes})
