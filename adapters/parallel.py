"""Rebuild groups of projections in processes of their own, each opening the store by URL.

The core splits a rebuild with several jobs into groups (``warmcase.projections.parallel``)
and folds one of them in the calling process; this adapter runs the others: one "spawn"
process per group (a forked child would share the parent's database connections and the
locks of its threads), each opening the same store with :func:`warmcase.open` and running
the ordinary rebuild of its group up to the position the parent fixed. Positions reached
and each group's outcome come back through one queue, so the parent can show the slowest
group's progress while it folds its own.

A child ends as soon as its outcome is sent and its store closed, without freeing what it
folded object by object: its states are in the checkpoints it committed, and tearing down
a state of a million events costs as much as a second of folding.

Because children are spawned, the program that starts a rebuild with several jobs is
imported again in each of them: a script must guard its work with
``if __name__ == "__main__":``, as for any use of ``multiprocessing``.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import pickle
import queue as queues
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

import warmcase
from warmcase.app import Warmcase
from warmcase.projections.parallel import (
    Group,
    GroupDone,
    LocalProgress,
    RebuildFailed,
    rebuild_group,
)

POLL_SECONDS = 0.05
"""How often the parent, its own group done, looks for children that died."""

PROGRESS_STEPS = 200
"""Positions a child sends at most in a rebuild (one every 1/200 of the way): a message per
page would wake the queue's thread, which competes with the fold, thousands of times."""


def reopenable(url: str) -> str | None:
    """The URL another process opens the store at `url` by, or None for a store only this
    process can see (``memory:``, SQLite ``:memory:``). A SQLite path is made absolute:
    the rebuild may start after this process changed directory."""
    scheme = url.split(":", 1)[0].lower() if "://" in url or url.startswith("memory:") else ""
    if scheme == "memory":
        return None
    if scheme in {"postgres", "postgresql", "postgresql+psycopg"}:
        return url
    if scheme not in {"", "sqlite"}:
        return None
    path = url
    if scheme == "sqlite":
        parts = urlsplit(url)
        path = parts.path[1:] if parts.path else ""
    if not path or path == ":memory:":
        return None
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def attach(app: Warmcase, url: str) -> Warmcase:
    """`app`, rebuilding with several jobs in processes that open `url`, if any can."""
    other = reopenable(url)
    app.attach_rebuilder(None if other is None else ProcessRebuilder(other))
    return app


@attrs.frozen
class _Failure:
    """Why a child failed, in plain values (its exception may not travel back)."""

    error_type: str
    message: str
    details: str


@attrs.frozen
class _Job:
    """What a child is asked to do: rebuild `group` (pickled) of the store at `url`."""

    url: str
    index: int
    group: bytes
    upto: int
    report: bool
    """Whether to send the positions it reaches."""


Message = tuple[str, int, Any]
"""What a child sends: ("reached", its index, a position) or ("done", its index, its
:class:`GroupDone` or :class:`_Failure`)."""


