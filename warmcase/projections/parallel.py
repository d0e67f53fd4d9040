"""A rebuild split over several processes: the plan, the port that runs it, the outcome.

A rebuild is bound by the CPU folding the events, on one core. With ``jobs`` greater
than one, the projections are split into groups of about equal cost (each projection's
``rebuild_cost``), and each group is folded by the ordinary one-process rebuild in a
process of its own, up to one position fixed before any starts. The processes are run
by a :class:`GroupRebuilder`, which the composition root attaches to the application:
opening the same store again in another process is the adapters' business.

Every checkpoint of the projections is dropped before any group starts, and each group
saves its projections' checkpoints only at its end, one insert each. So whatever fails,
a projection has either a complete checkpoint at the fixed position or none (answers
then fold from the first event, correctly but slowly) until a rebuild succeeds.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import attrs

from warmcase.errors import InvalidCommand, WarmcaseError
from warmcase.events import Event
from warmcase.projections.history import DelegatingHistory, History
from warmcase.projections.live import LiveViews, RebuildReport
from warmcase.projections.projection import Meta, Projection


class UnpicklableProjection(InvalidCommand):
    """A projection cannot be sent to another process for a rebuild with several jobs."""

    def __init__(self, projection: Projection[Any], cause: Exception) -> None:
        self.projection = projection.name
        kind = type(projection)
        super().__init__(
            f"projection {projection.name!r} ({kind.__module__}.{kind.__qualname__}) cannot be "
            f"sent to another process: {type(cause).__name__}: {cause}; define its class at "
            f"the top level of an importable module, or rebuild it with jobs=1"
        )


class RebuildFailed(WarmcaseError):
    """A process rebuilding a group of projections failed; the others may have finished."""

    def __init__(
        self, projections: Sequence[str], error_type: str, message: str, details: str = ""
    ) -> None:
        self.projections = tuple(projections)
        self.error_type = error_type
        self.details = details
        """The failing process's traceback, where it could send one."""
        super().__init__(
            f"rebuilding {', '.join(self.projections)} in another process failed: "
            f"{error_type}: {message}; their checkpoints were dropped before it started, so "
            f"their answers fold from the first event until a rebuild succeeds: fix the "
            f"cause and rebuild again"
        )


@attrs.frozen
class Group:
    """Projections rebuilt together in one process."""

    projections: tuple[Projection[Any], ...]
    tally: frozenset[str] | None = None
    """Event types whose events this group counts into the whole rebuild's events read,
    so that each event is counted once (None: every event it reads)."""


@attrs.frozen
class GroupDone:
    """What one group's process did."""

    report: RebuildReport
    tallied: int
    """Events of the group's tally types it read."""


class GroupRebuilder(Protocol):
    """Runs groups of a rebuild, each in a process of its own, over the same store."""

    def rebuild_groups(
        self,
        groups: Sequence[Group],
        *,
        upto: int,
        progress: Callable[[int], None] | None = None,
    ) -> list[GroupDone]:
        """Run :func:`rebuild_group` for each group up to `upto`, all at once; raise
        :class:`RebuildFailed` for a group that failed, after the others have ended.
        `progress`, if given, is called with the position the slowest group reached."""
        ...


def resolve_jobs(jobs: int | None) -> int:
    """The processes `jobs` asks for: itself, or one per core for None or 0."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0:
        msg = f"jobs must be a whole number of processes (0 or None: one per core), got {jobs!r}"
        raise InvalidCommand(msg)
    return jobs or os.cpu_count() or 1


def split_by_cost(
    projections: Sequence[Projection[Any]], jobs: int
) -> tuple[tuple[Projection[Any], ...], ...]:
    """`projections` in at most `jobs` non-empty groups of about equal ``rebuild_cost``.

    Largest cost first, each to the group with the least cost so far (ties: the one with
    fewer projections, then the earlier); so the costliest group exceeds the cheapest by at
    most the largest single cost, and no group is empty. Within a group, projections keep
    their order.
    """
    if jobs < 1:
        msg = f"jobs must be at least 1, got {jobs}"
        raise ValueError(msg)
    count = min(jobs, len(projections))
    loads = [0.0] * count
    members: list[list[int]] = [[] for _ in range(count)]
    costliest_first = sorted(range(len(projections)), key=lambda i: -cost_of(projections[i]))
    for index in costliest_first:
        least = min(range(count), key=lambda group: (loads[group], len(members[group]), group))
        loads[least] += cost_of(projections[index])
        members[least].append(index)
    return tuple(tuple(projections[i] for i in sorted(group)) for group in members)


def cost_of(projection: Projection[Any]) -> float:
    """The projection's rebuild cost, as the split weighs it (never negative)."""
    return max(0.0, float(projection.rebuild_cost))


