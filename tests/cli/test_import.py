"""`warmcase import households|lots FILE` through the console script, on SQLite files."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import warmcase
from tests.adapters.test_ledger_import import (
    HOUSEHOLD_HEADER,
    ID_HEAD,
    LOT_HEADER,
    household_row,
    lot_row,
    write_csv,
    write_xlsx,
)
from tests.cli.console import copy_store
from tests.cli.console import warmcase as run
from tests.strategies.campaign import spring_festival_standards

CAMPAIGN = "SF-2027"
# The console script runs on the machine's clock: every date in the files is in its past.
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()
SURVEYED = (TODAY - timedelta(days=7)).isoformat()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A SQLite store holding one open campaign (the Spring Festival standards)."""
    path = tmp_path / "books.db"
    books = warmcase.open(f"sqlite:///{path}")
    try:
        books.open_campaign(
            CAMPAIGN,
            name="Spring Festival visits",
            owner="Dongjie street office",
            starts_on=TODAY - timedelta(days=30),
            ends_on=TODAY + timedelta(days=90),
            standards=spring_festival_standards(),
            actor="office",
        )
    finally:
        books.close()
    return path


def events(store: Path) -> int:
    """How many events the store holds."""
    books = warmcase.open(f"sqlite:///{store}")
    try:
        return books.recorder.max_notification_id() or 0
    finally:
        books.close()


def households(tmp_path: Path, *rows: dict[str, object], name: str = "台账.csv") -> Path:
    """A registry file of `rows` (a CSV or, by its name, an XLSX)."""
    dated = [{**row, "调查日期": SURVEYED} if row.get("调查日期") else row for row in rows]
    write = write_xlsx if name.endswith(".xlsx") else write_csv
    return write(tmp_path / name, HOUSEHOLD_HEADER, dated)


def lots(tmp_path: Path, *rows: dict[str, object], name: str = "捐赠登记簿.xlsx") -> Path:
    """A donation register of `rows`, received a week ago."""
    dated = [{**row, "接收日期": SURVEYED} for row in rows]
    write = write_xlsx if name.endswith(".xlsx") else write_csv
    return write(tmp_path / name, LOT_HEADER, dated)


def test_a_registry_csv_and_a_donation_register_xlsx_import(store: Path, tmp_path: Path) -> None:
    """Good files import with exit 0: one event per household and per lot, and a summary."""
    registry = households(tmp_path, household_row("H-0001"), household_row("H-0002"))
    result = run(
        "import", "households", str(registry), "--campaign", CAMPAIGN, "--store", str(store)
    )
    assert result.returncode == 0, result.stderr
    assert "台账.csv: 2 rows (utf-8): 2 imported, 0 already imported, 0 bad." in result.stdout
    register = lots(
        tmp_path,
        lot_row("L-001"),
        lot_row("L-002", 物资名称="善款", 类型="现金", 单位="元", 数量="", **{"金额(元)": 5000}),
    )
    result = run("import", "lots", str(register), "--store", str(store), "--actor", "zhao.min")
    assert result.returncode == 0, result.stderr
    assert "2 imported" in result.stdout
    assert events(store) == 1 + 2 + 2
    books = warmcase.open(f"sqlite:///{store}")
    try:
        assert {entry.actor for entry in books.audit_trail("L-002").entries} == {"zhao.min"}
        assert {entry.actor for entry in books.audit_trail("H-0001").entries} == {"import:台账.csv"}
    finally:
        books.close()


def test_bad_rows_are_listed_and_nothing_is_appended(store: Path, tmp_path: Path) -> None:
    """Exit 1; every bad row is listed on stderr with its row number, column and reason;
    the ID number is masked; the store holds no event more than before."""
    registry = households(
        tmp_path,
        household_row("H-0001"),
        household_row("H-0002", 困难等级=5),
        household_row("H-0003", 户主身份证号=ID_HEAD[:-1], 联系电话="12"),
    )
    before = events(store)
    result = run("import", "households", str(registry), "--store", str(store))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(
        "3" in line and "M 困难等级" in line and "is not a hardship level" in line for line in lines
    )
    assert any(
        "4" in line and "H 户主身份证号" in line and "is not a resident ID" in line
        for line in lines
    )
    assert any(
        "4" in line and "I 联系电话" in line and "is not a phone number" in line for line in lines
    )
    assert ID_HEAD[:-1] not in result.stderr + result.stdout
    assert "Nothing was imported: 2 bad rows" in result.stderr
    assert "--skip-bad-rows to import the 1 good row." in result.stderr
    assert events(store) == before


