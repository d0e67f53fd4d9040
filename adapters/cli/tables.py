"""The reports as named tables of plain values, the one shape every output format shares.

Each report answer becomes a :class:`ReportTables`: its basis, the filters asked
for, notes, and tables (title, columns, rows). Cells are plain values only: text,
whole numbers for counts and goods, :class:`~decimal.Decimal` yuan with two decimals
for money (never float), booleans, or None. Dates and times are ISO text. So the
console, JSON, CSV and XLSX show the same figures, cell for cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from warmcase.clock import DEFAULT_TIMEZONE, zone
from warmcase.domain.campaign import AidStandard
from warmcase.domain.categories import CATEGORIES
from warmcase.projections.audit_trail import AuditTrailReport
from warmcase.projections.basis import Basis
from warmcase.projections.coverage import CoverageLine, CoverageReport, HouseholdInfo
from warmcase.projections.duplicate_aid import DuplicateAidReport, PaymentLine
from warmcase.projections.stock import LotLine, StockReport

Cell = str | int | Decimal | bool | None

# Status words of the per-household payments table.
AT_TIER = "at tier"
TOPPED_UP = "at tier, topped up"
SPLIT = "at tier, split"
ABOVE_TIER = "above tier"
BELOW_TIER = "below tier"
NOT_PAID = "not paid"
MERGED = "merged"


def yuan(fen: int) -> Decimal:
    """Fen as yuan with exactly two decimals: 110000 -> Decimal("1100.00")."""
    return Decimal(fen).scaleb(-2)


@attrs.frozen
class Table:
    """One table: a name for files and keys, a title for people, columns and rows."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    record: bool = False
    """A single record (totals, rules): the terminal shows it as field / value."""

    def __attrs_post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                msg = (
                    f"table {self.name}: a row has {len(row)} cells for {len(self.columns)} columns"
                )
                raise ValueError(msg)

    def records(self) -> list[dict[str, Cell]]:
        """The rows as column -> value mappings."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Cell]:
        """Every value of column `name`."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def only(self, columns: tuple[str, ...]) -> Table:
        """The same table with just `columns`, in that order."""
        indexes = [self.columns.index(name) for name in columns]
        rows = tuple(tuple(row[index] for index in indexes) for row in self.rows)
        return Table(self.name, self.title, columns, rows, self.record)


@attrs.frozen
class ReportTables:
    """A report as tables, with the basis it was computed at."""

    report: str
    """"stock", "coverage", "duplicates", "patrols" or "trail"."""
    title: str
    basis: Basis
    filters: tuple[tuple[str, Cell], ...]
    tables: tuple[Table, ...]
    notes: tuple[str, ...] = ()

    def table(self, name: str) -> Table:
        """The table called `name`."""
        for table in self.tables:
            if table.name == name:
                return table
        msg = f"report {self.report} has no table {name!r}"
        raise KeyError(msg)


def _table(
    name: str,
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    record: bool = False,
) -> Table:
    return Table(name, title, tuple(columns), tuple(tuple(row) for row in rows), record)


def _text(values: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in values)


# ---------------------------------------------------------------- stock

_GOODS_FIGURES = (
    "received",
    "accepted",
    "rejected",
    "transferred_in",
    "transferred_out",
    "issued_visit",
    "issued_distribution",
    "issued_patrol",
    "written_off",
    "returned",
    "adjustments",
    "on_hand",
    "reserved",
    "available",
)


