"""Rendering report tables: the same cells on the terminal, in JSON, CSV and XLSX."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from rich.console import Console

from warmcase.projections.basis import Basis
from warmcase_adapters.cli import render
from warmcase_adapters.cli.render import Format
from warmcase_adapters.cli.tables import ReportTables, Table

BASIS = Basis(
    position=1200,
    recorded_at=datetime(2027, 1, 20, 10, tzinfo=UTC),
    effective=datetime(2027, 1, 20, 10, tzinfo=UTC),
)


def _report() -> ReportTables:
    return ReportTables(
        report="duplicates",
        title="Duplicate aid in SF-2027",
        basis=BASIS,
        filters=(("campaign", "SF-2027"), ("area", None)),
        tables=(
            Table(
                "summary",
                "At a glance",
                ("households", "paid_yuan", "repeat_payments", "overrides", "above_tier"),
                ((2, Decimal("1650.00"), 0, 0, 0),),
                record=True,
            ),
            Table(
                "households",
                "Every household",
                ("household", "categories", "paid_yuan", "payments", "topped_up", "note"),
                (
                    ("H-0001", "minimum_allowance", Decimal("550.00"), 1, False, None),
                    ("H-0002", "minimum_allowance+disabled", Decimal("1100.00"), 1, True, "a, b"),
                ),
            ),
        ),
        notes=("a note",),
    )


def test_the_format_follows_the_output_suffix_unless_given() -> None:
    """--format wins; else .json/.csv/.xlsx/.txt name it; no output means the terminal."""
    assert render.choose_format(None, None) is Format.table
    assert render.choose_format(None, Path("r.XLSX")) is Format.xlsx
    assert render.choose_format(None, Path("r.json")) is Format.json
    assert render.choose_format(Format.csv, Path("r.json")) is Format.csv
    with pytest.raises(ValueError, match="cannot tell the format"):
        render.choose_format(None, Path("r.pdf"))


def test_json_holds_the_basis_filters_and_every_row_with_money_as_text() -> None:
    """One object: basis, filters, notes, tables with rows as objects; yuan keep two decimals."""
    shown = json.loads(render.to_json_text(_report()))
    assert shown["basis"] == BASIS.to_dict()
    assert shown["filters"] == {"campaign": "SF-2027", "area": None}
    households = shown["tables"]["households"]
    assert households["columns"][0] == "household"
    assert households["rows"][1] == {
        "household": "H-0002",
        "categories": "minimum_allowance+disabled",
        "paid_yuan": "1100.00",
        "payments": 1,
        "topped_up": True,
        "note": "a, b",
    }
    assert shown["tables"]["summary"]["rows"] == [
        {
            "households": 2,
            "paid_yuan": "1650.00",
            "repeat_payments": 0,
            "overrides": 0,
            "above_tier": 0,
        }
    ]


def test_csv_writes_one_plain_file_per_table_and_one_of_the_basis(tmp_path: Path) -> None:
    """--output r.csv writes r.basis.csv and r.<table>.csv, each with one header row."""
    written = render.write(_report(), Format.csv, output=tmp_path / "r.csv", console=Console())
    assert [path.name for path in written] == ["r.basis.csv", "r.summary.csv", "r.households.csv"]
    basis = dict(csv.reader((tmp_path / "r.basis.csv").open(encoding="utf-8")))
    assert basis["position"] == "1200"
    assert basis["recorded_at"] == "2027-01-20T10:00:00+00:00"
    assert basis["campaign"] == "SF-2027"
    rows = list(csv.DictReader((tmp_path / "r.households.csv").open(encoding="utf-8")))
    assert rows[1] == {
        "household": "H-0002",
        "categories": "minimum_allowance+disabled",
        "paid_yuan": "1100.00",
        "payments": "1",
        "topped_up": "true",
        "note": "a, b",
    }
    assert rows[0]["note"] == ""


def test_csv_on_stdout_is_the_same_files_as_sections() -> None:
    """Without --output, each file follows the other, opened by '# name: title'."""
    text = render.csv_sections(_report())
    sections = text.split("\n\n")
    assert [section.splitlines()[0] for section in sections] == [
        "# basis: the report, its basis and filters",
        "# summary: At a glance",
        "# households: Every household",
    ]
    assert sections[2].splitlines()[1] == "household,categories,paid_yuan,payments,topped_up,note"


def test_xlsx_has_a_basis_sheet_then_one_sheet_per_table_with_numeric_money(
    tmp_path: Path,
) -> None:
    """Sheets: basis, then each table (title row, header row, rows); yuan are numbers."""
    path = tmp_path / "r.xlsx"
    render.write(_report(), Format.xlsx, output=path, console=Console())
    book = load_workbook(path)
    assert book.sheetnames == ["basis", "summary", "households"]
    basis = {row[0]: row[1] for row in book["basis"].iter_rows(values_only=True)}
    assert basis["position"] == 1200
    assert basis["effective"] == "2027-01-20T10:00:00+00:00"
    rows = list(book["households"].iter_rows(values_only=True))
    assert rows[0] == ("Every household",) + (None,) * 5
    assert rows[1] == ("household", "categories", "paid_yuan", "payments", "topped_up", "note")
    assert rows[3][:5] == ("H-0002", "minimum_allowance+disabled", 1100, 1, True)
    assert book["households"].cell(row=4, column=3).number_format == "#,##0.00"


def test_xlsx_needs_a_file() -> None:
    """A workbook is binary: writing one to the terminal is refused."""
    with pytest.raises(ValueError, match="--output"):
        render.write(_report(), Format.xlsx, output=None, console=Console())


def test_the_terminal_shows_the_basis_records_as_fields_and_cuts_long_tables() -> None:
    """The heading gives the basis in Beijing time; a record reads field / value; rows cut."""
    out = StringIO()
    render.show(_report(), Console(file=out, width=160), rows=1)
    text = out.getvalue()
    assert "as of position 1,200 (recorded 2027-01-20T18:00:00+08:00)" in text
    assert "filters: campaign SF-2027" in text
    assert "paid_yuan" in text
    assert "1,650.00" in text
    assert "... and 1 more rows" in text
    assert "H-0002" not in text
    assert "note: a note" in text
