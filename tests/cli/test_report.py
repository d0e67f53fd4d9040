"""`warmcase report`: the four reports of the demo campaign, checked against the scenario."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import warmcase
from tests.cli.console import copy_store
from tests.cli.console import warmcase as run
from warmcase.domain.campaign import AidStandard
from warmcase_adapters import demo

CAMPAIGN = demo.CAMPAIGN


def report(store: Path, *arguments: str) -> dict[str, Any]:
    """A report as JSON, through the console script."""
    result = run("report", *arguments, "--format", "json", "--store", str(store))
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def rows(shown: dict[str, Any], table: str) -> list[dict[str, Any]]:
    """The rows of one table of a JSON report."""
    found: list[dict[str, Any]] = shown["tables"][table]["rows"]
    return found


def owed(categories: str, size: int) -> Decimal:
    """What the plan's standards give a household: the highest tier of its categories."""
    held = set(categories.split("+"))
    fen = max(s.amount_for(size) for s in demo.STANDARDS if s.category in held)
    return Decimal(fen) / 100


@pytest.fixture(scope="module")
def duplicates(demo_store: Path) -> dict[str, Any]:
    """The duplicate-aid report of the demo campaign, now."""
    return report(demo_store, "duplicates", "--campaign", CAMPAIGN)


def test_every_minimum_allowance_household_is_paid_exactly_its_tier(
    duplicates: dict[str, Any],
) -> None:
    """All 93 minimum-allowance households (41/30/22 by size) got the plan's tier for their size
    or, when also on another list, the highest tier of their lists."""
    households = [
        row for row in rows(duplicates, "households") if "minimum_allowance" in row["categories"]
    ]
    assert Counter(row["size"] for row in households) == Counter(demo.MINIMUM_ALLOWANCE_SIZES)
    for row in households:
        assert Decimal(row["paid_yuan"]) == owed(row["categories"], row["size"]), row
        assert Decimal(row["tier_yuan"]) == Decimal(row["paid_yuan"]), row
    assert {
        Decimal(row["paid_yuan"]) for row in households if row["categories"] == "minimum_allowance"
    } == {
        Decimal("550.00"),
        Decimal("900.00"),
        Decimal("1100.00"),
    }


def test_households_on_two_lists_are_paid_once_at_the_highest_tier(
    duplicates: dict[str, Any],
) -> None:
    """A household on two lists is paid once at the highest tier; the one corrected late
    (a category added after its visit) got exactly the difference as a top-up."""
    overlapping = [row for row in rows(duplicates, "households") if "+" in row["categories"]]
    assert len(overlapping) >= 5
    topped_up = [row for row in overlapping if row["payments"] > 1]
    assert [row["status"] for row in topped_up] == ["at tier, topped up"]
    for row in overlapping:
        assert Decimal(row["paid_yuan"]) == owed(row["categories"], row["size"]), row
        assert row["payments"] == 1 or row in topped_up
    repeat = rows(duplicates, "repeat_payments")
    assert [(r["household"], r["payments"], r["excess_yuan"], r["topped_up"]) for r in repeat] == [
        (topped_up[0]["household"], 2, "0.00", True)
    ]


def test_total_cash_is_the_sum_of_the_tiers_and_matches_coverage(
    demo_store: Path, duplicates: dict[str, Any]
) -> None:
    """Cash paid equals the sum of every household's tier, the payments table and coverage."""
    households = rows(duplicates, "households")
    (summary,) = rows(duplicates, "summary")
    tiers = sum(owed(row["categories"], row["size"]) for row in households)
    assert Decimal(summary["paid_yuan"]) == tiers == Decimal(summary["tiers_owed_yuan"])
    assert sum(Decimal(p["amount_yuan"]) for p in rows(duplicates, "payments")) == tiers
    assert summary["households_off_tier"] == 0
    assert summary["above_tier"] == summary["overrides"] == summary["proxy_signatures"] == 0
    coverage = report(demo_store, "coverage")  # the store's only campaign
    (total,) = rows(coverage, "total")
    assert Decimal(total["cash_yuan"]) == tiers
    assert total["payments"] == summary["payments"]
    assert total["enrolled"] == total["reached"] == summary["households"] == len(households)
    assert total["missed"] == 0
    categories = {row["category"]: row for row in rows(coverage, "categories")}
    assert categories["minimum_allowance"]["enrolled"] == 93


