"""A rebuild split over processes: the split, the tally, and what the parent keeps and drops."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from tests.strategies.coverage_history import coverage_histories
from tests.strategies.stock_history import ListHistory, Recorded
from warmcase.errors import InvalidCommand
from warmcase.projections.audit_trail import AuditTrail
from warmcase.projections.coverage import Coverage
from warmcase.projections.duplicate_aid import DuplicateAid
from warmcase.projections.live import LiveViews
from warmcase.projections.parallel import (
    Group,
    GroupDone,
    RebuildFailed,
    UnpicklableProjection,
    cost_of,
    plan,
    rebuild_group,
    rebuild_in_groups,
    require_picklable,
    resolve_jobs,
    split_by_cost,
)
from warmcase.projections.projection import Projection
from warmcase.projections.stock import StockLevels

STANDARD: tuple[Projection[Any], ...] = (StockLevels(), Coverage(), DuplicateAid(), AuditTrail())


class Weighed(Projection[int]):
    """A projection that reads nothing, weighed by a subclass's ``rebuild_cost``."""

    name = "weighed"

    def initial(self) -> int:
        return 0


def weighed(cost: float) -> Projection[Any]:
    """A projection whose rebuild costs `cost`."""
    return type("Weighed", (Weighed,), {"rebuild_cost": cost})()  # type: ignore[no-any-return]


class InProcess:
    """Runs each group in this process, one after another (the caller's own first): the
    port without processes."""

    def __init__(self, history: ListHistory, fail: str | None = None) -> None:
        self.history = history
        self.fail = fail
        self.progress: list[int] = []

    def rebuild_groups(
        self,
        groups: Sequence[Group],
        *,
        upto: int,
        progress: Callable[[int], None] | None = None,
        meanwhile: Callable[[Callable[[int], None] | None], None] | None = None,
    ) -> list[GroupDone]:
        failed_here: Exception | None = None
        if meanwhile is not None:
            try:
                meanwhile(progress)
            except Exception as error:  # raised once the other groups have run
                failed_here = error
        done = []
        for group in groups:
            names = [projection.name for projection in group.projections]
            if self.fail in names:
                raise RebuildFailed(names, "ZeroDivisionError", "division by zero")
            done.append(rebuild_group(self.history, group, upto=upto, progress=progress))
        if failed_here is not None:
            raise failed_here
        return done


class Exploding(AuditTrail):
    """The audit trail's reads, costly enough to be a group alone, and a rule that divides
    by zero: a bug in the group the calling process folds."""

    name = "exploding"
    rebuild_cost = 10.0

    def fold_thawed(self, work: Any, recorded: Any) -> Any:
        return 1 // 0


@settings(max_examples=200)
@given(st.lists(st.floats(0, 100), max_size=12), st.integers(1, 6))
@example([0.0, 0.0], 2)
def test_every_projection_is_in_exactly_one_of_at_most_jobs_balanced_groups(
    costs: list[float], jobs: int
) -> None:
    """The split puts every projection in exactly one non-empty group, makes at most `jobs`
    groups (no more than there are projections), keeps each group's projections in their
    order, and the costliest group exceeds the cheapest by at most the largest single cost."""
    projections = [weighed(cost) for cost in costs]
    groups = split_by_cost(projections, jobs)
    assert len(groups) == min(jobs, len(projections))
    assert all(groups)
    placed = [id(projection) for group in groups for projection in group]
    assert sorted(placed) == sorted(id(projection) for projection in projections)
    order = {id(projection): index for index, projection in enumerate(projections)}
    for group in groups:
        assert [order[id(p)] for p in group] == sorted(order[id(p)] for p in group)
    if groups:
        loads = [sum(cost_of(p) for p in group) for group in groups]
        assert max(loads) - min(loads) <= max(costs) + 1e-9


def test_the_standard_projections_split_in_two_by_their_costs() -> None:
    """With two jobs, the two costliest projections go to different groups."""
    groups = split_by_cost(STANDARD, 2)
    names = [{projection.name for projection in group} for group in groups]
    assert not {"coverage", "duplicate_aid"} <= names[0]
    assert not {"coverage", "duplicate_aid"} <= names[1]


@given(
    st.lists(st.sampled_from(STANDARD), min_size=1, max_size=4, unique_by=id),
    st.integers(1, 4),
)
def test_each_event_type_is_tallied_by_exactly_one_group(
    projections: list[Projection[Any]], jobs: int
) -> None:
    """Across the groups of a plan, every event type read is counted by one group only, so
    the events read add up to each event once."""
    groups = plan(projections, jobs)
    every = frozenset().union(*(p.reads for p in projections))
    counted: list[str] = []
    for group in groups:
        reads = frozenset().union(*(p.reads for p in group.projections))
        tally = reads if group.tally is None else group.tally
        assert tally <= reads
        counted += tally
    assert sorted(counted) == sorted(every)


def test_jobs_of_none_or_zero_mean_one_per_core_and_a_negative_number_is_refused() -> None:
    """None and 0 resolve to the machine's cores; a negative or non-integer count is a
    malformed argument."""
    assert resolve_jobs(None) == resolve_jobs(0) == (os.cpu_count() or 1)
    assert resolve_jobs(3) == 3
    for wrong in (-1, True, 1.5):
        with pytest.raises(InvalidCommand, match="jobs"):
            resolve_jobs(wrong)  # type: ignore[arg-type]


