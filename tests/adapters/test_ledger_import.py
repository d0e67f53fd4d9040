"""Ledgers in spreadsheets become commands: columns by Chinese or English header, every bad
row reported with its row number and column, nothing appended from a file with errors,
re-importing a file changes nothing."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from tests.scenario import CAMPAIGN, open_campaign
from warmcase.app import Warmcase
from warmcase.domain import household, lot
from warmcase.domain.categories import CATEGORIES
from warmcase.domain.household import Heating, NewMember
from warmcase_adapters.ledger_import import (
    CATEGORY_SYNONYMS,
    HOUSEHOLD_COLUMNS,
    LOT_COLUMNS,
    UNIT_NAMES,
    Bad,
    ImportReport,
    LedgerFormatError,
    column_letter,
    field_for,
    import_households,
    import_lots,
    mask_number,
    parse_categories,
    parse_date,
    parse_flag,
    parse_level,
    parse_members,
    parse_whole,
    parse_yuan,
)

ID_HEAD = "350102195001011234"
ID_WIFE = "35010219520202002X"
ACTOR = "import:test"

HOUSEHOLD_HEADER = (
    "户编号",
    "区",
    "街道",
    "社区",
    "网格",
    "详细地址",
    "户主姓名",
    "户主身份证号",
    "联系电话",
    "家庭人口",
    "家庭成员",
    "困难类别",
    "困难等级",
    "调查日期",
)
ENGLISH_HEADER = (
    "ref",
    "district",
    "street",
    "community",
    "grid",
    "address_detail",
    "head_name",
    "head_id_number",
    "phone",
    "household_size",
    "members",
    "categories",
    "hardship_level",
    "surveyed_on",
)
LOT_HEADER = (
    "编号",
    "捐赠方",
    "物资名称",
    "类型",
    "单位",
    "数量",
    "金额(元)",
    "仓库",
    "接收日期",
    "状态",
)


def household_row(ref: str, **changes: object) -> dict[str, object]:
    """A good row of the registry, by Chinese header, with `changes` (by the same headers)."""
    row: dict[str, object] = {
        "户编号": ref,
        "区": "鼓楼区",
        "街道": "东街街道",
        "社区": "温泉社区",
        "网格": "G-03",
        "详细地址": "3号楼402室",
        "户主姓名": "王建国",
        "户主身份证号": ID_HEAD,
        "联系电话": "13800138000",
        "家庭人口": 2,
        "家庭成员": f"王芳(配偶,1952,{ID_WIFE})",
        "困难类别": "低保、独居老人",
        "困难等级": "一级",
        "调查日期": "2026-12-01",
    }
    row.update(changes)
    return row


def lot_row(ref: str, **changes: object) -> dict[str, object]:
    """A good row of the donation register (a received lot of quilts)."""
    row: dict[str, object] = {
        "编号": ref,
        "捐赠方": "鼓楼商会",
        "物资名称": "棉被",
        "类型": "物资",
        "单位": "床",
        "数量": 120,
        "金额(元)": "",
        "仓库": "鼓楼仓库",
        "接收日期": "2027-01-10",
        "状态": "已接收",
    }
    row.update(changes)
    return row


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Mapping[str, object]],
    *,
    encoding: str = "utf-8",
    above: Sequence[str] = (),
) -> Path:
    """A CSV file as a spreadsheet saves it, with optional title lines above the header."""
    with path.open("w", encoding=encoding, newline="") as file:
        writer = csv.writer(file)
        for line in above:
            writer.writerow([line])
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(name) is None else row.get(name) for name in header])
    return path


def write_xlsx(
    path: Path, header: Sequence[str], rows: Sequence[Mapping[str, object]], *, title: str = ""
) -> Path:
    """An XLSX file whose first sheet holds a title row (if any), the header and the rows."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title:
        sheet.append([title])
    sheet.append(list(header))
    for row in rows:
        sheet.append([row.get(name) for name in header])
    workbook.save(path)
    return path


def last_position(app: Warmcase) -> int:
    """The position of the last stored event (0 for none)."""
    return app.recorder.max_notification_id() or 0