class ProcessRebuilder:
    """Runs each group of a rebuild in a spawned process over the store at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rebuild_groups(
        self,
        groups: Sequence[Group],
        *,
        upto: int,
        progress: Callable[[int], None] | None = None,
        meanwhile: Callable[[LocalProgress | None], None] | None = None,
    ) -> list[GroupDone]:
        """Start one process per group, run `meanwhile` here, then wait for every process;
        raise what `meanwhile` raised, or else the first failure, naming the group's
        projections."""
        context = multiprocessing.get_context("spawn")
        messages: multiprocessing.Queue[Message] = context.Queue()
        children = [
            context.Process(
                target=_child,
                args=(
                    _Job(self.url, index, pickle.dumps(group), upto, progress is not None),
                    messages,
                ),
                name=f"warmcase-rebuild-{index}",
                daemon=True,
            )
            for index, group in enumerate(groups)
        ]
        watch = _Watch(children, messages, progress, upto, local=meanwhile is not None)
        failed_here: Exception | None = None
        try:
            for child in children:
                child.start()
            if meanwhile is not None:
                try:
                    meanwhile(None if progress is None else watch.reached_here)
                except Exception as error:  # reported once every child has ended
                    failed_here = error
                watch.done_here()
            watch.wait()
        except BaseException:
            # Interrupted (or the parent failed): no child outlives the rebuild.
            for child in children:
                if child.is_alive():
                    child.terminate()
            raise
        finally:
            for child in children:
                if child.pid is not None:
                    child.join()
            messages.close()
        if failed_here is not None:
            raise failed_here
        return watch.outcomes(groups)


class _Watch:
    """What the parent knows of its children while they run: positions and outcomes."""

    def __init__(
        self,
        children: Sequence[multiprocessing.process.BaseProcess],
        messages: multiprocessing.Queue[Message],
        progress: Callable[[int], None] | None,
        upto: int,
        *,
        local: bool,
    ) -> None:
        self.children = children
        self.messages = messages
        self.progress = progress
        self.upto = upto
        self.positions = [0] * len(children)
        self.here = 0 if local else upto
        self.shown = 0
        self.ended: dict[int, GroupDone | _Failure | None] = {}
        """Each ended child's outcome (None: it died without sending one)."""

    def reached_here(self, position: int) -> None:
        """The calling process's group reached `position`: look at the children too."""
        self.here = max(self.here, position)
        self._drain()
        self._show()

    def done_here(self) -> None:
        """The calling process's group has ended (however it ended)."""
        self.here = self.upto

    def wait(self) -> None:
        """Take messages until every child has sent its outcome or died."""
        while len(self.ended) < len(self.children):
            try:
                self._take(self.messages.get(timeout=POLL_SECONDS))
            except queues.Empty:
                self._bury()
            self._show()
        if self.progress is not None and self.shown < self.upto and self._all_succeeded():
            self.progress(self.upto)

    def outcomes(self, groups: Sequence[Group]) -> list[GroupDone]:
        """Each group's outcome, in order; the first failure as :class:`RebuildFailed`."""
        done: list[GroupDone] = []
        for index, group in enumerate(groups):
            names = [projection.name for projection in group.projections]
            outcome = self.ended[index]
            if outcome is None:
                code = self.children[index].exitcode
                raise RebuildFailed(
                    names, "ProcessDied", f"its process ended with exit code {code} mid-way"
                )
            if isinstance(outcome, _Failure):
                raise RebuildFailed(names, outcome.error_type, outcome.message, outcome.details)
            done.append(outcome)
        return done

    def _all_succeeded(self) -> bool:
        return all(isinstance(outcome, GroupDone) for outcome in self.ended.values())

    def _take(self, message: Message) -> None:
        kind, index, value = message
        if kind == "done":
            self.ended[index] = value
        else:
            self.positions[index] = max(self.positions[index], value)

    def _drain(self) -> None:
        while True:
            try:
                self._take(self.messages.get_nowait())
            except queues.Empty:
                return

    def _bury(self) -> None:
        """Mark the children that died without an outcome (after reading what they sent:
        a child's last message is in the pipe before it exits)."""
        dead = [
            index
            for index, child in enumerate(self.children)
            if index not in self.ended and not child.is_alive()
        ]
        if dead:
            self._drain()
            for index in dead:
                self.ended.setdefault(index, None)

    def _show(self) -> None:
        if self.progress is None:
            return
        slowest = min([self.here, *self.positions])
        if slowest > self.shown:
            self.shown = slowest
            self.progress(slowest)


def _child(job: _Job, messages: Any) -> None:
    """A child's whole life: rebuild its group, send the outcome, and end at once."""
    messages.put(("done", job.index, _rebuild_child(job, messages)))
    messages.close()
    messages.join_thread()
    sys.stdout.flush()
    sys.stderr.flush()
    # The store is closed and the checkpoints committed: skip freeing the folded states.
    os._exit(0)


def _rebuild_child(job: _Job, messages: Any) -> GroupDone | _Failure:
    """In a child: open the store, rebuild the group up to its position, close."""
    try:
        group: Group = pickle.loads(job.group)  # noqa: S301 - sent by the parent process
        index = job.index
        progress = (
            _sparse(lambda position: messages.put(("reached", index, position)), job.upto)
            if job.report
            else None
        )
        app = warmcase.open(job.url)
        try:
            return rebuild_group(app.history, group, upto=job.upto, progress=progress)
        finally:
            app.close()
    except Exception as error:  # every failure goes back to the parent
        return _Failure(type(error).__name__, str(error), traceback.format_exc())


def _sparse(send: Callable[[int], None], upto: int) -> Callable[[int], None]:
    """`send`, called only once a position is a step (1/``PROGRESS_STEPS`` of `upto`) past
    the last one sent, or is `upto`."""
    step = max(1, upto // PROGRESS_STEPS)
    sent = 0

    def reached(position: int) -> None:
        nonlocal sent
        if position - sent >= step or position >= upto:
            sent = position
            send(position)

    return reached
