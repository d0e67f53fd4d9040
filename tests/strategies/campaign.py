"""Hypothesis strategies for campaigns: standards and the campaigns that carry them."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.clocks import at
from warmcase.domain import campaign
from warmcase.domain.campaign import AidStandard, Campaign
from warmcase.domain.categories import CATEGORIES
from warmcase.domain.stream import fold

category_codes = st.sampled_from(sorted(CATEGORIES))


@st.composite
def aid_standards(draw: st.DrawFn) -> AidStandard:
    """A valid standard: tiers from size 1 upwards, positive amounts, either basis."""
    category = draw(category_codes)
    extra_sizes = draw(st.lists(st.integers(2, 8), unique=True, max_size=3))
    sizes = [1, *sorted(extra_sizes)]
    amounts = draw(st.lists(st.integers(1, 5_000_00), min_size=len(sizes), max_size=len(sizes)))
    basis = draw(st.sampled_from(["household", "person"]))
    return AidStandard(
        category=category, tiers=tuple(zip(sizes, amounts, strict=True)), basis=basis
    )


standard_sets = st.lists(aid_standards(), max_size=6, unique_by=lambda s: s.category)


def spring_festival_standards() -> tuple[AidStandard, ...]:
    """The street office's Spring Festival figures from the plan (fen)."""
    return (
        AidStandard(category="minimum_allowance", tiers=((1, 55_000), (2, 90_000), (3, 110_000))),
        AidStandard(category="marginal", tiers=((1, 70_000),)),
        AidStandard(category="serious_illness", tiers=((1, 70_000),)),
        AidStandard(category="landless_farmer", tiers=((1, 70_000),)),
        AidStandard(category="elderly_alone", tiers=((1, 70_000),)),
        AidStandard(category="entitled_group", tiers=((1, 80_000),), basis="person"),
        AidStandard(category="war_nuclear_veteran", tiers=((1, 70_000),), basis="person"),
        AidStandard(category="streamlined_worker", tiers=((1, 60_000),), basis="person"),
    )


def spring_festival(ref: str = "SF-2027") -> Campaign:
    """The Spring Festival 2027 campaign, opened in November 2026."""
    events = campaign.open_campaign(
        None,
        ref=ref,
        name="Spring Festival visits 2027",
        owner="Street office",
        starts_on=at(15, month=11, year=2026).date(),
        ends_on=at(15, month=3).date(),
        standards=spring_festival_standards(),
        actor="office",
        at=at(15, month=11, year=2026),
    )
    state = fold(campaign.KIND, events)
    assert state is not None
    return state