def errors_of(report: ImportReport) -> list[tuple[int, str]]:
    """(row, column header) of each error; the column without its letter."""
    return [(error.row, error.column.split(" ", 1)[-1]) for error in report.errors]


# ---------------------------------------------------------------- good files


def test_a_registry_in_csv_registers_each_household_with_its_members(
    app: Warmcase, tmp_path: Path
) -> None:
    """Each row becomes register_household: address, head, members with relation, birth year
    and ID number, categories by Chinese name, level 一级, the survey date as effective time."""
    path = write_csv(
        tmp_path / "台账.csv",
        HOUSEHOLD_HEADER,
        [
            household_row("H-0001"),
            household_row("H-0002", 家庭人口=1, 家庭成员="", 户主身份证号=""),
        ],
    )
    report = import_households(app, path, actor=ACTOR)
    assert report.errors == ()
    assert report.imported == ("H-0001", "H-0002")
    assert last_position(app) == 2
    state = app.load(household.KIND, "H-0001")
    assert isinstance(state, household.Household)
    assert state.categories == {"minimum_allowance", "elderly_alone"}
    assert state.hardship_level == 1
    assert [(m.name.value, m.relation, m.birth_year) for m in state.members] == [
        ("王建国", "head", None),
        ("王芳", "配偶", 1952),
    ]
    assert state.members[1].id_number is not None
    assert state.members[1].id_number.value == ID_WIFE
    assert state.address.community == "温泉社区"
    trail = app.audit_trail("H-0001")
    assert trail.entries[0].actor == ACTOR
    assert trail.entries[0].effective_at.date() == date(2026, 12, 1)


def test_a_registry_with_english_headers_reads_the_same(app: Warmcase, tmp_path: Path) -> None:
    """English headers name the same columns as the Chinese ones."""
    chinese = household_row("H-0001")
    row = dict(zip(ENGLISH_HEADER, (chinese[name] for name in HOUSEHOLD_HEADER), strict=True))
    path = write_csv(tmp_path / "registry.csv", ENGLISH_HEADER, [row])
    report = import_households(app, path, actor=ACTOR)
    assert report.imported == ("H-0001",)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_in_utf8_with_or_without_bom_or_in_gb18030_reads_the_same(
    app: Warmcase, tmp_path: Path, encoding: str
) -> None:
    """Excel's 'CSV UTF-8' (with a BOM), plain UTF-8 and the Chinese code page all import,
    Chinese headers and values intact."""
    path = write_csv(
        tmp_path / "台账.csv", HOUSEHOLD_HEADER, [household_row("H-0001")], encoding=encoding
    )
    report = import_households(app, path, actor=ACTOR)
    assert report.imported == ("H-0001",)
    assert report.encoding == ("gb18030" if encoding.startswith("gb") else "utf-8-sig")
    state = app.load(household.KIND, "H-0001")
    assert state.head.name.value == "王建国"


def test_an_xlsx_registry_with_a_title_row_and_number_cells_imports(
    app: Warmcase, tmp_path: Path
) -> None:
    """The first sheet is read; a title row above the header is skipped; a phone, a size
    and a level typed as numbers, and a date cell, are read as such."""
    row = household_row("H-0001", 联系电话=13800138000, 家庭人口=2, 困难等级=1)
    row["调查日期"] = datetime(2026, 12, 1)  # noqa: DTZ001 - Excel date cells are naive
    path = write_xlsx(tmp_path / "台账.xlsx", HOUSEHOLD_HEADER, [row], title="东街街道困难群众台账")
    report = import_households(app, path, actor=ACTOR)
    assert report.errors == ()
    assert report.imported == ("H-0001",)
    assert report.encoding is None
    state = app.load(household.KIND, "H-0001")
    assert state.phone.value == "13800138000"


def test_heating_columns_give_the_heating_value(app: Warmcase, tmp_path: Path) -> None:
    """Four yes/no columns (通电, 通气, 集中供暖, 一氧化碳报警器) become the household's Heating."""
    header = (*HOUSEHOLD_HEADER, "通电", "通气", "集中供暖", "一氧化碳报警器")
    row = household_row("H-0001", 通电="是", 通气="否", 集中供暖="无", 一氧化碳报警器="有")
    report = import_households(app, write_csv(tmp_path / "h.csv", header, [row]), actor=ACTOR)
    assert report.imported == ("H-0001",)
    assert app.load(household.KIND, "H-0001").heating == Heating(
        electricity=True, gas=False, central_heating=False, co_alarm=True
    )


