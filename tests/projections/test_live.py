"""Live views: held states, checkpoints and tails give the answer by definition, at any basis."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.coverage_history import coverage_histories
from tests.strategies.stock_history import ListHistory, Recorded
from warmcase.projections.answering import brute_force
from warmcase.projections.audit_trail import AuditTrail
from warmcase.projections.basis import Basis
from warmcase.projections.coverage import Coverage
from warmcase.projections.duplicate_aid import DuplicateAid
from warmcase.projections.live import LiveViews
from warmcase.projections.projection import Projection
from warmcase.projections.stock import StockLevels


class EveryTrail(AuditTrail):
    """The audit trail, checkpointed as often as the others, so small histories exercise it."""

    checkpoint_every = None


PROJECTIONS: tuple[Projection[Any], ...] = (StockLevels(), Coverage(), DuplicateAid(), EveryTrail())


def bases(data: st.DataObject, recorded: Recorded, count: int) -> list[Basis]:
    """`count` bases inside `recorded`: positions, and effective times near its events."""
    moments = [event.effective_at for event, _ in recorded] or [at(20)]
    draw = data.draw
    chosen = []
    for _ in range(count):
        position = draw(st.integers(0, len(recorded)))
        recorded_at = recorded[position - 1][1].recorded_at if position else None
        effective = draw(st.sampled_from(moments)) + timedelta(minutes=draw(st.integers(-90, 90)))
        if draw(st.booleans()) and recorded_at is not None:
            # The default basis: effective at the moment the position was recorded.
            effective = recorded_at
        chosen.append(Basis(position, recorded_at, effective))
    return chosen


@settings(max_examples=40, deadline=None)
@given(coverage_histories(max_steps=40), st.integers(1, 12), st.data())
def test_answers_in_any_order_equal_the_answer_by_definition(
    recorded: Recorded, every: int, data: st.DataObject
) -> None:
    """Whatever order bases are asked in, each answer (from held states, saved checkpoints and
    the tail) equals the fold of exactly the events recorded by P and effective by V, for all
    four standard projections."""
    views = LiveViews(ListHistory(recorded), checkpoint_every=every)
    for basis in bases(data, recorded, 6):
        for projection in PROJECTIONS:
            assert views.state_at(projection, basis) == brute_force(projection, recorded, basis)


@settings(max_examples=25, deadline=None)
@given(coverage_histories(max_steps=40), st.integers(1, 12), st.data())
def test_an_old_basis_gives_the_same_answer_after_more_events_are_appended(
    recorded: Recorded, every: int, data: st.DataObject
) -> None:
    """An answer at a basis does not change when events are appended after it, whether the
    states held in memory or the checkpoints saved since are used to answer again."""
    cut = data.draw(st.integers(0, len(recorded)))
    history = ListHistory(recorded[:cut])
    views = LiveViews(history, checkpoint_every=every)
    asked = bases(data, recorded[:cut], 3)
    before = [[views.state_at(p, basis) for p in PROJECTIONS] for basis in asked]
    history.recorded.extend(recorded[cut:])
    latest = Basis(len(recorded), recorded[-1][1].recorded_at if recorded else None, at(28))
    for projection in PROJECTIONS:
        views.state_at(projection, latest)
    fresh = LiveViews(history, checkpoint_every=every)
    for basis, answers in zip(asked, before, strict=True):
        assert [views.state_at(p, basis) for p in PROJECTIONS] == answers
        assert [fresh.state_at(p, basis) for p in PROJECTIONS] == answers


@settings(max_examples=25, deadline=None)
@given(coverage_histories(max_steps=40), st.integers(1, 12))
def test_a_rebuild_folds_everything_once_and_saves_every_checkpoint(
    recorded: Recorded, every: int
) -> None:
    """A rebuild in one read gives each projection the state of a full fold, and every
    checkpoint it saves is the fold of the prefix up to its position (incremental = rebuild)."""
    history = ListHistory(recorded)
    views = LiveViews(history, checkpoint_every=every)
    report = views.rebuild(PROJECTIONS)
    last = len(recorded)
    assert report.position == last
    assert report.events == sum(
        1 for event, _ in recorded if any(event.type_name in p.reads for p in PROJECTIONS)
    )
    for projection in PROJECTIONS:
        saved = history.checkpoints.get(projection.checkpoint_name, {})
        assert sorted(saved) == list(range(every, last + 1, every))
        for position in saved:
            found = history.checkpoint(projection.checkpoint_name, at_or_before=position)
            assert found is not None
            assert found[1] == projection.fold(recorded[:position])
        incremental = projection.initial()
        for event, meta in recorded:
            incremental = projection.apply(incremental, event, meta)
        now = Basis(last, recorded[-1][1].recorded_at if recorded else None, at(28))
        assert views.state_at(projection, now) == incremental


def test_a_rebuild_replaces_checkpoints_of_older_rules() -> None:
    """Checkpoints left by an earlier run (or other rules) are dropped before a rebuild saves
    its own, so no answer starts from a stale state."""
    history = ListHistory([])
    stock = StockLevels()
    history.save_checkpoint(stock.checkpoint_name, 5, stock.initial())
    LiveViews(history, checkpoint_every=10).rebuild([stock])
    assert history.checkpoint(stock.checkpoint_name, at_or_before=100) is None


def test_a_projection_may_save_checkpoints_less_often() -> None:
    """A projection's own spacing overrides the application's; its checkpoints land only on
    its own boundaries."""
    views = LiveViews(ListHistory([]), checkpoint_every=10)
    assert views.spacing(StockLevels()) == 10
    assert views.spacing(AuditTrail()) == AuditTrail.checkpoint_every


def test_checkpoint_spacing_must_be_positive() -> None:
    """A spacing of zero positions would save a checkpoint at every step forever: refused."""
    with pytest.raises(ValueError, match="checkpoint_every must be a positive"):
        LiveViews(ListHistory([]), checkpoint_every=0)


def test_folding_leaves_the_cycle_collector_as_it_found_it() -> None:
    """Folds run with cycle collection off (states are acyclic), and the collector is on again
    afterwards, or still off if the embedding service had turned it off."""
    import gc  # noqa: PLC0415 - only this test touches the collector

    views = LiveViews(ListHistory([]), checkpoint_every=10)
    assert gc.isenabled()
    views.rebuild([StockLevels()])
    assert gc.isenabled()
    gc.disable()
    try:
        views.rebuild([StockLevels()])
        assert not gc.isenabled()
    finally:
        gc.enable()