def plan(projections: Sequence[Projection[Any]], jobs: int) -> tuple[Group, ...]:
    """The groups of a rebuild of `projections` with `jobs` processes, each event type
    tallied by exactly one group (one reading every type, when there is one)."""
    groups = split_by_cost(projections, jobs)
    reads = [frozenset().union(*(p.reads for p in group)) for group in groups]
    every = frozenset().union(*reads)
    for whole, types in enumerate(reads):
        if types == every:
            return tuple(
                Group(group, None if index == whole else frozenset())
                for index, group in enumerate(groups)
            )
    tallied: set[str] = set()
    planned = []
    for group, types in zip(groups, reads, strict=True):
        mine = types - tallied
        tallied |= mine
        planned.append(Group(group, None if mine == types else frozenset(mine)))
    return tuple(planned)


def require_picklable(projections: Sequence[Projection[Any]]) -> None:
    """Raise :class:`UnpicklableProjection` for the first projection that cannot be
    sent to another process."""
    for projection in projections:
        try:
            pickle.dumps(projection)
        except Exception as error:  # pickling raises many kinds
            raise UnpicklableProjection(projection, error) from error


def rebuild_in_groups(
    views: LiveViews,
    projections: Sequence[Projection[Any]],
    *,
    jobs: int,
    upto: int,
    rebuilder: GroupRebuilder,
    progress: Callable[[int], None] | None = None,
) -> RebuildReport:
    """Rebuild `projections` in `jobs` groups (see :func:`plan`) through `rebuilder` up to
    `upto`, in this process dropping first the projections' checkpoints and after every
    state held of them, so that answers load the new checkpoints."""
    began = time.perf_counter()
    require_picklable(projections)
    groups = plan(projections, jobs)
    views.forget(projections)
    for projection in projections:
        views.history.drop_checkpoints(projection.checkpoint_name)
    try:
        done = rebuilder.rebuild_groups(groups, upto=upto, progress=progress)
    finally:
        # A query during the run may have folded them from the first event: drop that too.
        views.forget(projections)
    return RebuildReport(
        projections=tuple(projection.name for projection in projections),
        events=sum(group.tallied for group in done),
        position=upto,
        checkpoints=sum(group.report.checkpoints for group in done),
        seconds=time.perf_counter() - began,
        jobs=len(groups),
        groups=tuple(group.report for group in done),
    )


def rebuild_group(
    history: History,
    group: Group,
    *,
    upto: int,
    progress: Callable[[int], None] | None = None,
) -> GroupDone:
    """One group's part of a rebuild, in the process that runs it: the ordinary
    rebuild of its projections up to `upto`, checkpoints saved at the end."""
    tally = group.tally
    if tally is None or not tally:
        report = LiveViews(history).rebuild(group.projections, upto=upto, progress=progress)
        return GroupDone(report, report.events if tally is None else 0)
    counting = _Tallying(history, tally)
    report = LiveViews(counting).rebuild(group.projections, upto=upto, progress=progress)
    return GroupDone(report, counting.tallied)


class _Tallying(DelegatingHistory):
    """`history`, counting the events of `types` that are read from it."""

    def __init__(self, history: History, types: frozenset[str]) -> None:
        super().__init__(history)
        self.types = types
        self.tallied = 0

    def read(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[tuple[Event, Meta]]:
        for page in self.read_pages(after=after, upto=upto, types=types):
            yield from page

    def read_pages(
        self, *, after: int, upto: int, types: frozenset[str] | None = None
    ) -> Iterator[list[tuple[Event, Meta]]]:
        tally = self.types
        for page in self.history.read_pages(after=after, upto=upto, types=types):
            self.tallied += sum(1 for event, _ in page if event.type_name in tally)
            yield page