def test_a_donation_register_receives_goods_and_cash_and_records_pledges(
    app: Warmcase, tmp_path: Path
) -> None:
    """Goods in Chinese units, cash in yuan (kept in fen), and a pledge (认捐) without a
    warehouse; re-importing the register once the pledge arrived receives it."""
    rows = [
        lot_row("L-001"),
        lot_row(
            "L-002", 物资名称="善款", 类型="现金", 单位="元", 数量="", **{"金额(元)": "5,000.50"}
        ),
        lot_row("L-003", 物资名称="食用油", 单位="瓶", 数量=30, 仓库="", 状态="认捐"),
    ]
    path = write_csv(tmp_path / "捐赠登记簿.csv", LOT_HEADER, rows)
    report = import_lots(app, path, actor=ACTOR)
    assert report.errors == ()
    assert report.imported == ("L-001", "L-002", "L-003")
    quilts = app.load(lot.KIND, "L-001")
    assert (quilts.unit, quilts.received, quilts.warehouse) == ("piece", 120, "鼓楼仓库")
    cash = app.load(lot.KIND, "L-002")
    assert (cash.kind, cash.unit, cash.received) == ("cash", "yuan", 500_050)
    assert app.load(lot.KIND, "L-003").received_at is None

    rows[2] = lot_row("L-003", 物资名称="食用油", 单位="瓶", 数量=30, 仓库="东街仓库")
    again = import_lots(app, write_csv(path, LOT_HEADER, rows), actor=ACTOR)
    assert again.imported == ("L-003",)
    assert again.already_imported == ("L-001", "L-002")
    assert app.load(lot.KIND, "L-003").received == 30


# ---------------------------------------------------------------- bad rows


def test_every_bad_row_is_reported_and_nothing_is_appended(app: Warmcase, tmp_path: Path) -> None:
    """Each bad cell is an error of its row (as the spreadsheet numbers it, the header on
    row 2 under a title) and column; the good rows wait: nothing is appended."""
    rows = [
        household_row("H-0001"),
        household_row("H-0002", 困难类别="低保、穷", 困难等级=5),
        household_row("H-0003", 联系电话="1380", 详细地址=""),
        household_row("H-0004", 家庭人口=3),
    ]
    path = write_csv(tmp_path / "h.csv", HOUSEHOLD_HEADER, rows, above=["东街街道困难群众台账"])
    report = import_households(app, path, actor=ACTOR)
    assert errors_of(report) == [
        (4, "困难类别"),
        (4, "困难等级"),
        (5, "详细地址"),
        (5, "联系电话"),
        (6, "家庭人口"),
    ]
    assert report.stopped
    assert not report.appended
    assert report.imported == ()
    assert report.good == ("H-0001",)
    assert report.bad_rows == (4, 5, 6)
    assert last_position(app) == 0
    by_column = {error.column: error for error in report.errors}
    assert by_column["M 困难等级"].reason == "is not a hardship level"
    assert "一级" in by_column["M 困难等级"].accepted


def test_skip_bad_rows_imports_the_good_ones(app: Warmcase, tmp_path: Path) -> None:
    """With skip_bad_rows the good rows are appended and the bad ones still reported."""
    rows = [household_row("H-0001"), household_row("H-0002", 困难等级=5), household_row("H-0003")]
    path = write_csv(tmp_path / "h.csv", HOUSEHOLD_HEADER, rows)
    report = import_households(app, path, actor=ACTOR, skip_bad_rows=True)
    assert report.imported == ("H-0001", "H-0003")
    assert errors_of(report) == [(3, "困难等级")]
    assert not report.stopped
    assert last_position(app) == 2


