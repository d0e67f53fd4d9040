"""Writing report tables out: a rich table on the terminal, JSON, CSV or XLSX.

Every output carries the basis of the answer (position, recorded time, effective
time) and the filters asked for:

- **table**: rich tables on the console (or, with ``--output``, as text in a file),
  the basis in the heading; a one-row table is shown as field / value.
- **json**: one object ``{"report", "title", "basis", "filters", "notes", "tables"}``,
  each table ``{"title", "columns", "rows"}`` with rows as objects; money is yuan as
  text with two decimals ("1100.00"), so no figure passes through a float.
- **csv**: one file per table. ``--output books.csv`` writes ``books.basis.csv``
  (field, value: the report, its basis and filters) and ``books.<table>.csv`` for
  each table, each a plain CSV with one header row that any tool reads. Without
  ``--output`` the same files follow each other on stdout as sections, each opened
  by a line ``# <name>: <title>`` and closed by a blank line.
- **xlsx**: one workbook, a "basis" sheet first (field, value), then one sheet per
  table: its title in the first row, the columns in the second, then the rows; money
  is numeric, shown with two decimals.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from rich import box
from rich.console import Console
from rich.table import Table as RichTable

from warmcase.clock import DEFAULT_TIMEZONE, zone
from warmcase_adapters.cli.tables import Cell, ReportTables, Table


class Format(enum.StrEnum):
    """The output formats of a report."""

    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


_SUFFIXES = {".json": Format.json, ".csv": Format.csv, ".xlsx": Format.xlsx, ".txt": Format.table}

#: Rows of each table the terminal shows unless asked for more (files get every row).
DEFAULT_ROWS = 40


def choose_format(chosen: Format | None, output: Path | None) -> Format:
    """The format asked for, else the one the output file's suffix names, else table.

    Raises ValueError when the suffix names no format.
    """
    if chosen is not None:
        return chosen
    if output is None:
        return Format.table
    found = _SUFFIXES.get(output.suffix.lower())
    if found is None:
        known = ", ".join(sorted(_SUFFIXES))
        msg = f"cannot tell the format of {output.name!r}: give --format, or end it in {known}"
        raise ValueError(msg)
    return found


def basis_fields(report: ReportTables) -> list[tuple[str, Cell]]:
    """The report's identity, basis and filters as (field, value) pairs."""
    basis = report.basis.to_dict()
    return [
        ("report", report.report),
        ("title", report.title),
        ("position", basis["position"]),
        ("recorded_at", basis["recorded_at"]),
        ("effective", basis["effective"]),
        *((name, value) for name, value in report.filters if value is not None),
    ]


def basis_line(report: ReportTables) -> str:
    """The basis in words, for a heading."""
    basis = report.basis
    # People read local wall-clock times; JSON, CSV and XLSX keep the basis's own values.
    local = zone(DEFAULT_TIMEZONE)
    recorded = (
        "nothing recorded"
        if basis.recorded_at is None
        else f"recorded {basis.recorded_at.astimezone(local).isoformat()}"
    )
    effective = basis.effective.astimezone(local).isoformat()
    return f"as of position {basis.position:,} ({recorded}), effective {effective}"


def write(
    report: ReportTables,
    form: Format,
    *,
    output: Path | None,
    console: Console,
    rows: int | None = DEFAULT_ROWS,
) -> list[Path]:
    """Write `report` in `form` to `output` (a file), or to `console`; the files written."""
    if form is Format.xlsx:
        if output is None:
            msg = "xlsx is a binary file: give --output FILE.xlsx"
            raise ValueError(msg)
        write_xlsx(report, output)
        return [output]
    if form is Format.csv and output is not None:
        return write_csv_files(report, output)
    if output is None:
        if form is Format.table:
            show(report, console, rows=rows)
        else:
            text = to_json_text(report) if form is Format.json else csv_sections(report)
            console.file.write(text)
            console.file.flush()
        return []
    output.parent.mkdir(parents=True, exist_ok=True)
    if form is Format.json:
        output.write_text(to_json_text(report), encoding="utf-8")
    else:
        with output.open("w", encoding="utf-8") as file:
            show(report, Console(file=file, width=200, highlight=False), rows=None)
    return [output]


# ---------------------------------------------------------------- console


def show(report: ReportTables, console: Console, *, rows: int | None = DEFAULT_ROWS) -> None:
    """Print `report` as rich tables, at most `rows` rows of each (None: every row)."""
    console.print(f"[bold]{report.title}[/]")
    console.print(basis_line(report), soft_wrap=True)
    filters = [f"{name} {value}" for name, value in report.filters if value is not None]
    if filters:
        console.print("filters: " + ", ".join(filters), soft_wrap=True)
    for table in report.tables:
        console.print()
        console.print(rich_table(table, rows=rows))
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]", soft_wrap=True)