def test_stock_figures_balance_and_agree_with_the_lots(demo_store: Path) -> None:
    """Each warehouse line balances and sums its lots; the demo's inspections, count and
    write-off show; quilts issued equal the quilts coverage says were handed over."""
    stock = report(demo_store, "stock")
    lots = rows(stock, "lots")
    for line in rows(stock, "stock"):
        issued = line["issued_visit"] + line["issued_distribution"] + line["issued_patrol"]
        assert line["on_hand"] == (
            line["accepted"]
            + line["transferred_in"]
            - line["transferred_out"]
            - issued
            - line["written_off"]
            - line["returned"]
            + line["adjustments"]
        ), line
        here = [
            lot
            for lot in lots
            if (lot["warehouse"], lot["item"]) == (line["warehouse"], line["item"])
        ]
        assert line["on_hand"] == sum(lot["on_hand"] for lot in here), line
    by_lot = {lot["lot"]: lot for lot in lots}
    assert (by_lot["L-QUILT-1"]["accepted"], by_lot["L-QUILT-1"]["rejected"]) == (114, 6)
    assert (by_lot["L-OIL-1"]["written_off"], by_lot["L-OIL-1"]["on_hand"]) == (100, 0)
    assert by_lot["L-COAT-1"]["adjustments"] == -2
    assert [(c["lot"], c["difference"]) for c in rows(stock, "counts")] == [("L-COAT-1", -2)]
    (cash,) = rows(stock, "cash")
    assert (cash["received_yuan"], cash["issued_yuan"], cash["on_hand_yuan"]) == (
        "50000.00",
        "250.00",
        "49750.00",
    )
    coverage = report(demo_store, "coverage", "--campaign", CAMPAIGN)
    handed = {goods["item"]: goods["quantity"] for goods in rows(coverage, "goods")}
    assert handed["quilt"] == by_lot["L-QUILT-1"]["issued_visit"] == 93


def test_patrols_report_weeks_places_encounters_and_hotline_times(demo_store: Path) -> None:
    """The patrol report shows the rule (3 a week, daily in a cold wave), the cold-wave week
    patrolled every day, and the one call reached after its 30-minute target."""
    patrols = report(demo_store, "patrols", "--campaign", CAMPAIGN)
    (rules,) = rows(patrols, "rules")
    assert rules == {
        "min_patrols_per_week": 3,
        "daily_during_cold_wave": True,
        "response_minutes": 30,
        "far_response_minutes": 60,
    }
    (totals,) = rows(patrols, "totals")
    assert (totals["patrols"], totals["calls"], totals["within_target"], totals["late"]) == (
        12,
        3,
        2,
        1,
    )
    cold = [w for w in rows(patrols, "weeks") if w["cold_wave_days"]]
    assert cold
    assert all(w["unpatrolled_cold_wave_days"] == "" for w in cold)
    assert [
        (c["call"], c["response_minutes"], c["target_minutes"]) for c in rows(patrols, "late_calls")
    ] == [("C-002", 41, 30)]
    assert sum(e["persons"] for e in rows(patrols, "encounters")) == totals["encounters"]


def test_as_of_before_the_late_correction_gives_the_older_answer(
    demo_store: Path, duplicates: dict[str, Any]
) -> None:
    """Before the backdated correction was recorded the household was paid at its old tier;
    between the correction and the top-up it was paid below its new tier."""
    (corrected,) = [row for row in rows(duplicates, "households") if row["payments"] > 1]
    ref = corrected["household"]
    trail = json.loads(run("trail", ref, "--format", "json", "--store", str(demo_store)).stdout)
    (correction,) = [
        e for e in rows(trail, "entries") if e["type"] == "household.circumstances_updated"
    ]
    position = correction["position"]
    before = report(demo_store, "duplicates", "--as-of", str(position - 1))
    assert before["basis"]["position"] == position - 1
    (then,) = [row for row in rows(before, "households") if row["household"] == ref]
    assert (then["categories"], then["paid_yuan"], then["payments"], then["status"]) == (
        "minimum_allowance",
        "550.00",
        1,
        "at tier",
    )
    assert rows(before, "repeat_payments") == []
    between = report(demo_store, "duplicates", "--as-of", str(position))
    (now,) = [row for row in rows(between, "households") if row["household"] == ref]
    assert (now["tier_yuan"], now["paid_yuan"], now["status"]) == ("800.00", "550.00", "below tier")