def test_a_refusal_by_the_command_is_an_error_of_its_row(app: Warmcase, tmp_path: Path) -> None:
    """Rules the command itself checks (a survey dated in the future; the same ID number
    for two members) make their row bad, and the rest of the file waits."""
    rows = [
        household_row("H-0001"),
        household_row("H-0002", 调查日期="2027-02-01"),
        household_row("H-0003", 家庭成员=f"王芳(配偶,{ID_HEAD})"),
    ]
    report = import_households(
        app, write_csv(tmp_path / "h.csv", HOUSEHOLD_HEADER, rows), actor=ACTOR
    )
    assert [error.row for error in report.errors] == [3, 4]
    future, same_id = report.errors
    assert future.column == "N 调查日期"
    assert future.reason.startswith("EffectiveTimeRefused: ")
    assert same_id.column == ""
    assert "same ID number" in same_id.reason
    assert last_position(app) == 0


def test_repeated_references_in_a_file_are_errors_of_each_row(
    app: Warmcase, tmp_path: Path
) -> None:
    """Two rows with one reference: both are bad, each naming the other row."""
    rows = [household_row("H-0001"), household_row("H-0002"), household_row("H-0001")]
    report = import_households(
        app, write_csv(tmp_path / "h.csv", HOUSEHOLD_HEADER, rows), actor=ACTOR
    )
    assert [(e.row, e.reason) for e in report.errors] == [
        (2, "the same reference is on row 4"),
        (4, "the same reference is on row 2"),
    ]


def test_id_numbers_never_appear_in_full_in_a_report(app: Warmcase, tmp_path: Path) -> None:
    """A malformed ID, an ID stored by Excel as a number, and an ID in a member entry are
    reported masked; no error text holds the digits of any of them."""
    short = "35010219500101123"
    rows = [
        household_row("H-0001", 户主身份证号=short),
        household_row("H-0002", 户主身份证号=350102195001011234),
        household_row("H-0003", 家庭成员="王芳(配偶,3501021952020200)"),
    ]
    path = write_xlsx(tmp_path / "h.xlsx", HOUSEHOLD_HEADER, rows)
    report = import_households(app, path, actor=ACTOR)
    assert errors_of(report) == [(2, "户主身份证号"), (3, "户主身份证号"), (4, "家庭成员")]
    assert report.errors[0].value == mask_number(short)
    assert "Excel" in report.errors[1].reason
    text = repr(report)
    for digits in (short, "350102195001011234", "3501021952020200", "1950010112"):
        assert digits not in text


def test_a_campaign_column_checks_the_campaign_pays_the_household(
    app: Warmcase, tmp_path: Path
) -> None:
    """The campaign must exist and pay at least one of the household's categories."""
    open_campaign(app)
    header = (*HOUSEHOLD_HEADER, "活动编号")
    rows = [
        household_row("H-0001", 活动编号=CAMPAIGN),
        household_row("H-0002", 活动编号=CAMPAIGN, 困难类别="残疾人"),
        household_row("H-0003", 活动编号="SF-1999"),
    ]
    report = import_households(app, write_csv(tmp_path / "h.csv", header, rows), actor=ACTOR)
    assert errors_of(report) == [(3, "困难类别"), (4, "活动编号")]
    assert report.errors[0].reason == f"campaign {CAMPAIGN} pays none of disabled"
    assert report.errors[1].reason == "campaign SF-1999 does not exist"


def test_bad_lot_rows_name_their_columns(app: Warmcase, tmp_path: Path) -> None:
    """Unknown units (斤 would change the quantity), fractional goods, fen below one, a
    receipt without a warehouse and cash with an expiry date are each reported."""
    header = (*LOT_HEADER, "保质期至")
    rows = [
        lot_row("L-001", 单位="斤"),
        lot_row("L-002", 数量="12.5"),
        lot_row("L-003", 类型="现金", 单位="元", 数量="", **{"金额(元)": "10.005"}),
        lot_row("L-004", 仓库=""),
        lot_row("L-005", 类型="现金", 单位="元", 数量=100, 保质期至="2027-06-30"),
    ]
    report = import_lots(app, write_csv(tmp_path / "l.csv", header, rows), actor=ACTOR)
    assert errors_of(report) == [
        (2, "单位"),
        (3, "数量"),
        (4, "金额(元)"),
        (5, "仓库"),
        (6, "保质期至"),
    ]
    assert last_position(app) == 0


