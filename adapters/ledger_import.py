"""Ledgers kept in spreadsheets become commands: the household registry and the donation register.

A street office keeps its registry of households (台账) and the receiving point its
donation register (捐赠登记簿) in Excel. :func:`import_households` and
:func:`import_lots` read such a file (CSV in UTF-8 or GB18030, or the first sheet
of an XLSX), map its columns by their English or Chinese headers, check every
row and turn each good one into the ordinary command (``register_household``,
``receive_lot`` or ``pledge_lot``), so personal values are sealed as usual.

Every bad row is reported with its row number as the spreadsheet shows it, the
column, the value (personal values masked), the reason and what would be
accepted. A refusal by the command itself is an error of its row too: the whole
file is rehearsed in one :meth:`~warmcase.service.base.ServiceBase.atomically`
batch, and nothing is appended from a file with errors unless ``skip_bad_rows``.
A row whose reference exists with the same content is "already imported", so
importing the same file again changes nothing. See ``docs/importing.md``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar
from zipfile import BadZipFile
from zoneinfo import ZoneInfo

import attrs

from warmcase.app import Warmcase
from warmcase.clock import DEFAULT_TIMEZONE
from warmcase.domain import campaign as campaign_
from warmcase.domain import checks, household, lot
from warmcase.domain.categories import CATEGORIES
from warmcase.domain.household import Heating, NewMember
from warmcase.errors import AlreadyExists, CommandRefused, EffectiveTimeRefused, InvalidCommand
from warmcase.refs import checked_ref

SUFFIXES = (".csv", ".xlsx")
HEADER_SEARCH_ROWS = 10
"""How many rows above the header may hold a title ("XX社区困难群众台账")."""

CSV_ENCODINGS = ("utf-8-sig", "gb18030")
"""UTF-8 (with or without the BOM Excel writes), then GB18030: Excel on Chinese Windows
saves "CSV" in the system code page, and GB18030 decodes GBK and GB2312 as well."""

ZONE = ZoneInfo(DEFAULT_TIMEZONE)
MEMBER_RELATION = "member"
"""The relation recorded for a member whose entry names none."""


class LedgerFormatError(ValueError):
    """The file cannot be read as a ledger at all: its suffix, encoding or header row."""


# ---------------------------------------------------------------- reading


@attrs.frozen
class Sheet:
    """The cells of a ledger file: its header row and the rows below it."""

    path: Path
    header_row: int
    """The header's row number as the spreadsheet shows it (1 for the first row)."""
    headers: tuple[str, ...]
    rows: tuple[tuple[int, tuple[object, ...]], ...]
    """(row number, values) of every row below the header that has a value."""
    encoding: str | None
    """The text encoding of a CSV file; None for XLSX."""


def read_rows(path: Path) -> tuple[list[tuple[int, tuple[object, ...]]], str | None]:
    """Every row of the file with its row number, and the encoding of a CSV file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_rows(path)
    if suffix == ".xlsx":
        return _xlsx_rows(path), None
    got = path.suffix or "a file without suffix"
    msg = f"{path.name}: a ledger is a .csv or .xlsx file, not {got}"
    raise LedgerFormatError(msg)


def _csv_rows(path: Path) -> tuple[list[tuple[int, tuple[object, ...]]], str]:
    data = path.read_bytes()
    for encoding in CSV_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        break
    else:
        msg = (
            f"{path.name} is neither UTF-8 nor GB18030 text: save it from Excel as "
            f"'CSV UTF-8', or as .xlsx"
        )
        raise LedgerFormatError(msg)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    # A record is one spreadsheet row even when a quoted cell spans several lines.
    return [(number, tuple(record)) for number, record in enumerate(reader, start=1)], encoding


def _delimiter(text: str) -> str:
    head = text.splitlines()[:HEADER_SEARCH_ROWS]
    counts = {sep: sum(line.count(sep) for line in head) for sep in (",", "\t", ";")}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def _xlsx_rows(path: Path) -> list[tuple[int, tuple[object, ...]]]:
    # Imported here: reading a CSV never loads openpyxl.
    from openpyxl import load_workbook  # noqa: PLC0415
    from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, OSError, KeyError, ValueError) as error:
        msg = (
            f"{path.name} cannot be read as an Excel workbook ({error}): save it from the "
            f"spreadsheet as .xlsx (Excel 2007 or later), or as CSV"
        )
        raise LedgerFormatError(msg) from error
    try:
        sheet = workbook.worksheets[0]
        # Read-only sheets yield every row from the first, empty ones included.
        return [
            (number, tuple(values))
            for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), 1)
        ]
    finally:
        workbook.close()


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ---------------------------------------------------------------- columns


def normalise_header(text: object) -> str:
    """A header as compared with the aliases: full-width folded, lower case, no spaces,
    underscores or hyphens, no required-mark '*' and no trailing '(unit)'."""
    folded = unicodedata.normalize("NFKC", str(text)).strip().lower()
    folded = folded.rstrip("*").strip()
    folded = re.sub(r"\([^()]*\)$", "", folded).strip()
    return re.sub(r"[\s_\-.]+", "", folded)


@attrs.frozen
class Column:
    """A field of a ledger: the headers that name it and what its cells accept."""

    field: str
    aliases: tuple[str, ...]
    """Chinese headers first, then English; compared after :func:`normalise_header`."""
    accepted: str
    required: bool = False
    personal: bool = False


@attrs.frozen
class Bad(Exception):
    """A cell's value is not accepted: why, and what would be."""

    reason: str
    accepted: str = ""


@attrs.frozen
class RowError:
    """One problem of one row, as the person who keeps the spreadsheet can find and fix it."""

    row: int
    column: str
    """The column's letter and header as written (``"C 户主姓名"``); "" for the whole row."""
    value: str
    """The cell's value, personal values masked; "" for the whole row."""
    reason: str
    accepted: str = ""


@attrs.frozen
class ImportReport:
    """What an import did, or (dry run, or stopped by bad rows) would have done."""

    ledger: str
    file: str
    rows: int
    """Rows with a value below the header."""
    good: tuple[str, ...]
    """References of the rows that are (or would be) imported, in file order."""
    already_imported: tuple[str, ...]
    errors: tuple[RowError, ...]
    appended: bool
    """Whether anything was appended to the store."""
    stopped: bool
    """Bad rows stopped the import (nothing appended, as ``skip_bad_rows`` was not given)."""
    dry_run: bool
    ignored_columns: tuple[str, ...]
    encoding: str | None

    @property
    def imported(self) -> tuple[str, ...]:
        """References whose commands were appended."""
        return self.good if self.appended else ()

    @property
    def bad_rows(self) -> tuple[int, ...]:
        """The numbers of the rows with an error, in order."""
        return tuple(sorted({error.row for error in self.errors}))


