"""Projections the worker tests run in worker processes (loaded by ``module:Class``).

:class:`Folded` keeps the position of every event it folds, in order: a view that
folded an event twice, or skipped one, differs from the positions in the log.
:class:`SlowFolded` takes a moment per event and notes each position it folds in the
file named by ``WARMCASE_TEST_PROBE`` as it goes, so a test can see a worker killed
in the middle of a batch (events folded that no save holds).
"""

from __future__ import annotations

import os
import time

import warmcase.app  # noqa: F401 - registers every event type before Folded reads them
from warmcase.domain.lot import LotInspected
from warmcase.events import Event, event_types
from warmcase.projections.projection import Meta, Projection, on

PROBE_VARIABLE = "WARMCASE_TEST_PROBE"
SLOW_SECONDS = 0.02

Positions = tuple[int, ...]


class Folded(Projection[Positions]):
    """The positions of every event folded, in the order they were folded."""

    name = "test.folded"

    def initial(self) -> Positions:
        return ()

    @on(*event_types().values())
    def folded(self, state: Positions, event: Event, meta: Meta) -> Positions:
        return (*state, meta.position)


class SlowFolded(Folded):
    """:class:`Folded`, 20 ms per event, noting each position in the probe file."""

    name = "test.slow_folded"

    def folded(self, state: Positions, event: Event, meta: Meta) -> Positions:
        time.sleep(SLOW_SECONDS)
        probe = os.environ.get(PROBE_VARIABLE)
        if probe:
            with open(probe, "a") as notes:
                notes.write(f"{meta.position}\n")
        return super().folded(state, event, meta)


class Broken(Folded):
    """:class:`Folded` with a bug: it cannot fold a lot's inspection."""

    name = "test.broken"

    @on(LotInspected)
    def inspected(self, state: Positions, event: LotInspected, meta: Meta) -> Positions:
        msg = f"cannot fold the inspection of {event.ref}"
        raise ValueError(msg)