# ---------------------------------------------------------------- importing again


def test_importing_the_same_file_again_changes_nothing(app: Warmcase, tmp_path: Path) -> None:
    """Every row is already imported the second time: no event is appended."""
    path = write_csv(
        tmp_path / "h.csv", HOUSEHOLD_HEADER, [household_row("H-0001"), household_row("H-0002")]
    )
    import_households(app, path, actor=ACTOR)
    before = last_position(app)
    again = import_households(app, path, actor=ACTOR)
    assert again.already_imported == ("H-0001", "H-0002")
    assert again.imported == ()
    assert again.errors == ()
    assert last_position(app) == before


def test_a_reference_recorded_with_other_content_is_an_error_naming_the_fields(
    app: Warmcase, tmp_path: Path
) -> None:
    """After a change of phone recorded in the books, the old file's row differs: its error
    names the column and points to update_household; nothing is appended."""
    path = write_csv(tmp_path / "h.csv", HOUSEHOLD_HEADER, [household_row("H-0001")])
    import_households(app, path, actor=ACTOR)
    app.update_household("H-0001", reason="new phone", phone="13900000000", actor="li.wei")
    before = last_position(app)
    rows = [household_row("H-0001"), household_row("H-0002")]
    report = import_households(app, write_csv(path, HOUSEHOLD_HEADER, rows), actor=ACTOR)
    (error,) = report.errors
    assert (error.row, error.column) == (2, "I 联系电话")
    assert error.reason == "H-0001 already exists with different I 联系电话"
    assert "update_household" in error.accepted
    assert last_position(app) == before


def test_a_lot_moved_to_another_warehouse_is_still_already_imported(
    app: Warmcase, tmp_path: Path
) -> None:
    """A lot is compared with its receipt, so a later transfer does not make its row differ."""
    path = write_csv(tmp_path / "l.csv", LOT_HEADER, [lot_row("L-001")])
    import_lots(app, path, actor=ACTOR)
    app.transfer_lot("L-001", to_warehouse="东街仓库", actor="keeper")
    again = import_lots(app, path, actor=ACTOR)
    assert again.already_imported == ("L-001",)
    assert again.errors == ()


def test_a_dry_run_checks_everything_and_appends_nothing(app: Warmcase, tmp_path: Path) -> None:
    """A dry run reports what would be imported, then leaves the store as it was."""
    path = write_csv(tmp_path / "h.csv", HOUSEHOLD_HEADER, [household_row("H-0001")])
    report = import_households(app, path, actor=ACTOR, dry_run=True)
    assert report.good == ("H-0001",)
    assert report.imported == ()
    assert not report.stopped
    assert last_position(app) == 0
    assert app.load(household.KIND, "H-0001") is None


# ---------------------------------------------------------------- files that are not ledgers


def test_a_missing_required_column_is_refused_by_name(app: Warmcase, tmp_path: Path) -> None:
    """A header row without the phone column is a format error naming the column."""
    header = tuple(name for name in HOUSEHOLD_HEADER if name != "联系电话")
    path = write_csv(tmp_path / "h.csv", header, [household_row("H-0001")])
    with pytest.raises(
        LedgerFormatError, match="missing column: 联系电话 / 电话 / 手机 \\(phone\\)"
    ):
        import_households(app, path, actor=ACTOR)


def test_two_columns_meaning_the_same_field_are_refused(app: Warmcase, tmp_path: Path) -> None:
    """户主姓名 and head_name both present: which one counts is ambiguous."""
    header = (*HOUSEHOLD_HEADER, "head_name")
    path = write_csv(tmp_path / "h.csv", header, [household_row("H-0001")])
    with pytest.raises(LedgerFormatError, match="columns G 户主姓名 and O head_name both mean"):
        import_households(app, path, actor=ACTOR)