def stock(report: StockReport) -> ReportTables:
    """Goods per warehouse x item and per lot, cash lots in yuan, counts, moves, expiries."""
    goods_lines = [line for line in report.lines if line.kind != "cash"]
    goods_lots = [lot for lot in report.lots if lot.kind != "cash"]
    cash_lots = [lot for lot in report.lots if lot.kind == "cash"]
    tables = [
        _table(
            "stock",
            "Goods per warehouse and item",
            ("warehouse", "item", "unit", "lots", *_GOODS_FIGURES),
            (
                (
                    line.warehouse,
                    line.item,
                    line.unit,
                    len(line.lots),
                    line.received,
                    line.accepted,
                    line.rejected,
                    line.transferred_in,
                    line.transferred_out,
                    line.issued.visit,
                    line.issued.distribution,
                    line.issued.patrol,
                    line.written_off,
                    line.returned,
                    line.adjustments,
                    line.on_hand,
                    line.reserved,
                    line.available,
                )
                for line in goods_lines
            ),
        ),
        _table(
            "lots",
            "Goods lots",
            (
                "lot",
                "donor",
                "item",
                "unit",
                "warehouse",
                "expires_on",
                "pledged",
                "received",
                "accepted",
                "rejected",
                "issued_visit",
                "issued_distribution",
                "issued_patrol",
                "written_off",
                "returned",
                "adjustments",
                "on_hand",
                "reserved",
                "available",
            ),
            (_lot_row(lot) for lot in goods_lots),
        ),
        _table(
            "cash",
            "Cash lots (yuan)",
            (
                "lot",
                "donor",
                "warehouse",
                "received_yuan",
                "issued_yuan",
                "written_off_yuan",
                "returned_yuan",
                "adjustments_yuan",
                "on_hand_yuan",
                "reserved_yuan",
                "available_yuan",
            ),
            (
                (
                    lot.lot,
                    lot.donor,
                    lot.warehouse,
                    yuan(lot.received),
                    yuan(lot.issued.total),
                    yuan(lot.written_off),
                    yuan(lot.returned),
                    yuan(lot.adjustments),
                    yuan(lot.on_hand),
                    yuan(lot.reserved),
                    yuan(lot.available),
                )
                for lot in cash_lots
            ),
        ),
        _table(
            "rejections",
            "Rejected at inspection",
            ("lot", "item", "quantity", "reason"),
            (
                (lot.lot, lot.item, quantity, reason)
                for lot in goods_lots
                for quantity, reason in lot.rejections
            ),
        ),
        _table(
            "transfers",
            "Moves between warehouses",
            ("lot", "item", "at", "from_warehouse", "to_warehouse", "quantity"),
            (
                (
                    lot.lot,
                    lot.item,
                    move.at.isoformat(),
                    move.from_warehouse,
                    move.to_warehouse,
                    move.quantity,
                )
                for lot in goods_lots
                for move in lot.transfers
            ),
        ),
        _table(
            "counts",
            "Physical counts that differed from the book",
            ("lot", "warehouse", "item", "day", "book", "counted", "difference", "reason"),
            (
                (
                    d.lot,
                    d.warehouse,
                    d.item,
                    d.day.isoformat(),
                    d.book,
                    d.counted,
                    d.difference,
                    d.reason,
                )
                for d in report.discrepancies
                if d.kind != "cash"
            ),
        ),
    ]
    if report.expiring_within_days is not None:
        tables.append(
            _table(
                "expiring",
                f"Lots expiring within {report.expiring_within_days} days (or expired)",
                (
                    "lot",
                    "warehouse",
                    "item",
                    "unit",
                    "expires_on",
                    "days_left",
                    "on_hand",
                    "available",
                ),
                (
                    (
                        e.lot,
                        e.warehouse,
                        e.item,
                        e.unit,
                        e.expires_on.isoformat(),
                        e.days_left,
                        e.on_hand,
                        e.available,
                    )
                    for e in report.expiring
                ),
            )
        )
    filters: tuple[tuple[str, Cell], ...] = (
        ("warehouse", report.warehouse),
        ("item", report.item),
        ("expiring_within_days", report.expiring_within_days),
    )
    return ReportTables(
        report="stock",
        title="Stock levels (物资台账)",
        basis=report.basis,
        filters=filters,
        tables=tuple(tables),
        notes=(
            "Per warehouse: accepted + transferred_in - transferred_out - issued - written_off "
            "- returned + adjustments = on_hand; available = on_hand - reserved.",
        ),
    )


def _lot_row(lot: LotLine) -> tuple[Cell, ...]:
    return (
        lot.lot,
        lot.donor,
        lot.item,
        lot.unit,
        lot.warehouse,
        None if lot.expires_on is None else lot.expires_on.isoformat(),
        lot.pledged,
        lot.received,
        lot.accepted,
        lot.rejected,
        lot.issued.visit,
        lot.issued.distribution,
        lot.issued.patrol,
        lot.written_off,
        lot.returned,
        lot.adjustments,
        lot.on_hand,
        lot.reserved,
        lot.available,
    )


