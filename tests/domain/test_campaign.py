"""Campaign decisions and evolution."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.campaign import (
    category_codes,
    spring_festival,
    spring_festival_standards,
    standard_sets,
)
from warmcase.domain import campaign
from warmcase.domain.campaign import AidStandard, PatrolRules
from warmcase.domain.stream import fold
from warmcase.errors import AlreadyExists, EffectiveTimeRefused, InvalidCommand


def test_opening_records_period_standards_and_default_patrol_rules() -> None:
    """An opened campaign holds its period, standards and the plans' patrol rules.

    The plans: at least 3 patrols a week, on the scene within 30 minutes (60 if far).
    """
    state = spring_festival()
    assert (date(2026, 11, 15), date(2027, 3, 15)) == (state.starts_on, state.ends_on)
    assert spring_festival_standards() == state.standards
    assert PatrolRules(min_patrols_per_week=3, response_minutes=30, far_response_minutes=60) == (
        state.patrol_rules
    )
    assert state.timezone == "Asia/Shanghai"


def test_opening_twice_is_refused() -> None:
    """A reference names one campaign: opening it again is refused."""
    with pytest.raises(AlreadyExists, match="SF-2027 already exists"):
        campaign.open_campaign(
            spring_festival(),
            ref="SF-2027",
            name="again",
            owner="x",
            starts_on=date(2027, 1, 1),
            ends_on=date(2027, 1, 2),
            standards=(),
            actor="a",
            at=at(1),
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_on": date(2026, 1, 1)}, "end on 2026-01-01 before it starts"),
        ({"timezone": "Mars/Olympus"}, "time zone 'Mars/Olympus' is unknown"),
        ({"name": "  "}, "name must be a non-empty text"),
        ({"standards": [AidStandard(category="wealthy", tiers=((1, 100),))]}, "unknown hardship"),
        (
            {"standards": [AidStandard(category="marginal", tiers=((2, 100),))]},
            "start at household size 1",
        ),
        ({"standards": [AidStandard(category="marginal", tiers=((1, 0),))]}, "amount \\(fen\\)"),
        (
            {"standards": [AidStandard(category="marginal", tiers=((1, 5),))] * 2},
            "category marginal has two aid standards",
        ),
        (
            {"standards": [AidStandard(category="marginal", tiers=((1, 5),), basis="family")]},
            "basis",
        ),
        ({"patrol_rules": PatrolRules(min_patrols_per_week=0)}, "min_patrols_per_week is 0"),
        ({"patrol_rules": PatrolRules(response_minutes=90)}, "near <= far"),
    ],
)
def test_malformed_campaigns_are_refused(changes: dict[str, object], message: str) -> None:
    """Each malformed part of a campaign is refused with a message naming it."""
    arguments: dict[str, object] = {
        "ref": "C",
        "name": "Winter",
        "owner": "Bureau",
        "starts_on": date(2026, 11, 15),
        "ends_on": date(2027, 3, 15),
        "standards": spring_festival_standards(),
        "actor": "a",
        "at": at(1),
    }
    arguments.update(changes)
    with pytest.raises(InvalidCommand, match=message):
        campaign.open_campaign(None, **arguments)  # type: ignore[arg-type]


def test_minimum_allowance_tiers_follow_household_size() -> None:
    """Minimum allowance pays 550 yuan for 1 person, 900 for 2, 1,100 for 3 or more."""
    standard = spring_festival().standard_for("minimum_allowance")
    assert standard is not None
    assert [standard.amount_for(n) for n in (1, 2, 3, 7)] == [55_000, 90_000, 110_000, 110_000]


def test_per_person_standards_multiply_by_household_size() -> None:
    """A per-person standard pays its amount for every member."""
    standard = AidStandard(category="entitled_group", tiers=((1, 80_000),), basis="person")
    assert standard.amount_for(2) == 160_000


@given(standards=standard_sets, categories=st.frozensets(category_codes), size=st.integers(1, 12))
def test_entitlement_is_the_highest_tier_of_any_category(
    standards: list[AidStandard], categories: frozenset[str], size: int
) -> None:
    """A household on several lists is entitled to the highest amount any of them gives."""
    state = fold(
        campaign.KIND,
        campaign.open_campaign(
            None,
            ref="C",
            name="W",
            owner="O",
            starts_on=date(2027, 1, 1),
            ends_on=date(2027, 2, 1),
            standards=standards,
            actor="a",
            at=at(1),
        ),
    )
    assert state is not None
    amounts = [s.amount_for(size) for s in standards if s.category in categories]
    amount, category = state.entitlement(categories, size)
    assert max(amounts, default=0) == amount
    if amount:
        chosen = state.standard_for(category or "")
        assert chosen is not None
        assert amount == chosen.amount_for(size)
    else:
        assert category is None


def test_amending_standards_needs_a_reason() -> None:
    """Payments depend on standards, so an amendment without a reason is refused."""
    with pytest.raises(InvalidCommand, match="a reason is required"):
        campaign.amend_standards(
            spring_festival(),
            standards=spring_festival_standards(),
            reason=" ",
            actor="a",
            at=at(2),
        )


def test_amended_standards_replace_the_old_ones() -> None:
    """After an amendment the campaign pays by the new standards."""
    new = (AidStandard(category="marginal", tiers=((1, 80_000),)),)
    events = campaign.amend_standards(
        spring_festival(), standards=new, reason="budget raised", actor="a", at=at(2)
    )
    assert new == campaign.evolve(spring_festival(), events[0]).standards


def test_cold_wave_is_in_force_in_its_area_and_period_only() -> None:
    """A warning covers its own area from its start up to (not including) its end."""
    events = campaign.warn_cold_wave(
        spring_festival(), area="Gulou", starts_at=at(10), ends_at=at(13), actor="a", at=at(10)
    )
    state = campaign.evolve(spring_festival(), events[0])
    assert state.cold_wave_in_force("Gulou", at(12))
    assert not state.cold_wave_in_force("Gulou", at(13))
    assert not state.cold_wave_in_force("Taijiang", at(12))


def test_cold_wave_refusals() -> None:
    """A warning must end after it starts, last at most 31 days, and carry time zones."""
    state = spring_festival()
    with pytest.raises(InvalidCommand, match="before it starts"):
        campaign.warn_cold_wave(
            state, area="A", starts_at=at(10), ends_at=at(9), actor="a", at=at(10)
        )
    with pytest.raises(InvalidCommand, match="at most 31 days"):
        campaign.warn_cold_wave(
            state,
            area="A",
            starts_at=at(1),
            ends_at=at(1) + timedelta(days=40),
            actor="a",
            at=at(1),
        )
    with pytest.raises(EffectiveTimeRefused, match="no time zone"):
        campaign.warn_cold_wave(
            state,
            area="A",
            starts_at=at(1).replace(tzinfo=None),
            ends_at=at(2),
            actor="a",
            at=at(1),
        )


def test_a_closed_campaign_takes_no_more_changes() -> None:
    """Once closed, amendments, warnings and closing again are refused."""
    state = campaign.evolve(
        spring_festival(), campaign.close_campaign(spring_festival(), actor="a", at=at(20))[0]
    )
    assert state.closed
    with pytest.raises(campaign.CampaignClosedError, match="SF-2027 is closed"):
        campaign.close_campaign(state, actor="a", at=at(21))
    with pytest.raises(campaign.CampaignClosedError):
        campaign.require_running(state)
