"""Rebuild groups of projections in processes of their own, each opening the store by URL.

The core splits a rebuild with several jobs into groups (``warmcase.projections.parallel``);
this adapter runs them: a ``ProcessPoolExecutor`` of "spawn" processes (a forked child would
share the parent's database connections and the locks of its threads), one per group, each
opening the same store with :func:`warmcase.open` and running the ordinary rebuild of its
group up to the position the parent fixed. Positions reached come back through a queue,
so the parent can show the slowest group's progress.

Because children are spawned, the program that starts a rebuild with several jobs is
imported again in each of them: a script must guard its work with
``if __name__ == "__main__":``, as for any use of ``multiprocessing``.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue as queues
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

import warmcase
from warmcase.app import Warmcase
from warmcase.projections.parallel import Group, GroupDone, RebuildFailed, rebuild_group

POLL_SECONDS = 0.05
"""How often the parent looks at its children's progress."""


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
    ) -> list[GroupDone]:
        """Run every group at once, one process each; raise the first failure, naming
        the group's projections, after every process has ended."""
        context = multiprocessing.get_context("spawn")
        reached: multiprocessing.Queue[tuple[int, int]] = context.Queue()
        payloads = [pickle.dumps(group) for group in groups]
        try:
            with ProcessPoolExecutor(
                max_workers=len(groups),
                mp_context=context,
                initializer=_start_child,
                initargs=(reached,),
            ) as pool:
                futures = [
                    pool.submit(
                        _rebuild_child, self.url, index, payload, upto, progress is not None
                    )
                    for index, payload in enumerate(payloads)
                ]
                if progress is None:
                    wait_for(futures)
                else:
                    _follow(futures, reached, progress, upto)
        finally:
            reached.close()
            reached.join_thread()
        return _outcomes(groups, futures)


def _follow(
    futures: Sequence[Future[Any]],
    reached: multiprocessing.Queue[tuple[int, int]],
    progress: Callable[[int], None],
    upto: int,
) -> None:
    """Call `progress` with the slowest child's position until every child has ended."""
    positions = [0] * len(futures)
    shown = 0
    while not all(future.done() for future in futures):
        try:
            index, position = reached.get(timeout=POLL_SECONDS)
        except queues.Empty:
            continue
        positions[index] = max(positions[index], position)
        slowest = min(positions)
        if slowest > shown:
            shown = slowest
            progress(slowest)
    if all(future.exception() is None for future in futures) and shown < upto:
        progress(upto)


def _outcomes(groups: Sequence[Group], futures: Sequence[Future[Any]]) -> list[GroupDone]:
    """What each child did; the first error a child reported, or else the processes that
    died (a process pool stops every child when one dies), as :class:`RebuildFailed`."""
    done: list[GroupDone] = []
    lost: list[str] = []
    cause: BaseException | None = None
    for group, future in zip(groups, futures, strict=True):
        names = [projection.name for projection in group.projections]
        error = future.exception()
        if error is not None:
            lost += names
            cause = cause or error
            continue
        outcome = future.result()
        if isinstance(outcome, _Failure):
            raise RebuildFailed(names, outcome.error_type, outcome.message, outcome.details)
        done.append(outcome)
    if cause is not None:
        raise RebuildFailed(lost, type(cause).__name__, str(cause)) from cause
    return done


_reached: multiprocessing.Queue[tuple[int, int]] | None = None


def _start_child(reached: multiprocessing.Queue[tuple[int, int]]) -> None:
    global _reached  # noqa: PLW0603 - one queue per child process, set once as it starts
    _reached = reached


def _rebuild_child(
    url: str, index: int, payload: bytes, upto: int, report: bool
) -> GroupDone | _Failure:
    """In a child: open the store, rebuild the group up to `upto`, close."""
    try:
        group: Group = pickle.loads(payload)  # noqa: S301 - sent by the parent process
        reached = _reached
        progress = (
            None
            if not report or reached is None
            else lambda position: reached.put((index, position))
        )
        app = warmcase.open(url)
        try:
            return rebuild_group(app.history, group, upto=upto, progress=progress)
        finally:
            app.close()
    except Exception as error:  # every failure goes back to the parent
        return _Failure(type(error).__name__, str(error), traceback.format_exc())