# ---------------------------------------------------------------- coverage

_LINE_COLUMNS = (
    "enrolled",
    "reached",
    "persons_reached",
    "missed",
    "closed_unreached",
    "disqualified_unreached",
    "payments",
    "cash_yuan",
    "problems",
    "problems_solved",
    "problems_open",
    "problems_overdue",
)


def _line_figures(line: CoverageLine) -> tuple[Cell, ...]:
    households, problems = line.households, line.problems
    return (
        households.enrolled,
        households.reached,
        households.persons_reached,
        households.missed,
        households.closed_unreached,
        households.disqualified_unreached,
        line.cash.payments,
        yuan(line.cash.fen),
        problems.recorded,
        problems.solved,
        problems.open,
        problems.overdue,
    )


def _campaign_filters(report: CoverageReport) -> tuple[tuple[str, Cell], ...]:
    return (("campaign", report.campaign), ("area", report.area))


def coverage(report: CoverageReport) -> ReportTables:
    """Who was reached and who was missed, by area and category; goods and cash handed over."""
    total = report.total
    tables = (
        _table(
            "total",
            "The whole campaign" + (f" within {report.area}" if report.area else ""),
            ("area", *_LINE_COLUMNS),
            [(total.key or "(all)", *_line_figures(total))],
            record=True,
        ),
        _table(
            "areas",
            "By area (district / street / community / grid)",
            ("area", "level", *_LINE_COLUMNS),
            ((line.key, line.level, *_line_figures(line)) for line in report.areas),
        ),
        _table(
            "categories",
            "By hardship category (a household on two lists counts in both)",
            ("category", "label", *_LINE_COLUMNS),
            (
                (line.key, CATEGORIES.get(line.key, line.key), *_line_figures(line))
                for line in report.categories
            ),
        ),
        _table(
            "goods",
            "Goods handed over on visits",
            ("item", "unit", "quantity"),
            ((goods.item, goods.unit, goods.quantity) for goods in total.goods),
        ),
        _table(
            "missed",
            "Enrolled households not reached yet (一户不漏)",
            ("household", "area", "size", "categories", "planned_visits"),
            (
                (m.ref, m.area, m.size, _text(m.categories), _text(m.planned_visits))
                for m in report.missed
            ),
        ),
        _table(
            "left",
            "Enrolled households that left before anyone reached them",
            ("household", "area", "why", "cause", "on"),
            (
                (m.ref, m.area, m.why, m.cause, None if m.on is None else m.on.isoformat())
                for m in report.left
            ),
        ),
        _table(
            "overdue",
            "Problems past their due date",
            (
                "visit",
                "problem",
                "household",
                "area",
                "department",
                "assignee",
                "due_on",
                "days_overdue",
            ),
            (
                (
                    p.visit,
                    p.problem_id,
                    p.household,
                    p.area,
                    p.department,
                    p.assignee,
                    p.due_on.isoformat(),
                    p.days_overdue,
                )
                for p in report.overdue
            ),
        ),
    )
    return ReportTables(
        report="coverage",
        title=f"Coverage of {report.campaign} ({report.name}) on {report.day.isoformat()}",
        basis=report.basis,
        filters=_campaign_filters(report),
        tables=tables,
        notes=report.notes,
    )


# ---------------------------------------------------------------- patrols


