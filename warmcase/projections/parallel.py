"""A rebuild split over several processes: the plan, the port that runs it, the outcome.

A rebuild is bound by the CPU folding the events, on one core. With ``jobs`` greater
than one, the projections are split into groups of about equal cost (each projection's
``rebuild_cost``), and each group is folded by the ordinary one-process rebuild, up to
one position fixed before any starts: one group in the calling process, which keeps
its states for the answers that follow (as a rebuild with one job does), and each other
group in a process of its own. Those processes are run by a :class:`GroupRebuilder`,
which the composition root attaches to the application: opening the same store again
in another process is the adapters' business.

The calling process folds the group that reads every event type the rebuild reads, or
the first group when none does: either way a group that counts every event it reads. A
rule of that group that ends its process abruptly (a crash of the interpreter) ends the
caller, as it would in a rebuild with one job; elsewhere it ends only its child.

Every checkpoint of the projections is dropped before the group that folds it starts:
those of the other processes' groups before they are started, the calling process's own
while they start up (or, if they never do, as the rebuild fails). Each group saves its
projections' checkpoints only at its end, one insert each. So whatever fails, a
projection has either a complete checkpoint at the fixed position or none (answers then
fold from the first event, correctly but slowly) until a rebuild succeeds.
"""

from __future__ import annotations

import os
import pickle
import time
import traceback
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
    """A group of projections failed to rebuild (in a process of its own or in the calling
    one); the other groups may have finished."""

    def __init__(
        self, projections: Sequence[str], error_type: str, message: str, details: str = ""
    ) -> None:
        self.projections = tuple(projections)
        self.error_type = error_type
        self.details = details
        """The failing process's traceback, where it could send one."""
        super().__init__(
            f"rebuilding {', '.join(self.projections)} failed: "
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


LocalProgress = Callable[[int], None]
"""Called with the position the group folded in the calling process has reached."""


class GroupRebuilder(Protocol):
    """Runs groups of a rebuild, each in a process of its own, over the same store."""

    def rebuild_groups(
        self,
        groups: Sequence[Group],
        *,
        upto: int,
        progress: Callable[[int], None] | None = None,
        meanwhile: Callable[[LocalProgress | None], None] | None = None,
    ) -> list[GroupDone]:
        """Run :func:`rebuild_group` for each group up to `upto`, all at once, and
        `meanwhile` (the calling process's own group) in this process while they run;
        raise what `meanwhile` raised, or else :class:`RebuildFailed` for a group that
        failed, after every process has ended.

        `progress`, if given, is called with the position the slowest group reached,
        counting the calling process's own: `meanwhile` is then given a function to
        call with its positions (and None when there is no `progress`).
        """
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
    """Rebuild `projections` in `jobs` groups (see :func:`plan`) up to `upto`: one in
    this process, into `views`, the others through `rebuilder`. Each group's checkpoints
    are dropped before it folds; after, `views` holds the states its own group folded and
    nothing of the others, so that their answers load the new checkpoints."""
    began = time.perf_counter()
    require_picklable(projections)
    groups = plan(projections, jobs)
    here = next(index for index, group in enumerate(groups) if group.tally is None)
    elsewhere = [group for index, group in enumerate(groups) if index != here]
    views.forget(projections)
    others = [projection for group in elsewhere for projection in group.projections]
    # Before their processes start, whatever becomes of them; this process's group drops
    # its own as it begins to fold (views.rebuild), while the others are starting.
    for projection in others:
        views.history.drop_checkpoints(projection.checkpoint_name)
    folded_here: list[GroupDone] = []

    def meanwhile(reached: LocalProgress | None) -> None:
        folded_here.append(rebuild_here(views, groups[here], upto=upto, progress=reached))

    try:
        done = rebuilder.rebuild_groups(
            elsewhere, upto=upto, progress=progress, meanwhile=meanwhile
        )
    finally:
        # A query during the run may have folded them from the first event: drop that too.
        views.forget(others)
        if not folded_here:
            # This process's group never completed (the others could not start, or a rule
            # raised): it keeps no checkpoint from before the rebuild either.
            for projection in groups[here].projections:
                views.history.drop_checkpoints(projection.checkpoint_name)
    if not folded_here:
        # A rebuilder must run `meanwhile`: without it a group would be missing.
        msg = "the group rebuilder returned without folding this process's group"
        raise RebuildFailed(
            [projection.name for projection in groups[here].projections], "RuntimeError", msg
        )
    done.insert(here, folded_here[0])
    return RebuildReport(
        projections=tuple(projection.name for projection in projections),
        events=sum(group.tallied for group in done),
        position=upto,
        checkpoints=sum(group.report.checkpoints for group in done),
        seconds=time.perf_counter() - began,
        jobs=len(groups),
        groups=tuple(group.report for group in done),
    )


def rebuild_here(
    views: LiveViews,
    group: Group,
    *,
    upto: int,
    progress: Callable[[int], None] | None = None,
) -> GroupDone:
    """The calling process's group (one that tallies every event it reads), rebuilt into
    `views`, which keeps its states; a failing rule is reported as a failed group is."""
    names = [projection.name for projection in group.projections]
    try:
        report = views.rebuild(group.projections, upto=upto, progress=progress)
    except Exception as error:  # a rule may raise anything: the caller gets one type
        details = traceback.format_exc()
        raise RebuildFailed(names, type(error).__name__, str(error), details) from error
    return GroupDone(report, report.events)


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