def rich_table(table: Table, *, rows: int | None = DEFAULT_ROWS) -> RichTable:
    """`table` for the terminal: field / value for a single row, else columns."""
    if table.record and len(table.rows) == 1:
        shown = RichTable(title=table.title, title_justify="left", box=box.SIMPLE_HEAD)
        shown.add_column("field")
        shown.add_column("value", justify="right")
        for name, value in zip(table.columns, table.rows[0], strict=True):
            shown.add_row(name, display(value))
        return shown
    shown = RichTable(title=table.title, title_justify="left", box=box.SIMPLE_HEAD)
    numeric = [_numeric(table, index) for index in range(len(table.columns))]
    for name, right in zip(table.columns, numeric, strict=True):
        shown.add_column(name, justify="right" if right else "left")
    kept = table.rows if rows is None else table.rows[:rows]
    for row in kept:
        shown.add_row(*(display(value) for value in row))
    if not table.rows:
        shown.caption = "(none)"
    elif len(kept) < len(table.rows):
        more = len(table.rows) - len(kept)
        shown.caption = (
            f"... and {more:,} more rows (--rows 0 shows all; json, csv and xlsx hold every row)"
        )
    return shown


def _numeric(table: Table, index: int) -> bool:
    values = [row[index] for row in table.rows if row[index] is not None]
    return bool(values) and all(
        isinstance(value, int | Decimal) and not isinstance(value, bool) for value in values
    )


def display(value: Cell) -> str:
    """A cell as the terminal shows it: thousands separated, yes/no, blank for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return value


# ---------------------------------------------------------------- json


def plain_cell(value: Cell) -> Any:
    """A cell for JSON: money as text with its two decimals, the rest as it is."""
    return f"{value:.2f}" if isinstance(value, Decimal) else value


def to_json(report: ReportTables) -> dict[str, Any]:
    """The report as one JSON object."""
    return {
        "report": report.report,
        "title": report.title,
        "basis": report.basis.to_dict(),
        "filters": {name: plain_cell(value) for name, value in report.filters},
        "notes": list(report.notes),
        "tables": {
            table.name: {
                "title": table.title,
                "columns": list(table.columns),
                "rows": [
                    {
                        name: plain_cell(value)
                        for name, value in zip(table.columns, row, strict=True)
                    }
                    for row in table.rows
                ],
            }
            for table in report.tables
        },
    }


def to_json_text(report: ReportTables) -> str:
    """The report as indented JSON text, ending in a newline."""
    return json.dumps(to_json(report), ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------- csv


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _write_csv(file: IO[str], columns: Sequence[str], rows: Iterable[Sequence[Cell]]) -> None:
    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_csv_cell(value) for value in row] for row in rows)


def csv_files(report: ReportTables, output: Path) -> list[tuple[str, Path]]:
    """The table names and the files `--output OUTPUT` writes them to, basis first."""
    stem = output.with_suffix("") if output.suffix.lower() == ".csv" else output
    names = ["basis", *(table.name for table in report.tables)]
    return [(name, stem.with_name(f"{stem.name}.{name}.csv")) for name in names]


def write_csv_files(report: ReportTables, output: Path) -> list[Path]:
    """One CSV file per table next to `output`, and one of the basis."""
    output.parent.mkdir(parents=True, exist_ok=True)
    files = dict(csv_files(report, output))
    with files["basis"].open("w", encoding="utf-8", newline="") as file:
        _write_csv(file, ("field", "value"), basis_fields(report))
    for table in report.tables:
        with files[table.name].open("w", encoding="utf-8", newline="") as file:
            _write_csv(file, table.columns, table.rows)
    return list(files.values())


def csv_sections(report: ReportTables) -> str:
    """Every CSV file of the report on one stream, each opened by ``# name: title``."""
    out = io.StringIO()
    out.write("# basis: the report, its basis and filters\n")
    _write_csv(out, ("field", "value"), basis_fields(report))
    for table in report.tables:
        out.write(f"\n# {table.name}: {table.title}\n")
        _write_csv(out, table.columns, table.rows)
    return out.getvalue()


# ---------------------------------------------------------------- xlsx


def sheet_names(report: ReportTables) -> list[str]:
    """The workbook's sheet names: "basis", then each table's name (at most 31 characters)."""
    names = ["basis"]
    for table in report.tables:
        name, number = table.name[:31], 2
        while name in names:
            name = f"{table.name[:28]}-{number}"
            number += 1
        names.append(name)
    return names


def write_xlsx(report: ReportTables, output: Path) -> None:
    """A workbook: the basis sheet, then one sheet per table, money numeric to two decimals."""
    output.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    names = sheet_names(report)
    sheet = book.active
    assert sheet is not None
    sheet.title = names[0]
    _fill(sheet, ("field", "value"), basis_fields(report))
    for note in report.notes:
        sheet.append(("note", note))
    for name, table in zip(names[1:], report.tables, strict=True):
        sheet = book.create_sheet(name)
        sheet.append((table.title,))
        sheet["A1"].font = Font(bold=True)
        _fill(sheet, table.columns, table.rows, header_row=2)
    book.save(output)


def _fill(
    sheet: Any, columns: Sequence[str], rows: Iterable[Sequence[Cell]], header_row: int = 1
) -> None:
    sheet.append(tuple(columns))
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = f"A{header_row + 1}"
    for row in rows:
        sheet.append(tuple(row))
        for cell, value in zip(sheet[sheet.max_row], row, strict=False):
            if isinstance(value, Decimal):
                cell.number_format = "#,##0.00"
    for index, name in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(name) + 2))