def patrols(report: CoverageReport) -> ReportTables:
    """Street patrols per week against the rule, places, encounters, hotline response times."""
    rules = report.patrol_rules
    patrol_total, hotline_total = report.patrol_total, report.hotline_total
    tables = (
        _table(
            "totals",
            "Patrols and hotline calls, all areas",
            (
                "patrols",
                "cancelled",
                "places_checked",
                "encounters",
                "weeks_met",
                "weeks_short",
                "weeks_in_progress",
                "calls",
                "arrived",
                "within_target",
                "late",
                "awaiting",
                "worst_minutes",
            ),
            [
                (
                    patrol_total.patrols,
                    patrol_total.cancelled,
                    patrol_total.places_checked,
                    patrol_total.encounters,
                    sum(week.status == "met" for week in report.patrol_weeks),
                    sum(week.status == "short" for week in report.patrol_weeks),
                    sum(week.status == "in progress" for week in report.patrol_weeks),
                    hotline_total.calls,
                    hotline_total.arrived,
                    hotline_total.within_target,
                    hotline_total.late,
                    hotline_total.awaiting,
                    hotline_total.worst_minutes,
                )
            ],
            record=True,
        ),
        _table(
            "rules",
            "The rules",
            (
                "min_patrols_per_week",
                "daily_during_cold_wave",
                "response_minutes",
                "far_response_minutes",
            ),
            [
                (
                    rules.min_patrols_per_week,
                    rules.daily_during_cold_wave,
                    rules.response_minutes,
                    rules.far_response_minutes,
                )
            ],
            record=True,
        ),
        _table(
            "weeks",
            f"Patrols per week: at least {rules.min_patrols_per_week}"
            + (
                ", daily while a cold-wave warning is in force"
                if rules.daily_during_cold_wave
                else ""
            ),
            (
                "area",
                "week",
                "monday",
                "patrols",
                "required",
                "days_patrolled",
                "cold_wave_days",
                "unpatrolled_cold_wave_days",
                "status",
            ),
            (
                (
                    week.area,
                    week.week,
                    week.monday.isoformat(),
                    week.patrols,
                    week.required,
                    len(week.days_patrolled),
                    len(week.cold_wave_days),
                    _text(day.isoformat() for day in week.unpatrolled_cold_wave_days),
                    week.status,
                )
                for week in report.patrol_weeks
            ),
        ),
        _table(
            "areas",
            "Patrols per area",
            ("area", "patrols", "cancelled", "places_checked", "distinct_places", "encounters"),
            (
                (a.area, a.patrols, a.cancelled, a.places_checked, a.distinct_places, a.encounters)
                for a in report.patrol_areas
            ),
        ),
        _table(
            "places",
            "Key places checked, by kind",
            ("area", "kind", "checks"),
            (
                (a.area, kind, count)
                for a in report.patrol_areas
                for kind, count in sorted(a.places_by_kind.items())
            ),
        ),
        _table(
            "encounters",
            "Persons met, by outcome",
            ("area", "outcome", "persons"),
            (
                (a.area, outcome, count)
                for a in report.patrol_areas
                for outcome, count in sorted(a.encounters_by_outcome.items())
            ),
        ),
        _table(
            "hotline",
            f"Hotline calls: on the scene within {rules.response_minutes} min "
            f"({rules.far_response_minutes} where far)",
            (
                "area",
                "calls",
                "arrived",
                "within_target",
                "late",
                "awaiting",
                "closed_before_arrival",
                "worst_minutes",
            ),
            (
                (
                    h.area,
                    h.calls,
                    h.arrived,
                    h.within_target,
                    h.late,
                    h.awaiting,
                    h.closed_before_arrival,
                    h.worst_minutes,
                )
                for h in report.hotline_areas
            ),
        ),
        _table(
            "late_calls",
            "Calls reached after their target",
            ("call", "area", "far", "response_minutes", "target_minutes"),
            (
                (c.ref, c.area, c.far, c.response_minutes, c.target_minutes)
                for c in report.late_calls
            ),
        ),
    )
    return ReportTables(
        report="patrols",
        title=f"Street patrols and hotline of {report.campaign} on {report.day.isoformat()}",
        basis=report.basis,
        filters=_campaign_filters(report),
        tables=tables,
        notes=(
            "A week is 'short' when it ended below its minimum or a cold-wave day before "
            "today had no patrol; 'in progress' while it can still meet the rule.",
        ),
    )


# ---------------------------------------------------------------- duplicate aid


def tier(standards: Sequence[AidStandard], categories: Iterable[str], size: int) -> int:
    """The fen a household is owed: the highest amount any of its categories gives."""
    held = set(categories)
    return max(
        (standard.amount_for(size) for standard in standards if standard.category in held),
        default=0,
    )


