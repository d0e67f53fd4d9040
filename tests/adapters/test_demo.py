"""The demo plays the reference campaign through the public API, with the plan's figures."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest

import warmcase
from warmcase.domain import household, lot
from warmcase_adapters import demo


@pytest.fixture(scope="module")
def season() -> tuple[warmcase.app.Warmcase, demo.Season]:
    """The season played once on the memory store."""
    clock = demo.SeasonClock(datetime(2026, 11, 15, 8, tzinfo=demo.SHANGHAI))
    app = warmcase.open("memory:", clock=clock)
    return app, demo.play(app, clock, random.Random(2027))


def test_the_plan_s_target_numbers_are_surveyed(
    season: tuple[warmcase.app.Warmcase, demo.Season],
) -> None:
    """93 minimum-allowance households, 1,861 marginal targets in 8 groups, 42 entitled persons."""
    _, played = season
    lists = [categories for _, categories, _ in played.targets]
    assert sum("minimum_allowance" in c for c in lists) == 93
    marginal_codes = {code for _, code, _ in demo.MARGINAL_GROUPS}
    assert sum(c[0] in marginal_codes for c in lists) == 1_861
    assert sum(c[0] in {code for _, code, _, _ in demo.ENTITLED_GROUPS} for c in lists) == 42
    assert len(lists) == 1_996


def test_every_household_is_paid_once_at_its_highest_tier(
    season: tuple[warmcase.app.Warmcase, demo.Season],
) -> None:
    """Each enrolled household's ledger equals its highest tier, including those on two lists."""
    app, played = season
    standards = {s.category: s for s in demo.STANDARDS}
    on_two_lists = 0
    for ref, categories, _ in played.enrolled:
        state = app.load(household.KIND, ref)
        highest = max(standards[c].amount_for(state.size) for c in state.categories)
        assert highest == state.paid_fen(demo.CAMPAIGN), ref
        if len(categories) > 1:
            on_two_lists += 1
            assert highest == 70_000 or state.size > 1
    assert on_two_lists > 0
    ledger = sum(app.load(household.KIND, r).paid_fen(demo.CAMPAIGN) for r, _, _ in played.enrolled)
    assert sum(played.owed.values()) == ledger


def test_refused_entries_are_refused_and_stock_adds_up(
    season: tuple[warmcase.app.Warmcase, demo.Season],
) -> None:
    """The deliberate wrong entries are refused; shelves hold what was received less what left."""
    app, played = season
    kinds = [line.split(": ")[1] for line in played.refused]
    assert {"AidAlreadyPaid", "ProxySignatureRefused", "InsufficientStock"} <= set(kinds)
    assert {"ProtectiveRescueRequired", "NotVerified"} <= set(kinds)
    quilts = app.load(lot.KIND, "L-QUILT-1")
    assert quilts.available == 114 - 93
    assert app.load(lot.KIND, "L-OIL-1").available == 0


def test_the_main_job_runs_on_a_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make demo`'s entry point plays the season into a SQLite file and prints the books."""
    store = tmp_path / "demo.db"
    assert demo.main(["--store", str(store)]) == 0
    printed = capsys.readouterr().out
    assert "cash paid 1,408,550.00 yuan; sum of the tiers owed 1,408,550.00 yuan" in printed
    assert store.exists()