def test_xlsx_and_csv_hold_the_same_numbers_as_json(
    demo_store: Path, duplicates: dict[str, Any], tmp_path: Path
) -> None:
    """The workbook (basis sheet, one sheet per table) and the CSV files carry json's cells."""
    position = str(duplicates["basis"]["position"])
    xlsx, csv_out = tmp_path / "dup.xlsx", tmp_path / "dup.csv"
    for output in (xlsx, csv_out):
        result = run(
            "report",
            "duplicates",
            "--as-of",
            position,
            "--output",
            str(output),
            "--store",
            str(demo_store),
        )
        assert result.returncode == 0, result.stderr
    book = load_workbook(xlsx, read_only=True)
    assert book.sheetnames[0] == "basis"
    basis = {row[0]: row[1] for row in book["basis"].iter_rows(values_only=True)}
    assert basis["position"] == duplicates["basis"]["position"]
    assert basis["recorded_at"] == duplicates["basis"]["recorded_at"]
    for name, table in duplicates["tables"].items():
        sheet = list(book[name].iter_rows(values_only=True))
        assert list(sheet[1]) == table["columns"]
        workbook_rows = [dict(zip(table["columns"], row, strict=True)) for row in sheet[2:]]
        files = list(csv.DictReader((tmp_path / f"dup.{name}.csv").open(encoding="utf-8")))
        assert len(workbook_rows) == len(files) == len(table["rows"]), name
        for expected, cells, texts in zip(table["rows"], workbook_rows, files, strict=True):
            for column, value in expected.items():
                assert _same(value, cells[column]), (name, column, value, cells[column])
                assert _same(value, texts[column]), (name, column, value, texts[column])


def _same(expected: Any, found: Any) -> bool:
    if isinstance(expected, bool):
        return found in (expected, str(expected).lower())
    if expected is None:
        return found in (None, "")
    if isinstance(expected, str) and expected.replace(".", "").replace("-", "").isdigit():
        return Decimal(expected) == Decimal(str(found))
    return str(expected) == str(found)


def test_the_terminal_report_shows_its_basis(demo_store: Path) -> None:
    """The default format is a table on the terminal, headed by the basis and filters."""
    result = run("report", "coverage", "--as-of", "2027-01-20", "--store", str(demo_store))
    assert result.returncode == 0, result.stderr
    assert "as of position" in result.stdout
    assert "filters: campaign SF-2027" in result.stdout
    assert "The whole campaign" in result.stdout


def test_usage_errors_exit_2_with_the_reason(demo_store: Path) -> None:
    """A bad time, an option of another report, or xlsx to the terminal are usage errors."""
    for arguments, reason in (
        (("coverage", "--as-of", "yesterday"), "is not a date"),
        (("coverage", "--warehouse", "Gulou store"), "does not apply to the coverage report"),
        (("duplicates", "--format", "xlsx"), "--output"),
    ):
        result = run("report", *arguments, "--store", str(demo_store))
        assert result.returncode == 2, (arguments, result.stderr)
        assert reason in " ".join(result.stderr.split()), (arguments, result.stderr)


def test_an_unknown_campaign_is_refused_with_exit_1(demo_store: Path) -> None:
    """A campaign the books do not hold: exit 1 and the typed message."""
    for kind in ("coverage", "duplicates"):
        result = run("report", kind, "--campaign", "XX-1999", "--store", str(demo_store))
        assert result.returncode == 1, result.stderr
        assert "NotFound: campaign XX-1999 is not in the books" in " ".join(result.stderr.split())


def test_with_several_campaigns_the_usage_error_names_them(
    demo_store: Path, tmp_path: Path
) -> None:
    """--campaign may be left out only when the store holds one campaign."""
    store = copy_store(demo_store, tmp_path)
    app = warmcase.open(f"sqlite:///{store}")
    try:
        app.open_campaign(
            "W-2027",
            name="Winter patrols",
            owner="Gulou street office",
            starts_on=date(2026, 12, 1),
            ends_on=date(2027, 2, 28),
            standards=[AidStandard(category="marginal", tiers=((1, 30_000),))],
            actor="office.chen",
        )
    finally:
        app.close()
    result = run("report", "coverage", "--store", str(store))
    assert result.returncode == 2
    assert "name one of SF-2027, W-2027" in " ".join(result.stderr.split())
