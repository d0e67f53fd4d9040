"""Folding a page in place: the same states as folding event by event, for every projection."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from pyrsistent import pmap, pset, pvector

from tests.strategies.audit_trail_history import histories
from tests.strategies.coverage_history import coverage_histories
from tests.strategies.duplicate_aid_history import duplicate_histories
from tests.strategies.stock_history import Recorded
from warmcase.projections.audit_trail import AuditTrail
from warmcase.projections.coverage import Coverage
from warmcase.projections.duplicate_aid import DuplicateAid
from warmcase.projections.projection import Projection
from warmcase.projections.stock import StockLevels
from warmcase.projections.transient import TransientMap, add_to, freeze, get_in, set_in, thaw


def _in_place(projection: Projection[Any]) -> Projection[Any]:
    """`projection` with every field of its state folded in place within a page."""

    class InPlace(type(projection)):  # type: ignore[misc]
        in_place = tuple(field.name for field in attrs.fields(type(projection.initial())))

    return InPlace()


PROJECTIONS: tuple[Projection[Any], ...] = (
    StockLevels(),
    Coverage(),
    DuplicateAid(),
    AuditTrail(),
    # Every map and vector of every state in place: what a projection could opt into.
    *(_in_place(p) for p in (StockLevels(), Coverage(), DuplicateAid(), AuditTrail())),
)


def pages(recorded: Recorded, cuts: list[int]) -> list[Recorded]:
    """`recorded` cut into consecutive pages at `cuts`."""
    bounds = [0, *sorted({min(cut, len(recorded)) for cut in cuts}), len(recorded)]
    return [recorded[start:end] for start, end in pairwise(bounds)]


@settings(max_examples=40, deadline=None)
@given(
    st.one_of(coverage_histories(max_steps=40), histories(), duplicate_histories()),
    st.lists(st.integers(0, 80), max_size=6),
)
def test_folding_page_by_page_equals_folding_event_by_event(
    recorded: Recorded, cuts: list[int]
) -> None:
    """However a history is cut into pages, folding each page (in place where a projection
    says so) gives the state that applying each event in turn gives, and leaves no
    transient value in it."""
    for projection in PROJECTIONS:
        state = projection.initial()
        for page in pages(recorded, cuts):
            state = projection.fold_page(state, page)
        assert state == projection.fold(recorded)
        assert not any(
            isinstance(getattr(state, field.name), TransientMap)
            for field in attrs.fields(type(state))
        )


@attrs.frozen
class Pair:
    """A state of one map and one vector."""

    names: Any = attrs.field(factory=pmap)
    order: Any = attrs.field(factory=pvector)


@given(
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=6),
    st.lists(
        st.tuples(
            st.sampled_from(("set", "discard", "remove")), st.text(max_size=2), st.integers()
        ),
        max_size=20,
    ),
)
def test_a_transient_map_reads_and_ends_as_the_persistent_map_would(
    start: dict[str, int], operations: list[tuple[str, str, int]]
) -> None:
    """Every read of a transient map (get, lookup, membership, iteration, length) sees the
    changes made so far, exactly as the persistent map changed step by step would."""
    persistent = pmap(start)
    transient = thaw(Pair(names=persistent), ("names", "order"))
    for operation, key, value in operations:
        if operation == "set":
            persistent = persistent.set(key, value)
            transient.names.set(key, value)
        elif operation == "discard":
            persistent = persistent.discard(key)
            transient.names.discard(key)
        elif key in persistent:
            persistent = persistent.remove(key)
            transient.names.remove(key)
        assert transient.names.get(key) == persistent.get(key)
        assert (key in transient.names) == (key in persistent)
        assert dict(transient.names.items()) == dict(persistent)
        assert len(transient.names) == len(persistent)
        assert sorted(transient.names) == sorted(persistent)
    assert freeze(transient, ("names", "order")) == Pair(names=persistent)


def test_removing_a_missing_key_from_a_transient_map_fails_as_the_map_would() -> None:
    """`remove` of a key the map does not hold raises KeyError, and a lookup of it too."""
    transient = TransientMap(pmap({"a": 1}))
    transient.discard("a")
    try:
        transient.remove("a")
    except KeyError:
        pass
    else:  # pragma: no cover - the assertion
        raise AssertionError("remove of a missing key must fail")
    assert transient.get("a", 0) == 0
    assert "a" not in transient


@given(
    st.lists(
        st.tuples(
            st.sampled_from(("add_to", "set_in", "get_in", "get", "set")),
            st.sampled_from(("a", "b")),
            st.integers(0, 3),
        ),
        max_size=30,
    )
)
def test_inner_sets_and_maps_change_in_place_as_they_would_persistently(
    operations: list[tuple[str, str, int]],
) -> None:
    """Adding to an inner set, or setting in an inner map, of a transient map (its evolver
    changed in place) reads and ends as the same changes on persistent maps would, with
    other reads and writes of the map in between; on a persistent map the helpers are
    the persistent changes themselves."""
    persistent: Any = pmap({"map-a": pmap({0: "x"}), "set-a": pset([0])})
    transient: Any = TransientMap(persistent)
    for operation, key, value in operations:
        sets, maps = f"set-{key}", f"map-{key}"
        if operation == "add_to":
            persistent = persistent.set(sets, persistent.get(sets, pset()).add(value))
            assert add_to(transient, sets, value) is transient
        elif operation == "set_in":
            persistent = persistent.set(maps, persistent.get(maps, pmap()).set(value, "y"))
            assert set_in(transient, maps, value, "y") is transient
        elif operation == "set":
            persistent = persistent.set(maps, pmap())
            transient.set(maps, pmap())
        elif operation == "get":
            assert transient.get(sets) == persistent.get(sets)
        assert get_in(transient, maps, value, "-") == get_in(persistent, maps, value, "-")
    assert transient.persistent() == persistent
    plain: Any = pmap()
    assert add_to(plain, "a", 1) == pmap({"a": pset([1])})
    assert set_in(plain, "a", 1, "z") == pmap({"a": pmap({1: "z"})})