def test_files_that_are_not_ledgers_are_refused(app: Warmcase, tmp_path: Path) -> None:
    """Another suffix, bytes in no Chinese encoding, a file named .xlsx that is no workbook,
    and a file with no header row."""
    other = tmp_path / "h.txt"
    other.write_text("户编号\n")
    with pytest.raises(LedgerFormatError, match=r"\.csv or \.xlsx"):
        import_households(app, other, actor=ACTOR)
    binary = tmp_path / "h.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81\x30\xff")
    with pytest.raises(LedgerFormatError, match="neither UTF-8 nor GB18030"):
        import_households(app, binary, actor=ACTOR)
    not_a_workbook = tmp_path / "h.xlsx"
    not_a_workbook.write_bytes(b"\xd0\xcf\x11\xe0 an .xls renamed")
    with pytest.raises(LedgerFormatError, match="cannot be read as an Excel workbook"):
        import_households(app, not_a_workbook, actor=ACTOR)
    headless = tmp_path / "n.csv"
    headless.write_text("a,b\n1,2\n")
    with pytest.raises(LedgerFormatError, match="no header row"):
        import_households(app, headless, actor=ACTOR)


# ---------------------------------------------------------------- properties


def test_no_header_names_two_columns() -> None:
    """Within each ledger, every alias (as normalised) names exactly one column."""
    for columns in (HOUSEHOLD_COLUMNS, LOT_COLUMNS):
        for column in columns:
            for alias in column.aliases:
                assert field_for(alias, columns) == column.field


def _decorated(alias: str, data: st.DataObject) -> str:
    """`alias` as people type headers: spaces, case, full-width, a required mark, a unit."""
    text = alias.upper() if data.draw(st.booleans()) else alias
    if data.draw(st.booleans()):
        text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    text = (
        data.draw(st.sampled_from(["", " ", "  "])) + text + data.draw(st.sampled_from(["", " "]))
    )
    text += data.draw(st.sampled_from(["", "*", "＊", "(元)", "（件）", " (必填)"]))
    return text


@given(data=st.data())
def test_any_alias_however_typed_names_its_column(data: st.DataObject) -> None:
    """Case, surrounding spaces, full-width letters, a '*' required mark or a unit in
    brackets after an alias do not change the column it names."""
    columns = data.draw(st.sampled_from([HOUSEHOLD_COLUMNS, LOT_COLUMNS]))
    column = data.draw(st.sampled_from(columns))
    alias = data.draw(st.sampled_from(column.aliases))
    assert field_for(_decorated(alias, data), columns) == column.field


@given(fen=st.integers(1, 10**12))
def test_yuan_with_separators_and_signs_read_as_fen(fen: int) -> None:
    """An amount written 1,234.50, ¥1234.5 or 1234.50元 is the same number of fen."""
    yuan, cents = divmod(fen, 100)
    assert parse_yuan(f"{yuan:,}.{cents:02d}") == fen
    assert parse_yuan(f"¥{yuan}.{cents:02d}") == fen
    assert parse_yuan(f"{yuan}.{cents:02d}元") == fen
    if cents == 0:
        assert parse_yuan(yuan) == fen
        assert parse_yuan(float(yuan)) == fen


@given(amount=st.decimals(min_value=0, max_value=10**9, places=3))
def test_yuan_with_a_fraction_of_a_fen_is_refused(amount: object) -> None:
    """Three decimals of a yuan that are not whole fen, and zero, are not accepted."""
    text = f"{amount}"
    if (amount * 100) % 1 == 0 and amount > 0:  # type: ignore[operator]
        assert parse_yuan(text) == int(amount * 100)  # type: ignore[operator]
    else:
        with pytest.raises(Bad):
            parse_yuan(text)


@given(number=st.integers(0, 10**12), separators=st.booleans())
def test_whole_numbers_read_with_or_without_separators(number: int, separators: bool) -> None:
    """1200, "1,200", 1200.0 (as Excel stores numbers) are all 1200; 12.5 is refused."""
    assert parse_whole(f"{number:,}" if separators else str(number)) == number
    assert parse_whole(float(number) if number < 2**53 else number) == number
    with pytest.raises(Bad):
        parse_whole(f"{number}.5")


@given(day=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_dates_in_the_ways_offices_write_them(day: date) -> None:
    """2027-01-20, 2027/1/20, 2027.1.20, 2027年1月20日, 20270120 and a date cell are one date."""
    for text in (
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month}.{day.day}",
        f"{day.year}年{day.month}月{day.day}日",
        day.strftime("%Y%m%d") if day.year >= 1000 else day.isoformat(),
    ):
        assert parse_date(text) == day
    assert parse_date(datetime(day.year, day.month, day.day, 8)) == day  # noqa: DTZ001


