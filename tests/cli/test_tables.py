"""Report answers as tables: plain cells, money as exact yuan, the household payments check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

import warmcase
from tests.cli.console import copy_store
from warmcase.app import Warmcase
from warmcase.domain.campaign import AidStandard
from warmcase.projections.basis import Basis
from warmcase.projections.coverage import HouseholdInfo
from warmcase.projections.duplicate_aid import DuplicateAidReport, PaymentLine, SplitCase
from warmcase_adapters import demo
from warmcase_adapters.cli import report, tables

MOMENT = datetime(2027, 1, 25, 2, tzinfo=UTC)
BASIS = Basis(position=10, recorded_at=MOMENT, effective=MOMENT)
STANDARDS = (
    AidStandard(category="minimum_allowance", tiers=((1, 55_000), (2, 90_000), (3, 110_000))),
    AidStandard(category="disabled", tiers=((1, 70_000),)),
    AidStandard(category="entitled_group", tiers=((1, 80_000),), basis="person"),
)


def test_yuan_are_exact_with_two_decimals() -> None:
    """Fen become Decimal yuan with exactly two places, negatives included; never a float."""
    assert str(tables.yuan(110_000)) == "1100.00"
    assert str(tables.yuan(5)) == "0.05"
    assert str(tables.yuan(-250)) == "-2.50"
    assert tables.yuan(140_855_000) == Decimal("1408550.00")


def test_a_table_refuses_a_row_of_the_wrong_width() -> None:
    """Every row has one cell per column, so every format lines up."""
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        tables.Table("t", "T", ("a", "b", "c"), (("x", 1),))


def test_the_tier_is_the_highest_amount_of_any_category_for_the_size() -> None:
    """Several categories: the highest tier; a per-person standard counts each member."""
    assert tables.tier(STANDARDS, ["minimum_allowance"], 2) == 90_000
    assert tables.tier(STANDARDS, ["minimum_allowance", "disabled"], 1) == 70_000
    assert tables.tier(STANDARDS, ["entitled_group"], 2) == 160_000
    assert tables.tier(STANDARDS, ["unknown"], 1) == 0


def _paid(household: str, fen: int, entitlement: int, visit: str = "V-1") -> PaymentLine:
    return PaymentLine(
        household=household,
        campaign="SF-2027",
        visit=visit,
        amount_fen=fen,
        category="minimum_allowance",
        entitlement_fen=entitlement,
        signed_by="1",
        override_reason=None,
        effective_at=MOMENT,
        position=1,
    )


def test_each_household_is_checked_against_its_tier() -> None:
    """Status per household: at tier, topped up, above, below, not paid, merged; the summary
    adds up what was paid and what the tiers owe."""
    ledger = {
        "H-1": (_paid("H-1", 55_000, 55_000),),
        "H-2": (_paid("H-2", 55_000, 55_000), _paid("H-2", 25_000, 80_000, "V-2")),
        "H-3": (_paid("H-3", 90_000, 90_000),),
        "H-4": (_paid("H-4", 55_000, 55_000),),
    }
    households = {
        "H-1": HouseholdInfo(ref="H-1", size=1, categories=frozenset({"minimum_allowance"})),
        "H-2": HouseholdInfo(
            ref="H-2", size=1, categories=frozenset({"minimum_allowance", "entitled_group"})
        ),
        "H-3": HouseholdInfo(ref="H-3", size=1, categories=frozenset({"minimum_allowance"})),
        "H-4": HouseholdInfo(ref="H-4", size=3, categories=frozenset({"minimum_allowance"})),
        "H-5": HouseholdInfo(ref="H-5", size=2, categories=frozenset({"disabled"})),
        "H-6": HouseholdInfo(ref="H-6", size=1, merged_into="H-1"),
    }
    split = SplitCase(
        household="H-2", head=None, payments=ledger["H-2"], explained_by_top_ups=True, sources=()
    )
    answer = DuplicateAidReport(
        basis=BASIS,
        campaign="SF-2027",
        repeat_payments=(),
        above_tier=(),
        overrides=(),
        proxy_signatures=(),
        split_payments=(split,),
        duplicate_registrations=(),
        multi_channel_goods=(),
    )
    shown = tables.duplicates(
        answer,
        ledger=ledger,
        households=households,
        enrolled=["H-1", "H-2", "H-3", "H-4", "H-5", "H-6"],
        standards=STANDARDS,
    )
    rows = {row["household"]: row for row in shown.table("households").records()}
    assert {ref: row["status"] for ref, row in rows.items()} == {
        "H-1": tables.AT_TIER,
        "H-2": tables.TOPPED_UP,
        "H-3": tables.ABOVE_TIER,
        "H-4": tables.BELOW_TIER,
        "H-5": tables.NOT_PAID,
        "H-6": "merged into H-1",
    }
    assert rows["H-2"]["categories"] == "entitled_group+minimum_allowance"
    assert (rows["H-2"]["tier_yuan"], rows["H-2"]["paid_yuan"]) == (Decimal("800.00"),) * 2
    assert rows["H-5"]["entitlement_recorded_yuan"] is None
    (summary,) = shown.table("summary").records()
    assert summary["paid_yuan"] == Decimal("2800.00")
    assert summary["tiers_owed_yuan"] == Decimal("550.00") + 800 + 550 + 1100 + 700
    assert (summary["households_at_tier"], summary["households_off_tier"]) == (2, 3)
    assert len(shown.table("payments").rows) == 5


@pytest.fixture(scope="module")
def books(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warmcase]:
    """The demo's books, opened in this process on a copy."""
    store = copy_store(demo_store, tmp_path_factory.mktemp("tables"))
    app = warmcase.open(f"sqlite:///{store}")
    yield app
    app.close()


def test_show_reports_prints_the_four_reports_short(books: Warmcase) -> None:
    """The demo's summary: each report's totals and top rows, not thousands of lines."""
    out = StringIO()
    report.show_reports(books, demo.CAMPAIGN, Console(file=out, width=160))
    text = out.getvalue()
    for kind in ("stock", "coverage", "duplicates", "patrols"):
        assert f"warmcase report {kind}" in text
    assert "1,408,550.00" in text
    assert "weeks with patrols or a cold wave" in " ".join(text.split())  # titles may wrap
    assert len(text.splitlines()) < 300


def test_every_cell_is_a_plain_value(books: Warmcase) -> None:
    """Cells are text, whole numbers, Decimal yuan, booleans or None: nothing else."""
    for kind in report.Kind:
        for table in report.build(kind, books).tables:
            for row in table.rows:
                for cell in row:
                    assert cell is None or isinstance(cell, str | int | Decimal | bool), (
                        table.name,
                        cell,
                    )


def test_a_rebuild_reports_its_progress_up_to_the_last_position(books: Warmcase) -> None:
    """Queries.rebuild(progress=...) is called with rising positions, ending at the last."""
    seen: list[int] = []
    done = books.rebuild(progress=seen.append)
    assert seen == sorted(seen)
    assert len(seen) > 2
    assert seen[-1] == done.position == books.history.last_position()
