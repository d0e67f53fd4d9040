"""`warmcase worker`: keep the views of projections current in a process of their own.

Runs until SIGTERM or SIGINT (the batch in hand is saved first), logging each view's
lag on stderr now and then. ``--status`` prints the lag of the views and exits.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.table import Table

from warmcase.errors import WarmcaseError
from warmcase_adapters.cli.common import DEFAULT_STORE, StoreOption, console, open_app, refusals
from warmcase_adapters.follower import DEFAULT_BATCH_SIZE
from warmcase_adapters.worker import (
    DEFAULT_POLL_SECONDS,
    DEFAULT_REPORT_SECONDS,
    STANDARD_BY_NAME,
    Lag,
    lag,
    projections_named,
    serve,
)


def lag_table(report: list[Lag]) -> Table:
    """The lag of each view, as a table."""
    shown = Table(title="Views and their lag", title_justify="left")
    shown.add_column("view")
    for column in ("position", "head", "events behind", "seconds behind"):
        shown.add_column(column, justify="right")
    for row in report:
        shown.add_row(
            row.view,
            f"{row.position:,}",
            f"{row.head:,}",
            f"{row.events_behind:,}",
            f"{row.seconds_behind:,.1f}",
        )
    return shown


def register(app: typer.Typer) -> None:
    """Add `warmcase worker` to the command line."""

    @app.command()
    def worker(  # noqa: PLR0917 - typer passes one parameter per option
        store: StoreOption = DEFAULT_STORE,
        projection: Annotated[
            list[str] | None,
            typer.Option(
                "--projection",
                help=(
                    f"A view to keep: {', '.join(STANDARD_BY_NAME)}, or a projection class "
                    "as package.module:ClassName. Repeatable; the four standard ones if none."
                ),
            ),
        ] = None,
        batch_size: Annotated[
            int, typer.Option("--batch-size", min=1, help="Events folded between saves.")
        ] = DEFAULT_BATCH_SIZE,
        poll_seconds: Annotated[
            float,
            typer.Option(
                "--poll-seconds",
                min=0.01,
                help="Longest wait between looks at the log (PostgreSQL also wakes on NOTIFY).",
            ),
        ] = DEFAULT_POLL_SECONDS,
        report_seconds: Annotated[
            float, typer.Option("--report-seconds", min=0.01, help="How often the lag is logged.")
        ] = DEFAULT_REPORT_SECONDS,
        status: Annotated[
            bool, typer.Option("--status", help="Print the lag of the views and exit.")
        ] = False,
    ) -> None:
        """Keep projection views current, exactly once; or print their lag (--status)."""
        try:
            chosen = projections_named(projection or ())
        except WarmcaseError as error:
            raise typer.BadParameter(str(error), param_hint="--projection") from None
        books = open_app(store)
        try:
            with refusals():
                if status:
                    console.print(lag_table(lag(books, chosen if projection else None)))
                    return
                logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
                serve(
                    books,
                    chosen,
                    batch_size=batch_size,
                    poll_seconds=poll_seconds,
                    report_seconds=report_seconds,
                )
        finally:
            books.close()