LABELS = {code: label.split(" ", 1)[0] for code, label in CATEGORIES.items()}


@given(
    codes=st.sets(st.sampled_from(sorted(CATEGORIES)), min_size=1),
    data=st.data(),
)
def test_categories_by_code_or_chinese_name_with_any_separator(
    codes: set[str], data: st.DataObject
) -> None:
    """Any mix of codes and Chinese names, separated by 、 , ; / or spaces (full-width
    too), reads as the same set of categories."""
    names = [LABELS[code] if data.draw(st.booleans()) else code for code in sorted(codes)]
    separators = st.sampled_from(["、", ",", "，", ";", "；", "/", " ", " 、 "])
    text = names[0] + "".join(data.draw(separators) + name for name in names[1:])
    assert parse_categories(text) == codes


@given(level=st.sampled_from([1, 2, 3]), form=st.sampled_from(["{}", "{}级", "{}档", "{}.0"]))
def test_hardship_levels_in_digits_or_chinese(level: int, form: str) -> None:
    """1, "1级", "一级", "二档" ... read as levels 1 to 3; 0 and 4 are refused."""
    chinese = "一二三"[level - 1]
    if form != "{}.0":
        assert parse_level(form.format(chinese)) == level
    assert parse_level(form.format(level)) == level
    assert parse_level(float(level)) == level
    for wrong in (0, 4, "四级"):
        with pytest.raises(Bad):
            parse_level(wrong)


@given(flag=st.booleans(), form=st.integers(0, 5))
def test_yes_and_no_in_the_ways_forms_write_them(flag: bool, form: int) -> None:
    """是/否, 有/无, √/×, yes/no, Y/N, 1/0 read as True/False."""
    words = [("是", "否"), ("有", "无"), ("√", "×"), ("YES", "no"), ("y", "N"), ("1", "0")]
    assert parse_flag(words[form][0 if flag else 1]) is flag


names = st.text(alphabet="王李张刘陈杨黄赵吴周徐孙马朱胡芳明华英秀建国", min_size=1, max_size=4)
relations = st.sampled_from(["配偶", "子", "女", "孙子", "母亲", "spouse"])
members = st.lists(
    st.builds(
        NewMember,
        name=names,
        relation=relations,
        birth_year=st.none() | st.integers(1900, 2026),
        id_number=st.none() | st.from_regex(r"\A[1-6][0-9]{16}[0-9X]\Z", fullmatch=True),
    ),
    min_size=1,
    max_size=6,
)


@given(people=members, data=st.data())
def test_member_entries_read_back_as_written(people: list[NewMember], data: st.DataObject) -> None:
    """Entries name(relation, year, ID) in any order inside the brackets, separated by 、 or
    ; (full-width brackets and commas too), read back as the members written."""
    entries = []
    for person in people:
        details = [person.relation]
        if person.birth_year is not None:
            details.append(str(person.birth_year))
        if person.id_number is not None:
            details.append(person.id_number)
        details = data.draw(st.permutations(details))
        comma = data.draw(st.sampled_from([",", "，", " "]))
        opening, closing = data.draw(st.sampled_from([("(", ")"), ("（", "）")]))
        entries.append(f"{person.name}{opening}{comma.join(details)}{closing}")
    text = data.draw(st.sampled_from(["、", ";", "；", "\n"])).join(entries)
    assert parse_members(text) == tuple(people)


@given(number=st.from_regex(r"\A[0-9]{17}[0-9X]\Z", fullmatch=True))
def test_a_masked_id_number_shows_five_characters_at_most(number: str) -> None:
    """The first three and the last two characters are shown, the thirteen between are not."""
    masked = mask_number(number)
    assert masked == number[:3] + "*" * 13 + number[-2:]


@given(index=st.integers(0, 18_277))
def test_column_letters_are_the_spreadsheets(index: int) -> None:
    """0 is A, 25 Z, 26 AA, ..., the inverse of how spreadsheets number columns."""
    letters = column_letter(index)
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    assert number - 1 == index