@attrs.frozen
class Cell:
    """A value of a row under a known column."""

    column: Column
    label: str
    """The column's letter and header as written."""
    value: object


@attrs.frozen
class Row:
    """A data row, its cells by field."""

    number: int
    cells: Mapping[str, Cell]

    def value(self, field: str) -> object:
        """The cell's value, None if the file has no such column or the cell is blank."""
        cell = self.cells.get(field)
        return None if cell is None or _blank(cell.value) else cell.value


P = TypeVar("P")


class RowErrors(Exception):
    """A row's errors, raised when a row cannot become a command."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} errors")
        self.errors = tuple(errors)


class Reader:
    """Parses the cells of one row, collecting every bad cell rather than the first."""

    def __init__(self, row: Row) -> None:
        self.row = row
        self.errors: list[RowError] = []

    def get(self, field: str, parse: Callable[[object], P], *, required: bool = False) -> P | None:
        """The parsed cell; None if blank (an error if `required`) or bad."""
        cell = self.row.cells.get(field)
        if cell is None or _blank(cell.value):
            if required and cell is not None:
                self.fail(field, "is empty", cell.column.accepted)
            return None
        try:
            return parse(cell.value)
        except Bad as bad:
            self.fail(field, bad.reason, bad.accepted or cell.column.accepted)
            return None

    def fail(self, field: str, reason: str, accepted: str = "") -> None:
        """Record an error of the cell under `field` (or of the row, if there is no such column)."""
        cell = self.row.cells.get(field)
        if cell is None:
            self.errors.append(RowError(self.row.number, "", "", reason, accepted))
            return
        self.errors.append(
            RowError(self.row.number, cell.label, shown(cell.column, cell.value), reason, accepted)
        )

    def done(self) -> None:
        """Raise the row's errors, if any."""
        if self.errors:
            raise RowErrors(self.errors)


# ---------------------------------------------------------------- masking


def mask_number(text: str) -> str:
    """An ID or phone number shown as its first three and last two characters only."""
    return text[:3] + "*" * (len(text) - 5) + text[-2:] if len(text) > 6 else "*" * len(text)


def mask_text(text: str) -> str:
    """A name or address shown as its first character and its length."""
    return f"{text[:1]}{'*' * (len(text) - 1)}" if len(text) <= 8 else f"{text[:1]}… ({len(text)})"


def shown(column: Column, value: object) -> str:
    """A cell's value for a report: personal values masked, long ones cut."""
    text = _as_text(value)
    if column.personal:
        if column.field in {"head_id_number", "phone"}:
            return mask_number(text)
        if column.field == "members":
            return f"[{len(_split_outside_brackets(text))} entries]"
        return mask_text(text)
    return text if len(text) <= 40 else text[:39] + "…"


# ---------------------------------------------------------------- cell parsers


def _as_text(value: object) -> str:
    """A cell as text: a whole number Excel stored as a float loses its '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def parse_text(max_length: int = 200) -> Callable[[object], str]:
    """A parser of non-blank text of at most `max_length` characters."""

    def parse(value: object) -> str:
        text = _as_text(value)
        if len(text) > max_length:
            raise Bad(f"is {len(text)} characters long", f"at most {max_length} characters")
        return text

    return parse


def parse_ref(kind: str) -> Callable[[object], str]:
    """A parser of a `kind` reference."""

    def parse(value: object) -> str:
        text = _as_text(value)
        try:
            return checked_ref(kind, text)
        except InvalidCommand:
            raise Bad(
                "is not a usable reference", "1 to 64 characters, no spaces, e.g. H-0001"
            ) from None

    return parse


def parse_whole(value: object) -> int:
    """A whole number: 12, 12.0 (as Excel stores it), "1,200"."""
    if isinstance(value, bool):
        raise Bad("is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = unicodedata.normalize("NFKC", _as_text(value)).replace(",", "")
    if re.fullmatch(r"[0-9]+(\.0+)?", text):
        return int(text.split(".", 1)[0])
    raise Bad("is not a whole number", "a whole number such as 12 or 1,200")


def parse_quantity(value: object) -> int:
    """A positive whole number of units, at most checks.MAX_QUANTITY."""
    number = parse_whole(value)
    if not 1 <= number <= checks.MAX_QUANTITY:
        raise Bad(f"is {number}", f"1 to {checks.MAX_QUANTITY:,}")
    return number


def parse_yuan(value: object) -> int:
    """An amount of money in yuan (at most two decimals), as integer fen: "5,000.50" -> 500050."""
    if isinstance(value, bool):
        raise Bad("is not an amount of money")
    text = unicodedata.normalize(
        "NFKC", _as_text(value) if not isinstance(value, float) else repr(value)
    )
    text = text.replace(",", "").replace("¥", "").removesuffix("元").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise Bad(
            "is not an amount of money", "yuan with at most two decimals, e.g. 5000 or 1,250.50"
        ) from None
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value():
        raise Bad(
            "is not an amount in yuan and fen", "yuan with at most two decimals, e.g. 1,250.50"
        )
    if not 1 <= fen <= checks.MAX_QUANTITY:
        raise Bad(f"is {text} yuan", f"0.01 to {checks.MAX_QUANTITY // 100:,} yuan")
    return int(fen)


_DATE_PATTERNS = (
    re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"),
    re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})"),
    re.compile(r"(\d{4})\.(\d{1,2})\.(\d{1,2})"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)
DATE_ACCEPTED = "a date such as 2027-01-20, 2027/1/20 or 2027年1月20日"


def parse_date(value: object) -> date:
    """A calendar date: an Excel date, 2027-01-20, 2027/1/20, 2027.1.20, 2027年1月20日, 20270120."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", _as_text(value))
    for pattern in _DATE_PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            try:
                return date(*(int(part) for part in found.groups()))
            except ValueError:
                break
    raise Bad("is not a date", DATE_ACCEPTED)