def _status(paid: int, owed: int, payments: Sequence[PaymentLine], topped_up: bool) -> str:
    if not payments:
        return NOT_PAID
    if paid > owed:
        return ABOVE_TIER
    if paid < owed:
        return BELOW_TIER
    if len(payments) == 1:
        return AT_TIER
    return TOPPED_UP if topped_up else SPLIT


def duplicates(
    report: DuplicateAidReport,
    *,
    ledger: Mapping[str, Sequence[PaymentLine]],
    households: Mapping[str, HouseholdInfo],
    enrolled: Iterable[str],
    standards: Sequence[AidStandard],
    standards_note: str = "",
) -> ReportTables:
    """What looks like aid given twice, and every household's payments against its tier.

    `ledger` is the campaign's payments by household (absorbed ones included),
    `households` the registry (size and categories) and `enrolled` the households
    enrolled in the campaign, all at the report's basis; `standards` the campaign's
    aid standards. A household's tier is the highest amount its categories give for
    its size, so an auditor can check every line against the standards table.
    """
    topped_up = {case.household for case in report.split_payments if case.explained_by_top_ups}
    refs = sorted(set(ledger) | set(enrolled))
    rows: list[tuple[Cell, ...]] = []
    totals = {"paid": 0, "owed": 0, "payments": 0, "paid_households": 0, "at": 0, "off": 0}
    for ref in refs:
        info = households.get(ref)
        payments = ledger.get(ref, ())
        size = 0 if info is None else info.size
        categories = () if info is None else sorted(info.categories)
        owed = tier(standards, categories, size)
        paid = sum(payment.amount_fen for payment in payments)
        if info is not None and info.merged_into is not None and not payments:
            # Counted under the record it was merged into.
            status, owed = f"{MERGED} into {info.merged_into}", 0
        else:
            status = _status(paid, owed, payments, ref in topped_up)
            totals["at" if status in (AT_TIER, TOPPED_UP, SPLIT) else "off"] += 1
        totals["paid"] += paid
        totals["owed"] += owed
        totals["payments"] += len(payments)
        totals["paid_households"] += bool(payments)
        recorded = max((payment.entitlement_fen for payment in payments), default=None)
        rows.append(
            (
                ref,
                size,
                "+".join(categories),
                yuan(owed),
                None if recorded is None else yuan(recorded),
                yuan(paid),
                len(payments),
                status,
            )
        )
    counts = {
        "repeat_payments": len(report.repeat_payments),
        "above_tier": len(report.above_tier),
        "overrides": len(report.overrides),
        "proxy_signatures": len(report.proxy_signatures),
        "split_payments": len(report.split_payments),
        "duplicate_registrations": len(report.duplicate_registrations),
        "multi_channel_goods": len(report.multi_channel_goods),
    }
    summary = _table(
        "summary",
        "Duplicate aid at a glance",
        (
            "households",
            "households_paid",
            "payments",
            "paid_yuan",
            "tiers_owed_yuan",
            "households_at_tier",
            "households_off_tier",
            *counts,
        ),
        [
            (
                len(rows),
                totals["paid_households"],
                totals["payments"],
                yuan(totals["paid"]),
                yuan(totals["owed"]),
                totals["at"],
                totals["off"],
                *counts.values(),
            )
        ],
        record=True,
    )
    tables = (
        summary,
        _table(
            "households",
            "Every household's payments against its tier",
            (
                "household",
                "size",
                "categories",
                "tier_yuan",
                "entitlement_recorded_yuan",
                "paid_yuan",
                "payments",
                "status",
            ),
            rows,
        ),
        _table(
            "payments",
            "Every payment",
            (
                "household",
                "visit",
                "category",
                "amount_yuan",
                "entitlement_yuan",
                "signed_by",
                "effective_at",
                "override_reason",
                "absorbed",
            ),
            (
                (
                    payment.household,
                    payment.visit,
                    payment.category,
                    yuan(payment.amount_fen),
                    yuan(payment.entitlement_fen),
                    payment.signed_by,
                    payment.effective_at.isoformat(),
                    payment.override_reason,
                    bool(payment.via),
                )
                for ref in sorted(ledger)
                for payment in ledger[ref]
            ),
        ),
        _table(
            "standards",
            "Aid standards" + (f" ({standards_note})" if standards_note else ""),
            ("category", "basis", "from_size", "yuan"),
            (
                (standard.category, standard.basis, smallest, yuan(fen))
                for standard in standards
                for smallest, fen in standard.tiers
            ),
        ),
        _table(
            "repeat_payments",
            "Households paid more than once",
            ("household", "payments", "paid_yuan", "entitlement_yuan", "excess_yuan", "topped_up"),
            (
                (
                    case.household,
                    len(case.payments),
                    yuan(case.paid_fen),
                    yuan(case.entitlement_fen),
                    yuan(max(0, case.paid_fen - case.entitlement_fen)),
                    case.household in topped_up,
                )
                for case in report.repeat_payments
            ),
        ),
        _table(
            "above_tier",
            "Households paid above their entitlement",
            ("household", "paid_yuan", "entitlement_yuan", "excess_yuan"),
            (
                (
                    case.household,
                    yuan(case.paid_fen),
                    yuan(case.entitlement_fen),
                    yuan(case.paid_fen - case.entitlement_fen),
                )
                for case in report.above_tier
            ),
        ),
        _table(
            "overrides",
            "Payments made with an override of the rule",
            ("household", "visit", "amount_yuan", "reason"),
            (
                (o.household, o.payment.visit, yuan(o.payment.amount_fen), o.reason)
                for o in report.overrides
            ),
        ),
        _table(
            "proxy_signatures",
            "Signed by someone not registered in the household",
            ("household", "visit", "signed_by", "registered_members", "was_member"),
            (
                (s.household, s.visit, s.signed_by, _text(s.registered), s.was_member)
                for s in report.proxy_signatures
            ),
        ),
        _table(
            "duplicate_registrations",
            "Households that look registered twice",
            ("group", "match", "household", "head", "community", "enrolled", "closed"),
            (
                (
                    number,
                    group.match,
                    member.household,
                    _head(member.head),
                    member.community,
                    member.enrolled,
                    member.closed,
                )
                for number, group in enumerate(report.duplicate_registrations, start=1)
                for member in group.households
            ),
        ),
        _table(
            "multi_channel_goods",
            "Households given goods through several channels",
            ("household", "channels", "issues"),
            ((c.household, _text(c.channels), len(c.issues)) for c in report.multi_channel_goods),
        ),
    )
    return ReportTables(
        report="duplicates",
        title=f"Duplicate aid in {report.campaign} (避免重复慰问)",
        basis=report.basis,
        filters=(("campaign", report.campaign),),
        tables=tables,
        notes=(
            "tier_yuan: the highest amount any of the household's categories gives for its "
            "size (see the standards table); entitlement_recorded_yuan: the highest "
            "entitlement its payments were made against.",
        ),
    )


def _head(head: object) -> str | None:
    return None if head is None else str(head)


# ---------------------------------------------------------------- audit trail


def _local(moment: datetime) -> str:
    # Officials read Beijing wall-clock time; the offset keeps the moment exact.
    return moment.astimezone(zone(DEFAULT_TIMEZONE)).isoformat()


def trail(report: AuditTrailReport) -> ReportTables:
    """Every event that touched a reference, with both clocks, actor, reason and summary."""
    return ReportTables(
        report="trail",
        title=f"Audit trail of {report.ref}",
        basis=report.basis,
        filters=(("ref", report.ref),),
        tables=(
            _table(
                "entries",
                f"Events that touched {report.ref}",
                (
                    "position",
                    "recorded_at",
                    "effective_at",
                    "actor",
                    "type",
                    "record",
                    "reason",
                    "summary",
                ),
                (
                    (
                        entry.position,
                        _local(entry.recorded_at),
                        _local(entry.effective_at),
                        entry.actor,
                        entry.event_type,
                        entry.ref,
                        entry.reason,
                        entry.summary,
                    )
                    for entry in report.entries
                ),
            ),
        ),
    )