def test_skip_bad_rows_imports_the_good_rows(store: Path, tmp_path: Path) -> None:
    """With --skip-bad-rows the good rows are appended, the bad ones listed, exit 0."""
    registry = households(
        tmp_path,
        household_row("H-0001"),
        household_row("H-0002", 困难等级=5),
        household_row("H-0003"),
    )
    before = events(store)
    result = run("import", "households", str(registry), "--skip-bad-rows", "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert "2 imported, 0 already imported, 1 bad." in result.stdout
    assert "is not a hardship level" in result.stderr
    assert events(store) == before + 2


def test_importing_a_file_again_changes_nothing(store: Path, tmp_path: Path) -> None:
    """The second import of the same XLSX counts every row as already imported and appends
    nothing; exit 0."""
    registry = households(tmp_path, household_row("H-0001"), household_row("H-0002"), name="h.xlsx")
    first = run("import", "households", str(registry), "--store", str(store))
    assert first.returncode == 0, first.stderr
    after_first = events(store)
    again = run("import", "households", str(registry), "--store", str(store))
    assert again.returncode == 0, again.stderr
    assert "h.xlsx: 2 rows: 0 imported, 2 already imported, 0 bad." in again.stdout
    assert events(store) == after_first


def test_a_dry_run_appends_nothing(store: Path, tmp_path: Path) -> None:
    """--dry-run checks every row against the books and says what it would import."""
    register = lots(tmp_path, lot_row("L-001"), lot_row("L-002"), name="l.csv")
    before = events(store)
    result = run("import", "lots", str(register), "--dry-run", "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert "dry run: 2 to import, 0 already imported, 0 bad." in result.stdout
    assert events(store) == before


def test_an_unknown_campaign_makes_every_row_bad(store: Path, tmp_path: Path) -> None:
    """--campaign names a campaign the books do not hold: each row says so, exit 1."""
    registry = households(tmp_path, household_row("H-0001"))
    result = run("import", "households", str(registry), "--campaign", "XX", "--store", str(store))
    assert result.returncode == 1
    assert "campaign XX does not exist" in result.stderr


def test_files_that_cannot_be_ledgers_are_usage_errors(store: Path, tmp_path: Path) -> None:
    """A missing file, a suffix other than .csv/.xlsx and a missing required column exit 2
    with the reason, and append nothing."""
    before = events(store)
    missing = run("import", "households", str(tmp_path / "none.csv"), "--store", str(store))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    text = tmp_path / "h.txt"
    text.write_text("户编号\n")
    suffix = run("import", "households", str(text), "--store", str(store))
    assert suffix.returncode == 2
    assert "not a .csv or .xlsx file" in suffix.stderr
    header = [name for name in HOUSEHOLD_HEADER if name != "困难类别"]
    headless = write_csv(tmp_path / "h.csv", header, [household_row("H-0001")])
    column = run("import", "households", str(headless), "--store", str(store))
    assert column.returncode == 2
    assert "missing column: 困难类别" in column.stderr
    assert events(store) == before


def test_a_missing_store_is_a_usage_error(tmp_path: Path) -> None:
    """Importing into a SQLite file that does not exist exits 2 and creates nothing."""
    registry = households(tmp_path, household_row("H-0001"))
    result = run("import", "households", str(registry), "--store", str(tmp_path / "no.db"))
    assert result.returncode == 2
    assert "no store at" in result.stderr
    assert not (tmp_path / "no.db").exists()


def test_the_guides_registry_imports_into_the_demo_campaign(
    demo_store: Path, tmp_path: Path
) -> None:
    """The registry example of docs/importing.md, under references the demo does not use,
    imports into a copy of the demo store for its campaign, then again changes nothing."""
    store = copy_store(demo_store, tmp_path)
    guide = (Path(__file__).parents[2] / "docs" / "importing.md").read_text(encoding="utf-8")
    registry = guide.split("```csv\n", 1)[1].split("```", 1)[0].replace("H-000", "H-IMPORT-")
    path = tmp_path / "台账.csv"
    path.write_text(registry, encoding="utf-8")
    first = run("import", "households", str(path), "--campaign", CAMPAIGN, "--store", str(store))
    assert first.returncode == 0, first.stderr
    assert "2 imported" in first.stdout
    after = events(store)
    again = run("import", "households", str(path), "--campaign", CAMPAIGN, "--store", str(store))
    assert again.returncode == 0, again.stderr
    assert "0 imported, 2 already imported, 0 bad." in again.stdout
    assert events(store) == after