def test_a_projection_that_cannot_be_pickled_is_named() -> None:
    """A projection of a class defined inside a function cannot travel to another process:
    the error names it and says what to do."""

    class Local(Weighed):
        name = "local_projection"

    require_picklable(STANDARD)
    with pytest.raises(UnpicklableProjection, match=r"local_projection.*jobs=1"):
        require_picklable([*STANDARD, Local()])


@settings(max_examples=15, deadline=None)
@given(coverage_histories(max_steps=30), st.integers(2, 4))
def test_groups_save_the_checkpoints_a_single_rebuild_saves(recorded: Recorded, jobs: int) -> None:
    """Rebuilt in groups, every projection's checkpoint at the last position is the fold of
    the whole history, the events read count each event once, and progress ends at the
    last position."""
    history = ListHistory(recorded)
    upto = history.last_position()
    views = LiveViews(history)
    rebuilder = InProcess(history)
    seen: list[int] = []
    done = rebuild_in_groups(
        views, STANDARD, jobs=jobs, upto=upto, rebuilder=rebuilder, progress=seen.append
    )
    every = frozenset().union(*(p.reads for p in STANDARD))
    assert done.events == sum(1 for event, _ in recorded if event.type_name in every)
    assert done.jobs == min(jobs, len(STANDARD)) == len(done.groups)
    assert sorted(done.projections) == sorted(p.name for p in STANDARD)
    for projection in STANDARD:
        expected = projection.fold(history.read(after=0, upto=upto, types=projection.reads))
        if upto:
            assert history.checkpoint(projection.checkpoint_name, at_or_before=upto) == (
                upto,
                expected,
            )
    if upto:
        assert done.checkpoints == len(STANDARD)
        assert seen[-1] == upto
    # The group read whole is folded here, and its states stay for the answers after.
    here = next(group for group in plan(STANDARD, jobs) if group.tally is None)
    for projection in STANDARD:
        kept = projection in here.projections
        assert views.live_position(projection) == (upto if kept else None)


@settings(max_examples=5, deadline=None)
@given(coverage_histories(max_steps=30))
def test_a_failed_group_leaves_its_projections_without_checkpoints(recorded: Recorded) -> None:
    """When a group fails, the error reaches the caller and its projections' old checkpoints
    were dropped first (none is left to be mistaken for current); a second rebuild saves
    them all again."""
    assume(recorded)
    history = ListHistory(recorded)
    upto = history.last_position()
    views = LiveViews(history)
    views.rebuild(STANDARD, upto=upto)
    with pytest.raises(RebuildFailed, match=r"stock.*ZeroDivisionError"):
        rebuild_in_groups(
            views, STANDARD, jobs=2, upto=upto, rebuilder=InProcess(history, fail="stock")
        )
    assert history.checkpoint(StockLevels().checkpoint_name, at_or_before=upto) is None
    rebuild_in_groups(views, STANDARD, jobs=2, upto=upto, rebuilder=InProcess(history))
    for projection in STANDARD:
        assert history.checkpoint(projection.checkpoint_name, at_or_before=upto) is not None


@settings(max_examples=5, deadline=None)
@given(coverage_histories(max_steps=30))
def test_a_rule_failing_in_the_calling_process_fails_its_group_only(recorded: Recorded) -> None:
    """A rule that raises in the group folded by the calling process fails the rebuild with
    the same typed error as a child's, naming that group and keeping the cause; the other
    groups still run to the end and save their checkpoints, and nothing of the failed
    group is held or saved."""
    assume(recorded)
    history = ListHistory(recorded)
    upto = history.last_position()
    views = LiveViews(history)
    exploding = Exploding()
    with pytest.raises(RebuildFailed, match=r"exploding failed: ZeroDivisionError") as failed:
        rebuild_in_groups(
            views, [exploding, *STANDARD], jobs=2, upto=upto, rebuilder=InProcess(history)
        )
    assert failed.value.projections == ("exploding",)
    assert isinstance(failed.value.__cause__, ZeroDivisionError)
    assert "ZeroDivisionError" in failed.value.details
    assert history.checkpoint(exploding.checkpoint_name, at_or_before=upto) is None
    assert views.live_position(exploding) is None
    for projection in STANDARD:
        expected = projection.fold(history.read(after=0, upto=upto, types=projection.reads))
        assert history.checkpoint(projection.checkpoint_name, at_or_before=upto) == (
            upto,
            expected,
        )


class CannotStart:
    """A rebuilder whose processes fail to start: it raises before the caller folds."""

    def rebuild_groups(
        self,
        groups: Sequence[Group],
        *,
        upto: int,
        progress: Callable[[int], None] | None = None,
        meanwhile: Callable[[Callable[[int], None] | None], None] | None = None,
    ) -> list[GroupDone]:
        msg = "no process could be started"
        raise OSError(msg)


@settings(max_examples=5, deadline=None)
@given(coverage_histories(max_steps=30))
def test_a_rebuild_whose_processes_never_start_leaves_no_old_checkpoint(
    recorded: Recorded,
) -> None:
    """If the other processes cannot start, the caller's own group never folds, and its
    projections are left without the checkpoints saved before the rebuild, like every
    other projection of it."""
    assume(recorded)
    history = ListHistory(recorded)
    upto = history.last_position()
    views = LiveViews(history)
    views.rebuild(STANDARD, upto=upto)
    with pytest.raises(OSError, match="no process could be started"):
        rebuild_in_groups(views, STANDARD, jobs=2, upto=upto, rebuilder=CannotStart())
    for projection in STANDARD:
        assert history.checkpoint(projection.checkpoint_name, at_or_before=upto) is None
