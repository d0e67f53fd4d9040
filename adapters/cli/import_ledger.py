"""`warmcase import households|lots FILE`: a ledger kept in a spreadsheet becomes commands.

Every bad row is printed with its row number, column, value (personal values masked),
reason and what would be accepted; nothing from a file with bad rows is appended
unless ``--skip-bad-rows``. Rows already in the books with the same content are
counted as already imported, so importing the same file twice changes nothing.
The columns, their Chinese and English headers and the encodings are in
``docs/importing.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from warmcase.app import Warmcase
from warmcase_adapters.cli.common import (
    DEFAULT_STORE,
    EXIT_REFUSED,
    EXIT_USAGE,
    StoreOption,
    console,
    err_console,
    fail,
    open_app,
    refusals,
)
from warmcase_adapters.ledger_import import (
    SUFFIXES,
    ImportReport,
    LedgerFormatError,
    import_households,
    import_lots,
)

FileArgument = Annotated[
    Path,
    typer.Argument(
        exists=True,
        dir_okay=False,
        readable=True,
        help="The ledger: a .csv (UTF-8 or GB18030) or .xlsx file (its first sheet).",
        show_default=False,
    ),
]
ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who the books name as having entered the rows (default: import:FILE-NAME).",
        show_default=False,
    ),
]
SkipOption = Annotated[
    bool,
    typer.Option(
        "--skip-bad-rows",
        help="Import the good rows even when others are bad (the bad ones are still listed).",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Check every row against the books; append nothing."),
]


def register(app: typer.Typer) -> None:
    """Add `warmcase import households` and `warmcase import lots` to the command line."""
    ledgers = typer.Typer(
        name="import",
        help="Import a ledger kept in a spreadsheet (CSV or XLSX): households or donated lots.",
        no_args_is_help=True,
        rich_markup_mode="rich",
    )

    @ledgers.command()
    def households(  # noqa: PLR0917 - typer passes each option by position
        file: FileArgument,
        campaign: Annotated[
            str | None,
            typer.Option(
                "--campaign",
                help="Check that this campaign pays one of each household's categories "
                "(a 活动 / campaign column does the same row by row).",
            ),
        ] = None,
        actor: ActorOption = None,
        skip_bad_rows: SkipOption = False,
        dry_run: DryRunOption = False,
        store: StoreOption = DEFAULT_STORE,
    ) -> None:
        """Register the households of a registry (台账): one row per household."""
        _run(
            file,
            store,
            lambda books, who: import_households(
                books,
                file,
                actor=who,
                campaign=campaign,
                skip_bad_rows=skip_bad_rows,
                dry_run=dry_run,
            ),
            actor=actor,
        )

    @ledgers.command()
    def lots(
        file: FileArgument,
        actor: ActorOption = None,
        skip_bad_rows: SkipOption = False,
        dry_run: DryRunOption = False,
        store: StoreOption = DEFAULT_STORE,
    ) -> None:
        """Receive (or record the pledge of) the lots of a donation register (捐赠登记簿)."""
        _run(
            file,
            store,
            lambda books, who: import_lots(
                books, file, actor=who, skip_bad_rows=skip_bad_rows, dry_run=dry_run
            ),
            actor=actor,
        )

    app.add_typer(ledgers, name="import")


def _run(
    file: Path,
    store: str,
    importing: Callable[[Warmcase, str], ImportReport],
    *,
    actor: str | None,
) -> None:
    if file.suffix.lower() not in SUFFIXES:
        raise typer.BadParameter(
            f"{file.name} is not a .csv or .xlsx file; save the ledger from the "
            f"spreadsheet as one of those",
            param_hint="FILE",
        )
    who = f"import:{file.name}" if actor is None else actor
    if not who.strip():
        raise typer.BadParameter(
            "name who entered the rows, e.g. --actor li.wei", param_hint="--actor"
        )
    books = open_app(store)
    try:
        with refusals():
            try:
                report = importing(books, who)
            except LedgerFormatError as error:
                fail(str(error), EXIT_USAGE)
    finally:
        books.close()
    _print(report)
    if report.stopped:
        raise typer.Exit(EXIT_REFUSED)


def _print(report: ImportReport) -> None:
    if report.errors:
        err_console.print(_bad_rows(report))
    if report.ignored_columns:
        console.print(f"Columns not imported: {', '.join(report.ignored_columns)}.")
    bad = len(report.bad_rows)
    read = f"{Path(report.file).name}: {_count(report.rows, 'row')}"
    if report.encoding is not None:
        read += f" ({report.encoding.removesuffix('-sig')})"
    counts = f"{len(report.already_imported):,} already imported, {bad:,} bad"
    if report.dry_run:
        console.print(f"{read}; dry run: {len(report.good):,} to import, {counts}.")
    else:
        console.print(f"{read}: {len(report.imported):,} imported, {counts}.")
    if report.stopped:
        nothing = "Nothing would be imported" if report.dry_run else "Nothing was imported"
        advice = f"Fix {'it' if bad == 1 else 'them'} and import the file again"
        if report.good:
            advice += (
                f", or pass --skip-bad-rows to import the {_count(len(report.good), 'good row')}"
            )
        err_console.print(
            f"[bold red]{nothing}[/]: {_count(bad, 'bad row')}. {advice}.", soft_wrap=True
        )


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _bad_rows(report: ImportReport) -> Table:
    table = Table(title=f"Bad rows of {Path(report.file).name}", title_justify="left")
    table.add_column("Row", justify="right", no_wrap=True)
    table.add_column("Column", no_wrap=True)
    # Folded, never cut: the reason and what is accepted are what the user acts on.
    for name in ("Value", "Reason", "Accepted"):
        table.add_column(name, overflow="fold")
    for error in report.errors:
        table.add_row(
            str(error.row), error.column or "—", error.value, error.reason, error.accepted
        )
    return table
