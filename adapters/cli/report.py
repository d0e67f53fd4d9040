"""`warmcase report stock|coverage|duplicates|patrols`: the four standard reports, any basis.

Each report is computed as of ``--as-of`` (what the books said: a position, a date or
a time) and for ``--effective`` (what was true in the world then), and shows that
basis in every format. :func:`build` turns a report's answer into tables (shared by
every format); :func:`show_reports` prints the short version the demo ends with.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from warmcase.app import Warmcase
from warmcase.domain import campaign as campaign_
from warmcase.errors import NotFound
from warmcase.projections.basis import Basis
from warmcase.projections.coverage import CoverageState
from warmcase.projections.duplicate_aid import DuplicateAidState
from warmcase.service.queries import COVERAGE, DUPLICATE_AID
from warmcase_adapters.cli import render, tables
from warmcase_adapters.cli.common import (
    DEFAULT_STORE,
    AsOfOption,
    EffectiveOption,
    StoreOption,
    console,
    err_console,
    open_app,
    parse_as_of,
    parse_effective,
    refusals,
)

AsOf = datetime | date | int | None
Effective = datetime | date | None


class Kind(enum.StrEnum):
    """The standard reports."""

    stock = "stock"
    coverage = "coverage"
    duplicates = "duplicates"
    patrols = "patrols"


FormatOption = Annotated[
    render.Format | None,
    typer.Option(
        "--format",
        help="table (terminal), json, csv or xlsx; by default the --output suffix's, else table.",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write to this file (csv: one FILE.<table>.csv per table, and FILE.basis.csv).",
        dir_okay=False,
    ),
]
RowsOption = Annotated[
    int,
    typer.Option(
        "--rows", min=0, help="Rows of each table shown on the terminal (0: all); files hold all."
    ),
]


# ---------------------------------------------------------------- campaigns


def campaigns(app: Warmcase, *, as_of: AsOf = None) -> list[str]:
    """The campaigns opened in the books as of `as_of`."""
    state: CoverageState = app.query(COVERAGE, as_of=as_of).state
    return sorted(ref for ref, info in state.campaigns.items() if info.opened is not None)


def pick_campaign(app: Warmcase, given: str | None) -> str:
    """`given`, or the store's only campaign; a usage error naming them when there are several."""
    if given is not None:
        return given
    known = campaigns(app)
    if len(known) == 1:
        return known[0]
    if not known:
        raise NotFound("no campaign is in the books yet: open one first (see `warmcase demo`)")
    raise typer.BadParameter(
        f"the store holds {len(known)} campaigns: name one of {', '.join(known)}",
        param_hint="--campaign",
    )


# ---------------------------------------------------------------- building


def stock(
    app: Warmcase,
    *,
    as_of: AsOf = None,
    effective: Effective = None,
    warehouse: str | None = None,
    expiring_within: int | None = None,
) -> tables.ReportTables:
    """The stock report as tables."""
    answer = app.stock(
        warehouse=warehouse,
        expiring_within_days=expiring_within,
        as_of=as_of,
        effective=effective,
    )
    return tables.stock(answer)


def coverage(
    app: Warmcase,
    campaign: str,
    *,
    as_of: AsOf = None,
    effective: Effective = None,
    area: str | None = None,
) -> tables.ReportTables:
    """The coverage report as tables."""
    return tables.coverage(app.coverage(campaign, area=area, as_of=as_of, effective=effective))


def patrols(
    app: Warmcase,
    campaign: str,
    *,
    as_of: AsOf = None,
    effective: Effective = None,
    area: str | None = None,
) -> tables.ReportTables:
    """The patrol and hotline report as tables (from the coverage answer)."""
    return tables.patrols(app.coverage(campaign, area=area, as_of=as_of, effective=effective))


def duplicates(
    app: Warmcase, campaign: str, *, as_of: AsOf = None, effective: Effective = None
) -> tables.ReportTables:
    """The duplicate-aid report as tables, with every household's payments against its tier."""
    answer = app.duplicate_aid(campaign, as_of=as_of, effective=effective)
    basis = answer.basis
    # The household table joins the payments ledger and the registry at the very same
    # basis: the answer's own position and effective time.
    registry: CoverageState = _at(app, COVERAGE, basis)
    info = registry.campaigns.get(campaign)
    if info is None or info.opened is None:
        msg = (
            f"campaign {campaign} is not in the books at position {basis.position}, "
            f"effective {basis.effective.isoformat()}: it was not opened by then"
        )
        raise NotFound(msg)
    ledgers: DuplicateAidState = _at(app, DUPLICATE_AID, basis)
    running = app.load(campaign_.KIND, campaign)
    return tables.duplicates(
        answer,
        ledger=ledgers.ledgers.get(campaign, {}),
        households=registry.households,
        enrolled=registry.enrolled.get(campaign, ()),
        standards=() if running is None else running.standards,
        standards_note="as in force now",
    )


def _at(app: Warmcase, projection: Any, basis: Basis) -> Any:
    return app.query(projection, as_of=basis.position, effective=basis.effective).state


def build(
    kind: Kind,
    app: Warmcase,
    *,
    campaign: str | None = None,
    as_of: AsOf = None,
    effective: Effective = None,
    area: str | None = None,
    warehouse: str | None = None,
    expiring_within: int | None = None,
) -> tables.ReportTables:
    """Report `kind` as tables; the campaign is needed by every report but stock."""
    if kind is Kind.stock:
        return stock(
            app,
            as_of=as_of,
            effective=effective,
            warehouse=warehouse,
            expiring_within=expiring_within,
        )
    chosen = pick_campaign(app, campaign)
    if kind is Kind.coverage:
        return coverage(app, chosen, as_of=as_of, effective=effective, area=area)
    if kind is Kind.patrols:
        return patrols(app, chosen, as_of=as_of, effective=effective, area=area)
    return duplicates(app, chosen, as_of=as_of, effective=effective)


