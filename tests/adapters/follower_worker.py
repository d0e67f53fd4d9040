"""What the follower tests run in child processes (spawned, so found by module name).

:class:`Applied` keeps the position of every lot event it folds, in order: a view
that folded an event twice, or skipped one, differs from the positions in the log.
"""

from __future__ import annotations

import warmcase
from warmcase.domain.lot import LotInspected, LotReceived, LotReleased, LotReserved
from warmcase.events import Event
from warmcase.projections.projection import Meta, Projection, on
from warmcase_adapters.follower import Follower

Positions = tuple[int, ...]


class Applied(Projection[Positions]):
    """The positions of the lot events folded, in the order they were folded."""

    name = "test.applied"

    def initial(self) -> Positions:
        return ()

    @on(LotReceived, LotInspected, LotReserved, LotReleased)
    def applied(self, state: Positions, event: Event, meta: Meta) -> Positions:
        return (*state, meta.position)


def catch_up(url: str, batch_size: int) -> None:
    """Open the store at `url` and fold :class:`Applied` up to its last event."""
    app = warmcase.open(url)
    try:
        Follower(app, Applied(), batch_size=batch_size).run_once()
    finally:
        app.close()
