"""Hypothesis strategies and builders for households, made with the decision functions
so that only histories the rules accept are generated."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime

from hypothesis import strategies as st

from tests.clocks import at
from tests.strategies.campaign import category_codes, spring_festival_standards
from warmcase.domain import campaign as campaign_
from warmcase.domain import household
from warmcase.domain.campaign import AidStandard, Campaign
from warmcase.domain.household import Household, NewMember
from warmcase.domain.stream import fold
from warmcase.events import Event

ACTOR = "wang.fang"
CAMPAIGN = "SF-2027"
SURVEYED_AT = at(5)
"""Survey and posting happen early in January; the visits are 20-28 January."""


def fake_digest(id_number: str) -> str:
    """A stand-in for the store's keyed hash: equal numbers, equal digests."""
    return hashlib.sha256(b"test-secret:" + id_number.encode()).hexdigest()


def open_campaign(
    *,
    ref: str = CAMPAIGN,
    standards: Iterable[AidStandard] | None = None,
    starts_on: date = date(2026, 11, 15),
    ends_on: date = date(2027, 3, 15),
    closed: bool = False,
) -> Campaign:
    """A campaign state folded from its own decisions."""
    events: list[Event] = campaign_.open_campaign(
        None,
        ref=ref,
        name="2027 Spring Festival visits",
        owner="Hongqiao street office",
        starts_on=starts_on,
        ends_on=ends_on,
        standards=spring_festival_standards() if standards is None else standards,
        actor=ACTOR,
        at=at(2),
    )
    if closed:
        state = fold(campaign_.KIND, events)
        assert state is not None
        events += campaign_.close_campaign(state, actor=ACTOR, at=at(2, 10))
    state = fold(campaign_.KIND, events)
    assert state is not None
    return state


def members(count: int) -> tuple[NewMember, ...]:
    """`count` members besides the head, without ID numbers."""
    return tuple(NewMember(name=f"成员{n}", relation="child") for n in range(count))


def survey(
    *,
    ref: str = "H-0001",
    size: int = 2,
    categories: Iterable[str] = ("minimum_allowance",),
    head_id_number: str | None = None,
    when: datetime = SURVEYED_AT,
) -> Household:
    """A surveyed household of `size` persons."""
    head = NewMember(name="李秀英", relation="head", id_number=head_id_number, birth_year=1951)
    others = members(size - 1)
    events = household.survey(
        None,
        ref=ref,
        district="朝阳区",
        street="红桥街道",
        community="红桥社区",
        grid="第3网格",
        address_detail="红桥路12号3单元401",
        head=head,
        members=others,
        phone="13800138000",
        categories=categories,
        hardship_level=2,
        digests=household.id_digests([head, *others], fake_digest),
        actor=ACTOR,
        at=when,
    )
    state = fold(household.KIND, events)
    assert state is not None
    return state


def apply(state: Household, events: Iterable[Event]) -> Household:
    """`state` after `events`."""
    for event in events:
        state = household.evolve(state, event)
    return state


def enrolled(
    *,
    ref: str = "H-0001",
    size: int = 2,
    categories: Iterable[str] = ("minimum_allowance",),
    campaign: Campaign | None = None,
) -> Household:
    """A household surveyed, verified, posted for 7 days and enrolled in `campaign`."""
    running = campaign or open_campaign()
    state = survey(ref=ref, size=size, categories=categories)
    state = apply(state, household.verify(state, actor=ACTOR, at=at(6)))
    state = apply(state, household.post(state, place="红桥社区公告栏", actor=ACTOR, at=at(6, 10)))
    return apply(state, household.enroll(state, campaign=running, actor=ACTOR, at=at(14)))


# ---------------------------------------------------------------- strategies

category_sets = st.frozensets(category_codes, min_size=1, max_size=6)
household_sizes = st.integers(min_value=1, max_value=8)

id_numbers = st.builds(
    lambda digits, last: digits + last,
    st.text(alphabet="0123456789", min_size=17, max_size=17),
    st.sampled_from("0123456789X"),
)
"""Strings in the shape of a resident ID number (no checksum is enforced)."""

surveyed_households = st.builds(
    lambda size, categories: survey(size=size, categories=categories),
    household_sizes,
    category_sets,
)
"""Households as a survey leaves them, of any size and categories."""