def parse_moment(value: object) -> datetime:
    """When it happened: a date means its start, a time without offset is Beijing time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ZONE)
    return datetime.combine(parse_date(value), time(), tzinfo=ZONE)


_TRUE = {"是", "有", "√", "✓", "✔", "y", "yes", "true", "1", "已安装", "已装"}
_FALSE = {"否", "无", "没有", "×", "✗", "✘", "n", "no", "false", "0", "未安装", "未装"}
FLAG_ACCEPTED = "是 / 否, 有 / 无, yes / no, 1 / 0"


def parse_flag(value: object) -> bool:
    """Yes or no: 是/否, 有/无, √/×, yes/no, y/n, true/false, 1/0."""
    if isinstance(value, bool):
        return value
    text = unicodedata.normalize("NFKC", _as_text(value)).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise Bad("is not yes or no", FLAG_ACCEPTED)


_LEVELS = {"1": 1, "2": 2, "3": 3, "一": 1, "二": 2, "三": 3}
LEVEL_ACCEPTED = "1, 2 or 3 (also 一级, 二级, 三级)"


def parse_level(value: object) -> int:
    """A hardship level: 1, 2, 3, "一级", "2级"."""
    text = unicodedata.normalize("NFKC", _as_text(value)).removesuffix("级").removesuffix("档")
    text = re.sub(r"\.0+$", "", text)
    if text in _LEVELS:
        return _LEVELS[text]
    raise Bad("is not a hardship level", LEVEL_ACCEPTED)


CATEGORY_SYNONYMS: dict[str, str] = {
    "低保户": "minimum_allowance",
    "低保对象": "minimum_allowance",
    "城乡低保": "minimum_allowance",
    "低保边缘户": "marginal",
    "边缘户": "marginal",
    "特困": "extreme_poverty",
    "特困人员": "extreme_poverty",
    "特困供养人员": "extreme_poverty",
    "孤儿": "child_in_difficulty",
    "困境儿童": "child_in_difficulty",
    "残疾人": "disabled",
    "困难残疾人家庭": "disabled",
    "空巢老人": "elderly_alone",
    "独居老人": "elderly_alone",
    "失能老人": "elderly_alone",
    "留守人员": "left_behind",
    "大病": "serious_illness",
    "重病": "serious_illness",
    "大重病患者": "serious_illness",
    "低收入": "low_income",
    "低收入户": "low_income",
    "优抚": "entitled_group",
    "重点优抚对象": "entitled_group",
    "困难职工家庭": "poor_employee",
    "失业特困": "unemployed",
    "受灾群众": "disaster_victim",
    "贫困学生家庭": "poor_student",
}


def category_names() -> dict[str, str]:
    """Every accepted spelling of a category (normalised) -> its code."""
    names = {code: code for code in CATEGORIES}
    for code, label in CATEGORIES.items():
        names[label.split(" ", 1)[0]] = code
    names.update(CATEGORY_SYNONYMS)
    return {unicodedata.normalize("NFKC", name).lower(): code for name, code in names.items()}


_CATEGORY_NAMES = category_names()
CATEGORY_ACCEPTED = (
    "names or codes separated by 、: "
    + "、".join(label.split(" ", 1)[0] for label in CATEGORIES.values())
    + " (codes in docs/importing.md)"
)


def parse_categories(value: object) -> frozenset[str]:
    """Hardship categories: codes or Chinese names, separated by 、 , ; / or spaces."""
    text = unicodedata.normalize("NFKC", _as_text(value)).lower()
    names = [name for name in re.split(r"[、,;/|\s]+", text) if name]
    unknown = [name for name in names if name not in _CATEGORY_NAMES]
    if unknown:
        raise Bad(f"names unknown categories {unknown}", CATEGORY_ACCEPTED)
    return frozenset(_CATEGORY_NAMES[name] for name in names)


def parse_id_number(value: object) -> str:
    """A resident ID number typed as text (Excel loses the last digits of a number cell)."""
    # A number cell, or its scientific form in a CSV that Excel saved (3.50102E+17).
    scientific = isinstance(value, str) and re.fullmatch(r"\d(\.\d+)?[eE]\+\d+", value.strip())
    if scientific or (isinstance(value, int | float) and not isinstance(value, bool)):
        raise Bad(
            "was stored by Excel as a number, which keeps only 15 digits",
            "the column formatted as Text and the 18 characters typed again",
        )
    try:
        return household.id_number(_as_text(value), "ID number")
    except InvalidCommand:
        raise Bad(
            "is not a resident ID number", "18 characters: 17 digits then a digit or X"
        ) from None


def parse_phone(value: object) -> str:
    """A phone number (a number cell is read as its digits)."""
    try:
        return checks.phone(_as_text(value), "phone")
    except InvalidCommand:
        raise Bad(
            "is not a phone number", "7 to 20 digits, e.g. 13800138000 or 0571-87654321"
        ) from None


def parse_birth_year(value: object) -> int:
    """A year of birth, 1900 or later (the command checks it is not in the future)."""
    if isinstance(value, datetime | date):
        return value.year
    year = parse_whole(value)
    if not 1900 <= year <= 2100:
        raise Bad(f"is {year}", "a year such as 1950")
    return year


MEMBERS_ACCEPTED = (
    "entries separated by 、 or ; each a name with (relation, birth year, ID number) "
    "in brackets, all optional: 王芳(配偶,1952)、王小明(孙子,2010,35010220100303002X)"
)


def _split_outside_brackets(text: str) -> list[str]:
    entries: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        if depth == 0 and char in "、,;\n|":
            entries.append(current)
            current = ""
        else:
            current += char
    entries.append(current)
    return [entry.strip() for entry in entries if entry.strip()]


def parse_members(value: object) -> tuple[NewMember, ...]:
    """The members other than the head: ``王芳(配偶,1952)、王小明(孙子,2010,<ID>)``."""
    text = unicodedata.normalize("NFKC", _as_text(value))
    members = []
    for number, entry in enumerate(_split_outside_brackets(text), start=1):
        found = re.fullmatch(r"([^()]+?)\s*(?:\(([^()]*)\))?", entry)
        if found is None:
            raise Bad(f"entry {number} is not a name with details in brackets", MEMBERS_ACCEPTED)
        name, details = found.group(1).strip(), found.group(2) or ""
        relation: str | None = None
        id_number: str | None = None
        birth_year: int | None = None
        for token in (t for t in re.split(r"[,、\s/]+", details) if t):
            if re.fullmatch(r"[0-9]{17}[0-9Xx]", token):
                id_number = token.upper()
            elif re.fullmatch(r"(19|20)[0-9]{2}年?", token):
                birth_year = int(token[:4])
            elif re.fullmatch(r"[0-9Xx]{10,}", token):
                raise Bad(
                    f"entry {number} has an ID number of {len(token)} characters",
                    "18 characters: 17 digits then a digit or X",
                )
            elif relation is None:
                relation = token
            else:
                raise Bad(f"entry {number} names two relations", MEMBERS_ACCEPTED)
        members.append(
            NewMember(
                name=name,
                relation=relation or MEMBER_RELATION,
                id_number=id_number,
                birth_year=birth_year,
            )
        )
    return tuple(members)


_KINDS = {"goods": "goods", "物资": "goods", "实物": "goods", "cash": "cash", "现金": "cash"}
_KINDS |= {"资金": "cash", "善款": "cash", "捐款": "cash", "款": "cash"}
KIND_ACCEPTED = "物资 / goods or 现金 / cash (also 实物, 资金, 善款, 捐款)"


def parse_kind(value: object) -> str:
    """Goods or cash."""
    text = unicodedata.normalize("NFKC", _as_text(value)).lower()
    if text in _KINDS:
        return _KINDS[text]
    raise Bad("is not a kind of donation", KIND_ACCEPTED)


UNIT_NAMES: dict[str, str] = {unit: unit for unit in lot.UNITS}
UNIT_NAMES |= {"pieces": "piece", "pcs": "piece", "件": "piece", "个": "piece", "台": "piece"}
UNIT_NAMES |= {"床": "piece", "条": "piece", "只": "piece", "顶": "piece", "把": "piece"}
UNIT_NAMES |= {"双": "pair", "套": "set", "袋": "bag", "包": "bag", "箱": "box", "盒": "box"}
UNIT_NAMES |= {"瓶": "bottle", "公斤": "kg", "千克": "kg", "升": "litre", "l": "litre"}
UNIT_NAMES |= {"liter": "litre", "元": "yuan", "人民币": "yuan", "rmb": "yuan"}
UNIT_ACCEPTED = (
    "piece (件 个 台 床 条 只), pair (双), set (套), bag (袋 包), box (箱 盒), "
    "bottle (瓶), kg (公斤 千克), litre (升), yuan (元)"
)


def parse_unit(value: object) -> str:
    """A unit of the donation register, in English or Chinese."""
    text = unicodedata.normalize("NFKC", _as_text(value)).lower()
    if text in UNIT_NAMES:
        return UNIT_NAMES[text]
    raise Bad("is not a unit the books keep", UNIT_ACCEPTED)


_STATUSES = {"received": "received", "已接收": "received", "接收": "received"}
_STATUSES |= {"已入库": "received", "入库": "received", "已到账": "received", "到账": "received"}
_STATUSES |= {"pledged": "pledged", "认捐": "pledged", "已认捐": "pledged", "未到": "pledged"}
STATUS_ACCEPTED = "已接收 / received (also 已入库, 已到账) or 认捐 / pledged (also 已认捐, 未到)"


def parse_status(value: object) -> str:
    """Whether the lot arrived or is only pledged."""
    text = unicodedata.normalize("NFKC", _as_text(value)).lower()
    if text in _STATUSES:
        return _STATUSES[text]
    raise Bad("is not a status", STATUS_ACCEPTED)


# ---------------------------------------------------------------- ledgers


@attrs.frozen
class Verdict:
    """What a row's command would do to the store as it is."""

    already: bool = False
    """The same content is already recorded: skip, count as already imported."""
    differences: tuple[str, ...] = ()
    """Fields that differ from what is recorded: an error of the row."""
    problem: str | None = None
    """Another reason the row cannot be imported (e.g. the record was erased)."""
    advice: str = ""


