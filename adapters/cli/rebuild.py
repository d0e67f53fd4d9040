"""`warmcase rebuild`: fold the standard projections afresh from the first event.

Replaces their saved checkpoints with new ones, showing a progress bar over the
positions read, and prints what was done: events read, the position reached,
checkpoints saved, time taken. ``--jobs N`` folds them in N processes at once.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from warmcase.projections.live import RebuildReport
from warmcase_adapters.cli.common import (
    DEFAULT_STORE,
    StoreOption,
    console,
    is_url,
    open_app,
    progress_bars,
    refusals,
    sqlite_path,
)
from warmcase_adapters.parallel import attach

JobsOption = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        min=0,
        help="Processes folding at once, each a group of the projections (0: one per core). "
        "A store in memory is rebuilt in one.",
    ),
]


def summary(done: RebuildReport) -> Table:
    """What a rebuild did, as a field / value table."""
    shown = Table(title="Rebuilt from the log", title_justify="left", show_header=False)
    shown.add_column("field")
    shown.add_column("value", justify="right")
    shown.add_row("projections", ", ".join(done.projections))
    shown.add_row("events read", f"{done.events:,}")
    shown.add_row("up to position", f"{done.position:,}")
    shown.add_row("checkpoints saved", f"{done.checkpoints:,}")
    shown.add_row("processes", f"{done.jobs:,}")
    for group in done.groups:
        shown.add_row(f"  {', '.join(group.projections)}", f"{group.seconds:.2f} s")
    shown.add_row("seconds", f"{done.seconds:.2f}")
    shown.add_row("events per second", f"{done.events_per_second:,.0f}")
    return shown


def register(app: typer.Typer) -> None:
    """Add `warmcase rebuild` to the command line."""

    @app.command()
    def rebuild(store: StoreOption = DEFAULT_STORE, jobs: JobsOption = 1) -> None:
        """Rebuild the reports' projections and checkpoints from the first event."""
        books = open_app(store)
        try:
            with refusals():
                attach(books, store if is_url(store) else str(sqlite_path(store)))
                total = books.history.last_position()
                with progress_bars() as bars:
                    task = bars.add_task("positions read", total=total)
                    done = books.rebuild(
                        progress=lambda position: bars.update(task, completed=position),
                        jobs=jobs,
                    )
            console.print(summary(done))
        finally:
            books.close()
