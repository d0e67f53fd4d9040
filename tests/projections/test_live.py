"""Live views: held states, checkpoints and tails give the answer by definition, at any basis."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.audit_trail_history import histories as trail_histories
from tests.strategies.coverage_history import coverage_histories
from tests.strategies.stock_history import ListHistory, Recorded
from warmcase.projections.answering import brute_force
from warmcase.projections.audit_trail import AuditTrail
from warmcase.projections.basis import Basis
from warmcase.projections.coverage import Coverage
from warmcase.projections.duplicate_aid import DuplicateAid
from warmcase.projections.live import LiveViews, checkpoint_boundaries
from warmcase.projections.projection import Projection
from warmcase.projections.stock import StockLevels


class RareTrail(AuditTrail):
    """The audit trail, checkpointed less often than the others."""

    checkpoint_every = 40_000


class OftenStock(StockLevels):
    """Stock levels, held as often as the others, so small histories exercise its snapshots."""

    snapshot_every = None


PROJECTIONS: tuple[Projection[Any], ...] = (OftenStock(), Coverage(), DuplicateAid(), AuditTrail())


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
def test_a_rebuild_folds_everything_once_and_saves_a_checkpoint_at_its_end(
    recorded: Recorded, every: int
) -> None:
    """A rebuild in one read gives each projection the state of a full fold, and saves one
    checkpoint, at the position it folded to, equal to that fold (incremental = rebuild)."""
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
        assert sorted(saved) == ([last] if last else [])
        incremental = projection.initial()
        for event, meta in recorded:
            incremental = projection.apply(incremental, event, meta)
        if last:
            found = history.checkpoint(projection.checkpoint_name, at_or_before=last)
            assert found == (last, incremental)
        now = Basis(last, recorded[-1][1].recorded_at if recorded else None, at(28))
        assert views.state_at(projection, now) == incremental


@settings(max_examples=30, deadline=None)
@given(
    coverage_histories(max_steps=40),
    st.integers(1, 6),
    st.integers(2, 5),
    st.data(),
)
def test_a_warm_process_answers_from_held_snapshots_as_by_definition(
    recorded: Recorded, snapshot_every: int, keep: int, data: st.DataObject
) -> None:
    """After a warm-up (one read holding a snapshot every few events of each projection and
    every few positions without any, thinned out when there are more than it may keep),
    every answer equals the fold by definition, and the warm-up saves no checkpoint."""
    history = ListHistory(recorded)
    span = data.draw(st.integers(1, 8))
    views = LiveViews(
        history, checkpoint_every=3, snapshot_every=snapshot_every, snapshot_span=span, held=keep
    )
    views.warm(PROJECTIONS)
    assert history.checkpoints == {}
    for projection in PROJECTIONS:
        held = views.snapshots(projection)
        assert held == sorted(set(held))
        assert len(held) <= keep
    for basis in bases(data, recorded, 6):
        for projection in PROJECTIONS:
            assert views.state_at(projection, basis) == brute_force(projection, recorded, basis)


@settings(max_examples=30, deadline=None)
@given(st.one_of(coverage_histories(max_steps=40), trail_histories()), st.data())
def test_late_entries_come_from_the_warm_cache_and_later_ones_from_the_store(
    recorded: Recorded, data: st.DataObject
) -> None:
    """After a warm-up (which keeps the events entered more than ten minutes late), answers
    for past effective times, at every position and for effective times around every event,
    equal the fold by definition, also for events appended after the warm-up."""
    cut = data.draw(st.integers(0, len(recorded)))
    history = ListHistory(recorded[:cut])
    views = LiveViews(history, snapshot_every=3)
    views.warm(PROJECTIONS)
    history.recorded.extend(recorded[cut:])
    moments = sorted({event.effective_at for event, _ in recorded})
    chosen = data.draw(st.lists(st.sampled_from(moments), max_size=4)) if moments else []
    for position in range(len(recorded) + 1):
        recorded_at = recorded[position - 1][1].recorded_at if position else None
        for moment in chosen:
            for effective in (moment - timedelta(microseconds=1), moment):
                basis = Basis(position, recorded_at, effective)
                for projection in PROJECTIONS:
                    expected = brute_force(projection, recorded, basis)
                    assert views.state_at(projection, basis) == expected


@settings(max_examples=20, deadline=None)
@given(coverage_histories(max_steps=40), st.integers(1, 6))
def test_snapshots_are_spaced_by_the_events_a_projection_reads(
    recorded: Recorded, snapshot_every: int
) -> None:
    """A warm-up holds a snapshot after every `snapshot_every` events the projection reads,
    at the position of the last of them, and each is the fold of the history up to there
    (with no long stretch free of the projection's events, which adds snapshots)."""
    views = LiveViews(ListHistory(recorded), snapshot_every=snapshot_every, snapshot_span=10**6)
    views.warm(PROJECTIONS)
    for projection in PROJECTIONS:
        every = views.snapshots_every(projection)
        assert every == (projection.snapshot_every or snapshot_every)
        read = [meta.position for event, meta in recorded if event.type_name in projection.reads]
        assert views.snapshots(projection) == read[every - 1 :: every]
        for position in views.snapshots(projection):
            assert views.prefix(projection, position) == projection.fold(recorded[:position])


@settings(max_examples=20, deadline=None)
@given(coverage_histories(max_steps=40), st.integers(1, 5))
def test_a_warm_up_holds_a_snapshot_after_a_long_stretch_without_events(
    recorded: Recorded, span: int
) -> None:
    """Where more than `snapshot_span` positions pass without a projection's events (stock
    levels among visits and patrols), the warm-up holds its state there too, so no tail
    reads further; each such snapshot is the fold up to its position."""
    views = LiveViews(ListHistory(recorded), snapshot_every=10**6, snapshot_span=span)
    views.warm(PROJECTIONS)
    read = sorted(
        {
            meta.position
            for event, meta in recorded
            if any(event.type_name in p.reads for p in PROJECTIONS)
        }
    )
    for projection in PROJECTIONS:
        held = [0, *views.snapshots(projection)]
        for position in read:
            # Every position read is within the span of a snapshot before it.
            nearest = max(h for h in held if h <= position - 1) if position > 1 else 0
            assert position - 1 - nearest <= span
        for position in views.snapshots(projection):
            assert views.prefix(projection, position) == projection.fold(recorded[:position])


@settings(max_examples=20, deadline=None)
@given(coverage_histories(max_steps=40), st.integers(1, 4))
def test_a_long_fold_saves_the_checkpoint_boundaries_it_crosses(
    recorded: Recorded, every: int
) -> None:
    """A process that folds further than the checkpoint spacing saves the geometric
    boundaries it crosses, each the fold up to it; a short tail saves nothing."""
    history = ListHistory(recorded)
    views = LiveViews(history, checkpoint_every=every)
    last = len(recorded)
    stock = PROJECTIONS[0]
    views.prefix(stock, last)
    saved = history.checkpoints.get(stock.checkpoint_name, {})
    expected = list(checkpoint_boundaries(every, 0, last)) if last > every else []
    assert sorted(saved) == expected
    for position in saved:
        assert history.checkpoint(stock.checkpoint_name, at_or_before=position) == (
            position,
            stock.fold(recorded[:position]),
        )


@given(st.integers(1, 50), st.integers(0, 2000), st.integers(0, 2000))
def test_checkpoint_boundaries_are_geometric_multiples_of_the_spacing(
    every: int, after: int, span: int
) -> None:
    """Checkpoint boundaries are multiples of the spacing, start at it, lie in the range
    asked, and each gap is at least the spacing and about half the position before it, so
    a fresh process folds at most about a third of the history before its basis."""
    upto = after + span
    found = list(checkpoint_boundaries(every, after, upto))
    assert all(after < b <= upto and b % every == 0 for b in found)
    everything = list(checkpoint_boundaries(every, 0, upto))
    assert found == [b for b in everything if b > after]
    if everything:
        assert everything[0] == every
    for before, later in pairwise(everything):
        assert later - before >= max(every, before // 2)
        assert later - before < max(every, before // 2) + every


def test_a_rebuild_replaces_checkpoints_of_older_rules() -> None:
    """Checkpoints left by an earlier run (or other rules) are dropped before a rebuild saves
    its own, so no answer starts from a stale state."""
    history = ListHistory([])
    stock = StockLevels()
    history.save_checkpoint(stock.checkpoint_name, 5, stock.initial())
    LiveViews(history, checkpoint_every=10).rebuild([stock])
    assert history.checkpoint(stock.checkpoint_name, at_or_before=100) is None


def test_a_projection_may_save_checkpoints_less_often_and_hold_snapshots_more_often() -> None:
    """A projection's own spacings override the application's: one may save checkpoints
    less often, stock levels (few events) hold snapshots more often."""
    views = LiveViews(ListHistory([]), checkpoint_every=10, snapshot_every=500)
    assert views.spacing(StockLevels()) == 10
    assert views.spacing(RareTrail()) == 40_000
    assert views.snapshots_every(Coverage()) == 500
    assert views.snapshots_every(StockLevels()) == StockLevels.snapshot_every == 100


def test_checkpoint_and_snapshot_spacing_must_be_positive() -> None:
    """A spacing of zero would save a checkpoint (or hold a snapshot) at every step forever:
    refused."""
    with pytest.raises(ValueError, match="checkpoint_every must be a positive"):
        LiveViews(ListHistory([]), checkpoint_every=0)
    with pytest.raises(ValueError, match="snapshot_every must be a positive"):
        LiveViews(ListHistory([]), snapshot_every=0)


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