SEND = Verdict()


class Ledger(ABC, Generic[P]):
    """One kind of ledger: its columns, how a row becomes a command, how it compares."""

    name: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    date_field: ClassVar[str]
    """The column giving the command's effective time."""

    def check_headers(self, fields: set[str]) -> None:
        """Refuse a header row that cannot give what every row needs."""

    @abstractmethod
    def plan(self, row: Row) -> P:
        """The command's arguments for `row`; raises RowErrors."""

    @abstractmethod
    def ref(self, plan: P) -> str:
        """The reference `plan` acts on."""

    @abstractmethod
    def compare(self, app: Warmcase, plan: P, row: Row) -> Verdict:
        """What `plan` would do given what the store holds under its reference."""

    @abstractmethod
    def send(self, app: Warmcase, plan: P, actor: str) -> None:
        """Run the command of `plan`."""

    def field_of(self, refusal: CommandRefused) -> str | None:
        """The column a command's refusal is about, where its type tells."""
        if isinstance(refusal, EffectiveTimeRefused):
            return self.date_field
        if isinstance(refusal, AlreadyExists):
            return "ref"
        return None


@attrs.frozen
class HouseholdPlan:
    """A household row as ``register_household`` takes it."""

    ref: str
    arguments: Mapping[str, Any]
    effective_at: datetime | None