# ---------------------------------------------------------------- the demo's summary

_SHORT: dict[Kind, tuple[str, ...]] = {
    Kind.stock: ("stock", "cash", "counts"),
    Kind.coverage: ("total", "categories", "goods"),
    Kind.duplicates: ("summary", "repeat_payments", "above_tier"),
    Kind.patrols: ("totals", "weeks", "encounters", "late_calls"),
}

#: The columns the short version keeps of the wide tables, so they fit a terminal.
_SHORT_COLUMNS: dict[tuple[Kind, str], tuple[str, ...]] = {
    (Kind.stock, "stock"): (
        "warehouse",
        "item",
        "unit",
        "received",
        "accepted",
        "issued_visit",
        "written_off",
        "on_hand",
        "reserved",
        "available",
    ),
    (Kind.stock, "cash"): ("lot", "warehouse", "received_yuan", "issued_yuan", "available_yuan"),
    (Kind.stock, "counts"): ("lot", "item", "day", "book", "counted", "difference", "reason"),
    (Kind.coverage, "categories"): (
        "category",
        "enrolled",
        "reached",
        "persons_reached",
        "missed",
        "payments",
        "cash_yuan",
    ),
    (Kind.patrols, "weeks"): ("area", "week", "patrols", "required", "cold_wave_days", "status"),
}


def show_reports(app: Warmcase, campaign: str, console: Console, *, rows: int = 8) -> None:
    """Print the four reports of `campaign` as readable tables: totals and the top rows."""
    for kind in Kind:
        report = build(kind, app, campaign=campaign)
        short = tables.ReportTables(
            report=report.report,
            title=report.title,
            basis=report.basis,
            filters=report.filters,
            tables=tuple(
                _busy(table).only(_SHORT_COLUMNS.get((kind, table.name), table.columns))
                for table in report.tables
                if table.name in _SHORT[kind]
            ),
        )
        console.rule(f"warmcase report {kind.value}")
        render.show(short, console, rows=rows)
        console.print()


def _busy(table: tables.Table) -> tables.Table:
    """The weeks in which anything happened or was owed, for the short version."""
    if table.name != "weeks":
        return table
    patrolled, cold = table.columns.index("patrols"), table.columns.index("cold_wave_days")
    return tables.Table(
        table.name,
        table.title + " (weeks with patrols or a cold wave)",
        table.columns,
        tuple(row for row in table.rows if row[patrolled] or row[cold]),
    )


# ---------------------------------------------------------------- the command


def _refuse_option(kind: Kind, option: str, given: object) -> None:
    if given is not None:
        raise typer.BadParameter(f"does not apply to the {kind.value} report", param_hint=option)


def register(app: typer.Typer) -> None:
    """Add `warmcase report` to the command line."""

    @app.command()
    def report(  # noqa: PLR0917 - typer passes each option by position
        kind: Annotated[Kind, typer.Argument(help="Which report.", show_default=False)],
        campaign: Annotated[
            str | None,
            typer.Option(help="The campaign (may be left out when the store holds one)."),
        ] = None,
        as_of: AsOfOption = None,
        effective: EffectiveOption = None,
        area: Annotated[
            str | None,
            typer.Option(help="coverage, patrols: an area path, e.g. Gulou/Dongjie/Wenquan."),
        ] = None,
        warehouse: Annotated[str | None, typer.Option(help="stock: one warehouse.")] = None,
        expiring_within: Annotated[
            int | None,
            typer.Option("--expiring-within", min=0, help="stock: list lots expiring within DAYS."),
        ] = None,
        form: FormatOption = None,
        output: OutputOption = None,
        rows: RowsOption = render.DEFAULT_ROWS,
        store: StoreOption = DEFAULT_STORE,
    ) -> None:
        """Print a report as of any moment: stock, coverage, duplicates or patrols."""
        if kind is Kind.stock:
            _refuse_option(kind, "--campaign", campaign)
            _refuse_option(kind, "--area", area)
        else:
            _refuse_option(kind, "--warehouse", warehouse)
            _refuse_option(kind, "--expiring-within", expiring_within)
        if kind is Kind.duplicates:
            _refuse_option(kind, "--area", area)
        chosen = chosen_format(form, output)
        moment, valid = parse_as_of(as_of), parse_effective(effective)
        books = open_app(store)
        try:
            with refusals():
                result = build(
                    kind,
                    books,
                    campaign=campaign,
                    as_of=moment,
                    effective=valid,
                    area=area,
                    warehouse=warehouse,
                    expiring_within=expiring_within,
                )
            emit(result, chosen, output, rows)
        finally:
            books.close()


def chosen_format(form: render.Format | None, output: Path | None) -> render.Format:
    try:
        chosen = render.choose_format(form, output)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--output") from None
    if chosen is render.Format.xlsx and output is None:
        raise typer.BadParameter(
            "xlsx is a binary file: give --output FILE.xlsx", param_hint="--format"
        )
    return chosen


def emit(result: tables.ReportTables, form: render.Format, output: Path | None, rows: int) -> None:
    """Write `result` and say on stderr which files were written."""
    written = render.write(result, form, output=output, console=console, rows=rows or None)
    for path in written:
        err_console.print(f"wrote {path}", soft_wrap=True)