GOOD_CELLS: dict[str, object] = household_row("H-0001")
BAD_CELLS: dict[str, list[object]] = {
    "户编号": ["H 0001", "x" * 65],
    "区": [" ", "区" * 201],
    "详细地址": ["", "路" * 501],
    "户主姓名": [""],
    "户主身份证号": ["12345", "35010219500101123Y", "3.50102E+17"],
    "联系电话": ["12", "phone", "138-"],
    "家庭人口": [0, "两", 5, "2.5"],
    "家庭成员": ["王芳(配偶)(子)", "王芳(配偶,母亲)", "王芳(1234567890123)"],
    "困难类别": ["穷", "低保、minimum", "-"],
    "困难等级": [0, 4, "高"],
    "调查日期": ["2026-13-01", "yesterday", "2026/02/30"],
}


@settings(max_examples=40)
@given(data=st.data())
def test_a_bad_cell_is_reported_at_its_row_and_column(
    app: Warmcase, tmp_path: Path, data: st.DataObject
) -> None:
    """In a file of good rows, one bad cell anywhere is reported at its row and column,
    with a reason, and stops the import."""
    count = data.draw(st.integers(1, 4))
    bad_index = data.draw(st.integers(0, count - 1))
    column = data.draw(st.sampled_from(sorted(BAD_CELLS)))
    value = data.draw(st.sampled_from(BAD_CELLS[column]))
    rows = [household_row(f"H-{index:04d}") for index in range(count)]
    rows[bad_index][column] = value
    suffix = data.draw(st.sampled_from([".csv", ".xlsx"]))
    write = write_csv if suffix == ".csv" else write_xlsx
    path = write(tmp_path / f"h{suffix}", HOUSEHOLD_HEADER, rows)
    report = import_households(app, path, actor=ACTOR)
    assert errors_of(report) == [(bad_index + 2, column)]
    assert report.errors[0].reason
    assert report.stopped
    assert last_position(app) == 0


def test_the_normalised_header_folds_full_width_forms() -> None:
    """Full-width brackets and letters fold to ASCII before headers are compared."""
    assert unicodedata.normalize("NFKC", "（元）") == "(元)"
    assert field_for("ＲＥＦ", HOUSEHOLD_COLUMNS) == "ref"
    assert field_for("金额（元）", LOT_COLUMNS) == "amount"


# ---------------------------------------------------------------- the guide

GUIDE = Path(__file__).parents[2] / "docs" / "importing.md"


def guide_blocks(language: str) -> list[str]:
    """The fenced blocks of docs/importing.md in `language`."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        if current is None and line == f"```{language}":
            current = []
        elif current is not None and line == "```":
            blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_the_guide_names_every_header_category_and_unit() -> None:
    """Each header alias, category code and synonym, and unit name the importer accepts is
    documented in docs/importing.md."""
    text = GUIDE.read_text(encoding="utf-8")
    names = [alias for column in (*HOUSEHOLD_COLUMNS, *LOT_COLUMNS) for alias in column.aliases]
    names += [*CATEGORIES, *CATEGORY_SYNONYMS, *LABELS.values()]
    names += [unit for unit in UNIT_NAMES if unit not in {"pieces", "pcs", "l", "liter", "rmb"}]
    assert [name for name in names if name not in text] == []


def test_the_guides_example_files_import_as_shown(app: Warmcase, tmp_path: Path) -> None:
    """The CSV examples of docs/importing.md import without an error: the registry's two
    households, then the register's three receipts and one pledge."""
    registry, register = guide_blocks("csv")
    (tmp_path / "台账.csv").write_text(registry, encoding="utf-8")
    (tmp_path / "捐赠登记簿.csv").write_text(register, encoding="utf-8")
    report = import_households(app, tmp_path / "台账.csv", actor=ACTOR)
    assert (report.errors, report.imported) == ((), ("H-0001", "H-0002"))
    report = import_lots(app, tmp_path / "捐赠登记簿.csv", actor=ACTOR)
    assert (report.errors, report.imported) == ((), ("L-001", "L-002", "L-003", "L-004"))
    assert app.load(lot.KIND, "L-004").received_at is None