HOUSEHOLD_COLUMNS = (
    Column(
        "ref",
        ("户编号", "家庭编号", "户号", "编号", "ref", "household", "household_ref"),
        "a reference such as H-0001, one row per household",
        required=True,
    ),
    Column(
        "district",
        ("区", "区县", "县区", "所属区县", "district"),
        "the district's name",
        required=True,
    ),
    Column(
        "street",
        ("街道", "乡镇", "街道/乡镇", "街道乡镇", "所属街道", "street"),
        "the street office's or township's name",
        required=True,
    ),
    Column(
        "community",
        ("社区", "村", "社区/村", "社区村", "村社区", "所属社区", "community"),
        "the community's or village's name",
        required=True,
    ),
    Column(
        "grid", ("网格", "网格号", "所属网格", "grid"), "the grid's name or number", required=True
    ),
    Column(
        "address_detail",
        ("详细地址", "家庭住址", "住址", "地址", "门牌号", "address", "address_detail"),
        "building and door, at most 500 characters",
        required=True,
        personal=True,
    ),
    Column(
        "head_name",
        ("户主姓名", "户主", "姓名", "head_name", "head", "name"),
        "the head of household's name",
        required=True,
        personal=True,
    ),
    Column(
        "head_id_number",
        (
            "户主身份证号",
            "户主身份证号码",
            "身份证号",
            "身份证号码",
            "公民身份号码",
            "head_id_number",
            "id_number",
        ),
        "18 characters: 17 digits then a digit or X, in a Text column",
        personal=True,
    ),
    Column(
        "head_birth_year",
        ("户主出生年份", "出生年份", "head_birth_year", "birth_year"),
        "a year such as 1950",
    ),
    Column(
        "phone",
        ("联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "phone"),
        "7 to 20 digits, e.g. 13800138000 or 0571-87654321",
        required=True,
        personal=True,
    ),
    Column(
        "household_size",
        ("家庭人口", "家庭人口数", "户人口数", "人口", "人数", "household_size", "size"),
        "the number of persons, the head included",
    ),
    Column("members", ("家庭成员", "其他成员", "成员", "members"), MEMBERS_ACCEPTED, personal=True),
    Column(
        "categories",
        ("困难类别", "救助类别", "困难类型", "人员类别", "类别", "categories", "category"),
        CATEGORY_ACCEPTED,
        required=True,
    ),
    Column(
        "hardship_level",
        ("困难等级", "困难程度", "等级", "hardship_level", "level"),
        LEVEL_ACCEPTED,
        required=True,
    ),
    Column("electricity", ("通电", "是否通电", "用电", "electricity"), FLAG_ACCEPTED),
    Column("gas", ("通气", "是否通气", "燃气", "gas"), FLAG_ACCEPTED),
    Column("central_heating", ("集中供暖", "供暖", "暖气", "central_heating"), FLAG_ACCEPTED),
    Column("co_alarm", ("一氧化碳报警器", "煤气报警器", "报警器", "co_alarm"), FLAG_ACCEPTED),
    Column(
        "campaign",
        ("活动", "活动编号", "慰问活动", "campaign"),
        "the reference of an open campaign",
    ),
    Column(
        "surveyed_on",
        ("调查日期", "摸底日期", "登记日期", "日期", "surveyed_on", "date"),
        DATE_ACCEPTED,
    ),
)
HEATING_FIELDS = ("electricity", "gas", "central_heating", "co_alarm")


class Households(Ledger[HouseholdPlan]):
    """The registry of households (台账): one row per household, ``register_household``."""

    name = "households"
    columns = HOUSEHOLD_COLUMNS
    date_field = "surveyed_on"

    def __init__(self, app: Warmcase, campaign: str | None = None) -> None:
        self.campaign = campaign
        self._campaigns: dict[str, campaign_.Campaign | None] = {}
        self._app = app

    def check_headers(self, fields: set[str]) -> None:
        """Heating is all four columns or none (the Heating value needs each flag)."""
        present = [field for field in HEATING_FIELDS if field in fields]
        if present and len(present) < len(HEATING_FIELDS):
            missing = [
                _column(self.columns, field).aliases[0]
                for field in HEATING_FIELDS
                if field not in fields
            ]
            msg = (
                f"heating takes four columns or none: missing {', '.join(missing)} "
                f"(通电, 通气, 集中供暖, 一氧化碳报警器: 是 / 否)"
            )
            raise LedgerFormatError(msg)

    def plan(self, row: Row) -> HouseholdPlan:
        """``register_household``'s arguments; every bad cell of the row is reported."""
        read = Reader(row)
        ref = read.get("ref", parse_ref("household"), required=True)
        text = parse_text()
        fields = {
            field: read.get(field, text, required=True)
            for field in ("district", "street", "community", "grid", "head_name")
        }
        fields["address_detail"] = read.get("address_detail", parse_text(500), required=True)
        id_number = read.get("head_id_number", parse_id_number)
        birth_year = read.get("head_birth_year", parse_birth_year)
        phone = read.get("phone", parse_phone, required=True)
        listed = read.get("members", parse_members)
        members = listed or ()
        size = read.get("household_size", parse_quantity)
        unreadable = listed is None and read.row.value("members") is not None
        if size is not None and not unreadable and size != 1 + len(members):
            read.fail(
                "household_size",
                f"says {size} persons but the head and the members listed are {1 + len(members)}",
                "list every member other than the head in the 家庭成员 / members column",
            )
        categories = read.get("categories", parse_categories, required=True)
        level = read.get("hardship_level", parse_level, required=True)
        heating = self._heating(read)
        surveyed = read.get("surveyed_on", parse_moment)
        campaign = read.get("campaign", parse_ref("campaign")) or self.campaign
        if campaign is not None and categories:
            self._check_campaign(read, campaign, categories)
        read.done()
        assert ref is not None
        return HouseholdPlan(
            ref=ref,
            arguments={
                **fields,
                "head_id_number": id_number,
                "head_birth_year": birth_year,
                "phone": phone,
                "members": members,
                "categories": sorted(categories or ()),
                "hardship_level": level,
                "heating": heating,
            },
            effective_at=surveyed,
        )

    def _heating(self, read: Reader) -> Heating | None:
        flags = {field: read.get(field, parse_flag) for field in HEATING_FIELDS}
        given = [field for field, flag in flags.items() if flag is not None]
        if not given:
            return None
        if len(given) < len(HEATING_FIELDS):
            for field in HEATING_FIELDS:
                if flags[field] is None and not read.row.value(field):
                    read.fail(field, "is empty while other heating cells are filled", FLAG_ACCEPTED)
            return None
        return Heating(**{field: bool(flag) for field, flag in flags.items()})

    def _check_campaign(self, read: Reader, ref: str, categories: frozenset[str]) -> None:
        if ref not in self._campaigns:
            self._campaigns[ref] = self._app.load(campaign_.KIND, ref)
        running = self._campaigns[ref]
        field = "campaign" if "campaign" in read.row.cells else "categories"
        if running is None:
            read.fail(
                field, f"campaign {ref} does not exist", "the reference of an opened campaign"
            )
            return
        paid = sorted(standard.category for standard in running.standards)
        if not any(running.standard_for(category) for category in categories):
            read.fail(
                "categories",
                f"campaign {ref} pays none of {', '.join(sorted(categories))}",
                f"a category campaign {ref} pays: {', '.join(paid)}",
            )

    def ref(self, plan: HouseholdPlan) -> str:
        """The household's reference."""
        return plan.ref

    def compare(self, app: Warmcase, plan: HouseholdPlan, row: Row) -> Verdict:
        """Same survey already registered, a different one, or none."""
        existing = app.load(household.KIND, plan.ref)
        if existing is None:
            return SEND
        assert isinstance(existing, household.Household)
        if existing.erased:
            return Verdict(
                problem=f"household {plan.ref}'s personal data was erased",
                advice="remove the row from the ledger: it must not come back",
            )
        args = plan.arguments
        digest = app.keyring.id_digest

        def person(
            name: str, relation: str, id_number: str | None, year: int | None
        ) -> tuple[Any, ...]:
            return (name, relation, None if id_number is None else digest(id_number), year)

        members = existing.members
        address = existing.address
        recorded = {
            "district": address.district,
            "street": address.street,
            "community": address.community,
            "grid": address.grid,
            "address_detail": address.detail.value,
            "head_name": existing.head.name.value,
            "head_id_number": existing.head.id_digest,
            "head_birth_year": existing.head.birth_year,
            "phone": existing.phone.value,
            "members": [
                (m.name.value, m.relation, m.id_digest, m.birth_year)
                for m in members
                if not m.is_head
            ],
            "categories": sorted(existing.categories),
            "hardship_level": existing.hardship_level,
            "heating": existing.heating,
        }
        given = {
            **{key: args[key] for key in recorded if key not in {"head_id_number", "members"}},
            "head_id_number": None
            if args["head_id_number"] is None
            else digest(args["head_id_number"]),
            "members": [
                person(m.name, m.relation, m.id_number, m.birth_year) for m in args["members"]
            ],
        }
        differences = tuple(
            _label(row, self.columns, field)
            for field in recorded
            if recorded[field] != given[field]
        )
        if not differences:
            return Verdict(already=True)
        return Verdict(
            differences=differences,
            advice=(
                f"the file is not what household {plan.ref} records now: change it with "
                f"update_household (which keeps the history), or correct the file"
            ),
        )

    def send(self, app: Warmcase, plan: HouseholdPlan, actor: str) -> None:
        """``register_household``."""
        app.register_household(
            plan.ref, **plan.arguments, actor=actor, effective_at=plan.effective_at
        )


@attrs.frozen
class LotPlan:
    """A donation row as ``receive_lot`` or ``pledge_lot`` takes it."""

    ref: str
    status: str
    donor: str
    item: str
    unit: str
    kind: str
    quantity: int
    """Units, or fen for cash."""
    warehouse: str | None
    expires_on: date | None
    effective_at: datetime | None


LOT_COLUMNS = (
    Column(
        "ref",
        ("批次编号", "捐赠编号", "登记编号", "物资编号", "编号", "ref", "lot", "lot_ref"),
        "a reference such as L-2027-031, one row per lot",
        required=True,
    ),
    Column(
        "donor",
        ("捐赠方", "捐赠单位", "捐赠人", "捐赠单位/个人", "捐赠者", "donor"),
        "who gave it",
        required=True,
    ),
    Column(
        "item", ("物资名称", "品名", "名称", "物品", "物资", "item"), "what it is", required=True
    ),
    Column("kind", ("类型", "捐赠类型", "种类", "kind"), KIND_ACCEPTED),
    Column("unit", ("单位", "计量单位", "unit"), UNIT_ACCEPTED),
    Column("quantity", ("数量", "quantity"), "a whole number of units (yuan for cash)"),
    Column(
        "amount",
        ("金额", "捐款金额", "amount", "amount_yuan"),
        "yuan with at most two decimals, for cash rows",
    ),
    Column(
        "warehouse",
        ("仓库", "入库仓库", "存放仓库", "库房", "存放地点", "warehouse"),
        "the warehouse that holds it",
    ),
    Column(
        "expires_on", ("保质期至", "有效期至", "保质期", "到期日期", "expires_on"), DATE_ACCEPTED
    ),
    Column(
        "received_on",
        ("接收日期", "入库日期", "捐赠日期", "日期", "received_on", "date"),
        DATE_ACCEPTED,
    ),
    Column("status", ("状态", "status"), STATUS_ACCEPTED),
)


class Lots(Ledger[LotPlan]):
    """The donation register (捐赠登记簿): one row per lot, ``receive_lot`` or ``pledge_lot``."""

    name = "lots"
    columns = LOT_COLUMNS
    date_field = "received_on"

    def check_headers(self, fields: set[str]) -> None:
        """A quantity or an amount column; a warehouse column unless a status says pledges."""
        if not fields & {"quantity", "amount"}:
            msg = (
                "no quantity column: give 数量 / quantity (units, or yuan for cash) "
                "or 金额 / amount"
            )
            raise LedgerFormatError(msg)
        if "warehouse" not in fields and "status" not in fields:
            msg = (
                "no warehouse column (仓库 / warehouse): every row is a receipt unless a "
                "状态 / status column says 认捐 / pledged"
            )
            raise LedgerFormatError(msg)

    def plan(self, row: Row) -> LotPlan:
        """``receive_lot``'s or ``pledge_lot``'s arguments; every bad cell is reported."""
        read = Reader(row)
        ref = read.get("ref", parse_ref("lot"), required=True)
        donor = read.get("donor", parse_text(), required=True)
        item = read.get("item", parse_text(100), required=True)
        status = read.get("status", parse_status) or "received"
        unit = read.get("unit", parse_unit)
        kind = read.get("kind", parse_kind) or ("cash" if unit == "yuan" else "goods")
        if kind == "cash":
            unit = unit or "yuan"
            quantity = self._cash(read)
        else:
            quantity = read.get("quantity", parse_quantity, required=True)
            if unit is None and not read.row.value("unit"):
                read.fail("unit", "is empty", UNIT_ACCEPTED)
        if unit is not None and (kind == "cash") != (unit == "yuan"):
            read.fail(
                "unit", f"is {unit} for {kind}", "yuan (元) for cash, a unit of goods otherwise"
            )
        warehouse = read.get("warehouse", parse_text(), required=status == "received")
        if status == "received" and "warehouse" not in row.cells:
            read.fail("warehouse", "a received lot needs a warehouse", "a 仓库 / warehouse column")
        expires_on = read.get("expires_on", parse_date)
        if expires_on is not None and (kind == "cash" or status == "pledged"):
            read.fail(
                "expires_on",
                "cash does not expire" if kind == "cash" else "a pledge has no expiry date yet",
                "no date here; give it for food when the lot is received",
            )
        received = read.get("received_on", parse_moment)
        read.done()
        assert ref is not None
        assert donor is not None
        assert item is not None
        assert quantity is not None
        assert unit is not None
        return LotPlan(
            ref=ref,
            status=status,
            donor=donor,
            item=item,
            unit=unit,
            kind=kind,
            quantity=quantity,
            warehouse=warehouse if status == "received" else None,
            expires_on=expires_on,
            effective_at=received,
        )

    def _cash(self, read: Reader) -> int | None:
        amount = read.get("amount", parse_yuan)
        in_quantity = read.get("quantity", parse_yuan)
        if amount is None and in_quantity is None:
            if not read.row.value("amount") and not read.row.value("quantity"):
                read.fail(
                    "amount" if "amount" in read.row.cells else "quantity",
                    "is empty",
                    "the amount in yuan, e.g. 5000 or 1,250.50",
                )
            return None
        if amount is not None and in_quantity is not None and amount != in_quantity:
            read.fail(
                "quantity",
                "differs from the amount of the same cash row",
                "the same amount, or one of them",
            )
        return amount if amount is not None else in_quantity

    def ref(self, plan: LotPlan) -> str:
        """The lot's reference."""
        return plan.ref

    def compare(self, app: Warmcase, plan: LotPlan, row: Row) -> Verdict:
        """Same receipt (or pledge) already recorded, a different one, or a pledge to receive."""
        existing = app.load(lot.KIND, plan.ref)
        if existing is None:
            return SEND
        assert isinstance(existing, lot.DonationLot)
        if plan.status == "received" and existing.received_at is None:
            return SEND  # a pledged lot arrives: receive_lot checks it arrives as pledged
        recorded: dict[str, object] = {
            "donor": existing.donor,
            "item": existing.item,
            "unit": existing.unit,
            "kind": existing.kind,
        }
        given: dict[str, object] = {
            "donor": plan.donor,
            "item": plan.item,
            "unit": plan.unit,
            "kind": plan.kind,
        }
        quantity = (
            "amount" if plan.kind == "cash" and row.value("amount") is not None else "quantity"
        )
        if plan.status == "received":
            recorded |= {
                quantity: existing.received,
                # Where it was received: a later transfer does not make the row differ.
                "warehouse": existing.warehouses[0][1] if existing.warehouses else None,
                "expires_on": existing.expires_on,
            }
            given |= {
                quantity: plan.quantity,
                "warehouse": plan.warehouse,
                "expires_on": plan.expires_on,
            }
        else:
            recorded |= {
                quantity: existing.pledged,
                "status": "pledged" if existing.pledged else "received",
            }
            given |= {quantity: plan.quantity, "status": "pledged"}
        differences = tuple(
            _label(row, self.columns, field)
            for field in recorded
            if recorded[field] != given[field]
        )
        if not differences:
            return Verdict(already=True)
        return Verdict(
            differences=differences,
            advice=(
                f"the file is not what lot {plan.ref} records now: record a correction with "
                f"the lot's commands (count, write-off, return), or correct the file"
            ),
        )

    def send(self, app: Warmcase, plan: LotPlan, actor: str) -> None:
        """``receive_lot``, or ``pledge_lot`` for a pledge."""
        if plan.status == "pledged":
            app.pledge_lot(
                plan.ref,
                donor=plan.donor,
                item=plan.item,
                unit=plan.unit,
                quantity=plan.quantity,
                kind=plan.kind,
                actor=actor,
                effective_at=plan.effective_at,
            )
            return
        assert plan.warehouse is not None
        app.receive_lot(
            plan.ref,
            donor=plan.donor,
            item=plan.item,
            unit=plan.unit,
            quantity=plan.quantity,
            warehouse=plan.warehouse,
            kind=plan.kind,
            expires_on=plan.expires_on,
            actor=actor,
            effective_at=plan.effective_at,
        )


def _column(columns: Iterable[Column], field: str) -> Column:
    return next(column for column in columns if column.field == field)


def _label(row: Row, columns: Iterable[Column], field: str) -> str:
    cell = row.cells.get(field)
    return cell.label if cell is not None else _column(columns, field).aliases[0]


# ---------------------------------------------------------------- headers


def column_letter(index: int) -> str:
    """The spreadsheet letter of the 0-based column `index`: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def field_for(header: object, columns: Iterable[Column]) -> str | None:
    """The field a header names, or None."""
    wanted = normalise_header(header)
    for column in columns:
        if wanted in {normalise_header(alias) for alias in column.aliases}:
            return column.field
    return None


def find_header(rows: Sequence[tuple[int, tuple[object, ...]]], columns: Sequence[Column]) -> int:
    """The index in `rows` of the header: the first of the top rows naming the reference column."""
    for index, (_, values) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if any(field_for(value, columns) == "ref" for value in values if not _blank(value)):
            return index
    ref = _column(columns, "ref")
    msg = (
        f"no header row: none of the first {HEADER_SEARCH_ROWS} rows names the reference "
        f"column ({' / '.join(ref.aliases)})"
    )
    raise LedgerFormatError(msg)


def map_headers(
    headers: Sequence[object], ledger: Ledger[Any]
) -> tuple[dict[str, tuple[int, str]], tuple[str, ...]]:
    """Each field's column (index, label) and the headers no field takes; refuses a
    missing required column or two columns meaning the same field."""
    found: dict[str, tuple[int, str]] = {}
    ignored: list[str] = []
    for index, header in enumerate(headers):
        if _blank(header):
            continue
        label = f"{column_letter(index)} {_as_text(header)}"
        field = field_for(header, ledger.columns)
        if field is None:
            ignored.append(label)
        elif field in found:
            msg = f"columns {found[field][1]} and {label} both mean {field}: keep one"
            raise LedgerFormatError(msg)
        else:
            found[field] = (index, label)
    missing = [column for column in ledger.columns if column.required and column.field not in found]
    if missing:
        named = "; ".join(
            f"{' / '.join(column.aliases[:3])} ({column.field})" for column in missing
        )
        msg = f"missing column{'s' if len(missing) > 1 else ''}: {named}"
        raise LedgerFormatError(msg)
    ledger.check_headers(set(found))
    return found, tuple(ignored)


def read_sheet(
    path: Path, ledger: Ledger[Any]
) -> tuple[Sheet, dict[str, tuple[int, str]], tuple[str, ...]]:
    """The file's header and rows, and where each field is."""
    if not path.is_file():
        msg = f"no file at {path}"
        raise LedgerFormatError(msg)
    rows, encoding = read_rows(path)
    header_index = find_header(rows, ledger.columns)
    header_row, headers = rows[header_index]
    found, ignored = map_headers(headers, ledger)
    data = tuple(
        (number, values)
        for number, values in rows[header_index + 1 :]
        if not all(_blank(value) for value in values)
    )
    sheet = Sheet(
        path,
        header_row,
        tuple(_as_text(h) if not _blank(h) else "" for h in headers),
        data,
        encoding,
    )
    return sheet, found, ignored


# ---------------------------------------------------------------- the whole file


class _Rehearsed(Exception):
    def __init__(self, outcome: _Outcome) -> None:
        super().__init__("rehearsed")
        self.outcome = outcome


@attrs.frozen
class _Outcome:
    good: tuple[str, ...]
    already: tuple[str, ...]
    errors: tuple[RowError, ...]


def import_households(
    app: Warmcase,
    path: Path,
    *,
    actor: str,
    campaign: str | None = None,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Register every household of the registry file at `path` (see docs/importing.md).

    `campaign` (or a campaign column) checks that the campaign exists and pays one of
    each household's categories; enrolment stays a step of its own, after
    verification and public posting.
    """
    return import_ledger(
        app,
        path,
        Households(app, campaign),
        actor=actor,
        skip_bad_rows=skip_bad_rows,
        dry_run=dry_run,
    )


def import_lots(
    app: Warmcase, path: Path, *, actor: str, skip_bad_rows: bool = False, dry_run: bool = False
) -> ImportReport:
    """Receive (or record the pledge of) every lot of the donation register at `path`."""
    return import_ledger(
        app, path, Lots(), actor=actor, skip_bad_rows=skip_bad_rows, dry_run=dry_run
    )


def import_ledger(
    app: Warmcase,
    path: Path,
    ledger: Ledger[P],
    *,
    actor: str,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Read, check and rehearse the whole file, then append its good rows in one write.

    Raises LedgerFormatError when the file cannot be read as this ledger at all.
    """
    checks.text(actor, "actor")
    sheet, found, ignored = read_sheet(path, ledger)
    columns = {column.field: column for column in ledger.columns}
    rows = [
        Row(
            number,
            {
                field: Cell(columns[field], label, values[index] if index < len(values) else None)
                for field, (index, label) in found.items()
            },
        )
        for number, values in sheet.rows
    ]
    errors = _repeated_refs(rows, ledger.name)
    repeated = {error.row for error in errors}
    planned: list[tuple[Row, P]] = []
    for row in rows:
        try:
            plan = ledger.plan(row)
        except RowErrors as bad:
            errors.extend(bad.errors)
            continue
        if row.number not in repeated:
            planned.append((row, plan))

    def commands() -> _Outcome:
        refused: list[RowError] = []
        good: list[str] = []
        already: list[str] = []
        for row, plan in planned:
            verdict = ledger.compare(app, plan, row)
            ref = ledger.ref(plan)
            if verdict.already:
                already.append(ref)
            elif verdict.differences:
                refused.append(
                    RowError(
                        row.number,
                        ", ".join(verdict.differences),
                        "",
                        f"{ref} already exists with different {', '.join(verdict.differences)}",
                        verdict.advice,
                    )
                )
            elif verdict.problem is not None:
                refused.append(RowError(row.number, "", "", verdict.problem, verdict.advice))
            else:
                try:
                    ledger.send(app, plan, actor)
                except CommandRefused as refusal:
                    refused.append(_refusal(row, ledger.field_of(refusal), refusal))
                    continue
                good.append(ref)
        outcome = _Outcome(tuple(good), tuple(already), tuple(refused))
        if dry_run or ((errors or refused) and not skip_bad_rows):
            raise _Rehearsed(outcome)
        return outcome

    try:
        outcome = app.atomically(commands)
        appended = bool(outcome.good)
    except _Rehearsed as rehearsal:
        outcome = rehearsal.outcome
        appended = False
    every_error = sorted([*errors, *outcome.errors], key=lambda error: error.row)
    return ImportReport(
        ledger=ledger.name,
        file=str(path),
        rows=len(sheet.rows),
        good=outcome.good,
        already_imported=outcome.already,
        errors=tuple(every_error),
        appended=appended,
        stopped=bool(every_error) and not skip_bad_rows,
        dry_run=dry_run,
        ignored_columns=ignored,
        encoding=sheet.encoding,
    )


def _refusal(row: Row, field: str | None, refusal: CommandRefused) -> RowError:
    """A command's refusal as an error of its row (and its column, where known)."""
    reason = f"{type(refusal).__name__}: {refusal}"
    accepted = "a date not in the future" if isinstance(refusal, EffectiveTimeRefused) else ""
    cell = None if field is None else row.cells.get(field)
    if cell is None:
        return RowError(row.number, "", "", reason, accepted)
    return RowError(row.number, cell.label, shown(cell.column, cell.value), reason, accepted)


def _repeated_refs(rows: Iterable[Row], ledger: str) -> list[RowError]:
    """An error for each row whose reference is on another row too."""
    rows_of: dict[str, list[int]] = {}
    for row in rows:
        ref = row.value("ref")
        if ref is not None:
            rows_of.setdefault(_as_text(ref), []).append(row.number)
    errors = []
    for row in rows:
        ref = row.value("ref")
        numbers = [] if ref is None else rows_of[_as_text(ref)]
        if len(numbers) < 2:
            continue
        cell = row.cells["ref"]
        others = [str(number) for number in numbers if number != row.number]
        errors.append(
            RowError(
                row.number,
                cell.label,
                shown(cell.column, cell.value),
                f"the same reference is on row{'s' if len(others) > 1 else ''} {', '.join(others)}",
                f"one row per {ledger.removesuffix('s')}: keep one, or give the others "
                f"references of their own",
            )
        )
    return errors
